//! Ownership: changing it (`ALTER TABLE | SEQUENCE | VIEW | SCHEMA | TYPE | DATABASE …
//! OWNER TO`, `REASSIGN OWNED BY`), dropping what a role owns and revoking what it was
//! granted (`DROP OWNED BY`), and the dependencies that keep a role from being dropped
//! ([`check_droppable`], PostgreSQL's `checkSharedDependencies`).
//!
//! The ownership *checks* other statements make (DROP, ALTER, COMMENT, CREATE INDEX…)
//! call `sql::privileges::check_owner`: the owner, a role with the owner's privileges
//! (membership with INHERIT), or a superuser.
//!
//! # ALTER … OWNER TO, as PostgreSQL's `ATExecChangeOwner`
//!
//! 1. The object is resolved (`"t" is not a sequence` when the kind does not match; a
//!    sequence a column owns refuses to change alone, 0A000).
//! 2. Nothing happens when the new owner is the current one.
//! 3. A non-superuser must have the owner's privileges, be a member of the new owner,
//!    and the new owner must hold CREATE on the object's schema (on the database for
//!    a schema; CREATEDB for a database).
//! 4. The owner changes (a table's owned sequences with it), and a stored ACL has the
//!    old owner replaced by the new one (`acl_new_owner`), all as WAL-logged catalog
//!    changes of the transaction.
//!
//! What this module must never do: change an owner or a privilege other than through
//! catalog changes, or drop objects of another database.

use super::acl::{role_oid, Cur, Grantee};
use super::front::Tok;
use super::privileges::{denied, must_own};
use super::ExecCtx;
use crate::error::{sqlstate, Result};
use crate::storage::acl::{self, AclChange, AclObject};
use crate::storage::ddl::DdlChange;
use crate::storage::enums::EnumChange;
use crate::storage::schema::{CatalogChange, CatalogState, RoleInfo, BOOTSTRAP_SUPERUSER};
use crate::{bail, err};
use std::collections::BTreeMap;

/// The kind of object `ALTER … OWNER TO` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    /// ALTER TABLE (any relation).
    Table,
    /// ALTER SEQUENCE.
    Sequence,
    /// ALTER VIEW.
    View,
    /// ALTER SCHEMA.
    Schema,
    /// ALTER TYPE (enum types).
    Type,
    /// ALTER DATABASE.
    Database,
}

/// An ownership statement.
#[derive(Debug, Clone, PartialEq)]
pub enum OwnerStmt {
    /// `ALTER kind [IF EXISTS] name OWNER TO role`.
    AlterOwner {
        /// What the statement names.
        kind: OwnerKind,
        /// IF EXISTS.
        if_exists: bool,
        /// The object's name (schema, name).
        name: (Option<String>, String),
        /// The new owner.
        owner: Grantee,
    },
    /// `REASSIGN OWNED BY roles TO role`.
    Reassign {
        /// The old owners.
        roles: Vec<Grantee>,
        /// The new owner.
        to: Grantee,
    },
    /// `DROP OWNED BY roles [CASCADE | RESTRICT]`.
    DropOwned {
        /// The roles.
        roles: Vec<Grantee>,
        /// CASCADE.
        cascade: bool,
    },
}

impl OwnerStmt {
    /// The command tag.
    pub fn tag(&self) -> &'static str {
        match self {
            OwnerStmt::AlterOwner { kind, .. } => match kind {
                OwnerKind::Table => "ALTER TABLE",
                OwnerKind::Sequence => "ALTER SEQUENCE",
                OwnerKind::View => "ALTER VIEW",
                OwnerKind::Schema => "ALTER SCHEMA",
                OwnerKind::Type => "ALTER TYPE",
                OwnerKind::Database => "ALTER DATABASE",
            },
            OwnerStmt::Reassign { .. } => "REASSIGN OWNED",
            OwnerStmt::DropOwned { .. } => "DROP OWNED",
        }
    }
}

fn word(t: &[Tok], i: usize) -> Option<&str> {
    match t.get(i) {
        Some(Tok::Word(w)) => Some(w),
        _ => None,
    }
}

/// Parses an ownership statement from its tokens; `Ok(None)` for anything else.
pub fn parse(t: &[Tok]) -> Result<Option<OwnerStmt>> {
    match (word(t, 0), word(t, 1)) {
        (Some("reassign"), Some("owned")) => {
            let mut p = Cur {
                t: t.to_vec(),
                i: 2,
            };
            p.expect("by")?;
            let mut roles = vec![p.grantee(false)?];
            while p.punct(',') {
                roles.push(p.grantee(false)?);
            }
            p.expect("to")?;
            let to = p.grantee(false)?;
            if !p.at_end() {
                return Err(p.syntax());
            }
            Ok(Some(OwnerStmt::Reassign { roles, to }))
        }
        (Some("drop"), Some("owned")) => {
            let mut p = Cur {
                t: t.to_vec(),
                i: 2,
            };
            p.expect("by")?;
            let mut roles = vec![p.grantee(false)?];
            while p.punct(',') {
                roles.push(p.grantee(false)?);
            }
            let cascade = p.eat("cascade");
            if !cascade {
                p.eat("restrict");
            }
            if !p.at_end() {
                return Err(p.syntax());
            }
            Ok(Some(OwnerStmt::DropOwned { roles, cascade }))
        }
        (Some("alter"), Some(k)) => {
            let kind = match k {
                "table" => OwnerKind::Table,
                "sequence" => OwnerKind::Sequence,
                "view" => OwnerKind::View,
                "schema" => OwnerKind::Schema,
                "type" => OwnerKind::Type,
                "database" => OwnerKind::Database,
                _ => return Ok(None),
            };
            // Only `… OWNER TO role` at the end; other ALTERs are parsed elsewhere.
            let n = t.len();
            if n < 5 || word(t, n - 3) != Some("owner") || word(t, n - 2) != Some("to") {
                return Ok(None);
            }
            let mut p = Cur {
                t: t.to_vec(),
                i: 2,
            };
            let mut if_exists = false;
            if matches!(
                kind,
                OwnerKind::Table | OwnerKind::Sequence | OwnerKind::View
            ) && p.eat("if")
            {
                p.expect("exists")?;
                if_exists = true;
            }
            if kind == OwnerKind::Table {
                p.eat("only");
            }
            let name = if matches!(kind, OwnerKind::Schema | OwnerKind::Database) {
                (None, p.ident()?)
            } else {
                p.qualified()?
            };
            p.expect("owner")?;
            p.expect("to")?;
            let owner = p.grantee(false)?;
            if !p.at_end() {
                return Err(p.syntax());
            }
            Ok(Some(OwnerStmt::AlterOwner {
                kind,
                if_exists,
                name,
                owner,
            }))
        }
        _ => Ok(None),
    }
}

/// An object whose owner can change.
#[derive(Debug, Clone)]
enum Owned {
    Relation(AclObject, acl::ObjectKind),
    Schema(u32),
    Type(u32),
    Database(u32),
}

/// The object's owner, name and (for objects in a schema) schema OID.
fn owner_of(c: &CatalogState, o: &Owned) -> Option<(u32, String, Option<u32>)> {
    match o {
        Owned::Relation(obj, _) => {
            let AclObject::Relation { db, oid } = *obj else {
                return None;
            };
            let (_, owner, name) = acl::describe_object(c, obj)?;
            let schema = c
                .tables
                .get(&(db, oid))
                .map(|t| t.schema)
                .or_else(|| c.ddl.sequences.get(&(db, oid)).map(|s| s.schema))
                .or_else(|| c.ddl.views.get(&(db, oid)).map(|v| v.schema));
            Some((owner, name, schema))
        }
        Owned::Schema(oid) => c.schemas.get(oid).map(|(n, o)| (*o, n.clone(), None)),
        Owned::Type(oid) => c
            .enums
            .get(oid)
            .map(|d| (d.owner, d.name.clone(), Some(d.schema))),
        Owned::Database(oid) => c
            .databases
            .get(oid)
            .map(|d| (d.owner, d.name.clone(), None)),
    }
}

fn kind_name(o: &Owned) -> &'static str {
    match o {
        Owned::Relation(_, k) => k.name(),
        Owned::Schema(_) => "schema",
        Owned::Type(_) => "type",
        Owned::Database(_) => "database",
    }
}

/// Runs an ownership statement.
pub fn execute(s: &OwnerStmt, cx: &mut ExecCtx<'_>) -> Result<()> {
    let me = cx.current_role().ok_or_else(|| {
        err!(
            sqlstate::UNDEFINED_OBJECT,
            "role \"{}\" does not exist",
            cx.ctx.user
        )
    })?;
    match s {
        OwnerStmt::AlterOwner {
            kind,
            if_exists,
            name,
            owner,
        } => {
            let Some(target) = resolve(cx, *kind, *if_exists, name)? else {
                return Ok(());
            };
            let new = role_oid(cx, &me, owner)?;
            alter_owner(cx, &me, &target, new, true)
        }
        OwnerStmt::Reassign { roles, to } => {
            let new = role_oid(cx, &me, to)?;
            let mut olds = Vec::new();
            for r in roles {
                olds.push(role_oid(cx, &me, r)?);
            }
            let allowed = cx.engine.with_catalog(|c| {
                me.superuser
                    || (acl::has_privs_of(c, me.oid, new)
                        && olds.iter().all(|o| acl::has_privs_of(c, me.oid, *o)))
            });
            if !allowed {
                bail!(
                    sqlstate::INSUFFICIENT_PRIVILEGE,
                    "permission denied to reassign objects"
                );
            }
            for old in olds {
                if old == BOOTSTRAP_SUPERUSER {
                    let n = acl_role_name(cx, old);
                    bail!(
                        sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
                        "cannot reassign ownership of objects owned by role {n} because they are required by the database system"
                    );
                }
                for o in owned_by(cx, old) {
                    alter_owner(cx, &me, &o, new, false)?;
                }
            }
            Ok(())
        }
        OwnerStmt::DropOwned { roles, cascade } => {
            let mut olds = Vec::new();
            for r in roles {
                olds.push(role_oid(cx, &me, r)?);
            }
            let allowed = cx.engine.with_catalog(|c| {
                me.superuser || olds.iter().all(|o| acl::has_privs_of(c, me.oid, *o))
            });
            if !allowed {
                bail!(
                    sqlstate::INSUFFICIENT_PRIVILEGE,
                    "permission denied to drop objects"
                );
            }
            for old in olds {
                if old == BOOTSTRAP_SUPERUSER {
                    let n = acl_role_name(cx, old);
                    bail!(
                        sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
                        "cannot drop objects owned by role {n} because they are required by the database system"
                    );
                }
                revoke_all_from(cx, old)?;
                drop_owned(cx, old, *cascade)?;
            }
            Ok(())
        }
    }
}

fn acl_role_name(cx: &ExecCtx<'_>, oid: u32) -> String {
    cx.engine.with_catalog(|c| acl::role_name(c, oid))
}

/// Resolves the object an ALTER … OWNER TO names (None: IF EXISTS and missing).
fn resolve(
    cx: &mut ExecCtx<'_>,
    kind: OwnerKind,
    if_exists: bool,
    name: &(Option<String>, String),
) -> Result<Option<Owned>> {
    let db = cx.db_oid;
    let (schema, n) = name;
    match kind {
        OwnerKind::Table | OwnerKind::Sequence | OwnerKind::View => {
            let schemas = match schema {
                Some(s) => vec![crate::catalog::lookup_schema(cx.engine, s)?],
                None => crate::catalog::search_path::lookup_schemas(),
            };
            let found = cx.engine.with_catalog(|c| {
                schemas.iter().find_map(|s| {
                    let oid = c
                        .table_by_name(db, *s, n)
                        .map(|t| t.oid)
                        .or_else(|| c.ddl.sequence_by_name(db, *s, n).map(|q| q.oid))
                        .or_else(|| c.ddl.view_by_name(db, *s, n).map(|v| v.oid))?;
                    let obj = AclObject::Relation { db, oid };
                    acl::describe_object(c, &obj).map(|(k, _, _)| (obj, k))
                })
            });
            let Some((obj, k)) = found else {
                if if_exists {
                    cx.notices.push(
                        crate::error::Error::new(
                            sqlstate::SUCCESSFUL_COMPLETION,
                            format!("relation \"{n}\" does not exist, skipping"),
                        )
                        .with_severity(crate::error::Severity::Notice),
                    );
                    return Ok(None);
                }
                bail!(sqlstate::UNDEFINED_TABLE, "relation \"{n}\" does not exist");
            };
            match (kind, k) {
                (OwnerKind::Sequence, acl::ObjectKind::Sequence)
                | (OwnerKind::View, acl::ObjectKind::View)
                | (OwnerKind::Table, _) => {}
                (OwnerKind::Sequence, _) => {
                    bail!(sqlstate::WRONG_OBJECT_TYPE, "\"{n}\" is not a sequence")
                }
                _ => bail!(sqlstate::WRONG_OBJECT_TYPE, "\"{n}\" is not a view"),
            }
            Ok(Some(Owned::Relation(obj, k)))
        }
        OwnerKind::Schema => Ok(Some(Owned::Schema(super::ddl::schema_oid(cx.engine, n)?))),
        OwnerKind::Database => {
            let d = cx.engine.database(n).ok_or_else(|| {
                err!(
                    sqlstate::INVALID_CATALOG_NAME,
                    "database \"{n}\" does not exist"
                )
            })?;
            Ok(Some(Owned::Database(d.oid)))
        }
        OwnerKind::Type => {
            let schema_oid = match schema {
                Some(s) => Some(super::ddl::schema_oid(cx.engine, s)?),
                None => None,
            };
            let path = crate::catalog::search_path::lookup_schemas();
            let found = cx.engine.with_catalog(|c| {
                let schemas = schema_oid.map(|s| vec![s]).unwrap_or(path);
                schemas.iter().find_map(|s| {
                    c.enums
                        .values()
                        .find(|d| d.db == db && d.schema == *s && &d.name == n)
                        .map(|d| d.oid)
                })
            });
            match found {
                Some(oid) => Ok(Some(Owned::Type(oid))),
                None => bail!(sqlstate::UNDEFINED_OBJECT, "type \"{n}\" does not exist"),
            }
        }
    }
}

/// Changes the owner of one object (`check`: the permission checks of a single ALTER;
/// REASSIGN OWNED has checked its own).
fn alter_owner(
    cx: &mut ExecCtx<'_>,
    me: &RoleInfo,
    o: &Owned,
    new: u32,
    check: bool,
) -> Result<()> {
    let db = cx.db_oid;
    let Some((old, name, schema)) = cx.engine.with_catalog(|c| owner_of(c, o)) else {
        return Ok(());
    };
    // A sequence a column owns follows its table.
    if let Owned::Relation(AclObject::Relation { oid, .. }, acl::ObjectKind::Sequence) = o {
        let linked = cx.engine.with_catalog(|c| {
            let (t, _) = c.ddl.sequences.get(&(db, *oid))?.owned_by?;
            c.tables.get(&(db, t)).map(|t| t.name.clone())
        });
        if let Some(table) = linked {
            if check {
                return Err(err!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "cannot change owner of sequence \"{name}\""
                )
                .with_detail(format!(
                    "Sequence \"{name}\" is linked to table \"{table}\"."
                )));
            }
            return Ok(());
        }
    }
    if old == new {
        return Ok(());
    }
    if check && !me.superuser {
        let (owns, member, new_name) = cx.engine.with_catalog(|c| {
            (
                acl::owns(c, db, me.oid, old),
                c.is_member_of(me.oid, new),
                acl::role_name(c, new),
            )
        });
        if !owns {
            return Err(must_own(kind_name(o), &name));
        }
        if !member {
            bail!(
                sqlstate::INSUFFICIENT_PRIVILEGE,
                "must be member of role \"{new_name}\""
            );
        }
        match o {
            Owned::Schema(_) => {
                let ok = cx.engine.with_catalog(|c| {
                    acl::privileges(c, db, &AclObject::Database(db), new).0 & acl::ACL_CREATE != 0
                });
                if !ok {
                    let dname = cx.engine.with_catalog(|c| {
                        c.databases
                            .get(&db)
                            .map(|d| d.name.clone())
                            .unwrap_or_default()
                    });
                    return Err(denied("database", &dname));
                }
            }
            Owned::Database(_) => {
                let ok = cx
                    .engine
                    .with_catalog(|c| c.roles.get(&new).is_some_and(|r| r.createdb || r.superuser));
                if !ok {
                    bail!(
                        sqlstate::INSUFFICIENT_PRIVILEGE,
                        "permission denied to change owner of database"
                    );
                }
            }
            _ => {
                if let Some(s) = schema {
                    let (ok, sname) = cx.engine.with_catalog(|c| {
                        (
                            acl::privileges(c, db, &AclObject::Schema(s), new).0 & acl::ACL_CREATE
                                != 0,
                            c.schemas.get(&s).map(|x| x.0.clone()).unwrap_or_default(),
                        )
                    });
                    if !ok {
                        return Err(denied("schema", &sname));
                    }
                }
            }
        }
    }
    set_owner(cx, o, old, new)
}

/// Logs the new owner of an object (and of what follows it) and rewrites stored ACLs.
fn set_owner(cx: &mut ExecCtx<'_>, o: &Owned, old: u32, new: u32) -> Result<()> {
    let db = cx.db_oid;
    let mut acl_objects = Vec::new();
    match o {
        Owned::Relation(obj @ AclObject::Relation { oid, .. }, kind) => {
            acl_objects.push(*obj);
            match kind {
                acl::ObjectKind::Table => {
                    let (def, seqs) = cx.engine.with_catalog(|c| {
                        let def = c.tables.get(&(db, *oid)).cloned();
                        let seqs: Vec<crate::storage::ddl::SequenceDef> = c
                            .ddl
                            .sequences
                            .range((db, 0)..=(db, u32::MAX))
                            .map(|(_, s)| s)
                            .filter(|s| s.owned_by.is_some_and(|(t, _)| t == *oid))
                            .cloned()
                            .collect();
                        (def, seqs)
                    });
                    if let Some(def) = def {
                        let n = def.columns.len() as u32;
                        let mut d = (*def).clone();
                        d.owner = new;
                        cx.engine
                            .catalog_change(cx.txn, CatalogChange::AlterTable { db, def: d })?;
                        acl_objects.extend((0..n).map(|column| AclObject::Column {
                            db,
                            table: *oid,
                            column,
                        }));
                    }
                    for mut s in seqs {
                        if s.owner == old {
                            acl_objects.push(AclObject::Relation { db, oid: s.oid });
                            s.owner = new;
                            cx.engine.catalog_change(
                                cx.txn,
                                CatalogChange::Ddl(DdlChange::SetSequence { db, def: s }),
                            )?;
                        }
                    }
                }
                acl::ObjectKind::Sequence => {
                    let def = cx
                        .engine
                        .with_catalog(|c| c.ddl.sequences.get(&(db, *oid)).cloned());
                    if let Some(mut s) = def {
                        s.owner = new;
                        cx.engine.catalog_change(
                            cx.txn,
                            CatalogChange::Ddl(DdlChange::SetSequence { db, def: s }),
                        )?;
                    }
                }
                _ => {
                    let def = cx
                        .engine
                        .with_catalog(|c| c.ddl.views.get(&(db, *oid)).cloned());
                    if let Some(mut v) = def {
                        v.owner = new;
                        cx.engine.catalog_change(
                            cx.txn,
                            CatalogChange::Ddl(DdlChange::SetView { db, def: v }),
                        )?;
                    }
                }
            }
        }
        Owned::Relation(..) => {}
        Owned::Schema(oid) => {
            let name = cx
                .engine
                .with_catalog(|c| c.schemas.get(oid).map(|(n, _)| n.clone()));
            if let Some(name) = name {
                cx.engine.catalog_change(
                    cx.txn,
                    CatalogChange::Ddl(DdlChange::CreateSchema {
                        oid: *oid,
                        name,
                        owner: new,
                    }),
                )?;
                acl_objects.push(AclObject::Schema(*oid));
            }
        }
        Owned::Type(oid) => {
            let def = cx.engine.with_catalog(|c| c.enums.get(oid).cloned());
            if let Some(d) = def {
                let mut d = (*d).clone();
                d.owner = new;
                cx.engine
                    .catalog_change(cx.txn, CatalogChange::Enum(EnumChange::Set(d)))?;
            }
        }
        Owned::Database(oid) => {
            let d = cx.engine.with_catalog(|c| c.databases.get(oid).cloned());
            if let Some(mut d) = d {
                d.owner = new;
                cx.engine
                    .catalog_change(cx.txn, CatalogChange::SetDatabase(d))?;
                acl_objects.push(AclObject::Database(*oid));
            }
        }
    }
    for object in acl_objects {
        let cur = cx
            .engine
            .with_catalog(|c| c.acl.lists.get(&object).cloned());
        if let Some(cur) = cur {
            let moved = acl::acl_new_owner(&cur, old, new);
            if moved != cur {
                cx.engine.catalog_change(
                    cx.txn,
                    CatalogChange::Acl(AclChange::Set {
                        object,
                        acl: Some(moved),
                    }),
                )?;
            }
        }
    }
    Ok(())
}

/// What `role` owns in the session's database (and the databases it owns).
fn owned_by(cx: &ExecCtx<'_>, role: u32) -> Vec<Owned> {
    let db = cx.db_oid;
    cx.engine.with_catalog(|c| {
        let mut out = Vec::new();
        for (_, t) in c.tables.range((db, 0)..=(db, u32::MAX)) {
            if t.owner == role {
                out.push(Owned::Relation(
                    AclObject::Relation { db, oid: t.oid },
                    acl::ObjectKind::Table,
                ));
            }
        }
        for (_, s) in c.ddl.sequences.range((db, 0)..=(db, u32::MAX)) {
            if s.owner == role {
                out.push(Owned::Relation(
                    AclObject::Relation { db, oid: s.oid },
                    acl::ObjectKind::Sequence,
                ));
            }
        }
        for (_, v) in c.ddl.views.range((db, 0)..=(db, u32::MAX)) {
            if v.owner == role {
                out.push(Owned::Relation(
                    AclObject::Relation { db, oid: v.oid },
                    acl::ObjectKind::View,
                ));
            }
        }
        for d in c.enums.values() {
            if d.db == db && d.owner == role {
                out.push(Owned::Type(d.oid));
            }
        }
        for (oid, (_, owner)) in &c.schemas {
            if *owner == role {
                out.push(Owned::Schema(*oid));
            }
        }
        for d in c.databases.values() {
            if d.owner == role {
                out.push(Owned::Database(d.oid));
            }
        }
        out
    })
}

/// Whether an ACL list mentions `role` (as grantee or grantor).
fn mentions(list: &[acl::AclItem], role: u32) -> bool {
    list.iter()
        .any(|it| it.grantee == role || it.grantor == role)
}

/// Whether a stored ACL's object belongs to database `db` (schemas and databases are
/// shared).
fn in_database(o: &AclObject, db: u32) -> bool {
    match o {
        AclObject::Relation { db: d, .. } | AclObject::Column { db: d, .. } => *d == db,
        AclObject::Schema(_) | AclObject::Database(_) => true,
    }
}

/// DROP OWNED's revocation: every privilege granted to `role` (and every grant it made)
/// on objects of this database, its schemas and the databases goes.
fn revoke_all_from(cx: &mut ExecCtx<'_>, role: u32) -> Result<()> {
    let db = cx.db_oid;
    let lists: Vec<(AclObject, Vec<acl::AclItem>)> = cx.engine.with_catalog(|c| {
        c.acl
            .lists
            .iter()
            .filter(|(o, a)| {
                in_database(o, db) && mentions(a, role) && acl::describe_object(c, o).is_some()
            })
            .map(|(o, a)| (*o, a.clone()))
            .collect()
    });
    for (object, mut list) in lists {
        let owner = cx
            .engine
            .with_catalog(|c| acl::describe_object(c, &object).map(|d| d.1));
        list.retain(|it| (it.grantee != role && it.grantor != role) || Some(it.grantee) == owner);
        cx.engine.catalog_change(
            cx.txn,
            CatalogChange::Acl(AclChange::Set {
                object,
                acl: Some(list),
            }),
        )?;
    }
    Ok(())
}

/// DROP OWNED's drop: the views, tables, sequences, types and schemas `role` owns in
/// this database.
fn drop_owned(cx: &mut ExecCtx<'_>, role: u32, cascade: bool) -> Result<()> {
    let db = cx.db_oid;
    let owned = owned_by(cx, role);
    let mut tables = Vec::new();
    for o in &owned {
        if let Owned::Relation(AclObject::Relation { oid, .. }, kind) = o {
            match kind {
                acl::ObjectKind::View => {
                    super::ddl::forget_comments(cx, *oid)?;
                    cx.engine.catalog_change(
                        cx.txn,
                        CatalogChange::Ddl(DdlChange::DropView { db, oid: *oid }),
                    )?;
                }
                acl::ObjectKind::Table => {
                    if let Some(t) = cx
                        .engine
                        .with_catalog(|c| c.tables.get(&(db, *oid)).cloned())
                    {
                        tables.push(t);
                    }
                }
                _ => {}
            }
        }
    }
    super::fkeys::on_drop_tables(cx, &tables, cascade)?;
    for t in &tables {
        super::ddl::on_drop_table(cx, t)?;
        cx.engine
            .catalog_change(cx.txn, CatalogChange::DropTable { db, oid: t.oid })?;
    }
    for o in &owned {
        match o {
            Owned::Relation(AclObject::Relation { oid, .. }, acl::ObjectKind::Sequence) => {
                // A sequence a dropped table owned is gone already.
                let exists = cx
                    .engine
                    .with_catalog(|c| c.ddl.sequences.contains_key(&(db, *oid)));
                if exists {
                    cx.engine.catalog_change(
                        cx.txn,
                        CatalogChange::Ddl(DdlChange::DropSequence { db, oid: *oid }),
                    )?;
                }
            }
            Owned::Type(oid) => {
                let d = cx.engine.with_catalog(|c| c.enums.get(oid).cloned());
                if let Some(d) = d {
                    super::enums::check_unused(cx, &d)?;
                    cx.engine.catalog_change(
                        cx.txn,
                        CatalogChange::Enum(EnumChange::Drop { oid: *oid }),
                    )?;
                }
            }
            _ => {}
        }
    }
    for o in &owned {
        if let Owned::Schema(oid) = o {
            let (name, used) = cx.engine.with_catalog(|c| {
                let used = c.tables.values().any(|t| t.schema == *oid)
                    || c.ddl.sequences.values().any(|s| s.schema == *oid)
                    || c.ddl.views.values().any(|v| v.schema == *oid)
                    || c.enums.values().any(|d| d.schema == *oid);
                (
                    c.schemas.get(oid).map(|s| s.0.clone()).unwrap_or_default(),
                    used,
                )
            });
            if used {
                return Err(err!(
                    sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
                    "cannot drop desired object(s) because other objects depend on them"
                )
                .with_detail(format!(
                    "objects of other roles in schema {name} depend on schema {name}"
                ))
                .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
            }
            cx.engine.catalog_change(
                cx.txn,
                CatalogChange::Ddl(DdlChange::DropSchema { oid: *oid }),
            )?;
        }
    }
    Ok(())
}

/// DROP ROLE's check: 2BP01 `role "r" cannot be dropped because some objects depend
/// on it` with PostgreSQL's DETAIL (what it owns and where it holds privileges in this
/// database, by object OID; a count per other database) when anything does.
pub fn check_droppable(cx: &ExecCtx<'_>, role: &RoleInfo) -> Result<()> {
    let db = cx.db_oid;
    let r = role.oid;
    let (mut local, others) = cx.engine.with_catalog(|c| {
        // (oid, column + 1 or 0, line) in this database; counts per other database.
        let mut local: Vec<(u32, u32, String)> = Vec::new();
        let mut others: BTreeMap<u32, usize> = BTreeMap::new();
        let mut add = |odb: Option<u32>, oid: u32, sub: u32, line: String| match odb {
            Some(d) if d != db => *others.entry(d).or_default() += 1,
            _ => local.push((oid, sub, line)),
        };
        for ((tdb, _), t) in &c.tables {
            if t.owner == r {
                add(Some(*tdb), t.oid, 0, format!("owner of table {}", t.name));
            }
        }
        for ((sdb, _), s) in &c.ddl.sequences {
            if s.owner == r {
                add(
                    Some(*sdb),
                    s.oid,
                    0,
                    format!("owner of sequence {}", s.name),
                );
            }
        }
        for ((vdb, _), v) in &c.ddl.views {
            if v.owner == r {
                add(Some(*vdb), v.oid, 0, format!("owner of view {}", v.name));
            }
        }
        for d in c.enums.values() {
            if d.owner == r {
                add(Some(d.db), d.oid, 0, format!("owner of type {}", d.name));
            }
        }
        for (oid, (name, owner)) in &c.schemas {
            if *owner == r {
                add(None, *oid, 0, format!("owner of schema {name}"));
            }
        }
        for d in c.databases.values() {
            if d.owner == r {
                add(None, d.oid, 0, format!("owner of database {}", d.name));
            }
        }
        for (o, list) in &c.acl.lists {
            if !mentions(list, r) {
                continue;
            }
            let Some((kind, owner, name)) = acl::describe_object(c, o) else {
                continue;
            };
            if owner == r {
                continue;
            }
            match *o {
                AclObject::Relation { db: odb, oid } => add(
                    Some(odb),
                    oid,
                    0,
                    format!("privileges for {} {name}", kind.name()),
                ),
                AclObject::Column {
                    db: odb,
                    table,
                    column,
                } => {
                    let tname = c
                        .tables
                        .get(&(odb, table))
                        .map(|t| t.name.clone())
                        .unwrap_or_default();
                    add(
                        Some(odb),
                        table,
                        column + 1,
                        format!("privileges for column {name} of table {tname}"),
                    )
                }
                AclObject::Schema(oid) => {
                    add(None, oid, 0, format!("privileges for schema {name}"))
                }
                AclObject::Database(oid) => {
                    add(None, oid, 0, format!("privileges for database {name}"))
                }
            }
        }
        let others: Vec<String> = others
            .into_iter()
            .map(|(d, n)| {
                let dname = c
                    .databases
                    .get(&d)
                    .map(|x| x.name.clone())
                    .unwrap_or_default();
                if n == 1 {
                    format!("1 object in database {dname}")
                } else {
                    format!("{n} objects in database {dname}")
                }
            })
            .collect();
        (local, others)
    });
    if local.is_empty() && others.is_empty() {
        return Ok(());
    }
    local.sort();
    local.dedup();
    let mut lines: Vec<String> = local.into_iter().map(|(_, _, l)| l).collect();
    lines.extend(others);
    Err(err!(
        sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
        "role \"{}\" cannot be dropped because some objects depend on it",
        role.name
    )
    .with_detail(lines.join("\n")))
}

/// Checks that the current role may drop or alter an object owned by `owner`.
pub fn check(cx: &ExecCtx<'_>, owner: u32, kind: &str, name: &str) -> Result<()> {
    let role = super::privileges::current_role_oid(cx);
    super::privileges::check_owner(cx.engine, cx.db_oid, role, owner, kind, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(s: &str) -> Option<OwnerStmt> {
        parse(&super::super::front::tokenize(s).unwrap()).unwrap()
    }

    #[test]
    fn parses_owner_statements_and_leaves_other_alters() {
        assert_eq!(
            parse_text("ALTER TABLE IF EXISTS ONLY s.t OWNER TO CURRENT_USER"),
            Some(OwnerStmt::AlterOwner {
                kind: OwnerKind::Table,
                if_exists: true,
                name: (Some("s".into()), "t".into()),
                owner: Grantee::Current,
            })
        );
        assert_eq!(
            parse_text("REASSIGN OWNED BY a, b TO c"),
            Some(OwnerStmt::Reassign {
                roles: vec![Grantee::Role("a".into()), Grantee::Role("b".into())],
                to: Grantee::Role("c".into()),
            })
        );
        assert_eq!(
            parse_text("DROP OWNED BY a CASCADE"),
            Some(OwnerStmt::DropOwned {
                roles: vec![Grantee::Role("a".into())],
                cascade: true,
            })
        );
        assert_eq!(parse_text("ALTER TABLE t ADD COLUMN owner int"), None);
        assert_eq!(parse_text("ALTER SEQUENCE s RESTART"), None);
        assert_eq!(parse_text("DROP TABLE owned"), None);
        assert_eq!(
            parse_text("ALTER SCHEMA s OWNER TO r").map(|o| o.tag()),
            Some("ALTER SCHEMA")
        );
    }
}
