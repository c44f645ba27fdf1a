//! The walreceiver: a replication client that streams WAL from the primary named by
//! `primary_conninfo` into this standby's `pg_wal/`.
//!
//! What it owns: the connection to the primary (startup packet with
//! `replication=true`, cleartext / MD5 / SCRAM-SHA-256 authentication as a client),
//! the replication commands it sends (IDENTIFY_SYSTEM, START_REPLICATION), the
//! [`RawWalWriter`] that places received bytes, the `r` status replies and `h` hot
//! standby feedback, and the state `pg_stat_wal_receiver` shows ([`status`]).
//!
//! Invariants:
//! - Received bytes are flushed before anyone is told about them: the engine's receive
//!   LSN only moves to a flushed position, and while a batch is written but not yet
//!   flushed, replay holds back records ending in it (`Engine::set_unflushed_from`,
//!   cleared by [`Unflushed`] however the stream ends).
//! - Streaming is requested only once replay has used all the valid WAL in the archive
//!   and `pg_wal/` ([`Engine::wal_wanted`]), and starts at the segment start of where
//!   that WAL ends, on the timeline owning that position, as PostgreSQL's startup
//!   process and walreceiver do;
//!   bytes already present are rewritten with the same contents. Every reconnect
//!   waits for replay to run out of WAL again.
//! - Any failure ends the connection, is logged with PostgreSQL's texts, and the loop
//!   reconnects after `wal_retrieve_retry_interval`.
//!
//! What it must never do: apply WAL (replay does), or write anywhere but `pg_wal/`.
//!
//! One connection, step by step:
//! 0. wait until replay reports where its local WAL ends;
//! 1. parse `primary_conninfo`, connect (TCP, or the Unix socket
//!    `<dir>/.s.PGSQL.<port>`), send the StartupMessage, authenticate;
//! 2. IDENTIFY_SYSTEM; a different system identifier is FATAL; when the primary is on
//!    a newer timeline, the history files this standby lacks are fetched with
//!    TIMELINE_HISTORY into `pg_wal/` (`fetching timeline history file for timeline
//!    N from primary server`), for replay to follow once the old timeline ends;
//! 3. START_REPLICATION [SLOT s] PHYSICAL X/Y TIMELINE n, n being the timeline that
//!    owns the needed position in replay's history → CopyBothResponse; log
//!    `started streaming WAL from primary at X/Y on timeline n`;
//! 4. write each `w` message as it comes, taking every message already waiting (up to
//!    [`MAX_BATCH_MESSAGES`] / [`MAX_BATCH_BYTES`]); when none is waiting, flush once,
//!    publish the receive LSN, send `r` — so a burst of small messages costs one
//!    fsync, as in PostgreSQL's walreceiver (which also reports the write position
//!    before the flush, as this one does); answer a `k` that asks for a reply the
//!    same way; report the apply position as soon as replay moves it (replay's
//!    progress signal wakes the loop, no polling); send `r` (and `h`) every
//!    `wal_receiver_status_interval`; give up after `wal_receiver_timeout` of silence;
//! 5. a CopyDone from the primary ends streaming ("replication terminated by primary
//!    server", also at the end of a historic timeline), and so does a reload that
//!    changes `primary_conninfo` or `primary_slot_name` (the loop then reconnects with
//!    the new values), and a promotion request (`terminating walreceiver process due
//!    to administrator command`); every end is counted (`Engine::forget_wal_wanted`)
//!    so that the replay loop turns to the archive before streaming again.

use super::client::{self, error_fields, parse_data_row, Client};
use super::conninfo::{self, Conninfo};
use crate::config::ServerConfig;
use crate::error::{sqlstate, Error, Result};
use crate::proctitle::ProcTitle;
use crate::server::ShutdownMode;
use crate::storage::wal::raw::RawWalWriter;
use crate::storage::wal::WalOptions;
use crate::storage::{Engine, Lsn};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often the loop looks whether replay has run out of local WAL.
const WANTED_POLL: Duration = Duration::from_millis(50);

/// A function returning the configuration in force (it changes on reload).
pub type ConfigSource = Arc<dyn Fn() -> Arc<ServerConfig> + Send + Sync>;

/// What `pg_stat_wal_receiver` shows about the running walreceiver.
#[derive(Debug, Clone, Default)]
pub struct ReceiverStatus {
    /// The walreceiver's pid (this process).
    pub pid: i32,
    /// `starting`, `streaming`, `waiting`, `restarting` or `stopping`.
    pub status: String,
    /// Where streaming started.
    pub receive_start_lsn: Lsn,
    /// The timeline streaming started on.
    pub receive_start_tli: u32,
    /// End of the WAL written so far.
    pub written_lsn: Lsn,
    /// End of the WAL flushed so far.
    pub flushed_lsn: Lsn,
    /// The timeline of the last WAL received.
    pub received_tli: u32,
    /// Send time of the last message from the primary (PostgreSQL microseconds).
    pub last_msg_send_time: Option<i64>,
    /// Receipt time of the last message from the primary.
    pub last_msg_receipt_time: Option<i64>,
    /// The last WAL end position the primary reported.
    pub latest_end_lsn: Lsn,
    /// When that position was reported.
    pub latest_end_time: Option<i64>,
    /// `primary_slot_name`, if any.
    pub slot_name: Option<String>,
    /// The primary's host.
    pub sender_host: String,
    /// The primary's port.
    pub sender_port: i32,
    /// `primary_conninfo` with the password hidden.
    pub conninfo: String,
}

static STATUS: Mutex<Option<ReceiverStatus>> = Mutex::new(None);

/// The walreceiver's state for `pg_stat_wal_receiver` (None when none runs).
pub fn status() -> Option<ReceiverStatus> {
    STATUS.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The rows of `pg_stat_wal_receiver`: none when no walreceiver runs; only `pid` for
/// a role that is not superuser (PostgreSQL also lets `pg_read_all_stats` see all).
pub fn pg_stat_wal_receiver_rows(privileged: bool) -> Vec<Vec<crate::types::Value>> {
    use crate::types::Value;
    let Some(s) = status() else {
        return vec![];
    };
    if !privileged {
        let mut row = vec![Value::Int4(s.pid)];
        row.extend(std::iter::repeat_n(Value::Null, 14));
        return vec![row];
    }
    let lsn = |l: Lsn| {
        if l.is_valid() {
            Value::PgLsn(l.0)
        } else {
            Value::Null
        }
    };
    let ts = |t: Option<i64>| t.map_or(Value::Null, Value::TimestampTz);
    let tli = |t: u32| {
        if t == 0 {
            Value::Null
        } else {
            Value::Int4(t as i32)
        }
    };
    vec![vec![
        Value::Int4(s.pid),
        Value::Text(s.status.clone()),
        lsn(s.receive_start_lsn),
        tli(s.receive_start_tli),
        lsn(s.written_lsn),
        lsn(s.flushed_lsn),
        tli(s.received_tli),
        ts(s.last_msg_send_time),
        ts(s.last_msg_receipt_time),
        lsn(s.latest_end_lsn),
        ts(s.latest_end_time),
        s.slot_name.clone().map_or(Value::Null, Value::Text),
        Value::Text(s.sender_host.clone()),
        Value::Int4(s.sender_port),
        Value::Text(s.conninfo.clone()),
    ]]
}

fn update_status(f: impl FnOnce(&mut ReceiverStatus)) {
    let mut s = STATUS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(st) = s.as_mut() {
        f(st);
    }
}

/// The process title's position is refreshed at most this often.
const TITLE_INTERVAL: Duration = Duration::from_millis(200);

/// How long the stream loop waits for a message or replay progress before it looks
/// at its timers (status interval, timeout, shutdown, promotion).
const QUIET_WAIT: Duration = Duration::from_millis(100);

/// The most messages the stream loop takes without waiting before it flushes.
const MAX_BATCH_MESSAGES: usize = 64;

/// The most WAL (bytes) the stream loop writes without flushing when messages keep
/// arriving back to back: a busy primary cannot postpone the flush indefinitely.
const MAX_BATCH_BYTES: u64 = 1024 * 1024;

/// The walreceiver loop: connects, streams until the link fails, waits
/// `wal_retrieve_retry_interval`, and starts again, until shutdown.
pub async fn run(
    engine: Arc<Engine>,
    config: ConfigSource,
    mut shutdown: watch::Receiver<ShutdownMode>,
) {
    loop {
        if *shutdown.borrow() != ShutdownMode::Running
            || engine.replay_stopping()
            || !engine.in_recovery()
        {
            break;
        }
        let cfg = config();
        let conninfo = cfg.get_str("primary_conninfo");
        // Replay first uses the WAL already in pg_wal/; only once it has found no more
        // does it need the primary, from where the valid local WAL ends.
        let wanted = if conninfo.is_empty() {
            None
        } else {
            engine.wal_wanted()
        };
        if let Some(from) = wanted {
            let r = tokio::select! {
                r = stream_once(&engine, &config, &conninfo, from) => r,
                _ = shutdown.changed() => Ok(()),
            };
            if let Err(e) = r {
                crate::logging::log_error(&e.with_severity(crate::error::Severity::Fatal));
            }
            // PostgreSQL's walreceiver process is gone until the next attempt: no row.
            *STATUS.lock().unwrap_or_else(|p| p.into_inner()) = None;
            // The next attempt starts from where replay then runs out of WAL.
            engine.forget_wal_wanted();
        } else if !conninfo.is_empty() {
            // Local WAL is still being replayed: look again shortly.
            tokio::select! {
                _ = tokio::time::sleep(WANTED_POLL) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        let retry = config().get_int("wal_retrieve_retry_interval").max(1) as u64;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(retry)) => {}
            _ = shutdown.changed() => {}
        }
    }
    *STATUS.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// The walreceiver's error for an ErrorResponse of the primary: `what: ERROR:  message`
/// with the primary's DETAIL, as PostgreSQL's walreceiver logs it.
fn primary_error(what: &str, body: &[u8]) -> Error {
    let (_, msg, detail, _) = error_fields(body);
    let e = Error::new(
        sqlstate::CONNECTION_FAILURE,
        format!("{what}: ERROR:  {msg}"),
    );
    match detail {
        Some(d) => e.with_detail(d),
        None => e,
    }
}

fn io_err(e: std::io::Error) -> Error {
    Error::new(
        sqlstate::CONNECTION_FAILURE,
        format!("could not receive data from WAL stream: {e}"),
    )
}

fn connect_failed(c: &Conninfo, what: String) -> Error {
    Error::new(
        sqlstate::CONNECTION_FAILURE,
        format!(
            "could not connect to the primary server: {}: {what}",
            client::place(c)
        ),
    )
}

/// Opens the replication connection and authenticates ([`client::connect`]); returns
/// the client at ReadyForQuery.
async fn connect(c: &Conninfo, app: &str) -> Result<Client> {
    if c.sslmode == "require" || c.sslmode == "verify-ca" || c.sslmode == "verify-full" {
        return Err(connect_failed(
            c,
            format!(
                "sslmode \"{}\" is not supported by this walreceiver",
                c.sslmode
            ),
        ));
    }
    let params = [
        ("database", "replication"),
        ("replication", "true"),
        ("application_name", app),
    ];
    client::connect(c, &params, &connect_failed).await
}

/// Runs a simple query and returns the first row's text values.
async fn simple_query_row(cl: &mut Client, sql: &str) -> Result<Vec<Option<String>>> {
    cl.query(sql).await.map_err(io_err)?;
    let mut row = Vec::new();
    let mut err = None;
    loop {
        let (tag, body) = cl.read().await.map_err(io_err)?;
        match tag {
            b'D' if row.is_empty() => match parse_data_row(&body) {
                Some(r) => row = r,
                None => {
                    return Err(Error::new(
                        sqlstate::PROTOCOL_VIOLATION,
                        "invalid response from primary server",
                    ))
                }
            },
            b'E' => err = Some(error_fields(&body)),
            b'Z' => break,
            _ => {}
        }
    }
    if let Some((_, msg, detail, _)) = err {
        let mut e = Error::new(sqlstate::CONNECTION_FAILURE, format!("could not receive database system identifier and timeline ID from the primary server: {msg}"));
        if let Some(d) = detail {
            e = e.with_detail(d);
        }
        return Err(e);
    }
    Ok(row)
}

fn be_u64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

/// One connection: connect, identify, stream from the segment holding `need` (where
/// replay found no more valid local WAL) until something ends it.
async fn stream_once(
    engine: &Arc<Engine>,
    config: &ConfigSource,
    conninfo_str: &str,
    need: Lsn,
) -> Result<()> {
    let cfg = config();
    let c = conninfo::parse(conninfo_str)?;
    let app = c.application_name.clone().unwrap_or_else(|| {
        let cluster = cfg.get_str("cluster_name");
        if cluster.is_empty() {
            "walreceiver".into()
        } else {
            cluster
        }
    });
    let slot = cfg.get_str("primary_slot_name");
    *STATUS.lock().unwrap_or_else(|p| p.into_inner()) = Some(ReceiverStatus {
        pid: std::process::id() as i32,
        status: "starting".into(),
        slot_name: (!slot.is_empty()).then(|| slot.clone()),
        sender_host: c.host.clone(),
        sender_port: c.port as i32,
        conninfo: hide_password(&c, &app),
        ..Default::default()
    });
    // libpq's connect_timeout bounds connecting and authenticating (a stalled link
    // would otherwise hold the walreceiver in its start-up forever).
    let mut cl = match c.connect_timeout {
        Some(limit) => tokio::time::timeout(limit, connect(&c, &app))
            .await
            .map_err(|_| connect_failed(&c, "timeout expired".into()))??,
        None => connect(&c, &app).await?,
    };
    // IDENTIFY_SYSTEM.
    let row = simple_query_row(&mut cl, "IDENTIFY_SYSTEM").await?;
    if row.len() < 3 {
        return Err(Error::new(
            sqlstate::PROTOCOL_VIOLATION,
            "invalid response from primary server",
        )
        .with_detail(format!(
            "Could not identify system: got {} rows and {} fields, expected 1 rows and 4 or more fields.",
            usize::from(!row.is_empty()),
            row.len()
        )));
    }
    let primary_id = row[0].clone().unwrap_or_default();
    let mine = engine.system_identifier().to_string();
    if primary_id != mine {
        return Err(Error::fatal(
            sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
            "database system identifier differs between the primary and standby",
        )
        .with_detail(format!(
            "The primary's identifier is {primary_id}, the standby's identifier is {mine}."
        )));
    }
    let primary_tli: u32 = row[1].as_deref().and_then(|t| t.parse().ok()).unwrap_or(0);
    let history = engine.recovery_history();
    let target = history.first().map_or(engine.timeline(), |e| e.tli);
    if primary_tli < target {
        return Err(Error::fatal(
            sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!(
                "highest timeline {primary_tli} of the primary is behind recovery timeline {target}"
            ),
        ));
    }
    // A newer timeline on the primary: fetch its history, so that replay can follow
    // it once the stream of the current timeline ends (PostgreSQL's
    // WalRcvFetchTimeLineHistoryFiles).
    if primary_tli > target {
        fetch_history_files(engine, &mut cl, primary_tli).await?;
    }
    // START_REPLICATION at the segment start of where the valid local WAL ends (as
    // PostgreSQL does, so that no segment is ever begun in its middle).
    let seg = engine.control_file().wal_segment_size.max(1) as u64;
    let start = Lsn(need.0 - need.0 % seg);
    // The timeline that owns the start in replay's history.
    // The timeline that owns the position replay needs (at a switch point, the new
    // one), streamed from its segment's start (PostgreSQL's `tliOfPointInHistory` of
    // the record pointer).
    let tli = crate::storage::wal::timeline::timeline_of(&history, need).unwrap_or(target);
    let cmd = if slot.is_empty() {
        format!("START_REPLICATION {start} TIMELINE {tli}")
    } else {
        format!("START_REPLICATION SLOT \"{slot}\" PHYSICAL {start} TIMELINE {tli}")
    };
    cl.query(&cmd).await.map_err(io_err)?;
    loop {
        let (tag, body) = cl.read().await.map_err(io_err)?;
        match tag {
            b'W' => break,
            b'E' => return Err(primary_error("could not start WAL streaming", &body)),
            _ => {}
        }
    }
    tracing::info!("started streaming WAL from primary at {start} on timeline {tli}");
    update_status(|s| {
        s.status = "streaming".into();
        s.receive_start_lsn = start;
        s.receive_start_tli = tli;
        s.received_tli = tli;
        s.written_lsn = start;
        s.flushed_lsn = start;
    });
    let ctl = engine.control_file();
    let opts = WalOptions {
        dir: engine.datadir().join("pg_wal"),
        segment_size: seg,
        system_id: ctl.system_identifier,
        timeline: tli,
        fsync: cfg.get_bool("fsync"),
        sync_method: cfg.get_str("wal_sync_method").parse().unwrap_or_default(),
    };
    let mut raw = RawWalWriter::new(&opts, start);
    let source = (conninfo_str.to_string(), slot);
    // `ps` shows `postgres: [cluster: ]walreceiver streaming X/Y`, as PostgreSQL's does.
    let title = ProcTitle::new(&format!("walreceiver streaming {start}"));
    stream(engine, config, &mut cl, &mut raw, tli, &source, &title).await
}

/// The connection string as `pg_stat_wal_receiver.conninfo` shows it: the parameters
/// in use, the password replaced by `********`.
fn hide_password(c: &Conninfo, app: &str) -> String {
    let mut out = format!("user={} ", c.user);
    if c.password.is_some() {
        out.push_str("password=******** ");
    }
    out.push_str(&format!(
        "dbname=replication host={} port={} ",
        c.host, c.port
    ));
    match &c.application_name {
        Some(a) => out.push_str(&format!("application_name={a} ")),
        None => out.push_str(&format!("fallback_application_name={app} ")),
    }
    out.push_str(&format!("sslmode={}", c.sslmode));
    out
}

fn status_reply(engine: &Engine, raw: &RawWalWriter, reply: bool) -> Vec<u8> {
    let apply = engine.replay_lsn().unwrap_or(Lsn(0));
    let mut b = vec![b'r'];
    b.extend_from_slice(&raw.write_lsn().0.to_be_bytes());
    b.extend_from_slice(&raw.flush_lsn().0.to_be_bytes());
    b.extend_from_slice(&apply.0.to_be_bytes());
    b.extend_from_slice(&crate::types::now_micros().to_be_bytes());
    b.push(reply as u8);
    b
}

/// A hot-standby feedback message ('h'): the time, then this standby's xmin horizon
/// (and epoch 0) twice — as transaction xmin and as catalog xmin — so the primary
/// shows it as the walsender's `backend_xmin`, as PostgreSQL's standby does. tusk's
/// primary needs it for nothing else: replay never removes a row version a standby
/// query can still see, so there is no cleanup to hold back.
fn feedback(xmin: u32) -> Vec<u8> {
    let mut b = vec![b'h'];
    b.extend_from_slice(&crate::types::now_micros().to_be_bytes());
    for _ in 0..2 {
        b.extend_from_slice(&xmin.to_be_bytes());
        b.extend_from_slice(&0u32.to_be_bytes());
    }
    b
}

/// What one round of the stream loop took from the primary before flushing.
#[derive(Default)]
struct Batch {
    /// WAL was written (and must be flushed, published and acknowledged).
    wrote: bool,
    /// A keepalive asked for a reply.
    reply_requested: bool,
}

/// Tells replay where WAL written but not yet flushed begins, and clears that when
/// dropped — however the stream ends — so that replay is never held back for good.
struct Unflushed<'a> {
    engine: &'a Engine,
    set: bool,
}

impl Unflushed<'_> {
    /// WAL is about to be written at `from` (the flush position) without a flush yet.
    fn begin(&mut self, from: Lsn) {
        if !self.set {
            self.engine.set_unflushed_from(Some(from));
            self.set = true;
        }
    }

    /// Everything written is flushed.
    fn clear(&mut self) {
        if self.set {
            self.engine.set_unflushed_from(None);
            self.set = false;
        }
    }
}

impl Drop for Unflushed<'_> {
    fn drop(&mut self) {
        self.clear();
    }
}

async fn stream(
    engine: &Arc<Engine>,
    config: &ConfigSource,
    cl: &mut Client,
    raw: &mut RawWalWriter,
    tli: u32,
    source: &(String, String),
    title: &ProcTitle,
) -> Result<()> {
    let mut last_status = Instant::now();
    let mut last_recv = Instant::now();
    let mut titled = (Lsn(0), Instant::now());
    // The apply position last sent to the primary.
    let mut reported_apply = engine.replay_lsn().unwrap_or(Lsn(0));
    // Whether the primary holds an xmin of ours (hot_standby_feedback was on): turned
    // off, one message with xmin 0 clears it, as PostgreSQL's walreceiver does.
    let mut primary_has_xmin = false;
    // Bumped when replay applied records (and when WAL arrives or is flushed here):
    // the apply position is reported as soon as it moves, without polling.
    let mut progress = engine.subscribe_standby_progress();
    let mut unflushed = Unflushed { engine, set: false };
    loop {
        let cfg = config();
        let status_every =
            Duration::from_secs(cfg.get_int("wal_receiver_status_interval").max(0) as u64);
        let timeout_ms = cfg.get_int("wal_receiver_timeout");
        // A reload changed where to stream from: end this stream, reconnect.
        if cfg.get_str("primary_conninfo") != source.0
            || cfg.get_str("primary_slot_name") != source.1
        {
            let _ = cl.send(Some(b'c'), &[]).await;
            return Ok(());
        }
        let mut next = tokio::select! {
            m = cl.read() => Some(m),
            r = progress.changed() => {
                if r.is_err() {
                    // Cannot happen while the engine lives; never spin.
                    tokio::time::sleep(QUIET_WAIT).await;
                }
                None
            }
            _ = tokio::time::sleep(QUIET_WAIT) => {
                // Quiet link: bring the title up to the last flushed position.
                let flushed = raw.flush_lsn();
                if flushed != titled.0 {
                    title.set(&format!("walreceiver streaming {flushed}"));
                    titled = (flushed, Instant::now());
                }
                None
            }
        };
        // Take every message already waiting (up to a bound), writing WAL as it comes,
        // then flush once: PostgreSQL's walreceiver flushes when the socket has nothing
        // more to read, so a burst of small messages costs one fsync, not one each.
        let mut batch = Batch::default();
        let mut taken = 0;
        while let Some(m) = next.take() {
            let (tag, body) = m.map_err(io_err)?;
            last_recv = Instant::now();
            let now = crate::types::now_micros();
            match tag {
                b'd' if body.first() == Some(&b'w') && body.len() >= 25 => {
                    // XLogData: start, end, send time, then the WAL bytes.
                    let start = Lsn(be_u64(&body, 1));
                    let end = Lsn(be_u64(&body, 9));
                    let sent = be_u64(&body, 17) as i64;
                    unflushed.begin(raw.flush_lsn());
                    raw.write(start, &body[25..])?;
                    batch.wrote = true;
                    update_status(|s| {
                        s.written_lsn = raw.write_lsn();
                        s.last_msg_send_time = Some(sent);
                        s.last_msg_receipt_time = Some(now);
                        if end > s.latest_end_lsn {
                            s.latest_end_lsn = end;
                            s.latest_end_time = Some(sent);
                        }
                    });
                }
                b'd' if body.first() == Some(&b'k') && body.len() >= 18 => {
                    let end = Lsn(be_u64(&body, 1));
                    let sent = be_u64(&body, 9) as i64;
                    update_status(|s| {
                        s.last_msg_send_time = Some(sent);
                        s.last_msg_receipt_time = Some(now);
                        s.latest_end_lsn = end;
                        s.latest_end_time = Some(sent);
                    });
                    batch.reply_requested |= body[17] != 0;
                }
                // CopyDone (end of a timeline), or the CommandComplete a
                // walsender sends when its server shuts down: streaming is over.
                b'c' | b'C' => {
                    // What was written is flushed and published first.
                    if batch.wrote {
                        publish_flush(engine, raw, tli, &mut unflushed)?;
                    }
                    let _ = cl.send(Some(b'c'), &[]).await;
                    crate::logging::log_at(
                        "LOG",
                        "replication terminated by primary server",
                        Some(&format!(
                            "End of WAL reached on timeline {tli} at {}.",
                            raw.flush_lsn()
                        )),
                        None,
                    );
                    return Ok(());
                }
                b'E' => {
                    if batch.wrote {
                        publish_flush(engine, raw, tli, &mut unflushed)?;
                    }
                    return Err(primary_error(
                        "could not receive data from WAL stream",
                        &body,
                    ));
                }
                _ => {}
            }
            taken += 1;
            if taken < MAX_BATCH_MESSAGES && raw.write_lsn().0 - raw.flush_lsn().0 < MAX_BATCH_BYTES
            {
                // A message already buffered or readable without waiting (the read is
                // cancellation-safe: a partial message stays buffered).
                next = futures::FutureExt::now_or_never(cl.read());
            }
        }
        if batch.wrote {
            // Written, not yet flushed: tell the primary first (its write position, for
            // `synchronous_commit = remote_write` and `write_lag`), as PostgreSQL's
            // walreceiver does before it flushes.
            cl.copy_data(&status_reply(engine, raw, false))
                .await
                .map_err(io_err)?;
            let flushed = publish_flush(engine, raw, tli, &mut unflushed)?;
            if flushed != titled.0 && titled.1.elapsed() >= TITLE_INTERVAL {
                title.set(&format!("walreceiver streaming {flushed}"));
                titled = (flushed, Instant::now());
            }
        }
        if batch.wrote || batch.reply_requested {
            reported_apply = engine.replay_lsn().unwrap_or(Lsn(0));
            cl.copy_data(&status_reply(engine, raw, false))
                .await
                .map_err(io_err)?;
            last_status = Instant::now();
        }
        // Like PostgreSQL's startup process, which makes the walreceiver reply when
        // replay has applied what a waiting commit needs: report a new apply position
        // as soon as replay reaches it, so that the primary's replay_lsn and
        // replay_lag are not one message (or, when idle, wal_receiver_status_interval)
        // stale.
        let applied = engine.replay_lsn().unwrap_or(Lsn(0));
        if applied > reported_apply {
            reported_apply = applied;
            cl.copy_data(&status_reply(engine, raw, false))
                .await
                .map_err(io_err)?;
            last_status = Instant::now();
        }
        if !status_every.is_zero() && last_status.elapsed() >= status_every {
            reported_apply = engine.replay_lsn().unwrap_or(Lsn(0));
            cl.copy_data(&status_reply(engine, raw, false))
                .await
                .map_err(io_err)?;
            if cfg.get_bool("hot_standby_feedback") {
                cl.copy_data(&feedback(engine.xmin_horizon()))
                    .await
                    .map_err(io_err)?;
                primary_has_xmin = true;
            } else if primary_has_xmin {
                cl.copy_data(&feedback(0)).await.map_err(io_err)?;
                primary_has_xmin = false;
            }
            last_status = Instant::now();
        }
        if timeout_ms > 0 && last_recv.elapsed() >= Duration::from_millis(timeout_ms as u64) {
            return Err(Error::new(
                sqlstate::CONNECTION_FAILURE,
                "terminating walreceiver due to timeout",
            ));
        }
        if engine.replay_stopping() {
            let _ = cl.send(Some(b'c'), &[]).await;
            return Ok(());
        }
        if engine.promotion_requested() {
            return Err(Error::fatal(
                sqlstate::ADMIN_SHUTDOWN,
                "terminating walreceiver process due to administrator command",
            ));
        }
    }
}

/// Flushes what was written, lets replay read it, marks completed segments, and tells
/// replay and cascading walsenders (only flushed bytes are ever published). Returns
/// the flush position.
fn publish_flush(
    engine: &Engine,
    raw: &mut RawWalWriter,
    tli: u32,
    unflushed: &mut Unflushed<'_>,
) -> Result<Lsn> {
    let flushed = raw.flush()?;
    // Replay may read what was written before it is woken.
    unflushed.clear();
    mark_done(engine, raw.take_completed_segments());
    engine.set_receive_lsn(flushed);
    engine.set_stream_flush(flushed, tli);
    update_status(|s| {
        s.written_lsn = raw.write_lsn();
        s.flushed_lsn = flushed;
    });
    Ok(flushed)
}

/// Fetches the history files of timelines up to `primary_tli` that pg_wal lacks, with
/// TIMELINE_HISTORY, and writes them into `pg_wal/` (marked `.done`: the primary
/// archives them).
async fn fetch_history_files(engine: &Engine, cl: &mut Client, primary_tli: u32) -> Result<()> {
    let pg_wal = engine.datadir().join("pg_wal");
    for tli in 2..=primary_tli {
        let name = crate::storage::wal::segment::history_file_name(tli);
        if pg_wal.join(&name).exists() {
            continue;
        }
        tracing::info!("fetching timeline history file for timeline {tli} from primary server");
        let row = simple_query_row(cl, &format!("TIMELINE_HISTORY {tli}")).await?;
        let (Some(Some(fname)), Some(Some(content))) = (row.first(), row.get(1)) else {
            return Err(Error::new(
                sqlstate::PROTOCOL_VIOLATION,
                "invalid response from primary server",
            )
            .with_detail("Expected 1 tuple with 2 fields."));
        };
        if fname != &name {
            return Err(Error::new(
                sqlstate::PROTOCOL_VIOLATION,
                format!("primary reported unexpected file name for timeline history file of timeline {tli}"),
            ));
        }
        crate::storage::wal::timeline::parse_history(content, tli)?;
        let path = pg_wal.join(&name);
        let fsync = engine.control_file().wal_segment_size > 0;
        use crate::storage::wal::io::WalIo;
        crate::storage::wal::io::StdIo
            .replace_file(&path, content.as_bytes(), fsync)
            .map_err(|e| Error::io(format!("could not write file \"{}\"", path.display()), e))?;
        mark_done(engine, vec![name]);
    }
    Ok(())
}

/// Marks fully received segments `archive_status/<seg>.done`, so they are never
/// archived from this standby.
/// Marks fully received segments in `archive_status`: `.done` (a standby with
/// `archive_mode` `off` or `on` does not archive them), or `.ready` with `always`, for
/// the standby's own archiver (`storage::archive_status`).
fn mark_done(engine: &Engine, names: Vec<String>) {
    for n in names {
        engine.archive_status().segment_received(&n);
    }
}
