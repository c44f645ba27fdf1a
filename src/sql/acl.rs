//! GRANT and REVOKE, and the privilege checks statements make: the parser for
//! `GRANT/REVOKE privileges ON [TABLE] … | ALL TABLES IN SCHEMA …` and
//! `GRANT/REVOKE role TO/FROM role` ([`parse_front`], reached from `front::parse`),
//! their execution ([`execute`]), and [`check_table`], which the binder calls for
//! every table a statement reads or writes.
//!
//! # Where checks happen
//!
//! The binder checks each table as it resolves it (SELECT for a table read anywhere
//! in a query, INSERT/UPDATE/DELETE/TRUNCATE for a target, SELECT too when UPDATE or
//! DELETE read the target's columns). Binding happens per execution: a session's plan
//! cache is keyed by the catalog version, which every GRANT, REVOKE and membership
//! change bumps, and a session's role never changes — so a cached plan never outlives
//! the privileges it was checked against.
//!
//! # What is refused rather than guessed
//!
//! Privileges on sequences, schemas, databases, functions and other objects, column
//! privileges, `WITH ADMIN OPTION`, `GRANTED BY` and GRANT on views fail with 0A000.
//! A view has its default ACL: its owner and superusers may read it, others get 42501.
//!
//! What this module must never do: change privileges other than through
//! `CatalogChange::Acl` / `CatalogChange::Grant` (the WAL must carry every change), or
//! let a check fall open when a role or table cannot be found.

use super::front::{tokenize, Tok};
use super::ExecCtx;
use crate::error::{sqlstate, Error, Result, Severity};
use crate::storage::acl::{self, AclChange, AclItem, ACL_ALL_TABLE};
use crate::storage::schema::{CatalogChange, CatalogState, TableDef};
use crate::storage::Engine;
use crate::{bail, err};
use std::sync::Arc;

/// Who receives or loses privileges.
#[derive(Debug, Clone, PartialEq)]
pub enum Grantee {
    /// PUBLIC.
    Public,
    /// A role by name (CURRENT_USER etc. already resolved to a marker below).
    Role(String),
    /// CURRENT_USER / CURRENT_ROLE / SESSION_USER.
    Current,
}

/// The objects of a privilege GRANT/REVOKE.
#[derive(Debug, Clone, PartialEq)]
pub enum Objects {
    /// Tables by (schema, name).
    Tables(Vec<(Option<String>, String)>),
    /// ALL TABLES IN SCHEMA s, ….
    AllTablesIn(Vec<String>),
}

/// A parsed GRANT or REVOKE.
#[derive(Debug, Clone, PartialEq)]
pub enum AclStmt {
    /// GRANT/REVOKE privileges ON tables.
    Privileges {
        /// GRANT (true) or REVOKE.
        grant: bool,
        /// REVOKE GRANT OPTION FOR.
        option_only: bool,
        /// The privilege bits; `None` for ALL [PRIVILEGES].
        privs: Option<u32>,
        /// The tables.
        objects: Objects,
        /// The grantees.
        grantees: Vec<Grantee>,
        /// WITH GRANT OPTION.
        with_grant_option: bool,
        /// REVOKE … CASCADE.
        cascade: bool,
    },
    /// GRANT/REVOKE role TO/FROM role.
    Roles {
        /// GRANT (true) or REVOKE.
        grant: bool,
        /// The group roles.
        roles: Vec<String>,
        /// The members.
        members: Vec<Grantee>,
    },
}

impl AclStmt {
    /// The command tag.
    pub fn tag(&self) -> &'static str {
        match self {
            AclStmt::Privileges { grant: true, .. } | AclStmt::Roles { grant: true, .. } => "GRANT",
            _ => "REVOKE",
        }
    }
}

struct Cur {
    t: Vec<Tok>,
    i: usize,
}

impl Cur {
    fn word(&self) -> Option<&str> {
        match self.t.get(self.i) {
            Some(Tok::Word(w)) => Some(w),
            _ => None,
        }
    }
    fn eat(&mut self, w: &str) -> bool {
        if self.word() == Some(w) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn punct(&mut self, c: char) -> bool {
        if self.t.get(self.i) == Some(&Tok::Punct(c)) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn syntax(&self) -> Error {
        match self.t.get(self.i) {
            None => err!(sqlstate::SYNTAX_ERROR, "syntax error at end of input"),
            Some(Tok::Word(w)) | Some(Tok::Num(w)) => {
                err!(sqlstate::SYNTAX_ERROR, "syntax error at or near \"{w}\"")
            }
            Some(Tok::Quoted(w)) => {
                err!(
                    sqlstate::SYNTAX_ERROR,
                    "syntax error at or near \"\"{w}\"\""
                )
            }
            Some(Tok::Str(s)) => err!(sqlstate::SYNTAX_ERROR, "syntax error at or near \"'{s}'\""),
            Some(Tok::Punct(c)) => err!(sqlstate::SYNTAX_ERROR, "syntax error at or near \"{c}\""),
        }
    }
    fn ident(&mut self) -> Result<String> {
        match self.t.get(self.i).cloned() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) if !w.is_empty() => {
                self.i += 1;
                Ok(w)
            }
            _ => Err(self.syntax()),
        }
    }
    fn expect(&mut self, w: &str) -> Result<()> {
        if self.eat(w) {
            Ok(())
        } else {
            Err(self.syntax())
        }
    }
    fn grantees(&mut self) -> Result<Vec<Grantee>> {
        let mut v = Vec::new();
        loop {
            let g = match self.t.get(self.i) {
                Some(Tok::Word(w)) if w == "public" => Grantee::Public,
                Some(Tok::Word(w))
                    if matches!(w.as_str(), "current_user" | "current_role" | "session_user") =>
                {
                    Grantee::Current
                }
                _ => {
                    let n = self.ident()?;
                    v.push(Grantee::Role(n));
                    if !self.punct(',') {
                        return Ok(v);
                    }
                    continue;
                }
            };
            self.i += 1;
            v.push(g);
            if !self.punct(',') {
                return Ok(v);
            }
        }
    }
}

fn unsupported(what: &str) -> Error {
    err!(
        sqlstate::FEATURE_NOT_SUPPORTED,
        "{what} is not supported yet"
    )
}

/// Parses GRANT/REVOKE; `Ok(None)` for any other statement.
pub fn parse_front(text: &str) -> Result<Option<AclStmt>> {
    let Some(t) = tokenize(text) else {
        return Ok(None);
    };
    let grant = match t.first() {
        Some(Tok::Word(w)) if w == "grant" => true,
        Some(Tok::Word(w)) if w == "revoke" => false,
        _ => return Ok(None),
    };
    let mut p = Cur { t, i: 1 };
    let has_on = p.t.iter().any(|x| *x == Tok::Word("on".into()));
    if !has_on {
        if !grant && p.eat("admin") {
            return Err(unsupported("REVOKE ADMIN OPTION FOR"));
        }
        let mut roles = vec![p.ident()?];
        while p.punct(',') {
            roles.push(p.ident()?);
        }
        p.expect(if grant { "to" } else { "from" })?;
        let members = p.grantees()?;
        if p.eat("with") {
            return Err(unsupported("WITH ADMIN OPTION"));
        }
        if p.eat("granted") {
            return Err(unsupported("GRANTED BY"));
        }
        if !grant {
            let _ = p.eat("cascade") || p.eat("restrict");
        }
        if p.i < p.t.len() {
            return Err(p.syntax());
        }
        return Ok(Some(AclStmt::Roles {
            grant,
            roles,
            members,
        }));
    }
    let option_only = !grant && p.eat("grant");
    if option_only {
        p.expect("option")?;
        p.expect("for")?;
    }
    let mut privs = Some(0u32);
    let mut names = Vec::new();
    if p.eat("all") {
        p.eat("privileges");
        privs = None;
        if p.t.get(p.i) == Some(&Tok::Punct('(')) {
            return Err(unsupported("column privileges"));
        }
    } else {
        loop {
            let w = p.ident()?;
            names.push(w.clone());
            let bit = match w.as_str() {
                "select" => acl::ACL_SELECT,
                "insert" => acl::ACL_INSERT,
                "update" => acl::ACL_UPDATE,
                "delete" => acl::ACL_DELETE,
                "truncate" => acl::ACL_TRUNCATE,
                "references" => acl::ACL_REFERENCES,
                "trigger" => acl::ACL_TRIGGER,
                _ => 0,
            };
            privs = privs.map(|b| b | bit);
            if p.t.get(p.i) == Some(&Tok::Punct('(')) {
                return Err(unsupported("column privileges"));
            }
            if !p.punct(',') {
                break;
            }
        }
    }
    p.expect("on")?;
    let objects = if p.eat("all") {
        if !p.eat("tables") {
            return Err(unsupported("GRANT on all sequences, functions or routines"));
        }
        p.expect("in")?;
        p.expect("schema")?;
        let mut v = vec![p.ident()?];
        while p.punct(',') {
            v.push(p.ident()?);
        }
        Objects::AllTablesIn(v)
    } else {
        if let Some(w) = p.word() {
            if matches!(
                w,
                "sequence"
                    | "schema"
                    | "database"
                    | "function"
                    | "procedure"
                    | "routine"
                    | "language"
                    | "large"
                    | "tablespace"
                    | "type"
                    | "domain"
                    | "foreign"
                    | "parameter"
            ) {
                return Err(unsupported(&format!("GRANT and REVOKE on a {w}")));
            }
        }
        p.eat("table");
        let mut v = Vec::new();
        loop {
            let a = p.ident()?;
            if p.punct('.') {
                let b = p.ident()?;
                v.push((Some(a), b));
            } else {
                v.push((None, a));
            }
            if !p.punct(',') {
                break;
            }
        }
        Objects::Tables(v)
    };
    // Privilege names that exist but not for tables.
    if privs == Some(0) || names.iter().any(|n| !is_table_priv(n)) {
        let bad = names.iter().find(|n| !is_table_priv(n)).cloned();
        if let Some(n) = bad {
            if matches!(
                n.as_str(),
                "usage" | "create" | "connect" | "temporary" | "temp" | "execute" | "set"
            ) {
                return Err(err!(
                    "0LP01",
                    "invalid privilege type {} for table",
                    n.to_uppercase()
                ));
            }
            return Err(err!(
                sqlstate::SYNTAX_ERROR,
                "unrecognized privilege type \"{n}\""
            ));
        }
    }
    p.expect(if grant { "to" } else { "from" })?;
    let grantees = p.grantees()?;
    let mut with_grant_option = false;
    if grant && p.eat("with") {
        p.expect("grant")?;
        p.expect("option")?;
        with_grant_option = true;
    }
    if p.eat("granted") {
        return Err(unsupported("GRANTED BY"));
    }
    let mut cascade = false;
    if !grant {
        cascade = p.eat("cascade");
        if !cascade {
            p.eat("restrict");
        }
    }
    if p.i < p.t.len() {
        return Err(p.syntax());
    }
    Ok(Some(AclStmt::Privileges {
        grant,
        option_only,
        privs,
        objects,
        grantees,
        with_grant_option,
        cascade,
    }))
}

fn is_table_priv(n: &str) -> bool {
    matches!(
        n,
        "select" | "insert" | "update" | "delete" | "truncate" | "references" | "trigger"
    )
}

fn warning(code: &'static str, msg: String) -> Error {
    Error::new(code, msg).with_severity(Severity::Warning)
}

fn notice(msg: String) -> Error {
    Error::new(sqlstate::SUCCESSFUL_COMPLETION, msg).with_severity(Severity::Notice)
}

/// The permission error of a table.
pub fn denied(name: &str) -> Error {
    err!(
        sqlstate::INSUFFICIENT_PRIVILEGE,
        "permission denied for table {name}"
    )
}

/// Checks that `role` holds the privilege bits `need` on the table (42501 if not).
pub fn check_table(engine: &Engine, db: u32, role: u32, def: &TableDef, need: u32) -> Result<()> {
    let (have, _) = engine.with_catalog(|c| acl::table_privileges(c, db, def, role));
    if have & need == need {
        Ok(())
    } else {
        Err(denied(&def.name))
    }
}

/// Checks that `role` may read the view `name` (schema as written): views have their
/// default ACL (owner and superusers), since GRANT on views is refused.
pub fn check_view(
    engine: &Engine,
    db: u32,
    role: u32,
    schema: Option<&str>,
    name: &str,
) -> Result<()> {
    let denied_view = engine.with_catalog(|c| {
        if c.roles.get(&role).is_some_and(|r| r.superuser) {
            return false;
        }
        let schemas: Vec<u32> = match schema {
            Some(s) => c
                .schemas
                .iter()
                .filter(|(_, (n, _))| n == s)
                .map(|(o, _)| *o)
                .collect(),
            None => vec![
                crate::storage::schema::PG_CATALOG_NAMESPACE,
                crate::storage::schema::PUBLIC_NAMESPACE,
            ],
        };
        for s in schemas {
            if c.table_by_name(db, s, name).is_some() {
                return false;
            }
            if let Some(v) = c.ddl.view_by_name(db, s, name) {
                return !acl::holds(c, role, v.owner);
            }
        }
        false
    });
    if denied_view {
        bail!(
            sqlstate::INSUFFICIENT_PRIVILEGE,
            "permission denied for view {name}"
        );
    }
    Ok(())
}

/// `has_table_privilege(role, table, privilege)`: whether the role holds the named
/// privileges (comma-separated; `WITH GRANT OPTION` suffix allowed) on the table.
pub fn has_table_privilege(
    engine: &Engine,
    db: u32,
    role: &str,
    table: &str,
    privilege: &str,
) -> Result<bool> {
    let role = engine
        .role(role)
        .ok_or_else(|| err!(sqlstate::UNDEFINED_OBJECT, "role \"{role}\" does not exist"))?;
    let (schema, name) = super::ddl::parse_qualified(table)?;
    let shown = match &schema {
        Some(s) => format!("{s}.{name}"),
        None => name.clone(),
    };
    let def =
        crate::catalog::resolve_table(engine, db, schema.as_deref(), &name)?.ok_or_else(|| {
            err!(
                sqlstate::UNDEFINED_TABLE,
                "relation \"{shown}\" does not exist"
            )
        })?;
    let (have, opts) = engine.with_catalog(|c| acl::table_privileges(c, db, &def, role.oid));
    let mut any = false;
    for part in privilege.split(',') {
        let p = part.trim().to_lowercase();
        let (p, with_opt) = match p.strip_suffix("with grant option") {
            Some(x) => (x.trim().to_string(), true),
            None => (p, false),
        };
        let bit = match p.as_str() {
            "select" => acl::ACL_SELECT,
            "insert" => acl::ACL_INSERT,
            "update" => acl::ACL_UPDATE,
            "delete" => acl::ACL_DELETE,
            "truncate" => acl::ACL_TRUNCATE,
            "references" => acl::ACL_REFERENCES,
            "trigger" => acl::ACL_TRIGGER,
            _ => bail!(
                sqlstate::INVALID_PARAMETER_VALUE,
                "unrecognized privilege type: \"{}\"",
                part.trim()
            ),
        };
        let set = if with_opt { opts } else { have };
        any |= set & bit != 0;
    }
    Ok(any)
}

/// The SQL function `has_table_privilege([role,] table, privilege)`: NULL for a
/// NULL argument; the role defaults to the current one.
pub fn call_has_table_privilege(
    args: Vec<crate::types::Value>,
    cx: &mut ExecCtx<'_>,
) -> Result<crate::types::Value> {
    if args.iter().any(|a| a.is_null()) {
        return Ok(crate::types::Value::Null);
    }
    let text = |v: &crate::types::Value| match v {
        crate::types::Value::Text(s) => s.clone(),
        v => crate::types::format_text(v, &crate::types::FormatOptions::default()),
    };
    let mut t: Vec<String> = args.iter().map(text).collect();
    if t.len() == 2 {
        t.insert(0, cx.ctx.user.clone());
    }
    let (role, table, privilege) = match t.as_slice() {
        [r, tb, p] => (r, tb, p),
        _ => bail!(
            sqlstate::UNDEFINED_FUNCTION,
            "function has_table_privilege does not exist"
        ),
    };
    has_table_privilege(cx.engine, cx.db_oid, role, table, privilege).map(crate::types::Value::Bool)
}

/// The `relacl` text of a table, or None for the default ACL (NULL).
pub fn relacl_text(cat: &CatalogState, db: u32, table: u32) -> Option<String> {
    cat.acl
        .tables
        .get(&(db, table))
        .map(|a| acl::acl_text(cat, a))
}

/// Runs a GRANT or REVOKE.
pub fn execute(s: &AclStmt, cx: &mut ExecCtx<'_>) -> Result<()> {
    let me = cx.current_role().ok_or_else(|| {
        err!(
            sqlstate::UNDEFINED_OBJECT,
            "role \"{}\" does not exist",
            cx.ctx.user
        )
    })?;
    match s {
        AclStmt::Roles {
            grant,
            roles,
            members,
        } => {
            for g in roles {
                let group = cx.engine.role(g).ok_or_else(|| {
                    err!(sqlstate::UNDEFINED_OBJECT, "role \"{g}\" does not exist")
                })?;
                if !me.superuser {
                    if group.superuser {
                        bail!(
                            sqlstate::INSUFFICIENT_PRIVILEGE,
                            "must be superuser to alter superusers"
                        );
                    }
                    if !me.createrole {
                        bail!(
                            sqlstate::INSUFFICIENT_PRIVILEGE,
                            "must have admin option on role \"{g}\""
                        );
                    }
                }
                for m in members {
                    let member = match m {
                        Grantee::Public => {
                            bail!(sqlstate::UNDEFINED_OBJECT, "role \"public\" does not exist")
                        }
                        Grantee::Current => me.clone(),
                        Grantee::Role(n) => cx.engine.role(n).ok_or_else(|| {
                            err!(sqlstate::UNDEFINED_OBJECT, "role \"{n}\" does not exist")
                        })?,
                    };
                    let direct = cx
                        .engine
                        .with_catalog(|c| c.memberships.contains(&(group.oid, member.oid)));
                    if *grant {
                        if direct {
                            cx.notices.push(notice(format!(
                                "role \"{}\" is already a member of role \"{}\"",
                                member.name, group.name
                            )));
                            continue;
                        }
                        let cycle = group.oid == member.oid
                            || cx
                                .engine
                                .with_catalog(|c| c.is_member_of(group.oid, member.oid));
                        if cycle {
                            bail!(
                                "0LP01",
                                "role \"{}\" is a member of role \"{}\"",
                                group.name,
                                member.name
                            );
                        }
                        cx.engine.catalog_change(
                            cx.txn,
                            CatalogChange::Grant {
                                role: group.oid,
                                member: member.oid,
                            },
                        )?;
                    } else if !direct {
                        cx.notices.push(warning(
                            sqlstate::WARNING,
                            format!(
                                "role \"{}\" is not a member of role \"{}\"",
                                member.name, group.name
                            ),
                        ));
                    } else {
                        cx.engine.catalog_change(
                            cx.txn,
                            CatalogChange::Acl(AclChange::RevokeMembership {
                                role: group.oid,
                                member: member.oid,
                            }),
                        )?;
                    }
                }
            }
            Ok(())
        }
        AclStmt::Privileges {
            grant,
            option_only,
            privs,
            objects,
            grantees,
            with_grant_option,
            cascade,
        } => {
            let tables = resolve_objects(objects, cx)?;
            let mut grantee_oids = Vec::new();
            for g in grantees {
                grantee_oids.push(match g {
                    Grantee::Public => 0,
                    Grantee::Current => me.oid,
                    Grantee::Role(n) => {
                        cx.engine
                            .role(n)
                            .ok_or_else(|| {
                                err!(sqlstate::UNDEFINED_OBJECT, "role \"{n}\" does not exist")
                            })?
                            .oid
                    }
                });
            }
            if *with_grant_option && grantee_oids.contains(&0) {
                bail!("0LP01", "grant options can only be granted to roles");
            }
            for def in tables {
                privileges_on_table(
                    cx,
                    &me,
                    &def,
                    *grant,
                    *option_only,
                    *privs,
                    &grantee_oids,
                    *with_grant_option,
                    *cascade,
                )?;
            }
            Ok(())
        }
    }
}

fn resolve_objects(objects: &Objects, cx: &mut ExecCtx<'_>) -> Result<Vec<Arc<TableDef>>> {
    let db = cx.db_oid;
    let mut out = Vec::new();
    match objects {
        Objects::Tables(names) => {
            for (schema, name) in names {
                match crate::catalog::resolve_table(cx.engine, db, schema.as_deref(), name)? {
                    Some(d) => out.push(d),
                    None => {
                        let is_view = cx.engine.with_catalog(|c| {
                            c.schemas
                                .keys()
                                .any(|s| c.ddl.view_by_name(db, *s, name).is_some())
                        });
                        if is_view {
                            return Err(unsupported("GRANT and REVOKE on a view"));
                        }
                        bail!(
                            sqlstate::UNDEFINED_TABLE,
                            "relation \"{name}\" does not exist"
                        );
                    }
                }
            }
        }
        Objects::AllTablesIn(schemas) => {
            for s in schemas {
                let oid = cx
                    .engine
                    .with_catalog(|c| c.schemas.iter().find(|(_, (n, _))| n == s).map(|(o, _)| *o));
                let Some(oid) = oid else {
                    bail!("3F000", "schema \"{s}\" does not exist");
                };
                let views = cx.engine.with_catalog(|c| {
                    c.ddl
                        .views
                        .iter()
                        .any(|((d, _), v)| *d == db && v.schema == oid)
                });
                if views {
                    return Err(unsupported("GRANT and REVOKE on a view"));
                }
                cx.engine.with_catalog(|c| {
                    out.extend(
                        c.tables
                            .range((db, 0)..=(db, u32::MAX))
                            .filter(|(_, t)| t.schema == oid)
                            .map(|(_, t)| t.clone()),
                    )
                });
            }
        }
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn privileges_on_table(
    cx: &mut ExecCtx<'_>,
    me: &crate::storage::schema::RoleInfo,
    def: &TableDef,
    grant: bool,
    option_only: bool,
    privs: Option<u32>,
    grantees: &[u32],
    with_grant_option: bool,
    cascade: bool,
) -> Result<()> {
    let db = cx.db_oid;
    let (cur, held, avail, grantor) = cx.engine.with_catalog(|c| {
        let cur = acl::table_acl(c, db, def);
        let (held, avail) = acl::table_privileges(c, db, def, me.oid);
        // As PostgreSQL's select_best_grantor: ownership (or superuser) grants as the
        // owner; otherwise the role holding the most grant options.
        let grantor = if me.superuser || acl::holds(c, me.oid, def.owner) {
            def.owner
        } else {
            cur.iter()
                .filter(|it| it.grantee != 0 && acl::holds(c, me.oid, it.grantee))
                .max_by_key(|it| it.grant_opts.count_ones())
                .map(|it| it.grantee)
                .unwrap_or(me.oid)
        };
        (cur, held, avail, grantor)
    });
    let want = privs.unwrap_or(ACL_ALL_TABLE);
    if avail == 0 && held == 0 {
        return Err(denied(&def.name));
    }
    let this = want & avail;
    if this == 0 {
        cx.notices.push(if grant {
            warning(
                "01007",
                format!("no privileges were granted for \"{}\"", def.name),
            )
        } else {
            warning(
                "01006",
                format!("no privileges could be revoked for \"{}\"", def.name),
            )
        });
        return Ok(());
    }
    if privs.is_some() && this != want {
        cx.notices.push(if grant {
            warning(
                "01007",
                format!("not all privileges were granted for \"{}\"", def.name),
            )
        } else {
            warning(
                "01006",
                format!("not all privileges could be revoked for \"{}\"", def.name),
            )
        });
    }
    let mut new = cur.clone();
    for &g in grantees {
        if grant {
            if let Some(it) = new
                .iter_mut()
                .find(|it| it.grantee == g && it.grantor == grantor)
            {
                it.privs |= this;
                if with_grant_option {
                    it.grant_opts |= this;
                }
            } else {
                new.push(AclItem {
                    grantee: g,
                    grantor,
                    privs: this,
                    grant_opts: if with_grant_option { this } else { 0 },
                });
            }
        } else {
            revoke_from(&mut new, g, grantor, this, option_only, cascade)?;
        }
    }
    new.retain(|it| it.privs != 0);
    if new != cur {
        cx.engine.catalog_change(
            cx.txn,
            CatalogChange::Acl(AclChange::SetTableAcl {
                db,
                table: def.oid,
                acl: Some(new),
            }),
        )?;
    }
    Ok(())
}

/// Revokes `bits` (or only their grant options) that `grantor` gave `grantee`; grant
/// options taken away take the grants made with them (CASCADE) or fail (2BP01).
fn revoke_from(
    acl: &mut Vec<AclItem>,
    grantee: u32,
    grantor: u32,
    bits: u32,
    option_only: bool,
    cascade: bool,
) -> Result<()> {
    let Some(pos) = acl
        .iter()
        .position(|it| it.grantee == grantee && it.grantor == grantor)
    else {
        return Ok(());
    };
    let lost_opts = acl[pos].grant_opts & bits;
    acl[pos].grant_opts &= !bits;
    if !option_only {
        acl[pos].privs &= !bits;
    }
    if lost_opts != 0 && grantee != 0 {
        let dependents: Vec<u32> = acl
            .iter()
            .filter(|it| it.grantor == grantee && it.privs & lost_opts != 0)
            .map(|it| it.grantee)
            .collect();
        if !dependents.is_empty() {
            if !cascade {
                return Err(err!(
                    sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
                    "dependent privileges exist"
                )
                .with_hint("Use CASCADE to revoke them too."));
            }
            for d in dependents {
                revoke_from(acl, d, grantee, lost_opts, false, true)?;
            }
        }
    }
    Ok(())
}

/// What a statement needs on a table it binds.
pub enum Need<'a> {
    /// Read anywhere in a query.
    Select,
    /// INSERT's target (SELECT too with RETURNING or ON CONFLICT).
    Insert(&'a sqlparser::ast::Insert),
    /// UPDATE's target: its SET list, and whether WHERE or RETURNING read the table.
    Update(&'a [sqlparser::ast::Assignment], bool),
    /// DELETE's target: whether WHERE or RETURNING read the table.
    Delete(bool),
    /// TRUNCATE's target.
    Truncate,
}

impl super::plan::Binder<'_> {
    /// Checks the binder's role's privileges on a table (no-op for internal binders).
    pub(crate) fn acl_check(&self, def: &TableDef, need: Need<'_>) -> Result<()> {
        let Some(role) = self.acl_role else {
            return Ok(());
        };
        let bits = match need {
            Need::Select => acl::ACL_SELECT,
            Need::Insert(ins) => {
                let reads = ins.returning.is_some() || ins.on.is_some();
                acl::ACL_INSERT | if reads { acl::ACL_SELECT } else { 0 }
            }
            Need::Update(sets, reads) => {
                // A SET value that is not a plain constant may read the row's columns;
                // PostgreSQL then needs SELECT on them (checked per column there; here
                // for the table, never less than PostgreSQL asks).
                let reads_cols = sets
                    .iter()
                    .any(|a| !matches!(a.value, sqlparser::ast::Expr::Value(_)));
                acl::ACL_UPDATE
                    | if reads || reads_cols {
                        acl::ACL_SELECT
                    } else {
                        0
                    }
            }
            Need::Delete(reads) => acl::ACL_DELETE | if reads { acl::ACL_SELECT } else { 0 },
            Need::Truncate => acl::ACL_TRUNCATE,
        };
        let (engine, db) = self.target();
        check_table(engine, db, role, def, bits)
    }

    /// Checks that the binder's role may read a view of this name, if it is one.
    pub(crate) fn acl_check_view(&self, schema: Option<&str>, name: &str) -> Result<()> {
        let Some(role) = self.acl_role else {
            return Ok(());
        };
        let (engine, db) = self.target();
        check_view(engine, db, role, schema, name)
    }
}
