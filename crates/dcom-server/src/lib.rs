#![cfg_attr(doc, doc = include_str!("../README.md"))]
#![cfg_attr(not(doc), doc = "Built-in RPC services over dcom-tokio.")]

pub mod epm;
pub mod mgmt;
pub mod rpcecho;
pub mod setup;
mod typed;

pub use typed::{Dispatch, ndr_context, response_ndr_context, typed};

/// The pdu-level syntax id of an idl interface.
#[must_use]
pub const fn syntax(s: dcom_idl::SyntaxId) -> dcom_pdu::SyntaxId {
    dcom_pdu::SyntaxId::new(s.uuid, s.major, s.minor)
}
