#![cfg_attr(doc, doc = include_str!("../README.md"))]

mod client;
mod config;
mod error;
#[cfg(feature = "generate")]
pub mod generate;
mod mapper;
mod protector;
mod server;
mod tls;
pub mod x509;

use dcom_auth::{AuthError, AuthErrorKind};
use dcom_pdu::AuthLevel;

pub use client::SchannelClient;
pub use config::{
    CertifiedKey, ClientCertPolicy, ClientOptions, FixedTime, SansIo, SchannelClientConfig, SchannelServerConfig,
    ServerOptions, TlsVersions,
};
pub use error::{SchannelError, SchannelErrorKind};
pub use mapper::{
    CertificateMapper, MAX_NAME_LEN, MapError, MapErrorKind, SubjectCnMapper, ThumbprintMapper, UpnMapper,
};
pub use protector::{
    BINDING_LEN, MAX_BODY_LEN, MAX_FRAGMENT_LEN, MAX_RECORD_PLAINTEXT, PAD_ALIGN, SEQ_LEN, signature_len,
};
/// The exact rustls version this crate is built on (=0.23.46, ring provider): certificate and key types
/// (`rustls::pki_types`), `TimeProvider`, `SecureRandom`.
pub use rustls;
pub use server::SchannelServer;
pub use tls::{CONTENT_APPLICATION_DATA, MAX_TOKEN, RECORD_HEADER_LEN, RECORD_VERSION, RecordShape, TAG_LEN};
pub use x509::CertificateInfo;

/// Checks the authentication level for this provider: only PKT_PRIVACY is supported.
///
/// [MS-RPCE 2.2.1.1.8] levels; Windows' Schannel SSP protects RPC only at `RPC_C_AUTHN_LEVEL_PKT_PRIVACY`,
/// and a TLS record has no sign-only form. CONNECT would authenticate and then send clear PDUs, PKT and
/// PKT_INTEGRITY would need a MAC-only record: all are refused when the context is created (both sides take
/// the level), and the protector's `sign`/`verify` refuse too.
pub fn check_level(level: AuthLevel) -> Result<(), AuthError> {
    if level == AuthLevel::PKT_PRIVACY { Ok(()) } else { Err(level_refused(level)) }
}

fn level_refused(level: AuthLevel) -> AuthError {
    AuthError::new(AuthErrorKind::Unsupported, "schannel authentication level").with_detail(format!(
        "level {} ({}) refused: the schannel provider (auth type 14) supports only pkt_privacy (6)",
        level.name(),
        level.0
    ))
}

pub(crate) fn level_refused_error(context: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::Unsupported, context)
        .with_detail("the schannel provider supports only pkt_privacy: it cannot sign without sealing")
}
