//! The engine side of a standby: opening the cluster in archive recovery, replaying
//! WAL continuously as it arrives in `pg_wal/`, restartpoints, and the replay state
//! that SQL functions report (`pg_last_wal_replay_lsn()`, pause/resume…).
//!
//! What it owns: [`RecoveryState`] (a field of [`Engine`]), the [`ReplayCursor`] the
//! replay thread drives, and the `impl Engine` block below.
//!
//! Invariants:
//! - **No WAL is written in recovery.** The engine's WAL writer is opened on an I/O
//!   layer that refuses every write ([`ReadOnlyIo`]), positioned at a segment boundary
//!   so that opening it touches no file; the checkpointer thread is not started, and
//!   every checkpoint request (SQL `CHECKPOINT`, shutdown) becomes a restartpoint.
//! - **Readers see commit boundaries.** A replayed transaction's records are buffered
//!   until its COMMIT record, then applied under the state lock with a new commit
//!   sequence number, exactly like a local commit: inserts are stamped `xmin_seq`,
//!   deletes `xmax_seq` (the version is removed at once when no older snapshot can
//!   see it). A statement's snapshot therefore sees every replayed commit up to some
//!   point and nothing after it.
//! - **Restartpoints never get ahead of the WAL they describe.** A restartpoint writes
//!   images of the replayed state as of one snapshot, then pg_control with the last
//!   replayed checkpoint record's (checkpoint, redo) LSNs, state
//!   `in archive recovery` and `minRecoveryPoint` = the replay position of that
//!   snapshot. Replay from the redo LSN is idempotent (see `checkpoint_inner`), and a
//!   restarted standby is consistent only once it has replayed up to
//!   `minRecoveryPoint` again.
//!
//! What it must never do: append WAL, decide where WAL comes from (the walreceiver and
//! `standby/` do), or parse SQL.
//!
//! One record's walk on a standby:
//! 1. the walreceiver writes and flushes bytes into `pg_wal/` and calls
//!    [`Engine::notify_wal_arrived`];
//! 2. the replay thread, waiting in [`Engine::replay_available`], wakes and asks its
//!    `WalReader` for the next record; a record cut short reads as "end of WAL", and
//!    the reader retries from the same position next time; at end of WAL the
//!    position is published ([`Engine::wal_wanted`]) — the walreceiver streams only
//!    from there, never while local WAL is still unreplayed;
//! 3. heap and catalog records are buffered by xid; the COMMIT applies them (above)
//!    and publishes the replay LSN and the commit time;
//! 4. a checkpoint record is remembered for the next restartpoint (taken when
//!    `checkpoint_timeout` has passed since the last one, on `CHECKPOINT` and at
//!    shutdown); a parameter-change record (PostgreSQL's `XLOG_PARAMETER_CHANGE`, or
//!    tusk's own `PARAMETER_CHANGE` that a primary appends at start-up when its
//!    settings differ from pg_control, see [`Engine::log_parameter_change`]) updates
//!    pg_control's copy and is checked against this standby's settings: too low →
//!    WARNING, pause, FATAL when resumed.

use super::control::{ControlFile, DbState};
use super::heap::{Tuple, FROZEN_XID};
use super::record::{Record, RM_TUSK_HEAP};
use super::wal::io::{SegmentFile, WalIo};
use super::wal::{Lsn, SyncMethod, WalOptions, WalReader, WalRecord, WalWriter};
use super::{load_store, release_snapshot, Engine, EngineOptions};
use crate::error::Result;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The xid stamped as `xmax` on versions deleted by replay (never handed out to a
/// local transaction, whose xids start at 3).
const REPLAY_XID: u32 = 1;

/// `pg_get_wal_replay_pause_state()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PauseState {
    /// Replay runs.
    #[default]
    NotPaused,
    /// `pg_wal_replay_pause()` was called; replay stops before its next record.
    PauseRequested,
    /// Replay is stopped.
    Paused,
}

impl PauseState {
    /// The text `pg_get_wal_replay_pause_state()` returns.
    pub fn as_str(self) -> &'static str {
        match self {
            PauseState::NotPaused => "not paused",
            PauseState::PauseRequested => "pause requested",
            PauseState::Paused => "paused",
        }
    }
}

/// A checkpoint record met during replay: where a restartpoint may say replay starts.
#[derive(Debug, Clone, Copy)]
struct ReplayedCheckpoint {
    start: Lsn,
    redo: Lsn,
    next_xid: u32,
}

/// Replay state shared between the replay thread, the walreceiver and sessions.
#[derive(Debug)]
pub struct RecoveryState {
    active: AtomicBool,
    consistent: AtomicBool,
    /// End of the last replayed record (0 = nothing replayed yet).
    replay_end: AtomicU64,
    /// Commit time of the last replayed commit (`i64::MIN` = none).
    last_commit_time: AtomicI64,
    /// The last LSN the walreceiver flushed (0 = never streamed).
    receive_lsn: AtomicU64,
    /// Where replay last found no more valid WAL in `pg_wal/` (0 = it has not run out
    /// since the walreceiver last asked): where streaming must start.
    wal_wanted: AtomicU64,
    pause: Mutex<PauseState>,
    pause_cond: Condvar,
    /// Bumped whenever new WAL may be available.
    arrivals: Mutex<u64>,
    arrival_cond: Condvar,
    last_checkpoint: Mutex<Option<ReplayedCheckpoint>>,
    last_restartpoint: Mutex<Option<Instant>>,
    stop: AtomicBool,
    /// This standby's own hot-standby settings (set by `standby::start`), checked
    /// against every replayed parameter-change record.
    local_params: Mutex<Option<HotStandbyParams>>,
}

impl Default for RecoveryState {
    fn default() -> Self {
        RecoveryState {
            active: AtomicBool::new(false),
            consistent: AtomicBool::new(false),
            replay_end: AtomicU64::new(0),
            last_commit_time: AtomicI64::new(i64::MIN),
            receive_lsn: AtomicU64::new(0),
            wal_wanted: AtomicU64::new(0),
            pause: Mutex::new(PauseState::NotPaused),
            pause_cond: Condvar::new(),
            arrivals: Mutex::new(0),
            arrival_cond: Condvar::new(),
            last_checkpoint: Mutex::new(None),
            last_restartpoint: Mutex::new(None),
            stop: AtomicBool::new(false),
            local_params: Mutex::new(None),
        }
    }
}

/// Where the replay thread is: the WAL reader and the transactions whose COMMIT has
/// not been read yet. Owned by the one thread that replays.
pub struct ReplayCursor {
    reader: WalReader,
    pending: HashMap<u32, Vec<Record>>,
    min_recovery_point: Lsn,
    checkpoint: Lsn,
    redo_started: bool,
}

impl ReplayCursor {
    /// Where the next record is expected (the end of the last one replayed).
    pub fn position(&self) -> Lsn {
        self.reader.end_of_valid()
    }
}

/// A WAL I/O layer that refuses every operation: the WAL writer of an engine in
/// recovery must never write, and an attempt fails loudly instead of corrupting the
/// WAL the primary sends.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadOnlyIo;

fn refused() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        "cannot write WAL during recovery",
    )
}

impl WalIo for ReadOnlyIo {
    fn open(&self, _path: &Path, _method: SyncMethod) -> std::io::Result<Box<dyn SegmentFile>> {
        Err(refused())
    }

    fn create_zeroed(
        &self,
        _path: &Path,
        _size: u64,
        _fsync: bool,
        _method: SyncMethod,
    ) -> std::io::Result<Box<dyn SegmentFile>> {
        Err(refused())
    }

    fn copy(&self, _from: &Path, _to: &Path, _fsync: bool) -> std::io::Result<()> {
        Err(refused())
    }

    fn sync_dir(&self, _dir: &Path) -> std::io::Result<()> {
        Err(refused())
    }

    fn replace_file(&self, _path: &Path, _contents: &[u8], _fsync: bool) -> std::io::Result<()> {
        Err(refused())
    }
}

impl Engine {
    /// Opens the cluster as a standby (archive recovery): loads the last checkpoint's
    /// or restartpoint's images, marks pg_control `in archive recovery`, and returns
    /// the engine (read-only) with the cursor the replay thread drives through
    /// [`Engine::replay_available`]. Nothing is replayed yet.
    pub fn open_standby(
        datadir: &Path,
        opts: &EngineOptions,
    ) -> Result<(Arc<Engine>, ReplayCursor)> {
        let mut control = ControlFile::read(datadir)?;
        let known = super::format_unix_time(control.time);
        match control.state {
            DbState::Shutdowned => tracing::info!("database system was shut down at {known}"),
            DbState::ShutdownedInRecovery => {
                tracing::info!("database system was shut down in recovery at {known}")
            }
            _ => tracing::info!("database system was interrupted; last known up at {known}"),
        }
        tracing::info!("entering standby mode");
        // A base backup (pg_basebackup -R): the backup_label says where redo starts,
        // and the copy is consistent once replay passes the backup's end, which the
        // backup's pg_control carries. Both go into pg_control before the label is
        // retired, so a restart in between starts from the same place.
        if let Some(l) = super::backup::BackupLabel::read(datadir)? {
            tracing::info!(
                "starting backup recovery with redo LSN {}, checkpoint LSN {}, on timeline ID {}",
                l.redo,
                l.checkpoint,
                l.timeline
            );
            control.redo = l.redo;
            control.checkpoint = l.checkpoint;
            if control.backup_end.is_valid() && control.backup_end > control.min_recovery_point {
                control.min_recovery_point = control.backup_end;
                control.min_recovery_point_tli = l.timeline;
            }
            control.backup_start = Lsn::INVALID;
            control.backup_end = Lsn::INVALID;
            control.backup_end_required = false;
            control.state = DbState::InArchiveRecovery;
            control.write(datadir, opts.fsync)?;
            super::backup::BackupLabel::retire(datadir)?;
        }
        let store = load_store(datadir)?;
        let seg = if control.wal_segment_size > 0 {
            control.wal_segment_size as u64
        } else {
            opts.wal_segment_size
        };
        let mut reader =
            WalReader::new(&datadir.join("pg_wal"), seg, control.timeline, control.redo);
        reader.set_system_id(control.system_identifier);
        // A writer that can never write, parked at a segment boundary so that opening
        // it touches no file.
        let parked = Lsn((control.redo.0 / seg + 1) * seg);
        let wal = WalWriter::open_with_io(
            WalOptions {
                dir: datadir.join("pg_wal"),
                segment_size: seg,
                system_id: control.system_identifier,
                timeline: control.timeline,
                fsync: opts.fsync,
                sync_method: opts.wal_sync_method,
            },
            parked,
            control.checkpoint,
            Arc::new(ReadOnlyIo),
        )?;
        let cursor = ReplayCursor {
            reader,
            pending: HashMap::new(),
            min_recovery_point: control.min_recovery_point,
            checkpoint: control.checkpoint,
            redo_started: false,
        };
        control.state = DbState::InArchiveRecovery;
        control.time = chrono::Utc::now().timestamp();
        control.write(datadir, opts.fsync)?;
        let next_xid = (control.next_xid as u32).max(3);
        let engine = Engine::assemble(datadir, opts, seg, wal, control, store, next_xid);
        engine.recovery.active.store(true, Ordering::SeqCst);
        *engine
            .recovery
            .last_restartpoint
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        Ok((Arc::new(engine), cursor))
    }

    /// Whether the engine is a standby in recovery (`pg_is_in_recovery()`).
    pub fn in_recovery(&self) -> bool {
        self.recovery.active.load(Ordering::SeqCst)
    }

    /// Whether replay has reached a consistent state (hot standby may serve reads).
    pub fn is_consistent(&self) -> bool {
        self.recovery.consistent.load(Ordering::SeqCst)
    }

    /// The end of the last replayed record (`pg_last_wal_replay_lsn()`); None when
    /// nothing was replayed.
    pub fn replay_lsn(&self) -> Option<Lsn> {
        match self.recovery.replay_end.load(Ordering::SeqCst) {
            0 => None,
            l => Some(Lsn(l)),
        }
    }

    /// The commit time of the last replayed commit (`pg_last_xact_replay_timestamp()`,
    /// PostgreSQL timestamp microseconds).
    pub fn last_replay_timestamp(&self) -> Option<i64> {
        match self.recovery.last_commit_time.load(Ordering::SeqCst) {
            i64::MIN => None,
            t => Some(t),
        }
    }

    /// Where streaming must start, once replay has used all the valid WAL present in
    /// `pg_wal/`: the end of that WAL (the position of the first missing or invalid
    /// record). None while replay has not yet run out of local WAL since the last
    /// [`Engine::forget_wal_wanted`]. PostgreSQL's startup process likewise requests
    /// streaming only when it finds no more WAL locally.
    pub fn wal_wanted(&self) -> Option<Lsn> {
        match self.recovery.wal_wanted.load(Ordering::SeqCst) {
            0 => None,
            l => Some(Lsn(l)),
        }
    }

    /// Forgets where replay last ran out of WAL (the walreceiver calls this when a
    /// stream ends, so that its next request starts from a fresh position).
    pub fn forget_wal_wanted(&self) {
        self.recovery.wal_wanted.store(0, Ordering::SeqCst);
    }

    /// The last LSN the walreceiver flushed (`pg_last_wal_receive_lsn()`).
    pub fn receive_lsn(&self) -> Option<Lsn> {
        match self.recovery.receive_lsn.load(Ordering::SeqCst) {
            0 => None,
            l => Some(Lsn(l)),
        }
    }

    /// Records that the walreceiver flushed WAL up to `lsn` and wakes replay.
    pub fn set_receive_lsn(&self, lsn: Lsn) {
        self.recovery.receive_lsn.fetch_max(lsn.0, Ordering::SeqCst);
        self.notify_wal_arrived();
    }

    /// Wakes the replay thread: new WAL may be in `pg_wal/`.
    pub fn notify_wal_arrived(&self) {
        let mut n = self
            .recovery
            .arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *n += 1;
        self.recovery.arrival_cond.notify_all();
    }

    /// Sets this standby's own hot-standby settings, which every replayed
    /// parameter-change record is checked against.
    pub fn set_local_parameters(&self, p: HotStandbyParams) {
        *self
            .recovery
            .local_params
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(p);
    }

    /// [F] A replayed parameter-change record: the values go into pg_control's copy,
    /// then the hot-standby check of `check_parameter_change`.
    fn replay_parameter_change(&self, p: &HotStandbyParams) -> Result<()> {
        {
            let mut c = self.control.lock().unwrap_or_else(|p| p.into_inner());
            p.store(&mut c);
        }
        self.check_parameter_change(p)
    }

    /// [F] Appends and flushes a parameter-change record (a primary at start-up, when
    /// its hot-standby settings differ from what pg_control held), so that standbys
    /// streaming from it check their settings against the new values; then records
    /// the values in pg_control (for standbys made from a later base backup).
    pub fn log_parameter_change(&self, p: HotStandbyParams) -> Result<Lsn> {
        let rec = Record::ParameterChange(p);
        let (rmid, info) = rec.rmid_info();
        let (_, end) = self.wal.append(rmid, info, 0, &rec.encode())?;
        self.wal.flush(end)?;
        let mut c = self.control.lock().unwrap_or_else(|p| p.into_inner());
        p.store(&mut c);
        c.write(&self.datadir, self.opts.fsync)?;
        Ok(end)
    }

    /// PostgreSQL's reaction to a parameter-change record the standby's settings do
    /// not satisfy while it serves reads: WARNING, replay pauses, and resuming ends
    /// recovery with FATAL (the returned error).
    fn check_parameter_change(&self, primary: &HotStandbyParams) -> Result<()> {
        let local = *self
            .recovery
            .local_params
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let Some(local) = local else {
            return Ok(());
        };
        let Some(detail) = local.insufficient_for(primary) else {
            return Ok(());
        };
        crate::logging::log_at(
            "WARNING",
            "hot standby is not possible because of insufficient parameter settings",
            Some(&detail),
            None,
        );
        *self
            .recovery
            .pause
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = PauseState::Paused;
        crate::logging::log_at(
            "LOG",
            "recovery has paused",
            Some("If recovery is unpaused, the server will shut down."),
            Some(
                "You can then restart the server after making the necessary configuration changes.",
            ),
        );
        self.wait_while_paused();
        Err(insufficient_parameters(detail))
    }

    /// `pg_wal_replay_pause()`: asks replay to stop before its next record.
    pub fn pause_replay(&self) {
        let mut p = self
            .recovery
            .pause
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if *p == PauseState::NotPaused {
            *p = PauseState::PauseRequested;
        }
        drop(p);
        self.notify_wal_arrived();
    }

    /// `pg_wal_replay_resume()`: lets replay go on.
    pub fn resume_replay(&self) {
        let mut p = self
            .recovery
            .pause
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *p = PauseState::NotPaused;
        self.recovery.pause_cond.notify_all();
    }

    /// `pg_get_wal_replay_pause_state()`.
    pub fn replay_pause_state(&self) -> PauseState {
        *self
            .recovery
            .pause
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Asks the replay thread to return (at shutdown) and wakes it.
    pub fn stop_replay(&self) {
        self.recovery.stop.store(true, Ordering::SeqCst);
        self.notify_wal_arrived();
        self.recovery.pause_cond.notify_all();
    }

    /// Whether [`Engine::stop_replay`] was called.
    pub fn replay_stopping(&self) -> bool {
        self.recovery.stop.load(Ordering::SeqCst)
    }

    /// Replays every record now available, then (when none was) waits up to `wait`
    /// for [`Engine::notify_wal_arrived`]. Returns how many records were replayed.
    /// A requested pause takes effect here, before the next record, and holds until
    /// resumed or stopped.
    pub fn replay_available(&self, cur: &mut ReplayCursor, wait: Duration) -> Result<usize> {
        let seen = *self
            .recovery
            .arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut n = 0;
        loop {
            if self.replay_stopping() {
                return Ok(n);
            }
            self.wait_while_paused();
            let Some(rec) = cur.reader.next_record()? else {
                // Out of valid WAL: from here on it must come from the primary.
                let end = cur.reader.end_of_valid().0.max(1);
                self.recovery.wal_wanted.store(end, Ordering::SeqCst);
                break;
            };
            self.replay_record(cur, &rec)?;
            n += 1;
        }
        if n == 0 {
            let guard = self
                .recovery
                .arrivals
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if *guard == seen {
                let _ = self
                    .recovery
                    .arrival_cond
                    .wait_timeout(guard, wait)
                    .unwrap_or_else(|p| p.into_inner());
            }
        }
        Ok(n)
    }

    fn wait_while_paused(&self) {
        let mut p = self
            .recovery
            .pause
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if *p == PauseState::PauseRequested {
            *p = PauseState::Paused;
            crate::logging::log_at(
                "LOG",
                "recovery has paused",
                None,
                Some("Execute pg_wal_replay_resume() to continue."),
            );
        }
        while *p == PauseState::Paused && !self.replay_stopping() {
            p = self
                .recovery
                .pause_cond
                .wait_timeout(p, Duration::from_millis(200))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn replay_record(&self, cur: &mut ReplayCursor, rec: &WalRecord) -> Result<()> {
        if !cur.redo_started && rec.start != cur.checkpoint {
            tracing::info!("redo starts at {}", rec.start);
            cur.redo_started = true;
        }
        if rec.rmid == RM_XLOG && rec.info & 0xF0 == XLOG_PARAMETER_CHANGE {
            if let Some(p) = HotStandbyParams::decode(&rec.payload) {
                self.replay_parameter_change(&p)?;
            }
        }
        if rec.rmid < RM_TUSK_HEAP {
            // A segment switch ends where its segment ends (PostgreSQL's EndRecPtr):
            // the rest of the segment is padding, and a base backup that stopped with
            // the switch ends exactly there.
            let mut end = rec.end;
            if super::wal::format::is_switch(rec.rmid, rec.info) {
                let seg = self.opts.wal_segment_size.max(1);
                end = Lsn(end.0.div_ceil(seg) * seg);
            }
            self.recovery.replay_end.store(end.0, Ordering::SeqCst);
            self.check_consistency_at(cur, rec.start, end);
            return Ok(());
        }
        match Record::decode(rec.rmid, rec.info, &rec.payload)? {
            Record::Commit { time } => {
                let records = cur.pending.remove(&rec.xid).unwrap_or_default();
                self.apply_commit(rec, records);
                self.recovery.last_commit_time.store(time, Ordering::SeqCst);
            }
            Record::Checkpoint {
                redo,
                next_xid,
                next_oid,
                ..
            } => {
                {
                    let mut st = self.lock();
                    if next_oid > st.store.catalog.next_oid {
                        st.store.catalog.next_oid = next_oid;
                    }
                    self.recovery.replay_end.store(rec.end.0, Ordering::SeqCst);
                }
                *self
                    .recovery
                    .last_checkpoint
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some(ReplayedCheckpoint {
                    start: rec.start,
                    redo: Lsn(redo),
                    next_xid,
                });
                self.check_consistency(cur, rec);
                self.restartpoint_if_due()?;
                return Ok(());
            }
            // [F] tusk's parameter-change record (see record.rs): the same check as
            // PostgreSQL's XLOG_PARAMETER_CHANGE above.
            Record::ParameterChange(p) => {
                self.recovery.replay_end.store(rec.end.0, Ordering::SeqCst);
                self.replay_parameter_change(&p)?;
            }
            other => {
                cur.pending.entry(rec.xid).or_default().push(other);
                self.recovery.replay_end.store(rec.end.0, Ordering::SeqCst);
            }
        }
        self.check_consistency(cur, rec);
        Ok(())
    }

    /// Declares the replayed state consistent once `rec` ends at or past the minimum
    /// recovery point (logging "redo starts" first when the checkpoint record itself
    /// was enough, so the lines come in PostgreSQL's order).
    fn check_consistency(&self, cur: &mut ReplayCursor, rec: &WalRecord) {
        self.check_consistency_at(cur, rec.start, rec.end);
    }

    /// [`Engine::check_consistency`] for a record at `start` whose replay ends at `end`.
    fn check_consistency_at(&self, cur: &mut ReplayCursor, start: Lsn, end: Lsn) {
        if !self.is_consistent() && end >= cur.min_recovery_point {
            if !cur.redo_started {
                tracing::info!("redo starts at {start}");
                cur.redo_started = true;
            }
            self.recovery.consistent.store(true, Ordering::SeqCst);
            tracing::info!("consistent recovery state reached at {end}");
        }
    }

    /// Applies one replayed transaction at its COMMIT, as one new commit sequence
    /// number, and publishes the replay position under the same lock.
    fn apply_commit(&self, rec: &WalRecord, records: Vec<Record>) {
        let mut catalog_changed = false;
        let mut st = self.lock();
        st.commit_seq += 1;
        let seq = st.commit_seq;
        let oldest = st.snapshots.keys().next().copied().unwrap_or(u64::MAX);
        for r in records {
            match r {
                Record::Insert { db, rel, tid, row } => {
                    st.store.heap_mut(db, rel).put(
                        tid,
                        Tuple {
                            xmin: FROZEN_XID,
                            xmin_seq: seq,
                            xmax: 0,
                            xmax_seq: 0,
                            next: 0,
                            row,
                        },
                    );
                }
                Record::Delete { db, rel, tid } => {
                    let heap = st.store.heap_mut(db, rel);
                    let mut dead = false;
                    if oldest >= seq {
                        heap.remove(tid);
                    } else if let Some(t) = heap.tuple_mut(tid) {
                        t.xmax = REPLAY_XID;
                        t.xmax_seq = seq;
                        dead = true;
                        heap.mark_dead(tid);
                    }
                    if dead {
                        st.dead_versions += 1;
                    }
                }
                other @ Record::Catalog(_) => {
                    other.redo(&mut st.store);
                    catalog_changed = true;
                }
                Record::Commit { .. } | Record::Checkpoint { .. } | Record::ParameterChange(_) => {}
            }
        }
        if rec.xid >= st.next_xid {
            st.next_xid = rec.xid.wrapping_add(1).max(3);
        }
        self.recovery.replay_end.store(rec.end.0, Ordering::SeqCst);
        drop(st);
        if catalog_changed {
            self.catalog_version.fetch_add(1, Ordering::SeqCst);
        }
        self.cond.notify_all();
    }

    fn restartpoint_if_due(&self) -> Result<()> {
        let timeout = self.settings().checkpoint_timeout;
        let due = self
            .recovery
            .last_restartpoint
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none_or(|t| t.elapsed() >= timeout);
        if due {
            self.restartpoint(false, "time")?;
        }
        Ok(())
    }

    /// A restartpoint: images of the replayed state as of one snapshot, then
    /// pg_control pointing at the last replayed checkpoint record, with
    /// `minRecoveryPoint` = that snapshot's replay position (see the module notes).
    /// `shutdown` leaves pg_control `shut down in recovery`.
    /// `reason` is the request's flags as `log_checkpoints` shows them.
    pub(super) fn restartpoint(&self, shutdown: bool, reason: &str) -> Result<()> {
        let _one = self
            .checkpoint_mutex
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let log = self.settings().log_checkpoints;
        let started = Instant::now();
        if log {
            tracing::info!("restartpoint starting: {reason}");
        }
        *self
            .recovery
            .last_restartpoint
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        let (catalog, seq, replayed) = {
            let mut st = self.lock();
            let catalog = st.store.catalog.clone();
            let seq = st.commit_seq;
            *st.snapshots.entry(seq).or_default() += 1;
            (
                catalog,
                seq,
                Lsn(self.recovery.replay_end.load(Ordering::SeqCst)),
            )
        };
        let written = self.write_images(&catalog, seq);
        release_snapshot(&mut self.lock(), seq);
        let tables = written?;
        let ck = *self
            .recovery
            .last_checkpoint
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        {
            let mut control = self.control.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(ck) = ck {
                control.checkpoint = ck.start;
                control.redo = ck.redo;
                control.next_xid = ck.next_xid as u64;
            }
            control.next_oid = catalog.next_oid;
            if replayed > control.min_recovery_point {
                control.min_recovery_point = replayed;
                control.min_recovery_point_tli = self.timeline;
            }
            control.time = chrono::Utc::now().timestamp();
            control.checkpoint_time = control.time;
            control.state = if shutdown {
                DbState::ShutdownedInRecovery
            } else {
                DbState::InArchiveRecovery
            };
            control.write(&self.datadir, self.opts.fsync)?;
        }
        let redo = self.control.lock().unwrap_or_else(|p| p.into_inner()).redo;
        let removed = self.remove_replayed_wal(redo, replayed);
        if log {
            let total = started.elapsed().as_secs_f64();
            tracing::info!(
                "restartpoint complete: wrote {tables} table images; 0 WAL file(s) added, {removed} removed, 0 recycled; write={total:.3} s, sync=0.000 s, total={total:.3} s"
            );
            let detail = self.last_replay_timestamp().map(|t| {
                format!(
                    "Last completed transaction was at log time {}.",
                    crate::types::format_timestamptz(t, 0)
                )
            });
            crate::logging::log_at(
                "LOG",
                &format!("recovery restart point at {redo}"),
                detail.as_deref(),
                None,
            );
        }
        self.vacuum_all();
        Ok(())
    }

    /// Removes the segments a restart no longer needs: those before the restartpoint's
    /// redo segment, keeping what `wal_keep_size`, replication slots and running base
    /// backups ask for, and never anything at or after the replay position. Failures
    /// are logged; the files are merely kept. Returns how many files went.
    fn remove_replayed_wal(&self, redo: Lsn, replayed: Lsn) -> usize {
        let settings = self.settings();
        let seg = self.opts.wal_segment_size;
        let mut retention = super::WalRetention {
            redo,
            insert: replayed.max(redo),
            segment_size: seg,
            wal_keep_size: settings.wal_keep_size,
            slot_min: None,
            archive_min_segno: None,
        };
        retention.slot_min = self.slots_min_lsn(&retention, &settings);
        let keep = super::oldest_segment_to_keep(&retention);
        let keep = self.backup_keep_floor(keep).min(redo.0 / seg);
        // With archive_mode = always the standby archives too: keep what it has not
        // archived yet (archive_status.rs).
        let candidates = self.removal_candidates(keep);
        let keep = self
            .archive
            .oldest_unarchived(&candidates, true)
            .map_or(keep, |a| keep.min(a));
        let files = match super::wal::segments_before(&self.datadir.join("pg_wal"), seg, keep) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!("could not remove old WAL segments: {}", e.message);
                return 0;
            }
        };
        let mut n = 0;
        for f in files {
            match std::fs::remove_file(&f) {
                Ok(()) => {
                    n += 1;
                    if let Some(name) = f.file_name().and_then(|n| n.to_str()) {
                        self.archive.cleanup(name);
                    }
                }
                Err(e) => {
                    tracing::warn!("could not remove file \"{}\": {e}", f.display());
                }
            }
        }
        n
    }

    /// The primary's hot-standby parameters as replay last saw them (pg_control, then
    /// parameter-change records).
    pub fn primary_parameters(&self) -> HotStandbyParams {
        HotStandbyParams::from_control(&self.control_file())
    }
}

/// FATAL 22023 `recovery aborted because of insufficient parameter settings`.
pub fn insufficient_parameters(detail: String) -> crate::error::Error {
    crate::error::Error::fatal(
        crate::error::sqlstate::INVALID_PARAMETER_VALUE,
        "recovery aborted because of insufficient parameter settings",
    )
    .with_detail(detail)
    .with_hint("You can restart the server after making the necessary configuration changes.")
}

/// PostgreSQL's resource manager id of XLOG records.
const RM_XLOG: u8 = 0;
/// `XLOG_PARAMETER_CHANGE`.
const XLOG_PARAMETER_CHANGE: u8 = 0x60;

/// The settings a hot standby needs at least at the primary's values (the fields of
/// PostgreSQL's `xl_parameter_change`, also kept in pg_control).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HotStandbyParams {
    /// `max_connections`.
    pub max_connections: i32,
    /// `max_worker_processes`.
    pub max_worker_processes: i32,
    /// `max_wal_senders`.
    pub max_wal_senders: i32,
    /// `max_prepared_transactions`.
    pub max_prepared_xacts: i32,
    /// `max_locks_per_transaction`.
    pub max_locks_per_xact: i32,
    /// `wal_level` (pg_control's numbering).
    pub wal_level: i32,
    /// `wal_log_hints`.
    pub wal_log_hints: bool,
    /// `track_commit_timestamp`.
    pub track_commit_timestamp: bool,
}

impl HotStandbyParams {
    /// The values recorded in pg_control.
    pub fn from_control(c: &ControlFile) -> HotStandbyParams {
        HotStandbyParams {
            max_connections: c.max_connections,
            max_worker_processes: c.max_worker_processes,
            max_wal_senders: c.max_wal_senders,
            max_prepared_xacts: c.max_prepared_xacts,
            max_locks_per_xact: c.max_locks_per_xact,
            wal_level: c.wal_level,
            wal_log_hints: c.wal_log_hints,
            track_commit_timestamp: c.track_commit_timestamp,
        }
    }

    /// Writes the values into pg_control's fields.
    pub fn store(&self, c: &mut ControlFile) {
        c.max_connections = self.max_connections;
        c.max_worker_processes = self.max_worker_processes;
        c.max_wal_senders = self.max_wal_senders;
        c.max_prepared_xacts = self.max_prepared_xacts;
        c.max_locks_per_xact = self.max_locks_per_xact;
        c.wal_level = self.wal_level;
        c.wal_log_hints = self.wal_log_hints;
        c.track_commit_timestamp = self.track_commit_timestamp;
    }

    /// The record's main data: `xl_parameter_change` (six little-endian ints, two
    /// bools, padded to 28 bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(28);
        for v in [
            self.max_connections,
            self.max_worker_processes,
            self.max_wal_senders,
            self.max_prepared_xacts,
            self.max_locks_per_xact,
            self.wal_level,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.push(self.wal_log_hints as u8);
        b.push(self.track_commit_timestamp as u8);
        b.extend_from_slice(&[0, 0]);
        b
    }

    /// Decodes [`HotStandbyParams::encode`]'s bytes (None when too short).
    pub fn decode(b: &[u8]) -> Option<HotStandbyParams> {
        if b.len() < 26 {
            return None;
        }
        let i = |n: usize| i32::from_le_bytes([b[n * 4], b[n * 4 + 1], b[n * 4 + 2], b[n * 4 + 3]]);
        Some(HotStandbyParams {
            max_connections: i(0),
            max_worker_processes: i(1),
            max_wal_senders: i(2),
            max_prepared_xacts: i(3),
            max_locks_per_xact: i(4),
            wal_level: i(5),
            wal_log_hints: b[24] != 0,
            track_commit_timestamp: b[25] != 0,
        })
    }

    /// The DETAIL line for the first setting of `self` (a standby's) below the
    /// primary's, or None when all are high enough.
    pub fn insufficient_for(&self, primary: &HotStandbyParams) -> Option<String> {
        self.checked()
            .iter()
            .zip(primary.checked().iter())
            .find(|((_, mine), (_, theirs))| mine < theirs)
            .map(|((name, mine), (_, theirs))| {
                format!(
                    "{name} = {mine} is a lower setting than on the primary server, where its value was {theirs}."
                )
            })
    }

    /// The (setting name, value) pairs a standby compares with its own settings.
    pub fn checked(&self) -> [(&'static str, i64); 5] {
        [
            ("max_connections", self.max_connections as i64),
            ("max_worker_processes", self.max_worker_processes as i64),
            ("max_wal_senders", self.max_wal_senders as i64),
            ("max_prepared_transactions", self.max_prepared_xacts as i64),
            ("max_locks_per_transaction", self.max_locks_per_xact as i64),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::super::CatalogChange;
    use super::*;
    use crate::types::Value;

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap().flatten() {
            let t = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy_dir(&e.path(), &t);
            } else {
                std::fs::copy(e.path(), &t).unwrap();
            }
        }
    }

    fn ids(e: &Engine, txn: &super::super::Transaction, oid: u32) -> Vec<i32> {
        let mut v: Vec<i32> = e
            .scan(txn, 5, oid)
            .into_iter()
            .map(|(_, r)| match r[0] {
                Value::Int4(i) => i,
                _ => -1,
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn standby_replays_whole_commits_and_never_writes_wal() {
        let d = crate::testutil::tempdir("rec-primary");
        let s = crate::testutil::tempdir("rec-standby");
        crate::testutil::bootstrap(&d, 1024 * 1024);
        let opts = EngineOptions {
            background: false,
            ..EngineOptions::default()
        };
        let p = Engine::open(&d, &opts).unwrap();
        let mut t = p.begin();
        let oid = p.new_oid();
        p.catalog_change(
            &mut t,
            CatalogChange::CreateTable {
                db: 5,
                def: crate::testutil::int_table(oid),
            },
        )
        .unwrap();
        p.commit(t, true).unwrap();
        let mut t = p.begin();
        p.insert(&mut t, 5, oid, vec![Value::Int4(1)]).unwrap();
        p.insert(&mut t, 5, oid, vec![Value::Int4(2)]).unwrap();
        p.commit(t, true).unwrap();
        p.shutdown().unwrap();
        drop(p);
        copy_dir(&d, &s);

        // The primary goes on: one transaction deletes 1 and inserts 3.
        let p = Engine::open(&d, &opts).unwrap();
        let mut t = p.begin();
        let tid1 = p
            .scan(&t, 5, oid)
            .into_iter()
            .find(|(_, r)| r[0] == Value::Int4(1))
            .unwrap()
            .0;
        p.delete(&mut t, 5, oid, tid1).unwrap();
        p.insert(&mut t, 5, oid, vec![Value::Int4(3)]).unwrap();
        p.commit(t, true).unwrap();

        let (e, mut cur) = Engine::open_standby(&s, &opts).unwrap();
        assert!(e.in_recovery());
        assert_eq!(e.replay_available(&mut cur, Duration::ZERO).unwrap(), 1);
        assert!(e.is_consistent());
        let old = e.begin();
        assert_eq!(ids(&e, &old, oid), vec![1, 2]);
        // Ship the primary's WAL; replay applies the transaction as one commit.
        for f in std::fs::read_dir(d.join("pg_wal")).unwrap().flatten() {
            if f.file_type().unwrap().is_file() {
                std::fs::copy(f.path(), s.join("pg_wal").join(f.file_name())).unwrap();
            }
        }
        e.notify_wal_arrived();
        assert!(e.replay_available(&mut cur, Duration::ZERO).unwrap() >= 3);
        assert_eq!(ids(&e, &old, oid), vec![1, 2], "an older snapshot");
        let new = e.begin();
        assert_eq!(ids(&e, &new, oid), vec![2, 3]);
        assert_eq!(e.replay_lsn(), Some(p.wal_flush_lsn()));
        assert!(e.last_replay_timestamp().is_some());

        // Writes fail loudly instead of appending WAL.
        let before = std::fs::read(s.join("pg_wal").join(
            super::super::wal::segment::segment_file_name(
                1,
                p.wal_flush_lsn().0 / (1 << 20),
                1 << 20,
            ),
        ))
        .unwrap();
        let mut w = e.begin();
        e.insert(&mut w, 5, oid, vec![Value::Int4(9)]).unwrap();
        assert!(e.commit(w, true).is_err());
        let after = std::fs::read(s.join("pg_wal").join(
            super::super::wal::segment::segment_file_name(
                1,
                p.wal_flush_lsn().0 / (1 << 20),
                1 << 20,
            ),
        ))
        .unwrap();
        assert!(before == after, "the standby wrote WAL");

        // Pausing stops replay before the next record.
        e.pause_replay();
        assert_eq!(e.replay_pause_state(), PauseState::PauseRequested);
        e.resume_replay();
        assert_eq!(e.replay_pause_state(), PauseState::NotPaused);

        // A restartpoint records where a restart must replay to.
        e.restartpoint(false, "immediate force wait").unwrap();
        let c = ControlFile::read(&s).unwrap();
        assert_eq!(c.state, DbState::InArchiveRecovery);
        assert_eq!(c.min_recovery_point, p.wal_flush_lsn());
        drop(old);
        let _ = std::fs::remove_dir_all(&d);
        let _ = std::fs::remove_dir_all(&s);
    }

    /// A backup whose end is a segment switch (its min recovery point is the switched
    /// segment's end) becomes consistent from its local WAL alone, and replay reports
    /// the segment's end, as PostgreSQL's EndRecPtr after a switch.
    #[test]
    fn a_switch_ends_at_its_segment_end() {
        const MB: u64 = 1024 * 1024;
        let d = crate::testutil::tempdir("rec-sw-primary");
        let s = crate::testutil::tempdir("rec-sw-standby");
        crate::testutil::bootstrap(&d, MB);
        let opts = EngineOptions {
            background: false,
            ..EngineOptions::default()
        };
        let p = Engine::open(&d, &opts).unwrap();
        p.shutdown().unwrap();
        drop(p);
        copy_dir(&d, &s);
        let p = Engine::open(&d, &opts).unwrap();
        let mut t = p.begin();
        let oid = p.new_oid();
        p.catalog_change(
            &mut t,
            CatalogChange::CreateTable {
                db: 5,
                def: crate::testutil::int_table(oid),
            },
        )
        .unwrap();
        p.commit(t, true).unwrap();
        let sw = p.switch_wal().unwrap();
        let seg_end = Lsn(sw.0.div_ceil(MB) * MB);
        for f in std::fs::read_dir(d.join("pg_wal")).unwrap().flatten() {
            if f.file_type().unwrap().is_file() {
                std::fs::copy(f.path(), s.join("pg_wal").join(f.file_name())).unwrap();
            }
        }
        let mut c = ControlFile::read(&s).unwrap();
        c.min_recovery_point = seg_end;
        c.write(&s, false).unwrap();
        let (e, mut cur) = Engine::open_standby(&s, &opts).unwrap();
        assert!(e.replay_available(&mut cur, Duration::ZERO).unwrap() >= 2);
        assert!(e.is_consistent(), "not consistent at {:?}", e.replay_lsn());
        assert_eq!(e.replay_lsn(), Some(seg_end));
        assert_eq!(e.wal_wanted(), Some(seg_end));
        let _ = std::fs::remove_dir_all(&d);
        let _ = std::fs::remove_dir_all(&s);
    }

    #[test]
    fn parameter_change_round_trip() {
        let p = HotStandbyParams {
            max_connections: 100,
            max_worker_processes: 8,
            max_wal_senders: 10,
            max_prepared_xacts: 0,
            max_locks_per_xact: 64,
            wal_level: 1,
            wal_log_hints: false,
            track_commit_timestamp: true,
        };
        let b = p.encode();
        assert_eq!(b.len(), 28);
        assert_eq!(&b[0..4], &100i32.to_le_bytes());
        assert_eq!(HotStandbyParams::decode(&b), Some(p));
        assert_eq!(HotStandbyParams::decode(&b[..20]), None);
        assert_eq!(PauseState::PauseRequested.as_str(), "pause requested");
    }
}
