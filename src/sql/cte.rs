//! Execution of `WITH RECURSIVE` (the recursive union and its working table) and of
//! data-modifying CTEs (`WITH ins AS (INSERT … RETURNING …) SELECT … FROM ins`).
//!
//! A recursive CTE `name AS (anchor UNION [ALL] step)` runs as PostgreSQL's
//! RecursiveUnion does:
//!
//! 1. run the anchor; with UNION (not ALL) drop duplicate rows; the survivors are both
//!    the first result rows and the first *working table*;
//! 2. publish the working table under the CTE's [`WorkTableRef`] key in the statement's
//!    [`ExecCtx::subqueries`] map, where the step's self-reference
//!    ([`Source::WorkTable`](super::plan::Source::WorkTable)) reads it;
//! 3. run the step; with UNION drop rows seen before; an empty result ends the loop,
//!    otherwise the new rows are appended and become the next working table.
//!
//! Non-recursive CTEs need nothing here: the binder plans each reference as a
//! subquery. A data-modifying CTE ([`DmlCte`]) runs its statement once, when its rows
//! are first read, and keeps its RETURNING rows under its slot in
//! [`ExecCtx::subqueries`] for the statement's other references; its writes are
//! refused in a read-only transaction like any statement's. Invariants: the step's rows are cast to the anchor's column types (the
//! binder has already refused steps whose types would widen them); the working table
//! key is removed when the loop ends, also on error; the loop checks for cancellation
//! and `statement_timeout` every iteration, so an endless recursion can be stopped.

use super::exec::{key_bytes, run_select};
use super::plan::SelectPlan;
use super::ExecCtx;
use crate::error::{sqlstate, Error, Result};
use crate::types::{self, DataType, Value};
use std::collections::HashSet;
use std::sync::Arc;

/// The identity of one recursive CTE's working table (its address is the key the
/// working table is published under while the recursion runs).
#[derive(Debug, Clone)]
pub struct WorkTableRef(pub Arc<()>);

impl WorkTableRef {
    /// A fresh identity.
    pub fn new() -> WorkTableRef {
        WorkTableRef(Arc::new(()))
    }

    fn key(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
}

impl Default for WorkTableRef {
    fn default() -> Self {
        Self::new()
    }
}

/// A planned recursive CTE.
#[derive(Debug, Clone)]
pub struct RecursivePlan {
    /// The non-recursive term.
    pub anchor: SelectPlan,
    /// The recursive term (reads the working table through `work`).
    pub step: SelectPlan,
    /// UNION ALL (keep duplicates).
    pub all: bool,
    /// The column types (the anchor's).
    pub types: Vec<DataType>,
    /// The working table's identity.
    pub work: WorkTableRef,
}

/// The rows of the working table the step is reading.
pub fn work_table_rows(w: &WorkTableRef, cx: &mut ExecCtx<'_>) -> Result<Vec<Vec<Value>>> {
    match cx.subqueries.get(&w.key()) {
        Some(rows) => Ok(rows.as_ref().clone()),
        None => Err(crate::error::Error::internal(
            "recursive CTE working table read outside its recursion",
        )),
    }
}

/// Runs a recursive CTE to its fixpoint.
pub fn run_recursive(p: &RecursivePlan, cx: &mut ExecCtx<'_>) -> Result<Vec<Vec<Value>>> {
    let key = p.work.key();
    let r = iterate(p, key, cx);
    cx.subqueries.remove(&key);
    r
}

fn iterate(p: &RecursivePlan, key: usize, cx: &mut ExecCtx<'_>) -> Result<Vec<Vec<Value>>> {
    let mut seen = HashSet::new();
    let mut keep = |rows: Vec<Vec<Value>>| -> Result<Vec<Vec<Value>>> {
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let r = conform(r, &p.types)?;
            if p.all || seen.insert(key_bytes(&r)) {
                out.push(r);
            }
        }
        Ok(out)
    };
    let mut work = keep(run_select(&p.anchor, cx)?)?;
    let mut result = work.clone();
    while !work.is_empty() {
        cx.check_interrupts()?;
        cx.subqueries
            .insert(key, Arc::new(std::mem::take(&mut work)));
        let next = run_select(&p.step, cx)?;
        work = keep(next)?;
        result.extend(work.iter().cloned());
    }
    Ok(result)
}

fn conform(row: Vec<Value>, types: &[DataType]) -> Result<Vec<Value>> {
    row.into_iter()
        .zip(types)
        .map(|(v, t)| {
            if v.is_null() || v.data_type() == *t || t.is_string() {
                Ok(v)
            } else {
                types::cast(v, *t, -1, false)
            }
        })
        .collect()
}

/// A data-modifying CTE: its INSERT/UPDATE/DELETE plan and the slot its RETURNING rows
/// are kept under for the statement.
#[derive(Debug, Clone)]
pub struct DmlCte {
    /// The key in `ExecCtx::subqueries`.
    pub slot: usize,
    /// The statement.
    pub plan: super::plan::Plan,
}

/// The rows of a data-modifying CTE: its statement runs the first time, later
/// references read what it returned.
pub fn run_dml_cte(d: &DmlCte, cx: &mut ExecCtx<'_>) -> Result<Vec<Vec<Value>>> {
    if let Some(rows) = cx.subqueries.get(&d.slot) {
        return Ok((**rows).clone());
    }
    // A data-modifying statement at the top is refused before it runs; under a
    // SELECT, PostgreSQL names the SELECT.
    if cx.settings.get_bool("transaction_read_only") {
        crate::bail!(
            sqlstate::READ_ONLY_SQL_TRANSACTION,
            "cannot execute SELECT in a read-only transaction"
        );
    }
    let (_, rows) = match &d.plan {
        super::plan::Plan::Insert(p) => super::exec::run_insert(p, cx)?,
        super::plan::Plan::Update(p) => super::exec::run_update(p, cx)?,
        super::plan::Plan::Delete(p) => super::exec::run_delete(p, cx)?,
        _ => return Err(Error::internal("data-modifying CTE")),
    };
    cx.subqueries.insert(d.slot, Arc::new(rows.clone()));
    Ok(rows)
}
