//! Client and server contexts of the Kerberos, SPNEGO and schannel providers, from command-line options.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use dcom_auth::kerberos::keytab::Keytab;
use dcom_auth::kerberos::{
    CredentialCache, KerberosClient, KerberosClientConfig, KerberosCredentials, KerberosServer, KerberosServerConfig,
    Krb5Profile, PrincipalNameParts,
};
use dcom_auth::ntlm::{NtlmClientCredentials, NtlmServerConfig};
use dcom_auth::spnego::{SpnegoClient, SpnegoClientConfig, SpnegoServer, SpnegoServerConfig};
use dcom_auth::{ClientContext, ClientRequirements, CredentialStore, Password, ServerContext};
use dcom_pdu::{AuthLevel, AuthType};
use dcom_schannel::rustls::pki_types::pem::PemObject as _;
use dcom_schannel::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use dcom_schannel::{CertifiedKey, ClientOptions, SchannelClient, SchannelClientConfig};
use dcom_tokio::server::ProviderFactory;

use crate::rpc::AuthArgs;

fn kerberos_config(args: &AuthArgs) -> Result<KerberosClientConfig> {
    let principal = || -> Result<String> {
        let user = args.user().context("--user is required for kerberos without --ccache")?;
        Ok(match args.domain() {
            Some(d) if !user.contains('@') => format!("{user}@{}", d.to_ascii_uppercase()),
            _ => user.to_owned(),
        })
    };
    let credentials = if args.use_ccache() {
        KerberosCredentials::Ccache(CredentialCache::from_env().context("reading the credential cache (KRB5CCNAME)")?)
    } else if let Some(kt) = args.keytab() {
        let keytab = Keytab::load(kt).with_context(|| format!("reading keytab {}", kt.display()))?;
        KerberosCredentials::Keytab { principal: principal()?, keytab }
    } else {
        let pw = args.secret()?.context("--password, --password-file, DCOMCTL_PASSWORD, --keytab or --ccache")?;
        KerberosCredentials::Password { principal: principal()?, password: Password::new(&pw) }
    };
    let mut config = KerberosClientConfig::new(credentials);
    config.profile = Krb5Profile::from_env().context("reading krb5.conf")?;
    config.realm = args.domain().map(str::to_ascii_uppercase);
    Ok(config)
}

pub(crate) fn client_context(name: &str, args: &AuthArgs, req: ClientRequirements) -> Result<Box<dyn ClientContext>> {
    Ok(match name {
        "kerberos" | "krb5" => Box::new(KerberosClient::new(kerberos_config(args)?, req)?),
        "negotiate" | "spnego" => {
            let kerberos = kerberos_config(args).ok();
            let ntlm = match (args.user(), args.secret()?) {
                (Some(u), Some(p)) if !args.use_ccache() => {
                    Some(NtlmClientCredentials::with_password(args.domain().unwrap_or_default(), u, &p))
                }
                _ => None,
            };
            if kerberos.is_none() && ntlm.is_none() {
                bail!("negotiate needs --user with a password, a --keytab or --ccache");
            }
            Box::new(SpnegoClient::new(SpnegoClientConfig::new(kerberos, ntlm), req)?)
        }
        "schannel" => {
            let (cert, key) = args.cert_files();
            let client_cert = match (cert, key) {
                (Some(c), Some(k)) => Some(load_certified_key(c, k)?),
                (None, None) => None,
                _ => bail!("--cert and --key go together"),
            };
            let roots = match args.ca_file() {
                Some(ca) => load_certs(ca)?,
                None => bail!("schannel needs --ca FILE (PEM) to verify the server certificate"),
            };
            let config = SchannelClientConfig::new(ClientOptions::new(roots, client_cert))?;
            Box::new(SchannelClient::new(&config, &req, AuthLevel::PKT_PRIVACY)?)
        }
        other => bail!("unknown authentication service {other:?} (none, ntlm, kerberos, negotiate, schannel)"),
    })
}

/// Certificates from a PEM file.
pub(crate) fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Result<Vec<_>, _> =
        CertificateDer::pem_file_iter(path).with_context(|| format!("reading {}", path.display()))?.collect();
    let certs = certs.with_context(|| format!("parsing {}", path.display()))?;
    if certs.is_empty() {
        bail!("no certificate in {}", path.display());
    }
    Ok(certs)
}

/// A certificate chain and its private key from PEM files.
pub(crate) fn load_certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey> {
    let chain = load_certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).with_context(|| format!("reading key {}", key.display()))?;
    Ok(CertifiedKey { chain, key })
}

/// SPNEGO with NTLM inside, for the demo.
pub(crate) fn spnego_ntlm_client(
    domain: &str,
    user: &str,
    password: &str,
    req: ClientRequirements,
) -> Result<Box<dyn ClientContext>> {
    let ntlm = NtlmClientCredentials::with_password(domain, user, password);
    Ok(Box::new(SpnegoClient::new(SpnegoClientConfig::new(None, Some(ntlm)), req)?))
}

/// Server factories: SPNEGO over NTLM (and Kerberos when a keytab is given), Kerberos alone with a keytab.
pub(crate) fn server_providers(
    store: Option<Arc<dyn CredentialStore>>,
    keytab: Option<(Arc<Keytab>, Vec<String>)>,
) -> Result<Vec<(AuthType, ProviderFactory)>> {
    let ntlm = store.map(NtlmServerConfig::new);
    let kerberos = match keytab {
        Some((kt, spns)) => {
            let mut cfg = KerberosServerConfig::new(kt);
            for spn in spns {
                cfg.accepted_principals.push(PrincipalNameParts::parse(&spn)?);
            }
            Some(cfg)
        }
        None => None,
    };
    let mut out: Vec<(AuthType, ProviderFactory)> = Vec::new();
    if let Some(k) = kerberos.clone() {
        out.push((
            AuthType::KERBEROS,
            Arc::new(move |_| Some(Box::new(KerberosServer::new(k.clone())) as Box<dyn ServerContext>)),
        ));
    }
    if ntlm.is_some() || kerberos.is_some() {
        let cfg = SpnegoServerConfig { kerberos, ntlm };
        out.push((
            AuthType::SPNEGO,
            Arc::new(move |_| SpnegoServer::new(cfg.clone()).ok().map(|s| Box::new(s) as Box<dyn ServerContext>)),
        ));
    }
    Ok(out)
}

pub(crate) fn spnego_ntlm_server(store: Arc<dyn CredentialStore>) -> Vec<(AuthType, ProviderFactory)> {
    server_providers(Some(store), None).unwrap_or_default()
}
