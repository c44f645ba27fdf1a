//! Reading enum values: the one place the type layer needs an enum's labels, given to
//! it by the SQL layer as a per-thread [`EnumTypes`] snapshot.
//!
//! `DataType::Enum` and `Value::Enum` need no catalog to be compared, stored or
//! printed (see `array.rs`), but text input (`'happy'::mood`, COPY, binary input,
//! `array_in`) must map a label to its sort position, and `format_type` must print the
//! type's name. The SQL layer (`sql::enums`) installs the catalog's enum types of the
//! session's database with [`install`] before it binds a statement; each backend runs
//! its statements on one thread, so the snapshot is the statement's view of the
//! catalog.
//!
//! Invariants: this module never reaches for the catalog itself; without a snapshot
//! (or for an unknown OID) reading an enum fails with 0A000 instead of guessing, and a
//! type name falls back to `anyenum`.

use super::array::EnumValue;
use super::Value;
use crate::err;
use crate::error::{sqlstate, Result};
use std::cell::RefCell;
use std::sync::Arc;

/// The enum types a thread's session can see.
pub trait EnumTypes {
    /// The type's name as `format_type` prints it, if the OID is an enum type.
    fn type_name(&self, oid: u32) -> Option<&'static str>;
    /// The name of the type's array type (`mood[]`), if the OID is an enum type.
    fn array_name(&self, oid: u32) -> Option<&'static str>;
    /// The labels with their sort positions, in order, if the OID is an enum type.
    fn labels(&self, oid: u32) -> Option<&[(String, f64)]>;
}

thread_local! {
    /// The snapshot [`install`] gave this thread.
    static CURRENT: RefCell<Option<Arc<dyn EnumTypes>>> = const { RefCell::new(None) };
}

/// Installs (or clears) this thread's enum snapshot.
pub fn install(t: Option<Arc<dyn EnumTypes>>) {
    CURRENT.with(|c| *c.borrow_mut() = t);
}

fn current() -> Option<Arc<dyn EnumTypes>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// The name of enum type `oid` (`anyenum` when it is not known here).
pub fn type_name(oid: u32) -> &'static str {
    current()
        .and_then(|c| c.type_name(oid))
        .unwrap_or("anyenum")
}

/// The name of the array type of enum type `oid` (`anyenum[]` when not known here).
pub fn array_name(oid: u32) -> &'static str {
    current()
        .and_then(|c| c.array_name(oid))
        .unwrap_or("anyenum[]")
}

/// `enum_in`: the value of label `s` of enum type `oid`.
pub fn parse_enum(oid: u32, s: &str) -> Result<Value> {
    let Some(c) = current() else {
        return Err(unknown(oid));
    };
    let Some(labels) = c.labels(oid) else {
        return Err(unknown(oid));
    };
    match labels.iter().find(|(l, _)| l == s) {
        Some((l, sort)) => Ok(Value::Enum(Box::new(EnumValue {
            type_oid: oid,
            sort: *sort,
            label: l.clone(),
        }))),
        None => Err(err!(
            sqlstate::INVALID_TEXT_REPRESENTATION,
            "invalid input value for enum {}: \"{}\"",
            c.type_name(oid).unwrap_or("anyenum"),
            s
        )),
    }
}

/// The labels of enum type `oid` in order, as values (for `enum_range`).
pub fn all_values(oid: u32) -> Result<Vec<Value>> {
    let c = current().ok_or_else(|| unknown(oid))?;
    let labels = c.labels(oid).ok_or_else(|| unknown(oid))?;
    Ok(labels
        .iter()
        .map(|(l, s)| {
            Value::Enum(Box::new(EnumValue {
                type_oid: oid,
                sort: *s,
                label: l.clone(),
            }))
        })
        .collect())
}

fn unknown(oid: u32) -> crate::error::Error {
    err!(
        sqlstate::FEATURE_NOT_SUPPORTED,
        "reading a value of enum type {oid} outside its database is not supported yet"
    )
}
