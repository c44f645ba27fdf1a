//! Binding of `WITH` queries (common table expressions), recursive or not.
//!
//! The binder keeps a [`CteEnv`]: the CTEs in scope, innermost last. A CTE is planned
//! where it is *referenced*, not where it is defined: each reference in FROM becomes
//! its own subquery plan (or, for a self-referencing `WITH RECURSIVE` member, a
//! [`RecursivePlan`]), planned with only the CTEs its definition can see. Every CTE is
//! also planned once at its definition, so errors inside an unreferenced CTE are
//! reported as PostgreSQL reports them.
//!
//! A recursive member must be `anchor UNION [ALL] step`. While the anchor is planned a
//! self-reference is an error; while the step is planned the one allowed
//! self-reference becomes [`Source::WorkTable`]. PostgreSQL's errors (42P19) are kept:
//! a reference in the non-recursive term, in a sublink, more than once, aggregates in
//! the step, a body that is not a UNION; and a step whose column types would widen the
//! anchor's is refused (42804) rather than silently cast.
//!
//! Invariant: a CTE name never leaks outside the query that defines it, and this module
//! never changes a plan's semantics — a CTE referenced twice is evaluated twice, which
//! PostgreSQL's single evaluation can only differ from for volatile functions.

use super::{fold, Binder, Plan, Scope, ScopeCol, SelectPlan, Source};
use crate::error::{sqlstate, Error, Result};
use crate::sql::cte::{RecursivePlan, WorkTableRef};
use crate::sql::expr::Expr;
use crate::types::DataType;
use crate::types::Value;
use crate::{bail, err};
use sqlparser::ast;

/// The CTEs in scope while binding.
#[derive(Default)]
pub(crate) struct CteEnv {
    entries: Vec<Entry>,
    /// How many expression subqueries (scalar, EXISTS, IN) enclose the current point.
    pub(crate) sublinks: usize,
}

struct Entry {
    name: String,
    query: ast::Query,
    columns: Vec<String>,
    recursive: bool,
    state: State,
    /// A data-modifying CTE (INSERT/UPDATE/DELETE … RETURNING): the slot its rows are
    /// kept under while the statement runs, so that it runs once.
    dml_slot: Option<usize>,
    /// Whether a FROM item referred to it.
    referenced: bool,
}

/// Hands out the slots of data-modifying CTEs (high bit set: never a plan address,
/// which the same map also keys uncorrelated subqueries by).
fn new_dml_slot() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) | (1 << (usize::BITS - 1))
}

fn is_dml(q: &ast::Query) -> bool {
    matches!(
        q.body.as_ref(),
        ast::SetExpr::Insert(_) | ast::SetExpr::Update(_) | ast::SetExpr::Delete(_)
    )
}

enum State {
    /// Not being planned.
    Idle,
    /// Its non-recursive term is being planned.
    Anchor,
    /// Its body, not a UNION, is being planned.
    NotUnion,
    /// Its recursive term is being planned.
    Step {
        work: WorkTableRef,
        cols: Vec<ScopeCol>,
        refs: usize,
        sublinks: usize,
    },
}

/// The INSERT/UPDATE/DELETE statement of a data-modifying CTE's query.
fn dml_statement(q: &ast::Query) -> Option<&ast::Statement> {
    match q.body.as_ref() {
        ast::SetExpr::Insert(s) | ast::SetExpr::Update(s) | ast::SetExpr::Delete(s) => Some(s),
        _ => None,
    }
}

fn invalid_recursion(msg: String) -> Error {
    err!("42P19", "{msg}")
}

impl Binder<'_> {
    /// `WITH … <statement>`: a query, or INSERT/UPDATE/DELETE under a WITH.
    pub(super) fn plan_with_statement(&mut self, q: &ast::Query) -> Result<Plan> {
        let Some(with) = &q.with else {
            return Ok(Plan::Query(self.plan_query(q)?));
        };
        let dml = match q.body.as_ref() {
            ast::SetExpr::Insert(s) | ast::SetExpr::Update(s) => Some(s),
            ast::SetExpr::Delete(s) => Some(s),
            _ => None,
        };
        match dml {
            Some(stmt) => {
                if q.order_by.is_some() || q.limit_clause.is_some() || q.fetch.is_some() {
                    bail!(sqlstate::SYNTAX_ERROR, "syntax error at or near \"ORDER\"");
                }
                self.with_ctes(with, |b| b.plan(stmt))
            }
            None => Ok(Plan::Query(self.plan_query(q)?)),
        }
    }

    /// Runs `f` with a WITH clause's CTEs in scope. A data-modifying CTE nothing read
    /// is refused here (0A000); a query attaches them instead ([`Self::with_ctes_query`]).
    pub(super) fn with_ctes<T>(
        &mut self,
        with: &ast::With,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        let (v, unread) = self.with_ctes_unread(with, f)?;
        if let Some((name, ..)) = unread.first() {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "a data-modifying WITH query that is not referenced (\"{name}\") is not supported yet"
            );
        }
        Ok(v)
    }

    /// A query under a WITH: data-modifying CTEs nothing read still run — after the
    /// query, as a LEFT JOIN … ON false that keeps its rows and reads theirs.
    pub(super) fn with_ctes_query(
        &mut self,
        with: &ast::With,
        f: impl FnOnce(&mut Self) -> Result<SelectPlan>,
    ) -> Result<SelectPlan> {
        let (plan, unread) = self.with_ctes_unread(with, f)?;
        if unread.is_empty() {
            return Ok(plan);
        }
        let visible = plan.visible;
        let fields = plan.fields.clone();
        let mut source = Source::Subquery(Box::new(plan));
        for (_, dml, width) in unread {
            source = Source::Join {
                left: Box::new(source),
                right: Box::new(dml),
                on: Some(Expr::Const(Value::Bool(false), DataType::Bool)),
                left_outer: true,
                right_width: width,
                right_outer: None,
            };
        }
        Ok(SelectPlan {
            source,
            filter: None,
            group: None,
            exprs: fields
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    Expr::Column(i, DataType::from_oid(f.type_oid).unwrap_or(DataType::Text))
                })
                .collect(),
            visible,
            fields,
            order: vec![],
            distinct: false,
            limit: None,
            offset: None,
            lock: None,
        })
    }

    /// Runs `f` with the CTEs in scope; returns its result and the data-modifying CTEs
    /// nothing read: (name, their source, its width).
    #[allow(clippy::type_complexity)]
    fn with_ctes_unread<T>(
        &mut self,
        with: &ast::With,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<(T, Vec<(String, Source, usize)>)> {
        let base = self.ctes.entries.len();
        let r = self.push_ctes(with, base).and_then(|()| f(self));
        let mut unread = Vec::new();
        if r.is_ok() {
            let idxs: Vec<usize> = (base..self.ctes.entries.len())
                .filter(|&i| {
                    self.ctes.entries[i].dml_slot.is_some() && !self.ctes.entries[i].referenced
                })
                .collect();
            for i in idxs {
                match self.plan_cte(i) {
                    Ok((src, cols)) => {
                        unread.push((self.ctes.entries[i].name.clone(), src, cols.len()))
                    }
                    Err(e) => {
                        self.ctes.entries.truncate(base);
                        return Err(e);
                    }
                }
            }
        }
        self.ctes.entries.truncate(base);
        Ok((r?, unread))
    }

    fn push_ctes(&mut self, with: &ast::With, base: usize) -> Result<()> {
        for cte in &with.cte_tables {
            if cte.from.is_some() {
                bail!(sqlstate::SYNTAX_ERROR, "syntax error at or near \"FROM\"");
            }
            let name = fold(&cte.alias.name);
            if self.ctes.entries[base..].iter().any(|e| e.name == name) {
                bail!(
                    "42712",
                    "WITH query name \"{name}\" specified more than once"
                );
            }
            self.ctes.entries.push(Entry {
                name,
                query: (*cte.query).clone(),
                columns: cte.alias.columns.iter().map(|c| fold(&c.name)).collect(),
                recursive: with.recursive,
                state: State::Idle,
                dml_slot: is_dml(&cte.query).then(new_dml_slot),
                referenced: false,
            });
            // Plan it once here so that its errors surface even when unreferenced.
            let idx = self.ctes.entries.len() - 1;
            self.plan_cte(idx)?;
        }
        Ok(())
    }

    /// A FROM reference to a CTE in scope, if `name` is one.
    pub(super) fn cte_reference(
        &mut self,
        name: &str,
        alias: Option<&ast::TableAlias>,
    ) -> Result<Option<(Source, Scope)>> {
        let Some(idx) = self.ctes.entries.iter().rposition(|e| e.name == name) else {
            return Ok(None);
        };
        let table = alias.map(|a| fold(&a.name)).unwrap_or(name.to_string());
        let sublinks = self.ctes.sublinks;
        self.ctes.entries[idx].referenced = true;
        let entry = &mut self.ctes.entries[idx];
        let (source, mut cols) = match &mut entry.state {
            State::Idle => self.plan_cte(idx)?,
            State::Anchor => {
                return Err(invalid_recursion(format!(
                    "recursive reference to query \"{name}\" must not appear within its non-recursive term"
                )))
            }
            State::NotUnion => {
                return Err(invalid_recursion(format!(
                    "recursive query \"{name}\" does not have the form non-recursive-term UNION [ALL] recursive-term"
                )))
            }
            State::Step {
                work,
                cols,
                refs,
                sublinks: at,
            } => {
                if sublinks > *at {
                    return Err(invalid_recursion(format!(
                        "recursive reference to query \"{name}\" must not appear within a subquery"
                    )));
                }
                *refs += 1;
                if *refs > 1 {
                    return Err(invalid_recursion(format!(
                        "recursive reference to query \"{name}\" must not appear more than once"
                    )));
                }
                (Source::WorkTable(work.clone()), cols.clone())
            }
        };
        for c in &mut cols {
            c.table = Some(table.clone());
        }
        let mut scope = Scope { cols };
        super::apply_alias_columns(&mut scope, alias)?;
        Ok(Some((source, scope)))
    }

    /// Plans CTE `idx` with only what its definition sees.
    fn plan_cte(&mut self, idx: usize) -> Result<(Source, Vec<ScopeCol>)> {
        let keep = if self.ctes.entries[idx].recursive {
            idx + 1
        } else {
            idx
        };
        let def = {
            let e = &self.ctes.entries[idx];
            (
                e.name.clone(),
                e.query.clone(),
                e.columns.clone(),
                e.recursive,
            )
        };
        let dml_slot = self.ctes.entries[idx].dml_slot;
        let referenced = self.ctes.entries[idx].referenced;
        let hidden = self.ctes.entries.split_off(keep);
        let saved_agg = self.agg.take();
        let saved_sublinks = std::mem::take(&mut self.ctes.sublinks);
        let r = match (dml_slot, dml_statement(&def.1)) {
            (Some(slot), Some(stmt)) => self.plan_dml_cte(&def.0, slot, stmt, &def.2, referenced),
            _ => self.plan_cte_body(idx, def),
        };
        self.ctes.sublinks = saved_sublinks;
        self.agg = saved_agg;
        if let Some(e) = self.ctes.entries.get_mut(idx) {
            e.state = State::Idle;
        }
        self.ctes.entries.extend(hidden);
        r
    }

    fn plan_cte_body(
        &mut self,
        idx: usize,
        (name, query, columns, recursive): (String, ast::Query, Vec<String>, bool),
    ) -> Result<(Source, Vec<ScopeCol>)> {
        if recursive {
            if let Some(r) = self.plan_recursive(idx, &name, &query, &columns)? {
                return Ok(r);
            }
            self.ctes.entries[idx].state = State::NotUnion;
        }
        let p = self.plan_query(&query)?;
        let cols = cte_columns(&name, &p, &columns)?;
        Ok((Source::Subquery(Box::new(p)), cols))
    }

    /// A data-modifying CTE: its statement, run once when first read (see
    /// `sql::cte::DmlCte`), its RETURNING rows the CTE's rows.
    fn plan_dml_cte(
        &mut self,
        name: &str,
        slot: usize,
        stmt: &ast::Statement,
        columns: &[String],
        referenced: bool,
    ) -> Result<(Source, Vec<ScopeCol>)> {
        let plan = self.plan(stmt)?;
        let fields = match &plan {
            Plan::Insert(p) => p.returning.as_ref().map(|r| r.fields.clone()),
            Plan::Update(p) => p.returning.as_ref().map(|r| r.fields.clone()),
            Plan::Delete(p) => p.returning.as_ref().map(|r| r.fields.clone()),
            _ => return Err(Error::internal("data-modifying CTE")),
        };
        let Some(fields) = fields else {
            // Readable only through RETURNING (PostgreSQL reports it at the reference).
            if referenced {
                bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "WITH query \"{name}\" does not have a RETURNING clause"
                );
            }
            return Ok((
                Source::DmlCte(Box::new(crate::sql::cte::DmlCte { slot, plan })),
                vec![],
            ));
        };
        if columns.len() > fields.len() {
            bail!(
                sqlstate::INVALID_COLUMN_REFERENCE,
                "WITH query \"{name}\" has {} columns available but {} columns specified",
                fields.len(),
                columns.len()
            );
        }
        let cols = fields
            .iter()
            .enumerate()
            .map(|(i, f)| ScopeCol {
                table: Some(name.to_string()),
                name: columns.get(i).cloned().unwrap_or_else(|| f.name.clone()),
                ty: DataType::from_oid(f.type_oid).unwrap_or(DataType::Text),
                typmod: f.typmod,
                table_oid: 0,
                attnum: 0,
                absorbed: false,
            })
            .collect();
        Ok((
            Source::DmlCte(Box::new(crate::sql::cte::DmlCte { slot, plan })),
            cols,
        ))
    }

    /// Plans a recursive member; None when its body is not a UNION (the caller plans
    /// it as a plain query, where a self-reference is the "form" error).
    fn plan_recursive(
        &mut self,
        idx: usize,
        name: &str,
        q: &ast::Query,
        columns: &[String],
    ) -> Result<Option<(Source, Vec<ScopeCol>)>> {
        let ast::SetExpr::SetOperation {
            op: ast::SetOperator::Union,
            set_quantifier,
            left,
            right,
        } = q.body.as_ref()
        else {
            return Ok(None);
        };
        if q.with.is_some() {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "WITH inside a recursive query is not supported yet"
            );
        }
        let all = matches!(set_quantifier, ast::SetQuantifier::All);
        self.ctes.entries[idx].state = State::Anchor;
        let anchor = self.plan_set_expr(left)?;
        let cols = cte_columns(name, &anchor, columns)?;
        let work = WorkTableRef::new();
        self.ctes.entries[idx].state = State::Step {
            work: work.clone(),
            cols: cols.clone(),
            refs: 0,
            sublinks: self.ctes.sublinks,
        };
        let step = self.plan_set_expr(right)?;
        let refs = match &self.ctes.entries[idx].state {
            State::Step { refs, .. } => *refs,
            _ => 0,
        };
        self.ctes.entries[idx].state = State::Idle;
        if refs == 0 {
            // Not self-referencing after all: an ordinary query.
            let p = self.plan_query(q)?;
            let cols = cte_columns(name, &p, columns)?;
            return Ok(Some((Source::Subquery(Box::new(p)), cols)));
        }
        if q.order_by.is_some() {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "ORDER BY in a recursive query is not implemented"
            );
        }
        if q.limit_clause.is_some() || q.fetch.is_some() {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "LIMIT in a recursive query is not implemented"
            );
        }
        if step.group.is_some() {
            return Err(invalid_recursion(
                "aggregate functions are not allowed in a recursive query's recursive term".into(),
            ));
        }
        if step.visible != anchor.visible {
            bail!(
                sqlstate::SYNTAX_ERROR,
                "each UNION query must have the same number of columns"
            );
        }
        let mut types = Vec::new();
        for (i, (a, s)) in anchor.fields.iter().zip(&step.fields).enumerate() {
            let at = DataType::from_oid(a.type_oid).unwrap_or(DataType::Text);
            let st = DataType::from_oid(s.type_oid).unwrap_or(DataType::Text);
            let overall = if at == st || (at.is_string() && st.is_string()) {
                at
            } else {
                crate::sql::expr::arith_type(at, st).unwrap_or(st)
            };
            if overall != at {
                return Err(err!(
                    sqlstate::DATATYPE_MISMATCH,
                    "recursive query \"{name}\" column {} has type {} in non-recursive term but type {} overall",
                    i + 1,
                    at.name(),
                    overall.name()
                )
                .with_hint("Cast the output of the non-recursive term to the correct type."));
            }
            types.push(at);
        }
        Ok(Some((
            Source::RecursiveCte(Box::new(RecursivePlan {
                anchor,
                step,
                all,
                types,
                work,
            })),
            cols,
        )))
    }
}

/// A CTE's columns: the plan's, renamed by the column list.
fn cte_columns(name: &str, p: &SelectPlan, columns: &[String]) -> Result<Vec<ScopeCol>> {
    if columns.len() > p.visible {
        bail!(
            sqlstate::INVALID_COLUMN_REFERENCE,
            "WITH query \"{name}\" has {} columns available but {} columns specified",
            p.visible,
            columns.len()
        );
    }
    Ok(p.fields[..p.visible]
        .iter()
        .enumerate()
        .map(|(i, f)| ScopeCol {
            table: Some(name.to_string()),
            name: columns.get(i).cloned().unwrap_or_else(|| f.name.clone()),
            ty: DataType::from_oid(f.type_oid).unwrap_or(DataType::Text),
            typmod: f.typmod,
            table_oid: 0,
            attnum: 0,
            absorbed: false,
        })
        .collect())
}
