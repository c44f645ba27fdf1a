//! Query- and SELECT-level clauses sqlparser parses that the main binder does not
//! handle itself: `FETCH FIRST … ROWS ONLY` becomes a LIMIT, and everything else
//! (`SELECT … INTO`, `FETCH … WITH TIES`, other dialects' QUALIFY, TOP, SORT BY, …)
//! is rejected.
//!
//! Invariant: every field of sqlparser's `Query` and `Select` is either bound by the
//! binder or refused here — a clause is never parsed and then ignored, which would
//! return a silently wrong answer.

use super::{Binder, Coercion, Scope};
use crate::error::{sqlstate, Result};
use crate::sql::expr::Expr;
use crate::types::{DataType, Value};
use crate::{bail, err};
use sqlparser::ast::{self, Spanned};

impl Binder<'_> {
    /// The LIMIT a query's `FETCH FIRST n ROWS ONLY` stands for; errors for the
    /// query-level clauses tusk does not implement.
    pub(super) fn query_fetch_limit(&mut self, q: &ast::Query) -> Result<Option<Expr>> {
        if q.for_clause.is_some()
            || q.settings.is_some()
            || q.format_clause.is_some()
            || !q.pipe_operators.is_empty()
        {
            bail!(
                sqlstate::SYNTAX_ERROR,
                "syntax error: this query clause is not PostgreSQL's"
            );
        }
        let Some(fetch) = &q.fetch else {
            return Ok(None);
        };
        if fetch.percent {
            bail!(
                sqlstate::SYNTAX_ERROR,
                "syntax error at or near \"PERCENT\""
            );
        }
        if fetch.with_ties {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "FETCH FIRST ... WITH TIES is not supported yet"
            );
        }
        if matches!(
            &q.limit_clause,
            Some(ast::LimitClause::LimitOffset { limit: Some(_), .. })
                | Some(ast::LimitClause::OffsetCommaLimit { .. })
        ) {
            bail!(sqlstate::SYNTAX_ERROR, "multiple LIMIT clauses not allowed");
        }
        Ok(Some(match &fetch.quantity {
            None => Expr::Const(Value::Int8(1), DataType::Int8),
            Some(e) => {
                let b = self.bind(e, &Scope::default())?;
                self.coerce(b, DataType::Int8, -1, Coercion::Implicit, e.span())?
            }
        }))
    }

    /// Rejects SELECT clauses tusk does not implement (or that are not PostgreSQL's).
    pub(super) fn check_select_clauses(&self, s: &ast::Select) -> Result<()> {
        if s.into.is_some() {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "SELECT ... INTO is not supported yet"
            );
        }
        let foreign = s.top.is_some()
            || s.exclude.is_some()
            || !s.lateral_views.is_empty()
            || s.prewhere.is_some()
            || !s.cluster_by.is_empty()
            || !s.distribute_by.is_empty()
            || !s.sort_by.is_empty()
            || s.qualify.is_some()
            || s.value_table_mode.is_some()
            || s.connect_by.is_some()
            || !matches!(s.flavor, ast::SelectFlavor::Standard);
        if foreign {
            return Err(err!(
                sqlstate::SYNTAX_ERROR,
                "syntax error: this SELECT clause is not PostgreSQL's"
            ));
        }
        Ok(())
    }
}
