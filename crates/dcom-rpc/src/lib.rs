#![cfg_attr(doc, doc = include_str!("../README.md"))]
#![cfg_attr(not(doc), doc = "Sans-IO connection-oriented DCE/RPC associations (MS-RPCE 3.3, C706 chapter 12).")]

mod binding;
pub mod client;
mod error;
mod framing;
mod group;
pub mod server;

pub use binding::{Binding, BindingError, Protseq};
pub use error::{CallError, CloseReason};
pub use framing::FrameBuffer;
pub use group::AssociationGroups;

/// The bind-time feature negotiation bits this implementation offers and accepts (MS-RPCE 2.2.2.14,
/// 3.3.1.5.3): security context multiplexing and keep connection on orphan.
pub const SUPPORTED_BTFN: dcom_pdu::BtfnBitmask = dcom_pdu::BtfnBitmask(0x03);

/// MS-RPCE 3.3.1.5.5 / C706 12.6.3.1: the smallest fragment size every implementation must accept (MustRecvFragSize).
pub const MIN_FRAG_SIZE: u16 = 1432;

/// The default max_xmit_frag / max_recv_frag (what Windows offers on TCP).
pub const DEFAULT_FRAG_SIZE: u16 = 5840;
