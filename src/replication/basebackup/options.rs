//! The option list of `BASE_BACKUP`, parsed and checked as PostgreSQL 15 does
//! (`repl_gram.y`'s generic option list and `parse_basebackup_options`).
//!
//! What it owns: [`BackupOptions`] and [`parse`]. What it must never do: start anything.
//!
//! Grammar: `[ ( name [value] [, …] ) ]` where names are identifiers or keywords
//! (lower-cased unless double-quoted) and a value is an identifier, a `'string'` or an
//! unsigned integer; the pre-15 form `LABEL 'x' PROGRESS FAST WAL NOWAIT MAX_RATE n
//! TABLESPACE_MAP NOVERIFY_CHECKSUMS MANIFEST 'x' MANIFEST_CHECKSUMS 'x'` is accepted too.
//!
//! One parse, step by step:
//! 1. the text is split into tokens (parentheses, commas, words, strings, numbers);
//! 2. the tokens become (name, value) pairs;
//! 3. each pair is checked and stored, a name seen twice is `duplicate option "x"`;
//! 4. cross-option rules are checked (manifest checksums need a manifest).

use crate::err;
use crate::error::{sqlstate, Error, Result};

/// The smallest and largest `MAX_RATE` (kB/s).
pub const MAX_RATE_LOWER: i64 = 32;
/// The largest `MAX_RATE` (kB/s).
pub const MAX_RATE_UPPER: i64 = 1_048_576;

/// Whether and how a manifest is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestMode {
    /// No manifest.
    No,
    /// A manifest; paths that are not UTF-8 are hex-encoded.
    Yes,
    /// A manifest with every path hex-encoded.
    ForceEncode,
}

/// A per-file checksum algorithm of the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumKind {
    /// No per-file checksums.
    None,
    /// CRC-32C (the default).
    Crc32c,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl ChecksumKind {
    /// Parses an algorithm name case-insensitively (`pg_checksum_parse_type`).
    pub fn parse(s: &str) -> Option<ChecksumKind> {
        Some(match s.to_ascii_lowercase().as_str() {
            "none" => ChecksumKind::None,
            "crc32c" => ChecksumKind::Crc32c,
            "sha224" => ChecksumKind::Sha224,
            "sha256" => ChecksumKind::Sha256,
            "sha384" => ChecksumKind::Sha384,
            "sha512" => ChecksumKind::Sha512,
            _ => return None,
        })
    }

    /// The name written in the manifest's `Checksum-Algorithm`.
    pub fn name(self) -> &'static str {
        match self {
            ChecksumKind::None => "NONE",
            ChecksumKind::Crc32c => "CRC32C",
            ChecksumKind::Sha224 => "SHA224",
            ChecksumKind::Sha256 => "SHA256",
            ChecksumKind::Sha384 => "SHA384",
            ChecksumKind::Sha512 => "SHA512",
        }
    }
}

/// The options of one `BASE_BACKUP` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupOptions {
    /// `LABEL`: the backup_label `LABEL:` line.
    pub label: String,
    /// `PROGRESS`: compute the size estimate first.
    pub progress: bool,
    /// `CHECKPOINT 'fast'`.
    pub fast: bool,
    /// `WAIT`: wait for archiving at the end (false = `WAIT 0` / `NOWAIT`).
    pub wait: bool,
    /// `WAL`: append the needed WAL segments to the main archive.
    pub wal: bool,
    /// `MAX_RATE` in kB/s.
    pub max_rate: Option<u32>,
    /// `TABLESPACE_MAP`: include a `tablespace_map` file.
    pub tablespace_map: bool,
    /// `VERIFY_CHECKSUMS` (tusk has no data page checksums to verify).
    pub verify_checksums: bool,
    /// `MANIFEST`.
    pub manifest: ManifestMode,
    /// `MANIFEST_CHECKSUMS`.
    pub checksum: ChecksumKind,
}

impl Default for BackupOptions {
    fn default() -> Self {
        BackupOptions {
            label: "base backup".to_string(),
            progress: false,
            fast: false,
            wait: true,
            wal: false,
            max_rate: None,
            tablespace_map: false,
            verify_checksums: true,
            manifest: ManifestMode::No,
            checksum: ChecksumKind::Crc32c,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Open,
    Close,
    Comma,
    Word(String),
    Str(String),
    Num(String),
}

/// An option value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Val {
    Absent,
    Str(String),
    Num(String),
}

fn syntax_error() -> Error {
    err!(sqlstate::SYNTAX_ERROR, "syntax error")
}

fn lex(text: &str) -> Result<Vec<Tok>> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => i += 1,
            b'(' => {
                out.push(Tok::Open);
                i += 1;
            }
            b')' => {
                out.push(Tok::Close);
                i += 1;
            }
            b',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            b';' if b[i + 1..].iter().all(|c| c.is_ascii_whitespace()) => i = b.len(),
            b'\'' | b'"' => {
                let q = c;
                let mut s = Vec::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None => {
                            let what = if q == b'"' {
                                "unterminated quoted identifier"
                            } else {
                                "unterminated quoted string"
                            };
                            return Err(err!(sqlstate::SYNTAX_ERROR, "{what}"));
                        }
                        Some(&x) if x == q => {
                            if b.get(i + 1) == Some(&q) {
                                s.push(q);
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some(&x) => {
                            s.push(x);
                            i += 1;
                        }
                    }
                }
                let s = String::from_utf8_lossy(&s).into_owned();
                if q == b'"' {
                    if s.is_empty() {
                        return Err(err!(
                            sqlstate::SYNTAX_ERROR,
                            "zero-length delimited identifier"
                        ));
                    }
                    out.push(Tok::Word(s));
                } else {
                    out.push(Tok::Str(s));
                }
            }
            b'0'..=b'9' => {
                let st = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                out.push(Tok::Num(text[st..i].to_string()));
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let st = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80)
                {
                    i += 1;
                }
                out.push(Tok::Word(text[st..i].to_ascii_lowercase()));
            }
            _ => return Err(syntax_error()),
        }
    }
    Ok(out)
}

/// Turns the tokens into (name, value) pairs: the parenthesized list, or the legacy
/// keyword list.
fn pairs(toks: &[Tok]) -> Result<Vec<(String, Val)>> {
    let mut out = Vec::new();
    if toks.is_empty() {
        return Ok(out);
    }
    if toks[0] == Tok::Open {
        let mut i = 1;
        loop {
            let name = match toks.get(i) {
                Some(Tok::Word(w)) => w.clone(),
                _ => return Err(syntax_error()),
            };
            i += 1;
            let val = match toks.get(i) {
                Some(Tok::Word(w)) => {
                    i += 1;
                    Val::Str(w.clone())
                }
                Some(Tok::Str(s)) => {
                    i += 1;
                    Val::Str(s.clone())
                }
                Some(Tok::Num(n)) => {
                    i += 1;
                    Val::Num(n.clone())
                }
                _ => Val::Absent,
            };
            out.push((name, val));
            match toks.get(i) {
                Some(Tok::Comma) => i += 1,
                Some(Tok::Close) if i + 1 == toks.len() => return Ok(out),
                _ => return Err(syntax_error()),
            }
        }
    }
    // The pre-15 keyword form.
    let mut i = 0;
    while i < toks.len() {
        let w = match &toks[i] {
            Tok::Word(w) => w.as_str(),
            _ => return Err(syntax_error()),
        };
        i += 1;
        let take_str = |i: &mut usize| -> Result<Val> {
            match toks.get(*i) {
                Some(Tok::Str(s)) => {
                    *i += 1;
                    Ok(Val::Str(s.clone()))
                }
                _ => Err(syntax_error()),
            }
        };
        match w {
            "label" => out.push(("label".into(), take_str(&mut i)?)),
            "progress" => out.push(("progress".into(), Val::Absent)),
            "fast" => out.push(("checkpoint".into(), Val::Str("fast".into()))),
            "wal" => out.push(("wal".into(), Val::Absent)),
            "nowait" => out.push(("wait".into(), Val::Num("0".into()))),
            "max_rate" => match toks.get(i) {
                Some(Tok::Num(n)) => {
                    i += 1;
                    out.push(("max_rate".into(), Val::Num(n.clone())));
                }
                _ => return Err(syntax_error()),
            },
            "tablespace_map" => out.push(("tablespace_map".into(), Val::Absent)),
            "noverify_checksums" => out.push(("verify_checksums".into(), Val::Num("0".into()))),
            "manifest" => out.push(("manifest".into(), take_str(&mut i)?)),
            "manifest_checksums" => out.push(("manifest_checksums".into(), take_str(&mut i)?)),
            _ => return Err(syntax_error()),
        }
    }
    Ok(out)
}

/// PostgreSQL's `parse_bool`: true/false, yes/no, on/off, 1/0 and unique prefixes,
/// case-insensitively.
pub fn parse_bool(s: &str) -> Option<bool> {
    let l = s.trim().to_ascii_lowercase();
    if l.is_empty() {
        return None;
    }
    if "true".starts_with(&l) || "yes".starts_with(&l) || l == "on" || l == "1" {
        return Some(true);
    }
    if "false".starts_with(&l) || "no".starts_with(&l) || l == "0" {
        return Some(false);
    }
    if l.len() >= 2 && "off".starts_with(&l) {
        return Some(false);
    }
    None
}

fn get_bool(name: &str, v: &Val) -> Result<bool> {
    match v {
        Val::Absent => Ok(true),
        Val::Num(n) => match n.parse::<i64>() {
            Ok(0) => Ok(false),
            Ok(1) => Ok(true),
            _ => Err(err!(
                sqlstate::SYNTAX_ERROR,
                "{name} requires a Boolean value"
            )),
        },
        Val::Str(s) => parse_bool(s)
            .ok_or_else(|| err!(sqlstate::SYNTAX_ERROR, "{name} requires a Boolean value")),
    }
}

fn get_string(name: &str, v: &Val) -> Result<String> {
    match v {
        Val::Absent => Err(err!(sqlstate::SYNTAX_ERROR, "{name} requires a parameter")),
        Val::Str(s) | Val::Num(s) => Ok(s.clone()),
    }
}

fn get_int(name: &str, v: &Val) -> Result<i64> {
    match v {
        Val::Absent => Err(err!(
            sqlstate::SYNTAX_ERROR,
            "{name} requires a numeric value"
        )),
        Val::Num(n) => n
            .parse::<i64>()
            .map_err(|_| err!(sqlstate::SYNTAX_ERROR, "{name} requires a numeric value")),
        Val::Str(_) => Err(err!(
            sqlstate::SYNTAX_ERROR,
            "{name} requires a numeric value"
        )),
    }
}

/// Parses and checks the text after `BASE_BACKUP`.
pub fn parse(args: &str) -> Result<BackupOptions> {
    let toks = lex(args)?;
    let list = pairs(&toks)?;
    let mut o = BackupOptions::default();
    let mut seen: Vec<String> = Vec::new();
    let mut checksums_set = false;
    let mut target: Option<String> = None;
    let mut target_detail: Option<String> = None;
    let mut compression: Option<String> = None;
    let mut compression_detail: Option<String> = None;
    for (name, val) in &list {
        let known = matches!(
            name.as_str(),
            "label"
                | "progress"
                | "checkpoint"
                | "wait"
                | "wal"
                | "max_rate"
                | "tablespace_map"
                | "verify_checksums"
                | "manifest"
                | "manifest_checksums"
                | "target"
                | "target_detail"
                | "compression"
                | "compression_detail"
        );
        if !known {
            return Err(err!(
                sqlstate::SYNTAX_ERROR,
                "unrecognized base backup option: \"{name}\""
            ));
        }
        if seen.contains(name) {
            return Err(err!(sqlstate::SYNTAX_ERROR, "duplicate option \"{name}\""));
        }
        seen.push(name.clone());
        match name.as_str() {
            "label" => {
                let l = get_string(name, val)?;
                if l.len() >= 1024 {
                    return Err(err!(
                        sqlstate::INVALID_PARAMETER_VALUE,
                        "backup label too long (max {} bytes)",
                        1024
                    ));
                }
                o.label = l;
            }
            "progress" => o.progress = get_bool(name, val)?,
            "checkpoint" => {
                let v = get_string(name, val)?;
                o.fast = match v.to_ascii_lowercase().as_str() {
                    "fast" => true,
                    "spread" => false,
                    _ => {
                        return Err(err!(
                            sqlstate::SYNTAX_ERROR,
                            "unrecognized checkpoint type: \"{v}\""
                        ))
                    }
                };
            }
            "wait" => o.wait = get_bool(name, val)?,
            "wal" => o.wal = get_bool(name, val)?,
            "max_rate" => {
                let n = get_int(name, val)?;
                if !(MAX_RATE_LOWER..=MAX_RATE_UPPER).contains(&n) {
                    return Err(err!(
                        sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                        "{n} is outside the valid range for parameter \"MAX_RATE\" ({MAX_RATE_LOWER} .. {MAX_RATE_UPPER})"
                    ));
                }
                o.max_rate = Some(n as u32);
            }
            "tablespace_map" => o.tablespace_map = get_bool(name, val)?,
            "verify_checksums" => o.verify_checksums = get_bool(name, val)?,
            "manifest" => {
                let v = get_string(name, val)?;
                o.manifest = match parse_bool(&v) {
                    Some(true) => ManifestMode::Yes,
                    Some(false) => ManifestMode::No,
                    None if v.eq_ignore_ascii_case("force-encode") => ManifestMode::ForceEncode,
                    None => {
                        return Err(err!(
                            sqlstate::SYNTAX_ERROR,
                            "unrecognized manifest option: \"{v}\""
                        ))
                    }
                };
            }
            "manifest_checksums" => {
                let v = get_string(name, val)?;
                o.checksum = ChecksumKind::parse(&v).ok_or_else(|| {
                    err!(
                        sqlstate::SYNTAX_ERROR,
                        "unrecognized checksum algorithm: \"{v}\""
                    )
                })?;
                checksums_set = true;
            }
            "target" => target = Some(get_string(name, val)?),
            "target_detail" => target_detail = Some(get_string(name, val)?),
            "compression" => compression = Some(get_string(name, val)?),
            _ => compression_detail = Some(get_string(name, val)?),
        }
    }
    if o.manifest == ManifestMode::No && checksums_set {
        return Err(err!(
            sqlstate::SYNTAX_ERROR,
            "manifest checksums require a backup manifest"
        ));
    }
    match target.as_deref() {
        None | Some("client") => {
            if target_detail.is_some() {
                return Err(err!(
                    sqlstate::SYNTAX_ERROR,
                    "target \"{}\" does not accept a target detail",
                    target.as_deref().unwrap_or("client")
                ));
            }
        }
        Some(t @ ("server" | "blackhole")) => {
            return Err(err!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "backup target \"{t}\" is not supported"
            ));
        }
        Some(t) => {
            return Err(err!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "unrecognized target: \"{t}\""
            ))
        }
    }
    match compression.as_deref().map(|c| c.to_ascii_lowercase()) {
        None => {
            if compression_detail.is_some() {
                return Err(err!(
                    sqlstate::SYNTAX_ERROR,
                    "compression detail cannot be specified unless compression is enabled"
                ));
            }
        }
        Some(c) if c == "none" => {}
        Some(c) if c == "gzip" || c == "lz4" || c == "zstd" => {
            return Err(err!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "{c} compression is not supported by this build"
            ));
        }
        Some(c) => {
            return Err(err!(
                sqlstate::SYNTAX_ERROR,
                "unrecognized compression algorithm: \"{c}\""
            ))
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_basebackup_texts() {
        let o = parse("( LABEL 'mylabel',  PROGRESS,  CHECKPOINT 'fast',  WAIT 0,  WAL,  MANIFEST 'yes',  TARGET 'client')").unwrap();
        assert_eq!(o.label, "mylabel");
        assert!(o.progress && o.fast && !o.wait && o.wal);
        assert_eq!(o.manifest, ManifestMode::Yes);
        assert_eq!(o.checksum, ChecksumKind::Crc32c);
        let o = parse("( LABEL 'it''s',  MAX_RATE 1024,  TABLESPACE_MAP,  MANIFEST 'force-encode',  MANIFEST_CHECKSUMS 'sha256')").unwrap();
        assert_eq!(o.label, "it's");
        assert_eq!(o.max_rate, Some(1024));
        assert!(o.tablespace_map);
        assert_eq!(o.manifest, ManifestMode::ForceEncode);
        assert_eq!(o.checksum, ChecksumKind::Sha256);
        let o = parse("").unwrap();
        assert_eq!(o, BackupOptions::default());
        let o = parse("LABEL 'x' PROGRESS FAST WAL NOWAIT MAX_RATE 64").unwrap();
        assert!(o.progress && o.fast && o.wal && !o.wait);
        assert_eq!(o.max_rate, Some(64));
    }

    #[test]
    fn errors_as_postgresql() {
        let e = parse("( LABEL 'a', label 'b')").unwrap_err();
        assert_eq!(e.message, "duplicate option \"label\"");
        assert_eq!(e.code, "42601");
        let e = parse("( FOO)").unwrap_err();
        assert_eq!(e.message, "unrecognized base backup option: \"foo\"");
        let e = parse("( MAX_RATE 10)").unwrap_err();
        assert_eq!(
            e.message,
            "10 is outside the valid range for parameter \"MAX_RATE\" (32 .. 1048576)"
        );
        let e = parse("( CHECKPOINT 'slow')").unwrap_err();
        assert_eq!(e.message, "unrecognized checkpoint type: \"slow\"");
        let e = parse("( MANIFEST_CHECKSUMS 'md5', MANIFEST 'yes')").unwrap_err();
        assert_eq!(e.message, "unrecognized checksum algorithm: \"md5\"");
        let e = parse("( MANIFEST_CHECKSUMS 'sha256')").unwrap_err();
        assert_eq!(e.message, "manifest checksums require a backup manifest");
        let e = parse("( PROGRESS 'maybe')").unwrap_err();
        assert_eq!(e.message, "progress requires a Boolean value");
        let e = parse("( LABEL)").unwrap_err();
        assert_eq!(e.message, "label requires a parameter");
        let e = parse("( MANIFEST 'sometimes')").unwrap_err();
        assert_eq!(e.message, "unrecognized manifest option: \"sometimes\"");
        let e = parse("( TARGET 'tape')").unwrap_err();
        assert_eq!(e.message, "unrecognized target: \"tape\"");
        let e = parse("( COMPRESSION 'gzip')").unwrap_err();
        assert_eq!(e.code, "0A000");
        assert!(parse("( LABEL 'x'").is_err());
        assert!(parse("( LABEL 'x").is_err());
        assert!(parse("( , )").is_err());
        assert!(parse("LABEL").is_err());
    }

    #[test]
    fn booleans() {
        for t in ["t", "TRUE", "yes", "on", "1", "y"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["f", "false", "no", "off", "of", "0", "n"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for x in ["o", "", "2", "maybe"] {
            assert_eq!(parse_bool(x), None, "{x}");
        }
    }
}
