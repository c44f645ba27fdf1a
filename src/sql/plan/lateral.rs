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
//! must keep resolving to an enclosing query, as in PostgreSQL). A parenthesized join
//! to the right of other items is bound with their scope when it holds lateral items
//! (and runs per left row if they read it); when it holds plain subqueries as well,
//! which must not see that scope, it is refused with 0A000.

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

/// Whether a FROM item may read the items to its left: a LATERAL subquery, a
/// function, or a parenthesized join holding one. A parenthesized join that also holds
/// a plain subquery, which must not see them, is `Err` (not planned with them).
fn may_be_lateral(f: &ast::TableFactor) -> std::result::Result<bool, ()> {
    fn leaves(f: &ast::TableFactor, lateral: &mut bool, plain: &mut bool) {
        match f {
            ast::TableFactor::Derived { lateral: l, .. } => {
                *lateral |= *l;
                *plain |= !*l;
            }
            ast::TableFactor::Function { .. } | ast::TableFactor::UNNEST { .. } => *lateral = true,
            ast::TableFactor::Table { args, .. } => *lateral |= args.is_some(),
            ast::TableFactor::NestedJoin {
                table_with_joins, ..
            } => {
                leaves(&table_with_joins.relation, lateral, plain);
                for j in &table_with_joins.joins {
                    leaves(&j.relation, lateral, plain);
                }
            }
            _ => {}
        }
    }
    let (mut lateral, mut plain) = (false, false);
    leaves(f, &mut lateral, &mut plain);
    match f {
        ast::TableFactor::NestedJoin { .. } if lateral && plain => Err(()),
        _ => Ok(lateral),
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
            right_outer: None,
        }
    }
}

/// Whether an expression reads a column of its own query's row (not counting what
/// nested subqueries read; an expression kind not known here counts as not reading).
fn reads_own_column(e: &Expr) -> bool {
    match e {
        Expr::Column(..) => true,
        Expr::Binary(_, a, b, _)
        | Expr::And(a, b)
        | Expr::Or(a, b)
        | Expr::IsDistinct(a, b, _)
        | Expr::Like(a, b, _, _) => reads_own_column(a) || reads_own_column(b),
        Expr::Neg(a, _)
        | Expr::Not(a)
        | Expr::IsNull(a, _)
        | Expr::IsBool(a, _, _)
        | Expr::Cast(a, _, _, _)
        | Expr::InSubquery(a, _, _)
        | Expr::Correlated(a) => reads_own_column(a),
        Expr::Func(_, args, _) => args.iter().any(reads_own_column),
        Expr::InList(a, list, _) => reads_own_column(a) || list.iter().any(reads_own_column),
        Expr::Case(arms, other, _) => {
            arms.iter()
                .any(|(w, t)| reads_own_column(w) || reads_own_column(t))
                || other.as_deref().is_some_and(reads_own_column)
        }
        _ => false,
    }
}

impl Binder<'_> {
    /// Starts watching which outer levels an aggregate call's arguments read; returns
    /// what was recorded before (give it back to [`Binder::outer_reads_end`]).
    pub(super) fn outer_reads_begin(&mut self) -> Vec<bool> {
        let n = self.correlated.len();
        std::mem::replace(&mut self.correlated, vec![false; n])
    }

    /// Ends [`Binder::outer_reads_begin`] (`args`: the bound arguments, None when
    /// binding them failed): an aggregate whose arguments read only
    /// columns of enclosing queries belongs, in PostgreSQL, to that enclosing query
    /// (`SELECT (SELECT sum(a.x) FROM b) FROM a` sums over `a`); tusk would compute it
    /// over the subquery's rows, so it is refused (0A000).
    pub(super) fn outer_reads_end(
        &mut self,
        saved: Vec<bool>,
        args: Option<&[Expr]>,
        span: sqlparser::tokenizer::Span,
    ) -> Result<()> {
        let read = self.correlated.iter().any(|c| *c);
        for (c, s) in self.correlated.iter_mut().zip(saved) {
            *c |= s;
        }
        if read && args.is_some_and(|a| !a.iter().any(reads_own_column)) {
            return Err(self.at(
                crate::err!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "aggregate functions over columns of an enclosing query are not supported yet"
                ),
                span,
            ));
        }
        Ok(())
    }

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
        let needs = may_be_lateral(&twj.relation) != Ok(false)
            || twj
                .joins
                .iter()
                .any(|j| may_be_lateral(&j.relation) != Ok(false));
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
        let left = match (left, may_be_lateral(f)) {
            (Some(_), Err(())) => bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "a parenthesized join holding both LATERAL items (or functions) and plain subqueries, with FROM items to its left, is not supported yet"
            ),
            (Some(l), Ok(true)) => Some(l),
            _ => None,
        };
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
