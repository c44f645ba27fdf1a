//! Arrays of every scalar type, and enum values: their representation, PostgreSQL's
//! text format (`array_in` / `array_out` quoting), binary format (`array_send` /
//! `array_recv`), the row codec, comparison and element-wise casts.
//!
//! # Representation
//!
//! `text[]` keeps its historical value [`Value::TextArray`]; every other element type
//! is a [`Value::Array`] holding an [`ArrayValue`] (element type plus elements, NULL
//! elements as [`Value::Null`]). [`ArrayValue::from_value`] and
//! [`ArrayValue::into_value`] convert between the two, so code that works on "any
//! array" sees one shape, and [`ArrayValue::into_value`] always gives `text[]` back as
//! `TextArray` — one value has one representation.
//!
//! The array type of an element type is [`DataType::Array`] with the element type's
//! OID (never `text`: that is [`DataType::TextArray`]). User-defined enum types take
//! two OIDs from the catalog, an even one for the enum and the next (odd) one for its
//! array type, so [`DataType::from_oid`] can tell them apart without the catalog.
//!
//! # Invariants
//!
//! - Arrays are one-dimensional with lower bound 1 (or empty, zero dimensions).
//!   Multidimensional literals and other lower bounds fail with 0A000 instead of being
//!   flattened: they would be silently wrong.
//! - Every element of an `ArrayValue` is NULL or a value of `elem` (as stored in a
//!   column of that type).
//! - An [`EnumValue`] carries its label's sort position, fixed when the label was
//!   created (`ALTER TYPE … ADD VALUE` places new labels between old ones and never
//!   moves an existing label), so ordering needs no catalog.
//!
//! What this module must never do: look at the catalog. Reading an enum label from text
//! needs the enum's labels, which the SQL layer (`sql::enums`) hands to
//! `types::enum_io`.

use super::{compare, oid, DataType, Value};
use crate::error::{sqlstate, Error, Result};
use crate::{bail, err};
use std::cmp::Ordering;

/// The first OID of user-defined objects (PostgreSQL's `FirstNormalObjectId`).
pub const FIRST_USER_OID: u32 = 16384;

/// An array value of any element type but `text` (see the module comment).
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayValue {
    /// The element type.
    pub elem: DataType,
    /// The elements, in order; NULL elements are `Value::Null`.
    pub items: Vec<Value>,
}

/// A value of a user-defined enum type.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumValue {
    /// The enum type's OID.
    pub type_oid: u32,
    /// The label's position in the type's order (`pg_enum.enumsortorder`).
    pub sort: f64,
    /// The label.
    pub label: String,
}

/// `(element OID, array OID)` of every built-in array type tusk knows.
const ARRAY_OIDS: &[(u32, u32)] = &[
    (oid::BOOL, 1000),
    (oid::BYTEA, 1001),
    (oid::CHAR, 1002),
    (oid::NAME, 1003),
    (oid::INT2, 1005),
    (oid::INT4, 1007),
    (oid::TEXT, oid::TEXT_ARRAY),
    (oid::BPCHAR, 1014),
    (oid::VARCHAR, 1015),
    (oid::INT8, 1016),
    (oid::FLOAT4, 1021),
    (oid::FLOAT8, 1022),
    (oid::OID, 1028),
    (oid::TIMESTAMP, 1115),
    (oid::DATE, 1182),
    (oid::TIME, 1183),
    (oid::TIMETZ, 1270),
    (oid::TIMESTAMPTZ, 1185),
    (oid::INTERVAL, 1187),
    (oid::NUMERIC, 1231),
    (oid::UUID, 2951),
    (oid::JSON, 199),
    (oid::JSONB, 3807),
    (oid::PG_LSN, 3221),
];

/// The array type OID for an element type OID.
pub fn array_oid_of(elem_oid: u32) -> Option<u32> {
    if elem_oid >= FIRST_USER_OID && elem_oid.is_multiple_of(2) {
        return Some(elem_oid + 1);
    }
    ARRAY_OIDS
        .iter()
        .find(|(e, _)| *e == elem_oid)
        .map(|(_, a)| *a)
}

/// The element type OID of an array type OID.
pub fn elem_oid_of(array_oid: u32) -> Option<u32> {
    if array_oid >= FIRST_USER_OID && !array_oid.is_multiple_of(2) {
        return Some(array_oid - 1);
    }
    ARRAY_OIDS
        .iter()
        .find(|(_, a)| *a == array_oid)
        .map(|(e, _)| *e)
}

/// The array type whose elements are `elem`, if tusk has it.
pub fn array_type_of(elem: DataType) -> Option<DataType> {
    match elem {
        DataType::Text => Some(DataType::TextArray),
        DataType::Unknown | DataType::Void | DataType::TextArray | DataType::Array(_) => None,
        DataType::Enum(o) => Some(DataType::Array(o)),
        t => array_oid_of(t.oid()).map(|_| DataType::Array(t.oid())),
    }
}

/// The element type of an array type (`None` for a non-array type).
pub fn elem_type(t: DataType) -> Option<DataType> {
    match t {
        DataType::TextArray => Some(DataType::Text),
        DataType::Int2Vector | DataType::OidVector => Some(vector_elem(t)),
        DataType::Array(o) => Some(elem_from_oid(o)),
        _ => None,
    }
}

/// The element type of `DataType::Array(o)`.
pub fn elem_from_oid(o: u32) -> DataType {
    if o >= FIRST_USER_OID {
        DataType::Enum(o)
    } else {
        DataType::from_oid(o).unwrap_or(DataType::Text)
    }
}

/// The name of an array type as `format_type` prints it (enum arrays, whose names
/// need the catalog, print as `anyenum[]`).
pub fn array_type_name(elem_oid: u32) -> &'static str {
    match elem_oid {
        oid::BOOL => "boolean[]",
        oid::BYTEA => "bytea[]",
        oid::CHAR => "\"char\"[]",
        oid::NAME => "name[]",
        oid::INT2 => "smallint[]",
        oid::INT4 => "integer[]",
        oid::TEXT => "text[]",
        oid::BPCHAR => "character[]",
        oid::VARCHAR => "character varying[]",
        oid::INT8 => "bigint[]",
        oid::FLOAT4 => "real[]",
        oid::FLOAT8 => "double precision[]",
        oid::OID => "oid[]",
        oid::TIMESTAMP => "timestamp without time zone[]",
        oid::DATE => "date[]",
        oid::TIME => "time without time zone[]",
        oid::TIMETZ => "time with time zone[]",
        oid::TIMESTAMPTZ => "timestamp with time zone[]",
        oid::INTERVAL => "interval[]",
        oid::NUMERIC => "numeric[]",
        oid::UUID => "uuid[]",
        oid::JSON => "json[]",
        oid::JSONB => "jsonb[]",
        oid::PG_LSN => "pg_lsn[]",
        _ => "anyenum[]",
    }
}

impl ArrayValue {
    /// The elements of any array value (`text[]` or [`Value::Array`]); `None` for a
    /// non-array value.
    pub fn from_value(v: &Value) -> Option<ArrayValue> {
        match v {
            Value::TextArray(items) => Some(ArrayValue {
                elem: DataType::Text,
                items: items
                    .iter()
                    .map(|i| i.clone().map(Value::Text).unwrap_or(Value::Null))
                    .collect(),
            }),
            Value::Array(a) => Some((**a).clone()),
            _ => None,
        }
    }

    /// The array as a value (`text[]` as [`Value::TextArray`]).
    pub fn into_value(self) -> Value {
        if self.elem == DataType::Text {
            return Value::TextArray(
                self.items
                    .into_iter()
                    .map(|v| match v {
                        Value::Null => None,
                        Value::Text(s) => Some(s),
                        v => Some(super::format_text(&v, &Default::default())),
                    })
                    .collect(),
            );
        }
        Value::Array(Box::new(self))
    }

    /// The array's type.
    pub fn data_type(&self) -> DataType {
        if is_vector(self.elem) {
            return self.elem;
        }
        array_type_of(self.elem).unwrap_or(DataType::Array(self.elem.oid()))
    }
}

/// `array_out`: `{1,2,NULL}`, elements quoted when PostgreSQL would.
pub fn format_array(a: &ArrayValue, opts: &super::FormatOptions) -> String {
    if is_vector(a.elem) {
        // int2vector / oidvector output: the numbers separated by spaces.
        let parts: Vec<String> = a
            .items
            .iter()
            .map(|v| super::format_text(v, opts))
            .collect();
        return parts.join(" ");
    }
    let parts: Vec<String> = a
        .items
        .iter()
        .map(|v| match v {
            Value::Null => "NULL".to_string(),
            v => quote_element(&super::format_text(v, opts)),
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// Quotes an array element when PostgreSQL's `array_out` would.
pub fn quote_element(s: &str) -> String {
    let needs = s.is_empty()
        || s.eq_ignore_ascii_case("null")
        || s.chars()
            .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_ascii_whitespace());
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

fn malformed(s: &str, detail: &str) -> Error {
    err!(
        sqlstate::INVALID_TEXT_REPRESENTATION,
        "malformed array literal: \"{s}\""
    )
    .with_detail(detail.to_string())
}

/// Splits an array literal into its elements (`None` = an unquoted NULL), as
/// `array_in` reads a one-dimensional literal.
pub fn split_literal(s: &str) -> Result<Vec<Option<String>>> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    if t.starts_with('[') {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "array literals with explicit bounds are not supported yet"
        );
    }
    let Some(body) = t.strip_prefix('{') else {
        return Err(malformed(
            s,
            "Array value must start with \"{\" or dimension information.",
        ));
    };
    let chars: Vec<char> = body.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    if i < chars.len() && chars[i] == '}' {
        i += 1;
        skip_ws(&mut i);
        if i != chars.len() {
            return Err(malformed(s, "Junk after closing right brace."));
        }
        return Ok(out);
    }
    loop {
        skip_ws(&mut i);
        if i >= chars.len() {
            return Err(malformed(s, "Unexpected end of input."));
        }
        if chars[i] == '{' {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "multidimensional arrays are not supported yet"
            );
        }
        let mut elem = String::new();
        let mut quoted = false;
        let mut trailing_ws = 0usize;
        let mut any = false;
        while i < chars.len() {
            let c = chars[i];
            match c {
                '"' => {
                    if any && !quoted && !elem.is_empty() {
                        return Err(malformed(s, "Unexpected \"\"\" character."));
                    }
                    quoted = true;
                    any = true;
                    i += 1;
                    loop {
                        let Some(&c) = chars.get(i) else {
                            return Err(malformed(s, "Unexpected end of input."));
                        };
                        i += 1;
                        match c {
                            '"' => break,
                            '\\' => {
                                let Some(&n) = chars.get(i) else {
                                    return Err(malformed(s, "Unexpected end of input."));
                                };
                                elem.push(n);
                                i += 1;
                            }
                            c => elem.push(c),
                        }
                    }
                    trailing_ws = 0;
                }
                '\\' => {
                    let Some(&n) = chars.get(i + 1) else {
                        return Err(malformed(s, "Unexpected end of input."));
                    };
                    if quoted {
                        return Err(malformed(s, "Unexpected \"\\\" character."));
                    }
                    elem.push(n);
                    any = true;
                    trailing_ws = 0;
                    i += 2;
                }
                ',' | '}' => break,
                '{' => return Err(malformed(s, "Unexpected \"{\" character.")),
                c if c.is_ascii_whitespace() => {
                    if any && !quoted {
                        elem.push(c);
                        trailing_ws += 1;
                    }
                    i += 1;
                }
                c => {
                    if quoted {
                        return Err(malformed(s, "Unexpected array element."));
                    }
                    elem.push(c);
                    any = true;
                    trailing_ws = 0;
                    i += 1;
                }
            }
        }
        if i >= chars.len() {
            return Err(malformed(s, "Unexpected end of input."));
        }
        if !any {
            return Err(malformed(s, "Unexpected \",\" character."));
        }
        if !quoted {
            elem.truncate(elem.len() - trailing_ws);
        }
        if !quoted && elem.eq_ignore_ascii_case("null") {
            out.push(None);
        } else {
            out.push(Some(elem));
        }
        let sep = chars[i];
        i += 1;
        if sep == '}' {
            skip_ws(&mut i);
            if i != chars.len() {
                return Err(malformed(s, "Junk after closing right brace."));
            }
            return Ok(out);
        }
    }
}

/// `array_in` for element type `elem` (enum labels are read through
/// `types::enum_io`).
pub fn parse_array(elem: DataType, s: &str) -> Result<Value> {
    let parts = split_literal(s)?;
    let mut items = Vec::with_capacity(parts.len());
    for p in parts {
        items.push(match p {
            None => Value::Null,
            Some(p) => super::parse_text(elem, -1, &p)?,
        });
    }
    Ok(ArrayValue { elem, items }.into_value())
}

/// `array_send`: ndim, has-null flag, element OID, then per dimension its length and
/// lower bound (1), then each element as a length (-1 = NULL) and its binary form.
pub fn encode_array_binary(a: &ArrayValue) -> Vec<u8> {
    let mut out = Vec::new();
    let ndim = if a.items.is_empty() { 0i32 } else { 1 };
    out.extend_from_slice(&ndim.to_be_bytes());
    out.extend_from_slice(&(a.items.iter().any(Value::is_null) as i32).to_be_bytes());
    let vector = is_vector(a.elem);
    let elem = if vector { vector_elem(a.elem) } else { a.elem };
    out.extend_from_slice(&elem.oid().to_be_bytes());
    if ndim == 1 {
        out.extend_from_slice(&(a.items.len() as i32).to_be_bytes());
        // A vector's subscripts start at 0.
        out.extend_from_slice(&(if vector { 0i32 } else { 1 }).to_be_bytes());
    }
    for v in &a.items {
        if v.is_null() {
            out.extend_from_slice(&(-1i32).to_be_bytes());
        } else {
            let b = super::encode_binary_as(v, a.elem);
            out.extend_from_slice(&(b.len() as i32).to_be_bytes());
            out.extend_from_slice(&b);
        }
    }
    out
}

fn bad_binary() -> Error {
    err!(
        sqlstate::INVALID_BINARY_REPRESENTATION,
        "insufficient data left in message"
    )
}

/// `array_recv` for an array whose element type is `elem`.
pub fn decode_array_binary(elem: DataType, b: &[u8]) -> Result<Value> {
    let mut pos = 0usize;
    let i32_at = |pos: &mut usize| -> Result<i32> {
        let s = b.get(*pos..*pos + 4).ok_or_else(bad_binary)?;
        *pos += 4;
        Ok(i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    };
    let ndim = i32_at(&mut pos)?;
    let flags = i32_at(&mut pos)?;
    let elem_oid = i32_at(&mut pos)? as u32;
    if !(0..=6).contains(&ndim) {
        bail!(
            sqlstate::INVALID_BINARY_REPRESENTATION,
            "invalid number of dimensions: {ndim}"
        );
    }
    if flags != 0 && flags != 1 {
        bail!(
            sqlstate::INVALID_BINARY_REPRESENTATION,
            "invalid array flags"
        );
    }
    if elem_oid != elem.oid() {
        bail!(
            sqlstate::DATATYPE_MISMATCH,
            "binary data has array element type {} ({}) instead of expected {} ({})",
            elem_oid,
            DataType::from_oid(elem_oid)
                .map(|t| t.name())
                .unwrap_or("?"),
            elem.oid(),
            elem.name()
        );
    }
    if ndim > 1 {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "multidimensional arrays are not supported yet"
        );
    }
    let mut n = 0usize;
    if ndim == 1 {
        let len = i32_at(&mut pos)?;
        let lb = i32_at(&mut pos)?;
        if len < 0 {
            return Err(bad_binary());
        }
        if lb != 1 && len > 0 {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "arrays with lower bounds other than 1 are not supported yet"
            );
        }
        n = len as usize;
    }
    let mut items = Vec::with_capacity(n.min(4096));
    for _ in 0..n {
        let len = i32_at(&mut pos)?;
        if len == -1 {
            items.push(Value::Null);
            continue;
        }
        if len < 0 {
            return Err(bad_binary());
        }
        let body = b.get(pos..pos + len as usize).ok_or_else(bad_binary)?;
        pos += len as usize;
        items.push(super::decode_binary(elem, body)?);
    }
    if pos != b.len() {
        bail!(
            sqlstate::INVALID_BINARY_REPRESENTATION,
            "incorrect binary data format in array"
        );
    }
    Ok(ArrayValue { elem, items }.into_value())
}

/// Encodes an array for the row codec: element OID, count, then each element as a
/// codec value.
pub fn encode_array_row(a: &ArrayValue, out: &mut Vec<u8>) {
    out.extend_from_slice(&a.elem.oid().to_le_bytes());
    out.extend_from_slice(&(a.items.len() as u32).to_le_bytes());
    for v in &a.items {
        super::encode_value(v, out);
    }
}

/// Decodes what [`encode_array_row`] wrote.
pub fn decode_array_row(r: &mut super::Reader<'_>) -> Result<Value> {
    let elem = elem_from_oid(r.u32()?);
    let n = r.u32()? as usize;
    let mut items = Vec::with_capacity(n.min(4096));
    for _ in 0..n {
        items.push(super::decode_value(r)?);
    }
    Ok(ArrayValue { elem, items }.into_value())
}

/// Encodes an enum value for the row codec: type OID, sort position, label.
pub fn encode_enum_row(e: &EnumValue, out: &mut Vec<u8>) {
    out.extend_from_slice(&e.type_oid.to_le_bytes());
    out.extend_from_slice(&e.sort.to_bits().to_le_bytes());
    out.extend_from_slice(&(e.label.len() as u32).to_le_bytes());
    out.extend_from_slice(e.label.as_bytes());
}

/// Decodes what [`encode_enum_row`] wrote.
pub fn decode_enum_row(r: &mut super::Reader<'_>) -> Result<Value> {
    let type_oid = r.u32()?;
    let sort = f64::from_bits(r.u64()?);
    let label = r.string()?;
    Ok(Value::Enum(Box::new(EnumValue {
        type_oid,
        sort,
        label,
    })))
}

/// Orders two arrays as PostgreSQL's `btarraycmp`: element by element (NULL elements
/// after all others), then the shorter first.
pub fn compare_arrays(a: &ArrayValue, b: &ArrayValue) -> Ordering {
    for (x, y) in a.items.iter().zip(&b.items) {
        let o = compare(x, y);
        if o != Ordering::Equal {
            return o;
        }
    }
    a.items.len().cmp(&b.items.len())
}

/// Casts an array to another array type element by element (`elem_cast` casts one
/// non-NULL element), keeping NULL elements.
pub fn cast_elements(
    a: ArrayValue,
    target_elem: DataType,
    mut elem_cast: impl FnMut(Value) -> Result<Value>,
) -> Result<Value> {
    let mut items = Vec::with_capacity(a.items.len());
    for v in a.items {
        items.push(if v.is_null() { v } else { elem_cast(v)? });
    }
    Ok(ArrayValue {
        elem: target_elem,
        items,
    }
    .into_value())
}

/// Whether `t` is one of the vector types (`int2vector`, `oidvector`), which an
/// [`ArrayValue`] names as its `elem` to be one: the items are then of
/// [`vector_elem`]'s type, subscripted from 0 and written space-separated.
pub fn is_vector(t: DataType) -> bool {
    matches!(t, DataType::Int2Vector | DataType::OidVector)
}

/// The element type of a vector type (`smallint` for `int2vector`, else `oid`).
pub fn vector_elem(t: DataType) -> DataType {
    if t == DataType::Int2Vector {
        DataType::Int2
    } else {
        DataType::Oid
    }
}

/// A vector value of type `t` (`int2vector` or `oidvector`) with the items of an
/// array value; NULL stays NULL.
pub fn as_vector(t: DataType, v: Value) -> Value {
    match ArrayValue::from_value(&v) {
        Some(a) => Value::Array(Box::new(ArrayValue {
            elem: t,
            items: a.items,
        })),
        None => v,
    }
}

/// `int2vectorin` / `oidvectorin`: numbers separated by spaces.
pub fn parse_vector(t: DataType, s: &str) -> Result<Value> {
    let elem = vector_elem(t);
    let items = s
        .split_ascii_whitespace()
        .map(|w| super::text::parse_text(elem, -1, w))
        .collect::<Result<Vec<_>>>()?;
    Ok(Value::Array(Box::new(ArrayValue { elem: t, items })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_split_as_array_in() {
        assert_eq!(
            split_literal(r#"{a, "b c" ,NULL,"NULL",\,x, d e }"#).unwrap(),
            vec![
                Some("a".into()),
                Some("b c".into()),
                None,
                Some("NULL".into()),
                Some(",x".into()),
                Some("d e".into())
            ]
        );
        assert_eq!(
            split_literal(" { } ").unwrap(),
            Vec::<Option<String>>::new()
        );
        assert!(split_literal("{a,}").is_err());
        assert!(split_literal("a").is_err());
        assert_eq!(
            split_literal("{{1},{2}}").unwrap_err().code,
            sqlstate::FEATURE_NOT_SUPPORTED
        );
    }

    #[test]
    fn binary_round_trips() {
        let a = ArrayValue {
            elem: DataType::Int4,
            items: vec![Value::Int4(1), Value::Null, Value::Int4(-3)],
        };
        let b = encode_array_binary(&a);
        assert_eq!(
            decode_array_binary(DataType::Int4, &b).unwrap(),
            Value::Array(Box::new(a))
        );
        assert!(decode_array_binary(DataType::Int4, &b[..b.len() - 1]).is_err());
    }
}
