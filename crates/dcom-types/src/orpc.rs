//! ORPC call framing: COMVERSION, ORPC_EXTENT(_ARRAY), ORPCTHIS, ORPCTHAT ([MS-DCOM 2.2.11], [MS-DCOM 2.2.13]) and
//! the well-known ORPC extensions ([MS-DCOM 2.2.21]).

use std::fmt;

use dcom_ndr::{ConfArray, Ndr, WString};
use uuid::Uuid;

use crate::cursor::{Cursor, len_u32, put_guid, put_u32};
use crate::error::{DcomError, DcomErrorKind, Result};
use crate::guids::{CLSID_CONTEXT_EXTENSION, CLSID_ERROR_EXTENSION, CLSID_ERROR_OBJECT};
use crate::hresult::Hresult;
use crate::objref::{ObjRef, ObjRefBody};

/// [MS-DCOM 2.2.11] COMVERSION.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord, Ndr)]
#[ndr(name = "COMVERSION")]
pub struct ComVersion {
    /// `MajorVersion`: 5 for every DCOM version.
    pub major: u16,
    /// `MinorVersion`: 7 on current Windows ([MS-DCOM 2.2.11] table).
    pub minor: u16,
}

impl ComVersion {
    /// DCOM 5.7, what current Windows sends.
    pub const V5_7: Self = Self { major: 5, minor: 7 };
    /// DCOM 5.6: the version that added IRemoteSCMActivator, OBJREF_HANDLER/EXTENDED, ServerAlive2, IRemUnknown2.
    pub const V5_6: Self = Self { major: 5, minor: 6 };
}

impl fmt::Display for ComVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// [MS-DCOM 2.2.13.1] ORPC_EXTENT: `GUID id; unsigned long size; [size_is((size+7)&~7)] byte data[];`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "ORPC_EXTENT")]
pub struct OrpcExtent {
    /// Identifies the format of `data`.
    pub id: Uuid,
    /// Bytes of `data` without the padding to a multiple of 8.
    pub size: u32,
    /// `size` rounded up to 8 bytes ([MS-DCOM 2.2.13.1]: "The array size MUST be a multiple of 8").
    #[ndr(size_is = "(size + 7) / 8 * 8")]
    pub data: ConfArray<u8>,
}

impl OrpcExtent {
    /// Builds an extent, padding `payload` with zeros to a multiple of 8.
    pub fn new(id: Uuid, payload: &[u8]) -> Result<Self> {
        let size = len_u32(payload.len(), "ORPC_EXTENT")?;
        let mut data = payload.to_vec();
        data.resize(payload.len().div_ceil(8).saturating_mul(8), 0);
        Ok(Self { id, size, data: ConfArray(data) })
    }

    /// The data without padding (`size` bytes, clamped to the array).
    #[must_use]
    pub fn payload(&self) -> &[u8] {
        let n = usize::try_from(self.size).unwrap_or(usize::MAX).min(self.data.len());
        self.data.get(..n).unwrap_or(&[])
    }

    /// A short name for the well-known extension ids ([MS-DCOM 2.2.21]).
    #[must_use]
    pub fn name(&self) -> Option<&'static str> {
        match self.id {
            CLSID_ERROR_EXTENSION => Some("error_info"),
            CLSID_CONTEXT_EXTENSION => Some("context"),
            _ => None,
        }
    }

    /// Decodes the body of a well-known extension; `Ok(None)` for other ids (which "clients and servers MUST
    /// ignore", [MS-DCOM 2.2.13.1]). `little_endian` is the PDU's byte order (used by the context extension).
    pub fn decode_known(&self, little_endian: bool) -> Result<Option<KnownExtension>> {
        match self.id {
            CLSID_ERROR_EXTENSION => ObjRef::decode(self.payload()).map(|o| Some(KnownExtension::ErrorInfo(o))),
            CLSID_CONTEXT_EXTENSION => {
                ContextExtension::decode(self.payload(), little_endian).map(|c| Some(KnownExtension::Context(c)))
            }
            _ => Ok(None),
        }
    }
}

/// [MS-DCOM 2.2.13.2] ORPC_EXTENT_ARRAY: `unsigned long size; unsigned long reserved;
/// [size_is((size+1)&~1,), unique] ORPC_EXTENT** extent;`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "ORPC_EXTENT_ARRAY")]
pub struct OrpcExtentArray {
    /// Number of non-NULL elements of `extent`.
    pub size: u32,
    /// MUST be zero when sent, ignored on receipt.
    pub reserved: u32,
    /// `size` rounded up to even ("The array size MUST be a multiple of 2 for alignment reasons").
    #[ndr(size_is = "(size + 1) / 2 * 2")]
    pub extent: Option<ConfArray<Option<OrpcExtent>>>,
}

impl OrpcExtentArray {
    /// Builds the array, adding the NULL element that makes the count even.
    pub fn new(extents: Vec<OrpcExtent>) -> Result<Self> {
        let size = len_u32(extents.len(), "ORPC_EXTENT_ARRAY")?;
        let mut v: Vec<Option<OrpcExtent>> = extents.into_iter().map(Some).collect();
        if v.len() % 2 == 1 {
            v.push(None);
        }
        Ok(Self { size, reserved: 0, extent: Some(ConfArray(v)) })
    }

    /// The non-NULL extents.
    pub fn iter(&self) -> impl Iterator<Item = &OrpcExtent> {
        self.extent.iter().flat_map(|a| a.iter()).flatten()
    }
}

/// [MS-DCOM 2.2.13.3] ORPCTHIS: the implicit first \[in\] argument of every ORPC request, and an explicit argument
/// of the activation methods.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "ORPCTHIS")]
pub struct OrpcThis {
    /// The client's DCOM version.
    pub version: ComVersion,
    /// 0 in ORPC invocations ([MS-DCOM 3.2.4.2]); arbitrary (ignored) in activation requests.
    pub flags: u32,
    /// MUST be zero when sent, ignored on receipt.
    pub reserved1: u32,
    /// Causality id of the call ([MS-DCOM 1.3.5]).
    pub cid: Uuid,
    /// Optional extensions.
    pub extensions: Option<OrpcExtentArray>,
}

impl OrpcThis {
    /// An ORPCTHIS for an ORPC invocation: version 5.7, flags 0, no extensions.
    #[must_use]
    pub fn new(cid: Uuid) -> Self {
        Self { version: ComVersion::V5_7, flags: 0, reserved1: 0, cid, extensions: None }
    }

    /// The non-NULL extensions.
    pub fn extents(&self) -> impl Iterator<Item = &OrpcExtent> {
        self.extensions.iter().flat_map(OrpcExtentArray::iter)
    }
}

/// [MS-DCOM 2.2.13.4] ORPCTHAT: the implicit first \[out\] argument of every ORPC response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "ORPCTHAT")]
pub struct OrpcThat {
    /// MUST be 0 ([MS-DCOM 2.2.13.4]); Windows sends 1 in activation replies.
    pub flags: u32,
    /// Optional extensions (error information, context).
    pub extensions: Option<OrpcExtentArray>,
}

impl OrpcThat {
    /// The non-NULL extensions.
    pub fn extents(&self) -> impl Iterator<Item = &OrpcExtent> {
        self.extensions.iter().flat_map(OrpcExtentArray::iter)
    }
}

/// The body of a well-known ORPC extension.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KnownExtension {
    /// [MS-DCOM 2.2.21.1]: an OBJREF, normally OBJREF_CUSTOM with `CLSID_ErrorObject`
    /// (see [`ObjRef::error_info`]).
    ErrorInfo(ObjRef),
    /// [MS-DCOM 2.2.21.4] context ORPC extension.
    Context(ContextExtension),
}

/// [MS-DCOM 2.2.21.3] ErrorObjectData: the NDR form of error information.
#[derive(Debug, Clone, PartialEq, Eq, Default, Ndr)]
#[ndr(name = "ErrorObjectData")]
pub struct ErrorObjectData {
    /// `dwVersion`: MUST be 0.
    pub dw_version: u32,
    /// `dwHelpContext`.
    pub dw_help_context: u32,
    /// IID of the interface that returned the error.
    pub iid: Uuid,
    /// `[string, unique] pszSource`.
    #[ndr(string)]
    pub psz_source: Option<WString>,
    /// `[string, unique] pszDescription`.
    #[ndr(string)]
    pub psz_description: Option<WString>,
    /// `[string, unique] pszHelpFile`.
    #[ndr(string)]
    pub psz_help_file: Option<WString>,
}

/// One string of the custom-marshaled error information ([MS-DCOM 2.2.21.2]): a signature (0 = absent) then,
/// when present, `ErrorInfoString { dwMax, dwOffSet, dwActual, Name[dwActual] }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorInfoString {
    /// The signature as sent (0 when the string is absent).
    pub signature: u32,
    /// `dwMax`.
    pub max: u32,
    /// `dwOffSet` (0).
    pub offset: u32,
    /// `Name`: `dwActual` UTF-16 units as sent (terminator included when the sender included it).
    pub name: Vec<u16>,
}

impl ErrorInfoString {
    /// Text without a trailing NUL.
    #[must_use]
    pub fn text(&self) -> String {
        let end = self.name.iter().position(|&c| c == 0).unwrap_or(self.name.len());
        String::from_utf16_lossy(self.name.get(..end).unwrap_or(&[]))
    }

    fn decode(c: &mut Cursor<'_>) -> Result<Self> {
        let signature = c.u32()?;
        if signature == 0 {
            return Ok(Self::default());
        }
        let max = c.u32()?;
        let offset = c.u32()?;
        let actual = c.u32()?;
        let n = usize::try_from(actual).unwrap_or(usize::MAX);
        // Bound the count by the bytes that remain before allocating.
        if n.checked_mul(2).is_none_or(|b| b > c.remaining()) {
            return Err(c.err(DcomErrorKind::InvalidValue { field: "ErrorInfoString.dwActual", value: actual.into() }));
        }
        let mut name = Vec::with_capacity(n);
        for _ in 0..n {
            name.push(c.u16()?);
        }
        Ok(Self { signature, max, offset, name })
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        put_u32(out, self.signature, true);
        if self.signature == 0 {
            return Ok(());
        }
        put_u32(out, self.max, true);
        put_u32(out, self.offset, true);
        put_u32(out, len_u32(self.name.len(), "ErrorInfoString")?, true);
        for u in &self.name {
            out.extend_from_slice(&u.to_le_bytes());
        }
        Ok(())
    }
}

/// [MS-DCOM 2.2.21.2] custom-marshaled error information: the `pObjectData` of an OBJREF_CUSTOM whose
/// clsid is `CLSID_ErrorObject`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CustomErrorInfo {
    /// `dwVersion` (0).
    pub version: u32,
    /// `dwHelpContext`.
    pub help_context: u32,
    /// IID of the interface returning the error.
    pub iid: Uuid,
    /// `Source`.
    pub source: ErrorInfoString,
    /// `Description`.
    pub description: ErrorInfoString,
    /// `HelpFile`.
    pub help_file: ErrorInfoString,
    /// Bytes after the last string (kept for re-encoding).
    pub trailing: Vec<u8>,
}

impl CustomErrorInfo {
    /// Decodes `pObjectData`.
    pub fn decode(data: &[u8]) -> Result<Self> {
        let mut c = Cursor::new(data, "custom-marshaled error information");
        let version = c.u32()?;
        let help_context = c.u32()?;
        let iid = c.guid()?;
        let source = ErrorInfoString::decode(&mut c)?;
        let description = ErrorInfoString::decode(&mut c)?;
        let help_file = ErrorInfoString::decode(&mut c)?;
        let trailing = c.rest().to_vec();
        Ok(Self { version, help_context, iid, source, description, help_file, trailing })
    }

    /// Encodes `pObjectData`.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        put_u32(&mut out, self.version, true);
        put_u32(&mut out, self.help_context, true);
        put_guid(&mut out, &self.iid, true);
        self.source.encode(&mut out)?;
        self.description.encode(&mut out)?;
        self.help_file.encode(&mut out)?;
        out.extend_from_slice(&self.trailing);
        Ok(out)
    }
}

impl ObjRef {
    /// The custom-marshaled error information carried by this OBJREF, when it is an OBJREF_CUSTOM with
    /// `CLSID_ErrorObject` ([MS-DCOM 2.2.21.2]).
    pub fn error_info(&self) -> Option<Result<CustomErrorInfo>> {
        match &self.body {
            ObjRefBody::Custom(c) if c.clsid == CLSID_ERROR_OBJECT => Some(CustomErrorInfo::decode(&c.object_data)),
            _ => None,
        }
    }
}

/// [MS-DCOM 2.2.21.5] EntryHeader.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EntryHeader {
    /// MUST be 0x494E414E.
    pub signature: u32,
    /// Size of the policy data buffer.
    pub cb_eh_buffer: u32,
    /// Offset of the policy data from the start of the extension.
    pub cb_size: u32,
    /// 0.
    pub reserved: u32,
    /// Context property identifier.
    pub policy_id: Uuid,
}

/// [MS-DCOM 2.2.21.4] Context ORPC extension (fields in the PDU's byte order).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContextExtension {
    /// MUST be 0x414E554B.
    pub signature: u32,
    /// MUST be 0x00010000.
    pub version: u32,
    /// `cbBuffer`: implementation-specific, ignored.
    pub cb_buffer: u32,
    /// `cbSize`: size of the whole extension.
    pub cb_size: u32,
    /// `hr`.
    pub hr: Hresult,
    /// `hrServer`.
    pub hr_server: Hresult,
    /// `reserved`.
    pub reserved: u32,
    /// One per policy (`cPolicies`).
    pub entries: Vec<EntryHeader>,
    /// The opaque policy data that follows the entry headers.
    pub policy_data: Vec<u8>,
}

impl ContextExtension {
    /// `Signature` value.
    pub const SIGNATURE: u32 = 0x414E_554B;
    /// `EntryHeader.Signature` value.
    pub const ENTRY_SIGNATURE: u32 = 0x494E_414E;

    /// Decodes the extension data.
    pub fn decode(data: &[u8], little_endian: bool) -> Result<Self> {
        let mut c = Cursor::new(data, "context ORPC extension").with_endianness(little_endian);
        let signature = c.u32()?;
        if signature != Self::SIGNATURE {
            return Err(DcomError::new(
                DcomErrorKind::BadSignature { found: signature, expected: Self::SIGNATURE },
                0,
                "context ORPC extension",
            ));
        }
        let version = c.u32()?;
        let c_policies = c.u32()?;
        let cb_buffer = c.u32()?;
        let cb_size = c.u32()?;
        let hr = Hresult(c.u32()?);
        let hr_server = Hresult(c.u32()?);
        let reserved = c.u32()?;
        let n = usize::try_from(c_policies).unwrap_or(usize::MAX);
        // 32 bytes per EntryHeader: check before allocating.
        if n.checked_mul(32).is_none_or(|b| b > c.remaining()) {
            return Err(c.err(DcomErrorKind::InvalidValue { field: "cPolicies", value: c_policies.into() }));
        }
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let at = c.position();
            let signature = c.u32()?;
            if signature != Self::ENTRY_SIGNATURE {
                return Err(DcomError::new(
                    DcomErrorKind::BadSignature { found: signature, expected: Self::ENTRY_SIGNATURE },
                    at,
                    "EntryHeader",
                ));
            }
            entries.push(EntryHeader {
                signature,
                cb_eh_buffer: c.u32()?,
                cb_size: c.u32()?,
                reserved: c.u32()?,
                policy_id: c.guid()?,
            });
        }
        let policy_data = c.rest().to_vec();
        Ok(Self { signature, version, cb_buffer, cb_size, hr, hr_server, reserved, entries, policy_data })
    }

    /// Encodes the extension data.
    pub fn encode(&self, little_endian: bool) -> Result<Vec<u8>> {
        let le = little_endian;
        let mut out = Vec::new();
        put_u32(&mut out, self.signature, le);
        put_u32(&mut out, self.version, le);
        put_u32(&mut out, len_u32(self.entries.len(), "context ORPC extension")?, le);
        put_u32(&mut out, self.cb_buffer, le);
        put_u32(&mut out, self.cb_size, le);
        put_u32(&mut out, self.hr.0, le);
        put_u32(&mut out, self.hr_server.0, le);
        put_u32(&mut out, self.reserved, le);
        for e in &self.entries {
            put_u32(&mut out, e.signature, le);
            put_u32(&mut out, e.cb_eh_buffer, le);
            put_u32(&mut out, e.cb_size, le);
            put_u32(&mut out, e.reserved, le);
            put_guid(&mut out, &e.policy_id, le);
        }
        out.extend_from_slice(&self.policy_data);
        Ok(out)
    }
}
