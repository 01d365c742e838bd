//! The management interface (C706 appendix Q, [MS-RPCE 2.2.1.3]).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use dcom_idl::mgmt::{
    InqIfIds, InqIfIdsOut, InqPrincName, InqPrincNameOut, InqStats, InqStatsOut, IsServerListening,
    IsServerListeningOut, RpcIfId, RpcIfIdVector, Statistics, StopServerListening, StopServerListeningOut,
};
use dcom_ndr::ConfArray;
use dcom_pdu::{Status, SyntaxId};
use dcom_tokio::server::Stats;

use bytes::Bytes;
use dcom_idl::Operation;
use dcom_rpc::server::CallOutcome;

use crate::{Dispatch, response_ndr_context};

/// rpc_s_access_denied (5): stop_server_listening is refused to remote callers.
pub const RPC_S_ACCESS_DENIED: u32 = 5;
/// rpc_s_mgmt_op_disallowed / rpc_s_binding_has_no_auth (1746) for a principal name request of an unknown
/// provider.
pub const RPC_S_UNKNOWN_AUTHN_SERVICE: u32 = 1747;

/// What mgmt reports.
#[derive(Debug)]
pub struct MgmtInfo {
    /// The registered interfaces.
    pub interfaces: Vec<SyntaxId>,
    /// Counters.
    pub stats: Arc<Stats>,
    /// Principal name per auth type (`inq_princ_name`).
    pub principals: Vec<(u8, String)>,
}

/// The mgmt handler.
#[must_use]
pub fn handler(info: Arc<MgmtInfo>) -> Dispatch {
    let i1 = info.clone();
    let i2 = info.clone();
    let i3 = info;
    Dispatch::new()
        .op::<InqIfIds, _, _>(move |_, _| {
            let info = i1.clone();
            async move {
                let ids = info.interfaces.iter().map(|s| RpcIfId {
                    uuid: s.uuid,
                    vers_major: s.version_major,
                    vers_minor: s.version_minor,
                });
                let v = RpcIfIdVector::new(ids).ok_or(Status::NCA_S_FAULT_REMOTE_NO_MEMORY)?;
                Ok(InqIfIdsOut { if_id_vector: Some(v), result: 0 })
            }
        })
        // C706 appendix Q declares `[in,out] unsigned32 *count` (impacket sends those 4 bytes); Samba's IDL adds
        // an `[in] uint32 unknown` (8 bytes). Only the leading count matters: read it in the request's byte order.
        .raw_op(InqStats::OPNUM, move |ctx, stub| {
            let info = i2.clone();
            async move {
                let Some(head) = stub.get(..4).and_then(|b| <[u8; 4]>::try_from(b).ok()) else {
                    return CallOutcome::Fault(Status::NCA_S_FAULT_NDR);
                };
                let big = ctx.drep.byte_order() == Some(dcom_pdu::ByteOrder::Big);
                let max_count = if big { u32::from_be_bytes(head) } else { u32::from_le_bytes(head) };
                let s = &info.stats;
                let all = [
                    s.calls_in.load(Ordering::Relaxed),
                    s.calls_out.load(Ordering::Relaxed),
                    s.pkts_in.load(Ordering::Relaxed),
                    s.pkts_out.load(Ordering::Relaxed),
                ];
                let n = usize::try_from(max_count.min(4)).unwrap_or(4);
                let values: Vec<u32> = all.iter().take(n).map(|v| u32::try_from(*v).unwrap_or(u32::MAX)).collect();
                let count = u32::try_from(values.len()).unwrap_or(0);
                let out = InqStatsOut { statistics: Statistics { count, statistics: ConfArray(values) }, result: 0 };
                match dcom_ndr::encode(&out, response_ndr_context(&ctx)) {
                    Ok(b) => CallOutcome::Response(Bytes::from(b)),
                    Err(_) => CallOutcome::Fault(Status::NCA_S_FAULT_NDR),
                }
            }
        })
        .op::<IsServerListening, _, _>(|_, _| async move { Ok(IsServerListeningOut { status: 0, result: 1 }) })
        .op::<StopServerListening, _, _>(
            |_, _| async move { Ok(StopServerListeningOut { result: RPC_S_ACCESS_DENIED }) },
        )
        .op::<InqPrincName, _, _>(move |_, req| {
            let info = i3.clone();
            async move {
                let name =
                    info.principals.iter().find(|(t, _)| u32::from(*t) == req.authn_proto).map(|(_, n)| n.clone());
                let out = match name {
                    Some(n) => InqPrincNameOut::new(&n, req.princ_name_size, 0),
                    None => InqPrincNameOut::new("", req.princ_name_size, RPC_S_UNKNOWN_AUTHN_SERVICE),
                };
                // A buffer too small for the name (C706: rpc_s_insufficient_buffer would be next; keep it simple).
                out.or_else(|| InqPrincNameOut::new("", req.princ_name_size.max(1), 122)).ok_or(Status::NCA_S_FAULT_NDR)
            }
        })
}
