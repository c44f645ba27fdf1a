//! Table privileges and role-membership revocation: the access control lists of
//! tables ([`AclCatalog`], kept inside [`CatalogState`]), their WAL-logged changes
//! ([`AclChange`], carried by `CatalogChange::Acl`), and the pure evaluation of what a
//! role may do with a table ([`table_privileges`]).
//!
//! # The model (PostgreSQL's `relacl`)
//!
//! A table without an entry here has PostgreSQL's default ACL (`relacl` NULL): its
//! owner holds every privilege, nobody else any. The first GRANT or REVOKE stores the
//! default list made explicit ([`default_acl`]) and changes it; from then on the list
//! alone decides, exactly as in PostgreSQL (an owner may revoke its own privileges). An
//! item is `grantee=privs/grantor` with grantee 0 meaning PUBLIC; privilege bits follow
//! PostgreSQL's `ACL_*` order so the text form is `arwdDxt`.
//!
//! A role holds the privileges of every item whose grantee is PUBLIC, itself, or a
//! role it is a member of (directly or through other groups). Superusers hold all.
//!
//! # Logging
//!
//! Every change is transactional: applied at once through `CatalogState::apply`
//! (undone on abort) and logged with its transaction's records at commit, so crash
//! recovery and standbys replay it. A change logs a table's whole new list, never a
//! delta, so redo is idempotent. The checkpoint image carries the lists after the
//! `storage::ddl` image ([`encode_image`]); an image without them (written before this
//! module existed) decodes as "all default".
//!
//! What this module must never do: parse SQL, read the session, or change state
//! outside [`apply`]/[`undo`] — the runtime and redo paths must give the same catalog.

use super::schema::{put_str, put_u32, CatalogState, TableDef};
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
/// Every table privilege.
pub const ACL_ALL_TABLE: u32 = (1 << 7) - 1;
/// The letters of the privilege bits, lowest bit first (PostgreSQL's `ACL_ALL_RIGHTS_STR`
/// prefix for tables).
pub const ACL_LETTERS: &[u8; 7] = b"arwdDxt";

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

/// The ACLs of tables with a non-default one, by (database OID, table OID).
#[derive(Debug, Clone, Default)]
pub struct AclCatalog {
    /// Explicit ACLs; a table missing here has the default ACL.
    pub tables: BTreeMap<(u32, u32), Vec<AclItem>>,
}

/// One WAL-logged change of privileges or memberships.
#[derive(Debug, Clone, PartialEq)]
pub enum AclChange {
    /// Replaces a table's ACL (None: back to the default).
    SetTableAcl {
        /// The database OID.
        db: u32,
        /// The table OID.
        table: u32,
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
    /// Restore a table's previous ACL.
    TableAcl((u32, u32), Option<Vec<AclItem>>),
    /// Restore a revoked membership.
    Membership(u32, u32),
}

/// The ACL PostgreSQL means by a NULL `relacl`: the owner holds every privilege.
pub fn default_acl(owner: u32) -> Vec<AclItem> {
    vec![AclItem {
        grantee: owner,
        grantor: owner,
        privs: ACL_ALL_TABLE,
        grant_opts: 0,
    }]
}

/// The table's ACL as stored, or the default one.
pub fn table_acl(cat: &CatalogState, db: u32, def: &TableDef) -> Vec<AclItem> {
    cat.acl
        .tables
        .get(&(db, def.oid))
        .cloned()
        .unwrap_or_else(|| default_acl(def.owner))
}

/// Whether `role` holds the privileges granted to `grantee` (PUBLIC, itself, or a
/// group it belongs to).
pub fn holds(cat: &CatalogState, role: u32, grantee: u32) -> bool {
    grantee == 0 || grantee == role || cat.is_member_of(role, grantee)
}

/// The privilege bits `role` holds on the table, and those it may grant. Owners'
/// implicit grant option and superusers' everything are included.
pub fn table_privileges(cat: &CatalogState, db: u32, def: &TableDef, role: u32) -> (u32, u32) {
    if cat.roles.get(&role).is_some_and(|r| r.superuser) {
        return (ACL_ALL_TABLE, ACL_ALL_TABLE);
    }
    let mut privs = 0;
    let mut opts = 0;
    for it in table_acl(cat, db, def) {
        if holds(cat, role, it.grantee) {
            privs |= it.privs;
            opts |= it.grant_opts;
        }
    }
    if holds(cat, role, def.owner) && def.owner != 0 {
        opts = ACL_ALL_TABLE;
    }
    (privs, opts)
}

/// The text form of an ACL (`{postgres=arwdDxt/postgres,=r/postgres}`), as
/// `pg_class.relacl` shows it.
pub fn acl_text(cat: &CatalogState, acl: &[AclItem]) -> String {
    let name = |oid: u32| {
        let n = cat
            .roles
            .get(&oid)
            .map(|r| r.name.clone())
            .unwrap_or_else(|| oid.to_string());
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

/// Applies a change; returns what undoes it.
pub fn apply(cat: &mut CatalogState, c: &AclChange) -> Option<AclUndo> {
    match c {
        AclChange::SetTableAcl { db, table, acl } => {
            let key = (*db, *table);
            let old = match acl {
                Some(a) => cat.acl.tables.insert(key, a.clone()),
                None => cat.acl.tables.remove(&key),
            };
            Some(AclUndo::TableAcl(key, old))
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
        AclUndo::TableAcl(key, old) => match old {
            Some(a) => {
                cat.acl.tables.insert(key, a);
            }
            None => {
                cat.acl.tables.remove(&key);
            }
        },
        AclUndo::Membership(role, member) => cat.memberships.push((role, member)),
    }
}

impl AclChange {
    /// Encodes the change (a tag byte and its fields).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            AclChange::SetTableAcl { db, table, acl } => {
                out.push(1);
                put_u32(out, *db);
                put_u32(out, *table);
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
            AclChange::RevokeMembership { role, member } => {
                out.push(2);
                put_u32(out, *role);
                put_u32(out, *member);
            }
        }
    }

    /// Decodes a change written by [`encode`](Self::encode).
    pub fn decode(r: &mut Reader<'_>) -> Result<AclChange> {
        Ok(match r.u8()? {
            1 => {
                let db = r.u32()?;
                let table = r.u32()?;
                let acl = if r.u8()? == 0 {
                    None
                } else {
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
                    Some(a)
                };
                AclChange::SetTableAcl { db, table, acl }
            }
            2 => AclChange::RevokeMembership {
                role: r.u32()?,
                member: r.u32()?,
            },
            t => {
                return Err(err!(
                    sqlstate::DATA_CORRUPTED,
                    "unknown privilege change tag {t}"
                ))
            }
        })
    }

    /// A one-line description for WAL dumps.
    pub fn describe(&self) -> String {
        match self {
            AclChange::SetTableAcl { db, table, acl } => match acl {
                None => format!("SET ACL db {db} table {table} default"),
                Some(a) => format!("SET ACL db {db} table {table} items {}", a.len()),
            },
            AclChange::RevokeMembership { role, member } => {
                format!("REVOKE MEMBERSHIP role {role} member {member}")
            }
        }
    }
}

/// Appends the ACLs of existing tables to a catalog image.
pub fn encode_image(cat: &CatalogState, out: &mut Vec<u8>) {
    let live: Vec<AclChange> = cat
        .acl
        .tables
        .iter()
        .filter(|(k, _)| cat.tables.contains_key(k))
        .map(|((db, table), a)| AclChange::SetTableAcl {
            db: *db,
            table: *table,
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
