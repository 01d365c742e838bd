#![cfg_attr(doc, doc = include_str!("../README.md"))]
#![cfg_attr(not(doc), doc = "tokio transport for DCE/RPC associations.")]

pub mod client;
pub mod epm;
pub mod kdc;
pub mod server;

pub use client::{ConnectOptions, Connection};
pub use server::{CallContext, Handler, HandlerFuture, Limits, RunningServer, ServerBuilder};

/// Read buffer of a new connection: an idle connection keeps only this much (small calls fit in it).
pub(crate) const READ_BUF_START: usize = 4 * 1024;
/// The most a connection's read buffer grows to, when reads keep filling it (large fragments, pipelined calls).
pub(crate) const READ_BUF_MAX: usize = 64 * 1024;

/// Doubles `buf` (up to [`READ_BUF_MAX`]) after a read that filled it: more is likely waiting.
pub(crate) fn grow_read_buf(buf: &mut Vec<u8>, filled: usize) {
    if filled == buf.len() && buf.len() < READ_BUF_MAX {
        buf.resize((buf.len() * 2).min(READ_BUF_MAX), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_buffer_grows_only_when_filled_and_stops_at_the_maximum() {
        let mut buf = vec![0u8; READ_BUF_START];
        grow_read_buf(&mut buf, 100);
        assert_eq!(buf.len(), READ_BUF_START);
        for _ in 0..10 {
            let n = buf.len();
            grow_read_buf(&mut buf, n);
        }
        assert_eq!(buf.len(), READ_BUF_MAX);
    }
}
