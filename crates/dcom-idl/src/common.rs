//! Types shared by several interfaces ([MS-DTYP]).

use std::fmt;

use dcom_ndr::{ConfArray, ConfVarArray, Ndr};

/// `policy_handle` / `[context_handle]` ([MS-DTYP 2.2.36] `RPC_HANDLE`; C706 appendix N `ndr_context_handle`):
/// 4-byte attributes and a GUID, 20 bytes on the wire.
pub use dcom_ndr::ContextHandle as PolicyHandle;

/// `RPC_UNICODE_STRING` ([MS-DTYP 2.3.10]; Samba `lsa_String`): a counted UTF-16 string.
///
/// `length` and `maximum_length` count bytes; the buffer is a conformant varying array of `maximum_length / 2`
/// units of which `length / 2` are transmitted, not NUL-terminated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "RPC_UNICODE_STRING")]
pub struct RpcUnicodeString {
    /// `Length`: bytes in use (Samba `length`).
    pub length: u16,
    /// `MaximumLength`: bytes allocated (Samba `size`).
    pub maximum_length: u16,
    /// `[size_is(MaximumLength/2), length_is(Length/2)] WCHAR* Buffer` (Samba `string`).
    #[ndr(size_is = "maximum_length / 2", length_is = "length / 2")]
    pub buffer: Option<ConfVarArray<u16>>,
}

impl RpcUnicodeString {
    /// A string whose allocation equals its length (as Windows and Samba send it); `None` when it does not fit
    /// the 16-bit byte counts.
    #[must_use]
    pub fn new(s: &str) -> Option<Self> {
        Self::from_units(s.encode_utf16().collect())
    }

    /// A string of UTF-16 units; `None` when longer than 32,767 units.
    #[must_use]
    pub fn from_units(units: Vec<u16>) -> Option<Self> {
        let bytes = u16::try_from(units.len().checked_mul(2)?).ok()?;
        Some(Self { length: bytes, maximum_length: bytes, buffer: Some(ConfVarArray::new(units)) })
    }

    /// The null string: lengths 0 and a null buffer.
    #[must_use]
    pub fn null() -> Self {
        Self::default()
    }

    /// The transmitted units.
    #[must_use]
    pub fn units(&self) -> &[u16] {
        self.buffer.as_ref().map_or(&[], |b| b.items.as_slice())
    }

    /// Lossy text view.
    #[must_use]
    pub fn to_string_lossy(&self) -> String {
        String::from_utf16_lossy(self.units())
    }
}

/// `RPC_SID` ([MS-DTYP 2.4.2.3]; Samba `dom_sid2`): a security identifier as a conformant structure.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Ndr)]
#[ndr(name = "RPC_SID")]
pub struct RpcSid {
    /// `Revision` (1).
    pub revision: u8,
    /// `[range(0, 15)] SubAuthorityCount`.
    #[ndr(range(0, 15))]
    pub sub_authority_count: u8,
    /// `IdentifierAuthority`: a 48-bit big-endian value ([MS-DTYP 2.4.1.1]).
    pub identifier_authority: [u8; 6],
    /// `[size_is(SubAuthorityCount)] SubAuthority[]`.
    #[ndr(size_is = "sub_authority_count")]
    pub sub_authority: ConfArray<u32>,
}

impl RpcSid {
    /// Maximum number of sub-authorities ([MS-DTYP 2.4.2.3]).
    pub const MAX_SUB_AUTHORITIES: usize = 15;

    /// A revision 1 SID; `None` with more than 15 sub-authorities or an authority above 48 bits.
    #[must_use]
    pub fn new(authority: u64, sub_authority: &[u32]) -> Option<Self> {
        if sub_authority.len() > Self::MAX_SUB_AUTHORITIES || authority >> 48 != 0 {
            return None;
        }
        let a = authority.to_be_bytes();
        Some(Self {
            revision: 1,
            sub_authority_count: u8::try_from(sub_authority.len()).ok()?,
            identifier_authority: [a[2], a[3], a[4], a[5], a[6], a[7]],
            sub_authority: ConfArray(sub_authority.to_vec()),
        })
    }

    /// The 48-bit identifier authority.
    #[must_use]
    pub fn authority(&self) -> u64 {
        let [a, b, c, d, e, f] = self.identifier_authority;
        u64::from_be_bytes([0, 0, a, b, c, d, e, f])
    }
}

/// The string form `S-1-5-21-...` ([MS-DTYP 2.4.2.1]): the authority in decimal below 2^32, otherwise as 12
/// hexadecimal digits.
impl fmt::Display for RpcSid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S-{}-", self.revision)?;
        let auth = self.authority();
        if auth >> 32 == 0 {
            write!(f, "{auth}")?;
        } else {
            write!(f, "0x{auth:012X}")?;
        }
        for s in self.sub_authority.iter() {
            write!(f, "-{s}")?;
        }
        Ok(())
    }
}
