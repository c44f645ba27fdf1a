//! `COPY … TO STDOUT`: turning a result's rows into PostgreSQL's COPY text, CSV and
//! binary formats.
//!
//! What it owns: [`CopyOptions`] (the options both directions share, parsed by the
//! front parser), and [`encode`], which renders rows as the CopyData payloads the
//! server sends after CopyOutResponse — one payload per row, plus the header line
//! (HEADER) or the binary signature, and the binary trailer.
//!
//! PostgreSQL's rules, kept here:
//! - text: values in their text output form; backslash, newline, carriage return, tab,
//!   backspace, form feed, vertical tab and the delimiter are escaped with a
//!   backslash; NULL is the NULL string (`\N`);
//! - CSV: a value is quoted when it holds the delimiter, the quote character, a
//!   carriage return or a newline, when it equals the NULL string (so an empty string
//!   is `""` while NULL is nothing), or when FORCE_QUOTE names its column; quote and
//!   escape characters inside are preceded by the escape character (default: the
//!   quote, i.e. doubled);
//! - binary: `PGCOPY\n\377\r\n\0`, flags and extension length (0), then per row the
//!   field count and each field's length (-1 for NULL) and binary send form, then -1.
//!
//! What it must never do: run the query (the session does) or touch the socket.

use super::FieldDesc;
use crate::error::{sqlstate, Result};
use crate::types::{self, FormatOptions, Value};

/// COPY's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CopyFormat {
    /// Tab-separated text with backslash escapes.
    #[default]
    Text,
    /// Comma-separated values.
    Csv,
    /// PostgreSQL's binary COPY format.
    Binary,
}

/// FORCE_QUOTE (CSV, COPY TO only).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ForceQuote {
    /// Only what needs quoting.
    #[default]
    None,
    /// `FORCE_QUOTE *`: every non-NULL value.
    All,
    /// `FORCE_QUOTE (a, b)`: those columns' non-NULL values.
    Columns(Vec<String>),
}

/// The options of a COPY statement, defaults resolved by [`CopyOptions::resolve`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopyOptions {
    /// FORMAT.
    pub format: CopyFormat,
    /// DELIMITER (tab for text, comma for CSV).
    pub delimiter: Option<char>,
    /// NULL (`\N` for text, empty for CSV).
    pub null: Option<String>,
    /// HEADER.
    pub header: bool,
    /// QUOTE (CSV; `"`).
    pub quote: Option<char>,
    /// ESCAPE (CSV; the quote character).
    pub escape: Option<char>,
    /// FORCE_QUOTE.
    pub force_quote: ForceQuote,
}

impl CopyOptions {
    /// The delimiter in force.
    pub fn delimiter(&self) -> char {
        self.delimiter.unwrap_or(match self.format {
            CopyFormat::Csv => ',',
            _ => '\t',
        })
    }

    /// The NULL string in force.
    pub fn null(&self) -> String {
        self.null.clone().unwrap_or_else(|| match self.format {
            CopyFormat::Csv => String::new(),
            _ => "\\N".into(),
        })
    }

    /// The CSV quote character in force.
    pub fn quote(&self) -> char {
        self.quote.unwrap_or('"')
    }

    /// The CSV escape character in force.
    pub fn escape(&self) -> char {
        self.escape.unwrap_or_else(|| self.quote())
    }

    /// PostgreSQL's checks of the option combination (`ProcessCopyOptions`).
    pub fn check(&self) -> Result<()> {
        let csv = self.format == CopyFormat::Csv;
        let binary = self.format == CopyFormat::Binary;
        if binary && self.delimiter.is_some() {
            crate::bail!(
                sqlstate::SYNTAX_ERROR,
                "cannot specify DELIMITER in BINARY mode"
            );
        }
        if binary && self.null.is_some() {
            crate::bail!(sqlstate::SYNTAX_ERROR, "cannot specify NULL in BINARY mode");
        }
        if binary && self.header {
            crate::bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "cannot specify HEADER in BINARY mode"
            );
        }
        if !csv && self.quote.is_some() {
            crate::bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "COPY quote available only in CSV mode"
            );
        }
        if !csv && self.escape.is_some() {
            crate::bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "COPY escape available only in CSV mode"
            );
        }
        if !csv && self.force_quote != ForceQuote::None {
            crate::bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "COPY force quote available only in CSV mode"
            );
        }
        let d = self.delimiter();
        if d == '\r' || d == '\n' {
            crate::bail!(
                sqlstate::INVALID_PARAMETER_VALUE,
                "COPY delimiter cannot be newline or carriage return"
            );
        }
        if !csv && (d == '\\' || d.is_ascii_lowercase() || d.is_ascii_digit() || d == '.') {
            crate::bail!(
                sqlstate::INVALID_PARAMETER_VALUE,
                "COPY delimiter cannot be \"{}\"",
                d
            );
        }
        if csv && d == self.quote() {
            crate::bail!(
                sqlstate::INVALID_PARAMETER_VALUE,
                "COPY delimiter and quote must be different"
            );
        }
        if self.null().contains(d) {
            crate::bail!(
                sqlstate::INVALID_PARAMETER_VALUE,
                "COPY delimiter must not appear in the NULL specification"
            );
        }
        Ok(())
    }
}

/// Renders `rows` (with their `fields`) as COPY TO payloads: header or signature
/// first when there is one, then one payload per row, then the binary trailer.
pub fn encode(
    fields: &[FieldDesc],
    rows: &[Vec<Value>],
    opts: &CopyOptions,
    fo: &FormatOptions,
) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(rows.len() + 2);
    match opts.format {
        CopyFormat::Binary => {
            let mut head = b"PGCOPY\n\xff\r\n\0".to_vec();
            head.extend_from_slice(&0i32.to_be_bytes());
            head.extend_from_slice(&0i32.to_be_bytes());
            out.push(head);
            for row in rows {
                let mut b = Vec::new();
                b.extend_from_slice(&(row.len() as i16).to_be_bytes());
                for (i, v) in row.iter().enumerate() {
                    if matches!(v, Value::Null) {
                        b.extend_from_slice(&(-1i32).to_be_bytes());
                    } else {
                        let ty = fields
                            .get(i)
                            .and_then(|f| types::DataType::from_oid(f.type_oid));
                        let bytes = match ty {
                            Some(t) => types::encode_binary_as(v, t),
                            None => types::encode_binary(v),
                        };
                        b.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                        b.extend_from_slice(&bytes);
                    }
                }
                out.push(b);
            }
            out.push((-1i16).to_be_bytes().to_vec());
        }
        CopyFormat::Text | CopyFormat::Csv => {
            let forced: Vec<bool> = fields
                .iter()
                .map(|f| match &opts.force_quote {
                    ForceQuote::None => false,
                    ForceQuote::All => true,
                    ForceQuote::Columns(c) => c.contains(&f.name),
                })
                .collect();
            if opts.header {
                let names: Vec<Option<String>> =
                    fields.iter().map(|f| Some(f.name.clone())).collect();
                out.push(line(&names, &vec![false; fields.len()], opts, true));
            }
            for row in rows {
                let texts: Vec<Option<String>> = row
                    .iter()
                    .map(|v| match v {
                        Value::Null => None,
                        v => Some(types::format_text(v, fo)),
                    })
                    .collect();
                out.push(line(&texts, &forced, opts, false));
            }
        }
    }
    out
}

/// One text or CSV line (with its newline). A header's names are never NULL and are
/// quoted like values (CSV).
fn line(values: &[Option<String>], forced: &[bool], opts: &CopyOptions, header: bool) -> Vec<u8> {
    let delim = opts.delimiter();
    let null = opts.null();
    let mut s = String::new();
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            s.push(delim);
        }
        match v {
            None => s.push_str(&null),
            Some(v) => match opts.format {
                CopyFormat::Csv => csv_field(&mut s, v, opts, forced[i] || (!header && *v == null)),
                _ => text_field(&mut s, v, delim),
            },
        }
    }
    s.push('\n');
    s.into_bytes()
}

fn text_field(s: &mut String, v: &str, delim: char) {
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            '\u{8}' => s.push_str("\\b"),
            '\u{c}' => s.push_str("\\f"),
            '\u{b}' => s.push_str("\\v"),
            c if c == delim => {
                s.push('\\');
                s.push(c);
            }
            c => s.push(c),
        }
    }
}

fn csv_field(s: &mut String, v: &str, opts: &CopyOptions, force: bool) {
    let (delim, quote, escape) = (opts.delimiter(), opts.quote(), opts.escape());
    let needs = force
        || v.chars()
            .any(|c| c == delim || c == quote || c == '\r' || c == '\n')
        // PostgreSQL also quotes a lone end-of-data marker.
        || v == "\\.";
    if !needs {
        s.push_str(v);
        return;
    }
    s.push(quote);
    for c in v.chars() {
        if c == quote || c == escape {
            s.push(escape);
        }
        s.push(c);
    }
    s.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str) -> FieldDesc {
        FieldDesc {
            name: name.into(),
            table_oid: 0,
            column_id: 0,
            type_oid: 25,
            type_len: -1,
            typmod: -1,
        }
    }

    fn render(rows: Vec<Vec<Value>>, opts: CopyOptions) -> String {
        let fields = [f("a"), f("b")];
        encode(&fields, &rows, &opts, &FormatOptions::default())
            .into_iter()
            .map(|b| String::from_utf8(b).unwrap())
            .collect()
    }

    #[test]
    fn text_escapes_and_nulls() {
        let rows = vec![
            vec![Value::Text("a\tb\\c\nd".into()), Value::Null],
            vec![Value::Int4(1), Value::Text(String::new())],
        ];
        assert_eq!(
            render(rows, CopyOptions::default()),
            "a\\tb\\\\c\\nd\t\\N\n1\t\n"
        );
    }

    #[test]
    fn csv_quoting_as_postgresql() {
        let rows = vec![
            vec![Value::Text("x,y".into()), Value::Text("say \"hi\"".into())],
            vec![Value::Text(String::new()), Value::Null],
            vec![Value::Text("plain".into()), Value::Text("\\.".into())],
        ];
        let opts = CopyOptions {
            format: CopyFormat::Csv,
            header: true,
            ..Default::default()
        };
        assert_eq!(
            render(rows.clone(), opts),
            "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n\"\",\nplain,\"\\.\"\n"
        );
        let opts = CopyOptions {
            format: CopyFormat::Csv,
            force_quote: ForceQuote::All,
            ..Default::default()
        };
        assert!(render(rows, opts).starts_with("\"x,y\",\"say"));
    }

    #[test]
    fn binary_framing() {
        let fields = [f("a")];
        let out = encode(
            &fields,
            &[vec![Value::Int4(7)], vec![Value::Null]],
            &CopyOptions {
                format: CopyFormat::Binary,
                ..Default::default()
            },
            &FormatOptions::default(),
        );
        assert_eq!(&out[0][..11], b"PGCOPY\n\xff\r\n\0");
        assert_eq!(out[1], [0, 1, 0, 0, 0, 4, 0, 0, 0, 7]);
        assert_eq!(out[2], [0, 1, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(out[3], [0xff, 0xff]);
    }

    #[test]
    fn option_checks() {
        let bad = CopyOptions {
            format: CopyFormat::Text,
            quote: Some('\''),
            ..Default::default()
        };
        assert_eq!(bad.check().unwrap_err().code, "0A000");
        let bad = CopyOptions {
            format: CopyFormat::Csv,
            delimiter: Some('"'),
            ..Default::default()
        };
        assert!(bad.check().is_err());
        assert!(CopyOptions::default().check().is_ok());
    }
}
