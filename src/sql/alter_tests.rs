//! Tests of `sql::alter`.
