//! The engine's side of WAL archiving: `pg_wal/archive_status/`, which segments a
//! checkpoint may let go of, the archiver's wake-ups and its counters.
//!
//! What it owns: [`ArchiveStatus`], one per engine. It creates `<file>.ready` when a
//! file becomes archivable (PostgreSQL's `XLogArchiveNotify`: a segment the WAL writer
//! finished, or any file another part of the server hands it — history files, a
//! promotion's `.partial`), answers whether a segment may be removed
//! (`XLogArchiveCheckDone`), wakes the archiver, remembers when the last segment switch
//! happened (`archive_timeout`), and keeps `pg_stat_archiver`'s counters.
//!
//! The archiver itself (running `archive_command`, renaming `.ready` to `.done`) is
//! `crate::archive::archiver`; it sits above storage and reaches this through
//! `Engine::archive_status`. The WAL writer knows none of this: it only calls the hook
//! the engine gave it when a segment is durable to its end.
//!
//! Invariants:
//! - **A segment is never removed or recycled before it is archived** while archiving
//!   is active: a checkpoint keeps every segment from the oldest one without `.done`
//!   ([`ArchiveStatus::oldest_unarchived`]), and a segment with neither `.ready` nor
//!   `.done` gets a `.ready` there rather than being removed (the safety net for a
//!   crash between a segment's completion and its `.ready`).
//! - Archiving is active on a primary with `archive_mode` `on` or `always`, and in
//!   recovery (a standby) only with `always`; with `off` no status file is created and
//!   nothing is kept for the archiver.
//! - `archive_mode` is read once at start (postmaster context).
//!
//! What it must never do: run a command, or delete WAL itself (the checkpoint does,
//! below the floor this module helps compute).

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// `archive_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArchiveMode {
    /// No archiving.
    #[default]
    Off,
    /// A primary archives; a standby does not.
    On,
    /// A standby archives what it receives too.
    Always,
}

impl ArchiveMode {
    /// The mode from the setting's canonical value (`off`, `on`, `always`).
    pub fn parse(s: &str) -> ArchiveMode {
        match s {
            "on" => ArchiveMode::On,
            "always" => ArchiveMode::Always,
            _ => ArchiveMode::Off,
        }
    }
}

/// `pg_stat_archiver`'s counters (times are PostgreSQL microseconds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiverStats {
    /// Files archived.
    pub archived_count: u64,
    /// The last file archived.
    pub last_archived_wal: Option<String>,
    /// When it was archived.
    pub last_archived_time: Option<i64>,
    /// Failed attempts.
    pub failed_count: u64,
    /// The file of the last failed attempt.
    pub last_failed_wal: Option<String>,
    /// When it failed.
    pub last_failed_time: Option<i64>,
    /// When the counters started (server start, or `pg_stat_reset_shared('archiver')`).
    pub stats_reset: i64,
}

/// The engine's archive status bookkeeping (see the module essay).
pub struct ArchiveStatus {
    /// `pg_wal/`.
    wal_dir: PathBuf,
    mode: ArchiveMode,
    /// Bumped at every wake-up request; the archiver waits for it to change.
    wakeups: Mutex<u64>,
    wake_cond: Condvar,
    /// When the writer last finished a segment (or the server started).
    last_switch: Mutex<Instant>,
    stats: Mutex<ArchiverStats>,
}

/// `archive_status/<name><suffix>` in `wal_dir`.
pub fn status_file(wal_dir: &Path, name: &str, suffix: &str) -> PathBuf {
    wal_dir
        .join("archive_status")
        .join(format!("{name}{suffix}"))
}

impl ArchiveStatus {
    /// The bookkeeping for the WAL in `wal_dir` with `archive_mode` = `mode`.
    pub fn new(wal_dir: &Path, mode: ArchiveMode) -> ArchiveStatus {
        ArchiveStatus {
            wal_dir: wal_dir.to_path_buf(),
            mode,
            wakeups: Mutex::new(0),
            wake_cond: Condvar::new(),
            last_switch: Mutex::new(Instant::now()),
            stats: Mutex::new(ArchiverStats {
                stats_reset: crate::types::now_micros(),
                ..ArchiverStats::default()
            }),
        }
    }

    /// `archive_mode` as the server started with it.
    pub fn mode(&self) -> ArchiveMode {
        self.mode
    }

    /// Whether files are archived here: `on`/`always` on a primary, `always` in
    /// recovery.
    pub fn active(&self, in_recovery: bool) -> bool {
        match self.mode {
            ArchiveMode::Off => false,
            ArchiveMode::On => !in_recovery,
            ArchiveMode::Always => true,
        }
    }

    /// `pg_wal/`.
    pub fn wal_dir(&self) -> &Path {
        &self.wal_dir
    }

    /// PostgreSQL's `XLogArchiveNotify`: marks `pg_wal/<name>` (a segment, a history
    /// file, a `.partial`, any file) ready for archiving and wakes the archiver. The
    /// caller checks that archiving is active.
    pub fn notify(&self, name: &str) -> std::io::Result<()> {
        let ready = status_file(&self.wal_dir, name, ".ready");
        if let Some(dir) = ready.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&ready, b"")?;
        self.wake();
        Ok(())
    }

    /// PostgreSQL's `XLogArchiveForceDone`: marks `name` as archived without archiving
    /// it (a standby's received segment with `archive_mode` other than `always`).
    pub fn force_done(&self, name: &str) -> std::io::Result<()> {
        let done = status_file(&self.wal_dir, name, ".done");
        if let Some(dir) = done.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let ready = status_file(&self.wal_dir, name, ".ready");
        if ready.exists() && std::fs::rename(&ready, &done).is_ok() {
            return Ok(());
        }
        std::fs::write(&done, b"")
    }

    /// The WAL writer finished segment file `name` (it is durable to its end): it
    /// becomes `.ready` when archiving is on (the writer writes only outside recovery),
    /// and the archive_timeout clock restarts.
    pub fn segment_completed(&self, name: &str) {
        *self.last_switch.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        if self.mode != ArchiveMode::Off {
            if let Err(e) = self.notify(name) {
                tracing::warn!(
                    "could not create archive status file \"{}\": {e}",
                    status_file(&self.wal_dir, name, ".ready").display()
                );
            }
        }
    }

    /// A standby's walreceiver finished segment `name`: `.ready` with
    /// `archive_mode = always` (the standby archives it), `.done` otherwise.
    pub fn segment_received(&self, name: &str) {
        let res = if self.mode == ArchiveMode::Always {
            self.notify(name)
        } else {
            self.force_done(name)
        };
        if let Err(e) = res {
            tracing::warn!("could not create archive status file for \"{name}\": {e}");
        }
    }

    /// PostgreSQL's `XLogArchiveCheckDone`: whether segment `name` may be removed. Always
    /// when archiving is not active; else only with `.done`. A segment with neither
    /// `.ready` nor `.done` gets a `.ready` (and is kept).
    pub fn check_done(&self, name: &str, in_recovery: bool) -> bool {
        if !self.active(in_recovery) {
            return true;
        }
        if status_file(&self.wal_dir, name, ".done").exists() {
            return true;
        }
        if status_file(&self.wal_dir, name, ".ready").exists() {
            return false;
        }
        // Race: the archiver may just have renamed it.
        if status_file(&self.wal_dir, name, ".done").exists() {
            return true;
        }
        if let Err(e) = self.notify(name) {
            tracing::warn!("could not create archive status file for \"{name}\": {e}");
        }
        false
    }

    /// Of the segment files a checkpoint is about to remove or recycle (`(segno,
    /// file name)`, oldest first), the oldest one that is not archived yet; every
    /// candidate is checked, so each unarchived one has its `.ready` afterwards.
    pub fn oldest_unarchived(
        &self,
        candidates: &[(u64, String)],
        in_recovery: bool,
    ) -> Option<u64> {
        if !self.active(in_recovery) {
            return None;
        }
        let mut oldest = None;
        for (segno, name) in candidates {
            if !self.check_done(name, in_recovery) {
                oldest = Some(oldest.map_or(*segno, |o: u64| o.min(*segno)));
            }
        }
        oldest
    }

    /// Removes the status files of a segment that is gone (removed or recycled).
    pub fn cleanup(&self, name: &str) {
        let _ = std::fs::remove_file(status_file(&self.wal_dir, name, ".done"));
        let _ = std::fs::remove_file(status_file(&self.wal_dir, name, ".ready"));
    }

    /// Wakes the archiver (a file became ready, a reload, a shutdown).
    pub fn wake(&self) {
        let mut n = self.wakeups.lock().unwrap_or_else(|p| p.into_inner());
        *n += 1;
        self.wake_cond.notify_all();
    }

    /// The current wake-up count (to pass to [`ArchiveStatus::wait`]).
    pub fn wakeups(&self) -> u64 {
        *self.wakeups.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until the wake-up count differs from `seen` or `timeout` passes; returns
    /// the count.
    pub fn wait(&self, seen: u64, timeout: Duration) -> u64 {
        let n = self.wakeups.lock().unwrap_or_else(|p| p.into_inner());
        let (n, _) = self
            .wake_cond
            .wait_timeout_while(n, timeout, |n| *n == seen)
            .unwrap_or_else(|p| p.into_inner());
        *n
    }

    /// When the WAL writer last finished a segment (or the engine opened).
    pub fn last_segment_switch(&self) -> Instant {
        *self.last_switch.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Restarts the archive_timeout clock (a switch was requested, whether or not one
    /// happened: PostgreSQL does not retry constantly on an idle system).
    pub fn note_switch_attempt(&self) {
        *self.last_switch.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    /// `pg_stat_archiver`'s counters.
    pub fn stats(&self) -> ArchiverStats {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Counts a file archived.
    pub fn report_archived(&self, name: &str) {
        let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        s.archived_count += 1;
        s.last_archived_wal = Some(name.to_string());
        s.last_archived_time = Some(crate::types::now_micros());
    }

    /// Counts a failed attempt.
    pub fn report_failed(&self, name: &str) {
        let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        s.failed_count += 1;
        s.last_failed_wal = Some(name.to_string());
        s.last_failed_time = Some(crate::types::now_micros());
    }

    /// `pg_stat_reset_shared('archiver')`.
    pub fn reset_stats(&self) {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner()) = ArchiverStats {
            stats_reset: crate::types::now_micros(),
            ..ArchiverStats::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tusk-archst-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("archive_status")).unwrap();
        d
    }

    #[test]
    fn check_done_keeps_unarchived_and_creates_ready() {
        let d = dir("check");
        let a = ArchiveStatus::new(&d, ArchiveMode::On);
        std::fs::write(status_file(&d, "A", ".done"), b"").unwrap();
        std::fs::write(status_file(&d, "B", ".ready"), b"").unwrap();
        assert!(a.check_done("A", false));
        assert!(!a.check_done("B", false));
        // Neither: the safety net makes it ready.
        assert!(!a.check_done("C", false));
        assert!(status_file(&d, "C", ".ready").exists());
        let cands = vec![(1, "A".to_string()), (2, "B".into()), (3, "C".into())];
        assert_eq!(a.oldest_unarchived(&cands, false), Some(2));
        // A standby with `on` does not archive: everything may go.
        assert_eq!(a.oldest_unarchived(&cands, true), None);
        let always = ArchiveStatus::new(&d, ArchiveMode::Always);
        assert_eq!(always.oldest_unarchived(&cands, true), Some(2));
        let off = ArchiveStatus::new(&d, ArchiveMode::Off);
        assert!(off.check_done("D", false));
        assert!(!status_file(&d, "D", ".ready").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn received_segments_follow_the_mode() {
        let d = dir("recv");
        ArchiveStatus::new(&d, ArchiveMode::On).segment_received("S1");
        assert!(status_file(&d, "S1", ".done").exists());
        ArchiveStatus::new(&d, ArchiveMode::Always).segment_received("S2");
        assert!(status_file(&d, "S2", ".ready").exists());
        let off = ArchiveStatus::new(&d, ArchiveMode::Off);
        off.segment_completed("S3");
        assert!(!status_file(&d, "S3", ".ready").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn wait_returns_on_wake_or_timeout() {
        let d = dir("wake");
        let a = std::sync::Arc::new(ArchiveStatus::new(&d, ArchiveMode::On));
        let seen = a.wakeups();
        assert_eq!(a.wait(seen, Duration::from_millis(10)), seen);
        let b = a.clone();
        let t = std::thread::spawn(move || b.wait(seen, Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(20));
        a.wake();
        assert_eq!(t.join().unwrap(), seen + 1);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
