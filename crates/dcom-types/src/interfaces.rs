//! Typed stubs: the \[in\] and \[out\] parameters of every method of the activation, OXID resolver and
//! `IRemUnknown(2)` interfaces ([MS-DCOM 3.1.2.5], [MS-DCOM 3.1.1.5.6-7]), and of the `IWbemLevel1Login` /
//! `IWbemLoginClientID` calls that follow a WMI activation ([MS-WMI 3.1.4.1], [MS-WMI 3.1.4.13]).
//!
//! Each struct is one stub: `decode::<T>(stub, ctx)` / `encode(&v, ctx)` from `dcom-ndr`. ORPC methods start
//! with the implicit ORPCTHIS / ORPCTHAT ([MS-DCOM 3.2.4.2]); the return value (`HRESULT` or `error_status_t`)
//! ends every \[out\] stub.

use dcom_ndr::{ConfArray, ConfVarArray, MInterfacePointer, Ndr, WString};
use uuid::Uuid;

use crate::hresult::Hresult;
use crate::objref::{DualStringArray, StdObjRef};
use crate::orpc::{ComVersion, OrpcThat, OrpcThis};

// ---------------------------------------------------------------------------------------------------------------
// IRemoteSCMActivator ([MS-DCOM 3.1.2.5.2.3]), opnums 3 and 4.

/// `IRemoteSCMActivator::RemoteGetClassObject` (opnum 3) \[in\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "RemoteGetClassObject_in")]
pub struct RemoteGetClassObjectIn {
    /// `orpcthis`.
    pub orpcthis: OrpcThis,
    /// `pActProperties`: the activation properties (OBJREF_CUSTOM).
    pub p_act_properties: Option<MInterfacePointer>,
}

/// `IRemoteSCMActivator::RemoteGetClassObject` (opnum 3) \[out\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "RemoteGetClassObject_out")]
pub struct RemoteGetClassObjectOut {
    /// `orpcthat`.
    pub orpcthat: OrpcThat,
    /// `ppActProperties`.
    pub pp_act_properties: Option<MInterfacePointer>,
    /// Return value.
    pub hresult: Hresult,
}

/// `IRemoteSCMActivator::RemoteCreateInstance` (opnum 4) \[in\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "RemoteCreateInstance_in")]
pub struct RemoteCreateInstanceIn {
    /// `orpcthis`.
    pub orpcthis: OrpcThis,
    /// `pUnkOuter`: NULL.
    pub p_unk_outer: Option<MInterfacePointer>,
    /// `pActProperties`.
    pub p_act_properties: Option<MInterfacePointer>,
}

/// `IRemoteSCMActivator::RemoteCreateInstance` (opnum 4) \[out\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "RemoteCreateInstance_out")]
pub struct RemoteCreateInstanceOut {
    /// `orpcthat`.
    pub orpcthat: OrpcThat,
    /// `ppActProperties`.
    pub pp_act_properties: Option<MInterfacePointer>,
    /// Return value.
    pub hresult: Hresult,
}

// ---------------------------------------------------------------------------------------------------------------
// IActivation ([MS-DCOM 3.1.2.5.2.3.1]), opnum 0.

/// `IActivation::RemoteActivation` (opnum 0) \[in\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "RemoteActivation_in")]
pub struct RemoteActivationIn {
    /// `ORPCthis`.
    pub orpcthis: OrpcThis,
    /// `Clsid`.
    pub clsid: Uuid,
    /// `pwszObjectName`.
    #[ndr(string)]
    pub pwsz_object_name: Option<WString>,
    /// `pObjectStorage`.
    pub p_object_storage: Option<MInterfacePointer>,
    /// `ClientImpLevel`.
    pub client_imp_level: u32,
    /// `Mode`.
    pub mode: u32,
    /// `Interfaces`: number of requested interfaces.
    #[ndr(range(1, 32768))]
    pub interfaces: u32,
    /// `pIIDs`.
    #[ndr(size_is = "interfaces")]
    pub p_iids: Option<ConfArray<Uuid>>,
    /// `cRequestedProtseqs`.
    #[ndr(range(1, 32768))]
    pub c_requested_protseqs: u16,
    /// `aRequestedProtseqs`.
    #[ndr(size_is = "c_requested_protseqs")]
    pub a_requested_protseqs: ConfArray<u16>,
}

/// `IActivation::RemoteActivation` (opnum 0) \[out\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "RemoteActivation_out")]
pub struct RemoteActivationOut {
    /// `ORPCthat`.
    pub orpcthat: OrpcThat,
    /// `pOxid`.
    pub oxid: u64,
    /// `ppdsaOxidBindings`.
    pub pdsa_oxid_bindings: Option<DualStringArray>,
    /// `pipidRemUnknown`.
    pub ipid_rem_unknown: Uuid,
    /// `pAuthnHint`.
    pub authn_hint: u32,
    /// `pServerVersion`.
    pub server_version: ComVersion,
    /// `phr`.
    pub hr: Hresult,
    /// `ppInterfaceData`: `Interfaces` entries.
    pub pp_interface_data: ConfArray<Option<MInterfacePointer>>,
    /// `pResults`: `Interfaces` entries.
    pub p_results: ConfArray<Hresult>,
    /// Return value (`error_status_t`).
    pub status: Hresult,
}

// ---------------------------------------------------------------------------------------------------------------
// IObjectExporter ([MS-DCOM 3.1.2.5.1]), opnums 0-5.

/// `IObjectExporter::ResolveOxid` (opnum 0) and `ResolveOxid2` (opnum 4) \[in\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "ResolveOxid_in")]
pub struct ResolveOxidIn {
    /// `pOxid`.
    pub oxid: u64,
    /// `cRequestedProtseqs`.
    pub c_requested_protseqs: u16,
    /// `arRequestedProtseqs`.
    #[ndr(size_is = "c_requested_protseqs")]
    pub ar_requested_protseqs: ConfArray<u16>,
}

/// `IObjectExporter::ResolveOxid` (opnum 0) \[out\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "ResolveOxid_out")]
pub struct ResolveOxidOut {
    /// `ppdsaOxidBindings`.
    pub pdsa_oxid_bindings: Option<DualStringArray>,
    /// `pipidRemUnknown`.
    pub ipid_rem_unknown: Uuid,
    /// `pAuthnHint`.
    pub authn_hint: u32,
    /// Return value.
    pub status: Hresult,
}

/// `IObjectExporter::SimplePing` (opnum 1) \[in\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "SimplePing_in")]
pub struct SimplePingIn {
    /// `pSetId`.
    pub set_id: u64,
}

/// The \[out\] stub of methods that only return a status: `SimplePing`, `ServerAlive`, `RemRelease` after ORPCTHAT
/// is taken out, ...
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "status_out")]
pub struct StatusOut {
    /// Return value.
    pub status: Hresult,
}

/// `IObjectExporter::ComplexPing` (opnum 2) \[in\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "ComplexPing_in")]
pub struct ComplexPingIn {
    /// `pSetId`.
    pub set_id: u64,
    /// `SequenceNum`.
    pub sequence_num: u16,
    /// `cAddToSet`.
    pub c_add_to_set: u16,
    /// `cDelFromSet`.
    pub c_del_from_set: u16,
    /// `AddToSet`.
    #[ndr(size_is = "c_add_to_set")]
    pub add_to_set: Option<ConfArray<u64>>,
    /// `DelFromSet`.
    #[ndr(size_is = "c_del_from_set")]
    pub del_from_set: Option<ConfArray<u64>>,
}

/// `IObjectExporter::ComplexPing` (opnum 2) \[out\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "ComplexPing_out")]
pub struct ComplexPingOut {
    /// `pSetId`.
    pub set_id: u64,
    /// `pPingBackoffFactor`.
    pub ping_backoff_factor: u16,
    /// Return value.
    pub status: Hresult,
}

/// `IObjectExporter::ResolveOxid2` (opnum 4) \[out\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "ResolveOxid2_out")]
pub struct ResolveOxid2Out {
    /// `ppdsaOxidBindings`.
    pub pdsa_oxid_bindings: Option<DualStringArray>,
    /// `pipidRemUnknown`.
    pub ipid_rem_unknown: Uuid,
    /// `pAuthnHint`.
    pub authn_hint: u32,
    /// `pComVersion`.
    pub com_version: ComVersion,
    /// Return value.
    pub status: Hresult,
}

/// `IObjectExporter::ServerAlive2` (opnum 5) \[out\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "ServerAlive2_out")]
pub struct ServerAlive2Out {
    /// `pComVersion`.
    pub com_version: ComVersion,
    /// `ppdsaOrBindings`: the resolver's bindings.
    pub pdsa_or_bindings: Option<DualStringArray>,
    /// `pReserved`.
    pub reserved: u32,
    /// Return value.
    pub status: Hresult,
}

// ---------------------------------------------------------------------------------------------------------------
// IRemUnknown / IRemUnknown2 ([MS-DCOM 3.1.1.5.6], [MS-DCOM 3.1.1.5.7]).

/// [MS-DCOM 2.2.26] REMQIRESULT.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "REMQIRESULT")]
pub struct RemQiResult {
    /// `hResult`.
    pub h_result: Hresult,
    /// `std`: valid when `hResult` is a success.
    pub std: StdObjRef,
}

/// [MS-DCOM 2.2.27] REMINTERFACEREF.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "REMINTERFACEREF")]
pub struct RemInterfaceRef {
    /// `ipid`.
    pub ipid: Uuid,
    /// `cPublicRefs`.
    pub c_public_refs: u32,
    /// `cPrivateRefs`.
    pub c_private_refs: u32,
}

/// `IRemUnknown::RemQueryInterface` (opnum 3) \[in\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "RemQueryInterface_in")]
pub struct RemQueryInterfaceIn {
    /// Implicit ORPCTHIS.
    pub orpcthis: OrpcThis,
    /// `ripid`: the IPID to query.
    pub ripid: Uuid,
    /// `cRefs`: public references requested per returned interface.
    pub c_refs: u32,
    /// `cIids`.
    pub c_iids: u16,
    /// `iids`.
    #[ndr(size_is = "c_iids")]
    pub iids: ConfArray<Uuid>,
}

/// `IRemUnknown::RemQueryInterface` (opnum 3) \[out\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "RemQueryInterface_out")]
pub struct RemQueryInterfaceOut {
    /// Implicit ORPCTHAT.
    pub orpcthat: OrpcThat,
    /// `ppQIResults`: `cIids` results.
    pub pp_qi_results: Option<ConfArray<RemQiResult>>,
    /// Return value.
    pub hresult: Hresult,
}

/// `IRemUnknown::RemAddRef` (opnum 4) and `RemRelease` (opnum 5) \[in\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "RemAddRef_in")]
pub struct RemRefsIn {
    /// Implicit ORPCTHIS.
    pub orpcthis: OrpcThis,
    /// `cInterfaceRefs`.
    pub c_interface_refs: u16,
    /// `InterfaceRefs`.
    #[ndr(size_is = "c_interface_refs")]
    pub interface_refs: ConfArray<RemInterfaceRef>,
}

/// `IRemUnknown::RemAddRef` (opnum 4) \[out\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "RemAddRef_out")]
pub struct RemAddRefOut {
    /// Implicit ORPCTHAT.
    pub orpcthat: OrpcThat,
    /// `pResults`: one per interface reference.
    pub p_results: ConfArray<Hresult>,
    /// Return value.
    pub hresult: Hresult,
}

/// The \[out\] stub of an ORPC method that only returns an HRESULT (`RemRelease`, `SetClientInfo`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "orpc_hresult_out")]
pub struct OrpcHresultOut {
    /// Implicit ORPCTHAT.
    pub orpcthat: OrpcThat,
    /// Return value.
    pub hresult: Hresult,
}

/// `IRemUnknown2::RemQueryInterface2` (opnum 6) \[in\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "RemQueryInterface2_in")]
pub struct RemQueryInterface2In {
    /// Implicit ORPCTHIS.
    pub orpcthis: OrpcThis,
    /// `ripid`.
    pub ripid: Uuid,
    /// `cIids`.
    pub c_iids: u16,
    /// `iids`.
    #[ndr(size_is = "c_iids")]
    pub iids: ConfArray<Uuid>,
}

/// `IRemUnknown2::RemQueryInterface2` (opnum 6) \[out\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "RemQueryInterface2_out")]
pub struct RemQueryInterface2Out {
    /// Implicit ORPCTHAT.
    pub orpcthat: OrpcThat,
    /// `phr`: one per IID.
    pub phr: ConfArray<Hresult>,
    /// `ppMIF`: one interface pointer per IID.
    pub pp_mif: ConfArray<Option<MInterfacePointer>>,
    /// Return value.
    pub hresult: Hresult,
}

// ---------------------------------------------------------------------------------------------------------------
// IWbemLevel1Login ([MS-WMI 3.1.4.1]) and IWbemLoginClientID ([MS-WMI 3.1.4.13]).

/// `IWbemLevel1Login::EstablishPosition` (opnum 3) \[in\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "EstablishPosition_in")]
pub struct EstablishPositionIn {
    /// Implicit ORPCTHIS.
    pub orpcthis: OrpcThis,
    /// `reserved1`: NULL.
    #[ndr(string)]
    pub reserved1: Option<WString>,
    /// `reserved2`: 0.
    pub reserved2: u32,
}

/// `IWbemLevel1Login::EstablishPosition` (opnum 3) \[out\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "EstablishPosition_out")]
pub struct EstablishPositionOut {
    /// Implicit ORPCTHAT.
    pub orpcthat: OrpcThat,
    /// `LocaleVersion`.
    pub locale_version: u32,
    /// Return value.
    pub hresult: Hresult,
}

/// `IWbemLevel1Login::RequestChallenge` (opnum 4) \[in\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "RequestChallenge_in")]
pub struct RequestChallengeIn {
    /// Implicit ORPCTHIS.
    pub orpcthis: OrpcThis,
    /// `reserved1`.
    #[ndr(string)]
    pub reserved1: Option<WString>,
    /// `reserved2`.
    #[ndr(string)]
    pub reserved2: Option<WString>,
}

/// `IWbemLevel1Login::RequestChallenge` (opnum 4) \[out\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "RequestChallenge_out")]
pub struct RequestChallengeOut {
    /// Implicit ORPCTHAT.
    pub orpcthat: OrpcThat,
    /// `reserved3`: `[out, size_is(16), length_is(16)] unsigned char*`.
    pub reserved3: ConfVarArray<u8>,
    /// Return value.
    pub hresult: Hresult,
}

/// `IWbemLevel1Login::WBEMLogin` (opnum 5) \[in\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "WBEMLogin_in")]
pub struct WbemLoginIn {
    /// Implicit ORPCTHIS.
    pub orpcthis: OrpcThis,
    /// `reserved1`.
    #[ndr(string)]
    pub reserved1: Option<WString>,
    /// `reserved2`: `[in, unique, size_is(16), length_is(16)] unsigned char*`.
    pub reserved2: Option<ConfVarArray<u8>>,
    /// `reserved3`.
    pub reserved3: i32,
    /// `reserved4`: an IWbemContext.
    pub reserved4: Option<MInterfacePointer>,
}

/// `IWbemLevel1Login::WBEMLogin` (opnum 5) \[out\] and `NTLMLogin` (opnum 6) \[out\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "NTLMLogin_out")]
pub struct WbemLoginOut {
    /// Implicit ORPCTHAT.
    pub orpcthat: OrpcThat,
    /// `ppNamespace`: the `IWbemServices` of the namespace.
    pub pp_namespace: Option<MInterfacePointer>,
    /// Return value.
    pub hresult: Hresult,
}

/// `IWbemLevel1Login::NTLMLogin` (opnum 6) \[in\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "NTLMLogin_in")]
pub struct NtlmLoginIn {
    /// Implicit ORPCTHIS.
    pub orpcthis: OrpcThis,
    /// `wszNetworkResource`: the namespace path.
    #[ndr(string)]
    pub wsz_network_resource: Option<WString>,
    /// `wszPreferredLocale`.
    #[ndr(string)]
    pub wsz_preferred_locale: Option<WString>,
    /// `lFlags`.
    pub l_flags: i32,
    /// `pCtx`: an IWbemContext.
    pub p_ctx: Option<MInterfacePointer>,
}

/// `IWbemLoginClientID::SetClientInfo` (opnum 3) \[in\].
#[derive(Debug, Clone, PartialEq, Eq, Ndr)]
#[ndr(params, name = "SetClientInfo_in")]
pub struct SetClientInfoIn {
    /// Implicit ORPCTHIS.
    pub orpcthis: OrpcThis,
    /// `wszClientMachine`.
    #[ndr(string)]
    pub wsz_client_machine: Option<WString>,
    /// `lClientProcId`.
    pub l_client_proc_id: i32,
    /// `lReserved`.
    pub l_reserved: i32,
}
