//! Ordered aggregate input (`string_agg(x, ',' ORDER BY y DESC)`), the ordered-set
//! aggregates (`percentile_cont`, `percentile_disc`, `mode` … `WITHIN GROUP (ORDER BY
//! x)`), and the sort-key comparison shared by aggregates and window functions.
//!
//! An aggregate call with ORDER BY does not feed its state as rows arrive: each
//! surviving input (after FILTER and DISTINCT) is buffered with its sort keys, and the
//! buffer is sorted — stably, so ties keep input order — and fed when the group is
//! finished. Sorting follows ORDER BY's rules: NULLs last ascending and first
//! descending unless NULLS FIRST/LAST says otherwise. Nothing here evaluates anything
//! but the sort keys; it never changes what an aggregate computes, only the order.

use super::expr::{eval, Expr};
use super::plan::AggSpec;
use super::ExecCtx;
use crate::error::{sqlstate, Result};
use crate::types::{compare, Value};
use std::cmp::Ordering;

/// One buffered aggregate input: sort keys, argument, second argument.
pub type Sorted = (Vec<Value>, Value, Value);

/// Evaluates the sort keys of one aggregate input.
pub fn sort_input(
    spec: &AggSpec,
    v: Value,
    sep: Value,
    row: &[Value],
    cx: &mut ExecCtx<'_>,
) -> Result<Sorted> {
    let mut keys = Vec::with_capacity(spec.order.len());
    for (k, _, _) in &spec.order {
        keys.push(eval(k, row, cx)?);
    }
    Ok((keys, v, sep))
}

/// The buffered inputs in the call's ORDER BY order.
pub fn in_order(spec: &AggSpec, mut inputs: Vec<Sorted>) -> impl Iterator<Item = (Value, Value)> {
    let dirs: Vec<(bool, bool)> = spec.order.iter().map(|(_, d, n)| (*d, *n)).collect();
    inputs.sort_by(|a, b| compare_keys(&a.0, &b.0, &dirs));
    inputs.into_iter().map(|(_, v, s)| (v, s))
}

/// Compares two sort-key vectors under (descending, nulls first) per key.
pub fn compare_keys(a: &[Value], b: &[Value], dirs: &[(bool, bool)]) -> Ordering {
    for ((x, y), &(desc, nulls_first)) in a.iter().zip(b).zip(dirs) {
        let o = compare_key(x, y, desc, nulls_first);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Compares one ORDER BY key: NULLs first or last as asked, values by `compare`,
/// reversed when descending (the NULL placement is not reversed).
pub fn compare_key(x: &Value, y: &Value, desc: bool, nulls_first: bool) -> Ordering {
    match (x.is_null(), y.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) if nulls_first => Ordering::Less,
        (true, false) => Ordering::Greater,
        (false, true) if nulls_first => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ if desc => compare(x, y).reverse(),
        _ => compare(x, y),
    }
}

/// A sort key list bound for a plan: (expression, descending, nulls first).
pub type SortKeys = Vec<(Expr, bool, bool)>;

/// An ordered-set aggregate: the `WITHIN GROUP (ORDER BY x)` values arrive sorted,
/// each with the call's direct argument (the fraction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderedSet {
    /// `percentile_cont(f)`: interpolated between the two nearest float8 values.
    PercentileCont,
    /// `percentile_disc(f)`: the first value whose position reaches the fraction.
    PercentileDisc,
    /// `mode()`: the most frequent value (the first in sort order among ties).
    Mode,
}

/// The result of an ordered-set aggregate over its sorted (value, fraction) inputs;
/// NULL values are skipped, and no value (or a NULL fraction) gives NULL.
pub fn finish_ordered_set(f: OrderedSet, items: Vec<(Value, Value)>) -> Result<Value> {
    let frac = items.first().map(|(_, s)| s.clone()).unwrap_or(Value::Null);
    let vals: Vec<Value> = items
        .into_iter()
        .map(|(v, _)| v)
        .filter(|v| !v.is_null())
        .collect();
    if vals.is_empty() {
        return Ok(Value::Null);
    }
    if f == OrderedSet::Mode {
        let (mut best, mut best_n, mut i) = (0usize, 0usize, 0usize);
        while i < vals.len() {
            let mut j = i + 1;
            while j < vals.len() && compare(&vals[i], &vals[j]) == Ordering::Equal {
                j += 1;
            }
            if j - i > best_n {
                (best, best_n) = (i, j - i);
            }
            i = j;
        }
        return Ok(vals[best].clone());
    }
    if frac.is_null() {
        return Ok(Value::Null);
    }
    let p = frac.as_f64().unwrap_or(f64::NAN);
    if !(0.0..=1.0).contains(&p) {
        crate::bail!(
            sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
            "percentile value {} is not between 0 and 1",
            crate::types::format_text(&frac, &Default::default())
        );
    }
    let n = vals.len();
    if f == OrderedSet::PercentileDisc {
        let rownum = (p * n as f64).ceil() as usize;
        return Ok(vals[rownum.clamp(1, n) - 1].clone());
    }
    let pos = p * (n - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let a = vals[lo].as_f64().unwrap_or(0.0);
    let b = vals[hi].as_f64().unwrap_or(0.0);
    Ok(Value::Float8(if lo == hi {
        a
    } else {
        a + (b - a) * (pos - lo as f64)
    }))
}

/// `stddev`/`variance` and their `_samp`/`_pop` forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// The variance (else the standard deviation, its square root).
    pub variance: bool,
    /// Of the population (divides by N; else of the sample, by N - 1).
    pub pop: bool,
}

/// The running sums of a statistics aggregate: exact for integers and numerics
/// (PostgreSQL's `numeric_stddev_internal` works on N, sum(x) and sum(x²)), and
/// Youngs–Cramer for floats as PostgreSQL's `float8_accum`.
#[derive(Debug, Clone)]
pub enum StatAcc {
    /// N, sum(x), sum(x²).
    Exact(i64, bigdecimal::BigDecimal, bigdecimal::BigDecimal),
    /// N, Sx, Sxx.
    Float(f64, f64, f64),
}

impl StatAcc {
    /// Adds one non-NULL input.
    pub fn add(&mut self, v: &Value) {
        match self {
            StatAcc::Exact(n, sx, sx2) => {
                let x = v.as_numeric().unwrap_or_default();
                *n += 1;
                *sx2 += &x * &x;
                *sx += x;
            }
            StatAcc::Float(n, sx, sxx) => {
                let x = v.as_f64().unwrap_or(0.0);
                let old = *n;
                *n += 1.0;
                *sx += x;
                if old > 0.0 {
                    let tmp = x * *n - *sx;
                    *sxx += tmp * tmp / (*n * old);
                } else {
                    *sxx = 0.0;
                }
            }
        }
    }

    /// The aggregate's value (NULL without inputs, or with one for a sample).
    pub fn finish(self, s: Stat) -> Result<Value> {
        match self {
            StatAcc::Float(n, _, sxx) => {
                if n == 0.0 || (!s.pop && n <= 1.0) {
                    return Ok(Value::Null);
                }
                let var = sxx / if s.pop { n } else { n - 1.0 };
                Ok(Value::Float8(if s.variance { var } else { var.sqrt() }))
            }
            StatAcc::Exact(n, sx, sx2) => {
                use crate::types::numeric_math as nm;
                if n == 0 || (!s.pop && n <= 1) {
                    return Ok(Value::Null);
                }
                let bn = bigdecimal::BigDecimal::from(n);
                let rscale = nm::dscale(&sx) * 2;
                let sq = nm::round_to(&(&sx * &sx), rscale);
                let nx2 = nm::round_to(&(&bn * &sx2), rscale);
                let num = &nx2 - &sq;
                if num.sign() != bigdecimal::num_bigint::Sign::Plus {
                    return Ok(Value::numeric(bigdecimal::BigDecimal::from(0)));
                }
                let den = if s.pop {
                    &bn * &bn
                } else {
                    &bn * bigdecimal::BigDecimal::from(n - 1)
                };
                let scale = crate::types::div_scale(&num, &den);
                let var = nm::div_to_scale(&num, &den, scale)?;
                Ok(Value::numeric(if s.variance {
                    var
                } else {
                    nm::sqrt_to_scale(&var, scale)
                }))
            }
        }
    }
}
