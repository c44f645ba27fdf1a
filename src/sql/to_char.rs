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
}
