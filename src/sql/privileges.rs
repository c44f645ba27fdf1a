//! The privilege checks statements make, and the `has_*_privilege` functions.
//!
//! What it owns:
//! - the binder's checks of tables a statement reads or writes ([`AclState`], the
//!   `acl_*` methods of `Binder`), with PostgreSQL's column-level rules;
//! - the executor's checks of sequences, schemas and databases ([`check_relation`],
//!   [`check_schema`], [`check_database`], [`check_connect`]) and of ownership
//!   ([`check_owner`]);
//! - `has_table_privilege`, `has_sequence_privilege`, `has_schema_privilege`,
//!   `has_database_privilege`, `has_column_privilege` and `has_any_column_privilege`
//!   ([`PrivFn`], [`call`]).
//!
//! The ACLs themselves and their evaluation live in `storage::acl`; GRANT and REVOKE in
//! `sql::acl`; ownership statements in `sql::owner`. Schema USAGE on name lookups and
//! CREATE on the creation schema are checked by `catalog` for the role the session
//! entered (`catalog::search_path::enter_role`).
//!
//! # Table checks, as PostgreSQL's `ExecCheckRTPerms`
//!
//! The binder records, for every table it binds, what the statement needs (a use:
//! SELECT for a table read, INSERT/UPDATE with their target columns, DELETE, TRUNCATE,
//! FOR UPDATE) and every column of a stored table an expression reads. When the whole
//! statement is bound ([`Binder::acl_finish`]) each use is checked: a table privilege
//! covers every column; without it, each column read needs SELECT on that column (a
//! table read that reads no column, `count(*)`, needs SELECT on at least one), each
//! inserted or updated column INSERT or UPDATE on it, and FOR UPDATE/SHARE needs UPDATE
//! on the table or on some column. Checking after binding gives PostgreSQL's order:
//! a missing column is reported before a missing privilege.
//!
//! One `SELECT a FROM t WHERE c = 1` by a role holding only `SELECT (a, b)`:
//! 1. binding `t` records a use (SELECT), binding `a` and `c` records reads of t.a, t.c;
//! 2. `acl_finish`: no table SELECT, so every read column needs column SELECT;
//! 3. t.c has none: 42501 `permission denied for table t`.
//!
//! What this module must never do: change privileges, or let a check fall open when a
//! role or object cannot be found (an unknown role holds nothing).

use super::expr::Func;
use super::plan::Binder;
use super::ExecCtx;
use crate::error::{sqlstate, Error, Result};
use crate::storage::acl::{self, AclObject, ObjectKind};
use crate::storage::schema::{CatalogState, TableDef};
use crate::storage::Engine;
use crate::types::{DataType, Value};
use crate::{bail, err};
use std::collections::HashSet;
use std::sync::Arc;

/// `permission denied for <kind> <name>` (42501).
pub fn denied(kind: &str, name: &str) -> Error {
    err!(
        sqlstate::INSUFFICIENT_PRIVILEGE,
        "permission denied for {kind} {name}"
    )
}

/// `must be owner of <kind> <name>` (42501).
pub fn must_own(kind: &str, name: &str) -> Error {
    err!(
        sqlstate::INSUFFICIENT_PRIVILEGE,
        "must be owner of {kind} {name}"
    )
}

/// Checks that `role` holds all of `bits` on a relation (table, view or sequence):
/// `permission denied for <kind> <name>` if not.
pub fn check_relation(engine: &Engine, db: u32, role: u32, oid: u32, bits: u32) -> Result<()> {
    let object = AclObject::Relation { db, oid };
    let (ok, what) = engine.with_catalog(|c| {
        let (have, _) = acl::privileges(c, db, &object, role);
        (have & bits == bits, acl::describe_object(c, &object))
    });
    match (ok, what) {
        (true, _) => Ok(()),
        (false, Some((kind, _, name))) => Err(denied(kind.name(), &name)),
        (false, None) => Err(denied("relation", &oid.to_string())),
    }
}

/// Checks that `role` holds all of `bits` on schema `oid`.
pub fn check_schema(engine: &Engine, db: u32, role: u32, oid: u32, bits: u32) -> Result<()> {
    let object = AclObject::Schema(oid);
    let (ok, name) = engine.with_catalog(|c| {
        let (have, _) = acl::privileges(c, db, &object, role);
        (
            have & bits == bits,
            c.schemas
                .get(&oid)
                .map(|(n, _)| n.clone())
                .unwrap_or_default(),
        )
    });
    if ok {
        Ok(())
    } else {
        Err(denied("schema", &name))
    }
}

/// Checks that `role` holds all of `bits` on database `db`.
pub fn check_database(engine: &Engine, db: u32, role: u32, bits: u32) -> Result<()> {
    let object = AclObject::Database(db);
    let (ok, name) = engine.with_catalog(|c| {
        let (have, _) = acl::privileges(c, db, &object, role);
        (
            have & bits == bits,
            c.databases
                .get(&db)
                .map(|d| d.name.clone())
                .unwrap_or_default(),
        )
    });
    if ok {
        Ok(())
    } else {
        Err(denied("database", &name))
    }
}

/// CREATE TEMPORARY TABLE's check: TEMP on the database (PostgreSQL's message).
pub fn check_create_temp(engine: &Engine, db: u32, role: u32) -> Result<()> {
    let (ok, name) = engine.with_catalog(|c| {
        let (have, _) = acl::privileges(c, db, &AclObject::Database(db), role);
        (
            have & acl::ACL_CREATE_TEMP != 0,
            c.databases
                .get(&db)
                .map(|d| d.name.clone())
                .unwrap_or_default(),
        )
    });
    if ok {
        Ok(())
    } else {
        Err(err!(
            sqlstate::INSUFFICIENT_PRIVILEGE,
            "permission denied to create temporary tables in database \"{name}\""
        ))
    }
}

/// The connection-time check: `role` needs CONNECT on the database (FATAL 42501 with
/// PostgreSQL's detail otherwise). Superusers always pass.
pub fn check_connect(engine: &Engine, role: &str, database: &str) -> Result<()> {
    let denied = engine.with_catalog(|c| {
        let Some(d) = c.database_by_name(database) else {
            return false;
        };
        let Some(r) = c.role_by_name(role) else {
            return false;
        };
        let (have, _) = acl::privileges(c, d.oid, &AclObject::Database(d.oid), r.oid);
        have & acl::ACL_CONNECT == 0
    });
    if denied {
        return Err(err!(
            sqlstate::INSUFFICIENT_PRIVILEGE,
            "permission denied for database \"{database}\""
        )
        .with_severity(crate::error::Severity::Fatal)
        .with_detail("User does not have CONNECT privilege."));
    }
    Ok(())
}

/// Checks that `role` is a superuser or has the privileges of `owner`:
/// `must be owner of <kind> <name>` if not.
pub fn check_owner(
    engine: &Engine,
    db: u32,
    role: u32,
    owner: u32,
    kind: &str,
    name: &str,
) -> Result<()> {
    if engine.with_catalog(|c| acl::owns(c, db, role, owner)) {
        Ok(())
    } else {
        Err(must_own(kind, name))
    }
}

/// COPY FROM's check: INSERT on the table, or on each of `columns`.
pub fn check_insert_columns(
    engine: &Engine,
    db: u32,
    role: u32,
    def: &TableDef,
    columns: &[usize],
) -> Result<()> {
    let ok = engine.with_catalog(|c| {
        let (have, _) = acl::privileges(c, db, &AclObject::Relation { db, oid: def.oid }, role);
        have & acl::ACL_INSERT != 0
            || (!columns.is_empty()
                && columns.iter().all(|col| {
                    acl::column_privileges(c, db, def.oid, *col as u32, role) & acl::ACL_INSERT != 0
                }))
    });
    if ok {
        Ok(())
    } else {
        Err(denied("table", &def.name))
    }
}

/// The current role's OID (0, PUBLIC, when it does not exist: it then holds only what
/// PUBLIC holds).
pub fn current_role_oid(cx: &ExecCtx<'_>) -> u32 {
    cx.current_role().map(|r| r.oid).unwrap_or(0)
}

// ---- the binder's table checks ----------------------------------------------------

/// Which columns of a use need SELECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// None (a write target that reads nothing).
    No,
    /// The columns the statement reads.
    Columns,
    /// The columns the statement reads, or any one column when it reads none (a table
    /// in FROM).
    AtLeastOne,
}

/// One table a statement uses and what it needs on it.
#[derive(Debug, Clone)]
struct Use {
    def: Arc<TableDef>,
    /// Privileges needed on the table itself (DELETE, TRUNCATE).
    table_bits: u32,
    read: Read,
    /// INSERT target columns (None: not an INSERT; empty: any column).
    insert: Option<Vec<usize>>,
    /// UPDATE target columns (None: not an UPDATE).
    update: Option<Vec<usize>>,
    /// FOR UPDATE / FOR SHARE.
    lock: bool,
}

/// What the binder has recorded for the privilege checks of one statement.
#[derive(Debug, Default)]
pub struct AclState {
    /// How deep `Binder::plan` is nested (checks run when the outermost call ends).
    depth: usize,
    uses: Vec<Use>,
    /// Columns of stored tables read: (table OID, column position).
    reads: HashSet<(u32, usize)>,
}

impl AclState {
    /// Records that an expression reads a column of a stored table (`table_oid` 0 and
    /// `attnum` 0 mean a column of no stored table).
    pub(crate) fn read(&mut self, table_oid: u32, attnum: i16) {
        if table_oid != 0 && attnum > 0 {
            self.reads.insert((table_oid, attnum as usize - 1));
        }
    }
}

/// What a statement needs on a table it binds.
pub enum Need<'a> {
    /// Read anywhere in a query.
    Select,
    /// INSERT's target.
    Insert(&'a sqlparser::ast::Insert),
    /// UPDATE's target: its SET list, and whether WHERE or RETURNING read the table.
    Update(&'a [sqlparser::ast::Assignment], bool),
    /// DELETE's target: whether WHERE or RETURNING read the table.
    Delete(bool),
    /// TRUNCATE's target.
    Truncate,
}

/// The column positions an assignment list targets (unknown names are left to the
/// binder's own error).
fn assigned_columns(def: &TableDef, sets: &[sqlparser::ast::Assignment]) -> Vec<usize> {
    let mut out = Vec::new();
    for a in sets {
        if let sqlparser::ast::AssignmentTarget::ColumnName(n) = &a.target {
            if let Some(sqlparser::ast::ObjectNamePart::Identifier(id)) = n.0.last() {
                let name = super::plan::fold(id);
                if let Some(i) = def.columns.iter().position(|c| c.name == name) {
                    out.push(i);
                }
            }
        }
    }
    out
}

/// The columns an INSERT gives values to (PostgreSQL's `insertedCols`): the column
/// list, else as many leading columns as the widest VALUES row; for a query source
/// without a list, every column (never less than PostgreSQL asks).
fn inserted_columns(def: &TableDef, ins: &sqlparser::ast::Insert) -> Vec<usize> {
    use sqlparser::ast;
    if !ins.columns.is_empty() {
        return ins
            .columns
            .iter()
            .filter_map(|c| {
                let n = super::plan::fold(c);
                def.columns.iter().position(|x| x.name == n)
            })
            .collect();
    }
    match ins.source.as_deref().map(|s| s.body.as_ref()) {
        None => vec![],
        Some(ast::SetExpr::Values(v)) => {
            let n = v.rows.iter().map(|r| r.len()).max().unwrap_or(0);
            (0..n.min(def.columns.len())).collect()
        }
        Some(_) => (0..def.columns.len()).collect(),
    }
}

/// The conflict target's columns of `ON CONFLICT (cols) DO UPDATE`.
fn conflict_columns(
    def: &TableDef,
    ins: &sqlparser::ast::Insert,
) -> (Option<Vec<usize>>, Vec<usize>) {
    use sqlparser::ast;
    let Some(ast::OnInsert::OnConflict(oc)) = &ins.on else {
        return (None, vec![]);
    };
    let ast::OnConflictAction::DoUpdate(du) = &oc.action else {
        return (None, vec![]);
    };
    let mut target = Vec::new();
    if let Some(ast::ConflictTarget::Columns(cols)) = &oc.conflict_target {
        for c in cols {
            let n = super::plan::fold(c);
            if let Some(i) = def.columns.iter().position(|x| x.name == n) {
                target.push(i);
            }
        }
    }
    (Some(assigned_columns(def, &du.assignments)), target)
}

impl Binder<'_> {
    /// Records what the statement needs on a table it binds (checked by
    /// [`acl_finish`](Self::acl_finish); nothing for internal binders).
    pub(crate) fn acl_check(&mut self, def: &Arc<TableDef>, need: Need<'_>) -> Result<()> {
        if self.acl_role.is_none() {
            return Ok(());
        }
        let mut u = Use {
            def: def.clone(),
            table_bits: 0,
            read: Read::No,
            insert: None,
            update: None,
            lock: false,
        };
        match need {
            Need::Select => u.read = Read::AtLeastOne,
            Need::Insert(ins) => {
                u.insert = Some(inserted_columns(def, ins));
                u.read = Read::Columns;
                let (update, target) = conflict_columns(def, ins);
                u.update = update;
                for c in target {
                    self.acl.reads.insert((def.oid, c));
                }
            }
            Need::Update(sets, _) => {
                u.update = Some(assigned_columns(def, sets));
                u.read = Read::Columns;
            }
            Need::Delete(_) => {
                u.table_bits = acl::ACL_DELETE;
                u.read = Read::Columns;
            }
            Need::Truncate => u.table_bits = acl::ACL_TRUNCATE,
        }
        self.acl.uses.push(u);
        Ok(())
    }

    /// Records that a query locks rows of the table (FOR UPDATE / FOR SHARE).
    pub(crate) fn acl_lock(&mut self, def: &Arc<TableDef>) {
        if self.acl_role.is_some() {
            self.acl.uses.push(Use {
                def: def.clone(),
                table_bits: 0,
                read: Read::No,
                insert: None,
                update: None,
                lock: true,
            });
        }
    }

    /// Records that an expression reads a column of a stored table (`table_oid` 0 and
    /// `attnum` 0 mean a column of no stored table).
    pub(crate) fn acl_read(&mut self, table_oid: u32, attnum: i16) {
        self.acl.read(table_oid, attnum);
    }

    /// Enters a statement's binding (see [`acl_leave`](Self::acl_leave)).
    pub(crate) fn acl_enter(&mut self) {
        self.acl.depth += 1;
    }

    /// Leaves a statement's binding; when the outermost one ends, runs the checks.
    pub(crate) fn acl_leave(&mut self, bound: bool) -> Result<()> {
        self.acl.depth = self.acl.depth.saturating_sub(1);
        if self.acl.depth == 0 && bound {
            return self.acl_finish();
        }
        Ok(())
    }

    /// Checks every recorded use (see the module comment); 42501 at the first that
    /// fails.
    pub fn acl_finish(&mut self) -> Result<()> {
        let Some(role) = self.acl_role else {
            return Ok(());
        };
        let uses = std::mem::take(&mut self.acl.uses);
        let reads = std::mem::take(&mut self.acl.reads);
        let (engine, db) = self.target();
        engine.with_catalog(|c| {
            for u in &uses {
                if !use_allowed(c, db, role, u, &reads) {
                    return Err(denied("table", &u.def.name));
                }
            }
            Ok(())
        })
    }

    /// Checks that the binder's role may read a view of this name, if it is one.
    pub(crate) fn acl_check_view(&self, schema: Option<&str>, name: &str) -> Result<()> {
        let Some(role) = self.acl_role else {
            return Ok(());
        };
        let (engine, db) = self.target();
        let view = super::ddl::find_view(engine, db, schema, name)?;
        if let Some(v) = view {
            // A table of the same name earlier in the path wins (view_source decides).
            if crate::catalog::resolve_table(engine, db, schema, name)?.is_some() {
                return Ok(());
            }
            let (have, _) = engine.with_catalog(|c| {
                acl::privileges(c, db, &AclObject::Relation { db, oid: v.oid }, role)
            });
            if have & acl::ACL_SELECT == 0 {
                return Err(denied("view", name));
            }
        }
        Ok(())
    }
}

/// Whether one use passes for `role` (superusers hold everything).
fn use_allowed(
    c: &CatalogState,
    db: u32,
    role: u32,
    u: &Use,
    reads: &HashSet<(u32, usize)>,
) -> bool {
    let table = u.def.oid;
    let (have, _) = acl::privileges(c, db, &AclObject::Relation { db, oid: table }, role);
    if have & u.table_bits != u.table_bits {
        return false;
    }
    let col_ok = |bit: u32, cols: &[usize]| {
        have & bit != 0
            || cols
                .iter()
                .all(|col| acl::column_privileges(c, db, table, *col as u32, role) & bit != 0)
    };
    let any_col = |bit: u32| acl::any_column_privilege(c, db, table, role, bit);
    let read_cols: Vec<usize> = reads
        .iter()
        .filter(|(t, _)| *t == table)
        .map(|(_, c)| *c)
        .collect();
    let ok_read = match u.read {
        Read::No => true,
        Read::AtLeastOne if read_cols.is_empty() => any_col(acl::ACL_SELECT),
        _ => col_ok(acl::ACL_SELECT, &read_cols),
    };
    if !ok_read {
        return false;
    }
    let write_ok = |bit: u32, cols: &Option<Vec<usize>>| match cols {
        None => true,
        Some(v) if v.is_empty() => any_col(bit),
        Some(v) => col_ok(bit, v),
    };
    if !write_ok(acl::ACL_INSERT, &u.insert) || !write_ok(acl::ACL_UPDATE, &u.update) {
        return false;
    }
    !u.lock || any_col(acl::ACL_UPDATE)
}

// ---- has_*_privilege ---------------------------------------------------------------

/// One of the `has_*_privilege` functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivFn {
    /// `has_table_privilege([role,] table, privilege)`.
    Table(bool),
    /// `has_sequence_privilege([role,] sequence, privilege)`.
    Sequence(bool),
    /// `has_schema_privilege([role,] schema, privilege)`.
    Schema(bool),
    /// `has_database_privilege([role,] database, privilege)`.
    Database(bool),
    /// `has_column_privilege([role,] table, column, privilege)`; the second flag: the
    /// column is given by number (`smallint`).
    Column(bool, bool),
    /// `has_any_column_privilege([role,] table, privilege)`.
    AnyColumn(bool),
}

impl PrivFn {
    /// Whether the call names its role (the first argument).
    fn with_role(self) -> bool {
        match self {
            PrivFn::Table(r)
            | PrivFn::Sequence(r)
            | PrivFn::Schema(r)
            | PrivFn::Database(r)
            | PrivFn::Column(r, _)
            | PrivFn::AnyColumn(r) => r,
        }
    }

    fn name(self) -> &'static str {
        match self {
            PrivFn::Table(_) => "has_table_privilege",
            PrivFn::Sequence(_) => "has_sequence_privilege",
            PrivFn::Schema(_) => "has_schema_privilege",
            PrivFn::Database(_) => "has_database_privilege",
            PrivFn::Column(..) => "has_column_privilege",
            PrivFn::AnyColumn(_) => "has_any_column_privilege",
        }
    }

    /// The privilege names the function accepts.
    fn privilege(self, word: &str) -> Option<u32> {
        let bit = match word {
            "select" => acl::ACL_SELECT,
            "insert" => acl::ACL_INSERT,
            "update" => acl::ACL_UPDATE,
            "delete" => acl::ACL_DELETE,
            "truncate" => acl::ACL_TRUNCATE,
            "references" => acl::ACL_REFERENCES,
            "trigger" => acl::ACL_TRIGGER,
            "usage" => acl::ACL_USAGE,
            "create" => acl::ACL_CREATE,
            "connect" => acl::ACL_CONNECT,
            "temporary" | "temp" => acl::ACL_CREATE_TEMP,
            // PostgreSQL still accepts RULE for tables; nothing holds it.
            "rule" if matches!(self, PrivFn::Table(_)) => return Some(0),
            _ => return None,
        };
        let allowed = match self {
            PrivFn::Table(_) => acl::ACL_ALL_TABLE,
            PrivFn::Sequence(_) => acl::ACL_ALL_SEQUENCE,
            PrivFn::Schema(_) => acl::ACL_ALL_SCHEMA,
            PrivFn::Database(_) => acl::ACL_ALL_DATABASE,
            PrivFn::Column(..) | PrivFn::AnyColumn(_) => acl::ACL_ALL_COLUMN,
        };
        (bit & allowed != 0).then_some(bit)
    }
}

/// Resolves a `has_*_privilege` function by name and argument types.
pub fn lookup(name: &str, arg_types: &[DataType]) -> Option<(Func, DataType)> {
    let n = arg_types.len();
    let f = match (name, n) {
        ("has_table_privilege", 2 | 3) => PrivFn::Table(n == 3),
        ("has_sequence_privilege", 2 | 3) => PrivFn::Sequence(n == 3),
        ("has_schema_privilege", 2 | 3) => PrivFn::Schema(n == 3),
        ("has_database_privilege", 2 | 3) => PrivFn::Database(n == 3),
        ("has_column_privilege", 3 | 4) => PrivFn::Column(
            n == 4,
            matches!(arg_types.get(n - 2), Some(DataType::Int2 | DataType::Int4)),
        ),
        ("has_any_column_privilege", 2 | 3) => PrivFn::AnyColumn(n == 3),
        _ => return None,
    };
    Some((Func::HasPrivilege(f), DataType::Bool))
}

/// The argument types: text, except a column given by number (smallint).
pub fn arg_type(f: PrivFn, i: usize) -> Option<DataType> {
    let column_arg = if f.with_role() { 2 } else { 1 };
    if matches!(f, PrivFn::Column(_, true)) && i == column_arg {
        return Some(DataType::Int2);
    }
    // The role and the object: a name (text) or an OID keeps its type.
    if f.with_role() && i == 0 {
        return None;
    }
    if i == column_arg - 1 && !matches!(f, PrivFn::Column(..) | PrivFn::AnyColumn(_)) {
        return None;
    }
    Some(DataType::Text)
}

/// Parses a privilege list (`'SELECT, UPDATE WITH GRANT OPTION'`): (bit, with grant
/// option) per entry; PostgreSQL's 22023 for an unknown one.
fn privilege_list(f: PrivFn, text: &str) -> Result<Vec<(u32, bool)>> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let chunk = part.trim();
        let lower = chunk.to_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        let (word, opt) = match words.as_slice() {
            [w] => (*w, false),
            [w, "with", "grant", "option"] => (*w, true),
            _ => ("", false),
        };
        match f.privilege(word) {
            Some(bit) => out.push((bit, opt)),
            None => bail!(
                sqlstate::INVALID_PARAMETER_VALUE,
                "unrecognized privilege type: \"{chunk}\""
            ),
        }
    }
    Ok(out)
}

/// The privileges `role` holds on the system relation `text` names, if it names one
/// (`pg_catalog` comes first on every search path): SELECT for all
/// (but the superuser-only ones, see `catalog::check_virtual_access`), everything for
/// superusers.
fn system_relation_privileges(engine: &Engine, role: u32, text: &str) -> Option<(u32, u32)> {
    let (schema, name) = super::ddl::parse_qualified(text).ok()?;
    let vt = crate::catalog::virtual_table(schema.as_deref(), &name)?;
    if engine.with_catalog(|c| acl::is_superuser(c, role)) {
        return Some((acl::ACL_ALL_TABLE, acl::ACL_ALL_TABLE));
    }
    if crate::catalog::check_virtual_access(engine, role, vt).is_err() {
        return Some((0, 0));
    }
    Some((acl::ACL_SELECT, 0))
}

/// A relation named by text (a `regclass` argument): its object, kind and name.
fn relation_by_text(
    engine: &Engine,
    db: u32,
    text: &str,
) -> Result<(AclObject, ObjectKind, String)> {
    let (schema, name) = super::ddl::parse_qualified(text)?;
    let schemas = match &schema {
        Some(s) => vec![crate::catalog::lookup_schema(engine, s)?],
        None => crate::catalog::search_path::lookup_schemas(),
    };
    let found = engine.with_catalog(|c| {
        schemas.iter().find_map(|s| {
            if let Some(t) = c.table_by_name(db, *s, &name) {
                return Some(t.oid);
            }
            if let Some(q) = c.ddl.sequence_by_name(db, *s, &name) {
                return Some(q.oid);
            }
            c.ddl.view_by_name(db, *s, &name).map(|v| v.oid)
        })
    });
    let Some(oid) = found else {
        bail!(
            sqlstate::UNDEFINED_TABLE,
            "relation \"{}\" does not exist",
            match &schema {
                Some(s) => format!("{s}.{name}"),
                None => name,
            }
        );
    };
    let object = AclObject::Relation { db, oid };
    let (kind, _, name) = engine
        .with_catalog(|c| acl::describe_object(c, &object))
        .ok_or_else(|| Error::internal("relation vanished"))?;
    Ok((object, kind, name))
}

/// Calls a `has_*_privilege` function: NULL for a NULL argument.
pub fn call(f: PrivFn, args: Vec<Value>, cx: &mut ExecCtx<'_>) -> Result<Value> {
    if args.iter().any(|a| a.is_null()) {
        return Ok(Value::Null);
    }
    let text = |v: &Value| match v {
        Value::Text(s) => s.clone(),
        v => crate::types::format_text(v, &crate::types::FormatOptions::default()),
    };
    let mut args = args;
    let role_arg = if f.with_role() {
        Some(args.remove(0))
    } else {
        None
    };
    // A role given by OID is used as it is (one that does not exist holds what PUBLIC
    // holds, as in PostgreSQL).
    let role_oid = match &role_arg {
        Some(Value::Oid(o)) => Some(*o),
        Some(Value::Int4(o)) => Some(*o as u32),
        Some(Value::Int8(o)) => Some(*o as u32),
        _ => None,
    };
    let role_name = match &role_arg {
        Some(v) => text(v),
        None => cx.ctx.user.clone(),
    };
    let role = if let Some(o) = role_oid {
        o
    } else if role_name == "public" {
        0
    } else {
        cx.engine.role(&role_name).map(|r| r.oid).ok_or_else(|| {
            err!(
                sqlstate::UNDEFINED_OBJECT,
                "role \"{role_name}\" does not exist"
            )
        })?
    };
    let privilege = args.last().map(&text).ok_or_else(|| {
        err!(
            sqlstate::UNDEFINED_FUNCTION,
            "function {} does not exist",
            f.name()
        )
    })?;
    let db = cx.db_oid;
    let engine = cx.engine;
    let wanted = |have: (u32, u32), list: &[(u32, bool)]| {
        list.iter()
            .any(|(bit, opt)| (if *opt { have.1 } else { have.0 }) & bit != 0)
    };
    // The OID forms: an object that does not exist gives NULL, as PostgreSQL.
    let by_oid = match &args[0] {
        Value::Oid(o) => Some(*o),
        Value::Int4(o) => Some(*o as u32),
        Value::Int8(o) => Some(*o as u32),
        _ => None,
    };
    if let Some(oid) = by_oid {
        let object = match f {
            PrivFn::Schema(_) => AclObject::Schema(oid),
            PrivFn::Database(_) => AclObject::Database(oid),
            _ => AclObject::Relation { db, oid },
        };
        let Some((kind, _, name)) = engine.with_catalog(|c| acl::describe_object(c, &object))
        else {
            return Ok(Value::Null);
        };
        if matches!(f, PrivFn::Sequence(_)) && kind != ObjectKind::Sequence {
            bail!(sqlstate::WRONG_OBJECT_TYPE, "\"{name}\" is not a sequence");
        }
        let list = privilege_list(f, &privilege)?;
        let have = engine.with_catalog(|c| acl::privileges(c, db, &object, role));
        return Ok(Value::Bool(wanted(have, &list)));
    }
    let object_text = text(&args[0]);
    // A system relation (`pg_class`, `information_schema.tables`…) is not in tusk's
    // catalog of objects: everyone may read it but `pg_authid`, superusers do anything.
    if matches!(
        f,
        PrivFn::Table(_) | PrivFn::AnyColumn(_) | PrivFn::Column(..)
    ) {
        if let Some(have) = system_relation_privileges(engine, role, &object_text) {
            let list = privilege_list(f, &privilege)?;
            return Ok(Value::Bool(wanted(have, &list)));
        }
    }
    match f {
        PrivFn::Table(_) | PrivFn::Sequence(_) => {
            let (object, kind, name) = relation_by_text(engine, db, &object_text)?;
            if matches!(f, PrivFn::Sequence(_)) && kind != ObjectKind::Sequence {
                bail!(sqlstate::WRONG_OBJECT_TYPE, "\"{name}\" is not a sequence");
            }
            let list = privilege_list(f, &privilege)?;
            let have = engine.with_catalog(|c| acl::privileges(c, db, &object, role));
            Ok(Value::Bool(wanted(have, &list)))
        }
        PrivFn::Schema(_) => {
            let oid = super::ddl::schema_oid(engine, &object_text)?;
            let list = privilege_list(f, &privilege)?;
            let have =
                engine.with_catalog(|c| acl::privileges(c, db, &AclObject::Schema(oid), role));
            Ok(Value::Bool(wanted(have, &list)))
        }
        PrivFn::Database(_) => {
            let d = engine.database(&object_text).ok_or_else(|| {
                err!(
                    sqlstate::INVALID_CATALOG_NAME,
                    "database \"{object_text}\" does not exist"
                )
            })?;
            let list = privilege_list(f, &privilege)?;
            let have =
                engine.with_catalog(|c| acl::privileges(c, db, &AclObject::Database(d.oid), role));
            Ok(Value::Bool(wanted(have, &list)))
        }
        PrivFn::AnyColumn(_) | PrivFn::Column(..) => {
            let (object, kind, name) = relation_by_text(engine, db, &object_text)?;
            let AclObject::Relation { oid: table, .. } = object else {
                return Err(Error::internal("relation expected"));
            };
            // Which column (None: any column of the table).
            let column = if let PrivFn::Column(..) = f {
                let cols: Vec<String> = match kind {
                    ObjectKind::Table => engine.with_catalog(|c| {
                        c.tables
                            .get(&(db, table))
                            .map(|t| t.columns.iter().map(|x| x.name.clone()).collect())
                            .unwrap_or_default()
                    }),
                    _ => vec![],
                };
                match &args[1] {
                    Value::Int2(n) => match cols.get((*n as usize).wrapping_sub(1)) {
                        Some(_) if *n > 0 => Some(Some(*n as u32 - 1)),
                        // A dropped or missing column number: NULL, as PostgreSQL.
                        _ => return Ok(Value::Null),
                    },
                    Value::Int4(n) => match cols.get((*n as usize).wrapping_sub(1)) {
                        Some(_) if *n > 0 => Some(Some(*n as u32 - 1)),
                        _ => return Ok(Value::Null),
                    },
                    v => {
                        let col = text(v);
                        match cols.iter().position(|c| *c == col) {
                            Some(i) => Some(Some(i as u32)),
                            // System columns: the table's own privileges decide.
                            None if matches!(
                                col.as_str(),
                                "ctid" | "xmin" | "xmax" | "cmin" | "cmax" | "tableoid"
                            ) =>
                            {
                                Some(None)
                            }
                            None => bail!(
                                sqlstate::UNDEFINED_COLUMN,
                                "column \"{col}\" of relation \"{name}\" does not exist"
                            ),
                        }
                    }
                }
            } else {
                None
            };
            let list = privilege_list(f, &privilege)?;
            let result = engine.with_catalog(|c| {
                let t = acl::privileges(c, db, &object, role);
                let ncols = c.tables.get(&(db, table)).map_or(0, |t| t.columns.len()) as u32;
                let cols: Vec<u32> = match column {
                    Some(Some(i)) => vec![i],
                    Some(None) => vec![],
                    None => (0..ncols).collect(),
                };
                list.iter().any(|(bit, opt)| {
                    let pick = |p: (u32, u32)| if *opt { p.1 } else { p.0 };
                    pick(t) & bit != 0
                        || cols.iter().any(|col| {
                            let p = acl::privileges(
                                c,
                                db,
                                &AclObject::Column {
                                    db,
                                    table,
                                    column: *col,
                                },
                                role,
                            );
                            pick(p) & bit != 0
                        })
                })
            });
            Ok(Value::Bool(result))
        }
    }
}

#[cfg(test)]
#[path = "privileges_tests.rs"]
mod tests;
