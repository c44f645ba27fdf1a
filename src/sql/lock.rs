//! `LOCK [TABLE] [ONLY] name [*] [, …] [IN mode MODE] [NOWAIT]`.
//!
//! # What it owns
//!
//! The statement's checks, in PostgreSQL's order: it must run in a transaction block
//! (25P01), every name must be a table or a view (42P01 for nothing, 42809 for a
//! sequence or an index), and the role must hold the privilege the mode asks for
//! (SELECT for ACCESS SHARE, 42501).
//!
//! # What a lock means here
//!
//! tusk has no relation-level lock manager: readers and writers meet only at row
//! versions and row locks (`storage`). The one mode it accepts is ACCESS SHARE, the
//! lock every SELECT takes and the one pg_dump takes on each table it dumps. It
//! conflicts only with ACCESS EXCLUSIVE, which in PostgreSQL DROP, TRUNCATE and most
//! ALTER TABLE forms take; tusk's DDL does not wait for it, so a table dropped while a
//! dump runs makes the dump's later COPY fail (42P01) instead of waiting. Every
//! stronger mode would promise that other sessions wait, which tusk cannot keep, so
//! it is refused with 0A000 rather than accepted and ignored.
//!
//! On a hot standby, ACCESS SHARE is held as PostgreSQL holds it there: replay of a
//! DROP TABLE or ALTER TABLE of a locked table waits for the transaction
//! (`storage::standby_locks`).
//!
//! What this module must never do: accept a mode whose waiting it does not provide.

use super::ExecCtx;
use crate::bail;
use crate::error::{sqlstate, Result};

/// A table lock mode, in PostgreSQL's order from weakest to strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// ACCESS SHARE.
    AccessShare,
    /// ROW SHARE.
    RowShare,
    /// ROW EXCLUSIVE.
    RowExclusive,
    /// SHARE UPDATE EXCLUSIVE.
    ShareUpdateExclusive,
    /// SHARE.
    Share,
    /// SHARE ROW EXCLUSIVE.
    ShareRowExclusive,
    /// EXCLUSIVE.
    Exclusive,
    /// ACCESS EXCLUSIVE (the default).
    AccessExclusive,
}

impl LockMode {
    /// The mode named by the words between IN and MODE (lower case), if any is.
    pub fn from_words(words: &[&str]) -> Option<LockMode> {
        Some(match words {
            ["access", "share"] => LockMode::AccessShare,
            ["row", "share"] => LockMode::RowShare,
            ["row", "exclusive"] => LockMode::RowExclusive,
            ["share", "update", "exclusive"] => LockMode::ShareUpdateExclusive,
            ["share"] => LockMode::Share,
            ["share", "row", "exclusive"] => LockMode::ShareRowExclusive,
            ["exclusive"] => LockMode::Exclusive,
            ["access", "exclusive"] => LockMode::AccessExclusive,
            _ => return None,
        })
    }

    /// The mode's name as SQL writes it.
    pub fn name(self) -> &'static str {
        match self {
            LockMode::AccessShare => "ACCESS SHARE",
            LockMode::RowShare => "ROW SHARE",
            LockMode::RowExclusive => "ROW EXCLUSIVE",
            LockMode::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            LockMode::Share => "SHARE",
            LockMode::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            LockMode::Exclusive => "EXCLUSIVE",
            LockMode::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }
}

/// A parsed LOCK statement.
#[derive(Debug, Clone, PartialEq)]
pub struct LockStmt {
    /// The relations as (schema, name).
    pub tables: Vec<(Option<String>, String)>,
    /// The mode.
    pub mode: LockMode,
    /// NOWAIT.
    pub nowait: bool,
}

/// Runs LOCK: the checks of the module comment; `in_block` says whether the session
/// is in a transaction block.
pub fn execute(stmt: &LockStmt, in_block: bool, cx: &mut ExecCtx<'_>) -> Result<()> {
    if !in_block {
        bail!(
            sqlstate::NO_ACTIVE_SQL_TRANSACTION,
            "LOCK TABLE can only be used in transaction blocks"
        );
    }
    let role = super::privileges::current_role_oid(cx);
    let mut locked = Vec::new();
    for (schema, name) in &stmt.tables {
        let db = cx.db_oid;
        let oid = match crate::catalog::resolve_table(cx.engine, db, schema.as_deref(), name)? {
            Some(def) => def.oid,
            None => match super::ddl::find_view(cx.engine, db, schema.as_deref(), name)? {
                Some(v) => v.oid,
                None => {
                    let what = if super::ddl::find_sequence(cx.engine, db, schema.as_deref(), name)?
                        .is_some()
                    {
                        "sequences"
                    } else if relation_exists(cx, schema.as_deref(), name) {
                        "indexes"
                    } else {
                        bail!(
                            sqlstate::UNDEFINED_TABLE,
                            "relation \"{}\" does not exist",
                            shown(schema.as_deref(), name)
                        );
                    };
                    return Err(crate::err!(
                        sqlstate::WRONG_OBJECT_TYPE,
                        "cannot lock relation \"{name}\""
                    )
                    .with_detail(format!("This operation is not supported for {what}.")));
                }
            },
        };
        if stmt.mode == LockMode::AccessShare {
            super::privileges::check_relation(
                cx.engine,
                db,
                role,
                oid,
                crate::storage::acl::ACL_SELECT,
            )?;
        }
        locked.push(oid);
    }
    if stmt.mode != LockMode::AccessShare {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "LOCK TABLE in {} mode is not supported yet",
            stmt.mode.name()
        );
    }
    // On a hot standby the lock is real: replay of a DROP or ALTER of these tables
    // waits for this transaction (storage/standby_locks.rs).
    for oid in locked {
        cx.engine.note_standby_read(cx.txn, cx.db_oid, oid);
    }
    Ok(())
}

fn shown(schema: Option<&str>, name: &str) -> String {
    match schema {
        Some(s) => format!("{s}.{name}"),
        None => name.to_string(),
    }
}

/// Whether some relation (here: an index) has this name along the search path.
fn relation_exists(cx: &ExecCtx<'_>, schema: Option<&str>, name: &str) -> bool {
    let schemas = match schema {
        Some(s) => match crate::catalog::lookup_schema(cx.engine, s) {
            Ok(o) => vec![o],
            Err(_) => return false,
        },
        None => crate::catalog::search_path::lookup_schemas(),
    };
    let db = cx.db_oid;
    cx.engine
        .with_catalog(|c| schemas.iter().any(|s| c.relation_exists(db, *s, name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_by_words() {
        assert_eq!(
            LockMode::from_words(&["access", "share"]),
            Some(LockMode::AccessShare)
        );
        assert_eq!(
            LockMode::from_words(&["share", "update", "exclusive"]),
            Some(LockMode::ShareUpdateExclusive)
        );
        assert_eq!(LockMode::from_words(&["share", "access"]), None);
        assert_eq!(LockMode::RowExclusive.name(), "ROW EXCLUSIVE");
    }
}
