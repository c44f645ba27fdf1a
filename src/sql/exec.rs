//! The executor: runs planned statements against the engine inside the session's
//! transaction (scans, filters, joins, aggregation, sorting, DML, DDL and role
//! statements).

use super::expr::{eval, Expr};
use super::front::RoleOpt;
use super::plan::{
    index_path, AggFunc, AggSpec, CreateIndexPlan, CreateTablePlan, DeletePlan, IndexKey,
    InsertPlan, OnConflictPlan, SelectPlan, SetOpKind, Source, UpdatePlan,
};
use super::ExecCtx;
use crate::catalog::VirtualTable;
use crate::error::{sqlstate, Error, Result, Severity};
use crate::storage::schema::BOOTSTRAP_SUPERUSER;
use crate::storage::{
    CatalogChange, CatalogState, DatabaseInfo, IndexDef, RoleInfo, RowOutcome, TableDef,
};
use crate::types::{self, compare, encode_value, numeric_div, DataType, Value};
use crate::{bail, err};
use bigdecimal::{BigDecimal, Signed, Zero};
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;

fn check_cancel(cx: &ExecCtx<'_>) -> Result<()> {
    cx.check_interrupts()
}

fn is_true(v: &Value) -> bool {
    matches!(v, Value::Bool(true))
}

/// Evaluates a lookup value and casts it to an index column's type; None when the
/// column type cannot hold it exactly (the lookup is then not usable).
fn key_value(
    e: &Expr,
    col: &crate::storage::ColumnDef,
    cx: &mut ExecCtx<'_>,
) -> Result<Option<Value>> {
    let v = eval(e, &[], cx)?;
    if v.is_null() {
        return Ok(Some(v));
    }
    Ok(match types::cast(v, col.data_type, -1, false) {
        Ok(v) if v.data_type() == col.data_type || col.data_type.is_string() => Some(v),
        _ => None,
    })
}

/// Row versions as the engine returns them: (tuple id, values).
type Versions = Vec<(u64, Arc<Vec<Value>>)>;

/// The visible versions the filter's best secondary-index lookup returns (see
/// [`index_path`]), or None when no index applies.
fn index_rows(
    cx: &mut ExecCtx<'_>,
    db: u32,
    def: &TableDef,
    filter: Option<&Expr>,
) -> Result<Option<Versions>> {
    let rewritten = super::generated::index_filter(cx, db, def, filter)?;
    let Some(path) = index_path(def, rewritten.as_ref().or(filter)) else {
        return Ok(None);
    };
    let mut eq = Vec::with_capacity(path.eq.len());
    for (e, &c) in path.eq.iter().zip(&path.columns) {
        match key_value(e, &def.columns[c], cx)? {
            Some(v) => eq.push(v),
            None => return Ok(None),
        }
    }
    if let Some(any) = &path.any {
        return index_rows_any(cx, db, def, &path, eq, any);
    }
    let range = match &path.range {
        None => None,
        Some((lo, hi)) => {
            let col = &def.columns[path.columns[path.eq.len()]];
            let mut bound = |b: &Bound<Expr>| -> Result<Option<Bound<Value>>> {
                Ok(match b {
                    Bound::Unbounded => Some(Bound::Unbounded),
                    Bound::Included(e) => key_value(e, col, cx)?.map(Bound::Included),
                    Bound::Excluded(e) => key_value(e, col, cx)?.map(Bound::Excluded),
                })
            };
            let (Some(l), Some(h)) = (bound(lo)?, bound(hi)?) else {
                return Ok(None);
            };
            let null = |b: &Bound<Value>| matches!(b, Bound::Included(v) | Bound::Excluded(v) if v.is_null());
            if null(&l) || null(&h) {
                return Ok(Some(vec![])); // a comparison with NULL matches nothing
            }
            Some((l, h))
        }
    };
    Ok(cx
        .engine
        .lookup_index(cx.txn, db, def.oid, path.index, &eq, range))
}

/// The rows of an index lookup per value of a list (`IN`, `= ANY`, ORed equalities)
/// after the equality prefix `eq`; each row once.
fn index_rows_any(
    cx: &mut ExecCtx<'_>,
    db: u32,
    def: &TableDef,
    path: &super::plan::IndexPath,
    eq: Vec<Value>,
    any: &super::plan::AnyValues,
) -> Result<Option<Versions>> {
    let col = &def.columns[path.columns[eq.len()]];
    let values: Vec<Value> = match any {
        super::plan::AnyValues::List(list) => {
            let mut out = Vec::with_capacity(list.len());
            for e in list {
                out.push(eval(e, &[], cx)?);
            }
            out
        }
        super::plan::AnyValues::Array(e) => match eval(e, &[], cx)? {
            Value::Null => vec![],
            v => match types::array::ArrayValue::from_value(&v) {
                Some(a) => a.items,
                None => return Ok(None),
            },
        },
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for v in values {
        if v.is_null() {
            continue; // `col = NULL` matches nothing
        }
        let key = match types::cast(v, col.data_type, -1, false) {
            Ok(k) if k.data_type() == col.data_type || col.data_type.is_string() => k,
            // A value the column cannot hold exactly: let the filter decide on a scan.
            _ => return Ok(None),
        };
        let mut prefix = eq.clone();
        prefix.push(key);
        let Some(rows) = cx
            .engine
            .lookup_index(cx.txn, db, def.oid, path.index, &prefix, None)
        else {
            return Ok(None);
        };
        for (tid, row) in rows {
            if seen.insert(tid) {
                out.push((tid, row));
            }
        }
    }
    Ok(Some(out))
}

/// The visible versions of a table: through the primary-key index when the plan found
/// `pk = value` conjuncts, else through a secondary index the filter allows, else a
/// full scan. The caller still applies the filter.
fn table_rows(
    cx: &mut ExecCtx<'_>,
    db: u32,
    def: &TableDef,
    key: Option<&[Expr]>,
    filter: Option<&Expr>,
) -> Result<Vec<(u64, Arc<Vec<Value>>)>> {
    if let (Some(key), Some(pk)) = (key, def.primary_key.as_ref()) {
        let mut vals = Vec::with_capacity(key.len());
        let mut usable = true;
        for (e, &col) in key.iter().zip(pk) {
            let v = eval(e, &[], cx)?;
            if v.is_null() {
                return Ok(vec![]); // `pk = NULL` matches nothing
            }
            let c = &def.columns[col];
            match types::cast(v, c.data_type, -1, false) {
                Ok(v) if v.data_type() == c.data_type || c.data_type.is_string() => vals.push(v),
                // A value the key type cannot hold exactly: let the filter decide.
                _ => usable = false,
            }
        }
        if usable {
            return Ok(cx.engine.lookup_key(cx.txn, db, def.oid, &vals));
        }
    }
    if let Some(rows) = index_rows(cx, db, def, filter)? {
        return Ok(rows);
    }
    Ok(cx.engine.scan(cx.txn, db, def.oid))
}

/// Produces the rows of a FROM source.
pub(crate) fn source_rows(src: &Source, cx: &mut ExecCtx<'_>) -> Result<Vec<Vec<Value>>> {
    Ok(match src {
        Source::Single => vec![vec![]],
        Source::Table { db, def, key } => table_rows(cx, *db, def, key.as_deref(), None)?
            .into_iter()
            .map(|(_, r)| (*r).clone())
            .collect(),
        Source::Virtual(VirtualTable::PgSettings) => super::pg_settings_rows(cx.settings),
        Source::Virtual(VirtualTable::PgReplicationSlots) => cx
            .ctx
            .hooks
            .slots()
            .map(|s| s.view_rows())
            .unwrap_or_default(),
        Source::Virtual(VirtualTable::PgStatReplication) => {
            crate::replication::walsender::pg_stat_replication_rows(
                &cx.ctx.hooks.wal_senders(),
                cx.engine,
                &cx.ctx.user,
            )
        }
        Source::Virtual(VirtualTable::PgStatWalReceiver) => {
            crate::standby::walreceiver::pg_stat_wal_receiver_rows(cx.is_superuser())
        }
        Source::Virtual(VirtualTable::InfoSchema(v)) => {
            let role = super::privileges::current_role_oid(cx);
            let mut rows = cx.engine.with_catalog(|c| v.rows(c, cx.db_oid, role));
            if *v == crate::catalog::information_schema::IsView::Columns {
                rows.extend(super::ddl::view_columns_for_information_schema(cx, role));
            }
            rows
        }
        Source::Virtual(vt @ VirtualTable::Catalog(crate::catalog::pg_catalog::PgView::Views)) => {
            super::viewdef::pg_views_definitions(
                cx.engine,
                cx.db_oid,
                vt.rows(cx.engine, cx.db_oid),
            )
        }
        Source::Virtual(vt @ VirtualTable::Catalog(crate::catalog::pg_catalog::PgView::Depend)) => {
            let mut rows = vt.rows(cx.engine, cx.db_oid);
            rows.extend(super::viewdef::view_depend_rows(cx.engine, cx.db_oid));
            rows
        }
        Source::Virtual(VirtualTable::Stat(v)) => {
            let reader = crate::catalog::pg_stat::Reader {
                user: cx.ctx.user.clone(),
                superuser: cx.is_superuser(),
            };
            v.rows(cx.engine, cx.db_oid, &reader)
        }
        Source::Virtual(
            vt @ VirtualTable::Catalog(crate::catalog::pg_catalog::PgView::Attribute),
        ) => {
            let mut rows = vt.rows(cx.engine, cx.db_oid);
            rows.extend(super::ddl::view_columns_for_pg_attribute(cx));
            rows
        }
        Source::Virtual(vt) => vt.rows(cx.engine, cx.db_oid),
        Source::Subquery(p) => run_select(p, cx)?,
        Source::DistinctOn(p, keys) => {
            let mut seen = HashSet::new();
            let mut rows = run_select(p, cx)?;
            rows.retain(|r| {
                let k: Vec<Value> = keys.iter().map(|i| r[*i].clone()).collect();
                seen.insert(key_bytes(&k))
            });
            rows
        }
        Source::WithTies {
            input,
            count,
            offset,
            order,
        } => super::ties::run_with_ties(input, count, offset.as_ref(), order, cx)?,
        Source::Window(w) => super::window::run_window(w, cx)?,
        Source::RecursiveCte(r) => super::cte::run_recursive(r, cx)?,
        Source::WorkTable(w) => super::cte::work_table_rows(w, cx)?,
        Source::SetOp {
            op,
            all,
            left,
            right,
            types,
        } => {
            let conv = |rows: Vec<Vec<Value>>| -> Result<Vec<Vec<Value>>> {
                rows.into_iter()
                    .map(|r| {
                        r.into_iter()
                            .zip(types)
                            .map(|(v, t)| {
                                if v.is_null() || v.data_type() == *t || t.is_string() {
                                    Ok(v)
                                } else {
                                    types::cast(v, *t, -1, false)
                                }
                            })
                            .collect()
                    })
                    .collect()
            };
            let l = conv(run_select(left, cx)?)?;
            let r = conv(run_select(right, cx)?)?;
            set_operation(*op, *all, l, r)
        }
        Source::Series(start, stop, step, ty) => {
            let (a, b) = (eval(start, &[], cx)?, eval(stop, &[], cx)?);
            let st = match step {
                Some(e) => eval(e, &[], cx)?,
                None => Value::Int4(1),
            };
            if a.is_null() || b.is_null() || st.is_null() {
                return Ok(vec![]);
            }
            if matches!(ty, DataType::Timestamp | DataType::TimestampTz) {
                return super::tz_funcs::series(a, b, st, *ty, cx);
            }
            let (a, b, st) = (
                a.as_numeric().unwrap_or_default(),
                b.as_numeric().unwrap_or_default(),
                st.as_numeric().unwrap_or_default(),
            );
            if st.is_zero() {
                bail!(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "step size cannot equal zero"
                );
            }
            let up = st.is_positive();
            let mut out = Vec::new();
            let mut cur = a;
            while (up && cur <= b) || (!up && cur >= b) {
                if out.len() % 4096 == 0 {
                    check_cancel(cx)?;
                }
                out.push(vec![types::cast(
                    Value::numeric(cur.clone()),
                    *ty,
                    -1,
                    true,
                )?]);
                cur += st.clone();
            }
            out
        }
        Source::Srf(call) => super::type_funcs::run_srf(call, cx)?,
        Source::RegexRows(call) => super::regex_funcs::run_rows(call, cx)?,
        Source::Values(rows) => {
            let mut out = Vec::new();
            for r in rows {
                let mut row = Vec::new();
                for e in r {
                    row.push(eval(e, &[], cx)?);
                }
                out.push(row);
            }
            out
        }
        Source::Join {
            left,
            right,
            on,
            left_outer,
            right_width,
            right_outer,
        } => super::join::run_join(
            left,
            right,
            on.as_ref(),
            super::join::Outer {
                left: *left_outer,
                right: *right_outer,
                right_width: *right_width,
            },
            cx,
        )?,
        Source::Lateral(j) => super::lateral::run(j, cx)?,
        Source::DmlCte(d) => super::cte::run_dml_cte(d, cx)?,
    })
}

/// UNION / INTERSECT / EXCEPT with PostgreSQL's duplicate rules (ALL keeps
/// multiplicities; without ALL the result has no duplicates).
fn set_operation(
    op: SetOpKind,
    all: bool,
    l: Vec<Vec<Value>>,
    r: Vec<Vec<Value>>,
) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    match op {
        SetOpKind::Union => {
            out = l;
            out.extend(r);
            if !all {
                let mut seen = HashSet::new();
                out.retain(|row| seen.insert(key_bytes(row)));
            }
        }
        SetOpKind::Intersect | SetOpKind::Except => {
            let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
            for row in &r {
                *counts.entry(key_bytes(row)).or_default() += 1;
            }
            let mut seen = HashSet::new();
            for row in l {
                let k = key_bytes(&row);
                let in_right = counts.get(&k).copied().unwrap_or(0);
                let keep = match (op, all) {
                    (SetOpKind::Intersect, true) => {
                        if in_right > 0 {
                            counts.insert(k.clone(), in_right - 1);
                            true
                        } else {
                            false
                        }
                    }
                    (SetOpKind::Intersect, false) => in_right > 0 && seen.insert(k),
                    (_, true) => {
                        if in_right > 0 {
                            counts.insert(k.clone(), in_right - 1);
                            false
                        } else {
                            true
                        }
                    }
                    (_, false) => in_right == 0 && seen.insert(k),
                };
                if keep {
                    out.push(row);
                }
            }
        }
    }
    out
}

/// An aggregate's running state.
pub(crate) enum Acc {
    Count(i64),
    SumInt(Option<i128>),
    SumNum(Option<BigDecimal>),
    SumFloat(Option<f64>),
    MinMax(Option<Value>),
    AvgNum(BigDecimal, i64),
    AvgFloat(f64, i64),
    StringAgg(Option<String>),
    Bool(Option<bool>),
    Collect(Vec<(Value, Value)>),
    Stat(super::aggregate::StatAcc),
}

pub(crate) fn new_acc(a: &AggSpec) -> Acc {
    let at = a.arg.as_ref().map(|x| x.ty()).unwrap_or(DataType::Int8);
    match a.func {
        AggFunc::CountStar | AggFunc::Count => Acc::Count(0),
        AggFunc::Sum => match at {
            DataType::Int2 | DataType::Int4 => Acc::SumInt(None),
            DataType::Float4 | DataType::Float8 => Acc::SumFloat(None),
            _ => Acc::SumNum(None),
        },
        AggFunc::Min | AggFunc::Max => Acc::MinMax(None),
        AggFunc::StringAgg => Acc::StringAgg(None),
        AggFunc::BoolAnd | AggFunc::BoolOr => Acc::Bool(None),
        AggFunc::Collect(_) | AggFunc::OrderedSet(_) => Acc::Collect(Vec::new()),
        AggFunc::Stat(_) => Acc::Stat(match at {
            DataType::Float4 | DataType::Float8 => super::aggregate::StatAcc::Float(0.0, 0.0, 0.0),
            _ => super::aggregate::StatAcc::Exact(0, BigDecimal::from(0), BigDecimal::from(0)),
        }),
        AggFunc::Avg => match at {
            DataType::Float4 | DataType::Float8 => Acc::AvgFloat(0.0, 0),
            _ => Acc::AvgNum(BigDecimal::from(0), 0),
        },
    }
}

pub(crate) fn feed(acc: &mut Acc, spec: &AggSpec, v: Value, sep: Value) {
    if spec.func == AggFunc::CountStar {
        if let Acc::Count(n) = acc {
            *n += 1;
        }
        return;
    }
    if let Acc::Collect(items) = acc {
        items.push((v, sep));
        return;
    }
    if v.is_null() {
        return;
    }
    match acc {
        Acc::Count(n) => *n += 1,
        Acc::SumInt(s) => *s = Some(s.unwrap_or(0) + v.as_i64().unwrap_or(0) as i128),
        Acc::SumNum(s) => {
            let x = v.as_numeric().unwrap_or_default();
            *s = Some(match s.take() {
                Some(t) => t + x,
                None => x,
            })
        }
        Acc::SumFloat(s) => *s = Some(s.unwrap_or(0.0) + v.as_f64().unwrap_or(0.0)),
        Acc::MinMax(m) => {
            let replace = match m {
                None => true,
                Some(cur) => {
                    let o = compare(&v, cur);
                    (spec.func == AggFunc::Min && o == Ordering::Less)
                        || (spec.func == AggFunc::Max && o == Ordering::Greater)
                }
            };
            if replace {
                *m = Some(v);
            }
        }
        Acc::AvgNum(s, n) => {
            *s = s.clone() + v.as_numeric().unwrap_or_default();
            *n += 1;
        }
        Acc::AvgFloat(s, n) => {
            *s += v.as_f64().unwrap_or(0.0);
            *n += 1;
        }
        Acc::StringAgg(s) => {
            let text = v.as_str().unwrap_or_default();
            match s {
                None => *s = Some(text.to_string()),
                Some(acc) => {
                    if let Value::Text(sep) = sep {
                        acc.push_str(&sep);
                    }
                    acc.push_str(text);
                }
            }
        }
        Acc::Bool(b) => {
            let x = matches!(v, Value::Bool(true));
            *b = Some(match (*b, spec.func) {
                (None, _) => x,
                (Some(c), AggFunc::BoolAnd) => c && x,
                (Some(c), _) => c || x,
            });
        }
        Acc::Collect(items) => items.push((v, sep)),
        Acc::Stat(st) => st.add(&v),
    }
}

pub(crate) fn finish_acc(acc: Acc, spec: &AggSpec) -> Result<Value> {
    Ok(match acc {
        Acc::Count(n) => Value::Int8(n),
        Acc::SumInt(s) => match s {
            None => Value::Null,
            Some(x) => {
                Value::Int8(i64::try_from(x).map_err(|_| types::out_of_range(DataType::Int8))?)
            }
        },
        Acc::SumNum(s) => s.map(Value::numeric).unwrap_or(Value::Null),
        Acc::SumFloat(s) => match s {
            None => Value::Null,
            Some(x) if spec.ty == DataType::Float4 => Value::Float4(x as f32),
            Some(x) => Value::Float8(x),
        },
        Acc::MinMax(m) => m.unwrap_or(Value::Null),
        Acc::AvgNum(s, n) => {
            if n == 0 {
                Value::Null
            } else {
                Value::numeric(numeric_div(&s, &BigDecimal::from(n))?)
            }
        }
        Acc::AvgFloat(s, n) => {
            if n == 0 {
                Value::Null
            } else {
                Value::Float8(s / n as f64)
            }
        }
        Acc::StringAgg(s) => s.map(Value::Text).unwrap_or(Value::Null),
        Acc::Bool(b) => b.map(Value::Bool).unwrap_or(Value::Null),
        Acc::Stat(st) => match spec.func {
            AggFunc::Stat(s) => st.finish(s)?,
            _ => Value::Null,
        },
        Acc::Collect(items) => match spec.func {
            AggFunc::Collect(c) => super::type_funcs::finish_collect_typed(c, items, spec.ty)?,
            AggFunc::OrderedSet(o) => super::aggregate::finish_ordered_set(o, items)?,
            _ => Value::Null,
        },
    })
}

/// The bytes two rows share exactly when they are not distinct (numerics normalized).
pub(crate) fn key_bytes(vals: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in vals {
        let v = match v {
            Value::Numeric(n) => Value::numeric(n.normalized()),
            other => other.clone(),
        };
        encode_value(&v, &mut out);
    }
    out
}

/// One group's key values, aggregate states and DISTINCT sets.
type GroupState = (
    Vec<Value>,
    Vec<Acc>,
    Vec<HashSet<Vec<u8>>>,
    Vec<Vec<super::aggregate::Sorted>>,
);

/// Runs a SELECT plan, returning its output rows.
pub fn run_select(p: &SelectPlan, cx: &mut ExecCtx<'_>) -> Result<Vec<Vec<Value>>> {
    super::depth::with_stack(|| run_select_here(p, cx))
}

/// A row a SELECT filters, groups and projects: a table's version as the heap shares
/// it (never copied: projection takes only the columns it names), or one made here (a
/// join's, a function's, a group's).
enum InputRow {
    Shared(Arc<Vec<Value>>),
    Owned(Vec<Value>),
}

impl std::ops::Deref for InputRow {
    type Target = [Value];
    fn deref(&self) -> &[Value] {
        match self {
            InputRow::Shared(r) => r,
            InputRow::Owned(r) => r,
        }
    }
}

/// [`run_select`] on the stack it was called on.
fn run_select_here(p: &SelectPlan, cx: &mut ExecCtx<'_>) -> Result<Vec<Vec<Value>>> {
    let mut rows: Vec<InputRow> = Vec::new();
    let ordered = super::plan::ordered_index(p);
    if let (Some((index, _, desc)), Source::Table { db, def, .. }) = (ordered, &p.source) {
        // ORDER BY an indexed column with LIMIT: read the index in order and stop once
        // OFFSET + LIMIT rows passed the filter (the sort below then keeps their order).
        let need = limit_value(p.limit.as_ref(), cx)?
            .unwrap_or(usize::MAX)
            .saturating_add(offset_value(p.offset.as_ref(), cx)?);
        let mut cur = crate::storage::IndexCursor {
            index,
            desc,
            after: None,
            done: false,
        };
        while rows.len() < need && !cur.done {
            let want = (need - rows.len()).clamp(16, 4096);
            let batch = cx
                .engine
                .ordered_batch(cx.txn, *db, def.oid, &mut cur, want);
            check_cancel(cx)?;
            for (_, r) in batch {
                if let Some(f) = &p.filter {
                    if !is_true(&eval(f, &r, cx)?) {
                        continue;
                    }
                }
                rows.push(InputRow::Shared(r));
            }
        }
    } else if let Source::Table { db, def, key } = &p.source {
        // Filter the shared row versions before copying the survivors.
        for (n, (tid, r)) in table_rows(cx, *db, def, key.as_deref(), p.filter.as_ref())?
            .into_iter()
            .enumerate()
        {
            if n % 4096 == 0 {
                check_cancel(cx)?;
            }
            if let Some(f) = &p.filter {
                if !is_true(&eval(f, &r, cx)?) {
                    continue;
                }
            }
            let r = match &p.lock {
                Some(lock) => match lock_row(p, *db, def.oid, tid, r, *lock, cx)? {
                    Some(r) => r,
                    None => continue,
                },
                None => r,
            };
            rows.push(InputRow::Shared(r));
        }
    } else {
        for (n, r) in source_rows(&p.source, cx)?.into_iter().enumerate() {
            if n % 4096 == 0 {
                check_cancel(cx)?;
            }
            if let Some(f) = &p.filter {
                if !is_true(&eval(f, &r, cx)?) {
                    continue;
                }
            }
            rows.push(InputRow::Owned(r));
        }
    }
    if let Some(g) = &p.group {
        let mut order: Vec<Vec<u8>> = Vec::new();
        // One hash look-up per row (FxHash: the keys are tusk's own encodings).
        let mut groups: rustc_hash::FxHashMap<Vec<u8>, GroupState> = Default::default();
        for r in &rows {
            let mut keys = Vec::with_capacity(g.keys.len());
            for k in &g.keys {
                keys.push(eval(k, r, cx)?);
            }
            let entry = match groups.entry(key_bytes(&keys)) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    order.push(e.key().clone());
                    e.insert((
                        keys,
                        g.aggs.iter().map(new_acc).collect(),
                        g.aggs.iter().map(|_| HashSet::new()).collect(),
                        g.aggs.iter().map(|_| Vec::new()).collect(),
                    ))
                }
            };
            for (i, spec) in g.aggs.iter().enumerate() {
                if let Some(f) = &spec.filter {
                    if !is_true(&eval(f, r, cx)?) {
                        continue;
                    }
                }
                let v = match &spec.arg {
                    Some(a) => eval(a, r, cx)?,
                    None => Value::Null,
                };
                if spec.distinct
                    && !v.is_null()
                    && !entry.2[i].insert(key_bytes(std::slice::from_ref(&v)))
                {
                    continue;
                }
                let sep = match &spec.arg2 {
                    Some(a) => eval(a, r, cx)?,
                    None => Value::Null,
                };
                if !spec.order.is_empty() {
                    entry.3[i].push(super::aggregate::sort_input(spec, v, sep, r, cx)?);
                    continue;
                }
                feed(&mut entry.1[i], spec, v, sep);
            }
        }
        if groups.is_empty() && g.keys.is_empty() {
            order.push(vec![]);
            groups.insert(
                vec![],
                (
                    vec![],
                    g.aggs.iter().map(new_acc).collect(),
                    g.aggs.iter().map(|_| HashSet::new()).collect(),
                    g.aggs.iter().map(|_| Vec::new()).collect(),
                ),
            );
        }
        let mut grouped = Vec::new();
        for kb in order {
            let Some((keys, accs, _, sorted)) = groups.remove(&kb) else {
                continue;
            };
            let mut row = keys;
            for ((mut acc, spec), inputs) in accs.into_iter().zip(&g.aggs).zip(sorted) {
                for (v, sep) in super::aggregate::in_order(spec, inputs) {
                    feed(&mut acc, spec, v, sep);
                }
                row.push(finish_acc(acc, spec)?);
            }
            if let Some(h) = &g.having {
                if !is_true(&eval(h, &row, cx)?) {
                    continue;
                }
            }
            grouped.push(row);
        }
        rows = grouped.into_iter().map(InputRow::Owned).collect();
    }
    // Project (output columns plus hidden sort keys).
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut o = Vec::with_capacity(p.exprs.len());
        for e in &p.exprs {
            o.push(eval(e, r, cx)?);
        }
        out.push(o);
    }
    if p.distinct {
        let mut seen = HashSet::new();
        out.retain(|r| seen.insert(key_bytes(&r[..p.visible])));
    }
    if !p.order.is_empty() {
        out.sort_by(|a, b| {
            for &(i, desc, nulls_first) in &p.order {
                let o = super::aggregate::compare_key(&a[i], &b[i], desc, nulls_first);
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
    }
    let offset = offset_value(p.offset.as_ref(), cx)?;
    let limit = limit_value(p.limit.as_ref(), cx)?;
    let mut out: Vec<Vec<Value>> = out.into_iter().skip(offset).collect();
    if let Some(l) = limit {
        out.truncate(l);
    }
    for r in &mut out {
        r.truncate(p.visible);
    }
    Ok(out)
}

/// OFFSET's value (0 when absent or NULL; 2201X when negative).
fn offset_value(e: Option<&Expr>, cx: &mut ExecCtx<'_>) -> Result<usize> {
    Ok(match e {
        Some(e) => match eval(e, &[], cx)? {
            Value::Null => 0,
            v => {
                let n = v.as_i64().unwrap_or(0);
                if n < 0 {
                    bail!("2201X", "OFFSET must not be negative");
                }
                n as usize
            }
        },
        None => 0,
    })
}

/// LIMIT's value (None when absent or NULL; 2201W when negative).
fn limit_value(e: Option<&Expr>, cx: &mut ExecCtx<'_>) -> Result<Option<usize>> {
    Ok(match e {
        Some(e) => match eval(e, &[], cx)? {
            Value::Null => None,
            v => {
                let n = v.as_i64().unwrap_or(0);
                if n < 0 {
                    bail!("2201W", "LIMIT must not be negative");
                }
                Some(n as usize)
            }
        },
        None => None,
    })
}

/// Checks NOT NULL constraints on a full row.
pub fn check_not_null(def: &TableDef, row: &[Value]) -> Result<()> {
    for (c, v) in def.columns.iter().zip(row) {
        if c.not_null && v.is_null() {
            let shown: Vec<String> = row
                .iter()
                .zip(&def.columns)
                .filter(|(_, c)| !c.dropped)
                .map(|(v, _)| {
                    if v.is_null() {
                        "null".to_string()
                    } else {
                        types::format_text(v, &types::FormatOptions::default())
                    }
                })
                .collect();
            return Err(err!(
                sqlstate::NOT_NULL_VIOLATION,
                "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                c.name,
                def.name
            )
            .with_detail(format!("Failing row contains ({}).", shown.join(", ")))
            .with_table(def.name.clone())
            .with_column(c.name.clone()));
        }
    }
    Ok(())
}

fn returning_row(
    ret: &Option<super::plan::Returning>,
    row: &[Value],
    cx: &mut ExecCtx<'_>,
    out: &mut Vec<Vec<Value>>,
) -> Result<()> {
    if let Some(r) = ret {
        let mut o = Vec::with_capacity(r.exprs.len());
        for e in &r.exprs {
            o.push(eval(e, row, cx)?);
        }
        out.push(o);
    }
    Ok(())
}

/// Runs an INSERT; returns (row count, RETURNING rows).
pub fn run_insert(p: &InsertPlan, cx: &mut ExecCtx<'_>) -> Result<(u64, Vec<Vec<Value>>)> {
    let mut full_rows = Vec::new();
    if let Some((q, exprs)) = &p.query {
        for qr in run_select(q, cx)? {
            let mut row = Vec::with_capacity(exprs.len());
            for e in exprs {
                row.push(eval(e, &qr, cx)?);
            }
            full_rows.push(row);
        }
    } else {
        for r in &p.rows {
            let mut row = Vec::with_capacity(r.len());
            for e in r {
                row.push(eval(e, &[], cx)?);
            }
            full_rows.push(row);
        }
    }
    let mut out = Vec::new();
    let mut n = 0;
    // Asked once for the statement, not for every row: whether the table's own foreign
    // keys check each row, and its CHECK constraints bound.
    let references = !super::fkeys::own(cx, p.db, p.table.oid).is_empty();
    let checks = super::ddl::row_checks(cx, p.db, &p.table)?;
    // A row is needed after the engine took it only for a foreign key's check,
    // RETURNING, or ON CONFLICT's look-up of the version it ran into; otherwise it is
    // handed over without a copy.
    let keep = references || p.returning.is_some() || p.on_conflict.is_some();
    // Versions this command inserted or updated (ON CONFLICT may not touch one twice;
    // only it reads them).
    let mut touched: HashSet<u64> = HashSet::new();
    for mut row in full_rows {
        super::ddl::prepare_row_with(cx, p.db, &p.table, &checks, &mut row)?;
        if !keep {
            cx.engine.insert(cx.txn, p.db, p.table.oid, row)?;
            n += 1;
            continue;
        }
        let err = match cx.engine.insert(cx.txn, p.db, p.table.oid, row.clone()) {
            Ok(tid) => {
                if p.on_conflict.is_some() {
                    touched.insert(tid);
                }
                if references {
                    super::fkeys::after_insert(cx, p.db, &p.table, &row)?;
                }
                returning_row(&p.returning, &row, cx, &mut out)?;
                n += 1;
                continue;
            }
            Err(e) => e,
        };
        let Some(oc) = &p.on_conflict else {
            return Err(err);
        };
        if err.code != sqlstate::UNIQUE_VIOLATION {
            return Err(err);
        }
        // Only the arbiter's violations are handled (any, without a target).
        if let Some(a) = &p.arbiter {
            if !err.message.ends_with(&format!("\"{}\"", a.name)) {
                return Err(err);
            }
        }
        let OnConflictPlan::Update { sets, filter } = oc else {
            continue; // DO NOTHING
        };
        let Some(arbiter) = &p.arbiter else {
            return Err(err);
        };
        // DO UPDATE: the conflicting version as committed now (READ COMMITTED).
        cx.engine.new_snapshot(cx.txn);
        let key: Vec<Value> = arbiter.columns.iter().map(|&c| row[c].clone()).collect();
        let find = |cx: &mut ExecCtx<'_>| match arbiter.index {
            None => cx.engine.lookup_key(cx.txn, p.db, p.table.oid, &key),
            Some(ix) => cx
                .engine
                .lookup_index(cx.txn, p.db, p.table.oid, ix, &key, None)
                .unwrap_or_default(),
        };
        let Some((mut tid, mut existing)) = find(cx).into_iter().next() else {
            return Err(err);
        };
        loop {
            if touched.contains(&tid) {
                return Err(err!(
                    sqlstate::CARDINALITY_VIOLATION,
                    "ON CONFLICT DO UPDATE command cannot affect row a second time"
                )
                .with_hint("Ensure that no rows proposed for insertion within the same command have duplicate constrained values."));
            }
            let mut both = (*existing).clone();
            both.extend(row.iter().cloned());
            if let Some(f) = filter {
                if !is_true(&eval(f, &both, cx)?) {
                    break;
                }
            }
            let mut new = (*existing).clone();
            for (c, e) in sets {
                new[*c] = eval(e, &both, cx)?;
            }
            super::ddl::prepare_row(cx, p.db, &p.table, &mut new)?;
            match cx
                .engine
                .update(cx.txn, p.db, p.table.oid, tid, new.clone())?
            {
                RowOutcome::Done => {
                    super::fkeys::after_update(cx, p.db, &p.table, &existing, &new)?;
                    let after = find(cx);
                    touched.extend(after.iter().map(|(t, _)| *t));
                    returning_row(&p.returning, &new, cx, &mut out)?;
                    n += 1;
                }
                RowOutcome::Gone => return Err(err),
                RowOutcome::Moved(..) if cx.serializable => return Err(concurrent_update()),
                RowOutcome::Moved(next, r) => {
                    tid = next;
                    existing = r;
                    continue;
                }
            }
            break;
        }
    }
    Ok((n, out))
}

/// Locks one row for SELECT … FOR UPDATE/SHARE. READ COMMITTED follows a concurrent
/// committed update to the newest version and re-checks the filter there (PostgreSQL's
/// EvalPlanQual); REPEATABLE READ fails with 40001. `None`: the row drops out.
fn lock_row(
    p: &SelectPlan,
    db: u32,
    rel: u32,
    mut tid: u64,
    mut row: Arc<Vec<Value>>,
    lock: crate::sql::plan::RowLock,
    cx: &mut ExecCtx<'_>,
) -> Result<Option<Arc<Vec<Value>>>> {
    loop {
        match cx
            .engine
            .lock_row(cx.txn, db, rel, tid, lock.exclusive, lock.wait)?
        {
            RowOutcome::Done => return Ok(Some(row)),
            RowOutcome::Gone => return Ok(None),
            RowOutcome::Moved(..) if cx.serializable => return Err(concurrent_update()),
            RowOutcome::Moved(next, newer) => {
                if let Some(f) = &p.filter {
                    if !is_true(&eval(f, &newer, cx)?) {
                        return Ok(None);
                    }
                }
                tid = next;
                row = newer;
            }
        }
    }
}

/// REPEATABLE READ / SERIALIZABLE: the row was updated by a transaction that committed
/// after this transaction's snapshot.
fn concurrent_update() -> Error {
    Error::new(
        sqlstate::SERIALIZATION_FAILURE,
        "could not serialize access due to concurrent update",
    )
}

/// Runs an UPDATE; returns (row count, RETURNING rows).
pub fn run_update(p: &UpdatePlan, cx: &mut ExecCtx<'_>) -> Result<(u64, Vec<Vec<Value>>)> {
    let rows = dml_targets(
        cx,
        p.db,
        &p.table,
        p.key.as_deref(),
        p.filter.as_ref(),
        p.from.as_ref(),
    )?;
    let mut out = Vec::new();
    let mut n = 0;
    for (i, (tid, old, other)) in rows.into_iter().enumerate() {
        if i % 1024 == 0 {
            check_cancel(cx)?;
        }
        // READ COMMITTED: if a concurrent UPDATE committed first, re-check its newest
        // version and apply the change there (PostgreSQL's EvalPlanQual).
        let (mut tid, mut old) = (tid, old);
        loop {
            let input = with_other(&old, &other);
            let mut new = (*old).clone();
            for (c, e) in &p.sets {
                new[*c] = eval(e, &input, cx)?;
            }
            super::ddl::prepare_row(cx, p.db, &p.table, &mut new)?;
            match cx
                .engine
                .update(cx.txn, p.db, p.table.oid, tid, new.clone())?
            {
                RowOutcome::Done => {
                    super::fkeys::after_update(cx, p.db, &p.table, &old, &new)?;
                    n += 1;
                    returning_row(&p.returning, &with_other(&new, &other), cx, &mut out)?;
                }
                RowOutcome::Gone => {}
                RowOutcome::Moved(..) if cx.serializable => return Err(concurrent_update()),
                RowOutcome::Moved(next, row) => {
                    if let Some(f) = &p.filter {
                        if !is_true(&eval(f, &with_other(&row, &other), cx)?) {
                            break;
                        }
                    }
                    tid = next;
                    old = row;
                    continue;
                }
            }
            break;
        }
    }
    Ok((n, out))
}

/// A target row followed by the other FROM items' row it joined (as is when there is
/// none).
fn with_other<'r>(row: &'r [Value], other: &[Value]) -> std::borrow::Cow<'r, [Value]> {
    if other.is_empty() {
        return std::borrow::Cow::Borrowed(row);
    }
    let mut v = Vec::with_capacity(row.len() + other.len());
    v.extend_from_slice(row);
    v.extend_from_slice(other);
    std::borrow::Cow::Owned(v)
}

/// A row an UPDATE or DELETE acts on: its tuple id, its values, and the other FROM
/// items' row it joined (empty without them).
type DmlTarget = (u64, Arc<Vec<Value>>, Vec<Value>);

/// The rows an UPDATE or DELETE acts on, each with the row of the other FROM items
/// (`UPDATE … FROM`, `DELETE … USING`) that WHERE matched it with — the first one, as
/// PostgreSQL uses only one of several (empty without other items).
fn dml_targets(
    cx: &mut ExecCtx<'_>,
    db: u32,
    def: &TableDef,
    key: Option<&[Expr]>,
    filter: Option<&Expr>,
    from: Option<&super::plan::FromItems>,
) -> Result<Vec<DmlTarget>> {
    let Some(from) = from else {
        let rows = table_rows(cx, db, def, key, filter)?;
        let mut out = Vec::with_capacity(rows.len());
        for (tid, row) in rows {
            if let Some(f) = filter {
                if !is_true(&eval(f, &row, cx)?) {
                    continue;
                }
            }
            out.push((tid, row, Vec::new()));
        }
        return Ok(out);
    };
    // The WHERE reads the other items' columns too: no index choice over it here.
    let targets = table_rows(cx, db, def, key, None)?;
    let others = source_rows(&from.source, cx)?;
    let tw = def.columns.len();
    let keys = filter
        .map(|f| super::join::equi_keys(f, tw))
        .unwrap_or_default();
    let hashed = super::join::HashedRows::build(keys, &others, cx)?;
    let mut out = Vec::new();
    for (i, (tid, row)) in targets.into_iter().enumerate() {
        if i % 1024 == 0 {
            check_cancel(cx)?;
        }
        let cands = match &hashed {
            Some(h) => h.candidates(&row, cx)?,
            None => None,
        };
        let cands: Vec<usize> = cands.unwrap_or_else(|| (0..others.len()).collect());
        for j in cands {
            let input = with_other(&row, &others[j]);
            let keep = match filter {
                Some(f) => is_true(&eval(f, &input, cx)?),
                None => true,
            };
            if keep {
                out.push((tid, row, others[j].clone()));
                break;
            }
        }
    }
    Ok(out)
}

/// Runs a DELETE; returns (row count, RETURNING rows).
pub fn run_delete(p: &DeletePlan, cx: &mut ExecCtx<'_>) -> Result<(u64, Vec<Vec<Value>>)> {
    let rows = dml_targets(
        cx,
        p.db,
        &p.table,
        p.key.as_deref(),
        p.filter.as_ref(),
        p.from.as_ref(),
    )?;
    let mut out = Vec::new();
    let mut n = 0;
    for (i, (tid, old, other)) in rows.into_iter().enumerate() {
        if i % 1024 == 0 {
            check_cancel(cx)?;
        }
        let (mut tid, mut old) = (tid, old);
        loop {
            match cx.engine.delete(cx.txn, p.db, p.table.oid, tid)? {
                RowOutcome::Done => {
                    super::fkeys::after_delete(cx, p.db, &p.table, &old)?;
                    n += 1;
                    returning_row(&p.returning, &with_other(&old, &other), cx, &mut out)?;
                }
                RowOutcome::Gone => {}
                RowOutcome::Moved(..) if cx.serializable => return Err(concurrent_update()),
                RowOutcome::Moved(next, row) => {
                    if let Some(f) = &p.filter {
                        if !is_true(&eval(f, &with_other(&row, &other), cx)?) {
                            break;
                        }
                    }
                    tid = next;
                    old = row;
                    continue;
                }
            }
            break;
        }
    }
    Ok((n, out))
}

fn notice(code: &'static str, msg: String) -> Error {
    Error::new(code, msg).with_severity(Severity::Notice)
}

/// Runs CREATE TABLE.
pub fn run_create_table(p: &CreateTablePlan, cx: &mut ExecCtx<'_>) -> Result<()> {
    // Tables and indexes share one namespace of relation names.
    let exists = cx
        .engine
        .with_catalog(|c| c.relation_exists(cx.db_oid, p.def.schema, &p.def.name));
    if exists {
        if p.if_not_exists {
            cx.notices.push(notice(
                sqlstate::DUPLICATE_TABLE,
                format!("relation \"{}\" already exists, skipping", p.def.name),
            ));
            return Ok(());
        }
        bail!(
            sqlstate::DUPLICATE_TABLE,
            "relation \"{}\" already exists",
            p.def.name
        );
    }
    let mut def = p.def.clone();
    def.oid = cx.engine.new_relation_oid(def.schema);
    let mut taken = vec![def.name.clone()];
    if def.primary_key.is_some() {
        taken.push(def.pkey_name.clone());
    }
    for i in 0..def.indexes.len() {
        let name = if def.indexes[i].name.is_empty() {
            let cols = def.indexes[i].columns.clone();
            cx.engine
                .with_catalog(|c| choose_index_name(c, cx.db_oid, &def, &cols, "key", &taken))
        } else {
            let n = def.indexes[i].name.clone();
            let exists = taken.contains(&n)
                || cx
                    .engine
                    .with_catalog(|c| c.relation_exists(cx.db_oid, def.schema, &n));
            if exists {
                bail!(sqlstate::DUPLICATE_TABLE, "relation \"{n}\" already exists");
            }
            n
        };
        taken.push(name.clone());
        def.indexes[i].name = name;
        def.indexes[i].oid = cx.engine.new_oid();
    }
    def.owner = cx
        .current_role()
        .map(|r| r.oid)
        .unwrap_or(BOOTSTRAP_SUPERUSER);
    super::ddl::create_table_extras(&p.ddl, &mut def, cx)?;
    let oid = def.oid;
    cx.engine
        .catalog_change(cx.txn, CatalogChange::CreateTable { db: cx.db_oid, def })?;
    if let Some(action) = p.on_commit {
        cx.temp.register(cx.db_oid, oid, action);
    }
    Ok(())
}

/// PostgreSQL's name for a new index (ChooseRelationName): `<table>_<col>[_<col>…]_<suffix>`,
/// with a number appended (`t_a_idx1`, `t_a_idx2`…) while a relation of the schema
/// (or one of `taken`) has the name. Parts are shortened to fit 63 bytes as
/// PostgreSQL does (the longer of table and column part first).
pub(super) fn choose_index_name(
    c: &CatalogState,
    db: u32,
    def: &TableDef,
    cols: &[usize],
    suffix: &str,
    taken: &[String],
) -> String {
    let colpart: Vec<&str> = cols.iter().map(|&i| def.columns[i].name.as_str()).collect();
    choose_name_after(c, db, def, &colpart.join("_"), suffix, taken)
}

/// `table_colpart_suffix[N]`: the first such name no relation of the schema has.
fn choose_name_after(
    c: &CatalogState,
    db: u32,
    def: &TableDef,
    colpart: &str,
    suffix: &str,
    taken: &[String],
) -> String {
    let mut pass = 0;
    loop {
        let tail = if pass == 0 {
            suffix.to_string()
        } else {
            format!("{suffix}{pass}")
        };
        let name = make_object_name(&def.name, colpart, &tail);
        if !taken.contains(&name) && !c.relation_exists(db, def.schema, &name) {
            return name;
        }
        pass += 1;
    }
}

/// `name1_name2_label`, truncating name1 and name2 (the longer first) so the result
/// fits in 63 bytes, as PostgreSQL's makeObjectName.
fn make_object_name(name1: &str, name2: &str, label: &str) -> String {
    let max = 63usize;
    let mut l1 = name1.len();
    let mut l2 = name2.len();
    let overhead = label.len() + 1 + if name2.is_empty() { 0 } else { 1 };
    while l1 + l2 + overhead > max {
        if l1 > l2 {
            l1 -= 1;
        } else {
            l2 -= 1;
        }
    }
    let cut = |s: &str, mut n: usize| {
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        s[..n].to_string()
    };
    let mut out = cut(name1, l1);
    if !name2.is_empty() {
        out.push('_');
        out.push_str(&cut(name2, l2));
    }
    out.push('_');
    out.push_str(label);
    out
}

/// Checks a unique index just added to the table's definition against the rows
/// (see `Engine::unique_index_duplicate`): 23505 `could not create unique index`
/// naming the first duplicated key. The caller's transaction then aborts, which
/// undoes the definition.
pub(super) fn check_unique_build(
    cx: &mut ExecCtx<'_>,
    db: u32,
    def: &TableDef,
    index: &IndexDef,
) -> Result<()> {
    let Some(row) = cx
        .engine
        .unique_index_duplicate(cx.txn, db, def.oid, index.oid)?
    else {
        return Ok(());
    };
    let names: Vec<&str> = index
        .columns
        .iter()
        .filter_map(|&c| def.key_label(c))
        .collect();
    let vals: Vec<String> = index
        .columns
        .iter()
        .map(|&c| {
            let v = row.get(c).cloned().unwrap_or(Value::Null);
            types::format_text(&v, &types::FormatOptions::default())
        })
        .collect();
    Err(err!(
        sqlstate::UNIQUE_VIOLATION,
        "could not create unique index \"{}\"",
        index.name
    )
    .with_detail(format!(
        "Key ({})=({}) is duplicated.",
        names.join(", "),
        vals.join(", ")
    )))
}

/// Runs CREATE [UNIQUE] INDEX: chooses the name and OID, checks existing rows for a
/// unique index, and logs the table's new definition (the index contents are built
/// from the rows, never logged).
pub fn run_create_index(p: &CreateIndexPlan, cx: &mut ExecCtx<'_>) -> Result<()> {
    super::owner::check(cx, p.table.owner, "table", &p.table.name)?;
    // The definition as of now (an earlier statement of the transaction may have
    // changed it since planning).
    let Some(mut def) = cx
        .engine
        .with_catalog(|c| c.tables.get(&(p.db, p.table.oid)).cloned())
        .map(|d| (*d).clone())
    else {
        bail!(
            sqlstate::UNDEFINED_TABLE,
            "relation \"{}\" does not exist",
            p.table.name
        );
    };
    let name = match &p.name {
        Some(n) => {
            if cx
                .engine
                .with_catalog(|c| c.relation_exists(p.db, def.schema, n))
            {
                if p.if_not_exists {
                    cx.notices.push(notice(
                        sqlstate::DUPLICATE_TABLE,
                        format!("relation \"{n}\" already exists, skipping"),
                    ));
                    return Ok(());
                }
                bail!(sqlstate::DUPLICATE_TABLE, "relation \"{n}\" already exists");
            }
            n.clone()
        }
        None => cx.engine.with_catalog(|c| {
            choose_name_after(c, p.db, &def, &p.name_parts.join("_"), "idx", &[])
        }),
    };
    // Expressions and the predicate get hidden columns, filled in every row first.
    let before = def.columns.len();
    let hidden = |def: &mut TableDef, text: &str, ty: DataType| {
        let pos = def.columns.len();
        def.columns.push(crate::storage::ColumnDef {
            name: super::generated::hidden_name(pos),
            data_type: ty,
            typmod: -1,
            not_null: false,
            default: None,
            dropped: true,
            generated: Some(text.to_string()),
        });
        pos
    };
    let mut columns = Vec::with_capacity(p.keys.len());
    for k in &p.keys {
        columns.push(match k {
            IndexKey::Column(pos) => *pos,
            IndexKey::Expr(text, ty) => hidden(&mut def, text, *ty),
        });
    }
    let predicate = p
        .predicate
        .as_ref()
        .map(|text| hidden(&mut def, text, DataType::Bool));
    if def.columns.len() > before {
        cx.engine.catalog_change(
            cx.txn,
            CatalogChange::AlterTable {
                db: p.db,
                def: def.clone(),
            },
        )?;
        for (tid, r) in cx.engine.scan(cx.txn, p.db, def.oid) {
            let mut row = (*r).clone();
            super::generated::fill(cx, p.db, &def, &mut row)?;
            cx.engine.update(cx.txn, p.db, def.oid, tid, row)?;
        }
    }
    let index = IndexDef {
        oid: cx.engine.new_oid(),
        name,
        columns,
        unique: p.unique,
        constraint: false,
        predicate,
        options: p.options.clone(),
    };
    def.indexes.push(index.clone());
    let table = def.clone();
    cx.engine
        .catalog_change(cx.txn, CatalogChange::AlterTable { db: p.db, def })?;
    if index.unique {
        check_unique_build(cx, p.db, &table, &index)?;
    }
    Ok(())
}

/// The refusal to drop an index a constraint of `table` owns.
fn constraint_index(name: &str, table: &str) -> Error {
    err!(
        sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
        "cannot drop index {name} because constraint {name} on table {table} requires it"
    )
    .with_hint(format!(
        "You can drop constraint {name} on table {table} instead."
    ))
}

/// Runs DROP INDEX: removes the index from its table's definition (logged). An
/// index that belongs to a constraint cannot be dropped this way (2BP01).
pub fn run_drop_index(
    names: &[(Option<String>, String)],
    if_exists: bool,
    cx: &mut ExecCtx<'_>,
) -> Result<()> {
    for (schema, name) in names {
        let schemas: Vec<u32> = match schema {
            Some(s) => vec![crate::catalog::schema_oid(cx.engine, s)?],
            None => crate::catalog::search_path::lookup_schemas(),
        };
        let db = cx.db_oid;
        let found = cx.engine.with_catalog(|c| {
            schemas.iter().find_map(|s| {
                if let Some(hit) = c.index_by_name(db, *s, name) {
                    return Some(Ok(hit));
                }
                // A primary key's index: refused below, as PostgreSQL does.
                c.tables
                    .range((db, 0)..=(db, u32::MAX))
                    .map(|(_, t)| t)
                    .find(|t| t.schema == *s && t.primary_key.is_some() && t.pkey_name == *name)
                    .map(|t| Err(t.clone()))
            })
        });
        let (table, pos) = match found {
            Some(Ok(hit)) => hit,
            Some(Err(t)) => return Err(constraint_index(name, &t.name)),
            None if if_exists => {
                cx.notices.push(notice(
                    sqlstate::SUCCESSFUL_COMPLETION,
                    format!("index \"{name}\" does not exist, skipping"),
                ));
                continue;
            }
            None => bail!(
                sqlstate::UNDEFINED_OBJECT,
                "index \"{name}\" does not exist"
            ),
        };
        if table.indexes[pos].constraint {
            return Err(constraint_index(name, &table.name));
        }
        super::owner::check(cx, table.owner, "index", name)?;
        let mut def = (*table).clone();
        def.remove_index(pos);
        cx.engine
            .catalog_change(cx.txn, CatalogChange::AlterTable { db, def })?;
    }
    Ok(())
}

/// Runs TRUNCATE: deletes every row version visible to the transaction (an MVCC
/// delete: rolls back like one; PostgreSQL swaps in an empty file instead).
pub fn run_truncate(tables: &[(u32, Arc<TableDef>)], cx: &mut ExecCtx<'_>) -> Result<()> {
    // TRUNCATE privilege was checked when the statement was bound (sql::privileges).
    super::fkeys::check_truncate(cx, tables)?;
    for (db, def) in tables {
        for (tid, _) in cx.engine.scan(cx.txn, *db, def.oid) {
            cx.engine.delete(cx.txn, *db, def.oid, tid)?;
        }
    }
    Ok(())
}

/// Runs DROP TABLE.
pub fn run_drop_table(
    names: &[(Option<String>, String)],
    if_exists: bool,
    cascade: bool,
    cx: &mut ExecCtx<'_>,
) -> Result<()> {
    let mut found = Vec::new();
    for (schema, name) in names {
        match crate::catalog::resolve_table(cx.engine, cx.db_oid, schema.as_deref(), name)? {
            Some(def) => found.push(def),
            None if if_exists => cx.notices.push(notice(
                sqlstate::SUCCESSFUL_COMPLETION,
                format!("table \"{name}\" does not exist, skipping"),
            )),
            None => bail!(sqlstate::UNDEFINED_TABLE, "table \"{name}\" does not exist"),
        }
    }
    for def in &found {
        super::owner::check(cx, def.owner, "table", &def.name)?;
    }
    super::fkeys::on_drop_tables(cx, &found, cascade)?;
    for def in found {
        super::ddl::on_drop_table(cx, &def)?;
        cx.engine.catalog_change(
            cx.txn,
            CatalogChange::DropTable {
                db: cx.db_oid,
                oid: def.oid,
            },
        )?;
    }
    Ok(())
}

// ---- databases ---------------------------------------------------------------------

/// Runs CREATE DATABASE (an empty database: tusk has no per-database template content).
pub fn run_create_database(
    name: &str,
    opts: &[(String, Option<String>)],
    cx: &mut ExecCtx<'_>,
) -> Result<()> {
    let me = cx.current_role();
    if !me.as_ref().is_some_and(|r| r.superuser || r.createdb) {
        bail!(
            sqlstate::INSUFFICIENT_PRIVILEGE,
            "permission denied to create database"
        );
    }
    if cx.engine.database(name).is_some() {
        bail!(
            sqlstate::DUPLICATE_DATABASE,
            "database \"{name}\" already exists"
        );
    }
    let mut d = DatabaseInfo {
        oid: 0,
        name: name.to_string(),
        owner: me.as_ref().map(|r| r.oid).unwrap_or(BOOTSTRAP_SUPERUSER),
        allow_connections: true,
        is_template: false,
        conn_limit: -1,
    };
    let boolean = |v: &Option<String>| -> Result<bool> {
        match v.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("true" | "on" | "1" | "yes") => Ok(true),
            Some("false" | "off" | "0" | "no") => Ok(false),
            _ => Err(err!(sqlstate::SYNTAX_ERROR, "invalid boolean value")),
        }
    };
    for (k, v) in opts {
        match k.as_str() {
            "owner" => {
                if let Some(o) = v {
                    d.owner = lookup_role(cx, o)?.oid;
                }
            }
            "template" => {
                if let Some(t) = v {
                    if cx.engine.database(t).is_none() {
                        bail!(
                            sqlstate::INVALID_CATALOG_NAME,
                            "template database \"{t}\" does not exist"
                        );
                    }
                }
            }
            "connection limit" => {
                d.conn_limit = v
                    .as_deref()
                    .unwrap_or("-1")
                    .parse()
                    .map_err(|_| err!(sqlstate::SYNTAX_ERROR, "invalid connection limit"))?
            }
            "allow_connections" => d.allow_connections = boolean(v)?,
            "is_template" => d.is_template = boolean(v)?,
            "encoding" | "locale" | "lc_collate" | "lc_ctype" | "tablespace" | "strategy"
            | "locale_provider" | "icu_locale" | "collation_version" | "oid" => {}
            other => bail!(sqlstate::SYNTAX_ERROR, "option \"{other}\" not recognized"),
        }
    }
    d.oid = cx.engine.new_oid();
    cx.engine
        .catalog_change(cx.txn, CatalogChange::SetDatabase(d))
}

/// Runs DROP DATABASE.
pub fn run_drop_database(name: &str, if_exists: bool, cx: &mut ExecCtx<'_>) -> Result<()> {
    let Some(d) = cx.engine.database(name) else {
        if if_exists {
            cx.notices.push(notice(
                sqlstate::SUCCESSFUL_COMPLETION,
                format!("database \"{name}\" does not exist, skipping"),
            ));
            return Ok(());
        }
        bail!(
            sqlstate::INVALID_CATALOG_NAME,
            "database \"{name}\" does not exist"
        );
    };
    if d.oid == cx.db_oid {
        bail!(
            sqlstate::OBJECT_IN_USE,
            "cannot drop the currently open database"
        );
    }
    super::owner::check(cx, d.owner, "database", name)?;
    if d.is_template {
        bail!(
            sqlstate::WRONG_OBJECT_TYPE,
            "cannot drop a template database"
        );
    }
    cx.engine
        .catalog_change(cx.txn, CatalogChange::DropDatabase { oid: d.oid })
}

// ---- roles -------------------------------------------------------------------------

fn check_role_name(name: &str) -> Result<()> {
    if name == "public" || name == "none" {
        bail!("42939", "role name \"{name}\" is reserved");
    }
    if name.starts_with("pg_") {
        return Err(err!("42939", "role name \"{name}\" is reserved")
            .with_detail("Role names starting with \"pg_\" are reserved."));
    }
    Ok(())
}

fn is_encrypted(pw: &str) -> bool {
    (pw.len() == 35 && pw.starts_with("md5") && pw[3..].bytes().all(|b| b.is_ascii_hexdigit()))
        || pw.starts_with("SCRAM-SHA-256$")
}

fn apply_opts(r: &mut RoleInfo, opts: &[RoleOpt], cx: &mut ExecCtx<'_>) -> Result<()> {
    for o in opts {
        match o {
            RoleOpt::Superuser(b) => r.superuser = *b,
            RoleOpt::CreateDb(b) => r.createdb = *b,
            RoleOpt::CreateRole(b) => r.createrole = *b,
            RoleOpt::Inherit(b) => r.inherit = *b,
            RoleOpt::Login(b) => r.login = *b,
            RoleOpt::Replication(b) => r.replication = *b,
            RoleOpt::BypassRls(b) => r.bypassrls = *b,
            RoleOpt::ConnLimit(n) => {
                if *n < -1 {
                    bail!(
                        sqlstate::INVALID_PARAMETER_VALUE,
                        "invalid connection limit: {n}"
                    );
                }
                r.conn_limit = *n
            }
            RoleOpt::Password(None) => r.password = None,
            RoleOpt::Password(Some(pw)) => {
                if pw.is_empty() {
                    cx.notices.push(notice(
                        sqlstate::SUCCESSFUL_COMPLETION,
                        "empty string is not a valid password, clearing password".into(),
                    ));
                    r.password = None;
                } else if is_encrypted(pw) {
                    r.password = Some(pw.clone());
                } else {
                    let method = cx.settings.get_str("password_encryption");
                    r.password = Some(super::encrypt_password(&method, &r.name, pw));
                }
            }
            RoleOpt::ValidUntil(s) => {
                r.valid_until = Some(if s.trim().eq_ignore_ascii_case("infinity") {
                    i64::MAX
                } else {
                    types::parse_timestamptz(s, &cx.format_options().zone)?
                });
            }
            RoleOpt::InRole(_) | RoleOpt::Role(_) | RoleOpt::Admin(_) => {}
        }
    }
    Ok(())
}

fn lookup_role(cx: &ExecCtx<'_>, name: &str) -> Result<RoleInfo> {
    cx.engine
        .role(name)
        .ok_or_else(|| err!(sqlstate::UNDEFINED_OBJECT, "role \"{name}\" does not exist"))
}

/// Runs CREATE ROLE / CREATE USER.
pub fn run_create_role(
    name: &str,
    user: bool,
    opts: &[RoleOpt],
    cx: &mut ExecCtx<'_>,
) -> Result<()> {
    let me = cx.current_role();
    let su = me.as_ref().is_some_and(|r| r.superuser);
    let createrole = me.as_ref().is_some_and(|r| r.createrole);
    // PostgreSQL asks for superuser rights for SUPERUSER, REPLICATION and BYPASSRLS
    // first, then for CREATEROLE.
    for o in opts {
        let needs_su = matches!(
            o,
            RoleOpt::Superuser(true) | RoleOpt::Replication(true) | RoleOpt::BypassRls(true)
        );
        if needs_su && !su {
            let what = match o {
                RoleOpt::Superuser(_) => "superusers",
                RoleOpt::Replication(_) => "replication users",
                _ => "bypassrls users",
            };
            bail!(
                sqlstate::INSUFFICIENT_PRIVILEGE,
                "must be superuser to create {what}"
            );
        }
    }
    if !su && !createrole {
        bail!(
            sqlstate::INSUFFICIENT_PRIVILEGE,
            "permission denied to create role"
        );
    }
    check_role_name(name)?;
    if cx.engine.role(name).is_some() {
        bail!(sqlstate::DUPLICATE_OBJECT, "role \"{name}\" already exists");
    }
    let mut r = RoleInfo {
        oid: cx.engine.new_oid(),
        name: name.to_string(),
        superuser: false,
        inherit: true,
        createrole: false,
        createdb: false,
        login: user,
        replication: false,
        bypassrls: false,
        conn_limit: -1,
        password: None,
        valid_until: None,
    };
    apply_opts(&mut r, opts, cx)?;
    let oid = r.oid;
    cx.engine
        .catalog_change(cx.txn, CatalogChange::SetRole(r))?;
    for o in opts {
        match o {
            RoleOpt::InRole(groups) => {
                for g in groups {
                    let g = lookup_role(cx, g)?;
                    cx.engine.catalog_change(
                        cx.txn,
                        CatalogChange::Grant {
                            role: g.oid,
                            member: oid,
                        },
                    )?;
                }
            }
            RoleOpt::Role(members) | RoleOpt::Admin(members) => {
                for m in members {
                    let m = lookup_role(cx, m)?;
                    cx.engine.catalog_change(
                        cx.txn,
                        CatalogChange::Grant {
                            role: oid,
                            member: m.oid,
                        },
                    )?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Runs ALTER ROLE with attributes.
pub fn run_alter_role(name: &str, opts: &[RoleOpt], cx: &mut ExecCtx<'_>) -> Result<()> {
    let mut r = lookup_role(cx, name)?;
    let me = cx.current_role();
    let su = me.as_ref().is_some_and(|m| m.superuser);
    let createrole = me.as_ref().is_some_and(|m| m.createrole);
    let is_self = me.as_ref().is_some_and(|m| m.oid == r.oid);
    let only_password = opts.iter().all(|o| matches!(o, RoleOpt::Password(_)));
    let touches_su = opts.iter().any(|o| {
        matches!(
            o,
            RoleOpt::Superuser(_) | RoleOpt::Replication(_) | RoleOpt::BypassRls(_)
        )
    });
    if !su {
        if r.superuser || touches_su {
            bail!(
                sqlstate::INSUFFICIENT_PRIVILEGE,
                "must be superuser to alter superuser roles or change superuser attribute"
            );
        }
        if !createrole && (!is_self || !only_password) {
            bail!(sqlstate::INSUFFICIENT_PRIVILEGE, "permission denied");
        }
    }
    if r.oid == BOOTSTRAP_SUPERUSER && opts.iter().any(|o| matches!(o, RoleOpt::Superuser(false))) {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "permission denied: bootstrap user must be superuser"
        );
    }
    apply_opts(&mut r, opts, cx)?;
    cx.engine.catalog_change(cx.txn, CatalogChange::SetRole(r))
}

/// Runs ALTER ROLE … RENAME TO ….
pub fn run_rename_role(name: &str, new_name: &str, cx: &mut ExecCtx<'_>) -> Result<()> {
    let mut r = lookup_role(cx, name)?;
    if r.name == cx.ctx.user {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "session user cannot be renamed"
        );
    }
    let me = cx.current_role();
    let su = me.as_ref().is_some_and(|m| m.superuser);
    if r.superuser && !su {
        bail!(
            sqlstate::INSUFFICIENT_PRIVILEGE,
            "must be superuser to rename superusers"
        );
    }
    if !su && !me.as_ref().is_some_and(|m| m.createrole) {
        bail!(
            sqlstate::INSUFFICIENT_PRIVILEGE,
            "permission denied to rename role"
        );
    }
    check_role_name(new_name)?;
    if cx.engine.role(new_name).is_some() {
        bail!(
            sqlstate::DUPLICATE_OBJECT,
            "role \"{new_name}\" already exists"
        );
    }
    r.name = new_name.to_string();
    if r.password.as_deref().is_some_and(|p| p.starts_with("md5")) {
        r.password = None;
        cx.notices.push(notice(
            sqlstate::SUCCESSFUL_COMPLETION,
            "MD5 password cleared because of role rename".into(),
        ));
    }
    cx.engine.catalog_change(cx.txn, CatalogChange::SetRole(r))
}

/// Runs DROP ROLE.
pub fn run_drop_role(names: &[String], if_exists: bool, cx: &mut ExecCtx<'_>) -> Result<()> {
    let me = cx.current_role();
    let su = me.as_ref().is_some_and(|m| m.superuser);
    if !su && !me.as_ref().is_some_and(|m| m.createrole) {
        bail!(
            sqlstate::INSUFFICIENT_PRIVILEGE,
            "permission denied to drop role"
        );
    }
    for name in names {
        let Some(r) = cx.engine.role(name) else {
            if if_exists {
                cx.notices.push(notice(
                    sqlstate::SUCCESSFUL_COMPLETION,
                    format!("role \"{name}\" does not exist, skipping"),
                ));
                continue;
            }
            bail!(sqlstate::UNDEFINED_OBJECT, "role \"{name}\" does not exist");
        };
        if r.name == cx.ctx.user {
            bail!(sqlstate::OBJECT_IN_USE, "current user cannot be dropped");
        }
        if r.name == super::acl::session_user(cx) {
            bail!(sqlstate::OBJECT_IN_USE, "session user cannot be dropped");
        }
        if r.oid == BOOTSTRAP_SUPERUSER {
            bail!(
                "2BP01",
                "cannot drop role {} because it is required by the database system",
                r.name
            );
        }
        if r.superuser && !su {
            bail!(
                sqlstate::INSUFFICIENT_PRIVILEGE,
                "must be superuser to drop superusers"
            );
        }
        super::owner::check_droppable(cx, &r)?;
        cx.engine
            .catalog_change(cx.txn, CatalogChange::DropRole { oid: r.oid })?;
    }
    Ok(())
}
