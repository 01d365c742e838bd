//! Endpoint mapper client: ept_lookup (the whole map) and ept_map (the port of one interface), unauthenticated
//! on port 135 (C706 appendix O, [MS-RPCE 2.2.1.2]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bytes::Bytes;
use dcom_epm::{EPM_INTERFACE, EptEntry, EptLookupIn, EptLookupOut, EptMapIn, EptMapOut, Tower, Twr, inquiry, opnum};
use dcom_ndr::{ContextHandle, NdrContext};
use dcom_pdu::SyntaxId;
use dcom_rpc::CallError;

use crate::client::{ConnectOptions, Connection};

/// The endpoint mapper's abstract syntax.
pub const EPM_SYNTAX: SyntaxId = SyntaxId::new(EPM_INTERFACE.0, EPM_INTERFACE.1, EPM_INTERFACE.2);

/// EPT_S_NOT_REGISTERED: no (more) entries.
pub const EPT_S_NOT_REGISTERED: u32 = 0x16c9_a0d6;

/// Largest number of lookup rounds (each returns up to 100 entries): a hostile server cannot keep us forever.
pub const MAX_LOOKUP_ROUNDS: usize = 1000;

fn ndr_err(e: impl core::fmt::Display) -> CallError {
    CallError::Protocol(e.to_string())
}

async fn connect(addr: SocketAddr) -> Result<(Connection, dcom_rpc::client::PresentationContext), CallError> {
    let conn = Connection::connect(addr, ConnectOptions::default()).await?;
    let bound = conn.bind(&[EPM_SYNTAX], false, None).await?;
    let ctx = bound
        .contexts
        .first()
        .and_then(|c| c.1)
        .ok_or_else(|| CallError::NotBound("the endpoint mapper refused its interface".into()))?;
    Ok((conn, ctx))
}

/// Every entry of the endpoint map at `addr` (normally port 135).
pub async fn lookup(addr: SocketAddr) -> Result<Vec<EptEntry>, CallError> {
    let (conn, ctx) = connect(addr).await?;
    let mut handle = ContextHandle::default();
    let mut out = Vec::new();
    for _ in 0..MAX_LOOKUP_ROUNDS {
        let req = EptLookupIn {
            inquiry_type: inquiry::ALL_ELTS,
            object: None,
            interface_id: None,
            vers_option: 1,
            entry_handle: handle,
            max_ents: 100,
        };
        let stub = dcom_ndr::encode(&req, NdrContext::NDR20).map_err(ndr_err)?;
        let resp = conn.call(ctx, None, opnum::LOOKUP, None, Bytes::from(stub), None).await?;
        let (r, _) = dcom_ndr::decode_prefix::<EptLookupOut>(&resp, NdrContext::NDR20).map_err(ndr_err)?;
        let n = r.entries.items.len();
        out.extend(r.entries.items);
        // Windows ends with a null handle; Samba keeps a handle and answers EPT_S_NOT_REGISTERED next.
        if r.status != 0 || r.entry_handle.is_null() || n == 0 {
            break;
        }
        handle = r.entry_handle;
    }
    conn.close();
    Ok(out)
}

/// The TCP port of `interface` as the endpoint mapper at `addr` maps it (ept_map with an ncacn_ip_tcp tower).
pub async fn map(addr: SocketAddr, interface: SyntaxId) -> Result<Option<u16>, CallError> {
    let (conn, ctx) = connect(addr).await?;
    let ip = match addr.ip() {
        IpAddr::V4(v) => v,
        IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    };
    let ndr = SyntaxId::NDR20;
    let tower = Tower::ncacn_ip_tcp(
        (interface.uuid, interface.version_major, interface.version_minor),
        (ndr.uuid, ndr.version_major, ndr.version_minor),
        0,
        ip,
    );
    let twr = Twr::from_tower(&tower).map_err(ndr_err)?;
    let req = EptMapIn { object: None, map_tower: Some(twr), entry_handle: ContextHandle::default(), max_towers: 4 };
    let stub = dcom_ndr::encode(&req, NdrContext::NDR20).map_err(ndr_err)?;
    let resp = conn.call(ctx, None, opnum::MAP, None, Bytes::from(stub), None).await?;
    let (r, _) = dcom_ndr::decode_prefix::<EptMapOut>(&resp, NdrContext::NDR20).map_err(ndr_err)?;
    conn.close();
    if r.status != 0 {
        return Ok(None);
    }
    Ok(r.towers.items.iter().flatten().filter_map(|t| t.tower().ok()).find_map(|t| t.tcp_port()))
}
