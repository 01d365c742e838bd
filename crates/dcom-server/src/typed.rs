//! Typed handlers: decode the request stub into an operation's `[in]` parameters, encode the `[out]` ones.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use dcom_idl::Operation;
use dcom_ndr::{DataRep, NdrContext, Syntax};
use dcom_pdu::Status;
use dcom_rpc::server::CallOutcome;
use dcom_tokio::server::{CallContext, Handler, HandlerFuture};
use tracing::debug;

/// The NDR context of a call's request: the negotiated transfer syntax and the request's data representation.
#[must_use]
pub fn ndr_context(ctx: &CallContext) -> NdrContext {
    let syntax = if ctx.ndr64 { Syntax::Ndr64 } else { Syntax::Ndr20 };
    let drep = DataRep::from_bytes(ctx.drep.0).unwrap_or(DataRep::LITTLE_ENDIAN);
    NdrContext::new(syntax, drep)
}

/// The NDR context of a call's response. Our response PDUs carry our own data representation, little-endian
/// ASCII IEEE (C706 12.6.1, 14.1: the receiver converts; every PDU's `packed_drep` describes its own stub), so
/// the `[out]` parameters are encoded little-endian whatever the request used.
#[must_use]
pub fn response_ndr_context(ctx: &CallContext) -> NdrContext {
    let syntax = if ctx.ndr64 { Syntax::Ndr64 } else { Syntax::Ndr20 };
    NdrContext::new(syntax, DataRep::LITTLE_ENDIAN)
}

type OpFn = Arc<dyn Fn(CallContext, Bytes) -> HandlerFuture + Send + Sync>;

/// An interface handler that dispatches on opnum to typed operation functions.
#[derive(Default, Clone)]
pub struct Dispatch {
    ops: HashMap<u16, OpFn>,
}

impl core::fmt::Debug for Dispatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut ops: Vec<_> = self.ops.keys().collect();
        ops.sort();
        f.debug_struct("Dispatch").field("opnums", &ops).finish()
    }
}

impl Dispatch {
    /// An empty dispatcher.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds operation `O` implemented by `f`.
    #[must_use]
    pub fn op<O, F, Fut>(mut self, f: F) -> Self
    where
        O: Operation + 'static,
        O::In: Send + 'static,
        O::Out: Send + 'static,
        F: Fn(CallContext, O::In) -> Fut + Send + Sync + 'static,
        Fut: core::future::Future<Output = Result<O::Out, Status>> + Send + 'static,
    {
        self.ops.insert(O::OPNUM, typed::<O, F, Fut>(f));
        self
    }

    /// Adds operation number `opnum` implemented on the raw request stub, for operations whose request
    /// differs between clients (the handler decodes what it needs and returns the complete outcome).
    #[must_use]
    pub fn raw_op<F, Fut>(mut self, opnum: u16, f: F) -> Self
    where
        F: Fn(CallContext, Bytes) -> Fut + Send + Sync + 'static,
        Fut: core::future::Future<Output = CallOutcome> + Send + 'static,
    {
        let f = Arc::new(f);
        self.ops.insert(
            opnum,
            Arc::new(move |ctx: CallContext, stub: Bytes| {
                let f = f.clone();
                Box::pin(async move { f(ctx, stub).await }) as HandlerFuture
            }),
        );
        self
    }

    /// The highest opnum plus one (the opnum count to register).
    #[must_use]
    pub fn opnums(&self) -> u16 {
        self.ops.keys().max().map_or(0, |m| m.saturating_add(1))
    }
}

impl Handler for Dispatch {
    fn call(&self, ctx: CallContext, stub: Bytes) -> HandlerFuture {
        match self.ops.get(&ctx.opnum) {
            Some(op) => op(ctx, stub),
            // C706: an operation the interface does not have.
            None => Box::pin(async { CallOutcome::NotExecuted(Status::NCA_S_OP_RNG_ERROR) }),
        }
    }
}

/// Wraps `f` (a function of the decoded `[in]` parameters) as a raw handler function.
pub fn typed<O, F, Fut>(f: F) -> OpFn
where
    O: Operation + 'static,
    O::In: Send + 'static,
    O::Out: Send + 'static,
    F: Fn(CallContext, O::In) -> Fut + Send + Sync + 'static,
    Fut: core::future::Future<Output = Result<O::Out, Status>> + Send + 'static,
{
    let f = Arc::new(f);
    Arc::new(move |ctx: CallContext, stub: Bytes| {
        let f = f.clone();
        Box::pin(async move {
            let nctx = ndr_context(&ctx);
            let out_ctx = response_ndr_context(&ctx);
            // The stub may carry alignment padding before a stripped verification trailer: decode a prefix.
            let input = match dcom_ndr::decode_prefix::<O::In>(&stub, nctx) {
                Ok((v, _)) => v,
                Err(e) => {
                    debug!(op = O::NAME, error = %e, "request stub does not decode");
                    return CallOutcome::Fault(Status::NCA_S_FAULT_NDR);
                }
            };
            match f(ctx, input).await {
                Ok(out) => match dcom_ndr::encode(&out, out_ctx) {
                    Ok(bytes) => CallOutcome::Response(Bytes::from(bytes)),
                    Err(e) => {
                        debug!(op = O::NAME, error = %e, "response does not encode");
                        CallOutcome::Fault(Status::NCA_S_FAULT_NDR)
                    }
                },
                Err(status) => CallOutcome::Fault(status),
            }
        }) as HandlerFuture
    })
}
