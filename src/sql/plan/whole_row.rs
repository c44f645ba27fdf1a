//! Whole-row references in JSON calls: `row_to_json(t)`, `to_json(t)`, `to_jsonb(t)`,
//! `json_agg(t)` and `jsonb_agg(t)` where `t` names a FROM item, not a column — the
//! way applications turn rows into JSON.
//!
//! # What it owns
//! Rewriting such a call, before it is bound, into a call of an internal function
//! over the item's columns (`"tusk row to json"('id', t.id, 'name', t.name)`, see
//! `type_funcs::ROW_JSON`), and `json_agg(t)` into the aggregate that separates
//! composite elements as PostgreSQL does (`", \n "`). The column list is the item's
//! visible columns in order (dropped columns and columns merged by `USING` left out),
//! so the keys are PostgreSQL's.
//!
//! A FROM item named alone elsewhere (`SELECT t FROM t`) is its row in PostgreSQL's
//! composite text form (`(1,a,,"{1,2}")`, see `type_funcs::ROW_TEXT`), typed `text`.
//!
//! Tested (`t IS [NOT] NULL`), such a row is the row constructor of its columns (every
//! column NULL / none NULL); compared with another (`t = s`, `t < s`), it follows
//! PostgreSQL's composite-value rules — column by column, NULLs equal to each other and
//! greater than any value, so the result is never NULL.
//!
//! # Never
//! Never builds a composite value: tusk has no record type, so a row sorts as its
//! text, `(t).col` stays refused, and a column named like the item always wins, as in
//! PostgreSQL.

use super::{fold, Binder, Scope};
use crate::sql::type_funcs::{ROW_JSON, ROW_JSONB, ROW_JSON_AGG, ROW_TEXT};
use sqlparser::ast;

impl Binder<'_> {
    /// A FROM item named alone (not a column) as the row constructor of its columns.
    pub(super) fn row_of_item(&self, e: &ast::Expr, scope: &Scope) -> Option<ast::Expr> {
        let ast::Expr::Identifier(id) = e else {
            return None;
        };
        let item = fold(id);
        let args = row_args(id, &item, scope)?;
        Some(ast::Expr::Tuple(
            args.into_iter()
                .skip(1)
                .step_by(2)
                .filter_map(|a| match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x)) => Some(x),
                    _ => None,
                })
                .collect(),
        ))
    }

    /// `t` alone, naming a FROM item: a call building its composite text, or None.
    pub(super) fn whole_row_text(&self, id: &ast::Ident, scope: &Scope) -> Option<ast::Expr> {
        let item = fold(id);
        let args = row_args(id, &item, scope)?;
        Some(plain_call(ast::Ident::with_quote('"', ROW_TEXT), args))
    }

    /// The call rewritten over the columns of the FROM item it names, or None.
    pub(super) fn whole_row_json(
        &self,
        f: &ast::Function,
        name: &str,
        scope: &Scope,
    ) -> Option<ast::Expr> {
        let (inner, agg) = match name {
            "row_to_json" | "to_json" => (ROW_JSON, None),
            "to_jsonb" => (ROW_JSONB, None),
            "json_agg" => (ROW_JSON, Some(ROW_JSON_AGG)),
            "jsonb_agg" => (ROW_JSONB, Some("jsonb_agg")),
            _ => return None,
        };
        if f.over.is_some() {
            return None;
        }
        let ast::FunctionArguments::List(list) = &f.args else {
            return None;
        };
        let [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(ast::Expr::Identifier(id)))] =
            list.args.as_slice()
        else {
            return None;
        };
        let item = fold(id);
        // An aggregate's argument reads the rows under the grouping.
        let cols = match (&agg, self.agg_input()) {
            (Some(_), Some(input)) => input,
            _ => scope,
        };
        let args = row_args(id, &item, cols)?;
        let row = call(f, inner, args, None);
        Some(match agg {
            None => row,
            Some(a) => call(f, a, vec![arg(row)], Some(list)),
        })
    }
}

/// Name and value arguments of FROM item `item`'s visible columns, in order; None
/// when a column is named like the item (it wins) or no item has that name.
fn row_args(id: &ast::Ident, item: &str, cols: &Scope) -> Option<Vec<ast::FunctionArg>> {
    if cols
        .cols
        .iter()
        .any(|c| c.name == item && c.visible_as(None))
    {
        return None;
    }
    let members: Vec<&super::ScopeCol> = cols
        .cols
        .iter()
        .filter(|c| c.table.as_deref() == Some(item) && !c.is_system())
        .collect();
    if members.is_empty() {
        return None;
    }
    let mut args = Vec::new();
    for c in members {
        args.push(arg(ast::Expr::Value(
            ast::Value::SingleQuotedString(c.name.clone()).into(),
        )));
        args.push(arg(ast::Expr::CompoundIdentifier(vec![
            id.clone(),
            ast::Ident::with_quote('"', c.name.clone()),
        ])));
    }
    Some(args)
}

/// A call of `name` with `args` and no other clause.
fn plain_call(name: ast::Ident, args: Vec<ast::FunctionArg>) -> ast::Expr {
    ast::Expr::Function(ast::Function {
        name: ast::ObjectName(vec![ast::ObjectNamePart::Identifier(name)]),
        uses_odbc_syntax: false,
        parameters: ast::FunctionArguments::None,
        args: ast::FunctionArguments::List(ast::FunctionArgumentList {
            duplicate_treatment: None,
            args,
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

fn arg(e: ast::Expr) -> ast::FunctionArg {
    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e))
}

/// A call of `name` with `args`; an aggregate keeps the original call's clauses
/// (FILTER, ORDER BY, DISTINCT).
fn call(
    f: &ast::Function,
    name: &str,
    args: Vec<ast::FunctionArg>,
    clauses_of: Option<&ast::FunctionArgumentList>,
) -> ast::Expr {
    let mut g = f.clone();
    g.name = ast::ObjectName(vec![ast::ObjectNamePart::Identifier(
        ast::Ident::with_quote('"', name),
    )]);
    g.args = ast::FunctionArguments::List(ast::FunctionArgumentList {
        duplicate_treatment: clauses_of.and_then(|l| l.duplicate_treatment),
        args,
        clauses: clauses_of.map(|l| l.clauses.clone()).unwrap_or_default(),
    });
    if clauses_of.is_none() {
        g.filter = None;
        g.within_group = vec![];
    }
    ast::Expr::Function(g)
}

/// `l op r` for two composite values (PostgreSQL's `record_eq`/`record_lt`…): the first
/// column pair that differs decides; NULLs are equal to each other and greater than
/// every value.
pub(super) fn record_comparison(
    l: Vec<ast::Expr>,
    op: &ast::BinaryOperator,
    r: Vec<ast::Expr>,
) -> crate::error::Result<ast::Expr> {
    use ast::BinaryOperator as B;
    if l.len() != r.len() {
        crate::bail!(
            crate::error::sqlstate::DATATYPE_MISMATCH,
            "cannot compare record types with different numbers of columns"
        );
    }
    let bin = |a: ast::Expr, op: B, b: ast::Expr| ast::Expr::BinaryOp {
        left: Box::new(ast::Expr::Nested(Box::new(a))),
        op,
        right: Box::new(ast::Expr::Nested(Box::new(b))),
    };
    let same = |a: &ast::Expr, b: &ast::Expr| {
        ast::Expr::IsNotDistinctFrom(Box::new(a.clone()), Box::new(b.clone()))
    };
    // a before b: both values and a < b, or a a value and b NULL.
    let before = |a: &ast::Expr, b: &ast::Expr| {
        let lt = bin(a.clone(), B::Lt, b.clone());
        let coalesced = plain_call(
            ast::Ident::new("coalesce"),
            vec![
                arg(lt),
                arg(ast::Expr::Value(ast::Value::Boolean(false).into())),
            ],
        );
        bin(
            coalesced,
            B::Or,
            bin(
                ast::Expr::IsNotNull(Box::new(a.clone())),
                B::And,
                ast::Expr::IsNull(Box::new(b.clone())),
            ),
        )
    };
    let all_same = || {
        l.iter()
            .zip(&r)
            .map(|(a, b)| same(a, b))
            .reduce(|x, y| bin(x, B::And, y))
            .unwrap_or(ast::Expr::Value(ast::Value::Boolean(true).into()))
    };
    // Lexicographic: some column i is before, all earlier ones the same.
    let less = |x: &[ast::Expr], y: &[ast::Expr]| {
        (0..x.len())
            .map(|i| {
                let mut t = before(&x[i], &y[i]);
                for j in (0..i).rev() {
                    t = bin(same(&x[j], &y[j]), B::And, t);
                }
                t
            })
            .reduce(|a, b| bin(a, B::Or, b))
            .unwrap_or(ast::Expr::Value(ast::Value::Boolean(false).into()))
    };
    Ok(match op {
        B::Eq => all_same(),
        B::NotEq => ast::Expr::UnaryOp {
            op: ast::UnaryOperator::Not,
            expr: Box::new(ast::Expr::Nested(Box::new(all_same()))),
        },
        B::Lt => less(&l, &r),
        B::Gt => less(&r, &l),
        B::LtEq => bin(less(&l, &r), B::Or, all_same()),
        B::GtEq => bin(less(&r, &l), B::Or, all_same()),
        other => crate::bail!(
            crate::error::sqlstate::UNDEFINED_FUNCTION,
            "operator does not exist: record {other} record"
        ),
    })
}
