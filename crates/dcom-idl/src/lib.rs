#![cfg_attr(doc, doc = include_str!("../README.md"))]
#![cfg_attr(not(doc), doc = "Typed NDR stubs of small RPC interfaces.")]

use std::fmt;

use dcom_ndr::{Ndr, NdrContext, NdrError};
use uuid::Uuid;

#[macro_use]
mod macros;

pub mod common;
pub mod dssetup;
pub mod mgmt;
pub mod rpcecho;
pub mod samr;
pub mod wkssvc;

/// An abstract syntax: interface UUID and version (C706 12.6.3.1 `p_syntax_id_t`, [MS-RPCE 2.2.2.3]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SyntaxId {
    /// Interface UUID.
    pub uuid: Uuid,
    /// Major version.
    pub major: u16,
    /// Minor version.
    pub minor: u16,
}

impl SyntaxId {
    /// An interface id.
    #[must_use]
    pub const fn new(uuid: Uuid, major: u16, minor: u16) -> Self {
        Self { uuid, major, minor }
    }

    /// The 32-bit `if_version` of a presentation context (C706 12.6.3.1: major version in the low 16 bits,
    /// minor version in the high 16 bits).
    #[must_use]
    pub const fn if_version(&self) -> u32 {
        (self.major as u32) | ((self.minor as u32) << 16)
    }

    /// The inverse of [`SyntaxId::if_version`].
    #[must_use]
    pub const fn from_if_version(uuid: Uuid, if_version: u32) -> Self {
        Self { uuid, major: (if_version & 0xffff) as u16, minor: (if_version >> 16) as u16 }
    }
}

impl fmt::Display for SyntaxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} v{}.{}", self.uuid, self.major, self.minor)
    }
}

/// One RPC interface: its abstract syntax and the names of its operations.
pub trait Interface {
    /// Interface UUID and version.
    const SYNTAX: SyntaxId;
    /// Interface name as in its IDL (`rpcecho`, `samr`, ...).
    const NAME: &'static str;
    /// The IDL name of operation `opnum`, `None` when the interface has no such operation (or this crate does
    /// not model it).
    fn op_name(opnum: u16) -> Option<&'static str>;
}

/// One operation of an interface: its opnum and its request / response stub types.
///
/// `In` holds the `[in]` parameters in IDL order (the request stub), `Out` the `[out]` parameters followed by
/// the return value, if any (the response stub). Both are `#[ndr(params)]` structures: each field is one
/// top-level parameter (C706 14.3.12.3; a top-level `[ref]` pointer has no wire representation).
pub trait Operation {
    /// The interface the operation belongs to.
    type Interface: Interface;
    /// Operation number (the `opnum` of the request PDU, [MS-RPCE 2.2.2.11]).
    const OPNUM: u16;
    /// IDL name of the operation.
    const NAME: &'static str;
    /// Request stub: the `[in]` parameters.
    type In: Ndr + fmt::Debug + Clone + PartialEq;
    /// Response stub: the `[out]` parameters and the return value.
    type Out: Ndr + fmt::Debug + Clone + PartialEq;

    /// Encodes a request stub.
    fn encode_in(v: &Self::In, ctx: NdrContext) -> Result<Vec<u8>, IdlError> {
        dcom_ndr::encode(v, ctx).map_err(|e| IdlError::ndr::<Self>(Direction::Request, e))
    }

    /// Decodes a request stub; every byte must be used.
    fn decode_in(stub: &[u8], ctx: NdrContext) -> Result<Self::In, IdlError> {
        decode_all::<Self::In>(Self::Interface::NAME, Self::OPNUM, Direction::Request, stub, ctx)
    }

    /// Encodes a response stub.
    fn encode_out(v: &Self::Out, ctx: NdrContext) -> Result<Vec<u8>, IdlError> {
        dcom_ndr::encode(v, ctx).map_err(|e| IdlError::ndr::<Self>(Direction::Response, e))
    }

    /// Decodes a response stub; every byte must be used.
    fn decode_out(stub: &[u8], ctx: NdrContext) -> Result<Self::Out, IdlError> {
        decode_all::<Self::Out>(Self::Interface::NAME, Self::OPNUM, Direction::Response, stub, ctx)
    }
}

/// Which stub of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The request stub (`[in]` parameters).
    Request,
    /// The response stub (`[out]` parameters and return value).
    Response,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Request => "request",
            Self::Response => "response",
        })
    }
}

/// What went wrong with a stub.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdlErrorKind {
    /// The interface has no operation with this opnum (or this crate does not model it).
    UnknownOpnum,
    /// The stub does not decode (or the value does not encode) as the operation's parameters.
    Ndr(NdrError),
    /// The parameters ended before the stub did.
    TrailingBytes {
        /// Bytes the parameters took.
        used: usize,
        /// Stub length.
        len: usize,
    },
}

/// A stub that is not a valid request or response of an operation, with the interface, opnum and direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdlError(Box<Repr>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Repr {
    kind: IdlErrorKind,
    interface: &'static str,
    opnum: u16,
    direction: Direction,
}

impl IdlError {
    /// A new error.
    #[must_use]
    pub fn new(kind: IdlErrorKind, interface: &'static str, opnum: u16, direction: Direction) -> Self {
        Self(Box::new(Repr { kind, interface, opnum, direction }))
    }

    fn ndr<O: Operation + ?Sized>(direction: Direction, e: NdrError) -> Self {
        Self::new(IdlErrorKind::Ndr(e), O::Interface::NAME, O::OPNUM, direction)
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> &IdlErrorKind {
        &self.0.kind
    }

    /// Interface name.
    #[must_use]
    pub fn interface(&self) -> &'static str {
        self.0.interface
    }

    /// Operation number.
    #[must_use]
    pub fn opnum(&self) -> u16 {
        self.0.opnum
    }

    /// Request or response.
    #[must_use]
    pub fn direction(&self) -> Direction {
        self.0.direction
    }

    /// Byte offset in the stub where the error was detected, when known.
    #[must_use]
    pub fn offset(&self) -> Option<usize> {
        match &self.0.kind {
            IdlErrorKind::Ndr(e) => Some(e.offset()),
            IdlErrorKind::TrailingBytes { used, .. } => Some(*used),
            IdlErrorKind::UnknownOpnum => None,
        }
    }
}

impl fmt::Display for IdlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} opnum {} {}: ", self.0.interface, self.0.opnum, self.0.direction)?;
        match &self.0.kind {
            IdlErrorKind::UnknownOpnum => write!(f, "unknown operation"),
            IdlErrorKind::Ndr(e) => write!(f, "{e}"),
            IdlErrorKind::TrailingBytes { used, len } => {
                write!(f, "{} trailing bytes after the parameters at stub offset {used}", len.saturating_sub(*used))
            }
        }
    }
}

impl std::error::Error for IdlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0.kind {
            IdlErrorKind::Ndr(e) => Some(e),
            IdlErrorKind::UnknownOpnum | IdlErrorKind::TrailingBytes { .. } => None,
        }
    }
}

/// Decodes parameters at the start of `stub`; returns them and the bytes used.
fn decode_prefix_as<T: Ndr>(
    interface: &'static str,
    opnum: u16,
    direction: Direction,
    stub: &[u8],
    ctx: NdrContext,
) -> Result<(T, usize), IdlError> {
    dcom_ndr::decode_prefix::<T>(stub, ctx)
        .map_err(|e| IdlError::new(IdlErrorKind::Ndr(e), interface, opnum, direction))
}

/// Decodes parameters that must span all of `stub`.
fn decode_all<T: Ndr>(
    interface: &'static str,
    opnum: u16,
    direction: Direction,
    stub: &[u8],
    ctx: NdrContext,
) -> Result<T, IdlError> {
    let (v, used) = decode_prefix_as::<T>(interface, opnum, direction, stub, ctx)?;
    if used == stub.len() {
        Ok(v)
    } else {
        Err(IdlError::new(IdlErrorKind::TrailingBytes { used, len: stub.len() }, interface, opnum, direction))
    }
}

/// Name and operations of one interface of this crate, for code that only knows a presentation context's
/// abstract syntax.
#[derive(Debug, Clone, Copy)]
pub struct InterfaceInfo {
    /// Interface UUID and version.
    pub syntax: SyntaxId,
    /// Interface name.
    pub name: &'static str,
    /// Operation names by opnum.
    pub op_name: fn(u16) -> Option<&'static str>,
}

/// Every interface of this crate.
pub const INTERFACES: &[InterfaceInfo] = &[
    info::<rpcecho::Rpcecho>(),
    info::<mgmt::Mgmt>(),
    info::<samr::Samr>(),
    info::<dssetup::Dssetup>(),
    info::<wkssvc::Wkssvc>(),
];

const fn info<I: Interface>() -> InterfaceInfo {
    InterfaceInfo { syntax: I::SYNTAX, name: I::NAME, op_name: I::op_name }
}

/// The interface with this UUID and major version (C706 12.6.3.1: a server accepts any minor version not
/// above its own).
#[must_use]
pub fn lookup(uuid: &Uuid, major: u16) -> Option<&'static InterfaceInfo> {
    INTERFACES.iter().find(|i| i.syntax.uuid == *uuid && i.syntax.major == major)
}
