//! [`Histogram`]: latencies in microseconds, recorded lock-free from many tasks.
//!
//! Log-linear buckets: exact below 64 µs, then 32 buckets per power of two (about 3% wide), up to
//! about 18 hours. Small enough (1,280 counters) to share one between ten thousand readers.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

const LINEAR: u64 = 64;
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
const BUCKETS: usize = LINEAR as usize + 38 * SUB as usize;

/// Counts of latencies by bucket.
pub struct Histogram {
    counts: Box<[AtomicU64]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Self { counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect() }
    }
}

fn index(us: u64) -> usize {
    if us < LINEAR {
        return us as usize;
    }
    let msb = 63 - us.leading_zeros(); // ≥ 6
    let sub = (us >> (msb - SUB_BITS)) & (SUB - 1);
    (LINEAR + u64::from(msb - 6) * SUB + sub).min(BUCKETS as u64 - 1) as usize
}

/// The smallest latency that falls in bucket `i`.
fn lower_bound(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let msb = (i - LINEAR) / SUB + 6;
    let sub = (i - LINEAR) % SUB;
    (SUB + sub) << (msb - u64::from(SUB_BITS))
}

impl Histogram {
    /// Counts one latency.
    pub fn record(&self, us: u64) {
        self.counts[index(us)].fetch_add(1, Relaxed);
    }

    /// Forgets everything recorded so far (the warm-up).
    pub fn clear(&self) {
        for c in self.counts.iter() {
            c.store(0, Relaxed);
        }
    }

    /// A copy of the counts, for percentiles.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot { counts: self.counts.iter().map(|c| c.load(Relaxed)).collect() }
    }
}

/// Counts read out of a [`Histogram`] at one moment.
pub struct Snapshot {
    counts: Vec<u64>,
}

impl Snapshot {
    /// How many latencies.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The latency (µs, a bucket's lower bound) at or below which the fraction `q` of them fall.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let total = self.total();
        let rank = ((q * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(lower_bound(i));
            }
        }
        None
    }

    /// The cumulative distribution: (latency µs, fraction at or below it) at each non-empty bucket.
    pub fn cdf(&self) -> Vec<(u64, f64)> {
        let total = self.total().max(1) as f64;
        let mut seen = 0;
        let mut points = Vec::new();
        for (i, c) in self.counts.iter().enumerate() {
            if *c > 0 {
                seen += c;
                points.push((lower_bound(i + 1), seen as f64 / total));
            }
        }
        points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_tight() {
        let mut last = 0;
        for us in [0, 1, 63, 64, 65, 100, 1_000, 12_345, 1_000_000, 60_000_000] {
            let i = index(us);
            assert!(i >= last, "{us} went to an earlier bucket");
            last = i;
            let low = lower_bound(i);
            assert!(low <= us && us < lower_bound(i + 1), "{us} not in [{low}, {})", lower_bound(i + 1));
            assert!((us - low) as f64 <= us as f64 * 0.032, "{us}: bucket too wide");
        }
    }

    #[test]
    fn quantiles_pick_the_right_rank() {
        let h = Histogram::default();
        for us in 1..=100 {
            h.record(us);
        }
        let s = h.snapshot();
        assert_eq!(s.total(), 100);
        assert_eq!(s.quantile(0.5), Some(50));
        assert!(s.quantile(0.99).is_some_and(|p| (96..=99).contains(&p)));
        h.clear();
        assert_eq!(h.snapshot().total(), 0);
    }
}
