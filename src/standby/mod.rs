//! Standby mode: deciding at start-up whether the server is a standby, the checks a
//! hot standby makes, and the two workers of a standby — the replay thread (PostgreSQL's
//! startup process) and the walreceiver task.
//!
//! What it owns: the reading of `standby.signal` / `recovery.signal` / a legacy
//! `recovery.conf` ([`detect`]), the hot-standby parameter check
//! ([`check_hot_standby_parameters`]), which connections a standby refuses
//! ([`connection_refusal`]), and the lifetime of the replay thread ([`start`],
//! [`stop`]). The engine side of replay is `storage/recovery.rs`; the streaming client
//! is [`walreceiver`]; `primary_conninfo` parsing is [`conninfo`].
//!
//! Invariants:
//! - A standby never writes WAL: the engine is opened with `Engine::open_standby`, and
//!   sessions see `transaction_read_only = on` and `in_hot_standby = on`.
//! - Client connections are accepted only once replay is consistent and
//!   `hot_standby` is on; before, PostgreSQL's FATAL 57P03 texts are sent.
//! - Promotion is not implemented: a `promote_trigger_file` that appears is logged
//!   once as not supported and left in place.
//!
//! What it must never do: apply WAL records itself (the engine does), or talk to the
//! primary outside the walreceiver.
//!
//! A standby's start-up, step by step:
//! 1. the postmaster calls [`detect`]: `standby.signal` (or `standby_mode = on` in
//!    recovery.conf, whose settings are applied over postgresql.conf);
//! 2. [`check_hot_standby_parameters`] compares this server's settings with the
//!    primary's as recorded in pg_control;
//! 3. the engine is opened in archive recovery, and [`start`] runs the replay thread,
//!    which logs `consistent recovery state reached at …` and then
//!    `database system is ready to accept read-only connections`;
//! 4. replay first uses every valid record already in `pg_wal/`; only when it finds
//!    no more does the walreceiver task connect to `primary_conninfo` and stream WAL
//!    into `pg_wal/` from the segment where that local WAL ends (PostgreSQL's
//!    WAL-source order), waking replay after every flush; each reconnect waits for
//!    replay to run out again;
//! 5. at shutdown [`stop`] ends the replay thread before the restartpoint is written.

pub mod conninfo;
pub mod target;
pub mod walreceiver;

use crate::config::ServerConfig;
use crate::error::{sqlstate, Error, Result};
use crate::storage::control::ControlFile;
use crate::storage::recovery::{insufficient_parameters, HotStandbyParams, ReplayCursor};
use crate::storage::Engine;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The replay thread of this process, joined by [`stop`].
static REPLAY_THREAD: Mutex<Option<std::thread::JoinHandle<()>>> = Mutex::new(None);

/// Decides whether the data directory asks for standby mode: `standby.signal`, or a
/// legacy `recovery.conf` with `standby_mode = on` (whose settings are then applied to
/// `config`). `recovery.signal` alone asks for targeted archive recovery, which needs
/// `restore_command` and is not supported.
pub fn detect(datadir: &Path, config: &mut ServerConfig) -> Result<bool> {
    let mut standby = datadir.join("standby.signal").exists();
    match crate::config::read_recovery_conf(datadir) {
        Ok(Some(rc)) => {
            config.apply_recovery_conf(datadir, &rc)?;
            standby |= rc.standby_mode;
            if !standby {
                return Err(archive_recovery_unsupported(config));
            }
        }
        Ok(None) => {}
        Err(e) => {
            for l in &e.logs {
                crate::logging::log_at(l.level, &l.message, l.detail.as_deref(), l.hint.as_deref());
            }
            return Err(e.fatal);
        }
    }
    if !standby && datadir.join("recovery.signal").exists() {
        return Err(archive_recovery_unsupported(config));
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
    Ok(standby)
}

fn archive_recovery_unsupported(config: &ServerConfig) -> Error {
    if config.get_str("restore_command").is_empty() {
        Error::fatal(
            sqlstate::INVALID_PARAMETER_VALUE,
            "must specify restore_command when standby mode is not enabled",
        )
    } else {
        Error::fatal(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "archive recovery without standby mode is not supported by this server",
        )
    }
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
/// None when it accepts it.
/// A replication connection to a standby is refused once the standby is
/// consistent: cascading replication is not implemented (the standby's WAL writer is
/// parked and knows nothing of the WAL the walreceiver wrote).
pub fn connection_refusal(
    engine: &Engine,
    config: &ServerConfig,
    replication: bool,
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
    if replication {
        return Some(Error::fatal(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "cascading replication is not supported by this server",
        ));
    }
    None
}

/// Starts the replay thread (and, when `primary_conninfo` is set, the walreceiver
/// task on the current tokio runtime).
pub fn start(
    engine: Arc<Engine>,
    cursor: ReplayCursor,
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
        .spawn(move || replay_loop(e, cursor, &*cfg))
        .map_err(|e| Error::internal(format!("could not start the startup thread: {e}")))?;
    *REPLAY_THREAD.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
    tokio::spawn(walreceiver::run(engine, config, shutdown));
    Ok(())
}

fn replay_loop(
    engine: Arc<Engine>,
    mut cursor: ReplayCursor,
    config: &dyn Fn() -> Arc<ServerConfig>,
) {
    let mut announced = false;
    let mut trigger_logged = false;
    while !engine.replay_stopping() {
        if let Err(e) = engine.replay_available(&mut cursor, Duration::from_millis(200)) {
            if engine.replay_stopping() {
                return;
            }
            // The startup process failed: PostgreSQL's postmaster shuts down.
            crate::logging::log_error(&e.with_severity(crate::error::Severity::Fatal));
            tracing::info!("shutting down due to startup process failure");
            std::process::exit(1);
        }
        if !announced && engine.is_consistent() {
            announced = true;
            if config().get_bool("hot_standby") {
                tracing::info!("database system is ready to accept read-only connections");
            }
        }
        let trigger = config().get_str("promote_trigger_file");
        if !trigger_logged && !trigger.is_empty() && Path::new(&trigger).exists() {
            trigger_logged = true;
            tracing::warn!(
                "promote trigger file \"{trigger}\" found, but promotion is not supported by this server yet"
            );
        }
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
