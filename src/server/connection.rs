//! One client connection, from accept to exit.
//!
//! This file owns the life of a connection:
//! 1. [`serve`] runs the start-up phase under `authentication_timeout`: first packets
//!    (TLS upgrade, cancel requests), the StartupMessage, a connection slot, the pg_hba
//!    match and its authentication exchange ([`super::startup`]).
//! 2. After AuthenticationOk come PostgreSQL's post-authentication checks, in its order:
//!    role exists and may log in, role connection limit, REPLICATION for walsenders,
//!    reserved superuser slots, database exists and accepts connections.
//! 3. The session's settings take the StartupMessage parameters; the client gets the
//!    13 ParameterStatus messages, BackendKeyData and ReadyForQuery.
//! 4. The query loop reads frames and drives the [`Session`] inline on the connection's
//!    own backend thread (see [`super::spawn_backend`]):
//!    simple Query, or Parse/Bind/Describe/Execute/Close up to Sync (after an error,
//!    messages are skipped until Sync, as PostgreSQL does).
//! 5. On exit the session rolls back what is open, and the backend leaves the registry
//!    and frees its slot (RAII guards, so a failing task cannot leak a slot).
//!
//! What this file must never do: parse SQL or touch storage; it only moves messages
//! between the socket and the session.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::Notify;

use crate::config::hba::HbaRequest;
use crate::config::SessionSettings;
use crate::error::{sqlstate, Error, Result, Severity};
use crate::sql::{ExecResult, Session, SessionContext, TransactionStatus};

use super::protocol::{format_for, read_frame, FrontendMessage, Writer};
use super::startup::{
    authenticate, no_hba_entry, read_first_packet, AuthOutcome, FirstPacket, Peer, ReplicationMode,
    StartupParams,
};
use super::{BackendEntry, Hooks, Shared, Stream};

/// Frees a max_connections slot when dropped.
struct Slot {
    shared: Arc<Shared>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Removes a backend from the registry when dropped.
struct Registered {
    shared: Arc<Shared>,
    pid: i32,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.shared.backends().remove(&self.pid);
        // Replication slots: the backend's temporary slots go, the ones it held are free.
        self.shared.slots.connection_ended(self.pid);
    }
}

/// A connection that finished start-up.
struct Established {
    io: Box<dyn Stream>,
    /// Boxed from the start: the established connection moves through a few futures'
    /// frames on its way to the query loop, and each copy of a whole session would
    /// widen them (every backend thread keeps the stack pages its start-up touched).
    session: Box<Session>,
    /// The session's server-log lines (connections, statements, errors).
    log: super::session_log::SessionLog,
    terminate: Arc<AtomicBool>,
    terminate_notify: Arc<Notify>,
    /// What the idle sweeper watches (super::idle_trim).
    idle: Arc<super::idle_trim::IdleState>,
    cancel: Arc<AtomicBool>,
    _slot: Option<Slot>,
    _registered: Registered,
    /// Set for replication connections: their walsender registration and mode.
    walsender: Option<(
        crate::replication::walsender::Registration,
        ReplicationMode,
        String,
    )>,
}

/// Serves one accepted connection to the end.
pub async fn serve(io: Box<dyn Stream>, peer: Peer, is_tcp: bool, shared: Arc<Shared>) {
    super::session_log::connection_received(shared.config().get_bool("log_connections"), &peer);
    let timeout =
        Duration::from_secs(shared.config().get_int("authentication_timeout").max(1) as u64);
    let established =
        match tokio::time::timeout(timeout, start(io, peer, is_tcp, shared.clone())).await {
            Ok(Some(e)) => e,
            Ok(None) => return,
            Err(_) => {
                tracing::warn!(
                    severity = "FATAL",
                    "canceling authentication due to timeout"
                );
                return;
            }
        };
    if established.walsender.is_some() {
        return serve_walsender(established, shared).await;
    }
    query_loop(established, shared).await;
}

/// Hands an established replication connection to the walsender, keeping the
/// backend's guards alive until it ends.
async fn serve_walsender(conn: Established, shared: Arc<Shared>) {
    let Established {
        io,
        session,
        log,
        terminate,
        terminate_notify,
        idle: _,
        cancel,
        _slot,
        _registered,
        walsender,
    } = conn;
    let Some((registration, mode, database)) = walsender else {
        return;
    };
    let config = shared.clone();
    crate::replication::walsender::serve(crate::replication::walsender::WalSenderConn {
        io,
        session: *session,
        shared,
        mode,
        database,
        registration,
        terminate,
        terminate_notify,
        cancel,
    })
    .await;
    log.disconnected(config.config().get_bool("log_disconnections"));
}

/// Sends a FATAL error (best effort) and logs it.
async fn send_fatal(io: &mut Box<dyn Stream>, e: Error) {
    let e = if e.severity < Severity::Fatal {
        e.with_severity(Severity::Fatal)
    } else {
        e
    };
    super::log_error(&e);
    let mut w = Writer::new();
    // The log keeps the DETAIL; PostgreSQL does not send it to the client for auth failures.
    let client = if e.code == sqlstate::INVALID_PASSWORD {
        Error { detail: None, ..e }
    } else {
        e
    };
    w.error(&client);
    let _ = w.flush(io).await;
}

async fn start(
    mut io: Box<dyn Stream>,
    mut peer: Peer,
    is_tcp: bool,
    shared: Arc<Shared>,
) -> Option<Established> {
    // 1. First packets: SSL/GSS negotiation and cancel requests.
    let mut tls_description = None;
    let pairs = loop {
        match read_first_packet(&mut io).await {
            Ok(FirstPacket::Closed) => return None,
            Ok(FirstPacket::Cancel { pid, key }) => {
                shared.cancel_request(pid, key);
                return None;
            }
            Ok(FirstPacket::Gss) => {
                let mut w = Writer::new();
                w.raw(b"N");
                w.flush(&mut io).await.ok()?;
            }
            Ok(FirstPacket::Ssl) => {
                let mut w = Writer::new();
                match (&shared.tls, is_tcp && !peer.ssl) {
                    (Some(acceptor), true) => {
                        w.raw(b"S");
                        w.flush(&mut io).await.ok()?;
                        match acceptor.accept(io).await {
                            Ok(tls) => {
                                tls_description = super::tls::describe(tls.get_ref().1);
                                io = Box::new(tls);
                                peer.ssl = true;
                            }
                            Err(e) => {
                                tracing::warn!(
                                    severity = "LOG",
                                    "could not accept SSL connection: {e}"
                                );
                                return None;
                            }
                        }
                    }
                    _ => {
                        w.raw(b"N");
                        w.flush(&mut io).await.ok()?;
                    }
                }
            }
            Ok(FirstPacket::Startup { version, params }) => {
                if version & 0xffff != 0 {
                    negotiate_protocol_version(&mut io, &params).await.ok()?;
                }
                break params;
            }
            Err(e) if e.code == sqlstate::PROTOCOL_VIOLATION => {
                // PostgreSQL only logs malformed first packets (COMMERROR) and hangs up.
                tracing::warn!(severity = "LOG", "{}", e.message);
                return None;
            }
            Err(e) => {
                send_fatal(&mut io, e).await;
                return None;
            }
        }
    };
    let params = match StartupParams::from_pairs(pairs) {
        Ok(p) => p,
        Err(e) => {
            send_fatal(&mut io, e).await;
            return None;
        }
    };
    let config = shared.config();
    let replication = params.replication;
    // A standby refuses clients before consistency or without hot_standby (57P03).
    if let Some(e) =
        crate::standby::connection_refusal(&shared.engine, &config, replication.is_some())
    {
        send_fatal(&mut io, e).await;
        return None;
    }

    // 2. A connection slot, before any authentication (walsenders have their own pool).
    let slot = if replication.is_none() {
        let max = config.get_int("max_connections") as usize;
        if shared.active.fetch_add(1, Ordering::SeqCst) >= max {
            shared.active.fetch_sub(1, Ordering::SeqCst);
            send_fatal(
                &mut io,
                Error::fatal(
                    sqlstate::TOO_MANY_CONNECTIONS,
                    "sorry, too many clients already",
                ),
            )
            .await;
            return None;
        }
        Some(Slot {
            shared: shared.clone(),
        })
    } else {
        None
    };

    // 3. pg_hba.conf and the authentication exchange.
    let engine = shared.engine.clone();
    let hba = shared.hba();
    let request = HbaRequest {
        local: !is_tcp,
        addr: peer.addr,
        ssl: peer.ssl,
        database: &params.database,
        user: &params.user,
        physical_replication: replication == Some(ReplicationMode::Physical),
    };
    let is_member = |role: &str, group: &str| engine.is_member_of(role, group);
    let Some(line) = hba.find(&request, &is_member).cloned() else {
        drop(slot); // (free the slot before the client hears of the refusal)
        send_fatal(&mut io, no_hba_entry(&peer, &params)).await;
        return None;
    };
    let role = engine.role(&params.user);
    let mut w = Writer::new();
    let password_encryption = config.get_str("password_encryption");
    match authenticate(
        &mut io,
        &mut w,
        &line,
        &params,
        &peer,
        role.as_ref(),
        &password_encryption,
    )
    .await
    {
        Ok(AuthOutcome::Ok) => {}
        Ok(AuthOutcome::ClientLeft) => return None,
        Err(e) => {
            let _ = w.flush(&mut io).await;
            drop(slot); // (free the slot before the client hears of the refusal)
            send_fatal(&mut io, e).await;
            return None;
        }
    }
    w.auth(pgwire::messages::startup::Authentication::Ok);

    // 4. Post-authentication checks, in PostgreSQL's order.
    if let Err(e) = authorize(&shared, &params, role.as_ref(), &config) {
        let _ = w.flush(&mut io).await;
        drop(slot); // (free the slot before the client hears of the refusal)
        send_fatal(&mut io, e).await;
        return None;
    }
    let role = role.expect("authorize checked that the role exists");

    // 5. Session settings from the StartupMessage.
    let mut settings = SessionSettings::new(config.clone());
    settings.set_internal("is_superuser", if role.superuser { "on" } else { "off" });
    settings.set_internal("session_authorization", &role.name);
    if shared.engine.in_recovery() {
        settings.set_internal("in_hot_standby", "on");
        settings.set_internal("transaction_read_only", "on");
    }
    let mut startup_settings = params.settings.clone();
    if let Some(options) = &params.options {
        match SessionSettings::parse_options(options) {
            Ok(pairs) => startup_settings.extend(pairs),
            Err(e) => {
                let _ = w.flush(&mut io).await;
                drop(slot); // (free the slot before the client hears of the refusal)
                send_fatal(&mut io, e).await;
                return None;
            }
        }
    }
    for (name, value) in &startup_settings {
        if let Err(e) = settings.apply_startup(name, value) {
            let _ = w.flush(&mut io).await;
            drop(slot); // (free the slot before the client hears of the refusal)
            send_fatal(&mut io, e).await;
            return None;
        }
    }

    // 6. Register the backend and greet the client.
    let pid = shared.next_pid.fetch_add(1, Ordering::SeqCst);
    let secret: i32 = rand::thread_rng().gen();
    let cancel = Arc::new(AtomicBool::new(false));
    let terminate = Arc::new(AtomicBool::new(false));
    let terminate_notify = Arc::new(Notify::new());
    let idle = Arc::new(super::idle_trim::IdleState::default());
    shared.backends().insert(
        pid,
        BackendEntry {
            secret,
            cancel: cancel.clone(),
            terminate: terminate.clone(),
            terminate_notify: terminate_notify.clone(),
            // A walsender's wake-ups are its own (it ends on any).
            idle: replication.is_none().then(|| idle.clone()),
            user: role.name.clone(),
            database: params.database.clone(),
            counted: slot.is_some(),
        },
    );
    let registered = Registered {
        shared: shared.clone(),
        pid,
    };
    let application_name = settings.get_str("application_name");
    let log = super::session_log::SessionLog::new(
        pid,
        &role.name,
        &params.database,
        &application_name,
        &peer,
    );
    log.authorized(
        config.get_bool("log_connections"),
        replication.is_some(),
        startup_settings
            .iter()
            .find(|(n, _)| n == "application_name")
            .map(|(_, v)| v.as_str()),
        tls_description.as_deref(),
    );
    // Walsenders take one of max_wal_senders places (PostgreSQL's InitWalSenderSlot).
    let walsender = match replication {
        Some(mode) => {
            let info =
                crate::replication::walsender::new_info(pid, &role.name, &application_name, &peer);
            let max = config.get_int("max_wal_senders").max(0) as usize;
            match shared.walsenders.register(info, max) {
                Ok(r) => Some((r, mode, params.database.clone())),
                Err(e) => {
                    let _ = w.flush(&mut io).await;
                    send_fatal(&mut io, e).await;
                    return None;
                }
            }
        }
        None => None,
    };
    for (name, value) in settings.reported() {
        w.parameter_status(name, &value);
    }
    let _ = settings.take_reported_changes();
    w.backend_key(pid, secret);
    w.ready(b'I');
    if w.flush(&mut io).await.is_err() {
        return None;
    }
    let ctx = SessionContext {
        user: role.name.clone(),
        database: params.database.clone(),
        backend_pid: pid,
        cancel: cancel.clone(),
        hooks: Arc::new(Hooks {
            shared: shared.clone(),
        }),
        application_name,
    };
    let mut session = Box::new(Session::new(shared.engine.clone(), settings, ctx));
    session.set_client(
        peer.addr.map(|a| a.to_string()),
        peer.addr.map(|_| i32::from(peer.port)),
    );
    if walsender.is_some() {
        session.set_walsender();
    }
    Some(Established {
        io,
        session,
        log,
        terminate,
        terminate_notify,
        idle,
        cancel,
        _slot: slot,
        _registered: registered,
        walsender,
    })
}

/// PostgreSQL's post-authentication checks (InitPostgres order).
fn authorize(
    shared: &Shared,
    params: &StartupParams,
    role: Option<&crate::storage::RoleInfo>,
    config: &crate::config::ServerConfig,
) -> Result<()> {
    let fatal = |code, msg: String| Err(Error::fatal(code, msg));
    let Some(role) = role else {
        return fatal(
            sqlstate::INVALID_AUTHORIZATION_SPECIFICATION,
            format!("role \"{}\" does not exist", params.user),
        );
    };
    if !role.login {
        return fatal(
            sqlstate::INVALID_AUTHORIZATION_SPECIFICATION,
            format!("role \"{}\" is not permitted to log in", role.name),
        );
    }
    if role.conn_limit >= 0 && !role.superuser {
        let count = shared
            .backends()
            .values()
            .filter(|b| b.user == role.name && b.counted)
            .count();
        if count as i32 >= role.conn_limit {
            return fatal(
                sqlstate::TOO_MANY_CONNECTIONS,
                format!("too many connections for role \"{}\"", role.name),
            );
        }
    }
    if params.replication.is_some() && !(role.replication || role.superuser) {
        return fatal(
            sqlstate::INSUFFICIENT_PRIVILEGE,
            "must be superuser or replication role to start walsender".into(),
        );
    }
    if params.replication.is_none() && !role.superuser {
        let max = config.get_int("max_connections") as usize;
        let reserved = config.get_int("superuser_reserved_connections") as usize;
        let active = shared.active.load(Ordering::SeqCst);
        if reserved > 0 && max.saturating_sub(active) < reserved {
            return fatal(
                sqlstate::TOO_MANY_CONNECTIONS,
                "remaining connection slots are reserved for non-replication superuser connections"
                    .into(),
            );
        }
    }
    if params.replication != Some(ReplicationMode::Physical) {
        let Some(db) = shared.engine.database(&params.database) else {
            return fatal(
                sqlstate::INVALID_CATALOG_NAME,
                format!("database \"{}\" does not exist", params.database),
            );
        };
        if !db.allow_connections {
            return fatal(
                sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!(
                    "database \"{}\" is not currently accepting connections",
                    db.name
                ),
            );
        }
        if !role.superuser {
            crate::sql::privileges::check_connect(&shared.engine, &role.name, &db.name)?;
        }
        if db.conn_limit >= 0 && !role.superuser {
            let count = shared
                .backends()
                .values()
                .filter(|b| b.database == db.name && b.counted)
                .count();
            if count as i32 >= db.conn_limit {
                return fatal(
                    sqlstate::TOO_MANY_CONNECTIONS,
                    format!("too many connections for database \"{}\"", db.name),
                );
            }
        }
    }
    Ok(())
}

/// Answers a StartupMessage asking for protocol 3.x (x > 0) or `_pq_.` options with
/// NegotiateProtocolVersion: tusk speaks 3.0 and knows no protocol options.
async fn negotiate_protocol_version(
    io: &mut Box<dyn Stream>,
    params: &[(String, String)],
) -> std::io::Result<()> {
    use bytes::BufMut;
    let unknown: Vec<&str> = params
        .iter()
        .filter(|(n, _)| n.starts_with("_pq_."))
        .map(|(n, _)| n.as_str())
        .collect();
    let mut body = bytes::BytesMut::new();
    body.put_i32(0);
    body.put_i32(unknown.len() as i32);
    for n in unknown {
        body.put_slice(n.as_bytes());
        body.put_u8(0);
    }
    let mut w = Writer::new();
    let mut msg = vec![b'v'];
    msg.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    msg.extend_from_slice(&body);
    w.raw(&msg);
    w.flush(io).await
}

/// Runs `f` on the session, inline on this connection's backend thread (blocking it
/// while the session waits for a lock or a WAL flush; nothing else runs on the thread),
/// and gives the session back. `None` when the session code panicked (a bug): the
/// connection must end, and the panic stays confined to it.
///
/// The session may be held by value or boxed: the query loop boxes it, so that handing
/// it over per message moves a pointer, not the whole session (a COPY FROM of a million
/// rows sends a million messages).
pub(crate) fn on_session<S: std::borrow::BorrowMut<Session>, T>(
    session: S,
    f: impl FnOnce(&mut Session) -> T,
) -> Option<(S, T)> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let mut session = session;
        let r = f(session.borrow_mut());
        (session, r)
    }))
    .ok()
}

fn status_byte(s: TransactionStatus) -> u8 {
    match s {
        TransactionStatus::Idle => b'I',
        TransactionStatus::InBlock => b'T',
        TransactionStatus::Failed => b'E',
    }
}

/// Queues the session's pending notices and changed reported settings.
fn queue_side_messages(s: &mut Session, w: &mut Writer) {
    for n in s.take_notices() {
        w.error(&n);
    }
    for (name, value) in s.settings_mut().take_reported_changes() {
        w.parameter_status(name, &value);
    }
}

/// A row's values encoded for a DataRow, in the formats a Bind asked for (`formats`,
/// PostgreSQL's rule: none, one for all, or one per column).
fn encoded_values<'a>(
    s: &'a Session,
    row: &'a [crate::types::Value],
    formats: &'a [i16],
    fields: Option<&'a [crate::sql::FieldDesc]>,
) -> impl ExactSizeIterator<Item = Option<Vec<u8>>> + 'a {
    row.iter().enumerate().map(move |(i, v)| {
        let ty = fields.and_then(|f| f.get(i)).map(|f| f.type_oid);
        s.encode_value_as(v, format_for(formats, i), ty)
    })
}

/// Runs one simple Query message; returns the reply bytes queued in a Writer, and
/// whether the query left the connection in COPY FROM STDIN mode (then no
/// ReadyForQuery is sent yet).
pub(crate) fn simple_query(s: &mut Session, sql: &str) -> (Writer, bool) {
    simple_query_with_errors(s, sql).0
}

/// [`simple_query`], also returning the errors sent (for the server log).
fn simple_query_with_errors(s: &mut Session, sql: &str) -> ((Writer, bool), Vec<Error>) {
    let mut w = Writer::for_replies();
    let results = s.simple_query(sql);
    let errors: Vec<Error> = results
        .iter()
        .filter_map(|r| r.as_ref().err().cloned())
        .collect();
    for r in results {
        match r {
            Ok(ExecResult::Rows { fields, rows, tag }) => {
                w.row_description(&fields, &[]);
                for row in &rows {
                    w.data_row_of(encoded_values(s, row, &[], Some(&fields)));
                }
                w.command_complete(&tag);
            }
            Ok(ExecResult::Command { tag }) => w.command_complete(&tag),
            Ok(ExecResult::Empty) => w.empty_message(b'I'),
            Ok(ExecResult::CopyIn { columns, binary }) => {
                queue_side_messages(s, &mut w);
                w.copy_in_response(columns, binary);
                return ((w, true), errors);
            }
            Ok(ExecResult::CopyOut {
                columns,
                binary,
                data,
                tag,
            }) => {
                w.copy_out_response(columns, binary);
                for d in &data {
                    w.copy_data(d);
                }
                w.copy_done();
                w.command_complete(&tag);
            }
            Err(e) => w.error(&e),
        }
    }
    queue_side_messages(s, &mut w);
    w.ready(status_byte(s.transaction_status()));
    ((w, false), errors)
}

/// Handles one message while in COPY FROM STDIN; returns the reply and whether COPY
/// mode continues. Errors end COPY mode with ErrorResponse + ReadyForQuery; later
/// CopyData/CopyDone/CopyFail are then ignored, as PostgreSQL does.
pub(crate) fn copy_in_message(s: &mut Session, msg: FrontendMessage) -> (Writer, bool) {
    let mut w = Writer::new();
    let outcome: Result<Option<String>> = match msg {
        FrontendMessage::CopyData(data) => s.copy_data(&data).map(|_| None),
        FrontendMessage::CopyDone => match s.copy_done() {
            Ok(ExecResult::Command { tag }) => Ok(Some(tag)),
            Ok(_) => Ok(Some(String::new())),
            Err(e) => Err(e),
        },
        FrontendMessage::CopyFail(m) => Err(s.copy_fail(&m)),
        FrontendMessage::Flush | FrontendMessage::Sync => Ok(None),
        other => {
            let tag = match other {
                FrontendMessage::Query(_) => b'Q',
                FrontendMessage::Parse { .. } => b'P',
                FrontendMessage::Bind { .. } => b'B',
                FrontendMessage::Describe { .. } => b'D',
                FrontendMessage::Execute { .. } => b'E',
                FrontendMessage::Close { .. } => b'C',
                _ => b'p',
            };
            Err(s.copy_fail("").with_code_and_message(
                sqlstate::PROTOCOL_VIOLATION,
                format!("unexpected message type 0x{tag:02X} during COPY from stdin"),
            ))
        }
    };
    match outcome {
        Ok(None) => return (w, true),
        Ok(Some(tag)) => w.command_complete(&tag),
        Err(e) => w.error(&e),
    }
    queue_side_messages(s, &mut w);
    w.ready(status_byte(s.transaction_status()));
    (w, false)
}

/// [`extended`] with the server-log lines around Parse, Bind and Execute
/// (`log_statement`, `log_min_duration_statement`, errors). Returns whether it failed.
fn extended_logged(
    s: &mut Session,
    msg: FrontendMessage,
    log: &mut super::session_log::SessionLog,
    w: &mut Writer,
) -> bool {
    // Parse and Bind are timed only when their durations may be logged; an Execute
    // always is (it may itself SET log_min_duration_statement, which then applies to
    // it, as in PostgreSQL).
    let timed = |s: &Session| super::session_log::durations_logged(s).then(std::time::Instant::now);
    let took =
        |started: Option<std::time::Instant>| started.map_or(Default::default(), |t| t.elapsed());
    let (failed, _) = match &msg {
        FrontendMessage::Parse { name, query, .. } => {
            let started = timed(s);
            let r = extended(s, &msg, w);
            log.parse(s, name, query, took(started), r.1.as_ref());
            r
        }
        FrontendMessage::Bind {
            portal, statement, ..
        } => {
            let started = timed(s);
            let r = extended(s, &msg, w);
            log.bind(s, portal, statement, took(started), r.1.as_ref());
            r
        }
        FrontendMessage::Execute { portal, .. } => {
            let logged = log.before_execute(s, portal);
            let started = std::time::Instant::now();
            let r = extended(s, &msg, w);
            log.after_execute(s, portal, logged, started.elapsed(), r.1.as_ref());
            r
        }
        _ => {
            let r = extended(s, &msg, w);
            log.errors(r.1.as_slice(), None);
            r
        }
    };
    failed
}

/// Runs one extended-protocol message, its replies queued on `w`. Returns whether it
/// failed (then messages are skipped until Sync) and the error sent.
fn extended(s: &mut Session, msg: &FrontendMessage, w: &mut Writer) -> (bool, Option<Error>) {
    let result: Result<()> = (|| {
        match msg {
            FrontendMessage::Parse {
                name,
                query,
                param_types,
            } => {
                s.parse(name, query, param_types)?;
                w.empty_message(b'1');
            }
            FrontendMessage::Bind {
                portal,
                statement,
                param_formats,
                params,
                result_formats,
            } => {
                s.bind(portal, statement, param_formats, params, result_formats)?;
                w.empty_message(b'2');
            }
            FrontendMessage::Describe { kind: b'S', name } => {
                let (params, fields) = s.describe_statement(name)?;
                w.parameter_description(&params);
                match fields {
                    Some(f) => w.row_description(&f, &[]),
                    None => w.empty_message(b'n'),
                }
            }
            FrontendMessage::Describe { name, .. } => match s.describe_portal(name)? {
                Some(f) => {
                    w.row_description(&f, s.portal_formats(name));
                }
                None => w.empty_message(b'n'),
            },
            FrontendMessage::Execute { portal, max_rows } => {
                let fields = s.describe_portal(portal).ok().flatten();
                let (rows, tag) = s.execute(portal, (*max_rows).max(0) as usize)?;
                let formats = s.portal_formats(portal);
                let fields = fields.as_deref().map(|f| f.as_slice());
                for row in &rows {
                    w.data_row_of(encoded_values(s, row, formats, fields));
                }
                match tag {
                    Some(t) if t.is_empty() => w.empty_message(b'I'),
                    Some(t) => w.command_complete(&t),
                    None => w.empty_message(b's'),
                }
            }
            FrontendMessage::Close { kind, name } => {
                if *kind == b'S' {
                    s.close_statement(name);
                } else {
                    s.close_portal(name);
                }
                w.empty_message(b'3');
            }
            _ => {}
        }
        Ok(())
    })();
    let error = match result {
        Ok(()) => None,
        Err(e) => {
            w.error(&e);
            Some(e)
        }
    };
    queue_side_messages(s, w);
    (error.is_some(), error)
}

/// The read buffer of an established connection, PostgreSQL's `PQ_RECV_BUFFER_SIZE`;
/// a larger message is read past it. Never zero-filled ([`super::recv_buffer`]): an idle
/// connection keeps resident only the pages its messages reached.
const RECV_BUFFER: usize = 8 * 1024;

async fn query_loop(conn: Established, shared: Arc<Shared>) {
    let Established {
        io,
        session,
        mut log,
        terminate,
        terminate_notify,
        idle,
        cancel,
        _slot,
        _registered,
        walsender: _,
    } = conn;
    let mut io = super::recv_buffer::RecvBuffer::with_capacity(RECV_BUFFER, io);
    let mut session = Some(session);
    let mut generation = shared.config_generation.load(Ordering::SeqCst);
    let mut skip_until_sync = false;
    let mut copy_in = false;
    let mut shutdown = shared.shutdown.subscribe();
    let mut pending = Writer::new();
    // The start-up's transient blocks go back for the next connections to reuse.
    super::idle_trim::flush_allocator_cache();
    loop {
        // A COPY's input is read in pieces as large as the session takes at once (each
        // read of at most 8 kB cost a pass through this loop for some 400 rows of
        // `pgbench -i`); the usual buffer comes back when the COPY ends.
        io.set_capacity(if copy_in {
            COPY_DATA_BATCH
        } else {
            RECV_BUFFER
        });
        let frame = {
            // The read stays the same future across the other branches: a frame read
            // halfway is never dropped.
            let read = read_frame(&mut io);
            tokio::pin!(read);
            loop {
                tokio::select! {
                    f = &mut read => break f,
                    _ = terminate_notify.notified() => {
                        // Set before every termination's wake-up (terminate_backend,
                        // terminate_all). The same wake-up serves the idle sweeper
                        // (super::idle_trim), and one may come late: a request the end
                        // of a long statement withdrew leaves a wake-up with nothing
                        // to do, and the wait goes on.
                        if terminate.load(Ordering::SeqCst) {
                            break Err(shared.termination_error());
                        }
                        if idle.take_request() {
                            super::idle_trim::request();
                        }
                    }
                    _ = shutdown.changed() => {
                        let mode = *shutdown.borrow();
                        if mode != super::ShutdownMode::Running
                            && mode != super::ShutdownMode::Smart
                        {
                            break Err(shared.termination_error());
                        }
                    }
                }
            }
        };
        if terminate.load(Ordering::SeqCst) {
            pending.error(&shared.termination_error_of(_registered.pid));
            let _ = pending.flush(&mut io).await;
            break;
        }
        let (tag, body) = match frame {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                pending.error(&e);
                let _ = pending.flush(&mut io).await;
                if e.severity >= Severity::Fatal {
                    super::log_error(&e);
                }
                break;
            }
        };
        let msg = match tag {
            // COPY data is taken as it is, with the CopyData messages already in the
            // buffer behind it (see `take_buffered_copy_data`).
            b'd' => {
                let mut data = body;
                if copy_in {
                    take_buffered_copy_data(&mut io, &mut data);
                }
                Ok(FrontendMessage::CopyData(data))
            }
            _ => FrontendMessage::decode(tag, &body),
        };
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                super::log_error(&e);
                pending.error(&e);
                let _ = pending.flush(&mut io).await;
                break;
            }
        };
        let current = shared.config_generation.load(Ordering::SeqCst);
        if current != generation {
            generation = current;
            if let Some(s) = session.as_mut() {
                s.settings_mut().update_server(shared.config());
            }
        }
        let Some(s) = session.take() else { break };
        cancel.store(false, Ordering::SeqCst);
        idle.message_begins();
        let mut force_flush = false;
        let (s, reply, failed) = match msg {
            FrontendMessage::Terminate => {
                session = Some(s);
                break;
            }
            m if copy_in => match on_session(s, move |s| copy_in_message(s, m)) {
                Some((s, (w, still))) => {
                    copy_in = still;
                    (s, w, false)
                }
                None => break,
            },
            FrontendMessage::Query(sql) => {
                skip_until_sync = false;
                let log = &log;
                match on_session(s, move |s| {
                    log.simple_query(s, &sql, |s| simple_query_with_errors(s, &sql))
                }) {
                    Some((s, (w, copying))) => {
                        copy_in = copying;
                        (s, w, false)
                    }
                    None => break,
                }
            }
            m @ (FrontendMessage::Parse { .. }
            | FrontendMessage::Bind { .. }
            | FrontendMessage::Describe { .. }
            | FrontendMessage::Execute { .. }
            | FrontendMessage::Close { .. }
            | FrontendMessage::Sync
            | FrontendMessage::Flush) => {
                // Extended-protocol messages already in the buffer (a client's
                // Bind/Execute/Sync usually arrive in one packet) run as one batch on one
                // session call.
                // Bind, Describe, Execute, Sync: room for a usual batch at once.
                let mut batch = Vec::with_capacity(4);
                batch.push(m);
                while !matches!(batch.last(), Some(FrontendMessage::Sync)) {
                    match take_buffered_frame(&mut io) {
                        Some(next) => batch.push(next),
                        None => break,
                    }
                }
                force_flush = batch
                    .iter()
                    .any(|m| matches!(m, FrontendMessage::Sync | FrontendMessage::Flush));
                let skip = skip_until_sync;
                let log = &mut log;
                match on_session(s, move |s| extended_batch(s, batch, skip, log)) {
                    Some((s, (w, skip_after))) => {
                        skip_until_sync = skip_after;
                        (s, w, false)
                    }
                    None => break,
                }
            }
            FrontendMessage::CopyData(_)
            | FrontendMessage::CopyDone
            | FrontendMessage::CopyFail(_) => {
                // Outside COPY, PostgreSQL ignores these.
                (s, Writer::new(), false)
            }
            FrontendMessage::FunctionCall { oid } => {
                skip_until_sync = false;
                match on_session(s, move |s| {
                    let e = s.function_call(oid);
                    let mut w = Writer::new();
                    w.error(&e);
                    w.ready(status_byte(s.transaction_status()));
                    w
                }) {
                    Some((s, w)) => (s, w, false),
                    None => break,
                }
            }
            FrontendMessage::Password(_) => {
                let e = Error::fatal(
                    sqlstate::PROTOCOL_VIOLATION,
                    format!("invalid frontend message type {}", b'p'),
                );
                pending.error(&e);
                let _ = pending.flush(&mut io).await;
                session = Some(s);
                break;
            }
        };
        session = Some(s);
        idle.message_ends();
        if failed {
            skip_until_sync = true;
        }
        if terminate.load(Ordering::SeqCst) {
            // A commit whose wait for synchronous standbys was ended by the
            // termination says so in a WARNING, and PostgreSQL sends nothing after it.
            match session.as_mut().and_then(|s| s.take_exit_warning()) {
                Some(w) => pending.error(&w),
                None => pending.error(&shared.termination_error_of(_registered.pid)),
            }
            let _ = pending.flush(&mut io).await;
            break;
        }
        pending.append(reply);
        let flush_now = force_flush
            || matches!(tag, b'Q' | b'S' | b'H' | b'c' | b'f' | b'F')
            || pending.pending() > 64 * 1024;
        if flush_now && pending.flush(&mut io).await.is_err() {
            break;
        }
    }
    if let Some(s) = session {
        let _ = on_session(s, |s| s.terminate());
    }
    log.disconnected(shared.config().get_bool("log_disconnections"));
}

/// Runs a batch of extended-protocol messages: after an error, messages are skipped up
/// to Sync, as PostgreSQL does. Returns the replies and whether skipping goes on.
fn extended_batch(
    s: &mut Session,
    msgs: Vec<FrontendMessage>,
    mut skip: bool,
    log: &mut super::session_log::SessionLog,
) -> (Writer, bool) {
    let mut w = Writer::for_replies();
    for m in msgs {
        match m {
            FrontendMessage::Sync => {
                skip = false;
                let r = s.sync();
                queue_side_messages(s, &mut w);
                if let Err(e) = r {
                    w.error(&e);
                }
                w.ready(status_byte(s.transaction_status()));
            }
            FrontendMessage::Flush => {}
            _ if skip => {}
            m => {
                skip = extended_logged(s, m, log, &mut w);
            }
        }
    }
    (w, skip)
}

/// The length (type byte included) of the complete frame of a type `wanted` accepts
/// at the start of `buf`; `None` when it is incomplete, of another type or of a bad
/// length — such a frame stays in the buffer for [`read_frame`] (which reports a bad
/// length).
fn complete_frame(buf: &[u8], wanted: impl Fn(u8) -> bool) -> Option<usize> {
    if buf.len() < 5 || !wanted(buf[0]) {
        return None;
    }
    let len = i32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
    let limit = super::protocol::limit_for(buf[0])?;
    if len < 4 || len as usize - 4 > limit {
        return None;
    }
    let total = 1 + len as usize;
    (buf.len() >= total).then_some(total)
}

/// Appends to `data` the payloads of the complete CopyData messages waiting in the
/// read buffer, up to [`COPY_DATA_BATCH`] bytes: COPY FROM's stream may be split
/// anywhere, so consecutive messages are one piece of it, handed to the session in one
/// call instead of one call (and one frame allocation) per message — clients such as
/// pgbench send a message per row.
fn take_buffered_copy_data(
    io: &mut super::recv_buffer::RecvBuffer<Box<dyn Stream>>,
    data: &mut Vec<u8>,
) {
    use tokio::io::AsyncBufRead;
    let mut taken = 0;
    while data.len() < COPY_DATA_BATCH {
        let buf = &io.buffer()[taken..];
        let Some(total) = complete_frame(buf, |t| t == b'd') else {
            break;
        };
        data.extend_from_slice(&buf[5..total]);
        taken += total;
    }
    std::pin::Pin::new(io).consume(taken);
}

/// The most COPY data gathered from the read buffer for one call of the session.
const COPY_DATA_BATCH: usize = 256 * 1024;

/// Takes the next frame from the read buffer if it is a complete, well-formed
/// extended-protocol message; anything else stays for [`read_frame`] to read (and to
/// report, if it is malformed).
fn take_buffered_frame(
    io: &mut super::recv_buffer::RecvBuffer<Box<dyn Stream>>,
) -> Option<FrontendMessage> {
    use tokio::io::AsyncBufRead;
    let buf = io.buffer();
    let total = complete_frame(buf, |t| {
        matches!(t, b'P' | b'B' | b'D' | b'E' | b'C' | b'S' | b'H')
    })?;
    let msg = FrontendMessage::decode(buf[0], &buf[5..total]).ok()?;
    std::pin::Pin::new(io).consume(total);
    Some(msg)
}
