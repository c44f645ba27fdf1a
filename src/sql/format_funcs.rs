//! Formatting and date/time built-ins: `to_char` on date/time values, `to_timestamp`
//! (Unix seconds, or `(text, text)` parsed by [`super::to_char::parse`]), `to_date`, `age`, `justify_days` / `justify_hours` / `justify_interval`,
//! `make_date`, `make_timestamp`, `make_timestamptz`, `make_time`, `isfinite` and `timeofday`.
//!
//! What this module owns: [`FmtFn`], its name table ([`lookup`], consulted by
//! `functions::lookup`), argument types ([`arg_type`]) and evaluation ([`call`]). The
//! `to_char` template engine itself lives in [`super::to_char`].
//!
//! Invariants: every function is strict (NULL in, NULL out); field-wise arithmetic
//! (`age`, the `justify_*` family) follows PostgreSQL's `timestamp.c` step by step and
//! overflows into 22008 "interval out of range", never a wrapped value; timestamps
//! are broken into fields in the session time zone with the offset in force at that
//! instant (`types::timezone`).
//!
//! What it must never do: answer differently from PostgreSQL. Where tusk cannot know
//! the answer it fails with 0A000.
//!
//! One call, `SELECT age(timestamp '2024-03-01', timestamp '2023-12-31')`: [`lookup`]
//! gives `FmtFn::Age` (interval); [`call`] breaks both timestamps into fields, subtracts
//! field by field, borrows a month's days from December: `2 mons 1 day`.

use super::to_char::{self, Tm};
use super::ExecCtx;
use crate::err;
use crate::error::{sqlstate, Error, Result};
use crate::types::timezone::Zone;
use crate::types::{self, DataType, Interval, Value};
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// A function of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FmtFn {
    /// `to_char(timestamp|timestamptz|date|interval, text)`, and of numbers (see
    /// [`super::to_char_num`]).
    ToChar,
    /// `to_number(text, text)` (see [`super::to_char_num`]).
    ToNumber,
    /// `to_timestamp(double precision)`: Unix seconds to `timestamptz`.
    ToTimestampEpoch,
    /// `to_timestamp(text, text)`: parse local fields through a template.
    ToTimestampText,
    /// `to_date(text, text)`.
    ToDate,
    /// `age(a, b)` and `age(a)` (from midnight today).
    Age,
    /// `justify_days(interval)`.
    JustifyDays,
    /// `justify_hours(interval)`.
    JustifyHours,
    /// `justify_interval(interval)`.
    JustifyInterval,
    /// `make_date(year, month, day)`.
    MakeDate,
    /// `make_timestamp(year, month, day, hour, min, sec)`.
    MakeTimestamp,
    /// `make_timestamptz(year, month, day, hour, min, sec [, zone])`.
    MakeTimestampTz,
    /// `make_time(hour, min, sec)`.
    MakeTime,
    /// `make_interval(years, months, weeks, days, hours, mins, secs)`, each defaulting
    /// to 0.
    MakeInterval,
    /// `isfinite(date|timestamp|timestamptz|interval)`.
    IsFinite,
    /// `timeofday()`.
    TimeOfDay,
}

const USECS_PER_DAY: i64 = 86_400_000_000;

/// Resolves a name and argument types to a function of this module.
pub fn lookup(name: &str, types: &[DataType]) -> Option<(FmtFn, DataType)> {
    use DataType as T;
    let first = types.first().copied().unwrap_or(T::Unknown);
    let datetime = |t: DataType| matches!(t, T::Timestamp | T::TimestampTz | T::Date);
    Some(match (name, types.len()) {
        // to_char(time) is to_char(interval), through time's implicit cast, as in
        // PostgreSQL.
        ("to_char", 2) if datetime(first) || matches!(first, T::Interval | T::Time) => {
            (FmtFn::ToChar, T::Text)
        }
        ("to_char", 2)
            if matches!(
                first,
                T::Int2 | T::Int4 | T::Int8 | T::Float4 | T::Float8 | T::Numeric
            ) =>
        {
            (FmtFn::ToChar, T::Text)
        }
        ("to_number", 2) => (FmtFn::ToNumber, T::Numeric),
        ("to_timestamp", 1) => (FmtFn::ToTimestampEpoch, T::TimestampTz),
        ("to_timestamp", 2) => (FmtFn::ToTimestampText, T::TimestampTz),
        ("to_date", 2) => (FmtFn::ToDate, T::Date),
        ("age", 1 | 2) if matches!(first, T::Timestamp | T::Unknown) => (FmtFn::Age, T::Interval),
        ("age", 1 | 2) if matches!(first, T::TimestampTz | T::Date) => (FmtFn::Age, T::Interval),
        ("justify_days", 1) => (FmtFn::JustifyDays, T::Interval),
        ("justify_hours", 1) => (FmtFn::JustifyHours, T::Interval),
        ("justify_interval", 1) => (FmtFn::JustifyInterval, T::Interval),
        ("make_interval", 0..=7) => (FmtFn::MakeInterval, T::Interval),
        ("make_date", 3) => (FmtFn::MakeDate, T::Date),
        ("make_timestamp", 6) => (FmtFn::MakeTimestamp, T::Timestamp),
        ("make_timestamptz", 6 | 7) => (FmtFn::MakeTimestampTz, T::TimestampTz),
        ("make_time", 3) => (FmtFn::MakeTime, T::Time),
        ("isfinite", 1) if datetime(first) || matches!(first, T::Interval | T::Time) => {
            (FmtFn::IsFinite, T::Bool)
        }
        ("timeofday", 0) => (FmtFn::TimeOfDay, T::Text),
        _ => return None,
    })
}

/// The type argument `i` is coerced to (`None`: left as it is).
pub fn arg_type(f: FmtFn, i: usize) -> Option<DataType> {
    use DataType as T;
    Some(match (f, i) {
        (FmtFn::ToChar, 1) => T::Text,
        (FmtFn::ToChar | FmtFn::IsFinite, _) => return None,
        (FmtFn::ToTimestampEpoch, _) => T::Float8,
        (FmtFn::ToTimestampText | FmtFn::ToDate | FmtFn::ToNumber, _) => T::Text,
        (FmtFn::Age, _) => return None,
        (FmtFn::JustifyDays | FmtFn::JustifyHours | FmtFn::JustifyInterval, _) => T::Interval,
        (FmtFn::MakeTimestamp | FmtFn::MakeTimestampTz, 5)
        | (FmtFn::MakeTime, 2)
        | (FmtFn::MakeInterval, 6) => T::Float8,
        (FmtFn::MakeInterval, _) => T::Int4,
        (FmtFn::MakeTime, _) => T::Int4,
        (FmtFn::MakeTimestampTz, 6) => T::Text,
        (FmtFn::MakeDate | FmtFn::MakeTimestamp | FmtFn::MakeTimestampTz, _) => T::Int4,
        (FmtFn::TimeOfDay, _) => return None,
    })
}

/// Whether a call must be evaluated per row even with constant arguments.
pub fn is_volatile(f: FmtFn) -> bool {
    matches!(f, FmtFn::TimeOfDay | FmtFn::Age | FmtFn::MakeTimestampTz)
}

/// `make_interval`'s value: years and months into months, weeks and days into days,
/// the rest into microseconds (seconds rounded to the microsecond), every step checked.
fn make_interval(args: &[Value]) -> Result<Interval> {
    let int = |i: usize| args.get(i).map_or(0, |v| v.as_i64().unwrap_or(0));
    let field = |v: i64| i32::try_from(v).map_err(|_| overflow());
    let secs = args.get(6).map_or(0.0, |v| v.as_f64().unwrap_or(0.0));
    let months = field(int(0))?
        .checked_mul(12)
        .and_then(|m| m.checked_add(field(int(1)).ok()?))
        .ok_or_else(overflow)?;
    let days = field(int(2))?
        .checked_mul(7)
        .and_then(|d| d.checked_add(field(int(3)).ok()?))
        .ok_or_else(overflow)?;
    let usecs = (secs * 1e6).round();
    if !usecs.is_finite() || usecs.abs() >= 9.2e18 {
        return Err(overflow());
    }
    let micros = int(4)
        .checked_mul(3_600_000_000)
        .and_then(|h| h.checked_add(int(5).checked_mul(60_000_000)?))
        .and_then(|t| t.checked_add(usecs as i64))
        .ok_or_else(overflow)?;
    Ok(Interval {
        months,
        days,
        micros,
    })
}

fn overflow() -> Error {
    err!(sqlstate::DATETIME_FIELD_OVERFLOW, "interval out of range")
}

fn ts_overflow() -> Error {
    err!(sqlstate::DATETIME_FIELD_OVERFLOW, "timestamp out of range")
}

fn is_infinite(t: i64) -> bool {
    t == i64::MAX || t == i64::MIN
}

fn naive(micros: i64) -> Option<NaiveDateTime> {
    NaiveDate::from_ymd_opt(2000, 1, 1)?
        .and_time(NaiveTime::MIN)
        .checked_add_signed(chrono::Duration::microseconds(micros))
}

fn from_naive(dt: NaiveDateTime) -> Result<i64> {
    let epoch = NaiveDate::from_ymd_opt(2000, 1, 1)
        .unwrap_or_default()
        .and_time(NaiveTime::MIN);
    (dt - epoch).num_microseconds().ok_or_else(ts_overflow)
}

/// The session zone (`TimeZone`).
fn session_zone(cx: &ExecCtx<'_>) -> Zone {
    cx.format_options().zone
}

/// Breaks a local timestamp (microseconds since 2000-01-01) into fields.
fn tm_of(local: i64) -> Result<Tm> {
    let dt = naive(local).ok_or_else(ts_overflow)?;
    let iso = dt.iso_week();
    Ok(Tm {
        year: dt.year() as i64,
        mon: dt.month() as i64,
        mday: dt.day() as i64,
        hour: dt.hour() as i64,
        min: dt.minute() as i64,
        sec: dt.second() as i64,
        usec: (dt.nanosecond() / 1000) as i64,
        yday: dt.ordinal() as i64,
        wday: dt.weekday().num_days_from_sunday() as i64,
        iso_year: iso.year() as i64,
        iso_week: iso.week() as i64,
        ..Tm::default()
    })
}

fn interval_tm(iv: &Interval) -> Tm {
    let year = (iv.months / 12) as i64;
    let mon = (iv.months % 12) as i64;
    let t = iv.micros;
    Tm {
        year,
        mon,
        mday: iv.days as i64,
        hour: t / 3_600_000_000,
        min: (t / 60_000_000) % 60,
        sec: (t / 1_000_000) % 60,
        usec: t % 1_000_000,
        yday: (year * 12 + mon) * 30 + iv.days as i64,
        is_interval: true,
        ..Tm::default()
    }
}

fn to_char(v: &Value, fmt: &str, cx: &ExecCtx<'_>) -> Result<Value> {
    let zone = session_zone(cx);
    // Fields of an instant in the session zone, with its offset and abbreviation.
    let zoned = |t: i64| -> Result<Tm> {
        let o = zone.offset_at(t);
        let mut tm = tm_of(
            t.checked_add(o.east_secs as i64 * 1_000_000)
                .ok_or_else(ts_overflow)?,
        )?;
        tm.gmtoff = o.east_secs as i64;
        tm.tzn = Some(o.abbrev.into_owned());
        Ok(tm)
    };
    let tm = match v {
        Value::Interval(iv) => interval_tm(iv),
        Value::Time(t) => interval_tm(&Interval {
            months: 0,
            days: 0,
            micros: *t,
        }),
        Value::Timestamp(t) => {
            if is_infinite(*t) {
                return Ok(Value::Null);
            }
            tm_of(*t)?
        }
        Value::TimestampTz(t) => {
            if is_infinite(*t) {
                return Ok(Value::Null);
            }
            zoned(*t)?
        }
        Value::Date(d) => {
            if *d == i32::MAX || *d == i32::MIN {
                return Ok(Value::Null);
            }
            // PostgreSQL resolves to_char(date, …) to the timestamptz variant: local
            // midnight in the session zone.
            zoned(zone.local_to_utc(*d as i64 * USECS_PER_DAY))?
        }
        _ => {
            return Err(err!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "to_char of this type is not supported by tusk"
            ))
        }
    };
    Ok(Value::Text(to_char::format(&tm, fmt)?))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if is_leap(y) {
                29
            } else {
                28
            }
        }
    }
}

/// PostgreSQL's `timestamp_age` on two local timestamps.
fn age(a: i64, b: i64) -> Result<Interval> {
    if is_infinite(a) || is_infinite(b) {
        return Err(err!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "age of an infinite timestamp is not supported by tusk"
        ));
    }
    let (t1, t2) = (tm_of(a)?, tm_of(b)?);
    let mut usec = t1.usec - t2.usec;
    let mut sec = t1.sec - t2.sec;
    let mut min = t1.min - t2.min;
    let mut hour = t1.hour - t2.hour;
    let mut mday = t1.mday - t2.mday;
    let mut mon = t1.mon - t2.mon;
    let mut year = t1.year - t2.year;
    let flip = a < b;
    if flip {
        usec = -usec;
        sec = -sec;
        min = -min;
        hour = -hour;
        mday = -mday;
        mon = -mon;
        year = -year;
    }
    while usec < 0 {
        usec += 1_000_000;
        sec -= 1;
    }
    while sec < 0 {
        sec += 60;
        min -= 1;
    }
    while min < 0 {
        min += 60;
        hour -= 1;
    }
    while hour < 0 {
        hour += 24;
        mday -= 1;
    }
    while mday < 0 {
        let t = if flip { &t1 } else { &t2 };
        mday += days_in_month(t.year, t.mon);
        mon -= 1;
    }
    while mon < 0 {
        mon += 12;
        year -= 1;
    }
    if flip {
        usec = -usec;
        sec = -sec;
        min = -min;
        hour = -hour;
        mday = -mday;
        mon = -mon;
        year = -year;
    }
    let months = year
        .checked_mul(12)
        .and_then(|y| y.checked_add(mon))
        .and_then(|m| i32::try_from(m).ok())
        .ok_or_else(overflow)?;
    Ok(Interval {
        months,
        days: i32::try_from(mday).map_err(|_| overflow())?,
        micros: ((hour * 60 + min) * 60 + sec) * 1_000_000 + usec,
    })
}

fn justify_hours(iv: Interval) -> Result<Interval> {
    let mut r = iv;
    let whole = r.micros / USECS_PER_DAY;
    r.micros -= whole * USECS_PER_DAY;
    r.days = i32::try_from(whole)
        .ok()
        .and_then(|w| r.days.checked_add(w))
        .ok_or_else(overflow)?;
    if r.days > 0 && r.micros < 0 {
        r.micros += USECS_PER_DAY;
        r.days -= 1;
    } else if r.days < 0 && r.micros > 0 {
        r.micros -= USECS_PER_DAY;
        r.days += 1;
    }
    Ok(r)
}

fn justify_days(iv: Interval) -> Result<Interval> {
    let mut r = iv;
    let whole = r.days / 30;
    r.days -= whole * 30;
    r.months = r.months.checked_add(whole).ok_or_else(overflow)?;
    if r.months > 0 && r.days < 0 {
        r.days += 30;
        r.months -= 1;
    } else if r.months < 0 && r.days > 0 {
        r.days -= 30;
        r.months += 1;
    }
    Ok(r)
}

fn justify_interval(iv: Interval) -> Result<Interval> {
    let mut r = iv;
    let whole = r.micros / USECS_PER_DAY;
    r.micros -= whole * USECS_PER_DAY;
    r.days = i32::try_from(whole)
        .ok()
        .and_then(|w| r.days.checked_add(w))
        .ok_or_else(overflow)?;
    let wm = r.days / 30;
    r.days -= wm * 30;
    r.months = r.months.checked_add(wm).ok_or_else(overflow)?;
    if r.months > 0 && (r.days < 0 || (r.days == 0 && r.micros < 0)) {
        r.days += 30;
        r.months -= 1;
    } else if r.months < 0 && (r.days > 0 || (r.days == 0 && r.micros > 0)) {
        r.days -= 30;
        r.months += 1;
    }
    if r.days > 0 && r.micros < 0 {
        r.micros += USECS_PER_DAY;
        r.days -= 1;
    } else if r.days < 0 && r.micros > 0 {
        r.micros -= USECS_PER_DAY;
        r.days += 1;
    }
    Ok(r)
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int2(i) => *i as i64,
        Value::Int4(i) => *i as i64,
        Value::Int8(i) => *i,
        v => v.as_f64().unwrap_or(0.0) as i64,
    }
}

/// `make_date`'s checks: year 0 does not exist, negative years are BC.
fn make_date(y: i64, m: i64, d: i64) -> Result<NaiveDate> {
    let bad = || {
        err!(
            sqlstate::DATETIME_FIELD_OVERFLOW,
            "date field value out of range: {y}-{m:02}-{d:02}"
        )
    };
    if y == 0 {
        return Err(bad());
    }
    let year = if y < 0 { y + 1 } else { y };
    let year = i32::try_from(year).map_err(|_| bad())?;
    let (m32, d32) = (
        u32::try_from(m).map_err(|_| bad())?,
        u32::try_from(d).map_err(|_| bad())?,
    );
    NaiveDate::from_ymd_opt(year, m32, d32).ok_or_else(bad)
}

/// `make_timestamp`'s local timestamp from fields.
fn make_local(args: &[Value]) -> Result<i64> {
    let date = make_date(int(&args[0]), int(&args[1]), int(&args[2]))?;
    let (h, mi) = (int(&args[3]), int(&args[4]));
    let sec = args[5].as_f64().unwrap_or(0.0);
    let secs_text = if sec.fract() == 0.0 && sec.is_finite() {
        format!("{:02}", sec as i64)
    } else {
        types::format_float8(sec)
    };
    let bad = || {
        err!(
            sqlstate::DATETIME_FIELD_OVERFLOW,
            "time field value out of range: {h}:{mi:02}:{secs_text}"
        )
    };
    if !(0..=24).contains(&h) || !(0..=59).contains(&mi) || !(0.0..=60.0).contains(&sec) {
        return Err(bad());
    }
    let usec = (sec * 1_000_000.0).round() as i64;
    let time = (h * 60 + mi) * 60_000_000 + usec;
    if time > USECS_PER_DAY {
        return Err(bad());
    }
    Ok(from_naive(date.and_time(NaiveTime::MIN))? + time)
}

fn timeofday(cx: &ExecCtx<'_>) -> Result<String> {
    let now = types::now_micros();
    let zone = session_zone(cx);
    let o = zone.offset_at(now);
    let dt = naive(now + o.east_secs as i64 * 1_000_000).ok_or_else(ts_overflow)?;
    Ok(format!(
        "{}.{:06} {} {}",
        dt.format("%a %b %d %H:%M:%S"),
        dt.nanosecond() / 1000,
        dt.year(),
        o.abbrev
    ))
}

/// Local midnight of the current transaction's day.
fn today_local(cx: &ExecCtx<'_>) -> i64 {
    let local = session_zone(cx).to_local(cx.txn.start_time);
    local.div_euclid(USECS_PER_DAY) * USECS_PER_DAY
}

/// Evaluates a function of this module.
pub fn call(f: FmtFn, args: Vec<Value>, _ty: DataType, cx: &mut ExecCtx<'_>) -> Result<Value> {
    if args.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let zone = session_zone(cx);
    let iv = |i: usize| match args.get(i) {
        Some(Value::Interval(iv)) => Ok(*iv),
        _ => Err(err!(
            sqlstate::DATATYPE_MISMATCH,
            "interval argument expected"
        )),
    };
    Ok(match f {
        FmtFn::ToChar => {
            let fmt = match &args[1] {
                Value::Text(s) => s.clone(),
                v => types::format_text(v, &types::FormatOptions::default()),
            };
            if args[0].data_type().is_numeric() {
                return Ok(Value::Text(super::to_char_num::to_char(
                    &args[0],
                    &fmt,
                    cx.settings,
                )?));
            }
            if fmt.is_empty() {
                return Ok(Value::Null);
            }
            to_char(&args[0], &fmt, cx)?
        }
        FmtFn::ToTimestampEpoch => {
            let s = args[0].as_f64().unwrap_or(0.0);
            if s.is_nan() {
                return Err(err!(
                    sqlstate::DATETIME_FIELD_OVERFLOW,
                    "timestamp cannot be NaN"
                ));
            }
            if s.is_infinite() {
                // tusk has no infinite timestamps yet.
                return Err(err!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "infinite timestamps are not supported by tusk"
                ));
            }
            // chrono's range (±262143 years) is narrower than PostgreSQL's; refuse
            // rather than print a wrong value.
            if !(-210_866_803_200.0..8_210_298_412_800.0).contains(&s) {
                return Err(err!(
                    sqlstate::DATETIME_FIELD_OVERFLOW,
                    "timestamp out of range: \"{}\"",
                    types::format_float8(s)
                ));
            }
            let us = ((s - types::POSTGRES_EPOCH_UNIX_SECS as f64) * 1_000_000.0).round();
            Value::TimestampTz(us as i64)
        }
        FmtFn::ToNumber => {
            let text = |v: &Value| match v {
                Value::Text(s) => s.clone(),
                v => types::format_text(v, &types::FormatOptions::default()),
            };
            match super::to_char_num::to_number(&text(&args[0]), &text(&args[1]), cx.settings)? {
                Some(n) => Value::numeric(n),
                None => Value::Null,
            }
        }
        FmtFn::ToTimestampText | FmtFn::ToDate => {
            let text = |v: &Value| match v {
                Value::Text(s) => s.clone(),
                v => types::format_text(v, &types::FormatOptions::default()),
            };
            let tm = to_char::parse(&text(&args[0]), &text(&args[1]))?;
            let date = NaiveDate::from_ymd_opt(
                i32::try_from(tm.year).map_err(|_| ts_overflow())?,
                tm.mon as u32,
                tm.mday as u32,
            )
            .ok_or_else(ts_overflow)?;
            let day = from_naive(date.and_time(NaiveTime::MIN))?;
            if f == FmtFn::ToDate {
                Value::Date((day / USECS_PER_DAY) as i32)
            } else {
                let local = day + ((tm.hour * 60 + tm.min) * 60 + tm.sec) * 1_000_000 + tm.usec;
                Value::TimestampTz(zone.local_to_utc(local))
            }
        }
        FmtFn::Age => {
            let local = |v: &Value| -> Result<i64> {
                Ok(match v {
                    Value::Timestamp(t) => *t,
                    Value::TimestampTz(t) => zone.to_local(*t),
                    Value::Date(d) => *d as i64 * USECS_PER_DAY,
                    Value::Text(s) => types::parse_timestamp(s)?,
                    _ => return Err(err!(sqlstate::DATATYPE_MISMATCH, "timestamp expected")),
                })
            };
            let (a, b) = if args.len() == 1 {
                (today_local(cx), local(&args[0])?)
            } else {
                (local(&args[0])?, local(&args[1])?)
            };
            Value::Interval(age(a, b)?)
        }
        FmtFn::JustifyDays => Value::Interval(justify_days(iv(0)?)?),
        FmtFn::JustifyHours => Value::Interval(justify_hours(iv(0)?)?),
        FmtFn::JustifyInterval => Value::Interval(justify_interval(iv(0)?)?),
        FmtFn::MakeInterval => Value::Interval(make_interval(&args)?),
        FmtFn::MakeDate => {
            let d = make_date(int(&args[0]), int(&args[1]), int(&args[2]))?;
            let t = from_naive(d.and_time(NaiveTime::MIN))?;
            Value::Date((t / USECS_PER_DAY) as i32)
        }
        FmtFn::MakeTimestamp => Value::Timestamp(make_local(&args)?),
        FmtFn::MakeTimestampTz => {
            let zone = match args.get(6) {
                Some(Value::Text(name)) => super::tz_funcs::zone_named(name)?,
                _ => zone,
            };
            Value::TimestampTz(zone.local_to_utc(make_local(&args)?))
        }
        FmtFn::MakeTime => Value::Time(types::time::make_time(
            int(&args[0]),
            int(&args[1]),
            args[2].as_f64().unwrap_or(f64::NAN),
        )?),
        FmtFn::IsFinite => Value::Bool(match &args[0] {
            Value::Timestamp(t) | Value::TimestampTz(t) => !is_infinite(*t),
            Value::Date(d) => *d != i32::MAX && *d != i32::MIN,
            _ => true,
        }),
        FmtFn::TimeOfDay => Value::Text(timeofday(cx)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn justify_and_age_follow_postgres() {
        let iv = Interval {
            months: 0,
            days: 35,
            micros: -3_600_000_000,
        };
        let j = justify_interval(iv).unwrap();
        assert_eq!((j.months, j.days, j.micros), (1, 4, 82_800_000_000));
        let a = types::parse_timestamp("2024-03-01").unwrap();
        let b = types::parse_timestamp("2023-12-31").unwrap();
        let r = age(a, b).unwrap();
        assert_eq!((r.months, r.days, r.micros), (2, 1, 0));
    }
}
