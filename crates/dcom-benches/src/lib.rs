//! A small benchmark harness that reports each measurement as throughput and as a ratio to a baseline (a plain
//! copy of the same bytes, or the raw primitives of the same work) measured in the same run, so that results
//! carry over between machines.

#![cfg_attr(doc, doc = include_str!("../README.md"))]

use std::hint::black_box;
use std::time::{Duration, Instant};

/// One measured routine: the median time per iteration over several samples.
#[derive(Debug, Clone, Copy)]
pub struct Measurement {
    /// Median nanoseconds per iteration.
    pub ns_per_iter: f64,
    /// Bytes processed per iteration (for throughput).
    pub bytes: usize,
}

impl Measurement {
    /// Throughput in MiB/s.
    pub fn mib_per_s(&self) -> f64 {
        if self.ns_per_iter <= 0.0 {
            return 0.0;
        }
        (self.bytes as f64 / (1024.0 * 1024.0)) / (self.ns_per_iter * 1e-9)
    }
}

/// Runs `f` for about `budget`, in 15 samples, after a warm-up, and returns the median time per call.
pub fn measure<R>(bytes: usize, budget: Duration, mut f: impl FnMut() -> R) -> Measurement {
    // Warm up and calibrate: how many iterations fit in one sample.
    let sample = budget / 15;
    let mut iters: u64 = 1;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            black_box(f());
        }
        if t.elapsed() >= sample / 4 || iters >= 1 << 30 {
            break;
        }
        iters *= 2;
    }
    let per_sample = (iters * 4).max(1);
    let mut samples: Vec<f64> = (0..15)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_sample {
                black_box(f());
            }
            t.elapsed().as_nanos() as f64 / per_sample as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    Measurement { ns_per_iter: samples[samples.len() / 2], bytes }
}

/// Prints one row: name, time per iteration, throughput, and the ratio of the baseline's time to this one's
/// (1.0 = as fast as the baseline; above 1.0 = faster).
pub fn report(name: &str, m: Measurement, baseline: Measurement) {
    let ratio = baseline.ns_per_iter / m.ns_per_iter;
    eprintln!(
        "{name:<52} {:>12.1} ns/iter {:>10.1} MiB/s   {:>6.2}x of memcpy ({:.1} ns)",
        m.ns_per_iter,
        m.mib_per_s(),
        ratio,
        baseline.ns_per_iter
    );
}

/// `baseline` time / `m` time: 1.0 = as fast as the baseline, above 1.0 = faster.
#[must_use]
pub fn ratio(baseline: Measurement, m: Measurement) -> f64 {
    if m.ns_per_iter <= 0.0 {
        return 0.0;
    }
    baseline.ns_per_iter / m.ns_per_iter
}

/// Measures `a` and `b` alternately, `rounds` rounds each of `budget / (2 * rounds)`, and keeps each one's
/// fastest median: on a machine shared with other work, a burst of outside load then spoils one round of each
/// side instead of one whole side, and the ratio of the two stays meaningful.
pub fn measure_pair<A, B>(
    bytes: usize,
    budget: Duration,
    rounds: u32,
    mut a: impl FnMut() -> A,
    mut b: impl FnMut() -> B,
) -> (Measurement, Measurement) {
    let rounds = rounds.max(1);
    let each = budget / (2 * rounds);
    let mut best_a = Measurement { ns_per_iter: f64::INFINITY, bytes };
    let mut best_b = best_a;
    for _ in 0..rounds {
        let ma = measure(bytes, each, &mut a);
        let mb = measure(bytes, each, &mut b);
        if ma.ns_per_iter < best_a.ns_per_iter {
            best_a = ma;
        }
        if mb.ns_per_iter < best_b.ns_per_iter {
            best_b = mb;
        }
    }
    (best_a, best_b)
}

/// Prints one throughput row against a named baseline: name, time per iteration, throughput, and
/// [`ratio`]`(baseline, m)` (`1.00x of <label>` = as fast as the baseline).
pub fn report_vs(name: &str, m: Measurement, baseline: Measurement, label: &str) {
    eprintln!(
        "{name:<58} {:>12.1} ns/iter {:>9.1} MiB/s {:>6.2}x of {label}",
        m.ns_per_iter,
        m.mib_per_s(),
        ratio(baseline, m)
    );
}

/// Prints one cost row (no throughput): name, time per iteration in microseconds, and this time divided by
/// `reference`'s (`3.000x <label>` = three times as costly as the reference).
pub fn report_cost(name: &str, m: Measurement, reference: Option<Measurement>, label: &str) {
    let rel = match reference {
        Some(r) if r.ns_per_iter > 0.0 => format!("{:>9.3}x {label}", m.ns_per_iter / r.ns_per_iter),
        _ => String::new(),
    };
    eprintln!("{name:<58} {:>12.3} us/iter {rel}", m.ns_per_iter / 1000.0);
}

/// "met" or "NOT met" for a ratio against its goal (the ratio must reach at least `goal`).
#[must_use]
pub fn goal_met(ratio: f64, goal: f64) -> &'static str {
    if ratio >= goal { "met" } else { "NOT met" }
}
