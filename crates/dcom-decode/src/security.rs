//! Following the security contexts of a connection in a capture and opening its protected PDUs
//! ([MS-RPCE 3.3.1.5.2]): the tokens of each auth context travel in bind / bind_ack / alter_context /
//! alter_context_resp / rpc_auth_3; once the last leg is seen and a key applies, every later PDU of that
//! context is checked (and decrypted at PKT_PRIVACY) in order, per direction.

use std::collections::HashMap;

use bytes::Bytes;
use dcom_auth::kerberos::KerberosCaptureKeys;
use dcom_auth::ntlm::NtlmCaptureKeys;
use dcom_auth::{Protection, ProtectionConfig};
use dcom_pdu::{AuthLevel, AuthType, PduBody, PfcFlags};

use crate::{Dir, Keys, Record};

/// One auth context (`auth_context_id`) of a connection.
#[derive(Debug, Default)]
struct AuthContext {
    context_id: u32,
    auth_type: Option<AuthType>,
    level: Option<AuthLevel>,
    /// The NTLM legs: NEGOTIATE (client), CHALLENGE (server), AUTHENTICATE (client).
    tokens: Vec<(Dir, Bytes)>,
    client_header_sign: bool,
    server_header_sign: bool,
    opened: Option<(Protection, Protection)>,
    /// Why the context cannot be opened.
    note: Option<String>,
}

/// The security contexts of one connection.
#[derive(Debug, Default)]
pub(crate) struct Security {
    contexts: HashMap<u32, AuthContext>,
}

impl Security {
    /// Learns from handshake PDUs, and checks / opens protected ones. Call in frame order.
    pub(crate) fn observe(&mut self, rec: &mut Record, keys: &Keys) {
        let Some(pdu) = &rec.pdu else { return };
        let Some(auth) = &pdu.auth else { return };
        let t = auth.trailer;
        let ctx = self
            .contexts
            .entry(t.auth_context_id)
            .or_insert_with(|| AuthContext { context_id: t.auth_context_id, ..AuthContext::default() });
        match &pdu.body {
            PduBody::Bind(_) | PduBody::AlterContext(_) | PduBody::Auth3(_) => {
                // The client's first leg says whether it proposes header signing.
                if ctx.tokens.is_empty() {
                    ctx.client_header_sign = pdu.header.pfc_flags.contains(PfcFlags::SUPPORT_HEADER_SIGN);
                }
                ctx.auth_type = Some(t.auth_type);
                ctx.level = Some(t.auth_level);
                ctx.tokens.push((Dir::C2s, auth.auth_value.clone()));
                ctx.try_open(keys);
            }
            PduBody::BindAck(_) | PduBody::AlterContextResp(_) => {
                if ctx.tokens.len() == 1 {
                    ctx.server_header_sign = pdu.header.pfc_flags.contains(PfcFlags::SUPPORT_HEADER_SIGN);
                }
                ctx.tokens.push((Dir::S2c, auth.auth_value.clone()));
                ctx.try_open(keys);
            }
            PduBody::Request(_) | PduBody::Response(_) | PduBody::Fault(_) => {
                // [MS-RPCE 3.3.1.5.2]: CONNECT has no per-PDU protection; connection-oriented RPC treats CALL and
                // PKT as PKT_INTEGRITY, so every level from CALL up is checked.
                if t.auth_level.0 < AuthLevel::CALL.0 {
                    return;
                }
                let Some((c2s, s2c)) = ctx.opened.as_mut() else {
                    rec.verify_note = Some(ctx.note.clone().unwrap_or_else(|| "no key applies".into()));
                    return;
                };
                let prot = if rec.dir == Dir::C2s { c2s } else { s2c };
                let mut frame = rec.raw.to_vec();
                match prot.unprotect_frame(&mut frame) {
                    Ok(opened) => {
                        rec.verified = Some(opened.protected);
                        if t.auth_level == AuthLevel::PKT_PRIVACY && opened.protected {
                            rec.clear_stub = frame.get(opened.stub).map(Bytes::copy_from_slice);
                        }
                    }
                    Err(e) => {
                        rec.verified = Some(false);
                        rec.verify_note = Some(e.to_string());
                    }
                }
            }
            _ => {}
        }
    }
}

impl AuthContext {
    fn config(&self, auth_type: AuthType, level: AuthLevel) -> ProtectionConfig {
        ProtectionConfig {
            auth_type,
            level,
            context_id: self.context_id,
            // [MS-RPCE 3.3.1.5.2.2]: header signing is in force when both sides set PFC_SUPPORT_HEADER_SIGN.
            header_sign: self.client_header_sign && self.server_header_sign,
        }
    }

    fn try_open(&mut self, keys: &Keys) {
        if self.opened.is_some() {
            return;
        }
        let (Some(auth_type), Some(level)) = (self.auth_type, self.level) else { return };
        if auth_type == AuthType::KERBEROS || auth_type == AuthType::SPNEGO {
            self.try_open_kerberos(keys, auth_type, level);
            return;
        }
        if auth_type != AuthType::WINNT {
            self.note = Some(format!("decrypting {} is not supported yet", auth_type.name()));
            return;
        }
        if self.tokens.len() < 3 {
            return;
        }
        let Some(nt) = &keys.nt_hash else {
            self.note = Some("no NTLM password or hash given".into());
            return;
        };
        let (Some((_, negotiate)), Some((_, challenge)), Some((_, authenticate))) =
            (self.tokens.first(), self.tokens.get(1), self.tokens.get(2))
        else {
            return;
        };
        let derived = NtlmCaptureKeys::derive(negotiate, challenge, authenticate, nt);
        let keys_for = match derived {
            Ok(k) => k,
            Err(e) => {
                self.note = Some(format!("ntlm handshake did not verify with the key given: {e}"));
                return;
            }
        };
        let v = keys_for.verified();
        let user_ok = keys.user.as_deref().is_none_or(|u| u.eq_ignore_ascii_case(&v.user));
        let domain_ok = keys.domain.as_deref().is_none_or(|d| d.eq_ignore_ascii_case(&v.domain));
        if !user_ok || !domain_ok {
            self.note = Some(format!("the connection authenticated {}\\{}, not the account given", v.domain, v.user));
            return;
        }
        let config = self.config(auth_type, level);
        match (keys_for.client_to_server(config), keys_for.server_to_client(config)) {
            (Ok(c2s), Ok(s2c)) => self.opened = Some((c2s, s2c)),
            (Err(e), _) | (_, Err(e)) => self.note = Some(e.to_string()),
        }
    }

    /// Kerberos (16, DCE style: AP-REQ, AP-REP, AP-REP) or SPNEGO (9) carrying Kerberos, whose final legs carry
    /// the mechListMICs ([MS-KILE 3.4.5], [RFC 4178 5]).
    fn try_open_kerberos(&mut self, keys: &Keys, auth_type: AuthType, level: AuthLevel) {
        let spnego = auth_type == AuthType::SPNEGO;
        // SPNEGO waits for its final legs (alter_context and alter_context_resp) to check the mechListMICs.
        let needed = if spnego { 4 } else { 2 };
        if self.tokens.len() < needed {
            return;
        }
        if keys.kerberos.is_empty() {
            self.note = Some("no kerberos service key given".into());
            return;
        }
        let token = |i: usize| self.tokens.get(i).map(|(_, t)| t.as_ref());
        let (Some(ap_req), Some(ap_rep)) = (token(0), token(1)) else { return };
        let mut derived = match KerberosCaptureKeys::derive_with_keys(ap_req, ap_rep, keys.kerberos.iter()) {
            Ok(k) => k,
            Err(e) => {
                self.note = Some(format!("kerberos handshake did not open with the keys given: {e}"));
                return;
            }
        };
        if spnego && let Err(e) = derived.finish_spnego(token(2), token(3)) {
            self.note = Some(format!("spnego mechListMIC did not verify: {e}"));
            return;
        }
        let config = self.config(auth_type, level);
        match (derived.client_to_server(config), derived.server_to_client(config)) {
            (Ok(c2s), Ok(s2c)) => self.opened = Some((c2s, s2c)),
            (Err(e), _) | (_, Err(e)) => self.note = Some(e.to_string()),
        }
    }
}
