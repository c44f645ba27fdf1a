//! `FETCH FIRST n ROWS WITH TIES`: the first n rows after OFFSET, plus every following
//! row that ties with the n-th under the query's ORDER BY.
//!
//! The binder wraps the sorted query (its LIMIT and OFFSET removed, its hidden sort
//! columns kept) in [`Source::WithTies`](super::plan::Source::WithTies); this module
//! cuts the sorted rows. It never reorders rows and never looks at columns other than
//! the ORDER BY ones to decide a tie.

use super::aggregate::compare_keys;
use super::exec::run_select;
use super::expr::{eval, Expr};
use super::plan::SelectPlan;
use super::ExecCtx;
use crate::bail;
use crate::error::{sqlstate, Result};
use crate::types::Value;
use std::cmp::Ordering;

/// Runs the sorted input and keeps the first `count` rows after `offset`, with ties.
pub fn run_with_ties(
    input: &SelectPlan,
    count: &Expr,
    offset: Option<&Expr>,
    order: &[(usize, bool, bool)],
    cx: &mut ExecCtx<'_>,
) -> Result<Vec<Vec<Value>>> {
    let skip = match offset {
        Some(e) => match eval(e, &[], cx)? {
            Value::Null => 0,
            v => {
                let n = v.as_i64().unwrap_or(0);
                if n < 0 {
                    bail!(
                        sqlstate::INVALID_ROW_COUNT_IN_RESULT_OFFSET_CLAUSE,
                        "OFFSET must not be negative"
                    );
                }
                n as usize
            }
        },
        None => 0,
    };
    let n = match eval(count, &[], cx)? {
        Value::Null => bail!(
            sqlstate::INVALID_ROW_COUNT_IN_LIMIT_CLAUSE,
            "row count cannot be null in FETCH FIRST ... WITH TIES clause"
        ),
        v => {
            let n = v.as_i64().unwrap_or(0);
            if n < 0 {
                bail!(
                    sqlstate::INVALID_ROW_COUNT_IN_LIMIT_CLAUSE,
                    "LIMIT must not be negative"
                );
            }
            n as usize
        }
    };
    let rows: Vec<Vec<Value>> = run_select(input, cx)?.into_iter().skip(skip).collect();
    if n == 0 {
        return Ok(vec![]);
    }
    let dirs: Vec<(bool, bool)> = order.iter().map(|(_, d, f)| (*d, *f)).collect();
    let key = |r: &[Value]| -> Vec<Value> { order.iter().map(|(i, _, _)| r[*i].clone()).collect() };
    let mut out = Vec::new();
    let mut last: Option<Vec<Value>> = None;
    for r in rows {
        if out.len() >= n {
            let k = key(&r);
            match &last {
                Some(l) if compare_keys(l, &k, &dirs) == Ordering::Equal => {}
                _ => break,
            }
        }
        last = Some(key(&r));
        out.push(r);
    }
    Ok(out)
}
