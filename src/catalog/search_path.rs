//! `search_path`: the schemas an unqualified name is looked up in, and the schema an
//! unqualified CREATE goes to.
//!
//! What it owns: parsing the setting (`"$user", public`, quoted and unquoted names,
//! schemas that do not exist skipped, as PostgreSQL's `recomputeNamespacePath`), and
//! the path in effect for the statement the current thread is planning or running.
//!
//! Invariants:
//! - The session calls [`enter`] before it plans or runs a statement, so the path in
//!   effect is always the session's setting resolved against the catalog as it is
//!   then (a schema created later joins the path at the next statement).
//! - `pg_catalog` is searched first unless the setting names it elsewhere;
//!   creation never goes to it implicitly.
//! - The path is per thread: a backend runs its session on one thread, and a thread
//!   that runs several sessions (tests) enters each one's path before each statement.
//!
//! - The session also enters the role its statement runs as ([`enter_role`]): the
//!   path keeps only the schemas that role has USAGE on (as PostgreSQL's path does),
//!   and `catalog`'s lookups of schemas named explicitly check USAGE, and creation
//!   CREATE, for it. Internal lookups (a view's stored query, resolved with its
//!   owner's rights in PostgreSQL) run [`unchecked`].
//!
//! What it must never do: change the catalog, or fall back to `public` when the path
//! names no existing schema (creation then fails with 3F000, as in PostgreSQL).
//!
//! One `SELECT * FROM t` with `search_path = s1, public`:
//! 1. the session calls [`enter`] with the setting: the path is [s1, public];
//! 2. `resolve_table` asks [`lookup_schemas`]: [pg_catalog, s1, public];
//! 3. the first schema holding a table `t` wins.

use crate::storage::acl::{self, AclObject};
use crate::storage::schema::{PG_CATALOG_NAMESPACE, PUBLIC_NAMESPACE};
use crate::storage::Engine;
use std::cell::{Cell, RefCell};

thread_local! {
    /// The explicit path (existing schemas, in the setting's order) of the statement
    /// this thread runs; `public` alone until a session enters its own.
    static PATH: RefCell<Vec<u32>> = RefCell::new(vec![PUBLIC_NAMESPACE]);
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

/// Whether the checked role holds `bits` on schema `oid` (true when nothing is checked).
pub fn schema_allows(engine: &Engine, oid: u32, bits: u32) -> bool {
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

/// The explicit path in effect.
pub fn current() -> Vec<u32> {
    PATH.with(|p| p.borrow().clone())
}

/// The schemas an unqualified name is looked up in, in order: `pg_catalog` first
/// unless the path places it.
pub fn lookup_schemas() -> Vec<u32> {
    let path = current();
    if path.contains(&PG_CATALOG_NAMESPACE) {
        path
    } else {
        let mut out = vec![PG_CATALOG_NAMESPACE];
        out.extend(path);
        out
    }
}

/// The schema an unqualified CREATE goes to: the first of the path (None when the
/// path names no existing schema).
pub fn creation_schema() -> Option<u32> {
    current().first().copied()
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
