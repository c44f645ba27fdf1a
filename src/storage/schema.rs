//! The durable catalog state the engine keeps: databases, roles, role memberships,
//! schemas and table definitions, with their binary encoding (used by catalog WAL
//! records and by the catalog image `global/tusk_catalog` a checkpoint writes).
//!
//! Invariant: this state changes only through [`CatalogChange`]s, applied by
//! [`CatalogState::apply`] at run time (immediately, undone on abort) and at redo (when
//! the transaction's commit record is replayed), so both paths give the same state.

use crate::err;
use crate::error::{sqlstate, Result};
use crate::types::{DataType, Reader};
use std::collections::BTreeMap;
use std::sync::Arc;

/// OID of the `pg_catalog` schema.
pub const PG_CATALOG_NAMESPACE: u32 = 11;
/// OID of the `public` schema.
pub const PUBLIC_NAMESPACE: u32 = 2200;
/// OID of the bootstrap superuser.
pub const BOOTSTRAP_SUPERUSER: u32 = 10;
/// The first OID handed to user objects, as in PostgreSQL.
pub const FIRST_NORMAL_OID: u32 = 16384;

/// A role, as `pg_authid` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleInfo {
    /// The role's OID.
    pub oid: u32,
    /// The role's name.
    pub name: String,
    /// `rolsuper`.
    pub superuser: bool,
    /// `rolinherit`.
    pub inherit: bool,
    /// `rolcreaterole`.
    pub createrole: bool,
    /// `rolcreatedb`.
    pub createdb: bool,
    /// `rolcanlogin`.
    pub login: bool,
    /// `rolreplication`.
    pub replication: bool,
    /// `rolbypassrls`.
    pub bypassrls: bool,
    /// `rolconnlimit` (-1 = no limit).
    pub conn_limit: i32,
    /// `rolpassword`: the stored secret (`md5…` or `SCRAM-SHA-256$…`), if any.
    pub password: Option<String>,
    /// `rolvaliduntil` as PostgreSQL timestamp microseconds, if set.
    pub valid_until: Option<i64>,
}

/// A database, as `pg_database` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseInfo {
    /// The database's OID.
    pub oid: u32,
    /// The database's name.
    pub name: String,
    /// The owner's role OID.
    pub owner: u32,
    /// `datallowconn`.
    pub allow_connections: bool,
    /// `datistemplate`.
    pub is_template: bool,
    /// `datconnlimit` (-1 = no limit).
    pub conn_limit: i32,
}

/// A column of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    /// The column name (already case-folded).
    pub name: String,
    /// The column type.
    pub data_type: DataType,
    /// The type modifier (-1 = none).
    pub typmod: i32,
    /// Whether the column is NOT NULL.
    pub not_null: bool,
    /// The DEFAULT expression as SQL text, evaluated by the SQL layer at insert time.
    pub default: Option<String>,
    /// Whether ALTER TABLE DROP COLUMN removed the column (PostgreSQL's
    /// `attisdropped`): it keeps its position so that every stored column position
    /// (rows, indexes, foreign keys, sequences' OWNED BY, comments) stays valid, but it
    /// is renamed to `........pg.dropped.N........`, has no default and no NOT NULL, and
    /// no statement may see it.
    pub dropped: bool,
    /// The expression (SQL text over the table's columns) the SQL layer computes this
    /// column's value from whenever it writes a row. On a `dropped` column it makes a
    /// hidden key column: the value of an index expression (`CREATE INDEX ON t
    /// (lower(email))`) or of a partial index's predicate, stored in the row so that
    /// the heap indexes it by position like any column, at run time and at redo alike.
    pub generated: Option<String>,
}

/// A table definition.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    /// The table's OID (also its filenode: the image file name under base/<db oid>/).
    pub oid: u32,
    /// The owning schema's OID.
    pub schema: u32,
    /// The table's name (case-folded).
    pub name: String,
    /// The owner's role OID.
    pub owner: u32,
    /// The columns in order.
    pub columns: Vec<ColumnDef>,
    /// The primary key's column positions, if any.
    pub primary_key: Option<Vec<usize>>,
    /// The primary key constraint's name (`t_pkey`).
    pub pkey_name: String,
    /// The secondary B-tree indexes (CREATE INDEX, UNIQUE constraints), in creation
    /// order. Their contents live in the heap and are rebuilt from the rows at load.
    pub indexes: Vec<IndexDef>,
}

impl TableDef {
    /// The position of the column `name` (never a dropped column's).
    pub fn column_position(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name == name && !c.dropped)
    }

    /// The positions of the columns statements see (dropped ones left out), in order.
    pub fn live_columns(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.columns.len()).filter(|&i| !self.columns[i].dropped)
    }

    /// What a key column is called in messages: its name, or for a hidden key column
    /// the expression it holds (`Key (lower(email))=(…)`).
    pub fn key_label(&self, pos: usize) -> Option<&str> {
        let c = self.columns.get(pos)?;
        Some(match (&c.generated, c.dropped) {
            (Some(g), true) => g.as_str(),
            _ => c.name.as_str(),
        })
    }

    /// Removes the index at `i` from the definition; its hidden key columns (each index
    /// has its own) become plain dropped columns.
    pub fn remove_index(&mut self, i: usize) -> IndexDef {
        let ix = self.indexes.remove(i);
        for pos in ix.columns.iter().copied().chain(ix.predicate) {
            if self.is_hidden_key(pos) {
                let c = &mut self.columns[pos];
                c.generated = None;
                c.name = format!("........pg.dropped.{}........", pos + 1);
            }
        }
        ix
    }

    /// Whether the column at `pos` is a hidden key column (an index expression's or a
    /// partial index predicate's value, see [`ColumnDef::generated`]).
    pub fn is_hidden_key(&self, pos: usize) -> bool {
        self.columns
            .get(pos)
            .is_some_and(|c| c.dropped && c.generated.is_some())
    }
}

/// A secondary B-tree index of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDef {
    /// The index's OID (it is a relation of its own in PostgreSQL).
    pub oid: u32,
    /// The index's name (case-folded; unique among the schema's relations).
    pub name: String,
    /// The indexed column positions, in key order.
    pub columns: Vec<usize>,
    /// Whether two live rows may not share a key (NULLs never conflict).
    pub unique: bool,
    /// Whether the index belongs to a UNIQUE constraint (DROP INDEX refuses it).
    pub constraint: bool,
    /// A partial index's predicate: the position of the hidden boolean column holding
    /// it (see [`ColumnDef::generated`]); rows where it is not true are not indexed.
    pub predicate: Option<usize>,
    /// Per key column, PostgreSQL's `indoption` bits: 1 = DESC, 2 = NULLS FIRST (empty
    /// = all ASC NULLS LAST). They are what the index was declared with (shown by
    /// `pg_get_indexdef`); the B-tree itself keeps one order and is read either way.
    pub options: Vec<i16>,
}

/// One change to the catalog, as logged in the WAL.
#[derive(Debug, Clone, PartialEq)]
pub enum CatalogChange {
    /// Creates a table in a database.
    CreateTable {
        /// The database OID.
        db: u32,
        /// The new table.
        def: TableDef,
    },
    /// Replaces a table's definition (ALTER TABLE).
    AlterTable {
        /// The database OID.
        db: u32,
        /// The new definition (same OID).
        def: TableDef,
    },
    /// Drops a table.
    DropTable {
        /// The database OID.
        db: u32,
        /// The table OID.
        oid: u32,
    },
    /// Creates or replaces a role (ALTER ROLE logs the role's full new state).
    SetRole(RoleInfo),
    /// Drops a role.
    DropRole {
        /// The role OID.
        oid: u32,
    },
    /// Adds `member` to `role`.
    Grant {
        /// The group role.
        role: u32,
        /// The member role.
        member: u32,
    },
    /// Creates or replaces a database.
    SetDatabase(DatabaseInfo),
    /// Drops a database and every table in it.
    DropDatabase {
        /// The database OID.
        oid: u32,
    },
    /// A change of a sequence, CHECK constraint, view, schema or comment (see
    /// `storage::ddl`).
    Ddl(super::ddl::DdlChange),
    /// A change of an enum type (see `storage::enums`).
    Enum(super::enums::EnumChange),
    /// A change of table privileges or a membership revocation (see `storage::acl`).
    Acl(super::acl::AclChange),
}

/// The whole catalog.
#[derive(Debug, Clone, Default)]
pub struct CatalogState {
    /// Databases by OID.
    pub databases: BTreeMap<u32, DatabaseInfo>,
    /// Roles by OID.
    pub roles: BTreeMap<u32, RoleInfo>,
    /// Role memberships as (group, member) pairs.
    pub memberships: Vec<(u32, u32)>,
    /// Schemas by OID: (name, owner).
    pub schemas: BTreeMap<u32, (String, u32)>,
    /// Tables by (database OID, table OID).
    pub tables: BTreeMap<(u32, u32), Arc<TableDef>>,
    /// The next OID to hand out.
    pub next_oid: u32,
    /// Sequences, CHECK constraints, views and comments (see `storage::ddl`).
    pub ddl: super::ddl::DdlCatalog,
    /// Enum types (see `storage::enums`).
    pub enums: Arc<super::enums::EnumMap>,
    /// Table privileges (see `storage::acl`).
    pub acl: super::acl::AclCatalog,
    /// Temporary namespaces (see `storage::temp`): in memory only, never encoded.
    pub temp: super::temp::TempCatalog,
}

impl CatalogState {
    /// Applies a change; returns the change that undoes it (for rollback).
    pub fn apply(&mut self, c: &CatalogChange) -> Option<CatalogUndo> {
        match c {
            CatalogChange::CreateTable { db, def } => {
                self.bump_oid(def.oid);
                for ix in &def.indexes {
                    self.bump_oid(ix.oid);
                }
                self.tables.insert((*db, def.oid), Arc::new(def.clone()));
                Some(CatalogUndo::RemoveTable(*db, def.oid))
            }
            CatalogChange::AlterTable { db, def } => {
                for ix in &def.indexes {
                    self.bump_oid(ix.oid);
                }
                self.tables
                    .insert((*db, def.oid), Arc::new(def.clone()))
                    .map(|old| CatalogUndo::RestoreTable(*db, old))
            }
            CatalogChange::DropTable { db, oid } => self
                .tables
                .remove(&(*db, *oid))
                .map(|d| CatalogUndo::RestoreTable(*db, d)),
            CatalogChange::SetRole(r) => {
                self.bump_oid(r.oid);
                let old = self.roles.insert(r.oid, r.clone());
                Some(match old {
                    Some(o) => CatalogUndo::RestoreRole(o, vec![]),
                    None => CatalogUndo::RemoveRole(r.oid),
                })
            }
            CatalogChange::DropRole { oid } => {
                let old = self.roles.remove(oid)?;
                let (gone, keep): (Vec<_>, Vec<_>) = self
                    .memberships
                    .iter()
                    .partition(|(g, m)| g == oid || m == oid);
                self.memberships = keep;
                Some(CatalogUndo::RestoreRole(old, gone))
            }
            CatalogChange::Grant { role, member } => {
                if self.memberships.contains(&(*role, *member)) {
                    return None;
                }
                self.memberships.push((*role, *member));
                Some(CatalogUndo::RemoveGrant(*role, *member))
            }
            CatalogChange::SetDatabase(d) => {
                self.bump_oid(d.oid);
                let old = self.databases.insert(d.oid, d.clone());
                Some(CatalogUndo::RestoreDatabase(d.oid, old))
            }
            CatalogChange::DropDatabase { oid } => {
                let old = self.databases.remove(oid)?;
                let tables: Vec<((u32, u32), Arc<TableDef>)> = self
                    .tables
                    .range((*oid, 0)..=(*oid, u32::MAX))
                    .map(|(k, v)| (*k, v.clone()))
                    .collect();
                for (k, _) in &tables {
                    self.tables.remove(k);
                }
                Some(CatalogUndo::RestoreDropped(old, tables))
            }
            CatalogChange::Ddl(d) => super::ddl::apply(self, d).map(CatalogUndo::Ddl),
            CatalogChange::Enum(e) => super::enums::apply(self, e).map(CatalogUndo::Enum),
            CatalogChange::Acl(a) => super::acl::apply(self, a).map(CatalogUndo::Acl),
        }
    }

    /// Reverts one change with what [`apply`](Self::apply) returned.
    pub fn undo(&mut self, u: CatalogUndo) {
        match u {
            CatalogUndo::RemoveTable(db, oid) => {
                self.tables.remove(&(db, oid));
            }
            CatalogUndo::RestoreTable(db, d) => {
                self.tables.insert((db, d.oid), d);
            }
            CatalogUndo::RemoveRole(oid) => {
                self.roles.remove(&oid);
            }
            CatalogUndo::RestoreRole(r, grants) => {
                self.roles.insert(r.oid, r);
                self.memberships.extend(grants);
            }
            CatalogUndo::RemoveGrant(g, m) => self.memberships.retain(|x| *x != (g, m)),
            CatalogUndo::RestoreDropped(d, tables) => {
                self.databases.insert(d.oid, d);
                self.tables.extend(tables);
            }
            CatalogUndo::RestoreDatabase(oid, old) => match old {
                Some(d) => {
                    self.databases.insert(oid, d);
                }
                None => {
                    self.databases.remove(&oid);
                }
            },
            CatalogUndo::Ddl(u) => super::ddl::undo(self, u),
            CatalogUndo::Enum(u) => super::enums::undo(self, u),
            CatalogUndo::Acl(u) => super::acl::undo(self, u),
        }
    }

    pub(crate) fn bump_oid(&mut self, oid: u32) {
        if oid >= self.next_oid {
            self.next_oid = oid + 1;
        }
    }

    /// Hands out a new OID.
    pub fn new_oid(&mut self) -> u32 {
        if self.next_oid < FIRST_NORMAL_OID {
            self.next_oid = FIRST_NORMAL_OID;
        }
        let o = self.next_oid;
        self.next_oid += 1;
        o
    }

    /// The role with this name.
    pub fn role_by_name(&self, name: &str) -> Option<&RoleInfo> {
        self.roles.values().find(|r| r.name == name)
    }

    /// The database with this name.
    pub fn database_by_name(&self, name: &str) -> Option<&DatabaseInfo> {
        self.databases.values().find(|d| d.name == name)
    }

    /// The table `name` in `schema` of database `db`.
    pub fn table_by_name(&self, db: u32, schema: u32, name: &str) -> Option<Arc<TableDef>> {
        self.tables
            .range((db, 0)..=(db, u32::MAX))
            .map(|(_, t)| t)
            .find(|t| t.schema == schema && t.name == name)
            .cloned()
    }

    /// Whether a relation (table, primary-key index or secondary index) named `name`
    /// exists in `schema` of database `db`: relation names share one namespace.
    pub fn relation_exists(&self, db: u32, schema: u32, name: &str) -> bool {
        self.tables
            .range((db, 0)..=(db, u32::MAX))
            .map(|(_, t)| t)
            .filter(|t| t.schema == schema)
            .any(|t| {
                t.name == name
                    || (t.primary_key.is_some() && t.pkey_name == name)
                    || t.indexes.iter().any(|i| i.name == name)
            })
            || self.ddl.relation_exists(db, schema, name)
    }

    /// The table owning the secondary index `name` in `schema` of database `db`, with
    /// the index's position in its list.
    pub fn index_by_name(
        &self,
        db: u32,
        schema: u32,
        name: &str,
    ) -> Option<(Arc<TableDef>, usize)> {
        self.tables
            .range((db, 0)..=(db, u32::MAX))
            .map(|(_, t)| t)
            .filter(|t| t.schema == schema)
            .find_map(|t| {
                t.indexes
                    .iter()
                    .position(|i| i.name == name)
                    .map(|p| (t.clone(), p))
            })
    }

    /// Whether `role` is a member of `group`, directly or through other groups.
    pub fn is_member_of(&self, role: u32, group: u32) -> bool {
        let mut seen = vec![role];
        let mut i = 0;
        while i < seen.len() {
            if seen[i] == group {
                return true;
            }
            let cur = seen[i];
            for (g, m) in &self.memberships {
                if *m == cur && !seen.contains(g) {
                    seen.push(*g);
                }
            }
            i += 1;
        }
        false
    }

    /// Encodes the whole catalog (the checkpoint image).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.next_oid);
        put_u32(out, self.databases.len() as u32);
        for d in self.databases.values() {
            CatalogChange::SetDatabase(d.clone()).encode(out);
        }
        put_u32(out, self.roles.len() as u32);
        for r in self.roles.values() {
            CatalogChange::SetRole(r.clone()).encode(out);
        }
        put_u32(out, self.memberships.len() as u32);
        for (g, m) in &self.memberships {
            CatalogChange::Grant {
                role: *g,
                member: *m,
            }
            .encode(out);
        }
        put_u32(out, self.schemas.len() as u32);
        for (oid, (name, owner)) in &self.schemas {
            put_u32(out, *oid);
            put_str(out, name);
            put_u32(out, *owner);
        }
        put_u32(out, self.tables.len() as u32);
        for ((db, _), t) in &self.tables {
            CatalogChange::CreateTable {
                db: *db,
                def: (**t).clone(),
            }
            .encode(out);
        }
        super::ddl::encode_image(self, out);
        super::enums::encode_image(self, out);
        super::acl::encode_image(self, out);
    }

    /// Decodes a catalog image written by [`encode`](Self::encode).
    pub fn decode(r: &mut Reader<'_>) -> Result<CatalogState> {
        let mut c = CatalogState {
            next_oid: r.u32()?,
            ..Default::default()
        };
        // Databases, roles and memberships, each a counted list of changes.
        for _ in 0..3 {
            let n = r.u32()?;
            for _ in 0..n {
                let ch = CatalogChange::decode(r)?;
                c.apply(&ch);
            }
        }
        let n = r.u32()?;
        for _ in 0..n {
            let oid = r.u32()?;
            let name = r.string()?;
            let owner = r.u32()?;
            c.schemas.insert(oid, (name, owner));
        }
        let n = r.u32()?;
        for _ in 0..n {
            let ch = CatalogChange::decode(r)?;
            c.apply(&ch);
        }
        super::ddl::decode_image(&mut c, r)?;
        super::enums::decode_image(&mut c, r)?;
        super::acl::decode_image(&mut c, r)?;
        Ok(c)
    }
}

/// What reverts one applied [`CatalogChange`].
#[derive(Debug, Clone)]
pub enum CatalogUndo {
    /// Remove a table created by the transaction.
    RemoveTable(u32, u32),
    /// Restore a dropped table.
    RestoreTable(u32, Arc<TableDef>),
    /// Remove a created role.
    RemoveRole(u32),
    /// Restore a role's previous state and memberships.
    RestoreRole(RoleInfo, Vec<(u32, u32)>),
    /// Remove a granted membership.
    RemoveGrant(u32, u32),
    /// Restore a database's previous state (or remove a created one).
    RestoreDatabase(u32, Option<DatabaseInfo>),
    /// Restore a dropped database and its tables.
    RestoreDropped(DatabaseInfo, Vec<((u32, u32), Arc<TableDef>)>),
    /// Revert a DDL change (see `storage::ddl`).
    Ddl(super::ddl::DdlUndo),
    /// Revert an enum change (see `storage::enums`).
    Enum(super::enums::EnumUndo),
    /// Revert a privilege change.
    Acl(super::acl::AclUndo),
}

/// Appends a little-endian u32.
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a little-endian u64.
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a length-prefixed string.
pub fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s.as_bytes());
}

fn put_opt_str(out: &mut Vec<u8>, s: &Option<String>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
    }
}

fn get_opt_str(r: &mut Reader<'_>) -> Result<Option<String>> {
    Ok(if r.u8()? == 0 {
        None
    } else {
        Some(r.string()?)
    })
}

/// Encodes a table definition (with its database) for CREATE/ALTER TABLE records.
fn encode_table(out: &mut Vec<u8>, db: u32, def: &TableDef) {
    put_u32(out, db);
    put_u32(out, def.oid);
    put_u32(out, def.schema);
    put_str(out, &def.name);
    put_u32(out, def.owner);
    put_u32(out, def.columns.len() as u32);
    for c in &def.columns {
        put_str(out, &c.name);
        put_u32(out, c.data_type.oid());
        put_u32(out, c.typmod as u32);
        // Bit 0: NOT NULL; bit 1: dropped (records written before DROP COLUMN existed
        // hold 0 or 1 here); bit 2: a generation expression follows the default.
        out.push(c.not_null as u8 | (c.dropped as u8) << 1 | (c.generated.is_some() as u8) << 2);
        put_opt_str(out, &c.default);
        if let Some(g) = &c.generated {
            put_str(out, g);
        }
    }
    match &def.primary_key {
        None => out.push(0),
        Some(cols) => {
            out.push(1);
            put_u32(out, cols.len() as u32);
            for c in cols {
                put_u32(out, *c as u32);
            }
        }
    }
    put_str(out, &def.pkey_name);
    put_u32(out, def.indexes.len() as u32);
    for ix in &def.indexes {
        put_u32(out, ix.oid);
        put_str(out, &ix.name);
        put_u32(out, ix.columns.len() as u32);
        for c in &ix.columns {
            put_u32(out, *c as u32);
        }
        // Bit 2: a partial index's predicate column follows; bit 3: the key options.
        let has_options = ix.options.iter().any(|o| *o != 0);
        out.push(
            ix.unique as u8
                | (ix.constraint as u8) << 1
                | (ix.predicate.is_some() as u8) << 2
                | (has_options as u8) << 3,
        );
        if let Some(p) = ix.predicate {
            put_u32(out, p as u32);
        }
        if has_options {
            put_u32(out, ix.options.len() as u32);
            for o in &ix.options {
                put_u32(out, *o as u32);
            }
        }
    }
}

/// Decodes what [`encode_table`] wrote.
fn decode_table(r: &mut Reader<'_>) -> Result<(u32, TableDef)> {
    let db = r.u32()?;
    let oid = r.u32()?;
    let schema = r.u32()?;
    let name = r.string()?;
    let owner = r.u32()?;
    let n = r.u32()?;
    let mut columns = Vec::new();
    for _ in 0..n {
        let name = r.string()?;
        let toid = r.u32()?;
        let data_type = DataType::from_oid(toid).ok_or_else(|| {
            err!(
                sqlstate::DATA_CORRUPTED,
                "unknown type oid {toid} in catalog"
            )
        })?;
        let typmod = r.u32()? as i32;
        let flags = r.u8()?;
        let default = get_opt_str(r)?;
        let generated = if flags & 4 != 0 {
            Some(r.string()?)
        } else {
            None
        };
        columns.push(ColumnDef {
            name,
            data_type,
            typmod,
            not_null: flags & 1 != 0,
            default,
            dropped: flags & 2 != 0,
            generated,
        });
    }
    let primary_key = if r.u8()? == 0 {
        None
    } else {
        let k = r.u32()?;
        let mut cols = Vec::new();
        for _ in 0..k {
            cols.push(r.u32()? as usize);
        }
        Some(cols)
    };
    let pkey_name = r.string()?;
    let n = r.u32()?;
    let mut indexes = Vec::new();
    for _ in 0..n {
        let oid = r.u32()?;
        let name = r.string()?;
        let k = r.u32()?;
        let mut cols = Vec::new();
        for _ in 0..k {
            cols.push(r.u32()? as usize);
        }
        let flags = r.u8()?;
        let predicate = if flags & 4 != 0 {
            Some(r.u32()? as usize)
        } else {
            None
        };
        let mut options = Vec::new();
        if flags & 8 != 0 {
            for _ in 0..r.u32()? {
                options.push(r.u32()? as i16);
            }
        }
        indexes.push(IndexDef {
            oid,
            name,
            columns: cols,
            unique: flags & 1 != 0,
            constraint: flags & 2 != 0,
            predicate,
            options,
        });
    }
    Ok((
        db,
        TableDef {
            oid,
            schema,
            name,
            owner,
            columns,
            primary_key,
            pkey_name,
            indexes,
        },
    ))
}

impl CatalogChange {
    /// Encodes the change (a tag byte and its fields).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            CatalogChange::CreateTable { db, def } => {
                out.push(1);
                encode_table(out, *db, def);
            }
            CatalogChange::AlterTable { db, def } => {
                out.push(7);
                encode_table(out, *db, def);
            }
            CatalogChange::DropTable { db, oid } => {
                out.push(2);
                put_u32(out, *db);
                put_u32(out, *oid);
            }
            CatalogChange::SetRole(r) => {
                out.push(3);
                put_u32(out, r.oid);
                put_str(out, &r.name);
                let flags = [
                    r.superuser,
                    r.inherit,
                    r.createrole,
                    r.createdb,
                    r.login,
                    r.replication,
                    r.bypassrls,
                ];
                let mut bits = 0u8;
                for (i, f) in flags.iter().enumerate() {
                    bits |= (*f as u8) << i;
                }
                out.push(bits);
                put_u32(out, r.conn_limit as u32);
                put_opt_str(out, &r.password);
                match r.valid_until {
                    None => out.push(0),
                    Some(v) => {
                        out.push(1);
                        put_u64(out, v as u64);
                    }
                }
            }
            CatalogChange::DropRole { oid } => {
                out.push(4);
                put_u32(out, *oid);
            }
            CatalogChange::Grant { role, member } => {
                out.push(5);
                put_u32(out, *role);
                put_u32(out, *member);
            }
            CatalogChange::DropDatabase { oid } => {
                out.push(8);
                put_u32(out, *oid);
            }
            CatalogChange::SetDatabase(d) => {
                out.push(6);
                put_u32(out, d.oid);
                put_str(out, &d.name);
                put_u32(out, d.owner);
                out.push(d.allow_connections as u8 | (d.is_template as u8) << 1);
                put_u32(out, d.conn_limit as u32);
            }
            CatalogChange::Ddl(d) => {
                out.push(9);
                d.encode(out);
            }
            CatalogChange::Enum(e) => {
                out.push(40);
                e.encode(out);
            }
            CatalogChange::Acl(a) => {
                out.push(10);
                a.encode(out);
            }
        }
    }

    /// Decodes a change written by [`encode`](Self::encode).
    pub fn decode(r: &mut Reader<'_>) -> Result<CatalogChange> {
        Ok(match r.u8()? {
            1 => {
                let (db, def) = decode_table(r)?;
                CatalogChange::CreateTable { db, def }
            }
            8 => CatalogChange::DropDatabase { oid: r.u32()? },
            7 => {
                let (db, def) = decode_table(r)?;
                CatalogChange::AlterTable { db, def }
            }
            2 => CatalogChange::DropTable {
                db: r.u32()?,
                oid: r.u32()?,
            },
            3 => {
                let oid = r.u32()?;
                let name = r.string()?;
                let bits = r.u8()?;
                let f = |i: u8| bits & (1 << i) != 0;
                let conn_limit = r.u32()? as i32;
                let password = get_opt_str(r)?;
                let valid_until = if r.u8()? == 0 {
                    None
                } else {
                    Some(r.u64()? as i64)
                };
                CatalogChange::SetRole(RoleInfo {
                    oid,
                    name,
                    superuser: f(0),
                    inherit: f(1),
                    createrole: f(2),
                    createdb: f(3),
                    login: f(4),
                    replication: f(5),
                    bypassrls: f(6),
                    conn_limit,
                    password,
                    valid_until,
                })
            }
            4 => CatalogChange::DropRole { oid: r.u32()? },
            5 => CatalogChange::Grant {
                role: r.u32()?,
                member: r.u32()?,
            },
            6 => {
                let oid = r.u32()?;
                let name = r.string()?;
                let owner = r.u32()?;
                let flags = r.u8()?;
                let conn_limit = r.u32()? as i32;
                CatalogChange::SetDatabase(DatabaseInfo {
                    oid,
                    name,
                    owner,
                    allow_connections: flags & 1 != 0,
                    is_template: flags & 2 != 0,
                    conn_limit,
                })
            }
            9 => CatalogChange::Ddl(super::ddl::DdlChange::decode(r)?),
            40 => CatalogChange::Enum(super::enums::EnumChange::decode(r)?),
            10 => CatalogChange::Acl(super::acl::AclChange::decode(r)?),
            t => {
                return Err(err!(
                    sqlstate::DATA_CORRUPTED,
                    "unknown catalog change tag {t}"
                ))
            }
        })
    }
}
