//! Endpoint mapper stubs in the decoder.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::Value;

pub(crate) fn decode(
    _opnum: u16,
    _is_request: bool,
    _stub: &[u8],
    _ndr64: bool,
    _drep: [u8; 4],
    _ports: &mut BTreeSet<(Option<IpAddr>, u16)>,
) -> Result<Value, String> {
    Err("endpoint mapper decoding is not wired yet".into())
}
