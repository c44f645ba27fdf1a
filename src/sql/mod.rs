//! The SQL layer: sessions, the front parser, binder/planner, expressions and the
//! executor. sqlparser's AST never leaves this module.
//!
//! Map of this module:
//! - `mod.rs`       — [`Session`]: simple and extended query protocol, transaction
//!   blocks, notices, value encoding for the wire
//! - `front.rs`     — statement splitting and tusk's own parser for the statements
//!   sqlparser cannot parse (roles, CHECKPOINT, ALTER SYSTEM, SET/SHOW, BEGIN/COMMIT)
//! - `plan.rs`      — binding against the catalog and planning ([`plan::Plan`])
//! - `parse_cache.rs`, `generic.rs` — one parse, and one plan, per statement shape
//!   whose numeric literals differ (the simple query protocol's repeated statements)
//! - `hot.rs`       — the settings every statement reads, remembered between changes
//! - `expr.rs`      — typed expressions and their evaluation
//! - `functions.rs` — built-in functions
//! - `exec.rs`      — running plans against the storage engine
//! - `copy_convert.rs` — a large text COPY FROM's lines converted on a thread of their
//!   own while the session inserts
//!
//! Invariants:
//! - Every statement runs inside an engine transaction: an explicit block (BEGIN …
//!   COMMIT), or an implicit one that ends with the simple Query message or at Sync.
//! - A failed statement inside a block aborts the engine transaction at once (releasing
//!   what others wait for) and leaves the block failed until COMMIT/ROLLBACK (25P02).
//! - READ COMMITTED: each statement takes a new snapshot.
//!
//! What this module must never do: touch sockets or files (the server owns the wire,
//! storage owns the disk), let sqlparser types escape it, or panic on client input.
//!
//! One simple query's walk, `INSERT INTO t VALUES (1) RETURNING id`:
//! 1. [`Session::simple_query`] splits the text ([`front::split_statements`]) and asks
//!    the front parser, then sqlparser, for each statement's AST;
//! 2. the statement enters the implicit transaction ([`Engine::begin`]) and takes a
//!    snapshot;
//! 3. [`plan::Binder`] resolves `t`, types `1` as integer, coerces it to the column and
//!    fills defaults, producing a [`plan::Plan`];
//! 4. [`exec`] evaluates the row, checks NOT NULL, and calls [`Engine::insert`]
//!    (primary key check, MVCC version, WAL record buffered in the transaction);
//! 5. at the end of the query string the implicit transaction commits
//!    ([`Engine::commit`]: WAL append + flush, then visibility) and the result
//!    `INSERT 0 1` with the RETURNING row goes back to the server.

pub mod acl;
pub mod aggregate;
pub mod alter;
pub mod catalog_funcs;
mod copy_convert;
pub mod copy_out;
pub mod ctas;
pub mod cte;
mod cursors;
pub mod dialect;
// Sequences, serial and identity columns, CHECK constraints (ddl.rs).
pub mod ddl;
pub mod deparse;
pub mod depth;
pub mod enums;
pub mod exec;
pub mod explain;
pub mod expr;
pub mod fkeys;
pub mod format_funcs;
pub mod front;
pub mod functions;
pub mod generated;
mod generic;
mod hot;
pub mod join;
pub mod lateral;
pub mod lock;
pub mod log_level;
pub mod owner;
pub mod parse_cache;
pub mod pg_clauses;
pub mod plan;
mod prepare;
pub mod privileges;
pub mod regex_funcs;
pub mod reloptions;
pub mod seq_options;
pub mod stat_funcs;
pub mod string_funcs;
// Temporary tables: the session's namespace handle and ON COMMIT actions (temp.rs).
pub mod temp;
pub mod ties;
pub mod to_char;
pub mod to_char_num;
pub mod type_funcs;
pub mod tz_funcs;
pub mod viewdef;
pub mod window;

pub use crate::config::{PgSettingRow, ServerConfig, SessionSettings};
use crate::error::{sqlstate, Error, Result, Severity};
use crate::storage::{Engine, RoleInfo, Transaction};
use crate::types::{self, DataType, FormatOptions, Value};
use crate::{bail, err};
use front::{FrontStmt, Piece};
use plan::{Binder, Plan};
use sqlparser::ast;
use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What the server lends a session (implemented by the server).
pub trait ServerHooks: Send + Sync {
    /// `pg_reload_conf()`: re-reads the configuration files; true on success.
    fn reload_config(&self) -> bool;
    /// `pg_cancel_backend(pid)`.
    fn cancel_backend(&self, pid: i32) -> bool;
    /// `pg_terminate_backend(pid)`.
    fn terminate_backend(&self, pid: i32) -> bool;
    /// The postmaster start time (PostgreSQL timestamp microseconds).
    fn postmaster_start_time(&self) -> i64;
    /// The current server configuration.
    fn server_config(&self) -> Arc<ServerConfig>;
    // ---- replication slots ----
    /// The physical replication slots (for the slot functions and
    /// `pg_replication_slots`); `None` where there are none (tests without a server).
    fn slots(&self) -> Option<Arc<crate::replication::slots::SlotManager>> {
        None
    }

    /// The live walsenders (`pg_stat_replication`); none unless a server provides them.
    fn wal_senders(&self) -> Vec<crate::replication::walsender::WalSenderInfo> {
        Vec::new()
    }

    /// Synchronous replication: waits until the synchronous standbys confirmed the
    /// commit ending at `lsn` as `mode` asks, or backend `pid` is cancelled (`cancel`)
    /// or terminated. Called after the local flush, before the commit is visible;
    /// `waiting` is told when it actually blocks (`true`) and stops (`false`).
    fn wait_for_sync_rep(
        &self,
        _pid: i32,
        _lsn: crate::storage::wal::Lsn,
        _mode: crate::replication::syncrep::WaitMode,
        _cancel: &AtomicBool,
        _waiting: &mut dyn FnMut(bool),
    ) -> crate::replication::syncrep::WaitOutcome {
        crate::replication::syncrep::WaitOutcome::NotRequired
    }
}

/// Who and where a session is.
#[derive(Clone)]
pub struct SessionContext {
    /// The authenticated user.
    pub user: String,
    /// The database connected to.
    pub database: String,
    /// The backend's process id as reported in BackendKeyData.
    pub backend_pid: i32,
    /// Set by a cancel request; checked by long-running statements (57014).
    pub cancel: Arc<AtomicBool>,
    /// Server services.
    pub hooks: Arc<dyn ServerHooks>,
    /// `application_name` from the startup packet.
    pub application_name: String,
}

/// A result column, as RowDescription describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDesc {
    /// The column name.
    pub name: String,
    /// The source table OID, or 0.
    pub table_oid: u32,
    /// The source column number, or 0.
    pub column_id: i16,
    /// The type OID.
    pub type_oid: u32,
    /// The type length (`typlen`).
    pub type_len: i16,
    /// The type modifier.
    pub typmod: i32,
}

/// The result of one statement.
#[derive(Debug, Clone)]
pub enum ExecResult {
    /// Rows (SELECT, SHOW, RETURNING) with their command tag.
    Rows {
        /// The columns.
        fields: Arc<Vec<FieldDesc>>,
        /// The rows.
        rows: Vec<Vec<Value>>,
        /// The command tag (`SELECT 2`, `INSERT 0 1`, `SHOW`).
        tag: String,
    },
    /// A command without rows.
    Command {
        /// The command tag.
        tag: String,
    },
    /// An empty query string.
    Empty,
    /// COPY … FROM STDIN started: the server answers CopyInResponse (text format,
    /// `columns` columns), then feeds CopyData to [`Session::copy_data`] and ends with
    /// [`Session::copy_done`] (CopyDone) or [`Session::copy_fail`] (CopyFail).
    CopyIn {
        /// The number of columns each row carries.
        columns: usize,
        /// Binary format (psql then reads its input as bytes, not lines).
        binary: bool,
    },
    /// COPY … TO STDOUT: the server answers CopyOutResponse (`columns` columns, binary
    /// or text), one CopyData per payload, CopyDone, then CommandComplete `tag`.
    CopyOut {
        /// The number of columns.
        columns: usize,
        /// Binary format (else text/CSV).
        binary: bool,
        /// The CopyData payloads, in order.
        data: Vec<Vec<u8>>,
        /// `COPY n`.
        tag: String,
    },
}

/// A COPY FROM STDIN in progress.
struct CopyState {
    db: u32,
    table: Arc<crate::storage::TableDef>,
    targets: Vec<usize>,
    defaults: Vec<expr::Expr>,
    csv: bool,
    delimiter: char,
    null: String,
    skip_header: bool,
    buf: Vec<u8>,
    rows: u64,
    ended: bool,
    /// Input lines consumed so far (the header included), for CONTEXT.
    line_no: u64,
    /// Binary format; `binary_header` is set once the signature and header were read.
    binary: bool,
    binary_header: bool,
    /// The thread converting a large text COPY's batches (`copy_convert`), once started.
    converter: Option<copy_convert::Converter>,
}

/// One field of a COPY FROM row: text to parse, or a binary value to decode.
enum CopyField<'a> {
    /// A text or CSV field, borrowed from the line when it needed no unescaping.
    Text(Cow<'a, str>),
    Binary(Vec<u8>),
}

/// A COPY FROM row's values as they reach the insert: fields still to convert, or what
/// `copy_convert`'s thread made of them — the row with its copied columns converted and
/// the others NULL until their defaults are filled in, or the conversion's error.
enum CopyValues<'a> {
    Fields(Vec<Option<CopyField<'a>>>),
    Converted(Result<Vec<Value>>),
}

/// One COPY FROM row: its line number, the line (for CONTEXT; empty for binary), its
/// fields.
type CopyRow<'a> = (u64, &'a str, Vec<Option<CopyField<'a>>>);

/// The binary COPY signature.
const PGCOPY_SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// The transaction status reported in ReadyForQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionStatus {
    /// Not in a transaction block (`I`).
    Idle,
    /// In a transaction block (`T`).
    InBlock,
    /// In a failed transaction block (`E`).
    Failed,
}

/// What an executing statement may use: the engine, the session's settings and
/// identity, its transaction, and the bound parameters.
pub struct ExecCtx<'a> {
    /// The engine.
    pub engine: &'a Arc<Engine>,
    /// The session's settings.
    pub settings: &'a mut SessionSettings,
    /// The session's identity and hooks.
    pub ctx: &'a SessionContext,
    /// The current transaction.
    pub txn: &'a mut Transaction,
    /// Parameter values.
    pub params: &'a [Value],
    /// The session's database OID.
    pub db_oid: u32,
    /// The statement's start time.
    pub stmt_time: i64,
    /// Notices to send.
    pub notices: &'a mut Vec<Error>,
    /// When `statement_timeout` expires for this statement, if set.
    pub deadline: Option<std::time::Instant>,
    /// Results of uncorrelated subqueries already run in this statement (by plan address).
    pub subqueries: HashMap<usize, Arc<Vec<Vec<Value>>>>,
    /// The current rows of the enclosing queries while a correlated subquery runs
    /// (innermost last), read by `Expr::OuterColumn`.
    pub outer: Vec<Vec<Value>>,
    /// REPEATABLE READ or SERIALIZABLE: a row changed by a transaction that committed
    /// after the snapshot cannot be updated, deleted or locked (40001).
    pub serializable: bool,
    /// The session's sequence state and cached CHECK constraints (see `sql::ddl`).
    pub ddl: &'a mut ddl::DdlSession,
    /// The transaction's deferred foreign key checks (see `sql::fkeys`).
    pub deferred: &'a mut fkeys::Deferred,
    /// The session's temporary namespace and ON COMMIT actions (see `sql::temp`).
    pub temp: &'a mut temp::TempSession,
}

impl ExecCtx<'_> {
    /// Output options from the session's settings.
    pub fn format_options(&self) -> FormatOptions {
        format_options(self.settings)
    }

    /// The current role.
    pub fn current_role(&self) -> Option<RoleInfo> {
        self.engine.role(&self.ctx.user)
    }

    /// Whether the current role is a superuser.
    pub fn is_superuser(&self) -> bool {
        self.current_role().is_some_and(|r| r.superuser)
    }

    /// Fails with 57014 when the statement was canceled or ran past
    /// `statement_timeout` (40001 when a hot standby's replay cancelled it for a
    /// recovery conflict); long-running loops call it regularly.
    pub fn check_interrupts(&self) -> Result<()> {
        if self.ctx.cancel.swap(false, Ordering::SeqCst) {
            // Replay of a hot standby cancels with its own text (standby_locks.rs).
            if let Some(e) = self.engine.standby_locks().take_conflict(self.txn.xid) {
                return Err(e);
            }
            bail!(
                sqlstate::QUERY_CANCELED,
                "canceling statement due to user request"
            );
        }
        if self
            .deadline
            .is_some_and(|d| std::time::Instant::now() >= d)
        {
            bail!(
                sqlstate::QUERY_CANCELED,
                "canceling statement due to statement timeout"
            );
        }
        Ok(())
    }
}

/// Output options from the session's settings. Resolving `TimeZone` also makes it
/// this thread's session zone (`types::timezone::session_zone`), which the casts
/// between local and absolute time use.
fn format_options(s: &SessionSettings) -> FormatOptions {
    FormatOptions {
        zone: types::timezone::session_zone(&s.get_str("TimeZone")),
        bytea_escape: s.get_str("bytea_output").eq_ignore_ascii_case("escape"),
    }
}

/// The column name SHOW uses for a setting (its canonical spelling, e.g. `DateStyle`).
pub fn setting_display_name(name: &str) -> String {
    crate::config::lookup(name)
        .map(|d| d.name.to_string())
        .unwrap_or_else(|| name.to_string())
}

/// Encrypts a password as `password_encryption` says.
pub(crate) fn encrypt_password(method: &str, user: &str, password: &str) -> String {
    crate::auth::encrypt_password(method, user, password)
}

/// The rows of `pg_settings` from the session's settings.
pub fn pg_settings_rows(s: &SessionSettings) -> Vec<Vec<Value>> {
    let t = |v: &Option<String>| v.clone().map(Value::Text).unwrap_or(Value::Null);
    s.pg_settings_rows()
        .into_iter()
        .map(|r| {
            vec![
                Value::Text(r.name),
                Value::Text(r.setting),
                t(&r.unit),
                Value::Text(r.category),
                Value::Text(r.short_desc),
                t(&r.extra_desc),
                Value::Text(r.context),
                Value::Text(r.vartype),
                Value::Text(r.source),
                t(&r.min_val),
                t(&r.max_val),
                r.enumvals
                    .map(|v| Value::TextArray(v.into_iter().map(Some).collect()))
                    .unwrap_or(Value::Null),
                t(&r.boot_val),
                t(&r.reset_val),
                t(&r.sourcefile),
                r.sourceline.map(Value::Int4).unwrap_or(Value::Null),
                Value::Bool(r.pending_restart),
            ]
        })
        .collect()
}

/// A parsed statement.
#[derive(Debug, Clone)]
enum Parsed {
    /// An empty statement.
    Empty,
    /// A statement of the front parser.
    Front(FrontStmt),
    /// A statement parsed by sqlparser.
    Sql(Box<ast::Statement>),
}

/// Parses one statement: the front parser first (never for data-manipulation
/// statements, which it has nothing for), then sqlparser — through the parse cache
/// (`parse_cache`) when the text allows.
fn parse_one(p: &Piece) -> Result<Parsed> {
    if front::is_blank(&p.text) {
        return Ok(Parsed::Empty);
    }
    if !parse_cache::is_dml(&p.text) {
        if let Some(f) = front::parse(&p.text)? {
            return Ok(Parsed::Front(f));
        }
    } else {
        let cached =
            parse_cache::parse_through(&p.text, |template| parse_placeholders(template, p.offset));
        if let Some(stmt) = cached {
            return Ok(Parsed::Sql(Box::new(stmt)));
        }
    }
    parse_sql(p).map(|(parsed, _)| parsed)
}

/// The tree of a text with placeholders for its literals (a template or a shape, at
/// `offset` in the query string), when sqlparser takes it as it is: a text one of
/// [`parse_sql`]'s rewrites touched is not one whose literals are only placeholders.
fn parse_placeholders(text: &str, offset: usize) -> Option<ast::Statement> {
    let piece = Piece {
        text: text.to_string(),
        offset,
    };
    match parse_sql(&piece) {
        Ok((Parsed::Sql(stmt), false)) => Some(*stmt),
        _ => None,
    }
}

/// Parses one statement with sqlparser, after the text rewrites sqlparser needs
/// (`temp`, `seq_options`, `pg_clauses`); the flag says whether any of them applied.
fn parse_sql(p: &Piece) -> Result<(Parsed, bool)> {
    let dialect = crate::sql::dialect::PG;
    // CREATE UNLOGGED TABLE makes an ordinary (logged) table (sql::temp).
    let logged = temp::unlogged_as_logged(&p.text);
    // CREATE SEQUENCE's options in any order (sql::seq_options).
    let logged = seq_options::reorder(logged.as_deref().unwrap_or(&p.text)).or(logged);
    let (text, clauses) = pg_clauses::rewrite_all(logged.as_deref().unwrap_or(&p.text));
    let rewritten = logged.is_some()
        || matches!(text, std::borrow::Cow::Owned(_))
        || clauses != pg_clauses::Clauses::default();
    let mut stmts = depth::parse(&dialect, &text).map_err(|e| match e {
        depth::ParseError::TooDeep(e) => e,
        depth::ParseError::Syntax(e) => syntax_error(&e.to_string(), p),
    })?;
    if let (Some(o), [sqlparser::ast::Statement::Insert(ins)]) =
        (clauses.overriding, &mut stmts[..])
    {
        plan::mark_overriding(ins, o);
    }
    if let Some(t) = &clauses.conflict_target {
        match &mut stmts[..] {
            [sqlparser::ast::Statement::Insert(ins)] if ins.on.is_some() => {
                plan::mark_conflict_target(ins, t)
            }
            // (elsewhere the blanked target would widen the arbiter to any index)
            _ => bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "ON CONFLICT with index expressions or a WHERE clause is supported only in a plain INSERT statement"
            ),
        }
    }
    if clauses.drop_concurrently {
        if let [sqlparser::ast::Statement::Drop { purge, .. }] = &mut stmts[..] {
            // Hive's PURGE flag (never PostgreSQL's) carries CONCURRENTLY to the session.
            *purge = true;
        }
    }
    let parsed = match stmts.len() {
        0 => Parsed::Empty,
        1 => Parsed::Sql(Box::new(stmts.remove(0))),
        _ => bail!(
            sqlstate::SYNTAX_ERROR,
            "cannot insert multiple commands into a prepared statement"
        ),
    };
    Ok((parsed, rewritten))
}

/// Turns a sqlparser error into PostgreSQL's syntax error with a position when the
/// message carries one.
fn syntax_error(msg: &str, p: &Piece) -> Error {
    // sqlparser: "sql parser error: Expected: …, found: X at Line: 1, Column: 8"
    let found = msg
        .split("found: ")
        .nth(1)
        .map(|s| s.split(" at Line").next().unwrap_or(s).trim().to_string());
    let mut e = match found.as_deref() {
        Some("EOF") | None => err!(sqlstate::SYNTAX_ERROR, "syntax error at end of input"),
        Some(tok) => err!(sqlstate::SYNTAX_ERROR, "syntax error at or near \"{tok}\""),
    };
    if let Some(loc) = msg.split("Line: ").nth(1) {
        let mut it = loc.split(", Column: ");
        let line: usize = it.next().and_then(|x| x.trim().parse().ok()).unwrap_or(0);
        let col: usize = it
            .next()
            .and_then(|x| {
                x.trim()
                    .trim_end_matches(|c: char| !c.is_ascii_digit())
                    .parse()
                    .ok()
            })
            .unwrap_or(0);
        if line > 0 {
            let mut idx = 0;
            for (i, l) in p.text.split('\n').enumerate() {
                if i + 1 == line {
                    idx += col.saturating_sub(1);
                    break;
                }
                idx += l.chars().count() + 1;
            }
            e = e.with_position((p.offset + idx + 1) as u32);
        }
    } else if found.as_deref() == Some("EOF") || found.is_none() {
        e = e.with_position((p.offset + p.text.chars().count() + 1) as u32);
    }
    e
}

/// A COPY text field converted to the type of `table`'s column `t`, its error carrying
/// PostgreSQL's CONTEXT (`COPY t, line n, column c: "text"`).
fn convert_text_field(
    table: &crate::storage::TableDef,
    t: usize,
    line_no: u64,
    s: &str,
) -> Result<Value> {
    let c = &table.columns[t];
    if c.data_type == DataType::Bpchar {
        if let Some(v) = types::bpchar_input(s, c.typmod) {
            return Ok(v);
        }
    }
    types::parse_text(c.data_type, c.typmod, s)
        .and_then(|v| {
            if parsed_is_final(c.data_type, c.typmod, &v) {
                Ok(v)
            } else {
                types::cast(v, c.data_type, c.typmod, false)
            }
        })
        .map_err(|e| {
            e.with_context(format!(
                "COPY {}, line {line_no}, column {}: \"{s}\"",
                table.name, c.name
            ))
        })
}

/// Whether a value `types::parse_text` gave for a column of type `t` is already the
/// column's value, so that the assignment cast (a long chain of checks, per field of
/// every copied row) can be skipped: integers and booleans of the column's own type
/// (parsing checked their range), text for an unconstrained `text` column, and text
/// that fits a `varchar(n)` or has exactly the length of a `character(n)`.
fn parsed_is_final(t: DataType, typmod: i32, v: &Value) -> bool {
    // A length limit (typmod 4 + n) changes only strings longer than it, and pads
    // shorter ones for character(n): text that already fits is left as it is.
    let limit = (typmod >= 4).then(|| (typmod - 4) as usize);
    match (t, v) {
        (DataType::Int2, Value::Int2(_))
        | (DataType::Int4, Value::Int4(_))
        | (DataType::Int8, Value::Int8(_))
        | (DataType::Bool, Value::Bool(_)) => true,
        (DataType::Text, Value::Text(_)) => typmod < 0,
        (DataType::Varchar, Value::Text(s)) => limit.is_none_or(|n| s.chars().count() <= n),
        (DataType::Bpchar, Value::Text(s)) => limit.is_none_or(|n| s.chars().count() == n),
        _ => false,
    }
}

/// Splits a COPY text-format line into fields (backslash escapes, the NULL marker);
/// a field without a backslash is borrowed from the line. A backslash quotes the byte
/// after it, so an escaped delimiter is data, as in PostgreSQL (`x\<tab>y` is one
/// field). One pass over the line's bytes: the delimiter is one byte (PostgreSQL
/// refuses others), and neither it nor a backslash can occur inside a multi-byte
/// UTF-8 character, so every cut lies on a character boundary.
/// The fields are appended to `fields`.
fn copy_text_fields<'a>(
    line: &'a str,
    delim: char,
    null: &str,
    fields: &mut Vec<Option<CopyField<'a>>>,
) {
    let field = |raw: &'a str, escaped: bool| {
        if raw == null {
            None
        } else if !escaped {
            Some(CopyField::Text(Cow::Borrowed(raw)))
        } else {
            Some(CopyField::Text(Cow::Owned(unescape_copy_text(raw))))
        }
    };
    // (`u8::try_from` would also take U+0080..U+00FF, whose UTF-8 is two bytes.)
    let Some(d) = delim.is_ascii().then_some(delim as u8) else {
        fields.extend(line.split(delim).map(|raw| field(raw, raw.contains('\\'))));
        return;
    };
    let bytes = line.as_bytes();
    let (mut start, mut at, mut escaped) = (0, 0, false);
    while at < bytes.len() {
        let b = bytes[at];
        if b == b'\\' {
            escaped = true;
            at += 2;
            continue;
        }
        if b == d {
            fields.push(field(&line[start..at], escaped));
            start = at + 1;
            escaped = false;
        }
        at += 1;
    }
    fields.push(field(&line[start..], escaped));
}

/// A COPY text field's backslash escapes decoded (`\n`, `\t`, octal `\NNN`, …; any
/// other escaped character stands for itself).
fn unescape_copy_text(raw: &str) -> String {
    let mut out = String::new();
    let mut it = raw.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('v') => out.push('\u{b}'),
            Some(d @ '0'..='7') => {
                let mut v = d.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match it.peek().and_then(|c| c.to_digit(8)) {
                        Some(x) => {
                            v = v * 8 + x;
                            it.next();
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(v).unwrap_or('?'));
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Takes the complete lines out of a text/CSV COPY buffer (a newline inside a quoted
/// CSV field belongs to the field); at the end, the rest too. Returns the bytes taken
/// and each line's range in them (without its line end), so that no line is copied.
fn copy_take_lines(st: &mut CopyState, last: bool) -> (Vec<u8>, Vec<Range<usize>>) {
    let csv = st.csv;
    let line_end = |buf: &[u8]| {
        let mut quoted = false;
        buf.iter().position(|&b| {
            if csv && b == b'"' {
                quoted = !quoted;
            }
            b == b'\n' && !quoted
        })
    };
    let mut lines = Vec::new();
    // Lines are cut at an advancing offset and the buffer shifted once at the end:
    // draining each line from the front would move the rest of the buffer per line.
    let mut start = 0;
    while let Some(pos) = line_end(&st.buf[start..]) {
        let mut end = start + pos;
        if end > start && st.buf[end - 1] == b'\r' {
            end -= 1;
        }
        lines.push(start..end);
        start += pos + 1;
    }
    if last && start < st.buf.len() {
        lines.push(start..st.buf.len());
        start = st.buf.len();
    }
    // The incomplete last line (short) stays; the rest is handed out whole.
    let rest = st.buf.split_off(start);
    (std::mem::replace(&mut st.buf, rest), lines)
}

/// Splits text/CSV COPY lines into rows (the header skipped, `\.` ending the data),
/// with PostgreSQL's missing/extra data errors.
fn copy_text_rows<'a>(
    st: &mut CopyState,
    buf: &'a [u8],
    lines: &[Range<usize>],
) -> Result<Vec<CopyRow<'a>>> {
    let mut rows = Vec::with_capacity(lines.len());
    for line in lines {
        let mut fields = Vec::with_capacity(st.targets.len());
        if let Some((line_no, text)) = copy_text_line(st, &buf[line.clone()], &mut fields)? {
            rows.push((line_no, text, fields));
        }
    }
    Ok(rows)
}

/// Cuts one text/CSV COPY line into `fields` (emptied first) and gives its line number
/// and text, or None for a line that holds no row (the CSV header, `\.`, anything after
/// `\.`). Errors as PostgreSQL's: bad UTF-8, missing or extra data.
fn copy_text_line<'a>(
    st: &mut CopyState,
    line: &'a [u8],
    fields: &mut Vec<Option<CopyField<'a>>>,
) -> Result<Option<(u64, &'a str)>> {
    fields.clear();
    if st.ended {
        return Ok(None);
    }
    st.line_no += 1;
    let line_no = st.line_no;
    let at = |st: &CopyState| format!("COPY {}, line {line_no}", st.table.name);
    let Ok(text) = std::str::from_utf8(line) else {
        return Err(err!(
            sqlstate::CHARACTER_NOT_IN_REPERTOIRE,
            "invalid byte sequence for encoding \"UTF8\""
        )
        .with_context(at(st)));
    };
    if text == "\\." {
        st.ended = true;
        return Ok(None);
    }
    if st.skip_header {
        st.skip_header = false;
        return Ok(None);
    }
    if st.csv {
        fields.extend(
            copy_csv_fields(text, st.delimiter, &st.null)
                .into_iter()
                .map(|f| f.map(|f| CopyField::Text(Cow::Owned(f)))),
        );
    } else {
        copy_text_fields(text, st.delimiter, &st.null, fields);
    }
    if fields.len() < st.targets.len() {
        return Err(err!(
            sqlstate::BAD_COPY_FILE_FORMAT,
            "missing data for column \"{}\"",
            st.table.columns[st.targets[fields.len()]].name
        )
        .with_context(format!("{}: \"{text}\"", at(st))));
    }
    if fields.len() > st.targets.len() {
        return Err(err!(
            sqlstate::BAD_COPY_FILE_FORMAT,
            "extra data after last expected column"
        )
        .with_context(format!("{}: \"{text}\"", at(st))));
    }
    Ok(Some((line_no, text)))
}

/// Reads the complete rows of a binary COPY buffer: the signature, flags and header
/// extension first, then tuples until the -1 trailer (PostgreSQL's format and errors).
fn copy_binary_rows(st: &mut CopyState, last: bool) -> Result<Vec<CopyRow<'static>>> {
    let bad = |m: &str, st: &CopyState| {
        err!(sqlstate::BAD_COPY_FILE_FORMAT, "{}", m).with_context(format!(
            "COPY {}, line {}",
            st.table.name,
            st.line_no.max(1)
        ))
    };
    let be32 = |b: &[u8], at: usize| i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    // The header is read before any row: its errors carry no CONTEXT (as PostgreSQL's).
    let bad = |m: &str, st: &CopyState| {
        if st.binary_header {
            bad(m, st)
        } else {
            err!(sqlstate::BAD_COPY_FILE_FORMAT, "{}", m)
        }
    };
    if !st.binary_header {
        if st.buf.len() < 19 {
            if last {
                return Err(bad("COPY file signature not recognized", st));
            }
            return Ok(Vec::new());
        }
        if &st.buf[..11] != PGCOPY_SIGNATURE {
            return Err(bad("COPY file signature not recognized", st));
        }
        let flags = be32(&st.buf, 11);
        if flags & (1 << 16) != 0 {
            return Err(bad("invalid COPY file header (WITH OIDS)", st));
        }
        if (flags as u32) & 0xffff_0000 & !(1 << 16) != 0 {
            return Err(bad("unrecognized critical flags in COPY file header", st));
        }
        let ext = be32(&st.buf, 15);
        if ext < 0 {
            return Err(bad("invalid COPY file header (missing length)", st));
        }
        let need = 19 + ext as usize;
        if st.buf.len() < need {
            if last {
                return Err(bad("invalid COPY file header (wrong length)", st));
            }
            return Ok(Vec::new());
        }
        st.buf.drain(..need);
        st.binary_header = true;
    }
    let mut rows = Vec::new();
    let mut pos = 0;
    while !st.ended && st.buf.len() >= pos + 2 {
        let count = i16::from_be_bytes([st.buf[pos], st.buf[pos + 1]]);
        if count == -1 {
            st.ended = true;
            pos += 2;
            break;
        }
        // A whole tuple must be buffered before it is taken.
        let mut p = pos + 2;
        let mut fields = Vec::new();
        let mut complete = true;
        for _ in 0..count.max(0) {
            if st.buf.len() < p + 4 {
                complete = false;
                break;
            }
            let len = be32(&st.buf, p);
            p += 4;
            if len < -1 {
                return Err(bad("invalid field size", st));
            }
            if len == -1 {
                fields.push(None);
                continue;
            }
            if st.buf.len() < p + len as usize {
                complete = false;
                break;
            }
            fields.push(Some(CopyField::Binary(
                st.buf[p..p + len as usize].to_vec(),
            )));
            p += len as usize;
        }
        if !complete {
            break;
        }
        st.line_no += 1;
        if count < 0 || count as usize != st.targets.len() {
            return Err(bad(
                &format!(
                    "row field count is {}, expected {}",
                    count,
                    st.targets.len()
                ),
                st,
            ));
        }
        rows.push((st.line_no, "", fields));
        pos = p;
    }
    st.buf.drain(..pos);
    if last && !st.ended {
        return Err(bad("unexpected EOF in COPY data", st));
    }
    Ok(rows)
}

/// Splits a COPY CSV line into fields (double quotes, `""` escapes; an unquoted field
/// equal to the NULL marker is NULL).
fn copy_csv_fields(line: &str, delim: char, null: &str) -> Vec<Option<String>> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut it = line.chars().peekable();
    while let Some(c) = it.next() {
        if quoted {
            if c == '"' {
                if it.peek() == Some(&'"') {
                    cur.push('"');
                    it.next();
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' {
            quoted = true;
            was_quoted = true;
        } else if c == delim {
            let f = std::mem::take(&mut cur);
            fields.push(if !was_quoted && f == null {
                None
            } else {
                Some(f)
            });
            was_quoted = false;
        } else {
            cur.push(c);
        }
    }
    fields.push(if !was_quoted && cur == null {
        None
    } else {
        Some(cur)
    });
    fields
}

/// A query string split and parsed: each statement with its parse result.
type ParsedQuery = Vec<(Piece, Result<Parsed>)>;

/// The result columns of a statement, if it returns rows.
type Fields = Option<Arc<Vec<FieldDesc>>>;

/// The current role's OID and the search path's schemas, with what they were
/// resolved from: both change only with the catalog (roles, schemas, privileges —
/// every change moves the catalog version), the user or the `search_path` setting,
/// so most statements reuse them instead of looking them up under the engine lock.
struct Resolved {
    version: u64,
    user: String,
    search_path: String,
    /// The role's OID (0 for a role dropped meanwhile: it holds only what PUBLIC holds).
    role: u32,
    path: Vec<u32>,
}

/// A plan cached for a statement text.
struct CachedPlan {
    version: u64,
    /// What the plan was made for (its cache key is a hash of these): the statement
    /// text, the schemas names resolved in, the time zone and the role.
    text: String,
    path: Vec<u32>,
    tz: String,
    user: String,
    params_in: Vec<DataType>,
    params_out: Vec<DataType>,
    plan: Arc<Plan>,
}

/// A prepared statement.
#[derive(Debug)]
struct Prepared {
    piece: Piece,
    parsed: Parsed,
    param_types: Vec<DataType>,
    fields: Option<Arc<Vec<FieldDesc>>>,
}

/// COPY FROM data buffered before its rows are inserted (see `copy_data_inner`).
const COPY_BATCH_BYTES: usize = 256 * 1024;

/// The most rows of a COPY FROM batch handed to the engine at once
/// (`insert_copy_rows`; PostgreSQL's `MAX_BUFFERED_TUPLES`).
const COPY_BUFFERED_ROWS: usize = 1000;

/// The input bytes (text lines) past which those rows go to the engine (PostgreSQL's
/// `MAX_BUFFERED_BYTES` counts tuple bytes, of about the same size).
const COPY_BUFFERED_BYTES: usize = 65535;

/// A bound portal.
struct Portal {
    stmt: Arc<Prepared>,
    params: Vec<Value>,
    result_formats: Vec<i16>,
    /// Rows of a partially fetched result and its tag.
    pending: Option<(std::collections::VecDeque<Vec<Value>>, String)>,
    /// Whether rows were already fetched from this portal (tags count per Execute).
    fetched: bool,
    /// Set when the portal is a SQL cursor (DECLARE, `sql::cursors`): whether it is
    /// held past the end of its transaction.
    cursor: Option<CursorHold>,
}

/// Whether a SQL cursor outlives its transaction (`sql::cursors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CursorHold {
    /// WITHOUT HOLD: it goes when the transaction ends.
    No,
    /// WITH HOLD, declared in the current transaction: kept at COMMIT, dropped at
    /// rollback.
    Declared,
    /// WITH HOLD, and the transaction that declared it committed: kept until CLOSE.
    Held,
}

/// One client session.
pub struct Session {
    engine: Arc<Engine>,
    settings: SessionSettings,
    ctx: SessionContext,
    db_oid: u32,
    txn: Option<Transaction>,
    /// In an explicit transaction block.
    explicit: bool,
    /// Whether the current transaction has taken its snapshot (REPEATABLE READ and
    /// SERIALIZABLE keep the first one for the whole transaction).
    snapshot_taken: bool,
    /// The block failed; only COMMIT/ROLLBACK are accepted.
    failed: bool,
    /// A COPY FROM STDIN waiting for data.
    copy: Option<CopyState>,
    /// Open savepoints of the block, outermost first, with the deferred-check mark.
    savepoints: Vec<(String, crate::storage::Savepoint, usize)>,
    notices: Vec<Error>,
    // Fx-hashed: looked up several times per Execute, by names only this session's
    // client chooses.
    statements: rustc_hash::FxHashMap<String, Arc<Prepared>>,
    portals: rustc_hash::FxHashMap<String, Portal>,
    /// Plans by (offset, statement text), valid at one catalog version (bounded).
    plan_cache: rustc_hash::FxHashMap<(usize, u64), CachedPlan>,
    /// Generic plans of simple-protocol statement shapes, by the template of the
    /// query string (bounded; see `sql::generic`).
    generic: rustc_hash::FxHashMap<String, generic::GenericPlan>,
    /// Generic plans by statement shape (every numeric literal a parameter), tried
    /// before those by template (bounded; see `sql::generic`).
    generic_shapes: rustc_hash::FxHashMap<String, generic::GenericPlan>,
    /// Set while the ordinary path runs a templated statement: what `plan_cached`
    /// needs to make its generic entry.
    generic_note: Option<generic::Note>,
    /// The settings read on every statement, as of a settings generation (see
    /// [`Session::hot`]); a cell because `&self` readers (value encoding) refresh it.
    hot: std::cell::RefCell<hot::Hot>,
    /// The result columns a prepared statement was described with, set just before it
    /// runs and taken by the next [`Session::run`]: the plan that run makes must
    /// return the same columns ("cached plan must not change result type"). Checking
    /// the plan the run uses plans each execution once, not twice.
    expect_fields: Option<Arc<Vec<FieldDesc>>>,
    /// The current role's OID and search path as last resolved (see
    /// [`Session::resolved`]).
    resolved: Option<Resolved>,
    /// Parsed simple-protocol query strings (bounded), but for single
    /// data-manipulation statements the thread's `parse_cache` takes.
    parse_cache: rustc_hash::FxHashMap<String, Arc<ParsedQuery>>,
    /// Sequence state (currval, lastval) and cached CHECK constraints.
    ddl: ddl::DdlSession,
    /// The user the connection authenticated as; `ctx.user` is the current user, which
    /// SET ROLE and SET SESSION AUTHORIZATION change (see [`Session::sync_user`]).
    auth_user: String,
    /// Deferred foreign key checks of the transaction.
    deferred: fkeys::Deferred,
    /// Temporary tables: the namespace handle (dropped last, with the session) and ON
    /// COMMIT actions.
    temp: temp::TempSession,
    /// The session's entry in `pg_stat_activity` (removed when the session ends).
    activity: crate::storage::activity::Registration,
    /// The last message of a connection terminated while its commit waited for
    /// synchronous standbys (see [`Session::take_exit_warning`]).
    exit_warning: Option<Error>,
}

/// Whether a planned INSERT, UPDATE or DELETE writes a temporary table.
fn plan_writes_temp(plan: &Plan) -> bool {
    let table = match plan {
        Plan::Insert(p) => &p.table,
        Plan::Update(p) => &p.table,
        Plan::Delete(p) => &p.table,
        Plan::Explain(e) => return plan_writes_temp(&e.inner),
        _ => return false,
    };
    crate::catalog::search_path::is_my_temp(table.schema)
}

/// `prefix` and the row count in decimal: a command tag, spelled without the
/// formatting machinery (about 400 instructions a statement through `format!`).
fn counted_tag(prefix: &str, n: u64) -> String {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut tag = String::with_capacity(prefix.len() + digits.len() - at);
    tag.push_str(prefix);
    for &d in &digits[at..] {
        tag.push(char::from(d));
    }
    tag
}

fn tag_for(plan: &Plan, n: u64) -> String {
    match plan {
        Plan::Query(_) => counted_tag("SELECT ", n),
        Plan::Insert(_) => counted_tag("INSERT 0 ", n),
        Plan::Update(_) => counted_tag("UPDATE ", n),
        Plan::Delete(_) => counted_tag("DELETE ", n),
        Plan::CreateTable(_) => "CREATE TABLE".into(),
        Plan::DropTable(..) => "DROP TABLE".into(),
        Plan::Truncate(_) => "TRUNCATE TABLE".into(),
        Plan::AlterTable(_) => "ALTER TABLE".into(),
        Plan::CreateIndex(_) => "CREATE INDEX".into(),
        Plan::DropIndex(..) => "DROP INDEX".into(),
        Plan::Front(_) => String::new(),
        Plan::Ddl(p) => p.tag_with(n),
        Plan::Explain(_) => "EXPLAIN".into(),
        Plan::Enum(p) => p.tag().into(),
    }
}

impl Session {
    /// A new session for an authenticated connection.
    pub fn new(engine: Arc<Engine>, settings: SessionSettings, ctx: SessionContext) -> Session {
        let db_oid = engine.database(&ctx.database).map(|d| d.oid).unwrap_or(5);
        let auth_user = ctx.user.clone();
        let mut settings = settings;
        if settings.get_str("session_authorization").is_empty() {
            // Sessions the server did not start (tests, tools) report their user too.
            settings.set_internal("session_authorization", &auth_user);
        }
        let temp = temp::TempSession::new(engine.clone(), db_oid);
        let activity = crate::storage::activity::Activity::register(
            engine.activity(),
            crate::storage::activity::BackendStatus {
                pid: ctx.backend_pid,
                database: ctx.database.clone(),
                user: ctx.user.clone(),
                application_name: settings.get_str("application_name"),
                client_addr: None,
                client_port: None,
                backend_start: types::now_micros(),
                xact_start: None,
                xid: None,
                query_start: None,
                state_change: None,
                state: "idle",
                query: String::new(),
                backend_type: "client backend",
                wait_event: None,
            },
        );
        Session {
            engine,
            settings,
            ctx,
            db_oid,
            txn: None,
            explicit: false,
            snapshot_taken: false,
            failed: false,
            savepoints: Vec::new(),
            copy: None,
            notices: Vec::new(),
            statements: Default::default(),
            portals: Default::default(),
            parse_cache: Default::default(),
            resolved: None,
            plan_cache: Default::default(),
            generic: Default::default(),
            generic_shapes: Default::default(),
            generic_note: None,
            hot: std::cell::RefCell::new(hot::Hot::unread()),
            expect_fields: None,
            ddl: ddl::DdlSession::default(),
            auth_user,
            deferred: fkeys::Deferred::default(),
            temp,
            activity,
            exit_warning: None,
        }
    }

    /// The WARNING a terminated connection sends as its last message instead of
    /// FATAL: PostgreSQL's "canceling the wait for synchronous replication and
    /// terminating connection…" when the termination ended a commit's wait for
    /// synchronous standbys (the commit stands).
    pub fn take_exit_warning(&mut self) -> Option<Error> {
        self.exit_warning.take()
    }

    /// Tells `pg_stat_activity` where the client connects from (a TCP peer; a
    /// Unix-domain socket has neither address nor port).
    pub fn set_client(&mut self, addr: Option<String>, port: Option<i32>) {
        self.activity.update(|s| {
            s.client_addr = addr;
            s.client_port = port;
        });
    }

    /// Marks the session a walsender's in `pg_stat_activity` (`backend_type`).
    pub fn set_walsender(&mut self) {
        self.activity.update(|s| s.backend_type = "walsender");
    }

    /// `pg_stat_activity`: a statement starts (the transaction too, if none is open).
    fn report_active(&self, query: &str) {
        let now = types::now_micros();
        let hot = self.hot();
        let app = &hot.application_name;
        let txn = self.txn.as_ref().map(|t| (t.start_time, t.xid));
        self.activity.update(|s| {
            s.state = "active";
            // (the last query's buffer reused)
            s.query.clear();
            s.query.push_str(query);
            s.query_start = Some(now);
            s.state_change = Some(now);
            s.xact_start = Some(txn.map_or(now, |t| t.0));
            s.xid = txn.map(|t| t.1);
            if s.application_name != *app {
                s.application_name = app.clone();
            }
        });
    }

    /// `pg_stat_activity`: the statement ended; idle, in a transaction block or not.
    fn report_idle(&self) {
        let now = types::now_micros();
        let state = match self.transaction_status() {
            TransactionStatus::Failed => "idle in transaction (aborted)",
            TransactionStatus::InBlock => "idle in transaction",
            TransactionStatus::Idle => "idle",
        };
        let hot = self.hot();
        let app = &hot.application_name;
        let txn = self.txn.as_ref().map(|t| (t.start_time, t.xid));
        self.activity.update(|s| {
            s.state = state;
            s.state_change = Some(now);
            s.xact_start = txn.map(|t| t.0);
            s.xid = txn.map(|t| t.1);
            if s.application_name != *app {
                s.application_name = app.clone();
            }
        });
    }

    /// `log_statement`, for the server log's per-message check.
    pub fn log_statement(&self) -> std::cell::Ref<'_, str> {
        std::cell::Ref::map(self.hot(), |h| h.log_statement.as_str())
    }

    /// `log_min_duration_statement` in milliseconds (-1: off), for the server log's
    /// per-message check.
    pub fn log_min_duration_ms(&self) -> i64 {
        self.hot().log_min_duration
    }

    /// The settings every statement reads (`sql::hot`), read again from the settings
    /// only when their generation moved since the last time.
    fn hot(&self) -> std::cell::Ref<'_, hot::Hot> {
        let generation = self.settings.generation();
        if self.hot.borrow().generation != generation {
            // No `Ref` can be alive here: one borrows `self`, and the settings (and so
            // the generation) change only through `&mut self`.
            if let Ok(mut h) = self.hot.try_borrow_mut() {
                *h = hot::Hot::read(&self.settings);
            }
        }
        self.hot.borrow()
    }

    /// Makes `ctx.user` the current user the settings say: `role` when set, else
    /// `session_authorization`, else the authenticated user. Called before each
    /// statement and after a transaction ends (a rollback may undo SET ROLE).
    fn sync_user(&mut self) {
        {
            let hot = self.hot();
            let session = if hot.session_authorization.is_empty() {
                &self.auth_user
            } else {
                &hot.session_authorization
            };
            let user = if hot.role.is_empty() || hot.role == "none" {
                session
            } else {
                &hot.role
            };
            if *user != self.ctx.user {
                let user = user.clone();
                drop(hot);
                self.ctx.user = user;
            }
        }
        // Lookups outside a planned statement (VACUUM, COPY's table) check as this role.
        let role = self.resolved().role;
        crate::catalog::search_path::enter_role(Some((role, self.db_oid)));
    }

    /// The current role's OID and search path, looked up again only when the catalog,
    /// the user or `search_path` changed since the last time.
    fn resolved(&mut self) -> &Resolved {
        let version = self.engine.catalog_version();
        let fresh = self.resolved.as_ref().is_some_and(|r| {
            r.version == version
                && r.user == self.ctx.user
                && r.search_path == self.hot().search_path
        });
        if !fresh {
            let search_path = self.hot().search_path.clone();
            let role = self.engine.role(&self.ctx.user).map_or(0, |r| r.oid);
            let path = crate::catalog::search_path::resolve(
                &self.engine,
                self.db_oid,
                &search_path,
                &self.ctx.user,
            );
            self.resolved = Some(Resolved {
                version,
                user: self.ctx.user.clone(),
                search_path,
                role,
                path,
            });
        }
        self.resolved.as_ref().expect("just resolved")
    }

    /// The session's settings.
    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    /// The session's settings, mutably.
    pub fn settings_mut(&mut self) -> &mut SessionSettings {
        &mut self.settings
    }

    /// NOTICE/WARNING messages produced since the last call.
    pub fn take_notices(&mut self) -> Vec<Error> {
        std::mem::take(&mut self.notices)
    }

    /// The ReadyForQuery status.
    pub fn transaction_status(&self) -> TransactionStatus {
        if self.failed {
            TransactionStatus::Failed
        } else if self.explicit {
            TransactionStatus::InBlock
        } else {
            TransactionStatus::Idle
        }
    }

    fn warning(&mut self, code: &'static str, msg: &str) {
        self.notices
            .push(Error::new(code, msg).with_severity(Severity::Warning));
    }

    fn ensure_txn(&mut self) {
        if self.txn.is_none() {
            let mut t = self.engine.begin();
            t.db = self.db_oid;
            t.cancel = Some(self.ctx.cancel.clone());
            self.txn = Some(t);
            self.snapshot_taken = false;
            self.settings.begin_transaction();
            // The transaction's characteristics start from the session defaults.
            // A hot standby's transactions are read-only whatever the default says.
            let in_recovery = self.engine.in_recovery();
            self.settings.begin_default_characteristics(in_recovery);
        }
    }

    /// Applies BEGIN / SET TRANSACTION modes to the open transaction.
    fn apply_txn_modes(&mut self, m: &front::TxnModes) -> Result<()> {
        if let Some(iso) = m.isolation {
            if self.snapshot_taken {
                bail!(
                    sqlstate::ACTIVE_SQL_TRANSACTION,
                    "SET TRANSACTION ISOLATION LEVEL must be called before any query"
                );
            }
            self.settings
                .set("transaction_isolation", Some(iso), true, true)?;
        }
        if let Some(ro) = m.read_only {
            self.settings.set(
                "transaction_read_only",
                Some(if ro { "on" } else { "off" }),
                true,
                true,
            )?;
        }
        if let Some(d) = m.deferrable {
            self.settings.set(
                "transaction_deferrable",
                Some(if d { "on" } else { "off" }),
                true,
                true,
            )?;
        }
        Ok(())
    }

    /// Whether the transaction keeps one snapshot (REPEATABLE READ or SERIALIZABLE).
    fn transaction_snapshot(&self) -> bool {
        matches!(
            self.settings.get_str("transaction_isolation").as_str(),
            "repeatable read" | "serializable"
        )
    }

    fn wait_flush(&self) -> bool {
        !matches!(self.hot().synchronous_commit.as_str(), "off")
    }

    /// Commits the current engine transaction, if any.
    fn commit_txn(&mut self) -> Result<()> {
        if !self.deferred.is_empty() && self.txn.is_some() {
            // Deferred constraints are checked first; a failure rolls back.
            if let Err(e) = self.exec_ctx(&[], |cx| fkeys::run_deferred(cx, None)) {
                self.abort_txn();
                return Err(e);
            }
        }
        // ON COMMIT DELETE ROWS / DROP run inside the committing transaction.
        if self.txn.is_some() && self.temp.has_commit_actions() {
            if let Err(e) = self.exec_ctx(&[], temp::pre_commit) {
                self.abort_txn();
                return Err(e);
            }
        }
        self.deferred.clear();
        self.savepoints.clear();
        self.portals.retain(|_, p| match p.cursor {
            None => p.pending.is_none(),
            Some(h) => h != CursorHold::No,
        });
        for p in self.portals.values_mut() {
            if p.cursor == Some(CursorHold::Declared) {
                p.cursor = Some(CursorHold::Held);
            }
        }
        if let Some(mut t) = self.txn.take() {
            let wait = self.wait_flush();
            let (delay_us, siblings, mode) = {
                let hot = self.hot();
                (
                    hot.commit_delay,
                    hot.commit_siblings,
                    // Synchronous replication waits between the local flush and
                    // visibility.
                    crate::replication::syncrep::WaitMode::from_synchronous_commit(
                        &hot.synchronous_commit,
                    ),
                )
            };
            if delay_us > 0 {
                let siblings = siblings.max(0) as usize;
                t.commit_delay =
                    Some((std::time::Duration::from_micros(delay_us as u64), siblings));
            }
            let mut outcome = crate::replication::syncrep::WaitOutcome::NotRequired;
            let (ctx, activity) = (&self.ctx, &self.activity);
            let r = self.engine.commit_then(t, wait, |end| {
                if let Some(mode) = mode {
                    // pg_stat_activity shows IPC / SyncRep while it blocks.
                    let mut waiting = |on: bool| {
                        activity.update(|s| s.wait_event = on.then_some(("IPC", "SyncRep")))
                    };
                    outcome = ctx.hooks.wait_for_sync_rep(
                        ctx.backend_pid,
                        end,
                        mode,
                        &ctx.cancel,
                        &mut waiting,
                    );
                }
            });
            self.settings.end_transaction(r.is_ok());
            self.sync_user();
            if let Some(w) = outcome.warning() {
                self.notices.push(w.clone());
                if outcome == crate::replication::syncrep::WaitOutcome::Terminated {
                    // The connection ends after the WARNING, without another message.
                    self.exit_warning = Some(w);
                    return Err(Error::fatal(
                        sqlstate::ADMIN_SHUTDOWN,
                        "terminating connection due to administrator command",
                    ));
                }
            }
            return r;
        }
        Ok(())
    }

    /// Rolls the current engine transaction back, if any.
    fn abort_txn(&mut self) {
        self.deferred.clear();
        self.savepoints.clear();
        self.portals.retain(|_, p| match p.cursor {
            None => p.pending.is_none(),
            Some(h) => h == CursorHold::Held,
        });
        if let Some(t) = self.txn.take() {
            self.engine.abort(t);
        }
        // Also when a failed block's engine transaction already went (`on_error`): its
        // SET LOCAL values and characteristics end with the ROLLBACK.
        if self.settings.in_transaction() {
            self.settings.end_transaction(false);
        }
        self.sync_user();
    }

    /// Handles a statement error: fails the block or rolls back the implicit transaction.
    fn on_error(&mut self) {
        if self.explicit {
            self.failed = true;
            // Without savepoints nothing can resume the transaction: release what
            // others may wait for now. With savepoints, ROLLBACK TO undoes the failure.
            if self.savepoints.is_empty() {
                if let Some(t) = self.txn.take() {
                    self.engine.abort(t);
                }
            }
        } else {
            self.abort_txn();
        }
    }

    /// Simple query protocol: runs each statement of `sql` in order (one implicit
    /// transaction unless the text holds BEGIN/COMMIT), stopping at the first error,
    /// which is the last element. Blocking (the server calls it in spawn_blocking).
    pub fn simple_query(&mut self, sql: &str) -> Vec<Result<ExecResult>> {
        self.report_active(sql);
        let r = self.simple_query_inner(sql);
        self.report_idle();
        r
    }

    fn simple_query_inner(&mut self, sql: &str) -> Vec<Result<ExecResult>> {
        self.ctx.cancel.store(false, Ordering::SeqCst);
        let pending = match self.simple_generic(sql) {
            generic::Generic::Ran(out) => return out,
            generic::Generic::Make(p) => Some(*p),
            generic::Generic::Ordinary => None,
        };
        let parsed = match self.parse_cache.get(sql) {
            Some(p) => p.clone(),
            None => {
                let pieces = front::split_statements(sql);
                let v: Vec<(Piece, Result<Parsed>)> = pieces
                    .into_iter()
                    .map(|p| {
                        let r = parse_one(&p);
                        (p, r)
                    })
                    .collect();
                let v = Arc::new(v);
                // One data-manipulation statement is left to the literal-blind
                // parse_cache: texts differing only in numbers would fill this one.
                let templated = matches!(&v[..], [(p, _)] if parse_cache::may_template(&p.text));
                if !templated {
                    if self.parse_cache.len() > 256 {
                        self.parse_cache.clear();
                    }
                    self.parse_cache.insert(sql.to_string(), v.clone());
                }
                v
            }
        };
        if parsed.is_empty() {
            return vec![Ok(ExecResult::Empty)];
        }
        // The whole string is parsed before anything runs: a syntax error anywhere
        // means no statement executes, as in PostgreSQL.
        if let Some((_, Err(e))) = parsed.iter().find(|(_, p)| p.is_err()) {
            let e = e.clone();
            self.on_error();
            return vec![Err(e)];
        }
        if let (Some(p), [(piece, _)]) = (pending, &parsed[..]) {
            self.note_generic(p, piece);
        }
        let mut out = Vec::new();
        for (piece, p) in parsed.iter() {
            let r = match p {
                Ok(p) => self.run(piece, p, &[], &mut vec![]),
                Err(e) => Err(e.clone()),
            };
            self.generic_note = None;
            let failed = r.is_err();
            let copying = matches!(r, Ok(ExecResult::CopyIn { .. }));
            out.push(r);
            if failed {
                self.on_error();
                return out;
            }
            if copying {
                // The transaction stays open until copy_done/copy_fail.
                return out;
            }
        }
        if !self.explicit {
            if let Err(e) = self.commit_txn() {
                // As PostgreSQL: the implicit transaction ends before the last
                // statement's CommandComplete, so a failed commit is reported by an
                // error instead of it, never after it (a client seeing "INSERT 0 1"
                // would take the row as committed).
                out.pop();
                out.push(Err(e));
            }
        }
        out
    }

    /// Runs one parsed statement with parameters; fills `param_types` on planning.
    fn run(
        &mut self,
        piece: &Piece,
        p: &Parsed,
        params: &[Value],
        param_types: &mut Vec<DataType>,
    ) -> Result<ExecResult> {
        // Only for this statement: nested runs (EXECUTE's) never see it.
        let expect = self.expect_fields.take();
        self.enter_zone();
        self.sync_user();
        let is_txn_control = matches!(
            p,
            Parsed::Front(FrontStmt::Commit | FrontStmt::Rollback | FrontStmt::RollbackTo(_))
        );
        if self.failed && !is_txn_control {
            bail!(
                sqlstate::IN_FAILED_SQL_TRANSACTION,
                "current transaction is aborted, commands ignored until end of transaction block"
            );
        }
        match p {
            Parsed::Empty => Ok(ExecResult::Empty),
            Parsed::Front(f) => {
                if self.engine.in_recovery() {
                    hot_standby::check_front(f)?;
                }
                self.run_front(f)
            }
            Parsed::Sql(stmt) => {
                // CONCURRENTLY builds or drops the index as the plain form does (tusk's
                // index build takes no lock that blocks writers), and is refused where
                // PostgreSQL refuses it.
                let concurrently = match stmt.as_ref() {
                    sqlparser::ast::Statement::CreateIndex(ci) => {
                        ci.concurrently.then_some("CREATE INDEX CONCURRENTLY")
                    }
                    sqlparser::ast::Statement::Drop {
                        object_type: sqlparser::ast::ObjectType::Index,
                        purge: true,
                        ..
                    } => Some("DROP INDEX CONCURRENTLY"),
                    _ => None,
                };
                if let (Some(what), true) = (concurrently, self.explicit) {
                    bail!(
                        sqlstate::ACTIVE_SQL_TRANSACTION,
                        "{what} cannot run inside a transaction block"
                    );
                }
                if let Some(r) = self.run_cursor_sql(piece, stmt, params, param_types)? {
                    return Ok(r);
                }
                if let Some(r) = self.run_prepared_sql(piece, stmt)? {
                    return Ok(r);
                }
                let plan = self.plan_cached(piece, stmt, param_types)?;
                if let Some(old) = &expect {
                    prepare::check_result_type(old, &plan)?;
                }
                if self.engine.in_recovery() {
                    hot_standby::check_plan(&plan)?;
                }
                self.run_plan(&plan, params)
            }
        }
    }

    /// Plans a statement, reusing the plan made for the same text and parameter types
    /// at the current catalog version; a simple-protocol statement may also get its
    /// shape's generic plan made (`sql::generic`).
    fn plan_cached(
        &mut self,
        piece: &Piece,
        stmt: &ast::Statement,
        param_types: &mut Vec<DataType>,
    ) -> Result<Arc<Plan>> {
        let plan = self.plan_text_cached(piece, stmt, param_types)?;
        if self.generic_note.is_some() {
            self.make_generic(piece, &plan);
        }
        Ok(plan)
    }

    /// [`Session::plan_cached`] but for the generic plans.
    fn plan_text_cached(
        &mut self,
        piece: &Piece,
        stmt: &ast::Statement,
        param_types: &mut Vec<DataType>,
    ) -> Result<Arc<Plan>> {
        let version = self.engine.catalog_version();
        // The statement's lookups resolve in the session's schemas, as its role; the
        // thread's path is replaced only when it changed (no copy per statement).
        let role = {
            let r = self.resolved();
            crate::catalog::search_path::enter_if_changed(&r.path);
            r.role
        };
        crate::catalog::search_path::enter_temp(self.temp.handle());
        crate::catalog::search_path::enter_role(Some((role, self.db_oid)));
        // (`resolved` was just brought up to date.)
        let path = self.resolved.as_ref().map_or(&[][..], |r| &r.path[..]);
        // A plan depends on the schemas its names resolved in, on the time zone its
        // timestamptz literals were read in, and on the role whose privileges were
        // checked. The key hashes those (no string is built per statement); a hit is
        // checked against the stored originals, so a hash collision only costs a
        // re-plan.
        let (key, hit) = {
            let hot = self.hot();
            let tz = &hot.time_zone;
            let key = {
                use std::hash::{Hash, Hasher};
                let mut h = rustc_hash::FxHasher::default();
                piece.text.hash(&mut h);
                path.hash(&mut h);
                tz.hash(&mut h);
                self.ctx.user.hash(&mut h);
                (piece.offset, h.finish())
            };
            let hit = self.plan_cache.get(&key).filter(|c| {
                c.version == version
                    && c.params_in == *param_types
                    && c.text == piece.text
                    && c.path == path
                    && c.tz == *tz
                    && c.user == self.ctx.user
            });
            (key, hit.map(|c| (c.params_out.clone(), c.plan.clone())))
        };
        if let Some((params_out, plan)) = hit {
            *param_types = params_out;
            return Ok(plan);
        }
        let mut b = Binder::new(
            &self.engine,
            self.db_oid,
            &piece.text,
            piece.offset,
            param_types.clone(),
        );
        // Never None for a session: an unknown (dropped) role checks as PUBLIC.
        b.acl_role = Some(role);
        let plan = Arc::new(b.plan(stmt)?);
        let tz = self.hot().time_zone.clone();
        if self.plan_cache.len() > 256 {
            self.plan_cache.clear();
        }
        self.plan_cache.insert(
            key,
            CachedPlan {
                version,
                text: piece.text.clone(),
                path: path.to_vec(),
                tz,
                user: self.ctx.user.clone(),
                params_in: param_types.clone(),
                params_out: b.params.clone(),
                plan: plan.clone(),
            },
        );
        *param_types = b.params;
        Ok(plan)
    }

    fn exec_ctx<R>(
        &mut self,
        params: &[Value],
        f: impl FnOnce(&mut ExecCtx<'_>) -> Result<R>,
    ) -> Result<R> {
        self.exec_ctx_in(params, false, f)
    }

    /// [`Session::exec_ctx`]; `just_begun` says the transaction was begun by the
    /// statement about to run, a moment ago: its first snapshot (taken by the begin)
    /// is then the statement's, and taking another would only take the engine lock
    /// once more (every autocommit statement did).
    fn exec_ctx_in<R>(
        &mut self,
        params: &[Value],
        just_begun: bool,
        f: impl FnOnce(&mut ExecCtx<'_>) -> Result<R>,
    ) -> Result<R> {
        self.ensure_txn();
        let keep_snapshot = self.transaction_snapshot();
        let role = {
            let r = self.resolved();
            crate::catalog::search_path::enter_if_changed(&r.path);
            r.role
        };
        let (timeout_ms, lock_ms) = {
            let hot = self.hot();
            (hot.statement_timeout, hot.lock_timeout)
        };
        let Session {
            engine,
            settings,
            ctx,
            txn,
            notices,
            db_oid,
            snapshot_taken,
            ddl,
            deferred,
            temp,
            ..
        } = self;
        crate::catalog::search_path::enter_temp(temp.handle());
        crate::catalog::search_path::enter_role(Some((role, *db_oid)));
        let deadline = (timeout_ms > 0).then(|| {
            std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms as u64)
        });
        let txn = txn
            .as_mut()
            .ok_or_else(|| Error::internal("no transaction"))?;
        if !keep_snapshot || !*snapshot_taken {
            if !just_begun || *snapshot_taken {
                engine.new_snapshot(txn);
            }
            *snapshot_taken = true;
        }
        txn.deadline = deadline;
        txn.lock_timeout = (lock_ms > 0).then(|| std::time::Duration::from_millis(lock_ms as u64));
        let mut cx = ExecCtx {
            engine,
            settings,
            ctx,
            txn,
            params,
            db_oid: *db_oid,
            stmt_time: types::now_micros(),
            notices,
            deadline,
            subqueries: HashMap::new(),
            outer: Vec::new(),
            serializable: keep_snapshot,
            ddl,
            deferred,
            temp,
        };
        f(&mut cx)
    }

    fn run_plan(&mut self, plan: &Plan, params: &[Value]) -> Result<ExecResult> {
        let just_begun = self.txn.is_none();
        self.ensure_txn();
        // A recovery conflict signalled between statements (storage/standby_locks.rs)
        // cancels the next one even if no check of the cancel flag sees it.
        if let Some(t) = self.txn.as_ref().filter(|_| self.engine.in_recovery()) {
            if let Some(e) = self.engine.standby_locks().take_conflict(t.xid) {
                return Err(e);
            }
        }
        // A read-only transaction refuses what a hot standby refuses (25006) — except
        // writes to the session's temporary tables, as in PostgreSQL.
        // (The setting is read only for a statement that writes: most only read.)
        if let Some(what) = hot_standby::writes(plan) {
            if !plan_writes_temp(plan) && self.settings.get_bool("transaction_read_only") {
                return Err(hot_standby::read_only(what));
            }
        }
        let fields = plan.fields();
        let result =
            self.exec_ctx_in(params, just_begun, |cx| -> Result<(u64, Vec<Vec<Value>>)> {
                match plan {
                    Plan::Query(q) => {
                        let rows = exec::run_select(q, cx)?;
                        Ok((rows.len() as u64, rows))
                    }
                    Plan::Insert(p) => exec::run_insert(p, cx),
                    Plan::Update(p) => exec::run_update(p, cx),
                    Plan::Delete(p) => exec::run_delete(p, cx),
                    Plan::CreateTable(p) => exec::run_create_table(p, cx).map(|_| (0, vec![])),
                    Plan::Truncate(tables) => exec::run_truncate(tables, cx).map(|_| (0, vec![])),
                    Plan::AlterTable(p) => alter::run(p, cx).map(|_| (0, vec![])),
                    Plan::CreateIndex(p) => exec::run_create_index(p, cx).map(|_| (0, vec![])),
                    Plan::DropIndex(names, ie) => {
                        exec::run_drop_index(names, *ie, cx).map(|_| (0, vec![]))
                    }
                    Plan::DropTable(names, ie, cascade) => {
                        exec::run_drop_table(names, *ie, *cascade, cx).map(|_| (0, vec![]))
                    }
                    Plan::Front(_) => Ok((0, vec![])),
                    Plan::Ddl(p) => ddl::execute_counted(p, cx).map(|n| (n, vec![])),
                    Plan::Explain(e) => explain::run(e, cx),
                    Plan::Enum(p) => enums::execute(p, cx).map(|_| (0, vec![])),
                }
            })?;
        // On a standby: a table replay dropped after planning was read as empty.
        if let Some(t) = self.txn.as_ref() {
            self.engine.check_standby_reads(t.xid)?;
        }
        let tag = tag_for(plan, result.0);
        Ok(match fields {
            Some(fields) => ExecResult::Rows {
                fields,
                rows: result.1,
                tag,
            },
            None => ExecResult::Command { tag },
        })
    }

    fn is_superuser(&self) -> bool {
        self.engine
            .role(&self.ctx.user)
            .is_some_and(|r| r.superuser)
    }

    fn run_front(&mut self, f: &FrontStmt) -> Result<ExecResult> {
        let cmd = |t: &str| Ok(ExecResult::Command { tag: t.to_string() });
        match f {
            FrontStmt::Begin(modes) => {
                if self.explicit {
                    self.warning(
                        sqlstate::ACTIVE_SQL_TRANSACTION,
                        "there is already a transaction in progress",
                    );
                } else {
                    self.ensure_txn();
                    self.explicit = true;
                    self.apply_txn_modes(modes)?;
                }
                cmd("BEGIN")
            }
            FrontStmt::SetTransaction(modes) => {
                if !self.explicit {
                    self.warning(
                        sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                        "SET TRANSACTION can only be used in transaction blocks",
                    );
                } else {
                    self.apply_txn_modes(modes)?;
                }
                cmd("SET")
            }
            FrontStmt::Commit => {
                let tag = if self.failed { "ROLLBACK" } else { "COMMIT" };
                if !self.explicit {
                    self.warning(
                        sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                        "there is no transaction in progress",
                    );
                }
                let was_failed = self.failed;
                self.explicit = false;
                self.failed = false;
                if was_failed {
                    self.abort_txn();
                } else {
                    self.commit_txn()?;
                }
                cmd(tag)
            }
            FrontStmt::Rollback => {
                if !self.explicit {
                    self.warning(
                        sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                        "there is no transaction in progress",
                    );
                }
                self.explicit = false;
                self.failed = false;
                self.abort_txn();
                cmd("ROLLBACK")
            }
            FrontStmt::Savepoint(name) => {
                if !self.explicit {
                    bail!(
                        sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                        "SAVEPOINT can only be used in transaction blocks"
                    );
                }
                let t = self
                    .txn
                    .as_ref()
                    .ok_or_else(|| Error::internal("no transaction"))?;
                let sp = self.engine.savepoint(t);
                self.savepoints
                    .push((name.clone(), sp, self.deferred.mark()));
                self.settings.begin_subtransaction();
                cmd("SAVEPOINT")
            }
            FrontStmt::Release(name) | FrontStmt::RollbackTo(name) => {
                let release = matches!(f, FrontStmt::Release(_));
                if !self.explicit {
                    bail!(
                        sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                        "{} can only be used in transaction blocks",
                        if release {
                            "RELEASE SAVEPOINT"
                        } else {
                            "ROLLBACK TO SAVEPOINT"
                        }
                    );
                }
                let Some(pos) = self.savepoints.iter().rposition(|(n, ..)| n == name) else {
                    bail!("3B001", "savepoint \"{name}\" does not exist");
                };
                let levels = self.savepoints.len() - pos;
                if release {
                    self.savepoints.truncate(pos);
                    for _ in 0..levels {
                        self.settings.end_subtransaction(true);
                    }
                    return cmd("RELEASE");
                }
                let (sp, mark) = (self.savepoints[pos].1, self.savepoints[pos].2);
                self.deferred.rollback_to(mark);
                self.savepoints.truncate(pos + 1);
                for _ in 0..levels {
                    self.settings.end_subtransaction(false);
                }
                self.settings.begin_subtransaction();
                if let Some(t) = self.txn.as_mut() {
                    self.engine.rollback_to(t, &sp);
                }
                self.failed = false;
                cmd("ROLLBACK")
            }
            FrontStmt::Vacuum {
                analyze_only,
                tables,
            } => {
                if self.explicit && !analyze_only {
                    bail!(
                        sqlstate::ACTIVE_SQL_TRANSACTION,
                        "VACUUM cannot run inside a transaction block"
                    );
                }
                let mut oids = Vec::new();
                let me = self.engine.role(&self.ctx.user).map_or(0, |r| r.oid);
                for (schema, name) in tables {
                    match crate::catalog::resolve_table(
                        &self.engine,
                        self.db_oid,
                        schema.as_deref(),
                        name,
                    )? {
                        Some(def) => {
                            // Only the table's or the database's owner (PostgreSQL
                            // skips the others with a warning).
                            let db = self.db_oid;
                            let allowed = self.engine.with_catalog(|c| {
                                let db_owner = c.databases.get(&db).map_or(0, |d| d.owner);
                                crate::storage::acl::owns(c, db, me, def.owner)
                                    || crate::storage::acl::owns(c, db, me, db_owner)
                            });
                            if allowed {
                                oids.push(def.oid);
                            } else {
                                let what = if *analyze_only { "analyze" } else { "vacuum" };
                                self.warning(
                                    sqlstate::WARNING,
                                    &format!(
                                        "skipping \"{}\" --- only table or database owner can {what} it",
                                        def.name
                                    ),
                                );
                            }
                        }
                        None => bail!(
                            sqlstate::UNDEFINED_TABLE,
                            "relation \"{name}\" does not exist"
                        ),
                    }
                }
                let skipped_all = !tables.is_empty() && oids.is_empty();
                if !analyze_only && !skipped_all {
                    // Reclaim the versions no snapshot can see any more.
                    if oids.is_empty() {
                        self.engine.vacuum(self.db_oid, None);
                    }
                    for oid in oids {
                        self.engine.vacuum(self.db_oid, Some(oid));
                    }
                }
                cmd(if *analyze_only { "ANALYZE" } else { "VACUUM" })
            }
            FrontStmt::Discard(what) => {
                if what == "all" {
                    if self.explicit {
                        bail!(
                            sqlstate::ACTIVE_SQL_TRANSACTION,
                            "DISCARD ALL cannot run inside a transaction block"
                        );
                    }
                    // Temporary tables go too (sql::temp).
                    if self.temp.has_namespace() {
                        self.exec_ctx(&[], temp::discard)?;
                    }
                    self.settings.reset_all();
                    // DISCARD ALL includes SET SESSION AUTHORIZATION DEFAULT.
                    let _ = self
                        .settings
                        .set("session_authorization", None, false, true);
                    let _ = self.settings.set("role", None, false, true);
                    self.sync_user();
                    self.statements.clear();
                    self.portals.clear();
                    self.plan_cache.clear();
                    self.ddl.discard_sequences();
                } else if what == "sequences" {
                    self.ddl.discard_sequences();
                } else if (what == "temp" || what == "temporary") && self.temp.has_namespace() {
                    self.exec_ctx(&[], temp::discard)?;
                } else if what == "plans" {
                    self.plan_cache.clear();
                }
                cmd(&format!(
                    "DISCARD {}",
                    if what == "temporary" {
                        "TEMP".to_string()
                    } else {
                        what.to_ascii_uppercase()
                    }
                ))
            }
            FrontStmt::Deallocate(name) => {
                match name {
                    None => self.statements.clear(),
                    Some(n) => {
                        if self.statements.remove(n).is_none() {
                            bail!(
                                sqlstate::INVALID_SQL_STATEMENT_NAME,
                                "prepared statement \"{n}\" does not exist"
                            );
                        }
                    }
                }
                cmd(if name.is_none() {
                    "DEALLOCATE ALL"
                } else {
                    "DEALLOCATE"
                })
            }
            FrontStmt::CopyFrom {
                table,
                columns,
                csv,
                delimiter,
                null,
                header,
                binary,
            } => {
                let def = self.copy_table(table)?;
                let mut targets = Vec::new();
                if columns.is_empty() {
                    // (stored generated columns are computed, never copied)
                    targets.extend(
                        def.live_columns()
                            .filter(|&i| def.columns[i].generated.is_none()),
                    );
                }
                for c in columns {
                    let i = def.column_position(c).ok_or_else(|| {
                        err!(
                            sqlstate::UNDEFINED_COLUMN,
                            "column \"{c}\" of relation \"{}\" does not exist",
                            def.name
                        )
                    })?;
                    copy_generated_column(&def, i)?;
                    targets.push(i);
                }
                // INSERT on the table, or on every column copied into.
                let role = self.engine.role(&self.ctx.user).map_or(0, |r| r.oid);
                privileges::check_insert_columns(&self.engine, self.db_oid, role, &def, &targets)?;
                let mut b = Binder::new(&self.engine, self.db_oid, "", 0, vec![]);
                let mut defaults = Vec::new();
                for c in &def.columns {
                    defaults.push(b.default_expr(c)?);
                }
                self.ensure_txn();
                let columns = targets.len();
                self.copy = Some(CopyState {
                    db: self.db_oid,
                    table: def,
                    targets,
                    defaults,
                    csv: *csv,
                    delimiter: *delimiter,
                    null: null.clone(),
                    skip_header: *header,
                    buf: Vec::new(),
                    rows: 0,
                    ended: false,
                    line_no: 0,
                    binary: *binary,
                    binary_header: false,
                    converter: None,
                });
                Ok(ExecResult::CopyIn {
                    columns,
                    binary: *binary,
                })
            }
            FrontStmt::CopyTo { source, options } => self.copy_to(source, options),
            FrontStmt::CopyFile { to, program } => {
                let hint = "Anyone can COPY to stdout or from stdin. psql's \\copy command also works for anyone.";
                if !self.is_superuser() {
                    return Err(match (program, to) {
                        (true, _) => err!(
                            sqlstate::INSUFFICIENT_PRIVILEGE,
                            "must be superuser or have privileges of the pg_execute_server_program role to COPY to or from an external program"
                        ),
                        (false, true) => err!(
                            sqlstate::INSUFFICIENT_PRIVILEGE,
                            "must be superuser or have privileges of the pg_write_server_files role to COPY to a file"
                        ),
                        (false, false) => err!(
                            sqlstate::INSUFFICIENT_PRIVILEGE,
                            "must be superuser or have privileges of the pg_read_server_files role to COPY from a file"
                        ),
                    }
                    .with_hint(hint));
                }
                if *to {
                    bail!(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "COPY TO a file is not supported; use COPY TO STDOUT"
                    );
                }
                bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "COPY FROM a file is not supported; use COPY FROM STDIN"
                );
            }
            FrontStmt::SetConstraints { names, deferred } => {
                if !self.explicit {
                    self.warning(
                        sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                        "SET CONSTRAINTS can only be used in transaction blocks",
                    );
                }
                self.exec_ctx(&[], |cx| {
                    fkeys::set_constraints(cx, names.as_deref(), *deferred)
                })?;
                cmd("SET CONSTRAINTS")
            }
            FrontStmt::Fetch {
                cursor,
                count,
                move_only,
            } => self.fetch_cursor(cursor, count, *move_only),
            FrontStmt::Close(None) => {
                self.close_all_cursors();
                cmd("CLOSE CURSOR ALL")
            }
            FrontStmt::Close(Some(name)) => {
                self.close_cursor(name)?;
                cmd("CLOSE CURSOR")
            }
            FrontStmt::AddIdentity(a) => {
                self.exec_ctx(&[], |cx| alter::add_identity(cx, a))?;
                cmd("ALTER TABLE")
            }
            FrontStmt::Lock(l) => {
                let in_block = self.explicit;
                self.exec_ctx(&[], |cx| lock::execute(l, in_block, cx))?;
                cmd("LOCK TABLE")
            }
            FrontStmt::Unlisten => cmd("UNLISTEN"),
            FrontStmt::Checkpoint => {
                if !self.is_superuser() {
                    bail!(
                        sqlstate::INSUFFICIENT_PRIVILEGE,
                        "must be superuser to do CHECKPOINT"
                    );
                }
                self.engine.checkpoint()?;
                cmd("CHECKPOINT")
            }
            FrontStmt::AlterSystem { name, value } => {
                if !self.is_superuser() {
                    bail!(
                        sqlstate::INSUFFICIENT_PRIVILEGE,
                        "must be superuser to execute ALTER SYSTEM command"
                    );
                }
                if self.explicit {
                    bail!(
                        sqlstate::ACTIVE_SQL_TRANSACTION,
                        "ALTER SYSTEM cannot run inside a transaction block"
                    );
                }
                crate::config::alter_system(self.engine.datadir(), name, value.as_deref())?;
                cmd("ALTER SYSTEM")
            }
            FrontStmt::Set { name, value, local } => {
                if *local && !self.explicit {
                    self.warning(
                        sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                        "SET LOCAL can only be used in transaction blocks",
                    );
                    return cmd("SET");
                }
                let su = self.is_superuser();
                self.ensure_txn();
                self.settings.set(name, value.as_deref(), *local, su)?;
                cmd("SET")
            }
            FrontStmt::Reset(name) => {
                self.ensure_txn();
                self.settings.reset(name)?;
                cmd("RESET")
            }
            FrontStmt::ResetAll => {
                self.settings.reset_all();
                cmd("RESET")
            }
            FrontStmt::Show(name) => {
                let v = self.settings.show(name)?;
                let fields = Plan::Front(f.clone()).fields().unwrap_or_default();
                Ok(ExecResult::Rows {
                    fields,
                    rows: vec![vec![Value::Text(v)]],
                    tag: "SHOW".into(),
                })
            }
            FrontStmt::ShowAll => {
                let fields = Plan::Front(f.clone()).fields().unwrap_or_default();
                let rows = self
                    .settings
                    .show_all()
                    .into_iter()
                    .map(|(a, b, c)| vec![Value::Text(a), Value::Text(b), Value::Text(c)])
                    .collect();
                Ok(ExecResult::Rows {
                    fields,
                    rows,
                    tag: "SHOW".into(),
                })
            }
            FrontStmt::CreateDatabase { name, opts } => {
                if self.explicit {
                    bail!(
                        sqlstate::ACTIVE_SQL_TRANSACTION,
                        "CREATE DATABASE cannot run inside a transaction block"
                    );
                }
                self.exec_ctx(&[], |cx| exec::run_create_database(name, opts, cx))?;
                cmd("CREATE DATABASE")
            }
            FrontStmt::DropDatabase { name, if_exists } => {
                if self.explicit {
                    bail!(
                        sqlstate::ACTIVE_SQL_TRANSACTION,
                        "DROP DATABASE cannot run inside a transaction block"
                    );
                }
                self.exec_ctx(&[], |cx| exec::run_drop_database(name, *if_exists, cx))?;
                cmd("DROP DATABASE")
            }
            FrontStmt::Ddl(p) => {
                self.exec_ctx(&[], |cx| ddl::execute(p, cx))?;
                cmd(p.tag())
            }
            FrontStmt::CreateRole { name, user, opts } => {
                self.exec_ctx(&[], |cx| exec::run_create_role(name, *user, opts, cx))?;
                cmd("CREATE ROLE")
            }
            FrontStmt::AlterRole { name, opts } => {
                self.exec_ctx(&[], |cx| exec::run_alter_role(name, opts, cx))?;
                cmd("ALTER ROLE")
            }
            FrontStmt::RenameRole { name, new_name } => {
                self.exec_ctx(&[], |cx| exec::run_rename_role(name, new_name, cx))?;
                cmd("ALTER ROLE")
            }
            FrontStmt::DropRole { names, if_exists } => {
                self.exec_ctx(&[], |cx| exec::run_drop_role(names, *if_exists, cx))?;
                cmd("DROP ROLE")
            }
            FrontStmt::Acl(a) => {
                let auth = self.auth_user.clone();
                let r = self.exec_ctx(&[], |cx| acl::execute(a, cx, &auth));
                self.sync_user();
                r?;
                cmd(a.tag())
            }
        }
    }

    // ---- COPY FROM STDIN -------------------------------------------------------------

    /// The table a COPY names, or PostgreSQL's 42P01.
    fn copy_table(
        &self,
        table: &(Option<String>, String),
    ) -> Result<Arc<crate::storage::TableDef>> {
        crate::catalog::resolve_table(&self.engine, self.db_oid, table.0.as_deref(), &table.1)?
            .ok_or_else(|| {
                err!(
                    sqlstate::UNDEFINED_TABLE,
                    "relation \"{}\" does not exist",
                    table.1
                )
            })
    }

    /// COPY … TO STDOUT: runs the table's SELECT or the query, then renders its rows
    /// in the COPY format ([`copy_out`]).
    fn copy_to(
        &mut self,
        source: &front::CopySource,
        options: &copy_out::CopyOptions,
    ) -> Result<ExecResult> {
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let sql = match source {
            front::CopySource::Table { table, columns } => {
                // The table and columns are checked first, with COPY's own errors.
                let def = self.copy_table(table)?;
                for c in columns {
                    let Some(i) = def.column_position(c) else {
                        bail!(
                            sqlstate::UNDEFINED_COLUMN,
                            "column \"{c}\" of relation \"{}\" does not exist",
                            def.name
                        );
                    };
                    copy_generated_column(&def, i)?;
                }
                let cols = if columns.is_empty() {
                    // Every column but the stored generated ones, as PostgreSQL.
                    def.live_columns()
                        .filter(|&i| def.columns[i].generated.is_none())
                        .map(|i| quote(&def.columns[i].name))
                        .collect::<Vec<_>>()
                        .join(", ")
                } else {
                    columns
                        .iter()
                        .map(|c| quote(c))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let name = match &table.0 {
                    Some(schema) => format!("{}.{}", quote(schema), quote(&table.1)),
                    None => quote(&table.1),
                };
                format!("SELECT {cols} FROM {name}")
            }
            front::CopySource::Query(q) => q.clone(),
        };
        let piece = Piece {
            text: sql,
            offset: 0,
        };
        let parsed = parse_one(&piece)?;
        if !matches!(&parsed, Parsed::Sql(s) if matches!(**s, sqlparser::ast::Statement::Query(_)))
        {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "COPY query must be a SELECT or VALUES query here"
            );
        }
        // Positions would point into the generated text, not the client's.
        let ran = self
            .run(&piece, &parsed, &[], &mut vec![])
            .map_err(|mut e| {
                e.position = None;
                e
            })?;
        let ExecResult::Rows { fields, rows, .. } = ran else {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "COPY query must have a RETURNING clause"
            );
        };
        let data = copy_out::encode(&fields, &rows, options, &format_options(&self.settings));
        Ok(ExecResult::CopyOut {
            columns: fields.len(),
            binary: options.format == copy_out::CopyFormat::Binary,
            data,
            tag: format!("COPY {}", rows.len()),
        })
    }

    /// CopyData: rows of the COPY in progress (any split of the stream is fine).
    pub fn copy_data(&mut self, data: &[u8]) -> Result<()> {
        let r = self.copy_data_inner(data, false);
        if r.is_err() {
            self.copy = None;
            self.on_error();
        }
        r
    }

    /// Makes the session's `TimeZone` this thread's session zone for the statement
    /// about to run (see `types::timezone::session_zone`).
    fn enter_zone(&self) {
        types::timezone::session_zone(&self.hot().time_zone);
    }

    fn copy_data_inner(&mut self, data: &[u8], last: bool) -> Result<()> {
        let Some(mut st) = self.copy.take() else {
            bail!(
                sqlstate::PROTOCOL_VIOLATION,
                "unexpected message type 0x64 during COPY from stdin"
            );
        };
        st.buf.extend_from_slice(data);
        // Rows are inserted in batches: clients send a CopyData per row (pgbench,
        // psql's \copy), and each batch pays the statement set-up once (the session
        // zone, the transaction context, the foreign-key question). A text batch's
        // lines, and every field needing no unescaping, are borrowed from the buffer;
        // a value parsing made final skips the assignment cast (`parsed_is_final`). An error in a
        // buffered row is reported at the batch's end, which the protocol allows (the
        // client learns of COPY errors at CopyDone or from an ErrorResponse it reads
        // whenever it does).
        if !last && st.buf.len() < COPY_BATCH_BYTES {
            self.copy = Some(st);
            return Ok(());
        }
        // The session's zone matters only to the rows' conversion: set once a batch.
        self.enter_zone();
        // A text COPY that outgrows one batch converts on a thread of its own while
        // this one inserts (`copy_convert`).
        if st.converter.is_none() && !st.binary && !last {
            st.converter = copy_convert::Converter::start(&st, &self.hot().time_zone);
        }
        if let Some(mut converter) = st.converter.take() {
            let result = self.copy_converted(&mut st, &mut converter, last);
            st.converter = Some(converter);
            self.copy = Some(st);
            return result;
        }
        let result = if st.binary {
            copy_binary_rows(&mut st, last).and_then(|rows| self.insert_copy_rows(&st, rows))
        } else {
            let (taken, lines) = copy_take_lines(&mut st, last);
            copy_text_rows(&mut st, &taken, &lines)
                .and_then(|rows| self.insert_copy_rows(&st, rows))
        };
        if let Ok(n) = result {
            st.rows += n;
        }
        self.copy = Some(st);
        result.map(|_| ())
    }

    /// The batch now complete goes to a conversion thread, and the batches converted
    /// are inserted in order, all but the last one a thread each (which convert while
    /// the next arrive) — all of them at the end of the input.
    fn copy_converted(
        &mut self,
        st: &mut CopyState,
        converter: &mut copy_convert::Converter,
        last: bool,
    ) -> Result<()> {
        let (taken, lines) = copy_take_lines(st, last);
        converter.send(taken, lines)?;
        let keep = if last { 0 } else { converter.threads() };
        while converter.in_flight() > keep {
            let batch = converter.recv()?;
            let rows = batch
                .rows?
                .into_iter()
                .map(|(line_no, line, row)| {
                    let line = std::str::from_utf8(&batch.buf[line]).unwrap_or_default();
                    (line_no, line, CopyValues::Converted(row))
                })
                .collect();
            st.rows += self.insert_copy_values(st, rows)?;
        }
        Ok(())
    }

    /// Inserts parsed COPY FROM rows (defaults for the columns not copied), each
    /// failure carrying PostgreSQL's CONTEXT; returns how many were inserted.
    fn insert_copy_rows(&mut self, st: &CopyState, rows: Vec<CopyRow<'_>>) -> Result<u64> {
        let rows = rows
            .into_iter()
            .map(|(line_no, line, fields)| (line_no, line, CopyValues::Fields(fields)));
        self.insert_copy_values(st, rows.collect())
    }

    /// [`Session::insert_copy_rows`] of rows in either form ([`CopyValues`]).
    fn insert_copy_values(
        &mut self,
        st: &CopyState,
        rows: Vec<(u64, &str, CopyValues<'_>)>,
    ) -> Result<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        let (db, table, targets, defaults) = (st.db, &st.table, &st.targets, &st.defaults);
        // Only the columns not copied take their defaults (as in PostgreSQL, a copied
        // column's default, say a sequence's nextval, is never evaluated).
        let mut copied = vec![false; table.columns.len()];
        for &t in targets {
            copied[t] = true;
        }
        let name = &table.name;
        self.exec_ctx(&[], |cx| {
            // Whether the table references others (then each row is checked after its
            // insert, and kept for that); asked once per batch, not per row.
            let references = !fkeys::own(cx, db, table.oid).is_empty();
            // The CHECK constraints, bound once for the batch rather than looked up
            // for each row.
            let checks = ddl::row_checks(cx, db, table)?;
            // Rows of a table that references none go to the engine together, in one
            // call (one lock, one table look-up), with their line numbers for CONTEXT,
            // as PostgreSQL's COPY buffers rows for `heap_multi_insert`: up to
            // COPY_BUFFERED_ROWS rows or COPY_BUFFERED_BYTES of input. Like its, a
            // buffered row's unique violation comes after a later row's conversion
            // or CHECK error in the same buffer: that error is reported, and the
            // buffered rows are never inserted.
            let mut pending: Vec<Vec<Value>> = Vec::new();
            let mut pending_lines: Vec<u64> = Vec::new();
            let mut pending_bytes = 0;
            let insert_pending =
                |cx: &mut ExecCtx<'_>, pending: &mut Vec<Vec<Value>>, lines: &mut Vec<u64>| {
                    let r = cx
                        .engine
                        .insert_many(cx.txn, db, table.oid, pending.drain(..))
                        .map_err(|f| {
                            let (i, e) = *f;
                            let line_no = lines.get(i).copied().unwrap_or_default();
                            e.with_context(format!("COPY {name}, line {line_no}"))
                        });
                    lines.clear();
                    r
                };
            let mut n = 0;
            for (line_no, line, values) in rows {
                // The error context is formatted only when a row fails.
                let at = || format!("COPY {name}, line {line_no}");
                let at_line = || {
                    if line.is_empty() {
                        at()
                    } else {
                        format!("{}: \"{line}\"", at())
                    }
                };
                let converted = (|| -> Result<Vec<Value>> {
                    let fields = match values {
                        CopyValues::Fields(fields) => fields,
                        CopyValues::Converted(row) => {
                            let mut row = row?;
                            for (i, (d, &copied)) in defaults.iter().zip(&copied).enumerate() {
                                if !copied {
                                    row[i] = expr::eval(d, &[], cx)?;
                                }
                            }
                            ddl::prepare_row_with(cx, db, table, &checks, &mut row)
                                .map_err(|e| e.with_context(at_line()))?;
                            return Ok(row);
                        }
                    };
                    let mut row = Vec::with_capacity(table.columns.len());
                    for (d, &copied) in defaults.iter().zip(&copied) {
                        row.push(if copied {
                            Value::Null
                        } else {
                            expr::eval(d, &[], cx)?
                        });
                    }
                    for (f, &t) in fields.into_iter().zip(targets) {
                        let c = &table.columns[t];
                        row[t] = match f {
                            None => Value::Null,
                            Some(CopyField::Text(s)) => convert_text_field(table, t, line_no, &s)?,
                            Some(CopyField::Binary(b)) => types::decode_binary(c.data_type, &b)
                                .and_then(|v| types::cast(v, c.data_type, c.typmod, false))
                                .map_err(|e| {
                                    e.with_context(format!("{}, column {}", at(), c.name))
                                })?,
                        };
                    }
                    ddl::prepare_row_with(cx, db, table, &checks, &mut row)
                        .map_err(|e| e.with_context(at_line()))?;
                    Ok(row)
                })();
                let row = converted?;
                n += 1;
                if !references {
                    pending.push(row);
                    pending_lines.push(line_no);
                    pending_bytes += line.len();
                    if pending.len() >= COPY_BUFFERED_ROWS || pending_bytes >= COPY_BUFFERED_BYTES {
                        insert_pending(cx, &mut pending, &mut pending_lines)?;
                        pending_bytes = 0;
                    }
                    continue;
                }
                let checked = row.clone();
                cx.engine
                    .insert(cx.txn, db, table.oid, row)
                    .map_err(|e| e.with_context(at()))?;
                fkeys::after_insert(cx, db, table, &checked)
                    .map_err(|e| e.with_context(at_line()))?;
            }
            insert_pending(cx, &mut pending, &mut pending_lines)?;
            Ok(n)
        })
    }

    /// CopyDone: ends the COPY; returns its `COPY n` tag (and commits an implicit
    /// transaction, as the end of the Query message would).
    pub fn copy_done(&mut self) -> Result<ExecResult> {
        let r = self.copy_data_inner(&[], true);
        let st = self.copy.take();
        if let Err(e) = r {
            self.on_error();
            return Err(e);
        }
        let rows = st.map(|s| s.rows).unwrap_or(0);
        if !self.explicit {
            self.commit_txn()?;
        }
        Ok(ExecResult::Command {
            tag: format!("COPY {rows}"),
        })
    }

    /// CopyFail: abandons the COPY with the client's message (57014, as PostgreSQL).
    pub fn copy_fail(&mut self, message: &str) -> Error {
        self.copy = None;
        self.on_error();
        err!(
            sqlstate::QUERY_CANCELED,
            "COPY from stdin failed: {message}"
        )
    }

    /// FunctionCall (the protocol's fast path, `F`): tusk has no functions callable by
    /// OID (no `pg_proc` entries, no large objects), so every call is PostgreSQL's
    /// 42883 for an unknown OID — inside a failed block, 25P02 as for any command; the
    /// error fails the transaction like a statement's.
    pub fn function_call(&mut self, oid: u32) -> Error {
        if self.explicit && self.failed {
            return err!(
                sqlstate::IN_FAILED_SQL_TRANSACTION,
                "current transaction is aborted, commands ignored until end of transaction block"
            );
        }
        self.on_error();
        err!(
            sqlstate::UNDEFINED_FUNCTION,
            "function with OID {oid} does not exist"
        )
    }

    // ---- extended query protocol ---------------------------------------------------

    /// Parse: prepares `sql` under `name` ("" = unnamed) with the given parameter type
    /// OIDs (0 = infer).
    pub fn parse(&mut self, name: &str, sql: &str, param_types: &[u32]) -> Result<()> {
        let r = self.parse_inner(name, sql, param_types, 0);
        if r.is_err() {
            self.on_error();
        }
        r
    }

    /// Parse: `offset` is where `sql` starts in the client's text (SQL PREPARE).
    fn parse_inner(
        &mut self,
        name: &str,
        sql: &str,
        param_types: &[u32],
        offset: usize,
    ) -> Result<()> {
        self.enter_zone();
        if !name.is_empty() && self.statements.contains_key(name) {
            bail!(
                sqlstate::DUPLICATE_PREPARED_STATEMENT,
                "prepared statement \"{name}\" already exists"
            );
        }
        let pieces = front::split_statements(sql);
        if pieces.len() > 1 {
            bail!(
                sqlstate::SYNTAX_ERROR,
                "cannot insert multiple commands into a prepared statement"
            );
        }
        let mut piece = pieces.into_iter().next().unwrap_or(Piece {
            text: String::new(),
            offset: 0,
        });
        piece.offset += offset;
        let parsed = parse_one(&piece)?;
        let mut types = Vec::new();
        for &o in param_types {
            types.push(if o == 0 {
                DataType::Unknown
            } else {
                DataType::from_oid(o).ok_or_else(|| {
                    err!(
                        sqlstate::UNDEFINED_OBJECT,
                        "type with OID {o} does not exist"
                    )
                })?
            });
        }
        let is_txn_control = matches!(
            parsed,
            Parsed::Front(FrontStmt::Commit | FrontStmt::Rollback | FrontStmt::RollbackTo(_))
        );
        if self.failed && !is_txn_control {
            bail!(
                sqlstate::IN_FAILED_SQL_TRANSACTION,
                "current transaction is aborted, commands ignored until end of transaction block"
            );
        }
        let fields = match &parsed {
            Parsed::Sql(stmt) if cursors::is_cursor_statement(stmt) => {
                self.describe_cursor_statement(&piece, stmt, &mut types)?
            }
            Parsed::Sql(stmt) => {
                let mut b = Binder::new(
                    &self.engine,
                    self.db_oid,
                    &piece.text,
                    piece.offset,
                    types.clone(),
                );
                let plan = b.plan(stmt)?;
                types = b.params;
                plan.fields()
            }
            Parsed::Front(FrontStmt::Fetch {
                cursor,
                move_only: false,
                ..
            }) => self.cursor_fields(cursor),
            Parsed::Front(f) => Plan::Front(f.clone()).fields(),
            Parsed::Empty => None,
        };
        let types = types
            .into_iter()
            .map(|t| {
                if t == DataType::Unknown {
                    DataType::Text
                } else {
                    t
                }
            })
            .collect();
        self.statements.insert(
            name.to_string(),
            Arc::new(Prepared {
                piece,
                parsed,
                param_types: types,
                fields,
            }),
        );
        Ok(())
    }

    fn statement(&self, name: &str) -> Result<Arc<Prepared>> {
        self.statements.get(name).cloned().ok_or_else(|| {
            if name.is_empty() {
                err!(
                    sqlstate::INVALID_SQL_STATEMENT_NAME,
                    "unnamed prepared statement does not exist"
                )
            } else {
                err!(
                    sqlstate::INVALID_SQL_STATEMENT_NAME,
                    "prepared statement \"{name}\" does not exist"
                )
            }
        })
    }

    /// Bind: creates portal `portal` from a prepared statement and parameter values.
    pub fn bind(
        &mut self,
        portal: &str,
        statement: &str,
        param_formats: &[i16],
        params: &[Option<Vec<u8>>],
        result_formats: &[i16],
    ) -> Result<()> {
        let r = self.bind_inner(portal, statement, param_formats, params, result_formats);
        if r.is_err() {
            self.on_error();
        }
        r
    }

    fn bind_inner(
        &mut self,
        portal: &str,
        statement: &str,
        param_formats: &[i16],
        params: &[Option<Vec<u8>>],
        result_formats: &[i16],
    ) -> Result<()> {
        self.enter_zone();
        let stmt = self.statement(statement)?;
        if param_formats.len() > 1 && param_formats.len() != params.len() {
            bail!(
                sqlstate::PROTOCOL_VIOLATION,
                "bind message has {} parameter formats but {} parameters",
                param_formats.len(),
                params.len()
            );
        }
        if params.len() != stmt.param_types.len() {
            bail!(
                sqlstate::PROTOCOL_VIOLATION,
                "bind message supplies {} parameters, but prepared statement \"{}\" requires {}",
                params.len(),
                statement,
                stmt.param_types.len()
            );
        }
        let mut values = Vec::with_capacity(params.len());
        for (i, p) in params.iter().enumerate() {
            let fmt = match param_formats.len() {
                0 => 0,
                1 => param_formats[0],
                _ => param_formats.get(i).copied().unwrap_or(0),
            };
            let ty = stmt.param_types[i];
            // Refused even for a NULL, as PostgreSQL 15 does.
            if fmt != 0 && fmt != 1 {
                bail!(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "unsupported format code: {fmt}"
                );
            }
            values.push(match p {
                None => Value::Null,
                Some(b) if fmt == 1 => types::decode_binary(ty, b)?,
                Some(b) => {
                    let s = std::str::from_utf8(b).map_err(|_| {
                        err!(
                            sqlstate::CHARACTER_NOT_IN_REPERTOIRE,
                            "invalid byte sequence for encoding \"UTF8\""
                        )
                    })?;
                    if ty == DataType::TimestampTz {
                        Value::TimestampTz(types::parse_timestamptz(
                            s,
                            &format_options(&self.settings).zone,
                        )?)
                    } else if ty == DataType::TimeTz {
                        // A timetz without a zone takes the session zone's offset now.
                        let off = format_options(&self.settings)
                            .zone
                            .east_at(types::now_micros());
                        Value::TimeTz(types::time::parse_timetz(s, -1, off)?)
                    } else {
                        types::parse_text(ty, -1, s)?
                    }
                }
            });
        }
        // As PostgreSQL sets a portal's result formats: a list of several must name
        // every column of a statement returning rows.
        let columns = stmt.fields.as_ref().map_or(0, |f| f.len());
        if result_formats.len() > 1 && stmt.fields.is_some() && result_formats.len() != columns {
            bail!(
                sqlstate::PROTOCOL_VIOLATION,
                "bind message has {} result formats but query has {} columns",
                result_formats.len(),
                columns
            );
        }
        let bound = Portal {
            stmt,
            params: values,
            result_formats: result_formats.to_vec(),
            pending: None,
            fetched: false,
            cursor: None,
        };
        // A client binding the same (usually the unnamed) portal again and again
        // replaces it in place: no new name, no insertion.
        match self.portals.get_mut(portal) {
            Some(p) => *p = bound,
            None => {
                self.portals.insert(portal.to_string(), bound);
            }
        }
        Ok(())
    }

    /// Describe (statement): parameter type OIDs and result columns.
    pub fn describe_statement(&mut self, name: &str) -> Result<(Vec<u32>, Fields)> {
        let s = self.statement(name)?;
        Ok((
            s.param_types.iter().map(|t| t.oid()).collect(),
            s.fields.clone(),
        ))
    }

    /// Describe (portal): result columns.
    pub fn describe_portal(&mut self, name: &str) -> Result<Option<Arc<Vec<FieldDesc>>>> {
        match self.portals.get(name) {
            Some(p) => Ok(p.stmt.fields.clone()),
            None => Err(err!(
                sqlstate::INVALID_CURSOR_NAME,
                "portal \"{name}\" does not exist"
            )),
        }
    }

    /// A portal's statement text and its parameters as the server log shows them
    /// (`$1 = '5', $2 = NULL`; `None` without parameters), for `log_statement` and
    /// `log_min_duration_statement`.
    pub fn portal_log_text(&self, portal: &str) -> Option<(String, Option<String>)> {
        let p = self.portals.get(portal)?;
        let opts = format_options(&self.settings);
        let params: Vec<String> = p
            .params
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if v.is_null() {
                    format!("${} = NULL", i + 1)
                } else {
                    let text = crate::types::format_text(v, &opts).replace('\'', "''");
                    format!("${} = '{text}'", i + 1)
                }
            })
            .collect();
        let params = (!params.is_empty()).then(|| params.join(", "));
        Some((p.stmt.piece.text.clone(), params))
    }

    /// The text of a prepared statement (`""` for the unnamed one), for the log.
    pub fn statement_log_text(&self, name: &str) -> Option<String> {
        self.statements.get(name).map(|p| p.piece.text.clone())
    }

    /// A portal's result format codes as its Bind gave them (none: all text; one: for
    /// every column; else one per column — `protocol::format_for` reads them).
    pub fn portal_formats(&self, portal: &str) -> &[i16] {
        self.portals
            .get(portal)
            .map_or(&[], |p| p.result_formats.as_slice())
    }

    /// Execute: runs a portal for up to `max_rows` rows (0 = all). `Ok((rows,
    /// Some(tag)))` when done (an empty query gives an empty tag), `Ok((rows, None))`
    /// when suspended (PortalSuspended).
    pub fn execute(
        &mut self,
        portal: &str,
        max_rows: usize,
    ) -> Result<(Vec<Vec<Value>>, Option<String>)> {
        self.ctx.cancel.store(false, Ordering::SeqCst);
        if let Some(stmt) = self.portals.get(portal).map(|p| p.stmt.clone()) {
            self.report_active(&stmt.piece.text);
        }
        let r = self.execute_inner(portal, max_rows);
        if r.is_err() {
            self.on_error();
        }
        self.report_idle();
        r
    }

    fn execute_inner(
        &mut self,
        portal: &str,
        max_rows: usize,
    ) -> Result<(Vec<Vec<Value>>, Option<String>)> {
        self.enter_zone();
        let Some(p) = self.portals.get_mut(portal) else {
            bail!(
                sqlstate::INVALID_CURSOR_NAME,
                "portal \"{portal}\" does not exist"
            );
        };
        if p.pending.is_none() {
            let stmt = p.stmt.clone();
            // Lent to the run, and given back for the log's `parameters:` line.
            let params = std::mem::take(&mut p.params);
            let mut types = stmt.param_types.clone();
            self.expect_result_type(&stmt);
            let res = self.run(&stmt.piece, &stmt.parsed, &params, &mut types);
            if let Some(p) = self.portals.get_mut(portal) {
                p.params = params;
            }
            let res = res?;
            let (rows, tag) = match res {
                ExecResult::Rows { rows, tag, .. } => (rows, tag),
                ExecResult::Command { tag } => (vec![], tag),
                ExecResult::Empty => (vec![], String::new()),
                ExecResult::CopyIn { .. } => {
                    self.copy = None;
                    bail!(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "COPY FROM STDIN is only supported in the simple query protocol"
                    );
                }
                ExecResult::CopyOut { .. } => bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "COPY TO STDOUT is only supported in the simple query protocol"
                ),
            };
            match self.portals.get_mut(portal) {
                // Every row asked for (a client's usual Execute): handed over as they
                // are, the portal left exhausted, as below, without a queue between.
                Some(p) if max_rows == 0 => {
                    p.pending = Some((Default::default(), "SELECT 0".into()));
                    p.fetched = true;
                    return Ok((rows, Some(tag)));
                }
                Some(p) => p.pending = Some((rows.into(), tag)),
                // COMMIT/ROLLBACK ended the transaction and dropped the portal.
                None => return Ok((rows, Some(tag))),
            }
        }
        let Some(p) = self.portals.get_mut(portal) else {
            bail!(
                sqlstate::INVALID_CURSOR_NAME,
                "portal \"{portal}\" does not exist"
            );
        };
        let (queue, tag) = p
            .pending
            .as_mut()
            .ok_or_else(|| Error::internal("portal lost its result"))?;
        let take = if max_rows == 0 {
            queue.len()
        } else {
            max_rows.min(queue.len())
        };
        let rows: Vec<Vec<Value>> = queue.drain(..take).collect();
        if max_rows != 0 && take == max_rows {
            p.fetched = true;
            return Ok((rows, None));
        }
        let tag = if p.fetched && tag.starts_with("SELECT") {
            format!("SELECT {take}")
        } else {
            tag.clone()
        };
        // Keep the exhausted portal so a re-Execute returns no rows, as PostgreSQL.
        p.pending = Some((Default::default(), "SELECT 0".into()));
        p.fetched = true;
        Ok((rows, Some(tag)))
    }

    /// Close (statement).
    pub fn close_statement(&mut self, name: &str) {
        self.statements.remove(name);
    }

    /// Close (portal).
    pub fn close_portal(&mut self, name: &str) {
        self.portals.remove(name);
    }

    /// Sync: ends an implicit transaction (commit, or rollback after an error). A
    /// failed commit (a deferred constraint, say) is the Sync's error.
    pub fn sync(&mut self) -> Result<()> {
        if !self.explicit {
            let r = self.commit_txn();
            // Cursors WITH HOLD outlive the transaction (sql::cursors).
            self.portals
                .retain(|_, p| p.cursor == Some(CursorHold::Held));
            return r;
        }
        Ok(())
    }

    /// Encodes a value for the wire: text (PostgreSQL's output format, honouring the
    /// TimeZone setting) or binary (PostgreSQL's send format). None = NULL.
    pub fn encode_value(&self, v: &Value, format: i16) -> Option<Vec<u8>> {
        if v.is_null() {
            return None;
        }
        Some(if format == 1 {
            types::encode_binary(v)
        } else {
            types::format_text(v, &self.hot().format).into_bytes()
        })
    }

    /// As [`Session::encode_value`], for a result column of type `type_oid`: the
    /// binary form of a `"char"` is its one byte, not its text.
    pub fn encode_value_as(
        &self,
        v: &Value,
        format: i16,
        type_oid: Option<u32>,
    ) -> Option<Vec<u8>> {
        match type_oid.and_then(DataType::from_oid) {
            Some(ty) if format == 1 && !v.is_null() => Some(types::encode_binary_as(v, ty)),
            _ => self.encode_value(v, format),
        }
    }

    /// Called when the connection ends: rolls back an open transaction.
    pub fn terminate(&mut self) {
        self.explicit = false;
        self.failed = false;
        self.abort_txn();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.abort_txn();
    }
}

/// Hot standby: the statements a session refuses while the server is in recovery,
/// with PostgreSQL's SQLSTATEs and texts (25006 for writes, 0A000 for asking for a
/// read-write transaction).
mod hot_standby {
    use super::front::{FrontStmt, TxnModes};
    use super::plan::Plan;
    use crate::error::{sqlstate, Error, Result};

    /// 25006: `what` cannot run in a read-only transaction.
    pub fn read_only(what: &str) -> Error {
        Error::new(
            sqlstate::READ_ONLY_SQL_TRANSACTION,
            format!("cannot execute {what} in a read-only transaction"),
        )
    }

    fn read_write_mode() -> Error {
        Error::new(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "cannot set transaction read-write mode during recovery",
        )
    }

    fn wants_read_write(m: &TxnModes) -> bool {
        m.read_only == Some(false)
    }

    /// Refuses a planned statement that would write.
    pub fn check_plan(plan: &Plan) -> Result<()> {
        match writes(plan) {
            Some(what) => Err(read_only(what)),
            None => Ok(()),
        }
    }

    /// What a planned statement that would write is called in the refusal; `None` for
    /// one that only reads.
    pub fn writes(plan: &Plan) -> Option<&'static str> {
        Some(match plan {
            Plan::Insert(_) => "INSERT",
            Plan::Update(_) => "UPDATE",
            Plan::Delete(_) => "DELETE",
            Plan::CreateTable(_) => "CREATE TABLE",
            Plan::DropTable(..) => "DROP TABLE",
            Plan::Truncate(_) => "TRUNCATE TABLE",
            Plan::AlterTable(_) => "ALTER TABLE",
            Plan::CreateIndex(_) => "CREATE INDEX",
            Plan::DropIndex(..) => "DROP INDEX",
            Plan::Query(q) => match q.lock {
                Some(l) if l.exclusive => "SELECT FOR UPDATE",
                Some(_) => "SELECT FOR SHARE",
                None => return None,
            },
            Plan::Front(_) => return None,
            Plan::Ddl(p) => p.tag(),
            Plan::Explain(e) if e.analyze => return writes(&e.inner),
            Plan::Explain(_) => return None,
            Plan::Enum(p) => p.tag(),
        })
    }

    /// Refuses a front-parser statement that would write or ask for read-write mode.
    pub fn check_front(f: &FrontStmt) -> Result<()> {
        let what = match f {
            FrontStmt::Begin(m) | FrontStmt::SetTransaction(m) if wants_read_write(m) => {
                return Err(read_write_mode())
            }
            FrontStmt::Set {
                name,
                value: Some(v),
                ..
            } if name.eq_ignore_ascii_case("transaction_read_only")
                && crate::config::value::parse_bool(v) == Some(false) =>
            {
                return Err(read_write_mode())
            }
            FrontStmt::Vacuum { analyze_only, .. } => {
                return Err(Error::new(
                    sqlstate::READ_ONLY_SQL_TRANSACTION,
                    format!(
                        "cannot execute {} during recovery",
                        if *analyze_only { "ANALYZE" } else { "VACUUM" }
                    ),
                ))
            }
            FrontStmt::CopyFrom { .. } => "COPY FROM",
            FrontStmt::Ddl(p) => p.tag(),
            FrontStmt::CreateRole { .. } => "CREATE ROLE",
            FrontStmt::AlterRole { .. } | FrontStmt::RenameRole { .. } => "ALTER ROLE",
            FrontStmt::DropRole { .. } => "DROP ROLE",
            FrontStmt::Acl(a) if a.is_session_only() => return Ok(()),
            FrontStmt::Acl(a) => a.tag(),
            FrontStmt::CreateDatabase { .. } => "CREATE DATABASE",
            FrontStmt::DropDatabase { .. } => "DROP DATABASE",
            FrontStmt::AddIdentity(_) => "ALTER TABLE",
            _ => return Ok(()),
        };
        Err(read_only(what))
    }
}

/// COPY refuses a stored generated column in its column list (42P10).
fn copy_generated_column(def: &crate::storage::TableDef, pos: usize) -> Result<()> {
    let c = &def.columns[pos];
    if c.generated.is_some() {
        return Err(err!(
            sqlstate::INVALID_COLUMN_REFERENCE,
            "column \"{}\" is a generated column",
            c.name
        )
        .with_detail("Generated columns cannot be used in COPY."));
    }
    Ok(())
}

#[cfg(test)]
mod join_tests;
#[cfg(test)]
mod query_tests;
#[cfg(test)]
mod tests;

#[cfg(test)]
mod type_tests;

#[cfg(test)]
mod time_tests;
