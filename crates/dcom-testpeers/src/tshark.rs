//! Capturing loopback traffic with dumpcap and checking captures with tshark.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::{PeersError, PeersErrorKind, Result};
use crate::run::{require_program, run, tail};

const INSTALL_HINT: &str = "dumpcap/tshark come from Debian's tshark package: run `scripts/peers.sh install`";

/// A running dumpcap on `lo`, writing a pcapng file. Stop it with [`Capture::stop`]; dropping it stops it too.
#[derive(Debug)]
pub struct Capture {
    child: Option<Child>,
    path: PathBuf,
    log: PathBuf,
}

impl Capture {
    /// Starts `dumpcap -i lo -f FILTER -w PATH` (a BPF capture filter, e.g.
    /// `host 127.0.0.10 and tcp port 135`) and waits until the file has its header (at most 10 s).
    /// dumpcap, not `tshark -w`: killing tshark loses buffered packets. Needs root (or capture rights).
    pub fn start(filter: &str, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let dumpcap = require_program("dumpcap", INSTALL_HINT)?;
        let what = format!("starting dumpcap for {}", path.display());
        if path.exists() {
            std::fs::remove_file(&path).map_err(|e| PeersError::new(PeersErrorKind::Io, &what, e.to_string()))?;
        }
        let log = path.with_extension("dumpcap.log");
        let log_file =
            std::fs::File::create(&log).map_err(|e| PeersError::new(PeersErrorKind::Io, &what, e.to_string()))?;
        let mut child = Command::new(dumpcap)
            .args(["-q", "-i", "lo", "-f", filter, "-w"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| PeersError::new(PeersErrorKind::Spawn, &what, e.to_string()))?;
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let msg = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(PeersError::new(
                    PeersErrorKind::ToolFailed,
                    what,
                    format!("dumpcap exited ({status}): {}", tail(&msg, 5)),
                ));
            }
            if std::fs::metadata(&path).is_ok_and(|m| m.len() > 0) {
                break;
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(PeersError::new(PeersErrorKind::Timeout, what, "no capture file after 10 s"));
            }
            thread::sleep(Duration::from_millis(20));
        }
        // dumpcap writes the file header before the capture filter is active on every kernel path: a short
        // pause keeps the first packets of the test.
        thread::sleep(Duration::from_millis(200));
        Ok(Self { child: Some(child), path, log })
    }

    /// The capture file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lets the last packets arrive, stops dumpcap with SIGTERM (so it flushes) and returns the file.
    pub fn stop(mut self) -> Result<PathBuf> {
        self.finish()?;
        Ok(self.path.clone())
    }

    fn finish(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        thread::sleep(Duration::from_millis(300));
        // std can only SIGKILL; dumpcap must get SIGTERM to flush: use the shell's kill on OUR child's pid.
        let pid = child.id().to_string();
        let _ = Command::new("sh")
            .args(["-c", "kill -TERM \"$1\"", "sh", &pid])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = child.try_wait() {
                // dumpcap's own messages are only kept when something went wrong
                let _ = std::fs::remove_file(&self.log);
                return Ok(());
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(PeersError::new(
            PeersErrorKind::Timeout,
            format!("stopping dumpcap for {}", self.path.display()),
            "no exit 5 s after SIGTERM; killed",
        ))
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// Severity of a tshark expert-info item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ExpertSeverity {
    /// 0x00600000
    Warning,
    /// 0x00800000
    Error,
}

/// One expert-info item of severity warning or higher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpertItem {
    /// tshark frame number.
    pub frame: u64,
    /// Warning or error.
    pub severity: ExpertSeverity,
    /// E.g. `Malformed Packet (Exception occurred)`, `Long frame`.
    pub message: String,
}

/// What tshark (two-pass, `-2`) finds wrong in a capture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TsharkCheck {
    /// Frames with a `_ws.malformed` item.
    pub malformed_frames: Vec<u64>,
    /// Expert items of severity warning or error (malformed packets are errors too).
    pub expert: Vec<ExpertItem>,
}

impl TsharkCheck {
    /// Number of malformed frames.
    #[must_use]
    pub fn malformed(&self) -> usize {
        self.malformed_frames.len()
    }

    /// Expert errors only.
    pub fn errors(&self) -> impl Iterator<Item = &ExpertItem> {
        self.expert.iter().filter(|e| e.severity == ExpertSeverity::Error)
    }
}

/// Runs `tshark -2 -r PCAP [extra] -Y "_ws.malformed || _ws.expert.severity >= warning"` and collects
/// malformed frames and expert items. `extra` takes decryption and decode-as options, e.g.
/// `["-o", "ntlmssp.nt_password:Passw0rd!Alice", "-d", "tcp.port==2000,dcerpc"]`.
pub fn tshark_check(pcap: impl AsRef<Path>, extra: &[&str]) -> Result<TsharkCheck> {
    let pcap = pcap.as_ref();
    let tshark = require_program("tshark", INSTALL_HINT)?;
    let what = format!("checking {} with tshark", pcap.display());
    let f = run(
        Command::new(tshark)
            .args(["-2", "-r"])
            .arg(pcap)
            .args(extra)
            .args(["-Y", "_ws.malformed || _ws.expert.severity >= 0x00600000", "-T", "json"])
            .args(["-e", "frame.number", "-e", "_ws.malformed", "-e", "_ws.expert.severity"])
            .args(["-e", "_ws.expert.message"]),
        Duration::from_secs(120),
        &what,
    )?;
    if !f.success() {
        return Err(PeersError::new(PeersErrorKind::ToolFailed, what, f.summary()));
    }
    parse_check_json(&f.stdout).map_err(|d| PeersError::new(PeersErrorKind::BadOutput, what, d))
}

fn field_strings<'a>(layers: &'a Value, name: &str) -> Vec<&'a str> {
    layers.get(name).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

fn parse_check_json(text: &str) -> std::result::Result<TsharkCheck, String> {
    let mut check = TsharkCheck::default();
    if text.trim().is_empty() {
        return Ok(check);
    }
    let v: Value = serde_json::from_str(text).map_err(|e| format!("tshark json: {e}"))?;
    let packets = v.as_array().ok_or("tshark json is not an array")?;
    for p in packets {
        let layers = p.pointer("/_source/layers").ok_or("packet without _source.layers")?;
        let frame = field_strings(layers, "frame.number")
            .first()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or("packet without frame.number")?;
        if layers.get("_ws.malformed").is_some() {
            check.malformed_frames.push(frame);
        }
        let sev = field_strings(layers, "_ws.expert.severity");
        let msg = field_strings(layers, "_ws.expert.message");
        for (i, s) in sev.iter().enumerate() {
            let level = s.parse::<u64>().ok().or_else(|| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok());
            let severity = match level {
                Some(l) if l >= 0x0080_0000 => ExpertSeverity::Error,
                Some(l) if l >= 0x0060_0000 => ExpertSeverity::Warning,
                _ => continue,
            };
            let message = msg.get(i).copied().unwrap_or_default().to_owned();
            check.expert.push(ExpertItem { frame, severity, message });
        }
    }
    Ok(check)
}

/// Runs `tshark -2 -r PCAP [extra] -Y FILTER -T fields -e F...` and returns one row per packet, one cell
/// per field (several occurrences joined with `,`). For quick assertions on dissected captures.
pub fn tshark_fields(
    pcap: impl AsRef<Path>,
    display_filter: &str,
    fields: &[&str],
    extra: &[&str],
) -> Result<Vec<Vec<String>>> {
    let pcap = pcap.as_ref();
    let tshark = require_program("tshark", INSTALL_HINT)?;
    let what = format!("reading fields {fields:?} of {} with tshark", pcap.display());
    let mut cmd = Command::new(tshark);
    cmd.args(["-2", "-r"]).arg(pcap).args(extra).args(["-Y", display_filter, "-T", "fields", "-E", "separator=/t"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let f = run(&mut cmd, Duration::from_secs(120), &what)?;
    if !f.success() {
        return Err(PeersError::new(PeersErrorKind::ToolFailed, what, f.summary()));
    }
    Ok(f.stdout.lines().map(|l| l.split('\t').map(str::to_owned).collect()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tshark_json() {
        // Shape of `tshark -T json -e ...` for an impacket NTLM-sealed samr capture (frame 10 is tshark's known
        // false "Malformed" on impacket's first sealed request, frame 19 a "Long frame" warning)
        let text = r#"[
          {"_index": "packets", "_source": {"layers": {"frame.number": ["10"],
            "_ws.malformed": ["[Malformed Packet: DCERPC]", "_ws.malformed"],
            "_ws.expert.severity": ["8388608"], "_ws.expert.message": ["Malformed Packet (Exception occurred)"]}}},
          {"_index": "packets", "_source": {"layers": {"frame.number": ["19"],
            "_ws.expert.severity": ["6291456"], "_ws.expert.message": ["Long frame"]}}}
        ]"#;
        let c = parse_check_json(text).unwrap();
        assert_eq!(c.malformed_frames, [10]);
        assert_eq!(c.malformed(), 1);
        assert_eq!(c.expert.len(), 2);
        assert_eq!(c.expert[0].severity, ExpertSeverity::Error);
        assert_eq!(
            c.expert[1],
            ExpertItem { frame: 19, severity: ExpertSeverity::Warning, message: "Long frame".into() }
        );
        assert_eq!(c.errors().count(), 1);
    }

    #[test]
    fn empty_output_is_clean() {
        assert_eq!(parse_check_json("").unwrap(), TsharkCheck::default());
        assert_eq!(parse_check_json("[]").unwrap(), TsharkCheck::default());
        assert!(parse_check_json("{").is_err());
        assert!(parse_check_json(r#"[{"_source": {"layers": {}}}]"#).is_err());
    }
}
