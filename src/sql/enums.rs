//! Enum types in SQL: `CREATE TYPE name AS ENUM (…)`, `DROP TYPE`, `ALTER TYPE … ADD
//! VALUE`, resolving an enum type's name where a type is written, the session's
//! view of the enum types that the type layer reads labels from, and the enum support
//! functions `enum_first`, `enum_last` and `enum_range` ([`EnumFn`]).
//!
//! What it owns: planning these statements into [`EnumPlan`]s, running them through
//! `Engine::catalog_change` with `CatalogChange::Enum` (the definitions live in
//! `storage::enums`), PostgreSQL's rules and messages for them, and [`install`], which
//! hands the type layer (`types::enum_io`) the enum types of the session's database
//! before a statement is bound, so `'happy'::mood`, COPY and binary input can read
//! labels and error messages can name the type.
//!
//! One `SELECT 'sad'::mood < 'happy'` after `CREATE TYPE mood AS ENUM ('sad', 'happy')`:
//! 1. CREATE TYPE took an even OID for `mood` (its array type `_mood` is the next one)
//!    and logged `SET ENUM` with sort positions 1 and 2;
//! 2. `Binder::new` calls [`install`]: this thread's snapshot now holds `mood`;
//! 3. `convert_type` does not know `mood` as a built-in and asks [`type_by_name`];
//! 4. coercing the literal parses it with `types::enum_io::parse_enum`, which gives a
//!    `Value::Enum` carrying its sort position; `<` compares the positions.
//!
//! Invariants:
//! - A dropped type has no column left using it (2BP01 otherwise; CASCADE is refused).
//! - Names are looked up in the schema given, else in `pg_catalog` and `public`.
//! - Type names given to the type layer are interned: each distinct name is leaked
//!   once for the process's lifetime (they are `&'static str` there), so the leak is
//!   bounded by the number of distinct enum names ever created.
//!
//! What it must never do: change catalog state other than through catalog changes of
//! the statement's transaction, or give a label a sort position another label has.

use super::plan::{fold, Binder};
use super::ExecCtx;
use crate::error::{sqlstate, Error, Result};
use crate::storage::enums::{EnumChange, EnumDef, EnumMap};
use crate::storage::schema::{PG_CATALOG_NAMESPACE, PUBLIC_NAMESPACE};
use crate::storage::{CatalogChange, Engine};
use crate::types::array::ArrayValue;
use crate::types::enum_io::EnumTypes;
use crate::types::{DataType, Value};
use crate::{bail, err};
use sqlparser::ast;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

/// A planned enum statement.
#[derive(Debug, Clone)]
pub enum EnumPlan {
    /// `CREATE TYPE name AS ENUM (labels)`.
    Create {
        /// The schema as written.
        schema: Option<String>,
        /// The type's name.
        name: String,
        /// The labels in order.
        labels: Vec<String>,
    },
    /// `DROP TYPE [IF EXISTS] names`.
    Drop {
        /// The names as written.
        names: Vec<(Option<String>, String)>,
        /// IF EXISTS.
        if_exists: bool,
    },
    /// `ALTER TYPE name ADD VALUE [IF NOT EXISTS] 'x' [BEFORE | AFTER 'y']`.
    AddValue {
        /// The schema as written.
        schema: Option<String>,
        /// The type's name.
        name: String,
        /// The new label.
        label: String,
        /// IF NOT EXISTS.
        if_not_exists: bool,
        /// The neighbour: (label, true for BEFORE).
        position: Option<(String, bool)>,
    },
}

impl EnumPlan {
    /// The command tag.
    pub fn tag(&self) -> &'static str {
        match self {
            EnumPlan::Create { .. } => "CREATE TYPE",
            EnumPlan::Drop { .. } => "DROP TYPE",
            EnumPlan::AddValue { .. } => "ALTER TYPE",
        }
    }
}

// ---- the session's snapshot ---------------------------------------------------------

/// The enum types of one database, as this thread's statement sees them.
struct Snapshot {
    db: u32,
    map: Arc<EnumMap>,
    /// Schema OID → name, for qualified type names outside `public`.
    schemas: BTreeMap<u32, String>,
}

fn intern(s: String) -> &'static str {
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut g = NAMES.lock().unwrap_or_else(|p| p.into_inner());
    let set = g.get_or_insert_with(HashSet::new);
    if let Some(n) = set.get(s.as_str()) {
        return n;
    }
    let n: &'static str = Box::leak(s.into_boxed_str());
    set.insert(n);
    n
}

impl Snapshot {
    fn def(&self, oid: u32) -> Option<&EnumDef> {
        self.map.get(&oid).filter(|d| d.db == self.db).map(|d| &**d)
    }

    fn display(&self, d: &EnumDef) -> String {
        display_name(d, &self.schemas)
    }
}

fn display_name(d: &EnumDef, schemas: &BTreeMap<u32, String>) -> String {
    if d.schema == PUBLIC_NAMESPACE || d.schema == PG_CATALOG_NAMESPACE {
        d.name.clone()
    } else {
        match schemas.get(&d.schema) {
            Some(s) => format!("{s}.{}", d.name),
            None => d.name.clone(),
        }
    }
}

impl EnumTypes for Snapshot {
    fn type_name(&self, oid: u32) -> Option<&'static str> {
        self.def(oid).map(|d| intern(self.display(d)))
    }

    fn array_name(&self, oid: u32) -> Option<&'static str> {
        self.def(oid)
            .map(|d| intern(format!("{}[]", self.display(d))))
    }

    fn labels(&self, oid: u32) -> Option<&[(String, f64)]> {
        self.def(oid).map(|d| d.labels.as_slice())
    }
}

thread_local! {
    static CURRENT: std::cell::RefCell<Option<Arc<Snapshot>>> =
        const { std::cell::RefCell::new(None) };
}

/// Gives this thread (the session's backend) the enum types of database `db`, for
/// the binder and the type layer. Called when a statement's binder is made.
pub fn install(engine: &Engine, db: u32) {
    let (map, schemas) = engine.with_catalog(|c| {
        let schemas = if c.enums.is_empty() {
            BTreeMap::new()
        } else {
            c.schemas
                .iter()
                .map(|(o, (n, _))| (*o, n.clone()))
                .collect()
        };
        (c.enums.clone(), schemas)
    });
    let snap = Arc::new(Snapshot { db, map, schemas });
    CURRENT.with(|c| *c.borrow_mut() = Some(snap.clone()));
    crate::types::enum_io::install(Some(snap));
}

/// The enum type a (lower-cased, possibly schema-qualified) type name names, if any.
pub fn type_by_name(name: &str) -> Option<DataType> {
    let snap = CURRENT.with(|c| c.borrow().clone())?;
    let parts: Vec<String> = name
        .split('.')
        .map(|p| p.trim().trim_matches('"').to_string())
        .collect();
    let (schema, name) = match parts.as_slice() {
        [n] => (None, n.as_str()),
        [s, n] | [_, s, n] => (Some(s.as_str()), n.as_str()),
        _ => return None,
    };
    let schemas: Vec<u32> = match schema {
        Some(s) => vec![*snap.schemas.iter().find(|(_, n)| n.as_str() == s)?.0],
        None => vec![PG_CATALOG_NAMESPACE, PUBLIC_NAMESPACE],
    };
    schemas.iter().find_map(|s| {
        snap.map
            .values()
            .find(|d| d.db == snap.db && d.schema == *s && d.name == name)
            .map(|d| DataType::Enum(d.oid))
    })
}

// ---- planning ----------------------------------------------------------------------

fn split_name(n: &ast::ObjectName) -> Result<(Option<String>, String)> {
    let parts: Vec<String> =
        n.0.iter()
            .map(|p| match p {
                ast::ObjectNamePart::Identifier(i) => Ok(fold(i)),
                _ => Err(err!(sqlstate::SYNTAX_ERROR, "invalid name")),
            })
            .collect::<Result<_>>()?;
    match parts.len() {
        1 => Ok((None, parts[0].clone())),
        2 => Ok((Some(parts[0].clone()), parts[1].clone())),
        3 => Ok((Some(parts[1].clone()), parts[2].clone())),
        _ => bail!(
            sqlstate::SYNTAX_ERROR,
            "improper qualified name (too many dotted names): {n}"
        ),
    }
}

/// A label as written: a string literal (sqlparser gives it as a quoted identifier).
fn label(i: &ast::Ident) -> Result<String> {
    if i.quote_style != Some('\'') {
        bail!(
            sqlstate::SYNTAX_ERROR,
            "syntax error at or near \"{}\"",
            i.value
        );
    }
    check_label(&i.value)?;
    Ok(i.value.clone())
}

fn check_label(l: &str) -> Result<()> {
    if l.len() > 63 {
        return Err(err!(sqlstate::INVALID_NAME, "invalid enum label \"{l}\"")
            .with_detail("Labels must be 63 bytes or less."));
    }
    Ok(())
}

/// Plans the statements of this module; `Ok(None)` when `stmt` is not one.
pub fn plan(_b: &Binder<'_>, stmt: &ast::Statement) -> Result<Option<EnumPlan>> {
    Ok(Some(match stmt {
        ast::Statement::CreateType {
            name,
            representation,
        } => match representation {
            ast::UserDefinedTypeRepresentation::Enum { labels } => {
                let (schema, name) = split_name(name)?;
                let labels = labels.iter().map(label).collect::<Result<Vec<_>>>()?;
                EnumPlan::Create {
                    schema,
                    name,
                    labels,
                }
            }
            _ => bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "composite types are not supported yet"
            ),
        },
        ast::Statement::Drop {
            object_type: ast::ObjectType::Type,
            if_exists,
            names,
            cascade,
            ..
        } => {
            if *cascade {
                bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "DROP TYPE … CASCADE is not supported yet"
                );
            }
            EnumPlan::Drop {
                names: names.iter().map(split_name).collect::<Result<_>>()?,
                if_exists: *if_exists,
            }
        }
        ast::Statement::AlterType(a) => match &a.operation {
            ast::AlterTypeOperation::AddValue(v) => {
                let (schema, name) = split_name(&a.name)?;
                let position = match &v.position {
                    None => None,
                    Some(ast::AlterTypeAddValuePosition::Before(i)) => Some((label(i)?, true)),
                    Some(ast::AlterTypeAddValuePosition::After(i)) => Some((label(i)?, false)),
                };
                EnumPlan::AddValue {
                    schema,
                    name,
                    label: label(&v.value)?,
                    if_not_exists: v.if_not_exists,
                    position,
                }
            }
            _ => bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "ALTER TYPE … RENAME is not supported yet"
            ),
        },
        _ => return Ok(None),
    }))
}

// ---- execution ---------------------------------------------------------------------

fn notice(code: &'static str, msg: String) -> Error {
    let mut e = Error::new(code, msg);
    e.severity = crate::error::Severity::Notice;
    e
}

/// Finds an enum type by name in the catalog (not the snapshot: DDL sees its own
/// transaction's changes).
fn find(cx: &ExecCtx<'_>, schema: Option<&str>, name: &str) -> Result<Option<Arc<EnumDef>>> {
    let db = cx.db_oid;
    cx.engine.with_catalog(|c| {
        let schemas: Vec<u32> = match schema {
            Some(s) => match c.schemas.iter().find(|(_, (n, _))| n == s) {
                Some((o, _)) => vec![*o],
                None => bail!(
                    sqlstate::INVALID_SCHEMA_NAME,
                    "schema \"{s}\" does not exist"
                ),
            },
            None => vec![PG_CATALOG_NAMESPACE, PUBLIC_NAMESPACE],
        };
        Ok(schemas.iter().find_map(|s| {
            c.enums
                .values()
                .find(|d| d.db == db && d.schema == *s && d.name == name)
                .cloned()
        }))
    })
}

fn qualified(schema: Option<&str>, name: &str) -> String {
    match schema {
        Some(s) => format!("{s}.{name}"),
        None => name.to_string(),
    }
}

fn undefined(schema: Option<&str>, name: &str) -> Error {
    err!(
        sqlstate::UNDEFINED_OBJECT,
        "type \"{}\" does not exist",
        qualified(schema, name)
    )
}

/// Runs a planned enum statement.
pub fn execute(p: &EnumPlan, cx: &mut ExecCtx<'_>) -> Result<()> {
    let db = cx.db_oid;
    match p {
        EnumPlan::Create {
            schema,
            name,
            labels,
        } => {
            let schema_oid =
                crate::catalog::resolve_schema_for_create(cx.engine, schema.as_deref())?;
            if crate::catalog::is_temp_schema(cx.engine, schema_oid) {
                bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "enum types in a temporary schema are not supported yet"
                );
            }
            let taken = cx.engine.with_catalog(|c| {
                c.enums
                    .values()
                    .any(|d| d.db == db && d.schema == schema_oid && &d.name == name)
                    || c.table_by_name(db, schema_oid, name).is_some()
            });
            if taken {
                bail!(sqlstate::DUPLICATE_OBJECT, "type \"{name}\" already exists");
            }
            let mut seen: HashSet<&str> = HashSet::new();
            for l in labels {
                if !seen.insert(l) {
                    // PostgreSQL reports its catalog's unique index here.
                    return Err(err!(
                        sqlstate::UNIQUE_VIOLATION,
                        "duplicate key value violates unique constraint \"pg_enum_typid_label_index\""
                    ));
                }
            }
            let def = EnumDef {
                db,
                oid: cx.engine.new_enum_oids(),
                schema: schema_oid,
                name: name.clone(),
                owner: cx
                    .current_role()
                    .map(|r| r.oid)
                    .unwrap_or(crate::storage::schema::BOOTSTRAP_SUPERUSER),
                labels: labels
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (l.clone(), (i + 1) as f64))
                    .collect(),
            };
            cx.engine
                .catalog_change(cx.txn, CatalogChange::Enum(EnumChange::Set(def)))?;
        }
        EnumPlan::Drop { names, if_exists } => {
            let mut defs = Vec::new();
            for (s, n) in names {
                match find(cx, s.as_deref(), n)? {
                    Some(d) => defs.push(d),
                    None if *if_exists => cx.notices.push(notice(
                        "00000",
                        format!(
                            "type \"{}\" does not exist, skipping",
                            qualified(s.as_deref(), n)
                        ),
                    )),
                    None => return Err(undefined(s.as_deref(), n)),
                }
            }
            for d in &defs {
                super::owner::check(cx, d.owner, "type", &d.name)?;
            }
            for d in defs {
                check_unused(cx, &d)?;
                cx.engine
                    .catalog_change(cx.txn, CatalogChange::Enum(EnumChange::Drop { oid: d.oid }))?;
            }
        }
        EnumPlan::AddValue {
            schema,
            name,
            label,
            if_not_exists,
            position,
        } => {
            let d = find(cx, schema.as_deref(), name)?
                .ok_or_else(|| undefined(schema.as_deref(), name))?;
            super::owner::check(cx, d.owner, "type", &d.name)?;
            if d.labels.iter().any(|(l, _)| l == label) {
                if *if_not_exists {
                    cx.notices.push(notice(
                        "00000",
                        format!("enum label \"{label}\" already exists, skipping"),
                    ));
                    return Ok(());
                }
                bail!(
                    sqlstate::DUPLICATE_OBJECT,
                    "enum label \"{label}\" already exists"
                );
            }
            let mut def = (*d).clone();
            let (at, sort) = match position {
                None => (
                    def.labels.len(),
                    def.labels.last().map(|(_, s)| s + 1.0).unwrap_or(1.0),
                ),
                Some((nb, before)) => {
                    let i = def
                        .labels
                        .iter()
                        .position(|(l, _)| l == nb)
                        .ok_or_else(|| {
                            err!(
                                sqlstate::INVALID_PARAMETER_VALUE,
                                "\"{nb}\" is not an existing enum label"
                            )
                        })?;
                    let here = def.labels[i].1;
                    let (at, other) = if *before {
                        (i, i.checked_sub(1).map(|j| def.labels[j].1))
                    } else {
                        (i + 1, def.labels.get(i + 1).map(|x| x.1))
                    };
                    let sort = match other {
                        Some(o) => (here + o) / 2.0,
                        None if *before => here - 1.0,
                        None => here + 1.0,
                    };
                    if def.labels.iter().any(|(_, s)| *s == sort) {
                        bail!(
                            sqlstate::FEATURE_NOT_SUPPORTED,
                            "renumbering the labels of enum type \"{name}\" is not supported yet"
                        );
                    }
                    (at, sort)
                }
            };
            def.labels.insert(at, (label.clone(), sort));
            cx.engine
                .catalog_change(cx.txn, CatalogChange::Enum(EnumChange::Set(def)))?;
        }
    }
    Ok(())
}

/// Refuses to drop a type a column still uses (PostgreSQL's 2BP01).
pub(crate) fn check_unused(cx: &ExecCtx<'_>, d: &EnumDef) -> Result<()> {
    let db = cx.db_oid;
    let user = cx.engine.with_catalog(|c| {
        c.tables
            .iter()
            .filter(|((tdb, _), _)| *tdb == db)
            .find_map(|(_, t)| {
                t.columns
                    .iter()
                    .find(|col| {
                        !col.dropped
                            && (col.data_type == DataType::Enum(d.oid)
                                || col.data_type == DataType::Array(d.oid))
                    })
                    .map(|col| (t.name.clone(), col.name.clone()))
            })
    });
    if let Some((table, column)) = user {
        return Err(err!(
            sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
            "cannot drop type {} because other objects depend on it",
            d.name
        )
        .with_detail(format!(
            "column {column} of table {table} depends on type {}",
            d.name
        ))
        .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
    }
    Ok(())
}

// ---- enum support functions ---------------------------------------------------------

/// An enum support function, with the OID of the enum type it was resolved for. Like
/// PostgreSQL's they read only the type of their arguments, not their values (save
/// `enum_range`'s bounds), so they are not strict: `enum_range(NULL::mood)` is every
/// label of `mood`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnumFn {
    /// `enum_first(anyenum)`: the first label.
    First(u32),
    /// `enum_last(anyenum)`: the last label.
    Last(u32),
    /// `enum_range(anyenum)`: every label, in order, as an array.
    Range(u32),
    /// `enum_range(anyenum, anyenum)`: the labels between two bounds (inclusive; a
    /// NULL bound is open).
    RangeBetween(u32),
}

/// Resolves an enum support function: its argument must be of an enum type (for
/// the two-argument `enum_range`, both of the same one, or one untyped), else there is
/// no such function, as in PostgreSQL.
pub fn lookup(name: &str, types: &[DataType]) -> Option<(EnumFn, DataType)> {
    let enum_oid = |t: &DataType| match t {
        DataType::Enum(o) => Some(*o),
        _ => None,
    };
    Some(match (name, types) {
        ("enum_first", [t]) => {
            let o = enum_oid(t)?;
            (EnumFn::First(o), DataType::Enum(o))
        }
        ("enum_last", [t]) => {
            let o = enum_oid(t)?;
            (EnumFn::Last(o), DataType::Enum(o))
        }
        ("enum_range", [t]) => {
            let o = enum_oid(t)?;
            (EnumFn::Range(o), DataType::Array(o))
        }
        ("enum_range", [a, b]) => {
            let o = match (enum_oid(a), enum_oid(b)) {
                (Some(x), Some(y)) if x == y => x,
                (Some(x), None) if *b == DataType::Unknown => x,
                (None, Some(y)) if *a == DataType::Unknown => y,
                _ => return None,
            };
            (EnumFn::RangeBetween(o), DataType::Array(o))
        }
        _ => return None,
    })
}

/// The type every argument of `f` is coerced to: its enum type.
pub fn arg_type(f: EnumFn) -> DataType {
    match f {
        EnumFn::First(o) | EnumFn::Last(o) | EnumFn::Range(o) | EnumFn::RangeBetween(o) => {
            DataType::Enum(o)
        }
    }
}

/// Calls an enum support function on evaluated arguments.
pub fn call(f: EnumFn, args: &[Value]) -> Result<Value> {
    let (EnumFn::First(o) | EnumFn::Last(o) | EnumFn::Range(o) | EnumFn::RangeBetween(o)) = f;
    let labels = crate::types::enum_io::all_values(o)?;
    let sort = |v: &Value| match v {
        Value::Enum(e) => Some(e.sort),
        _ => None,
    };
    Ok(match f {
        EnumFn::First(_) | EnumFn::Last(_) => {
            let pick = if matches!(f, EnumFn::First(_)) {
                labels.into_iter().next()
            } else {
                labels.into_iter().last()
            };
            pick.ok_or_else(|| {
                err!(
                    sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "enum {} contains no values",
                    crate::types::enum_io::type_name(o)
                )
            })?
        }
        EnumFn::Range(_) | EnumFn::RangeBetween(_) => {
            let (low, high) = match f {
                EnumFn::RangeBetween(_) => {
                    (args.first().and_then(sort), args.get(1).and_then(sort))
                }
                _ => (None, None),
            };
            let items = labels
                .into_iter()
                .filter(|v| {
                    let s = sort(v).unwrap_or(0.0);
                    low.is_none_or(|l| s >= l) && high.is_none_or(|h| s <= h)
                })
                .collect();
            ArrayValue {
                elem: DataType::Enum(o),
                items,
            }
            .into_value()
        }
    })
}

#[cfg(test)]
#[path = "enums_tests.rs"]
mod tests;
