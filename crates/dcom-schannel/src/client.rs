//! The initiator: a rustls unbuffered client connection driven one RPC auth token at a time.

use dcom_auth::{
    AuthError, AuthErrorKind, ClientContext, ClientRequirements, ContextInfo, ImpersonationLevel, MessageProtector,
    SecretBytes, SecurityContext, Step, VerifierSizes,
};
use dcom_pdu::{AuthLevel, AuthType};
use rustls::client::UnbufferedClientConnection;
use rustls::pki_types::ServerName;
use tracing::debug;

use crate::config::SchannelClientConfig;
use crate::protector::{PAD_ALIGN, SchannelProtector, signature_len};
use crate::tls::{Leg, MAX_TOKEN, RecordShape, handshake_leg, is_tls13, negotiated_flags};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Handshaking,
    Complete,
    Failed,
}

/// Client side of the Schannel-equivalent provider (auth type 14, `RPC_C_AUTHN_GSS_SCHANNEL`).
///
/// Legs ([MS-RPCE 2.2.1.1.7]: an even number of legs): `step(None)` gives the ClientHello (bind);
/// `step(Some(server flight))` gives the client's flight: with TLS 1.3 the context is then complete
/// ([`Step::Complete`] with the token, sent in alter_context, whose alter_context_resp carries no token); with
/// TLS 1.2 it is [`Step::Continue`] (alter_context) and the server's ChangeCipherSpec/Finished in
/// alter_context_resp completes it (`Step::Complete { token: None }`). After completion, an empty token (the
/// empty fourth leg) is accepted and ignored.
pub struct SchannelClient {
    conn: Option<UnbufferedClientConnection>,
    state: State,
    shape: Option<RecordShape>,
    info: Option<ContextInfo>,
    server_name: String,
    with_certificate: bool,
}

impl core::fmt::Debug for SchannelClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SchannelClient")
            .field("state", &self.state)
            .field("server_name", &self.server_name)
            .field("with_certificate", &self.with_certificate)
            .field("shape", &self.shape)
            .finish_non_exhaustive()
    }
}

/// The host of an SPN (`host/server.example.com`, `RPCSS/server:135`, `host/server@REALM` give `server...`);
/// a plain name is returned as is.
fn host_of(target: &str) -> &str {
    let rest = target.split_once('/').map_or(target, |(_, r)| r);
    let rest = rest.split(['/', '@']).next().unwrap_or(rest);
    // an IPv6 literal keeps its colons; a `name:port` loses the port
    if rest.parse::<std::net::IpAddr>().is_ok() { rest } else { rest.split(':').next().unwrap_or(rest) }
}

impl SchannelClient {
    /// A client context for one connection.
    ///
    /// Refused (`Unsupported`) unless `level` is PKT_PRIVACY (Windows' Schannel SSP for RPC supports only
    /// `RPC_C_AUTHN_LEVEL_PKT_PRIVACY`; this provider has no sign-only form), when delegation is requested
    /// (TLS cannot forward credentials), or without a usable server name. The impersonation level
    /// `Anonymous` sends no client certificate; the other levels send the configured one, if any.
    pub fn new(
        config: &SchannelClientConfig,
        requirements: &ClientRequirements,
        level: AuthLevel,
    ) -> Result<Self, AuthError> {
        crate::check_level(level)?;
        if requirements.impersonation == ImpersonationLevel::Delegate {
            return Err(AuthError::new(AuthErrorKind::Unsupported, "schannel impersonation level")
                .with_detail("tls cannot delegate the client's credentials"));
        }
        let name = match &config.server_name {
            Some(n) => n.as_str(),
            None => host_of(&requirements.target_name),
        };
        if name.is_empty() {
            return Err(AuthError::new(AuthErrorKind::Unsupported, "schannel server name")
                .with_detail("no server name: set ClientOptions::server_name or the target name"));
        }
        let server_name = ServerName::try_from(name.to_owned()).map_err(|e| {
            AuthError::new(AuthErrorKind::Unsupported, "schannel server name").with_detail(format!("{name:?}: {e}"))
        })?;
        let (tls, with_certificate) = match (&config.with_cert, requirements.impersonation) {
            (Some(c), level) if level != ImpersonationLevel::Anonymous => (c.clone(), true),
            _ => (config.anonymous.clone(), false),
        };
        let conn = UnbufferedClientConnection::new(tls, server_name)
            .map_err(|e| crate::tls::tls_error(&e, "schannel client setup"))?;
        Ok(Self {
            conn: Some(conn),
            state: State::Start,
            shape: None,
            info: None,
            server_name: name.to_owned(),
            with_certificate,
        })
    }

    /// True when the client offers its certificate on this connection.
    #[must_use]
    pub const fn offers_certificate(&self) -> bool {
        self.with_certificate
    }

    fn run(&mut self, input: &[u8]) -> Result<Step, AuthError> {
        let conn = self.conn.as_mut().ok_or(AuthError::new(AuthErrorKind::OutOfSequence, "schannel client"))?;
        match handshake_leg(conn, input)? {
            Leg::Continue(out) => {
                if out.is_empty() {
                    return Err(AuthError::new(AuthErrorKind::InvalidToken, "schannel client leg")
                        .with_detail("the server's flight is incomplete"));
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
        let conn = self.conn.as_ref().ok_or(AuthError::new(AuthErrorKind::OutOfSequence, "schannel client"))?;
        let suite = conn
            .negotiated_cipher_suite()
            .ok_or(AuthError::new(AuthErrorKind::Provider, "schannel client").with_detail("no cipher suite"))?;
        let shape = RecordShape::of(suite).ok_or(
            AuthError::new(AuthErrorKind::Unsupported, "schannel cipher suite")
                .with_detail(format!("{:?} has no defined record shape", suite.suite())),
        )?;
        let flags = negotiated_flags(conn);
        debug!(server = %self.server_name, tls13 = is_tls13(conn), suite = ?suite.suite(), "schannel client complete");
        self.shape = Some(shape);
        self.info = Some(ContextInfo {
            auth_type: AuthType::GSS_SCHANNEL,
            // rustls verified the server's chain and name: the server is authenticated.
            mutual_auth: true,
            flags,
            // rustls's unbuffered API has no keying-material exporter.
            session_key: SecretBytes::new(Vec::new()),
            sizes: VerifierSizes { signature_len: signature_len(shape), pad_align: PAD_ALIGN, max_token: MAX_TOKEN },
        });
        self.state = State::Complete;
        Ok(())
    }
}

impl SecurityContext for SchannelClient {
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

impl ClientContext for SchannelClient {
    fn step(&mut self, input: Option<&[u8]>) -> Result<Step, AuthError> {
        let result = match (self.state, input) {
            (State::Start, None) => self.run(&[]),
            (State::Handshaking, Some(tok)) if !tok.is_empty() => self.run(tok),
            // MS-RPCE 2.2.1.1.7 (even legs): the alter_context_resp after our last flight carries no token.
            (State::Complete, None) => return Ok(Step::Complete { token: None }),
            (State::Complete, Some([])) => return Ok(Step::Complete { token: None }),
            (State::Failed, _) => {
                return Err(AuthError::new(AuthErrorKind::OutOfSequence, "schannel client step")
                    .with_detail("context failed earlier"));
            }
            _ => {
                return Err(AuthError::new(AuthErrorKind::OutOfSequence, "schannel client step")
                    .with_detail(format!("unexpected {} token", if input.is_some() { "a" } else { "no" })));
            }
        };
        if result.is_err() {
            self.state = State::Failed;
            self.conn = None;
        }
        result
    }

    fn resume_kdc(&mut self, _reply: &[u8]) -> Result<Step, AuthError> {
        Err(AuthError::new(AuthErrorKind::OutOfSequence, "schannel kdc reply").with_detail("tls uses no kdc"))
    }
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn spn_hosts() {
        assert_eq!(host_of("host/server.example.com"), "server.example.com");
        assert_eq!(host_of("RPCSS/server.example.com:135"), "server.example.com");
        assert_eq!(host_of("host/server.example.com@EXAMPLE.COM"), "server.example.com");
        assert_eq!(host_of("server.example.com"), "server.example.com");
        assert_eq!(host_of("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_of("host/::1"), "::1");
        assert_eq!(host_of(""), "");
    }
}
