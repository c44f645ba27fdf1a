//! Time-zone conversions of the SQL layer: `AT TIME ZONE` and `timezone(zone, ts)`,
//! `date_trunc(unit, timestamptz, zone)`, truncation of `timestamptz` in a zone, and
//! `generate_series` over timestamps.
//!
//! What this module owns: [`TzFn`], its name table ([`lookup`], consulted by
//! `functions::lookup`), argument types ([`arg_type`]) and evaluation ([`call`]); the
//! binding of `x AT TIME ZONE z` as the call `timezone(z, x)` ([`bind_expr`]), as
//! PostgreSQL's grammar does; [`trunc_in_zone`] (shared with the two-argument
//! `date_trunc`, which truncates in the session zone); and the rows of
//! `generate_series(timestamp[tz], timestamp[tz], interval)` ([`series`]).
//!
//! Zones themselves — the IANA database, POSIX specifications, abbreviations, DST
//! resolution — are `types::timezone`'s; this module only picks the zone a call names
//! and applies it.
//!
//! Invariants: a zone given as text is looked up as PostgreSQL's `timestamptz_zone`
//! does (abbreviation first, then zone name or POSIX specification) and an unknown one
//! fails with 22023 `time zone "…" not recognized`; a zone given as an interval is a
//! fixed offset east of UTC and must not hold months or days. `infinity` passes
//! through unchanged.
//!
//! What it must never do: convert with the session zone when the call names another,
//! or support `time with time zone` (tusk has no such type).
//!
//! One call, `SELECT timestamptz '2024-07-01 10:00+00' AT TIME ZONE 'Europe/Paris'`:
//! [`bind_expr`] binds `timezone('Europe/Paris', …)`; [`lookup`] types it
//! `timestamp` (the input is absolute time); [`call`] resolves the zone and asks it
//! for the local time of the instant: `2024-07-01 12:00:00`.

use super::plan::{Binder, Scope};
use super::ExecCtx;
use crate::err;
use crate::error::{sqlstate, Error, Result};
use crate::types::timezone::{self, Zone};
use crate::types::{self, format_interval, DataType, Interval, Value};
use sqlparser::ast;

/// A function of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TzFn {
    /// `timezone(zone, ts)` / `ts AT TIME ZONE zone`. The flags: the zone is an
    /// interval (not text); the input is `timestamptz` (not `timestamp`).
    AtZone {
        /// The zone argument is an interval.
        interval: bool,
        /// The converted value is a `timestamptz` (result: `timestamp`).
        from_tz: bool,
    },
    /// `date_trunc(unit, timestamptz, zone)`.
    DateTruncZone,
}

/// Resolves a name and argument types to a function of this module.
pub fn lookup(name: &str, arg_types: &[DataType]) -> Option<(TzFn, DataType)> {
    match (name, arg_types) {
        ("timezone", [zone, ts]) => {
            let interval = *zone == DataType::Interval;
            // An unknown literal or a date is read as timestamptz (the preferred type).
            let from_tz = *ts != DataType::Timestamp;
            let ty = if from_tz {
                DataType::Timestamp
            } else {
                DataType::TimestampTz
            };
            Some((TzFn::AtZone { interval, from_tz }, ty))
        }
        ("date_trunc", [_, _, _]) => Some((TzFn::DateTruncZone, DataType::TimestampTz)),
        _ => None,
    }
}

/// The type each argument is coerced to.
pub fn arg_type(f: TzFn, i: usize) -> Option<DataType> {
    Some(match (f, i) {
        (TzFn::AtZone { interval: true, .. }, 0) => DataType::Interval,
        (TzFn::AtZone { .. }, 0) => DataType::Text,
        (TzFn::AtZone { from_tz: true, .. }, _) => DataType::TimestampTz,
        (TzFn::AtZone { .. }, _) => DataType::Timestamp,
        (TzFn::DateTruncZone, 1) => DataType::TimestampTz,
        (TzFn::DateTruncZone, _) => DataType::Text,
    })
}

/// Binds `x AT TIME ZONE z` as `timezone(z, x)`; other expressions are not this
/// module's (`None`).
pub fn bind_expr(
    b: &mut Binder<'_>,
    e: &ast::Expr,
    scope: &Scope,
) -> Result<Option<super::expr::Expr>> {
    let ast::Expr::AtTimeZone {
        timestamp,
        time_zone,
    } = e
    else {
        return Ok(None);
    };
    let args = vec![(**time_zone).clone(), (**timestamp).clone()];
    let call = ast::Expr::Function(ast::Function {
        name: ast::ObjectName::from(vec![ast::Ident::new("timezone")]),
        uses_odbc_syntax: false,
        parameters: ast::FunctionArguments::None,
        args: ast::FunctionArguments::List(ast::FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|a| ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(a)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    });
    b.bind(&call, scope).map(Some)
}

/// The zone a text argument names, or PostgreSQL's 22023.
pub fn zone_named(name: &str) -> Result<Zone> {
    timezone::zone_argument(name).ok_or_else(|| {
        err!(
            sqlstate::INVALID_PARAMETER_VALUE,
            "time zone \"{name}\" not recognized"
        )
    })
}

/// The fixed zone an interval argument denotes (its time part, east of UTC).
fn zone_of_interval(iv: &Interval) -> Result<Zone> {
    if iv.months != 0 || iv.days != 0 {
        return Err(err!(
            sqlstate::INVALID_PARAMETER_VALUE,
            "interval time zone \"{}\" must not include months or days",
            format_interval(iv)
        ));
    }
    let secs = iv.micros / 1_000_000;
    i32::try_from(secs).map(Zone::fixed).map_err(|_| {
        err!(
            sqlstate::INVALID_PARAMETER_VALUE,
            "interval time zone \"{}\" must not include months or days",
            format_interval(iv)
        )
    })
}

/// Evaluates a function of this module (strict: NULL in, NULL out).
pub fn call(f: TzFn, args: Vec<Value>, _ty: DataType, cx: &mut ExecCtx<'_>) -> Result<Value> {
    if args.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let _ = cx;
    match f {
        TzFn::AtZone { .. } => {
            let zone = match &args[0] {
                Value::Interval(iv) => zone_of_interval(iv)?,
                v => zone_named(&text(v))?,
            };
            Ok(match &args[1] {
                Value::TimestampTz(t) => Value::Timestamp(zone.to_local(*t)),
                Value::Timestamp(t) => Value::TimestampTz(zone.local_to_utc(*t)),
                other => return Err(bad_arg(other)),
            })
        }
        TzFn::DateTruncZone => {
            let unit = text(&args[0]).to_ascii_lowercase();
            let zone = zone_named(&text(&args[2]))?;
            match &args[1] {
                Value::TimestampTz(t) => Ok(Value::TimestampTz(trunc_in_zone(&unit, *t, &zone)?)),
                other => Err(bad_arg(other)),
            }
        }
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        other => types::format_text(other, &types::FormatOptions::default()),
    }
}

fn bad_arg(v: &Value) -> Error {
    err!(
        sqlstate::UNDEFINED_FUNCTION,
        "function timezone(unknown, {}) does not exist",
        v.data_type().name()
    )
}

/// `date_trunc` of a `timestamptz` in `zone`, as PostgreSQL's
/// `timestamptz_trunc_internal`: the local time is truncated; for a day or longer the
/// offset is determined again for the truncated local time (midnight may have another
/// offset than the original instant), for shorter units the original offset is kept.
pub fn trunc_in_zone(unit: &str, t: i64, zone: &Zone) -> Result<i64> {
    if t == i64::MAX || t == i64::MIN {
        return Ok(t);
    }
    let off = zone.east_at(t) as i64 * 1_000_000;
    let local = t + off;
    let truncated = super::functions::trunc(unit, local).map_err(|e| {
        if e.code == sqlstate::FEATURE_NOT_SUPPORTED {
            err!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "unit \"{unit}\" not supported for type timestamp with time zone"
            )
        } else {
            e
        }
    })?;
    Ok(match unit {
        "microseconds" | "milliseconds" | "second" | "minute" | "hour" => truncated - off,
        _ => zone.local_to_utc(truncated),
    })
}

/// The column type of `generate_series(start, stop, step)` over timestamps: three
/// arguments, the step an interval (or an unknown literal beside a timestamp); the
/// series is `timestamp` when an end is, else `timestamptz` (dates and unknown literals
/// become `timestamptz`, PostgreSQL's preferred date/time type). `None` for other series.
pub fn series_type(types: &[DataType]) -> Option<DataType> {
    let [a, b, step] = types else {
        return None;
    };
    let ends = [*a, *b];
    let datetime = |t: DataType| {
        matches!(
            t,
            DataType::Timestamp | DataType::TimestampTz | DataType::Date | DataType::Unknown
        )
    };
    let any_ts = ends.iter().any(|t| {
        matches!(
            t,
            DataType::Timestamp | DataType::TimestampTz | DataType::Date
        )
    });
    if !ends.iter().all(|t| datetime(*t))
        || !(*step == DataType::Interval || (*step == DataType::Unknown && any_ts))
    {
        return None;
    }
    if ends
        .iter()
        .all(|t| matches!(t, DataType::Timestamp | DataType::Unknown))
        && ends.contains(&DataType::Timestamp)
    {
        Some(DataType::Timestamp)
    } else {
        Some(DataType::TimestampTz)
    }
}

/// The rows of `generate_series(start, stop, step)` over `timestamp` or `timestamptz`
/// (`ty`): a `timestamptz` series adds the step in the session zone, so `'1 day'`
/// keeps the wall-clock time across a DST change, as in PostgreSQL.
pub fn series(
    start: Value,
    stop: Value,
    step: Value,
    ty: DataType,
    cx: &mut ExecCtx<'_>,
) -> Result<Vec<Vec<Value>>> {
    let (Value::Timestamp(a) | Value::TimestampTz(a)) = start else {
        return Ok(vec![]);
    };
    let (Value::Timestamp(b) | Value::TimestampTz(b)) = stop else {
        return Ok(vec![]);
    };
    let Value::Interval(iv) = step else {
        return Ok(vec![]);
    };
    // PostgreSQL compares the step with a zero interval (30-day months, 24-hour days).
    let sign = (iv.months as i128 * 30 * 86_400_000_000
        + iv.days as i128 * 86_400_000_000
        + iv.micros as i128)
        .signum();
    if sign == 0 {
        return Err(err!(
            sqlstate::INVALID_PARAMETER_VALUE,
            "step size cannot equal zero"
        ));
    }
    let zone = cx.format_options().zone;
    let mut out = Vec::new();
    let mut cur = a;
    while (sign > 0 && cur <= b) || (sign < 0 && cur >= b) {
        if out.len() % 4096 == 0 {
            cx.check_interrupts()?;
        }
        if ty == DataType::TimestampTz {
            out.push(vec![Value::TimestampTz(cur)]);
            match timezone::timestamptz_plus(cur, iv.months, iv.days, iv.micros, &zone) {
                Some(n) => cur = n,
                None => break,
            }
        } else {
            out.push(vec![Value::Timestamp(cur)]);
            match types::timestamp_plus(cur, &iv) {
                Ok(n) => cur = n,
                Err(_) => break,
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(s: &str) -> i64 {
        types::parse_timestamp(s).unwrap()
    }

    #[test]
    fn truncation_redetermines_the_offset_for_days() {
        let paris = timezone::lookup("Europe/Paris").unwrap();
        // 2024-03-31 12:00 CEST (+02); midnight that day was still CET (+01).
        let t = paris.local_to_utc(local("2024-03-31 12:00"));
        let day = trunc_in_zone("day", t, &paris).unwrap();
        assert_eq!(day, local("2024-03-30 23:00"));
        let hour = trunc_in_zone("hour", t + 1_800_000_000, &paris).unwrap();
        assert_eq!(hour, t);
        let e = trunc_in_zone("fortnight", t, &paris).unwrap_err();
        assert_eq!(
            e.message,
            "unit \"fortnight\" not supported for type timestamp with time zone"
        );
    }

    #[test]
    fn interval_zones_are_fixed_offsets_east() {
        let z = zone_of_interval(&Interval {
            months: 0,
            days: 0,
            micros: -8 * 3_600_000_000,
        })
        .unwrap();
        assert_eq!(z.east_at(0), -8 * 3600);
        let e = zone_of_interval(&Interval {
            months: 0,
            days: 1,
            micros: 0,
        })
        .unwrap_err();
        assert_eq!(
            e.message,
            "interval time zone \"1 day\" must not include months or days"
        );
        assert_eq!(
            zone_named("Nowhere").unwrap_err().message,
            "time zone \"Nowhere\" not recognized"
        );
    }

    #[test]
    fn sessions_on_one_thread_keep_their_own_zones() {
        use super::super::tests::{db, q, session};
        let d = db("tz_sessions");
        let mut paris = session(&d.engine, "postgres");
        let mut utc = session(&d.engine, "postgres");
        q(&mut paris, "set time zone 'Europe/Paris'");
        q(&mut utc, "set time zone 'UTC'");
        let lit = "select timestamptz '2024-07-01 12:00' as t";
        // Each statement runs in its session's zone, however they interleave.
        assert_eq!(q(&mut paris, lit), "t\n2024-07-01 12:00:00+02\nSELECT 1");
        assert_eq!(q(&mut utc, lit), "t\n2024-07-01 12:00:00+00\nSELECT 1");
        assert_eq!(q(&mut paris, lit), "t\n2024-07-01 12:00:00+02\nSELECT 1");
        // A timestamptz parameter sent as text is read in the session zone.
        paris
            .parse(
                "",
                "select $1::timestamptz at time zone 'UTC' as u",
                &[1184],
            )
            .unwrap();
        paris
            .bind("", "", &[0], &[Some(b"2024-07-01 12:00".to_vec())], &[])
            .unwrap();
        let (rows, _) = paris.execute("", 0).unwrap();
        assert_eq!(
            rows,
            vec![vec![Value::Timestamp(
                types::parse_timestamp("2024-07-01 10:00").unwrap()
            )]]
        );
        paris.sync().unwrap();
    }
}
