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
//! # Never
//! Never builds a composite value: tusk has no record type, so `SELECT t FROM t` and
//! `(t).col` stay refused (42703), and a column named like the item always wins, as in
//! PostgreSQL.

use super::{fold, Binder, Scope};
use crate::sql::type_funcs::{ROW_JSON, ROW_JSONB, ROW_JSON_AGG};
use sqlparser::ast;

impl Binder<'_> {
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
        if cols
            .cols
            .iter()
            .any(|c| c.name == item && c.visible_as(None))
        {
            return None; // a column of that name wins
        }
        let members: Vec<&super::ScopeCol> = cols
            .cols
            .iter()
            .filter(|c| c.table.as_deref() == Some(item.as_str()))
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
        let row = call(f, inner, args, None);
        Some(match agg {
            None => row,
            Some(a) => call(f, a, vec![arg(row)], Some(list)),
        })
    }
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
