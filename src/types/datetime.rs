//! Timestamps and dates in PostgreSQL's internal representation: microseconds (dates:
//! days) since 2000-01-01, with ISO text input and output.

use super::timezone::{self, Zone};
use crate::error::{sqlstate, Error, Result};
use crate::{bail, err};
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// Microseconds in a day.
pub const USECS_PER_DAY: i64 = 86_400_000_000;

/// Seconds between the Unix epoch and PostgreSQL's epoch (2000-01-01 00:00:00 UTC).
pub const POSTGRES_EPOCH_UNIX_SECS: i64 = 946_684_800;

fn pg_epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .unwrap_or_default()
        .and_time(NaiveTime::MIN)
}

/// The current time as PostgreSQL timestamp microseconds (UTC).
pub fn now_micros() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    d.as_micros() as i64 - POSTGRES_EPOCH_UNIX_SECS * 1_000_000
}

fn to_naive(micros: i64) -> Option<NaiveDateTime> {
    pg_epoch().checked_add_signed(chrono::Duration::microseconds(micros))
}

fn from_naive(dt: NaiveDateTime) -> i64 {
    (dt - pg_epoch()).num_microseconds().unwrap_or(i64::MAX)
}

fn fmt_naive(dt: NaiveDateTime) -> String {
    let mut s = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    let us = dt.nanosecond() / 1000;
    if us != 0 {
        let frac = format!("{us:06}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s
}

/// Formats a `timestamp` as PostgreSQL's ISO output (`2024-01-02 03:04:05.5`).
pub fn format_timestamp(micros: i64) -> String {
    if micros == i64::MIN {
        return "-infinity".into();
    }
    match to_naive(micros) {
        Some(dt) => fmt_naive(dt),
        None => "infinity".into(),
    }
}

/// Formats a `timestamptz` in a time zone with the offset in force at that instant
/// (`2024-01-02 03:04:05+00`, `…+05:30`).
pub fn format_timestamptz(micros: i64, zone: &Zone) -> String {
    if micros == i64::MAX || micros == i64::MIN {
        return format_timestamp(micros);
    }
    let off = zone.east_at(micros);
    let local = micros + off as i64 * 1_000_000;
    let base = format_timestamp(local);
    let sign = if off < 0 { '-' } else { '+' };
    let off = off.unsigned_abs();
    let (h, m, s) = (off / 3600, (off / 60) % 60, off % 60);
    if s != 0 {
        format!("{base}{sign}{h:02}:{m:02}:{s:02}")
    } else if m != 0 {
        format!("{base}{sign}{h:02}:{m:02}")
    } else {
        format!("{base}{sign}{h:02}")
    }
}

/// Formats a `date` (`2024-01-02`).
pub fn format_date(days: i32) -> String {
    if days == i32::MIN {
        return "-infinity".into();
    }
    let d = NaiveDate::from_ymd_opt(2000, 1, 1)
        .unwrap_or_default()
        .checked_add_signed(chrono::Duration::days(days as i64));
    match d {
        Some(d) => format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()),
        None => "infinity".into(),
    }
}

fn bad(type_name: &str, s: &str) -> Error {
    err!(
        sqlstate::INVALID_DATETIME_FORMAT,
        "invalid input syntax for type {type_name}: \"{s}\""
    )
}

fn out_of_range(s: &str) -> Error {
    err!(
        sqlstate::DATETIME_FIELD_OVERFLOW,
        "date/time field value out of range: \"{s}\""
    )
}

/// A time zone written in a timestamp literal.
enum LiteralZone {
    /// A numeric offset (`+05`, `-08:00`) or fixed abbreviation (`EST`), seconds east.
    Fixed(i32),
    /// A zone name (`Europe/Paris`, `UTC+3`) or zone-backed abbreviation (`MSK`).
    Zone(Zone),
}

impl LiteralZone {
    fn to_utc(&self, local: i64) -> i64 {
        match self {
            LiteralZone::Fixed(off) => local - *off as i64 * 1_000_000,
            LiteralZone::Zone(z) => z.local_to_utc(local),
        }
    }
}

/// Splits a trailing time zone off a timestamp string: `Z`, a numeric offset (`+05`,
/// `-08:00`, `+0530`), an abbreviation PostgreSQL knows by default (`EST`, `CEST`) or
/// a zone name (`Europe/Paris`, `UTC+3`). A trailing word that is none of these is a
/// syntax error, or — when it looks like a zone name (has a `/`) — 22023 as
/// PostgreSQL reports it.
fn split_zone<'a>(s: &'a str, type_name: &str) -> Result<(&'a str, Option<LiteralZone>)> {
    let t = s.trim_end();
    if let Some(pos) = t.rfind(char::is_whitespace) {
        let word = &t[pos + 1..];
        let rest = t[..pos].trim_end();
        if word.starts_with(|c: char| c.is_ascii_alphabetic()) && rest.len() >= 8 {
            if let Some(a) = timezone::abbreviation(word) {
                let z = match a {
                    timezone::Abbrev::Fixed(off) => LiteralZone::Fixed(off),
                    timezone::Abbrev::Dynamic(tz) => LiteralZone::Zone(Zone::Named(tz)),
                };
                return Ok((rest, Some(z)));
            }
            if let Some(z) = timezone::lookup(word) {
                return Ok((rest, Some(LiteralZone::Zone(z))));
            }
            if word.contains('/') {
                bail!(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "time zone \"{}\" not recognized",
                    word.to_lowercase()
                );
            }
            return Err(bad(type_name, s));
        }
    }
    for suffix in ["Z", "z"] {
        if let Some(rest) = t.strip_suffix(suffix) {
            if rest.len() >= 10 {
                return Ok((rest.trim_end(), Some(LiteralZone::Fixed(0))));
            }
        }
    }
    // Look for a sign after the time part (position > 10 to skip the date's dashes).
    if let Some(pos) = t.rfind(['+', '-']) {
        if pos > 10 {
            let zone = &t[pos + 1..];
            let digits: String = zone.chars().filter(|c| c.is_ascii_digit()).collect();
            let ok = zone.chars().all(|c| c.is_ascii_digit() || c == ':')
                && matches!(digits.len(), 1 | 2 | 4 | 6);
            if ok {
                let n = |a: usize, b: usize| digits.get(a..b).and_then(|x| x.parse::<i32>().ok());
                let (h, m, sec) = match digits.len() {
                    1 | 2 => (n(0, digits.len()).unwrap_or(0), 0, 0),
                    4 => (n(0, 2).unwrap_or(0), n(2, 4).unwrap_or(0), 0),
                    _ => (
                        n(0, 2).unwrap_or(0),
                        n(2, 4).unwrap_or(0),
                        n(4, 6).unwrap_or(0),
                    ),
                };
                let off = h * 3600 + m * 60 + sec;
                let sign = if &t[pos..pos + 1] == "-" { -1 } else { 1 };
                return Ok((t[..pos].trim_end(), Some(LiteralZone::Fixed(sign * off))));
            }
        }
    }
    Ok((t, None))
}

fn parse_naive(s: &str, type_name: &str, orig: &str) -> Result<NaiveDateTime> {
    let s = s.trim();
    let (date_part, time_part) = match s.find([' ', 'T', 't']) {
        Some(i) => (&s[..i], Some(s[i + 1..].trim())),
        None => (s, None),
    };
    let date = parse_ymd(date_part).ok_or_else(|| bad(type_name, orig))??;
    let time = match time_part {
        None | Some("") => NaiveTime::MIN,
        Some(tp) => {
            let mut it = tp.splitn(3, ':');
            let h: u32 = it
                .next()
                .and_then(|x| x.parse().ok())
                .ok_or_else(|| bad(type_name, orig))?;
            let m: u32 = it
                .next()
                .and_then(|x| x.parse().ok())
                .ok_or_else(|| bad(type_name, orig))?;
            let (sec, micros) = match it.next() {
                None => (0, 0),
                Some(sp) => {
                    let (whole, frac) = sp.split_once('.').unwrap_or((sp, ""));
                    let sec: u32 = whole.parse().map_err(|_| bad(type_name, orig))?;
                    if !frac.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(bad(type_name, orig));
                    }
                    let mut f = frac.to_string();
                    f.truncate(7);
                    while f.len() < 7 {
                        f.push('0');
                    }
                    // Round to microseconds as PostgreSQL does.
                    let tenths: u32 = f.parse().unwrap_or(0);
                    (sec, (tenths + 5) / 10)
                }
            };
            if h > 24 || m > 59 || sec > 60 {
                return Err(out_of_range(orig));
            }
            let base = NaiveTime::from_hms_opt(h.min(23), m, sec.min(59))
                .ok_or_else(|| out_of_range(orig))?;
            let extra = if h == 24 { 3600 } else { 0 } + if sec == 60 { 1 } else { 0 };
            let dt = date.and_time(base)
                + chrono::Duration::seconds(extra)
                + chrono::Duration::microseconds(micros as i64);
            return Ok(dt);
        }
    };
    Ok(date.and_time(time))
}

/// Parses `YYYY-MM-DD`; `None` = syntax error, `Some(Err)` = field out of range.
fn parse_ymd(s: &str) -> Option<Result<NaiveDate>> {
    let mut it = s.split('-');
    let y: i32 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    Some(NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| out_of_range(s)))
}

fn special(s: &str) -> Option<i64> {
    match s.trim().to_ascii_lowercase().as_str() {
        "epoch" => Some(-POSTGRES_EPOCH_UNIX_SECS * 1_000_000),
        // PostgreSQL's DT_NOEND and DT_NOBEGIN.
        "infinity" | "+infinity" => Some(i64::MAX),
        "-infinity" => Some(i64::MIN),
        "now" => Some(now_micros()),
        "today" => Some(now_micros().div_euclid(USECS_PER_DAY) * USECS_PER_DAY),
        _ => None,
    }
}

/// Parses a `timestamp` literal; a time zone in the text is ignored, as PostgreSQL does.
pub fn parse_timestamp(s: &str) -> Result<i64> {
    if let Some(v) = special(s) {
        return Ok(v);
    }
    let (rest, _) = split_zone(s, "timestamp")?;
    Ok(from_naive(parse_naive(rest, "timestamp", s)?))
}

/// Parses a `timestamptz` literal; without a zone in the text, the local time is read
/// in `session` (the session time zone), DST gaps and overlaps resolved as PostgreSQL
/// does.
pub fn parse_timestamptz(s: &str, session: &Zone) -> Result<i64> {
    if s.trim().eq_ignore_ascii_case("today") {
        let local = session.to_local(now_micros());
        return Ok(session.local_to_utc(local.div_euclid(USECS_PER_DAY) * USECS_PER_DAY));
    }
    if let Some(v) = special(s) {
        return Ok(v);
    }
    let name = "timestamp with time zone";
    let (rest, zone) = split_zone(s, name)?;
    let local = from_naive(parse_naive(rest, name, s)?);
    Ok(match zone {
        Some(z) => z.to_utc(local),
        None => session.local_to_utc(local),
    })
}

/// Parses a `date` literal (a time part is accepted and dropped, as PostgreSQL does).
pub fn parse_date(s: &str) -> Result<i32> {
    if let Some(v) = special(s) {
        return Ok(match v {
            i64::MAX => i32::MAX,
            i64::MIN => i32::MIN,
            v => v.div_euclid(USECS_PER_DAY) as i32,
        });
    }
    let (rest, _) = split_zone(s, "date")?;
    let dt = parse_naive(rest, "date", s)?;
    Ok(from_naive(dt).div_euclid(USECS_PER_DAY) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        let t = parse_timestamp("2024-01-02 03:04:05.5").unwrap();
        assert_eq!(format_timestamp(t), "2024-01-02 03:04:05.5");
        assert_eq!(parse_timestamp("2000-01-01").unwrap(), 0);
        let utc = Zone::default();
        let tz = parse_timestamptz("2024-01-02 03:04:05+02", &utc).unwrap();
        assert_eq!(format_timestamptz(tz, &utc), "2024-01-02 01:04:05+00");
        assert_eq!(
            format_timestamptz(tz, &Zone::fixed(19800)),
            "2024-01-02 06:34:05+05:30"
        );
        assert_eq!(format_date(parse_date("1999-12-31").unwrap()), "1999-12-31");
        for inf in ["infinity", "-infinity"] {
            assert_eq!(format_timestamp(parse_timestamp(inf).unwrap()), inf);
            assert_eq!(
                format_timestamptz(parse_timestamptz(inf, &utc).unwrap(), &utc),
                inf
            );
            assert_eq!(format_date(parse_date(inf).unwrap()), inf);
        }
        let paris = timezone::lookup("Europe/Paris").unwrap();
        let ny = timezone::lookup("America/New_York").unwrap();
        let p = |s: &str, z: &Zone| format_timestamptz(parse_timestamptz(s, z).unwrap(), &utc);
        assert_eq!(p("2024-07-01 12:00", &paris), "2024-07-01 10:00:00+00");
        assert_eq!(
            p("2024-01-01 12:00 Europe/Paris", &ny),
            "2024-01-01 11:00:00+00"
        );
        assert_eq!(
            p("2024-01-01 12:00 america/new_york", &paris),
            "2024-01-01 17:00:00+00"
        );
        assert_eq!(p("2024-07-01 12:00 EST", &paris), "2024-07-01 17:00:00+00");
        assert_eq!(p("2024-07-01 12:00 cest", &utc), "2024-07-01 10:00:00+00");
        assert_eq!(
            p("2024-01-01 12:00 UTC+3", &paris),
            "2024-01-01 15:00:00+00"
        );
        assert_eq!(
            p("2024-01-01 12:00 Japan", &paris),
            "2024-01-01 03:00:00+00"
        );
        assert_eq!(p("2024-01-01T12:00:00Z", &paris), "2024-01-01 12:00:00+00");
        assert_eq!(
            p("2024-01-01 12:00 -0130", &paris),
            "2024-01-01 13:30:00+00"
        );
        assert_eq!(p("2024-03-10 02:30", &ny), "2024-03-10 07:30:00+00");
        assert_eq!(
            format_timestamptz(
                parse_timestamptz("2024-07-01 12:00", &paris).unwrap(),
                &paris
            ),
            "2024-07-01 12:00:00+02"
        );
        let e = parse_timestamptz("2024-01-01 12:00 Nowhere/Foo", &utc).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            ("22023", "time zone \"nowhere/foo\" not recognized")
        );
        let e = parse_timestamptz("2024-01-01 12:00 xyz", &utc).unwrap_err();
        assert_eq!(e.code, "22007");
        assert_eq!(
            parse_timestamp("2024-01-01 12:00 PST").unwrap(),
            parse_timestamp("2024-01-01 12:00").unwrap()
        );
        assert_eq!(
            parse_date("2024-13-01").unwrap_err().message,
            "date/time field value out of range: \"2024-13-01\""
        );
        assert_eq!(
            parse_timestamp("garbage").unwrap_err().message,
            "invalid input syntax for type timestamp: \"garbage\""
        );
    }
}
