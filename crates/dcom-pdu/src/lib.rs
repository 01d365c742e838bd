#![cfg_attr(doc, doc = include_str!("../README.md"))]
#![cfg_attr(not(doc), doc = "Connection-oriented DCE/RPC PDU codec (MS-RPCE 2.2.2, C706 chapter 12).")]

mod auth;
mod body;
mod error;
mod frag;
pub mod fuzz;
mod header;
mod pdu;
mod status;
mod syntax;
mod vt;
mod wire;

pub use auth::{AuthLevel, AuthType, AuthVerifier, SecTrailer};
pub use body::{
    Auth3, Bind, BindAck, BindNak, ContextElem, ContextList, ContextResult, Empty, Fault, PduBody, ProviderReason,
    RejectReason, Request, Response, ResultCode, ResultList, Version,
};
pub use error::{PduError, PduErrorKind};
pub use frag::{
    AuthTemplate, AuthTrailerSize, CallKind, CompleteCall, Fragment, FragmentPlan, FragmentSpec, Reassembler,
    ReassemblyLimits, auth_pad_len, build_fragments, plan_fragments, stub_header_size,
};
pub use header::{ByteOrder, DataRep, Header, PacketType, PfcFlags, peek_header};
pub use pdu::{AuthLayout, Pdu};
pub use status::Status;
pub use syntax::{BtfnBitmask, SyntaxId};
pub use vt::{
    CLIENT_SUPPORT_HEADER_SIGNING, SEC_VT_COMMAND_BITMASK_1, SEC_VT_COMMAND_END, SEC_VT_COMMAND_HEADER2,
    SEC_VT_COMMAND_MASK, SEC_VT_COMMAND_PCONTEXT, SEC_VT_MUST_PROCESS_COMMAND, VT_SEARCH_WINDOW, VT_SIGNATURE,
    VerificationTrailer, VtCommand, VtHeader2,
};
