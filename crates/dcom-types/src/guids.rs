//! Well-known GUIDs ([MS-DCOM 1.9] standards assignments, [MS-WMI 1.9]) and interface names.

use uuid::{Uuid, uuid};

/// `IRemoteSCMActivator` (Wireshark: ISystemActivator), the activator on port 135 ([MS-DCOM 3.1.2.5.2.3]).
pub const IID_IREMOTESCMACTIVATOR: Uuid = uuid!("000001a0-0000-0000-c000-000000000046");
/// `IActivation` ([MS-DCOM 3.1.2.5.2.3.1]).
pub const IID_IACTIVATION: Uuid = uuid!("4d9f4ab8-7d1c-11cf-861e-0020af6e7c57");
/// `IObjectExporter` (the OXID resolver, [MS-DCOM 3.1.2.5.1]).
pub const IID_IOBJECTEXPORTER: Uuid = uuid!("99fcfec4-5260-101b-bbcb-00aa0021347a");
/// `IUnknown`.
pub const IID_IUNKNOWN: Uuid = uuid!("00000000-0000-0000-c000-000000000046");
/// `IRemUnknown` ([MS-DCOM 3.1.1.5.6]).
pub const IID_IREMUNKNOWN: Uuid = uuid!("00000131-0000-0000-c000-000000000046");
/// `IRemUnknown2` ([MS-DCOM 3.1.1.5.7]).
pub const IID_IREMUNKNOWN2: Uuid = uuid!("00000143-0000-0000-c000-000000000046");
/// `IActivationPropertiesIn`: the IID of the OBJREF_CUSTOM carrying activation properties in a request.
pub const IID_IACTIVATIONPROPERTIESIN: Uuid = uuid!("000001a2-0000-0000-c000-000000000046");
/// `IActivationPropertiesOut`: the IID of the OBJREF_CUSTOM carrying activation properties in a reply.
pub const IID_IACTIVATIONPROPERTIESOUT: Uuid = uuid!("000001a3-0000-0000-c000-000000000046");
/// `IContext` ([MS-DCOM 1.9]).
pub const IID_ICONTEXT: Uuid = uuid!("000001c0-0000-0000-c000-000000000046");
/// `IDispatch`.
pub const IID_IDISPATCH: Uuid = uuid!("00020400-0000-0000-c000-000000000046");
/// The endpoint mapper (C706 appendix O): RPC-level, never ORPC.
pub const IID_EPM: Uuid = uuid!("e1af8308-5d1f-11c9-91a4-08002b14a0fa");

/// `IWbemLevel1Login` ([MS-WMI 3.1.4.1]).
pub const IID_IWBEMLEVEL1LOGIN: Uuid = uuid!("f309ad18-d86a-11d0-a075-00c04fb68820");
/// `IWbemLoginClientID` ([MS-WMI 3.1.4.13]).
pub const IID_IWBEMLOGINCLIENTID: Uuid = uuid!("d4781cd6-e5d3-44df-ad94-930efe48a887");
/// `IWbemServices` ([MS-WMI 3.1.4.3]).
pub const IID_IWBEMSERVICES: Uuid = uuid!("9556dc99-828c-11cf-a37e-00aa003240c7");
/// `IEnumWbemClassObject` ([MS-WMI 3.1.4.4]).
pub const IID_IENUMWBEMCLASSOBJECT: Uuid = uuid!("027947e1-d731-11ce-a357-000000000001");
/// `IWbemCallResult` ([MS-WMI 3.1.4.7]).
pub const IID_IWBEMCALLRESULT: Uuid = uuid!("44aca675-e8fc-11d0-a07c-00c04fb68820");
/// `IWbemFetchSmartEnum` ([MS-WMI 3.1.4.6]).
pub const IID_IWBEMFETCHSMARTENUM: Uuid = uuid!("1c1c45ee-4395-11d2-b60b-00104b703efd");
/// `IWbemWCOSmartEnum` ([MS-WMI 3.1.4.5]).
pub const IID_IWBEMWCOSMARTENUM: Uuid = uuid!("423ec01e-2e35-11d2-b604-00104b703efd");
/// `IWbemObjectSink` ([MS-WMI 3.1.4.2]).
pub const IID_IWBEMOBJECTSINK: Uuid = uuid!("7c857801-7381-11cf-884d-00aa004b2e24");
/// `IWbemLoginHelper` ([MS-WMI 3.1.4.14]).
pub const IID_IWBEMLOGINHELPER: Uuid = uuid!("541679ab-2e5f-11d3-b34e-00104bcc4b4a");
/// `IWbemRemoteRefresher` ([MS-WMI 3.1.4.9]).
pub const IID_IWBEMREMOTEREFRESHER: Uuid = uuid!("f1e9c5b2-f59b-11d2-b362-00105a1f8177");
/// `IWbemRefreshingServices` ([MS-WMI 3.1.4.12]).
pub const IID_IWBEMREFRESHINGSERVICES: Uuid = uuid!("2c9273e0-1dc3-11d3-b364-00105a1f8177");

/// `CLSID_ActivationContextInfo` ([MS-DCOM 1.9]).
pub const CLSID_ACTIVATION_CONTEXT_INFO: Uuid = uuid!("000001a5-0000-0000-c000-000000000046");
/// `CLSID_ActivationPropertiesIn`: OBJREF_CUSTOM unmarshaler of request properties.
pub const CLSID_ACTIVATION_PROPERTIES_IN: Uuid = uuid!("00000338-0000-0000-c000-000000000046");
/// `CLSID_ActivationPropertiesOut`: OBJREF_CUSTOM unmarshaler of reply properties.
pub const CLSID_ACTIVATION_PROPERTIES_OUT: Uuid = uuid!("00000339-0000-0000-c000-000000000046");
/// `CLSID_CONTEXT_EXTENSION`: ORPC_EXTENT id of the context ORPC extension ([MS-DCOM 2.2.21.4]).
pub const CLSID_CONTEXT_EXTENSION: Uuid = uuid!("00000334-0000-0000-c000-000000000046");
/// `CLSID_ContextMarshaler`: OBJREF_CUSTOM unmarshaler of contexts ([MS-DCOM 2.2.20]).
pub const CLSID_CONTEXT_MARSHALER: Uuid = uuid!("0000033b-0000-0000-c000-000000000046");
/// `CLSID_ERROR_EXTENSION`: ORPC_EXTENT id of the error information extension ([MS-DCOM 2.2.21.1]).
pub const CLSID_ERROR_EXTENSION: Uuid = uuid!("0000031c-0000-0000-c000-000000000046");
/// `CLSID_ErrorObject`: OBJREF_CUSTOM unmarshaler of error information ([MS-DCOM 2.2.21.2]).
pub const CLSID_ERROR_OBJECT: Uuid = uuid!("0000031b-0000-0000-c000-000000000046");
/// `CLSID_InstanceInfo` ([MS-DCOM 2.2.22.2.3]).
pub const CLSID_INSTANCE_INFO: Uuid = uuid!("000001ad-0000-0000-c000-000000000046");
/// `CLSID_InstantiationInfo` ([MS-DCOM 2.2.22.2.1]).
pub const CLSID_INSTANTIATION_INFO: Uuid = uuid!("000001ab-0000-0000-c000-000000000046");
/// `CLSID_PropsOutInfo` ([MS-DCOM 2.2.22.2.9]); the same value as `CLSID_ActivationPropertiesOut`.
pub const CLSID_PROPS_OUT_INFO: Uuid = uuid!("00000339-0000-0000-c000-000000000046");
/// `CLSID_ScmReplyInfo` ([MS-DCOM 2.2.22.2.8]).
pub const CLSID_SCM_REPLY_INFO: Uuid = uuid!("000001b6-0000-0000-c000-000000000046");
/// `CLSID_ScmRequestInfo` ([MS-DCOM 2.2.22.2.4]).
pub const CLSID_SCM_REQUEST_INFO: Uuid = uuid!("000001aa-0000-0000-c000-000000000046");
/// `CLSID_SecurityInfo` ([MS-DCOM 2.2.22.2.7]).
pub const CLSID_SECURITY_INFO: Uuid = uuid!("000001a6-0000-0000-c000-000000000046");
/// `CLSID_ServerLocationInfo` ([MS-DCOM 2.2.22.2.6]).
pub const CLSID_SERVER_LOCATION_INFO: Uuid = uuid!("000001a4-0000-0000-c000-000000000046");
/// `CLSID_SpecialSystemProperties` ([MS-DCOM 2.2.22.2.2]).
pub const CLSID_SPECIAL_SYSTEM_PROPERTIES: Uuid = uuid!("000001b9-0000-0000-c000-000000000046");
/// `CLSID_WbemLevel1Login` ([MS-WMI 1.9]): the class WMI clients activate.
pub const CLSID_WBEM_LEVEL1_LOGIN: Uuid = uuid!("8bc3f05e-d86b-11d0-a075-00c04fb68820");

/// Interface UUID -> name, for every interface this crate knows by name.
pub const INTERFACE_NAMES: &[(Uuid, &str)] = &[
    (IID_IREMOTESCMACTIVATOR, "IRemoteSCMActivator"),
    (IID_IACTIVATION, "IActivation"),
    (IID_IOBJECTEXPORTER, "IObjectExporter"),
    (IID_IUNKNOWN, "IUnknown"),
    (IID_IREMUNKNOWN, "IRemUnknown"),
    (IID_IREMUNKNOWN2, "IRemUnknown2"),
    (IID_IACTIVATIONPROPERTIESIN, "IActivationPropertiesIn"),
    (IID_IACTIVATIONPROPERTIESOUT, "IActivationPropertiesOut"),
    (IID_ICONTEXT, "IContext"),
    (IID_IDISPATCH, "IDispatch"),
    (IID_EPM, "EPM"),
    (IID_IWBEMLEVEL1LOGIN, "IWbemLevel1Login"),
    (IID_IWBEMLOGINCLIENTID, "IWbemLoginClientID"),
    (IID_IWBEMSERVICES, "IWbemServices"),
    (IID_IENUMWBEMCLASSOBJECT, "IEnumWbemClassObject"),
    (IID_IWBEMCALLRESULT, "IWbemCallResult"),
    (IID_IWBEMFETCHSMARTENUM, "IWbemFetchSmartEnum"),
    (IID_IWBEMWCOSMARTENUM, "IWbemWCOSmartEnum"),
    (IID_IWBEMOBJECTSINK, "IWbemObjectSink"),
    (IID_IWBEMLOGINHELPER, "IWbemLoginHelper"),
    (IID_IWBEMREMOTEREFRESHER, "IWbemRemoteRefresher"),
    (IID_IWBEMREFRESHINGSERVICES, "IWbemRefreshingServices"),
];

/// CLSID -> name for the classes of [MS-DCOM 1.9] and the activation properties.
pub const CLSID_NAMES: &[(Uuid, &str)] = &[
    (CLSID_ACTIVATION_CONTEXT_INFO, "ActivationContextInfo"),
    (CLSID_ACTIVATION_PROPERTIES_IN, "ActivationPropertiesIn"),
    (CLSID_ACTIVATION_PROPERTIES_OUT, "ActivationPropertiesOut"),
    (CLSID_CONTEXT_EXTENSION, "ContextExtension"),
    (CLSID_CONTEXT_MARSHALER, "ContextMarshaler"),
    (CLSID_ERROR_EXTENSION, "ErrorExtension"),
    (CLSID_ERROR_OBJECT, "ErrorObject"),
    (CLSID_INSTANCE_INFO, "InstanceInfo"),
    (CLSID_INSTANTIATION_INFO, "InstantiationInfo"),
    (CLSID_SCM_REPLY_INFO, "ScmReplyInfo"),
    (CLSID_SCM_REQUEST_INFO, "ScmRequestInfo"),
    (CLSID_SECURITY_INFO, "SecurityInfo"),
    (CLSID_SERVER_LOCATION_INFO, "ServerLocationInfo"),
    (CLSID_SPECIAL_SYSTEM_PROPERTIES, "SpecialSystemProperties"),
    (CLSID_WBEM_LEVEL1_LOGIN, "WbemLevel1Login"),
];

/// The name of a known interface.
#[must_use]
pub fn interface_name(iid: &Uuid) -> Option<&'static str> {
    INTERFACE_NAMES.iter().find(|(u, _)| u == iid).map(|(_, n)| *n)
}

/// The name of a known class.
#[must_use]
pub fn clsid_name(clsid: &Uuid) -> Option<&'static str> {
    CLSID_NAMES.iter().find(|(u, _)| u == clsid).map(|(_, n)| *n)
}

/// True for the interfaces that are called as plain RPC, without an implicit ORPCTHIS/ORPCTHAT and without an
/// IPID as object UUID: the endpoint mapper, `IObjectExporter`, and the activators `IActivation` and
/// `IRemoteSCMActivator` (which take ORPCTHIS/ORPCTHAT as *explicit* parameters, [MS-DCOM 3.1.2.5.2.3]).
/// Every other interface reached through DCOM is an object interface called with ORPC ([MS-DCOM 3.2.4.2]).
#[must_use]
pub fn is_rpc_level_interface(iid: &Uuid) -> bool {
    [IID_EPM, IID_IOBJECTEXPORTER, IID_IACTIVATION, IID_IREMOTESCMACTIVATOR].contains(iid)
}
