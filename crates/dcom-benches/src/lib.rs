//! A small benchmark harness that reports each measurement as throughput and as a ratio to a baseline (a plain
//! copy of the same bytes) measured in the same run, so that results carry over between machines.

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
