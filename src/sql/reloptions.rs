//! What CREATE TABLE may say besides its columns and constraints: the storage
//! parameters of `WITH (…)`, and the clauses tusk refuses (`PARTITION BY`,
//! `INHERITS`).
//!
//! What it owns: the check of a table's `WITH` list against PostgreSQL 15's heap
//! parameters (`fillfactor`, `autovacuum_*`, `toast_tuple_target`, `parallel_workers`,
//! `vacuum_index_cleanup`…): each name must be one PostgreSQL knows, given once, with a
//! value of its type inside its bounds, and the errors are PostgreSQL's (22023,
//! `unrecognized parameter "foo"`, `value 5 out of bounds for option "fillfactor"`
//! with the valid range as detail; `WITH (oids = true)` is 0A000). tusk keeps rows in
//! memory without pages or autovacuum, so a valid parameter changes nothing and is not
//! stored; what matters is that `pgbench -F 90` works and a typo fails as in
//! PostgreSQL.
//!
//! What it must never do: accept a clause that would change what a table means and
//! then ignore it. Partitioned and inheriting tables are refused (0A000) rather than
//! created as plain tables.
//!
//! Walk through `create table t (a int) with (fillfactor = 90)`:
//! 1. the binder's CREATE TABLE calls [`check_create_table`] before anything else;
//! 2. there is no PARTITION BY or INHERITS;
//! 3. the option's key folds to `fillfactor`, found in the heap table as an integer
//!    parameter with bounds 10..100; its value `90` reads as PostgreSQL's `parse_int`
//!    would and lies inside them, so the statement goes on.

use crate::error::{sqlstate, Error, Result};
use crate::{bail, err};
use sqlparser::ast;

/// The type and bounds of a storage parameter.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A boolean parameter.
    Bool,
    /// An integer parameter with its inclusive bounds.
    Int(i64, i64),
    /// A floating point parameter with its inclusive bounds.
    Real(f64, f64),
    /// `vacuum_index_cleanup`: `auto` or a boolean.
    IndexCleanup,
}

const INT_MAX: i64 = i32::MAX as i64;

/// PostgreSQL 15's storage parameters of an ordinary (heap) table.
const HEAP: &[(&str, Kind)] = &[
    ("autovacuum_enabled", Kind::Bool),
    ("user_catalog_table", Kind::Bool),
    ("vacuum_truncate", Kind::Bool),
    ("fillfactor", Kind::Int(10, 100)),
    ("autovacuum_vacuum_threshold", Kind::Int(0, INT_MAX)),
    ("autovacuum_vacuum_insert_threshold", Kind::Int(-1, INT_MAX)),
    ("autovacuum_analyze_threshold", Kind::Int(0, INT_MAX)),
    ("autovacuum_vacuum_cost_limit", Kind::Int(1, 10000)),
    ("autovacuum_freeze_min_age", Kind::Int(0, 1_000_000_000)),
    (
        "autovacuum_multixact_freeze_min_age",
        Kind::Int(0, 1_000_000_000),
    ),
    (
        "autovacuum_freeze_max_age",
        Kind::Int(100_000, 2_000_000_000),
    ),
    (
        "autovacuum_multixact_freeze_max_age",
        Kind::Int(10_000, 2_000_000_000),
    ),
    ("autovacuum_freeze_table_age", Kind::Int(0, 2_000_000_000)),
    (
        "autovacuum_multixact_freeze_table_age",
        Kind::Int(0, 2_000_000_000),
    ),
    ("log_autovacuum_min_duration", Kind::Int(-1, INT_MAX)),
    ("toast_tuple_target", Kind::Int(128, 8160)),
    ("parallel_workers", Kind::Int(0, 1024)),
    ("autovacuum_vacuum_cost_delay", Kind::Real(0.0, 100.0)),
    ("autovacuum_vacuum_scale_factor", Kind::Real(0.0, 100.0)),
    (
        "autovacuum_vacuum_insert_scale_factor",
        Kind::Real(0.0, 100.0),
    ),
    ("autovacuum_analyze_scale_factor", Kind::Real(0.0, 100.0)),
    ("vacuum_index_cleanup", Kind::IndexCleanup),
];

/// Checks the parts of a CREATE TABLE (or CREATE TABLE AS) that this module owns:
/// refuses partitioning and inheritance, validates the `WITH` storage parameters.
pub fn check_create_table(ct: &ast::CreateTable) -> Result<()> {
    if ct.partition_by.is_some() {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "partitioned tables are not supported yet"
        );
    }
    if ct.inherits.is_some() {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "table inheritance is not supported yet"
        );
    }
    match &ct.table_options {
        ast::CreateTableOptions::With(options) => check_with(options),
        ast::CreateTableOptions::None => Ok(()),
        other => bail!(
            sqlstate::SYNTAX_ERROR,
            "syntax error at or near \"{}\"",
            other.to_string().split_whitespace().next().unwrap_or("")
        ),
    }
}

/// Validates a `WITH (name = value, …)` list of an ordinary table, in order.
fn check_with(options: &[ast::SqlOption]) -> Result<()> {
    let mut seen: Vec<&str> = Vec::new();
    for o in options {
        let ast::SqlOption::KeyValue { key, value } = o else {
            bail!(
                sqlstate::SYNTAX_ERROR,
                "syntax error at or near \"{}\"",
                o.to_string().split_whitespace().next().unwrap_or("")
            );
        };
        let name = match key.quote_style {
            Some(_) => key.value.clone(),
            None => key.value.to_lowercase(),
        };
        let text = value_text(value)?;
        // `oids = false` is accepted and dropped, as PostgreSQL does for old dumps.
        if name == "oids" {
            match crate::config::value::parse_bool(&text) {
                Some(false) => continue,
                Some(true) => bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "tables declared WITH OIDS are not supported"
                ),
                None => bail!(sqlstate::SYNTAX_ERROR, "oids requires a Boolean value"),
            }
        }
        let Some(&(known, kind)) = HEAP.iter().find(|(n, _)| *n == name) else {
            bail!(
                sqlstate::INVALID_PARAMETER_VALUE,
                "unrecognized parameter \"{name}\""
            );
        };
        if seen.contains(&known) {
            bail!(
                sqlstate::INVALID_PARAMETER_VALUE,
                "parameter \"{known}\" specified more than once"
            );
        }
        seen.push(known);
        check_value(known, kind, &text)?;
    }
    Ok(())
}

/// The text PostgreSQL's `defGetString` gives the option's value: a number as
/// written, a string's contents, a keyword's name.
fn value_text(value: &ast::Expr) -> Result<String> {
    Ok(match value {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => n.clone(),
            ast::Value::SingleQuotedString(s) | ast::Value::EscapedStringLiteral(s) => s.clone(),
            ast::Value::Boolean(b) => b.to_string(),
            other => bail!(
                sqlstate::SYNTAX_ERROR,
                "syntax error at or near \"{other}\""
            ),
        },
        ast::Expr::Identifier(id) => id.value.to_lowercase(),
        ast::Expr::UnaryOp { op, expr } => {
            let sign = match op {
                ast::UnaryOperator::Minus => "-",
                ast::UnaryOperator::Plus => "",
                _ => bail!(sqlstate::SYNTAX_ERROR, "syntax error at or near \"{op}\""),
            };
            match expr.as_ref() {
                ast::Expr::Value(v) if matches!(v.value, ast::Value::Number(..)) => {
                    format!("{sign}{}", value_text(expr)?)
                }
                other => bail!(
                    sqlstate::SYNTAX_ERROR,
                    "syntax error at or near \"{other}\""
                ),
            }
        }
        other => bail!(
            sqlstate::SYNTAX_ERROR,
            "syntax error at or near \"{other}\""
        ),
    })
}

/// Checks one parameter's value against its type and bounds.
fn check_value(name: &str, kind: Kind, text: &str) -> Result<()> {
    let invalid = |what: &str| -> Error {
        err!(
            sqlstate::INVALID_PARAMETER_VALUE,
            "invalid value for {what} option \"{name}\": {text}"
        )
    };
    match kind {
        Kind::Bool => {
            crate::config::value::parse_bool(text).ok_or_else(|| invalid("boolean"))?;
        }
        Kind::Int(min, max) => {
            let v =
                crate::config::value::parse_int_plain(text).ok_or_else(|| invalid("integer"))?;
            if v < min || v > max {
                return Err(err!(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "value {text} out of bounds for option \"{name}\""
                )
                .with_detail(format!("Valid values are between \"{min}\" and \"{max}\".")));
            }
        }
        Kind::Real(min, max) => {
            let v = crate::config::value::parse_real_plain(text)
                .ok_or_else(|| invalid("floating point"))?;
            if v < min || v > max {
                return Err(err!(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "value {text} out of bounds for option \"{name}\""
                )
                .with_detail(format!(
                    "Valid values are between \"{min:.6}\" and \"{max:.6}\"."
                )));
            }
        }
        Kind::IndexCleanup => {
            let ok = text.eq_ignore_ascii_case("auto")
                || ["on", "off", "true", "false", "yes", "no", "1", "0"]
                    .iter()
                    .any(|v| text.eq_ignore_ascii_case(v));
            if !ok {
                return Err(
                    invalid("enum").with_detail("Valid values are \"on\", \"off\", and \"auto\".")
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{db, first_column, session};

    #[test]
    fn partitioning_and_inheritance_are_refused() {
        let d = db("reloptions");
        let mut s = session(&d.engine, "postgres");
        for sql in [
            "create table p (a int) partition by range (a)",
            "create table p (a int) partition by hash (a)",
            "create table p (a int) partition by list (a)",
        ] {
            assert_eq!(
                first_column(&mut s, sql),
                "ERROR 0A000: partitioned tables are not supported yet",
                "{sql}"
            );
        }
        first_column(&mut s, "create table base (a int)");
        assert_eq!(
            first_column(&mut s, "create table child (b int) inherits (base)"),
            "ERROR 0A000: table inheritance is not supported yet"
        );
        // Nothing was created by the refused statements.
        assert_eq!(
            first_column(
                &mut s,
                "select count(*) from pg_tables where tablename in ('p', 'child')"
            ),
            "0"
        );
        // Storage parameters valid in PostgreSQL are accepted, others refused.
        assert_eq!(
            first_column(
                &mut s,
                "create table f (a int) with (fillfactor = 90, autovacuum_enabled = off)"
            ),
            "CREATE TABLE"
        );
        assert_eq!(
            first_column(&mut s, "create table g (a int) with (fillfactor = 9)"),
            "ERROR 22023: value 9 out of bounds for option \"fillfactor\""
        );
    }
}
