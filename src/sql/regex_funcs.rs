//! PostgreSQL's regular expressions: the `~ ~* !~ !~*` operators, `SIMILAR TO`,
//! `substring(x FROM pattern)`, and the `regexp_*` functions (`regexp_match`,
//! `regexp_matches`, `regexp_replace`, `regexp_split_to_array`,
//! `regexp_split_to_table`, `regexp_like`, `regexp_count`).
//!
//! What this module owns:
//! - [`RegexFn`], its name table ([`lookup`]), argument types ([`arg_type`]) and
//!   evaluation ([`call`]); the binding of the regex operators ([`bind_operator`]) and
//!   of `SIMILAR TO` ([`bind_similar`]);
//! - the rows of `regexp_matches` and `regexp_split_to_table` in FROM ([`RowsCall`],
//!   [`run_rows`]);
//! - the translation of PostgreSQL's ARE ("advanced regular expression") syntax into the
//!   `regex` crate's syntax ([`translate`]), and a small per-thread cache of compiled
//!   patterns.
//!
//! Invariants — where the two flavours differ, this module either maps faithfully or
//! refuses with 0A000, never guesses:
//! - PostgreSQL's `.` and `[^…]` match a newline unless the `n` flag is given; `^`/`$`
//!   anchor the whole string. The translation adds `(?s)` (or `(?m)` and `\n`-free
//!   negated classes with `n`).
//! - PostgreSQL's escapes `\y \Y \m \M \Z \b \e` are rewritten (`\b` is a backspace
//!   there); back references, lookaround, collating elements and the `x`, `b`, `e`,
//!   `p`, `w` options are refused with 0A000.
//! - PostgreSQL matches leftmost-*longest* (or shortest, for a non-greedy pattern)
//!   where the `regex` crate matches leftmost-*first*. Whenever a function extracts
//!   text (not for a plain yes/no match), the match found is checked against a DFA
//!   search with all-matches semantics; if the longest (shortest) match at that start
//!   ends elsewhere, the call fails with 0A000 instead of returning a different
//!   answer. Patterns mixing greedy and non-greedy quantifiers are refused for the
//!   same reason.
//!
//! What it must never do: panic on a pattern (every compile error is PostgreSQL's
//! 2201B `invalid regular expression: …`), or grow without bound (patterns over the
//! `regex` crate's size limit fail with 2201B too).
//!
//! One call's trip, `SELECT regexp_replace(s, 'o+', '0', 'g') FROM t`:
//! 1. the binder asks `functions::lookup`, which asks [`lookup`]: `RegexFn::Replace`,
//!    text;
//! 2. per row, [`call`] parses the flags, fetches the compiled pattern from the cache
//!    (translating and compiling it on first use), walks the matches, checks each
//!    against the longest-match DFA, and splices in the replacement.

use super::expr::{Expr, Func};
use super::plan::{Binder, Coercion, Scope};
use super::ExecCtx;
use crate::error::{sqlstate, Error, Result};
use crate::sql::depth::Spanned;
use crate::types::{DataType, Value};
use crate::{bail, err};
use regex_automata::hybrid::dfa::{Cache as DfaCache, DFA};
use regex_automata::{Anchored, Input, MatchKind};
use sqlparser::ast;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// A regular-expression function or operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegexFn {
    /// `~` (`~*` when `icase`; `!~`, `!~*` when `negate`).
    Match {
        /// Case-insensitive (`~*`).
        icase: bool,
        /// Negated (`!~`).
        negate: bool,
    },
    /// `SIMILAR TO` after translation to a regex (negated for `NOT SIMILAR TO`).
    Similar(bool),
    /// `substring(text FROM pattern)`.
    Substring,
    /// `regexp_match(text, pattern [, flags])`.
    RegexpMatch,
    /// `regexp_matches` in the select list (refused: a set-returning function).
    RegexpMatchesScalar,
    /// `regexp_replace(text, pattern, replacement [, flags])`.
    Replace,
    /// `regexp_split_to_array(text, pattern [, flags])`.
    SplitToArray,
    /// `regexp_like(text, pattern [, flags])`.
    Like,
    /// `regexp_count(text, pattern [, start [, flags]])`.
    Count,
}

/// Resolves a function name and argument types to one of this module's functions.
pub fn lookup(name: &str, types: &[DataType]) -> Option<(RegexFn, DataType)> {
    let stringish = |t: &DataType| *t == DataType::Unknown || t.is_string();
    Some(match (name, types.len()) {
        ("substring", 2) if stringish(&types[1]) => (RegexFn::Substring, DataType::Text),
        ("regexp_match", 2 | 3) => (RegexFn::RegexpMatch, DataType::TextArray),
        ("regexp_matches", 2 | 3) => (RegexFn::RegexpMatchesScalar, DataType::TextArray),
        ("regexp_replace", 3 | 4) => (RegexFn::Replace, DataType::Text),
        ("regexp_split_to_array", 2 | 3) => (RegexFn::SplitToArray, DataType::TextArray),
        ("regexp_like", 2 | 3) => (RegexFn::Like, DataType::Bool),
        ("regexp_count", 2..=4) => (RegexFn::Count, DataType::Int4),
        _ => return None,
    })
}

/// The type each argument is coerced to.
pub fn arg_type(f: RegexFn, i: usize) -> Option<DataType> {
    Some(match (f, i) {
        (RegexFn::Count, 2) => DataType::Int4,
        _ => DataType::Text,
    })
}

/// The parsed option letters of a call (PostgreSQL's `parse_re_flags`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
struct Flags {
    icase: bool,
    newline: bool,
    literal: bool,
    global: bool,
}

/// Parses PostgreSQL's option letters; `g` only where `allow_global`.
fn parse_flags(s: &str, allow_global: Option<&str>) -> Result<Flags> {
    let mut f = Flags::default();
    for c in s.chars() {
        match c {
            'g' if allow_global.is_none() => f.global = true,
            'g' => {
                let e = err!(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "{}() does not support the \"global\" option",
                    allow_global.unwrap_or_default()
                );
                return Err(if allow_global == Some("regexp_match") {
                    e.with_hint("Use the regexp_matches function instead.")
                } else {
                    e
                });
            }
            'i' => f.icase = true,
            'c' => f.icase = false,
            'n' | 'm' => f.newline = true,
            's' => f.newline = false,
            'q' => f.literal = true,
            't' => {}
            'b' | 'e' | 'p' | 'w' | 'x' => bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "regular expression option \"{c}\" is not supported"
            ),
            other => bail!(
                sqlstate::INVALID_PARAMETER_VALUE,
                "invalid regular expression option: \"{other}\""
            ),
        }
    }
    Ok(f)
}

fn invalid(msg: &str) -> Error {
    err!(
        sqlstate::INVALID_REGULAR_EXPRESSION,
        "invalid regular expression: {msg}"
    )
}

fn unsupported(what: &str) -> Error {
    err!(
        sqlstate::FEATURE_NOT_SUPPORTED,
        "{what} in regular expressions is not supported"
    )
}

/// Which kinds of quantifier a pattern uses (for PostgreSQL's match preference).
#[derive(Debug, Clone, Copy, Default)]
struct Quantifiers {
    greedy: bool,
    lazy: bool,
}

/// Translates a PostgreSQL ARE into the `regex` crate's syntax under `flags` (and any
/// leading `***=`, `***:` or `(?letters)` the pattern itself carries).
fn translate(pat: &str, mut flags: Flags) -> Result<(String, Quantifiers)> {
    let mut p = pat;
    if let Some(rest) = p.strip_prefix("***=") {
        return Ok((
            literal_prefix(flags) + &regex::escape(rest),
            Quantifiers::default(),
        ));
    }
    if let Some(rest) = p.strip_prefix("***:") {
        p = rest;
    }
    if let Some(rest) = p.strip_prefix("(?") {
        if let Some(end) = rest.find(')') {
            let letters = &rest[..end];
            if !letters.is_empty() && letters.chars().all(|c| c.is_ascii_alphabetic()) {
                let inner = parse_flags(letters, Some("embedded options"))?;
                flags.icase = inner.icase || (flags.icase && !letters.contains('c'));
                flags.newline |= inner.newline;
                if letters.contains('s') {
                    flags.newline = inner.newline;
                }
                flags.literal |= inner.literal;
                p = &rest[end + 1..];
            }
        }
    }
    if flags.literal {
        return Ok((
            literal_prefix(flags) + &regex::escape(p),
            Quantifiers::default(),
        ));
    }
    let mut out = literal_prefix(flags);
    let mut q = Quantifiers::default();
    let chars: Vec<char> = p.chars().collect();
    let mut depth = 0usize;
    let mut i = 0;
    // Whether the previous item can take a quantifier (PostgreSQL: "quantifier operand
    // invalid" otherwise).
    let mut operand = false;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' => {
                let Some(&e) = chars.get(i) else {
                    return Err(invalid("invalid escape \\ sequence"));
                };
                i += 1;
                out.push_str(&escape(e, false)?);
                operand = !matches!(e, 'y' | 'Y' | 'm' | 'M' | 'A' | 'Z');
            }
            '[' => {
                i = bracket(&chars, i, flags.newline, &mut out)?;
                operand = true;
            }
            '(' => {
                if chars.get(i) == Some(&'?') {
                    match chars.get(i + 1) {
                        Some(':') => {
                            out.push_str("(?:");
                            i += 2;
                        }
                        Some('=' | '!' | '<') => return Err(unsupported("lookaround")),
                        _ => return Err(invalid("quantifier operand invalid")),
                    }
                } else {
                    out.push('(');
                }
                depth += 1;
                operand = false;
            }
            ')' => {
                if depth == 0 {
                    return Err(invalid("parentheses () not balanced"));
                }
                depth -= 1;
                out.push(')');
                operand = true;
            }
            '|' => {
                out.push('|');
                operand = false;
            }
            '*' | '+' | '?' | '{' => {
                if !operand {
                    return Err(invalid("quantifier operand invalid"));
                }
                if c == '{' {
                    let close = chars[i..]
                        .iter()
                        .position(|&x| x == '}')
                        .ok_or_else(|| invalid("braces {} not balanced"))?;
                    let body: String = chars[i..i + close].iter().collect();
                    let ok = {
                        let mut parts = body.splitn(2, ',');
                        let lo = parts.next().unwrap_or("");
                        let hi = parts.next();
                        let num = |s: &str| {
                            !s.is_empty() && s.len() <= 3 && s.chars().all(|d| d.is_ascii_digit())
                        };
                        num(lo)
                            && match hi {
                                None => true,
                                Some("") => true,
                                Some(h) => {
                                    num(h)
                                        && h.parse::<u32>().unwrap_or(0)
                                            >= lo.parse::<u32>().unwrap_or(0)
                                }
                            }
                            && lo.parse::<u32>().unwrap_or(256) <= 255
                            && hi
                                .filter(|h| !h.is_empty())
                                .is_none_or(|h| h.parse::<u32>().unwrap_or(256) <= 255)
                    };
                    if !ok {
                        return Err(invalid("invalid repetition count(s)"));
                    }
                    out.push('{');
                    out.push_str(&body);
                    out.push('}');
                    i += close + 1;
                } else {
                    out.push(c);
                }
                if chars.get(i) == Some(&'?') {
                    out.push('?');
                    i += 1;
                    q.lazy = true;
                } else {
                    q.greedy = true;
                }
                if matches!(chars.get(i), Some('*' | '+' | '?' | '{')) {
                    return Err(invalid("quantifier operand invalid"));
                }
                operand = false;
            }
            '.' => {
                out.push_str(if flags.newline { "[^\\n]" } else { "." });
                operand = true;
            }
            '^' | '$' => {
                out.push(c);
                operand = false;
            }
            '}' | ']' | '#' | '&' | '~' | '-' | ' ' => {
                out.push_str(&regex::escape(&c.to_string()));
                operand = true;
            }
            other => {
                out.push(other);
                operand = true;
            }
        }
    }
    if depth != 0 {
        return Err(invalid("parentheses () not balanced"));
    }
    Ok((out, q))
}

fn literal_prefix(flags: Flags) -> String {
    let mut s = String::from(if flags.newline { "(?m)" } else { "(?s)" });
    if flags.icase {
        s.push_str("(?i)");
    }
    s
}

/// The `regex` crate's spelling of the ARE escape `\e` (inside a bracket when
/// `in_bracket`).
fn escape(e: char, in_bracket: bool) -> Result<String> {
    Ok(match e {
        'd' | 'D' | 's' | 'S' | 'w' | 'W' | 'n' | 't' | 'r' | 'f' | 'v' | 'a' => format!("\\{e}"),
        'b' => "\\x08".into(),
        'e' => "\\x1B".into(),
        'y' | 'Y' | 'm' | 'M' | 'A' | 'Z' if in_bracket => {
            return Err(invalid("invalid escape \\ sequence"))
        }
        'y' => "\\b".into(),
        'Y' => "\\B".into(),
        'm' => "\\b{start}".into(),
        'M' => "\\b{end}".into(),
        'A' => "\\A".into(),
        'Z' => "\\z".into(),
        '1'..='9' => return Err(unsupported("back reference")),
        '0' | 'x' | 'u' | 'U' | 'c' | 'B' => return Err(unsupported(&format!("escape \\{e}"))),
        c if c.is_alphanumeric() => return Err(invalid("invalid escape \\ sequence")),
        c => regex::escape(&c.to_string()),
    })
}

/// Copies a bracket expression starting after its `[` at `i`; returns the index after
/// its `]`.
fn bracket(chars: &[char], mut i: usize, newline: bool, out: &mut String) -> Result<usize> {
    let unbalanced = || invalid("brackets [] not balanced");
    // [[:<:]] and [[:>:]]: word start and end.
    let rest: String = chars[i..chars.len().min(i + 6)].iter().collect();
    if rest == "[:<:]]" {
        out.push_str("\\b{start}");
        return Ok(i + 6);
    }
    if rest == "[:>:]]" {
        out.push_str("\\b{end}");
        return Ok(i + 6);
    }
    out.push('[');
    let negated = chars.get(i) == Some(&'^');
    if negated {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(unbalanced());
        };
        i += 1;
        match c {
            ']' if !first => break,
            '[' => match chars.get(i) {
                Some(':') => {
                    let close = (i + 1..chars.len().saturating_sub(1))
                        .find(|&k| chars[k] == ':' && chars[k + 1] == ']')
                        .ok_or_else(unbalanced)?;
                    let name: String = chars[i + 1..close].iter().collect();
                    const CLASSES: &[&str] = &[
                        "alnum", "alpha", "blank", "cntrl", "digit", "graph", "lower", "print",
                        "punct", "space", "upper", "xdigit",
                    ];
                    if !CLASSES.contains(&name.as_str()) {
                        return Err(invalid("invalid character class"));
                    }
                    out.push_str(&format!("[:{name}:]"));
                    i = close + 2;
                }
                Some('.' | '=') => return Err(unsupported("collating element")),
                _ => out.push_str("\\["),
            },
            '\\' => {
                let Some(&e) = chars.get(i) else {
                    return Err(unbalanced());
                };
                i += 1;
                out.push_str(&escape(e, true)?);
            }
            '&' | '~' | ']' => {
                out.push('\\');
                out.push(c);
            }
            '-' if chars.get(i) == Some(&'-') => out.push_str("\\-"),
            c => out.push(c),
        }
        first = false;
    }
    if negated && newline {
        out.push_str("\\n");
    }
    out.push(']');
    Ok(i)
}

/// A compiled pattern: the `regex` crate's matcher and, for extraction, an
/// all-matches DFA that finds where PostgreSQL's match would end.
struct Compiled {
    re: regex::Regex,
    check: Option<(DFA, RefCell<DfaCache>)>,
    quantifiers: Quantifiers,
}

thread_local! {
    static CACHE: RefCell<HashMap<(String, Flags), Rc<Compiled>>> = RefCell::new(HashMap::new());
}

/// The compiled form of `pat` under `flags`, from the cache or compiled now.
fn compile(pat: &str, flags: Flags) -> Result<Rc<Compiled>> {
    let key = (
        pat.to_string(),
        Flags {
            global: false,
            ..flags
        },
    );
    if let Some(c) = CACHE.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(c);
    }
    let (src, quantifiers) = translate(pat, key.1)?;
    let re = regex::RegexBuilder::new(&src)
        .size_limit(8 << 20)
        .build()
        .map_err(map_compile_error)?;
    let check = DFA::builder()
        .configure(
            DFA::config()
                .match_kind(MatchKind::All)
                .unicode_word_boundary(true),
        )
        .build(&src)
        .ok()
        .map(|d| {
            let cache = RefCell::new(d.create_cache());
            (d, cache)
        });
    let c = Rc::new(Compiled {
        re,
        check,
        quantifiers,
    });
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= 64 {
            cache.clear();
        }
        cache.insert(key, c.clone());
    });
    Ok(c)
}

fn map_compile_error(e: regex::Error) -> Error {
    match e {
        regex::Error::CompiledTooBig(_) => invalid("regular expression is too complex"),
        regex::Error::Syntax(s) => {
            let msg = s
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("error: "))
                .unwrap_or("syntax error")
                .to_string();
            if msg.contains("unclosed character class") {
                invalid("brackets [] not balanced")
            } else if msg.contains("unclosed group") || msg.contains("unopened group") {
                invalid("parentheses () not balanced")
            } else if msg.contains("repetition") {
                invalid("quantifier operand invalid")
            } else {
                invalid(&msg)
            }
        }
        _ => invalid("regular expression is too complex"),
    }
}

impl Compiled {
    /// Where PostgreSQL's match starting at `start` ends, if the crate's match ending
    /// at `end` is not it: an error (0A000) rather than a different answer.
    fn check_match(&self, hay: &str, start: usize, end: usize) -> Result<()> {
        let q = self.quantifiers;
        if q.greedy && q.lazy {
            return Err(unsupported(
                "mixing greedy and non-greedy quantifiers (PostgreSQL's match preference)",
            ));
        }
        if !q.greedy && !q.lazy && !hay.is_empty() && !self.re.as_str().contains('|') {
            // No quantifier and no alternation: only one match can start here.
            return Ok(());
        }
        let Some((dfa, cache)) = &self.check else {
            return Err(unsupported("this pattern's leftmost-longest matching"));
        };
        let input = Input::new(hay)
            .range(start..)
            .anchored(Anchored::Yes)
            .earliest(q.lazy);
        let found = dfa
            .try_search_fwd(&mut cache.borrow_mut(), &input)
            .map_err(|_| unsupported("this pattern's leftmost-longest matching"))?;
        match found {
            Some(m) if m.offset() == end => Ok(()),
            _ => Err(unsupported(
                "a pattern whose leftmost-longest match differs from its leftmost-first match",
            )),
        }
    }

    /// The matches PostgreSQL's `setup_regexp_matches` would record: all of them when
    /// `global`, else the first; with `ignore_degenerate`, empty matches at the ends
    /// and right after a previous match are skipped (`regexp_split_*`).
    fn matches<'h>(
        &self,
        hay: &'h str,
        global: bool,
        ignore_degenerate: bool,
        extract: bool,
    ) -> Result<Vec<regex::Captures<'h>>> {
        let mut out = Vec::new();
        let mut search = 0usize;
        let mut prev_end = 0usize;
        while search <= hay.len() {
            let Some(caps) = self.re.captures_at(hay, search) else {
                break;
            };
            let m = caps.get(0).map(|m| (m.start(), m.end())).unwrap_or((0, 0));
            if extract {
                self.check_match(hay, m.0, m.1)?;
            }
            if !ignore_degenerate || (m.0 < hay.len() && m.1 > prev_end) {
                out.push(caps);
                prev_end = m.1;
                if !global {
                    break;
                }
            }
            search = m.1;
            if m.0 == m.1 {
                match hay[search..].chars().next() {
                    Some(c) => search += c.len_utf8(),
                    None => break,
                }
            }
        }
        Ok(out)
    }
}

/// A call's text arguments (NULL ends the call: the functions are strict).
fn texts(args: &[Value]) -> Option<Vec<String>> {
    args.iter()
        .map(|v| match v {
            Value::Null => None,
            Value::Text(s) => Some(s.clone()),
            v => Some(crate::types::format_text(
                v,
                &crate::types::FormatOptions::default(),
            )),
        })
        .collect()
}

/// The captured groups of a match as PostgreSQL's `regexp_match` returns them: the
/// groups if there are any, else the whole match.
fn groups(caps: &regex::Captures<'_>) -> Vec<Option<String>> {
    if caps.len() == 1 {
        return vec![caps.get(0).map(|m| m.as_str().to_string())];
    }
    (1..caps.len())
        .map(|i| caps.get(i).map(|m| m.as_str().to_string()))
        .collect()
}

/// Calls one of this module's functions.
pub fn call(f: RegexFn, args: Vec<Value>, _ty: DataType, _cx: &mut ExecCtx<'_>) -> Result<Value> {
    if f == RegexFn::RegexpMatchesScalar {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "regexp_matches() in the select list is not supported yet; call it in FROM"
        );
    }
    let Some(a) = texts(&args) else {
        return Ok(Value::Null);
    };
    let arg = |i: usize| a.get(i).map(String::as_str).unwrap_or("");
    Ok(match f {
        RegexFn::Match { icase, negate } => {
            let c = compile(
                arg(1),
                Flags {
                    icase,
                    ..Flags::default()
                },
            )?;
            Value::Bool(c.re.is_match(arg(0)) != negate)
        }
        RegexFn::Similar(negate) => {
            let c = compile(arg(1), Flags::default())?;
            Value::Bool(c.re.is_match(arg(0)) != negate)
        }
        RegexFn::Like => {
            let c = compile(arg(1), parse_flags(arg(2), Some("regexp_like"))?)?;
            Value::Bool(c.re.is_match(arg(0)))
        }
        RegexFn::Substring => {
            let c = compile(arg(1), Flags::default())?;
            let hay = arg(0);
            match c.matches(hay, false, false, true)?.first() {
                None => Value::Null,
                Some(caps) => {
                    let g = if caps.len() > 1 { 1 } else { 0 };
                    caps.get(g)
                        .map_or(Value::Null, |m| Value::Text(m.as_str().to_string()))
                }
            }
        }
        RegexFn::RegexpMatch => {
            let c = compile(arg(1), parse_flags(arg(2), Some("regexp_match"))?)?;
            match c.matches(arg(0), false, false, true)?.first() {
                None => Value::Null,
                Some(caps) => Value::TextArray(groups(caps)),
            }
        }
        RegexFn::SplitToArray => Value::TextArray(
            split(arg(0), arg(1), arg(2), "regexp_split_to_array")?
                .into_iter()
                .map(Some)
                .collect(),
        ),
        RegexFn::Count => {
            let hay = arg(0);
            let start = match args.get(2) {
                Some(v) => v.as_i64().unwrap_or(1),
                None => 1,
            };
            if start <= 0 {
                bail!(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "invalid value for parameter \"start\": {start}"
                );
            }
            let flags = parse_flags(arg(3), Some("regexp_count"))?;
            let c = compile(arg(1), flags)?;
            let from = hay
                .char_indices()
                .nth(start as usize - 1)
                .map_or(hay.len(), |(i, _)| i);
            // Counting needs the same match boundaries PostgreSQL finds.
            let n = c.matches(&hay[from..], true, false, true)?.len();
            Value::Int4(n as i32)
        }
        RegexFn::Replace => {
            let flags = parse_flags(arg(3), None)?;
            let c = compile(arg(1), flags)?;
            let hay = arg(0);
            let repl = arg(2);
            let mut out = String::new();
            let mut last = 0;
            for caps in c.matches(hay, flags.global, false, true)? {
                let Some(m) = caps.get(0) else { continue };
                out.push_str(&hay[last..m.start()]);
                substitute(repl, &caps, &mut out);
                last = m.end();
            }
            out.push_str(&hay[last..]);
            Value::Text(out)
        }
        RegexFn::RegexpMatchesScalar => Value::Null,
    })
}

/// Appends `repl` with PostgreSQL's `\1`…`\9`, `\&` and `\\` substituted.
fn substitute(repl: &str, caps: &regex::Captures<'_>, out: &mut String) {
    let mut it = repl.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.peek().copied() {
            Some(d @ '1'..='9') => {
                it.next();
                let n = d as usize - '0' as usize;
                if let Some(m) = caps.get(n) {
                    out.push_str(m.as_str());
                }
            }
            Some('&') => {
                it.next();
                if let Some(m) = caps.get(0) {
                    out.push_str(m.as_str());
                }
            }
            Some('\\') => {
                it.next();
                out.push('\\');
            }
            _ => out.push('\\'),
        }
    }
}

/// The pieces of `hay` between the matches of `pat` (PostgreSQL's
/// `regexp_split_to_array`).
fn split(hay: &str, pat: &str, flags: &str, fname: &str) -> Result<Vec<String>> {
    let c = compile(pat, parse_flags(flags, Some(fname))?)?;
    let mut out = Vec::new();
    let mut last = 0;
    for caps in c.matches(hay, true, true, true)? {
        let Some(m) = caps.get(0) else { continue };
        out.push(hay[last..m.start()].to_string());
        last = m.end();
    }
    out.push(hay[last..].to_string());
    Ok(out)
}

/// Binds `a ~ b`, `~*`, `!~`, `!~*`; `None` for other operators.
pub fn bind_operator(
    b: &mut Binder<'_>,
    left: &ast::Expr,
    op: &ast::BinaryOperator,
    right: &ast::Expr,
    scope: &Scope,
) -> Result<Option<Expr>> {
    use ast::BinaryOperator as B;
    let (icase, negate) = match op {
        B::PGRegexMatch => (false, false),
        B::PGRegexIMatch => (true, false),
        B::PGRegexNotMatch => (false, true),
        B::PGRegexNotIMatch => (true, true),
        _ => return Ok(None),
    };
    let l = text_operand(b, left, scope, op)?;
    let r = text_operand(b, right, scope, op)?;
    Ok(Some(Expr::Func(
        Func::Regex(RegexFn::Match { icase, negate }),
        vec![l, r],
        DataType::Bool,
    )))
}

/// Binds one operand of a regex operator as text.
fn text_operand(
    b: &mut Binder<'_>,
    e: &ast::Expr,
    scope: &Scope,
    op: &dyn std::fmt::Display,
) -> Result<Expr> {
    let x = b.bind(e, scope)?;
    let t = x.ty();
    if !(t == DataType::Unknown || t.is_string()) {
        return Err(err!(
            sqlstate::UNDEFINED_FUNCTION,
            "operator does not exist: {} {} unknown",
            t.name(),
            op
        )
        .with_hint("No operator matches the given name and argument types. You might need to add explicit type casts."));
    }
    b.coerce(x, DataType::Text, -1, Coercion::Implicit, e.span())
}

/// Binds `x [NOT] SIMILAR TO pattern [ESCAPE e]`: the pattern is translated to a
/// regex at run time only when it is not a constant.
pub fn bind_similar(
    b: &mut Binder<'_>,
    negated: bool,
    expr: &ast::Expr,
    pattern: &ast::Expr,
    escape_char: Option<&ast::Value>,
    scope: &Scope,
) -> Result<Expr> {
    let x = text_operand(b, expr, scope, &"SIMILAR TO")?;
    let p = text_operand(b, pattern, scope, &"SIMILAR TO")?;
    let esc = match escape_char {
        None => Some('\\'),
        Some(ast::Value::SingleQuotedString(s)) => {
            let mut it = s.chars();
            match (it.next(), it.next()) {
                (None, _) => None,
                (Some(c), None) => Some(c),
                _ => bail!(sqlstate::INVALID_ESCAPE_SEQUENCE, "invalid escape string"),
            }
        }
        Some(ast::Value::Null) => bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "SIMILAR TO with a NULL escape is not supported"
        ),
        Some(other) => bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "SIMILAR TO escape {other} is not supported"
        ),
    };
    let Expr::Const(Value::Text(pat), _) = &p else {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "SIMILAR TO with a non-constant pattern is not supported yet"
        );
    };
    let re = similar_to_regex(pat, esc)?;
    Ok(Expr::Func(
        Func::Regex(RegexFn::Similar(negated)),
        vec![x, Expr::Const(Value::Text(re), DataType::Text)],
        DataType::Bool,
    ))
}

/// PostgreSQL's `similar_escape`: a SQL regular expression as an anchored ARE.
fn similar_to_regex(pat: &str, esc: Option<char>) -> Result<String> {
    let mut out = String::from("^(?:");
    let mut in_bracket = false;
    let mut it = pat.chars().peekable();
    let mut after_escape = false;
    while let Some(c) = it.next() {
        if after_escape {
            after_escape = false;
            if c == '"' {
                return Err(unsupported("SIMILAR TO's escape-double-quote"));
            }
            out.push('\\');
            out.push(c);
            continue;
        }
        if Some(c) == esc {
            after_escape = true;
            continue;
        }
        if in_bracket {
            if c == ']' {
                in_bracket = false;
            }
            if c == '\\' {
                out.push('\\');
            }
            out.push(c);
            continue;
        }
        match c {
            '[' => {
                in_bracket = true;
                out.push('[');
                if it.peek() == Some(&'^') {
                    out.push('^');
                    it.next();
                }
                if it.peek() == Some(&']') {
                    out.push(']');
                    it.next();
                }
            }
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            '(' => out.push_str("(?:"),
            '\\' | '.' | '^' | '$' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    if after_escape {
        bail!(sqlstate::INVALID_ESCAPE_SEQUENCE, "invalid escape string");
    }
    out.push_str(")$");
    Ok(out)
}

/// `regexp_matches` or `regexp_split_to_table` in FROM, bound.
#[derive(Debug, Clone)]
pub struct RowsCall {
    /// True for `regexp_matches` (rows of text[]), false for `regexp_split_to_table`.
    pub matches: bool,
    /// The bound arguments (text).
    pub args: Vec<Expr>,
}

/// The column of a regex set-returning function in FROM, if `name` is one.
pub fn rows_function(name: &str) -> Option<(bool, DataType)> {
    match name {
        "regexp_matches" => Some((true, DataType::TextArray)),
        "regexp_split_to_table" => Some((false, DataType::Text)),
        _ => None,
    }
}

/// Binds the arguments of a regex set-returning function in FROM.
pub fn bind_rows_call(
    b: &mut Binder<'_>,
    name: &str,
    matches: bool,
    args: &[ast::FunctionArg],
) -> Result<RowsCall> {
    if !(2..=3).contains(&args.len()) {
        bail!(
            sqlstate::UNDEFINED_FUNCTION,
            "function {name} with {} arguments does not exist",
            args.len()
        );
    }
    let mut bound = Vec::new();
    for a in args {
        let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) = a else {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "named function arguments are not supported yet"
            );
        };
        bound.push(text_operand(b, e, &Scope::default(), &name)?);
    }
    Ok(RowsCall {
        matches,
        args: bound,
    })
}

/// Runs a regex set-returning function, giving its rows.
pub fn run_rows(call: &RowsCall, cx: &mut ExecCtx<'_>) -> Result<Vec<Vec<Value>>> {
    let mut vals = Vec::new();
    for a in &call.args {
        vals.push(super::expr::eval(a, &[], cx)?);
    }
    let Some(a) = texts(&vals) else {
        return Ok(vec![]);
    };
    let arg = |i: usize| a.get(i).map(String::as_str).unwrap_or("");
    if call.matches {
        let flags = parse_flags(arg(2), None)?;
        let c = compile(arg(1), flags)?;
        Ok(c.matches(arg(0), flags.global, false, true)?
            .iter()
            .map(|caps| vec![Value::TextArray(groups(caps))])
            .collect())
    } else {
        Ok(split(arg(0), arg(1), arg(2), "regexp_split_to_table")?
            .into_iter()
            .map(|s| vec![Value::Text(s)])
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation() {
        let t = |p: &str| translate(p, Flags::default()).map(|x| x.0);
        assert_eq!(t("a\\yb").unwrap(), "(?s)a\\bb");
        assert_eq!(t("[a[]").unwrap(), "(?s)[a\\[]");
        assert!(t("(").is_err());
        assert!(t("a)").is_err());
        assert!(t("*a").is_err());
        assert_eq!(t("[[:<:]]x").unwrap(), "(?s)\\b{start}x");
        assert_eq!(
            translate(
                "[^a].",
                Flags {
                    newline: true,
                    ..Flags::default()
                }
            )
            .unwrap()
            .0,
            "(?m)[^a\\n][^\\n]"
        );
    }

    #[test]
    fn similar() {
        assert_eq!(similar_to_regex("a%_", Some('\\')).unwrap(), "^(?:a.*.)$");
        assert_eq!(
            similar_to_regex("(a|b)\\%", Some('\\')).unwrap(),
            "^(?:(?:a|b)\\%)$"
        );
    }
}
