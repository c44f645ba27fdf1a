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
//! # Never
//! Never rewrites what it would answer differently: two different set-returning calls
//! (PostgreSQL runs them in lockstep), a call in an aggregating query (it applies after the
//! grouping), and calls returning records are refused with 0A000.

use crate::error::{sqlstate, Result};
use crate::{bail, err};
use sqlparser::ast;

/// The name of a single-column set-returning function the FROM clause can run.
fn is_srf(name: &str) -> Option<bool> {
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

/// Finds the set-returning calls in an expression (not inside subqueries); replaces
/// each with a reference to `slot` when `replace` holds one.
fn walk(e: &mut ast::Expr, found: &mut Vec<ast::Function>, slot: &Option<ast::Expr>) -> Result<()> {
    match e {
        ast::Expr::Function(f) => {
            if let Some(name) = call_name(f) {
                if let Some(single) = is_srf(&name) {
                    if !single {
                        bail!(
                            sqlstate::FEATURE_NOT_SUPPORTED,
                            "{name}() returning a record in the select list is not supported yet"
                        );
                    }
                    found.push(f.clone());
                    if let Some(r) = slot {
                        *e = r.clone();
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
                        walk(x, found, slot)?;
                    }
                }
            }
        }
        ast::Expr::BinaryOp { left, right, .. } => {
            walk(left, found, slot)?;
            walk(right, found, slot)?;
        }
        ast::Expr::UnaryOp { expr, .. }
        | ast::Expr::Nested(expr)
        | ast::Expr::Cast { expr, .. }
        | ast::Expr::IsNull(expr)
        | ast::Expr::IsNotNull(expr) => walk(expr, found, slot)?,
        ast::Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            if let Some(o) = operand {
                walk(o, found, slot)?;
            }
            for c in conditions {
                walk(&mut c.condition, found, slot)?;
                walk(&mut c.result, found, slot)?;
            }
            if let Some(x) = else_result {
                walk(x, found, slot)?;
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
    let mut found = Vec::new();
    let mut copy = s.clone();
    for it in &mut copy.projection {
        if let Some(e) = item_expr(it) {
            walk(e, &mut found, &None)?;
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
    let name = "tusk_srf_1";
    let reference = ast::Expr::CompoundIdentifier(vec![
        ast::Ident::with_quote('"', name),
        ast::Ident::with_quote('"', name),
    ]);
    // The select list: the call replaced, the output name kept.
    let mut out = s.clone();
    for it in &mut out.projection {
        let shown = match it {
            ast::SelectItem::UnnamedExpr(e) => Some(super::figure_colname(e)),
            _ => None,
        };
        let Some(e) = item_expr(it) else { continue };
        let mut seen = Vec::new();
        walk(e, &mut seen, &Some(reference.clone()))?;
        if let (false, Some(alias)) = (seen.is_empty(), shown) {
            let expr = e.clone();
            *it = ast::SelectItem::ExprWithAlias {
                expr,
                alias: ast::Ident::with_quote('"', alias),
            };
        }
    }
    // The FROM item: parsed from text so that it is exactly what FROM accepts.
    let text = format!("SELECT 1 FROM {call} AS \"{name}\"(\"{name}\")");
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
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
