//! Our tokio client against our tokio server over loopback TCP.
#![expect(clippy::unwrap_used, reason = "test helpers outside #[test] functions fail loudly")]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dcom_auth::ntlm::{NtlmClient, NtlmClientCredentials, NtlmServer, NtlmServerConfig};
use dcom_auth::{ClientRequirements, InMemoryStore};
use dcom_pdu::{AuthLevel, AuthType, Status, SyntaxId};
use dcom_rpc::CallError;
use dcom_rpc::client::ClientSecurity;
use dcom_rpc::server::CallOutcome;
use dcom_tokio::server::{CallContext, HandlerFuture};
use dcom_tokio::{ConnectOptions, Connection, ServerBuilder};
use tokio::net::TcpListener;
use uuid::uuid;

const ECHO: SyntaxId = SyntaxId::new(uuid!("60a15ec5-4de8-11d7-a637-005056a20182"), 1, 0);

fn handler(ctx: CallContext, stub: Bytes) -> HandlerFuture {
    Box::pin(async move {
        match ctx.opnum {
            0 => CallOutcome::Response(stub),
            1 => {
                // Sleep until cancelled or 5 s.
                let mut c = ctx.cancelled.clone();
                tokio::select! {
                    _ = c.changed() => CallOutcome::Fault(Status::NCA_S_FAULT_CANCEL),
                    () = tokio::time::sleep(Duration::from_secs(5)) => CallOutcome::Response(Bytes::new()),
                }
            }
            _ => CallOutcome::Response(Bytes::from(ctx.security.identity.principal.into_bytes())),
        }
    })
}

async fn server() -> dcom_tokio::RunningServer {
    let mut store = InMemoryStore::new();
    store.add_password(Some("DEMO"), "alice", "Passw0rd!Alice");
    let store = Arc::new(store);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ServerBuilder::new()
        .interface(ECHO, 3, false, None, Arc::new(handler))
        .provider(
            AuthType::WINNT,
            Arc::new(move |_level| {
                NtlmServer::new(NtlmServerConfig::new(store.clone())).ok().map(|s| Box::new(s) as _)
            }),
        )
        .serve(listener)
        .unwrap()
}

fn ntlm(id: u32) -> ClientSecurity {
    let creds = NtlmClientCredentials::with_password("DEMO", "alice", "Passw0rd!Alice");
    ClientSecurity {
        context: Box::new(NtlmClient::new(&creds, ClientRequirements::default()).unwrap()),
        level: AuthLevel::PKT_PRIVACY,
        context_id: id,
    }
}

#[tokio::test]
async fn ntlm_privacy_calls_concurrent_and_fragmented() {
    let srv = server().await;
    let conn = Connection::connect(srv.local_addr(), ConnectOptions::default()).await.unwrap();
    let bound = conn.bind(&[ECHO], false, Some(ntlm(1))).await.unwrap();
    let ctx = bound.contexts[0].1.unwrap();
    let who = conn.call(ctx, Some(1), 2, None, Bytes::new(), None).await.unwrap();
    assert!(who.starts_with(b"DEMO\\alice"));
    let mut futs = Vec::new();
    for i in 0..32u32 {
        let c = conn.clone();
        futs.push(tokio::spawn(async move {
            let stub = Bytes::from(vec![u8::try_from(i).unwrap(); 20_000 + i as usize * 4]);
            let r = c.call(ctx, Some(1), 0, None, stub.clone(), Some(Duration::from_secs(10))).await.unwrap();
            assert_eq!(r, stub);
        }));
    }
    for f in futs {
        f.await.unwrap();
    }
    // Second connection in the same association group.
    let opts = ConnectOptions { assoc_group: bound.assoc_group, ..ConnectOptions::default() };
    let conn2 = Connection::connect(srv.local_addr(), opts).await.unwrap();
    let b2 = conn2.bind(&[ECHO], false, None).await.unwrap();
    assert_eq!(b2.assoc_group, bound.assoc_group);
    srv.shutdown().await;
}

#[tokio::test]
async fn timeout_cancel_and_lost_connection() {
    let srv = server().await;
    let conn = Connection::connect(srv.local_addr(), ConnectOptions::default()).await.unwrap();
    let ctx = conn.bind(&[ECHO], false, None).await.unwrap().contexts[0].1.unwrap();
    let r = conn.call(ctx, None, 1, None, Bytes::new(), Some(Duration::from_millis(100))).await;
    assert_eq!(r.unwrap_err(), CallError::TimedOut);
    // Dropping a call future cancels it; the connection stays usable.
    let c2 = conn.clone();
    let pending = tokio::spawn(async move { c2.call(ctx, None, 1, None, Bytes::new(), None).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    pending.abort();
    assert_eq!(&conn.call(ctx, None, 0, None, Bytes::from_static(b"ok"), None).await.unwrap()[..], b"ok");
    // Graceful shutdown finishes the call in flight, then the connection ends and later calls fail.
    let c3 = conn.clone();
    let waiting = tokio::spawn(async move { c3.call(ctx, None, 1, None, Bytes::new(), None).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    srv.shutdown().await;
    let r = tokio::time::timeout(Duration::from_secs(20), waiting).await.unwrap().unwrap();
    assert_eq!(r.unwrap(), Bytes::new(), "the call in flight completes during graceful shutdown");
    let r = conn.call(ctx, None, 0, None, Bytes::from_static(b"late"), Some(Duration::from_secs(5))).await;
    assert!(matches!(r, Err(CallError::ConnectionLost(_))), "{r:?}");
}

/// [`ConnectOptions::busy_poll`]: responses read by spinning on the socket, responses that come after the budget
/// read through the reactor, calls in flight and fragmented both ways, a timeout, and the end of the connection
/// noticed while spinning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_poll_reads_responses_within_and_after_the_budget() {
    let srv = server().await;
    let opts = ConnectOptions { busy_poll: Some(Duration::from_micros(200)), ..ConnectOptions::default() };
    let conn = Connection::connect(srv.local_addr(), opts).await.unwrap();
    let ctx = conn.bind(&[ECHO], false, Some(ntlm(1))).await.unwrap().contexts[0].1.unwrap();
    for i in 0..200u32 {
        let stub = Bytes::from(i.to_le_bytes().to_vec());
        assert_eq!(conn.call(ctx, Some(1), 0, None, stub.clone(), None).await.unwrap(), stub);
    }
    let mut futs = Vec::new();
    for i in 0..16u32 {
        let c = conn.clone();
        futs.push(tokio::spawn(async move {
            let stub = Bytes::from(vec![u8::try_from(i).unwrap(); 30_000 + i as usize]);
            let r = c.call(ctx, Some(1), 0, None, stub.clone(), Some(Duration::from_secs(10))).await.unwrap();
            assert_eq!(r, stub);
        }));
    }
    for f in futs {
        f.await.unwrap();
    }
    // Longer than the budget: the spin gives up, the reactor delivers the timeout and the connection goes on.
    let r = conn.call(ctx, Some(1), 1, None, Bytes::new(), Some(Duration::from_millis(50))).await;
    assert_eq!(r.unwrap_err(), CallError::TimedOut);
    assert_eq!(&conn.call(ctx, Some(1), 0, None, Bytes::from_static(b"ok"), None).await.unwrap()[..], b"ok");
    let c2 = conn.clone();
    let waiting = tokio::spawn(async move { c2.call(ctx, Some(1), 1, None, Bytes::new(), None).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    srv.shutdown().await;
    let r = tokio::time::timeout(Duration::from_secs(20), waiting).await.unwrap().unwrap();
    assert_eq!(r.unwrap(), Bytes::new(), "the call in flight completes during graceful shutdown");
    let r = conn.call(ctx, Some(1), 0, None, Bytes::from_static(b"late"), Some(Duration::from_secs(5))).await;
    assert!(matches!(r, Err(CallError::ConnectionLost(_))), "{r:?}");
}
