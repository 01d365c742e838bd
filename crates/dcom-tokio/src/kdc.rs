//! KDC exchanges for Kerberos contexts ([`dcom_auth::Step::NeedsKdc`]): RFC 4120 7.2.1 (UDP) and 7.2.2 (TCP,
//! 4-byte big-endian length prefix).

use core::time::Duration;
use std::io;

use dcom_auth::{KdcRequest, KdcTransport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// Largest KDC reply accepted (RFC 4120 7.2.2 allows up to 2^31-1; real replies are a few KiB).
pub const MAX_REPLY: usize = 1024 * 1024;

fn host_port(url: &str) -> io::Result<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty kdc address"));
    }
    // Default port 88 when none is given (RFC 4120 7.2.1).
    let has_port = rest.rsplit_once(':').is_some_and(|(h, p)| !h.ends_with(':') && p.parse::<u16>().is_ok());
    Ok(if has_port { rest.to_owned() } else { format!("{rest}:88") })
}

/// Performs `request` and returns the reply. TCP: `data` carries its length prefix and the reply is returned with
/// its own prefix; UDP: one datagram each way.
pub async fn exchange(request: &KdcRequest, timeout: Duration) -> io::Result<Vec<u8>> {
    let addr = host_port(&request.url)?;
    let fut = async {
        match request.transport {
            KdcTransport::Tcp => {
                let mut s = TcpStream::connect(&addr).await?;
                s.write_all(&request.data).await?;
                let mut len = [0u8; 4];
                s.read_exact(&mut len).await?;
                let n = usize::try_from(u32::from_be_bytes(len) & 0x7fff_ffff).unwrap_or(usize::MAX);
                if n > MAX_REPLY {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, format!("kdc reply of {n} bytes")));
                }
                let mut out = Vec::with_capacity(4 + n);
                out.extend_from_slice(&len);
                out.resize(4 + n, 0);
                s.read_exact(out.get_mut(4..).unwrap_or_default()).await?;
                Ok(out)
            }
            KdcTransport::Udp => {
                let bind = if addr.starts_with('[') { "[::]:0" } else { "0.0.0.0:0" };
                let s = UdpSocket::bind(bind).await?;
                s.connect(&addr).await?;
                s.send(&request.data).await?;
                let mut buf = vec![0u8; 65_536];
                let n = s.recv(&mut buf).await?;
                buf.truncate(n);
                Ok(buf)
            }
            KdcTransport::Http | KdcTransport::Https => {
                Err(io::Error::new(io::ErrorKind::Unsupported, "MS-KKDCP (KDC proxy) is not implemented"))
            }
        }
    };
    tokio::time::timeout(timeout, fut).await.map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "kdc timed out"))?
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn addresses() {
        assert_eq!(host_port("tcp://127.0.0.30:88").unwrap(), "127.0.0.30:88");
        assert_eq!(host_port("udp://kdc.example").unwrap(), "kdc.example:88");
        assert_eq!(host_port("kdc.example:750").unwrap(), "kdc.example:750");
        assert!(host_port("tcp://").is_err());
    }
}
