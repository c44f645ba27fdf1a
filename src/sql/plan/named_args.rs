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
//! The parameter names and defaults are PostgreSQL 15's own (`catalog/pg_proc.tsv`),
//! for every built-in tusk binds; where a function has several forms (`make_timestamptz`
//! with and without a time zone) the first the call fits is taken, fewest parameters
//! first.
//!
//! This module must never reorder what it cannot name: a function with no named form
//! (or only a VARIADIC one) takes positional arguments only.

use super::{Binder, Scope};
use crate::error::{sqlstate, Result};
use crate::sql::depth::Spanned;
use crate::{bail, err};
use sqlparser::ast;
use sqlparser::tokenizer::Span;

/// A parameter: its name, and its default as SQL text (`None`: required).
type Parameter = (&'static str, Option<&'static str>);

/// The input parameters of each form of the built-in function `function` that names
/// them, as PostgreSQL 15's `pg_proc` has them (`proargnames`, and the defaults
/// `pg_get_function_arguments` prints), fewest parameters first; only functions tusk
/// binds (`catalog::pg_proc::all`). A form with a VARIADIC parameter is left out: its
/// arguments are taken positionally only.
fn signatures(function: &str) -> Vec<Vec<Parameter>> {
    let mut forms: Vec<Vec<Parameter>> = crate::catalog::pg_proc::all()
        .iter()
        .filter(|p| p.name == function)
        .filter_map(|p| {
            let names = p.argnames.as_ref()?;
            let modes = p.argmodes.as_ref();
            let mode = |i: usize| modes.and_then(|m| m.get(i)).map_or("i", String::as_str);
            if (0..names.len()).any(|i| mode(i) == "v") {
                return None;
            }
            // `pg_get_function_arguments` lists every parameter but a TABLE column
            // (those come last), OUT ones too, in `proargnames` order: `name type
            // [DEFAULT expr]`, separated by commas.
            let texts = top_level_pieces(p.arguments);
            let inputs: Vec<Parameter> = names
                .iter()
                .enumerate()
                .filter(|&(i, _)| matches!(mode(i), "i" | "b"))
                .map(|(i, n)| {
                    let default = texts
                        .get(i)
                        .and_then(|t| t.split_once(" DEFAULT "))
                        .map(|(_, d)| d);
                    (n.as_str(), default)
                })
                .collect();
            // An unnamed parameter (an empty name) is filled by position only.
            Some(inputs)
        })
        .collect();
    forms.sort_by_key(Vec::len);
    forms
}

/// `text` cut at the commas outside quotes and parentheses, each piece trimmed.
fn top_level_pieces(text: &str) -> Vec<&str> {
    let (mut pieces, mut depth, mut quoted, mut start) = (Vec::new(), 0i32, None, 0);
    for (i, c) in text.char_indices() {
        match (quoted, c) {
            (Some(q), c) if c == q => quoted = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quoted = Some(c),
            (None, '(' | '[') => depth += 1,
            (None, ')' | ']') => depth -= 1,
            (None, ',') if depth == 0 => {
                pieces.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if !text.trim().is_empty() {
        pieces.push(text[start..].trim());
    }
    pieces
}

/// One argument of a call as written.
enum Written<'a> {
    Positional(&'a ast::Expr),
    /// The name, where it stands, the value.
    Named(String, Span, &'a ast::Expr),
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
        let Some((written, misplaced)) = written_arguments(list)? else {
            return Ok(None);
        };
        if let Some((e, at)) = misplaced {
            return Err(self.at(e, at));
        }
        match first_fit(name, &written)? {
            Some(args) => Ok(Some(args)),
            None => Err(self.no_such_call(f, name, &written, scope)),
        }
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

/// The arguments of a call to `function` in parameter order, when some are named and
/// the call fits one of its forms (`Ok(None)` otherwise: the caller reports the call as
/// it reports any it cannot match). For calls bound outside [`Binder::named_arguments`]
/// (set-returning functions in FROM), without its positioned errors.
pub(in crate::sql) fn in_parameter_order(
    function: &str,
    list: &[ast::FunctionArg],
) -> Result<Option<Vec<ast::Expr>>> {
    let Some((written, misplaced)) = written_arguments(list)? else {
        return Ok(None);
    };
    if let Some((e, _)) = misplaced {
        return Err(e);
    }
    first_fit(function, &written)
}

/// A syntax error in how the arguments are written, and where it stands.
type Misplaced = (crate::error::Error, Span);

/// The arguments of a call as written, when some are named (`Ok(None)`: none is), with
/// PostgreSQL's syntax error for a positional argument after a named one or a name
/// used twice, and where it stands.
fn written_arguments(
    list: &[ast::FunctionArg],
) -> Result<Option<(Vec<Written<'_>>, Option<Misplaced>)>> {
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
    let mut misplaced = None;
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
            None => {
                if misplaced.is_none() && written.iter().any(|w| matches!(w, Written::Named(..))) {
                    misplaced = Some((
                        err!(
                            sqlstate::SYNTAX_ERROR,
                            "positional argument cannot follow named argument"
                        ),
                        e.span(),
                    ));
                }
                Written::Positional(e)
            }
        });
    }
    if misplaced.is_none() {
        misplaced = written.iter().enumerate().find_map(|(i, w)| match w {
            Written::Named(n, at, _)
                if written[..i]
                    .iter()
                    .any(|v| matches!(v, Written::Named(m, ..) if m == n)) =>
            {
                Some((
                    err!(
                        sqlstate::SYNTAX_ERROR,
                        "argument name \"{n}\" used more than once"
                    ),
                    *at,
                ))
            }
            _ => None,
        });
    }
    Ok(Some((written, misplaced)))
}

/// The arguments in parameter order for the first form of `function` (fewest
/// parameters first) the call fits.
fn first_fit(function: &str, written: &[Written<'_>]) -> Result<Option<Vec<ast::Expr>>> {
    for params in signatures(function) {
        if let Some(args) = fill(&params, written)? {
            return Ok(Some(args));
        }
    }
    Ok(None)
}

/// The call's arguments in the order of `params`, when it fits them: each argument
/// fills one parameter (positional ones the first, named ones theirs), and every
/// parameter up to the last one given is filled, from its default when left out — the
/// rest are left to the function's own shorter forms, unless one of them has no
/// default. `Ok(None)`: the call does not fit.
fn fill(params: &[Parameter], written: &[Written<'_>]) -> Result<Option<Vec<ast::Expr>>> {
    let mut slots: Vec<Option<&ast::Expr>> = vec![None; params.len()];
    for (i, w) in written.iter().enumerate() {
        let (slot, e) = match w {
            Written::Positional(e) => (Some(i), e),
            Written::Named(n, _, e) => (params.iter().position(|(p, _)| p == n), e),
        };
        match slot.and_then(|k| slots.get_mut(k)) {
            Some(s @ None) => *s = Some(e),
            _ => return Ok(None),
        }
    }
    let given = slots.iter().rposition(Option::is_some).map_or(0, |k| k + 1);
    if params[given..].iter().any(|(_, d)| d.is_none()) {
        return Ok(None);
    }
    let mut args = Vec::with_capacity(given);
    for (slot, (_, default)) in slots.iter().zip(params).take(given) {
        args.push(match (slot, default) {
            (Some(e), _) => (*e).clone(),
            (None, Some(text)) => parse_default(text)?,
            (None, None) => return Ok(None),
        });
    }
    Ok(Some(args))
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
    use super::{signatures, top_level_pieces};
    use crate::sql::tests::{db, q, session};

    #[test]
    fn signatures_come_from_pg_proc() {
        assert_eq!(
            signatures("make_interval"),
            vec![vec![
                ("years", Some("0")),
                ("months", Some("0")),
                ("weeks", Some("0")),
                ("days", Some("0")),
                ("hours", Some("0")),
                ("mins", Some("0")),
                ("secs", Some("0.0")),
            ]]
        );
        let forms = signatures("make_timestamptz");
        assert_eq!(forms.iter().map(Vec::len).collect::<Vec<_>>(), vec![6, 7]);
        assert_eq!(forms[1][6], ("timezone", None));
        assert_eq!(
            signatures("jsonb_set")[0][3],
            ("create_if_missing", Some("true"))
        );
        // VARIADIC forms take positional arguments only; unnamed functions have none.
        assert!(signatures("jsonb_extract_path").is_empty());
        assert!(signatures("lower").is_empty());
        assert_eq!(
            top_level_pieces(
                "a text DEFAULT 'x, y'::text, b integer[] DEFAULT ARRAY[1, 2], c f(1, 2)"
            ),
            vec![
                "a text DEFAULT 'x, y'::text",
                "b integer[] DEFAULT ARRAY[1, 2]",
                "c f(1, 2)"
            ]
        );
        assert!(top_level_pieces("").is_empty());
    }

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
        // Forms as pg_proc has them: make_timestamptz with and without its time zone;
        // a function with OUT parameters names only its input.
        q(&mut s, "set timezone = 'UTC'");
        assert_eq!(
            one(
                &mut s,
                "select make_timestamptz(2024, 1, 2, 3, 4, 5, timezone => 'Europe/Paris')"
            ),
            "2024-01-02 02:04:05+00"
        );
        assert_eq!(
            one(
                &mut s,
                "select make_timestamptz(year => 2024, month => 1, mday => 2, hour => 3, min => 4, sec => 5)"
            ),
            "2024-01-02 03:04:05+00"
        );
        assert_eq!(
            one(&mut s, "select make_time(sec => 1, hour => 2, min => 3)"),
            "02:03:01"
        );
        assert_eq!(
            q(
                &mut s,
                "select json_array_elements_text(from_json => '[\"a\", \"b\"]')"
            )
            .lines()
            .collect::<Vec<_>>(),
            ["json_array_elements_text", "a", "b", "SELECT 2"]
        );
        assert_eq!(
            q(
                &mut s,
                "select * from jsonb_each_text(from_json => '{\"a\": 1}')"
            ),
            "key|value\na|1\nSELECT 1"
        );
        assert_eq!(
            q(
                &mut s,
                "select * from jsonb_each_text(from_json => '{}', 1)"
            ),
            "ERROR 42601: positional argument cannot follow named argument"
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
            (
                "select make_timestamptz(2024, 1, 2, 3, 4, 5, tz => 'UTC')",
                "make_timestamptz(integer, integer, integer, integer, integer, integer, tz => unknown)",
            ),
            (
                "select jsonb_extract_path(from_json => '{}')",
                "jsonb_extract_path(from_json => unknown)",
            ),
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
