//! What a client learns from an activation or OXID resolution reply ([MS-DCOM 3.2.4.1.1.2], [MS-DCOM 3.2.4.1.2]):
//! the OXID, the exporter's bindings, the IPID of its IRemUnknown, the authentication hint and the COM version.

use std::net::IpAddr;

use uuid::Uuid;

use crate::activation::ActivationPropertiesBlob;
use crate::error::Result;
use crate::interfaces::{RemoteActivationOut, ResolveOxid2Out, ResolveOxidOut};
use crate::objref::{ChosenBinding, DualStringArray, SecurityBinding, StringBinding, pick_string_binding};
use crate::orpc::ComVersion;

/// The resolution of an OXID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OxidResolution {
    /// The OXID, when the reply names it (activation replies do; `ResolveOxid*` answer for a known OXID).
    pub oxid: Option<u64>,
    /// The object exporter's string and security bindings.
    pub bindings: Option<DualStringArray>,
    /// IPID of the exporter's IRemUnknown.
    pub ipid_rem_unknown: Uuid,
    /// `authnHint`: the authentication level the client should use at least ([MS-DCOM 3.2.4.1.2]).
    pub authn_hint: u32,
    /// The server's COM version (absent from `ResolveOxid`).
    pub com_version: Option<ComVersion>,
}

impl OxidResolution {
    /// From the ScmReplyInfo of an activation reply.
    #[must_use]
    pub fn from_activation(blob: &ActivationPropertiesBlob) -> Option<Self> {
        let r = blob.scm_reply()?;
        Some(Self {
            oxid: Some(r.oxid),
            bindings: r.pdsa_oxid_bindings.clone(),
            ipid_rem_unknown: r.ipid_rem_unknown,
            authn_hint: r.authn_hint,
            com_version: Some(r.server_version),
        })
    }

    /// From an `IActivation::RemoteActivation` reply.
    #[must_use]
    pub fn from_remote_activation(o: &RemoteActivationOut) -> Self {
        Self {
            oxid: Some(o.oxid),
            bindings: o.pdsa_oxid_bindings.clone(),
            ipid_rem_unknown: o.ipid_rem_unknown,
            authn_hint: o.authn_hint,
            com_version: Some(o.server_version),
        }
    }

    /// From a `ResolveOxid2` reply.
    #[must_use]
    pub fn from_resolve_oxid2(o: &ResolveOxid2Out) -> Self {
        Self {
            oxid: None,
            bindings: o.pdsa_oxid_bindings.clone(),
            ipid_rem_unknown: o.ipid_rem_unknown,
            authn_hint: o.authn_hint,
            com_version: Some(o.com_version),
        }
    }

    /// From a `ResolveOxid` reply.
    #[must_use]
    pub fn from_resolve_oxid(o: &ResolveOxidOut) -> Self {
        Self {
            oxid: None,
            bindings: o.pdsa_oxid_bindings.clone(),
            ipid_rem_unknown: o.ipid_rem_unknown,
            authn_hint: o.authn_hint,
            com_version: None,
        }
    }

    /// The exporter's string bindings.
    pub fn string_bindings(&self) -> Result<Vec<StringBinding>> {
        self.bindings.as_ref().map_or(Ok(Vec::new()), DualStringArray::string_bindings)
    }

    /// The security bindings the server offers (authentication service, authorization service, principal name).
    pub fn security_bindings(&self) -> Result<Vec<SecurityBinding>> {
        self.bindings.as_ref().map_or(Ok(Vec::new()), DualStringArray::security_bindings)
    }

    /// The TCP binding to try first (see [`pick_string_binding`]).
    pub fn pick(&self, reached: Option<IpAddr>) -> Result<Option<ChosenBinding>> {
        Ok(pick_string_binding(&self.string_bindings()?, reached))
    }
}
