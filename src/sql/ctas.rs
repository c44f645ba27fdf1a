//! Tables made from other relations: `CREATE TABLE … AS SELECT` (with `WITH [NO]
//! DATA`), `SELECT … INTO new_table`, and `CREATE TABLE t (LIKE other)`.
//!
//! What it owns: turning those statements into an ordinary table definition plus,
//! for the first two, the query whose rows fill it, and PostgreSQL's command tags
//! (`SELECT n` for both forms that fill the table; `CREATE TABLE AS` when nothing was
//! run: WITH NO DATA, or IF NOT EXISTS that skipped).
//!
//! Invariants:
//! - The table is created by `exec::run_create_table` and filled by the engine's
//!   ordinary inserts in the statement's transaction, so both are WAL-logged and
//!   rolled back together.
//! - Column types are the query's output types (`unknown` becomes `text`, as in
//!   PostgreSQL); the new table has no constraints and no defaults. LIKE copies
//!   names, types and NOT NULL only (PostgreSQL's default `EXCLUDING ALL`).
//! - TEMPORARY (and ON COMMIT) mean what they mean for CREATE TABLE: the table goes
//!   to the session's temporary namespace (`sql::temp`), and then neither its creation
//!   nor its rows are WAL-logged (`storage::temp`). UNLOGGED makes an ordinary,
//!   logged table, as for CREATE UNLOGGED TABLE (see `sql::temp`).
//!
//! What it must never do: accept an option it does not implement (column lists,
//! LIKE … INCLUDING …): those fail with 0A000.
//!
//! One `CREATE TABLE n AS SELECT a FROM t`:
//! 1. [`plan`] plans the query, and builds `n`'s definition from its output columns;
//! 2. [`execute`] creates `n`, runs the query, and inserts its rows; the count makes
//!    the tag `SELECT 2`.

use super::exec::{run_create_table, run_select};
use super::plan::{fold, Binder, CreateTablePlan, SelectPlan};
use super::ExecCtx;
use crate::error::{sqlstate, Error, Result};
use crate::storage::{ColumnDef, TableDef};
use crate::types::{self, DataType};
use crate::{bail, err};
use sqlparser::ast;

/// A planned table made from a query or another table.
#[derive(Debug, Clone)]
pub struct CtasPlan {
    /// The table to create.
    pub create: CreateTablePlan,
    /// The query whose rows fill it (None: LIKE, or WITH NO DATA).
    pub query: Option<SelectPlan>,
    /// Whether the statement reports `SELECT n` (else `CREATE TABLE` / `CREATE
    /// TABLE AS`).
    pub counts: bool,
    /// Whether this is CREATE TABLE … AS (its tag when no query runs).
    pub as_query: bool,
    /// Whether this is SELECT … INTO (a hot standby names it so when refusing it).
    pub select_into: bool,
}

/// Planned statements compare by identity (their query plans have no equality).
impl PartialEq for CtasPlan {
    fn eq(&self, other: &CtasPlan) -> bool {
        std::ptr::eq(self, other)
    }
}

/// The command tag when an `IF NOT EXISTS` skipped the statement.
pub const SKIPPED: u64 = u64::MAX;

fn unsupported(what: &str) -> Error {
    err!(
        sqlstate::FEATURE_NOT_SUPPORTED,
        "{what} is not supported yet"
    )
}

fn split(n: &ast::ObjectName) -> Result<(Option<String>, String)> {
    let parts: Vec<String> =
        n.0.iter()
            .map(|p| match p {
                ast::ObjectNamePart::Identifier(i) => Ok(fold(i)),
                _ => Err(err!(sqlstate::SYNTAX_ERROR, "invalid name")),
            })
            .collect::<Result<_>>()?;
    match parts.len() {
        1 => Ok((None, parts[0].clone())),
        2 => Ok((Some(parts[0].clone()), parts[1].clone())),
        3 => Ok((Some(parts[1].clone()), parts[2].clone())),
        _ => bail!(
            sqlstate::SYNTAX_ERROR,
            "improper qualified name (too many dotted names): {n}"
        ),
    }
}

/// The table a statement creates; `temporary` and `on_commit` as written (see
/// `sql::temp`).
fn table_plan(
    b: &Binder<'_>,
    name: &ast::ObjectName,
    columns: Vec<ColumnDef>,
    if_not_exists: bool,
    temporary: bool,
    on_commit: Option<&ast::OnCommit>,
) -> Result<CreateTablePlan> {
    let (engine, _) = b.target();
    let (schema, name) = split(name)?;
    let on_commit = super::temp::on_commit(on_commit, temporary)?;
    for (i, c) in columns.iter().enumerate() {
        if columns[..i].iter().any(|x| x.name == c.name) {
            bail!(
                sqlstate::DUPLICATE_COLUMN,
                "column \"{}\" specified more than once",
                c.name
            );
        }
    }
    Ok(CreateTablePlan {
        def: TableDef {
            oid: 0,
            schema: super::temp::create_schema(engine, schema.as_deref(), temporary)?,
            pkey_name: format!("{name}_pkey"),
            name,
            owner: 0,
            columns,
            primary_key: None,
            indexes: vec![],
        },
        if_not_exists,
        ddl: Default::default(),
        on_commit,
    })
}

/// A query's output columns as table columns.
fn query_columns(q: &SelectPlan) -> Result<Vec<ColumnDef>> {
    q.fields
        .iter()
        .map(|f| {
            let ty = match DataType::from_oid(f.type_oid) {
                Some(DataType::Unknown) => DataType::Text,
                Some(DataType::Void) | None => bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "column \"{}\" has a type that tables cannot hold yet",
                    f.name
                ),
                Some(t) => t,
            };
            Ok(ColumnDef {
                name: f.name.clone(),
                data_type: ty,
                typmod: if ty == DataType::Text { -1 } else { f.typmod },
                not_null: false,
                default: None,
                dropped: false,
                generated: None,
            })
        })
        .collect()
}

fn plan_query(b: &Binder<'_>, q: &ast::Query) -> Result<SelectPlan> {
    let (engine, db) = b.target();
    // The source is read with the statement's privileges (sql::privileges).
    let mut inner = Binder::new(engine, db, "", 0, vec![]);
    inner.acl_role = b.acl_role;
    let plan = inner.plan_query(q)?;
    inner.acl_finish()?;
    Ok(plan)
}

/// `CREATE TABLE t (LIKE other)` as the PostgreSQL dialect of sqlparser parses it:
/// one column named `like` whose type is the other table's name.
fn like_as_column(ct: &ast::CreateTable) -> Option<ast::CreateTableLike> {
    match ct.columns.as_slice() {
        [c] if c.name.quote_style.is_none()
            && c.name.value.eq_ignore_ascii_case("like")
            && c.options.is_empty() =>
        {
            match &c.data_type {
                ast::DataType::Custom(n, mods) if mods.is_empty() => Some(ast::CreateTableLike {
                    name: n.clone(),
                    defaults: None,
                }),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Plans the statements of this module; `Ok(None)` when `stmt` is not one.
pub fn plan(b: &Binder<'_>, stmt: &ast::Statement) -> Result<Option<CtasPlan>> {
    if let ast::Statement::CreateTable(ct) = stmt {
        if let Some(like) = like_as_column(ct) {
            let mut ct = ct.clone();
            ct.columns.clear();
            ct.like = Some(ast::CreateTableLikeKind::Parenthesized(like));
            return plan(b, &ast::Statement::CreateTable(ct));
        }
    }
    match stmt {
        ast::Statement::CreateTable(ct) if ct.query.is_some() || ct.like.is_some() => {
            super::reloptions::check_create_table(ct)?;
            let table = |columns| {
                table_plan(
                    b,
                    &ct.name,
                    columns,
                    ct.if_not_exists,
                    ct.temporary,
                    ct.on_commit.as_ref(),
                )
            };
            if let Some(q) = &ct.query {
                if !ct.columns.is_empty() || !ct.constraints.is_empty() {
                    return Err(unsupported("CREATE TABLE AS with a column list"));
                }
                let sel = plan_query(b, q)?;
                let columns = query_columns(&sel)?;
                return Ok(Some(CtasPlan {
                    create: table(columns)?,
                    query: Some(sel),
                    counts: true,
                    as_query: true,
                    select_into: false,
                }));
            }
            let like = match &ct.like {
                Some(ast::CreateTableLikeKind::Parenthesized(l)) => l,
                Some(ast::CreateTableLikeKind::Plain(_)) => {
                    bail!(sqlstate::SYNTAX_ERROR, "syntax error at or near \"LIKE\"")
                }
                None => return Ok(None),
            };
            if !ct.columns.is_empty() || !ct.constraints.is_empty() {
                return Err(unsupported(
                    "LIKE together with other columns or constraints",
                ));
            }
            let keep_defaults = like.defaults == Some(ast::CreateTableLikeDefaults::Including);
            let (engine, db) = b.target();
            let (schema, name) = split(&like.name)?;
            let Some(src) = crate::catalog::resolve_table(engine, db, schema.as_deref(), &name)?
            else {
                bail!(
                    sqlstate::UNDEFINED_TABLE,
                    "relation \"{name}\" does not exist"
                );
            };
            if let Some(role) = b.acl_role {
                // PostgreSQL's LIKE needs SELECT on the source.
                crate::sql::privileges::check_relation(
                    engine,
                    db,
                    role,
                    src.oid,
                    crate::storage::acl::ACL_SELECT,
                )?;
            }
            let columns = src
                .columns
                .iter()
                .filter(|c| !c.dropped)
                .map(|c| ColumnDef {
                    default: if keep_defaults {
                        c.default.clone()
                    } else {
                        None
                    },
                    generated: None,
                    ..c.clone()
                })
                .collect();
            Ok(Some(CtasPlan {
                create: table(columns)?,
                query: None,
                counts: false,
                as_query: false,
                select_into: false,
            }))
        }
        ast::Statement::Query(q) => {
            let ast::SetExpr::Select(sel) = q.body.as_ref() else {
                return Ok(None);
            };
            let Some(into) = &sel.into else {
                return Ok(None);
            };
            let mut query = (**q).clone();
            if let ast::SetExpr::Select(s) = query.body.as_mut() {
                s.into = None;
            }
            let planned = plan_query(b, &query)?;
            let columns = query_columns(&planned)?;
            Ok(Some(CtasPlan {
                create: table_plan(b, &into.name, columns, false, into.temporary, None)?,
                query: Some(planned),
                counts: true,
                as_query: true,
                select_into: true,
            }))
        }
        _ => Ok(None),
    }
}

/// Runs a planned statement; returns the number of rows it inserted ([`SKIPPED`]
/// when IF NOT EXISTS found the table).
pub fn execute(p: &CtasPlan, cx: &mut ExecCtx<'_>) -> Result<u64> {
    let db = cx.db_oid;
    let def = &p.create.def;
    let existed = cx
        .engine
        .with_catalog(|c| c.relation_exists(db, def.schema, &def.name));
    run_create_table(&p.create, cx)?;
    if existed {
        return Ok(SKIPPED); // IF NOT EXISTS: the notice is out
    }
    let Some(q) = &p.query else {
        return Ok(0);
    };
    let Some(table) = cx
        .engine
        .with_catalog(|c| c.table_by_name(db, def.schema, &def.name))
    else {
        bail!(sqlstate::INTERNAL_ERROR, "created table is missing");
    };
    let rows = run_select(q, cx)?;
    let n = rows.len() as u64;
    for row in rows {
        let row = row
            .into_iter()
            .zip(&table.columns)
            .map(|(v, c)| types::cast(v, c.data_type, c.typmod, false))
            .collect::<Result<Vec<_>>>()?;
        cx.engine.insert(cx.txn, db, table.oid, row)?;
    }
    Ok(n)
}

/// The command tag of a statement that ran with count `n`.
pub fn tag(p: &CtasPlan, n: u64) -> String {
    if p.counts && n != SKIPPED {
        format!("SELECT {n}")
    } else if p.as_query {
        "CREATE TABLE AS".into()
    } else {
        "CREATE TABLE".into()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{db, session};
    use crate::sql::ExecResult;
    use crate::storage::{Engine, EngineOptions};

    fn tags(s: &mut crate::sql::Session, sql: &str) -> Vec<String> {
        s.simple_query(sql)
            .into_iter()
            .map(|r| match r {
                Ok(ExecResult::Command { tag }) => tag,
                Ok(ExecResult::Rows { tag, .. }) => tag,
                Ok(_) => String::new(),
                Err(e) => format!("ERROR {}", e.code),
            })
            .collect()
    }

    #[test]
    fn tags_are_postgres_and_tables_survive_a_crash() {
        let d = db("ctas");
        {
            let mut s = session(&d.engine, "postgres");
            tags(&mut s, "create table src (a int not null, b text)");
            tags(&mut s, "insert into src values (1, 'x'), (2, 'y')");
            assert_eq!(
                tags(&mut s, "create table n1 as select * from src"),
                ["SELECT 2"]
            );
            assert_eq!(
                tags(&mut s, "select a into n2 from src where a = 1"),
                ["SELECT 1"]
            );
            assert_eq!(
                tags(&mut s, "create table if not exists n1 as select 1"),
                ["CREATE TABLE AS"]
            );
            assert_eq!(tags(&mut s, "create table n3 (like src)"), ["CREATE TABLE"]);
            std::mem::forget(s);
        }
        let e = Engine::open(
            &d.dir,
            &EngineOptions {
                fsync: false,
                ..Default::default()
            },
        )
        .unwrap();
        let mut s = session(&e, "postgres");
        assert_eq!(tags(&mut s, "select * from n1"), ["SELECT 2"]);
        assert_eq!(tags(&mut s, "select * from n2"), ["SELECT 1"]);
        assert_eq!(
            tags(&mut s, "insert into n3 (b) values ('z')"),
            ["ERROR 23502"]
        );
    }
}
