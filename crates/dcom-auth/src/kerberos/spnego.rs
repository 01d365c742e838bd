//! SPNEGO ([RFC 4178]) and the Kerberos GSS-API framing ([RFC 4121 4.1]), read only: enough to find the
//! Kerberos AP-REQ / AP-REP in DCE/RPC auth values (auth type 9) and the mechListMIC input.

use core::fmt;

use super::der::{self, Reader, Tlv, tag};
use crate::error::{AuthError, AuthErrorKind, Result};

/// An object identifier, as its DER contents octets.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Oid(pub Vec<u8>);

impl Oid {
    /// 1.3.6.1.5.5.2, SPNEGO.
    pub const SPNEGO: &'static [u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
    /// 1.2.840.113554.1.2.2, Kerberos 5 ([RFC 4121]).
    pub const KRB5: &'static [u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
    /// 1.2.840.48018.1.2.2, the Microsoft Kerberos 5 OID ([MS-KILE 3.1.5.12] keeps it for compatibility).
    pub const MS_KRB5: &'static [u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
    /// 1.3.6.1.4.1.311.2.2.10, NTLMSSP.
    pub const NTLMSSP: &'static [u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];

    /// True for either Kerberos OID.
    #[must_use]
    pub fn is_kerberos(&self) -> bool {
        self.0 == Self::KRB5 || self.0 == Self::MS_KRB5
    }
}

impl fmt::Display for Oid {
    /// Dotted form ([X.690 8.19]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut arcs = Vec::new();
        let mut v: u64 = 0;
        for &b in &self.0 {
            v = (v << 7) | u64::from(b & 0x7f);
            if b & 0x80 == 0 {
                arcs.push(v);
                v = 0;
            }
        }
        let mut it = arcs.into_iter();
        if let Some(first) = it.next() {
            let (a, b) = if first < 80 { (first / 40, first % 40) } else { (2, first - 80) };
            write!(f, "{a}.{b}")?;
        }
        for a in it {
            write!(f, ".{a}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({self})")
    }
}

/// NegTokenInit ([RFC 4178 4.2.1]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegTokenInit {
    /// The offered mechanisms, most preferred first.
    pub mech_types: Vec<Oid>,
    /// The DER encoding of the MechTypeList (the SEQUENCE OF), the input of the mechListMIC ([RFC 4178 5]).
    pub mech_types_der: Vec<u8>,
    /// The optimistic token of the first mechanism.
    pub mech_token: Option<Vec<u8>>,
    /// mechListMIC (unusual in an init token).
    pub mech_list_mic: Option<Vec<u8>>,
}

/// negState ([RFC 4178 4.2.2]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NegState(pub u8);

impl NegState {
    /// accept-completed.
    pub const ACCEPT_COMPLETED: Self = Self(0);
    /// accept-incomplete.
    pub const ACCEPT_INCOMPLETE: Self = Self(1);
    /// reject.
    pub const REJECT: Self = Self(2);
    /// request-mic.
    pub const REQUEST_MIC: Self = Self(3);
}

/// NegTokenResp ([RFC 4178 4.2.2]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegTokenResp {
    /// negState.
    pub neg_state: Option<NegState>,
    /// supportedMech.
    pub supported_mech: Option<Oid>,
    /// responseToken.
    pub response_token: Option<Vec<u8>>,
    /// mechListMIC.
    pub mech_list_mic: Option<Vec<u8>>,
}

/// A SPNEGO token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpnegoToken {
    /// The initiator's first token (inside the GSS-API InitialContextToken).
    Init(NegTokenInit),
    /// Any later token.
    Resp(NegTokenResp),
}

impl SpnegoToken {
    /// Parses a SPNEGO token: `[APPLICATION 0] { OID 1.3.6.1.5.5.2, [0] NegTokenInit }` or `[1] NegTokenResp`
    /// ([RFC 4178 4.2]). Trailing bytes after the token are rejected.
    pub fn parse(token: &[u8]) -> Result<Self> {
        let mut r = Reader::new(token, "spnego token");
        let outer = r.read()?;
        if !r.is_empty() {
            return Err(trailing("spnego token", r.offset()));
        }
        match outer.tag {
            tag::APPLICATION_0 => {
                // RFC 2743 3.1: InitialContextToken ::= [APPLICATION 0] IMPLICIT SEQUENCE { thisMech, innerToken }
                let mut inner = Reader::inside(&outer, "spnego initial token");
                let oid = inner.expect(tag::OID, "thisMech")?;
                if oid.contents != Oid::SPNEGO {
                    return Err(AuthError::new(AuthErrorKind::InvalidToken, "spnego initial token")
                        .at(oid.offset)
                        .with_detail(format!("mechanism {} is not spnego", Oid(oid.contents.to_vec()))));
                }
                let init = inner.expect(tag::ctx(0), "negTokenInit")?;
                if !inner.is_empty() {
                    return Err(trailing("spnego initial token", inner.offset()));
                }
                Ok(Self::Init(parse_init(&init)?))
            }
            t if t == tag::ctx(1) => Ok(Self::Resp(parse_resp(&outer)?)),
            t => Err(AuthError::new(AuthErrorKind::InvalidToken, "spnego token")
                .at(0)
                .with_detail(format!("tag {t:#04x} is neither an initial token nor a negTokenResp"))),
        }
    }

    /// The Kerberos token carried (mechToken or responseToken), if any.
    #[must_use]
    pub fn mech_token(&self) -> Option<&[u8]> {
        match self {
            Self::Init(i) => i.mech_token.as_deref(),
            Self::Resp(r) => r.response_token.as_deref(),
        }
    }

    /// The mechListMIC, if any.
    #[must_use]
    pub fn mech_list_mic(&self) -> Option<&[u8]> {
        match self {
            Self::Init(i) => i.mech_list_mic.as_deref(),
            Self::Resp(r) => r.mech_list_mic.as_deref(),
        }
    }
}

fn trailing(context: &'static str, at: usize) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidToken, context).at(at).with_detail("trailing bytes")
}

fn octets(field: &Tlv<'_>, context: &'static str) -> Result<Vec<u8>> {
    let mut r = Reader::inside(field, context);
    let s = r.expect(tag::OCTET_STRING, context)?;
    Ok(s.contents.to_vec())
}

fn parse_init(wrapper: &Tlv<'_>) -> Result<NegTokenInit> {
    let mut r = Reader::inside(wrapper, "negTokenInit");
    let seq = r.expect(tag::SEQUENCE, "negTokenInit")?;
    let mut f = Reader::inside(&seq, "negTokenInit");
    let mut out =
        NegTokenInit { mech_types: Vec::new(), mech_types_der: Vec::new(), mech_token: None, mech_list_mic: None };
    let mut last = None;
    while !f.is_empty() {
        let field = f.read()?;
        // RFC 4178 4.2.1: fields in tag order, each at most once
        if last.is_some_and(|l| field.tag <= l) {
            return Err(AuthError::new(AuthErrorKind::InvalidToken, "negTokenInit")
                .at(field.offset)
                .with_detail("fields out of order"));
        }
        last = Some(field.tag);
        match field.tag {
            t if t == tag::ctx(0) => {
                let mut m = Reader::inside(&field, "mechTypes");
                let list = m.expect(tag::SEQUENCE, "mechTypes")?;
                out.mech_types_der = list.raw.to_vec();
                let mut l = Reader::inside(&list, "mechTypes");
                while !l.is_empty() {
                    out.mech_types.push(Oid(l.expect(tag::OID, "mechType")?.contents.to_vec()));
                }
            }
            t if t == tag::ctx(1) => {
                let mut m = Reader::inside(&field, "reqFlags");
                m.expect(tag::BIT_STRING, "reqFlags")?;
            }
            t if t == tag::ctx(2) => out.mech_token = Some(octets(&field, "mechToken")?),
            t if t == tag::ctx(3) => out.mech_list_mic = Some(octets(&field, "mechListMIC")?),
            // [4] negHints in the Microsoft NegTokenInit2 ([MS-SPNG 2.2.1]); ignored
            t if t == tag::ctx(4) => {}
            t => {
                return Err(AuthError::new(AuthErrorKind::InvalidToken, "negTokenInit")
                    .at(field.offset)
                    .with_detail(format!("unknown field tag {t:#04x}")));
            }
        }
    }
    if out.mech_types_der.is_empty() {
        return Err(AuthError::new(AuthErrorKind::InvalidToken, "negTokenInit").with_detail("no mechTypes"));
    }
    Ok(out)
}

fn parse_resp(wrapper: &Tlv<'_>) -> Result<NegTokenResp> {
    let mut r = Reader::inside(wrapper, "negTokenResp");
    let seq = r.expect(tag::SEQUENCE, "negTokenResp")?;
    let mut f = Reader::inside(&seq, "negTokenResp");
    let mut out = NegTokenResp { neg_state: None, supported_mech: None, response_token: None, mech_list_mic: None };
    let mut last = None;
    while !f.is_empty() {
        let field = f.read()?;
        if last.is_some_and(|l| field.tag <= l) {
            return Err(AuthError::new(AuthErrorKind::InvalidToken, "negTokenResp")
                .at(field.offset)
                .with_detail("fields out of order"));
        }
        last = Some(field.tag);
        match field.tag {
            t if t == tag::ctx(0) => {
                let mut m = Reader::inside(&field, "negState");
                let e = m.expect(tag::ENUMERATED, "negState")?;
                let [v] = e.contents else {
                    return Err(AuthError::new(AuthErrorKind::InvalidToken, "negState")
                        .at(e.offset)
                        .with_detail("not a one-byte enumerated"));
                };
                out.neg_state = Some(NegState(*v));
            }
            t if t == tag::ctx(1) => {
                let mut m = Reader::inside(&field, "supportedMech");
                out.supported_mech = Some(Oid(m.expect(tag::OID, "supportedMech")?.contents.to_vec()));
            }
            t if t == tag::ctx(2) => out.response_token = Some(octets(&field, "responseToken")?),
            t if t == tag::ctx(3) => out.mech_list_mic = Some(octets(&field, "mechListMIC")?),
            t => {
                return Err(AuthError::new(AuthErrorKind::InvalidToken, "negTokenResp")
                    .at(field.offset)
                    .with_detail(format!("unknown field tag {t:#04x}")));
            }
        }
    }
    Ok(out)
}

/// The GSS-API token ID of a Kerberos context token ([RFC 4121 4.1]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KrbTokenId(pub [u8; 2]);

impl KrbTokenId {
    /// KRB_AP_REQ.
    pub const AP_REQ: Self = Self([0x01, 0x00]);
    /// KRB_AP_REP.
    pub const AP_REP: Self = Self([0x02, 0x00]);
    /// KRB_ERROR.
    pub const ERROR: Self = Self([0x03, 0x00]);
}

/// A Kerberos context token with its framing removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KrbToken<'a> {
    /// The token ID when the token was GSS-framed (`[APPLICATION 0] { OID krb5, TOK_ID, message }`); `None`
    /// for a raw message (DCE style sends the AP-REP raw, Windows also the AP-REQ inside SPNEGO).
    pub tok_id: Option<KrbTokenId>,
    /// The Kerberos message (AP-REQ `[APPLICATION 14]`, AP-REP `[APPLICATION 15]`, KRB-ERROR).
    pub message: &'a [u8],
}

/// Removes the [RFC 4121 4.1] framing from a Kerberos token if present.
pub fn unframe_krb(token: &[u8]) -> Result<KrbToken<'_>> {
    if token.first() != Some(&tag::APPLICATION_0) {
        return Ok(KrbToken { tok_id: None, message: token });
    }
    let mut r = Reader::new(token, "kerberos gss token");
    let outer = r.read()?;
    if !r.is_empty() {
        return Err(trailing("kerberos gss token", r.offset()));
    }
    let mut inner = Reader::inside(&outer, "kerberos gss token");
    let oid = Oid(inner.expect(tag::OID, "thisMech")?.contents.to_vec());
    if !oid.is_kerberos() {
        return Err(AuthError::new(AuthErrorKind::InvalidToken, "kerberos gss token")
            .at(inner.offset())
            .with_detail(format!("mechanism {oid} is not kerberos")));
    }
    let rest = inner.rest();
    let (Some(&a), Some(&b), Some(message)) = (rest.first(), rest.get(1), rest.get(2..)) else {
        return Err(AuthError::new(AuthErrorKind::Truncated, "kerberos gss token").at(inner.offset()));
    };
    Ok(KrbToken { tok_id: Some(KrbTokenId([a, b])), message })
}

/// A Kerberos message found in an auth value, with the SPNEGO token around it if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KerberosMessage {
    /// The SPNEGO token, when the auth value was SPNEGO (auth type 9).
    pub spnego: Option<SpnegoToken>,
    /// The GSS token ID, when the Kerberos token was GSS-framed.
    pub tok_id: Option<KrbTokenId>,
    /// The Kerberos message (AP-REQ, AP-REP, KRB-ERROR).
    pub message: Vec<u8>,
}

/// The Kerberos token inside an auth value: unwraps SPNEGO when the value is a SPNEGO token whose
/// mechanism is Kerberos ([RFC 4178], [MS-SPNG]), then the GSS framing of the Kerberos token ([RFC 4121 4.1]).
pub fn kerberos_message(auth_value: &[u8]) -> Result<KerberosMessage> {
    let is_spnego = match auth_value.first() {
        Some(&tag::APPLICATION_0) => {
            // either SPNEGO's or Kerberos' InitialContextToken: look at thisMech
            let mut r = Reader::new(auth_value, "gss token");
            let outer = r.read()?;
            let mut inner = Reader::inside(&outer, "gss token");
            inner.expect(tag::OID, "thisMech")?.contents == Oid::SPNEGO
        }
        Some(&t) => t == tag::ctx(1),
        None => return Err(AuthError::new(AuthErrorKind::Truncated, "gss token").at(0)),
    };
    if !is_spnego {
        let krb = unframe_krb(auth_value)?;
        return Ok(KerberosMessage { spnego: None, tok_id: krb.tok_id, message: krb.message.to_vec() });
    }
    let spnego = SpnegoToken::parse(auth_value)?;
    if let SpnegoToken::Init(init) = &spnego
        && !init.mech_types.first().is_some_and(Oid::is_kerberos)
    {
        return Err(AuthError::new(AuthErrorKind::Unsupported, "spnego mechanism")
            .with_detail("the optimistic token is not kerberos"));
    }
    if let SpnegoToken::Resp(resp) = &spnego
        && resp.supported_mech.as_ref().is_some_and(|m| !m.is_kerberos())
    {
        return Err(AuthError::new(AuthErrorKind::Unsupported, "spnego mechanism")
            .with_detail("the selected mechanism is not kerberos"));
    }
    let Some(inner) = spnego.mech_token() else {
        return Err(AuthError::new(AuthErrorKind::InvalidToken, "spnego token").with_detail("no kerberos token"));
    };
    let krb = unframe_krb(inner)?;
    let (tok_id, message) = (krb.tok_id, krb.message.to_vec());
    Ok(KerberosMessage { spnego: Some(spnego), tok_id, message })
}

/// The DER MechTypeList (`SEQUENCE OF OID`) of `mechs`: the NegTokenInit field and the mechListMIC input
/// ([RFC 4178 4.2.1, 5]).
#[must_use]
pub fn encode_mech_types(mechs: &[Oid]) -> Vec<u8> {
    let oids: Vec<Vec<u8>> = mechs.iter().map(|m| der::tlv(tag::OID, &m.0)).collect();
    let refs: Vec<&[u8]> = oids.iter().map(Vec::as_slice).collect();
    der::tlv(tag::SEQUENCE, &der::concat(&refs))
}

impl NegTokenInit {
    /// A NegTokenInit offering `mechs` with an optimistic `mech_token` for the first one.
    #[must_use]
    pub fn new(mechs: Vec<Oid>, mech_token: Option<Vec<u8>>) -> Self {
        let mech_types_der = encode_mech_types(&mechs);
        Self { mech_types: mechs, mech_types_der, mech_token, mech_list_mic: None }
    }

    /// The initial context token: `[APPLICATION 0] { OID spnego, [0] NegTokenInit }` ([RFC 4178 4.2.1],
    /// [RFC 2743 3.1]).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut fields = vec![der::tlv(tag::ctx(0), &self.mech_types_der)];
        if let Some(t) = &self.mech_token {
            fields.push(der::tlv(tag::ctx(2), &der::tlv(tag::OCTET_STRING, t)));
        }
        if let Some(m) = &self.mech_list_mic {
            fields.push(der::tlv(tag::ctx(3), &der::tlv(tag::OCTET_STRING, m)));
        }
        let refs: Vec<&[u8]> = fields.iter().map(Vec::as_slice).collect();
        let seq = der::tlv(tag::SEQUENCE, &der::concat(&refs));
        let oid = der::tlv(tag::OID, Oid::SPNEGO);
        der::tlv(tag::APPLICATION_0, &der::concat(&[&oid, &der::tlv(tag::ctx(0), &seq)]))
    }
}

impl NegTokenResp {
    /// `[1] NegTokenResp` ([RFC 4178 4.2.2]).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut fields = Vec::new();
        if let Some(s) = self.neg_state {
            fields.push(der::tlv(tag::ctx(0), &der::tlv(tag::ENUMERATED, &[s.0])));
        }
        if let Some(m) = &self.supported_mech {
            fields.push(der::tlv(tag::ctx(1), &der::tlv(tag::OID, &m.0)));
        }
        if let Some(t) = &self.response_token {
            fields.push(der::tlv(tag::ctx(2), &der::tlv(tag::OCTET_STRING, t)));
        }
        if let Some(m) = &self.mech_list_mic {
            fields.push(der::tlv(tag::ctx(3), &der::tlv(tag::OCTET_STRING, m)));
        }
        let refs: Vec<&[u8]> = fields.iter().map(Vec::as_slice).collect();
        der::tlv(tag::ctx(1), &der::tlv(tag::SEQUENCE, &der::concat(&refs)))
    }
}
