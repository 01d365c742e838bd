//! Driving rustls's unbuffered connections: one handshake leg per call, record shapes, error mapping.

use dcom_auth::{AuthError, AuthErrorKind};
use rustls::client::{ClientConnectionData, UnbufferedClientConnection};
use rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use rustls::unbuffered::{ConnectionState, EncodeError, EncodeTlsData, UnbufferedStatus};
use rustls::{CommonState, ProtocolVersion, SupportedCipherSuite};

use crate::config::supported_suite;

/// Largest handshake token accepted or produced (one flight of TLS records).
pub const MAX_TOKEN: usize = 32 * 1024;

/// Bound on state-machine steps per leg (a flight is a handful of records).
const MAX_STEPS: usize = 256;

/// TLS record header: type (1), legacy version (2), length (2) ([RFC 8446 5.1], [RFC 5246 6.2.1]).
pub const RECORD_HEADER_LEN: usize = 5;
/// `application_data` content type.
pub const CONTENT_APPLICATION_DATA: u8 = 0x17;
/// Legacy record version of TLS 1.2 and TLS 1.3 records after the handshake (`03 03`).
pub const RECORD_VERSION: [u8; 2] = [0x03, 0x03];
/// AEAD tag length of every suite we allow (AES-GCM, ChaCha20-Poly1305).
pub const TAG_LEN: usize = 16;

/// The unbuffered client and server connections, behind one interface.
pub(crate) trait Tls: Send + 'static {
    type Data;
    fn process<'c, 'i>(&'c mut self, incoming: &'i mut [u8]) -> UnbufferedStatus<'c, 'i, Self::Data>;
    fn common(&self) -> &CommonState;
}

impl Tls for UnbufferedClientConnection {
    type Data = ClientConnectionData;
    fn process<'c, 'i>(&'c mut self, incoming: &'i mut [u8]) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }
    fn common(&self) -> &CommonState {
        self
    }
}

impl Tls for UnbufferedServerConnection {
    type Data = ServerConnectionData;
    fn process<'c, 'i>(&'c mut self, incoming: &'i mut [u8]) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }
    fn common(&self) -> &CommonState {
        self
    }
}

/// Maps a rustls error to the provider error kinds.
pub(crate) fn tls_error(e: &rustls::Error, context: &'static str) -> AuthError {
    use rustls::Error as E;
    let (kind, detail) = match e {
        E::DecryptError => (AuthErrorKind::SignatureMismatch, "tls record does not decrypt (aead tag)".to_owned()),
        E::InvalidCertificate(c) => (AuthErrorKind::LogonDenied, format!("peer certificate rejected: {c:?}")),
        E::NoCertificatesPresented => {
            (AuthErrorKind::LogonDenied, "peer presented no certificate where one is required".to_owned())
        }
        E::InvalidMessage(_)
        | E::InappropriateMessage { .. }
        | E::InappropriateHandshakeMessage { .. }
        | E::PeerMisbehaved(_)
        | E::PeerIncompatible(_) => (AuthErrorKind::InvalidToken, format!("tls: {e}")),
        E::AlertReceived(a) => (AuthErrorKind::LogonDenied, format!("tls alert from peer: {a:?}")),
        _ => (AuthErrorKind::Provider, format!("tls: {e}")),
    };
    AuthError::new(kind, context).with_detail(detail)
}

/// How a leg ended.
#[derive(Debug)]
pub(crate) enum Leg {
    /// The handshake goes on: send these bytes (may be empty only if the caller allows it).
    Continue(Vec<u8>),
    /// The handshake is complete; these bytes (possibly none) are the last flight to send.
    Done(Vec<u8>),
}

fn encode<D>(enc: &mut EncodeTlsData<'_, D>, out: &mut Vec<u8>) -> Result<(), AuthError> {
    let old = out.len();
    let mut room = 4096usize;
    loop {
        let end = old.checked_add(room).filter(|e| *e <= MAX_TOKEN.saturating_mul(2)).ok_or_else(too_big)?;
        out.resize(end, 0);
        let Some(dst) = out.get_mut(old..) else {
            return Err(too_big());
        };
        match enc.encode(dst) {
            Ok(n) => {
                out.truncate(old.saturating_add(n));
                return Ok(());
            }
            Err(EncodeError::InsufficientSize(s)) if s.required_size > room => room = s.required_size,
            Err(e) => {
                return Err(AuthError::new(AuthErrorKind::Provider, "tls handshake encode").with_detail(e.to_string()));
            }
        }
    }
}

fn too_big() -> AuthError {
    AuthError::new(AuthErrorKind::Unsupported, "tls handshake token")
        .with_detail(format!("a handshake flight is larger than {MAX_TOKEN} bytes"))
}

/// Feeds one peer token (complete TLS records) to `conn` and collects the records it answers with.
pub(crate) fn handshake_leg<T: Tls>(conn: &mut T, input: &[u8]) -> Result<Leg, AuthError> {
    if input.len() > MAX_TOKEN {
        return Err(AuthError::new(AuthErrorKind::InvalidToken, "tls handshake token")
            .with_detail(format!("{} bytes, more than {MAX_TOKEN}", input.len())));
    }
    let mut incoming = input.to_vec();
    let mut start = 0usize;
    let mut out = Vec::new();
    for _ in 0..MAX_STEPS {
        let Some(remaining) = incoming.get_mut(start..) else {
            return Err(AuthError::new(AuthErrorKind::Provider, "tls handshake").with_detail("discard past input"));
        };
        let UnbufferedStatus { discard, state } = conn.process(remaining);
        let stop = match state {
            // A record of the handshake that does not decrypt is a bad token, not a PDU signature failure.
            Err(rustls::Error::DecryptError) => {
                return Err(AuthError::new(AuthErrorKind::InvalidToken, "tls handshake")
                    .with_detail("an encrypted handshake record does not decrypt"));
            }
            Err(e) => return Err(tls_error(&e, "tls handshake")),
            Ok(ConnectionState::EncodeTlsData(mut enc)) => {
                encode(&mut enc, &mut out)?;
                None
            }
            Ok(ConnectionState::TransmitTlsData(t)) => {
                t.done();
                None
            }
            Ok(ConnectionState::BlockedHandshake) => Some(false),
            Ok(ConnectionState::WriteTraffic(_)) => Some(true),
            Ok(ConnectionState::ReadTraffic(_) | ConnectionState::ReadEarlyData(_)) => {
                return Err(AuthError::new(AuthErrorKind::InvalidToken, "tls handshake token")
                    .with_detail("application data inside a handshake token"));
            }
            Ok(other) => {
                return Err(AuthError::new(AuthErrorKind::InvalidToken, "tls handshake")
                    .with_detail(format!("unexpected tls state {other:?}")));
            }
        };
        start = start.saturating_add(discard);
        let Some(writable) = stop else { continue };
        if start != incoming.len() {
            // Each token carries whole records of one flight; a partial record is never completed later.
            return Err(AuthError::new(AuthErrorKind::InvalidToken, "tls handshake token")
                .at(start)
                .with_detail(format!("{} bytes of an incomplete tls record", incoming.len().saturating_sub(start))));
        }
        if out.len() > MAX_TOKEN {
            return Err(too_big());
        }
        // A TLS 1.3 server may write (half-RTT) before the client's Finished: only a finished handshake counts.
        let done = writable && !conn.common().is_handshaking();
        return Ok(if done { Leg::Done(out) } else { Leg::Continue(out) });
    }
    Err(AuthError::new(AuthErrorKind::Provider, "tls handshake").with_detail("tls state machine does not settle"))
}

/// The shape of one application-data record of the negotiated suite (`docs/SCHANNEL.md`, "Record shapes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordShape {
    /// Bytes before the encrypted payload: the record header, plus the explicit nonce of TLS 1.2 AES-GCM.
    pub header: usize,
    /// Bytes after the encrypted payload: TLS 1.3's encrypted inner content type, then the tag.
    pub trailer: usize,
}

impl RecordShape {
    /// The shape of `suite`'s records, for the suites the wire form supports.
    pub(crate) fn of(suite: SupportedCipherSuite) -> Option<Self> {
        if !supported_suite(suite.suite()) {
            return None;
        }
        Some(match suite {
            // RFC 8446 5.2: TLSInnerPlaintext adds the content type byte (rustls adds no padding).
            SupportedCipherSuite::Tls13(_) => Self { header: RECORD_HEADER_LEN, trailer: 1 + TAG_LEN },
            // RFC 5288 3: GCMNonce explicit part (8 bytes); RFC 7905: ChaCha20-Poly1305 has none.
            SupportedCipherSuite::Tls12(s) => {
                Self { header: RECORD_HEADER_LEN + s.aead_alg.key_block_shape().explicit_nonce_len, trailer: TAG_LEN }
            }
        })
    }
}

/// `(version << 16) | cipher suite`, the `flags` of the context info.
pub(crate) fn negotiated_flags(common: &CommonState) -> u32 {
    let version = common.protocol_version().map_or(0, u16::from);
    let suite = common.negotiated_cipher_suite().map_or(0, |s| u16::from(s.suite()));
    (u32::from(version) << 16) | u32::from(suite)
}

/// True for the TLS 1.3 protocol version.
pub(crate) fn is_tls13(common: &CommonState) -> bool {
    common.protocol_version() == Some(ProtocolVersion::TLSv1_3)
}
