//! Set-returning functions in the select list (`SELECT unnest(arr) FROM t`,
//! `SELECT generate_series(1, 3)`, `SELECT jsonb_object_keys(doc) FROM docs`).
//!
//! # What it owns
//! A rewrite of the SELECT before it is planned: the one set-returning call of the
//! select list becomes a LATERAL FROM item (`FROM t, LATERAL unnest(t.arr) AS s(c)`)
//! and the call a reference to its column, under the output name the call would have
//! had. PostgreSQL's ProjectSet gives the same rows: for each input row, one output
//! row per element, in order, none when the set is empty; WHERE ran before it (it
//! cannot hold a set-returning call), and DISTINCT, ORDER BY and LIMIT after it.
//!
//! A call returning a record (`information_schema._pg_expandarray(arr)`, columns `x`
//! and `n`) becomes a FROM item with its own column names: a field of it,
//! `(call).n`, is a reference to that column, and the call alone is the item's whole
//! row (its composite text, `(5,1)`, see `plan::whole_row`).
//!
//! # Never
//! Never rewrites what it would answer differently: two different set-returning calls
//! (PostgreSQL runs them in lockstep) and a call in an aggregating query (it applies
//! after the grouping) are refused with 0A000.

use crate::error::{sqlstate, Result};
use crate::{bail, err};
use sqlparser::ast;
use sqlparser::ast::Visit;
use std::ops::ControlFlow;

/// The FROM item's name (and a one-column function's column name).
const SLOT: &str = "tusk_srf_1";

/// Whether `name` is a set-returning function the FROM clause can run: `Some(true)`
/// when it returns one column, `Some(false)` when it returns a record.
pub(crate) fn is_srf(name: &str) -> Option<bool> {
    if name == "generate_series"
        || name == "pg_partition_ancestors"
        || super::super::regex_funcs::rows_function(name).is_some()
    {
        return Some(true);
    }
    super::super::type_funcs::srf(name).map(|(_, cols)| cols.len() == 1)
}

fn call_name(f: &ast::Function) -> Option<String> {
    if f.name.0.len() > 2 {
        return None;
    }
    match f.name.0.last()? {
        ast::ObjectNamePart::Identifier(i) => Some(super::fold(i)),
        _ => None,
    }
}

/// The record-returning set-returning call under parentheses (`(f(x))`), if `e` is one.
fn record_call(e: &ast::Expr) -> Option<&ast::Function> {
    match e {
        ast::Expr::Nested(x) => record_call(x),
        ast::Expr::Function(f) => {
            let name = call_name(f)?;
            (is_srf(&name) == Some(false)).then_some(f)
        }
        _ => None,
    }
}

/// A reference to a column of the FROM item.
fn slot_column(column: ast::Ident) -> ast::Expr {
    ast::Expr::CompoundIdentifier(vec![ast::Ident::with_quote('"', SLOT), column])
}

/// Finds the set-returning calls in an expression (not inside subqueries); replaces
/// each with its reference into the FROM item when `replace` is set: a one-column
/// call with the column, a record call with the item's whole row, a field of a record
/// call (`(f(x)).n`) with that column.
fn walk(e: &mut ast::Expr, found: &mut Vec<ast::Function>, replace: bool) -> Result<()> {
    match e {
        ast::Expr::CompoundFieldAccess { root, access_chain } => {
            if let (Some(f), [ast::AccessExpr::Dot(ast::Expr::Identifier(field))]) =
                (record_call(root), access_chain.as_slice())
            {
                let name = super::fold(field);
                let known = call_name(f)
                    .and_then(|n| super::super::type_funcs::srf(&n))
                    .is_some_and(|(_, cols)| cols.iter().any(|(c, _)| *c == name));
                if !known {
                    bail!(
                        sqlstate::UNDEFINED_COLUMN,
                        "could not identify column \"{name}\" in record data type"
                    );
                }
                found.push(f.clone());
                if replace {
                    *e = slot_column(field.clone());
                }
                return Ok(());
            }
            walk(root, found, replace)?;
        }
        ast::Expr::Function(f) => {
            if let Some(name) = call_name(f) {
                if let Some(single) = is_srf(&name) {
                    found.push(f.clone());
                    if replace {
                        *e = if single {
                            slot_column(ast::Ident::with_quote('"', SLOT))
                        } else {
                            ast::Expr::Identifier(ast::Ident::with_quote('"', SLOT))
                        };
                    }
                    return Ok(());
                }
            }
            if let ast::FunctionArguments::List(list) = &mut f.args {
                for a in &mut list.args {
                    if let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x))
                    | ast::FunctionArg::Named {
                        arg: ast::FunctionArgExpr::Expr(x),
                        ..
                    } = a
                    {
                        walk(x, found, replace)?;
                    }
                }
            }
        }
        ast::Expr::BinaryOp { left, right, .. } => {
            walk(left, found, replace)?;
            walk(right, found, replace)?;
        }
        ast::Expr::UnaryOp { expr, .. }
        | ast::Expr::Nested(expr)
        | ast::Expr::Cast { expr, .. }
        | ast::Expr::IsNull(expr)
        | ast::Expr::IsNotNull(expr) => walk(expr, found, replace)?,
        ast::Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            if let Some(o) = operand {
                walk(o, found, replace)?;
            }
            for c in conditions {
                walk(&mut c.condition, found, replace)?;
                walk(&mut c.result, found, replace)?;
            }
            if let Some(x) = else_result {
                walk(x, found, replace)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn item_expr(it: &mut ast::SelectItem) -> Option<&mut ast::Expr> {
    match it {
        ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
        _ => None,
    }
}

/// The SELECT with its select-list set-returning call moved into FROM, or None when
/// the select list has none.
pub(super) fn rewrite(s: &ast::Select) -> Result<Option<ast::Select>> {
    // Most select lists call nothing: no copy to walk then.
    if !any_expr(&s.projection, |e| {
        matches!(
            e,
            ast::Expr::Function(_) | ast::Expr::CompoundFieldAccess { .. }
        )
    }) {
        return Ok(None);
    }
    let mut found = Vec::new();
    let mut copy = s.clone();
    for it in &mut copy.projection {
        if let Some(e) = item_expr(it) {
            walk(e, &mut found, false)?;
        }
    }
    let Some(call) = found.first().cloned() else {
        return Ok(None);
    };
    // The same call written twice is one set (lockstep of equal sets).
    let text = call.to_string();
    if found.iter().any(|f| f.to_string() != text) {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "more than one set-returning function in the select list is not supported yet"
        );
    }
    let grouped = !matches!(&s.group_by, ast::GroupByExpr::Expressions(v, _) if v.is_empty())
        || s.having.is_some()
        || s.projection
            .iter()
            .filter_map(|it| match it {
                ast::SelectItem::UnnamedExpr(e)
                | ast::SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
                _ => None,
            })
            .any(super::contains_aggregate);
    if grouped {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "set-returning functions in the select list of an aggregating query are not supported yet"
        );
    }
    let single = call_name(&call).and_then(|n| is_srf(&n)) == Some(true);
    // The select list: the call replaced, the output name kept.
    let mut out = s.clone();
    for it in &mut out.projection {
        let shown = match it {
            ast::SelectItem::UnnamedExpr(e) => Some(super::figure_colname(e)),
            _ => None,
        };
        let Some(e) = item_expr(it) else { continue };
        let mut seen = Vec::new();
        walk(e, &mut seen, true)?;
        if let (false, Some(alias)) = (seen.is_empty(), shown) {
            let expr = e.clone();
            *it = ast::SelectItem::ExprWithAlias {
                expr,
                alias: ast::Ident::with_quote('"', alias),
            };
        }
    }
    // The FROM item: parsed from text so that it is exactly what FROM accepts.
    // A one-column call's column is named after the item; a record's keep their names.
    let text = if single {
        format!("SELECT 1 FROM {call} AS \"{SLOT}\"(\"{SLOT}\")")
    } else {
        format!("SELECT 1 FROM {call} AS \"{SLOT}\"")
    };
    let dialect = crate::sql::dialect::PG;
    let parsed = sqlparser::parser::Parser::parse_sql(&dialect, &text)
        .map_err(|e| err!(sqlstate::INTERNAL_ERROR, "set-returning call: {e}"))?;
    let item = match parsed.into_iter().next() {
        Some(ast::Statement::Query(q)) => match *q.body {
            ast::SetExpr::Select(sel) => sel.from.into_iter().next(),
            _ => None,
        },
        _ => None,
    }
    .ok_or_else(|| err!(sqlstate::INTERNAL_ERROR, "set-returning call: no FROM item"))?;
    out.from.push(item);
    Ok(Some(out))
}

/// A field selection `(item.col).field` naming a column of a FROM item: the item, the
/// column and the field, folded.
/// Whether any expression inside `node` (subqueries included) satisfies `pred`.
fn any_expr<V: Visit>(node: &V, pred: impl Fn(&ast::Expr) -> bool) -> bool {
    ast::visit_expressions(node, |e| {
        if pred(e) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .is_break()
}

fn field_of_column(e: &ast::Expr) -> Option<(String, String, ast::Ident)> {
    let ast::Expr::CompoundFieldAccess { root, access_chain } = e else {
        return None;
    };
    let [ast::AccessExpr::Dot(ast::Expr::Identifier(field))] = access_chain.as_slice() else {
        return None;
    };
    let mut root = root.as_ref();
    while let ast::Expr::Nested(x) = root {
        root = x;
    }
    match root {
        ast::Expr::CompoundIdentifier(v) if v.len() == 2 => {
            Some((super::fold(&v[0]), super::fold(&v[1]), field.clone()))
        }
        _ => None,
    }
}

/// Calls `f` on every expression of `e` (itself first, then its parts); `f` returning
/// true means it replaced the expression, which is then not entered.
fn each_expr(e: &mut ast::Expr, f: &mut dyn FnMut(&mut ast::Expr) -> bool) {
    if f(e) {
        return;
    }
    match e {
        ast::Expr::BinaryOp { left, right, .. } => {
            each_expr(left, f);
            each_expr(right, f);
        }
        ast::Expr::UnaryOp { expr, .. }
        | ast::Expr::Nested(expr)
        | ast::Expr::Cast { expr, .. }
        | ast::Expr::IsNull(expr)
        | ast::Expr::IsNotNull(expr)
        | ast::Expr::IsTrue(expr)
        | ast::Expr::IsFalse(expr) => each_expr(expr, f),
        ast::Expr::InList { expr, list, .. } => {
            each_expr(expr, f);
            for x in list {
                each_expr(x, f);
            }
        }
        ast::Expr::Between {
            expr, low, high, ..
        } => {
            each_expr(expr, f);
            each_expr(low, f);
            each_expr(high, f);
        }
        ast::Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            if let Some(o) = operand {
                each_expr(o, f);
            }
            for c in conditions {
                each_expr(&mut c.condition, f);
                each_expr(&mut c.result, f);
            }
            if let Some(x) = else_result {
                each_expr(x, f);
            }
        }
        ast::Expr::Function(func) => {
            if let ast::FunctionArguments::List(list) = &mut func.args {
                for a in &mut list.args {
                    if let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x))
                    | ast::FunctionArg::Named {
                        arg: ast::FunctionArgExpr::Expr(x),
                        ..
                    } = a
                    {
                        each_expr(x, f);
                    }
                }
            }
        }
        ast::Expr::CompoundFieldAccess { root, .. } => each_expr(root, f),
        _ => {}
    }
}

/// The expressions of a SELECT an outer reference can appear in (not its FROM items'
/// own subqueries), and its ORDER BY's.
fn outer_exprs<'a>(
    s: &'a mut ast::Select,
    order_by: &'a mut Option<ast::OrderBy>,
) -> Vec<&'a mut ast::Expr> {
    let mut out: Vec<&mut ast::Expr> = Vec::new();
    for it in &mut s.projection {
        if let Some(e) = item_expr(it) {
            out.push(e);
        }
    }
    out.extend(s.selection.as_mut());
    out.extend(s.having.as_mut());
    if let ast::GroupByExpr::Expressions(v, _) = &mut s.group_by {
        out.extend(v.iter_mut());
    }
    for t in &mut s.from {
        for j in &mut t.joins {
            use ast::JoinOperator as J;
            if let J::Join(c)
            | J::Inner(c)
            | J::Left(c)
            | J::LeftOuter(c)
            | J::Right(c)
            | J::RightOuter(c)
            | J::FullOuter(c) = &mut j.join_operator
            {
                if let ast::JoinConstraint::On(e) = c {
                    out.push(e);
                }
            }
        }
    }
    if let Some(ast::OrderBy {
        kind: ast::OrderByKind::Expressions(v),
        ..
    }) = order_by
    {
        out.extend(v.iter_mut().map(|o| &mut o.expr));
    }
    out
}

/// The SELECT list of a FROM item `(subquery) AS name` without column aliases.
fn derived_select<'a>(s: &'a mut ast::Select, name: &str) -> Option<&'a mut ast::Select> {
    let factors = s.from.iter_mut().flat_map(|t| {
        std::iter::once(&mut t.relation).chain(t.joins.iter_mut().map(|j| &mut j.relation))
    });
    for f in factors {
        if let ast::TableFactor::Derived {
            subquery,
            alias: Some(a),
            ..
        } = f
        {
            if super::fold(&a.name) == name && a.columns.is_empty() {
                if let ast::SetExpr::Select(sel) = subquery.body.as_mut() {
                    return Some(sel);
                }
            }
        }
    }
    None
}

/// Field selections from a record column of a subquery in FROM: in
/// `SELECT … FROM (SELECT f(x) AS keys …) r WHERE (r.keys).x = …`, where `f` returns a
/// record (`information_schema._pg_expandarray`), the subquery gets the field as a
/// column of its own, `(f(x)).x AS "keys.x"` (the same call, so [`rewrite`] runs it in
/// lockstep with the others), and the selection becomes `r."keys.x"`. None when the
/// SELECT has no such selection. A `*` over that subquery is refused (0A000): it would
/// show the added column.
pub(super) fn rewrite_record_fields(
    s: &ast::Select,
    order_by: Option<&ast::OrderBy>,
) -> Result<Option<(ast::Select, Option<ast::OrderBy>)>> {
    // Without a field selection anywhere there is nothing to do: no copy then.
    let field_access = |e: &ast::Expr| matches!(e, ast::Expr::CompoundFieldAccess { .. });
    if !any_expr(s, field_access) && !order_by.is_some_and(|o| any_expr(o, field_access)) {
        return Ok(None);
    }
    let mut out = s.clone();
    let mut ob = order_by.cloned();
    // 1. the selections, in order of appearance
    let mut wanted: Vec<(String, String, ast::Ident)> = Vec::new();
    for e in outer_exprs(&mut out, &mut ob) {
        each_expr(e, &mut |x| {
            if let Some(w) = field_of_column(x) {
                if !wanted
                    .iter()
                    .any(|(a, c, f)| (a, c, f) == (&w.0, &w.1, &w.2))
                {
                    wanted.push(w);
                }
                return true;
            }
            false
        });
    }
    // 2. the subquery columns they name that are record calls get the fields
    let mut done: Vec<(String, String, String)> = Vec::new();
    for (item, col, field) in wanted {
        let Some(sub) = derived_select(&mut out, &item) else {
            continue;
        };
        let call = sub.projection.iter().find_map(|it| match it {
            ast::SelectItem::ExprWithAlias { expr, alias } if super::fold(alias) == col => {
                record_call(expr).cloned()
            }
            ast::SelectItem::UnnamedExpr(expr) if super::figure_colname(expr) == col => {
                record_call(expr).cloned()
            }
            _ => None,
        });
        let Some(call) = call else { continue };
        let name = format!("{col}.{}", super::fold(&field));
        sub.projection.push(ast::SelectItem::ExprWithAlias {
            expr: ast::Expr::CompoundFieldAccess {
                root: Box::new(ast::Expr::Nested(Box::new(ast::Expr::Function(call)))),
                access_chain: vec![ast::AccessExpr::Dot(ast::Expr::Identifier(field.clone()))],
            },
            alias: ast::Ident::with_quote('"', name.clone()),
        });
        done.push((item, col, name));
    }
    if done.is_empty() {
        return Ok(None);
    }
    for it in &out.projection {
        let star_over = match it {
            ast::SelectItem::Wildcard(_) => true,
            ast::SelectItem::QualifiedWildcard(
                ast::SelectItemQualifiedWildcardKind::ObjectName(n),
                _,
            ) => {
                n.0.last()
                    .and_then(|p| p.as_ident())
                    .is_some_and(|i| done.iter().any(|(item, _, _)| super::fold(i) == *item))
            }
            _ => false,
        };
        if star_over {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "a field of a record column together with * over its subquery is not supported yet"
            );
        }
    }
    // 3. the selections become references to the new columns (a select-list item
    // keeps the name it had: `(r.keys).x` is named `x`)
    for it in &mut out.projection {
        if let ast::SelectItem::UnnamedExpr(e) = it {
            if field_of_column(e).is_some() {
                let alias = ast::Ident::with_quote('"', super::figure_colname(e));
                *it = ast::SelectItem::ExprWithAlias {
                    expr: e.clone(),
                    alias,
                };
            }
        }
    }
    for e in outer_exprs(&mut out, &mut ob) {
        each_expr(e, &mut |x| {
            let Some((item, col, field)) = field_of_column(x) else {
                return false;
            };
            let name = format!("{col}.{}", super::fold(&field));
            if !done
                .iter()
                .any(|d| d.0 == item && d.1 == col && d.2 == name)
            {
                return false;
            }
            *x = ast::Expr::CompoundIdentifier(vec![
                ast::Ident::with_quote('"', item),
                ast::Ident::with_quote('"', name),
            ]);
            true
        });
    }
    Ok(Some((out, ob)))
}
