//! Who the caller is, and what the client asked for.

use dcom_pdu::AuthType;

/// The impersonation level a client grants the server (MS-RPCE 3.3.1.5.2, COM `RPC_C_IMP_LEVEL_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum ImpersonationLevel {
    /// The server may not learn who the client is.
    Anonymous,
    /// The server may learn the identity and check access, not act as the client.
    Identify,
    /// The server may act as the client on the server machine.
    #[default]
    Impersonate,
    /// The server may act as the client towards other machines.
    Delegate,
}

/// What the client asked for when building the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RequestedAttributes {
    /// The impersonation level.
    pub impersonation: ImpersonationLevel,
    /// Whether the client required mutual authentication.
    pub mutual_auth: bool,
}

/// What the mechanism proved about the caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthnProof {
    /// Nothing: the None provider or anonymous NTLM.
    Anonymous,
    /// NTLMv2: the NTProofStr verified against the stored credential.
    NtlmV2 {
        /// Whether the AUTHENTICATE message carried a MIC (and it verified).
        mic_verified: bool,
    },
    /// A Kerberos ticket decrypted with the service key (phase 2).
    KerberosTicket,
}

/// The authenticated caller, as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The account name, as sent by the client (empty when anonymous).
    pub account: String,
    /// The domain (NetBIOS or realm) as sent by the client (empty when none or anonymous).
    pub domain: String,
    /// `DOMAIN\account`, `account@REALM` or `ANONYMOUS`.
    pub principal: String,
    /// The provider that authenticated the caller.
    pub provider: AuthType,
    /// What the mechanism proved.
    pub proof: AuthnProof,
    /// True for the explicit anonymous identity.
    pub anonymous: bool,
}

impl Identity {
    /// The explicit anonymous identity (`NT AUTHORITY\ANONYMOUS LOGON` in Windows terms).
    #[must_use]
    pub fn anonymous(provider: AuthType) -> Self {
        Self {
            account: String::new(),
            domain: String::new(),
            principal: "ANONYMOUS".to_owned(),
            provider,
            proof: AuthnProof::Anonymous,
            anonymous: true,
        }
    }

    /// An authenticated `DOMAIN\account` identity.
    #[must_use]
    pub fn named(account: &str, domain: &str, provider: AuthType, proof: AuthnProof) -> Self {
        let principal = if domain.is_empty() { account.to_owned() } else { format!("{domain}\\{account}") };
        Self { account: account.to_owned(), domain: domain.to_owned(), principal, provider, proof, anonymous: false }
    }
}
