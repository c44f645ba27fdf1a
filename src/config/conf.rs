//! The reader of `postgresql.conf`-syntax files (also postgresql.auto.conf and the legacy
//! recovery.conf), with PostgreSQL 15's lexical rules and include directives.
//!
//! What it owns: turning a file into an ordered list of [`ConfEntry`] (name, value as
//! written after unquoting, file, line), following `include`, `include_if_exists` and
//! `include_dir`, and producing PostgreSQL's LOG texts for everything that goes wrong
//! (syntax errors, missing files, recursion). It does not know what the names mean:
//! checking names and values is the caller's job ([`super::ServerConfig`]).
//!
//! Syntax, per line: `name [=] value [# comment]`. A name is an identifier, optionally
//! qualified by one dot (`myext.setting`). A value is a single-quoted string (`''` and
//! backslash escapes `\n \t \b \f \r \ooo`), an identifier or unquoted string
//! (`replica`, `local0`; a path must be quoted), or a number with an optional attached unit (`8MB`, `0.9`,
//! `-1`, `0x1F`). Blank lines and comments are skipped. Anything else is
//! `syntax error in file "F" line N, near token "T"` (or `near end of line`); parsing goes
//! on so every bad line is reported, then the whole file counts as failed.
//!
//! Invariants: relative include paths are resolved against the directory of the file
//! that names them; `include_dir` reads only `*.conf` files not starting with a dot, in
//! byte order of their names; nesting deeper than 10 files or a file including itself
//! is an error.
//!
//! Walk through `include 'extra.conf'` on line 4 of /d/postgresql.conf:
//! 1. the line lexes as identifier `include` + string `extra.conf`;
//! 2. the path is made absolute against /d, checked against the including file
//!    (direct recursion) and the depth limit;
//! 3. /d/extra.conf is parsed recursively and its entries are spliced in at this point,
//!    so later lines of postgresql.conf still override them.

use std::path::{Path, PathBuf};

/// One `name = value` line of a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfEntry {
    /// The parameter name as written in the file.
    pub name: String,
    /// The value with quotes removed and escapes processed.
    pub value: String,
    /// The absolute path of the file that holds the line.
    pub file: PathBuf,
    /// The 1-based line number.
    pub line: usize,
}

/// A server log line with PostgreSQL's severity prefix and optional DETAIL/HINT lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// `LOG`, `WARNING` or `FATAL`.
    pub level: &'static str,
    /// The primary message.
    pub message: String,
    /// An optional DETAIL sentence.
    pub detail: Option<String>,
    /// An optional HINT sentence.
    pub hint: Option<String>,
}

impl LogLine {
    /// A LOG-level line with no detail or hint.
    pub fn log(message: impl Into<String>) -> LogLine {
        LogLine {
            level: "LOG",
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    /// A LOG-level line built from an error's message, detail and hint.
    pub fn from_error(e: &crate::error::Error) -> LogLine {
        LogLine {
            level: "LOG",
            message: e.message.clone(),
            detail: e.detail.clone(),
            hint: e.hint.clone(),
        }
    }

    /// The line as PostgreSQL prints it after the log prefix: `LOG:  message`, then
    /// `DETAIL:  …` and `HINT:  …` lines when present.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!("{}:  {}", self.level, self.message)];
        if let Some(d) = &self.detail {
            out.push(format!("DETAIL:  {d}"));
        }
        if let Some(h) = &self.hint {
            out.push(format!("HINT:  {h}"));
        }
        out
    }
}

/// The deepest include nesting PostgreSQL allows.
pub const MAX_DEPTH: usize = 10;

/// The result of reading a file tree: the entries in order and the LOG lines of every
/// problem found; `ok` is false when any problem makes the file unusable.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// Entries in file order, includes spliced in place.
    pub entries: Vec<ConfEntry>,
    /// Problems found (and notices such as skipped optional files).
    pub logs: Vec<LogLine>,
    /// False when a syntax error, a missing required file or recursion was found.
    pub ok: bool,
}

/// Reads `path` and everything it includes. A missing `path` is an error.
/// Returns the entries, or the LOG lines that explain why the file is unusable.
pub fn parse_file(path: &Path) -> Result<Vec<ConfEntry>, Vec<LogLine>> {
    let mut p = Parsed {
        ok: true,
        ..Parsed::default()
    };
    read_into(path, None, true, 0, &mut p);
    if p.ok {
        Ok(p.entries)
    } else {
        Err(p.logs.into_iter().filter(|l| l.level != "NOTE").collect())
    }
}

/// Reads `path` (resolved against `calling_file`'s directory when relative) into `out`.
/// `strict` false means a missing file is skipped with a LOG notice.
pub fn read_into(
    path: &Path,
    calling_file: Option<&Path>,
    strict: bool,
    depth: usize,
    out: &mut Parsed,
) {
    if depth > MAX_DEPTH {
        out.logs.push(LogLine::log(format!(
            "could not open configuration file \"{}\": maximum nesting depth exceeded",
            path.display()
        )));
        out.ok = false;
        return;
    }
    let abs = absolute(path, calling_file);
    if calling_file == Some(abs.as_path()) {
        out.logs.push(LogLine::log(format!(
            "configuration file recursion in \"{}\"",
            abs.display()
        )));
        out.ok = false;
        return;
    }
    let text = match std::fs::read(&abs) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if !strict && e.kind() == std::io::ErrorKind::NotFound => {
            out.logs.push(LogLine {
                level: "NOTE",
                message: format!("skipping missing configuration file \"{}\"", abs.display()),
                detail: None,
                hint: None,
            });
            return;
        }
        Err(e) => {
            out.logs.push(LogLine::log(format!(
                "could not open configuration file \"{}\": {}",
                abs.display(),
                io_text(&e)
            )));
            out.ok = false;
            return;
        }
    };
    parse_text(&text, &abs, depth, out);
}

/// The C library's text for an I/O error (`No such file or directory`), without Rust's
/// ` (os error 2)` suffix.
pub fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn absolute(path: &Path, calling_file: Option<&Path>) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    let base = match calling_file.and_then(Path::parent) {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_dir().unwrap_or_default(),
    };
    base.join(path)
}

/// One lexical token of a configuration line.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// An identifier, possibly qualified by one dot.
    Ident(String),
    /// An unquoted string, number or identifier usable only as a value.
    Unquoted(String),
    /// A quoted string: the text as written (for error messages) and its value.
    Quoted(String, String),
    /// The `=` sign.
    Equals,
    /// Any other character.
    Other(String),
}

impl Tok {
    fn text(&self) -> &str {
        match self {
            Tok::Ident(s) | Tok::Unquoted(s) | Tok::Other(s) => s,
            Tok::Quoted(raw, _) => raw,
            Tok::Equals => "=",
        }
    }
}

fn is_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || !c.is_ascii()
}

fn is_ident(s: &str) -> bool {
    let ok_part = |p: &str| {
        let mut cs = p.chars();
        cs.next().is_some_and(is_letter)
            && cs.all(|c| is_letter(c) || c.is_ascii_digit() || c == '$')
    };
    match s.split_once('.') {
        Some((a, b)) => ok_part(a) && ok_part(b),
        None => ok_part(s),
    }
}

/// Splits one line (without its newline) into tokens, stopping at a `#` comment.
fn lex(line: &str) -> Vec<Tok> {
    let chars: Vec<char> = line.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            break;
        } else if c == '=' {
            toks.push(Tok::Equals);
            i += 1;
        } else if c == '\'' {
            let start = i;
            i += 1;
            let mut val = String::new();
            let mut closed = false;
            while i < chars.len() {
                match chars[i] {
                    '\'' if chars.get(i + 1) == Some(&'\'') => {
                        val.push('\'');
                        i += 2;
                    }
                    '\'' => {
                        i += 1;
                        closed = true;
                        break;
                    }
                    '\\' if i + 1 < chars.len() => {
                        let n = chars[i + 1];
                        i += 2;
                        match n {
                            'b' => val.push('\u{8}'),
                            'f' => val.push('\u{c}'),
                            'n' => val.push('\n'),
                            'r' => val.push('\r'),
                            't' => val.push('\t'),
                            '0'..='7' => {
                                let mut v = n.to_digit(8).unwrap_or(0);
                                let mut k = 0;
                                while k < 2 && i < chars.len() && ('0'..='7').contains(&chars[i]) {
                                    v = v * 8 + chars[i].to_digit(8).unwrap_or(0);
                                    i += 1;
                                    k += 1;
                                }
                                val.push(char::from_u32(v & 0xff).unwrap_or('?'));
                            }
                            other => val.push(other),
                        }
                    }
                    other => {
                        val.push(other);
                        i += 1;
                    }
                }
            }
            let raw: String = chars[start..i].iter().collect();
            if closed {
                toks.push(Tok::Quoted(raw, val));
            } else {
                toks.push(Tok::Other(raw));
            }
        } else if is_letter(c) {
            let start = i;
            while i < chars.len()
                && (is_letter(chars[i]) || chars[i].is_ascii_digit() || "$-.:/".contains(chars[i]))
            {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            if is_ident(&s) {
                toks.push(Tok::Ident(s));
            } else {
                toks.push(Tok::Unquoted(s));
            }
        } else if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' {
            let start = i;
            i += 1;
            while i < chars.len() {
                let d = chars[i];
                let prev = chars[i - 1];
                if d.is_ascii_alphanumeric()
                    || d == '.'
                    || ((d == '-' || d == '+') && (prev == 'e' || prev == 'E'))
                {
                    i += 1;
                } else {
                    break;
                }
            }
            let s: String = chars[start..i].iter().collect();
            if s.chars().any(|c| c.is_ascii_digit()) {
                toks.push(Tok::Unquoted(s));
            } else {
                toks.push(Tok::Other(s));
            }
        } else {
            toks.push(Tok::Other(c.to_string()));
            i += 1;
        }
    }
    toks
}

/// Parses the text of one file (already read) into `out`; `path` is its absolute path.
pub fn parse_text(text: &str, path: &Path, depth: usize, out: &mut Parsed) {
    for (n, line) in text.lines().enumerate() {
        let lineno = n + 1;
        let toks = lex(line);
        if toks.is_empty() {
            continue;
        }
        let syntax = |near: Option<&Tok>| {
            LogLine::log(match near {
                Some(t) => format!(
                    "syntax error in file \"{}\" line {lineno}, near token \"{}\"",
                    path.display(),
                    t.text()
                ),
                None => format!(
                    "syntax error in file \"{}\" line {lineno}, near end of line",
                    path.display()
                ),
            })
        };
        let name = match &toks[0] {
            Tok::Ident(s) => s.clone(),
            t => {
                out.logs.push(syntax(Some(t)));
                out.ok = false;
                continue;
            }
        };
        let mut k = 1;
        if toks.get(k) == Some(&Tok::Equals) {
            k += 1;
        }
        let value = match toks.get(k) {
            Some(Tok::Ident(s)) | Some(Tok::Unquoted(s)) => s.clone(),
            Some(Tok::Quoted(_, v)) => v.clone(),
            other => {
                out.logs.push(syntax(other));
                out.ok = false;
                continue;
            }
        };
        if let Some(t) = toks.get(k + 1) {
            out.logs.push(syntax(Some(t)));
            out.ok = false;
            continue;
        }
        match name.to_ascii_lowercase().as_str() {
            "include" => read_into(Path::new(&value), Some(path), true, depth + 1, out),
            "include_if_exists" => read_into(Path::new(&value), Some(path), false, depth + 1, out),
            "include_dir" => include_dir(&value, path, depth + 1, out),
            _ => out.entries.push(ConfEntry {
                name,
                value,
                file: path.to_path_buf(),
                line: lineno,
            }),
        }
    }
}

fn include_dir(dir: &str, calling: &Path, depth: usize, out: &mut Parsed) {
    let abs = absolute(Path::new(dir), Some(calling));
    let rd = match std::fs::read_dir(&abs) {
        Ok(rd) => rd,
        Err(e) => {
            out.logs.push(LogLine::log(format!(
                "could not open configuration directory \"{}\": {}",
                abs.display(),
                io_text(&e)
            )));
            out.ok = false;
            return;
        }
    };
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            !n.starts_with('.') && n.ends_with(".conf")
        })
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    for f in files {
        read_into(&f, Some(calling), true, depth, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "tusk-conf-{tag}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn parse(text: &str) -> Parsed {
        let mut p = Parsed {
            ok: true,
            ..Parsed::default()
        };
        parse_text(text, Path::new("/x/postgresql.conf"), 0, &mut p);
        p
    }

    fn pairs(p: &Parsed) -> Vec<(String, String)> {
        p.entries
            .iter()
            .map(|e| (e.name.clone(), e.value.clone()))
            .collect()
    }

    #[test]
    fn lines_and_values() {
        let p = parse(
            "# comment\n\nwork_mem = 8MB\nport 5433 # trailing\na.b='it''s \\n x'\n\
             wal_level=replica\nx = -1\ny = 0.9\nz = usr/bin:/bin\nt = '1 min'\nh = 0x1F\n",
        );
        assert!(p.ok, "{:?}", p.logs);
        assert_eq!(
            pairs(&p),
            vec![
                ("work_mem".into(), "8MB".into()),
                ("port".into(), "5433".into()),
                ("a.b".into(), "it's \n x".into()),
                ("wal_level".into(), "replica".into()),
                ("x".into(), "-1".into()),
                ("y".into(), "0.9".into()),
                ("z".into(), "usr/bin:/bin".into()),
                ("t".into(), "1 min".into()),
                ("h".into(), "0x1F".into()),
            ]
        );
        assert_eq!(p.entries[1].line, 4);
        assert_eq!(parse("s = '\\101\\tb'").entries[0].value, "A\tb");
        // What pg_basebackup -R writes.
        let p = parse(
            "primary_conninfo = 'user=postgres passfile=''/root/.pgpass'' host=127.0.0.1 port=5432 sslmode=prefer'\n",
        );
        assert_eq!(
            p.entries[0].value,
            "user=postgres passfile='/root/.pgpass' host=127.0.0.1 port=5432 sslmode=prefer"
        );
    }

    #[test]
    fn syntax_errors() {
        let p = parse("work_mem = 8MB\nbad line here\nwork_mem =\nc = 1 min\n= 3\n");
        assert!(!p.ok);
        let msgs: Vec<String> = p.logs.iter().map(|l| l.message.clone()).collect();
        assert_eq!(
            msgs,
            vec![
                "syntax error in file \"/x/postgresql.conf\" line 2, near token \"here\"",
                "syntax error in file \"/x/postgresql.conf\" line 3, near end of line",
                "syntax error in file \"/x/postgresql.conf\" line 4, near token \"min\"",
                "syntax error in file \"/x/postgresql.conf\" line 5, near token \"=\"",
            ]
        );
        assert_eq!(p.entries.len(), 1);
        assert!(!parse("a = 'unterminated").ok);
    }

    #[test]
    fn includes() {
        let d = tmpdir("inc");
        std::fs::create_dir(d.join("conf.d")).unwrap();
        std::fs::write(
            d.join("postgresql.conf"),
            "a = 1\ninclude 'sub.conf'\ninclude_if_exists 'missing.conf'\ninclude_dir 'conf.d'\nb = 9\n",
        )
        .unwrap();
        std::fs::write(d.join("sub.conf"), "b = 2\n").unwrap();
        std::fs::write(d.join("conf.d/20-x.conf"), "c = 20\n").unwrap();
        std::fs::write(d.join("conf.d/10-x.conf"), "c = 10\n").unwrap();
        std::fs::write(d.join("conf.d/.hidden.conf"), "c = 99\n").unwrap();
        std::fs::write(d.join("conf.d/notconf.txt"), "c = 98\n").unwrap();
        let entries = parse_file(&d.join("postgresql.conf")).unwrap();
        let got: Vec<(String, String)> = entries
            .iter()
            .map(|e| (e.name.clone(), e.value.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "2".into()),
                ("c".into(), "10".into()),
                ("c".into(), "20".into()),
                ("b".into(), "9".into()),
            ]
        );
        assert_eq!(entries[1].file, d.join("sub.conf"));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn include_errors() {
        let d = tmpdir("incerr");
        std::fs::write(d.join("a.conf"), "include 'nonexist.conf'\n").unwrap();
        std::fs::write(d.join("b.conf"), "include_dir 'nodir'\n").unwrap();
        std::fs::write(d.join("c.conf"), "include 'c.conf'\n").unwrap();
        std::fs::write(d.join("d.conf"), "include 'e.conf'\n").unwrap();
        std::fs::write(d.join("e.conf"), "include 'd.conf'\n").unwrap();
        let first = |f: &str| parse_file(&d.join(f)).unwrap_err()[0].message.clone();
        assert_eq!(
            first("a.conf"),
            format!(
                "could not open configuration file \"{}\": No such file or directory",
                d.join("nonexist.conf").display()
            )
        );
        assert_eq!(
            first("b.conf"),
            format!(
                "could not open configuration directory \"{}\": No such file or directory",
                d.join("nodir").display()
            )
        );
        assert_eq!(
            first("c.conf"),
            format!(
                "configuration file recursion in \"{}\"",
                d.join("c.conf").display()
            )
        );
        assert!(first("d.conf").ends_with("maximum nesting depth exceeded"));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
