//! Client and server configuration: certificates, trust anchors, TLS versions, and the sans-IO inputs (time,
//! randomness). A configuration is built once and shared by every connection (it holds `Arc`s).

use core::fmt;
use std::sync::Arc;

use rustls::client::Resumption;
use rustls::crypto::{CryptoProvider, SecureRandom};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::time_provider::{DefaultTimeProvider, TimeProvider};
use rustls::{CipherSuite, ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};

use crate::error::{SchannelError, SchannelErrorKind};
use crate::mapper::CertificateMapper;

/// Which TLS versions a side accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TlsVersions {
    /// TLS 1.3 and TLS 1.2 (the default): two peers of this crate negotiate TLS 1.3.
    #[default]
    Tls13AndTls12,
    /// TLS 1.3 only.
    Tls13Only,
    /// TLS 1.2 only (ECDHE with AES-GCM or ChaCha20-Poly1305, extended master secret required).
    Tls12Only,
}

impl TlsVersions {
    fn list(self) -> &'static [&'static SupportedProtocolVersion] {
        static BOTH: [&SupportedProtocolVersion; 2] = [&rustls::version::TLS13, &rustls::version::TLS12];
        static TLS13: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
        static TLS12: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
        match self {
            Self::Tls13AndTls12 => &BOTH,
            Self::Tls13Only => &TLS13,
            Self::Tls12Only => &TLS12,
        }
    }
}

/// Whether the server asks for a client certificate.
#[derive(Clone, Default)]
pub enum ClientCertPolicy {
    /// A client certificate chaining to one of these CA certificates is required (the default for a server
    /// that authenticates callers); a client without one fails the handshake.
    Required(Vec<CertificateDer<'static>>),
    /// A certificate is requested; if the client sends one it must chain to these CAs and is mapped, if it
    /// sends none the caller is the anonymous identity.
    Optional(Vec<CertificateDer<'static>>),
    /// No certificate is requested: every caller is anonymous (server-authenticated TLS only).
    #[default]
    None,
}

impl fmt::Debug for ClientCertPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Required(cas) => write!(f, "Required({} CAs)", cas.len()),
            Self::Optional(cas) => write!(f, "Optional({} CAs)", cas.len()),
            Self::None => f.write_str("None"),
        }
    }
}

/// A clock that always reads the same instant: the time input of a sans-IO test or replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedTime(pub UnixTime);

impl TimeProvider for FixedTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(self.0)
    }
}

/// The sans-IO inputs rustls accepts from outside.
///
/// * `time`: certificate validity is checked at this clock's time (default: the system clock).
/// * `random`: the source of the hello randoms and session ids (default: ring's `SystemRandom`). It must be
///   `'static` because rustls stores it in the [`CryptoProvider`]. ECDHE private keys and signature nonces are
///   drawn by ring from the operating system inside rustls and cannot be supplied.
#[derive(Clone, Default)]
pub struct SansIo {
    /// The clock; `None` is the system clock.
    pub time: Option<Arc<dyn TimeProvider>>,
    /// The random source; `None` is ring's system random.
    pub random: Option<&'static dyn SecureRandom>,
}

impl fmt::Debug for SansIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SansIo").field("time", &self.time).field("random", &self.random.map(|_| "custom")).finish()
    }
}

impl SansIo {
    fn time(&self) -> Arc<dyn TimeProvider> {
        self.time.clone().unwrap_or_else(|| Arc::new(DefaultTimeProvider))
    }

    /// The ring provider limited to AEAD suites with 16-byte tags (the record shapes of the wire form).
    fn provider(&self) -> Arc<CryptoProvider> {
        let mut p = rustls::crypto::ring::default_provider();
        p.cipher_suites.retain(|s| supported_suite(s.suite()));
        if let Some(r) = self.random {
            p.secure_random = r;
        }
        Arc::new(p)
    }
}

/// The cipher suites whose record shape `docs/SCHANNEL.md` defines (all AEAD, 16-byte tag).
pub(crate) fn supported_suite(s: CipherSuite) -> bool {
    matches!(
        s,
        CipherSuite::TLS13_AES_128_GCM_SHA256
            | CipherSuite::TLS13_AES_256_GCM_SHA384
            | CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
            | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
            | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
            | CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
            | CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
            | CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
            | CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    )
}

fn roots(cas: &[CertificateDer<'static>], context: &'static str) -> Result<Arc<RootCertStore>, SchannelError> {
    let mut store = RootCertStore::empty();
    for ca in cas {
        store
            .add(ca.clone())
            .map_err(|e| SchannelError::new(SchannelErrorKind::Certificate, context, e.to_string()))?;
    }
    if store.is_empty() {
        return Err(SchannelError::new(SchannelErrorKind::Certificate, context, "no trust anchor"));
    }
    Ok(Arc::new(store))
}

fn config_err(context: &'static str) -> impl Fn(rustls::Error) -> SchannelError {
    move |e| {
        let kind = match e {
            rustls::Error::InconsistentKeys(_) | rustls::Error::General(_) => SchannelErrorKind::Key,
            rustls::Error::InvalidCertificate(_) => SchannelErrorKind::Certificate,
            _ => SchannelErrorKind::Config,
        };
        SchannelError::new(kind, context, e.to_string())
    }
}

/// A certificate chain (end entity first) and its private key.
pub struct CertifiedKey {
    /// The chain, end-entity certificate first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The private key (PKCS#8, SEC1 or PKCS#1 DER).
    pub key: PrivateKeyDer<'static>,
}

impl Clone for CertifiedKey {
    fn clone(&self) -> Self {
        Self { chain: self.chain.clone(), key: self.key.clone_key() }
    }
}

impl fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertifiedKey").field("chain_len", &self.chain.len()).field("key", &"<redacted>").finish()
    }
}

/// What a server needs.
#[derive(Clone)]
pub struct ServerOptions {
    /// The server's certificate chain and key.
    pub identity: CertifiedKey,
    /// Whether and from which CAs a client certificate is required.
    pub client_certs: ClientCertPolicy,
    /// Maps a verified client certificate to the caller's identity.
    pub mapper: Arc<dyn CertificateMapper>,
    /// Accepted TLS versions.
    pub versions: TlsVersions,
    /// Clock and random inputs.
    pub sans_io: SansIo,
}

impl fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerOptions")
            .field("identity", &self.identity)
            .field("client_certs", &self.client_certs)
            .field("mapper", &self.mapper)
            .field("versions", &self.versions)
            .field("sans_io", &self.sans_io)
            .finish()
    }
}

impl ServerOptions {
    /// Options with the default versions (TLS 1.3 and 1.2) and the system clock and random.
    #[must_use]
    pub fn new(identity: CertifiedKey, client_certs: ClientCertPolicy, mapper: Arc<dyn CertificateMapper>) -> Self {
        Self { identity, client_certs, mapper, versions: TlsVersions::default(), sans_io: SansIo::default() }
    }
}

/// A built server configuration, shared by the connections of a server.
#[derive(Clone)]
pub struct SchannelServerConfig {
    pub(crate) tls: Arc<ServerConfig>,
    pub(crate) mapper: Arc<dyn CertificateMapper>,
    pub(crate) policy: PolicyKind,
}

/// [`ClientCertPolicy`] without its CA list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PolicyKind {
    Required,
    Optional,
    None,
}

impl fmt::Debug for SchannelServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchannelServerConfig").field("policy", &self.policy).field("mapper", &self.mapper).finish()
    }
}

impl SchannelServerConfig {
    /// Builds the rustls server configuration: no session tickets, no session cache, no early data, extended
    /// master secret required for TLS 1.2.
    pub fn new(options: ServerOptions) -> Result<Self, SchannelError> {
        let provider = options.sans_io.provider();
        let builder = ServerConfig::builder_with_details(provider.clone(), options.sans_io.time())
            .with_protocol_versions(options.versions.list())
            .map_err(config_err("server protocol versions"))?;
        let (builder, policy) = match &options.client_certs {
            ClientCertPolicy::Required(cas) | ClientCertPolicy::Optional(cas) => {
                let required = matches!(options.client_certs, ClientCertPolicy::Required(_));
                let mut v = WebPkiClientVerifier::builder_with_provider(
                    roots(cas, "client certificate authorities")?,
                    provider,
                );
                if !required {
                    v = v.allow_unauthenticated();
                }
                let verifier = v.build().map_err(|e| {
                    SchannelError::new(SchannelErrorKind::Certificate, "client certificate verifier", e.to_string())
                })?;
                let kind = if required { PolicyKind::Required } else { PolicyKind::Optional };
                (builder.with_client_cert_verifier(verifier), kind)
            }
            ClientCertPolicy::None => (builder.with_no_client_auth(), PolicyKind::None),
        };
        let mut tls = builder
            .with_single_cert(options.identity.chain.clone(), options.identity.key.clone_key())
            .map_err(config_err("server certificate"))?;
        // No resumption of any kind: every RPC connection runs a full handshake (and so re-authenticates).
        tls.send_tls13_tickets = 0;
        tls.session_storage = Arc::new(NoServerSessionStorage {});
        tls.max_early_data_size = 0;
        tls.send_half_rtt_data = false;
        tls.require_ems = true;
        Ok(Self { tls: Arc::new(tls), mapper: options.mapper, policy })
    }
}

/// What a client needs.
#[derive(Clone, Default)]
pub struct ClientOptions {
    /// CA certificates the server's chain must lead to.
    pub roots: Vec<CertificateDer<'static>>,
    /// The name the server certificate must carry (DNS name or IP address). `None`: taken from the
    /// [`dcom_auth::ClientRequirements::target_name`] (an SPN such as `host/server.example.com` gives
    /// `server.example.com`).
    pub server_name: Option<String>,
    /// The client certificate and key, if the client authenticates.
    pub client_cert: Option<CertifiedKey>,
    /// Accepted TLS versions.
    pub versions: TlsVersions,
    /// Clock and random inputs.
    pub sans_io: SansIo,
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("roots", &self.roots.len())
            .field("server_name", &self.server_name)
            .field("client_cert", &self.client_cert)
            .field("versions", &self.versions)
            .field("sans_io", &self.sans_io)
            .finish()
    }
}

impl ClientOptions {
    /// Options trusting `roots`, with an optional client certificate.
    #[must_use]
    pub fn new(roots: Vec<CertificateDer<'static>>, client_cert: Option<CertifiedKey>) -> Self {
        Self { roots, client_cert, ..Self::default() }
    }
}

/// A built client configuration.
#[derive(Clone)]
pub struct SchannelClientConfig {
    /// With the client certificate (when one is configured).
    pub(crate) with_cert: Option<Arc<ClientConfig>>,
    /// Without certificate (anonymous impersonation level, or no certificate configured).
    pub(crate) anonymous: Arc<ClientConfig>,
    pub(crate) server_name: Option<String>,
}

impl fmt::Debug for SchannelClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchannelClientConfig")
            .field("client_cert", &self.with_cert.is_some())
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl SchannelClientConfig {
    /// Builds the rustls client configurations (with and without the client certificate): no resumption,
    /// no early data, SNI sent for DNS names, extended master secret required for TLS 1.2.
    pub fn new(options: ClientOptions) -> Result<Self, SchannelError> {
        let provider = options.sans_io.provider();
        let roots = roots(&options.roots, "server certificate authorities")?;
        let base = || {
            ClientConfig::builder_with_details(provider.clone(), options.sans_io.time())
                .with_protocol_versions(options.versions.list())
                .map_err(config_err("client protocol versions"))
                .map(|b| b.with_root_certificates(roots.clone()))
        };
        let finish = |mut c: ClientConfig| {
            c.resumption = Resumption::disabled();
            c.enable_early_data = false;
            c.require_ems = true;
            Arc::new(c)
        };
        let anonymous = finish(base()?.with_no_client_auth());
        let with_cert = match &options.client_cert {
            Some(ck) => Some(finish(
                base()?
                    .with_client_auth_cert(ck.chain.clone(), ck.key.clone_key())
                    .map_err(config_err("client certificate"))?,
            )),
            None => None,
        };
        Ok(Self { with_cert, anonymous, server_name: options.server_name })
    }
}
