#![cfg_attr(doc, doc = include_str!("../README.md"))]

pub mod tower;

pub use tower::{Floor, FloorValue, ProtocolId, Tower, TowerError};
use uuid::{Uuid, uuid};

/// The endpoint mapper interface `ept` ([C706 appendix O], [MS-RPCE 2.2.1.2]): UUID and version 3.0.
pub const EPM_INTERFACE: (Uuid, u16, u16) = (uuid!("e1af8308-5d1f-11c9-91a4-08002b14a0fa"), 3, 0);
