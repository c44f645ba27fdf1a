//! The SQL surface of `bytea`, `uuid`, `json` and `jsonb`: their functions, operators,
//! aggregates and set-returning functions.
//!
//! What this module owns:
//! - [`TypeFn`], the scalar functions and operators of these types, and their name table
//!   ([`lookup`]), argument types ([`arg_type`]) and evaluation ([`call`]);
//! - binding of the JSON operators (`->`, `->>`, `#>`, `#>>`, `@>`, `<@`, `?`, `?|`, `?&`,
//!   `#-`) and of `||` / `-` on jsonb and bytea ([`bind_json_operator`],
//!   [`bind_typed_binary`]); the binder calls these two hooks before its own rules;
//! - the collecting aggregates (`jsonb_agg`, `json_agg`, `jsonb_object_agg`,
//!   `json_object_agg`: [`CollectAgg`]), whose state is every input in order;
//! - the set-returning functions in FROM (`jsonb_array_elements[_text]`,
//!   `jsonb_each[_text]`, `jsonb_object_keys` and their `json_` forms: [`SrfCall`]).
//!
//! Invariants: every function here is strict unless PostgreSQL's is not (the build
//! functions and aggregates take NULLs); jsonb values are always normalised
//! (`types::json::normalize`) before they leave a function.
//!
//! What it must never do: accept an operator PostgreSQL lacks (e.g. `=` on `json`), or
//! answer differently from PostgreSQL; what it does not implement fails with 0A000.
//!
//! One call's trip, `SELECT doc->>'name' FROM t`:
//! 1. `Binder::bind_binary` meets `->>`, which it has no rule for, and asks
//!    [`bind_json_operator`], which binds `doc` (jsonb) and `'name'` (coerced to text);
//! 2. the result is `Expr::Func(Func::Typed(TypeFn::JsonGetText), [doc, 'name'], text)`;
//! 3. per row, `functions::call` hands it to [`call`], which looks the key up with
//!    `types::json::get_key` and unquotes the string.

use super::expr::{BinOp, Expr, Func};
use super::plan::{Binder, Coercion, Scope};
use super::ExecCtx;
use crate::error::{sqlstate, Error, Result};
use crate::sql::depth::Spanned;
use crate::types::json::{self, Json};
use crate::types::{self, DataType, Value};
use crate::{bail, err};
use sqlparser::ast;

/// A scalar function or operator of the bytea, uuid and JSON types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeFn {
    /// `gen_random_uuid()`.
    GenRandomUuid,
    /// `bytea || bytea`.
    ByteaConcat,
    /// `length(bytea)`, `octet_length(bytea)`.
    ByteaLength,
    /// `->` with a text key (on json when the flag is set, else jsonb).
    GetKey(bool),
    /// `->` with an integer index.
    GetIndex(bool),
    /// `->>` with a text key.
    GetKeyText(bool),
    /// `->>` with an integer index.
    GetIndexText(bool),
    /// `#>`.
    GetPath(bool),
    /// `#>>`.
    GetPathText(bool),
    /// `@>` (and `<@` with the operands swapped by the binder).
    Contains,
    /// `?`.
    Exists,
    /// `?|`.
    ExistsAny,
    /// `?&`.
    ExistsAll,
    /// `jsonb || jsonb`.
    Concat,
    /// `jsonb - text`.
    DeleteKey,
    /// `jsonb - integer`.
    DeleteIndex,
    /// `jsonb - text[]`.
    DeleteKeys,
    /// `jsonb #- text[]`.
    DeletePath,
    /// `jsonb_build_object(…)` / `json_build_object(…)` (json when the flag is set).
    BuildObject(bool),
    /// `jsonb_build_array(…)` / `json_build_array(…)`.
    BuildArray(bool),
    /// `to_jsonb(x)` / `to_json(x)`.
    ToJson(bool),
    /// A table row as JSON (`row_to_json(t)`, `to_json(t)`, `to_jsonb(t)` of a FROM
    /// item `t`): arguments alternate column name and value (json when the flag is set,
    /// written compactly as PostgreSQL's `row_to_json`).
    RowJson(bool),
    /// A table row as PostgreSQL's composite text (`(1,a,,"x y")`): arguments alternate
    /// column name and value.
    RowText,
    /// `jsonb_typeof` / `json_typeof`.
    TypeOf(bool),
    /// `jsonb_array_length` / `json_array_length`.
    ArrayLength(bool),
    /// `jsonb_set(target, path, new [, create_missing])`.
    Set,
    /// `jsonb_insert(target, path, new [, insert_after])`.
    Insert,
    /// `jsonb_pretty`.
    Pretty,
    /// `jsonb_strip_nulls` / `json_strip_nulls`.
    StripNulls(bool),
    /// `ARRAY[…]` of text elements.
    ArrayBuild,
    /// `x op ANY (text[])` (`ALL` when the flag is set).
    AnyAll(BinOp, bool),
    /// `array_length(text[], dim)`.
    ArrayLen,
    /// `array_upper(anyarray, int4)` (tusk's arrays are one-dimensional from 1).
    ArrayUpper,
    /// `array_lower(anyarray, int4)`.
    ArrayLower,
    /// `cardinality(text[])`.
    Cardinality,
    /// `array_to_string(text[], sep [, null_string])`.
    ArrayToString,
    /// `string_to_array(text, sep [, null_string])`.
    StringToArray,
    /// `array_append(anyarray, anyelement)` (the element type's OID).
    ArrayAppend(u32),
    /// `array_position(anyarray, anyelement)`.
    ArrayPosition(u32),
    /// `ARRAY[…]` of any element type but text (the element type's OID).
    ArrBuild(u32),
    /// `a[i]`.
    Subscript,
    /// `n[i]` of a `name`: its byte `i` (0-based, as PostgreSQL subscripts a `name`
    /// as a fixed 64-byte array) as a `"char"`; NULL outside 0..63, `'\0'` (empty)
    /// past the name's end.
    NameByte,
    /// `a[lo:hi]` (NULL bounds are omitted ones).
    Slice,
    /// `array_prepend(anyelement, anyarray)` and `elem || array`.
    ArrayPrepend(u32),
    /// `array_cat(anyarray, anyarray)` and `array || array`.
    ArrayCat,
    /// `array_positions(anyarray, anyelement)`.
    ArrayPositions(u32),
    /// `array_remove(anyarray, anyelement)`.
    ArrayRemove(u32),
    /// `anyarray @> anyarray` (`<@` with the operands swapped).
    ArrContains,
    /// `anyarray && anyarray`.
    ArrOverlap,
}

/// Whether a type is an array type.
pub fn is_array(t: DataType) -> bool {
    types::array::elem_type(t).is_some()
}

/// Whether a type is `json` or `jsonb`.
fn is_json(t: DataType) -> bool {
    matches!(t, DataType::Json | DataType::Jsonb)
}

/// Resolves a function name and argument types to one of this module's functions.
pub fn lookup(name: &str, types: &[DataType]) -> Option<(TypeFn, DataType)> {
    let first = types.first().copied().unwrap_or(DataType::Unknown);
    let jsonish = |t: DataType| {
        if t == DataType::Json {
            DataType::Json
        } else {
            DataType::Jsonb
        }
    };
    Some(match (name, types.len()) {
        ("gen_random_uuid", 0) => (TypeFn::GenRandomUuid, DataType::Uuid),
        ("length" | "octet_length", 1) if first == DataType::Bytea => {
            (TypeFn::ByteaLength, DataType::Int4)
        }
        ("jsonb_build_object", _) => (TypeFn::BuildObject(false), DataType::Jsonb),
        ("json_build_object", _) => (TypeFn::BuildObject(true), DataType::Json),
        ("jsonb_build_array", _) => (TypeFn::BuildArray(false), DataType::Jsonb),
        ("json_build_array", _) => (TypeFn::BuildArray(true), DataType::Json),
        ("to_jsonb", 1) => (TypeFn::ToJson(false), DataType::Jsonb),
        (ROW_JSON, _) => (TypeFn::RowJson(true), DataType::Json),
        (ROW_JSONB, _) => (TypeFn::RowJson(false), DataType::Jsonb),
        (ROW_TEXT, _) => (TypeFn::RowText, DataType::Text),
        ("to_json", 1) => (TypeFn::ToJson(true), DataType::Json),
        ("jsonb_typeof", 1) => (TypeFn::TypeOf(false), DataType::Text),
        ("json_typeof", 1) => (TypeFn::TypeOf(true), DataType::Text),
        ("jsonb_array_length", 1) => (TypeFn::ArrayLength(false), DataType::Int4),
        ("json_array_length", 1) => (TypeFn::ArrayLength(true), DataType::Int4),
        ("jsonb_set", 3 | 4) => (TypeFn::Set, DataType::Jsonb),
        ("jsonb_insert", 3 | 4) => (TypeFn::Insert, DataType::Jsonb),
        ("jsonb_pretty", 1) => (TypeFn::Pretty, DataType::Text),
        ("jsonb_strip_nulls", 1) => (TypeFn::StripNulls(false), DataType::Jsonb),
        ("json_strip_nulls", 1) => (TypeFn::StripNulls(true), DataType::Json),
        ("array_length", 2) if is_array(first) => (TypeFn::ArrayLen, DataType::Int4),
        ("array_upper", 2) if is_array(first) => (TypeFn::ArrayUpper, DataType::Int4),
        ("array_lower", 2) if is_array(first) => (TypeFn::ArrayLower, DataType::Int4),
        ("cardinality", 1) if is_array(first) => (TypeFn::Cardinality, DataType::Int4),
        ("array_to_string", 2 | 3) if is_array(first) => (TypeFn::ArrayToString, DataType::Text),
        ("string_to_array", 2 | 3) => (TypeFn::StringToArray, DataType::TextArray),
        ("array_append", 2) if is_array(first) => (TypeFn::ArrayAppend(elem_oid(first)), first),
        ("array_position", 2) if is_array(first) => {
            (TypeFn::ArrayPosition(elem_oid(first)), DataType::Int4)
        }
        ("array_positions", 2) if is_array(first) => (
            TypeFn::ArrayPositions(elem_oid(first)),
            DataType::Array(types::oid::INT4),
        ),
        ("array_remove", 2) if is_array(first) => (TypeFn::ArrayRemove(elem_oid(first)), first),
        ("array_prepend", 2) if is_array(types.get(1).copied().unwrap_or(first)) => {
            let arr = types[1];
            (TypeFn::ArrayPrepend(elem_oid(arr)), arr)
        }
        ("array_cat", 2) if is_array(first) => (TypeFn::ArrayCat, first),
        ("array_cat", 2) if is_array(types.get(1).copied().unwrap_or(first)) => {
            (TypeFn::ArrayCat, types[1])
        }
        _ => {
            let _ = jsonish;
            return None;
        }
    })
}

/// The argument type a function expects at position `i` (`None`: the argument's own).
pub fn arg_type(f: TypeFn, i: usize) -> Option<DataType> {
    match (f, i) {
        (TypeFn::ByteaLength, _) => Some(DataType::Bytea),
        (TypeFn::TypeOf(j) | TypeFn::ArrayLength(j) | TypeFn::StripNulls(j), 0) => {
            Some(if j { DataType::Json } else { DataType::Jsonb })
        }
        (TypeFn::Pretty, 0) | (TypeFn::Set | TypeFn::Insert, 0 | 2) => Some(DataType::Jsonb),
        (TypeFn::Set | TypeFn::Insert, 1) => Some(DataType::TextArray),
        (TypeFn::Set | TypeFn::Insert, 3) => Some(DataType::Bool),
        (TypeFn::BuildObject(_) | TypeFn::BuildArray(_) | TypeFn::ToJson(_), _) => None,
        (TypeFn::RowJson(_) | TypeFn::RowText, i) => (i % 2 == 0).then_some(DataType::Text),
        (TypeFn::ArrayLen | TypeFn::ArrayUpper | TypeFn::ArrayLower, 1) => Some(DataType::Int4),
        (TypeFn::ArrayUpper | TypeFn::ArrayLower, 0) => None,
        (TypeFn::ArrayLen | TypeFn::Cardinality | TypeFn::ArrayToString, 0) => None,
        (
            TypeFn::ArrayAppend(e)
            | TypeFn::ArrayPosition(e)
            | TypeFn::ArrayPositions(e)
            | TypeFn::ArrayRemove(e),
            i,
        ) => Some(if i == 0 {
            types::array::array_type_of(types::array::elem_from_oid(e))?
        } else {
            types::array::elem_from_oid(e)
        }),
        (TypeFn::ArrayPrepend(e), i) => Some(if i == 1 {
            types::array::array_type_of(types::array::elem_from_oid(e))?
        } else {
            types::array::elem_from_oid(e)
        }),
        (TypeFn::ArrayToString | TypeFn::StringToArray, _) => Some(DataType::Text),
        _ => None,
    }
}

/// Whether an untyped literal argument is read as text (the "any" arguments of the
/// build functions and `to_json`), rather than as the function's result type.
pub fn unknown_args_as_text(f: TypeFn) -> bool {
    matches!(
        f,
        TypeFn::BuildObject(_) | TypeFn::BuildArray(_) | TypeFn::ToJson(_)
    )
}

/// Whether the function must run per call (not folded as a constant).
pub fn is_volatile(f: TypeFn) -> bool {
    f == TypeFn::GenRandomUuid
}

/// The jsonb value of a `json`/`jsonb` argument.
fn tree(v: &Value) -> Result<Option<Json>> {
    Ok(match v {
        Value::Null => None,
        Value::Jsonb(j) => Some((**j).clone()),
        Value::Json(s) => Some(json::parse(s)?),
        Value::Text(s) => Some(json::parse_jsonb(s)?),
        other => Some(to_json_value(other, &types::FormatOptions::default())?),
    })
}

/// Wraps a tree as the function's result type.
fn wrap(j: Json, as_json: bool) -> Value {
    if as_json {
        Value::Json(json::to_json_text(&j))
    } else {
        Value::jsonb(json::normalize(j))
    }
}

/// `to_jsonb`: a SQL value as JSON (numbers stay numbers, timestamps take ISO 8601).
pub fn to_json_value(v: &Value, opts: &types::FormatOptions) -> Result<Json> {
    Ok(match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int2(_) | Value::Int4(_) | Value::Int8(_) | Value::Oid(_) | Value::Numeric(_) => {
            Json::Number(v.as_numeric().unwrap_or_default())
        }
        Value::Float4(_) | Value::Float8(_) => {
            let f = v.as_f64().unwrap_or(0.0);
            let text = types::format_text(v, opts);
            if f.is_finite() {
                match types::parse_text(DataType::Numeric, -1, &text)? {
                    Value::Numeric(n) => Json::Number(*n),
                    _ => Json::String(text),
                }
            } else {
                Json::String(text)
            }
        }
        Value::Jsonb(j) => (**j).clone(),
        Value::Json(s) => json::parse(s)?,
        Value::Timestamp(_) => Json::String(types::format_text(v, opts).replacen(' ', "T", 1)),
        Value::TimestampTz(_) => {
            let mut s = types::format_text(v, opts).replacen(' ', "T", 1);
            // PostgreSQL writes the zone offset with minutes in JSON (`+00:00`).
            let tail = s.len().saturating_sub(3);
            if s.len() > 3 && matches!(&s[tail..tail + 1], "+" | "-") {
                s.push_str(":00");
            }
            Json::String(s)
        }
        Value::TextArray(items) => Json::Array(
            items
                .iter()
                .map(|i| i.clone().map(Json::String).unwrap_or(Json::Null))
                .collect(),
        ),
        // Every array becomes a JSON array of its elements' JSON values.
        Value::Array(a) => Json::Array(
            a.items
                .iter()
                .map(|i| to_json_value(i, opts))
                .collect::<Result<Vec<_>>>()?,
        ),
        other => Json::String(types::format_text(other, opts)),
    })
}

/// The element type OID of an array type (text for a non-array).
fn elem_oid(t: DataType) -> u32 {
    types::array::elem_type(t).unwrap_or(DataType::Text).oid()
}

/// The elements of an array value (none for a non-array).
fn elements(v: &Value) -> Vec<Value> {
    types::array::ArrayValue::from_value(v)
        .map(|a| a.items)
        .unwrap_or_default()
}

/// An array of element type `elem` (by OID) with these elements.
fn make_array(elem: u32, items: Vec<Value>) -> Value {
    types::array::ArrayValue {
        elem: types::array::elem_from_oid(elem),
        items,
    }
    .into_value()
}

/// Whether two non-NULL elements are equal (`=` of their type).
fn elem_eq(a: &Value, b: &Value) -> bool {
    !a.is_null() && !b.is_null() && types::compare(a, b) == std::cmp::Ordering::Equal
}

/// Evaluates the array functions and operators of any element type (`None`: `f` is
/// not one of them).
fn call_array(f: TypeFn, args: &[Value], opts: &types::FormatOptions) -> Result<Option<Value>> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Null);
    let typed = |v: &Value| types::array::ArrayValue::from_value(v);
    Ok(Some(match f {
        TypeFn::ArrBuild(e) => make_array(e, args.to_vec()),
        TypeFn::Subscript => {
            let (a, i) = (arg(0), arg(1));
            match (typed(&a), i.as_i64()) {
                // int2vector / oidvector subscripts start at 0.
                (Some(a), Some(i)) if types::array::is_vector(a.elem) => usize::try_from(i)
                    .ok()
                    .and_then(|i| a.items.get(i).cloned())
                    .unwrap_or(Value::Null),
                (Some(a), Some(i)) if i >= 1 && (i as usize) <= a.items.len() => {
                    a.items[i as usize - 1].clone()
                }
                _ => Value::Null,
            }
        }
        TypeFn::NameByte => match (arg(0), arg(1).as_i64()) {
            (Value::Text(n), Some(i)) if (0..64).contains(&i) => {
                let byte = n.as_bytes().get(i as usize).copied().unwrap_or(0);
                Value::Text(if byte == 0 {
                    String::new()
                } else {
                    // A byte of a multi-byte character is shown as PostgreSQL's
                    // "char" output shows a high byte.
                    match byte {
                        0x80.. => format!("\\{:03o}", byte),
                        _ => (byte as char).to_string(),
                    }
                })
            }
            _ => Value::Null,
        },
        TypeFn::Slice => {
            let Some(a) = typed(&arg(0)) else {
                return Ok(Some(Value::Null));
            };
            let n = a.items.len() as i64;
            let lo = match arg(1) {
                Value::Null if args.get(3) == Some(&Value::Bool(true)) => {
                    return Ok(Some(Value::Null))
                }
                Value::Null => 1,
                v => v.as_i64().unwrap_or(1),
            };
            let hi = match arg(2) {
                Value::Null if args.get(4) == Some(&Value::Bool(true)) => {
                    return Ok(Some(Value::Null))
                }
                Value::Null => n,
                v => v.as_i64().unwrap_or(n),
            };
            let (lo, hi) = (lo.max(1), hi.min(n));
            let items = if lo > hi {
                vec![]
            } else {
                a.items[(lo - 1) as usize..hi as usize].to_vec()
            };
            types::array::ArrayValue {
                elem: a.elem,
                items,
            }
            .into_value()
        }
        TypeFn::ArrayLen => {
            let n = elements(&arg(0)).len();
            if arg(1).as_i64() == Some(1) && n > 0 {
                Value::Int4(n as i32)
            } else {
                Value::Null
            }
        }
        TypeFn::ArrayUpper | TypeFn::ArrayLower => {
            let n = elements(&arg(0)).len();
            match (arg(1).as_i64() == Some(1) && n > 0, f) {
                (false, _) => Value::Null,
                (true, TypeFn::ArrayUpper) => Value::Int4(n as i32),
                (true, _) => Value::Int4(1),
            }
        }
        TypeFn::Cardinality => Value::Int4(elements(&arg(0)).len() as i32),
        TypeFn::ArrayToString => {
            let (Some(a), Value::Text(sep)) = (typed(&arg(0)), arg(1)) else {
                return Ok(Some(Value::Null));
            };
            let null_str = match arg(2) {
                Value::Text(s) => Some(s),
                _ => None,
            };
            let parts: Vec<String> = a
                .items
                .iter()
                .filter_map(|v| match v {
                    Value::Null => null_str.clone(),
                    v => Some(types::format_text(v, opts)),
                })
                .collect();
            Value::Text(parts.join(&sep))
        }
        TypeFn::ArrayAppend(e) => {
            if arg(0).is_null() {
                return Ok(Some(make_array(e, vec![arg(1)])));
            }
            let mut items = elements(&arg(0));
            items.push(arg(1));
            make_array(e, items)
        }
        TypeFn::ArrayPrepend(e) => {
            let mut items = vec![arg(0)];
            items.extend(elements(&arg(1)));
            make_array(e, items)
        }
        TypeFn::ArrayCat => match (typed(&arg(0)), typed(&arg(1))) {
            (None, None) => Value::Null,
            (Some(a), None) => a.into_value(),
            (None, Some(b)) => b.into_value(),
            (Some(mut a), Some(b)) => {
                a.items.extend(b.items);
                a.into_value()
            }
        },
        TypeFn::ArrayPosition(_) => {
            if arg(0).is_null() {
                return Ok(Some(Value::Null));
            }
            let want = arg(1);
            elements(&arg(0))
                .iter()
                .position(|v| elem_eq(v, &want) || (v.is_null() && want.is_null()))
                .map(|p| Value::Int4(p as i32 + 1))
                .unwrap_or(Value::Null)
        }
        TypeFn::ArrayPositions(_) => {
            if arg(0).is_null() {
                return Ok(Some(Value::Null));
            }
            let want = arg(1);
            let hits = elements(&arg(0))
                .iter()
                .enumerate()
                .filter(|(_, v)| elem_eq(v, &want) || (v.is_null() && want.is_null()))
                .map(|(i, _)| Value::Int4(i as i32 + 1))
                .collect();
            make_array(types::oid::INT4, hits)
        }
        TypeFn::ArrayRemove(_) => {
            let Some(mut a) = typed(&arg(0)) else {
                return Ok(Some(Value::Null));
            };
            let want = arg(1);
            a.items
                .retain(|v| !(elem_eq(v, &want) || (v.is_null() && want.is_null())));
            a.into_value()
        }
        TypeFn::ArrContains | TypeFn::ArrOverlap => {
            let (Some(a), Some(b)) = (typed(&arg(0)), typed(&arg(1))) else {
                return Ok(Some(Value::Null));
            };
            let has = |x: &Value| a.items.iter().any(|y| elem_eq(x, y));
            Value::Bool(if f == TypeFn::ArrContains {
                b.items.iter().all(|x| !x.is_null() && has(x))
            } else {
                b.items.iter().any(has)
            })
        }
        _ => return Ok(None),
    }))
}

fn text_array(v: &Value) -> Vec<Option<String>> {
    match v {
        Value::TextArray(items) => items.clone(),
        _ => vec![],
    }
}

/// Evaluates a function on its (already coerced) arguments.
pub fn call(f: TypeFn, args: Vec<Value>, _ty: DataType, cx: &mut ExecCtx<'_>) -> Result<Value> {
    let strict = !matches!(
        f,
        TypeFn::BuildObject(_)
            | TypeFn::BuildArray(_)
            | TypeFn::ToJson(_)
            | TypeFn::RowJson(_)
            | TypeFn::RowText
            | TypeFn::GenRandomUuid
            | TypeFn::ArrayBuild
            | TypeFn::AnyAll(..)
            | TypeFn::ArrayToString
            | TypeFn::StringToArray
            | TypeFn::ArrayAppend(_)
            | TypeFn::ArrayPosition(_)
            | TypeFn::ArrBuild(_)
            | TypeFn::Slice
            | TypeFn::ArrayPrepend(_)
            | TypeFn::ArrayCat
            | TypeFn::ArrayPositions(_)
            | TypeFn::ArrayRemove(_)
    );
    if strict && args.iter().any(|a| a.is_null()) {
        return Ok(Value::Null);
    }
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Null);
    let opts = cx.format_options();
    let text = |v: Value| match v {
        Value::Text(s) => Some(s),
        _ => None,
    };
    if let Some(v) = call_array(f, &args, &opts)? {
        return Ok(v);
    }
    Ok(match f {
        TypeFn::ArrayBuild => Value::TextArray(args.into_iter().map(text).collect()),
        TypeFn::AnyAll(op, all) => {
            let (x, arr) = (arg(0), arg(1));
            if arr.is_null() {
                return Ok(Value::Null);
            }
            let items = elements(&arr);
            if x.is_null() {
                return Ok(if items.is_empty() {
                    Value::Bool(all)
                } else {
                    Value::Null
                });
            }
            let mut saw_null = false;
            for it in items {
                if it.is_null() {
                    saw_null = true;
                    continue;
                }
                let r = super::expr::binary(op, x.clone(), it, DataType::Bool)?;
                match (r, all) {
                    (Value::Bool(true), false) => return Ok(Value::Bool(true)),
                    (Value::Bool(false), true) => return Ok(Value::Bool(false)),
                    _ => {}
                }
            }
            if saw_null {
                Value::Null
            } else {
                Value::Bool(all)
            }
        }
        TypeFn::StringToArray => {
            let Value::Text(s) = arg(0) else {
                return Ok(Value::Null);
            };
            let null_str = text(arg(2));
            let parts: Vec<String> = match text(arg(1)) {
                None => s.chars().map(|c| c.to_string()).collect(),
                Some(_) if s.is_empty() => vec![],
                Some(sep) if sep.is_empty() => vec![s.clone()],
                Some(sep) => s.split(sep.as_str()).map(str::to_string).collect(),
            };
            Value::TextArray(
                parts
                    .into_iter()
                    .map(|p| {
                        if Some(&p) == null_str.as_ref() {
                            None
                        } else {
                            Some(p)
                        }
                    })
                    .collect(),
            )
        }
        TypeFn::GenRandomUuid => Value::Uuid(types::bytea::random_uuid()),
        TypeFn::ByteaConcat => match (arg(0), arg(1)) {
            (Value::Bytea(mut a), Value::Bytea(b)) => {
                a.extend_from_slice(&b);
                Value::Bytea(a)
            }
            _ => Value::Null,
        },
        TypeFn::ByteaLength => match arg(0) {
            Value::Bytea(b) => Value::Int4(b.len() as i32),
            _ => Value::Null,
        },
        TypeFn::GetKey(true)
        | TypeFn::GetIndex(true)
        | TypeFn::GetKeyText(true)
        | TypeFn::GetIndexText(true) => {
            let Value::Json(s) = arg(0) else {
                return Ok(Value::Null);
            };
            let (key, idx) = match arg(1) {
                Value::Text(k) => (Some(k), None),
                v => (None, v.as_i64()),
            };
            let Some(raw) = json::json_child(&s, key.as_deref(), idx)? else {
                return Ok(Value::Null);
            };
            if matches!(f, TypeFn::GetKey(_) | TypeFn::GetIndex(_)) {
                Value::Json(raw.to_string())
            } else {
                json::json_text_of(raw)?
                    .map(Value::Text)
                    .unwrap_or(Value::Null)
            }
        }
        TypeFn::GetKey(false)
        | TypeFn::GetIndex(false)
        | TypeFn::GetKeyText(false)
        | TypeFn::GetIndexText(false)
        | TypeFn::GetPath(_)
        | TypeFn::GetPathText(_) => {
            let as_json = matches!(f, TypeFn::GetPath(true) | TypeFn::GetPathText(true));
            let Some(j) = tree(&arg(0))? else {
                return Ok(Value::Null);
            };
            let found = match f {
                TypeFn::GetKey(_) | TypeFn::GetKeyText(_) => match arg(1) {
                    Value::Text(k) => json::get_key(&j, &k),
                    _ => None,
                },
                TypeFn::GetIndex(_) | TypeFn::GetIndexText(_) => {
                    json::get_index(&j, arg(1).as_i64().unwrap_or(i64::MAX))
                }
                _ => json::get_path(&j, &text_array(&arg(1))),
            };
            let Some(found) = found else {
                return Ok(Value::Null);
            };
            match f {
                TypeFn::GetKeyText(_) | TypeFn::GetIndexText(_) | TypeFn::GetPathText(_) => {
                    json::as_text(found).map(Value::Text).unwrap_or(Value::Null)
                }
                _ => wrap(found.clone(), as_json),
            }
        }
        TypeFn::Contains => match (tree(&arg(0))?, tree(&arg(1))?) {
            (Some(a), Some(b)) => Value::Bool(json::contains(&a, &b)),
            _ => Value::Null,
        },
        TypeFn::Exists => match (tree(&arg(0))?, arg(1)) {
            (Some(j), Value::Text(k)) => Value::Bool(json::exists(&j, &k)),
            _ => Value::Null,
        },
        TypeFn::ExistsAny | TypeFn::ExistsAll => {
            let Some(j) = tree(&arg(0))? else {
                return Ok(Value::Null);
            };
            let keys: Vec<String> = text_array(&arg(1)).into_iter().flatten().collect();
            let hit = |k: &String| json::exists(&j, k);
            Value::Bool(if f == TypeFn::ExistsAny {
                keys.iter().any(hit)
            } else {
                keys.iter().all(hit)
            })
        }
        TypeFn::Concat => match (tree(&arg(0))?, tree(&arg(1))?) {
            (Some(a), Some(b)) => Value::jsonb(json::concat(a, b)),
            _ => Value::Null,
        },
        TypeFn::DeleteKey => match (tree(&arg(0))?, arg(1)) {
            (Some(j), Value::Text(k)) => Value::jsonb(json::delete_key(j, &k)?),
            _ => Value::Null,
        },
        TypeFn::DeleteIndex => match (tree(&arg(0))?, arg(1).as_i64()) {
            (Some(j), Some(i)) => Value::jsonb(json::delete_index(j, i)?),
            _ => Value::Null,
        },
        TypeFn::DeleteKeys => {
            let Some(mut j) = tree(&arg(0))? else {
                return Ok(Value::Null);
            };
            for k in text_array(&arg(1)).into_iter().flatten() {
                j = json::delete_key(j, &k)?;
            }
            Value::jsonb(j)
        }
        TypeFn::DeletePath => {
            let Some(j) = tree(&arg(0))? else {
                return Ok(Value::Null);
            };
            let path = text_array(&arg(1));
            Value::jsonb(delete_path(j, &path)?)
        }
        TypeFn::BuildObject(as_json) => {
            if !args.len().is_multiple_of(2) {
                return Err(err!(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "argument list must have even number of elements"
                )
                .with_hint(format!(
                    "The arguments of {}() must consist of alternating keys and values.",
                    if as_json {
                        "json_build_object"
                    } else {
                        "jsonb_build_object"
                    }
                )));
            }
            let mut members = Vec::new();
            for (i, pair) in args.chunks(2).enumerate() {
                let key = match &pair[0] {
                    Value::Null => bail!(
                        sqlstate::INVALID_PARAMETER_VALUE,
                        "argument {}: key must not be null",
                        i * 2 + 1
                    ),
                    Value::Text(s) => s.clone(),
                    Value::Json(_) | Value::Jsonb(_) | Value::TextArray(_) => bail!(
                        sqlstate::INVALID_PARAMETER_VALUE,
                        "key value must be scalar, not array, composite, or json"
                    ),
                    v => types::format_text(v, &opts),
                };
                members.push((key, to_json_value(&pair[1], &opts)?));
            }
            wrap(Json::Object(members), as_json)
        }
        TypeFn::BuildArray(as_json) => {
            let items = args
                .iter()
                .map(|a| to_json_value(a, &opts))
                .collect::<Result<Vec<_>>>()?;
            wrap(Json::Array(items), as_json)
        }
        TypeFn::RowText => {
            // record_out: NULL is empty; a value is quoted when empty or holding a
            // quote, backslash, parenthesis, comma or white space.
            let parts: Vec<String> = args
                .iter()
                .skip(1)
                .step_by(2)
                .map(|v| {
                    if v.is_null() {
                        return String::new();
                    }
                    let t = types::format_text(v, &opts);
                    let quote = t.is_empty()
                        || t.chars().any(|c| {
                            matches!(c, '"' | '\\' | '(' | ')' | ',') || c.is_whitespace()
                        });
                    if quote {
                        format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\"\""))
                    } else {
                        t
                    }
                })
                .collect();
            Value::Text(format!("({})", parts.join(",")))
        }
        TypeFn::RowJson(as_json) => {
            let mut members = Vec::new();
            let mut it = args.into_iter();
            while let (Some(name), Some(v)) = (it.next(), it.next()) {
                let key = match name {
                    Value::Text(s) => s,
                    other => types::format_text(&other, &opts),
                };
                members.push((key, v));
            }
            if as_json {
                // Compact, each value as its own JSON text (a json value verbatim).
                let parts: Vec<String> = members
                    .iter()
                    .map(|(k, v)| {
                        let val = match v {
                            Value::Json(t) => Ok(t.clone()),
                            Value::Jsonb(j) => Ok(json::to_text(j)),
                            v => to_json_value(v, &opts).map(|j| json::to_compact_text(&j)),
                        }?;
                        Ok(format!(
                            "{}:{val}",
                            json::to_compact_text(&Json::String(k.clone()))
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Value::Json(format!("{{{}}}", parts.join(",")))
            } else {
                let obj = members
                    .into_iter()
                    .map(|(k, v)| Ok((k, to_json_value(&v, &opts)?)))
                    .collect::<Result<Vec<_>>>()?;
                Value::jsonb(json::normalize(Json::Object(obj)))
            }
        }
        TypeFn::ToJson(as_json) => {
            let v = arg(0);
            if v.is_null() {
                return Ok(Value::Null);
            }
            if as_json {
                if let Value::Json(s) = v {
                    return Ok(Value::Json(s));
                }
            }
            wrap(to_json_value(&v, &opts)?, as_json)
        }
        TypeFn::TypeOf(_) => match tree(&arg(0))? {
            Some(j) => Value::Text(json::type_name(&j).into()),
            None => Value::Null,
        },
        TypeFn::ArrayLength(as_json) => match tree(&arg(0))? {
            Some(Json::Array(items)) => Value::Int4(items.len() as i32),
            Some(Json::Object(_)) if as_json => bail!(
                sqlstate::INVALID_PARAMETER_VALUE,
                "cannot get array length of a non-array"
            ),
            Some(Json::Object(_)) => bail!(
                sqlstate::INVALID_PARAMETER_VALUE,
                "cannot get array length of a non-array"
            ),
            Some(_) => bail!(
                sqlstate::INVALID_PARAMETER_VALUE,
                "cannot get array length of a scalar"
            ),
            None => Value::Null,
        },
        TypeFn::Set => {
            let (Some(j), Some(new)) = (tree(&arg(0))?, tree(&arg(2))?) else {
                return Ok(Value::Null);
            };
            let create = !matches!(arg(3), Value::Bool(false));
            Value::jsonb(json::set_path(j, &text_array(&arg(1)), new, create)?)
        }
        TypeFn::Insert => {
            let (Some(j), Some(new)) = (tree(&arg(0))?, tree(&arg(2))?) else {
                return Ok(Value::Null);
            };
            let after = matches!(arg(3), Value::Bool(true));
            Value::jsonb(json::insert_path(j, &text_array(&arg(1)), new, after)?)
        }
        TypeFn::Pretty => match tree(&arg(0))? {
            Some(j) => Value::Text(json::pretty(&j)),
            None => Value::Null,
        },
        TypeFn::StripNulls(as_json) => match tree(&arg(0))? {
            Some(j) => {
                let j = json::strip_nulls(j);
                if as_json {
                    Value::Json(json::to_text(&j).replace(": ", ":").replace(", ", ","))
                } else {
                    Value::jsonb(j)
                }
            }
            None => Value::Null,
        },
        // The array functions were evaluated by `call_array` above.
        _ => return Err(Error::internal("array function not evaluated")),
    })
}

/// `#-`: deletes the element at a path.
fn delete_path(j: Json, path: &[Option<String>]) -> Result<Json> {
    if matches!(
        j,
        Json::Null | Json::Bool(_) | Json::Number(_) | Json::String(_)
    ) {
        bail!(
            sqlstate::INVALID_PARAMETER_VALUE,
            "cannot delete path in scalar"
        );
    }
    let Some((first, rest)) = path.split_first() else {
        return Ok(j);
    };
    let Some(step) = first.as_deref() else {
        bail!(
            sqlstate::NULL_VALUE_NOT_ALLOWED,
            "path element at position 1 is null"
        );
    };
    Ok(match j {
        Json::Object(m) => Json::Object(
            m.into_iter()
                .filter_map(|(k, v)| {
                    if k != step {
                        Some(Ok((k, v)))
                    } else if rest.is_empty() {
                        None
                    } else if matches!(v, Json::Object(_) | Json::Array(_)) {
                        Some(delete_path(v, rest).map(|v| (k, v)))
                    } else {
                        Some(Ok((k, v)))
                    }
                })
                .collect::<Result<Vec<_>>>()?,
        ),
        Json::Array(mut items) => {
            let Ok(i) = step.trim().parse::<i64>() else {
                bail!(
                    sqlstate::INVALID_TEXT_REPRESENTATION,
                    "path element at position 1 is not an integer: \"{step}\""
                );
            };
            let n = items.len() as i64;
            let i = if i < 0 { n + i } else { i };
            if i >= 0 && i < n {
                if rest.is_empty() {
                    items.remove(i as usize);
                } else if matches!(items[i as usize], Json::Object(_) | Json::Array(_)) {
                    let old = std::mem::replace(&mut items[i as usize], Json::Null);
                    items[i as usize] = delete_path(old, rest)?;
                }
            }
            Json::Array(items)
        }
        other => other,
    })
}

fn no_operator(l: DataType, op: &str, r: DataType) -> Error {
    err!(
        sqlstate::UNDEFINED_FUNCTION,
        "operator does not exist: {} {} {}",
        l.name(),
        op,
        r.name()
    )
    .with_hint(
        "No operator matches the given name and argument types. You might need to add explicit type casts.",
    )
}

/// Binds the JSON operators sqlparser knows but the binder has no rule for; `None` when
/// the operator is not one of them.
pub fn bind_json_operator(
    b: &mut Binder<'_>,
    left: &ast::Expr,
    op: &ast::BinaryOperator,
    right: &ast::Expr,
    scope: &Scope,
) -> Result<Option<Expr>> {
    use ast::BinaryOperator as B;
    if !matches!(
        op,
        B::Arrow
            | B::LongArrow
            | B::HashArrow
            | B::HashLongArrow
            | B::AtArrow
            | B::ArrowAt
            | B::Question
            | B::QuestionPipe
            | B::QuestionAnd
            | B::HashMinus
            | B::PGOverlap
    ) {
        return Ok(None);
    }
    let sym = op.to_string();
    let l = b.bind(left, scope)?;
    let r = b.bind(right, scope)?;
    let (lt, rt) = (l.ty(), r.ty());
    if lt == DataType::Unknown && rt == DataType::Unknown {
        bail!(
            sqlstate::AMBIGUOUS_FUNCTION,
            "operator is not unique: unknown {sym} unknown"
        );
    }
    let coerce = |b: &mut Binder<'_>, e: Expr, t: DataType, span| {
        b.coerce(e, t, -1, Coercion::Implicit, span)
            .map_err(|_| no_operator(lt, &sym, rt))
    };
    if matches!(op, B::AtArrow | B::ArrowAt | B::PGOverlap) && (is_array(lt) || is_array(rt)) {
        let arr_ty = if is_array(lt) { lt } else { rt };
        let l = coerce(b, l, arr_ty, left.span())?;
        let r = coerce(b, r, arr_ty, right.span())?;
        let (f, args) = match op {
            B::AtArrow => (TypeFn::ArrContains, vec![l, r]),
            B::ArrowAt => (TypeFn::ArrContains, vec![r, l]),
            _ => (TypeFn::ArrOverlap, vec![l, r]),
        };
        return Ok(Some(Expr::Func(Func::Typed(f), args, DataType::Bool)));
    }
    if *op == B::PGOverlap {
        return Err(no_operator(lt, &sym, rt));
    }
    let (ls, rs) = (left.span(), right.span());
    let func = |f: TypeFn, args: Vec<Expr>, ty: DataType| Expr::Func(Func::Typed(f), args, ty);
    Ok(Some(match op {
        B::Arrow | B::LongArrow | B::HashArrow | B::HashLongArrow => {
            if !is_json(lt) {
                return Err(no_operator(lt, &sym, rt));
            }
            let j = lt == DataType::Json;
            let text = matches!(op, B::LongArrow | B::HashLongArrow);
            let ty = if text { DataType::Text } else { lt };
            if matches!(op, B::HashArrow | B::HashLongArrow) {
                let r = coerce(b, r, DataType::TextArray, rs)?;
                let f = if text {
                    TypeFn::GetPathText(j)
                } else {
                    TypeFn::GetPath(j)
                };
                func(f, vec![l, r], ty)
            } else if rt.is_integer() {
                let r = coerce(b, r, DataType::Int4, rs)?;
                let f = if text {
                    TypeFn::GetIndexText(j)
                } else {
                    TypeFn::GetIndex(j)
                };
                func(f, vec![l, r], ty)
            } else {
                let r = coerce(b, r, DataType::Text, rs)?;
                let f = if text {
                    TypeFn::GetKeyText(j)
                } else {
                    TypeFn::GetKey(j)
                };
                func(f, vec![l, r], ty)
            }
        }
        B::AtArrow | B::ArrowAt => {
            let l = coerce(b, l, DataType::Jsonb, ls)?;
            let r = coerce(b, r, DataType::Jsonb, rs)?;
            if lt != DataType::Jsonb && rt != DataType::Jsonb {
                return Err(no_operator(lt, &sym, rt));
            }
            let args = if *op == B::AtArrow {
                vec![l, r]
            } else {
                vec![r, l]
            };
            func(TypeFn::Contains, args, DataType::Bool)
        }
        B::Question | B::QuestionPipe | B::QuestionAnd => {
            if lt != DataType::Jsonb {
                return Err(no_operator(lt, &sym, rt));
            }
            let (f, want) = match op {
                B::Question => (TypeFn::Exists, DataType::Text),
                B::QuestionPipe => (TypeFn::ExistsAny, DataType::TextArray),
                _ => (TypeFn::ExistsAll, DataType::TextArray),
            };
            let r = coerce(b, r, want, rs)?;
            func(f, vec![l, r], DataType::Bool)
        }
        _ => {
            if lt != DataType::Jsonb {
                return Err(no_operator(lt, &sym, rt));
            }
            let r = coerce(b, r, DataType::TextArray, rs)?;
            func(TypeFn::DeletePath, vec![l, r], DataType::Jsonb)
        }
    }))
}

/// Binds `||` and `-` when an operand is jsonb or bytea; hands the operands back
/// otherwise.
pub fn bind_typed_binary(
    b: &mut Binder<'_>,
    op: BinOp,
    l: Expr,
    r: Expr,
    spans: (sqlparser::tokenizer::Span, sqlparser::tokenizer::Span),
) -> Result<std::result::Result<Expr, (Expr, Expr)>> {
    let (lt, rt) = (l.ty(), r.ty());
    let func = |f: TypeFn, args: Vec<Expr>, ty: DataType| Expr::Func(Func::Typed(f), args, ty);
    let any = |t: DataType| lt == t || rt == t;
    let known = |t: DataType| t != DataType::Unknown;
    match op {
        BinOp::Concat if any(DataType::Jsonb) && (lt == rt || !known(lt) || !known(rt)) => {
            let l = b.coerce(l, DataType::Jsonb, -1, Coercion::Implicit, spans.0)?;
            let r = b.coerce(r, DataType::Jsonb, -1, Coercion::Implicit, spans.1)?;
            Ok(Ok(func(TypeFn::Concat, vec![l, r], DataType::Jsonb)))
        }
        BinOp::Concat if is_array(lt) || is_array(rt) => {
            let (arr_ty, l_arr, r_arr) = if is_array(lt) && is_array(rt) {
                (lt, true, true)
            } else if is_array(lt) {
                (lt, true, rt == DataType::Unknown)
            } else {
                (rt, lt == DataType::Unknown, true)
            };
            let elem = types::array::elem_type(arr_ty).unwrap_or(DataType::Text);
            let l = b.coerce(
                l,
                if l_arr { arr_ty } else { elem },
                -1,
                Coercion::Implicit,
                spans.0,
            )?;
            let r = b.coerce(
                r,
                if r_arr { arr_ty } else { elem },
                -1,
                Coercion::Implicit,
                spans.1,
            )?;
            let f = match (l_arr, r_arr) {
                (true, true) => TypeFn::ArrayCat,
                (true, false) => TypeFn::ArrayAppend(elem.oid()),
                _ => TypeFn::ArrayPrepend(elem.oid()),
            };
            Ok(Ok(func(f, vec![l, r], arr_ty)))
        }
        BinOp::Concat if any(DataType::Bytea) && (lt == rt || !known(lt) || !known(rt)) => {
            let l = b.coerce(l, DataType::Bytea, -1, Coercion::Implicit, spans.0)?;
            let r = b.coerce(r, DataType::Bytea, -1, Coercion::Implicit, spans.1)?;
            Ok(Ok(func(TypeFn::ByteaConcat, vec![l, r], DataType::Bytea)))
        }
        BinOp::Sub if lt == DataType::Jsonb => {
            if rt.is_integer() {
                let r = b.coerce(r, DataType::Int4, -1, Coercion::Implicit, spans.1)?;
                Ok(Ok(func(TypeFn::DeleteIndex, vec![l, r], DataType::Jsonb)))
            } else if rt == DataType::TextArray {
                Ok(Ok(func(TypeFn::DeleteKeys, vec![l, r], DataType::Jsonb)))
            } else if rt == DataType::Unknown || rt.is_string() {
                let r = b.coerce(r, DataType::Text, -1, Coercion::Implicit, spans.1)?;
                Ok(Ok(func(TypeFn::DeleteKey, vec![l, r], DataType::Jsonb)))
            } else {
                Err(no_operator(lt, "-", rt))
            }
        }
        _ if op.is_comparison() && (lt == DataType::Json || rt == DataType::Json) => {
            Err(no_operator(lt, op.symbol(), rt))
        }
        _ => Ok(Err((l, r))),
    }
}

/// The common type of `ARRAY[…]` elements (or of a CASE/UNION-like list), as
/// PostgreSQL's `select_common_type`: unknown literals take the others' type (text if
/// all are unknown); known types must be implicitly castable one way.
pub fn common_type(types_: impl Iterator<Item = DataType>, ctx: &str) -> Result<DataType> {
    let mut cand: Option<DataType> = None;
    for t in types_ {
        if t == DataType::Unknown {
            continue;
        }
        cand = Some(match cand {
            None => t,
            Some(c) if c == t => c,
            Some(c) => {
                if super::plan::castable(c, t, Coercion::Implicit)
                    && !super::plan::castable(t, c, Coercion::Implicit)
                {
                    t
                } else if super::plan::castable(t, c, Coercion::Implicit) {
                    c
                } else {
                    bail!(
                        sqlstate::DATATYPE_MISMATCH,
                        "{ctx} types {} and {} cannot be matched",
                        c.name(),
                        t.name()
                    );
                }
            }
        });
    }
    Ok(cand.unwrap_or(DataType::Text))
}

/// Binds `ARRAY[…]`, subscripts and slices, and `x op ANY/ALL (array)`, for every
/// element type tusk has. `None` for other expressions.
pub fn bind_array_expr(b: &mut Binder<'_>, e: &ast::Expr, scope: &Scope) -> Result<Option<Expr>> {
    match e {
        ast::Expr::Array(arr) => {
            let mut bound = Vec::new();
            for x in &arr.elem {
                bound.push((b.bind(x, scope)?, x.span()));
            }
            if bound.is_empty() {
                bail!(
                    sqlstate::INDETERMINATE_DATATYPE,
                    "cannot determine type of empty array"
                )
            }
            let elem = common_type(bound.iter().map(|(e, _)| e.ty()), "ARRAY")?;
            if is_array(elem) {
                bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "multidimensional arrays are not supported yet"
                );
            }
            let Some(arr_ty) = types::array::array_type_of(elem) else {
                bail!(
                    sqlstate::UNDEFINED_OBJECT,
                    "could not find array type for data type {}",
                    elem.name()
                );
            };
            let mut items = Vec::new();
            for (e, span) in bound {
                items.push(b.coerce(e, elem, -1, Coercion::Implicit, span)?);
            }
            let f = if elem == DataType::Text {
                TypeFn::ArrayBuild
            } else {
                TypeFn::ArrBuild(elem.oid())
            };
            Ok(Some(Expr::Func(Func::Typed(f), items, arr_ty)))
        }
        ast::Expr::CompoundFieldAccess { root, access_chain } => {
            let arr = b.bind(root, scope)?;
            if let (DataType::Name, [ast::AccessExpr::Subscript(ast::Subscript::Index { index })]) =
                (arr.ty(), access_chain.as_slice())
            {
                let e = b.bind(index, scope)?;
                let i = b.coerce(e, DataType::Int4, -1, Coercion::Implicit, index.span())?;
                return Ok(Some(Expr::Func(
                    Func::Typed(TypeFn::NameByte),
                    vec![arr, i],
                    DataType::Text,
                )));
            }
            let Some(elem) = types::array::elem_type(arr.ty()) else {
                bail!(
                    sqlstate::DATATYPE_MISMATCH,
                    "cannot subscript type {} because it does not support subscripting",
                    arr.ty().name()
                );
            };
            let [ast::AccessExpr::Subscript(sub)] = access_chain.as_slice() else {
                bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "multidimensional subscripts are not supported yet"
                );
            };
            let int = |b: &mut Binder<'_>, x: &ast::Expr| -> Result<Expr> {
                let e = b.bind(x, scope)?;
                b.coerce(e, DataType::Int4, -1, Coercion::Implicit, x.span())
            };
            Ok(Some(match sub {
                ast::Subscript::Index { index } => {
                    let i = int(b, index)?;
                    Expr::Func(Func::Typed(TypeFn::Subscript), vec![arr, i], elem)
                }
                ast::Subscript::Slice {
                    lower_bound,
                    upper_bound,
                    stride: None,
                } => {
                    let ty = arr.ty();
                    let null = || Expr::Const(Value::Null, DataType::Int4);
                    let given = |x: &Option<ast::Expr>| {
                        Expr::Const(Value::Bool(x.is_some()), DataType::Bool)
                    };
                    let lo = match lower_bound {
                        Some(x) => int(b, x)?,
                        None => null(),
                    };
                    let hi = match upper_bound {
                        Some(x) => int(b, x)?,
                        None => null(),
                    };
                    Expr::Func(
                        Func::Typed(TypeFn::Slice),
                        vec![arr, lo, hi, given(lower_bound), given(upper_bound)],
                        ty,
                    )
                }
                ast::Subscript::Slice { .. } => {
                    bail!(sqlstate::SYNTAX_ERROR, "syntax error at or near \":\"")
                }
            }))
        }
        ast::Expr::AnyOp {
            left,
            compare_op,
            right,
            ..
        }
        | ast::Expr::AllOp {
            left,
            compare_op,
            right,
        } => {
            if matches!(right.as_ref(), ast::Expr::Subquery(_)) {
                return Ok(None);
            }
            use ast::BinaryOperator as B;
            let op = match compare_op {
                B::Eq => BinOp::Eq,
                B::NotEq => BinOp::NotEq,
                B::Lt => BinOp::Lt,
                B::LtEq => BinOp::LtEq,
                B::Gt => BinOp::Gt,
                B::GtEq => BinOp::GtEq,
                _ => return Ok(None),
            };
            let l = b.bind(left, scope)?;
            let r = b.bind(right, scope)?;
            let (lt, rt) = (l.ty(), r.ty());
            let (l, r) = if let Some(elem) = types::array::elem_type(rt) {
                let l = if lt == DataType::Unknown || !super::plan::comparable(lt, elem) {
                    b.coerce(l, elem, -1, Coercion::Implicit, left.span())?
                } else {
                    l
                };
                (l, r)
            } else if rt == DataType::Unknown {
                let lt = if lt == DataType::Unknown {
                    DataType::Text
                } else {
                    lt
                };
                let Some(arr_ty) = types::array::array_type_of(lt) else {
                    bail!(
                        sqlstate::UNDEFINED_OBJECT,
                        "could not find array type for data type {}",
                        lt.name()
                    );
                };
                let l = b.coerce(l, lt, -1, Coercion::Implicit, left.span())?;
                let r = b.coerce(r, arr_ty, -1, Coercion::Implicit, right.span())?;
                (l, r)
            } else {
                bail!(
                    sqlstate::WRONG_OBJECT_TYPE,
                    "op ANY/ALL (array) requires array on right side"
                );
            };
            let all = matches!(e, ast::Expr::AllOp { .. });
            Ok(Some(Expr::Func(
                Func::Typed(TypeFn::AnyAll(op, all)),
                vec![l, r],
                DataType::Bool,
            )))
        }
        _ => Ok(None),
    }
}

// ---- aggregates ----

/// An aggregate that collects its inputs (NULLs included) and builds one value at the
/// end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectAgg {
    /// `jsonb_agg(x)` / `json_agg(x)` (json when the flag is set).
    JsonAgg(bool),
    /// `json_agg(t)` of a FROM item's rows: PostgreSQL separates composite elements
    /// with `", \n "`.
    JsonAggRows,
    /// `jsonb_object_agg(k, v)` / `json_object_agg(k, v)`.
    JsonObjectAgg(bool),
    /// `array_agg(text)`.
    ArrayAgg,
}

/// The internal names a whole-row reference's JSON calls are rewritten to (quoted
/// names with spaces: no client can write them unquoted, none would quote them).
pub const ROW_JSON: &str = "tusk row to json";
/// See [`ROW_JSON`]: the jsonb form.
pub const ROW_JSONB: &str = "tusk row to jsonb";
/// See [`ROW_JSON`]: `json_agg` over a FROM item's rows.
pub const ROW_JSON_AGG: &str = "tusk json_agg rows";
/// See [`ROW_JSON`]: a FROM item named alone, as composite text.
pub const ROW_TEXT: &str = "tusk row text";

/// Resolves an aggregate name and argument count.
pub fn collect_agg(name: &str, nargs: usize) -> Option<CollectAgg> {
    Some(match (name, nargs) {
        ("jsonb_agg", 1) => CollectAgg::JsonAgg(false),
        ("json_agg", 1) => CollectAgg::JsonAgg(true),
        (ROW_JSON_AGG, 1) => CollectAgg::JsonAggRows,
        ("jsonb_object_agg", 2) => CollectAgg::JsonObjectAgg(false),
        ("json_object_agg", 2) => CollectAgg::JsonObjectAgg(true),
        ("array_agg", 1) => CollectAgg::ArrayAgg,
        _ => return None,
    })
}

/// Refuses what the aggregate cannot do yet (`array_agg` of anything but text).
pub fn check_collect_arg(a: CollectAgg, arg: DataType) -> Result<()> {
    if a == CollectAgg::ArrayAgg && !arg.is_string() {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "array_agg of type {} is not supported yet (only text)",
            arg.name()
        );
    }
    Ok(())
}

/// The aggregate's result type for an argument of type `arg` (`array_agg` of any type
/// with an array type).
pub fn collect_type_for(a: CollectAgg, arg: DataType) -> Result<DataType> {
    if a != CollectAgg::ArrayAgg {
        return Ok(collect_type(a));
    }
    if is_array(arg) {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "array_agg of arrays (multidimensional arrays) is not supported yet"
        );
    }
    let arg = if arg == DataType::Unknown {
        DataType::Text
    } else {
        arg
    };
    types::array::array_type_of(arg).ok_or_else(|| {
        err!(
            sqlstate::UNDEFINED_OBJECT,
            "could not find array type for data type {}",
            arg.name()
        )
    })
}

/// Builds the aggregate's result when the planner knows its type `ty`.
pub fn finish_collect_typed(
    a: CollectAgg,
    items: Vec<(Value, Value)>,
    ty: DataType,
) -> Result<Value> {
    if a == CollectAgg::ArrayAgg && !items.is_empty() {
        if let Some(elem) = types::array::elem_type(ty) {
            return Ok(types::array::ArrayValue {
                elem,
                items: items.into_iter().map(|(v, _)| v).collect(),
            }
            .into_value());
        }
    }
    finish_collect(a, items)
}

/// The aggregate's result type.
pub fn collect_type(a: CollectAgg) -> DataType {
    match a {
        CollectAgg::JsonAgg(true) | CollectAgg::JsonObjectAgg(true) | CollectAgg::JsonAggRows => {
            DataType::Json
        }
        CollectAgg::ArrayAgg => DataType::TextArray,
        _ => DataType::Jsonb,
    }
}

/// Builds the aggregate's result from its inputs (`(arg, arg2)` per row, in order);
/// no rows give NULL.
pub fn finish_collect(a: CollectAgg, items: Vec<(Value, Value)>) -> Result<Value> {
    if items.is_empty() {
        return Ok(Value::Null);
    }
    let opts = types::FormatOptions::default();
    Ok(match a {
        CollectAgg::ArrayAgg => Value::TextArray(
            items
                .into_iter()
                .map(|(v, _)| match v {
                    Value::Null => None,
                    Value::Text(s) => Some(s),
                    v => Some(types::format_text(&v, &opts)),
                })
                .collect(),
        ),
        CollectAgg::JsonAgg(as_json) => {
            let vals = items
                .iter()
                .map(|(v, _)| to_json_value(v, &opts))
                .collect::<Result<Vec<_>>>()?;
            wrap(Json::Array(vals), as_json)
        }
        CollectAgg::JsonAggRows => {
            let texts: Vec<String> = items
                .iter()
                .map(|(v, _)| match v {
                    Value::Json(t) => t.clone(),
                    _ => "null".to_string(),
                })
                .collect();
            Value::Json(format!("[{}]", texts.join(", \n ")))
        }
        CollectAgg::JsonObjectAgg(as_json) => {
            let mut members = Vec::new();
            for (k, v) in &items {
                let key = match k {
                    Value::Null => bail!(
                        sqlstate::INVALID_PARAMETER_VALUE,
                        "field name must not be null"
                    ),
                    Value::Text(s) => s.clone(),
                    k => types::format_text(k, &opts),
                };
                members.push((key, to_json_value(v, &opts)?));
            }
            wrap(Json::Object(members), as_json)
        }
    })
}

// ---- set-returning functions in FROM ----

/// A set-returning function of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Srf {
    /// `jsonb_array_elements` / `json_array_elements` (json when the flag is set).
    ArrayElements(bool),
    /// `jsonb_array_elements_text` / `json_array_elements_text`.
    ArrayElementsText(bool),
    /// `jsonb_each` / `json_each`.
    Each(bool),
    /// `jsonb_each_text` / `json_each_text`.
    EachText(bool),
    /// `jsonb_object_keys` / `json_object_keys`.
    ObjectKeys(bool),
    /// `unnest(text[])`.
    Unnest,
    /// `information_schema._pg_expandarray(anyarray)`: each element `x` with its
    /// position `n` (JDBC's getPrimaryKeys expands `pg_index.indkey` with it).
    ExpandArray,
    /// `pg_options_to_table(text[])`: each `name=value` option as (`option_name`,
    /// `option_value`), the value NULL when there is no `=`.
    OptionsToTable,
}

/// A bound call of a set-returning function.
#[derive(Debug, Clone)]
pub struct SrfCall {
    /// The function.
    pub func: Srf,
    /// Its argument (constant or parameter: FROM items see no other columns).
    pub arg: Expr,
}

/// The function and its output columns, if `name` is one of this module's set-returning
/// functions.
pub fn srf(name: &str) -> Option<(Srf, Vec<(&'static str, DataType)>)> {
    if name == "unnest" {
        return Some((Srf::Unnest, vec![("unnest", DataType::Text)]));
    }
    if name == "_pg_expandarray" {
        let cols = vec![("x", DataType::Text), ("n", DataType::Int4)];
        return Some((Srf::ExpandArray, cols));
    }
    if name == "pg_options_to_table" {
        return Some((
            Srf::OptionsToTable,
            vec![
                ("option_name", DataType::Text),
                ("option_value", DataType::Text),
            ],
        ));
    }
    let j = name.starts_with("json_");
    let jt = if j { DataType::Json } else { DataType::Jsonb };
    let base = name
        .strip_prefix("jsonb_")
        .or_else(|| name.strip_prefix("json_"))?;
    Some(match base {
        "array_elements" => (Srf::ArrayElements(j), vec![("value", jt)]),
        "array_elements_text" => (Srf::ArrayElementsText(j), vec![("value", DataType::Text)]),
        "each" => (Srf::Each(j), vec![("key", DataType::Text), ("value", jt)]),
        "each_text" => (
            Srf::EachText(j),
            vec![("key", DataType::Text), ("value", DataType::Text)],
        ),
        "object_keys" => (
            Srf::ObjectKeys(j),
            vec![(
                if j {
                    "json_object_keys"
                } else {
                    "jsonb_object_keys"
                },
                DataType::Text,
            )],
        ),
        _ => return None,
    })
}

/// The argument type a set-returning function takes for an argument of type `given`,
/// and its output columns (`unnest` of any array gives its element type).
pub fn srf_shape(
    f: Srf,
    given: DataType,
    cols: Vec<(&'static str, DataType)>,
) -> (DataType, Vec<(&'static str, DataType)>) {
    if f == Srf::Unnest {
        if let Some(elem) = types::array::elem_type(given) {
            return (given, vec![("unnest", elem)]);
        }
    }
    if f == Srf::ExpandArray {
        if let Some(elem) = types::array::elem_type(given) {
            return (given, vec![("x", elem), ("n", DataType::Int4)]);
        }
    }
    (srf_arg_type(f), cols)
}

/// The argument type of a set-returning function.
pub fn srf_arg_type(f: Srf) -> DataType {
    match f {
        Srf::Unnest | Srf::ExpandArray | Srf::OptionsToTable => DataType::TextArray,
        Srf::ArrayElements(j)
        | Srf::ArrayElementsText(j)
        | Srf::Each(j)
        | Srf::EachText(j)
        | Srf::ObjectKeys(j) => {
            if j {
                DataType::Json
            } else {
                DataType::Jsonb
            }
        }
    }
}

/// Runs a set-returning function, giving its rows.
pub fn run_srf(call: &SrfCall, cx: &mut ExecCtx<'_>) -> Result<Vec<Vec<Value>>> {
    let v = super::expr::eval(&call.arg, &[], cx)?;
    if v.is_null() {
        return Ok(vec![]);
    }
    if call.func == Srf::Unnest {
        return Ok(elements(&v).into_iter().map(|i| vec![i]).collect());
    }
    if call.func == Srf::ExpandArray {
        // Arrays start at subscript 1 in tusk, so the position is the subscript.
        return Ok(elements(&v)
            .into_iter()
            .zip(1..)
            .map(|(x, n)| vec![x, Value::Int4(n)])
            .collect());
    }
    if call.func == Srf::OptionsToTable {
        return Ok(elements(&v)
            .into_iter()
            .filter_map(|o| match o {
                Value::Text(t) => Some(match t.split_once('=') {
                    Some((n, v)) => vec![Value::Text(n.into()), Value::Text(v.into())],
                    None => vec![Value::Text(t), Value::Null],
                }),
                _ => None,
            })
            .collect());
    }
    let j_out = matches!(call.func, Srf::ArrayElements(true) | Srf::Each(true));
    // json (not jsonb) keeps each child's text and the object's member order.
    let (items, members): (Vec<Json>, Vec<(String, Json)>) = match (&v, call.func) {
        (Value::Json(s), _) => match json::raw_children(s)? {
            json::RawNode::Array(items) => {
                if j_out {
                    return Ok(items
                        .into_iter()
                        .map(|t| vec![Value::Json(t.to_string())])
                        .collect());
                }
                (
                    items.into_iter().map(json::parse).collect::<Result<_>>()?,
                    vec![],
                )
            }
            json::RawNode::Object(m) => {
                if j_out {
                    return Ok(m
                        .into_iter()
                        .map(|(k, t)| vec![Value::Text(k), Value::Json(t.to_string())])
                        .collect());
                }
                let m = m
                    .into_iter()
                    .map(|(k, t)| Ok((k, json::parse(t)?)))
                    .collect::<Result<_>>()?;
                (vec![], m)
            }
            json::RawNode::Scalar => (vec![], vec![]),
        },
        _ => match tree(&v)? {
            Some(Json::Array(items)) => (items, vec![]),
            Some(Json::Object(m)) => (vec![], m),
            _ => (vec![], vec![]),
        },
    };
    let shape = match tree(&v)? {
        Some(Json::Array(_)) => "array",
        Some(Json::Object(_)) => "object",
        _ => "scalar",
    };
    let (name, want) = match call.func {
        Srf::ArrayElements(_) | Srf::ArrayElementsText(_) => ("extract elements from", "array"),
        Srf::Each(_) | Srf::EachText(_) => ("deconstruct", "object"),
        Srf::ObjectKeys(_) => ("call jsonb_object_keys on", "object"),
        Srf::Unnest | Srf::ExpandArray | Srf::OptionsToTable => ("unnest", "array"),
    };
    if shape != want {
        let what = if want == "array" && shape == "object" {
            "an object".to_string()
        } else if shape == "array" {
            "an array".to_string()
        } else {
            "a scalar".to_string()
        };
        let msg = match call.func {
            Srf::ObjectKeys(j) => format!(
                "cannot call {} on {what}",
                if j {
                    "json_object_keys"
                } else {
                    "jsonb_object_keys"
                }
            ),
            Srf::Each(j) | Srf::EachText(j) => format!(
                "cannot call {}_each{} on a non-object",
                if j { "json" } else { "jsonb" },
                if matches!(call.func, Srf::EachText(_)) {
                    "_text"
                } else {
                    ""
                }
            ),
            _ => format!("cannot {name} {what}"),
        };
        return Err(err!(sqlstate::INVALID_PARAMETER_VALUE, "{msg}"));
    }
    let as_json = matches!(call.func, Srf::ArrayElements(true) | Srf::Each(true));
    let out_value = |j: Json| {
        if as_json {
            Value::Json(json::to_json_text(&j))
        } else {
            Value::jsonb(j)
        }
    };
    Ok(match call.func {
        Srf::ArrayElements(_) => items.into_iter().map(|j| vec![out_value(j)]).collect(),
        Srf::ArrayElementsText(_) => items
            .iter()
            .map(|j| vec![json::as_text(j).map(Value::Text).unwrap_or(Value::Null)])
            .collect(),
        Srf::Each(_) => members
            .into_iter()
            .map(|(k, j)| vec![Value::Text(k), out_value(j)])
            .collect(),
        Srf::EachText(_) => members
            .iter()
            .map(|(k, j)| {
                vec![
                    Value::Text(k.clone()),
                    json::as_text(j).map(Value::Text).unwrap_or(Value::Null),
                ]
            })
            .collect(),
        Srf::ObjectKeys(_) => members
            .into_iter()
            .map(|(k, _)| vec![Value::Text(k)])
            .collect(),
        Srf::Unnest | Srf::ExpandArray | Srf::OptionsToTable => vec![],
    })
}
