//! The one error type of tusk.
//!
//! Every failure that can reach a client, a log line or the command line is an
//! [`Error`]: a severity, a PostgreSQL SQLSTATE, a short lowercase message with no
//! trailing period, and optional detail, hint and cursor position (full sentences).
//! The server turns it into an ErrorResponse field for field; the CLI prints it the way
//! PostgreSQL's tools do.
//!
//! What this module must never do: know about sockets, sessions or storage. It is the
//! bottom of the dependency stack; everything imports it and it imports nothing of tusk.
//!
//! Build errors with the [`err!`](crate::err) macro or the constructors:
//! ```
//! use tusk::{err, error::{sqlstate, Error}};
//! let e: Error = err!(sqlstate::UNDEFINED_TABLE, "relation \"{}\" does not exist", "t");
//! assert_eq!(e.code, "42P01");
//! ```

use std::fmt;

/// SQLSTATE codes tusk raises, named as PostgreSQL's errcodes.txt names them.
pub mod sqlstate {
    pub const SUCCESSFUL_COMPLETION: &str = "00000";
    pub const WARNING: &str = "01000";
    pub const CONNECTION_EXCEPTION: &str = "08000";
    pub const CONNECTION_FAILURE: &str = "08006";
    pub const PROTOCOL_VIOLATION: &str = "08P01";
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    pub const INVALID_GRANTOR: &str = "0L000";
    pub const CARDINALITY_VIOLATION: &str = "21000";
    pub const DATA_EXCEPTION: &str = "22000";
    pub const STRING_DATA_RIGHT_TRUNCATION: &str = "22001";
    pub const NUMERIC_VALUE_OUT_OF_RANGE: &str = "22003";
    pub const NULL_VALUE_NOT_ALLOWED: &str = "22004";
    pub const INVALID_DATETIME_FORMAT: &str = "22007";
    pub const DATETIME_FIELD_OVERFLOW: &str = "22008";
    pub const INVALID_TIME_ZONE_DISPLACEMENT_VALUE: &str = "22009";
    pub const DIVISION_BY_ZERO: &str = "22012";
    pub const SUBSTRING_ERROR: &str = "22011";
    pub const INVALID_ARGUMENT_FOR_POWER_FUNCTION: &str = "2201F";
    pub const INVALID_ROW_COUNT_IN_LIMIT_CLAUSE: &str = "2201W";
    pub const INVALID_ROW_COUNT_IN_RESULT_OFFSET_CLAUSE: &str = "2201X";
    pub const BAD_COPY_FILE_FORMAT: &str = "22P04";
    pub const DEPENDENT_OBJECTS_STILL_EXIST: &str = "2BP01";
    pub const INVALID_SAVEPOINT_SPECIFICATION: &str = "3B001";
    pub const INVALID_FUNCTION_DEFINITION: &str = "42P13";
    pub const RESERVED_NAME: &str = "42939";
    pub const INVALID_PARAMETER_VALUE: &str = "22023";
    pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
    pub const INVALID_BINARY_REPRESENTATION: &str = "22P03";
    pub const CHARACTER_NOT_IN_REPERTOIRE: &str = "22021";
    pub const UNTRANSLATABLE_CHARACTER: &str = "22P05";
    pub const AMBIGUOUS_FUNCTION: &str = "42725";
    pub const STATEMENT_TOO_COMPLEX: &str = "54001";
    pub const INDETERMINATE_DATATYPE: &str = "42P18";
    pub const INTEGRITY_CONSTRAINT_VIOLATION: &str = "23000";
    pub const NOT_NULL_VIOLATION: &str = "23502";
    pub const FOREIGN_KEY_VIOLATION: &str = "23503";
    pub const INVALID_FOREIGN_KEY: &str = "42830";
    pub const UNIQUE_VIOLATION: &str = "23505";
    pub const CHECK_VIOLATION: &str = "23514";
    pub const INVALID_TRANSACTION_STATE: &str = "25000";
    pub const ACTIVE_SQL_TRANSACTION: &str = "25001";
    pub const NO_ACTIVE_SQL_TRANSACTION: &str = "25P01";
    pub const IN_FAILED_SQL_TRANSACTION: &str = "25P02";
    pub const READ_ONLY_SQL_TRANSACTION: &str = "25006";
    pub const INVALID_AUTHORIZATION_SPECIFICATION: &str = "28000";
    pub const INVALID_PASSWORD: &str = "28P01";
    pub const INVALID_CURSOR_NAME: &str = "34000";
    pub const INVALID_SQL_STATEMENT_NAME: &str = "26000";
    pub const SERIALIZATION_FAILURE: &str = "40001";
    pub const DEADLOCK_DETECTED: &str = "40P01";
    pub const SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION: &str = "42000";
    pub const SYNTAX_ERROR: &str = "42601";
    pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
    pub const DATATYPE_MISMATCH: &str = "42804";
    pub const CANNOT_COERCE: &str = "42846";
    pub const GROUPING_ERROR: &str = "42803";
    pub const WRONG_OBJECT_TYPE: &str = "42809";
    pub const UNDEFINED_COLUMN: &str = "42703";
    pub const UNDEFINED_FUNCTION: &str = "42883";
    pub const UNDEFINED_TABLE: &str = "42P01";
    pub const UNDEFINED_PARAMETER: &str = "42P02";
    pub const UNDEFINED_OBJECT: &str = "42704";
    pub const DUPLICATE_COLUMN: &str = "42701";
    pub const DUPLICATE_DATABASE: &str = "42P04";
    pub const DUPLICATE_OBJECT: &str = "42710";
    pub const DUPLICATE_TABLE: &str = "42P07";
    pub const DUPLICATE_PREPARED_STATEMENT: &str = "42P05";
    pub const AMBIGUOUS_COLUMN: &str = "42702";
    pub const INVALID_COLUMN_REFERENCE: &str = "42P10";
    pub const INVALID_TABLE_DEFINITION: &str = "42P16";
    pub const INVALID_OBJECT_DEFINITION: &str = "42P17";
    pub const PROGRAM_LIMIT_EXCEEDED: &str = "54000";
    pub const OBJECT_NOT_IN_PREREQUISITE_STATE: &str = "55000";
    pub const OBJECT_IN_USE: &str = "55006";
    pub const INVALID_NAME: &str = "42602";
    pub const NAME_TOO_LONG: &str = "42622";
    pub const CONFIGURATION_LIMIT_EXCEEDED: &str = "53400";
    pub const LOCK_NOT_AVAILABLE: &str = "55P03";
    pub const CANT_CHANGE_RUNTIME_PARAM: &str = "55P02";
    pub const QUERY_CANCELED: &str = "57014";
    pub const ADMIN_SHUTDOWN: &str = "57P01";
    pub const CRASH_SHUTDOWN: &str = "57P02";
    pub const CANNOT_CONNECT_NOW: &str = "57P03";
    pub const DATABASE_DROPPED: &str = "57P04";
    pub const INVALID_CATALOG_NAME: &str = "3D000";
    pub const INVALID_SCHEMA_NAME: &str = "3F000";
    pub const TOO_MANY_CONNECTIONS: &str = "53300";
    pub const OUT_OF_MEMORY: &str = "53200";
    pub const DISK_FULL: &str = "53100";
    pub const CONFIG_FILE_ERROR: &str = "F0000";
    pub const IO_ERROR: &str = "58030";
    pub const UNDEFINED_FILE: &str = "58P01";
    pub const DUPLICATE_FILE: &str = "58P02";
    pub const SYSTEM_ERROR: &str = "58000";
    pub const INTERNAL_ERROR: &str = "XX000";
    pub const DATA_CORRUPTED: &str = "XX001";
    pub const SEQUENCE_GENERATOR_LIMIT_EXCEEDED: &str = "2200H";
    pub const GENERATED_ALWAYS: &str = "428C9";
    pub const DUPLICATE_SCHEMA: &str = "42P06";
    pub const INVALID_REGULAR_EXPRESSION: &str = "2201B";
    pub const INVALID_ESCAPE_SEQUENCE: &str = "22025";
    pub const INVALID_ARGUMENT_FOR_LOG: &str = "2201E";
    pub const ZERO_LENGTH_CHARACTER_STRING: &str = "2200F";
    pub const INVALID_ARGUMENT_FOR_WIDTH_BUCKET: &str = "2201G";
}

/// How bad an error is, with PostgreSQL's severity names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// A notice that does not interrupt anything.
    Notice,
    /// A warning that does not interrupt anything.
    Warning,
    /// The statement (and the transaction) failed; the session goes on.
    Error,
    /// The session ends.
    Fatal,
    /// The server must stop (an invariant broke on the durability path).
    Panic,
}

impl Severity {
    /// The severity as PostgreSQL spells it in the `S` and `V` fields and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Notice => "NOTICE",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
            Severity::Fatal => "FATAL",
            Severity::Panic => "PANIC",
        }
    }
}

/// A PostgreSQL-style error: severity, SQLSTATE, message, and optional detail, hint and
/// 1-based cursor position in the statement text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The severity sent in the `S`/`V` fields.
    pub severity: Severity,
    /// The five-character SQLSTATE sent in the `C` field.
    pub code: &'static str,
    /// The primary message: short, lowercase, no trailing period.
    pub message: String,
    /// An optional full-sentence detail (`D` field).
    pub detail: Option<String>,
    /// An optional full-sentence hint (`H` field).
    pub hint: Option<String>,
    /// An optional 1-based character position in the query text (`P` field).
    pub position: Option<u32>,
    /// Where it happened, PostgreSQL's CONTEXT (`W` field), e.g. `COPY t, line 3`
    /// (boxed behind a thin pointer: errors travel in every `Result` and must stay
    /// small).
    pub context: Option<Box<String>>,
    /// The objects the error is about (`s`, `t`, `c`, `d`, `n` fields), which drivers
    /// expose to applications (node-postgres' `err.constraint`, psycopg's
    /// `diag.constraint_name`); boxed for the same reason as `context`.
    pub objects: Option<Box<ErrorObjects>>,
}

/// The names PostgreSQL attaches to an error about a particular object; each is sent
/// in its own ErrorResponse field when present.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorObjects {
    /// The schema of the object (`s`).
    pub schema: Option<String>,
    /// The table (`t`).
    pub table: Option<String>,
    /// The column (`c`).
    pub column: Option<String>,
    /// The data type (`d`).
    pub datatype: Option<String>,
    /// The constraint (`n`).
    pub constraint: Option<String>,
}

/// The result type used throughout tusk.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An ERROR with the given SQLSTATE and message.
    pub fn new(code: &'static str, message: impl Into<String>) -> Error {
        Error {
            severity: Severity::Error,
            code,
            message: message.into(),
            detail: None,
            hint: None,
            position: None,
            context: None,
            objects: None,
        }
    }

    /// A FATAL error: the session ends after it is sent.
    pub fn fatal(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(code, message).with_severity(Severity::Fatal)
    }

    /// An internal error (XX000) for a broken invariant that a client cannot cause.
    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(sqlstate::INTERNAL_ERROR, message)
    }

    /// An I/O error on `what` (a file name or an action), SQLSTATE 58030, or 53100 when
    /// the disk is full. The OS text reads as C's `%m` prints it (`Input/output error`,
    /// without Rust's ` (os error 5)` suffix), as in PostgreSQL's messages.
    pub fn io(what: impl fmt::Display, e: std::io::Error) -> Error {
        let code = if e.raw_os_error() == Some(libc::ENOSPC) {
            sqlstate::DISK_FULL
        } else {
            sqlstate::IO_ERROR
        };
        let text = e.to_string();
        let text = text.find(" (os error").map_or(&text[..], |i| &text[..i]);
        Error::new(code, format!("{what}: {text}"))
    }

    /// Returns the error with another SQLSTATE and message (keeping its severity).
    pub fn with_code_and_message(
        mut self,
        code: &'static str,
        message: impl Into<String>,
    ) -> Error {
        self.code = code;
        self.message = message.into();
        self.detail = None;
        self.hint = None;
        self
    }

    /// Returns the error with a CONTEXT line (`W` field).
    pub fn with_context(mut self, context: impl Into<String>) -> Error {
        self.context = Some(Box::new(context.into()));
        self
    }

    /// Returns the error with another severity.
    pub fn with_severity(mut self, severity: Severity) -> Error {
        self.severity = severity;
        self
    }

    /// Returns the error with a detail sentence.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Error {
        self.detail = Some(detail.into());
        self
    }

    /// Returns the error with a hint sentence.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(hint.into());
        self
    }

    /// Returns the error naming the table it is about (`t` field).
    pub fn with_table(mut self, table: impl Into<String>) -> Error {
        self.objects.get_or_insert_with(Default::default).table = Some(table.into());
        self
    }

    /// Returns the error naming the column it is about (`c` field).
    pub fn with_column(mut self, column: impl Into<String>) -> Error {
        self.objects.get_or_insert_with(Default::default).column = Some(column.into());
        self
    }

    /// Returns the error naming the constraint it is about (`n` field).
    pub fn with_constraint(mut self, constraint: impl Into<String>) -> Error {
        self.objects.get_or_insert_with(Default::default).constraint = Some(constraint.into());
        self
    }

    /// Returns the error naming the schema of the object it is about (`s` field).
    pub fn with_schema(mut self, schema: impl Into<String>) -> Error {
        self.objects.get_or_insert_with(Default::default).schema = Some(schema.into());
        self
    }

    /// Returns the error with a 1-based cursor position into the statement text.
    pub fn with_position(mut self, position: u32) -> Error {
        self.position = Some(position);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Builds an ERROR-severity [`Error`] from a SQLSTATE and a `format!` message.
#[macro_export]
macro_rules! err {
    ($code:expr, $($arg:tt)+) => {
        $crate::error::Error::new($code, format!($($arg)+))
    };
}

/// Returns early with an ERROR-severity [`Error`] built like [`err!`].
#[macro_export]
macro_rules! bail {
    ($code:expr, $($arg:tt)+) => {
        return Err($crate::err!($code, $($arg)+))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_small_and_carries_object_names() {
        // Clippy's result_large_err starts at 128 bytes; every Result carries an Error.
        assert!(std::mem::size_of::<Error>() < 128);
        let e = err!(sqlstate::UNIQUE_VIOLATION, "duplicate key")
            .with_table("t")
            .with_constraint("t_pkey")
            .with_schema("public")
            .with_context("COPY t, line 1");
        let o = e.objects.as_deref().unwrap();
        assert_eq!(
            (
                o.schema.as_deref(),
                o.table.as_deref(),
                o.constraint.as_deref()
            ),
            (Some("public"), Some("t"), Some("t_pkey"))
        );
        assert_eq!(o.column, None);
        assert_eq!(
            e.context.as_deref().map(String::as_str),
            Some("COPY t, line 1")
        );
    }
}
