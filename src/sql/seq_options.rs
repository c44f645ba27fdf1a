//! Sequence options in any order.
//!
//! PostgreSQL takes a sequence's options (`AS`, `INCREMENT`, `MINVALUE`, `MAXVALUE`,
//! `START`, `CACHE`, `CYCLE`, `OWNED BY`) in any order — pg_dump writes `START WITH`
//! before `INCREMENT BY` — in `CREATE SEQUENCE` and in an identity column's
//! `GENERATED … AS IDENTITY (…)`, while sqlparser reads them in one fixed order. This
//! module puts them in sqlparser's order before the statement is parsed.
//!
//! # How
//!
//! 1. The text is tokenized (strings, quoted names and comments stay whole).
//! 2. The option lists are found: what follows `CREATE [TEMP | TEMPORARY | UNLOGGED]
//!    SEQUENCE [IF NOT EXISTS] name`, and what is between the parentheses after
//!    `IDENTITY`. Each option starts at its keyword and runs to the next option's.
//! 3. A list out of order is sorted into sqlparser's order, and only its text is
//!    replaced in the statement; everything else stays as the client sent it.
//!
//! A list naming an option twice, or holding one this module does not know
//! (`SEQUENCE NAME`), is left alone for the parser to judge.
//!
//! What it must never do: change a statement's meaning — only the order of whole
//! options changes.

use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

/// The statement with its sequence options in sqlparser's order, or `None` when it
/// needs no change.
pub fn reorder(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    if !lower.contains("sequence") && !lower.contains("identity") {
        return None;
    }
    let dialect = crate::sql::dialect::PG;
    let tokens: Vec<TokenWithSpan> = Tokenizer::new(&dialect, text)
        .tokenize_with_location()
        .ok()?
        .into_iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let word = |i: usize| match tokens.get(i).map(|t| &t.token) {
        Some(Token::Word(w)) if w.quote_style.is_none() => Some(w.value.to_ascii_lowercase()),
        _ => None,
    };
    // The option lists as token ranges.
    let mut lists: Vec<(usize, usize)> = Vec::new();
    if let Some(start) = create_sequence_options(&word, &tokens) {
        let end = tokens
            .iter()
            .rposition(|t| !matches!(t.token, Token::SemiColon | Token::EOF))
            .map_or(tokens.len(), |p| p + 1);
        lists.push((start, end));
    }
    for i in 0..tokens.len() {
        if word(i).as_deref() == Some("identity")
            && matches!(tokens.get(i + 1).map(|t| &t.token), Some(Token::LParen))
        {
            let close =
                (i + 2..tokens.len()).find(|&j| matches!(tokens[j].token, Token::RParen))?;
            lists.push((i + 2, close));
        }
    }
    let starts = line_starts(text);
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (from, to) in lists {
        if let Some(new) = sorted_list(&word, &tokens, from, to) {
            let a = byte_at(text, &starts, &tokens[from], true)?;
            let b = byte_at(text, &starts, &tokens[to - 1], false)?;
            edits.push((a, b, new));
        }
    }
    if edits.is_empty() {
        return None;
    }
    let mut out = text.to_string();
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    for (a, b, new) in edits {
        out.replace_range(a..b, &new);
    }
    Some(out)
}

/// Where the options of a `CREATE SEQUENCE` begin, if the statement is one.
fn create_sequence_options(
    word: &dyn Fn(usize) -> Option<String>,
    tokens: &[TokenWithSpan],
) -> Option<usize> {
    let mut i = 0;
    if word(i)? != "create" {
        return None;
    }
    i += 1;
    if matches!(word(i).as_deref(), Some("temp" | "temporary" | "unlogged")) {
        i += 1;
    }
    if word(i)? != "sequence" {
        return None;
    }
    i += 1;
    if word(i).as_deref() == Some("if") {
        i += 3;
    }
    // The name: word (. word)*.
    i += 1;
    while matches!(tokens.get(i).map(|t| &t.token), Some(Token::Period)) {
        i += 2;
    }
    Some(i)
}

/// The options between tokens `from` and `to` in sqlparser's order, as text; `None`
/// when they are in order already, or cannot be sorted (see the module comment).
fn sorted_list(
    word: &dyn Fn(usize) -> Option<String>,
    tokens: &[TokenWithSpan],
    from: usize,
    to: usize,
) -> Option<String> {
    let mut options: Vec<(u8, usize, usize)> = Vec::new();
    let mut i = from;
    while i < to {
        let rank = match (word(i).as_deref(), word(i + 1).as_deref()) {
            (Some("as"), _) => 0,
            (Some("increment"), _) => 1,
            (Some("minvalue"), _) | (Some("no"), Some("minvalue")) => 2,
            (Some("maxvalue"), _) | (Some("no"), Some("maxvalue")) => 3,
            (Some("start"), _) => 4,
            (Some("cache"), _) => 5,
            (Some("cycle"), _) | (Some("no"), Some("cycle")) => 6,
            (Some("owned"), _) => 7,
            _ => return None,
        };
        let first = i;
        i += if word(i).as_deref() == Some("no") {
            2
        } else {
            1
        };
        while i < to && !starts_option(word(i).as_deref(), word(i + 1).as_deref()) {
            i += 1;
        }
        options.push((rank, first, i));
    }
    let mut sorted = options.clone();
    sorted.sort_by_key(|o| o.0);
    if sorted == options || sorted.windows(2).any(|w| w[0].0 == w[1].0) {
        return None;
    }
    let pieces: Vec<String> = sorted
        .iter()
        .flat_map(|&(_, a, b)| tokens[a..b].iter().map(|t| t.token.to_string()))
        .collect();
    Some(pieces.join(" "))
}

/// Whether the words at a position begin an option.
fn starts_option(w: Option<&str>, next: Option<&str>) -> bool {
    match w {
        Some(
            "as" | "increment" | "minvalue" | "maxvalue" | "start" | "cache" | "cycle" | "owned",
        ) => true,
        Some("no") => matches!(next, Some("minvalue" | "maxvalue" | "cycle")),
        _ => false,
    }
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// The byte offset of a token's start (or end) from its 1-based line and character
/// column.
fn byte_at(text: &str, starts: &[usize], t: &TokenWithSpan, start: bool) -> Option<usize> {
    let loc = if start { t.span.start } else { t.span.end };
    let line = *starts.get(usize::try_from(loc.line).ok()?.checked_sub(1)?)?;
    let skip = usize::try_from(loc.column).ok()?.checked_sub(1)?;
    let rest = &text[line..];
    Some(line + rest.char_indices().nth(skip).map_or(rest.len(), |(i, _)| i))
}

#[cfg(test)]
mod tests {
    use super::reorder;

    #[test]
    fn options_in_pg_dumps_order_are_reordered() {
        let t = "CREATE SEQUENCE app.s\n    START WITH 100\n    INCREMENT BY -5\n    NO MINVALUE\n    NO MAXVALUE\n    CACHE 1;";
        assert_eq!(
            reorder(t).as_deref(),
            Some("CREATE SEQUENCE app.s\n    INCREMENT BY - 5 NO MINVALUE NO MAXVALUE START WITH 100 CACHE 1;")
        );
        assert_eq!(
            reorder("create sequence \"S\" owned by t.a as bigint").as_deref(),
            Some("create sequence \"S\" as bigint owned by t . a")
        );
        assert_eq!(
            reorder("CREATE TABLE t (n int GENERATED BY DEFAULT AS IDENTITY (START 10 INCREMENT 10), s text DEFAULT 'start')").as_deref(),
            Some("CREATE TABLE t (n int GENERATED BY DEFAULT AS IDENTITY (INCREMENT 10 START 10), s text DEFAULT 'start')")
        );
    }

    #[test]
    fn statements_in_order_or_not_sequences_stay() {
        assert_eq!(reorder("CREATE SEQUENCE s INCREMENT 5 START 100"), None);
        assert_eq!(reorder("SELECT 'sequence' START"), None);
        // An option named twice is left for the parser to refuse.
        assert_eq!(
            reorder("CREATE SEQUENCE s START 1 INCREMENT 2 START 3"),
            None
        );
        assert_eq!(
            reorder("CREATE TABLE t (n int GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME q START 1 INCREMENT 2))"),
            None
        );
    }
}
