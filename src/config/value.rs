//! Parsing and printing of setting values, exactly as PostgreSQL 15's GUC code does.
//!
//! What it owns: the text → [`Value`] conversion for each variable type (booleans with
//! unique prefixes, integers with units, hex and octal, reals, case-insensitive enums
//! with hidden aliases) including the range checks and error texts, the "check hooks" of
//! the string settings that PostgreSQL normalises (client_encoding, DateStyle, TimeZone,
//! application_name), and the reverse: the SHOW text and the `pg_settings.setting` text.
//!
//! Invariants: a [`Value`] is always valid for its setting (in range, canonical enum
//! name); printing never fails. Errors carry SQLSTATE 22023 and PostgreSQL's message,
//! hint and detail.
//!
//! Walk through `SET statement_timeout = '1.5s'`:
//! 1. [`parse`] sees an integer setting with base unit ms and calls `parse_int`;
//! 2. the number prefix `1` is followed by `.`, so the text is re-read as a float `1.5`;
//! 3. the rest, `s`, is a unit: 1.5 s = 1500 ms, rounded to an integer, checked against
//!    0 .. 2147483647;
//! 4. [`show`] later prints 1500 ms in its largest exact unit: `1500ms`.

use super::unit;
use super::{SettingDef, Unit, VarType};
use crate::error::{sqlstate, Error, Result};

/// A setting's value in its base unit; enum values hold their canonical name.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A boolean setting.
    Bool(bool),
    /// An integer setting, in the setting's base unit.
    Int(i64),
    /// A real setting, in the setting's base unit.
    Real(f64),
    /// A string setting (normalised by its check hook) or an enum setting's canonical
    /// value name.
    Str(String),
}

fn invalid(name: &str, value: &str) -> Error {
    Error::new(
        sqlstate::INVALID_PARAMETER_VALUE,
        format!("invalid value for parameter \"{name}\": \"{value}\""),
    )
}

/// Parses a boolean as PostgreSQL's `parse_bool` does: any unique prefix of `true`,
/// `false`, `yes`, `no`, at least two letters of `on`/`off`, or `1`/`0`; case-insensitive.
pub fn parse_bool(s: &str) -> Option<bool> {
    let l = s.to_ascii_lowercase();
    let n = l.len();
    if n == 0 {
        return None;
    }
    let prefix_of = |word: &str| n <= word.len() && word.starts_with(&l);
    match l.as_bytes()[0] {
        b't' if prefix_of("true") => Some(true),
        b'f' if prefix_of("false") => Some(false),
        b'y' if prefix_of("yes") => Some(true),
        b'n' if prefix_of("no") => Some(false),
        b'o' if n >= 2 && prefix_of("on") => Some(true),
        b'o' if n >= 2 && prefix_of("off") => Some(false),
        b'1' if n == 1 => Some(true),
        b'0' if n == 1 => Some(false),
        _ => None,
    }
}

fn skip_ws(s: &str) -> &str {
    s.trim_start_matches(|c: char| c.is_ascii_whitespace())
}

/// Reads the longest prefix of `s` that C's `strtod` would read; returns the value and
/// the rest, or None when no number starts `s` or it over- or underflows (ERANGE).
fn strtod(s: &str) -> Option<(f64, &str)> {
    let t = skip_ws(s);
    let b = t.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let lower = t[i..].to_ascii_lowercase();
    for word in ["infinity", "inf", "nan"] {
        if lower.starts_with(word) {
            let end = i + word.len();
            let v: f64 = if word == "nan" {
                f64::NAN
            } else if b.first() == Some(&b'-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            };
            return Some((v, &t[end..]));
        }
    }
    let digits_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut ndigits = i - digits_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        ndigits += i - f;
    }
    if ndigits == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let e = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > e {
            i = j;
        }
    }
    let text = &t[..i];
    let v: f64 = text.parse().ok()?;
    if v.is_infinite() {
        return None;
    }
    let mantissa_nonzero = text
        .split(['e', 'E'])
        .next()
        .is_some_and(|m| m.bytes().any(|c| (b'1'..=b'9').contains(&c)));
    if v == 0.0 && mantissa_nonzero {
        return None;
    }
    Some((v, &t[i..]))
}

/// Reads the longest prefix of `s` that C's `strtol(s, &end, 0)` would read (decimal,
/// `0x` hex or leading-zero octal). Returns None when no digits start `s`; the value is
/// None when it does not fit in 64 bits.
fn strtol(s: &str) -> Option<(Option<i64>, &str)> {
    let t = skip_ws(s);
    let b = t.as_bytes();
    let mut i = 0;
    let neg = if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
        b[0] == b'-'
    } else {
        false
    };
    let (radix, start) = if b.len() > i + 2
        && b[i] == b'0'
        && (b[i + 1] == b'x' || b[i + 1] == b'X')
        && b[i + 2].is_ascii_hexdigit()
    {
        (16, i + 2)
    } else if i < b.len() && b[i] == b'0' {
        (8, i)
    } else {
        (10, i)
    };
    let mut j = start;
    while j < b.len() && (b[j] as char).is_digit(radix) {
        j += 1;
    }
    if j == start {
        return None;
    }
    let v = i64::from_str_radix(&t[start..j], radix)
        .ok()
        .map(|v| if neg { -v } else { v });
    Some((v, &t[j..]))
}

/// Why an integer or real failed to parse: the hint PostgreSQL attaches, if any.
type ParseFail = Option<&'static str>;

fn parse_int_text(s: &str, base: Unit) -> std::result::Result<i64, ParseFail> {
    let (mut val, rest) = match strtol(s) {
        None => return Err(None),
        Some((Some(v), rest)) if !rest.starts_with(['.', 'e', 'E']) => (v as f64, rest),
        Some(_) => match strtod(s) {
            Some((v, rest)) if !v.is_nan() => (v, rest),
            _ => return Err(None),
        },
    };
    let rest = skip_ws(rest);
    if !rest.is_empty() {
        if base == Unit::None {
            return Err(None);
        }
        val = unit::to_base(val, rest, base).ok_or(unit::units_hint(base))?;
    }
    let val = val.round_ties_even();
    if val > i32::MAX as f64 || val < i32::MIN as f64 || val.is_nan() {
        return Err(Some("Value exceeds integer range."));
    }
    Ok(val as i64)
}

/// Parses a unitless integer as PostgreSQL's `parse_int` with no flags does (hex and
/// octal prefixes, a fraction rounded to the nearest integer, surrounding blanks);
/// `None` when it is not one or lies outside the 32-bit range.
pub fn parse_int_plain(s: &str) -> Option<i64> {
    parse_int_text(s, Unit::None).ok()
}

/// Parses a unitless real as PostgreSQL's `parse_real` with no flags does; `None`
/// when it is not one (or is NaN).
pub fn parse_real_plain(s: &str) -> Option<f64> {
    parse_real_text(s, Unit::None).ok()
}

fn parse_real_text(s: &str, base: Unit) -> std::result::Result<f64, ParseFail> {
    let (mut val, rest) = strtod(s).ok_or(None)?;
    if val.is_nan() {
        return Err(None);
    }
    let rest = skip_ws(rest);
    if !rest.is_empty() {
        if base == Unit::None {
            return Err(None);
        }
        val = unit::to_base(val, rest, base).ok_or(unit::units_hint(base))?;
    }
    Ok(val)
}

/// Parses `input` for setting `def` into a valid value, running the setting's check hook.
/// `current` is the value in force (DateStyle keeps the half of it not mentioned).
pub fn parse(def: &SettingDef, input: &str, current: Option<&Value>) -> Result<Value> {
    let name = def.name;
    match def.vartype {
        VarType::Bool => parse_bool(input).map(Value::Bool).ok_or_else(|| {
            Error::new(
                sqlstate::INVALID_PARAMETER_VALUE,
                format!("parameter \"{name}\" requires a Boolean value"),
            )
        }),
        VarType::Integer => {
            let v = parse_int_text(input, def.unit).map_err(|hint| {
                let e = invalid(name, input);
                match hint {
                    Some(h) => e.with_hint(h),
                    None => e,
                }
            })?;
            if (v as f64) < def.min || (v as f64) > def.max {
                let u = unit::unit_name(def.unit)
                    .map(|u| format!(" {u}"))
                    .unwrap_or_default();
                return Err(Error::new(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    format!(
                        "{v}{u} is outside the valid range for parameter \"{name}\" ({} .. {})",
                        def.min as i64, def.max as i64
                    ),
                ));
            }
            Ok(Value::Int(v))
        }
        VarType::Real => {
            let v = parse_real_text(input, def.unit).map_err(|hint| {
                let e = invalid(name, input);
                match hint {
                    Some(h) => e.with_hint(h),
                    None => e,
                }
            })?;
            if v < def.min || v > def.max {
                let u = unit::unit_name(def.unit)
                    .map(|u| format!(" {u}"))
                    .unwrap_or_default();
                return Err(Error::new(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    format!(
                        "{}{u} is outside the valid range for parameter \"{name}\" ({} .. {})",
                        unit::format_g(v),
                        unit::format_g(def.min),
                        unit::format_g(def.max)
                    ),
                ));
            }
            Ok(Value::Real(v))
        }
        VarType::Enum => def
            .enum_values
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(input))
            .map(|e| Value::Str(e.canonical.to_string()))
            .ok_or_else(|| {
                let list: Vec<&str> = def
                    .enum_values
                    .iter()
                    .filter(|e| !e.hidden)
                    .map(|e| e.name)
                    .collect();
                invalid(name, input).with_hint(format!("Available values: {}.", list.join(", ")))
            }),
        VarType::String => check_string(def, input, current).map(Value::Str),
    }
}

fn check_string(def: &SettingDef, input: &str, current: Option<&Value>) -> Result<String> {
    match def.name {
        "client_encoding" | "server_encoding" => match normalize_encoding(input) {
            Some("MULE_INTERNAL") if def.name == "client_encoding" => Err(invalid(def.name, input)
                .with_detail("Conversion between MULE_INTERNAL and UTF8 is not supported.")),
            Some(e) => Ok(e.to_string()),
            None => Err(invalid(def.name, input)),
        },
        "DateStyle" => {
            let cur = match current {
                Some(Value::Str(s)) => s.as_str(),
                _ => "ISO, MDY",
            };
            check_datestyle(input, cur)
        }
        "TimeZone" | "log_timezone" => match interval_zone(input) {
            Some(Ok(name)) => Ok(name),
            Some(Err(detail)) => Err(invalid(def.name, input).with_detail(detail)),
            None => check_timezone(input).ok_or_else(|| invalid(def.name, input)),
        },
        "application_name" | "cluster_name" => Ok(clean_ascii(input)),
        "recovery_target" if !input.is_empty() && input != "immediate" => {
            Err(invalid(def.name, input).with_detail("The only allowed value is \"immediate\"."))
        }
        "recovery_target_lsn" if !input.is_empty() && parse_lsn(input).is_none() => {
            Err(invalid(def.name, input))
        }
        "recovery_target_time" if !input.is_empty() && !looks_like_timestamp(input) => {
            Err(invalid(def.name, input))
        }
        // PostgreSQL's check hooks parse these with strtoul/strtou64 (base 0): only an
        // overflow is refused; text without digits reads as 0.
        "recovery_target_xid" if !input.is_empty() && parse_c_unsigned(input).is_none() => {
            Err(invalid(def.name, input))
        }
        "recovery_target_timeline"
            if input != "current" && input != "latest" && parse_c_unsigned(input).is_none() =>
        {
            Err(invalid(def.name, input)
                .with_detail("recovery_target_timeline is not a valid number."))
        }
        "recovery_target_name" if input.len() >= 64 => Err(invalid(def.name, input)
            .with_detail("recovery_target_name is too long (maximum 63 characters).")),
        "primary_slot_name" if !input.is_empty() => match check_slot_name(input) {
            Ok(()) => Ok(input.to_string()),
            Err((detail, hint)) => {
                let e = invalid(def.name, input).with_detail(detail);
                Err(match hint {
                    Some(h) => e.with_hint(h),
                    None => e,
                })
            }
        },
        "metrics_listen_address" if !input.is_empty() => match parse_listen_address(input) {
            Ok(_) => Ok(input.to_string()),
            Err(detail) => Err(invalid(def.name, input).with_detail(detail)),
        },
        "synchronous_standby_names" => match parse_sync_standby_names(input) {
            Ok(_) => Ok(input.to_string()),
            Err(SyncNamesError::Syntax(detail)) => {
                let mut e = invalid(def.name, input).with_detail(detail);
                e.code = sqlstate::SYNTAX_ERROR;
                Err(e)
            }
            Err(SyncNamesError::ZeroStandbys) => Err(Error::new(
                sqlstate::INVALID_PARAMETER_VALUE,
                "number of synchronous standbys (0) must be greater than zero",
            )),
        },
        _ => Ok(input.to_string()),
    }
}

/// Parses a listening address written `host:port`, `[IPv6 address]:port` or `*:port`
/// (`metrics_listen_address`) into the host (`*`, an IP address or a host name; an
/// IPv6 address without its brackets) and the port (1–65535). The error is the
/// DETAIL of PostgreSQL's invalid-value message.
pub fn parse_listen_address(s: &str) -> std::result::Result<(String, u16), String> {
    const EXPECTED: &str = "Expected host:port, [IPv6 address]:port or *:port.";
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or(EXPECTED)?;
        if inside.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("\"{inside}\" is not a valid IPv6 address."));
        }
        (inside, after.strip_prefix(':').ok_or(EXPECTED)?)
    } else {
        let (host, port) = s.rsplit_once(':').ok_or(EXPECTED)?;
        if host.contains(':') {
            return Err("IPv6 addresses must be written in brackets, as in [::1]:9187.".into());
        }
        let name_ok = |h: &str| {
            !h.starts_with(['-', '.'])
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        };
        if host.is_empty() {
            return Err(EXPECTED.into());
        }
        if host != "*" && host.parse::<std::net::Ipv4Addr>().is_err() && !name_ok(host) {
            return Err(format!("\"{host}\" is not a valid host name or address."));
        }
        (host, port)
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => Ok((host.to_string(), p)),
        _ => Err(format!(
            "\"{port}\" is not a valid port: it must be a number between 1 and 65535."
        )),
    }
}

/// Parses a WAL location written `X/Y` (one to eight hex digits each side) into a
/// 64-bit LSN, as PostgreSQL's pg_lsn input does.
pub fn parse_lsn(s: &str) -> Option<u64> {
    let (hi, lo) = s.split_once('/')?;
    let ok = |p: &str| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_hexdigit());
    if !ok(hi) || !ok(lo) {
        return None;
    }
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

/// C's `strtoull(s, NULL, 0)` as glibc does it: leading white space, an optional
/// sign (a minus negates modulo 2^64), `0x` for hex, a leading `0` for octal, digits
/// up to the first character that is not one; no digits at all reads as 0. None is
/// the ERANGE case (the digits overflow 64 bits), the only error PostgreSQL's check
/// hooks for `recovery_target_xid` and `recovery_target_timeline` see.
pub fn parse_c_unsigned(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let mut radix = 10;
    if b.get(i) == Some(&b'0') {
        if matches!(b.get(i + 1), Some(b'x' | b'X'))
            && b.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit())
        {
            radix = 16;
            i += 2;
        } else {
            radix = 8;
        }
    }
    let mut v: u64 = 0;
    while let Some(d) = b.get(i).and_then(|&c| (c as char).to_digit(radix)) {
        v = v.checked_mul(radix as u64)?.checked_add(d as u64)?;
        i += 1;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// A light check that a recovery_target_time value is an absolute date and time:
/// PostgreSQL's special words (`now`, `today`…) are refused, and the text must hold a
/// date (two groups of digits, or one with a month name). The recovery code parses it
/// fully.
fn looks_like_timestamp(s: &str) -> bool {
    let l = s.trim().to_ascii_lowercase();
    if [
        "epoch",
        "infinity",
        "-infinity",
        "now",
        "today",
        "tomorrow",
        "yesterday",
    ]
    .contains(&l.as_str())
    {
        return false;
    }
    let groups = l
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .count();
    let months = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    groups >= 2 || (groups == 1 && months.iter().any(|m| l.contains(m)))
}

/// Checks a replication slot name as PostgreSQL does: at most 63 bytes of lower-case
/// letters, digits and underscores. The error is (detail, hint).
pub fn check_slot_name(name: &str) -> std::result::Result<(), (String, Option<&'static str>)> {
    if name.is_empty() {
        return Err((
            format!("replication slot name \"{name}\" is too short"),
            None,
        ));
    }
    if name.len() > 63 {
        return Err((
            format!("replication slot name \"{name}\" is too long"),
            None,
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err((
            format!("replication slot name \"{name}\" contains invalid character"),
            Some("Replication slot names may only contain lower case letters, numbers, and the underscore character."),
        ));
    }
    Ok(())
}

/// How synchronous standbys are chosen, from synchronous_standby_names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMethod {
    /// `FIRST n (…)` or the old `n (…)` / plain list forms: by priority (list order).
    Priority,
    /// `ANY n (…)`: quorum.
    Quorum,
}

/// A parsed synchronous_standby_names value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStandbyNames {
    /// Priority or quorum.
    pub method: SyncMethod,
    /// How many standbys must confirm.
    pub num_sync: u32,
    /// The standby names (application_name values; `*` matches any), as written,
    /// double quotes removed.
    pub names: Vec<String>,
}

/// Why a synchronous_standby_names value is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncNamesError {
    /// A syntax error: PostgreSQL's detail text (`syntax error at or near "b"`).
    Syntax(String),
    /// A count of zero.
    ZeroStandbys,
}

/// Parses synchronous_standby_names with PostgreSQL's grammar: `name, …`,
/// `n (name, …)`, `FIRST n (name, …)` or `ANY n (name, …)`; names are identifiers,
/// double-quoted strings, numbers or `*`. Ok(None) for an empty value (no synchronous
/// replication).
pub fn parse_sync_standby_names(
    s: &str,
) -> std::result::Result<Option<SyncStandbyNames>, SyncNamesError> {
    #[derive(Debug, Clone, PartialEq)]
    enum T {
        Name(String),
        Num(String),
        Any,
        First,
        Punct(char),
    }
    let chars: Vec<char> = s.chars().collect();
    let mut toks: Vec<(T, String)> = Vec::new();
    let mut i = 0;
    let syntax = |near: Option<&str>| {
        SyncNamesError::Syntax(match near {
            Some(t) => format!("syntax error at or near \"{t}\""),
            None => "syntax error at end of input".to_string(),
        })
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let st = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let t: String = chars[st..i].iter().collect();
            toks.push((T::Num(t.clone()), t));
        } else if c.is_alphabetic() || c == '_' || !c.is_ascii() {
            let st = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric()
                    || chars[i] == '_'
                    || chars[i] == '$'
                    || !chars[i].is_ascii())
            {
                i += 1;
            }
            let t: String = chars[st..i].iter().collect();
            let kind = match t.to_ascii_lowercase().as_str() {
                "any" => T::Any,
                "first" => T::First,
                _ => T::Name(t.clone()),
            };
            toks.push((kind, t));
        } else if c == '"' {
            let st = i;
            i += 1;
            let mut v = String::new();
            loop {
                match chars.get(i) {
                    None => return Err(syntax(None)),
                    Some('"') if chars.get(i + 1) == Some(&'"') => {
                        v.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        v.push(ch);
                        i += 1;
                    }
                }
            }
            toks.push((T::Name(v), chars[st..i].iter().collect()));
        } else if c == '*' {
            toks.push((T::Name("*".into()), "*".into()));
            i += 1;
        } else if c == ',' || c == '(' || c == ')' {
            toks.push((T::Punct(c), c.to_string()));
            i += 1;
        } else {
            return Err(syntax(Some(&c.to_string())));
        }
    }
    if toks.is_empty() {
        return Ok(None);
    }
    let mut p = 0;
    let text = |p: usize| toks.get(p).map(|(_, t)| t.as_str());
    let (method, num, list_start, parens) = match (&toks[0].0, toks.get(1).map(|t| &t.0)) {
        (T::Any | T::First, Some(T::Num(n))) => {
            let m = if toks[0].0 == T::Any {
                SyncMethod::Quorum
            } else {
                SyncMethod::Priority
            };
            (m, Some(n.clone()), 2, true)
        }
        (T::Num(n), Some(T::Punct('('))) => (SyncMethod::Priority, Some(n.clone()), 1, true),
        _ => (SyncMethod::Priority, None, 0, false),
    };
    p += list_start;
    if parens {
        match toks.get(p) {
            Some((T::Punct('('), _)) => p += 1,
            _ => return Err(syntax(text(p))),
        }
    }
    let mut names = Vec::new();
    loop {
        match toks.get(p) {
            Some((T::Name(n), _)) | Some((T::Num(n), _)) => names.push(n.clone()),
            Some((T::Any, t)) | Some((T::First, t)) => names.push(t.clone()),
            _ => return Err(syntax(text(p))),
        }
        p += 1;
        match toks.get(p) {
            Some((T::Punct(','), _)) => p += 1,
            _ => break,
        }
    }
    if parens {
        match toks.get(p) {
            Some((T::Punct(')'), _)) => p += 1,
            _ => return Err(syntax(text(p))),
        }
    }
    if p < toks.len() {
        return Err(syntax(text(p)));
    }
    let num_sync = match num {
        Some(n) => n.parse::<u32>().map_err(|_| syntax(Some(&n)))?,
        None => 1,
    };
    if num_sync == 0 {
        return Err(SyncNamesError::ZeroStandbys);
    }
    Ok(Some(SyncStandbyNames {
        method,
        num_sync,
        names,
    }))
}

/// Replaces every byte outside printable ASCII with `?`, as PostgreSQL does for
/// application_name and cluster_name.
pub fn clean_ascii(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if (32..=126).contains(&b) {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}

/// PostgreSQL's encoding names, and the extra aliases it accepts, keyed by the name with
/// non-alphanumerics dropped and lower-cased.
const ENCODINGS: &[(&str, &str)] = &[
    ("sqlascii", "SQL_ASCII"),
    ("utf8", "UTF8"),
    ("unicode", "UTF8"),
    ("eucjp", "EUC_JP"),
    ("euccn", "EUC_CN"),
    ("euckr", "EUC_KR"),
    ("euctw", "EUC_TW"),
    ("eucjis2004", "EUC_JIS_2004"),
    ("muleinternal", "MULE_INTERNAL"),
    ("latin1", "LATIN1"),
    ("latin2", "LATIN2"),
    ("latin3", "LATIN3"),
    ("latin4", "LATIN4"),
    ("latin5", "LATIN5"),
    ("latin6", "LATIN6"),
    ("latin7", "LATIN7"),
    ("latin8", "LATIN8"),
    ("latin9", "LATIN9"),
    ("latin10", "LATIN10"),
    ("iso88591", "LATIN1"),
    ("iso88592", "LATIN2"),
    ("iso88593", "LATIN3"),
    ("iso88594", "LATIN4"),
    ("iso88599", "LATIN5"),
    ("iso885910", "LATIN6"),
    ("iso885913", "LATIN7"),
    ("iso885914", "LATIN8"),
    ("iso885915", "LATIN9"),
    ("iso885916", "LATIN10"),
    ("iso88595", "ISO_8859_5"),
    ("iso88596", "ISO_8859_6"),
    ("iso88597", "ISO_8859_7"),
    ("iso88598", "ISO_8859_8"),
    ("win1250", "WIN1250"),
    ("win1251", "WIN1251"),
    ("win1252", "WIN1252"),
    ("win1253", "WIN1253"),
    ("win1254", "WIN1254"),
    ("win1255", "WIN1255"),
    ("win1256", "WIN1256"),
    ("win1257", "WIN1257"),
    ("win1258", "WIN1258"),
    ("windows1250", "WIN1250"),
    ("windows1251", "WIN1251"),
    ("windows1252", "WIN1252"),
    ("win866", "WIN866"),
    ("win874", "WIN874"),
    ("koi8", "KOI8R"),
    ("koi8r", "KOI8R"),
    ("koi8u", "KOI8U"),
    ("sjis", "SJIS"),
    ("shiftjis", "SJIS"),
    ("mskanji", "SJIS"),
    ("shiftjis2004", "SHIFT_JIS_2004"),
    ("big5", "BIG5"),
    ("gbk", "GBK"),
    ("uhc", "UHC"),
    ("gb18030", "GB18030"),
    ("johab", "JOHAB"),
];

/// Normalises an encoding name as PostgreSQL does (`'utf-8'`, `UTF8`, `unicode` → `UTF8`);
/// None for an unknown encoding. Surrounding single quotes, as asyncpg sends them, are
/// ignored because they are not alphanumeric.
pub fn normalize_encoding(name: &str) -> Option<&'static str> {
    let key: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    ENCODINGS.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

fn check_datestyle(input: &str, current: &str) -> Result<String> {
    let (mut style, mut order) = current.split_once(", ").unwrap_or(("ISO", "MDY"));
    let (mut have_style, mut have_order, mut ok) = (false, false, true);
    let bad_list = || {
        invalid("DateStyle", input)
            .with_detail("List syntax is invalid.".to_string())
            .with_severity(crate::error::Severity::Error)
    };
    let tokens: Vec<&str> = if input.trim().is_empty() {
        Vec::new()
    } else {
        input.split(',').collect()
    };
    for raw in tokens {
        let tok = raw.trim_matches(|c: char| c.is_ascii_whitespace());
        let tok = tok.trim_matches('"');
        if tok.is_empty() || tok.contains(|c: char| c.is_ascii_whitespace()) {
            return Err(bad_list());
        }
        let up = tok.to_ascii_uppercase();
        let mut set_style = |s: &'static str| {
            if have_style && style != s {
                ok = false;
            }
            style = s;
            have_style = true;
        };
        match up.as_str() {
            "ISO" => set_style("ISO"),
            "SQL" => set_style("SQL"),
            "POSTGRES" => set_style("Postgres"),
            "GERMAN" => {
                set_style("German");
                if !have_order {
                    order = "DMY";
                }
            }
            "YMD" | "DMY" | "EURO" | "EUROPEAN" | "MDY" | "US" | "NONEURO" | "NONEUROPEAN" => {
                let o = match up.as_str() {
                    "YMD" => "YMD",
                    "DMY" | "EURO" | "EUROPEAN" => "DMY",
                    _ => "MDY",
                };
                if have_order && order != o {
                    ok = false;
                }
                order = o;
                have_order = true;
            }
            "DEFAULT" => {
                if !have_style {
                    style = "ISO";
                }
                if !have_order {
                    order = "MDY";
                }
            }
            _ => {
                return Err(invalid("DateStyle", input)
                    .with_detail(format!("Unrecognized key word: \"{tok}\".")));
            }
        }
    }
    if !ok {
        return Err(
            invalid("DateStyle", input).with_detail("Conflicting \"datestyle\" specifications.")
        );
    }
    Ok(format!("{style}, {order}"))
}

/// Validates a time zone name and returns the spelling to store, as PostgreSQL's
/// `check_timezone`: a numeric hour offset east of UTC (`+3` → `<+03>-03`, as PostgreSQL
/// shows it), else a zone of the embedded IANA database (matched case-insensitively,
/// returned with the database's spelling) or a POSIX-style specification (`UTC+3`,
/// `EST5EDT`, stored in upper case) — see `types::timezone`.
pub fn check_timezone(input: &str) -> Option<String> {
    if let Some((hours, rest)) = strtod(input) {
        if rest.trim().is_empty() && hours.is_finite() && hours.abs() < 168.0 {
            return Some(offset_zone_name((hours * 3600.0).round() as i64));
        }
    }
    crate::types::timezone::canonical_name(input)
}

/// `INTERVAL '…'` (what `SET TIME ZONE INTERVAL '+02:00' HOUR TO MINUTE` becomes):
/// a fixed offset east of UTC; months and days are refused with PostgreSQL's detail.
/// `None` when the value is not of that form.
fn interval_zone(input: &str) -> Option<std::result::Result<String, &'static str>> {
    let head = input.get(..8)?;
    if !head.eq_ignore_ascii_case("interval") {
        return None;
    }
    let quoted = input[8..].trim();
    let inner = quoted.strip_prefix('\'')?.strip_suffix('\'')?;
    let iv = crate::types::parse_interval(&inner.replace("''", "'")).ok()?;
    if iv.months != 0 {
        return Some(Err("Cannot specify months in time zone interval."));
    }
    if iv.days != 0 {
        return Some(Err("Cannot specify days in time zone interval."));
    }
    Some(Ok(offset_zone_name(iv.micros / 1_000_000)))
}

fn offset_zone_name(east_secs: i64) -> String {
    let abs = east_secs.abs();
    let mut s = format!("{:02}", abs / 3600);
    if abs % 3600 != 0 {
        s.push_str(&format!(":{:02}", (abs / 60) % 60));
        if abs % 60 != 0 {
            s.push_str(&format!(":{:02}", abs % 60));
        }
    }
    if east_secs < 0 {
        format!("<-{s}>+{s}")
    } else {
        format!("<+{s}>-{s}")
    }
}

/// The text SHOW prints for `v`, with units and PostgreSQL's show hooks (octal modes).
pub fn show(def: &SettingDef, v: &Value) -> String {
    match v {
        Value::Bool(b) => if *b { "on" } else { "off" }.to_string(),
        Value::Int(i) if is_octal(def) => format!("{:04o}", i),
        Value::Int(i) => unit::format_int(*i, def.unit),
        Value::Real(r) => {
            let (v, u) = unit::real_from_base(*r, def.unit);
            format!("{}{u}", unit::format_g(v))
        }
        Value::Str(s) => s.clone(),
    }
}

/// The text of the `setting` column of `pg_settings`: the number in the base unit with
/// no unit attached (octal for file modes), or the same as SHOW for other types.
pub fn setting_text(def: &SettingDef, v: &Value) -> String {
    match v {
        Value::Int(i) if is_octal(def) => format!("{:04o}", i),
        Value::Int(i) => i.to_string(),
        Value::Real(r) => unit::format_g(*r),
        _ => show(def, v),
    }
}

/// The SHOW text of a custom placeholder's value (always a string).
pub fn show_custom(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Bool(b) => if *b { "on" } else { "off" }.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Real(r) => unit::format_g(*r),
    }
}

fn is_octal(def: &SettingDef) -> bool {
    matches!(
        def.name,
        "unix_socket_permissions" | "log_file_mode" | "data_directory_mode"
    )
}

#[cfg(test)]
mod tests {
    use super::super::lookup;
    use super::*;

    fn p(name: &str, v: &str) -> Result<String> {
        let def = lookup(name).unwrap();
        parse(def, v, None).map(|x| show(def, &x))
    }

    fn msg(name: &str, v: &str) -> (String, Option<String>) {
        let e = p(name, v).unwrap_err();
        assert_eq!(e.code, "22023");
        (e.message, e.hint.or(e.detail))
    }

    #[test]
    fn booleans() {
        for t in ["on", "ON", "true", "t", "tr", "yes", "y", "1"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["off", "of", "false", "f", "no", "n", "0"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for bad in ["o", "", "2", "maybe", "on ", "truee", "10"] {
            assert_eq!(parse_bool(bad), None, "{bad}");
        }
        assert_eq!(
            msg("enable_seqscan", "o").0,
            "parameter \"enable_seqscan\" requires a Boolean value"
        );
    }

    #[test]
    fn integers_with_units() {
        assert_eq!(p("work_mem", "4MB").unwrap(), "4MB");
        assert_eq!(p("work_mem", "1.5MB").unwrap(), "1536kB");
        assert_eq!(p("work_mem", "4096").unwrap(), "4MB");
        assert_eq!(p("statement_timeout", "60s").unwrap(), "1min");
        assert_eq!(p("statement_timeout", "1.5s").unwrap(), "1500ms");
        assert_eq!(p("statement_timeout", "90s").unwrap(), "90s");
        assert_eq!(p("statement_timeout", "100us").unwrap(), "0");
        assert_eq!(p("statement_timeout", "0x10").unwrap(), "16ms");
        assert_eq!(p("statement_timeout", "010").unwrap(), "8ms");
        assert_eq!(p("statement_timeout", " 5 s ").unwrap(), "5s");
        assert_eq!(p("shared_buffers", "128MB").unwrap(), "128MB");
        assert_eq!(p("max_wal_size", "1GB").unwrap(), "1GB");
        assert_eq!(p("checkpoint_timeout", "5min").unwrap(), "5min");
        assert_eq!(p("wal_segment_size", "16MB").unwrap(), "16MB");
        assert_eq!(p("wal_buffers", "-1").unwrap(), "-1");
        assert_eq!(p("lock_timeout", "1d").unwrap(), "1d");
        assert_eq!(p("unix_socket_permissions", "0777").unwrap(), "0777");
    }

    #[test]
    fn integer_errors() {
        assert_eq!(
            msg("work_mem", "1kB"),
            (
                "1 kB is outside the valid range for parameter \"work_mem\" (64 .. 2147483647)"
                    .into(),
                None
            )
        );
        assert_eq!(
            msg("work_mem", "abc"),
            (
                "invalid value for parameter \"work_mem\": \"abc\"".into(),
                None
            )
        );
        assert_eq!(
            msg("work_mem", "10XB").1.unwrap(),
            "Valid units for this parameter are \"B\", \"kB\", \"MB\", \"GB\", and \"TB\"."
        );
        assert_eq!(
            msg("statement_timeout", "5 S").1.unwrap(),
            "Valid units for this parameter are \"us\", \"ms\", \"s\", \"min\", \"h\", and \"d\"."
        );
        assert_eq!(
            msg("work_mem", "99999999999").1.unwrap(),
            "Value exceeds integer range."
        );
        assert_eq!(
            msg("statement_timeout", "-5").0,
            "-5 ms is outside the valid range for parameter \"statement_timeout\" (0 .. 2147483647)"
        );
        assert_eq!(
            msg("shared_buffers", "1kB").0,
            "0 8kB is outside the valid range for parameter \"shared_buffers\" (16 .. 1073741823)"
        );
        assert_eq!(
            msg("port", "99999999").0,
            "99999999 is outside the valid range for parameter \"port\" (1 .. 65535)"
        );
        assert_eq!(
            msg("extra_float_digits", "5").0,
            "5 is outside the valid range for parameter \"extra_float_digits\" (-15 .. 3)"
        );
        assert!(p("max_connections", "").is_err());
        assert!(p("max_connections", "10 MB").is_err());
    }

    #[test]
    fn reals() {
        assert_eq!(p("random_page_cost", "1.5").unwrap(), "1.5");
        assert_eq!(p("checkpoint_completion_target", "0.9").unwrap(), "0.9");
        assert_eq!(p("vacuum_cost_delay", "2500us").unwrap(), "2500us");
        assert_eq!(p("vacuum_cost_delay", "1.5").unwrap(), "1500us");
        assert_eq!(
            msg("random_page_cost", "-1").0,
            "-1 is outside the valid range for parameter \"random_page_cost\" (0 .. 1.79769e+308)"
        );
        assert_eq!(
            msg("random_page_cost", "nan").0,
            "invalid value for parameter \"random_page_cost\": \"nan\""
        );
        assert!(p("random_page_cost", "1e400").is_err());
    }

    #[test]
    fn enums() {
        assert_eq!(p("wal_level", "archive").unwrap(), "replica");
        assert_eq!(p("wal_level", "HOT_STANDBY").unwrap(), "replica");
        assert_eq!(p("wal_level", "Logical").unwrap(), "logical");
        for (i, o) in [
            ("true", "on"),
            ("no", "off"),
            ("1", "on"),
            ("0", "off"),
            ("local", "local"),
            ("remote_apply", "remote_apply"),
        ] {
            assert_eq!(p("synchronous_commit", i).unwrap(), o);
        }
        let (m, h) = msg("synchronous_commit", "bogus");
        assert_eq!(
            m,
            "invalid value for parameter \"synchronous_commit\": \"bogus\""
        );
        assert_eq!(
            h.unwrap(),
            "Available values: local, remote_write, remote_apply, on, off."
        );
        assert_eq!(
            msg("wal_level", "x").1.unwrap(),
            "Available values: minimal, replica, logical."
        );
        assert_eq!(
            p("default_transaction_isolation", "Repeatable Read").unwrap(),
            "repeatable read"
        );
        assert_eq!(p("client_min_messages", "debug").unwrap(), "debug2");
        assert!(p("log_statement", "on").is_err());
    }

    #[test]
    fn strings_with_hooks() {
        for e in ["'utf-8'", "UTF8", "utf8", "UNICODE", "utf-8"] {
            assert_eq!(p("client_encoding", e).unwrap(), "UTF8");
        }
        assert_eq!(p("client_encoding", "sql_ascii").unwrap(), "SQL_ASCII");
        assert_eq!(p("client_encoding", "latin1").unwrap(), "LATIN1");
        assert_eq!(
            msg("client_encoding", "bogus").0,
            "invalid value for parameter \"client_encoding\": \"bogus\""
        );
        assert_eq!(p("DateStyle", "German").unwrap(), "German, DMY");
        assert_eq!(p("DateStyle", "SQL").unwrap(), "SQL, MDY");
        assert_eq!(p("DateStyle", "Postgres, YMD").unwrap(), "Postgres, YMD");
        assert_eq!(p("DateStyle", "ISO, MDY").unwrap(), "ISO, MDY");
        assert_eq!(p("DateStyle", "euro").unwrap(), "ISO, DMY");
        let (m, d) = msg("DateStyle", "foo");
        assert_eq!(m, "invalid value for parameter \"DateStyle\": \"foo\"");
        assert_eq!(d.unwrap(), "Unrecognized key word: \"foo\".");
        assert_eq!(
            msg("DateStyle", "ISO, SQL").1.unwrap(),
            "Conflicting \"datestyle\" specifications."
        );
        let def = lookup("DateStyle").unwrap();
        let cur = Value::Str("Postgres, YMD".into());
        assert_eq!(
            parse(def, "ymd", Some(&cur)).unwrap(),
            Value::Str("Postgres, YMD".into())
        );
        assert_eq!(p("application_name", "a\u{e9}b").unwrap(), "a??b");
    }

    #[test]
    fn no_input_panics() {
        let inputs = [
            "",
            " ",
            "-",
            "+",
            ".",
            "e",
            "1e",
            "0x",
            "0x1g",
            "1.",
            ".5",
            "1e5MB",
            "1 2",
            "é",
            "1é",
            "9999999999999999999999",
            "-9999999999999999999999",
            "0x7fffffffffffffffff",
            "inf",
            "-inf",
            "nan",
            "1kB ",
            "1 TB",
            "\u{0}",
            "'",
            "\"",
            "on,off",
            "<+03>-03",
            "<",
            "<ab>",
            "ABC",
            "ABC+",
            "ABC+99",
            "ABC-3DEF,M3",
            "1e-400",
            "1e400",
            "0777",
            "08",
            "-0",
            "  -1",
            "ISO,",
            ",",
            "German, YMD",
            "a b",
            "\0",
            "1\0",
        ];
        for def in super::super::registry() {
            for i in inputs {
                let _ = parse(def, i, None).map(|v| show(def, &v));
            }
        }
    }

    #[test]
    fn replication_string_checks() {
        let m = |n: &str, v: &str| {
            let e = p(n, v).unwrap_err();
            (e.message, e.detail, e.hint)
        };
        assert_eq!(
            m("recovery_target", "foo").1.unwrap(),
            "The only allowed value is \"immediate\"."
        );
        assert_eq!(p("recovery_target", "immediate").unwrap(), "immediate");
        assert_eq!(p("recovery_target_lsn", "0/1A2B").unwrap(), "0/1A2B");
        for bad in ["xyz", "0/", "123456789/0", " 0/1"] {
            assert!(p("recovery_target_lsn", bad).is_err(), "{bad}");
        }
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        let (_, d, h) = m("primary_slot_name", "Bad-Name");
        assert_eq!(
            d.unwrap(),
            "replication slot name \"Bad-Name\" contains invalid character"
        );
        assert_eq!(
            h.unwrap(),
            "Replication slot names may only contain lower case letters, numbers, and the underscore character."
        );
        assert!(m("primary_slot_name", &"a".repeat(64))
            .1
            .unwrap()
            .ends_with("is too long"));
        assert_eq!(p("primary_slot_name", "").unwrap(), "");
        assert_eq!(p("primary_slot_name", "ok_1").unwrap(), "ok_1");
        for ok in [
            "2024-01-01 10:00:00",
            "Jan 5 2024 10:00",
            "2024-01-01 10:00:00+02",
        ] {
            assert!(p("recovery_target_time", ok).is_ok(), "{ok}");
        }
        for bad in ["now", "2024", "garbage"] {
            assert!(p("recovery_target_time", bad).is_err(), "{bad}");
        }
        // strtoul semantics, as PostgreSQL 15's check hooks (captured: 'abc' and
        // '-1' are accepted, an overflow is not).
        for ok in ["736", "abc", "-1", "0x10", ""] {
            assert!(p("recovery_target_xid", ok).is_ok(), "{ok}");
        }
        assert_eq!(
            m("recovery_target_xid", "99999999999999999999999").0,
            "invalid value for parameter \"recovery_target_xid\": \"99999999999999999999999\""
        );
        assert_eq!(parse_c_unsigned("0x10"), Some(16));
        assert_eq!(parse_c_unsigned("010"), Some(8));
        assert_eq!(parse_c_unsigned("0x"), Some(0));
        assert_eq!(parse_c_unsigned(" 42abc"), Some(42));
        assert_eq!(parse_c_unsigned("abc"), Some(0));
        assert_eq!(parse_c_unsigned("-1"), Some(u64::MAX));
        assert_eq!(parse_c_unsigned("18446744073709551616"), None);
        for ok in ["current", "latest", "2", "foo"] {
            assert!(p("recovery_target_timeline", ok).is_ok(), "{ok}");
        }
        assert_eq!(
            m("recovery_target_timeline", "99999999999999999999999")
                .1
                .unwrap(),
            "recovery_target_timeline is not a valid number."
        );
        assert!(p("recovery_target_name", &"a".repeat(63)).is_ok());
        assert_eq!(
            m("recovery_target_name", &"a".repeat(64)).1.unwrap(),
            "recovery_target_name is too long (maximum 63 characters)."
        );
    }

    #[test]
    fn metrics_listen_address() {
        for (v, host, port) in [
            ("127.0.0.1:9187", "127.0.0.1", 9187),
            ("[::1]:9187", "::1", 9187),
            ("*:9187", "*", 9187),
            ("localhost:1", "localhost", 1),
            ("db-1.example.com:65535", "db-1.example.com", 65535),
        ] {
            assert_eq!(parse_listen_address(v), Ok((host.to_string(), port)), "{v}");
            assert_eq!(p("metrics_listen_address", v).unwrap(), v);
        }
        assert_eq!(p("metrics_listen_address", "").unwrap(), "");
        for (bad, detail) in [
            ("9187", "Expected host:port, [IPv6 address]:port or *:port."),
            (
                ":9187",
                "Expected host:port, [IPv6 address]:port or *:port.",
            ),
            (
                "[::1]9187",
                "Expected host:port, [IPv6 address]:port or *:port.",
            ),
            (
                "::1:9187",
                "IPv6 addresses must be written in brackets, as in [::1]:9187.",
            ),
            ("[fe80::zz]:1", "\"fe80::zz\" is not a valid IPv6 address."),
            (
                "bad host:1",
                "\"bad host\" is not a valid host name or address.",
            ),
            (
                "127.0.0.1:0",
                "\"0\" is not a valid port: it must be a number between 1 and 65535.",
            ),
            (
                "127.0.0.1:65536",
                "\"65536\" is not a valid port: it must be a number between 1 and 65535.",
            ),
            (
                "127.0.0.1:+80",
                "\"+80\" is not a valid port: it must be a number between 1 and 65535.",
            ),
            (
                "127.0.0.1:",
                "\"\" is not a valid port: it must be a number between 1 and 65535.",
            ),
        ] {
            let (m, d) = msg("metrics_listen_address", bad);
            assert_eq!(
                m,
                format!("invalid value for parameter \"metrics_listen_address\": \"{bad}\"")
            );
            assert_eq!(d.as_deref(), Some(detail), "{bad}");
        }
    }

    #[test]
    fn synchronous_standby_names() {
        let parse = |s: &str| parse_sync_standby_names(s);
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(
            parse("*").unwrap().unwrap(),
            SyncStandbyNames {
                method: SyncMethod::Priority,
                num_sync: 1,
                names: vec!["*".into()]
            }
        );
        assert_eq!(
            parse("first 1 (\"x y\", *)").unwrap().unwrap(),
            SyncStandbyNames {
                method: SyncMethod::Priority,
                num_sync: 1,
                names: vec!["x y".into(), "*".into()]
            }
        );
        let any = parse("ANY 2 (s1, s2, s3)").unwrap().unwrap();
        assert_eq!(
            (any.method, any.num_sync, any.names.len()),
            (SyncMethod::Quorum, 2, 3)
        );
        assert_eq!(parse("2 (a, b)").unwrap().unwrap().num_sync, 2);
        assert_eq!(parse("a, b").unwrap().unwrap().names, vec!["a", "b"]);
        let syn = |s: &str| match parse(s).unwrap_err() {
            SyncNamesError::Syntax(d) => d,
            other => panic!("{other:?}"),
        };
        assert_eq!(syn("a b"), "syntax error at or near \"b\"");
        assert_eq!(syn("2 (a,b"), "syntax error at end of input");
        assert_eq!(syn("a,,b"), "syntax error at or near \",\"");
        assert_eq!(syn("a%"), "syntax error at or near \"%\"");
        assert_eq!(
            parse("ANY 0 (a)").unwrap_err(),
            SyncNamesError::ZeroStandbys
        );
        let e = p("synchronous_standby_names", "a b").unwrap_err();
        assert_eq!(e.code, "42601");
        assert_eq!(e.detail.unwrap(), "syntax error at or near \"b\"");
        assert_eq!(
            p("synchronous_standby_names", "ANY 0 (a)")
                .unwrap_err()
                .message,
            "number of synchronous standbys (0) must be greater than zero"
        );
    }

    #[test]
    fn time_zones() {
        assert_eq!(check_timezone("+3").as_deref(), Some("<+03>-03"));
        assert_eq!(check_timezone("-5").as_deref(), Some("<-05>+05"));
        assert_eq!(check_timezone("3.5").as_deref(), Some("<+03:30>-03:30"));
        assert_eq!(check_timezone("UTC+3").as_deref(), Some("UTC+3"));
        assert_eq!(check_timezone("utc+3").as_deref(), Some("UTC+3"));
        assert_eq!(check_timezone("Foo/Bar"), None);
        assert_eq!(check_timezone("Nowhere/Foo"), None);
        assert_eq!(check_timezone("../etc/passwd"), None);
        assert_eq!(check_timezone("zone.tab"), None);
        assert_eq!(check_timezone("PST"), None);
        // The zone database is embedded: these hold without /usr/share/zoneinfo.
        assert_eq!(check_timezone("UTC").as_deref(), Some("UTC"));
        assert_eq!(check_timezone("utc").as_deref(), Some("UTC"));
        assert_eq!(check_timezone("Etc/UTC").as_deref(), Some("Etc/UTC"));
        assert_eq!(
            check_timezone("europe/berlin").as_deref(),
            Some("Europe/Berlin")
        );
        assert_eq!(check_timezone("EST5EDT").as_deref(), Some("EST5EDT"));
        assert_eq!(check_timezone("Etc/GMT+3").as_deref(), Some("Etc/GMT+3"));
        assert_eq!(
            interval_zone("INTERVAL '01:20:00'"),
            Some(Ok("<+01:20>-01:20".to_string()))
        );
        assert_eq!(
            interval_zone("INTERVAL '1 day'"),
            Some(Err("Cannot specify days in time zone interval."))
        );
        assert_eq!(interval_zone("Europe/Paris"), None);
    }
}
