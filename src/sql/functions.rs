//! Built-in functions: the name table the binder resolves calls against, and their
//! implementations (system information, settings, time, a few string and math helpers).

use super::expr::Func;
use super::ExecCtx;
use crate::error::{sqlstate, Result};
use crate::types::{self, cast, compare, DataType, Value};
use crate::{bail, err};
use std::cmp::Ordering;
use std::time::{Duration, Instant};

/// The text `version()` returns.
pub const VERSION: &str =
    "PostgreSQL 15.0 (tusk 0.1.0) on x86_64-pc-linux-gnu, compiled by rustc, 64-bit";

/// Resolves a function name and argument count to a built-in; `None` if unknown.
/// `arg_types` decides the result type of polymorphic functions.
pub fn lookup(name: &str, arg_types: &[DataType]) -> Option<(Func, DataType)> {
    if let Some((f, t)) = super::type_funcs::lookup(name, arg_types) {
        return Some((Func::Typed(f), t));
    }
    if let Some((f, t)) = super::regex_funcs::lookup(name, arg_types) {
        return Some((Func::Regex(f), t));
    }
    if let Some((f, t)) = super::string_funcs::lookup(name, arg_types) {
        return Some((Func::Str(f), t));
    }
    if let Some((f, t)) = super::format_funcs::lookup(name, arg_types) {
        return Some((Func::Fmt(f), t));
    }
    if let Some((f, t)) = super::enums::lookup(name, arg_types) {
        return Some((Func::Enum(f), t));
    }
    if let Some((f, t)) = super::tz_funcs::lookup(name, arg_types) {
        return Some((Func::Tz(f), t));
    }
    let n = arg_types.len();
    if let Some(f) = super::ddl::lookup(name, n) {
        return Some(f);
    }
    if let Some(f) = super::privileges::lookup(name, arg_types) {
        return Some(f);
    }
    if let Some(f) = super::catalog_funcs::lookup(name, arg_types) {
        return Some(f);
    }
    if let Some(f) = super::stat_funcs::lookup(name, arg_types) {
        return Some(f);
    }
    let first = arg_types.first().copied().unwrap_or(DataType::Unknown);
    let common = || {
        arg_types
            .iter()
            .copied()
            .find(|t| *t != DataType::Unknown)
            .map(|t| {
                if t == DataType::Varchar {
                    DataType::Text
                } else {
                    t
                }
            })
            .unwrap_or(DataType::Text)
    };
    Some(match (name, n) {
        ("version", 0) => (Func::Version, DataType::Text),
        ("current_user" | "user" | "current_role", 0) => (Func::CurrentUser, DataType::Name),
        ("session_user", 0) => (Func::SessionUser, DataType::Name),
        ("current_database" | "current_catalog", 0) => (Func::CurrentDatabase, DataType::Name),
        ("current_schema", 0) => (Func::CurrentSchema, DataType::Name),
        ("pg_backend_pid", 0) => (Func::BackendPid, DataType::Int4),
        ("pg_is_in_recovery", 0) => (Func::IsInRecovery, DataType::Bool),
        ("pg_current_wal_insert_lsn", 0) => (Func::CurrentWalLsn, DataType::PgLsn),
        ("pg_current_wal_lsn", 0) => (Func::CurrentWalWriteLsn, DataType::PgLsn),
        ("pg_current_wal_flush_lsn", 0) => (Func::CurrentWalFlushLsn, DataType::PgLsn),
        ("now" | "current_timestamp" | "transaction_timestamp", 0) => {
            (Func::Now, DataType::TimestampTz)
        }
        // CURRENT_TIMESTAMP(p) / LOCALTIMESTAMP(p): rounded to p fractional digits.
        ("current_timestamp", 1) => (Func::Now, DataType::TimestampTz),
        ("localtimestamp", 1) => (Func::Now, DataType::Timestamp),
        ("statement_timestamp", 0) => (Func::StatementTimestamp, DataType::TimestampTz),
        ("clock_timestamp", 0) => (Func::ClockTimestamp, DataType::TimestampTz),
        ("current_date", 0) => (Func::CurrentDate, DataType::Date),
        ("localtimestamp", 0) => (Func::Now, DataType::Timestamp),
        // The optional argument is the fractional-second precision.
        ("current_time", 0 | 1) => (Func::Now, DataType::TimeTz),
        ("localtime", 0 | 1) => (Func::Now, DataType::Time),
        ("txid_current" | "pg_current_xact_id", 0) => (Func::TxidCurrent, DataType::Int8),
        ("pg_stat_get_dead_tuples", 1) => (Func::StatDeadTuples, DataType::Int8),
        ("pg_postmaster_start_time", 0) => (Func::PostmasterStartTime, DataType::TimestampTz),
        ("pg_sleep", 1) => (Func::Sleep, DataType::Void),
        ("pg_advisory_unlock_all", 0) => (Func::AdvisoryUnlockAll, DataType::Void),
        ("current_setting", 1 | 2) => (Func::CurrentSetting, DataType::Text),
        ("set_config", 3) => (Func::SetConfig, DataType::Text),
        ("pg_reload_conf", 0) => (Func::ReloadConf, DataType::Bool),
        ("pg_switch_wal", 0) => (Func::SwitchWal, DataType::PgLsn),
        ("pg_create_restore_point", 1) => (Func::CreateRestorePoint, DataType::PgLsn),
        ("pg_stat_reset_shared", 1) => (Func::StatResetShared, DataType::Void),
        ("pg_cancel_backend", 1) => (Func::CancelBackend, DataType::Bool),
        ("pg_terminate_backend", 1 | 2) => (Func::TerminateBackend, DataType::Bool),
        // Recovery functions (standby).
        ("pg_last_wal_receive_lsn", 0) => (Func::Recovery(RecoveryFn::ReceiveLsn), DataType::PgLsn),
        ("pg_last_wal_replay_lsn", 0) => (Func::Recovery(RecoveryFn::ReplayLsn), DataType::PgLsn),
        ("pg_last_xact_replay_timestamp", 0) => (
            Func::Recovery(RecoveryFn::ReplayTimestamp),
            DataType::TimestampTz,
        ),
        ("pg_wal_replay_pause", 0) => (Func::Recovery(RecoveryFn::Pause), DataType::Void),
        ("pg_wal_replay_resume", 0) => (Func::Recovery(RecoveryFn::Resume), DataType::Void),
        ("pg_is_wal_replay_paused", 0) => (Func::Recovery(RecoveryFn::IsPaused), DataType::Bool),
        ("pg_get_wal_replay_pause_state", 0) => {
            (Func::Recovery(RecoveryFn::PauseState), DataType::Text)
        }
        ("pg_promote", 0..=2) => (Func::Recovery(RecoveryFn::Promote), DataType::Bool),
        // PostgreSQL's select_common_type over the arguments (the binder reports a
        // mismatch with PostgreSQL's message).
        ("num_nulls", 1..) => (Func::NumNulls(true), DataType::Int4),
        ("num_nonnulls", 1..) => (Func::NumNulls(false), DataType::Int4),
        ("coalesce", 1..) => (
            Func::Coalesce,
            resolved_common(arg_types).unwrap_or_else(common),
        ),
        ("nullif", 2) => (Func::NullIf, common()),
        ("greatest", 1..) => (
            Func::Greatest,
            resolved_common(arg_types).unwrap_or_else(common),
        ),
        ("least", 1..) => (
            Func::Least,
            resolved_common(arg_types).unwrap_or_else(common),
        ),
        ("lower", 1) => (Func::Lower, DataType::Text),
        ("upper", 1) => (Func::Upper, DataType::Text),
        ("length" | "char_length" | "character_length", 1) => (Func::Length, DataType::Int4),
        ("abs", 1) if first.is_numeric() || first == DataType::Unknown => (
            Func::Abs,
            if first == DataType::Unknown {
                DataType::Float8
            } else {
                first
            },
        ),
        ("round", 1)
            if first.is_integer() || first == DataType::Float8 || first == DataType::Float4 =>
        {
            (Func::Round, DataType::Float8)
        }
        ("round", 1 | 2) => (Func::Round, DataType::Numeric),
        ("pg_wal_lsn_diff", 2) => (Func::WalLsnDiff, DataType::Numeric),
        ("pg_walfile_name", 1) => (Func::WalfileName, DataType::Text),
        ("concat", 1..) => (Func::Concat, DataType::Text),
        ("concat_ws", 2..) => (Func::ConcatWs, DataType::Text),
        ("replace", 3) => (Func::Replace, DataType::Text),
        ("substr" | "substring", 2 | 3) => (Func::Substr, DataType::Text),
        ("left", 2) => (Func::Left, DataType::Text),
        ("right", 2) => (Func::Right, DataType::Text),
        ("repeat", 2) => (Func::Repeat, DataType::Text),
        ("strpos", 2) => (Func::StrPos, DataType::Int4),
        ("md5", 1) => (Func::Md5, DataType::Text),
        ("btrim", 1 | 2) => (Func::Btrim, DataType::Text),
        ("ltrim", 1 | 2) => (Func::Ltrim, DataType::Text),
        ("rtrim", 1 | 2) => (Func::Rtrim, DataType::Text),
        ("reverse", 1) => (Func::Reverse, DataType::Text),
        ("extract", 2) => (Func::Extract, DataType::Numeric),
        ("date_part", 2) => (Func::DatePart, DataType::Float8),
        ("date_trunc", 2) => (
            Func::DateTrunc,
            match arg_types.get(1) {
                Some(DataType::TimestampTz) => DataType::TimestampTz,
                Some(DataType::Interval) => DataType::Interval,
                _ => DataType::Timestamp,
            },
        ),
        // ---- replication slots ----
        ("pg_create_physical_replication_slot", 1..=3) => {
            (Func::CreatePhysicalSlot(false), DataType::Text)
        }
        ("pg_drop_replication_slot", 1) => (Func::DropReplicationSlot, DataType::Void),
        ("pg_replication_slot_advance", 2) => (Func::ReplicationSlotAdvance(false), DataType::Text),
        // ---- WAL retention (E) ----
        ("tusk_release_wal_hold", 1) => (Func::ReleaseWalHold, DataType::Bool),
        _ => return None,
    })
}

/// The columns of `pg_control_checkpoint()`, with PostgreSQL 15's names and types
/// (the `xid` columns are shown as bigint: tusk has no `xid` type).
pub const CONTROL_CHECKPOINT: &[(&str, DataType)] = &[
    ("checkpoint_lsn", DataType::PgLsn),
    ("redo_lsn", DataType::PgLsn),
    ("redo_wal_file", DataType::Text),
    ("timeline_id", DataType::Int4),
    ("prev_timeline_id", DataType::Int4),
    ("full_page_writes", DataType::Bool),
    ("next_xid", DataType::Text),
    ("next_oid", DataType::Oid),
    ("next_multixact_id", DataType::Int8),
    ("next_multi_offset", DataType::Int8),
    ("oldest_xid", DataType::Int8),
    ("oldest_xid_dbid", DataType::Oid),
    ("oldest_active_xid", DataType::Int8),
    ("oldest_multi_xid", DataType::Int8),
    ("oldest_multi_dbid", DataType::Oid),
    ("oldest_commit_ts_xid", DataType::Int8),
    ("newest_commit_ts_xid", DataType::Int8),
    ("checkpoint_time", DataType::TimestampTz),
];

/// The columns of `pg_control_system()`, with PostgreSQL 15's names and types.
pub const CONTROL_SYSTEM: &[(&str, DataType)] = &[
    ("pg_control_version", DataType::Int4),
    ("catalog_version_no", DataType::Int4),
    ("system_identifier", DataType::Int8),
    ("pg_control_last_modified", DataType::TimestampTz),
];

/// For a function in FROM returning one row of pg_control values
/// (`pg_control_checkpoint()`, `pg_control_system()`): its columns and the scalar
/// function computing each column at execution time.
pub fn control_function(name: &str) -> Option<Vec<(&'static str, DataType, Func)>> {
    type Columns = &'static [(&'static str, DataType)];
    let (cols, f): (Columns, fn(u8) -> Func) = match name {
        "pg_control_checkpoint" => (CONTROL_CHECKPOINT, Func::PgControlCheckpoint),
        "pg_control_system" => (CONTROL_SYSTEM, Func::PgControlSystem),
        _ => return None,
    };
    Some(
        cols.iter()
            .enumerate()
            .map(|(i, (n, t))| (*n, *t, f(i as u8)))
            .collect(),
    )
}

/// Unix seconds as a `timestamptz` value (microseconds since 2000-01-01 UTC).
fn unix_to_timestamptz(secs: i64) -> Value {
    Value::TimestampTz((secs - 946_684_800).saturating_mul(1_000_000))
}

/// Column `i` of `pg_control_checkpoint()` from pg_control.
fn control_checkpoint_value(c: &crate::storage::control::ControlFile, i: u8) -> Value {
    let seg = u64::from(c.wal_segment_size).max(1);
    match i {
        0 => Value::PgLsn(c.checkpoint.0),
        1 => Value::PgLsn(c.redo.0),
        2 => Value::Text(crate::storage::wal::segment::segment_file_name(
            c.timeline,
            c.redo.0 / seg,
            seg,
        )),
        3 => Value::Int4(c.timeline as i32),
        4 => Value::Int4(c.prev_timeline as i32),
        5 => Value::Bool(c.full_page_writes),
        6 => Value::Text(format!("{}:{}", c.next_xid >> 32, c.next_xid & 0xffff_ffff)),
        7 => Value::Oid(c.next_oid),
        8 => Value::Int8(1),
        9 => Value::Int8(0),
        10 => Value::Int8(i64::from(c.oldest_xid)),
        11 => Value::Oid(1),
        12 => Value::Int8(i64::from(c.oldest_active_xid)),
        13 => Value::Int8(1),
        14 => Value::Oid(1),
        15 | 16 => Value::Int8(0),
        17 => unix_to_timestamptz(c.checkpoint_time),
        _ => Value::Null,
    }
}

/// Column `i` of `pg_control_system()` from pg_control.
fn control_system_value(c: &crate::storage::control::ControlFile, i: u8) -> Value {
    use crate::storage::control::{CATALOG_VERSION_NO, PG_CONTROL_VERSION};
    match i {
        0 => Value::Int4(PG_CONTROL_VERSION as i32),
        1 => Value::Int4(CATALOG_VERSION_NO as i32),
        2 => Value::Int8(c.system_identifier as i64),
        3 => unix_to_timestamptz(c.time),
        _ => Value::Null,
    }
}

/// The argument types a function expects (for coercing unknown literals and
/// parameters); `None` = take the argument's own type.
pub fn arg_type(f: Func, i: usize) -> Option<DataType> {
    match (f, i) {
        (Func::Sleep, 0) => Some(DataType::Float8),
        (Func::Now, 0) => Some(DataType::Int4),
        (Func::StatDeadTuples, 0) => Some(DataType::Oid),
        (Func::StatResetShared, 0) => Some(DataType::Text),
        (Func::CurrentSetting, 0) | (Func::SetConfig, 0 | 1) => Some(DataType::Text),
        (Func::CurrentSetting, 1) | (Func::SetConfig, 2) => Some(DataType::Bool),
        (Func::CancelBackend | Func::TerminateBackend, 0) => Some(DataType::Int4),
        (Func::TerminateBackend, 1) => Some(DataType::Int8),
        (Func::Lower | Func::Upper | Func::Length, 0) => Some(DataType::Text),
        (Func::Round, 0) => None,
        (Func::Round, 1) => Some(DataType::Int4),
        (Func::WalLsnDiff | Func::WalfileName, _) => Some(DataType::PgLsn),
        (Func::Concat, _) => None,
        (Func::ConcatWs, 0) => Some(DataType::Text),
        (Func::ConcatWs, _) => None,
        (Func::Replace | Func::StrPos | Func::Md5 | Func::Reverse, _) => Some(DataType::Text),
        (Func::Btrim | Func::Ltrim | Func::Rtrim, _) => Some(DataType::Text),
        (Func::Substr | Func::Left | Func::Right | Func::Repeat, 0) => Some(DataType::Text),
        (Func::Substr | Func::Left | Func::Right | Func::Repeat, _) => Some(DataType::Int4),
        (Func::Extract | Func::DatePart | Func::DateTrunc, 0) => Some(DataType::Text),
        (Func::DateTrunc, 1) => None,
        (Func::Extract | Func::DatePart, 1) => None,
        // ---- replication slots ----
        (Func::CreatePhysicalSlot(_), 0) => Some(DataType::Name),
        (Func::CreatePhysicalSlot(_), _) => Some(DataType::Bool),
        (Func::DropReplicationSlot | Func::SlotRestartLsn, 0) => Some(DataType::Name),
        (Func::ReplicationSlotAdvance(_), 0) => Some(DataType::Name),
        (Func::ReplicationSlotAdvance(_), 1) => Some(DataType::PgLsn),
        // ---- WAL retention (E) ----
        (Func::ReleaseWalHold, 0) => Some(DataType::PgLsn),
        (Func::CreateRestorePoint, 0) => Some(DataType::Text),
        (Func::Typed(t), i) => super::type_funcs::arg_type(t, i),
        (Func::Ddl(d), _) => super::ddl::arg_type(d, i),
        (Func::HasPrivilege(p), i) => super::privileges::arg_type(p, i),
        (Func::Catalog(c), i) => super::catalog_funcs::arg_type(c, i),
        (Func::Size(f), i) => super::stat_funcs::arg_type(f, i),
        (Func::Regex(r), i) => super::regex_funcs::arg_type(r, i),
        (Func::Str(s), i) => super::string_funcs::arg_type(s, i),
        (Func::Fmt(f), i) => super::format_funcs::arg_type(f, i),
        (Func::Enum(f), _) => Some(super::enums::arg_type(f)),
        (Func::Tz(f), i) => super::tz_funcs::arg_type(f, i),
        _ => None,
    }
}

/// Whether a function's result must be computed per call even in a constant context.
pub fn is_volatile(f: Func) -> bool {
    if let Func::Typed(t) = f {
        return super::type_funcs::is_volatile(t);
    }
    if let Func::Regex(_) = f {
        return false;
    }
    if let Func::Str(s) = f {
        return super::string_funcs::is_volatile(s);
    }
    if let Func::Fmt(f) = f {
        return super::format_funcs::is_volatile(f);
    }
    !matches!(
        f,
        Func::Lower | Func::Upper | Func::Length | Func::Abs | Func::Round
    )
}

fn text_arg(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Text(s) => Some(s.clone()),
        v => Some(types::format_text(v, &types::FormatOptions::default())),
    }
}

/// Calls a built-in function on evaluated arguments.
pub fn call(f: Func, args: Vec<Value>, ty: DataType, cx: &mut ExecCtx<'_>) -> Result<Value> {
    if cx.engine.in_recovery() {
        refuse_during_recovery(f)?;
    }
    if let Func::Typed(t) = f {
        return super::type_funcs::call(t, args, ty, cx);
    }
    if let Func::Regex(r) = f {
        return super::regex_funcs::call(r, args, ty, cx);
    }
    if let Func::Str(s) = f {
        return super::string_funcs::call(s, args, ty, cx);
    }
    if let Func::Fmt(f) = f {
        return super::format_funcs::call(f, args, ty, cx);
    }
    if let Func::Enum(f) = f {
        return super::enums::call(f, &args);
    }
    if let Func::Tz(f) = f {
        return super::tz_funcs::call(f, args, ty, cx);
    }
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Null);
    Ok(match f {
        Func::Typed(t) => super::type_funcs::call(t, args.clone(), ty, cx)?,
        Func::Regex(r) => super::regex_funcs::call(r, args.clone(), ty, cx)?,
        Func::Str(s) => super::string_funcs::call(s, args.clone(), ty, cx)?,
        Func::Fmt(f) => super::format_funcs::call(f, args.clone(), ty, cx)?,
        Func::Enum(f) => super::enums::call(f, &args)?,
        Func::Tz(f) => super::tz_funcs::call(f, args.clone(), ty, cx)?,
        Func::Version => Value::Text(VERSION.into()),
        Func::CurrentUser => Value::Text(cx.ctx.user.clone()),
        Func::SessionUser => Value::Text(super::acl::session_user(cx)),
        Func::CurrentDatabase => Value::Text(cx.ctx.database.clone()),
        Func::CurrentSchema => match crate::catalog::search_path::creation_schema() {
            Some(o) => super::ddl::current_schema_name(cx.engine, o),
            None => Value::Null,
        },
        Func::BackendPid => Value::Int4(cx.ctx.backend_pid),
        Func::IsInRecovery => Value::Bool(cx.engine.in_recovery()),
        Func::CurrentWalLsn => Value::PgLsn(cx.engine.current_wal_lsn().0),
        Func::CurrentWalWriteLsn => Value::PgLsn(cx.engine.wal_write_lsn().0),
        Func::CurrentWalFlushLsn => Value::PgLsn(cx.engine.wal_flush_lsn().0),
        Func::Now => {
            let now = if ty == DataType::Timestamp {
                Value::Timestamp(cx.format_options().zone.to_local(cx.txn.start_time))
            } else if matches!(ty, DataType::Time | DataType::TimeTz) {
                // current_time / localtime [(precision)].
                let precision = match args.first() {
                    None => -1,
                    Some(Value::Int4(p)) if *p >= 0 => (*p).min(types::time::MAX_TIME_PRECISION),
                    Some(v) => bail!(
                        sqlstate::INVALID_PARAMETER_VALUE,
                        "TIME({}) precision must not be negative",
                        types::format_text(v, &types::FormatOptions::default())
                    ),
                };
                let now = Value::TimestampTz(cx.txn.start_time);
                let off = cx.format_options().zone.east_at(cx.txn.start_time);
                match types::time::cast_in_zone(&now, ty, precision, off) {
                    Some(r) => r?,
                    None => Value::Null,
                }
            } else {
                Value::TimestampTz(cx.txn.start_time)
            };
            match (ty, args.first()) {
                (DataType::Timestamp | DataType::TimestampTz, Some(Value::Int4(p))) => {
                    if *p < 0 {
                        bail!(
                            sqlstate::INVALID_PARAMETER_VALUE,
                            "TIMESTAMP({p}) precision must not be negative"
                        );
                    }
                    // PostgreSQL's AdjustTimestampForTypmod: half away from zero.
                    let scale = 10i64.pow(6 - (*p).min(6) as u32);
                    let round = |t: i64| {
                        if t >= 0 {
                            (t + scale / 2) / scale * scale
                        } else {
                            -((-t + scale / 2) / scale * scale)
                        }
                    };
                    match now {
                        Value::Timestamp(t) => Value::Timestamp(round(t)),
                        Value::TimestampTz(t) => Value::TimestampTz(round(t)),
                        v => v,
                    }
                }
                _ => now,
            }
        }
        Func::StatementTimestamp => Value::TimestampTz(cx.stmt_time),
        Func::ClockTimestamp => Value::TimestampTz(types::now_micros()),
        Func::CurrentDate => {
            let local = cx.format_options().zone.to_local(cx.txn.start_time);
            Value::Date(local.div_euclid(86_400_000_000) as i32)
        }
        Func::TxidCurrent => Value::Int8(cx.txn.xid as i64),
        Func::PgControlCheckpoint(i) => control_checkpoint_value(&cx.engine.control_file(), i),
        Func::StatDeadTuples => match arg(0) {
            Value::Null => Value::Null,
            v => {
                let oid = v.as_i64().unwrap_or(0);
                let oid = u32::try_from(oid).unwrap_or(0);
                Value::Int8(cx.engine.table_dead_versions(cx.db_oid, oid) as i64)
            }
        },
        Func::PgControlSystem(i) => control_system_value(&cx.engine.control_file(), i),
        Func::PostmasterStartTime => Value::TimestampTz(cx.ctx.hooks.postmaster_start_time()),
        Func::Sleep => {
            let secs = arg(0).as_f64().filter(|s| s.is_finite()).unwrap_or(0.0);
            let deadline = Instant::now() + Duration::from_secs_f64(secs.clamp(0.0, 1e9));
            loop {
                cx.check_interrupts()?;
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                std::thread::sleep((deadline - now).min(Duration::from_millis(10)));
            }
            // void's output is an empty string, not NULL.
            Value::Text(String::new())
        }
        Func::AdvisoryUnlockAll => Value::Text(String::new()),
        Func::CurrentSetting => {
            let Some(name) = text_arg(&arg(0)) else {
                return Ok(Value::Null);
            };
            let missing_ok = matches!(arg(1), Value::Bool(true));
            match cx.settings.show(&name) {
                Ok(v) => Value::Text(v),
                Err(_) if missing_ok => Value::Null,
                Err(e) => return Err(e),
            }
        }
        Func::SetConfig => {
            let Some(name) = text_arg(&arg(0)) else {
                bail!(
                    sqlstate::NULL_VALUE_NOT_ALLOWED,
                    "SET requires parameter name"
                );
            };
            let value = text_arg(&arg(1));
            let local = matches!(arg(2), Value::Bool(true));
            let su = cx.is_superuser();
            cx.settings.set(&name, value.as_deref(), local, su)?;
            Value::Text(cx.settings.show(&name)?)
        }
        Func::ReloadConf => {
            if !cx.is_superuser() {
                bail!(
                    sqlstate::INSUFFICIENT_PRIVILEGE,
                    "permission denied for function pg_reload_conf"
                );
            }
            Value::Bool(cx.ctx.hooks.reload_config())
        }
        Func::SwitchWal => {
            if !cx.is_superuser() {
                bail!(
                    sqlstate::INSUFFICIENT_PRIVILEGE,
                    "permission denied for function pg_switch_wal"
                );
            }
            Value::PgLsn(cx.engine.switch_wal()?.0)
        }
        Func::CreateRestorePoint => {
            if !cx.is_superuser() {
                bail!(
                    sqlstate::INSUFFICIENT_PRIVILEGE,
                    "permission denied for function pg_create_restore_point"
                );
            }
            match text_arg(&arg(0)) {
                Some(name) => Value::PgLsn(cx.engine.create_restore_point(&name)?.0),
                // STRICT: a NULL name gives NULL.
                None => Value::Null,
            }
        }
        Func::StatResetShared => {
            if !cx.is_superuser() {
                bail!(
                    sqlstate::INSUFFICIENT_PRIVILEGE,
                    "permission denied for function pg_stat_reset_shared"
                );
            }
            let target = arg(0);
            match target.as_str() {
                // Only the archiver's counters can be reset here; the other
                // targets are accepted, as PostgreSQL accepts them, and keep theirs.
                Some("archiver") => cx.engine.archive_status().reset_stats(),
                Some("bgwriter" | "recovery_prefetch" | "wal") | None => {}
                Some(t) => return Err(err!(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "unrecognized reset target: \"{}\"",
                    t
                )
                .with_hint(
                    "Target must be \"archiver\", \"bgwriter\", \"recovery_prefetch\", or \"wal\".",
                )),
            }
            // void's output is an empty string, not NULL.
            Value::Text(String::new())
        }
        Func::CancelBackend => match arg(0).as_i64() {
            Some(pid) => return super::stat_funcs::signal_backend(pid as i32, false, cx),
            None => Value::Null,
        },
        Func::Recovery(r) => recovery_call(r, &args, cx)?,
        Func::TerminateBackend => match arg(0).as_i64() {
            Some(pid) => return super::stat_funcs::signal_backend(pid as i32, true, cx),
            None => Value::Null,
        },
        Func::NumNulls(nulls) => {
            Value::Int4(args.iter().filter(|v| v.is_null() == nulls).count() as i32)
        }
        Func::Coalesce => {
            let v = args
                .into_iter()
                .find(|v| !v.is_null())
                .unwrap_or(Value::Null);
            to_type(v, ty)?
        }
        Func::NullIf => {
            let (a, b) = (arg(0), arg(1));
            if !a.is_null() && !b.is_null() && compare(&a, &b) == Ordering::Equal {
                Value::Null
            } else {
                to_type(a, ty)?
            }
        }
        Func::Greatest | Func::Least => {
            let mut best: Option<Value> = None;
            for v in args.into_iter().filter(|v| !v.is_null()) {
                best = Some(match best {
                    None => v,
                    Some(b) => {
                        let o = compare(&v, &b);
                        if (f == Func::Greatest && o == Ordering::Greater)
                            || (f == Func::Least && o == Ordering::Less)
                        {
                            v
                        } else {
                            b
                        }
                    }
                });
            }
            to_type(best.unwrap_or(Value::Null), ty)?
        }
        Func::Lower => text_arg(&arg(0)).map_or(Value::Null, |s| Value::Text(s.to_lowercase())),
        Func::Upper => text_arg(&arg(0)).map_or(Value::Null, |s| Value::Text(s.to_uppercase())),
        Func::Length => {
            text_arg(&arg(0)).map_or(Value::Null, |s| Value::Int4(s.chars().count() as i32))
        }
        Func::Abs => match arg(0) {
            Value::Int2(i) => Value::Int2(
                i.checked_abs()
                    .ok_or_else(|| types::out_of_range(DataType::Int2))?,
            ),
            Value::Int4(i) => Value::Int4(
                i.checked_abs()
                    .ok_or_else(|| types::out_of_range(DataType::Int4))?,
            ),
            Value::Int8(i) => Value::Int8(
                i.checked_abs()
                    .ok_or_else(|| types::out_of_range(DataType::Int8))?,
            ),
            Value::Float4(x) => Value::Float4(x.abs()),
            Value::Float8(x) => Value::Float8(x.abs()),
            Value::Numeric(n) => Value::numeric(n.abs()),
            Value::Null => Value::Null,
            v => cast(v, DataType::Float8, -1, false).map(|v| match v {
                Value::Float8(x) => Value::Float8(x.abs()),
                o => o,
            })?,
        },
        Func::Round => {
            let v = arg(0);
            if v.is_null() || args.get(1).is_some_and(Value::is_null) {
                return Ok(Value::Null);
            }
            if ty == DataType::Float8 {
                Value::Float8(v.as_f64().unwrap_or(0.0).round_ties_even())
            } else {
                let n = v.as_numeric().ok_or_else(|| {
                    err!(
                        sqlstate::UNDEFINED_FUNCTION,
                        "function round({}) does not exist",
                        v.data_type().name()
                    )
                })?;
                let s = arg(1).as_i64().unwrap_or(0);
                Value::numeric(types::numeric_math::round(&n, s)?)
            }
        }
        Func::Concat => Value::Text(args.iter().filter_map(text_arg).collect()),
        Func::ConcatWs => match text_arg(&arg(0)) {
            None => Value::Null,
            Some(sep) => Value::Text(
                args[1..]
                    .iter()
                    .filter_map(text_arg)
                    .collect::<Vec<_>>()
                    .join(&sep),
            ),
        },
        Func::Replace => match (text_arg(&arg(0)), text_arg(&arg(1)), text_arg(&arg(2))) {
            (Some(s), Some(from), Some(to)) => Value::Text(if from.is_empty() {
                s
            } else {
                s.replace(&from, &to)
            }),
            _ => Value::Null,
        },
        Func::Substr => {
            let (Some(s), Some(from)) = (text_arg(&arg(0)), arg(1).as_i64()) else {
                return Ok(Value::Null);
            };
            let end = if args.len() > 2 {
                let Some(count) = arg(2).as_i64() else {
                    return Ok(Value::Null);
                };
                if count < 0 {
                    bail!("22011", "negative substring length not allowed");
                }
                from.saturating_add(count)
            } else {
                i64::MAX
            };
            let start = from.max(1);
            let out: String = s
                .chars()
                .enumerate()
                .filter(|(i, _)| {
                    let pos = *i as i64 + 1;
                    pos >= start && pos < end
                })
                .map(|(_, c)| c)
                .collect();
            Value::Text(out)
        }
        Func::Left | Func::Right => {
            let (Some(s), Some(n)) = (text_arg(&arg(0)), arg(1).as_i64()) else {
                return Ok(Value::Null);
            };
            let chars: Vec<char> = s.chars().collect();
            let len = chars.len() as i64;
            let keep = if n >= 0 { n.min(len) } else { (len + n).max(0) } as usize;
            Value::Text(if f == Func::Left {
                chars[..keep].iter().collect()
            } else {
                chars[chars.len() - keep..].iter().collect()
            })
        }
        Func::Repeat => {
            let (Some(s), Some(n)) = (text_arg(&arg(0)), arg(1).as_i64()) else {
                return Ok(Value::Null);
            };
            let n = n.max(0) as usize;
            if s.len().saturating_mul(n) > 1 << 30 {
                bail!(
                    sqlstate::PROGRAM_LIMIT_EXCEEDED,
                    "requested length too large"
                );
            }
            Value::Text(s.repeat(n))
        }
        Func::StrPos => match (text_arg(&arg(0)), text_arg(&arg(1))) {
            (Some(s), Some(sub)) => Value::Int4(match s.find(&sub) {
                Some(b) => s[..b].chars().count() as i32 + 1,
                None => 0,
            }),
            _ => Value::Null,
        },
        Func::Md5 => match text_arg(&arg(0)) {
            Some(s) => {
                use md5::{Digest, Md5};
                Value::Text(format!("{:x}", Md5::digest(s.as_bytes())))
            }
            None => Value::Null,
        },
        Func::Btrim | Func::Ltrim | Func::Rtrim => {
            let Some(s) = text_arg(&arg(0)) else {
                return Ok(Value::Null);
            };
            let set: Vec<char> = if args.len() > 1 {
                match text_arg(&arg(1)) {
                    Some(c) => c.chars().collect(),
                    None => return Ok(Value::Null),
                }
            } else {
                vec![' ']
            };
            let pred = |c: char| set.contains(&c);
            Value::Text(match f {
                Func::Btrim => s.trim_matches(pred).to_string(),
                Func::Ltrim => s.trim_start_matches(pred).to_string(),
                _ => s.trim_end_matches(pred).to_string(),
            })
        }
        Func::Reverse => {
            text_arg(&arg(0)).map_or(Value::Null, |s| Value::Text(s.chars().rev().collect()))
        }
        Func::Extract | Func::DatePart => {
            let (Some(field), v) = (text_arg(&arg(0)), arg(1)) else {
                return Ok(Value::Null);
            };
            if v.is_null() {
                return Ok(Value::Null);
            }
            let n = extract(&field.to_ascii_lowercase(), &v, &cx.format_options().zone)?;
            if f == Func::DatePart {
                use bigdecimal::ToPrimitive;
                Value::Float8(n.to_f64().unwrap_or(0.0))
            } else {
                Value::numeric(n)
            }
        }
        Func::DateTrunc => {
            let (Some(unit), v) = (text_arg(&arg(0)), arg(1)) else {
                return Ok(Value::Null);
            };
            let zone = cx.format_options().zone;
            match v {
                Value::Timestamp(t) => Value::Timestamp(trunc(&unit.to_ascii_lowercase(), t)?),
                Value::TimestampTz(t) => Value::TimestampTz(super::tz_funcs::trunc_in_zone(
                    &unit.to_ascii_lowercase(),
                    t,
                    &zone,
                )?),
                Value::Date(d) => Value::Timestamp(trunc(
                    &unit.to_ascii_lowercase(),
                    d as i64 * 86_400_000_000,
                )?),
                Value::Null => Value::Null,
                other => bail!(
                    sqlstate::UNDEFINED_FUNCTION,
                    "function date_trunc(unknown, {}) does not exist",
                    other.data_type().name()
                ),
            }
        }
        // The segment holding the byte before `lsn` on the current timeline (an LSN on
        // a segment boundary names the segment it ends), as PostgreSQL's
        // XLByteToPrevSeg; 0/0 wraps around the same way.
        Func::WalfileName => match arg(0) {
            Value::PgLsn(l) => {
                let seg = cx.engine.control_file().wal_segment_size.max(1) as u64;
                let segno = l.wrapping_sub(1) / seg;
                let per_id = 0x1_0000_0000u64 / seg;
                Value::Text(format!(
                    "{:08X}{:08X}{:08X}",
                    cx.engine.timeline(),
                    (segno / per_id) as u32,
                    (segno % per_id) as u32
                ))
            }
            _ => Value::Null,
        },
        Func::WalLsnDiff => match (arg(0), arg(1)) {
            (Value::PgLsn(a), Value::PgLsn(b)) => {
                Value::numeric(bigdecimal::BigDecimal::from(a as i128 - b as i128))
            }
            _ => Value::Null,
        },
        Func::CreatePhysicalSlot(_)
        | Func::DropReplicationSlot
        | Func::ReplicationSlotAdvance(_)
        | Func::SlotRestartLsn => slot_function(f, &args, cx)?,
        // ---- WAL retention (E) ----
        Func::Ddl(d) => return super::ddl::call(d, args, cx),
        Func::HasPrivilege(p) => return super::privileges::call(p, args, cx),
        Func::Catalog(c) => return super::catalog_funcs::call(c, args, cx),
        Func::Size(f) => return super::stat_funcs::call(f, args, cx),
        Func::ReleaseWalHold => {
            if !cx.is_superuser() {
                bail!(
                    sqlstate::INSUFFICIENT_PRIVILEGE,
                    "permission denied for function tusk_release_wal_hold"
                );
            }
            match arg(0) {
                Value::PgLsn(l) => {
                    Value::Bool(cx.engine.release_backup_hold(crate::storage::wal::Lsn(l)))
                }
                _ => Value::Null,
            }
        }
    })
}

// ---- replication slots ----

/// For a replication slot function in FROM (`SELECT * FROM
/// pg_create_physical_replication_slot('s')`): its result columns and the expressions
/// computing them from the bound arguments, evaluated left to right (the first does the
/// work, the second reads the slot's position afterwards).
pub fn slot_table_function(name: &str) -> Option<(Func, [(&'static str, DataType); 2])> {
    match name {
        "pg_create_physical_replication_slot" => Some((
            Func::CreatePhysicalSlot(true),
            [("slot_name", DataType::Name), ("lsn", DataType::PgLsn)],
        )),
        "pg_replication_slot_advance" => Some((
            Func::ReplicationSlotAdvance(true),
            [("slot_name", DataType::Name), ("end_lsn", DataType::PgLsn)],
        )),
        _ => None,
    }
}

/// PostgreSQL's `CheckSlotPermissions`: superuser or the REPLICATION attribute.
fn check_slot_permissions(cx: &ExecCtx<'_>) -> Result<()> {
    match cx.current_role() {
        Some(r) if r.superuser || r.replication => Ok(()),
        _ => bail!(
            sqlstate::INSUFFICIENT_PRIVILEGE,
            "must be superuser or replication role to use replication slots"
        ),
    }
}

/// Runs one of the replication slot functions.
fn slot_function(f: Func, args: &[Value], cx: &mut ExecCtx<'_>) -> Result<Value> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Null);
    let Some(slots) = cx.ctx.hooks.slots() else {
        bail!(
            sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
            "replication slots can only be used if max_replication_slots > 0"
        );
    };
    if f == Func::SlotRestartLsn {
        return Ok(text_arg(&arg(0))
            .and_then(|n| slots.get(&n))
            .and_then(|s| s.restart_lsn)
            .map(|l| Value::PgLsn(l.0))
            .unwrap_or(Value::Null));
    }
    check_slot_permissions(cx)?;
    // The functions are strict: NULL in, NULL out (nothing happens).
    if args.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let name = text_arg(&arg(0)).unwrap_or_default();
    let pid = cx.ctx.backend_pid;
    let record = |lsn: Option<u64>| {
        let lsn = lsn
            .map(|l| crate::storage::wal::Lsn(l).to_string())
            .unwrap_or_default();
        Value::Text(format!("({name},{lsn})"))
    };
    Ok(match f {
        Func::CreatePhysicalSlot(in_from) => {
            let reserve = matches!(arg(1), Value::Bool(true));
            let temporary = matches!(arg(2), Value::Bool(true));
            let info = slots.create(&name, temporary, reserve, pid)?;
            if in_from {
                Value::Text(info.name)
            } else {
                record(info.restart_lsn.map(|l| l.0))
            }
        }
        Func::DropReplicationSlot => {
            slots.drop_slot(&name, false)?;
            Value::Text(String::new())
        }
        Func::ReplicationSlotAdvance(in_from) => {
            let upto = match arg(1) {
                Value::PgLsn(l) => crate::storage::wal::Lsn(l),
                _ => bail!(sqlstate::INVALID_PARAMETER_VALUE, "invalid target WAL LSN"),
            };
            let end = slots.advance(&name, upto, pid)?;
            if in_from {
                Value::Text(name)
            } else {
                record(Some(end.0))
            }
        }
        _ => Value::Null,
    })
}

fn to_type(v: Value, ty: DataType) -> Result<Value> {
    if v.is_null() || v.data_type() == ty || ty == DataType::Unknown {
        return Ok(v);
    }
    if v.data_type().is_string() && ty.is_string() {
        return Ok(v);
    }
    cast(v, ty, -1, false)
}

fn civil(micros: i64) -> Result<chrono::NaiveDateTime> {
    let epoch = chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
        .unwrap_or_default()
        .and_time(chrono::NaiveTime::MIN);
    epoch
        .checked_add_signed(chrono::Duration::microseconds(micros))
        .ok_or_else(|| err!(sqlstate::DATETIME_FIELD_OVERFLOW, "timestamp out of range"))
}

fn from_civil(dt: chrono::NaiveDateTime) -> i64 {
    let epoch = chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
        .unwrap_or_default()
        .and_time(chrono::NaiveTime::MIN);
    (dt - epoch).num_microseconds().unwrap_or(0)
}

fn unit_error(unit: &str, ty: &str) -> crate::error::Error {
    err!(
        sqlstate::FEATURE_NOT_SUPPORTED,
        "unit \"{unit}\" not supported for type {ty}"
    )
}

/// `extract(field FROM v)` as numeric, as PostgreSQL 15 computes it.
fn extract(field: &str, v: &Value, zone: &types::timezone::Zone) -> Result<bigdecimal::BigDecimal> {
    use bigdecimal::BigDecimal;
    use chrono::{Datelike, Timelike};
    let scaled = |micros: i64, scale: i64| BigDecimal::new(micros.into(), scale);
    if let Some(r) = types::time::extract(field, v) {
        return r;
    }
    // The session zone's offset at a timestamptz's instant (0 for other types).
    let tz_offset_secs = match v {
        Value::TimestampTz(t) => zone.east_at(*t),
        _ => 0,
    };
    let (micros, is_date) = match v {
        Value::Timestamp(t) => (*t, false),
        Value::TimestampTz(t) => (*t + tz_offset_secs as i64 * 1_000_000, false),
        Value::Date(d) => (*d as i64 * 86_400_000_000, true),
        Value::Interval(i) => {
            let secs_in_day = i.micros;
            return Ok(match field {
                "epoch" => {
                    let total = (i.months as i128 * 30 + i.days as i128) * 86_400_000_000
                        + i.micros as i128;
                    BigDecimal::new(total.into(), 6)
                }
                "year" | "years" => BigDecimal::from(i.months / 12),
                "month" | "months" | "mon" => BigDecimal::from(i.months % 12),
                "day" | "days" => BigDecimal::from(i.days),
                "hour" | "hours" => BigDecimal::from(secs_in_day / 3_600_000_000),
                "minute" | "minutes" => BigDecimal::from((secs_in_day / 60_000_000) % 60),
                "second" | "seconds" => scaled(secs_in_day % 60_000_000, 6),
                other => return Err(unit_error(other, "interval")),
            });
        }
        other => bail!(
            sqlstate::UNDEFINED_FUNCTION,
            "function extract(unknown, {}) does not exist",
            other.data_type().name()
        ),
    };
    let is_tz = matches!(v, Value::TimestampTz(_));
    let dt = civil(micros)?;
    let sec_micros = dt.second() as i64 * 1_000_000 + (dt.nanosecond() / 1000) as i64;
    if is_date
        && matches!(
            field,
            "hour" | "minute" | "second" | "milliseconds" | "microseconds"
        )
    {
        return Err(unit_error(field, "date"));
    }
    Ok(match field {
        "year" | "years" => BigDecimal::from(dt.year()),
        "month" | "months" | "mon" => BigDecimal::from(dt.month()),
        "day" | "days" => BigDecimal::from(dt.day()),
        "hour" | "hours" => BigDecimal::from(dt.hour()),
        "minute" | "minutes" => BigDecimal::from(dt.minute()),
        "second" | "seconds" => scaled(sec_micros, 6),
        "milliseconds" | "millisecond" => scaled(sec_micros, 3),
        "microseconds" | "microsecond" => BigDecimal::from(sec_micros),
        "dow" => BigDecimal::from(dt.weekday().num_days_from_sunday()),
        "isodow" => BigDecimal::from(dt.weekday().number_from_monday()),
        "doy" => BigDecimal::from(dt.ordinal()),
        "quarter" => BigDecimal::from((dt.month() - 1) / 3 + 1),
        "week" => BigDecimal::from(dt.iso_week().week()),
        "decade" => BigDecimal::from(dt.year().div_euclid(10)),
        "century" => BigDecimal::from(if dt.year() > 0 {
            (dt.year() + 99) / 100
        } else {
            -((99 - dt.year()) / 100)
        }),
        "timezone" if is_tz => BigDecimal::from(tz_offset_secs),
        "timezone_hour" if is_tz => BigDecimal::from(tz_offset_secs / 3600),
        "timezone_minute" if is_tz => BigDecimal::from((tz_offset_secs / 60) % 60),
        "epoch" => {
            let unix = (micros
                - tz_offset_secs as i64 * 1_000_000 * matches!(v, Value::TimestampTz(_)) as i64)
                as i128
                + crate::types::POSTGRES_EPOCH_UNIX_SECS as i128 * 1_000_000;
            if is_date {
                BigDecimal::from((unix / 1_000_000) as i64)
            } else {
                BigDecimal::new(unix.into(), 6)
            }
        }
        other => {
            return Err(unit_error(
                other,
                if is_date {
                    "date"
                } else if is_tz {
                    "timestamp with time zone"
                } else {
                    "timestamp without time zone"
                },
            ))
        }
    })
}

/// `date_trunc(unit, timestamp)` on timestamp microseconds.
pub(super) fn trunc(unit: &str, micros: i64) -> Result<i64> {
    use chrono::{Datelike, NaiveDate, Timelike};
    let dt = civil(micros)?;
    let day = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
    let t = match unit {
        "microseconds" => return Ok(micros),
        "milliseconds" => return Ok(micros - micros.rem_euclid(1000)),
        "second" => dt.with_nanosecond(0).unwrap_or(dt),
        "minute" => dt
            .date()
            .and_hms_opt(dt.hour(), dt.minute(), 0)
            .unwrap_or(dt),
        "hour" => dt.date().and_hms_opt(dt.hour(), 0, 0).unwrap_or(dt),
        "day" => dt.date().and_hms_opt(0, 0, 0).unwrap_or(dt),
        "week" => {
            let d = dt.date() - chrono::Duration::days(dt.weekday().num_days_from_monday() as i64);
            d.and_hms_opt(0, 0, 0).unwrap_or(dt)
        }
        "month" => day(dt.year(), dt.month(), 1)
            .and_hms_opt(0, 0, 0)
            .unwrap_or(dt),
        "quarter" => day(dt.year(), (dt.month() - 1) / 3 * 3 + 1, 1)
            .and_hms_opt(0, 0, 0)
            .unwrap_or(dt),
        "year" => day(dt.year(), 1, 1).and_hms_opt(0, 0, 0).unwrap_or(dt),
        "decade" => day(dt.year().div_euclid(10) * 10, 1, 1)
            .and_hms_opt(0, 0, 0)
            .unwrap_or(dt),
        other => return Err(unit_error(other, "timestamp without time zone")),
    };
    Ok(from_civil(t))
}

/// The recovery information and control functions (`Func::Recovery`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryFn {
    /// `pg_last_wal_receive_lsn()`
    ReceiveLsn,
    /// `pg_last_wal_replay_lsn()`
    ReplayLsn,
    /// `pg_last_xact_replay_timestamp()`
    ReplayTimestamp,
    /// `pg_wal_replay_pause()`
    Pause,
    /// `pg_wal_replay_resume()`
    Resume,
    /// `pg_is_wal_replay_paused()`
    IsPaused,
    /// `pg_get_wal_replay_pause_state()`
    PauseState,
    /// `pg_promote(wait, wait_seconds)`: asks the standby to end recovery and, with
    /// `wait`, waits until it has (false and a WARNING when it did not in time).
    Promote,
}

/// Functions PostgreSQL refuses while the server is in recovery, with its errors.
fn refuse_during_recovery(f: Func) -> Result<()> {
    match f {
        Func::CurrentWalLsn
        | Func::CurrentWalWriteLsn
        | Func::CurrentWalFlushLsn
        | Func::SwitchWal
        | Func::CreateRestorePoint => Err(err!(
            sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
            "recovery is in progress"
        )
        .with_hint("WAL control functions cannot be executed during recovery.")),
        Func::WalfileName => Err(err!(
            sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
            "recovery is in progress"
        )
        .with_hint("pg_walfile_name() cannot be executed during recovery.")),
        Func::TxidCurrent => Err(err!(
            sqlstate::READ_ONLY_SQL_TRANSACTION,
            "cannot execute pg_current_xact_id() during recovery"
        )),
        _ => Ok(()),
    }
}

/// Calls one of the recovery functions.
fn recovery_call(f: RecoveryFn, args: &[Value], cx: &mut ExecCtx<'_>) -> Result<Value> {
    let engine = cx.engine;
    let lsn = |l: Option<crate::storage::Lsn>| l.map_or(Value::Null, |l| Value::PgLsn(l.0));
    let control = matches!(
        f,
        RecoveryFn::Pause
            | RecoveryFn::Resume
            | RecoveryFn::IsPaused
            | RecoveryFn::PauseState
            | RecoveryFn::Promote
    );
    if control {
        let name = match f {
            RecoveryFn::Pause => "pg_wal_replay_pause",
            RecoveryFn::Resume => "pg_wal_replay_resume",
            RecoveryFn::IsPaused => "pg_is_wal_replay_paused",
            RecoveryFn::Promote => "pg_promote",
            _ => "pg_get_wal_replay_pause_state",
        };
        if matches!(
            f,
            RecoveryFn::Pause | RecoveryFn::Resume | RecoveryFn::Promote
        ) && !cx.is_superuser()
        {
            bail!(
                sqlstate::INSUFFICIENT_PRIVILEGE,
                "permission denied for function {name}"
            );
        }
        if !engine.in_recovery() {
            return Err(err!(
                sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                "recovery is not in progress"
            )
            .with_hint("Recovery control functions can only be executed during recovery."));
        }
    }
    Ok(match f {
        RecoveryFn::ReceiveLsn => lsn(engine.receive_lsn()),
        RecoveryFn::ReplayLsn => lsn(engine.replay_lsn()),
        RecoveryFn::ReplayTimestamp => engine
            .last_replay_timestamp()
            .map_or(Value::Null, Value::TimestampTz),
        RecoveryFn::Pause => {
            engine.pause_replay();
            Value::Text(String::new())
        }
        RecoveryFn::Resume => {
            engine.resume_replay();
            Value::Text(String::new())
        }
        RecoveryFn::IsPaused => Value::Bool(
            engine.replay_pause_state() != crate::storage::recovery::PauseState::NotPaused,
        ),
        RecoveryFn::PauseState => Value::Text(engine.replay_pause_state().as_str().into()),
        RecoveryFn::Promote => {
            let wait = !matches!(args.first(), Some(Value::Bool(false)));
            let seconds = match args.get(1) {
                Some(Value::Int4(n)) => i64::from(*n),
                Some(Value::Int8(n)) => *n,
                Some(Value::Int2(n)) => i64::from(*n),
                _ => 60,
            };
            if seconds <= 0 {
                bail!(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "\"wait_seconds\" must not be negative or zero"
                );
            }
            engine.request_promotion();
            if !wait {
                return Ok(Value::Bool(true));
            }
            let until = std::time::Instant::now() + std::time::Duration::from_secs(seconds as u64);
            while engine.in_recovery() {
                if std::time::Instant::now() >= until {
                    let unit = if seconds == 1 { "second" } else { "seconds" };
                    cx.notices.push(
                        crate::error::Error::new(
                            sqlstate::WARNING,
                            format!("server did not promote within {seconds} {unit}"),
                        )
                        .with_severity(crate::error::Severity::Warning),
                    );
                    return Ok(Value::Bool(false));
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Value::Bool(true)
        }
    })
}

/// The common type of COALESCE / GREATEST / LEAST arguments (varchar reads as text),
/// None when the known types cannot be matched.
fn resolved_common(arg_types: &[DataType]) -> Option<DataType> {
    let t = super::type_funcs::common_type(arg_types.iter().copied(), "").ok()?;
    Some(if t == DataType::Varchar {
        DataType::Text
    } else {
        t
    })
}
