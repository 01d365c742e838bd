//! Data representation (drep) and transfer syntax identifiers.

use uuid::Uuid;

use crate::error::{NdrError, NdrErrorKind};

/// Integer byte order, high nibble of drep byte 0. C706 14.1, 12.6.3.1 (drep format label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntRep {
    /// Big-endian (drep nibble 0).
    BigEndian,
    /// Little-endian (drep nibble 1).
    LittleEndian,
}

/// Character representation, low nibble of drep byte 0. C706 14.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CharRep {
    /// ASCII (0).
    Ascii,
    /// EBCDIC (1): recognised, but any char or string value gives an error.
    Ebcdic,
}

/// Floating-point representation, drep byte 1. C706 14.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FloatRep {
    /// IEEE 754 (0).
    Ieee,
    /// VAX (1): recognised, unsupported.
    Vax,
    /// Cray (2): recognised, unsupported.
    Cray,
    /// IBM (3): recognised, unsupported.
    Ibm,
}

/// The 4-byte NDR format label ("drep") of an RPC PDU header. C706 14.1 figure 14-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataRep {
    /// Integer byte order.
    pub int: IntRep,
    /// Character set.
    pub char: CharRep,
    /// Floating-point format.
    pub float: FloatRep,
}

impl Default for DataRep {
    fn default() -> Self {
        Self::LITTLE_ENDIAN
    }
}

impl DataRep {
    /// Little-endian, ASCII, IEEE: drep `10 00 00 00`, the only label NDR64 allows ([MS-RPCE 2.2.5]).
    pub const LITTLE_ENDIAN: Self = Self { int: IntRep::LittleEndian, char: CharRep::Ascii, float: FloatRep::Ieee };
    /// Big-endian, ASCII, IEEE: drep `00 00 00 00`.
    pub const BIG_ENDIAN: Self = Self { int: IntRep::BigEndian, char: CharRep::Ascii, float: FloatRep::Ieee };

    /// Parses the 4 drep bytes. C706 14.1: byte 0 high nibble integer, low nibble character,
    /// byte 1 floating point; bytes 2 and 3 are reserved and ignored.
    pub fn from_bytes(bytes: [u8; 4]) -> Result<Self, NdrError> {
        let int = match bytes[0] >> 4 {
            0 => IntRep::BigEndian,
            1 => IntRep::LittleEndian,
            _ => return Err(NdrError::new(NdrErrorKind::InvalidDataRep { byte: 0, value: bytes[0] }, 0)),
        };
        let char = match bytes[0] & 0x0f {
            0 => CharRep::Ascii,
            1 => CharRep::Ebcdic,
            _ => return Err(NdrError::new(NdrErrorKind::InvalidDataRep { byte: 0, value: bytes[0] }, 0)),
        };
        let float = match bytes[1] {
            0 => FloatRep::Ieee,
            1 => FloatRep::Vax,
            2 => FloatRep::Cray,
            3 => FloatRep::Ibm,
            _ => return Err(NdrError::new(NdrErrorKind::InvalidDataRep { byte: 1, value: bytes[1] }, 1)),
        };
        Ok(Self { int, char, float })
    }

    /// The 4 drep bytes (reserved bytes zero).
    #[must_use]
    pub fn to_bytes(self) -> [u8; 4] {
        let i = match self.int {
            IntRep::BigEndian => 0u8,
            IntRep::LittleEndian => 1,
        };
        let c = match self.char {
            CharRep::Ascii => 0u8,
            CharRep::Ebcdic => 1,
        };
        let f = match self.float {
            FloatRep::Ieee => 0u8,
            FloatRep::Vax => 1,
            FloatRep::Cray => 2,
            FloatRep::Ibm => 3,
        };
        [(i << 4) | c, f, 0, 0]
    }

    /// True for little-endian integers.
    #[must_use]
    pub fn is_little_endian(self) -> bool {
        self.int == IntRep::LittleEndian
    }
}

/// Transfer syntax: NDR 2.0 (C706 chapter 14) or NDR64 ([MS-RPCE 2.2.5]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Syntax {
    /// NDR 2.0: 4-byte pointers and counts.
    #[default]
    Ndr20,
    /// NDR64: 8-byte pointers and counts, 4-byte enums, trailing struct padding.
    Ndr64,
}

impl Syntax {
    /// NDR transfer syntax `8a885d04-1ceb-11c9-9fe8-08002b104860` version 2 (C706 appendix I).
    pub const NDR20_UUID: Uuid = Uuid::from_u128(0x8a88_5d04_1ceb_11c9_9fe8_0800_2b10_4860);
    /// NDR 2.0 syntax version (major 2, minor 0).
    pub const NDR20_VERSION: u32 = 2;
    /// NDR64 transfer syntax `71710533-beba-4937-8319-b5dbef9ccc36` version 1 ([MS-RPCE 2.2.5]).
    pub const NDR64_UUID: Uuid = Uuid::from_u128(0x7171_0533_beba_4937_8319_b5db_ef9c_cc36);
    /// NDR64 syntax version 1.
    pub const NDR64_VERSION: u32 = 1;

    /// Transfer syntax identifier (UUID, version) as it appears in a presentation context.
    #[must_use]
    pub fn transfer_syntax(self) -> (Uuid, u32) {
        match self {
            Self::Ndr20 => (Self::NDR20_UUID, Self::NDR20_VERSION),
            Self::Ndr64 => (Self::NDR64_UUID, Self::NDR64_VERSION),
        }
    }

    /// Recognises a transfer syntax identifier.
    #[must_use]
    pub fn from_transfer_syntax(uuid: Uuid, version: u32) -> Option<Self> {
        if uuid == Self::NDR20_UUID && version == Self::NDR20_VERSION {
            Some(Self::Ndr20)
        } else if uuid == Self::NDR64_UUID && version == Self::NDR64_VERSION {
            Some(Self::Ndr64)
        } else {
            None
        }
    }

    /// Size (and alignment) of referent ids and array counts: 4 in NDR20, 8 in NDR64 ([MS-RPCE 2.2.5.3]).
    #[must_use]
    pub const fn word(self) -> usize {
        match self {
            Self::Ndr20 => 4,
            Self::Ndr64 => 8,
        }
    }
}

/// Decoding limits against hostile input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum nesting depth of structures, unions and pointer referents.
    pub max_depth: u32,
    /// Maximum total bytes the decoder may allocate for arrays and strings in one decode.
    pub max_alloc: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_depth: 64, max_alloc: 64 * 1024 * 1024 }
    }
}

/// Everything that selects an encoding: syntax, data representation and limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NdrContext {
    /// Transfer syntax.
    pub syntax: Syntax,
    /// Data representation.
    pub drep: DataRep,
    /// Decoder limits.
    pub limits: Limits,
}

impl NdrContext {
    /// NDR 2.0 little-endian.
    pub const NDR20: Self = Self {
        syntax: Syntax::Ndr20,
        drep: DataRep::LITTLE_ENDIAN,
        limits: Limits { max_depth: 64, max_alloc: 64 << 20 },
    };
    /// NDR64 little-endian.
    pub const NDR64: Self = Self {
        syntax: Syntax::Ndr64,
        drep: DataRep::LITTLE_ENDIAN,
        limits: Limits { max_depth: 64, max_alloc: 64 << 20 },
    };

    /// Context for the given syntax and drep with default limits.
    #[must_use]
    pub fn new(syntax: Syntax, drep: DataRep) -> Self {
        Self { syntax, drep, limits: Limits::default() }
    }

    /// Replaces the limits.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}
