//! The per-message state of an established Kerberos context: the protection key ([RFC 4121 2]: the
//! acceptor subkey when present, else the initiator subkey, else the ticket session key), who we are, and
//! the next sequence number of each direction. SPNEGO's mechListMIC uses one number of its direction
//! ([RFC 4178 5], seen on Windows), the protector hands out the following ones.

use super::key::KerberosKey;
use super::mic::{self, Sender};
use super::wrap::KerberosProtector;
use crate::error::{AuthError, AuthErrorKind, Result};

/// Keys and sequence numbers of a complete Kerberos context (never printed: the key is redacted anyway).
#[derive(Debug, Clone)]
pub(crate) struct KerberosSession {
    pub(crate) key: KerberosKey,
    pub(crate) acceptor_subkey: bool,
    pub(crate) local: Sender,
    pub(crate) send_seq: u64,
    pub(crate) recv_seq: u64,
}

impl KerberosSession {
    /// GSS_GetMIC over `data` with the next send sequence number.
    pub(crate) fn get_mic(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let token = mic::get_mic(&self.key, self.local, self.acceptor_subkey, self.send_seq, &[data])?;
        self.send_seq = self
            .send_seq
            .checked_add(1)
            .ok_or(AuthError::new(AuthErrorKind::SequenceExhausted, "kerberos mic sequence"))?;
        Ok(token.to_vec())
    }

    /// GSS_VerifyMIC of the peer's `token` over `data` with the next receive sequence number.
    pub(crate) fn verify_mic(&mut self, data: &[u8], token: &[u8]) -> Result<()> {
        mic::verify_mic(&self.key, self.local.peer(), self.acceptor_subkey, self.recv_seq, &[data], token)?;
        self.recv_seq = self
            .recv_seq
            .checked_add(1)
            .ok_or(AuthError::new(AuthErrorKind::SequenceExhausted, "kerberos mic sequence"))?;
        Ok(())
    }

    /// The per-PDU protector from the current sequence numbers (sealing until told the level).
    pub(crate) fn protector(&self) -> Result<KerberosProtector> {
        KerberosProtector::new(self.key.clone(), self.acceptor_subkey, self.local, self.send_seq, self.recv_seq, true)
    }
}
