//! SQL-level prepared statements: `PREPARE name [(types)] AS statement` and
//! `EXECUTE name [(parameters)]` (`DEALLOCATE` is the front parser's).
//!
//! What it owns: turning the two statements into the session's prepared-statement
//! machinery — the same named statements the extended protocol's Parse creates, as in
//! PostgreSQL, where a statement prepared in SQL can be bound by name over the
//! protocol and the other way round.
//!
//! Invariants: PREPARE plans the statement at once (errors surface at PREPARE, as in
//! PostgreSQL) and never runs it; EXECUTE evaluates its parameters as constant
//! expressions cast to the statement's parameter types, then runs the statement in
//! the session's current transaction, returning its own result and tag. The
//! statement is planned again when the catalog changed; if its result columns are no
//! longer those described when it was prepared, EXECUTE (and the protocol's Execute)
//! fails as PostgreSQL's does (`cached plan must not change result type`).
//!
//! What it must never do: keep a second namespace of statements, or run anything at
//! PREPARE.

use super::plan::Plan;
use super::{ExecResult, FieldDesc, Parsed, Piece, Prepared, Session};
use crate::error::{sqlstate, Result};
use crate::types::Value;
use crate::{bail, err};
use sqlparser::ast::Statement;

impl Session {
    /// Runs PREPARE or EXECUTE; None for any other statement.
    pub(super) fn run_prepared_sql(
        &mut self,
        piece: &Piece,
        stmt: &Statement,
    ) -> Result<Option<ExecResult>> {
        match stmt {
            Statement::Prepare {
                name,
                data_types,
                statement,
            } => {
                let mut oids = Vec::new();
                for t in data_types {
                    oids.push(super::plan::convert_type(t)?.0.oid());
                }
                let name = super::plan::fold(name);
                // The statement's own text (so that error positions point into what
                // the client wrote); sqlparser's rendering when it cannot be found.
                match statement_text(&piece.text) {
                    Some((at, text)) => self.parse_inner(&name, text, &oids, piece.offset + at)?,
                    None => self.parse_inner(&name, &statement.to_string(), &oids, 0)?,
                }
                Ok(Some(ExecResult::Command {
                    tag: "PREPARE".into(),
                }))
            }
            Statement::Execute {
                name: Some(name),
                parameters,
                immediate: false,
                into,
                using,
                ..
            } if into.is_empty() && using.is_empty() => {
                let (_, prepared) = self.prepared_for(name, parameters.len())?;
                let params = self.execute_parameters(parameters, &prepared.param_types)?;
                let mut types = prepared.param_types.clone();
                self.expect_result_type(&prepared);
                let r = self.run(&prepared.piece, &prepared.parsed, &params, &mut types)?;
                Ok(Some(r))
            }
            Statement::Explain { statement, .. }
                if matches!(statement.as_ref(), Statement::Execute { .. }) =>
            {
                self.explain_execute(piece, stmt).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// The prepared statement `EXECUTE name` names (26000 when there is none) and its
    /// name, checked to take `given` parameters (42601 otherwise).
    fn prepared_for(
        &self,
        name: &sqlparser::ast::ObjectName,
        given: usize,
    ) -> Result<(String, std::sync::Arc<super::Prepared>)> {
        let name = name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(super::plan::fold)
            .unwrap_or_default();
        let Some(prepared) = self.statements.get(&name).cloned() else {
            bail!(
                sqlstate::INVALID_SQL_STATEMENT_NAME,
                "prepared statement \"{name}\" does not exist"
            );
        };
        if given != prepared.param_types.len() {
            return Err(err!(
                sqlstate::SYNTAX_ERROR,
                "wrong number of parameters for prepared statement \"{name}\""
            )
            .with_detail(format!(
                "Expected {} parameters but got {given}.",
                prepared.param_types.len()
            )));
        }
        Ok((name, prepared))
    }

    /// `EXPLAIN [(options)] EXECUTE name [(parameters)]`: explains the prepared
    /// statement with the parameters given (with ANALYZE, runs it with them).
    fn explain_execute(&mut self, piece: &Piece, stmt: &Statement) -> Result<ExecResult> {
        let Statement::Explain { statement, .. } = stmt else {
            bail!(sqlstate::INTERNAL_ERROR, "EXPLAIN EXECUTE without EXECUTE");
        };
        let Statement::Execute {
            name: Some(name),
            parameters,
            ..
        } = statement.as_ref()
        else {
            bail!(
                sqlstate::SYNTAX_ERROR,
                "syntax error at or near \"EXECUTE\""
            );
        };
        let (name, prepared) = self.prepared_for(name, parameters.len())?;
        let explainable = |s: &Statement| {
            matches!(
                s,
                Statement::Query(_)
                    | Statement::Insert(_)
                    | Statement::Update { .. }
                    | Statement::Delete(_)
            )
        };
        let inner = match &prepared.parsed {
            Parsed::Sql(inner) if explainable(inner) => inner.clone(),
            _ => bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "EXPLAIN EXECUTE of prepared statement \"{name}\" is not supported"
            ),
        };
        let params = self.execute_parameters(parameters, &prepared.param_types)?;
        let mut explain = stmt.clone();
        if let Statement::Explain { statement, .. } = &mut explain {
            *statement = inner;
        }
        // The prepared statement's text, so that positions in its errors point into
        // it; the EXPLAIN's own text after it keeps the plan cache's key apart from
        // the statement's.
        let text = format!(
            "{}\n-- {}",
            prepared.piece.text,
            piece.text.replace('\n', " ")
        );
        let p = Piece {
            text,
            offset: prepared.piece.offset,
        };
        let mut types = prepared.param_types.clone();
        self.run(&p, &Parsed::Sql(Box::new(explain)), &params, &mut types)
    }

    /// Arms the result-type check for the next [`Session::run`] of a prepared
    /// statement (see [`check_result_type`]): the run compares the columns of the
    /// plan it makes with those the statement was described with. Nothing to check
    /// for a statement without result columns, or a cursor's DECLARE (a FETCH
    /// returns its cursor's columns, whatever they are now).
    pub(super) fn expect_result_type(&mut self, p: &Prepared) {
        self.expect_fields = match (&p.parsed, &p.fields) {
            (Parsed::Sql(stmt), Some(old)) if !super::cursors::is_cursor_statement(stmt) => {
                Some(old.clone())
            }
            _ => None,
        };
    }

    /// EXECUTE's parameters, evaluated as `SELECT p1::t1, p2::t2, …`.
    fn execute_parameters(
        &mut self,
        parameters: &[sqlparser::ast::Expr],
        types: &[crate::types::DataType],
    ) -> Result<Vec<Value>> {
        if parameters.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = parameters
            .iter()
            .zip(types)
            .map(|(p, t)| format!("({p})::{}", t.name()))
            .collect();
        let piece = Piece {
            text: format!("SELECT {}", list.join(", ")),
            offset: 0,
        };
        let parsed = super::parse_one(&piece)?;
        if !matches!(parsed, Parsed::Sql(_)) {
            bail!(sqlstate::SYNTAX_ERROR, "invalid EXECUTE parameters");
        }
        match self.run(&piece, &parsed, &[], &mut vec![])? {
            ExecResult::Rows { mut rows, .. } if rows.len() == 1 => Ok(rows.remove(0)),
            _ => bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "EXECUTE parameters must be constant expressions"
            ),
        }
    }
}

/// PostgreSQL's 0A000 `cached plan must not change result type`: the client was told
/// a prepared statement's result columns (`old`) when it was prepared, so an ALTER
/// TABLE since then that changes them (a column of `SELECT *` dropped, added or
/// renamed, a column of another type) makes executing `plan` fail. A plan without
/// result columns is not compared.
pub(super) fn check_result_type(old: &[FieldDesc], plan: &Plan) -> Result<()> {
    let owned;
    let new: &[FieldDesc] = match plan.held_fields() {
        Some(f) => f,
        None => match plan.fields() {
            Some(f) => {
                owned = f;
                &owned
            }
            None => return Ok(()),
        },
    };
    // An expression's type may be settled only now (a parameter of unknown type
    // became text); a table column's may not change.
    let same = old.len() == new.len()
        && old
            .iter()
            .zip(new.iter())
            .all(|(a, b)| a.name == b.name && (a.table_oid == 0 || a.type_oid == b.type_oid));
    if !same {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "cached plan must not change result type"
        );
    }
    Ok(())
}

/// The text after `PREPARE name [(types)] AS` in `sql`, with its character offset.
fn statement_text(sql: &str) -> Option<(usize, &str)> {
    let lower = sql.to_ascii_lowercase();
    let mut i = lower.find("prepare")? + "prepare".len();
    let b = lower.as_bytes();
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    // The name: quoted or plain.
    if b.get(i) == Some(&b'"') {
        i += 1;
        while i < b.len() && b[i] != b'"' {
            i += 1;
        }
        i += 1;
    } else {
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
            i += 1;
        }
    }
    skip_ws(&mut i);
    if b.get(i) == Some(&b'(') {
        let mut depth = 0;
        while i < b.len() {
            match b[i] {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        skip_ws(&mut i);
    }
    if !lower[i..].starts_with("as") || !b.get(i + 2).is_some_and(|c| c.is_ascii_whitespace()) {
        return None;
    }
    i += 2;
    skip_ws(&mut i);
    Some((sql[..i].chars().count(), &sql[i..]))
}
