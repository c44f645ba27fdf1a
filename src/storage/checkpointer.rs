//! The checkpointer: when checkpoints happen by themselves, which WAL segments a
//! checkpoint may remove, and the background thread that runs timed and size-triggered
//! checkpoints and automatic reclamation of dead row versions.
//!
//! What it owns: [`CheckpointSettings`] (`checkpoint_timeout`, `max_wal_size`,
//! `wal_keep_size`, `log_checkpoints`, the autovacuum threshold), the retention rule
//! [`oldest_segment_to_keep`] and the two threads started by [`spawn`]: the
//! checkpointer, and the one that makes WAL segments ready ahead of the writer
//! (`tusk wal prealloc`: the writer asks for the next segment once it is half-way
//! through the current one, and that thread has the writer create it, so that a large
//! commit crossing into a new segment does not wait for 16 MB of zeros to be written
//! and synced).
//!
//! Invariants:
//! - The thread holds only a `Weak` reference to the engine: dropping the last `Arc`
//!   (or shutting the engine down) ends it within one tick.
//! - A segment at or after the last checkpoint's redo segment, the segment being
//!   written, and the last `wal_keep_size` worth of segments are never removed.
//!   Replication slots and the archiver add their constraints through
//!   [`WalRetention`] (the hook), not by deleting files themselves; running base
//!   backups (`backup.rs`) and backup holds (`holds.rs`, the WAL a finished backup's
//!   standby will ask for) lower the floor after [`oldest_segment_to_keep`]. Slots and
//!   holds are both capped by [`slot_invalidation_cutoff`] (`max_slot_wal_keep_size`).
//!
//! What it must never do: write images or WAL itself (it calls the engine), or hold an
//! engine lock while sleeping.
//!
//! Between checkpoints the thread also enforces `archive_timeout`
//! (`Engine::check_archive_timeout`): a segment switch once that long has passed
//! since the last one, when WAL was written meanwhile.
//!
//! One timed checkpoint:
//! 1. The thread wakes every tick and asks the engine how long ago the last checkpoint
//!    started and how much WAL was written since its redo point;
//! 2. past `checkpoint_timeout` it calls the engine's checkpoint with reason `time`
//!    (past the WAL-size trigger, reason `wal`);
//! 3. the engine writes the images and the checkpoint record, updates pg_control, and
//!    recycles (renames to future segment names, up to [`recycle_limit`]) or removes
//!    the segments older than [`oldest_segment_to_keep`];
//!    The first tick after a crash recovery that left its checkpoint to this thread
//!    runs that one (reason `end-of-recovery`; `EngineOptions::defer_recovery_checkpoint`)
//!    — unless a checkpoint completed in between, which did its work;
//! 4. then the thread reclaims dead row versions (VACUUM of every table) when enough
//!    dead versions have piled up.

use super::wal::Lsn;
use super::Engine;
use crate::config::ServerConfig;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The settings that drive automatic checkpoints and WAL removal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckpointSettings {
    /// `checkpoint_timeout`: the longest time between automatic checkpoints.
    pub checkpoint_timeout: Duration,
    /// `max_wal_size` in bytes: WAL written since the last redo point that triggers a
    /// checkpoint (PostgreSQL's trigger: `max_wal_size / (1 + completion_target)`).
    pub max_wal_size: u64,
    /// `min_wal_size` in bytes: at least this much old WAL is kept for recycling.
    pub min_wal_size: u64,
    /// `checkpoint_completion_target` (only used for the WAL-size trigger).
    pub completion_target: f64,
    /// `wal_keep_size` in bytes (the legacy `wal_keep_segments` is already folded in
    /// by the configuration).
    pub wal_keep_size: u64,
    /// `log_checkpoints`: log `checkpoint starting:` / `checkpoint complete:` lines.
    pub log_checkpoints: bool,
    /// Dead row versions (all tables together) that start an automatic VACUUM.
    pub autovacuum_threshold: usize,
    /// How often the background thread looks.
    pub tick: Duration,
    /// `max_slot_wal_keep_size` in bytes; `None` for -1 (slots keep WAL without limit).
    /// tusk's default is 1 GB (PostgreSQL's is -1): a dead slot cannot fill the disk.
    pub max_slot_wal_keep_size: Option<u64>,
    /// `archive_mode` (postmaster context: the engine reads it once, at open).
    pub archive_mode: super::archive_status::ArchiveMode,
    /// `archive_timeout` (zero: off): the checkpointer switches segments when WAL was
    /// written and this long has passed since the last switch.
    pub archive_timeout: Duration,
    /// `max_standby_streaming_delay` (`None` for -1: wait for ever): how long replay of
    /// streamed WAL waits for standby transactions holding a relation it must lock
    /// exclusively (see `standby_locks.rs`).
    pub max_standby_streaming_delay: Option<Duration>,
    /// `max_standby_archive_delay`: the same for WAL from the archive or pg_wal.
    pub max_standby_archive_delay: Option<Duration>,
}

impl Default for CheckpointSettings {
    fn default() -> Self {
        CheckpointSettings {
            checkpoint_timeout: Duration::from_secs(300),
            max_wal_size: 1024 * 1024 * 1024,
            min_wal_size: 80 * 1024 * 1024,
            completion_target: 0.9,
            wal_keep_size: 0,
            log_checkpoints: true,
            autovacuum_threshold: 1000,
            tick: Duration::from_millis(200),
            max_slot_wal_keep_size: Some(1024 * 1024 * 1024),
            max_standby_streaming_delay: Some(Duration::from_secs(30)),
            max_standby_archive_delay: Some(Duration::from_secs(30)),
            archive_mode: super::archive_status::ArchiveMode::Off,
            archive_timeout: Duration::ZERO,
        }
    }
}

/// A `max_standby_*_delay` value in milliseconds: -1 (any negative) waits for ever.
fn standby_delay(ms: i64) -> Option<Duration> {
    (ms >= 0).then(|| Duration::from_millis(ms as u64))
}

impl CheckpointSettings {
    /// The settings in force in a server configuration.
    pub fn from_config(cfg: &ServerConfig) -> CheckpointSettings {
        let mb = 1024 * 1024u64;
        CheckpointSettings {
            checkpoint_timeout: Duration::from_secs(cfg.get_int("checkpoint_timeout").max(1) as u64),
            max_wal_size: (cfg.get_int("max_wal_size").max(2) as u64).saturating_mul(mb),
            min_wal_size: (cfg.get_int("min_wal_size").max(2) as u64).saturating_mul(mb),
            completion_target: cfg.get_real("checkpoint_completion_target").clamp(0.0, 1.0),
            wal_keep_size: (cfg.get_int("wal_keep_size").max(0) as u64).saturating_mul(mb),
            log_checkpoints: cfg.get_bool("log_checkpoints"),
            max_slot_wal_keep_size: match cfg.get_int("max_slot_wal_keep_size") {
                n if n < 0 => None,
                n => Some((n as u64).saturating_mul(mb)),
            },
            archive_mode: super::archive_status::ArchiveMode::parse(&cfg.get_str("archive_mode")),
            archive_timeout: Duration::from_secs(cfg.get_int("archive_timeout").max(0) as u64),
            max_standby_streaming_delay: standby_delay(cfg.get_int("max_standby_streaming_delay")),
            max_standby_archive_delay: standby_delay(cfg.get_int("max_standby_archive_delay")),
            ..CheckpointSettings::default()
        }
    }

    /// Loads the settings from the data directory's configuration files
    /// (postgresql.conf, postgresql.auto.conf); PostgreSQL's defaults when they cannot
    /// be read.
    pub fn load(datadir: &Path) -> CheckpointSettings {
        match ServerConfig::load(datadir, &[]) {
            Ok(cfg) => CheckpointSettings::from_config(&cfg),
            Err(_) => CheckpointSettings::default(),
        }
    }

    /// WAL bytes since the last redo point after which a checkpoint is requested.
    pub fn wal_trigger_bytes(&self) -> u64 {
        (self.max_wal_size as f64 / (1.0 + self.completion_target)) as u64
    }
}

/// Everything that decides how far back WAL must be kept: the checkpoint's redo point,
/// `wal_keep_size`, the replication slots (through [`SlotRetention`], capped by
/// `max_slot_wal_keep_size`) and the archiver.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WalRetention {
    /// The last checkpoint's redo LSN (crash recovery starts there).
    pub redo: Lsn,
    /// The current WAL insert position.
    pub insert: Lsn,
    /// The WAL segment size.
    pub segment_size: u64,
    /// `wal_keep_size` in bytes.
    pub wal_keep_size: u64,
    /// The oldest LSN a replication slot still needs, if any.
    pub slot_min: Option<Lsn>,
    /// The oldest segment not yet archived, if archiving is on.
    pub archive_min_segno: Option<u64>,
}

/// The oldest segment number that must be kept (every segment below it may be
/// removed): the minimum of the redo point's segment, the current segment minus
/// `wal_keep_size` worth of segments, a slot's segment and the archiver's segment.
pub fn oldest_segment_to_keep(r: &WalRetention) -> u64 {
    let seg = r.segment_size.max(1);
    let redo_seg = r.redo.0 / seg;
    let current = r.insert.0 / seg;
    let keep_segs = r.wal_keep_size / seg;
    let mut keep = redo_seg.min(current.saturating_sub(keep_segs));
    if let Some(s) = r.slot_min {
        keep = keep.min(s.0 / seg);
    }
    if let Some(a) = r.archive_min_segno {
        keep = keep.min(a);
    }
    keep.min(current)
}

// ---- Replication slot retention (the hook the slot manager fills in) ----

/// What a checkpoint asks the replication slots before it removes old WAL
/// (implemented by `replication::slots`, registered with `Engine::set_slot_retention`).
pub trait SlotRetention: Send + Sync {
    /// Invalidates every slot whose `restart_lsn` is older than `cutoff` (when given:
    /// `max_slot_wal_keep_size` would be exceeded), writes changed slot states to disk,
    /// and returns the oldest `restart_lsn` of the slots that still keep WAL.
    fn checkpoint_slots(&self, cutoff: Option<Lsn>) -> Option<Lsn>;
}

/// The LSN below which a slot is invalidated by `max_slot_wal_keep_size` (PostgreSQL's
/// `KeepLogSeg` + `InvalidateObsoleteReplicationSlots`): the start of the oldest
/// segment the redo point and `wal_keep_size` keep, or of the current segment minus
/// `max_slot_wal_keep_size` worth of segments, whichever is older. `None` when the
/// setting is -1. `r.slot_min` is ignored.
pub fn slot_invalidation_cutoff(
    r: &WalRetention,
    max_slot_wal_keep_size: Option<u64>,
) -> Option<Lsn> {
    let max = max_slot_wal_keep_size?;
    let seg = r.segment_size.max(1);
    let current = r.insert.0 / seg;
    let without_slots = oldest_segment_to_keep(&WalRetention {
        slot_min: None,
        ..*r
    });
    let capped = current.saturating_sub(max / seg);
    Some(Lsn(without_slots.min(capped) * seg))
}

// ---- end of replication slot retention ----

/// The highest segment number old segments may be recycled into after a checkpoint
/// whose redo point is `redo` (PostgreSQL's `XLOGfileslop`): enough for the WAL the next
/// checkpoint cycle is expected to write (`distance_estimate`, the recent distance
/// between checkpoints, stretched by the completion target and 10%), but at least
/// `min_wal_size` and at most `max_wal_size` worth of segments from the redo point.
pub fn recycle_limit(
    s: &CheckpointSettings,
    redo: Lsn,
    segment_size: u64,
    distance_estimate: u64,
) -> u64 {
    let seg = segment_size.max(1);
    let redo_seg = redo.0 / seg;
    let min_seg = redo_seg + (s.min_wal_size / seg).max(1) - 1;
    let max_seg = redo_seg + (s.max_wal_size / seg).max(1) - 1;
    let distance = (1.0 + s.completion_target) * distance_estimate as f64 * 1.10;
    let wanted = (redo.0 + distance as u64) / seg + 1;
    wanted.clamp(min_seg, max_seg.max(min_seg))
}

/// Folds one checkpoint's distance (bytes between its redo point and the previous
/// one) into the running estimate as PostgreSQL does: a jump up is taken at once, a
/// drop is followed slowly (90/10 average).
pub fn next_distance_estimate(estimate: u64, distance: u64) -> u64 {
    if distance > estimate {
        distance
    } else {
        (0.9 * estimate as f64 + 0.1 * distance as f64) as u64
    }
}

/// Starts the background checkpointer for `engine`; it stops when the engine is shut
/// down or dropped.
pub fn spawn(engine: &Arc<Engine>) {
    let weak: Weak<Engine> = Arc::downgrade(engine);
    let started = std::thread::Builder::new()
        .name("tusk checkpointer".into())
        .spawn(move || run(weak));
    if let Err(e) = started {
        tracing::warn!("could not start the checkpointer thread: {e}");
    }
    if let Some(requests) = engine.wal.ahead_requests() {
        let weak: Weak<Engine> = Arc::downgrade(engine);
        let started = std::thread::Builder::new()
            .name("tusk wal prealloc".into())
            .spawn(move || prepare_ahead(weak, requests));
        if let Err(e) = started {
            // The writer then creates each segment itself, as before.
            tracing::warn!("could not start the WAL preallocation thread: {e}");
        }
    }
}

/// Makes the WAL segments the writer asks for ready ahead of it (see
/// `WalWriter::ahead_requests`), the latest asked when several wait. Ends when the
/// writer (with its engine) is gone; holds the engine only while preparing a segment.
fn prepare_ahead(weak: Weak<Engine>, requests: std::sync::mpsc::Receiver<u64>) {
    while let Ok(mut next) = requests.recv() {
        while let Ok(later) = requests.try_recv() {
            next = next.max(later);
        }
        let Some(engine) = weak.upgrade() else {
            return;
        };
        if engine.shut_down.load(Ordering::SeqCst) || engine.broken.load(Ordering::SeqCst) {
            return;
        }
        if let Err(e) = engine.wal.prepare_segment(next) {
            tracing::warn!("could not preallocate a WAL segment: {}", e.message);
        }
    }
}

fn run(weak: Weak<Engine>) {
    let mut recovery_checkpoint_tried = false;
    loop {
        let tick = match weak.upgrade() {
            Some(e) => e.settings().tick,
            None => return,
        };
        std::thread::sleep(tick);
        let Some(engine) = weak.upgrade() else {
            return;
        };
        if engine.shut_down.load(Ordering::SeqCst) || engine.broken.load(Ordering::SeqCst) {
            return;
        }
        let s = engine.settings();
        let since = engine
            .last_checkpoint_start
            .lock()
            .map(|t| t.elapsed())
            .unwrap_or_else(|p| p.into_inner().elapsed());
        let (_, redo) = engine.last_checkpoint();
        let written = engine.current_wal_lsn().bytes_since(redo);
        if !recovery_checkpoint_tried && engine.recovery_checkpoint_pending() {
            recovery_checkpoint_tried = true;
            // Once (a failure leaves it to the timed and size triggers), and not at all
            // when a checkpoint completed since recovery.
            if let Err(e) = engine.end_of_recovery_checkpoint() {
                tracing::warn!("end-of-recovery checkpoint failed: {}", e.message);
            }
        } else {
            let reason = if since >= s.checkpoint_timeout
                && written > 0
                && engine.wal_since_last_checkpoint()
            {
                Some("time")
            } else if written >= s.wal_trigger_bytes() {
                Some("wal")
            } else {
                None
            };
            if let Some(reason) = reason {
                if let Err(e) = engine.checkpoint_with_reason(reason) {
                    tracing::warn!("automatic checkpoint failed: {}", e.message);
                }
            }
        }
        // archive_timeout (PostgreSQL's checkpointer does this too).
        if let Err(e) = engine.check_archive_timeout(s.archive_timeout) {
            tracing::warn!("could not switch WAL segment: {}", e.message);
        }
        if engine.dead_versions() >= s.autovacuum_threshold {
            let removed = engine.vacuum_all();
            if removed > 0 {
                tracing::debug!("automatic vacuum removed {removed} dead row versions");
            }
        }
        drop(engine);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1024 * 1024;

    #[test]
    fn slot_cutoff_follows_max_slot_wal_keep_size() {
        const MB: u64 = 1024 * 1024;
        let r = WalRetention {
            redo: Lsn(18 * MB),
            insert: Lsn(20 * MB + 5),
            segment_size: MB,
            wal_keep_size: 0,
            slot_min: Some(Lsn(MB)),
            archive_min_segno: None,
        };
        assert_eq!(slot_invalidation_cutoff(&r, None), None);
        // Current segment 20 minus 4 segments.
        assert_eq!(
            slot_invalidation_cutoff(&r, Some(4 * MB)),
            Some(Lsn(16 * MB))
        );
        // Never above what the redo point keeps anyway.
        assert_eq!(slot_invalidation_cutoff(&r, Some(0)), Some(Lsn(18 * MB)));
        // wal_keep_size keeps more: the cutoff moves back with it.
        let keep = WalRetention {
            wal_keep_size: 10 * MB,
            ..r
        };
        assert_eq!(
            slot_invalidation_cutoff(&keep, Some(4 * MB)),
            Some(Lsn(10 * MB))
        );
    }

    #[test]
    fn retention_keeps_redo_and_wal_keep_size() {
        let r = WalRetention {
            redo: Lsn(10 * MB + 40),
            insert: Lsn(12 * MB + 5),
            segment_size: MB,
            wal_keep_size: 0,
            slot_min: None,
            archive_min_segno: None,
        };
        assert_eq!(oldest_segment_to_keep(&r), 10);
        assert_eq!(
            oldest_segment_to_keep(&WalRetention {
                wal_keep_size: 5 * MB,
                ..r
            }),
            7
        );
        assert_eq!(
            oldest_segment_to_keep(&WalRetention {
                wal_keep_size: 100 * MB,
                ..r
            }),
            0
        );
        assert_eq!(
            oldest_segment_to_keep(&WalRetention {
                slot_min: Some(Lsn(3 * MB)),
                ..r
            }),
            3
        );
        assert_eq!(
            oldest_segment_to_keep(&WalRetention {
                archive_min_segno: Some(9),
                ..r
            }),
            9
        );
        // Never past the current segment, even with a redo point beyond it.
        assert_eq!(
            oldest_segment_to_keep(&WalRetention {
                redo: Lsn(20 * MB),
                ..r
            }),
            12
        );
    }

    #[test]
    fn recycling_keeps_between_min_and_max_wal_size() {
        let s = CheckpointSettings::default(); // min 80 MB, max 1 GB, target 0.9
        let redo = Lsn(100 * MB + 5);
        // Nothing written lately: min_wal_size (5 segments from the redo segment).
        assert_eq!(recycle_limit(&s, redo, 16 * MB, 0), 6 + 4);
        // A busy cycle: room for 1.9 * 1.1 = 2.09 times the last distance: 334.4 MB
        // past the redo point at 100 MB ends in segment 27; one more for rounding.
        assert_eq!(recycle_limit(&s, redo, 16 * MB, 160 * MB), 28);
        // Never beyond max_wal_size.
        assert_eq!(recycle_limit(&s, redo, 16 * MB, 100_000 * MB), 6 + 63);
        assert_eq!(next_distance_estimate(10, 50), 50);
        assert_eq!(next_distance_estimate(100, 0), 90);
    }

    #[test]
    fn settings_from_defaults_match_postgres() {
        let cfg = ServerConfig::defaults(Path::new("/nonexistent"));
        let s = CheckpointSettings::from_config(&cfg);
        assert_eq!(s.checkpoint_timeout, Duration::from_secs(300));
        assert_eq!(s.max_wal_size, 1024 * MB);
        assert_eq!(s.wal_keep_size, 0);
        assert!(s.log_checkpoints);
        assert!(s.wal_trigger_bytes() < s.max_wal_size);
    }
}
