//! Window functions: the plan of a query's `OVER (…)` calls and their evaluation.
//!
//! A SELECT with window calls is planned in two layers (see `plan/window.rs`): an
//! inner plan producing the *pre-window rows* — the input rows after WHERE, or the
//! group rows after GROUP BY/HAVING — and an outer plan over
//! [`Source::Window`](super::plan::Source::Window) whose rows are each pre-window row
//! followed by one value per window call; the select list, ORDER BY, DISTINCT and
//! LIMIT run in the outer plan.
//!
//! Evaluating one call ([`run_window`]):
//!
//! 1. split the rows into partitions by the PARTITION BY values (NULLs together);
//! 2. sort each partition stably by the window's ORDER BY (NULLS LAST ascending unless
//!    said otherwise); rows with equal ORDER BY values are *peers*;
//! 3. for each row compute its frame — ROWS counts rows, GROUPS counts peer groups,
//!    RANGE compares the ORDER BY value (offsets need one numeric ORDER BY column) —
//!    with PostgreSQL's default `RANGE UNBOUNDED PRECEDING AND CURRENT ROW`, which
//!    with no ORDER BY makes the whole partition the frame;
//! 4. compute the function: ranking functions from positions and peer groups,
//!    `lag`/`lead` from the partition order, value and aggregate functions over the
//!    frame.
//!
//! Invariants: a call never sees rows of another partition; aggregates over a frame
//! use exactly the executor's aggregate states (`exec::new_acc`/`feed`/`finish_acc`),
//! so `sum(x) OVER ()` and `sum(x)` agree to the digit; the output rows come out in
//! the first window's partition/order sequence, as PostgreSQL's WindowAgg returns
//! them when the query has no ORDER BY of its own. Never evaluated here: anything
//! of the select list (that is the outer plan's job).

use super::aggregate::{compare_keys, SortKeys};
use super::exec::{feed, finish_acc, key_bytes, new_acc, run_select};
use super::expr::{eval, Expr};
use super::plan::{AggSpec, SelectPlan};
use super::ExecCtx;
use crate::bail;
use crate::error::{sqlstate, Result};
use crate::types::{DataType, Value};
use bigdecimal::Signed;
use std::cmp::Ordering;
use std::collections::HashMap;

/// A window function.
#[derive(Debug, Clone)]
pub enum WindowFunc {
    /// `row_number()`
    RowNumber,
    /// `rank()`
    Rank,
    /// `dense_rank()`
    DenseRank,
    /// `percent_rank()`
    PercentRank,
    /// `cume_dist()`
    CumeDist,
    /// `ntile(n)`
    Ntile(Expr),
    /// `lag(x [, offset [, default]])` (`lead` when the flag is set).
    Lag(Expr, Option<Expr>, Option<Expr>, bool),
    /// `first_value(x)`
    FirstValue(Expr),
    /// `last_value(x)`
    LastValue(Expr),
    /// `nth_value(x, n)`
    NthValue(Expr, Expr),
    /// An aggregate over the frame.
    Agg(AggSpec),
}

/// Frame units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameUnits {
    /// ROWS
    Rows,
    /// RANGE
    Range,
    /// GROUPS
    Groups,
}

/// One end of a frame.
#[derive(Debug, Clone)]
pub enum FrameBound {
    /// UNBOUNDED PRECEDING
    UnboundedPreceding,
    /// n PRECEDING
    Preceding(Expr),
    /// CURRENT ROW
    CurrentRow,
    /// n FOLLOWING
    Following(Expr),
    /// UNBOUNDED FOLLOWING
    UnboundedFollowing,
}

/// A window frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The units.
    pub units: FrameUnits,
    /// The start.
    pub start: FrameBound,
    /// The end.
    pub end: FrameBound,
}

impl Default for Frame {
    fn default() -> Frame {
        Frame {
            units: FrameUnits::Range,
            start: FrameBound::UnboundedPreceding,
            end: FrameBound::CurrentRow,
        }
    }
}

/// One window call, over the pre-window row.
#[derive(Debug, Clone)]
pub struct WindowCall {
    /// The function.
    pub func: WindowFunc,
    /// PARTITION BY.
    pub partition: Vec<Expr>,
    /// ORDER BY.
    pub order: SortKeys,
    /// The frame.
    pub frame: Frame,
    /// The result type.
    pub ty: DataType,
}

/// The window step of a query: its pre-window rows and the calls appended to them.
#[derive(Debug, Clone)]
pub struct WindowPlan {
    /// The query up to grouping; its rows are the pre-window rows.
    pub input: SelectPlan,
    /// The calls, in the order their values are appended.
    pub calls: Vec<WindowCall>,
}

/// Runs the window step: pre-window rows each followed by the calls' values.
pub fn run_window(p: &WindowPlan, cx: &mut ExecCtx<'_>) -> Result<Vec<Vec<Value>>> {
    let mut rows = run_select(&p.input, cx)?;
    let mut first_order: Option<Vec<usize>> = None;
    for call in &p.calls {
        cx.check_interrupts()?;
        let (values, seq) = eval_call(call, &rows, cx)?;
        for (r, v) in rows.iter_mut().zip(values) {
            r.push(v);
        }
        first_order.get_or_insert(seq);
    }
    if let Some(seq) = first_order {
        let mut slots: Vec<Option<Vec<Value>>> = rows.into_iter().map(Some).collect();
        rows = seq.into_iter().filter_map(|i| slots[i].take()).collect();
    }
    Ok(rows)
}

/// One call's value for every row, and the rows' partition/order sequence.
fn eval_call(
    call: &WindowCall,
    rows: &[Vec<Value>],
    cx: &mut ExecCtx<'_>,
) -> Result<(Vec<Value>, Vec<usize>)> {
    // 1. partitions (sorted by their key, as PostgreSQL sorts them).
    let mut parts: HashMap<Vec<u8>, (Vec<Value>, Vec<usize>)> = HashMap::new();
    let mut order_keys = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let mut pk = Vec::with_capacity(call.partition.len());
        for e in &call.partition {
            pk.push(eval(e, r, cx)?);
        }
        let mut ok = Vec::with_capacity(call.order.len());
        for (e, _, _) in &call.order {
            ok.push(eval(e, r, cx)?);
        }
        order_keys.push(ok);
        parts
            .entry(key_bytes(&pk))
            .or_insert_with(|| (pk, Vec::new()))
            .1
            .push(i);
    }
    let mut parts: Vec<(Vec<Value>, Vec<usize>)> = parts.into_values().collect();
    let pdirs = vec![(false, false); call.partition.len()];
    parts.sort_by(|a, b| compare_keys(&a.0, &b.0, &pdirs).then_with(|| a.1[0].cmp(&b.1[0])));
    let dirs: Vec<(bool, bool)> = call.order.iter().map(|(_, d, n)| (*d, *n)).collect();
    let mut out = vec![Value::Null; rows.len()];
    let mut seq = Vec::with_capacity(rows.len());
    for (_, mut idx) in parts {
        // 2. order within the partition.
        idx.sort_by(|a, b| compare_keys(&order_keys[*a], &order_keys[*b], &dirs));
        let vals = eval_partition(call, &idx, rows, &order_keys, cx)?;
        for (i, v) in idx.iter().zip(vals) {
            out[*i] = v;
        }
        seq.extend(idx);
    }
    Ok((out, seq))
}

fn eval_partition(
    call: &WindowCall,
    idx: &[usize],
    rows: &[Vec<Value>],
    keys: &[Vec<Value>],
    cx: &mut ExecCtx<'_>,
) -> Result<Vec<Value>> {
    let m = idx.len();
    let dirs: Vec<(bool, bool)> = call.order.iter().map(|(_, d, n)| (*d, *n)).collect();
    // Peer groups: group[i], and each group's first and last position.
    let mut group = Vec::with_capacity(m);
    let mut bounds: Vec<(usize, usize)> = Vec::new();
    for i in 0..m {
        if i == 0 || compare_keys(&keys[idx[i - 1]], &keys[idx[i]], &dirs) != Ordering::Equal {
            bounds.push((i, i));
        }
        let g = bounds.len() - 1;
        bounds[g].1 = i;
        group.push(g);
    }
    let row = |i: usize| &rows[idx[i]];
    let mut out = Vec::with_capacity(m);
    match &call.func {
        WindowFunc::RowNumber => out.extend((1..=m).map(|i| Value::Int8(i as i64))),
        WindowFunc::Rank => out.extend((0..m).map(|i| Value::Int8(bounds[group[i]].0 as i64 + 1))),
        WindowFunc::DenseRank => out.extend((0..m).map(|i| Value::Int8(group[i] as i64 + 1))),
        WindowFunc::PercentRank => out.extend((0..m).map(|i| {
            Value::Float8(if m <= 1 {
                0.0
            } else {
                bounds[group[i]].0 as f64 / (m - 1) as f64
            })
        })),
        WindowFunc::CumeDist => {
            out.extend((0..m).map(|i| Value::Float8((bounds[group[i]].1 + 1) as f64 / m as f64)))
        }
        WindowFunc::Ntile(n) => {
            let n = match eval(n, row(0), cx)? {
                Value::Null => {
                    out.resize(m, Value::Null);
                    return Ok(out);
                }
                v => v.as_i64().unwrap_or(0),
            };
            if n <= 0 {
                bail!("22014", "argument of ntile must be greater than zero");
            }
            let n = n as usize;
            let (per, extra) = (m / n, m % n);
            let mut bucket = 1usize;
            let mut left = per + usize::from(extra > 0);
            for _ in 0..m {
                if left == 0 {
                    bucket += 1;
                    left = per + usize::from(bucket <= extra);
                }
                out.push(Value::Int4(bucket as i32));
                left -= 1;
            }
        }
        WindowFunc::Lag(x, off, def, lead) => {
            for i in 0..m {
                let o = match off {
                    Some(e) => match eval(e, row(i), cx)? {
                        Value::Null => {
                            out.push(Value::Null);
                            continue;
                        }
                        v => v.as_i64().unwrap_or(0),
                    },
                    None => 1,
                };
                let target = if *lead {
                    (i as i64).checked_add(o)
                } else {
                    (i as i64).checked_sub(o)
                };
                match target.filter(|t| *t >= 0 && (*t as usize) < m) {
                    Some(t) => out.push(eval(x, row(t as usize), cx)?),
                    None => out.push(match def {
                        Some(d) => eval(d, row(i), cx)?,
                        None => Value::Null,
                    }),
                }
            }
        }
        _ => {
            let offsets = FrameOffsets::eval(&call.frame, row(0), cx)?;
            let mut last: Option<((usize, usize), Value)> = None;
            for i in 0..m {
                let fr = frame_of(call, &offsets, i, &group, &bounds, idx, keys, m)?;
                if let Some((f, v)) = &last {
                    if *f == fr {
                        out.push(v.clone());
                        continue;
                    }
                }
                let v = frame_value(call, fr, i, &row, cx)?;
                last = Some((fr, v.clone()));
                out.push(v);
            }
        }
    }
    Ok(out)
}

/// The frame's offsets, evaluated once per partition (they cannot use the row).
struct FrameOffsets {
    start: Option<Value>,
    end: Option<Value>,
}

impl FrameOffsets {
    fn eval(f: &Frame, row: &[Value], cx: &mut ExecCtx<'_>) -> Result<FrameOffsets> {
        let mut one = |b: &FrameBound, what: &str| -> Result<Option<Value>> {
            match b {
                FrameBound::Preceding(e) | FrameBound::Following(e) => {
                    let v = eval(e, row, cx)?;
                    if v.is_null() {
                        bail!(
                            sqlstate::NULL_VALUE_NOT_ALLOWED,
                            "frame {what} offset must not be null"
                        );
                    }
                    let negative = match &v {
                        Value::Interval(_) => false,
                        v => v.as_numeric().is_some_and(|n| n.is_negative()),
                    };
                    if negative {
                        let msg = if f.units == FrameUnits::Range {
                            "invalid preceding or following size in window function".to_string()
                        } else {
                            format!("frame {what} offset must not be negative")
                        };
                        bail!("22013", "{msg}");
                    }
                    Ok(Some(v))
                }
                _ => Ok(None),
            }
        };
        Ok(FrameOffsets {
            start: one(&f.start, "starting")?,
            end: one(&f.end, "ending")?,
        })
    }
}

/// The frame of row `i` as an inclusive position range (start > end when empty).
#[allow(clippy::too_many_arguments)]
fn frame_of(
    call: &WindowCall,
    off: &FrameOffsets,
    i: usize,
    group: &[usize],
    bounds: &[(usize, usize)],
    idx: &[usize],
    keys: &[Vec<Value>],
    m: usize,
) -> Result<(usize, usize)> {
    let f = &call.frame;
    let n = |v: &Option<Value>| -> i64 { v.as_ref().and_then(|v| v.as_i64()).unwrap_or(0) };
    let last = m as i64 - 1;
    let g = group[i] as i64;
    let ng = bounds.len() as i64 - 1;
    let pos = |b: &FrameBound, o: &Option<Value>, is_start: bool| -> Result<i64> {
        Ok(match (b, f.units) {
            (FrameBound::UnboundedPreceding, _) => 0,
            (FrameBound::UnboundedFollowing, _) => last,
            (FrameBound::CurrentRow, FrameUnits::Rows) => i as i64,
            (FrameBound::CurrentRow, _) => {
                let (s, e) = bounds[group[i]];
                if is_start {
                    s as i64
                } else {
                    e as i64
                }
            }
            (FrameBound::Preceding(_), FrameUnits::Rows) => i as i64 - n(o),
            (FrameBound::Following(_), FrameUnits::Rows) => (i as i64).saturating_add(n(o)),
            (FrameBound::Preceding(_) | FrameBound::Following(_), FrameUnits::Groups) => {
                let back = matches!(b, FrameBound::Preceding(_));
                let tg = if back {
                    g - n(o)
                } else {
                    g.saturating_add(n(o))
                };
                if is_start {
                    if tg > ng {
                        m as i64
                    } else {
                        bounds[tg.max(0) as usize].0 as i64
                    }
                } else if tg < 0 {
                    -1
                } else {
                    bounds[tg.min(ng) as usize].1 as i64
                }
            }
            (FrameBound::Preceding(_) | FrameBound::Following(_), FrameUnits::Range) => {
                range_pos(call, o, b, i, idx, keys, is_start)?
            }
        })
    };
    let s = pos(&f.start, &off.start, true)?.max(0);
    let e = pos(&f.end, &off.end, false)?.min(last);
    if s > e {
        return Ok((1, 0));
    }
    Ok((s as usize, e as usize))
}

/// RANGE n PRECEDING/FOLLOWING: the first (start) or last (end) position whose ORDER
/// BY value lies within n of the current row's.
fn range_pos(
    call: &WindowCall,
    o: &Option<Value>,
    b: &FrameBound,
    i: usize,
    idx: &[usize],
    keys: &[Vec<Value>],
    is_start: bool,
) -> Result<i64> {
    let desc = call.order.first().is_some_and(|(_, d, _)| *d);
    let cur = &keys[idx[i]][0];
    let m = idx.len();
    let off = o.clone().unwrap_or(Value::Int4(0));
    if cur.is_null() {
        // NULLs are peers only of NULLs.
        let same: Vec<usize> = (0..m).filter(|j| keys[idx[*j]][0].is_null()).collect();
        return Ok(if is_start {
            same.first().copied().unwrap_or(i) as i64
        } else {
            same.last().copied().unwrap_or(i) as i64
        });
    }
    // The bound value: cur ∓ off, in the sort direction.
    let toward_start = matches!(b, FrameBound::Preceding(_)) != desc;
    let num = |v: &Value| v.as_numeric();
    let (Some(c), Some(d)) = (num(cur), num(&off)) else {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "RANGE with offset PRECEDING/FOLLOWING is supported for numeric ORDER BY columns only for now"
        );
    };
    let limit = if toward_start { c - d } else { c + d };
    let within = |v: &Value| -> bool {
        match num(v) {
            None => false,
            Some(x) => {
                if is_start {
                    if desc {
                        x <= limit
                    } else {
                        x >= limit
                    }
                } else if desc {
                    x >= limit
                } else {
                    x <= limit
                }
            }
        }
    };
    if is_start {
        Ok((0..m)
            .find(|j| !keys[idx[*j]][0].is_null() && within(&keys[idx[*j]][0]))
            .unwrap_or(m) as i64)
    } else {
        Ok((0..m)
            .rev()
            .find(|j| !keys[idx[*j]][0].is_null() && within(&keys[idx[*j]][0]))
            .map(|j| j as i64)
            .unwrap_or(-1))
    }
}

/// A value or aggregate function over the frame `fr` of row `i`.
fn frame_value<'r>(
    call: &WindowCall,
    fr: (usize, usize),
    i: usize,
    row: &impl Fn(usize) -> &'r Vec<Value>,
    cx: &mut ExecCtx<'_>,
) -> Result<Value> {
    let empty = fr.0 > fr.1;
    Ok(match &call.func {
        WindowFunc::FirstValue(x) => {
            if empty {
                Value::Null
            } else {
                eval(x, row(fr.0), cx)?
            }
        }
        WindowFunc::LastValue(x) => {
            if empty {
                Value::Null
            } else {
                eval(x, row(fr.1), cx)?
            }
        }
        WindowFunc::NthValue(x, n) => {
            let n = match eval(n, row(i), cx)? {
                Value::Null => return Ok(Value::Null),
                v => v.as_i64().unwrap_or(0),
            };
            if n <= 0 {
                bail!("22016", "argument of nth_value must be greater than zero");
            }
            let at = fr.0 as i64 + n - 1;
            if empty || at > fr.1 as i64 {
                Value::Null
            } else {
                eval(x, row(at as usize), cx)?
            }
        }
        WindowFunc::Agg(spec) => {
            let mut acc = new_acc(spec);
            if !empty {
                for j in fr.0..=fr.1 {
                    let r = row(j);
                    if let Some(f) = &spec.filter {
                        if !matches!(eval(f, r, cx)?, Value::Bool(true)) {
                            continue;
                        }
                    }
                    let v = match &spec.arg {
                        Some(a) => eval(a, r, cx)?,
                        None => Value::Null,
                    };
                    let sep = match &spec.arg2 {
                        Some(a) => eval(a, r, cx)?,
                        None => Value::Null,
                    };
                    feed(&mut acc, spec, v, sep);
                }
            }
            finish_acc(acc, spec)?
        }
        _ => return Err(crate::error::Error::internal("not a frame function")),
    })
}
