//! `dcomctl demo`: a server in this process on loopback, our client against it with every provider that needs no
#![expect(clippy::print_stdout, reason = "the command prints its results on stdout")]
//! outside service, at every level; a table of what the server saw.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result};
use bytes::Bytes;
use dcom_auth::ntlm::{NtlmClient, NtlmClientCredentials};
use dcom_auth::{ClientContext, ClientRequirements, InMemoryStore};
use dcom_idl::Operation as _;
use dcom_idl::rpcecho::{EchoData, EchoDataIn};
use dcom_pdu::{AuthLevel, AuthType, SyntaxId};
use dcom_rpc::client::ClientSecurity;
use dcom_rpc::server::CallOutcome;
use dcom_schannel::generate::{ClientCertSpec, DemoPki};
use dcom_schannel::{
    ClientCertPolicy, ClientOptions, SchannelClient, SchannelClientConfig, SchannelServer, SchannelServerConfig,
    ServerOptions as TlsServerOptions, UpnMapper,
};
use dcom_server::setup::{ServerOptions, standard};
use dcom_tokio::server::{CallContext, HandlerFuture};
use dcom_tokio::{ConnectOptions, Connection};
use tokio::net::TcpListener;
use uuid::uuid;

/// The demo account.
pub(crate) const DEMO_DOMAIN: &str = "DEMO";
pub(crate) const DEMO_USER: &str = "alice";
pub(crate) const DEMO_PASSWORD: &str = "Passw0rd!Alice";

/// A small interface of the demo: opnum 0 returns what the server saw of the call, as text.
const WHOAMI: SyntaxId = SyntaxId::new(uuid!("6d6f6564-2d73-7264-636f-6d2d72732d31"), 1, 0);

#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Print one JSON object per call instead of the table.
    #[arg(long)]
    json: bool,
}

fn whoami(ctx: CallContext, _stub: Bytes) -> HandlerFuture {
    Box::pin(async move {
        let s = &ctx.security;
        let text = format!(
            "{}\t{}\t{}\t{:?}\t{}\t{}",
            s.identity.principal,
            provider_name(s.auth_type),
            level_name(s.level),
            s.impersonation,
            s.context_id.map_or_else(|| "-".to_owned(), |c| c.to_string()),
            if s.header_signed { "yes" } else { "no" },
        );
        CallOutcome::Response(Bytes::from(text.into_bytes()))
    })
}

pub(crate) fn provider_name(t: AuthType) -> &'static str {
    match t {
        AuthType::NONE => "none",
        AuthType::WINNT => "ntlm",
        AuthType::SPNEGO => "negotiate",
        AuthType::KERBEROS => "kerberos",
        AuthType::GSS_SCHANNEL => "schannel",
        _ => "other",
    }
}

pub(crate) fn level_name(l: AuthLevel) -> &'static str {
    match l {
        AuthLevel::NONE => "none",
        AuthLevel::CONNECT => "connect",
        AuthLevel::CALL => "call",
        AuthLevel::PKT => "pkt",
        AuthLevel::PKT_INTEGRITY => "integrity",
        AuthLevel::PKT_PRIVACY => "privacy",
        _ => "default",
    }
}

struct Case {
    provider: &'static str,
    level: AuthLevel,
}

fn client_security(case: &Case, pki: &Pki) -> Result<Option<ClientSecurity>> {
    let requirements = ClientRequirements { target_name: "host/localhost".into(), ..ClientRequirements::default() }
        .for_level(case.level);
    let ctx: Box<dyn ClientContext> = match case.provider {
        "none" => return Ok(None),
        "ntlm" => {
            let creds = NtlmClientCredentials::with_password(DEMO_DOMAIN, DEMO_USER, DEMO_PASSWORD);
            Box::new(NtlmClient::new(&creds, requirements)?)
        }
        "negotiate" => crate::providers::spnego_ntlm_client(DEMO_DOMAIN, DEMO_USER, DEMO_PASSWORD, requirements)?,
        "schannel" => Box::new(SchannelClient::new(&pki.client, &requirements, case.level)?),
        other => anyhow::bail!("provider {other} is not available in this build"),
    };
    Ok(Some(ClientSecurity { context: ctx, level: case.level, context_id: 1 }))
}

struct Row {
    provider: &'static str,
    level: AuthLevel,
    outcome: Result<(String, usize, f64), String>,
}

pub(crate) fn run(args: &DemoArgs) -> Result<ExitCode> {
    let rt = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    let rows = rt.block_on(run_cases())?;
    let mut failed = 0;
    if args.json {
        for r in &rows {
            let v = match &r.outcome {
                Ok((seen, bytes, ms)) => {
                    let f: Vec<&str> = seen.split('\t').collect();
                    serde_json::json!({"provider": r.provider, "level": level_name(r.level), "ok": true,
                        "server_saw": {"caller": f.first(), "provider": f.get(1), "level": f.get(2),
                        "impersonation": f.get(3), "context_id": f.get(4), "header_signed": f.get(5)},
                        "echo_bytes": bytes, "ms": ms})
                }
                Err(e) => {
                    serde_json::json!({"provider": r.provider, "level": level_name(r.level), "ok": false, "error": e})
                }
            };
            println!("{v}");
        }
    } else {
        println!("dcomctl demo: server on loopback, demo user {DEMO_DOMAIN}\\{DEMO_USER}; each row is one connection");
        println!("that binds, calls rpcecho EchoData (64 KiB, checked) and asks the server what it saw.\n");
        println!(
            "{:<10} {:<10} | {:<19} {:<10} {:<10} {:<12} {:<4} {:<7} | {:>6} {:>7}",
            "client", "level", "server saw", "provider", "level", "impersonate", "ctx", "hdrsign", "echo", "ms"
        );
        println!("{}", "-".repeat(108));
        for r in &rows {
            match &r.outcome {
                Ok((seen, bytes, ms)) => {
                    let f: Vec<&str> = seen.split('\t').collect();
                    let g = |i: usize| f.get(i).copied().unwrap_or("?");
                    println!(
                        "{:<10} {:<10} | {:<19} {:<10} {:<10} {:<12} {:<4} {:<7} | {:>6} {:>7.2}",
                        r.provider,
                        level_name(r.level),
                        g(0),
                        g(1),
                        g(2),
                        g(3),
                        g(4),
                        g(5),
                        bytes,
                        ms
                    );
                }
                Err(e) => {
                    failed += 1;
                    println!("{:<10} {:<10} | FAILED: {e}", r.provider, level_name(r.level));
                }
            }
        }
        println!("\n{} of {} connections succeeded", rows.len() - failed, rows.len());
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Certificates made for this run: a CA, a server certificate for localhost and a client certificate for
/// alice with UPN alice@demo.example (mapped to the caller by UPN).
struct Pki {
    client: SchannelClientConfig,
    server: Arc<SchannelServerConfig>,
}

fn pki() -> Result<Pki> {
    let spec = ClientCertSpec::new(DEMO_USER, Some("alice@demo.example"));
    let pki = DemoPki::generate("localhost", &spec)?;
    let roots = vec![pki.ca.cert().clone()];
    let client = SchannelClientConfig::new(ClientOptions::new(roots.clone(), Some(pki.client.certified_key())))?;
    let server = SchannelServerConfig::new(TlsServerOptions::new(
        pki.server.certified_key(),
        ClientCertPolicy::Required(roots),
        Arc::new(UpnMapper::new()),
    ))?;
    Ok(Pki { client, server: Arc::new(server) })
}

async fn run_cases() -> Result<Vec<Row>> {
    let mut store = InMemoryStore::new();
    store.add_password(Some(DEMO_DOMAIN), DEMO_USER, DEMO_PASSWORD);
    let store: Arc<dyn dcom_auth::CredentialStore> = Arc::new(store);
    let pki = pki().context("generating the demo certificates")?;
    let server_cfg = pki.server.clone();
    let schannel: dcom_tokio::server::ProviderFactory = Arc::new(move |level| {
        SchannelServer::new(&server_cfg, level).ok().map(|s| Box::new(s) as Box<dyn dcom_auth::ServerContext>)
    });
    let mut extra_providers = vec![(AuthType::GSS_SCHANNEL, schannel)];
    extra_providers.extend(crate::providers::spnego_ntlm_server(store.clone()));
    let options = ServerOptions {
        users: Some(store),
        allow_anonymous: true,
        principal: "host/localhost".into(),
        extra_providers,
        ..ServerOptions::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.context("binding a loopback port")?;
    let addr = listener.local_addr()?;
    let server = standard(&options, addr).interface(WHOAMI, 1, false, None, Arc::new(whoami)).serve(listener)?;
    let mut cases = vec![Case { provider: "none", level: AuthLevel::NONE }];
    for provider in ["ntlm", "negotiate"] {
        for level in [AuthLevel::CONNECT, AuthLevel::PKT_INTEGRITY, AuthLevel::PKT_PRIVACY] {
            cases.push(Case { provider, level });
        }
    }
    // Schannel protects at PKT_PRIVACY only (MS-RPCE 2.2.1.1.7; lower levels are refused by both sides).
    cases.push(Case { provider: "schannel", level: AuthLevel::PKT_PRIVACY });
    let echo_syntax = dcom_server::syntax(<dcom_idl::rpcecho::Rpcecho as dcom_idl::Interface>::SYNTAX);
    let mut rows = Vec::new();
    for case in cases {
        let outcome = one_case(addr, &case, echo_syntax, &pki).await.map_err(|e| format!("{e:#}"));
        rows.push(Row { provider: case.provider, level: case.level, outcome });
    }
    server.shutdown().await;
    Ok(rows)
}

async fn one_case(addr: std::net::SocketAddr, case: &Case, echo: SyntaxId, pki: &Pki) -> Result<(String, usize, f64)> {
    let started = Instant::now();
    let security = client_security(case, pki)?;
    let conn = Connection::connect(addr, ConnectOptions::default()).await?;
    let sec_id = security.as_ref().map(|s| s.context_id);
    let bound = conn.bind(&[echo, WHOAMI], true, security).await?;
    let echo_ctx = bound.contexts.first().and_then(|c| c.1).context("rpcecho refused")?;
    let who_ctx = bound.contexts.get(1).and_then(|c| c.1).context("whoami refused")?;
    let payload: Vec<u8> = (0..65_536u32).map(|i| (i.wrapping_mul(31) >> 3).to_le_bytes()[0]).collect();
    let input = EchoDataIn::new(payload.clone()).context("payload")?;
    let nctx = if echo_ctx.ndr64 { dcom_ndr::NdrContext::NDR64 } else { dcom_ndr::NdrContext::NDR20 };
    let stub = EchoData::encode_in(&input, nctx)?;
    let out = conn.call(echo_ctx, sec_id, EchoData::OPNUM, None, Bytes::from(stub), None).await?;
    let (decoded, _) = dcom_ndr::decode_prefix::<<EchoData as dcom_idl::Operation>::Out>(&out, nctx)?;
    anyhow::ensure!(decoded.out_data.0 == payload, "EchoData returned other bytes");
    let seen = conn.call(who_ctx, sec_id, 0, None, Bytes::new(), None).await?;
    conn.close();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok((String::from_utf8_lossy(&seen).into_owned(), payload.len(), ms))
}
