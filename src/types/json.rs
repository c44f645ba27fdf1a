//! `json` and `jsonb`: the JSON tree, PostgreSQL's JSON parser, jsonb's normalised form
//! and output, jsonb ordering, and the pure operations the SQL operators are built on.
//!
//! What this file owns:
//! - [`Json`], the parsed tree. Numbers are `numeric` ([`BigDecimal`]), exactly as
//!   PostgreSQL stores them inside jsonb: `1.50` keeps its scale, `1e2` reads as `100`.
//! - [`parse`]: the JSON grammar of RFC 8259 with PostgreSQL's error
//!   (`invalid input syntax for type json`, 22P02, with a detail naming the token).
//! - jsonb normalisation ([`normalize`]): object keys sorted shorter-first then
//!   bytewise, duplicate keys resolved to the last value — PostgreSQL's storage order,
//!   which its output and iteration functions show.
//! - Output: [`to_text`] prints jsonb (`{"a": 1, "b": [1, 2]}`), [`pretty`] is
//!   `jsonb_pretty`; `json` values are stored as the text they were given and never
//!   re-printed, except for values built by functions ([`to_json_text`]).
//! - [`json_child`]: navigation inside a `json` text value that returns the child's
//!   original text, as PostgreSQL's `json ->` does.
//! - [`cmp`]: jsonb's B-tree order (Object > Array > Boolean > Number > String > Null;
//!   bigger containers after smaller ones).
//! - [`contains`], [`concat`], deletions, [`set_path`]: the jsonb operators' semantics.
//!
//! What this file must never do: panic on any input, recurse without bound on
//! attacker-sized input (nesting is capped at [`MAX_DEPTH`] like PostgreSQL's stack
//! check), or print a jsonb value any other way than PostgreSQL does.

use crate::err;
use crate::error::{sqlstate, Error, Result};
use bigdecimal::BigDecimal;
use std::cmp::Ordering;

/// The deepest nesting the parser accepts.
pub const MAX_DEPTH: usize = 1000;

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as numeric.
    Number(BigDecimal),
    /// A string (unescaped).
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object: for jsonb, keys sorted in storage order and unique.
    Object(Vec<(String, Json)>),
}

fn syntax(detail: String, text: &str) -> Error {
    let _ = text;
    err!(
        sqlstate::INVALID_TEXT_REPRESENTATION,
        "invalid input syntax for type json"
    )
    .with_detail(detail)
}

/// A cursor over JSON text.
struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Parser<'a> {
        Parser {
            s,
            b: s.as_bytes(),
            pos: 0,
        }
    }

    fn ws(&mut self) {
        while self
            .b
            .get(self.pos)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.pos += 1;
        }
    }

    /// The token starting at the cursor, for error details.
    fn token(&self) -> String {
        let rest = &self.s[self.pos.min(self.s.len())..];
        let mut end = 0;
        for (i, c) in rest.char_indices() {
            if i > 0 && !(c.is_alphanumeric() || c == '_' || c == '.' || c == '-' || c == '+') {
                break;
            }
            end = i + c.len_utf8();
            if !(c.is_alphanumeric() || c == '_' || c == '.' || c == '-' || c == '+') {
                break;
            }
        }
        rest[..end].to_string()
    }

    fn unexpected(&self) -> Error {
        if self.pos >= self.b.len() {
            return syntax("The input string ended unexpectedly.".into(), self.s);
        }
        syntax(format!("Token \"{}\" is invalid.", self.token()), self.s)
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        self.ws();
        if self.b.get(self.pos) == Some(&c) {
            self.pos += 1;
            Ok(())
        } else if self.pos >= self.b.len() {
            Err(self.unexpected())
        } else {
            let what = match c {
                b':' => "\":\"",
                _ => "\",\" or \"}\"",
            };
            Err(syntax(
                format!("Expected {what}, but found \"{}\".", self.token()),
                self.s,
            ))
        }
    }

    /// Parses the whole text as one value.
    fn document(&mut self) -> Result<Json> {
        let v = self.value()?;
        self.ws();
        if self.pos < self.b.len() {
            return Err(syntax(
                format!("Expected end of input, but found \"{}\".", self.token()),
                self.s,
            ));
        }
        Ok(v)
    }

    /// Parses one value. Containers are kept on an explicit stack, so nesting costs heap,
    /// not native stack.
    fn value(&mut self) -> Result<Json> {
        enum Frame {
            Array(Vec<Json>),
            Object(Vec<(String, Json)>, String),
        }
        let mut stack: Vec<Frame> = Vec::new();
        loop {
            self.ws();
            let Some(&c) = self.b.get(self.pos) else {
                return Err(self.unexpected());
            };
            let mut v = match c {
                b'{' => {
                    self.pos += 1;
                    self.ws();
                    if self.b.get(self.pos) == Some(&b'}') {
                        self.pos += 1;
                        Json::Object(Vec::new())
                    } else {
                        self.enter(stack.len())?;
                        let k = self.key()?;
                        stack.push(Frame::Object(Vec::new(), k));
                        continue;
                    }
                }
                b'[' => {
                    self.pos += 1;
                    self.ws();
                    if self.b.get(self.pos) == Some(&b']') {
                        self.pos += 1;
                        Json::Array(Vec::new())
                    } else {
                        self.enter(stack.len())?;
                        stack.push(Frame::Array(Vec::new()));
                        continue;
                    }
                }
                b'"' => Json::String(self.string()?),
                b'-' | b'0'..=b'9' => self.number()?,
                _ => self.literal()?,
            };
            // Attach the value to its parents, closing the containers that end here.
            loop {
                self.ws();
                let next = self.b.get(self.pos).copied();
                match stack.last_mut() {
                    None => return Ok(v),
                    Some(Frame::Array(items)) => {
                        items.push(v);
                        match next {
                            Some(b',') => {
                                self.pos += 1;
                                break;
                            }
                            Some(b']') => {
                                self.pos += 1;
                                let Some(Frame::Array(items)) = stack.pop() else {
                                    return Err(Error::internal("json parser stack"));
                                };
                                v = Json::Array(items);
                            }
                            None => return Err(self.unexpected()),
                            _ => {
                                return Err(syntax(
                                    format!(
                                        "Expected \",\" or \"]\", but found \"{}\".",
                                        self.token()
                                    ),
                                    self.s,
                                ))
                            }
                        }
                    }
                    Some(Frame::Object(members, key)) => {
                        members.push((std::mem::take(key), v));
                        match next {
                            Some(b',') => {
                                self.pos += 1;
                                *key = self.key()?;
                                break;
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                let Some(Frame::Object(members, _)) = stack.pop() else {
                                    return Err(Error::internal("json parser stack"));
                                };
                                v = Json::Object(members);
                            }
                            None => return Err(self.unexpected()),
                            _ => {
                                return Err(syntax(
                                    format!(
                                        "Expected \",\" or \"}}\", but found \"{}\".",
                                        self.token()
                                    ),
                                    self.s,
                                ))
                            }
                        }
                    }
                }
            }
        }
    }

    /// An object key and its colon.
    fn key(&mut self) -> Result<String> {
        self.ws();
        if self.b.get(self.pos) != Some(&b'"') {
            if self.pos >= self.b.len() {
                return Err(self.unexpected());
            }
            return Err(syntax(
                format!("Expected string, but found \"{}\".", self.token()),
                self.s,
            ));
        }
        let k = self.string()?;
        self.expect(b':')?;
        Ok(k)
    }

    fn literal(&mut self) -> Result<Json> {
        for (word, v) in [
            ("true", Json::Bool(true)),
            ("false", Json::Bool(false)),
            ("null", Json::Null),
        ] {
            if self.s[self.pos..].starts_with(word) {
                let after = self.b.get(self.pos + word.len());
                if !after.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') {
                    self.pos += word.len();
                    return Ok(v);
                }
            }
        }
        Err(self.unexpected())
    }

    fn enter(&mut self, depth: usize) -> Result<()> {
        if depth + 1 > MAX_DEPTH {
            return Err(err!(
                sqlstate::STATEMENT_TOO_COMPLEX,
                "stack depth limit exceeded"
            ));
        }
        Ok(())
    }

    fn number(&mut self) -> Result<Json> {
        let start = self.pos;
        let b = self.b;
        let mut i = self.pos;
        let digits = |i: &mut usize| {
            let s = *i;
            while b.get(*i).is_some_and(|c| c.is_ascii_digit()) {
                *i += 1;
            }
            *i > s
        };
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        let int_start = i;
        let ok_int = digits(&mut i);
        // A leading zero may not be followed by more digits.
        let mut ok = ok_int && !(b[int_start] == b'0' && i - int_start > 1);
        if ok && b.get(i) == Some(&b'.') {
            i += 1;
            ok = digits(&mut i);
        }
        if ok && matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            ok = digits(&mut i);
        }
        if ok
            && b.get(i)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            ok = false;
        }
        if !ok {
            return Err(self.unexpected());
        }
        self.pos = i;
        let text = &self.s[start..i];
        match super::parse_text(super::DataType::Numeric, -1, text)? {
            super::Value::Numeric(n) => Ok(Json::Number(*n)),
            _ => Err(Error::internal("numeric input gave another type")),
        }
    }

    fn hex4(&mut self) -> Result<u32> {
        let h = self.s.get(self.pos..self.pos + 4).unwrap_or("");
        if h.len() != 4 || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(syntax(
                "\"\\u\" must be followed by four hexadecimal digits.".into(),
                self.s,
            ));
        }
        self.pos += 4;
        u32::from_str_radix(h, 16).map_err(|_| self.unexpected())
    }

    fn string(&mut self) -> Result<String> {
        // At the opening quote.
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.s[self.pos..];
            let Some(c) = rest.chars().next() else {
                return Err(self.unexpected());
            };
            self.pos += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let Some(&e) = self.b.get(self.pos) else {
                        return Err(self.unexpected());
                    };
                    self.pos += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp) {
                                if self.s[self.pos..].starts_with("\\u") {
                                    self.pos += 2;
                                    let lo = self.hex4()?;
                                    if !(0xDC00..0xE000).contains(&lo) {
                                        return Err(syntax(
                                            "Unicode low surrogate must follow a high surrogate."
                                                .into(),
                                            self.s,
                                        ));
                                    }
                                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                } else {
                                    return Err(syntax(
                                        "Unicode low surrogate must follow a high surrogate."
                                            .into(),
                                        self.s,
                                    ));
                                }
                            } else if (0xDC00..0xE000).contains(&cp) {
                                return Err(syntax(
                                    "Unicode low surrogate must follow a high surrogate.".into(),
                                    self.s,
                                ));
                            }
                            if cp == 0 {
                                return Err(err!(
                                    sqlstate::UNTRANSLATABLE_CHARACTER,
                                    "unsupported Unicode escape sequence"
                                )
                                .with_detail("\\u0000 cannot be converted to text."));
                            }
                            out.push(char::from_u32(cp).ok_or_else(|| self.unexpected())?);
                        }
                        _ => {
                            self.pos -= 1;
                            let tok: String = self.s[self.pos..].chars().take(1).collect();
                            return Err(syntax(
                                format!("Escape sequence \"\\{tok}\" is invalid."),
                                self.s,
                            ));
                        }
                    }
                }
                c if (c as u32) < 0x20 => {
                    return Err(syntax(
                        format!("Character with value 0x{:02x} must be escaped.", c as u32),
                        self.s,
                    ))
                }
                c => out.push(c),
            }
        }
    }
}

/// Parses JSON text (the input function of `json` and, after [`normalize`], `jsonb`).
pub fn parse(s: &str) -> Result<Json> {
    Parser::new(s).document()
}

/// Parses and normalises jsonb input.
pub fn parse_jsonb(s: &str) -> Result<Json> {
    Ok(normalize(parse(s)?))
}

/// PostgreSQL's jsonb key order: shorter keys first, then bytewise.
pub fn key_cmp(a: &str, b: &str) -> Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

/// Puts a tree into jsonb's normal form: object keys sorted in storage order, duplicate
/// keys resolved to the last value.
pub fn normalize(j: Json) -> Json {
    match j {
        Json::Array(items) => Json::Array(items.into_iter().map(normalize).collect()),
        Json::Object(members) => {
            let mut out: Vec<(String, Json)> = Vec::with_capacity(members.len());
            // A stable sort keeps duplicates in input order; the last one wins.
            let mut members: Vec<(String, Json)> = members
                .into_iter()
                .map(|(k, v)| (k, normalize(v)))
                .collect();
            members.sort_by(|a, b| key_cmp(&a.0, &b.0));
            for (k, v) in members {
                match out.last_mut() {
                    Some(last) if last.0 == k => last.1 = v,
                    _ => out.push((k, v)),
                }
            }
            Json::Object(out)
        }
        other => other,
    }
}

/// Appends a JSON string literal with PostgreSQL's escaping (`escape_json`).
pub fn escape_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A numeric's text as PostgreSQL prints it inside JSON.
pub fn number_text(n: &BigDecimal) -> String {
    super::format_text(
        &super::Value::numeric(n.clone()),
        &super::FormatOptions::default(),
    )
}

fn write(j: &Json, out: &mut String, item_sep: &str, key_sep: &str) {
    match j {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(&number_text(n)),
        Json::String(s) => escape_string(s, out),
        Json::Array(items) => {
            out.push('[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                write(it, out, item_sep, key_sep);
            }
            out.push(']');
        }
        Json::Object(members) => {
            out.push('{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                escape_string(k, out);
                out.push_str(key_sep);
                write(v, out, item_sep, key_sep);
            }
            out.push('}');
        }
    }
}

/// jsonb's text output (`{"a": 1, "b": [1, 2]}`).
pub fn to_text(j: &Json) -> String {
    let mut out = String::new();
    write(j, &mut out, ", ", ": ");
    out
}

/// The text of a `json` value built by a function such as `json_build_object`
/// (PostgreSQL separates keys with `" : "` there).
pub fn to_json_text(j: &Json) -> String {
    let mut out = String::new();
    write(j, &mut out, ", ", " : ");
    out
}

/// Compact text (`{"a":1,"b":[1,2]}`), as `row_to_json` and `array_to_json` write.
pub fn to_compact_text(j: &Json) -> String {
    let mut out = String::new();
    write(j, &mut out, ",", ":");
    out
}

/// `jsonb_pretty`: four-space indentation, one member per line.
pub fn pretty(j: &Json) -> String {
    fn go(j: &Json, level: usize, out: &mut String) {
        let pad = |n: usize, out: &mut String| out.push_str(&"    ".repeat(n));
        match j {
            Json::Array(items) if !items.is_empty() => {
                out.push_str("[\n");
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(",\n");
                    }
                    pad(level + 1, out);
                    go(it, level + 1, out);
                }
                out.push('\n');
                pad(level, out);
                out.push(']');
            }
            Json::Object(members) if !members.is_empty() => {
                out.push_str("{\n");
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(",\n");
                    }
                    pad(level + 1, out);
                    escape_string(k, out);
                    out.push_str(": ");
                    go(v, level + 1, out);
                }
                out.push('\n');
                pad(level, out);
                out.push('}');
            }
            // An empty container still takes a line break: `{\n}` at its level.
            Json::Array(_) => {
                out.push_str("[\n");
                pad(level, out);
                out.push(']');
            }
            Json::Object(_) => {
                out.push_str("{\n");
                pad(level, out);
                out.push('}');
            }
            other => write(other, out, ", ", ": "),
        }
    }
    let mut out = String::new();
    go(j, 0, &mut out);
    out
}

/// The name `jsonb_typeof` gives a value.
pub fn type_name(j: &Json) -> &'static str {
    match j {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

fn rank(j: &Json) -> u8 {
    match j {
        Json::Null => 0,
        Json::String(_) => 1,
        Json::Number(_) => 2,
        Json::Bool(_) => 3,
        Json::Array(_) => 4,
        Json::Object(_) => 5,
    }
}

/// jsonb's B-tree order.
pub fn cmp(a: &Json, b: &Json) -> Ordering {
    match (a, b) {
        (Json::Null, Json::Null) => Ordering::Equal,
        (Json::Bool(x), Json::Bool(y)) => x.cmp(y),
        (Json::Number(x), Json::Number(y)) => x.cmp(y),
        (Json::String(x), Json::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Json::Array(x), Json::Array(y)) => x.len().cmp(&y.len()).then_with(|| {
            x.iter()
                .zip(y)
                .map(|(p, q)| cmp(p, q))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        }),
        (Json::Object(x), Json::Object(y)) => x.len().cmp(&y.len()).then_with(|| {
            x.iter()
                .zip(y)
                .map(|((k1, v1), (k2, v2))| key_cmp(k1, k2).then_with(|| cmp(v1, v2)))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        }),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Looks a key up in a (normalised) object.
pub fn get_key<'j>(j: &'j Json, key: &str) -> Option<&'j Json> {
    match j {
        Json::Object(m) => m.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
        _ => None,
    }
}

/// An array element by index; negative indexes count from the end.
pub fn get_index(j: &Json, i: i64) -> Option<&Json> {
    match j {
        Json::Array(items) => {
            let n = items.len() as i64;
            let i = if i < 0 { n + i } else { i };
            if i < 0 {
                None
            } else {
                items.get(i as usize)
            }
        }
        _ => None,
    }
}

/// Follows a `#>` path (keys for objects, integers for arrays).
pub fn get_path<'j>(j: &'j Json, path: &[Option<String>]) -> Option<&'j Json> {
    let mut cur = j;
    for p in path {
        let p = p.as_deref()?;
        cur = match cur {
            Json::Object(_) => get_key(cur, p)?,
            Json::Array(_) => get_index(cur, p.trim().parse::<i64>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// The text `->>` gives: strings unquoted, JSON null as SQL NULL, others as jsonb text.
pub fn as_text(j: &Json) -> Option<String> {
    match j {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        other => Some(to_text(other)),
    }
}

/// `@>`: whether `a` contains `b` (PostgreSQL's `JsonbDeepContains`).
pub fn contains(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Object(am), Json::Object(bm)) => bm.iter().all(|(k, bv)| match get_key(a, k) {
            Some(av) => match (av, bv) {
                (Json::Object(_), Json::Object(_)) | (Json::Array(_), Json::Array(_)) => {
                    contains(av, bv)
                }
                _ => av == bv || cmp(av, bv) == Ordering::Equal,
            },
            None => {
                let _ = am;
                false
            }
        }),
        (Json::Array(ai), Json::Array(bi)) => bi.iter().all(|bv| match bv {
            Json::Array(_) | Json::Object(_) => ai.iter().any(|av| {
                std::mem::discriminant(av) == std::mem::discriminant(bv) && contains(av, bv)
            }),
            _ => ai.iter().any(|av| cmp(av, bv) == Ordering::Equal),
        }),
        // A top-level array contains a raw scalar it has as an element.
        (Json::Array(ai), b) if !matches!(b, Json::Object(_)) => {
            ai.iter().any(|av| cmp(av, b) == Ordering::Equal)
        }
        (Json::Array(_), _) | (Json::Object(_), _) | (_, Json::Array(_)) | (_, Json::Object(_)) => {
            false
        }
        _ => cmp(a, b) == Ordering::Equal,
    }
}

/// `?`: whether a key exists, or a string element in an array, or the scalar string.
pub fn exists(j: &Json, key: &str) -> bool {
    match j {
        Json::Object(_) => get_key(j, key).is_some(),
        Json::Array(items) => items
            .iter()
            .any(|i| matches!(i, Json::String(s) if s == key)),
        Json::String(s) => s == key,
        _ => false,
    }
}

/// `||`: merges objects, concatenates arrays, wraps other operands in arrays.
pub fn concat(a: Json, b: Json) -> Json {
    match (a, b) {
        (Json::Object(mut x), Json::Object(y)) => {
            x.extend(y);
            normalize(Json::Object(x))
        }
        (Json::Array(mut x), Json::Array(y)) => {
            x.extend(y);
            Json::Array(x)
        }
        (Json::Array(mut x), y) => {
            x.push(y);
            Json::Array(x)
        }
        (x, Json::Array(y)) => {
            let mut v = vec![x];
            v.extend(y);
            Json::Array(v)
        }
        (x, y) => Json::Array(vec![x, y]),
    }
}

fn scalar_error(what: &str) -> Error {
    err!(
        sqlstate::INVALID_PARAMETER_VALUE,
        "cannot delete from {what}"
    )
}

/// `- text`: removes a key from an object or matching strings from an array.
pub fn delete_key(j: Json, key: &str) -> Result<Json> {
    Ok(match j {
        Json::Object(m) => Json::Object(m.into_iter().filter(|(k, _)| k != key).collect()),
        Json::Array(items) => Json::Array(
            items
                .into_iter()
                .filter(|i| !matches!(i, Json::String(s) if s == key))
                .collect(),
        ),
        _ => return Err(scalar_error("scalar")),
    })
}

/// `- integer`: removes an array element (negative counts from the end).
pub fn delete_index(j: Json, i: i64) -> Result<Json> {
    match j {
        Json::Array(mut items) => {
            let n = items.len() as i64;
            let i = if i < 0 { n + i } else { i };
            if i >= 0 && i < n {
                items.remove(i as usize);
            }
            Ok(Json::Array(items))
        }
        Json::Object(_) => Err(err!(
            sqlstate::INVALID_PARAMETER_VALUE,
            "cannot delete from object using integer index"
        )),
        _ => Err(scalar_error("scalar")),
    }
}

/// `jsonb_insert`: `new` inserted at `path` — before the array element it names (after
/// it with `after`; an index out of range inserts at that end), or as a new key of an
/// object (22023 when the key exists); intermediate steps must exist.
pub fn insert_path(j: Json, path: &[Option<String>], new: Json, after: bool) -> Result<Json> {
    if matches!(
        j,
        Json::Null | Json::Bool(_) | Json::Number(_) | Json::String(_)
    ) {
        return Err(err!(
            sqlstate::INVALID_PARAMETER_VALUE,
            "cannot set path in scalar"
        ));
    }
    fn go(j: Json, path: &[Option<String>], level: usize, new: &Json, after: bool) -> Result<Json> {
        let Some(step) = path.first() else {
            return Ok(j);
        };
        let Some(step) = step.as_deref() else {
            return Err(err!(
                sqlstate::NULL_VALUE_NOT_ALLOWED,
                "path element at position {} is null",
                level + 1
            ));
        };
        let last = path.len() == 1;
        match j {
            Json::Object(mut m) => {
                let pos = m.iter().position(|(k, _)| k == step);
                match (pos, last) {
                    (Some(_), true) => Err(err!(
                        sqlstate::INVALID_PARAMETER_VALUE,
                        "cannot replace existing key"
                    )
                    .with_hint("Try using the function jsonb_set to replace key value.")),
                    (None, true) => {
                        m.push((step.to_string(), new.clone()));
                        Ok(normalize(Json::Object(m)))
                    }
                    (Some(p), false) => {
                        let old = std::mem::replace(&mut m[p].1, Json::Null);
                        m[p].1 = go(old, &path[1..], level + 1, new, after)?;
                        Ok(Json::Object(m))
                    }
                    (None, false) => Ok(Json::Object(m)),
                }
            }
            Json::Array(mut items) => {
                let Ok(i) = step.trim().parse::<i64>() else {
                    return Err(err!(
                        sqlstate::INVALID_TEXT_REPRESENTATION,
                        "path element at position {} is not an integer: \"{}\"",
                        level + 1,
                        step
                    ));
                };
                let n = items.len() as i64;
                let idx = if i < 0 { n + i } else { i };
                if last {
                    let at = if idx < 0 {
                        0
                    } else if idx >= n {
                        n
                    } else {
                        idx + after as i64
                    };
                    items.insert(at as usize, new.clone());
                } else if (0..n).contains(&idx) {
                    let old = std::mem::replace(&mut items[idx as usize], Json::Null);
                    items[idx as usize] = go(old, &path[1..], level + 1, new, after)?;
                }
                Ok(Json::Array(items))
            }
            other => Ok(other),
        }
    }
    go(j, path, 0, &new, after)
}

/// `jsonb_set(target, path, new, create_missing)`.
pub fn set_path(j: Json, path: &[Option<String>], new: Json, create: bool) -> Result<Json> {
    if matches!(
        j,
        Json::Null | Json::Bool(_) | Json::Number(_) | Json::String(_)
    ) {
        return Err(err!(
            sqlstate::INVALID_PARAMETER_VALUE,
            "cannot set path in scalar"
        ));
    }
    fn go(
        j: Json,
        path: &[Option<String>],
        level: usize,
        new: &Json,
        create: bool,
    ) -> Result<Json> {
        let Some(step) = path.first() else {
            return Ok(new.clone());
        };
        let Some(step) = step.as_deref() else {
            return Err(err!(
                sqlstate::NULL_VALUE_NOT_ALLOWED,
                "path element at position {} is null",
                level + 1
            ));
        };
        let last = path.len() == 1;
        match j {
            Json::Object(mut m) => {
                if let Some(pos) = m.iter().position(|(k, _)| k == step) {
                    let old = std::mem::replace(&mut m[pos].1, Json::Null);
                    m[pos].1 = go(old, &path[1..], level + 1, new, create)?;
                } else if last && create {
                    m.push((step.to_string(), new.clone()));
                    return Ok(normalize(Json::Object(m)));
                }
                Ok(Json::Object(m))
            }
            Json::Array(mut items) => {
                let Ok(i) = step.trim().parse::<i64>() else {
                    return Err(err!(
                        sqlstate::INVALID_TEXT_REPRESENTATION,
                        "path element at position {} is not an integer: \"{}\"",
                        level + 1,
                        step
                    ));
                };
                let n = items.len() as i64;
                let idx = if i < 0 { n + i } else { i };
                if idx >= 0 && idx < n {
                    let old = std::mem::replace(&mut items[idx as usize], Json::Null);
                    items[idx as usize] = go(old, &path[1..], level + 1, new, create)?;
                } else if last && create {
                    if idx < 0 {
                        items.insert(0, new.clone());
                    } else {
                        items.push(new.clone());
                    }
                }
                Ok(Json::Array(items))
            }
            other => Ok(other),
        }
    }
    go(j, path, 0, &new, create)
}

/// `jsonb_strip_nulls`: removes object members whose value is null, recursively.
pub fn strip_nulls(j: Json) -> Json {
    match j {
        Json::Object(m) => Json::Object(
            m.into_iter()
                .filter(|(_, v)| *v != Json::Null)
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

/// A `json` text value's shape with each child's original text, for the `json`
/// operators, which return children exactly as they were written.
pub enum RawNode<'a> {
    /// An object's members, in input order (duplicates kept).
    Object(Vec<(String, &'a str)>),
    /// An array's elements.
    Array(Vec<&'a str>),
    /// A scalar.
    Scalar,
}

/// Splits a `json` text value into its top-level children (the text must be valid).
pub fn raw_children(s: &str) -> Result<RawNode<'_>> {
    let mut p = Parser::new(s);
    p.ws();
    match p.b.get(p.pos) {
        Some(b'{') => {
            p.pos += 1;
            let mut out = Vec::new();
            p.ws();
            if p.b.get(p.pos) == Some(&b'}') {
                return Ok(RawNode::Object(out));
            }
            loop {
                p.ws();
                let k = p.string()?;
                p.expect(b':')?;
                p.ws();
                let start = p.pos;
                p.value()?;
                out.push((k, &s[start..p.pos]));
                p.ws();
                match p.b.get(p.pos) {
                    Some(b',') => p.pos += 1,
                    _ => return Ok(RawNode::Object(out)),
                }
            }
        }
        Some(b'[') => {
            p.pos += 1;
            let mut out = Vec::new();
            p.ws();
            if p.b.get(p.pos) == Some(&b']') {
                return Ok(RawNode::Array(out));
            }
            loop {
                p.ws();
                let start = p.pos;
                p.value()?;
                out.push(&s[start..p.pos]);
                p.ws();
                match p.b.get(p.pos) {
                    Some(b',') => p.pos += 1,
                    _ => return Ok(RawNode::Array(out)),
                }
            }
        }
        _ => Ok(RawNode::Scalar),
    }
}

/// `json -> key` / `json -> index`: the child's original text.
pub fn json_child<'a>(
    s: &'a str,
    key: Option<&str>,
    index: Option<i64>,
) -> Result<Option<&'a str>> {
    Ok(match (raw_children(s)?, key, index) {
        (RawNode::Object(m), Some(k), _) => m.into_iter().find(|(mk, _)| mk == k).map(|(_, v)| v),
        (RawNode::Array(items), None, Some(i)) => {
            let n = items.len() as i64;
            let i = if i < 0 { n + i } else { i };
            if i < 0 {
                None
            } else {
                items.get(i as usize).copied()
            }
        }
        _ => None,
    })
}

/// `->>` on a `json` child's text: strings unescaped, `null` as SQL NULL.
pub fn json_text_of(raw: &str) -> Result<Option<String>> {
    Ok(match parse(raw)? {
        Json::Null => None,
        Json::String(s) => Some(s),
        _ => Some(raw.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonb_normalises_like_postgres() {
        let j =
            parse_jsonb(r#"{"bb": 1, "a": [1.50, 1e2, -0.0, "x\u00e9\n"], "bb": null}"#).unwrap();
        assert_eq!(
            to_text(&j),
            r#"{"a": [1.50, 100, 0.0, "xé\n"], "bb": null}"#
        );
        assert_eq!(to_text(&parse_jsonb("[]").unwrap()), "[]");
        assert!(parse("{\"a\" 1}").is_err());
        assert!(parse("01").is_err());
        assert!(parse("[1,]").is_err());
        assert!(parse("\"\\u0000\"").is_err());
        assert!(parse(&"[".repeat(10000)).is_err());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        let j = parse_jsonb(&deep).unwrap();
        assert_eq!(to_text(&j), deep);
        assert_eq!(cmp(&j, &j), Ordering::Equal);
    }

    #[test]
    fn containment_and_order() {
        let p = |s: &str| parse_jsonb(s).unwrap();
        assert!(contains(
            &p(r#"{"a": [1, 2, {"b": 3}]}"#),
            &p(r#"{"a": [{"b": 3}]}"#)
        ));
        assert!(!contains(&p("[1, 2]"), &p("[[1]]")));
        assert!(contains(&p("[1, 2]"), &p("1")));
        assert_eq!(cmp(&p("{}"), &p("[]")), Ordering::Greater);
        assert_eq!(cmp(&p("1.0"), &p("1")), Ordering::Equal);
    }

    #[test]
    fn raw_json_children_keep_their_text() {
        let s = r#"{"a" : [1,  2], "b": "x"}"#;
        assert_eq!(json_child(s, Some("a"), None).unwrap(), Some("[1,  2]"));
        assert_eq!(json_child("[1, 2 ,3]", None, Some(-1)).unwrap(), Some("3"));
    }
}
