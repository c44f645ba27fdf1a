//! Which `log_statement` class a query string belongs to: `ddl`, `mod` or only `all`,
//! as PostgreSQL's `GetCommandLogLevel` classifies parse trees.
//!
//! The server logs a query string (`LOG:  statement: …`) when any statement in it is
//! of a class the setting covers: `ddl` logs data definition (CREATE, ALTER, DROP,
//! GRANT, REVOKE, COMMENT, SECURITY LABEL, REFRESH, REASSIGN OWNED, IMPORT FOREIGN
//! SCHEMA, SELECT … INTO), `mod` adds data modification (INSERT, UPDATE, DELETE,
//! MERGE, TRUNCATE, COPY … FROM, a WITH query holding one of them, EXPLAIN ANALYZE of
//! one, PREPARE of one), `all` logs everything.
//!
//! The classification works on tokens, not on the planner's statements, so it runs
//! before execution (PostgreSQL logs a statement before running it) and for statements
//! that fail to parse (PostgreSQL then logs them under `all` only, as here: what is not
//! recognised is `All`). Known difference: PostgreSQL classifies `EXECUTE name` by the
//! prepared statement it runs; here it is `All`.
//!
//! What this module must never do: fail (any input gets a class) or look beyond the
//! tokens (no catalog, no session state).

use crate::sql::dialect::PG;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer};

/// A statement's `log_statement` class, ordered as the setting's levels: a statement
/// is logged when its class is at most the setting (`ddl` < `mod` < `all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogClass {
    /// Data definition.
    Ddl,
    /// Data modification.
    Mod,
    /// Anything else.
    All,
}

/// The most loggable class among the statements of `sql`.
pub fn classify(sql: &str) -> LogClass {
    let Ok(tokens) = Tokenizer::new(&PG, sql).tokenize() else {
        return LogClass::All;
    };
    let words: Vec<Token> = tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    words
        .split(|t| matches!(t, Token::SemiColon))
        .map(statement_class)
        .min()
        .unwrap_or(LogClass::All)
}

fn keyword(t: &Token) -> Option<Keyword> {
    match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.keyword),
        _ => None,
    }
}

/// Whether `kw` appears outside parentheses in `toks`.
fn at_top_level(toks: &[Token], kw: Keyword) -> bool {
    let mut depth = 0i32;
    for t in toks {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            t if depth == 0 && keyword(t) == Some(kw) => return true,
            _ => {}
        }
    }
    false
}

fn statement_class(toks: &[Token]) -> LogClass {
    let Some(first) = toks.first().and_then(keyword) else {
        // `(SELECT …)`, an empty statement, or something unparsable.
        return LogClass::All;
    };
    match first {
        Keyword::CREATE
        | Keyword::ALTER
        | Keyword::DROP
        | Keyword::GRANT
        | Keyword::REVOKE
        | Keyword::COMMENT
        | Keyword::SECURITY
        | Keyword::IMPORT => LogClass::Ddl,
        _ if is_word(&toks[0], "reassign") || is_word(&toks[0], "refresh") => LogClass::Ddl,
        Keyword::INSERT
        | Keyword::UPDATE
        | Keyword::DELETE
        | Keyword::MERGE
        | Keyword::TRUNCATE => LogClass::Mod,
        Keyword::COPY => {
            if at_top_level(toks, Keyword::FROM) {
                LogClass::Mod
            } else {
                LogClass::All
            }
        }
        Keyword::SELECT => {
            if at_top_level(toks, Keyword::INTO) {
                LogClass::Ddl
            } else {
                LogClass::All
            }
        }
        Keyword::WITH => {
            let modifies = toks.iter().any(|t| {
                matches!(
                    keyword(t),
                    Some(Keyword::INSERT | Keyword::UPDATE | Keyword::DELETE | Keyword::MERGE)
                )
            });
            if modifies {
                LogClass::Mod
            } else {
                LogClass::All
            }
        }
        Keyword::EXPLAIN => explain_class(&toks[1..]),
        Keyword::PREPARE => match toks.iter().position(|t| keyword(t) == Some(Keyword::AS)) {
            Some(i) => statement_class(&toks[i + 1..]),
            None => LogClass::All,
        },
        _ => LogClass::All,
    }
}

fn is_word(t: &Token, w: &str) -> bool {
    matches!(t, Token::Word(word) if word.quote_style.is_none() && word.value.eq_ignore_ascii_case(w))
}

/// EXPLAIN is classified by its statement only when it runs it (ANALYZE), as in
/// PostgreSQL.
fn explain_class(toks: &[Token]) -> LogClass {
    let (analyze, rest) = match toks.first() {
        Some(Token::LParen) => {
            let close = toks
                .iter()
                .position(|t| matches!(t, Token::RParen))
                .unwrap_or(toks.len());
            let opts = &toks[..close];
            let mut analyze = false;
            for (i, t) in opts.iter().enumerate() {
                if keyword(t) == Some(Keyword::ANALYZE) {
                    // `ANALYZE false` / `ANALYZE off` turn it off again.
                    analyze = !matches!(
                        opts.get(i + 1),
                        Some(t) if keyword(t) == Some(Keyword::FALSE) || is_word(t, "off") || matches!(t, Token::Number(n, _) if n == "0")
                    );
                }
            }
            (analyze, &toks[(close + 1).min(toks.len())..])
        }
        Some(t) if keyword(t) == Some(Keyword::ANALYZE) => {
            let mut rest = &toks[1..];
            if rest.first().and_then(keyword) == Some(Keyword::VERBOSE) {
                rest = &rest[1..];
            }
            (true, rest)
        }
        _ => (false, toks),
    };
    if analyze {
        statement_class(rest)
    } else {
        LogClass::All
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_postgresql() {
        for (sql, want) in [
            ("create table t (a int)", LogClass::Ddl),
            ("ALTER TABLE t ADD b int", LogClass::Ddl),
            ("drop index i", LogClass::Ddl),
            ("grant select on t to r", LogClass::Ddl),
            ("reassign owned by a to b", LogClass::Ddl),
            ("select * into t2 from t", LogClass::Ddl),
            ("insert into t values (1)", LogClass::Mod),
            ("update t set a = 1", LogClass::Mod),
            ("delete from t", LogClass::Mod),
            ("truncate t", LogClass::Mod),
            ("copy t from stdin", LogClass::Mod),
            ("copy t to stdout", LogClass::All),
            ("copy (select 1) to stdout", LogClass::All),
            (
                "with x as (delete from t returning *) select * from x",
                LogClass::Mod,
            ),
            ("with x as (select 1) select * from x", LogClass::All),
            ("explain analyze insert into t values (1)", LogClass::Mod),
            (
                "explain (analyze, costs off) update t set a = 2",
                LogClass::Mod,
            ),
            ("explain (analyze false) update t set a = 2", LogClass::All),
            ("explain insert into t values (1)", LogClass::All),
            ("prepare p as insert into t values ($1)", LogClass::Mod),
            ("prepare p as select 1", LogClass::All),
            ("select 1", LogClass::All),
            ("select insert_it()", LogClass::All),
            ("begin", LogClass::All),
            ("", LogClass::All),
            ("'unterminated", LogClass::All),
            // A query string is as loggable as its most loggable statement.
            (
                "select 1; insert into t values (2); select 3",
                LogClass::Mod,
            ),
            (
                "insert into t values (1); create table u (a int)",
                LogClass::Ddl,
            ),
        ] {
            assert_eq!(classify(sql), want, "{sql}");
        }
    }
}
