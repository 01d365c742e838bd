//! Activation properties ([MS-DCOM 2.2.22]): the `ActivationPropertiesBlob` carried in an OBJREF_CUSTOM by
//! `IRemoteSCMActivator::RemoteCreateInstance` / `RemoteGetClassObject`, each property serialized with NDR type
//! serialization version 1 ([MS-RPCE 2.2.6]).

use dcom_ndr::{ConfArray, DataRep, Limits, MInterfacePointer, Ndr, WString};
use dcom_ndr::{decode_type_serialized, encode_type_serialized};
use uuid::Uuid;

use crate::cursor::{Cursor, len_u32, put_u32};
use crate::error::{DcomError, DcomErrorKind, Result};
use crate::guids::{
    CLSID_ACTIVATION_CONTEXT_INFO, CLSID_ACTIVATION_PROPERTIES_IN, CLSID_ACTIVATION_PROPERTIES_OUT,
    CLSID_INSTANCE_INFO, CLSID_INSTANTIATION_INFO, CLSID_PROPS_OUT_INFO, CLSID_SCM_REPLY_INFO, CLSID_SCM_REQUEST_INFO,
    CLSID_SECURITY_INFO, CLSID_SERVER_LOCATION_INFO, CLSID_SPECIAL_SYSTEM_PROPERTIES, IID_IACTIVATIONPROPERTIESIN,
    IID_IACTIVATIONPROPERTIESOUT,
};
use crate::hresult::Hresult;
use crate::objref::{DualStringArray, ObjRef, ObjRefBody, ObjRefCustom};
use crate::orpc::ComVersion;

/// `MAX_REQUESTED_INTERFACES` ([MS-DCOM 2.2.28.1]).
pub const MAX_REQUESTED_INTERFACES: u32 = 0x8000;
/// `MAX_REQUESTED_PROTSEQS` ([MS-DCOM 2.2.28.1]).
pub const MAX_REQUESTED_PROTSEQS: u16 = 0x8000;
/// `MIN_ACTPROP_LIMIT` ([MS-DCOM 2.2.28.1]).
pub const MIN_ACTPROP_LIMIT: u32 = 1;
/// `MAX_ACTPROP_LIMIT` ([MS-DCOM 2.2.28.1]).
pub const MAX_ACTPROP_LIMIT: u32 = 10;

/// [MS-DCOM 2.2.22.1] CustomHeader.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "CustomHeader")]
pub struct CustomHeader {
    /// `totalSize`: bytes of the blob after `dwSize`/`dwReserved` (header and properties).
    pub total_size: u32,
    /// `headerSize`: bytes of the serialized CustomHeader.
    pub header_size: u32,
    /// `dwReserved`: 0.
    pub dw_reserved: u32,
    /// `destCtx`: destination context (2 = `MSHCTX_DIFFERENTMACHINE`).
    pub dest_ctx: u32,
    /// `cIfs`: number of properties.
    #[ndr(range(1, 10))]
    pub c_ifs: u32,
    /// `classInfoClsid`: GUID_NULL.
    pub class_info_clsid: Uuid,
    /// `pclsid`: the CLSID of each property, in blob order.
    #[ndr(size_is = "c_ifs")]
    pub pclsid: Option<ConfArray<Uuid>>,
    /// `pSizes`: the serialized size of each property.
    #[ndr(size_is = "c_ifs")]
    pub p_sizes: Option<ConfArray<u32>>,
    /// `pdwReserved`: NULL.
    pub pdw_reserved: Option<u32>,
}

/// [MS-DCOM 2.2.22.2.1] InstantiationInfoData.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "InstantiationInfoData")]
pub struct InstantiationInfoData {
    /// CLSID of the class to activate.
    pub class_id: Uuid,
    /// `classCtx`: implementation-specific.
    pub class_ctx: u32,
    /// `ACTVFLAGS_*`.
    pub actvflags: u32,
    /// `fIsSurrogate`: FALSE.
    pub f_is_surrogate: i32,
    /// `cIID`: number of requested interfaces.
    #[ndr(range(1, 32768))]
    pub c_iid: u32,
    /// `instFlag`: 0.
    pub inst_flag: u32,
    /// `pIID`: the requested IIDs.
    #[ndr(size_is = "c_iid")]
    pub p_iid: Option<ConfArray<Uuid>>,
    /// `thisSize`: serialized size of this property.
    pub this_size: u32,
    /// The client's COM version.
    pub client_com_version: ComVersion,
}

/// [MS-DCOM 2.2.22.2.6] LocationInfoData.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "LocationInfoData")]
pub struct LocationInfoData {
    /// `machineName`: NULL.
    #[ndr(string)]
    pub machine_name: Option<WString>,
    /// `processId`: 0.
    pub process_id: u32,
    /// `apartmentId`: 0.
    pub apartment_id: u32,
    /// `contextId`: 0.
    pub context_id: u32,
}

/// [MS-DCOM 2.2.22.2.5] ActivationContextInfoData.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "ActivationContextInfoData")]
pub struct ActivationContextInfoData {
    /// `clientOK`: FALSE.
    pub client_ok: i32,
    /// `bReserved1`.
    pub b_reserved1: i32,
    /// `dwReserved1`.
    pub dw_reserved1: u32,
    /// `dwReserved2`.
    pub dw_reserved2: u32,
    /// `pIFDClientCtx`: the client context, an OBJREF_CUSTOM with `CLSID_ContextMarshaler`.
    pub p_ifd_client_ctx: Option<MInterfacePointer>,
    /// `pIFDPrototypeCtx`: the prototype context.
    pub p_ifd_prototype_ctx: Option<MInterfacePointer>,
}

/// [MS-DCOM 2.2.22.2.9] PropsOutInfo.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "PropsOutInfo")]
pub struct PropsOutInfo {
    /// `cIfs`: number of interfaces.
    #[ndr(range(1, 32768))]
    pub c_ifs: u32,
    /// `piid`: the IIDs, as requested.
    #[ndr(size_is = "c_ifs")]
    pub piid: Option<ConfArray<Uuid>>,
    /// `phresults`: one result per interface.
    #[ndr(size_is = "c_ifs")]
    pub phresults: Option<ConfArray<Hresult>>,
    /// `ppIntfData`: one marshaled interface pointer per interface (NULL on failure).
    #[ndr(size_is = "c_ifs")]
    pub pp_intf_data: Option<ConfArray<Option<MInterfacePointer>>>,
}

/// [MS-DCOM 2.2.22.2.7.1] COSERVERINFO.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "COSERVERINFO")]
pub struct CoServerInfo {
    /// `dwReserved1`.
    pub dw_reserved1: u32,
    /// `pwszName`: the remote server name.
    #[ndr(string)]
    pub pwsz_name: Option<WString>,
    /// `pdwReserved`: NULL.
    pub pdw_reserved: Option<u32>,
    /// `dwReserved2`.
    pub dw_reserved2: u32,
}

/// [MS-DCOM 2.2.22.2.7] SecurityInfoData.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "SecurityInfoData")]
pub struct SecurityInfoData {
    /// `dwAuthnFlags`: 0.
    pub dw_authn_flags: u32,
    /// `pServerInfo`.
    pub p_server_info: Option<CoServerInfo>,
    /// `pdwReserved`: NULL.
    pub pdw_reserved: Option<u32>,
}

/// [MS-DCOM 2.2.22.2.4.1] customREMOTE_REQUEST_SCM_INFO.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "customREMOTE_REQUEST_SCM_INFO")]
pub struct CustomRemoteRequestScmInfo {
    /// `ClientImpLevel`: the client's impersonation level.
    pub client_imp_level: u32,
    /// `cRequestedProtseqs`.
    #[ndr(range(1, 32768))]
    pub c_requested_protseqs: u16,
    /// `pRequestedProtseqs`: tower ids the client can use.
    #[ndr(size_is = "c_requested_protseqs")]
    pub p_requested_protseqs: Option<ConfArray<u16>>,
}

/// [MS-DCOM 2.2.22.2.4] ScmRequestInfoData.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "ScmRequestInfoData")]
pub struct ScmRequestInfoData {
    /// `pdwReserved`: NULL.
    pub pdw_reserved: Option<u32>,
    /// `remoteRequest`.
    pub remote_request: Option<CustomRemoteRequestScmInfo>,
}

/// [MS-DCOM 2.2.22.2.8.1] customREMOTE_REPLY_SCM_INFO.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "customREMOTE_REPLY_SCM_INFO")]
pub struct CustomRemoteReplyScmInfo {
    /// OXID of the object exporter.
    pub oxid: u64,
    /// Bindings of the object exporter.
    pub pdsa_oxid_bindings: Option<DualStringArray>,
    /// IPID of the exporter's IRemUnknown.
    pub ipid_rem_unknown: Uuid,
    /// `authnHint`: the authentication level the client should use.
    pub authn_hint: u32,
    /// The server's COM version.
    pub server_version: ComVersion,
}

/// [MS-DCOM 2.2.22.2.8] ScmReplyInfoData.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "ScmReplyInfoData")]
pub struct ScmReplyInfoData {
    /// `pdwReserved`: NULL.
    pub pdw_reserved: Option<u32>,
    /// `remoteReply`.
    pub remote_reply: Option<CustomRemoteReplyScmInfo>,
}

/// [MS-DCOM 2.2.22.2.3] InstanceInfoData.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "InstanceInfoData")]
pub struct InstanceInfoData {
    /// `fileName`.
    #[ndr(string)]
    pub file_name: Option<WString>,
    /// `mode`.
    pub mode: u32,
    /// `ifdROT`.
    pub ifd_rot: Option<MInterfacePointer>,
    /// `ifdStg`.
    pub ifd_stg: Option<MInterfacePointer>,
}

/// [MS-DCOM 2.2.22.2.2] SpecialPropertiesData (the form Windows sends: 84 bytes, 88 serialized).
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "SpecialPropertiesData")]
pub struct SpecialPropertiesData {
    /// `dwSessionId` (0xFFFFFFFF: none).
    pub dw_session_id: u32,
    /// `fRemoteThisSessionId`.
    pub f_remote_this_session_id: i32,
    /// `fClientImpersonating`.
    pub f_client_impersonating: i32,
    /// `fPartitionIDPresent`.
    pub f_partition_id_present: i32,
    /// `dwDefaultAuthnLvl`.
    pub dw_default_authn_lvl: u32,
    /// `guidPartition`.
    pub guid_partition: Uuid,
    /// `dwPRTFlags`.
    pub dw_prt_flags: u32,
    /// `dwOrigClsctx`.
    pub dw_orig_clsctx: u32,
    /// `dwFlags` (`SPD_FLAG_*`).
    pub dw_flags: u32,
    /// `Reserved1`.
    pub reserved1: u32,
    /// `Reserved2`.
    pub reserved2: u64,
    /// `Reserved3`.
    pub reserved3: [u32; 5],
}

/// [MS-DCOM 2.2.22.2.2] SpecialPropertiesData_Alternate (80 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "SpecialPropertiesData_Alternate")]
pub struct SpecialPropertiesDataAlternate {
    /// `dwSessionId`.
    pub dw_session_id: u32,
    /// `fRemoteThisSessionId`.
    pub f_remote_this_session_id: i32,
    /// `fClientImpersonating`.
    pub f_client_impersonating: i32,
    /// `fPartitionIDPresent`.
    pub f_partition_id_present: i32,
    /// `dwDefaultAuthnLvl`.
    pub dw_default_authn_lvl: u32,
    /// `guidPartition`.
    pub guid_partition: Uuid,
    /// `dwPRTFlags`.
    pub dw_prt_flags: u32,
    /// `dwOrigClsctx`.
    pub dw_orig_clsctx: u32,
    /// `dwFlags`.
    pub dw_flags: u32,
    /// `Reserved3`.
    pub reserved3: [u32; 8],
}

/// One activation property, by the CLSID that names it in `CustomHeader.pclsid`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActivationProperty {
    /// `CLSID_SpecialSystemProperties`.
    SpecialSystem(SpecialPropertiesData),
    /// `CLSID_SpecialSystemProperties`, alternate layout.
    SpecialSystemAlternate(SpecialPropertiesDataAlternate),
    /// `CLSID_InstantiationInfo`.
    Instantiation(InstantiationInfoData),
    /// `CLSID_ActivationContextInfo`.
    ActivationContext(ActivationContextInfoData),
    /// `CLSID_SecurityInfo`.
    Security(SecurityInfoData),
    /// `CLSID_ServerLocationInfo`.
    ServerLocation(LocationInfoData),
    /// `CLSID_ScmRequestInfo`.
    ScmRequest(ScmRequestInfoData),
    /// `CLSID_ScmReplyInfo`.
    ScmReply(ScmReplyInfoData),
    /// `CLSID_PropsOutInfo`.
    PropsOut(PropsOutInfo),
    /// `CLSID_InstanceInfo`.
    InstanceInfo(InstanceInfoData),
    /// A property this crate does not know: its serialized bytes.
    Unknown {
        /// The CLSID from `pclsid`.
        clsid: Uuid,
        /// The type-serialized bytes.
        data: Vec<u8>,
    },
}

const BLOB: &str = "ActivationPropertiesBlob";

fn ser_err(e: dcom_ndr::NdrError) -> DcomError {
    DcomError::ndr(e, BLOB)
}

/// Length of the type-serialized buffer at the front of `data` holding one type: common header (8) + private
/// header (8) + object buffer ([MS-RPCE 2.2.6.1], [MS-RPCE 2.2.6.2]).
fn serialized_len(data: &[u8]) -> Result<usize> {
    let mut c = Cursor::new(data, "type serialization header");
    let _version = c.take(1)?;
    let endianness = c.take(1)?;
    let little = endianness.first() == Some(&0x10);
    let _rest = c.take(6)?;
    let mut c2 = Cursor::new(data.get(8..).unwrap_or(&[]), "type serialization private header").with_endianness(little);
    let len = c2.u32().map_err(|e| e.shifted(8))?;
    usize::try_from(len).ok().and_then(|l| l.checked_add(16)).ok_or_else(|| {
        DcomError::new(DcomErrorKind::InvalidValue { field: "ObjectBufferLength", value: len.into() }, 8, BLOB)
    })
}

impl ActivationProperty {
    /// The CLSID that names this property.
    #[must_use]
    pub fn clsid(&self) -> Uuid {
        match self {
            Self::SpecialSystem(_) | Self::SpecialSystemAlternate(_) => CLSID_SPECIAL_SYSTEM_PROPERTIES,
            Self::Instantiation(_) => CLSID_INSTANTIATION_INFO,
            Self::ActivationContext(_) => CLSID_ACTIVATION_CONTEXT_INFO,
            Self::Security(_) => CLSID_SECURITY_INFO,
            Self::ServerLocation(_) => CLSID_SERVER_LOCATION_INFO,
            Self::ScmRequest(_) => CLSID_SCM_REQUEST_INFO,
            Self::ScmReply(_) => CLSID_SCM_REPLY_INFO,
            Self::PropsOut(_) => CLSID_PROPS_OUT_INFO,
            Self::InstanceInfo(_) => CLSID_INSTANCE_INFO,
            Self::Unknown { clsid, .. } => *clsid,
        }
    }

    /// Name as in [MS-DCOM 1.9] (without `CLSID_`).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::SpecialSystem(_) | Self::SpecialSystemAlternate(_) => "SpecialSystemProperties",
            Self::Instantiation(_) => "InstantiationInfo",
            Self::ActivationContext(_) => "ActivationContextInfo",
            Self::Security(_) => "SecurityInfo",
            Self::ServerLocation(_) => "ServerLocationInfo",
            Self::ScmRequest(_) => "ScmRequestInfo",
            Self::ScmReply(_) => "ScmReplyInfo",
            Self::PropsOut(_) => "PropsOutInfo",
            Self::InstanceInfo(_) => "InstanceInfo",
            Self::Unknown { .. } => "Unknown",
        }
    }

    /// Decodes one property from its type-serialized bytes (exactly one serialized type).
    pub fn decode(clsid: Uuid, data: &[u8], limits: Limits) -> Result<Self> {
        let used = serialized_len(data)?;
        if used != data.len() {
            return Err(DcomError::new(
                DcomErrorKind::InvalidValue { field: "pSizes", value: u64::try_from(data.len()).unwrap_or(u64::MAX) },
                0,
                BLOB,
            ));
        }
        macro_rules! de {
            ($t:ty) => {
                decode_type_serialized::<$t>(data, limits).map_err(ser_err)
            };
        }
        Ok(match clsid {
            // The alternate layout (80 bytes) fills an 80-byte object buffer; the usual one (84 bytes) needs 88.
            CLSID_SPECIAL_SYSTEM_PROPERTIES if used == 16 + 80 => {
                Self::SpecialSystemAlternate(de!(SpecialPropertiesDataAlternate)?)
            }
            CLSID_SPECIAL_SYSTEM_PROPERTIES => Self::SpecialSystem(de!(SpecialPropertiesData)?),
            CLSID_INSTANTIATION_INFO => Self::Instantiation(de!(InstantiationInfoData)?),
            CLSID_ACTIVATION_CONTEXT_INFO => Self::ActivationContext(de!(ActivationContextInfoData)?),
            CLSID_SECURITY_INFO => Self::Security(de!(SecurityInfoData)?),
            CLSID_SERVER_LOCATION_INFO => Self::ServerLocation(de!(LocationInfoData)?),
            CLSID_SCM_REQUEST_INFO => Self::ScmRequest(de!(ScmRequestInfoData)?),
            CLSID_SCM_REPLY_INFO => Self::ScmReply(de!(ScmReplyInfoData)?),
            CLSID_PROPS_OUT_INFO => Self::PropsOut(de!(PropsOutInfo)?),
            CLSID_INSTANCE_INFO => Self::InstanceInfo(de!(InstanceInfoData)?),
            _ => Self::Unknown { clsid, data: data.to_vec() },
        })
    }

    /// Type-serializes the property (little-endian, [MS-RPCE 2.2.6]).
    pub fn encode(&self) -> Result<Vec<u8>> {
        let le = DataRep::LITTLE_ENDIAN;
        match self {
            Self::SpecialSystem(v) => encode_type_serialized(v, le),
            Self::SpecialSystemAlternate(v) => encode_type_serialized(v, le),
            Self::Instantiation(v) => encode_type_serialized(v, le),
            Self::ActivationContext(v) => encode_type_serialized(v, le),
            Self::Security(v) => encode_type_serialized(v, le),
            Self::ServerLocation(v) => encode_type_serialized(v, le),
            Self::ScmRequest(v) => encode_type_serialized(v, le),
            Self::ScmReply(v) => encode_type_serialized(v, le),
            Self::PropsOut(v) => encode_type_serialized(v, le),
            Self::InstanceInfo(v) => encode_type_serialized(v, le),
            Self::Unknown { data, .. } => return Ok(data.clone()),
        }
        .map_err(ser_err)
    }
}

/// [MS-DCOM 2.2.22] ActivationPropertiesBlob: `dwSize`, `dwReserved`, the serialized CustomHeader, then the
/// serialized properties in `pclsid` order, each `pSizes[i]` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationPropertiesBlob {
    /// `dwSize`: bytes after `dwReserved`.
    pub dw_size: u32,
    /// `dwReserved`: 0.
    pub dw_reserved: u32,
    /// The header, as sent.
    pub header: CustomHeader,
    /// The properties in blob order.
    pub properties: Vec<ActivationProperty>,
}

impl ActivationPropertiesBlob {
    /// Builds a blob, computing every size field (`destCtx` 2 = `MSHCTX_DIFFERENTMACHINE`).
    pub fn new(dest_ctx: u32, properties: Vec<ActivationProperty>) -> Result<Self> {
        let encoded: Vec<Vec<u8>> = properties.iter().map(ActivationProperty::encode).collect::<Result<_>>()?;
        let c_ifs = len_u32(properties.len(), BLOB)?;
        let mut header = CustomHeader {
            total_size: 0,
            header_size: 0,
            dw_reserved: 0,
            dest_ctx,
            c_ifs,
            class_info_clsid: Uuid::nil(),
            pclsid: Some(ConfArray(properties.iter().map(ActivationProperty::clsid).collect())),
            p_sizes: Some(ConfArray(encoded.iter().map(|e| len_u32(e.len(), BLOB)).collect::<Result<Vec<u32>>>()?)),
            pdw_reserved: None,
        };
        // The header's size does not depend on the values of its size fields.
        let header_len = encode_type_serialized(&header, DataRep::LITTLE_ENDIAN).map_err(ser_err)?.len();
        let body: usize = encoded.iter().map(Vec::len).sum();
        header.header_size = len_u32(header_len, BLOB)?;
        header.total_size = len_u32(header_len.saturating_add(body), BLOB)?;
        Ok(Self { dw_size: header.total_size, dw_reserved: 0, header, properties })
    }

    /// Decodes a blob (the `pObjectData` of the activation OBJREF_CUSTOM).
    pub fn decode(data: &[u8]) -> Result<Self> {
        Self::decode_with(data, Limits::default())
    }

    /// Decodes a blob with explicit NDR limits.
    pub fn decode_with(data: &[u8], limits: Limits) -> Result<Self> {
        let mut c = Cursor::new(data, BLOB);
        let dw_size = c.u32()?;
        let dw_reserved = c.u32()?;
        let after = data.get(8..).unwrap_or(&[]);
        let declared = usize::try_from(dw_size).unwrap_or(usize::MAX);
        if declared != after.len() {
            return Err(DcomError::new(
                DcomErrorKind::InvalidValue { field: "dwSize", value: dw_size.into() },
                0,
                BLOB,
            ));
        }
        let header_len = serialized_len(after).map_err(|e| e.shifted(8))?;
        let header_bytes = after
            .get(..header_len)
            .ok_or_else(|| c.err(DcomErrorKind::Truncated { needed: header_len, available: after.len() }))?;
        let header: CustomHeader =
            decode_type_serialized(header_bytes, limits).map_err(|e| DcomError::ndr(e, "CustomHeader").shifted(8))?;
        let clsids: &[Uuid] = header.pclsid.as_deref().map_or(&[], |v| v.as_slice());
        let sizes: &[u32] = header.p_sizes.as_deref().map_or(&[], |v| v.as_slice());
        if clsids.len() != sizes.len() {
            return Err(DcomError::new(
                DcomErrorKind::InvalidValue { field: "cIfs", value: header.c_ifs.into() },
                8,
                BLOB,
            ));
        }
        let mut off = 8usize.saturating_add(header_len);
        let mut properties = Vec::with_capacity(clsids.len());
        for (clsid, &size) in clsids.iter().zip(sizes) {
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            let end = off.checked_add(size).filter(|&e| e <= data.len()).ok_or_else(|| {
                DcomError::new(
                    DcomErrorKind::Truncated { needed: size, available: data.len().saturating_sub(off) },
                    off,
                    BLOB,
                )
            })?;
            let slice = data.get(off..end).unwrap_or(&[]);
            properties.push(ActivationProperty::decode(*clsid, slice, limits).map_err(|e| e.shifted(off))?);
            off = end;
        }
        if off != data.len() {
            return Err(DcomError::new(DcomErrorKind::TrailingBytes { count: data.len() - off }, off, BLOB));
        }
        Ok(Self { dw_size, dw_reserved, header, properties })
    }

    /// Encodes the blob with the size fields as stored.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        put_u32(&mut out, self.dw_size, true);
        put_u32(&mut out, self.dw_reserved, true);
        out.extend_from_slice(&encode_type_serialized(&self.header, DataRep::LITTLE_ENDIAN).map_err(ser_err)?);
        for p in &self.properties {
            out.extend_from_slice(&p.encode()?);
        }
        Ok(out)
    }

    /// Wraps the blob in the OBJREF_CUSTOM that carries it ([MS-DCOM 3.1.2.5.2.3.2]): request properties
    /// (`IActivationPropertiesIn` / `CLSID_ActivationPropertiesIn`) or reply properties.
    pub fn to_objref(&self, reply: bool) -> Result<ObjRef> {
        let object_data = self.encode()?;
        let reserved = len_u32(object_data.len().saturating_add(8), BLOB)?;
        let (iid, clsid) = if reply {
            (IID_IACTIVATIONPROPERTIESOUT, CLSID_ACTIVATION_PROPERTIES_OUT)
        } else {
            (IID_IACTIVATIONPROPERTIESIN, CLSID_ACTIVATION_PROPERTIES_IN)
        };
        Ok(ObjRef {
            iid,
            body: ObjRefBody::Custom(ObjRefCustom { clsid, cb_extension: 0, reserved, object_data }),
            trailing: Vec::new(),
        })
    }

    /// Decodes the blob from the activation OBJREF_CUSTOM in an `MInterfacePointer`.
    pub fn from_mip(mip: &MInterfacePointer) -> Result<(ObjRef, Self)> {
        let objref = ObjRef::from_mip(mip)?;
        let blob = match &objref.body {
            ObjRefBody::Custom(c) => Self::decode(&c.object_data).map_err(|e| e.shifted(48))?,
            _ => {
                return Err(DcomError::new(
                    DcomErrorKind::InvalidValue { field: "OBJREF.flags", value: objref.flags().into() },
                    4,
                    "activation OBJREF",
                ));
            }
        };
        Ok((objref, blob))
    }

    /// The first property of a kind.
    pub fn find<'a, T>(&'a self, pick: impl Fn(&'a ActivationProperty) -> Option<&'a T>) -> Option<&'a T> {
        self.properties.iter().find_map(pick)
    }

    /// `ScmReplyInfoData.remoteReply`, when present.
    #[must_use]
    pub fn scm_reply(&self) -> Option<&CustomRemoteReplyScmInfo> {
        self.find(|p| match p {
            ActivationProperty::ScmReply(r) => r.remote_reply.as_ref(),
            _ => None,
        })
    }

    /// `PropsOutInfo`, when present.
    #[must_use]
    pub fn props_out(&self) -> Option<&PropsOutInfo> {
        self.find(|p| match p {
            ActivationProperty::PropsOut(r) => Some(r),
            _ => None,
        })
    }

    /// `InstantiationInfoData`, when present.
    #[must_use]
    pub fn instantiation(&self) -> Option<&InstantiationInfoData> {
        self.find(|p| match p {
            ActivationProperty::Instantiation(r) => Some(r),
            _ => None,
        })
    }
}
