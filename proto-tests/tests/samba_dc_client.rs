//! Interop: OUR client (dcom-tokio over dcom-rpc, dcom-auth, dcom-idl) against the Samba AD DC (issue #4).
//!
//! `dcom_testpeers::peers()` installs, provisions and starts Samba's AD DC on `127.0.0.10` (`dc1.samba.test`,
//! realm `SAMBA.TEST`); everything here talks to it from this process, on its own tokio runtime. Groups, in
//! order (each prints its time):
//!
//! - **samba-oracle**: python3-samba (`scripts/peers/samba_client.py`; rpcclient for dssetup) makes the same
//!   calls for every provider x level: the expected results. It runs before the capture starts.
//! - **epm**: `ept_lookup` (the whole map, rounds of 100) and `ept_map` for samr, wkssvc and dssetup on port
//!   135, unauthenticated (C706 appendix O, [MS-RPCE 2.2.1.2]); the whole map again in ONE `ept_lookup`, whose
//!   answer comes in several 2048-byte fragments; and the same with `max_recv_frag` 1432 (a client bug, below).
//! - **matrix**: samr (Connect5, EnumDomains, LookupDomain per domain, Close; [MS-SAMR 3.1.5]), dssetup
//!   (DsRoleGetPrimaryDomainInformation; [MS-DSSP 3.2.5.1]) and wkssvc (NetrWkstaGetInfo level 100;
//!   [MS-WKST 3.2.4.1]) with NTLM (10), SPNEGO-NTLM (9), SPNEGO-Kerberos (9) and Kerberos (16), at
//!   PKT_INTEGRITY and PKT_PRIVACY (dssetup and wkssvc at PKT_CONNECT too), with and without header signing
//!   ([MS-RPCE 3.3.1.5.2.2]: the bind_ack must agree exactly when we offer it), with a password, a keytab
//!   (`samba-tool domain exportkeytab`) and a ccache (`kinit`) for the Kerberos mechanisms. Every result must
//!   equal python3-samba's for the same provider and level.
//! - **fragments**: samr OpenDomain + LookupNames with 1000 names (an ~84 KB request in 1432-byte fragments,
//!   an ~8 KB answer in 2048-byte ones, each fragment signed or sealed on its own; C706 12.6.3.7) for every
//!   provider at both levels: alice and bob resolve, the 998 others are unknown (STATUS_SOME_NOT_MAPPED).
//! - **concurrency**: 32 calls in flight on one connection over two presentation contexts (samr from the
//!   bind, wkssvc from an alter_context); a bind offering NDR64 and NDR 2.0; two security contexts on one
//!   connection (bind + alter_context, [MS-RPCE 3.3.1.5.2.1], two pairs of providers); a second connection
//!   joining the association group and using (and closing) a context handle of the first, while a connection
//!   of another group gets `nca_s_fault_context_mismatch` for it ([MS-RPCE 3.3.1.3]).
//! - **failures**: wrong password (NTLM, SPNEGO-NTLM, Kerberos, SPNEGO-Kerberos), wrong SPN (unknown to the
//!   KDC; another account's), an authentication level the server refuses (samr at PKT_CONNECT), an info level
//!   it refuses (NetrWkstaGetInfo 999), a server that closes the connection with calls in flight (a proxy in
//!   front of the DC): each asserts its error variant and status, and a connection opened before keeps
//!   working after each.
//! - **tshark**: the capture of the whole run (our client's traffic) dissects without a malformed frame; it
//!   also shows the fragmentation, PFC_SUPPORT_HEADER_SIGN offered and echoed per bind, the calls really in
//!   flight together and the requests under both security contexts.
//!
//! Our traffic goes through in-process TCP relays that connect to the DC from `127.0.0.41` (the KDC too,
//! through the peers' krb5.conf with its `kdc` pointed at the relay): the capture filter
//! `host 127.0.0.41 and host 127.0.0.10` keeps other users of the shared DC out of the capture. The relays
//! copy bytes unchanged.
//!
//! The run prints the matrix it covered to stderr (one line per case: group, provider, level, header signing,
//! credential, interface or case, result). A missing peer fails the test, never skips it.
//!
//! Known client bugs make two rows fail on purpose (the owner fixes them; see `CLIENT BUG` in the rows):
//! a `max_recv_frag` below 2048 (Samba's and Windows' floor) is accepted at bind time and then the server's
//! 2048-byte fragments kill the connection; a call on a connection the server closed reports
//! `ConnectionLost(Local)` instead of `ConnectionLost(PeerClosed)`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dcom_auth::KdcTransport;
use dcom_auth::kerberos::keytab::Keytab;
use dcom_auth::kerberos::{
    CredentialCache, KdcAddress, KerberosClient, KerberosClientConfig, KerberosCredentials, Krb5Profile,
};
use dcom_auth::ntlm::{NtlmClient, NtlmClientCredentials};
use dcom_auth::spnego::{SpnegoClient, SpnegoClientConfig, SpnegoMech};
use dcom_auth::{ClientContext, ClientRequirements, Password};
use dcom_epm::{EptLookupIn, EptLookupOut, Tower, inquiry};
use dcom_idl::common::{PolicyHandle, RpcSid, RpcUnicodeString};
use dcom_idl::{Operation, dssetup, samr, wkssvc};
use dcom_ndr::{ContextHandle, NdrContext};
use dcom_pdu::{AuthLevel, RejectReason, Status, SyntaxId};
use dcom_rpc::client::{Bound, ClientConfig, ClientSecurity, PresentationContext};
use dcom_rpc::{CallError, CloseReason};
use dcom_testpeers::{ALICE, Capture, Peers, peers, tshark_check};
use dcom_tokio::{ConnectOptions, Connection};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// The DC's name and the SPN every context targets.
const DC_HOST: &str = "dc1.samba.test";
const SPN: &str = "host/dc1.samba.test";
/// An SPN the KDC does not know (the "wrong SPN" case).
const UNKNOWN_SPN: &str = "host/nosuchhost.samba.test";
/// An SPN of another account (our server under test's): the KDC issues a ticket the DC cannot decrypt.
const OTHER_SPN: &str = "host/rpcsrv.samba.test";
const REALM: &str = "SAMBA.TEST";
const NT_DOMAIN: &str = "SAMBA";
const EPM_PORT: u16 = 135;
const KDC_PORT: u16 = 88;
/// Source address of all our traffic to the DC: every connection (RPC and KDC) goes through an in-process TCP
/// relay that connects from this loopback address, so the capture (`host 127.0.0.41 and host 127.0.0.10`)
/// holds our client's bytes and nothing else that talks to the DC on a shared machine.
const SOURCE_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 41);
const NDR: NdrContext = NdrContext::NDR20;
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
const CASE_TIMEOUT: Duration = Duration::from_secs(45);
/// The smallest fragment size C706 12.6.3.7 allows: our requests go out in fragments of this size.
const SMALL_FRAG: u16 = 1432;
/// Samba's (and Windows') floor for negotiated fragment sizes: its bind_ack never announces less, whatever the
/// client offered, so responses come in fragments of this size at the smallest.
const SAMBA_MIN_FRAG: u16 = 2048;
/// `STATUS_SOME_NOT_MAPPED` ([MS-ERREF 2.3.1]).
const STATUS_SOME_NOT_MAPPED: u32 = 0x0000_0107;
/// `ERROR_INVALID_LEVEL` / `WERR_INVALID_LEVEL` ([MS-ERREF 2.2]).
const WERR_INVALID_LEVEL: u32 = 124;
/// `SID_NAME_USER` and `SID_NAME_UNKNOWN` ([MS-SAMR 2.2.2.3] / [MS-LSAT 2.2.13]).
const SID_NAME_USER: u32 = 1;
const SID_NAME_UNKNOWN: u32 = 8;
/// samr opnums not modelled by dcom-idl, hand-encoded here: OpenDomain and LookupNames ([MS-SAMR 3.1.5.1.5,
/// 3.1.5.11.2]).
const SAMR_OPEN_DOMAIN: u16 = 7;
const SAMR_LOOKUP_NAMES: u16 = 17;
/// LookupNames' `[size_is(1000)]` names array ([MS-SAMR 3.1.5.11.2]: at most 1000 names).
const LOOKUP_NAMES_MAX: u32 = 1000;

// ------------------------------------------------------------------------------------------------ the cases

/// The security provider of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Provider {
    /// NTLMSSP (auth type 10).
    Ntlm,
    /// SPNEGO (9) offering only NTLM.
    SpnegoNtlm,
    /// SPNEGO (9) offering only Kerberos.
    SpnegoKrb,
    /// Kerberos (16).
    Kerberos,
}

impl Provider {
    const ALL: [Self; 4] = [Self::Ntlm, Self::SpnegoNtlm, Self::SpnegoKrb, Self::Kerberos];

    fn name(self) -> &'static str {
        match self {
            Self::Ntlm => "ntlm",
            Self::SpnegoNtlm => "spnego-ntlm",
            Self::SpnegoKrb => "spnego-krb",
            Self::Kerberos => "krb5",
        }
    }

    const fn kerberos(self) -> bool {
        matches!(self, Self::SpnegoKrb | Self::Kerberos)
    }

    /// The same provider in samba_client.py: `--auth X --krb Y`.
    fn samba_args(self) -> [&'static str; 4] {
        match self {
            Self::Ntlm => ["--auth", "ntlm", "--krb", "no"],
            Self::SpnegoNtlm => ["--auth", "spnego", "--krb", "no"],
            Self::SpnegoKrb => ["--auth", "spnego", "--krb", "yes"],
            Self::Kerberos => ["--auth", "krb5", "--krb", "yes"],
        }
    }

    /// The credentials the matrix tries: Kerberos mechanisms with a password, a keytab and a ccache.
    fn credentials(self) -> &'static [Cred] {
        if self.kerberos() { &[Cred::Password, Cred::Keytab, Cred::Ccache] } else { &[Cred::Password] }
    }
}

/// The authentication level of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Lvl {
    Connect,
    Integrity,
    Privacy,
}

impl Lvl {
    const ALL: [Self; 3] = [Self::Connect, Self::Integrity, Self::Privacy];

    const fn auth(self) -> AuthLevel {
        match self {
            Self::Connect => AuthLevel::CONNECT,
            Self::Integrity => AuthLevel::PKT_INTEGRITY,
            Self::Privacy => AuthLevel::PKT_PRIVACY,
        }
    }

    const fn name(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Integrity => "integrity",
            Self::Privacy => "privacy",
        }
    }

    /// samba_client.py's `--level`.
    const fn samba(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Integrity => "sign",
            Self::Privacy => "seal",
        }
    }
}

/// How the client proves who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cred {
    Password,
    Keytab,
    Ccache,
}

impl Cred {
    const fn name(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Keytab => "keytab",
            Self::Ccache => "ccache",
        }
    }
}

/// The interfaces of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Iface {
    Samr,
    Dssetup,
    Wkssvc,
}

impl Iface {
    const ALL: [Self; 3] = [Self::Samr, Self::Dssetup, Self::Wkssvc];

    const fn name(self) -> &'static str {
        match self {
            Self::Samr => "samr",
            Self::Dssetup => "dssetup",
            Self::Wkssvc => "wkssvc",
        }
    }

    fn syntax(self) -> SyntaxId {
        let s = match self {
            Self::Samr => samr::SYNTAX,
            Self::Dssetup => dssetup::SYNTAX,
            Self::Wkssvc => wkssvc::SYNTAX,
        };
        SyntaxId::new(s.uuid, s.major, s.minor)
    }

    /// The levels the matrix runs the interface at: Samba refuses samr below PKT_INTEGRITY (a failure case).
    const fn levels(self) -> &'static [Lvl] {
        match self {
            Self::Samr => &[Lvl::Integrity, Lvl::Privacy],
            Self::Dssetup | Self::Wkssvc => &Lvl::ALL,
        }
    }

    /// The calls of the interface as the matrix prints them.
    const fn calls(self) -> &'static str {
        match self {
            Self::Samr => "samr Connect5+EnumDomains+LookupDomain+Close",
            Self::Dssetup => "dssetup DsRoleGetPrimaryDomainInformation",
            Self::Wkssvc => "wkssvc NetrWkstaGetInfo(100)",
        }
    }
}

/// One authenticated connection's settings.
#[derive(Debug, Clone, Copy)]
struct Case {
    provider: Provider,
    level: Lvl,
    hdr_sign: bool,
    cred: Cred,
}

impl Case {
    const fn new(provider: Provider, level: Lvl, hdr_sign: bool, cred: Cred) -> Self {
        Self { provider, level, hdr_sign, cred }
    }

    const fn hdr(&self) -> &'static str {
        if self.hdr_sign { "hdr-sign" } else { "no-hdr-sign" }
    }
}

/// One line of the matrix.
struct Row {
    group: &'static str,
    provider: String,
    level: String,
    hdr: String,
    cred: String,
    what: String,
    result: Result<String, String>,
}

// ------------------------------------------------------------------------------------------------ the suite

/// The peers, our runtime, the credentials and the matrix being filled.
struct Suite {
    peers: &'static Peers,
    rt: tokio::runtime::Runtime,
    rows: Vec<Row>,
    /// (group, time, cases, failures)
    groups: Vec<(&'static str, Duration, usize, usize)>,
    profile: Krb5Profile,
    keytab: Keytab,
    ccache: CredentialCache,
    /// TCP port of each interface, from the endpoint mapper.
    ports: BTreeMap<Iface, u16>,
    /// DC port -> our relay's listening address (see [`SOURCE_IP`]).
    relays: BTreeMap<u16, SocketAddr>,
    /// What python3-samba returned for (provider, level, interface).
    oracle: BTreeMap<(Provider, Lvl, Iface), Result<Value, String>>,
    group: &'static str,
    group_start: Instant,
    group_first_row: usize,
    started: Instant,
}

impl Suite {
    fn dc_ip(&self) -> IpAddr {
        IpAddr::V4(self.peers.dc.ip)
    }

    /// Where our client connects to reach the DC's `port`: the relay in front of it.
    fn dc_port(&self, port: u16) -> Result<SocketAddr, String> {
        self.relays.get(&port).copied().ok_or_else(|| format!("no relay for the DC's port {port}"))
    }

    fn addr(&self, iface: Iface) -> Result<SocketAddr, String> {
        let port =
            self.ports.get(&iface).ok_or_else(|| format!("no port for {} from the endpoint mapper", iface.name()))?;
        self.dc_port(*port)
    }

    /// Starts the relay to the DC's `port` (once).
    fn relay(&mut self, port: u16) -> Result<SocketAddr, String> {
        if let Some(a) = self.relays.get(&port) {
            return Ok(*a);
        }
        let target = SocketAddr::new(self.dc_ip(), port);
        let local = self.rt.block_on(start_relay(target)).map_err(|e| format!("relay to {target}: {e}"))?;
        self.relays.insert(port, local);
        Ok(local)
    }

    fn begin(&mut self, group: &'static str) {
        self.group = group;
        self.group_start = Instant::now();
        self.group_first_row = self.rows.len();
    }

    fn end(&mut self) {
        let rows = self.rows.get(self.group_first_row..).unwrap_or_default();
        let failed = rows.iter().filter(|r| r.result.is_err()).count();
        self.groups.push((self.group, self.group_start.elapsed(), rows.len(), failed));
        let _ = writeln!(
            std::io::stderr().lock(),
            "[samba_dc_client] group {:<12} {:>6.2} s  {} cases, {} failed",
            self.group,
            self.group_start.elapsed().as_secs_f64(),
            rows.len(),
            failed
        );
    }

    fn row(
        &mut self,
        provider: &str,
        level: &str,
        hdr: &str,
        cred: &str,
        what: impl Into<String>,
        result: Result<String, String>,
    ) {
        self.rows.push(Row {
            group: self.group,
            provider: provider.to_owned(),
            level: level.to_owned(),
            hdr: hdr.to_owned(),
            cred: cred.to_owned(),
            what: what.into(),
            result,
        });
    }

    fn case_row(&mut self, case: &Case, what: impl Into<String>, result: Result<String, String>) {
        let (p, l, h, c) = (case.provider.name(), case.level.name(), case.hdr(), case.cred.name());
        self.row(p, l, h, c, what, result);
    }

    /// The Kerberos client configuration for `cred` (alice), with the peers' krb5.conf.
    fn kerberos_config(&self, cred: Cred, password: &str) -> KerberosClientConfig {
        let principal = ALICE.principal();
        let credentials = match cred {
            Cred::Password => KerberosCredentials::Password { principal, password: Password::new(password) },
            Cred::Keytab => KerberosCredentials::Keytab { principal, keytab: self.keytab.clone() },
            Cred::Ccache => KerberosCredentials::Ccache(self.ccache.clone()),
        };
        let mut config = KerberosClientConfig::new(credentials);
        config.profile = Some(self.profile.clone());
        config.realm = Some(REALM.to_owned());
        config
    }

    /// A fresh client context for `case` towards `spn`, as security context `context_id`.
    fn security(&self, case: &Case, spn: &str, password: &str, context_id: u32) -> Result<ClientSecurity, String> {
        let level = case.level.auth();
        let req = ClientRequirements { target_name: spn.into(), ..ClientRequirements::default() }.for_level(level);
        let ntlm = || NtlmClientCredentials::with_password(NT_DOMAIN, ALICE.name, password);
        let context: Box<dyn ClientContext> = match case.provider {
            Provider::Ntlm => Box::new(NtlmClient::new(&ntlm(), req).map_err(|e| format!("ntlm client: {e}"))?),
            Provider::SpnegoNtlm => {
                let config = SpnegoClientConfig { kerberos: None, ntlm: Some(ntlm()), mechs: vec![SpnegoMech::Ntlm] };
                Box::new(SpnegoClient::new(config, req).map_err(|e| format!("spnego client: {e}"))?)
            }
            Provider::SpnegoKrb => {
                let config = SpnegoClientConfig {
                    kerberos: Some(self.kerberos_config(case.cred, password)),
                    ntlm: None,
                    mechs: vec![SpnegoMech::Kerberos],
                };
                Box::new(SpnegoClient::new(config, req).map_err(|e| format!("spnego client: {e}"))?)
            }
            Provider::Kerberos => Box::new(
                KerberosClient::new(self.kerberos_config(case.cred, password), req)
                    .map_err(|e| format!("kerberos client: {e}"))?,
            ),
        };
        Ok(ClientSecurity { context, level, context_id })
    }
}

fn client_config(hdr_sign: bool) -> ClientConfig {
    ClientConfig { header_signing: hdr_sign, ..ClientConfig::default() }
}

/// 1432-byte request fragments, 2048-byte response fragments (Samba's floor).
fn small_frag_config(hdr_sign: bool) -> ClientConfig {
    frag_config(SMALL_FRAG, SAMBA_MIN_FRAG, hdr_sign)
}

fn frag_config(max_xmit_frag: u16, max_recv_frag: u16, hdr_sign: bool) -> ClientConfig {
    ClientConfig { max_xmit_frag, max_recv_frag, header_signing: hdr_sign, ..ClientConfig::default() }
}

/// Connects to `addr` and binds `ifaces` with `security`: the connection, what the bind gave, and one accepted
/// presentation context per interface.
async fn open(
    addr: SocketAddr,
    ifaces: &[SyntaxId],
    security: Option<ClientSecurity>,
    config: ClientConfig,
    assoc_group: u32,
) -> Result<(Connection, Bound, Vec<PresentationContext>), CallError> {
    let conn = Connection::connect(addr, ConnectOptions { config, assoc_group, ..ConnectOptions::default() }).await?;
    let bound = conn.bind(ifaces, false, security).await?;
    let mut ctxs = Vec::new();
    for (iface, ctx) in &bound.contexts {
        match ctx {
            Some(c) => ctxs.push(*c),
            None => return Err(CallError::NotBound(format!("the server refused interface {}", iface.uuid))),
        }
    }
    Ok((conn, bound, ctxs))
}

/// One typed call: the request encoded with `O`'s stub, the response decoded strictly (every byte used).
async fn call_op<O: Operation>(
    conn: &Connection,
    ctx: PresentationContext,
    sec: Option<u32>,
    input: &O::In,
) -> Result<O::Out, CallError> {
    let nctx = if ctx.ndr64 { NdrContext::NDR64 } else { NDR };
    let stub = O::encode_in(input, nctx).map_err(|e| CallError::Local(e.to_string()))?;
    let out = conn.call(ctx, sec, O::OPNUM, None, Bytes::from(stub), Some(CALL_TIMEOUT)).await?;
    O::decode_out(&out, nctx).map_err(|e| CallError::Protocol(format!("{}: {e}", O::NAME)))
}

fn op_err(op: &'static str) -> impl Fn(CallError) -> String {
    move |e| format!("{op}: {e} ({e:?})")
}

fn connect5_in() -> samr::Connect5In {
    samr::Connect5In {
        system_name: None,
        access_mask: samr::MAXIMUM_ALLOWED,
        level_in: 1,
        // SAMR_CONNECT_AFTER_W2K, as python3-samba sends it
        info_in: samr::ConnectInfo::Info1(samr::ConnectInfo1 { client_version: 3, supported_features: 0 }),
    }
}

async fn samr_connect(
    conn: &Connection,
    ctx: PresentationContext,
    sec: Option<u32>,
) -> Result<samr::Connect5Out, String> {
    let out = call_op::<samr::Connect5>(conn, ctx, sec, &connect5_in()).await.map_err(op_err("Connect5"))?;
    if out.result != 0 {
        return Err(format!("Connect5 returned 0x{:08x}", out.result));
    }
    Ok(out)
}

async fn samr_close(
    conn: &Connection,
    ctx: PresentationContext,
    sec: Option<u32>,
    handle: PolicyHandle,
) -> Result<samr::CloseOut, String> {
    let out = call_op::<samr::Close>(conn, ctx, sec, &samr::CloseIn { handle }).await.map_err(op_err("Close"))?;
    if out.result != 0 {
        return Err(format!("Close returned 0x{:08x}", out.result));
    }
    Ok(out)
}

async fn samr_enum(
    conn: &Connection,
    ctx: PresentationContext,
    sec: Option<u32>,
    handle: PolicyHandle,
) -> Result<samr::EnumDomainsOut, CallError> {
    call_op::<samr::EnumDomains>(
        conn,
        ctx,
        sec,
        &samr::EnumDomainsIn { connect_handle: handle, resume_handle: 0, buf_size: u32::MAX },
    )
    .await
}

fn domain_names(out: &samr::EnumDomainsOut) -> Vec<String> {
    out.sam
        .as_ref()
        .and_then(|s| s.entries.as_ref())
        .map(|a| a.0.iter().map(|e| e.name.to_string_lossy()).collect())
        .unwrap_or_default()
}

async fn samr_lookup_domain(
    conn: &Connection,
    ctx: PresentationContext,
    sec: Option<u32>,
    handle: PolicyHandle,
    name: &str,
) -> Result<RpcSid, String> {
    let domain_name = RpcUnicodeString::new(name).ok_or("domain name too long")?;
    let out =
        call_op::<samr::LookupDomain>(conn, ctx, sec, &samr::LookupDomainIn { connect_handle: handle, domain_name })
            .await
            .map_err(op_err("LookupDomain"))?;
    if out.result != 0 {
        return Err(format!("LookupDomain({name}) returned 0x{:08x}", out.result));
    }
    out.sid.ok_or_else(|| format!("LookupDomain({name}) returned no SID"))
}

/// samr as samba_client.py runs it, in its JSON shape.
async fn samr_json(conn: &Connection, ctx: PresentationContext, sec: Option<u32>) -> Result<Value, String> {
    let c5 = samr_connect(conn, ctx, sec).await?;
    let samr::ConnectInfo::Info1(info) = c5.info_out;
    let h = c5.connect_handle;
    let en = samr_enum(conn, ctx, sec, h).await.map_err(op_err("EnumDomains"))?;
    if en.result != 0 {
        return Err(format!("EnumDomains returned 0x{:08x}", en.result));
    }
    let names = domain_names(&en);
    let mut lookups = serde_json::Map::new();
    for n in &names {
        let sid = samr_lookup_domain(conn, ctx, sec, h, n).await?;
        lookups.insert(n.clone(), Value::String(sid.to_string()));
    }
    let closed = samr_close(conn, ctx, sec, h).await?;
    Ok(json!({
        "Connect5": {"level_out": c5.level_out,
                     "info_out": {"client_version": info.client_version, "supported_features": info.supported_features}},
        "EnumDomains": {"num_entries": en.num_entries, "names": names},
        "LookupDomain": lookups,
        "Close": {"handle_type": closed.handle.attributes, "uuid": closed.handle.uuid.to_string()},
    }))
}

/// dssetup in samba_client.py's JSON shape (the fields rpcclient prints).
async fn dssetup_json(conn: &Connection, ctx: PresentationContext, sec: Option<u32>) -> Result<Value, String> {
    let input = dssetup::GetPrimaryDomainInformationIn { level: dssetup::DsRoleInfoLevel::Basic };
    let out = call_op::<dssetup::GetPrimaryDomainInformation>(conn, ctx, sec, &input)
        .await
        .map_err(op_err("DsRoleGetPrimaryDomainInformation"))?;
    if out.result != 0 {
        return Err(format!("DsRoleGetPrimaryDomainInformation returned 0x{:08x}", out.result));
    }
    let Some(dssetup::DsRoleInfo::Basic(b)) = out.info else {
        return Err(format!("DsRoleGetPrimaryDomainInformation: not the basic level: {:?}", out.info));
    };
    let s = |w: &Option<dcom_ndr::WString>| w.as_ref().map(dcom_ndr::WString::to_string_lossy);
    Ok(json!({
        "role": b.role as u32,
        "flags": b.flags,
        "domain": s(&b.domain),
        "dns_domain": s(&b.dns_domain),
        "forest": s(&b.forest),
        "domain_guid": b.domain_guid.to_string(),
        "werror": out.result,
    }))
}

async fn wkssvc_get_info(
    conn: &Connection,
    ctx: PresentationContext,
    sec: Option<u32>,
    level: u32,
) -> Result<wkssvc::NetrWkstaGetInfoOut, CallError> {
    call_op::<wkssvc::NetrWkstaGetInfo>(conn, ctx, sec, &wkssvc::NetrWkstaGetInfoIn { server_name: None, level }).await
}

/// wkssvc in samba_client.py's JSON shape.
async fn wkssvc_json(conn: &Connection, ctx: PresentationContext, sec: Option<u32>) -> Result<Value, String> {
    let out = wkssvc_get_info(conn, ctx, sec, 100).await.map_err(op_err("NetrWkstaGetInfo"))?;
    if out.result != 0 {
        return Err(format!("NetrWkstaGetInfo returned 0x{:08x}", out.result));
    }
    let wkssvc::WkstaInfo::Info100(Some(i)) = out.info else {
        return Err(format!("NetrWkstaGetInfo: not level 100: {:?}", out.info));
    };
    Ok(json!({
        "platform_id": i.platform_id,
        "server_name": i.server_name.as_ref().map(dcom_ndr::WString::to_string_lossy),
        "domain_name": i.domain_name.as_ref().map(dcom_ndr::WString::to_string_lossy),
        "version_major": i.version_major,
        "version_minor": i.version_minor,
    }))
}

async fn iface_json(
    iface: Iface,
    conn: &Connection,
    ctx: PresentationContext,
    sec: Option<u32>,
) -> Result<Value, String> {
    match iface {
        Iface::Samr => samr_json(conn, ctx, sec).await,
        Iface::Dssetup => dssetup_json(conn, ctx, sec).await,
        Iface::Wkssvc => wkssvc_json(conn, ctx, sec).await,
    }
}

/// The part of python3-samba's result that our JSON covers.
fn oracle_view(iface: Iface, result: &Value) -> Result<Value, String> {
    let get = |p: &str| result.pointer(p).cloned().ok_or_else(|| format!("samba's result has no {p}: {result}"));
    match iface {
        Iface::Samr => {
            let mut m = serde_json::Map::new();
            for k in ["Connect5", "EnumDomains", "LookupDomain", "Close"] {
                m.insert(k.to_owned(), get(&format!("/{k}"))?);
            }
            Ok(Value::Object(m))
        }
        Iface::Dssetup => {
            let mut m = serde_json::Map::new();
            for k in ["role", "flags", "domain", "dns_domain", "forest", "domain_guid", "werror"] {
                m.insert(k.to_owned(), get(&format!("/DsRoleGetPrimaryDomainInformation/{k}"))?);
            }
            Ok(Value::Object(m))
        }
        Iface::Wkssvc => get("/NetWkstaGetInfo"),
    }
}

fn same_as_samba(ours: &Value, samba: &Result<Value, String>) -> Result<String, String> {
    let samba = samba.as_ref().map_err(|e| format!("no python3-samba result to compare with: {e}"))?;
    if ours == samba {
        Ok(format!("= samba {}", short(ours)))
    } else {
        Err(format!("differs from python3-samba: ours {ours}, samba {samba}"))
    }
}

/// A short summary of a result for the matrix.
fn short(v: &Value) -> String {
    if let Some(names) = v.pointer("/EnumDomains/names") {
        return format!("domains {names}");
    }
    if let Some(d) = v.get("dns_domain") {
        return format!("role {} dns_domain {d}", v.get("role").unwrap_or(&Value::Null));
    }
    if let Some(s) = v.get("server_name") {
        return format!("server_name {s} platform {}", v.get("platform_id").unwrap_or(&Value::Null));
    }
    v.to_string()
}

// ------------------------------------------------------------------------------------------------ groups

/// ept_lookup and ept_map on port 135: the ports of samr, wkssvc and dssetup; then one ept_lookup over
/// 1432-byte fragments must return the same map in one multi-fragment response.
fn group_epm(s: &mut Suite) {
    s.begin("epm");
    let epm = match s.dc_port(EPM_PORT) {
        Ok(a) => a,
        Err(e) => {
            s.row("none", "none", "-", "-", "epm ept_lookup (all entries)", Err(e));
            return s.end();
        }
    };
    let lookup = s.rt.block_on(async { tokio::time::timeout(CASE_TIMEOUT, dcom_tokio::epm::lookup(epm)).await });
    let entries = match lookup {
        Ok(Ok(e)) => e,
        Ok(Err(e)) => {
            s.row("none", "none", "-", "-", "epm ept_lookup (all entries)", Err(format!("{e} ({e:?})")));
            return s.end();
        }
        Err(_) => {
            s.row("none", "none", "-", "-", "epm ept_lookup (all entries)", Err("timed out".into()));
            return s.end();
        }
    };
    // every (interface, binding, annotation) the map lists
    let listed = entry_set(&entries);
    let tcp_port = |iface: Iface| -> Option<u16> {
        let sx = iface.syntax();
        entries.iter().find_map(|e| {
            let t: Tower = e.tower.as_ref()?.tower().ok()?;
            let (u, a, b) = t.interface()?;
            (u == sx.uuid && a == sx.version_major && b == sx.version_minor).then(|| t.tcp_port()).flatten()
        })
    };
    let summary = format!("{} entries, {} distinct", entries.len(), listed.len());
    let ok = entries.len() >= 10 && Iface::ALL.iter().all(|i| tcp_port(*i).is_some());
    s.row(
        "none",
        "none",
        "-",
        "-",
        "epm ept_lookup (all entries, rounds of 100)",
        if ok { Ok(summary) } else { Err(format!("{summary}; samr/wkssvc/dssetup ncacn_ip_tcp missing")) },
    );
    for iface in Iface::ALL {
        let mapped = s
            .rt
            .block_on(async { tokio::time::timeout(CASE_TIMEOUT, dcom_tokio::epm::map(epm, iface.syntax())).await });
        let from_lookup = tcp_port(iface);
        let result = match mapped {
            Ok(Ok(Some(port))) if Some(port) == from_lookup && port != EPM_PORT => {
                s.ports.insert(iface, port);
                s.relay(port).map(|_| format!("port {port} (= ept_lookup)"))
            }
            Ok(Ok(other)) => Err(format!("ept_map gave {other:?}, ept_lookup lists {from_lookup:?}")),
            Ok(Err(e)) => Err(format!("{e} ({e:?})")),
            Err(_) => Err("timed out".into()),
        };
        s.row("none", "none", "-", "-", format!("epm ept_map {}", iface.name()), result);
    }
    // one lookup for everything in one call: the response comes in several fragments
    let one = epm_lookup_once(s, epm, SAMBA_MIN_FRAG);
    let result = one.and_then(|(bound, stub_len, got)| {
        if bound.max_recv_frag != SAMBA_MIN_FRAG {
            return Err(format!("negotiated max_recv_frag {}, expected {SAMBA_MIN_FRAG}", bound.max_recv_frag));
        }
        if stub_len <= 2 * usize::from(SAMBA_MIN_FRAG) {
            return Err(format!("response stub of {stub_len} bytes: not several fragments"));
        }
        if got != listed {
            return Err(format!(
                "one call differs from rounds of 100: {:?}",
                got.symmetric_difference(&listed).collect::<Vec<_>>()
            ));
        }
        Ok(format!(
            "{} entries, {stub_len}-byte stub in >= {} fragments",
            got.len(),
            stub_len / usize::from(SAMBA_MIN_FRAG) + 1
        ))
    });
    s.row("none", "none", "-", "-", "epm ept_lookup max_ents 500, max_recv_frag 2048", result);
    // CLIENT BUG (reported): offering max_recv_frag 1432, Samba's bind_ack announces 2048 (its floor, as
    // Windows); our client accepts the bind, reports max_recv_frag 1432 and then drops the connection at the
    // first 2048-byte fragment. It must accept fragments up to the size the server announced (or refuse the
    // bind_ack clearly).
    let result = match epm_lookup_once(s, epm, SMALL_FRAG) {
        Ok((_, stub_len, got)) if got == listed => Ok(format!("{} entries, {stub_len}-byte stub", got.len())),
        Ok((_, _, got)) => Err(format!("{} entries, expected {}", got.len(), listed.len())),
        Err(e) => Err(format!(
            "CLIENT BUG: offered max_recv_frag {SMALL_FRAG}, the bind_ack announced max_xmit_frag {SAMBA_MIN_FRAG} and \
             the bind succeeded, then the client refused the server's {SAMBA_MIN_FRAG}-byte response fragments: {e}"
        )),
    };
    s.row("none", "none", "-", "-", "epm ept_lookup max_ents 500, max_recv_frag 1432", result);
    s.end();
}

/// Every entry of the endpoint map in ONE ept_lookup (max_ents 500) on a connection offering `max_recv_frag`:
/// what the bind gave, the response stub's length and the (interface, binding, annotation) listed.
fn epm_lookup_once(s: &Suite, epm: SocketAddr, max_recv_frag: u16) -> Result<(Bound, usize, EntrySet), String> {
    s.rt.block_on(async {
        tokio::time::timeout(CASE_TIMEOUT, async {
            let config = frag_config(SMALL_FRAG, max_recv_frag, false);
            let (conn, bound, ctxs) = open(epm, &[dcom_tokio::epm::EPM_SYNTAX], None, config, 0)
                .await
                .map_err(|e| format!("bind: {e} ({e:?})"))?;
            let ctx = *ctxs.first().ok_or("no context")?;
            let req = EptLookupIn {
                inquiry_type: inquiry::ALL_ELTS,
                object: None,
                interface_id: None,
                vers_option: 1,
                entry_handle: ContextHandle::default(),
                max_ents: 500,
            };
            let stub = dcom_ndr::encode(&req, NDR).map_err(|e| e.to_string())?;
            let resp = conn
                .call(ctx, None, dcom_epm::opnum::LOOKUP, None, Bytes::from(stub), Some(CALL_TIMEOUT))
                .await
                .map_err(|e| format!("ept_lookup: {e} ({e:?})"))?;
            let (out, _) = dcom_ndr::decode_prefix::<EptLookupOut>(&resp, NDR).map_err(|e| e.to_string())?;
            conn.close();
            if out.entries.items.len() != usize::try_from(out.num_ents).unwrap_or(usize::MAX) {
                return Err(format!("num_ents {} but {} entries", out.num_ents, out.entries.items.len()));
            }
            Ok::<_, String>((bound, resp.len(), entry_set(&out.entries.items)))
        })
        .await
        .map_err(|_| "timed out".to_owned())?
    })
}

/// (interface, binding string, annotation) of endpoint map entries.
type EntrySet = BTreeSet<(String, String, String)>;

/// (interface, binding string, annotation) of every entry.
fn entry_set(entries: &[dcom_epm::EptEntry]) -> EntrySet {
    entries
        .iter()
        .filter_map(|e| {
            let t = e.tower.as_ref()?.tower().ok()?;
            let (u, a, b) = t.interface()?;
            Some((format!("{u} v{a}.{b}"), t.binding_string().unwrap_or_default(), e.annotation_text()))
        })
        .collect()
}

/// python3-samba (and rpcclient for dssetup) for every provider x level x interface: the expected results.
fn group_oracle(s: &mut Suite) {
    s.begin("samba-oracle");
    let binding = format!("ncacn_ip_tcp:{DC_HOST}");
    for provider in Provider::ALL {
        for level in Lvl::ALL {
            for iface in Iface::ALL.into_iter().filter(|i| i.levels().contains(&level)) {
                let mut args = vec![binding.as_str(), iface.name()];
                args.extend(provider.samba_args());
                args.extend(["--level", level.samba()]);
                let got = match s.peers.run_samba_client(&args) {
                    Ok(o) if o.ok() => oracle_view(iface, o.result()),
                    Ok(o) => Err(format!(
                        "exit {:?}: {}",
                        o.exit_code,
                        o.json.get("error").map_or_else(|| o.json.to_string(), Value::to_string)
                    )),
                    Err(e) => Err(e.to_string()),
                };
                let shown = got.as_ref().map(short).map_err(Clone::clone);
                s.oracle.insert((provider, level, iface), got);
                s.row(
                    provider.name(),
                    level.name(),
                    "hdr-sign",
                    "password",
                    format!("python3-samba {}", iface.calls()),
                    shown,
                );
            }
        }
    }
    s.end();
}

/// Every provider x level x header signing x credential x interface, compared with python3-samba.
fn group_matrix(s: &mut Suite) {
    s.begin("matrix");
    for provider in Provider::ALL {
        for level in Lvl::ALL {
            for hdr_sign in [true, false] {
                for &cred in provider.credentials() {
                    let case = Case::new(provider, level, hdr_sign, cred);
                    for iface in Iface::ALL.into_iter().filter(|i| i.levels().contains(&level)) {
                        let result = matrix_case(s, &case, iface);
                        s.case_row(&case, iface.calls(), result);
                    }
                }
            }
        }
    }
    s.end();
}

fn matrix_case(s: &Suite, case: &Case, iface: Iface) -> Result<String, String> {
    let addr = s.addr(iface)?;
    let security = s.security(case, SPN, ALICE.password, 1)?;
    let ours = s.rt.block_on(async {
        tokio::time::timeout(CASE_TIMEOUT, async {
            let (conn, bound, ctxs) = open(addr, &[iface.syntax()], Some(security), client_config(case.hdr_sign), 0)
                .await
                .map_err(|e| format!("bind: {e} ({e:?})"))?;
            let ctx = *ctxs.first().ok_or("no presentation context")?;
            let r = iface_json(iface, &conn, ctx, Some(1)).await;
            conn.close();
            // [MS-RPCE 3.3.1.5.2.2]: Samba always agrees to header signing when the client offers it
            if bound.header_signing != case.hdr_sign {
                return Err(format!("header signing {} after offering {}", bound.header_signing, case.hdr_sign));
            }
            if bound.security_context != Some(1) {
                return Err(format!("bind completed security context {:?}", bound.security_context));
            }
            r
        })
        .await
        .map_err(|_| "timed out".to_owned())?
    })?;
    same_as_samba(&ours, s.oracle.get(&(case.provider, case.level, iface)).unwrap_or(&Err("not run".into())))
}

/// Writes little-endian NDR by hand (the samr operations dcom-idl does not model).
#[derive(Default)]
struct NdrOut(Vec<u8>);

impl NdrOut {
    fn align(&mut self, n: usize) {
        while !self.0.len().is_multiple_of(n) {
            self.0.push(0);
        }
    }
    fn u16(&mut self, v: u16) {
        self.align(2);
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.align(4);
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn handle(&mut self, h: &PolicyHandle) -> Result<(), String> {
        self.align(4);
        self.0.extend(dcom_ndr::encode(h, NDR).map_err(|e| e.to_string())?);
        Ok(())
    }
}

/// Reads little-endian NDR by hand.
struct NdrIn<'a> {
    b: &'a [u8],
    pos: usize,
}

impl NdrIn<'_> {
    fn u32(&mut self) -> Result<u32, String> {
        self.pos = self.pos.next_multiple_of(4);
        let end = self.pos + 4;
        let bytes =
            self.b.get(self.pos..end).ok_or_else(|| format!("stub ends at {} (u32 at {})", self.b.len(), self.pos))?;
        self.pos = end;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn handle(&mut self) -> Result<PolicyHandle, String> {
        let bytes = self.b.get(self.pos..self.pos + 20).ok_or("stub too short for a handle")?;
        self.pos += 20;
        dcom_ndr::decode::<PolicyHandle>(bytes, NDR).map_err(|e| e.to_string())
    }

    /// `samr_Ids { [range(0,1024)] uint32 count; [size_is(count)] uint32 *ids; }` and its deferred array.
    fn ids(&mut self) -> Result<Vec<u32>, String> {
        let count = self.u32()?;
        let ptr = self.u32()?;
        if ptr == 0 {
            return Ok(Vec::new());
        }
        let max = self.u32()?;
        if max != count || count > 1024 {
            return Err(format!("samr_Ids count {count}, array size {max}"));
        }
        (0..count).map(|_| self.u32()).collect()
    }
}

/// `samr_OpenDomain(connect_handle, MAXIMUM_ALLOWED, sid)` ([MS-SAMR 3.1.5.1.5]) hand-encoded.
async fn samr_open_domain(
    conn: &Connection,
    ctx: PresentationContext,
    sec: Option<u32>,
    connect: &PolicyHandle,
    sid: &RpcSid,
) -> Result<PolicyHandle, String> {
    let mut w = NdrOut::default();
    w.handle(connect)?;
    w.u32(samr::MAXIMUM_ALLOWED);
    // [in,ref] dom_sid2 *sid: a conformant structure, its size first
    w.u32(u32::from(sid.sub_authority_count));
    w.0.push(sid.revision);
    w.0.push(sid.sub_authority_count);
    w.0.extend_from_slice(&sid.identifier_authority);
    for a in sid.sub_authority.0.iter() {
        w.u32(*a);
    }
    let out = conn
        .call(ctx, sec, SAMR_OPEN_DOMAIN, None, Bytes::from(w.0), Some(CALL_TIMEOUT))
        .await
        .map_err(op_err("OpenDomain"))?;
    let mut r = NdrIn { b: &out, pos: 0 };
    let h = r.handle()?;
    let status = r.u32()?;
    if status != 0 || r.pos != out.len() {
        return Err(format!("OpenDomain returned 0x{status:08x} ({} of {} bytes read)", r.pos, out.len()));
    }
    Ok(h)
}

/// `samr_LookupNames(domain_handle, names)` ([MS-SAMR 3.1.5.11.2]) hand-encoded: the request stub's size, the
/// response stub's size, the rids, the types and the status.
async fn samr_lookup_names(
    conn: &Connection,
    ctx: PresentationContext,
    sec: Option<u32>,
    domain: &PolicyHandle,
    names: &[String],
) -> Result<(usize, usize, Vec<u32>, Vec<u32>, u32), String> {
    let n = u32::try_from(names.len()).map_err(|e| e.to_string())?;
    let mut w = NdrOut::default();
    w.handle(domain)?;
    w.u32(n);
    // [in,size_is(1000),length_is(num_names)] lsa_String names[]
    w.u32(LOOKUP_NAMES_MAX);
    w.u32(0);
    w.u32(n);
    let units: Vec<Vec<u16>> = names.iter().map(|s| s.encode_utf16().collect()).collect();
    for (i, u) in units.iter().enumerate() {
        let bytes = u16::try_from(u.len() * 2).map_err(|e| e.to_string())?;
        w.u16(bytes);
        w.u16(bytes);
        w.u32(0x0002_0000 + 4 * u32::try_from(i).map_err(|e| e.to_string())?);
    }
    for u in &units {
        let len = u32::try_from(u.len()).map_err(|e| e.to_string())?;
        w.u32(len);
        w.u32(0);
        w.u32(len);
        for c in u {
            w.u16(*c);
        }
    }
    let request_len = w.0.len();
    let out = conn
        .call(ctx, sec, SAMR_LOOKUP_NAMES, None, Bytes::from(w.0), Some(CALL_TIMEOUT))
        .await
        .map_err(op_err("LookupNames"))?;
    let mut r = NdrIn { b: &out, pos: 0 };
    let rids = r.ids()?;
    let types = r.ids()?;
    let status = r.u32()?;
    if r.pos != out.len() {
        return Err(format!("LookupNames response: {} of {} bytes read", r.pos, out.len()));
    }
    Ok((request_len, out.len(), rids, types, status))
}

/// samr LookupNames with 1000 names over 1432-byte fragments: the request (~40 KB) and the response (~8 KB)
/// both span many fragments, each signed or sealed on its own.
async fn big_lookup_names(conn: &Connection, ctx: PresentationContext, sec: Option<u32>) -> Result<String, String> {
    let c5 = samr_connect(conn, ctx, sec).await?;
    let h = c5.connect_handle;
    let sid = samr_lookup_domain(conn, ctx, sec, h, NT_DOMAIN).await?;
    let dom = samr_open_domain(conn, ctx, sec, &h, &sid).await?;
    // alice alone first (one fragment each way)
    let (_, _, rids, types, status) = samr_lookup_names(conn, ctx, sec, &dom, &["alice".to_owned()]).await?;
    let (Some(&alice), Some(&SID_NAME_USER), 0) = (rids.first(), types.first(), status) else {
        return Err(format!("LookupNames([alice]): rids {rids:?} types {types:?} status 0x{status:08x}"));
    };
    let names: Vec<String> = (0..LOOKUP_NAMES_MAX)
        .map(|i| match i {
            100 => "alice".to_owned(),
            900 => "bob".to_owned(),
            _ => format!("nobody-{i:04}-of-the-samba-domain"),
        })
        .collect();
    let (req_len, resp_len, rids, types, status) = samr_lookup_names(conn, ctx, sec, &dom, &names).await?;
    let mut bad = Vec::new();
    if status != STATUS_SOME_NOT_MAPPED {
        bad.push(format!("status 0x{status:08x}, expected STATUS_SOME_NOT_MAPPED"));
    }
    if rids.len() != names.len() || types.len() != names.len() {
        bad.push(format!("{} rids and {} types for {} names", rids.len(), types.len(), names.len()));
    }
    for (i, (rid, ty)) in rids.iter().zip(&types).enumerate() {
        let ok = match i {
            100 => *rid == alice && *ty == SID_NAME_USER,
            900 => *rid >= 1000 && *rid != alice && *ty == SID_NAME_USER,
            _ => *rid == 0 && *ty == SID_NAME_UNKNOWN,
        };
        if !ok && bad.len() < 5 {
            bad.push(format!("names[{i}] = {}: rid {rid} type {ty}", names.get(i).map_or("?", String::as_str)));
        }
    }
    samr_close(conn, ctx, sec, dom).await?;
    samr_close(conn, ctx, sec, h).await?;
    if !bad.is_empty() {
        return Err(bad.join("; "));
    }
    let (xmit, recv) = (usize::from(SMALL_FRAG), usize::from(SAMBA_MIN_FRAG));
    if req_len <= 4 * xmit || resp_len <= 2 * recv {
        return Err(format!("request {req_len} / response {resp_len} bytes do not need several fragments"));
    }
    Ok(format!(
        "alice rid {alice}; request {req_len} B (>= {} frags), response {resp_len} B (>= {} frags)",
        req_len / xmit + 1,
        resp_len / recv + 1
    ))
}

fn group_fragments(s: &mut Suite) {
    s.begin("fragments");
    for provider in Provider::ALL {
        for level in [Lvl::Integrity, Lvl::Privacy] {
            let case = Case::new(provider, level, true, Cred::Password);
            let result = (|| {
                let addr = s.addr(Iface::Samr)?;
                let security = s.security(&case, SPN, ALICE.password, 1)?;
                s.rt.block_on(async {
                    tokio::time::timeout(CASE_TIMEOUT, async {
                        let (conn, bound, ctxs) =
                            open(addr, &[Iface::Samr.syntax()], Some(security), small_frag_config(true), 0)
                                .await
                                .map_err(|e| format!("bind: {e} ({e:?})"))?;
                        let ctx = *ctxs.first().ok_or("no presentation context")?;
                        if bound.max_xmit_frag != SMALL_FRAG || bound.max_recv_frag != SAMBA_MIN_FRAG {
                            return Err(format!("negotiated {}/{}", bound.max_xmit_frag, bound.max_recv_frag));
                        }
                        let r = big_lookup_names(&conn, ctx, Some(1)).await;
                        conn.close();
                        r
                    })
                    .await
                    .map_err(|_| "timed out".to_owned())?
                })
            })();
            s.case_row(&case, "samr LookupNames x1000, frags 1432 out / 2048 in", result);
        }
    }
    s.end();
}

/// 32 calls in flight on one connection (samr and wkssvc contexts); two security contexts on one connection;
/// a second connection in the association group of the first.
fn group_concurrency(s: &mut Suite) {
    s.begin("concurrency");
    let case = Case::new(Provider::Kerberos, Lvl::Privacy, true, Cred::Password);
    let result = concurrent_calls(s, &case);
    s.case_row(&case, "32 concurrent calls (16 wkssvc, 16 samr Connect5), 2 pres. contexts", result);

    let case = Case::new(Provider::Ntlm, Lvl::Privacy, true, Cred::Password);
    let result = ndr64_offered(s, &case);
    s.case_row(&case, "bind offering NDR64 + NDR 2.0: Samba picks NDR 2.0 (wkssvc)", result);

    // two security contexts: context 1 from the bind, context 2 from an alter_context (TWO_CONTEXTS)
    for (first, second) in TWO_CONTEXTS {
        let result = two_security_contexts(s, &first, &second);
        s.row(
            &format!("{}+{}", first.provider.name(), second.provider.name()),
            &format!("{}+{}", first.level.name(), second.level.name()),
            first.hdr(),
            &format!("{}+{}", first.cred.name(), second.cred.name()),
            "2 security contexts on 1 connection (wkssvc)",
            result,
        );
    }

    let a = Case::new(Provider::Kerberos, Lvl::Privacy, true, Cred::Keytab);
    let b = Case::new(Provider::Ntlm, Lvl::Privacy, false, Cred::Password);
    let result = association_group(s, &a, &b);
    s.row("krb5+ntlm", "privacy", "both", "keytab+password", "2nd connection joins the assoc group (samr)", result);
    s.end();
}

fn concurrent_calls(s: &Suite, case: &Case) -> Result<String, String> {
    let addr = s.addr(Iface::Samr)?;
    if s.addr(Iface::Wkssvc)? != addr {
        return Err("samr and wkssvc are on different ports".into());
    }
    let security = s.security(case, SPN, ALICE.password, 1)?;
    let wk_expect =
        s.oracle.get(&(case.provider, case.level, Iface::Wkssvc)).cloned().unwrap_or(Err("not run".into()))?;
    s.rt.block_on(async {
        tokio::time::timeout(CASE_TIMEOUT, async {
            // Samba accepts one new presentation context per bind or alter_context: wkssvc comes in an
            // alter_context without a security context
            let (conn, _, ctxs) = open(addr, &[Iface::Samr.syntax()], Some(security), client_config(true), 0)
                .await
                .map_err(|e| format!("bind: {e} ({e:?})"))?;
            let samr_ctx = *ctxs.first().ok_or("no samr context")?;
            let alter = conn
                .alter_context(&[Iface::Wkssvc.syntax()], false, None)
                .await
                .map_err(|e| format!("alter_context wkssvc: {e} ({e:?})"))?;
            let wk_ctx =
                alter.contexts.first().and_then(|c| c.1).ok_or("the server refused wkssvc in alter_context")?;
            let mut tasks = Vec::new();
            for i in 0..32 {
                let c = conn.clone();
                tasks.push(tokio::spawn(async move {
                    if i % 2 == 0 {
                        wkssvc_json(&c, wk_ctx, Some(1)).await.map(|v| (v, None))
                    } else {
                        samr_connect(&c, samr_ctx, Some(1)).await.map(|o| (Value::Null, Some(o.connect_handle)))
                    }
                }));
            }
            let mut handles = BTreeSet::new();
            let mut errors = Vec::new();
            for t in tasks {
                match t.await {
                    Ok(Ok((v, None))) if v == wk_expect => {}
                    Ok(Ok((v, None))) => errors.push(format!("wkssvc answered {v}")),
                    Ok(Ok((_, Some(h)))) => {
                        handles.insert(h.uuid);
                    }
                    Ok(Err(e)) => errors.push(e),
                    Err(e) => errors.push(format!("task: {e}")),
                }
            }
            // close the 16 handles concurrently too
            let closes: Vec<_> = handles
                .iter()
                .map(|u| {
                    let c = conn.clone();
                    let h = PolicyHandle { attributes: 0, uuid: *u };
                    tokio::spawn(async move { samr_close(&c, samr_ctx, Some(1), h).await })
                })
                .collect();
            for t in closes {
                match t.await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => errors.push(e),
                    Err(e) => errors.push(format!("task: {e}")),
                }
            }
            conn.close();
            if handles.len() != 16 {
                errors.push(format!("{} distinct samr handles, expected 16", handles.len()));
            }
            if errors.is_empty() {
                Ok("32 answers correct, 16 distinct handles closed concurrently".to_owned())
            } else {
                Err(errors.join("; "))
            }
        })
        .await
        .map_err(|_| "timed out".to_owned())?
    })
}

/// A bind offering NDR64 next to NDR 2.0 for wkssvc ([MS-RPCE 3.3.1.5.4]): Samba's server has no NDR64, so the
/// NDR 2.0 context is the accepted one and the call answers as python3-samba's.
fn ndr64_offered(s: &Suite, case: &Case) -> Result<String, String> {
    let addr = s.addr(Iface::Wkssvc)?;
    let security = s.security(case, SPN, ALICE.password, 1)?;
    let expect = s.oracle.get(&(case.provider, case.level, Iface::Wkssvc)).cloned().unwrap_or(Err("not run".into()))?;
    s.rt.block_on(async {
        tokio::time::timeout(CASE_TIMEOUT, async {
            let options = ConnectOptions { config: client_config(case.hdr_sign), ..ConnectOptions::default() };
            let conn = Connection::connect(addr, options).await.map_err(|e| format!("connect: {e}"))?;
            let bound = conn
                .bind(&[Iface::Wkssvc.syntax()], true, Some(security))
                .await
                .map_err(|e| format!("bind: {e} ({e:?})"))?;
            let ctx = bound.contexts.first().and_then(|c| c.1).ok_or("no context accepted")?;
            let r = wkssvc_json(&conn, ctx, Some(1)).await;
            conn.close();
            if ctx.ndr64 {
                return Err("the accepted context claims NDR64, which Samba does not offer".into());
            }
            let v = r?;
            if v != expect {
                return Err(format!("answered {v}, python3-samba {expect}"));
            }
            Ok(format!("context {} (NDR 2.0) accepted, answer = samba", ctx.id))
        })
        .await
        .map_err(|_| "timed out".to_owned())?
    })
}

fn two_security_contexts(s: &Suite, first: &Case, second: &Case) -> Result<String, String> {
    let addr = s.addr(Iface::Wkssvc)?;
    let sec1 = s.security(first, SPN, ALICE.password, 1)?;
    let sec2 = s.security(second, SPN, ALICE.password, 2)?;
    let expect =
        s.oracle.get(&(second.provider, second.level, Iface::Wkssvc)).cloned().unwrap_or(Err("not run".into()))?;
    s.rt.block_on(async {
        tokio::time::timeout(CASE_TIMEOUT, async {
            let (conn, _, ctxs) = open(addr, &[Iface::Wkssvc.syntax()], Some(sec1), client_config(first.hdr_sign), 0)
                .await
                .map_err(|e| format!("bind: {e} ({e:?})"))?;
            let ctx = *ctxs.first().ok_or("no presentation context")?;
            let alter =
                conn.alter_context(&[], false, Some(sec2)).await.map_err(|e| format!("alter_context: {e} ({e:?})"))?;
            if alter.security_context != Some(2) {
                return Err(format!("alter_context completed security context {:?}", alter.security_context));
            }
            // interleaved and concurrent: 4 calls on each context
            let mut tasks = Vec::new();
            for i in 0..8u32 {
                let c = conn.clone();
                let sec = 1 + i % 2;
                tasks.push(tokio::spawn(async move { (sec, wkssvc_json(&c, ctx, Some(sec)).await) }));
            }
            let mut errors = Vec::new();
            for t in tasks {
                match t.await {
                    Ok((_, Ok(v))) if v == expect => {}
                    Ok((sec, Ok(v))) => errors.push(format!("context {sec}: {v}")),
                    Ok((sec, Err(e))) => errors.push(format!("context {sec}: {e}")),
                    Err(e) => errors.push(format!("task: {e}")),
                }
            }
            conn.close();
            if errors.is_empty() {
                Ok(format!(
                    "context 1 {} {}, context 2 {} {}: 4 calls each",
                    first.provider.name(),
                    first.level.name(),
                    second.provider.name(),
                    second.level.name()
                ))
            } else {
                Err(errors.join("; "))
            }
        })
        .await
        .map_err(|_| "timed out".to_owned())?
    })
}

/// Connection A opens a samr handle; B joins A's association group and enumerates domains with A's handle
/// (Samba keeps handles per association group); C, in a new group, gets nca_s_fault_context_mismatch.
fn association_group(s: &Suite, a: &Case, b: &Case) -> Result<String, String> {
    let addr = s.addr(Iface::Samr)?;
    let (sa, sb, sc) = (
        s.security(a, SPN, ALICE.password, 1)?,
        s.security(b, SPN, ALICE.password, 1)?,
        s.security(b, SPN, ALICE.password, 1)?,
    );
    s.rt.block_on(async {
        tokio::time::timeout(CASE_TIMEOUT, async {
            let samr_if = [Iface::Samr.syntax()];
            let (ca, ba, ctxa) = open(addr, &samr_if, Some(sa), client_config(a.hdr_sign), 0)
                .await
                .map_err(|e| format!("bind A: {e}"))?;
            let ctx_a = *ctxa.first().ok_or("no context on A")?;
            let h = samr_connect(&ca, ctx_a, Some(1)).await?.connect_handle;
            let (cb, bb, ctxb) = open(addr, &samr_if, Some(sb), client_config(b.hdr_sign), ba.assoc_group)
                .await
                .map_err(|e| format!("bind B: {e}"))?;
            let ctx_b = *ctxb.first().ok_or("no context on B")?;
            if bb.assoc_group != ba.assoc_group || ba.assoc_group == 0 {
                return Err(format!("B's group 0x{:x}, A's 0x{:x}", bb.assoc_group, ba.assoc_group));
            }
            let on_b = samr_enum(&cb, ctx_b, Some(1), h).await.map_err(op_err("EnumDomains on B with A's handle"))?;
            if on_b.result != 0 || !domain_names(&on_b).contains(&NT_DOMAIN.to_owned()) {
                return Err(format!("EnumDomains on B: 0x{:08x} {:?}", on_b.result, domain_names(&on_b)));
            }
            let (cc, bc, ctxc) = open(addr, &samr_if, Some(sc), client_config(b.hdr_sign), 0)
                .await
                .map_err(|e| format!("bind C: {e}"))?;
            let ctx_c = *ctxc.first().ok_or("no context on C")?;
            let on_c = samr_enum(&cc, ctx_c, Some(1), h).await;
            let on_c_ok =
                matches!(on_c, Err(CallError::Fault { status, .. }) if status == Status::NCA_S_FAULT_CONTEXT_MISMATCH);
            // B closes A's handle; A can no longer use it
            samr_close(&cb, ctx_b, Some(1), h).await.map_err(|e| format!("B closing A's handle: {e}"))?;
            let again = samr_enum(&ca, ctx_a, Some(1), h).await;
            let again_ok =
                matches!(again, Err(CallError::Fault { status, .. }) if status == Status::NCA_S_FAULT_CONTEXT_MISMATCH);
            for c in [&ca, &cb, &cc] {
                c.close();
            }
            if !on_c_ok {
                return Err(format!(
                    "C (group 0x{:x}) with A's handle: {on_c:?}, expected nca_s_fault_context_mismatch",
                    bc.assoc_group
                ));
            }
            if !again_ok {
                return Err(format!("A after B closed its handle: {again:?}, expected nca_s_fault_context_mismatch"));
            }
            Ok(format!(
                "group 0x{:x} shared: B used and closed A's handle; C (group 0x{:x}) got context_mismatch",
                ba.assoc_group, bc.assoc_group
            ))
        })
        .await
        .map_err(|_| "timed out".to_owned())?
    })
}

// ------------------------------------------------------------------------------------------------ failures

/// A transparent TCP relay: accepts on 127.0.0.1 (any port) and connects each accepted connection to `target`
/// from [`SOURCE_IP`], copying bytes both ways unchanged until either side closes.
async fn start_relay(target: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let socket = TcpSocket::new_v4()?;
                socket.bind(SocketAddr::new(IpAddr::V4(SOURCE_IP), 0))?;
                let mut upstream = socket.connect(target).await?;
                let _ = client.set_nodelay(true);
                let _ = upstream.set_nodelay(true);
                tokio::io::copy_bidirectional(&mut client, &mut upstream).await
            });
        }
    });
    Ok(local)
}

/// The pairs of security contexts tried on one connection (the first from the bind, the second from an
/// alter_context; the header-signing setting is the first's).
const TWO_CONTEXTS: [(Case, Case); 2] = [
    (
        Case::new(Provider::Ntlm, Lvl::Integrity, true, Cred::Password),
        Case::new(Provider::Kerberos, Lvl::Privacy, true, Cred::Ccache),
    ),
    (
        Case::new(Provider::SpnegoKrb, Lvl::Privacy, false, Cred::Keytab),
        Case::new(Provider::SpnegoNtlm, Lvl::Integrity, false, Cred::Password),
    ),
];

/// A connection opened before the failures; after each failure it must still answer.
struct Sentinel {
    conn: Connection,
    ctx: PresentationContext,
    expect: Value,
}

fn open_sentinel(s: &Suite) -> Result<Sentinel, String> {
    let case = Case::new(Provider::Ntlm, Lvl::Privacy, true, Cred::Password);
    let addr = s.addr(Iface::Wkssvc)?;
    let security = s.security(&case, SPN, ALICE.password, 1)?;
    let expect = s.oracle.get(&(case.provider, case.level, Iface::Wkssvc)).cloned().unwrap_or(Err("not run".into()))?;
    s.rt.block_on(async {
        let (conn, _, ctxs) = open(addr, &[Iface::Wkssvc.syntax()], Some(security), client_config(true), 0)
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let ctx = *ctxs.first().ok_or("no context")?;
        let v = wkssvc_json(&conn, ctx, Some(1)).await?;
        if v != expect {
            return Err(format!("sentinel answered {v}"));
        }
        Ok(Sentinel { conn, ctx, expect })
    })
}

fn check_sentinel(s: &mut Suite, sentinel: Option<&Sentinel>, after: &str) {
    let result = match sentinel {
        None => Err("no sentinel connection".to_owned()),
        Some(t) => s.rt.block_on(async {
            match tokio::time::timeout(CASE_TIMEOUT, wkssvc_json(&t.conn, t.ctx, Some(1))).await {
                Ok(Ok(v)) if v == t.expect => Ok("still answers".to_owned()),
                Ok(Ok(v)) => Err(format!("answered {v}")),
                Ok(Err(e)) => Err(e),
                Err(_) => Err("timed out".into()),
            }
        }),
    };
    s.row("ntlm", "privacy", "hdr-sign", "password", format!("  connection opened before, after {after}"), result);
}

/// Binds `iface` for `case` (with `password` and `spn`) and makes the interface's first call: the bind
/// error, or the call's.
fn failing_case(s: &Suite, case: &Case, iface: Iface, spn: &str, password: &str) -> Result<(), CallError> {
    let addr = s.addr(iface).map_err(CallError::Local)?;
    let security = s.security(case, spn, password, 1).map_err(CallError::Local)?;
    s.rt.block_on(async {
        tokio::time::timeout(CASE_TIMEOUT, async {
            let (conn, _, ctxs) =
                open(addr, &[iface.syntax()], Some(security), client_config(case.hdr_sign), 0).await?;
            let ctx = *ctxs.first().ok_or(CallError::NotBound("no context".into()))?;
            let r = match iface {
                Iface::Samr => call_op::<samr::Connect5>(&conn, ctx, Some(1), &connect5_in()).await.map(|_| ()),
                Iface::Wkssvc => wkssvc_get_info(&conn, ctx, Some(1), 100).await.map(|_| ()),
                Iface::Dssetup => call_op::<dssetup::GetPrimaryDomainInformation>(
                    &conn,
                    ctx,
                    Some(1),
                    &dssetup::GetPrimaryDomainInformationIn { level: dssetup::DsRoleInfoLevel::Basic },
                )
                .await
                .map(|_| ()),
            };
            conn.close();
            r
        })
        .await
        .map_err(|_| CallError::TimedOut)?
    })
}

/// `got` is an error accepted by `want`: the row shows it, else what came instead.
fn expect_err(got: Result<(), CallError>, what: &str, want: impl Fn(&CallError) -> bool) -> Result<String, String> {
    match got {
        Err(e) if want(&e) => Ok(format!("{e}")),
        Err(e) => Err(format!("{e} ({e:?}), expected {what}")),
        Ok(()) => Err(format!("succeeded, expected {what}")),
    }
}

/// A `CallError::Security` whose text has every one of `words` (dcom-rpc flattens the `AuthError` kind into
/// text, so the kind and the KDC's error code are matched there).
fn security_mentions(e: &CallError, words: &[&str]) -> bool {
    match e {
        CallError::Security(d) => {
            let d = d.to_ascii_lowercase();
            words.iter().all(|w| d.contains(w))
        }
        _ => false,
    }
}

fn group_failures(s: &mut Suite) {
    s.begin("failures");
    let sentinel = open_sentinel(s);
    s.row(
        "ntlm",
        "privacy",
        "hdr-sign",
        "password",
        "open the connection kept across the failures",
        sentinel.as_ref().map(|_| "wkssvc answers".to_owned()).map_err(Clone::clone),
    );
    let sentinel = sentinel.ok();

    // wrong password, NTLM: rpc_auth_3 has no answer ([MS-RPCE 3.3.1.5.2.1]), so Samba refuses the first call
    // (did not execute): nca_proto_error for NTLMSSP, rpc_s_sec_pkg_error for SPNEGO around it
    for (provider, want) in
        [(Provider::Ntlm, Status::NCA_S_PROTO_ERROR), (Provider::SpnegoNtlm, Status::RPC_S_SEC_PKG_ERROR)]
    {
        let case = Case::new(provider, Lvl::Privacy, true, Cred::Password);
        let got = failing_case(s, &case, Iface::Wkssvc, SPN, "wrong-password");
        let what = format!("fault {} (did not execute) on the first call", want.name().unwrap_or("?"));
        let result = expect_err(
            got,
            &what,
            |e| matches!(e, CallError::Fault { status, did_not_execute: true } if *status == want),
        );
        s.case_row(&case, "wrong password: wkssvc", result);
        check_sentinel(s, sentinel.as_ref(), "a wrong password");
    }
    // wrong password, Kerberos: the KDC refuses the pre-authentication (KDC_ERR_PREAUTH_FAILED, 24)
    for provider in [Provider::Kerberos, Provider::SpnegoKrb] {
        let case = Case::new(provider, Lvl::Privacy, true, Cred::Password);
        let got = failing_case(s, &case, Iface::Wkssvc, SPN, "wrong-password");
        let result = expect_err(got, "a security error: logon denied, KDC error 24 (KDC_ERR_PREAUTH_FAILED)", |e| {
            security_mentions(e, &["logon denied", "krb-error 24"])
        });
        s.case_row(&case, "wrong password: wkssvc", result);
        check_sentinel(s, sentinel.as_ref(), "a wrong password");
    }
    // wrong SPN: the KDC does not know the service (KDC_ERR_S_PRINCIPAL_UNKNOWN, 7)
    for provider in [Provider::Kerberos, Provider::SpnegoKrb] {
        let case = Case::new(provider, Lvl::Privacy, true, Cred::Ccache);
        let got = failing_case(s, &case, Iface::Wkssvc, UNKNOWN_SPN, ALICE.password);
        let result = expect_err(got, "a security error: unknown service principal, KDC error 7", |e| {
            security_mentions(e, &["unknown service principal", "krb-error 7"])
        });
        s.case_row(&case, format!("wrong SPN {UNKNOWN_SPN}: wkssvc"), result);
        check_sentinel(s, sentinel.as_ref(), "a wrong SPN");
    }
    // wrong SPN: a service of another account (the KDC issues the ticket, the DC cannot decrypt it and
    // refuses the bind: bind_nak, C706 12.6.4.5)
    for provider in [Provider::Kerberos, Provider::SpnegoKrb] {
        let case = Case::new(provider, Lvl::Privacy, true, Cred::Password);
        let got = failing_case(s, &case, Iface::Wkssvc, OTHER_SPN, ALICE.password);
        let result = expect_err(
            got,
            "ConnectionLost(BindRejected(reason_not_specified))",
            |e| matches!(e, CallError::ConnectionLost(CloseReason::BindRejected(r)) if *r == RejectReason::NOT_SPECIFIED),
        );
        s.case_row(&case, format!("wrong SPN {OTHER_SPN}: wkssvc"), result);
        check_sentinel(s, sentinel.as_ref(), "a wrong SPN");
    }
    // an authentication level the server refuses: samr needs PKT_INTEGRITY or more on Samba
    for provider in [Provider::Ntlm, Provider::Kerberos] {
        let case = Case::new(provider, Lvl::Connect, true, Cred::Password);
        let got = failing_case(s, &case, Iface::Samr, SPN, ALICE.password);
        let result = expect_err(
            got,
            "fault rpc_s_access_denied (samr refuses PKT_CONNECT)",
            |e| matches!(e, CallError::Fault { status, .. } if *status == Status::RPC_S_ACCESS_DENIED),
        );
        s.case_row(&case, "samr Connect5 at a refused auth level", result);
        check_sentinel(s, sentinel.as_ref(), "a refused level");
    }
    // an info level the server refuses: NetrWkstaGetInfo(999) answers WERR_INVALID_LEVEL ([MS-WKST 3.2.4.1])
    let result = match &sentinel {
        None => Err("no sentinel connection".to_owned()),
        Some(t) => s.rt.block_on(async {
            match wkssvc_get_info(&t.conn, t.ctx, Some(1), 999).await {
                Ok(out) if out.result == WERR_INVALID_LEVEL && matches!(out.info, wkssvc::WkstaInfo::Other(999)) => {
                    Ok("WERR_INVALID_LEVEL (124), empty union arm".to_owned())
                }
                Ok(out) => Err(format!("answered {out:?}, expected WERR_INVALID_LEVEL")),
                Err(e) => Err(format!("{e} ({e:?})")),
            }
        }),
    };
    s.row("ntlm", "privacy", "hdr-sign", "password", "wkssvc NetrWkstaGetInfo level 999 (refused info level)", result);
    check_sentinel(s, sentinel.as_ref(), "a refused info level");

    // the server closes the connection mid-call (a proxy forwards the bind and the request, then closes)
    let case = Case::new(Provider::Ntlm, Lvl::Privacy, true, Cred::Password);
    let (pending, later) = mid_call_close(s, &case);
    s.case_row(&case, "server closes mid-call (proxy), 4 calls pending", pending);
    s.case_row(&case, "  a call after the server closed that connection", later);
    check_sentinel(s, sentinel.as_ref(), "a connection closed mid-call");
    if let Some(t) = sentinel {
        t.conn.close();
    }
    s.end();
}

/// How many calls are in flight when the proxy cuts the connection.
const PENDING_AT_CUT: usize = 4;

/// One connection through a proxy that forwards everything until the client's 4th request PDU, forwards it
/// and closes both sides at once: every pending call must fail with `ConnectionLost(PeerClosed)`; so must a
/// call made afterwards on the dead connection (the second result).
fn mid_call_close(s: &Suite, case: &Case) -> (Result<String, String>, Result<String, String>) {
    match mid_call_close_inner(s, case) {
        Ok((pending, later)) => (Ok(pending), later),
        Err(e) => (Err(e.clone()), Err(format!("not run: {e}"))),
    }
}

fn mid_call_close_inner(s: &Suite, case: &Case) -> Result<(String, Result<String, String>), String> {
    let upstream = s.addr(Iface::Wkssvc)?;
    let security = s.security(case, SPN, ALICE.password, 1)?;
    s.rt.block_on(async {
        tokio::time::timeout(CASE_TIMEOUT, async {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.map_err(|e| e.to_string())?;
            let local = listener.local_addr().map_err(|e| e.to_string())?;
            let proxy = tokio::spawn(cutting_proxy(listener, upstream, PENDING_AT_CUT));
            let (conn, _, ctxs) =
                open(local, &[Iface::Wkssvc.syntax()], Some(security), client_config(case.hdr_sign), 0)
                    .await
                    .map_err(|e| format!("bind through the proxy: {e}"))?;
            let ctx = *ctxs.first().ok_or("no context")?;
            // four calls in flight when the connection goes (the proxy cuts after the 4th request): each fails
            // with the same reason
            let calls: Vec<_> = (0..PENDING_AT_CUT)
                .map(|_| {
                    let c = conn.clone();
                    tokio::spawn(async move { wkssvc_get_info(&c, ctx, Some(1), 100).await.map(|_| ()) })
                })
                .collect();
            let mut results = Vec::new();
            for c in calls {
                let got = c.await.map_err(|e| e.to_string())?;
                results.push(expect_err(got, "ConnectionLost(PeerClosed)", |e| {
                    matches!(e, CallError::ConnectionLost(CloseReason::PeerClosed))
                })?);
            }
            let forwarded = proxy.await.map_err(|e| e.to_string())??;
            let r = format!("{} pending calls: {}", results.len(), results.first().map_or("", String::as_str));
            // the connection stays dead: a later call fails at once, and with the same reason (the peer closed
            // it; CLIENT BUG reported: dcom-tokio answers ConnectionLost(Local), "connection closed locally")
            let later = wkssvc_get_info(&conn, ctx, Some(1), 100).await.map(|_| ());
            let later = expect_err(later, "ConnectionLost(PeerClosed), as the pending calls got", |e| {
                matches!(e, CallError::ConnectionLost(CloseReason::PeerClosed))
            })
            .map_err(|e| format!("CLIENT BUG: a call on a connection the server closed: {e}"));
            Ok((format!("{r} (proxy forwarded {forwarded} client PDUs)"), later))
        })
        .await
        .map_err(|_| "timed out".to_owned())?
    })
}

/// The proxy: forwards whole PDUs from the client (C706 12.6.3.1: `frag_length` at offset 8) and the server's
/// bytes back, until it has forwarded the client's `requests`-th request PDU (ptype 0); then it drops both sockets
/// at once, forwarding no answer after that. Returns how many client PDUs it forwarded.
async fn cutting_proxy(listener: TcpListener, upstream: SocketAddr, requests: usize) -> Result<usize, String> {
    let (mut client, _) = listener.accept().await.map_err(|e| e.to_string())?;
    let mut server = TcpStream::connect(upstream).await.map_err(|e| e.to_string())?;
    let mut pending: Vec<u8> = Vec::new();
    let mut cbuf = vec![0u8; 16 * 1024];
    let mut sbuf = vec![0u8; 16 * 1024];
    let mut forwarded = 0usize;
    let mut seen_requests = 0usize;
    loop {
        tokio::select! {
            n = client.read(&mut cbuf) => {
                let n = n.map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("the client closed before sending a request".into());
                }
                pending.extend_from_slice(cbuf.get(..n).unwrap_or_default());
                while let (Some(&ptype), Some(lo), Some(hi)) = (pending.get(2), pending.get(8), pending.get(9)) {
                    let len = usize::from(u16::from_le_bytes([*lo, *hi]));
                    if len < 16 || pending.len() < len {
                        break;
                    }
                    let pdu: Vec<u8> = pending.drain(..len).collect();
                    server.write_all(&pdu).await.map_err(|e| e.to_string())?;
                    forwarded += 1;
                    seen_requests += usize::from(ptype == 0);
                    if seen_requests == requests {
                        // the last request went out: cut both sides before its answer comes back
                        drop(server);
                        drop(client);
                        return Ok(forwarded);
                    }
                }
            }
            // once a request went out, no answer comes back: every call stays pending until the cut
            n = server.read(&mut sbuf), if seen_requests == 0 => {
                let n = n.map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("the server closed first".into());
                }
                client.write_all(sbuf.get(..n).unwrap_or_default()).await.map_err(|e| e.to_string())?;
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------ tshark

/// The capture of the whole run: no malformed frame (ports 135 and the mapped ones decoded as DCE/RPC), and the
/// LookupNames fragmentation visible on the wire (requests and responses with PFC_FIRST_FRAG but not
/// PFC_LAST_FRAG).
fn group_tshark(s: &mut Suite, capture: Capture) {
    s.begin("tshark");
    // let dumpcap write the last packets
    std::thread::sleep(Duration::from_millis(500));
    let file = match capture.stop() {
        Ok(f) => f,
        Err(e) => {
            s.row("-", "-", "-", "-", "stop the capture", Err(e.to_string()));
            return s.end();
        }
    };
    let ports: BTreeSet<u16> = s.ports.values().copied().collect();
    let mut decode_as: Vec<String> = Vec::new();
    for p in &ports {
        decode_as.push("-d".into());
        decode_as.push(format!("tcp.port=={p},dcerpc"));
    }
    let opts: Vec<&str> = decode_as.iter().map(String::as_str).collect();
    let result = match tshark_check(&file, &opts) {
        Ok(check) => {
            let errors: Vec<String> = check.errors().map(|e| format!("frame {}: {}", e.frame, e.message)).collect();
            if check.malformed() == 0 && errors.is_empty() {
                Ok(format!("no malformed frame in {}", file.display()))
            } else {
                Err(format!("malformed frames {:?}, errors {errors:?} in {}", check.malformed_frames, file.display()))
            }
        }
        Err(e) => Err(e.to_string()),
    };
    s.row("-", "-", "-", "-", format!("tshark: whole capture (ports 135, {ports:?} as dcerpc)"), result);
    let samr_port = s.ports.get(&Iface::Samr).copied();
    let result = fragment_counts(&file, samr_port, &opts);
    s.row("-", "-", "-", "-", "tshark: samr requests and responses in several fragments", result);
    let result = header_signing_on_wire(&file, &ports, &opts);
    s.row("-", "-", "-", "-", "tshark: PFC_SUPPORT_HEADER_SIGN offered / echoed per bind", result);
    let result = calls_in_flight(&file, samr_port, &opts);
    s.row("-", "-", "-", "-", "tshark: calls in flight on the 32-call connection", result);
    let result = two_contexts_on_wire(&file, s.ports.get(&Iface::Wkssvc).copied(), &opts);
    s.row("-", "-", "-", "-", "tshark: calls under both security contexts", result);
    s.end();
}

/// tshark `fields` of the frames matching `filter`, one row per frame; a frame with several PDUs gives
/// comma-separated values, split here (one inner value per PDU).
fn frame_fields(file: &Path, filter: &str, fields: &[&str], opts: &[&str]) -> Result<Vec<Vec<Vec<String>>>, String> {
    let rows = dcom_testpeers::tshark_fields(file, filter, fields, opts).map_err(|e| e.to_string())?;
    Ok(rows.into_iter().map(|r| r.iter().map(|f| f.split(',').map(str::to_owned).collect()).collect()).collect())
}

fn hex_u8(s: &str) -> Option<u8> {
    u8::from_str_radix(s.trim_start_matches("0x"), 16).ok()
}

/// [MS-RPCE 3.3.1.5.2.2]: every authenticated bind of the matrix to the DC's RPC ports offered
/// PFC_SUPPORT_HEADER_SIGN (0x04) exactly when the case had header signing on, and Samba's bind_ack echoed
/// exactly what was offered.
fn header_signing_on_wire(file: &Path, ports: &BTreeSet<u16>, opts: &[&str]) -> Result<String, String> {
    let port_is = |dir: &str| ports.iter().map(|p| format!("tcp.{dir}port == {p}")).collect::<Vec<_>>().join(" || ");
    let by_stream = |filter: String| -> Result<BTreeMap<String, u8>, String> {
        frame_fields(file, &filter, &["tcp.stream", "dcerpc.cn_flags"], opts)?
            .into_iter()
            .map(|r| {
                match (r.first().and_then(|v| v.first()), r.get(1).and_then(|v| v.first()).and_then(|f| hex_u8(f))) {
                    (Some(stream), Some(flags)) => Ok((stream.clone(), flags)),
                    _ => Err(format!("unreadable row {r:?}")),
                }
            })
            .collect()
    };
    let binds = by_stream(format!("dcerpc.pkt_type == 11 && dcerpc.cn_auth_len > 0 && ({})", port_is("dst")))?;
    let acks = by_stream(format!("dcerpc.pkt_type == 12 && ({})", port_is("src")))?;
    // the wrong-SPN binds get a bind_nak
    let naks = by_stream(format!("dcerpc.pkt_type == 13 && ({})", port_is("src")))?;
    let offered = binds.values().filter(|f| *f & 0x04 != 0).count();
    let mut mismatched = Vec::new();
    for (stream, bind) in &binds {
        match acks.get(stream) {
            Some(ack) if (ack & 0x04) == (bind & 0x04) => {}
            None if naks.contains_key(stream) => {}
            other => mismatched.push(format!("stream {stream}: bind flags 0x{bind:02x}, bind_ack {other:?}")),
        }
    }
    if !mismatched.is_empty() {
        return Err(mismatched.join("; "));
    }
    if offered == 0 || offered == binds.len() {
        return Err(format!(
            "{offered} of {} authenticated binds offered header signing: expected some of each",
            binds.len()
        ));
    }
    Ok(format!(
        "{offered} of {} authenticated binds offered it, every bind_ack echoed the offer ({} bind_naks)",
        binds.len(),
        naks.len()
    ))
}

/// The 32-call connection (the one whose alter_context adds a context without authentication): how many
/// requests were outstanding at most, from the order of request and response PDUs on the wire.
fn calls_in_flight(file: &Path, samr_port: Option<u16>, opts: &[&str]) -> Result<String, String> {
    let port = samr_port.ok_or("no samr port")?;
    let alters = frame_fields(
        file,
        &format!("dcerpc.pkt_type == 14 && dcerpc.cn_auth_len == 0 && tcp.dstport == {port}"),
        &["tcp.stream"],
        opts,
    )?;
    let stream = alters.first().and_then(|r| r.first()).and_then(|v| v.first()).ok_or("no such connection")?.clone();
    let pdus = frame_fields(
        file,
        &format!("tcp.stream == {stream} && (dcerpc.pkt_type == 0 || dcerpc.pkt_type == 2)"),
        &["dcerpc.pkt_type"],
        opts,
    )?;
    let (mut now, mut max, mut requests) = (0i64, 0i64, 0);
    for t in pdus.iter().filter_map(|r| r.first()).flatten() {
        if t == "0" {
            now += 1;
            requests += 1;
        } else {
            now -= 1;
        }
        max = max.max(now);
    }
    // the 32 calls and the 16 closes: several must have been in flight together
    if requests < 48 || max < 4 {
        return Err(format!("{requests} requests, at most {max} in flight"));
    }
    Ok(format!("{requests} requests on stream {stream}, up to {max} in flight at once"))
}

/// The connections with two security contexts (those with an alter_context for auth_context_id 2, in the
/// order of [`TWO_CONTEXTS`]): their calls ran under auth_context_id 1 and 2, 4 each, at the levels of the pair.
fn two_contexts_on_wire(file: &Path, port: Option<u16>, opts: &[&str]) -> Result<String, String> {
    let port = port.ok_or("no wkssvc port")?;
    let alters = frame_fields(
        file,
        &format!("dcerpc.pkt_type == 14 && dcerpc.auth_ctx_id == 2 && tcp.dstport == {port}"),
        &["tcp.stream"],
        opts,
    )?;
    let mut streams: Vec<String> = Vec::new();
    for s in alters.iter().filter_map(|r| r.first()).filter_map(|v| v.first()) {
        if !streams.contains(s) {
            streams.push(s.clone());
        }
    }
    if streams.len() != TWO_CONTEXTS.len() {
        return Err(format!(
            "{} connections with a second security context, expected {}",
            streams.len(),
            TWO_CONTEXTS.len()
        ));
    }
    let mut out = Vec::new();
    for (stream, (first, second)) in streams.iter().zip(TWO_CONTEXTS) {
        let want =
            [("1".to_owned(), first.level.auth().0.to_string()), ("2".to_owned(), second.level.auth().0.to_string())];
        out.push(contexts_of_stream(file, stream, &want, opts)?);
    }
    Ok(out.join("; "))
}

fn contexts_of_stream(file: &Path, stream: &str, want: &[(String, String)], opts: &[&str]) -> Result<String, String> {
    let rows = frame_fields(
        file,
        &format!("tcp.stream == {stream} && dcerpc.pkt_type == 2"),
        &["dcerpc.pkt_type", "dcerpc.auth_ctx_id", "dcerpc.auth_level"],
        opts,
    )?;
    // Counted on the responses (the server answers under the request's context): tshark also shows the
    // plaintext verification trailer's header2 of a PKT_INTEGRITY request as a `dcerpc.pkt_type`, so request
    // frames do not give one value per PDU. A frame may carry several responses: one value each per PDU.
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in &rows {
        let (Some(types), Some(ids), Some(levels)) = (r.first(), r.get(1), r.get(2)) else { continue };
        if types.len() != ids.len() || ids.len() != levels.len() {
            return Err(format!("unaligned fields {r:?}"));
        }
        for ((t, id), level) in types.iter().zip(ids).zip(levels) {
            if t == "2" {
                *seen.entry((id.clone(), level.clone())).or_default() += 1;
            }
        }
    }
    if seen.values().any(|n| *n != 4) {
        return Err(format!("requests by (auth_context_id, auth_level): {seen:?}, expected 4 each"));
    }
    let keys: Vec<(String, String)> = seen.keys().cloned().collect();
    if keys != want {
        return Err(format!("stream {stream}: requests by (auth_context_id, auth_level): {seen:?}, expected {want:?}"));
    }
    Ok(format!("stream {stream}: (ctx id, level) {seen:?}"))
}

fn fragment_counts(file: &Path, samr_port: Option<u16>, opts: &[&str]) -> Result<String, String> {
    let port = samr_port.ok_or("no samr port")?;
    let count = |filter: String| -> Result<usize, String> {
        dcom_testpeers::tshark_fields(file, &filter, &["frame.number"], opts)
            .map(|r| r.len())
            .map_err(|e| e.to_string())
    };
    // first fragment of a multi-fragment PDU: PFC_FIRST_FRAG (0x01) without PFC_LAST_FRAG (0x02)
    let flags = |first: u8| format!("dcerpc.cn_flags.first_frag == {first} && dcerpc.cn_flags.last_frag == 0");
    let req = count(format!("tcp.dstport == {port} && dcerpc.pkt_type == 0 && {}", flags(1)))?;
    let resp = count(format!("tcp.srcport == {port} && dcerpc.pkt_type == 2 && {}", flags(1)))?;
    let middle = count(format!("tcp.srcport == {port} && dcerpc.pkt_type == 2 && {}", flags(0)))?;
    if req > 0 && resp > 0 && middle > 0 {
        Ok(format!("{req} fragmented requests, {resp} fragmented responses ({middle} middle fragments)"))
    } else {
        Err(format!("fragmented requests {req}, responses {resp}, middle response fragments {middle}"))
    }
}

// ------------------------------------------------------------------------------------------------ the test

#[expect(clippy::panic, reason = "a missing peer must fail the test loudly, never skip it")]
fn the_peers() -> &'static Peers {
    match peers() {
        Ok(p) => p,
        Err(e) => panic!("the interop peers are not available: {e}"),
    }
}

/// The Kerberos setup: krb5.conf of the peers, a keytab with alice's keys (`samba-tool domain exportkeytab`),
/// a ccache with alice's TGT (`kinit`).
fn kerberos_setup(p: &Peers, dir: &Path) -> Result<(Krb5Profile, Keytab, CredentialCache), String> {
    let profile = Krb5Profile::load(&p.krb5_conf).map_err(|e| format!("krb5.conf: {e}"))?;
    let keytab_path = dir.join("samba_dc_client_alice.keytab");
    let _ = std::fs::remove_file(&keytab_path);
    let out = p
        .command("samba-tool")
        .args(["domain", "exportkeytab"])
        .arg(&keytab_path)
        .arg(format!("--principal={}", ALICE.principal()))
        .arg("-s")
        .arg(&p.smb_conf)
        .output()
        .map_err(|e| format!("samba-tool: {e}"))?;
    if !out.status.success() {
        return Err(format!("samba-tool domain exportkeytab: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let keytab = Keytab::load(&keytab_path).map_err(|e| format!("alice's keytab: {e}"))?;
    let ccache_path = dir.join("samba_dc_client_alice.ccache");
    let _ = std::fs::remove_file(&ccache_path);
    p.kinit(&ALICE, &ccache_path).map_err(|e| e.to_string())?;
    let ccache = CredentialCache::load(&ccache_path).map_err(|e| format!("alice's ccache: {e}"))?;
    Ok((profile, keytab, ccache))
}

fn print_matrix(s: &Suite) -> Vec<String> {
    let mut out = String::new();
    let _ = writeln!(out, "\n=== samba_dc_client matrix ({:.1} s) ===", s.started.elapsed().as_secs_f64());
    let _ = writeln!(
        out,
        "{:<12} {:<11} {:<17} {:<11} {:<15} {:<52} result",
        "group", "provider", "level", "hdr-sign", "credential", "interface / case"
    );
    let mut failures = Vec::new();
    for r in &s.rows {
        let (word, detail) = match &r.result {
            Ok(d) => ("ok", d.as_str()),
            Err(d) => ("FAIL", d.as_str()),
        };
        let _ = writeln!(
            out,
            "{:<12} {:<11} {:<17} {:<11} {:<15} {:<52} {word:<4} {detail}",
            r.group, r.provider, r.level, r.hdr, r.cred, r.what
        );
        if r.result.is_err() {
            failures
                .push(format!("[{}] {} {} {} {} {}: {detail}", r.group, r.provider, r.level, r.hdr, r.cred, r.what));
        }
    }
    let _ = writeln!(out, "--- time per group ---");
    for (g, d, n, f) in &s.groups {
        let _ = writeln!(out, "{g:<12} {:>7.2} s  {n:>3} cases  {f:>3} failed", d.as_secs_f64());
    }
    let _ = writeln!(out, "{} cases, {} failed", s.rows.len(), failures.len());
    let _ = std::io::stderr().lock().write_all(out.as_bytes());
    failures
}

/// The whole issue #4 suite against the Samba AD DC, in one run (one capture).
#[test]
fn samba_dc_client_interop() {
    let started = Instant::now();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let peers = the_peers();
    assert!(peers.dc_listening(), "the Samba DC does not answer on {}:135", peers.dc.ip);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let (profile, keytab, ccache) = kerberos_setup(peers, &dir).expect("kerberos credentials for alice");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    let mut s = Suite {
        peers,
        rt,
        rows: Vec::new(),
        groups: Vec::new(),
        profile,
        keytab,
        ccache,
        ports: BTreeMap::new(),
        relays: BTreeMap::new(),
        oracle: BTreeMap::new(),
        group: "setup",
        group_start: Instant::now(),
        group_first_row: 0,
        started,
    };
    // the expected results first, outside the capture: the capture is OUR client's traffic (rpcclient's Kerberos
    // exchanges make Samba's KDC answer KRB-ERRORs whose e-data tshark 4.0 calls malformed)
    group_oracle(&mut s);
    // our client reaches the endpoint mapper and the KDC through relays too; the Kerberos contexts find the
    // KDC through the peers' krb5.conf with its kdc line pointed at the relay
    s.relay(EPM_PORT).expect("relay to the endpoint mapper");
    let kdc = s.relay(KDC_PORT).expect("relay to the KDC");
    let relayed = KdcAddress {
        host: kdc.ip().to_string(),
        port: kdc.port(),
        transport: Some(KdcTransport::Tcp),
        proxy_url: None,
    };
    let realms = s.profile.realms.iter_mut().filter(|(r, _)| r == REALM);
    assert_eq!(realms.map(|(_, kdcs)| *kdcs = vec![relayed.clone()]).count(), 1, "krb5.conf has no {REALM} realm");
    let filter = format!("host {SOURCE_IP} and host {}", peers.dc.ip);
    let capture = Capture::start(&filter, dir.join("samba_dc_client.pcapng")).expect("dumpcap on lo");
    group_epm(&mut s);
    group_matrix(&mut s);
    group_fragments(&mut s);
    group_concurrency(&mut s);
    group_failures(&mut s);
    group_tshark(&mut s, capture);
    let failures = print_matrix(&s);
    assert!(
        failures.is_empty(),
        "{} of {} Samba DC interop cases failed:\n{}",
        failures.len(),
        s.rows.len(),
        failures.join("\n")
    );
}
