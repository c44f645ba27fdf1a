//! The functions of `numeric` whose results PostgreSQL rounds to a scale it chooses
//! itself: `sqrt`, `exp`, `ln`, `log`, `power` (and `^`), and the exact ones around
//! them (`div`, `mod`, `gcd`, `lcm`, `factorial`, `width_bucket`, `scale`,
//! `min_scale`, `trim_scale`, `round`/`trunc` to a scale).
//!
//! What this module owns: for each function, the *result scale* — how many digits
//! after the point PostgreSQL 15 prints — and a value correct to that scale. The
//! scale rules are `numeric.c`'s, restated here from its documented behaviour:
//! - `sqrt(x)`: at least 16 significant digits, never fewer decimals than `x` has;
//!   the estimate works in PostgreSQL's base-10000 digit weights, so `sqrt(2)` gets
//!   15 decimals and `sqrt(0.5)` 17.
//! - `exp(x)`: 16 significant digits from a floating-point estimate of the result's
//!   decimal weight (`x · log10 e`), at least `x`'s scale.
//! - `ln(x)`, `log(b, x)`: 16 significant digits from an estimate of the logarithm's
//!   weight (`ln(1+d) ≈ d` near 1, else the first two base-10000 digits of `x`).
//! - `power(b, e)`: for an integer exponent that fits in 32 bits, scale
//!   `max(16, scale(b))` and PostgreSQL's sequence of binary-exponentiation products,
//!   each rounded to the scale PostgreSQL rounds it to; otherwise `exp(e · ln b)` with
//!   the scale chosen from a low-precision first pass, as PostgreSQL does.
//!
//! Invariant: where PostgreSQL's result is the correctly rounded value (`sqrt`,
//! `ln`, `log`, the exact functions), the result here is rounded once, half away
//! from zero, from an intermediate with enough guard digits that the rounding sees
//! the true value (`ln` is a fixed-point kernel on `BigInt`: an integer `v` at scale
//! `s` stands for `v · 10^-s`). Where PostgreSQL's own steps decide the last digit
//! (`exp`'s Taylor series, `power`'s products) those steps are taken, with each
//! intermediate rounded to the scale PostgreSQL rounds it to. `BigDecimal`'s own
//! division and transcendental functions, which stop at 100 significant digits, are
//! never used.
//!
//! What it must never do: approximate through `f64` where PostgreSQL computes in
//! decimal (floats are used only for the same estimates PostgreSQL makes with
//! floats), or return a value PostgreSQL could not store (a weight beyond
//! base-10000 digit 32767 is its 22003 `value overflows numeric format`).
//!
//! One call, `sqrt(2::numeric)`: [`sqrt`] finds base-10000 weight 0, so the scale is
//! `16 - ((0+1)·4/2 - 1) = 15`; the integer square root of `2·10^32` gives the digits
//! to scale 16; one half-up rounding to scale 15 yields `1.414213562373095`.

use crate::error::{sqlstate, Error, Result};
use crate::{bail, err};
use bigdecimal::num_bigint::{BigInt, Sign};
use bigdecimal::{BigDecimal, One, Signed, ToPrimitive, Zero};

/// PostgreSQL's NUMERIC_MIN_SIG_DIGITS: the significant digits a computed result gets.
const MIN_SIG_DIGITS: i64 = 16;
/// PostgreSQL's NUMERIC_MAX_DISPLAY_SCALE: the largest scale a computed result gets.
const MAX_DISPLAY_SCALE: i64 = 1000;
/// PostgreSQL's NUMERIC_MAX_RESULT_SCALE: the bound of `exp`'s estimates.
const MAX_RESULT_SCALE: i64 = 2000;
/// The largest display scale a numeric can carry (NUMERIC_DSCALE_MAX).
const DSCALE_MAX: i64 = 0x3FFF;
/// Decimal digits per base-10000 digit (PostgreSQL's DEC_DIGITS).
const DEC_DIGITS: i64 = 4;
/// The largest base-10000 weight a stored numeric may have (NUMERIC_WEIGHT_MAX).
const WEIGHT_MAX: i64 = 32767;
/// `log10(e)` as PostgreSQL's estimates write it (one digit short of the `f64`
/// constant; its truncations to integers must match).
#[allow(clippy::approx_constant)]
const LOG10_E: f64 = 0.434294481903252;
/// `log10(2)` as PostgreSQL's `exp` writes it.
#[allow(clippy::approx_constant)]
const LOG10_2: f64 = 0.301029995663981;
/// Guard digits carried by the fixed-point kernels beyond the digits asked for.
const GUARD: i64 = 12;

fn overflow() -> Error {
    err!(
        sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
        "value overflows numeric format"
    )
}

/// `10^n` (`n >= 0`).
fn pow10(n: i64) -> BigInt {
    BigInt::from(10u8).pow(n.max(0) as u32)
}

/// The unscaled integer and the (non-negative) scale of `x`.
fn parts(x: &BigDecimal) -> (BigInt, i64) {
    let (m, s) = x.as_bigint_and_exponent();
    if s < 0 {
        (m * pow10(-s), 0)
    } else {
        (m, s)
    }
}

/// The display scale of `x`: digits after the point (never negative).
pub fn dscale(x: &BigDecimal) -> i64 {
    x.fractional_digit_count().max(0)
}

/// `v / 10^n` rounded half away from zero (`n > 0`), or `v · 10^-n` (`n <= 0`).
fn shift_round(v: &BigInt, n: i64) -> BigInt {
    if n <= 0 {
        return v * pow10(-n);
    }
    let d = pow10(n);
    let (q, r) = (v / &d, v % &d);
    if r.abs() * 2 >= d {
        if v.sign() == Sign::Minus {
            q - 1
        } else {
            q + 1
        }
    } else {
        q
    }
}

/// `x` rounded half away from zero to `scale` decimals (PostgreSQL's `round_var`).
pub fn round_to(x: &BigDecimal, scale: i64) -> BigDecimal {
    let (m, s) = parts(x);
    BigDecimal::new(shift_round(&m, s - scale), scale)
}

/// `x` truncated toward zero to `scale` decimals (PostgreSQL's `trunc_var`).
fn trunc_to(x: &BigDecimal, scale: i64) -> BigDecimal {
    let (m, s) = parts(x);
    let v = if s > scale {
        m / pow10(s - scale)
    } else {
        m * pow10(scale - s)
    };
    BigDecimal::new(v, scale)
}

/// `a / b` rounded half away from zero to `scale` decimals, exactly.
fn div_round(a: &BigDecimal, b: &BigDecimal, scale: i64) -> Result<BigDecimal> {
    let (ma, sa) = parts(a);
    let (mb, sb) = parts(b);
    if mb.is_zero() {
        bail!(sqlstate::DIVISION_BY_ZERO, "division by zero");
    }
    // a/b · 10^scale = ma · 10^(scale - sa + sb) / mb.
    let e = scale - sa + sb;
    let (num, den) = if e >= 0 {
        (ma * pow10(e), mb)
    } else {
        (ma, mb * pow10(-e))
    };
    let (q, r) = (&num / &den, &num % &den);
    let q = if r.abs() * 2 >= den.abs() {
        if (num.sign() == Sign::Minus) != (den.sign() == Sign::Minus) {
            q - 1
        } else {
            q + 1
        }
    } else {
        q
    };
    Ok(BigDecimal::new(q, scale))
}

/// `a + b` at the larger scale of the two, as PostgreSQL's `add_var` (`BigDecimal`'s
/// own `+`/`-` return the other operand unchanged when one is zero, dropping its
/// scale: `1.5 - 0.00` must be `1.50`).
pub fn add(a: &BigDecimal, b: &BigDecimal) -> BigDecimal {
    let (ma, sa) = parts(a);
    let (mb, sb) = parts(b);
    let s = sa.max(sb);
    BigDecimal::new(ma * pow10(s - sa) + mb * pow10(s - sb), s)
}

/// `a - b` at the larger scale of the two (see [`add`]).
pub fn sub(a: &BigDecimal, b: &BigDecimal) -> BigDecimal {
    add(a, &-b)
}

/// `a · b` at the sum of the scales, as PostgreSQL's `numeric_mul` (`BigDecimal`'s own
/// `*` returns the other operand unchanged when one equals one: `12 * 1.00` must be
/// `12.00`).
pub fn mul(a: &BigDecimal, b: &BigDecimal) -> BigDecimal {
    let (ma, sa) = parts(a);
    let (mb, sb) = parts(b);
    BigDecimal::new(ma * mb, sa + sb)
}

/// `a / b` rounded to `scale` decimals — the division every other function here
/// uses, exported for the `/` operator.
pub fn div_to_scale(a: &BigDecimal, b: &BigDecimal, scale: i64) -> Result<BigDecimal> {
    div_round(a, b, scale)
}

/// PostgreSQL's base-10000 form of `|x|`: the weight of the first digit and the
/// digits without trailing zero digits (no digits for zero, weight 0).
fn nbase(x: &BigDecimal) -> (i64, Vec<u32>) {
    let (m, s) = parts(x);
    if m.is_zero() {
        return (0, Vec::new());
    }
    let pad = (DEC_DIGITS - s.rem_euclid(DEC_DIGITS)) % DEC_DIGITS;
    let m = m.abs() * pow10(pad);
    let s = s + pad;
    let text = m.to_string();
    let lead = text.len() % DEC_DIGITS as usize;
    let mut digits = Vec::new();
    if lead > 0 {
        digits.push(text[..lead].parse::<u32>().unwrap_or(0));
    }
    let mut i = lead;
    while i < text.len() {
        digits.push(text[i..i + 4].parse::<u32>().unwrap_or(0));
        i += 4;
    }
    let weight = digits.len() as i64 - 1 - s / DEC_DIGITS;
    while digits.last() == Some(&0) {
        digits.pop();
    }
    (weight, digits)
}

/// `floor(log10(|x|))` for a non-zero `x`.
fn dec_exponent(x: &BigDecimal) -> i64 {
    x.digits() as i64 - 1 - x.fractional_digit_count()
}

/// The base-10000 weight of `x` (0 for zero).
fn weight(x: &BigDecimal) -> i64 {
    if x.is_zero() {
        return 0;
    }
    dec_exponent(x).div_euclid(DEC_DIGITS)
}

/// Fails with 22003 when `x` is beyond what a numeric can hold (as `make_result`).
fn check_range(x: BigDecimal) -> Result<BigDecimal> {
    if !x.is_zero() && weight(&x) > WEIGHT_MAX {
        return Err(overflow());
    }
    Ok(x)
}

fn clamp_scale(rscale: i64) -> i64 {
    rscale.clamp(0, MAX_DISPLAY_SCALE)
}

// ---- fixed-point kernels -------------------------------------------------------

/// `a · b` at scale `w` (both at scale `w`), truncated.
fn fx_mul(a: &BigInt, b: &BigInt, w: i64) -> BigInt {
    (a * b) / pow10(w)
}

/// The natural logarithm of `a` (at scale `w`, `1 <= a <= 10`), at scale `w`, with an
/// error of a few thousand units in the last place: square roots bring `a` below
/// 1.01, then `ln a = 2^(k+1) · atanh((a-1)/(a+1))` as a series.
fn ln_core(a: &BigInt, w: i64) -> BigInt {
    let one = pow10(w);
    let limit = &one + &one / 100;
    let mut a = a.clone();
    let mut halvings = 0u32;
    while a > limit {
        a = (&a * &one).sqrt();
        halvings += 1;
    }
    let z = ((&a - &one) * &one) / (&a + &one);
    let z2 = fx_mul(&z, &z, w);
    let mut sum = z.clone();
    let mut power = z;
    let mut k = 1u64;
    loop {
        power = fx_mul(&power, &z2, w);
        k += 2;
        let term = &power / k;
        if term.is_zero() {
            break;
        }
        sum += term;
    }
    sum << (halvings + 1)
}

/// `ln(x)` for `x > 0` at scale `s`, rounded (error well below one unit at `s`).
fn ln_fixed(x: &BigDecimal, s: i64) -> BigInt {
    let (m, k) = parts(x);
    // x = a · 10^e with 1 <= a < 10.
    let e = dec_exponent(x);
    let ndig = e + 1 + k;
    let w = s + GUARD + e.abs().to_string().len() as i64;
    let shift = w - (ndig - 1);
    let a = if shift >= 0 {
        &m * pow10(shift)
    } else {
        &m / pow10(-shift)
    };
    let mut total = ln_core(&a, w);
    if e != 0 {
        total += ln_core(&(pow10(w) * 10), w) * e;
    }
    shift_round(&total, w - s)
}

// ---- PostgreSQL's scale estimates ----------------------------------------------

/// PostgreSQL's `estimate_ln_dweight`: the decimal weight of `ln(x)`, roughly.
fn estimate_ln_dweight(x: &BigDecimal) -> i64 {
    if x.sign() != Sign::Plus {
        return 0;
    }
    let near_low: BigDecimal = BigDecimal::new(BigInt::from(9), 1);
    let near_high: BigDecimal = BigDecimal::new(BigInt::from(11), 1);
    if *x >= near_low && *x <= near_high {
        let d = x - BigDecimal::one();
        let (w, digits) = nbase(&d);
        return match digits.first() {
            Some(&d0) => w * DEC_DIGITS + (d0 as f64).log10() as i64,
            None => 0,
        };
    }
    let (w, digits) = nbase(x);
    let Some(&d0) = digits.first() else {
        return 0;
    };
    let mut f = d0 as f64;
    let mut dweight = w * DEC_DIGITS;
    if let Some(&d1) = digits.get(1) {
        f = f * 10000.0 + d1 as f64;
        dweight -= DEC_DIGITS;
    }
    let ln = f.ln() + dweight as f64 * std::f64::consts::LN_10;
    ln.abs().log10() as i64
}

fn to_f64(x: &BigDecimal) -> f64 {
    x.to_f64()
        .unwrap_or(if x.is_negative() { f64::MIN } else { f64::MAX })
}

// ---- the functions ---------------------------------------------------------------

/// `sqrt(numeric)`.
pub fn sqrt(x: &BigDecimal) -> Result<BigDecimal> {
    if x.is_negative() {
        bail!(
            sqlstate::INVALID_ARGUMENT_FOR_POWER_FUNCTION,
            "cannot take square root of a negative number"
        );
    }
    // Integer division truncating toward zero, as C's.
    let sweight = (weight(x) + 1) * DEC_DIGITS / 2 - 1;
    let rscale = clamp_scale((MIN_SIG_DIGITS - sweight).max(dscale(x)));
    Ok(sqrt_to_scale(x, rscale))
}

/// The square root of a non-negative `x` rounded to `rscale` digits (PostgreSQL's
/// `sqrt_var`, which the aggregates call with their own scale).
pub fn sqrt_to_scale(x: &BigDecimal, rscale: i64) -> BigDecimal {
    let (m, k) = parts(x);
    // floor(sqrt(x) · 10^(rscale+1)) = isqrt(m · 10^(2·rscale + 2 - k)).
    let e = 2 * (rscale + 1) - k;
    let radicand = if e >= 0 { m * pow10(e) } else { m / pow10(-e) };
    let root = radicand.sqrt();
    BigDecimal::new(shift_round(&root, 1), rscale)
}

/// PostgreSQL's `exp_var`: `e^x` rounded to `rscale`, 22003 beyond what a numeric
/// holds, zero far below it. The steps are PostgreSQL's — `x` halved until it is
/// below 0.01, the Taylor series with every term rounded to the working scale
/// PostgreSQL picks, then squared back — because its result is not always the
/// correctly rounded one (for a tiny `x` whose digits reach beyond the working
/// scale, the series stops after `1 + x`), and the digits printed must be its.
fn exp_var(x: &BigDecimal, rscale: i64) -> Result<BigDecimal> {
    let val = to_f64(x);
    if val.abs() >= (MAX_RESULT_SCALE * 3) as f64 {
        if val > 0.0 {
            return Err(overflow());
        }
        return Ok(BigDecimal::new(BigInt::zero(), rscale));
    }
    let dweight = (val * LOG10_E) as i64;
    let mut x = x.clone();
    let mut halvings = 0i64;
    if val.abs() > 0.01 {
        let mut v = val / 2.0;
        halvings = 1;
        while v.abs() > 0.01 {
            halvings += 1;
            v /= 2.0;
        }
        let local = dscale(&x) + halvings;
        x = div_round(&x, &BigDecimal::from(1i64 << halvings), local)?;
    }
    // The result has dweight + rscale + 1 significant digits; squaring back costs
    // about log10(2) digits per halving.
    let sig_digits = (1 + dweight + rscale + (halvings as f64 * LOG10_2) as i64).max(0) + 8;
    let local = sig_digits - 1;
    let mut result = BigDecimal::one() + &x;
    let mut term = div_round(&round_to(&(&x * &x), local), &BigDecimal::from(2), local)?;
    let mut n = 2i64;
    while !term.is_zero() {
        result += &term;
        n += 1;
        term = div_round(&round_to(&(&term * &x), local), &BigDecimal::from(n), local)?;
    }
    for _ in 0..halvings {
        let local = (sig_digits - weight(&result) * 2 * DEC_DIGITS).max(0);
        result = round_to(&(&result * &result), local);
    }
    check_range(round_to(&result, rscale))
}

/// `exp(numeric)`.
pub fn exp(x: &BigDecimal) -> Result<BigDecimal> {
    let val = (to_f64(x) * LOG10_E).clamp(-MAX_RESULT_SCALE as f64, MAX_RESULT_SCALE as f64);
    let rscale = clamp_scale((MIN_SIG_DIGITS - val as i64).max(dscale(x)));
    exp_var(x, rscale)
}

/// PostgreSQL's checks of a logarithm's argument.
fn check_log_arg(x: &BigDecimal) -> Result<()> {
    if x.is_zero() {
        bail!(
            sqlstate::INVALID_ARGUMENT_FOR_LOG,
            "cannot take logarithm of zero"
        );
    }
    if x.is_negative() {
        bail!(
            sqlstate::INVALID_ARGUMENT_FOR_LOG,
            "cannot take logarithm of a negative number"
        );
    }
    Ok(())
}

/// PostgreSQL's `ln_var`: `ln(x)` rounded to `rscale`.
fn ln_var(x: &BigDecimal, rscale: i64) -> Result<BigDecimal> {
    check_log_arg(x)?;
    let v = ln_fixed(x, rscale + 4);
    Ok(BigDecimal::new(shift_round(&v, 4), rscale))
}

/// `ln(numeric)`.
pub fn ln(x: &BigDecimal) -> Result<BigDecimal> {
    check_log_arg(x)?;
    let rscale = clamp_scale((MIN_SIG_DIGITS - estimate_ln_dweight(x)).max(dscale(x)));
    ln_var(x, rscale)
}

/// `log(base, x)` on numeric (also `log(x)` and `log10(x)`, with base 10).
pub fn log(base: &BigDecimal, x: &BigDecimal) -> Result<BigDecimal> {
    check_log_arg(base)?;
    check_log_arg(x)?;
    let base_dweight = estimate_ln_dweight(base);
    let x_dweight = estimate_ln_dweight(x);
    let result_dweight = x_dweight - base_dweight;
    let rscale = clamp_scale(
        (MIN_SIG_DIGITS - result_dweight)
            .max(dscale(base))
            .max(dscale(x)),
    );
    // Each logarithm gets more significant digits than the quotient needs.
    let base_rscale = (rscale + result_dweight - base_dweight + 8).max(0);
    let x_rscale = (rscale + result_dweight - x_dweight + 8).max(0);
    let ln_base = ln_var(base, base_rscale)?;
    let ln_x = ln_var(x, x_rscale)?;
    div_round(&ln_x, &ln_base, rscale)
}

/// The numeric as an `i64` when it is an integer that fits.
fn as_integer(x: &BigDecimal) -> Option<i64> {
    if !x.is_integer() {
        return None;
    }
    let (m, s) = parts(x);
    (m / pow10(s)).to_i64()
}

/// `power(numeric, numeric)` and `numeric ^ numeric`.
pub fn power(base: &BigDecimal, exp: &BigDecimal) -> Result<BigDecimal> {
    if base.is_zero() && exp.is_negative() {
        bail!(
            sqlstate::INVALID_ARGUMENT_FOR_POWER_FUNCTION,
            "zero raised to a negative power is undefined"
        );
    }
    if let Some(n) = as_integer(exp).and_then(|n| i32::try_from(n).ok()) {
        let rscale = clamp_scale(MIN_SIG_DIGITS.max(dscale(base)));
        return power_int(base, n, rscale);
    }
    if base.is_zero() {
        return Ok(BigDecimal::new(BigInt::zero(), MIN_SIG_DIGITS));
    }
    let mut negate = false;
    let mut abs_base = base.clone();
    if base.is_negative() {
        if !exp.is_integer() {
            bail!(
                sqlstate::INVALID_ARGUMENT_FOR_POWER_FUNCTION,
                "a negative number raised to a non-integer power yields a complex result"
            );
        }
        // An integer exponent too large for 32 bits: odd when its last base-10000
        // digit is odd and is the units digit.
        let (w, digits) = nbase(exp);
        negate = digits.len() as i64 == w + 1 && digits.last().is_some_and(|d| d % 2 == 1);
        abs_base = base.abs();
    }
    let ln_dweight = estimate_ln_dweight(&abs_base);
    // A first pass with about 8 significant digits estimates the result's weight.
    let local = (8 - ln_dweight).max(0);
    let ln_base = ln_var(&abs_base, local)?;
    let ln_num = round_to(&(ln_base * exp), local);
    let val = to_f64(&ln_num);
    if val.abs() > MAX_RESULT_SCALE as f64 * 3.01 {
        if val > 0.0 {
            return Err(overflow());
        }
        return Ok(BigDecimal::new(BigInt::zero(), MAX_DISPLAY_SCALE));
    }
    let val = val * LOG10_E;
    let rscale = clamp_scale(
        (MIN_SIG_DIGITS - val as i64)
            .max(dscale(&abs_base))
            .max(dscale(exp)),
    );
    let sig_digits = (rscale + val as i64).max(0);
    let local = (sig_digits - ln_dweight + 8).max(0);
    let ln_base = ln_var(&abs_base, local)?;
    let ln_num = round_to(&(ln_base * exp), local);
    let r = exp_var(&ln_num, rscale)?;
    Ok(if negate { -r } else { r })
}

/// PostgreSQL's `power_var_int`: `base^n` for a 32-bit integer `n`, by binary
/// exponentiation with each product rounded to the scale PostgreSQL rounds it to.
fn power_int(base: &BigDecimal, n: i32, rscale: i64) -> Result<BigDecimal> {
    match n {
        0 => return Ok(BigDecimal::new(pow10(rscale), rscale)),
        1 => return Ok(round_to(base, rscale)),
        -1 => return div_round(&BigDecimal::one(), base, rscale),
        2 => return check_range(round_to(&(base * base), rscale)),
        _ => {}
    }
    let (w, digits) = nbase(base);
    if digits.is_empty() {
        if n < 0 {
            bail!(sqlstate::DIVISION_BY_ZERO, "division by zero");
        }
        return Ok(BigDecimal::new(BigInt::zero(), rscale));
    }
    // base ~= f · 10^p, from its first 16 or so decimal digits.
    let mut f = digits[0] as f64;
    let mut p = w * DEC_DIGITS;
    for (i, d) in digits.iter().enumerate().skip(1) {
        if i as i64 * DEC_DIGITS >= 16 {
            break;
        }
        f = f * 10000.0 + *d as f64;
        p -= DEC_DIGITS;
    }
    let f = n as f64 * (f.log10() + p as f64);
    if f > (3 * WEIGHT_MAX * DEC_DIGITS) as f64 {
        return Err(overflow());
    }
    if f + 1.0 < -rscale as f64 || f + 1.0 < -MAX_DISPLAY_SCALE as f64 {
        return Ok(BigDecimal::new(BigInt::zero(), rscale));
    }
    let sig_digits = 1 + rscale + f as i64 + (n as f64).abs().ln() as i64 + 8;
    let neg = n < 0;
    let mut mask = n.unsigned_abs();
    let mut base_prod = base.clone();
    let mut result = if mask & 1 == 1 {
        base.clone()
    } else {
        BigDecimal::one()
    };
    loop {
        mask >>= 1;
        if mask == 0 {
            break;
        }
        let local = (sig_digits - 2 * weight(&base_prod) * DEC_DIGITS)
            .min(2 * dscale(&base_prod))
            .max(0);
        base_prod = round_to(&(&base_prod * &base_prod), local);
        if mask & 1 == 1 {
            let local = (sig_digits - (weight(&base_prod) + weight(&result)) * DEC_DIGITS)
                .min(dscale(&base_prod) + dscale(&result))
                .max(0);
            result = round_to(&(&base_prod * &result), local);
        }
        if weight(&base_prod) > WEIGHT_MAX || weight(&result) > WEIGHT_MAX {
            if !neg {
                return Err(overflow());
            }
            return Ok(BigDecimal::new(BigInt::zero(), rscale));
        }
    }
    if neg {
        div_round(&BigDecimal::one(), &result, rscale)
    } else {
        check_range(round_to(&result, rscale))
    }
}

/// `div(numeric, numeric)`: the quotient truncated toward zero, scale 0.
pub fn div_trunc(a: &BigDecimal, b: &BigDecimal) -> Result<BigDecimal> {
    let (ma, sa) = parts(a);
    let (mb, sb) = parts(b);
    if mb.is_zero() {
        bail!(sqlstate::DIVISION_BY_ZERO, "division by zero");
    }
    let s = sa.max(sb);
    let q = (ma * pow10(s - sa)) / (mb * pow10(s - sb));
    Ok(BigDecimal::new(q, 0))
}

/// `mod(numeric, numeric)` and `%`: `a - trunc(a/b)·b`, at the larger input scale.
pub fn modulo(a: &BigDecimal, b: &BigDecimal) -> Result<BigDecimal> {
    let (ma, sa) = parts(a);
    let (mb, sb) = parts(b);
    if mb.is_zero() {
        bail!(sqlstate::DIVISION_BY_ZERO, "division by zero");
    }
    let s = sa.max(sb);
    let r = (ma * pow10(s - sa)) % (mb * pow10(s - sb));
    Ok(BigDecimal::new(r, s))
}

fn bigint_gcd(mut a: BigInt, mut b: BigInt) -> BigInt {
    a = a.abs();
    b = b.abs();
    while !b.is_zero() {
        let r = &a % &b;
        a = b;
        b = r;
    }
    a
}

/// `gcd(numeric, numeric)`: at the larger input scale, never negative.
pub fn gcd(a: &BigDecimal, b: &BigDecimal) -> BigDecimal {
    let (ma, sa) = parts(a);
    let (mb, sb) = parts(b);
    let s = sa.max(sb);
    BigDecimal::new(bigint_gcd(ma * pow10(s - sa), mb * pow10(s - sb)), s)
}

/// `lcm(numeric, numeric)`: at the larger input scale, zero when either is zero.
pub fn lcm(a: &BigDecimal, b: &BigDecimal) -> Result<BigDecimal> {
    let (ma, sa) = parts(a);
    let (mb, sb) = parts(b);
    let s = sa.max(sb);
    let (x, y) = (ma * pow10(s - sa), mb * pow10(s - sb));
    if x.is_zero() || y.is_zero() {
        return Ok(BigDecimal::new(BigInt::zero(), s));
    }
    let g = bigint_gcd(x.clone(), y.clone());
    check_range(BigDecimal::new((x / g * y).abs(), s))
}

/// The product of the integers in `lo..=hi`, split in halves so that the big
/// multiplications are balanced.
fn product(lo: i64, hi: i64) -> BigInt {
    if hi - lo < 8 {
        return (lo..=hi).fold(BigInt::one(), |p, k| p * k);
    }
    let mid = lo + (hi - lo) / 2;
    product(lo, mid) * product(mid + 1, hi)
}

/// `factorial(bigint)`.
pub fn factorial(n: i64) -> Result<BigDecimal> {
    if n < 0 {
        bail!(
            sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
            "factorial of a negative number is undefined"
        );
    }
    // 32178! has more than 131072 digits, beyond a numeric's weight limit.
    if n > 32177 {
        return Err(overflow());
    }
    Ok(BigDecimal::new(product(2, n.max(1)), 0))
}

/// `scale(numeric)`: the display scale.
pub fn scale(x: &BigDecimal) -> i32 {
    dscale(x) as i32
}

/// `min_scale(numeric)`: the fewest decimals that represent the value exactly.
pub fn min_scale(x: &BigDecimal) -> i32 {
    let (mut m, mut s) = parts(x);
    if m.is_zero() {
        return 0;
    }
    let ten = BigInt::from(10u8);
    while s > 0 && (&m % &ten).is_zero() {
        m /= &ten;
        s -= 1;
    }
    s as i32
}

/// `trim_scale(numeric)`: the value with trailing fractional zeros dropped.
pub fn trim_scale(x: &BigDecimal) -> BigDecimal {
    let s = min_scale(x) as i64;
    trunc_to(x, s)
}

/// The scale `round`/`trunc` use for a requested one: at most the largest display
/// scale, at least the position beyond the largest weight.
fn round_scale(s: i64) -> i64 {
    s.clamp(-(WEIGHT_MAX + 1) * DEC_DIGITS, DSCALE_MAX)
}

/// `round(numeric, int)`: to `s` decimals, to tens, hundreds… for negative `s`.
pub fn round(x: &BigDecimal, s: i64) -> Result<BigDecimal> {
    let s = round_scale(s);
    let r = round_to(x, s);
    check_range(if s < 0 { r.with_scale(0) } else { r })
}

/// `trunc(numeric, int)`: like [`round`] but toward zero.
pub fn trunc(x: &BigDecimal, s: i64) -> BigDecimal {
    let s = round_scale(s);
    let r = trunc_to(x, s);
    if s < 0 {
        r.with_scale(0)
    } else {
        r
    }
}

/// `width_bucket(numeric, numeric, numeric, int)`: exact, in decimal.
pub fn width_bucket(x: &BigDecimal, lo: &BigDecimal, hi: &BigDecimal, count: i32) -> Result<i32> {
    if count <= 0 {
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
    let out_of_range = || err!(sqlstate::NUMERIC_VALUE_OUT_OF_RANGE, "integer out of range");
    let (below, above) = if lo < hi {
        (x < lo, x >= hi)
    } else {
        (x > lo, x <= hi)
    };
    if below {
        return Ok(0);
    }
    if above {
        return count.checked_add(1).ok_or_else(out_of_range);
    }
    // floor(count · (x - lo) / (hi - lo)) + 1, all differences taken positive.
    let (num, den) = if lo < hi {
        (x - lo, hi - lo)
    } else {
        (lo - x, lo - hi)
    };
    let q = div_trunc(&(num * BigDecimal::from(count)), &den)?;
    let b = q.to_i64().unwrap_or(i64::MAX) + 1;
    i32::try_from(b.min(count as i64)).map_err(|_| out_of_range())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> BigDecimal {
        s.parse().unwrap()
    }

    fn s(r: Result<BigDecimal>) -> String {
        r.unwrap().to_plain_string()
    }

    #[test]
    fn sqrt_scale_and_rounding() {
        assert_eq!(s(sqrt(&n("2"))), "1.414213562373095");
        assert_eq!(s(sqrt(&n("5"))), "2.236067977499790");
        assert_eq!(s(sqrt(&n("0.5"))), "0.70710678118654752");
        assert_eq!(s(sqrt(&n("0"))), "0.000000000000000");
        assert_eq!(
            s(sqrt(&n("1e-20").with_scale(20))),
            "0.0000000001000000000000000"
        );
        assert_eq!(sqrt(&n("-1")).unwrap_err().code, "2201F");
    }

    #[test]
    fn exp_and_ln_digits() {
        assert_eq!(s(exp(&n("1"))), "2.7182818284590452");
        assert_eq!(s(exp(&n("10"))), "22026.465794806717");
        assert_eq!(s(exp(&n("-10"))), "0.00004539992976248485");
        assert_eq!(s(ln(&n("2"))), "0.6931471805599453");
        assert_eq!(s(ln(&n("1.1"))), "0.09531017980432486");
        assert_eq!(s(ln(&n("0.9"))), "-0.10536051565782630");
        assert_eq!(exp(&n("6000")).unwrap_err().code, "22003");
        // PostgreSQL's series stops after 1 + x here; the true value rounds up.
        assert_eq!(
            s(power(&n("1.00000000000000000001"), &n("1.5"))),
            "1.00000000000000000001"
        );
        assert_eq!(ln(&n("0")).unwrap_err().code, "2201E");
    }

    #[test]
    fn log_and_power_digits() {
        assert_eq!(s(log(&n("10"), &n("100"))), "2.0000000000000000");
        assert_eq!(s(log(&n("2"), &n("1024"))), "10.0000000000000000");
        assert_eq!(log(&n("1"), &n("2")).unwrap_err().code, "22012");
        assert_eq!(s(power(&n("2"), &n("10"))), "1024.0000000000000000");
        assert_eq!(s(power(&n("2"), &n("0.5"))), "1.4142135623730950");
        assert_eq!(s(power(&n("2"), &n("3.5"))), "11.313708498984760");
        assert_eq!(s(power(&n("1.1"), &n("100"))), "13780.6123398222701841");
        assert_eq!(s(power(&n("10"), &n("-2"))), "0.0100000000000000");
        assert_eq!(power(&n("0"), &n("-1")).unwrap_err().code, "2201F");
        assert_eq!(power(&n("-2"), &n("0.5")).unwrap_err().code, "2201F");
        assert_eq!(power(&n("10"), &n("131072")).unwrap_err().code, "22003");
    }

    #[test]
    fn exact_functions() {
        assert_eq!(s(div_trunc(&n("-7.5"), &n("2"))), "-3");
        assert_eq!(mul(&n("12"), &n("1.00")).to_plain_string(), "12.00");
        assert_eq!(sub(&n("1.5"), &n("0.00")).to_plain_string(), "1.50");
        assert_eq!(sub(&n("0.00"), &n("1.5")).to_plain_string(), "-1.50");
        assert_eq!(add(&n("0.000"), &n("2")).to_plain_string(), "2.000");
        assert_eq!(s(modulo(&n("-7.5"), &n("2"))), "-1.5");
        assert_eq!(gcd(&n("12.0"), &n("18")).to_plain_string(), "6.0");
        assert_eq!(s(lcm(&n("1.5"), &n("0.25"))), "1.50");
        assert_eq!(min_scale(&n("1.2300")), 2);
        assert_eq!(trim_scale(&n("100.000")).to_plain_string(), "100");
        assert_eq!(s(round(&n("1234.5678"), -2)), "1200");
        assert_eq!(
            round(&n("1.5"), 20000).unwrap().fractional_digit_count(),
            16383
        );
        assert_eq!(trunc(&n("-1234.5678"), 1).to_plain_string(), "-1234.5");
        assert_eq!(
            width_bucket(&n("5.35"), &n("0.024"), &n("10.06"), 5).unwrap(),
            3
        );
        assert_eq!(factorial(-1).unwrap_err().code, "22003");
        assert_eq!(s(factorial(20)), "2432902008176640000");
    }
}
