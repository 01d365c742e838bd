//! NTLM (auth type 10): NTLMv2 only, client and server over sspi with our own proof check and protection.

mod client;
pub mod crypto;
pub mod msg;
mod passive;
mod protector;
mod server;
mod verify;

pub use client::{NtlmClient, NtlmClientCredentials, NtlmSecret};
pub use crypto::{Direction, NtHash, NtlmSessionKeys};
pub use passive::NtlmCaptureKeys;
pub use protector::{NtlmProtector, Role};
pub use server::{NtlmServer, NtlmServerConfig};
pub use verify::{VerifiedAuthenticate, verify_authenticate};
