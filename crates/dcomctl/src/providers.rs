//! Providers that come from the Kerberos/SPNEGO and schannel layers.

use anyhow::{Result, bail};
use dcom_auth::{ClientContext, ClientRequirements};

use crate::rpc::AuthArgs;

pub(crate) fn client_context(name: &str, _args: &AuthArgs, _req: ClientRequirements) -> Result<Box<dyn ClientContext>> {
    bail!("authentication service {name:?} is not available in this build (none, ntlm)")
}
