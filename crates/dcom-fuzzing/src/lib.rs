//! Oracles for the fuzz targets in `fuzz/`.
//!
//! Each oracle takes arbitrary bytes, runs one decoder over them, and panics only when an invariant of ours
//! breaks (a decoded value that does not re-encode to the same bytes, say): that is how an oracle reports a bug
//! to the fuzzing engine. A decoder itself must never panic. The same oracles replay every committed crash in
//! `fuzz/regressions/` from `cargo test` (see `tests/regressions.rs`).

/// One connection-oriented PDU: decode, and re-encode byte for byte what decodes.
pub fn pdu_decode(data: &[u8]) {
    dcom_pdu::fuzz::fuzz_decode(data);
}

/// A stream of PDUs through the framer and the fragment reassembler.
pub fn pdu_stream(data: &[u8]) {
    dcom_pdu::fuzz::fuzz_stream(data);
}

/// A capture file through the capture reader: pcap/pcapng/gzip, link layers, TCP and SMB reassembly.
pub fn capture_parse(data: &[u8]) {
    dcom_capture::fuzz_parse(data);
}

/// A capture file through the whole `dcomctl decode` pipeline, text and JSON rendering included.
pub fn capture_decode(data: &[u8]) {
    if let Ok(report) = dcom_decode::decode_capture(data, &dcom_decode::Options::default()) {
        for r in &report.records {
            let _ = dcom_decode::pdu_line(r);
            let _ = dcom_decode::pdu_json(r);
        }
    }
}

/// A mix of NDR constructs (structures, arrays, strings, pointers, unions; NDR20 both byte orders, NDR64, type
/// serialization): decode, and re-encode what decodes.
pub fn ndr_decode(data: &[u8]) {
    dcom_ndr::fuzzing::decode_mix(data);
}

/// Endpoint mapper stubs of every method in both directions, NDR20 and NDR64: what decodes must re-encode to
/// the same bytes with the sender's referent ids, except for alignment padding, and must decode again to the
/// same value; the towers inside are decoded too.
#[expect(clippy::panic, reason = "a fuzz oracle reports a broken invariant by panicking")]
pub fn epm_decode(data: &[u8]) {
    use dcom_epm::EpmCall;
    use dcom_ndr::{DataRep, NdrContext, Syntax};
    let Some((&selector, stub)) = data.split_first() else { return };
    let opnum = u16::from(selector & 0x07);
    let is_request = selector & 0x08 != 0;
    let syntax = if selector & 0x10 != 0 { Syntax::Ndr64 } else { Syntax::Ndr20 };
    let drep = if selector & 0x20 != 0 { [0x00, 0, 0, 0] } else { [0x10, 0, 0, 0] };
    let Ok(drep) = DataRep::from_bytes(drep) else { return };
    let ctx = NdrContext::new(syntax, drep);
    let Ok((value, used, ids)) = EpmCall::decode_prefix_with_ids(opnum, is_request, stub, ctx) else { return };
    for t in value.towers() {
        if let Ok(tower) = t.tower() {
            let _ = tower.binding_string();
            let mut again = Vec::new();
            if tower.encode(&mut again).is_err() || again[..] != t.tower_octet_string[..] {
                panic!("a decoded tower does not re-encode identically");
            }
        }
    }
    let again = match value.encode_with_ids(ctx, &ids) {
        Ok(a) => a,
        Err(e) => panic!("re-encoding a decoded ept stub failed: {e}"),
    };
    let Some(original) = stub.get(..used) else { panic!("used {used} is beyond the stub") };
    if again.len() != original.len() {
        panic!("re-encoded ept stub has {} bytes, the original {}", again.len(), original.len());
    }
    if again != original {
        match EpmCall::decode_prefix_with_ids(opnum, is_request, &again, ctx) {
            Ok((back, _, _)) if back == value => {}
            _ => panic!("re-encoded ept stub does not decode to the same value"),
        }
    }
}

/// OBJREF in all four forms ([MS-DCOM 2.2.18]): decode, re-encode, compare.
pub fn dcom_objref(data: &[u8]) {
    dcom_types::fuzzing::objref(data);
}

/// DUALSTRINGARRAY ([MS-DCOM 2.2.19]).
pub fn dcom_dualstringarray(data: &[u8]) {
    dcom_types::fuzzing::dualstringarray(data);
}

/// Activation property blobs ([MS-DCOM 2.2.22]), type-serialized.
pub fn dcom_activation_blob(data: &[u8]) {
    dcom_types::fuzzing::activation_blob(data);
}

/// ORPCTHIS ([MS-DCOM 2.2.13.1]).
pub fn dcom_orpcthis(data: &[u8]) {
    dcom_types::fuzzing::orpcthis(data);
}

/// ORPCTHAT ([MS-DCOM 2.2.13.2]).
pub fn dcom_orpcthat(data: &[u8]) {
    dcom_types::fuzzing::orpcthat(data);
}

/// An oracle: takes arbitrary bytes, panics only on a broken invariant.
pub type Oracle = fn(&[u8]);

/// Names and oracles of every target, for the regression replay.
pub const TARGETS: &[(&str, Oracle)] = &[
    ("pdu_decode", pdu_decode),
    ("pdu_stream", pdu_stream),
    ("capture_parse", capture_parse),
    ("capture_decode", capture_decode),
    ("ndr_decode", ndr_decode),
    ("epm_decode", epm_decode),
    ("dcom_objref", dcom_objref),
    ("dcom_dualstringarray", dcom_dualstringarray),
    ("dcom_activation_blob", dcom_activation_blob),
    ("dcom_orpcthis", dcom_orpcthis),
    ("dcom_orpcthat", dcom_orpcthat),
    ("rpc_server", rpc_server),
    ("idl_rpcecho", idl_rpcecho),
];

/// Hostile client bytes into the server association (MS-RPCE 3.3.3): never a panic, output bounded by input,
/// every call answered. The first byte picks how the input is split into reads.
pub fn rpc_server(data: &[u8]) {
    use std::sync::Arc;

    use dcom_rpc::server::{CallOutcome, InterfaceEntry, ServerConfig, ServerConnection, ServerEvent, ServerHooks};

    #[derive(Debug)]
    struct Hooks(Arc<dcom_auth::InMemoryStore>);
    impl ServerHooks for Hooks {
        fn interface(&self, s: &dcom_pdu::SyntaxId) -> Option<InterfaceEntry> {
            Some(InterfaceEntry { syntax: *s, ndr64: s.version_minor & 1 == 1, opnums: 4, policy: None })
        }
        fn security_context(
            &self,
            t: dcom_pdu::AuthType,
            _level: dcom_pdu::AuthLevel,
        ) -> Option<Box<dyn dcom_auth::ServerContext>> {
            match t {
                dcom_pdu::AuthType::NONE => Some(Box::new(dcom_auth::none::NoneServer::new())),
                dcom_pdu::AuthType::WINNT => {
                    let cfg = dcom_auth::ntlm::NtlmServerConfig::new(self.0.clone());
                    dcom_auth::ntlm::NtlmServer::new(cfg).ok().map(|s| Box::new(s) as _)
                }
                _ => None,
            }
        }
    }
    let Some((&split, rest)) = data.split_first() else { return };
    let mut store = dcom_auth::InMemoryStore::new();
    store.add_password(None, "u", "p");
    let config = ServerConfig { max_calls_in_flight: 4, max_request_size: 64 * 1024, ..ServerConfig::default() };
    let mut conn = ServerConnection::new(
        Arc::new(config),
        Arc::new(Hooks(Arc::new(store))),
        Arc::new(dcom_rpc::AssociationGroups::new(1)),
    );
    let step = usize::from(split).max(1);
    for chunk in rest.chunks(step) {
        let r = conn.receive(chunk);
        while let Some(ev) = conn.poll_event() {
            if let ServerEvent::Call(c) = ev {
                let _ = conn.respond(c.call_id, CallOutcome::Response(c.stub.clone()));
            }
        }
        let out = conn.take_output();
        // Each PDU we send answers one the client sent: at most a few KiB per input byte is a generous bound.
        assert!(out.len() <= 64 * 1024 + 64 * chunk.len(), "output grows without bound");
        if r.is_err() {
            return;
        }
    }
}

/// Hostile request and response stubs for every rpcecho/mgmt/samr/dssetup/wkssvc operation, NDR 2.0 and NDR64.
pub fn idl_rpcecho(data: &[u8]) {
    use dcom_ndr::NdrContext;
    let Some((&sel, stub)) = data.split_first() else { return };
    let ctx = if sel & 0x80 != 0 { NdrContext::NDR64 } else { NdrContext::NDR20 };
    let opnum = u16::from(sel & 0x0f);
    match (sel >> 4) & 0x7 {
        0 => drop(dcom_idl::rpcecho::Request::decode(opnum, stub, ctx)),
        1 => drop(dcom_idl::rpcecho::Response::decode(opnum, stub, ctx)),
        2 => drop(dcom_idl::mgmt::Request::decode(opnum, stub, ctx)),
        3 => drop(dcom_idl::mgmt::Response::decode(opnum, stub, ctx)),
        4 => drop(dcom_idl::samr::Request::decode(opnum, stub, ctx)),
        5 => drop(dcom_idl::samr::Response::decode(opnum, stub, ctx)),
        6 => drop(dcom_idl::wkssvc::Response::decode(opnum, stub, ctx)),
        _ => drop(dcom_idl::dssetup::Response::decode(opnum, stub, ctx)),
    }
}
