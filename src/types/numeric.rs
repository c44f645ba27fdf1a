//! Numeric typmods, rounding and division scale, as PostgreSQL's `numeric.c` defines them.

use crate::error::{sqlstate, Result};
use crate::{bail, err};
use bigdecimal::{BigDecimal, RoundingMode, Signed, ToPrimitive, Zero};

/// The typmod for `numeric(precision, scale)`.
pub fn numeric_typmod(precision: u32, scale: u32) -> i32 {
    (((precision << 16) | scale) + 4) as i32
}

/// Rounds a numeric to its column's typmod and checks the precision, with PostgreSQL's
/// `numeric field overflow` error.
pub fn apply_typmod(n: BigDecimal, typmod: i32) -> Result<BigDecimal> {
    if typmod < 4 {
        return Ok(n);
    }
    let t = typmod - 4;
    let precision = (t >> 16) & 0xffff;
    let scale = t & 0xffff;
    let r = n.with_scale_round(scale as i64, RoundingMode::HalfUp);
    let maxdigits = precision - scale;
    if !r.is_zero() && r.abs().order_of_magnitude() >= maxdigits as i64 {
        let bound = if maxdigits > 0 {
            format!("10^{maxdigits}")
        } else {
            "1".to_string()
        };
        return Err(err!(sqlstate::NUMERIC_VALUE_OUT_OF_RANGE, "numeric field overflow")
            .with_detail(format!(
                "A field with precision {precision}, scale {scale} must round to an absolute value less than {bound}."
            )));
    }
    Ok(r)
}

/// The display scale of a numeric (digits after the point, at least 0).
fn dscale(n: &BigDecimal) -> i64 {
    n.fractional_digit_count().max(0)
}

/// PostgreSQL's base-10000 weight and first digit of a numeric.
fn weight_and_first(n: &BigDecimal) -> (i64, i64) {
    if n.is_zero() {
        return (0, 0);
    }
    let e = n.abs().order_of_magnitude();
    let weight = e.div_euclid(4);
    let (digits, scale) = n.as_bigint_and_exponent();
    let shifted = BigDecimal::new(digits.abs(), scale + 4 * weight)
        .with_scale_round(0, RoundingMode::Down)
        .to_i64()
        .unwrap_or(0);
    (weight, shifted)
}

/// Divides numerics with PostgreSQL's result scale (`select_div_scale`: at least 16
/// significant digits, at least the inputs' scales), rounding half away from zero.
pub fn numeric_div(a: &BigDecimal, b: &BigDecimal) -> Result<BigDecimal> {
    if b.is_zero() {
        bail!(sqlstate::DIVISION_BY_ZERO, "division by zero");
    }
    super::numeric_math::div_to_scale(a, b, div_scale(a, b))
}

/// PostgreSQL's `select_div_scale`: the result scale of `a / b`.
pub fn div_scale(a: &BigDecimal, b: &BigDecimal) -> i64 {
    let (w1, f1) = weight_and_first(a);
    let (w2, f2) = weight_and_first(b);
    let mut qweight = w1 - w2;
    if f1 <= f2 {
        qweight -= 1;
    }
    (16 - qweight * 4)
        .max(dscale(a))
        .max(dscale(b))
        .clamp(0, 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> BigDecimal {
        s.parse().unwrap()
    }

    #[test]
    fn division_scale_matches_postgres() {
        assert_eq!(
            numeric_div(&n("3"), &n("2")).unwrap().to_plain_string(),
            "1.5000000000000000"
        );
        assert_eq!(
            numeric_div(&n("1"), &n("3")).unwrap().to_plain_string(),
            "0.33333333333333333333"
        );
        assert_eq!(
            numeric_div(&n("10"), &n("4")).unwrap().to_plain_string(),
            "2.5000000000000000"
        );
        assert_eq!(numeric_div(&n("1"), &n("0")).unwrap_err().code, "22012");
    }

    #[test]
    fn typmod_rounds_and_overflows() {
        let tm = numeric_typmod(5, 2);
        assert_eq!(
            apply_typmod(n("1.005"), tm).unwrap().to_plain_string(),
            "1.01"
        );
        assert_eq!(
            apply_typmod(n("-2.5"), numeric_typmod(3, 0))
                .unwrap()
                .to_plain_string(),
            "-3"
        );
        let e = apply_typmod(n("1000"), tm).unwrap_err();
        assert_eq!(e.message, "numeric field overflow");
        assert_eq!(
            e.detail.as_deref(),
            Some(
                "A field with precision 5, scale 2 must round to an absolute value less than 10^3."
            )
        );
    }
}
