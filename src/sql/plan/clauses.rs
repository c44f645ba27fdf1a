//! Query- and SELECT-level clauses sqlparser parses that the main binder does not
//! handle itself: `FETCH FIRST … ROWS ONLY` becomes a LIMIT, and everything else
//! (`SELECT … INTO`, `FETCH … WITH TIES`, other dialects' QUALIFY, TOP, SORT BY, …)
//! is rejected.
//!
//! Invariant: every field of sqlparser's `Query` and `Select` is either bound by the
//! binder or refused here — a clause is never parsed and then ignored, which would
//! return a silently wrong answer.

use super::{Binder, Coercion, Scope, SelectPlan, Source};
use crate::error::{sqlstate, Result};
use crate::sql::depth::Spanned;
use crate::sql::expr::Expr;
use crate::sql::FieldDesc;
use crate::types::{DataType, Value};
use crate::{bail, err};
use sqlparser::ast;

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

impl Binder<'_> {
    /// Binds DISTINCT ON's expressions like ORDER BY items (positions and output names
    /// allowed) and returns their indices in `exprs`. ORDER BY must start with them
    /// (PostgreSQL's rule); keys ORDER BY does not name are sorted after it,
    /// ascending, so that equal keys are adjacent and come out in key order.
    pub(super) fn distinct_on_keys(
        &mut self,
        on: &[ast::Expr],
        scope: &Scope,
        fields: &[FieldDesc],
        exprs: &mut Vec<Expr>,
        order: &mut Vec<(usize, bool, bool)>,
    ) -> Result<Vec<usize>> {
        let mut keys = Vec::new();
        for e in on {
            let i = self.order_target(e, scope, fields, exprs)?;
            keys.push(i);
        }
        // Hidden expressions equal to an output column were appended anew; compare by
        // position only, as ORDER BY items bound the same way resolve the same.
        let same = |a: usize, b: usize, exprs: &[Expr]| -> bool {
            a == b || format!("{:?}", exprs[a]) == format!("{:?}", exprs[b])
        };
        let mut covered = vec![false; keys.len()];
        for (oi, _, _) in order.iter() {
            if covered.iter().all(|c| *c) {
                break;
            }
            let mut hit = false;
            for (k, c) in keys.iter().zip(covered.iter_mut()) {
                if same(*k, *oi, exprs) {
                    *c = true;
                    hit = true;
                }
            }
            if !hit {
                bail!(
                    sqlstate::INVALID_COLUMN_REFERENCE,
                    "SELECT DISTINCT ON expressions must match initial ORDER BY expressions"
                );
            }
        }
        for (k, c) in keys.iter().zip(&covered) {
            if !c {
                order.push((*k, false, false));
            }
        }
        Ok(keys)
    }
}

/// Wraps a sorted plan so that only the first row of each DISTINCT ON key survives;
/// LIMIT/OFFSET move to the wrapper so they count distinct rows.
pub(super) fn distinct_on(mut plan: SelectPlan, keys: Vec<usize>) -> SelectPlan {
    if keys.is_empty() {
        return plan;
    }
    let visible = plan.visible;
    let fields = plan.fields.clone();
    let limit = plan.limit.take();
    let offset = plan.offset.take();
    let exprs = plan.exprs[..visible]
        .iter()
        .enumerate()
        .map(|(i, e)| Expr::Column(i, e.ty()))
        .collect();
    plan.visible = plan.exprs.len();
    SelectPlan {
        source: Source::DistinctOn(Box::new(plan), keys),
        filter: None,
        group: None,
        exprs,
        visible,
        fields,
        order: vec![],
        distinct: false,
        limit,
        offset,
        lock: None,
    }
}

/// Wraps a sorted plan for FETCH FIRST … WITH TIES (its LIMIT is the row count).
pub(super) fn with_ties(mut plan: SelectPlan) -> Result<SelectPlan> {
    if plan.order.is_empty() {
        bail!(
            sqlstate::SYNTAX_ERROR,
            "WITH TIES cannot be specified without ORDER BY clause"
        );
    }
    if plan.lock.is_some() {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "FOR UPDATE with FETCH FIRST ... WITH TIES is not supported yet"
        );
    }
    let count = plan
        .limit
        .take()
        .ok_or_else(|| crate::error::Error::internal("WITH TIES without a count"))?;
    let offset = plan.offset.take();
    let visible = plan.visible;
    let fields = plan.fields.clone();
    let order = plan.order.clone();
    let exprs = plan.exprs[..visible]
        .iter()
        .enumerate()
        .map(|(i, e)| Expr::Column(i, e.ty()))
        .collect();
    plan.visible = plan.exprs.len();
    Ok(SelectPlan {
        source: Source::WithTies {
            input: Box::new(plan),
            count,
            offset,
            order,
        },
        filter: None,
        group: None,
        exprs,
        visible,
        fields,
        order: vec![],
        distinct: false,
        limit: None,
        offset: None,
        lock: None,
    })
}

/// Refuses what a FROM item can carry beyond a name, alias and arguments:
/// `WITH ORDINALITY` and `TABLESAMPLE` (PostgreSQL's, not implemented) and other
/// dialects' hints, versions and partitions — none may be ignored.
pub(super) fn check_table_factor(f: &ast::TableFactor) -> Result<()> {
    if let ast::TableFactor::Table {
        with_hints,
        version,
        with_ordinality,
        partitions,
        json_path,
        sample,
        index_hints,
        args,
        ..
    } = f
    {
        // A function's WITH ORDINALITY is decided where the function is planned.
        if *with_ordinality && args.is_none() {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "WITH ORDINALITY is not supported yet"
            );
        }
        if sample.is_some() {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "TABLESAMPLE is not supported yet"
            );
        }
        if !with_hints.is_empty()
            || version.is_some()
            || !partitions.is_empty()
            || json_path.is_some()
            || !index_hints.is_empty()
        {
            bail!(
                sqlstate::SYNTAX_ERROR,
                "syntax error: this FROM clause is not PostgreSQL's"
            );
        }
    }
    Ok(())
}
