//! The replication command grammar (PostgreSQL 15's `repl_gram.y`, as the stock clients
//! use it): one command per Query message on a replication connection.
//!
//! What it owns: turning a command text into a [`ReplCommand`]. What it must never do:
//! execute anything.
//!
//! Rules kept from PostgreSQL 15's scanner and grammar:
//! - keywords are upper-case and case-sensitive; a text whose first token is not one of
//!   the command keywords is not a replication command at all and comes back as
//!   [`ReplCommand::Sql`] (the walsender decides what SQL means on its connection);
//! - unquoted identifiers are lower-cased, `"quoted"` ones kept (`""` is a quote), both
//!   truncated to 63 bytes; strings are `'…'` with `''`; unsigned integers are decimal;
//!   an LSN is `hex/hex`; one trailing `;` is allowed;
//! - anything the grammar does not accept is `ERROR 42601 syntax error`, as bison says.
//!
//! A `CREATE_REPLICATION_SLOT "s" TEMPORARY PHYSICAL ( RESERVE_WAL)`, step by step:
//! 1. `tokenize` turns the text into tokens (keyword-or-identifier words keep whether
//!    they were quoted, so `"PHYSICAL"` is a name, not the keyword);
//! 2. the first word selects the command; if it is not a command keyword the text is SQL;
//! 3. the command's own parser walks the tokens (slot name, `TEMPORARY`, `PHYSICAL`, the
//!    option list) and checks that nothing but an optional `;` follows.

use crate::error::{sqlstate, Result};
use crate::storage::wal::Lsn;

/// One parsed replication command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplCommand {
    /// `IDENTIFY_SYSTEM`.
    IdentifySystem,
    /// `SHOW name`.
    Show(String),
    /// `TIMELINE_HISTORY tli`.
    TimelineHistory(u32),
    /// `CREATE_REPLICATION_SLOT name [TEMPORARY] PHYSICAL [RESERVE_WAL]` (old and new
    /// option syntax).
    CreateSlot {
        /// The slot name.
        name: String,
        /// `TEMPORARY`: dropped when the connection ends.
        temporary: bool,
        /// `RESERVE_WAL`: the slot keeps WAL from the current position at once.
        reserve_wal: bool,
        /// `LOGICAL plugin` was asked for (refused by the executor).
        logical: Option<String>,
    },
    /// `READ_REPLICATION_SLOT name`.
    ReadSlot(String),
    /// `DROP_REPLICATION_SLOT name [WAIT]`.
    DropSlot {
        /// The slot name.
        name: String,
        /// `WAIT`: wait until the slot is released instead of failing.
        wait: bool,
    },
    /// `START_REPLICATION [SLOT s] [PHYSICAL] X/Y [TIMELINE n]`.
    StartReplication {
        /// The slot to stream for.
        slot: Option<String>,
        /// Where to start.
        start: Lsn,
        /// The timeline asked for (the current one when absent).
        timeline: Option<u32>,
    },
    /// `BASE_BACKUP …`: the text after the keyword, options unparsed (parsed by
    /// [`super::basebackup`]).
    BaseBackup(String),
    /// Anything else: ordinary SQL (allowed on `replication=database` connections).
    Sql(String),
    /// `START_REPLICATION SLOT s LOGICAL X/Y [options]`: parsed so that the executor
    /// can refuse it with PostgreSQL's error (tusk has no logical decoding).
    StartLogical {
        /// The slot named.
        slot: String,
    },
}

impl ReplCommand {
    /// The command's tag (`IDENTIFY_SYSTEM`, `START_REPLICATION`…; `SQL` for SQL).
    pub fn tag(&self) -> &'static str {
        match self {
            ReplCommand::IdentifySystem => "IDENTIFY_SYSTEM",
            ReplCommand::Show(_) => "SHOW",
            ReplCommand::TimelineHistory(_) => "TIMELINE_HISTORY",
            ReplCommand::CreateSlot { .. } => "CREATE_REPLICATION_SLOT",
            ReplCommand::ReadSlot(_) => "READ_REPLICATION_SLOT",
            ReplCommand::DropSlot { .. } => "DROP_REPLICATION_SLOT",
            ReplCommand::StartReplication { .. } => "START_REPLICATION",
            ReplCommand::BaseBackup(_) => "BASE_BACKUP",
            ReplCommand::Sql(_) => "SQL",
            ReplCommand::StartLogical { .. } => "START_REPLICATION",
        }
    }
}

/// The `LABEL` of a `BASE_BACKUP` option list (the process title shows it), if given.
pub fn base_backup_label(args: &str) -> Option<String> {
    let mut p = Parser {
        tokens: tokenize(args).ok()?,
        pos: 0,
    };
    if p.peek() != Some(&Token::Punct('(')) {
        return None;
    }
    p.option_list()
        .ok()?
        .into_iter()
        .find(|(name, _)| name == "label")
        .and_then(|(_, v)| v)
}

/// The longest identifier PostgreSQL keeps (NAMEDATALEN - 1 bytes).
const MAX_IDENTIFIER_BYTES: usize = 63;

/// The keywords that start a replication command.
const COMMAND_KEYWORDS: &[&str] = &[
    "IDENTIFY_SYSTEM",
    "SHOW",
    "TIMELINE_HISTORY",
    "CREATE_REPLICATION_SLOT",
    "DROP_REPLICATION_SLOT",
    "READ_REPLICATION_SLOT",
    "START_REPLICATION",
    "BASE_BACKUP",
];

/// Every keyword of the replication grammar (exact, upper-case spelling).
const KEYWORDS: &[&str] = &[
    "IDENTIFY_SYSTEM",
    "SHOW",
    "TIMELINE_HISTORY",
    "CREATE_REPLICATION_SLOT",
    "DROP_REPLICATION_SLOT",
    "READ_REPLICATION_SLOT",
    "START_REPLICATION",
    "BASE_BACKUP",
    "SLOT",
    "TIMELINE",
    "PHYSICAL",
    "LOGICAL",
    "TEMPORARY",
    "RESERVE_WAL",
    "TWO_PHASE",
    "EXPORT_SNAPSHOT",
    "NOEXPORT_SNAPSHOT",
    "USE_SNAPSHOT",
    "WAIT",
];

/// One token of a replication command.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A grammar keyword, spelled exactly as in [`KEYWORDS`].
    Keyword(&'static str),
    /// An identifier: unquoted (lower-cased) or quoted (kept).
    Ident(String),
    /// A `'string'` constant.
    Str(String),
    /// An unsigned decimal integer.
    UInt(u64),
    /// An LSN `X/Y`.
    Lsn(Lsn),
    /// `(`, `)`, `,`, `.` or `;`.
    Punct(char),
}

fn syntax_error() -> crate::error::Error {
    crate::err!(sqlstate::SYNTAX_ERROR, "syntax error")
}

fn truncate_identifier(mut s: String) -> String {
    if s.len() > MAX_IDENTIFIER_BYTES {
        let mut end = MAX_IDENTIFIER_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || !c.is_ascii()
}

fn is_ident_char(c: char) -> bool {
    is_ident_start(c) || c.is_ascii_digit() || c == '$'
}

/// Splits a command text into tokens, with the scanner's errors.
fn tokenize(text: &str) -> Result<Vec<Token>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        // `--` comments run to the end of the line, as in the SQL scanner.
        if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if matches!(c, '(' | ')' | ',' | '.' | ';') {
            out.push(Token::Punct(c));
            i += 1;
            continue;
        }
        if c == '\'' || c == '"' {
            let quote = c;
            let mut value = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    // PostgreSQL 15's replication scanner says "string" for both.
                    None => crate::bail!(sqlstate::SYNTAX_ERROR, "unterminated quoted string"),
                    Some(&q) if q == quote => {
                        if chars.get(i + 1) == Some(&quote) {
                            value.push(quote);
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    }
                    Some(&other) => {
                        value.push(other);
                        i += 1;
                    }
                }
            }
            if quote == '"' {
                // The replication scanner accepts `""` (an empty name).
                out.push(Token::Ident(truncate_identifier(value)));
            } else {
                out.push(Token::Str(value));
            }
            continue;
        }
        if c.is_ascii_hexdigit() {
            // An LSN (hex/hex), else a decimal integer, else an identifier.
            let start = i;
            let mut j = i;
            while j < chars.len() && chars[j].is_ascii_hexdigit() {
                j += 1;
            }
            if chars.get(j) == Some(&'/') && chars.get(j + 1).is_some_and(|c| c.is_ascii_hexdigit())
            {
                let mut k = j + 1;
                while k < chars.len() && chars[k].is_ascii_hexdigit() {
                    k += 1;
                }
                let hi: String = chars[start..j].iter().collect();
                let lo: String = chars[j + 1..k].iter().collect();
                let (Ok(hi), Ok(lo)) = (u32::from_str_radix(&hi, 16), u32::from_str_radix(&lo, 16))
                else {
                    crate::bail!(sqlstate::SYNTAX_ERROR, "invalid streaming start location");
                };
                out.push(Token::Lsn(Lsn(((hi as u64) << 32) | lo as u64)));
                i = k;
                continue;
            }
            if c.is_ascii_digit() {
                let mut k = i;
                while k < chars.len() && chars[k].is_ascii_digit() {
                    k += 1;
                }
                if k >= chars.len() || !is_ident_char(chars[k]) {
                    let digits: String = chars[i..k].iter().collect();
                    // PostgreSQL's strtoul saturates; an out-of-range number cannot be a
                    // valid timeline or option value anyway.
                    out.push(Token::UInt(digits.parse().unwrap_or(u64::MAX)));
                    i = k;
                    continue;
                }
                return Err(syntax_error());
            }
        }
        if is_ident_start(c) {
            let start = i;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            match KEYWORDS.iter().find(|k| **k == word) {
                Some(k) => out.push(Token::Keyword(k)),
                None => out.push(Token::Ident(truncate_identifier(word.to_lowercase()))),
            }
            continue;
        }
        return Err(syntax_error());
    }
    Ok(out)
}

/// A cursor over the tokens of one command.
struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn accept_keyword(&mut self, kw: &str) -> bool {
        if matches!(self.peek(), Some(Token::Keyword(k)) if *k == kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn accept_punct(&mut self, p: char) -> bool {
        if self.peek() == Some(&Token::Punct(p)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, p: char) -> Result<()> {
        if self.accept_punct(p) {
            Ok(())
        } else {
            Err(syntax_error())
        }
    }

    fn ident(&mut self) -> Result<String> {
        match self.next() {
            Some(Token::Ident(s)) => Ok(s),
            _ => Err(syntax_error()),
        }
    }

    fn uint(&mut self) -> Result<u64> {
        match self.next() {
            Some(Token::UInt(n)) => Ok(n),
            _ => Err(syntax_error()),
        }
    }

    /// The end of the command: an optional `;`, then nothing.
    fn finish(&mut self) -> Result<()> {
        self.accept_punct(';');
        if self.pos == self.tokens.len() {
            Ok(())
        } else {
            Err(syntax_error())
        }
    }

    /// A timeline number, with the grammar's check that it is positive (the value is
    /// cut to 32 bits first, as PostgreSQL's `strtoul` into a `uint32` does).
    fn timeline(&mut self) -> Result<u32> {
        let n = self.uint()? as u32;
        if n == 0 {
            crate::bail!(sqlstate::SYNTAX_ERROR, "invalid timeline {}", n);
        }
        Ok(n)
    }

    /// A parenthesised generic option list `( name [value] [, …] )`: names lower-cased
    /// (keywords included), values as text (`None` when absent).
    fn option_list(&mut self) -> Result<Vec<(String, Option<String>)>> {
        self.expect_punct('(')?;
        let mut out = Vec::new();
        loop {
            let name = match self.next() {
                Some(Token::Ident(s)) => s,
                Some(Token::Keyword(k)) => k.to_lowercase(),
                _ => return Err(syntax_error()),
            };
            let value = match self.peek() {
                Some(Token::Ident(s)) => Some(s.clone()),
                Some(Token::Str(s)) => Some(s.clone()),
                Some(Token::UInt(n)) => Some(n.to_string()),
                _ => None,
            };
            if value.is_some() {
                self.pos += 1;
            }
            out.push((name, value));
            if self.accept_punct(',') {
                continue;
            }
            self.expect_punct(')')?;
            return Ok(out);
        }
    }
}

/// PostgreSQL's boolean option spellings (`defGetBoolean`); no value means true.
fn option_bool(name: &str, value: Option<&str>) -> Result<bool> {
    let Some(v) = value else { return Ok(true) };
    match v.to_ascii_lowercase().as_str() {
        "true" | "on" | "1" | "yes" => Ok(true),
        "false" | "off" | "0" | "no" => Ok(false),
        _ => Err(crate::err!(
            sqlstate::SYNTAX_ERROR,
            "{} requires a Boolean value",
            name
        )),
    }
}

/// Parses one replication command.
pub fn parse(text: &str) -> Result<ReplCommand> {
    // Only the first word decides whether this is a replication command; a text that
    // does not even tokenize as one is SQL for the SQL parser to judge.
    let first_word = text
        .trim_start()
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .next()
        .unwrap_or("");
    if !COMMAND_KEYWORDS.contains(&first_word) {
        return Ok(ReplCommand::Sql(text.to_string()));
    }
    if first_word == "BASE_BACKUP" {
        // The option list is parsed by the base backup module; check only that the rest
        // is tokenizable and either empty or a parenthesised list (the pre-15 form is a
        // syntax error, as in PostgreSQL 15).
        let rest = text.trim_start()["BASE_BACKUP".len()..].to_string();
        let mut p = Parser {
            tokens: tokenize(&rest)?,
            pos: 0,
        };
        if p.peek() == Some(&Token::Punct('(')) {
            p.option_list()?;
        }
        p.finish()?;
        let mut args = rest.trim();
        if p.tokens.last() == Some(&Token::Punct(';')) {
            args = args.strip_suffix(';').unwrap_or(args).trim_end();
        }
        return Ok(ReplCommand::BaseBackup(args.to_string()));
    }
    let mut p = Parser {
        tokens: tokenize(text)?,
        pos: 0,
    };
    let Some(Token::Keyword(first)) = p.next() else {
        return Err(syntax_error());
    };
    let cmd = match first {
        "IDENTIFY_SYSTEM" => ReplCommand::IdentifySystem,
        "SHOW" => {
            let mut name = p.ident()?;
            while p.accept_punct('.') {
                name.push('.');
                name.push_str(&p.ident()?);
            }
            ReplCommand::Show(name)
        }
        "TIMELINE_HISTORY" => ReplCommand::TimelineHistory(p.timeline()?),
        "READ_REPLICATION_SLOT" => ReplCommand::ReadSlot(p.ident()?),
        "DROP_REPLICATION_SLOT" => {
            let name = p.ident()?;
            let wait = p.accept_keyword("WAIT");
            ReplCommand::DropSlot { name, wait }
        }
        "CREATE_REPLICATION_SLOT" => parse_create_slot(&mut p)?,
        "START_REPLICATION" => parse_start(&mut p)?,
        _ => return Err(syntax_error()),
    };
    p.finish()?;
    Ok(cmd)
}

fn parse_create_slot(p: &mut Parser) -> Result<ReplCommand> {
    let name = p.ident()?;
    let temporary = p.accept_keyword("TEMPORARY");
    let logical = if p.accept_keyword("PHYSICAL") {
        None
    } else if p.accept_keyword("LOGICAL") {
        Some(p.ident()?)
    } else {
        return Err(syntax_error());
    };
    let mut options: Vec<(String, Option<String>)> = Vec::new();
    if p.peek() == Some(&Token::Punct('(')) {
        options = p.option_list()?;
    } else {
        // Legacy bare keywords.
        while let Some(Token::Keyword(k)) = p.peek() {
            let k = *k;
            let opt = match k {
                "RESERVE_WAL" => ("reserve_wal", None),
                "TWO_PHASE" => ("two_phase", None),
                "EXPORT_SNAPSHOT" => ("snapshot", Some("export")),
                "NOEXPORT_SNAPSHOT" => ("snapshot", Some("nothing")),
                "USE_SNAPSHOT" => ("snapshot", Some("use")),
                _ => break,
            };
            p.pos += 1;
            options.push((opt.0.to_string(), opt.1.map(str::to_string)));
        }
    }
    let mut reserve_wal = None;
    let mut snapshot_given = false;
    let mut two_phase_given = false;
    for (opt, value) in &options {
        let conflicting =
            || crate::err!(sqlstate::SYNTAX_ERROR, "conflicting or redundant options");
        match opt.as_str() {
            "reserve_wal" => {
                if reserve_wal.is_some() || logical.is_some() {
                    return Err(conflicting());
                }
                reserve_wal = Some(option_bool(opt, value.as_deref())?);
            }
            "snapshot" => {
                if snapshot_given || logical.is_none() {
                    return Err(conflicting());
                }
                snapshot_given = true;
            }
            "two_phase" => {
                if two_phase_given || logical.is_none() {
                    return Err(conflicting());
                }
                option_bool(opt, value.as_deref())?;
                two_phase_given = true;
            }
            other => crate::bail!(sqlstate::INTERNAL_ERROR, "unrecognized option: {}", other),
        }
    }
    Ok(ReplCommand::CreateSlot {
        name,
        temporary,
        reserve_wal: reserve_wal.unwrap_or(false),
        logical,
    })
}

fn parse_start(p: &mut Parser) -> Result<ReplCommand> {
    let slot = if p.accept_keyword("SLOT") {
        Some(p.ident()?)
    } else {
        None
    };
    if p.accept_keyword("LOGICAL") {
        // The grammar accepts logical streaming (the executor refuses it); the plugin
        // options that may follow are not checked.
        let Some(slot) = slot else {
            return Err(syntax_error());
        };
        match p.next() {
            Some(Token::Lsn(_)) => {}
            _ => return Err(syntax_error()),
        }
        p.pos = p.tokens.len();
        return Ok(ReplCommand::StartLogical { slot });
    }
    p.accept_keyword("PHYSICAL");
    let start = match p.next() {
        Some(Token::Lsn(l)) => l,
        _ => return Err(syntax_error()),
    };
    let timeline = if p.accept_keyword("TIMELINE") {
        Some(p.timeline()?)
    } else {
        None
    };
    Ok(ReplCommand::StartReplication {
        slot,
        start,
        timeline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> String {
        parse(text).unwrap_err().code.to_string()
    }

    #[test]
    fn simple_commands() {
        assert_eq!(
            parse("IDENTIFY_SYSTEM").unwrap(),
            ReplCommand::IdentifySystem
        );
        assert_eq!(
            parse("IDENTIFY_SYSTEM;").unwrap(),
            ReplCommand::IdentifySystem
        );
        assert_eq!(
            parse("  IDENTIFY_SYSTEM ; ").unwrap(),
            ReplCommand::IdentifySystem
        );
        assert_eq!(
            parse("SHOW wal_segment_size").unwrap(),
            ReplCommand::Show("wal_segment_size".into())
        );
        assert_eq!(
            parse("SHOW Data_Directory_Mode;").unwrap(),
            ReplCommand::Show("data_directory_mode".into())
        );
        assert_eq!(
            parse("SHOW custom.Setting").unwrap(),
            ReplCommand::Show("custom.setting".into())
        );
        assert_eq!(
            parse("TIMELINE_HISTORY 2").unwrap(),
            ReplCommand::TimelineHistory(2)
        );
        assert_eq!(
            parse("READ_REPLICATION_SLOT recv4").unwrap(),
            ReplCommand::ReadSlot("recv4".into())
        );
        assert_eq!(
            parse("DROP_REPLICATION_SLOT \"recv_slot\"").unwrap(),
            ReplCommand::DropSlot {
                name: "recv_slot".into(),
                wait: false
            }
        );
        assert_eq!(
            parse("DROP_REPLICATION_SLOT s WAIT;").unwrap(),
            ReplCommand::DropSlot {
                name: "s".into(),
                wait: true
            }
        );
    }

    #[test]
    fn create_slot_forms() {
        let slot = |name: &str, temporary, reserve_wal| ReplCommand::CreateSlot {
            name: name.into(),
            temporary,
            reserve_wal,
            logical: None,
        };
        assert_eq!(
            parse(
                "CREATE_REPLICATION_SLOT \"pg_basebackup_11898\" TEMPORARY PHYSICAL ( RESERVE_WAL)"
            )
            .unwrap(),
            slot("pg_basebackup_11898", true, true)
        );
        assert_eq!(
            parse("CREATE_REPLICATION_SLOT \"pg_walreceiver_1\" TEMPORARY PHYSICAL (RESERVE_WAL)")
                .unwrap(),
            slot("pg_walreceiver_1", true, true)
        );
        assert_eq!(
            parse("CREATE_REPLICATION_SLOT s PHYSICAL (RESERVE_WAL false)").unwrap(),
            slot("s", false, false)
        );
        assert_eq!(
            parse("CREATE_REPLICATION_SLOT s PHYSICAL (reserve_wal 'on')").unwrap(),
            slot("s", false, true)
        );
        assert_eq!(
            parse("CREATE_REPLICATION_SLOT S PHYSICAL RESERVE_WAL").unwrap(),
            slot("s", false, true)
        );
        assert_eq!(
            parse("CREATE_REPLICATION_SLOT \"S\" PHYSICAL;").unwrap(),
            slot("S", false, false)
        );
        assert_eq!(
            parse("CREATE_REPLICATION_SLOT s LOGICAL pgoutput").unwrap(),
            ReplCommand::CreateSlot {
                name: "s".into(),
                temporary: false,
                reserve_wal: false,
                logical: Some("pgoutput".into())
            }
        );
        assert_eq!(code("CREATE_REPLICATION_SLOT s"), "42601");
        assert_eq!(
            code("CREATE_REPLICATION_SLOT s PHYSICAL (RESERVE_WAL, RESERVE_WAL)"),
            "42601"
        );
        assert_eq!(
            code("CREATE_REPLICATION_SLOT s PHYSICAL (RESERVE_WAL maybe)"),
            "42601"
        );
        assert_eq!(code("CREATE_REPLICATION_SLOT s PHYSICAL (bogus)"), "XX000");
    }

    #[test]
    fn start_replication_forms() {
        assert_eq!(
            parse("START_REPLICATION SLOT \"pg_basebackup_11898\" 0/E000000 TIMELINE 2").unwrap(),
            ReplCommand::StartReplication {
                slot: Some("pg_basebackup_11898".into()),
                start: Lsn(0xE000000),
                timeline: Some(2)
            }
        );
        assert_eq!(
            parse("START_REPLICATION 0/10000000 TIMELINE 3").unwrap(),
            ReplCommand::StartReplication {
                slot: None,
                start: Lsn(0x1000_0000),
                timeline: Some(3)
            }
        );
        assert_eq!(
            parse("START_REPLICATION PHYSICAL 1A/ff00;").unwrap(),
            ReplCommand::StartReplication {
                slot: None,
                start: Lsn((0x1A << 32) | 0xFF00),
                timeline: None
            }
        );
        assert_eq!(code("START_REPLICATION"), "42601");
        assert_eq!(code("START_REPLICATION 0/0 TIMELINE 0"), "42601");
        assert_eq!(
            parse("START_REPLICATION 0/0 TIMELINE 0")
                .unwrap_err()
                .message,
            "invalid timeline 0"
        );
        assert_eq!(code("START_REPLICATION 0/0 TIMELINE"), "42601");
        assert_eq!(code("START_REPLICATION 0/0 extra"), "42601");
        assert_eq!(
            parse("START_REPLICATION SLOT s LOGICAL 0/0 (\"proto_version\" '1')").unwrap(),
            ReplCommand::StartLogical { slot: "s".into() }
        );
        assert_eq!(code("START_REPLICATION LOGICAL 0/0"), "42601");
        assert_eq!(
            parse("TIMELINE_HISTORY 99999999999").unwrap(),
            ReplCommand::TimelineHistory(0x4876_E7FF)
        );
        assert_eq!(code("TIMELINE_HISTORY 4294967296"), "42601");
    }

    #[test]
    fn base_backup_keeps_its_options() {
        let text = "BASE_BACKUP ( LABEL 'pg_basebackup base backup',  PROGRESS,  WAIT 0,  MANIFEST 'yes',  TARGET 'client')";
        assert_eq!(
            parse(text).unwrap(),
            ReplCommand::BaseBackup(
                "( LABEL 'pg_basebackup base backup',  PROGRESS,  WAIT 0,  MANIFEST 'yes',  TARGET 'client')"
                    .into()
            )
        );
        assert_eq!(
            parse("BASE_BACKUP").unwrap(),
            ReplCommand::BaseBackup(String::new())
        );
        assert_eq!(
            parse("BASE_BACKUP;").unwrap(),
            ReplCommand::BaseBackup(String::new())
        );
        assert_eq!(
            parse("BASE_BACKUP (LABEL 'a;b') ;").unwrap(),
            ReplCommand::BaseBackup("(LABEL 'a;b')".into())
        );
        let e = parse("BASE_BACKUP LABEL 'x' PROGRESS").unwrap_err();
        assert_eq!((e.code, e.message.as_str()), ("42601", "syntax error"));
        assert_eq!(code("BASE_BACKUP ( LABEL 'x'"), "42601");
        assert_eq!(
            base_backup_label("( LABEL 'pg_basebackup base backup',  PROGRESS)").as_deref(),
            Some("pg_basebackup base backup")
        );
        assert_eq!(base_backup_label("(PROGRESS)"), None);
    }

    #[test]
    fn sql_and_errors() {
        assert_eq!(
            parse("identify_system").unwrap(),
            ReplCommand::Sql("identify_system".into())
        );
        assert_eq!(
            parse("select 1").unwrap(),
            ReplCommand::Sql("select 1".into())
        );
        assert_eq!(parse("").unwrap(), ReplCommand::Sql(String::new()));
        assert_eq!(code("IDENTIFY_SYSTEM extra"), "42601");
        assert_eq!(code("IDENTIFY_SYSTEM;;"), "42601");
        assert_eq!(code("SHOW"), "42601");
        assert_eq!(code("SHOW 'x'"), "42601");
        assert_eq!(code("TIMELINE_HISTORY x"), "42601");
        assert_eq!(code("DROP_REPLICATION_SLOT \"unterminated"), "42601");
        assert_eq!(
            parse("READ_REPLICATION_SLOT \"\"").unwrap(),
            ReplCommand::ReadSlot(String::new())
        );
        assert_eq!(
            parse("DROP_REPLICATION_SLOT \"x").unwrap_err().message,
            "unterminated quoted string"
        );
        assert_eq!(parse("SHOW a # b").unwrap_err().message, "syntax error");
        assert_eq!(
            parse("READ_REPLICATION_SLOT 9abc").unwrap_err().message,
            "syntax error"
        );
        assert_eq!(code("SHOW a # b"), "42601");
        let long = "x".repeat(70);
        assert_eq!(
            parse(&format!("READ_REPLICATION_SLOT {long}")).unwrap(),
            ReplCommand::ReadSlot("x".repeat(63))
        );
        assert_eq!(
            parse("READ_REPLICATION_SLOT \"a\"\"b\"").unwrap(),
            ReplCommand::ReadSlot("a\"b".into())
        );
    }
}
