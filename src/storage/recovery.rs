//! The engine side of a standby: opening the cluster in archive recovery, replaying
//! WAL continuously as it arrives in `pg_wal/`, restartpoints, the replay state that
//! SQL functions report (`pg_last_wal_replay_lsn()`, pause/resume…), and ending
//! recovery on a new timeline ([`Engine::end_recovery`]).
//!
//! What it owns: [`RecoveryState`] (a field of [`Engine`]), the [`ReplayCursor`] the
//! replay thread drives, and the `impl Engine` block below.
//!
//! Invariants:
//! - **No WAL is written in recovery.** The engine's WAL writer is opened on an I/O
//!   layer that refuses every write until promotion opens it ([`RecoveryIo`]),
//!   positioned at a segment boundary so that opening it touches no file; the
//!   checkpointer thread is not started, and every checkpoint request (SQL
//!   `CHECKPOINT`, shutdown) becomes a restartpoint.
//! - **A new timeline begins after the last applied record.** [`Engine::end_recovery`]
//!   writes the history file first, then opens the writer on the new timeline at the
//!   end of the last record replay applied (a record a recovery target stopped before
//!   is overwritten), copying the partial segment to the new timeline's name, and only
//!   then lets sessions write.
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
//!    the reader retries from the same position next time — and so does a record
//!    ending in WAL the walreceiver has written but not flushed yet
//!    ([`Engine::set_unflushed_from`]): replay never applies unflushed WAL; at end of
//!    WAL, when the WAL-source loop allows streaming ([`Engine::allow_streaming`]), the position is
//!    published ([`Engine::wal_wanted`]) — the walreceiver streams only from there,
//!    never while local or archived WAL is still unreplayed; a recovery-target check
//!    ([`Engine::replay_checked`]) may stop replay before or after any record;
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
use super::record::{Record, RM_TUSK_HEAP};
use super::wal::io::{SegmentFile, WalIo};
use super::wal::timeline::TimelineEntry;
use super::wal::{Lsn, SyncMethod, WalOptions, WalReader, WalRecord, WalWriter};
use super::{load_store, Engine, EngineOptions};
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
    /// The WAL writer's I/O gate, opened at promotion.
    gate: Mutex<Option<Arc<RecoveryIo>>>,
    /// A promotion was asked for (`pg_promote()`, `tusk ctl promote`, a trigger file).
    promote_requested: AtomicBool,
    /// Whether replay may ask the walreceiver for WAL: the standby's WAL-source loop
    /// sets it when the archive and pg_wal have nothing more.
    streaming_allowed: AtomicBool,
    /// How many restartpoints were written, and the redo LSN of the last one.
    restartpoints: AtomicU64,
    restartpoint_redo: AtomicU64,
    /// Bumped by the walreceiver each time a stream ends (or fails to start).
    stream_ends: AtomicU64,
    /// The timeline history replay follows (newest first), for the walreceiver.
    history: Mutex<Vec<TimelineEntry>>,
    /// Bumped whenever a cascading walsender may have more to send: WAL arrived,
    /// records were replayed, recovery ended.
    progress: tokio::sync::watch::Sender<u64>,
    /// What the walreceiver's current stream flushed, and its timeline (PostgreSQL's
    /// `flushedUpto`/`receivedTLI`); unlike `receive_lsn` it may move back when a new
    /// stream starts at a segment start, so it never names bytes not yet rewritten.
    stream_flush: Mutex<(Lsn, u32)>,
    /// Where the WAL the walreceiver is writing but has not flushed yet begins
    /// (`u64::MAX`: nothing unflushed): replay applies no record ending past it.
    unflushed_from: AtomicU64,
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
            gate: Mutex::new(None),
            promote_requested: AtomicBool::new(false),
            streaming_allowed: AtomicBool::new(true),
            restartpoints: AtomicU64::new(0),
            restartpoint_redo: AtomicU64::new(0),
            stream_ends: AtomicU64::new(0),
            history: Mutex::new(Vec::new()),
            progress: tokio::sync::watch::channel(0).0,
            stream_flush: Mutex::new((Lsn::INVALID, 0)),
            unflushed_from: AtomicU64::new(u64::MAX),
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
    /// (start, end) of the last record replay applied: a record a recovery target
    /// stopped before was read but not applied, and the new timeline begins at the
    /// end of the last applied one.
    applied: Option<(Lsn, Lsn)>,
    /// A recovery target stopped replay (nothing more is replayed).
    target_reached: bool,
}

/// What a recovery-target check sees of a record (PostgreSQL's
/// `recoveryStopsBefore`/`After` look at commits, aborts and restore points).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayProbe {
    /// A transaction's commit record.
    Commit { xid: u32, time: i64 },
    /// `pg_create_restore_point()`'s record.
    RestorePoint { name: String, time: i64 },
    /// Any other record.
    Other,
}

/// Asked before a record is applied (`before` = true) and after: true stops replay
/// there. Arguments: the record's probe, start and end, and `before`.
pub type TargetCheck<'a> = &'a mut dyn FnMut(&ReplayProbe, Lsn, Lsn, bool) -> bool;

impl ReplayCursor {
    /// Whether a recovery target stopped replay.
    pub fn target_reached(&self) -> bool {
        self.target_reached
    }

    /// The start of the last applied record (`redo done at`).
    pub fn applied_start(&self) -> Option<Lsn> {
        self.applied.map(|(s, _)| s)
    }

    /// Where a new timeline would begin now: the end of the last applied record.
    pub fn applied_end(&self) -> Lsn {
        self.applied.map_or(self.position(), |(_, e)| e)
    }

    /// Where the next record is expected (the end of the last one replayed).
    pub fn position(&self) -> Lsn {
        self.reader.end_of_valid()
    }

    /// The checkpoint replay started from.
    pub fn checkpoint(&self) -> Lsn {
        self.checkpoint
    }

    /// Follows timeline history `history` (newest first) from now on: each segment
    /// is read from the timeline that owns it.
    pub fn set_history(&mut self, history: Vec<TimelineEntry>) {
        self.reader.set_history(history);
    }
}

/// The WAL I/O layer of an engine in recovery: every operation is refused until
/// promotion opens the gate, and from then on it is the real layer. The WAL writer of
/// a standby must never write (an attempt fails loudly instead of corrupting the WAL
/// the primary sends); the promoted server writes through the same writer.
pub struct RecoveryIo {
    open: AtomicBool,
    inner: Arc<dyn WalIo>,
}

impl RecoveryIo {
    /// A closed gate in front of `inner`.
    pub fn new(inner: Arc<dyn WalIo>) -> RecoveryIo {
        RecoveryIo {
            open: AtomicBool::new(false),
            inner,
        }
    }

    fn check(&self) -> std::io::Result<&dyn WalIo> {
        if self.open.load(Ordering::SeqCst) {
            Ok(&*self.inner)
        } else {
            Err(refused())
        }
    }
}

impl std::fmt::Debug for RecoveryIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecoveryIo")
            .field("open", &self.open.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

fn refused() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        "cannot write WAL during recovery",
    )
}

impl WalIo for RecoveryIo {
    fn open(&self, path: &Path, method: SyncMethod) -> std::io::Result<Box<dyn SegmentFile>> {
        self.check()?.open(path, method)
    }

    fn create_zeroed(
        &self,
        path: &Path,
        size: u64,
        fsync: bool,
        method: SyncMethod,
    ) -> std::io::Result<Box<dyn SegmentFile>> {
        self.check()?.create_zeroed(path, size, fsync, method)
    }

    fn copy(&self, from: &Path, to: &Path, fsync: bool) -> std::io::Result<()> {
        self.check()?.copy(from, to, fsync)
    }

    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        self.check()?.sync_dir(dir)
    }

    fn replace_file(&self, path: &Path, contents: &[u8], fsync: bool) -> std::io::Result<()> {
        self.check()?.replace_file(path, contents, fsync)
    }
}

/// Marks `.done` every segment file of a timeline older than `new_tli` that has no
/// archive status file yet.
fn mark_old_timelines_done(
    archive: &super::archive_status::ArchiveStatus,
    pg_wal: &Path,
    new_tli: u32,
    seg: u64,
) {
    let Ok(dir) = std::fs::read_dir(pg_wal) else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some((tli, _)) = super::wal::segment::parse_segment_file_name(&name, seg) else {
            continue;
        };
        let status = pg_wal.join("archive_status");
        if tli < new_tli
            && !status.join(format!("{name}.ready")).exists()
            && !status.join(format!("{name}.done")).exists()
        {
            let _ = archive.force_done(&name);
        }
    }
}

/// The recovery-target view of a record.
fn probe_of(rec: &WalRecord) -> ReplayProbe {
    if super::restore_point::is_restore_point(rec.rmid, rec.info) {
        if let Some((time, name)) = super::restore_point::decode_restore_point(&rec.payload) {
            return ReplayProbe::RestorePoint { name, time };
        }
    }
    if (rec.rmid, rec.info) == (Record::Commit { time: 0 }).rmid_info() {
        if let Ok(Record::Commit { time }) = Record::decode(rec.rmid, rec.info, &rec.payload) {
            return ReplayProbe::Commit { xid: rec.xid, time };
        }
    }
    ReplayProbe::Other
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
        Engine::open_recovery(datadir, opts, "entering standby mode")
    }

    /// [`Engine::open_standby`] for standby mode or a targeted archive recovery, which
    /// differ only in their log line here (`mode_line`: `entering standby mode`,
    /// `starting point-in-time recovery to …`, `starting archive recovery`).
    pub fn open_recovery(
        datadir: &Path,
        opts: &EngineOptions,
        mode_line: &str,
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
        tracing::info!("{mode_line}");
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
        let store = load_store(datadir, control.redo)?;
        // The images are decoded in the background, as on a primary (storage::heaps):
        // replay keeps its changes to a table not decoded yet with that table's load,
        // except a delete, which waits for the table (`apply_commit`), and hot-standby
        // readers wait for the tables they read.
        store.heaps.start_loading(super::image_loader_threads());
        let seg = if control.wal_segment_size > 0 {
            control.wal_segment_size as u64
        } else {
            opts.wal_segment_size
        };
        let mut reader =
            WalReader::new(&datadir.join("pg_wal"), seg, control.timeline, control.redo);
        reader.set_system_id(control.system_identifier);
        // A writer that cannot write until promotion, parked at a segment boundary so
        // that opening it touches no file.
        let parked = Lsn((control.redo.0 / seg + 1) * seg);
        let gate = Arc::new(RecoveryIo::new(opts.io.clone()));
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
            gate.clone(),
        )?;
        let cursor = ReplayCursor {
            reader,
            pending: HashMap::new(),
            min_recovery_point: control.min_recovery_point,
            checkpoint: control.checkpoint,
            redo_started: false,
            applied: None,
            target_reached: false,
        };
        control.state = DbState::InArchiveRecovery;
        control.time = chrono::Utc::now().timestamp();
        control.write(datadir, opts.fsync)?;
        let next_xid = (control.next_xid as u32).max(3);
        let engine = Engine::assemble(datadir, opts, seg, wal, control, store, next_xid);
        engine.recovery.active.store(true, Ordering::SeqCst);
        *engine
            .recovery
            .gate
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(gate);
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
        self.recovery.stream_ends.fetch_add(1, Ordering::SeqCst);
        self.notify_wal_arrived();
    }

    /// How many times a stream ended or failed to start (the WAL-source loop goes back
    /// to the archive when this moves).
    pub fn stream_ends(&self) -> u64 {
        self.recovery.stream_ends.load(Ordering::SeqCst)
    }

    /// Publishes the timeline history replay follows (newest first).
    pub fn set_recovery_history(&self, history: Vec<TimelineEntry>) {
        *self
            .recovery
            .history
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = history;
    }

    /// The timeline history replay follows (newest first; empty before the replay
    /// loop published it).
    pub fn recovery_history(&self) -> Vec<TimelineEntry> {
        self.recovery
            .history
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Starts the background checkpointer of a primary (after promotion).
    pub fn start_checkpointer(self: &Arc<Self>) {
        super::checkpointer::spawn(self);
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
        drop(n);
        self.recovery.progress.send_modify(|p| *p += 1);
    }

    /// Wakes a cascading walsender on every change of [`Engine::standby_flush_lsn`]
    /// and at the end of recovery (PostgreSQL's `WalSndWakeup` from the walreceiver
    /// and the startup process).
    pub fn subscribe_standby_progress(&self) -> tokio::sync::watch::Receiver<u64> {
        self.recovery.progress.subscribe()
    }

    /// PostgreSQL's `GetStandbyFlushRecPtr`: how far a cascading walsender may send
    /// WAL, and the timeline replay is on. The end of what replay applied, or what the
    /// walreceiver flushed when that is further and on the same timeline — never WAL
    /// that is neither flushed here nor replayed.
    pub fn standby_flush_lsn(&self) -> (Lsn, u32) {
        let history = self.recovery_history();
        let tli_of = |l: Lsn| {
            super::wal::timeline::timeline_of(&history, l).unwrap_or_else(|| self.timeline())
        };
        let replay = self
            .replay_lsn()
            .unwrap_or_else(|| self.control_file().checkpoint);
        // The timeline of the last replayed record: replay is on a new timeline once
        // it applied a record past the switch point, by when the walreceiver has
        // written the new timeline's segment (PostgreSQL's replayTLI changes when the
        // new timeline's first record is replayed).
        let replay_tli = tli_of(Lsn(replay.0.saturating_sub(1)));
        let (received, received_tli) = *self
            .recovery
            .stream_flush
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if received > replay && received_tli == replay_tli {
            (received, replay_tli)
        } else {
            (replay, replay_tli)
        }
    }

    /// Records what the walreceiver's current stream, on timeline `tli`, has flushed
    /// (see [`Engine::standby_flush_lsn`]), and wakes cascading walsenders.
    pub fn set_stream_flush(&self, lsn: Lsn, tli: u32) {
        *self
            .recovery
            .stream_flush
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = (lsn, tli);
        self.recovery.progress.send_modify(|p| *p += 1);
    }

    /// The walreceiver is about to write WAL from `from` that it has not flushed yet
    /// (`Some`), or has flushed all it wrote (`None`): replay holds back any record
    /// ending past `from` meanwhile, so that it never applies WAL this standby could
    /// lose (PostgreSQL's startup process reads streamed WAL only up to the
    /// walreceiver's flush position). Clear it before waking replay.
    pub fn set_unflushed_from(&self, from: Option<Lsn>) {
        self.recovery
            .unflushed_from
            .store(from.map_or(u64::MAX, |l| l.0), Ordering::SeqCst);
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

    /// Asks for promotion (`pg_promote()`, `tusk ctl promote`, a trigger file): the
    /// standby's replay loop ends recovery once it has replayed what is available.
    pub fn request_promotion(&self) {
        self.recovery
            .promote_requested
            .store(true, Ordering::SeqCst);
        self.notify_wal_arrived();
        self.resume_replay();
    }

    /// Whether a promotion was asked for and has not happened yet.
    pub fn promotion_requested(&self) -> bool {
        self.recovery.promote_requested.load(Ordering::SeqCst) && self.in_recovery()
    }

    /// Lets the walreceiver stream (or not): the standby's WAL-source loop allows it
    /// once the archive and `pg_wal/` have nothing more, PostgreSQL's order.
    pub fn allow_streaming(&self, allowed: bool, from: Option<Lsn>) {
        self.recovery
            .streaming_allowed
            .store(allowed, Ordering::SeqCst);
        match (allowed, from) {
            (true, Some(l)) => self.recovery.wal_wanted.store(l.0.max(1), Ordering::SeqCst),
            (false, _) => self.recovery.wal_wanted.store(0, Ordering::SeqCst),
            _ => {}
        }
    }

    /// How many restartpoints this process wrote, and the redo LSN of the last one
    /// (`archive_cleanup_command` runs after each, with `%r` from that LSN).
    pub fn restartpoints(&self) -> (u64, Lsn) {
        (
            self.recovery.restartpoints.load(Ordering::SeqCst),
            Lsn(self.recovery.restartpoint_redo.load(Ordering::SeqCst)),
        )
    }

    /// Ends recovery (promotion, or the end of a targeted archive recovery): the new
    /// timeline `new_tli`, a child of `old_tli` (the one replay was on), begins where
    /// the last replayed record ends. Writes
    /// `pg_wal/<new_tli>.history` (the parent's history plus one line with `reason`),
    /// copies the partial last segment to the new timeline's name and, when
    /// `archiving`, renames the old one `.partial` and marks both files `.ready`;
    /// opens the WAL writer there, makes pg_control say "in production" on the new
    /// timeline, and lets sessions write. Transactions without a commit record are
    /// dropped. The caller writes the end-of-recovery checkpoint and starts the
    /// background work of a primary. Returns the switch point.
    pub fn end_recovery(
        &self,
        cur: ReplayCursor,
        old_tli: u32,
        new_tli: u32,
        reason: &str,
        archiving: bool,
    ) -> Result<Lsn> {
        let end = cur.applied_end();
        let last = cur
            .applied
            .map(|(s, _)| s)
            .or(cur.reader.last_record())
            .unwrap_or(cur.checkpoint);
        let seg = self.opts.wal_segment_size;
        let pg_wal = self.datadir.join("pg_wal");
        super::wal::timeline::write_history(
            &pg_wal,
            new_tli,
            old_tli,
            end,
            reason,
            self.opts.fsync,
        )?;
        let gate = self
            .recovery
            .gate
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let Some(gate) = gate else {
            crate::bail!(
                crate::error::sqlstate::INTERNAL_ERROR,
                "the WAL writer of this server was not opened for recovery"
            );
        };
        gate.open.store(true, Ordering::SeqCst);
        let c = self.control_file();
        let fresh = WalWriter::open_with_io(
            WalOptions {
                dir: pg_wal.clone(),
                segment_size: seg,
                system_id: c.system_identifier,
                timeline: new_tli,
                fsync: self.opts.fsync,
                sync_method: self.opts.wal_sync_method,
            },
            end,
            last,
            gate,
        )?;
        self.wal.take_over(fresh);
        self.timeline.store(new_tli, Ordering::SeqCst);
        if archiving {
            // The old timeline's WAL is the old primary's to archive: whatever of it
            // has no status yet (it came with the base backup) is marked done, so the
            // new primary archives only its own timeline, the history file and the
            // `.partial` below.
            mark_old_timelines_done(&self.archive, &pg_wal, new_tli, seg);
            let history = super::wal::segment::history_file_name(new_tli);
            let _ = self.archive.notify(&history);
            // The old timeline's last segment, cut at the switch point, is archived as
            // `.partial` (its complete successor is the new timeline's file).
            if !end.0.is_multiple_of(seg) {
                let name = super::wal::segment::segment_file_name(old_tli, end.0 / seg, seg);
                let partial = format!("{name}.partial");
                if std::fs::rename(pg_wal.join(&name), pg_wal.join(&partial)).is_ok() {
                    self.archive.cleanup(&name);
                    let _ = self.archive.notify(&partial);
                }
            }
        }
        {
            let mut procs = self.procs();
            for xid in cur.pending.keys() {
                if *xid >= procs.next_xid {
                    procs.next_xid = xid.wrapping_add(1).max(3);
                }
            }
        }
        {
            let mut control = self.control.lock().unwrap_or_else(|p| p.into_inner());
            control.prev_timeline = old_tli;
            control.timeline = new_tli;
            control.min_recovery_point = Lsn::INVALID;
            control.min_recovery_point_tli = 0;
            control.state = DbState::InProduction;
            control.time = chrono::Utc::now().timestamp();
            control.write(&self.datadir, self.opts.fsync)?;
        }
        self.recovery.wal_wanted.store(0, Ordering::SeqCst);
        self.recovery
            .promote_requested
            .store(false, Ordering::SeqCst);
        self.recovery.active.store(false, Ordering::SeqCst);
        self.catalog_version.fetch_add(1, Ordering::SeqCst);
        // Cascading walsenders end their timeline at the switch point.
        self.recovery.progress.send_modify(|p| *p += 1);
        Ok(end)
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
        self.replay_until(cur, wait, None)
    }

    /// [`Engine::replay_available`], stopping before any record that starts at or
    /// after `stop_at` (the WAL-source loop fetches each new segment from the archive
    /// before replay reads it).
    pub fn replay_until(
        &self,
        cur: &mut ReplayCursor,
        wait: Duration,
        stop_at: Option<Lsn>,
    ) -> Result<usize> {
        self.replay_checked(cur, wait, stop_at, None)
    }

    /// [`Engine::replay_until`] with a recovery-target check around every record;
    /// once it says stop, the cursor is marked [`ReplayCursor::target_reached`] and
    /// nothing more is replayed.
    pub fn replay_checked(
        &self,
        cur: &mut ReplayCursor,
        wait: Duration,
        stop_at: Option<Lsn>,
        mut check: Option<TargetCheck<'_>>,
    ) -> Result<usize> {
        if cur.target_reached {
            return Ok(0);
        }
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
            if stop_at.is_some_and(|s| cur.position() >= s) {
                return Ok(n);
            }
            let unflushed = self.recovery.unflushed_from.load(Ordering::SeqCst);
            cur.reader
                .set_limit((unflushed != u64::MAX).then_some(Lsn(unflushed)));
            let Some(rec) = cur.reader.next_record()? else {
                // Out of valid WAL: from here on it must come from the primary, once
                // the standby's WAL-source loop lets the walreceiver stream.
                self.receipt_clock.ran_dry();
                if self.recovery.streaming_allowed.load(Ordering::SeqCst) {
                    let end = cur.reader.end_of_valid().0.max(1);
                    self.recovery.wal_wanted.store(end, Ordering::SeqCst);
                }
                break;
            };
            self.receipt_clock.record_read();
            let probe = check.as_ref().map(|_| probe_of(&rec));
            if let (Some(f), Some(p)) = (check.as_mut(), probe.as_ref()) {
                if f(p, rec.start, rec.end, true) {
                    cur.target_reached = true;
                    return Ok(n);
                }
            }
            self.replay_record(cur, &rec)?;
            cur.applied = Some((
                rec.start,
                Lsn(self.recovery.replay_end.load(Ordering::SeqCst)).max(rec.end),
            ));
            n += 1;
            if let (Some(f), Some(p)) = (check.as_mut(), probe.as_ref()) {
                if f(p, rec.start, rec.end, false) {
                    cur.target_reached = true;
                    return Ok(n);
                }
            }
        }
        if n > 0 {
            // Replayed WAL may be sent on by cascading walsenders.
            self.recovery.progress.send_modify(|p| *p += 1);
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

    /// Pauses replay at once (a recovery target with `recovery_target_action =
    /// pause`), logs `recovery has paused` with `hint`, and waits until resumed or
    /// stopped.
    pub fn pause_and_wait(&self, hint: &str) {
        *self
            .recovery
            .pause
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = PauseState::Paused;
        crate::logging::log_at("LOG", "recovery has paused", None, Some(hint));
        self.wait_while_paused();
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
                // Standby transactions using a relation this drops or redefines
                // (standby_locks.rs) end first, or are cancelled after the delay.
                // Only catalog records can need that: a commit of row changes alone
                // (nearly every one) skips the catalog look-up and the lock table.
                let ddl = records.iter().any(|r| matches!(r, Record::Catalog(_)));
                let locked = if ddl {
                    self.lock_for_replay(&records, rec)
                } else {
                    Default::default()
                };
                self.apply_commit(rec, records);
                if !locked.is_empty() {
                    self.standby_locks.release_exclusive(&locked);
                }
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
        // A delete needs its version in memory: a table still waiting for its image is
        // waited for here, with the engine lock released, so that hot-standby readers
        // of other tables are not held up meanwhile.
        for r in &records {
            if let Record::Delete { db, rel, .. } = r {
                self.await_heap(*db, *rel);
            }
        }
        let mut st = self.lock();
        // Published before the versions are stamped, under the engine lock (see
        // `Procs::commit_seq`).
        let (seq, oldest) = {
            let mut procs = self.procs();
            procs.commit_seq += 1;
            if rec.xid >= procs.next_xid {
                procs.next_xid = rec.xid.wrapping_add(1).max(3);
            }
            (procs.commit_seq, procs.oldest_snapshot())
        };
        for r in records {
            match r {
                r @ (Record::Insert { .. } | Record::InsertRows { .. }) => {
                    r.put_inserted(&mut st.store, seq);
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
        self.recovery.replay_end.store(rec.end.0, Ordering::SeqCst);
        drop(st);
        if catalog_changed {
            self.catalog_version.fetch_add(1, Ordering::SeqCst);
        }
        self.ends.signal();
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
        // The last replayed checkpoint, read before the snapshot: its redo LSN is
        // at or before everything the snapshot holds, so replay from it brings these
        // images up to date (a checkpoint replayed later could have its redo after the
        // snapshot). It is what pg_control gets below, and the images' stamp.
        let ck = *self
            .recovery
            .last_checkpoint
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let (catalog, seq, replayed) = {
            let st = self.read();
            let catalog = st.store.catalog.clone();
            let seq = self.procs().take_snapshot();
            (
                catalog,
                seq,
                Lsn(self.recovery.replay_end.load(Ordering::SeqCst)),
            )
        };
        let stamp = match ck {
            Some(ck) => ck.redo,
            None => self.control.lock().unwrap_or_else(|p| p.into_inner()).redo,
        };
        let written = self.write_images(&catalog, seq, stamp);
        self.procs().release_snapshot(seq);
        let tables = written?;
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
                control.min_recovery_point_tli = super::wal::timeline::timeline_of(
                    &self.recovery_history(),
                    Lsn(replayed.0 - 1),
                )
                .unwrap_or_else(|| self.timeline());
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
        self.recovery
            .restartpoint_redo
            .store(redo.0, Ordering::SeqCst);
        self.recovery.restartpoints.fetch_add(1, Ordering::SeqCst);
        let removed = self.remove_replayed_wal(redo, replayed);
        if log {
            let total = started.elapsed().as_secs_f64();
            tracing::info!(
                "restartpoint complete: wrote {tables} table images; 0 WAL file(s) added, {removed} removed, 0 recycled; write={total:.3} s, sync=0.000 s, total={total:.3} s"
            );
            let detail = self.last_replay_timestamp().map(|t| {
                format!(
                    "Last completed transaction was at log time {}.",
                    crate::types::format_timestamptz(t, &Default::default())
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

    /// A primary in a new directory with `segment` sized WAL segments, a copy of its
    /// cleanly shut down cluster in another (the standby-to-be), and one table created
    /// on the primary after the copy; returns both directories, the options, the
    /// primary and the table's OID.
    fn primary_with_copy(
        tag: &str,
        segment: u64,
    ) -> (
        std::path::PathBuf,
        std::path::PathBuf,
        EngineOptions,
        Arc<Engine>,
        u32,
    ) {
        let d = crate::testutil::tempdir(&format!("{tag}-primary"));
        let s = crate::testutil::tempdir(&format!("{tag}-standby"));
        crate::testutil::bootstrap(&d, segment);
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
        (d, s, opts, p, oid)
    }

    /// Copies the primary's WAL segment files into the standby's `pg_wal`.
    fn copy_wal(d: &std::path::Path, s: &std::path::Path) {
        for f in std::fs::read_dir(d.join("pg_wal")).unwrap().flatten() {
            if f.file_type().unwrap().is_file() {
                std::fs::copy(f.path(), s.join("pg_wal").join(f.file_name())).unwrap();
            }
        }
    }

    /// A backup whose end is a segment switch (its min recovery point is the switched
    /// segment's end) becomes consistent from its local WAL alone, and replay reports
    /// the segment's end, as PostgreSQL's EndRecPtr after a switch.
    #[test]
    fn a_switch_ends_at_its_segment_end() {
        const MB: u64 = 1024 * 1024;
        let (d, s, opts, p, _) = primary_with_copy("rec-sw", MB);
        let sw = p.switch_wal().unwrap();
        let seg_end = Lsn(sw.0.div_ceil(MB) * MB);
        copy_wal(&d, &s);
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

    /// What a cascading walsender may send (`GetStandbyFlushRecPtr`): replay's end, or
    /// the current stream's flush position when further on replay's timeline; and a
    /// base backup taken from the standby (restartpoint start, `minRecoveryPoint` end).
    #[test]
    fn standby_flush_position_and_backup_from_standby() {
        const MB: u64 = 1024 * 1024;
        let (d, s, opts, p, _) = primary_with_copy("rec-cas", MB);
        copy_wal(&d, &s);
        let (e, mut cur) = Engine::open_standby(&s, &opts).unwrap();
        let mut progress = e.subscribe_standby_progress();
        assert!(e.replay_available(&mut cur, Duration::ZERO).unwrap() >= 1);
        assert!(progress.has_changed().unwrap(), "replay wakes walsenders");
        let replay = e.replay_lsn().unwrap();
        assert_eq!(replay, p.wal_flush_lsn());
        assert_eq!(e.standby_flush_lsn(), (replay, 1));
        // Received and flushed beyond replay on the same timeline: sendable.
        progress.borrow_and_update();
        e.set_stream_flush(replay + 100, 1);
        assert!(progress.has_changed().unwrap());
        assert_eq!(e.standby_flush_lsn(), (replay + 100, 1));
        // A stream of another timeline: only what replay applied.
        e.set_stream_flush(replay + 200, 2);
        assert_eq!(e.standby_flush_lsn(), (replay, 1));
        // Replay follows timeline 2 from `replay` on, but has applied nothing of it
        // yet: it is still on timeline 1.
        e.set_recovery_history(vec![
            TimelineEntry {
                tli: 2,
                begin: replay,
                end: Lsn::INVALID,
            },
            TimelineEntry {
                tli: 1,
                begin: Lsn::INVALID,
                end: replay,
            },
        ]);
        assert_eq!(e.standby_flush_lsn(), (replay, 1));
        e.set_recovery_history(vec![TimelineEntry {
            tli: 1,
            begin: Lsn::INVALID,
            end: Lsn::INVALID,
        }]);

        // A backup from the standby: starts at its restartpoint, writes no WAL, ends
        // at the minimum recovery point, says so in its label.
        let start = e.start_backup(true).unwrap();
        assert!(start.from_standby);
        assert_eq!(start.redo, e.control_file().redo);
        assert!(start.backup_label("x").contains("\nBACKUP FROM: standby\n"));
        let end = e.stop_backup(&start, "x").unwrap();
        assert_eq!(end, e.control_file().min_recovery_point);
        assert_eq!(end, replay);
        drop(start);
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
