//! Presentation syntax identifiers (C706 12.6.3.1 `p_syntax_id_t`, MS-RPCE 2.2.2.7) and the well-known ones:
//! NDR 2.0, NDR64, and the bind-time feature negotiation pseudo syntax (MS-RPCE 2.2.2.14, 3.3.1.5.3).

use core::fmt;

use uuid::{Uuid, uuid};

use crate::error::PduError;
use crate::wire::{Reader, Writer};

/// `p_syntax_id_t` / `RPC_SYNTAX_IDENTIFIER`: an interface or transfer syntax UUID and its version.
///
/// On the wire: the UUID (first three fields in drep byte order) then `u_int32 if_version` in drep byte order,
/// whose low 16 bits are the major and high 16 bits the minor version (C706 12.6.3.1, DCE `RPC_IF_VERS_MAJOR`).
/// In a little-endian PDU this reads as major u16 then minor u16; in a big-endian PDU the minor comes first.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SyntaxId {
    /// `if_uuid`.
    pub uuid: Uuid,
    /// Major version (low 16 bits of `if_version`).
    pub version_major: u16,
    /// Minor version (high 16 bits of `if_version`).
    pub version_minor: u16,
}

impl SyntaxId {
    /// Size on the wire.
    pub const SIZE: usize = 20;

    /// NDR 2.0 transfer syntax 8a885d04-1ceb-11c9-9fe8-08002b104860 v2.0 (C706 14.3, MS-RPCE 2.2.4.12).
    pub const NDR20: Self = Self::new(uuid!("8a885d04-1ceb-11c9-9fe8-08002b104860"), 2, 0);
    /// NDR64 transfer syntax 71710533-beba-4937-8319-b5dbef9ccc36 v1.0 (MS-RPCE 2.2.5).
    pub const NDR64: Self = Self::new(uuid!("71710533-beba-4937-8319-b5dbef9ccc36"), 1, 0);
    /// The all-zero syntax, used in rejected and negotiate_ack results.
    pub const NIL: Self = Self::new(Uuid::nil(), 0, 0);

    /// A syntax identifier.
    #[must_use]
    pub const fn new(uuid: Uuid, version_major: u16, version_minor: u16) -> Self {
        Self { uuid, version_major, version_minor }
    }

    /// The 32-bit `if_version` as on the wire: `major | minor << 16`.
    #[must_use]
    pub const fn if_version(&self) -> u32 {
        (self.version_major as u32) | ((self.version_minor as u32) << 16)
    }

    /// Splits a 32-bit `if_version`.
    #[must_use]
    pub const fn from_if_version(uuid: Uuid, if_version: u32) -> Self {
        Self { uuid, version_major: (if_version & 0xffff) as u16, version_minor: (if_version >> 16) as u16 }
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, PduError> {
        let uuid = r.uuid("p_syntax_id_t.if_uuid")?;
        let version = r.u32("p_syntax_id_t.if_version")?;
        Ok(Self::from_if_version(uuid, version))
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.uuid(&self.uuid);
        w.u32(self.if_version());
    }

    /// If this is a bind-time feature negotiation syntax `6cb71c2c-9812-4540-xxxx-xxxxxxxxxxxx`, its bitmask
    /// (MS-RPCE 3.3.1.5.3): the last 8 octets of the UUID, first octet least significant.
    #[must_use]
    pub fn btfn_bitmask(&self) -> Option<BtfnBitmask> {
        let b = self.uuid.as_bytes();
        if b.get(..8) != BTFN_PREFIX.get(..8) {
            return None;
        }
        let mut last = [0u8; 8];
        last.copy_from_slice(b.get(8..16)?);
        Some(BtfnBitmask(u64::from_le_bytes(last)))
    }

    /// The bind-time feature negotiation pseudo transfer syntax offering `bitmask`, version 1.0
    /// (MS-RPCE 3.3.1.5.3).
    #[must_use]
    pub fn btfn(bitmask: BtfnBitmask) -> Self {
        let mut b = BTFN_PREFIX;
        let tail = bitmask.0.to_le_bytes();
        for (dst, src) in b.iter_mut().skip(8).zip(tail) {
            *dst = src;
        }
        Self::new(Uuid::from_bytes(b), 1, 0)
    }
}

/// First 8 octets (RFC 4122 byte order) of every BTFN UUID `6cb71c2c-9812-4540-...`.
const BTFN_PREFIX: [u8; 16] = *uuid!("6cb71c2c-9812-4540-0000-000000000000").as_bytes();

impl fmt::Debug for SyntaxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SyntaxId({} v{}.{})", self.uuid, self.version_major, self.version_minor)
    }
}

/// Bind-time feature negotiation bitmask (MS-RPCE 2.2.2.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BtfnBitmask(pub u64);

impl BtfnBitmask {
    /// Security context multiplexing supported (0x01).
    pub const SECURITY_CONTEXT_MULTIPLEXING: Self = Self(0x01);
    /// Keep connection on orphan supported (0x02).
    pub const KEEP_CONNECTION_ON_ORPHAN: Self = Self(0x02);

    /// Whether every bit of `other` is set.
    #[must_use]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of both bitmasks.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}
