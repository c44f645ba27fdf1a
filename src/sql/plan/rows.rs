//! Row constructors in comparisons: `(a, b) < (x, y)`, `ROW(a, b) = ROW(x, y)`,
//! `(a, b) IN ((1, 2), (3, 4))`, `(a, b) IS [NOT] DISTINCT FROM (x, y)` — the form of
//! keyset pagination (`WHERE (created, id) > ($1, $2)`).
//!
//! # What it owns
//! Expanding a comparison of two row constructors into the scalar comparisons it
//! means, with PostgreSQL's rules and NULL behaviour:
//! * `=`: every pair equal (false as soon as one pair differs, NULL if undecided);
//!   `<>`: some pair differs;
//! * `<`, `<=`, `>`, `>=`: the first pair that is not equal decides, as
//!   `a < x OR (a = x AND b < y)` — a NULL in the deciding pair gives NULL;
//! * `IN (rows…)`: any row equal; `IS DISTINCT FROM`: some pair distinct.
//!
//! The expansion is an ordinary expression tree the binder then binds, so the pairs
//! get the usual type resolution and errors.
//!
//! # Never
//! Never builds a row value: tusk has no composite type, so a row constructor
//! anywhere else (in the select list, compared with a subquery) stays refused.

use crate::error::{sqlstate, Result};
use crate::{bail, err};
use sqlparser::ast::{self, BinaryOperator as B};

/// The items of a row constructor: `(a, b)` or `ROW(a, …)`.
pub(super) fn row_items(e: &ast::Expr) -> Option<Vec<ast::Expr>> {
    match e {
        ast::Expr::Tuple(items) => Some(items.clone()),
        ast::Expr::Nested(x) => row_items(x),
        ast::Expr::Function(f)
            if f.name.0.len() == 1
                && matches!(&f.name.0[0], ast::ObjectNamePart::Identifier(i)
                    if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("row")) =>
        {
            let ast::FunctionArguments::List(list) = &f.args else {
                return Some(vec![]);
            };
            list.args
                .iter()
                .map(|a| match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x)) => Some(x.clone()),
                    _ => None,
                })
                .collect()
        }
        _ => None,
    }
}

fn bin(l: ast::Expr, op: B, r: ast::Expr) -> ast::Expr {
    ast::Expr::BinaryOp {
        left: Box::new(l),
        op,
        right: Box::new(r),
    }
}

fn nested(e: ast::Expr) -> ast::Expr {
    ast::Expr::Nested(Box::new(e))
}

fn all(items: Vec<ast::Expr>, op: B) -> Option<ast::Expr> {
    items
        .into_iter()
        .map(nested)
        .reduce(|a, b| bin(a, op.clone(), b))
}

fn pairs(l: &ast::Expr, r: &ast::Expr) -> Result<Option<(Vec<ast::Expr>, Vec<ast::Expr>)>> {
    let (Some(a), Some(b)) = (row_items(l), row_items(r)) else {
        return Ok(None);
    };
    if a.len() != b.len() {
        bail!(
            sqlstate::SYNTAX_ERROR,
            "unequal number of entries in row expressions"
        );
    }
    if a.is_empty() {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "cannot compare rows of zero length"
        );
    }
    Ok(Some((a, b)))
}

/// `l op r` with two row constructors, expanded; None when they are not both rows.
pub(super) fn comparison(l: &ast::Expr, op: &B, r: &ast::Expr) -> Result<Option<ast::Expr>> {
    let Some((a, b)) = pairs(l, r)? else {
        return Ok(None);
    };
    let zip = |op: B| -> Vec<ast::Expr> {
        a.iter()
            .zip(&b)
            .map(|(x, y)| bin(x.clone(), op.clone(), y.clone()))
            .collect()
    };
    Ok(match op {
        B::Eq => all(zip(B::Eq), B::And),
        B::NotEq => all(zip(B::NotEq), B::Or),
        B::Lt | B::LtEq | B::Gt | B::GtEq => {
            let strict = match op {
                B::Lt | B::LtEq => B::Lt,
                _ => B::Gt,
            };
            // OR over i of (pairs before i equal AND pair i compares), the last pair
            // with the operator itself.
            let n = a.len();
            let mut terms = Vec::new();
            for i in 0..n {
                let cmp = if i + 1 == n {
                    op.clone()
                } else {
                    strict.clone()
                };
                let mut parts: Vec<ast::Expr> = (0..i)
                    .map(|j| bin(a[j].clone(), B::Eq, b[j].clone()))
                    .collect();
                parts.push(bin(a[i].clone(), cmp, b[i].clone()));
                terms.extend(all(parts, B::And));
            }
            all(terms, B::Or)
        }
        other => {
            return Err(err!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "operator {other} on rows is not supported"
            ))
        }
    })
}

/// `l IS [NOT] DISTINCT FROM r` with two row constructors, expanded.
pub(super) fn distinct(l: &ast::Expr, r: &ast::Expr, not: bool) -> Result<Option<ast::Expr>> {
    let Some((a, b)) = pairs(l, r)? else {
        return Ok(None);
    };
    let items: Vec<ast::Expr> = a
        .into_iter()
        .zip(b)
        .map(|(x, y)| ast::Expr::IsDistinctFrom(Box::new(x), Box::new(y)))
        .collect();
    let any = all(items, B::Or);
    Ok(any.map(|e| {
        if not {
            ast::Expr::UnaryOp {
                op: ast::UnaryOperator::Not,
                expr: Box::new(nested(e)),
            }
        } else {
            e
        }
    }))
}

/// `row [NOT] IN (row, …)`, expanded; None when the left side is not a row.
pub(super) fn in_list(
    e: &ast::Expr,
    list: &[ast::Expr],
    negated: bool,
) -> Result<Option<ast::Expr>> {
    if row_items(e).is_none() {
        return Ok(None);
    }
    let mut terms = Vec::new();
    for item in list {
        match comparison(e, &B::Eq, item)? {
            Some(t) => terms.push(t),
            None => bail!(
                sqlstate::DATATYPE_MISMATCH,
                "IN of a row needs rows on its right"
            ),
        }
    }
    let any = all(terms, B::Or);
    Ok(any.map(|x| {
        if negated {
            ast::Expr::UnaryOp {
                op: ast::UnaryOperator::Not,
                expr: Box::new(nested(x)),
            }
        } else {
            x
        }
    }))
}
