//! Backup holds: the WAL a standby made by a base backup needs when it first connects,
//! kept by the primary until that standby has streamed past it.
//!
//! Why: with PostgreSQL's defaults (`wal_keep_size = 0`, no slot) a standby made by
//! `pg_basebackup -Xs -R` while the primary is busy often cannot start, because by the
//! time it first connects the checkpoints have removed or recycled the segment holding
//! the backup's end, which is where its streaming starts ("requested WAL segment ... has
//! already been removed"). tusk keeps that WAL: when a base backup stops, the engine
//! records a *backup hold* for it, and WAL from the segment of the backup's start (its
//! redo LSN) on is kept until a standby has streamed past the backup's end LSN.
//!
//! Why from the start and not from the end segment, where a PostgreSQL standby first
//! asks for WAL once its copied `pg_wal` is replayed: tusk's walreceiver starts
//! streaming while replay is still reading the copied WAL, at the segment of the replay
//! position (`standby/walreceiver.rs`), so the first request may be for the backup's
//! start segment. The extra WAL is what the backup itself spans (what `-Xs` streamed).
//!
//! This lives in the engine (`storage/`), not in `replication/`, because the engine owns
//! WAL retention ([`Engine::remove_old_wal`](super::Engine) consults it like the running
//! backups' floors), the holds must be read from disk by [`Engine::open`](super::Engine)
//! before the replication layer exists (the end-of-recovery checkpoint removes WAL), and
//! a hold is created by [`Engine::stop_backup`](super::Engine::stop_backup).
//!
//! What it owns: [`BackupHold`], the in-memory list of holds and its file
//! `global/tusk_backup_holds` (text, a header line, then one hold a line:
//! `end-LSN start-LSN timeline created-unix-secs streamed-to-LSN`, the last field
//! optional when read, written to a `.tmp` file, fsynced,
//! renamed, directory fsynced; removed when no hold is left). Base backups never copy
//! that file (`backup.rs` excludes it), so a standby does not inherit its primary's
//! holds.
//!
//! Invariants:
//! - While a hold exists, no WAL segment at or after the segment of its start LSN is
//!   removed or recycled, unless the hold is dropped first (and a LOG line says so).
//! - A hold ends in exactly one of four ways, each with a LOG line: a standby streamed
//!   past it ([`Engine::standby_streamed_past`]); a superuser released it with
//!   `select tusk_release_wal_hold('X/Y')` ([`Engine::release_backup_hold`]); keeping
//!   it would exceed `max_slot_wal_keep_size` (the same cutoff that invalidates slots,
//!   so with the setting at -1 holds are not capped by size); it is older than
//!   [`HOLD_MAX_AGE`] (24 hours, fixed: a backup whose standby never came must not
//!   keep WAL forever).
//! - A hold is released only by a standby that (a) started streaming after the hold was
//!   made, (b) started between the backup's start segment and the segment after the
//!   furthest of its end and of the backup's own WAL stream (where the standby made
//!   from that backup starts: where its copied `pg_wal` ends), and (c) reports a
//!   valid replay position (a walreceiver; pg_basebackup's own WAL stream and
//!   pg_receivewal report none) together with a flush position at or past the
//!   backup's end LSN. The replication protocol does not say
//!   which backup a standby came from, so any standby that qualifies releases the
//!   hold; one that starts elsewhere (fed from an archive, say) leaves it to the cap
//!   and the age limit.
//!
//! What it must never do: remove WAL itself (it only lowers the floor `remove_old_wal`
//! uses), or fail a checkpoint or a backup because the hold file cannot be written (the
//! failure is logged; the hold is then kept in memory only).
//!
//! One hold, step by step:
//! 1. `BASE_BACKUP` calls [`Engine::stop_backup`](super::Engine::stop_backup), which
//!    records a hold for the backup's start and end LSNs (LOG `keeping WAL from segment
//!    ... for the standby of a base backup ending at X/Y`) and writes the file;
//! 2. when `pg_basebackup -Xs`'s own WAL stream ends, the walsender reports how far it
//!    went ([`Engine::backup_stream_ended`]): the standby's copied `pg_wal` ends no
//!    further, so its first stream starts no later;
//! 3. every checkpoint (and restartpoint) asks [`Engine::backup_hold_keep_floor`]: holds
//!    past the cap or the age limit are dropped, the oldest remaining segment is kept;
//! 4. the standby starts and streams from a segment the hold keeps; once its reply
//!    reports a flush position at or past the backup's end LSN, the walsender calls
//!    [`Engine::standby_streamed_past`], which drops the hold (LOG `released ...`) and
//!    rewrites the file;
//! 5. the next checkpoint removes or recycles the segments as usual.

use super::checkpointer::{slot_invalidation_cutoff, CheckpointSettings, WalRetention};
use super::wal::segment::segment_file_name;
use super::wal::Lsn;
use super::Engine;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The file (relative to the data directory) that keeps the holds across restarts.
pub const HOLDS_FILE: &str = "global/tusk_backup_holds";

/// The first line of the holds file (its format version).
const HOLDS_HEADER: &str = "tusk backup holds 1";

/// How long a hold is kept when no standby streams past it.
pub const HOLD_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// One backup hold: WAL from the segment of `keep_from` on is kept for a standby.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupHold {
    /// The end LSN of the base backup (where its standby's replay reaches consistency):
    /// a standby that flushed past it no longer needs the hold.
    pub lsn: Lsn,
    /// The backup's start (its redo LSN): WAL is kept from this LSN's segment.
    pub keep_from: Lsn,
    /// How far the backup's own WAL stream (`pg_basebackup -Xs`) went: its standby's
    /// copied `pg_wal` ends at or before this, so its first stream starts no later.
    /// Equal to `lsn` until that stream ends (and for a backup without one).
    pub streamed_to: Lsn,
    /// The timeline the backup was taken on.
    pub timeline: u32,
    /// When the hold was made (Unix seconds).
    pub created: i64,
    /// In-memory order of creation (0 for holds read from disk at start): a stream may
    /// release only holds made before it started.
    seq: u64,
}

/// The holds of one engine and the file that keeps them.
pub(super) struct BackupHolds {
    holds: Mutex<Vec<BackupHold>>,
    /// How many holds exist (read without the lock on every standby reply).
    count: AtomicUsize,
    /// The last sequence number given out.
    seq: AtomicU64,
    path: PathBuf,
    fsync: bool,
}

impl BackupHolds {
    /// An empty set of holds kept in `<datadir>/global/tusk_backup_holds`.
    pub(super) fn empty(datadir: &Path, fsync: bool) -> BackupHolds {
        BackupHolds {
            holds: Mutex::new(Vec::new()),
            count: AtomicUsize::new(0),
            seq: AtomicU64::new(0),
            path: datadir.join(HOLDS_FILE),
            fsync,
        }
    }

    /// Reads the holds file of `datadir` (none when it does not exist). A file that
    /// cannot be read or parsed is reported with a WARNING and ignored: holds are a
    /// safety margin, never a reason to refuse to start.
    pub(super) fn load(datadir: &Path, fsync: bool) -> BackupHolds {
        let h = BackupHolds::empty(datadir, fsync);
        let text = match fs::read_to_string(&h.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return h,
            Err(e) => {
                tracing::warn!("could not read file \"{}\": {e}", h.path.display());
                return h;
            }
        };
        match parse(&text) {
            Some(list) => {
                h.count.store(list.len(), Ordering::SeqCst);
                *h.lock() = list;
            }
            None => tracing::warn!("ignoring file \"{}\": invalid contents", h.path.display()),
        }
        h
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<BackupHold>> {
        self.holds.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes `list` to the holds file (temp file, fsync, rename, directory fsync), or
    /// removes the file when the list is empty. Failures are logged.
    fn persist(&self, list: &[BackupHold]) {
        self.count.store(list.len(), Ordering::SeqCst);
        if let Err(e) = self.write_file(list) {
            tracing::warn!(
                "could not write file \"{}\": {e}; backup holds are kept in memory only",
                self.path.display()
            );
        }
    }

    fn write_file(&self, list: &[BackupHold]) -> std::io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        if list.is_empty() {
            match fs::remove_file(&self.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            }
        } else {
            let tmp = self.path.with_extension("tmp");
            let mut f = fs::File::create(&tmp)?;
            f.write_all(render(list).as_bytes())?;
            if self.fsync {
                f.sync_all()?;
            }
            drop(f);
            fs::rename(&tmp, &self.path)?;
        }
        if self.fsync {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

/// The holds file's text for `list`.
fn render(list: &[BackupHold]) -> String {
    let mut s = format!("{HOLDS_HEADER}\n");
    for h in list {
        s.push_str(&format!(
            "{} {} {} {} {}\n",
            h.lsn, h.keep_from, h.timeline, h.created, h.streamed_to
        ));
    }
    s
}

/// Parses the holds file; `None` when it is not one.
fn parse(text: &str) -> Option<Vec<BackupHold>> {
    let mut lines = text.lines();
    if lines.next()? != HOLDS_HEADER {
        return None;
    }
    let mut out = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let mut f = line.split_ascii_whitespace();
        let lsn: Lsn = f.next()?.parse().ok()?;
        let keep_from: Lsn = f.next()?.parse().ok()?;
        let timeline: u32 = f.next()?.parse().ok()?;
        let created: i64 = f.next()?.parse().ok()?;
        // Written by tusk since the fifth field exists; a file of four fields is read
        // as a backup whose WAL stream went no further than its end.
        let streamed_to: Lsn = match f.next() {
            Some(t) => t.parse().ok()?,
            None => lsn,
        };
        if f.next().is_some() {
            return None;
        }
        out.push(BackupHold {
            lsn,
            keep_from,
            streamed_to,
            timeline,
            created,
            seq: 0,
        });
    }
    Some(out)
}

/// Whether a standby stream that began with hold token `token` at `start` and has
/// flushed up to `flush` (with a valid replay position, checked by the caller) got past
/// hold `h`: the hold existed when the stream began, the stream began between the
/// backup's start segment and the segment after the furthest of its end and of its own
/// WAL stream (where the standby of that backup starts: the segment where its copied
/// `pg_wal` ends, which `pg_basebackup -Xs` may have carried past the backup's end while
/// the primary was busy, or the next one after a segment switch), and the flush position
/// reached the hold's LSN.
fn releases(h: &BackupHold, token: u64, start: Lsn, flush: Lsn, seg: u64) -> bool {
    let start_seg = start.segno(seg);
    let last_seg = h.lsn.max(h.streamed_to).segno(seg) + 1;
    h.seq <= token
        && (h.keep_from.segno(seg)..=last_seg).contains(&start_seg)
        && flush.is_valid()
        && flush >= h.lsn
}

/// Whether a stream without replay position that began at `start` and sent WAL up to
/// `sent` is taken for the WAL stream of hold `h`'s backup and went at least as far as
/// the hold knew: it began inside the backup (between its start and end segments) and
/// sent up to `h.streamed_to` or further.
fn extends(h: &BackupHold, start: Lsn, sent: Lsn, seg: u64) -> bool {
    let inside = (h.keep_from.segno(seg)..=h.lsn.segno(seg)).contains(&start.segno(seg));
    inside && sent >= h.streamed_to
}

/// Which holds a checkpoint drops: those below the `max_slot_wal_keep_size` cutoff and
/// those older than [`HOLD_MAX_AGE`] at `now` (Unix seconds). Returns the kept and the
/// dropped holds, each dropped one with the reason for its LOG line.
fn sweep(
    list: &[BackupHold],
    cutoff: Option<Lsn>,
    now: i64,
) -> (Vec<BackupHold>, Vec<(BackupHold, &'static str)>) {
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for h in list {
        if cutoff.is_some_and(|c| h.keep_from < c) {
            dropped.push((*h, "size"));
        } else if now.saturating_sub(h.created) > HOLD_MAX_AGE.as_secs() as i64 {
            dropped.push((*h, "age"));
        } else {
            kept.push(*h);
        }
    }
    (kept, dropped)
}

impl Engine {
    /// Records a backup hold for a base backup that started at `start` (its redo LSN)
    /// and just stopped at `end`, and writes the holds file; logs the segment kept.
    pub fn add_backup_hold(&self, start: Lsn, end: Lsn) {
        let seg = self.opts.wal_segment_size;
        let hold = BackupHold {
            lsn: end,
            keep_from: start.min(end),
            streamed_to: end,
            // A standby's pg_control keeps the timeline it started on; its WAL is on
            // the timeline replay is on.
            timeline: if self.in_recovery() {
                self.standby_flush_lsn().1
            } else {
                self.timeline()
            },
            created: chrono::Utc::now().timestamp(),
            seq: self.holds.seq.fetch_add(1, Ordering::SeqCst) + 1,
        };
        let mut list = self.holds.lock();
        list.push(hold);
        self.holds.persist(&list);
        tracing::info!(
            "keeping WAL from segment {} for the standby of a base backup ending at {}",
            segment_file_name(hold.timeline, hold.keep_from.segno(seg), seg),
            end
        );
    }

    /// The backup holds in force, oldest first (for `tusk_wal_holds` and tests).
    pub fn backup_holds(&self) -> Vec<BackupHold> {
        let mut v = self.holds.lock().clone();
        v.sort_by_key(|h| h.lsn);
        v
    }

    /// The WAL file name of the first segment `h` keeps (`tusk_wal_holds.wal_file`).
    pub fn backup_hold_file_name(&self, h: &BackupHold) -> String {
        let seg = self.opts.wal_segment_size.max(1);
        segment_file_name(h.timeline, h.keep_from.segno(seg), seg)
    }

    /// Drops the backup hold at `lsn` on an operator's request
    /// (`tusk_release_wal_hold`); true when there was one.
    pub fn release_backup_hold(&self, lsn: Lsn) -> bool {
        let mut list = self.holds.lock();
        let before = list.len();
        list.retain(|h| h.lsn != lsn);
        if list.len() == before {
            return false;
        }
        self.holds.persist(&list);
        tracing::info!("released backup hold at {lsn} by request");
        true
    }

    /// Whether any backup hold exists (cheap; walsenders ask before looking closer).
    pub fn has_backup_holds(&self) -> bool {
        self.holds.count.load(Ordering::SeqCst) > 0
    }

    /// A token for a stream that starts now: the holds it may release are those made
    /// before this call (see [`Engine::standby_streamed_past`]).
    pub fn backup_hold_token(&self) -> u64 {
        self.holds.seq.load(Ordering::SeqCst)
    }

    /// A standby streaming since `token` (from [`Engine::backup_hold_token`]), which
    /// started at `start`, reports WAL flushed up to `flush` and replayed up to
    /// `replay`: releases every hold it has got past (see the module essay for the
    /// rule). Cheap when there is no hold.
    pub fn standby_streamed_past(&self, token: u64, start: Lsn, flush: Lsn, replay: Lsn) {
        if self.holds.count.load(Ordering::SeqCst) == 0 || !replay.is_valid() {
            return;
        }
        let seg = self.opts.wal_segment_size.max(1);
        let mut list = self.holds.lock();
        let before = list.len();
        list.retain(|h| {
            let passed = releases(h, token, start, flush, seg);
            if passed {
                tracing::info!(
                    "released backup hold at {}: a standby streamed past it (flushed up to {})",
                    h.lsn,
                    flush
                );
            }
            !passed
        });
        if list.len() != before {
            self.holds.persist(&list);
        }
    }

    /// A stream that reported no replay position (`pg_basebackup -Xs`, `pg_receivewal`)
    /// ended after sending WAL up to `sent`; it began at `start`. When it began inside
    /// a backup that has ended (`start` between the backup's start and end segments),
    /// it is taken for that backup's WAL stream: the standby made from the backup
    /// starts streaming no later than `sent`'s segment (or the next), so the hold's
    /// release window reaches that far. (The stream's own start may come before or
    /// after the backup's end: `pg_basebackup` starts it on a connection of its own.)
    pub fn backup_stream_ended(&self, start: Lsn, sent: Lsn) {
        if self.holds.count.load(Ordering::SeqCst) == 0 {
            return;
        }
        let seg = self.opts.wal_segment_size.max(1);
        let mut list = self.holds.lock();
        let mut changed = false;
        for h in list.iter_mut() {
            if extends(h, start, sent, seg) {
                h.streamed_to = sent;
                changed = true;
                tracing::info!(
                    "the WAL stream of the base backup ending at {} went up to {sent}",
                    h.lsn
                );
            }
        }
        if changed {
            self.holds.persist(&list);
        }
    }

    /// The oldest WAL segment that may be kept given the backup holds: `keep` lowered to
    /// the oldest hold's segment, after dropping (with a LOG line) the holds past
    /// `max_slot_wal_keep_size` or older than [`HOLD_MAX_AGE`]. Used by
    /// `remove_old_wal` at every checkpoint and restartpoint.
    pub(super) fn backup_hold_keep_floor(
        &self,
        r: &WalRetention,
        s: &CheckpointSettings,
        keep: u64,
    ) -> u64 {
        if self.holds.count.load(Ordering::SeqCst) == 0 {
            return keep;
        }
        let seg = self.opts.wal_segment_size.max(1);
        let cutoff = slot_invalidation_cutoff(r, s.max_slot_wal_keep_size);
        let mut list = self.holds.lock();
        let (kept, dropped) = sweep(&list, cutoff, chrono::Utc::now().timestamp());
        for (h, why) in &dropped {
            match *why {
                "size" => tracing::info!(
                    "releasing backup hold at {} because it exceeds max_slot_wal_keep_size",
                    h.lsn
                ),
                _ => tracing::info!(
                    "releasing backup hold at {} because no standby streamed past it within {} hours",
                    h.lsn,
                    HOLD_MAX_AGE.as_secs() / 3600
                ),
            }
        }
        if !dropped.is_empty() {
            *list = kept;
            self.holds.persist(&list);
        }
        match list.iter().map(|h| h.keep_from.segno(seg)).min() {
            Some(s) => keep.min(s),
            None => keep,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(lsn: u64, created: i64) -> BackupHold {
        BackupHold {
            lsn: Lsn(lsn),
            keep_from: Lsn(lsn),
            streamed_to: Lsn(lsn),
            timeline: 1,
            created,
            seq: 0,
        }
    }

    #[test]
    fn file_round_trips_and_rejects_garbage() {
        let list = vec![hold(0x5000028, 1_700_000_000), hold(0x1_0000_0000, 5)];
        let text = render(&list);
        assert!(
            text.starts_with("tusk backup holds 1\n0/5000028 0/5000028 1 1700000000 0/5000028\n")
        );
        assert_eq!(parse(&text), Some(list));
        // A file of four fields (before the stream's end was kept): streamed to its end.
        assert_eq!(
            parse("tusk backup holds 1\n0/5000028 0/5000000 1 5\n"),
            Some(vec![BackupHold {
                keep_from: Lsn(0x5000000),
                ..hold(0x5000028, 5)
            }])
        );
        assert_eq!(parse("tusk backup holds 1\n"), Some(vec![]));
        assert_eq!(parse("something else\n"), None);
        assert_eq!(parse("tusk backup holds 1\n0/5 0/5 x 3\n"), None);
        assert_eq!(parse("tusk backup holds 1\n0/5 0/5 1 3 4\n"), None);
        assert_eq!(parse("tusk backup holds 1\n0/5 0/5 1 3 0/6 4\n"), None);
        assert_eq!(parse("tusk backup holds 1\n0/5 1 3\n"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn only_the_backups_standby_releases_a_hold() {
        const MB: u64 = 1 << 20;
        let h = BackupHold {
            seq: 3,
            keep_from: Lsn(2 * MB + 0x28),
            ..hold(4 * MB + 0x60, 0)
        };
        // Started between the backup's start segment and the one after its end
        // segment, flushed past its end.
        assert!(releases(&h, 3, Lsn(4 * MB), Lsn(4 * MB + 0x60), MB));
        assert!(releases(&h, 9, Lsn(5 * MB), Lsn(6 * MB), MB));
        assert!(releases(&h, 3, Lsn(2 * MB), Lsn(6 * MB), MB));
        // Not yet past it.
        assert!(!releases(&h, 3, Lsn(4 * MB), Lsn(4 * MB + 0x5f), MB));
        assert!(!releases(&h, 3, Lsn(4 * MB), Lsn(0), MB));
        // A stream that began before the hold existed (pg_basebackup's own WAL stream).
        assert!(!releases(&h, 2, Lsn(4 * MB), Lsn(6 * MB), MB));
        // Streams of other standbys: from before the backup, or far after it.
        assert!(!releases(&h, 3, Lsn(MB), Lsn(6 * MB), MB));
        assert!(!releases(&h, 3, Lsn(6 * MB), Lsn(7 * MB), MB));
    }

    #[test]
    fn the_backups_own_stream_widens_the_release_window() {
        const MB: u64 = 1 << 20;
        let made = BackupHold {
            keep_from: Lsn(2 * MB + 0x28),
            seq: 3,
            ..hold(4 * MB + 0x60, 0)
        };
        // pg_basebackup -Xs began at the backup's start segment and sent up to segment
        // 7 while the primary switched segments.
        assert!(extends(&made, Lsn(2 * MB), Lsn(7 * MB + 0x10), MB));
        assert!(extends(&made, Lsn(4 * MB), Lsn(7 * MB + 0x10), MB));
        assert!(extends(&made, Lsn(2 * MB), Lsn(4 * MB + 0x60), MB));
        // Not: streams begun outside the backup, or that sent less than the hold knew.
        assert!(!extends(&made, Lsn(MB), Lsn(7 * MB), MB));
        assert!(!extends(&made, Lsn(5 * MB), Lsn(7 * MB), MB));
        assert!(!extends(&made, Lsn(2 * MB), Lsn(4 * MB + 0x5f), MB));
        // The standby made from it starts where its copied WAL ends, segment 7 (or the
        // next after a switch); before the stream's end was known, that was too far.
        let h = BackupHold {
            streamed_to: Lsn(7 * MB + 0x10),
            ..made
        };
        assert!(!releases(&made, 3, Lsn(7 * MB), Lsn(8 * MB), MB));
        assert!(releases(&h, 3, Lsn(7 * MB), Lsn(8 * MB), MB));
        assert!(releases(&h, 3, Lsn(8 * MB), Lsn(8 * MB), MB));
        assert!(!releases(&h, 3, Lsn(9 * MB), Lsn(10 * MB), MB));
    }

    #[test]
    fn sweep_drops_by_size_and_age() {
        let now = 1_000_000;
        let list = vec![
            hold(3 << 20, now),
            hold(9 << 20, now),
            hold(10 << 20, now - HOLD_MAX_AGE.as_secs() as i64 - 1),
        ];
        let (kept, dropped) = sweep(&list, Some(Lsn(5 << 20)), now);
        assert_eq!(kept, vec![list[1]]);
        assert_eq!(dropped, vec![(list[0], "size"), (list[2], "age")]);
        let (kept, dropped) = sweep(&list[..2], None, now);
        assert_eq!(kept.len(), 2);
        assert!(dropped.is_empty());
    }

    #[test]
    fn persisted_holds_load_back_and_the_empty_file_goes() {
        let dir = std::env::temp_dir().join(format!("tusk-holds-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("global")).unwrap();
        let h = BackupHolds::empty(&dir, true);
        h.persist(&[hold(0x300_0000, 7)]);
        let back = BackupHolds::load(&dir, true);
        assert_eq!(back.lock().clone(), vec![hold(0x300_0000, 7)]);
        assert_eq!(back.count.load(Ordering::SeqCst), 1);
        back.persist(&[]);
        assert!(!dir.join(HOLDS_FILE).exists());
        fs::write(dir.join(HOLDS_FILE), "junk").unwrap();
        assert!(BackupHolds::load(&dir, true).lock().is_empty());
        let _ = fs::remove_dir_all(&dir);
    }
}
