//! Prints the TCP streams and SMB pipes of a capture: `cargo run --example capinfo -- FILE`.

use dcom_capture::{Capture, Limits};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: capinfo FILE")?;
    let bytes = std::fs::read(path)?;
    let cap = Capture::parse(&bytes, &Limits::default())?;
    let r = cap.reassemble();
    let mut out = String::new();
    for s in &r.streams {
        out += &format!(
            "tcp {} {} -> {} {:?} syn={} frames={} c2s={}B/{} gaps s2c={}B/{} gaps\n",
            s.index,
            s.client,
            s.server,
            s.roles,
            s.syn_seen,
            s.frames.len(),
            s.c2s.byte_count(),
            s.c2s.gaps.len(),
            s.s2c.byte_count(),
            s.s2c.gaps.len()
        );
    }
    let p = cap.extract_pipes(&r.streams);
    for pipe in &p.pipes {
        out += &format!(
            "pipe tcp={} {:?} {} {:?} first={} c2s={}B/{}seg s2c={}B/{}seg\n",
            pipe.tcp_stream,
            pipe.version,
            pipe.file_id,
            pipe.name,
            pipe.first_frame,
            pipe.c2s.byte_count(),
            pipe.c2s.segments.len(),
            pipe.s2c.byte_count(),
            pipe.s2c.segments.len()
        );
    }
    for w in cap.warnings.iter().chain(&r.warnings).chain(&p.warnings) {
        out += &format!("warning: {w}\n");
    }
    std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes())?;
    Ok(())
}
