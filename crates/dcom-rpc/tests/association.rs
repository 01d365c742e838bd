//! Our client association against our server association, in memory, for every level the built-in providers
//! have, with fragmentation, concurrency, several security contexts and the failure paths.
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "test helpers outside #[test] functions fail loudly")]

use std::sync::Arc;

use bytes::Bytes;
use dcom_auth::none::{NoneClient, NoneServer};
use dcom_auth::ntlm::{NtlmClient, NtlmClientCredentials, NtlmServer, NtlmServerConfig};
use dcom_auth::{ClientContext, ClientRequirements, InMemoryStore, ServerContext};
use dcom_pdu::{AuthLevel, AuthType, RejectReason, Status, SyntaxId};
use dcom_rpc::client::{Bound, ClientConfig, ClientConnection, ClientEvent, ClientSecurity, PresentationContext};
use dcom_rpc::server::{
    CallOutcome, InterfaceEntry, SecurityPolicy, ServerConfig, ServerConnection, ServerEvent, ServerHooks,
};
use dcom_rpc::{AssociationGroups, CallError, CloseReason};
use uuid::uuid;

const ECHO: SyntaxId = SyntaxId::new(uuid!("60a15ec5-4de8-11d7-a637-005056a20182"), 1, 0);
const SECURE: SyntaxId = SyntaxId::new(uuid!("11111111-2222-3333-4444-555555555555"), 1, 0);

#[derive(Debug)]
struct Hooks {
    store: Arc<InMemoryStore>,
}

impl ServerHooks for Hooks {
    fn interface(&self, s: &SyntaxId) -> Option<InterfaceEntry> {
        if s.uuid == ECHO.uuid && s.version_major == 1 {
            return Some(InterfaceEntry { syntax: ECHO, ndr64: true, opnums: 2, policy: None });
        }
        if s.uuid == SECURE.uuid {
            let policy = SecurityPolicy { min_level: AuthLevel::PKT_PRIVACY, ..SecurityPolicy::default() };
            return Some(InterfaceEntry { syntax: SECURE, ndr64: false, opnums: 1, policy: Some(policy) });
        }
        None
    }
    fn security_context(&self, t: AuthType, _level: AuthLevel) -> Option<Box<dyn ServerContext>> {
        match t {
            AuthType::NONE => Some(Box::new(NoneServer::new())),
            AuthType::WINNT => Some(Box::new(NtlmServer::new(NtlmServerConfig::new(self.store.clone())).ok()?)),
            _ => None,
        }
    }
}

struct Pair {
    client: ClientConnection,
    server: ServerConnection,
    server_closed: Option<CloseReason>,
    client_closed: Option<CloseReason>,
    calls_seen: Vec<dcom_rpc::server::IncomingCall>,
    auto_answer: bool,
}

fn hooks() -> Arc<Hooks> {
    let mut store = InMemoryStore::new();
    store.add_password(Some("DEMO"), "alice", "Passw0rd!Alice");
    Arc::new(Hooks { store: Arc::new(store) })
}

fn pair_with(config: ServerConfig, groups: Arc<AssociationGroups>, assoc: u32) -> Pair {
    Pair {
        client: ClientConnection::new(ClientConfig::default(), assoc),
        server: ServerConnection::new(Arc::new(config), hooks(), groups),
        server_closed: None,
        client_closed: None,
        calls_seen: Vec::new(),
        auto_answer: true,
    }
}

fn pair() -> Pair {
    pair_with(ServerConfig::default(), Arc::new(AssociationGroups::new(0x1000)), 0)
}

impl Pair {
    /// Moves bytes both ways until nothing moves; the server echoes opnum 0 and reverses for opnum 1.
    fn pump(&mut self) -> Vec<ClientEvent> {
        let mut events = Vec::new();
        for _ in 0..64 {
            let c2s = self.client.take_output();
            if !c2s.is_empty() && self.server_closed.is_none() {
                // Feed in odd-sized pieces to exercise framing.
                for chunk in c2s.chunks(777) {
                    if let Err(e) = self.server.receive(chunk) {
                        self.server_closed = Some(e);
                        break;
                    }
                }
            }
            while let Some(ev) = self.server.poll_event() {
                if let ServerEvent::Call(call) = ev {
                    self.calls_seen.push((*call).clone());
                    if self.auto_answer {
                        let out = if call.opnum == 1 {
                            let mut v = call.stub.to_vec();
                            v.reverse();
                            Bytes::from(v)
                        } else {
                            call.stub.clone()
                        };
                        self.server.respond(call.call_id, CallOutcome::Response(out)).unwrap();
                    }
                }
            }
            let s2c = self.server.take_output();
            if !s2c.is_empty()
                && self.client_closed.is_none()
                && let Err(e) = self.client.receive(&s2c)
            {
                self.client_closed = Some(e);
            }
            while let Some(ev) = self.client.poll_event() {
                events.push(ev);
            }
            if c2s.is_empty() && s2c.is_empty() {
                break;
            }
        }
        if let Some(r) = self.server_closed.clone() {
            self.client.closed(r);
            while let Some(ev) = self.client.poll_event() {
                events.push(ev);
            }
        }
        events
    }

    fn bind(&mut self, ifaces: &[SyntaxId], ndr64: bool, sec: Option<ClientSecurity>) -> Result<Bound, CallError> {
        self.client.bind(ifaces, ndr64, sec).unwrap();
        self.expect_bound()
    }

    fn expect_bound(&mut self) -> Result<Bound, CallError> {
        let events = self.pump();
        events
            .into_iter()
            .find_map(|e| if let ClientEvent::Bound(b) = e { Some(b) } else { None })
            .expect("a bound event")
    }

    fn call(
        &mut self,
        ctx: PresentationContext,
        sec: Option<u32>,
        opnum: u16,
        stub: &[u8],
    ) -> Result<Bytes, CallError> {
        let id = self.client.request(ctx, sec, opnum, None, Bytes::copy_from_slice(stub))?;
        let events = self.pump();
        events
            .into_iter()
            .find_map(|e| match e {
                ClientEvent::Response { call_id, result } if call_id == id => Some(result),
                _ => None,
            })
            .expect("a response")
    }
}

fn ntlm(level: AuthLevel, id: u32, password: &str) -> ClientSecurity {
    let creds = NtlmClientCredentials::with_password("DEMO", "alice", password);
    let ctx: Box<dyn ClientContext> = Box::new(NtlmClient::new(&creds, ClientRequirements::default()).unwrap());
    ClientSecurity { context: ctx, level, context_id: id }
}

fn none_sec(id: u32) -> ClientSecurity {
    ClientSecurity { context: Box::new(NoneClient::new()), level: AuthLevel::CONNECT, context_id: id }
}

#[test]
fn unauthenticated_bind_and_calls_with_ndr64_choice() {
    let mut p = pair();
    let bound = p.bind(&[ECHO, SECURE], true, None).unwrap();
    let echo = bound.contexts[0].1.unwrap();
    assert!(echo.ndr64, "the server supports NDR64 for ECHO and must choose it");
    let secure = bound.contexts[1].1.unwrap();
    assert!(!secure.ndr64);
    assert_eq!(bound.btfn.0, 0x03, "both bind-time features acknowledged");
    assert_eq!(bound.assoc_group, 0x1000);
    assert_eq!(&p.call(echo, None, 0, b"hello").unwrap()[..], b"hello");
    assert_eq!(&p.call(echo, None, 1, b"abc").unwrap()[..], b"cba");
    // The policy of SECURE wants privacy.
    assert_eq!(
        p.call(secure, None, 0, b"x").unwrap_err(),
        CallError::Fault { status: Status::RPC_S_ACCESS_DENIED, did_not_execute: true }
    );
    // Unknown opnum.
    assert_eq!(
        p.call(echo, None, 7, b"x").unwrap_err(),
        CallError::Fault { status: Status::NCA_S_OP_RNG_ERROR, did_not_execute: true }
    );
    let seen = &p.calls_seen[0];
    assert!(seen.security.identity.anonymous);
    assert_eq!(seen.security.level, AuthLevel::NONE);
}

#[test]
fn unknown_interface_is_rejected_in_bind_ack() {
    let mut p = pair();
    let other = SyntaxId::new(uuid!("99999999-2222-3333-4444-555555555555"), 1, 0);
    let bound = p.bind(&[other, ECHO], false, None).unwrap();
    assert!(bound.contexts[0].1.is_none());
    assert!(bound.contexts[1].1.is_some());
}

#[test]
fn ntlm_every_level_with_and_without_header_signing() {
    for level in [AuthLevel::CONNECT, AuthLevel::PKT, AuthLevel::PKT_INTEGRITY, AuthLevel::PKT_PRIVACY] {
        for header_signing in [true, false] {
            let mut p = pair();
            p.client = ClientConnection::new(ClientConfig { header_signing, ..ClientConfig::default() }, 0);
            let bound = p.bind(&[ECHO, SECURE], false, Some(ntlm(level, 7, "Passw0rd!Alice"))).unwrap();
            assert_eq!(bound.header_signing, header_signing);
            let echo = bound.contexts[0].1.unwrap();
            let secure = bound.contexts[1].1.unwrap();
            let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
            assert_eq!(p.call(echo, Some(7), 0, &big).unwrap(), big, "level {level:?}");
            let call = p.calls_seen.last().unwrap();
            assert_eq!(call.security.identity.principal, "DEMO\\alice");
            assert_eq!(call.security.level, level);
            assert_eq!(call.security.auth_type, AuthType::WINNT);
            assert_eq!(call.security.context_id, Some(7));
            let r = p.call(secure, Some(7), 0, b"sss!");
            if level == AuthLevel::PKT_PRIVACY {
                assert_eq!(&r.unwrap()[..], b"sss!");
            } else {
                assert!(matches!(r, Err(CallError::Fault { status: Status::RPC_S_ACCESS_DENIED, .. })));
            }
        }
    }
}

#[test]
fn wrong_password_fails_the_connection() {
    let mut p = pair();
    let bound = p.bind(&[ECHO], false, Some(ntlm(AuthLevel::PKT_PRIVACY, 1, "wrong"))).unwrap();
    // NTLM's last leg is an rpc_auth_3 without reply: the failure shows on the first call.
    let echo = bound.contexts[0].1.unwrap();
    let r = p.call(echo, Some(1), 0, b"x");
    assert!(matches!(r, Err(CallError::ConnectionLost(CloseReason::Security(_)))), "{r:?}");
    assert!(matches!(p.server_closed, Some(CloseReason::Security(_))));
}

#[test]
fn many_calls_in_flight_answered_in_reverse_order() {
    let mut p = pair();
    p.auto_answer = false;
    let bound = p.bind(&[ECHO], false, Some(ntlm(AuthLevel::PKT_PRIVACY, 3, "Passw0rd!Alice"))).unwrap();
    let echo = bound.contexts[0].1.unwrap();
    let mut ids = Vec::new();
    for i in 0..32u32 {
        ids.push(p.client.request(echo, Some(3), 0, None, Bytes::from(i.to_le_bytes().to_vec())).unwrap());
    }
    p.pump();
    assert_eq!(p.calls_seen.len(), 32);
    let calls: Vec<_> = p.calls_seen.drain(..).collect();
    for call in calls.iter().rev() {
        p.server.respond(call.call_id, CallOutcome::Response(call.stub.clone())).unwrap();
    }
    let events = p.pump();
    let mut got = 0;
    for e in events {
        if let ClientEvent::Response { call_id, result } = e {
            let idx = ids.iter().position(|i| *i == call_id).unwrap();
            assert_eq!(&result.unwrap()[..], &u32::try_from(idx).unwrap().to_le_bytes());
            got += 1;
        }
    }
    assert_eq!(got, 32);
}

#[test]
fn second_security_context_with_alter_context() {
    let mut p = pair();
    let bound = p.bind(&[ECHO], false, Some(ntlm(AuthLevel::PKT_INTEGRITY, 1, "Passw0rd!Alice"))).unwrap();
    let echo = bound.contexts[0].1.unwrap();
    p.client.alter_context(&[SECURE], false, Some(ntlm(AuthLevel::PKT_PRIVACY, 2, "Passw0rd!Alice"))).unwrap();
    let b2 = p.expect_bound().unwrap();
    let secure = b2.contexts[0].1.unwrap();
    assert_eq!(b2.security_context, Some(2));
    assert_eq!(&p.call(echo, Some(1), 0, b"one!").unwrap()[..], b"one!");
    assert_eq!(&p.call(secure, Some(2), 0, b"two!").unwrap()[..], b"two!");
    assert_eq!(p.calls_seen.last().unwrap().security.level, AuthLevel::PKT_PRIVACY);
    // Context 1 is integrity: SECURE refuses it.
    assert!(matches!(
        p.call(secure, Some(1), 0, b"x"),
        Err(CallError::Fault { status: Status::RPC_S_ACCESS_DENIED, .. })
    ));
}

#[test]
fn none_provider_connect_level_and_association_group_join() {
    let groups = Arc::new(AssociationGroups::new(42));
    let mut p = pair_with(ServerConfig::default(), groups.clone(), 0);
    let b = p.bind(&[ECHO], false, Some(none_sec(5))).unwrap();
    assert_eq!(b.assoc_group, 42);
    let mut q = pair_with(ServerConfig::default(), groups.clone(), 42);
    let b2 = q.bind(&[ECHO], false, None).unwrap();
    assert_eq!(b2.assoc_group, 42);
    assert_eq!(groups.members(42), 2);
    let mut r = pair_with(ServerConfig::default(), groups.clone(), 4242);
    r.client.bind(&[ECHO], false, None).unwrap();
    let err = r.expect_bound().unwrap_err();
    assert_eq!(err, CallError::ConnectionLost(CloseReason::BindRejected(RejectReason::NOT_SPECIFIED)));
}

#[test]
fn in_flight_limit_gives_server_too_busy_and_keeps_the_connection() {
    let config = ServerConfig { max_calls_in_flight: 2, ..ServerConfig::default() };
    let mut p = pair_with(config, Arc::new(AssociationGroups::new(1)), 0);
    p.auto_answer = false;
    let echo = p.bind(&[ECHO], false, None).unwrap().contexts[0].1.unwrap();
    for _ in 0..3 {
        p.client.request(echo, None, 0, None, Bytes::from_static(b"x")).unwrap();
    }
    let events = p.pump();
    let busy = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                ClientEvent::Response {
                    result: Err(CallError::Fault { status: Status::RPC_S_SERVER_TOO_BUSY, .. }),
                    ..
                }
            )
        })
        .count();
    assert_eq!(busy, 1);
    assert!(p.server_closed.is_none());
}

#[test]
fn cancel_resolves_the_call_at_once() {
    let mut p = pair();
    p.auto_answer = false;
    let echo = p.bind(&[ECHO], false, None).unwrap().contexts[0].1.unwrap();
    let id = p.client.request(echo, None, 0, None, Bytes::from_static(b"x")).unwrap();
    p.pump();
    p.client.cancel(id);
    let events = p.pump();
    assert!(
        events.iter().any(
            |e| matches!(e, ClientEvent::Response { call_id, result: Err(CallError::Cancelled) } if *call_id == id)
        )
    );
    // The late answer is dropped without error.
    let call = p.calls_seen[0].clone();
    p.server.respond(call.call_id, CallOutcome::Response(Bytes::from_static(b"late"))).unwrap();
    let events = p.pump();
    assert!(events.is_empty());
    assert!(p.client_closed.is_none());
}

#[test]
fn connect_context_refuses_a_verifier_claiming_another_level() {
    use dcom_pdu::{AuthVerifier, Pdu, PduBody, PfcFlags, Request};
    let mut p = pair();
    let bound = p.bind(&[ECHO], false, Some(ntlm(AuthLevel::CONNECT, 7, "Passw0rd!Alice"))).unwrap();
    let echo = bound.contexts[0].1.unwrap();
    assert_eq!(&p.call(echo, None, 0, b"ok!!").unwrap()[..], b"ok!!");
    let before = p.calls_seen.len();
    // MS-RPCE 2.2.2.11: the sec_trailer of a request must repeat the context's level; PKT_INTEGRITY on a
    // CONNECT context (with a zero "signature" nobody checks) must not execute.
    let body = PduBody::Request(Request {
        alloc_hint: 4,
        p_cont_id: echo.id,
        opnum: 0,
        object: None,
        stub: Bytes::from_static(b"evil"),
    });
    let forged = Pdu::new(99, PfcFlags::FIRST_AND_LAST, body).with_auth(AuthVerifier::new(
        AuthType::WINNT,
        AuthLevel::PKT_INTEGRITY,
        7,
        12,
        Bytes::from(vec![0u8; 16]),
    ));
    let r = p.server.receive(&forged.to_bytes().unwrap());
    assert!(matches!(r, Err(CloseReason::Protocol { status: Some(Status::RPC_S_ACCESS_DENIED), .. })), "{r:?}");
    while let Some(ev) = p.server.poll_event() {
        assert!(!matches!(ev, ServerEvent::Call(_)), "the forged request was dispatched");
    }
    assert_eq!(p.calls_seen.len(), before);
}

/// The verification trailer of each request at PKT_INTEGRITY (the stub travels in clear there), read from the
/// client's bytes before the server gets them: `(bitmask1, pcontext, header2)` present.
fn vt_in(out: &[u8]) -> Option<dcom_pdu::VerificationTrailer> {
    let pdu = dcom_pdu::Pdu::decode(Bytes::copy_from_slice(out)).unwrap();
    let req = match pdu.body {
        dcom_pdu::PduBody::Request(r) => Some(r),
        _ => None,
    }
    .expect("a request pdu");
    dcom_pdu::VerificationTrailer::find(&req.stub, dcom_pdu::ByteOrder::Little).unwrap().map(|(_, vt)| vt)
}

fn vt_of_next_request(p: &mut Pair, ctx: PresentationContext, sec: u32, stub: &[u8]) -> (bool, bool, bool) {
    let id = p.client.request(ctx, Some(sec), 0, None, Bytes::copy_from_slice(stub)).unwrap();
    let out = p.client.take_output();
    let vt = vt_in(&out);
    p.server.receive(&out).unwrap();
    let events = p.pump();
    let answered =
        events.iter().any(|e| matches!(e, ClientEvent::Response { call_id, result: Ok(_) } if *call_id == id));
    assert!(answered, "call {id} answered");
    vt.map_or((false, false, false), |vt| (vt.bitmask1().is_some(), vt.pcontext().is_some(), vt.header2().is_some()))
}

/// [MS-RPCE 2.2.2.13, 3.3.1.5.2.2]: bitmask1 and pcontext go on requests until a response under the context shows
/// the server checked them (Windows and Samba send them on the first request only); header2 goes on every request
/// whose header is not signed, and never once header signing is negotiated.
#[test]
fn verification_trailer_until_verified_and_header2_only_without_header_signing() {
    for header_signing in [true, false] {
        let mut p = pair();
        p.client = ClientConnection::new(ClientConfig { header_signing, ..ClientConfig::default() }, 0);
        let bound = p.bind(&[ECHO, SECURE], false, Some(ntlm(AuthLevel::PKT_INTEGRITY, 3, "Passw0rd!Alice"))).unwrap();
        assert_eq!(bound.header_signing, header_signing);
        let echo = bound.contexts[0].1.unwrap();
        let first = vt_of_next_request(&mut p, echo, 3, b"one!");
        assert_eq!(first, (header_signing, true, !header_signing), "first request, header signing {header_signing}");
        let second = vt_of_next_request(&mut p, echo, 3, b"two!");
        assert_eq!(second, (false, false, !header_signing), "second request, header signing {header_signing}");
        // Another presentation context under the same security context: its pcontext is new, bitmask1 is not.
        let secure = bound.contexts[1].1.unwrap();
        p.client.request(secure, Some(3), 0, None, Bytes::from_static(b"deny")).unwrap();
        let out = p.client.take_output();
        let vt = vt_in(&out).expect("a verification trailer");
        assert!(vt.pcontext().is_some() && vt.bitmask1().is_none());
        // SECURE wants privacy: a fault does not verify the pcontext, the next request carries it again.
        p.server.receive(&out).unwrap();
        p.pump();
        p.client.request(secure, Some(3), 0, None, Bytes::from_static(b"deny")).unwrap();
        let vt = vt_in(&p.client.take_output()).expect("a verification trailer");
        assert!(vt.pcontext().is_some(), "pcontext again after a fault");
    }
}
