//! Server log lines in PostgreSQL's shape, written to stderr (or a file, see
//! [`set_output_file`]).
//!
//! The rest of tusk logs through the `tracing` macros; this module is the subscriber that
//! turns each event into the lines PostgreSQL would print:
//!
//! ```text
//! 2026-11-24 06:00:00.123 UTC [12345] LOG:  database system is ready to accept connections
//! 2026-11-24 06:00:01.456 UTC [12346] FATAL:  password authentication failed for user "x"
//! 2026-11-24 06:00:01.456 UTC [12346] DETAIL:  Connection matched pg_hba.conf line 99: "host all all 127.0.0.1/32 md5"
//! ```
//!
//! Mapping from `tracing` to PostgreSQL severities: `error!` → ERROR, `warn!` → WARNING,
//! `info!` → LOG, `debug!` → DEBUG1, `trace!` → DEBUG5. Event fields with special
//! meaning:
//! - `severity = "FATAL"` (or `"PANIC"`, `"NOTICE"`, `"INFO"`, `"DEBUG2"`, ...) replaces
//!   the level's name;
//! - `detail`, `hint`, `context`, `statement` add the `DETAIL:`, `HINT:`, `CONTEXT:`,
//!   `STATEMENT:` lines PostgreSQL prints after the message, each with the prefix;
//! - `backend_pid` replaces the server's PID in `%p` (connections are tasks, not
//!   processes); `user`, `database`, `application_name`, `remote_host`, `remote_port`,
//!   `sqlstate`, `backend_type`, `command_tag` feed `%u %d %a %h %r %e %b %i`;
//! - any other field is appended to the message as ` name=value`.
//!
//! Invariants: one event is written with a single `write` of all its lines, so lines of
//! concurrent tasks never interleave mid-line; a failure to write the log is ignored
//! (there is nowhere left to report it), never a panic.
//!
//! What this module must never do: block on anything but stderr, or depend on modules
//! above `error` (every module logs through it).
//!
//! One event, step by step:
//! 1. `tracing::info!(backend_pid = 77, "connection authorized: user=alice")` reaches
//!    [`PgSubscriber::event`].
//! 2. The fields are collected into a [`Record`]; the severity is LOG (from the level).
//! 3. [`is_logged`] compares it with `log_min_messages` (PostgreSQL's server-log order,
//!    in which LOG ranks between ERROR and FATAL).
//! 4. [`format_record`] expands `log_line_prefix` for each output line and appends
//!    `LOG:  connection authorized: user=alice`.
//! 5. The text goes to stderr in one write.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use chrono::{DateTime, Utc};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record as SpanRecord};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

use crate::error::{sqlstate, Error, Result};

/// PostgreSQL's default `log_line_prefix`.
pub const DEFAULT_LINE_PREFIX: &str = "%m [%p] ";

/// The current `log_line_prefix`; written by [`set_line_prefix`], read per event.
static LINE_PREFIX: RwLock<String> = RwLock::new(String::new());
/// Whether [`LINE_PREFIX`] has been set (an empty prefix is a valid setting).
static PREFIX_SET: AtomicU8 = AtomicU8::new(0);
/// The rank (see [`severity_rank`]) below which events are dropped; `warning` at start.
static MIN_RANK: AtomicU8 = AtomicU8::new(RANK_WARNING);
/// Counts log lines for `%l`.
static LINE_NUMBER: AtomicU64 = AtomicU64::new(0);
/// The file log lines go to instead of stderr, if one was set with [`set_output_file`].
static OUTPUT_FILE: Mutex<Option<std::fs::File>> = Mutex::new(None);
/// Guards [`init`] so the global subscriber is installed once.
static INSTALLED: OnceLock<()> = OnceLock::new();
/// The process start time, for `%s` and `%c` outside a session.
static START_TIME: OnceLock<DateTime<Utc>> = OnceLock::new();

const RANK_WARNING: u8 = 19;

/// Installs the PostgreSQL-shaped log subscriber as the global `tracing` dispatcher,
/// with `prefix` as `log_line_prefix`. Calling it again only changes the prefix.
pub fn init(prefix: &str) {
    set_line_prefix(prefix);
    START_TIME.get_or_init(Utc::now);
    INSTALLED.get_or_init(|| {
        let _ = tracing::subscriber::set_global_default(PgSubscriber::stderr());
    });
}

/// Sets `log_line_prefix` (`%m %t %n %p %l %s %c %u %d %a %h %r %e %b %i %q %%`, with
/// PostgreSQL's optional padding such as `%-10u`; unknown escapes print nothing, as in
/// PostgreSQL).
pub fn set_line_prefix(prefix: &str) {
    if let Ok(mut p) = LINE_PREFIX.write() {
        *p = prefix.to_string();
        PREFIX_SET.store(1, Ordering::Relaxed);
    }
}

/// Sends the log to `path` (appending, created with mode 0600 if missing) instead of
/// stderr; `None` goes back to stderr.
pub fn set_output_file(path: Option<&std::path::Path>) -> Result<()> {
    let file = match path {
        Some(p) => {
            use std::os::unix::fs::OpenOptionsExt;
            let f = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .open(p)
                .map_err(|e| {
                    Error::io(format!("could not open log file \"{}\"", p.display()), e)
                })?;
            Some(f)
        }
        None => None,
    };
    if let Ok(mut out) = OUTPUT_FILE.lock() {
        *out = file;
    }
    Ok(())
}

/// Sets `log_min_messages` from its PostgreSQL name (`debug5` … `debug1`, `info`,
/// `notice`, `warning`, `error`, `log`, `fatal`, `panic`, any case).
pub fn set_min_messages(level: &str) -> Result<()> {
    let lower = level.trim().to_ascii_lowercase();
    let rank = match lower.as_str() {
        "debug" => severity_rank("DEBUG2"),
        other => severity_rank(&other.to_ascii_uppercase()),
    };
    match rank {
        Some(r) => {
            MIN_RANK.store(r, Ordering::Relaxed);
            tracing::callsite::rebuild_interest_cache();
            Ok(())
        }
        None => Err(Error::new(
            sqlstate::INVALID_PARAMETER_VALUE,
            format!("invalid value for parameter \"log_min_messages\": \"{level}\""),
        )),
    }
}

/// The rank of a severity in PostgreSQL's server-log order (DEBUG5 lowest, LOG between
/// ERROR and FATAL); `None` for an unknown name.
pub fn severity_rank(severity: &str) -> Option<u8> {
    Some(match severity {
        "DEBUG5" => 10,
        "DEBUG4" => 11,
        "DEBUG3" => 12,
        "DEBUG2" => 13,
        "DEBUG1" => 14,
        "INFO" => 17,
        "NOTICE" => 18,
        "WARNING" => RANK_WARNING,
        "ERROR" => 21,
        "LOG" => 22,
        "FATAL" => 23,
        "PANIC" => 24,
        _ => return None,
    })
}

/// Whether an event of this severity passes the current `log_min_messages`.
pub fn is_logged(severity: &str) -> bool {
    severity_rank(severity).unwrap_or(22) >= MIN_RANK.load(Ordering::Relaxed)
}

/// Logs an [`Error`] with its own severity, detail and hint (for FATALs before and
/// after start-up, and for errors sessions report).
pub fn log_error(e: &Error) {
    log_at(
        e.severity.as_str(),
        &e.message,
        e.detail.as_deref(),
        e.hint.as_deref(),
    );
}

/// Logs one message under an explicit PostgreSQL severity name (`LOG`, `FATAL`…) with
/// optional DETAIL and HINT lines.
pub fn log_at(severity: &str, message: &str, detail: Option<&str>, hint: Option<&str>) {
    match (detail, hint) {
        (Some(d), Some(h)) => tracing::error!(severity, detail = %d, hint = %h, "{}", message),
        (Some(d), None) => tracing::error!(severity, detail = %d, "{}", message),
        (None, Some(h)) => tracing::error!(severity, hint = %h, "{}", message),
        (None, None) => tracing::error!(severity, "{}", message),
    }
}

/// Whose line a session's log event is: the values behind `%p %u %d %a %h %r` of
/// `log_line_prefix` (connections are tasks, so the backend PID is tusk's own number).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionTag {
    /// The backend PID (`%p`).
    pub pid: i32,
    /// The role (`%u`).
    pub user: String,
    /// The database (`%d`).
    pub database: String,
    /// The application_name (`%a`).
    pub application_name: String,
    /// The client host, `[local]` for a Unix socket (`%h`).
    pub remote_host: String,
    /// The client port, none for a Unix socket (`%r`).
    pub remote_port: Option<u16>,
}

/// One line of a session's: `message` at `severity` with the optional DETAIL, HINT
/// and STATEMENT lines, the SQLSTATE for `%e`, and the session's identity for the
/// prefix.
pub fn log_for_session(
    tag: &SessionTag,
    severity: &str,
    sqlstate: Option<&str>,
    message: &str,
    detail: Option<&str>,
    hint: Option<&str>,
    statement: Option<&str>,
) {
    tracing::error!(
        severity,
        backend_pid = tag.pid,
        user = tag.user.as_str(),
        database = tag.database.as_str(),
        application_name = tag.application_name.as_str(),
        remote_host = tag.remote_host.as_str(),
        remote_port = tag.remote_port.map(|p| p.to_string()),
        sqlstate,
        detail,
        hint,
        statement,
        "{}",
        message
    );
}

/// One log event with its fields sorted out, ready to be formatted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// The PostgreSQL severity name (`LOG`, `WARNING`, `FATAL`, ...).
    pub severity: String,
    /// The primary message, with any unrecognised fields appended.
    pub message: String,
    /// The `DETAIL:` line, if any.
    pub detail: Option<String>,
    /// The `HINT:` line, if any.
    pub hint: Option<String>,
    /// The `CONTEXT:` line, if any.
    pub context: Option<String>,
    /// The `STATEMENT:` line, if any.
    pub statement: Option<String>,
    /// The PID shown by `%p`: the backend's, or the server's.
    pub pid: u32,
    /// `%u`: the session's user (a record with a user or backend PID is a session's).
    pub user: Option<String>,
    /// `%d`: the session's database.
    pub database: Option<String>,
    /// `%a`: the session's application_name.
    pub application_name: Option<String>,
    /// `%h`: the client's host.
    pub remote_host: Option<String>,
    /// `%r` adds `(port)` after the host.
    pub remote_port: Option<String>,
    /// `%e`: the SQLSTATE (`00000` when absent).
    pub sqlstate: Option<String>,
    /// `%b`: the backend type (`postmaster` when absent outside a session).
    pub backend_type: Option<String>,
    /// `%i`: the command tag of the statement being executed.
    pub command_tag: Option<String>,
    /// Whether the record comes from a session (a connection) rather than the server.
    pub in_session: bool,
}

/// Formats a record as PostgreSQL's stderr log does: one prefixed line for the message
/// (continuation lines indented by a tab), then one prefixed line each for DETAIL, HINT,
/// CONTEXT and STATEMENT.
pub fn format_record(prefix: &str, rec: &Record, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let mut line = |label: &str, text: &str| {
        out.push_str(&expand_prefix(prefix, rec, now));
        out.push_str(label);
        out.push_str(":  ");
        out.push_str(&text.replace('\n', "\n\t"));
        out.push('\n');
    };
    line(&rec.severity, &rec.message);
    let extra = [
        ("DETAIL", &rec.detail),
        ("HINT", &rec.hint),
        ("CONTEXT", &rec.context),
        ("STATEMENT", &rec.statement),
    ];
    for (label, text) in extra {
        if let Some(t) = text {
            line(label, t);
        }
    }
    out
}

/// Expands the `log_line_prefix` escapes for one line of `rec`.
pub fn expand_prefix(prefix: &str, rec: &Record, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let mut chars = prefix.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        // Optional padding: %-10u pads on the right, %10u on the left.
        let mut spec = String::new();
        if chars.peek() == Some(&'-') {
            spec.push('-');
            chars.next();
        }
        while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
            spec.push(d);
            chars.next();
        }
        let Some(esc) = chars.next() else { break };
        let padding: i64 = spec.parse().unwrap_or(0);
        let value = match esc {
            '%' => "%".to_string(),
            'm' => now.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string(),
            't' => now.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            'n' => format!("{}.{:03}", now.timestamp(), now.timestamp_subsec_millis()),
            'p' => rec.pid.to_string(),
            'l' => LINE_NUMBER
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_add(1)
                .to_string(),
            's' => start_time().format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            'c' => format!("{:x}.{:x}", start_time().timestamp(), rec.pid),
            'v' | 'x' | 'Q' => {
                if esc == 'v' {
                    String::new()
                } else {
                    "0".to_string()
                }
            }
            'e' => rec
                .sqlstate
                .clone()
                .unwrap_or_else(|| sqlstate::SUCCESSFUL_COMPLETION.to_string()),
            'b' => rec.backend_type.clone().unwrap_or_else(|| {
                if rec.in_session {
                    "client backend".to_string()
                } else {
                    "postmaster".to_string()
                }
            }),
            'q' => {
                if rec.in_session {
                    continue;
                }
                break;
            }
            'u' | 'd' | 'a' | 'h' | 'r' | 'i' if !rec.in_session => String::new(),
            'u' => rec.user.clone().unwrap_or_default(),
            'd' => rec.database.clone().unwrap_or_default(),
            'a' => rec.application_name.clone().unwrap_or_default(),
            'h' => rec.remote_host.clone().unwrap_or_default(),
            'r' => match (&rec.remote_host, &rec.remote_port) {
                (Some(h), Some(p)) => format!("{h}({p})"),
                (Some(h), None) => h.clone(),
                _ => String::new(),
            },
            'i' => rec.command_tag.clone().unwrap_or_default(),
            // PostgreSQL ignores an unknown escape.
            _ => continue,
        };
        let width = padding.unsigned_abs() as usize;
        if padding < 0 {
            let _ = write!(out, "{value:<width$}");
        } else {
            let _ = write!(out, "{value:>width$}");
        }
    }
    out
}

/// The process start time (set by [`init`]; now, if it was never called).
fn start_time() -> DateTime<Utc> {
    *START_TIME.get_or_init(Utc::now)
}

/// The current `log_line_prefix`.
fn current_prefix() -> String {
    if PREFIX_SET.load(Ordering::Relaxed) == 0 {
        return DEFAULT_LINE_PREFIX.to_string();
    }
    LINE_PREFIX
        .read()
        .map(|p| p.clone())
        .unwrap_or_else(|_| DEFAULT_LINE_PREFIX.to_string())
}

/// The PostgreSQL severity name for a `tracing` level.
fn level_severity(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "LOG",
        Level::DEBUG => "DEBUG1",
        Level::TRACE => "DEBUG5",
    }
}

/// Collects an event's fields into a [`Record`].
struct FieldCollector<'a> {
    rec: &'a mut Record,
    extra: String,
}

impl FieldCollector<'_> {
    fn set(&mut self, name: &str, value: String) {
        let r = &mut *self.rec;
        match name {
            "message" => r.message = value,
            "severity" => r.severity = value.to_ascii_uppercase(),
            "detail" => r.detail = Some(value),
            "hint" => r.hint = Some(value),
            "context" => r.context = Some(value),
            "statement" => r.statement = Some(value),
            "backend_pid" => match value.parse() {
                Ok(pid) => {
                    r.pid = pid;
                    r.in_session = true;
                }
                Err(_) => self.extra.push_str(&format!(" backend_pid={value}")),
            },
            "user" => {
                r.user = Some(value);
                r.in_session = true;
            }
            "database" => r.database = Some(value),
            "application_name" => r.application_name = Some(value),
            "remote_host" => r.remote_host = Some(value),
            "remote_port" => r.remote_port = Some(value),
            "sqlstate" => r.sqlstate = Some(value),
            "backend_type" => r.backend_type = Some(value),
            "command_tag" => r.command_tag = Some(value),
            other => {
                let _ = write!(self.extra, " {other}={value}");
            }
        }
    }
}

impl Visit for FieldCollector<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field.name(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.set(field.name(), format!("{value:?}"));
    }
}

/// Where a [`PgSubscriber`] writes.
#[derive(Clone)]
enum Sink {
    /// The process's stderr.
    Stderr,
    /// An in-memory buffer (tests).
    Buffer(Arc<Mutex<Vec<u8>>>),
}

/// The `tracing` subscriber that writes PostgreSQL-shaped log lines; spans are accepted
/// and ignored (PostgreSQL's log has no nesting).
#[derive(Clone)]
pub struct PgSubscriber {
    /// Where the lines go.
    sink: Sink,
}

impl PgSubscriber {
    /// A subscriber writing to stderr.
    pub fn stderr() -> PgSubscriber {
        PgSubscriber { sink: Sink::Stderr }
    }

    /// A subscriber writing into `buffer` (for tests of code that logs).
    pub fn buffer(buffer: Arc<Mutex<Vec<u8>>>) -> PgSubscriber {
        PgSubscriber {
            sink: Sink::Buffer(buffer),
        }
    }
}

impl Subscriber for PgSubscriber {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // The minimum level changes at run time, so decide per event.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let min = MIN_RANK.load(Ordering::Relaxed);
        match *metadata.level() {
            Level::TRACE => min <= 12,
            Level::DEBUG => min <= 14,
            // A severity field may still lower or raise it; decided in `event`.
            _ => true,
        }
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &SpanRecord<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut rec = Record {
            severity: level_severity(event.metadata().level()).to_string(),
            pid: std::process::id(),
            ..Record::default()
        };
        let mut collector = FieldCollector {
            rec: &mut rec,
            extra: String::new(),
        };
        event.record(&mut collector);
        let extra = collector.extra;
        rec.message.push_str(&extra);
        if !is_logged(&rec.severity) {
            return;
        }
        let text = format_record(&current_prefix(), &rec, Utc::now());
        match &self.sink {
            Sink::Stderr => {
                if let Ok(mut file) = OUTPUT_FILE.lock() {
                    if let Some(f) = file.as_mut() {
                        let _ = f.write_all(text.as_bytes());
                        return;
                    }
                }
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
            Sink::Buffer(b) => {
                if let Ok(mut b) = b.lock() {
                    b.extend_from_slice(text.as_bytes());
                }
            }
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 6, 0, 0).unwrap() + chrono::Duration::milliseconds(123)
    }

    fn rec(severity: &str, message: &str) -> Record {
        Record {
            severity: severity.into(),
            message: message.into(),
            pid: 12345,
            ..Record::default()
        }
    }

    #[test]
    fn default_prefix_line() {
        let r = rec("LOG", "database system is ready to accept connections");
        assert_eq!(
            format_record(DEFAULT_LINE_PREFIX, &r, at()),
            "2026-11-24 06:00:00.123 UTC [12345] LOG:  database system is ready to accept connections\n"
        );
    }

    #[test]
    fn detail_hint_and_continuation_lines() {
        let mut r = rec("FATAL", "lock file \"postmaster.pid\" already exists");
        r.hint = Some("Is another postmaster (PID 1) running in data directory \"/d\"?".into());
        r.detail = Some("Two\nlines.".into());
        assert_eq!(
            format_record("%t [%p] ", &r, at()),
            "2026-11-24 06:00:00 UTC [12345] FATAL:  lock file \"postmaster.pid\" already exists\n\
             2026-11-24 06:00:00 UTC [12345] DETAIL:  Two\n\tlines.\n\
             2026-11-24 06:00:00 UTC [12345] HINT:  Is another postmaster (PID 1) running in data directory \"/d\"?\n"
        );
    }

    #[test]
    fn prefix_escapes() {
        let mut r = rec("LOG", "x");
        assert_eq!(expand_prefix("<%u%%%d>", &r, at()), "<%>");
        assert_eq!(expand_prefix("%e %b|%q%u", &r, at()), "00000 postmaster|");
        assert_eq!(expand_prefix("%n", &r, at()), "1795500000.123");
        assert_eq!(expand_prefix("a%zb%", &r, at()), "ab");
        r.in_session = true;
        r.user = Some("alice".into());
        r.database = Some("db".into());
        r.application_name = Some("psql".into());
        r.remote_host = Some("127.0.0.1".into());
        r.remote_port = Some("5555".into());
        assert_eq!(
            expand_prefix("%u@%d %a %h %r %q[%p]", &r, at()),
            "alice@db psql 127.0.0.1 127.0.0.1(5555) [12345]"
        );
        assert_eq!(expand_prefix("[%-7u][%7d]", &r, at()), "[alice  ][     db]");
        assert_eq!(expand_prefix("%b", &r, at()), "client backend");
    }

    #[test]
    fn severity_order_is_postgresqls() {
        let rank = |s| severity_rank(s).unwrap();
        assert!(rank("LOG") > rank("ERROR"));
        assert!(rank("LOG") < rank("FATAL"));
        assert!(rank("DEBUG5") < rank("DEBUG1"));
        assert!(rank("WARNING") < rank("ERROR"));
        assert_eq!(severity_rank("BOGUS"), None);
    }

    #[test]
    fn subscriber_maps_levels_and_fields() {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sub = PgSubscriber::buffer(buf.clone());
        tracing::subscriber::with_default(sub, || {
            tracing::info!("database system is ready to accept connections");
            tracing::warn!(hint = "Do it.", "something odd");
            tracing::error!(severity = "FATAL", detail = "Some detail.", "it broke");
            tracing::info!(
                backend_pid = 777u32,
                user = "alice",
                "connection authorized"
            );
            tracing::info!(lsn = "0/16B3748", "redo starts");
            tracing::debug!("not shown at the default log_min_messages");
            tracing::info!(severity = "NOTICE", "not shown either");
        });
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        let pid = std::process::id();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 7, "{text}");
        assert!(lines[0].ends_with(&format!(
            " UTC [{pid}] LOG:  database system is ready to accept connections"
        )));
        assert!(lines[1].ends_with(&format!("[{pid}] WARNING:  something odd")));
        assert!(lines[2].ends_with(&format!("[{pid}] HINT:  Do it.")));
        assert!(lines[3].ends_with(&format!("[{pid}] FATAL:  it broke")));
        assert!(lines[4].ends_with(&format!("[{pid}] DETAIL:  Some detail.")));
        assert!(lines[5].ends_with("[777] LOG:  connection authorized"));
        assert!(lines[6].ends_with("LOG:  redo starts lsn=0/16B3748"));
        // The timestamp has PostgreSQL's shape: "YYYY-MM-DD HH:MM:SS.mmm UTC".
        let ts = &lines[0][..27];
        assert!(
            chrono::NaiveDateTime::parse_from_str(&ts[..23], "%Y-%m-%d %H:%M:%S%.3f").is_ok(),
            "{ts}"
        );
    }

    #[test]
    fn log_error_carries_severity_and_hint() {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sub = PgSubscriber::buffer(buf.clone());
        let e = Error::fatal("F0001", "lock file \"postmaster.pid\" already exists")
            .with_hint("Is another postmaster running?");
        tracing::subscriber::with_default(sub, || log_error(&e));
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        assert!(text.contains("] FATAL:  lock file \"postmaster.pid\" already exists\n"));
        assert!(text.contains("] HINT:  Is another postmaster running?\n"));
        assert!(!text.contains("sqlstate="), "{text}");
    }

    #[test]
    fn output_file_receives_lines() {
        let path = std::env::temp_dir().join(format!("tusk-log-{}.log", std::process::id()));
        set_output_file(Some(&path)).unwrap();
        tracing::subscriber::with_default(PgSubscriber::stderr(), || {
            tracing::info!("to the file");
        });
        set_output_file(None).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("LOG:  to the file\n"), "{text}");
        std::fs::remove_file(&path).unwrap();
        assert!(set_output_file(Some(std::path::Path::new("/nonexistent/x.log"))).is_err());
    }

    #[test]
    fn min_messages_names() {
        assert!(set_min_messages("bogus").is_err());
        assert!(set_min_messages("WARNING").is_ok());
    }
}
