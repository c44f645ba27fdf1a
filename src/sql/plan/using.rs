//! `JOIN … USING (columns)` and `NATURAL JOIN`: the join condition they stand for
//! and the merged columns they add to the FROM scope.
//!
//! # What it owns
//! Turning the column list (written, or for NATURAL the names both sides share, in
//! left order) into pairs of left and right scope columns, with PostgreSQL's errors
//! (42703 a name missing on one side, 42701 a name listed twice, 42702 a name twice on
//! one side); the ON condition `l.x = r.x AND …`, bound with the binder's own operator
//! and coercion rules; and the projection that puts one merged column per pair first,
//! `COALESCE(l.x, r.x)` — the left value in an inner or LEFT join, the right one in a
//! RIGHT join, whichever is not NULL in a FULL join, as PostgreSQL defines it — of
//! the two sides' common type.
//!
//! # Invariants
//! * The row the join produces is unchanged (left columns, then right columns); the
//!   projection above it prepends the merged columns, so `Expr::Column` positions
//!   inside the ON condition are the plain join's.
//! * The two sides' columns stay in the scope, marked `absorbed`: `a.x` still names
//!   the left one, while an unqualified `x` and a bare `*` see only the merged column
//!   (`a.*` lists `a.x` again, as in PostgreSQL).
//!
//! # Never
//! Never resolves a USING name to an absorbed column of a nested join: a column merged
//! before is found through its merged column, as PostgreSQL does.

use super::{field, Binder, Scope, ScopeCol, SelectPlan, Source};
use crate::error::{sqlstate, Result};
use crate::sql::expr::Expr;
use crate::{bail, err};
use sqlparser::ast;

/// The pairs of a USING or NATURAL join: (left column, right column) positions in
/// their own scopes, with the merged column's name.
pub(super) struct UsingPairs {
    pairs: Vec<(usize, usize, String)>,
}

impl UsingPairs {
    /// Whether the join merges no column (NATURAL with no common name: a cross join).
    pub(super) fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// The one visible column named `name` in a side's scope.
fn find(scope: &Scope, name: &str, side: &str) -> Result<Option<usize>> {
    let hits: Vec<usize> = scope
        .cols
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.absorbed && c.name == name)
        .map(|(i, _)| i)
        .collect();
    match hits.len() {
        0 => Ok(None),
        1 => Ok(Some(hits[0])),
        _ => bail!(
            sqlstate::AMBIGUOUS_COLUMN,
            "common column name \"{name}\" appears more than once in {side} table"
        ),
    }
}

/// A name no user column has: the binder sees each scope column under one while the
/// condition and the merged columns are bound.
fn slot(i: usize) -> String {
    format!("\"tusk using slot {i}\"")
}

impl Binder<'_> {
    /// The pairs of `USING (names)` (`Some`) or of NATURAL (`None`).
    pub(super) fn using_pairs(
        &mut self,
        left: &Scope,
        right: &Scope,
        names: Option<&[ast::ObjectName]>,
    ) -> Result<UsingPairs> {
        let names: Vec<String> = match names {
            Some(list) => {
                let mut out: Vec<String> = Vec::new();
                for n in list {
                    let name = self.split_name(n)?.1;
                    if out.contains(&name) {
                        bail!(
                            sqlstate::DUPLICATE_COLUMN,
                            "column name \"{name}\" appears more than once in USING clause"
                        );
                    }
                    out.push(name);
                }
                out
            }
            None => {
                let mut out: Vec<String> = Vec::new();
                for c in left.cols.iter().filter(|c| !c.absorbed) {
                    let shared = right.cols.iter().any(|r| !r.absorbed && r.name == c.name);
                    if shared && !out.contains(&c.name) {
                        out.push(c.name.clone());
                    }
                }
                out
            }
        };
        let mut pairs = Vec::new();
        for name in names {
            let Some(l) = find(left, &name, "left")? else {
                bail!(
                    sqlstate::UNDEFINED_COLUMN,
                    "column \"{name}\" specified in USING clause does not exist in left table"
                );
            };
            let Some(r) = find(right, &name, "right")? else {
                bail!(
                    sqlstate::UNDEFINED_COLUMN,
                    "column \"{name}\" specified in USING clause does not exist in right table"
                );
            };
            pairs.push((l, r, name));
        }
        Ok(UsingPairs { pairs })
    }

    /// Binds `text` (an expression over slot names) against the joined row; a failure
    /// is PostgreSQL's 42804 for the pair `(l, r)`.
    fn bind_over_slots(
        &mut self,
        text: &str,
        joined: &Scope,
        pair: (usize, usize),
    ) -> Result<Expr> {
        let e = crate::sql::depth::parse_stored(text, |p| p.parse_expr())
            .map_err(|e| err!(sqlstate::INTERNAL_ERROR, "USING condition: {e}"))?;
        let scope = Scope {
            cols: joined
                .cols
                .iter()
                .enumerate()
                .map(|(i, c)| ScopeCol {
                    table: None,
                    name: format!("tusk using slot {i}"),
                    ty: c.ty,
                    typmod: c.typmod,
                    table_oid: 0,
                    attnum: 0,
                    absorbed: false,
                })
                .collect(),
        };
        self.bind(&e, &scope).map_err(|_| {
            err!(
                sqlstate::DATATYPE_MISMATCH,
                "JOIN/USING types {} and {} cannot be matched",
                joined.cols[pair.0].ty.name(),
                joined.cols[pair.1].ty.name()
            )
        })
    }

    /// The join condition of the pairs over the joined row (left width `lw`).
    pub(super) fn using_condition(
        &mut self,
        joined: &Scope,
        lw: usize,
        p: &UsingPairs,
    ) -> Result<Option<Expr>> {
        let mut on: Option<Expr> = None;
        for (l, r, _) in &p.pairs {
            let text = format!("{} = {}", slot(*l), slot(lw + r));
            let e = self.bind_over_slots(&text, joined, (*l, lw + r))?;
            on = Some(match on {
                None => e,
                Some(prev) => Expr::And(Box::new(prev), Box::new(e)),
            });
        }
        Ok(on)
    }

    /// The projection putting the merged columns before the joined row's, and its
    /// scope (the sides' paired columns absorbed).
    pub(super) fn using_projection(
        &mut self,
        source: Source,
        joined: Scope,
        lw: usize,
        p: &UsingPairs,
    ) -> Result<(Source, Scope)> {
        let mut exprs = Vec::new();
        let mut cols = Vec::new();
        for (l, r, name) in &p.pairs {
            let text = format!("COALESCE({}, {})", slot(*l), slot(lw + r));
            let e = self.bind_over_slots(&text, &joined, (*l, lw + r))?;
            let (lc, rc) = (&joined.cols[*l], &joined.cols[lw + r]);
            let typmod = if lc.ty == rc.ty && lc.typmod == rc.typmod {
                lc.typmod
            } else {
                -1
            };
            cols.push(ScopeCol {
                table: None,
                name: name.clone(),
                ty: e.ty(),
                typmod,
                table_oid: 0,
                attnum: 0,
                absorbed: false,
            });
            exprs.push(e);
        }
        let mut scope = joined;
        for (l, r, _) in &p.pairs {
            scope.cols[*l].absorbed = true;
            scope.cols[lw + r].absorbed = true;
        }
        exprs.extend(
            scope
                .cols
                .iter()
                .enumerate()
                .map(|(i, c)| Expr::Column(i, c.ty)),
        );
        cols.extend(scope.cols);
        let fields = cols
            .iter()
            .map(|c| field(&c.name, c.ty, c.typmod, c.table_oid, c.attnum))
            .collect();
        let plan = SelectPlan {
            source,
            filter: None,
            group: None,
            visible: exprs.len(),
            exprs,
            fields,
            order: vec![],
            distinct: false,
            limit: None,
            offset: None,
            lock: None,
        };
        Ok((Source::Subquery(Box::new(plan)), Scope { cols }))
    }
}
