//! The size and statistics functions: `pg_relation_size`, `pg_table_size`,
//! `pg_indexes_size`, `pg_total_relation_size`, `pg_database_size` and
//! `pg_stat_force_next_flush`. What a size means in an in-memory engine is
//! `catalog::pg_stat`'s business; this module binds the calls and reads arguments.
//!
//! It also checks who may signal a backend (`pg_cancel_backend`,
//! `pg_terminate_backend`): a superuser's backend only a superuser, another role's
//! only a member of that role; an unknown pid is a WARNING and false, as PostgreSQL's
//! `pg_signal_backend`. The signal itself is the server's (`ServerHooks`).
//!
//! What it must never do: compute a size itself or return a made-up one.
//!
//! One call, `pg_total_relation_size('orders')`:
//! 1. [`lookup`] finds the function; the relation argument keeps its own type
//!    ([`arg_type`] gives none), so a name and an OID both reach [`call`];
//! 2. [`call`] resolves a name as `regclass` does (42P01 if unknown), then asks
//!    `catalog::pg_stat` for the table's and its indexes' sizes; an OID that is no
//!    relation gives NULL, as PostgreSQL.

use super::expr::Func;
use super::ExecCtx;
use crate::catalog::pg_stat;
use crate::error::{sqlstate, Error, Result, Severity};
use crate::types::{DataType, Value};

/// A size or statistics function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeFn {
    /// `pg_relation_size(regclass [, fork])`.
    RelationSize,
    /// `pg_table_size(regclass)`: the table without its indexes.
    TableSize,
    /// `pg_indexes_size(regclass)`.
    IndexesSize,
    /// `pg_total_relation_size(regclass)`: table and indexes.
    TotalRelationSize,
    /// `pg_database_size(name | oid)`.
    DatabaseSize,
    /// `pg_stat_force_next_flush()`: tusk's counts are read live, nothing is pending.
    ForceNextFlush,
}

/// Resolves a function by name and argument count.
pub fn lookup(name: &str, arg_types: &[DataType]) -> Option<(Func, DataType)> {
    let f = match (name, arg_types.len()) {
        ("pg_relation_size", 1 | 2) => SizeFn::RelationSize,
        ("pg_table_size", 1) => SizeFn::TableSize,
        ("pg_indexes_size", 1) => SizeFn::IndexesSize,
        ("pg_total_relation_size", 1) => SizeFn::TotalRelationSize,
        ("pg_database_size", 1) => SizeFn::DatabaseSize,
        ("pg_stat_force_next_flush", 0) => {
            return Some((Func::Size(SizeFn::ForceNextFlush), DataType::Void))
        }
        _ => return None,
    };
    Some((Func::Size(f), DataType::Int8))
}

/// The type argument `i` is coerced to: none for the relation or database (a name or
/// an OID), text for the fork.
pub fn arg_type(_f: SizeFn, i: usize) -> Option<DataType> {
    (i == 1).then_some(DataType::Text)
}

/// Evaluates a call: NULL for a NULL argument or an OID that names nothing.
pub fn call(f: SizeFn, args: Vec<Value>, cx: &mut ExecCtx<'_>) -> Result<Value> {
    if f == SizeFn::ForceNextFlush {
        return Ok(Value::Null);
    }
    if args.iter().any(|a| a.is_null()) {
        return Ok(Value::Null);
    }
    let db = cx.db_oid;
    let engine = cx.engine;
    let size =
        |n: Option<u64>| n.map_or(Value::Null, |n| Value::Int8(n.min(i64::MAX as u64) as i64));
    if f == SizeFn::DatabaseSize {
        return Ok(match &args[0] {
            Value::Oid(o) => size(pg_stat::database_size(engine, *o)),
            Value::Int4(o) => size(pg_stat::database_size(engine, *o as u32)),
            Value::Int8(o) => size(pg_stat::database_size(engine, *o as u32)),
            v => {
                let name = crate::types::format_text(v, &crate::types::FormatOptions::default());
                size(Some(pg_stat::database_size_by_name(engine, &name)?))
            }
        });
    }
    let oid =
        match super::catalog_funcs::to_reg(super::catalog_funcs::RegKind::Class, &args[0], cx)? {
            Value::Oid(o) => o,
            _ => return Ok(Value::Null),
        };
    let Some(main) = pg_stat::relation_size(engine, db, oid) else {
        return Ok(Value::Null);
    };
    Ok(match f {
        SizeFn::RelationSize => match args.get(1) {
            Some(Value::Text(fork)) => size(pg_stat::fork_size(engine, db, oid, fork)?),
            _ => size(Some(main)),
        },
        SizeFn::TableSize => size(Some(main)),
        SizeFn::IndexesSize => size(Some(pg_stat::indexes_size(engine, db, oid))),
        _ => size(Some(main + pg_stat::indexes_size(engine, db, oid))),
    })
}

/// `pg_cancel_backend(pid)` (`terminate` false) and `pg_terminate_backend(pid)`: the
/// privilege checks of PostgreSQL 15's `pg_signal_backend`, then the server's signal.
pub fn signal_backend(pid: i32, terminate: bool, cx: &mut ExecCtx<'_>) -> Result<Value> {
    let target = cx
        .engine
        .activity()
        .list()
        .into_iter()
        .find(|s| s.pid == pid);
    let Some(target) = target else {
        cx.notices.push(
            Error::new(
                sqlstate::WARNING,
                format!("PID {pid} is not a PostgreSQL backend process"),
            )
            .with_severity(Severity::Warning),
        );
        return Ok(Value::Bool(false));
    };
    let me = super::privileges::current_role_oid(cx);
    let db = cx.db_oid;
    let (target_super, member) = cx.engine.with_catalog(|c| {
        let owner = c.roles.values().find(|r| r.name == target.user);
        (
            owner.is_some_and(|r| r.superuser),
            owner.is_some_and(|r| crate::storage::acl::holds_in(c, db, me, r.oid)),
        )
    });
    let superuser = cx.is_superuser();
    let (what_super, what_member) = if terminate {
        (
            "must be a superuser to terminate superuser process",
            "must be a member of the role whose process is being terminated or member of pg_signal_backend",
        )
    } else {
        (
            "must be a superuser to cancel superuser query",
            "must be a member of the role whose query is being canceled or member of pg_signal_backend",
        )
    };
    if target_super && !superuser {
        return Err(Error::new(sqlstate::INSUFFICIENT_PRIVILEGE, what_super));
    }
    if !superuser && !member {
        return Err(Error::new(sqlstate::INSUFFICIENT_PRIVILEGE, what_member));
    }
    let hooks = &cx.ctx.hooks;
    Ok(Value::Bool(if terminate {
        hooks.terminate_backend(pid)
    } else {
        hooks.cancel_backend(pid)
    }))
}
