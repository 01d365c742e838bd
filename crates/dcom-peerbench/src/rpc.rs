//! Our client: connect, bind (NTLM at a level, or unauthenticated) and the checked operations the benchmarks repeat.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};
use bytes::Bytes;
use dcom_auth::ClientRequirements;
use dcom_auth::ntlm::{NtlmClient, NtlmClientCredentials};
use dcom_pdu::{AuthLevel, SyntaxId};
use dcom_rpc::client::{ClientConfig, ClientSecurity, PresentationContext};
use dcom_tokio::{ConnectOptions, Connection};
use uuid::uuid;

/// wkssvc 6bffd098-a112-3610-9833-46c3f87e345a v1.0 (MS-WKST 1.9).
pub(crate) const WKSSVC: SyntaxId = SyntaxId::new(uuid!("6bffd098-a112-3610-9833-46c3f87e345a"), 1, 0);
/// mgmt afa8bd80-7d8a-11c9-bef4-08002b102989 v1.0 (C706 appendix Q).
pub(crate) const MGMT: SyntaxId = SyntaxId::new(uuid!("afa8bd80-7d8a-11c9-bef4-08002b102989"), 1, 0);
/// rpcecho 60a15ec5-4de8-11d7-a637-005056a20182 v1.0 (Samba's echo.idl).
pub(crate) const RPCECHO: SyntaxId = SyntaxId::new(uuid!("60a15ec5-4de8-11d7-a637-005056a20182"), 1, 0);

/// Per-call timeout: generous, a benchmark call that takes this long is a failure.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// NTLM credentials.
#[derive(Debug, Clone)]
pub(crate) struct Creds {
    pub(crate) domain: String,
    pub(crate) user: String,
    pub(crate) password: String,
}

impl Creds {
    /// alice of the Samba test domain (our server's store knows her too).
    pub(crate) fn alice() -> Self {
        Self {
            domain: dcom_testpeers::DOMAIN.to_owned(),
            user: dcom_testpeers::ALICE.name.to_owned(),
            password: dcom_testpeers::ALICE.password.to_owned(),
        }
    }
}

/// A bound connection: the handle, the presentation context and the security context id to call with.
#[derive(Debug, Clone)]
pub(crate) struct Bound {
    pub(crate) conn: Connection,
    pub(crate) ctx: PresentationContext,
    pub(crate) sec: Option<u32>,
}

/// Connects to `addr` and binds `iface`, with NTLM at `level` when `creds` is given.
pub(crate) async fn open(addr: SocketAddr, iface: SyntaxId, creds: Option<&Creds>, level: AuthLevel) -> Result<Bound> {
    open_with(addr, iface, creds, level, None).await
}

/// [`open`] with [`ConnectOptions::busy_poll`] set to `busy_poll`.
pub(crate) async fn open_with(
    addr: SocketAddr,
    iface: SyntaxId,
    creds: Option<&Creds>,
    level: AuthLevel,
    busy_poll: Option<Duration>,
) -> Result<Bound> {
    let options = ConnectOptions { config: ClientConfig::default(), busy_poll, ..ConnectOptions::default() };
    let conn = Connection::connect(addr, options).await.with_context(|| format!("connecting to {addr}"))?;
    let security = match creds {
        None => None,
        Some(c) => {
            let requirements =
                ClientRequirements { target_name: format!("host/{}", addr.ip()), ..ClientRequirements::default() }
                    .for_level(level);
            let ntlm = NtlmClientCredentials::with_password(&c.domain, &c.user, &c.password);
            let ctx = NtlmClient::new(&ntlm, requirements).context("creating the NTLM client context")?;
            Some(ClientSecurity { context: Box::new(ctx), level, context_id: 1 })
        }
    };
    let sec = security.as_ref().map(|s| s.context_id);
    let bound =
        conn.bind(&[iface], false, security).await.with_context(|| format!("binding {} at {addr}", iface.uuid))?;
    let ctx = bound.contexts.first().and_then(|c| c.1).context("the server refused the interface")?;
    Ok(Bound { conn, ctx, sec })
}

/// What a correct response looks like.
#[derive(Debug, Clone)]
pub(crate) enum Check {
    /// mgmt is_server_listening: `[out] error_status_t *status` then the boolean32 result, 8 bytes, result true
    /// and status 0 (C706 appendix Q, rpc_mgmt_is_server_listening).
    Listening,
    /// NetrWkstaGetInfo: the stub ends with WERROR 0 (MS-WKST 3.2.4.1).
    WerrOk,
    /// The response stub must equal these bytes (EchoData: the conformant out_data array).
    Exact(Bytes),
}

/// One operation: opnum, request stub and the response check.
#[derive(Debug, Clone)]
pub(crate) struct Op {
    pub(crate) name: &'static str,
    pub(crate) opnum: u16,
    pub(crate) stub: Bytes,
    pub(crate) check: Check,
}

impl Op {
    /// wkssvc NetrWkstaGetInfo(ServerName = NULL, Level = 100): unique pointer 0, level 0x64 (MS-WKST 3.2.4.1).
    pub(crate) fn wkssvc_get_info_100() -> Self {
        Self {
            name: "NetrWkstaGetInfo(100)",
            opnum: 0,
            stub: Bytes::from_static(&[0, 0, 0, 0, 0x64, 0, 0, 0]),
            check: Check::WerrOk,
        }
    }

    /// mgmt is_server_listening (opnum 2), empty request stub.
    pub(crate) fn is_server_listening() -> Self {
        Self { name: "is_server_listening", opnum: 2, stub: Bytes::new(), check: Check::Listening }
    }

    /// rpcecho EchoData (opnum 1) of `len` bytes: `[in] uint32 len, [in,size_is(len)] uint8 in_data[]`; the
    /// response is `[out,size_is(len)] uint8 out_data[]`, a conformant array: max_count then the bytes.
    pub(crate) fn echo_data(len: u32) -> Self {
        let data: Vec<u8> = (0..len).map(|i| i.to_le_bytes()[0] ^ 0x5a).collect();
        let mut stub = Vec::with_capacity(data.len() + 8);
        stub.extend_from_slice(&len.to_le_bytes());
        stub.extend_from_slice(&len.to_le_bytes());
        stub.extend_from_slice(&data);
        let mut resp = Vec::with_capacity(data.len() + 4);
        resp.extend_from_slice(&len.to_le_bytes());
        resp.extend_from_slice(&data);
        Self { name: "EchoData", opnum: 1, stub: Bytes::from(stub), check: Check::Exact(Bytes::from(resp)) }
    }

    /// The request stub as hex (for the Python clients' `raw` call).
    pub(crate) fn stub_hex(&self) -> String {
        self.stub.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn verify(&self, out: &[u8]) -> Result<()> {
        match &self.check {
            Check::Listening => {
                ensure!(out.len() == 8, "{}: response stub of {} bytes, expected 8", self.name, out.len());
                let status = out.get(..4).and_then(|s| <[u8; 4]>::try_from(s).ok()).map(u32::from_le_bytes);
                let result = out.get(4..8).and_then(|s| <[u8; 4]>::try_from(s).ok()).map(u32::from_le_bytes);
                ensure!(status == Some(0) && result != Some(0), "{}: status {status:?} result {result:?}", self.name);
            }
            Check::WerrOk => {
                let tail = out.len().checked_sub(4).and_then(|s| out.get(s..)).unwrap_or_default();
                if tail != [0, 0, 0, 0] {
                    bail!("{}: WERROR {tail:02x?} (stub of {} bytes)", self.name, out.len());
                }
            }
            Check::Exact(want) => {
                ensure!(
                    out == want.as_ref(),
                    "{}: response of {} bytes differs from the request",
                    self.name,
                    out.len()
                );
            }
        }
        Ok(())
    }
}

impl Bound {
    /// One checked call.
    pub(crate) async fn call(&self, op: &Op) -> Result<()> {
        let out = self
            .conn
            .call(self.ctx, self.sec, op.opnum, None, op.stub.clone(), Some(CALL_TIMEOUT))
            .await
            .with_context(|| format!("calling {}", op.name))?;
        op.verify(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_stub_layout() {
        let op = Op::echo_data(3);
        assert_eq!(op.stub.as_ref(), [3, 0, 0, 0, 3, 0, 0, 0, 0x5a, 0x5b, 0x58]);
        assert!(op.verify(&[3, 0, 0, 0, 0x5a, 0x5b, 0x58]).is_ok());
        assert!(op.verify(&[3, 0, 0, 0, 0x5a, 0x5b, 0x59]).is_err());
        assert_eq!(op.stub_hex(), "03000000030000005a5b58");
    }

    #[test]
    fn listening_check() {
        let op = Op::is_server_listening();
        assert!(op.verify(&[0, 0, 0, 0, 1, 0, 0, 0]).is_ok());
        assert!(op.verify(&[0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(op.verify(&[1, 0, 0, 0, 1, 0, 0, 0]).is_err());
        assert!(op.verify(&[0, 0, 0, 0]).is_err());
    }

    #[test]
    fn werr_check() {
        let op = Op::wkssvc_get_info_100();
        assert_eq!(op.stub_hex(), "0000000064000000");
        assert!(op.verify(&[1, 2, 3, 0, 0, 0, 0]).is_ok());
        assert!(op.verify(&[1, 2, 3, 0x57, 0, 0, 0]).is_err());
        assert!(op.verify(&[0, 0]).is_err());
    }
}
