//! The engine's cumulative counters: transactions ended (committed, rolled back) and
//! checkpoints started (timed, requested) since the engine opened — what PostgreSQL's
//! cumulative statistics keep for `pg_stat_database.xact_commit`/`xact_rollback` and
//! `pg_stat_bgwriter.checkpoints_timed`/`checkpoints_req`: engine-wide, and the
//! transactions also per database (`pg_stat_database`).
//!
//! # What it owns
//!
//! [`Counters`]: plain atomic counters the engine bumps on its transaction and
//! checkpoint paths ([`Engine::finish`](super::Engine), `checkpoint_with_reason`), and
//! [`CountersSnapshot`], the copy readers take (the metrics endpoint,
//! `server::metrics`).
//!
//! # Invariants
//!
//! - Counting never takes a lock and never fails: one relaxed `fetch_add` per event, so
//!   the commit path pays nothing measurable. Counters only grow; they start at zero
//!   when the engine opens (a restart resets them, as PostgreSQL's do after a crash).
//! - A transaction counts once, when it ends: a commit that found nothing to write
//!   (read-only) counts as committed, as PostgreSQL counts it; a commit whose WAL write
//!   failed counts as rolled back, since its changes never became visible.
//! - A checkpoint counts when it is asked for, under the reason it was asked with:
//!   `time` is timed, anything else (`wal`, `immediate force wait`, a base backup's,
//!   promotion's) is requested; the shutdown checkpoint is not counted, as PostgreSQL
//!   15 does not count it.
//!
//! What this module must never do: decide anything from the counters, or be read on a
//! hot path as if it were exact at one instant (each counter is read on its own).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The engine's cumulative counters (lock-free; see the module essay).
#[derive(Debug, Default)]
pub struct Counters {
    /// Transactions committed (read-only ones included).
    xact_commit: AtomicU64,
    /// Transactions rolled back (aborted, or whose commit failed).
    xact_rollback: AtomicU64,
    /// Checkpoints started because `checkpoint_timeout` passed.
    checkpoints_timed: AtomicU64,
    /// Checkpoints started for any other reason (WAL size, CHECKPOINT, backups…).
    checkpoints_req: AtomicU64,
    /// Per database OID: (committed, rolled back), for `pg_stat_database`. The map is
    /// read-locked to find a database's pair (written once per database), the pair
    /// itself is atomic.
    per_database: RwLock<HashMap<u32, Arc<(AtomicU64, AtomicU64)>>>,
}

/// A copy of [`Counters`] at one moment (each counter read on its own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountersSnapshot {
    /// Transactions committed.
    pub xact_commit: u64,
    /// Transactions rolled back.
    pub xact_rollback: u64,
    /// Timed checkpoints.
    pub checkpoints_timed: u64,
    /// Requested checkpoints.
    pub checkpoints_req: u64,
}

impl Counters {
    /// Counts a transaction of database `db` (0: none known) that ended.
    pub fn count_transaction_in(&self, db: u32, committed: bool) {
        self.count_transaction(committed);
        if db == 0 {
            return;
        }
        let known = self
            .per_database
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&db)
            .cloned();
        let pair = match known {
            Some(p) => p,
            None => self
                .per_database
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .entry(db)
                .or_default()
                .clone(),
        };
        let c = if committed { &pair.0 } else { &pair.1 };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// (committed, rolled back) transactions of database `db` since the engine opened.
    pub fn database(&self, db: u32) -> (u64, u64) {
        self.per_database
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&db)
            .map_or((0, 0), |p| {
                (p.0.load(Ordering::Relaxed), p.1.load(Ordering::Relaxed))
            })
    }

    /// Counts a transaction that ended, committed or not.
    pub fn count_transaction(&self, committed: bool) {
        let c = if committed {
            &self.xact_commit
        } else {
            &self.xact_rollback
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a checkpoint asked for with `reason` (PostgreSQL's flags as tusk logs
    /// them: `time` is a timed checkpoint, anything else a requested one).
    pub fn count_checkpoint(&self, reason: &str) {
        let c = if reason == "time" {
            &self.checkpoints_timed
        } else {
            &self.checkpoints_req
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> CountersSnapshot {
        CountersSnapshot {
            xact_commit: self.xact_commit.load(Ordering::Relaxed),
            xact_rollback: self.xact_rollback.load(Ordering::Relaxed),
            checkpoints_timed: self.checkpoints_timed.load(Ordering::Relaxed),
            checkpoints_req: self.checkpoints_req.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_and_checkpoints_count_by_kind() {
        let c = Counters::default();
        c.count_transaction(true);
        c.count_transaction(true);
        c.count_transaction(false);
        c.count_transaction_in(5, true);
        c.count_transaction_in(5, false);
        c.count_transaction_in(16384, true);
        assert_eq!(c.database(5), (1, 1));
        assert_eq!(c.database(16384), (1, 0));
        assert_eq!(c.database(1), (0, 0));
        c.count_checkpoint("time");
        c.count_checkpoint("wal");
        c.count_checkpoint("immediate force wait");
        assert_eq!(
            c.snapshot(),
            CountersSnapshot {
                xact_commit: 4,
                xact_rollback: 2,
                checkpoints_timed: 1,
                checkpoints_req: 2,
            }
        );
    }
}
