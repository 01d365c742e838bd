//! Client commands: `epm`, `mgmt`, `call`, and the authentication options they share.
#![expect(clippy::print_stdout, reason = "the command prints its results on stdout")]

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use dcom_auth::ntlm::{NtHash, NtlmClient, NtlmClientCredentials};
use dcom_auth::{ClientContext, ClientRequirements};
use dcom_idl::Operation;
use dcom_idl::mgmt::{
    InqIfIds, InqIfIdsIn, InqPrincName, InqPrincNameIn, InqStats, InqStatsIn, IsServerListening, IsServerListeningIn,
};
use dcom_ndr::NdrContext;
use dcom_pdu::SyntaxId;
use dcom_rpc::Binding;
use dcom_rpc::client::{ClientConfig, ClientSecurity, PresentationContext};
use dcom_tokio::{ConnectOptions, Connection};
use uuid::Uuid;

use crate::serve::parse_level;

/// Authentication options shared by the client commands.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct AuthArgs {
    /// Authentication service: none, ntlm, kerberos, negotiate or schannel.
    #[arg(long, default_value = "none")]
    auth: String,
    /// Authentication level: connect, integrity or privacy.
    #[arg(long, default_value = "privacy")]
    level: String,
    /// Account name.
    #[arg(long)]
    user: Option<String>,
    /// Domain (NetBIOS name) or realm.
    #[arg(long)]
    domain: Option<String>,
    /// Password (prefer --password-file or DCOMCTL_PASSWORD: a command line is visible to other users).
    #[arg(long, env = "DCOMCTL_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Read the password from the first line of this file.
    #[arg(long, value_name = "FILE", conflicts_with = "password")]
    password_file: Option<PathBuf>,
    /// NT hash (32 hex digits) instead of a password (NTLM).
    #[arg(long, value_name = "HEX")]
    nt_hash: Option<String>,
    /// Use the Kerberos credential cache named by KRB5CCNAME.
    #[arg(long)]
    ccache: bool,
    /// Kerberos keytab with the client's key.
    #[arg(long, value_name = "FILE")]
    keytab: Option<PathBuf>,
    /// Service principal name of the server (default `host/<host>`).
    #[arg(long)]
    spn: Option<String>,
    /// Do not propose header signing.
    #[arg(long)]
    no_header_signing: bool,
    /// Client certificate (PEM) for schannel.
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// Client private key (PEM) for schannel.
    #[arg(long = "key", value_name = "FILE")]
    cert_key: Option<PathBuf>,
    /// CA certificates (PEM) that the server's schannel certificate must chain to.
    #[arg(long = "ca", value_name = "FILE")]
    ca: Option<PathBuf>,
}

impl AuthArgs {
    fn password(&self) -> Result<Option<String>> {
        if let Some(p) = &self.password {
            return Ok(Some(p.clone()));
        }
        if let Some(f) = &self.password_file {
            let text = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
            return Ok(Some(text.lines().next().unwrap_or_default().to_owned()));
        }
        Ok(None)
    }

    fn security(&self, host: &str) -> Result<Option<ClientSecurity>> {
        let level = parse_level(&self.level)?;
        let spn = self.spn.clone().unwrap_or_else(|| format!("host/{host}"));
        let requirements = ClientRequirements { target_name: spn, ..ClientRequirements::default() }.for_level(level);
        let ctx: Box<dyn ClientContext> = match self.auth.to_ascii_lowercase().as_str() {
            "none" => return Ok(None),
            "ntlm" => {
                let user = self.user.clone().context("--user is required for ntlm")?;
                let domain = self.domain.clone().unwrap_or_default();
                let creds = if let Some(h) = &self.nt_hash {
                    NtlmClientCredentials::with_nt_hash(&domain, &user, NtHash::from_hex(h)?)
                } else {
                    let pw = self.password()?.context("--password, --password-file, DCOMCTL_PASSWORD or --nt-hash")?;
                    NtlmClientCredentials::with_password(&domain, &user, &pw)
                };
                Box::new(NtlmClient::new(&creds, requirements)?)
            }
            other => crate::providers::client_context(other, self, requirements)?,
        };
        Ok(Some(ClientSecurity { context: ctx, level, context_id: 1 }))
    }

    pub(crate) fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }
    pub(crate) fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }
    pub(crate) fn secret(&self) -> Result<Option<String>> {
        self.password()
    }
    pub(crate) fn keytab(&self) -> Option<&PathBuf> {
        self.keytab.as_ref()
    }
    pub(crate) fn use_ccache(&self) -> bool {
        self.ccache
    }
    pub(crate) fn ca_file(&self) -> Option<&PathBuf> {
        self.ca.as_ref()
    }
    pub(crate) fn cert_files(&self) -> (Option<&PathBuf>, Option<&PathBuf>) {
        (self.cert.as_ref(), self.cert_key.as_ref())
    }
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr> {
    (host, port).to_socket_addrs()?.next().with_context(|| format!("cannot resolve {host}"))
}

/// Connects to `binding` (resolving the port through the endpoint mapper when the binding has none) and binds
/// `iface` with the requested security.
async fn open(
    binding: &Binding,
    iface: SyntaxId,
    auth: &AuthArgs,
    ndr64: bool,
) -> Result<(Connection, PresentationContext, Option<u32>)> {
    let port = match binding.port {
        Some(p) => p,
        None => dcom_tokio::epm::map(resolve(&binding.host, 135)?, iface)
            .await
            .context("asking the endpoint mapper")?
            .with_context(|| format!("the endpoint mapper does not know interface {}", iface.uuid))?,
    };
    let addr = resolve(&binding.host, port)?;
    let config = ClientConfig { header_signing: !auth.no_header_signing, ..ClientConfig::default() };
    let conn = Connection::connect(addr, ConnectOptions { config, ..ConnectOptions::default() }).await?;
    let security = auth.security(&binding.host)?;
    let sec_id = security.as_ref().map(|s| s.context_id);
    let bound = conn.bind(&[iface], ndr64, security).await.context("bind")?;
    let ctx = bound.contexts.first().and_then(|c| c.1).context("the server refused the interface")?;
    Ok((conn, ctx, sec_id))
}

#[derive(Debug, clap::Args)]
pub(crate) struct EpmArgs {
    /// `ncacn_ip_tcp:HOST` (port 135 unless given).
    binding: String,
    /// One JSON object per entry.
    #[arg(long)]
    json: bool,
}

pub(crate) fn epm(args: &EpmArgs) -> Result<ExitCode> {
    let b = Binding::parse(&args.binding)?;
    let addr = resolve(&b.host, b.port.unwrap_or(135))?;
    let rt = tokio::runtime::Runtime::new()?;
    let entries = rt.block_on(dcom_tokio::epm::lookup(addr))?;
    for e in &entries {
        let tower = e.tower.as_ref().and_then(|t| t.tower().ok());
        let iface = tower.as_ref().and_then(dcom_epm::Tower::interface);
        let binding = tower.as_ref().and_then(dcom_epm::Tower::binding_string).unwrap_or_else(|| "?".into());
        let (uuid, ver) =
            iface.map_or_else(|| ("?".to_owned(), String::new()), |(u, a, b)| (u.to_string(), format!("{a}.{b}")));
        if args.json {
            println!(
                "{}",
                serde_json::json!({"interface": uuid, "version": ver, "binding": binding,
                    "object": e.object.to_string(), "annotation": e.annotation_text()})
            );
        } else {
            println!("{uuid} v{ver:<5} {binding:<32} {}", e.annotation_text());
        }
    }
    if !args.json {
        eprintln!("{} entries", entries.len());
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub(crate) struct MgmtArgs {
    /// String binding, e.g. `ncacn_ip_tcp:127.0.0.1[2000]`.
    binding: String,
    #[command(flatten)]
    auth: AuthArgs,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

async fn typed<O: Operation>(
    conn: &Connection,
    ctx: PresentationContext,
    sec: Option<u32>,
    input: &O::In,
) -> Result<O::Out> {
    let nctx = if ctx.ndr64 { NdrContext::NDR64 } else { NdrContext::NDR20 };
    let stub = O::encode_in(input, nctx)?;
    let out = conn.call(ctx, sec, O::OPNUM, None, Bytes::from(stub), Some(Duration::from_secs(30))).await?;
    Ok(dcom_ndr::decode_prefix::<O::Out>(&out, nctx)?.0)
}

pub(crate) fn mgmt(args: &MgmtArgs) -> Result<ExitCode> {
    let b = Binding::parse(&args.binding)?;
    let iface = dcom_server::syntax(<dcom_idl::mgmt::Mgmt as dcom_idl::Interface>::SYNTAX);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let (conn, ctx, sec) = open(&b, iface, &args.auth, false).await?;
        let ids = typed::<InqIfIds>(&conn, ctx, sec, &InqIfIdsIn {}).await?;
        let listening = typed::<IsServerListening>(&conn, ctx, sec, &IsServerListeningIn {}).await?;
        let princ = typed::<InqPrincName>(&conn, ctx, sec, &InqPrincNameIn { authn_proto: 10, princ_name_size: 1024 }).await;
        let stats = typed::<InqStats>(&conn, ctx, sec, &InqStatsIn { max_count: 4, unknown: 0 }).await;
        let ifaces: Vec<String> = ids
            .if_id_vector
            .map(|v| v.if_id.0.into_iter().flatten().map(|i| format!("{} v{}.{}", i.uuid, i.vers_major, i.vers_minor)).collect())
            .unwrap_or_default();
        let princ = princ.map(|p| {
            let bytes = p.princ_name.items;
            let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
            (String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned(), p.result)
        });
        let stats = stats.map(|s| s.statistics.statistics.0);
        if args.json {
            println!("{}", serde_json::json!({
                "interfaces": ifaces,
                "is_server_listening": {"result": listening.result, "status": listening.status},
                "inq_princ_name": princ.as_ref().map(|(n, r)| serde_json::json!({"name": n, "status": r})).unwrap_or_else(|e| serde_json::json!({"error": format!("{e:#}")})),
                "inq_stats": stats.as_ref().map(|s| serde_json::json!(s)).unwrap_or_else(|e| serde_json::json!({"error": format!("{e:#}")})),
            }));
        } else {
            println!("inq_if_ids:");
            for i in &ifaces {
                println!("  {i}");
            }
            println!("is_server_listening: {} (status {})", listening.result != 0, listening.status);
            match &princ {
                Ok((n, r)) => println!("inq_princ_name(ntlm): {n:?} (status {r})"),
                Err(e) => println!("inq_princ_name: {e:#}"),
            }
            match &stats {
                Ok(s) => println!("inq_stats: calls in {:?}, calls out {:?}, pkts in {:?}, pkts out {:?}", s.first(), s.get(1), s.get(2), s.get(3)),
                Err(e) => println!("inq_stats: {e:#}"),
            }
        }
        conn.close();
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub(crate) struct CallArgs {
    /// String binding; without a port the endpoint mapper on port 135 is asked.
    binding: String,
    /// Interface UUID[:MAJOR.MINOR] (version 1.0 if omitted).
    #[arg(long)]
    interface: String,
    /// Operation number.
    #[arg(long)]
    opnum: u16,
    /// Request stub as hex, or @FILE to read raw bytes.
    #[arg(long, default_value = "")]
    stub: String,
    /// Offer NDR64 (used if the server picks it).
    #[arg(long)]
    ndr64: bool,
    /// Object UUID for the request.
    #[arg(long)]
    object: Option<Uuid>,
    #[command(flatten)]
    auth: AuthArgs,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

fn parse_interface(s: &str) -> Result<SyntaxId> {
    let (u, v) = s.split_once(':').unwrap_or((s, "1.0"));
    let uuid = Uuid::parse_str(u).with_context(|| format!("interface uuid {u:?}"))?;
    let (ma, mi) = v.split_once('.').unwrap_or((v, "0"));
    Ok(SyntaxId::new(uuid, ma.parse().context("major version")?, mi.parse().context("minor version")?))
}

fn parse_hex(s: &str) -> Result<Vec<u8>> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !s.len().is_multiple_of(2) {
        bail!("odd number of hex digits");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2).unwrap_or("zz"), 16).context("hex digit"))
        .collect()
}

pub(crate) fn call(args: &CallArgs) -> Result<ExitCode> {
    let b = Binding::parse(&args.binding)?;
    let iface = parse_interface(&args.interface)?;
    let stub = match args.stub.strip_prefix('@') {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {path}"))?,
        None => parse_hex(&args.stub)?,
    };
    let rt = tokio::runtime::Runtime::new()?;
    let result = rt.block_on(async {
        let (conn, ctx, sec) = open(&b, iface, &args.auth, args.ndr64).await?;
        let object = args.object.or(b.object);
        let r = conn.call(ctx, sec, args.opnum, object, Bytes::from(stub), Some(Duration::from_secs(60))).await;
        conn.close();
        Ok::<_, anyhow::Error>((r, ctx.ndr64))
    })?;
    match result {
        (Ok(out), ndr64) => {
            let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
            if args.json {
                println!("{}", serde_json::json!({"ok": true, "ndr64": ndr64, "stub_len": out.len(), "stub": hex}));
            } else {
                println!("{hex}");
            }
            Ok(ExitCode::SUCCESS)
        }
        (Err(e), _) => {
            if args.json {
                println!("{}", serde_json::json!({"ok": false, "error": e.to_string()}));
            } else {
                eprintln!("dcomctl: {e}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}
