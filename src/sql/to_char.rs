//! PostgreSQL's `to_char` template engine for date/time values (`formatting.c`'s
//! `DCH_to_char`), for `timestamp`, `timestamptz`, `date` and `interval`.
//!
//! What this module owns: splitting a template into keywords, FM/TH modifiers, quoted
//! text and escapes ([`parse_template`]), and printing broken-down time fields
//! ([`Tm`]) through it ([`format`]).
//!
//! Invariants:
//! 1. The keyword table is PostgreSQL 15's complete `DCH_keywords` list, matched the
//!    way PostgreSQL matches it (case-sensitive, first table entry that is a prefix of
//!    the remaining template). A keyword tusk does not implement is therefore always
//!    *recognised* and refused with 0A000 — it is never copied to the output as literal
//!    text, which would be a silently wrong answer.
//! 2. Interval values only take the numeric fields PostgreSQL prints for them; the
//!    calendar-only ones fail with PostgreSQL's 22007 "invalid format specification for
//!    an interval value".
//!
//! Parsing ([`parse`], for `to_timestamp(text, text)` and `to_date`) follows
//! `DCH_from_char` in non-FX mode for YYYY YY MM DD DDD HH24 HH12 HH MI SS MS US,
//! AM/PM, Mon/Month, Dy/Day, FM and literals; every other keyword, a missing year and
//! years outside 1..=294276 are refused with 0A000.
//!
//! What it must never do: panic on any template (all slicing is by `char`), or print a
//! pattern it does not implement exactly.
//!
//! One call, `to_char(ts, 'FMDay, DDth Month YYYY')`: [`parse_template`] yields
//! `[Key(Day, FM), Lit(", "), Key(DD, TH), Lit(" "), Key(Month), Lit(" "), Key(YYYY)]`;
//! [`format`] prints each against the fields: `Tuesday, 05th March     2024`.

use crate::err;
use crate::error::{sqlstate, Error, Result};

/// Broken-down time fields, as PostgreSQL's `struct pg_tm` plus fractional seconds.
#[derive(Debug, Clone, Default)]
pub struct Tm {
    /// Year (0 = 1 BC, as PostgreSQL's internal astronomical numbering; for an
    /// interval, whole years).
    pub year: i64,
    /// Month, 1–12 (interval: 0–11 months, possibly negative).
    pub mon: i64,
    /// Day of the month (interval: days).
    pub mday: i64,
    /// Hours.
    pub hour: i64,
    /// Minutes.
    pub min: i64,
    /// Seconds.
    pub sec: i64,
    /// Microseconds.
    pub usec: i64,
    /// Day of the year, 1-based (interval: an approximation of the total days).
    pub yday: i64,
    /// Day of the week, 0 = Sunday.
    pub wday: i64,
    /// ISO 8601 year.
    pub iso_year: i64,
    /// ISO 8601 week.
    pub iso_week: i64,
    /// Offset east of UTC in seconds.
    pub gmtoff: i64,
    /// The zone abbreviation (`None` for `timestamp` without time zone).
    pub tzn: Option<String>,
    /// Whether these fields are an interval's.
    pub is_interval: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum K {
    AmU,
    AmL,
    AmDotU,
    AmDotL,
    MonthU,
    MonthC,
    MonthL,
    MonU,
    MonC,
    MonL,
    DayU,
    DayC,
    DayL,
    DyU,
    DyC,
    DyL,
    Ddd,
    Dd,
    D,
    Id,
    Hh24,
    Hh12,
    Hh,
    Mi,
    Ss,
    Ms,
    Us,
    Mm,
    YCommaYyy,
    Yyyy,
    Yyy,
    Yy,
    Y,
    Iyyy,
    Iyy,
    Iy,
    I,
    Iw,
    Ww,
    W,
    Q,
    TzU,
    TzL,
    Of,
    /// A PostgreSQL keyword tusk does not implement (CC, J, RM, BC, SSSS, FF1…).
    Unsupported(&'static str),
}

/// PostgreSQL 15's `DCH_keywords`, in its matching order per first letter.
const KEYWORDS: &[(&str, K)] = &[
    ("A.D.", K::Unsupported("A.D.")),
    ("A.M.", K::AmDotU),
    ("AD", K::Unsupported("AD")),
    ("AM", K::AmU),
    ("B.C.", K::Unsupported("B.C.")),
    ("BC", K::Unsupported("BC")),
    ("CC", K::Unsupported("CC")),
    ("DAY", K::DayU),
    ("DDD", K::Ddd),
    ("DD", K::Dd),
    ("DY", K::DyU),
    ("Day", K::DayC),
    ("Dy", K::DyC),
    ("D", K::D),
    ("FF1", K::Unsupported("FF1")),
    ("FF2", K::Unsupported("FF2")),
    ("FF3", K::Unsupported("FF3")),
    ("FF4", K::Unsupported("FF4")),
    ("FF5", K::Unsupported("FF5")),
    ("FF6", K::Unsupported("FF6")),
    ("FX", K::Unsupported("FX")),
    ("HH24", K::Hh24),
    ("HH12", K::Hh12),
    ("HH", K::Hh),
    ("IDDD", K::Unsupported("IDDD")),
    ("ID", K::Id),
    ("IW", K::Iw),
    ("IYYY", K::Iyyy),
    ("IYY", K::Iyy),
    ("IY", K::Iy),
    ("I", K::I),
    ("J", K::Unsupported("J")),
    ("MI", K::Mi),
    ("MM", K::Mm),
    ("MONTH", K::MonthU),
    ("MON", K::MonU),
    ("MS", K::Ms),
    ("Month", K::MonthC),
    ("Mon", K::MonC),
    ("OF", K::Of),
    ("P.M.", K::AmDotU),
    ("PM", K::AmU),
    ("Q", K::Q),
    ("RM", K::Unsupported("RM")),
    ("SSSSS", K::Unsupported("SSSSS")),
    ("SSSS", K::Unsupported("SSSS")),
    ("SS", K::Ss),
    ("TZH", K::Unsupported("TZH")),
    ("TZM", K::Unsupported("TZM")),
    ("TZ", K::TzU),
    ("US", K::Us),
    ("WW", K::Ww),
    ("W", K::W),
    ("Y,YYY", K::YCommaYyy),
    ("YYYY", K::Yyyy),
    ("YYY", K::Yyy),
    ("YY", K::Yy),
    ("Y", K::Y),
    ("a.d.", K::Unsupported("a.d.")),
    ("a.m.", K::AmDotL),
    ("ad", K::Unsupported("ad")),
    ("am", K::AmL),
    ("b.c.", K::Unsupported("b.c.")),
    ("bc", K::Unsupported("bc")),
    ("cc", K::Unsupported("cc")),
    ("day", K::DayL),
    ("ddd", K::Ddd),
    ("dd", K::Dd),
    ("dy", K::DyL),
    ("d", K::D),
    ("ff1", K::Unsupported("ff1")),
    ("ff2", K::Unsupported("ff2")),
    ("ff3", K::Unsupported("ff3")),
    ("ff4", K::Unsupported("ff4")),
    ("ff5", K::Unsupported("ff5")),
    ("ff6", K::Unsupported("ff6")),
    ("fx", K::Unsupported("fx")),
    ("hh24", K::Hh24),
    ("hh12", K::Hh12),
    ("hh", K::Hh),
    ("iddd", K::Unsupported("iddd")),
    ("id", K::Id),
    ("iw", K::Iw),
    ("iyyy", K::Iyyy),
    ("iyy", K::Iyy),
    ("iy", K::Iy),
    ("i", K::I),
    ("j", K::Unsupported("j")),
    ("mi", K::Mi),
    ("mm", K::Mm),
    ("month", K::MonthL),
    ("mon", K::MonL),
    ("ms", K::Ms),
    ("of", K::Of),
    ("p.m.", K::AmDotL),
    ("pm", K::AmL),
    ("q", K::Q),
    ("rm", K::Unsupported("rm")),
    ("sssss", K::Unsupported("sssss")),
    ("ssss", K::Unsupported("ssss")),
    ("ss", K::Ss),
    ("tzh", K::Unsupported("tzh")),
    ("tzm", K::Unsupported("tzm")),
    ("tz", K::TzL),
    ("us", K::Us),
    ("ww", K::Ww),
    ("w", K::W),
    ("y,yyy", K::YCommaYyy),
    ("yyyy", K::Yyyy),
    ("yyy", K::Yyy),
    ("yy", K::Yy),
    ("y", K::Y),
];

#[derive(Debug)]
enum Node {
    Lit(String),
    Key { k: K, fm: bool, th: Option<bool> },
}

fn starts_with_at(chars: &[char], i: usize, s: &str) -> bool {
    s.chars()
        .enumerate()
        .all(|(k, c)| chars.get(i + k) == Some(&c))
}

fn unsupported(what: &str) -> Error {
    err!(
        sqlstate::FEATURE_NOT_SUPPORTED,
        "to_char format pattern \"{what}\" is not supported by tusk"
    )
}

/// Splits a template into nodes as PostgreSQL's `parse_format` does.
fn parse_template(fmt: &str) -> Result<Vec<Node>> {
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    while i < chars.len() {
        // Prefix modifiers.
        let mut fm = false;
        let mut j = i;
        if starts_with_at(&chars, j, "FM") || starts_with_at(&chars, j, "fm") {
            fm = true;
            j += 2;
        } else if starts_with_at(&chars, j, "TM") || starts_with_at(&chars, j, "tm") {
            return Err(unsupported("TM"));
        }
        let key = KEYWORDS
            .iter()
            .find(|(name, _)| starts_with_at(&chars, j, name));
        if let Some((name, k)) = key {
            if let K::Unsupported(w) = k {
                return Err(unsupported(w));
            }
            j += name.chars().count();
            let th = if starts_with_at(&chars, j, "TH") {
                j += 2;
                Some(true)
            } else if starts_with_at(&chars, j, "th") {
                j += 2;
                Some(false)
            } else if starts_with_at(&chars, j, "SP") || starts_with_at(&chars, j, "sp") {
                return Err(unsupported("SP"));
            } else {
                None
            };
            if !lit.is_empty() {
                out.push(Node::Lit(std::mem::take(&mut lit)));
            }
            out.push(Node::Key { k: *k, fm, th });
            i = j;
            continue;
        }
        if fm {
            // A lone FM modifies nothing; PostgreSQL drops it.
            i = j;
            continue;
        }
        let c = chars[i];
        if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                lit.push(chars[i]);
                i += 1;
            }
            i += 1;
        } else if c == '\\' && chars.get(i + 1) == Some(&'"') {
            lit.push('"');
            i += 2;
        } else {
            lit.push(c);
            i += 1;
        }
    }
    if !lit.is_empty() {
        out.push(Node::Lit(lit));
    }
    Ok(out)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// The English ordinal suffix of a number's text (`1` → `st`, `12` → `th`).
fn ordinal(s: &str, upper: bool) -> &'static str {
    let b = s.as_bytes();
    let last = match b.last() {
        Some(c) if c.is_ascii_digit() => *c,
        _ => return "",
    };
    let teen = b.len() >= 2 && b[b.len() - 2] == b'1';
    let suf = match (teen, last) {
        (false, b'1') => "st",
        (false, b'2') => "nd",
        (false, b'3') => "rd",
        _ => "th",
    };
    if upper {
        match suf {
            "st" => "ST",
            "nd" => "ND",
            "rd" => "RD",
            _ => "TH",
        }
    } else {
        suf
    }
}

fn interval_invalid() -> Error {
    err!(
        sqlstate::INVALID_DATETIME_FORMAT,
        "invalid format specification for an interval value"
    )
    .with_hint("Intervals are not tied to specific calendar dates.")
}

/// `%0*d`: zero-padded to `width` characters including the sign; `fm` = no padding.
fn pad(n: i64, width: usize, fm: bool) -> String {
    if fm {
        n.to_string()
    } else {
        format!("{n:0width$}")
    }
}

/// The last `n` characters of `s` (all of it when shorter).
fn tail(s: &str, n: usize) -> String {
    let c: Vec<char> = s.chars().collect();
    c[c.len().saturating_sub(n)..].iter().collect()
}

fn name(s: &str, case: u8, fm: bool, width: usize) -> String {
    let t = match case {
        b'U' => s.to_uppercase(),
        b'L' => s.to_lowercase(),
        _ => s.to_string(),
    };
    if fm {
        t
    } else {
        format!("{t:<width$}")
    }
}

/// Formats the fields through a template, as PostgreSQL's `to_char`.
pub fn format(tm: &Tm, fmt: &str) -> Result<String> {
    let nodes = parse_template(fmt)?;
    let mut out = String::new();
    let adj = |y: i64| {
        if tm.is_interval || y > 0 {
            y
        } else {
            -(y - 1)
        }
    };
    for node in nodes {
        let (k, fm, th) = match node {
            Node::Lit(s) => {
                out.push_str(&s);
                continue;
            }
            Node::Key { k, fm, th } => (k, fm, th),
        };
        if tm.is_interval {
            match k {
                K::MonthU
                | K::MonthC
                | K::MonthL
                | K::MonU
                | K::MonC
                | K::MonL
                | K::DayU
                | K::DayC
                | K::DayL
                | K::DyU
                | K::DyC
                | K::DyL
                | K::D
                | K::Id
                | K::TzU
                | K::TzL
                | K::Of => return Err(interval_invalid()),
                K::Iyyy | K::Iyy | K::Iy | K::I | K::Iw | K::Ww | K::W | K::Q | K::YCommaYyy => {
                    return Err(unsupported("week, quarter and ISO fields of an interval"))
                }
                _ => {}
            }
        }
        let w = |n: i64, pos: usize| if n >= 0 { pos } else { pos + 1 };
        let s = match k {
            K::AmU | K::AmL | K::AmDotU | K::AmDotL => {
                let pm = tm.hour % 24 >= 12;
                let s = match (k, pm) {
                    (K::AmU, false) => "AM",
                    (K::AmU, true) => "PM",
                    (K::AmL, false) => "am",
                    (K::AmL, true) => "pm",
                    (K::AmDotU, false) => "A.M.",
                    (K::AmDotU, true) => "P.M.",
                    (_, false) => "a.m.",
                    (_, true) => "p.m.",
                };
                out.push_str(s);
                continue;
            }
            K::MonthU | K::MonthC | K::MonthL | K::MonU | K::MonC | K::MonL => {
                let m = MONTHS
                    .get((tm.mon - 1).clamp(0, 11) as usize)
                    .copied()
                    .unwrap_or("");
                let s = match k {
                    K::MonthU => name(m, b'U', fm, 9),
                    K::MonthC => name(m, b'C', fm, 9),
                    K::MonthL => name(m, b'L', fm, 9),
                    K::MonU => name(&m[..3], b'U', true, 0),
                    K::MonC => name(&m[..3], b'C', true, 0),
                    _ => name(&m[..3], b'L', true, 0),
                };
                out.push_str(&s);
                continue;
            }
            K::DayU | K::DayC | K::DayL | K::DyU | K::DyC | K::DyL => {
                let d = DAYS[tm.wday.rem_euclid(7) as usize];
                let s = match k {
                    K::DayU => name(d, b'U', fm, 9),
                    K::DayC => name(d, b'C', fm, 9),
                    K::DayL => name(d, b'L', fm, 9),
                    K::DyU => name(&d[..3], b'U', true, 0),
                    K::DyC => name(&d[..3], b'C', true, 0),
                    _ => name(&d[..3], b'L', true, 0),
                };
                out.push_str(&s);
                continue;
            }
            K::TzU | K::TzL => {
                if let Some(z) = &tm.tzn {
                    out.push_str(&if k == K::TzU {
                        z.to_uppercase()
                    } else {
                        z.to_lowercase()
                    });
                }
                continue;
            }
            K::Of => {
                let sign = if tm.gmtoff >= 0 { '+' } else { '-' };
                let a = tm.gmtoff.abs();
                out.push(sign);
                out.push_str(&pad(a / 3600, 2, fm));
                if (a / 60) % 60 != 0 {
                    out.push_str(&format!(":{:02}", (a / 60) % 60));
                }
                continue;
            }
            K::Hh24 => pad(tm.hour, w(tm.hour, 2), fm),
            K::Hh12 | K::Hh => {
                let h = if tm.hour % 12 == 0 { 12 } else { tm.hour % 12 };
                pad(h, w(tm.hour, 2), fm)
            }
            K::Mi => pad(tm.min, w(tm.min, 2), fm),
            K::Ss => pad(tm.sec, w(tm.sec, 2), fm),
            K::Ms => format!("{:03}", tm.usec / 1000),
            K::Us => format!("{:06}", tm.usec),
            K::Mm => pad(tm.mon, w(tm.mon, 2), fm),
            K::Dd => pad(tm.mday, 2, fm),
            K::Ddd => pad(tm.yday, 3, fm),
            K::D => (tm.wday + 1).to_string(),
            K::Id => (if tm.wday == 0 { 7 } else { tm.wday }).to_string(),
            K::Ww => pad((tm.yday - 1) / 7 + 1, 2, fm),
            K::W => ((tm.mday - 1) / 7 + 1).to_string(),
            K::Iw => pad(tm.iso_week, 2, fm),
            K::Q => ((tm.mon - 1) / 3 + 1).to_string(),
            K::YCommaYyy => {
                let y = adj(tm.year);
                format!("{},{:03}", y / 1000, y % 1000)
            }
            K::Yyyy | K::Iyyy => {
                let y = adj(if k == K::Yyyy { tm.year } else { tm.iso_year });
                if (-9998..=9999).contains(&y) {
                    pad(y, w(y, 4), fm)
                } else {
                    y.to_string()
                }
            }
            K::Yyy | K::Yy | K::Y | K::Iyy | K::Iy | K::I => {
                let iso = matches!(k, K::Iyy | K::Iy | K::I);
                let y = adj(if iso { tm.iso_year } else { tm.year });
                let n = match k {
                    K::Yyy | K::Iyy => 3,
                    K::Yy | K::Iy => 2,
                    _ => 1,
                };
                if y < 0 {
                    return Err(unsupported("short year fields of a negative year"));
                }
                tail(&pad(y, n, fm), n)
            }
            K::Unsupported(w) => return Err(unsupported(w)),
        };
        out.push_str(&s);
        if let Some(upper) = th {
            out.push_str(ordinal(&s, upper));
        }
    }
    Ok(out)
}

/// One node of a template for parsing (`to_timestamp`/`to_date`), as PostgreSQL's
/// `FormatNode` types: a blank, a separator, another literal character, or a keyword.
enum PNode {
    Space,
    Sep,
    Ch,
    Key { k: K, fm: bool, th: bool },
}

fn is_sep(c: char) -> bool {
    c.is_ascii_graphic() && !c.is_ascii_alphanumeric()
}

fn is_digit_key(k: K) -> bool {
    !matches!(
        k,
        K::AmU
            | K::AmL
            | K::AmDotU
            | K::AmDotL
            | K::MonthU
            | K::MonthC
            | K::MonthL
            | K::MonU
            | K::MonC
            | K::MonL
            | K::DayU
            | K::DayC
            | K::DayL
            | K::DyU
            | K::DyC
            | K::DyL
            | K::TzU
            | K::TzL
            | K::Of
    )
}

fn key_name(k: K) -> &'static str {
    KEYWORDS
        .iter()
        .find(|(_, kk)| *kk == k)
        .map(|(n, _)| *n)
        .unwrap_or("?")
}

fn parse_unsupported(what: &str) -> Error {
    err!(
        sqlstate::FEATURE_NOT_SUPPORTED,
        "to_timestamp/to_date format pattern \"{what}\" is not supported by tusk"
    )
}

fn fm_hint() -> &'static str {
    "If your source string is not fixed-width, try using the \"FM\" modifier."
}

/// Parses `input` through the template `fmt` as PostgreSQL's `DCH_from_char` (non-FX
/// mode) and returns the local date/time fields (year, mon, mday, hour, min, sec,
/// usec). Field validation happens here; every keyword not listed in the module
/// documentation of `to_timestamp` is refused with 0A000.
pub fn parse(input: &str, fmt: &str) -> Result<Tm> {
    let mut nodes = Vec::new();
    for n in parse_template(fmt)? {
        match n {
            Node::Lit(s) => {
                for c in s.chars() {
                    nodes.push(if c.is_ascii_whitespace() {
                        PNode::Space
                    } else if is_sep(c) {
                        PNode::Sep
                    } else {
                        PNode::Ch
                    });
                }
            }
            Node::Key { k, fm, th } => nodes.push(PNode::Key {
                k,
                fm,
                th: th.is_some(),
            }),
        }
    }
    let s: Vec<char> = input.chars().collect();
    let mut p = 0usize;
    let mut extra = 0usize;
    let (mut year, mut mon, mut mday, mut hour, mut min, mut sec, mut usec) = (
        None::<i64>,
        None::<i64>,
        None::<i64>,
        None::<i64>,
        None::<i64>,
        None::<i64>,
        0i64,
    );
    let mut ddd = None::<i64>;
    let mut pm = None::<bool>;
    let mut clock12 = false;
    let mut yy = false;
    for (idx, n) in nodes.iter().enumerate() {
        if p >= s.len() {
            break;
        }
        if matches!(n, PNode::Key { .. }) || idx == 0 {
            while p < s.len() && s[p].is_ascii_whitespace() {
                p += 1;
                extra += 1;
            }
        }
        let (k, fm, th) = match n {
            PNode::Space | PNode::Sep => {
                if extra > 0 {
                    extra -= 1;
                } else if p < s.len() && (s[p].is_ascii_whitespace() || is_sep(s[p])) {
                    p += 1;
                }
                continue;
            }
            PNode::Ch => {
                if extra > 0 {
                    extra -= 1;
                } else if p < s.len() {
                    p += 1;
                }
                continue;
            }
            PNode::Key { k, fm, th } => (*k, *fm, *th),
        };
        let name = key_name(k);
        let set = |slot: &mut Option<i64>, v: i64| -> Result<()> {
            match slot {
                Some(old) if *old != v => Err(err!(
                    sqlstate::INVALID_DATETIME_FORMAT,
                    "conflicting values for \"{name}\" field in formatting string"
                )
                .with_detail("This value contradicts a previous setting for the same field type.")),
                _ => {
                    *slot = Some(v);
                    Ok(())
                }
            }
        };
        // A numeric field: PostgreSQL's from_char_parse_int_len.
        let next_sep = th
            || match nodes.get(idx + 1) {
                None => true,
                Some(PNode::Key { k, .. }) => !is_digit_key(*k),
                Some(_) => true,
            };
        let int = |len: usize, p: &mut usize| -> Result<(i64, usize)> {
            while *p < s.len() && s[*p].is_ascii_whitespace() {
                *p += 1;
            }
            let copy: String = s[*p..].iter().take(len).collect();
            let avail: Vec<char> = if fm || next_sep {
                s[*p..].to_vec()
            } else {
                let c: Vec<char> = copy.chars().collect();
                if c.len() < len {
                    return Err(err!(
                        sqlstate::INVALID_DATETIME_FORMAT,
                        "source string too short for \"{name}\" formatting field"
                    )
                    .with_detail(format!(
                        "Field requires {len} characters, but only {} remain.",
                        c.len()
                    ))
                    .with_hint(fm_hint()));
                }
                c
            };
            // strtol: optional sign, then digits.
            let mut q = 0;
            let neg = match avail.first() {
                Some('-') => {
                    q = 1;
                    true
                }
                Some('+') => {
                    q = 1;
                    false
                }
                _ => false,
            };
            let start = q;
            let mut v: i128 = 0;
            while q < avail.len() && avail[q].is_ascii_digit() {
                v = (v * 10 + avail[q].to_digit(10).unwrap_or(0) as i128).min(i64::MAX as i128);
                q += 1;
            }
            if q == start {
                return Err(err!(
                    sqlstate::INVALID_DATETIME_FORMAT,
                    "invalid value \"{copy}\" for \"{name}\""
                )
                .with_detail("Value must be an integer."));
            }
            if !(fm || next_sep) && q < len {
                return Err(err!(
                    sqlstate::INVALID_DATETIME_FORMAT,
                    "invalid value \"{copy}\" for \"{name}\""
                )
                .with_detail(format!(
                    "Field requires {len} characters, but only {q} could be parsed."
                ))
                .with_hint(fm_hint()));
            }
            let v = if neg { -v } else { v };
            if v < i32::MIN as i128 || v > i32::MAX as i128 {
                return Err(err!(
                    sqlstate::DATETIME_FIELD_OVERFLOW,
                    "value for \"{name}\" in source string is out of range"
                )
                .with_detail(format!(
                    "Value must be in the range {} to {}.",
                    i32::MIN,
                    i32::MAX
                )));
            }
            *p += q;
            Ok((v as i64, q - start))
        };
        match k {
            K::Yyyy => {
                let (v, _) = int(4, &mut p)?;
                set(&mut year, v)?;
            }
            K::Yy => {
                let (v, _) = int(2, &mut p)?;
                set(&mut year, v)?;
                yy = true;
            }
            K::Mm => {
                let (v, _) = int(2, &mut p)?;
                set(&mut mon, v)?;
            }
            K::Dd => {
                let (v, _) = int(2, &mut p)?;
                set(&mut mday, v)?;
            }
            K::Ddd => {
                let (v, _) = int(3, &mut p)?;
                set(&mut ddd, v)?;
            }
            K::Hh24 => {
                let (v, _) = int(2, &mut p)?;
                set(&mut hour, v)?;
            }
            K::Hh12 | K::Hh => {
                let (v, _) = int(2, &mut p)?;
                set(&mut hour, v)?;
                clock12 = true;
            }
            K::Mi => {
                let (v, _) = int(2, &mut p)?;
                set(&mut min, v)?;
            }
            K::Ss => {
                let (v, _) = int(2, &mut p)?;
                set(&mut sec, v)?;
            }
            K::Ms | K::Us => {
                let len = if k == K::Ms { 3 } else { 6 };
                let (v, digits) = int(len, &mut p)?;
                if !(0..=len).contains(&digits) || v < 0 {
                    return Err(parse_unsupported(name));
                }
                let scale = 10i64.pow((len - digits) as u32);
                let v = v
                    .checked_mul(scale)
                    .ok_or_else(|| parse_unsupported(name))?;
                usec += if k == K::Ms { v * 1000 } else { v };
            }
            K::AmU | K::AmL | K::AmDotU | K::AmDotL => {
                let dotted = matches!(k, K::AmDotU | K::AmDotL);
                let cands: [(&str, bool); 2] = if dotted {
                    [("a.m.", false), ("p.m.", true)]
                } else {
                    [("am", false), ("pm", true)]
                };
                let found = cands.iter().find(|(c, _)| {
                    c.chars()
                        .enumerate()
                        .all(|(i, ch)| s.get(p + i).map(|x| x.to_ascii_lowercase()) == Some(ch))
                });
                match found {
                    Some((c, v)) => {
                        p += c.len();
                        if pm.is_some_and(|o| o != *v) {
                            return Err(err!(
                                sqlstate::INVALID_DATETIME_FORMAT,
                                "conflicting values for \"{name}\" field in formatting string"
                            )
                            .with_detail(
                                "This value contradicts a previous setting for the same field type.",
                            ));
                        }
                        pm = Some(*v);
                        clock12 = true;
                    }
                    None => {
                        let copy: String = s[p..].iter().take(name.len()).collect();
                        return Err(err!(
                            sqlstate::INVALID_DATETIME_FORMAT,
                            "invalid value \"{copy}\" for \"{name}\""
                        )
                        .with_detail(
                            "The given value did not match any of the allowed values for this field.",
                        ));
                    }
                }
            }
            K::MonthU
            | K::MonthC
            | K::MonthL
            | K::MonU
            | K::MonC
            | K::MonL
            | K::DayU
            | K::DayC
            | K::DayL
            | K::DyU
            | K::DyC
            | K::DyL => {
                let is_mon = matches!(
                    k,
                    K::MonthU | K::MonthC | K::MonthL | K::MonU | K::MonC | K::MonL
                );
                let full = matches!(
                    k,
                    K::MonthU | K::MonthC | K::MonthL | K::DayU | K::DayC | K::DayL
                );
                let list: Vec<&str> = if is_mon {
                    MONTHS.to_vec()
                } else {
                    DAYS.to_vec()
                };
                let found = list.iter().enumerate().find_map(|(i, n)| {
                    let n = if full { *n } else { &n[..3] };
                    let ok = n.chars().enumerate().all(|(j, ch)| {
                        s.get(p + j).map(|x| x.to_ascii_lowercase())
                            == Some(ch.to_ascii_lowercase())
                    });
                    ok.then_some((i, n.len()))
                });
                match found {
                    Some((i, l)) => {
                        p += l;
                        if is_mon {
                            set(&mut mon, i as i64 + 1)?;
                        }
                    }
                    None => {
                        let copy: String = s[p..].iter().take(name.len()).collect();
                        return Err(err!(
                            sqlstate::INVALID_DATETIME_FORMAT,
                            "invalid value \"{copy}\" for \"{name}\""
                        )
                        .with_detail(
                            "The given value did not match any of the allowed values for this field.",
                        ));
                    }
                }
            }
            _ => return Err(parse_unsupported(name)),
        }
        if th {
            return Err(parse_unsupported("TH"));
        }
    }
    let bad = || {
        err!(
            sqlstate::DATETIME_FIELD_OVERFLOW,
            "date/time field value out of range: \"{input}\""
        )
    };
    let mut year = year.ok_or_else(|| parse_unsupported("a template without a year"))?;
    if yy && (0..100).contains(&year) {
        year += if year < 70 { 2000 } else { 1900 };
    }
    if !(1..=294276).contains(&year) {
        return Err(parse_unsupported("years before 1 AD or after 294276"));
    }
    let mut hour = hour.unwrap_or(0);
    if clock12 {
        if !(1..=12).contains(&hour) {
            return Err(err!(
                sqlstate::DATETIME_FIELD_OVERFLOW,
                "hour \"{hour}\" is invalid for the 12-hour clock"
            )
            .with_hint("Use the 24-hour clock, or give an hour between 1 and 12."));
        }
        if pm == Some(true) && hour < 12 {
            hour += 12;
        } else if pm != Some(true) && hour == 12 {
            hour = 0;
        }
    }
    let (min, sec) = (min.unwrap_or(0), sec.unwrap_or(0));
    let (mut mon, mut mday) = (mon.unwrap_or(0), mday.unwrap_or(0));
    if let Some(d) = ddd {
        if mon == 0 || mday == 0 {
            if mon != 0 || mday != 0 {
                return Err(parse_unsupported("DDD combined with MM or DD"));
            }
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            if d < 1 || d > if leap { 366 } else { 365 } {
                return Err(bad());
            }
            let mut left = d;
            mon = 1;
            loop {
                let dim = match mon {
                    1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                    4 | 6 | 9 | 11 => 30,
                    _ => 28 + leap as i64,
                };
                if left <= dim {
                    break;
                }
                left -= dim;
                mon += 1;
            }
            mday = left;
        }
    }
    if mon == 0 {
        mon = 1;
    }
    if mday == 0 {
        mday = 1;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let dim = match mon {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 => 28 + leap as i64,
        _ => return Err(bad()),
    };
    if mday < 1 || mday > dim {
        return Err(bad());
    }
    if !(0..24).contains(&hour) || !(0..60).contains(&min) || !(0..60).contains(&sec) {
        return Err(bad());
    }
    if !(0..1_000_000).contains(&usec) {
        return Err(bad());
    }
    Ok(Tm {
        year,
        mon,
        mday,
        hour,
        min,
        sec,
        usec,
        ..Tm::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tm() -> Tm {
        Tm {
            year: 2024,
            mon: 3,
            mday: 5,
            hour: 14,
            min: 7,
            sec: 9,
            usec: 123_456,
            yday: 65,
            wday: 2,
            iso_year: 2024,
            iso_week: 10,
            gmtoff: 0,
            tzn: Some("UTC".into()),
            is_interval: false,
        }
    }

    #[test]
    fn formats_common_patterns() {
        let t = tm();
        assert_eq!(
            format(&t, "YYYY-MM-DD HH24:MI:SS.US").unwrap(),
            "2024-03-05 14:07:09.123456"
        );
        assert_eq!(
            format(&t, "FMDay, DDth Month YYYY HH12 am").unwrap(),
            "Tuesday, 05th March     2024 02 pm"
        );
        assert_eq!(format(&t, "\"YYYY\"\\\"").unwrap(), "YYYY\"");
        assert_eq!(
            format(&t, "CC").unwrap_err().code,
            sqlstate::FEATURE_NOT_SUPPORTED
        );
        assert!(format(&t, "FM").unwrap().is_empty());
    }

    #[test]
    fn parse_refuses_what_it_does_not_model() {
        let t = parse("2024-03-05 2:07 pm", "YYYY-MM-DD HH12:MI am").unwrap();
        assert_eq!((t.year, t.mon, t.mday, t.hour, t.min), (2024, 3, 5, 14, 7));
        for (i, f) in [
            ("03-05", "MM-DD"),
            ("2024 20", "YYYY CC"),
            ("2024 1", "YYYY J"),
        ] {
            assert_eq!(
                parse(i, f).unwrap_err().code,
                sqlstate::FEATURE_NOT_SUPPORTED,
                "{f}"
            );
        }
        for i in ["", "\u{e9}\u{e9}", "9999999999999999999999", "-", "2024-"] {
            let _ = parse(i, "YYYY-MM-DD HH12:MI:SS.US Month");
        }
    }
}
