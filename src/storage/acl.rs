//! Privileges and role-membership revocation: the access control lists of relations
//! (tables, views, sequences), columns, schemas and databases ([`AclCatalog`], kept
//! inside [`CatalogState`]), their WAL-logged changes ([`AclChange`], carried by
//! `CatalogChange::Acl`), and the pure evaluation of what a role may do with an object
//! ([`privileges`]).
//!
//! # The model (PostgreSQL's `relacl`, `attacl`, `nspacl`, `datacl`)
//!
//! An object without an entry here has PostgreSQL's default ACL ([`default_acl`],
//! PostgreSQL's `acldefault`): its owner holds every privilege of the object's kind;
//! PUBLIC holds TEMP and CONNECT on a database and USAGE on the system schemas and on
//! `public` (PostgreSQL 15's `public` is owned by `pg_database_owner` and grants
//! nobody else CREATE); a column's default ACL is empty (the table's ACL covers it).
//! The first GRANT or REVOKE stores the default list made explicit and changes it; from
//! then on the list alone decides, exactly as in PostgreSQL (an owner may revoke its
//! own privileges). An item is `grantee=privs/grantor` with grantee 0 meaning PUBLIC;
//! privilege bits follow PostgreSQL's `ACL_*` order, so the text form is PostgreSQL's
//! (`arwdDxt` for tables, `rwU` for sequences, `UC` for schemas, `CTc` for databases).
//!
//! A role holds the privileges of every item whose grantee is PUBLIC, itself, or a role
//! whose privileges it inherits ([`has_privs_of`]: membership followed only through
//! roles with INHERIT, as PostgreSQL's `has_privs_of_role`); the pseudo-role
//! `pg_database_owner` ([`PG_DATABASE_OWNER`]) stands for the owner of the database the
//! question is asked in. Superusers hold everything. The owner of an object (or a role
//! inheriting from it) holds every grant option on it.
//!
//! # Logging
//!
//! Every change is transactional: applied at once through `CatalogState::apply`
//! (undone on abort) and logged with its transaction's records at commit, so crash
//! recovery and standbys replay it. A change logs an object's whole new list, never a
//! delta, so redo is idempotent. The checkpoint image carries the lists of objects that
//! still exist after the `storage::enums` image ([`encode_image`]); an image without
//! them (written before this module existed) decodes as "all default".
//!
//! What this module must never do: parse SQL, read the session, or change state
//! outside [`apply`]/[`undo`] — the runtime and redo paths must give the same catalog.

use super::schema::{put_str, put_u32, CatalogState, PG_CATALOG_NAMESPACE, PUBLIC_NAMESPACE};
use crate::err;
use crate::error::{sqlstate, Result};
use crate::types::Reader;
use std::collections::BTreeMap;

/// INSERT (`a`).
pub const ACL_INSERT: u32 = 1 << 0;
/// SELECT (`r`).
pub const ACL_SELECT: u32 = 1 << 1;
/// UPDATE (`w`).
pub const ACL_UPDATE: u32 = 1 << 2;
/// DELETE (`d`).
pub const ACL_DELETE: u32 = 1 << 3;
/// TRUNCATE (`D`).
pub const ACL_TRUNCATE: u32 = 1 << 4;
/// REFERENCES (`x`).
pub const ACL_REFERENCES: u32 = 1 << 5;
/// TRIGGER (`t`).
pub const ACL_TRIGGER: u32 = 1 << 6;
/// EXECUTE (`X`; tusk has no user functions, so nothing holds it).
pub const ACL_EXECUTE: u32 = 1 << 7;
/// USAGE (`U`).
pub const ACL_USAGE: u32 = 1 << 8;
/// CREATE (`C`).
pub const ACL_CREATE: u32 = 1 << 9;
/// TEMPORARY (`T`).
pub const ACL_CREATE_TEMP: u32 = 1 << 10;
/// CONNECT (`c`).
pub const ACL_CONNECT: u32 = 1 << 11;
/// Every table (and view) privilege.
pub const ACL_ALL_TABLE: u32 = (1 << 7) - 1;
/// Every sequence privilege.
pub const ACL_ALL_SEQUENCE: u32 = ACL_USAGE | ACL_SELECT | ACL_UPDATE;
/// Every column privilege.
pub const ACL_ALL_COLUMN: u32 = ACL_SELECT | ACL_INSERT | ACL_UPDATE | ACL_REFERENCES;
/// Every schema privilege.
pub const ACL_ALL_SCHEMA: u32 = ACL_USAGE | ACL_CREATE;
/// Every database privilege.
pub const ACL_ALL_DATABASE: u32 = ACL_CREATE | ACL_CREATE_TEMP | ACL_CONNECT;
/// The letters of the privilege bits, lowest bit first (PostgreSQL's
/// `ACL_ALL_RIGHTS_STR` up to CONNECT).
pub const ACL_LETTERS: &[u8; 12] = b"arwdDxtXUCTc";
/// The OID of PostgreSQL's `pg_database_owner` pseudo-role, whose only member is the
/// owner of the current database (it owns the `public` schema).
pub const PG_DATABASE_OWNER: u32 = 6171;

/// One ACL item: `grantee=privs/grantor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclItem {
    /// The grantee's role OID; 0 is PUBLIC.
    pub grantee: u32,
    /// The grantor's role OID.
    pub grantor: u32,
    /// The privilege bits held.
    pub privs: u32,
    /// The privilege bits held WITH GRANT OPTION (a subset of `privs`).
    pub grant_opts: u32,
}

/// An object that has an ACL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AclObject {
    /// A table, view or sequence of a database.
    Relation {
        /// The database OID.
        db: u32,
        /// The relation's OID.
        oid: u32,
    },
    /// A column of a table (`attacl`).
    Column {
        /// The database OID.
        db: u32,
        /// The table's OID.
        table: u32,
        /// The column's position (0-based; tusk never renumbers columns).
        column: u32,
    },
    /// A schema.
    Schema(u32),
    /// A database.
    Database(u32),
}

/// The stored (non-default) ACLs.
#[derive(Debug, Clone, Default)]
pub struct AclCatalog {
    /// Explicit ACLs by object; an object missing here has its default ACL.
    pub lists: BTreeMap<AclObject, Vec<AclItem>>,
}

/// One WAL-logged change of privileges or memberships.
#[derive(Debug, Clone, PartialEq)]
pub enum AclChange {
    /// Replaces an object's ACL (None: back to the default).
    Set {
        /// The object.
        object: AclObject,
        /// The new list.
        acl: Option<Vec<AclItem>>,
    },
    /// Removes `member` from `role` (REVOKE role FROM member).
    RevokeMembership {
        /// The group role.
        role: u32,
        /// The member role.
        member: u32,
    },
}

/// What reverts one applied [`AclChange`].
#[derive(Debug, Clone)]
pub enum AclUndo {
    /// Restore an object's previous ACL.
    List(AclObject, Option<Vec<AclItem>>),
    /// Restore a revoked membership.
    Membership(u32, u32),
}

/// The kind of an object, which decides its privileges and default ACL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// A table.
    Table,
    /// A view.
    View,
    /// A sequence.
    Sequence,
    /// A column.
    Column,
    /// A schema.
    Schema,
    /// A database.
    Database,
}

impl ObjectKind {
    /// Every privilege an object of this kind can have.
    pub fn all(self) -> u32 {
        match self {
            ObjectKind::Table | ObjectKind::View => ACL_ALL_TABLE,
            ObjectKind::Sequence => ACL_ALL_SEQUENCE,
            ObjectKind::Column => ACL_ALL_COLUMN,
            ObjectKind::Schema => ACL_ALL_SCHEMA,
            ObjectKind::Database => ACL_ALL_DATABASE,
        }
    }

    /// The kind's name in PostgreSQL's messages (`permission denied for table t`).
    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::Table | ObjectKind::Column => "table",
            ObjectKind::View => "view",
            ObjectKind::Sequence => "sequence",
            ObjectKind::Schema => "schema",
            ObjectKind::Database => "database",
        }
    }
}

/// An object's kind, owner and (for messages) name, if it exists.
pub fn describe_object(
    cat: &CatalogState,
    object: &AclObject,
) -> Option<(ObjectKind, u32, String)> {
    match *object {
        AclObject::Relation { db, oid } => {
            if let Some(t) = cat.tables.get(&(db, oid)) {
                return Some((ObjectKind::Table, t.owner, t.name.clone()));
            }
            if let Some(s) = cat.ddl.sequences.get(&(db, oid)) {
                return Some((ObjectKind::Sequence, s.owner, s.name.clone()));
            }
            cat.ddl
                .views
                .get(&(db, oid))
                .map(|v| (ObjectKind::View, v.owner, v.name.clone()))
        }
        AclObject::Column { db, table, column } => {
            let t = cat.tables.get(&(db, table))?;
            let c = t.columns.get(column as usize)?;
            Some((ObjectKind::Column, t.owner, c.name.clone()))
        }
        AclObject::Schema(oid) => cat
            .schemas
            .get(&oid)
            .map(|(n, owner)| (ObjectKind::Schema, *owner, n.clone())),
        AclObject::Database(oid) => cat
            .databases
            .get(&oid)
            .map(|d| (ObjectKind::Database, d.owner, d.name.clone())),
    }
}

/// PostgreSQL's `acldefault`: the ACL an object of `kind` owned by `owner` has while
/// none is stored.
pub fn default_acl(kind: ObjectKind, owner: u32, object: &AclObject) -> Vec<AclItem> {
    let own = |privs| AclItem {
        grantee: owner,
        grantor: owner,
        privs,
        grant_opts: 0,
    };
    let public = |privs| AclItem {
        grantee: 0,
        grantor: owner,
        privs,
        grant_opts: 0,
    };
    match kind {
        ObjectKind::Column => vec![],
        ObjectKind::Database => vec![public(ACL_CREATE_TEMP | ACL_CONNECT), own(ACL_ALL_DATABASE)],
        ObjectKind::Schema => {
            let system = matches!(
                object,
                AclObject::Schema(PG_CATALOG_NAMESPACE | PUBLIC_NAMESPACE)
            );
            if system {
                vec![own(ACL_ALL_SCHEMA), public(ACL_USAGE)]
            } else {
                vec![own(ACL_ALL_SCHEMA)]
            }
        }
        k => vec![own(k.all())],
    }
}

/// The object's ACL as stored, or its default one (empty when the object is gone).
pub fn acl_of(cat: &CatalogState, object: &AclObject) -> Vec<AclItem> {
    if let Some(a) = cat.acl.lists.get(object) {
        return a.clone();
    }
    match describe_object(cat, object) {
        Some((kind, owner, _)) => default_acl(kind, owner, object),
        None => vec![],
    }
}

/// Whether `role` has the privileges of `group` (PostgreSQL's `has_privs_of_role`):
/// itself, or a group reached through memberships of roles that INHERIT.
pub fn has_privs_of(cat: &CatalogState, role: u32, group: u32) -> bool {
    if role == group {
        return true;
    }
    let mut seen = vec![role];
    let mut i = 0;
    while i < seen.len() {
        let cur = seen[i];
        i += 1;
        if !cat.roles.get(&cur).is_some_and(|r| r.inherit) {
            continue;
        }
        for (g, m) in &cat.memberships {
            if *m == cur && !seen.contains(g) {
                if *g == group {
                    return true;
                }
                seen.push(*g);
            }
        }
    }
    false
}

/// Whether `role` holds the privileges granted to `grantee` (PUBLIC, itself, a group
/// it inherits from), without regard to a database.
pub fn holds(cat: &CatalogState, role: u32, grantee: u32) -> bool {
    grantee == 0 || has_privs_of(cat, role, grantee)
}

/// [`holds`] in database `db`, where `pg_database_owner` is the database's owner.
pub fn holds_in(cat: &CatalogState, db: u32, role: u32, grantee: u32) -> bool {
    if grantee == PG_DATABASE_OWNER && role != PG_DATABASE_OWNER {
        return cat
            .databases
            .get(&db)
            .is_some_and(|d| has_privs_of(cat, role, d.owner));
    }
    holds(cat, role, grantee)
}

/// Whether `role` is a superuser.
pub fn is_superuser(cat: &CatalogState, role: u32) -> bool {
    cat.roles.get(&role).is_some_and(|r| r.superuser)
}

/// Whether `role` has the privileges of the owner `owner` in database `db` (or is a
/// superuser): PostgreSQL's ownership checks.
pub fn owns(cat: &CatalogState, db: u32, role: u32, owner: u32) -> bool {
    is_superuser(cat, role) || holds_in(cat, db, role, owner)
}

/// The privilege bits `role` holds on the object, and those it may grant, in database
/// `db` (for schemas and databases, the database the question is asked in). Owners'
/// implicit grant options and superusers' everything are included; a missing object
/// gives nothing.
pub fn privileges(cat: &CatalogState, db: u32, object: &AclObject, role: u32) -> (u32, u32) {
    let Some((kind, owner, _)) = describe_object(cat, object) else {
        return (0, 0);
    };
    if is_superuser(cat, role) {
        return (kind.all(), kind.all());
    }
    let acl = cat
        .acl
        .lists
        .get(object)
        .cloned()
        .unwrap_or_else(|| default_acl(kind, owner, object));
    let mut privs = 0;
    let mut opts = 0;
    for it in &acl {
        if holds_in(cat, db, role, it.grantee) {
            privs |= it.privs;
            opts |= it.grant_opts;
        }
    }
    if owner != 0 && holds_in(cat, db, role, owner) {
        opts = kind.all();
    }
    (privs, opts)
}

/// The column privileges `role` holds on column `column` of a table, the table's own
/// privileges included (a table privilege covers all its columns).
pub fn column_privileges(cat: &CatalogState, db: u32, table: u32, column: u32, role: u32) -> u32 {
    let (t, _) = privileges(cat, db, &AclObject::Relation { db, oid: table }, role);
    let (c, _) = privileges(cat, db, &AclObject::Column { db, table, column }, role);
    (t | c) & ACL_ALL_COLUMN
}

/// Whether `role` holds any of `bits` on at least one column of the table (PostgreSQL's
/// `pg_attribute_aclcheck_all` with ACLMASK_ANY), table privileges included.
pub fn any_column_privilege(cat: &CatalogState, db: u32, table: u32, role: u32, bits: u32) -> bool {
    let (t, _) = privileges(cat, db, &AclObject::Relation { db, oid: table }, role);
    if t & bits != 0 {
        return true;
    }
    let n = cat.tables.get(&(db, table)).map_or(0, |t| t.columns.len());
    (0..n as u32).any(|column| {
        let (c, _) = privileges(cat, db, &AclObject::Column { db, table, column }, role);
        c & bits != 0
    })
}

/// Whether the table has a stored ACL on any of its columns.
pub fn has_column_acls(cat: &CatalogState, db: u32, table: u32) -> bool {
    cat.acl
        .lists
        .range(
            AclObject::Column {
                db,
                table,
                column: 0,
            }..=AclObject::Column {
                db,
                table,
                column: u32::MAX,
            },
        )
        .any(|(_, a)| !a.is_empty())
}

/// A role's name as an ACL shows it (quoted when needed; an unknown OID as digits).
pub fn role_name(cat: &CatalogState, oid: u32) -> String {
    if oid == PG_DATABASE_OWNER {
        return "pg_database_owner".into();
    }
    cat.roles
        .get(&oid)
        .map(|r| r.name.clone())
        .unwrap_or_else(|| oid.to_string())
}

/// The text form of an ACL (`{postgres=arwdDxt/postgres,=r/postgres}`), as
/// `pg_class.relacl` shows it.
pub fn acl_text(cat: &CatalogState, acl: &[AclItem]) -> String {
    let name = |oid: u32| {
        let n = role_name(cat, oid);
        if n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            n
        } else {
            format!("\"{}\"", n.replace('"', "\"\""))
        }
    };
    let items: Vec<String> = acl
        .iter()
        .map(|it| {
            let mut s = if it.grantee == 0 {
                String::new()
            } else {
                name(it.grantee)
            };
            s.push('=');
            for (i, l) in ACL_LETTERS.iter().enumerate() {
                if it.privs & (1 << i) != 0 {
                    s.push(*l as char);
                    if it.grant_opts & (1 << i) != 0 {
                        s.push('*');
                    }
                }
            }
            s.push('/');
            s.push_str(&name(it.grantor));
            s
        })
        .collect();
    format!("{{{}}}", items.join(","))
}

/// PostgreSQL's `aclnewowner`: the list with `old` replaced by `new` as grantee and
/// grantor, items that then coincide merged.
pub fn acl_new_owner(acl: &[AclItem], old: u32, new: u32) -> Vec<AclItem> {
    let mut out: Vec<AclItem> = Vec::new();
    for it in acl {
        let mut it = it.clone();
        if it.grantee == old {
            it.grantee = new;
        }
        if it.grantor == old {
            it.grantor = new;
        }
        match out
            .iter_mut()
            .find(|o| o.grantee == it.grantee && o.grantor == it.grantor)
        {
            Some(o) => {
                o.privs |= it.privs;
                o.grant_opts |= it.grant_opts;
            }
            None => out.push(it),
        }
    }
    out
}

/// Applies a change; returns what undoes it.
pub fn apply(cat: &mut CatalogState, c: &AclChange) -> Option<AclUndo> {
    match c {
        AclChange::Set { object, acl } => {
            let old = match acl {
                Some(a) => cat.acl.lists.insert(*object, a.clone()),
                None => cat.acl.lists.remove(object),
            };
            Some(AclUndo::List(*object, old))
        }
        AclChange::RevokeMembership { role, member } => {
            let before = cat.memberships.len();
            cat.memberships.retain(|x| *x != (*role, *member));
            (cat.memberships.len() != before).then_some(AclUndo::Membership(*role, *member))
        }
    }
}

/// Reverts one change with what [`apply`] returned.
pub fn undo(cat: &mut CatalogState, u: AclUndo) {
    match u {
        AclUndo::List(object, old) => match old {
            Some(a) => {
                cat.acl.lists.insert(object, a);
            }
            None => {
                cat.acl.lists.remove(&object);
            }
        },
        AclUndo::Membership(role, member) => cat.memberships.push((role, member)),
    }
}

fn put_acl(out: &mut Vec<u8>, acl: &Option<Vec<AclItem>>) {
    match acl {
        None => out.push(0),
        Some(a) => {
            out.push(1);
            put_u32(out, a.len() as u32);
            for it in a {
                put_u32(out, it.grantee);
                put_u32(out, it.grantor);
                put_u32(out, it.privs);
                put_u32(out, it.grant_opts);
            }
        }
    }
}

fn get_acl(r: &mut Reader<'_>) -> Result<Option<Vec<AclItem>>> {
    if r.u8()? == 0 {
        return Ok(None);
    }
    let n = r.u32()?;
    let mut a = Vec::new();
    for _ in 0..n {
        a.push(AclItem {
            grantee: r.u32()?,
            grantor: r.u32()?,
            privs: r.u32()?,
            grant_opts: r.u32()?,
        });
    }
    Ok(Some(a))
}

impl AclChange {
    /// Encodes the change (a tag byte and its fields; tag 1, a relation's list, is
    /// the table-ACL record of earlier versions).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            AclChange::Set { object, acl } => {
                match *object {
                    AclObject::Relation { db, oid } => {
                        out.push(1);
                        put_u32(out, db);
                        put_u32(out, oid);
                    }
                    AclObject::Column { db, table, column } => {
                        out.push(3);
                        put_u32(out, db);
                        put_u32(out, table);
                        put_u32(out, column);
                    }
                    AclObject::Schema(oid) => {
                        out.push(4);
                        put_u32(out, oid);
                    }
                    AclObject::Database(oid) => {
                        out.push(5);
                        put_u32(out, oid);
                    }
                }
                put_acl(out, acl);
            }
            AclChange::RevokeMembership { role, member } => {
                out.push(2);
                put_u32(out, *role);
                put_u32(out, *member);
            }
        }
    }

    /// Decodes a change written by [`encode`](Self::encode).
    pub fn decode(r: &mut Reader<'_>) -> Result<AclChange> {
        let object = match r.u8()? {
            1 => AclObject::Relation {
                db: r.u32()?,
                oid: r.u32()?,
            },
            2 => {
                return Ok(AclChange::RevokeMembership {
                    role: r.u32()?,
                    member: r.u32()?,
                })
            }
            3 => AclObject::Column {
                db: r.u32()?,
                table: r.u32()?,
                column: r.u32()?,
            },
            4 => AclObject::Schema(r.u32()?),
            5 => AclObject::Database(r.u32()?),
            t => {
                return Err(err!(
                    sqlstate::DATA_CORRUPTED,
                    "unknown privilege change tag {t}"
                ))
            }
        };
        Ok(AclChange::Set {
            object,
            acl: get_acl(r)?,
        })
    }

    /// A one-line description for WAL dumps.
    pub fn describe(&self) -> String {
        match self {
            AclChange::Set { object, acl } => {
                let what = match object {
                    AclObject::Relation { db, oid } => format!("db {db} relation {oid}"),
                    AclObject::Column { db, table, column } => {
                        format!("db {db} relation {table} column {column}")
                    }
                    AclObject::Schema(oid) => format!("schema {oid}"),
                    AclObject::Database(oid) => format!("database {oid}"),
                };
                match acl {
                    None => format!("SET ACL {what} default"),
                    Some(a) => format!("SET ACL {what} items {}", a.len()),
                }
            }
            AclChange::RevokeMembership { role, member } => {
                format!("REVOKE MEMBERSHIP role {role} member {member}")
            }
        }
    }
}

/// Appends the ACLs of existing objects to a catalog image.
pub fn encode_image(cat: &CatalogState, out: &mut Vec<u8>) {
    let live: Vec<AclChange> = cat
        .acl
        .lists
        .iter()
        .filter(|(o, _)| describe_object(cat, o).is_some())
        .map(|(o, a)| AclChange::Set {
            object: *o,
            acl: Some(a.clone()),
        })
        .collect();
    put_u32(out, live.len() as u32);
    for c in &live {
        c.encode(out);
    }
    // A marker so that an image section from a later module stays distinguishable.
    put_str(out, "");
}

/// Reads what [`encode_image`] wrote; an image that ends before it has no ACLs.
pub fn decode_image(cat: &mut CatalogState, r: &mut Reader<'_>) -> Result<()> {
    if r.remaining().is_empty() {
        return Ok(());
    }
    let n = r.u32()?;
    for _ in 0..n {
        let c = AclChange::decode(r)?;
        apply(cat, &c);
    }
    r.string()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::schema::{DatabaseInfo, RoleInfo};

    fn role(oid: u32, name: &str, inherit: bool) -> RoleInfo {
        RoleInfo {
            oid,
            name: name.into(),
            superuser: false,
            inherit,
            createrole: false,
            createdb: false,
            login: true,
            replication: false,
            bypassrls: false,
            conn_limit: -1,
            password: None,
            valid_until: None,
        }
    }

    fn catalog() -> CatalogState {
        let mut c = CatalogState::default();
        c.roles.insert(20, role(20, "alice", true));
        c.roles.insert(21, role(21, "bob", false));
        c.roles.insert(22, role(22, "grp", true));
        c.databases.insert(
            5,
            DatabaseInfo {
                oid: 5,
                name: "postgres".into(),
                owner: 20,
                allow_connections: true,
                is_template: false,
                conn_limit: -1,
            },
        );
        c.schemas
            .insert(PUBLIC_NAMESPACE, ("public".into(), PG_DATABASE_OWNER));
        c.schemas.insert(30, ("s".into(), 21));
        c
    }

    #[test]
    fn defaults_follow_acldefault() {
        let c = catalog();
        let public = AclObject::Schema(PUBLIC_NAMESPACE);
        assert_eq!(
            acl_text(&c, &acl_of(&c, &public)),
            "{pg_database_owner=UC/pg_database_owner,=U/pg_database_owner}"
        );
        assert_eq!(
            acl_text(&c, &acl_of(&c, &AclObject::Database(5))),
            "{=Tc/alice,alice=CTc/alice}"
        );
        // The database owner holds pg_database_owner's CREATE on public; others USAGE.
        assert_eq!(privileges(&c, 5, &public, 20).0, ACL_USAGE | ACL_CREATE);
        assert_eq!(privileges(&c, 5, &public, 21).0, ACL_USAGE);
        assert_eq!(privileges(&c, 5, &AclObject::Schema(30), 20).0, 0);
        let (p, o) = privileges(&c, 5, &AclObject::Schema(30), 21);
        assert_eq!((p, o), (ACL_ALL_SCHEMA, ACL_ALL_SCHEMA));
    }

    #[test]
    fn noinherit_roles_do_not_use_their_groups_privileges() {
        let mut c = catalog();
        c.memberships.push((22, 20));
        c.memberships.push((22, 21));
        c.acl.lists.insert(
            AclObject::Schema(30),
            vec![AclItem {
                grantee: 22,
                grantor: 21,
                privs: ACL_USAGE,
                grant_opts: 0,
            }],
        );
        assert!(has_privs_of(&c, 20, 22));
        assert!(!has_privs_of(&c, 21, 22));
        assert_eq!(privileges(&c, 5, &AclObject::Schema(30), 20).0, ACL_USAGE);
    }

    #[test]
    fn changes_round_trip_and_new_owner_merges() {
        let obj = AclObject::Column {
            db: 5,
            table: 40,
            column: 2,
        };
        let ch = AclChange::Set {
            object: obj,
            acl: Some(vec![AclItem {
                grantee: 21,
                grantor: 20,
                privs: ACL_SELECT | ACL_UPDATE,
                grant_opts: ACL_SELECT,
            }]),
        };
        let mut buf = Vec::new();
        ch.encode(&mut buf);
        let mut r = Reader::new(&buf);
        assert_eq!(AclChange::decode(&mut r).unwrap(), ch);
        let acl = vec![
            AclItem {
                grantee: 20,
                grantor: 20,
                privs: ACL_ALL_TABLE,
                grant_opts: 0,
            },
            AclItem {
                grantee: 21,
                grantor: 20,
                privs: ACL_SELECT,
                grant_opts: 0,
            },
            AclItem {
                grantee: 21,
                grantor: 21,
                privs: ACL_INSERT,
                grant_opts: 0,
            },
        ];
        let moved = acl_new_owner(&acl, 20, 21);
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].privs, ACL_ALL_TABLE);
    }
}
