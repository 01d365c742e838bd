//! In-memory tests of the providers, the protection layer and the credential stores.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test helpers outside #[test] functions fail loudly")]

mod handshake;
mod props;
mod protection;
mod security;
mod store;
mod trace;

use std::sync::Arc;

use bytes::Bytes;
use dcom_auth::ntlm::{NtlmClient, NtlmClientCredentials, NtlmServer, NtlmServerConfig};
use dcom_auth::{
    AuthError, ClientContext, ClientRequirements, InMemoryStore, Protection, ProtectionConfig, SecurityContext,
    ServerContext, Step,
};
use dcom_pdu::{AuthLevel, AuthType, AuthVerifier, Pdu, PduBody, PfcFlags, Request, Response, auth_pad_len};

pub const DOMAIN: &str = "EXAMPLE";
pub const USER: &str = "alice";
pub const PASSWORD: &str = "S3cret-Pa55word!";

pub fn store() -> Arc<InMemoryStore> {
    let mut s = InMemoryStore::new();
    s.add_password(Some(DOMAIN), USER, PASSWORD);
    s.add_password(None, "bob", "bob-password");
    Arc::new(s)
}

pub fn server_config() -> NtlmServerConfig {
    NtlmServerConfig::new(store())
}

pub fn client(user: &str, password: &str) -> NtlmClient {
    NtlmClient::new(&NtlmClientCredentials::with_password(DOMAIN, user, password), ClientRequirements::default())
        .unwrap()
}

/// Drives the three DCE-style NTLM legs (bind, bind_ack, auth3). Returns the tokens and the server result.
pub fn run_handshake(
    client: &mut dyn ClientContext,
    server: &mut dyn ServerContext,
) -> (Vec<Vec<u8>>, Result<(), AuthError>) {
    let mut tokens = Vec::new();
    let Step::Continue { token: negotiate } = client.step(None).unwrap() else { panic!("negotiate") };
    tokens.push(negotiate.clone());
    let Step::Continue { token: challenge } = server.step(&negotiate).unwrap() else { panic!("challenge") };
    tokens.push(challenge.clone());
    let Step::Complete { token: Some(auth) } = client.step(Some(&challenge)).unwrap() else { panic!("authenticate") };
    tokens.push(auth.clone());
    let r = server.step(&auth).map(|s| assert_eq!(s, Step::Complete { token: None }));
    (tokens, r)
}

/// A completed NTLM client/server pair.
pub fn ntlm_pair() -> (NtlmClient, NtlmServer) {
    let mut c = client(USER, PASSWORD);
    let mut s = NtlmServer::new(server_config()).unwrap();
    let (_, r) = run_handshake(&mut c, &mut s);
    r.unwrap();
    (c, s)
}

pub fn config(level: AuthLevel, header_sign: bool) -> ProtectionConfig {
    ProtectionConfig { auth_type: AuthType::WINNT, level, context_id: 79_231, header_sign }
}

pub fn protections(level: AuthLevel, header_sign: bool) -> (Protection, Protection) {
    let (mut c, mut s) = ntlm_pair();
    let cp = Protection::for_context(&mut c, config(level, header_sign)).unwrap();
    let sp = Protection::for_context(&mut s, config(level, header_sign)).unwrap();
    (cp, sp)
}

/// An encoded request (`response == false`) or response PDU whose verifier matches `prot`.
pub fn frame(prot: &Protection, call_id: u32, stub: &[u8], response: bool) -> Vec<u8> {
    let stub = Bytes::copy_from_slice(stub);
    let alloc_hint = u32::try_from(stub.len()).unwrap();
    let body = if response {
        PduBody::Response(Response { alloc_hint, p_cont_id: 0, cancel_count: 0, reserved: 0, stub: stub.clone() })
    } else {
        PduBody::Request(Request { alloc_hint, p_cont_id: 1, opnum: 7, object: None, stub: stub.clone() })
    };
    let mut pdu = Pdu::new(call_id, PfcFlags::FIRST_AND_LAST, body);
    if let Some(t) = prot.auth_template() {
        let pad = auth_pad_len(stub.len(), t.size.pad_align);
        let value = Bytes::from(vec![0u8; usize::from(t.size.auth_len)]);
        pdu = pdu.with_auth(AuthVerifier::new(t.auth_type, t.auth_level, t.auth_context_id, pad, value));
    }
    pdu.to_bytes().unwrap()
}

pub fn is_complete(ctx: &dyn SecurityContext) -> bool {
    ctx.is_complete()
}
