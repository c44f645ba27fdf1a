//! String and math built-ins beyond `functions.rs`' first few: `split_part`,
//! `lpad`/`rpad`, `initcap`, `translate`, `chr`/`ascii`, the `quote_*` functions,
//! `starts_with`, `encode`/`decode`, `sha224…512`, `to_hex`, `octet_length`,
//! `bit_length`, `format`; and `div`, `mod`, `power`, `sqrt`, `cbrt`, `exp`, `ln`,
//! `log`, `log10`, `ceil`/`floor`/`trunc`, `sign`, `pi`, `random`, `gcd`, `lcm`,
//! `width_bucket`, `factorial`, `scale`/`min_scale`/`trim_scale` and the
//! trigonometric functions.
//!
//! What this module owns: [`StrFn`], its name table ([`lookup`], consulted by
//! `functions::lookup` before the older table), argument types ([`arg_type`]) and
//! evaluation ([`call`]); and the binding of `CEIL(x)` / `FLOOR(x)` / `OVERLAY(…)`,
//! which sqlparser parses as expressions of their own ([`bind_expr`]).
//!
//! Invariants: every function is strict (NULL in, NULL out) except `format` and
//! `quote_nullable`, as in PostgreSQL; the result type decided by [`lookup`] is the
//! type [`call`] returns; float results go through [`float_result`], so an overflow is
//! PostgreSQL's 22003, never `inf`.
//!
//! What it must never do: answer with different digits than PostgreSQL. The
//! functions on `numeric` compute in decimal with PostgreSQL's result scales
//! ([`crate::types::numeric_math`]), never through `f64`.
//!
//! One call's trip, `SELECT lpad(code, 5, '0') FROM t`: the binder finds
//! `StrFn::Lpad` (text) here, coerces the arguments to text, int, text
//! ([`arg_type`]); per row [`call`] pads by characters, not bytes.

use super::expr::Expr;
use super::plan::{Binder, Scope};
use super::ExecCtx;
use crate::error::{sqlstate, Error, Result};
use crate::types::{self, numeric_math as nm, DataType, Value};
use crate::{bail, err};
use bigdecimal::{BigDecimal, RoundingMode};
use sqlparser::ast;

/// A string or math function of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrFn {
    /// `split_part(text, delimiter, n)`.
    SplitPart,
    /// `lpad(text, length [, fill])`.
    Lpad,
    /// `rpad(text, length [, fill])`.
    Rpad,
    /// `initcap(text)`.
    Initcap,
    /// `translate(text, from, to)`.
    Translate,
    /// `chr(int)`.
    Chr,
    /// `ascii(text)`.
    Ascii,
    /// `quote_ident(text)`.
    QuoteIdent,
    /// `quote_literal(text)`.
    QuoteLiteral,
    /// `quote_nullable(text)`.
    QuoteNullable,
    /// `starts_with(text, prefix)`.
    StartsWith,
    /// `encode(bytea, format)`.
    Encode,
    /// `decode(text, format)`.
    Decode,
    /// `sha224`/`sha256`/`sha384`/`sha512(bytea)` by digest bits.
    Sha(u16),
    /// `to_hex(int|bigint)`.
    ToHex,
    /// `octet_length(text)`.
    OctetLength,
    /// `bit_length(text)`.
    BitLength,
    /// `overlay(text placing text from int [for int])`.
    Overlay,
    /// `format(fmt, args…)`.
    Format,
    /// `div(numeric, numeric)`.
    Div,
    /// `mod(a, b)`.
    Mod,
    /// `power(a, b)` / `pow`.
    Power,
    /// A float8 function of one argument.
    Float1(F1),
    /// `atan2(y, x)` (and `atan2d`).
    Atan2(bool),
    /// `log(b, x)` on numeric.
    LogBase,
    /// `ceil` / `ceiling`.
    Ceil,
    /// `floor`.
    Floor,
    /// `trunc(x [, scale])`.
    Trunc,
    /// `sign(x)`.
    Sign,
    /// `pi()`.
    Pi,
    /// `random()`.
    Random,
    /// `gcd(a, b)`.
    Gcd,
    /// `lcm(a, b)`.
    Lcm,
    /// `width_bucket(x, low, high, count)` on double precision.
    WidthBucket,
    /// `width_bucket(x, low, high, count)` on numeric.
    WidthBucketNumeric,
    /// `factorial(bigint)`.
    Factorial,
    /// `scale(numeric)`.
    Scale,
    /// `min_scale(numeric)`.
    MinScale,
    /// `trim_scale(numeric)`.
    TrimScale,
}

/// The float8 functions of one argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum F1 {
    Sqrt,
    Cbrt,
    Exp,
    Ln,
    Log10,
    Sin,
    Cos,
    Tan,
    Cot,
    Asin,
    Acos,
    Atan,
    Sind,
    Cosd,
    Tand,
    Asind,
    Acosd,
    Atand,
    Sinh,
    Cosh,
    Tanh,
    Asinh,
    Acosh,
    Atanh,
    Degrees,
    Radians,
}

/// The numeric result type of a math function over `t`: integers and floats compute
/// in float8, numeric stays numeric.
fn float_or_numeric(t: DataType) -> DataType {
    if t == DataType::Numeric {
        DataType::Numeric
    } else {
        DataType::Float8
    }
}

/// Resolves a function name and argument types to one of this module's functions.
pub fn lookup(name: &str, types: &[DataType]) -> Option<(StrFn, DataType)> {
    use DataType as T;
    let first = types.first().copied().unwrap_or(T::Unknown);
    let second = types.get(1).copied().unwrap_or(T::Unknown);
    let numeric_or = |t: DataType| t.is_numeric() || t == T::Unknown;
    let any_numeric = types.contains(&T::Numeric);
    let f1 = |f: F1| Some((StrFn::Float1(f), T::Float8));
    let r = match (name, types.len()) {
        ("split_part", 3) => (StrFn::SplitPart, T::Text),
        ("lpad", 2 | 3) => (StrFn::Lpad, T::Text),
        ("rpad", 2 | 3) => (StrFn::Rpad, T::Text),
        ("initcap", 1) => (StrFn::Initcap, T::Text),
        ("translate", 3) => (StrFn::Translate, T::Text),
        ("chr", 1) => (StrFn::Chr, T::Text),
        ("ascii", 1) => (StrFn::Ascii, T::Int4),
        ("quote_ident", 1) => (StrFn::QuoteIdent, T::Text),
        ("quote_literal", 1) => (StrFn::QuoteLiteral, T::Text),
        ("quote_nullable", 1) => (StrFn::QuoteNullable, T::Text),
        ("starts_with", 2) => (StrFn::StartsWith, T::Bool),
        ("encode", 2) if first == T::Bytea || first == T::Unknown => (StrFn::Encode, T::Text),
        ("decode", 2) => (StrFn::Decode, T::Bytea),
        ("sha224", 1) => (StrFn::Sha(224), T::Bytea),
        ("sha256", 1) => (StrFn::Sha(256), T::Bytea),
        ("sha384", 1) => (StrFn::Sha(384), T::Bytea),
        ("sha512", 1) => (StrFn::Sha(512), T::Bytea),
        ("to_hex", 1) if first.is_integer() => (StrFn::ToHex, T::Text),
        ("octet_length", 1) if first != T::Bytea => (StrFn::OctetLength, T::Int4),
        ("bit_length", 1) if first != T::Bytea => (StrFn::BitLength, T::Int4),
        ("overlay", 3 | 4) => (StrFn::Overlay, T::Text),
        ("format", 1..) => (StrFn::Format, T::Text),
        ("div", 2) if numeric_or(first) && numeric_or(second) => (StrFn::Div, T::Numeric),
        ("mod", 2) if numeric_or(first) && numeric_or(second) => {
            let t = if any_numeric || types.iter().any(|t| matches!(t, T::Float4 | T::Float8)) {
                T::Numeric
            } else if types.contains(&T::Int8) {
                T::Int8
            } else if types.iter().all(|t| *t == T::Int2) {
                T::Int2
            } else {
                T::Int4
            };
            (StrFn::Mod, t)
        }
        ("power" | "pow", 2) if numeric_or(first) && numeric_or(second) => (
            StrFn::Power,
            if any_numeric && !types.iter().any(|t| matches!(t, T::Float4 | T::Float8)) {
                T::Numeric
            } else {
                T::Float8
            },
        ),
        ("sqrt", 1) if numeric_or(first) => (StrFn::Float1(F1::Sqrt), float_or_numeric(first)),
        ("exp", 1) if numeric_or(first) => (StrFn::Float1(F1::Exp), float_or_numeric(first)),
        ("ln", 1) if numeric_or(first) => (StrFn::Float1(F1::Ln), float_or_numeric(first)),
        ("log" | "log10", 1) if numeric_or(first) => {
            (StrFn::Float1(F1::Log10), float_or_numeric(first))
        }
        ("log", 2) if numeric_or(first) && numeric_or(second) => (StrFn::LogBase, T::Numeric),
        ("cbrt", 1) => return f1(F1::Cbrt),
        ("sin", 1) => return f1(F1::Sin),
        ("cos", 1) => return f1(F1::Cos),
        ("tan", 1) => return f1(F1::Tan),
        ("cot", 1) => return f1(F1::Cot),
        ("asin", 1) => return f1(F1::Asin),
        ("acos", 1) => return f1(F1::Acos),
        ("atan", 1) => return f1(F1::Atan),
        ("sind", 1) => return f1(F1::Sind),
        ("cosd", 1) => return f1(F1::Cosd),
        ("tand", 1) => return f1(F1::Tand),
        ("asind", 1) => return f1(F1::Asind),
        ("acosd", 1) => return f1(F1::Acosd),
        ("atand", 1) => return f1(F1::Atand),
        ("sinh", 1) => return f1(F1::Sinh),
        ("cosh", 1) => return f1(F1::Cosh),
        ("tanh", 1) => return f1(F1::Tanh),
        ("asinh", 1) => return f1(F1::Asinh),
        ("acosh", 1) => return f1(F1::Acosh),
        ("atanh", 1) => return f1(F1::Atanh),
        ("degrees", 1) => return f1(F1::Degrees),
        ("radians", 1) => return f1(F1::Radians),
        ("atan2", 2) => (StrFn::Atan2(false), T::Float8),
        ("atan2d", 2) => (StrFn::Atan2(true), T::Float8),
        ("ceil" | "ceiling", 1) if numeric_or(first) => (StrFn::Ceil, float_or_numeric(first)),
        ("floor", 1) if numeric_or(first) => (StrFn::Floor, float_or_numeric(first)),
        ("trunc", 1) if numeric_or(first) => (StrFn::Trunc, float_or_numeric(first)),
        ("trunc", 2) if numeric_or(first) => (StrFn::Trunc, T::Numeric),
        ("sign", 1) if numeric_or(first) => (StrFn::Sign, float_or_numeric(first)),
        ("pi", 0) => (StrFn::Pi, T::Float8),
        ("random", 0) => (StrFn::Random, T::Float8),
        ("gcd" | "lcm", 2) if numeric_or(first) && numeric_or(second) => {
            let t = if any_numeric || types.iter().any(|t| matches!(t, T::Float4 | T::Float8)) {
                T::Numeric
            } else if types.contains(&T::Int8) {
                T::Int8
            } else {
                T::Int4
            };
            let f = if name == "gcd" {
                StrFn::Gcd
            } else {
                StrFn::Lcm
            };
            (f, t)
        }
        ("width_bucket", 4)
            if types[..3].contains(&T::Numeric)
                && !types[..3]
                    .iter()
                    .any(|t| matches!(t, T::Float4 | T::Float8)) =>
        {
            (StrFn::WidthBucketNumeric, T::Int4)
        }
        ("width_bucket", 4) => (StrFn::WidthBucket, T::Int4),
        ("factorial", 1) => (StrFn::Factorial, T::Numeric),
        ("scale", 1) if numeric_or(first) => (StrFn::Scale, T::Int4),
        ("min_scale", 1) if numeric_or(first) => (StrFn::MinScale, T::Int4),
        ("trim_scale", 1) if numeric_or(first) => (StrFn::TrimScale, T::Numeric),
        _ => return None,
    };
    Some(r)
}

/// The type argument `i` is coerced to; `None` = the result type decides.
pub fn arg_type(f: StrFn, i: usize) -> Option<DataType> {
    use DataType as T;
    Some(match (f, i) {
        (StrFn::Lpad | StrFn::Rpad, 1) | (StrFn::SplitPart, 2) => T::Int4,
        (StrFn::QuoteLiteral | StrFn::QuoteNullable, _) => return None,
        (StrFn::Overlay, 2 | 3) => T::Int4,
        (StrFn::Chr, _) => T::Int4,
        (StrFn::Encode, 0) | (StrFn::Sha(_), _) => T::Bytea,
        (StrFn::ToHex, _) => return None,
        (StrFn::Format, 0) => T::Text,
        (StrFn::Format, _) => return None,
        (StrFn::Div | StrFn::LogBase, _) => T::Numeric,
        (StrFn::Mod | StrFn::Power | StrFn::Gcd | StrFn::Lcm, _) => return None,
        (StrFn::Float1(_) | StrFn::Ceil | StrFn::Floor | StrFn::Sign, _) => return None,
        (StrFn::Trunc, 0) => return None,
        (StrFn::Trunc, _) => T::Int4,
        (StrFn::Atan2(_), _) => T::Float8,
        (StrFn::WidthBucket | StrFn::WidthBucketNumeric, 3) => T::Int4,
        (StrFn::WidthBucket, _) => T::Float8,
        (StrFn::WidthBucketNumeric, _) => T::Numeric,
        (StrFn::Factorial, _) => T::Int8,
        (StrFn::Scale | StrFn::MinScale | StrFn::TrimScale, _) => T::Numeric,
        _ => T::Text,
    })
}

/// Whether a call must be evaluated per row even with constant arguments.
pub fn is_volatile(f: StrFn) -> bool {
    f == StrFn::Random
}

fn text(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        v => types::format_text(v, &types::FormatOptions::default()),
    }
}

fn f64_of(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

fn numeric_of(v: &Value) -> BigDecimal {
    v.as_numeric().unwrap_or_default()
}

/// A float8 result with PostgreSQL's overflow and underflow checks.
fn float_result(x: f64, input_inf: bool) -> Result<Value> {
    if x.is_infinite() && !input_inf {
        bail!(
            sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
            "value out of range: overflow"
        );
    }
    Ok(Value::Float8(x))
}

fn out_of_range_input() -> Error {
    err!(
        sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
        "input is out of range"
    )
}

/// Calls one of this module's functions.
pub fn call(f: StrFn, args: Vec<Value>, ty: DataType, cx: &mut ExecCtx<'_>) -> Result<Value> {
    let _ = cx;
    match f {
        StrFn::Format => return format(&args),
        StrFn::QuoteNullable => {
            return Ok(match args.first() {
                None | Some(Value::Null) => Value::Text("NULL".into()),
                Some(v) => Value::Text(quote_literal(&text(v))),
            })
        }
        _ => {}
    }
    if args.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Null);
    let s = |i: usize| text(&arg(i));
    let int = |i: usize| arg(i).as_i64().unwrap_or(0);
    Ok(match f {
        StrFn::SplitPart => {
            let (hay, delim, n) = (s(0), s(1), int(2));
            if n == 0 {
                bail!(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "field position must not be zero"
                );
            }
            let parts: Vec<&str> = if delim.is_empty() {
                vec![hay.as_str()]
            } else {
                hay.split(delim.as_str()).collect()
            };
            let idx = if n > 0 { n - 1 } else { parts.len() as i64 + n };
            let piece = if hay.is_empty() {
                ""
            } else {
                usize::try_from(idx)
                    .ok()
                    .and_then(|i| parts.get(i))
                    .copied()
                    .unwrap_or("")
            };
            Value::Text(piece.to_string())
        }
        StrFn::Lpad | StrFn::Rpad => {
            let src: Vec<char> = s(0).chars().collect();
            let len = int(1).max(0) as usize;
            let fill: Vec<char> = if args.len() > 2 {
                s(2).chars().collect()
            } else {
                vec![' ']
            };
            if len > 268_435_455 {
                bail!(
                    sqlstate::PROGRAM_LIMIT_EXCEEDED,
                    "requested length too large"
                );
            }
            if src.len() >= len || fill.is_empty() {
                return Ok(Value::Text(src.iter().take(len).collect()));
            }
            let pad: String = fill.iter().cycle().take(len - src.len()).collect();
            let body: String = src.iter().collect();
            Value::Text(if f == StrFn::Lpad {
                pad + &body
            } else {
                body + &pad
            })
        }
        StrFn::Initcap => {
            let mut out = String::new();
            let mut prev_alnum = false;
            for c in s(0).chars() {
                if prev_alnum {
                    out.extend(c.to_lowercase());
                } else {
                    out.extend(c.to_uppercase());
                }
                prev_alnum = c.is_alphanumeric();
            }
            Value::Text(out)
        }
        StrFn::Translate => {
            let from: Vec<char> = s(1).chars().collect();
            let to: Vec<char> = s(2).chars().collect();
            Value::Text(
                s(0).chars()
                    .filter_map(|c| match from.iter().position(|&x| x == c) {
                        None => Some(c),
                        Some(i) => to.get(i).copied(),
                    })
                    .collect(),
            )
        }
        StrFn::Chr => {
            let n = int(0);
            if n == 0 {
                bail!(
                    sqlstate::PROGRAM_LIMIT_EXCEEDED,
                    "null character not permitted"
                );
            }
            let c = u32::try_from(n)
                .ok()
                .filter(|&n| n <= 0x10FFFF)
                .ok_or_else(|| {
                    err!(
                        sqlstate::PROGRAM_LIMIT_EXCEEDED,
                        "requested character too large for encoding: {n}"
                    )
                })?;
            let c = char::from_u32(c).ok_or_else(|| {
                err!(
                    sqlstate::PROGRAM_LIMIT_EXCEEDED,
                    "requested character not valid for encoding: {n}"
                )
            })?;
            Value::Text(c.to_string())
        }
        StrFn::Ascii => Value::Int4(s(0).chars().next().map_or(0, |c| c as i32)),
        StrFn::QuoteIdent => Value::Text(quote_ident(&s(0))),
        StrFn::QuoteLiteral => Value::Text(quote_literal(&s(0))),
        StrFn::StartsWith => Value::Bool(s(0).starts_with(&s(1))),
        StrFn::Encode => {
            let Value::Bytea(b) = arg(0) else {
                return Ok(Value::Null);
            };
            Value::Text(encode(&b, &s(1))?)
        }
        StrFn::Decode => Value::Bytea(decode(&s(0), &s(1))?),
        StrFn::Sha(bits) => {
            use sha2::Digest;
            let Value::Bytea(b) = arg(0) else {
                return Ok(Value::Null);
            };
            Value::Bytea(match bits {
                224 => sha2::Sha224::digest(&b).to_vec(),
                256 => sha2::Sha256::digest(&b).to_vec(),
                384 => sha2::Sha384::digest(&b).to_vec(),
                _ => sha2::Sha512::digest(&b).to_vec(),
            })
        }
        StrFn::ToHex => match arg(0) {
            Value::Int8(n) => Value::Text(format!("{:x}", n as u64)),
            v => Value::Text(format!("{:x}", v.as_i64().unwrap_or(0) as i32 as u32)),
        },
        StrFn::OctetLength => Value::Int4(s(0).len() as i32),
        StrFn::BitLength => Value::Int4(s(0).len() as i32 * 8),
        StrFn::Overlay => {
            let src: Vec<char> = s(0).chars().collect();
            let placing = s(1);
            let from = int(2);
            let count = if args.len() > 3 {
                int(3)
            } else {
                placing.chars().count() as i64
            };
            if from <= 0 || count < 0 {
                bail!(
                    sqlstate::SUBSTRING_ERROR,
                    "negative substring length not allowed"
                );
            }
            let start = ((from - 1) as usize).min(src.len());
            let end = (start as i64 + count).min(src.len() as i64) as usize;
            let mut out: String = src[..start].iter().collect();
            out.push_str(&placing);
            out.extend(src[end..].iter());
            Value::Text(out)
        }
        StrFn::Div => Value::numeric(nm::div_trunc(&numeric_of(&arg(0)), &numeric_of(&arg(1)))?),
        StrFn::Mod => {
            if ty == DataType::Numeric {
                Value::numeric(nm::modulo(&numeric_of(&arg(0)), &numeric_of(&arg(1)))?)
            } else {
                let (a, b) = (int(0), int(1));
                if b == 0 {
                    bail!(sqlstate::DIVISION_BY_ZERO, "division by zero");
                }
                let r = a.checked_rem(b).unwrap_or(0);
                match ty {
                    DataType::Int2 => Value::Int2(r as i16),
                    DataType::Int8 => Value::Int8(r),
                    _ => Value::Int4(r as i32),
                }
            }
        }
        StrFn::Power => {
            if ty == DataType::Numeric {
                return Ok(Value::numeric(nm::power(
                    &numeric_of(&arg(0)),
                    &numeric_of(&arg(1)),
                )?));
            }
            let (a, b) = (f64_of(&arg(0)), f64_of(&arg(1)));
            if a == 0.0 && b < 0.0 {
                bail!(
                    sqlstate::INVALID_ARGUMENT_FOR_POWER_FUNCTION,
                    "zero raised to a negative power is undefined"
                );
            }
            if a < 0.0 && b.fract() != 0.0 {
                bail!(
                    sqlstate::INVALID_ARGUMENT_FOR_POWER_FUNCTION,
                    "a negative number raised to a non-integer power yields a complex result"
                );
            }
            float_result(a.powf(b), a.is_infinite() || b.is_infinite())?
        }
        StrFn::Float1(g) => {
            if ty == DataType::Numeric {
                let x = numeric_of(&arg(0));
                return Ok(Value::numeric(match g {
                    F1::Sqrt => nm::sqrt(&x)?,
                    F1::Exp => nm::exp(&x)?,
                    F1::Ln => nm::ln(&x)?,
                    _ => nm::log(&BigDecimal::from(10), &x)?,
                }));
            }
            float1(g, f64_of(&arg(0)))?
        }
        StrFn::Atan2(deg) => {
            let r = f64_of(&arg(0)).atan2(f64_of(&arg(1)));
            Value::Float8(if deg { r.to_degrees() } else { r })
        }
        StrFn::LogBase => Value::numeric(nm::log(&numeric_of(&arg(0)), &numeric_of(&arg(1)))?),
        StrFn::Ceil | StrFn::Floor | StrFn::Trunc => {
            if ty == DataType::Numeric {
                let n = numeric_of(&arg(0));
                Value::numeric(match f {
                    StrFn::Ceil => n.with_scale_round(0, RoundingMode::Ceiling),
                    StrFn::Floor => n.with_scale_round(0, RoundingMode::Floor),
                    _ => nm::trunc(&n, if args.len() > 1 { int(1) } else { 0 }),
                })
            } else {
                let x = f64_of(&arg(0));
                Value::Float8(match f {
                    StrFn::Ceil => x.ceil(),
                    StrFn::Floor => x.floor(),
                    _ => x.trunc(),
                })
            }
        }
        StrFn::Sign => {
            if ty == DataType::Numeric {
                let n = numeric_of(&arg(0));
                Value::numeric(BigDecimal::from(match n.sign() {
                    bigdecimal::num_bigint::Sign::Minus => -1,
                    bigdecimal::num_bigint::Sign::NoSign => 0,
                    bigdecimal::num_bigint::Sign::Plus => 1,
                }))
            } else {
                let x = f64_of(&arg(0));
                Value::Float8(if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                })
            }
        }
        StrFn::Pi => Value::Float8(std::f64::consts::PI),
        StrFn::Random => Value::Float8(rand::random::<f64>()),
        StrFn::Gcd | StrFn::Lcm => {
            if ty == DataType::Numeric {
                let (a, b) = (numeric_of(&arg(0)), numeric_of(&arg(1)));
                return Ok(Value::numeric(if f == StrFn::Gcd {
                    nm::gcd(&a, &b)
                } else {
                    nm::lcm(&a, &b)?
                }));
            }
            let (a, b) = (int(0) as i128, int(1) as i128);
            let mut g = {
                let (mut x, mut y) = (a.abs(), b.abs());
                while y != 0 {
                    (x, y) = (y, x % y);
                }
                x
            };
            if f == StrFn::Lcm {
                g = if a == 0 || b == 0 {
                    0
                } else {
                    (a / g * b).abs()
                };
            }
            match ty {
                DataType::Int8 => {
                    Value::Int8(i64::try_from(g).map_err(|_| types::out_of_range(DataType::Int8))?)
                }
                _ => {
                    Value::Int4(i32::try_from(g).map_err(|_| types::out_of_range(DataType::Int4))?)
                }
            }
        }
        StrFn::WidthBucket => {
            let (x, lo, hi, n) = (f64_of(&arg(0)), f64_of(&arg(1)), f64_of(&arg(2)), int(3));
            if n <= 0 {
                bail!(
                    sqlstate::INVALID_ARGUMENT_FOR_WIDTH_BUCKET,
                    "count must be greater than zero"
                );
            }
            if lo == hi {
                bail!(
                    sqlstate::INVALID_ARGUMENT_FOR_WIDTH_BUCKET,
                    "lower bound cannot equal upper bound"
                );
            }
            if x.is_nan() || lo.is_nan() || hi.is_nan() {
                bail!(
                    sqlstate::INVALID_ARGUMENT_FOR_WIDTH_BUCKET,
                    "operand, lower bound, and upper bound cannot be NaN"
                );
            }
            let nf = n as f64;
            let b = if lo < hi {
                if x < lo {
                    0
                } else if x >= hi {
                    n + 1
                } else {
                    ((nf * ((x - lo) / (hi - lo))) as i64 + 1).min(n)
                }
            } else if x > lo {
                0
            } else if x <= hi {
                n + 1
            } else {
                ((nf * ((lo - x) / (lo - hi))) as i64 + 1).min(n)
            };
            Value::Int4(i32::try_from(b).map_err(|_| types::out_of_range(DataType::Int4))?)
        }
        StrFn::Factorial => Value::numeric(nm::factorial(int(0))?),
        StrFn::WidthBucketNumeric => Value::Int4(nm::width_bucket(
            &numeric_of(&arg(0)),
            &numeric_of(&arg(1)),
            &numeric_of(&arg(2)),
            int(3) as i32,
        )?),
        StrFn::Scale => Value::Int4(nm::scale(&numeric_of(&arg(0)))),
        StrFn::MinScale => Value::Int4(nm::min_scale(&numeric_of(&arg(0)))),
        StrFn::TrimScale => Value::numeric(nm::trim_scale(&numeric_of(&arg(0)))),
        StrFn::Format | StrFn::QuoteNullable => Value::Null,
    })
}

/// PostgreSQL's argument checks of `ln`, `log` and `sqrt`.
fn check_log_sqrt(g: F1, negative: bool, zero: bool) -> Result<()> {
    match g {
        F1::Ln | F1::Log10 if zero => bail!(
            sqlstate::INVALID_ARGUMENT_FOR_LOG,
            "cannot take logarithm of zero"
        ),
        F1::Ln | F1::Log10 if negative => bail!(
            sqlstate::INVALID_ARGUMENT_FOR_LOG,
            "cannot take logarithm of a negative number"
        ),
        F1::Sqrt if negative => bail!(
            sqlstate::INVALID_ARGUMENT_FOR_POWER_FUNCTION,
            "cannot take square root of a negative number"
        ),
        _ => Ok(()),
    }
}

/// A float8 function of one argument, with PostgreSQL's domain errors.
fn float1(g: F1, x: f64) -> Result<Value> {
    check_log_sqrt(g, x < 0.0, x == 0.0)?;
    let inf = x.is_infinite();
    let unit = |x: f64| -> Result<f64> {
        if !(-1.0..=1.0).contains(&x) {
            return Err(out_of_range_input());
        }
        Ok(x)
    };
    let finite = |x: f64| -> Result<f64> {
        if x.is_infinite() {
            return Err(out_of_range_input());
        }
        Ok(x)
    };
    let r = match g {
        F1::Sqrt => x.sqrt(),
        F1::Cbrt => {
            let r = c_library_cbrt(x);
            if r == 0.0 && x != 0.0 {
                bail!(
                    sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                    "value out of range: underflow"
                );
            }
            r
        }
        F1::Exp => {
            let r = x.exp();
            if r == 0.0 && !inf {
                bail!(
                    sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                    "value out of range: underflow"
                );
            }
            r
        }
        F1::Ln => x.ln(),
        F1::Log10 => x.log10(),
        F1::Sin => finite(x)?.sin(),
        F1::Cos => finite(x)?.cos(),
        F1::Tan => finite(x)?.tan(),
        F1::Cot => 1.0 / finite(x)?.tan(),
        F1::Asin => unit(x)?.asin(),
        F1::Acos => unit(x)?.acos(),
        F1::Atan => x.atan(),
        F1::Sind | F1::Cosd | F1::Tand => return Err(degree_trig_unsupported()),
        F1::Asind => unit(x)?.asin().to_degrees(),
        F1::Acosd => unit(x)?.acos().to_degrees(),
        F1::Atand => x.atan().to_degrees(),
        F1::Sinh => x.sinh(),
        F1::Cosh => x.cosh(),
        F1::Tanh => x.tanh(),
        F1::Asinh => x.asinh(),
        F1::Acosh => {
            if x < 1.0 {
                return Err(out_of_range_input());
            }
            x.acosh()
        }
        F1::Atanh => {
            if !(-1.0..=1.0).contains(&x) {
                return Err(out_of_range_input());
            }
            x.atanh()
        }
        F1::Degrees => x.to_degrees(),
        F1::Radians => x.to_radians(),
    };
    float_result(
        r,
        inf || matches!(g, F1::Cot | F1::Sinh | F1::Cosh | F1::Atanh),
    )
}

/// The C library's `cbrt(3)`, which PostgreSQL's `cbrt` calls. Rust's runtime links
/// its own, correctly rounded `cbrt` under the same symbol name, and the two differ
/// in the last bit (glibc's `cbrt(27)` is 3.0000000000000004), so the C library's is
/// looked up in libm at run time; without one, Rust's is used.
fn c_library_cbrt(x: f64) -> f64 {
    type CbrtFn = extern "C" fn(f64) -> f64;
    static CBRT: std::sync::OnceLock<Option<CbrtFn>> = std::sync::OnceLock::new();
    let f = CBRT.get_or_init(|| {
        // SAFETY: dlopen/dlsym get NUL-terminated names; a non-null `cbrt` symbol
        // of the C math library has the C signature `double cbrt(double)`.
        unsafe {
            let lib = libc::dlopen(c"libm.so.6".as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
            if lib.is_null() {
                return None;
            }
            let sym = libc::dlsym(lib, c"cbrt".as_ptr());
            if sym.is_null() {
                return None;
            }
            Some(std::mem::transmute::<*mut libc::c_void, CbrtFn>(sym))
        }
    });
    match f {
        Some(f) => f(x),
        None => x.cbrt(),
    }
}

/// PostgreSQL computes `sind`/`cosd`/`tand` exactly at multiples of 30°; tusk does
/// not yet.
fn degree_trig_unsupported() -> Error {
    err!(
        sqlstate::FEATURE_NOT_SUPPORTED,
        "sind, cosd and tand are not supported yet"
    )
}

/// PostgreSQL's `quote_identifier` (one implementation, in `config`, whose keyword
/// list is PostgreSQL 15's).
pub fn quote_ident(s: &str) -> String {
    crate::config::quote_identifier(s)
}

/// PostgreSQL's `quote_literal`: single quotes doubled; with a backslash, the `E''`
/// form with backslashes doubled.
pub fn quote_literal(s: &str) -> String {
    let body = s.replace('\'', "''");
    if s.contains('\\') {
        format!("E'{}'", body.replace('\\', "\\\\"))
    } else {
        format!("'{body}'")
    }
}

fn encode(b: &[u8], format: &str) -> Result<String> {
    use base64::Engine;
    Ok(match format.to_ascii_lowercase().as_str() {
        "hex" => b.iter().map(|x| format!("{x:02x}")).collect(),
        "base64" => {
            let s = base64::engine::general_purpose::STANDARD.encode(b);
            // PostgreSQL breaks base64 output into lines of 76 characters.
            let mut out = String::new();
            for (i, c) in s.chars().enumerate() {
                if i > 0 && i % 76 == 0 {
                    out.push('\n');
                }
                out.push(c);
            }
            out
        }
        "escape" => {
            let mut out = String::new();
            for &x in b {
                match x {
                    0 => out.push_str("\\000"),
                    b'\\' => out.push_str("\\\\"),
                    x if x >= 0x80 => out.push_str(&format!("\\{x:03o}")),
                    x => out.push(x as char),
                }
            }
            out
        }
        other => bail!(
            sqlstate::INVALID_PARAMETER_VALUE,
            "unrecognized encoding: \"{other}\""
        ),
    })
}

fn decode(s: &str, format: &str) -> Result<Vec<u8>> {
    use base64::Engine;
    Ok(match format.to_ascii_lowercase().as_str() {
        "hex" => {
            let digits: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
            let val = |c: u8| -> Result<u8> {
                (c as char).to_digit(16).map(|d| d as u8).ok_or_else(|| {
                    err!(
                        sqlstate::INVALID_PARAMETER_VALUE,
                        "invalid hexadecimal digit: \"{}\"",
                        c as char
                    )
                })
            };
            if digits.len() % 2 == 1 {
                bail!(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "invalid hexadecimal data: odd number of digits"
                );
            }
            let mut out = Vec::new();
            for pair in digits.chunks(2) {
                out.push(val(pair[0])? << 4 | val(pair[1])?);
            }
            out
        }
        "base64" => {
            let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(clean)
                .map_err(|_| {
                    err!(
                        sqlstate::INVALID_PARAMETER_VALUE,
                        "invalid base64 end sequence"
                    )
                    .with_hint(
                        "Input data is missing padding, is truncated, or is otherwise corrupted.",
                    )
                })?
        }
        "escape" => {
            let b = s.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < b.len() {
                if b[i] != b'\\' {
                    out.push(b[i]);
                    i += 1;
                } else if b.get(i + 1) == Some(&b'\\') {
                    out.push(b'\\');
                    i += 2;
                } else if i + 3 < b.len()
                    && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
                {
                    let v = (b[i + 1] - b'0') as u16 * 64
                        + (b[i + 2] - b'0') as u16 * 8
                        + (b[i + 3] - b'0') as u16;
                    out.push(v as u8);
                    i += 4;
                } else {
                    bail!(
                        sqlstate::INVALID_TEXT_REPRESENTATION,
                        "invalid input syntax for type bytea"
                    );
                }
            }
            out
        }
        other => bail!(
            sqlstate::INVALID_PARAMETER_VALUE,
            "unrecognized encoding: \"{other}\""
        ),
    })
}

/// PostgreSQL's `format(fmt, args…)`: `%s`, `%I`, `%L`, `%%`, positions `%n$` and
/// widths (`%-10s`, `%*s`).
fn format(args: &[Value]) -> Result<Value> {
    let Some(fmt) = args.first() else {
        return Ok(Value::Null);
    };
    if fmt.is_null() {
        return Ok(Value::Null);
    }
    let fmt = text(fmt);
    let params = &args[1..];
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut next = 0usize;
    let mut i = 0;
    let unterminated = || {
        err!(
            sqlstate::INVALID_PARAMETER_VALUE,
            "unterminated format() type specifier"
        )
        .with_hint("For a single \"%\" use \"%%\".")
    };
    let too_few = || {
        err!(
            sqlstate::INVALID_PARAMETER_VALUE,
            "too few arguments for format()"
        )
    };
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(&d) = chars.get(i) else {
            return Err(unterminated());
        };
        if d == '%' {
            out.push('%');
            i += 1;
            continue;
        }
        // [n$][flags][width][n$]type
        let read_num = |i: &mut usize| -> Result<Option<usize>> {
            let start = *i;
            while chars.get(*i).is_some_and(|c| c.is_ascii_digit()) {
                *i += 1;
            }
            if *i == start {
                return Ok(None);
            }
            let s: String = chars[start..*i].iter().collect();
            s.parse::<usize>()
                .map(Some)
                .map_err(|_| err!(sqlstate::INVALID_PARAMETER_VALUE, "number is out of range"))
        };
        let mut pos = None;
        let save = i;
        if let Some(n) = read_num(&mut i)? {
            if chars.get(i) == Some(&'$') {
                if n == 0 {
                    bail!(
                        sqlstate::INVALID_PARAMETER_VALUE,
                        "format specifies argument 0, but arguments are numbered from 1"
                    );
                }
                pos = Some(n);
                i += 1;
            } else {
                i = save;
            }
        }
        let mut left = false;
        if chars.get(i) == Some(&'-') {
            left = true;
            i += 1;
        }
        let mut width: Option<i64> = None;
        if chars.get(i) == Some(&'*') {
            i += 1;
            let wpos = {
                let save = i;
                match read_num(&mut i)? {
                    Some(n) if chars.get(i) == Some(&'$') => {
                        i += 1;
                        n
                    }
                    _ => {
                        i = save;
                        next += 1;
                        next
                    }
                }
            };
            let w = params.get(wpos - 1).ok_or_else(too_few)?;
            width = Some(w.as_i64().unwrap_or(0));
        } else if let Some(n) = read_num(&mut i)? {
            width = Some(n as i64);
        }
        let Some(&ty) = chars.get(i) else {
            return Err(unterminated());
        };
        i += 1;
        let idx = match pos {
            Some(n) => {
                next = n;
                n
            }
            None => {
                next += 1;
                next
            }
        };
        let v = params.get(idx - 1).ok_or_else(too_few)?;
        let s = match ty {
            's' => {
                if v.is_null() {
                    String::new()
                } else {
                    text(v)
                }
            }
            'I' => {
                if v.is_null() {
                    bail!(
                        sqlstate::NULL_VALUE_NOT_ALLOWED,
                        "null values cannot be formatted as an SQL identifier"
                    );
                }
                quote_ident(&text(v))
            }
            'L' => {
                if v.is_null() {
                    "NULL".into()
                } else {
                    quote_literal(&text(v))
                }
            }
            other => {
                return Err(err!(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "unrecognized format() type specifier \"{other}\""
                )
                .with_hint("For a single \"%\" use \"%%\"."))
            }
        };
        let (w, left) = match width {
            Some(w) if w < 0 => (w.unsigned_abs() as usize, true),
            Some(w) => (w as usize, left),
            None => (0, left),
        };
        let n = s.chars().count();
        if n >= w {
            out.push_str(&s);
        } else if left {
            out.push_str(&s);
            out.extend(std::iter::repeat_n(' ', w - n));
        } else {
            out.extend(std::iter::repeat_n(' ', w - n));
            out.push_str(&s);
        }
    }
    Ok(Value::Text(out))
}

/// Whether `op expr` is a sign in front of a chain of `^`, which sqlparser parses as
/// `-(a ^ b)` where PostgreSQL's grammar binds the sign tighter: `(-a) ^ b`.
pub fn is_signed_power(op: &ast::UnaryOperator, expr: &ast::Expr) -> bool {
    let mut e = expr;
    if !matches!(op, ast::UnaryOperator::Minus | ast::UnaryOperator::Plus) {
        return false;
    }
    while let ast::Expr::UnaryOp {
        op: ast::UnaryOperator::Minus | ast::UnaryOperator::Plus,
        expr,
    } = e
    {
        e = expr;
    }
    matches!(
        e,
        ast::Expr::BinaryOp {
            op: ast::BinaryOperator::PGExp,
            ..
        }
    )
}

/// Re-associates `op expr` (see [`is_signed_power`]) as PostgreSQL parses it (see
/// [`reassociate_power`]).
pub fn sign_into_power(op: &ast::UnaryOperator, expr: &ast::Expr) -> ast::Expr {
    reassociate_power(&ast::Expr::UnaryOp {
        op: *op,
        expr: Box::new(expr.clone()),
    })
}

/// A chain of `^` as PostgreSQL's grammar groups it: flattened into its operands, each
/// keeping the signs written in front of it, and rebuilt left-associatively (`-2 ^ 2`
/// is `(-2) ^ 2`, `2 ^ -2 ^ 2` is `(2 ^ -2) ^ 2`). Parenthesized operands (`Nested`)
/// are kept whole. A chain already in that shape comes back unchanged.
pub fn reassociate_power(e: &ast::Expr) -> ast::Expr {
    fn flatten(
        e: &ast::Expr,
        mut signs: Vec<ast::UnaryOperator>,
        out: &mut Vec<(Vec<ast::UnaryOperator>, ast::Expr)>,
    ) {
        match e {
            ast::Expr::BinaryOp {
                left,
                op: ast::BinaryOperator::PGExp,
                right,
            } => {
                flatten(left, signs, out);
                flatten(right, Vec::new(), out);
            }
            ast::Expr::UnaryOp {
                op: op @ (ast::UnaryOperator::Minus | ast::UnaryOperator::Plus),
                expr,
            } => {
                signs.push(*op);
                flatten(expr, signs, out);
            }
            other => out.push((signs, other.clone())),
        }
    }
    let mut operands = Vec::new();
    flatten(e, Vec::new(), &mut operands);
    let signed = |(signs, e): (Vec<ast::UnaryOperator>, ast::Expr)| {
        signs.into_iter().rev().fold(e, |e, op| ast::Expr::UnaryOp {
            op,
            expr: Box::new(e),
        })
    };
    let mut it = operands.into_iter().map(signed);
    let first = it.next().unwrap_or_else(|| e.clone());
    it.fold(first, |l, r| ast::Expr::BinaryOp {
        left: Box::new(l),
        op: ast::BinaryOperator::PGExp,
        right: Box::new(r),
    })
}

/// The error of `a ^ b` on types without `^`, from `power`'s "function power(text,
/// integer) does not exist": PostgreSQL's words for the operator, without a position
/// (the caller points at the operator); `None` for any other error.
pub fn power_operator_error(e: &Error) -> Option<Error> {
    if e.code != sqlstate::UNDEFINED_FUNCTION {
        return None;
    }
    let (l, r) = e
        .message
        .strip_prefix("function power(")?
        .strip_suffix(") does not exist")?
        .split_once(", ")?;
    Some(
        err!(sqlstate::UNDEFINED_FUNCTION, "operator does not exist: {l} ^ {r}").with_hint(
            "No operator matches the given name and argument types. You might need to add explicit type casts.",
        ),
    )
}

/// Binds the expressions sqlparser gives their own node: `CEIL(x)`, `FLOOR(x)`
/// (with an optional scale: refused like PostgreSQL, which has no such form) and
/// `OVERLAY(s PLACING t FROM n [FOR m])`.
pub fn bind_expr(b: &mut Binder<'_>, e: &ast::Expr, scope: &Scope) -> Result<Option<Expr>> {
    let (name, args): (&str, Vec<ast::Expr>) = match e {
        ast::Expr::Ceil { expr, field } | ast::Expr::Floor { expr, field } => {
            let name = if matches!(e, ast::Expr::Ceil { .. }) {
                "ceil"
            } else {
                "floor"
            };
            match field {
                ast::CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime) => {}
                _ => bail!(
                    sqlstate::SYNTAX_ERROR,
                    "syntax error in {}",
                    name.to_uppercase()
                ),
            }
            (name, vec![(**expr).clone()])
        }
        ast::Expr::Overlay {
            expr,
            overlay_what,
            overlay_from,
            overlay_for,
        } => {
            let mut a = vec![
                (**expr).clone(),
                (**overlay_what).clone(),
                (**overlay_from).clone(),
            ];
            if let Some(f) = overlay_for {
                a.push((**f).clone());
            }
            ("overlay", a)
        }
        _ => return Ok(None),
    };
    let call = ast::Expr::Function(ast::Function {
        name: ast::ObjectName::from(vec![ast::Ident::new(name)]),
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
