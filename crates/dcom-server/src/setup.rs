//! A standard server: providers from configuration and the built-in services.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use dcom_auth::CredentialStore;
use dcom_auth::ntlm::{NtlmServer, NtlmServerConfig};
use dcom_pdu::{AuthLevel, AuthType, SyntaxId};
use dcom_rpc::server::SecurityPolicy;
use dcom_tokio::ServerBuilder;
use dcom_tokio::server::ProviderFactory;

use crate::epm::Endpoint;
use crate::mgmt::MgmtInfo;

/// What a standard server offers.
#[derive(Clone)]
pub struct ServerOptions {
    /// NTLM accounts (NTLM and SPNEGO-NTLM are offered when set).
    pub users: Option<Arc<dyn CredentialStore>>,
    /// Accept anonymous NTLM and unauthenticated calls to rpcecho.
    pub allow_anonymous: bool,
    /// Lowest level rpcecho accepts (mgmt and the endpoint mapper accept unauthenticated calls, as on Windows).
    pub min_level: AuthLevel,
    /// Principal name reported by mgmt inq_princ_name.
    pub principal: String,
    /// Extra providers (Kerberos, SPNEGO, schannel), by auth type.
    pub extra_providers: Vec<(AuthType, ProviderFactory)>,
}

impl core::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerOptions")
            .field("users", &self.users.is_some())
            .field("allow_anonymous", &self.allow_anonymous)
            .field("min_level", &self.min_level)
            .field("principal", &self.principal)
            .field("extra_providers", &self.extra_providers.iter().map(|p| p.0).collect::<Vec<_>>())
            .finish()
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            users: None,
            allow_anonymous: false,
            min_level: AuthLevel::CONNECT,
            principal: String::new(),
            extra_providers: Vec::new(),
        }
    }
}

/// The NTLM acceptor factory over `store`.
#[must_use]
pub fn ntlm_provider(store: Arc<dyn CredentialStore>, allow_anonymous: bool) -> ProviderFactory {
    Arc::new(move |_level| {
        let mut config = NtlmServerConfig::new(store.clone());
        config.allow_anonymous = allow_anonymous;
        NtlmServer::new(config).ok().map(|s| Box::new(s) as Box<dyn dcom_auth::ServerContext>)
    })
}

/// A server builder with mgmt, rpcecho and (when `epm_port` is given, on the same listener) the endpoint
/// mapper; `advertise` is the address and port the endpoint mapper hands out for the RPC listener.
#[must_use]
pub fn standard(options: &ServerOptions, advertise: SocketAddr) -> ServerBuilder {
    let mut builder = ServerBuilder::new();
    if let Some(store) = &options.users {
        builder = builder.provider(AuthType::WINNT, ntlm_provider(store.clone(), options.allow_anonymous));
    }
    for (t, f) in &options.extra_providers {
        builder = builder.provider(*t, f.clone());
    }
    let echo_min = if options.allow_anonymous { AuthLevel::NONE } else { options.min_level };
    let echo_policy = SecurityPolicy { min_level: echo_min, ..SecurityPolicy::default() };
    let echo = crate::rpcecho::handler();
    let echo_syntax = crate::syntax(<dcom_idl::rpcecho::Rpcecho as dcom_idl::Interface>::SYNTAX);
    let mgmt_syntax = crate::syntax(<dcom_idl::mgmt::Mgmt as dcom_idl::Interface>::SYNTAX);
    let epm_syntax = SyntaxId::new(dcom_epm::EPM_INTERFACE.0, dcom_epm::EPM_INTERFACE.1, dcom_epm::EPM_INTERFACE.2);
    let interfaces = vec![mgmt_syntax, echo_syntax, epm_syntax];
    let ip = match advertise.ip() {
        std::net::IpAddr::V4(v4) => v4,
        std::net::IpAddr::V6(_) => Ipv4Addr::LOCALHOST,
    };
    let endpoints: Vec<Endpoint> = interfaces
        .iter()
        .map(|s| Endpoint { interface: *s, port: advertise.port(), addr: ip, annotation: annotation(s) })
        .collect();
    let mut principals: Vec<(u8, String)> = Vec::new();
    for t in [AuthType::WINNT, AuthType::SPNEGO, AuthType::KERBEROS, AuthType::GSS_SCHANNEL] {
        principals.push((t.0, options.principal.clone()));
    }
    let mgmt = MgmtInfo { interfaces: interfaces.clone(), stats: builder.stats(), principals };
    let mgmt = crate::mgmt::handler(Arc::new(mgmt));
    let epm = crate::epm::handler(Arc::new(endpoints));
    builder
        .interface(mgmt_syntax, mgmt.opnums(), true, None, Arc::new(mgmt))
        .interface(echo_syntax, echo.opnums(), true, Some(echo_policy), Arc::new(echo))
        .interface(epm_syntax, epm.opnums(), false, None, Arc::new(epm))
}

fn annotation(s: &SyntaxId) -> String {
    let name = if s.uuid == dcom_epm::EPM_INTERFACE.0 {
        "endpoint mapper"
    } else if s.uuid == <dcom_idl::mgmt::Mgmt as dcom_idl::Interface>::SYNTAX.uuid {
        "mgmt"
    } else {
        "rpcecho"
    };
    format!("dcom-rs {name}")
}
