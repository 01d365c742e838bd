//! The Kerberos acceptor (auth type 16) with service keys from a keytab ([RFC 4120 3.2.3], [RFC 4121 4.1],
//! [MS-KILE 3.4.5.1] DCE style). No KDC is contacted.
//!
//! Checks, each failure its own [`AuthErrorKind`]: the ticket names one of our principals
//! (`UnknownPrincipal`); a keytab key of the ticket's enctype decrypts it (`WrongServiceKey`); ticket times
//! against our clock with the allowed skew (`TicketNotYetValid`, `TicketExpired`); the authenticator
//! decrypts with the session key and names the ticket's client (`InvalidToken`); its time is within the
//! skew (`ClockSkew`); it was not seen before (`AuthenticatorReplay`, a shared [`ReplayCache`]). Ticket
//! times are checked before the authenticator time, so an expired ticket is reported as such even when the
//! clocks also disagree. In DCE style the client's closing AP-REP must echo our sequence number
//! (`MutualAuthFailed`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dcom_pdu::AuthType;
use picky_asn1::wrapper::{
    ExplicitContextTag0, ExplicitContextTag1, ExplicitContextTag2, ExplicitContextTag3, Optional,
};
use picky_asn1_der::application_tag::ApplicationTag;
use picky_krb::data_types::{AuthenticatorInner, EncApRepPartInner, EncTicketPartInner};
use picky_krb::messages::{ApRep, ApRepInner, ApReq};
use tracing::{debug, warn};

use super::client::gss_frame;
use super::key::{EncType, KerberosKey};
use super::keytab::Keytab;
use super::mic::Sender;
use super::proto::{self, GssChecksum, PrincipalNameParts, ap_options, gss_flags, ticket_flags, usage};
use super::session::KerberosSession;
use super::spnego::{KrbTokenId, unframe_krb};
use super::time::{Clock, Entropy, OsEntropy, SystemClock, Timestamp, random_u30};
use super::wrap::{MAX_TOKEN, WRAP_TOKEN_LEN};
use crate::context::{ContextInfo, SecurityContext, ServerContext, Step, VerifierSizes};
use crate::error::{AuthError, AuthErrorKind, Result};
use crate::identity::{AuthnProof, Identity, ImpersonationLevel, RequestedAttributes};
use crate::protection::MessageProtector;
use crate::secret::SecretBytes;

/// The default allowed clock skew: 5 minutes ([RFC 4120 1.6], MIT and Windows default).
pub const DEFAULT_MAX_SKEW_SECS: u32 = 300;

/// Most authenticators a [`ReplayCache`] holds; beyond it new AP-REQs are refused until entries expire.
pub const REPLAY_CACHE_CAPACITY: usize = 100_000;

/// Authenticators seen within the skew window ([RFC 4120 3.2.3]); share one between all contexts of a
/// service. Entries expire `2 * skew` after their time.
#[derive(Debug, Default)]
pub struct ReplayCache {
    seen: Mutex<HashMap<Vec<u8>, i64>>,
}

impl ReplayCache {
    /// An empty cache.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `id` (valid until `expires`), or fails when it is already there.
    fn insert(&self, id: Vec<u8>, now: i64, expires: i64) -> Result<()> {
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() >= REPLAY_CACHE_CAPACITY / 2 {
            seen.retain(|_, exp| *exp >= now);
        }
        if seen.contains_key(&id) {
            return Err(AuthError::new(AuthErrorKind::AuthenticatorReplay, "kerberos authenticator"));
        }
        if seen.len() >= REPLAY_CACHE_CAPACITY {
            return Err(AuthError::new(AuthErrorKind::Unsupported, "kerberos replay cache").with_detail("cache full"));
        }
        seen.insert(id, expires);
        Ok(())
    }

    /// How many authenticators are remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    /// True when empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Acceptor configuration.
#[derive(Debug, Clone)]
pub struct KerberosServerConfig {
    /// The service keys.
    pub keytab: Arc<Keytab>,
    /// The service principals accepted (`host/rpcsrv.mit.test`, optionally `@REALM`); empty accepts every
    /// principal of the keytab.
    pub accepted_principals: Vec<PrincipalNameParts>,
    /// Allowed clock skew in seconds (default 300).
    pub max_skew_secs: u32,
    /// The replay cache shared by the contexts of this service.
    pub replay_cache: Arc<ReplayCache>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Randomness for the acceptor subkey and sequence number.
    pub entropy: Arc<dyn Entropy>,
}

impl KerberosServerConfig {
    /// Every principal of `keytab`, 5 minutes of skew, a fresh replay cache, system clock, OS randomness.
    #[must_use]
    pub fn new(keytab: Arc<Keytab>) -> Self {
        Self {
            keytab,
            accepted_principals: Vec::new(),
            max_skew_secs: DEFAULT_MAX_SKEW_SECS,
            replay_cache: Arc::new(ReplayCache::new()),
            clock: Arc::new(SystemClock),
            entropy: Arc::new(OsEntropy),
        }
    }
}

#[derive(Debug)]
enum State {
    Initial,
    AwaitDceApRep { session_key: KerberosKey, our_seq: u32 },
    Done,
    Failed,
}

/// The Kerberos server context (auth type 16).
#[derive(Debug)]
pub struct KerberosServer {
    config: KerberosServerConfig,
    state: State,
    requested: Option<RequestedAttributes>,
    pending_identity: Option<Identity>,
    pending_session: Option<KerberosSession>,
    identity: Option<Identity>,
    session: Option<KerberosSession>,
    info: Option<ContextInfo>,
    gss_flags: u32,
    delegated: Option<Vec<u8>>,
    service: Option<String>,
    protector_taken: bool,
}

fn err(kind: AuthErrorKind, context: &'static str) -> AuthError {
    AuthError::new(kind, context)
}

impl KerberosServer {
    /// A fresh acceptor.
    #[must_use]
    pub fn new(config: KerberosServerConfig) -> Self {
        Self {
            config,
            state: State::Initial,
            requested: None,
            pending_identity: None,
            pending_session: None,
            identity: None,
            session: None,
            info: None,
            gss_flags: 0,
            delegated: None,
            service: None,
            protector_taken: false,
        }
    }

    /// The GSS flags of the client's authenticator checksum.
    #[must_use]
    pub const fn gss_flags(&self) -> u32 {
        self.gss_flags
    }

    /// The KRB-CRED the client delegated (GSS_C_DELEG_FLAG), as received.
    #[must_use]
    pub fn delegated_credential(&self) -> Option<&[u8]> {
        self.delegated.as_deref()
    }

    /// The service principal the ticket was for (`host/rpcsrv.mit.test@MIT.TEST`).
    #[must_use]
    pub fn service_principal(&self) -> Option<&str> {
        self.service.as_deref()
    }

    pub(crate) fn session_mut(&mut self) -> Option<&mut KerberosSession> {
        self.session.as_mut()
    }

    fn accepted(&self, comps: &[String], realm: &str) -> bool {
        self.config.accepted_principals.is_empty()
            || self
                .config
                .accepted_principals
                .iter()
                .any(|p| p.components == comps && p.realm.as_deref().is_none_or(|r| r.eq_ignore_ascii_case(realm)))
    }

    /// Decrypts the ticket with a keytab key of its principal, enctype and (preferably) kvno.
    fn decrypt_ticket(&self, ap_req: &ApReq) -> Result<EncTicketPartInner> {
        let ticket = &ap_req.0.ticket.0.0;
        let comps = proto::components_of(&ticket.sname.0);
        let realm = proto::string_of(&ticket.realm.0);
        let spn = format!("{}@{realm}", comps.join("/"));
        let comp_refs: Vec<&str> = comps.iter().map(String::as_str).collect();
        if !self.accepted(&comps, &realm) || self.config.keytab.find(&comp_refs, &realm, None, None).next().is_none() {
            warn!(service = %spn, "kerberos ticket for a principal we do not serve");
            return Err(err(AuthErrorKind::UnknownPrincipal, "kerberos ticket sname").with_detail(spn));
        }
        let enc = &ticket.enc_part.0;
        let etype = proto::read_etype(&enc.etype.0, "ticket etype")?;
        let kvno = match &enc.kvno.0 {
            Some(k) => Some(proto::read_u32(&k.0, "ticket kvno")?),
            None => None,
        };
        let mut candidates: Vec<_> = self.config.keytab.find(&comp_refs, &realm, Some(etype), None).collect();
        // the key of the ticket's kvno first, then the others (newest first)
        candidates.sort_by_key(|e| (Some(e.kvno) != kvno, core::cmp::Reverse(e.kvno)));
        if candidates.is_empty() {
            return Err(err(AuthErrorKind::WrongServiceKey, "kerberos ticket")
                .with_detail(format!("{spn}: no key of {etype} in the keytab")));
        }
        for entry in &candidates {
            if let Ok(plain) = entry.key.decrypt(usage::TICKET, &enc.cipher.0.0) {
                let part: ApplicationTag<EncTicketPartInner, 3> = proto::decode(&plain, "enc-ticket-part")?;
                return Ok(part.0);
            }
        }
        warn!(service = %spn, kvno = ?kvno, "kerberos ticket does not decrypt with our keys");
        Err(err(AuthErrorKind::WrongServiceKey, "kerberos ticket")
            .with_detail(format!("{spn}: {} key(s) of {etype} tried, kvno {kvno:?}", candidates.len())))
    }

    fn leg_ap_req(&mut self, input: &[u8]) -> Result<Step> {
        let krb = unframe_krb(input)?;
        if let Some(t) = krb.tok_id
            && t != KrbTokenId::AP_REQ
        {
            return Err(err(AuthErrorKind::InvalidToken, "ap-req token").with_detail("gss token id is not ap-req"));
        }
        let ap_req: ApReq = proto::decode(krb.message, "ap-req")?;
        let now = self.config.clock.now();
        let skew = i64::from(self.config.max_skew_secs);
        let part = self.decrypt_ticket(&ap_req)?;
        let ticket = &ap_req.0.ticket.0.0;
        self.service =
            Some(format!("{}@{}", proto::components_of(&ticket.sname.0).join("/"), proto::string_of(&ticket.realm.0)));

        // RFC 4120 3.2.3: ticket times with the allowed skew
        let tflags = proto::flags_u32(&part.flags.0);
        let start = part
            .starttime
            .0
            .as_ref()
            .map_or_else(|| Timestamp::from_kerberos_time(&part.auth_time.0), |s| Timestamp::from_kerberos_time(&s.0));
        let end = Timestamp::from_kerberos_time(&part.endtime.0);
        if tflags & ticket_flags::INVALID != 0 || start.secs > now.secs.saturating_add(skew) {
            return Err(err(AuthErrorKind::TicketNotYetValid, "kerberos ticket")
                .with_detail(format!("valid from {start}, now {now}")));
        }
        if end.secs < now.secs.saturating_sub(skew) {
            return Err(
                err(AuthErrorKind::TicketExpired, "kerberos ticket").with_detail(format!("ended {end}, now {now}"))
            );
        }

        let session_key = proto::key_of(&part.key.0, "ticket session key")?;
        session_key.aes_suite()?;
        let auth_plain =
            proto::decrypt(&session_key, usage::AP_REQ_AUTHENTICATOR, &ap_req.0.authenticator.0, "authenticator")
                .map_err(|e| err(AuthErrorKind::InvalidToken, "kerberos authenticator").with_detail(e.to_string()))?;
        let auth: ApplicationTag<AuthenticatorInner, 2> = proto::decode(&auth_plain, "authenticator")?;
        let auth = auth.0;
        let cname = proto::components_of(&part.cname.0);
        let crealm = proto::string_of(&part.crealm.0);
        // RFC 4120 3.2.3: the authenticator names the ticket's client (KRB_AP_ERR_BADMATCH)
        if proto::components_of(&auth.cname.0) != cname || proto::string_of(&auth.crealm.0) != crealm {
            return Err(err(AuthErrorKind::InvalidToken, "kerberos authenticator")
                .with_detail("client name differs from the ticket's"));
        }
        let ctime = Timestamp::from_kerberos_time(&auth.ctime.0);
        let cusec = proto::read_int(&auth.cusec.0, "authenticator cusec")?;
        if ctime.secs.abs_diff(now.secs) > skew.unsigned_abs() {
            return Err(err(AuthErrorKind::ClockSkew, "kerberos authenticator")
                .with_detail(format!("client time {ctime}, ours {now}, allowed {skew} s")));
        }
        // replay: the same client, time and authenticator checksum within the window
        let cipher = &ap_req.0.authenticator.0.cipher.0.0;
        let principal = format!("{}@{crealm}", cname.join("/"));
        let mut id = principal.clone().into_bytes();
        id.extend_from_slice(&ctime.secs.to_be_bytes());
        id.extend_from_slice(&cusec.to_be_bytes());
        id.extend_from_slice(cipher.get(cipher.len().saturating_sub(12)..).unwrap_or_default());
        self.config.replay_cache.insert(id, now.secs, ctime.secs.saturating_add(2 * skew))?;

        let gss = match &auth.cksum.0 {
            Some(c) if proto::read_int(&c.0.cksumtype.0, "authenticator cksumtype")? == proto::GSS_CHECKSUM_TYPE => {
                proto::parse_gss_checksum(&c.0.checksum.0.0)?
            }
            _ => GssChecksum { flags: 0, delegation: None },
        };
        self.gss_flags = gss.flags;
        self.delegated = gss.delegation;
        let mutual = proto::flags_u32(&ap_req.0.ap_options.0) & ap_options::MUTUAL_REQUIRED != 0
            || gss.flags & gss_flags::MUTUAL != 0;
        let impersonation = if gss.flags & gss_flags::DELEG != 0 && self.delegated.is_some() {
            ImpersonationLevel::Delegate
        } else if gss.flags & gss_flags::IDENTIFY != 0 {
            ImpersonationLevel::Identify
        } else {
            ImpersonationLevel::Impersonate
        };
        self.requested = Some(RequestedAttributes { impersonation, mutual_auth: mutual });
        let identity = Identity {
            account: cname.join("/"),
            domain: crealm.clone(),
            principal: principal.clone(),
            provider: AuthType::KERBEROS,
            proof: AuthnProof::KerberosTicket,
            anonymous: false,
        };
        let initiator_subkey = match &auth.subkey.0 {
            Some(k) => Some(proto::key_of(&k.0, "initiator subkey")?),
            None => None,
        };
        let initiator_seq = match &auth.seq_number.0 {
            Some(s) => proto::read_u32(&s.0, "authenticator seq-number")?,
            None => 0,
        };
        let dce = gss.flags & gss_flags::DCE_STYLE != 0;
        debug!(client = %principal, flags = format_args!("{:#x}", gss.flags), dce, "kerberos ap-req accepted");

        if !mutual && !dce {
            let key = initiator_subkey.unwrap_or_else(|| session_key.clone());
            key.aes_suite()?;
            let session = KerberosSession {
                key,
                acceptor_subkey: false,
                local: Sender::Acceptor,
                send_seq: u64::from(initiator_seq),
                recv_seq: u64::from(initiator_seq),
            };
            self.finish(identity, session);
            return Ok(Step::Complete { token: None });
        }
        // RFC 4120 3.2.4 / RFC 4121 4.1: the AP-REP with our subkey (the initiator subkey's enctype) and seq
        let sub_type = initiator_subkey.as_ref().map_or(session_key.enctype(), KerberosKey::enctype);
        let our_subkey = self.random_key(sub_type)?;
        let our_seq = random_u30(self.config.entropy.as_ref())?;
        let rep_part = EncApRepPartInner {
            ctime: ExplicitContextTag0::from(auth.ctime.0.clone()),
            cusec: ExplicitContextTag1::from(auth.cusec.0.clone()),
            subkey: Optional::from(Some(ExplicitContextTag2::from(proto::key_asn1(&our_subkey)))),
            seq_number: Optional::from(Some(ExplicitContextTag3::from(proto::int(i64::from(our_seq))))),
        };
        let rep_der = proto::encode(&ApplicationTag::<EncApRepPartInner, 27>::from(rep_part), "enc-ap-rep-part")?;
        let enc = proto::encrypt(&session_key, usage::AP_REP, &rep_der, None)?;
        let rep = proto::encode(
            &ApRep::from(ApRepInner {
                pvno: ExplicitContextTag0::from(proto::int(5)),
                msg_type: ExplicitContextTag1::from(proto::int(15)),
                enc_part: ExplicitContextTag2::from(enc),
            }),
            "ap-rep",
        )?;
        let session = KerberosSession {
            key: our_subkey,
            acceptor_subkey: true,
            local: Sender::Acceptor,
            send_seq: u64::from(our_seq),
            recv_seq: u64::from(initiator_seq),
        };
        if dce {
            // MS-KILE 3.4.5.1: the DCE-style AP-REP travels raw; the client answers with its own
            self.pending_identity = Some(identity);
            self.pending_session = Some(session);
            self.state = State::AwaitDceApRep { session_key, our_seq };
            return Ok(Step::Continue { token: rep });
        }
        self.finish(identity, session);
        Ok(Step::Complete { token: Some(gss_frame(KrbTokenId::AP_REP, &rep)) })
    }

    /// The client's DCE-style AP-REP ([MS-KILE 3.4.5.1]): decrypts with the ticket session key, carries no
    /// subkey and echoes our sequence number.
    fn leg_dce_ap_rep(&mut self, input: &[u8], session_key: &KerberosKey, our_seq: u32) -> Result<Step> {
        let krb = unframe_krb(input)?;
        let rep: ApRep = proto::decode(krb.message, "dce ap-rep")?;
        let plain = proto::decrypt(session_key, usage::AP_REP, &rep.0.enc_part.0, "dce ap-rep enc-part")
            .map_err(|e| err(AuthErrorKind::MutualAuthFailed, "dce ap-rep").with_detail(e.to_string()))?;
        let part: ApplicationTag<EncApRepPartInner, 27> = proto::decode(&plain, "dce enc-ap-rep-part")?;
        let seq = match &part.0.seq_number.0 {
            Some(s) => Some(proto::read_u32(&s.0, "dce ap-rep seq-number")?),
            None => None,
        };
        if seq != Some(our_seq) || part.0.subkey.0.is_some() {
            return Err(err(AuthErrorKind::MutualAuthFailed, "dce ap-rep")
                .with_detail("sequence number not echoed or subkey present"));
        }
        let (Some(identity), Some(session)) = (self.pending_identity.take(), self.pending_session.take()) else {
            return Err(err(AuthErrorKind::OutOfSequence, "dce ap-rep"));
        };
        self.finish(identity, session);
        Ok(Step::Complete { token: None })
    }

    fn random_key(&self, enctype: EncType) -> Result<KerberosKey> {
        let len = enctype.key_len().ok_or_else(|| err(AuthErrorKind::Unsupported, "kerberos subkey"))?;
        let mut b = vec![0u8; len];
        self.config.entropy.fill(&mut b)?;
        let k = KerberosKey::new(enctype, &b);
        crate::secret::wipe(&mut b);
        k
    }

    fn finish(&mut self, identity: Identity, session: KerberosSession) {
        debug!(principal = %identity.principal, "kerberos server context complete");
        self.info = Some(ContextInfo {
            auth_type: AuthType::KERBEROS,
            mutual_auth: true,
            flags: self.gss_flags,
            session_key: SecretBytes::from(session.key.expose()),
            sizes: VerifierSizes { signature_len: WRAP_TOKEN_LEN, pad_align: 16, max_token: MAX_TOKEN },
        });
        self.identity = Some(identity);
        self.session = Some(session);
        self.state = State::Done;
    }
}

impl SecurityContext for KerberosServer {
    fn auth_type(&self) -> AuthType {
        AuthType::KERBEROS
    }

    fn is_complete(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn info(&self) -> Option<&ContextInfo> {
        self.info.as_ref()
    }

    fn take_protector(&mut self) -> Result<Box<dyn MessageProtector>> {
        if self.protector_taken {
            return Err(err(AuthErrorKind::NotComplete, "kerberos protector").with_detail("already taken"));
        }
        let s = self.session.as_ref().ok_or_else(|| err(AuthErrorKind::NotComplete, "kerberos protector"))?;
        let p = s.protector()?;
        self.protector_taken = true;
        Ok(Box::new(p))
    }
}

impl ServerContext for KerberosServer {
    fn step(&mut self, input: &[u8]) -> Result<Step> {
        let state = core::mem::replace(&mut self.state, State::Failed);
        let r = match state {
            State::Initial => self.leg_ap_req(input),
            State::AwaitDceApRep { session_key, our_seq } => self.leg_dce_ap_rep(input, &session_key, our_seq),
            State::Done | State::Failed => Err(err(AuthErrorKind::OutOfSequence, "kerberos server step")),
        };
        if let Err(e) = &r {
            debug!(error = %e, "kerberos server step failed");
            self.state = State::Failed;
        }
        r
    }

    fn resume_kdc(&mut self, _reply: &[u8]) -> Result<Step> {
        Err(err(AuthErrorKind::OutOfSequence, "kerberos server kdc reply"))
    }

    fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    fn requested(&self) -> Option<RequestedAttributes> {
        self.requested
    }
}
