//! Join algorithms: the hash join and the index nested loop beside the plain nested
//! loop, and the planner step that moves WHERE equalities into inner joins.
//!
//! # What it owns
//! How a [`Source::Join`] is executed. The plan keeps one join shape (left, right, an
//! ON condition over the concatenated row, which sides are preserved); [`choose`] looks at that
//! shape and picks one of three [`Strategy`]s, the same way at execution and in
//! EXPLAIN ([`super::explain`]):
//! 1. **Index nested loop** — the right input is a stored table with the primary key or
//!    a secondary index on columns the condition equates with left-side expressions:
//!    one lookup per left row instead of a scan.
//! 2. **Hash join** — the condition has at least one hashable equality between a
//!    left-side and a right-side expression: the right input is hashed on its keys and
//!    each left row probes it.
//! 3. **Nested loop** — everything else.
//!
//! # Invariants
//! * A faster strategy only *pre-selects* candidate pairs: every candidate still has
//!   the whole ON condition evaluated on the concatenated row, exactly as the nested
//!   loop does, so the result is the nested loop's. The only obligation of a key is
//!   "ON true ⇒ keys equal": NULL keys never match (ON is then NULL), and the key
//!   normal form ([`hash_key`]) makes values equal under `types::compare` identical —
//!   int2/int4/int8/numeric of the same value give one key. Types whose equality the
//!   normal form cannot follow (floats, bpchar, intervals, json…) are not hashed.
//! * Key expressions are columns or widening numeric casts of columns, which cannot
//!   fail, so building or probing never raises an error the nested loop would not.
//! * Row order: the hash join emits, for each left row, its matches in right-input
//!   order — the nested loop's order. The index nested loop emits matches in index
//!   order (a different order only among duplicates of one key).
//! * Moving a WHERE conjunct into a join ([`push_down_where`]) is done only for
//!   `column = column` conjuncts into an inner join whose rows reach the WHERE
//!   unchanged (it is the top join or on the preserved side of the joins above).
//!
//! # Never
//! Never answers differently from the nested loop; when in doubt it falls back to it.

use super::exec::source_rows;
use super::expr::{eval, BinOp, Expr};
use super::plan::Source;
use super::ExecCtx;
use crate::error::Result;
use crate::storage::TableDef;
use crate::types::{self, DataType, Value};
use std::cell::Cell;
use std::collections::HashMap;

thread_local! {
    static VISITED: Cell<u64> = const { Cell::new(0) };
}

/// How many inner-side rows joins on this thread have examined (pairs the ON
/// condition was evaluated on, plus hash-bucket candidates) since the last call; tests
/// use it to prove a join did not compare every pair.
pub fn take_inner_rows_visited() -> u64 {
    VISITED.with(|v| v.replace(0))
}

fn visit(n: u64) {
    VISITED.with(|v| v.set(v.get() + n));
}

/// One equality of the ON condition: an expression over the left row and one over the
/// right row (its columns renumbered from 0).
#[derive(Debug, Clone)]
pub struct EquiKey {
    /// The left-side expression (over the left row).
    pub left: Expr,
    /// The right-side expression (over the right row alone).
    pub right: Expr,
}

/// The algorithm a join runs with.
#[derive(Debug, Clone)]
pub enum Strategy {
    /// Compare every pair.
    NestedLoop,
    /// Hash the right input on the keys, probe with each left row.
    Hash(Vec<EquiKey>),
    /// Look the right table up per left row: `index` None is the primary key; `keys`
    /// gives the left-side value for each index column used, in key order.
    Index {
        /// The index's OID, None for the primary key.
        index: Option<u32>,
        /// The index's name (for EXPLAIN).
        name: String,
        /// (table column, left expression) per key column used, in key order.
        keys: Vec<(usize, Expr)>,
    },
}

/// The width of a source's rows when it is known without running it.
pub fn source_width(src: &Source) -> Option<usize> {
    match src {
        Source::Single => Some(0),
        Source::Table { def, .. } => Some(def.columns.len()),
        Source::Virtual(vt) => Some(vt.columns().len() + vt.system_columns().len()),
        Source::Subquery(p) | Source::DistinctOn(p, _) => Some(p.visible),
        Source::Join {
            left, right_width, ..
        } => Some(source_width(left)? + right_width),
        Source::Values(rows) => rows.first().map(|r| r.len()),
        Source::Series(..) => Some(1),
        Source::Lateral(j) => Some(source_width(&j.left)? + j.right_width),
        _ => None,
    }
}

/// Which equality class a type's values hash in; None when not hashable.
fn class(ty: DataType) -> Option<u8> {
    Some(match ty {
        DataType::Int2 | DataType::Int4 | DataType::Int8 | DataType::Numeric => 1,
        DataType::Text | DataType::Varchar => 2,
        DataType::Bool => 3,
        DataType::Date => 4,
        DataType::Time => 7,
        DataType::TimeTz => 8,
        _ => match ty.oid() {
            2950 => 5, // uuid
            17 => 6,   // bytea
            _ => return None,
        },
    })
}

/// The columns an expression reads, if it is a column or a chain of widening numeric
/// casts of one (which cannot fail).
fn key_column(e: &Expr) -> Option<usize> {
    match e {
        Expr::Column(i, _) => Some(*i),
        Expr::Cast(x, to, _, _) => {
            let from = x.ty();
            let widening = from == *to
                || matches!(
                    (from, to),
                    (
                        DataType::Int2,
                        DataType::Int4 | DataType::Int8 | DataType::Numeric
                    ) | (DataType::Int4, DataType::Int8 | DataType::Numeric)
                        | (DataType::Int8, DataType::Numeric)
                        | (DataType::Varchar, DataType::Text)
                        | (DataType::Text, DataType::Varchar)
                );
            if widening && class(from).is_some() {
                key_column(x)
            } else {
                None
            }
        }
        _ => None,
    }
}

fn shift(e: &Expr, by: usize) -> Expr {
    match e {
        Expr::Column(i, t) => Expr::Column(i - by, *t),
        Expr::Cast(x, t, m, ex) => Expr::Cast(Box::new(shift(x, by)), *t, *m, *ex),
        other => other.clone(),
    }
}

/// The AND-ed conjuncts of a condition.
pub fn conjuncts(e: &Expr) -> Vec<&Expr> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::And(l, r) => {
                stack.push(r);
                stack.push(l);
            }
            other => out.push(other),
        }
    }
    out
}

/// The hashable equalities between the two sides in a join condition.
pub fn equi_keys(on: &Expr, left_width: usize) -> Vec<EquiKey> {
    let mut keys = Vec::new();
    for c in conjuncts(on) {
        let Expr::Binary(BinOp::Eq, a, b, _) = c else {
            continue;
        };
        let (Some(ca), Some(cb)) = (key_column(a), key_column(b)) else {
            continue;
        };
        let (Some(ka), Some(kb)) = (class(a.ty()), class(b.ty())) else {
            continue;
        };
        if ka != kb {
            continue;
        }
        if ca < left_width && cb >= left_width {
            keys.push(EquiKey {
                left: (**a).clone(),
                right: shift(b, left_width),
            });
        } else if cb < left_width && ca >= left_width {
            keys.push(EquiKey {
                left: (**b).clone(),
                right: shift(a, left_width),
            });
        }
    }
    keys
}

/// Picks the algorithm for a join (see the module comment). A RIGHT or FULL join
/// (`right_outer`) must see every right row, so it never looks the right side up.
pub fn choose(left: &Source, right: &Source, on: Option<&Expr>, right_outer: bool) -> Strategy {
    let (Some(on), Some(lw)) = (on, source_width(left)) else {
        return Strategy::NestedLoop;
    };
    let keys = equi_keys(on, lw);
    if keys.is_empty() {
        return Strategy::NestedLoop;
    }
    if right_outer {
        return Strategy::Hash(keys);
    }
    if let Source::Table { def, key: None, .. } = right {
        if let Some(s) = index_strategy(def, &keys) {
            return s;
        }
    }
    Strategy::Hash(keys)
}

fn index_strategy(def: &TableDef, keys: &[EquiKey]) -> Option<Strategy> {
    // The left expression equated with a plain right column of the column's class.
    let left_for = |col: usize| {
        keys.iter().find_map(|k| match &k.right {
            Expr::Column(c, _) if *c == col && class(def.columns[col].data_type).is_some() => {
                Some(k.left.clone())
            }
            _ => None,
        })
    };
    if let Some(pk) = &def.primary_key {
        let found: Option<Vec<(usize, Expr)>> =
            pk.iter().map(|&c| left_for(c).map(|e| (c, e))).collect();
        if let Some(keys) = found {
            return Some(Strategy::Index {
                index: None,
                name: def.pkey_name.clone(),
                keys,
            });
        }
    }
    let mut best: Option<(usize, Strategy)> = None;
    // A partial index misses rows: never a join's way in.
    for ix in def.indexes.iter().filter(|i| i.predicate.is_none()) {
        let mut used = Vec::new();
        for &c in &ix.columns {
            match left_for(c) {
                Some(e) => used.push((c, e)),
                None => break,
            }
        }
        let score = if ix.unique && used.len() == ix.columns.len() {
            usize::MAX
        } else {
            used.len()
        };
        if !used.is_empty() && best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((
                score,
                Strategy::Index {
                    index: Some(ix.oid),
                    name: ix.name.clone(),
                    keys: used,
                },
            ));
        }
    }
    best.map(|(_, s)| s)
}

/// The normal form of a key value: equal under `types::compare` ⇒ equal bytes. None
/// for a value this form does not cover (the join then falls back to the nested loop).
fn hash_key(v: &Value, out: &mut Vec<u8>) -> Option<()> {
    match v {
        Value::Int2(_) | Value::Int4(_) | Value::Int8(_) => {
            out.push(b'i');
            out.extend_from_slice(&v.as_i64()?.to_le_bytes());
        }
        Value::Numeric(n) => {
            let n = n.normalized();
            match (n.is_integer(), bigdecimal::ToPrimitive::to_i64(&n)) {
                (true, Some(i)) => {
                    out.push(b'i');
                    out.extend_from_slice(&i.to_le_bytes());
                }
                _ => {
                    out.push(b'n');
                    let s = n.to_string();
                    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                    out.extend_from_slice(s.as_bytes());
                }
            }
        }
        Value::Text(s) => {
            out.push(b't');
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bool(b) => out.extend_from_slice(&[b'b', *b as u8]),
        Value::Date(d) => {
            out.push(b'd');
            out.extend_from_slice(&d.to_le_bytes());
        }
        Value::Time(t) => {
            out.push(b'h');
            out.extend_from_slice(&t.to_le_bytes());
        }
        Value::TimeTz(t) => {
            out.push(b'z');
            out.extend_from_slice(&t.micros.to_le_bytes());
            out.extend_from_slice(&t.zone.to_le_bytes());
        }
        Value::Uuid(u) => {
            out.push(b'u');
            out.extend_from_slice(u);
        }
        Value::Bytea(b) => {
            out.push(b'y');
            out.extend_from_slice(&(b.len() as u32).to_le_bytes());
            out.extend_from_slice(b);
        }
        _ => return None,
    }
    Some(())
}

/// The key of a row, Ok(None) when a key value is NULL (no match is possible), Err(())
/// when a value has no normal form.
fn row_key(
    exprs: &mut dyn Iterator<Item = &Expr>,
    row: &[Value],
    cx: &mut ExecCtx<'_>,
) -> Result<std::result::Result<Option<Vec<u8>>, ()>> {
    let mut out = Vec::new();
    for e in exprs {
        let v = eval(e, row, cx)?;
        if v.is_null() {
            return Ok(Ok(None));
        }
        if hash_key(&v, &mut out).is_none() {
            return Ok(Err(()));
        }
    }
    Ok(Ok(Some(out)))
}

fn keep(on: Option<&Expr>, row: &[Value], cx: &mut ExecCtx<'_>) -> Result<bool> {
    Ok(match on {
        Some(e) => matches!(eval(e, row, cx)?, Value::Bool(true)),
        None => true,
    })
}

fn null_extend(lr: &[Value], right_width: usize) -> Vec<Value> {
    let mut row = lr.to_vec();
    row.extend(std::iter::repeat_n(Value::Null, right_width));
    row
}

/// Which sides of a join are preserved (NULL-extended when unmatched).
#[derive(Debug, Clone, Copy)]
pub struct Outer {
    /// LEFT or FULL: unmatched left rows are kept.
    pub left: bool,
    /// RIGHT or FULL: unmatched right rows are kept; the left input's width.
    pub right: Option<usize>,
    /// The right input's width.
    pub right_width: usize,
}

/// Appends the right rows no pair kept, NULL-extended on the left (RIGHT/FULL JOIN).
fn right_unmatched(out: &mut Vec<Vec<Value>>, r: &[Vec<Value>], hit: &[bool], outer: Outer) {
    let Some(lw) = outer.right else {
        return;
    };
    for (rr, _) in r.iter().zip(hit).filter(|(_, h)| !**h) {
        let mut row = vec![Value::Null; lw];
        row.extend(rr.iter().cloned());
        out.push(row);
    }
}

/// Runs a join with the algorithm [`choose`] picks.
pub fn run_join(
    left: &Source,
    right: &Source,
    on: Option<&Expr>,
    outer: Outer,
    cx: &mut ExecCtx<'_>,
) -> Result<Vec<Vec<Value>>> {
    let strategy = choose(left, right, on, outer.right.is_some());
    let l = source_rows(left, cx)?;
    match strategy {
        Strategy::NestedLoop => {
            let r = source_rows(right, cx)?;
            nested_loop(&l, &r, on, outer, cx)
        }
        Strategy::Hash(keys) => {
            let r = source_rows(right, cx)?;
            match hash_join(&l, &r, &keys, on, outer, cx)? {
                Some(rows) => Ok(rows),
                None => nested_loop(&l, &r, on, outer, cx),
            }
        }
        Strategy::Index { index, keys, .. } => {
            let Source::Table { db, def, .. } = right else {
                let r = source_rows(right, cx)?;
                return nested_loop(&l, &r, on, outer, cx);
            };
            let mut out = Vec::new();
            for (n, lr) in l.iter().enumerate() {
                if n % 1024 == 0 {
                    cx.check_interrupts()?;
                }
                let mut matched = false;
                if let Some(vals) = lookup_values(&keys, def, lr, cx)? {
                    let found = match index {
                        None => cx.engine.lookup_key(cx.txn, *db, def.oid, &vals),
                        Some(ix) => cx
                            .engine
                            .lookup_index(cx.txn, *db, def.oid, ix, &vals, None)
                            .unwrap_or_default(),
                    };
                    visit(found.len() as u64);
                    for (_, rr) in found {
                        let mut row = lr.clone();
                        row.extend(rr.iter().cloned());
                        if keep(on, &row, cx)? {
                            matched = true;
                            out.push(row);
                        }
                    }
                }
                if !matched && outer.left {
                    out.push(null_extend(lr, outer.right_width));
                }
            }
            Ok(out)
        }
    }
}

/// The index key values for a left row: None when no right row can match (a NULL, or
/// a value the column's type cannot hold — no value of that type equals it; a value
/// the cast rounds only yields candidates the ON condition then rejects).
fn lookup_values(
    keys: &[(usize, Expr)],
    def: &TableDef,
    lr: &[Value],
    cx: &mut ExecCtx<'_>,
) -> Result<Option<Vec<Value>>> {
    let mut vals = Vec::with_capacity(keys.len());
    for (col, e) in keys {
        let v = eval(e, lr, cx)?;
        if v.is_null() {
            return Ok(None);
        }
        let ty = def.columns[*col].data_type;
        match types::cast(v, ty, -1, false) {
            Ok(v) if v.data_type() == ty || ty.is_string() => vals.push(v),
            _ => return Ok(None),
        }
    }
    Ok(Some(vals))
}

/// The nested loop: every pair, in left-then-right order (then the unmatched right
/// rows of a RIGHT/FULL join).
pub fn nested_loop(
    l: &[Vec<Value>],
    r: &[Vec<Value>],
    on: Option<&Expr>,
    outer: Outer,
    cx: &mut ExecCtx<'_>,
) -> Result<Vec<Vec<Value>>> {
    let mut out = Vec::new();
    let mut hit = vec![false; if outer.right.is_some() { r.len() } else { 0 }];
    for (n, lr) in l.iter().enumerate() {
        if n % 1024 == 0 {
            cx.check_interrupts()?;
        }
        visit(r.len() as u64);
        let mut matched = false;
        for (i, rr) in r.iter().enumerate() {
            let mut row = lr.clone();
            row.extend(rr.iter().cloned());
            if keep(on, &row, cx)? {
                matched = true;
                if let Some(h) = hit.get_mut(i) {
                    *h = true;
                }
                out.push(row);
            }
        }
        if !matched && outer.left {
            out.push(null_extend(lr, outer.right_width));
        }
    }
    right_unmatched(&mut out, r, &hit, outer);
    Ok(out)
}

/// The hash join; None when some key value has no normal form (the caller then runs
/// the nested loop over the same inputs).
fn hash_join(
    l: &[Vec<Value>],
    r: &[Vec<Value>],
    keys: &[EquiKey],
    on: Option<&Expr>,
    outer: Outer,
    cx: &mut ExecCtx<'_>,
) -> Result<Option<Vec<Vec<Value>>>> {
    let mut table: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
    for (i, rr) in r.iter().enumerate() {
        match row_key(&mut keys.iter().map(|k| &k.right), rr, cx)? {
            Ok(Some(k)) => table.entry(k).or_default().push(i),
            Ok(None) => {}
            Err(()) => return Ok(None),
        }
    }
    let mut out = Vec::new();
    let mut hit = vec![false; if outer.right.is_some() { r.len() } else { 0 }];
    for (n, lr) in l.iter().enumerate() {
        if n % 1024 == 0 {
            cx.check_interrupts()?;
        }
        let mut matched = false;
        let k = match row_key(&mut keys.iter().map(|k| &k.left), lr, cx)? {
            Ok(k) => k,
            Err(()) => return Ok(None),
        };
        if let Some(cands) = k.as_ref().and_then(|k| table.get(k)) {
            visit(cands.len() as u64);
            for &i in cands {
                let mut row = lr.clone();
                row.extend(r[i].iter().cloned());
                if keep(on, &row, cx)? {
                    matched = true;
                    if let Some(h) = hit.get_mut(i) {
                        *h = true;
                    }
                    out.push(row);
                }
            }
        }
        if !matched && outer.left {
            out.push(null_extend(lr, outer.right_width));
        }
    }
    right_unmatched(&mut out, r, &hit, outer);
    Ok(Some(out))
}

/// The rows of one input hashed on the right sides of equality keys, probed with rows
/// of the other input (`UPDATE … FROM`, `DELETE … USING`: the target row probes the
/// other FROM items' rows). Candidates only: the caller evaluates the whole condition.
pub struct HashedRows {
    table: HashMap<Vec<u8>, Vec<usize>>,
    keys: Vec<EquiKey>,
}

impl HashedRows {
    /// Hashes `r` on the keys; None when there are no keys or a value has no normal
    /// form (the caller then tries every row).
    pub fn build(
        keys: Vec<EquiKey>,
        r: &[Vec<Value>],
        cx: &mut ExecCtx<'_>,
    ) -> Result<Option<HashedRows>> {
        if keys.is_empty() {
            return Ok(None);
        }
        let mut table: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        for (i, rr) in r.iter().enumerate() {
            match row_key(&mut keys.iter().map(|k| &k.right), rr, cx)? {
                Ok(Some(k)) => table.entry(k).or_default().push(i),
                Ok(None) => {}
                Err(()) => return Ok(None),
            }
        }
        Ok(Some(HashedRows { table, keys }))
    }

    /// The indexes of the rows that may match `lr`; None when its key has no normal
    /// form (then every row may).
    pub fn candidates(&self, lr: &[Value], cx: &mut ExecCtx<'_>) -> Result<Option<Vec<usize>>> {
        Ok(
            match row_key(&mut self.keys.iter().map(|k| &k.left), lr, cx)? {
                Ok(Some(k)) => Some(self.table.get(&k).cloned().unwrap_or_default()),
                Ok(None) => Some(vec![]),
                Err(()) => None,
            },
        )
    }
}

/// Moves `column = column` conjuncts of WHERE into the inner joins they connect (see
/// the module comment); returns the source and what remains of WHERE. `width` is the
/// width of the source's rows.
pub fn push_down_where(src: Source, filter: Option<Expr>, width: usize) -> (Source, Option<Expr>) {
    let Some(f) = filter else {
        return (src, None);
    };
    if !matches!(src, Source::Join { .. }) {
        return (src, Some(f));
    }
    let mut src = src;
    let mut rest: Option<Expr> = None;
    for c in conjuncts(&f) {
        let movable = match c {
            Expr::Binary(BinOp::Eq, a, b, _) => match (key_column(a), key_column(b)) {
                (Some(x), Some(y)) => Some((x.min(y), x.max(y))),
                _ => None,
            },
            _ => None,
        };
        let placed = movable.is_some_and(|(lo, hi)| place(&mut src, c, lo, hi, width));
        if !placed {
            rest = Some(match rest {
                None => c.clone(),
                Some(r) => Expr::And(Box::new(r), Box::new(c.clone())),
            });
        }
    }
    (src, rest)
}

/// Puts a conjunct reading columns `lo..=hi` into the lowest inner join in `src`'s
/// left spine that holds both; false when none does.
fn place(src: &mut Source, c: &Expr, lo: usize, hi: usize, width: usize) -> bool {
    let Source::Join {
        left,
        on,
        left_outer,
        right_width,
        right_outer,
        ..
    } = src
    else {
        return false;
    };
    // A RIGHT/FULL join NULL-extends its left side: nothing moves into or below it.
    if right_outer.is_some() {
        return false;
    }
    let Some(lw) = width.checked_sub(*right_width) else {
        return false;
    };
    if hi < lw {
        return place(left, c, lo, hi, lw);
    }
    if lo >= lw || *left_outer || hi >= width {
        return false;
    }
    *on = Some(match on.take() {
        None => c.clone(),
        Some(o) => Expr::And(Box::new(o), Box::new(c.clone())),
    });
    true
}
