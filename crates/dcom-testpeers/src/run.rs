//! Running a program with a deadline and collecting its output.

use std::env;
use std::ffi::OsStr;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{PeersError, PeersErrorKind, Result};

/// A finished program.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The command line, for messages.
    pub argv: Vec<String>,
    /// Exit code; `None` when a signal ended it.
    pub exit_code: Option<i32>,
    /// Everything it wrote to stdout (lossy UTF-8).
    pub stdout: String,
    /// Everything it wrote to stderr (lossy UTF-8).
    pub stderr: String,
    /// Wall time.
    pub elapsed: Duration,
}

impl Finished {
    /// Exit code 0.
    #[must_use]
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// One line saying how it ended, with the last lines of stderr: for error messages.
    #[must_use]
    pub fn summary(&self) -> String {
        let code = self.exit_code.map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit code {c}"));
        format!("`{}` ended with {code}; stderr: {}", self.argv.join(" "), tail(&self.stderr, 12))
    }
}

/// The last `n` lines of `text`, joined with " | ".
pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(n);
    lines.get(start..).unwrap_or_default().join(" | ")
}

fn argv_of(cmd: &Command) -> Vec<String> {
    std::iter::once(cmd.get_program()).chain(cmd.get_args()).map(|s| s.to_string_lossy().into_owned()).collect()
}

/// Looks `program` up like the shell would (an absolute or relative path is checked as is).
pub(crate) fn find_program(program: &OsStr) -> Option<PathBuf> {
    let p = Path::new(program);
    if p.components().count() > 1 {
        return p.is_file().then(|| p.to_path_buf());
    }
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin"), PathBuf::from("/sbin")])
        .map(|d| d.join(p))
        .find(|c| c.is_file())
}

/// Fails loudly with [`PeersErrorKind::MissingTool`] when `program` is not installed.
pub(crate) fn require_program(program: &str, hint: &str) -> Result<PathBuf> {
    find_program(OsStr::new(program)).ok_or_else(|| {
        PeersError::new(PeersErrorKind::MissingTool, format!("looking for `{program}`"), hint.to_owned())
    })
}

fn spawn_reader(mut r: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        // A read error ends the capture; what was read so far is still reported.
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

fn collect(rx: &mpsc::Receiver<Vec<u8>>, deadline: Duration) -> String {
    // A grandchild that inherited the pipe could keep it open: do not wait for it forever.
    rx.recv_timeout(deadline).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
}

/// Runs `cmd` (stdin closed, stdout and stderr captured) and kills it after `timeout`.
pub(crate) fn run(cmd: &mut Command, timeout: Duration, what: &str) -> Result<Finished> {
    run_with_input(cmd, None, timeout, what)
}

/// Like [`run`], writing `input` to the program's stdin first.
pub(crate) fn run_with_input(
    cmd: &mut Command,
    input: Option<&[u8]>,
    timeout: Duration,
    what: &str,
) -> Result<Finished> {
    let argv = argv_of(cmd);
    let start = Instant::now();
    cmd.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| {
        let kind = if e.kind() == ErrorKind::NotFound { PeersErrorKind::MissingTool } else { PeersErrorKind::Spawn };
        PeersError::new(kind, what, format!("`{}`: {e}", argv.join(" ")))
    })?;
    if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
        use std::io::Write as _;
        // A program that exits without reading its input is judged by its exit code, not by this write.
        let _ = stdin.write_all(data);
    }
    let out = child.stdout.take().map(spawn_reader);
    let err = child.stderr.take().map(spawn_reader);
    let exit_code = wait_deadline(&mut child, timeout)
        .map_err(|e| PeersError::new(e.0, what, format!("`{}`: {}", argv.join(" "), e.1)))?;
    let grace = Duration::from_secs(5);
    let stdout = out.map(|rx| collect(&rx, grace)).unwrap_or_default();
    let stderr = err.map(|rx| collect(&rx, grace)).unwrap_or_default();
    Ok(Finished { argv, exit_code, stdout, stderr, elapsed: start.elapsed() })
}

fn wait_deadline(child: &mut Child, timeout: Duration) -> std::result::Result<Option<i32>, (PeersErrorKind, String)> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status.code()),
            Ok(None) => {}
            Err(e) => return Err((PeersErrorKind::Spawn, format!("waiting failed: {e}"))),
        }
        if start.elapsed() >= timeout {
            // Kill only the program we started (by its own handle), then reap it.
            let _ = child.kill();
            let _ = child.wait();
            return Err((PeersErrorKind::Timeout, format!("killed after {} s", timeout.as_secs())));
        }
        thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_non_empty_lines() {
        assert_eq!(tail("a\n\nb\nc\n\n", 2), "b | c");
        assert_eq!(tail("", 3), "");
        assert_eq!(tail("x", 3), "x");
    }

    #[test]
    fn run_reports_exit_code_and_output() {
        let f = run(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]), Duration::from_secs(10), "t")
            .unwrap();
        assert_eq!(f.exit_code, Some(3));
        assert_eq!(f.stdout, "out\n");
        assert_eq!(f.stderr, "err\n");
        assert!(!f.success());
        assert!(f.summary().contains("exit code 3"));
    }

    #[test]
    fn run_feeds_stdin() {
        let f = run_with_input(&mut Command::new("cat"), Some(b"secret\n"), Duration::from_secs(10), "t").unwrap();
        assert_eq!(f.stdout, "secret\n");
    }

    #[test]
    fn run_kills_on_timeout() {
        let e = run(Command::new("sleep").arg("30"), Duration::from_millis(200), "sleeping").unwrap_err();
        assert_eq!(e.kind, PeersErrorKind::Timeout);
    }

    #[test]
    fn missing_program_is_loud() {
        let e = run(&mut Command::new("/nonexistent/dcom-no-such-tool"), Duration::from_secs(1), "x").unwrap_err();
        assert_eq!(e.kind, PeersErrorKind::MissingTool);
        assert_eq!(require_program("dcom-no-such-tool-xyz", "hint").unwrap_err().kind, PeersErrorKind::MissingTool);
        assert!(require_program("sh", "").is_ok());
    }
}
