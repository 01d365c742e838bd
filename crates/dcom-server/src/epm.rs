//! The endpoint mapper over the interfaces of this server (C706 appendix O, [MS-RPCE 2.2.1.2], 3.1.1.2.1).

use std::net::Ipv4Addr;
use std::sync::Arc;

use dcom_epm::{
    EptDeleteIn, EptEntry, EptInqObjectOut, EptInsertIn, EptLookupHandleFreeIn, EptLookupHandleFreeOut, EptLookupIn,
    EptLookupOut, EptMapIn, EptMapOut, EptMgmtDeleteIn, MAX_ANNOTATION, StatusOut, Tower, Twr,
};
use dcom_idl::{Interface, Operation};
use dcom_ndr::{ConfVarArray, ContextHandle, Ndr, VarArray};
use dcom_pdu::SyntaxId;
use uuid::Uuid;

use crate::Dispatch;

/// The endpoint mapper interface (`e1af8308-5d1f-11c9-91a4-08002b14a0fa` v3.0).
#[derive(Debug, Clone, Copy)]
pub struct Epm;

impl Interface for Epm {
    const SYNTAX: dcom_idl::SyntaxId =
        dcom_idl::SyntaxId::new(dcom_epm::EPM_INTERFACE.0, dcom_epm::EPM_INTERFACE.1, dcom_epm::EPM_INTERFACE.2);
    const NAME: &'static str = "epmapper";
    fn op_name(opnum: u16) -> Option<&'static str> {
        dcom_epm::method_name(opnum)
    }
}

/// `ept_inq_object` has no `[in]` parameters besides the binding handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Ndr)]
#[ndr(params, name = "ept_inq_object_in")]
pub struct EptInqObjectIn {}

macro_rules! epm_ops {
    ($($name:ident = $opnum:expr, $in:ty, $out:ty;)*) => {$(
        #[doc = concat!("Endpoint mapper operation ", stringify!($opnum), ".")]
        #[derive(Debug, Clone, Copy)]
        pub struct $name;
        impl Operation for $name {
            type Interface = Epm;
            const OPNUM: u16 = $opnum;
            const NAME: &'static str = stringify!($name);
            type In = $in;
            type Out = $out;
        }
    )*};
}

epm_ops! {
    EptInsert = 0, EptInsertIn, StatusOut;
    EptDelete = 1, EptDeleteIn, StatusOut;
    EptLookup = 2, EptLookupIn, EptLookupOut;
    EptMap = 3, EptMapIn, EptMapOut;
    EptLookupHandleFree = 4, EptLookupHandleFreeIn, EptLookupHandleFreeOut;
    EptInqObject = 5, EptInqObjectIn, EptInqObjectOut;
    EptMgmtDelete = 6, EptMgmtDeleteIn, StatusOut;
}

/// EPT_S_NOT_REGISTERED (0x16c9a0d6): no (more) entries match.
pub const EPT_S_NOT_REGISTERED: u32 = 0x16c9_a0d6;
/// EPT_S_CANT_PERFORM_OP (0x16c9a0d8): insert/delete are not offered remotely.
pub const EPT_S_CANT_PERFORM_OP: u32 = 0x16c9_a0d8;

/// One registered endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The interface.
    pub interface: SyntaxId,
    /// The TCP port.
    pub port: u16,
    /// The address advertised in the tower.
    pub addr: Ipv4Addr,
    /// The annotation.
    pub annotation: String,
}

impl Endpoint {
    fn tower(&self) -> Tower {
        let ndr = SyntaxId::NDR20;
        Tower::ncacn_ip_tcp(
            (self.interface.uuid, self.interface.version_major, self.interface.version_minor),
            (ndr.uuid, ndr.version_major, ndr.version_minor),
            self.port,
            self.addr,
        )
    }

    fn entry(&self) -> Option<EptEntry> {
        let mut ann: Vec<u8> = self.annotation.bytes().take(MAX_ANNOTATION - 1).collect();
        ann.push(0);
        Some(EptEntry {
            object: Uuid::nil(),
            tower: Some(Twr::from_tower(&self.tower()).ok()?),
            annotation: VarArray { offset: 0, items: ann },
        })
    }
}

fn handle(offset: usize) -> ContextHandle {
    // The lookup handle carries the resume position; it is not a capability (anyone may enumerate).
    let mut b = [0u8; 16];
    b[0] = 0xe9;
    b[8..16].copy_from_slice(&(offset as u64).to_le_bytes());
    ContextHandle { attributes: 0, uuid: Uuid::from_bytes(b) }
}

fn offset_of(h: &ContextHandle) -> usize {
    if h.is_null() {
        return 0;
    }
    let b = h.uuid.as_bytes();
    let mut o = [0u8; 8];
    o.copy_from_slice(&b[8..16]);
    usize::try_from(u64::from_le_bytes(o)).unwrap_or(usize::MAX)
}

/// The endpoint mapper handler for `endpoints`.
#[must_use]
pub fn handler(endpoints: Arc<Vec<Endpoint>>) -> Dispatch {
    let e1 = endpoints.clone();
    let e2 = endpoints;
    Dispatch::new()
        .op::<EptInsert, _, _>(|_, _| async move { Ok(StatusOut { status: EPT_S_CANT_PERFORM_OP }) })
        .op::<EptDelete, _, _>(|_, _| async move { Ok(StatusOut { status: EPT_S_CANT_PERFORM_OP }) })
        .op::<EptLookup, _, _>(move |_, req| {
            let eps = e1.clone();
            async move {
                let start = offset_of(&req.entry_handle);
                let max = usize::try_from(req.max_ents).unwrap_or(usize::MAX).clamp(1, 512);
                let matching: Vec<&Endpoint> = eps
                    .iter()
                    .filter(|e| match (req.inquiry_type, &req.interface_id) {
                        (1 | 3, Some(i)) => e.interface.uuid == i.uuid && e.interface.version_major == i.vers_major,
                        _ => true,
                    })
                    .collect();
                let page: Vec<EptEntry> = matching.iter().skip(start).take(max).filter_map(|e| e.entry()).collect();
                let next = start.saturating_add(page.len());
                let more = next < matching.len();
                let status = if page.is_empty() { EPT_S_NOT_REGISTERED } else { 0 };
                let n = u32::try_from(page.len()).unwrap_or(0);
                Ok(EptLookupOut {
                    entry_handle: if more { handle(next) } else { ContextHandle::default() },
                    num_ents: n,
                    entries: ConfVarArray::with_max(page, u64::from(req.max_ents)),
                    status,
                })
            }
        })
        .op::<EptMap, _, _>(move |_, req| {
            let eps = e2.clone();
            async move {
                let wanted = req.map_tower.as_ref().and_then(|t| t.tower().ok()).and_then(|t| t.interface());
                let found: Vec<Option<Twr>> = match wanted {
                    Some((uuid, major, minor)) => eps
                        .iter()
                        .filter(|e| {
                            e.interface.uuid == uuid
                                && e.interface.version_major == major
                                && minor <= e.interface.version_minor
                        })
                        .take(usize::try_from(req.max_towers).unwrap_or(0))
                        .filter_map(|e| Twr::from_tower(&e.tower()).ok().map(Some))
                        .collect(),
                    None => Vec::new(),
                };
                let status = if found.is_empty() { EPT_S_NOT_REGISTERED } else { 0 };
                let n = u32::try_from(found.len()).unwrap_or(0);
                Ok(EptMapOut {
                    entry_handle: ContextHandle::default(),
                    num_towers: n,
                    towers: ConfVarArray::with_max(found, u64::from(req.max_towers)),
                    status,
                })
            }
        })
        .op::<EptLookupHandleFree, _, _>(|_, _| async move {
            Ok(EptLookupHandleFreeOut { entry_handle: ContextHandle::default(), status: 0 })
        })
        .op::<EptInqObject, _, _>(|_, _| async move {
            Ok(EptInqObjectOut { ept_object: Uuid::nil(), status: EPT_S_NOT_REGISTERED })
        })
        .op::<EptMgmtDelete, _, _>(|_, _| async move { Ok(StatusOut { status: EPT_S_CANT_PERFORM_OP }) })
}
