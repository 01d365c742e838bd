//! The acceptor: a rustls unbuffered server connection driven one RPC auth token at a time, and the mapping
//! of the client certificate to the caller's identity.

use dcom_auth::{
    AuthError, AuthErrorKind, ContextInfo, Identity, ImpersonationLevel, MessageProtector, RequestedAttributes,
    SecretBytes, SecurityContext, ServerContext, Step, VerifierSizes,
};
use dcom_pdu::{AuthLevel, AuthType};
use rustls::server::UnbufferedServerConnection;
use tracing::debug;

use crate::config::{PolicyKind, SchannelServerConfig};
use crate::protector::{PAD_ALIGN, SchannelProtector, signature_len};
use crate::tls::{Leg, MAX_TOKEN, RecordShape, handshake_leg, is_tls13, negotiated_flags};
use crate::x509::CertificateInfo;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Handshaking,
    Complete,
    Failed,
}

/// Server side of the Schannel-equivalent provider (auth type 14).
///
/// `step(ClientHello)` answers with the server flight (bind_ack); `step(client flight)` completes the context:
/// with TLS 1.3 without a token, with TLS 1.2 with ChangeCipherSpec/Finished (alter_context_resp). On
/// completion the client certificate (if any) is parsed and mapped to the caller's [`Identity`]; no
/// certificate (policy `Optional` or `None`) gives the anonymous identity.
pub struct SchannelServer {
    conn: Option<UnbufferedServerConnection>,
    config: SchannelServerConfig,
    state: State,
    shape: Option<RecordShape>,
    info: Option<ContextInfo>,
    identity: Option<Identity>,
    certificate: Option<CertificateInfo>,
    requested: Option<RequestedAttributes>,
}

impl core::fmt::Debug for SchannelServer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SchannelServer")
            .field("state", &self.state)
            .field("identity", &self.identity)
            .field("certificate", &self.certificate)
            .field("shape", &self.shape)
            .finish_non_exhaustive()
    }
}

impl SchannelServer {
    /// A server context for one connection; refused (`Unsupported`) unless `level` is PKT_PRIVACY.
    pub fn new(config: &SchannelServerConfig, level: AuthLevel) -> Result<Self, AuthError> {
        crate::check_level(level)?;
        let conn = UnbufferedServerConnection::new(config.tls.clone())
            .map_err(|e| crate::tls::tls_error(&e, "schannel server setup"))?;
        Ok(Self {
            conn: Some(conn),
            config: config.clone(),
            state: State::Start,
            shape: None,
            info: None,
            identity: None,
            certificate: None,
            requested: None,
        })
    }

    /// The client's end-entity certificate, once the context is complete and the client sent one.
    #[must_use]
    pub const fn peer_certificate(&self) -> Option<&CertificateInfo> {
        self.certificate.as_ref()
    }

    fn run(&mut self, input: &[u8]) -> Result<Step, AuthError> {
        let conn = self.conn.as_mut().ok_or(AuthError::new(AuthErrorKind::OutOfSequence, "schannel server"))?;
        match handshake_leg(conn, input)? {
            Leg::Continue(out) => {
                if out.is_empty() {
                    return Err(AuthError::new(AuthErrorKind::InvalidToken, "schannel server leg")
                        .with_detail("the client's flight is incomplete"));
                }
                self.state = State::Handshaking;
                Ok(Step::Continue { token: out })
            }
            Leg::Done(out) => {
                self.finish()?;
                Ok(Step::Complete { token: if out.is_empty() { None } else { Some(out) } })
            }
        }
    }

    fn finish(&mut self) -> Result<(), AuthError> {
        let conn = self.conn.as_ref().ok_or(AuthError::new(AuthErrorKind::OutOfSequence, "schannel server"))?;
        let suite = conn
            .negotiated_cipher_suite()
            .ok_or(AuthError::new(AuthErrorKind::Provider, "schannel server").with_detail("no cipher suite"))?;
        let shape = RecordShape::of(suite).ok_or(
            AuthError::new(AuthErrorKind::Unsupported, "schannel cipher suite")
                .with_detail(format!("{:?} has no defined record shape", suite.suite())),
        )?;
        let end_entity = conn.peer_certificates().and_then(|c| c.first());
        let (identity, certificate) = match end_entity {
            Some(cert) => {
                // rustls verified the chain against the client CAs at the configured time; map the holder.
                let info = CertificateInfo::parse(cert.as_ref()).map_err(|e| {
                    AuthError::new(AuthErrorKind::LogonDenied, "client certificate")
                        .at(e.offset)
                        .with_detail(e.to_string())
                })?;
                let identity = self.config.mapper.map(&info).map_err(|e| {
                    AuthError::new(AuthErrorKind::UnknownUser, "client certificate mapping").with_detail(e.to_string())
                })?;
                (identity, Some(info))
            }
            None => {
                if self.config.policy == PolicyKind::Required {
                    return Err(AuthError::new(AuthErrorKind::LogonDenied, "client certificate")
                        .with_detail("peer presented no certificate where one is required"));
                }
                (Identity::anonymous(AuthType::GSS_SCHANNEL), None)
            }
        };
        debug!(tls13 = is_tls13(conn), suite = ?suite.suite(), principal = %identity.principal,
            "schannel server complete");
        self.requested = Some(RequestedAttributes {
            // A certificate identifies its holder but gives the server no credential to act with.
            impersonation: if identity.anonymous {
                ImpersonationLevel::Anonymous
            } else {
                ImpersonationLevel::Identify
            },
            mutual_auth: true,
        });
        self.info = Some(ContextInfo {
            auth_type: AuthType::GSS_SCHANNEL,
            // The server authenticated the client only if it presented a verified certificate.
            mutual_auth: certificate.is_some(),
            flags: negotiated_flags(conn),
            session_key: SecretBytes::new(Vec::new()),
            sizes: VerifierSizes { signature_len: signature_len(shape), pad_align: PAD_ALIGN, max_token: MAX_TOKEN },
        });
        self.shape = Some(shape);
        self.identity = Some(identity);
        self.certificate = certificate;
        self.state = State::Complete;
        Ok(())
    }
}

impl SecurityContext for SchannelServer {
    fn auth_type(&self) -> AuthType {
        AuthType::GSS_SCHANNEL
    }

    fn is_complete(&self) -> bool {
        self.state == State::Complete
    }

    fn info(&self) -> Option<&ContextInfo> {
        self.info.as_ref()
    }

    fn take_protector(&mut self) -> Result<Box<dyn MessageProtector>, AuthError> {
        if self.state != State::Complete {
            return Err(AuthError::new(AuthErrorKind::NotComplete, "schannel protector"));
        }
        match (self.conn.take(), self.shape) {
            (Some(conn), Some(shape)) => Ok(Box::new(SchannelProtector::new(conn, shape))),
            _ => Err(AuthError::new(AuthErrorKind::OutOfSequence, "schannel protector").with_detail("already taken")),
        }
    }
}

impl ServerContext for SchannelServer {
    fn step(&mut self, input: &[u8]) -> Result<Step, AuthError> {
        match self.state {
            State::Start | State::Handshaking if !input.is_empty() => {}
            State::Failed => {
                return Err(AuthError::new(AuthErrorKind::OutOfSequence, "schannel server step")
                    .with_detail("context failed earlier"));
            }
            State::Complete => {
                return Err(AuthError::new(AuthErrorKind::OutOfSequence, "schannel server step")
                    .with_detail("context already complete"));
            }
            _ => {
                return Err(
                    AuthError::new(AuthErrorKind::InvalidToken, "schannel server step").with_detail("empty token")
                );
            }
        }
        let result = self.run(input);
        if result.is_err() {
            self.state = State::Failed;
            self.conn = None;
        }
        result
    }

    fn resume_kdc(&mut self, _reply: &[u8]) -> Result<Step, AuthError> {
        Err(AuthError::new(AuthErrorKind::OutOfSequence, "schannel kdc reply").with_detail("tls uses no kdc"))
    }

    fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// Known once the context is complete (the client's certificate flight decides it): `Identify` for a
    /// certificate holder, `Anonymous` otherwise; `mutual_auth` is always true (TLS authenticates the server).
    fn requested(&self) -> Option<RequestedAttributes> {
        self.requested
    }
}
