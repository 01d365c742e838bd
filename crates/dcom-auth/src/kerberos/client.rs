//! The Kerberos initiator (auth type 16), DCE style ([MS-KILE 3.4.5.1], [RFC 4120], [RFC 4121]).
//!
//! Legs: (KDC exchanges as [`Step::NeedsKdc`]) → AP-REQ (bind) → the acceptor's AP-REP (bind_ack) → our
//! DCE-style AP-REP (alter_context / auth3). Credentials: a password (AS-REQ, PA-ENC-TIMESTAMP pre-auth
//! after KDC_ERR_PREAUTH_REQUIRED, salt from ETYPE-INFO2), keys from a keytab, or an MIT credential cache
//! (its TGT for the TGS-REQ, or a cached service ticket directly). Every TGS-REQ authenticator carries the
//! keyed checksum of the req-body ([RFC 4120 5.5.1], key usage 6). Time and randomness come from the
//! configured [`Clock`] and [`Entropy`]; only picky-krb's encryption draws its own confounders.

use std::sync::Arc;

use dcom_pdu::AuthType;
use picky_asn1::wrapper::{
    Asn1SequenceOf, ExplicitContextTag0, ExplicitContextTag1, ExplicitContextTag2, ExplicitContextTag3,
    ExplicitContextTag4, ExplicitContextTag5, ExplicitContextTag6, ExplicitContextTag7, ExplicitContextTag8,
    ExplicitContextTag9, OctetStringAsn1, Optional,
};
use picky_asn1_der::application_tag::ApplicationTag;
use picky_krb::data_types::{
    AuthenticatorInner, Checksum, EncApRepPartInner, EncKrbCredPartInner, EtypeInfo2, KrbCredInfo, PaData, PaEncTsEnc,
    Ticket,
};
use picky_krb::messages::{
    ApRep, ApRepInner, ApReq, ApReqInner, EncKdcRepPart, KdcRep, KdcReq, KdcReqBody, KrbCredInner,
};
use tracing::debug;

use super::ccache::CredentialCache;
use super::der::{self, tag};
use super::key::{EncType, KerberosKey};
use super::keytab::Keytab;
use super::locator::{KdcAddress, Krb5Profile, locate_kdc};
use super::mic::Sender;
use super::proto::{
    self, PrincipalNameParts, ap_options, code, gss_flags, kdc_options, name_type, padata, ticket_flags, usage,
};
use super::session::KerberosSession;
use super::spnego::{KrbTokenId, Oid, unframe_krb};
use super::time::{Clock, Entropy, OsEntropy, SystemClock, Timestamp, random_u30};
use super::wrap::{MAX_TOKEN, WRAP_TOKEN_LEN};
use crate::context::{
    ClientContext, ClientRequirements, ContextInfo, KdcRequest, KdcTransport, SecurityContext, Step, VerifierSizes,
};
use crate::error::{AuthError, AuthErrorKind, Result};
use crate::identity::ImpersonationLevel;
use crate::protection::MessageProtector;
use crate::secret::{Password, SecretBytes};

/// How the client proves who it is.
#[derive(Debug, Clone)]
pub enum KerberosCredentials {
    /// A password: AS exchange with PA-ENC-TIMESTAMP; the key is derived with the KDC's salt.
    Password {
        /// `user` or `user@REALM`.
        principal: String,
        /// The password.
        password: Password,
    },
    /// The principal's long-term keys from a keytab (our [`Keytab`] parser).
    Keytab {
        /// `user` or `user@REALM` (or a service principal).
        principal: String,
        /// The keytab holding the principal's keys.
        keytab: Keytab,
    },
    /// An MIT credential cache (`kinit`): its TGT, or a cached ticket for the target.
    Ccache(CredentialCache),
}

/// Client configuration.
#[derive(Debug, Clone)]
pub struct KerberosClientConfig {
    /// Credentials.
    pub credentials: KerberosCredentials,
    /// The client realm when the principal names none (else the profile's `default_realm`).
    pub realm: Option<String>,
    /// An explicit KDC (wins over the profile).
    pub kdc: Option<KdcAddress>,
    /// The Kerberos profile (krb5.conf): KDCs, `default_realm`, `udp_preference_limit`.
    pub profile: Option<Krb5Profile>,
    /// Session key encryption types in preference order (default AES256, AES128).
    pub enctypes: Vec<EncType>,
    /// Requested ticket lifetime in seconds (the KDC caps it).
    pub lifetime_secs: u32,
    /// The clock (nonce-free checks: ticket expiry, authenticator time).
    pub clock: Arc<dyn Clock>,
    /// Randomness for nonces, subkeys and sequence numbers.
    pub entropy: Arc<dyn Entropy>,
}

impl KerberosClientConfig {
    /// A configuration with defaults: no profile, AES256 then AES128, 10 h, system clock, OS randomness.
    #[must_use]
    pub fn new(credentials: KerberosCredentials) -> Self {
        Self {
            credentials,
            realm: None,
            kdc: None,
            profile: None,
            enctypes: vec![EncType::AES256_CTS_HMAC_SHA1_96, EncType::AES128_CTS_HMAC_SHA1_96],
            lifetime_secs: 36_000,
            clock: Arc::new(SystemClock),
            entropy: Arc::new(OsEntropy),
        }
    }

    /// Loads the profile named by `KRB5_CONFIG`, else `/etc/krb5.conf` (see [`Krb5Profile::from_env`]).
    pub fn with_profile_from_env(mut self) -> Result<Self> {
        self.profile = Krb5Profile::from_env()?;
        Ok(self)
    }
}

/// A ticket and its session key.
#[derive(Debug, Clone)]
struct Creds {
    ticket: Ticket,
    key: KerberosKey,
    flags: u32,
    authtime: Timestamp,
    starttime: Option<Timestamp>,
    endtime: Timestamp,
    renew_till: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// AS-REQ sent; `preauth` tells whether it carried PA-ENC-TIMESTAMP.
    As { preauth: bool },
    /// TGS-REQ for the service ticket.
    TgsService,
    /// TGS-REQ for a forwarded TGT to delegate.
    TgsForward,
}

#[derive(Debug, Clone)]
struct Pending {
    phase: Phase,
    address: KdcAddress,
    transport: KdcTransport,
    request: Vec<u8>,
    nonce: u32,
}

#[derive(Debug)]
enum State {
    Initial,
    Kdc(Pending),
    ApReqSent { ctime: Timestamp, service_key: KerberosKey, subkey: KerberosKey, seq: u32 },
    Done,
    Failed,
}

/// The Kerberos client context (auth type 16).
///
/// Impersonation levels map onto the GSS flags of the authenticator checksum ([MS-KILE 3.2.5.2]):
/// Impersonate = none extra, Identify = GSS_C_IDENTIFY_FLAG, Delegate = GSS_C_DELEG_FLAG with a forwarded
/// TGT in a KRB-CRED (when the TGT is forwardable; otherwise Impersonate, logged), Anonymous is
/// `Unsupported`. Mutual authentication is always performed (DCE style).
#[derive(Debug)]
pub struct KerberosClient {
    config: KerberosClientConfig,
    client_name: PrincipalNameParts,
    client_realm: String,
    target: PrincipalNameParts,
    target_realm: String,
    udp_limit: usize,
    /// Long-term key (password/keytab) once known.
    long_term: Option<KerberosKey>,
    tgt: Option<Creds>,
    service: Option<Creds>,
    forwarded: Option<Creds>,
    gss_flags: u32,
    state: State,
    session: Option<KerberosSession>,
    info: Option<ContextInfo>,
    protector_taken: bool,
}

fn err(kind: AuthErrorKind, context: &'static str) -> AuthError {
    AuthError::new(kind, context)
}

impl KerberosClient {
    /// A client for `config` towards `requirements.target_name` (`host/server.example.com[@REALM]`).
    pub fn new(config: KerberosClientConfig, requirements: ClientRequirements) -> Result<Self> {
        // [MS-KILE 3.2.5.2]: GSS_C_INTEG_FLAG and GSS_C_CONF_FLAG only when the RPC level uses them (see
        // ClientRequirements::for_level): Samba sizes a PKT_INTEGRITY verifier as a wrap token when CONF is set.
        let mut flags = gss_flags::MUTUAL | gss_flags::REPLAY | gss_flags::SEQUENCE | gss_flags::DCE_STYLE;
        if requirements.integrity || requirements.confidentiality {
            flags |= gss_flags::INTEG;
        }
        if requirements.confidentiality {
            flags |= gss_flags::CONF;
        }
        match requirements.impersonation {
            ImpersonationLevel::Anonymous => {
                return Err(err(AuthErrorKind::Unsupported, "kerberos client impersonation level")
                    .with_detail("anonymous kerberos is not supported"));
            }
            ImpersonationLevel::Identify => flags |= gss_flags::IDENTIFY,
            ImpersonationLevel::Impersonate => {}
            ImpersonationLevel::Delegate => flags |= gss_flags::DELEG,
        }
        let default_realm =
            config.realm.clone().or_else(|| config.profile.as_ref().and_then(|p| p.default_realm.clone()));
        let (client_name, client_realm) = match &config.credentials {
            KerberosCredentials::Password { principal, .. } | KerberosCredentials::Keytab { principal, .. } => {
                let p = PrincipalNameParts::parse(principal)?;
                let realm = p.realm.clone().or(default_realm.clone()).ok_or_else(|| {
                    err(AuthErrorKind::NoKdc, "kerberos client realm").with_detail("no realm and no default_realm")
                })?;
                (p, realm)
            }
            KerberosCredentials::Ccache(cc) => {
                let p = &cc.default_principal;
                (PrincipalNameParts { components: p.components.clone(), realm: None }, p.realm.clone())
            }
        };
        if requirements.target_name.is_empty() {
            return Err(err(AuthErrorKind::UnknownPrincipal, "kerberos client target").with_detail("no target name"));
        }
        let target = PrincipalNameParts::parse(&requirements.target_name)?;
        let target_realm = target.realm_or(&client_realm).to_owned();
        let long_term = match &config.credentials {
            KerberosCredentials::Keytab { keytab, .. } => {
                let comps: Vec<&str> = client_name.components.iter().map(String::as_str).collect();
                if keytab.find(&comps, &client_realm, None, None).next().is_none() {
                    return Err(err(AuthErrorKind::UnknownUser, "kerberos client keytab")
                        .with_detail(format!("no key for {}@{client_realm}", client_name.name())));
                }
                None
            }
            _ => None,
        };
        let udp_limit =
            config.profile.as_ref().map_or(super::locator::DEFAULT_UDP_PREFERENCE_LIMIT, |p| p.udp_preference_limit);
        Ok(Self {
            config,
            client_name,
            client_realm,
            target,
            target_realm,
            udp_limit,
            long_term,
            tgt: None,
            service: None,
            forwarded: None,
            gss_flags: flags,
            state: State::Initial,
            session: None,
            info: None,
            protector_taken: false,
        })
    }

    /// The GSS flags the AP-REQ carries (after a Delegate fallback, without DELEG).
    #[must_use]
    pub const fn gss_flags(&self) -> u32 {
        self.gss_flags
    }

    /// The client principal `user@REALM`.
    #[must_use]
    pub fn client_principal(&self) -> String {
        format!("{}@{}", self.client_name.name(), self.client_realm)
    }

    pub(crate) fn session_mut(&mut self) -> Option<&mut KerberosSession> {
        self.session.as_mut()
    }

    fn now(&self) -> Timestamp {
        self.config.clock.now()
    }

    fn random_key(&self, enctype: EncType) -> Result<KerberosKey> {
        let len = enctype.key_len().ok_or_else(|| err(AuthErrorKind::Unsupported, "kerberos subkey"))?;
        let mut b = vec![0u8; len];
        self.config.entropy.fill(&mut b)?;
        let k = KerberosKey::new(enctype, &b);
        crate::secret::wipe(&mut b);
        k
    }

    fn begin(&mut self) -> Result<Step> {
        let now = self.now();
        if let KerberosCredentials::Ccache(cc) = &self.config.credentials {
            let want_deleg = self.gss_flags & gss_flags::DELEG != 0;
            if let Some(c) = cc.service_ticket(&self.target.components, &self.target_realm)
                && i64::from(c.endtime) > now.secs
                && !c.is_skey
                && !want_deleg
            {
                debug!(target = %self.target, "kerberos client uses a cached service ticket");
                self.service = Some(creds_from_ccache(c)?);
                return self.ap_req();
            }
            let tgt = cc.tgt(&self.client_realm).ok_or_else(|| {
                err(AuthErrorKind::CredentialCache, "kerberos ccache").with_detail(format!(
                    "no ticket-granting ticket for {}@{}",
                    self.client_name.name(),
                    self.client_realm
                ))
            })?;
            if i64::from(tgt.endtime) <= now.secs {
                return Err(err(AuthErrorKind::TicketExpired, "kerberos ccache tgt")
                    .with_detail(format!("expired at {}", Timestamp::from_secs(i64::from(tgt.endtime)))));
            }
            self.tgt = Some(creds_from_ccache(tgt)?);
            return self.tgs_req(Phase::TgsService);
        }
        self.as_req(None)
    }

    fn kdc_address(&self, realm: &str) -> Result<KdcAddress> {
        locate_kdc(realm, self.config.kdc.as_ref(), self.config.profile.as_ref())
    }

    fn send(&mut self, phase: Phase, realm: &str, request: Vec<u8>, nonce: u32) -> Result<Step> {
        let address = self.kdc_address(realm)?;
        let transport = address.transport_for(request.len(), self.udp_limit);
        self.request_over(Pending { phase, address, transport, request, nonce })
    }

    fn request_over(&mut self, pending: Pending) -> Result<Step> {
        let url = pending.address.url(pending.transport);
        let data = match pending.transport {
            // RFC 4120 7.2.2: TCP messages carry a 4-byte big-endian length
            KdcTransport::Tcp => {
                let len = u32::try_from(pending.request.len())
                    .map_err(|_| err(AuthErrorKind::Unsupported, "kdc request").with_detail("too large"))?;
                der::concat(&[&len.to_be_bytes(), &pending.request])
            }
            _ => pending.request.clone(),
        };
        debug!(%url, phase = ?pending.phase, bytes = data.len(), "kerberos client needs the kdc");
        let transport = pending.transport;
        self.state = State::Kdc(pending);
        Ok(Step::NeedsKdc(KdcRequest { transport, url, data }))
    }

    fn req_body(
        &self,
        options: u32,
        cname: Option<&[String]>,
        realm: &str,
        sname: &[String],
        nonce: u32,
    ) -> Result<KdcReqBody> {
        let till = self.now().add_secs(i64::from(self.config.lifetime_secs)).to_kerberos_time()?;
        let etypes = self.config.enctypes.iter().map(|e| proto::int(i64::from(e.0))).collect::<Vec<_>>();
        let sname_type = if sname.len() > 1 { name_type::NT_SRV_INST } else { name_type::NT_PRINCIPAL };
        Ok(KdcReqBody {
            kdc_options: ExplicitContextTag0::from(proto::flags(options)),
            cname: Optional::from(match cname {
                Some(c) => Some(ExplicitContextTag1::from(proto::principal(name_type::NT_PRINCIPAL, c)?)),
                None => None,
            }),
            realm: ExplicitContextTag2::from(proto::kstring(realm)?),
            sname: Optional::from(Some(ExplicitContextTag3::from(proto::principal(sname_type, sname)?))),
            from: Optional::from(None),
            till: ExplicitContextTag5::from(till),
            rtime: Optional::from(None),
            nonce: ExplicitContextTag7::from(proto::int(i64::from(nonce))),
            etype: ExplicitContextTag8::from(Asn1SequenceOf::from(etypes)),
            addresses: Optional::from(None),
            enc_authorization_data: Optional::from(None),
            additional_tickets: Optional::from(None),
        })
    }

    /// AS-REQ ([RFC 4120 3.1.1]); with `preauth_key`, a PA-ENC-TIMESTAMP ([RFC 4120 5.2.7.2], usage 1).
    fn as_req(&mut self, preauth_key: Option<&KerberosKey>) -> Result<Step> {
        let nonce = random_u30(self.config.entropy.as_ref())?;
        let realm = self.client_realm.clone();
        let krbtgt = vec!["krbtgt".to_owned(), realm.clone()];
        let body = self.req_body(
            kdc_options::FORWARDABLE | kdc_options::RENEWABLE_OK,
            Some(&self.client_name.components),
            &realm,
            &krbtgt,
            nonce,
        )?;
        let padata = match preauth_key {
            Some(key) => {
                let now = self.now();
                let ts = PaEncTsEnc {
                    patimestamp: ExplicitContextTag0::from(now.to_kerberos_time()?),
                    pausec: Optional::from(Some(ExplicitContextTag1::from(proto::int(i64::from(now.usec))))),
                };
                let enc = proto::encrypt(key, usage::PA_ENC_TIMESTAMP, &proto::encode(&ts, "pa-enc-ts-enc")?, None)?;
                let v = proto::encode(&enc, "pa-enc-timestamp")?;
                Some(ExplicitContextTag3::from(Asn1SequenceOf::from(vec![proto::pa_data(padata::PA_ENC_TIMESTAMP, v)])))
            }
            None => None,
        };
        let req = ApplicationTag::<KdcReq, 10>::from(KdcReq {
            pvno: ExplicitContextTag1::from(proto::int(5)),
            msg_type: ExplicitContextTag2::from(proto::int(10)),
            padata: Optional::from(padata),
            req_body: ExplicitContextTag4::from(body),
        });
        let bytes = proto::encode(&req, "as-req")?;
        self.send(Phase::As { preauth: preauth_key.is_some() }, &realm, bytes, nonce)
    }

    /// TGS-REQ ([RFC 4120 3.3.1]) with the TGT in PA-TGS-REQ; the authenticator carries the keyed checksum
    /// of the req-body (usage 6) and is encrypted with the TGT session key (usage 7).
    fn tgs_req(&mut self, phase: Phase) -> Result<Step> {
        let tgt = self.tgt.clone().ok_or_else(|| err(AuthErrorKind::OutOfSequence, "kerberos tgs-req"))?;
        let nonce = random_u30(self.config.entropy.as_ref())?;
        let (options, sname, realm) = match phase {
            Phase::TgsForward => (
                kdc_options::FORWARDED | kdc_options::FORWARDABLE,
                vec!["krbtgt".to_owned(), self.client_realm.clone()],
                self.client_realm.clone(),
            ),
            _ => (0, self.target.components.clone(), self.target_realm.clone()),
        };
        let body = self.req_body(options, None, &realm, &sname, nonce)?;
        let body_der = proto::encode(&body, "kdc-req-body")?;
        let cksum = proto::keyed_checksum(&tgt.key, usage::TGS_REQ_CKSUM, &body_der)?;
        let now = self.now();
        let auth = AuthenticatorInner {
            authenticator_vno: ExplicitContextTag0::from(proto::int(5)),
            crealm: ExplicitContextTag1::from(proto::kstring(&self.client_realm)?),
            cname: ExplicitContextTag2::from(proto::principal(name_type::NT_PRINCIPAL, &self.client_name.components)?),
            cksum: Optional::from(Some(ExplicitContextTag3::from(Checksum {
                cksumtype: ExplicitContextTag0::from(proto::int(proto::checksum_type(&tgt.key)?)),
                checksum: ExplicitContextTag1::from(OctetStringAsn1::from(cksum)),
            }))),
            cusec: ExplicitContextTag4::from(proto::int(i64::from(now.usec))),
            ctime: ExplicitContextTag5::from(now.to_kerberos_time()?),
            subkey: Optional::from(None),
            seq_number: Optional::from(None),
            authorization_data: Optional::from(None),
        };
        let auth_der = proto::encode(&ApplicationTag::<AuthenticatorInner, 2>::from(auth), "authenticator")?;
        let enc = proto::encrypt(&tgt.key, usage::TGS_REQ_AUTHENTICATOR, &auth_der, None)?;
        let ap_req = ApReq::from(ApReqInner {
            pvno: ExplicitContextTag0::from(proto::int(5)),
            msg_type: ExplicitContextTag1::from(proto::int(14)),
            ap_options: ExplicitContextTag2::from(proto::flags(0)),
            ticket: ExplicitContextTag3::from(tgt.ticket.clone()),
            authenticator: ExplicitContextTag4::from(enc),
        });
        let pa = proto::pa_data(padata::PA_TGS_REQ, proto::encode(&ap_req, "pa-tgs-req")?);
        let req = ApplicationTag::<KdcReq, 12>::from(KdcReq {
            pvno: ExplicitContextTag1::from(proto::int(5)),
            msg_type: ExplicitContextTag2::from(proto::int(12)),
            padata: Optional::from(Some(ExplicitContextTag3::from(Asn1SequenceOf::from(vec![pa])))),
            req_body: ExplicitContextTag4::from(body),
        });
        let bytes = proto::encode(&req, "tgs-req")?;
        let kdc_realm = self.client_realm.clone();
        self.send(phase, &kdc_realm, bytes, nonce)
    }

    fn on_kdc_reply(&mut self, pending: Pending, reply: &[u8]) -> Result<Step> {
        let reply = match pending.transport {
            KdcTransport::Tcp => strip_tcp_length(reply)?,
            _ => reply,
        };
        match reply.first() {
            Some(0x7e) => self.on_krb_error(pending, reply),
            Some(0x6b) if matches!(pending.phase, Phase::As { .. }) => self.on_as_rep(&pending, reply),
            Some(0x6d) if matches!(pending.phase, Phase::TgsService | Phase::TgsForward) => {
                self.on_tgs_rep(&pending, reply)
            }
            other => Err(err(AuthErrorKind::InvalidToken, "kdc reply")
                .at(0)
                .with_detail(format!("unexpected tag {:?} in phase {:?}", other, pending.phase))),
        }
    }

    fn on_krb_error(&mut self, pending: Pending, reply: &[u8]) -> Result<Step> {
        let e = proto::parse_krb_error(reply)?;
        debug!(code = e.code, text = ?e.text, phase = ?pending.phase, "kdc error");
        if e.code == code::KRB_ERR_RESPONSE_TOO_BIG && pending.transport == KdcTransport::Udp {
            // RFC 4120 7.2.1: retry over TCP
            return self.request_over(Pending { transport: KdcTransport::Tcp, ..pending });
        }
        if e.code == code::KDC_ERR_PREAUTH_REQUIRED && pending.phase == (Phase::As { preauth: false }) {
            let info = e.e_data.as_deref().map(etype_info2_of_method_data).transpose()?.unwrap_or_default();
            let key = self.long_term_key(&info)?;
            let step = self.as_req(Some(&key));
            self.long_term = Some(key);
            return step;
        }
        if e.code == code::KRB_AP_ERR_BAD_INTEGRITY && matches!(pending.phase, Phase::As { .. }) {
            return Err(err(AuthErrorKind::LogonDenied, "as-rep").with_detail("kdc: bad integrity (wrong key)"));
        }
        let mut error = err(proto::error_kind(e.code), "kdc reply").with_detail(format!("krb-error {}", e.code));
        if let Some(t) = e.text.filter(|t| !t.is_empty()) {
            error = error.with_detail(format!("krb-error {}: {t}", e.code));
        }
        Err(error)
    }

    /// The long-term key for one of the ETYPE-INFO2 entries (our preference order).
    fn long_term_key(&self, info: &[(EncType, Option<String>)]) -> Result<KerberosKey> {
        let default_salt = format!("{}{}", self.client_realm, self.client_name.components.concat());
        for &want in &self.config.enctypes {
            let entry =
                if info.is_empty() { Some((want, None)) } else { info.iter().find(|(e, _)| *e == want).cloned() };
            let Some((etype, salt)) = entry else { continue };
            match &self.config.credentials {
                KerberosCredentials::Password { password, .. } => {
                    let salt = salt.unwrap_or_else(|| default_salt.clone());
                    return KerberosKey::from_password(etype, password.expose(), &salt);
                }
                KerberosCredentials::Keytab { keytab, .. } => {
                    let comps: Vec<&str> = self.client_name.components.iter().map(String::as_str).collect();
                    if let Some(e) = keytab.find(&comps, &self.client_realm, Some(etype), None).max_by_key(|e| e.kvno) {
                        return Ok(e.key.clone());
                    }
                }
                KerberosCredentials::Ccache(_) => break,
            }
        }
        Err(err(AuthErrorKind::Unsupported, "kerberos pre-authentication")
            .with_detail("no common encryption type with the kdc for the long-term key"))
    }

    fn on_as_rep(&mut self, pending: &Pending, reply: &[u8]) -> Result<Step> {
        let rep: ApplicationTag<KdcRep, 11> = proto::decode(reply, "as-rep")?;
        let rep = rep.0;
        let etype = proto::read_etype(&rep.enc_part.0.etype.0, "as-rep etype")?;
        let key = match self.long_term.clone().filter(|k| k.enctype() == etype) {
            Some(k) => k,
            None => {
                // no pre-authentication was asked for: the salt comes with the reply
                let info =
                    rep.padata.0.as_ref().map(|p| etype_info2_of_padata(&p.0.0)).transpose()?.unwrap_or_default();
                let info: Vec<_> = info.into_iter().filter(|(e, _)| *e == etype).collect();
                let info = if info.is_empty() { vec![(etype, None)] } else { info };
                self.long_term_key(&info)?
            }
        };
        let plain = proto::decrypt(&key, usage::AS_REP, &rep.enc_part.0, "as-rep enc-part").map_err(|e| {
            if *e.kind() == AuthErrorKind::SignatureMismatch {
                err(AuthErrorKind::LogonDenied, "as-rep enc-part")
                    .with_detail("the reply does not decrypt with our key")
            } else {
                e
            }
        })?;
        let part = decode_enc_kdc_rep_part(&plain)?;
        let creds = self.check_kdc_rep(&rep, &part, pending.nonce)?;
        debug!(client = %self.client_principal(), enctype = %creds.key.enctype(), "kerberos tgt obtained");
        self.long_term = Some(key);
        self.tgt = Some(creds);
        self.tgs_req(Phase::TgsService)
    }

    fn on_tgs_rep(&mut self, pending: &Pending, reply: &[u8]) -> Result<Step> {
        let rep: ApplicationTag<KdcRep, 13> = proto::decode(reply, "tgs-rep")?;
        let rep = rep.0;
        let tgt_key =
            self.tgt.as_ref().map(|t| t.key.clone()).ok_or_else(|| err(AuthErrorKind::OutOfSequence, "tgs-rep"))?;
        let plain = proto::decrypt(&tgt_key, usage::TGS_REP_SESSION, &rep.enc_part.0, "tgs-rep enc-part")?;
        let part = decode_enc_kdc_rep_part(&plain)?;
        let creds = self.check_kdc_rep(&rep, &part, pending.nonce)?;
        match pending.phase {
            Phase::TgsForward => {
                debug!("kerberos forwarded tgt obtained");
                self.forwarded = Some(creds);
                self.ap_req()
            }
            _ => {
                debug!(target = %self.target, enctype = %creds.key.enctype(), "kerberos service ticket obtained");
                self.service = Some(creds);
                if self.gss_flags & gss_flags::DELEG != 0 {
                    if self.tgt.as_ref().is_some_and(|t| t.flags & ticket_flags::FORWARDABLE != 0) {
                        return self.tgs_req(Phase::TgsForward);
                    }
                    debug!("tgt not forwardable: delegation downgraded to impersonation");
                    self.gss_flags &= !gss_flags::DELEG;
                }
                self.ap_req()
            }
        }
    }

    /// Checks an AS/TGS reply against the request ([RFC 4120 3.1.5]: nonce) and returns the credentials.
    fn check_kdc_rep(&self, rep: &KdcRep, part: &EncKdcRepPart, nonce: u32) -> Result<Creds> {
        let got = proto::read_u32(&part.nonce.0, "kdc-rep nonce")?;
        if got != nonce {
            return Err(
                err(AuthErrorKind::InvalidToken, "kdc-rep nonce").with_detail("nonce does not match the request")
            );
        }
        let key = proto::key_of(&part.key.0, "kdc-rep session key")?;
        key.aes_suite()?;
        let ticket = rep.ticket.0.clone();
        Ok(Creds {
            ticket,
            key,
            flags: proto::flags_u32(&part.flags.0),
            authtime: Timestamp::from_kerberos_time(&part.auth_time.0),
            starttime: part.start_time.0.as_ref().map(|t| Timestamp::from_kerberos_time(&t.0)),
            endtime: Timestamp::from_kerberos_time(&part.end_time.0),
            renew_till: part.renew_till.0.as_ref().map(|t| Timestamp::from_kerberos_time(&t.0)),
        })
    }

    /// The KRB-CRED carrying the forwarded TGT, encrypted with the service session key ([RFC 4120 5.8],
    /// usage 14; [RFC 4121 4.1.1] Deleg field).
    fn krb_cred(&self, service_key: &KerberosKey) -> Result<Option<Vec<u8>>> {
        let Some(fwd) = &self.forwarded else { return Ok(None) };
        let t = |ts: Timestamp| ts.to_kerberos_time();
        let info = KrbCredInfo {
            key: ExplicitContextTag0::from(proto::key_asn1(&fwd.key)),
            prealm: Optional::from(Some(ExplicitContextTag1::from(proto::kstring(&self.client_realm)?))),
            pname: Optional::from(Some(ExplicitContextTag2::from(proto::principal(
                name_type::NT_PRINCIPAL,
                &self.client_name.components,
            )?))),
            flags: Optional::from(Some(ExplicitContextTag3::from(proto::flags(fwd.flags)))),
            auth_time: Optional::from(Some(ExplicitContextTag4::from(t(fwd.authtime)?))),
            start_time: Optional::from(match fwd.starttime {
                Some(s) => Some(ExplicitContextTag5::from(t(s)?)),
                None => None,
            }),
            end_time: Optional::from(Some(ExplicitContextTag6::from(t(fwd.endtime)?))),
            renew_till: Optional::from(match fwd.renew_till {
                Some(s) => Some(ExplicitContextTag7::from(t(s)?)),
                None => None,
            }),
            srealm: Optional::from(Some(ExplicitContextTag8::from(proto::kstring(&self.client_realm)?))),
            sname: Optional::from(Some(ExplicitContextTag9::from(proto::principal(
                name_type::NT_SRV_INST,
                &["krbtgt".to_owned(), self.client_realm.clone()],
            )?))),
            caddr: Optional::from(None),
        };
        let part = EncKrbCredPartInner {
            ticket_info: ExplicitContextTag0::from(Asn1SequenceOf::from(vec![info])),
            nonce: Optional::from(None),
            timestamp: Optional::from(None),
            usec: Optional::from(None),
            s_address: Optional::from(None),
            r_address: Optional::from(None),
        };
        let part_der = proto::encode(&ApplicationTag::<EncKrbCredPartInner, 29>::from(part), "enc-krb-cred-part")?;
        let enc = proto::encrypt(service_key, usage::KRB_CRED, &part_der, None)?;
        let cred = ApplicationTag::<KrbCredInner, 22>::from(KrbCredInner {
            pvno: ExplicitContextTag0::from(proto::int(5)),
            msg_type: ExplicitContextTag1::from(proto::int(22)),
            tickets: ExplicitContextTag2::from(Asn1SequenceOf::from(vec![fwd.ticket.clone()])),
            enc_part: ExplicitContextTag3::from(enc),
        });
        proto::encode(&cred, "krb-cred").map(Some)
    }

    /// The AP-REQ ([RFC 4120 5.5.1]): mutual-required, an authenticator with the GSS checksum, a fresh
    /// initiator subkey and sequence number (usage 11), raw as DCE style requires.
    fn ap_req(&mut self) -> Result<Step> {
        let service = self.service.clone().ok_or_else(|| err(AuthErrorKind::OutOfSequence, "kerberos ap-req"))?;
        let now = self.now();
        if service.endtime.secs <= now.secs {
            return Err(err(AuthErrorKind::TicketExpired, "kerberos service ticket"));
        }
        let subkey = self.random_key(service.key.enctype())?;
        let seq = random_u30(self.config.entropy.as_ref())?;
        let deleg = self.krb_cred(&service.key)?;
        if self.gss_flags & gss_flags::DELEG != 0 && deleg.is_none() {
            self.gss_flags &= !gss_flags::DELEG;
        }
        let checksum = proto::gss_checksum(self.gss_flags, deleg.as_deref())?;
        let auth = AuthenticatorInner {
            authenticator_vno: ExplicitContextTag0::from(proto::int(5)),
            crealm: ExplicitContextTag1::from(proto::kstring(&self.client_realm)?),
            cname: ExplicitContextTag2::from(proto::principal(name_type::NT_PRINCIPAL, &self.client_name.components)?),
            cksum: Optional::from(Some(ExplicitContextTag3::from(Checksum {
                cksumtype: ExplicitContextTag0::from(proto::int(proto::GSS_CHECKSUM_TYPE)),
                checksum: ExplicitContextTag1::from(OctetStringAsn1::from(checksum)),
            }))),
            cusec: ExplicitContextTag4::from(proto::int(i64::from(now.usec))),
            ctime: ExplicitContextTag5::from(now.to_kerberos_time()?),
            subkey: Optional::from(Some(ExplicitContextTag6::from(proto::key_asn1(&subkey)))),
            seq_number: Optional::from(Some(ExplicitContextTag7::from(proto::int(i64::from(seq))))),
            authorization_data: Optional::from(None),
        };
        let auth_der = proto::encode(&ApplicationTag::<AuthenticatorInner, 2>::from(auth), "authenticator")?;
        let enc = proto::encrypt(&service.key, usage::AP_REQ_AUTHENTICATOR, &auth_der, None)?;
        let ap_req = ApReq::from(ApReqInner {
            pvno: ExplicitContextTag0::from(proto::int(5)),
            msg_type: ExplicitContextTag1::from(proto::int(14)),
            ap_options: ExplicitContextTag2::from(proto::flags(ap_options::MUTUAL_REQUIRED)),
            ticket: ExplicitContextTag3::from(service.ticket.clone()),
            authenticator: ExplicitContextTag4::from(enc),
        });
        // MS-KILE 3.4.5.1 / MIT: a DCE-style AP-REQ travels raw, without the RFC 4121 4.1 framing (MIT refuses
        // a framed one with DCE_STYLE set, and a raw one without)
        let token = proto::encode(&ap_req, "ap-req")?;
        debug!(target = %self.target, flags = format_args!("{:#x}", self.gss_flags), "kerberos ap-req built");
        self.state = State::ApReqSent {
            ctime: Timestamp { secs: now.secs, usec: now.usec },
            service_key: service.key,
            subkey,
            seq,
        };
        Ok(Step::Continue { token })
    }

    /// The acceptor's AP-REP ([RFC 4120 5.5.2], usage 12): mutual authentication, acceptor subkey and
    /// sequence number; answers with the DCE-style AP-REP ([MS-KILE 3.4.5.1]: ctime/cusec now, no subkey,
    /// seq-number = the acceptor's).
    fn on_ap_rep(
        &mut self,
        input: &[u8],
        ctime: Timestamp,
        service_key: &KerberosKey,
        subkey: &KerberosKey,
        seq: u32,
    ) -> Result<Step> {
        let krb = unframe_krb(input)?;
        if krb.tok_id.is_some_and(|t| t == KrbTokenId::ERROR) || krb.message.first() == Some(&0x7e) {
            let e = proto::parse_krb_error(krb.message)?;
            return Err(
                err(proto::error_kind(e.code), "kerberos acceptor error").with_detail(format!("krb-error {}", e.code))
            );
        }
        if let Some(t) = krb.tok_id
            && t != KrbTokenId::AP_REP
        {
            return Err(err(AuthErrorKind::InvalidToken, "ap-rep token").with_detail("gss token id is not ap-rep"));
        }
        let rep: ApRep = proto::decode(krb.message, "ap-rep")?;
        let plain = proto::decrypt(service_key, usage::AP_REP, &rep.0.enc_part.0, "ap-rep enc-part")
            .map_err(|e| err(AuthErrorKind::MutualAuthFailed, "ap-rep enc-part").with_detail(e.to_string()))?;
        let part: ApplicationTag<EncApRepPartInner, 27> = proto::decode(&plain, "enc-ap-rep-part")?;
        let part = part.0;
        let rep_time = Timestamp::from_kerberos_time(&part.ctime.0);
        let rep_usec = proto::read_int(&part.cusec.0, "enc-ap-rep-part cusec")?;
        // RFC 4120 3.2.5: ctime and cusec must be those of our authenticator
        if rep_time.secs != ctime.secs || rep_usec != i64::from(ctime.usec) {
            return Err(
                err(AuthErrorKind::MutualAuthFailed, "ap-rep").with_detail("ctime/cusec do not match the request")
            );
        }
        let acceptor_subkey = match &part.subkey.0 {
            Some(k) => Some(proto::key_of(&k.0, "ap-rep subkey")?),
            None => None,
        };
        let acceptor_seq = match &part.seq_number.0 {
            Some(s) => proto::read_u32(&s.0, "ap-rep seq-number")?,
            None => 0,
        };
        let now = self.now();
        let dce = EncApRepPartInner {
            ctime: ExplicitContextTag0::from(now.to_kerberos_time()?),
            cusec: ExplicitContextTag1::from(proto::int(i64::from(now.usec))),
            subkey: Optional::from(None),
            seq_number: Optional::from(Some(ExplicitContextTag3::from(proto::int(i64::from(acceptor_seq))))),
        };
        let dce_der = proto::encode(&ApplicationTag::<EncApRepPartInner, 27>::from(dce), "enc-ap-rep-part")?;
        let enc = proto::encrypt(service_key, usage::AP_REP, &dce_der, None)?;
        let out = ApRep::from(ApRepInner {
            pvno: ExplicitContextTag0::from(proto::int(5)),
            msg_type: ExplicitContextTag1::from(proto::int(15)),
            enc_part: ExplicitContextTag2::from(enc),
        });
        let token = proto::encode(&out, "ap-rep")?;
        let (key, acceptor_flag) = match acceptor_subkey {
            Some(k) => (k, true),
            None => (subkey.clone(), false),
        };
        key.aes_suite()?;
        let session = KerberosSession {
            key,
            acceptor_subkey: acceptor_flag,
            local: Sender::Initiator,
            send_seq: u64::from(seq),
            recv_seq: u64::from(acceptor_seq),
        };
        self.info = Some(ContextInfo {
            auth_type: AuthType::KERBEROS,
            mutual_auth: true,
            flags: self.gss_flags,
            session_key: SecretBytes::from(session.key.expose()),
            sizes: VerifierSizes { signature_len: WRAP_TOKEN_LEN, pad_align: 16, max_token: MAX_TOKEN },
        });
        self.session = Some(session);
        self.state = State::Done;
        debug!(target = %self.target, "kerberos client context complete");
        Ok(Step::Complete { token: Some(token) })
    }
}

/// Removes the TCP length prefix ([RFC 4120 7.2.2]) when present and consistent; otherwise the reply is
/// taken as is (a caller may already have stripped it).
fn strip_tcp_length(reply: &[u8]) -> Result<&[u8]> {
    if let (Some(len), Some(rest)) = (reply.get(..4), reply.get(4..))
        && let Ok(b) = <[u8; 4]>::try_from(len)
        && usize::try_from(u32::from_be_bytes(b)).is_ok_and(|n| n == rest.len())
    {
        return Ok(rest);
    }
    if reply.first().is_some_and(|b| matches!(b, 0x6b | 0x6d | 0x7e)) {
        return Ok(reply);
    }
    Err(err(AuthErrorKind::Truncated, "kdc tcp reply").with_detail("length prefix does not match the reply"))
}

/// Decodes EncASRepPart or EncTGSRepPart (RFC 4120 5.4.2 allows either tag in an AS-REP).
fn decode_enc_kdc_rep_part(plain: &[u8]) -> Result<EncKdcRepPart> {
    match plain.first() {
        Some(0x79) => Ok(proto::decode::<ApplicationTag<EncKdcRepPart, 25>>(plain, "enc-as-rep-part")?.0),
        Some(0x7a) => Ok(proto::decode::<ApplicationTag<EncKdcRepPart, 26>>(plain, "enc-tgs-rep-part")?.0),
        _ => Err(err(AuthErrorKind::InvalidToken, "enc-kdc-rep-part").with_detail("unexpected tag")),
    }
}

/// The ETYPE-INFO2 entries of a METHOD-DATA (the e-data of KDC_ERR_PREAUTH_REQUIRED).
fn etype_info2_of_method_data(e_data: &[u8]) -> Result<Vec<(EncType, Option<String>)>> {
    let list: Asn1SequenceOf<PaData> = proto::decode(e_data, "method-data")?;
    etype_info2_of_padata(&list.0)
}

fn etype_info2_of_padata(list: &[PaData]) -> Result<Vec<(EncType, Option<String>)>> {
    let mut out = Vec::new();
    for pa in list {
        if proto::read_int(&pa.padata_type.0, "padata-type")? != padata::PA_ETYPE_INFO2 {
            continue;
        }
        let info: EtypeInfo2 = proto::decode(&pa.padata_data.0.0, "etype-info2")?;
        for entry in &info.0 {
            let etype = proto::read_etype(&entry.etype.0, "etype-info2 etype")?;
            if let Some(params) = &entry.s2kparams.0 {
                // RFC 3962 4: the AES s2kparams is the PBKDF2 iteration count; only the default is supported
                if params.0.0 != [0, 0, 0x10, 0] {
                    continue;
                }
            }
            out.push((etype, entry.salt.0.as_ref().map(|s| proto::string_of(&s.0))));
        }
    }
    Ok(out)
}

fn creds_from_ccache(c: &super::ccache::CcacheCredential) -> Result<Creds> {
    let ticket: Ticket = proto::decode(&c.ticket, "ccache ticket")?;
    c.key.aes_suite()?;
    let ts = |v: u32| Timestamp::from_secs(i64::from(v));
    Ok(Creds {
        ticket,
        key: c.key.clone(),
        flags: c.ticket_flags,
        authtime: ts(c.authtime),
        starttime: (c.starttime != 0).then(|| ts(c.starttime)),
        endtime: ts(c.endtime),
        renew_till: (c.renew_till != 0).then(|| ts(c.renew_till)),
    })
}

/// The GSS-API framing of a Kerberos context token ([RFC 4121 4.1], [RFC 2743 3.1]).
pub(crate) fn gss_frame(tok_id: KrbTokenId, message: &[u8]) -> Vec<u8> {
    let oid = der::tlv(tag::OID, Oid::KRB5);
    der::tlv(tag::APPLICATION_0, &der::concat(&[&oid, &tok_id.0, message]))
}

impl SecurityContext for KerberosClient {
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

impl ClientContext for KerberosClient {
    fn step(&mut self, input: Option<&[u8]>) -> Result<Step> {
        let state = core::mem::replace(&mut self.state, State::Failed);
        let r = match (state, input) {
            (State::Initial, None) => self.begin(),
            (State::ApReqSent { ctime, service_key, subkey, seq }, Some(token)) => {
                self.on_ap_rep(token, ctime, &service_key, &subkey, seq)
            }
            _ => Err(err(AuthErrorKind::OutOfSequence, "kerberos client step")),
        };
        if r.is_err() {
            self.state = State::Failed;
        }
        r
    }

    fn resume_kdc(&mut self, reply: &[u8]) -> Result<Step> {
        let state = core::mem::replace(&mut self.state, State::Failed);
        let r = match state {
            State::Kdc(pending) => self.on_kdc_reply(pending, reply),
            _ => Err(err(AuthErrorKind::OutOfSequence, "kerberos kdc reply")),
        };
        if r.is_err() {
            self.state = State::Failed;
        }
        r
    }
}
