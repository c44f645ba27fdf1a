//! The time-of-day types: `time` (without time zone) and `time with time zone`
//! (`timetz`), in PostgreSQL 15's representation, with their text input and output,
//! typmod rounding and the arithmetic their operators and casts need.
//!
//! # Representation
//!
//! - `time` is microseconds since midnight, `0 ..= 86_400_000_000` (both ends
//!   included: PostgreSQL accepts and prints `24:00:00`). Its binary wire format is
//!   that int8, big-endian.
//! - `timetz` is a [`TimeTz`]: the local time of day as above plus the zone's offset
//!   in seconds **west** of UTC, as PostgreSQL stores it (`10:30+02` has zone -7200).
//!   Its binary format is the int8 time followed by the int4 zone.
//!
//! # Text input
//!
//! [`parse_time`] and [`parse_timetz`] follow PostgreSQL's `DecodeTimeOnly`: the text is
//! split into fields (a `h:m[:s[.f]]` time, a run of digits `hhmm` / `hhmmss[.f]`, an
//! ISO `YYYY-MM-DD` date before the time, `AM`/`PM`, a numeric zone `+hh[:mm[:ss]]` /
//! `+hhmm`, the zone names `Z`, `UTC`, `GMT`, `UT`, `ZULU`, the ISO `T` marker and the
//! specials `allballs` and `now`), each kind at most once, and the result is checked
//! the way `time_overflows` does: out of range is 22008 `date/time field value out of
//! range`, a malformed string 22007 `invalid input syntax for type …`, a zone beyond
//! ±15:59:59 22009 `time zone displacement out of range`.
//!
//! What this module must never do: consult the session. The session's zone offset
//! (for `now`, for a `timetz` without a zone, for `timestamptz → time`) is always an
//! argument, so the SQL layer decides which zone applies.
//!
//! One literal's trip, `'10:30:15.126 pm'::time(2)`:
//! 1. [`parse_time`] lexes the fields `10:30:15.126` and `pm`;
//! 2. the time field gives 10 h 30 min 15 s 126000 µs, `pm` moves it to 22 h;
//! 3. the total, 81 015 126 000 µs, is within a day; [`round_to_typmod`] rounds it
//!    half up to two fractional digits, 81 015 130 000 µs;
//! 4. [`format_time`] prints `22:30:15.13`.

use super::datetime::USECS_PER_DAY;
use super::{DataType, Interval, Value};
use crate::err;
use crate::error::{sqlstate, Error, Result};

/// The largest fractional-second precision `time(p)` accepts.
pub const MAX_TIME_PRECISION: i32 = 6;

/// PostgreSQL's `MAX_TZDISP_HOUR`: a zone offset's hours are at most 15.
const MAX_TZDISP_HOUR: i64 = 15;

/// A `time with time zone` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeTz {
    /// Local time of day in microseconds since midnight (`0 ..= 86_400_000_000`).
    pub micros: i64,
    /// The zone's offset in seconds west of UTC (PostgreSQL's sign: `+02` is -7200).
    pub zone: i32,
}

impl TimeTz {
    /// The instant this value names, as microseconds after UTC midnight (may fall
    /// outside one day); the primary sort key of `timetz` values.
    pub fn utc_micros(&self) -> i64 {
        self.micros + self.zone as i64 * 1_000_000
    }
}

/// Orders `timetz` values as PostgreSQL does: by the UTC instant, then by zone (so
/// `10:00+02` and `09:00+01` differ although they name the same instant).
pub fn cmp_timetz(a: &TimeTz, b: &TimeTz) -> std::cmp::Ordering {
    a.utc_micros()
        .cmp(&b.utc_micros())
        .then(a.zone.cmp(&b.zone))
}

/// Which type a literal is being read as (for error messages).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Time,
    TimeTz,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Time => "time",
            Kind::TimeTz => "time with time zone",
        }
    }
}

fn bad(kind: Kind, s: &str) -> Error {
    err!(
        sqlstate::INVALID_DATETIME_FORMAT,
        "invalid input syntax for type {}: \"{s}\"",
        kind.name()
    )
}

fn overflow(s: &str) -> Error {
    err!(
        sqlstate::DATETIME_FIELD_OVERFLOW,
        "date/time field value out of range: \"{s}\""
    )
}

fn zone_overflow(s: &str) -> Error {
    err!(
        sqlstate::INVALID_TIME_ZONE_DISPLACEMENT_VALUE,
        "time zone displacement out of range: \"{s}\""
    )
}

/// One field of a date/time string, as PostgreSQL's `ParseDateTime` splits it.
#[derive(Debug, PartialEq)]
enum Field {
    /// Digits followed by `:` and more digits, colons and dots (`10:30:15.5`).
    Time(String),
    /// Digits with `-` or `/` separators, or two dots (`2024-01-02`).
    Date(String),
    /// A run of digits, possibly with one fraction (`1030`, `103015.5`).
    Number(String),
    /// A signed numeric zone (`+05:30`, `-0800`).
    Zone(String),
    /// A word, lowercased (`pm`, `allballs`, `utc`, `t`).
    Word(String),
}

/// Splits the text into fields; `None` when a character cannot start any field.
fn lex(s: &str) -> Option<Vec<Field>> {
    let c: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let take_while = |i: &mut usize, pred: &dyn Fn(char) -> bool| {
        let start = *i;
        while *i < c.len() && pred(c[*i]) {
            *i += 1;
        }
        c[start..*i].iter().collect::<String>()
    };
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch.is_ascii_digit() {
            let digits = take_while(&mut i, &|x| x.is_ascii_digit());
            match c.get(i) {
                Some(':') => {
                    let rest = take_while(&mut i, &|x| x.is_ascii_digit() || x == ':' || x == '.');
                    out.push(Field::Time(digits + &rest));
                }
                Some(&d @ ('-' | '/')) => {
                    let rest = take_while(&mut i, &|x| x.is_ascii_digit() || x == d);
                    out.push(Field::Date(digits + &rest));
                }
                Some('.') => {
                    let rest = take_while(&mut i, &|x| x.is_ascii_digit() || x == '.');
                    let f = digits + &rest;
                    out.push(if f.matches('.').count() > 1 {
                        Field::Date(f)
                    } else {
                        Field::Number(f)
                    });
                }
                _ => out.push(Field::Number(digits)),
            }
        } else if ch == '+' || ch == '-' {
            i += 1;
            while i < c.len() && c[i].is_whitespace() {
                i += 1;
            }
            if !c.get(i).is_some_and(|x| x.is_ascii_digit()) {
                return None;
            }
            let body = take_while(&mut i, &|x| x.is_ascii_digit() || x == ':');
            out.push(Field::Zone(format!("{ch}{body}")));
        } else if ch.is_ascii_alphabetic() {
            let w = take_while(&mut i, &|x| x.is_ascii_alphabetic());
            out.push(Field::Word(w.to_ascii_lowercase()));
        } else if ch.is_ascii_punctuation() {
            // PostgreSQL skips stray punctuation between fields.
            i += 1;
        } else {
            return None;
        }
    }
    Some(out)
}

/// Why a field could not be read.
enum FieldError {
    /// 22007.
    Syntax,
    /// 22008.
    Range,
    /// 22009.
    Zone,
}

/// Reads leading decimal digits as `strtoint` does: an empty run is 0, a run beyond
/// `i32` is out of range; returns the value and the rest.
fn strtoint(s: &str) -> std::result::Result<(i64, &str), FieldError> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if end == 0 {
        return Ok((0, s));
    }
    let v: i64 = s[..end].parse().map_err(|_| FieldError::Range)?;
    if v > i32::MAX as i64 {
        return Err(FieldError::Range);
    }
    Ok((v, &s[end..]))
}

/// A fraction `.ddd` as rounded microseconds (PostgreSQL's `ParseFractionalSecond`).
fn fraction(s: &str) -> std::result::Result<i64, FieldError> {
    let digits = s.strip_prefix('.').ok_or(FieldError::Syntax)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::Syntax);
    }
    if digits.is_empty() {
        return Ok(0);
    }
    let f: f64 = format!("0.{digits}")
        .parse()
        .map_err(|_| FieldError::Syntax)?;
    Ok((f * 1_000_000.0).round_ties_even() as i64)
}

/// Broken-down time fields.
#[derive(Default, Clone, Copy)]
struct Hms {
    hour: i64,
    min: i64,
    sec: i64,
    usec: i64,
}

/// `h:m`, `h:m:s`, `h:m:s.f` or `m:s.f` (PostgreSQL's `DecodeTime`).
fn decode_time(f: &str) -> std::result::Result<Hms, FieldError> {
    let (hour, rest) = strtoint(f)?;
    let rest = rest.strip_prefix(':').ok_or(FieldError::Syntax)?;
    let (min, rest) = strtoint(rest)?;
    let t = if rest.is_empty() {
        Hms {
            hour,
            min,
            ..Hms::default()
        }
    } else if rest.starts_with('.') {
        // Two fields with a fraction are minutes and seconds.
        Hms {
            hour: 0,
            min: hour,
            sec: min,
            usec: fraction(rest)?,
        }
    } else if let Some(rest) = rest.strip_prefix(':') {
        let (sec, rest) = strtoint(rest)?;
        let usec = if rest.is_empty() { 0 } else { fraction(rest)? };
        Hms {
            hour,
            min,
            sec,
            usec,
        }
    } else {
        return Err(FieldError::Syntax);
    };
    if t.min > 59 || t.sec > 60 || t.usec > 1_000_000 {
        return Err(FieldError::Range);
    }
    Ok(t)
}

/// `hhmm[.f]` or `hhmmss[.f]` (PostgreSQL's `DecodeNumberField` once the date is
/// known).
fn decode_number(f: &str) -> std::result::Result<Hms, FieldError> {
    let (int, usec) = match f.find('.') {
        Some(p) => (&f[..p], fraction(&f[p..])?),
        None => (f, 0),
    };
    let n = |a: usize, b: usize| int[a..b].parse::<i64>().unwrap_or(0);
    match int.len() {
        6 => Ok(Hms {
            hour: n(0, 2),
            min: n(2, 4),
            sec: n(4, 6),
            usec,
        }),
        4 => Ok(Hms {
            hour: n(0, 2),
            min: n(2, 4),
            sec: 0,
            usec,
        }),
        _ => Err(FieldError::Syntax),
    }
}

/// A numeric zone (`+hh`, `+hh:mm`, `+hh:mm:ss`, `+hhmm`) as seconds west of UTC
/// (PostgreSQL's `DecodeTimezone`).
fn decode_zone(f: &str) -> std::result::Result<i32, FieldError> {
    let (sign, body) = f.split_at(1);
    let (hr, rest) = strtoint(body).map_err(|_| FieldError::Zone)?;
    let (hr, min, sec, rest) = if let Some(r) = rest.strip_prefix(':') {
        let (min, r) = strtoint(r).map_err(|_| FieldError::Zone)?;
        if let Some(r) = r.strip_prefix(':') {
            let (sec, r) = strtoint(r).map_err(|_| FieldError::Zone)?;
            (hr, min, sec, r)
        } else {
            (hr, min, 0, r)
        }
    } else if rest.is_empty() && body.len() > 2 {
        (hr / 100, hr % 100, 0, rest)
    } else {
        (hr, 0, 0, rest)
    };
    if hr > MAX_TZDISP_HOUR || min >= 60 || sec >= 60 {
        return Err(FieldError::Zone);
    }
    if !rest.is_empty() {
        return Err(FieldError::Syntax);
    }
    let east = (hr * 3600 + min * 60 + sec) as i32;
    Ok(if sign == "-" { east } else { -east })
}

/// Checks an ISO date field placed before the time (`2024-01-02 10:30`).
fn check_date(f: &str) -> std::result::Result<(), FieldError> {
    let parts: Vec<&str> = f.split('-').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) || parts[0].len() < 3 {
        return Err(FieldError::Syntax);
    }
    let num = |p: &str| p.parse::<i64>().map_err(|_| FieldError::Range);
    let (y, m, d) = (num(parts[0])?, num(parts[1])?, num(parts[2])?);
    let ok = u32::try_from(m)
        .ok()
        .zip(u32::try_from(d).ok())
        .zip(i32::try_from(y).ok())
        .and_then(|((m, d), y)| chrono::NaiveDate::from_ymd_opt(y, m, d));
    ok.map(|_| ()).ok_or(FieldError::Range)
}

/// What a time string says: the time of day in microseconds and the zone it named
/// (seconds west of UTC), if any.
struct Decoded {
    micros: i64,
    zone: Option<i32>,
}

/// PostgreSQL's `DecodeTimeOnly`; `now_local` is the current local time of day in
/// microseconds, for `now`.
fn decode(s: &str, kind: Kind, now_local: i64) -> Result<Decoded> {
    let fail = |e: FieldError| match e {
        FieldError::Syntax => bad(kind, s),
        FieldError::Range => overflow(s),
        FieldError::Zone => zone_overflow(s),
    };
    let fields = lex(s).ok_or_else(|| bad(kind, s))?;
    let mut time: Option<Hms> = None;
    let mut pm: Option<bool> = None;
    let mut zone: Option<i32> = None;
    let mut date_seen = false;
    let set_time = |time: &mut Option<Hms>, t: Hms| {
        if time.is_some() {
            return Err(bad(kind, s));
        }
        *time = Some(t);
        Ok(())
    };
    let mut i = 0;
    while i < fields.len() {
        match &fields[i] {
            Field::Time(f) => set_time(&mut time, decode_time(f).map_err(fail)?)?,
            Field::Number(f) => set_time(&mut time, decode_number(f).map_err(fail)?)?,
            Field::Date(f) => {
                // A date is accepted only first and directly before a time.
                let before_time = matches!(fields.get(1), Some(Field::Time(_)));
                if i != 0 || date_seen || !before_time {
                    return Err(bad(kind, s));
                }
                check_date(f).map_err(|e| match e {
                    FieldError::Range => {
                        overflow(s).with_hint("Perhaps you need a different \"datestyle\" setting.")
                    }
                    e => fail(e),
                })?;
                date_seen = true;
            }
            Field::Zone(f) => {
                if zone.is_some() {
                    return Err(bad(kind, s));
                }
                zone = Some(decode_zone(f).map_err(fail)?);
            }
            Field::Word(w) => match w.as_str() {
                "am" | "pm" => {
                    if pm.is_some() {
                        return Err(bad(kind, s));
                    }
                    pm = Some(w == "pm");
                }
                "allballs" => set_time(&mut time, Hms::default())?,
                "now" => {
                    let us = now_local.rem_euclid(USECS_PER_DAY);
                    let secs = us / 1_000_000;
                    let t = Hms {
                        hour: secs / 3600,
                        min: secs / 60 % 60,
                        sec: secs % 60,
                        usec: us % 1_000_000,
                    };
                    set_time(&mut time, t)?;
                }
                "z" | "zulu" | "utc" | "gmt" | "ut" => {
                    if zone.is_some() {
                        return Err(bad(kind, s));
                    }
                    zone = Some(0);
                }
                // The ISO 8601 marker: a time must follow.
                "t" if matches!(fields.get(i + 1), Some(Field::Time(_) | Field::Number(_))) => {}
                _ => return Err(bad(kind, s)),
            },
        }
        i += 1;
    }
    let Some(mut t) = time else {
        return Err(bad(kind, s));
    };
    if let Some(pm) = pm {
        if t.hour > 12 {
            return Err(overflow(s));
        }
        if !pm && t.hour == 12 {
            t.hour = 0;
        } else if pm && t.hour != 12 {
            t.hour += 12;
        }
    }
    let micros = hms_micros(t).ok_or_else(|| overflow(s))?;
    Ok(Decoded { micros, zone })
}

/// The microseconds of broken-down fields, `None` when PostgreSQL's `time_overflows`
/// refuses them (beyond 24:00:00, minutes above 59, seconds above 60).
fn hms_micros(t: Hms) -> Option<i64> {
    if t.hour < 0
        || t.hour > 24
        || t.min < 0
        || t.min > 59
        || t.sec < 0
        || t.sec > 60
        || t.usec < 0
        || t.usec > 1_000_000
    {
        return None;
    }
    let total = ((t.hour * 60 + t.min) * 60 + t.sec) * 1_000_000 + t.usec;
    (total <= USECS_PER_DAY).then_some(total)
}

/// Rounds a time of day to `typmod` fractional digits (0–6; -1 leaves it), half away
/// from zero as PostgreSQL's `AdjustTimeForTypmod`.
pub fn round_to_typmod(micros: i64, typmod: i32) -> i64 {
    if !(0..=MAX_TIME_PRECISION).contains(&typmod) {
        return micros;
    }
    let scale = 10i64.pow((MAX_TIME_PRECISION - typmod) as u32);
    let half = scale / 2;
    if micros >= 0 {
        micros.saturating_add(half) / scale * scale
    } else {
        -(micros.saturating_neg().saturating_add(half) / scale * scale)
    }
}

/// Parses a `time` literal; a zone in the text is checked and ignored, as PostgreSQL
/// does. `tz_offset_secs` (east of UTC) places `now` in the session's zone.
pub fn parse_time(s: &str, typmod: i32, tz_offset_secs: i32) -> Result<i64> {
    let now = super::now_micros() + tz_offset_secs as i64 * 1_000_000;
    let d = decode(s, Kind::Time, now)?;
    Ok(round_to_typmod(d.micros, typmod))
}

/// Parses a `time with time zone` literal; without a zone in the text the session's
/// offset (`tz_offset_secs`, east of UTC) applies.
pub fn parse_timetz(s: &str, typmod: i32, tz_offset_secs: i32) -> Result<TimeTz> {
    let now = super::now_micros() + tz_offset_secs as i64 * 1_000_000;
    let d = decode(s, Kind::TimeTz, now)?;
    Ok(TimeTz {
        micros: round_to_typmod(d.micros, typmod),
        zone: d.zone.unwrap_or(-tz_offset_secs),
    })
}

/// Formats a time of day as PostgreSQL's output (`10:30:00`, `10:30:15.5`,
/// `24:00:00`): fractional digits only as far as they are not zero.
pub fn format_time(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let mut s = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if frac != 0 {
        s.push('.');
        s.push_str(format!("{frac:06}").trim_end_matches('0'));
    }
    s
}

/// Formats a zone (seconds west of UTC) as PostgreSQL appends it: `+02`, `-03:30`,
/// `+05:30:15`.
pub fn format_zone(zone_west: i32) -> String {
    let east = -(zone_west as i64);
    let sign = if east < 0 { '-' } else { '+' };
    let a = east.unsigned_abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    if s != 0 {
        format!("{sign}{h:02}:{m:02}:{s:02}")
    } else if m != 0 {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}")
    }
}

/// Formats a `timetz` (`10:30:00+02`).
pub fn format_timetz(t: &TimeTz) -> String {
    format!("{}{}", format_time(t.micros), format_zone(t.zone))
}

/// Wraps a time of day into `0 .. 24:00:00` (PostgreSQL's `time_pl_interval`).
fn wrap(micros: i64) -> i64 {
    micros.rem_euclid(USECS_PER_DAY)
}

/// `time + interval` (and `- interval` with a negated one): only the interval's time
/// part counts, and the result wraps around midnight.
pub fn time_plus(micros: i64, iv: &Interval) -> i64 {
    wrap(micros.wrapping_add(iv.micros % USECS_PER_DAY))
}

/// `time - time`: the difference as an interval of microseconds.
pub fn time_diff(a: i64, b: i64) -> Interval {
    Interval {
        months: 0,
        days: 0,
        micros: a - b,
    }
}

/// The `interval → time` cast: the interval's time part modulo one day (days and
/// months are dropped, as PostgreSQL's `interval_time` does).
pub fn interval_to_time(iv: &Interval) -> i64 {
    wrap(iv.micros % USECS_PER_DAY)
}

/// The time of day of a timestamp's microseconds (local time: for a `timestamptz`,
/// add the zone offset first). `None` for the infinities, which PostgreSQL turns into
/// NULL.
pub fn time_of_timestamp(micros: i64) -> Option<i64> {
    if micros == i64::MAX || micros == i64::MIN {
        return None;
    }
    Some(micros.rem_euclid(USECS_PER_DAY))
}

/// The casts whose result depends on the session's time zone (`tz_offset_secs`, east
/// of UTC): `timestamptz → time`, `timestamptz → timetz`, `time → timetz` and text →
/// `timetz` (a literal without a zone takes the session's). `None` when `v` and
/// `target` are not such a pair; `Some(Ok(Value::Null))` for an infinite timestamp.
pub fn cast_in_zone(
    v: &Value,
    target: DataType,
    typmod: i32,
    tz_offset_secs: i32,
) -> Option<Result<Value>> {
    let off = tz_offset_secs as i64 * 1_000_000;
    Some(Ok(match (v, target) {
        (Value::TimestampTz(t), DataType::Time) => match time_of_timestamp(t.saturating_add(off)) {
            Some(m) => Value::Time(round_to_typmod(m, typmod)),
            None => Value::Null,
        },
        (Value::TimestampTz(t), DataType::TimeTz) => {
            match time_of_timestamp(t.saturating_add(off)) {
                Some(m) => Value::TimeTz(TimeTz {
                    micros: round_to_typmod(m, typmod),
                    zone: -tz_offset_secs,
                }),
                None => Value::Null,
            }
        }
        (Value::Time(t), DataType::TimeTz) => Value::TimeTz(TimeTz {
            micros: round_to_typmod(*t, typmod),
            zone: -tz_offset_secs,
        }),
        (Value::Text(s), DataType::TimeTz) => {
            return Some(parse_timetz(s, typmod, tz_offset_secs).map(Value::TimeTz))
        }
        _ => return None,
    }))
}

/// Whether a cast from `from` to `to` depends on the session's time zone (and must
/// therefore be done by the executor, through [`cast_in_zone`]).
pub fn depends_on_zone(from: DataType, to: DataType) -> bool {
    matches!(
        (from, to),
        (DataType::TimestampTz, DataType::Time | DataType::TimeTz)
            | (DataType::Time, DataType::TimeTz)
    ) || (from.is_string() && to == DataType::TimeTz)
}

/// The casts among the time-of-day types and from the other date/time types that do
/// not depend on the session's zone (`timestamp → time`, `interval ↔ time`, `timetz →
/// time`, and each type to itself); `None` for any other pair.
pub fn cast_plain(v: &Value, target: DataType) -> Option<Value> {
    Some(match (v, target) {
        (Value::Time(t), DataType::Time) => Value::Time(*t),
        (Value::TimeTz(t), DataType::TimeTz) => Value::TimeTz(*t),
        (Value::TimeTz(t), DataType::Time) => Value::Time(t.micros),
        (Value::Timestamp(t), DataType::Time) => match time_of_timestamp(*t) {
            Some(m) => Value::Time(m),
            None => Value::Null,
        },
        (Value::Interval(iv), DataType::Time) => Value::Time(interval_to_time(iv)),
        (Value::Time(t), DataType::Interval) => Value::Interval(Interval {
            months: 0,
            days: 0,
            micros: *t,
        }),
        _ => return None,
    })
}

/// Applies a `time(p)` / `timetz(p)` typmod to a value of that type.
pub fn apply_time_typmod(v: Value, typmod: i32) -> Value {
    match v {
        Value::Time(t) => Value::Time(round_to_typmod(t, typmod)),
        Value::TimeTz(t) => Value::TimeTz(TimeTz {
            micros: round_to_typmod(t.micros, typmod),
            zone: t.zone,
        }),
        v => v,
    }
}

/// A unit name of `extract` / `date_part` as PostgreSQL's `DecodeUnits` and
/// `DecodeSpecial` read it (lowercased, looked up by its first ten characters).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Micros,
    Millis,
    Second,
    Minute,
    Hour,
    Zone,
    ZoneHour,
    ZoneMinute,
    Epoch,
    /// A unit PostgreSQL knows but the time types do not have (`day`, `dow`, …).
    Other,
}

fn decode_unit(lower: &str) -> Option<Unit> {
    let key: String = lower.chars().take(10).collect();
    Some(match key.as_str() {
        "microsecon" | "us" | "usec" | "microsecond" | "useconds" | "usecs" => Unit::Micros,
        "millisecon" | "ms" | "msec" | "millisecond" | "mseconds" | "msecs" => Unit::Millis,
        "s" | "sec" | "second" | "seconds" | "secs" => Unit::Second,
        "m" | "min" | "mins" | "minute" | "minutes" => Unit::Minute,
        "h" | "hour" | "hours" | "hr" | "hrs" => Unit::Hour,
        "timezone" => Unit::Zone,
        "timezone_h" => Unit::ZoneHour,
        "timezone_m" => Unit::ZoneMinute,
        "epoch" => Unit::Epoch,
        "c" | "cent" | "centuries" | "century" | "d" | "day" | "days" | "dec" | "decade"
        | "decades" | "decs" | "mil" | "millennia" | "millennium" | "mils" | "mon" | "mons"
        | "month" | "months" | "qtr" | "quarter" | "w" | "week" | "weeks" | "y" | "year"
        | "years" | "yr" | "yrs" | "dow" | "doy" | "isodow" | "isoyear" | "j" | "jd" | "julian" => {
            Unit::Other
        }
        _ => return None,
    })
}

/// `extract(field FROM v)` of a `time` or `timetz` value as numeric, as PostgreSQL 15's
/// `time_part_common` / `timetz_part_common` compute it; `None` when `v` is neither.
pub fn extract(field: &str, v: &Value) -> Option<Result<bigdecimal::BigDecimal>> {
    use bigdecimal::BigDecimal;
    let (micros, zone, type_name) = match v {
        Value::Time(t) => (*t, None, "time without time zone"),
        Value::TimeTz(t) => (t.micros, Some(t.zone), "time with time zone"),
        _ => return None,
    };
    let lower = field.to_lowercase();
    let Some(unit) = decode_unit(&lower) else {
        return Some(Err(err!(
            sqlstate::INVALID_PARAMETER_VALUE,
            "unit \"{lower}\" not recognized for type {type_name}"
        )));
    };
    let sec_micros = micros % 60_000_000;
    Some(Ok(match (unit, zone) {
        (Unit::Micros, _) => BigDecimal::from(sec_micros),
        (Unit::Millis, _) => BigDecimal::new(sec_micros.into(), 3),
        (Unit::Second, _) => BigDecimal::new(sec_micros.into(), 6),
        (Unit::Minute, _) => BigDecimal::from(micros / 60_000_000 % 60),
        (Unit::Hour, _) => BigDecimal::from(micros / 3_600_000_000),
        (Unit::Epoch, z) => BigDecimal::new((micros + z.unwrap_or(0) as i64 * 1_000_000).into(), 6),
        (Unit::Zone, Some(z)) => BigDecimal::from(-z),
        (Unit::ZoneHour, Some(z)) => BigDecimal::from(-z / 3600),
        (Unit::ZoneMinute, Some(z)) => BigDecimal::from(-z / 60 % 60),
        _ => {
            return Some(Err(err!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "unit \"{lower}\" not supported for type {type_name}"
            )))
        }
    }))
}

/// PostgreSQL's `make_time(hour, min, sec)`, with its 22008 error.
pub fn make_time(hour: i64, min: i64, sec: f64) -> Result<i64> {
    let refuse = || {
        err!(
            sqlstate::DATETIME_FIELD_OVERFLOW,
            "time field value out of range: {hour}:{min:02}:{}",
            format_g(sec)
        )
    };
    if !(0..=24).contains(&hour) || !(0..=59).contains(&min) || !(0.0..=60.0).contains(&sec) {
        return Err(refuse());
    }
    let usec = (sec * 1_000_000.0).round_ties_even() as i64;
    let total = (hour * 60 + min) * 60_000_000 + usec;
    if usec > 60_000_000 || total > USECS_PER_DAY {
        return Err(refuse());
    }
    Ok(total)
}

/// C's `%02g` of a seconds value (as `make_time`'s error prints it): six significant
/// digits, trailing zeros dropped, exponent form below 1e-4 and from 1e6 on.
fn format_g(sec: f64) -> String {
    // PostgreSQL's own snprintf spells the specials out.
    if sec.is_nan() {
        return "NaN".into();
    }
    if sec.is_infinite() {
        return if sec > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    let exp = if sec == 0.0 {
        0
    } else {
        // The exponent after rounding to six significant digits.
        let e = format!("{:.5e}", sec);
        e.rsplit_once('e')
            .and_then(|(_, x)| x.parse::<i32>().ok())
            .unwrap_or(0)
    };
    let s = if !(-4..6).contains(&exp) {
        let e = format!("{:.5e}", sec);
        let (mant, x) = e.rsplit_once('e').unwrap_or((&e, "0"));
        let x: i32 = x.parse().unwrap_or(0);
        format!(
            "{}e{}{:02}",
            trim(mant.to_string()),
            if x < 0 { '-' } else { '+' },
            x.abs()
        )
    } else {
        trim(format!("{:.*}", (5 - exp).max(0) as usize, sec))
    };
    if s.len() < 2 {
        format!("0{s}")
    } else {
        s
    }
}

/// Decodes `time`'s binary format (`time_recv`), refusing values outside a day.
pub fn time_recv(micros: i64) -> Result<i64> {
    if !(0..=USECS_PER_DAY).contains(&micros) {
        return Err(err!(
            sqlstate::INVALID_BINARY_REPRESENTATION,
            "time out of range"
        ));
    }
    Ok(micros)
}

/// Decodes `timetz`'s binary format (`timetz_recv`).
pub fn timetz_recv(micros: i64, zone: i32) -> Result<TimeTz> {
    let micros = time_recv(micros)?;
    let limit = (MAX_TZDISP_HOUR as i32 + 1) * 3600;
    if zone <= -limit || zone >= limit {
        return Err(err!(
            sqlstate::INVALID_BINARY_REPRESENTATION,
            "time zone displacement out of range"
        ));
    }
    Ok(TimeTz { micros, zone })
}

#[cfg(test)]
#[path = "time_tests.rs"]
mod tests;
