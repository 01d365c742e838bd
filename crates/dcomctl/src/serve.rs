//! `dcomctl serve`.
#![expect(clippy::print_stdout, reason = "the command prints its results on stdout")]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use dcom_auth::InMemoryStore;
use dcom_pdu::AuthLevel;
use dcom_server::setup::{ServerOptions, standard};
use tokio::net::TcpListener;

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Address and port of the RPC listener.
    #[arg(long, default_value = "127.0.0.1:2000")]
    listen: SocketAddr,
    /// Also serve the endpoint mapper (and mgmt, rpcecho) on this address, normally port 135.
    #[arg(long, value_name = "ADDR:PORT")]
    epm: Option<SocketAddr>,
    /// Accounts for NTLM: one per line, `[DOMAIN\\]user:password` or `[DOMAIN\\]user:nthash:<32 hex>`.
    #[arg(long, value_name = "FILE")]
    users: Option<PathBuf>,
    /// Principal name reported by mgmt inq_princ_name (and the SPN for Kerberos).
    #[arg(long)]
    spn: Option<String>,
    /// Lowest authentication level rpcecho accepts: none, connect, integrity or privacy.
    #[arg(long, default_value = "connect")]
    min_level: String,
    /// Accept unauthenticated calls to rpcecho and anonymous NTLM.
    #[arg(long)]
    allow_anonymous: bool,
    /// Kerberos service keys (MIT keytab): enables Kerberos and Kerberos inside negotiate.
    #[arg(long, value_name = "FILE")]
    keytab: Option<PathBuf>,
    /// Schannel server certificate chain (PEM).
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// Schannel server private key (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// CA certificates (PEM) client certificates must chain to; callers are mapped by the UPN in their certificate
    /// (without it, clients are not asked for a certificate and are anonymous).
    #[arg(long, value_name = "FILE", requires = "cert")]
    client_ca: Option<PathBuf>,
}

pub(crate) fn parse_level(s: &str) -> Result<AuthLevel> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "none" => AuthLevel::NONE,
        "connect" => AuthLevel::CONNECT,
        "call" => AuthLevel::CALL,
        "pkt" | "packet" => AuthLevel::PKT,
        "integrity" | "sign" | "pkt_integrity" => AuthLevel::PKT_INTEGRITY,
        "privacy" | "seal" | "pkt_privacy" => AuthLevel::PKT_PRIVACY,
        other => bail!("unknown authentication level {other:?} (none, connect, integrity, privacy)"),
    })
}

pub(crate) fn run(args: &ServeArgs) -> Result<ExitCode> {
    let mut options = ServerOptions {
        allow_anonymous: args.allow_anonymous,
        min_level: parse_level(&args.min_level)?,
        principal: args.spn.clone().unwrap_or_default(),
        ..ServerOptions::default()
    };
    let mut store: Option<Arc<dyn dcom_auth::CredentialStore>> = None;
    if let Some(path) = &args.users {
        let s = InMemoryStore::load(path).with_context(|| format!("reading users from {}", path.display()))?;
        store = Some(Arc::new(s));
    }
    options.users.clone_from(&store);
    let keytab = match &args.keytab {
        Some(p) => {
            let kt =
                dcom_auth::kerberos::keytab::Keytab::load(p).with_context(|| format!("reading {}", p.display()))?;
            Some((Arc::new(kt), args.spn.iter().cloned().collect()))
        }
        None => None,
    };
    options.extra_providers = crate::providers::server_providers(store, keytab)?;
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        let identity = crate::providers::load_certified_key(cert, key)?;
        let policy = match &args.client_ca {
            Some(ca) => dcom_schannel::ClientCertPolicy::Required(crate::providers::load_certs(ca)?),
            None => dcom_schannel::ClientCertPolicy::None,
        };
        let cfg = dcom_schannel::SchannelServerConfig::new(dcom_schannel::ServerOptions::new(
            identity,
            policy,
            Arc::new(dcom_schannel::UpnMapper::new()),
        ))?;
        let cfg = Arc::new(cfg);
        options.extra_providers.push((
            dcom_pdu::AuthType::GSS_SCHANNEL,
            Arc::new(move |level| {
                dcom_schannel::SchannelServer::new(&cfg, level)
                    .ok()
                    .map(|s| Box::new(s) as Box<dyn dcom_auth::ServerContext>)
            }),
        ));
    }
    let rt = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    rt.block_on(async {
        let listener = TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
        let addr = listener.local_addr()?;
        let server = standard(&options, addr).serve(listener)?;
        println!("dcomctl: rpc server listening on ncacn_ip_tcp:{}[{}]", addr.ip(), addr.port());
        let epm = match args.epm {
            Some(e) => {
                let l = TcpListener::bind(e).await.with_context(|| format!("listening on {e}"))?;
                let a = l.local_addr()?;
                let s = standard(&options, addr).serve(l)?;
                println!("dcomctl: endpoint mapper listening on ncacn_ip_tcp:{}[{}]", a.ip(), a.port());
                Some(s)
            }
            None => None,
        };
        tokio::signal::ctrl_c().await.ok();
        println!("dcomctl: shutting down");
        server.shutdown().await;
        if let Some(e) = epm {
            e.shutdown().await;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
