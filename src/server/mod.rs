//! The server: the only module that touches sockets; it wires everything together.
//!
//! tusk serves each connection on its own OS thread in one process (PostgreSQL forks a
//! process per connection): the thread drives the connection's protocol code on a small
//! single-threaded tokio runtime of its own and runs the session's statements inline, so
//! a query, its commit and its fdatasync never hop between threads (see [`spawn_backend`]).
//! The postmaster's own work (listeners, signals, the WAL writer, shutdown) runs on a
//! multi-threaded runtime. This module owns the listeners, the accept loop, the signal handling of
//! a PostgreSQL postmaster, the registry of live backends (for cancel requests,
//! connection limits and shutdown), and the protocol conversation of each connection.
//!
//! Files:
//! - `mod.rs` (this file): [`run`], the postmaster loop, signals, shutdown modes.
//! - [`listen`]: TCP and Unix listening sockets from the settings.
//! - [`protocol`]: bounds-checked frontend framing; backend messages via `pgwire`.
//! - [`startup`]: first packet, TLS negotiation, pg_hba method exchanges.
//! - [`connection`]: one connection from accept to exit: startup, authorization checks,
//!   then the simple and extended query loops driving a [`crate::sql::Session`].
//! - [`tls`]: the rustls acceptor for `ssl = on`.
//! - [`metrics`]: `metrics_listen_address`, Prometheus metrics over HTTP (`GET /metrics`).
//!
//! A connection, step by step:
//! 1. The accept loop hands the socket to [`connection::serve`] on a new backend thread.
//! 2. The first packet is read; SSLRequest may upgrade the socket to TLS; a
//!    CancelRequest is matched against the backend registry and the socket closed.
//! 3. A slot is taken against `max_connections` (else FATAL 53300 before any
//!    authentication, as PostgreSQL does), the first matching pg_hba line is found and its
//!    method run.
//! 4. Role, database and reserved-slot checks follow AuthenticationOk; then 13
//!    ParameterStatus messages, BackendKeyData and ReadyForQuery.
//! 5. Queries run inline on the backend thread inside the session, which writes every
//!    change to the WAL before it acknowledges a commit (blocking the thread while it
//!    waits for a row lock or for the WAL flush, as a PostgreSQL backend blocks).
//!
//! Signals, as PostgreSQL's postmaster: SIGTERM smart shutdown (wait for sessions to
//! end), SIGINT fast shutdown (terminate sessions, then a shutdown checkpoint), SIGQUIT
//! immediate shutdown (exit without a checkpoint; the next start recovers from the WAL),
//! SIGHUP reloads postgresql.conf, postgresql.auto.conf and pg_hba.conf.
//!
//! What this module must never do: interpret SQL or write data itself. Everything durable
//! goes through [`crate::storage`].

pub mod connection;
pub mod idle_trim;
pub mod listen;
pub mod metrics;
pub mod protocol;
pub mod recv_buffer;
pub mod session_log;
pub mod startup;
pub mod tls;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{watch, Notify};

use crate::cluster::pidfile::PidFile;
use crate::config::hba::HbaFile;
use crate::config::ServerConfig;
use crate::error::{Error, Result};
use crate::storage::{Engine, EngineOptions};

/// A connection's byte stream: TCP, Unix socket, or TLS over TCP.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// What `tusk run` passes to the server.
pub struct RunOptions {
    /// The data directory (absolute).
    pub datadir: PathBuf,
    /// `-c name=value` pairs from the command line, in order.
    pub overrides: Vec<(String, String)>,
    /// The acquired postmaster.pid, updated as the server starts and removed at exit.
    pub pidfile: PidFile,
}

/// How the server is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownMode {
    /// Still running.
    Running,
    /// SIGTERM: no new connections; stop when the last session ends.
    Smart,
    /// SIGINT: end every session now, then a shutdown checkpoint.
    Fast,
    /// SIGQUIT: exit at once, without a checkpoint.
    Immediate,
}

/// A live backend, as the registry knows it.
pub struct BackendEntry {
    /// The BackendKeyData secret a CancelRequest must present.
    pub secret: i32,
    /// Set to cancel the running statement (the session polls it).
    pub cancel: Arc<AtomicBool>,
    /// Set to end the session (pg_terminate_backend, fast shutdown).
    pub terminate: Arc<AtomicBool>,
    /// Woken when `terminate` is set, so an idle session notices at once; also when the
    /// idle sweeper asks for a trim (`idle`).
    pub terminate_notify: Arc<Notify>,
    /// A query backend's idle tracking (idle_trim); `None` for walsenders.
    pub idle: Option<Arc<idle_trim::IdleState>>,
    /// The role the session runs as.
    pub user: String,
    /// The database the session is connected to.
    pub database: String,
    /// Whether the session counts against max_connections (walsenders do not).
    pub counted: bool,
}

/// State shared by the accept loop and every connection.
pub struct Shared {
    /// The data directory.
    pub datadir: PathBuf,
    /// The current server configuration; replaced on SIGHUP (readers clone the Arc).
    pub config: RwLock<Arc<ServerConfig>>,
    /// Bumped on every reload so sessions know to pick up the new configuration.
    pub config_generation: AtomicU64,
    /// `-c` overrides, kept for reloads.
    pub overrides: Vec<(String, String)>,
    /// The current pg_hba.conf; replaced on SIGHUP when the new file parses.
    pub hba: RwLock<Arc<HbaFile>>,
    /// The storage engine.
    pub engine: Arc<Engine>,
    /// The physical replication slots.
    pub slots: Arc<crate::replication::slots::SlotManager>,
    /// The live walsenders (`pg_stat_replication`, max_wal_senders).
    pub walsenders: Arc<crate::replication::walsender::WalSenders>,
    /// Live backends by pid. Lock order: never held across an await or a session call.
    pub backends: Mutex<HashMap<i32, BackendEntry>>,
    /// Number of backends counted against max_connections (slots taken at startup).
    pub active: AtomicUsize,
    /// The next backend pid to hand out.
    pub next_pid: AtomicI32,
    /// The TLS acceptor when `ssl = on`.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Server start time, microseconds since 2000-01-01 UTC (pg_postmaster_start_time).
    pub start_time: i64,
    /// The shutdown state; connections watch it.
    pub shutdown: watch::Sender<ShutdownMode>,
    /// Set when the storage engine broke (a WAL write or fsync failure): sessions are
    /// ended with PostgreSQL's crash message, then the server starts over.
    pub crashed: AtomicBool,
}

impl Shared {
    /// The current configuration.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The current pg_hba.conf.
    pub fn hba(&self) -> Arc<HbaFile> {
        self.hba.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn backends(&self) -> std::sync::MutexGuard<'_, HashMap<i32, BackendEntry>> {
        self.backends.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the cancel flag of `pid` if `secret` matches (CancelRequest).
    pub fn cancel_request(&self, pid: i32, secret: i32) {
        if let Some(b) = self.backends().get(&pid) {
            if b.secret == secret {
                b.cancel.store(true, Ordering::SeqCst);
                self.walsenders.syncrep().wake();
            }
        }
    }

    /// Cancels the running statement of `pid` (pg_cancel_backend).
    pub fn cancel_backend(&self, pid: i32) -> bool {
        match self.backends().get(&pid) {
            Some(b) => {
                b.cancel.store(true, Ordering::SeqCst);
                self.walsenders.syncrep().wake();
                true
            }
            None => false,
        }
    }

    /// Ends the session of `pid` (pg_terminate_backend).
    pub fn terminate_backend(&self, pid: i32) -> bool {
        match self.backends().get(&pid) {
            Some(b) => {
                b.terminate.store(true, Ordering::SeqCst);
                b.cancel.store(true, Ordering::SeqCst);
                b.terminate_notify.notify_one();
                self.walsenders.syncrep().wake();
                true
            }
            None => false,
        }
    }

    /// The error a session ends with: PostgreSQL's crash message after the storage
    /// engine broke, the administrator's otherwise.
    pub fn termination_error(&self) -> Error {
        if self.crashed.load(Ordering::SeqCst) {
            Error::fatal(
                crate::error::sqlstate::CRASH_SHUTDOWN,
                "terminating connection because of crash of another server process",
            )
            .with_detail("The postmaster has commanded this server process to roll back the current transaction and exit, because another server process exited abnormally and possibly corrupted shared memory.")
            .with_hint("In a moment you should be able to reconnect to the database and repeat your command.")
        } else {
            Error::fatal(
                crate::error::sqlstate::ADMIN_SHUTDOWN,
                "terminating connection due to administrator command",
            )
        }
    }

    /// The error backend `pid` ends with: PostgreSQL's recovery-conflict FATAL when a
    /// hot standby's replay terminated it (logged here), else [`Shared::termination_error`].
    pub fn termination_error_of(&self, pid: i32) -> Error {
        match self.engine.standby_locks().take_termination(pid) {
            Some(e) => {
                log_error(&e);
                e
            }
            None => self.termination_error(),
        }
    }

    fn terminate_all(&self) {
        for b in self.backends().values() {
            b.terminate.store(true, Ordering::SeqCst);
            b.cancel.store(true, Ordering::SeqCst);
            b.terminate_notify.notify_one();
        }
        self.walsenders.syncrep().wake();
    }

    /// Re-reads the configuration files and pg_hba.conf (SIGHUP, pg_reload_conf()).
    pub fn reload(&self) {
        tracing::info!("received SIGHUP, reloading configuration files");
        let current = self.config();
        let (new, lines) = current.reload(&self.datadir);
        log_formatted_lines(&lines);
        self.engine
            .set_checkpoint_settings(crate::storage::CheckpointSettings::from_config(&new));
        // The new synchronous standbys apply to the commits waiting now (before any
        // session can show the new value).
        self.walsenders
            .configure_sync(&new.get_str("synchronous_standby_names"));
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(new);
        let hba_path = self.hba_path();
        match HbaFile::load(&hba_path) {
            Ok(h) => *self.hba.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(h),
            Err(e) => {
                tracing::warn!(severity = "LOG", "{}", e.message);
                tracing::warn!(severity = "LOG", "pg_hba.conf was not reloaded");
            }
        }
        self.config_generation.fetch_add(1, Ordering::SeqCst);
        // A changed archive_command is tried at once, as PostgreSQL's archiver does.
        crate::archive::archiver::wake(&self.engine);
    }

    fn hba_path(&self) -> PathBuf {
        let configured = self.config().get_str("hba_file");
        if configured.is_empty() {
            self.datadir.join("pg_hba.conf")
        } else {
            PathBuf::from(configured)
        }
    }
}

/// Logs lines the configuration module formatted as `SEVERITY:  message`, each
/// followed by its own `DETAIL:`/`HINT:` lines, as log records of that severity (the
/// log prefix is added once, by the logger).
fn log_formatted_lines(lines: &[String]) {
    let mut i = 0;
    while i < lines.len() {
        let (severity, message) = lines[i].split_once(":  ").unwrap_or(("LOG", &lines[i]));
        let (mut detail, mut hint) = (None, None);
        while let Some(next) = lines.get(i + 1) {
            if let Some(d) = next.strip_prefix("DETAIL:  ") {
                detail = Some(d);
            } else if let Some(h) = next.strip_prefix("HINT:  ") {
                hint = Some(h);
            } else {
                break;
            }
            i += 1;
        }
        crate::logging::log_at(severity, message, detail, hint);
        i += 1;
    }
}

/// Runs the server until it is shut down; the exit code for `tusk run`.
/// Raises the open-file limit to its hard maximum: every client connection holds a
/// socket in this one process (PostgreSQL spreads them over a process each), so the
/// common soft default of 1024 would refuse connections long before `max_connections
/// = 1000` does.
pub fn raise_open_file_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

pub fn run(opts: RunOptions) -> ExitCode {
    raise_open_file_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(severity = "FATAL", "could not start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let RunOptions {
        datadir,
        overrides,
        mut pidfile,
    } = opts;
    let result = runtime.block_on(postmaster(datadir, overrides, &mut pidfile));
    pidfile.remove();
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(Exit::Shutdown) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            log_error(&e);
            ExitCode::FAILURE
        }
    }
}

/// How the postmaster loop ended (a restart after a crash does not end it: the
/// process image is replaced, see [`reinitialize`]).
enum Exit {
    /// A requested shutdown.
    Shutdown,
    /// The storage engine broke, and restart_after_crash is off or a shutdown was
    /// asked for meanwhile.
    AfterCrash,
}

/// Set in the environment of the image [`reinitialize`] starts, so it does not log
/// the start-up banner again (PostgreSQL's postmaster does not either).
const REINITIALIZED_ENV: &str = "TUSK_REINITIALIZED_AFTER_CRASH";

/// True in an image started by [`reinitialize`]: start-up notices already logged by
/// the first image are not repeated.
pub fn reinitialized() -> bool {
    std::env::var_os(REINITIALIZED_ENV).is_some()
}

/// Ends every session after the storage engine broke, as PostgreSQL's postmaster
/// sends SIGQUIT to its children after one of them PANICs: each gets
/// PostgreSQL's FATAL 57P02 (see [`Shared::crash_error`]); walsenders stop at once.
/// Waits for them briefly (bounded): what is not gone by then goes with the process.
async fn end_sessions_after_crash(shared: &Arc<Shared>) {
    tracing::info!("terminating any other active server processes");
    shared.crashed.store(true, Ordering::SeqCst);
    let _ = shared.shutdown.send(ShutdownMode::Immediate);
    shared.terminate_all();
    let waited = std::time::Instant::now();
    while !shared.backends().is_empty() && waited.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Starts over after a crash the way PostgreSQL's postmaster reinitializes shared
/// memory and runs the startup process: this process replaces its image with a fresh
/// one of the same binary and arguments (same PID, so `pg_ctl` and `postmaster.pid`
/// keep pointing at it), which runs crash recovery from the WAL like any start. No
/// state of the broken engine survives. Returns only on failure.
///
/// The caller has blocked the shutdown signals in this (the main) thread: one sent
/// while the new image starts stays pending through the exec (the mask and pending
/// signals survive it) until [`Signals::register`] has the handlers in place and
/// unblocks them.
fn reinitialize() -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| "tusk".into());
    let mut cmd = std::process::Command::new("/proc/self/exe");
    cmd.arg0(argv0).args(args).env(REINITIALIZED_ENV, "1");
    // A fault armed for the crash suite fires once per server, not once per image.
    cmd.env_remove(crate::storage::wal::fault::FAIL_FSYNC_AFTER);
    cmd.exec()
}

/// Logs an error with its severity, detail and hint, as PostgreSQL's log does.
pub fn log_error(e: &Error) {
    crate::logging::log_error(e);
}

async fn postmaster(
    datadir: PathBuf,
    overrides: Vec<(String, String)>,
    pidfile: &mut PidFile,
) -> Result<Exit> {
    // Signals are caught from here on (a standby's recovery target may ask for a
    // shutdown as soon as replay starts).
    let mut signals = Signals::register()?;
    let mut config = ServerConfig::load(&datadir, &overrides).map_err(config_error)?;
    // Standby mode (standby.signal or a legacy recovery.conf), see `crate::standby`.
    let recovery_mode = crate::standby::detect(&datadir, &mut config)?;
    let standby = recovery_mode.is_some();
    crate::logging::set_line_prefix(&config.get_str("log_line_prefix"));
    if !reinitialized() {
        tracing::info!(
            "starting PostgreSQL 15.0 (tusk {}) on {}-linux, compiled by rustc, 64-bit",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::ARCH
        );
    }
    let port = config.get_int("port") as u16;
    let hba_file = {
        let f = config.get_str("hba_file");
        if f.is_empty() {
            datadir.join("pg_hba.conf")
        } else {
            PathBuf::from(f)
        }
    };
    let hba = HbaFile::load(&hba_file).map_err(|e| {
        log_error(&e);
        Error::fatal(
            crate::error::sqlstate::CONFIG_FILE_ERROR,
            "could not load pg_hba.conf",
        )
    })?;
    let tls = if config.get_bool("ssl") {
        Some(tls::acceptor(&datadir, &config)?)
    } else {
        None
    };

    let tcp = listen::bind_tcp_listeners(&config.get_str("listen_addresses"), port)?;
    let unix = listen::bind_unix_sockets(
        &config.get_str("unix_socket_directories"),
        port,
        config.get_int("unix_socket_permissions") as u32,
        &datadir,
    )?;
    let first_socket_dir = unix
        .first()
        .and_then(|u| u.path.parent().map(|p| p.to_path_buf()));
    let listen_line = config
        .get_str("listen_addresses")
        .split(',')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    pidfile.set_port_and_sockets(port, first_socket_dir.as_deref(), &listen_line)?;

    // [F] Preset settings come from pg_control: wal_segment_size (initdb --wal-segsize)
    // and data_checksums, as PostgreSQL sets them at start-up.
    if let Ok(control) = crate::storage::control::ControlFile::read(&datadir) {
        if control.wal_segment_size > 0 {
            config.set_preset("wal_segment_size", &control.wal_segment_size.to_string())?;
        }
        let checksums = if control.data_checksum_version > 0 {
            "on"
        } else {
            "off"
        };
        config.set_preset("data_checksums", checksums)?;
    }
    let engine_opts = EngineOptions {
        fsync: config.get_bool("fsync"),
        wal_sync_method: config
            .get_str("wal_sync_method")
            .parse()
            .unwrap_or_default(),
        checkpoint: Some(crate::storage::CheckpointSettings::from_config(&config)),
        // The server's engine lives as long as the process (a restart after a crash
        // replaces the process image), so its checkpointer may finish crash recovery.
        defer_recovery_checkpoint: true,
        ..EngineOptions::default()
    };
    let dir = datadir.clone();
    let (engine, replay_cursor) = if standby {
        let control = crate::storage::control::ControlFile::read(&datadir)?;
        crate::standby::check_hot_standby_parameters(&config, &control)?;
        // The recovery target is checked before anything is opened (FATAL on a bad
        // value, as PostgreSQL at start-up).
        let target = crate::standby::target::RecoveryTarget::from_config(&config)?;
        let mode_line = if recovery_mode == Some(crate::standby::RecoveryMode::Standby) {
            "entering standby mode".to_string()
        } else {
            target.describe()
        };
        tokio::task::spawn_blocking(move || Engine::open_recovery(&dir, &engine_opts, &mode_line))
            .await
            .map_err(|e| Error::internal(format!("recovery task failed: {e}")))?
            .map(|(e, c)| (e, Some(c)))?
    } else {
        // [F] The hot-standby parameters travel to standbys in the WAL and pg_control.
        let changed = crate::standby::changed_parameters(&datadir, &config)?;
        let engine = tokio::task::spawn_blocking(move || Engine::open(&dir, &engine_opts))
            .await
            .map_err(|e| Error::internal(format!("recovery task failed: {e}")))??;
        // [F] PostgreSQL's XLOG_PARAMETER_CHANGE: standbys streaming from us learn of
        // the new values from the WAL.
        if let Some(p) = changed {
            engine.log_parameter_change(p)?;
        }
        (engine, None)
    };
    let slots = Arc::new(crate::replication::slots::SlotManager::open(
        &datadir,
        engine.clone(),
    )?);

    let (shutdown_tx, _) = watch::channel(ShutdownMode::Running);
    let shared = Arc::new(Shared {
        datadir: datadir.clone(),
        config: RwLock::new(Arc::new(config)),
        config_generation: AtomicU64::new(0),
        overrides,
        hba: RwLock::new(Arc::new(hba)),
        engine,
        slots,
        walsenders: Arc::new(crate::replication::walsender::WalSenders::new()),
        backends: Mutex::new(HashMap::new()),
        active: AtomicUsize::new(0),
        next_pid: AtomicI32::new(std::process::id() as i32 + 1),
        tls,
        start_time: crate::types::now_micros(),
        shutdown: shutdown_tx,
        crashed: AtomicBool::new(false),
    });
    // A WAL write or fsync failure (PANIC) wakes the loop below at once.
    let engine_broke = Arc::new(Notify::new());
    let notify = engine_broke.clone();
    shared
        .engine
        .on_panic(Box::new(move || notify.notify_one()));

    // Hot standby: replay ends a session idle in a transaction that holds a relation
    // replay must lock, once max_standby_*_delay has passed (storage/standby_locks.rs).
    let weak = Arc::downgrade(&shared);
    shared
        .engine
        .standby_locks()
        .set_signal(Arc::new(move |pid, action| {
            weak.upgrade().is_some_and(|s| match action {
                crate::storage::standby_locks::ConflictAction::Terminate => {
                    s.terminate_backend(pid)
                }
                crate::storage::standby_locks::ConflictAction::Cancel => s.cancel_backend(pid),
            })
        }));

    // Replication slots: a walsender whose slot max_slot_wal_keep_size invalidates is
    // terminated; max_replication_slots and cluster_name (for process titles) with the
    // command-line overrides.
    let weak = Arc::downgrade(&shared);
    shared.slots.set_terminator(Arc::new(move |pid| {
        weak.upgrade().is_some_and(|s| s.terminate_backend(pid))
    }));
    crate::proctitle::set_cluster_name(&shared.config().get_str("cluster_name"));
    shared
        .slots
        .set_max_slots(shared.config().get_int("max_replication_slots").max(0) as usize);
    shared
        .walsenders
        .configure_sync(&shared.config().get_str("synchronous_standby_names"));

    for l in tcp {
        let shared = shared.clone();
        tokio::spawn(async move { accept_tcp(l, shared).await });
    }
    tokio::spawn(idle_trim::sweep(Arc::downgrade(&shared)));
    // Prometheus metrics, when metrics_listen_address is set (a bind failure is a
    // WARNING, not FATAL: see server/metrics.rs).
    metrics::start(&shared);
    let mut unix = unix;
    for u in &mut unix {
        if let Some(listener) = u.listener.take() {
            let shared = shared.clone();
            tokio::spawn(async move { accept_unix(listener, shared).await });
        }
    }
    // WAL archiving: on a primary with archive_mode on/always, on a standby only with
    // always (the archiver checks; it is a no-op otherwise).
    let s = shared.clone();
    crate::archive::archiver::start(
        shared.engine.clone(),
        move || s.config(),
        shared.shutdown.subscribe(),
    )?;
    if let Some(cursor) = replay_cursor {
        // A standby: the replay thread announces read-only readiness itself.
        let s = shared.clone();
        crate::standby::start(
            shared.engine.clone(),
            cursor,
            recovery_mode == Some(crate::standby::RecoveryMode::Standby),
            move || s.config(),
            shared.shutdown.subscribe(),
        )?;
        pidfile.set_status("standby")?;
    } else {
        start_primary_work(&shared);
        pidfile.set_status("ready")?;
        tracing::info!("database system is ready to accept connections");
    }

    // A standby waits for its promotion (then does a primary's background work) as
    // well as for the shutdown signal.
    let mut in_recovery = shared.engine.in_recovery();
    let mode = loop {
        tokio::select! {
            m = signals.shutdown_request(&shared) => break m,
            _ = engine_broke.notified() => {
                // From here on a shutdown signal must not be lost: the main thread
                // (this one) holds them blocked — pending, they survive the exec —
                // and what reached the handlers meanwhile is checked below.
                set_shutdown_signals_blocked(true);
                let restart = shared.config().get_bool("restart_after_crash");
                end_sessions_after_crash(&shared).await;
                drop(unix);
                if let Some(m) = signals.pending_shutdown() {
                    // As PostgreSQL's postmaster: a shutdown asked for during the crash
                    // wins over the restart.
                    let name = match m {
                        ShutdownMode::Smart => "smart",
                        ShutdownMode::Fast => "fast",
                        _ => "immediate",
                    };
                    tracing::info!("received {name} shutdown request");
                    tracing::info!("database system is shut down");
                    return Ok(Exit::AfterCrash);
                }
                if restart {
                    tracing::info!("all server processes terminated; reinitializing");
                    // exec at once, without shutting the runtime down: no await lies
                    // between the check above and the new image.
                    let e = reinitialize();
                    return Err(Error::fatal(
                        crate::error::sqlstate::INTERNAL_ERROR,
                        format!("could not restart the server: {e}"),
                    ));
                }
                tracing::info!("shutting down because restart_after_crash is off");
                tracing::info!("database system is shut down");
                return Ok(Exit::AfterCrash);
            }
            _ = tokio::time::sleep(Duration::from_millis(50)), if in_recovery => {
                if !shared.engine.in_recovery() {
                    in_recovery = false;
                    start_primary_work(&shared);
                    pidfile.set_status("ready")?;
                }
            }
        }
    };
    let _ = shared.shutdown.send(mode);
    match mode {
        ShutdownMode::Immediate => {
            tracing::info!("received immediate shutdown request");
            shared.terminate_all();
            drop(unix);
            tracing::info!("database system is shut down");
            return Ok(Exit::Shutdown);
        }
        ShutdownMode::Smart => {
            tracing::info!("received smart shutdown request");
        }
        _ => {
            tracing::info!("received fast shutdown request");
            tracing::info!("aborting any active transactions");
            shared.terminate_all();
        }
    }
    let _ = pidfile.set_status("stopping");
    // Smart shutdown waits for sessions without limit; fast gives them a moment to
    // roll back, then goes on. Streaming walsenders (not counted against
    // max_connections) stay until the shutdown checkpoint is written.
    loop {
        if shared.backends().values().all(|b| !b.counted) {
            break;
        }
        if *shared.shutdown.borrow() == ShutdownMode::Fast {
            shared.terminate_all();
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            m = signals.shutdown_request(&shared) => {
                let _ = shared.shutdown.send(m);
                if m == ShutdownMode::Immediate {
                    tracing::info!("received immediate shutdown request");
                    drop(unix);
                    return Ok(Exit::Shutdown);
                }
                tracing::info!("received fast shutdown request");
                shared.terminate_all();
            }
        }
    }
    tracing::info!("shutting down");
    let engine = shared.engine.clone();
    tokio::task::spawn_blocking(move || {
        if engine.in_recovery() {
            crate::standby::stop(&engine);
        }
        engine.shutdown()
    })
    .await
    .map_err(|e| Error::internal(format!("shutdown task failed: {e}")))??;
    // The archiver's last cycle (what the shutdown checkpoint left ready), briefly.
    let _ = tokio::task::spawn_blocking(|| {
        crate::archive::archiver::finish_shutdown(Duration::from_secs(5))
    })
    .await;
    // Walsenders send the WAL up to the shutdown checkpoint and end (bounded wait).
    shared.walsenders.finish_shutdown();
    let waited = std::time::Instant::now();
    while !shared.backends().is_empty() && waited.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(unix);
    tracing::info!("database system is shut down");
    Ok(Exit::Shutdown)
}

/// Logs a configuration failure's LOG lines; the FATAL error is returned for the caller.
fn config_error(e: crate::config::ConfigError) -> Error {
    for l in &e.logs {
        crate::logging::log_at(l.level, &l.message, l.detail.as_deref(), l.hint.as_deref());
    }
    e.fatal
}

/// The background work of a server that writes WAL (a primary, or a promoted
/// standby): the WAL writer, and the archiver (a no-op when it already runs or
/// archiving is off).
fn start_primary_work(shared: &Arc<Shared>) {
    tokio::spawn(wal_writer(shared.clone()));
    let s = shared.clone();
    if let Err(e) = crate::archive::archiver::start(
        shared.engine.clone(),
        move || s.config(),
        shared.shutdown.subscribe(),
    ) {
        log_error(&e);
    }
}

/// The WAL writer: every `wal_writer_delay` it flushes what asynchronous commits left
/// unflushed, bounding what `synchronous_commit = off` can lose to about three delays,
/// as PostgreSQL documents.
async fn wal_writer(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        let delay = shared.config().get_int("wal_writer_delay").clamp(1, 10_000) as u64;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(delay)) => {}
            _ = shutdown.changed() => return,
        }
        let engine = shared.engine.clone();
        match tokio::task::spawn_blocking(move || engine.background_flush()).await {
            Ok(Err(e)) => {
                log_error(&e);
                return;
            }
            Err(_) => return,
            Ok(Ok(())) => {}
        }
    }
}

/// Blocks or unblocks, in the calling thread, the signals the postmaster handles.
fn set_shutdown_signals_blocked(blocked: bool) {
    // SAFETY: plain libc calls on a local, initialized signal set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGHUP,
            libc::SIGUSR1,
        ] {
            libc::sigaddset(&mut set, sig);
        }
        let how = if blocked {
            libc::SIG_BLOCK
        } else {
            libc::SIG_UNBLOCK
        };
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

/// The postmaster's signal streams, registered once for the server's life (a stream
/// made anew for each wait could miss a signal delivered in between).
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    usr1: tokio::signal::unix::Signal,
}

impl Signals {
    fn register() -> Result<Signals> {
        let s = |k: SignalKind| {
            signal(k).map_err(|e| Error::internal(format!("could not set up signal handling: {e}")))
        };
        let signals = Signals {
            term: s(SignalKind::terminate())?,
            int: s(SignalKind::interrupt())?,
            quit: s(SignalKind::quit())?,
            hup: s(SignalKind::hangup())?,
            usr1: s(SignalKind::user_defined1())?,
        };
        // Handlers are in place: what arrived while an image started by
        // `reinitialize` had them blocked is delivered now (the postmaster future
        // runs on the main thread, which inherited the mask).
        set_shutdown_signals_blocked(false);
        Ok(signals)
    }

    /// A shutdown signal that already arrived, if any (without waiting).
    fn pending_shutdown(&mut self) -> Option<ShutdownMode> {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut arrived = |s: &mut tokio::signal::unix::Signal| s.poll_recv(&mut cx).is_ready();
        if arrived(&mut self.quit) {
            Some(ShutdownMode::Immediate)
        } else if arrived(&mut self.int) {
            Some(ShutdownMode::Fast)
        } else if arrived(&mut self.term) {
            Some(ShutdownMode::Smart)
        } else {
            None
        }
    }

    /// Waits for SIGTERM/SIGINT/SIGQUIT, handling SIGHUP reloads and SIGUSR1 meanwhile.
    /// Cancel-safe: a signal is never lost when the wait is dropped.
    async fn shutdown_request(&mut self, shared: &Arc<Shared>) -> ShutdownMode {
        loop {
            tokio::select! {
                // `tusk ctl promote` / `pg_ctl promote`: the `promote` file plus
                // SIGUSR1; the replay loop looks for the file.
                _ = self.usr1.recv() => shared.engine.notify_wal_arrived(),
                _ = self.term.recv() => return ShutdownMode::Smart,
                _ = self.int.recv() => return ShutdownMode::Fast,
                _ = self.quit.recv() => return ShutdownMode::Immediate,
                _ = self.hup.recv() => {
                    let shared = shared.clone();
                    let _ = tokio::task::spawn_blocking(move || shared.reload()).await;
                }
            }
        }
    }
}

fn accepting(shared: &Shared) -> bool {
    *shared.shutdown.borrow() == ShutdownMode::Running
}

async fn accept_tcp(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((sock, addr)) => {
                    if !accepting(&shared) { continue; }
                    let _ = sock.set_nodelay(true);
                    let peer = startup::Peer { addr: Some(addr.ip()), port: addr.port(), uid: None, ssl: false };
                    spawn_backend(AcceptedSocket::Tcp(sock), peer, shared.clone());
                }
                Err(e) => {
                    tracing::warn!(severity = "LOG", "could not accept new connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = shutdown.changed() => {
                if !accepting(&shared) { return; }
            }
        }
    }
}

async fn accept_unix(listener: tokio::net::UnixListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((sock, _)) => {
                    if !accepting(&shared) { continue; }
                    let uid = sock.peer_cred().ok().map(|c| c.uid());
                    let peer = startup::Peer { addr: None, port: 0, uid, ssl: false };
                    spawn_backend(AcceptedSocket::Unix(sock), peer, shared.clone());
                }
                Err(e) => {
                    tracing::warn!(severity = "LOG", "could not accept new connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = shutdown.changed() => {
                if !accepting(&shared) { return; }
            }
        }
    }
}

/// A socket just accepted, still registered with the postmaster's runtime.
enum AcceptedSocket {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

/// Stack size of a backend thread: room for deep expression trees and the parser's
/// recursion (PostgreSQL's `max_stack_depth` defaults to 2 MB of a larger OS stack).
const BACKEND_STACK_SIZE: usize = 8 << 20;

/// Starts a backend thread for an accepted connection. The thread builds a
/// single-threaded tokio runtime, moves the socket onto it and runs
/// [`connection::serve`] to the end; session work runs inline on that thread. When no
/// thread can be started, the connection is closed with a LOG line, as PostgreSQL does
/// when it cannot fork.
fn spawn_backend(sock: AcceptedSocket, peer: startup::Peer, shared: Arc<Shared>) {
    // Deregister from the postmaster's reactor; the backend's runtime registers it anew.
    let sock = match sock {
        AcceptedSocket::Tcp(s) => s.into_std().map(StdSocket::Tcp),
        AcceptedSocket::Unix(s) => s.into_std().map(StdSocket::Unix),
    };
    let sock = match sock {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(severity = "LOG", "could not accept new connection: {e}");
            return;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("tusk backend".into())
        .stack_size(BACKEND_STACK_SIZE)
        .spawn(move || run_backend(sock, peer, shared));
    if let Err(e) = spawned {
        tracing::warn!(
            severity = "LOG",
            "could not start new thread for connection: {e}"
        );
    }
}

/// A backend thread's body: its runtime and its connection, to the end.
///
/// Kept out of line, with the connection's future on the heap, because every page of a
/// thread's stack that a frame spans is touched (stack probes) and stays resident for
/// the thread's life: inlined into the thread's closure, the runtime's construction and
/// `block_on` with copies of the ~12 kB future made a 60 kB frame, half of an idle
/// connection's memory (bench/README.md, memory per idle connection).
#[inline(never)]
fn run_backend(sock: StdSocket, peer: startup::Peer, shared: Arc<Shared>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // One socket per runtime: tokio's default of 1024 events is 12 kB per thread.
        .max_io_events_per_tick(BACKEND_IO_EVENTS)
        // An idle connection's trim runs where the thread parks (idle_trim::request).
        .on_thread_park(idle_trim::on_park)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(
                severity = "LOG",
                "could not start a runtime for a new connection: {e}"
            );
            return;
        }
    };
    runtime.block_on(boxed_in_place(|| backend_connection(sock, peer, shared)));
}

/// The future `make` returns, built straight into its heap slot: `Box::pin(make())`
/// builds the ~12 kB connection future in the caller's frame first and copies it, and
/// that frame's pages stay resident on every backend's stack.
fn boxed_in_place<F: std::future::Future<Output = ()>>(
    make: impl FnOnce() -> F,
) -> std::pin::Pin<Box<F>> {
    let mut slot = Box::<F>::new_uninit();
    slot.write(make());
    // SAFETY: `write` initialized the slot just above.
    Box::into_pin(unsafe { slot.assume_init() })
}

/// Events one backend's reactor takes per wake-up: its client socket, a walsender's
/// or COPY's second descriptor, timers.
const BACKEND_IO_EVENTS: usize = 16;

/// Registers the socket with the backend's runtime and serves the connection.
async fn backend_connection(sock: StdSocket, peer: startup::Peer, shared: Arc<Shared>) {
    let registered = match sock {
        StdSocket::Tcp(s) => {
            tokio::net::TcpStream::from_std(s).map(|s| (Box::new(s) as Box<dyn Stream>, true))
        }
        StdSocket::Unix(s) => {
            tokio::net::UnixStream::from_std(s).map(|s| (Box::new(s) as Box<dyn Stream>, false))
        }
    };
    let (io, is_tcp) = match registered {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(severity = "LOG", "could not accept new connection: {e}");
            return;
        }
    };
    connection::serve(io, peer, is_tcp, shared).await
}

/// A socket between the two runtimes.
enum StdSocket {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

/// The hooks a session uses to reach the server (pg_reload_conf, pg_cancel_backend…).
pub struct Hooks {
    /// The server state the hooks act on.
    pub shared: Arc<Shared>,
}

impl crate::sql::ServerHooks for Hooks {
    fn reload_config(&self) -> bool {
        // As PostgreSQL: signal the postmaster, which reloads asynchronously.
        unsafe { libc::kill(libc::getpid(), libc::SIGHUP) == 0 }
    }

    fn cancel_backend(&self, pid: i32) -> bool {
        self.shared.cancel_backend(pid)
    }

    fn terminate_backend(&self, pid: i32) -> bool {
        self.shared.terminate_backend(pid)
    }

    fn postmaster_start_time(&self) -> i64 {
        self.shared.start_time
    }

    fn server_config(&self) -> Arc<ServerConfig> {
        self.shared.config()
    }

    // ---- replication slots ----
    fn slots(&self) -> Option<Arc<crate::replication::slots::SlotManager>> {
        Some(self.shared.slots.clone())
    }

    fn wal_senders(&self) -> Vec<crate::replication::walsender::WalSenderInfo> {
        self.shared.walsenders.list()
    }

    fn wait_for_sync_rep(
        &self,
        pid: i32,
        lsn: crate::storage::wal::Lsn,
        mode: crate::replication::syncrep::WaitMode,
        cancel: &AtomicBool,
        waiting: &mut dyn FnMut(bool),
    ) -> crate::replication::syncrep::WaitOutcome {
        // PostgreSQL's SyncRepRequested: no walsenders, no synchronous replication.
        if !self.shared.walsenders.syncrep().defined()
            || self.shared.config().get_int("max_wal_senders") <= 0
        {
            return crate::replication::syncrep::WaitOutcome::NotRequired;
        }
        let terminate = self
            .shared
            .backends()
            .get(&pid)
            .map(|b| b.terminate.clone())
            .unwrap_or_default();
        let outcome = self
            .shared
            .walsenders
            .syncrep()
            .wait(lsn, mode, cancel, &terminate, waiting);
        if let Some(w) = outcome.warning() {
            log_error(&w);
        }
        outcome
    }
}
