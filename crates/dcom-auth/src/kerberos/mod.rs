//! Kerberos (auth type 16, and inside SPNEGO 9): the active client ([`KerberosClient`]: password, keytab or
//! MIT ccache credentials, KDC legs handed to the caller) and server ([`KerberosServer`]: keytab keys, replay
//! cache, clock skew), keys and keytabs, credential caches, the KDC locator, RFC 4121 per-message tokens,
//! SPNEGO token parsing, and passive decryption of a captured DCE-style connection.

mod ccache;
mod client;
mod der;
mod key;
pub mod keytab;
mod locator;
pub mod mic;
mod passive;
pub(crate) mod proto;
mod server;
pub(crate) mod session;
pub mod spnego;
mod time;
mod wrap;

pub use ccache::{CONFIG_REALM, CcacheCredential, CcachePrincipal, CredentialCache};
pub use client::{KerberosClient, KerberosClientConfig, KerberosCredentials};
pub use key::{EncType, KerberosKey};
pub use locator::{DEFAULT_UDP_PREFERENCE_LIMIT, KdcAddress, Krb5Profile, locate_kdc};
pub use mic::Sender;
pub use passive::{KerberosCaptureKeys, TicketInfo};
pub use proto::{PrincipalNameParts, gss_flags};
pub use server::{DEFAULT_MAX_SKEW_SECS, KerberosServer, KerberosServerConfig, REPLAY_CACHE_CAPACITY, ReplayCache};
pub use time::{Clock, Entropy, FixedClock, OffsetClock, OsEntropy, SystemClock, Timestamp};
pub use wrap::{DCE_EC, DCE_RRC, KerberosProtector, MAX_TOKEN, WRAP_TOK_ID, WRAP_TOKEN_LEN};
