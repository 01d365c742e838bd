//! Kerberos (auth type 16, and inside SPNEGO 9): keys and keytabs, RFC 4121 per-message tokens, SPNEGO
//! token parsing, and passive decryption of a captured DCE-style connection.
//!
//! The active client and server providers are the next phase; this module already has everything a
//! protector needs: [`KerberosKey`], [`mic`] (GSS_GetMICEx / GSS_VerifyMICEx, TOK_ID 04 04) and
//! [`KerberosProtector`] (DCE-style GSS_WrapEx / GSS_UnwrapEx, TOK_ID 05 04, [MS-KILE 3.4.5.4.1]).

mod der;
mod key;
pub mod keytab;
pub mod mic;
mod passive;
pub mod spnego;
mod wrap;

pub use key::{EncType, KerberosKey};
pub use mic::Sender;
pub use passive::{KerberosCaptureKeys, TicketInfo};
pub use wrap::{DCE_EC, DCE_RRC, KerberosProtector, MAX_TOKEN, WRAP_TOK_ID, WRAP_TOKEN_LEN};
