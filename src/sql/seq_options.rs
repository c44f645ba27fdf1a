//! `CREATE SEQUENCE` options in any order.
//!
//! PostgreSQL takes a sequence's options (`AS`, `INCREMENT`, `MINVALUE`, `MAXVALUE`,
//! `START`, `CACHE`, `CYCLE`, `OWNED BY`) in any order — pg_dump writes `START WITH`
//! before `INCREMENT BY` — while sqlparser reads them in one fixed order. This module
//! puts them in sqlparser's order before the statement is parsed.
//!
//! # How
//!
//! 1. The text is tokenized (strings, quoted names and comments stay whole); a
//!    statement that is not `CREATE [TEMP | TEMPORARY | UNLOGGED] SEQUENCE` is left
//!    alone.
//! 2. After `[IF NOT EXISTS] name`, each option starts at its keyword and runs to the
//!    next option's keyword.
//! 3. The options are sorted into sqlparser's order and the statement is written
//!    again from its tokens.
//!
//! A statement naming an option twice is left alone (the parser then refuses it) and
//! so is one already in order, which keeps its error positions.
//!
//! What it must never do: change a statement's meaning — only the order of whole
//! options changes.

use sqlparser::tokenizer::{Token, Tokenizer};

/// The statement with its sequence options in sqlparser's order, or `None` when it
/// needs no change.
pub fn reorder(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    if !lower.contains("sequence") {
        return None;
    }
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let tokens: Vec<Token> = Tokenizer::new(&dialect, text)
        .tokenize()
        .ok()?
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let word = |i: usize| match tokens.get(i) {
        Some(Token::Word(w)) if w.quote_style.is_none() => Some(w.value.to_ascii_lowercase()),
        _ => None,
    };
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
    while matches!(tokens.get(i), Some(Token::Period)) {
        i += 2;
    }
    let start = i;
    let end = tokens
        .iter()
        .rposition(|t| !matches!(t, Token::SemiColon | Token::EOF))
        .map_or(tokens.len(), |p| p + 1);
    // The options as (rank in sqlparser's order, token range).
    let mut options: Vec<(u8, usize, usize)> = Vec::new();
    while i < end {
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
        i += if word(i).as_deref() == Some("no") { 2 } else { 1 };
        while i < end && !starts_option(word(i).as_deref(), word(i + 1).as_deref()) {
            i += 1;
        }
        options.push((rank, first, i));
    }
    let mut sorted = options.clone();
    sorted.sort_by_key(|o| o.0);
    if sorted == options || sorted.windows(2).any(|w| w[0].0 == w[1].0) {
        return None;
    }
    let show = |from: usize, to: usize| -> Vec<String> {
        tokens[from..to].iter().map(|t| t.to_string()).collect()
    };
    let mut out = show(0, start);
    for (_, from, to) in sorted {
        out.extend(show(from, to));
    }
    Some(out.join(" "))
}

/// Whether the words at a position begin an option.
fn starts_option(w: Option<&str>, next: Option<&str>) -> bool {
    match w {
        Some("as" | "increment" | "minvalue" | "maxvalue" | "start" | "cache" | "cycle" | "owned") => {
            true
        }
        Some("no") => matches!(next, Some("minvalue" | "maxvalue" | "cycle")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::reorder;

    #[test]
    fn options_in_pg_dumps_order_are_reordered() {
        let t = "CREATE SEQUENCE app.s\n    START WITH 100\n    INCREMENT BY -5\n    NO MINVALUE\n    NO MAXVALUE\n    CACHE 1;";
        assert_eq!(
            reorder(t).as_deref(),
            Some("CREATE SEQUENCE app . s INCREMENT BY - 5 NO MINVALUE NO MAXVALUE START WITH 100 CACHE 1")
        );
        assert_eq!(
            reorder("create sequence \"S\" owned by t.a as bigint").as_deref(),
            Some("create sequence \"S\" as bigint owned by t . a")
        );
    }

    #[test]
    fn statements_in_order_or_not_sequences_stay() {
        assert_eq!(reorder("CREATE SEQUENCE s INCREMENT 5 START 100"), None);
        assert_eq!(reorder("SELECT 'sequence' START"), None);
        // An option named twice is left for the parser to refuse.
        assert_eq!(reorder("CREATE SEQUENCE s START 1 INCREMENT 2 START 3"), None);
    }
}
