//! The walsender: a replication connection's life after authentication.
//!
//! What it owns: the command loop of a replication connection, `START_REPLICATION`'s
//! CopyBoth stream, `wal_sender_timeout`, and the walsender registry that
//! `pg_stat_replication` reads. What it must never do: write WAL or data.
//!
//! Invariants:
//! - every live walsender holds one [`Registration`] in [`WalSenders`]; at most
//!   `max_wal_senders` registrations exist at once (checked when the connection starts,
//!   PostgreSQL's FATAL 53300 otherwise);
//! - each Query message gets exactly one ReadyForQuery (after its result sets, or after
//!   the ErrorResponse), so a failed command never ends the connection;
//! - a physical connection never runs SQL (0A000); a `replication=database` connection
//!   runs SQL through its own [`Session`], exactly as an ordinary backend does;
//! - client bytes are read with `read_buf` into one buffer shared with the stream
//!   (cancel-safe: a wake-up for new WAL or a timer never loses half a message);
//! - after an ERROR the slot a command held is released and the connection's
//!   temporary slots are dropped (PostgreSQL's walsender error recovery);
//! - at shutdown an idle walsender ends (57P01) and a streaming one keeps streaming
//!   until the postmaster has written the shutdown checkpoint
//!   ([`WalSenders::finish_shutdown`]), then sends it, asks for a last reply and ends
//!   with `COPY 0` (see the `stream` submodule).
//!
//! On a standby the walsender is *cascading* (PostgreSQL's `am_cascading_walsender`):
//! it answers the same commands, but its flush position and timeline are the
//! standby's ([`flush_position`]: received and flushed, or replayed, on the timeline
//! replay is on), it ends a stream whose timeline became historic (promotion, or
//! replay following a newer timeline; see the `stream` submodule), and its standby is
//! never synchronous.
//!
//! Each walsender shows a `ps` title (`walsender <user> <host>(<port>) <activity>`,
//! [`WalSenders::title`]) through [`crate::proctitle::ProcTitle`].
//!
//! One `IDENTIFY_SYSTEM`, step by step:
//! 1. [`serve`] reads a Query frame and hands its text to [`command::parse`];
//! 2. the command is answered with one result set (RowDescription with PostgreSQL's
//!    column names, type OIDs and typmods, one DataRow, CommandComplete);
//! 3. ReadyForQuery `I` follows and the loop waits for the next message.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Buf, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::sync::Notify;

use crate::error::{sqlstate, Error, Result};
use crate::server::protocol::{FrontendMessage, Writer};
use crate::server::startup::{Peer, ReplicationMode};
use crate::server::{Shared, ShutdownMode, Stream};
use crate::sql::{FieldDesc, Session, TransactionStatus};
use crate::storage::wal::Lsn;

use super::command::{self, ReplCommand};

mod stream;

/// Type OID of `text`.
const TEXT_OID: u32 = 25;
/// Type OID of `int4`.
const INT4_OID: u32 = 23;
/// Type OID of `int8`.
const INT8_OID: u32 = 20;

/// What a walsender is doing, as `pg_stat_replication.state` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalSenderState {
    /// Connected, answering commands.
    Startup,
    /// Streaming WAL the standby has not caught up with yet.
    Catchup,
    /// Streaming, caught up with the flushed WAL.
    Streaming,
    /// Sending a base backup.
    Backup,
    /// Sending the last WAL before a shutdown.
    Stopping,
}

impl WalSenderState {
    /// PostgreSQL's name for the state.
    pub fn as_str(self) -> &'static str {
        match self {
            WalSenderState::Startup => "startup",
            WalSenderState::Catchup => "catchup",
            WalSenderState::Streaming => "streaming",
            WalSenderState::Backup => "backup",
            WalSenderState::Stopping => "stopping",
        }
    }
}

/// One walsender as the registry and `pg_stat_replication` see it.
#[derive(Debug, Clone, PartialEq)]
pub struct WalSenderInfo {
    /// The backend pid.
    pub pid: i32,
    /// The role that connected.
    pub user: String,
    /// `application_name` of the connection.
    pub application_name: String,
    /// The client's address (None for a Unix socket).
    pub client_addr: Option<IpAddr>,
    /// The client's TCP port (-1 for a Unix socket, as PostgreSQL shows it).
    pub client_port: i32,
    /// When the connection started (PostgreSQL epoch microseconds).
    pub backend_start: i64,
    /// What it is doing.
    pub state: WalSenderState,
    /// The last WAL position sent (None before streaming).
    pub sent_lsn: Option<Lsn>,
    /// The standby's reported write position.
    pub write_lsn: Option<Lsn>,
    /// The standby's reported flush position.
    pub flush_lsn: Option<Lsn>,
    /// The standby's reported replay position.
    pub replay_lsn: Option<Lsn>,
    /// Time from local flush to the standby's write report (microseconds).
    pub write_lag: Option<i64>,
    /// Time from local flush to the standby's flush report (microseconds).
    pub flush_lag: Option<i64>,
    /// Time from local flush to the standby's replay report (microseconds).
    pub replay_lag: Option<i64>,
    /// When the last standby reply was sent (the standby's clock, PostgreSQL epoch µs).
    pub reply_time: Option<i64>,
    /// The xmin from hot-standby feedback without a slot.
    pub backend_xmin: Option<u32>,
    /// What the process title shows between the address and the position: `idle`, the
    /// running command's tag, or `sending backup "<label>"`.
    pub activity: String,
    /// Its priority as a synchronous standby (0: asynchronous), filled in by
    /// [`WalSenders::list`] from `synchronous_standby_names`.
    pub sync_priority: i32,
    /// `async`, `potential`, `sync` or `quorum`, filled in by [`WalSenders::list`].
    pub sync_state: &'static str,
    /// Whether it streams from a standby (a cascading walsender): its standby is
    /// never synchronous. Set at `START_REPLICATION`.
    pub cascading: bool,
    /// Its place in PostgreSQL's walsender array: the lowest one free when it
    /// registered (set by [`WalSenders::register`]); equal priorities go to the lower.
    pub slot_index: usize,
}

/// The live walsenders, by backend pid.
pub struct WalSenders {
    senders: Mutex<HashMap<i32, WalSenderInfo>>,
    /// Synchronous replication: the standby names and the commits waiting for them.
    /// Lock order: `senders` first, then the sync rep state.
    syncrep: super::syncrep::SyncRep,
    /// Set by the postmaster once the shutdown checkpoint is written: streaming
    /// walsenders send the WAL up to it and end.
    final_stop: tokio::sync::watch::Sender<bool>,
}

impl Default for WalSenders {
    fn default() -> Self {
        WalSenders::new()
    }
}

impl WalSenders {
    /// An empty registry.
    pub fn new() -> WalSenders {
        WalSenders {
            senders: Mutex::new(HashMap::new()),
            syncrep: super::syncrep::SyncRep::new(),
            final_stop: tokio::sync::watch::channel(false).0,
        }
    }

    /// Tells the walsenders that the shutdown checkpoint is written: they send the
    /// rest of the WAL, ask for a last reply, send `COPY 0` and close (PostgreSQL's
    /// SIGUSR2 to walsenders).
    pub fn finish_shutdown(&self) {
        self.final_stop.send_replace(true);
    }

    /// Whether [`WalSenders::finish_shutdown`] was called.
    pub fn stopping(&self) -> bool {
        *self.final_stop.borrow()
    }

    fn subscribe_stop(&self) -> tokio::sync::watch::Receiver<bool> {
        self.final_stop.subscribe()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i32, WalSenderInfo>> {
        self.senders.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a walsender, refusing it (FATAL 53300, PostgreSQL's text) when
    /// `max_wal_senders` are already running. The registration ends when the returned
    /// guard is dropped.
    pub fn register(
        self: &Arc<Self>,
        info: WalSenderInfo,
        max_wal_senders: usize,
    ) -> Result<Registration> {
        let mut senders = self.lock();
        if senders.len() >= max_wal_senders {
            return Err(Error::fatal(
                sqlstate::TOO_MANY_CONNECTIONS,
                format!(
                    "number of requested standby connections exceeds max_wal_senders (currently {max_wal_senders})"
                ),
            ));
        }
        let pid = info.pid;
        let mut info = info;
        info.slot_index = (0..)
            .find(|i| senders.values().all(|w| w.slot_index != *i))
            .unwrap_or(0);
        senders.insert(pid, info);
        Ok(Registration {
            registry: self.clone(),
            pid,
        })
    }

    /// Every walsender, in pid order, with its synchronous-standby priority and state.
    pub fn list(&self) -> Vec<WalSenderInfo> {
        let senders = self.lock();
        let mut v: Vec<WalSenderInfo> = senders.values().cloned().collect();
        v.sort_by_key(|w| w.pid);
        if let Some(names) = self.syncrep.names() {
            let standbys = sync_candidates(&names, &v);
            for (i, w) in v.iter_mut().enumerate() {
                w.sync_priority = standbys[i].priority as i32;
                w.sync_state = super::syncrep::sync_state(&names, &standbys, i);
            }
        }
        v
    }

    /// Synchronous replication's shared state (the commits' side of it).
    pub fn syncrep(&self) -> &super::syncrep::SyncRep {
        &self.syncrep
    }

    /// Takes a new `synchronous_standby_names` (start-up, reload) and releases what
    /// the new set of standbys has already confirmed (or every waiter, when empty).
    pub fn configure_sync(&self, value: &str) {
        self.syncrep.configure(value);
        self.release_sync_waiters(None);
    }

    /// PostgreSQL's `SyncRepReleaseWaiters`, run after every standby reply: moves the
    /// released positions to what the synchronous standbys have confirmed. When
    /// walsender `pid` (if given) is one of the synchronous standbys, returns the
    /// method and its priority.
    pub fn release_sync_waiters(
        &self,
        pid: Option<i32>,
    ) -> Option<(crate::config::value::SyncMethod, u32)> {
        let senders = self.lock();
        let names = self.syncrep.names()?;
        let mut v: Vec<WalSenderInfo> = senders.values().cloned().collect();
        drop(senders);
        v.sort_by_key(|w| w.pid);
        let standbys = sync_candidates(&names, &v);
        let am_sync = pid.and_then(|pid| {
            super::syncrep::choose(&names, &standbys)
                .into_iter()
                .find(|&i| standbys[i].pid == pid)
                .map(|i| (names.method, standbys[i].priority))
        });
        if let Some(positions) = super::syncrep::synced_positions(&names, &standbys) {
            self.syncrep.advance(positions);
        }
        am_sync
    }

    /// The walsender with this pid.
    pub fn get(&self, pid: i32) -> Option<WalSenderInfo> {
        self.lock().get(&pid).cloned()
    }

    /// The process title of walsender `pid` in PostgreSQL's format:
    /// `walsender <user> <addr>(<port>) <activity>` (`[local]` for a Unix socket).
    pub fn title(&self, pid: i32) -> Option<String> {
        let w = self.get(pid)?;
        let host = match w.client_addr {
            Some(a) => format!("{a}({})", w.client_port),
            None => "[local]".to_string(),
        };
        let activity = match (w.state, w.sent_lsn) {
            (
                WalSenderState::Catchup | WalSenderState::Streaming | WalSenderState::Stopping,
                Some(l),
            ) => format!("streaming {l}"),
            _ => w.activity.clone(),
        };
        Some(format!("walsender {} {host} {activity}", w.user))
    }

    fn update(&self, pid: i32, f: impl FnOnce(&mut WalSenderInfo)) {
        if let Some(w) = self.lock().get_mut(&pid) {
            f(w);
        }
    }
}

/// The walsenders as synchronous-standby candidates, in the order of `senders`: a
/// walsender has a priority once it streams WAL (PostgreSQL sets it at
/// `START_REPLICATION`), and may be chosen while streaming or stopping with a valid
/// flush position.
fn sync_candidates(
    names: &crate::config::value::SyncStandbyNames,
    senders: &[WalSenderInfo],
) -> Vec<super::syncrep::Standby> {
    senders
        .iter()
        .map(|w| {
            let streams = matches!(
                w.state,
                WalSenderState::Catchup | WalSenderState::Streaming | WalSenderState::Stopping
            );
            let flush = w.flush_lsn.unwrap_or(Lsn::INVALID);
            super::syncrep::Standby {
                pid: w.pid,
                order: w.slot_index,
                priority: if streams && !w.cascading {
                    super::syncrep::priority(names, &w.application_name)
                } else {
                    0
                },
                eligible: matches!(
                    w.state,
                    WalSenderState::Streaming | WalSenderState::Stopping
                ) && flush.is_valid(),
                write: w.write_lsn.unwrap_or(Lsn::INVALID),
                flush,
                apply: w.replay_lsn.unwrap_or(Lsn::INVALID),
            }
        })
        .collect()
}

/// A walsender's place in [`WalSenders`]; dropping it removes the entry.
pub struct Registration {
    registry: Arc<WalSenders>,
    pid: i32,
}

impl Registration {
    /// The backend pid registered.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Changes the registered information.
    pub fn update(&self, f: impl FnOnce(&mut WalSenderInfo)) {
        self.registry.update(self.pid, f);
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.pid);
    }
}

/// Builds the registry entry of a new walsender (state `startup`, nothing sent yet).
pub fn new_info(pid: i32, user: &str, application_name: &str, peer: &Peer) -> WalSenderInfo {
    WalSenderInfo {
        pid,
        user: user.to_string(),
        application_name: application_name.to_string(),
        client_addr: peer.addr,
        client_port: if peer.addr.is_some() {
            peer.port as i32
        } else {
            -1
        },
        backend_start: crate::types::now_micros(),
        state: WalSenderState::Startup,
        sent_lsn: None,
        write_lsn: None,
        flush_lsn: None,
        replay_lsn: None,
        write_lag: None,
        flush_lag: None,
        replay_lag: None,
        reply_time: None,
        backend_xmin: None,
        activity: "idle".to_string(),
        sync_priority: 0,
        sync_state: "async",
        cascading: false,
        slot_index: 0,
    }
}

/// Everything a walsender needs from the connection that authenticated it.
pub struct WalSenderConn {
    /// The client socket (after TLS, if any).
    pub io: Box<dyn Stream>,
    /// The session: SQL for `replication=database`, settings for `SHOW` in both modes.
    pub session: Session,
    /// The server's shared state.
    pub shared: Arc<Shared>,
    /// Physical or database replication.
    pub mode: ReplicationMode,
    /// The database of a `replication=database` connection.
    pub database: String,
    /// The walsender's registry entry (held until the connection ends).
    pub registration: Registration,
    /// Set by `pg_terminate_backend`.
    pub terminate: Arc<AtomicBool>,
    /// Woken by `pg_terminate_backend`.
    pub terminate_notify: Arc<Notify>,
    /// Set by a cancel request.
    pub cancel: Arc<AtomicBool>,
}

/// How a command or stream ended for the command loop.
enum Flow {
    /// Go on reading commands.
    Continue,
    /// End the connection (client gone, terminated, timeout, shutdown).
    Close,
}

/// A result column with PostgreSQL's text-format description.
fn col(name: &str, type_oid: u32, type_len: i16, typmod: i32) -> FieldDesc {
    FieldDesc {
        name: name.to_string(),
        table_oid: 0,
        column_id: 0,
        type_oid,
        type_len,
        typmod,
    }
}

fn text(s: impl Into<String>) -> Option<Vec<u8>> {
    Some(s.into().into_bytes())
}

fn status_byte(s: &Session) -> u8 {
    match s.transaction_status() {
        TransactionStatus::Idle => b'I',
        TransactionStatus::InBlock => b'T',
        TransactionStatus::Failed => b'E',
    }
}

fn terminated() -> Error {
    Error::fatal(
        sqlstate::ADMIN_SHUTDOWN,
        "terminating connection due to administrator command",
    )
}

/// Serves a replication connection from its first command to its end. The caller has
/// sent the greeting (ParameterStatus, BackendKeyData, ReadyForQuery) and keeps the
/// backend's registry guards alive while this runs.
pub async fn serve(conn: WalSenderConn) {
    let WalSenderConn {
        io,
        session,
        shared,
        mode,
        database,
        registration,
        terminate,
        terminate_notify,
        cancel,
    } = conn;
    let pid = registration.pid();
    let initial_title = shared.walsenders.title(pid).unwrap_or_default();
    let mut ws = WalSender {
        io,
        inbuf: BytesMut::with_capacity(8192),
        session: Some(session),
        shared: shared.clone(),
        mode,
        database,
        registration,
        terminate,
        terminate_notify,
        out: Writer::new(),
        copy_in: false,
        skip_until_sync: false,
        errored: false,
        title: crate::proctitle::ProcTitle::new(&initial_title),
        last_title: initial_title,
        announce_sync: true,
    };
    let mut shutdown = shared.shutdown.subscribe();
    let mut final_stop = shared.walsenders.subscribe_stop();
    loop {
        // 1. A complete message already buffered is handled first.
        let frame = match take_frame(&mut ws.inbuf) {
            Ok(Some(f)) => Some(f),
            Ok(None) => None,
            Err(e) => {
                crate::server::log_error(&e);
                ws.out.error(&e);
                let _ = ws.out.flush(&mut ws.io).await;
                break;
            }
        };
        let Some((tag, body)) = frame else {
            // 2. Otherwise wait for input (read_buf is cancel-safe), termination or a
            //    shutdown; a smart shutdown ends an idle walsender once no ordinary
            //    session is left.
            let smart = *shutdown.borrow() == ShutdownMode::Smart;
            let closed = tokio::select! {
                r = ws.io.read_buf(&mut ws.inbuf) => !matches!(r, Ok(n) if n > 0),
                _ = ws.terminate_notify.notified() => false,
                r = shutdown.changed() => {
                    if r.is_err() {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    false
                }
                _ = tokio::time::sleep(std::time::Duration::from_millis(100)), if smart => false,
                r = final_stop.changed() => {
                    if r.is_err() {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    false
                }
            };
            if closed {
                if !ws.inbuf.is_empty() {
                    tracing::warn!(
                        severity = "LOG",
                        "unexpected EOF on client connection with an open transaction"
                    );
                }
                break;
            }
            // An idle walsender ends like a terminated backend (PostgreSQL signals it
            // with SIGTERM when replication has not started).
            let mode = *shutdown.borrow();
            let stop_for_shutdown = ws.should_stop_for_shutdown(mode);
            if ws.terminate.load(Ordering::SeqCst) || stop_for_shutdown {
                if mode != ShutdownMode::Immediate {
                    ws.out.error(&terminated());
                    let _ = ws.out.flush(&mut ws.io).await;
                }
                break;
            }
            continue;
        };
        let msg = match FrontendMessage::decode(tag, &body) {
            Ok(m) => m,
            Err(e) => {
                crate::server::log_error(&e);
                ws.out.error(&e);
                let _ = ws.out.flush(&mut ws.io).await;
                break;
            }
        };
        cancel.store(false, Ordering::SeqCst);
        let flow = ws.message(msg).await;
        if ws.out.flush(&mut ws.io).await.is_err() {
            break;
        }
        if matches!(flow, Flow::Close) {
            break;
        }
    }
    if let Some(s) = ws.session.take() {
        let _ = crate::server::connection::on_session(s, |s| s.terminate());
    }
    shared.slots.connection_ended(pid);
}

/// The state of one walsender connection.
struct WalSender {
    io: Box<dyn Stream>,
    /// Client bytes read and not yet handled (shared by the command loop and the
    /// stream, so no byte is lost between them).
    inbuf: BytesMut,
    session: Option<Session>,
    shared: Arc<Shared>,
    mode: ReplicationMode,
    database: String,
    registration: Registration,
    terminate: Arc<AtomicBool>,
    terminate_notify: Arc<Notify>,
    out: Writer,
    copy_in: bool,
    skip_until_sync: bool,
    /// The current command sent an ErrorResponse.
    errored: bool,
    /// The `ps` title of this walsender, and what it shows.
    title: crate::proctitle::ProcTitle,
    last_title: String,
    /// Log it when this standby next becomes synchronous (PostgreSQL's
    /// `announce_next_takeover`).
    announce_sync: bool,
}

impl WalSender {
    fn pid(&self) -> i32 {
        self.registration.pid()
    }

    /// Runs `f` on the session (SQL path of `replication=database`).
    fn with_session<T>(&mut self, f: impl FnOnce(&mut Session) -> T) -> Option<T> {
        let s = self.session.take()?;
        let (s, r) = crate::server::connection::on_session(s, f)?;
        self.session = Some(s);
        Some(r)
    }

    fn ready(&mut self) {
        let status = self.session.as_ref().map_or(b'I', status_byte);
        self.out.ready(status);
    }

    async fn message(&mut self, msg: FrontendMessage) -> Flow {
        match msg {
            FrontendMessage::Terminate => Flow::Close,
            m if self.copy_in => {
                let Some((w, still)) =
                    self.with_session(move |s| crate::server::connection::copy_in_message(s, m))
                else {
                    return Flow::Close;
                };
                self.copy_in = still;
                self.out.append(w);
                Flow::Continue
            }
            FrontendMessage::Query(text) => {
                self.skip_until_sync = false;
                self.query(&text).await
            }
            FrontendMessage::Sync => {
                self.skip_until_sync = false;
                self.ready();
                Flow::Continue
            }
            FrontendMessage::Flush
            | FrontendMessage::CopyData(_)
            | FrontendMessage::CopyDone
            | FrontendMessage::CopyFail(_) => Flow::Continue,
            FrontendMessage::Password(_) => {
                let e = Error::fatal(
                    sqlstate::PROTOCOL_VIOLATION,
                    format!("invalid frontend message type {}", b'p'),
                );
                self.out.error(&e);
                Flow::Close
            }
            _ => {
                // Parse/Bind/Describe/Execute/Close: PostgreSQL refuses the extended
                // protocol on every walsender and skips to Sync.
                if !self.skip_until_sync {
                    self.skip_until_sync = true;
                    self.out.error(&crate::err!(
                        sqlstate::PROTOCOL_VIOLATION,
                        "extended query protocol not supported in a replication connection"
                    ));
                }
                Flow::Continue
            }
        }
    }

    /// Queues an ErrorResponse for a failed command; the command's slot state is
    /// cleaned up once it returns (see [`WalSender::query`]).
    fn fail(&mut self, e: &Error) {
        self.out.error(e);
        self.errored = true;
    }

    /// Runs one Query message. After an ERROR, as PostgreSQL's walsender error
    /// recovery, the slot the command held is released and the connection's temporary
    /// slots are dropped.
    async fn query(&mut self, text: &str) -> Flow {
        self.errored = false;
        let flow = self.query_inner(text).await;
        if self.errored {
            self.shared.slots.error_cleanup(self.pid());
            self.errored = false;
        }
        self.refresh_title();
        flow
    }

    /// Shows the registry's title for this walsender in `ps`, if it changed.
    fn refresh_title(&mut self) {
        if let Some(t) = self.shared.walsenders.title(self.pid()) {
            if t != self.last_title {
                self.title.set(&t);
                self.last_title = t;
            }
        }
    }

    async fn query_inner(&mut self, text: &str) -> Flow {
        let config = self.shared.config();
        let cmd = match command::parse(text) {
            Ok(c) => c,
            Err(e) => {
                self.log_command(text, &config);
                self.fail(&e);
                self.ready();
                return Flow::Continue;
            }
        };
        if let ReplCommand::Sql(sql) = cmd {
            return self.sql(sql);
        }
        self.log_command(text, &config);
        let activity = match &cmd {
            ReplCommand::BaseBackup(args) => format!(
                "sending backup \"{}\"",
                command::base_backup_label(args).unwrap_or_else(|| "base backup".to_string())
            ),
            other => other.tag().to_string(),
        };
        self.registration.update(|w| w.activity = activity);
        self.refresh_title();
        let flow = self.run_command(cmd).await;
        self.registration
            .update(|w| w.activity = "idle".to_string());
        flow
    }

    async fn run_command(&mut self, cmd: ReplCommand) -> Flow {
        let result = match cmd {
            ReplCommand::StartReplication {
                slot,
                start,
                timeline,
            } => return self.start_replication(slot, start, timeline).await,
            ReplCommand::BaseBackup(args) => self.base_backup(args).await,
            other => self.simple_command(other),
        };
        if let Err(e) = result {
            self.fail(&e);
        }
        self.ready();
        Flow::Continue
    }

    /// `log_replication_commands`: PostgreSQL logs each command at LOG.
    fn log_command(&self, text: &str, config: &crate::config::ServerConfig) {
        if config.get_str("log_replication_commands") == "on" {
            tracing::info!(
                severity = "LOG",
                "received replication command: {}",
                text.trim()
            );
        }
    }

    fn sql(&mut self, sql: String) -> Flow {
        if self.mode == ReplicationMode::Physical {
            self.fail(&crate::err!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "cannot execute SQL commands in WAL sender for physical replication"
            ));
            self.ready();
            return Flow::Continue;
        }
        let Some((w, copying)) =
            self.with_session(move |s| crate::server::connection::simple_query(s, &sql))
        else {
            return Flow::Close;
        };
        self.copy_in = copying;
        self.out.append(w);
        Flow::Continue
    }

    /// The commands answered with at most one result set.
    fn simple_command(&mut self, cmd: ReplCommand) -> Result<()> {
        let shared = self.shared.clone();
        let engine = &shared.engine;
        match cmd {
            ReplCommand::IdentifySystem => {
                self.out.row_description(
                    &[
                        col("systemid", TEXT_OID, -1, -1),
                        col("timeline", INT4_OID, 4, -1),
                        col("xlogpos", TEXT_OID, -1, -1),
                        col("dbname", TEXT_OID, -1, -1),
                    ],
                    &[],
                );
                let dbname = match self.mode {
                    ReplicationMode::Physical => None,
                    ReplicationMode::Database => Some(self.database.clone()),
                };
                // A cascading walsender reports the timeline replay is on and what
                // it may send (PostgreSQL's GetStandbyFlushRecPtr).
                let (flush, tli) = flush_position(engine);
                self.out.data_row(&[
                    text(engine.system_identifier().to_string()),
                    text(tli.to_string()),
                    text(flush.to_string()),
                    dbname.and_then(text),
                ]);
                self.out.command_complete("IDENTIFY_SYSTEM");
            }
            ReplCommand::Show(name) => {
                let value = match self.session.as_ref() {
                    // The segment size is the cluster's, from pg_control (the settings
                    // only know the default).
                    Some(_) if name == "wal_segment_size" => {
                        show_segment_size(segment_size(&self.shared))
                    }
                    Some(s) => s.settings().show(&name)?,
                    None => crate::bail!(sqlstate::INTERNAL_ERROR, "no session"),
                };
                let column = crate::config::lookup(&name).map_or(name.as_str(), |d| d.name);
                self.out
                    .row_description(&[col(column, TEXT_OID, -1, -1)], &[]);
                self.out.data_row(&[text(value)]);
                self.out.command_complete("SHOW");
            }
            ReplCommand::TimelineHistory(tli) => {
                self.out.row_description(
                    &[
                        col("filename", TEXT_OID, -1, 0),
                        col("content", TEXT_OID, -1, 0),
                    ],
                    &[],
                );
                let name = crate::storage::wal::segment::history_file_name(tli);
                let path = shared.datadir.join("pg_wal").join(&name);
                let content = std::fs::read(&path).map_err(|e| {
                    let code = if e.kind() == std::io::ErrorKind::NotFound {
                        sqlstate::UNDEFINED_FILE
                    } else {
                        sqlstate::IO_ERROR
                    };
                    crate::err!(
                        code,
                        "could not open file \"pg_wal/{name}\": {}",
                        crate::config::conf::io_text(&e)
                    )
                })?;
                self.out.data_row(&[text(name), Some(content)]);
                self.out.command_complete("TIMELINE_HISTORY");
            }
            ReplCommand::CreateSlot {
                name,
                temporary,
                reserve_wal,
                logical,
            } => {
                if logical.is_some() {
                    let config = shared.config();
                    if config.get_str("wal_level") != "logical" {
                        crate::bail!(
                            sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                            "logical decoding requires wal_level >= logical"
                        );
                    }
                    crate::bail!(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "logical decoding is not supported by this server"
                    );
                }
                let info = shared
                    .slots
                    .create(&name, temporary, reserve_wal, self.pid())?;
                self.out.row_description(
                    &[
                        col("slot_name", TEXT_OID, -1, -1),
                        col("consistent_point", TEXT_OID, -1, -1),
                        col("snapshot_name", TEXT_OID, -1, -1),
                        col("output_plugin", TEXT_OID, -1, -1),
                    ],
                    &[],
                );
                self.out
                    .data_row(&[text(info.name), text("0/0"), None, None]);
                self.out.command_complete("CREATE_REPLICATION_SLOT");
            }
            ReplCommand::ReadSlot(name) => {
                let slot = shared.slots.get(&name);
                self.out.row_description(
                    &[
                        col("slot_type", TEXT_OID, -1, -1),
                        col("restart_lsn", TEXT_OID, -1, -1),
                        col("restart_tli", INT8_OID, 8, -1),
                    ],
                    &[],
                );
                match slot {
                    Some(s) => self.out.data_row(&[
                        text("physical"),
                        s.restart_lsn.map(|l| l.to_string()).and_then(text),
                        s.restart_tli.map(|t| t.to_string()).and_then(text),
                    ]),
                    None => self.out.data_row(&[None, None, None]),
                }
                self.out.command_complete("READ_REPLICATION_SLOT");
            }
            ReplCommand::DropSlot { name, wait } => {
                shared.slots.drop_slot(&name, wait)?;
                self.out.command_complete("DROP_REPLICATION_SLOT");
            }
            ReplCommand::StartLogical { .. } => {
                if shared.config().get_str("wal_level") != "logical" {
                    crate::bail!(
                        sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "logical decoding requires wal_level >= logical"
                    );
                }
                crate::bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "logical decoding is not supported by this server"
                );
            }
            ReplCommand::StartReplication { .. }
            | ReplCommand::BaseBackup(_)
            | ReplCommand::Sql(_) => {
                crate::bail!(sqlstate::INTERNAL_ERROR, "unexpected replication command")
            }
        }
        Ok(())
    }

    async fn base_backup(&mut self, args: String) -> Result<()> {
        self.registration
            .update(|w| w.state = WalSenderState::Backup);
        // What is queued goes out first; the backup writes straight to the socket.
        let flushed = self.out.flush(&mut self.io).await;
        let result = match flushed {
            Ok(()) => {
                let req = super::basebackup::BackupRequest {
                    args,
                    engine: self.shared.engine.clone(),
                    config: self.shared.config(),
                    datadir: self.shared.datadir.clone(),
                };
                super::basebackup::run(req, &mut self.io).await
            }
            Err(e) => Err(crate::err!(
                sqlstate::CONNECTION_FAILURE,
                "could not send data to client: {e}"
            )),
        };
        self.registration
            .update(|w| w.state = WalSenderState::Startup);
        result
    }
}

/// Takes one complete frontend message (`tag`, body) from the front of `buf`, if there
/// is one; unknown types and bad lengths are PostgreSQL's FATAL protocol violations.
fn take_frame(buf: &mut BytesMut) -> Result<Option<(u8, Vec<u8>)>> {
    if buf.is_empty() {
        return Ok(None);
    }
    let tag = buf[0];
    let Some(limit) = crate::server::protocol::limit_for(tag) else {
        return Err(Error::fatal(
            sqlstate::PROTOCOL_VIOLATION,
            format!("invalid frontend message type {tag}"),
        ));
    };
    if buf.len() < 5 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
    if len < 4 || (len as usize - 4) > limit {
        return Err(Error::fatal(
            sqlstate::PROTOCOL_VIOLATION,
            "invalid message length",
        ));
    }
    let len = len as usize;
    if buf.len() < 1 + len {
        return Ok(None);
    }
    buf.advance(5);
    let body = buf.split_to(len - 4).to_vec();
    Ok(Some((tag, body)))
}

/// How far this server's WAL may be sent, and its current timeline: the flushed WAL
/// on a primary; on a standby (a cascading walsender) what was received and flushed
/// or replayed, on the timeline replay is on ([`crate::storage::Engine::standby_flush_lsn`]).
pub(crate) fn flush_position(engine: &crate::storage::Engine) -> (Lsn, u32) {
    if engine.in_recovery() {
        engine.standby_flush_lsn()
    } else {
        (engine.wal_flush_lsn(), engine.timeline())
    }
}

/// The cluster's WAL segment size in bytes (from pg_control).
pub(crate) fn segment_size(shared: &Shared) -> u64 {
    let size = shared.engine.control_file().wal_segment_size as u64;
    if size == 0 {
        16 * 1024 * 1024
    } else {
        size
    }
}

/// A segment size as `SHOW` prints it (`16MB`, `1GB`).
fn show_segment_size(size: u64) -> String {
    const MB: u64 = 1024 * 1024;
    const GB: u64 = 1024 * MB;
    if size.is_multiple_of(GB) {
        format!("{}GB", size / GB)
    } else if size.is_multiple_of(MB) {
        format!("{}MB", size / MB)
    } else {
        format!("{size}B")
    }
}

/// The rows of `pg_stat_replication` for `senders`, as `viewer` may see them: the
/// walsender columns (`state` … `reply_time`) only for superusers and members of
/// `pg_read_all_stats`; the session columns (`usesysid` … `backend_xmin`) also for the
/// viewer's own walsenders; `pid` always. LSNs of 0/0 show as NULL, as PostgreSQL.
pub fn pg_stat_replication_rows(
    senders: &[WalSenderInfo],
    engine: &crate::storage::Engine,
    viewer: &str,
) -> Vec<Vec<crate::types::Value>> {
    use crate::types::{Interval, Value};
    let privileged = engine.role(viewer).is_some_and(|r| r.superuser)
        || engine.is_member_of(viewer, "pg_read_all_stats");
    let lsn = |l: Option<Lsn>| match l {
        Some(l) if l.is_valid() => Value::PgLsn(l.0),
        _ => Value::Null,
    };
    let lag = |us: Option<i64>| match us {
        Some(us) => Value::Interval(Interval {
            months: 0,
            days: 0,
            micros: us,
        }),
        None => Value::Null,
    };
    let text = |s: &str| Value::Text(s.to_string());
    senders
        .iter()
        .map(|w| {
            let mut row = vec![Value::Int4(w.pid)];
            if privileged || w.user == viewer {
                row.extend([
                    engine
                        .role(&w.user)
                        .map_or(Value::Null, |r| Value::Oid(r.oid)),
                    text(&w.user),
                    text(&w.application_name),
                    w.client_addr
                        .map_or(Value::Null, |a| Value::Text(a.to_string())),
                    Value::Null,
                    Value::Int4(w.client_port),
                    Value::TimestampTz(w.backend_start),
                    w.backend_xmin
                        .map_or(Value::Null, |x| Value::Text(x.to_string())),
                ]);
            } else {
                row.extend(std::iter::repeat_n(Value::Null, 8));
            }
            if privileged {
                row.extend([
                    text(w.state.as_str()),
                    lsn(w.sent_lsn),
                    lsn(w.write_lsn),
                    lsn(w.flush_lsn),
                    lsn(w.replay_lsn),
                    lag(w.write_lag),
                    lag(w.flush_lag),
                    lag(w.replay_lag),
                    Value::Int4(w.sync_priority),
                    text(w.sync_state),
                    w.reply_time.map_or(Value::Null, Value::TimestampTz),
                ]);
            } else {
                row.extend(std::iter::repeat_n(Value::Null, 11));
            }
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(addr: Option<&str>, port: u16) -> Peer {
        Peer {
            addr: addr.map(|a| a.parse().unwrap()),
            port,
            uid: None,
            ssl: false,
        }
    }

    #[test]
    fn registry_limits_and_titles() {
        let reg = Arc::new(WalSenders::new());
        let a = reg
            .register(
                new_info(10, "repl", "walreceiver", &peer(Some("127.0.0.1"), 53114)),
                2,
            )
            .unwrap();
        let b = reg
            .register(new_info(11, "postgres", "psql", &peer(None, 0)), 2)
            .unwrap();
        let e = reg
            .register(new_info(12, "x", "y", &peer(None, 0)), 2)
            .err()
            .unwrap();
        assert_eq!(e.code, "53300");
        assert_eq!(
            e.message,
            "number of requested standby connections exceeds max_wal_senders (currently 2)"
        );
        assert_eq!(
            reg.title(10).unwrap(),
            "walsender repl 127.0.0.1(53114) idle"
        );
        assert_eq!(reg.title(11).unwrap(), "walsender postgres [local] idle");
        assert_eq!(reg.get(11).unwrap().client_port, -1);
        a.update(|w| {
            w.state = WalSenderState::Streaming;
            w.sent_lsn = Some(Lsn(0xB6F5CC0));
        });
        assert_eq!(
            reg.title(10).unwrap(),
            "walsender repl 127.0.0.1(53114) streaming 0/B6F5CC0"
        );
        b.update(|w| w.activity = "sending backup \"pg_basebackup base backup\"".into());
        assert_eq!(
            reg.title(11).unwrap(),
            "walsender postgres [local] sending backup \"pg_basebackup base backup\""
        );
        drop(a);
        assert_eq!(reg.list().len(), 1);
        assert!(reg.title(10).is_none());
        assert!(!reg.stopping());
        reg.finish_shutdown();
        assert!(reg.stopping());
    }

    #[test]
    fn registry_chooses_synchronous_standbys_and_releases() {
        let reg = Arc::new(WalSenders::new());
        let stream = |r: &Registration, flush: u64| {
            r.update(|w| {
                w.state = WalSenderState::Streaming;
                w.write_lsn = Some(Lsn(flush));
                w.flush_lsn = Some(Lsn(flush));
                w.replay_lsn = Some(Lsn(flush));
            })
        };
        let a = reg
            .register(new_info(20, "repl", "a", &peer(None, 0)), 5)
            .unwrap();
        let b = reg
            .register(new_info(21, "repl", "b", &peer(None, 0)), 5)
            .unwrap();
        let backup = reg
            .register(new_info(22, "repl", "b", &peer(None, 0)), 5)
            .unwrap();
        backup.update(|w| w.state = WalSenderState::Backup);
        stream(&a, 100);
        b.update(|w| w.state = WalSenderState::Catchup);
        let states = |reg: &WalSenders| -> Vec<(i32, &'static str)> {
            reg.list()
                .iter()
                .map(|w| (w.sync_priority, w.sync_state))
                .collect()
        };
        // Not configured: everyone is async and nothing is released.
        assert_eq!(reg.release_sync_waiters(Some(20)), None);
        assert_eq!(states(&reg), vec![(0, "async"); 3]);
        // b has the higher priority but is still catching up: a is the sync standby;
        // a base backup's walsender never has a priority.
        reg.configure_sync("FIRST 1 (b, a)");
        assert_eq!(
            states(&reg),
            vec![(2, "sync"), (1, "potential"), (0, "async")]
        );
        assert_eq!(
            reg.release_sync_waiters(Some(20)),
            Some((crate::config::value::SyncMethod::Priority, 2))
        );
        assert_eq!(reg.release_sync_waiters(Some(21)), None);
        assert_eq!(
            reg.syncrep()
                .released(super::super::syncrep::WaitMode::Flush),
            Lsn(100)
        );
        // Once b streams it takes over; its older position does not move anything back.
        stream(&b, 50);
        reg.release_sync_waiters(Some(21));
        assert_eq!(
            states(&reg),
            vec![(2, "potential"), (1, "sync"), (0, "async")]
        );
        assert_eq!(
            reg.syncrep()
                .released(super::super::syncrep::WaitMode::Flush),
            Lsn(100)
        );
        stream(&b, 150);
        reg.release_sync_waiters(Some(21));
        assert_eq!(
            reg.syncrep()
                .released(super::super::syncrep::WaitMode::Apply),
            Lsn(150)
        );
        // A reload to a quorum applies at once.
        stream(&a, 400);
        reg.configure_sync("ANY 2 (a, b)");
        assert_eq!(
            states(&reg),
            vec![(1, "quorum"), (1, "quorum"), (0, "async")]
        );
        assert_eq!(
            reg.syncrep()
                .released(super::super::syncrep::WaitMode::Write),
            Lsn(150)
        );
        // A freed slot is reused, so a reconnecting standby wins ties again.
        drop(a);
        let a2 = reg
            .register(new_info(30, "repl", "a", &peer(None, 0)), 5)
            .unwrap();
        assert_eq!(reg.get(30).unwrap().slot_index, 0);
        stream(&a2, 400);
        reg.configure_sync("*");
        assert_eq!(
            states(&reg),
            vec![(1, "potential"), (0, "async"), (1, "sync")]
        );
    }

    /// A cascading walsender's standby is never synchronous (PostgreSQL gives it
    /// priority 0), whatever `synchronous_standby_names` says.
    #[test]
    fn cascading_walsenders_are_async() {
        let reg = Arc::new(WalSenders::new());
        let a = reg
            .register(new_info(40, "repl", "b", &peer(None, 0)), 5)
            .unwrap();
        a.update(|w| {
            w.state = WalSenderState::Streaming;
            w.flush_lsn = Some(Lsn(100));
            w.cascading = true;
        });
        reg.configure_sync("*");
        assert_eq!(reg.get(40).map(|w| w.cascading), Some(true));
        let w = &reg.list()[0];
        assert_eq!((w.sync_priority, w.sync_state), (0, "async"));
        assert_eq!(reg.release_sync_waiters(Some(40)), None);
        // The same standby streaming from a primary is synchronous.
        a.update(|w| w.cascading = false);
        let w = &reg.list()[0];
        assert_eq!((w.sync_priority, w.sync_state), (1, "sync"));
    }

    #[test]
    fn segment_sizes_show_as_postgresql() {
        assert_eq!(show_segment_size(16 << 20), "16MB");
        assert_eq!(show_segment_size(1 << 20), "1MB");
        assert_eq!(show_segment_size(1 << 30), "1GB");
    }
}
