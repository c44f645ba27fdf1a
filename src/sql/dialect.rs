//! The SQL dialect tusk parses with: sqlparser's PostgreSQL dialect, less the one rule
//! PostgreSQL does not have and that made parsing exponential.
//!
//! sqlparser's PostgreSQL dialect accepts an *expression* as a function argument's
//! name (`json_object('a': 1)`, its `supports_named_fn_args_with_expr_name`), and to
//! find one it parses every argument speculatively as a whole expression, then again
//! for real when no `=>`/`:` follows: each level of nested calls doubles the work.
//! `abs(abs(…))` twenty deep took three seconds and twenty-two twelve; a short query
//! could hold a backend for hours (sqlparser fixed this after 0.59; see its pull
//! request 2392). PostgreSQL's named arguments are identifiers (`make_interval(days
//! => 3)`, `:=`), which the plain rule parses in linear time, and tusk handles no
//! expression-named argument. [`Pg`] answers every other question as sqlparser's
//! PostgreSQL dialect does, and claims to be it (`dialect()`), so that sqlparser's own
//! `dialect_of!(… is PostgreSqlDialect)` checks hold.
//!
//! This module owns the choice of dialect only: every parse of SQL text in tusk goes
//! through [`PG`]; it must never change what a statement means.

use sqlparser::dialect::{Dialect, PostgreSqlDialect, Precedence};
use sqlparser::parser::{Parser, ParserError};

/// PostgreSQL as tusk parses it (see the module notes).
#[derive(Debug, Default, Clone, Copy)]
pub struct Pg;

/// The dialect every parse uses.
pub const PG: Pg = Pg;

const INNER: PostgreSqlDialect = PostgreSqlDialect {};

impl Dialect for Pg {
    fn dialect(&self) -> std::any::TypeId {
        INNER.dialect()
    }

    /// The rule left out (see the module notes).
    fn supports_named_fn_args_with_expr_name(&self) -> bool {
        false
    }

    // Everything else as sqlparser's PostgreSQL dialect answers it: the methods it
    // overrides, forwarded one by one (the others keep the trait's defaults, as there).
    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        INNER.identifier_quote_style(identifier)
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        INNER.is_delimited_identifier_start(ch)
    }
    fn is_identifier_start(&self, ch: char) -> bool {
        INNER.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        INNER.is_identifier_part(ch)
    }
    fn supports_unicode_string_literal(&self) -> bool {
        INNER.supports_unicode_string_literal()
    }
    fn is_custom_operator_part(&self, ch: char) -> bool {
        INNER.is_custom_operator_part(ch)
    }
    fn get_next_precedence(&self, parser: &Parser) -> Option<Result<u8, ParserError>> {
        INNER.get_next_precedence(parser)
    }
    fn supports_filter_during_aggregation(&self) -> bool {
        INNER.supports_filter_during_aggregation()
    }
    fn supports_group_by_expr(&self) -> bool {
        INNER.supports_group_by_expr()
    }
    fn prec_value(&self, prec: Precedence) -> u8 {
        INNER.prec_value(prec)
    }
    fn allow_extract_custom(&self) -> bool {
        INNER.allow_extract_custom()
    }
    fn allow_extract_single_quotes(&self) -> bool {
        INNER.allow_extract_single_quotes()
    }
    fn supports_create_index_with_clause(&self) -> bool {
        INNER.supports_create_index_with_clause()
    }
    fn supports_explain_with_utility_options(&self) -> bool {
        INNER.supports_explain_with_utility_options()
    }
    fn supports_listen_notify(&self) -> bool {
        INNER.supports_listen_notify()
    }
    fn supports_factorial_operator(&self) -> bool {
        INNER.supports_factorial_operator()
    }
    fn supports_comment_on(&self) -> bool {
        INNER.supports_comment_on()
    }
    fn supports_load_extension(&self) -> bool {
        INNER.supports_load_extension()
    }
    fn supports_named_fn_args_with_colon_operator(&self) -> bool {
        INNER.supports_named_fn_args_with_colon_operator()
    }
    fn supports_empty_projections(&self) -> bool {
        INNER.supports_empty_projections()
    }
    fn supports_nested_comments(&self) -> bool {
        INNER.supports_nested_comments()
    }
    fn supports_string_escape_constant(&self) -> bool {
        INNER.supports_string_escape_constant()
    }
    fn supports_numeric_literal_underscores(&self) -> bool {
        INNER.supports_numeric_literal_underscores()
    }
    fn supports_array_typedef_with_brackets(&self) -> bool {
        INNER.supports_array_typedef_with_brackets()
    }
    fn supports_geometric_types(&self) -> bool {
        INNER.supports_geometric_types()
    }
    fn supports_set_names(&self) -> bool {
        INNER.supports_set_names()
    }
    fn supports_alter_column_type_using(&self) -> bool {
        INNER.supports_alter_column_type_using()
    }
    fn supports_notnull_operator(&self) -> bool {
        INNER.supports_notnull_operator()
    }
    fn supports_interval_options(&self) -> bool {
        INNER.supports_interval_options()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn parse(sql: &str) -> Vec<sqlparser::ast::Statement> {
        Parser::parse_sql(&PG, sql).unwrap()
    }

    #[test]
    fn statements_parse_as_with_sqlparsers_postgresql_dialect() {
        for sql in [
            "SELECT f(a), x::int, 5 !, a -> 'k', b #>> '{a,b}'",
            "SELECT a FROM t WHERE b ~* 'x' AND c @> ARRAY[1] ORDER BY 1 LIMIT 2",
            "SELECT E'\\n', U&'d\\0061t', $$q$$, \"Quoted Name\", 1_000",
            "CREATE INDEX i ON t USING btree (a) WITH (fillfactor = 70)",
            "SELECT count(*) FILTER (WHERE a > 1), extract(epoch FROM now())",
            "SELECT a NOTNULL, b ISNULL FROM t /* nested /* comment */ */",
            "LISTEN ch; NOTIFY ch",
        ] {
            let ours = parse(sql);
            let theirs = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
            assert_eq!(ours, theirs, "{sql}");
        }
    }

    #[test]
    fn named_arguments_are_identifiers() {
        let [sqlparser::ast::Statement::Query(q)] = &parse("SELECT make_interval(days => 3)")[..]
        else {
            panic!("not one query");
        };
        let text = format!("{q:?}");
        assert!(
            text.contains("Named { name: Ident { value: \"days\""),
            "{text}"
        );
        assert_eq!(
            q.to_string(),
            "SELECT make_interval(days => 3)",
            "printed back as written"
        );
    }

    #[test]
    fn nested_calls_parse_in_linear_time() {
        // 26 levels took minutes with the expression-named rule (doubling per level).
        let sql = format!("SELECT {}1{}", "abs(".repeat(26), ")".repeat(26));
        let started = Instant::now();
        assert_eq!(parse(&sql).len(), 1);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
    }
}
