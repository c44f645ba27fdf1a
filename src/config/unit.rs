//! Units of memory and time settings, converted and printed as PostgreSQL 15 does.
//!
//! Every integer or real setting with a unit stores its value in a *base unit*: bytes,
//! kilobytes, megabytes, 8 kB blocks, milliseconds, seconds or minutes (see
//! [`Unit`]). Input such as `128MB` or `1min` is converted into the base unit with
//! [`to_base`]; output (SHOW, log lines) picks the largest unit that divides the value
//! exactly with [`int_from_base`] / [`real_from_base`], so 131072 kB prints `128MB` and
//! 60000 ms prints `1min`.
//!
//! Invariant: the conversion tables list units from the largest to the smallest for each
//! base unit, exactly as PostgreSQL's `memory_unit_conversion_table` and
//! `time_unit_conversion_table` do; unit names are case-sensitive (`5 S` is invalid).
//!
//! Walk through one conversion, `SET work_mem = '1.5MB'`:
//! 1. the value parser splits the number `1.5` from the unit `MB`;
//! 2. [`to_base`] finds `MB` for base unit kB (multiplier 1024) and rounds the product to
//!    a multiple of the next smaller unit (kB): 1536;
//! 3. SHOW calls [`int_from_base`]`(1536, Kb)`: 1536 kB is not a whole number of TB, GB
//!    or MB, so the answer is `(1536, "kB")`, printed `1536kB`.

use super::Unit;

const KB: f64 = 1024.0;
const BLCKSZ_KB: f64 = 8.0;

/// One row of a conversion table: a unit name and how many base units it holds.
type Conv = (&'static str, f64);

const BYTES: &[Conv] = &[
    ("TB", KB * KB * KB * KB),
    ("GB", KB * KB * KB),
    ("MB", KB * KB),
    ("kB", KB),
    ("B", 1.0),
];
const KBS: &[Conv] = &[
    ("TB", KB * KB * KB),
    ("GB", KB * KB),
    ("MB", KB),
    ("kB", 1.0),
    ("B", 1.0 / KB),
];
const MBS: &[Conv] = &[
    ("TB", KB * KB),
    ("GB", KB),
    ("MB", 1.0),
    ("kB", 1.0 / KB),
    ("B", 1.0 / (KB * KB)),
];
const BLOCKS: &[Conv] = &[
    ("TB", (KB * KB * KB) / BLCKSZ_KB),
    ("GB", (KB * KB) / BLCKSZ_KB),
    ("MB", KB / BLCKSZ_KB),
    ("kB", 1.0 / BLCKSZ_KB),
    ("B", 1.0 / (BLCKSZ_KB * KB)),
];
const MSS: &[Conv] = &[
    ("d", 1000.0 * 60.0 * 60.0 * 24.0),
    ("h", 1000.0 * 60.0 * 60.0),
    ("min", 1000.0 * 60.0),
    ("s", 1000.0),
    ("ms", 1.0),
    ("us", 1.0 / 1000.0),
];
const SS: &[Conv] = &[
    ("d", 60.0 * 60.0 * 24.0),
    ("h", 60.0 * 60.0),
    ("min", 60.0),
    ("s", 1.0),
    ("ms", 1.0 / 1000.0),
    ("us", 1.0 / (1000.0 * 1000.0)),
];
const MINS: &[Conv] = &[
    ("d", 60.0 * 24.0),
    ("h", 60.0),
    ("min", 1.0),
    ("s", 1.0 / 60.0),
    ("ms", 1.0 / (1000.0 * 60.0)),
    ("us", 1.0 / (1000.0 * 1000.0 * 60.0)),
];

fn table(base: Unit) -> &'static [Conv] {
    match base {
        Unit::None => &[],
        Unit::Bytes => BYTES,
        Unit::Kb => KBS,
        Unit::Mb => MBS,
        Unit::Blocks => BLOCKS,
        Unit::Ms => MSS,
        Unit::S => SS,
        Unit::Min => MINS,
    }
}

/// Returns true when the unit measures memory (as opposed to time).
pub fn is_memory(base: Unit) -> bool {
    matches!(base, Unit::Bytes | Unit::Kb | Unit::Mb | Unit::Blocks)
}

/// The unit's name as the `unit` column of `pg_settings` and range errors print it
/// (`8kB` for blocks), or None for a unitless setting.
pub fn unit_name(base: Unit) -> Option<&'static str> {
    match base {
        Unit::None => None,
        Unit::Bytes => Some("B"),
        Unit::Kb => Some("kB"),
        Unit::Mb => Some("MB"),
        Unit::Blocks => Some("8kB"),
        Unit::Ms => Some("ms"),
        Unit::S => Some("s"),
        Unit::Min => Some("min"),
    }
}

/// The hint PostgreSQL gives when a unit is not recognised for a setting of this base
/// unit.
pub fn units_hint(base: Unit) -> Option<&'static str> {
    if is_memory(base) {
        Some("Valid units for this parameter are \"B\", \"kB\", \"MB\", \"GB\", and \"TB\".")
    } else if base == Unit::None {
        None
    } else {
        Some("Valid units for this parameter are \"us\", \"ms\", \"s\", \"min\", \"h\", and \"d\".")
    }
}

/// Converts `value` given in unit `unit` (the text after the number, surrounding blanks
/// allowed) into the base unit `base`; None when the unit is not valid for `base`.
/// Fractional results are rounded to a multiple of the next smaller unit, as PostgreSQL
/// does ("30.1GB" becomes a whole number of MB).
pub fn to_base(value: f64, unit: &str, base: Unit) -> Option<f64> {
    let unit = unit.trim_matches(|c: char| c.is_ascii_whitespace());
    if unit.is_empty() || unit.len() > 3 {
        return None;
    }
    let t = table(base);
    let i = t.iter().position(|(name, _)| *name == unit)?;
    let mut v = value * t[i].1;
    if let Some((_, smaller)) = t.get(i + 1) {
        v = (v / smaller).round_ties_even() * smaller;
    }
    Some(v)
}

/// Expresses a positive integer value in base unit `base` in the largest unit that
/// divides it exactly, as SHOW prints it; zero, negative values and unitless settings
/// come back unchanged with an empty unit.
pub fn int_from_base(value: i64, base: Unit) -> (i64, &'static str) {
    if value <= 0 || base == Unit::None {
        return (value, "");
    }
    for (name, mult) in table(base) {
        if *mult <= 1.0 || value % (*mult as i64) == 0 {
            return ((value as f64 / mult).round_ties_even() as i64, name);
        }
    }
    (value, "")
}

/// Expresses a positive real value in base unit `base` in the largest unit in which it
/// prints as a whole number (within a relative 1e-8, as PostgreSQL allows for roundoff),
/// or else in the smallest unit, as SHOW prints it.
pub fn real_from_base(value: f64, base: Unit) -> (f64, &'static str) {
    if value <= 0.0 || base == Unit::None {
        return (value, "");
    }
    let t = table(base);
    for (name, mult) in t {
        let v = value / mult;
        if v > 0.0 && (v.round_ties_even() / v - 1.0).abs() <= 1e-8 {
            return (v, name);
        }
    }
    let (name, mult) = t[t.len() - 1];
    (value / mult, name)
}

/// Formats a byte count the way SHOW prints a byte-unit setting: `16MB`, `1536kB`, `0`.
pub fn format_bytes(bytes: i64) -> String {
    let (v, u) = int_from_base(bytes, Unit::Bytes);
    format!("{v}{u}")
}

/// Formats a duration in milliseconds the way SHOW prints a ms-unit setting: `1min`,
/// `1500ms`, `0`.
pub fn format_ms(ms: i64) -> String {
    let (v, u) = int_from_base(ms, Unit::Ms);
    format!("{v}{u}")
}

/// Formats a value in base unit `base` with its largest exact unit (`128MB`, `5min`).
pub fn format_int(value: i64, base: Unit) -> String {
    let (v, u) = int_from_base(value, base);
    format!("{v}{u}")
}

/// Formats a float as C's `printf("%g")` does: six significant digits, trailing zeros
/// removed, exponent form for very small or large magnitudes (`1.79769e+308`).
pub fn format_g(x: f64) -> String {
    // PostgreSQL's own snprintf spells these out.
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Round to six significant digits first, then decide the notation from the exponent
    // of the rounded value, as C does.
    let sci = format!("{:.5e}", x);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let m = strip_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (5 - exp).max(0) as usize;
        strip_zeros(&format!("{:.*}", decimals, x)).to_string()
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_input_units() {
        assert_eq!(to_base(128.0, "MB", Unit::Kb), Some(131072.0));
        assert_eq!(to_base(1.5, "MB", Unit::Kb), Some(1536.0));
        assert_eq!(to_base(1.0, "min", Unit::Ms), Some(60000.0));
        assert_eq!(to_base(60.0, "s", Unit::Ms), Some(60000.0));
        assert_eq!(to_base(100.0, "us", Unit::Ms), Some(0.1));
        assert_eq!(to_base(128.0, "MB", Unit::Blocks), Some(16384.0));
        assert_eq!(to_base(5.0, "S", Unit::Ms), None);
        assert_eq!(to_base(5.0, "XB", Unit::Kb), None);
        assert_eq!(to_base(5.0, "", Unit::Kb), None);
        assert_eq!(to_base(1.0, " GB ", Unit::Mb), Some(1024.0));
    }

    #[test]
    fn prints_largest_exact_unit() {
        assert_eq!(format_int(131072, Unit::Kb), "128MB");
        assert_eq!(format_int(4096, Unit::Kb), "4MB");
        assert_eq!(format_int(1536, Unit::Kb), "1536kB");
        assert_eq!(format_int(60000, Unit::Ms), "1min");
        assert_eq!(format_int(90, Unit::S), "90s");
        assert_eq!(format_int(300, Unit::S), "5min");
        assert_eq!(format_int(16384, Unit::Blocks), "128MB");
        assert_eq!(format_int(512, Unit::Blocks), "4MB");
        assert_eq!(format_int(1024, Unit::Mb), "1GB");
        assert_eq!(format_int(0, Unit::Ms), "0");
        assert_eq!(format_int(-1, Unit::Kb), "-1");
        assert_eq!(format_bytes(16 * 1024 * 1024), "16MB");
        assert_eq!(format_ms(1500), "1500ms");
        assert_eq!(format_int(86_400_000, Unit::Ms), "1d");
        assert_eq!(format_int(90_000_000, Unit::Ms), "25h");
    }

    #[test]
    fn prints_reals_like_pg() {
        assert_eq!(real_from_base(2.5, Unit::Ms), (2500.0, "us"));
        assert_eq!(real_from_base(2.0, Unit::Ms), (2.0, "ms"));
        assert_eq!(real_from_base(0.001, Unit::Ms).1, "us");
        assert_eq!(format_g(real_from_base(1e-9, Unit::Ms).0), "1e-06");
        assert_eq!(format_g(f64::INFINITY), "Infinity");
        assert_eq!(format_g(0.9), "0.9");
        assert_eq!(format_g(4.0), "4");
        assert_eq!(format_g(0.005), "0.005");
        assert_eq!(format_g(f64::MAX), "1.79769e+308");
        assert_eq!(format_g(1e-5), "1e-05");
        assert_eq!(format_g(123456789.0), "1.23457e+08");
        assert_eq!(format_g(-1.0), "-1");
        assert_eq!(format_g(100000.0), "100000");
    }
}
