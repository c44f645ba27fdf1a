//! Temporary tables, sequences and views as a session sees them: where `CREATE
//! TEMP …` goes, `ON COMMIT PRESERVE ROWS | DELETE ROWS | DROP`, and the rules that tie
//! temporary and permanent objects together.
//!
//! What it owns: the session's [`TempSession`] — its handle on its temporary namespace
//! (`storage::temp::SessionTemp`, which drops every temporary object when the session
//! ends, however it ends) and its ON COMMIT actions — the schema a CREATE of a table
//! goes to ([`create_schema`]), the actions run just before each commit
//! ([`pre_commit`]), `DISCARD TEMP` ([`discard`]), PostgreSQL's messages for what
//! mixes persistence wrongly, and what `UNLOGGED` means in tusk
//! ([`unlogged_as_logged`]: an ordinary, logged table).
//!
//! Where the rest lives: the storage decision (temporary objects are ordinary catalog
//! objects in a `pg_temp_N` schema, never logged, never imaged) is `storage::temp`'s;
//! name resolution (the temporary namespace first, `pg_temp` as its alias, hidden from
//! permanent views) is `catalog::search_path`'s; a view that names a temporary object
//! becomes temporary in `sql::ddl`; foreign keys check persistence in `sql::fkeys`.
//!
//! Invariants:
//! - ON COMMIT actions are the session's, not the catalog's (as in PostgreSQL's
//!   relcache): an action is registered when its CREATE runs and forgotten at the
//!   first commit that finds its table gone (dropped, or its creation rolled back);
//!   OIDs are never reused while the server runs, so a stale entry cannot hit another
//!   table.
//! - The actions run inside the committing transaction, before its WAL is written:
//!   DELETE ROWS as a TRUNCATE of the table, DROP as `DROP TABLE … CASCADE` (quietly,
//!   as PostgreSQL does). Neither writes WAL: the tables are temporary.
//!
//! What it must never do: drop or clear a table other than the session's own
//! temporary ones, or run its actions outside a transaction.
//!
//! One `BEGIN; CREATE TEMP TABLE t (a int) ON COMMIT DROP; INSERT …; COMMIT`:
//! 1. planning puts `t` in the session's `pg_temp_N` ([`create_schema`]) and keeps
//!    `OnCommit::Drop` in the plan; running it registers the action;
//! 2. at COMMIT the session calls [`pre_commit`] in the transaction: `t` still
//!    exists, so it is dropped (with its owned sequences and constraints);
//! 3. the engine commits: nothing of `t` ever reached the WAL, and it is gone.

use super::ExecCtx;
use crate::error::{sqlstate, Error, Result};
use crate::storage::ddl::DdlChange;
use crate::storage::temp::SessionTemp;
use crate::storage::{CatalogChange, Engine};
use crate::{bail, err};
use sqlparser::ast;
use std::sync::Arc;

/// What happens to a temporary table at the commit of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnCommit {
    /// `ON COMMIT PRESERVE ROWS` (the default): nothing.
    PreserveRows,
    /// `ON COMMIT DELETE ROWS`: every row goes at each commit.
    DeleteRows,
    /// `ON COMMIT DROP`: the table is dropped at the commit of its transaction.
    Drop,
}

/// The session's temporary-object state.
#[derive(Debug)]
pub struct TempSession {
    /// The handle on the session's temporary namespace (dropping it drops the
    /// namespace and everything in it).
    handle: Arc<SessionTemp>,
    /// ON COMMIT DELETE ROWS / DROP actions: (database, table OID, action).
    on_commit: Vec<(u32, u32, OnCommit)>,
}

impl TempSession {
    /// The state of a new session connected to database `db`.
    pub fn new(engine: Arc<Engine>, db: u32) -> TempSession {
        TempSession {
            handle: SessionTemp::new(engine, db),
            on_commit: Vec::new(),
        }
    }

    /// The handle `catalog::search_path` resolves `pg_temp` through.
    pub fn handle(&self) -> &Arc<SessionTemp> {
        &self.handle
    }

    /// Remembers a created table's ON COMMIT action (PRESERVE ROWS needs nothing).
    pub fn register(&mut self, db: u32, table: u32, action: OnCommit) {
        if action != OnCommit::PreserveRows {
            self.on_commit.push((db, table, action));
        }
    }

    /// Whether the session has created its temporary namespace.
    pub fn has_namespace(&self) -> bool {
        self.handle.namespace().is_some()
    }

    /// Whether a commit has ON COMMIT work to look at.
    pub fn has_commit_actions(&self) -> bool {
        !self.on_commit.is_empty()
    }
}

/// The ON COMMIT clause of a CREATE TABLE, refused (42P16) on a table not declared
/// TEMPORARY — PostgreSQL checks the keyword, not the schema the table lands in.
pub fn on_commit(clause: Option<&ast::OnCommit>, temporary: bool) -> Result<Option<OnCommit>> {
    let Some(c) = clause else {
        return Ok(None);
    };
    if !temporary {
        bail!(
            sqlstate::INVALID_TABLE_DEFINITION,
            "ON COMMIT can only be used on temporary tables"
        );
    }
    Ok(Some(match c {
        ast::OnCommit::PreserveRows => OnCommit::PreserveRows,
        ast::OnCommit::DeleteRows => OnCommit::DeleteRows,
        ast::OnCommit::Drop => OnCommit::Drop,
    }))
}

/// The schema a CREATE [TEMP] TABLE (or CREATE TABLE AS, SELECT INTO) goes to: the
/// session's temporary namespace for TEMP (an explicit schema must be it: 42P16), else
/// the ordinary creation schema — which is the temporary namespace too when the name
/// is qualified by `pg_temp` or `pg_temp` comes first in `search_path`.
pub fn create_schema(engine: &Engine, schema: Option<&str>, temporary: bool) -> Result<u32> {
    if temporary {
        crate::catalog::resolve_temp_schema_for_create(engine, schema)
    } else {
        crate::catalog::resolve_schema_for_create(engine, schema)
    }
}

/// `CREATE UNLOGGED TABLE …` with `UNLOGGED` blanked out (positions kept), for the
/// parser: tusk makes an unlogged table an ordinary, WAL-logged one. That is honest
/// only because it is stronger — the rows survive a crash and reach standbys, where
/// PostgreSQL would empty the table after a crash and keep it off standbys — and it is
/// documented as such; nothing reports the table as unlogged. None when the statement
/// is not one.
pub fn unlogged_as_logged(text: &str) -> Option<String> {
    let mut words: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        if c.is_ascii_alphabetic() {
            start.get_or_insert(i);
            continue;
        }
        if let Some(s) = start.take() {
            words.push((s, i));
        }
        if words.len() == 3 || !c.is_whitespace() {
            break;
        }
    }
    if words.len() < 3 {
        if let Some(s) = start {
            words.push((s, text.len()));
        }
    }
    let word = |i: usize| words.get(i).map(|&(s, e)| text[s..e].to_ascii_lowercase());
    if word(0)? != "create" || word(1)? != "unlogged" || word(2)? != "table" {
        return None;
    }
    let (s, e) = words[1];
    Some(format!("{}{}{}", &text[..s], " ".repeat(e - s), &text[e..]))
}

/// PostgreSQL's refusal of a foreign key between a permanent and a temporary table
/// (`child_temp`: the referencing table is temporary); None when they match.
pub fn foreign_key_persistence(child_temp: bool, parent_temp: bool) -> Option<Error> {
    match (child_temp, parent_temp) {
        (false, true) => Some(err!(
            sqlstate::INVALID_TABLE_DEFINITION,
            "constraints on permanent tables may reference only permanent tables"
        )),
        (true, false) => Some(err!(
            sqlstate::INVALID_TABLE_DEFINITION,
            "constraints on temporary tables may reference only temporary tables"
        )),
        _ => None,
    }
}

/// Runs the session's ON COMMIT actions inside the committing transaction: first
/// DELETE ROWS (a TRUNCATE of those tables), then DROP (quietly, with CASCADE), as
/// PostgreSQL's `PreCommit_on_commit_actions` orders them. Actions of tables that no
/// longer exist are forgotten; DROP actions are done once.
pub fn pre_commit(cx: &mut ExecCtx<'_>) -> Result<()> {
    let actions = std::mem::take(&mut cx.temp.on_commit);
    let mut keep = Vec::new();
    let mut clear = Vec::new();
    let mut drop = Vec::new();
    for (db, oid, action) in actions {
        let Some(def) = cx
            .engine
            .with_catalog(|c| c.tables.get(&(db, oid)).cloned())
        else {
            continue;
        };
        match action {
            OnCommit::DeleteRows => {
                keep.push((db, oid, action));
                clear.push((db, def));
            }
            OnCommit::Drop => drop.push(("pg_temp".to_string(), def.name.clone())),
            OnCommit::PreserveRows => {}
        }
    }
    cx.temp.on_commit = keep;
    // A table referencing one that is emptied must be emptied too (PostgreSQL's
    // heap_truncate_check_FKs).
    let cleared: Vec<u32> = clear.iter().map(|(_, d)| d.oid).collect();
    let mismatch = cx.engine.with_catalog(|c| {
        c.ddl.foreign_keys.iter().find_map(|((db, child), fks)| {
            let parent = fks.iter().find(|f| cleared.contains(&f.ref_table))?;
            if cleared.contains(child) {
                return None;
            }
            let name = |oid: u32| c.tables.get(&(*db, oid)).map(|t| t.name.clone());
            Some((name(*child)?, name(parent.ref_table)?))
        })
    });
    if let Some((child, parent)) = mismatch {
        return Err(err!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "unsupported ON COMMIT and foreign key combination"
        )
        .with_detail(format!(
            "Table \"{child}\" references \"{parent}\", but they do not have the same ON COMMIT setting."
        )));
    }
    if !clear.is_empty() {
        super::exec::run_truncate(&clear, cx)?;
    }
    if !drop.is_empty() {
        let quiet = cx.notices.len();
        let names: Vec<(Option<String>, String)> =
            drop.into_iter().map(|(s, n)| (Some(s), n)).collect();
        super::exec::run_drop_table(&names, true, true, cx)?;
        cx.notices.truncate(quiet);
    }
    Ok(())
}

/// `DISCARD TEMP` (and `DISCARD ALL`): drops every temporary object of the session in
/// the current transaction — views, then tables (quietly, with CASCADE: their owned
/// sequences and constraints go too), then the remaining sequences.
pub fn discard(cx: &mut ExecCtx<'_>) -> Result<()> {
    let Some(ns) = cx.temp.handle.namespace() else {
        return Ok(());
    };
    let db = cx.db_oid;
    let in_ns = |c: &crate::storage::CatalogState| {
        let views: Vec<u32> = c
            .ddl
            .views
            .iter()
            .filter(|((d, _), v)| *d == db && v.schema == ns)
            .map(|(_, v)| v.oid)
            .collect();
        let tables: Vec<(Option<String>, String)> = c
            .tables
            .iter()
            .filter(|((d, _), t)| *d == db && t.schema == ns)
            .map(|(_, t)| (Some("pg_temp".to_string()), t.name.clone()))
            .collect();
        let seqs: Vec<u32> = c
            .ddl
            .sequences
            .iter()
            .filter(|((d, _), s)| *d == db && s.schema == ns)
            .map(|(_, s)| s.oid)
            .collect();
        (views, tables, seqs)
    };
    let (views, tables, _) = cx.engine.with_catalog(in_ns);
    for oid in views {
        cx.engine
            .catalog_change(cx.txn, CatalogChange::Ddl(DdlChange::DropView { db, oid }))?;
    }
    if !tables.is_empty() {
        let quiet = cx.notices.len();
        super::exec::run_drop_table(&tables, true, true, cx)?;
        cx.notices.truncate(quiet);
    }
    let (_, _, seqs) = cx.engine.with_catalog(in_ns);
    for oid in seqs {
        cx.engine.catalog_change(
            cx.txn,
            CatalogChange::Ddl(DdlChange::DropSequence { db, oid }),
        )?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "temp_tests.rs"]
mod tests;
