//! The `interval` type: months, days and microseconds kept apart as PostgreSQL does (a
//! month is not a fixed number of days), with its text format (`IntervalStyle =
//! postgres`) and timestamp arithmetic.

use super::datetime::USECS_PER_DAY;
use crate::err;
use crate::error::{sqlstate, Error, Result};
use chrono::{Months, NaiveDate, NaiveDateTime, NaiveTime};
use std::cmp::Ordering;

/// An interval value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Interval {
    /// Whole months.
    pub months: i32,
    /// Whole days.
    pub days: i32,
    /// Microseconds.
    pub micros: i64,
}

const USECS_PER_HOUR: i64 = 3_600_000_000;

impl Interval {
    /// The span in microseconds with PostgreSQL's comparison conventions (30-day months,
    /// 24-hour days).
    pub fn span(&self) -> i128 {
        (self.months as i128 * 30 + self.days as i128) * USECS_PER_DAY as i128 + self.micros as i128
    }

    /// Orders intervals as PostgreSQL does.
    pub fn cmp_span(&self, other: &Interval) -> Ordering {
        self.span().cmp(&other.span())
    }

    /// Sum of two intervals.
    pub fn add(&self, o: &Interval) -> Result<Interval> {
        Ok(Interval {
            months: self.months.checked_add(o.months).ok_or_else(overflow)?,
            days: self.days.checked_add(o.days).ok_or_else(overflow)?,
            micros: self.micros.checked_add(o.micros).ok_or_else(overflow)?,
        })
    }

    /// The negated interval.
    pub fn neg(&self) -> Result<Interval> {
        Ok(Interval {
            months: self.months.checked_neg().ok_or_else(overflow)?,
            days: self.days.checked_neg().ok_or_else(overflow)?,
            micros: self.micros.checked_neg().ok_or_else(overflow)?,
        })
    }

    /// The interval scaled by a factor, spilling fractional months into days and
    /// fractional days into time, as PostgreSQL's `interval_mul`.
    pub fn mul(&self, f: f64) -> Result<Interval> {
        if !f.is_finite() {
            return Err(overflow());
        }
        let months = self.months as f64 * f;
        let whole_months = months.trunc();
        let days = self.days as f64 * f + (months - whole_months) * 30.0;
        let whole_days = days.trunc();
        let micros = self.micros as f64 * f + (days - whole_days) * USECS_PER_DAY as f64;
        if whole_months.abs() > i32::MAX as f64
            || whole_days.abs() > i32::MAX as f64
            || micros.abs() > i64::MAX as f64
        {
            return Err(overflow());
        }
        Ok(Interval {
            months: whole_months as i32,
            days: whole_days as i32,
            micros: micros.round() as i64,
        })
    }
}

fn overflow() -> Error {
    err!(sqlstate::DATETIME_FIELD_OVERFLOW, "interval out of range")
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("{n} {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// Formats an interval as PostgreSQL's default output (`1 year 2 mons 3 days 04:05:06`).
pub fn format_interval(iv: &Interval) -> String {
    let mut parts = Vec::new();
    let years = iv.months / 12;
    let mons = iv.months % 12;
    if years != 0 {
        parts.push(plural(years as i64, "year"));
    }
    if mons != 0 {
        parts.push(plural(mons as i64, "mon"));
    }
    if iv.days != 0 {
        parts.push(plural(iv.days as i64, "day"));
    }
    if iv.micros != 0 || parts.is_empty() {
        let neg = iv.micros < 0;
        let m = iv.micros.unsigned_abs();
        let secs = m / 1_000_000;
        let frac = m % 1_000_000;
        let mut t = format!(
            "{}{:02}:{:02}:{:02}",
            if neg { "-" } else { "" },
            secs / 3600,
            (secs / 60) % 60,
            secs % 60
        );
        if frac != 0 {
            t.push('.');
            t.push_str(format!("{frac:06}").trim_end_matches('0'));
        }
        parts.push(t);
    }
    parts.join(" ")
}

fn bad(s: &str) -> Error {
    err!(
        sqlstate::INVALID_DATETIME_FORMAT,
        "invalid input syntax for type interval: \"{s}\""
    )
}

/// Parses an interval literal: unit pairs (`1 day 2 hours`, `-3 mons`, `1.5 days`,
/// `2 weeks`), an `[-]HH:MM[:SS[.f]]` time field, `ago`, and a leading `@`.
pub fn parse_interval(s: &str) -> Result<Interval> {
    let text = s.trim().trim_start_matches('@').to_ascii_lowercase();
    let mut iv = Interval::default();
    let mut toks = text.split_whitespace().peekable();
    let mut ago = false;
    let mut any = false;
    while let Some(tok) = toks.next() {
        if tok == "ago" {
            ago = true;
            continue;
        }
        if tok.contains(':') {
            iv.micros = iv
                .micros
                .checked_add(parse_time_field(tok).ok_or_else(|| bad(s))?)
                .ok_or_else(overflow)?;
            any = true;
            continue;
        }
        // A number, with the unit attached (`5min`) or as the next token.
        let split = tok
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(tok.len());
        let (num, unit_attached) = tok.split_at(split);
        let n: f64 = num.parse().map_err(|_| bad(s))?;
        let unit = if unit_attached.is_empty() {
            match toks.peek() {
                Some(u)
                    if u.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) && *u != "ago" =>
                {
                    toks.next().unwrap_or_default()
                }
                _ => "s",
            }
        } else {
            unit_attached
        };
        let time = |per: f64| Interval {
            micros: (n * per).round() as i64,
            ..Default::default()
        };
        let add = match unit {
            "us" | "usec" | "usecs" | "microsecond" | "microseconds" => time(1.0),
            "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => time(1e3),
            "s" | "sec" | "secs" | "second" | "seconds" => time(1e6),
            "m" | "min" | "mins" | "minute" | "minutes" => time(6e7),
            "h" | "hr" | "hrs" | "hour" | "hours" => time(3.6e9),
            "d" | "day" | "days" => Interval {
                days: 1,
                ..Default::default()
            }
            .mul(n)?,
            "w" | "week" | "weeks" => Interval {
                days: 7,
                ..Default::default()
            }
            .mul(n)?,
            "mon" | "mons" | "month" | "months" => Interval {
                months: 1,
                ..Default::default()
            }
            .mul(n)?,
            "y" | "yr" | "yrs" | "year" | "years" => Interval {
                months: 12,
                ..Default::default()
            }
            .mul(n)?,
            "decade" | "decades" => Interval {
                months: 120,
                ..Default::default()
            }
            .mul(n)?,
            "century" | "centuries" => Interval {
                months: 1200,
                ..Default::default()
            }
            .mul(n)?,
            _ => return Err(bad(s)),
        };
        iv = iv.add(&add)?;
        any = true;
    }
    if !any {
        return Err(bad(s));
    }
    if ago {
        iv = iv.neg()?;
    }
    Ok(iv)
}

/// `[-]HH:MM[:SS[.frac]]` as microseconds.
fn parse_time_field(t: &str) -> Option<i64> {
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let mut it = t.split(':');
    let h: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let sec: f64 = match it.next() {
        Some(x) => x.parse().ok()?,
        None => 0.0,
    };
    if it.next().is_some() || m >= 60 || !(0.0..60.0).contains(&sec) {
        return None;
    }
    let v = h * USECS_PER_HOUR + m * 60_000_000 + (sec * 1e6).round() as i64;
    Some(if neg { -v } else { v })
}

fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .unwrap_or_default()
        .and_time(NaiveTime::MIN)
}

/// A timestamp (microseconds since 2000-01-01) plus an interval: months first (clamping
/// the day to the month's end, as PostgreSQL), then days, then time.
pub fn timestamp_plus(ts: i64, iv: &Interval) -> Result<i64> {
    let mut t = ts;
    if iv.months != 0 {
        let dt = epoch() + chrono::Duration::microseconds(ts);
        let moved = if iv.months > 0 {
            dt.checked_add_months(Months::new(iv.months as u32))
        } else {
            dt.checked_sub_months(Months::new(iv.months.unsigned_abs()))
        }
        .ok_or_else(|| err!(sqlstate::DATETIME_FIELD_OVERFLOW, "timestamp out of range"))?;
        t = (moved - epoch()).num_microseconds().ok_or_else(overflow)?;
    }
    t.checked_add(iv.days as i64 * USECS_PER_DAY)
        .and_then(|t| t.checked_add(iv.micros))
        .ok_or_else(|| err!(sqlstate::DATETIME_FIELD_OVERFLOW, "timestamp out of range"))
}

/// The difference of two timestamps as PostgreSQL's `timestamp - timestamp`: whole days
/// and the remaining time (no months).
pub fn timestamp_diff(a: i64, b: i64) -> Result<Interval> {
    let d = a.checked_sub(b).ok_or_else(overflow)?;
    Ok(Interval {
        months: 0,
        days: (d / USECS_PER_DAY) as i32,
        micros: d % USECS_PER_DAY,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        format_interval(&parse_interval(s).unwrap())
    }

    #[test]
    fn text_matches_postgres() {
        assert_eq!(
            p("1 year 2 months 3 days 4 hours 5 minutes 6.5 seconds"),
            "1 year 2 mons 3 days 04:05:06.5"
        );
        assert_eq!(p("-1 day"), "-1 days");
        assert_eq!(p("-01:00:00"), "-01:00:00");
        assert_eq!(p("25 hours"), "25:00:00");
        assert_eq!(p("0"), "00:00:00");
        assert_eq!(p("1.5 days"), "1 day 12:00:00");
        assert_eq!(p("1 day ago"), "-1 days");
        assert_eq!(p("90 minutes"), "01:30:00");
        assert_eq!(p("2 weeks"), "14 days");
        assert!(parse_interval("nonsense").is_err());
    }

    #[test]
    fn arithmetic_matches_postgres() {
        let jan31 = (NaiveDate::from_ymd_opt(2024, 1, 31)
            .unwrap()
            .and_time(NaiveTime::MIN)
            - epoch())
        .num_microseconds()
        .unwrap();
        let r = timestamp_plus(jan31, &parse_interval("1 month").unwrap()).unwrap();
        assert_eq!(super::super::format_timestamp(r), "2024-02-29 00:00:00");
        let iv = timestamp_diff(5 * USECS_PER_DAY + 12 * USECS_PER_HOUR, 0).unwrap();
        assert_eq!(format_interval(&iv), "5 days 12:00:00");
        assert_eq!(
            format_interval(&parse_interval("1 hour").unwrap().mul(2.5).unwrap()),
            "02:30:00"
        );
        assert_eq!(
            format_interval(&parse_interval("1 day").unwrap().mul(1.0 / 3.0).unwrap()),
            "08:00:00"
        );
    }
}
