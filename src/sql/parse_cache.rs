//! The parse cache: data-manipulation statements that differ only in their numeric
//! literals share one parse.
//!
//! Clients of the simple query protocol (psql scripts, `pgbench -M simple`, ORMs that
//! inline their values) send the same statement again and again with other numbers
//! in it: `UPDATE pgbench_accounts SET abalance = abalance + -4321 WHERE aid = 815`.
//! Parsing such a text costs more than planning and running it. So a statement
//! starting with `SELECT`, `INSERT`, `UPDATE`, `DELETE`, `WITH`, `VALUES` or `TABLE`
//! is turned into a *template*: every numeric literal of two or more characters
//! becomes a placeholder of exactly its length (`815` → `$01`, the placeholder's
//! number padded with zeros), so that every other token keeps its position and the
//! spans of the parsed tree — from which error positions are computed — are those
//! of the original text. The template is parsed once (per backend thread), and each
//! use clones the tree and puts the literals back where their placeholders are.
//!
//! # What it guarantees
//! The tree handed out is the tree the original text parses to: a placeholder sits
//! where the number stood and parses as the same kind of node (`Expr::Value`), and is
//! replaced by `Value::Number` with the literal's own text. Anything that could break
//! that is not templated: texts holding `$` (dollar quotes, real parameters), `\`
//! (escape strings), `/*` comments, a number glued to a word or following a `.`; a
//! template whose parse fails (a number only a literal may take, as in
//! `varchar(10)`), whose parse the statement rewriters touched
//! ([`super::pg_clauses`]), or in which a placeholder is not found as an expression
//! value is remembered as unusable and the statement parses the ordinary way, which
//! also gives syntax errors their usual text.
//!
//! # What it must never do
//! Cache anything that depends on the session (names, settings, catalog state): a
//! parse depends on nothing but the text, which is why one cache per thread is
//! shared by whichever sessions run on it. It never holds plans (see
//! `Session::plan_cached` and `sql::generic`, which plans a template's tree once per
//! session). It stays small: at [`CAPACITY`] templates it starts over.

use rustc_hash::FxHashMap;
use sqlparser::ast::{self, Expr, Value};
use std::cell::RefCell;
use std::ops::ControlFlow;

/// Templates kept per thread before the cache is emptied and starts again.
pub const CAPACITY: usize = 256;

/// The first words of the statements templated (never statements of the front
/// parser, `super::front`).
const DML_WORDS: [&str; 7] = [
    "select", "insert", "update", "delete", "with", "values", "table",
];

thread_local! {
    static CACHE: RefCell<FxHashMap<String, Option<ast::Statement>>> =
        RefCell::new(FxHashMap::default());
}

/// Whether the statement starts with a data-manipulation keyword (no leading
/// comment): the front parser has nothing to say about it.
pub fn is_dml(text: &str) -> bool {
    let t = text.trim_start();
    let end = t
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(t.len());
    let word = &t[..end];
    DML_WORDS.iter().any(|w| word.eq_ignore_ascii_case(w))
}

/// Whether the text is one [`template`] takes (a data-manipulation statement without
/// `$`, `\` or `/*`; a few more, such as an unterminated quote, are refused later).
pub fn may_template(text: &str) -> bool {
    // (one pass over the bytes for `$`, `\` and `/*`)
    let b = text.as_bytes();
    is_dml(text)
        && !b
            .iter()
            .enumerate()
            .any(|(i, &c)| c == b'$' || c == b'\\' || (c == b'/' && b.get(i + 1) == Some(&b'*')))
}

/// A statement text with its numeric literals replaced by placeholders of the same
/// length, and each placeholder with the literal it stands for.
#[derive(Debug, PartialEq)]
pub struct Template {
    /// The text with placeholders.
    pub text: String,
    /// The literals' texts, one after the other (one allocation for all of them: a
    /// template is made for every simple-protocol statement).
    literal_text: String,
    /// Per literal: its placeholder's span in `text`, its span in `literal_text`.
    spans: smallvec::SmallVec<[LiteralSpans; 4]>,
}

#[derive(Debug, PartialEq, Clone, Copy)]
struct LiteralSpans {
    placeholder: (u32, u32),
    literal: (u32, u32),
}

impl Template {
    /// The number of literals replaced.
    pub fn literal_count(&self) -> usize {
        self.spans.len()
    }

    /// (placeholder, literal) pairs, in the text's order.
    pub fn literals(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.spans.iter().map(|s| self.pair(s))
    }

    /// The literal whose placeholder is `placeholder`, and its position: found by the
    /// placeholder's number (`$n` stands for the n-th literal), so that a statement
    /// with thousands of literals is filled in linear time.
    fn literal_of(&self, placeholder: &str) -> Option<(usize, &str)> {
        let n: usize = placeholder.strip_prefix('$')?.parse().ok()?;
        let k = n.checked_sub(1)?;
        let (ph, literal) = self.pair(self.spans.get(k)?);
        (ph == placeholder).then_some((k, literal))
    }

    fn pair(&self, s: &LiteralSpans) -> (&str, &str) {
        (
            &self.text[s.placeholder.0 as usize..s.placeholder.1 as usize],
            &self.literal_text[s.literal.0 as usize..s.literal.1 as usize],
        )
    }
}

/// Makes the template of `text` (see the module notes); `None` when the text is not
/// one that may be templated.
pub fn template(text: &str) -> Option<Template> {
    scan(text, Placeholders::SameLength)
}

/// Makes the *shape* of `text`: as its [`template`], but with every numeric literal,
/// one character long or more, replaced by `$n` (unpadded). Statements that differ only
/// in their numbers, of whatever lengths, have one shape; its spans are not those of
/// the text, so a shape is only ever planned (`sql::generic`), never handed out as the
/// statement's tree.
pub fn shape(text: &str) -> Option<Template> {
    scan(text, Placeholders::Numbered)
}

/// The bytes of a word (name or keyword; a number glued to one is not a literal):
/// letters, digits, `_` and every byte of a non-ASCII character. A table, as the scan
/// asks for every byte of every statement.
const WORD_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
        c += 1;
    }
    t
};

/// How [`scan`] writes its placeholders.
#[derive(Clone, Copy, PartialEq)]
enum Placeholders {
    /// Of the literal's own length; a literal too short for one stays ([`template`]).
    SameLength,
    /// `$n` for every literal ([`shape`]).
    Numbered,
}

fn scan(text: &str, placeholders: Placeholders) -> Option<Template> {
    if !may_template(text) {
        return None;
    }
    let b = text.as_bytes();
    let is_word = |c: u8| WORD_BYTES[c as usize];
    if text.len() > u32::MAX as usize {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut literal_text = String::new();
    let mut spans = smallvec::SmallVec::new();
    let mut copied = 0; // bytes of `text` copied to `out` so far
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' => {
                // A string or quoted name: to its closing quote (a doubled quote
                // stays inside).
                i += 1;
                loop {
                    if i >= b.len() {
                        return None; // unterminated: let the parser say so
                    }
                    if b[i] == c {
                        if b.get(i + 1) == Some(&c) {
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    i += 1;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'0'..=b'9' => {
                if i > 0 && b[i - 1] == b'.' {
                    return None;
                }
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                if i < b.len() && b[i] == b'.' {
                    i += 1;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                    let mut j = i + 1;
                    if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                        j += 1;
                    }
                    if j < b.len() && b[j].is_ascii_digit() {
                        i = j;
                        while i < b.len() && b[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                }
                if i < b.len() && (is_word(b[i]) || b[i] == b'.') {
                    return None;
                }
                let len = i - start;
                let n = spans.len() + 1;
                let digits = len - 1;
                // The placeholder's number must fit in the literal's length.
                let width = match placeholders {
                    Placeholders::SameLength => (len >= 2
                        && (digits >= 20 || (n as u128) < 10u128.pow(digits as u32)))
                    .then_some(digits),
                    Placeholders::Numbered => Some(0),
                };
                if let Some(width) = width {
                    out.push_str(&text[copied..start]);
                    let at = out.len();
                    push_placeholder(&mut out, n, width);
                    copied = i;
                    let from = literal_text.len();
                    literal_text.push_str(&text[start..i]);
                    spans.push(LiteralSpans {
                        placeholder: (at as u32, out.len() as u32),
                        literal: (from as u32, literal_text.len() as u32),
                    });
                }
            }
            c if is_word(c) => {
                while i < b.len() && (is_word(b[i]) || b[i] == b'$') {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&text[copied..]);
    Some(Template {
        text: out,
        literal_text,
        spans,
    })
}

/// Appends `$n` with `n` padded with zeros to `width` digits (`n < 10^width`, or
/// `width` of 20 or more): `format!("${n:0width$}")` without the formatting machinery,
/// which cost as much as the rest of a short statement's templating.
fn push_placeholder(out: &mut String, n: usize, width: usize) {
    let mut digits = [0u8; 20];
    let (mut m, mut len) = (n, 0);
    loop {
        digits[len] = b'0' + (m % 10) as u8;
        len += 1;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    out.push('$');
    for _ in len..width {
        out.push('0');
    }
    for d in digits[..len].iter().rev() {
        out.push(*d as char);
    }
}

/// Puts the literals back in place of their placeholders; false when a placeholder
/// was not found exactly once as an expression value.
pub fn fill(stmt: &mut ast::Statement, t: &Template) -> bool {
    let mut found: smallvec::SmallVec<[u32; 8]> = smallvec::smallvec![0; t.literal_count()];
    let _ = ast::visit_expressions_mut(stmt, |e| {
        if let Expr::Value(v) = e {
            if let Value::Placeholder(p) = &v.value {
                if let Some((k, literal)) = t.literal_of(p) {
                    v.value = Value::Number(literal.to_string(), false);
                    found[k] += 1;
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
    found.iter().all(|n| *n == 1)
}

/// The parse of `text` through its template: `parse` is called on the template's
/// text the first time (it returns the tree, or `None` when the template may not be
/// used), later uses only clone. `None`: parse `text` the ordinary way.
pub fn parse_through(
    text: &str,
    parse: impl FnOnce(&str) -> Option<ast::Statement>,
) -> Option<ast::Statement> {
    let t = template(text)?;
    let cached = CACHE.with(|c| c.borrow().get(&t.text).cloned());
    let mut tree = match cached {
        Some(entry) => entry?,
        None => {
            let parsed = usable_tree(&t, parse);
            CACHE.with(|c| {
                let mut c = c.borrow_mut();
                if c.len() >= CAPACITY {
                    c.clear();
                }
                c.insert(t.text.clone(), parsed.clone());
            });
            parsed?
        }
    };
    fill(&mut tree, &t).then_some(tree)
}

/// `parse` of `t`'s text (a template's or a [`shape`]'s), unless a placeholder does not
/// come back as a value, which makes it unusable (checked on a copy).
pub fn usable_tree(
    t: &Template,
    parse: impl FnOnce(&str) -> Option<ast::Statement>,
) -> Option<ast::Statement> {
    parse(&t.text).filter(|s| fill(&mut s.clone(), t))
}

/// The parsed tree of a template text (placeholders in place of its literals), when
/// [`parse_through`] parsed it on this thread and found it usable; `sql::generic`
/// plans it with the placeholders as parameters.
pub fn template_tree(template_text: &str) -> Option<ast::Statement> {
    CACHE.with(|c| c.borrow().get(template_text).cloned().flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Option<ast::Statement> {
        let dialect = crate::sql::dialect::PG;
        sqlparser::parser::Parser::parse_sql(&dialect, text)
            .ok()
            .and_then(|mut v| (v.len() == 1).then(|| v.remove(0)))
    }

    #[test]
    fn placeholders_are_padded_as_format_pads_them() {
        for (n, width) in [(1, 1), (1, 3), (7, 2), (12, 2), (123, 5), (5, 25), (99, 21)] {
            let mut out = String::new();
            push_placeholder(&mut out, n, width);
            assert_eq!(out, format!("${n:0width$}"));
        }
    }

    #[test]
    fn templates_keep_every_position() {
        let t = template("UPDATE a SET b = b + -4321 WHERE aid = 815 AND c = 7").unwrap();
        assert_eq!(
            t.text,
            "UPDATE a SET b = b + -$001 WHERE aid = $02 AND c = 7"
        );
        assert_eq!(
            t.text.len(),
            "UPDATE a SET b = b + -4321 WHERE aid = 815 AND c = 7".len()
        );
        assert_eq!(
            t.literals().collect::<Vec<_>>(),
            vec![("$001", "4321"), ("$02", "815")]
        );
        // Strings, quoted names, words with digits and comments are left alone.
        let t = template("SELECT 'a 12' AS \"x 34\", t1.c2 FROM t1 -- 56\n").unwrap();
        assert_eq!(t.text, "SELECT 'a 12' AS \"x 34\", t1.c2 FROM t1 -- 56\n");
        assert_eq!(t.literal_count(), 0);
        // Decimals and exponents are one literal each.
        let t = template("SELECT 1.25, 3e10, 2.5E-3").unwrap();
        assert_eq!(t.text, "SELECT $001, $002, $00003");
        // Texts that might not parse the same are refused.
        for bad in [
            "SELECT $1",
            "SELECT E'\\n'",
            "SELECT /* 1 */ 2",
            "SELECT .55",
            "SELECT 12abc",
            "SELECT 'open",
        ] {
            assert_eq!(template(bad), None, "{bad}");
        }
        // A placeholder number that does not fit the literal keeps the literal.
        let many: Vec<String> = (10..22).map(|n| n.to_string()).collect();
        let t = template(&format!("VALUES ({})", many.join(","))).unwrap();
        assert_eq!(t.literal_count(), 9);
        assert!(t.text.ends_with(",19,20,21)"));
    }

    #[test]
    fn a_filled_template_is_the_original_parse() {
        for sql in [
            "SELECT abalance FROM pgbench_accounts WHERE aid = 123456",
            "UPDATE pgbench_accounts SET abalance = abalance + -4321 WHERE aid = 815",
            "INSERT INTO h (tid, bid, aid, delta, mtime) VALUES (12, 34, 5678, -90, CURRENT_TIMESTAMP)",
            "SELECT x FROM t WHERE y IN (10, 20.5, 3e4) ORDER BY 1 LIMIT 10 OFFSET 20",
            "WITH w AS (SELECT 42 AS a) SELECT a[10], a * 1.5 FROM w",
        ] {
            let expected = parse(sql).unwrap();
            let got = parse_through(sql, parse).expect(sql);
            // Debug output shows every span: error positions come out the same.
            assert_eq!(format!("{got:?}"), format!("{expected:?}"), "{sql}");
            // The second time comes from the cache, with other numbers.
            let again = parse_through(sql, |_| panic!("parsed again: {sql}")).unwrap();
            assert_eq!(format!("{again:?}"), format!("{expected:?}"), "{sql}");
        }
        let other = "SELECT abalance FROM pgbench_accounts WHERE aid = 999999";
        assert_eq!(
            parse_through(other, |_| panic!("parsed again")).unwrap(),
            parse(other).unwrap()
        );
    }

    #[test]
    fn unusable_templates_fall_back() {
        // varchar(10) takes only a literal: the template does not parse.
        let sql = "SELECT CAST(a AS varchar(10)) FROM t";
        assert!(parse_through(sql, parse).is_none());
        // Remembered: not parsed again.
        assert!(parse_through(sql, |_| panic!("parsed again")).is_none());
        assert!(is_dml("  select 1") && is_dml("WITH x AS (SELECT 1) SELECT 1"));
        assert!(!is_dml("-- c\nselect 1") && !is_dml("selectx") && !is_dml("set x = 1"));
    }
}

/// Every data-manipulation statement of the SQL test corpus (`sql-tests/*.slt`) parses
/// through the cache to exactly the tree — spans included — that the ordinary path
/// gives, or not through it at all.
#[cfg(test)]
mod corpus {
    use super::super::{front, parse_sql, Parsed};

    #[test]
    fn the_corpus_parses_the_same_through_the_cache() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql-tests");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "slt"))
            .collect();
        files.sort();
        assert!(files.len() > 10, "the corpus is missing");
        let (mut through, mut checked) = (0, 0);
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let mut block: Option<String> = None;
            for line in text.lines().chain(std::iter::once("")) {
                if let Some(b) = block.as_mut() {
                    if line.is_empty() || line == "----" {
                        let sql = block.take().unwrap();
                        for p in front::split_statements(&sql) {
                            if !super::may_template(&p.text) {
                                continue;
                            }
                            checked += 1;
                            let direct = parse_sql(&p);
                            let cached = super::parse_through(&p.text, |t| {
                                let piece = front::Piece {
                                    text: t.to_string(),
                                    offset: p.offset,
                                };
                                match parse_sql(&piece) {
                                    Ok((Parsed::Sql(s), false)) => Some(*s),
                                    _ => None,
                                }
                            });
                            match (direct, cached) {
                                (Ok((Parsed::Sql(d), false)), Some(c)) => {
                                    through += 1;
                                    assert_eq!(
                                        format!("{c:?}"),
                                        format!("{d:?}"),
                                        "{}: {}",
                                        f.display(),
                                        p.text
                                    );
                                }
                                (Ok((Parsed::Sql(_), false)), None) => {} // not templated
                                (_, Some(_)) => {
                                    panic!("{}: cached a tree for {:?}", f.display(), p.text)
                                }
                                (_, None) => {}
                            }
                        }
                    } else {
                        b.push('\n');
                        b.push_str(line);
                    }
                } else if line.starts_with("statement") || line.starts_with("query") {
                    block = Some(String::new());
                }
            }
        }
        assert!(
            through > 500,
            "only {through} of {checked} statements went through"
        );
    }
}
