//! Markdown output: the machine, tables, goals.

use core::fmt::Write as _;
use std::time::Duration;

/// The whole report, built section by section.
#[derive(Debug, Default)]
pub(crate) struct Report {
    text: String,
    goals: Vec<Goal>,
}

/// A goal of an issue and whether this run met it.
#[derive(Debug, Clone)]
pub(crate) struct Goal {
    pub(crate) issue: &'static str,
    pub(crate) what: String,
    pub(crate) measured: String,
    /// `None` when it could not be measured.
    pub(crate) met: Option<bool>,
}

impl Report {
    /// Appends markdown (a blank line follows).
    pub(crate) fn push(&mut self, md: &str) {
        self.text.push_str(md.trim_end());
        self.text.push_str("\n\n");
    }

    /// Records a goal.
    pub(crate) fn goal(&mut self, issue: &'static str, what: impl Into<String>, measured: String, met: Option<bool>) {
        self.goals.push(Goal { issue, what: what.into(), measured, met });
    }

    /// The finished markdown: sections, then the goals table.
    pub(crate) fn finish(&self) -> String {
        let mut out = self.text.clone();
        if !self.goals.is_empty() {
            let mut t = Table::new(&["issue", "goal", "measured", "met"]);
            for g in &self.goals {
                let met = match g.met {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "not measured",
                };
                t.row(vec![g.issue.to_owned(), g.what.clone(), g.measured.clone(), met.to_owned()]);
            }
            out.push_str("### Goals\n\n");
            out.push_str(&t.render());
        }
        out
    }
}

/// A markdown table.
#[derive(Debug)]
pub(crate) struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(head: &[&str]) -> Self {
        Self { head: head.iter().map(|s| (*s).to_owned()).collect(), rows: Vec::new() }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        out.push_str(&line(&self.head));
        let sep: Vec<String> = self.head.iter().map(|_| "---".to_owned()).collect();
        out.push_str(&line(&sep));
        for r in &self.rows {
            let mut cells = r.clone();
            cells.resize(self.head.len(), String::new());
            out.push_str(&line(&cells));
        }
        out
    }
}

/// 12345.6 -> "12,346".
pub(crate) fn rate(v: f64) -> String {
    if !v.is_finite() || v <= 0.0 {
        return "-".into();
    }
    let s = format!("{v:.0}");
    let mut out = String::new();
    let digits = s.len();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (digits - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The spread of repeated runs, `12,000–15,000`.
pub(crate) fn spread(s: Option<(f64, f64)>) -> String {
    s.map_or_else(|| "-".into(), |(lo, hi)| format!("{}–{}", rate(lo), rate(hi)))
}

/// A ratio as `2.34×`.
pub(crate) fn ratio(v: f64) -> String {
    if v.is_finite() && v > 0.0 { format!("{v:.2}×") } else { "-".into() }
}

/// A duration in µs (or ms above 10 ms).
pub(crate) fn dur(d: Option<Duration>) -> String {
    match d {
        None => "-".into(),
        Some(d) if d >= Duration::from_millis(10) => format!("{:.1} ms", d.as_secs_f64() * 1e3),
        Some(d) => format!("{:.0} µs", d.as_secs_f64() * 1e6),
    }
}

/// An error cell.
pub(crate) fn failed(e: &anyhow::Error) -> String {
    let mut s = String::new();
    let _ = write!(s, "failed: {e:#}");
    s.replace('|', "/").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(rate(12_345.6), "12,346");
        assert_eq!(rate(999.0), "999");
        assert_eq!(rate(1000.0), "1,000");
        assert_eq!(rate(0.0), "-");
        assert_eq!(ratio(1.5), "1.50×");
        assert_eq!(ratio(f64::NAN), "-");
        assert_eq!(dur(Some(Duration::from_micros(123))), "123 µs");
        assert_eq!(dur(Some(Duration::from_millis(12))), "12.0 ms");
        assert_eq!(dur(None), "-");
        assert_eq!(spread(Some((1000.0, 2500.0))), "1,000–2,500");
        assert_eq!(spread(None), "-");
    }

    #[test]
    fn table_and_goals() {
        let mut t = Table::new(&["a", "b"]);
        t.row(vec!["1".into()]);
        assert_eq!(t.render(), "| a | b |\n| --- | --- |\n| 1 |  |\n");
        let mut r = Report::default();
        r.push("## x\n");
        r.goal("#4", "g", "1".into(), Some(false));
        let out = r.finish();
        assert!(out.starts_with("## x\n\n### Goals"));
        assert!(out.contains("| #4 | g | 1 | **no** |"));
    }
}
