//! Execution of `WITH RECURSIVE`: the recursive union and its working table.
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
//! subquery. Invariants: the step's rows are cast to the anchor's column types (the
//! binder has already refused steps whose types would widen them); the working table
//! key is removed when the loop ends, also on error; the loop checks for cancellation
//! and `statement_timeout` every iteration, so an endless recursion can be stopped.

use super::exec::{key_bytes, run_select};
use super::plan::SelectPlan;
use super::ExecCtx;
use crate::error::Result;
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
