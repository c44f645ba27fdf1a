//! PostgreSQL's number templates (`formatting.c`'s `NUM_*` half): `to_char` of
//! `integer`, `bigint`, `real`, `double precision` and `numeric`, and
//! `to_number(text, text)`.
//!
//! What this module owns:
//! - the template language: digit positions `9` and `0`, the decimal point `.`/`D`,
//!   group separators `,`/`G`, signs `S` `MI` `PL` `SG` `PR`, `FM` (fill mode),
//!   `EEEE` (scientific), `V` (shift by 10^n), `TH`/`th` (ordinal suffix), `RN`/`rn`
//!   (Roman numerals), `L` (currency), double-quoted and backslash-escaped literal
//!   text, and PostgreSQL's checks of a template ([`parse_template`]);
//! - the per-type preparation of the digit string PostgreSQL feeds the template
//!   (rounding to the template's decimals, `###` when the integer part does not fit,
//!   the 15-digit limit of `double precision` and 6 of `real`) ([`to_char`]);
//! - the template walk itself, which writes (`to_char`) or reads (`to_number`)
//!   digit by digit, placing blanks, zeros, signs and brackets exactly where
//!   PostgreSQL's `NUM_processor` places them ([`Proc`]).
//!
//! Invariants:
//! 1. Keywords are matched as PostgreSQL matches them: case-sensitively against its
//!    table in table order (`SG` before `S`), so a template means the same here.
//! 2. Locale-dependent patterns (`D`, `G`, `L`, `S`) use the C locale's conventions
//!    (point, comma, a blank currency symbol, `+`/`-`), which is what PostgreSQL
//!    prints with `lc_numeric` and `lc_monetary` set to `C`; under any other locale
//!    setting those patterns are refused with 0A000 rather than printed wrongly.
//!
//! What it must never do: panic on any template or input (every index is checked;
//! reading past the end of a string reads a NUL, as PostgreSQL's C strings do), or
//! produce a different string than PostgreSQL for the same value and template.
//!
//! One call, `to_char(-1234.5, '9,999.99PR')`: [`parse_template`] counts 4 digits
//! before and 2 after the point and sets the bracket flag; the value is rounded to
//! 2 decimals and printed as the digit string `1234.50` with sign `-`; the walk
//! writes `<` before the first digit, `1`, `,` (a digit was already written), `234`,
//! `.`, `50`, and `>` after the last digit: `<1,234.50>`.

use crate::error::{sqlstate, Error, Result};
use crate::types::{self, numeric_math, DataType, Value};
use crate::{bail, err};
use bigdecimal::{BigDecimal, ToPrimitive};

/// A pattern of a number template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Comma,
    Dec,
    Zero,
    Nine,
    B,
    C,
    D,
    Eeee,
    Fm,
    G,
    L,
    Mi,
    Pl,
    Pr,
    RnUpper,
    RnLower,
    Sg,
    Sp,
    S,
    ThUpper,
    ThLower,
    V,
}

/// PostgreSQL's NUM_keywords, in its order (the first entry that prefixes the rest of
/// the template wins).
const KEYWORDS: &[(&str, Key)] = &[
    (",", Key::Comma),
    (".", Key::Dec),
    ("0", Key::Zero),
    ("9", Key::Nine),
    ("B", Key::B),
    ("C", Key::C),
    ("D", Key::D),
    ("EEEE", Key::Eeee),
    ("FM", Key::Fm),
    ("G", Key::G),
    ("L", Key::L),
    ("MI", Key::Mi),
    ("PL", Key::Pl),
    ("PR", Key::Pr),
    ("RN", Key::RnUpper),
    ("SG", Key::Sg),
    ("SP", Key::Sp),
    ("S", Key::S),
    ("TH", Key::ThUpper),
    ("V", Key::V),
    ("b", Key::B),
    ("c", Key::C),
    ("d", Key::D),
    ("eeee", Key::Eeee),
    ("fm", Key::Fm),
    ("g", Key::G),
    ("l", Key::L),
    ("mi", Key::Mi),
    ("pl", Key::Pl),
    ("pr", Key::Pr),
    ("rn", Key::RnLower),
    ("sg", Key::Sg),
    ("sp", Key::Sp),
    ("s", Key::S),
    ("th", Key::ThLower),
    ("v", Key::V),
];

/// One element of a parsed template.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// A pattern.
    Action(Key),
    /// Literal text (one character).
    Char(String),
}

/// Where a locale sign (`S`) goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LSign {
    None,
    Pre,
    Post,
}

const F_DECIMAL: u32 = 1 << 1;
const F_LDECIMAL: u32 = 1 << 2;
const F_ZERO: u32 = 1 << 3;
const F_BLANK: u32 = 1 << 4;
const F_FILLMODE: u32 = 1 << 5;
const F_LSIGN: u32 = 1 << 6;
const F_BRACKET: u32 = 1 << 7;
const F_MINUS: u32 = 1 << 8;
const F_PLUS: u32 = 1 << 9;
const F_ROMAN: u32 = 1 << 10;
const F_MULTI: u32 = 1 << 11;
const F_EEEE: u32 = 1 << 14;

/// What a template says about the number (PostgreSQL's `NUMDesc`).
#[derive(Debug, Clone)]
struct Desc {
    /// Digit positions before the decimal point.
    pre: i32,
    /// Digit positions after it.
    post: i32,
    lsign: LSign,
    flag: u32,
    /// Digit positions before an `S` written ahead of the digits.
    pre_lsign_num: i32,
    /// Digits after `V`.
    multi: i32,
    /// Position (1-based) of the first `0` before the point.
    zero_start: i32,
    /// Position of the last `0`.
    zero_end: i32,
    /// Whether a pattern depends on the locale.
    need_locale: bool,
}

impl Desc {
    fn has(&self, f: u32) -> bool {
        self.flag & f != 0
    }
}

fn syntax(msg: &str) -> Error {
    err!(sqlstate::SYNTAX_ERROR, "{msg}")
}

/// PostgreSQL's `NUMDesc_prepare`: folds one pattern into the description, with its
/// checks of incompatible patterns.
fn prepare(d: &mut Desc, key: Key) -> Result<()> {
    if d.has(F_EEEE) && key != Key::Eeee {
        return Err(syntax("\"EEEE\" must be the last pattern used"));
    }
    match key {
        Key::Nine => {
            if d.has(F_BRACKET) {
                return Err(syntax("\"9\" must be ahead of \"PR\""));
            }
            if d.has(F_MULTI) {
                d.multi += 1;
            } else if d.has(F_DECIMAL) {
                d.post += 1;
            } else {
                d.pre += 1;
            }
        }
        Key::Zero => {
            if d.has(F_BRACKET) {
                return Err(syntax("\"0\" must be ahead of \"PR\""));
            }
            if !d.has(F_ZERO) && !d.has(F_DECIMAL) {
                d.flag |= F_ZERO;
                d.zero_start = d.pre + 1;
            }
            if !d.has(F_DECIMAL) {
                d.pre += 1;
            } else {
                d.post += 1;
            }
            d.zero_end = d.pre + d.post;
        }
        Key::B => {
            if d.pre == 0 && d.post == 0 && !d.has(F_ZERO) {
                d.flag |= F_BLANK;
            }
        }
        Key::D | Key::Dec => {
            if key == Key::D {
                d.flag |= F_LDECIMAL;
                d.need_locale = true;
            }
            if d.has(F_DECIMAL) {
                return Err(syntax("multiple decimal points"));
            }
            if d.has(F_MULTI) {
                return Err(syntax("cannot use \"V\" and decimal point together"));
            }
            d.flag |= F_DECIMAL;
        }
        Key::Fm => d.flag |= F_FILLMODE,
        Key::S => {
            if d.has(F_LSIGN) {
                return Err(syntax("cannot use \"S\" twice"));
            }
            if d.has(F_PLUS) || d.has(F_MINUS) || d.has(F_BRACKET) {
                return Err(syntax(
                    "cannot use \"S\" and \"PL\"/\"MI\"/\"SG\"/\"PR\" together",
                ));
            }
            if !d.has(F_DECIMAL) {
                d.lsign = LSign::Pre;
                d.pre_lsign_num = d.pre;
                d.need_locale = true;
                d.flag |= F_LSIGN;
            } else if d.lsign == LSign::None {
                d.lsign = LSign::Post;
                d.need_locale = true;
                d.flag |= F_LSIGN;
            }
        }
        Key::Mi => {
            if d.has(F_LSIGN) {
                return Err(syntax("cannot use \"S\" and \"MI\" together"));
            }
            d.flag |= F_MINUS;
        }
        Key::Pl => {
            if d.has(F_LSIGN) {
                return Err(syntax("cannot use \"S\" and \"PL\" together"));
            }
            d.flag |= F_PLUS;
        }
        Key::Sg => {
            if d.has(F_LSIGN) {
                return Err(syntax("cannot use \"S\" and \"SG\" together"));
            }
            d.flag |= F_MINUS | F_PLUS;
        }
        Key::Pr => {
            if d.has(F_LSIGN) || d.has(F_PLUS) || d.has(F_MINUS) {
                return Err(syntax(
                    "cannot use \"PR\" and \"S\"/\"PL\"/\"MI\"/\"SG\" together",
                ));
            }
            d.flag |= F_BRACKET;
        }
        Key::RnUpper | Key::RnLower => d.flag |= F_ROMAN,
        Key::L | Key::G => d.need_locale = true,
        Key::V => {
            if d.has(F_DECIMAL) {
                return Err(syntax("cannot use \"V\" and decimal point together"));
            }
            d.flag |= F_MULTI;
        }
        Key::Eeee => {
            if d.has(F_EEEE) {
                return Err(syntax("cannot use \"EEEE\" twice"));
            }
            if d.flag
                & (F_BLANK
                    | F_FILLMODE
                    | F_LSIGN
                    | F_BRACKET
                    | F_MINUS
                    | F_PLUS
                    | F_ROMAN
                    | F_MULTI)
                != 0
            {
                return Err(
                    syntax("\"EEEE\" is incompatible with other formats").with_detail(
                        "\"EEEE\" may only be used together with digit and decimal point patterns.",
                    ),
                );
            }
            d.flag |= F_EEEE;
        }
        Key::Comma | Key::C | Key::Sp | Key::ThUpper | Key::ThLower => {}
    }
    Ok(())
}

/// Splits a template into patterns and literal characters (PostgreSQL's
/// `parse_format` for numbers) and describes it.
fn parse_template(fmt: &str) -> Result<(Vec<Node>, Desc)> {
    let mut d = Desc {
        pre: 0,
        post: 0,
        lsign: LSign::None,
        flag: 0,
        pre_lsign_num: 0,
        multi: 0,
        zero_start: 0,
        zero_end: 0,
        need_locale: false,
    };
    let mut nodes = Vec::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let rest: String = chars[i..chars.len().min(i + 4)].iter().collect();
        if let Some((kw, key)) = KEYWORDS.iter().find(|(kw, _)| rest.starts_with(kw)) {
            prepare(&mut d, *key)?;
            nodes.push(Node::Action(*key));
            i += kw.len();
            continue;
        }
        if chars[i] == '"' {
            i += 1;
            while i < chars.len() {
                if chars[i] == '"' {
                    i += 1;
                    break;
                }
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                nodes.push(Node::Char(chars[i].to_string()));
                i += 1;
            }
            continue;
        }
        if chars[i] == '\\' && chars.get(i + 1) == Some(&'"') {
            i += 1;
        }
        nodes.push(Node::Char(chars[i].to_string()));
        i += 1;
    }
    Ok((nodes, d))
}

/// The C locale's conventions, as PostgreSQL's `NUM_prepare_locale` resolves them.
struct Locale {
    negative_sign: &'static str,
    positive_sign: &'static str,
    decimal: &'static str,
    thousands_sep: &'static str,
    currency_symbol: &'static str,
}

const C_LOCALE: Locale = Locale {
    negative_sign: "-",
    positive_sign: "+",
    decimal: ".",
    thousands_sep: ",",
    // The C locale has no currency symbol; PostgreSQL prints a blank.
    currency_symbol: " ",
};

/// Whether a locale name has the C locale's number conventions.
fn is_c_locale(name: &str) -> bool {
    matches!(
        name.trim().to_ascii_lowercase().as_str(),
        "c" | "posix" | "c.utf-8" | "c.utf8" | ""
    )
}

/// Refuses a template whose locale-dependent patterns (`D`, `G`, `L`, `S`) would
/// print conventions of a locale other than C, which tusk does not have.
fn check_locale(d: &Desc, settings: &crate::config::SessionSettings) -> Result<()> {
    if !d.need_locale {
        return Ok(());
    }
    for name in ["lc_numeric", "lc_monetary"] {
        let value = settings.get_str(name);
        if !is_c_locale(&value) {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "number formatting under {name} \"{value}\" is not supported by tusk"
            );
        }
    }
    Ok(())
}

/// PostgreSQL's `int_to_roman`: `###############` outside 1..=3999.
fn int_to_roman(n: i64) -> String {
    if !(1..=3999).contains(&n) {
        return "#".repeat(15);
    }
    const M: [&str; 4] = ["", "M", "MM", "MMM"];
    const C: [&str; 10] = ["", "C", "CC", "CCC", "CD", "D", "DC", "DCC", "DCCC", "CM"];
    const X: [&str; 10] = ["", "X", "XX", "XXX", "XL", "L", "LX", "LXX", "LXXX", "XC"];
    const I: [&str; 10] = ["", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX"];
    let n = n as usize;
    format!(
        "{}{}{}{}",
        M[n / 1000],
        C[n / 100 % 10],
        X[n / 10 % 10],
        I[n % 10]
    )
}

/// The overflow display: `pre + post + 1` characters `#` with a point at `pre`.
fn hashes(pre: i32, post: i32) -> Vec<u8> {
    let mut s = vec![b'#'; (pre + post + 1).max(0) as usize];
    if let Some(c) = s.get_mut(pre.max(0) as usize) {
        *c = b'.';
    }
    s
}

/// `%.*f` of a double as PostgreSQL's own `snprintf` prints it: the exact digits
/// rounded ties-to-even, and `NaN`, `Infinity`, `-Infinity` spelled out.
fn c_fixed(x: f64, prec: i32) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-Infinity" } else { "Infinity" }.into();
    }
    format!("{:.*}", prec.max(0) as usize, x)
}

/// `%+.*e` of a (finite) double: a sign, the digits, and an exponent of at least
/// two digits with its sign.
fn c_sci(x: f64, prec: i32) -> String {
    let s = format!("{:+.*e}", prec.max(0) as usize, x);
    match s.split_once('e') {
        Some((mant, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mant}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// PostgreSQL's `numeric_out_sci`: one digit before the point, `scale` after, the
/// significand rounded (it may round up to `10.0…`, as PostgreSQL leaves it).
fn numeric_sci(x: &BigDecimal, scale: i32) -> String {
    let scale = scale.max(0) as i64;
    let exponent = if bigdecimal::Zero::is_zero(x) {
        0
    } else {
        x.digits() as i64 - 1 - x.fractional_digit_count()
    };
    let p = BigDecimal::new(1.into(), -exponent);
    let sig = numeric_math::div_to_scale(x, &p, scale).unwrap_or_default();
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{}e{}{:02}", sig.to_plain_string(), sign, exponent.abs())
}

/// The digit string and sign PostgreSQL prepares for an integer (`int4_to_char`,
/// `int8_to_char` after their `V` shift).
fn integer_digits(d: &Desc, text: &str) -> (Vec<u8>, i32, u8) {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (b'-', rest),
        None => (b'+', text),
    };
    let pre_len = digits.len() as i32;
    let mut numstr = digits.as_bytes().to_vec();
    if d.post > 0 {
        numstr.push(b'.');
        numstr.extend(std::iter::repeat_n(b'0', d.post as usize));
    }
    let mut out_pre_spaces = 0;
    if pre_len < d.pre {
        out_pre_spaces = d.pre - pre_len;
    } else if pre_len > d.pre {
        numstr = hashes(d.pre, d.post);
    }
    (numstr, out_pre_spaces, sign)
}

/// The digit string and sign of an already rounded decimal text (`numeric_out` or
/// `%.*f` output), with the `###` overflow.
fn decimal_digits(d: &Desc, text: &str) -> (Vec<u8>, i32, u8) {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (b'-', rest),
        None => (b'+', text),
    };
    let pre_len = digits.find('.').unwrap_or(digits.len()) as i32;
    let mut numstr = digits.as_bytes().to_vec();
    let mut out_pre_spaces = 0;
    if pre_len < d.pre {
        out_pre_spaces = d.pre - pre_len;
    } else if pre_len > d.pre {
        numstr = hashes(d.pre, d.post);
    }
    (numstr, out_pre_spaces, sign)
}

fn int_out_of_range() -> Error {
    err!(sqlstate::NUMERIC_VALUE_OUT_OF_RANGE, "integer out of range")
}

/// `to_char(number, template)` for `integer`/`smallint`, `bigint`, `real`, `double
/// precision` and `numeric` values, under the session's locale settings.
pub fn to_char(v: &Value, fmt: &str, settings: &crate::config::SessionSettings) -> Result<String> {
    if fmt.is_empty() {
        return Ok(String::new());
    }
    let (nodes, mut d) = parse_template(fmt)?;
    check_locale(&d, settings)?;
    let roman = d.has(F_ROMAN);
    let eeee = d.has(F_EEEE);
    let (numstr, out_pre_spaces, sign): (Vec<u8>, i32, u8) = match v {
        Value::Int2(_) | Value::Int4(_) => {
            let n = v.as_i64().unwrap_or(0) as i32;
            if roman {
                (int_to_roman(n as i64).into_bytes(), 0, 0)
            } else if eeee {
                let mut s = c_sci(n as f64, d.post);
                if s.starts_with('+') {
                    s.replace_range(..1, " ");
                }
                (s.into_bytes(), 0, 0)
            } else {
                let shifted = if d.has(F_MULTI) {
                    let m = n.wrapping_mul(10f64.powi(d.multi) as i32);
                    d.pre += d.multi;
                    m
                } else {
                    n
                };
                integer_digits(&d, &shifted.to_string())
            }
        }
        Value::Int8(n) => {
            let n = *n;
            if roman {
                let n = i32::try_from(n).map_err(|_| int_out_of_range())?;
                (int_to_roman(n as i64).into_bytes(), 0, 0)
            } else if eeee {
                let s = numeric_sci(&BigDecimal::from(n), d.post);
                let s = if s.starts_with('-') {
                    s
                } else {
                    format!(" {s}")
                };
                (s.into_bytes(), 0, 0)
            } else {
                let shifted = if d.has(F_MULTI) {
                    let m = n
                        .checked_mul(10f64.powi(d.multi) as i64)
                        .ok_or_else(|| types::out_of_range(DataType::Int8))?;
                    d.pre += d.multi;
                    m
                } else {
                    n
                };
                integer_digits(&d, &shifted.to_string())
            }
        }
        Value::Float4(_) | Value::Float8(_) => {
            let single = matches!(v, Value::Float4(_));
            let x = match v {
                Value::Float4(f) => *f as f64,
                _ => v.as_f64().unwrap_or(0.0),
            };
            if roman {
                let r = x.round_ties_even();
                let n = if r.is_finite() && r.abs() < 2147483648.0 {
                    r as i64
                } else {
                    0
                };
                (int_to_roman(n).into_bytes(), 0, 0)
            } else if eeee {
                if x.is_nan() || x.is_infinite() {
                    let mut s = vec![b'#'; (d.pre + d.post + 6).max(1) as usize];
                    s[0] = b' ';
                    if let Some(c) = s.get_mut((d.pre + 1) as usize) {
                        *c = b'.';
                    }
                    (s, 0, 0)
                } else {
                    let mut s = c_sci(x, d.post);
                    if s.starts_with('+') {
                        s.replace_range(..1, " ");
                    }
                    (s.into_bytes(), 0, 0)
                }
            } else {
                let mut val = x;
                if d.has(F_MULTI) {
                    if single {
                        let multi = 10f64.powi(d.multi) as f32;
                        val = ((x as f32) * multi) as f64;
                    } else {
                        val = x * 10f64.powi(d.multi);
                    }
                    d.pre += d.multi;
                }
                // Only the digits the type holds are printed: 15 for double
                // precision, 6 for real (DBL_DIG, FLT_DIG).
                let max_digits = if single { 6 } else { 15 };
                let pre_len = c_fixed(val.abs(), 0).len() as i32;
                if pre_len >= max_digits {
                    d.post = 0;
                } else if pre_len + d.post > max_digits {
                    d.post = max_digits - pre_len;
                }
                decimal_digits(&d, &c_fixed(val, d.post))
            }
        }
        Value::Numeric(n) => {
            if roman {
                let r = numeric_math::round(n, 0)?;
                let i = r
                    .to_i64()
                    .and_then(|i| i32::try_from(i).ok())
                    .ok_or_else(int_out_of_range)?;
                (int_to_roman(i as i64).into_bytes(), 0, 0)
            } else if eeee {
                let s = numeric_sci(n, d.post);
                let s = if s.starts_with('-') {
                    s
                } else {
                    format!(" {s}")
                };
                (s.into_bytes(), 0, 0)
            } else {
                let val = if d.has(F_MULTI) {
                    let x = numeric_math::power(&BigDecimal::from(10), &BigDecimal::from(d.multi))?;
                    d.pre += d.multi;
                    numeric_math::mul(n, &x)
                } else {
                    (**n).clone()
                };
                let x = numeric_math::round(&val, d.post as i64)?;
                decimal_digits(&d, &x.to_plain_string())
            }
        }
        other => bail!(
            sqlstate::UNDEFINED_FUNCTION,
            "function to_char({}, unknown) does not exist",
            other.data_type().name()
        ),
    };
    let mut p = Proc::new(d, numstr, C_LOCALE);
    p.write(&nodes, out_pre_spaces, sign)
}

/// `to_number(text, template)`; `None` (NULL) for an empty template.
pub fn to_number(
    input: &str,
    fmt: &str,
    settings: &crate::config::SessionSettings,
) -> Result<Option<BigDecimal>> {
    if fmt.is_empty() {
        return Ok(None);
    }
    let (nodes, d) = parse_template(fmt)?;
    check_locale(&d, settings)?;
    let mut p = Proc::new(d, vec![b' '], C_LOCALE);
    let numstr = p.read(&nodes, input.as_bytes())?;
    let scale = p.d.post;
    let precision = p.d.pre + p.d.multi + scale;
    let typmod = ((precision << 16) | scale) + 4;
    let text = String::from_utf8_lossy(&numstr).into_owned();
    let n = match types::parse_text(DataType::Numeric, typmod, &text)? {
        Value::Numeric(n) => *n,
        _ => return Ok(None),
    };
    if p.d.has(F_MULTI) {
        let x = numeric_math::power(&BigDecimal::from(10), &BigDecimal::from(-p.d.multi))?;
        return Ok(Some(numeric_math::mul(&n, &x)));
    }
    Ok(Some(n))
}

/// PostgreSQL's `NUMProc`: the state of one walk over a template.
struct Proc {
    d: Desc,
    loc: Locale,
    /// The digit string (to_char) or the digits read so far after a sign slot
    /// (to_number).
    number: Vec<u8>,
    /// The current position in `number`.
    number_p: usize,
    /// The last non-zero decimal digit of `number` in fill mode.
    last_relevant: Option<usize>,
    sign: u8,
    sign_wrote: bool,
    num_count: i32,
    num_in: bool,
    num_curr: i32,
    out_pre_spaces: i32,
    read_dec: bool,
    read_post: i32,
    read_pre: i32,
    out: Vec<u8>,
    input: Vec<u8>,
    pos: usize,
}

impl Proc {
    fn new(d: Desc, number: Vec<u8>, loc: Locale) -> Proc {
        Proc {
            d,
            loc,
            number,
            number_p: 0,
            last_relevant: None,
            sign: 0,
            sign_wrote: false,
            num_count: 0,
            num_in: false,
            num_curr: 0,
            out_pre_spaces: 0,
            read_dec: false,
            read_post: 0,
            read_pre: 0,
            out: Vec::new(),
            input: Vec::new(),
            pos: 0,
        }
    }

    /// The byte of the digit string at `i` (NUL past its end).
    fn num_at(&self, i: usize) -> u8 {
        self.number.get(i).copied().unwrap_or(0)
    }

    /// The input byte at `i` (NUL past its end).
    fn in_at(&self, i: usize) -> u8 {
        self.input.get(i).copied().unwrap_or(0)
    }

    fn has(&self, f: u32) -> bool {
        self.d.has(f)
    }

    /// "0.1" under "9.9" prints " .1": a leading zero before the point is a blank.
    fn predec_space(&self) -> bool {
        !self.has(F_ZERO) && self.number_p == 0 && self.num_at(0) == b'0' && self.d.post != 0
    }

    fn last_relevant_is_point(&self) -> bool {
        self.last_relevant.is_some_and(|i| self.num_at(i) == b'.')
    }

    fn push(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    // ---- to_char ----------------------------------------------------------------

    fn write(&mut self, nodes: &[Node], out_pre_spaces: i32, sign: u8) -> Result<String> {
        if self.d.zero_start > 0 {
            self.d.zero_start -= 1;
        }
        if self.has(F_EEEE) {
            return Ok(String::from_utf8_lossy(&self.number).into_owned());
        }
        let mut sign = sign;
        let mut out_pre_spaces = out_pre_spaces;
        if self.has(F_ROMAN) {
            self.d.lsign = LSign::None;
            self.d.pre_lsign_num = 0;
            self.d.post = 0;
            self.d.pre = 0;
            out_pre_spaces = 0;
            sign = 0;
            self.d.flag = (self.d.flag & F_FILLMODE) | F_ROMAN;
        }
        self.sign = sign;
        if self.has(F_PLUS) || self.has(F_MINUS) {
            self.sign_wrote = !self.has(F_PLUS) || self.has(F_MINUS);
        } else {
            if self.sign != b'-' && self.has(F_FILLMODE) {
                self.d.flag &= !F_BRACKET;
            }
            self.sign_wrote = self.sign == b'+' && self.has(F_FILLMODE) && !self.has(F_LSIGN);
            if self.d.lsign == LSign::Pre && self.d.pre == self.d.pre_lsign_num {
                self.d.lsign = LSign::Post;
            }
        }
        self.num_count = self.d.post + self.d.pre - 1;
        self.out_pre_spaces = out_pre_spaces;
        if self.has(F_FILLMODE) && self.has(F_DECIMAL) {
            self.last_relevant = self.get_last_relevant_decnum();
            if let Some(lr) = self.last_relevant {
                if self.d.zero_end > self.out_pre_spaces {
                    let last_zero = (self.number.len() as i32 - 1)
                        .min(self.d.zero_end - self.out_pre_spaces)
                        .max(0) as usize;
                    if lr < last_zero {
                        self.last_relevant = Some(last_zero);
                    }
                }
            }
        }
        if !self.sign_wrote && self.out_pre_spaces == 0 {
            self.num_count += 1;
        }
        self.num_in = false;
        self.num_curr = 0;
        self.number_p = 0;
        for n in nodes {
            let key = match n {
                Node::Char(c) => {
                    self.push(c);
                    continue;
                }
                Node::Action(k) => *k,
            };
            let fill = self.has(F_FILLMODE);
            match key {
                Key::Nine | Key::Zero | Key::Dec | Key::D => self.numpart_to_char(key),
                Key::Comma => {
                    if self.num_in {
                        self.push(",");
                    } else if !fill {
                        self.push(" ");
                    }
                }
                Key::G => {
                    let sep = self.loc.thousands_sep;
                    if self.num_in {
                        self.push(sep);
                    } else if !fill {
                        self.push(&" ".repeat(sep.chars().count()));
                    }
                }
                Key::L => {
                    let sym = self.loc.currency_symbol;
                    self.push(sym);
                }
                Key::RnUpper | Key::RnLower => {
                    let mut r = String::from_utf8_lossy(
                        &self.number[self.number_p.min(self.number.len())..],
                    )
                    .into_owned();
                    if key == Key::RnLower {
                        r = r.to_ascii_lowercase();
                    }
                    if fill {
                        self.push(&r);
                    } else {
                        self.push(&format!("{r:>15}"));
                    }
                }
                Key::ThUpper | Key::ThLower => {
                    if self.has(F_ROMAN)
                        || self.num_at(0) == b'#'
                        || self.sign == b'-'
                        || self.has(F_DECIMAL)
                    {
                        continue;
                    }
                    let th = get_th(&self.number)?;
                    if key == Key::ThUpper {
                        self.push(th);
                    } else {
                        self.push(&th.to_ascii_lowercase());
                    }
                }
                Key::Mi => {
                    if self.sign == b'-' {
                        self.push("-");
                    } else if !fill {
                        self.push(" ");
                    }
                }
                Key::Pl => {
                    if self.sign == b'+' {
                        self.push("+");
                    } else if !fill {
                        self.push(" ");
                    }
                }
                // The sign byte itself (a NUL for Roman numerals, where it is unset).
                Key::Sg => self.out.push(self.sign),
                Key::B | Key::C | Key::Eeee | Key::Fm | Key::Pr | Key::Sp | Key::S | Key::V => {}
            }
        }
        // PostgreSQL's result is a C string: a NUL written as a "digit" past the end
        // of a shortened digit string (or as an unset sign) ends it.
        if let Some(end) = self.out.iter().position(|&b| b == 0) {
            self.out.truncate(end);
        }
        Ok(String::from_utf8_lossy(&self.out).into_owned())
    }

    /// PostgreSQL's `get_last_relevant_decnum`: the last non-zero digit after the
    /// point (or the point itself).
    fn get_last_relevant_decnum(&self) -> Option<usize> {
        let p = self.number.iter().position(|&c| c == b'.')?;
        let mut result = p;
        for (i, &c) in self.number.iter().enumerate().skip(p + 1) {
            if c != b'0' {
                result = i;
            }
        }
        Some(result)
    }

    /// PostgreSQL's `NUM_numpart_to_char`: one digit position (or the point).
    fn numpart_to_char(&mut self, id: Key) {
        if self.has(F_ROMAN) {
            return;
        }
        self.num_in = false;
        let fill = self.has(F_FILLMODE);
        if !self.sign_wrote
            && (self.num_curr >= self.out_pre_spaces
                || (self.has(F_ZERO) && self.d.zero_start == self.num_curr))
            && (!self.predec_space() || self.last_relevant_is_point())
        {
            if self.has(F_LSIGN) {
                if self.d.lsign == LSign::Pre {
                    let s = if self.sign == b'-' {
                        self.loc.negative_sign
                    } else {
                        self.loc.positive_sign
                    };
                    self.push(s);
                    self.sign_wrote = true;
                }
            } else if self.has(F_BRACKET) {
                self.push(if self.sign == b'+' { " " } else { "<" });
                self.sign_wrote = true;
            } else if self.sign == b'+' {
                if !fill {
                    self.push(" ");
                }
                self.sign_wrote = true;
            } else if self.sign == b'-' {
                self.push("-");
                self.sign_wrote = true;
            }
        }
        if self.num_curr < self.out_pre_spaces
            && (self.d.zero_start > self.num_curr || !self.has(F_ZERO))
        {
            if !fill {
                self.push(" ");
            }
        } else if self.has(F_ZERO)
            && self.num_curr < self.out_pre_spaces
            && self.d.zero_start <= self.num_curr
        {
            self.push("0");
            self.num_in = true;
        } else {
            if self.num_at(self.number_p) == b'.' {
                if !self.last_relevant_is_point() || fill {
                    let dec = self.loc.decimal;
                    self.push(dec);
                }
            } else if self
                .last_relevant
                .is_some_and(|lr| self.number_p > lr && id != Key::Zero)
            {
                // A trailing zero in fill mode: not written.
            } else if self.predec_space() {
                if !fill {
                    self.push(" ");
                } else if self.last_relevant_is_point() {
                    self.push("0");
                }
            } else {
                let c = self.num_at(self.number_p);
                self.out.push(c);
                self.num_in = true;
            }
            if self.num_at(self.number_p) != 0 {
                self.number_p += 1;
            }
        }
        let mut end = self.num_count
            + if self.out_pre_spaces != 0 { 1 } else { 0 }
            + if self.has(F_DECIMAL) { 1 } else { 0 };
        if self.last_relevant == Some(self.number_p) {
            end = self.num_curr;
        }
        if self.num_curr + 1 == end {
            if self.sign_wrote && self.has(F_BRACKET) {
                self.push(if self.sign == b'+' { " " } else { ">" });
            } else if self.has(F_LSIGN) && self.d.lsign == LSign::Post {
                let s = if self.sign == b'-' {
                    self.loc.negative_sign
                } else {
                    self.loc.positive_sign
                };
                self.push(s);
            }
        }
        self.num_curr += 1;
    }

    // ---- to_number --------------------------------------------------------------

    /// Whether the input is used up.
    fn overload(&self) -> bool {
        self.pos >= self.input.len()
    }

    /// Whether `n` more input bytes are there.
    fn amount(&self, n: usize) -> bool {
        self.pos + n <= self.input.len()
    }

    fn input_starts_with(&self, s: &str) -> bool {
        self.input[self.pos.min(self.input.len())..].starts_with(s.as_bytes())
    }

    /// The byte length of the UTF-8 character at the current input position.
    fn char_len(&self) -> usize {
        match self.in_at(self.pos) {
            b if b < 0x80 => 1,
            b if b >= 0xF0 => 4,
            b if b >= 0xE0 => 3,
            b if b >= 0xC0 => 2,
            _ => 1,
        }
    }

    /// PostgreSQL's `NUM_eat_non_data_chars`: skips up to `n` characters that are not
    /// digits, points, commas or signs.
    fn eat_non_data_chars(&mut self, n: usize) {
        for _ in 0..n {
            if self.overload() || b"0123456789.,+-".contains(&self.in_at(self.pos)) {
                break;
            }
            self.pos += self.char_len();
        }
    }

    fn read(&mut self, nodes: &[Node], input: &[u8]) -> Result<Vec<u8>> {
        self.input = input.to_vec();
        if self.d.zero_start > 0 {
            self.d.zero_start -= 1;
        }
        if self.has(F_EEEE) {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "\"EEEE\" not supported for input"
            );
        }
        if self.has(F_ROMAN) {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "\"RN\" not supported for input"
            );
        }
        self.number = vec![b' '];
        self.number_p = 1;
        for n in nodes {
            if self.overload() {
                break;
            }
            let key = match n {
                Node::Char(_) => {
                    self.pos += self.char_len();
                    continue;
                }
                Node::Action(k) => *k,
            };
            let fill = self.has(F_FILLMODE);
            match key {
                Key::Nine | Key::Zero | Key::Dec | Key::D => self.numpart_from_char(key),
                Key::Comma => {
                    if (!self.num_in && fill) || self.in_at(self.pos) != b',' {
                        continue;
                    }
                }
                Key::G => {
                    if !self.num_in && fill {
                        continue;
                    }
                    let sep = self.loc.thousands_sep;
                    if self.amount(sep.len()) && self.input_starts_with(sep) {
                        self.pos += sep.len() - 1;
                    } else {
                        continue;
                    }
                }
                Key::L => {
                    let n = self.loc.currency_symbol.chars().count();
                    self.eat_non_data_chars(n);
                    continue;
                }
                Key::ThUpper | Key::ThLower => {
                    if self.has(F_ROMAN)
                        || self.num_at(0) == b'#'
                        || self.sign == b'-'
                        || self.has(F_DECIMAL)
                    {
                        continue;
                    }
                    self.eat_non_data_chars(2);
                    continue;
                }
                Key::Mi => {
                    if self.in_at(self.pos) == b'-' {
                        self.number[0] = b'-';
                    } else {
                        self.eat_non_data_chars(1);
                        continue;
                    }
                }
                Key::Pl => {
                    if self.in_at(self.pos) == b'+' {
                        self.number[0] = b'+';
                    } else {
                        self.eat_non_data_chars(1);
                        continue;
                    }
                }
                Key::Sg => {
                    let c = self.in_at(self.pos);
                    if c == b'-' || c == b'+' {
                        self.number[0] = c;
                    } else {
                        self.eat_non_data_chars(1);
                        continue;
                    }
                }
                _ => continue,
            }
            self.pos += 1;
        }
        if self.number.last() == Some(&b'.') {
            self.number.pop();
        }
        self.d.post = self.read_post;
        Ok(std::mem::take(&mut self.number))
    }

    /// PostgreSQL's `NUM_numpart_from_char`: reads a sign, a digit or the point.
    fn numpart_from_char(&mut self, id: Key) {
        if self.overload() {
            return;
        }
        if self.in_at(self.pos) == b' ' {
            self.pos += 1;
        }
        if self.overload() {
            return;
        }
        if self.number[0] == b' '
            && matches!(id, Key::Zero | Key::Nine)
            && self.read_pre + self.read_post == 0
        {
            if self.has(F_LSIGN) && self.d.lsign == LSign::Pre {
                let (neg, pos) = (self.loc.negative_sign, self.loc.positive_sign);
                if self.amount(neg.len()) && self.input_starts_with(neg) {
                    self.pos += neg.len();
                    self.number[0] = b'-';
                } else if self.amount(pos.len()) && self.input_starts_with(pos) {
                    self.pos += pos.len();
                    self.number[0] = b'+';
                }
            } else {
                let c = self.in_at(self.pos);
                if c == b'-' || (self.has(F_BRACKET) && c == b'<') {
                    self.number[0] = b'-';
                    self.pos += 1;
                } else if c == b'+' {
                    self.number[0] = b'+';
                    self.pos += 1;
                }
            }
        }
        if self.overload() {
            return;
        }
        let mut isread = false;
        let c = self.in_at(self.pos);
        if c.is_ascii_digit() {
            if self.read_dec && self.read_post == self.d.post {
                return;
            }
            self.number.push(c);
            if self.read_dec {
                self.read_post += 1;
            } else {
                self.read_pre += 1;
            }
            isread = true;
        } else if self.has(F_DECIMAL) && !self.read_dec {
            let dec = self.loc.decimal;
            if self.amount(dec.len()) && self.input_starts_with(dec) {
                self.pos += dec.len() - 1;
                self.number.push(b'.');
                self.read_dec = true;
                isread = true;
            }
        }
        if self.overload() {
            return;
        }
        if self.number[0] == b' ' && self.read_pre + self.read_post > 0 {
            if self.has(F_LSIGN)
                && isread
                && self.pos + 1 < self.input.len()
                && !self.in_at(self.pos + 1).is_ascii_digit()
            {
                let saved = self.pos;
                self.pos += 1;
                let (neg, pos) = (self.loc.negative_sign, self.loc.positive_sign);
                if self.amount(neg.len()) && self.input_starts_with(neg) {
                    self.pos += neg.len() - 1;
                    self.number[0] = b'-';
                } else if self.amount(pos.len()) && self.input_starts_with(pos) {
                    self.pos += pos.len() - 1;
                    self.number[0] = b'+';
                }
                if self.number[0] == b' ' {
                    self.pos = saved;
                }
            } else if !isread && !self.has(F_LSIGN) && (self.has(F_PLUS) || self.has(F_MINUS)) {
                let c = self.in_at(self.pos);
                if c == b'-' || c == b'+' {
                    self.number[0] = c;
                }
            }
        }
    }
}

/// PostgreSQL's `get_th`: the English ordinal suffix of the digit string's last
/// digit (`TH` for 11–13).
fn get_th(num: &[u8]) -> Result<&'static str> {
    let len = num.len();
    let last = num.last().copied().unwrap_or(0);
    if !last.is_ascii_digit() {
        bail!(
            sqlstate::INVALID_TEXT_REPRESENTATION,
            "\"{}\" is not a number",
            String::from_utf8_lossy(num)
        );
    }
    let last = if len > 1 && num[len - 2] == b'1' {
        0
    } else {
        last
    };
    Ok(match last {
        b'1' => "ST",
        b'2' => "ND",
        b'3' => "RD",
        _ => "TH",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ServerConfig, SessionSettings};
    use std::sync::Arc;

    fn settings() -> SessionSettings {
        SessionSettings::new(Arc::new(ServerConfig::defaults(std::path::Path::new(
            "/nonexistent",
        ))))
    }

    fn fmt(v: Value, t: &str) -> String {
        to_char(&v, t, &settings()).unwrap()
    }

    fn num(s: &str) -> Value {
        Value::numeric(s.parse().unwrap())
    }

    #[test]
    fn digits_signs_and_padding() {
        assert_eq!(fmt(Value::Int4(-123), "999"), "-123");
        assert_eq!(fmt(Value::Int4(1234), "999"), " ###");
        assert_eq!(fmt(num("0.5"), "9.9"), "  .5");
        assert_eq!(fmt(num("-1234.5"), "9,999.99PR"), "<1,234.50>");
        assert_eq!(fmt(num("12"), "FM999.00"), "12.00");
        assert_eq!(fmt(num("-12.5"), "S99.9"), "-12.5");
        assert_eq!(fmt(Value::Int4(12), "999MI"), " 12 ");
        assert_eq!(fmt(Value::Int8(21), "FM99TH"), "21ST");
        assert_eq!(fmt(Value::Int4(1987), "FMRN"), "MCMLXXXVII");
        assert_eq!(fmt(Value::Int4(4), "rn"), "             iv");
        assert_eq!(fmt(Value::Int4(12), ""), "");
    }

    #[test]
    fn scientific_and_floats() {
        assert_eq!(fmt(num("1234.5"), "9.99EEEE"), " 1.23e+03");
        assert_eq!(fmt(num("9.999"), "9.99EEEE"), " 10.00e+00");
        assert_eq!(fmt(Value::Float8(-0.00012345), "9.999EEEE"), "-1.234e-04");
        assert_eq!(fmt(Value::Float8(f64::NAN), "999.9"), " NaN");
        assert_eq!(fmt(Value::Float8(f64::INFINITY), "999.9"), " ###.#");
        // Only 15 digits of a double are printed; the template's rest is cut.
        assert_eq!(
            fmt(Value::Float8(123_456_789_012_345.67), "999999999999999.999"),
            " 123456789012346"
        );
        assert_eq!(fmt(Value::Float4(0.1), "9.999999999"), "  .10000");
    }

    #[test]
    fn template_errors() {
        let e = to_char(&Value::Int4(1), "9.9.9", &settings()).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            ("42601", "multiple decimal points")
        );
        let e = to_char(&Value::Int4(1), "FM9.9EEEE", &settings()).unwrap_err();
        assert_eq!(e.message, "\"EEEE\" is incompatible with other formats");
        let e = to_number("1", "RN", &settings()).unwrap_err();
        assert_eq!(e.code, "0A000");
    }

    #[test]
    fn reading_numbers() {
        let n = |i: &str, t: &str| {
            to_number(i, t, &settings())
                .unwrap()
                .map(|n| n.to_plain_string())
        };
        assert_eq!(n("12,454.8-", "99G999D9S").as_deref(), Some("-12454.8"));
        assert_eq!(n("<123>", "999PR").as_deref(), Some("-123"));
        assert_eq!(n("123.456", "999.9").as_deref(), Some("123.4"));
        assert_eq!(n("12", ""), None);
        let e = to_number("abc", "999", &settings()).unwrap_err();
        assert_eq!(e.message, "invalid input syntax for type numeric: \" \"");
    }

    #[test]
    fn other_locales_are_refused() {
        let mut s = settings();
        s.set("lc_numeric", Some("de_DE.UTF-8"), false, true)
            .unwrap();
        assert_eq!(
            to_char(&Value::Int4(1), "9D9", &s).unwrap_err().code,
            "0A000"
        );
        // Templates without locale patterns do not depend on it.
        assert_eq!(to_char(&Value::Int4(1), "9.9", &s).unwrap(), " 1.0");
    }
}
