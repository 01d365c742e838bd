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

use crate::Dispatch;

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
        .op::<InqStats, _, _>(move |_, req| {
            let info = i2.clone();
            async move {
                let s = &info.stats;
                let all = [
                    s.calls_in.load(Ordering::Relaxed),
                    s.calls_out.load(Ordering::Relaxed),
                    s.pkts_in.load(Ordering::Relaxed),
                    s.pkts_out.load(Ordering::Relaxed),
                ];
                let n = usize::try_from(req.max_count.min(4)).unwrap_or(4);
                let values: Vec<u32> = all.iter().take(n).map(|v| u32::try_from(*v).unwrap_or(u32::MAX)).collect();
                let count = u32::try_from(values.len()).unwrap_or(0);
                Ok(InqStatsOut { statistics: Statistics { count, statistics: ConfArray(values) }, result: 0 })
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
