//! WAL fsync latency: a fixed-bucket histogram of how long each fsync/fdatasync call of
//! the WAL writer took, for the metrics endpoint (`tusk_wal_fsync_duration_seconds`).
//!
//! # What it owns
//!
//! [`SyncLatency`], the live histogram the writer feeds (one observation per sync call,
//! timed around the call), its bucket bounds [`SYNC_BUCKETS_US`], and
//! [`SyncLatencySnapshot`], the copy readers take.
//!
//! # Invariants
//!
//! - Lock-free: an observation is two relaxed `fetch_add`s (its bucket, the sum) plus one
//!   for the count, done by the thread that just ran the fsync, outside the writer's
//!   state lock; readers never block the writer.
//! - Buckets are stored non-cumulatively (bucket `i` counts durations in
//!   `(bound[i-1], bound[i]]`, the last slot everything above the largest bound); the
//!   snapshot turns them into Prometheus' cumulative `le` counts. The count is read
//!   after the buckets, so a concurrent observation may make `count` exceed the last
//!   cumulative bucket by the few observations in flight — never the other way round.
//!
//! What this module must never do: time anything itself or sit on the I/O path in a
//! way that can fail (observing cannot fail).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the histogram's buckets in microseconds (the `le` values, in
/// seconds, are these divided by a million): from 50 µs (a write-back cache) to 2.5 s
/// (a disk in trouble).
pub const SYNC_BUCKETS_US: [u64; 14] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
    2_500_000,
];

/// The live histogram (see the module essay).
#[derive(Debug, Default)]
pub struct SyncLatency {
    /// Non-cumulative counts; the last slot is above the largest bound.
    buckets: [AtomicU64; SYNC_BUCKETS_US.len() + 1],
    /// Sum of all observations in microseconds.
    sum_us: AtomicU64,
    /// Number of observations.
    count: AtomicU64,
}

/// A copy of [`SyncLatency`], with cumulative bucket counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncLatencySnapshot {
    /// Observations at or below each bound of [`SYNC_BUCKETS_US`] (cumulative).
    pub cumulative: [u64; SYNC_BUCKETS_US.len()],
    /// Sum of all observations in microseconds.
    pub sum_us: u64,
    /// Number of observations (the `+Inf` bucket).
    pub count: u64,
}

impl SyncLatency {
    /// Records one sync call that took `d`.
    pub fn observe(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = SYNC_BUCKETS_US
            .iter()
            .position(|b| us <= *b)
            .unwrap_or(SYNC_BUCKETS_US.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The histogram now, with cumulative buckets.
    pub fn snapshot(&self) -> SyncLatencySnapshot {
        let mut out = SyncLatencySnapshot::default();
        let mut running = 0u64;
        for (i, c) in out.cumulative.iter_mut().enumerate() {
            running += self.buckets[i].load(Ordering::Relaxed);
            *c = running;
        }
        let above = self.buckets[SYNC_BUCKETS_US.len()].load(Ordering::Relaxed);
        out.sum_us = self.sum_us.load(Ordering::Relaxed);
        // Never below the buckets already read (see the module essay).
        out.count = self
            .count
            .load(Ordering::Relaxed)
            .max(running.saturating_add(above));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_cumulative_buckets() {
        let h = SyncLatency::default();
        h.observe(Duration::from_micros(50)); // on a bound: that bucket
        h.observe(Duration::from_micros(51));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(10)); // above every bound
        let s = h.snapshot();
        assert_eq!(s.count, 4);
        assert_eq!(s.sum_us, 50 + 51 + 3_000 + 10_000_000);
        assert_eq!(s.cumulative[0], 1); // le 50us
        assert_eq!(s.cumulative[1], 2); // le 100us
        assert_eq!(s.cumulative[5], 2); // le 2.5ms
        assert_eq!(s.cumulative[6], 3); // le 5ms
        assert_eq!(*s.cumulative.last().unwrap(), 3); // le 2.5s
        assert!(s.cumulative.windows(2).all(|w| w[0] <= w[1]));
    }
}
