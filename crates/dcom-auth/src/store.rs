//! Credential stores for the NTLM acceptor: in memory, or parsed from a text file of one account per line.
//!
//! File format: `[DOMAIN\]user:password` or `[DOMAIN\]user:nthash:<32 hex digits>`, split at the first colon
//! (so passwords may contain colons); lines whose first non-blank character is `#` are comments; blank lines
//! are skipped. An entry without domain matches any domain.

use core::fmt;
use std::path::Path;

use crate::error::{AuthError, AuthErrorKind, Result};
use crate::ntlm::NtHash;
use crate::secret::Password;

/// A stored secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredSecret {
    /// A clear-text password.
    Password(Password),
    /// An NT hash.
    NtHash(NtHash),
}

impl StoredSecret {
    /// The NT hash (MD4 of the UTF-16LE password, or the stored hash).
    #[must_use]
    pub fn nt_hash(&self) -> NtHash {
        match self {
            Self::Password(p) => NtHash::from_password(p.expose()),
            Self::NtHash(h) => h.clone(),
        }
    }
}

/// One account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCredential {
    /// Domain; `None` matches any domain.
    pub domain: Option<String>,
    /// Account name (matched case-insensitively).
    pub user: String,
    /// The secret.
    pub secret: StoredSecret,
}

/// Where the acceptor looks accounts up. Object safe, shareable between connections.
pub trait CredentialStore: Send + Sync + fmt::Debug {
    /// The secret of `user` in `domain` (as sent by the client), or `None` for an unknown user.
    fn lookup(&self, user: &str, domain: &str) -> Option<StoredSecret>;
}

/// An in-memory list of accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InMemoryStore {
    entries: Vec<StoredCredential>,
}

fn eq_ci(a: &str, b: &str) -> bool {
    a.to_uppercase() == b.to_uppercase()
}

impl InMemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an account with a password.
    pub fn add_password(&mut self, domain: Option<&str>, user: &str, password: &str) -> &mut Self {
        self.entries.push(StoredCredential {
            domain: domain.map(str::to_owned),
            user: user.to_owned(),
            secret: StoredSecret::Password(Password::new(password)),
        });
        self
    }

    /// Adds an account with an NT hash.
    pub fn add_nt_hash(&mut self, domain: Option<&str>, user: &str, hash: NtHash) -> &mut Self {
        self.entries.push(StoredCredential {
            domain: domain.map(str::to_owned),
            user: user.to_owned(),
            secret: StoredSecret::NtHash(hash),
        });
        self
    }

    /// The accounts.
    #[must_use]
    pub fn entries(&self) -> &[StoredCredential] {
        &self.entries
    }

    /// Parses the text format described in the module docs.
    pub fn parse(text: &str) -> Result<Self> {
        let mut store = Self::new();
        for (i, raw) in text.lines().enumerate() {
            let line_no = i.saturating_add(1);
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let err = |what: &str| {
                AuthError::new(AuthErrorKind::CredentialSyntax { line: line_no }, "credential file").with_detail(what)
            };
            let (account, secret) = trimmed.split_once(':').ok_or_else(|| err("missing ':'"))?;
            let (domain, user) = match account.split_once('\\') {
                Some((d, u)) => (Some(d), u),
                None => (None, account),
            };
            if user.is_empty() || domain.is_some_and(str::is_empty) {
                return Err(err("empty user or domain"));
            }
            if let Some(hex) = secret.strip_prefix("nthash:") {
                let hash = NtHash::from_hex(hex).map_err(|_| err("nthash needs 32 hex digits"))?;
                store.add_nt_hash(domain, user, hash);
            } else {
                store.add_password(domain, user, secret);
            }
        }
        Ok(store)
    }

    /// Reads and parses a credential file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            AuthError::new(AuthErrorKind::CredentialSyntax { line: 0 }, "credential file")
                .with_detail(format!("cannot read: {}", e.kind()))
        })?;
        Self::parse(&text)
    }
}

impl CredentialStore for InMemoryStore {
    fn lookup(&self, user: &str, domain: &str) -> Option<StoredSecret> {
        let user_match = |e: &&StoredCredential| eq_ci(&e.user, user);
        self.entries
            .iter()
            .filter(user_match)
            .find(|e| e.domain.as_deref().is_some_and(|d| eq_ci(d, domain)))
            .or_else(|| self.entries.iter().filter(user_match).find(|e| e.domain.is_none()))
            .map(|e| e.secret.clone())
    }
}
