//! The metrics endpoint: Prometheus' text exposition format over a minimal HTTP/1.1
//! responder, so that no separate exporter is needed.
//!
//! # What this file owns
//!
//! - The listener of `metrics_listen_address` (`host:port`, `[IPv6 address]:port` or
//!   `*:port`, checked by `config::value::parse_listen_address`; empty = off). The
//!   setting's context is `postmaster`: the address is bound once, at start-up, like
//!   `listen_addresses`.
//! - One path, `GET /metrics` (and `HEAD`, which HTTP requires of every server that
//!   serves GET): `200` with `text/plain; version=0.0.4; charset=utf-8`. Any other path
//!   is `404`, another method on `/metrics` `405` (with `Allow`), a malformed request
//!   or a request head over [`MAX_HEAD`] bytes `400`, a client that does not finish its
//!   request head within [`READ_TIMEOUT`] `408`. Every response closes the connection
//!   (`Connection: close`): there is no keep-alive, no body is ever read.
//! - The exposition itself ([`Exposition`]): `# HELP` and `# TYPE` before each family,
//!   counters named `…_total`, units in names (`_bytes`, `_seconds`), label values
//!   escaped; and [`collect`], which reads the server's state into it.
//!
//! # Invariants
//!
//! - Nothing here can stop the database: a failed bind (the port taken, an address
//!   that is not local, a name that does not resolve) is a WARNING and the server runs
//!   on without metrics. It is not FATAL because the endpoint is observability, not
//!   service: refusing to start — or, worse, to reinitialize after a crash — because
//!   another process holds the exporter's port would turn a monitoring problem into an
//!   outage. PostgreSQL treats a `listen_addresses` entry it cannot bind the same way
//!   (LOG, and on with the others). A *malformed* value, on the other hand, is refused
//!   by the configuration check before start-up, as for any setting.
//! - The runtime is never blocked: reading the engine's counters takes a few short
//!   locks (the WAL writer's state, the activity table, the walsender registry,
//!   pg_control's copy, which a checkpoint may hold while it writes the file), so
//!   [`collect`] runs on the blocking pool; sockets are async with deadlines.
//! - Bounded: at most [`MAX_CONNECTIONS`] scrapes are served at once (further
//!   connections wait in the listen backlog), each reads at most [`MAX_HEAD`] bytes
//!   within [`READ_TIMEOUT`] and gets [`WRITE_TIMEOUT`] to take its answer.
//! - The listener closes when the server leaves the running state (the shutdown watch
//!   every accept loop follows), so a scrape after a shutdown began is refused.
//!
//! What this file must never do: write anything (no counter reset, no setting), block
//! the postmaster's runtime, panic on anything a client sends, or invent a number —
//! a value the server does not know (a lag never measured, an LSN not yet reported)
//! is left out, not printed as 0.
//!
//! # One scrape, step by step
//!
//! 1. [`start`] bound the listener at start-up; its accept loop takes a permit (one of
//!    [`MAX_CONNECTIONS`]) and accepts the connection.
//! 2. The connection task reads until [`parse_request`] finds the end of the head (a
//!    blank line), within [`READ_TIMEOUT`] and [`MAX_HEAD`].
//! 3. [`route`] picks the answer from the method and path; for `GET /metrics`,
//!    [`collect`] runs on the blocking pool and renders every family.
//! 4. The response is written with `Content-Length`, the write side shut, what the
//!    client may still send is drained briefly (so it sees the answer, not a reset),
//!    and the socket closed.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::{Shared, ShutdownMode};
use crate::error::{sqlstate, Error, Severity};

/// The largest request head (request line and headers) accepted, in bytes.
pub const MAX_HEAD: usize = 8192;
/// How long a client has to send its whole request head.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client has to take the response.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Scrapes served at once; more connections wait in the backlog.
pub const MAX_CONNECTIONS: usize = 16;
/// The content type of the text exposition format, version 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Seconds between the Unix epoch and PostgreSQL's (2000-01-01 UTC).
const PG_EPOCH_UNIX_SECONDS: f64 = 946_684_800.0;

// ---------------------------------------------------------------------------------
// Start-up and the accept loop
// ---------------------------------------------------------------------------------

/// Binds `metrics_listen_address` and starts serving (called once by the postmaster
/// after its own listeners). An empty setting does nothing; a failure is logged as a
/// WARNING and the server goes on without metrics (see the module essay).
pub fn start(shared: &Arc<Shared>) {
    let setting = shared.config().get_str("metrics_listen_address");
    if setting.is_empty() {
        return;
    }
    match bind(&setting) {
        Ok(listeners) => {
            let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
            for l in listeners {
                tokio::spawn(accept_loop(l, shared.clone(), limit.clone()));
            }
        }
        Err(e) => crate::logging::log_error(&e),
    }
}

/// Binds every address `setting` names (a host name may resolve to several); logs each
/// success and each failure; an error (severity WARNING) when nothing was bound.
fn bind(setting: &str) -> crate::error::Result<Vec<TcpListener>> {
    let warn = |e: Error| e.with_severity(Severity::Warning);
    let (host, port) = crate::config::value::parse_listen_address(setting).map_err(|d| {
        warn(Error::new(
            sqlstate::INVALID_PARAMETER_VALUE,
            format!("invalid value for parameter \"metrics_listen_address\": \"{setting}\""),
        ))
        .with_detail(d)
    })?;
    let ips = super::listen::resolve_listen_addresses(&host).map_err(warn)?;
    let mut out = Vec::new();
    for ip in ips {
        let family = if ip.is_ipv4() { "IPv4" } else { "IPv6" };
        match super::listen::bind_tcp(SocketAddr::new(ip, port)) {
            Ok(l) => {
                tracing::info!("listening for metrics on {family} address \"{ip}\", port {port}");
                out.push(l);
            }
            Err(e) => crate::logging::log_error(
                &warn(Error::io(
                    format!("could not bind metrics {family} address \"{ip}\", port {port}"),
                    e,
                ))
                .with_hint("Is another process listening on that port? Change metrics_listen_address and restart."),
            ),
        }
    }
    if out.is_empty() {
        return Err(warn(Error::new(
            sqlstate::CONFIG_FILE_ERROR,
            format!("metrics are not served: nothing could be bound for metrics_listen_address \"{setting}\""),
        )));
    }
    Ok(out)
}

fn running(shared: &Shared) -> bool {
    *shared.shutdown.borrow() == ShutdownMode::Running
}

/// Accepts scrapes until the server leaves the running state; then the listener is
/// dropped (the port closes). Scrapes already accepted finish on their own deadlines.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, limit: Arc<Semaphore>) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        if !running(&shared) {
            return;
        }
        let accepted = tokio::select! {
            r = async {
                let permit = limit.clone().acquire_owned().await;
                (permit, listener.accept().await)
            } => r,
            _ = shutdown.changed() => continue,
        };
        match accepted {
            (Ok(permit), Ok((sock, _))) => {
                let shared = shared.clone();
                tokio::spawn(async move {
                    serve(sock, shared).await;
                    drop(permit);
                });
            }
            (_, Err(e)) => {
                tracing::warn!(severity = "LOG", "could not accept metrics connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // The semaphore is never closed; nothing to serve without a permit.
            (Err(_), Ok(_)) => return,
        }
    }
}

/// One connection: read the head, answer, close.
async fn serve(mut sock: TcpStream, shared: Arc<Shared>) {
    let deadline = tokio::time::Instant::now() + READ_TIMEOUT;
    let mut buf = Vec::with_capacity(512);
    let parsed = loop {
        match parse_request(&buf) {
            Ok(Some(r)) => break Ok(r),
            Ok(None) => {}
            Err(e) => break Err(e),
        }
        let mut chunk = [0u8; 1024];
        match tokio::time::timeout_at(deadline, sock.read(&mut chunk)).await {
            Err(_) => break Err(BadRequest::Timeout),
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(n)) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    };
    let answer = match parsed {
        Ok(req) => match route(&req) {
            Route::Metrics { head_only } => {
                let s = shared.clone();
                match tokio::task::spawn_blocking(move || collect(&s)).await {
                    Ok(body) => Response::ok(body, head_only),
                    Err(_) => Response::error(500, "metrics could not be collected"),
                }
            }
            Route::NotFound => Response::error(404, "not found"),
            Route::MethodNotAllowed => Response::error(405, "method not allowed"),
        },
        Err(BadRequest::Timeout) => Response::error(408, "request timeout"),
        Err(BadRequest::TooLarge) => Response::error(400, "request head too large"),
        Err(BadRequest::Malformed(why)) => Response::error(400, why),
    };
    let bytes = answer.to_bytes();
    let _ = tokio::time::timeout(WRITE_TIMEOUT, async {
        sock.write_all(&bytes).await?;
        sock.shutdown().await
    })
    .await;
    // What the client may still be sending (an unread body, the rest of an oversized
    // head) is drained briefly: closing with unread input would reset the connection
    // and could destroy the response before the client read it.
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        let mut sink = [0u8; 4096];
        let mut left = 64 * 1024usize;
        while left > 0 {
            match sock.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------
// HTTP: request parsing, routing, responses
// ---------------------------------------------------------------------------------

/// A parsed request head: what routing needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method token as sent (`GET`, `HEAD`, `POST`…; case-sensitive, as HTTP's).
    pub method: String,
    /// The request target's path, without the query string.
    pub path: String,
}

/// Why a request is refused before routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadRequest {
    /// Not HTTP/1.x as this responder reads it (the reason is the response body).
    Malformed(&'static str),
    /// The head grew beyond [`MAX_HEAD`] without ending.
    TooLarge,
    /// The head did not arrive within [`READ_TIMEOUT`].
    Timeout,
}

/// Parses a request head from the bytes received so far: `Ok(None)` while the blank
/// line that ends the head has not arrived (and the head is still under [`MAX_HEAD`]).
/// Lines may end in CRLF or a bare LF; empty lines before the request line are
/// skipped (RFC 9112 §2.2). Headers are checked for shape and otherwise ignored.
pub fn parse_request(buf: &[u8]) -> Result<Option<Request>, BadRequest> {
    let end = match find_head_end(buf) {
        Some(e) => e,
        None if buf.len() > MAX_HEAD => return Err(BadRequest::TooLarge),
        None => return Ok(None),
    };
    if end > MAX_HEAD {
        return Err(BadRequest::TooLarge);
    }
    let head = buf.get(..end).unwrap_or_default();
    if !head
        .iter()
        .all(|b| (0x20..0x7f).contains(b) || matches!(b, b'\t' | b'\r' | b'\n'))
    {
        return Err(BadRequest::Malformed("request head is not printable ASCII"));
    }
    if head.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n') {
        return Err(BadRequest::Malformed("bare CR in request head"));
    }
    let text = std::str::from_utf8(head)
        .map_err(|_| BadRequest::Malformed("request head is not printable ASCII"))?;
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .skip_while(|l| l.is_empty());
    let request_line = lines
        .next()
        .ok_or(BadRequest::Malformed("missing request line"))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BadRequest::Malformed("malformed request line"));
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(BadRequest::Malformed("malformed method"));
    }
    if !target.starts_with('/') {
        return Err(BadRequest::Malformed(
            "request target must be an absolute path",
        ));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(BadRequest::Malformed("unsupported HTTP version"));
    }
    for line in lines.take_while(|l| !l.is_empty()) {
        let Some((name, _)) = line.split_once(':') else {
            return Err(BadRequest::Malformed("malformed header line"));
        };
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(BadRequest::Malformed("malformed header name"));
        }
    }
    let path = target.split(['?', '#']).next().unwrap_or(target);
    Ok(Some(Request {
        method: method.to_string(),
        path: path.to_string(),
    }))
}

/// The offset just past the blank line ending a request head, if it arrived. Leading
/// blank lines (before the request line) do not count.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let start = buf
        .iter()
        .position(|b| *b != b'\r' && *b != b'\n')
        .unwrap_or(buf.len());
    let mut i = start;
    while i < buf.len() {
        if buf[i] == b'\n' {
            // A line ends here; the head ends if the next line is empty.
            match buf.get(i + 1..) {
                Some([b'\n', ..]) => return Some(i + 2),
                Some([b'\r', b'\n', ..]) => return Some(i + 3),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// HTTP's token characters (RFC 9110 §5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// What a request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The metrics (`GET`), or only their headers (`HEAD`).
    Metrics {
        /// `HEAD`: the same headers, no body.
        head_only: bool,
    },
    /// Any path but `/metrics`.
    NotFound,
    /// `/metrics` with a method other than GET or HEAD.
    MethodNotAllowed,
}

/// Routes a parsed request.
pub fn route(req: &Request) -> Route {
    if req.path != "/metrics" {
        return Route::NotFound;
    }
    match req.method.as_str() {
        "GET" => Route::Metrics { head_only: false },
        "HEAD" => Route::Metrics { head_only: true },
        _ => Route::MethodNotAllowed,
    }
}

/// A response about to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body as it would be for GET (its length is `Content-Length`).
    pub body: String,
    /// HEAD: the body is not sent.
    pub head_only: bool,
}

impl Response {
    fn ok(body: String, head_only: bool) -> Response {
        Response {
            status: 200,
            content_type: CONTENT_TYPE,
            body,
            head_only,
        }
    }

    fn error(status: u16, text: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{text}\n"),
            head_only: false,
        }
    }

    /// The status line, headers and body, as written to the socket.
    pub fn to_bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            _ => "Internal Server Error",
        };
        let mut head = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            self.content_type,
            self.body.len()
        );
        if self.status == 405 {
            head.push_str("Allow: GET, HEAD\r\n");
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        if !self.head_only {
            out.extend_from_slice(self.body.as_bytes());
        }
        out
    }
}

// ---------------------------------------------------------------------------------
// The exposition format
// ---------------------------------------------------------------------------------

/// A metric family's type, as `# TYPE` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only grows (names end in `_total`).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Cumulative `_bucket{le=…}` counts, `_sum` and `_count`.
    Histogram,
}

/// A sample's value: integers are printed exactly, reals as Prometheus parses them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// An unsigned integer (counters, LSNs).
    U(u64),
    /// A real (seconds).
    F(f64),
}

impl From<u64> for Num {
    fn from(v: u64) -> Num {
        Num::U(v)
    }
}

impl From<f64> for Num {
    fn from(v: f64) -> Num {
        Num::F(v)
    }
}

impl From<bool> for Num {
    fn from(v: bool) -> Num {
        Num::U(u64::from(v))
    }
}

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Num::U(v) => write!(f, "{v}"),
            Num::F(v) if v.is_nan() => f.write_str("NaN"),
            Num::F(v) if v.is_infinite() => f.write_str(if v > 0.0 { "+Inf" } else { "-Inf" }),
            Num::F(v) => write!(f, "{v}"),
        }
    }
}

/// A text exposition being written: each family's `# HELP` and `# TYPE` lines, then
/// its samples. Callers write a family's samples right after its header.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts a family: its `# HELP` (escaped) and `# TYPE` lines.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = write!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
    }

    /// Writes one sample line: `name{label="value",…} value`.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: impl Into<Num>) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(val));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", v.into());
    }

    /// A family with one unlabelled gauge sample.
    pub fn gauge(&mut self, name: &str, help: &str, v: impl Into<Num>) {
        self.family(name, Kind::Gauge, help);
        self.sample(name, &[], v);
    }

    /// A family with one unlabelled counter sample (`name` ends in `_total`).
    pub fn counter(&mut self, name: &str, help: &str, v: u64) {
        debug_assert!(name.ends_with("_total"), "{name}");
        self.family(name, Kind::Counter, help);
        self.sample(name, &[], v);
    }

    /// A histogram family: cumulative `_bucket` samples for the finite bounds (in the
    /// family's unit), the `+Inf` bucket (= count), `_sum` and `_count`.
    pub fn histogram(
        &mut self,
        name: &str,
        help: &str,
        bounds: &[f64],
        cumulative: &[u64],
        sum: f64,
        count: u64,
    ) {
        self.family(name, Kind::Histogram, help);
        let bucket = format!("{name}_bucket");
        for (b, c) in bounds.iter().zip(cumulative) {
            self.sample(&bucket, &[("le", &Num::F(*b).to_string())], *c);
        }
        self.sample(&bucket, &[("le", "+Inf")], count);
        self.sample(&format!("{name}_sum"), &[], sum);
        self.sample(&format!("{name}_count"), &[], count);
    }

    /// The finished text.
    pub fn finish(self) -> String {
        self.out
    }
}

/// Escapes a label value: backslash, double quote and newline.
fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// PostgreSQL microseconds (since 2000-01-01) as Unix seconds.
fn unix_seconds(pg_micros: i64) -> f64 {
    pg_micros as f64 / 1e6 + PG_EPOCH_UNIX_SECONDS
}

// ---------------------------------------------------------------------------------
// What is exported
// ---------------------------------------------------------------------------------

/// Reads the server's state into the exposition. Takes only short locks (see the
/// module essay); run it on the blocking pool.
pub fn collect(shared: &Shared) -> String {
    let engine = &shared.engine;
    let config = shared.config();
    let mut x = Exposition::default();
    let in_recovery = engine.in_recovery();

    x.gauge(
        "tusk_up",
        "Whether the tusk server is up (always 1 when it answers).",
        1u64,
    );
    x.gauge(
        "tusk_start_time_seconds",
        "When the server started, in seconds since the Unix epoch (pg_postmaster_start_time()).",
        unix_seconds(shared.start_time),
    );
    x.gauge(
        "tusk_in_recovery",
        "Whether the server is a standby in recovery (pg_is_in_recovery()).",
        in_recovery,
    );
    x.gauge(
        "tusk_timeline_id",
        "The timeline the server is on.",
        u64::from(engine.timeline()),
    );

    // Connections.
    let states = engine.activity().states();
    x.family(
        "tusk_backends",
        Kind::Gauge,
        "Client backends by state, as pg_stat_activity shows them (walsenders not included).",
    );
    let mut by_state: Vec<(&str, u64)> = [
        "active",
        "idle",
        "idle in transaction",
        "idle in transaction (aborted)",
    ]
    .iter()
    .map(|s| (*s, 0))
    .collect();
    for (kind, state) in &states {
        if *kind != "client backend" {
            continue;
        }
        match by_state.iter_mut().find(|(s, _)| s == state) {
            Some((_, n)) => *n += 1,
            None => by_state.push((state, 1)),
        }
    }
    for (state, n) in &by_state {
        x.sample("tusk_backends", &[("state", state)], *n);
    }
    x.gauge(
        "tusk_max_connections",
        "The max_connections setting.",
        config.get_int("max_connections").max(0) as u64,
    );

    // Transactions and checkpoints.
    let counters = engine.counters();
    x.counter(
        "tusk_transactions_committed_total",
        "Transactions committed since the server started (read-only ones included).",
        counters.xact_commit,
    );
    x.counter(
        "tusk_transactions_rolled_back_total",
        "Transactions rolled back since the server started.",
        counters.xact_rollback,
    );
    x.counter(
        "tusk_checkpoints_timed_total",
        "Checkpoints started because checkpoint_timeout passed (pg_stat_bgwriter.checkpoints_timed).",
        counters.checkpoints_timed,
    );
    x.counter(
        "tusk_checkpoints_requested_total",
        "Checkpoints started for any other reason: WAL size, CHECKPOINT, base backups, promotion (pg_stat_bgwriter.checkpoints_req).",
        counters.checkpoints_req,
    );
    x.counter(
        "tusk_restartpoints_total",
        "Restartpoints (a standby's checkpoints) written since the server started.",
        engine.restartpoints().0,
    );
    let control = engine.control_file();
    x.gauge(
        "tusk_checkpoint_last_time_seconds",
        "Time of the latest checkpoint in pg_control, in seconds since the Unix epoch.",
        control.checkpoint_time as f64,
    );
    x.gauge(
        "tusk_checkpoint_lsn_bytes",
        "Location of the latest checkpoint record, as a byte position in the WAL.",
        control.checkpoint.0,
    );
    x.gauge(
        "tusk_checkpoint_redo_lsn_bytes",
        "Redo location of the latest checkpoint, as a byte position in the WAL.",
        control.redo.0,
    );

    // WAL.
    let wal = engine.wal_stats();
    x.counter(
        "tusk_wal_records_total",
        "WAL records appended (pg_stat_wal.wal_records).",
        wal.records,
    );
    x.counter(
        "tusk_wal_bytes_total",
        "WAL bytes appended, page headers and padding included (pg_stat_wal.wal_bytes).",
        wal.bytes,
    );
    x.counter(
        "tusk_wal_writes_total",
        "Rounds that wrote WAL buffers to the OS (pg_stat_wal.wal_write).",
        wal.writes,
    );
    x.counter(
        "tusk_wal_flushes_total",
        "Rounds that made the WAL durable; one per group commit.",
        wal.flushes,
    );
    x.counter(
        "tusk_wal_fsyncs_total",
        "fsync/fdatasync calls on WAL files (pg_stat_wal.wal_sync).",
        wal.fsyncs,
    );
    x.counter(
        "tusk_wal_buffers_full_total",
        "Appends that found the WAL buffer full and wrote it out themselves (pg_stat_wal.wal_buffers_full).",
        wal.buffers_full,
    );
    x.family(
        "tusk_wal_write_seconds_total",
        Kind::Counter,
        "Time spent writing WAL to the OS (pg_stat_wal.wal_write_time).",
    );
    x.sample(
        "tusk_wal_write_seconds_total",
        &[],
        wal.write_time_us as f64 / 1e6,
    );
    x.family(
        "tusk_wal_fsync_seconds_total",
        Kind::Counter,
        "Time spent in fsync/fdatasync of WAL files (pg_stat_wal.wal_sync_time).",
    );
    x.sample(
        "tusk_wal_fsync_seconds_total",
        &[],
        wal.sync_time_us as f64 / 1e6,
    );
    let lat = engine.wal_sync_latency();
    let bounds: Vec<f64> = crate::storage::wal::latency::SYNC_BUCKETS_US
        .iter()
        .map(|us| *us as f64 / 1e6)
        .collect();
    x.histogram(
        "tusk_wal_fsync_duration_seconds",
        "Duration of each fsync/fdatasync call on WAL files.",
        &bounds,
        &lat.cumulative,
        lat.sum_us as f64 / 1e6,
        lat.count,
    );
    if !in_recovery {
        x.gauge(
            "tusk_wal_insert_lsn_bytes",
            "Current WAL insert location, as a byte position (pg_current_wal_insert_lsn()).",
            engine.current_wal_lsn().0,
        );
        x.gauge(
            "tusk_wal_write_lsn_bytes",
            "How far the WAL was written to the OS, as a byte position (pg_current_wal_lsn()).",
            engine.wal_write_lsn().0,
        );
        x.gauge(
            "tusk_wal_flush_lsn_bytes",
            "How far the WAL is durable, as a byte position (pg_current_wal_flush_lsn()).",
            engine.wal_flush_lsn().0,
        );
    }

    // Archiver.
    let arch = engine.archive_status().stats();
    x.counter(
        "tusk_archiver_archived_total",
        "WAL files archived (pg_stat_archiver.archived_count).",
        arch.archived_count,
    );
    x.counter(
        "tusk_archiver_failed_total",
        "Failed attempts to archive a WAL file (pg_stat_archiver.failed_count).",
        arch.failed_count,
    );
    if let Some(t) = arch.last_archived_time {
        x.gauge(
            "tusk_archiver_last_archived_time_seconds",
            "When the last WAL file was archived, in seconds since the Unix epoch.",
            unix_seconds(t),
        );
    }
    if let Some(t) = arch.last_failed_time {
        x.gauge(
            "tusk_archiver_last_failed_time_seconds",
            "When the last archiving attempt failed, in seconds since the Unix epoch.",
            unix_seconds(t),
        );
    }

    // Replication: this server's walsenders.
    replication(&mut x, &shared.walsenders.list(), &config);

    // Standby: replay and receive positions.
    if in_recovery {
        if let Some(l) = engine.receive_lsn() {
            x.gauge(
                "tusk_standby_receive_lsn_bytes",
                "Last WAL location received and flushed by the walreceiver (pg_last_wal_receive_lsn()).",
                l.0,
            );
        }
        if let Some(l) = engine.replay_lsn() {
            x.gauge(
                "tusk_standby_replay_lsn_bytes",
                "Last WAL location replayed (pg_last_wal_replay_lsn()).",
                l.0,
            );
        }
        if let Some(t) = engine.last_replay_timestamp() {
            x.gauge(
                "tusk_standby_last_replay_timestamp_seconds",
                "Commit time of the last transaction replayed, in seconds since the Unix epoch (pg_last_xact_replay_timestamp()).",
                unix_seconds(t),
            );
            x.gauge(
                "tusk_standby_replay_lag_seconds",
                "Now minus the commit time of the last transaction replayed; grows while the primary is idle.",
                ((crate::types::now_micros() - t) as f64 / 1e6).max(0.0),
            );
        }
    }
    x.finish()
}

/// The walsender families: counts by state, then per streaming standby its positions
/// and lags (as `pg_stat_replication`), labelled by `application_name` and
/// `client_addr`; walsenders that share both also get a `pid` label, so that every
/// series stays unique.
fn replication(
    x: &mut Exposition,
    senders: &[crate::replication::walsender::WalSenderInfo],
    config: &crate::config::ServerConfig,
) {
    use crate::replication::walsender::WalSenderState as S;
    x.family(
        "tusk_wal_senders",
        Kind::Gauge,
        "Walsenders by state (pg_stat_replication.state).",
    );
    for state in [S::Startup, S::Catchup, S::Streaming, S::Backup, S::Stopping] {
        let n = senders.iter().filter(|w| w.state == state).count();
        x.sample("tusk_wal_senders", &[("state", state.as_str())], n as u64);
    }
    x.gauge(
        "tusk_max_wal_senders",
        "The max_wal_senders setting.",
        config.get_int("max_wal_senders").max(0) as u64,
    );
    let standbys: Vec<_> = senders
        .iter()
        .filter(|w| matches!(w.state, S::Catchup | S::Streaming | S::Stopping))
        .collect();
    let addr = |w: &crate::replication::walsender::WalSenderInfo| {
        w.client_addr
            .map_or_else(|| "[local]".to_string(), |a| a.to_string())
    };
    let labelled: Vec<(Vec<(&str, String)>, _)> = standbys
        .iter()
        .map(|w| {
            let a = addr(w);
            let shared = standbys
                .iter()
                .filter(|o| o.application_name == w.application_name && addr(o) == a)
                .count()
                > 1;
            let mut l = vec![
                ("application_name", w.application_name.clone()),
                ("client_addr", a),
            ];
            if shared {
                l.push(("pid", w.pid.to_string()));
            }
            (l, *w)
        })
        .collect();
    type Pick = fn(&crate::replication::walsender::WalSenderInfo) -> Option<Num>;
    let families: [(&str, &str, Pick); 8] = [
        (
            "tusk_replication_streaming",
            "Whether the walsender is streaming (1) or catching up / stopping (0).",
            |w| Some(Num::from(w.state == S::Streaming)),
        ),
        (
            "tusk_replication_sent_lsn_bytes",
            "Last WAL location sent to the standby (pg_stat_replication.sent_lsn).",
            |w| w.sent_lsn.map(|l| Num::U(l.0)),
        ),
        (
            "tusk_replication_write_lsn_bytes",
            "Last WAL location the standby reported written (pg_stat_replication.write_lsn).",
            |w| w.write_lsn.map(|l| Num::U(l.0)),
        ),
        (
            "tusk_replication_flush_lsn_bytes",
            "Last WAL location the standby reported flushed (pg_stat_replication.flush_lsn).",
            |w| w.flush_lsn.map(|l| Num::U(l.0)),
        ),
        (
            "tusk_replication_replay_lsn_bytes",
            "Last WAL location the standby reported replayed (pg_stat_replication.replay_lsn).",
            |w| w.replay_lsn.map(|l| Num::U(l.0)),
        ),
        (
            "tusk_replication_write_lag_seconds",
            "Time from a local flush to the standby's report of writing it (pg_stat_replication.write_lag).",
            |w| w.write_lag.map(|us| Num::F(us.max(0) as f64 / 1e6)),
        ),
        (
            "tusk_replication_flush_lag_seconds",
            "Time from a local flush to the standby's report of flushing it (pg_stat_replication.flush_lag).",
            |w| w.flush_lag.map(|us| Num::F(us.max(0) as f64 / 1e6)),
        ),
        (
            "tusk_replication_replay_lag_seconds",
            "Time from a local flush to the standby's report of replaying it (pg_stat_replication.replay_lag).",
            |w| w.replay_lag.map(|us| Num::F(us.max(0) as f64 / 1e6)),
        ),
    ];
    for (name, help, pick) in families {
        x.family(name, Kind::Gauge, help);
        for (labels, w) in &labelled {
            if let Some(v) = pick(w) {
                let l: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
                x.sample(name, &l, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replication::walsender::{WalSenderInfo, WalSenderState};
    use crate::storage::Lsn;

    /// Checks the exposition's shape as a scraper would: every line a `# HELP`, a
    /// `# TYPE` or a sample `name{labels} value`; every sample's family declared
    /// before it; values numbers. Returns the samples as (name with labels, value).
    fn validate(text: &str) -> Vec<(String, f64)> {
        let mut typed: Vec<(String, String)> = Vec::new();
        let mut helped: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                helped.push(rest.split(' ').next().unwrap().to_string());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (n, k) = rest.split_once(' ').unwrap();
                assert!(["counter", "gauge", "histogram"].contains(&k), "{line}");
                assert_eq!(helped.last().map(String::as_str), Some(n), "{line}");
                typed.push((n.to_string(), k.to_string()));
            } else {
                let (series, value) = line.rsplit_once(' ').unwrap();
                let name = series.split('{').next().unwrap();
                assert!(
                    name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                    "{line}"
                );
                let (family, kind) = typed.last().expect("sample before any TYPE");
                match kind.as_str() {
                    "histogram" => assert!(
                        [
                            format!("{family}_bucket"),
                            format!("{family}_sum"),
                            format!("{family}_count")
                        ]
                        .contains(&name.to_string()),
                        "{line}"
                    ),
                    "counter" => {
                        assert_eq!(name, family, "{line}");
                        assert!(name.ends_with("_total"), "{line}");
                    }
                    _ => assert_eq!(name, family, "{line}"),
                }
                let v: f64 = match value {
                    "+Inf" => f64::INFINITY,
                    "-Inf" => f64::NEG_INFINITY,
                    v => v.parse().unwrap_or_else(|_| panic!("value of {line}")),
                };
                out.push((series.to_string(), v));
            }
        }
        out
    }

    #[test]
    fn exposition_lines_and_escaping() {
        let mut x = Exposition::default();
        x.gauge("tusk_up", "Up.", 1u64);
        x.counter("tusk_things_total", "Things\\counted\nhere.", 42);
        x.family("tusk_backends", Kind::Gauge, "By state.");
        x.sample("tusk_backends", &[("state", "idle in transaction")], 3u64);
        x.sample("tusk_backends", &[("a", "q\"b\\c\nd"), ("b", "")], 0.25);
        x.histogram("tusk_d_seconds", "D.", &[0.0001, 1.0], &[2, 5], 1.5, 6);
        let text = x.finish();
        assert_eq!(
            text,
            "# HELP tusk_up Up.\n# TYPE tusk_up gauge\ntusk_up 1\n\
             # HELP tusk_things_total Things\\\\counted\\nhere.\n# TYPE tusk_things_total counter\ntusk_things_total 42\n\
             # HELP tusk_backends By state.\n# TYPE tusk_backends gauge\n\
             tusk_backends{state=\"idle in transaction\"} 3\n\
             tusk_backends{a=\"q\\\"b\\\\c\\nd\",b=\"\"} 0.25\n\
             # HELP tusk_d_seconds D.\n# TYPE tusk_d_seconds histogram\n\
             tusk_d_seconds_bucket{le=\"0.0001\"} 2\ntusk_d_seconds_bucket{le=\"1\"} 5\n\
             tusk_d_seconds_bucket{le=\"+Inf\"} 6\ntusk_d_seconds_sum 1.5\ntusk_d_seconds_count 6\n"
        );
        assert_eq!(validate(&text).len(), 9);
    }

    #[test]
    fn numbers_print_as_prometheus_reads_them() {
        assert_eq!(Num::U(u64::MAX).to_string(), "18446744073709551615");
        assert_eq!(Num::F(3.0).to_string(), "3");
        assert_eq!(Num::F(0.000_05).to_string(), "0.00005");
        assert_eq!(Num::F(f64::NAN).to_string(), "NaN");
        assert_eq!(Num::F(f64::INFINITY).to_string(), "+Inf");
        assert_eq!(Num::F(f64::NEG_INFINITY).to_string(), "-Inf");
        assert_eq!(Num::from(true).to_string(), "1");
        assert_eq!(unix_seconds(0), 946_684_800.0);
    }

    fn req(method: &str, path: &str) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
        }
    }

    #[test]
    fn request_heads_parse() {
        let ok = |b: &[u8]| parse_request(b).unwrap().unwrap();
        assert_eq!(
            ok(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"),
            req("GET", "/metrics")
        );
        // Bare LF, leading blank lines, a query string, HTTP/1.0, no headers.
        assert_eq!(
            ok(b"\r\n\nHEAD /metrics?x=1 HTTP/1.0\n\n"),
            req("HEAD", "/metrics")
        );
        assert_eq!(ok(b"POST /a#f HTTP/1.1\r\n\r\nbody"), req("POST", "/a"));
        // Not complete yet.
        for part in [
            &b""[..],
            b"GET /metrics HTTP/1.1",
            b"GET /metrics HTTP/1.1\r\n",
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n",
            b"\r\n\r\n",
        ] {
            assert_eq!(parse_request(part), Ok(None), "{part:?}");
        }
        for bad in [
            &b"GET /metrics\r\n\r\n"[..],
            b"GET  /metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1 x\r\n\r\n",
            b"GET metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/2.0\r\n\r\n",
            b"G(T /metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n",
            b"GET /m\xc3\xa9trics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nX: \x00\r\n\r\n",
            b"GET /metrics\rX HTTP/1.1\r\n\r\n",
        ] {
            assert!(
                matches!(parse_request(bad), Err(BadRequest::Malformed(_))),
                "{bad:?}"
            );
        }
        // Too large: no end in sight, or an end beyond the limit.
        let mut long = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_HEAD));
        assert_eq!(parse_request(&long), Err(BadRequest::TooLarge));
        long.extend_from_slice(b"\r\n\r\n");
        assert_eq!(parse_request(&long), Err(BadRequest::TooLarge));
    }

    #[test]
    fn routes_and_responses() {
        assert_eq!(
            route(&req("GET", "/metrics")),
            Route::Metrics { head_only: false }
        );
        assert_eq!(
            route(&req("HEAD", "/metrics")),
            Route::Metrics { head_only: true }
        );
        assert_eq!(route(&req("POST", "/metrics")), Route::MethodNotAllowed);
        assert_eq!(route(&req("get", "/metrics")), Route::MethodNotAllowed);
        for p in ["/", "/metrics/", "/Metrics", "/favicon.ico"] {
            assert_eq!(route(&req("GET", p)), Route::NotFound, "{p}");
        }
        let head = String::from_utf8(Response::ok("a 1\n".into(), true).to_bytes()).unwrap();
        assert_eq!(
            head,
            format!("HTTP/1.1 200 OK\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: 4\r\nConnection: close\r\n\r\n")
        );
        let get = String::from_utf8(Response::ok("a 1\n".into(), false).to_bytes()).unwrap();
        assert!(get.ends_with("\r\n\r\na 1\n"));
        let e = String::from_utf8(Response::error(405, "method not allowed").to_bytes()).unwrap();
        assert!(e.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"), "{e}");
        assert!(e.contains("\r\nAllow: GET, HEAD\r\n"), "{e}");
        assert!(e.ends_with("\r\n\r\nmethod not allowed\n"), "{e}");
    }

    fn sender(pid: i32, app: &str, state: WalSenderState) -> WalSenderInfo {
        WalSenderInfo {
            pid,
            user: "repl".into(),
            application_name: app.into(),
            client_addr: Some("127.0.0.1".parse().unwrap()),
            client_port: 5000,
            backend_start: 0,
            state,
            sent_lsn: Some(Lsn(0x300_0000)),
            write_lsn: Some(Lsn(0x2FF_0000)),
            flush_lsn: None,
            replay_lsn: None,
            write_lag: Some(1_500),
            flush_lag: None,
            replay_lag: None,
            reply_time: None,
            backend_xmin: None,
            activity: String::new(),
            sync_priority: 0,
            sync_state: "async",
            cascading: false,
            slot_index: 0,
        }
    }

    #[test]
    fn standbys_are_labelled_uniquely_and_unknowns_left_out() {
        let config = crate::config::ServerConfig::defaults(std::path::Path::new("/tmp/tusk-x"));
        let mut x = Exposition::default();
        let senders = [
            sender(10, "s1", WalSenderState::Streaming),
            sender(11, "s2", WalSenderState::Catchup),
            sender(12, "s2", WalSenderState::Streaming),
            sender(13, "pg_basebackup", WalSenderState::Backup),
        ];
        replication(&mut x, &senders, &config);
        let text = x.finish();
        let samples = validate(&text);
        let get = |series: &str| {
            samples
                .iter()
                .find(|(s, _)| s == series)
                .map(|(_, v)| *v)
                .unwrap_or_else(|| panic!("{series} missing in\n{text}"))
        };
        assert_eq!(get("tusk_wal_senders{state=\"streaming\"}"), 2.0);
        assert_eq!(get("tusk_wal_senders{state=\"backup\"}"), 1.0);
        assert_eq!(get("tusk_wal_senders{state=\"stopping\"}"), 0.0);
        let s1 = "{application_name=\"s1\",client_addr=\"127.0.0.1\"}";
        assert_eq!(
            get(&format!("tusk_replication_sent_lsn_bytes{s1}")),
            50331648.0
        );
        assert_eq!(
            get(&format!("tusk_replication_write_lag_seconds{s1}")),
            0.0015
        );
        assert_eq!(get(&format!("tusk_replication_streaming{s1}")), 1.0);
        let s2 = "{application_name=\"s2\",client_addr=\"127.0.0.1\",pid=\"11\"}";
        assert_eq!(get(&format!("tusk_replication_streaming{s2}")), 0.0);
        // Unknown values and the base backup's walsender are left out.
        assert!(
            !text.contains("tusk_replication_flush_lsn_bytes{"),
            "{text}"
        );
        assert!(
            !text.contains("tusk_replication_replay_lag_seconds{"),
            "{text}"
        );
        assert!(!text.contains("pg_basebackup"), "{text}");
        // Every series is unique.
        let mut names: Vec<&String> = samples.iter().map(|(s, _)| s).collect();
        names.sort();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
