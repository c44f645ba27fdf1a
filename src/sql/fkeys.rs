//! FOREIGN KEY constraints: declaring them (`REFERENCES` column constraints, `FOREIGN
//! KEY` table constraints, `ALTER TABLE … ADD CONSTRAINT … FOREIGN KEY`; dropping and
//! renaming them is `sql::alter`'s) and enforcing them on INSERT, UPDATE, DELETE, COPY, TRUNCATE
//! and DROP TABLE, with PostgreSQL's rules and messages.
//!
//! What it owns: planning constraint specs ([`FkSpec`]) from the parser's AST,
//! checking them against the referenced table (its primary key or a UNIQUE
//! constraint must match the referenced columns as a set: 42830 otherwise) and
//! storing them through `DdlChange::SetForeignKeys` (`storage::ddl`, WAL-logged with
//! the statement's transaction); and the checks PostgreSQL runs as its RI triggers.
//!
//! Invariants:
//! - A constraint is checked row by row as each row is written (MATCH SIMPLE: a
//!   referencing key with a NULL in it is not checked) unless it is DEFERRABLE and
//!   deferred — INITIALLY DEFERRED, or `SET CONSTRAINTS … DEFERRED` in the
//!   transaction. Then the check (the referencing row's parent exists; for NO ACTION,
//!   no row references a deleted or changed key) is queued in the session's
//!   [`Deferred`] and run at COMMIT or at `SET CONSTRAINTS … IMMEDIATE`, against the
//!   rows as they are then: a referencing row deleted meanwhile or a parent key
//!   inserted again passes, as in PostgreSQL. RESTRICT and the referential actions
//!   (CASCADE, SET NULL, SET DEFAULT) are never deferred. A ROLLBACK TO SAVEPOINT
//!   drops the checks queued after the savepoint. NOT ENFORCED, NOT VALID and MATCH
//!   FULL are refused with 0A000.
//! - A referencing row's parent is found and then locked FOR SHARE
//!   (`Engine::lock_row`) until the transaction ends, so a concurrent DELETE (or any
//!   UPDATE) of the parent waits for it; a parent row deleted by a transaction that
//!   committed meanwhile counts as missing. A DELETE or key-changing UPDATE of a
//!   parent waits for such lockers (the engine does), then looks for referencing rows
//!   with a fresh snapshot in READ COMMITTED, so it sees the ones they committed.
//! - Referential actions (CASCADE, SET NULL, SET DEFAULT) change the referencing rows
//!   with the engine's ordinary row operations, so they are WAL-logged and undone
//!   like any statement's changes, and they fire the referencing table's own
//!   constraints in turn (NOT NULL, CHECK, its foreign keys, and its dependents').
//!
//! What it must never do: write the catalog other than through
//! `Engine::catalog_change`, or let a check pass on a row it has not seen.
//!
//! One `DELETE FROM p WHERE id = 1` with `c.p REFERENCES p ON DELETE CASCADE`:
//! 1. the executor deletes the row of `p` and calls [`after_delete`];
//! 2. [`after_delete`] finds the constraints referencing `p` and, for each, the rows
//!    of `c` whose key equals the deleted row's referenced columns;
//! 3. CASCADE deletes them (and recurses into `c`'s dependents); NO ACTION or
//!    RESTRICT would fail with 23503 `update or delete on table "p" violates foreign
//!    key constraint "c_p_fkey" on table "c"`.

use super::plan::Binder;
use super::ExecCtx;
use crate::error::{sqlstate, Error, Result, Severity};
use crate::storage::ddl::{DdlChange, ForeignKeyDef};
use crate::storage::{CatalogChange, LockWait, RowOutcome, TableDef};
use crate::types::{self, DataType, FormatOptions, Value};
use crate::{bail, err};
use sqlparser::ast;
use std::cmp::Ordering;
use std::sync::Arc;

/// How deep referential actions may cascade before failing (PostgreSQL fails with
/// "stack depth limit exceeded" at some depth too).
const MAX_DEPTH: usize = 1000;

/// A FOREIGN KEY constraint as written.
#[derive(Debug, Clone, PartialEq)]
pub struct FkSpec {
    /// The constraint name, if given.
    pub name: Option<String>,
    /// The referencing column names.
    pub columns: Vec<String>,
    /// The referenced table as written.
    pub ref_table: (Option<String>, String),
    /// The referenced column names (empty: the referenced table's primary key).
    pub ref_columns: Vec<String>,
    /// ON DELETE action code (see `ForeignKeyDef`).
    pub on_delete: u8,
    /// ON UPDATE action code.
    pub on_update: u8,
    /// DEFERRABLE.
    pub deferrable: bool,
    /// INITIALLY DEFERRED.
    pub initially_deferred: bool,
}

fn unsupported(what: &str) -> Error {
    err!(
        sqlstate::FEATURE_NOT_SUPPORTED,
        "{what} is not supported yet"
    )
}

fn action(a: &Option<ast::ReferentialAction>) -> u8 {
    match a {
        None | Some(ast::ReferentialAction::NoAction) => b'a',
        Some(ast::ReferentialAction::Restrict) => b'r',
        Some(ast::ReferentialAction::Cascade) => b'c',
        Some(ast::ReferentialAction::SetNull) => b'n',
        Some(ast::ReferentialAction::SetDefault) => b'd',
    }
}

/// DEFERRABLE and INITIALLY DEFERRED of a constraint's characteristics.
fn characteristics(c: &Option<ast::ConstraintCharacteristics>) -> Result<(bool, bool)> {
    let Some(c) = c else {
        return Ok((false, false));
    };
    if c.enforced == Some(false) {
        return Err(unsupported("a NOT ENFORCED foreign key constraint"));
    }
    let deferred = c.initially == Some(ast::DeferrableInitial::Deferred);
    if deferred && c.deferrable == Some(false) {
        bail!(
            sqlstate::SYNTAX_ERROR,
            "constraint declared INITIALLY DEFERRED must be DEFERRABLE"
        );
    }
    // INITIALLY DEFERRED alone implies DEFERRABLE.
    Ok((c.deferrable == Some(true) || deferred, deferred))
}

fn object_name(n: &ast::ObjectName) -> Result<(Option<String>, String)> {
    let parts: Vec<String> =
        n.0.iter()
            .map(|p| match p {
                ast::ObjectNamePart::Identifier(i) => Ok(super::plan::fold(i)),
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

/// A `REFERENCES` column constraint on column `col`; `Ok(None)` for other options.
pub fn from_column_option(col: &str, o: &ast::ColumnOptionDef) -> Result<Option<FkSpec>> {
    let ast::ColumnOption::ForeignKey {
        foreign_table,
        referred_columns,
        on_delete,
        on_update,
        characteristics: ch,
    } = &o.option
    else {
        return Ok(None);
    };
    let (deferrable, initially_deferred) = characteristics(ch)?;
    Ok(Some(FkSpec {
        name: o.name.as_ref().map(super::plan::fold),
        columns: vec![col.to_string()],
        ref_table: object_name(foreign_table)?,
        ref_columns: referred_columns.iter().map(super::plan::fold).collect(),
        on_delete: action(on_delete),
        on_update: action(on_update),
        deferrable,
        initially_deferred,
    }))
}

/// A `FOREIGN KEY` table constraint; `Ok(None)` for other constraints.
pub fn from_table_constraint(tc: &ast::TableConstraint) -> Result<Option<FkSpec>> {
    let ast::TableConstraint::ForeignKey {
        name,
        columns,
        foreign_table,
        referred_columns,
        on_delete,
        on_update,
        characteristics: ch,
        ..
    } = tc
    else {
        return Ok(None);
    };
    let (deferrable, initially_deferred) = characteristics(ch)?;
    Ok(Some(FkSpec {
        name: name.as_ref().map(super::plan::fold),
        columns: columns.iter().map(super::plan::fold).collect(),
        ref_table: object_name(foreign_table)?,
        ref_columns: referred_columns.iter().map(super::plan::fold).collect(),
        on_delete: action(on_delete),
        on_update: action(on_update),
        deferrable,
        initially_deferred,
    }))
}

// ---- declaring -----------------------------------------------------------------------

pub(super) fn table_by_oid(cx: &ExecCtx<'_>, db: u32, oid: u32) -> Option<Arc<TableDef>> {
    cx.engine
        .with_catalog(|c| c.tables.get(&(db, oid)).cloned())
}

/// The constraints of `table` (as the referencing table).
pub(super) fn own(cx: &ExecCtx<'_>, db: u32, table: u32) -> Vec<ForeignKeyDef> {
    cx.engine.with_catalog(|c| {
        c.ddl
            .foreign_keys
            .get(&(db, table))
            .cloned()
            .unwrap_or_default()
    })
}

/// The constraints referencing `table`: (referencing table OID, constraint).
pub(super) fn referencing(cx: &ExecCtx<'_>, db: u32, table: u32) -> Vec<(u32, ForeignKeyDef)> {
    cx.engine.with_catalog(|c| {
        c.ddl
            .foreign_keys
            .range((db, 0)..=(db, u32::MAX))
            .flat_map(|((_, t), fks)| {
                fks.iter()
                    .filter(|f| f.ref_table == table)
                    .map(move |f| (*t, f.clone()))
            })
            .collect()
    })
}

/// Every constraint name of the schema's tables (primary keys, UNIQUE, CHECK and
/// FOREIGN KEY constraints): generated names avoid them, as PostgreSQL's
/// `ChooseConstraintName` does.
pub(super) fn constraint_names(cx: &ExecCtx<'_>, db: u32, schema: u32) -> Vec<String> {
    cx.engine.with_catalog(|c| {
        let mut out = Vec::new();
        for ((d, oid), t) in c.tables.range((db, 0)..=(db, u32::MAX)) {
            if *d != db || t.schema != schema {
                continue;
            }
            if t.primary_key.is_some() {
                out.push(t.pkey_name.clone());
            }
            out.extend(t.indexes.iter().map(|i| i.name.clone()));
            if let Some(cs) = c.ddl.checks.get(&(db, *oid)) {
                out.extend(cs.iter().map(|x| x.name.clone()));
            }
            if let Some(fs) = c.ddl.foreign_keys.get(&(db, *oid)) {
                out.extend(fs.iter().map(|x| x.name.clone()));
            }
        }
        out
    })
}

/// PostgreSQL's makeObjectName: `name1_name2_label` shortened to 63 bytes.
fn make_name(name1: &str, name2: &str, label: &str) -> String {
    let max = 63usize;
    let (mut l1, mut l2) = (name1.len(), name2.len());
    let overhead = label.len() + 1 + if name2.is_empty() { 0 } else { 1 };
    while l1 + l2 + overhead > max {
        if l1 > l2 {
            l1 -= 1;
        } else {
            l2 -= 1;
        }
    }
    let cut = |s: &str, mut n: usize| {
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        s[..n].to_string()
    };
    let mut out = cut(name1, l1);
    if !name2.is_empty() {
        out.push('_');
        out.push_str(&cut(name2, l2));
    }
    out.push('_');
    out.push_str(label);
    out
}

fn column_pos(def: &TableDef, name: &str) -> Result<usize> {
    def.columns
        .iter()
        .position(|c| c.name == name)
        .ok_or_else(|| {
            err!(
                sqlstate::UNDEFINED_COLUMN,
                "column \"{name}\" referenced in foreign key constraint does not exist"
            )
        })
}

pub(super) fn same_set(a: &[usize], b: &[usize]) -> bool {
    let (mut x, mut y) = (a.to_vec(), b.to_vec());
    x.sort_unstable();
    y.sort_unstable();
    x == y && a.len() == b.len()
}

/// Whether a referencing column of type `fk` can reference one of type `pk`
/// (PostgreSQL: an equality operator of the key's operator family, directly or after
/// an implicit cast of the referencing type).
pub(super) fn compatible(fk: DataType, pk: DataType) -> bool {
    fk == pk
        || (fk.is_integer() && pk.is_integer())
        || (fk.is_string() && pk.is_string())
        || (fk.is_integer() && matches!(pk, DataType::Numeric | DataType::Float8))
        || (fk == DataType::Float4 && pk == DataType::Float8)
        || (fk == DataType::Date && matches!(pk, DataType::Timestamp | DataType::TimestampTz))
        || (fk == DataType::Timestamp && pk == DataType::TimestampTz)
}

/// Builds a constraint of `child` (its OID chosen) from a spec. `taken` holds names
/// already used by this statement.
fn build(
    cx: &ExecCtx<'_>,
    db: u32,
    child: &TableDef,
    spec: &FkSpec,
    taken: &[String],
) -> Result<ForeignKeyDef> {
    let (schema, name) = &spec.ref_table;
    let parent: Arc<TableDef> = {
        let found = crate::catalog::resolve_table(cx.engine, db, schema.as_deref(), name)?;
        match found {
            Some(t) => t,
            None if schema.as_deref().is_none_or(|s| {
                crate::catalog::resolve_schema_for_create(cx.engine, Some(s))
                    .is_ok_and(|o| o == child.schema)
            }) && *name == child.name =>
            {
                Arc::new(child.clone())
            }
            None => bail!(
                sqlstate::UNDEFINED_TABLE,
                "relation \"{name}\" does not exist"
            ),
        }
    };
    // Temporary and permanent tables never reference each other (sql::temp).
    let temp = |s: u32| crate::catalog::is_temp_schema(cx.engine, s);
    if let Some(e) = super::temp::foreign_key_persistence(temp(child.schema), temp(parent.schema)) {
        return Err(e);
    }
    let columns: Vec<usize> = spec
        .columns
        .iter()
        .map(|c| column_pos(child, c))
        .collect::<Result<_>>()?;
    let ref_columns: Vec<usize> = if spec.ref_columns.is_empty() {
        match &parent.primary_key {
            Some(pk) => pk.clone(),
            None => bail!(
                sqlstate::UNDEFINED_OBJECT,
                "there is no primary key for referenced table \"{}\"",
                parent.name
            ),
        }
    } else {
        spec.ref_columns
            .iter()
            .map(|c| column_pos(&parent, c))
            .collect::<Result<_>>()?
    };
    if columns.len() != ref_columns.len() {
        bail!(
            sqlstate::INVALID_FOREIGN_KEY,
            "number of referencing and referenced columns for foreign key disagree"
        );
    }
    let unique = parent
        .primary_key
        .as_ref()
        .is_some_and(|pk| same_set(pk, &ref_columns))
        || parent
            .indexes
            .iter()
            .any(|i| i.unique && i.predicate.is_none() && same_set(&i.columns, &ref_columns));
    if !unique {
        bail!(
            sqlstate::INVALID_FOREIGN_KEY,
            "there is no unique constraint matching given keys for referenced table \"{}\"",
            parent.name
        );
    }
    // REFERENCES on the referenced table, or on each referenced column.
    let role = super::privileges::current_role_oid(cx);
    let allowed = cx.engine.with_catalog(|c| {
        ref_columns.iter().all(|col| {
            crate::storage::acl::column_privileges(c, db, parent.oid, *col as u32, role)
                & crate::storage::acl::ACL_REFERENCES
                != 0
        })
    });
    if parent.oid != child.oid && !allowed {
        return Err(super::privileges::denied("table", &parent.name));
    }
    let fk_name = match &spec.name {
        Some(n) => {
            let dup = own(cx, db, child.oid).iter().any(|f| &f.name == n)
                || taken.contains(n)
                || cx
                    .engine
                    .with_catalog(|c| c.ddl.checks.get(&(db, child.oid)).cloned())
                    .unwrap_or_default()
                    .iter()
                    .any(|c| &c.name == n);
            if dup {
                bail!(
                    sqlstate::DUPLICATE_OBJECT,
                    "constraint \"{n}\" for relation \"{}\" already exists",
                    child.name
                );
            }
            n.clone()
        }
        None => {
            let mut used = constraint_names(cx, db, child.schema);
            used.extend(taken.iter().cloned());
            let cols: Vec<&str> = spec.columns.iter().map(|s| s.as_str()).collect();
            let addition = cols.join("_");
            let mut pass = 0;
            loop {
                let label = if pass == 0 {
                    "fkey".to_string()
                } else {
                    format!("fkey{pass}")
                };
                let n = make_name(&child.name, &addition, &label);
                if !used.contains(&n) {
                    break n;
                }
                pass += 1;
            }
        }
    };
    for (&c, &r) in columns.iter().zip(&ref_columns) {
        let (ct, pt) = (child.columns[c].data_type, parent.columns[r].data_type);
        if !compatible(ct, pt) {
            return Err(err!(
                sqlstate::DATATYPE_MISMATCH,
                "foreign key constraint \"{fk_name}\" cannot be implemented"
            )
            .with_detail(format!(
                "Key columns \"{}\" and \"{}\" are of incompatible types: {} and {}.",
                child.columns[c].name,
                parent.columns[r].name,
                ct.name(),
                pt.name()
            )));
        }
    }
    Ok(ForeignKeyDef {
        name: fk_name,
        columns,
        ref_table: parent.oid,
        ref_columns,
        on_delete: spec.on_delete,
        on_update: spec.on_update,
        deferrable: spec.deferrable,
        initially_deferred: spec.initially_deferred,
    })
}

/// CREATE TABLE's foreign keys, run once the table's OID is chosen (the table may
/// reference itself). Constraint names already taken by the statement are `taken`.
pub fn create_table(
    specs: &[FkSpec],
    def: &TableDef,
    taken: &[String],
    cx: &mut ExecCtx<'_>,
) -> Result<()> {
    if specs.is_empty() {
        return Ok(());
    }
    let db = cx.db_oid;
    let mut fks: Vec<ForeignKeyDef> = Vec::new();
    let mut names: Vec<String> = taken.to_vec();
    for s in specs {
        let f = build(cx, db, def, s, &names)?;
        names.push(f.name.clone());
        fks.push(f);
    }
    cx.engine.catalog_change(
        cx.txn,
        CatalogChange::Ddl(DdlChange::SetForeignKeys {
            db,
            table: def.oid,
            fks,
        }),
    )
}

fn notice(code: &'static str, msg: String) -> Error {
    Error::new(code, msg).with_severity(Severity::Notice)
}

/// ALTER TABLE … ADD [CONSTRAINT name] FOREIGN KEY on `table` (its definition after the
/// statement's earlier actions): existing rows must satisfy it, deferrable or not (as
/// PostgreSQL's validation scan). DROP CONSTRAINT is `sql::alter`'s.
pub fn add_constraint(
    cx: &mut ExecCtx<'_>,
    db: u32,
    table: &TableDef,
    spec: &FkSpec,
) -> Result<()> {
    let f = build(cx, db, table, spec, &[])?;
    for (_, row) in cx.engine.scan(cx.txn, db, table.oid) {
        check_parent(cx, db, table, &f, &row)?;
    }
    let mut fks = own(cx, db, table.oid);
    fks.push(f);
    cx.engine.catalog_change(
        cx.txn,
        CatalogChange::Ddl(DdlChange::SetForeignKeys {
            db,
            table: table.oid,
            fks,
        }),
    )
}

// ---- enforcing: the referencing side ---------------------------------------------------

fn show(v: &Value) -> String {
    if v.is_null() {
        "null".to_string()
    } else {
        types::format_text(v, &FormatOptions::default())
    }
}

/// `Key (a, b)=(1, 2)`.
fn key_text(def: &TableDef, cols: &[usize], vals: &[Value]) -> String {
    let names: Vec<&str> = cols.iter().map(|&c| def.columns[c].name.as_str()).collect();
    let vals: Vec<String> = vals.iter().map(show).collect();
    format!("Key ({})=({})", names.join(", "), vals.join(", "))
}

fn equal(a: &Value, b: &Value) -> bool {
    !a.is_null() && !b.is_null() && types::compare(a, b) == Ordering::Equal
}

/// Whether `row`'s `cols` equal `key`.
fn matches(row: &[Value], cols: &[usize], key: &[Value]) -> bool {
    cols.iter()
        .zip(key)
        .all(|(&c, k)| row.get(c).is_some_and(|v| equal(v, k)))
}

/// Casts key values to the types of `def`'s `cols` (None when one cannot be held:
/// nothing can match it).
fn cast_key(def: &TableDef, cols: &[usize], vals: &[Value]) -> Option<Vec<Value>> {
    cols.iter()
        .zip(vals)
        .map(|(&c, v)| types::cast(v.clone(), def.columns[c].data_type, -1, false).ok())
        .collect()
}

/// The versions of `def` visible to the transaction whose `cols` equal `key`, found
/// through the primary key or a unique index when one matches.
fn rows_with_key(
    cx: &mut ExecCtx<'_>,
    db: u32,
    def: &TableDef,
    cols: &[usize],
    key: &[Value],
) -> Vec<(u64, Arc<Vec<Value>>)> {
    let ordered = |order: &[usize]| -> Option<Vec<Value>> {
        order
            .iter()
            .map(|o| cols.iter().position(|c| c == o).map(|i| key[i].clone()))
            .collect()
    };
    let found = if let Some(pk) = def.primary_key.as_ref().filter(|pk| same_set(pk, cols)) {
        ordered(pk).map(|k| cx.engine.lookup_key(cx.txn, db, def.oid, &k))
    } else if let Some(ix) = def
        .indexes
        .iter()
        .find(|i| i.predicate.is_none() && same_set(&i.columns, cols))
    {
        ordered(&ix.columns).and_then(|k| {
            cx.engine
                .lookup_index(cx.txn, db, def.oid, ix.oid, &k, None)
        })
    } else {
        None
    };
    found
        .unwrap_or_else(|| cx.engine.scan(cx.txn, db, def.oid))
        .into_iter()
        .filter(|(_, r)| matches(r, cols, key))
        .collect()
}

fn concurrent_update() -> Error {
    Error::new(
        sqlstate::SERIALIZATION_FAILURE,
        "could not serialize access due to concurrent update",
    )
}

/// Checks that the parent of `row` (a row of `child`) under `f` exists, and locks it
/// FOR SHARE; 23503 when it does not.
fn check_parent(
    cx: &mut ExecCtx<'_>,
    db: u32,
    child: &TableDef,
    f: &ForeignKeyDef,
    row: &[Value],
) -> Result<()> {
    let vals: Vec<Value> = f.columns.iter().map(|&c| row[c].clone()).collect();
    if vals.iter().any(|v| v.is_null()) {
        return Ok(()); // MATCH SIMPLE
    }
    let parent = if f.ref_table == child.oid {
        Arc::new(child.clone())
    } else {
        match table_by_oid(cx, db, f.ref_table) {
            Some(p) => p,
            None => bail!(
                sqlstate::INTERNAL_ERROR,
                "referenced table of foreign key constraint \"{}\" is missing",
                f.name
            ),
        }
    };
    if let Some(key) = cast_key(&parent, &f.ref_columns, &vals) {
        let mut fresh = false;
        loop {
            for (tid, r) in rows_with_key(cx, db, &parent, &f.ref_columns, &key) {
                if lock_parent(cx, db, &parent, tid, r, &f.ref_columns, &key)? {
                    return Ok(());
                }
            }
            // READ COMMITTED: a parent committed since the statement began counts.
            if fresh || cx.serializable {
                break;
            }
            cx.engine.new_snapshot(cx.txn);
            fresh = true;
        }
    }
    Err(err!(
        sqlstate::FOREIGN_KEY_VIOLATION,
        "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
        child.name,
        f.name
    )
    .with_detail(format!(
        "{} is not present in table \"{}\".",
        key_text(child, &f.columns, &vals),
        parent.name
    ))
    .with_table(child.name.clone())
    .with_constraint(f.name.clone()))
}

/// Locks a parent version FOR SHARE, following a concurrent committed update while
/// the key still matches; false when the row is gone.
fn lock_parent(
    cx: &mut ExecCtx<'_>,
    db: u32,
    parent: &TableDef,
    mut tid: u64,
    mut _row: Arc<Vec<Value>>,
    cols: &[usize],
    key: &[Value],
) -> Result<bool> {
    loop {
        match cx
            .engine
            .lock_row(cx.txn, db, parent.oid, tid, false, LockWait::Wait)?
        {
            RowOutcome::Done => return Ok(true),
            RowOutcome::Gone => return Ok(false),
            RowOutcome::Moved(..) if cx.serializable => return Err(concurrent_update()),
            RowOutcome::Moved(next, r) => {
                if !matches(&r, cols, key) {
                    return Ok(false);
                }
                tid = next;
                _row = r;
            }
        }
    }
}

/// After a row was inserted into `def`: checks its foreign keys.
pub fn after_insert(cx: &mut ExecCtx<'_>, db: u32, def: &TableDef, row: &[Value]) -> Result<()> {
    if cx.engine.with_catalog(|c| c.ddl.foreign_keys.is_empty()) {
        return Ok(());
    }
    for f in own(cx, db, def.oid) {
        check_or_defer(cx, db, def, &f, row)?;
    }
    Ok(())
}

/// Checks `row`'s parent under `f` now, or queues the check when `f` is deferred.
fn check_or_defer(
    cx: &mut ExecCtx<'_>,
    db: u32,
    def: &TableDef,
    f: &ForeignKeyDef,
    row: &[Value],
) -> Result<()> {
    if !cx.deferred.is_deferred(db, def.oid, f) {
        return check_parent(cx, db, def, f, row);
    }
    let key: Vec<Value> = f.columns.iter().map(|&c| row[c].clone()).collect();
    if !key.iter().any(|v| v.is_null()) {
        cx.deferred.events.push(Pending {
            db,
            table: def.oid,
            name: f.name.clone(),
            parent_side: false,
            key,
        });
    }
    Ok(())
}

/// After a row of `def` was updated from `old` to `new`: checks the foreign keys
/// whose columns changed, then runs the ON UPDATE actions of the constraints
/// referencing the columns that changed.
pub fn after_update(
    cx: &mut ExecCtx<'_>,
    db: u32,
    def: &TableDef,
    old: &[Value],
    new: &[Value],
) -> Result<()> {
    update_depth(cx, db, def, old, new, 0)
}

fn changed(old: &[Value], new: &[Value], cols: &[usize]) -> bool {
    cols.iter().any(|&c| {
        let (a, b) = (&old[c], &new[c]);
        match (a.is_null(), b.is_null()) {
            (true, true) => false,
            (false, false) => types::compare(a, b) != Ordering::Equal,
            _ => true,
        }
    })
}

fn update_depth(
    cx: &mut ExecCtx<'_>,
    db: u32,
    def: &TableDef,
    old: &[Value],
    new: &[Value],
    depth: usize,
) -> Result<()> {
    if cx.engine.with_catalog(|c| c.ddl.foreign_keys.is_empty()) {
        return Ok(());
    }
    for f in own(cx, db, def.oid) {
        if changed(old, new, &f.columns) {
            check_or_defer(cx, db, def, &f, new)?;
        }
    }
    on_parent_change(cx, db, def, old, Some(new), depth)
}

/// After a row of `def` was deleted: runs the ON DELETE actions of the constraints
/// referencing it.
pub fn after_delete(cx: &mut ExecCtx<'_>, db: u32, def: &TableDef, old: &[Value]) -> Result<()> {
    if cx.engine.with_catalog(|c| c.ddl.foreign_keys.is_empty()) {
        return Ok(());
    }
    on_parent_change(cx, db, def, old, None, 0)
}

// ---- enforcing: the referenced side ----------------------------------------------------

fn on_parent_change(
    cx: &mut ExecCtx<'_>,
    db: u32,
    parent: &TableDef,
    old: &[Value],
    new: Option<&[Value]>,
    depth: usize,
) -> Result<()> {
    let refs = referencing(cx, db, parent.oid);
    if refs.is_empty() {
        return Ok(());
    }
    if depth >= MAX_DEPTH {
        return Err(err!(
            sqlstate::STATEMENT_TOO_COMPLEX,
            "stack depth limit exceeded"
        )
        .with_hint("Referential actions cascade too deeply."));
    }
    for (child_oid, f) in refs {
        let vals: Vec<Value> = f.ref_columns.iter().map(|&c| old[c].clone()).collect();
        if vals.iter().any(|v| v.is_null()) {
            continue;
        }
        if let Some(new) = new {
            if !changed(old, new, &f.ref_columns) {
                continue;
            }
        }
        let Some(child) = table_by_oid(cx, db, child_oid) else {
            continue;
        };
        let Some(key) = cast_key(&child, &f.columns, &vals) else {
            continue;
        };
        let act = if new.is_some() {
            f.on_update
        } else {
            f.on_delete
        };
        if act == b'a' && cx.deferred.is_deferred(db, child_oid, &f) {
            cx.deferred.events.push(Pending {
                db,
                table: child_oid,
                name: f.name.clone(),
                parent_side: true,
                key: vals,
            });
            continue;
        }
        // READ COMMITTED: see referencing rows committed by the lockers the row
        // change waited for.
        if !cx.serializable {
            cx.engine.new_snapshot(cx.txn);
        }
        let rows: Vec<(u64, Arc<Vec<Value>>)> = cx
            .engine
            .scan(cx.txn, db, child.oid)
            .into_iter()
            .filter(|(_, r)| matches(r, &f.columns, &key))
            .collect();
        if rows.is_empty() {
            continue;
        }
        if matches!(act, b'a' | b'r') {
            return Err(still_referenced(parent, &child, &f, &vals));
        }
        for (tid, row) in rows {
            apply_action(cx, db, &child, &f, act, tid, row, &key, new, depth)?;
        }
    }
    Ok(())
}

/// Applies a referential action to one referencing row.
#[allow(clippy::too_many_arguments)]
fn apply_action(
    cx: &mut ExecCtx<'_>,
    db: u32,
    child: &TableDef,
    f: &ForeignKeyDef,
    act: u8,
    mut tid: u64,
    mut row: Arc<Vec<Value>>,
    key: &[Value],
    parent_new: Option<&[Value]>,
    depth: usize,
) -> Result<()> {
    loop {
        if act == b'c' && parent_new.is_none() {
            match cx.engine.delete(cx.txn, db, child.oid, tid)? {
                RowOutcome::Done => return on_parent_change(cx, db, child, &row, None, depth + 1),
                RowOutcome::Gone => return Ok(()),
                RowOutcome::Moved(..) if cx.serializable => return Err(concurrent_update()),
                RowOutcome::Moved(next, r) => {
                    if !matches(&r, &f.columns, key) {
                        return Ok(());
                    }
                    tid = next;
                    row = r;
                    continue;
                }
            }
        }
        let mut new = (*row).clone();
        for (i, &c) in f.columns.iter().enumerate() {
            new[c] = match act {
                b'c' => {
                    let v = parent_new.map_or(Value::Null, |p| p[f.ref_columns[i]].clone());
                    let col = &child.columns[c];
                    types::cast(v, col.data_type, col.typmod, false)?
                }
                b'n' => Value::Null,
                _ => {
                    let col = &child.columns[c];
                    let e = Binder::new(cx.engine, db, "", 0, vec![]).default_expr(col)?;
                    super::expr::eval(&e, &[], cx)?
                }
            };
        }
        super::ddl::prepare_row(cx, db, child, &mut new)?;
        match cx.engine.update(cx.txn, db, child.oid, tid, new.clone())? {
            RowOutcome::Done => return update_depth(cx, db, child, &row, &new, depth + 1),
            RowOutcome::Gone => return Ok(()),
            RowOutcome::Moved(..) if cx.serializable => return Err(concurrent_update()),
            RowOutcome::Moved(next, r) => {
                if !matches(&r, &f.columns, key) {
                    return Ok(());
                }
                tid = next;
                row = r;
            }
        }
    }
}

// ---- TRUNCATE and DROP TABLE -----------------------------------------------------------

/// TRUNCATE: refuses a table referenced from a table not truncated with it.
pub fn check_truncate(cx: &ExecCtx<'_>, tables: &[(u32, Arc<TableDef>)]) -> Result<()> {
    for (db, def) in tables {
        for (child, _) in referencing(cx, *db, def.oid) {
            if tables.iter().any(|(d, t)| d == db && t.oid == child) {
                continue;
            }
            let cname = table_by_oid(cx, *db, child)
                .map(|t| t.name.clone())
                .unwrap_or_default();
            return Err(err!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "cannot truncate a table referenced in a foreign key constraint"
            )
            .with_detail(format!("Table \"{cname}\" references \"{}\".", def.name))
            .with_hint(format!(
                "Truncate table \"{cname}\" at the same time, or use TRUNCATE ... CASCADE."
            )));
        }
    }
    Ok(())
}

/// DROP TABLE of `tables`: a constraint of another table referencing one of them
/// fails the statement (2BP01) unless CASCADE, which drops the constraint.
pub fn on_drop_tables(cx: &mut ExecCtx<'_>, tables: &[Arc<TableDef>], cascade: bool) -> Result<()> {
    let db = cx.db_oid;
    let mut deps: Vec<(u32, String, String, String)> = Vec::new();
    for t in tables {
        for (child, f) in referencing(cx, db, t.oid) {
            if tables.iter().any(|x| x.oid == child) {
                continue;
            }
            let cname = table_by_oid(cx, db, child)
                .map(|t| t.name.clone())
                .unwrap_or_default();
            deps.push((child, f.name, cname, t.name.clone()));
        }
    }
    if deps.is_empty() {
        return Ok(());
    }
    if !cascade {
        let detail: Vec<String> = deps
            .iter()
            .map(|(_, f, c, p)| format!("constraint {f} on table {c} depends on table {p}"))
            .collect();
        return Err(err!(
            sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
            "cannot drop table {} because other objects depend on it",
            deps[0].3
        )
        .with_detail(detail.join("\n"))
        .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
    }
    let lines: Vec<String> = deps
        .iter()
        .map(|(_, f, c, _)| format!("drop cascades to constraint {f} on table {c}"))
        .collect();
    if lines.len() == 1 {
        cx.notices
            .push(notice(sqlstate::SUCCESSFUL_COMPLETION, lines[0].clone()));
    } else {
        cx.notices.push(
            notice(
                sqlstate::SUCCESSFUL_COMPLETION,
                format!("drop cascades to {} other objects", lines.len()),
            )
            .with_detail(lines.join("\n")),
        );
    }
    Ok(())
}

/// A table is dropped: its own constraints go, and so do the constraints of other
/// tables referencing it (DROP TABLE … CASCADE and DROP SCHEMA … CASCADE have
/// reported them).
pub fn forget_table(cx: &mut ExecCtx<'_>, table: u32) -> Result<()> {
    let db = cx.db_oid;
    let changes: Vec<(u32, Vec<ForeignKeyDef>)> = cx.engine.with_catalog(|c| {
        c.ddl
            .foreign_keys
            .range((db, 0)..=(db, u32::MAX))
            .filter_map(|((_, t), fks)| {
                if *t == table {
                    return Some((*t, vec![]));
                }
                let kept: Vec<ForeignKeyDef> = fks
                    .iter()
                    .filter(|f| f.ref_table != table)
                    .cloned()
                    .collect();
                (kept.len() != fks.len()).then_some((*t, kept))
            })
            .collect()
    });
    for (t, fks) in changes {
        cx.engine.catalog_change(
            cx.txn,
            CatalogChange::Ddl(DdlChange::SetForeignKeys { db, table: t, fks }),
        )?;
    }
    Ok(())
}

// ---- deferred checks -------------------------------------------------------------------

/// One queued check of a deferred constraint.
#[derive(Debug, Clone)]
struct Pending {
    db: u32,
    /// The referencing table (owner of the constraint).
    table: u32,
    /// The constraint's name.
    name: String,
    /// false: a referencing row's key must have a parent; true: a parent key that was
    /// deleted or changed (NO ACTION) must no longer be referenced.
    parent_side: bool,
    /// The key values, in the types of the side the check is about.
    key: Vec<Value>,
}

/// A constraint named in `SET CONSTRAINTS`: (database, referencing table, name).
type ConstraintId = (u32, u32, String);

/// The session's deferred constraint checks and `SET CONSTRAINTS` state for the
/// current transaction; emptied when it ends.
#[derive(Debug, Default)]
pub struct Deferred {
    events: Vec<Pending>,
    /// SET CONSTRAINTS ALL: Some(true) deferred, Some(false) immediate.
    all: Option<bool>,
    /// SET CONSTRAINTS name, … since the last SET CONSTRAINTS ALL (the last wins).
    named: Vec<(ConstraintId, bool)>,
}

impl Deferred {
    /// Whether `f` of table `table` is to be checked at commit rather than now.
    fn is_deferred(&self, db: u32, table: u32, f: &ForeignKeyDef) -> bool {
        if !f.deferrable {
            return false;
        }
        self.named
            .iter()
            .rev()
            .find(|((d, t, n), _)| *d == db && *t == table && *n == f.name)
            .map(|(_, d)| *d)
            .or(self.all)
            .unwrap_or(f.initially_deferred)
    }

    /// How many checks are queued (a savepoint's mark).
    pub fn mark(&self) -> usize {
        self.events.len()
    }

    /// Drops the checks queued after `mark` (ROLLBACK TO SAVEPOINT).
    pub fn rollback_to(&mut self, mark: usize) {
        self.events.truncate(mark);
    }

    /// Whether checks are waiting for the commit.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Forgets the transaction's checks and SET CONSTRAINTS state.
    pub fn clear(&mut self) {
        *self = Deferred::default();
    }
}

/// PostgreSQL's 23503 for a parent key still referenced.
fn still_referenced(
    parent: &TableDef,
    child: &TableDef,
    f: &ForeignKeyDef,
    vals: &[Value],
) -> Error {
    err!(
        sqlstate::FOREIGN_KEY_VIOLATION,
        "update or delete on table \"{}\" violates foreign key constraint \"{}\" on table \"{}\"",
        parent.name,
        f.name,
        child.name
    )
    .with_detail(format!(
        "{} is still referenced from table \"{}\".",
        key_text(parent, &f.ref_columns, vals),
        child.name
    ))
    .with_table(child.name.clone())
    .with_constraint(f.name.clone())
}

/// Runs the queued checks (all of them, or those of `only`), in the order they were
/// queued, against the rows visible now; the first failure is the error.
pub fn run_deferred(cx: &mut ExecCtx<'_>, only: Option<&[ConstraintId]>) -> Result<()> {
    let events: Vec<Pending> = match only {
        None => std::mem::take(&mut cx.deferred.events),
        Some(ids) => {
            let hit = |e: &Pending| {
                ids.iter()
                    .any(|(d, t, n)| *d == e.db && *t == e.table && *n == e.name)
            };
            let (run, keep) = std::mem::take(&mut cx.deferred.events)
                .into_iter()
                .partition(hit);
            cx.deferred.events = keep;
            run
        }
    };
    for e in events {
        let Some(f) = own(cx, e.db, e.table)
            .into_iter()
            .find(|f| f.name == e.name)
        else {
            continue; // dropped since
        };
        let Some(child) = table_by_oid(cx, e.db, e.table) else {
            continue;
        };
        if !e.parent_side {
            // A referencing row deleted or changed since needs no parent.
            let row = rows_with_key(cx, e.db, &child, &f.columns, &e.key)
                .into_iter()
                .next();
            if let Some((_, row)) = row {
                check_parent(cx, e.db, &child, &f, &row)?;
            }
            continue;
        }
        let Some(parent) = table_by_oid(cx, e.db, f.ref_table) else {
            continue;
        };
        // The key inserted again: nothing is left dangling.
        if !rows_with_key(cx, e.db, &parent, &f.ref_columns, &e.key).is_empty() {
            continue;
        }
        let Some(key) = cast_key(&child, &f.columns, &e.key) else {
            continue;
        };
        let referenced = cx
            .engine
            .scan(cx.txn, e.db, child.oid)
            .iter()
            .any(|(_, r)| matches(r, &f.columns, &key));
        if referenced {
            return Err(still_referenced(&parent, &child, &f, &e.key));
        }
    }
    Ok(())
}

/// `SET CONSTRAINTS { ALL | name [, …] } { DEFERRED | IMMEDIATE }`. Names are looked up
/// in the schema given or along `search_path` (the first schema holding one); a name
/// of a constraint that cannot be deferred is 42809. Switching to IMMEDIATE runs the
/// checks queued for those constraints now.
pub fn set_constraints(
    cx: &mut ExecCtx<'_>,
    names: Option<&[(Option<String>, String)]>,
    deferred: bool,
) -> Result<()> {
    let db = cx.db_oid;
    let Some(names) = names else {
        cx.deferred.all = Some(deferred);
        cx.deferred.named.clear();
        return if deferred {
            Ok(())
        } else {
            run_deferred(cx, None)
        };
    };
    let mut ids: Vec<ConstraintId> = Vec::new();
    for (schema, name) in names {
        let schemas = match schema {
            Some(s) => vec![crate::catalog::schema_oid(cx.engine, s)?],
            None => crate::catalog::search_path::lookup_schemas(),
        };
        let mut found = false;
        for s in schemas {
            let (fks, others) = cx.engine.with_catalog(|c| {
                let mut fks: Vec<(u32, ForeignKeyDef)> = Vec::new();
                let mut others = false;
                for ((d, oid), t) in c.tables.range((db, 0)..=(db, u32::MAX)) {
                    if *d != db || t.schema != s {
                        continue;
                    }
                    if let Some(list) = c.ddl.foreign_keys.get(&(db, *oid)) {
                        fks.extend(
                            list.iter()
                                .filter(|f| &f.name == name)
                                .map(|f| (*oid, f.clone())),
                        );
                    }
                    others |= (t.primary_key.is_some() && &t.pkey_name == name)
                        || t.indexes.iter().any(|i| i.constraint && &i.name == name)
                        || c.ddl
                            .checks
                            .get(&(db, *oid))
                            .is_some_and(|cs| cs.iter().any(|x| &x.name == name));
                }
                (fks, others)
            });
            if fks.is_empty() && !others {
                continue;
            }
            found = true;
            if others || fks.iter().any(|(_, f)| !f.deferrable) {
                bail!(
                    sqlstate::WRONG_OBJECT_TYPE,
                    "constraint \"{name}\" is not deferrable"
                );
            }
            ids.extend(fks.into_iter().map(|(t, f)| (db, t, f.name)));
            break;
        }
        if !found {
            bail!(
                sqlstate::UNDEFINED_OBJECT,
                "constraint \"{name}\" does not exist"
            );
        }
    }
    for id in &ids {
        cx.deferred.named.push((id.clone(), deferred));
    }
    if deferred {
        Ok(())
    } else {
        run_deferred(cx, Some(&ids))
    }
}

#[cfg(test)]
#[path = "fkeys_tests.rs"]
mod tests;
