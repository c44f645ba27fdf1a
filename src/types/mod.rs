//! Values and PostgreSQL data types: OIDs, text and binary I/O, casts, comparison and the
//! compact row encoding used by the WAL and the checkpoint images.
//!
//! Files of this module:
//! - `mod.rs`      — [`Value`], [`DataType`], type OIDs, comparison, casts, row codec
//! - `text.rs`     — PostgreSQL's text input/output functions (`int4in`, `float8out`, …)
//! - `binary.rs`   — PostgreSQL's binary send/receive formats
//! - `datetime.rs` — timestamps and dates (microseconds / days since 2000-01-01)
//! - `time.rs`     — `time` and `timetz` (microseconds since midnight, zone offset)
//! - `timezone.rs` — time zones: the IANA database with DST, POSIX specifications,
//!   abbreviations; offsets at an instant and local-time resolution
//! - `numeric.rs`  — numeric typmods, rounding and division scale as PostgreSQL computes
//! - `numeric_math.rs` — sqrt/exp/ln/log/power and the exact numeric functions, with
//!   PostgreSQL's result scales
//! - `bytea.rs`    — `bytea` (hex/escape formats) and `uuid` text input and output
//! - `json.rs`     — the JSON tree and parser, jsonb's normal form, output and operators
//! - `array.rs`    — arrays of every scalar type (text and binary formats, order) and
//!   enum values
//! - `pg_char.rs`  — the one-byte internal type `"char"` (catalog columns such as
//!   `pg_class.relkind`): its text forms and its byte
//!
//! Invariants:
//! - A [`Value`] stored in a column always has exactly that column's [`DataType`]
//!   (coercion happens before storage), so the row codec needs no type tags to be
//!   unambiguous; it stores them anyway so images are self-describing.
//! - Timestamps are microseconds since 2000-01-01 00:00:00 (UTC for timestamptz), dates
//!   are days since 2000-01-01, exactly PostgreSQL's internal representation, so the
//!   binary wire format is a plain big-endian copy.
//!
//! What this module must never do: know about tables, sessions or storage. It is pure.
//!
//! One value's trip, e.g. `INSERT INTO t(n) VALUES ('1.005')` into `numeric(5,2)`:
//! 1. the literal arrives as [`Value::Text`] of unknown type;
//! 2. [`parse_text`] runs numeric input, giving `1.005`;
//! 3. [`apply_typmod`] rounds it to scale 2 (`1.01`) and checks the precision;
//! 4. [`encode_row`] writes it into the WAL record and later the checkpoint image;
//! 5. on SELECT, [`format_text`] prints `1.01`.

pub mod array;
mod binary;
pub mod bytea;
mod datetime;
pub mod enum_io;
mod interval;
pub mod json;
mod numeric;
pub mod numeric_math;
pub mod pg_char;
mod text;
pub mod time;
pub mod timezone;

pub use binary::{decode_binary, encode_binary, encode_binary_as};
pub use datetime::{
    format_date, format_timestamp, format_timestamptz, now_micros, parse_date, parse_timestamp,
    parse_timestamptz, POSTGRES_EPOCH_UNIX_SECS,
};
pub use interval::{format_interval, parse_interval, timestamp_diff, timestamp_plus, Interval};
pub use numeric::{apply_typmod, div_scale, numeric_div, numeric_typmod};
pub use text::{format_float4, format_float8, format_text, parse_text, FormatOptions};
pub use time::TimeTz;

use crate::error::{sqlstate, Error, Result};
use crate::{bail, err};
use bigdecimal::{BigDecimal, ToPrimitive};
use std::cmp::Ordering;

/// PostgreSQL's type OIDs for the types tusk knows.
pub mod oid {
    /// `boolean`.
    pub const BOOL: u32 = 16;
    /// `"char"` (one byte).
    pub const CHAR: u32 = 18;
    /// `name`.
    pub const NAME: u32 = 19;
    /// `bigint`.
    pub const INT8: u32 = 20;
    /// `smallint`.
    pub const INT2: u32 = 21;
    /// `integer`.
    pub const INT4: u32 = 23;
    /// `text`.
    pub const TEXT: u32 = 25;
    /// `oid`.
    pub const OID: u32 = 26;
    /// `real`.
    pub const FLOAT4: u32 = 700;
    /// `double precision`.
    pub const FLOAT8: u32 = 701;
    /// `unknown` (an untyped literal).
    pub const UNKNOWN: u32 = 705;
    /// `text[]`.
    pub const TEXT_ARRAY: u32 = 1009;
    /// `character varying`.
    pub const VARCHAR: u32 = 1043;
    /// `character` (blank-padded).
    pub const BPCHAR: u32 = 1042;
    /// `date`.
    pub const DATE: u32 = 1082;
    /// `time without time zone`.
    pub const TIME: u32 = 1083;
    /// `time with time zone`.
    pub const TIMETZ: u32 = 1266;
    /// `timestamp without time zone`.
    pub const TIMESTAMP: u32 = 1114;
    /// `timestamp with time zone`.
    pub const TIMESTAMPTZ: u32 = 1184;
    /// `numeric`.
    pub const NUMERIC: u32 = 1700;
    /// `interval`.
    pub const INTERVAL: u32 = 1186;
    /// `void`.
    pub const VOID: u32 = 2278;
    /// `pg_lsn`.
    pub const PG_LSN: u32 = 3220;
    /// `bytea`.
    pub const BYTEA: u32 = 17;
    /// `uuid`.
    pub const UUID: u32 = 2950;
    /// `json`.
    pub const JSON: u32 = 114;
    /// `jsonb`.
    pub const JSONB: u32 = 3802;
    /// `int2vector`.
    pub const INT2VECTOR: u32 = 22;
    /// `oidvector`.
    pub const OIDVECTOR: u32 = 30;
}

/// A SQL data type (without its typmod, which travels beside it as an `i32`, -1 = none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// `boolean`.
    Bool,
    /// `smallint`.
    Int2,
    /// `integer`.
    Int4,
    /// `bigint`.
    Int8,
    /// `real`.
    Float4,
    /// `double precision`.
    Float8,
    /// `numeric` (typmod = ((precision << 16) | scale) + 4).
    Numeric,
    /// `text`.
    Text,
    /// `character varying` (typmod = max length + 4).
    Varchar,
    /// `character(n)`, blank-padded (typmod = length + 4).
    Bpchar,
    /// `name`.
    Name,
    /// `"char"`: one byte, held as its output text (see `types::char`).
    Char,
    /// `oid`.
    Oid,
    /// `timestamp without time zone`.
    Timestamp,
    /// `timestamp with time zone`.
    TimestampTz,
    /// `date`.
    Date,
    /// `time without time zone` (typmod = fractional digits, 0–6).
    Time,
    /// `time with time zone` (typmod = fractional digits, 0–6).
    TimeTz,
    /// `interval`.
    Interval,
    /// `pg_lsn`.
    PgLsn,
    /// `text[]`.
    TextArray,
    /// `void` (the result of functions such as `pg_sleep`).
    Void,
    /// `unknown`: an untyped string literal not yet resolved by context.
    Unknown,
    /// `bytea`.
    Bytea,
    /// `uuid`.
    Uuid,
    /// `json` (the text as given).
    Json,
    /// `jsonb` (parsed and normalised).
    Jsonb,
    /// An array of the element type with this OID (never `text`: see `TextArray`).
    Array(u32),
    /// A user-defined enum type (its OID; labels live in the catalog).
    Enum(u32),
    /// `int2vector` (catalog columns such as `pg_index.indkey`): a
    /// [`Value::Array`] of `smallint` whose `elem` is this type, subscripted from 0,
    /// written as space-separated numbers (see `array`).
    Int2Vector,
    /// `oidvector` (`pg_proc.proargtypes`, `pg_index.indclass`): as `Int2Vector`, of
    /// `oid`.
    OidVector,
}

impl DataType {
    /// The type's OID.
    pub fn oid(self) -> u32 {
        match self {
            DataType::Bool => oid::BOOL,
            DataType::Int2 => oid::INT2,
            DataType::Int4 => oid::INT4,
            DataType::Int8 => oid::INT8,
            DataType::Float4 => oid::FLOAT4,
            DataType::Float8 => oid::FLOAT8,
            DataType::Numeric => oid::NUMERIC,
            DataType::Text => oid::TEXT,
            DataType::Varchar => oid::VARCHAR,
            DataType::Bpchar => oid::BPCHAR,
            DataType::Name => oid::NAME,
            DataType::Char => oid::CHAR,
            DataType::Oid => oid::OID,
            DataType::Timestamp => oid::TIMESTAMP,
            DataType::TimestampTz => oid::TIMESTAMPTZ,
            DataType::Date => oid::DATE,
            DataType::Time => oid::TIME,
            DataType::TimeTz => oid::TIMETZ,
            DataType::Interval => oid::INTERVAL,
            DataType::PgLsn => oid::PG_LSN,
            DataType::TextArray => oid::TEXT_ARRAY,
            DataType::Void => oid::VOID,
            DataType::Unknown => oid::UNKNOWN,
            DataType::Bytea => oid::BYTEA,
            DataType::Uuid => oid::UUID,
            DataType::Json => oid::JSON,
            DataType::Jsonb => oid::JSONB,
            DataType::Array(e) => array::array_oid_of(e).unwrap_or(0),
            DataType::Enum(o) => o,
            DataType::Int2Vector => oid::INT2VECTOR,
            DataType::OidVector => oid::OIDVECTOR,
        }
    }

    /// The type for an OID, if tusk knows it.
    pub fn from_oid(o: u32) -> Option<DataType> {
        Some(match o {
            oid::BOOL => DataType::Bool,
            oid::INT2 => DataType::Int2,
            oid::INT4 => DataType::Int4,
            oid::INT8 => DataType::Int8,
            oid::FLOAT4 => DataType::Float4,
            oid::FLOAT8 => DataType::Float8,
            oid::NUMERIC => DataType::Numeric,
            oid::TEXT => DataType::Text,
            oid::VARCHAR => DataType::Varchar,
            oid::BPCHAR => DataType::Bpchar,
            oid::NAME => DataType::Name,
            oid::CHAR => DataType::Char,
            oid::OID => DataType::Oid,
            oid::TIMESTAMP => DataType::Timestamp,
            oid::TIMESTAMPTZ => DataType::TimestampTz,
            oid::DATE => DataType::Date,
            oid::TIME => DataType::Time,
            oid::TIMETZ => DataType::TimeTz,
            oid::INTERVAL => DataType::Interval,
            oid::PG_LSN => DataType::PgLsn,
            oid::TEXT_ARRAY => DataType::TextArray,
            oid::VOID => DataType::Void,
            oid::UNKNOWN => DataType::Unknown,
            oid::BYTEA => DataType::Bytea,
            oid::UUID => DataType::Uuid,
            oid::JSON => DataType::Json,
            oid::JSONB => DataType::Jsonb,
            oid::INT2VECTOR => DataType::Int2Vector,
            oid::OIDVECTOR => DataType::OidVector,
            o if o >= array::FIRST_USER_OID && o.is_multiple_of(2) => DataType::Enum(o),
            o => DataType::Array(array::elem_oid_of(o)?),
        })
    }

    /// The type's storage length as RowDescription reports it (`typlen`).
    pub fn type_len(self) -> i16 {
        match self {
            DataType::Bool | DataType::Char => 1,
            DataType::Int2 => 2,
            DataType::Int4 | DataType::Float4 | DataType::Date | DataType::Oid => 4,
            DataType::Int8
            | DataType::Float8
            | DataType::Timestamp
            | DataType::TimestampTz
            | DataType::Time
            | DataType::PgLsn => 8,
            DataType::TimeTz => 12,
            DataType::Name => 64,
            DataType::Interval | DataType::Uuid => 16,
            DataType::Void | DataType::Enum(_) => 4,
            DataType::Unknown => -2,
            _ => -1,
        }
    }

    /// The type's name as PostgreSQL's `format_type` prints it in error messages.
    pub fn name(self) -> &'static str {
        match self {
            DataType::Bool => "boolean",
            DataType::Int2 => "smallint",
            DataType::Int4 => "integer",
            DataType::Int8 => "bigint",
            DataType::Float4 => "real",
            DataType::Float8 => "double precision",
            DataType::Numeric => "numeric",
            DataType::Text => "text",
            DataType::Varchar => "character varying",
            DataType::Bpchar => "character",
            DataType::Name => "name",
            DataType::Char => "\"char\"",
            DataType::Oid => "oid",
            DataType::Timestamp => "timestamp without time zone",
            DataType::TimestampTz => "timestamp with time zone",
            DataType::Date => "date",
            DataType::Time => "time without time zone",
            DataType::TimeTz => "time with time zone",
            DataType::Interval => "interval",
            DataType::PgLsn => "pg_lsn",
            DataType::TextArray => "text[]",
            DataType::Void => "void",
            DataType::Unknown => "unknown",
            DataType::Bytea => "bytea",
            DataType::Uuid => "uuid",
            DataType::Json => "json",
            DataType::Jsonb => "jsonb",
            DataType::Array(e) if e >= array::FIRST_USER_OID => enum_io::array_name(e),
            DataType::Array(e) => array::array_type_name(e),
            DataType::Int2Vector => "int2vector",
            DataType::OidVector => "oidvector",
            DataType::Enum(o) => enum_io::type_name(o),
        }
    }

    /// The name PostgreSQL uses for an expression of this type as an output column
    /// (`SELECT 1::int4` is named `int4`).
    pub fn column_name(self) -> &'static str {
        match self {
            DataType::Bool => "bool",
            DataType::Int2 => "int2",
            DataType::Int4 => "int4",
            DataType::Int8 => "int8",
            DataType::Float4 => "float4",
            DataType::Float8 => "float8",
            DataType::Numeric => "numeric",
            DataType::Text => "text",
            DataType::Varchar => "varchar",
            DataType::Bpchar => "bpchar",
            DataType::Name => "name",
            DataType::Char => "char",
            DataType::Oid => "oid",
            DataType::Timestamp => "timestamp",
            DataType::TimestampTz => "timestamptz",
            DataType::Date => "date",
            DataType::Time => "time",
            DataType::TimeTz => "timetz",
            DataType::Interval => "interval",
            DataType::PgLsn => "pg_lsn",
            DataType::TextArray => "text",
            DataType::Void => "void",
            DataType::Unknown => "unknown",
            DataType::Bytea => "bytea",
            DataType::Uuid => "uuid",
            DataType::Json => "json",
            DataType::Jsonb => "jsonb",
            // `x::int4[]` is named as its element type, as `x::text[]` is.
            DataType::Array(e) => array::elem_from_oid(e).column_name(),
            DataType::Int2Vector => "int2vector",
            DataType::OidVector => "oidvector",
            DataType::Enum(o) => enum_io::type_name(o),
        }
    }

    /// Whether the type is one of the integer types.
    pub fn is_integer(self) -> bool {
        matches!(self, DataType::Int2 | DataType::Int4 | DataType::Int8)
    }

    /// Whether the type is numeric (integers, numeric, floats).
    pub fn is_numeric(self) -> bool {
        self.is_integer()
            || matches!(
                self,
                DataType::Numeric | DataType::Float4 | DataType::Float8 | DataType::Oid
            )
    }

    /// Whether the type is a string type.
    pub fn is_string(self) -> bool {
        matches!(
            self,
            DataType::Text
                | DataType::Varchar
                | DataType::Bpchar
                | DataType::Name
                | DataType::Char
                | DataType::Unknown
        )
    }

    /// A one-byte tag used by the row codec.
    fn tag(self) -> u8 {
        match self {
            DataType::Bool => 1,
            DataType::Int2 => 2,
            DataType::Int4 => 3,
            DataType::Int8 => 4,
            DataType::Float4 => 5,
            DataType::Float8 => 6,
            DataType::Numeric => 7,
            DataType::Text => 8,
            DataType::Varchar => 9,
            DataType::Bpchar => 19,
            DataType::Interval => 20,
            DataType::Name => 10,
            DataType::Oid => 11,
            DataType::Timestamp => 12,
            DataType::TimestampTz => 13,
            DataType::Date => 14,
            DataType::PgLsn => 15,
            DataType::TextArray => 16,
            DataType::Void => 17,
            DataType::Unknown => 18,
            DataType::Bytea => 21,
            DataType::Uuid => 22,
            DataType::Json => 23,
            DataType::Jsonb => 24,
            DataType::Array(_) => 25,
            DataType::Enum(_) => 26,
            DataType::Time => 27,
            DataType::TimeTz => 28,
            DataType::Char => 29,
            DataType::Int2Vector => 30,
            DataType::OidVector => 31,
        }
    }

    /// The type for a codec tag.
    fn from_tag(t: u8) -> Option<DataType> {
        Some(match t {
            1 => DataType::Bool,
            2 => DataType::Int2,
            3 => DataType::Int4,
            4 => DataType::Int8,
            5 => DataType::Float4,
            6 => DataType::Float8,
            7 => DataType::Numeric,
            8 => DataType::Text,
            9 => DataType::Varchar,
            19 => DataType::Bpchar,
            20 => DataType::Interval,
            10 => DataType::Name,
            11 => DataType::Oid,
            12 => DataType::Timestamp,
            13 => DataType::TimestampTz,
            14 => DataType::Date,
            15 => DataType::PgLsn,
            16 => DataType::TextArray,
            17 => DataType::Void,
            18 => DataType::Unknown,
            21 => DataType::Bytea,
            22 => DataType::Uuid,
            23 => DataType::Json,
            24 => DataType::Jsonb,
            25 => DataType::Array(0),
            26 => DataType::Enum(0),
            27 => DataType::Time,
            28 => DataType::TimeTz,
            29 => DataType::Char,
            30 => DataType::Int2Vector,
            31 => DataType::OidVector,
            _ => return None,
        })
    }

    /// Parses a SQL type name as PostgreSQL spells it (`int`, `int4`, `integer`,
    /// `character varying`, `timestamptz`, …), without modifiers.
    pub fn from_sql_name(name: &str) -> Option<DataType> {
        let n = name.trim().to_ascii_lowercase();
        let n = n.split_whitespace().collect::<Vec<_>>().join(" ");
        Some(match n.as_str() {
            "bool" | "boolean" => DataType::Bool,
            "int2" | "smallint" => DataType::Int2,
            "int" | "int4" | "integer" | "serial" | "serial4" => DataType::Int4,
            "int8" | "bigint" | "bigserial" | "serial8" => DataType::Int8,
            "float4" | "real" => DataType::Float4,
            "float8" | "double precision" | "float" => DataType::Float8,
            "numeric" | "decimal" => DataType::Numeric,
            "text" => DataType::Text,
            "varchar" | "character varying" => DataType::Varchar,
            "char" | "character" | "bpchar" => DataType::Bpchar,
            "name" => DataType::Name,
            // Only quoted: a plain `char` is `character`.
            "\"char\"" => DataType::Char,
            "oid" => DataType::Oid,
            // The function-naming `regproc` is text here, as in the catalog
            // relations' columns (`catalog::pg_catalog`).
            "regproc" => DataType::Text,
            "int2vector" => DataType::Int2Vector,
            "oidvector" => DataType::OidVector,
            "timestamp" | "timestamp without time zone" => DataType::Timestamp,
            "timestamptz" | "timestamp with time zone" => DataType::TimestampTz,
            "date" => DataType::Date,
            "time" | "time without time zone" => DataType::Time,
            "timetz" | "time with time zone" => DataType::TimeTz,
            "interval" => DataType::Interval,
            "pg_lsn" => DataType::PgLsn,
            "text[]" | "_text" => DataType::TextArray,
            "void" => DataType::Void,
            "unknown" => DataType::Unknown,
            "bytea" => DataType::Bytea,
            "uuid" => DataType::Uuid,
            "json" => DataType::Json,
            "jsonb" => DataType::Jsonb,
            n if n.starts_with('_') => array::array_type_of(DataType::from_sql_name(&n[1..])?)?,
            _ => return None,
        })
    }
}

/// A SQL value. `Null` carries no type; every other variant is one PostgreSQL type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// `boolean`.
    Bool(bool),
    /// `smallint`.
    Int2(i16),
    /// `integer`.
    Int4(i32),
    /// `bigint`.
    Int8(i64),
    /// `real`.
    Float4(f32),
    /// `double precision`.
    Float8(f64),
    /// `numeric` (NaN is not supported yet). Boxed: a `BigDecimal` is 40 bytes and
    /// would make every `Value` 48 (see `value_is_32_bytes`).
    Numeric(Box<BigDecimal>),
    /// `text`, `varchar`, `name` and unknown literals.
    Text(String),
    /// `oid`.
    Oid(u32),
    /// `timestamp`: microseconds since 2000-01-01 00:00:00.
    Timestamp(i64),
    /// `timestamptz`: microseconds since 2000-01-01 00:00:00 UTC.
    TimestampTz(i64),
    /// `date`: days since 2000-01-01.
    Date(i32),
    /// `time`: microseconds since midnight (`0 ..= 86_400_000_000`).
    Time(i64),
    /// `timetz`: the time of day and its zone.
    TimeTz(TimeTz),
    /// `interval`.
    Interval(Interval),
    /// `pg_lsn`.
    PgLsn(u64),
    /// `text[]` (NULL elements as `None`).
    TextArray(Vec<Option<String>>),
    /// `bytea`.
    Bytea(Vec<u8>),
    /// `uuid`.
    Uuid([u8; 16]),
    /// `json`: the text exactly as given (validated).
    Json(String),
    /// `jsonb`: the normalised tree. Boxed for the same reason as `Numeric`
    /// (`json::Json` holds a `BigDecimal`).
    Jsonb(Box<json::Json>),
    /// An array of any element type but text (see `types::array`).
    Array(Box<array::ArrayValue>),
    /// A value of a user-defined enum type.
    Enum(Box<array::EnumValue>),
}

impl Value {
    /// A `numeric` value (boxes the decimal).
    pub fn numeric(n: BigDecimal) -> Value {
        Value::Numeric(Box::new(n))
    }

    /// A `jsonb` value (boxes the tree).
    pub fn jsonb(j: json::Json) -> Value {
        Value::Jsonb(Box::new(j))
    }

    /// Whether the value is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The natural type of the value (NULL reports `Unknown`; `Text` reports `Text`).
    pub fn data_type(&self) -> DataType {
        match self {
            Value::Null => DataType::Unknown,
            Value::Bool(_) => DataType::Bool,
            Value::Int2(_) => DataType::Int2,
            Value::Int4(_) => DataType::Int4,
            Value::Int8(_) => DataType::Int8,
            Value::Float4(_) => DataType::Float4,
            Value::Float8(_) => DataType::Float8,
            Value::Numeric(_) => DataType::Numeric,
            Value::Text(_) => DataType::Text,
            Value::Oid(_) => DataType::Oid,
            Value::Timestamp(_) => DataType::Timestamp,
            Value::TimestampTz(_) => DataType::TimestampTz,
            Value::Date(_) => DataType::Date,
            Value::Time(_) => DataType::Time,
            Value::TimeTz(_) => DataType::TimeTz,
            Value::Interval(_) => DataType::Interval,
            Value::PgLsn(_) => DataType::PgLsn,
            Value::TextArray(_) => DataType::TextArray,
            Value::Bytea(_) => DataType::Bytea,
            Value::Uuid(_) => DataType::Uuid,
            Value::Json(_) => DataType::Json,
            Value::Jsonb(_) => DataType::Jsonb,
            Value::Array(a) => a.data_type(),
            Value::Enum(e) => DataType::Enum(e.type_oid),
        }
    }

    /// The value as an i64 if it is an integer (or oid).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int2(v) => Some(*v as i64),
            Value::Int4(v) => Some(*v as i64),
            Value::Int8(v) => Some(*v),
            Value::Oid(v) => Some(*v as i64),
            _ => None,
        }
    }

    /// The value as an f64 if it is numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float4(v) => Some(*v as f64),
            Value::Float8(v) => Some(*v),
            Value::Numeric(n) => n.to_f64(),
            _ => self.as_i64().map(|v| v as f64),
        }
    }

    /// The value as a BigDecimal if it is an integer or numeric.
    pub fn as_numeric(&self) -> Option<BigDecimal> {
        match self {
            Value::Numeric(n) => Some((**n).clone()),
            _ => self.as_i64().map(BigDecimal::from),
        }
    }

    /// The string inside a text value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// Compares two non-NULL values of comparable types (numbers across integer, numeric and
/// float types; strings; dates and timestamps). NULLs sort after everything (as
/// PostgreSQL's default `NULLS LAST` for ascending order).
pub fn compare(a: &Value, b: &Value) -> Ordering {
    use Value::*;
    match (a, b) {
        (Null, Null) => Ordering::Equal,
        (Null, _) => Ordering::Greater,
        (_, Null) => Ordering::Less,
        (Bool(x), Bool(y)) => x.cmp(y),
        (Text(x), Text(y)) => x.cmp(y),
        (Timestamp(x), Timestamp(y)) | (TimestampTz(x), TimestampTz(y)) => x.cmp(y),
        // Local times meet absolute ones in the session zone, as PostgreSQL casts them.
        (Timestamp(x), TimestampTz(y)) => timezone::current_zone().local_to_utc(*x).cmp(y),
        (TimestampTz(x), Timestamp(y)) => x.cmp(&timezone::current_zone().local_to_utc(*y)),
        (Date(x), Date(y)) => x.cmp(y),
        (Date(x), Timestamp(y)) => (*x as i64 * datetime::USECS_PER_DAY).cmp(y),
        (Timestamp(x), Date(y)) => x.cmp(&(*y as i64 * datetime::USECS_PER_DAY)),
        (Date(x), TimestampTz(y)) => timezone::current_zone()
            .local_to_utc(date_to_local(*x))
            .cmp(y),
        (TimestampTz(x), Date(y)) => {
            x.cmp(&timezone::current_zone().local_to_utc(date_to_local(*y)))
        }
        (PgLsn(x), PgLsn(y)) => x.cmp(y),
        (Time(x), Time(y)) => x.cmp(y),
        (TimeTz(x), TimeTz(y)) => time::cmp_timetz(x, y),
        (Interval(x), Interval(y)) => x.cmp_span(y),
        (TextArray(_) | Array(_), TextArray(_) | Array(_)) => {
            match (
                array::ArrayValue::from_value(a),
                array::ArrayValue::from_value(b),
            ) {
                (Some(x), Some(y)) => array::compare_arrays(&x, &y),
                _ => Ordering::Equal,
            }
        }
        (Enum(x), Enum(y)) => float_cmp(x.sort, y.sort),
        (Bytea(x), Bytea(y)) => x.cmp(y),
        (Uuid(x), Uuid(y)) => x.cmp(y),
        (Jsonb(x), Jsonb(y)) => json::cmp(x, y),
        (Float4(_) | Float8(_), _) | (_, Float4(_) | Float8(_)) => {
            let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            float_cmp(x, y)
        }
        (Numeric(_), _) | (_, Numeric(_)) => match (a.as_numeric(), b.as_numeric()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => Ordering::Equal,
        },
        _ => match (a.as_i64(), b.as_i64()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => format!("{a:?}").cmp(&format!("{b:?}")),
        },
    }
}

/// Orders floats as PostgreSQL does: NaN is greater than every other value and equal to
/// itself.
fn float_cmp(x: f64, y: f64) -> Ordering {
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
    }
}

/// Casts a value to `target` with `typmod` (-1 = none), with PostgreSQL's errors
/// (`integer out of range`, `invalid input syntax for type …`, numeric overflow, …).
/// `explicit` allows the truncating casts only an explicit cast performs (varchar(n)
/// truncation instead of an error). Casts that depend on the session's time zone
/// (`timestamptz → time`, `time → timetz`, …) are done in UTC here; the executor does
/// them in the session's zone through [`time::cast_in_zone`].
pub fn cast(v: Value, target: DataType, typmod: i32, explicit: bool) -> Result<Value> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let v = match cast_array_or_enum(v, target, explicit)? {
        Ok(done) => return Ok(done),
        Err(v) => v,
    };
    let v = match cast_extra(v, target)? {
        Ok(done) => return finish_string_typmod(done, target, typmod, explicit),
        Err(v) => v,
    };
    if let Some(r) = time::cast_in_zone(&v, target, typmod, 0) {
        return r;
    }
    if let Some(done) = time::cast_plain(&v, target) {
        return Ok(time::apply_time_typmod(done, typmod));
    }
    if let Some(r) = pg_char::cast(&v, target) {
        return r;
    }
    let out = match (v, target) {
        (Value::Text(s), t) => {
            if t.is_string() || t == DataType::Unknown {
                Value::Text(s)
            } else {
                parse_text(t, typmod, &s)?
            }
        }
        (v, DataType::Text | DataType::Varchar | DataType::Bpchar | DataType::Name) => {
            if matches!(v, Value::Text(_)) {
                v
            } else if let Value::Bool(b) = v {
                // boolean's cast to text spells the word out, unlike its output function.
                Value::Text(if b { "true" } else { "false" }.into())
            } else {
                let opts = FormatOptions {
                    zone: timezone::current_zone(),
                    ..FormatOptions::default()
                };
                Value::Text(format_text(&v, &opts))
            }
        }
        (v, DataType::Bool) => match v {
            Value::Bool(b) => Value::Bool(b),
            Value::Int4(i) => Value::Bool(i != 0),
            other => return Err(cannot_cast(&other, target)),
        },
        (v, DataType::Int2) => {
            let i = to_integer(&v, target)?;
            Value::Int2(i16::try_from(i).map_err(|_| out_of_range(DataType::Int2))?)
        }
        (v, DataType::Int4) => {
            let i = to_integer(&v, target)?;
            Value::Int4(i32::try_from(i).map_err(|_| out_of_range(DataType::Int4))?)
        }
        (v, DataType::Int8) => Value::Int8(to_integer(&v, target)?),
        (v, DataType::Oid) => {
            let i = to_integer(&v, target)?;
            Value::Oid(u32::try_from(i).map_err(|_| out_of_range(DataType::Oid))?)
        }
        (v, DataType::Float4) => match v {
            Value::Bool(_) | Value::Date(_) | Value::Timestamp(_) | Value::TimestampTz(_) => {
                return Err(cannot_cast(&v, target))
            }
            v => {
                let f = v.as_f64().ok_or_else(|| cannot_cast(&v, target))?;
                let r = f as f32;
                if r.is_infinite() && !f.is_infinite() {
                    bail!(
                        sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                        "value out of range: overflow"
                    );
                }
                Value::Float4(r)
            }
        },
        (v, DataType::Float8) => match v {
            Value::Bool(_) | Value::Date(_) | Value::Timestamp(_) | Value::TimestampTz(_) => {
                return Err(cannot_cast(&v, target))
            }
            v => Value::Float8(v.as_f64().ok_or_else(|| cannot_cast(&v, target))?),
        },
        (v, DataType::Numeric) => {
            let n = match &v {
                Value::Float4(f) => float_to_numeric(*f as f64, true)?,
                Value::Float8(f) => float_to_numeric(*f, false)?,
                Value::Bool(_) => return Err(cannot_cast(&v, target)),
                _ => v.as_numeric().ok_or_else(|| cannot_cast(&v, target))?,
            };
            Value::numeric(apply_typmod(n, typmod)?)
        }
        (Value::Timestamp(t), DataType::Timestamp) => Value::Timestamp(t),
        (Value::TimestampTz(t), DataType::TimestampTz) => Value::TimestampTz(t),
        // Between local and absolute time: the session's zone (timezone::current_zone).
        (Value::Timestamp(t), DataType::TimestampTz) => {
            Value::TimestampTz(timezone::current_zone().local_to_utc(t))
        }
        (Value::TimestampTz(t), DataType::Timestamp) => {
            Value::Timestamp(timezone::current_zone().to_local(t))
        }
        (Value::Date(d), DataType::Timestamp) => {
            Value::Timestamp(d as i64 * datetime::USECS_PER_DAY)
        }
        (Value::Date(d), DataType::TimestampTz) => {
            let local = date_to_local(d);
            Value::TimestampTz(timezone::current_zone().local_to_utc(local))
        }
        (Value::Date(d), DataType::Date) => Value::Date(d),
        (Value::Timestamp(t), DataType::Date) => Value::Date(local_to_date(t)),
        (Value::TimestampTz(t), DataType::Date) => {
            Value::Date(local_to_date(timezone::current_zone().to_local(t)))
        }
        (Value::PgLsn(l), DataType::PgLsn) => Value::PgLsn(l),
        (Value::Interval(i), DataType::Interval) => Value::Interval(i),
        (v @ Value::TextArray(_), DataType::TextArray) => v,
        (v, DataType::Unknown) => v,
        (v, t) => return Err(cannot_cast(&v, t)),
    };
    finish_string_typmod(out, target, typmod, explicit)
}

/// A date as local midnight (microseconds); `infinity` dates stay infinite.
fn date_to_local(d: i32) -> i64 {
    match d {
        i32::MAX => i64::MAX,
        i32::MIN => i64::MIN,
        d => d as i64 * datetime::USECS_PER_DAY,
    }
}

/// The date of a local timestamp; `infinity` timestamps give `infinity` dates.
fn local_to_date(t: i64) -> i32 {
    match t {
        i64::MAX => i32::MAX,
        i64::MIN => i32::MIN,
        t => t.div_euclid(datetime::USECS_PER_DAY) as i32,
    }
}

/// The casts of `bytea`, `uuid`, `json` and `jsonb`: `Ok(Ok(v))` when this function
/// performed the cast, `Ok(Err(v))` (the value handed back) when the ordinary rules apply.
fn cast_extra(v: Value, target: DataType) -> Result<std::result::Result<Value, Value>> {
    Ok(Ok(match (v, target) {
        (v @ Value::Bytea(_), DataType::Bytea)
        | (v @ Value::Uuid(_), DataType::Uuid)
        | (v @ Value::Json(_), DataType::Json)
        | (v @ Value::Jsonb(_), DataType::Jsonb) => v,
        (Value::Json(s), DataType::Jsonb) => Value::jsonb(json::parse_jsonb(&s)?),
        (Value::Jsonb(j), DataType::Json) => Value::Json(json::to_text(&j)),
        (Value::Json(s), t) if t.is_string() => Value::Text(s),
        (Value::Jsonb(j), t) if t.is_string() => Value::Text(json::to_text(&j)),
        (
            Value::Jsonb(j),
            t @ (DataType::Bool
            | DataType::Numeric
            | DataType::Int2
            | DataType::Int4
            | DataType::Int8
            | DataType::Float4
            | DataType::Float8),
        ) => {
            let want = if t == DataType::Bool {
                "boolean"
            } else {
                t.name()
            };
            match (*j, t) {
                (json::Json::Bool(b), DataType::Bool) => Value::Bool(b),
                (json::Json::Number(n), t) if t != DataType::Bool => {
                    return cast(Value::numeric(n), t, -1, true).map(Ok)
                }
                (j, _) => bail!(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "cannot cast jsonb {} to type {}",
                    match j {
                        json::Json::Null => "null",
                        json::Json::Bool(_) => "boolean",
                        json::Json::Number(_) => "numeric",
                        json::Json::String(_) => "string",
                        json::Json::Array(_) => "array",
                        json::Json::Object(_) => "object",
                    },
                    want
                ),
            }
        }
        (v @ (Value::Bytea(_) | Value::Uuid(_)), t) if t.is_string() => return Ok(Err(v)),
        (v @ (Value::Bytea(_) | Value::Uuid(_) | Value::Json(_) | Value::Jsonb(_)), t) => {
            return Err(cannot_cast(&v, t))
        }
        (v, t @ (DataType::Bytea | DataType::Uuid | DataType::Json | DataType::Jsonb))
            if !matches!(v, Value::Text(_)) =>
        {
            return Err(cannot_cast(&v, t))
        }
        (v, _) => return Ok(Err(v)),
    }))
}

/// Casts between array types element by element, arrays and enums to and from text;
/// hands other casts back.
fn cast_array_or_enum(
    v: Value,
    target: DataType,
    explicit: bool,
) -> Result<std::result::Result<Value, Value>> {
    let target_elem = array::elem_type(target);
    match (v, target_elem) {
        (v @ (Value::TextArray(_) | Value::Array(_)), Some(te)) => {
            if v.data_type() == target {
                return Ok(Ok(v));
            }
            let Some(a) = array::ArrayValue::from_value(&v) else {
                return Ok(Err(v));
            };
            let from_elem = a.elem;
            if !matches!(te, DataType::Enum(_))
                && !matches!(from_elem, DataType::Enum(_))
                && (from_elem.is_string() || te.is_string() || explicit || from_elem == te)
            {
                return array::cast_elements(a, te, |x| cast(x, te, -1, explicit)).map(Ok);
            }
            let enum_io_cast = (from_elem.is_string() && matches!(te, DataType::Enum(_)))
                || (matches!(from_elem, DataType::Enum(_)) && te.is_string());
            if enum_io_cast || (from_elem.is_numeric() && te.is_numeric()) {
                return array::cast_elements(a, te, |x| cast(x, te, -1, explicit)).map(Ok);
            }
            Err(cannot_cast(&v, target))
        }
        (Value::Text(s), Some(te)) => array::parse_array(te, &s).map(Ok),
        (v @ (Value::TextArray(_) | Value::Array(_)), None) => {
            if target.is_string() {
                Ok(Ok(Value::Text(format_text(&v, &FormatOptions::default()))))
            } else {
                Err(cannot_cast(&v, target))
            }
        }
        (Value::Enum(e), None) => {
            if target.is_string() {
                Ok(Ok(Value::Text(e.label)))
            } else if target == DataType::Enum(e.type_oid) {
                Ok(Ok(Value::Enum(e)))
            } else {
                Err(cannot_cast(&Value::Enum(e), target))
            }
        }
        (Value::Text(s), _) if matches!(target, DataType::Enum(_)) => {
            enum_io::parse_enum(target.oid(), &s).map(Ok)
        }
        (v, _) if matches!(target, DataType::Enum(_)) => Err(cannot_cast(&v, target)),
        (v, _) => Ok(Err(v)),
    }
}

/// Applies varchar(n) length limits: explicit casts truncate, assignments fail with
/// PostgreSQL's 22001 error.
/// Spaces to pad `character(n)` values with, a slice at a time.
const SPACES: &str = "                                                                ";

fn finish_string_typmod(v: Value, target: DataType, typmod: i32, explicit: bool) -> Result<Value> {
    if target == DataType::Char {
        if let Value::Text(s) = &v {
            return Ok(Value::Text(pg_char::from_text(s)));
        }
    }
    if target == DataType::Varchar && typmod >= 4 {
        if let Value::Text(s) = &v {
            let max = (typmod - 4) as usize;
            if s.chars().count() > max {
                if explicit {
                    return Ok(Value::Text(s.chars().take(max).collect()));
                }
                // PostgreSQL allows trailing spaces beyond the limit and strips them.
                let trimmed: String = s.chars().take(max).collect();
                if s.chars().skip(max).all(|c| c == ' ') {
                    return Ok(Value::Text(trimmed));
                }
                bail!(
                    sqlstate::STRING_DATA_RIGHT_TRUNCATION,
                    "value too long for type character varying({max})"
                );
            }
        }
    }
    if target == DataType::Bpchar && typmod >= 4 {
        if let Value::Text(s) = &v {
            let n = (typmod - 4) as usize;
            let len = s.chars().count();
            if len > n {
                let trimmed: String = s.chars().take(n).collect();
                if explicit || s.chars().skip(n).all(|c| c == ' ') {
                    return Ok(Value::Text(trimmed));
                }
                bail!(
                    sqlstate::STRING_DATA_RIGHT_TRUNCATION,
                    "value too long for type character({n})"
                );
            }
            if len == n {
                return Ok(v);
            }
            return Ok(Value::Text(padded(s, n - len)));
        }
    }
    if matches!(target, DataType::Time | DataType::TimeTz) {
        return Ok(time::apply_time_typmod(v, typmod));
    }
    if target == DataType::Numeric && typmod >= 4 {
        if let Value::Numeric(n) = v {
            return Ok(Value::numeric(apply_typmod(*n, typmod)?));
        }
    }
    Ok(v)
}

/// `s` followed by `pad` spaces, in one allocation.
fn padded(s: &str, mut pad: usize) -> String {
    let mut out = String::with_capacity(s.len() + pad);
    out.push_str(s);
    while pad > 0 {
        let k = pad.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        pad -= k;
    }
    out
}

/// Text input for a `character(n)` column (`typmod` 4 + n) that fits it: the text
/// padded to n characters, made at once (COPY's fast path: `pgbench_accounts.filler`
/// is an empty `char(84)` on every row). None for text longer than n or without a
/// length (the assignment cast decides those: trailing spaces, the error).
pub fn bpchar_input(s: &str, typmod: i32) -> Option<Value> {
    let n = usize::try_from(typmod.checked_sub(4)?).ok()?;
    let len = s.chars().count();
    (len <= n).then(|| Value::Text(padded(s, n - len)))
}

/// Converts a float to numeric as PostgreSQL does (through its shortest text form).
fn float_to_numeric(f: f64, single: bool) -> Result<BigDecimal> {
    if f.is_nan() || f.is_infinite() {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "cannot convert {} to numeric",
            if f.is_nan() { "NaN" } else { "infinity" }
        );
    }
    let s = if single {
        format!("{}", f as f32)
    } else {
        format!("{f}")
    };
    s.parse::<BigDecimal>()
        .map_err(|_| Error::internal("float to numeric conversion failed"))
}

/// Converts a numeric-ish value to an i64, rounding numerics and floats half away from
/// zero as PostgreSQL does.
fn to_integer(v: &Value, target: DataType) -> Result<i64> {
    match v {
        Value::Int2(_) | Value::Int4(_) | Value::Int8(_) | Value::Oid(_) => {
            Ok(v.as_i64().unwrap_or(0))
        }
        Value::Numeric(n) => n
            .with_scale_round(0, bigdecimal::RoundingMode::HalfUp)
            .to_i64()
            .ok_or_else(|| out_of_range(target)),
        Value::Float4(_) | Value::Float8(_) => {
            let f = v.as_f64().unwrap_or(0.0);
            // PostgreSQL rounds to nearest even (rint) for float-to-int casts.
            let r = f.round_ties_even();
            if f.is_nan() || r < i64::MIN as f64 || r >= i64::MAX as f64 {
                return Err(out_of_range(target));
            }
            Ok(r as i64)
        }
        Value::Bool(b) if target == DataType::Int4 => Ok(*b as i64),
        _ => Err(cannot_cast(v, target)),
    }
}

/// PostgreSQL's "integer out of range" family of errors (22003).
pub fn out_of_range(t: DataType) -> Error {
    let what = match t {
        DataType::Int2 => "smallint",
        DataType::Int8 => "bigint",
        DataType::Oid => "OID",
        _ => "integer",
    };
    err!(sqlstate::NUMERIC_VALUE_OUT_OF_RANGE, "{what} out of range")
}

/// PostgreSQL's 42846 error for a cast that does not exist.
pub fn cannot_cast(v: &Value, t: DataType) -> Error {
    err!(
        sqlstate::CANNOT_COERCE,
        "cannot cast type {} to {}",
        v.data_type().name(),
        t.name()
    )
}

/// Writes a row in tusk's compact binary encoding: a u16 column count, then per column a
/// type tag byte (0 = NULL) and the value's bytes (fixed width for scalars, u32 length +
/// bytes for variable-length values; a string ending in [`SPACE_RUN`] or more spaces as
/// its other bytes and the count of those spaces, tag [`PADDED_TEXT_TAG`]).
pub fn encode_row(row: &[Value], out: &mut Vec<u8>) {
    out.extend_from_slice(&(row.len() as u16).to_le_bytes());
    for v in row {
        encode_value(v, out);
    }
}

/// The tag of a string stored without its trailing spaces (`character(n)` values are
/// padded to their length: pgbench's `filler char(84)` is 84 spaces), followed by the
/// rest of the string and the count of spaces. Not a [`DataType`] tag.
const PADDED_TEXT_TAG: u8 = 64;

/// Trailing spaces from which a string is stored as [`PADDED_TEXT_TAG`] (below it, the
/// count would take more room than it saves).
const SPACE_RUN: usize = 8;

/// How many spaces `b` ends with, eight bytes at a time (every row written counts them).
fn trailing_spaces(b: &[u8]) -> usize {
    const EIGHT: u64 = u64::from_ne_bytes([b' '; 8]);
    let mut rest = b;
    while let Some((head, last)) = rest.split_last_chunk::<8>() {
        if u64::from_ne_bytes(*last) != EIGHT {
            break;
        }
        rest = head;
    }
    let tail = rest.iter().rev().take_while(|&&c| c == b' ').count();
    b.len() - rest.len() + tail
}

/// Writes one value of a row (see [`encode_row`]). Deterministic: equal values give
/// equal bytes (index keys are made of it).
pub fn encode_value(v: &Value, out: &mut Vec<u8>) {
    if v.is_null() {
        out.push(0);
        return;
    }
    if let Value::Text(s) = v {
        let spaces = trailing_spaces(s.as_bytes());
        if spaces >= SPACE_RUN {
            out.push(PADDED_TEXT_TAG);
            put_bytes(out, &s.as_bytes()[..s.len() - spaces]);
            out.extend_from_slice(&(spaces as u32).to_le_bytes());
            return;
        }
    }
    out.push(v.data_type().tag());
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push(*b as u8),
        Value::Int2(i) => out.extend_from_slice(&i.to_le_bytes()),
        Value::Int4(i) => out.extend_from_slice(&i.to_le_bytes()),
        Value::Int8(i) => out.extend_from_slice(&i.to_le_bytes()),
        Value::Float4(f) => out.extend_from_slice(&f.to_bits().to_le_bytes()),
        Value::Float8(f) => out.extend_from_slice(&f.to_bits().to_le_bytes()),
        // The plain form keeps the scale (`0.00`; the Display form of a zero drops it).
        Value::Numeric(n) => put_bytes(out, n.to_plain_string().as_bytes()),
        Value::Text(s) => put_bytes(out, s.as_bytes()),
        Value::Oid(o) => out.extend_from_slice(&o.to_le_bytes()),
        Value::Timestamp(t) | Value::TimestampTz(t) => out.extend_from_slice(&t.to_le_bytes()),
        Value::Date(d) => out.extend_from_slice(&d.to_le_bytes()),
        Value::Time(t) => out.extend_from_slice(&t.to_le_bytes()),
        Value::TimeTz(t) => {
            out.extend_from_slice(&t.micros.to_le_bytes());
            out.extend_from_slice(&t.zone.to_le_bytes());
        }
        Value::Interval(i) => {
            out.extend_from_slice(&i.months.to_le_bytes());
            out.extend_from_slice(&i.days.to_le_bytes());
            out.extend_from_slice(&i.micros.to_le_bytes());
        }
        Value::PgLsn(l) => out.extend_from_slice(&l.to_le_bytes()),
        Value::Bytea(b) => put_bytes(out, b),
        Value::Uuid(u) => out.extend_from_slice(u),
        Value::Json(s) => put_bytes(out, s.as_bytes()),
        Value::Jsonb(j) => put_bytes(out, json::to_text(j).as_bytes()),
        Value::TextArray(items) => {
            out.extend_from_slice(&(items.len() as u32).to_le_bytes());
            for it in items {
                match it {
                    None => out.push(0),
                    Some(s) => {
                        out.push(1);
                        put_bytes(out, s.as_bytes());
                    }
                }
            }
        }
        Value::Array(a) => array::encode_array_row(a, out),
        Value::Enum(e) => array::encode_enum_row(e, out),
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// A cursor over encoded bytes that fails with a corruption error instead of panicking.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Starts reading `buf`.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    /// The bytes not read yet.
    pub fn remaining(&self) -> &'a [u8] {
        self.buf
    }

    /// Reads `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            bail!(sqlstate::DATA_CORRUPTED, "unexpected end of encoded data");
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// Reads a little-endian u16.
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().unwrap_or([0; 2]),
        ))
    }

    /// Reads a little-endian u32.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().unwrap_or([0; 4]),
        ))
    }

    /// Reads a little-endian u64.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().unwrap_or([0; 8]),
        ))
    }

    /// Reads a u32-length-prefixed byte string.
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    /// Reads a u32-length-prefixed UTF-8 string.
    pub fn string(&mut self) -> Result<String> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec())
            .map_err(|_| err!(sqlstate::DATA_CORRUPTED, "invalid UTF-8 in encoded data"))
    }
}

/// Reads a row written by [`encode_row`].
pub fn decode_row(r: &mut Reader<'_>) -> Result<Vec<Value>> {
    let n = r.u16()? as usize;
    let mut row = Vec::with_capacity(n);
    for _ in 0..n {
        row.push(decode_value(r)?);
    }
    Ok(row)
}

/// Reads one value written by [`encode_value`].
pub fn decode_value(r: &mut Reader<'_>) -> Result<Value> {
    let tag = r.u8()?;
    if tag == 0 {
        return Ok(Value::Null);
    }
    if tag == PADDED_TEXT_TAG {
        let body = r.bytes()?;
        let spaces = r.u32()? as usize;
        // No value is longer than 1 GB: a larger count is damage, not a string.
        if spaces > 1 << 30 {
            bail!(sqlstate::DATA_CORRUPTED, "invalid encoded string padding");
        }
        let mut bytes = Vec::with_capacity(body.len() + spaces);
        bytes.extend_from_slice(body);
        bytes.resize(body.len() + spaces, b' ');
        return String::from_utf8(bytes)
            .map(Value::Text)
            .map_err(|_| err!(sqlstate::DATA_CORRUPTED, "invalid UTF-8 in encoded data"));
    }
    let t = DataType::from_tag(tag)
        .ok_or_else(|| err!(sqlstate::DATA_CORRUPTED, "unknown value tag {tag}"))?;
    Ok(match t {
        DataType::Bool => Value::Bool(r.u8()? != 0),
        DataType::Int2 => Value::Int2(r.u16()? as i16),
        DataType::Int4 => Value::Int4(r.u32()? as i32),
        DataType::Int8 => Value::Int8(r.u64()? as i64),
        DataType::Float4 => Value::Float4(f32::from_bits(r.u32()?)),
        DataType::Float8 => Value::Float8(f64::from_bits(r.u64()?)),
        DataType::Numeric => {
            let s = r.string()?;
            Value::numeric(
                s.parse()
                    .map_err(|_| err!(sqlstate::DATA_CORRUPTED, "invalid encoded numeric"))?,
            )
        }
        DataType::Text
        | DataType::Varchar
        | DataType::Bpchar
        | DataType::Name
        | DataType::Char
        | DataType::Unknown => Value::Text(r.string()?),
        DataType::Oid => Value::Oid(r.u32()?),
        DataType::Timestamp => Value::Timestamp(r.u64()? as i64),
        DataType::TimestampTz => Value::TimestampTz(r.u64()? as i64),
        DataType::Date => Value::Date(r.u32()? as i32),
        DataType::Time => Value::Time(r.u64()? as i64),
        DataType::TimeTz => Value::TimeTz(TimeTz {
            micros: r.u64()? as i64,
            zone: r.u32()? as i32,
        }),
        DataType::Interval => Value::Interval(Interval {
            months: r.u32()? as i32,
            days: r.u32()? as i32,
            micros: r.u64()? as i64,
        }),
        DataType::PgLsn => Value::PgLsn(r.u64()?),
        DataType::TextArray => {
            let n = r.u32()? as usize;
            let mut items = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                items.push(if r.u8()? == 0 {
                    None
                } else {
                    Some(r.string()?)
                });
            }
            Value::TextArray(items)
        }
        DataType::Void => Value::Null,
        DataType::Bytea => Value::Bytea(r.bytes()?.to_vec()),
        DataType::Uuid => Value::Uuid(
            r.take(16)?
                .try_into()
                .map_err(|_| err!(sqlstate::DATA_CORRUPTED, "invalid encoded uuid"))?,
        ),
        DataType::Json => Value::Json(r.string()?),
        DataType::Jsonb => Value::jsonb(
            json::parse_jsonb(&r.string()?)
                .map_err(|_| err!(sqlstate::DATA_CORRUPTED, "invalid encoded jsonb"))?,
        ),
        DataType::Array(_) | DataType::Int2Vector | DataType::OidVector => {
            array::decode_array_row(r)?
        }
        DataType::Enum(_) => array::decode_enum_row(r)?,
    })
}

/// Steps over a row written by [`encode_row`] without building it: how a reader finds
/// where a later row starts (a large table image is decoded in parts on several
/// threads). Checks only the lengths; [`decode_row`] checks the contents.
pub fn skip_row(r: &mut Reader<'_>) -> Result<()> {
    for _ in 0..r.u16()? {
        skip_value(r)?;
    }
    Ok(())
}

/// Steps over one value written by [`encode_value`]: consumes exactly the bytes
/// [`decode_value`] reads (the test `skip_consumes_what_decode_reads` holds the two
/// together for every type).
pub fn skip_value(r: &mut Reader<'_>) -> Result<()> {
    let tag = r.u8()?;
    if tag == 0 {
        return Ok(());
    }
    if tag == PADDED_TEXT_TAG {
        r.bytes()?;
        r.u32()?;
        return Ok(());
    }
    let t = DataType::from_tag(tag)
        .ok_or_else(|| err!(sqlstate::DATA_CORRUPTED, "unknown value tag {tag}"))?;
    let fixed = match t {
        DataType::Void => 0,
        DataType::Bool => 1,
        DataType::Int2 => 2,
        DataType::Int4 | DataType::Float4 | DataType::Oid | DataType::Date => 4,
        DataType::Int8
        | DataType::Float8
        | DataType::Timestamp
        | DataType::TimestampTz
        | DataType::Time
        | DataType::PgLsn => 8,
        DataType::TimeTz => 12,
        DataType::Interval | DataType::Uuid => 16,
        DataType::Numeric
        | DataType::Text
        | DataType::Varchar
        | DataType::Bpchar
        | DataType::Name
        | DataType::Char
        | DataType::Unknown
        | DataType::Bytea
        | DataType::Json
        | DataType::Jsonb => {
            r.bytes()?;
            0
        }
        DataType::TextArray => {
            for _ in 0..r.u32()? {
                if r.u8()? != 0 {
                    r.bytes()?;
                }
            }
            0
        }
        DataType::Array(_) | DataType::Int2Vector | DataType::OidVector => {
            r.u32()?; // the element type
            for _ in 0..r.u32()? {
                skip_value(r)?;
            }
            0
        }
        DataType::Enum(_) => {
            r.take(12)?; // type OID, sort position
            r.bytes()?;
            0
        }
    };
    r.take(fixed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every stored row is a `Vec<Value>` and rows are cloned and moved through every
    /// query, so `Value`'s size is paid per column in memory and in memcpy time. The
    /// 40-byte payloads (`BigDecimal`, `json::Json`) are boxed to keep it at 32.
    #[test]
    fn value_is_32_bytes() {
        assert_eq!(std::mem::size_of::<Value>(), 32);
    }

    #[test]
    fn trailing_spaces_are_counted() {
        for (t, n) in [
            ("", 0),
            (" ", 1),
            ("a", 0),
            ("a        ", 8),
            ("        a", 0),
            ("ab  cd         ", 9),
            ("                 ", 17),
        ] {
            assert_eq!(trailing_spaces(t.as_bytes()), n, "{t:?}");
        }
    }

    #[test]
    fn trailing_spaces_are_stored_as_a_count_and_come_back() {
        assert!(DataType::from_tag(PADDED_TEXT_TAG).is_none());
        let texts = [
            String::new(),
            " ".repeat(7),
            " ".repeat(8),
            format!("a{}", " ".repeat(7)),
            format!("é{}", " ".repeat(83)),
            format!("  in  the middle  {}", " ".repeat(20)),
            " ".repeat(84),
        ];
        for t in &texts {
            let mut one = Vec::new();
            encode_value(&Value::Text(t.clone()), &mut one);
            let spaces = t.len() - t.trim_end().len();
            let plain = 1 + 4 + t.len();
            match spaces >= SPACE_RUN {
                true => assert_eq!(one.len(), plain - spaces + 4, "{t:?}"),
                false => assert_eq!(one.len(), plain, "{t:?}"),
            }
            let mut out = Vec::new();
            encode_row(&[Value::Text(t.clone()), Value::Int4(1)], &mut out);
            let row = decode_row(&mut Reader::new(&out)).unwrap();
            assert_eq!(row, vec![Value::Text(t.clone()), Value::Int4(1)], "{t:?}");
        }
        // Damage: a count beyond any value, and a cut-off count.
        let mut out = vec![PADDED_TEXT_TAG];
        put_bytes(&mut out, b"x");
        out.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode_value(&mut Reader::new(&out)).unwrap_err().code,
            sqlstate::DATA_CORRUPTED
        );
        assert!(decode_value(&mut Reader::new(&out[..out.len() - 2])).is_err());
    }

    #[test]
    fn skip_consumes_what_decode_reads() {
        let array = |elem, items| array::ArrayValue { elem, items }.into_value();
        // Beyond the codec samples: padded text, the other fixed widths, arrays (nested
        // and empty) and an enum.
        let mut values = codec_samples();
        values.extend([
            Value::Text(format!("pad{}", " ".repeat(20))),
            Value::Oid(16384),
            Value::Time(86_399_000_000),
            Value::TimeTz(TimeTz {
                micros: 5,
                zone: -3600,
            }),
            array(DataType::Int4, vec![Value::Int4(1), Value::Null]),
            array(
                DataType::Int8,
                vec![array(DataType::Int8, vec![Value::Int8(9)])],
            ),
            array(DataType::Float8, vec![]),
            Value::Enum(Box::new(array::EnumValue {
                type_oid: 16400,
                sort: 2.0,
                label: "sad".into(),
            })),
        ]);
        for v in &values {
            let mut buf = Vec::new();
            encode_value(v, &mut buf);
            buf.extend_from_slice(b"next");
            let (mut a, mut b) = (Reader::new(&buf), Reader::new(&buf));
            assert_eq!(&decode_value(&mut a).unwrap(), v);
            skip_value(&mut b).unwrap();
            assert_eq!(a.remaining(), b"next", "{v:?}");
            assert_eq!(b.remaining(), b"next", "{v:?}");
            // Cut short, both fail.
            let cut = &buf[..buf.len() - 5];
            if !cut.is_empty() && v != &Value::Null {
                assert!(skip_value(&mut Reader::new(cut)).is_err(), "{v:?}");
            }
        }
        let mut row = Vec::new();
        encode_row(&values, &mut row);
        let mut r = Reader::new(&row);
        skip_row(&mut r).unwrap();
        assert!(r.remaining().is_empty());
    }

    /// A value of most types, as rows of every codec test hold them.
    fn codec_samples() -> Vec<Value> {
        vec![
            Value::Null,
            Value::Bool(true),
            Value::Int2(-3),
            Value::Int4(42),
            Value::Int8(i64::MIN),
            Value::Float4(1.5),
            Value::Float8(-0.25),
            Value::numeric("123.4500".parse().unwrap()),
            Value::Text("héllo".into()),
            Value::Timestamp(1),
            Value::TimestampTz(-1),
            Value::Date(7),
            Value::PgLsn(0x16B3748),
            Value::Interval(Interval {
                months: -1,
                days: 2,
                micros: 3,
            }),
            Value::TextArray(vec![Some("a".into()), None]),
            Value::Bytea(vec![0, 1, 255]),
            Value::Uuid([7; 16]),
            Value::Json("{\"b\":1,  \"a\":2}".into()),
            Value::jsonb(json::parse_jsonb("{\"b\": [1.50, null], \"a\": \"x\"}").unwrap()),
        ]
    }

    #[test]
    fn row_codec_round_trips() {
        let row = codec_samples();
        let mut buf = Vec::new();
        encode_row(&row, &mut buf);
        let back = decode_row(&mut Reader::new(&buf)).unwrap();
        assert_eq!(back, row);
        // A truncated image fails instead of panicking.
        assert!(decode_row(&mut Reader::new(&buf[..buf.len() - 1])).is_err());
    }

    #[test]
    fn row_codec_keeps_numeric_scale() {
        for text in [
            "0.00",
            "10.50",
            "-0.0",
            "1E+3",
            "123456789012345678901234567890.5",
        ] {
            let v = Value::numeric(text.parse().unwrap());
            let mut buf = Vec::new();
            encode_row(std::slice::from_ref(&v), &mut buf);
            let back = decode_row(&mut Reader::new(&buf)).unwrap();
            let opts = FormatOptions::default();
            assert_eq!(
                format_text(&back[0], &opts),
                format_text(&v, &opts),
                "{text}"
            );
        }
    }

    #[test]
    fn casts_follow_postgres() {
        assert_eq!(
            cast(Value::Text("42".into()), DataType::Int4, -1, true).unwrap(),
            Value::Int4(42)
        );
        assert_eq!(
            cast(Value::Int8(1 << 40), DataType::Int4, -1, true)
                .unwrap_err()
                .message,
            "integer out of range"
        );
        assert_eq!(
            cast(
                Value::numeric("2.5".parse().unwrap()),
                DataType::Int4,
                -1,
                true
            )
            .unwrap(),
            Value::Int4(3)
        );
        assert_eq!(
            cast(Value::Float8(2.5), DataType::Int4, -1, true).unwrap(),
            Value::Int4(2)
        );
        let e = cast(Value::Text("abcd".into()), DataType::Varchar, 7, false).unwrap_err();
        assert_eq!(e.message, "value too long for type character varying(3)");
        assert_eq!(
            cast(Value::Text("abcd".into()), DataType::Varchar, 7, true).unwrap(),
            Value::Text("abc".into())
        );
    }

    #[test]
    fn compare_crosses_numeric_types() {
        assert_eq!(compare(&Value::Int4(2), &Value::Int8(3)), Ordering::Less);
        assert_eq!(
            compare(&Value::numeric("2.0".parse().unwrap()), &Value::Int4(2)),
            Ordering::Equal
        );
        assert_eq!(compare(&Value::Null, &Value::Int4(2)), Ordering::Greater);
        assert_eq!(
            compare(&Value::Float8(f64::NAN), &Value::Float8(1.0)),
            Ordering::Greater
        );
    }
}
