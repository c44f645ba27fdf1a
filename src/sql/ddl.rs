//! DDL beyond tables and indexes: sequences (`CREATE/ALTER/DROP SEQUENCE`, `nextval`,
//! `currval`, `setval`, `lastval`, `pg_get_serial_sequence`), `serial` columns and
//! identity columns (`GENERATED {ALWAYS | BY DEFAULT} AS IDENTITY`), and CHECK
//! constraints (declared here, enforced by [`check_row`]).
//!
//! What it owns: planning these statements into [`DdlPlan`]s, running them through
//! `Engine::catalog_change` (the objects live in `storage::ddl`), the per-session
//! sequence state ([`DdlSession`]: currval / lastval, cached CHECK expressions), and
//! PostgreSQL's rules and messages for all of it.
//!
//! Invariants:
//! - Sequence values change only through `Engine::sequence_next` / `sequence_set`,
//!   which log them non-transactionally; definitions change only through catalog
//!   changes of the statement's transaction.
//! - A `serial` or identity column's sequence is OWNED BY the column: DROP TABLE drops
//!   it ([`on_drop_table`]); dropping it alone is refused while the column uses it.
//! - CHECK expressions are stored as SQL text and bound against the table at use, so
//!   a stored constraint is checked with the same binder as a query.
//!
//! What it must never do: write WAL or catalog state other than through the engine's
//! catalog changes and sequence operations, or hand out a sequence value twice.
//!
//! One `INSERT INTO t (v) VALUES ('x')` into `CREATE TABLE t (id serial, v text)`:
//! 1. CREATE TABLE planned `id` as `integer NOT NULL DEFAULT nextval('t_id_seq')` and
//!    [`create_table_extras`] created `t_id_seq` OWNED BY `t.id` in the same
//!    transaction;
//! 2. the INSERT binds the stored default, a call of [`DdlFn::Nextval`];
//! 3. evaluating it calls [`call`], which resolves the sequence and asks the engine for
//!    the next value (logging 32 ahead when needed) and remembers it for currval.

use super::expr::{eval, Expr, Func};
use super::plan::{fold, Binder, Coercion, Scope};
use super::plan::{ScopeCol, SelectPlan};
use super::ExecCtx;
use crate::error::{sqlstate, Error, Result};
use crate::storage::acl;
use crate::storage::ddl::{CheckDef, DdlChange, SeqStep, SequenceDef, ViewDef};
use crate::storage::schema::{PG_CATALOG_NAMESPACE, PUBLIC_NAMESPACE};
use crate::storage::{CatalogChange, Engine, TableDef};
use crate::types::{format_text, DataType, FormatOptions, Value};
use crate::{bail, err};
use sqlparser::ast;
use std::collections::HashMap;
use std::sync::Arc;

/// A sequence function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DdlFn {
    /// `nextval(regclass)`
    Nextval,
    /// `currval(regclass)`
    Currval,
    /// `setval(regclass, bigint [, boolean])`
    Setval,
    /// `lastval()`
    Lastval,
    /// `pg_get_serial_sequence(table, column)`
    SerialSequence,
    /// `current_schemas(boolean)`
    CurrentSchemas,
}

/// Resolves a sequence function by name and argument count.
pub fn lookup(name: &str, n: usize) -> Option<(Func, DataType)> {
    Some(match (name, n) {
        ("nextval", 1) => (Func::Ddl(DdlFn::Nextval), DataType::Int8),
        ("currval", 1) => (Func::Ddl(DdlFn::Currval), DataType::Int8),
        ("setval", 2 | 3) => (Func::Ddl(DdlFn::Setval), DataType::Int8),
        ("lastval", 0) => (Func::Ddl(DdlFn::Lastval), DataType::Int8),
        ("pg_get_serial_sequence", 2) => (Func::Ddl(DdlFn::SerialSequence), DataType::Text),
        ("current_schemas", 1) => (Func::Ddl(DdlFn::CurrentSchemas), DataType::TextArray),
        _ => return None,
    })
}

/// The argument types of a sequence function.
pub fn arg_type(f: DdlFn, i: usize) -> Option<DataType> {
    Some(match (f, i) {
        (DdlFn::Setval, 1) => DataType::Int8,
        (DdlFn::Setval, 2) => DataType::Bool,
        (DdlFn::CurrentSchemas, 0) => DataType::Bool,
        _ => DataType::Text,
    })
}

/// A table's CHECK constraints bound for evaluation: (name, expression), in the order
/// they are tested.
pub type BoundChecks = Arc<Vec<(String, Expr)>>;

/// `OWNED BY [schema.]table.column` as written: ((schema, table), column).
pub type OwnerName = ((Option<String>, String), String);

/// A session's sequence state and cached CHECK and generation expressions.
#[derive(Debug, Default)]
pub struct DdlSession {
    /// The last value nextval returned per (database, sequence) in this session.
    currval: HashMap<(u32, u32), i64>,
    /// The sequence nextval was last called on.
    last: Option<(u32, u32)>,
    /// Bound CHECK constraints per (database, table), valid at a catalog version
    /// (asked for every row written: FxHash).
    checks: rustc_hash::FxHashMap<(u32, u32), (u64, BoundChecks)>,
    /// Bound generation expressions per (database, table) (see `sql::generated`).
    pub(super) generated:
        rustc_hash::FxHashMap<(u32, u32), (u64, super::generated::BoundGenerated)>,
}

impl DdlSession {
    /// Forgets currval/lastval (DISCARD SEQUENCES, DISCARD ALL).
    pub fn discard_sequences(&mut self) {
        self.currval.clear();
        self.last = None;
    }
}

// ---- names -------------------------------------------------------------------------

/// The schemas an unqualified name is looked up in, in order.
fn search_schemas(engine: &Engine, schema: Option<&str>) -> Result<Vec<u32>> {
    match schema {
        None => Ok(crate::catalog::search_path::lookup_schemas()),
        // Named explicitly: USAGE is checked for the statement's role.
        Some(s) => Ok(vec![crate::catalog::lookup_schema(engine, s)?]),
    }
}

/// A schema's OID by name (3F000 if there is none).
pub fn schema_oid(engine: &Engine, name: &str) -> Result<u32> {
    engine
        .with_catalog(|c| {
            c.schemas
                .iter()
                .find(|(_, (n, _))| n == name)
                .map(|(o, _)| *o)
        })
        .ok_or_else(|| {
            err!(
                sqlstate::INVALID_SCHEMA_NAME,
                "schema \"{name}\" does not exist"
            )
        })
}

/// `current_schema()`: the name of schema `oid`.
pub fn current_schema_name(engine: &Engine, oid: u32) -> Value {
    Value::Text(schema_name(engine, oid))
}

/// A schema's name by OID.
fn schema_name(engine: &Engine, oid: u32) -> String {
    engine.with_catalog(|c| {
        c.schemas
            .get(&oid)
            .map(|(n, _)| n.clone())
            .unwrap_or_default()
    })
}

/// What a relation name denotes.
enum Rel {
    Sequence(SequenceDef),
    Other,
}

/// Finds a relation (sequence, or anything else) by possibly qualified name.
fn find_relation(
    engine: &Engine,
    db: u32,
    schema: Option<&str>,
    name: &str,
) -> Result<Option<Rel>> {
    for s in search_schemas(engine, schema)? {
        let found = engine.with_catalog(|c| {
            if let Some(q) = c.ddl.sequence_by_name(db, s, name) {
                Some(Rel::Sequence(q.clone()))
            } else if c.relation_exists(db, s, name) {
                Some(Rel::Other)
            } else {
                None
            }
        });
        if found.is_some() {
            crate::catalog::check_not_other_temp(engine, s)?;
            return Ok(found);
        }
    }
    Ok(None)
}

/// The sequence a relation name denotes, if it denotes one.
pub(crate) fn find_sequence(
    engine: &Engine,
    db: u32,
    schema: Option<&str>,
    name: &str,
) -> Result<Option<SequenceDef>> {
    Ok(match find_relation(engine, db, schema, name)? {
        Some(Rel::Sequence(s)) => Some(s),
        _ => None,
    })
}

/// Splits a text name as `regclass` input does: dotted parts, unquoted ones folded.
pub(super) fn parse_qualified(text: &str) -> Result<(Option<String>, String)> {
    let invalid = || err!(sqlstate::INVALID_NAME, "invalid name syntax");
    let mut parts = Vec::new();
    let mut chars = text.trim().chars().peekable();
    loop {
        let mut part = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        part.push('"');
                    }
                    Some('"') => break,
                    Some(c) => part.push(c),
                    None => return Err(invalid()),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == '.' {
                    break;
                }
                part.push(c.to_ascii_lowercase());
                chars.next();
            }
            part = part.trim().to_string();
        }
        if part.is_empty() {
            return Err(invalid());
        }
        parts.push(part);
        match chars.next() {
            None => break,
            Some('.') => continue,
            Some(_) => return Err(invalid()),
        }
    }
    match parts.len() {
        1 => Ok((None, parts.remove(0))),
        2 => Ok((Some(parts.remove(0)), parts.remove(0))),
        3 => Ok((Some(parts.remove(1)), parts.remove(1))),
        _ => Err(err!(
            sqlstate::SYNTAX_ERROR,
            "improper relation name (too many dotted names): {text}"
        )),
    }
}

/// Resolves a sequence named by text (a `regclass` argument).
fn sequence_by_text(engine: &Engine, db: u32, text: &str) -> Result<SequenceDef> {
    // Digits are an OID, as `regclass` input reads them (`nextval('s'::regclass)`
    // hands over the sequence's OID).
    let digits = text.trim();
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        if let Ok(oid) = digits.parse::<u32>() {
            if let Some(s) = engine.with_catalog(|c| c.ddl.sequences.get(&(db, oid)).cloned()) {
                return Ok(s);
            }
        }
    }
    let (schema, name) = parse_qualified(text)?;
    match find_relation(engine, db, schema.as_deref(), &name)? {
        Some(Rel::Sequence(s)) => Ok(s),
        Some(Rel::Other) => bail!(sqlstate::WRONG_OBJECT_TYPE, "\"{name}\" is not a sequence"),
        None => bail!(
            sqlstate::UNDEFINED_TABLE,
            "relation \"{}\" does not exist",
            text.trim()
        ),
    }
}

// ---- sequence functions ------------------------------------------------------------

/// Checks that the current role holds one of `any_of` on the sequence (PostgreSQL's
/// `permission denied for sequence s`).
fn check_sequence(cx: &ExecCtx<'_>, s: &SequenceDef, any_of: u32) -> Result<()> {
    let role = super::privileges::current_role_oid(cx);
    let db = cx.db_oid;
    let (have, _) = cx.engine.with_catalog(|c| {
        acl::privileges(c, db, &acl::AclObject::Relation { db, oid: s.oid }, role)
    });
    if have & any_of == 0 {
        return Err(super::privileges::denied("sequence", &s.name));
    }
    Ok(())
}

/// Calls a sequence function.
pub fn call(f: DdlFn, args: Vec<Value>, cx: &mut ExecCtx<'_>) -> Result<Value> {
    if args.iter().any(|a| a.is_null()) {
        return Ok(Value::Null);
    }
    let text = |i: usize| match args.get(i) {
        Some(Value::Text(s)) => s.clone(),
        Some(v) => format_text(v, &FormatOptions::default()),
        None => String::new(),
    };
    let db = cx.db_oid;
    match f {
        DdlFn::CurrentSchemas => {
            let mut path = crate::catalog::search_path::current();
            if matches!(args.first(), Some(Value::Bool(true))) {
                path = crate::catalog::search_path::lookup_schemas();
            }
            Ok(Value::TextArray(
                path.into_iter()
                    .map(|o| Some(schema_name(cx.engine, o)))
                    .collect(),
            ))
        }
        DdlFn::Nextval => {
            let s = sequence_by_text(cx.engine, db, &text(0))?;
            check_sequence(cx, &s, acl::ACL_USAGE | acl::ACL_UPDATE)?;
            // A temporary sequence may advance in a read-only transaction.
            if cx.settings.get_bool("transaction_read_only")
                && !crate::catalog::is_temp_schema(cx.engine, s.schema)
            {
                bail!(
                    sqlstate::READ_ONLY_SQL_TRANSACTION,
                    "cannot execute nextval() in a read-only transaction"
                );
            }
            match cx.engine.sequence_next(db, s.oid)? {
                Some(SeqStep::Value(v)) => {
                    cx.ddl.currval.insert((db, s.oid), v);
                    cx.ddl.last = Some((db, s.oid));
                    Ok(Value::Int8(v))
                }
                Some(SeqStep::Limit { max, value }) => bail!(
                    sqlstate::SEQUENCE_GENERATOR_LIMIT_EXCEEDED,
                    "nextval: reached {} value of sequence \"{}\" ({value})",
                    if max { "maximum" } else { "minimum" },
                    s.name
                ),
                None => bail!(
                    sqlstate::UNDEFINED_TABLE,
                    "relation \"{}\" does not exist",
                    s.name
                ),
            }
        }
        DdlFn::Currval => {
            let s = sequence_by_text(cx.engine, db, &text(0))?;
            check_sequence(cx, &s, acl::ACL_USAGE | acl::ACL_SELECT)?;
            match cx.ddl.currval.get(&(db, s.oid)) {
                Some(v) => Ok(Value::Int8(*v)),
                None => bail!(
                    sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "currval of sequence \"{}\" is not yet defined in this session",
                    s.name
                ),
            }
        }
        DdlFn::Lastval => {
            let not_yet = || {
                err!(
                    sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "lastval is not yet defined in this session"
                )
            };
            let key = cx.ddl.last.ok_or_else(not_yet)?;
            let seq = cx
                .engine
                .with_catalog(|c| c.ddl.sequences.get(&key).cloned());
            let Some(seq) = seq else {
                return Err(not_yet());
            };
            check_sequence(cx, &seq, acl::ACL_USAGE | acl::ACL_SELECT)?;
            cx.ddl
                .currval
                .get(&key)
                .map(|v| Value::Int8(*v))
                .ok_or_else(not_yet)
        }
        DdlFn::Setval => {
            let s = sequence_by_text(cx.engine, db, &text(0))?;
            check_sequence(cx, &s, acl::ACL_UPDATE)?;
            let v = match args.get(1) {
                Some(Value::Int8(v)) => *v,
                Some(Value::Int4(v)) => *v as i64,
                Some(Value::Int2(v)) => *v as i64,
                _ => bail!(sqlstate::DATATYPE_MISMATCH, "setval: invalid value"),
            };
            let called = !matches!(args.get(2), Some(Value::Bool(false)));
            if v < s.min || v > s.max {
                bail!(
                    sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                    "setval: value {v} is out of bounds for sequence \"{}\" ({}..{})",
                    s.name,
                    s.min,
                    s.max
                );
            }
            if cx.settings.get_bool("transaction_read_only")
                && !crate::catalog::is_temp_schema(cx.engine, s.schema)
            {
                bail!(
                    sqlstate::READ_ONLY_SQL_TRANSACTION,
                    "cannot execute setval() in a read-only transaction"
                );
            }
            cx.engine.sequence_set(db, s.oid, v, called)?;
            if called {
                cx.ddl.currval.insert((db, s.oid), v);
                cx.ddl.last = Some((db, s.oid));
            }
            Ok(Value::Int8(v))
        }
        DdlFn::SerialSequence => {
            let (schema, tname) = parse_qualified(&text(0))?;
            let table = crate::catalog::resolve_table(cx.engine, db, schema.as_deref(), &tname)?
                .ok_or_else(|| {
                    err!(
                        sqlstate::UNDEFINED_TABLE,
                        "relation \"{}\" does not exist",
                        text(0)
                    )
                })?;
            let col = text(1);
            let cname = if col.starts_with('"') && col.ends_with('"') && col.len() >= 2 {
                col[1..col.len() - 1].replace("\"\"", "\"")
            } else {
                col.to_lowercase()
            };
            let Some(pos) = table.columns.iter().position(|c| c.name == cname) else {
                bail!(
                    sqlstate::UNDEFINED_COLUMN,
                    "column \"{cname}\" of relation \"{}\" does not exist",
                    table.name
                );
            };
            let seq = cx.engine.with_catalog(|c| {
                c.ddl
                    .sequences
                    .range((db, 0)..=(db, u32::MAX))
                    .map(|(_, s)| s)
                    .find(|s| s.owned_by == Some((table.oid, pos)))
                    .cloned()
            });
            Ok(match seq {
                Some(s) => Value::Text(format!(
                    "{}.{}",
                    quote_ident(&schema_name(cx.engine, s.schema)),
                    quote_ident(&s.name)
                )),
                None => Value::Null,
            })
        }
    }
}

/// Quotes an identifier when PostgreSQL's `quote_ident` would.
pub fn quote_ident(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

// ---- sequence options --------------------------------------------------------------

/// Sequence options as written (None = not given; `Some(None)` = NO MINVALUE etc.).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeqOpts {
    /// AS type (type OID).
    pub type_oid: Option<u32>,
    /// INCREMENT.
    pub increment: Option<i64>,
    /// MINVALUE / NO MINVALUE.
    pub min: Option<Option<i64>>,
    /// MAXVALUE / NO MAXVALUE.
    pub max: Option<Option<i64>>,
    /// START.
    pub start: Option<i64>,
    /// CACHE.
    pub cache: Option<i64>,
    /// [NO] CYCLE.
    pub cycle: Option<bool>,
    /// RESTART [WITH n] (ALTER SEQUENCE): `Some(None)` restarts at START.
    pub restart: Option<Option<i64>>,
}

fn type_bounds(type_oid: u32) -> (i64, i64, &'static str) {
    if type_oid == DataType::Int2.oid() {
        (i16::MIN as i64, i16::MAX as i64, "smallint")
    } else if type_oid == DataType::Int4.oid() {
        (i32::MIN as i64, i32::MAX as i64, "integer")
    } else {
        (i64::MIN, i64::MAX, "bigint")
    }
}

fn invalid(msg: String) -> Error {
    Error::new(sqlstate::INVALID_PARAMETER_VALUE, msg)
}

/// Applies options to a definition (PostgreSQL's `init_params`): `base` is the
/// current definition for ALTER SEQUENCE, or a fresh one for CREATE.
fn apply_opts(base: &SequenceDef, o: &SeqOpts, create: bool) -> Result<SequenceDef> {
    let mut s = base.clone();
    if let Some(t) = o.type_oid {
        s.type_oid = t;
    }
    let (tmin, tmax, tname) = type_bounds(s.type_oid);
    if let Some(i) = o.increment {
        if i == 0 {
            return Err(invalid("INCREMENT must not be zero".into()));
        }
        s.increment = i;
    }
    match o.max {
        Some(Some(m)) => s.max = m,
        Some(None) => s.max = if s.increment > 0 { tmax } else { -1 },
        None if create => s.max = if s.increment > 0 { tmax } else { -1 },
        None => {}
    }
    match o.min {
        Some(Some(m)) => s.min = m,
        Some(None) => s.min = if s.increment > 0 { 1 } else { tmin },
        None if create => s.min = if s.increment > 0 { 1 } else { tmin },
        None => {}
    }
    if s.max < tmin || s.max > tmax {
        return Err(invalid(format!(
            "MAXVALUE ({}) is out of range for sequence data type {tname}",
            s.max
        )));
    }
    if s.min < tmin || s.min > tmax {
        return Err(invalid(format!(
            "MINVALUE ({}) is out of range for sequence data type {tname}",
            s.min
        )));
    }
    if s.min >= s.max {
        return Err(invalid(format!(
            "MINVALUE ({}) must be less than MAXVALUE ({})",
            s.min, s.max
        )));
    }
    match o.start {
        Some(v) => s.start = v,
        None if create => s.start = if s.increment > 0 { s.min } else { s.max },
        None => {}
    }
    if s.start < s.min {
        return Err(invalid(format!(
            "START value ({}) cannot be less than MINVALUE ({})",
            s.start, s.min
        )));
    }
    if s.start > s.max {
        return Err(invalid(format!(
            "START value ({}) cannot be greater than MAXVALUE ({})",
            s.start, s.max
        )));
    }
    if let Some(Some(r)) = o.restart {
        if r < s.min {
            return Err(invalid(format!(
                "RESTART value ({r}) cannot be less than MINVALUE ({})",
                s.min
            )));
        }
        if r > s.max {
            return Err(invalid(format!(
                "RESTART value ({r}) cannot be greater than MAXVALUE ({})",
                s.max
            )));
        }
    }
    if let Some(c) = o.cache {
        if c <= 0 {
            return Err(invalid(format!("CACHE ({c}) must be greater than zero")));
        }
        s.cache = c;
    }
    if let Some(c) = o.cycle {
        s.cycle = c;
    }
    Ok(s)
}

/// An integer constant of a sequence option.
fn expr_i64(e: &ast::Expr) -> Result<i64> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => n.parse::<i64>().map_err(|_| {
                err!(
                    sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                    "value \"{n}\" is out of range for type bigint"
                )
            }),
            other => bail!(
                sqlstate::SYNTAX_ERROR,
                "syntax error at or near \"{other}\""
            ),
        },
        ast::Expr::UnaryOp {
            op: ast::UnaryOperator::Minus,
            expr,
        } => expr_i64(expr).map(|v| -v),
        ast::Expr::UnaryOp {
            op: ast::UnaryOperator::Plus,
            expr,
        } => expr_i64(expr),
        other => bail!(
            sqlstate::SYNTAX_ERROR,
            "syntax error at or near \"{other}\""
        ),
    }
}

/// Converts sqlparser's sequence options.
fn seq_opts(
    options: &[ast::SequenceOptions],
    data_type: Option<&ast::DataType>,
) -> Result<SeqOpts> {
    let mut o = SeqOpts::default();
    if let Some(t) = data_type {
        let (ty, _) = super::plan::convert_type(t)?;
        if !matches!(ty, DataType::Int2 | DataType::Int4 | DataType::Int8) {
            return Err(invalid(
                "sequence type must be smallint, integer, or bigint".into(),
            ));
        }
        o.type_oid = Some(ty.oid());
    }
    for opt in options {
        match opt {
            ast::SequenceOptions::IncrementBy(e, _) => o.increment = Some(expr_i64(e)?),
            ast::SequenceOptions::MinValue(e) => {
                o.min = Some(e.as_ref().map(expr_i64).transpose()?)
            }
            ast::SequenceOptions::MaxValue(e) => {
                o.max = Some(e.as_ref().map(expr_i64).transpose()?)
            }
            ast::SequenceOptions::StartWith(e, _) => o.start = Some(expr_i64(e)?),
            ast::SequenceOptions::Cache(e) => o.cache = Some(expr_i64(e)?),
            ast::SequenceOptions::Cycle(no) => o.cycle = Some(!*no),
        }
    }
    Ok(o)
}

fn fresh_sequence(type_oid: u32) -> SequenceDef {
    SequenceDef {
        oid: 0,
        schema: PUBLIC_NAMESPACE,
        name: String::new(),
        owner: 0,
        type_oid,
        increment: 1,
        min: 1,
        max: i64::MAX,
        start: 1,
        cache: 1,
        cycle: false,
        owned_by: None,
        identity: 0,
    }
}

// ---- plans -------------------------------------------------------------------------

/// A planned DDL statement of this module.
#[derive(Debug, Clone, PartialEq)]
pub enum DdlPlan {
    /// CREATE SEQUENCE.
    CreateSequence {
        /// IF NOT EXISTS.
        if_not_exists: bool,
        /// The definition (OID and owner chosen at execution).
        def: SequenceDef,
        /// OWNED BY table.column (table name as written, column).
        owned_by: Option<OwnerName>,
    },
    /// ALTER SEQUENCE.
    AlterSequence {
        /// IF EXISTS.
        if_exists: bool,
        /// The name as written.
        name: (Option<String>, String),
        /// The options.
        opts: SeqOpts,
        /// OWNED BY: None = unchanged, Some(None) = NONE.
        owned_by: Option<Option<OwnerName>>,
    },
    /// DROP SEQUENCE.
    DropSequence {
        /// The names as written.
        names: Vec<(Option<String>, String)>,
        /// IF EXISTS.
        if_exists: bool,
        /// CASCADE.
        cascade: bool,
    },
    /// CREATE [OR REPLACE] VIEW (OID and owner chosen at execution).
    CreateView {
        /// OR REPLACE.
        or_replace: bool,
        /// Whether the view is temporary only because its query names a temporary
        /// object (PostgreSQL's NOTICE says so at execution).
        temp_notice: bool,
        /// The view.
        def: ViewDef,
    },
    /// DROP VIEW.
    DropView {
        /// The names as written.
        names: Vec<(Option<String>, String)>,
        /// IF EXISTS.
        if_exists: bool,
    },
    /// CREATE SCHEMA.
    CreateSchema {
        /// The name.
        name: String,
        /// IF NOT EXISTS.
        if_not_exists: bool,
        /// AUTHORIZATION role (None: the current role owns it).
        owner: Option<String>,
    },
    /// DROP SCHEMA.
    DropSchema {
        /// The names.
        names: Vec<String>,
        /// IF EXISTS.
        if_exists: bool,
        /// CASCADE.
        cascade: bool,
    },
    /// CREATE TABLE … AS, SELECT … INTO, CREATE TABLE (LIKE …) (see `sql::ctas`).
    CreateTableAs(Box<super::ctas::CtasPlan>),
    /// `COMMENT ON TABLE | COLUMN … IS …`.
    Comment {
        /// The relation's name as written.
        name: (Option<String>, String),
        /// The column (COMMENT ON COLUMN), else the table itself.
        column: Option<String>,
        /// The comment (None or empty removes it).
        text: Option<String>,
    },
}

impl DdlPlan {
    /// The command tag.
    pub fn tag(&self) -> &'static str {
        match self {
            DdlPlan::CreateSequence { .. } => "CREATE SEQUENCE",
            DdlPlan::AlterSequence { .. } => "ALTER SEQUENCE",
            DdlPlan::DropSequence { .. } => "DROP SEQUENCE",
            DdlPlan::CreateView { .. } => "CREATE VIEW",
            DdlPlan::DropView { .. } => "DROP VIEW",
            DdlPlan::CreateSchema { .. } => "CREATE SCHEMA",
            DdlPlan::DropSchema { .. } => "DROP SCHEMA",
            DdlPlan::CreateTableAs(p) if p.select_into => "SELECT INTO",
            DdlPlan::CreateTableAs(p) if p.as_query => "CREATE TABLE AS",
            DdlPlan::CreateTableAs(_) => "CREATE TABLE",
            DdlPlan::Comment { .. } => "COMMENT",
        }
    }

    /// The command tag after running with row count `n` (`SELECT n` for CREATE
    /// TABLE AS and SELECT INTO).
    pub fn tag_with(&self, n: u64) -> String {
        match self {
            DdlPlan::CreateTableAs(p) => super::ctas::tag(p, n),
            _ => self.tag().into(),
        }
    }
}

fn split_name(n: &ast::ObjectName) -> Result<(Option<String>, String)> {
    let parts: Vec<String> =
        n.0.iter()
            .map(|p| match p {
                ast::ObjectNamePart::Identifier(i) => Ok(fold(i)),
                _ => Err(err!(sqlstate::SYNTAX_ERROR, "invalid name")),
            })
            .collect::<Result<_>>()?;
    match parts.len() {
        1 => Ok((None, parts[0].clone())),
        2 => Ok((Some(parts[0].clone()), parts[1].clone())),
        3 => Ok((Some(parts[1].clone()), parts[2].clone())),
        _ => bail!(
            sqlstate::SYNTAX_ERROR,
            "improper qualified name (too many dotted names): {n}"
        ),
    }
}

/// `OWNED BY [schema.]table.column` as (table name, column).
fn owned_by_name(n: &ast::ObjectName) -> Result<Option<OwnerName>> {
    let parts: Vec<String> =
        n.0.iter()
            .map(|p| match p {
                ast::ObjectNamePart::Identifier(i) => Ok(fold(i)),
                _ => Err(err!(sqlstate::SYNTAX_ERROR, "invalid name")),
            })
            .collect::<Result<_>>()?;
    match parts.len() {
        1 if parts[0] == "none" => Ok(None),
        1 => Err(
            err!(sqlstate::INVALID_PARAMETER_VALUE, "invalid OWNED BY option")
                .with_hint("Specify OWNED BY table.column or OWNED BY NONE."),
        ),
        2 => Ok(Some(((None, parts[0].clone()), parts[1].clone()))),
        3 => Ok(Some((
            (Some(parts[0].clone()), parts[1].clone()),
            parts[2].clone(),
        ))),
        _ => bail!(
            sqlstate::SYNTAX_ERROR,
            "improper qualified name (too many dotted names): {n}"
        ),
    }
}

/// Plans the statements of this module; `Ok(None)` when `stmt` is not one.
pub fn plan(b: &Binder<'_>, stmt: &ast::Statement) -> Result<Option<DdlPlan>> {
    let (engine, _db) = b.target();
    if let Some(p) = super::ctas::plan(b, stmt)? {
        return Ok(Some(DdlPlan::CreateTableAs(Box::new(p))));
    }
    Ok(Some(match stmt {
        ast::Statement::CreateSequence {
            temporary,
            if_not_exists,
            name,
            data_type,
            sequence_options,
            owned_by,
        } => {
            let (schema, sname) = split_name(name)?;
            let opts = seq_opts(sequence_options, data_type.as_ref())?;
            let mut def = apply_opts(
                &fresh_sequence(opts.type_oid.unwrap_or(DataType::Int8.oid())),
                &opts,
                true,
            )?;
            def.schema = if *temporary {
                crate::catalog::resolve_temp_schema_for_create(engine, schema.as_deref())?
            } else {
                crate::catalog::resolve_schema_for_create(engine, schema.as_deref())?
            };
            def.name = sname;
            let owned_by = match owned_by {
                Some(n) => owned_by_name(n)?,
                None => None,
            };
            DdlPlan::CreateSequence {
                if_not_exists: *if_not_exists,
                def,
                owned_by,
            }
        }
        ast::Statement::Drop {
            object_type: ast::ObjectType::Sequence,
            if_exists,
            names,
            cascade,
            ..
        } => DdlPlan::DropSequence {
            names: names.iter().map(split_name).collect::<Result<_>>()?,
            if_exists: *if_exists,
            cascade: *cascade,
        },
        ast::Statement::CreateView {
            or_replace,
            or_alter,
            materialized,
            temporary,
            name,
            columns,
            query,
            ..
        } => {
            if *materialized || *or_alter {
                bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "{} views are not supported yet",
                    if *materialized {
                        "materialized"
                    } else {
                        "CREATE OR ALTER"
                    }
                );
            }
            let (schema, vname) = split_name(name)?;
            let text = query.to_string();
            // A view whose query names a temporary object is temporary (storage::temp).
            let uses_before = crate::catalog::search_path::temp_uses();
            let plan = plan_view_query(engine, _db, &text, None)?;
            let uses_temp = crate::catalog::search_path::temp_uses() > uses_before;
            let mut names: Vec<String> = plan.fields.iter().map(|f| f.name.clone()).collect();
            if columns.len() > names.len() {
                bail!(
                    sqlstate::SYNTAX_ERROR,
                    "CREATE VIEW specifies more column names than columns"
                );
            }
            for (i, c) in columns.iter().enumerate() {
                names[i] = fold(&c.name);
            }
            for (i, n) in names.iter().enumerate() {
                if names[..i].contains(n) {
                    bail!(
                        sqlstate::DUPLICATE_COLUMN,
                        "column \"{n}\" specified more than once"
                    );
                }
            }
            let view_schema = if *temporary || uses_temp {
                crate::catalog::resolve_temp_schema_for_create(engine, schema.as_deref())?
            } else {
                crate::catalog::resolve_schema_for_create(engine, schema.as_deref())?
            };
            DdlPlan::CreateView {
                or_replace: *or_replace,
                temp_notice: uses_temp && !*temporary,
                def: ViewDef {
                    oid: 0,
                    schema: view_schema,
                    name: vname,
                    owner: 0,
                    query: with_view_path(&text),
                    columns: names,
                },
            }
        }
        ast::Statement::Drop {
            object_type: ast::ObjectType::View,
            if_exists,
            names,
            ..
        } => DdlPlan::DropView {
            names: names.iter().map(split_name).collect::<Result<_>>()?,
            if_exists: *if_exists,
        },
        ast::Statement::CreateSchema {
            schema_name,
            if_not_exists,
            ..
        } => {
            let (n, owner) = match schema_name {
                ast::SchemaName::Simple(n) => (Some(n), None),
                ast::SchemaName::UnnamedAuthorization(a) => (None, Some(fold(a))),
                ast::SchemaName::NamedAuthorization(n, a) => (Some(n), Some(fold(a))),
            };
            let name = match n {
                Some(n) => {
                    let (None, name) = split_name(n)? else {
                        bail!(sqlstate::SYNTAX_ERROR, "syntax error at or near \".\"");
                    };
                    name
                }
                // `CREATE SCHEMA AUTHORIZATION r` names the schema after the role.
                None => owner.clone().unwrap_or_default(),
            };
            DdlPlan::CreateSchema {
                name,
                if_not_exists: *if_not_exists,
                owner,
            }
        }
        ast::Statement::Drop {
            object_type: ast::ObjectType::Schema,
            if_exists,
            names,
            cascade,
            ..
        } => DdlPlan::DropSchema {
            names: names
                .iter()
                .map(|n| split_name(n).map(|(_, x)| x))
                .collect::<Result<_>>()?,
            if_exists: *if_exists,
            cascade: *cascade,
        },
        ast::Statement::Comment {
            object_type: object_type @ (ast::CommentObject::Table | ast::CommentObject::Column),
            object_name,
            comment,
            if_exists: false,
        } => {
            let (name, column) = if *object_type == ast::CommentObject::Column {
                let mut parts = object_name.0.clone();
                if parts.len() < 2 {
                    bail!(sqlstate::SYNTAX_ERROR, "column name must be qualified");
                }
                let last = parts.pop().expect("two parts or more");
                let col = split_name(&ast::ObjectName(vec![last]))?.1;
                (split_name(&ast::ObjectName(parts))?, Some(col))
            } else {
                (split_name(object_name)?, None)
            };
            DdlPlan::Comment {
                name,
                column,
                text: comment.clone().filter(|t| !t.is_empty()),
            }
        }
        _ => return Ok(None),
    }))
}

/// What a relation name names, for COMMENT.
enum Commented {
    Table(Arc<TableDef>),
    View(ViewDef),
    Other,
}

/// Runs `COMMENT ON TABLE | COLUMN`: PostgreSQL's checks (a table for TABLE, a table
/// or view for COLUMN, the owner or a superuser) and one WAL-logged comment change.
fn run_comment(
    cx: &mut ExecCtx<'_>,
    name: &(Option<String>, String),
    column: Option<&str>,
    text: &Option<String>,
) -> Result<()> {
    let db = cx.db_oid;
    let (schema, rel) = name;
    let mut found = None;
    for s in search_schemas(cx.engine, schema.as_deref())? {
        found = cx.engine.with_catalog(|c| {
            if let Some(t) = c.table_by_name(db, s, rel) {
                Some(Commented::Table(t.clone()))
            } else if let Some(v) = c.ddl.view_by_name(db, s, rel) {
                Some(Commented::View(v.clone()))
            } else if c.relation_exists(db, s, rel) {
                Some(Commented::Other)
            } else {
                None
            }
        });
        if found.is_some() {
            break;
        }
    }
    let Some(found) = found else {
        bail!(
            sqlstate::UNDEFINED_TABLE,
            "relation \"{rel}\" does not exist"
        );
    };
    let (oid, owner, columns): (u32, u32, Vec<String>) = match (found, column) {
        (Commented::Table(t), _) => (
            t.oid,
            t.owner,
            t.columns.iter().map(|c| c.name.clone()).collect(),
        ),
        (Commented::View(v), Some(_)) => (v.oid, v.owner, v.columns.clone()),
        _ => bail!(sqlstate::WRONG_OBJECT_TYPE, "\"{rel}\" is not a table"),
    };
    let sub = match column {
        None => 0,
        Some(col) => match columns.iter().position(|c| c == col) {
            Some(i) => i as i32 + 1,
            None => bail!(
                sqlstate::UNDEFINED_COLUMN,
                "column \"{col}\" of relation \"{rel}\" does not exist"
            ),
        },
    };
    let me = super::privileges::current_role_oid(cx);
    let allowed = cx.engine.with_catalog(|c| acl::owns(c, db, me, owner));
    if !allowed {
        let kind = if column.is_some() {
            "relation"
        } else {
            "table"
        };
        bail!(
            sqlstate::INSUFFICIENT_PRIVILEGE,
            "must be owner of {kind} {rel}"
        );
    }
    cx.engine.catalog_change(
        cx.txn,
        CatalogChange::Ddl(DdlChange::Comment {
            db,
            oid,
            sub,
            text: text.clone(),
        }),
    )?;
    Ok(())
}

/// The comment a stored view query starts with: the schemas of `search_path` when
/// the view was created, so its names resolve as they did then (PostgreSQL binds a
/// view's names at creation).
pub(crate) const VIEW_PATH_TAG: &str = "/*tusk search_path:";

/// Prefixes a view's query text with the current path (see [`VIEW_PATH_TAG`]).
fn with_view_path(text: &str) -> String {
    let path: Vec<String> = crate::catalog::search_path::current()
        .iter()
        .map(|o| o.to_string())
        .collect();
    format!("{VIEW_PATH_TAG}{}*/ {text}", path.join(" "))
}

/// Plans a view's stored query in a binder of its own, under the path it was
/// created with (the current one for a view stored without it); with `owner`, the
/// tables it reads are checked with that role's privileges (PostgreSQL checks a view's
/// tables as its owner).
pub(super) fn plan_view_query(
    engine: &Engine,
    db: u32,
    text: &str,
    owner: Option<u32>,
) -> Result<SelectPlan> {
    let (path, text) = match text
        .strip_prefix(VIEW_PATH_TAG)
        .and_then(|r| r.split_once("*/ "))
    {
        Some((p, rest)) => (
            Some(
                p.split_whitespace()
                    .filter_map(|o| o.parse().ok())
                    .collect(),
            ),
            rest,
        ),
        None => (None, text),
    };
    let q = crate::sql::depth::parse_stored(text, |p| p.parse_query())
        .map_err(|e| err!(sqlstate::INTERNAL_ERROR, "invalid stored view query: {e}"))?;
    let saved = crate::catalog::search_path::current();
    if let Some(p) = path {
        crate::catalog::search_path::enter(p);
    }
    // The view's names were resolved with its owner's rights (PostgreSQL stores OIDs).
    let plan = crate::catalog::search_path::unchecked(|| {
        let mut b = Binder::new(engine, db, text, 0, vec![]);
        b.acl_role = owner;
        let plan = b.plan_query(&q)?;
        b.acl_finish()?;
        Ok(plan)
    });
    crate::catalog::search_path::enter(saved);
    plan
}

/// A view's output column: (name, type OID, modifier).
type ViewColumn = (String, u32, i32);

/// The database's views with their output columns — (name, type OID, modifier) —
/// each view's query planned for them (a view that no longer plans is left out).
fn views_with_columns(cx: &ExecCtx<'_>) -> Vec<(ViewDef, Vec<ViewColumn>)> {
    let db = cx.db_oid;
    let views: Vec<ViewDef> = cx.engine.with_catalog(|c| {
        c.ddl
            .views
            .range((db, 0)..=(db, u32::MAX))
            .map(|(_, v)| v.clone())
            .collect()
    });
    let mut out = Vec::new();
    for v in views {
        let Ok(plan) = plan_view_query(cx.engine, db, &v.query, None) else {
            continue;
        };
        let cols = v
            .columns
            .iter()
            .zip(plan.fields.iter())
            .map(|(n, f)| (n.clone(), f.type_oid, f.typmod))
            .collect();
        out.push((v, cols));
    }
    out
}

/// The `pg_attribute` rows of the database's views' columns.
pub(super) fn view_columns_for_pg_attribute(cx: &ExecCtx<'_>) -> Vec<Vec<crate::types::Value>> {
    let mut out = Vec::new();
    for (v, cols) in views_with_columns(cx) {
        out.extend(
            cx.engine
                .with_catalog(|c| crate::catalog::pg_catalog::view_attribute_rows(c, v.oid, &cols)),
        );
    }
    out
}

/// The `information_schema.columns` rows of the database's views: each view's query
/// planned for its output columns (a view that no longer plans has none).
pub(super) fn view_columns_for_information_schema(
    cx: &ExecCtx<'_>,
    role: u32,
) -> Vec<Vec<crate::types::Value>> {
    let db = cx.db_oid;
    let mut out = Vec::new();
    for (v, cols) in views_with_columns(cx) {
        out.extend(cx.engine.with_catalog(|c| {
            crate::catalog::information_schema::view_column_rows(c, db, role, &v, &cols)
        }));
    }
    out
}

/// Finds a view by possibly qualified name.
pub(crate) fn find_view(
    engine: &Engine,
    db: u32,
    schema: Option<&str>,
    name: &str,
) -> Result<Option<ViewDef>> {
    for s in search_schemas(engine, schema)? {
        if let Some(v) = engine.with_catalog(|c| c.ddl.view_by_name(db, s, name).cloned()) {
            crate::catalog::check_not_other_temp(engine, s)?;
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// A view in FROM: its query planned (as a subquery source) and its columns under
/// `alias`; `Ok(None)` when no view has this name.
pub fn view_source(
    b: &Binder<'_>,
    schema: Option<&str>,
    name: &str,
    alias: &str,
) -> Result<Option<(SelectPlan, Scope)>> {
    let (engine, db) = b.target();
    // A table of the same name in an earlier schema of the path wins.
    if crate::catalog::resolve_table(engine, db, schema, name)?.is_some() {
        return Ok(None);
    }
    let Some(v) = find_view(engine, db, schema, name)? else {
        return Ok(None);
    };
    thread_local! {
        /// The views being expanded on this thread, outermost first.
        static EXPANDING: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    // Views replaced to refer to each other would expand forever.
    if EXPANDING.with(|e| e.borrow().contains(&v.oid)) {
        bail!(
            sqlstate::INVALID_OBJECT_DEFINITION,
            "infinite recursion detected in rules for relation \"{name}\""
        );
    }
    // Views on views on views: as deep as a statement may nest (PostgreSQL's limit is
    // its stack too).
    if EXPANDING.with(|e| e.borrow().len() >= super::depth::MAX_DEPTH) {
        return Err(super::depth::stack_depth_exceeded());
    }
    EXPANDING.with(|e| e.borrow_mut().push(v.oid));
    // A permanent view never refers to a temporary object: its names resolve as if
    // the session had none (storage::temp). The tables under a view are checked with
    // its owner's privileges.
    let permanent = !crate::catalog::is_temp_schema(engine, v.schema);
    let owner = b.acl_role.map(|_| v.owner);
    let plan = crate::catalog::search_path::hiding_temp(permanent, || {
        plan_view_query(engine, db, &v.query, owner)
    });
    EXPANDING.with(|e| e.borrow_mut().pop());
    let plan = plan?;
    let scope = Scope {
        cols: plan
            .fields
            .iter()
            .zip(&v.columns)
            .map(|(f, n)| ScopeCol {
                table: Some(alias.to_string()),
                name: n.clone(),
                ty: DataType::from_oid(f.type_oid).unwrap_or(DataType::Text),
                typmod: f.typmod,
                table_oid: 0,
                attnum: 0,
                absorbed: false,
            })
            .collect(),
    };
    Ok(Some((plan, scope)))
}

// ---- ALTER SEQUENCE (sqlparser has no grammar for it) ------------------------------

/// A token of [`parse_front`]: a folded word or quoted identifier, a number, or a
/// punctuation character.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Num(String),
    Punct(char),
}

fn tokenize(text: &str) -> Option<Vec<Tok>> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '-' && c.get(i + 1) == Some(&'-') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let st = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_' || c[i] == '$') {
                i += 1;
            }
            out.push(Tok::Word(
                c[st..i].iter().collect::<String>().to_lowercase(),
            ));
        } else if ch.is_ascii_digit() {
            let st = i;
            while i < c.len() && c[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Tok::Num(c[st..i].iter().collect()));
        } else if ch == '\'' {
            i += 1;
            while i < c.len() && c[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push(Tok::Punct('\''));
        } else if ch == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match c.get(i) {
                    Some('"') if c.get(i + 1) == Some(&'"') => {
                        s.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(x) => {
                        s.push(*x);
                        i += 1;
                    }
                    None => return None,
                }
            }
            out.push(Tok::Quoted(s));
        } else {
            out.push(Tok::Punct(ch));
            i += 1;
        }
    }
    Some(out)
}

struct Toks {
    t: Vec<Tok>,
    i: usize,
}

impl Toks {
    fn word(&self) -> Option<&str> {
        match self.t.get(self.i) {
            Some(Tok::Word(w)) => Some(w),
            _ => None,
        }
    }
    fn eat(&mut self, w: &str) -> bool {
        if self.word() == Some(w) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn syntax(&self) -> Error {
        match self.t.get(self.i) {
            None => err!(sqlstate::SYNTAX_ERROR, "syntax error at end of input"),
            Some(Tok::Word(w)) | Some(Tok::Num(w)) => {
                err!(sqlstate::SYNTAX_ERROR, "syntax error at or near \"{w}\"")
            }
            Some(Tok::Quoted(w)) => {
                err!(
                    sqlstate::SYNTAX_ERROR,
                    "syntax error at or near \"\"{w}\"\""
                )
            }
            Some(Tok::Punct(p)) => err!(sqlstate::SYNTAX_ERROR, "syntax error at or near \"{p}\""),
        }
    }
    fn ident(&mut self) -> Result<String> {
        match self.t.get(self.i) {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => {
                let w = w.clone();
                self.i += 1;
                Ok(w)
            }
            _ => Err(self.syntax()),
        }
    }
    fn names(&mut self) -> Result<Vec<String>> {
        let mut v = vec![self.ident()?];
        while self.t.get(self.i) == Some(&Tok::Punct('.')) {
            self.i += 1;
            v.push(self.ident()?);
        }
        Ok(v)
    }
    fn num(&mut self) -> Result<i64> {
        let neg = match self.t.get(self.i) {
            Some(Tok::Punct('-')) => {
                self.i += 1;
                true
            }
            Some(Tok::Punct('+')) => {
                self.i += 1;
                false
            }
            _ => false,
        };
        match self.t.get(self.i) {
            Some(Tok::Num(n)) => {
                let n = n.clone();
                self.i += 1;
                let text = if neg { format!("-{n}") } else { n };
                text.parse::<i64>().map_err(|_| {
                    err!(
                        sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                        "value \"{text}\" is out of range for type bigint"
                    )
                })
            }
            _ => Err(self.syntax()),
        }
    }
    fn at_num(&self) -> bool {
        matches!(
            self.t.get(self.i),
            Some(Tok::Num(_)) | Some(Tok::Punct('-')) | Some(Tok::Punct('+'))
        )
    }
}

/// Parses `ALTER SEQUENCE`; `Ok(None)` for any other statement.
pub fn parse_front(text: &str) -> Result<Option<DdlPlan>> {
    let Some(t) = tokenize(text) else {
        return Ok(None);
    };
    let mut p = Toks { t, i: 0 };
    if !(p.eat("alter") && p.eat("sequence")) {
        return Ok(None);
    }
    let if_exists = if p.eat("if") {
        if !p.eat("exists") {
            return Err(p.syntax());
        }
        true
    } else {
        false
    };
    let parts = p.names()?;
    let name = match parts.len() {
        1 => (None, parts[0].clone()),
        2 => (Some(parts[0].clone()), parts[1].clone()),
        _ => return Err(p.syntax()),
    };
    let mut opts = SeqOpts::default();
    let mut owned_by = None;
    if p.word() == Some("owner") {
        // ALTER SEQUENCE … OWNER TO: sql::owner.
        return Ok(None);
    }
    if matches!(p.word(), Some("rename" | "set")) {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "ALTER SEQUENCE {} is not supported yet",
            p.word().unwrap_or_default().to_uppercase()
        );
    }
    while p.i < p.t.len() {
        if p.eat("as") {
            let ty = p.ident()?;
            let t = match ty.as_str() {
                "smallint" | "int2" => DataType::Int2,
                "integer" | "int" | "int4" => DataType::Int4,
                "bigint" | "int8" => DataType::Int8,
                _ => {
                    return Err(invalid(
                        "sequence type must be smallint, integer, or bigint".into(),
                    ))
                }
            };
            opts.type_oid = Some(t.oid());
        } else if p.eat("increment") {
            p.eat("by");
            opts.increment = Some(p.num()?);
        } else if p.eat("minvalue") {
            opts.min = Some(Some(p.num()?));
        } else if p.eat("maxvalue") {
            opts.max = Some(Some(p.num()?));
        } else if p.eat("no") {
            if p.eat("minvalue") {
                opts.min = Some(None);
            } else if p.eat("maxvalue") {
                opts.max = Some(None);
            } else if p.eat("cycle") {
                opts.cycle = Some(false);
            } else {
                return Err(p.syntax());
            }
        } else if p.eat("start") {
            p.eat("with");
            opts.start = Some(p.num()?);
        } else if p.eat("restart") {
            let with = p.eat("with");
            opts.restart = Some(if with || p.at_num() {
                Some(p.num()?)
            } else {
                None
            });
        } else if p.eat("cache") {
            opts.cache = Some(p.num()?);
        } else if p.eat("cycle") {
            opts.cycle = Some(true);
        } else if p.eat("owned") {
            if !p.eat("by") {
                return Err(p.syntax());
            }
            let parts = p.names()?;
            owned_by = Some(match parts.len() {
                1 if parts[0] == "none" => None,
                2 => Some(((None, parts[0].clone()), parts[1].clone())),
                3 => Some(((Some(parts[0].clone()), parts[1].clone()), parts[2].clone())),
                _ => {
                    return Err(
                        err!(sqlstate::INVALID_PARAMETER_VALUE, "invalid OWNED BY option")
                            .with_hint("Specify OWNED BY table.column or OWNED BY NONE."),
                    )
                }
            });
        } else {
            return Err(p.syntax());
        }
    }
    Ok(Some(DdlPlan::AlterSequence {
        if_exists,
        name,
        opts,
        owned_by,
    }))
}

// ---- execution ---------------------------------------------------------------------

fn notice(code: &'static str, msg: String) -> Error {
    let mut e = Error::new(code, msg);
    e.severity = crate::error::Severity::Notice;
    e
}

fn current_role_oid(cx: &ExecCtx<'_>) -> u32 {
    cx.current_role()
        .map(|r| r.oid)
        .unwrap_or(crate::storage::schema::BOOTSTRAP_SUPERUSER)
}

/// Resolves `OWNED BY table.column` for a sequence in `schema`.
fn resolve_owner(cx: &ExecCtx<'_>, seq_schema: u32, o: &OwnerName) -> Result<(u32, usize)> {
    let ((schema, tname), col) = o;
    let table = crate::catalog::resolve_table(cx.engine, cx.db_oid, schema.as_deref(), tname)?
        .ok_or_else(|| {
            err!(
                sqlstate::UNDEFINED_TABLE,
                "relation \"{tname}\" does not exist"
            )
        })?;
    if table.schema != seq_schema {
        bail!(
            sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
            "sequence must be in same schema as table it is linked to"
        );
    }
    let pos = table
        .columns
        .iter()
        .position(|c| &c.name == col)
        .ok_or_else(|| {
            err!(
                sqlstate::UNDEFINED_COLUMN,
                "column \"{col}\" of relation \"{tname}\" does not exist"
            )
        })?;
    Ok((table.oid, pos))
}

/// Runs a planned statement of this module.
pub fn execute(p: &DdlPlan, cx: &mut ExecCtx<'_>) -> Result<()> {
    let db = cx.db_oid;
    match p {
        DdlPlan::CreateTableAs(c) => super::ctas::execute(c, cx).map(|_| ()),
        DdlPlan::Comment { name, column, text } => run_comment(cx, name, column.as_deref(), text),
        DdlPlan::CreateSequence {
            if_not_exists,
            def,
            owned_by,
        } => {
            let exists = cx
                .engine
                .with_catalog(|c| c.relation_exists(db, def.schema, &def.name));
            if exists {
                if *if_not_exists {
                    cx.notices.push(notice(
                        sqlstate::DUPLICATE_TABLE,
                        format!("relation \"{}\" already exists, skipping", def.name),
                    ));
                    return Ok(());
                }
                bail!(
                    sqlstate::DUPLICATE_TABLE,
                    "relation \"{}\" already exists",
                    def.name
                );
            }
            let mut def = def.clone();
            if let Some(o) = owned_by {
                def.owned_by = Some(resolve_owner(cx, def.schema, o)?);
            }
            def.oid = cx.engine.new_oid();
            def.owner = current_role_oid(cx);
            cx.engine.catalog_change(
                cx.txn,
                CatalogChange::Ddl(DdlChange::SetSequence { db, def }),
            )
        }
        DdlPlan::CreateView {
            or_replace,
            temp_notice,
            def,
        } => {
            if *temp_notice {
                cx.notices.push(notice(
                    sqlstate::SUCCESSFUL_COMPLETION,
                    format!("view \"{}\" will be a temporary view", def.name),
                ));
            }
            let old = cx
                .engine
                .with_catalog(|c| c.ddl.view_by_name(db, def.schema, &def.name).cloned());
            let mut def = def.clone();
            match old {
                Some(old) if *or_replace => {
                    super::owner::check(cx, old.owner, "view", &old.name)?;
                    if def.columns.len() < old.columns.len() {
                        bail!(
                            sqlstate::INVALID_TABLE_DEFINITION,
                            "cannot drop columns from view"
                        );
                    }
                    for (o, n) in old.columns.iter().zip(&def.columns) {
                        if o != n {
                            bail!(
                                sqlstate::INVALID_TABLE_DEFINITION,
                                "cannot change name of view column \"{o}\" to \"{n}\""
                            );
                        }
                    }
                    def.oid = old.oid;
                    def.owner = old.owner;
                }
                _ => {
                    let exists = cx
                        .engine
                        .with_catalog(|c| c.relation_exists(db, def.schema, &def.name));
                    if exists {
                        bail!(
                            sqlstate::DUPLICATE_TABLE,
                            "relation \"{}\" already exists",
                            def.name
                        );
                    }
                    def.oid = cx.engine.new_oid();
                    def.owner = current_role_oid(cx);
                }
            }
            let query = def.query.clone();
            cx.engine
                .catalog_change(cx.txn, CatalogChange::Ddl(DdlChange::SetView { db, def }))?;
            // A replaced view may now expand into itself: plan it once more.
            plan_view_query(cx.engine, db, &query, None).map(|_| ())
        }
        DdlPlan::CreateSchema {
            name,
            if_not_exists,
            owner,
        } => {
            // PostgreSQL's order: CREATE on the database, membership in the owner, the
            // reserved prefix, then existence.
            let me = super::privileges::current_role_oid(cx);
            super::privileges::check_database(cx.engine, db, me, acl::ACL_CREATE)?;
            let owner = match owner {
                None => current_role_oid(cx),
                Some(r) => {
                    let info = super::acl::lookup_role(cx, r)?;
                    let member = cx
                        .engine
                        .with_catalog(|c| acl::is_superuser(c, me) || c.is_member_of(me, info.oid));
                    if !member {
                        bail!(
                            sqlstate::INSUFFICIENT_PRIVILEGE,
                            "must be member of role \"{r}\""
                        );
                    }
                    info.oid
                }
            };
            if name.starts_with("pg_") {
                return Err(err!(
                    sqlstate::RESERVED_NAME,
                    "unacceptable schema name \"{name}\""
                )
                .with_detail("The prefix \"pg_\" is reserved for system schemas."));
            }
            if schema_oid(cx.engine, name).is_ok() {
                if *if_not_exists {
                    cx.notices.push(notice(
                        sqlstate::DUPLICATE_SCHEMA,
                        format!("schema \"{name}\" already exists, skipping"),
                    ));
                    return Ok(());
                }
                bail!(
                    sqlstate::DUPLICATE_SCHEMA,
                    "schema \"{name}\" already exists"
                );
            }
            let oid = cx.engine.new_oid();
            cx.engine.catalog_change(
                cx.txn,
                CatalogChange::Ddl(DdlChange::CreateSchema {
                    oid,
                    name: name.clone(),
                    owner,
                }),
            )
        }
        DdlPlan::DropSchema {
            names,
            if_exists,
            cascade,
        } => {
            let mut found = Vec::new();
            for name in names {
                match schema_oid(cx.engine, name) {
                    Ok(oid) => found.push((oid, name.clone())),
                    Err(_) if *if_exists => cx.notices.push(notice(
                        sqlstate::SUCCESSFUL_COMPLETION,
                        format!("schema \"{name}\" does not exist, skipping"),
                    )),
                    Err(e) => return Err(e),
                }
            }
            for (oid, name) in found {
                let owner = cx
                    .engine
                    .with_catalog(|c| c.schemas.get(&oid).map_or(0, |s| s.1));
                super::owner::check(cx, owner, "schema", &name)?;
                if oid == PG_CATALOG_NAMESPACE {
                    bail!(
                        sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
                        "cannot drop schema {name} because it is required by the database system"
                    );
                }
                // A session's temporary namespace goes with the session (storage::temp).
                if crate::catalog::is_temp_schema(cx.engine, oid) {
                    bail!(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "DROP SCHEMA of a temporary schema is not supported yet"
                    );
                }
                // Everything in the schema, in every database (as PostgreSQL's
                // schemas are per database, tusk's are shared: refuse what another
                // database holds).
                let (tables, seqs, views, elsewhere) = cx.engine.with_catalog(|c| {
                    let tables: Vec<Arc<TableDef>> = c
                        .tables
                        .iter()
                        .filter(|((d, _), t)| *d == db && t.schema == oid)
                        .map(|(_, t)| t.clone())
                        .collect();
                    let seqs: Vec<SequenceDef> = c
                        .ddl
                        .sequences
                        .iter()
                        .filter(|((d, _), s)| *d == db && s.schema == oid)
                        .map(|(_, s)| s.clone())
                        .collect();
                    let views: Vec<ViewDef> = c
                        .ddl
                        .views
                        .iter()
                        .filter(|((d, _), v)| *d == db && v.schema == oid)
                        .map(|(_, v)| v.clone())
                        .collect();
                    let elsewhere = c
                        .tables
                        .iter()
                        .any(|((d, _), t)| *d != db && t.schema == oid)
                        || c.ddl
                            .sequences
                            .iter()
                            .any(|((d, _), s)| *d != db && s.schema == oid)
                        || c.ddl
                            .views
                            .iter()
                            .any(|((d, _), v)| *d != db && v.schema == oid);
                    (tables, seqs, views, elsewhere)
                });
                if elsewhere {
                    bail!(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "dropping schema \"{name}\" while another database has objects in it is not supported yet"
                    );
                }
                let mut deps: Vec<String> = Vec::new();
                deps.extend(tables.iter().map(|t| format!("table {name}.{}", t.name)));
                deps.extend(
                    seqs.iter()
                        .filter(|s| s.owned_by.is_none())
                        .map(|s| format!("sequence {name}.{}", s.name)),
                );
                deps.extend(views.iter().map(|v| format!("view {name}.{}", v.name)));
                if !deps.is_empty() && !cascade {
                    let detail: Vec<String> = deps
                        .iter()
                        .map(|d| format!("{d} depends on schema {name}"))
                        .collect();
                    return Err(err!(
                        sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
                        "cannot drop schema {name} because other objects depend on it"
                    )
                    .with_detail(detail.join("\n"))
                    .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
                }
                for v in views {
                    forget_comments(cx, v.oid)?;
                    cx.engine.catalog_change(
                        cx.txn,
                        CatalogChange::Ddl(DdlChange::DropView { db, oid: v.oid }),
                    )?;
                }
                for t in tables {
                    on_drop_table(cx, &t)?;
                    cx.engine
                        .catalog_change(cx.txn, CatalogChange::DropTable { db, oid: t.oid })?;
                }
                for s in seqs.iter().filter(|s| s.owned_by.is_none()) {
                    cx.engine.catalog_change(
                        cx.txn,
                        CatalogChange::Ddl(DdlChange::DropSequence { db, oid: s.oid }),
                    )?;
                }
                cx.engine
                    .catalog_change(cx.txn, CatalogChange::Ddl(DdlChange::DropSchema { oid }))?;
            }
            Ok(())
        }
        DdlPlan::DropView { names, if_exists } => {
            let mut found = Vec::new();
            for (schema, name) in names {
                match find_view(cx.engine, db, schema.as_deref(), name)? {
                    Some(v) => found.push(v),
                    None if *if_exists => cx.notices.push(notice(
                        sqlstate::SUCCESSFUL_COMPLETION,
                        format!("view \"{name}\" does not exist, skipping"),
                    )),
                    None => bail!(sqlstate::UNDEFINED_TABLE, "view \"{name}\" does not exist"),
                }
            }
            for v in &found {
                super::owner::check(cx, v.owner, "view", &v.name)?;
            }
            for v in found {
                forget_comments(cx, v.oid)?;
                cx.engine.catalog_change(
                    cx.txn,
                    CatalogChange::Ddl(DdlChange::DropView { db, oid: v.oid }),
                )?;
            }
            Ok(())
        }
        DdlPlan::AlterSequence {
            if_exists,
            name,
            opts,
            owned_by,
        } => {
            let (schema, sname) = name;
            let s = match find_relation(cx.engine, db, schema.as_deref(), sname)? {
                Some(Rel::Sequence(s)) => s,
                Some(Rel::Other) => {
                    bail!(sqlstate::WRONG_OBJECT_TYPE, "\"{sname}\" is not a sequence")
                }
                None if *if_exists => {
                    cx.notices.push(notice(
                        sqlstate::SUCCESSFUL_COMPLETION,
                        format!("relation \"{sname}\" does not exist, skipping"),
                    ));
                    return Ok(());
                }
                None => bail!(
                    sqlstate::UNDEFINED_TABLE,
                    "relation \"{sname}\" does not exist"
                ),
            };
            super::owner::check(cx, s.owner, "sequence", &s.name)?;
            let mut def = apply_opts(&s, opts, false)?;
            match owned_by {
                Some(Some(o)) => def.owned_by = Some(resolve_owner(cx, def.schema, o)?),
                Some(None) => def.owned_by = None,
                None => {}
            }
            if def != s {
                cx.engine.catalog_change(
                    cx.txn,
                    CatalogChange::Ddl(DdlChange::SetSequence {
                        db,
                        def: def.clone(),
                    }),
                )?;
            }
            if let Some(r) = opts.restart {
                cx.engine
                    .sequence_set(db, def.oid, r.unwrap_or(def.start), false)?;
            }
            Ok(())
        }
        DdlPlan::DropSequence {
            names,
            if_exists,
            cascade,
        } => {
            let mut found = Vec::new();
            for (schema, name) in names {
                match find_relation(cx.engine, db, schema.as_deref(), name)? {
                    Some(Rel::Sequence(s)) => found.push(s),
                    Some(Rel::Other) => {
                        return Err(err!(
                            sqlstate::WRONG_OBJECT_TYPE,
                            "\"{name}\" is not a sequence"
                        )
                        .with_hint("Use DROP TABLE to remove a table."))
                    }
                    None if *if_exists => cx.notices.push(notice(
                        sqlstate::SUCCESSFUL_COMPLETION,
                        format!("sequence \"{name}\" does not exist, skipping"),
                    )),
                    None => bail!(
                        sqlstate::UNDEFINED_TABLE,
                        "sequence \"{name}\" does not exist"
                    ),
                }
            }
            for s in &found {
                super::owner::check(cx, s.owner, "sequence", &s.name)?;
            }
            for s in found {
                if let Some(dep) = dependent_column(cx.engine, db, &s) {
                    if s.identity != 0 {
                        return Err(err!(
                            sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
                            "cannot drop sequence {} because column {} of table {} requires it",
                            s.name,
                            dep.1,
                            dep.0
                        )
                        .with_hint(format!(
                            "You can drop column {} of table {} instead.",
                            dep.1, dep.0
                        )));
                    }
                    if !cascade {
                        return Err(err!(
                            sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
                            "cannot drop sequence {} because other objects depend on it",
                            s.name
                        )
                        .with_detail(format!(
                            "default value for column {} of table {} depends on sequence {}",
                            dep.1, dep.0, s.name
                        ))
                        .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
                    }
                    bail!(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "DROP SEQUENCE ... CASCADE of a sequence a column default uses is not supported yet"
                    );
                }
                cx.engine.catalog_change(
                    cx.txn,
                    CatalogChange::Ddl(DdlChange::DropSequence { db, oid: s.oid }),
                )?;
            }
            Ok(())
        }
    }
}

/// Runs a planned statement; returns the row count its tag reports.
pub fn execute_counted(p: &DdlPlan, cx: &mut ExecCtx<'_>) -> Result<u64> {
    match p {
        DdlPlan::CreateTableAs(c) => super::ctas::execute(c, cx),
        _ => execute(p, cx).map(|_| 0),
    }
}

/// The DEFAULT of a serial or identity column: `nextval('schema.seq')`, always
/// schema-qualified, so `search_path` cannot make it name another sequence.
fn serial_default(engine: &Engine, s: &SequenceDef) -> String {
    format!(
        "nextval('{}')",
        format!(
            "{}.{}",
            quote_ident(&schema_name(engine, s.schema)),
            quote_ident(&s.name)
        )
        .replace('\'', "''")
    )
}

/// The DEFAULT text older versions stored: unqualified in `public`.
fn legacy_serial_default(engine: &Engine, s: &SequenceDef) -> String {
    let name = if s.schema == PUBLIC_NAMESPACE {
        quote_ident(&s.name)
    } else {
        format!(
            "{}.{}",
            quote_ident(&schema_name(engine, s.schema)),
            quote_ident(&s.name)
        )
    };
    format!("nextval('{}')", name.replace('\'', "''"))
}

/// The (table, column) whose default or identity uses the sequence, if any.
fn dependent_column(engine: &Engine, db: u32, s: &SequenceDef) -> Option<(String, String)> {
    let needle = serial_default(engine, s);
    let legacy = legacy_serial_default(engine, s);
    engine.with_catalog(|c| {
        c.tables
            .range((db, 0)..=(db, u32::MAX))
            .map(|(_, t)| t)
            .find_map(|t| {
                t.columns
                    .iter()
                    .find(|col| {
                        col.default
                            .as_deref()
                            .is_some_and(|d| d.contains(&needle) || d.contains(&legacy))
                    })
                    .map(|col| (t.name.clone(), col.name.clone()))
            })
    })
}

/// Removes the comments of a dropped relation and its columns (PostgreSQL deletes
/// their `pg_description` rows with the object).
pub(crate) fn forget_comments(cx: &mut ExecCtx<'_>, oid: u32) -> Result<()> {
    let db = cx.db_oid;
    let subs: Vec<i32> = cx.engine.with_catalog(|c| {
        c.ddl
            .comments
            .range((db, oid, i32::MIN)..=(db, oid, i32::MAX))
            .map(|((_, _, sub), _)| *sub)
            .collect()
    });
    for sub in subs {
        cx.engine.catalog_change(
            cx.txn,
            CatalogChange::Ddl(DdlChange::Comment {
                db,
                oid,
                sub,
                text: None,
            }),
        )?;
    }
    Ok(())
}

/// DROP TABLE's companion: drops the sequences the table's columns own and its CHECK
/// constraints and comments, in the same transaction.
pub fn on_drop_table(cx: &mut ExecCtx<'_>, table: &TableDef) -> Result<()> {
    let db = cx.db_oid;
    let (owned, has_checks) = cx.engine.with_catalog(|c| {
        let owned: Vec<u32> = c
            .ddl
            .sequences
            .range((db, 0)..=(db, u32::MAX))
            .filter(|(_, s)| s.owned_by.is_some_and(|(t, _)| t == table.oid))
            .map(|(_, s)| s.oid)
            .collect();
        (owned, c.ddl.checks.contains_key(&(db, table.oid)))
    });
    forget_comments(cx, table.oid)?;
    super::fkeys::forget_table(cx, table.oid)?;
    for oid in owned {
        cx.engine.catalog_change(
            cx.txn,
            CatalogChange::Ddl(DdlChange::DropSequence { db, oid }),
        )?;
    }
    if has_checks {
        cx.engine.catalog_change(
            cx.txn,
            CatalogChange::Ddl(DdlChange::SetChecks {
                db,
                table: table.oid,
                checks: vec![],
            }),
        )?;
    }
    Ok(())
}

// ---- CREATE TABLE: serial, identity, CHECK ----------------------------------------

/// What CREATE TABLE declares beyond columns and keys.
#[derive(Debug, Clone, Default)]
pub struct TableExtras {
    /// Columns needing an owned sequence: (column position, options, identity kind).
    pub sequences: Vec<(usize, SeqOpts, u8)>,
    /// CHECK constraints: (name as written, expression text, the column it was
    /// declared on).
    pub checks: Vec<(Option<String>, String, Option<String>)>,
    /// FOREIGN KEY constraints (see `sql::fkeys`).
    pub fkeys: Vec<super::fkeys::FkSpec>,
}

/// The integer type of `serial`, `bigserial`, `smallserial` (and their aliases).
pub fn serial_type(t: &ast::DataType) -> Option<DataType> {
    let name = match t {
        ast::DataType::Custom(n, mods) if mods.is_empty() => n.to_string().to_lowercase(),
        _ => return None,
    };
    match name.as_str() {
        "serial" | "serial4" => Some(DataType::Int4),
        "bigserial" | "serial8" => Some(DataType::Int8),
        "smallserial" | "serial2" => Some(DataType::Int2),
        _ => None,
    }
}

impl TableExtras {
    /// Records a serial column at `pos`.
    pub fn serial(&mut self, pos: usize, ty: DataType) {
        self.sequences.push((
            pos,
            SeqOpts {
                type_oid: Some(ty.oid()),
                ..Default::default()
            },
            0,
        ));
    }

    /// Takes a column option this module handles (identity, CHECK); returns false for
    /// others.
    pub fn column_option(
        &mut self,
        pos: usize,
        col: &str,
        ty: DataType,
        o: &ast::ColumnOptionDef,
    ) -> Result<bool> {
        match &o.option {
            ast::ColumnOption::Generated {
                generated_as,
                sequence_options,
                generation_expr,
                ..
            } => {
                if generation_expr.is_some() || *generated_as == ast::GeneratedAs::ExpStored {
                    bail!(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "generated columns are not supported yet"
                    );
                }
                if !matches!(ty, DataType::Int2 | DataType::Int4 | DataType::Int8) {
                    bail!(
                        sqlstate::INVALID_PARAMETER_VALUE,
                        "identity column type must be smallint, integer, or bigint"
                    );
                }
                if self.sequences.iter().any(|(p, _, _)| *p == pos) {
                    bail!(
                        sqlstate::SYNTAX_ERROR,
                        "multiple identity specifications for column \"{col}\" of table"
                    );
                }
                let mut opts = seq_opts(sequence_options.as_deref().unwrap_or(&[]), None)?;
                opts.type_oid = Some(ty.oid());
                let kind = if *generated_as == ast::GeneratedAs::Always {
                    b'a'
                } else {
                    b'd'
                };
                self.sequences.push((pos, opts, kind));
                Ok(true)
            }
            ast::ColumnOption::ForeignKey { .. } => {
                if let Some(f) = super::fkeys::from_column_option(col, o)? {
                    self.fkeys.push(f);
                }
                Ok(true)
            }
            ast::ColumnOption::Check(e) => {
                self.checks.push((
                    o.name.as_ref().map(fold),
                    e.to_string(),
                    Some(col.to_string()),
                ));
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Takes a table constraint this module handles (CHECK, FOREIGN KEY); returns
    /// false for others.
    pub fn table_constraint(&mut self, tc: &ast::TableConstraint) -> Result<bool> {
        if let Some(f) = super::fkeys::from_table_constraint(tc)? {
            self.fkeys.push(f);
            return Ok(true);
        }
        match tc {
            ast::TableConstraint::Check { name, expr, .. } => {
                self.checks
                    .push((name.as_ref().map(fold), expr.to_string(), None));
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// The identity kind of a table's column (0, b'a' or b'd').
pub fn identity_of(engine: &Engine, db: u32, table: u32, pos: usize) -> u8 {
    engine.with_catalog(|c| {
        c.ddl
            .sequences
            .range((db, 0)..=(db, u32::MAX))
            .find(|(_, s)| s.owned_by == Some((table, pos)) && s.identity != 0)
            .map_or(0, |(_, s)| s.identity)
    })
}

/// INSERT (`insert`) or UPDATE: refuses an explicit value for a stored generated column
/// (428C9; OVERRIDING SYSTEM VALUE does not lift it).
pub fn check_generated_write(def: &TableDef, pos: usize, insert: bool) -> Result<()> {
    let c = &def.columns[pos];
    if c.generated.is_none() || c.dropped {
        return Ok(());
    }
    let msg = if insert {
        format!(
            "cannot insert a non-DEFAULT value into column \"{}\"",
            c.name
        )
    } else {
        format!("column \"{}\" can only be updated to DEFAULT", c.name)
    };
    Err(Error::new(sqlstate::GENERATED_ALWAYS, msg)
        .with_detail(format!("Column \"{}\" is a generated column.", c.name)))
}

/// INSERT: refuses an explicit value for a GENERATED ALWAYS identity column (428C9).
pub fn check_identity_insert(engine: &Engine, db: u32, def: &TableDef, pos: usize) -> Result<()> {
    if identity_of(engine, db, def.oid, pos) == b'a' {
        let col = &def.columns[pos].name;
        return Err(err!(
            sqlstate::GENERATED_ALWAYS,
            "cannot insert a non-DEFAULT value into column \"{col}\""
        )
        .with_detail(format!(
            "Column \"{col}\" is an identity column defined as GENERATED ALWAYS."
        ))
        .with_hint("Use OVERRIDING SYSTEM VALUE to override."));
    }
    Ok(())
}

/// UPDATE: refuses setting a GENERATED ALWAYS identity column to a value (428C9).
pub fn check_identity_update(engine: &Engine, db: u32, def: &TableDef, pos: usize) -> Result<()> {
    if identity_of(engine, db, def.oid, pos) == b'a' {
        let col = &def.columns[pos].name;
        return Err(err!(
            sqlstate::GENERATED_ALWAYS,
            "column \"{col}\" can only be updated to DEFAULT"
        )
        .with_detail(format!(
            "Column \"{col}\" is an identity column defined as GENERATED ALWAYS."
        )));
    }
    Ok(())
}

/// Picks a relation name not taken in the schema, as PostgreSQL's `ChooseRelationName`
/// (`t_a_seq`, `t_a_seq1`, …).
fn choose_name(engine: &Engine, db: u32, schema: u32, base: &str, taken: &[String]) -> String {
    let mut n = 0;
    loop {
        let cand = if n == 0 {
            base.to_string()
        } else {
            format!("{base}{n}")
        };
        let used =
            taken.contains(&cand) || engine.with_catalog(|c| c.relation_exists(db, schema, &cand));
        if !used {
            return cand;
        }
        n += 1;
    }
}

/// CREATE TABLE's companion, run after the table's OID is chosen and before it is
/// created: creates the owned sequences of serial and identity columns (setting their
/// defaults and NOT NULL) and the CHECK constraints.
pub fn create_table_extras(
    x: &TableExtras,
    def: &mut TableDef,
    cx: &mut ExecCtx<'_>,
) -> Result<()> {
    let db = cx.db_oid;
    let mut taken = vec![def.name.clone()];
    for (pos, opts, kind) in &x.sequences {
        let col = def.columns[*pos].name.clone();
        if def.columns[*pos].default.is_some() {
            bail!(
                sqlstate::SYNTAX_ERROR,
                "both default and identity specified for column \"{col}\" of table \"{}\"",
                def.name
            );
        }
        let mut s = apply_opts(&fresh_sequence(DataType::Int8.oid()), opts, true)?;
        s.name = choose_name(
            cx.engine,
            db,
            def.schema,
            &format!("{}_{}_seq", def.name, col),
            &taken,
        );
        taken.push(s.name.clone());
        s.schema = def.schema;
        s.oid = cx.engine.new_oid();
        s.owner = def.owner;
        s.owned_by = Some((def.oid, *pos));
        s.identity = *kind;
        def.columns[*pos].not_null = true;
        def.columns[*pos].default = Some(serial_default(cx.engine, &s));
        cx.engine.catalog_change(
            cx.txn,
            CatalogChange::Ddl(DdlChange::SetSequence { db, def: s }),
        )?;
    }
    let mut checks: Vec<CheckDef> = Vec::new();
    for (name, text, _col) in &x.checks {
        // Bind it now: unknown columns and non-boolean results fail CREATE TABLE.
        let refs = bind_check(cx.engine, db, def, text)?.1;
        let name = match name {
            Some(n) => {
                if checks.iter().any(|c| &c.name == n) {
                    bail!(
                        sqlstate::DUPLICATE_OBJECT,
                        "check constraint \"{n}\" already exists"
                    );
                }
                n.clone()
            }
            None => {
                // PostgreSQL names it after the column when exactly one is used.
                let base = match refs.as_slice() {
                    [c] => format!("{}_{c}_check", def.name),
                    _ => format!("{}_check", def.name),
                };
                let mut n = 0;
                loop {
                    let cand = if n == 0 {
                        base.clone()
                    } else {
                        format!("{base}{n}")
                    };
                    if !checks.iter().any(|c| c.name == cand) {
                        break cand;
                    }
                    n += 1;
                }
            }
        };
        checks.push(CheckDef {
            name,
            expr: text.clone(),
        });
    }
    let names: Vec<String> = checks.iter().map(|c| c.name.clone()).collect();
    if !checks.is_empty() {
        cx.engine.catalog_change(
            cx.txn,
            CatalogChange::Ddl(DdlChange::SetChecks {
                db,
                table: def.oid,
                checks,
            }),
        )?;
    }
    super::fkeys::create_table(&x.fkeys, def, &names, cx)
}

/// Binds a CHECK expression over the table's columns; returns it with the names of
/// the columns it references, in order of appearance.
pub(super) fn bind_check(
    engine: &Engine,
    db: u32,
    def: &TableDef,
    text: &str,
) -> Result<(Expr, Vec<String>)> {
    let e = crate::sql::depth::parse_stored(text, |p| p.parse_expr())
        .map_err(|e| err!(sqlstate::INTERNAL_ERROR, "invalid stored constraint: {e}"))?;
    let mut refs = Vec::new();
    for t in tokenize(text).unwrap_or_default() {
        if let Tok::Word(n) | Tok::Quoted(n) = t {
            if def.columns.iter().any(|c| c.name == n) && !refs.contains(&n) {
                refs.push(n);
            }
        }
    }
    let mut b = Binder::new(engine, db, text, 0, vec![]);
    let bound = b.bind(&e, &Scope::of_table(def, &def.name))?;
    let ty = bound.ty();
    if ty != DataType::Bool && ty != DataType::Unknown {
        bail!(
            sqlstate::DATATYPE_MISMATCH,
            "argument of CHECK must be type boolean, not type {}",
            ty.name()
        );
    }
    let bound = b.coerce(
        bound,
        DataType::Bool,
        -1,
        Coercion::Assignment,
        sqlparser::tokenizer::Span::empty(),
    )?;
    Ok((bound, refs))
}

/// Makes a row ready to be written to `def`: its generated columns computed, then
/// NOT NULL (23502) and the CHECK constraints (23514) tested, in PostgreSQL's order.
pub fn prepare_row(
    cx: &mut ExecCtx<'_>,
    db: u32,
    def: &TableDef,
    row: &mut Vec<Value>,
) -> Result<()> {
    let checks = row_checks(cx, db, def)?;
    prepare_row_with(cx, db, def, &checks, row)
}

/// [`prepare_row`] with the table's CHECK constraints bound beforehand
/// ([`row_checks`]): what a COPY does for each row of a batch, binding them once.
pub fn prepare_row_with(
    cx: &mut ExecCtx<'_>,
    db: u32,
    def: &TableDef,
    checks: &BoundChecks,
    row: &mut Vec<Value>,
) -> Result<()> {
    super::generated::fill(cx, db, def, row)?;
    super::exec::check_not_null(def, row)?;
    check_row_with(cx, def, checks, row)
}

/// The CHECK constraints of `def`, bound once per catalog version (cached per
/// session): many rows can be tested against them with [`check_row_with`].
pub fn row_checks(cx: &mut ExecCtx<'_>, db: u32, def: &TableDef) -> Result<BoundChecks> {
    let version = cx.engine.catalog_version();
    let key = (db, def.oid);
    if let Some((v, c)) = cx.ddl.checks.get(&key) {
        if *v == version {
            return Ok(c.clone());
        }
    }
    let mut stored = cx
        .engine
        .with_catalog(|c| c.ddl.checks.get(&key).cloned())
        .unwrap_or_default();
    // PostgreSQL checks them in name order.
    stored.sort_by(|a, b| a.name.cmp(&b.name));
    let mut bound = Vec::new();
    for c in stored {
        bound.push((c.name.clone(), bind_check(cx.engine, db, def, &c.expr)?.0));
    }
    let bound = Arc::new(bound);
    cx.ddl.checks.insert(key, (version, bound.clone()));
    Ok(bound)
}

/// Checks a new row of `def` against its CHECK constraints (23514 on a violation).
pub fn check_row(cx: &mut ExecCtx<'_>, db: u32, def: &TableDef, row: &[Value]) -> Result<()> {
    let checks = row_checks(cx, db, def)?;
    check_row_with(cx, def, &checks, row)
}

/// [`check_row`] against constraints bound by [`row_checks`].
pub fn check_row_with(
    cx: &mut ExecCtx<'_>,
    def: &TableDef,
    checks: &BoundChecks,
    row: &[Value],
) -> Result<()> {
    for (name, e) in checks.iter() {
        if let Value::Bool(false) = eval(e, row, cx)? {
            let shown: Vec<String> = row
                .iter()
                .zip(&def.columns)
                .filter(|(_, c)| !c.dropped)
                .map(|(v, _)| {
                    if v.is_null() {
                        "null".to_string()
                    } else {
                        format_text(v, &FormatOptions::default())
                    }
                })
                .collect();
            return Err(err!(
                sqlstate::CHECK_VIOLATION,
                "new row for relation \"{}\" violates check constraint \"{name}\"",
                def.name
            )
            .with_detail(format!("Failing row contains ({}).", shown.join(", ")))
            .with_table(def.name.clone())
            .with_constraint(name.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "ddl_tests.rs"]
mod tests;

/// `ALTER COLUMN … ADD GENERATED … AS IDENTITY`'s sequence: created as CREATE TABLE
/// creates an identity column's (owned by the column, the column's type, NOT NULL and
/// the `nextval` default set on `def`), named `name` (schema, name) when given — 42P07
/// if a relation has that name — else `table_column_seq`.
pub(crate) fn add_identity_sequence(
    def: &mut TableDef,
    pos: usize,
    opts: &SeqOpts,
    kind: u8,
    name: Option<(u32, String)>,
    cx: &mut ExecCtx<'_>,
) -> Result<()> {
    let db = cx.db_oid;
    let mut s = apply_opts(&fresh_sequence(DataType::Int8.oid()), opts, true)?;
    let col = def.columns[pos].name.clone();
    match name {
        Some((schema, n)) => {
            if cx
                .engine
                .with_catalog(|c| c.relation_exists(db, schema, &n))
            {
                bail!(sqlstate::DUPLICATE_TABLE, "relation \"{n}\" already exists");
            }
            s.schema = schema;
            s.name = n;
        }
        None => {
            s.schema = def.schema;
            s.name = choose_name(
                cx.engine,
                db,
                def.schema,
                &format!("{}_{}_seq", def.name, col),
                &[],
            );
        }
    }
    s.oid = cx.engine.new_oid();
    s.owner = def.owner;
    s.owned_by = Some((def.oid, pos));
    s.identity = kind;
    def.columns[pos].not_null = true;
    def.columns[pos].default = Some(serial_default(cx.engine, &s));
    cx.engine.catalog_change(
        cx.txn,
        CatalogChange::Ddl(DdlChange::SetSequence { db, def: s }),
    )
}
