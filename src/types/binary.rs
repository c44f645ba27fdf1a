//! PostgreSQL's binary send/receive formats (big-endian, as `*send`/`*recv`).

use super::{parse_text, DataType, Value};
use crate::error::{sqlstate, Error, Result};
use crate::{bail, err};
use bigdecimal::{BigDecimal, Signed};

/// Encodes a non-NULL value of type `ty` in PostgreSQL's binary format: as
/// [`encode_binary`], but a `"char"` (held as text) is its one byte, and so are the
/// elements of a `"char"[]`.
pub fn encode_binary_as(v: &Value, ty: DataType) -> Vec<u8> {
    match (v, ty) {
        (Value::Text(s), DataType::Char) => vec![super::pg_char::to_byte(s)],
        _ => encode_binary(v),
    }
}

/// Encodes a non-NULL value in PostgreSQL's binary format (NULL encodes as nothing).
pub fn encode_binary(v: &Value) -> Vec<u8> {
    match v {
        Value::Null => vec![],
        Value::Bool(b) => vec![*b as u8],
        Value::Int2(i) => i.to_be_bytes().to_vec(),
        Value::Int4(i) => i.to_be_bytes().to_vec(),
        Value::Int8(i) => i.to_be_bytes().to_vec(),
        Value::Float4(f) => f.to_bits().to_be_bytes().to_vec(),
        Value::Float8(f) => f.to_bits().to_be_bytes().to_vec(),
        Value::Numeric(n) => numeric_send(n),
        Value::Text(s) => s.as_bytes().to_vec(),
        Value::Oid(o) => o.to_be_bytes().to_vec(),
        Value::Timestamp(t) | Value::TimestampTz(t) => t.to_be_bytes().to_vec(),
        Value::Date(d) => d.to_be_bytes().to_vec(),
        Value::Time(t) => t.to_be_bytes().to_vec(),
        Value::TimeTz(t) => {
            let mut out = t.micros.to_be_bytes().to_vec();
            out.extend_from_slice(&t.zone.to_be_bytes());
            out
        }
        Value::Interval(i) => {
            let mut out = i.micros.to_be_bytes().to_vec();
            out.extend_from_slice(&i.days.to_be_bytes());
            out.extend_from_slice(&i.months.to_be_bytes());
            out
        }
        Value::PgLsn(l) => l.to_be_bytes().to_vec(),
        Value::Bytea(b) => b.clone(),
        Value::Uuid(u) => u.to_vec(),
        Value::Json(s) => s.as_bytes().to_vec(),
        // jsonb's binary format: version 1, then the text.
        Value::Jsonb(j) => {
            let mut out = vec![1u8];
            out.extend_from_slice(super::json::to_text(j).as_bytes());
            out
        }
        Value::TextArray(_) => super::array::ArrayValue::from_value(v)
            .map(|a| super::array::encode_array_binary(&a))
            .unwrap_or_default(),
        Value::Array(a) => super::array::encode_array_binary(a),
        Value::Enum(e) => e.label.as_bytes().to_vec(),
    }
}

fn numeric_send(n: &BigDecimal) -> Vec<u8> {
    let dscale = n.fractional_digit_count().max(0);
    let plain = n.abs().with_scale(dscale).to_plain_string();
    let (int_part, frac_part) = plain.split_once('.').unwrap_or((&plain, ""));
    let int_part = int_part.trim_start_matches('0');
    // Integer part grouped from the right, fraction part from the left.
    let pad = (4 - int_part.len() % 4) % 4;
    let int_padded = format!("{}{}", "0".repeat(pad), int_part);
    let fpad = (4 - frac_part.len() % 4) % 4;
    let frac_padded = format!("{}{}", frac_part, "0".repeat(fpad));
    let mut digits: Vec<i16> = Vec::new();
    for chunk in int_padded.as_bytes().chunks(4) {
        digits.push(
            std::str::from_utf8(chunk)
                .unwrap_or("0")
                .parse()
                .unwrap_or(0),
        );
    }
    let mut weight = digits.len() as i32 - 1;
    for chunk in frac_padded.as_bytes().chunks(4) {
        digits.push(
            std::str::from_utf8(chunk)
                .unwrap_or("0")
                .parse()
                .unwrap_or(0),
        );
    }
    while digits.first() == Some(&0) {
        digits.remove(0);
        weight -= 1;
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }
    if digits.is_empty() {
        weight = 0;
    }
    let sign: u16 = if n.is_negative() { 0x4000 } else { 0 };
    let mut out = Vec::with_capacity(8 + digits.len() * 2);
    out.extend_from_slice(&(digits.len() as i16).to_be_bytes());
    out.extend_from_slice(&(weight as i16).to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&(dscale as u16).to_be_bytes());
    for d in digits {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out
}

fn bad_binary() -> Error {
    err!(
        sqlstate::INVALID_BINARY_REPRESENTATION,
        "incorrect binary data format in bind parameter"
    )
}

fn fixed<const N: usize>(b: &[u8]) -> Result<[u8; N]> {
    b.try_into().map_err(|_| bad_binary())
}

/// Decodes a parameter sent in binary format for type `t`.
pub fn decode_binary(t: DataType, b: &[u8]) -> Result<Value> {
    Ok(match t {
        DataType::Bool => Value::Bool(fixed::<1>(b)?[0] != 0),
        DataType::Int2 => Value::Int2(i16::from_be_bytes(fixed(b)?)),
        DataType::Int4 => Value::Int4(i32::from_be_bytes(fixed(b)?)),
        DataType::Int8 => Value::Int8(i64::from_be_bytes(fixed(b)?)),
        DataType::Oid => Value::Oid(u32::from_be_bytes(fixed(b)?)),
        DataType::Float4 => Value::Float4(f32::from_bits(u32::from_be_bytes(fixed(b)?))),
        DataType::Float8 => Value::Float8(f64::from_bits(u64::from_be_bytes(fixed(b)?))),
        DataType::Timestamp => Value::Timestamp(i64::from_be_bytes(fixed(b)?)),
        DataType::TimestampTz => Value::TimestampTz(i64::from_be_bytes(fixed(b)?)),
        DataType::Date => Value::Date(i32::from_be_bytes(fixed(b)?)),
        DataType::Time => Value::Time(super::time::time_recv(i64::from_be_bytes(fixed(b)?))?),
        DataType::TimeTz => {
            let b: [u8; 12] = fixed(b)?;
            Value::TimeTz(super::time::timetz_recv(
                i64::from_be_bytes(b[0..8].try_into().unwrap_or_default()),
                i32::from_be_bytes(b[8..12].try_into().unwrap_or_default()),
            )?)
        }
        DataType::Interval => {
            let b: [u8; 16] = fixed(b)?;
            Value::Interval(super::Interval {
                micros: i64::from_be_bytes(b[0..8].try_into().unwrap_or_default()),
                days: i32::from_be_bytes(b[8..12].try_into().unwrap_or_default()),
                months: i32::from_be_bytes(b[12..16].try_into().unwrap_or_default()),
            })
        }
        DataType::PgLsn => Value::PgLsn(u64::from_be_bytes(fixed(b)?)),
        DataType::Numeric => {
            if b.len() < 8 {
                return Err(bad_binary());
            }
            let nd = u16::from_be_bytes([b[0], b[1]]) as usize;
            let weight = i16::from_be_bytes([b[2], b[3]]) as i64;
            let sign = u16::from_be_bytes([b[4], b[5]]);
            let dscale = u16::from_be_bytes([b[6], b[7]]) as i64;
            if b.len() != 8 + nd * 2 {
                return Err(bad_binary());
            }
            let mut s = String::new();
            for i in 0..nd {
                let d = i16::from_be_bytes([b[8 + 2 * i], b[9 + 2 * i]]);
                if !(0..10000).contains(&d) {
                    return Err(bad_binary());
                }
                s.push_str(&format!("{d:04}"));
            }
            if s.is_empty() {
                s.push('0');
            }
            let digits: BigDecimal = s.parse().map_err(|_| bad_binary())?;
            // s holds digits of weights weight..weight-nd+1, i.e. value = s * 10^(4*(weight-nd+1)).
            let exp = 4 * (weight - nd as i64 + 1);
            let (bi, sc) = digits.as_bigint_and_exponent();
            let mut v = BigDecimal::new(bi, sc - exp).with_scale(dscale);
            if sign == 0x4000 {
                v = -v;
            } else if sign != 0 {
                bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "numeric NaN is not supported"
                );
            }
            Value::numeric(v)
        }
        DataType::Char => match b {
            [byte] => Value::Text(super::pg_char::from_byte(*byte)),
            _ => return Err(bad_binary()),
        },
        DataType::Text
        | DataType::Varchar
        | DataType::Bpchar
        | DataType::Name
        | DataType::Unknown => Value::Text(String::from_utf8(b.to_vec()).map_err(|_| {
            err!(
                sqlstate::CHARACTER_NOT_IN_REPERTOIRE,
                "invalid byte sequence for encoding \"UTF8\""
            )
        })?),
        DataType::TextArray => super::array::decode_array_binary(DataType::Text, b)?,
        DataType::Array(e) => super::array::decode_array_binary(super::array::elem_from_oid(e), b)?,
        DataType::Int2Vector | DataType::OidVector => super::array::as_vector(
            t,
            super::array::decode_array_binary(super::array::vector_elem(t), b)?,
        ),
        DataType::Enum(o) => super::enum_io::parse_enum(
            o,
            std::str::from_utf8(b).map_err(|_| {
                err!(
                    sqlstate::CHARACTER_NOT_IN_REPERTOIRE,
                    "invalid byte sequence for encoding \"UTF8\""
                )
            })?,
        )?,
        DataType::Void => Value::Null,
        DataType::Bytea => Value::Bytea(b.to_vec()),
        DataType::Uuid => Value::Uuid(fixed(b)?),
        DataType::Json | DataType::Jsonb => {
            let body = if t == DataType::Jsonb {
                match b.split_first() {
                    Some((1, rest)) => rest,
                    Some((v, _)) => bail!(
                        sqlstate::INVALID_BINARY_REPRESENTATION,
                        "unsupported jsonb version number {v}"
                    ),
                    None => return Err(bad_binary()),
                }
            } else {
                b
            };
            let s = std::str::from_utf8(body).map_err(|_| bad_binary())?;
            parse_text(t, -1, s)?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_binary_round_trips() {
        for s in [
            "0",
            "1",
            "-12345.678",
            "0.0001",
            "10000",
            "123456789.00",
            "-0.5",
        ] {
            let n: BigDecimal = s.parse().unwrap();
            let b = encode_binary(&Value::numeric(n.clone()));
            let back = decode_binary(DataType::Numeric, &b).unwrap();
            assert_eq!(back, Value::numeric(n.clone()), "{s}");
            if let Value::Numeric(m) = back {
                assert_eq!(m.to_plain_string(), n.to_plain_string());
            }
        }
        // 12345.678 is digits [1, 2345, 6780], weight 1, dscale 3.
        let b = encode_binary(&Value::numeric("12345.678".parse().unwrap()));
        assert_eq!(
            b,
            vec![0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c]
        );
    }

    #[test]
    fn short_binary_is_an_error() {
        assert!(decode_binary(DataType::Int4, &[0, 1]).is_err());
    }
}
