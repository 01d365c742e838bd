//! Integration tests of dcom-pdu (one test binary).

#![expect(clippy::unwrap_used, clippy::panic, reason = "test helpers outside #[test] functions fail loudly")]

mod capture;
mod captures;
mod hex;
mod negative;
mod props;
mod vectors;
