//! LATERAL joins at execution: the right FROM item is run again for every left row.
//!
//! # What it owns
//! [`Source::Lateral`](super::plan::Source::Lateral): `FROM a, LATERAL (SELECT … a.id …)`,
//! `a CROSS JOIN LATERAL …`, `a [LEFT] JOIN LATERAL … ON …`, and set-returning
//! functions in FROM whose arguments read columns of earlier FROM items
//! (`FROM a, generate_series(1, a.n)`, `unnest(a.arr)`, `jsonb_array_elements(a.doc)`),
//! which PostgreSQL treats as LATERAL without the keyword. The binder side — which FROM
//! items may see the items to their left, and the scope they see — is
//! [`plan/lateral.rs`](super::plan).
//!
//! # How it runs (a lateral nested loop)
//! 1. The left input's rows are produced once.
//! 2. For each left row, the row is pushed on `cx.outer` and the right input is run;
//!    inside it, the left item's columns are `Expr::OuterColumn(1, i, _)` (depth 1 =
//!    this pushed row), exactly as a correlated subquery reads its enclosing row.
//! 3. Each right row is appended to the left row; the ON condition (over the
//!    concatenated row, with nothing extra pushed) keeps or drops the pair.
//! 4. LEFT JOIN LATERAL: a left row no pair was kept for is NULL-extended.
//!
//! # Invariants
//! * The row pushed on `cx.outer` is the left input's row as produced, whose layout is
//!   the scope the binder pushed as the outer level when it bound the right item; the
//!   planner builds both from the same `(Source, Scope)` pair.
//! * `cx.outer` is popped on every path, errors included, so a failing right input
//!   never leaves a stale outer row behind for the expressions that follow.
//! * While `cx.outer` is non-empty, subquery results are not cached
//!   (`expr::subquery_rows`), so a subquery inside the right item sees each left row.
//!
//! # Never
//! Never hashes or indexes the right input across left rows (it depends on the left
//! row), and never reorders rows: output is left order, then right order per left row.

use super::exec::source_rows;
use super::expr::{eval, Expr};
use super::plan::Source;
use super::ExecCtx;
use crate::error::Result;
use crate::types::Value;

/// A join whose right input reads the current left row (see the module comment).
#[derive(Debug, Clone)]
pub struct LateralJoin {
    /// The left input.
    pub left: Source,
    /// The right input, bound with the left input's scope as its nearest outer level.
    pub right: Source,
    /// The join condition over the concatenated row (None: every pair).
    pub on: Option<Expr>,
    /// LEFT JOIN LATERAL: NULL-extend left rows without a kept pair.
    pub left_outer: bool,
    /// The width of the right input's rows (for NULL extension).
    pub right_width: usize,
}

/// Runs a lateral join: the right input once per left row, with that row pushed on
/// `cx.outer`.
pub fn run(j: &LateralJoin, cx: &mut ExecCtx<'_>) -> Result<Vec<Vec<Value>>> {
    let left = source_rows(&j.left, cx)?;
    let mut out = Vec::new();
    for (n, lr) in left.into_iter().enumerate() {
        if n % 1024 == 0 {
            cx.check_interrupts()?;
        }
        cx.outer.push(lr.clone());
        let right = source_rows(&j.right, cx);
        cx.outer.pop();
        let mut matched = false;
        for rr in right? {
            let mut row = lr.clone();
            row.extend(rr);
            let keep = match &j.on {
                Some(e) => matches!(eval(e, &row, cx)?, Value::Bool(true)),
                None => true,
            };
            if keep {
                matched = true;
                out.push(row);
            }
        }
        if !matched && j.left_outer {
            let mut row = lr;
            row.extend(std::iter::repeat_n(Value::Null, j.right_width));
            out.push(row);
        }
    }
    Ok(out)
}
