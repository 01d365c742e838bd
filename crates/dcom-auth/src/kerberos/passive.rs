//! Passive decryption of a Kerberos-protected (or SPNEGO/Kerberos) DCE/RPC connection seen in a capture,
//! from its handshake tokens and the service's long-term key.
//!
//! [RFC 4120 5.5.1] AP-REQ: the ticket's EncTicketPart is decrypted with the service key (key usage 2) and
//! gives the session key; the authenticator (usage 11) gives the initiator subkey and sequence number;
//! the AP-REP's EncAPRepPart (usage 12) gives the acceptor subkey and sequence number. [RFC 4121 2] /
//! [MS-KILE 3.4.5.4]: the acceptor subkey, when present, protects both directions.

use picky_krb::data_types::{Authenticator, EncApRepPart, EncTicketPart, EncryptionKey, PrincipalName};
use picky_krb::messages::{ApRep, ApReq};

use super::key::{EncType, KerberosKey};
use super::mic::{self, Sender};
use super::spnego::{KrbTokenId, SpnegoToken, kerberos_message};
use super::wrap::KerberosProtector;
use crate::error::{AuthError, AuthErrorKind, Result};
use crate::protection::{Protection, ProtectionConfig};

/// Key usages ([RFC 4120 7.5.1]).
mod usage {
    /// AS-REP / TGS-REP ticket, encrypted with the service key.
    pub(super) const TICKET: i32 = 2;
    /// AP-REQ authenticator, encrypted with the ticket session key.
    pub(super) const AP_REQ_AUTHENTICATOR: i32 = 11;
    /// AP-REP encrypted part, encrypted with the ticket session key.
    pub(super) const AP_REP_ENC_PART: i32 = 12;
}

/// The GSS checksum type carried in the authenticator ([RFC 4121 4.1.1]).
const GSS_CHECKSUM_TYPE: i64 = 0x8003;

/// What the decrypted ticket and authenticator say (no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketInfo {
    /// The service realm.
    pub realm: String,
    /// The service principal name components (`ldap`, `dc1.domain.local`, ...).
    pub sname: Vec<String>,
    /// The ticket's encryption type and key version number.
    pub ticket_enctype: EncType,
    /// The key version number of the service key, when the ticket carries it.
    pub kvno: Option<u32>,
    /// The client realm (from the ticket).
    pub crealm: String,
    /// The client principal name components (from the ticket).
    pub cname: Vec<String>,
    /// The session key's encryption type.
    pub session_enctype: EncType,
    /// The GSS flags of the authenticator checksum ([RFC 4121 4.1.1.1]; 0x1000 is GSS_C_DCE_STYLE), when
    /// the checksum is of type 0x8003.
    pub gss_flags: Option<u32>,
    /// Whether the ticket carries authorization data (the PAC, not decoded here).
    pub has_authorization_data: bool,
}

/// The keys of one captured Kerberos connection.
#[derive(Debug, Clone)]
pub struct KerberosCaptureKeys {
    ticket: TicketInfo,
    session_key: KerberosKey,
    initiator_subkey: Option<KerberosKey>,
    acceptor_subkey: Option<KerberosKey>,
    /// The next unused initiator / acceptor sequence numbers.
    initiator_seq: u64,
    acceptor_seq: u64,
    mech_types_der: Option<Vec<u8>>,
    mech_list_mics: u8,
}

fn der_err(e: &picky_asn1_der::Asn1DerError, context: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidToken, context).with_detail(e.to_string())
}

/// An ASN.1 INTEGER (big-endian two's complement, at most 8 octets) as i64.
fn int(bytes: &[u8], context: &'static str) -> Result<i64> {
    if bytes.is_empty() || bytes.len() > 8 {
        return Err(AuthError::new(AuthErrorKind::InvalidToken, context)
            .with_detail(format!("integer of {} octets", bytes.len())));
    }
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut buf = if negative { [0xff; 8] } else { [0; 8] };
    let start = 8 - bytes.len();
    buf.get_mut(start..).unwrap_or_default().copy_from_slice(bytes);
    Ok(i64::from_be_bytes(buf))
}

/// A UInt32 field. Windows encodes sequence numbers above 2^31 as negative Int32 values, so a negative value
/// is read modulo 2^32 ([MS-KILE 3.1.5.1] notes the signed encoding).
fn uint32(bytes: &[u8], context: &'static str) -> Result<u32> {
    let v = int(bytes, context)?;
    if let Ok(u) = u32::try_from(v) {
        return Ok(u);
    }
    if let Ok(s) = i32::try_from(v) {
        return Ok(u32::from_be_bytes(s.to_be_bytes()));
    }
    Err(AuthError::new(AuthErrorKind::InvalidToken, context).with_detail(format!("{v} is not a 32-bit value")))
}

fn enctype(bytes: &[u8], context: &'static str) -> Result<EncType> {
    let v = int(bytes, context)?;
    i32::try_from(v)
        .map(EncType)
        .map_err(|_| AuthError::new(AuthErrorKind::InvalidToken, context).with_detail("enctype out of range"))
}

fn key_of(k: &EncryptionKey, context: &'static str) -> Result<KerberosKey> {
    KerberosKey::new(enctype(k.key_type.0.as_signed_bytes_be(), context)?, &k.key_value.0.0)
}

fn name_of(p: &PrincipalName) -> Vec<String> {
    p.name_string.0.0.iter().map(|s| String::from_utf8_lossy(s.0.as_bytes()).into_owned()).collect()
}

fn check_tok_id(got: Option<KrbTokenId>, want: KrbTokenId, context: &'static str) -> Result<()> {
    match got {
        Some(t) if t != want => Err(AuthError::new(AuthErrorKind::InvalidToken, context)
            .with_detail(format!("gss token id {:02x}{:02x}", t.0[0], t.0[1]))),
        _ => Ok(()),
    }
}

impl KerberosCaptureKeys {
    /// Decrypts the handshake: `ap_req` is the bind's auth value (SPNEGO NegTokenInit, a GSS-framed or raw
    /// AP-REQ), `ap_rep` the bind_ack's (SPNEGO NegTokenResp, a framed or raw AP-REP). A wrong service key
    /// is `SignatureMismatch` (the ticket's integrity check fails).
    pub fn derive(ap_req: &[u8], ap_rep: &[u8], service_key: &KerberosKey) -> Result<Self> {
        Self::derive_with_keys(ap_req, ap_rep, [service_key])
    }

    /// Like [`derive`](Self::derive), trying every key of the ticket's encryption type (for example all the
    /// entries of a [`Keytab`](super::keytab::Keytab)) until one decrypts the ticket; `NoMatchingKey` when
    /// none does.
    pub fn derive_with_keys<'k>(
        ap_req: &[u8],
        ap_rep: &[u8],
        keys: impl IntoIterator<Item = &'k KerberosKey>,
    ) -> Result<Self> {
        let req_msg = kerberos_message(ap_req)?;
        check_tok_id(req_msg.tok_id, KrbTokenId::AP_REQ, "ap-req token")?;
        let mech_types_der = match &req_msg.spnego {
            Some(SpnegoToken::Init(init)) => Some(init.mech_types_der.clone()),
            _ => None,
        };
        let req: ApReq = picky_asn1_der::from_bytes(&req_msg.message).map_err(|e| der_err(&e, "ap-req"))?;
        let ticket = &req.0.ticket.0.0;
        let enc = &ticket.enc_part.0;
        let ticket_enctype = enctype(enc.etype.0.as_signed_bytes_be(), "ticket etype")?;
        let kvno = match &enc.kvno.0 {
            Some(k) => Some(uint32(k.0.as_signed_bytes_be(), "ticket kvno")?),
            None => None,
        };
        let cipher = &enc.cipher.0.0;
        let mut tried = 0usize;
        let mut last_err = None;
        let mut plain = None;
        for key in keys {
            if key.enctype() != ticket_enctype {
                continue;
            }
            tried += 1;
            match key.decrypt(usage::TICKET, cipher) {
                Ok(p) => {
                    plain = Some(p);
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        let Some(plain) = plain else {
            return Err(match (tried, last_err) {
                (1, Some(e)) => e,
                _ => AuthError::new(AuthErrorKind::NoMatchingKey, "ticket")
                    .with_detail(format!("{tried} key(s) of {ticket_enctype} tried")),
            });
        };
        let part: EncTicketPart = picky_asn1_der::from_bytes(&plain).map_err(|e| der_err(&e, "enc-ticket-part"))?;
        let part = part.0;
        let session_key = key_of(&part.key.0, "ticket session key")?;
        let mut info = TicketInfo {
            realm: String::from_utf8_lossy(ticket.realm.0.0.as_bytes()).into_owned(),
            sname: name_of(&ticket.sname.0),
            ticket_enctype,
            kvno,
            crealm: String::from_utf8_lossy(part.crealm.0.0.as_bytes()).into_owned(),
            cname: name_of(&part.cname.0),
            session_enctype: session_key.enctype(),
            gss_flags: None,
            has_authorization_data: part.authorization_data.0.is_some(),
        };

        // RFC 4120 5.5.1: the authenticator, encrypted with the session key (usage 11)
        let auth_enc = &req.0.authenticator.0;
        let auth_plain = session_key.decrypt(usage::AP_REQ_AUTHENTICATOR, &auth_enc.cipher.0.0)?;
        let auth: Authenticator = picky_asn1_der::from_bytes(&auth_plain).map_err(|e| der_err(&e, "authenticator"))?;
        let auth = auth.0;
        let initiator_subkey = match &auth.subkey.0 {
            Some(k) => Some(key_of(&k.0, "initiator subkey")?),
            None => None,
        };
        let initiator_seq = match &auth.seq_number.0 {
            Some(s) => uint32(s.0.as_signed_bytes_be(), "authenticator seq-number")?,
            None => 0,
        };
        if let Some(ck) = &auth.cksum.0 {
            let ck = &ck.0;
            if int(ck.cksumtype.0.as_signed_bytes_be(), "authenticator cksumtype")? == GSS_CHECKSUM_TYPE {
                // RFC 4121 4.1.1: Lgth (4) | Bnd (16) | Flags (4, little endian) | ...
                info.gss_flags =
                    ck.checksum.0.0.get(20..24).and_then(|b| <[u8; 4]>::try_from(b).ok()).map(u32::from_le_bytes);
            }
        }

        // RFC 4120 5.5.2: the AP-REP, encrypted with the session key (usage 12)
        let rep_msg = kerberos_message(ap_rep)?;
        check_tok_id(rep_msg.tok_id, KrbTokenId::AP_REP, "ap-rep token")?;
        let rep: ApRep = picky_asn1_der::from_bytes(&rep_msg.message).map_err(|e| der_err(&e, "ap-rep"))?;
        let rep_plain = session_key.decrypt(usage::AP_REP_ENC_PART, &rep.0.enc_part.0.cipher.0.0)?;
        let rep_part: EncApRepPart =
            picky_asn1_der::from_bytes(&rep_plain).map_err(|e| der_err(&e, "enc-ap-rep-part"))?;
        let rep_part = rep_part.0;
        let acceptor_subkey = match &rep_part.subkey.0 {
            Some(k) => Some(key_of(&k.0, "acceptor subkey")?),
            None => None,
        };
        let acceptor_seq = match &rep_part.seq_number.0 {
            Some(s) => uint32(s.0.as_signed_bytes_be(), "ap-rep seq-number")?,
            None => 0,
        };
        let keys = Self {
            ticket: info,
            session_key,
            initiator_subkey,
            acceptor_subkey,
            initiator_seq: u64::from(initiator_seq),
            acceptor_seq: u64::from(acceptor_seq),
            mech_types_der,
            mech_list_mics: 0,
        };
        keys.protection_key().aes_suite()?;
        Ok(keys)
    }

    /// Completes a SPNEGO handshake ([RFC 4178 5]): verifies the mechListMIC of the initiator's last token
    /// (the alter_context / auth3 auth value) and of the acceptor's last token (the alter_context_resp auth
    /// value) when present, each of which uses one sequence number of its direction. Call it before building
    /// the protections; without SPNEGO (auth type 16) there is nothing to finish.
    pub fn finish_spnego(&mut self, initiator_final: Option<&[u8]>, acceptor_final: Option<&[u8]>) -> Result<()> {
        let Some(mech_types) = self.mech_types_der.clone() else {
            return Err(AuthError::new(AuthErrorKind::OutOfSequence, "spnego mechlistmic")
                .with_detail("the handshake did not start with a spnego negTokenInit"));
        };
        for (token, sender) in [(initiator_final, Sender::Initiator), (acceptor_final, Sender::Acceptor)] {
            let Some(token) = token else { continue };
            let SpnegoToken::Resp(resp) = SpnegoToken::parse(token)? else {
                return Err(
                    AuthError::new(AuthErrorKind::InvalidToken, "spnego final token").with_detail("not a negTokenResp")
                );
            };
            let Some(mic_token) = resp.mech_list_mic else { continue };
            let (key, acceptor_subkey) = self.protection_key_and_flag();
            let seq = match sender {
                Sender::Initiator => self.initiator_seq,
                Sender::Acceptor => self.acceptor_seq,
            };
            mic::verify_mic(key, sender, acceptor_subkey, seq, &[&mech_types], &mic_token)?;
            let next =
                seq.checked_add(1).ok_or(AuthError::new(AuthErrorKind::SequenceExhausted, "spnego mechlistmic"))?;
            match sender {
                Sender::Initiator => self.initiator_seq = next,
                Sender::Acceptor => self.acceptor_seq = next,
            }
            self.mech_list_mics += 1;
        }
        Ok(())
    }

    /// The decrypted ticket and authenticator facts.
    #[must_use]
    pub const fn ticket(&self) -> &TicketInfo {
        &self.ticket
    }

    /// The ticket session key.
    #[must_use]
    pub const fn session_key(&self) -> &KerberosKey {
        &self.session_key
    }

    /// The initiator's subkey from the authenticator, if any.
    #[must_use]
    pub const fn initiator_subkey(&self) -> Option<&KerberosKey> {
        self.initiator_subkey.as_ref()
    }

    /// The acceptor's subkey from the AP-REP, if any.
    #[must_use]
    pub const fn acceptor_subkey(&self) -> Option<&KerberosKey> {
        self.acceptor_subkey.as_ref()
    }

    /// The key protecting the messages ([RFC 4121 2]): the acceptor subkey if any, else the initiator
    /// subkey if any, else the session key.
    #[must_use]
    pub fn protection_key(&self) -> &KerberosKey {
        self.protection_key_and_flag().0
    }

    fn protection_key_and_flag(&self) -> (&KerberosKey, bool) {
        match (&self.acceptor_subkey, &self.initiator_subkey) {
            (Some(k), _) => (k, true),
            (None, Some(k)) => (k, false),
            (None, None) => (&self.session_key, false),
        }
    }

    /// The Kerberos sequence numbers the first protected PDU of each direction carries
    /// (initiator, acceptor).
    #[must_use]
    pub const fn first_sequence_numbers(&self) -> (u64, u64) {
        (self.initiator_seq, self.acceptor_seq)
    }

    /// How many SPNEGO mechListMICs [`finish_spnego`](Self::finish_spnego) verified.
    #[must_use]
    pub const fn verified_mech_list_mics(&self) -> u8 {
        self.mech_list_mics
    }

    /// A receiving [`Protection`] for the client-to-server direction (it plays the acceptor).
    pub fn client_to_server(&self, config: ProtectionConfig) -> Result<Protection> {
        self.protection(config, Sender::Acceptor)
    }

    /// A receiving [`Protection`] for the server-to-client direction (it plays the initiator).
    pub fn server_to_client(&self, config: ProtectionConfig) -> Result<Protection> {
        self.protection(config, Sender::Initiator)
    }

    fn protection(&self, config: ProtectionConfig, local: Sender) -> Result<Protection> {
        let (key, acceptor_subkey) = self.protection_key_and_flag();
        let (send_base, recv_base) = match local {
            Sender::Initiator => (self.initiator_seq, self.acceptor_seq),
            Sender::Acceptor => (self.acceptor_seq, self.initiator_seq),
        };
        let sealing = config.level == dcom_pdu::AuthLevel::PKT_PRIVACY;
        let p = KerberosProtector::new(key.clone(), acceptor_subkey, local, send_base, recv_base, sealing)?;
        Protection::new(config, Some(Box::new(p)))
    }
}
