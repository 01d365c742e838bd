//! The sans-IO provider interface: client and server security contexts exchange opaque tokens leg by leg.

use core::fmt;

use dcom_pdu::AuthType;

use crate::error::Result;
use crate::identity::{Identity, ImpersonationLevel, RequestedAttributes};
use crate::protection::MessageProtector;
use crate::secret::SecretBytes;

/// What a context wants after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send `token` to the peer and feed its answer to the next step.
    Continue {
        /// The token to send (bind / alter_context / bind_ack auth value).
        token: Vec<u8>,
    },
    /// The context is complete; send `token` when present (e.g. an rpc_auth_3 or DCE-style AP-REP leg).
    Complete {
        /// The last token to send, if any.
        token: Option<Vec<u8>>,
    },
    /// The mechanism needs a KDC round trip: perform `request` and call `resume_kdc` with the reply.
    NeedsKdc(KdcRequest),
}

/// How a KDC request travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KdcTransport {
    /// TCP (4-byte length prefix kept in `data`).
    Tcp,
    /// UDP.
    Udp,
    /// MS-KKDCP over HTTP.
    Http,
    /// MS-KKDCP over HTTPS.
    Https,
}

/// A request the caller performs on behalf of the mechanism (Kerberos KDC exchange).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdcRequest {
    /// Transport.
    pub transport: KdcTransport,
    /// Destination URL (`tcp://host:88`, `https://proxy/KdcProxy`).
    pub url: String,
    /// The bytes to send.
    pub data: Vec<u8>,
}

/// Requirements the client places on a context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequirements {
    /// Requested impersonation level.
    pub impersonation: ImpersonationLevel,
    /// Require mutual authentication (the provider fails if it cannot provide it).
    pub mutual_auth: bool,
    /// Target service principal name (`host/server.example.com`).
    pub target_name: String,
    /// Ask the mechanism for per-message integrity (NTLMSSP_NEGOTIATE_SIGN, GSS_C_INTEG_FLAG).
    pub integrity: bool,
    /// Ask the mechanism for per-message confidentiality (NTLMSSP_NEGOTIATE_SEAL, GSS_C_CONF_FLAG).
    pub confidentiality: bool,
}

impl Default for ClientRequirements {
    fn default() -> Self {
        Self {
            impersonation: ImpersonationLevel::Impersonate,
            mutual_auth: false,
            target_name: String::new(),
            integrity: true,
            confidentiality: true,
        }
    }
}

impl ClientRequirements {
    /// Asks the mechanism for exactly the per-message services an RPC authentication level uses: none at
    /// CONNECT, integrity at CALL, PKT and PKT_INTEGRITY, integrity and confidentiality at PKT_PRIVACY.
    ///
    /// Servers size a response verifier from what the mechanism negotiated: Samba signs a CONNECT-level
    /// response when NTLM negotiated SIGN, and sizes a Kerberos PKT_INTEGRITY verifier as a wrap token when
    /// GSS_C_CONF_FLAG was granted, then fails (`nca_s_fault_other`). Windows clients ask per level, and so do we
    /// ([MS-RPCE 3.3.1.5.2], [MS-KILE 3.2.5.2], [MS-NLMP 3.1.5.1]).
    #[must_use]
    pub fn for_level(mut self, level: dcom_pdu::AuthLevel) -> Self {
        let level = if level.0 == dcom_pdu::AuthLevel::CALL.0 || level.0 == dcom_pdu::AuthLevel::PKT.0 {
            dcom_pdu::AuthLevel::PKT_INTEGRITY
        } else {
            level
        };
        self.integrity = level.0 >= dcom_pdu::AuthLevel::PKT_INTEGRITY.0;
        self.confidentiality = level.0 >= dcom_pdu::AuthLevel::PKT_PRIVACY.0;
        self
    }
}

/// Sizes of the per-PDU verifier of a context (MS-RPCE 2.2.2.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VerifierSizes {
    /// `auth_length` of a signed or sealed PDU.
    pub signature_len: usize,
    /// Alignment the stub plus auth padding must reach before the sec_trailer.
    pub pad_align: usize,
    /// Largest token a handshake leg may produce.
    pub max_token: usize,
}

/// What a complete context reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextInfo {
    /// The provider.
    pub auth_type: AuthType,
    /// Whether the peer proved its identity to us (always false for NTLM and None).
    pub mutual_auth: bool,
    /// The negotiated mechanism flags (NTLM NegotiateFlags, Kerberos GSS flags).
    pub flags: u32,
    /// The session key (NTLM ExportedSessionKey, Kerberos sub-session key); empty for None/anonymous.
    pub session_key: SecretBytes,
    /// Verifier sizes.
    pub sizes: VerifierSizes,
}

/// Shared part of client and server contexts. Object safe and `Send`.
pub trait SecurityContext: Send + fmt::Debug {
    /// The provider (`auth_type` on the wire).
    fn auth_type(&self) -> AuthType;
    /// True once the handshake finished successfully.
    fn is_complete(&self) -> bool;
    /// Context facts; `None` until complete.
    fn info(&self) -> Option<&ContextInfo>;
    /// Hands out the per-PDU protector (once); `Unsupported` for providers without per-PDU protection.
    fn take_protector(&mut self) -> Result<Box<dyn MessageProtector>>;
}

/// The initiator side.
pub trait ClientContext: SecurityContext {
    /// Runs one leg: `input` is the peer's last token (`None` on the first call).
    fn step(&mut self, input: Option<&[u8]>) -> Result<Step>;
    /// Resumes after a [`Step::NeedsKdc`] with the KDC's reply.
    fn resume_kdc(&mut self, reply: &[u8]) -> Result<Step>;
}

/// The acceptor side.
pub trait ServerContext: SecurityContext {
    /// Runs one leg with the client's token.
    fn step(&mut self, input: &[u8]) -> Result<Step>;
    /// Resumes after a [`Step::NeedsKdc`] with the KDC's reply.
    fn resume_kdc(&mut self, reply: &[u8]) -> Result<Step>;
    /// The authenticated caller; `None` until complete.
    fn identity(&self) -> Option<&Identity>;
    /// What the client asked for (impersonation level, mutual authentication); known after its first token.
    fn requested(&self) -> Option<RequestedAttributes>;
}
