//! `search_path`: the schemas an unqualified name is looked up in, and the schema an
//! unqualified CREATE goes to.
//!
//! What it owns: parsing the setting (`"$user", public`, quoted and unquoted names,
//! schemas that do not exist skipped, as PostgreSQL's `recomputeNamespacePath`), and
//! the path in effect for the statement the current thread is planning or running —
//! including the session's temporary namespace (`pg_temp_N`, see `storage::temp`).
//!
//! Invariants:
//! - The session calls [`enter`] (and [`enter_temp`]) before it plans or runs a
//!   statement, so the path in effect is always the session's setting resolved against
//!   the catalog as it is then (a schema created later joins the path at the next
//!   statement).
//! - `pg_catalog` is searched first unless the setting names it elsewhere;
//!   creation never goes to it implicitly.
//! - The session's temporary namespace, once it exists, is searched before everything
//!   else (even `pg_catalog`) unless the setting names `pg_temp` somewhere, as in
//!   PostgreSQL; `pg_temp` in the setting or as a qualifier means that namespace. It is
//!   hidden while a permanent view's stored query is planned ([`hiding_temp`]): a
//!   permanent view can never refer to a temporary object.
//! - The path is per thread: a backend runs its session on one thread, and a thread
//!   that runs several sessions (tests) enters each one's path before each statement.
//! - The session also enters the role its statement runs as ([`enter_role`]): the
//!   path keeps only the schemas that role has USAGE on (as PostgreSQL's path does),
//!   and `catalog`'s lookups of schemas named explicitly check USAGE, and creation
//!   CREATE, for it. Internal lookups (a view's stored query, resolved with its
//!   owner's rights in PostgreSQL) run [`unchecked`].
//!
//! What it must never do: change the catalog (creating the temporary namespace is the
//! session handle's job, `storage::temp::SessionTemp`), or fall back to `public` when
//! the path names no existing schema (creation then fails with 3F000, as in
//! PostgreSQL).
//!
//! One `SELECT * FROM t` with `search_path = s1, public` in a session that created a
//! temporary table:
//! 1. the session calls [`enter`] with the setting: the path is [s1, public], and
//!    [`enter_temp`] with its handle;
//! 2. `resolve_table` asks [`lookup_schemas`]: [pg_temp_1, pg_catalog, s1, public];
//! 3. the first schema holding a table `t` wins.

use crate::error::{sqlstate, Result};
use crate::storage::acl::{self, AclObject};
use crate::storage::schema::{PG_CATALOG_NAMESPACE, PUBLIC_NAMESPACE};
use crate::storage::temp::SessionTemp;
use crate::storage::Engine;
use crate::{bail, err};
use std::cell::{Cell, RefCell};
use std::sync::{Arc, Weak};

/// Stands for `pg_temp` in a path (and for a temporary namespace not created yet):
/// no schema has this OID, so a lookup in it finds nothing.
pub const PG_TEMP: u32 = u32::MAX;

thread_local! {
    /// The explicit path (existing schemas, in the setting's order; [`PG_TEMP`] where
    /// it names `pg_temp`) of the statement this thread runs; `public` alone until a
    /// session enters its own.
    static PATH: RefCell<Vec<u32>> = RefCell::new(vec![PUBLIC_NAMESPACE]);
    /// The temporary-namespace handle of the session this thread runs (weak: the
    /// session owns it, and its end must drop the namespace).
    static TEMP: RefCell<Weak<SessionTemp>> = const { RefCell::new(Weak::new()) };
    /// Set while the stored query of a permanent view is planned.
    static HIDE_TEMP: Cell<bool> = const { Cell::new(false) };
    /// How many names resolved into the temporary namespace on this thread (a view
    /// whose query raised it is a temporary view).
    static TEMP_USES: Cell<u64> = const { Cell::new(0) };
}

thread_local! {
    /// The (role OID, database OID) whose schema privileges this thread's lookups
    /// check; None: no checks.
    static ROLE: Cell<Option<(u32, u32)>> = const { Cell::new(None) };
}

/// Makes `role` (with the session's database) the role whose schema privileges this
/// thread's lookups check; None turns the checks off.
pub fn enter_role(role: Option<(u32, u32)>) {
    ROLE.with(|r| r.set(role));
}

/// The role (and database) lookups check, if any.
pub fn role() -> Option<(u32, u32)> {
    ROLE.with(|r| r.get())
}

/// Runs `f` with the checks off (lookups the statement's role does not make itself).
pub fn unchecked<R>(f: impl FnOnce() -> R) -> R {
    let saved = role();
    enter_role(None);
    let r = f();
    enter_role(saved);
    r
}

/// Whether the checked role holds `bits` on schema `oid` (true when nothing is checked,
/// and on the session's own temporary namespace, which PostgreSQL grants implicitly).
pub fn schema_allows(engine: &Engine, oid: u32, bits: u32) -> bool {
    if oid == PG_TEMP || is_my_temp(oid) {
        return true;
    }
    match role() {
        None => true,
        Some((role, db)) => engine.with_catalog(|c| {
            acl::privileges(c, db, &AclObject::Schema(oid), role).0 & bits == bits
        }),
    }
}

/// Splits the setting into schema names (quoted ones kept as written, unquoted ones
/// folded to lower case; `$user` kept as is).
pub fn parse(setting: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = setting.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            ',' if !quoted => {
                out.push(std::mem::take(&mut cur));
                was_quoted = false;
            }
            c if quoted => cur.push(c),
            c if c.is_whitespace() => {}
            c => cur.push(c.to_ascii_lowercase()),
        }
    }
    if !cur.is_empty() || was_quoted {
        out.push(cur);
    }
    out.retain(|s| !s.is_empty());
    out
}

/// The existing schemas the setting names, in order (`$user` is the schema named as
/// the session's user, when there is one), without those `user` lacks USAGE on in
/// database `db` (PostgreSQL's `recomputeNamespacePath`).
pub fn resolve(engine: &Engine, db: u32, setting: &str, user: &str) -> Vec<u32> {
    let names = parse(setting);
    engine.with_catalog(|c| {
        let role = c.role_by_name(user).map(|r| r.oid);
        let mut out: Vec<u32> = Vec::new();
        for n in names {
            let n = if n == "$user" { user.to_string() } else { n };
            if n == "pg_temp" {
                if !out.contains(&PG_TEMP) {
                    out.push(PG_TEMP);
                }
                continue;
            }
            if let Some((oid, _)) = c.schemas.iter().find(|(_, (name, _))| *name == n) {
                let usable = role.is_none_or(|r| {
                    acl::privileges(c, db, &AclObject::Schema(*oid), r).0 & acl::ACL_USAGE != 0
                });
                if usable && !out.contains(oid) {
                    out.push(*oid);
                }
            }
        }
        out
    })
}

/// Makes `path` (from [`resolve`]) the path of this thread's statements.
pub fn enter(path: Vec<u32>) {
    PATH.with(|p| *p.borrow_mut() = path);
}

/// [`enter`] without a copy when this thread's path already is `path` (a session's
/// statements after its first).
pub fn enter_if_changed(path: &[u32]) {
    PATH.with(|p| {
        if *p.borrow() != path {
            *p.borrow_mut() = path.to_vec();
        }
    });
}

/// Makes `temp` the temporary-namespace handle of this thread's statements.
pub fn enter_temp(temp: &Arc<SessionTemp>) {
    TEMP.with(|t| *t.borrow_mut() = Arc::downgrade(temp));
}

/// The session's temporary namespace, if it exists and is not hidden.
pub fn temp_namespace() -> Option<u32> {
    if HIDE_TEMP.with(|h| h.get()) {
        return None;
    }
    TEMP.with(|t| t.borrow().upgrade())
        .and_then(|t| t.namespace())
}

/// The session's temporary namespace for a CREATE, created now if needed. During
/// recovery nothing is created: [`PG_TEMP`] comes back, and the statement is refused
/// as a write before it runs (25006).
pub fn temp_namespace_for_create(engine: &Engine) -> Result<u32> {
    let Some(t) = TEMP.with(|t| t.borrow().upgrade()) else {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "temporary objects are only available to client sessions"
        );
    };
    if engine.in_recovery() && t.namespace().is_none() {
        return Ok(PG_TEMP);
    }
    t.namespace_or_create()
}

/// Whether `schema` is the session's own temporary namespace.
pub fn is_my_temp(schema: u32) -> bool {
    schema != PG_TEMP
        && TEMP
            .with(|t| t.borrow().upgrade())
            .and_then(|t| t.namespace())
            == Some(schema)
}

/// Notes that a name resolved into `schema` (counted when it is the session's
/// temporary namespace; see [`temp_uses`]).
pub fn note_resolved(schema: u32) {
    if is_my_temp(schema) {
        TEMP_USES.with(|c| c.set(c.get() + 1));
    }
}

/// How many names have resolved into the temporary namespace on this thread.
pub fn temp_uses() -> u64 {
    TEMP_USES.with(|c| c.get())
}

/// Runs `f` with the temporary namespace hidden (when `hide`) from lookups; the
/// previous state comes back however `f` ends.
pub fn hiding_temp<R>(hide: bool, f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            HIDE_TEMP.with(|h| h.set(self.0));
        }
    }
    let _restore = Restore(HIDE_TEMP.with(|h| h.replace(hide || h.get())));
    f()
}

/// The explicit path in effect (`pg_temp` as the temporary namespace's OID, or left
/// out while there is none).
pub fn current() -> Vec<u32> {
    let temp = temp_namespace();
    PATH.with(|p| {
        p.borrow()
            .iter()
            .filter_map(|&o| if o == PG_TEMP { temp } else { Some(o) })
            .collect()
    })
}

/// The schemas an unqualified name is looked up in, in order: the temporary namespace
/// first unless the path places `pg_temp`, then `pg_catalog` unless the path places it.
pub fn lookup_schemas() -> Vec<u32> {
    let explicit_temp = PATH.with(|p| p.borrow().contains(&PG_TEMP));
    let path = current();
    let mut out = Vec::new();
    if !explicit_temp {
        out.extend(temp_namespace());
    }
    if !path.contains(&PG_CATALOG_NAMESPACE) {
        out.push(PG_CATALOG_NAMESPACE);
    }
    out.extend(path);
    out
}

/// The schema an unqualified CREATE goes to: the first of the path (None when the
/// path names no existing schema).
pub fn creation_schema() -> Option<u32> {
    current().first().copied()
}

/// Whether an unqualified CREATE goes to the temporary namespace (`pg_temp` first in
/// the setting), creating it if needed.
pub fn creates_in_temp() -> bool {
    PATH.with(|p| p.borrow().first() == Some(&PG_TEMP))
}

/// PostgreSQL's error for a temporary object in a non-temporary schema (or another
/// session's temporary one).
pub fn not_temp_schema(other_session: bool) -> crate::error::Error {
    if other_session {
        err!(
            sqlstate::INVALID_TABLE_DEFINITION,
            "cannot create relations in temporary schemas of other sessions"
        )
    } else {
        err!(
            sqlstate::INVALID_TABLE_DEFINITION,
            "cannot create temporary relation in non-temporary schema"
        )
    }
}

/// Creating in the session's temporary namespace needs the TEMP privilege on the
/// database (42501 `permission denied to create temporary tables in database "d"`).
pub fn check_create_temp(engine: &Engine) -> Result<()> {
    let Some((role, db)) = role() else {
        return Ok(());
    };
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
        return Ok(());
    }
    bail!(
        sqlstate::INSUFFICIENT_PRIVILEGE,
        "permission denied to create temporary tables in database \"{name}\""
    )
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parses_postgres_forms() {
        assert_eq!(parse("\"$user\", public"), vec!["$user", "public"]);
        assert_eq!(parse("S1,\"My Schema\" , x"), vec!["s1", "My Schema", "x"]);
        assert_eq!(parse(""), Vec::<String>::new());
    }
}
