//! Temporary namespaces: the per-session schemas (`pg_temp_N`) that hold temporary
//! tables, sequences and views, and the rule that nothing inside them is ever logged,
//! imaged, replicated or recovered.
//!
//! # The decision
//!
//! A temporary object is an ordinary catalog object (a `TableDef`, `SequenceDef`,
//! `ViewDef`…) whose schema is a *temporary namespace*. Its rows live in an ordinary
//! heap, so MVCC, the primary key, unique and secondary indexes, CHECK and FOREIGN KEY
//! constraints, rollback and savepoints work on it exactly as on a permanent table.
//! What makes it temporary is decided here, in one place, from the schema alone
//! (PostgreSQL's `relpersistence = 't'` follows from the namespace as well):
//!
//! - **Never logged.** `Engine::insert`/`delete`/`catalog_change` ask
//!   [`CatalogState::is_temp_relation`] / [`CatalogState::change_is_temp`] and leave
//!   temporary changes out of the transaction's WAL records (they stay in its undo
//!   lists, so ROLLBACK still removes them); a temporary sequence's `nextval` logs
//!   nothing. A transaction that only touched temporary objects appends no WAL at all.
//!   So no standby ever hears of them, and neither does crash recovery.
//! - **Never imaged.** A checkpoint (or restartpoint) strips every temporary object
//!   from the catalog snapshot it writes ([`CatalogState::strip_temp`]) before the
//!   images are written: `global/tusk_catalog` and `base/` never hold them, and a base
//!   backup (which copies a checkpoint's images) cannot either.
//! - **Owned by one session.** A namespace is created in memory, unlogged, by the
//!   first temporary object a session creates ([`Engine::create_temp_namespace`]) and
//!   lives as long as the session's [`SessionTemp`] handle: dropping the handle — the
//!   session ending normally, the connection breaking, the backend thread unwinding —
//!   removes the namespace and everything in it ([`Engine::drop_temp_namespace`]).
//!   A crash or restart leaves no trace because there was never any on disk.
//! - **Never during recovery.** A hot standby's catalog is the primary's replayed
//!   state; an OID taken there could collide with one the primary hands out later.
//!   [`SessionTemp::namespace_or_create`] therefore refuses to create a namespace in
//!   recovery (the SQL layer refuses the statement first with PostgreSQL's 25006).
//!
//! The alternative — session-local tables kept in the connection — would need a second
//! row store beside the engine's for every scan, index lookup and constraint check;
//! keeping them in the one engine with one "is it temporary" predicate means every
//! code path that works on a table works on a temporary one.
//!
//! Name resolution (the namespace searched first, `pg_temp` as its alias) is
//! `catalog::search_path`'s; ON COMMIT actions are the session's (`sql::temp`).
//!
//! Invariants:
//! - An object is temporary iff its schema is in [`TempCatalog::namespaces`]; such a
//!   schema is also in `CatalogState::schemas` (as `pg_temp_N`) so that it has a name.
//! - No WAL record ever names a temporary object, and no image ever holds one.
//! - Only the owning session resolves names in its namespace (`catalog` refuses the
//!   others with 0A000).
//!
//! What this module must never do: write WAL or files, or remove a namespace whose
//! session still runs a transaction (the session aborts its transaction before its
//! handle is dropped).
//!
//! One `CREATE TEMP TABLE t (a int)` and the session's end:
//! 1. the binder asks `search_path` for the temporary namespace; the session's
//!    [`SessionTemp`] creates `pg_temp_1` (OID 16390, say) on this first use;
//! 2. `CatalogChange::CreateTable` for a table in schema 16390 is applied and kept in
//!    the transaction's undo list, but [`CatalogState::change_is_temp`] says it is not
//!    logged; INSERTs into `t` add row versions without WAL records; COMMIT appends
//!    nothing and just makes them visible;
//! 3. the connection closes: `Session` aborts any open transaction, then drops its
//!    handle, and [`Engine::drop_temp_namespace`] removes `t`, its heap and
//!    `pg_temp_1`.

use super::acl::AclObject;
use super::schema::{CatalogChange, CatalogState, BOOTSTRAP_SUPERUSER};
use super::Engine;
use crate::bail;
use crate::error::{sqlstate, Result};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// The temporary namespaces that exist now, by schema OID (kept inside
/// [`CatalogState`], never encoded).
#[derive(Debug, Clone, Default)]
pub struct TempCatalog {
    /// Live temporary namespaces by schema OID.
    pub namespaces: BTreeMap<u32, TempNamespace>,
    /// Table OIDs handed out for a temporary namespace ([`Engine::new_relation_oid`]),
    /// with the namespace: a CREATE TABLE logs its CHECK and FOREIGN KEY constraints
    /// before the table itself, and those changes must be known temporary too.
    pub relations: BTreeMap<u32, u32>,
}

/// One session's temporary namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempNamespace {
    /// The `N` of `pg_temp_N`: the smallest number no other live namespace has.
    pub number: u32,
    /// The database the owning session is connected to.
    pub db: u32,
}

impl CatalogState {
    /// Whether schema `oid` is a temporary namespace.
    pub fn is_temp_schema(&self, oid: u32) -> bool {
        self.temp.namespaces.contains_key(&oid)
    }

    /// The schema of relation `oid` (a table, sequence or view) of database `db`.
    fn relation_schema(&self, db: u32, oid: u32) -> Option<u32> {
        self.tables
            .get(&(db, oid))
            .map(|t| t.schema)
            .or_else(|| self.ddl.sequences.get(&(db, oid)).map(|s| s.schema))
            .or_else(|| self.ddl.views.get(&(db, oid)).map(|v| v.schema))
    }

    /// Whether `oid` of database `db` is a table, sequence or view in a temporary
    /// namespace.
    pub fn is_temp_relation(&self, db: u32, oid: u32) -> bool {
        !self.temp.namespaces.is_empty()
            && (self.temp.relations.contains_key(&oid)
                || self
                    .relation_schema(db, oid)
                    .is_some_and(|s| self.is_temp_schema(s)))
    }

    /// Whether a change concerns only temporary objects, and so is never logged.
    /// Asked before the change is applied (a dropped object must still be there).
    pub fn change_is_temp(&self, c: &CatalogChange) -> bool {
        use super::acl::AclChange;
        use super::ddl::DdlChange;
        use super::enums::EnumChange;
        if self.temp.namespaces.is_empty() {
            return false;
        }
        match c {
            CatalogChange::CreateTable { def, .. } | CatalogChange::AlterTable { def, .. } => {
                self.is_temp_schema(def.schema)
            }
            CatalogChange::DropTable { db, oid } => self.is_temp_relation(*db, *oid),
            CatalogChange::Ddl(d) => match d {
                DdlChange::SetSequence { def, .. } => self.is_temp_schema(def.schema),
                DdlChange::SetView { def, .. } => self.is_temp_schema(def.schema),
                DdlChange::DropSequence { db, oid }
                | DdlChange::SeqValue { db, oid, .. }
                | DdlChange::DropView { db, oid }
                | DdlChange::Comment { db, oid, .. } => self.is_temp_relation(*db, *oid),
                DdlChange::SetChecks { db, table, .. }
                | DdlChange::SetForeignKeys { db, table, .. } => self.is_temp_relation(*db, *table),
                DdlChange::CreateSchema { oid, .. } | DdlChange::DropSchema { oid } => {
                    self.is_temp_schema(*oid)
                }
            },
            CatalogChange::Enum(EnumChange::Set(def)) => self.is_temp_schema(def.schema),
            CatalogChange::Enum(EnumChange::Drop { oid }) => self
                .enums
                .get(oid)
                .is_some_and(|d| self.is_temp_schema(d.schema)),
            CatalogChange::Acl(AclChange::Set { object, .. }) => match object {
                AclObject::Relation { db, oid } => self.is_temp_relation(*db, *oid),
                AclObject::Column { db, table, .. } => self.is_temp_relation(*db, *table),
                AclObject::Schema(oid) => self.is_temp_schema(*oid),
                AclObject::Database(_) => false,
            },
            CatalogChange::Acl(AclChange::RevokeMembership { .. })
            | CatalogChange::SetRole(_)
            | CatalogChange::DropRole { .. }
            | CatalogChange::Grant { .. }
            | CatalogChange::SetDatabase(_)
            | CatalogChange::DropDatabase { .. } => false,
        }
    }

    /// Removes one temporary namespace and every object in it; returns the
    /// (database, table) keys of the tables removed (their heaps go too).
    pub fn remove_temp_namespace(&mut self, ns: u32) -> Vec<(u32, u32)> {
        let mut rels: Vec<(u32, u32)> = Vec::new();
        let tables: Vec<(u32, u32)> = self
            .tables
            .iter()
            .filter(|(_, t)| t.schema == ns)
            .map(|(k, _)| *k)
            .collect();
        for k in &tables {
            self.tables.remove(k);
        }
        rels.extend(&tables);
        let d = &mut self.ddl;
        let seqs: Vec<(u32, u32)> = d
            .sequences
            .iter()
            .filter(|(_, s)| s.schema == ns)
            .map(|(k, _)| *k)
            .collect();
        for k in &seqs {
            d.sequences.remove(k);
            d.seq_values.remove(k);
        }
        rels.extend(&seqs);
        let views: Vec<(u32, u32)> = d
            .views
            .iter()
            .filter(|(_, v)| v.schema == ns)
            .map(|(k, _)| *k)
            .collect();
        for k in &views {
            d.views.remove(k);
        }
        rels.extend(&views);
        for k in &rels {
            d.checks.remove(k);
            d.foreign_keys.remove(k);
        }
        // The ACLs of the removed relations and of their columns.
        self.acl.lists.retain(|o, _| match o {
            AclObject::Relation { db, oid } => !rels.contains(&(*db, *oid)),
            AclObject::Column { db, table, .. } => !rels.contains(&(*db, *table)),
            AclObject::Schema(oid) => *oid != ns,
            AclObject::Database(_) => true,
        });
        d.comments
            .retain(|(db, oid, _), _| !rels.contains(&(*db, *oid)));
        if self.enums.values().any(|e| e.schema == ns) {
            std::sync::Arc::make_mut(&mut self.enums).retain(|_, e| e.schema != ns);
        }
        self.schemas.remove(&ns);
        self.temp.namespaces.remove(&ns);
        self.temp.relations.retain(|_, n| *n != ns);
        tables
    }

    /// Removes every temporary namespace and object: what a checkpoint image may hold.
    pub fn strip_temp(&mut self) {
        let all: Vec<u32> = self.temp.namespaces.keys().copied().collect();
        for ns in all {
            self.remove_temp_namespace(ns);
        }
    }
}

impl Engine {
    /// Creates a temporary namespace (`pg_temp_N`) for a session connected to `db`:
    /// in memory only, never logged. Returns its OID.
    pub fn create_temp_namespace(&self, db: u32) -> Result<u32> {
        if self.in_recovery() {
            bail!(
                sqlstate::READ_ONLY_SQL_TRANSACTION,
                "cannot create temporary tables during recovery"
            );
        }
        let mut st = self.lock();
        let c = &mut st.store.catalog;
        let mut number = 1;
        while c.temp.namespaces.values().any(|t| t.number == number) {
            number += 1;
        }
        let oid = c.new_oid();
        c.schemas
            .insert(oid, (format!("pg_temp_{number}"), BOOTSTRAP_SUPERUSER));
        c.temp.namespaces.insert(oid, TempNamespace { number, db });
        self.catalog_version.fetch_add(1, Ordering::SeqCst);
        Ok(oid)
    }

    /// A new OID for a table about to be created in `schema`, remembered as
    /// temporary when the schema is a temporary namespace.
    pub fn new_relation_oid(&self, schema: u32) -> u32 {
        let mut st = self.lock();
        let c = &mut st.store.catalog;
        let oid = c.new_oid();
        if c.is_temp_schema(schema) {
            c.temp.relations.insert(oid, schema);
        }
        oid
    }

    /// Drops a temporary namespace and everything in it (the owning session ended).
    /// Nothing is logged: nothing about it ever was.
    pub fn drop_temp_namespace(&self, ns: u32) {
        let mut st = self.lock();
        for key in st.store.catalog.remove_temp_namespace(ns) {
            st.store.heaps.remove(&key);
        }
        self.catalog_version.fetch_add(1, Ordering::SeqCst);
    }
}

/// A session's claim on its temporary namespace: created on first use, dropped —
/// with every temporary object of the session — when the handle is dropped.
///
/// The namespace OID is 0 until created; it is set once and read by the session's
/// own thread (atomics only because the handle is shared with `catalog::search_path`).
pub struct SessionTemp {
    engine: Arc<Engine>,
    db: u32,
    oid: AtomicU32,
}

impl std::fmt::Debug for SessionTemp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionTemp")
            .field("db", &self.db)
            .field("oid", &self.oid.load(Ordering::SeqCst))
            .finish()
    }
}

impl SessionTemp {
    /// A handle for a session connected to database `db` (no namespace yet).
    pub fn new(engine: Arc<Engine>, db: u32) -> Arc<SessionTemp> {
        Arc::new(SessionTemp {
            engine,
            db,
            oid: AtomicU32::new(0),
        })
    }

    /// The namespace's OID, if the session created one.
    pub fn namespace(&self) -> Option<u32> {
        match self.oid.load(Ordering::SeqCst) {
            0 => None,
            o => Some(o),
        }
    }

    /// The namespace's OID, created now if needed (refused during recovery).
    pub fn namespace_or_create(&self) -> Result<u32> {
        if let Some(o) = self.namespace() {
            return Ok(o);
        }
        let o = self.engine.create_temp_namespace(self.db)?;
        self.oid.store(o, Ordering::SeqCst);
        Ok(o)
    }
}

impl Drop for SessionTemp {
    fn drop(&mut self) {
        if let Some(ns) = self.namespace() {
            self.engine.drop_temp_namespace(ns);
        }
    }
}
