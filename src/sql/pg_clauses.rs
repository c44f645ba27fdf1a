//! PostgreSQL clauses sqlparser does not parse, blanked out of the statement text
//! before it is parsed and carried to the planner on the side.
//!
//! # What it owns
//! * `FOR NO KEY UPDATE` and `FOR KEY SHARE`: tusk's row locks have two strengths, so
//!   these take the next stronger one (`FOR UPDATE`, `FOR SHARE`): a caller may wait
//!   where PostgreSQL would not, never the reverse, and every guarantee holds.
//! * `INSERT … OVERRIDING SYSTEM VALUE | OVERRIDING USER VALUE`: removed from the text
//!   and recorded as [`Overriding`], which the planner reads (an explicit value for a
//!   GENERATED ALWAYS identity column is then accepted, or every identity column takes
//!   its default).
//! * `ON CONFLICT (lower(email)) …`, `ON CONFLICT (name) WHERE deleted_at IS NULL …`:
//!   inference specifications naming an index on expressions or a partial index;
//!   removed (leaving `ON CONFLICT DO …`) and recorded ([`Clauses::conflict_target`]),
//!   for the planner to match against the table's unique indexes.
//! * `DROP INDEX CONCURRENTLY`: removed and recorded ([`Clauses::drop_concurrently`]);
//!   the index is dropped as without it, and the session refuses it inside a
//!   transaction block as PostgreSQL does.
//! * `ONLY` before a relation name (`FROM ONLY t`, `JOIN ONLY`, `UPDATE ONLY`,
//!   `DELETE FROM ONLY`, `TRUNCATE ONLY`, as pg_dump writes them): removed; tusk has no inheritance,
//!   so a relation never has descendants to leave out.
//! * `OPERATOR(pg_catalog.op)` before `ANY`/`ALL`/`SOME` (pg_dump's `c.relkind
//!   OPERATOR(pg_catalog.=) ANY (…)`): the built-in operator written bare, which
//!   sqlparser reads there.
//!
//! # Invariants
//! Words are found as tokens (never inside strings, quoted names or comments) and
//! replaced by as many spaces as they took, so error positions computed on the
//! parsed text are positions in what the client sent.

use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};
use std::borrow::Cow;

/// `OVERRIDING … VALUE` of an INSERT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overriding {
    /// OVERRIDING SYSTEM VALUE: explicit values win over GENERATED ALWAYS.
    System,
    /// OVERRIDING USER VALUE: identity columns take their defaults.
    User,
}

/// What [`rewrite`] found besides what it blanked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Clauses {
    /// `OVERRIDING … VALUE`.
    pub overriding: Option<Overriding>,
    /// `DROP INDEX CONCURRENTLY`.
    pub drop_concurrently: bool,
    /// An `ON CONFLICT` inference specification sqlparser cannot parse (one with an
    /// index expression, or with a `WHERE` predicate naming a partial index).
    pub conflict_target: Option<ConflictTarget>,
}

/// An `ON CONFLICT ( … ) [WHERE …]` inference specification, as SQL text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictTarget {
    /// The elements between the parentheses (columns or expressions).
    pub elements: String,
    /// The predicate after WHERE, if any.
    pub predicate: Option<String>,
}

/// The text with the clauses blanked out, and the OVERRIDING clause found.
pub fn rewrite(text: &str) -> (Cow<'_, str>, Option<Overriding>) {
    let (t, c) = rewrite_all(text);
    (t, c.overriding)
}

/// The text with the clauses blanked out, and what they said.
pub fn rewrite_all(text: &str) -> (Cow<'_, str>, Clauses) {
    let lower = text.to_ascii_lowercase();
    if !lower.contains("overriding")
        && !lower.contains("key")
        && !lower.contains("concurrently")
        && !lower.contains("conflict")
        && !lower.contains("only")
        && !lower.contains("operator")
    {
        return (Cow::Borrowed(text), Clauses::default());
    }
    let dialect = crate::sql::dialect::PG;
    let Ok(tokens) = Tokenizer::new(&dialect, text).tokenize_with_location() else {
        return (Cow::Borrowed(text), Clauses::default());
    };
    // The significant tokens with their index in `tokens`.
    let words: Vec<(usize, Option<String>)> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| !matches!(t.token, Token::Whitespace(_)))
        .map(|(i, t)| {
            let w = match &t.token {
                Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_lowercase()),
                _ => None,
            };
            (i, w)
        })
        .collect();
    let is = |k: usize, s: &str| words.get(k).and_then(|(_, w)| w.as_deref()) == Some(s);
    let mut blank: Vec<usize> = Vec::new(); // token indexes to blank
                                            // Token ranges written again as one operator symbol, padded with spaces.
    let mut bare_ops: Vec<(usize, usize, String)> = Vec::new();
    let tok = |k: usize| words.get(k).map(|(i, _)| &tokens[*i].token);
    let mut overriding = None;
    let mut drop_concurrently = false;
    let mut conflict_target = None;
    let starts = line_starts(text);
    for k in 0..words.len() {
        let paren = words
            .get(k + 2)
            .is_some_and(|(i, _)| tokens[*i].token == Token::LParen);
        if is(k, "on") && is(k + 1, "conflict") && paren {
            if let Some((target, span)) = conflict_target_at(text, &starts, &tokens, &words, k + 2)
            {
                conflict_target = Some(target);
                blank.extend(span);
            }
            continue;
        }
        if is(k, "for") && is(k + 1, "no") && is(k + 2, "key") && is(k + 3, "update") {
            blank.extend([words[k + 1].0, words[k + 2].0]);
        } else if k == 0 && is(0, "drop") && is(1, "index") && is(2, "concurrently") {
            drop_concurrently = true;
            blank.push(words[2].0);
        } else if is(k, "only")
            && k > 0
            && (is(k - 1, "from")
                || is(k - 1, "join")
                || is(k - 1, "update")
                || is(k - 1, "truncate")
                || matches!(tok(k - 1), Some(Token::Comma)))
            && matches!(tok(k + 1), Some(Token::Word(_)))
        {
            blank.push(words[k].0);
        } else if is(k, "operator")
            && matches!(tok(k + 1), Some(Token::LParen))
            && is(k + 2, "pg_catalog")
            && matches!(tok(k + 3), Some(Token::Period))
            && matches!(tok(k + 5), Some(Token::RParen))
            && (is(k + 6, "any") || is(k + 6, "all") || is(k + 6, "some"))
        {
            let op = tok(k + 4).map(|t| t.to_string()).unwrap_or_default();
            if matches!(
                op.as_str(),
                "=" | "<>" | "!=" | "<" | ">" | "<=" | ">=" | "~" | "!~" | "~*" | "!~*"
            ) {
                bare_ops.push((words[k].0, words[k + 5].0, op));
            }
        } else if is(k, "for") && is(k + 1, "key") && is(k + 2, "share") {
            blank.push(words[k + 1].0);
        } else if is(k, "overriding")
            && (is(k + 1, "system") || is(k + 1, "user"))
            && is(k + 2, "value")
        {
            overriding = Some(if is(k + 1, "system") {
                Overriding::System
            } else {
                Overriding::User
            });
            blank.extend([words[k].0, words[k + 1].0, words[k + 2].0]);
        }
    }
    let found = Clauses {
        overriding,
        drop_concurrently,
        conflict_target,
    };
    if blank.is_empty() && bare_ops.is_empty() {
        return (Cow::Borrowed(text), found);
    }
    let mut out = text.to_string();
    for i in blank {
        if let Some((a, b)) = byte_range(text, &starts, &tokens[i]) {
            out.replace_range(a..b, &" ".repeat(b - a));
        }
    }
    for (first, last, op) in bare_ops {
        if let (Some((a, _)), Some((_, b))) = (
            byte_range(text, &starts, &tokens[first]),
            byte_range(text, &starts, &tokens[last]),
        ) {
            out.replace_range(a..b, &format!("{op:<width$}", width = b - a));
        }
    }
    (Cow::Owned(out), found)
}

/// The inference specification starting at the parenthesis `words[open]`, when
/// sqlparser cannot parse it (anything but a list of column names, or a WHERE after
/// it), with the tokens to blank (all of it: `ON CONFLICT DO …` remains).
fn conflict_target_at(
    text: &str,
    starts: &[usize],
    tokens: &[TokenWithSpan],
    words: &[(usize, Option<String>)],
    open: usize,
) -> Option<(ConflictTarget, Vec<usize>)> {
    let mut depth = 0;
    let mut close = None;
    for (k, (i, _)) in words.iter().enumerate().skip(open) {
        match tokens[*i].token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    close = Some(k);
                    break;
                }
            }
            _ => {}
        }
    }
    let close = close?;
    let plain = words[open + 1..close]
        .iter()
        .all(|(i, _)| matches!(tokens[*i].token, Token::Word(_) | Token::Comma));
    let has_where = words.get(close + 1).and_then(|(_, w)| w.as_deref()) == Some("where");
    if plain && !has_where {
        return None;
    }
    // The predicate runs to DO at depth 0.
    let mut end = close;
    if has_where {
        let mut depth = 0;
        let mut k = close + 2;
        loop {
            let (i, w) = words.get(k)?;
            match tokens[*i].token {
                Token::LParen => depth += 1,
                Token::RParen => depth -= 1,
                _ => {}
            }
            if depth == 0 && w.as_deref() == Some("do") {
                break;
            }
            k += 1;
        }
        end = k - 1;
    }
    let range = |a: usize, b: usize| -> Option<String> {
        let (x, _) = byte_range(text, starts, &tokens[words[a].0])?;
        let (_, y) = byte_range(text, starts, &tokens[words[b].0])?;
        Some(text[x..y].to_string())
    };
    let elements = if close > open + 1 {
        range(open + 1, close - 1)?
    } else {
        String::new()
    };
    let predicate = if has_where {
        Some(range(close + 2, end)?)
    } else {
        None
    };
    let span = (words[open].0..=words[end].0).collect();
    Some((
        ConflictTarget {
            elements,
            predicate,
        },
        span,
    ))
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// The byte range of a token from its 1-based line and character column.
fn byte_range(text: &str, starts: &[usize], t: &TokenWithSpan) -> Option<(usize, usize)> {
    let at = |line: u64, col: u64| -> Option<usize> {
        let start = *starts.get(usize::try_from(line).ok()?.checked_sub(1)?)?;
        let skip = usize::try_from(col).ok()?.checked_sub(1)?;
        let rest = &text[start..];
        Some(start + rest.char_indices().nth(skip).map_or(rest.len(), |(i, _)| i))
    };
    let a = at(t.span.start.line, t.span.start.column)?;
    let b = at(t.span.end.line, t.span.end.column)?;
    (a < b && b <= text.len()).then_some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_targets_sqlparser_cannot_read() {
        let q = "INSERT INTO t VALUES (1) ON CONFLICT (lower(e), b) WHERE d IS NULL DO NOTHING";
        let (t, c) = rewrite_all(q);
        let target = "(lower(e), b) WHERE d IS NULL";
        assert_eq!(t, q.replace(target, &" ".repeat(target.len())));
        assert_eq!(
            c.conflict_target,
            Some(ConflictTarget {
                elements: "lower(e), b".into(),
                predicate: Some("d IS NULL".into()),
            })
        );
        // A list of columns is sqlparser's.
        let q = "insert into t values (1) on conflict (a, b) do nothing";
        assert_eq!(rewrite_all(q), (Cow::Borrowed(q), Clauses::default()));
    }

    #[test]
    fn blanks_the_clauses_in_place() {
        let (t, o) = rewrite("SELECT * FROM t FOR NO KEY UPDATE");
        assert_eq!(t, "SELECT * FROM t FOR        UPDATE");
        assert_eq!(o, None);
        let (t, _) = rewrite("select 1 for key share of t nowait");
        assert_eq!(t, "select 1 for     share of t nowait");
        let (t, o) = rewrite("INSERT INTO t (id) OVERRIDING SYSTEM VALUE VALUES (1)");
        assert_eq!(t, "INSERT INTO t (id)                         VALUES (1)");
        assert_eq!(o, Some(Overriding::System));
        let (_, o) = rewrite("insert into t overriding user value select 1");
        assert_eq!(o, Some(Overriding::User));
    }

    #[test]
    fn drop_index_concurrently() {
        let (t, c) = rewrite_all("DROP INDEX CONCURRENTLY IF EXISTS i");
        assert_eq!(t, "DROP INDEX              IF EXISTS i");
        assert!(c.drop_concurrently);
        assert!(!rewrite_all("DROP INDEX i").1.drop_concurrently);
    }

    #[test]
    fn only_and_qualified_operators_before_any() {
        let (t, _) = rewrite_all("SELECT a FROM ONLY \"S\".t JOIN only u ON true, ONLY v");
        assert_eq!(t, "SELECT a FROM      \"S\".t JOIN      u ON true,      v");
        let (t, _) = rewrite_all("UPDATE ONLY t SET a = 1");
        assert_eq!(t, "UPDATE      t SET a = 1");
        let (t, _) = rewrite_all("ALTER TABLE ONLY t ADD PRIMARY KEY (a)");
        assert_eq!(t, "ALTER TABLE ONLY t ADD PRIMARY KEY (a)");
        let (t, _) = rewrite_all("SELECT k OPERATOR(pg_catalog.=) ANY (ARRAY['r'])");
        assert_eq!(t, "SELECT k =                      ANY (ARRAY['r'])");
        let q = "SELECT n OPERATOR(pg_catalog.~) '^(x)$'";
        assert_eq!(rewrite_all(q).0, q);
    }

    #[test]
    fn leaves_strings_and_names_alone() {
        let q = "SELECT 'for no key update', \"overriding\" FROM t";
        assert_eq!(rewrite(q).0, q);
        let q = "SELECT key FROM t";
        assert_eq!(rewrite(q).0, q);
    }
}
