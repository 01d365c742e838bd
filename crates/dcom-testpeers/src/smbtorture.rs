//! smbtorture results: a parser for its subunit (v1 text) output and, as a fallback, its "simple" output.

use std::fmt;

/// How one smbtorture subtest ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// `success:` / `successful:`
    Success,
    /// `failure:` / `fail:` (simple format: `TEST x FAILED! - ...`)
    Failure,
    /// `error:` (simple format: `ERROR IN TEST x! - ...`); also a test that started and never reported
    Error,
    /// `skip:` (simple format: `SKIP: x - ...`)
    Skip,
    /// `xfail:` (known failure)
    ExpectedFailure,
    /// `uxsuccess:`
    UnexpectedSuccess,
}

impl Outcome {
    /// Success or expected failure: nothing to look at.
    #[must_use]
    pub const fn is_ok(self) -> bool {
        matches!(self, Self::Success | Self::ExpectedFailure)
    }

    fn from_subunit_word(word: &str) -> Option<Self> {
        Some(match word {
            "success" | "successful" => Self::Success,
            "failure" | "fail" => Self::Failure,
            "error" => Self::Error,
            "skip" => Self::Skip,
            "xfail" => Self::ExpectedFailure,
            "uxsuccess" => Self::UnexpectedSuccess,
            _ => return None,
        })
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Success => "ok",
            Self::Failure => "fail",
            Self::Error => "error",
            Self::Skip => "skip",
            Self::ExpectedFailure => "xfail",
            Self::UnexpectedSuccess => "uxsuccess",
        })
    }
}

/// One subtest: full name as smbtorture prints it (e.g. `echo.addone`), outcome, and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subtest {
    /// Name, e.g. `epmapper.Lookup_terminate_search`.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The bracketed details (failure reason, skip reason); empty for plain successes.
    pub message: String,
}

/// Parses smbtorture `--format=subunit` output (subunit v1 text protocol). Lines that are not part of the
/// protocol (banners, `time:`, `progress:`, diagnostics) are ignored. A test that started (`test: x`) and has
/// no result is reported as [`Outcome::Error`] ("no result"): smbtorture stopped or crashed in it.
#[must_use]
pub fn parse_subunit(text: &str) -> Vec<Subtest> {
    let mut out: Vec<Subtest> = Vec::new();
    let mut started: Vec<String> = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(name) = line.strip_prefix("test: ").or_else(|| line.strip_prefix("testing: ")) {
            started.push(name.trim().to_owned());
            continue;
        }
        let Some((word, rest)) = line.split_once(": ") else { continue };
        let Some(outcome) = Outcome::from_subunit_word(word) else { continue };
        let rest = rest.trim_end();
        let (name, message) = if let Some(name) = rest.strip_suffix(" [") {
            // multi-line details up to a line that is exactly "]"
            let mut msg = Vec::new();
            for l in lines.by_ref() {
                if l == "]" {
                    break;
                }
                msg.push(l);
            }
            (name.trim().to_owned(), msg.join("\n"))
        } else if let Some((name, msg)) = rest.split_once(" [").filter(|(_, m)| m.ends_with(']')) {
            // single-line details: "skip: name [reason]"
            (name.trim().to_owned(), msg.trim_end_matches(']').trim().to_owned())
        } else {
            (rest.trim().to_owned(), String::new())
        };
        if let Some(i) = started.iter().position(|s| *s == name) {
            started.remove(i);
        }
        out.push(Subtest { name, outcome, message });
    }
    out.extend(started.into_iter().map(|name| Subtest {
        name,
        outcome: Outcome::Error,
        message: "no result (smbtorture stopped in this test)".to_owned(),
    }));
    out
}

/// Parses smbtorture `--format=simple` output. That format prints only failures, errors and skips
/// (`TEST x FAILED! - why`, `ERROR IN TEST x! - why`, `SKIP: x - why`): successes are invisible, so prefer
/// [`parse_subunit`].
#[must_use]
pub fn parse_simple(text: &str) -> Vec<Subtest> {
    let mut out = Vec::new();
    for line in text.lines() {
        let parsed = if let Some(r) = line.strip_prefix("TEST ") {
            r.split_once(" FAILED! - ").map(|(n, m)| (n, Outcome::Failure, m))
        } else if let Some(r) = line.strip_prefix("ERROR IN TEST ") {
            r.split_once("! - ").map(|(n, m)| (n, Outcome::Error, m))
        } else if let Some(r) = line.strip_prefix("SKIP: ") {
            r.split_once(" - ").map(|(n, m)| (n, Outcome::Skip, m))
        } else {
            None
        };
        if let Some((name, outcome, message)) = parsed {
            out.push(Subtest { name: name.trim().to_owned(), outcome, message: message.trim().to_owned() });
        }
    }
    out
}

/// The result of one smbtorture run.
#[derive(Debug, Clone)]
pub struct SmbtortureReport {
    /// The binding string it ran against.
    pub binding: String,
    /// The suite, e.g. `rpc.echo`.
    pub suite: String,
    /// smbtorture's exit code (1 when any subtest failed).
    pub exit_code: Option<i32>,
    /// Every subtest in the order smbtorture reported them.
    pub subtests: Vec<Subtest>,
    /// Raw stdout, for messages.
    pub stdout: String,
    /// Raw stderr (diagnostics such as "Failed to map port").
    pub stderr: String,
}

impl SmbtortureReport {
    /// The subtest named `name`, either in full (`echo.addone`) or by its last component (`addone`).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Subtest> {
        self.subtests
            .iter()
            .find(|t| t.name == name)
            .or_else(|| self.subtests.iter().find(|t| t.name.rsplit_once('.').is_some_and(|(_, last)| last == name)))
    }

    /// Subtests that passed (success or expected failure).
    pub fn passed(&self) -> impl Iterator<Item = &Subtest> {
        self.subtests.iter().filter(|t| t.outcome.is_ok())
    }

    /// Subtests that failed or errored.
    pub fn failed(&self) -> impl Iterator<Item = &Subtest> {
        self.subtests.iter().filter(|t| matches!(t.outcome, Outcome::Failure | Outcome::Error))
    }

    /// At least one subtest and none failed, errored or unexpectedly succeeded (skips are allowed).
    #[must_use]
    pub fn all_passed(&self) -> bool {
        !self.subtests.is_empty() && self.subtests.iter().all(|t| t.outcome.is_ok() || t.outcome == Outcome::Skip)
    }
}

impl fmt::Display for SmbtortureReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "smbtorture {} {} (exit {:?}):", self.suite, self.binding, self.exit_code)?;
        for t in &self.subtests {
            let first = t.message.lines().next().unwrap_or("");
            writeln!(f, "  {:<9} {} {}", t.outcome, t.name, first)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPM: &str = include_str!("../tests/data/smbtorture-epmapper-subunit.txt");
    const EPM_SIMPLE: &str = include_str!("../tests/data/smbtorture-epmapper-simple.txt");
    const ECHO: &str = include_str!("../tests/data/smbtorture-echo-subunit.txt");

    #[test]
    fn epmapper_against_samba() {
        // Recorded: smbtorture 4.17 rpc.epmapper against the Samba DC (Windows semantics fail there)
        let t = parse_subunit(EPM);
        let names: Vec<(&str, Outcome)> = t.iter().map(|s| (s.name.as_str(), s.outcome)).collect();
        assert_eq!(
            names,
            [
                ("epmapper.Map_simple", Outcome::Failure),
                ("epmapper.Map_full", Outcome::Failure),
                ("epmapper.Lookup_simple", Outcome::Failure),
                ("epmapper.Lookup_terminate_search", Outcome::Success),
                ("epmapper.Insert_noreplace", Outcome::Failure),
            ]
        );
        assert!(t[0].message.contains("The policy handle should be empty"));
        assert!(t[4].message.contains("NT_STATUS_RPC_PROCNUM_OUT_OF_RANGE"));
        assert_eq!(t[3].message, "");
    }

    #[test]
    fn echo_without_server() {
        let t = parse_subunit(ECHO);
        assert_eq!(t.len(), 10);
        assert!(t.iter().all(|s| s.outcome == Outcome::Failure));
        assert!(t.iter().all(|s| s.message.contains("NT_STATUS_PORT_UNREACHABLE")));
        assert_eq!(t[0].name, "echo.addone");
        assert_eq!(t[9].name, "echo.sleep");
    }

    #[test]
    fn simple_format_lists_failures() {
        let t = parse_simple(EPM_SIMPLE);
        let names: Vec<&str> = t.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Map_simple", "Map_full", "Lookup_simple", "Insert_noreplace"]);
        assert!(t.iter().all(|s| s.outcome == Outcome::Failure));
    }

    #[test]
    fn skip_error_xfail_and_missing_result() {
        let text = "test: a.one\nskip: a.one [not supported]\ntest: a.two\nerror: a.two [\nboom\nline 2\n]\n\
                    test: a.three\nxfail: a.three\ntest: a.four\nuxsuccess: a.four\ntest: a.five\n";
        let t = parse_subunit(text);
        assert_eq!(t.len(), 5);
        assert_eq!((t[0].outcome, t[0].message.as_str()), (Outcome::Skip, "not supported"));
        assert_eq!((t[1].outcome, t[1].message.as_str()), (Outcome::Error, "boom\nline 2"));
        assert_eq!(t[2].outcome, Outcome::ExpectedFailure);
        assert_eq!(t[3].outcome, Outcome::UnexpectedSuccess);
        assert_eq!((t[4].name.as_str(), t[4].outcome), ("a.five", Outcome::Error));
    }

    #[test]
    fn unterminated_details_do_not_loop() {
        let t = parse_subunit("test: x\nfailure: x [\nno closing bracket");
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].message, "no closing bracket");
    }

    #[test]
    fn report_lookup_and_verdict() {
        let r = SmbtortureReport {
            binding: "b".into(),
            suite: "rpc.epmapper".into(),
            exit_code: Some(1),
            subtests: parse_subunit(EPM),
            stdout: String::new(),
            stderr: String::new(),
        };
        assert_eq!(r.get("Lookup_terminate_search").map(|t| t.outcome), Some(Outcome::Success));
        assert_eq!(r.get("epmapper.Map_full").map(|t| t.outcome), Some(Outcome::Failure));
        assert!(r.get("nope").is_none());
        assert_eq!(r.passed().count(), 1);
        assert_eq!(r.failed().count(), 4);
        assert!(!r.all_passed());
        assert!(r.to_string().contains("fail      epmapper.Map_simple"));
    }
}
