//! Recovery that goes on after start-up: a standby, or a targeted archive recovery
//! (point-in-time recovery). Deciding at start-up which one the data directory asks
//! for, the checks a hot standby makes, and the two workers — the replay thread
//! (PostgreSQL's startup process) and the walreceiver task — up to the end of recovery
//! (promotion, or a recovery target reached).
//!
//! What it owns: the reading of `standby.signal` / `recovery.signal` / a legacy
//! `recovery.conf` ([`detect`]), the hot-standby parameter check
//! ([`check_hot_standby_parameters`]), which connections a standby refuses
//! ([`connection_refusal`]), the replay thread's WAL-source loop and the end of
//! recovery ([`start`], [`stop`]). The archive side (`restore_command`,
//! `archive_cleanup_command`, `recovery_end_command`) is [`archive`]; recovery targets
//! are [`target`]; the streaming client is [`walreceiver`]; `primary_conninfo` parsing
//! is [`conninfo`]; the frontend connection and client authentication the walreceiver
//! shares with `tusk standby` is [`client`]; `tusk standby` itself (base backup client,
//! configuration, start) is [`bootstrap`]. The engine side of replay and of ending
//! recovery is `storage/recovery.rs`.
//!
//! Invariants:
//! - A server in recovery never writes WAL: the engine is opened with
//!   `Engine::open_recovery`, whose WAL writer refuses every write until promotion, and
//!   sessions see `transaction_read_only = on` and `in_hot_standby = on`.
//! - Client connections are accepted only once replay is consistent and
//!   `hot_standby` is on; before, PostgreSQL's FATAL 57P03 texts are sent.
//! - WAL sources are used in PostgreSQL's order: for each segment, the archive first
//!   (`restore_command`), then `pg_wal/`; only when neither has more does the
//!   walreceiver stream, and when a stream ends the loop goes back to the archive —
//!   round after round, every `wal_retrieve_retry_interval` at most.
//! - Promotion happens only when the current source has run out of WAL, and a new
//!   timeline is always one no history file (in `pg_wal/` or the archive) names yet.
//!
//! What it must never do: apply WAL records itself (the engine does), or talk to the
//! primary outside the walreceiver.
//!
//! A standby's life, step by step:
//! 1. the postmaster calls [`detect`]: `standby.signal` (or `standby_mode = on` in
//!    recovery.conf, whose settings are applied over postgresql.conf, with a LOG line
//!    for each setting both name) asks for standby mode; `recovery.signal` alone for a
//!    targeted archive recovery, which needs `restore_command`;
//! 2. [`check_hot_standby_parameters`] compares this server's settings with the
//!    primary's as recorded in pg_control;
//! 3. the engine is opened in recovery, and [`start`] runs the replay thread: it picks
//!    the target timeline (`recovery_target_timeline`; `latest` probes pg_wal and the
//!    archive for newer history files, and refuses one that forked before the start
//!    checkpoint), logs `consistent recovery state reached at …` and then
//!    `database system is ready to accept read-only connections`;
//! 4. the WAL-source loop: ARCHIVE (restore each new segment, then replay it from
//!    pg_wal) until nothing more comes; then STREAM (the walreceiver streams into
//!    `pg_wal/` from the segment where replay stands, waking replay after every
//!    flush); when the stream ends, back to ARCHIVE. A newer timeline whose history
//!    the walreceiver fetched or the archive holds is followed when it forked at or
//!    after replay's position (`new target timeline is N`);
//! 5. every replayed record passes the recovery target check ([`target`]); reaching
//!    it pauses (resume promotes), promotes or shuts down;
//! 6. a promotion request (`tusk ctl promote`/`pg_ctl promote`, `pg_promote()`,
//!    `promote_trigger_file`/`trigger_file`), or the end of the archive in a targeted
//!    recovery, ends recovery: the walreceiver stops, what it wrote is replayed, the
//!    next free timeline is chosen, and the engine becomes a primary on it (history
//!    file, `.partial`, end-of-recovery checkpoint); signal files go,
//!    `recovery.conf` becomes `recovery.done`, `recovery_end_command` runs;
//! 7. at shutdown [`stop`] ends the replay thread before the restartpoint is written;
//!    after each restartpoint, `archive_cleanup_command` runs with `%r`.

pub mod archive;
pub mod bootstrap;
pub mod client;
pub mod conninfo;
pub mod target;
pub mod walreceiver;

use self::archive::Archive;
use crate::storage::wal::timeline::{read_history, switch_point, timeline_of, TimelineEntry};
use crate::storage::Lsn;
use std::time::Instant;

use crate::config::ServerConfig;
use crate::error::{sqlstate, Error, Result};
use crate::storage::control::ControlFile;
use crate::storage::recovery::{
    insufficient_parameters, HotStandbyParams, ReplayCursor, ReplayProbe,
};
use crate::storage::Engine;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The replay thread of this process, joined by [`stop`].
static REPLAY_THREAD: Mutex<Option<std::thread::JoinHandle<()>>> = Mutex::new(None);

/// What kind of recovery the data directory asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryMode {
    /// `standby.signal` (or `standby_mode = on` in a legacy recovery.conf): recovery
    /// never ends by itself.
    Standby,
    /// `recovery.signal` (or a recovery.conf without standby_mode): targeted archive
    /// recovery, which ends when the target or the end of the archive is reached.
    Archive,
}

/// Decides whether the data directory asks for recovery: `standby.signal`, or a
/// legacy `recovery.conf` with `standby_mode = on` (whose settings are then applied to
/// `config`), asks for standby mode; `recovery.signal` alone, or a recovery.conf
/// without standby_mode, for targeted archive recovery, which needs
/// `restore_command`. Both signal files: standby mode, as PostgreSQL.
pub fn detect(datadir: &Path, config: &mut ServerConfig) -> Result<Option<RecoveryMode>> {
    let mut standby = datadir.join("standby.signal").exists();
    let mut archive = datadir.join("recovery.signal").exists();
    match crate::config::read_recovery_conf(datadir) {
        Ok(Some(rc)) => {
            config.apply_recovery_conf(datadir, &rc)?;
            standby |= rc.standby_mode;
            archive |= !rc.standby_mode;
        }
        Ok(None) => {}
        Err(e) => {
            for l in &e.logs {
                crate::logging::log_at(l.level, &l.message, l.detail.as_deref(), l.hint.as_deref());
            }
            return Err(e.fatal);
        }
    }
    if !standby && archive && config.get_str("restore_command").trim().is_empty() {
        return Err(Error::fatal(
            sqlstate::INVALID_PARAMETER_VALUE,
            "must specify restore_command when standby mode is not enabled",
        ));
    }
    if standby
        && config.get_str("primary_conninfo").is_empty()
        && config.get_str("restore_command").is_empty()
    {
        tracing::warn!("specified neither primary_conninfo nor restore_command");
        crate::logging::log_at(
            "LOG",
            "the database system will periodically poll the pg_wal subdirectory to check for files placed there",
            None,
            None,
        );
    }
    Ok(if standby {
        Some(RecoveryMode::Standby)
    } else if archive {
        Some(RecoveryMode::Archive)
    } else {
        None
    })
}

/// This server's values of the settings a hot standby compares with the primary's
/// (`wal_level` and the two booleans come from the configuration too).
pub fn local_parameters(config: &ServerConfig) -> HotStandbyParams {
    let wal_level = match config.get_str("wal_level").as_str() {
        "minimal" => crate::storage::control::WAL_LEVEL_MINIMAL,
        "logical" => crate::storage::control::WAL_LEVEL_LOGICAL,
        _ => crate::storage::control::WAL_LEVEL_REPLICA,
    };
    HotStandbyParams {
        max_connections: config.get_int("max_connections") as i32,
        max_worker_processes: config.get_int("max_worker_processes") as i32,
        max_wal_senders: config.get_int("max_wal_senders") as i32,
        max_prepared_xacts: config.get_int("max_prepared_transactions") as i32,
        max_locks_per_xact: config.get_int("max_locks_per_transaction") as i32,
        wal_level,
        wal_log_hints: config.get_bool("wal_log_hints"),
        track_commit_timestamp: config.get_bool("track_commit_timestamp"),
    }
}

/// PostgreSQL's check before hot standby: every compared setting must be at least
/// the primary's value recorded in pg_control, otherwise FATAL 22023
/// `recovery aborted because of insufficient parameter settings`.
pub fn check_hot_standby_parameters(config: &ServerConfig, control: &ControlFile) -> Result<()> {
    if !config.get_bool("hot_standby") {
        return Ok(());
    }
    let primary = HotStandbyParams::from_control(control);
    match local_parameters(config).insufficient_for(&primary) {
        Some(detail) => Err(insufficient_parameters(detail)),
        None => Ok(()),
    }
}

/// This server's hot-standby parameters when they differ from the ones recorded in
/// pg_control (a primary checks at start-up), else None. The caller records them once
/// the engine is open with [`Engine::log_parameter_change`]: a parameter-change WAL
/// record (PostgreSQL's `XLOG_PARAMETER_CHANGE`, which a running standby's replay
/// checks), then pg_control (which standbys made later check). In that order, as
/// PostgreSQL: a crash in between leaves pg_control stale and the next start writes
/// the record again.
pub fn changed_parameters(
    datadir: &Path,
    config: &ServerConfig,
) -> Result<Option<HotStandbyParams>> {
    let c = ControlFile::read(datadir)?;
    let want = local_parameters(config);
    if HotStandbyParams::from_control(&c) != want {
        return Ok(Some(want));
    }
    Ok(None)
}

/// Why a standby refuses a new client connection now (PostgreSQL's 57P03 texts), or
/// None when it accepts it. Replication connections follow the same rules (hot
/// standby on and consistent) and then get a cascading walsender, which sends the WAL
/// this standby received or replayed.
pub fn connection_refusal(
    engine: &Engine,
    config: &ServerConfig,
    _replication: bool,
) -> Option<Error> {
    if !engine.in_recovery() {
        return None;
    }
    if !config.get_bool("hot_standby") {
        return Some(
            Error::fatal(
                sqlstate::CANNOT_CONNECT_NOW,
                "the database system is not accepting connections",
            )
            .with_detail("Hot standby mode is disabled."),
        );
    }
    if !engine.is_consistent() {
        return Some(
            Error::fatal(
                sqlstate::CANNOT_CONNECT_NOW,
                "the database system is not yet accepting connections",
            )
            .with_detail("Consistent recovery state has not been yet reached."),
        );
    }
    None
}

/// Starts the replay thread (and, when `primary_conninfo` is set, the walreceiver
/// task on the current tokio runtime). `standby_mode` is false for a targeted archive
/// recovery (`recovery.signal`), which ends by itself when the archive has no more.
pub fn start(
    engine: Arc<Engine>,
    cursor: ReplayCursor,
    standby_mode: bool,
    config: impl Fn() -> Arc<ServerConfig> + Send + Sync + 'static,
    shutdown: tokio::sync::watch::Receiver<crate::server::ShutdownMode>,
) -> Result<()> {
    let config = Arc::new(config);
    if config().get_bool("hot_standby") {
        engine.set_local_parameters(local_parameters(&config()));
    }
    let e = engine.clone();
    let cfg = config.clone();
    let handle = std::thread::Builder::new()
        .name("startup".into())
        .spawn(move || {
            let mut lp = ReplayLoop::new(e.clone(), cursor, standby_mode, &*cfg);
            if let Err(err) = lp.run() {
                if e.replay_stopping() {
                    return;
                }
                // The startup process failed: PostgreSQL's postmaster shuts down.
                crate::logging::log_error(&err.with_severity(crate::error::Severity::Fatal));
                tracing::info!("shutting down due to startup process failure");
                std::process::exit(1);
            }
        })
        .map_err(|e| Error::internal(format!("could not start the startup thread: {e}")))?;
    *REPLAY_THREAD.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
    tokio::spawn(walreceiver::run(engine, config, shutdown));
    Ok(())
}

/// Where replay takes WAL from now (PostgreSQL's `currentSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// restore_command, then pg_wal/, segment by segment.
    Archive,
    /// pg_wal/ as the walreceiver fills it.
    Stream,
}

/// The startup process: replays WAL from the archive, `pg_wal/` and the walreceiver in
/// PostgreSQL's order, follows newer timelines, and ends recovery on promotion.
struct ReplayLoop<'a> {
    engine: Arc<Engine>,
    cursor: Option<ReplayCursor>,
    standby_mode: bool,
    config: &'a dyn Fn() -> Arc<ServerConfig>,
    seg: u64,
    /// The timeline history replay follows (newest first).
    history: Vec<TimelineEntry>,
    source: Source,
    /// The highest segment asked of the archive in this pass.
    tried: Option<u64>,
    /// The walreceiver's stream-end count when streaming was last allowed.
    stream_ends: u64,
    restartpoints_seen: u64,
    announced: bool,
    /// The newest timeline found not to be a child of replay's (logged once).
    refused_timeline: u32,
    /// `ps`: `postgres: startup recovering <segment>` (PostgreSQL's startup process
    /// title), and the title last shown.
    title: Option<crate::proctitle::ProcTitle>,
    titled: String,
    /// Whether a stream has failed since the last `waiting for WAL` line.
    stream_failed: bool,
    /// The recovery target (`recovery_target*` settings), and where it stopped replay.
    target: target::RecoveryTarget,
    stop: Option<target::Stop>,
}

impl<'a> ReplayLoop<'a> {
    fn new(
        engine: Arc<Engine>,
        cursor: ReplayCursor,
        standby_mode: bool,
        config: &'a dyn Fn() -> Arc<ServerConfig>,
    ) -> ReplayLoop<'a> {
        let seg = engine.control_file().wal_segment_size.max(1) as u64;
        let tli = engine.timeline();
        ReplayLoop {
            engine,
            cursor: Some(cursor),
            standby_mode,
            config,
            seg,
            history: vec![TimelineEntry {
                tli,
                begin: Lsn::INVALID,
                end: Lsn::INVALID,
            }],
            source: Source::Archive,
            tried: None,
            stream_ends: 0,
            restartpoints_seen: 0,
            announced: false,
            refused_timeline: 0,
            title: None,
            titled: String::new(),
            stream_failed: false,
            target: target::RecoveryTarget::unset(),
            stop: None,
        }
    }

    /// Replays what is available (up to `stop_at`), checking the recovery target
    /// around every record and holding each commit back for `recovery_min_apply_delay`
    /// (see [`apply_delay`]).
    fn replay(&mut self, wait: Duration, stop_at: Option<Lsn>) -> Result<usize> {
        let engine = self.engine.clone();
        let config = self.config;
        let delaying = (config)().get_int("recovery_min_apply_delay") > 0;
        let cursor = self
            .cursor
            .as_mut()
            .expect("replay cursor present until recovery ends");
        if !self.target.is_set() && !delaying {
            return engine.replay_until(cursor, wait, stop_at);
        }
        let target = &self.target;
        let mut found: Option<target::Stop> = None;
        let probe_engine = engine.clone();
        let mut check = |p: &ReplayProbe, start: Lsn, end: Lsn, before: bool| {
            if before {
                if let ReplayProbe::Commit { time, .. } = p {
                    apply_delay(&probe_engine, config, *time);
                }
            }
            if !target.is_set() {
                return false;
            }
            let ev = match p {
                ReplayProbe::Commit { xid, time } => target::ReplayEvent::Commit {
                    xid: *xid,
                    time: *time,
                    start_lsn: start,
                    end_lsn: end,
                },
                ReplayProbe::RestorePoint { name, time } => target::ReplayEvent::RestorePoint {
                    name,
                    time: *time,
                    start_lsn: start,
                    end_lsn: end,
                },
                ReplayProbe::Other => target::ReplayEvent::Other {
                    start_lsn: start,
                    end_lsn: end,
                },
            };
            let consistent = probe_engine.is_consistent();
            let stop = if before {
                target.stops_before(&ev, consistent)
            } else {
                target.stops_after(&ev, consistent)
            };
            match stop {
                Some(s) => {
                    found = Some(s);
                    true
                }
                None => false,
            }
        };
        let n = engine.replay_checked(cursor, wait, stop_at, Some(&mut check))?;
        if let Some(s) = found {
            tracing::info!("{}", s.log);
            self.stop = Some(s);
        }
        Ok(n)
    }

    /// The recovery target stopped replay: pause (then promote when resumed),
    /// promote, or shut down, as `recovery_target_action` says.
    fn target_reached(&mut self) -> Result<()> {
        let reason = self.target.history_reason(self.stop.as_ref());
        match self.target.action {
            target::TargetAction::Pause => {
                self.engine
                    .pause_and_wait("Execute pg_wal_replay_resume() to promote.");
                if self.engine.replay_stopping() {
                    return Ok(());
                }
                self.promote(&reason, false)
            }
            target::TargetAction::Promote => self.promote(&reason, false),
            target::TargetAction::Shutdown => {
                tracing::info!("shutdown at recovery target");
                // PostgreSQL's startup process exits and the postmaster shuts down;
                // recovery.signal stays, so a restart recovers to the target again.
                unsafe {
                    libc::kill(libc::getpid(), libc::SIGINT);
                }
                Ok(())
            }
        }
    }

    fn archive(&self) -> Archive {
        let c = self.engine.control_file();
        Archive::new(
            self.engine.datadir(),
            &(self.config)(),
            self.seg,
            c.system_identifier,
        )
    }

    fn cursor(&mut self) -> &mut ReplayCursor {
        self.cursor
            .as_mut()
            .expect("replay cursor present until recovery ends")
    }

    fn position(&self) -> Lsn {
        self.cursor.as_ref().map_or(Lsn::INVALID, |c| c.position())
    }

    /// `%r`: the segment of the last restartpoint's redo (or pg_control's).
    fn oldest_needed(&self) -> String {
        let redo = self.engine.last_checkpoint().1;
        let tli = timeline_of(&self.history, redo).unwrap_or(self.engine.timeline());
        archive::oldest_needed(tli, redo, self.seg)
    }

    fn target_timeline(&self) -> u32 {
        self.history.first().map_or(1, |e| e.tli)
    }

    fn set_history(&mut self, history: Vec<TimelineEntry>) {
        self.history = history.clone();
        self.engine.set_recovery_history(history.clone());
        self.cursor().set_history(history);
    }

    fn run(&mut self) -> Result<()> {
        self.target = target::RecoveryTarget::from_config(&(self.config)())?;
        self.choose_target_timeline()?;
        loop {
            if self.engine.replay_stopping() || !self.engine.in_recovery() {
                return Ok(());
            }
            let n = match self.source {
                Source::Archive => self.archive_step()?,
                Source::Stream => self.stream_step()?,
            };
            self.after_replay();
            if self.cursor.as_ref().is_some_and(|c| c.target_reached()) {
                return self.target_reached();
            }
            if n > 0 {
                continue;
            }
            if self.promotion_due() {
                return self.promote("no recovery target specified", true);
            }
        }
    }

    /// Shows `startup <what> <segment of replay's position>` in `ps`.
    fn show_title(&mut self, what: &str) {
        let pos = self.position();
        let tli = timeline_of(&self.history, pos).unwrap_or(self.target_timeline());
        let text = format!(
            "startup {what} {}",
            crate::storage::wal::segment::segment_file_name(tli, pos.0 / self.seg, self.seg)
        );
        if text != self.titled {
            match &self.title {
                Some(t) => t.set(&text),
                None => self.title = Some(crate::proctitle::ProcTitle::new(&text)),
            }
            self.titled = text;
        }
    }

    /// Announces consistency and runs archive_cleanup_command after restartpoints.
    fn after_replay(&mut self) {
        if self.cursor.is_some() {
            self.show_title("recovering");
        }
        if !self.announced && self.engine.is_consistent() {
            self.announced = true;
            if (self.config)().get_bool("hot_standby") {
                tracing::info!("database system is ready to accept read-only connections");
            }
        }
        let (count, redo) = self.engine.restartpoints();
        if count != self.restartpoints_seen {
            self.restartpoints_seen = count;
            let tli = timeline_of(&self.history, redo).unwrap_or(self.engine.timeline());
            self.archive()
                .cleanup(&archive::oldest_needed(tli, redo, self.seg));
        }
    }

    /// One round with the archive as the source: fetch the segment replay is in (once
    /// per pass) and replay up to its end; when neither the archive nor pg_wal has
    /// more, go on to streaming (or end recovery, or wait and try again).
    fn archive_step(&mut self) -> Result<usize> {
        self.engine.allow_streaming(false, None);
        let archive = self.archive();
        let pos = self.position();
        let segno = pos.0 / self.seg;
        if self.tried.is_none_or(|t| segno > t) {
            self.tried = Some(segno);
            self.restore_segment(&archive, segno)?;
        }
        let next_seg = Lsn((segno + 1) * self.seg);
        let n = self.replay(Duration::ZERO, Some(next_seg))?;
        if n > 0 || self.cursor().target_reached() {
            return Ok(n);
        }
        // A record may go on in the next segment.
        if self.tried.is_none_or(|t| segno + 1 > t) {
            self.tried = Some(segno + 1);
            if self.restore_segment(&archive, segno + 1)? {
                return self.replay(Duration::ZERO, Some(next_seg));
            }
        }
        // Nothing more from the archive or pg_wal.
        if self.recovery_target_latest() && self.rescan_latest_timeline(&archive)? {
            self.tried = None;
            return Ok(1);
        }
        if !self.standby_mode {
            if self.target.is_set() {
                return Err(target::target_not_reached());
            }
            return self
                .promote("no recovery target specified", false)
                .map(|_| 0);
        }
        let cfg = (self.config)();
        if !cfg.get_str("primary_conninfo").is_empty() {
            if std::mem::take(&mut self.stream_failed) {
                tracing::info!("waiting for WAL to become available at {pos}");
            }
            self.source = Source::Stream;
            self.stream_ends = self.engine.stream_ends();
            self.engine.allow_streaming(true, Some(pos));
            return Ok(0);
        }
        // Archive only: look again after wal_retrieve_retry_interval.
        self.tried = segno.checked_sub(1);
        self.wait_retry_interval();
        Ok(0)
    }

    /// One round with streaming as the source: replay what the walreceiver wrote; when
    /// a stream ends, go back to the archive (PostgreSQL's loop).
    fn stream_step(&mut self) -> Result<usize> {
        let n = self.replay(Duration::from_millis(200), None)?;
        if n > 0 || self.cursor().target_reached() {
            return Ok(n);
        }
        if self.engine.stream_ends() != self.stream_ends {
            // The walreceiver gave up (or the timeline ended): back to the archive.
            self.stream_ends = self.engine.stream_ends();
            self.stream_failed = true;
            if self.recovery_target_latest() {
                let archive = self.archive();
                self.rescan_latest_timeline(&archive)?;
            }
            if self.archive().can_restore() {
                self.source = Source::Archive;
                let segno = self.position().0 / self.seg;
                self.tried = segno.checked_sub(1);
            } else {
                let pos = self.position();
                self.engine.allow_streaming(true, Some(pos));
            }
        }
        Ok(0)
    }

    fn wait_retry_interval(&self) {
        let retry = Duration::from_millis(
            (self.config)()
                .get_int("wal_retrieve_retry_interval")
                .max(1) as u64,
        );
        let until = Instant::now() + retry;
        while Instant::now() < until {
            if self.engine.replay_stopping() || self.trigger_present() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50).min(retry));
        }
    }

    /// Fetches segment `segno` from the archive, on the newest timeline of the history
    /// that may hold it (PostgreSQL's `XLogFileReadAnyTLI`).
    fn restore_segment(&mut self, archive: &Archive, segno: u64) -> Result<bool> {
        let restored = self.restore_segment_inner(archive, segno);
        // The title goes back to `recovering` at the next replay round.
        self.titled.clear();
        restored
    }

    fn restore_segment_inner(&self, archive: &Archive, segno: u64) -> Result<bool> {
        if !archive.can_restore() {
            return Ok(false);
        }
        let oldest = self.oldest_needed();
        if let Some(t) = &self.title {
            let name = crate::storage::wal::segment::segment_file_name(
                self.history.first().map_or(1, |e| e.tli),
                segno,
                self.seg,
            );
            t.set(&format!("startup waiting for {name}"));
        }
        for e in &self.history {
            if e.begin.is_valid() && segno < e.begin.0 / self.seg {
                continue;
            }
            if archive.restore_segment(e.tli, segno, &oldest)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn recovery_target_latest(&self) -> bool {
        (self.config)()
            .get_str("recovery_target_timeline")
            .eq_ignore_ascii_case("latest")
    }

    /// The timeline to recover to (`recovery_target_timeline`): `latest` probes for
    /// newer history files in pg_wal and the archive; the target must contain the
    /// starting checkpoint in its history.
    fn choose_target_timeline(&mut self) -> Result<()> {
        let cfg = (self.config)();
        let current = self.engine.timeline();
        let archive = self.archive();
        let setting = cfg.get_str("recovery_target_timeline");
        let target = match setting.to_ascii_lowercase().as_str() {
            "current" | "" => current,
            "latest" => newest_timeline(&archive, current)?,
            n => n.parse::<u32>().map_err(|_| {
                Error::fatal(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    format!(
                        "invalid value for parameter \"recovery_target_timeline\": \"{setting}\""
                    ),
                )
            })?,
        };
        if target != current {
            let _ = archive.history_exists(target)?;
        }
        let history = read_history(&self.engine.datadir().join("pg_wal"), target)?;
        let checkpoint = self.cursor().checkpoint();
        let forked = switch_point(&history, current);
        match forked {
            Some(end) if !end.is_valid() || end > checkpoint => {}
            _ => {
                return Err(Error::fatal(
                    sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    format!("requested timeline {target} is not a child of this server's history"),
                )
                .with_detail(format!(
                    "Latest checkpoint is at {checkpoint} on timeline {current}, but in the history of the requested timeline, the server forked off from that timeline at {}.",
                    forked.unwrap_or(Lsn::INVALID)
                )));
            }
        }
        self.set_history(history);
        Ok(())
    }

    /// With `recovery_target_timeline = 'latest'`: whether a newer timeline whose
    /// history contains replay's position appeared (in pg_wal — the walreceiver
    /// fetches it from the primary — or the archive); if so, follow it.
    fn rescan_latest_timeline(&mut self, archive: &Archive) -> Result<bool> {
        let current = self.target_timeline();
        let newest = newest_timeline(archive, current)?;
        if newest == current || newest == self.refused_timeline {
            return Ok(false);
        }
        let history = read_history(&self.engine.datadir().join("pg_wal"), newest)?;
        let pos = self.position();
        match switch_point(&history, current) {
            Some(end) if end.is_valid() && end < pos => {
                self.refused_timeline = newest;
                crate::logging::log_at(
                    "LOG",
                    &format!("new timeline {newest} forked off current database system timeline {current} before current recovery point {pos}"),
                    None,
                    None,
                );
                Ok(false)
            }
            Some(_) => {
                tracing::info!("new target timeline is {newest}");
                self.set_history(history);
                Ok(true)
            }
            None => {
                tracing::info!(
                    "new timeline {newest} is not a child of database system timeline {current}"
                );
                Ok(false)
            }
        }
    }

    /// Whether a promotion trigger is present (does not consume it).
    fn trigger_present(&self) -> bool {
        trigger_present(&self.engine, self.config)
    }

    /// PostgreSQL's `CheckForStandbyTrigger`: a promotion asked for by `pg_promote()`,
    /// the `promote` file (`tusk ctl promote`, `pg_ctl promote`) or the
    /// `promote_trigger_file`; the file is removed.
    fn promotion_due(&self) -> bool {
        if !self.standby_mode {
            return false;
        }
        let promote_file = self.engine.datadir().join("promote");
        let trigger = (self.config)().get_str("promote_trigger_file");
        if promote_file.exists() {
            let _ = std::fs::remove_file(&promote_file);
            tracing::info!("received promote request");
            return true;
        }
        if !trigger.is_empty() && Path::new(&trigger).exists() {
            tracing::info!("promote trigger file found: {trigger}");
            let _ = std::fs::remove_file(&trigger);
            return true;
        }
        if self.engine.promotion_requested() {
            tracing::info!("received promote request");
            return true;
        }
        false
    }

    /// Ends recovery: stops streaming, replays what is left in pg_wal, picks the next
    /// free timeline, and turns this server into a primary.
    /// `drain`: replay what the walreceiver wrote first (a promotion request; not
    /// when a recovery target stopped replay).
    fn promote(&mut self, reason: &str, drain: bool) -> Result<()> {
        self.engine.allow_streaming(false, None);
        self.engine.request_promotion();
        // The walreceiver stops (it watches for the request); then what it wrote is
        // replayed.
        let waited = Instant::now();
        while walreceiver::status().is_some() && waited.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        while drain && self.replay(Duration::ZERO, None)? > 0 {}
        let pos = self.cursor().applied_end();
        let last = self.cursor().applied_start().unwrap_or(pos);
        tracing::info!("redo done at {last}");
        if let Some(t) = self.engine.last_replay_timestamp() {
            tracing::info!(
                "last completed transaction was at log time {}",
                crate::types::format_timestamptz(t, &Default::default())
            );
        }
        let archive = self.archive();
        let old_tli = timeline_of(&self.history, pos).unwrap_or(self.target_timeline());
        let newest = newest_timeline(&archive, self.target_timeline())?;
        let new_tli = newest + 1;
        tracing::info!("selected new timeline ID: {new_tli}");
        let cfg = (self.config)();
        let archiving = cfg.get_str("archive_mode") != "off";
        let cursor = self
            .cursor
            .take()
            .expect("cursor present until recovery ends");
        self.engine
            .end_recovery(cursor, old_tli, new_tli, reason, archiving)?;
        finish_recovery_files(self.engine.datadir());
        archive.recovery_end(&self.oldest_needed())?;
        tracing::info!("archive recovery complete");
        self.title = None;
        self.engine.checkpoint_with_reason("force")?;
        self.engine.start_checkpointer();
        tracing::info!("database system is ready to accept connections");
        Ok(())
    }
}

/// The highest timeline whose history file is in pg_wal or the archive, probing
/// `from + 1`, `from + 2`, … (PostgreSQL's `findNewestTimeLine`).
/// Whether a promotion trigger is present (does not consume it): `pg_promote()`, the
/// `promote` file, or `promote_trigger_file`.
fn trigger_present(engine: &Engine, config: &dyn Fn() -> Arc<ServerConfig>) -> bool {
    if engine.promotion_requested() {
        return true;
    }
    if engine.datadir().join("promote").exists() {
        return true;
    }
    let trigger = config().get_str("promote_trigger_file");
    !trigger.is_empty() && Path::new(&trigger).exists()
}

/// `recovery_min_apply_delay` (a delayed standby), as PostgreSQL's
/// `recoveryApplyDelay`: before a commit record is applied, once the standby is
/// consistent, replay waits until the commit's time on the primary plus the delay.
/// Only commits wait (a transaction's other records are applied with its commit, so
/// its changes appear together, late); the WAL keeps arriving and being flushed
/// meanwhile. The wait ends early on a promotion request (what is left is then applied
/// without delay, as in PostgreSQL) or shutdown, and follows a reloaded delay.
fn apply_delay(engine: &Engine, config: &dyn Fn() -> Arc<ServerConfig>, commit_time: i64) {
    if !engine.is_consistent() {
        return;
    }
    loop {
        let delay_ms = config().get_int("recovery_min_apply_delay");
        let now = crate::types::now_micros();
        let due = commit_time.saturating_add(delay_ms.saturating_mul(1000));
        if delay_ms <= 0 || now >= due || engine.replay_stopping() {
            return;
        }
        if trigger_present(engine, config) {
            return;
        }
        let left = Duration::from_micros((due - now) as u64);
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

fn newest_timeline(archive: &Archive, from: u32) -> Result<u32> {
    let mut newest = from;
    let mut probe = from + 1;
    while archive.history_exists(probe)? {
        newest = probe;
        probe += 1;
    }
    Ok(newest)
}

/// Retires the files that asked for recovery: `standby.signal` and `recovery.signal`
/// are removed, a legacy `recovery.conf` becomes `recovery.done`.
fn finish_recovery_files(datadir: &Path) {
    let _ = std::fs::remove_file(datadir.join("standby.signal"));
    let _ = std::fs::remove_file(datadir.join("recovery.signal"));
    let conf = datadir.join("recovery.conf");
    if conf.exists() {
        let _ = std::fs::rename(&conf, datadir.join("recovery.done"));
    }
}

/// Ends the replay thread and waits for it (at shutdown, before the restartpoint).
pub fn stop(engine: &Engine) {
    engine.stop_replay();
    let handle = REPLAY_THREAD
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    if let Some(h) = handle {
        let _ = h.join();
    }
}
