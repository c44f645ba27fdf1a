//! SQL cursors: `DECLARE name CURSOR [WITH HOLD] FOR query`, `FETCH`, and `CLOSE`
//! (the front parser's), as drivers use them for results read piece by piece
//! (psycopg's and psycopg2's named cursors).
//!
//! What it owns: turning a cursor into one of the session's portals, as PostgreSQL
//! does — a cursor *is* a portal, so the protocol's Describe (portal) and Execute work
//! on a cursor by name, and FETCH, MOVE and CLOSE work on a portal the protocol's Bind
//! made (asyncpg's cursors are such portals).
//!
//! Invariants:
//! 1. DECLARE runs the query at once, in the current transaction's snapshot, and keeps
//!    its rows in the portal; FETCH hands them out in order. The cursor is therefore
//!    insensitive to later changes, as a PostgreSQL cursor reading its snapshot is.
//! 2. A cursor without HOLD belongs to its transaction block: DECLARE outside one fails
//!    (25P01) and the cursor goes when the block ends. A cursor WITH HOLD survives the
//!    COMMIT of the block that declared it; a rollback takes it away.
//! 3. Cursor and portal names share one namespace (42P03 for a name in use).
//!
//! What it must never do: run the query again on FETCH, or scan backwards: FETCH
//! directions other than forward by at least one row (PRIOR, FIRST, LAST, ABSOLUTE,
//! RELATIVE, BACKWARD, 0, negative counts) and SCROLL and BINARY cursors are refused
//! with 0A000.
//!
//! A DECLARE, step by step: [`Session::run_cursor_sql`] checks the transaction state
//! and the name, plans the query with the statement's parameters (a DECLARE bound over
//! the extended protocol may have some), runs it, and inserts a portal holding the rows
//! and the query's columns; FETCH (parsed by the front parser, run by
//! [`Session::fetch_cursor`]) pops rows from that portal's queue and answers them with
//! those columns and the tag `FETCH n`; MOVE pops them without answering them.

use super::front::Piece;
use super::{CursorHold, ExecResult, Parsed, Portal, Prepared, Session};
use crate::bail;
use crate::error::{sqlstate, Result};
use crate::types::{DataType, Value};
use sqlparser::ast::{self, Statement};
use std::sync::Arc;

/// PostgreSQL's SQLSTATE for a cursor name already in use.
const DUPLICATE_CURSOR: &str = "42P03";

/// Whether `stmt` is a statement this module runs (DECLARE … CURSOR; FETCH and CLOSE
/// come from the front parser).
pub(super) fn is_cursor_statement(stmt: &Statement) -> bool {
    match stmt {
        Statement::Declare { stmts } => stmts.iter().any(|d| d.for_query.is_some()),
        _ => false,
    }
}

/// The text of a DECLARE's query within the statement (after `CURSOR … FOR`) and its
/// character offset there, so that the query's error positions point into what the
/// client wrote; None when it cannot be found.
fn query_text(text: &str) -> Option<(usize, &str)> {
    let lower = text.to_ascii_lowercase();
    let words: Vec<(usize, &str)> = word_spans(&lower);
    let cursor = words.iter().position(|&(_, w)| w == "cursor")?;
    let mut i = cursor + 1;
    if matches!(words.get(i), Some(&(_, "with" | "without"))) {
        i += 2;
    }
    let &(at, w) = words.get(i)?;
    if w != "for" {
        return None;
    }
    let start = at + 3;
    let rest = &text[start..];
    let skipped = rest.len() - rest.trim_start().len();
    Some((
        text[..start + skipped].chars().count(),
        &text[start + skipped..],
    ))
}

/// The unquoted words of `text` with their byte offsets (quoted identifiers skipped).
fn word_spans(text: &str) -> Vec<(usize, &str)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += 1;
            }
            i += 1;
        } else if b[i].is_ascii_alphabetic() || b[i] == b'_' {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push((s, &text[s..i]));
        } else {
            i += 1;
        }
    }
    out
}

impl Session {
    /// The parameter types and result columns of a DECLARE at Parse: its parameters
    /// are its query's, and it returns no rows.
    pub(super) fn describe_cursor_statement(
        &mut self,
        piece: &Piece,
        stmt: &Statement,
        types: &mut Vec<DataType>,
    ) -> Result<Option<Arc<Vec<super::FieldDesc>>>> {
        match stmt {
            Statement::Declare { stmts } => {
                let Some(q) = stmts.first().and_then(|d| d.for_query.clone()) else {
                    return Ok(None);
                };
                let (qpiece, _) = query_piece(piece, &q);
                self.plan_cached(&qpiece, &Statement::Query(q), types)?;
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// Runs DECLARE … CURSOR; None for any other statement.
    pub(super) fn run_cursor_sql(
        &mut self,
        piece: &Piece,
        stmt: &Statement,
        params: &[Value],
        param_types: &mut Vec<DataType>,
    ) -> Result<Option<ExecResult>> {
        if !is_cursor_statement(stmt) {
            return Ok(None);
        }
        match stmt {
            Statement::Declare { stmts } => {
                let [d] = stmts.as_slice() else {
                    bail!(sqlstate::SYNTAX_ERROR, "syntax error at or near \",\"");
                };
                let Some(q) = d.for_query.clone() else {
                    return Ok(None);
                };
                let name = d.names.first().map(super::plan::fold).unwrap_or_default();
                let hold = d.hold == Some(true);
                if d.binary == Some(true) {
                    bail!(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "DECLARE BINARY is not supported yet"
                    );
                }
                if d.scroll == Some(true) {
                    bail!(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "DECLARE SCROLL is not supported yet"
                    );
                }
                if !hold && !self.explicit {
                    bail!(
                        sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                        "DECLARE CURSOR can only be used in transaction blocks"
                    );
                }
                if self.portals.contains_key(&name) {
                    bail!(DUPLICATE_CURSOR, "cursor \"{name}\" already exists");
                }
                let (qpiece, query) = query_piece(piece, &q);
                let plan = self.plan_cached(&qpiece, &query, param_types)?;
                let (fields, rows, tag) = match self.run_plan(&plan, params)? {
                    ExecResult::Rows { fields, rows, tag } => (fields, rows, tag),
                    _ => bail!(
                        sqlstate::SYNTAX_ERROR,
                        "syntax error at or near \"{}\"",
                        query
                    ),
                };
                let prepared = Prepared {
                    piece: qpiece,
                    parsed: Parsed::Sql(Box::new(query)),
                    param_types: param_types.clone(),
                    fields: Some(fields),
                };
                self.portals.insert(
                    name,
                    Portal {
                        stmt: Arc::new(prepared),
                        params: params.to_vec(),
                        result_formats: Vec::new(),
                        pending: Some((rows.into(), tag)),
                        fetched: false,
                        cursor: Some(if hold {
                            CursorHold::Declared
                        } else {
                            CursorHold::No
                        }),
                    },
                );
                Ok(Some(ExecResult::Command {
                    tag: "DECLARE CURSOR".into(),
                }))
            }
            _ => Ok(None),
        }
    }

    /// FETCH / MOVE: the next `count` rows of the cursor (None: all that are left),
    /// returned with the cursor's columns, or only skipped for MOVE.
    pub(super) fn fetch_cursor(
        &mut self,
        cursor: &str,
        count: &std::result::Result<Option<u64>, String>,
        move_only: bool,
    ) -> Result<ExecResult> {
        let verb = if move_only { "MOVE" } else { "FETCH" };
        let count = match count {
            Ok(c) => *c,
            Err(direction) => bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "{verb} {direction} is not supported yet"
            ),
        };
        if self
            .portals
            .get(cursor)
            .is_some_and(|p| p.pending.is_none() && p.stmt.fields.is_none())
        {
            // Running it would run an INSERT or a DDL statement from a FETCH.
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "{verb} from a portal whose statement returns no rows is not supported"
            );
        }
        if self
            .portals
            .get(cursor)
            .is_some_and(|p| p.pending.is_none())
        {
            // A protocol portal not executed yet: run it as Execute would, and queue
            // all its rows (asyncpg binds a named portal, then MOVEs and FETCHes in it).
            let (rows, tag) = self.execute_inner(cursor, 0)?;
            if let Some(p) = self.portals.get_mut(cursor) {
                p.pending = Some((rows.into(), tag.unwrap_or_default()));
            }
        }
        let Some(p) = self.portals.get_mut(cursor) else {
            bail!(
                sqlstate::INVALID_CURSOR_NAME,
                "cursor \"{cursor}\" does not exist"
            );
        };
        let fields = p.stmt.fields.clone().unwrap_or_default();
        let queue = &mut p.pending.get_or_insert_with(Default::default).0;
        let n = count
            .map_or(queue.len(), |c| usize::try_from(c).unwrap_or(usize::MAX))
            .min(queue.len());
        let rows: Vec<Vec<Value>> = queue.drain(..n).collect();
        p.fetched = true;
        let tag = format!("{verb} {}", rows.len());
        Ok(if move_only {
            ExecResult::Command { tag }
        } else {
            ExecResult::Rows { fields, rows, tag }
        })
    }

    /// The columns a FETCH from `cursor` returns, when the cursor exists.
    pub(super) fn cursor_fields(&self, cursor: &str) -> Option<Arc<Vec<super::FieldDesc>>> {
        self.portals.get(cursor).and_then(|p| p.stmt.fields.clone())
    }

    /// CLOSE name: drops the cursor (or protocol portal); 34000 when there is none of
    /// that name.
    pub(super) fn close_cursor(&mut self, name: &str) -> Result<()> {
        match self.portals.remove(name) {
            Some(_) => Ok(()),
            None => bail!(
                sqlstate::INVALID_CURSOR_NAME,
                "cursor \"{name}\" does not exist"
            ),
        }
    }

    /// CLOSE ALL: drops every cursor of the session, and every other portal, as
    /// PostgreSQL's does.
    pub(super) fn close_all_cursors(&mut self) {
        self.portals.clear();
    }
}

/// The piece of text a DECLARE's query is planned from (its own text when found, so
/// that plans are cached under it and error positions point into the statement), and
/// the query as a statement.
fn query_piece(piece: &Piece, q: &ast::Query) -> (Piece, Statement) {
    let query = Statement::Query(Box::new(q.clone()));
    let qpiece = match query_text(&piece.text) {
        Some((at, text)) => Piece {
            text: text.to_string(),
            offset: piece.offset + at,
        },
        None => Piece {
            text: query.to_string(),
            offset: 0,
        },
    };
    (qpiece, query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_query_after_cursor_for() {
        assert_eq!(
            query_text("DECLARE c CURSOR FOR SELECT 1"),
            Some((21, "SELECT 1"))
        );
        assert_eq!(
            query_text("declare \"cursor for\" no scroll cursor with hold for  values (1)"),
            Some((53, "values (1)"))
        );
        assert_eq!(query_text("DECLARE c CURSOR SELECT 1"), None);
    }

    #[test]
    fn declare_over_the_protocol_and_fetch_from_portals() {
        use crate::sql::tests::{db, q, session};
        let d = db("cursors");
        let mut s = session(&d.engine, "postgres");
        // A DECLARE with a parameter, as psycopg sends a named cursor's query.
        s.parse(
            "",
            "DECLARE c CURSOR WITH HOLD FOR SELECT g FROM generate_series(1, $1) g",
            &[],
        )
        .unwrap();
        let (types, fields) = s.describe_statement("").unwrap();
        assert_eq!(types, vec![23]);
        assert!(fields.is_none());
        s.bind("", "", &[], &[Some(b"5".to_vec())], &[]).unwrap();
        assert_eq!(
            s.execute("", 0).unwrap().1.as_deref(),
            Some("DECLARE CURSOR")
        );
        s.sync().unwrap();
        // The cursor is a portal: Describe (portal) gives its columns.
        let cols = s.describe_portal("c").unwrap().unwrap();
        assert_eq!(cols[0].name, "g");
        assert_eq!(q(&mut s, "FETCH 2 FROM c"), "g\n1\n2\nFETCH 2");
        assert_eq!(q(&mut s, "MOVE 1 IN c"), "MOVE 1");
        assert_eq!(q(&mut s, "FETCH ALL c"), "g\n4\n5\nFETCH 2");
        assert_eq!(
            q(&mut s, "FETCH PRIOR FROM c"),
            "ERROR 0A000: FETCH PRIOR is not supported yet"
        );
        assert_eq!(
            q(&mut s, "MOVE BACKWARD 2 IN c"),
            "ERROR 0A000: MOVE BACKWARD 2 is not supported yet"
        );
        assert_eq!(
            q(&mut s, "DECLARE s SCROLL CURSOR WITH HOLD FOR SELECT 1"),
            "ERROR 0A000: DECLARE SCROLL is not supported yet"
        );
        // A portal the protocol's Bind made, not executed yet, is fetched from by name.
        q(&mut s, "BEGIN");
        s.parse("st", "SELECT g * 10 AS t FROM generate_series(1, 3) g", &[])
            .unwrap();
        s.bind("p", "st", &[], &[], &[]).unwrap();
        assert_eq!(q(&mut s, "FETCH 2 FROM p"), "t\n10\n20\nFETCH 2");
        assert_eq!(q(&mut s, "CLOSE p"), "CLOSE CURSOR");
        s.parse("ins", "CREATE TABLE never_made (a int)", &[])
            .unwrap();
        s.bind("np", "ins", &[], &[], &[]).unwrap();
        assert_eq!(
            q(&mut s, "FETCH np"),
            "ERROR 0A000: FETCH from a portal whose statement returns no rows is not supported"
        );
        q(&mut s, "ROLLBACK");
        q(&mut s, "BEGIN");
        assert_eq!(
            q(&mut s, "FETCH p"),
            "ERROR 34000: cursor \"p\" does not exist"
        );
        q(&mut s, "COMMIT");
    }
}
