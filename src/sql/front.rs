//! tusk's own small front parser (DESIGN §6): splits a query string into statements and
//! parses the statements `sqlparser` cannot (or that are simpler to take whole): role
//! statements (`CREATE ROLE … ENCRYPTED PASSWORD`, `CREATE USER … WITH PASSWORD`,
//! `ALTER ROLE`, `DROP ROLE`), `CHECKPOINT`, `ALTER SYSTEM`, `SET`/`RESET`/`SHOW`, and
//! the transaction statements. Everything else goes to `sqlparser`.

use crate::error::{sqlstate, Result};
use crate::{bail, err};

/// One statement of a query string, with its 0-based character offset in that string.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    /// The statement text (without the terminating semicolon).
    pub text: String,
    /// Character offset of the text's start in the whole query string.
    pub offset: usize,
}

/// Splits a query string at top-level semicolons (outside quotes, dollar quotes and
/// comments). Empty statements are dropped.
pub fn split_statements(sql: &str) -> Vec<Piece> {
    // The common case first: one statement, perhaps with its semicolon, and nothing
    // before it that could hide a semicolon (a quote or a comment).
    let body = sql.trim_end();
    let body = body.strip_suffix(';').unwrap_or(body);
    if !body.contains([';', '\'', '"', '$']) && !body.contains("--") && !body.contains("/*") {
        return if is_blank(body) {
            Vec::new()
        } else {
            vec![Piece {
                text: body.to_string(),
                offset: 0,
            }]
        };
    }
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let n = chars.len();
    let push = |from: usize, to: usize, out: &mut Vec<Piece>| {
        let text: String = chars[from..to].iter().collect();
        if !is_blank(&text) {
            out.push(Piece { text, offset: from });
        }
    };
    while i < n {
        let c = chars[i];
        match c {
            '\'' | '"' => {
                i += 1;
                while i < n {
                    if chars[i] == c {
                        if i + 1 < n && chars[i + 1] == c {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            '-' if i + 1 < n && chars[i + 1] == '-' => {
                while i < n && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if i + 1 < n && chars[i + 1] == '*' => {
                let mut depth = 0;
                while i < n {
                    if chars[i] == '/' && i + 1 < n && chars[i + 1] == '*' {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && i + 1 < n && chars[i + 1] == '/' {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            '$' => {
                // A dollar quote: $tag$ ... $tag$.
                let mut j = i + 1;
                while j < n && (chars[j].is_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                let starts_digit = i + 1 < n && chars[i + 1].is_ascii_digit();
                if j < n && chars[j] == '$' && !starts_digit {
                    let tag: String = chars[i..=j].iter().collect();
                    let tag_chars: Vec<char> = tag.chars().collect();
                    i = j + 1;
                    while i < n {
                        if chars[i..].starts_with(&tag_chars) {
                            i += tag_chars.len();
                            break;
                        }
                        i += 1;
                    }
                } else {
                    i += 1;
                }
            }
            ';' => {
                push(start, i, &mut out);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    push(start, n, &mut out);
    out
}

/// Whether a text holds only whitespace and comments.
pub fn is_blank(s: &str) -> bool {
    let mut rest = s.trim_start();
    loop {
        if rest.is_empty() {
            return true;
        }
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map(|x| x.1).unwrap_or("").trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            match r.find("*/") {
                Some(p) => rest = r[p + 2..].trim_start(),
                None => return true,
            }
        } else {
            return false;
        }
    }
}

/// A token of the front parser.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A keyword or unquoted identifier, lower-cased.
    Word(String),
    /// A double-quoted identifier, as written.
    Quoted(String),
    /// A single-quoted string.
    Str(String),
    /// A number as written.
    Num(String),
    /// Punctuation (`=`, `,`, `(`, `)`, `.`, `-`, …).
    Punct(char),
}

/// Tokenizes a statement; `None` if it holds something the front parser does not know.
pub fn tokenize(s: &str) -> Option<Vec<Tok>> {
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '-' && c.get(i + 1) == Some(&'-') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if ch == '\'' || ((ch == 'e' || ch == 'E') && c.get(i + 1) == Some(&'\'')) {
            let escape = ch != '\'';
            let (v, next) = scan_quoted(&c, i + if escape { 2 } else { 1 }, '\'', escape)?;
            i = next;
            out.push(Tok::Str(v));
        } else if ch == '"' {
            let (v, next) = scan_quoted(&c, i + 1, '"', false)?;
            i = next;
            out.push(Tok::Quoted(v));
        } else if ch.is_ascii_digit()
            || (ch == '.' && c.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let st = i;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '.') {
                i += 1;
            }
            out.push(Tok::Num(c[st..i].iter().collect()));
        } else if ch.is_alphabetic() || ch == '_' {
            let st = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_' || c[i] == '$') {
                i += 1;
            }
            out.push(Tok::Word(
                c[st..i].iter().collect::<String>().to_lowercase(),
            ));
        } else if "=,().-+*;:/".contains(ch) {
            out.push(Tok::Punct(ch));
            i += 1;
        } else {
            return None;
        }
    }
    Some(out)
}

/// A role attribute in CREATE/ALTER ROLE.
#[derive(Debug, Clone, PartialEq)]
pub enum RoleOpt {
    /// SUPERUSER / NOSUPERUSER.
    Superuser(bool),
    /// CREATEDB / NOCREATEDB.
    CreateDb(bool),
    /// CREATEROLE / NOCREATEROLE.
    CreateRole(bool),
    /// INHERIT / NOINHERIT.
    Inherit(bool),
    /// LOGIN / NOLOGIN.
    Login(bool),
    /// REPLICATION / NOREPLICATION.
    Replication(bool),
    /// BYPASSRLS / NOBYPASSRLS.
    BypassRls(bool),
    /// CONNECTION LIMIT n.
    ConnLimit(i32),
    /// [ENCRYPTED] PASSWORD 'x' / PASSWORD NULL.
    Password(Option<String>),
    /// VALID UNTIL 'timestamp'.
    ValidUntil(String),
    /// IN ROLE a, b (the new role becomes a member of these).
    InRole(Vec<String>),
    /// ROLE a, b / USER a, b (these become members of the new role).
    Role(Vec<String>),
    /// ADMIN a, b (members with admin option; treated as ROLE).
    Admin(Vec<String>),
}

/// A statement parsed by the front parser.
#[derive(Debug, Clone, PartialEq)]
pub enum FrontStmt {
    /// BEGIN / START TRANSACTION with its transaction modes.
    Begin(TxnModes),
    /// SET TRANSACTION modes (SET SESSION CHARACTERISTICS is not supported yet).
    SetTransaction(TxnModes),
    /// COMMIT / END.
    Commit,
    /// ROLLBACK / ABORT.
    Rollback,
    /// SAVEPOINT name.
    Savepoint(String),
    /// RELEASE [SAVEPOINT] name.
    Release(String),
    /// ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] name.
    RollbackTo(String),
    /// SET [SESSION | LOCAL] name TO value (None = DEFAULT).
    Set {
        /// Setting name as written (lower-cased unless quoted).
        name: String,
        /// The value, list items joined by ", ".
        value: Option<String>,
        /// SET LOCAL.
        local: bool,
    },
    /// RESET name.
    Reset(String),
    /// RESET ALL.
    ResetAll,
    /// SHOW name.
    Show(String),
    /// SHOW ALL.
    ShowAll,
    /// CHECKPOINT.
    Checkpoint,
    /// COPY table [(columns)] FROM STDIN [WITH] [(options)] / legacy options.
    CopyFrom {
        /// Table name as (schema, name).
        table: (Option<String>, String),
        /// Column list (empty = all).
        columns: Vec<String>,
        /// CSV format (else text).
        csv: bool,
        /// Field delimiter.
        delimiter: char,
        /// The NULL marker.
        null: String,
        /// CSV HEADER: skip the first line.
        header: bool,
        /// Binary format.
        binary: bool,
    },
    /// COPY table [(columns)] | (query) TO STDOUT [WITH] [(options)] / legacy options.
    CopyTo {
        /// What is copied.
        source: CopySource,
        /// The options.
        options: crate::sql::copy_out::CopyOptions,
    },
    /// COPY … FROM / TO a server file or PROGRAM: refused (42501 without the right to
    /// it, as PostgreSQL checks first; 0A000 otherwise).
    CopyFile {
        /// TO (else FROM).
        to: bool,
        /// PROGRAM (else a file name).
        program: bool,
    },
    /// DISCARD ALL | PLANS | TEMP | SEQUENCES.
    Discard(String),
    /// DEALLOCATE [PREPARE] name | ALL.
    Deallocate(Option<String>),
    /// CLOSE { name | ALL } of SQL cursors (None for ALL), see `sql::cursors`.
    /// Connection pools send `CLOSE ALL` when a connection is handed back (asyncpg).
    Close(Option<String>),
    /// FETCH / MOVE [direction] [FROM | IN] cursor, see `sql::cursors`.
    Fetch {
        /// The cursor's name.
        cursor: String,
        /// How many rows forward (None: ALL), or the direction as written when it is
        /// one tusk's forward-only cursors cannot run (`PRIOR`, `BACKWARD 2`, `0`…).
        count: std::result::Result<Option<u64>, String>,
        /// MOVE: reposition only, no rows returned.
        move_only: bool,
    },
    /// ALTER TABLE … ALTER [COLUMN] … ADD GENERATED … AS IDENTITY [(…)], see
    /// `sql::alter::add_identity`.
    AddIdentity(Box<crate::sql::alter::AddIdentity>),
    /// LOCK [TABLE] … [IN mode MODE] [NOWAIT], see `sql::lock`.
    Lock(crate::sql::lock::LockStmt),
    /// UNLISTEN { channel | * }. tusk has no LISTEN, so a session listens to nothing
    /// and there is nothing to stop; pools send `UNLISTEN *` on release (asyncpg).
    Unlisten,
    /// SET CONSTRAINTS { ALL | name [, …] } { DEFERRED | IMMEDIATE }.
    SetConstraints {
        /// The constraints as (schema, name); None for ALL.
        names: Option<Vec<(Option<String>, String)>>,
        /// DEFERRED (else IMMEDIATE).
        deferred: bool,
    },
    /// VACUUM / ANALYZE (no-ops for the in-memory store; tables are checked to exist).
    Vacuum {
        /// Whether it was ANALYZE (or VACUUM ANALYZE only: tag VACUUM).
        analyze_only: bool,
        /// Table names as (schema, name).
        tables: Vec<(Option<String>, String)>,
    },
    /// ALTER SYSTEM SET name TO value / ALTER SYSTEM RESET name (value None).
    AlterSystem {
        /// Setting name (or "all" for RESET ALL).
        name: String,
        /// The new value (None = reset).
        value: Option<String>,
    },
    /// CREATE ROLE / CREATE USER / CREATE GROUP.
    CreateRole {
        /// Role name.
        name: String,
        /// Whether it was CREATE USER (LOGIN by default).
        user: bool,
        /// Attributes.
        opts: Vec<RoleOpt>,
    },
    /// ALTER ROLE / ALTER USER with attributes.
    AlterRole {
        /// Role name.
        name: String,
        /// Attributes.
        opts: Vec<RoleOpt>,
    },
    /// ALTER ROLE x RENAME TO y.
    RenameRole {
        /// Old name.
        name: String,
        /// New name.
        new_name: String,
    },
    /// CREATE DATABASE name [WITH] [OWNER x] [CONNECTION LIMIT n] [ALLOW_CONNECTIONS b]
    /// [IS_TEMPLATE b] (other options are accepted and ignored).
    CreateDatabase {
        /// Database name.
        name: String,
        /// Options as (lower-case name, value; None = DEFAULT).
        opts: Vec<(String, Option<String>)>,
    },
    /// DROP DATABASE [IF EXISTS] name [WITH (FORCE)].
    DropDatabase {
        /// Database name.
        name: String,
        /// IF EXISTS.
        if_exists: bool,
    },
    /// DROP ROLE / DROP USER [IF EXISTS] a, b.
    DropRole {
        /// Role names.
        names: Vec<String>,
        /// IF EXISTS.
        if_exists: bool,
    },
    /// A DDL statement sqlparser cannot parse (ALTER SEQUENCE), see `sql::ddl`.
    Ddl(Box<super::ddl::DdlPlan>),
    /// GRANT / REVOKE, see `sql::acl`.
    Acl(Box<super::acl::AclStmt>),
}

struct P {
    t: Vec<Tok>,
    i: usize,
}

/// `COPY … FROM | TO [PROGRAM] 'name' [options]`: the file name (a string) is checked,
/// the options are not read (the statement is refused anyway).
fn copy_file(p: &mut P, to: bool) -> Result<FrontStmt> {
    let program = p.eat("program");
    if !matches!(p.peek(), Some(Tok::Str(_))) {
        return Err(p.syntax());
    }
    p.i = p.t.len();
    Ok(FrontStmt::CopyFile { to, program })
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn word(&self) -> Option<&str> {
        match self.peek() {
            Some(Tok::Word(w)) => Some(w),
            _ => None,
        }
    }
    fn eat(&mut self, w: &str) -> bool {
        if self.word() == Some(w) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn eat_punct(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn done(&self) -> bool {
        self.i >= self.t.len()
    }
    fn syntax(&self) -> crate::error::Error {
        let near = match self.peek() {
            None => "end of input".to_string(),
            Some(Tok::Word(w)) | Some(Tok::Num(w)) => format!("\"{w}\""),
            Some(Tok::Quoted(w)) => format!("\"\"{w}\"\""),
            Some(Tok::Str(s)) => format!("\"'{s}'\""),
            Some(Tok::Punct(c)) => format!("\"{c}\""),
        };
        if self.done() {
            err!(sqlstate::SYNTAX_ERROR, "syntax error at end of input")
        } else {
            err!(sqlstate::SYNTAX_ERROR, "syntax error at or near {near}")
        }
    }
    fn ident(&mut self) -> Result<String> {
        match self.peek().cloned() {
            Some(Tok::Quoted(w)) if w.is_empty() => Err(err!(
                sqlstate::SYNTAX_ERROR,
                "zero-length delimited identifier at or near \"\"\"\""
            )),
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => {
                self.i += 1;
                Ok(w)
            }
            _ => Err(self.syntax()),
        }
    }
    fn ident_list(&mut self) -> Result<Vec<String>> {
        let mut v = vec![self.ident()?];
        while self.eat_punct(',') {
            v.push(self.ident()?);
        }
        Ok(v)
    }
    fn end(&self) -> Result<()> {
        if self.done() {
            Ok(())
        } else {
            Err(self.syntax())
        }
    }
}

/// Scans a quoted token body starting at `i` (just after the opening quote) up to its
/// closing `quote`: a doubled quote stands for one, and with `escapes` (E'...' strings)
/// backslash sequences are decoded. Returns the text and the index after the closing
/// quote; `None` when the quote is never closed.
fn scan_quoted(c: &[char], mut i: usize, quote: char, escapes: bool) -> Option<(String, usize)> {
    let mut v = String::new();
    loop {
        let x = *c.get(i)?;
        if x == quote {
            if c.get(i + 1) == Some(&quote) {
                v.push(quote);
                i += 2;
                continue;
            }
            return Some((v, i + 1));
        }
        if escapes && x == '\\' {
            let y = *c.get(i + 1)?;
            v.push(match y {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                other => other,
            });
            i += 2;
            continue;
        }
        v.push(x);
        i += 1;
    }
}

/// Parses the statements the front parser owns; `Ok(None)` hands the text to sqlparser.
/// What `COPY … TO` reads.
#[derive(Debug, Clone, PartialEq)]
pub enum CopySource {
    /// A table (as (schema, name)) and its columns (empty = all).
    Table {
        /// The table.
        table: (Option<String>, String),
        /// The column list.
        columns: Vec<String>,
    },
    /// `COPY (query) TO`: the query's text.
    Query(String),
}

/// The text between the parenthesis at character `from` of `text` and its match
/// (outside quotes), or None.
fn parenthesized_text(text: &str, from: usize) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut depth = 0usize;
    let mut i = from;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(chars[from + 1..i].iter().collect());
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// `COPY (query) …` split into the query's text and the statement with `(q)` in its
/// place; None for anything else.
fn split_copy_query(text: &str) -> Option<(String, String)> {
    let trimmed = text.trim_start();
    let lead = text.len() - trimmed.len();
    if trimmed.len() < 4 || !trimmed[..4].eq_ignore_ascii_case("copy") {
        return None;
    }
    let after = &trimmed[4..];
    let rest = after.trim_start();
    if !rest.starts_with('(') || after.len() == rest.len() {
        return None;
    }
    let open = lead + 4 + (after.len() - rest.len());
    let open_chars = text[..open].chars().count();
    let query = parenthesized_text(text, open_chars)?;
    let close = open + 1 + query.len();
    Some((query, format!("{}(q){}", &text[..open], &text[close + 1..])))
}

/// COPY in both directions: `COPY t [(cols)] FROM STDIN …`, `COPY t [(cols)] TO
/// STDOUT …`, `COPY (query) TO STDOUT …`, with the parenthesized options and the
/// legacy ones (`CSV HEADER`, `BINARY`, `DELIMITER AS 'x'`, `NULL AS 'x'`, `QUOTE`,
/// `ESCAPE`, `FORCE QUOTE`).
fn parse_copy(p: &mut P, query: Option<String>) -> Result<FrontStmt> {
    use crate::sql::copy_out::{CopyFormat, CopyOptions, ForceQuote};
    let source = if let Some(q) = query {
        // The placeholder `(q)` that split_copy_query left.
        if !(p.eat_punct('(') && p.eat("q") && p.eat_punct(')')) {
            return Err(p.syntax());
        }
        CopySource::Query(q)
    } else {
        let first_part = p.ident()?;
        let table = if p.eat_punct('.') {
            (Some(first_part), p.ident()?)
        } else {
            (None, first_part)
        };
        let mut columns = Vec::new();
        if p.eat_punct('(') {
            columns = p.ident_list()?;
            if !p.eat_punct(')') {
                return Err(p.syntax());
            }
        }
        CopySource::Table { table, columns }
    };
    let to = if p.eat("from") {
        if matches!(source, CopySource::Query(_)) {
            return Err(p.syntax());
        }
        if !p.eat("stdin") {
            return copy_file(p, false);
        }
        false
    } else if p.eat("to") {
        if !p.eat("stdout") {
            return copy_file(p, true);
        }
        true
    } else {
        return Err(p.syntax());
    };
    p.eat("with");
    let mut o = CopyOptions::default();
    let parenthesized = p.eat_punct('(');
    let value = |p: &mut P| -> Option<String> {
        match p.peek().cloned() {
            Some(Tok::Str(v)) | Some(Tok::Word(v)) | Some(Tok::Num(v)) | Some(Tok::Quoted(v)) => {
                p.i += 1;
                Some(v)
            }
            _ => None,
        }
    };
    let one_char = |opt: &str, v: Option<String>| -> Result<char> {
        let v = v.unwrap_or_default();
        let mut cs = v.chars();
        // One byte in the server's encoding (UTF-8): an ASCII character.
        match (cs.next(), cs.next()) {
            (Some(c), None) if c.is_ascii() => Ok(c),
            _ => bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "COPY {opt} must be a single one-byte character"
            ),
        }
    };
    while let Some(w) = p.word().map(|w| w.to_string()) {
        p.i += 1;
        match w.as_str() {
            "csv" => o.format = CopyFormat::Csv,
            "binary" => o.format = CopyFormat::Binary,
            "format" => {
                o.format = match value(p).as_deref() {
                    Some("csv") => CopyFormat::Csv,
                    Some("text") => CopyFormat::Text,
                    Some("binary") => CopyFormat::Binary,
                    Some(f) => bail!(
                        sqlstate::INVALID_PARAMETER_VALUE,
                        "COPY format \"{f}\" not recognized"
                    ),
                    None => return Err(p.syntax()),
                }
            }
            "delimiter" => {
                p.eat("as");
                o.delimiter = Some(one_char("delimiter", value(p))?);
            }
            "null" => {
                p.eat("as");
                o.null = value(p);
            }
            "header" => {
                o.header = !matches!(value_if_boolean(p).as_deref(), Some("false" | "off" | "0"));
            }
            "quote" => {
                p.eat("as");
                o.quote = Some(one_char("quote", value(p))?);
            }
            "escape" => {
                p.eat("as");
                o.escape = Some(one_char("escape", value(p))?);
            }
            "force" | "force_quote" => {
                if w == "force" && !p.eat("quote") {
                    bail!(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "COPY FORCE {} is not supported yet",
                        p.word().unwrap_or("").to_uppercase()
                    );
                }
                o.force_quote = if p.eat_punct('*') {
                    ForceQuote::All
                } else if p.eat_punct('(') {
                    let cols = p.ident_list()?;
                    if !p.eat_punct(')') {
                        return Err(p.syntax());
                    }
                    ForceQuote::Columns(cols)
                } else {
                    ForceQuote::Columns(p.ident_list()?)
                };
            }
            // FREEZE, ENCODING and friends change nothing here.
            _ => {
                if parenthesized {
                    let _ = value(p);
                }
            }
        }
        p.eat_punct(',');
    }
    if parenthesized && !p.eat_punct(')') {
        return Err(p.syntax());
    }
    o.check()?;
    if to {
        return Ok(FrontStmt::CopyTo { source, options: o });
    }
    let CopySource::Table { table, columns } = source else {
        return Err(p.syntax());
    };
    if o.quote.is_some_and(|q| q != '"') || o.escape.is_some_and(|e| e != '"') {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "COPY FROM with a QUOTE or ESCAPE other than '\"' is not supported yet"
        );
    }
    if o.force_quote != ForceQuote::None {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "COPY force quote only available using COPY TO"
        );
    }
    Ok(FrontStmt::CopyFrom {
        table,
        columns,
        csv: o.format == CopyFormat::Csv,
        delimiter: o.delimiter(),
        null: o.null(),
        header: o.header,
        binary: o.format == CopyFormat::Binary,
    })
}

/// HEADER's optional boolean value (not a following option's name).
fn value_if_boolean(p: &mut P) -> Option<String> {
    match p.peek().cloned() {
        Some(Tok::Word(v)) if matches!(v.as_str(), "true" | "false" | "on" | "off" | "match") => {
            p.i += 1;
            Some(v)
        }
        Some(Tok::Str(v)) | Some(Tok::Num(v)) => {
            p.i += 1;
            Some(v.to_ascii_lowercase())
        }
        _ => None,
    }
}

/// `TABLE [IF EXISTS] [ONLY] name ALTER [COLUMN] col ADD GENERATED {ALWAYS | BY
/// DEFAULT} AS IDENTITY [( option … )]` after ALTER; `None` for any other ALTER TABLE
/// (sqlparser takes those) or an option it does not know.
fn add_identity(p: &mut P) -> Option<crate::sql::alter::AddIdentity> {
    let name = |p: &mut P| -> Option<String> {
        match p.peek().cloned() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => {
                p.i += 1;
                Some(w)
            }
            _ => None,
        }
    };
    let qualified = |p: &mut P| -> Option<(Option<String>, String)> {
        let first = name(p)?;
        if p.eat_punct('.') {
            Some((Some(first), name(p)?))
        } else {
            Some((None, first))
        }
    };
    let number = |p: &mut P| -> Option<i64> {
        let neg = p.eat_punct('-');
        match p.peek().cloned() {
            Some(Tok::Num(n)) => {
                p.i += 1;
                let v: i64 = n.parse().ok()?;
                Some(if neg { -v } else { v })
            }
            _ => None,
        }
    };
    if !p.eat("table") {
        return None;
    }
    let if_exists = p.eat("if") && p.eat("exists");
    p.eat("only");
    let table = qualified(p)?;
    if !p.eat("alter") {
        return None;
    }
    p.eat("column");
    let column = name(p)?;
    if !(p.eat("add") && p.eat("generated")) {
        return None;
    }
    let kind = if p.eat("always") {
        b'a'
    } else if p.eat("by") && p.eat("default") {
        b'd'
    } else {
        return None;
    };
    if !(p.eat("as") && p.eat("identity")) {
        return None;
    }
    let mut options = crate::sql::ddl::SeqOpts::default();
    let mut sequence_name = None;
    if p.eat_punct('(') {
        while !p.eat_punct(')') {
            if p.eat("sequence") {
                if !p.eat("name") {
                    return None;
                }
                sequence_name = Some(qualified(p)?);
            } else if p.eat("increment") {
                p.eat("by");
                options.increment = Some(number(p)?);
            } else if p.eat("start") {
                p.eat("with");
                options.start = Some(number(p)?);
            } else if p.eat("minvalue") {
                options.min = Some(Some(number(p)?));
            } else if p.eat("maxvalue") {
                options.max = Some(Some(number(p)?));
            } else if p.eat("cache") {
                options.cache = Some(number(p)?);
            } else if p.eat("cycle") {
                options.cycle = Some(true);
            } else if p.eat("no") {
                if p.eat("minvalue") {
                    options.min = Some(None);
                } else if p.eat("maxvalue") {
                    options.max = Some(None);
                } else if p.eat("cycle") {
                    options.cycle = Some(false);
                } else {
                    return None;
                }
            } else {
                return None;
            }
        }
    }
    if !p.done() {
        return None;
    }
    Some(crate::sql::alter::AddIdentity {
        table,
        if_exists,
        column,
        kind,
        options,
        sequence_name,
    })
}

pub fn parse(text: &str) -> Result<Option<FrontStmt>> {
    if let Some(d) = super::ddl::parse_front(text)? {
        return Ok(Some(FrontStmt::Ddl(Box::new(d))));
    }
    if let Some(a) = super::acl::parse_front(text)? {
        return Ok(Some(FrontStmt::Acl(Box::new(a))));
    }
    // `COPY (query) TO …`: the query is any SQL, kept as text; the rest is tokenized
    // with a placeholder in its place.
    let (copy_query, text) = match split_copy_query(text) {
        Some((q, rest)) => (Some(q), std::borrow::Cow::Owned(rest)),
        None => (None, std::borrow::Cow::Borrowed(text)),
    };
    let text: &str = &text;
    let Some(t) = tokenize(text) else {
        return Ok(None);
    };
    let mut p = P { t, i: 0 };
    let first = match p.word() {
        Some(w) => w.to_string(),
        None => return Ok(None),
    };
    p.i += 1;
    let stmt = match first.as_str() {
        "begin" => {
            let _ = p.eat("work") || p.eat("transaction");
            FrontStmt::Begin(txn_modes(&mut p)?)
        }
        "start" => {
            if !p.eat("transaction") {
                return Err(p.syntax());
            }
            FrontStmt::Begin(txn_modes(&mut p)?)
        }
        "commit" | "end" => {
            let _ = p.eat("work") || p.eat("transaction");
            FrontStmt::Commit
        }
        "rollback" | "abort" => {
            let _ = p.eat("work") || p.eat("transaction");
            if first == "rollback" && p.eat("to") {
                p.eat("savepoint");
                FrontStmt::RollbackTo(p.ident()?)
            } else {
                FrontStmt::Rollback
            }
        }
        "savepoint" => FrontStmt::Savepoint(p.ident()?),
        "release" => {
            p.eat("savepoint");
            FrontStmt::Release(p.ident()?)
        }
        "checkpoint" => FrontStmt::Checkpoint,
        "lock" => {
            use crate::sql::lock::{LockMode, LockStmt};
            p.eat("table");
            let mut tables = Vec::new();
            loop {
                p.eat("only");
                let first_part = p.ident()?;
                let t = if p.eat_punct('.') {
                    (Some(first_part), p.ident()?)
                } else {
                    (None, first_part)
                };
                p.eat_punct('*');
                tables.push(t);
                if !p.eat_punct(',') {
                    break;
                }
            }
            let mut mode = LockMode::AccessExclusive;
            if p.eat("in") {
                let mut words = Vec::new();
                while let Some(w) = p.word().filter(|w| *w != "mode") {
                    words.push(w.to_string());
                    p.i += 1;
                }
                let refs: Vec<&str> = words.iter().map(String::as_str).collect();
                mode = match LockMode::from_words(&refs) {
                    Some(m) if p.eat("mode") => m,
                    _ => return Err(p.syntax()),
                };
            }
            let nowait = p.eat("nowait");
            p.end()?;
            FrontStmt::Lock(LockStmt {
                tables,
                mode,
                nowait,
            })
        }
        "close" => {
            if p.eat("all") {
                FrontStmt::Close(None)
            } else {
                FrontStmt::Close(Some(p.ident()?))
            }
        }
        "fetch" | "move" => {
            let count = fetch_direction(&mut p)?;
            let _ = p.eat("from") || p.eat("in");
            FrontStmt::Fetch {
                cursor: p.ident()?,
                count,
                move_only: first == "move",
            }
        }
        "unlisten" => {
            if !p.eat_punct('*') {
                p.ident()?;
            }
            FrontStmt::Unlisten
        }
        "copy" => parse_copy(&mut p, copy_query)?,
        "discard" => match p.word() {
            Some(w @ ("all" | "plans" | "temp" | "temporary" | "sequences")) => {
                let w = w.to_string();
                p.i += 1;
                FrontStmt::Discard(w)
            }
            _ => return Err(p.syntax()),
        },
        "deallocate" => {
            p.eat("prepare");
            if p.eat("all") {
                FrontStmt::Deallocate(None)
            } else {
                FrontStmt::Deallocate(Some(p.ident()?))
            }
        }
        "vacuum" | "analyze" | "analyse" => {
            // Options: VACUUM (FULL, ANALYZE) t / VACUUM FULL VERBOSE ANALYZE t.
            if p.eat_punct('(') {
                while !p.done() && !p.eat_punct(')') {
                    p.i += 1;
                }
            }
            while matches!(
                p.word(),
                Some("full" | "freeze" | "verbose" | "analyze" | "analyse")
            ) {
                p.i += 1;
            }
            let mut tables = Vec::new();
            while !p.done() {
                let first_part = p.ident()?;
                let t = if p.eat_punct('.') {
                    (Some(first_part), p.ident()?)
                } else {
                    (None, first_part)
                };
                if p.eat_punct('(') {
                    while !p.done() && !p.eat_punct(')') {
                        p.i += 1;
                    }
                }
                tables.push(t);
                if !p.eat_punct(',') {
                    break;
                }
            }
            FrontStmt::Vacuum {
                analyze_only: first != "vacuum",
                tables,
            }
        }
        "show" => {
            if p.eat("all") {
                FrontStmt::ShowAll
            } else {
                let name = dotted_name(&mut p)?;
                let name = match name.as_str() {
                    "time" if p.eat("zone") => "timezone".to_string(),
                    "transaction" if p.eat("isolation") && p.eat("level") => {
                        "transaction_isolation".to_string()
                    }
                    _ => name,
                };
                FrontStmt::Show(name)
            }
        }
        "reset" => {
            if p.eat("all") {
                FrontStmt::ResetAll
            } else if p.eat("time") {
                if !p.eat("zone") {
                    return Err(p.syntax());
                }
                FrontStmt::Reset("timezone".into())
            } else {
                FrontStmt::Reset(dotted_name(&mut p)?)
            }
        }
        "set" => {
            let local = p.eat("local");
            if !local {
                p.eat("session");
            }
            if !local && p.eat("transaction") {
                return Ok(Some(FrontStmt::SetTransaction(txn_modes(&mut p)?)));
            }
            if !local && p.eat("constraints") {
                let names = if p.eat("all") {
                    None
                } else {
                    let mut names = Vec::new();
                    loop {
                        let first = p.ident()?;
                        names.push(if p.eat_punct('.') {
                            (Some(first), p.ident()?)
                        } else {
                            (None, first)
                        });
                        if !p.eat_punct(',') {
                            break;
                        }
                    }
                    Some(names)
                };
                let deferred = if p.eat("deferred") {
                    true
                } else if p.eat("immediate") {
                    false
                } else {
                    return Err(p.syntax());
                };
                if !p.done() {
                    return Err(p.syntax());
                }
                return Ok(Some(FrontStmt::SetConstraints { names, deferred }));
            }
            if matches!(
                p.word(),
                Some("role") | Some("session") | Some("transaction")
            ) {
                return Ok(None);
            }
            let (name, value) = if p.eat("time") {
                if !p.eat("zone") {
                    return Err(p.syntax());
                }
                ("timezone".to_string(), set_time_zone_value(&mut p)?)
            } else {
                let name = dotted_name(&mut p)?;
                if !(p.eat("to") || p.eat_punct('=')) {
                    return Err(p.syntax());
                }
                if name.eq_ignore_ascii_case("search_path") {
                    (name, set_ident_list(&mut p)?)
                } else {
                    (name, set_value(&mut p)?)
                }
            };
            FrontStmt::Set { name, value, local }
        }
        "alter" => {
            if p.eat("system") {
                if p.eat("set") {
                    let name = dotted_name(&mut p)?;
                    if !(p.eat("to") || p.eat_punct('=')) {
                        return Err(p.syntax());
                    }
                    let value = set_value(&mut p)?;
                    FrontStmt::AlterSystem { name, value }
                } else if p.eat("reset") {
                    let name = if p.eat("all") {
                        "all".to_string()
                    } else {
                        dotted_name(&mut p)?
                    };
                    FrontStmt::AlterSystem { name, value: None }
                } else {
                    return Err(p.syntax());
                }
            } else if p.eat("role") || p.eat("user") {
                let name = p.ident()?;
                if p.eat("rename") {
                    if !p.eat("to") {
                        return Err(p.syntax());
                    }
                    let new_name = p.ident()?;
                    p.end()?;
                    return Ok(Some(FrontStmt::RenameRole { name, new_name }));
                }
                if matches!(p.word(), Some("set") | Some("reset") | Some("in")) {
                    bail!(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "ALTER ROLE ... SET is not supported yet"
                    );
                }
                p.eat("with");
                let opts = role_opts(&mut p)?;
                FrontStmt::AlterRole { name, opts }
            } else if p.word() == Some("table") {
                match add_identity(&mut p) {
                    Some(a) => FrontStmt::AddIdentity(Box::new(a)),
                    None => return Ok(None),
                }
            } else {
                return Ok(None);
            }
        }
        "create" if p.word() == Some("database") => {
            p.i += 1;
            let name = p.ident()?;
            p.eat("with");
            let mut opts = Vec::new();
            while let Some(w) = p.word().map(|w| w.to_string()) {
                p.i += 1;
                let key = if w == "connection" {
                    if !p.eat("limit") {
                        return Err(p.syntax());
                    }
                    "connection limit".to_string()
                } else {
                    w
                };
                p.eat_punct('=');
                let neg = p.eat_punct('-');
                let v = match p.peek().cloned() {
                    Some(Tok::Word(d)) if d == "default" => None,
                    Some(Tok::Word(v)) | Some(Tok::Quoted(v)) | Some(Tok::Str(v)) => Some(v),
                    Some(Tok::Num(n)) => Some(if neg { format!("-{n}") } else { n }),
                    _ => return Err(p.syntax()),
                };
                p.i += 1;
                opts.push((key, v));
            }
            FrontStmt::CreateDatabase { name, opts }
        }
        "drop" if p.word() == Some("database") => {
            p.i += 1;
            let if_exists = if p.eat("if") {
                if !p.eat("exists") {
                    return Err(p.syntax());
                }
                true
            } else {
                false
            };
            let name = p.ident()?;
            if p.eat("with") || p.eat_punct('(') {
                while !p.done() {
                    p.i += 1;
                }
            }
            FrontStmt::DropDatabase { name, if_exists }
        }
        "create" => {
            let user = if p.eat("user") {
                if p.word() == Some("mapping") {
                    return Ok(None);
                }
                true
            } else if p.eat("role") || p.eat("group") {
                false
            } else {
                return Ok(None);
            };
            let name = p.ident()?;
            p.eat("with");
            let opts = role_opts(&mut p)?;
            FrontStmt::CreateRole { name, user, opts }
        }
        "drop" => {
            if !(p.eat("role") || p.eat("user") || p.eat("group")) {
                return Ok(None);
            }
            let if_exists = if p.eat("if") {
                if !p.eat("exists") {
                    return Err(p.syntax());
                }
                true
            } else {
                false
            };
            let names = p.ident_list()?;
            FrontStmt::DropRole { names, if_exists }
        }
        _ => return Ok(None),
    };
    p.end()?;
    Ok(Some(stmt))
}

/// A FETCH/MOVE direction: rows forward (None: ALL), or the direction as written when
/// it is not a forward count of at least one row.
fn fetch_direction(p: &mut P) -> Result<std::result::Result<Option<u64>, String>> {
    // A signed count as written, e.g. `-2`.
    fn count(p: &mut P) -> Option<String> {
        let minus = p.peek() == Some(&Tok::Punct('-'));
        let at = p.i + usize::from(minus);
        match p.t.get(at) {
            Some(Tok::Num(n)) => {
                let n = format!("{}{n}", if minus { "-" } else { "" });
                p.i = at + 1;
                Some(n)
            }
            _ => None,
        }
    }
    let forward = |n: String| match n.parse::<u64>() {
        Ok(k) if k > 0 => Ok(Some(k)),
        _ => Err(n),
    };
    Ok(match p.word() {
        Some("next") => {
            p.i += 1;
            Ok(Some(1))
        }
        Some("all") => {
            p.i += 1;
            Ok(None)
        }
        Some("forward") => {
            p.i += 1;
            if p.eat("all") {
                Ok(None)
            } else {
                match count(p) {
                    Some(n) => forward(n).map_err(|n| format!("FORWARD {n}")),
                    None => Ok(Some(1)),
                }
            }
        }
        Some("backward") => {
            p.i += 1;
            if p.eat("all") {
                Err("BACKWARD ALL".into())
            } else {
                Err(count(p).map_or("BACKWARD".into(), |n| format!("BACKWARD {n}")))
            }
        }
        Some(w @ ("prior" | "first" | "last")) => {
            let w = w.to_ascii_uppercase();
            p.i += 1;
            Err(w)
        }
        Some(w @ ("absolute" | "relative")) => {
            let w = w.to_ascii_uppercase();
            p.i += 1;
            let n = count(p).ok_or_else(|| p.syntax())?;
            Err(format!("{w} {n}"))
        }
        _ => match count(p) {
            Some(n) => forward(n),
            None => Ok(Some(1)),
        },
    })
}

/// The modes of BEGIN / START TRANSACTION / SET TRANSACTION.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxnModes {
    /// `ISOLATION LEVEL …` as transaction_isolation spells it (`repeatable read`…).
    pub isolation: Option<&'static str>,
    /// `READ ONLY` (true) or `READ WRITE` (false).
    pub read_only: Option<bool>,
    /// `[NOT] DEFERRABLE`.
    pub deferrable: Option<bool>,
}

/// Parses transaction modes, separated by commas or blanks, as PostgreSQL's grammar.
fn txn_modes(p: &mut P) -> Result<TxnModes> {
    let mut m = TxnModes::default();
    loop {
        if p.done() {
            return Ok(m);
        }
        if p.eat("isolation") {
            if !p.eat("level") {
                return Err(p.syntax());
            }
            m.isolation = Some(if p.eat("serializable") {
                "serializable"
            } else if p.eat("repeatable") {
                if !p.eat("read") {
                    return Err(p.syntax());
                }
                "repeatable read"
            } else if p.eat("read") {
                if p.eat("committed") {
                    "read committed"
                } else if p.eat("uncommitted") {
                    "read uncommitted"
                } else {
                    return Err(p.syntax());
                }
            } else {
                return Err(p.syntax());
            });
        } else if p.eat("read") {
            if p.eat("only") {
                m.read_only = Some(true);
            } else if p.eat("write") {
                m.read_only = Some(false);
            } else {
                return Err(p.syntax());
            }
        } else if p.eat("deferrable") {
            m.deferrable = Some(true);
        } else if p.eat("not") {
            if !p.eat("deferrable") {
                return Err(p.syntax());
            }
            m.deferrable = Some(false);
        } else {
            return Err(p.syntax());
        }
        let _ = p.eat_punct(',');
    }
}

fn dotted_name(p: &mut P) -> Result<String> {
    let mut name = p.ident()?;
    while p.eat_punct('.') {
        name.push('.');
        name.push_str(&p.ident()?);
    }
    Ok(name)
}

/// Parses a SET value list: DEFAULT, or items (words, strings, numbers) joined by ", ".
fn set_value(p: &mut P) -> Result<Option<String>> {
    if p.eat("default") {
        return Ok(None);
    }
    let mut items = Vec::new();
    loop {
        let neg = p.eat_punct('-');
        let item = match p.peek().cloned() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) | Some(Tok::Str(w)) => w,
            Some(Tok::Num(n)) => {
                if neg {
                    format!("-{n}")
                } else {
                    n
                }
            }
            _ => return Err(p.syntax()),
        };
        p.i += 1;
        items.push(item);
        if !p.eat_punct(',') {
            break;
        }
    }
    Ok(Some(items.join(", ")))
}

/// The value of `SET TIME ZONE`: `LOCAL` and `DEFAULT` (the configured zone), `INTERVAL
/// 'x' [HOUR [TO MINUTE]]` (passed on as `INTERVAL '…'` in interval output form, as
/// PostgreSQL flattens it for the setting's check), or any ordinary setting value.
fn set_time_zone_value(p: &mut P) -> Result<Option<String>> {
    if p.eat("local") {
        return Ok(None);
    }
    if !p.eat("interval") {
        return set_value(p);
    }
    let Some(Tok::Str(text)) = p.peek().cloned() else {
        return Err(p.syntax());
    };
    p.i += 1;
    let mut text = text;
    if p.eat("hour") {
        if p.eat("to") && !p.eat("minute") {
            return Err(p.syntax());
        }
        // A bare number with an HOUR qualifier counts hours.
        if text.trim().parse::<f64>().is_ok() {
            text = format!("{text} hours");
        }
    } else if matches!(
        p.word(),
        Some("year" | "month" | "day" | "minute" | "second")
    ) {
        bail!(
            sqlstate::SYNTAX_ERROR,
            "time zone interval must be HOUR or HOUR TO MINUTE"
        );
    }
    let iv = crate::types::parse_interval(&text)?;
    Ok(Some(format!(
        "INTERVAL '{}'",
        crate::types::format_interval(&iv)
    )))
}

/// Parses the value of a list setting of identifiers (`search_path`), quoting each
/// item as PostgreSQL's `GUC_LIST_QUOTE` does: `s1, "My Schema", "$user"`.
fn set_ident_list(p: &mut P) -> Result<Option<String>> {
    if p.eat("default") {
        return Ok(None);
    }
    let mut items = Vec::new();
    loop {
        let item = match p.peek().cloned() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) | Some(Tok::Str(w)) => w,
            _ => return Err(p.syntax()),
        };
        p.i += 1;
        items.push(super::ddl::quote_ident(&item));
        if !p.eat_punct(',') {
            break;
        }
    }
    Ok(Some(items.join(", ")))
}

fn role_opts(p: &mut P) -> Result<Vec<RoleOpt>> {
    let mut v = Vec::new();
    while let Some(w) = p.word().map(|s| s.to_string()) {
        p.i += 1;
        let o = match w.as_str() {
            "superuser" => RoleOpt::Superuser(true),
            "nosuperuser" => RoleOpt::Superuser(false),
            "createdb" => RoleOpt::CreateDb(true),
            "nocreatedb" => RoleOpt::CreateDb(false),
            "createrole" => RoleOpt::CreateRole(true),
            "nocreaterole" => RoleOpt::CreateRole(false),
            "inherit" => RoleOpt::Inherit(true),
            "noinherit" => RoleOpt::Inherit(false),
            "login" => RoleOpt::Login(true),
            "nologin" => RoleOpt::Login(false),
            "replication" => RoleOpt::Replication(true),
            "noreplication" => RoleOpt::Replication(false),
            "bypassrls" => RoleOpt::BypassRls(true),
            "nobypassrls" => RoleOpt::BypassRls(false),
            "connection" => {
                if !p.eat("limit") {
                    return Err(p.syntax());
                }
                let neg = p.eat_punct('-');
                match p.peek().cloned() {
                    Some(Tok::Num(n)) => {
                        p.i += 1;
                        let n: i32 = n.parse().map_err(|_| p.syntax())?;
                        RoleOpt::ConnLimit(if neg { -n } else { n })
                    }
                    _ => return Err(p.syntax()),
                }
            }
            "encrypted" | "unencrypted" | "password" => {
                if w == "unencrypted" {
                    bail!(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "UNENCRYPTED PASSWORD is no longer supported"
                    );
                }
                if w == "encrypted" && !p.eat("password") {
                    return Err(p.syntax());
                }
                match p.peek().cloned() {
                    Some(Tok::Str(s)) => {
                        p.i += 1;
                        RoleOpt::Password(Some(s))
                    }
                    Some(Tok::Word(n)) if n == "null" => {
                        p.i += 1;
                        RoleOpt::Password(None)
                    }
                    _ => return Err(p.syntax()),
                }
            }
            "valid" => {
                if !p.eat("until") {
                    return Err(p.syntax());
                }
                match p.peek().cloned() {
                    Some(Tok::Str(s)) => {
                        p.i += 1;
                        RoleOpt::ValidUntil(s)
                    }
                    _ => return Err(p.syntax()),
                }
            }
            "in" => {
                if !(p.eat("role") || p.eat("group")) {
                    return Err(p.syntax());
                }
                RoleOpt::InRole(p.ident_list()?)
            }
            "role" | "user" => RoleOpt::Role(p.ident_list()?),
            "admin" => RoleOpt::Admin(p.ident_list()?),
            "sysid" => {
                p.i += 1;
                continue;
            }
            _ => {
                p.i -= 1;
                return Err(p.syntax());
            }
        };
        v.push(o);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_top_level_semicolons() {
        let p = split_statements("select 'a;b'; select $$x;y$$ ; -- c;\n select 1;");
        let texts: Vec<&str> = p.iter().map(|x| x.text.trim()).collect();
        assert_eq!(
            texts,
            vec!["select 'a;b'", "select $$x;y$$", "-- c;\n select 1"]
        );
        assert_eq!(p[1].offset, 13);
        assert!(split_statements(" ; -- nothing").is_empty());
        // One statement (the shortcut) comes out as the general path makes it.
        for (sql, text) in [
            ("END;", "END"),
            (
                "  UPDATE t SET a = 1 WHERE b = 2 ;\n",
                "  UPDATE t SET a = 1 WHERE b = 2 ",
            ),
            ("select 1", "select 1"),
            ("select 'a;", "select 'a;"),
            ("select 1 -- x;", "select 1 -- x;"),
        ] {
            let p = split_statements(sql);
            assert_eq!(
                p,
                vec![Piece {
                    text: text.into(),
                    offset: 0
                }],
                "{sql}"
            );
        }
        assert!(split_statements(" ;\n").is_empty() && split_statements("").is_empty());
    }

    #[test]
    fn parses_role_statements() {
        assert_eq!(
            parse("CREATE ROLE repl login replication encrypted password 'repl'").unwrap(),
            Some(FrontStmt::CreateRole {
                name: "repl".into(),
                user: false,
                opts: vec![
                    RoleOpt::Login(true),
                    RoleOpt::Replication(true),
                    RoleOpt::Password(Some("repl".into()))
                ]
            })
        );
        assert_eq!(
            parse("create user \"Bob\" with password 'x' connection limit -1 valid until '2030-01-01'")
                .unwrap(),
            Some(FrontStmt::CreateRole {
                name: "Bob".into(),
                user: true,
                opts: vec![
                    RoleOpt::Password(Some("x".into())),
                    RoleOpt::ConnLimit(-1),
                    RoleOpt::ValidUntil("2030-01-01".into())
                ]
            })
        );
        assert_eq!(
            parse("drop role if exists a, b").unwrap(),
            Some(FrontStmt::DropRole {
                names: vec!["a".into(), "b".into()],
                if_exists: true
            })
        );
        assert!(parse("create role x bogus")
            .unwrap_err()
            .message
            .contains("bogus"));
        assert_eq!(parse("create table t (a int)").unwrap(), None);
    }

    #[test]
    fn parses_set_show_and_system() {
        assert_eq!(
            parse("SET search_path TO a, \"B\"").unwrap(),
            Some(FrontStmt::Set {
                name: "search_path".into(),
                // PostgreSQL keeps list items quoted where needed (GUC_LIST_QUOTE).
                value: Some("a, \"B\"".into()),
                local: false
            })
        );
        assert_eq!(
            parse("set local statement_timeout = '5s'").unwrap(),
            Some(FrontStmt::Set {
                name: "statement_timeout".into(),
                value: Some("5s".into()),
                local: true
            })
        );
        assert_eq!(
            parse("SHOW DateStyle").unwrap(),
            Some(FrontStmt::Show("datestyle".into()))
        );
        assert_eq!(
            parse("alter system set work_mem = '8MB'").unwrap(),
            Some(FrontStmt::AlterSystem {
                name: "work_mem".into(),
                value: Some("8MB".into())
            })
        );
        assert_eq!(parse("checkpoint").unwrap(), Some(FrontStmt::Checkpoint));
        assert_eq!(parse("CLOSE ALL").unwrap(), Some(FrontStmt::Close(None)));
        assert_eq!(
            parse("close \"Cur\"").unwrap(),
            Some(FrontStmt::Close(Some("Cur".into())))
        );
        assert_eq!(parse("UNLISTEN *").unwrap(), Some(FrontStmt::Unlisten));
        let fetch = |cursor: &str, count, move_only| {
            Some(FrontStmt::Fetch {
                cursor: cursor.into(),
                count,
                move_only,
            })
        };
        assert_eq!(parse("FETCH c").unwrap(), fetch("c", Ok(Some(1)), false));
        assert_eq!(
            parse("fetch forward 20 from \"C\"").unwrap(),
            fetch("C", Ok(Some(20)), false)
        );
        assert_eq!(
            parse("FETCH ALL IN c").unwrap(),
            fetch("c", Ok(None), false)
        );
        assert_eq!(parse("MOVE 3 c").unwrap(), fetch("c", Ok(Some(3)), true));
        assert_eq!(
            parse("FETCH -2 FROM c").unwrap(),
            fetch("c", Err("-2".into()), false)
        );
        assert_eq!(
            parse("FETCH absolute 4 FROM c").unwrap(),
            fetch("c", Err("ABSOLUTE 4".into()), false)
        );
        assert_eq!(
            parse("FETCH BACKWARD FROM c").unwrap(),
            fetch("c", Err("BACKWARD".into()), false)
        );
        assert_eq!(parse("unlisten chan").unwrap(), Some(FrontStmt::Unlisten));
        assert_eq!(
            parse("UNLISTEN 1").unwrap_err().message,
            "syntax error at or near \"1\""
        );
        assert_eq!(
            parse("start transaction isolation level read committed").unwrap(),
            Some(FrontStmt::Begin(TxnModes {
                isolation: Some("read committed"),
                ..TxnModes::default()
            }))
        );
        assert_eq!(
            parse("begin read only, not deferrable isolation level repeatable read").unwrap(),
            Some(FrontStmt::Begin(TxnModes {
                isolation: Some("repeatable read"),
                read_only: Some(true),
                deferrable: Some(false)
            }))
        );
        assert!(parse("begin isolation level sideways").is_err());
    }
}
