//! Binding LATERAL FROM items, and the outer levels a subquery or lateral item sees.
//!
//! # What it owns
//! * Which FROM items may read the FROM items to their left: `LATERAL (subquery)`,
//!   `LATERAL f(…)`, and every function in FROM (`generate_series`, `unnest`,
//!   `jsonb_array_elements`, … — PostgreSQL makes them LATERAL implicitly).
//! * The outer level such an item is bound under: the scope of the items to its left,
//!   pushed on the binder's `outer` stack exactly as a correlated subquery's enclosing
//!   scope is ([`Binder::with_outer`]), so the item's references to the left are
//!   `Expr::OuterColumn(depth, i, _)`. If the item turned out to read that level, the
//!   pair becomes a [`Source::Lateral`] (run per left row, [`super::super::lateral`]);
//!   otherwise it is the ordinary [`Source::Join`], planned as before.
//! * The outer level of an aggregating query ([`OuterLevel::grouped`]): a subquery in
//!   its HAVING, select list or ORDER BY runs over the *group row* (the GROUP BY keys,
//!   then the aggregates), so a reference to a column that is a plain GROUP BY key reads
//!   that key's position; any other column is PostgreSQL's 42803 `subquery uses
//!   ungrouped column … from outer query`, and 0A000 when a GROUP BY expression (not a
//!   plain column) might cover it, which tusk does not match yet.
//!
//! # Invariants
//! * The scope pushed for a lateral item is the `Scope` of the very `(Source, Scope)`
//!   pair that becomes the join's left input, so the row `cx.outer` holds at execution
//!   has the layout the item was bound against.
//! * In `FROM a, b JOIN LATERAL (…) s`, the lateral item may read `a` too (as in
//!   PostgreSQL): when a comma-separated element holds an item that may be lateral, the
//!   elements before it are joined in first (`(a × b) ⋈ s` — the same rows as
//!   `a × (b ⋈ s)` for the inner and left joins tusk runs). Such an element's ON
//!   conditions can then name `a` as well, which PostgreSQL refuses.
//!
//! # Never
//! Never lets a non-LATERAL subquery in FROM see the items to its left (a name there
//! must keep resolving to an enclosing query, as in PostgreSQL), and never plans an
//! explicit LATERAL item inside a parenthesized join that has items to its left (its
//! left scope would be incomplete): that is 0A000.

use super::{AggState, Binder, Scope, Source};
use crate::bail;
use crate::error::{sqlstate, Result};
use crate::sql::expr::Expr;
use crate::sql::lateral::LateralJoin;
use sqlparser::ast;

/// One enclosing query level as seen from a subquery or lateral item bound under it.
#[derive(Debug, Clone)]
pub(in crate::sql) struct OuterLevel {
    /// The level's FROM scope (for an aggregating query: its input scope).
    pub scope: Scope,
    /// For an aggregating query: per column of `scope`, its position in the group
    /// row when it is a plain GROUP BY key; and whether some GROUP BY key is an
    /// expression rather than a plain column.
    pub grouped: Option<(Vec<Option<usize>>, bool)>,
}

impl OuterLevel {
    /// The position in the level's row of column `i` of its scope, or the error
    /// PostgreSQL gives (42803) for a column an aggregating query does not group by.
    pub fn position(&self, i: usize) -> Result<usize> {
        let Some((keys, expr_keys)) = &self.grouped else {
            return Ok(i);
        };
        if let Some(Some(k)) = keys.get(i) {
            return Ok(*k);
        }
        let c = &self.scope.cols[i];
        if *expr_keys {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "correlated subqueries referring to a column of an aggregated query that is not a plain GROUP BY column are not supported yet"
            );
        }
        bail!(
            sqlstate::GROUPING_ERROR,
            "subquery uses ungrouped column \"{}.{}\" from outer query",
            c.table.as_deref().unwrap_or_default(),
            c.name
        )
    }
}

/// Whether a FROM item may read the items to its left.
fn may_be_lateral(f: &ast::TableFactor) -> bool {
    match f {
        ast::TableFactor::Derived { lateral, .. } => *lateral,
        ast::TableFactor::Function { .. } | ast::TableFactor::UNNEST { .. } => true,
        ast::TableFactor::Table { args, .. } => args.is_some(),
        _ => false,
    }
}

/// Whether a FROM item is or holds an explicit LATERAL item.
fn has_explicit_lateral(f: &ast::TableFactor) -> bool {
    match f {
        ast::TableFactor::Derived { lateral, .. } | ast::TableFactor::Function { lateral, .. } => {
            *lateral
        }
        ast::TableFactor::NestedJoin {
            table_with_joins, ..
        } => {
            has_explicit_lateral(&table_with_joins.relation)
                || table_with_joins
                    .joins
                    .iter()
                    .any(|j| has_explicit_lateral(&j.relation))
        }
        _ => false,
    }
}

/// Joins a left and a right input: a [`Source::Lateral`] when the right input reads
/// the left row, else the ordinary [`Source::Join`].
pub(super) fn join(
    left: Source,
    right: Source,
    on: Option<Expr>,
    left_outer: bool,
    right_width: usize,
    lateral: bool,
) -> Source {
    if lateral {
        Source::Lateral(Box::new(LateralJoin {
            left,
            right,
            on,
            left_outer,
            right_width,
        }))
    } else {
        Source::Join {
            left: Box::new(left),
            right: Box::new(right),
            on,
            left_outer,
            right_width,
        }
    }
}

impl Binder<'_> {
    /// The outer level a subquery bound inside this query sees (see [`OuterLevel`]).
    pub(super) fn outer_level(&mut self, scope: &Scope) -> Result<OuterLevel> {
        let Some(st) = self.agg.take() else {
            return Ok(OuterLevel {
                scope: scope.clone(),
                grouped: None,
            });
        };
        let r = self.grouped_keys(&st);
        let scope = st.input.clone();
        self.agg = Some(st);
        Ok(OuterLevel {
            scope,
            grouped: Some(r?),
        })
    }

    fn grouped_keys(&mut self, st: &AggState) -> Result<(Vec<Option<usize>>, bool)> {
        let mut keys = vec![None; st.input.cols.len()];
        let mut expr_keys = false;
        for (k, key) in st.keys.iter().enumerate() {
            match self.bind(key, &st.input)? {
                Expr::Column(i, _) if i < keys.len() => {
                    if keys[i].is_none() {
                        keys[i] = Some(k);
                    }
                }
                _ => expr_keys = true,
            }
        }
        Ok((keys, expr_keys))
    }

    /// Plans the head item of a comma-separated FROM element. When an earlier element
    /// exists and this element holds an item that may be lateral, the earlier
    /// elements (`acc`, taken) are joined in first so that the item sees them.
    pub(super) fn plan_from_head(
        &mut self,
        acc: &mut Option<(Source, Scope)>,
        twj: &ast::TableWithJoins,
    ) -> Result<(Source, Scope)> {
        let needs =
            may_be_lateral(&twj.relation) || twj.joins.iter().any(|j| may_be_lateral(&j.relation));
        match acc.take() {
            Some((lsrc, lscope)) if needs => {
                let (rsrc, rscope, lateral) = self.plan_item(Some(&lscope), &twj.relation)?;
                let right_width = rscope.cols.len();
                let mut scope = lscope;
                scope.cols.extend(rscope.cols);
                Ok((join(lsrc, rsrc, None, false, right_width, lateral), scope))
            }
            other => {
                *acc = other;
                let (src, scope, _) = self.plan_item(None, &twj.relation)?;
                Ok((src, scope))
            }
        }
    }

    /// Plans a FROM item; `left` is the scope of the items to its left, which an item
    /// that may be lateral sees as its nearest outer level. Returns whether the item
    /// reads that level (then it must run per left row).
    pub(super) fn plan_item(
        &mut self,
        left: Option<&Scope>,
        f: &ast::TableFactor,
    ) -> Result<(Source, Scope, bool)> {
        if left.is_some()
            && matches!(f, ast::TableFactor::NestedJoin { .. })
            && has_explicit_lateral(f)
        {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "LATERAL inside a parenthesized join with FROM items to its left is not supported yet"
            );
        }
        let left = left.filter(|_| may_be_lateral(f));
        let (r, lateral) = self.with_left(left, |b| match f {
            ast::TableFactor::Derived {
                lateral: true,
                subquery,
                alias,
            } => b.plan_factor(&ast::TableFactor::Derived {
                lateral: false,
                subquery: subquery.clone(),
                alias: alias.clone(),
            }),
            ast::TableFactor::Function {
                name, args, alias, ..
            } => {
                let fa = ast::TableFunctionArgs {
                    args: args.clone(),
                    settings: None,
                };
                b.plan_table_function(name, &fa, alias.as_ref())
            }
            other => b.plan_factor(other),
        })?;
        Ok((r.0, r.1, lateral))
    }

    /// Runs `g` with `left` pushed as the nearest outer level (when given); returns its
    /// result and whether anything bound in it read that level.
    fn with_left<T>(
        &mut self,
        left: Option<&Scope>,
        g: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<(T, bool)> {
        let Some(l) = left else {
            return Ok((g(self)?, false));
        };
        self.outer.push(OuterLevel {
            scope: l.clone(),
            grouped: None,
        });
        self.correlated.push(false);
        let r = g(self);
        self.outer.pop();
        let read = self.correlated.pop().unwrap_or(false);
        Ok((r?, read))
    }
}
