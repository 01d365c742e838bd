#![cfg_attr(doc, doc = include_str!("../README.md"))]

pub mod tower;
mod types;

pub use tower::{Floor, FloorValue, ProtocolId, Tower, TowerError};
pub use types::{
    EpmCall, EpmError, EptDeleteIn, EptEntry, EptInqObjectOut, EptInsertIn, EptLookupHandleFreeIn,
    EptLookupHandleFreeOut, EptLookupIn, EptLookupOut, EptMapIn, EptMapOut, EptMgmtDeleteIn, MAX_ANNOTATION, RpcIfId,
    StatusOut, Twr, inquiry, method_name, opnum,
};
use uuid::{Uuid, uuid};

/// The endpoint mapper interface `ept` ([C706 appendix O], [MS-RPCE 2.2.1.2]): UUID and version 3.0.
pub const EPM_INTERFACE: (Uuid, u16, u16) = (uuid!("e1af8308-5d1f-11c9-91a4-08002b14a0fa"), 3, 0);
