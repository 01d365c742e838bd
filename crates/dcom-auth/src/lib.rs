#![cfg_attr(doc, doc = include_str!("../README.md"))]

mod context;
mod error;
mod identity;
pub mod kerberos;
pub mod none;
pub mod ntlm;
mod protection;
mod secret;
pub mod spnego;
mod store;

pub use context::{
    ClientContext, ClientRequirements, ContextInfo, KdcRequest, KdcTransport, SecurityContext, ServerContext, Step,
    VerifierSizes,
};
pub use error::{AuthError, AuthErrorKind};
pub use identity::{AuthnProof, Identity, ImpersonationLevel, RequestedAttributes};
pub use protection::{FrameLayout, MessageProtector, Opened, PduParts, Protection, ProtectionConfig};
pub use secret::{Password, SecretBytes, ct_eq};
/// The exact `sspi` version this crate is built on (=0.23.1; it breaks API in minor releases).
pub use sspi;
pub use store::{CredentialStore, InMemoryStore, StoredCredential, StoredSecret};
