//! The internal one-byte type `"char"` (OID 18): the type of PostgreSQL's catalog flags
//! (`pg_class.relkind`, `pg_type.typtype`, `pg_constraint.contype`…).
//!
//! # Representation
//!
//! A `"char"` value is one byte. tusk holds it as [`Value::Text`] of its output form —
//! the character itself for an ASCII byte, the empty string for the zero byte,
//! `\ooo` (three octal digits) for a byte with the high bit set, as PostgreSQL 15's
//! `charout` prints it — so everything that works on strings (comparison with text
//! literals, `IN` lists, `CASE`, `LIKE`, casts to `text`) works on it unchanged, and
//! [`DataType::Char`] says what it is. Only the wire's binary format and casts need to
//! know: the binary form is the byte itself ([`to_byte`], [`from_byte`]).
//!
//! # Invariants
//!
//! - Every `"char"` value is in the canonical output form [`from_byte`] gives; text
//!   input ([`from_text`]: PostgreSQL's `charin`, which is also its cast from text)
//!   keeps only the first byte of longer input and reads `\ooo`.
//!
//! What this module must never do: hold more than one byte's worth in a value.

use super::{DataType, Value};
use crate::err;
use crate::error::{sqlstate, Result};

/// The output form of one byte (`charout`).
pub fn from_byte(b: u8) -> String {
    match b {
        0 => String::new(),
        b if b < 0x80 => (b as char).to_string(),
        b => format!("\\{b:03o}"),
    }
}

/// The byte a text form stands for (`charin`): `\ooo` is an octal byte, anything else
/// its first byte (the zero byte for the empty string).
pub fn to_byte(s: &str) -> u8 {
    let b = s.as_bytes();
    let octal = |c: u8| (b'0'..=b'7').contains(&c);
    if b.len() == 4 && b[0] == b'\\' && octal(b[1]) && octal(b[2]) && octal(b[3]) {
        let v =
            (u32::from(b[1] - b'0') << 6) | (u32::from(b[2] - b'0') << 3) | u32::from(b[3] - b'0');
        return v as u8;
    }
    b.first().copied().unwrap_or(0)
}

/// Text read as a `"char"`, in the canonical form.
pub fn from_text(s: &str) -> String {
    from_byte(to_byte(s))
}

/// The cast from `integer` to `"char"` (the byte of a value in -128..=127, else
/// PostgreSQL's 22003); None for every other cast.
pub fn cast(v: &Value, target: DataType) -> Option<Result<Value>> {
    match (v, target) {
        (Value::Int4(i), DataType::Char) => Some(match i8::try_from(*i) {
            Ok(b) => Ok(Value::Text(from_byte(b as u8))),
            Err(_) => Err(err!(
                sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                "\"char\" out of range"
            )),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_and_bytes() {
        assert_eq!(from_text("r"), "r");
        assert_eq!(from_text("abc"), "a");
        assert_eq!(from_text(""), "");
        assert_eq!(to_byte(""), 0);
        // 'é' is 0xC3 0xA9 in UTF-8: its first byte, printed in octal.
        assert_eq!(from_text("é"), "\\303");
        assert_eq!(to_byte("\\303"), 0xC3);
        assert_eq!(from_text("\\303"), "\\303");
        // Not three octal digits: the backslash itself.
        assert_eq!(from_text("\\38"), "\\");
        for b in 0..=255u8 {
            assert_eq!(to_byte(&from_byte(b)), b);
        }
    }

    #[test]
    fn integer_casts() {
        let c = |i| cast(&Value::Int4(i), DataType::Char).unwrap();
        assert_eq!(c(65).unwrap(), Value::Text("A".into()));
        assert_eq!(c(-61).unwrap(), Value::Text("\\303".into()));
        let e = c(300).unwrap_err();
        assert_eq!(e.code, sqlstate::NUMERIC_VALUE_OUT_OF_RANGE);
        assert_eq!(e.message, "\"char\" out of range");
        assert!(cast(&Value::Text("a".into()), DataType::Char).is_none());
    }
}
