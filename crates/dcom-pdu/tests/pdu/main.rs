//! Integration tests of dcom-pdu (one test binary).

mod capture;
mod hex;
mod vectors;
mod captures;
mod negative;
mod props;
