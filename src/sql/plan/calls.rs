//! The clauses of a function call beyond its arguments: `FILTER (WHERE …)`, `ORDER BY`
//! inside an aggregate, `DISTINCT`, `WITHIN GROUP`, `IGNORE/RESPECT NULLS` and the
//! dialect-only pieces sqlparser also parses.
//!
//! Invariant: no clause of a call is ever dropped silently. Each one is either bound
//! into the [`AggSpec`](super::AggSpec) (FILTER, ORDER BY, DISTINCT), handed to the
//! window binder (OVER), or rejected with PostgreSQL's error — or with 0A000 when
//! PostgreSQL accepts it and tusk does not implement it yet (ordered-set aggregates).
//! This module must never accept a clause it does not carry into the plan.

use super::{fold, Binder, Coercion, Scope};
use crate::error::{sqlstate, Result};
use crate::sql::aggregate::SortKeys;
use crate::sql::depth::Spanned;
use crate::sql::expr::Expr;
use crate::types::DataType;
use crate::{bail, err};
use sqlparser::ast;

impl Binder<'_> {
    /// Rejects the clauses of a call that no function of tusk takes (whatever the
    /// function): WITHIN GROUP, IGNORE/RESPECT NULLS, dialect-only parameters.
    pub(super) fn check_call_clauses(&self, f: &ast::Function, name: &str) -> Result<()> {
        if !f.within_group.is_empty() {
            if super::agg_func(name, false, 1).is_some() || name == "count" {
                return Err(self.at(
                    err!(
                        sqlstate::WRONG_OBJECT_TYPE,
                        "{name} is not an ordered-set aggregate, so it cannot have WITHIN GROUP"
                    ),
                    f.name.span(),
                ));
            }
            return Err(self.at(
                err!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "WITHIN GROUP (ordered-set aggregate {name}) is not supported yet"
                ),
                f.name.span(),
            ));
        }
        if let Some(nt) = &f.null_treatment {
            // PostgreSQL 15's grammar has no IGNORE/RESPECT NULLS.
            bail!(
                sqlstate::SYNTAX_ERROR,
                "syntax error at or near \"{}\"",
                nt.to_string()
                    .split_whitespace()
                    .last()
                    .unwrap_or("NULLS")
                    .to_lowercase()
            );
        }
        if !matches!(f.parameters, ast::FunctionArguments::None) || f.uses_odbc_syntax {
            bail!(sqlstate::SYNTAX_ERROR, "syntax error at or near \"(\"");
        }
        Ok(())
    }

    /// A plain (non-aggregate, non-window) call must not carry aggregate syntax.
    pub(super) fn reject_aggregate_syntax(
        &self,
        f: &ast::Function,
        name: &str,
        distinct: bool,
        order: &[ast::OrderByExpr],
    ) -> Result<()> {
        const WINDOW_ONLY: [&str; 11] = [
            "row_number",
            "rank",
            "dense_rank",
            "percent_rank",
            "cume_dist",
            "ntile",
            "lag",
            "lead",
            "first_value",
            "last_value",
            "nth_value",
        ];
        if WINDOW_ONLY.contains(&name) {
            return Err(self.at(
                err!(
                    sqlstate::WRONG_OBJECT_TYPE,
                    "window function {name} requires an OVER clause"
                ),
                f.name.span(),
            ));
        }
        let what = if f.filter.is_some() {
            "FILTER"
        } else if distinct {
            "DISTINCT"
        } else if !order.is_empty() {
            "ORDER BY"
        } else {
            return Ok(());
        };
        Err(self.at(
            err!(
                sqlstate::WRONG_OBJECT_TYPE,
                "{what} specified, but {name} is not an aggregate function"
            ),
            f.name.span(),
        ))
    }

    /// Binds an aggregate call's FILTER and ORDER BY against its input row.
    pub(super) fn bind_aggregate_extras(
        &mut self,
        f: &ast::Function,
        order: &[ast::OrderByExpr],
        distinct: bool,
        args: &[ast::Expr],
        input: &Scope,
    ) -> Result<(Option<Expr>, SortKeys)> {
        let filter = match &f.filter {
            Some(w) => {
                if super::contains_aggregate(w) {
                    return Err(self.at(
                        err!(
                            sqlstate::GROUPING_ERROR,
                            "aggregate functions are not allowed in FILTER"
                        ),
                        w.span(),
                    ));
                }
                let b = self.bind(w, input)?;
                Some(self.coerce_bool(b, "FILTER", w.span())?)
            }
            None => None,
        };
        let mut keys = Vec::new();
        for o in order {
            if distinct && !args.iter().any(|a| same_expr(a, &o.expr)) {
                return Err(self.at(
                    err!(
                        sqlstate::INVALID_COLUMN_REFERENCE,
                        "in an aggregate with DISTINCT, ORDER BY expressions must appear in argument list"
                    ),
                    o.expr.span(),
                ));
            }
            let mut b = self.bind(&o.expr, input)?;
            if b.ty() == DataType::Unknown {
                b = self.coerce(b, DataType::Text, -1, Coercion::Implicit, o.expr.span())?;
            }
            let desc = o.options.asc == Some(false);
            keys.push((b, desc, o.options.nulls_first.unwrap_or(desc)));
        }
        Ok((filter, keys))
    }
}

/// Whether two AST expressions are the same text (identifiers folded).
fn same_expr(a: &ast::Expr, b: &ast::Expr) -> bool {
    match (a, b) {
        (ast::Expr::Identifier(x), ast::Expr::Identifier(y)) => fold(x) == fold(y),
        _ => a.to_string().to_lowercase() == b.to_string().to_lowercase(),
    }
}
