//! `bytea` and `uuid`: PostgreSQL's text input and output for the two byte-string types.
//!
//! What this file owns:
//! - `byteain`: the hex format (`\x` then pairs of hex digits, whitespace allowed between
//!   pairs) and the escape format (`\\` for a backslash, `\ooo` for an octal byte, every
//!   other character as itself), with PostgreSQL's errors;
//! - `byteaout` in both `bytea_output` styles (`hex`, the default, and `escape`);
//! - `uuid_in` (hyphens after any group of four digits, optional braces, either case) and
//!   `uuid_out` (lowercase 8-4-4-4-12).
//!
//! Invariants: a `bytea` is any byte string; a `uuid` is exactly 16 bytes, compared as
//! unsigned bytes (`memcmp`, as PostgreSQL's `uuid_cmp`). Binary send/receive of both is
//! the raw bytes.
//!
//! What this file must never do: panic on any input, or accept text PostgreSQL rejects.

use crate::err;
use crate::error::{sqlstate, Error, Result};

/// Parses `bytea` text input (hex or escape format).
pub fn parse_bytea(s: &str) -> Result<Vec<u8>> {
    if let Some(hex) = s.strip_prefix("\\x").or_else(|| s.strip_prefix("\\X")) {
        return parse_hex(hex);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
        } else if b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else if i + 3 < b.len()
            && (b'0'..=b'3').contains(&b[i + 1])
            && (b'0'..=b'7').contains(&b[i + 2])
            && (b'0'..=b'7').contains(&b[i + 3])
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            return Err(err!(
                sqlstate::INVALID_TEXT_REPRESENTATION,
                "invalid input syntax for type bytea"
            ));
        }
    }
    Ok(out)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn bad_hex_digit(s: &str, at: usize) -> Error {
    let c: String = s[at..].chars().take(1).collect();
    err!(
        sqlstate::INVALID_PARAMETER_VALUE,
        "invalid hexadecimal digit: \"{c}\""
    )
}

/// Decodes PostgreSQL's hex format body (after `\x`).
fn parse_hex(s: &str) -> Result<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len() / 2);
    let mut i = 0;
    while i < b.len() {
        if matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
            continue;
        }
        let hi = hex_val(b[i]).ok_or_else(|| bad_hex_digit(s, i))?;
        let Some(&c2) = b.get(i + 1) else {
            return Err(err!(
                sqlstate::INVALID_PARAMETER_VALUE,
                "invalid hexadecimal data: odd number of digits"
            ));
        };
        let lo = hex_val(c2).ok_or_else(|| bad_hex_digit(s, i + 1))?;
        out.push(hi * 16 + lo);
        i += 2;
    }
    Ok(out)
}

/// Formats `bytea` output: `\x` + lowercase hex, or the escape format when `escape`.
pub fn format_bytea(b: &[u8], escape: bool) -> String {
    let mut out = String::with_capacity(2 + b.len() * 2);
    if !escape {
        out.push_str("\\x");
        for byte in b {
            out.push_str(&format!("{byte:02x}"));
        }
        return out;
    }
    for &byte in b {
        if byte == b'\\' {
            out.push_str("\\\\");
        } else if !(0x20..=0x7e).contains(&byte) {
            out.push_str(&format!("\\{byte:03o}"));
        } else {
            out.push(byte as char);
        }
    }
    out
}

/// Parses `uuid` text input.
pub fn parse_uuid(s: &str) -> Result<[u8; 16]> {
    let bad = || {
        err!(
            sqlstate::INVALID_TEXT_REPRESENTATION,
            "invalid input syntax for type uuid: \"{s}\""
        )
    };
    let body = match s.strip_prefix('{') {
        Some(rest) => rest.strip_suffix('}').ok_or_else(bad)?,
        None => s,
    };
    let b = body.as_bytes();
    let mut out = [0u8; 16];
    let mut digits = 0usize;
    let mut i = 0;
    while digits < 32 {
        let hi = b.get(i).and_then(|&c| hex_val(c)).ok_or_else(bad)?;
        let lo = b.get(i + 1).and_then(|&c| hex_val(c)).ok_or_else(bad)?;
        out[digits / 2] = hi * 16 + lo;
        digits += 2;
        i += 2;
        // A hyphen may follow any group of four digits, except at the end.
        if digits.is_multiple_of(4) && digits < 32 && b.get(i) == Some(&b'-') {
            i += 1;
        }
    }
    if i != b.len() {
        return Err(bad());
    }
    Ok(out)
}

/// Formats a `uuid` as PostgreSQL's `uuid_out` does.
pub fn format_uuid(u: &[u8; 16]) -> String {
    let mut out = String::with_capacity(36);
    for (i, byte) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// A version 4 (random) UUID, as `gen_random_uuid()` makes.
pub fn random_uuid() -> [u8; 16] {
    let mut u: [u8; 16] = rand::random();
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytea_formats_round_trip() {
        assert_eq!(
            parse_bytea("\\x DEad be ef").unwrap(),
            vec![0xde, 0xad, 0xbe, 0xef]
        );
        assert_eq!(parse_bytea("a\\\\b\\001").unwrap(), b"a\\b\x01".to_vec());
        assert!(parse_bytea("\\x1").is_err());
        assert!(parse_bytea("\\xzz").is_err());
        assert!(parse_bytea("a\\9").is_err());
        assert_eq!(format_bytea(b"a\\\x01", false), "\\x615c01");
        assert_eq!(format_bytea(b"a\\\x01\xff", true), "a\\\\\\001\\377");
    }

    #[test]
    fn uuid_input_forms() {
        let want = parse_uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11").unwrap();
        for s in [
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
        ] {
            assert_eq!(parse_uuid(s).unwrap(), want, "{s}");
        }
        for s in [
            "",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
            "{a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
            "-a0eebc999c0b4ef8bb6d6bb9bd380a11",
        ] {
            assert!(parse_uuid(s).is_err(), "{s}");
        }
        assert_eq!(format_uuid(&want), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        let r = random_uuid();
        assert_eq!(r[6] >> 4, 4);
    }
}
