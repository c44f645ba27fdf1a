//! Bound expressions and their evaluation: typed trees produced by the binder from
//! sqlparser's AST, evaluated against one row with PostgreSQL's semantics (three-valued
//! logic, integer overflow and division-by-zero errors, numeric scale rules).

use super::plan::SelectPlan;
use super::ExecCtx;
use crate::error::{sqlstate, Result};
use crate::types::{self, cast, compare, numeric_div, DataType, Value};
use crate::{bail, err};
use bigdecimal::{BigDecimal, Zero};
use std::cmp::Ordering;

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `||`
    Concat,
    /// `=`
    Eq,
    /// `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Concat => "||",
            BinOp::Eq => "=",
            BinOp::NotEq => "<>",
            BinOp::Lt => "<",
            BinOp::LtEq => "<=",
            BinOp::Gt => ">",
            BinOp::GtEq => ">=",
        }
    }

    /// Whether the operator is a comparison (result boolean).
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq
        )
    }
}

/// A built-in scalar function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `version()`
    Version,
    /// `current_user`, `user`, `current_role`
    CurrentUser,
    /// `session_user`
    SessionUser,
    /// `current_database()`, `current_catalog`
    CurrentDatabase,
    /// `current_schema`, `current_schema()`
    CurrentSchema,
    /// `pg_backend_pid()`
    BackendPid,
    /// `pg_is_in_recovery()`
    IsInRecovery,
    /// `pg_current_wal_insert_lsn()`: the end of the last appended record.
    CurrentWalLsn,
    /// `pg_current_wal_lsn()`: how far the WAL was written to the OS.
    CurrentWalWriteLsn,
    /// `pg_current_wal_flush_lsn()`: how far the WAL is durable.
    CurrentWalFlushLsn,
    /// `now()`, `current_timestamp`, `transaction_timestamp()`
    Now,
    /// `statement_timestamp()`
    StatementTimestamp,
    /// `clock_timestamp()`
    ClockTimestamp,
    /// `current_date`
    CurrentDate,
    /// `txid_current()`
    TxidCurrent,
    /// Column `n` of `pg_control_checkpoint()` (see `functions::CONTROL_CHECKPOINT`).
    PgControlCheckpoint(u8),
    /// Column `n` of `pg_control_system()` (see `functions::CONTROL_SYSTEM`).
    PgControlSystem(u8),
    /// `pg_stat_get_dead_tuples(oid)`: dead row versions of a table not yet reclaimed.
    StatDeadTuples,
    /// `pg_postmaster_start_time()`
    PostmasterStartTime,
    /// `pg_sleep(seconds)`
    Sleep,
    /// `pg_advisory_unlock_all()`: releases the session's advisory locks. tusk has no
    /// function that takes one, so a session never holds any and there is nothing to
    /// release; connection pools call it when a connection is handed back (asyncpg).
    AdvisoryUnlockAll,
    /// `current_setting(name [, missing_ok])`
    CurrentSetting,
    /// `set_config(name, value, is_local)`
    SetConfig,
    /// `pg_reload_conf()`
    ReloadConf,
    /// `pg_switch_wal()`.
    SwitchWal,
    /// `pg_create_restore_point(name)`.
    CreateRestorePoint,
    /// `pg_stat_reset_shared(target)`
    StatResetShared,
    /// `pg_cancel_backend(pid)`
    CancelBackend,
    /// `pg_terminate_backend(pid)`
    TerminateBackend,
    /// Recovery information and control functions (`pg_last_wal_replay_lsn()`…, see
    /// `functions::recovery_call`).
    Recovery(super::functions::RecoveryFn),
    /// `num_nulls(...)` (true) / `num_nonnulls(...)` (false): arguments of any types.
    NumNulls(bool),
    /// `coalesce(...)`
    Coalesce,
    /// `nullif(a, b)`
    NullIf,
    /// `greatest(...)`
    Greatest,
    /// `least(...)`
    Least,
    /// `lower(text)`
    Lower,
    /// `upper(text)`
    Upper,
    /// `length(text)`, `char_length`
    Length,
    /// `abs(x)`
    Abs,
    /// `round(x [, s])`
    Round,
    /// `pg_wal_lsn_diff(a, b)`
    WalLsnDiff,
    /// `pg_walfile_name(lsn)`
    WalfileName,
    /// `concat(...)`
    Concat,
    /// `concat_ws(sep, ...)`
    ConcatWs,
    /// `replace(s, from, to)`
    Replace,
    /// `substr(s, from [, count])`, `substring(s FROM a FOR b)`
    Substr,
    /// `left(s, n)`
    Left,
    /// `right(s, n)`
    Right,
    /// `repeat(s, n)`
    Repeat,
    /// `strpos(s, sub)`, `position(sub IN s)`
    StrPos,
    /// `md5(s)`
    Md5,
    /// `btrim(s [, chars])`, `trim(…)`
    Btrim,
    /// `ltrim(s [, chars])`, `trim(LEADING …)`
    Ltrim,
    /// `rtrim(s [, chars])`, `trim(TRAILING …)`
    Rtrim,
    /// `reverse(s)`
    Reverse,
    /// `extract(field FROM x)` (numeric result).
    Extract,
    /// `date_part(field, x)` (double precision result).
    DatePart,
    /// `date_trunc(unit, timestamp)`.
    DateTrunc,
    // ---- replication slots ----
    /// `pg_create_physical_replication_slot(name [, immediately_reserve [, temporary]])`:
    /// creates the slot. `false`: a scalar call, the record `(slot_name,lsn)` as text;
    /// `true`: in FROM, the `slot_name` column (the `lsn` column is [`Func::SlotRestartLsn`]).
    CreatePhysicalSlot(bool),
    /// `pg_drop_replication_slot(name)`.
    DropReplicationSlot,
    /// `pg_replication_slot_advance(name, upto)`; the flag as for
    /// [`Func::CreatePhysicalSlot`].
    ReplicationSlotAdvance(bool),
    /// The `restart_lsn` of the slot named by the argument (NULL if none).
    SlotRestartLsn,
    // ---- WAL retention (E) ----
    /// `tusk_release_wal_hold(pg_lsn)` (tusk's own): drops the backup hold at that LSN
    /// (see `storage::holds`); true when there was one. Superuser only.
    ReleaseWalHold,
    /// A function or operator of bytea, uuid, json or jsonb (see `type_funcs`).
    Typed(super::type_funcs::TypeFn),
    /// Sequence functions (`nextval`, `currval`, …, see `sql::ddl`).
    Ddl(super::ddl::DdlFn),
    /// `has_table_privilege` and the other `has_*_privilege` functions (see
    /// `sql::privileges`).
    HasPrivilege(super::privileges::PrivFn),
    /// A size or statistics function (see `stat_funcs`).
    Size(super::stat_funcs::SizeFn),
    /// A regular-expression function or operator (see `regex_funcs`).
    Regex(super::regex_funcs::RegexFn),
    /// A string or math function (see `string_funcs`).
    Str(super::string_funcs::StrFn),
    /// A formatting or date/time function (see `format_funcs`).
    Fmt(super::format_funcs::FmtFn),
    /// An enum support function (see `sql::enums`).
    Enum(super::enums::EnumFn),
    /// A time-zone conversion (see `tz_funcs`).
    Tz(super::tz_funcs::TzFn),
    /// A catalog information function or a `reg*` cast (see `catalog_funcs`).
    Catalog(super::catalog_funcs::CatalogFn),
}

/// A bound, typed expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// A constant of a type (`Unknown` for an unresolved string literal).
    Const(Value, DataType),
    /// A column of the input row.
    Column(usize, DataType),
    /// A parameter `$n` (0-based index) of the given type.
    Param(usize, DataType),
    /// A binary arithmetic, concatenation or comparison operator.
    Binary(BinOp, Box<Expr>, Box<Expr>, DataType),
    /// Unary minus.
    Neg(Box<Expr>, DataType),
    /// AND (three-valued).
    And(Box<Expr>, Box<Expr>),
    /// OR (three-valued).
    Or(Box<Expr>, Box<Expr>),
    /// NOT (three-valued).
    Not(Box<Expr>),
    /// IS NULL (or IS NOT NULL when the flag is set).
    IsNull(Box<Expr>, bool),
    /// IS [NOT] DISTINCT FROM (negated when the flag is set).
    IsDistinct(Box<Expr>, Box<Expr>, bool),
    /// IS TRUE / IS FALSE (the value tested for), negated by the second flag.
    IsBool(Box<Expr>, bool, bool),
    /// A cast to a type with a typmod; the flag marks an explicit cast.
    Cast(Box<Expr>, DataType, i32, bool),
    /// A function call.
    Func(Func, Vec<Expr>, DataType),
    /// CASE WHEN … THEN … [ELSE …] END (operand forms are rewritten to comparisons).
    Case(Vec<(Expr, Expr)>, Option<Box<Expr>>, DataType),
    /// x [NOT] IN (list).
    InList(Box<Expr>, Vec<Expr>, bool),
    /// x [NOT] LIKE / ILIKE pattern: (negated, case-insensitive).
    Like(Box<Expr>, Box<Expr>, bool, bool),
    /// A scalar subquery `(SELECT …)` of one column (see [`Expr::Correlated`]).
    Subquery(Box<SelectPlan>, DataType),
    /// `ARRAY(SELECT …)`: the one column of every row, in the subquery's order, as an
    /// array of the given array type (`{}` when no row comes back).
    ArraySubquery(Box<SelectPlan>, DataType),
    /// [NOT] EXISTS (SELECT …) (negated when the flag is set).
    Exists(Box<SelectPlan>, bool),
    /// x [NOT] IN (SELECT …).
    InSubquery(Box<Expr>, Box<SelectPlan>, bool),
    /// A column of an enclosing query's current row, seen from inside a correlated
    /// subquery: (how many query levels up, index in that level's row, type).
    OuterColumn(usize, usize, DataType),
    /// A subquery expression (scalar, EXISTS, IN) whose plan refers to the current row
    /// of this query: run again for every row, with that row pushed on the outer rows.
    Correlated(Box<Expr>),
}

impl Expr {
    /// The expression's result type.
    pub fn ty(&self) -> DataType {
        match self {
            Expr::Const(_, t)
            | Expr::Column(_, t)
            | Expr::Param(_, t)
            | Expr::Binary(_, _, _, t)
            | Expr::Neg(_, t)
            | Expr::Cast(_, t, _, _)
            | Expr::Func(_, _, t)
            | Expr::Case(_, _, t)
            | Expr::Subquery(_, t)
            | Expr::ArraySubquery(_, t)
            | Expr::OuterColumn(_, _, t) => *t,
            Expr::Correlated(inner) => inner.ty(),
            _ => DataType::Bool,
        }
    }

    /// The typmod of the expression's result (-1 unless a cast or column gives one).
    pub fn typmod(&self) -> i32 {
        match self {
            Expr::Cast(_, _, m, _) => *m,
            _ => -1,
        }
    }
}

fn truth(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

/// Evaluates an expression against a row.
pub fn eval(e: &Expr, row: &[Value], cx: &mut ExecCtx<'_>) -> Result<Value> {
    match e {
        // Leaves go no deeper: no stack check for them.
        Expr::Const(v, _) => Ok(v.clone()),
        Expr::Column(i, _) => Ok(row.get(*i).cloned().unwrap_or(Value::Null)),
        Expr::Param(..) => eval_here(e, row, cx),
        _ => crate::sql::depth::with_stack(|| eval_here(e, row, cx)),
    }
}

/// [`eval`] on the stack it was called on.
fn eval_here(e: &Expr, row: &[Value], cx: &mut ExecCtx<'_>) -> Result<Value> {
    Ok(match e {
        Expr::Const(v, _) => v.clone(),
        Expr::Column(i, _) => row.get(*i).cloned().unwrap_or(Value::Null),
        Expr::Param(i, t) => {
            let v = cx.params.get(*i).cloned().ok_or_else(|| {
                err!(
                    sqlstate::UNDEFINED_PARAMETER,
                    "there is no parameter ${}",
                    i + 1
                )
            })?;
            if v.data_type() != *t && *t != DataType::Unknown && !v.is_null() {
                cast(v, *t, -1, true)?
            } else {
                v
            }
        }
        Expr::Binary(op, l, r, ty) => {
            let a = eval(l, row, cx)?;
            let b = eval(r, row, cx)?;
            binary(*op, a, b, *ty)?
        }
        Expr::Neg(x, _) => match eval(x, row, cx)? {
            Value::Null => Value::Null,
            Value::Int2(i) => Value::Int2(
                i.checked_neg()
                    .ok_or_else(|| types::out_of_range(DataType::Int2))?,
            ),
            Value::Int4(i) => Value::Int4(
                i.checked_neg()
                    .ok_or_else(|| types::out_of_range(DataType::Int4))?,
            ),
            Value::Int8(i) => Value::Int8(
                i.checked_neg()
                    .ok_or_else(|| types::out_of_range(DataType::Int8))?,
            ),
            Value::Float4(f) => Value::Float4(-f),
            Value::Float8(f) => Value::Float8(-f),
            Value::Numeric(n) => Value::numeric(-*n),
            Value::Interval(i) => Value::Interval(i.neg()?),
            v => bail!(
                sqlstate::UNDEFINED_FUNCTION,
                "operator does not exist: - {}",
                v.data_type().name()
            ),
        },
        Expr::And(l, r) => {
            let a = truth(&eval(l, row, cx)?);
            if a == Some(false) {
                return Ok(Value::Bool(false));
            }
            let b = truth(&eval(r, row, cx)?);
            match (a, b) {
                (_, Some(false)) => Value::Bool(false),
                (Some(true), Some(true)) => Value::Bool(true),
                _ => Value::Null,
            }
        }
        Expr::Or(l, r) => {
            let a = truth(&eval(l, row, cx)?);
            if a == Some(true) {
                return Ok(Value::Bool(true));
            }
            let b = truth(&eval(r, row, cx)?);
            match (a, b) {
                (_, Some(true)) => Value::Bool(true),
                (Some(false), Some(false)) => Value::Bool(false),
                _ => Value::Null,
            }
        }
        Expr::Not(x) => match truth(&eval(x, row, cx)?) {
            Some(b) => Value::Bool(!b),
            None => Value::Null,
        },
        Expr::IsNull(x, neg) => Value::Bool(eval(x, row, cx)?.is_null() != *neg),
        Expr::IsDistinct(l, r, neg) => {
            let a = eval(l, row, cx)?;
            let b = eval(r, row, cx)?;
            let distinct = match (a.is_null(), b.is_null()) {
                (true, true) => false,
                (true, false) | (false, true) => true,
                _ => compare(&a, &b) != Ordering::Equal,
            };
            Value::Bool(distinct != *neg)
        }
        Expr::IsBool(x, want, neg) => {
            let v = truth(&eval(x, row, cx)?);
            Value::Bool((v == Some(*want)) != *neg)
        }
        Expr::Cast(x, t, m, explicit) => {
            let v = eval(x, row, cx)?;
            match (&v, t) {
                // "char" to integer is its (signed) byte.
                (Value::Text(s), DataType::Int4) if x.ty() == DataType::Char => {
                    Value::Int4(types::pg_char::to_byte(s) as i8 as i32)
                }
                // character(n) drops its padding when it becomes text.
                (Value::Text(s), DataType::Text | DataType::Varchar)
                    if x.ty() == DataType::Bpchar =>
                {
                    cast(
                        Value::Text(s.trim_end_matches(' ').to_string()),
                        *t,
                        *m,
                        *explicit,
                    )?
                }
                (Value::TimestampTz(ts), DataType::Text | DataType::Varchar) => Value::Text(
                    types::format_text(&Value::TimestampTz(*ts), &cx.format_options()),
                ),
                (Value::Text(s), DataType::TimestampTz) => {
                    Value::TimestampTz(types::parse_timestamptz(s, &cx.format_options().zone)?)
                }
                (_, DataType::Time | DataType::TimeTz)
                    if types::time::depends_on_zone(v.data_type(), *t) =>
                {
                    // The session zone's offset at the value's instant (now for a time).
                    let zone = cx.format_options().zone;
                    let off = match &v {
                        Value::TimestampTz(ts) => zone.east_at(*ts),
                        _ => zone.east_at(cx.txn.start_time),
                    };
                    match types::time::cast_in_zone(&v, *t, *m, off) {
                        Some(r) => r?,
                        None => cast(v, *t, *m, *explicit)?,
                    }
                }
                _ => cast(v, *t, *m, *explicit)?,
            }
        }
        Expr::Func(f, args, ty) => {
            let mut vals = Vec::with_capacity(args.len());
            for a in args {
                vals.push(eval(a, row, cx)?);
            }
            super::functions::call(*f, vals, *ty, cx)?
        }
        Expr::Case(whens, els, ty) => {
            for (c, r) in whens {
                if truth(&eval(c, row, cx)?) == Some(true) {
                    return coerce_value(eval(r, row, cx)?, *ty);
                }
            }
            match els {
                Some(x) => coerce_value(eval(x, row, cx)?, *ty)?,
                None => Value::Null,
            }
        }
        Expr::InList(x, list, neg) => {
            let v = eval(x, row, cx)?;
            if v.is_null() {
                return Ok(Value::Null);
            }
            let mut saw_null = false;
            for item in list {
                let w = eval(item, row, cx)?;
                if w.is_null() {
                    saw_null = true;
                } else if compare(&v, &w) == Ordering::Equal {
                    return Ok(Value::Bool(!neg));
                }
            }
            if saw_null {
                Value::Null
            } else {
                Value::Bool(*neg)
            }
        }
        Expr::Subquery(p, _) => {
            let rows = subquery_rows(p, cx)?;
            match rows.len() {
                0 => Value::Null,
                1 => rows[0].first().cloned().unwrap_or(Value::Null),
                _ => bail!(
                    sqlstate::CARDINALITY_VIOLATION,
                    "more than one row returned by a subquery used as an expression"
                ),
            }
        }
        Expr::ArraySubquery(p, t) => {
            let items = subquery_rows(p, cx)?
                .iter()
                .map(|r| r.first().cloned().unwrap_or(Value::Null))
                .collect();
            let elem = crate::types::array::elem_type(*t).unwrap_or(DataType::Text);
            crate::types::array::ArrayValue { elem, items }.into_value()
        }
        Expr::Exists(p, neg) => Value::Bool(subquery_rows(p, cx)?.is_empty() == *neg),
        Expr::OuterColumn(depth, i, _) => {
            let level = cx.outer.len().checked_sub(*depth);
            match level.and_then(|l| cx.outer[l].get(*i)) {
                Some(v) => v.clone(),
                None => bail!(
                    sqlstate::INTERNAL_ERROR,
                    "outer reference to a query level that is not running"
                ),
            }
        }
        Expr::Correlated(inner) => {
            cx.outer.push(row.to_vec());
            let r = eval(inner, row, cx);
            cx.outer.pop();
            r?
        }
        Expr::InSubquery(x, p, neg) => {
            let v = eval(x, row, cx)?;
            if v.is_null() {
                return Ok(Value::Null);
            }
            let rows = subquery_rows(p, cx)?;
            let mut saw_null = false;
            for r in rows.iter() {
                let w = r.first().cloned().unwrap_or(Value::Null);
                if w.is_null() {
                    saw_null = true;
                } else if compare(&v, &w) == Ordering::Equal {
                    return Ok(Value::Bool(!neg));
                }
            }
            if saw_null {
                Value::Null
            } else {
                Value::Bool(*neg)
            }
        }
        Expr::Like(x, p, neg, ci) => {
            let v = eval(x, row, cx)?;
            let pat = eval(p, row, cx)?;
            match (v, pat) {
                (Value::Text(s), Value::Text(p)) => {
                    let m = if *ci {
                        like(&s.to_lowercase(), &p.to_lowercase())
                    } else {
                        like(&s, &p)
                    };
                    Value::Bool(m != *neg)
                }
                _ => Value::Null,
            }
        }
    })
}

/// The rows of an uncorrelated subquery, computed once per statement.
fn subquery_rows(p: &SelectPlan, cx: &mut ExecCtx<'_>) -> Result<std::sync::Arc<Vec<Vec<Value>>>> {
    // Inside a correlated subquery every subquery may depend on outer rows: no cache.
    if !cx.outer.is_empty() {
        return Ok(std::sync::Arc::new(super::exec::run_select(p, cx)?));
    }
    let key = p as *const SelectPlan as usize;
    if let Some(r) = cx.subqueries.get(&key) {
        return Ok(r.clone());
    }
    let rows = std::sync::Arc::new(super::exec::run_select(p, cx)?);
    cx.subqueries.insert(key, rows.clone());
    Ok(rows)
}

fn coerce_value(v: Value, ty: DataType) -> Result<Value> {
    if v.is_null() || v.data_type() == ty || ty == DataType::Unknown {
        Ok(v)
    } else {
        cast(v, ty, -1, false)
    }
}

/// SQL LIKE matching with `%` and `_` and backslash escapes.
pub fn like(s: &str, p: &str) -> bool {
    let s: Vec<char> = s.chars().collect();
    let p: Vec<char> = p.chars().collect();
    fn go(s: &[char], p: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('%') => (0..=s.len()).any(|i| go(&s[i..], &p[1..])),
            Some('_') => !s.is_empty() && go(&s[1..], &p[1..]),
            Some('\\') if p.len() > 1 => s.first() == Some(&p[1]) && go(&s[1..], &p[2..]),
            Some(c) => s.first() == Some(c) && go(&s[1..], &p[1..]),
        }
    }
    go(&s, &p)
}

fn overflow(ty: DataType) -> crate::error::Error {
    types::out_of_range(ty)
}

fn div_zero() -> crate::error::Error {
    err!(sqlstate::DIVISION_BY_ZERO, "division by zero")
}

/// Applies a binary operator to two values; `ty` is the bound result type (for
/// arithmetic, the common operand type).
pub fn binary(op: BinOp, a: Value, b: Value, ty: DataType) -> Result<Value> {
    if a.is_null() || b.is_null() {
        return Ok(Value::Null);
    }
    if op.is_comparison() {
        let o = compare(&a, &b);
        return Ok(Value::Bool(match op {
            BinOp::Eq => o == Ordering::Equal,
            BinOp::NotEq => o != Ordering::Equal,
            BinOp::Lt => o == Ordering::Less,
            BinOp::LtEq => o != Ordering::Greater,
            BinOp::Gt => o == Ordering::Greater,
            _ => o != Ordering::Less,
        }));
    }
    if op == BinOp::Concat {
        // Non-text operands go through their cast to text (booleans become `true`).
        let text = |v: Value| match cast(v, DataType::Text, -1, true)? {
            Value::Text(s) => Ok(s),
            other => Ok(types::format_text(&other, &types::FormatOptions::default())),
        };
        return Ok(Value::Text(text(a)? + &text(b)?));
    }
    if let Some(r) = datetime_binary(op, &a, &b) {
        return r;
    }
    match ty {
        DataType::Int2 | DataType::Int4 | DataType::Int8 => {
            let (x, y) = (a.as_i64().unwrap_or(0), b.as_i64().unwrap_or(0));
            let r = match op {
                BinOp::Add => x.checked_add(y),
                BinOp::Sub => x.checked_sub(y),
                BinOp::Mul => x.checked_mul(y),
                BinOp::Div => {
                    if y == 0 {
                        return Err(div_zero());
                    }
                    x.checked_div(y)
                }
                BinOp::Mod => {
                    if y == 0 {
                        return Err(div_zero());
                    }
                    Some(x.checked_rem(y).unwrap_or(0))
                }
                _ => None,
            }
            .ok_or_else(|| overflow(ty))?;
            Ok(match ty {
                DataType::Int2 => Value::Int2(i16::try_from(r).map_err(|_| overflow(ty))?),
                DataType::Int4 => Value::Int4(i32::try_from(r).map_err(|_| overflow(ty))?),
                _ => Value::Int8(r),
            })
        }
        DataType::Float4 | DataType::Float8 => {
            let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            let r = match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => {
                    if y == 0.0 {
                        return Err(div_zero());
                    }
                    x / y
                }
                _ => bail!(
                    sqlstate::UNDEFINED_FUNCTION,
                    "operator does not exist: {} {} {}",
                    ty.name(),
                    op.symbol(),
                    ty.name()
                ),
            };
            if ty == DataType::Float4 {
                let r32 = (
                    a.as_f64().unwrap_or(0.0) as f32,
                    b.as_f64().unwrap_or(0.0) as f32,
                );
                let v = match op {
                    BinOp::Add => r32.0 + r32.1,
                    BinOp::Sub => r32.0 - r32.1,
                    BinOp::Mul => r32.0 * r32.1,
                    _ => r32.0 / r32.1,
                };
                if v.is_infinite() && !r32.0.is_infinite() && !r32.1.is_infinite() {
                    bail!(
                        sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                        "value out of range: overflow"
                    );
                }
                return Ok(Value::Float4(v));
            }
            if r.is_infinite() && x.is_finite() && y.is_finite() {
                bail!(
                    sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                    "value out of range: overflow"
                );
            }
            Ok(Value::Float8(r))
        }
        DataType::Numeric => {
            let x = a.as_numeric().unwrap_or_default();
            let y = b.as_numeric().unwrap_or_default();
            Ok(Value::numeric(match op {
                BinOp::Add => types::numeric_math::add(&x, &y),
                BinOp::Sub => types::numeric_math::sub(&x, &y),
                BinOp::Mul => types::numeric_math::mul(&x, &y),
                BinOp::Div => numeric_div(&x, &y)?,
                BinOp::Mod => types::numeric_math::modulo(&x, &y)?,
                _ => BigDecimal::zero(),
            }))
        }
        _ => bail!(
            sqlstate::UNDEFINED_FUNCTION,
            "operator does not exist: {} {} {}",
            a.data_type().name(),
            op.symbol(),
            b.data_type().name()
        ),
    }
}

/// Date/time arithmetic (`timestamp ± interval`, `timestamp - timestamp`, `date ± int`,
/// `interval * number`, …); `None` when the operands are not date/time ones.
fn datetime_binary(op: BinOp, a: &Value, b: &Value) -> Option<Result<Value>> {
    use Value::*;
    const DAY: i64 = 86_400_000_000;
    let out_of_range = || err!(sqlstate::DATETIME_FIELD_OVERFLOW, "timestamp out of range");
    Some(match (a, b, op) {
        (Timestamp(t), Interval(i), BinOp::Add) | (Interval(i), Timestamp(t), BinOp::Add) => {
            types::timestamp_plus(*t, i).map(Timestamp)
        }
        // Months and days move the wall clock of the session zone (PostgreSQL's
        // timestamptz_pl_interval).
        (TimestampTz(t), Interval(i), BinOp::Add) | (Interval(i), TimestampTz(t), BinOp::Add) => {
            let zone = types::timezone::current_zone();
            types::timezone::timestamptz_plus(*t, i.months, i.days, i.micros, &zone)
                .map(TimestampTz)
                .ok_or_else(out_of_range)
        }
        (Timestamp(t), Interval(i), BinOp::Sub) => i
            .neg()
            .and_then(|n| types::timestamp_plus(*t, &n))
            .map(Timestamp),
        (TimestampTz(t), Interval(i), BinOp::Sub) => i.neg().and_then(|n| {
            let zone = types::timezone::current_zone();
            types::timezone::timestamptz_plus(*t, n.months, n.days, n.micros, &zone)
                .map(TimestampTz)
                .ok_or_else(out_of_range)
        }),
        (Date(d), Interval(i), BinOp::Add) | (Interval(i), Date(d), BinOp::Add) => {
            types::timestamp_plus(*d as i64 * DAY, i).map(Timestamp)
        }
        (Date(d), Interval(i), BinOp::Sub) => i
            .neg()
            .and_then(|n| types::timestamp_plus(*d as i64 * DAY, &n))
            .map(Timestamp),
        (Timestamp(x) | TimestampTz(x), Timestamp(y) | TimestampTz(y), BinOp::Sub) => {
            types::timestamp_diff(*x, *y).map(Interval)
        }
        (Date(x), Date(y), BinOp::Sub) => Ok(Int4(x - y)),
        (Date(d), n, BinOp::Add | BinOp::Sub) if n.as_i64().is_some() => {
            let k = n.as_i64().unwrap_or(0);
            let k = if op == BinOp::Sub { -k } else { k };
            i32::try_from(*d as i64 + k)
                .map(Date)
                .map_err(|_| out_of_range())
        }
        (n, Date(d), BinOp::Add) if n.as_i64().is_some() => {
            i32::try_from(*d as i64 + n.as_i64().unwrap_or(0))
                .map(Date)
                .map_err(|_| out_of_range())
        }
        (Interval(x), Interval(y), BinOp::Add) => x.add(y).map(Interval),
        (Interval(x), Interval(y), BinOp::Sub) => y.neg().and_then(|n| x.add(&n)).map(Interval),
        (Time(_) | TimeTz(_), _, _) | (_, Time(_) | TimeTz(_), _) => return time_binary(op, a, b),
        (Interval(i), n, BinOp::Mul) | (n, Interval(i), BinOp::Mul) if n.as_f64().is_some() => {
            i.mul(n.as_f64().unwrap_or(0.0)).map(Interval)
        }
        (Interval(i), n, BinOp::Div) if n.as_f64().is_some() => {
            let f = n.as_f64().unwrap_or(0.0);
            if f == 0.0 {
                Err(div_zero())
            } else {
                i.mul(1.0 / f).map(Interval)
            }
        }
        _ => return None,
    })
}

/// The result type of date/time arithmetic, as PostgreSQL's operators define it.
pub fn datetime_arith_type(op: BinOp, l: DataType, r: DataType) -> Option<DataType> {
    use DataType::*;
    let ts = |t: DataType| matches!(t, Timestamp | TimestampTz);
    Some(match (l, r, op) {
        (Timestamp, Interval, BinOp::Add | BinOp::Sub) | (Interval, Timestamp, BinOp::Add) => {
            Timestamp
        }
        (TimestampTz, Interval, BinOp::Add | BinOp::Sub) | (Interval, TimestampTz, BinOp::Add) => {
            TimestampTz
        }
        (Date, Interval, BinOp::Add | BinOp::Sub) | (Interval, Date, BinOp::Add) => Timestamp,
        (a, b, BinOp::Sub) if ts(a) && ts(b) => Interval,
        (Date, Date, BinOp::Sub) => Int4,
        (Date, Int2 | Int4, BinOp::Add | BinOp::Sub) | (Int2 | Int4, Date, BinOp::Add) => Date,
        (Interval, Interval, BinOp::Add | BinOp::Sub) => Interval,
        (Interval, n, BinOp::Mul | BinOp::Div) if n.is_numeric() => Interval,
        (n, Interval, BinOp::Mul) if n.is_numeric() => Interval,
        (Time, Interval, BinOp::Add | BinOp::Sub) | (Interval, Time, BinOp::Add) => Time,
        (TimeTz, Interval, BinOp::Add | BinOp::Sub) | (Interval, TimeTz, BinOp::Add) => TimeTz,
        (Time, Time, BinOp::Sub) => Interval,
        (Date, Time, BinOp::Add) | (Time, Date, BinOp::Add) => Timestamp,
        (Date, TimeTz, BinOp::Add) | (TimeTz, Date, BinOp::Add) => TimestampTz,
        // Through time's implicit cast to interval.
        (Time, n, BinOp::Mul | BinOp::Div) if n.is_numeric() => Interval,
        (n, Time, BinOp::Mul) if n.is_numeric() => Interval,
        (Timestamp, Time, BinOp::Add | BinOp::Sub) | (Date, Time, BinOp::Sub) => Timestamp,
        (TimestampTz, Time, BinOp::Add | BinOp::Sub) => TimestampTz,
        (Interval, Time, BinOp::Sub) => Interval,
        _ => return None,
    })
}

/// The operators of `time` and `timetz` (`± interval`, `time - time`, `date + time`,
/// and `time * number` through time's implicit cast to interval); `None` for other
/// operands.
fn time_binary(op: BinOp, a: &Value, b: &Value) -> Option<Result<Value>> {
    use types::time;
    use Value::*;
    const DAY: i64 = 86_400_000_000;
    let ts_range = || err!(sqlstate::DATETIME_FIELD_OVERFLOW, "timestamp out of range");
    let as_interval = |t: i64| types::Interval {
        months: 0,
        days: 0,
        micros: t,
    };
    Some(match (a, b, op) {
        (Time(t), Interval(i), BinOp::Add) | (Interval(i), Time(t), BinOp::Add) => {
            Ok(Time(time::time_plus(*t, i)))
        }
        (Time(t), Interval(i), BinOp::Sub) => i.neg().map(|n| Time(time::time_plus(*t, &n))),
        (TimeTz(t), Interval(i), BinOp::Add) | (Interval(i), TimeTz(t), BinOp::Add) => {
            Ok(TimeTz(types::TimeTz {
                micros: time::time_plus(t.micros, i),
                zone: t.zone,
            }))
        }
        (TimeTz(t), Interval(i), BinOp::Sub) => i.neg().map(|n| {
            TimeTz(types::TimeTz {
                micros: time::time_plus(t.micros, &n),
                zone: t.zone,
            })
        }),
        (Time(x), Time(y), BinOp::Sub) => Ok(Interval(time::time_diff(*x, *y))),
        (Date(d), Time(t), BinOp::Add) | (Time(t), Date(d), BinOp::Add) => (*d as i64)
            .checked_mul(DAY)
            .and_then(|x| x.checked_add(*t))
            .map(Timestamp)
            .ok_or_else(ts_range),
        (Date(d), TimeTz(t), BinOp::Add) | (TimeTz(t), Date(d), BinOp::Add) => (*d as i64)
            .checked_mul(DAY)
            .and_then(|x| x.checked_add(t.utc_micros()))
            .map(TimestampTz)
            .ok_or_else(ts_range),
        (Time(t), n, BinOp::Mul | BinOp::Div) | (n, Time(t), BinOp::Mul)
            if n.as_f64().is_some() =>
        {
            // Multiplication commutes, so the interval can go first either way.
            return datetime_binary(op, &Interval(as_interval(*t)), n);
        }
        (Timestamp(_) | TimestampTz(_), Time(t), BinOp::Add | BinOp::Sub)
        | (Date(_) | Interval(_), Time(t), BinOp::Sub) => {
            return datetime_binary(op, a, &Interval(as_interval(*t)));
        }
        _ => return None,
    })
}

/// The result type of an arithmetic operator on two operand types, as PostgreSQL
/// resolves it; `None` if no such operator exists.
pub fn arith_type(l: DataType, r: DataType) -> Option<DataType> {
    use DataType::*;
    let rank = |t: DataType| match t {
        Int2 => Some(1),
        Int4 => Some(2),
        Int8 => Some(3),
        Numeric => Some(4),
        Float4 => Some(5),
        Float8 => Some(6),
        _ => None,
    };
    let (a, b) = (rank(l)?, rank(r)?);
    let m = a.max(b);
    // numeric mixed with a float gives float8; float4 with an integer gives float8.
    Some(match m {
        1 => Int2,
        2 => Int4,
        3 => Int8,
        4 => Numeric,
        5 if a == b => Float4,
        _ => Float8,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_arithmetic_overflows_like_postgres() {
        let e = binary(
            BinOp::Add,
            Value::Int4(i32::MAX),
            Value::Int4(1),
            DataType::Int4,
        )
        .unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            ("22003", "integer out of range")
        );
        let e = binary(BinOp::Div, Value::Int4(1), Value::Int4(0), DataType::Int4).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), ("22012", "division by zero"));
        assert_eq!(
            binary(BinOp::Div, Value::Int4(-7), Value::Int4(2), DataType::Int4).unwrap(),
            Value::Int4(-3)
        );
        let e = binary(
            BinOp::Div,
            Value::Int4(i32::MIN),
            Value::Int4(-1),
            DataType::Int4,
        )
        .unwrap_err();
        assert_eq!(e.code, "22003");
        assert_eq!(
            binary(
                BinOp::Mod,
                Value::numeric("7.5".parse().unwrap()),
                Value::Int4(2),
                DataType::Numeric
            )
            .unwrap(),
            Value::numeric("1.5".parse().unwrap())
        );
        assert_eq!(
            arith_type(DataType::Int2, DataType::Int2),
            Some(DataType::Int2)
        );
        assert_eq!(
            arith_type(DataType::Int4, DataType::Numeric),
            Some(DataType::Numeric)
        );
        assert_eq!(
            arith_type(DataType::Numeric, DataType::Float4),
            Some(DataType::Float8)
        );
        assert_eq!(arith_type(DataType::Text, DataType::Int4), None);
    }

    #[test]
    fn like_matches() {
        assert!(like("hello", "h%o"));
        assert!(like("hello", "h_llo"));
        assert!(!like("hello", "h_lo"));
        assert!(like("50%", "50\\%"));
    }
}
