//! The dcom-idl test suite, one binary: Samba oracle, Windows capture vectors, property and hostile-input tests.

#![expect(clippy::panic, reason = "test helpers outside #[test] functions fail loudly")]

mod common;
mod roundtrip;
mod samba_oracle;
mod vectors;
