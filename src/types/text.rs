//! PostgreSQL's text input and output functions for tusk's types.
//!
//! Output follows PostgreSQL 15 with its defaults (`DateStyle = ISO, MDY`,
//! `extra_float_digits = 1`, i.e. shortest round-trip floats); input accepts what the
//! corresponding `*in` functions accept for the common cases, with their error texts.

use super::datetime;
use super::{apply_typmod, DataType, Value};
use crate::error::{sqlstate, Result};
use crate::{bail, err};
use bigdecimal::BigDecimal;

/// Session-dependent output options.
#[derive(Debug, Clone, Default)]
pub struct FormatOptions {
    /// The session time zone (`TimeZone`), in which timestamptz values are shown.
    pub zone: super::timezone::Zone,
    /// `bytea_output = escape` (the default, `hex`, is `false`).
    pub bytea_escape: bool,
}

/// Formats a value in PostgreSQL's text output format. NULL formats as an empty string;
/// callers send NULL separately.
pub fn format_text(v: &Value, opts: &FormatOptions) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => if *b { "t" } else { "f" }.to_string(),
        Value::Int2(i) => i.to_string(),
        Value::Int4(i) => i.to_string(),
        Value::Int8(i) => i.to_string(),
        Value::Float4(f) => format_float4(*f),
        Value::Float8(f) => format_float8(*f),
        Value::Numeric(n) => n.to_plain_string(),
        Value::Text(s) => s.clone(),
        Value::Oid(o) => o.to_string(),
        Value::Timestamp(t) => datetime::format_timestamp(*t),
        Value::TimestampTz(t) => datetime::format_timestamptz(*t, &opts.zone),
        Value::Date(d) => datetime::format_date(*d),
        Value::Time(t) => super::time::format_time(*t),
        Value::TimeTz(t) => super::time::format_timetz(t),
        Value::Interval(i) => super::format_interval(i),
        Value::PgLsn(l) => format!("{:X}/{:X}", l >> 32, l & 0xFFFF_FFFF),
        Value::Bytea(b) => super::bytea::format_bytea(b, opts.bytea_escape),
        Value::Uuid(u) => super::bytea::format_uuid(u),
        Value::Json(s) => s.clone(),
        Value::Jsonb(j) => super::json::to_text(j),
        Value::TextArray(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|i| match i {
                    None => "NULL".to_string(),
                    Some(s) => quote_array_element(s),
                })
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => super::array::format_array(a, opts),
        Value::Enum(e) => e.label.clone(),
    }
}

/// Quotes an array element when PostgreSQL's `array_out` would.
fn quote_array_element(s: &str) -> String {
    let needs = s.is_empty()
        || s.eq_ignore_ascii_case("null")
        || s.chars()
            .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_whitespace());
    if !needs {
        return s.to_string();
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Formats a float8 as PostgreSQL 15 does with `extra_float_digits = 1`: the shortest
/// text that reads back exactly, in exponent form when the decimal exponent is below -4
/// or at least 15.
pub fn format_float8(f: f64) -> String {
    format_float(f, format!("{f:e}"), 15)
}

/// Formats a float4 as PostgreSQL 15 does (exponent form at or beyond 10^6 digits).
pub fn format_float4(f: f32) -> String {
    format_float(f as f64, format!("{f:e}"), 6)
}

fn format_float(f: f64, sci: String, max_exp: i32) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // `sci` is Rust's shortest round-trip form, e.g. "-1.2345e-7".
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if neg { "-" } else { "" };
    if exp < -4 || exp >= max_exp {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{esign}{:02}", exp.abs())
    } else if exp < 0 {
        format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize))
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            format!("{sign}{digits}{}", "0".repeat(int_len - digits.len()))
        } else {
            format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
        }
    }
}

fn invalid(t: &str, s: &str) -> crate::error::Error {
    err!(
        sqlstate::INVALID_TEXT_REPRESENTATION,
        "invalid input syntax for type {t}: \"{s}\""
    )
}

/// The usual integer input — an optional minus and at most 18 digits, nothing around
/// them — read without the general path's trimming and checks (every integer field of
/// a COPY comes here). None for anything else, which the general path reads or rejects
/// with its error: other types, spaces, a plus sign, more digits, a value out of the
/// type's range.
fn plain_integer(t: DataType, s: &str) -> Option<Value> {
    if !matches!(t, DataType::Int2 | DataType::Int4 | DataType::Int8) {
        return None;
    }
    let (negative, digits) = match s.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        all => (false, all),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0i64, |n, &b| n * 10 + i64::from(b - b'0'));
    let n = if negative { -n } else { n };
    match t {
        DataType::Int2 => i16::try_from(n).ok().map(Value::Int2),
        DataType::Int4 => i32::try_from(n).ok().map(Value::Int4),
        _ => Some(Value::Int8(n)),
    }
}

/// Parses text into a value of type `t` (PostgreSQL's input functions), applying
/// `typmod` for numeric.
pub fn parse_text(t: DataType, typmod: i32, s: &str) -> Result<Value> {
    if let Some(v) = plain_integer(t, s) {
        return Ok(v);
    }
    let trimmed = s.trim();
    Ok(match t {
        DataType::Bool => match trimmed.to_ascii_lowercase().as_str() {
            "t" | "tr" | "tru" | "true" | "y" | "ye" | "yes" | "on" | "1" => Value::Bool(true),
            "f" | "fa" | "fal" | "fals" | "false" | "n" | "no" | "of" | "off" | "0" => {
                Value::Bool(false)
            }
            _ => return Err(invalid("boolean", s)),
        },
        DataType::Int2 | DataType::Int4 | DataType::Int8 | DataType::Oid => {
            let name = match t {
                DataType::Int2 => "smallint",
                DataType::Int4 => "integer",
                DataType::Oid => "oid",
                _ => "bigint",
            };
            let valid = {
                let body = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
                !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit())
            };
            if !valid {
                return Err(invalid(name, s));
            }
            let range = || {
                err!(
                    sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                    "value \"{s}\" is out of range for type {name}"
                )
            };
            // Up to 18 digits fit an i64 whatever they are: summed directly (the
            // common case, every COPY of integers); longer ones go through i128.
            let digits = trimmed.trim_start_matches(['+', '-']);
            let v: i128 = if digits.len() <= 18 {
                let n = digits
                    .bytes()
                    .fold(0i64, |n, b| n * 10 + i64::from(b - b'0'));
                i128::from(if trimmed.starts_with('-') { -n } else { n })
            } else {
                trimmed.parse().map_err(|_| range())?
            };
            match t {
                DataType::Int2 => Value::Int2(i16::try_from(v).map_err(|_| range())?),
                DataType::Int4 => Value::Int4(i32::try_from(v).map_err(|_| range())?),
                // oidin takes -2^31..-1 too, as the unsigned values they wrap to.
                DataType::Oid if (-(1i128 << 31)..0).contains(&v) => {
                    Value::Oid((v + (1i128 << 32)) as u32)
                }
                DataType::Oid => Value::Oid(u32::try_from(v).map_err(|_| range())?),
                _ => Value::Int8(i64::try_from(v).map_err(|_| range())?),
            }
        }
        DataType::Float4 | DataType::Float8 => {
            let name = t.name();
            let f = parse_float(trimmed).ok_or_else(|| invalid(name, s))?;
            if t == DataType::Float4 {
                let r = f as f32;
                if (r.is_infinite() && !f.is_infinite()) || (r == 0.0 && f != 0.0) {
                    bail!(
                        sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                        "\"{s}\" is out of range for type real"
                    );
                }
                Value::Float4(r)
            } else {
                if f.is_infinite() && !trimmed.to_ascii_lowercase().contains("inf") {
                    bail!(
                        sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                        "\"{s}\" is out of range for type double precision"
                    );
                }
                Value::Float8(f)
            }
        }
        DataType::Numeric => {
            let ok = !trimmed.is_empty()
                && trimmed
                    .bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
                && trimmed.bytes().any(|b| b.is_ascii_digit());
            let n: BigDecimal = if ok {
                trimmed.parse().map_err(|_| invalid("numeric", s))?
            } else {
                return Err(invalid("numeric", s));
            };
            // PostgreSQL's numeric holds at most 131072 digits before the point and
            // 16383 after it; refuse absurd exponents before expanding them.
            let scale = n.fractional_digit_count();
            if !(-131072..=16383).contains(&scale) || n.order_of_magnitude() > 131072 {
                bail!(
                    sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                    "value overflows numeric format"
                );
            }
            // A plain "1e3" has a negative scale in BigDecimal; PostgreSQL prints 1000.
            let n = if n.fractional_digit_count() < 0 {
                n.with_scale(0)
            } else {
                n
            };
            Value::numeric(apply_typmod(n, typmod)?)
        }
        DataType::Char => Value::Text(super::pg_char::from_text(s)),
        DataType::Text
        | DataType::Varchar
        | DataType::Bpchar
        | DataType::Name
        | DataType::Unknown => Value::Text(s.to_string()),
        DataType::Timestamp => Value::Timestamp(datetime::parse_timestamp(s)?),
        DataType::TimestampTz => Value::TimestampTz(datetime::parse_timestamptz(
            s,
            &super::timezone::current_zone(),
        )?),
        DataType::Date => Value::Date(datetime::parse_date(s)?),
        DataType::Time => Value::Time(super::time::parse_time(s, typmod, 0)?),
        // A timetz literal without a zone takes the session zone's offset now.
        DataType::TimeTz => Value::TimeTz(super::time::parse_timetz(
            s,
            typmod,
            super::timezone::current_zone().east_at(super::now_micros()),
        )?),
        DataType::Interval => Value::Interval(super::parse_interval(s)?),
        DataType::PgLsn => {
            let (hi, lo) = trimmed
                .split_once('/')
                .ok_or_else(|| invalid("pg_lsn", s))?;
            let ok = |p: &str| !p.is_empty() && p.len() <= 8;
            if !ok(hi) || !ok(lo) {
                return Err(invalid("pg_lsn", s));
            }
            let hi = u32::from_str_radix(hi, 16).map_err(|_| invalid("pg_lsn", s))?;
            let lo = u32::from_str_radix(lo, 16).map_err(|_| invalid("pg_lsn", s))?;
            Value::PgLsn(((hi as u64) << 32) | lo as u64)
        }
        DataType::TextArray => super::array::parse_array(DataType::Text, s)?,
        DataType::Array(e) => super::array::parse_array(super::array::elem_from_oid(e), s)?,
        DataType::Int2Vector | DataType::OidVector => super::array::parse_vector(t, s)?,
        DataType::Enum(o) => super::enum_io::parse_enum(o, s)?,
        DataType::Void => Value::Null,
        DataType::Bytea => Value::Bytea(super::bytea::parse_bytea(s)?),
        DataType::Uuid => Value::Uuid(super::bytea::parse_uuid(trimmed)?),
        DataType::Json => {
            super::json::parse(s)?;
            Value::Json(s.to_string())
        }
        DataType::Jsonb => Value::jsonb(super::json::parse_jsonb(s)?),
    })
}

/// Parses a float the way `float8in` does (accepting NaN and infinities).
fn parse_float(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "nan" => return Some(f64::NAN),
        "infinity" | "+infinity" | "inf" | "+inf" => return Some(f64::INFINITY),
        "-infinity" | "-inf" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
    {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_postgres() {
        assert_eq!(format_float8(0.1), "0.1");
        assert_eq!(format_float8(1.0), "1");
        assert_eq!(format_float8(100.0), "100");
        assert_eq!(format_float8(1e15), "1e+15");
        assert_eq!(format_float8(123456789012345.0), "123456789012345");
        assert_eq!(format_float8(0.0001), "0.0001");
        assert_eq!(format_float8(0.00001), "1e-05");
        assert_eq!(format_float8(-2.5e-10), "-2.5e-10");
        assert_eq!(format_float8(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(format_float4(1.0 / 3.0), "0.33333334");
        assert_eq!(format_float4(1e6), "1e+06");
        assert_eq!(format_float8(f64::INFINITY), "Infinity");
    }

    #[test]
    fn input_errors_match_postgres() {
        let e = parse_text(DataType::Int4, -1, "abc").unwrap_err();
        assert_eq!(e.message, "invalid input syntax for type integer: \"abc\"");
        assert_eq!(e.code, "22P02");
        assert_eq!(
            parse_text(DataType::Numeric, -1, "1e999999999")
                .unwrap_err()
                .code,
            "22003"
        );
        let e = parse_text(DataType::Int4, -1, "99999999999").unwrap_err();
        assert_eq!(
            e.message,
            "value \"99999999999\" is out of range for type integer"
        );
        // Integers: the short path (up to 18 digits) and the long one agree at the edges.
        let int8 = |s: &str| parse_text(DataType::Int8, -1, s).map_err(|e| e.message);
        assert_eq!(int8(" -42 "), Ok(Value::Int8(-42)));
        assert_eq!(int8("+7"), Ok(Value::Int8(7)));
        assert_eq!(int8("-0"), Ok(Value::Int8(0)));
        assert_eq!(
            int8("999999999999999999"),
            Ok(Value::Int8(999_999_999_999_999_999))
        );
        assert_eq!(int8("-9223372036854775808"), Ok(Value::Int8(i64::MIN)));
        assert_eq!(int8("00000000000000000000042"), Ok(Value::Int8(42)));
        assert_eq!(
            int8("9223372036854775808"),
            Err("value \"9223372036854775808\" is out of range for type bigint".into())
        );
        assert_eq!(
            parse_text(DataType::Int2, -1, "-32768").unwrap(),
            Value::Int2(i16::MIN)
        );
        assert!(parse_text(DataType::Int2, -1, "32768").is_err());
        assert!(parse_text(DataType::Int4, -1, "--1").is_err());
        // The plain form's edges: the type's range, a lone sign, nothing at all.
        let int4 = |s: &str| parse_text(DataType::Int4, -1, s).map_err(|e| e.message);
        assert_eq!(int4("-2147483648"), Ok(Value::Int4(i32::MIN)));
        assert_eq!(
            int4("2147483648"),
            Err("value \"2147483648\" is out of range for type integer".into())
        );
        assert_eq!(
            int4("-"),
            Err("invalid input syntax for type integer: \"-\"".into())
        );
        assert_eq!(
            int4(""),
            Err("invalid input syntax for type integer: \"\"".into())
        );
        assert_eq!(
            parse_text(DataType::Int2, -1, "32768").map_err(|e| e.message),
            Err("value \"32768\" is out of range for type smallint".into())
        );
        assert_eq!(
            parse_text(DataType::Bool, -1, " yes ").unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            parse_text(DataType::PgLsn, -1, "0/16B3748").unwrap(),
            Value::PgLsn(0x16B3748)
        );
        assert_eq!(
            format_text(&Value::PgLsn(0x1_0000_00AB), &FormatOptions::default()),
            "1/AB"
        );
    }
}
