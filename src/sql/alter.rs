//! ALTER TABLE: the actions PostgreSQL 15 runs on an existing table, planned from
//! sqlparser's AST ([`plan`]) and run one after the other in the statement's
//! transaction ([`run`]).
//!
//! # What it owns
//!
//! Columns: ADD COLUMN [IF NOT EXISTS] (with DEFAULT, NOT NULL, serial and identity,
//! and the column constraints PRIMARY KEY, UNIQUE, CHECK, REFERENCES), DROP COLUMN
//! [IF EXISTS] [CASCADE], ALTER COLUMN … SET/DROP DEFAULT, SET/DROP NOT NULL and
//! [SET DATA] TYPE … [USING …], RENAME COLUMN. Constraints: ADD PRIMARY KEY, UNIQUE,
//! CHECK (validated against the rows) and FOREIGN KEY (`sql::fkeys` builds it), DROP
//! CONSTRAINT [IF EXISTS] [CASCADE] of every kind, RENAME CONSTRAINT. The table: RENAME
//! TO. Each action reads the table's definition as the earlier actions left it, so
//! `ADD COLUMN x int, ADD UNIQUE (x)` works; the statement is one transaction step, so
//! an error in any action undoes them all.
//!
//! # Dropped columns keep their place
//!
//! As PostgreSQL (`attisdropped`), DROP COLUMN never renumbers: the column stays in
//! `TableDef::columns`, marked `dropped` and renamed `........pg.dropped.N........`,
//! so every stored column position — row values, primary key and indexes, foreign
//! keys on both sides, sequences' OWNED BY, column comments — stays valid, and no row
//! is rewritten (plans made before are dropped anyway: they were made at an older
//! catalog version). Statements never see it: a
//! table's scope ([`Scope::of_table`]) keeps a nameless placeholder at its position,
//! `*`, INSERT and COPY without a column list, RETURNING * and CREATE TABLE … LIKE
//! leave it out. Its values stay in the row versions until they are rewritten (as
//! PostgreSQL keeps them in its heap), unreachable.
//!
//! # Rows
//!
//! ADD COLUMN writes every row again with the new value (the default evaluated per
//! row, or NULL: the executor counts on rows as wide as their table, where PostgreSQL
//! leaves them short), ALTER COLUMN TYPE with the converted one; these are ordinary
//! MVCC updates, WAL-logged and undone like any. The other actions only read the rows
//! to validate (SET NOT NULL, ADD PRIMARY KEY/UNIQUE/CHECK/FOREIGN KEY).
//!
//! # Views
//!
//! A view is stored as SQL text, so what it reads of a table is found by planning it:
//! [`views_reading`] plans every view of the database, hides the column inside a
//! savepoint of the transaction, plans them again (a view that now fails, or whose
//! columns changed, reads it) and rolls the probe back. DROP COLUMN refuses such views
//! (2BP01) or drops them with CASCADE; ALTER COLUMN TYPE refuses them (0A000, as
//! PostgreSQL). RENAME COLUMN and RENAME TO rewrite the views' text instead (the old
//! name's identifier tokens), and refuse (0A000) a view whose rewritten text would not
//! read the same columns. CHECK constraints, text as well, are rewritten the same way
//! and must bind to the same expression.
//!
//! # One `ALTER TABLE p DROP COLUMN b CASCADE`
//!
//! 1. [`plan`] turns the AST into [`AlterOp::DropColumn`]; the binder resolves `p`;
//! 2. [`run`] checks ownership and reads `p`'s current definition;
//! 3. the foreign keys of other tables that reference `b`, and the views that read it,
//!    are its dependents: without CASCADE they make it fail with 2BP01 and
//!    PostgreSQL's DETAIL lines; with CASCADE a NOTICE lists them and they go;
//! 4. what hangs on `b` itself goes without asking, as in PostgreSQL: the primary key
//!    and indexes (UNIQUE constraints too) that contain it, `p`'s foreign keys and
//!    CHECK constraints that use it, the sequence it owns, its comment;
//! 5. the new definition is logged (`CatalogChange::AlterTable`) and the heap drops
//!    the indexes; at COMMIT every one of these changes reaches the WAL together.
//!
//! # What it must never do
//!
//! Renumber columns; change the catalog other than through `Engine::catalog_change`
//! (so the WAL, a standby, crash recovery and ROLLBACK see every step); leave an
//! index, constraint, sequence, comment or view pointing at a column that is gone.

use super::ddl;
use super::expr::{eval, Expr};
use super::fkeys::{self, FkSpec};
use super::plan::{convert_type, fold, AlterTablePlan, Binder, Coercion, Scope};
use super::ExecCtx;
use crate::error::{sqlstate, Error, Result, Severity};
use crate::storage::ddl::{CheckDef, DdlChange, ForeignKeyDef, ViewDef};
use crate::storage::{CatalogChange, ColumnDef, IndexDef, TableDef};
use crate::types::{self, DataType, Value};
use crate::{bail, err};
use sqlparser::ast;
use sqlparser::tokenizer::{Span, Token, Tokenizer};
use std::collections::HashSet;

/// One ALTER TABLE action as written; names are resolved when it runs, against the
/// table as the statement's earlier actions left it.
#[derive(Debug, Clone)]
pub enum AlterOp {
    /// ADD [COLUMN] [IF NOT EXISTS] name type [options].
    AddColumn {
        /// The column as written.
        column: ast::ColumnDef,
        /// IF NOT EXISTS.
        if_not_exists: bool,
    },
    /// DROP [COLUMN] [IF EXISTS] name [CASCADE | RESTRICT].
    DropColumn {
        /// The column name.
        name: String,
        /// IF EXISTS.
        if_exists: bool,
        /// CASCADE.
        cascade: bool,
    },
    /// ALTER [COLUMN] name SET DEFAULT expr (`Some`) or DROP DEFAULT (`None`).
    SetDefault {
        /// The column name.
        column: String,
        /// The new default.
        default: Option<ast::Expr>,
    },
    /// ALTER [COLUMN] name SET NOT NULL (`true`) or DROP NOT NULL (`false`).
    SetNotNull {
        /// The column name.
        column: String,
        /// SET (true) or DROP (false).
        not_null: bool,
    },
    /// ALTER [COLUMN] name [SET DATA] TYPE type [USING expr].
    SetType {
        /// The column name.
        column: String,
        /// The new type.
        data_type: ast::DataType,
        /// USING, over the table's columns.
        using: Option<ast::Expr>,
    },
    /// ADD [CONSTRAINT name] PRIMARY KEY (columns).
    AddPrimaryKey {
        /// The key's column names.
        columns: Vec<String>,
        /// The constraint name, if given.
        name: Option<String>,
    },
    /// ADD [CONSTRAINT name] UNIQUE (columns).
    AddUnique {
        /// The key's column names.
        columns: Vec<String>,
        /// The constraint name, if given.
        name: Option<String>,
    },
    /// ADD [CONSTRAINT name] CHECK (expr).
    AddCheck {
        /// The constraint name, if given.
        name: Option<String>,
        /// The expression as SQL text.
        expr: String,
    },
    /// ADD [CONSTRAINT name] FOREIGN KEY … (built by `sql::fkeys`).
    AddForeignKey(FkSpec),
    /// DROP CONSTRAINT [IF EXISTS] name [CASCADE | RESTRICT].
    DropConstraint {
        /// The constraint name.
        name: String,
        /// IF EXISTS.
        if_exists: bool,
        /// CASCADE.
        cascade: bool,
    },
    /// RENAME [COLUMN] old TO new.
    RenameColumn(String, String),
    /// RENAME CONSTRAINT old TO new.
    RenameConstraint(String, String),
    /// RENAME TO new.
    RenameTable(String),
}

/// Plans one action of the statement (DROP COLUMN a, b gives one action per column).
pub fn plan(op: &ast::AlterTableOperation) -> Result<Vec<AlterOp>> {
    use ast::AlterTableOperation as A;
    let unsupported = || {
        err!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "ALTER TABLE {op} is not supported yet"
        )
    };
    let cascade = |b: &Option<ast::DropBehavior>| *b == Some(ast::DropBehavior::Cascade);
    Ok(vec![match op {
        A::AddColumn {
            if_not_exists,
            column_def,
            column_position,
            ..
        } => {
            if column_position.is_some() {
                return Err(unsupported());
            }
            AlterOp::AddColumn {
                column: column_def.clone(),
                if_not_exists: *if_not_exists,
            }
        }
        A::DropColumn {
            column_names,
            if_exists,
            drop_behavior,
            ..
        } => {
            return Ok(column_names
                .iter()
                .map(|n| AlterOp::DropColumn {
                    name: fold(n),
                    if_exists: *if_exists,
                    cascade: cascade(drop_behavior),
                })
                .collect())
        }
        A::AlterColumn { column_name, op } => {
            let column = fold(column_name);
            match op {
                ast::AlterColumnOperation::SetNotNull => AlterOp::SetNotNull {
                    column,
                    not_null: true,
                },
                ast::AlterColumnOperation::DropNotNull => AlterOp::SetNotNull {
                    column,
                    not_null: false,
                },
                ast::AlterColumnOperation::SetDefault { value } => AlterOp::SetDefault {
                    column,
                    default: Some(value.clone()),
                },
                ast::AlterColumnOperation::DropDefault => AlterOp::SetDefault {
                    column,
                    default: None,
                },
                ast::AlterColumnOperation::SetDataType {
                    data_type, using, ..
                } => AlterOp::SetType {
                    column,
                    data_type: data_type.clone(),
                    using: using.clone(),
                },
                ast::AlterColumnOperation::AddGenerated { .. } => return Err(unsupported()),
            }
        }
        A::AddConstraint {
            constraint,
            not_valid,
        } => {
            if *not_valid {
                bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "NOT VALID is not supported yet"
                );
            }
            match constraint {
                ast::TableConstraint::PrimaryKey { name, columns, .. } => AlterOp::AddPrimaryKey {
                    columns: key_names(columns)?,
                    name: name.as_ref().map(fold),
                },
                ast::TableConstraint::Unique { name, columns, .. } => AlterOp::AddUnique {
                    columns: key_names(columns)?,
                    name: name.as_ref().map(fold),
                },
                ast::TableConstraint::Check {
                    name,
                    expr,
                    enforced,
                } => {
                    if *enforced == Some(false) {
                        return Err(unsupported());
                    }
                    AlterOp::AddCheck {
                        name: name.as_ref().map(fold),
                        expr: expr.to_string(),
                    }
                }
                tc @ ast::TableConstraint::ForeignKey { .. } => {
                    match fkeys::from_table_constraint(tc)? {
                        Some(spec) => AlterOp::AddForeignKey(spec),
                        None => return Err(unsupported()),
                    }
                }
                _ => return Err(unsupported()),
            }
        }
        A::DropConstraint {
            if_exists,
            name,
            drop_behavior,
        } => AlterOp::DropConstraint {
            name: fold(name),
            if_exists: *if_exists,
            cascade: cascade(drop_behavior),
        },
        A::RenameColumn {
            old_column_name,
            new_column_name,
        } => AlterOp::RenameColumn(fold(old_column_name), fold(new_column_name)),
        A::RenameConstraint { old_name, new_name } => {
            AlterOp::RenameConstraint(fold(old_name), fold(new_name))
        }
        A::RenameTable { table_name } => {
            let n = match table_name {
                ast::RenameTableNameKind::As(n) | ast::RenameTableNameKind::To(n) => n,
            };
            let last =
                n.0.last().and_then(|p| p.as_ident()).ok_or_else(|| {
                    err!(sqlstate::SYNTAX_ERROR, "syntax error at or near \"{n}\"")
                })?;
            AlterOp::RenameTable(fold(last))
        }
        _ => return Err(unsupported()),
    }])
}

/// The column names of a PRIMARY KEY or UNIQUE column list.
fn key_names(columns: &[ast::IndexColumn]) -> Result<Vec<String>> {
    columns
        .iter()
        .map(|ic| match &ic.column.expr {
            ast::Expr::Identifier(id) => Ok(fold(id)),
            _ => Err(err!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "indexes on expressions are not supported yet"
            )),
        })
        .collect()
}

fn notice(code: &'static str, msg: String) -> Error {
    Error::new(code, msg).with_severity(Severity::Notice)
}

/// Runs ALTER TABLE: checks that the current role owns the table, then runs the
/// actions in order.
pub fn run(p: &AlterTablePlan, cx: &mut ExecCtx<'_>) -> Result<()> {
    if p.ops.is_empty() && p.table.oid == 0 {
        cx.notices.push(notice(
            sqlstate::SUCCESSFUL_COMPLETION,
            format!("relation \"{}\" does not exist, skipping", p.table.name),
        ));
        return Ok(());
    }
    // The owner, a member of the owning role, or a superuser (sql::owner).
    super::owner::check(cx, p.table.owner, "table", &p.table.name)?;
    for op in &p.ops {
        // Expressions are bound here, away from the statement's text (a stored CHECK,
        // a default): a position would point at the wrong place.
        run_op(cx, p.db, p.table.oid, op).map_err(|mut e| {
            e.position = None;
            e
        })?;
    }
    Ok(())
}

fn run_op(cx: &mut ExecCtx<'_>, db: u32, oid: u32, op: &AlterOp) -> Result<()> {
    let def = current(cx, db, oid)?;
    match op {
        AlterOp::AddColumn {
            column,
            if_not_exists,
        } => add_column(cx, db, def, column, *if_not_exists),
        AlterOp::DropColumn {
            name,
            if_exists,
            cascade,
        } => drop_column(cx, db, def, name, *if_exists, *cascade),
        AlterOp::SetDefault { column, default } => set_default(cx, db, def, column, default),
        AlterOp::SetNotNull { column, not_null } => set_not_null(cx, db, def, column, *not_null),
        AlterOp::SetType {
            column,
            data_type,
            using,
        } => set_type(cx, db, def, column, data_type, using.as_ref()),
        AlterOp::AddPrimaryKey { columns, name } => add_primary_key(cx, db, def, columns, name),
        AlterOp::AddUnique { columns, name } => add_unique(cx, db, def, columns, name),
        AlterOp::AddCheck { name, expr } => add_check(cx, db, def, name, expr),
        AlterOp::AddForeignKey(spec) => fkeys::add_constraint(cx, db, &def, spec),
        AlterOp::DropConstraint {
            name,
            if_exists,
            cascade,
        } => drop_constraint(cx, db, def, name, *if_exists, *cascade),
        AlterOp::RenameColumn(old, new) => rename_column(cx, db, def, old, new),
        AlterOp::RenameConstraint(old, new) => rename_constraint(cx, db, def, old, new),
        AlterOp::RenameTable(new) => rename_table(cx, db, def, new),
    }
}

// ---- ADD GENERATED … AS IDENTITY ------------------------------------------------------

/// `ALTER TABLE t ALTER [COLUMN] c ADD GENERATED {ALWAYS | BY DEFAULT} AS IDENTITY
/// [(options)]`, as pg_dump writes it for every identity column (with `SEQUENCE NAME`).
/// tusk's front parser takes the statement whole (sqlparser reads neither `SEQUENCE
/// NAME` nor options out of its order).
#[derive(Debug, Clone, PartialEq)]
pub struct AddIdentity {
    /// The table as (schema, name).
    pub table: (Option<String>, String),
    /// IF EXISTS.
    pub if_exists: bool,
    /// The column.
    pub column: String,
    /// `b'a'` for ALWAYS, `b'd'` for BY DEFAULT.
    pub kind: u8,
    /// The sequence options.
    pub options: ddl::SeqOpts,
    /// `SEQUENCE NAME` as (schema, name).
    pub sequence_name: Option<(Option<String>, String)>,
}

/// Runs [`AddIdentity`] with PostgreSQL's checks in its order: the column exists
/// (42703) and is an integer (22023), then it must be NOT NULL, not an identity column
/// already and without a default (55000); existing rows keep their values.
pub fn add_identity(cx: &mut ExecCtx<'_>, a: &AddIdentity) -> Result<()> {
    let db = cx.db_oid;
    let (schema, name) = (&a.table.0, &a.table.1);
    let Some(table) = crate::catalog::resolve_table(cx.engine, db, schema.as_deref(), name)? else {
        if a.if_exists {
            cx.notices.push(notice(
                sqlstate::SUCCESSFUL_COMPLETION,
                format!("relation \"{name}\" does not exist, skipping"),
            ));
            return Ok(());
        }
        bail!(
            sqlstate::UNDEFINED_TABLE,
            "relation \"{name}\" does not exist"
        );
    };
    super::owner::check(cx, table.owner, "table", &table.name)?;
    let mut def = current(cx, db, table.oid)?;
    let pos = column_of(&def, &a.column)?;
    let col = def.columns[pos].clone();
    if !matches!(
        col.data_type,
        DataType::Int2 | DataType::Int4 | DataType::Int8
    ) {
        bail!(
            sqlstate::INVALID_PARAMETER_VALUE,
            "identity column type must be smallint, integer, or bigint"
        );
    }
    let prereq = |what: &str| {
        Err(err!(
            sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
            "column \"{}\" of relation \"{}\" {what}",
            col.name,
            def.name
        ))
    };
    if !col.not_null {
        return prereq("must be declared NOT NULL before identity can be added");
    }
    if ddl::identity_of(cx.engine, db, def.oid, pos) != 0 {
        return prereq("is already an identity column");
    }
    if col.default.is_some() {
        return prereq("already has a default value");
    }
    let seq_name = match &a.sequence_name {
        Some((Some(s), n)) => Some((crate::catalog::lookup_schema(cx.engine, s)?, n.clone())),
        Some((None, n)) => Some((def.schema, n.clone())),
        None => None,
    };
    let mut opts = a.options.clone();
    opts.type_oid = Some(col.data_type.oid());
    ddl::add_identity_sequence(&mut def, pos, &opts, a.kind, seq_name, cx)?;
    store(cx, db, def)
}

// ---- helpers -------------------------------------------------------------------------

/// The table's definition as the transaction sees it now.
fn current(cx: &ExecCtx<'_>, db: u32, oid: u32) -> Result<TableDef> {
    cx.engine
        .with_catalog(|c| c.tables.get(&(db, oid)).map(|t| (**t).clone()))
        .ok_or_else(|| {
            err!(
                sqlstate::UNDEFINED_TABLE,
                "relation with OID {oid} does not exist"
            )
        })
}

/// Logs the table's new definition.
fn store(cx: &mut ExecCtx<'_>, db: u32, def: TableDef) -> Result<()> {
    cx.engine
        .catalog_change(cx.txn, CatalogChange::AlterTable { db, def })
}

/// The position of a (live) column, or PostgreSQL's 42703 naming the relation.
fn column_of(def: &TableDef, name: &str) -> Result<usize> {
    def.column_position(name).ok_or_else(|| {
        err!(
            sqlstate::UNDEFINED_COLUMN,
            "column \"{name}\" of relation \"{}\" does not exist",
            def.name
        )
    })
}

/// The name PostgreSQL gives a dropped column.
fn dropped_name(pos: usize) -> String {
    format!("........pg.dropped.{}........", pos + 1)
}

/// `def` with the column at `pos` dropped (as DROP COLUMN leaves it).
fn hide_column(def: &TableDef, pos: usize) -> TableDef {
    let mut d = def.clone();
    let c = &mut d.columns[pos];
    c.dropped = true;
    c.name = dropped_name(pos);
    c.not_null = false;
    c.default = None;
    c.generated = None;
    d
}

/// A type with its modifier as `format_type` prints it (`character varying(1)`).
fn type_text(ty: DataType, typmod: i32) -> String {
    match ty {
        DataType::Varchar | DataType::Bpchar if typmod >= 4 => {
            format!("{}({})", ty.name(), typmod - 4)
        }
        DataType::Numeric if typmod >= 4 => {
            let t = typmod - 4;
            format!("numeric({},{})", t >> 16, t & 0xffff)
        }
        _ => ty.name().to_string(),
    }
}

fn checks_of(cx: &ExecCtx<'_>, db: u32, oid: u32) -> Vec<CheckDef> {
    cx.engine
        .with_catalog(|c| c.ddl.checks.get(&(db, oid)).cloned())
        .unwrap_or_default()
}

fn set_checks(cx: &mut ExecCtx<'_>, db: u32, oid: u32, checks: Vec<CheckDef>) -> Result<()> {
    cx.engine.catalog_change(
        cx.txn,
        CatalogChange::Ddl(DdlChange::SetChecks {
            db,
            table: oid,
            checks,
        }),
    )
}

fn set_fks(cx: &mut ExecCtx<'_>, db: u32, oid: u32, fks: Vec<ForeignKeyDef>) -> Result<()> {
    cx.engine.catalog_change(
        cx.txn,
        CatalogChange::Ddl(DdlChange::SetForeignKeys {
            db,
            table: oid,
            fks,
        }),
    )
}

/// Removes foreign keys, named by (referencing table, constraint name).
fn remove_fks(cx: &mut ExecCtx<'_>, db: u32, victims: &[(u32, String)]) -> Result<()> {
    let mut tables: Vec<u32> = victims.iter().map(|(t, _)| *t).collect();
    tables.sort_unstable();
    tables.dedup();
    for t in tables {
        let fks: Vec<ForeignKeyDef> = fkeys::own(cx, db, t)
            .into_iter()
            .filter(|f| !victims.iter().any(|(vt, n)| *vt == t && *n == f.name))
            .collect();
        set_fks(cx, db, t, fks)?;
    }
    Ok(())
}

fn table_name(cx: &ExecCtx<'_>, db: u32, oid: u32) -> String {
    fkeys::table_by_oid(cx, db, oid)
        .map(|t| t.name.clone())
        .unwrap_or_default()
}

/// 2BP01 `cannot drop <what> because other objects depend on it`, with one DETAIL
/// line per dependent.
fn dependents_error(what: &str, lines: &[String]) -> Error {
    err!(
        sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
        "cannot drop {what} because other objects depend on it"
    )
    .with_detail(lines.join("\n"))
    .with_hint("Use DROP ... CASCADE to drop the dependent objects too.")
}

/// The NOTICE of a CASCADE that drops `objects` (their descriptions).
fn cascade_notice(cx: &mut ExecCtx<'_>, objects: &[String]) {
    match objects {
        [] => {}
        [one] => cx.notices.push(notice(
            sqlstate::SUCCESSFUL_COMPLETION,
            format!("drop cascades to {one}"),
        )),
        many => {
            let detail: Vec<String> = many
                .iter()
                .map(|o| format!("drop cascades to {o}"))
                .collect();
            cx.notices.push(
                notice(
                    sqlstate::SUCCESSFUL_COMPLETION,
                    format!("drop cascades to {} other objects", many.len()),
                )
                .with_detail(detail.join("\n")),
            );
        }
    }
}

/// Reads every live row of the table (the transaction's snapshot).
fn rows(cx: &ExecCtx<'_>, db: u32, oid: u32) -> Vec<(u64, std::sync::Arc<Vec<Value>>)> {
    cx.engine.scan(cx.txn, db, oid)
}

/// 23502 `column "c" of relation "t" contains null values`.
fn contains_nulls(column: &str, table: &str) -> Error {
    err!(
        sqlstate::NOT_NULL_VIOLATION,
        "column \"{column}\" of relation \"{table}\" contains null values"
    )
}

/// Checks a DEFAULT expression as PostgreSQL does: no column references, subqueries
/// or aggregates, and a type that converts to the column's by assignment.
fn check_default(cx: &ExecCtx<'_>, db: u32, e: &ast::Expr, col: &ColumnDef) -> Result<()> {
    let text = e.to_string();
    if has_select(&text) {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "cannot use subquery in DEFAULT expression"
        );
    }
    let engine = cx.engine;
    let mut b = Binder::new(engine, db, "", 0, vec![]);
    let bound = b.bind(e, &Scope::default()).map_err(|er| {
        if er.code == sqlstate::UNDEFINED_COLUMN {
            err!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "cannot use column reference in DEFAULT expression"
            )
        } else if er.code == sqlstate::GROUPING_ERROR {
            err!(
                sqlstate::GROUPING_ERROR,
                "aggregate functions are not allowed in DEFAULT expressions"
            )
        } else {
            er
        }
    })?;
    let from = bound.ty();
    b.coerce(
        bound,
        col.data_type,
        col.typmod,
        Coercion::Assignment,
        Span::empty(),
    )
    .map_err(|er| {
        if er.code == sqlstate::CANNOT_COERCE {
            err!(
                sqlstate::DATATYPE_MISMATCH,
                "column \"{}\" is of type {} but default expression is of type {}",
                col.name,
                type_text(col.data_type, col.typmod),
                from.name()
            )
            .with_hint("You will need to rewrite or cast the expression.")
        } else {
            er
        }
    })?;
    Ok(())
}

/// Whether SQL text holds a SELECT keyword (a subquery; literals are not words).
fn has_select(text: &str) -> bool {
    let dialect = crate::sql::dialect::PG;
    Tokenizer::new(&dialect, text)
        .tokenize()
        .unwrap_or_default()
        .iter()
        .any(|t| matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("select")))
}

// ---- columns -------------------------------------------------------------------------

fn add_column(
    cx: &mut ExecCtx<'_>,
    db: u32,
    mut def: TableDef,
    c: &ast::ColumnDef,
    if_not_exists: bool,
) -> Result<()> {
    let name = fold(&c.name);
    if def.column_position(&name).is_some() {
        let msg = format!(
            "column \"{name}\" of relation \"{}\" already exists",
            def.name
        );
        if if_not_exists {
            cx.notices.push(notice(
                sqlstate::DUPLICATE_COLUMN,
                format!("{msg}, skipping"),
            ));
            return Ok(());
        }
        return Err(Error::new(sqlstate::DUPLICATE_COLUMN, msg));
    }
    let pos = def.columns.len();
    let serial = ddl::serial_type(&c.data_type);
    let (ty, typmod) = match serial {
        Some(t) => (t, -1),
        None => convert_type(&c.data_type)?,
    };
    let mut extras = ddl::TableExtras::default();
    if let Some(t) = serial {
        extras.serial(pos, t);
    }
    let mut col = ColumnDef {
        name: name.clone(),
        data_type: ty,
        typmod,
        not_null: false,
        default: None,
        dropped: false,
        generated: None,
    };
    // Column constraints become the actions ALTER TABLE would run for them, after
    // the column is in.
    let mut then = Vec::new();
    let mut generation = Vec::new();
    for o in &c.options {
        let cname = o.name.as_ref().map(fold);
        if let Some(e) = super::generated::stored_generation(&o.option)? {
            generation.push((pos, e));
            continue;
        }
        match &o.option {
            ast::ColumnOption::Generated { .. } => {
                extras.column_option(pos, &name, ty, o)?;
            }
            ast::ColumnOption::ForeignKey { .. } => {
                if let Some(f) = fkeys::from_column_option(&name, o)? {
                    then.push(AlterOp::AddForeignKey(f));
                }
            }
            ast::ColumnOption::Check(e) => then.push(AlterOp::AddCheck {
                name: cname,
                expr: e.to_string(),
            }),
            ast::ColumnOption::NotNull => col.not_null = true,
            ast::ColumnOption::Null => {}
            ast::ColumnOption::Default(e) => {
                check_default(cx, db, e, &col)?;
                col.default = Some(e.to_string());
            }
            ast::ColumnOption::Unique {
                is_primary: true, ..
            } => {
                if def.primary_key.is_some() {
                    return Err(multiple_primary_keys(&def.name));
                }
                col.not_null = true;
                then.push(AlterOp::AddPrimaryKey {
                    columns: vec![name.clone()],
                    name: cname,
                });
            }
            ast::ColumnOption::Unique {
                is_primary: false, ..
            } => then.push(AlterOp::AddUnique {
                columns: vec![name.clone()],
                name: cname,
            }),
            other => bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "column constraint {other} is not supported yet"
            ),
        }
    }
    def.columns.push(col);
    if !generation.is_empty() {
        let table = def.name.clone();
        Binder::new(cx.engine, db, "", 0, vec![]).generation_exprs(
            &table,
            &mut def.columns,
            &generation,
            &extras,
        )?;
    }
    if !extras.sequences.is_empty() {
        // The owned sequence of a serial or identity column, its default and NOT NULL.
        ddl::create_table_extras(&extras, &mut def, cx)?;
    }
    let col = def.columns[pos].clone();
    let oid = def.oid;
    let table = def.name.clone();
    let stored = def.clone();
    store(cx, db, def)?;
    // Existing rows get the default, evaluated per row (a volatile default such as
    // nextval gives each row its own value), or NULL. Unlike PostgreSQL, which leaves
    // them alone when there is no default, every row is rewritten: the executor
    // counts on rows as wide as their table.
    {
        let engine = cx.engine;
        let fill = Binder::new(engine, db, "", 0, vec![]).default_expr(&col)?;
        for (tid, r) in rows(cx, db, oid) {
            let v = eval(&fill, &[], cx)?;
            if col.not_null && v.is_null() && col.generated.is_none() {
                return Err(contains_nulls(&col.name, &table));
            }
            let mut row = (*r).clone();
            row.resize(pos + 1, Value::Null);
            row[pos] = v;
            if col.generated.is_some() {
                super::generated::fill(cx, db, &stored, &mut row)?;
                if col.not_null && row[pos].is_null() {
                    return Err(contains_nulls(&col.name, &table));
                }
            }
            cx.engine.update(cx.txn, db, oid, tid, row)?;
        }
    }
    for op in &then {
        run_op(cx, db, oid, op)?;
    }
    Ok(())
}

fn drop_column(
    cx: &mut ExecCtx<'_>,
    db: u32,
    def: TableDef,
    name: &str,
    if_exists: bool,
    cascade: bool,
) -> Result<()> {
    let Some(pos) = def.column_position(name) else {
        let msg = format!(
            "column \"{name}\" of relation \"{}\" does not exist",
            def.name
        );
        if if_exists {
            cx.notices.push(notice(
                sqlstate::SUCCESSFUL_COMPLETION,
                format!("{msg}, skipping"),
            ));
            return Ok(());
        }
        return Err(Error::new(sqlstate::UNDEFINED_COLUMN, msg));
    };
    let oid = def.oid;
    let on_column = format!("column {name} of table {}", def.name);
    // Dependents that need CASCADE: foreign keys that reference the column (other than
    // the table's own on the column, which go with it), and views that read it.
    let mut lines = Vec::new();
    let mut objects = Vec::new();
    let mut fk_victims: Vec<(u32, String)> = Vec::new();
    for (t, f) in fkeys::referencing(cx, db, oid) {
        if !f.ref_columns.contains(&pos) || (t == oid && f.columns.contains(&pos)) {
            continue;
        }
        let obj = format!("constraint {} on table {}", f.name, table_name(cx, db, t));
        lines.push(format!("{obj} depends on {on_column}"));
        objects.push(obj);
        fk_victims.push((t, f.name));
    }
    // Stored generated columns computed from it.
    let generated: Vec<usize> = (0..def.columns.len())
        .filter(|&g| {
            let c = &def.columns[g];
            g != pos
                && !c.dropped
                && c.generated
                    .as_deref()
                    .is_some_and(|t| super::generated::uses_column(t, name))
        })
        .collect();
    for &g in &generated {
        let obj = format!("column {} of table {}", def.columns[g].name, def.name);
        lines.push(format!("{obj} depends on {on_column}"));
        objects.push(obj);
    }
    let views = views_reading(cx, db, hide_column(&def, pos))?;
    for v in &views {
        let obj = format!("view {}", v.view.name);
        match &v.via {
            None => lines.push(format!("{obj} depends on {on_column}")),
            Some(other) => lines.push(format!("{obj} depends on view {other}")),
        }
        objects.push(obj);
    }
    if !lines.is_empty() {
        if !cascade {
            return Err(dependents_error(
                &format!("column {name} of table {}", def.name),
                &lines,
            ));
        }
        cascade_notice(cx, &objects);
    }
    for v in &views {
        ddl::forget_comments(cx, v.view.oid)?;
        cx.engine.catalog_change(
            cx.txn,
            CatalogChange::Ddl(DdlChange::DropView {
                db,
                oid: v.view.oid,
            }),
        )?;
    }
    // What goes with the column without asking.
    for f in fkeys::own(cx, db, oid) {
        if f.columns.contains(&pos) {
            fk_victims.push((oid, f.name));
        }
    }
    remove_fks(cx, db, &fk_victims)?;
    let checks = checks_of(cx, db, oid);
    if !checks.is_empty() {
        let mut keep = Vec::new();
        for c in &checks {
            let refs = ddl::bind_check(cx.engine, db, &def, &c.expr)?.1;
            if !refs.iter().any(|r| r == name) {
                keep.push(c.clone());
            }
        }
        if keep.len() != checks.len() {
            set_checks(cx, db, oid, keep)?;
        }
    }
    let owned: Vec<u32> = cx.engine.with_catalog(|c| {
        c.ddl
            .sequences
            .range((db, 0)..=(db, u32::MAX))
            .filter(|(_, s)| s.owned_by == Some((oid, pos)))
            .map(|(_, s)| s.oid)
            .collect()
    });
    for s in owned {
        cx.engine.catalog_change(
            cx.txn,
            CatalogChange::Ddl(DdlChange::DropSequence { db, oid: s }),
        )?;
    }
    let sub = pos as i32 + 1;
    let commented = cx
        .engine
        .with_catalog(|c| c.ddl.comments.contains_key(&(db, oid, sub)));
    if commented {
        cx.engine.catalog_change(
            cx.txn,
            CatalogChange::Ddl(DdlChange::Comment {
                db,
                oid,
                sub,
                text: None,
            }),
        )?;
    }
    let mut def = hide_column(&def, pos);
    // (CASCADE) the generated columns computed from it go too.
    for &g in &generated {
        def = hide_column(&def, g);
        def.indexes.retain(|i| !i.columns.contains(&g));
        if def.primary_key.as_ref().is_some_and(|k| k.contains(&g)) {
            def.primary_key = None;
        }
    }
    if def.primary_key.as_ref().is_some_and(|k| k.contains(&pos)) {
        def.primary_key = None;
    }
    // Indexes on the column go, and those whose expressions or predicate use it.
    let uses = |def: &TableDef, i: &IndexDef| {
        i.columns.contains(&pos)
            || i.columns.iter().chain(&i.predicate).any(|&h| {
                def.is_hidden_key(h)
                    && def.columns[h]
                        .generated
                        .as_deref()
                        .is_some_and(|t| super::generated::uses_column(t, name))
            })
    };
    while let Some(k) = def.indexes.iter().position(|i| uses(&def, i)) {
        def.remove_index(k);
    }
    store(cx, db, def)
}

fn set_default(
    cx: &mut ExecCtx<'_>,
    db: u32,
    mut def: TableDef,
    column: &str,
    default: &Option<ast::Expr>,
) -> Result<()> {
    let pos = column_of(&def, column)?;
    if ddl::identity_of(cx.engine, db, def.oid, pos) != 0 {
        let e = err!(
            sqlstate::SYNTAX_ERROR,
            "column \"{column}\" of relation \"{}\" is an identity column",
            def.name
        );
        return Err(match default {
            Some(_) => e,
            None => e.with_hint("Use ALTER TABLE ... ALTER COLUMN ... DROP IDENTITY instead."),
        });
    }
    def.columns[pos].default = match default {
        Some(e) => {
            check_default(cx, db, e, &def.columns[pos])?;
            Some(e.to_string())
        }
        None => None,
    };
    store(cx, db, def)
}

fn set_not_null(
    cx: &mut ExecCtx<'_>,
    db: u32,
    mut def: TableDef,
    column: &str,
    not_null: bool,
) -> Result<()> {
    let pos = column_of(&def, column)?;
    if not_null {
        if !def.columns[pos].not_null && has_nulls(cx, db, def.oid, pos) {
            return Err(contains_nulls(column, &def.name));
        }
    } else {
        if ddl::identity_of(cx.engine, db, def.oid, pos) != 0 {
            bail!(
                sqlstate::SYNTAX_ERROR,
                "column \"{column}\" of relation \"{}\" is an identity column",
                def.name
            );
        }
        if def.primary_key.as_ref().is_some_and(|k| k.contains(&pos)) {
            bail!(
                sqlstate::INVALID_TABLE_DEFINITION,
                "column \"{column}\" is in a primary key"
            );
        }
    }
    def.columns[pos].not_null = not_null;
    store(cx, db, def)
}

fn set_type(
    cx: &mut ExecCtx<'_>,
    db: u32,
    def: TableDef,
    column: &str,
    data_type: &ast::DataType,
    using: Option<&ast::Expr>,
) -> Result<()> {
    let pos = column_of(&def, column)?;
    let (ty, typmod) = convert_type(data_type)?;
    let col = def.columns[pos].clone();
    let oid = def.oid;
    if let Some(v) = views_reading(cx, db, hide_column(&def, pos))?
        .iter()
        .find(|v| v.via.is_none())
    {
        return Err(err!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "cannot alter type of a column used by a view or rule"
        )
        .with_detail(format!(
            "rule _RETURN on view {} depends on column \"{column}\"",
            v.view.name
        )));
    }
    if let Some(g) = def.columns.iter().find(|g| {
        !g.dropped
            && g.generated
                .as_deref()
                .is_some_and(|t| super::generated::uses_column(t, column))
    }) {
        return Err(err!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "cannot alter type of a column used by a generated column"
        )
        .with_detail(format!(
            "Column \"{column}\" is used by generated column \"{}\".",
            g.name
        )));
    }
    // Messages name the type, hints write it with its modifier (as PostgreSQL's
    // format_type_be and format_type_with_typemod).
    let target = ty.name();
    let target_mod = type_text(ty, typmod);
    let engine = cx.engine;
    let mut b = Binder::new(engine, db, "", 0, vec![]);
    let conv = match using {
        None => b
            .coerce(
                Expr::Column(pos, col.data_type),
                ty,
                typmod,
                Coercion::Assignment,
                Span::empty(),
            )
            .map_err(|e| {
                if e.code == sqlstate::CANNOT_COERCE {
                    err!(
                        sqlstate::DATATYPE_MISMATCH,
                        "column \"{column}\" cannot be cast automatically to type {target}"
                    )
                    .with_hint(format!(
                        "You might need to specify \"USING {}::{target_mod}\".",
                        ddl::quote_ident(column)
                    ))
                } else {
                    e
                }
            })?,
        Some(u) => {
            let e = b.bind(u, &Scope::of_table(&def, &def.name))?;
            b.coerce(e, ty, typmod, Coercion::Assignment, Span::empty())
                .map_err(|e| {
                    if e.code == sqlstate::CANNOT_COERCE {
                        err!(
                            sqlstate::DATATYPE_MISMATCH,
                            "result of USING clause for column \"{column}\" cannot be cast automatically to type {target}"
                        )
                        .with_hint("You might need to add an explicit cast.")
                    } else {
                        e
                    }
                })?
        }
    };
    let mut new = def.clone();
    new.columns[pos].data_type = ty;
    new.columns[pos].typmod = typmod;
    // The default must convert to the new type.
    if let Some(d) = &col.default {
        let e = crate::sql::depth::parse_stored(d, |p| p.parse_expr())
            .map_err(|e| err!(sqlstate::INTERNAL_ERROR, "invalid stored default: {e}"))?;
        let bound = b.bind(&e, &Scope::default())?;
        b.coerce(bound, ty, typmod, Coercion::Assignment, Span::empty())
            .map_err(|e| {
                if e.code == sqlstate::CANNOT_COERCE {
                    err!(
                        sqlstate::DATATYPE_MISMATCH,
                        "default for column \"{column}\" cannot be cast automatically to type {target}"
                    )
                } else {
                    e
                }
            })?;
    }
    // Index expressions and predicates over the column are bound again: they take the
    // type their expression now has, and are computed again for every row.
    let mut regenerated = Vec::new();
    for h in 0..new.columns.len() {
        let text = match &new.columns[h].generated {
            Some(t) if new.is_hidden_key(h) && super::generated::uses_column(t, column) => {
                t.clone()
            }
            _ => continue,
        };
        new.columns[h].data_type = super::generated::bind_raw(cx.engine, db, &new, &text)?.ty();
        regenerated.push(h);
    }
    let generation = if regenerated.is_empty() {
        Vec::new()
    } else {
        super::generated::bind_all(cx.engine, db, &new)?
    };
    // CHECK constraints over the column are bound again (an operator may no longer
    // exist for the new type) and checked against the converted rows.
    let mut checks = Vec::new();
    for c in checks_of(cx, db, oid) {
        let (e, refs) = ddl::bind_check(cx.engine, db, &new, &c.expr)?;
        if refs.iter().any(|r| r == column) {
            checks.push((c.name, e));
        }
    }
    // Foreign keys on either side must still compare the key types.
    let mut pairs: Vec<(String, String, DataType, String, DataType)> = Vec::new();
    for f in fkeys::own(cx, db, oid) {
        let parent = if f.ref_table == oid {
            Some(new.clone())
        } else {
            fkeys::table_by_oid(cx, db, f.ref_table).map(|t| (*t).clone())
        };
        let Some(parent) = parent else { continue };
        for (&c, &r) in f.columns.iter().zip(&f.ref_columns) {
            if c == pos || (f.ref_table == oid && r == pos) {
                let (cc, pc) = (&new.columns[c], &parent.columns[r]);
                pairs.push((
                    f.name.clone(),
                    cc.name.clone(),
                    cc.data_type,
                    pc.name.clone(),
                    pc.data_type,
                ));
            }
        }
    }
    for (t, f) in fkeys::referencing(cx, db, oid) {
        if t == oid {
            continue; // seen above
        }
        let Some(child) = fkeys::table_by_oid(cx, db, t) else {
            continue;
        };
        for (&c, &r) in f.columns.iter().zip(&f.ref_columns) {
            if r == pos {
                let (cc, pc) = (&child.columns[c], &new.columns[r]);
                pairs.push((
                    f.name.clone(),
                    cc.name.clone(),
                    cc.data_type,
                    pc.name.clone(),
                    pc.data_type,
                ));
            }
        }
    }
    for (fk, cn, ct, pn, pt) in pairs {
        if !fkeys::compatible(ct, pt) {
            return Err(err!(
                sqlstate::DATATYPE_MISMATCH,
                "foreign key constraint \"{fk}\" cannot be implemented"
            )
            .with_detail(format!(
                "Key columns \"{cn}\" and \"{pn}\" are of incompatible types: {} and {}.",
                ct.name(),
                pt.name()
            )));
        }
    }
    // The rows, converted.
    let unchanged = using.is_none() && ty == col.data_type && typmod == col.typmod;
    let mut out = Vec::new();
    if !unchanged {
        for (tid, r) in rows(cx, db, oid) {
            let v = eval(&conv, &r, cx)?;
            if col.not_null && v.is_null() {
                return Err(contains_nulls(column, &def.name));
            }
            let mut row = (*r).clone();
            if row.len() <= pos {
                row.resize(pos + 1, Value::Null);
            }
            row[pos] = v;
            super::generated::fill_bound(cx, &new, &generation, &mut row)?;
            for (name, e) in &checks {
                if let Value::Bool(false) = eval(e, &row, cx)? {
                    bail!(
                        sqlstate::CHECK_VIOLATION,
                        "check constraint \"{name}\" of relation \"{}\" is violated by some row",
                        def.name
                    );
                }
            }
            out.push((tid, row));
        }
        // Unique keys over the column must stay unique after the conversion (two
        // numerics may round to one integer), checked as an index rebuild would.
        let mut keys: Vec<(&str, &[usize])> = Vec::new();
        if let Some(k) = &new.primary_key {
            keys.push((&new.pkey_name, k));
        }
        for i in new.indexes.iter().filter(|i| i.unique) {
            keys.push((&i.name, &i.columns));
        }
        let rebuilt = |c: &[usize]| c.contains(&pos) || c.iter().any(|h| regenerated.contains(h));
        for (iname, cols) in keys.into_iter().filter(|(_, c)| rebuilt(c)) {
            let mut seen = HashSet::new();
            for (_, row) in &out {
                let key: Vec<Value> = cols
                    .iter()
                    .map(|&c| row.get(c).cloned().unwrap_or(Value::Null))
                    .collect();
                if key.iter().any(|v| v.is_null()) {
                    continue;
                }
                if !seen.insert(super::exec::key_bytes(&key)) {
                    return Err(duplicated_key(&new, iname, cols, &key));
                }
            }
        }
    }
    store(cx, db, new)?;
    for (tid, row) in out {
        cx.engine.update(cx.txn, db, oid, tid, row)?;
    }
    Ok(())
}

/// 23505 `could not create unique index "i"` with the duplicated key.
fn duplicated_key(def: &TableDef, index: &str, cols: &[usize], key: &[Value]) -> Error {
    let names: Vec<&str> = cols.iter().filter_map(|&c| def.key_label(c)).collect();
    let vals: Vec<String> = key
        .iter()
        .map(|v| types::format_text(v, &types::FormatOptions::default()))
        .collect();
    err!(
        sqlstate::UNIQUE_VIOLATION,
        "could not create unique index \"{index}\""
    )
    .with_detail(format!(
        "Key ({})=({}) is duplicated.",
        names.join(", "),
        vals.join(", ")
    ))
}

fn rename_column(
    cx: &mut ExecCtx<'_>,
    db: u32,
    mut def: TableDef,
    old: &str,
    new: &str,
) -> Result<()> {
    let Some(pos) = def.column_position(old) else {
        bail!(
            sqlstate::UNDEFINED_COLUMN,
            "column \"{old}\" does not exist"
        );
    };
    if def.column_position(new).is_some() {
        bail!(
            sqlstate::DUPLICATE_COLUMN,
            "column \"{new}\" of relation \"{}\" already exists",
            def.name
        );
    }
    let views = views_reading(cx, db, hide_column(&def, pos))?;
    let before = def.clone();
    def.columns[pos].name = new.to_string();
    rename_in_checks(cx, db, &before, &def, (old, new))?;
    rename_in_generated(cx, db, &before, &mut def, (old, new))?;
    let table = def.name.clone();
    store(cx, db, def)?;
    rewrite_views(cx, db, &table, &views, (old, new), true)
}

/// Rewrites the table's CHECK constraints (stored as text, where PostgreSQL stores
/// column numbers) after a column or the table was renamed from `old` to `new`: the
/// rewritten text must bind, against the renamed table, to what the old text bound
/// to against the table as it was (0A000 otherwise).
fn rename_in_checks(
    cx: &mut ExecCtx<'_>,
    db: u32,
    before: &TableDef,
    after: &TableDef,
    (old, new): (&str, &str),
) -> Result<()> {
    let checks = checks_of(cx, db, before.oid);
    let mut changed = false;
    let mut out = Vec::with_capacity(checks.len());
    for c in checks {
        let text = rename_words(&c.expr, old, new, None);
        if text != c.expr {
            let was = format!("{:?}", ddl::bind_check(cx.engine, db, before, &c.expr)?.0);
            let now = ddl::bind_check(cx.engine, db, after, &text).map(|b| format!("{:?}", b.0));
            if now.ok().as_ref() != Some(&was) {
                bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "cannot rename \"{old}\" of relation \"{}\": check constraint \"{}\" uses the name for something else too",
                    before.name,
                    c.name
                );
            }
            changed = true;
        }
        out.push(CheckDef {
            name: c.name,
            expr: text,
        });
    }
    if changed {
        set_checks(cx, db, before.oid, out)?;
    }
    Ok(())
}

/// Rewrites the stored expressions of index keys and predicates (text, like CHECK
/// constraints) after a column was renamed; the rewritten text must bind to what the
/// old one did (0A000 otherwise).
fn rename_in_generated(
    cx: &mut ExecCtx<'_>,
    db: u32,
    before: &TableDef,
    after: &mut TableDef,
    (old, new): (&str, &str),
) -> Result<()> {
    for h in 0..after.columns.len() {
        let Some(text) = after.columns[h].generated.clone() else {
            continue;
        };
        let renamed = rename_words(&text, old, new, None);
        if renamed == text {
            continue;
        }
        let was = format!(
            "{:?}",
            super::generated::bind_raw(cx.engine, db, before, &text)?
        );
        after.columns[h].generated = Some(renamed.clone());
        let now =
            super::generated::bind_raw(cx.engine, db, after, &renamed).map(|e| format!("{e:?}"));
        if now.ok().as_ref() != Some(&was) {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "cannot rename \"{old}\" of relation \"{}\": an index expression uses the name for something else too",
                before.name
            );
        }
    }
    Ok(())
}

// ---- constraints ---------------------------------------------------------------------

fn add_primary_key(
    cx: &mut ExecCtx<'_>,
    db: u32,
    mut def: TableDef,
    columns: &[String],
    name: &Option<String>,
) -> Result<()> {
    let cols: Vec<usize> = columns
        .iter()
        .map(|c| column_of(&def, c))
        .collect::<Result<_>>()?;
    if def.primary_key.is_some() {
        return Err(multiple_primary_keys(&def.name));
    }
    let pkey_name = match name {
        Some(n) => {
            if cx
                .engine
                .with_catalog(|c| c.relation_exists(db, def.schema, n))
            {
                bail!(sqlstate::DUPLICATE_TABLE, "relation \"{n}\" already exists");
            }
            n.clone()
        }
        None => cx.engine.with_catalog(|c| {
            super::exec::choose_index_name(c, db, &def, &[], "pkey", &[def.name.clone()])
        }),
    };
    // NULLs first, as PostgreSQL (its NOT NULL checks come before the index build);
    // a column already NOT NULL holds none.
    for &c in &cols {
        if !def.columns[c].not_null && has_nulls(cx, db, def.oid, c) {
            return Err(contains_nulls(&def.columns[c].name, &def.name));
        }
    }
    for &c in &cols {
        def.columns[c].not_null = true;
    }
    def.primary_key = Some(cols.clone());
    def.pkey_name = pkey_name.clone();
    let table = def.clone();
    // The new definition builds the key index (once, from the versions held); a
    // repeated key found in it aborts the statement, which takes the definition back.
    store(cx, db, def)?;
    match cx
        .engine
        .unique_index_duplicate(cx.txn, db, table.oid, crate::storage::heap::PK_INDEX)?
    {
        Some(row) => {
            let key: Vec<Value> = cols
                .iter()
                .map(|&c| row.get(c).cloned().unwrap_or(Value::Null))
                .collect();
            Err(duplicated_key(&table, &pkey_name, &cols, &key))
        }
        None => Ok(()),
    }
}

/// Whether a row visible to the statement holds NULL in column `pos`.
fn has_nulls(cx: &ExecCtx<'_>, db: u32, oid: u32, pos: usize) -> bool {
    cx.engine
        .any_visible(cx.txn, db, oid, |r| r.get(pos).is_none_or(|v| v.is_null()))
}

fn add_unique(
    cx: &mut ExecCtx<'_>,
    db: u32,
    mut def: TableDef,
    columns: &[String],
    name: &Option<String>,
) -> Result<()> {
    let cols: Vec<usize> = columns
        .iter()
        .map(|c| {
            def.column_position(c).ok_or_else(|| {
                err!(
                    sqlstate::UNDEFINED_COLUMN,
                    "column \"{c}\" named in key does not exist"
                )
            })
        })
        .collect::<Result<_>>()?;
    let taken = vec![def.name.clone()];
    let name = match name {
        Some(n) => {
            if constraint_exists(cx, db, &def, n) {
                bail!(
                    sqlstate::DUPLICATE_OBJECT,
                    "constraint \"{n}\" for relation \"{}\" already exists",
                    def.name
                );
            }
            if cx
                .engine
                .with_catalog(|c| c.relation_exists(db, def.schema, n))
            {
                bail!(sqlstate::DUPLICATE_TABLE, "relation \"{n}\" already exists");
            }
            n.clone()
        }
        None => cx
            .engine
            .with_catalog(|c| super::exec::choose_index_name(c, db, &def, &cols, "key", &taken)),
    };
    let index = IndexDef {
        oid: cx.engine.new_oid(),
        name,
        columns: cols,
        unique: true,
        constraint: true,
        predicate: None,
        options: vec![],
    };
    def.indexes.push(index.clone());
    let table = def.clone();
    store(cx, db, def)?;
    super::exec::check_unique_build(cx, db, &table, &index)
}

fn multiple_primary_keys(table: &str) -> Error {
    err!(
        sqlstate::INVALID_TABLE_DEFINITION,
        "multiple primary keys for table \"{table}\" are not allowed"
    )
}

/// Whether the table has a constraint (of any kind) named `name`.
fn constraint_exists(cx: &ExecCtx<'_>, db: u32, def: &TableDef, name: &str) -> bool {
    (def.primary_key.is_some() && def.pkey_name == name)
        || def.indexes.iter().any(|i| i.constraint && i.name == name)
        || checks_of(cx, db, def.oid).iter().any(|c| c.name == name)
        || fkeys::own(cx, db, def.oid).iter().any(|f| f.name == name)
}

fn add_check(
    cx: &mut ExecCtx<'_>,
    db: u32,
    def: TableDef,
    name: &Option<String>,
    expr: &str,
) -> Result<()> {
    let (bound, refs) = ddl::bind_check(cx.engine, db, &def, expr)?;
    let name = match name {
        Some(n) => {
            if constraint_exists(cx, db, &def, n) {
                bail!(
                    sqlstate::DUPLICATE_OBJECT,
                    "constraint \"{n}\" for relation \"{}\" already exists",
                    def.name
                );
            }
            n.clone()
        }
        None => {
            // PostgreSQL names it after the column when exactly one is used, and
            // numbers it past the schema's constraint names.
            let base = match refs.as_slice() {
                [c] => format!("{}_{c}_check", def.name),
                _ => format!("{}_check", def.name),
            };
            let used = fkeys::constraint_names(cx, db, def.schema);
            let mut n = 0;
            loop {
                let cand = if n == 0 {
                    base.clone()
                } else {
                    format!("{base}{n}")
                };
                if !used.contains(&cand) {
                    break cand;
                }
                n += 1;
            }
        }
    };
    for (_, r) in rows(cx, db, def.oid) {
        if let Value::Bool(false) = eval(&bound, &r, cx)? {
            bail!(
                sqlstate::CHECK_VIOLATION,
                "check constraint \"{name}\" of relation \"{}\" is violated by some row",
                def.name
            );
        }
    }
    let mut checks = checks_of(cx, db, def.oid);
    checks.push(CheckDef {
        name,
        expr: expr.to_string(),
    });
    set_checks(cx, db, def.oid, checks)
}

fn drop_constraint(
    cx: &mut ExecCtx<'_>,
    db: u32,
    mut def: TableDef,
    name: &str,
    if_exists: bool,
    cascade: bool,
) -> Result<()> {
    let oid = def.oid;
    let mut fks = fkeys::own(cx, db, oid);
    if let Some(i) = fks.iter().position(|f| f.name == name) {
        fks.remove(i);
        return set_fks(cx, db, oid, fks);
    }
    let mut checks = checks_of(cx, db, oid);
    if let Some(i) = checks.iter().position(|c| c.name == name) {
        checks.remove(i);
        return set_checks(cx, db, oid, checks);
    }
    let is_pk = def.primary_key.is_some() && def.pkey_name == name;
    let index = def
        .indexes
        .iter()
        .position(|i| i.constraint && i.name == name);
    let key = match (is_pk, index) {
        (true, _) => def.primary_key.clone().unwrap_or_default(),
        (false, Some(i)) => def.indexes[i].columns.clone(),
        (false, None) => {
            let msg = format!(
                "constraint \"{name}\" of relation \"{}\" does not exist",
                def.name
            );
            if if_exists {
                cx.notices.push(notice(
                    sqlstate::SUCCESSFUL_COMPLETION,
                    format!("{msg}, skipping"),
                ));
                return Ok(());
            }
            return Err(Error::new(sqlstate::UNDEFINED_OBJECT, msg));
        }
    };
    // Foreign keys whose referenced columns this key is the only unique match for
    // depend on its index.
    let other_key = (!is_pk
        && def
            .primary_key
            .as_ref()
            .is_some_and(|k| fkeys::same_set(k, &key)))
        || def
            .indexes
            .iter()
            .enumerate()
            .any(|(i, x)| Some(i) != index && x.unique && fkeys::same_set(&x.columns, &key));
    let mut lines = Vec::new();
    let mut objects = Vec::new();
    let mut victims = Vec::new();
    if !other_key {
        for (t, f) in fkeys::referencing(cx, db, oid) {
            if fkeys::same_set(&f.ref_columns, &key) {
                let obj = format!("constraint {} on table {}", f.name, table_name(cx, db, t));
                lines.push(format!("{obj} depends on index {name}"));
                objects.push(obj);
                victims.push((t, f.name));
            }
        }
    }
    if !lines.is_empty() {
        if !cascade {
            return Err(dependents_error(
                &format!("constraint {name} on table {}", def.name),
                &lines,
            ));
        }
        cascade_notice(cx, &objects);
        remove_fks(cx, db, &victims)?;
    }
    match index {
        Some(i) if !is_pk => {
            def.indexes.remove(i);
        }
        _ => def.primary_key = None,
    }
    store(cx, db, def)
}

fn rename_constraint(
    cx: &mut ExecCtx<'_>,
    db: u32,
    mut def: TableDef,
    old: &str,
    new: &str,
) -> Result<()> {
    let oid = def.oid;
    if !constraint_exists(cx, db, &def, old) {
        bail!(
            sqlstate::UNDEFINED_OBJECT,
            "constraint \"{old}\" for table \"{}\" does not exist",
            def.name
        );
    }
    // A primary key or UNIQUE constraint's index, a relation, is renamed first.
    let keyed = (def.primary_key.is_some() && def.pkey_name == old)
        || def.indexes.iter().any(|i| i.constraint && i.name == old);
    if keyed
        && cx
            .engine
            .with_catalog(|c| c.relation_exists(db, def.schema, new))
    {
        bail!(
            sqlstate::DUPLICATE_TABLE,
            "relation \"{new}\" already exists"
        );
    }
    if constraint_exists(cx, db, &def, new) {
        bail!(
            sqlstate::DUPLICATE_OBJECT,
            "constraint \"{new}\" for relation \"{}\" already exists",
            def.name
        );
    }
    let mut fks = fkeys::own(cx, db, oid);
    if let Some(f) = fks.iter_mut().find(|f| f.name == old) {
        f.name = new.to_string();
        return set_fks(cx, db, oid, fks);
    }
    let mut checks = checks_of(cx, db, oid);
    if let Some(c) = checks.iter_mut().find(|c| c.name == old) {
        c.name = new.to_string();
        return set_checks(cx, db, oid, checks);
    }
    if def.primary_key.is_some() && def.pkey_name == old {
        def.pkey_name = new.to_string();
    } else if let Some(i) = def
        .indexes
        .iter_mut()
        .find(|i| i.constraint && i.name == old)
    {
        i.name = new.to_string();
    }
    store(cx, db, def)
}

fn rename_table(cx: &mut ExecCtx<'_>, db: u32, mut def: TableDef, new: &str) -> Result<()> {
    if cx
        .engine
        .with_catalog(|c| c.relation_exists(db, def.schema, new))
    {
        bail!(
            sqlstate::DUPLICATE_TABLE,
            "relation \"{new}\" already exists"
        );
    }
    // The views that read the table find it by name.
    let mut probe = def.clone();
    probe.name = format!("........pg.renamed.{}........", def.oid);
    let views = views_reading(cx, db, probe)?;
    let before = def.clone();
    let old = def.name.clone();
    def.name = new.to_string();
    rename_in_checks(cx, db, &before, &def, (&old, new))?;
    store(cx, db, def)?;
    rewrite_views(cx, db, &old, &views, (&old, new), false)
}

// ---- views ---------------------------------------------------------------------------

/// A view that reads what a probe hid, the view it reads it through (None: directly),
/// and what its query's columns were before.
#[derive(Debug, Clone)]
struct ViewReader {
    view: ViewDef,
    via: Option<String>,
    shape: Shape,
}

/// The output columns of a view's query that identify what it reads: each column's
/// type, modifier and source table column (names excluded: a view keeps its own).
type Shape = Vec<(u32, i32, u32, i16)>;

fn view_shape(cx: &ExecCtx<'_>, db: u32, v: &ViewDef, text: &str) -> Option<Shape> {
    ddl::plan_view_query(cx.engine, db, text, None)
        .ok()
        .map(|p| {
            p.fields
                .iter()
                .take(v.columns.len())
                .map(|f| (f.type_oid, f.typmod, f.table_oid, f.column_id))
                .collect()
        })
}

/// The views of the database that read what `probe` (the table's definition with a
/// column hidden, or under another name) no longer offers: planned before and after
/// the probe is put in place inside a savepoint that is then rolled back, a view that
/// fails or whose columns changed reads it. In creation order, each with the view it
/// reads through when that is another of them.
fn views_reading(cx: &mut ExecCtx<'_>, db: u32, probe: TableDef) -> Result<Vec<ViewReader>> {
    let views: Vec<ViewDef> = cx.engine.with_catalog(|c| {
        c.ddl
            .views
            .range((db, 0)..=(db, u32::MAX))
            .map(|(_, v)| v.clone())
            .collect()
    });
    if views.is_empty() {
        return Ok(vec![]);
    }
    let before: Vec<Option<Shape>> = views
        .iter()
        .map(|v| view_shape(cx, db, v, &v.query))
        .collect();
    let sp = cx.engine.savepoint(cx.txn);
    let put = cx
        .engine
        .catalog_change(cx.txn, CatalogChange::AlterTable { db, def: probe });
    let after: Vec<Option<Shape>> = match put {
        Ok(()) => views
            .iter()
            .map(|v| view_shape(cx, db, v, &v.query))
            .collect(),
        Err(_) => vec![],
    };
    cx.engine.rollback_to(cx.txn, &sp);
    put?;
    let readers: Vec<(&ViewDef, Shape)> = views
        .iter()
        .zip(before.into_iter().zip(after))
        .filter_map(|(v, (b, a))| match b {
            Some(b) if Some(&b) != a.as_ref() => Some((v, b)),
            _ => None,
        })
        .collect();
    Ok(readers
        .iter()
        .map(|(v, shape)| {
            let words = words(&v.query);
            let via = readers
                .iter()
                .find(|(o, _)| o.oid != v.oid && words.contains(&o.name))
                .map(|(o, _)| o.name.clone());
            ViewReader {
                view: (*v).clone(),
                via,
                shape: shape.clone(),
            }
        })
        .collect())
}

/// The identifiers of SQL text, folded as PostgreSQL folds them.
fn words(text: &str) -> Vec<String> {
    let dialect = crate::sql::dialect::PG;
    Tokenizer::new(&dialect, text)
        .tokenize()
        .unwrap_or_default()
        .iter()
        .filter_map(ident)
        .collect()
}

/// After a column (`column`) or the table was renamed from `old` to `new` (the
/// catalog already holds the new name), rewrites the text of the views that read
/// it: the identifiers naming `old` become `new` — for a column, first only those
/// unqualified or qualified by the table's name or an alias of it, then every one.
/// A view whose text then does not read exactly the columns it read before is
/// refused: tusk stores views as text, where PostgreSQL stores column numbers.
fn rewrite_views(
    cx: &mut ExecCtx<'_>,
    db: u32,
    table: &str,
    views: &[ViewReader],
    (old, new): (&str, &str),
    column: bool,
) -> Result<()> {
    for v in views {
        // A view over `*` reads by position and keeps its text.
        if view_shape(cx, db, &v.view, &v.view.query).as_ref() == Some(&v.shape) {
            continue;
        }
        let mut tries = Vec::new();
        if column {
            let q = qualifiers(&v.view.query, table);
            tries.push(rename_words(&v.view.query, old, new, Some(&q)));
        }
        tries.push(rename_words(&v.view.query, old, new, None));
        let Some(text) = tries
            .into_iter()
            .find(|t| view_shape(cx, db, &v.view, t).as_ref() == Some(&v.shape))
        else {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "cannot rename \"{old}\" of relation \"{table}\": view \"{}\" uses the name for something else too",
                v.view.name
            );
        };
        let mut def = v.view.clone();
        def.query = text;
        cx.engine
            .catalog_change(cx.txn, CatalogChange::Ddl(DdlChange::SetView { db, def }))?;
    }
    Ok(())
}

/// The folded value of an identifier token.
fn ident(t: &Token) -> Option<String> {
    match t {
        Token::Word(w) if w.quote_style == Some('"') => Some(w.value.clone()),
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_lowercase()),
        _ => None,
    }
}

/// The names a query may qualify the columns of `table` with: the table's name and
/// the aliases written after it (`t x`, `t AS x`).
fn qualifiers(text: &str, table: &str) -> Vec<String> {
    let dialect = crate::sql::dialect::PG;
    let tokens: Vec<Token> = Tokenizer::new(&dialect, text)
        .tokenize()
        .unwrap_or_default()
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let mut out = vec![table.to_string()];
    for i in 0..tokens.len() {
        if ident(&tokens[i]).as_deref() != Some(table) {
            continue;
        }
        let mut j = i + 1;
        if matches!(&tokens.get(j), Some(Token::Word(w)) if w.keyword == sqlparser::keywords::Keyword::AS)
        {
            j += 1;
        }
        if let Some(Token::Word(w)) = tokens.get(j) {
            if w.keyword == sqlparser::keywords::Keyword::NoKeyword || w.quote_style.is_some() {
                out.extend(ident(&tokens[j]));
            }
        }
    }
    out
}

/// SQL text with the identifier tokens naming `old` replaced by `new` (quoted when
/// it must be): all of them, or with `qualifiers`, those unqualified or qualified by
/// one of these names. Everything else is kept as written.
fn rename_words(text: &str, old: &str, new: &str, qualifiers: Option<&[String]>) -> String {
    let dialect = crate::sql::dialect::PG;
    let Ok(tokens) = Tokenizer::new(&dialect, text).tokenize_with_location() else {
        return text.to_string();
    };
    let chars: Vec<char> = text.chars().collect();
    let mut line_starts = vec![0];
    for (i, c) in chars.iter().enumerate() {
        if *c == '\n' {
            line_starts.push(i + 1);
        }
    }
    // Locations are 1-based lines and columns (in characters); the end is exclusive.
    let at = |l: sqlparser::tokenizer::Location| -> Option<usize> {
        let start = *line_starts.get((l.line as usize).checked_sub(1)?)?;
        Some(start + (l.column as usize).checked_sub(1)?)
    };
    let solid: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))
        .collect();
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for (k, &i) in solid.iter().enumerate() {
        let t = &tokens[i];
        if ident(&t.token).as_deref() != Some(old) {
            continue;
        }
        if let Some(q) = qualifiers {
            let period = k >= 1 && tokens[solid[k - 1]].token == Token::Period;
            if period {
                let by = k
                    .checked_sub(2)
                    .and_then(|p| ident(&tokens[solid[p]].token));
                if !by.is_some_and(|b| q.contains(&b)) {
                    continue;
                }
            }
        }
        let (Some(a), Some(b)) = (at(t.span.start), at(t.span.end)) else {
            continue;
        };
        if a < done || b > chars.len() || a > b {
            continue;
        }
        out.extend(&chars[done..a]);
        out.push_str(&ddl::quote_ident(new));
        done = b;
    }
    out.extend(&chars[done..]);
    out
}

#[cfg(test)]
#[path = "alter_tests.rs"]
mod tests;
