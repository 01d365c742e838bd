//! In-memory tests of the Schannel-equivalent provider: handshakes, mapping, protection, interop.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test helpers outside #[test] functions fail loudly")]

mod handshake;
mod interop;
mod mapping;
mod props;
mod protection;

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use dcom_auth::{AuthError, ClientContext, ClientRequirements, Protection, ProtectionConfig, ServerContext, Step};
use dcom_pdu::{AuthLevel, AuthType, AuthVerifier, Pdu, PduBody, PfcFlags, Request, Response, auth_pad_len};
use dcom_schannel::generate::{ClientCertSpec, IssuedCert, TestCa};
use dcom_schannel::{
    CertificateMapper, ClientCertPolicy, ClientOptions, SchannelClient, SchannelClientConfig, SchannelServer,
    SchannelServerConfig, ServerOptions, SubjectCnMapper, TlsVersions,
};

pub const SERVER_NAME: &str = "rpc.example.com";

#[derive(Debug)]
/// One CA with a server certificate, two client certificates, and an unrelated CA with its own client.
pub struct Pki {
    pub ca: TestCa,
    pub server: IssuedCert,
    /// CN alice, UPN alice@example.com.
    pub alice: IssuedCert,
    /// CN bob, no UPN.
    pub bob: IssuedCert,
    /// A client certificate from another CA (CN mallory).
    pub rogue: IssuedCert,
}

pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca = TestCa::new("dcom-schannel test CA").unwrap();
        let server = ca.issue_server(SERVER_NAME).unwrap();
        let alice = ca.issue_client(&ClientCertSpec::new("alice", Some("alice@example.com"))).unwrap();
        let bob = ca.issue_client(&ClientCertSpec::new("bob", None)).unwrap();
        let other = TestCa::new("rogue CA").unwrap();
        let rogue = other.issue_client(&ClientCertSpec::new("mallory", Some("mallory@example.com"))).unwrap();
        Pki { ca, server, alice, bob, rogue }
    })
}

pub fn server_config_with(
    policy: ClientCertPolicy,
    mapper: Arc<dyn CertificateMapper>,
    versions: TlsVersions,
) -> SchannelServerConfig {
    let mut o = ServerOptions::new(pki().server.certified_key(), policy, mapper);
    o.versions = versions;
    SchannelServerConfig::new(o).unwrap()
}

/// A server requiring a client certificate from the test CA, mapping by CN into EXAMPLE.
pub fn server_config(versions: TlsVersions) -> SchannelServerConfig {
    server_config_with(
        ClientCertPolicy::Required(vec![pki().ca.cert().clone()]),
        Arc::new(SubjectCnMapper::new(Some("EXAMPLE"))),
        versions,
    )
}

pub fn client_config(cert: Option<&IssuedCert>, versions: TlsVersions) -> SchannelClientConfig {
    let mut o = ClientOptions::new(vec![pki().ca.cert().clone()], cert.map(IssuedCert::certified_key));
    o.versions = versions;
    SchannelClientConfig::new(o).unwrap()
}

pub fn requirements() -> ClientRequirements {
    ClientRequirements { target_name: format!("host/{SERVER_NAME}"), ..ClientRequirements::default() }
}

pub fn client(config: &SchannelClientConfig) -> SchannelClient {
    SchannelClient::new(config, &requirements(), AuthLevel::PKT_PRIVACY).unwrap()
}

pub fn server(config: &SchannelServerConfig) -> SchannelServer {
    SchannelServer::new(config, AuthLevel::PKT_PRIVACY).unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// Drives the legs as the RPC layer would: bind, bind_ack, alter_context, alter_context_resp (MS-RPCE
/// 2.2.1.1.7, even legs). Returns the tokens in order (an empty token for an alter_context_resp without one).
pub fn run_handshake(
    client: &mut dyn ClientContext,
    server: &mut dyn ServerContext,
) -> Result<Vec<Vec<u8>>, (Side, AuthError)> {
    let mut legs = Vec::new();
    let mut c_step = client.step(None).map_err(|e| (Side::Client, e))?;
    loop {
        let token = match c_step {
            Step::Continue { token } | Step::Complete { token: Some(token) } => token,
            Step::Complete { token: None } => break,
            Step::NeedsKdc(_) => panic!("tls asked for a kdc"),
        };
        legs.push(token.clone());
        match server.step(&token).map_err(|e| (Side::Server, e))? {
            Step::Continue { token } | Step::Complete { token: Some(token) } => {
                legs.push(token.clone());
                c_step = client.step(Some(&token)).map_err(|e| (Side::Client, e))?;
            }
            Step::Complete { token: None } => {
                // the alter_context_resp of the last leg carries no token
                legs.push(Vec::new());
                assert!(client.is_complete(), "client must be complete when the server completes without a token");
                let s = client.step(Some(&[])).map_err(|e| (Side::Client, e))?;
                assert_eq!(s, Step::Complete { token: None });
                break;
            }
            Step::NeedsKdc(_) => panic!("tls asked for a kdc"),
        }
    }
    assert!(client.is_complete() && server.is_complete());
    Ok(legs)
}

/// A completed pair (client certificate alice).
pub fn pair(versions: TlsVersions) -> (SchannelClient, SchannelServer) {
    let mut c = client(&client_config(Some(&pki().alice), versions));
    let mut s = server(&server_config(versions));
    run_handshake(&mut c, &mut s).unwrap();
    (c, s)
}

pub fn prot_config(header_sign: bool) -> ProtectionConfig {
    ProtectionConfig { auth_type: AuthType::GSS_SCHANNEL, level: AuthLevel::PKT_PRIVACY, context_id: 7, header_sign }
}

pub fn protections(versions: TlsVersions, header_sign: bool) -> (Protection, Protection) {
    let (mut c, mut s) = pair(versions);
    let cp = Protection::for_context(&mut c, prot_config(header_sign)).unwrap();
    let sp = Protection::for_context(&mut s, prot_config(header_sign)).unwrap();
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
    let t = prot.auth_template().unwrap();
    let pad = auth_pad_len(stub.len(), t.size.pad_align);
    let value = Bytes::from(vec![0u8; usize::from(t.size.auth_len)]);
    pdu = pdu.with_auth(AuthVerifier::new(t.auth_type, t.auth_level, t.auth_context_id, pad, value));
    pdu.to_bytes().unwrap()
}

pub fn stub(n: usize) -> Vec<u8> {
    (0..n).map(|i| u8::try_from(i % 251).unwrap()).collect()
}

pub const VERSIONS: [TlsVersions; 2] = [TlsVersions::Tls13Only, TlsVersions::Tls12Only];
