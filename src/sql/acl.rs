//! GRANT and REVOKE, role membership, and the role a session acts as: the parser for
//! `GRANT/REVOKE privileges ON [TABLE] … | SEQUENCE … | SCHEMA … | DATABASE … | ALL
//! TABLES|SEQUENCES IN SCHEMA …` (column lists included), `GRANT/REVOKE role TO/FROM
//! role`, `SET [LOCAL] ROLE`, `SET SESSION AUTHORIZATION` and (handed to `sql::owner`)
//! the ownership statements ([`parse_front`], reached from `front::parse`), and their
//! execution ([`execute`]).
//!
//! # GRANT and REVOKE, as PostgreSQL's `ExecuteGrantStmt`
//!
//! 1. The privilege list is checked against the object type first (`invalid privilege
//!    type USAGE for relation`, `column privileges are only valid for relations`).
//! 2. Each object is resolved; a sequence named under TABLE keeps only its sequence
//!    privileges (with PostgreSQL's warning), a table refuses sequence ones.
//! 3. The grantor is the owner when the current role has the owner's privileges (or is
//!    a superuser), else the role holding the grant options; a role holding neither
//!    privileges nor grant options gets 42501, one holding some gets the warnings
//!    `no privileges were granted` / `not all privileges were granted`.
//! 4. The object's whole new ACL is logged (`storage::acl`); REVOKE of grant options
//!    that others used takes their grants too (CASCADE) or fails (2BP01), and REVOKE of
//!    a table privilege also revokes it from every column.
//!
//! The checks statements make are in `sql::privileges`; ownership in `sql::owner`.
//!
//! # What is refused rather than guessed
//!
//! Privileges on functions, procedures, languages, large objects, tablespaces, types,
//! domains and foreign objects, column privileges of views, `WITH ADMIN OPTION` and
//! `GRANTED BY` another role (a superuser's role grants excepted: pg_dumpall writes
//! them; the grantor is not kept) fail with 0A000 (tusk has no such objects, or does
//! not keep the option).
//!
//! What this module must never do: change privileges other than through
//! `CatalogChange::Acl` / `CatalogChange::Grant` (the WAL must carry every change), or
//! let a check fall open when a role or object cannot be found.

use super::front::{tokenize, Tok};
use super::privileges::denied;
use super::ExecCtx;
use crate::error::{sqlstate, Error, Result, Severity};
use crate::storage::acl::{self, AclChange, AclItem, AclObject, ObjectKind};
use crate::storage::schema::{CatalogChange, RoleInfo};
use crate::{bail, err};

/// Who receives or loses privileges.
#[derive(Debug, Clone, PartialEq)]
pub enum Grantee {
    /// PUBLIC.
    Public,
    /// A role by name.
    Role(String),
    /// CURRENT_USER / CURRENT_ROLE.
    Current,
    /// SESSION_USER.
    Session,
}

/// The object type a GRANT names (PostgreSQL's `objtype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjType {
    /// `ON [TABLE]`: tables, views and sequences.
    Table,
    /// `ON SEQUENCE`.
    Sequence,
    /// `ON SCHEMA`.
    Schema,
    /// `ON DATABASE`.
    Database,
}

impl ObjType {
    /// Every privilege the object type accepts, and its name in the error.
    fn all(self) -> (u32, &'static str) {
        match self {
            ObjType::Table => (acl::ACL_ALL_TABLE | acl::ACL_ALL_SEQUENCE, "relation"),
            ObjType::Sequence => (acl::ACL_ALL_SEQUENCE, "sequence"),
            ObjType::Schema => (acl::ACL_ALL_SCHEMA, "schema"),
            ObjType::Database => (acl::ACL_ALL_DATABASE, "database"),
        }
    }
}

/// The objects of a privilege GRANT/REVOKE.
#[derive(Debug, Clone, PartialEq)]
pub enum Objects {
    /// Objects by (schema, name) (schemas and databases have no schema).
    Named(ObjType, Vec<(Option<String>, String)>),
    /// ALL TABLES | SEQUENCES IN SCHEMA s, ….
    AllIn(ObjType, Vec<String>),
}

/// One privilege as written: its bit (0 for ALL with a column list) and, for a column
/// privilege, the columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Priv {
    /// The privilege bit.
    pub bit: u32,
    /// The columns (`SELECT (a, b)`), if any.
    pub cols: Option<Vec<String>>,
}

/// A parsed GRANT or REVOKE, or a statement about roles.
#[derive(Debug, Clone, PartialEq)]
pub enum AclStmt {
    /// GRANT/REVOKE privileges ON objects.
    Privileges {
        /// GRANT (true) or REVOKE.
        grant: bool,
        /// REVOKE GRANT OPTION FOR.
        option_only: bool,
        /// ALL [PRIVILEGES] (possibly with columns, in `privs`).
        all: bool,
        /// The privileges listed (empty for a plain ALL).
        privs: Vec<Priv>,
        /// The objects.
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
        /// GRANTED BY: only the current role (or, for a superuser, any role) — the
        /// grantor is not recorded.
        granted_by: Option<Grantee>,
    },
    /// `SET [LOCAL] ROLE r | NONE`, `RESET ROLE`.
    SetRole {
        /// RESET (else SET).
        reset: bool,
        /// SET LOCAL.
        local: bool,
        /// The role (None: NONE or RESET).
        role: Option<String>,
    },
    /// `SET SESSION AUTHORIZATION r | DEFAULT`, `RESET SESSION AUTHORIZATION`.
    SessionAuthorization {
        /// RESET (else SET).
        reset: bool,
        /// SET LOCAL.
        local: bool,
        /// The role (None: DEFAULT or RESET).
        role: Option<String>,
    },
    /// An ownership statement (see `sql::owner`).
    Owner(super::owner::OwnerStmt),
}

impl AclStmt {
    /// The command tag.
    pub fn tag(&self) -> &'static str {
        match self {
            AclStmt::Privileges { grant: true, .. } => "GRANT",
            AclStmt::Roles { grant: true, .. } => "GRANT ROLE",
            AclStmt::Privileges { .. } => "REVOKE",
            AclStmt::Roles { .. } => "REVOKE ROLE",
            AclStmt::SetRole { reset: true, .. }
            | AclStmt::SessionAuthorization { reset: true, .. } => "RESET",
            AclStmt::SetRole { .. } | AclStmt::SessionAuthorization { .. } => "SET",
            AclStmt::Owner(o) => o.tag(),
        }
    }

    /// Whether the statement only changes the session (allowed on a hot standby).
    pub fn is_session_only(&self) -> bool {
        matches!(
            self,
            AclStmt::SetRole { .. } | AclStmt::SessionAuthorization { .. }
        )
    }
}

/// A token cursor over a statement (shared with `sql::owner`).
pub(crate) struct Cur {
    pub(crate) t: Vec<Tok>,
    pub(crate) i: usize,
}

impl Cur {
    pub(crate) fn word(&self) -> Option<&str> {
        match self.t.get(self.i) {
            Some(Tok::Word(w)) => Some(w),
            _ => None,
        }
    }
    pub(crate) fn eat(&mut self, w: &str) -> bool {
        if self.word() == Some(w) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    pub(crate) fn punct(&mut self, c: char) -> bool {
        if self.t.get(self.i) == Some(&Tok::Punct(c)) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    pub(crate) fn at_end(&self) -> bool {
        self.i >= self.t.len()
    }
    pub(crate) fn syntax(&self) -> Error {
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
    pub(crate) fn ident(&mut self) -> Result<String> {
        match self.t.get(self.i).cloned() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) if !w.is_empty() => {
                self.i += 1;
                Ok(w)
            }
            _ => Err(self.syntax()),
        }
    }
    pub(crate) fn expect(&mut self, w: &str) -> Result<()> {
        if self.eat(w) {
            Ok(())
        } else {
            Err(self.syntax())
        }
    }
    /// `[schema.]name`.
    pub(crate) fn qualified(&mut self) -> Result<(Option<String>, String)> {
        let a = self.ident()?;
        if self.punct('.') {
            let b = self.ident()?;
            Ok((Some(a), b))
        } else {
            Ok((None, a))
        }
    }
    /// A role specification: a name, CURRENT_USER, CURRENT_ROLE, SESSION_USER (PUBLIC
    /// too when `public_ok`).
    pub(crate) fn grantee(&mut self, public_ok: bool) -> Result<Grantee> {
        let g = match self.t.get(self.i) {
            Some(Tok::Word(w)) if w == "public" && public_ok => Grantee::Public,
            Some(Tok::Word(w)) if matches!(w.as_str(), "current_user" | "current_role") => {
                Grantee::Current
            }
            Some(Tok::Word(w)) if w == "session_user" => Grantee::Session,
            _ => return Ok(Grantee::Role(self.ident()?)),
        };
        self.i += 1;
        Ok(g)
    }
    fn grantees(&mut self) -> Result<Vec<Grantee>> {
        let mut v = vec![self.grantee(true)?];
        while self.punct(',') {
            v.push(self.grantee(true)?);
        }
        Ok(v)
    }
}

fn unsupported(what: &str) -> Error {
    err!(
        sqlstate::FEATURE_NOT_SUPPORTED,
        "{what} is not supported yet"
    )
}

/// The bit of a privilege name (`alter system` already joined), or None for a name
/// PostgreSQL does not know.
fn privilege_bit(name: &str) -> Option<u32> {
    Some(match name {
        "select" => acl::ACL_SELECT,
        "insert" => acl::ACL_INSERT,
        "update" => acl::ACL_UPDATE,
        "delete" => acl::ACL_DELETE,
        "truncate" => acl::ACL_TRUNCATE,
        "references" => acl::ACL_REFERENCES,
        "trigger" => acl::ACL_TRIGGER,
        "execute" => acl::ACL_EXECUTE,
        "usage" => acl::ACL_USAGE,
        "create" => acl::ACL_CREATE,
        "temporary" | "temp" => acl::ACL_CREATE_TEMP,
        "connect" => acl::ACL_CONNECT,
        "set" => ACL_SET,
        "alter system" => ACL_ALTER_SYSTEM,
        _ => return None,
    })
}

/// SET on a parameter (no object of tusk's holds it; named in errors only).
const ACL_SET: u32 = 1 << 12;
/// ALTER SYSTEM on a parameter (likewise).
const ACL_ALTER_SYSTEM: u32 = 1 << 13;

/// A privilege's name as PostgreSQL's `privilege_to_string` writes it (the lowest bit
/// of `bits`).
fn privilege_name(bits: u32) -> &'static str {
    const NAMES: [&str; 14] = [
        "INSERT",
        "SELECT",
        "UPDATE",
        "DELETE",
        "TRUNCATE",
        "REFERENCES",
        "TRIGGER",
        "EXECUTE",
        "USAGE",
        "CREATE",
        "TEMP",
        "CONNECT",
        "SET",
        "ALTER SYSTEM",
    ];
    NAMES
        .get(bits.trailing_zeros() as usize)
        .copied()
        .unwrap_or("?")
}

/// Parses GRANT/REVOKE, SET ROLE, SET SESSION AUTHORIZATION and the ownership
/// statements; `Ok(None)` for any other statement.
pub fn parse_front(text: &str) -> Result<Option<AclStmt>> {
    let Some(t) = tokenize(text) else {
        return Ok(None);
    };
    if let Some(o) = super::owner::parse(&t)? {
        return Ok(Some(AclStmt::Owner(o)));
    }
    let grant = match t.first() {
        Some(Tok::Word(w)) if w == "grant" => true,
        Some(Tok::Word(w)) if w == "revoke" => false,
        Some(Tok::Word(w)) if w == "set" || w == "reset" => {
            return parse_set_role(Cur { t, i: 0 });
        }
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
        let mut granted_by = None;
        if p.eat("granted") {
            p.expect("by")?;
            granted_by = Some(p.grantee(false)?);
        }
        if !grant {
            let _ = p.eat("cascade") || p.eat("restrict");
        }
        if !p.at_end() {
            return Err(p.syntax());
        }
        return Ok(Some(AclStmt::Roles {
            grant,
            roles,
            members,
            granted_by,
        }));
    }
    let option_only = !grant && p.eat("grant");
    if option_only {
        p.expect("option")?;
        p.expect("for")?;
    }
    let mut all = false;
    let mut privs = Vec::new();
    let columns = |p: &mut Cur| -> Result<Option<Vec<String>>> {
        if !p.punct('(') {
            return Ok(None);
        }
        let mut v = vec![p.ident()?];
        while p.punct(',') {
            v.push(p.ident()?);
        }
        if !p.punct(')') {
            return Err(p.syntax());
        }
        Ok(Some(v))
    };
    if p.eat("all") {
        p.eat("privileges");
        all = true;
        if let Some(cols) = columns(&mut p)? {
            privs.push(Priv {
                bit: 0,
                cols: Some(cols),
            });
        }
    } else {
        loop {
            let mut w = p.ident()?;
            if w == "alter" && p.eat("system") {
                w = "alter system".into();
            }
            let Some(bit) = privilege_bit(&w) else {
                bail!(
                    sqlstate::SYNTAX_ERROR,
                    "unrecognized privilege type \"{w}\""
                );
            };
            privs.push(Priv {
                bit,
                cols: columns(&mut p)?,
            });
            if !p.punct(',') {
                break;
            }
        }
    }
    p.expect("on")?;
    let objects = if p.eat("all") {
        let ty = if p.eat("tables") {
            ObjType::Table
        } else if p.eat("sequences") {
            ObjType::Sequence
        } else {
            return Err(unsupported(
                "GRANT on all functions, procedures or routines",
            ));
        };
        p.expect("in")?;
        p.expect("schema")?;
        let mut v = vec![p.ident()?];
        while p.punct(',') {
            v.push(p.ident()?);
        }
        Objects::AllIn(ty, v)
    } else {
        let ty = if p.eat("sequence") {
            ObjType::Sequence
        } else if p.eat("schema") {
            ObjType::Schema
        } else if p.eat("database") {
            ObjType::Database
        } else {
            if let Some(w) = p.word() {
                if matches!(
                    w,
                    "function"
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
            ObjType::Table
        };
        let mut v = Vec::new();
        loop {
            if matches!(ty, ObjType::Schema | ObjType::Database) {
                v.push((None, p.ident()?));
            } else {
                v.push(p.qualified()?);
            }
            if !p.punct(',') {
                break;
            }
        }
        Objects::Named(ty, v)
    };
    p.expect(if grant { "to" } else { "from" })?;
    let grantees = p.grantees()?;
    let mut with_grant_option = false;
    if grant && p.eat("with") {
        p.expect("grant")?;
        p.expect("option")?;
        with_grant_option = true;
    }
    if p.eat("granted") {
        p.expect("by")?;
        match p.grantee(false)? {
            Grantee::Current => {}
            _ => return Err(unsupported("GRANTED BY another role")),
        }
    }
    let mut cascade = false;
    if !grant {
        cascade = p.eat("cascade");
        if !cascade {
            p.eat("restrict");
        }
    }
    if !p.at_end() {
        return Err(p.syntax());
    }
    Ok(Some(AclStmt::Privileges {
        grant,
        option_only,
        all,
        privs,
        objects,
        grantees,
        with_grant_option,
        cascade,
    }))
}

/// Checks the privileges against the object type, in the order written (PostgreSQL's
/// `ExecuteGrantStmt`, once the objects and grantees are resolved).
fn check_privilege_types(ty: ObjType, privs: &[Priv]) -> Result<()> {
    let (allowed, what) = ty.all();
    for pr in privs {
        if pr.cols.is_some() {
            if ty != ObjType::Table {
                bail!("0LP01", "column privileges are only valid for relations");
            }
            continue;
        }
        if pr.bit & !allowed != 0 {
            bail!(
                "0LP01",
                "invalid privilege type {} for {what}",
                privilege_name(pr.bit)
            );
        }
    }
    Ok(())
}

/// `SET [SESSION | LOCAL] ROLE …`, `SET … SESSION AUTHORIZATION …` and their RESETs;
/// `Ok(None)` for any other SET.
fn parse_set_role(mut p: Cur) -> Result<Option<AclStmt>> {
    let reset = p.eat("reset");
    if !reset {
        p.expect("set")?;
    }
    let mut local = false;
    if !reset {
        if p.eat("local") {
            local = true;
        } else if p.word() == Some("session")
            && matches!(p.t.get(p.i + 1), Some(Tok::Word(w)) if w == "role" || w == "session")
        {
            p.i += 1;
        }
    }
    let role_value = |p: &mut Cur, none: &str| -> Result<Option<String>> {
        let v = match p.t.get(p.i).cloned() {
            Some(Tok::Word(w)) if w == none => None,
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) | Some(Tok::Str(w)) if !w.is_empty() => {
                Some(w)
            }
            _ => return Err(p.syntax()),
        };
        p.i += 1;
        if !p.at_end() {
            return Err(p.syntax());
        }
        Ok(v)
    };
    if p.eat("role") {
        if reset {
            if !p.at_end() {
                return Err(p.syntax());
            }
            return Ok(Some(AclStmt::SetRole {
                reset,
                local,
                role: None,
            }));
        }
        let role = role_value(&mut p, "none")?;
        return Ok(Some(AclStmt::SetRole { reset, local, role }));
    }
    if p.word() == Some("session")
        && matches!(p.t.get(p.i + 1), Some(Tok::Word(w)) if w == "authorization")
    {
        p.i += 2;
        if reset {
            if !p.at_end() {
                return Err(p.syntax());
            }
            return Ok(Some(AclStmt::SessionAuthorization {
                reset,
                local,
                role: None,
            }));
        }
        let role = role_value(&mut p, "default")?;
        return Ok(Some(AclStmt::SessionAuthorization { reset, local, role }));
    }
    Ok(None)
}

fn warning(code: &'static str, msg: String) -> Error {
    Error::new(code, msg).with_severity(Severity::Warning)
}

fn notice(msg: String) -> Error {
    Error::new(sqlstate::SUCCESSFUL_COMPLETION, msg).with_severity(Severity::Notice)
}

/// Resolves a role specification to its OID (0 for PUBLIC).
pub(crate) fn role_oid(cx: &ExecCtx<'_>, me: &RoleInfo, g: &Grantee) -> Result<u32> {
    Ok(match g {
        Grantee::Public => 0,
        Grantee::Current => me.oid,
        Grantee::Session => {
            let name = session_user(cx);
            lookup_role(cx, &name)?.oid
        }
        Grantee::Role(n) if n == "pg_database_owner" => acl::PG_DATABASE_OWNER,
        Grantee::Role(n) => lookup_role(cx, n)?.oid,
    })
}

/// A role by name (42704 if there is none).
pub(crate) fn lookup_role(cx: &ExecCtx<'_>, name: &str) -> Result<RoleInfo> {
    cx.engine
        .role(name)
        .ok_or_else(|| err!(sqlstate::UNDEFINED_OBJECT, "role \"{name}\" does not exist"))
}

/// The session user: `session_authorization`, else the connection's user.
pub fn session_user(cx: &ExecCtx<'_>) -> String {
    let s = cx.settings.get_str("session_authorization");
    if s.is_empty() {
        cx.ctx.user.clone()
    } else {
        s
    }
}

/// Runs a GRANT, REVOKE, SET ROLE, SET SESSION AUTHORIZATION or ownership statement;
/// `authenticated` is the user the connection authenticated as.
pub fn execute(s: &AclStmt, cx: &mut ExecCtx<'_>, authenticated: &str) -> Result<()> {
    match s {
        AclStmt::SetRole { local, role, .. } => return set_role(cx, *local, role.as_deref()),
        AclStmt::SessionAuthorization { local, role, .. } => {
            return set_session_authorization(cx, *local, role.as_deref(), authenticated)
        }
        AclStmt::Owner(o) => return super::owner::execute(o, cx),
        _ => {}
    }
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
            granted_by,
        } => {
            if let Some(g) = granted_by {
                let by = role_oid(cx, &me, g)?;
                if by != me.oid && !me.superuser {
                    return Err(unsupported("GRANTED BY another role"));
                }
            }
            memberships(cx, &me, *grant, roles, members)
        }
        AclStmt::Privileges {
            grant,
            option_only,
            all,
            privs,
            objects,
            grantees,
            with_grant_option,
            cascade,
        } => {
            // PostgreSQL's order: objects, grantees, then the privilege types.
            let targets = resolve_objects(objects, cx)?;
            let mut grantee_oids = Vec::new();
            for g in grantees {
                grantee_oids.push(role_oid(cx, &me, g)?);
            }
            let ty = match objects {
                Objects::Named(t, _) | Objects::AllIn(t, _) => *t,
            };
            check_privilege_types(ty, privs)?;
            let req = Request {
                grant: *grant,
                option_only: *option_only,
                grantees: grantee_oids,
                with_grant_option: *with_grant_option,
                cascade: *cascade,
            };
            let table_bits: u32 = privs
                .iter()
                .filter(|p| p.cols.is_none())
                .fold(0, |b, p| b | p.bit);
            let col_privs: Vec<&Priv> = privs.iter().filter(|p| p.cols.is_some()).collect();
            let whole = *all && col_privs.is_empty() || table_bits != 0;
            for t in targets {
                if whole {
                    let mut bits = if *all { t.kind.all() } else { table_bits };
                    if ty == ObjType::Table {
                        let extra = bits & !t.kind.all();
                        if extra != 0 && t.kind == ObjectKind::Sequence {
                            cx.notices.push(warning(
                                "0LP01",
                                format!(
                                    "sequence \"{}\" only supports USAGE, SELECT, and UPDATE privileges",
                                    t.name
                                ),
                            ));
                            bits &= acl::ACL_ALL_SEQUENCE;
                        } else if extra != 0 {
                            bail!(
                                "0LP01",
                                "invalid privilege type {} for table",
                                privilege_name(extra)
                            );
                        }
                    }
                    apply(cx, &me, &t, bits, *all, &req, None)?;
                    // REVOKE of a table privilege takes it from every column too.
                    if !req.grant && t.kind == ObjectKind::Table && bits & acl::ACL_ALL_COLUMN != 0
                    {
                        revoke_from_columns(cx, &me, &t, bits & acl::ACL_ALL_COLUMN, &req)?;
                    }
                }
                for pr in &col_privs {
                    let bits = if pr.bit == 0 {
                        acl::ACL_ALL_COLUMN
                    } else {
                        pr.bit
                    };
                    if bits & !acl::ACL_ALL_COLUMN != 0 {
                        bail!(
                            "0LP01",
                            "invalid privilege type {} for column",
                            privilege_name(bits & !acl::ACL_ALL_COLUMN)
                        );
                    }
                    for col in pr.cols.as_deref().unwrap_or_default() {
                        let c = column_target(cx, &t, col)?;
                        apply(cx, &me, &c, bits, pr.bit == 0, &req, Some(&t.name))?;
                    }
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `SET [LOCAL] ROLE`: the session user must be a member of the role (or a superuser).
fn set_role(cx: &mut ExecCtx<'_>, local: bool, role: Option<&str>) -> Result<()> {
    let value = match role {
        None => "none".to_string(),
        Some(name) => {
            let target = cx.engine.role(name).ok_or_else(|| {
                err!(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "role \"{name}\" does not exist"
                )
            })?;
            let session = session_user(cx);
            let allowed = cx.engine.with_catalog(|c| {
                c.role_by_name(&session)
                    .is_some_and(|s| s.superuser || c.is_member_of(s.oid, target.oid))
            });
            if !allowed {
                bail!(
                    sqlstate::INSUFFICIENT_PRIVILEGE,
                    "permission denied to set role \"{name}\""
                );
            }
            target.name
        }
    };
    cx.settings.set("role", Some(&value), local, true)
}

/// `SET SESSION AUTHORIZATION`: a superuser connection may become any role, another
/// only itself.
fn set_session_authorization(
    cx: &mut ExecCtx<'_>,
    local: bool,
    role: Option<&str>,
    authenticated: &str,
) -> Result<()> {
    let name = role.unwrap_or(authenticated);
    let target = cx.engine.role(name).ok_or_else(|| {
        err!(
            sqlstate::INVALID_PARAMETER_VALUE,
            "role \"{name}\" does not exist"
        )
    })?;
    let su = cx.engine.role(authenticated).is_some_and(|r| r.superuser);
    if !su && target.name != authenticated {
        bail!(
            sqlstate::INSUFFICIENT_PRIVILEGE,
            "permission denied to set session authorization"
        );
    }
    cx.settings
        .set("session_authorization", Some(&target.name), local, true)?;
    cx.settings.set("role", Some("none"), local, true)
}

/// GRANT/REVOKE role TO/FROM role.
fn memberships(
    cx: &mut ExecCtx<'_>,
    me: &RoleInfo,
    grant: bool,
    roles: &[String],
    members: &[Grantee],
) -> Result<()> {
    for g in roles {
        let group = lookup_role(cx, g)?;
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
                Grantee::Session => lookup_role(cx, &session_user(cx))?,
                Grantee::Role(n) => lookup_role(cx, n)?,
            };
            let direct = cx
                .engine
                .with_catalog(|c| c.memberships.contains(&(group.oid, member.oid)));
            if grant {
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

/// One object a GRANT changes.
#[derive(Debug, Clone)]
struct Target {
    object: AclObject,
    kind: ObjectKind,
    name: String,
}

/// What a GRANT/REVOKE asks, beyond the privileges and the object.
struct Request {
    grant: bool,
    option_only: bool,
    grantees: Vec<u32>,
    with_grant_option: bool,
    cascade: bool,
}

/// A relation by possibly qualified name (tables, views, sequences).
fn relation(cx: &ExecCtx<'_>, schema: Option<&str>, name: &str) -> Result<Option<Target>> {
    let db = cx.db_oid;
    let schemas = match schema {
        Some(s) => vec![crate::catalog::lookup_schema(cx.engine, s)?],
        None => crate::catalog::search_path::lookup_schemas(),
    };
    Ok(cx.engine.with_catalog(|c| {
        schemas.iter().find_map(|s| {
            let oid = c
                .table_by_name(db, *s, name)
                .map(|t| t.oid)
                .or_else(|| c.ddl.sequence_by_name(db, *s, name).map(|q| q.oid))
                .or_else(|| c.ddl.view_by_name(db, *s, name).map(|v| v.oid))?;
            let object = AclObject::Relation { db, oid };
            let (kind, _, name) = acl::describe_object(c, &object)?;
            Some(Target { object, kind, name })
        })
    }))
}

fn resolve_objects(objects: &Objects, cx: &mut ExecCtx<'_>) -> Result<Vec<Target>> {
    let db = cx.db_oid;
    let mut out = Vec::new();
    match objects {
        Objects::Named(ty @ (ObjType::Table | ObjType::Sequence), names) => {
            for (schema, name) in names {
                let Some(t) = relation(cx, schema.as_deref(), name)? else {
                    bail!(
                        sqlstate::UNDEFINED_TABLE,
                        "relation \"{}\" does not exist",
                        match schema {
                            Some(s) => format!("{s}.{name}"),
                            None => name.clone(),
                        }
                    );
                };
                if *ty == ObjType::Sequence && t.kind != ObjectKind::Sequence {
                    bail!(sqlstate::WRONG_OBJECT_TYPE, "\"{name}\" is not a sequence");
                }
                out.push(t);
            }
        }
        Objects::Named(ObjType::Schema, names) => {
            for (_, name) in names {
                let oid = super::ddl::schema_oid(cx.engine, name)?;
                out.push(Target {
                    object: AclObject::Schema(oid),
                    kind: ObjectKind::Schema,
                    name: name.clone(),
                });
            }
        }
        Objects::Named(ObjType::Database, names) => {
            for (_, name) in names {
                let d = cx.engine.database(name).ok_or_else(|| {
                    err!(
                        sqlstate::INVALID_CATALOG_NAME,
                        "database \"{name}\" does not exist"
                    )
                })?;
                out.push(Target {
                    object: AclObject::Database(d.oid),
                    kind: ObjectKind::Database,
                    name: name.clone(),
                });
            }
        }
        Objects::AllIn(ty, schemas) => {
            for s in schemas {
                let oid = super::ddl::schema_oid(cx.engine, s)?;
                cx.engine.with_catalog(|c| {
                    let mut rels: Vec<u32> = Vec::new();
                    if *ty == ObjType::Table {
                        rels.extend(
                            c.tables
                                .range((db, 0)..=(db, u32::MAX))
                                .filter(|(_, t)| t.schema == oid)
                                .map(|(_, t)| t.oid),
                        );
                        rels.extend(
                            c.ddl
                                .views
                                .range((db, 0)..=(db, u32::MAX))
                                .filter(|(_, v)| v.schema == oid)
                                .map(|(_, v)| v.oid),
                        );
                    } else {
                        rels.extend(
                            c.ddl
                                .sequences
                                .range((db, 0)..=(db, u32::MAX))
                                .filter(|(_, q)| q.schema == oid)
                                .map(|(_, q)| q.oid),
                        );
                    }
                    rels.sort_unstable();
                    for r in rels {
                        let object = AclObject::Relation { db, oid: r };
                        if let Some((kind, _, name)) = acl::describe_object(c, &object) {
                            out.push(Target { object, kind, name });
                        }
                    }
                });
            }
        }
    }
    Ok(out)
}

/// The column `col` of a relation a column privilege names.
fn column_target(cx: &ExecCtx<'_>, t: &Target, col: &str) -> Result<Target> {
    let AclObject::Relation { db, oid } = t.object else {
        return Err(Error::internal("column of a non-relation"));
    };
    if t.kind == ObjectKind::View {
        return Err(unsupported("column privileges on views"));
    }
    let pos = cx.engine.with_catalog(|c| {
        c.tables
            .get(&(db, oid))
            .and_then(|d| d.columns.iter().position(|x| x.name == col))
    });
    let Some(pos) = pos else {
        bail!(
            sqlstate::UNDEFINED_COLUMN,
            "column \"{col}\" of relation \"{}\" does not exist",
            t.name
        );
    };
    Ok(Target {
        object: AclObject::Column {
            db,
            table: oid,
            column: pos as u32,
        },
        kind: ObjectKind::Column,
        name: col.to_string(),
    })
}

/// Grants or revokes `want` on one object (PostgreSQL's `restrict_and_check_grant` and
/// `merge_acl_with_grant`). `relation` names the table of a column target.
fn apply(
    cx: &mut ExecCtx<'_>,
    me: &RoleInfo,
    t: &Target,
    want: u32,
    all: bool,
    req: &Request,
    relation: Option<&str>,
) -> Result<()> {
    let db = cx.db_oid;
    let (cur, held, avail, grantor) = cx.engine.with_catalog(|c| {
        let cur = acl::acl_of(c, &t.object);
        let (held, avail) = acl::privileges(c, db, &t.object, me.oid);
        let owner = acl::describe_object(c, &t.object).map_or(0, |d| d.1);
        // As PostgreSQL's select_best_grantor: ownership (or superuser) grants as the
        // owner; otherwise the role holding the most of the grant options wanted.
        let grantor = if me.superuser || acl::holds_in(c, db, me.oid, owner) {
            owner
        } else {
            // A column's grantor may hold its options through the table.
            let base = match t.object {
                AclObject::Column { db, table, .. } => {
                    acl::acl_of(c, &AclObject::Relation { db, oid: table })
                }
                _ => vec![],
            };
            cur.iter()
                .chain(base.iter())
                .filter(|it| it.grantee != 0 && acl::holds_in(c, db, me.oid, it.grantee))
                .max_by_key(|it| ((it.grant_opts & want).count_ones(), it.grantee == me.oid))
                .map(|it| it.grantee)
                .unwrap_or(me.oid)
        };
        (cur, held, avail, grantor)
    });
    let column_name = |verb: &str| match relation {
        Some(rel) => format!("{verb} for column \"{}\" of relation \"{rel}\"", t.name),
        None => format!("{verb} for \"{}\"", t.name),
    };
    if avail == 0 && held == 0 {
        return Err(match relation {
            Some(rel) => err!(
                sqlstate::INSUFFICIENT_PRIVILEGE,
                "permission denied for column \"{}\" of relation \"{rel}\"",
                t.name
            ),
            None => denied(t.kind.name(), &t.name),
        });
    }
    let this = want & avail;
    if this == 0 {
        cx.notices.push(if req.grant {
            warning("01007", column_name("no privileges were granted"))
        } else {
            warning("01006", column_name("no privileges could be revoked"))
        });
        return Ok(());
    }
    if !all && this != want {
        cx.notices.push(if req.grant {
            warning("01007", column_name("not all privileges were granted"))
        } else {
            warning("01006", column_name("not all privileges could be revoked"))
        });
    }
    if req.grant && req.with_grant_option && req.grantees.contains(&0) {
        bail!("0LP01", "grant options can only be granted to roles");
    }
    let mut new = cur.clone();
    for &g in &req.grantees {
        if req.grant {
            grant_to(&mut new, g, grantor, this, req.with_grant_option);
        } else {
            revoke_from(&mut new, g, grantor, this, req.option_only, req.cascade)?;
        }
    }
    new.retain(|it| it.privs != 0);
    if new != cur {
        cx.engine.catalog_change(
            cx.txn,
            CatalogChange::Acl(AclChange::Set {
                object: t.object,
                acl: Some(new),
            }),
        )?;
    }
    Ok(())
}

/// REVOKE of table privileges from every column ACL of the table (silently, as
/// PostgreSQL's `expand_all_col_privileges` does).
fn revoke_from_columns(
    cx: &mut ExecCtx<'_>,
    me: &RoleInfo,
    t: &Target,
    bits: u32,
    req: &Request,
) -> Result<()> {
    let AclObject::Relation { db, oid } = t.object else {
        return Ok(());
    };
    let lists: Vec<(AclObject, Vec<AclItem>)> = cx.engine.with_catalog(|c| {
        c.acl
            .lists
            .range(
                AclObject::Column {
                    db,
                    table: oid,
                    column: 0,
                }..=AclObject::Column {
                    db,
                    table: oid,
                    column: u32::MAX,
                },
            )
            .map(|(o, a)| (*o, a.clone()))
            .collect()
    });
    let owner = cx
        .engine
        .with_catalog(|c| acl::describe_object(c, &t.object).map_or(0, |d| d.1));
    let grantor = if me.superuser
        || cx
            .engine
            .with_catalog(|c| acl::holds_in(c, db, me.oid, owner))
    {
        owner
    } else {
        me.oid
    };
    for (object, cur) in lists {
        let mut new = cur.clone();
        for &g in &req.grantees {
            revoke_from(&mut new, g, grantor, bits, req.option_only, req.cascade)?;
        }
        new.retain(|it| it.privs != 0);
        if new != cur {
            cx.engine.catalog_change(
                cx.txn,
                CatalogChange::Acl(AclChange::Set {
                    object,
                    acl: Some(new),
                }),
            )?;
        }
    }
    Ok(())
}

/// Adds `bits` (with their grant options when asked) to `grantee`'s item by `grantor`.
fn grant_to(acl: &mut Vec<AclItem>, grantee: u32, grantor: u32, bits: u32, opts: bool) {
    if let Some(it) = acl
        .iter_mut()
        .find(|it| it.grantee == grantee && it.grantor == grantor)
    {
        it.privs |= bits;
        if opts {
            it.grant_opts |= bits;
        }
    } else {
        acl.push(AclItem {
            grantee,
            grantor,
            privs: bits,
            grant_opts: if opts { bits } else { 0 },
        });
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> AclStmt {
        parse_front(s).unwrap().unwrap()
    }

    #[test]
    fn parses_object_types_columns_and_options() {
        let AclStmt::Privileges {
            privs,
            objects,
            grantees,
            with_grant_option,
            ..
        } = parse("GRANT SELECT (a, \"B\"), UPDATE ON public.t TO bob, PUBLIC WITH GRANT OPTION")
        else {
            panic!("not a privilege GRANT")
        };
        assert_eq!(
            privs,
            vec![
                Priv {
                    bit: acl::ACL_SELECT,
                    cols: Some(vec!["a".into(), "B".into()])
                },
                Priv {
                    bit: acl::ACL_UPDATE,
                    cols: None
                }
            ]
        );
        assert_eq!(
            objects,
            Objects::Named(ObjType::Table, vec![(Some("public".into()), "t".into())])
        );
        assert_eq!(grantees, vec![Grantee::Role("bob".into()), Grantee::Public]);
        assert!(with_grant_option);
        let AclStmt::Privileges { objects, all, .. } =
            parse("REVOKE ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA s1, s2 FROM CURRENT_USER")
        else {
            panic!("not a privilege REVOKE")
        };
        assert!(all);
        assert_eq!(
            objects,
            Objects::AllIn(ObjType::Sequence, vec!["s1".into(), "s2".into()])
        );
        assert!(matches!(
            parse("GRANT TEMP, CONNECT ON DATABASE d TO r"),
            AclStmt::Privileges {
                objects: Objects::Named(ObjType::Database, _),
                ..
            }
        ));
    }

    #[test]
    fn refuses_what_postgresql_refuses_or_tusk_lacks() {
        let code = |s: &str| parse_front(s).unwrap_err().code;
        assert_eq!(code("GRANT foo ON t TO r"), sqlstate::SYNTAX_ERROR);
        assert_eq!(
            code("GRANT EXECUTE ON FUNCTION f() TO r"),
            sqlstate::FEATURE_NOT_SUPPORTED
        );
        assert_eq!(
            code("GRANT SELECT ON t TO r GRANTED BY someone"),
            sqlstate::FEATURE_NOT_SUPPORTED
        );
        assert_eq!(
            code("GRANT r1 TO r2 WITH ADMIN OPTION"),
            sqlstate::FEATURE_NOT_SUPPORTED
        );
        // The type checks run at execution, after the objects are resolved.
        assert!(parse_front("GRANT DELETE ON SEQUENCE s TO r").is_ok());
        assert_eq!(
            check_privilege_types(
                ObjType::Sequence,
                &[Priv {
                    bit: acl::ACL_DELETE,
                    cols: None
                }]
            )
            .unwrap_err()
            .message,
            "invalid privilege type DELETE for sequence"
        );
        assert_eq!(
            check_privilege_types(
                ObjType::Table,
                &[Priv {
                    bit: acl::ACL_CREATE_TEMP,
                    cols: None
                }]
            )
            .unwrap_err()
            .message,
            "invalid privilege type TEMP for relation"
        );
    }

    #[test]
    fn parses_role_switching() {
        assert_eq!(
            parse("SET LOCAL ROLE 'r1'"),
            AclStmt::SetRole {
                reset: false,
                local: true,
                role: Some("r1".into())
            }
        );
        assert_eq!(
            parse("SET SESSION ROLE NONE"),
            AclStmt::SetRole {
                reset: false,
                local: false,
                role: None
            }
        );
        assert_eq!(
            parse("RESET SESSION AUTHORIZATION"),
            AclStmt::SessionAuthorization {
                reset: true,
                local: false,
                role: None
            }
        );
        assert_eq!(parse("SET ROLE r1").tag(), "SET");
        assert_eq!(parse("GRANT r1 TO r2").tag(), "GRANT ROLE");
        // Other SETs are not ours.
        assert!(parse_front("SET search_path = a").unwrap().is_none());
        assert!(parse_front("SET SESSION search_path = a")
            .unwrap()
            .is_none());
    }
}
