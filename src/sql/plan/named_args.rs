//! Named arguments in a call (`make_interval(days => 3)`, `:=` too): the parameter
//! names of the built-in functions that have them, and the rewrite of a call with named
//! arguments into the positional call the rest of the binder knows.
//!
//! As in PostgreSQL: positional arguments come first, each named argument names a
//! parameter no other argument fills, and a parameter left out takes its default
//! (a function without defaults needs every parameter). A call that breaks these
//! rules, or names a parameter the function does not have, is
//! `42883 function name(arg => type, …) does not exist`; a positional argument after
//! a named one is a syntax error.
//!
//! This module must never reorder what it cannot name: a function missing from
//! [`parameters`] takes positional arguments only.

use super::{Binder, Scope};
use crate::error::{sqlstate, Result};
use crate::sql::depth::Spanned;
use crate::{bail, err};
use sqlparser::ast;

/// A parameter: its name, and its default as SQL text (`None`: required).
type Parameter = (&'static str, Option<&'static str>);

/// The parameters of a built-in function that may be called with named arguments.
fn parameters(function: &str) -> Option<&'static [Parameter]> {
    Some(match function {
        "make_interval" => &[
            ("years", Some("0")),
            ("months", Some("0")),
            ("weeks", Some("0")),
            ("days", Some("0")),
            ("hours", Some("0")),
            ("mins", Some("0")),
            ("secs", Some("0.0")),
        ],
        "jsonb_set" => &[
            ("jsonb_in", None),
            ("path", None),
            ("replacement", None),
            ("create_if_missing", Some("true")),
        ],
        "jsonb_insert" => &[
            ("jsonb_in", None),
            ("path", None),
            ("replacement", None),
            ("insert_after", Some("false")),
        ],
        "make_date" => &[("year", None), ("month", None), ("day", None)],
        "make_time" => &[("hour", None), ("min", None), ("sec", None)],
        "make_timestamp" => &[
            ("year", None),
            ("month", None),
            ("mday", None),
            ("hour", None),
            ("min", None),
            ("sec", None),
        ],
        "make_timestamptz" => &[
            ("year", None),
            ("month", None),
            ("mday", None),
            ("hour", None),
            ("min", None),
            ("sec", None),
            ("timezone", Some("current_setting('TimeZone')")),
        ],
        _ => return None,
    })
}

/// One argument of a call as written.
enum Written<'a> {
    Positional(&'a ast::Expr),
    /// The name, where it stands, the value.
    Named(String, sqlparser::tokenizer::Span, &'a ast::Expr),
}

impl Binder<'_> {
    /// The arguments of `f` (named `name`) in parameter order when some are named;
    /// `Ok(None)` when none is (the caller takes the list as it is).
    pub(super) fn named_arguments(
        &mut self,
        f: &ast::Function,
        name: &str,
        list: &[ast::FunctionArg],
        scope: &Scope,
    ) -> Result<Option<Vec<ast::Expr>>> {
        let named = |a: &ast::FunctionArg| {
            matches!(
                a,
                ast::FunctionArg::Named { .. } | ast::FunctionArg::ExprNamed { .. }
            ) || assignment(a).is_some()
        };
        if !list.iter().any(named) {
            return Ok(None);
        }
        let mut written = Vec::with_capacity(list.len());
        for a in list {
            if let Some((n, at, e)) = assignment(a) {
                written.push(Written::Named(n.to_string(), at, e));
                continue;
            }
            let (n, arg) = match a {
                ast::FunctionArg::Unnamed(arg) => (None, arg),
                ast::FunctionArg::Named { name, arg, .. } => {
                    (Some((name.value.clone(), name.span)), arg)
                }
                ast::FunctionArg::ExprNamed { name, arg, .. } => match name {
                    ast::Expr::Identifier(id) => (Some((id.value.clone(), id.span)), arg),
                    other => bail!(
                        sqlstate::SYNTAX_ERROR,
                        "syntax error at or near \"{other}\""
                    ),
                },
            };
            let ast::FunctionArgExpr::Expr(e) = arg else {
                bail!(sqlstate::SYNTAX_ERROR, "syntax error at or near \"*\"");
            };
            written.push(match n {
                Some((n, at)) => Written::Named(n, at, e),
                None if written.iter().any(|w| matches!(w, Written::Named(..))) => {
                    return Err(self.at(
                        err!(
                            sqlstate::SYNTAX_ERROR,
                            "positional argument cannot follow named argument"
                        ),
                        e.span(),
                    ))
                }
                None => Written::Positional(e),
            });
        }
        for (i, w) in written.iter().enumerate() {
            if let Written::Named(n, at, _) = w {
                let again = written[..i]
                    .iter()
                    .any(|v| matches!(v, Written::Named(m, ..) if m == n));
                if again {
                    return Err(self.at(
                        err!(
                            sqlstate::SYNTAX_ERROR,
                            "argument name \"{n}\" used more than once"
                        ),
                        *at,
                    ));
                }
            }
        }
        let Some(params) = parameters(name) else {
            return Err(self.no_such_call(f, name, &written, scope));
        };
        let mut slots: Vec<Option<&ast::Expr>> = vec![None; params.len()];
        for (i, w) in written.iter().enumerate() {
            let slot = match w {
                Written::Positional(_) => Some(i),
                Written::Named(n, ..) => params.iter().position(|(p, _)| p == n),
            };
            match slot.and_then(|k| slots.get_mut(k)) {
                Some(s @ None) => {
                    *s = Some(match w {
                        Written::Positional(e) | Written::Named(_, _, e) => e,
                    })
                }
                _ => return Err(self.no_such_call(f, name, &written, scope)),
            }
        }
        // Every parameter up to the last one given is filled, from its default when
        // left out; the rest are left to the function's own shorter forms.
        let given = slots.iter().rposition(Option::is_some).map_or(0, |k| k + 1);
        let mut args = Vec::with_capacity(given);
        for (slot, (_, default)) in slots.iter().zip(params).take(given) {
            args.push(match (slot, default) {
                (Some(e), _) => (*e).clone(),
                (None, Some(text)) => parse_default(text)?,
                (None, None) => return Err(self.no_such_call(f, name, &written, scope)),
            });
        }
        // A function whose trailing parameters have no defaults needs them all.
        if params[given..].iter().any(|(_, d)| d.is_none()) {
            return Err(self.no_such_call(f, name, &written, scope));
        }
        Ok(Some(args))
    }

    /// PostgreSQL's error for a call no function matches, its arguments written as
    /// they were (`name => type` for a named one).
    fn no_such_call(
        &mut self,
        f: &ast::Function,
        name: &str,
        written: &[Written<'_>],
        scope: &Scope,
    ) -> crate::error::Error {
        let mut shown = Vec::with_capacity(written.len());
        for w in written {
            let (label, e) = match w {
                Written::Positional(e) => (None, e),
                Written::Named(n, _, e) => (Some(n), e),
            };
            let ty = match self.bind(e, scope) {
                Ok(b) => b.ty().name().to_string(),
                Err(err) => return err,
            };
            shown.push(match label {
                Some(n) => format!("{n} => {ty}"),
                None => ty,
            });
        }
        self.at(
            err!(
                sqlstate::UNDEFINED_FUNCTION,
                "function {name}({}) does not exist",
                shown.join(", ")
            )
            .with_hint("No function matches the given name and argument types. You might need to add explicit type casts."),
            f.name.span(),
        )
    }
}

/// `name := value` as sqlparser reads it in PostgreSQL's dialect: an assignment
/// expression, not a named argument.
fn assignment(a: &ast::FunctionArg) -> Option<(&str, sqlparser::tokenizer::Span, &ast::Expr)> {
    match a {
        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(ast::Expr::BinaryOp {
            left,
            op: ast::BinaryOperator::Assignment,
            right,
        })) => match left.as_ref() {
            ast::Expr::Identifier(id) => Some((id.value.as_str(), id.span, right.as_ref())),
            _ => None,
        },
        _ => None,
    }
}

/// A parameter's default, as an expression.
fn parse_default(text: &str) -> Result<ast::Expr> {
    sqlparser::parser::Parser::new(&crate::sql::dialect::PG)
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| err!(sqlstate::INTERNAL_ERROR, "parameter default {text}: {e}"))
}

#[cfg(test)]
mod tests {
    use crate::sql::tests::{db, q, session};

    #[test]
    fn named_arguments_fill_parameters_as_postgres_does() {
        let d = db("named-args");
        let mut s = session(&d.engine, "postgres");
        let one = |s: &mut crate::sql::Session, sql: &str| {
            let out = q(s, sql);
            out.lines().nth(1).unwrap_or(&out).to_string()
        };
        assert_eq!(one(&mut s, "select make_interval(days => 3)"), "3 days");
        assert_eq!(
            one(&mut s, "select make_interval(hours := 2, days => 3)"),
            "3 days 02:00:00"
        );
        assert_eq!(
            one(&mut s, "select make_interval(1, days => 3)"),
            "1 year 3 days"
        );
        assert_eq!(
            one(&mut s, "select make_interval(1, 2, 3, 4, 5, 6, 7.25)"),
            "1 year 2 mons 25 days 05:06:07.25"
        );
        assert_eq!(one(&mut s, "select make_interval()"), "00:00:00");
        assert_eq!(
            one(
                &mut s,
                "select jsonb_set('{\"a\": 1}', '{b}', '2', create_if_missing => false)"
            ),
            "{\"a\": 1}"
        );
        assert_eq!(
            one(
                &mut s,
                "select jsonb_insert('[1]', '{0}', '0', insert_after := true)"
            ),
            "[1, 0]"
        );
        assert_eq!(
            one(&mut s, "select make_date(2024, day => 29, month => 2)"),
            "2024-02-29"
        );
        assert_eq!(
            q(&mut s, "select make_interval(days => 3, 1)"),
            "ERROR 42601: positional argument cannot follow named argument @33"
        );
        assert_eq!(
            q(&mut s, "select make_interval(days => 3, days => 4)"),
            "ERROR 42601: argument name \"days\" used more than once @33"
        );
        for (sql, sig) in [
            (
                "select make_interval(foo => 3)",
                "make_interval(foo => integer)",
            ),
            (
                "select make_interval(1, years => 3)",
                "make_interval(integer, years => integer)",
            ),
            (
                "select make_date(year => 2024, month => 2)",
                "make_date(year => integer, month => integer)",
            ),
            ("select lower(foo => 'a')", "lower(foo => unknown)"),
        ] {
            assert_eq!(
                q(&mut s, sql),
                format!("ERROR 42883: function {sig} does not exist @8"),
                "{sql}"
            );
        }
        assert_eq!(
            q(&mut s, "select make_interval(secs => 'infinity')"),
            "ERROR 22008: interval out of range"
        );
    }
}
