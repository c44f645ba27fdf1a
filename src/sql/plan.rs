//! The binder/planner: turns sqlparser's AST into typed plans against the catalog.
//! sqlparser types stop here; everything after works on [`Plan`] and [`Expr`].
//!
//! Binding resolves names (tables in `public`/`pg_catalog`, columns in the FROM scope),
//! types every expression, resolves untyped literals and `$n` parameters from context as
//! PostgreSQL does, and reports PostgreSQL's errors with cursor positions.
//!
//! Sibling files (child modules, so they share the binder's state):
//! `plan/calls.rs` (a call's FILTER, ORDER BY, WITHIN GROUP… — bound or refused),
//! `plan/clauses.rs` (FETCH FIRST, DISTINCT ON, WITH TIES, clauses refused),
//! `plan/cte.rs` (WITH and WITH RECURSIVE), `plan/window.rs` (OVER and WINDOW),
//! `plan/lateral.rs` (LATERAL FROM items; the outer levels subqueries see).

use super::expr::{arith_type, BinOp, Expr, Func};
use super::front::FrontStmt;
use super::functions;
use super::FieldDesc;
use crate::catalog::{self, VirtualTable};
use crate::error::{sqlstate, Error, Result};
use crate::sql::depth::Spanned;
use crate::storage::{ColumnDef, Engine, IndexDef, TableDef};
use crate::types::{numeric_typmod, parse_text, DataType, Value};
use crate::{bail, err};
use sqlparser::ast;
use std::ops::Bound;
use std::sync::Arc;

mod calls;
mod clauses;
mod cte;
mod lateral;
mod named_args;
mod rows;
mod srf_select;
pub(crate) use srf_select::is_srf;
mod using;
mod whole_row;
mod window;

/// How strictly a coercion may convert (PostgreSQL's cast contexts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coercion {
    /// Implicit (operators, function arguments).
    Implicit,
    /// Assignment (INSERT/UPDATE targets).
    Assignment,
    /// Explicit (`CAST`, `::`).
    Explicit,
}

/// A column visible in a FROM scope.
#[derive(Debug, Clone)]
pub struct ScopeCol {
    /// The table name or alias the column belongs to.
    pub table: Option<String>,
    /// The column name.
    pub name: String,
    /// The column type.
    pub ty: DataType,
    /// The column typmod.
    pub typmod: i32,
    /// The table OID (0 if not a table column).
    pub table_oid: u32,
    /// The attribute number (0 if not a table column).
    pub attnum: i16,
    /// A column one side of `JOIN … USING` / `NATURAL JOIN` merged into the join's own
    /// column: reachable only qualified (`a.x`), and left out of a bare `*`.
    pub absorbed: bool,
}

/// The columns a FROM clause makes visible, in row order.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The columns.
    pub cols: Vec<ScopeCol>,
}

impl ScopeCol {
    /// Whether a reference qualified by `table` (or unqualified) may name this column.
    pub fn visible_as(&self, table: Option<&str>) -> bool {
        match table {
            None => !self.absorbed || self.is_system(),
            Some(t) => self.table.as_deref() == Some(t),
        }
    }

    /// Whether this is a system column (`tableoid`; PostgreSQL's negative attribute
    /// numbers): reachable by name, qualified or not, but never part of `*`, `t.*` or
    /// a whole-row value (it is also marked `absorbed`, which keeps it out of `*`).
    pub fn is_system(&self) -> bool {
        self.attnum < 0
    }
}

impl Scope {
    /// The scope of a relation's named columns (a function's output, a system view)
    /// under a name.
    pub fn named(table: &str, cols: &[(&str, DataType)]) -> Scope {
        Scope {
            cols: cols
                .iter()
                .map(|(n, t)| ScopeCol {
                    table: Some(table.to_string()),
                    name: n.to_string(),
                    ty: *t,
                    typmod: -1,
                    table_oid: 0,
                    attnum: 0,
                    absorbed: false,
                })
                .collect(),
        }
    }

    /// The scope of one table under a name.
    pub fn of_table(def: &TableDef, alias: &str) -> Scope {
        Scope {
            cols: def
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| ScopeCol {
                    // A dropped column keeps its place in the row but no name can
                    // reach it and no `*` shows it.
                    table: (!c.dropped).then(|| alias.to_string()),
                    name: c.name.clone(),
                    ty: c.data_type,
                    typmod: c.typmod,
                    table_oid: def.oid,
                    attnum: (i + 1) as i16,
                    absorbed: c.dropped,
                })
                .collect(),
        }
    }
}

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    /// count(*)
    CountStar,
    /// count(x)
    Count,
    /// sum(x)
    Sum,
    /// min(x)
    Min,
    /// max(x)
    Max,
    /// avg(x)
    Avg,
    /// string_agg(text, separator)
    StringAgg,
    /// bool_and(x) / every(x)
    BoolAnd,
    /// bool_or(x)
    BoolOr,
    /// An aggregate that collects its inputs (`jsonb_agg`, …; see `type_funcs`).
    Collect(super::type_funcs::CollectAgg),
    /// An ordered-set aggregate (`… WITHIN GROUP (ORDER BY x)`; see `aggregate`): its
    /// argument is the ordered value, its second argument the direct argument.
    OrderedSet(super::aggregate::OrderedSet),
    /// `stddev`, `variance` and their `_samp` / `_pop` forms.
    Stat(super::aggregate::Stat),
}

/// One aggregate call of a grouped query.
#[derive(Debug, Clone)]
pub struct AggSpec {
    /// The function.
    pub func: AggFunc,
    /// The argument (over the input row).
    pub arg: Option<Expr>,
    /// The second argument (string_agg's separator).
    pub arg2: Option<Expr>,
    /// DISTINCT.
    pub distinct: bool,
    /// FILTER (WHERE …) over the input row: rows for which it is not true are skipped.
    pub filter: Option<Expr>,
    /// ORDER BY inside the call: (key over the input row, descending, nulls first);
    /// the inputs are fed in this order.
    pub order: super::aggregate::SortKeys,
    /// The result type.
    pub ty: DataType,
}

/// GROUP BY / aggregation of a query: the "group row" is the keys then the aggregates.
#[derive(Debug, Clone)]
pub struct GroupPlan {
    /// Grouping expressions over the input row.
    pub keys: Vec<Expr>,
    /// Aggregates.
    pub aggs: Vec<AggSpec>,
    /// HAVING over the group row.
    pub having: Option<Expr>,
}

/// Where a query's rows come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// No FROM: one empty row.
    Single,
    /// A stored table.
    Table {
        /// Database OID.
        db: u32,
        /// The table.
        def: Arc<TableDef>,
        /// Primary-key values to look up instead of scanning (from `WHERE pk = …`;
        /// the filter is still applied to what the lookup returns).
        key: Option<Vec<Expr>>,
    },
    /// A system view computed at execution.
    Virtual(VirtualTable),
    /// A subquery or VALUES list.
    Subquery(Box<SelectPlan>),
    /// SELECT DISTINCT ON: the first row of each key (columns of the sorted input).
    DistinctOn(Box<SelectPlan>, Vec<usize>),
    /// FETCH FIRST n ROWS WITH TIES over a sorted input (see [`super::ties`]).
    WithTies {
        /// The sorted query, hidden sort columns kept.
        input: Box<SelectPlan>,
        /// n.
        count: Expr,
        /// OFFSET.
        offset: Option<Expr>,
        /// The ORDER BY (column of the input, descending, nulls first).
        order: Vec<(usize, bool, bool)>,
    },
    /// Pre-window rows with window function values appended (see [`super::window`]).
    Window(Box<super::window::WindowPlan>),
    /// A `WITH RECURSIVE` query (see [`super::cte`]).
    RecursiveCte(Box<super::cte::RecursivePlan>),
    /// The working table of the recursive CTE whose step is running.
    WorkTable(super::cte::WorkTableRef),
    /// A join (nested loop).
    Join {
        /// Left input.
        left: Box<Source>,
        /// Right input.
        right: Box<Source>,
        /// Join condition over the concatenated row.
        on: Option<Expr>,
        /// LEFT or FULL JOIN (NULL-extend unmatched left rows).
        left_outer: bool,
        /// Width of the right input (for NULL extension).
        right_width: usize,
        /// RIGHT or FULL JOIN: NULL-extend unmatched right rows, which then follow
        /// the joined rows; the width of the left input.
        right_outer: Option<usize>,
    },
    /// A LATERAL join: the right input runs once per left row (see [`super::lateral`]).
    Lateral(Box<super::lateral::LateralJoin>),
    /// The RETURNING rows of a data-modifying CTE (see [`super::cte`]).
    DmlCte(Box<super::cte::DmlCte>),
    /// VALUES rows.
    Values(Vec<Vec<Expr>>),
    /// `generate_series(start, stop [, step])`: one column of the given type.
    Series(Expr, Expr, Option<Expr>, DataType),
    /// A set-returning function of the JSON types (see `type_funcs`).
    Srf(super::type_funcs::SrfCall),
    /// `regexp_matches` / `regexp_split_to_table` in FROM (see `regex_funcs`).
    RegexRows(super::regex_funcs::RowsCall),
    /// UNION / INTERSECT / EXCEPT of two queries, each column cast to `types`.
    SetOp {
        /// The operator.
        op: SetOpKind,
        /// ALL (keep duplicates).
        all: bool,
        /// Left input.
        left: Box<SelectPlan>,
        /// Right input.
        right: Box<SelectPlan>,
        /// The result column types.
        types: Vec<DataType>,
    },
}

/// A set operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOpKind {
    /// UNION.
    Union,
    /// INTERSECT.
    Intersect,
    /// EXCEPT.
    Except,
}

/// A planned SELECT.
#[derive(Debug, Clone)]
pub struct SelectPlan {
    /// The input.
    pub source: Source,
    /// WHERE over the input row.
    pub filter: Option<Expr>,
    /// Aggregation, if any.
    pub group: Option<GroupPlan>,
    /// Output expressions, then hidden ORDER BY expressions.
    pub exprs: Vec<Expr>,
    /// How many of `exprs` are output columns.
    pub visible: usize,
    /// The output columns.
    pub fields: Vec<FieldDesc>,
    /// ORDER BY: (index into exprs, descending, nulls first).
    pub order: Vec<(usize, bool, bool)>,
    /// SELECT DISTINCT.
    pub distinct: bool,
    /// LIMIT.
    pub limit: Option<Expr>,
    /// OFFSET.
    pub offset: Option<Expr>,
    /// FOR UPDATE / FOR SHARE on the (single) table source.
    pub lock: Option<RowLock>,
}

/// A SELECT's row-locking clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowLock {
    /// FOR UPDATE (true) or FOR SHARE (false).
    pub exclusive: bool,
    /// How a conflicting lock is treated (wait, NOWAIT, SKIP LOCKED).
    pub wait: crate::storage::LockWait,
}

/// RETURNING: expressions over the table row and their fields.
#[derive(Debug, Clone)]
pub struct Returning {
    /// Expressions over the affected row.
    pub exprs: Vec<Expr>,
    /// Output fields.
    pub fields: Vec<FieldDesc>,
}

/// A planned INSERT.
#[derive(Debug, Clone)]
pub struct InsertPlan {
    /// Database OID.
    pub db: u32,
    /// Target table.
    pub table: Arc<TableDef>,
    /// Rows of full-width expressions (defaults filled in), or a query.
    pub rows: Vec<Vec<Expr>>,
    /// INSERT … SELECT: the query and, per query column, the target column and the
    /// coercion expression over the query row; other columns take `rows[0]` defaults.
    pub query: Option<(Box<SelectPlan>, Vec<Expr>)>,
    /// RETURNING.
    pub returning: Option<Returning>,
    /// ON CONFLICT.
    pub on_conflict: Option<OnConflictPlan>,
    /// The unique index ON CONFLICT names (its target), if it names one: only its
    /// violations are handled, and DO UPDATE finds the conflicting row through it.
    pub arbiter: Option<Arbiter>,
}

/// The unique index an ON CONFLICT target designates.
#[derive(Debug, Clone)]
pub struct Arbiter {
    /// The constraint or index name (as in its unique-violation message).
    pub name: String,
    /// Its key columns, in key order.
    pub columns: Vec<usize>,
    /// The secondary index's OID; None for the primary key.
    pub index: Option<u32>,
}

/// What INSERT … ON CONFLICT does with a row whose key exists.
#[derive(Debug, Clone)]
pub enum OnConflictPlan {
    /// DO NOTHING.
    Nothing,
    /// DO UPDATE SET … [WHERE …], over (existing row, then `excluded` row).
    Update {
        /// (column index, new value).
        sets: Vec<(usize, Expr)>,
        /// WHERE.
        filter: Option<Expr>,
    },
}

/// A planned UPDATE.
#[derive(Debug, Clone)]
pub struct UpdatePlan {
    /// Database OID.
    pub db: u32,
    /// Primary-key values to look up instead of scanning (see [`Source::Table`]).
    pub key: Option<Vec<Expr>>,
    /// Target table.
    pub table: Arc<TableDef>,
    /// WHERE.
    pub filter: Option<Expr>,
    /// (column index, new value over the old row).
    pub sets: Vec<(usize, Expr)>,
    /// RETURNING.
    pub returning: Option<Returning>,
    /// UPDATE … FROM: WHERE, the SET values and RETURNING read the target row
    /// followed by a row of these items.
    pub from: Option<FromItems>,
}

/// The other FROM items of `UPDATE … FROM` / `DELETE … USING`.
#[derive(Debug, Clone)]
pub struct FromItems {
    /// The items, joined as in a SELECT's FROM.
    pub source: Source,
}

/// A planned DELETE.
#[derive(Debug, Clone)]
pub struct DeletePlan {
    /// Database OID.
    pub db: u32,
    /// Primary-key values to look up instead of scanning (see [`Source::Table`]).
    pub key: Option<Vec<Expr>>,
    /// Target table.
    pub table: Arc<TableDef>,
    /// WHERE.
    pub filter: Option<Expr>,
    /// RETURNING.
    pub returning: Option<Returning>,
    /// DELETE … USING (see [`UpdatePlan::from`]).
    pub from: Option<FromItems>,
}

/// A planned CREATE TABLE (the OID is assigned at execution).
#[derive(Debug, Clone)]
pub struct CreateTablePlan {
    /// The definition (oid 0 until executed).
    pub def: TableDef,
    /// IF NOT EXISTS.
    pub if_not_exists: bool,
    /// Serial and identity columns and CHECK constraints (see `sql::ddl`).
    pub ddl: super::ddl::TableExtras,
    /// ON COMMIT of a temporary table (see `sql::temp`).
    pub on_commit: Option<super::temp::OnCommit>,
}

/// A planned CREATE [UNIQUE] INDEX (the OID, and the name when none was given, are
/// chosen at execution).
#[derive(Debug, Clone)]
pub struct CreateIndexPlan {
    /// Database OID.
    pub db: u32,
    /// The indexed table as it is now.
    pub table: Arc<TableDef>,
    /// The index name as written, if any.
    pub name: Option<String>,
    /// The index keys, in key order.
    pub keys: Vec<IndexKey>,
    /// What PostgreSQL names the index after when no name is given: each key's column
    /// name, or the name it figures for an expression (`lower`, `expr`).
    pub name_parts: Vec<String>,
    /// A partial index's predicate (SQL text over the table's columns).
    pub predicate: Option<String>,
    /// Per key, `indoption` bits (1 = DESC, 2 = NULLS FIRST); empty when all are ASC
    /// NULLS LAST.
    pub options: Vec<i16>,
    /// UNIQUE.
    pub unique: bool,
    /// IF NOT EXISTS.
    pub if_not_exists: bool,
}

/// One key of a planned index.
#[derive(Debug, Clone)]
pub enum IndexKey {
    /// A column, by position.
    Column(usize),
    /// An expression over the table's columns (SQL text) and its type: its values go
    /// to a hidden column (see `sql::generated`).
    Expr(String, DataType),
}

pub use super::alter::AlterOp;

/// A planned ALTER TABLE.
#[derive(Debug, Clone)]
pub struct AlterTablePlan {
    /// Database OID.
    pub db: u32,
    /// The table as it is now.
    pub table: Arc<TableDef>,
    /// The actions, in order.
    pub ops: Vec<AlterOp>,
}

/// A planned statement.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Plan {
    /// SELECT / VALUES.
    Query(SelectPlan),
    /// INSERT.
    Insert(InsertPlan),
    /// UPDATE.
    Update(UpdatePlan),
    /// DELETE.
    Delete(DeletePlan),
    /// CREATE TABLE.
    CreateTable(CreateTablePlan),
    /// DROP TABLE: (schema-qualified names as written, IF EXISTS, CASCADE).
    DropTable(Vec<(Option<String>, String)>, bool, bool),
    /// ALTER TABLE.
    AlterTable(AlterTablePlan),
    /// CREATE INDEX.
    CreateIndex(CreateIndexPlan),
    /// DROP INDEX: (schema-qualified names as written, IF EXISTS).
    DropIndex(Vec<(Option<String>, String)>, bool),
    /// TRUNCATE: the tables (database OID, definition).
    Truncate(Vec<(u32, Arc<TableDef>)>),
    /// A statement of the front parser.
    Front(FrontStmt),
    /// Sequences and other DDL of `sql::ddl`.
    Ddl(super::ddl::DdlPlan),
    /// EXPLAIN (see [`super::explain`]).
    Explain(Box<super::explain::ExplainPlan>),
    /// CREATE/DROP/ALTER TYPE of enum types (see [`super::enums`]).
    Enum(super::enums::EnumPlan),
}

impl Plan {
    /// The result columns the statement returns, if it returns rows.
    pub fn fields(&self) -> Option<Arc<Vec<FieldDesc>>> {
        if let Some(f) = self.held_fields() {
            return Some(Arc::new(f.to_vec()));
        }
        match self {
            Plan::Front(FrontStmt::Show(name)) => Some(Arc::new(vec![text_field(
                &super::setting_display_name(name),
            )])),
            Plan::Front(FrontStmt::ShowAll) => Some(Arc::new(vec![
                text_field("name"),
                text_field("setting"),
                text_field("description"),
            ])),
            Plan::Explain(e) => Some(Arc::new(vec![e.field()])),
            _ => None,
        }
    }

    /// The result columns a query or a RETURNING clause holds, borrowed (what
    /// [`Plan::fields`] copies); `None` for the other plans.
    pub fn held_fields(&self) -> Option<&[FieldDesc]> {
        match self {
            Plan::Query(q) => Some(&q.fields),
            Plan::Insert(InsertPlan {
                returning: Some(r), ..
            })
            | Plan::Update(UpdatePlan {
                returning: Some(r), ..
            })
            | Plan::Delete(DeletePlan {
                returning: Some(r), ..
            }) => Some(&r.fields),
            _ => None,
        }
    }
}

/// A text result column not taken from a table.
pub fn text_field(name: &str) -> FieldDesc {
    FieldDesc {
        name: name.to_string(),
        table_oid: 0,
        column_id: 0,
        type_oid: DataType::Text.oid(),
        type_len: -1,
        typmod: -1,
    }
}

struct AggState {
    keys: Vec<ast::Expr>,
    key_types: Vec<DataType>,
    aggs: Vec<AggSpec>,
    input: Scope,
}

/// Binds and plans statements of one query string.
pub struct Binder<'a> {
    engine: &'a Engine,
    db: u32,
    offset: usize,
    line_starts: Vec<usize>,
    chars: Vec<char>,
    /// Parameter types: given by Parse, or resolved from context (Unknown = not yet).
    pub params: Vec<DataType>,
    agg: Option<AggState>,
    ctes: cte::CteEnv,
    windows: window::WinEnv,
    /// The scopes of the enclosing queries while a subquery expression is planned
    /// (innermost last; see `plan/lateral.rs` for an aggregating query's level and for
    /// the left scope a LATERAL item sees), and whether each level is referred to.
    outer: Vec<lateral::OuterLevel>,
    correlated: Vec<bool>,
    /// The role whose table privileges are checked as tables are bound (`sql::acl`);
    /// None for internal binders (stored defaults, view bodies).
    pub acl_role: Option<u32>,
    /// What the privilege checks of the statement need (see `sql::privileges`).
    pub(crate) acl: super::privileges::AclState,
}

/// Whether a numeric literal is an integer (digits, perhaps after a minus).
fn is_integer_literal(n: &str) -> bool {
    n.trim_start_matches('-')
        .bytes()
        .all(|b| b.is_ascii_digit())
}

/// The constant a numeric literal stands for, by PostgreSQL's rules: `integer` when it
/// is an integer that fits, else `bigint`, else `numeric` (as is every literal with a
/// point or an exponent).
pub(crate) fn number_literal(n: &str) -> Result<(Value, DataType)> {
    if is_integer_literal(n) {
        if let Ok(i) = n.parse::<i32>() {
            return Ok((Value::Int4(i), DataType::Int4));
        }
        if let Ok(i) = n.parse::<i64>() {
            return Ok((Value::Int8(i), DataType::Int8));
        }
    }
    Ok((parse_text(DataType::Numeric, -1, n)?, DataType::Numeric))
}

/// Folds an identifier as PostgreSQL does (unquoted → lower case).
pub fn fold(id: &ast::Ident) -> String {
    if id.quote_style.is_some() {
        id.value.clone()
    } else {
        id.value.to_lowercase()
    }
}

/// PostgreSQL's 42P10 for a RIGHT or FULL join whose right item reads the left side.
fn lateral_right_or_full(left: &Scope) -> Error {
    let table = left
        .cols
        .iter()
        .find_map(|c| c.table.clone())
        .unwrap_or_default();
    err!(
        sqlstate::INVALID_COLUMN_REFERENCE,
        "invalid reference to FROM-clause entry for table \"{table}\""
    )
    .with_detail("The combining JOIN type must be INNER or LEFT for a LATERAL reference.")
}

fn undefined_table(name: &str) -> Error {
    err!(
        sqlstate::UNDEFINED_TABLE,
        "relation \"{name}\" does not exist"
    )
}

impl<'a> Binder<'a> {
    /// A binder for a statement whose text starts at char `offset` of the query string.
    pub fn new(
        engine: &'a Engine,
        db: u32,
        text: &str,
        offset: usize,
        params: Vec<DataType>,
    ) -> Binder<'a> {
        let mut line_starts = vec![0];
        for (i, c) in text.chars().enumerate() {
            if c == '\n' {
                line_starts.push(i + 1);
            }
        }
        super::enums::install(engine, db);
        Binder {
            engine,
            db,
            offset,
            line_starts,
            chars: text.chars().collect(),
            params,
            agg: None,
            ctes: cte::CteEnv::default(),
            windows: window::WinEnv::default(),
            outer: Vec::new(),
            correlated: Vec::new(),
            acl_role: None,
            acl: Default::default(),
        }
    }

    /// Plans a subquery expression with `scope` as its enclosing query's scope;
    /// returns the bound expression, wrapped in `Expr::Correlated` when the subquery
    /// refers to the enclosing row.
    fn with_outer(
        &mut self,
        scope: &Scope,
        f: impl FnOnce(&mut Self) -> Result<Expr>,
    ) -> Result<Expr> {
        let level = self.outer_level(scope)?;
        self.outer.push(level);
        self.correlated.push(false);
        let r = f(self);
        self.outer.pop();
        let correlated = self.correlated.pop().unwrap_or(false);
        let e = r?;
        Ok(if correlated {
            Expr::Correlated(Box::new(e))
        } else {
            e
        })
    }

    /// A column of an enclosing query (a correlated subquery's outer reference), or
    /// None when no enclosing scope has it.
    fn outer_column(&mut self, table: Option<&str>, name: &str) -> Result<Option<Expr>> {
        for d in 1..=self.outer.len() {
            let level = &self.outer[self.outer.len() - d];
            let scope = &level.scope;
            let hits: Vec<usize> = scope
                .cols
                .iter()
                .enumerate()
                .filter(|(_, c)| c.name == name && c.visible_as(table))
                .map(|(i, _)| i)
                .collect();
            match hits.len() {
                0 => continue,
                1 => {
                    let (toid, att) = (scope.cols[hits[0]].table_oid, scope.cols[hits[0]].attnum);
                    let at = level.position(hits[0])?;
                    let n = self.correlated.len();
                    for c in &mut self.correlated[n.saturating_sub(d)..] {
                        *c = true;
                    }
                    let ty = scope.cols[hits[0]].ty;
                    self.acl.read(toid, att);
                    return Ok(Some(Expr::OuterColumn(d, at, ty)));
                }
                _ => bail!(
                    sqlstate::AMBIGUOUS_COLUMN,
                    "column reference \"{}\" is ambiguous",
                    name
                ),
            }
        }
        Ok(None)
    }

    fn pos_of(&self, span: sqlparser::tokenizer::Span) -> Option<u32> {
        let l = span.start.line as usize;
        if l == 0 || l > self.line_starts.len() {
            return None;
        }
        Some((self.offset + self.line_starts[l - 1] + span.start.column as usize) as u32)
    }

    fn at(&self, e: Error, span: sqlparser::tokenizer::Span) -> Error {
        match (e.position, self.pos_of(span)) {
            (None, Some(p)) => e.with_position(p),
            _ => e,
        }
    }

    /// The input scope of the aggregation being planned, if any.
    fn agg_input(&self) -> Option<&Scope> {
        self.agg.as_ref().map(|st| &st.input)
    }

    /// The engine and database OID this binder plans against (for `sql::ddl`).
    pub fn target(&self) -> (&'a Engine, u32) {
        (self.engine, self.db)
    }

    /// Plans a statement, then checks the privileges it needs (`sql::privileges`).
    pub fn plan(&mut self, stmt: &ast::Statement) -> Result<Plan> {
        self.acl_enter();
        let p = self.plan_statement(stmt);
        self.acl_leave(p.is_ok())?;
        p
    }

    fn plan_statement(&mut self, stmt: &ast::Statement) -> Result<Plan> {
        if let Some(p) = super::ddl::plan(self, stmt)? {
            return Ok(Plan::Ddl(p));
        }
        if let Some(p) = super::enums::plan(self, stmt)? {
            return Ok(Plan::Enum(p));
        }
        match stmt {
            ast::Statement::Explain { .. } => super::explain::plan(self, stmt)?
                .ok_or_else(|| Error::internal("EXPLAIN was not planned")),
            ast::Statement::Query(q) if q.with.is_some() => self.plan_with_statement(q),
            ast::Statement::Query(q) => {
                let mut p = self.plan_query(q)?;
                super::catalog_funcs::name_reg_outputs(&mut p);
                Ok(Plan::Query(p))
            }
            ast::Statement::Insert(ins) => self.plan_insert(ins),
            ast::Statement::Update {
                table,
                assignments,
                from,
                selection,
                returning,
                ..
            } => {
                let from = match from {
                    None => None,
                    Some(ast::UpdateTableFromKind::BeforeSet(f))
                    | Some(ast::UpdateTableFromKind::AfterSet(f)) => Some(f.as_slice()),
                };
                self.plan_update(
                    table,
                    assignments,
                    from,
                    selection.as_ref(),
                    returning.as_ref(),
                )
            }
            ast::Statement::Delete(d) => self.plan_delete(d),
            ast::Statement::AlterTable {
                name,
                if_exists,
                operations,
                ..
            } => {
                let (schema, tname) = self.split_name(name)?;
                let found = catalog::resolve_table(self.engine, self.db, schema.as_deref(), &tname)
                    .map_err(|e| self.at(e, Self::name_span(name)))?;
                let Some(table) = found else {
                    if *if_exists {
                        return Ok(Plan::AlterTable(AlterTablePlan {
                            db: self.db,
                            table: Arc::new(TableDef {
                                oid: 0,
                                schema: 0,
                                name: tname,
                                owner: 0,
                                columns: vec![],
                                primary_key: None,
                                pkey_name: String::new(),
                                indexes: vec![],
                            }),
                            ops: vec![],
                        }));
                    }
                    return Err(self.at(undefined_table(&tname), Self::name_span(name)));
                };
                let mut ops = Vec::new();
                for op in operations {
                    ops.extend(super::alter::plan(op)?);
                }
                Ok(Plan::AlterTable(AlterTablePlan {
                    db: self.db,
                    table,
                    ops,
                }))
            }
            ast::Statement::Truncate { table_names, .. } => {
                let mut out = Vec::new();
                for t in table_names {
                    let def = self.resolve_table(&t.name)?;
                    self.acl_check(&def, super::privileges::Need::Truncate)?;
                    out.push((self.db, def));
                }
                Ok(Plan::Truncate(out))
            }
            ast::Statement::CreateTable(ct) => self.plan_create_table(ct),
            ast::Statement::CreateIndex(ci) => self.plan_create_index(ci),
            ast::Statement::Drop {
                object_type,
                if_exists,
                names,
                cascade,
                ..
            } => {
                if *object_type == ast::ObjectType::Index {
                    let mut out = Vec::new();
                    for n in names {
                        out.push(self.split_name(n)?);
                    }
                    return Ok(Plan::DropIndex(out, *if_exists));
                }
                if *object_type != ast::ObjectType::Table {
                    bail!(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "DROP {} is not supported yet",
                        object_type
                    );
                }
                let mut out = Vec::new();
                for n in names {
                    out.push(self.split_name(n)?);
                }
                Ok(Plan::DropTable(out, *if_exists, *cascade))
            }
            other => {
                let text = other.to_string();
                let word = text
                    .split_whitespace()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ");
                bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "{word} is not supported yet"
                )
            }
        }
    }

    fn split_name(&self, n: &ast::ObjectName) -> Result<(Option<String>, String)> {
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

    fn name_span(n: &ast::ObjectName) -> sqlparser::tokenizer::Span {
        match n.0.first() {
            Some(ast::ObjectNamePart::Identifier(i)) => i.span,
            _ => sqlparser::tokenizer::Span::empty(),
        }
    }

    /// Resolves a table name to a stored table.
    fn resolve_table(&self, n: &ast::ObjectName) -> Result<Arc<TableDef>> {
        let (schema, name) = self.split_name(n)?;
        let found = catalog::resolve_table(self.engine, self.db, schema.as_deref(), &name)
            .map_err(|e| self.at(e, Self::name_span(n)))?;
        found.ok_or_else(|| self.at(undefined_table(&name), Self::name_span(n)))
    }

    // ---- queries -------------------------------------------------------------------

    /// Plans a query (SELECT, VALUES) with ORDER BY / LIMIT / OFFSET.
    pub fn plan_query(&mut self, q: &ast::Query) -> Result<SelectPlan> {
        crate::sql::depth::with_stack(|| {
            if let Some(with) = &q.with {
                return self.with_ctes_query(with, |b| b.plan_query_body(q));
            }
            self.plan_query_body(q)
        })
    }

    /// Plans a query's body, ORDER BY, LIMIT and locking (its WITH already in scope).
    fn plan_query_body(&mut self, q: &ast::Query) -> Result<SelectPlan> {
        let mut plan = match q.body.as_ref() {
            ast::SetExpr::Select(s) => self.plan_select(s, q.order_by.as_ref())?,
            ast::SetExpr::Values(v) => {
                let p = self.plan_values(v)?;
                self.apply_order_on_output(p, q.order_by.as_ref())?
            }
            ast::SetExpr::Query(inner) => {
                let p = self.plan_query(inner)?;
                self.apply_order_on_output(p, q.order_by.as_ref())?
            }
            body @ ast::SetExpr::SetOperation { .. } => {
                let p = self.plan_set_expr(body)?;
                self.apply_order_on_output(p, q.order_by.as_ref())?
            }
            _ => bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "this kind of query is not supported yet"
            ),
        };
        if let Some(lc) = &q.limit_clause {
            match lc {
                ast::LimitClause::LimitOffset { limit, offset, .. } => {
                    let empty = Scope::default();
                    if let Some(l) = limit {
                        let e = self.bind(l, &empty)?;
                        plan.limit = Some(self.coerce(
                            e,
                            DataType::Int8,
                            -1,
                            Coercion::Implicit,
                            l.span(),
                        )?);
                    }
                    if let Some(o) = offset {
                        let e = self.bind(&o.value, &empty)?;
                        plan.offset = Some(self.coerce(
                            e,
                            DataType::Int8,
                            -1,
                            Coercion::Implicit,
                            o.value.span(),
                        )?);
                    }
                }
                ast::LimitClause::OffsetCommaLimit { .. } => {
                    bail!(sqlstate::SYNTAX_ERROR, "LIMIT #,# syntax is not supported")
                }
            }
        }
        if let Some(l) = self.query_fetch_limit(q)? {
            plan.limit = Some(l);
            if q.fetch.as_ref().is_some_and(|f| f.with_ties) {
                plan = clauses::with_ties(plan)?;
            }
        }
        if !q.locks.is_empty() {
            plan.lock = Some(self.plan_row_lock(&plan, &q.locks)?);
            if let Source::Table { def, .. } = &plan.source {
                self.acl_lock(def);
            }
        }
        Ok(plan)
    }

    /// Checks a FOR UPDATE / FOR SHARE clause against the query it locks.
    fn plan_row_lock(&self, plan: &SelectPlan, locks: &[ast::LockClause]) -> Result<RowLock> {
        let exclusive = locks
            .iter()
            .any(|l| matches!(l.lock_type, ast::LockType::Update));
        let what = if exclusive { "FOR UPDATE" } else { "FOR SHARE" };
        if plan.group.is_some() {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "{what} is not allowed with aggregate functions"
            );
        }
        if plan.distinct {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "{what} is not allowed with DISTINCT clause"
            );
        }
        if !matches!(plan.source, Source::Table { .. }) {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "{what} is supported on a single table only for now"
            );
        }
        let wait = match locks.iter().find_map(|l| l.nonblock.as_ref()) {
            Some(ast::NonBlock::Nowait) => crate::storage::LockWait::NoWait,
            Some(ast::NonBlock::SkipLocked) => crate::storage::LockWait::SkipLocked,
            None => crate::storage::LockWait::Wait,
        };
        Ok(RowLock { exclusive, wait })
    }

    /// Plans one side of a set operation (or a whole one).
    fn plan_set_expr(&mut self, e: &ast::SetExpr) -> Result<SelectPlan> {
        crate::sql::depth::with_stack(|| self.plan_set_expr_here(e))
    }

    /// [`Binder::plan_set_expr`] on the stack it was called on.
    fn plan_set_expr_here(&mut self, e: &ast::SetExpr) -> Result<SelectPlan> {
        match e {
            ast::SetExpr::Select(s) => self.plan_select(s, None),
            ast::SetExpr::Values(v) => self.plan_values(v),
            ast::SetExpr::Query(q) => self.plan_query(q),
            ast::SetExpr::SetOperation {
                op,
                set_quantifier,
                left,
                right,
            } => {
                let kind = match op {
                    ast::SetOperator::Union => SetOpKind::Union,
                    ast::SetOperator::Intersect => SetOpKind::Intersect,
                    ast::SetOperator::Except | ast::SetOperator::Minus => SetOpKind::Except,
                };
                let all = matches!(set_quantifier, ast::SetQuantifier::All);
                let l = self.plan_set_expr(left)?;
                let r = self.plan_set_expr(right)?;
                let opname = match kind {
                    SetOpKind::Union => "UNION",
                    SetOpKind::Intersect => "INTERSECT",
                    SetOpKind::Except => "EXCEPT",
                };
                if l.visible != r.visible {
                    bail!(
                        sqlstate::SYNTAX_ERROR,
                        "each {opname} query must have the same number of columns"
                    );
                }
                let mut types = Vec::new();
                let mut fields = Vec::new();
                for (lf, rf) in l.fields.iter().zip(&r.fields) {
                    let lt = DataType::from_oid(lf.type_oid).unwrap_or(DataType::Text);
                    let rt = DataType::from_oid(rf.type_oid).unwrap_or(DataType::Text);
                    let t = if lt == rt {
                        lt
                    } else if lt.is_string() && rt.is_string() {
                        DataType::Text
                    } else if let Some(t) = arith_type(lt, rt) {
                        t
                    } else {
                        bail!(
                            sqlstate::DATATYPE_MISMATCH,
                            "{opname} types {} and {} cannot be matched",
                            lt.name(),
                            rt.name()
                        );
                    };
                    let tm = if lt == rt && lf.typmod == rf.typmod {
                        lf.typmod
                    } else {
                        -1
                    };
                    fields.push(field(&lf.name, t, tm, 0, 0));
                    types.push(t);
                }
                Ok(SelectPlan {
                    exprs: types
                        .iter()
                        .enumerate()
                        .map(|(i, t)| Expr::Column(i, *t))
                        .collect(),
                    visible: types.len(),
                    source: Source::SetOp {
                        op: kind,
                        all,
                        left: Box::new(l),
                        right: Box::new(r),
                        types,
                    },
                    filter: None,
                    group: None,
                    fields,
                    order: vec![],
                    distinct: false,
                    limit: None,
                    offset: None,
                    lock: None,
                })
            }
            _ => bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "this kind of query is not supported yet"
            ),
        }
    }

    fn plan_values(&mut self, v: &ast::Values) -> Result<SelectPlan> {
        let mut rows = Vec::new();
        let empty = Scope::default();
        for r in &v.rows {
            let mut out = Vec::new();
            for e in r {
                out.push(self.bind(e, &empty)?);
            }
            if let Some(first) = rows.first() {
                let f: &Vec<Expr> = first;
                if f.len() != out.len() {
                    bail!(
                        sqlstate::SYNTAX_ERROR,
                        "VALUES lists must all be the same length"
                    );
                }
            }
            rows.push(out);
        }
        let width = rows.first().map(|r| r.len()).unwrap_or(0);
        // Resolve each column's type: the first known type, else text.
        let mut types = Vec::new();
        for c in 0..width {
            let t = rows
                .iter()
                .map(|r| r[c].ty())
                .find(|t| *t != DataType::Unknown)
                .unwrap_or(DataType::Text);
            types.push(t);
        }
        let mut coerced = Vec::new();
        for (r, ast_row) in rows.into_iter().zip(&v.rows) {
            let mut out = Vec::new();
            for (c, e) in r.into_iter().enumerate() {
                let span = ast_row
                    .get(c)
                    .map(|x| x.span())
                    .unwrap_or_else(sqlparser::tokenizer::Span::empty);
                out.push(self.coerce(e, types[c], -1, Coercion::Implicit, span)?);
            }
            coerced.push(out);
        }
        let fields = types
            .iter()
            .enumerate()
            .map(|(i, t)| field(&format!("column{}", i + 1), *t, -1, 0, 0))
            .collect();
        Ok(SelectPlan {
            source: Source::Values(coerced),
            filter: None,
            group: None,
            exprs: types
                .iter()
                .enumerate()
                .map(|(i, t)| Expr::Column(i, *t))
                .collect(),
            visible: width,
            fields,
            order: vec![],
            distinct: false,
            limit: None,
            offset: None,
            lock: None,
        })
    }

    /// ORDER BY for VALUES/subquery bodies: only output positions and names.
    fn apply_order_on_output(
        &mut self,
        mut p: SelectPlan,
        ob: Option<&ast::OrderBy>,
    ) -> Result<SelectPlan> {
        let Some(ob) = ob else { return Ok(p) };
        let ast::OrderByKind::Expressions(items) = &ob.kind else {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "ORDER BY ALL is not supported"
            );
        };
        let scope = Scope {
            cols: p
                .fields
                .iter()
                .map(|f| ScopeCol {
                    table: None,
                    name: f.name.clone(),
                    ty: DataType::from_oid(f.type_oid).unwrap_or(DataType::Text),
                    typmod: f.typmod,
                    table_oid: 0,
                    attnum: 0,
                    absorbed: false,
                })
                .collect(),
        };
        // Wrap: the current plan becomes a subquery.
        let fields = p.fields.clone();
        let visible = p.visible;
        let inner = std::mem::replace(
            &mut p,
            SelectPlan {
                source: Source::Single,
                filter: None,
                group: None,
                exprs: vec![],
                visible: 0,
                fields: vec![],
                order: vec![],
                distinct: false,
                limit: None,
                offset: None,
                lock: None,
            },
        );
        let mut exprs: Vec<Expr> = scope
            .cols
            .iter()
            .enumerate()
            .map(|(i, c)| Expr::Column(i, c.ty))
            .collect();
        let mut order = Vec::new();
        for it in items {
            let idx = self.order_target(&it.expr, &scope, &fields, &mut exprs)?;
            let desc = it.options.asc == Some(false);
            order.push((idx, desc, it.options.nulls_first.unwrap_or(desc)));
        }
        Ok(SelectPlan {
            source: Source::Subquery(Box::new(inner)),
            filter: None,
            group: None,
            exprs,
            visible,
            fields,
            order,
            distinct: false,
            limit: None,
            offset: None,
            lock: None,
        })
    }

    /// Resolves an ORDER BY item: an output position, an output name, or an expression
    /// (added as a hidden column). Returns its index in `exprs`.
    fn order_target(
        &mut self,
        e: &ast::Expr,
        scope: &Scope,
        fields: &[FieldDesc],
        exprs: &mut Vec<Expr>,
    ) -> Result<usize> {
        if let ast::Expr::Value(v) = e {
            if let ast::Value::Number(n, _) = &v.value {
                let pos: usize = n.parse().unwrap_or(0);
                if pos == 0 || pos > fields.len() {
                    return Err(self.at(
                        err!(
                            sqlstate::INVALID_COLUMN_REFERENCE,
                            "ORDER BY position {n} is not in select list"
                        ),
                        e.span(),
                    ));
                }
                return Ok(pos - 1);
            }
        }
        if let ast::Expr::Identifier(id) = e {
            let name = fold(id);
            let hits: Vec<usize> = fields
                .iter()
                .enumerate()
                .filter(|(_, f)| f.name == name)
                .map(|(i, _)| i)
                .collect();
            if hits.len() == 1 {
                return Ok(hits[0]);
            }
        }
        let b = self.bind(e, scope)?;
        exprs.push(b);
        Ok(exprs.len() - 1)
    }

    fn plan_from(&mut self, from: &[ast::TableWithJoins]) -> Result<(Source, Scope)> {
        let mut acc: Option<(Source, Scope)> = None;
        for twj in from {
            let mut cur = self.plan_from_head(&mut acc, twj)?;
            for j in &twj.joins {
                let (rsrc, rscope, lateral) = self.plan_item(Some(&cur.1), &j.relation)?;
                let right = (rsrc, rscope);
                let (constraint, left_outer, right_outer) = match &j.join_operator {
                    ast::JoinOperator::Join(c) | ast::JoinOperator::Inner(c) => {
                        (Some(c), false, false)
                    }
                    ast::JoinOperator::Left(c) | ast::JoinOperator::LeftOuter(c) => {
                        (Some(c), true, false)
                    }
                    ast::JoinOperator::Right(c) | ast::JoinOperator::RightOuter(c) => {
                        (Some(c), false, true)
                    }
                    ast::JoinOperator::FullOuter(c) => (Some(c), true, true),
                    ast::JoinOperator::CrossJoin(_) => (None, false, false),
                    _ => bail!(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "this kind of JOIN is not supported yet"
                    ),
                };
                if right_outer && lateral {
                    return Err(lateral_right_or_full(&cur.1));
                }
                let mut scope = cur.1.clone();
                let lw = scope.cols.len();
                let right_width = right.1.cols.len();
                scope.cols.extend(right.1.cols.clone());
                let mut using = None;
                let on = match constraint {
                    Some(ast::JoinConstraint::On(e)) => {
                        let b = self.bind(e, &scope)?;
                        Some(self.coerce(b, DataType::Bool, -1, Coercion::Implicit, e.span())?)
                    }
                    Some(ast::JoinConstraint::None) | None => None,
                    Some(ast::JoinConstraint::Using(names)) => {
                        let p = self.using_pairs(&cur.1, &right.1, Some(names))?;
                        let on = self.using_condition(&scope, lw, &p)?;
                        using = Some(p);
                        on
                    }
                    Some(ast::JoinConstraint::Natural) => {
                        let p = self.using_pairs(&cur.1, &right.1, None)?;
                        let on = self.using_condition(&scope, lw, &p)?;
                        using = Some(p).filter(|p| !p.is_empty());
                        on
                    }
                };
                let joined = if right_outer {
                    Source::Join {
                        left: Box::new(cur.0),
                        right: Box::new(right.0),
                        on,
                        left_outer,
                        right_width,
                        right_outer: Some(lw),
                    }
                } else {
                    lateral::join(cur.0, right.0, on, left_outer, right_width, lateral)
                };
                cur = match using {
                    Some(p) => self.using_projection(joined, scope, lw, &p)?,
                    None => (joined, scope),
                };
            }
            acc = Some(match acc {
                None => cur,
                Some((ls, lscope)) => {
                    let mut scope = lscope;
                    let right_width = cur.1.cols.len();
                    scope.cols.extend(cur.1.cols);
                    (
                        Source::Join {
                            left: Box::new(ls),
                            right: Box::new(cur.0),
                            on: None,
                            left_outer: false,
                            right_width,
                            right_outer: None,
                        },
                        scope,
                    )
                }
            });
        }
        Ok(acc.unwrap_or((Source::Single, Scope::default())))
    }

    /// A sequence in FROM: its one row (SELECT on it needed).
    fn sequence_source(
        &mut self,
        seq: &crate::storage::ddl::SequenceDef,
        alias_name: &str,
        alias: Option<&ast::TableAlias>,
    ) -> Result<(Source, Scope)> {
        if let Some(role) = self.acl_role {
            super::privileges::check_relation(
                self.engine,
                self.db,
                role,
                seq.oid,
                crate::storage::acl::ACL_SELECT,
            )?;
        }
        let vt = catalog::VirtualTable::Sequence(seq.oid);
        let mut scope = Scope {
            cols: vt
                .columns()
                .iter()
                .map(|(n, t)| ScopeCol {
                    table: Some(alias_name.to_string()),
                    name: n.to_string(),
                    ty: *t,
                    typmod: -1,
                    table_oid: 0,
                    attnum: 0,
                    absorbed: false,
                })
                .collect(),
        };
        apply_alias_columns(&mut scope, alias)?;
        Ok((Source::Virtual(vt), scope))
    }

    fn plan_factor(&mut self, f: &ast::TableFactor) -> Result<(Source, Scope)> {
        clauses::check_table_factor(f)?;
        match f {
            ast::TableFactor::Table {
                name,
                alias,
                args,
                with_ordinality,
                ..
            } => {
                if let Some(fa) = args {
                    if let Some(found) =
                        self.partition_ancestors(name, fa, *with_ordinality, alias.as_ref())?
                    {
                        return Ok(found);
                    }
                }
                if args.is_some() && *with_ordinality {
                    bail!(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "WITH ORDINALITY is not supported yet"
                    );
                }
                if let Some(fa) = args {
                    return self.plan_table_function(name, fa, alias.as_ref());
                }
                let (schema, tname) = self.split_name(name)?;
                if schema.is_none() {
                    if let Some(found) = self.cte_reference(&tname, alias.as_ref())? {
                        return Ok(found);
                    }
                }
                let alias_name = alias
                    .as_ref()
                    .map(|a| fold(&a.name))
                    .unwrap_or_else(|| tname.clone());
                if let Some(vt) = catalog::virtual_table(schema.as_deref(), &tname) {
                    if let Some(role) = self.acl_role {
                        catalog::check_virtual_access(self.engine, role, vt)
                            .map_err(|e| self.at(e, Self::name_span(name)))?;
                    }
                    let mut scope = Scope {
                        cols: vt
                            .columns()
                            .iter()
                            .map(|(n, t)| ScopeCol {
                                table: Some(alias_name.clone()),
                                name: n.to_string(),
                                ty: *t,
                                typmod: -1,
                                table_oid: 0,
                                attnum: 0,
                                absorbed: false,
                            })
                            .collect(),
                    };
                    apply_alias_columns(&mut scope, alias.as_ref())?;
                    scope
                        .cols
                        .extend(vt.system_columns().iter().map(|(n, t, num)| ScopeCol {
                            table: Some(alias_name.clone()),
                            name: n.to_string(),
                            ty: *t,
                            typmod: -1,
                            table_oid: 0,
                            attnum: *num,
                            absorbed: true,
                        }));
                    return Ok((Source::Virtual(vt), scope));
                }
                self.acl_check_view(schema.as_deref(), &tname)
                    .map_err(|e| self.at(e, Self::name_span(name)))?;
                if let Some((p, mut scope)) =
                    super::ddl::view_source(self, schema.as_deref(), &tname, &alias_name)?
                {
                    apply_alias_columns(&mut scope, alias.as_ref())?;
                    return Ok((Source::Subquery(Box::new(p)), scope));
                }
                let def = match self.resolve_table(name) {
                    Ok(def) => def,
                    Err(e) => match super::ddl::find_sequence(
                        self.engine,
                        self.db,
                        schema.as_deref(),
                        &tname,
                    )? {
                        Some(seq) => {
                            return self.sequence_source(&seq, &alias_name, alias.as_ref())
                        }
                        None => return Err(e),
                    },
                };
                self.acl_check(&def, super::privileges::Need::Select)?;
                let mut scope = Scope::of_table(&def, &alias_name);
                apply_alias_columns(&mut scope, alias.as_ref())?;
                Ok((
                    Source::Table {
                        db: self.db,
                        def,
                        key: None,
                    },
                    scope,
                ))
            }
            ast::TableFactor::Derived { lateral: true, .. }
            | ast::TableFactor::Function { lateral: true, .. } => bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "LATERAL is not supported yet"
            ),
            ast::TableFactor::Derived {
                subquery, alias, ..
            } => {
                let saved = self.agg.take();
                let p = self.plan_query(subquery);
                self.agg = saved;
                let p = p?;
                let alias_name = alias.as_ref().map(|a| fold(&a.name));
                let mut scope = Scope {
                    cols: p
                        .fields
                        .iter()
                        .map(|fd| ScopeCol {
                            table: alias_name.clone(),
                            name: fd.name.clone(),
                            ty: DataType::from_oid(fd.type_oid).unwrap_or(DataType::Text),
                            typmod: fd.typmod,
                            table_oid: 0,
                            attnum: 0,
                            absorbed: false,
                        })
                        .collect(),
                };
                apply_alias_columns(&mut scope, alias.as_ref())?;
                Ok((Source::Subquery(Box::new(p)), scope))
            }
            ast::TableFactor::NestedJoin {
                table_with_joins, ..
            } => self.plan_from(std::slice::from_ref(table_with_joins)),
            ast::TableFactor::UNNEST {
                alias,
                array_exprs,
                with_offset: false,
                with_ordinality: false,
                ..
            } if array_exprs.len() == 1 => {
                let fa = ast::TableFunctionArgs {
                    args: vec![ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(
                        array_exprs[0].clone(),
                    ))],
                    settings: None,
                };
                let (f, cols) = super::type_funcs::srf("unnest")
                    .ok_or_else(|| Error::internal("unnest is not registered"))?;
                self.plan_type_srf(None, "unnest", f, cols, &fa, alias.as_ref())
            }
            _ => bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "this FROM item is not supported yet"
            ),
        }
    }

    /// `pg_partition_ancestors(regclass) [WITH ORDINALITY]` in FROM (psql's `\d`
    /// sends it): tusk has no partitioning, so no relation is a partition and the
    /// function lists nothing, as PostgreSQL's does for a plain table; `None` for any
    /// other function.
    fn partition_ancestors(
        &mut self,
        name: &ast::ObjectName,
        fa: &ast::TableFunctionArgs,
        with_ordinality: bool,
        alias: Option<&ast::TableAlias>,
    ) -> Result<Option<(Source, Scope)>> {
        let (_, fname) = self.split_name(name)?;
        if fname != "pg_partition_ancestors" || fa.args.len() != 1 {
            return Ok(None);
        }
        let table = alias
            .map(|a| fold(&a.name))
            .unwrap_or_else(|| fname.clone());
        let mut cols = vec![("relid", DataType::Oid)];
        if with_ordinality {
            cols.push(("ordinality", DataType::Int8));
        }
        let mut scope = Scope::named(&table, &cols);
        apply_alias_columns(&mut scope, alias)?;
        Ok(Some((Source::Values(vec![]), scope)))
    }

    /// A function in FROM: `generate_series(start, stop [, step])`.
    fn plan_table_function(
        &mut self,
        name: &ast::ObjectName,
        fa: &ast::TableFunctionArgs,
        alias: Option<&ast::TableAlias>,
    ) -> Result<(Source, Scope)> {
        let (schema, fname) = self.split_name(name)?;
        if let (Some(cols), true) = (
            super::functions::control_function(&fname),
            fa.args.is_empty(),
        ) {
            // One row, each column computed when the statement runs.
            let table = alias
                .map(|a| fold(&a.name))
                .unwrap_or_else(|| fname.clone());
            let row = cols
                .iter()
                .map(|(_, t, f)| Expr::Func(*f, vec![], *t))
                .collect();
            let mut scope = Scope {
                cols: cols
                    .iter()
                    .map(|(n, t, _)| ScopeCol {
                        table: Some(table.clone()),
                        name: n.to_string(),
                        ty: *t,
                        typmod: -1,
                        table_oid: 0,
                        attnum: 0,
                        absorbed: false,
                    })
                    .collect(),
            };
            apply_alias_columns(&mut scope, alias)?;
            return Ok((Source::Values(vec![row]), scope));
        }
        // ---- replication slots ----
        if let Some((func, cols)) = super::functions::slot_table_function(&fname) {
            let empty = Scope::default();
            let mut args = Vec::new();
            for a in &fa.args {
                match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                        args.push(e.clone())
                    }
                    _ => bail!(sqlstate::SYNTAX_ERROR, "invalid argument to {fname}"),
                }
            }
            // Bind as the scalar call (argument checks and coercions), then do the
            // work in the first column and read the slot's position in the second.
            let Expr::Func(_, bound, _) =
                self.call_builtin(&fname, &args, &empty, Self::name_span(name))?
            else {
                return Err(Error::internal("slot function binding"));
            };
            let first = bound
                .first()
                .cloned()
                .ok_or_else(|| Error::internal("slot function arity"))?;
            let row = vec![
                Expr::Func(func, bound, cols[0].1),
                Expr::Func(Func::SlotRestartLsn, vec![first], cols[1].1),
            ];
            let table = alias
                .map(|a| fold(&a.name))
                .unwrap_or_else(|| fname.clone());
            let mut scope = Scope::named(&table, &cols);
            apply_alias_columns(&mut scope, alias)?;
            return Ok((Source::Values(vec![row]), scope));
        }
        if let Some((f, cols)) = super::type_funcs::srf(&fname) {
            let r = self.plan_type_srf(schema.as_deref(), &fname, f, cols, fa, alias);
            return match r {
                Err(er) if er.code == sqlstate::UNDEFINED_FUNCTION => {
                    Err(self.at(er, Self::name_span(name)))
                }
                r => r,
            };
        }
        if let Some((matches, ty)) = super::regex_funcs::rows_function(&fname) {
            let call = super::regex_funcs::bind_rows_call(self, &fname, matches, &fa.args)?;
            let table = alias.map(|a| fold(&a.name));
            let col = table.clone().unwrap_or_else(|| fname.clone());
            let mut scope = Scope {
                cols: vec![ScopeCol {
                    table: Some(table.unwrap_or_else(|| fname.clone())),
                    name: col,
                    ty,
                    typmod: -1,
                    table_oid: 0,
                    attnum: 0,
                    absorbed: false,
                }],
            };
            apply_alias_columns(&mut scope, alias)?;
            return Ok((Source::RegexRows(call), scope));
        }
        if fname != "generate_series" || !(2..=3).contains(&fa.args.len()) {
            return Err(self.at(
                err!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "table function {fname} is not supported yet"
                ),
                Self::name_span(name),
            ));
        }
        let empty = Scope::default();
        let mut args = Vec::new();
        for a in &fa.args {
            match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                    args.push((self.bind(e, &empty)?, e.span()))
                }
                _ => bail!(
                    sqlstate::SYNTAX_ERROR,
                    "invalid argument to generate_series"
                ),
            }
        }
        let arg_types: Vec<DataType> = args.iter().map(|(a, _)| a.ty()).collect();
        // Over timestamps (tz_funcs::series_type) the step is an interval.
        let time_series = super::tz_funcs::series_type(&arg_types);
        let ty = args
            .iter()
            .map(|(a, _)| a.ty())
            .try_fold(DataType::Int4, |acc, t| match t {
                DataType::Unknown => Some(acc),
                t => arith_type(acc, t),
            })
            .filter(|t| matches!(t, DataType::Int4 | DataType::Int8 | DataType::Numeric))
            .or(time_series)
            .ok_or_else(|| {
                let shown: Vec<&str> = args.iter().map(|(a, _)| a.ty().name()).collect();
                err!(
                    sqlstate::UNDEFINED_FUNCTION,
                    "function generate_series({}) does not exist",
                    shown.join(", ")
                )
            })?;
        let mut bound = Vec::new();
        for (i, (a, span)) in args.into_iter().enumerate() {
            let want = match time_series {
                Some(_) if i == 2 => DataType::Interval,
                Some(t) => t,
                None => ty,
            };
            bound.push(self.coerce(a, want, -1, Coercion::Implicit, span)?);
        }
        let step = if bound.len() == 3 { bound.pop() } else { None };
        let stop = bound
            .pop()
            .ok_or_else(|| Error::internal("generate_series arity"))?;
        let start = bound
            .pop()
            .ok_or_else(|| Error::internal("generate_series arity"))?;
        // The column is named after the alias (`AS tid`) unless a column list names it.
        let table = alias.map(|a| fold(&a.name));
        let col = alias
            .and_then(|a| a.columns.first().map(|c| fold(&c.name)))
            .or_else(|| table.clone())
            .unwrap_or_else(|| "generate_series".to_string());
        let scope = Scope {
            cols: vec![ScopeCol {
                table: table.or(Some("generate_series".into())),
                name: col,
                ty,
                typmod: -1,
                table_oid: 0,
                attnum: 0,
                absorbed: false,
            }],
        };
        Ok((Source::Series(start, stop, step, ty), scope))
    }

    /// A set-returning function of the JSON types in FROM: its one argument bound as
    /// a constant, its columns named by the function or the alias.
    fn plan_type_srf(
        &mut self,
        schema: Option<&str>,
        fname: &str,
        f: super::type_funcs::Srf,
        cols: Vec<(&'static str, DataType)>,
        fa: &ast::TableFunctionArgs,
        alias: Option<&ast::TableAlias>,
    ) -> Result<(Source, Scope)> {
        // `json_each(from_json => …)`: a named argument put in its place.
        let by_name = named_args::in_parameter_order(fname, &fa.args)?;
        let e = match (by_name.as_deref(), fa.args.as_slice()) {
            (Some([e]), _) | (None, [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e))]) => {
                e
            }
            _ => bail!(
                sqlstate::UNDEFINED_FUNCTION,
                "function {fname} with {} arguments does not exist",
                fa.args.len()
            ),
        };
        let arg = self.bind(e, &Scope::default())?;
        // `_pg_expandarray` lives in information_schema only (off the search path).
        let expand = f == super::type_funcs::Srf::ExpandArray;
        if expand
            && (schema != Some("information_schema")
                || crate::types::array::elem_type(arg.ty()).is_none())
        {
            let shown = match schema {
                Some(s) => format!("{s}.{fname}"),
                None => fname.to_string(),
            };
            return Err(err!(
                sqlstate::UNDEFINED_FUNCTION,
                "function {shown}({}) does not exist",
                arg.ty().name()
            )
            .with_hint(
                "No function matches the given name and argument types. You might need to add explicit type casts.",
            ));
        }
        let (want, cols) = super::type_funcs::srf_shape(f, arg.ty(), cols);
        let arg = self.coerce(arg, want, -1, Coercion::Implicit, e.span())?;
        let table = alias
            .map(|a| fold(&a.name))
            .unwrap_or_else(|| fname.to_string());
        let single = cols.len() == 1;
        let mut scope = Scope {
            cols: cols
                .iter()
                .map(|(n, t)| ScopeCol {
                    table: Some(table.clone()),
                    // A one-column function is named after its alias, as PostgreSQL does.
                    name: if single && alias.is_some() {
                        table.clone()
                    } else {
                        n.to_string()
                    },
                    ty: *t,
                    typmod: -1,
                    table_oid: 0,
                    attnum: 0,
                    absorbed: false,
                })
                .collect(),
        };
        apply_alias_columns(&mut scope, alias)?;
        Ok((
            Source::Srf(super::type_funcs::SrfCall { func: f, arg }),
            scope,
        ))
    }

    fn plan_select(
        &mut self,
        s: &ast::Select,
        order_by: Option<&ast::OrderBy>,
    ) -> Result<SelectPlan> {
        if let Some((rewritten, ob)) = srf_select::rewrite_record_fields(s, order_by)? {
            return self.plan_select(&rewritten, ob.as_ref());
        }
        if let Some(rewritten) = srf_select::rewrite(s)? {
            return self.plan_select(&rewritten, order_by);
        }
        self.check_select_clauses(s)?;
        self.windows_begin(&s.named_window)?;
        let (source, scope) = self.plan_from(&s.from)?;
        self.windows_forbid("WHERE");
        let filter = match &s.selection {
            Some(w) => {
                let b = self.bind(w, &scope)?;
                Some(self.coerce_bool(b, "WHERE", w.span())?)
            }
            None => None,
        };
        let distinct = match &s.distinct {
            None => false,
            Some(ast::Distinct::Distinct) => true,
            Some(ast::Distinct::On(_)) => false,
        };
        let distinct_on = match &s.distinct {
            Some(ast::Distinct::On(on)) => Some(on.as_slice()),
            _ => None,
        };
        let mut on_keys: Vec<usize> = Vec::new();
        // Expand the select list to (ast expr or column index, name).
        enum Item<'e> {
            Ast(&'e ast::Expr, String),
            Col(usize),
        }
        let mut items = Vec::new();
        for it in &s.projection {
            match it {
                ast::SelectItem::UnnamedExpr(e) => items.push(Item::Ast(e, figure_colname(e))),
                ast::SelectItem::ExprWithAlias { expr, alias } => {
                    items.push(Item::Ast(expr, fold(alias)))
                }
                ast::SelectItem::Wildcard(_) => {
                    if scope.cols.is_empty() {
                        bail!(
                            sqlstate::SYNTAX_ERROR,
                            "SELECT * with no tables specified is not valid"
                        );
                    }
                    for (i, c) in scope.cols.iter().enumerate() {
                        if !c.absorbed {
                            items.push(Item::Col(i));
                        }
                    }
                }
                ast::SelectItem::QualifiedWildcard(kind, _) => {
                    let t = match kind {
                        ast::SelectItemQualifiedWildcardKind::ObjectName(n) => {
                            self.split_name(n)?.1
                        }
                        _ => bail!(sqlstate::SYNTAX_ERROR, "invalid qualified wildcard"),
                    };
                    let mut any = false;
                    for (i, c) in scope.cols.iter().enumerate() {
                        if c.table.as_deref() == Some(t.as_str()) && !c.is_system() {
                            items.push(Item::Col(i));
                            any = true;
                        }
                    }
                    if !any {
                        bail!(
                            sqlstate::UNDEFINED_TABLE,
                            "missing FROM-clause entry for table \"{t}\""
                        );
                    }
                }
            }
        }
        // Aggregation?
        let group_exprs: Vec<ast::Expr> = match &s.group_by {
            ast::GroupByExpr::Expressions(v, m) if m.is_empty() => v.clone(),
            ast::GroupByExpr::Expressions(..) => bail!(
                sqlstate::SYNTAX_ERROR,
                "syntax error: this GROUP BY modifier is not PostgreSQL's"
            ),
            ast::GroupByExpr::All(_) => bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "GROUP BY ALL is not supported"
            ),
        };
        let has_aggs = items
            .iter()
            .any(|i| matches!(i, Item::Ast(e, _) if contains_aggregate(e)))
            || s.having.is_some()
            || order_by.is_some_and(|ob| match &ob.kind {
                ast::OrderByKind::Expressions(v) => v.iter().any(|o| contains_aggregate(&o.expr)),
                _ => false,
            });
        let grouped = has_aggs || !group_exprs.is_empty();
        let mut group = None;
        if grouped {
            // GROUP BY n refers to select items.
            let mut keys_ast = Vec::new();
            for g in &group_exprs {
                if let ast::Expr::Value(v) = g {
                    if let ast::Value::Number(n, _) = &v.value {
                        let pos: usize = n.parse().unwrap_or(0);
                        match items.get(pos.wrapping_sub(1)) {
                            Some(Item::Ast(e, _)) => {
                                keys_ast.push((*e).clone());
                                continue;
                            }
                            _ => bail!(
                                sqlstate::INVALID_COLUMN_REFERENCE,
                                "GROUP BY position {n} is not in select list"
                            ),
                        }
                    }
                }
                keys_ast.push(g.clone());
            }
            self.windows_forbid("GROUP BY");
            let mut keys = Vec::new();
            for k in &keys_ast {
                keys.push(self.bind(k, &scope)?);
            }
            self.agg = Some(AggState {
                keys: keys_ast,
                key_types: keys.iter().map(|k| k.ty()).collect(),
                aggs: vec![],
                input: scope.clone(),
            });
            group = Some(GroupPlan {
                keys,
                aggs: vec![],
                having: None,
            });
        }
        let result = (|| -> Result<SelectPlan> {
            self.windows_allow();
            let mut exprs = Vec::new();
            let mut fields = Vec::new();
            for it in &items {
                match it {
                    Item::Ast(e, name) => {
                        let mut b = self.bind(e, &scope)?;
                        if b.ty() == DataType::Unknown {
                            b = self.coerce(b, DataType::Text, -1, Coercion::Implicit, e.span())?;
                        }
                        let (toid, att, tm) = match (&b, self.agg.is_none()) {
                            (Expr::Column(i, _), true) if *i < scope.cols.len() => {
                                let c = &scope.cols[*i];
                                (c.table_oid, c.attnum, c.typmod)
                            }
                            _ => (0, 0, b.typmod()),
                        };
                        fields.push(field(name, b.ty(), tm, toid, att));
                        exprs.push(b);
                    }
                    Item::Col(i) => {
                        let c = &scope.cols[*i];
                        self.acl.read(c.table_oid, c.attnum);
                        if self.agg.is_some() {
                            let e = ast::Expr::Identifier(ast::Ident::new(c.name.clone()));
                            exprs.push(self.bind(&e, &scope)?);
                        } else {
                            exprs.push(Expr::Column(*i, c.ty));
                        }
                        fields.push(field(&c.name, c.ty, c.typmod, c.table_oid, c.attnum));
                    }
                }
            }
            let visible = exprs.len();
            let mut order = Vec::new();
            if let Some(ob) = order_by {
                let ast::OrderByKind::Expressions(obs) = &ob.kind else {
                    bail!(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "ORDER BY ALL is not supported"
                    );
                };
                for o in obs {
                    let idx = self.order_target(&o.expr, &scope, &fields, &mut exprs)?;
                    let desc = o.options.asc == Some(false);
                    order.push((idx, desc, o.options.nulls_first.unwrap_or(desc)));
                }
            }
            if let Some(on) = distinct_on {
                on_keys = self.distinct_on_keys(on, &scope, &fields, &mut exprs, &mut order)?;
            }
            if distinct && order.iter().any(|(i, _, _)| *i >= visible) {
                bail!(
                    sqlstate::INVALID_COLUMN_REFERENCE,
                    "for SELECT DISTINCT, ORDER BY expressions must appear in select list"
                );
            }
            self.windows_forbid("HAVING");
            let having = match &s.having {
                Some(h) => {
                    let b = self.bind(h, &scope)?;
                    Some(self.coerce_bool(b, "HAVING", h.span())?)
                }
                None => None,
            };
            Ok(SelectPlan {
                source: Source::Single,
                filter: None,
                group: None,
                exprs,
                visible,
                fields,
                order,
                distinct,
                limit: None,
                offset: None,
                lock: None,
            }
            .with_having(having))
        })();
        let agg_state = self.agg.take();
        let (mut plan, having) = {
            let mut p = result?;
            let h = p.filter.take();
            (p, h)
        };
        if let (Some(g), Some(st)) = (group.as_mut(), agg_state) {
            g.aggs = st.aggs;
            g.having = having;
        }
        let (source, filter) = super::join::push_down_where(source, filter, scope.cols.len());
        plan.source = match source {
            Source::Table { db, def, .. } => {
                let key = pk_key_exprs(&def, filter.as_ref());
                Source::Table { db, def, key }
            }
            other => other,
        };
        plan.filter = filter;
        plan.group = group;
        let plan = self.windows_finish(plan, &scope)?;
        Ok(clauses::distinct_on(plan, on_keys))
    }

    // ---- DML -----------------------------------------------------------------------

    fn returning(
        &mut self,
        items: Option<&Vec<ast::SelectItem>>,
        def: &TableDef,
    ) -> Result<Option<Returning>> {
        let scope = Scope::of_table(def, &def.name);
        self.returning_over(items, def, &scope)
    }

    /// RETURNING over `scope`: the target table's row (columns `0..` of `def`) and, for
    /// `UPDATE … FROM` / `DELETE … USING`, the other items' row after it.
    fn returning_over(
        &mut self,
        items: Option<&Vec<ast::SelectItem>>,
        def: &TableDef,
        scope: &Scope,
    ) -> Result<Option<Returning>> {
        let Some(items) = items else { return Ok(None) };
        let tw = def.columns.len();
        let mut exprs = Vec::new();
        let mut fields = Vec::new();
        // A column a `*` lists is read (column privileges).
        let mut read: Vec<(u32, i16)> = Vec::new();
        let mut push_col = |i: usize, exprs: &mut Vec<Expr>, fields: &mut Vec<FieldDesc>| {
            let c = &scope.cols[i];
            if c.table_oid != 0 {
                read.push((c.table_oid, c.attnum));
            }
            exprs.push(Expr::Column(i, c.ty));
            fields.push(field(&c.name, c.ty, c.typmod, c.table_oid, c.attnum));
        };
        for it in items {
            match it {
                ast::SelectItem::UnnamedExpr(e)
                | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
                    let name = match it {
                        ast::SelectItem::ExprWithAlias { alias, .. } => fold(alias),
                        _ => figure_colname(e),
                    };
                    let mut b = self.bind(e, scope)?;
                    if b.ty() == DataType::Unknown {
                        b = self.coerce(b, DataType::Text, -1, Coercion::Implicit, e.span())?;
                    }
                    let (toid, att, tm) = match &b {
                        Expr::Column(i, _) if *i < tw => {
                            (def.oid, (*i + 1) as i16, def.columns[*i].typmod)
                        }
                        Expr::Column(i, _) => {
                            let c = &scope.cols[*i];
                            (c.table_oid, c.attnum, c.typmod)
                        }
                        _ => (0, 0, b.typmod()),
                    };
                    fields.push(field(&name, b.ty(), tm, toid, att));
                    exprs.push(b);
                }
                ast::SelectItem::QualifiedWildcard(kind, _) => {
                    let t = match kind {
                        ast::SelectItemQualifiedWildcardKind::ObjectName(n) => {
                            self.split_name(n)?.1
                        }
                        _ => bail!(sqlstate::SYNTAX_ERROR, "invalid qualified wildcard"),
                    };
                    let cols: Vec<usize> = (0..scope.cols.len())
                        .filter(|&i| {
                            scope.cols[i].table.as_deref() == Some(t.as_str())
                                && !scope.cols[i].is_system()
                        })
                        .collect();
                    if cols.is_empty() {
                        bail!(
                            sqlstate::UNDEFINED_TABLE,
                            "missing FROM-clause entry for table \"{t}\""
                        );
                    }
                    for i in cols {
                        push_col(i, &mut exprs, &mut fields);
                    }
                }
                ast::SelectItem::Wildcard(_) => {
                    for i in 0..scope.cols.len() {
                        if !scope.cols[i].absorbed {
                            push_col(i, &mut exprs, &mut fields);
                        }
                    }
                }
            }
        }
        for (t, a) in read {
            self.acl.read(t, a);
        }
        Ok(Some(Returning { exprs, fields }))
    }

    /// The bound DEFAULT of a column (NULL if none), coerced to the column type.
    pub fn default_expr(&mut self, c: &ColumnDef) -> Result<Expr> {
        match &c.default {
            None => Ok(Expr::Const(Value::Null, c.data_type)),
            Some(text) => {
                let e = crate::sql::depth::parse_stored(text, |p| p.parse_expr())
                    .map_err(|e| err!(sqlstate::INTERNAL_ERROR, "invalid stored default: {e}"))?;
                let mut inner = Binder::new(self.engine, self.db, text, 0, vec![]);
                let b = inner.bind(&e, &Scope::default())?;
                inner.coerce(
                    b,
                    c.data_type,
                    c.typmod,
                    Coercion::Assignment,
                    sqlparser::tokenizer::Span::empty(),
                )
            }
        }
    }

    fn assign(&mut self, e: Expr, c: &ColumnDef, span: sqlparser::tokenizer::Span) -> Result<Expr> {
        let from = e.ty();
        self.coerce(e, c.data_type, c.typmod, Coercion::Assignment, span)
            .map_err(|err| {
                if err.code == sqlstate::CANNOT_COERCE {
                    self.at(
                        err!(
                            sqlstate::DATATYPE_MISMATCH,
                            "column \"{}\" is of type {} but expression is of type {}",
                            c.name,
                            c.data_type.name(),
                            from.name()
                        )
                        .with_hint("You will need to rewrite or cast the expression."),
                        span,
                    )
                } else {
                    err
                }
            })
    }

    fn plan_insert(&mut self, ins: &ast::Insert) -> Result<Plan> {
        let ast::TableObject::TableName(name) = &ins.table else {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "INSERT INTO TABLE FUNCTION is not supported"
            );
        };
        let overriding = overriding_of(ins)?;
        // OVERRIDING SYSTEM VALUE lets explicit values into GENERATED ALWAYS columns.
        let check_identity = |b: &Self, def: &TableDef, t: usize| -> Result<()> {
            super::ddl::check_generated_write(def, t, true)?;
            if overriding == Some(super::pg_clauses::Overriding::System) {
                return Ok(());
            }
            super::ddl::check_identity_insert(b.engine, b.db, def, t)
        };
        // OVERRIDING USER VALUE: identity columns keep their defaults.
        let user_ignored = |b: &Self, def: &TableDef, t: usize| {
            overriding == Some(super::pg_clauses::Overriding::User)
                && super::ddl::identity_of(b.engine, b.db, def.oid, t) != 0
        };
        let def = self.resolve_table(name)?;
        self.acl_check(&def, super::privileges::Need::Insert(ins))?;
        let mut targets = Vec::new();
        if ins.columns.is_empty() {
            targets.extend(def.live_columns());
        } else {
            for c in &ins.columns {
                let n = fold(c);
                let idx = def
                    .columns
                    .iter()
                    .position(|x| x.name == n)
                    .ok_or_else(|| {
                        self.at(
                            err!(
                                sqlstate::UNDEFINED_COLUMN,
                                "column \"{n}\" of relation \"{}\" does not exist",
                                def.name
                            ),
                            c.span,
                        )
                    })?;
                if targets.contains(&idx) {
                    return Err(self.at(
                        err!(
                            sqlstate::DUPLICATE_COLUMN,
                            "column \"{n}\" specified more than once"
                        ),
                        c.span,
                    ));
                }
                targets.push(idx);
            }
        }
        let mut defaults = Vec::new();
        for c in &def.columns {
            defaults.push(self.default_expr(c)?);
        }
        let mut rows = Vec::new();
        let mut query = None;
        // INSERT … DEFAULT VALUES: one row of defaults.
        let default_values = ast::Query {
            with: None,
            body: Box::new(ast::SetExpr::Values(ast::Values {
                explicit_row: false,
                rows: vec![vec![]],
            })),
            order_by: None,
            limit_clause: None,
            fetch: None,
            locks: vec![],
            for_clause: None,
            settings: None,
            format_clause: None,
            pipe_operators: vec![],
        };
        let source = match ins.source.as_ref() {
            Some(q) => q,
            None if ins.columns.is_empty() => &default_values,
            None => bail!(
                sqlstate::SYNTAX_ERROR,
                "syntax error at or near \"DEFAULT\""
            ),
        };
        match (
            source.body.as_ref(),
            source.order_by.is_none() && source.limit_clause.is_none(),
        ) {
            (ast::SetExpr::Values(v), true) => {
                for r in &v.rows {
                    if r.len() > targets.len() {
                        let span = r[targets.len()].span();
                        return Err(self.at(
                            err!(
                                sqlstate::SYNTAX_ERROR,
                                "INSERT has more expressions than target columns"
                            ),
                            span,
                        ));
                    }
                    if r.len() < targets.len() && !ins.columns.is_empty() {
                        let span = ins.columns[r.len()].span;
                        return Err(self.at(
                            err!(
                                sqlstate::SYNTAX_ERROR,
                                "INSERT has more target columns than expressions"
                            ),
                            span,
                        ));
                    }
                    let mut full = defaults.clone();
                    for (e, &t) in r.iter().zip(&targets) {
                        if is_default_keyword(e) || user_ignored(self, &def, t) {
                            continue;
                        }
                        check_identity(self, &def, t)?;
                        let b = self.bind(e, &Scope::default())?;
                        full[t] = self.assign(b, &def.columns[t], e.span())?;
                    }
                    rows.push(full);
                }
            }
            _ => {
                let q = self.plan_query(source)?;
                if q.visible > targets.len() {
                    bail!(
                        sqlstate::SYNTAX_ERROR,
                        "INSERT has more expressions than target columns"
                    );
                }
                let mut full = defaults.clone();
                for (i, f) in q.fields.iter().enumerate() {
                    let t = targets[i];
                    if user_ignored(self, &def, t) {
                        continue;
                    }
                    check_identity(self, &def, t)?;
                    let ty = DataType::from_oid(f.type_oid).unwrap_or(DataType::Text);
                    full[t] = self.assign(
                        Expr::Column(i, ty),
                        &def.columns[t],
                        sqlparser::tokenizer::Span::empty(),
                    )?;
                }
                // Columns past the query's width keep their defaults, evaluated per row.
                query = Some((Box::new(q), full));
            }
        }
        let returning = self.returning(ins.returning.as_ref(), &def)?;
        let (on_conflict, arbiter) = match &ins.on {
            None => (None, None),
            Some(ast::OnInsert::OnConflict(oc)) => {
                let alias = ins.table_alias.as_ref().map(fold);
                let (plan, arbiter) = self.plan_on_conflict(oc, &def, alias)?;
                (Some(plan), arbiter)
            }
            Some(_) => bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "ON DUPLICATE KEY UPDATE is not supported"
            ),
        };
        Ok(Plan::Insert(InsertPlan {
            db: self.db,
            table: def,
            rows,
            query,
            returning,
            on_conflict,
            arbiter,
        }))
    }

    /// The unique index an inference specification with expressions or a predicate
    /// names (see `sql::pg_clauses`): one whose keys are, in any order, the listed
    /// columns and expressions, and whose predicate (if it is partial) is the one
    /// given — a non-partial index serves any predicate.
    fn infer_arbiter(
        &mut self,
        def: &TableDef,
        elements: &str,
        predicate: Option<&str>,
    ) -> Result<Arbiter> {
        let parse_err = |e: sqlparser::parser::ParserError| {
            err!(sqlstate::SYNTAX_ERROR, "syntax error in ON CONFLICT: {e}")
        };
        let scope = Scope::of_table(def, &def.name);
        let list = crate::sql::depth::parse_stored(elements, |p| {
            p.parse_comma_separated(|p| p.parse_expr())
        })
        .map_err(parse_err)?;
        let mut wanted = Vec::new();
        for e in &list {
            wanted.push(format!("{:?}", self.bind(e, &scope)?));
        }
        wanted.sort();
        let pred = match predicate {
            None => None,
            Some(t) => {
                let e =
                    crate::sql::depth::parse_stored(t, |p| p.parse_expr()).map_err(parse_err)?;
                Some(format!("{:?}", self.bind(&e, &scope)?))
            }
        };
        // A key as the target's elements bind: a column, or the hidden column's
        // expression.
        let engine = self.engine;
        let key_form = |pos: usize| -> Result<String> {
            match &def.columns[pos].generated {
                Some(text) if def.is_hidden_key(pos) => Ok(format!(
                    "{:?}",
                    super::generated::bind_raw(engine, self.db, def, text)?
                )),
                _ => Ok(format!(
                    "{:?}",
                    Expr::Column(pos, def.columns[pos].data_type)
                )),
            }
        };
        let mut candidates: Vec<Arbiter> = Vec::new();
        if let Some(pk) = &def.primary_key {
            candidates.push(Arbiter {
                name: def.pkey_name.clone(),
                columns: pk.clone(),
                index: None,
            });
        }
        for i in def.indexes.iter().filter(|i| i.unique) {
            let covers = match (i.predicate, &pred) {
                (None, _) => true,
                (Some(p), Some(want)) => &key_form(p)? == want,
                (Some(_), None) => false,
            };
            if covers {
                candidates.push(Arbiter {
                    name: i.name.clone(),
                    columns: i.columns.clone(),
                    index: Some(i.oid),
                });
            }
        }
        for a in candidates {
            let mut have = Vec::new();
            for &c in &a.columns {
                have.push(key_form(c)?);
            }
            have.sort();
            if have == wanted {
                return Ok(a);
            }
        }
        Err(err!(
            sqlstate::INVALID_COLUMN_REFERENCE,
            "there is no unique or exclusion constraint matching the ON CONFLICT specification"
        ))
    }

    /// ON CONFLICT: the target must be the primary key or a unique index (by its
    /// columns), or a constraint by name; returns the action and the arbiter index.
    fn plan_on_conflict(
        &mut self,
        oc: &ast::OnConflict,
        def: &TableDef,
        alias: Option<String>,
    ) -> Result<(OnConflictPlan, Option<Arbiter>)> {
        let pk_arbiter = |def: &TableDef| {
            def.primary_key.as_ref().map(|pk| Arbiter {
                name: def.pkey_name.clone(),
                columns: pk.clone(),
                index: None,
            })
        };
        let no_match = || {
            err!(
                sqlstate::INVALID_COLUMN_REFERENCE,
                "there is no unique or exclusion constraint matching the ON CONFLICT specification"
            )
        };
        let arbiter = match &oc.conflict_target {
            None => {
                if matches!(oc.action, ast::OnConflictAction::DoUpdate(_)) {
                    return Err(err!(
                        sqlstate::SYNTAX_ERROR,
                        "ON CONFLICT DO UPDATE requires inference specification or constraint name"
                    )
                    .with_hint("For example, ON CONFLICT (column_name)."));
                }
                None
            }
            Some(ast::ConflictTarget::Columns(cols)) if conflict_target_of(cols).is_some() => {
                let (elements, predicate) = conflict_target_of(cols).unwrap_or_default();
                Some(self.infer_arbiter(def, &elements, predicate.as_deref())?)
            }
            Some(ast::ConflictTarget::Columns(cols)) => {
                let mut idxs: Vec<usize> = Vec::new();
                for c in cols {
                    let n = fold(c);
                    let i = def
                        .columns
                        .iter()
                        .position(|x| x.name == n)
                        .ok_or_else(|| {
                            self.at(
                                err!(sqlstate::UNDEFINED_COLUMN, "column \"{n}\" does not exist"),
                                c.span,
                            )
                        })?;
                    idxs.push(i);
                }
                idxs.sort_unstable();
                idxs.dedup();
                let same = |cols: &[usize]| {
                    let mut c = cols.to_vec();
                    c.sort_unstable();
                    c == idxs
                };
                Some(
                    pk_arbiter(def)
                        .filter(|a| same(&a.columns))
                        .or_else(|| {
                            def.indexes
                                .iter()
                                .find(|i| i.unique && i.predicate.is_none() && same(&i.columns))
                                .map(|i| Arbiter {
                                    name: i.name.clone(),
                                    columns: i.columns.clone(),
                                    index: Some(i.oid),
                                })
                        })
                        .ok_or_else(no_match)?,
                )
            }
            Some(ast::ConflictTarget::OnConstraint(n)) => {
                let (_, cname) = self.split_name(n)?;
                let found = pk_arbiter(def).filter(|a| a.name == cname).or_else(|| {
                    def.indexes
                        .iter()
                        .find(|i| i.constraint && i.name == cname)
                        .map(|i| Arbiter {
                            name: i.name.clone(),
                            columns: i.columns.clone(),
                            index: Some(i.oid),
                        })
                });
                let Some(a) = found else {
                    bail!(
                        sqlstate::UNDEFINED_OBJECT,
                        "constraint \"{cname}\" for table \"{}\" does not exist",
                        def.name
                    );
                };
                Some(a)
            }
        };
        let ast::OnConflictAction::DoUpdate(du) = &oc.action else {
            return Ok((OnConflictPlan::Nothing, arbiter));
        };
        // The row being updated, then `excluded` (the row proposed for insertion).
        let mut scope = Scope::of_table(def, alias.as_deref().unwrap_or(&def.name));
        scope.cols.extend(Scope::of_table(def, "excluded").cols);
        let sets = self.bind_assignments(def, &du.assignments, &scope)?;
        let filter = match &du.selection {
            Some(w) => {
                let b = self.bind(w, &scope)?;
                Some(self.coerce_bool(b, "WHERE", w.span())?)
            }
            None => None,
        };
        Ok((OnConflictPlan::Update { sets, filter }, arbiter))
    }

    /// Binds `SET col = expr` assignments (UPDATE and ON CONFLICT DO UPDATE) against
    /// `def`, with DEFAULT and PostgreSQL's assignment coercion.
    fn bind_assignments(
        &mut self,
        def: &TableDef,
        assignments: &[ast::Assignment],
        scope: &Scope,
    ) -> Result<Vec<(usize, Expr)>> {
        let mut sets = Vec::new();
        for a in assignments {
            let ast::AssignmentTarget::ColumnName(cn) = &a.target else {
                bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "multiple-column UPDATE is not supported yet"
                );
            };
            let (_, col) = self.split_name(cn)?;
            let idx = def
                .columns
                .iter()
                .position(|c| c.name == col)
                .ok_or_else(|| {
                    self.at(
                        err!(
                            sqlstate::UNDEFINED_COLUMN,
                            "column \"{col}\" of relation \"{}\" does not exist",
                            def.name
                        ),
                        Self::name_span(cn),
                    )
                })?;
            let e = if is_default_keyword(&a.value) {
                self.default_expr(&def.columns[idx])?
            } else {
                super::ddl::check_generated_write(def, idx, false)?;
                super::ddl::check_identity_update(self.engine, self.db, def, idx)?;
                let b = self.bind(&a.value, scope)?;
                self.assign(b, &def.columns[idx], a.value.span())?
            };
            sets.push((idx, e));
        }
        Ok(sets)
    }

    /// The scope of a DML target (its alias or name) followed by the other FROM items
    /// of `UPDATE … FROM` / `DELETE … USING`, planned as a SELECT's FROM.
    fn dml_scope(
        &mut self,
        def: &TableDef,
        alias: Option<&ast::TableAlias>,
        from: Option<&[ast::TableWithJoins]>,
    ) -> Result<(Scope, Option<FromItems>)> {
        let alias_name = alias
            .map(|a| fold(&a.name))
            .unwrap_or_else(|| def.name.clone());
        let mut scope = Scope::of_table(def, &alias_name);
        let Some(from) = from.filter(|f| !f.is_empty()) else {
            return Ok((scope, None));
        };
        let (source, more) = self.plan_from(from)?;
        if let Some(c) = more
            .cols
            .iter()
            .find(|c| c.table.as_deref() == Some(&alias_name))
        {
            bail!(
                "42712",
                "table name \"{}\" specified more than once",
                c.table.as_deref().unwrap_or_default()
            );
        }
        scope.cols.extend(more.cols);
        Ok((scope, Some(FromItems { source })))
    }

    fn plan_update(
        &mut self,
        table: &ast::TableWithJoins,
        assignments: &[ast::Assignment],
        from: Option<&[ast::TableWithJoins]>,
        selection: Option<&ast::Expr>,
        returning: Option<&Vec<ast::SelectItem>>,
    ) -> Result<Plan> {
        let ast::TableFactor::Table { name, alias, .. } = &table.relation else {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "UPDATE target must be a table"
            );
        };
        let def = self.resolve_table(name)?;
        self.acl_check(
            &def,
            super::privileges::Need::Update(
                assignments,
                selection.is_some() || returning.is_some(),
            ),
        )?;
        let (scope, from) = self.dml_scope(&def, alias.as_ref(), from)?;
        let sets = self.bind_assignments(&def, assignments, &scope)?;
        let filter = match selection {
            Some(w) => {
                let b = self.bind(w, &scope)?;
                Some(self.coerce_bool(b, "WHERE", w.span())?)
            }
            None => None,
        };
        let returning = self.returning_over(returning, &def, &scope)?;
        Ok(Plan::Update(UpdatePlan {
            db: self.db,
            key: pk_key_exprs(&def, filter.as_ref()),
            table: def,
            filter,
            sets,
            returning,
            from,
        }))
    }

    fn plan_delete(&mut self, d: &ast::Delete) -> Result<Plan> {
        let from = match &d.from {
            ast::FromTable::WithFromKeyword(v) | ast::FromTable::WithoutKeyword(v) => v,
        };
        if from.len() != 1 || !from[0].joins.is_empty() || !d.tables.is_empty() {
            bail!(
                sqlstate::SYNTAX_ERROR,
                "syntax error: DELETE names one table (other tables go in USING)"
            );
        }
        let ast::TableFactor::Table { name, alias, .. } = &from[0].relation else {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "DELETE target must be a table"
            );
        };
        let def = self.resolve_table(name)?;
        self.acl_check(
            &def,
            super::privileges::Need::Delete(d.selection.is_some() || d.returning.is_some()),
        )?;
        let (scope, using) = self.dml_scope(&def, alias.as_ref(), d.using.as_deref())?;
        let filter = match &d.selection {
            Some(w) => {
                let b = self.bind(w, &scope)?;
                Some(self.coerce_bool(b, "WHERE", w.span())?)
            }
            None => None,
        };
        let returning = self.returning_over(d.returning.as_ref(), &def, &scope)?;
        Ok(Plan::Delete(DeletePlan {
            db: self.db,
            key: pk_key_exprs(&def, filter.as_ref()),
            table: def,
            filter,
            returning,
            from: using,
        }))
    }

    fn plan_create_table(&mut self, ct: &ast::CreateTable) -> Result<Plan> {
        super::reloptions::check_create_table(ct)?;
        if ct.query.is_some() {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "CREATE TABLE AS is not supported yet"
            );
        }
        let (schema, name) = self.split_name(&ct.name)?;
        let on_commit = super::temp::on_commit(ct.on_commit.as_ref(), ct.temporary)?;
        let schema_oid = super::temp::create_schema(self.engine, schema.as_deref(), ct.temporary)
            .map_err(|e| self.at(e, Self::name_span(&ct.name)))?;
        let mut columns: Vec<ColumnDef> = Vec::new();
        let mut pk: Option<(Vec<usize>, Option<String>)> = None;
        let mut uniques: Vec<(Vec<usize>, Option<String>)> = Vec::new();
        let mut extras = super::ddl::TableExtras::default();
        let multiple_pk = |name: &str| {
            err!(
                sqlstate::INVALID_TABLE_DEFINITION,
                "multiple primary keys for table \"{name}\" are not allowed"
            )
        };
        // `GENERATED ALWAYS AS (expr) STORED`: (column, expression), checked once every
        // column is known.
        let mut generation: Vec<(usize, ast::Expr)> = Vec::new();
        for (i, c) in ct.columns.iter().enumerate() {
            let cname = fold(&c.name);
            if columns.iter().any(|x| x.name == cname) {
                bail!(
                    sqlstate::DUPLICATE_COLUMN,
                    "column \"{cname}\" specified more than once"
                );
            }
            let serial = super::ddl::serial_type(&c.data_type);
            let (ty, typmod) = match serial {
                Some(t) => (t, -1),
                None => convert_type(&c.data_type)?,
            };
            if let Some(t) = serial {
                extras.serial(i, t);
            }
            let mut col = ColumnDef {
                name: cname,
                data_type: ty,
                typmod,
                not_null: false,
                default: None,
                dropped: false,
                generated: None,
            };
            for o in &c.options {
                if let Some(e) = super::generated::stored_generation(&o.option)? {
                    generation.push((i, e));
                    continue;
                }
                if extras.column_option(i, &col.name, ty, o)? {
                    continue;
                }
                match &o.option {
                    ast::ColumnOption::NotNull => col.not_null = true,
                    ast::ColumnOption::Null => {}
                    ast::ColumnOption::Default(e) => {
                        // Check it binds and coerces now, as PostgreSQL does.
                        let b = self.bind(e, &Scope::default())?;
                        self.coerce(b, ty, typmod, Coercion::Assignment, e.span())?;
                        col.default = Some(e.to_string());
                    }
                    ast::ColumnOption::Unique {
                        is_primary: true, ..
                    } => {
                        if pk.is_some() {
                            return Err(multiple_pk(&name));
                        }
                        pk = Some((vec![i], o.name.as_ref().map(fold)));
                        col.not_null = true;
                    }
                    ast::ColumnOption::Unique {
                        is_primary: false, ..
                    } => uniques.push((vec![i], o.name.as_ref().map(fold))),
                    other => bail!(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "column constraint {} is not supported yet",
                        other
                    ),
                }
            }
            columns.push(col);
        }
        self.generation_exprs(&name, &mut columns, &generation, &extras)?;
        for tc in &ct.constraints {
            if extras.table_constraint(tc)? {
                continue;
            }
            match tc {
                ast::TableConstraint::PrimaryKey {
                    name: cn,
                    columns: cols,
                    ..
                } => {
                    if pk.is_some() {
                        return Err(multiple_pk(&name));
                    }
                    let mut idxs = Vec::new();
                    for ic in cols {
                        let cname = match &ic.column.expr {
                            ast::Expr::Identifier(id) => fold(id),
                            other => bail!(
                                sqlstate::SYNTAX_ERROR,
                                "syntax error at or near \"{other}\""
                            ),
                        };
                        let idx =
                            columns
                                .iter()
                                .position(|c| c.name == cname)
                                .ok_or_else(|| {
                                    err!(
                                        sqlstate::UNDEFINED_COLUMN,
                                        "column \"{cname}\" named in key does not exist"
                                    )
                                })?;
                        columns[idx].not_null = true;
                        idxs.push(idx);
                    }
                    pk = Some((idxs, cn.as_ref().map(fold)));
                }
                ast::TableConstraint::Unique {
                    name: cn,
                    columns: cols,
                    ..
                } => uniques.push((index_columns(&columns, cols, true)?, cn.as_ref().map(fold))),
                other => bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "table constraint {} is not supported yet",
                    other
                ),
            }
        }
        let pkey_name = pk
            .as_ref()
            .and_then(|(_, n)| n.clone())
            .unwrap_or_else(|| format!("{name}_pkey"));
        // As PostgreSQL, a UNIQUE constraint repeating the primary key or an earlier
        // one gets no index of its own; names are chosen at execution when not given.
        let mut indexes: Vec<IndexDef> = Vec::new();
        for (cols, cname) in uniques {
            let dup = pk.as_ref().is_some_and(|(p, _)| *p == cols)
                || indexes.iter().any(|i| i.columns == cols);
            if dup {
                continue;
            }
            indexes.push(IndexDef {
                oid: 0,
                name: cname.unwrap_or_default(),
                columns: cols,
                unique: true,
                constraint: true,
                predicate: None,
                options: vec![],
            });
        }
        Ok(Plan::CreateTable(CreateTablePlan {
            def: TableDef {
                oid: 0,
                schema: schema_oid,
                name,
                owner: 0,
                columns,
                primary_key: pk.map(|(c, _)| c),
                pkey_name,
                indexes,
            },
            if_not_exists: ct.if_not_exists,
            ddl: extras,
            on_commit,
        }))
    }

    fn plan_create_index(&mut self, ci: &ast::CreateIndex) -> Result<Plan> {
        let unsupported = |what: &str| {
            err!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "{what} is not supported yet"
            )
        };
        if !ci.include.is_empty() {
            return Err(unsupported("INCLUDE"));
        }
        if let Some(u) = &ci.using {
            // A hash index answers the same equality lookups: tusk keeps a B-tree.
            let m = u.to_string().to_lowercase();
            if m == "hash" && ci.unique {
                bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "access method \"hash\" does not support unique indexes"
                );
            }
            if m != "btree" && m != "hash" {
                bail!(
                    sqlstate::UNDEFINED_OBJECT,
                    "access method \"{m}\" does not exist"
                );
            }
        }
        let table = self.resolve_table(&ci.table_name)?;
        let scope = Scope::of_table(&table, &table.name);
        let mut keys = Vec::new();
        let mut name_parts = Vec::new();
        let mut options: Vec<i16> = ci
            .columns
            .iter()
            .map(|ic| {
                let o = &ic.column.options;
                let desc = o.asc == Some(false);
                // DESC puts NULLs first unless told otherwise, as PostgreSQL.
                let nulls_first = o.nulls_first.unwrap_or(desc);
                i16::from(desc) | i16::from(nulls_first) << 1
            })
            .collect();
        if options.iter().all(|o| *o == 0) {
            options.clear();
        }
        for ic in &ci.columns {
            let mut e = &ic.column.expr;
            while let ast::Expr::Nested(inner) = e {
                e = inner;
            }
            if let ast::Expr::Identifier(_) = e {
                let pos = index_columns(&table.columns, std::slice::from_ref(ic), false)?[0];
                keys.push(IndexKey::Column(pos));
                name_parts.push(table.columns[pos].name.clone());
                continue;
            }
            let bound = self.bind_index_expr(e, &scope, "index expressions")?;
            super::generated::check_index_expr(&bound, "index expression")?;
            name_parts.push(super::generated::figure_name(e));
            keys.push(IndexKey::Expr(e.to_string(), bound.ty()));
        }
        let predicate = match &ci.predicate {
            None => None,
            Some(p) => {
                let bound = self.bind_index_expr(p, &scope, "index predicates")?;
                self.coerce_bool(bound.clone(), "WHERE", p.span())?;
                super::generated::check_index_expr(&bound, "index predicate")?;
                Some(p.to_string())
            }
        };
        let name = match &ci.name {
            None => None,
            Some(n) => {
                let (schema, iname) = self.split_name(n)?;
                if let Some(s) = schema {
                    let ts = self
                        .engine
                        .with_catalog(|c| c.schemas.get(&table.schema).map(|(n, _)| n.clone()));
                    if ts.as_deref() != Some(s.as_str()) {
                        bail!(
                            sqlstate::INVALID_TABLE_DEFINITION,
                            "cannot create index in a different schema than its table"
                        );
                    }
                }
                Some(iname)
            }
        };
        Ok(Plan::CreateIndex(CreateIndexPlan {
            db: self.db,
            table,
            name,
            keys,
            name_parts,
            predicate,
            options,
            unique: ci.unique,
            if_not_exists: ci.if_not_exists,
        }))
    }

    /// Checks the stored generated columns' expressions of a table being defined (with
    /// PostgreSQL's errors) and records them on their columns.
    pub(super) fn generation_exprs(
        &mut self,
        table: &str,
        columns: &mut [ColumnDef],
        generation: &[(usize, ast::Expr)],
        extras: &super::ddl::TableExtras,
    ) -> Result<()> {
        if generation.is_empty() {
            return Ok(());
        }
        let probe = TableDef {
            oid: 0,
            schema: 0,
            name: table.to_string(),
            owner: 0,
            columns: columns.to_vec(),
            primary_key: None,
            pkey_name: String::new(),
            indexes: vec![],
        };
        let scope = Scope::of_table(&probe, table);
        // The new generated columns and those the table already has.
        let names: Vec<&str> = probe
            .columns
            .iter()
            .enumerate()
            .filter(|(i, c)| {
                !c.dropped && (c.generated.is_some() || generation.iter().any(|(g, _)| g == i))
            })
            .map(|(_, c)| c.name.as_str())
            .collect();
        for (i, e) in generation {
            let col = &probe.columns[*i];
            if col.default.is_some() {
                return Err(self.at(
                    err!(
                        sqlstate::SYNTAX_ERROR,
                        "both default and generation expression specified for column \"{}\" of table \"{table}\"",
                        col.name
                    ),
                    e.span(),
                ));
            }
            if extras
                .sequences
                .iter()
                .any(|(p, _, kind)| p == i && *kind != 0)
            {
                bail!(
                    sqlstate::SYNTAX_ERROR,
                    "both identity and generation expression specified for column \"{}\" of table \"{table}\"",
                    col.name
                );
            }
            let bound = self.bind_index_expr(e, &scope, "column generation expressions")?;
            let text = e.to_string();
            super::generated::check_generation_expr(&bound, &text, &names).map_err(|er| {
                // (PostgreSQL points at a subquery or another generated column)
                if er.code == sqlstate::FEATURE_NOT_SUPPORTED || er.detail.is_some() {
                    self.at(er, e.span())
                } else {
                    er
                }
            })?;
            self.assign(bound, col, e.span())?;
            columns[*i].generated = Some(text);
        }
        Ok(())
    }

    /// Binds an index expression or predicate over its table; an aggregate is refused
    /// as PostgreSQL refuses it there (`where`: "index expressions", "index predicates").
    fn bind_index_expr(&mut self, e: &ast::Expr, scope: &Scope, place: &str) -> Result<Expr> {
        self.bind(e, scope).map_err(|er| {
            if er.code == sqlstate::GROUPING_ERROR {
                self.at(
                    err!(
                        sqlstate::GROUPING_ERROR,
                        "aggregate functions are not allowed in {place}"
                    ),
                    e.span(),
                )
            } else {
                er
            }
        })
    }

    // ---- expressions ---------------------------------------------------------------

    fn coerce_bool(
        &mut self,
        e: Expr,
        clause: &str,
        span: sqlparser::tokenizer::Span,
    ) -> Result<Expr> {
        let t = e.ty();
        if t == DataType::Bool {
            return Ok(e);
        }
        self.coerce(e, DataType::Bool, -1, Coercion::Implicit, span)
            .map_err(|_| {
                self.at(
                    err!(
                        sqlstate::DATATYPE_MISMATCH,
                        "argument of {clause} must be type boolean, not type {}",
                        t.name()
                    ),
                    span,
                )
            })
    }

    /// Converts an expression to a type under a coercion context.
    pub fn coerce(
        &mut self,
        e: Expr,
        target: DataType,
        typmod: i32,
        how: Coercion,
        span: sqlparser::tokenizer::Span,
    ) -> Result<Expr> {
        let from = e.ty();
        match e {
            Expr::Const(Value::Null, _) => return Ok(Expr::Const(Value::Null, target)),
            Expr::Const(Value::Text(s), DataType::Unknown) => {
                let v = if target == DataType::TimestampTz {
                    Value::TimestampTz(
                        crate::types::parse_timestamptz(
                            &s,
                            &crate::types::timezone::current_zone(),
                        )
                        .map_err(|e| self.at(e, span))?,
                    )
                } else {
                    parse_text(target, typmod, &s).map_err(|e| self.at(e, span))?
                };
                let v = crate::types::cast(v, target, typmod, how == Coercion::Explicit)
                    .map_err(|e| self.at(e, span))?;
                return Ok(Expr::Const(v, target));
            }
            Expr::Param(i, DataType::Unknown) => {
                if let Some(slot) = self.params.get_mut(i) {
                    *slot = target;
                }
                return Ok(if typmod >= 0 {
                    Expr::Cast(Box::new(Expr::Param(i, target)), target, typmod, false)
                } else {
                    Expr::Param(i, target)
                });
            }
            _ => {}
        }
        if from == target && (typmod < 0 || typmod == e.typmod()) {
            return Ok(e);
        }
        if castable(from, target, how) {
            // Fold constant casts so errors surface at bind time with a position (not
            // those that depend on the session's time zone: they run in the executor).
            let zoned = crate::types::time::depends_on_zone(from, target);
            if let (Expr::Const(v, _), false) = (&e, zoned) {
                let v = match v {
                    // character(n) drops its padding when it becomes another string type.
                    Value::Text(t) if from == DataType::Bpchar && target != DataType::Bpchar => {
                        Value::Text(t.trim_end_matches(' ').to_string())
                    }
                    // "char" to integer is its (signed) byte.
                    Value::Text(t) if from == DataType::Char && target == DataType::Int4 => {
                        Value::Int4(crate::types::pg_char::to_byte(t) as i8 as i32)
                    }
                    v => v.clone(),
                };
                let v = crate::types::cast(v, target, typmod, how == Coercion::Explicit)
                    .map_err(|er| self.at(er, span))?;
                return Ok(Expr::Const(v, target));
            }
            return Ok(Expr::Cast(
                Box::new(e),
                target,
                typmod,
                how == Coercion::Explicit,
            ));
        }
        Err(self.at(
            err!(
                sqlstate::CANNOT_COERCE,
                "cannot cast type {} to {}",
                from.name(),
                target.name()
            ),
            span,
        ))
    }

    /// Binds an expression in a scope.
    /// `expr COLLATE name`: tusk compares text by bytes (UTF-8 code point order), which
    /// is the C collation; the collations that mean exactly that are accepted, any
    /// other is refused rather than silently compared differently.
    fn collate(
        &mut self,
        b: Expr,
        collation: &ast::ObjectName,
        span: sqlparser::tokenizer::Span,
    ) -> Result<Expr> {
        let (schema, name) = self.split_name(collation)?;
        let b = if b.ty() == DataType::Unknown {
            self.coerce(b, DataType::Text, -1, Coercion::Implicit, span)?
        } else {
            b
        };
        if !b.ty().is_string() && b.ty() != DataType::Name {
            return Err(self.at(
                err!(
                    sqlstate::DATATYPE_MISMATCH,
                    "collations are not supported by type {}",
                    b.ty().name()
                ),
                span,
            ));
        }
        let known = matches!(schema.as_deref(), None | Some("pg_catalog"))
            && matches!(name.as_str(), "default" | "C" | "POSIX" | "ucs_basic");
        if !known {
            return Err(self.at(
                err!(
                    sqlstate::UNDEFINED_OBJECT,
                    "collation \"{name}\" for encoding \"UTF8\" does not exist"
                ),
                span,
            ));
        }
        Ok(b)
    }

    pub fn bind(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Expr> {
        crate::sql::depth::with_stack(|| self.bind_here(e, scope))
    }

    /// [`Binder::bind`] on the stack it was called on.
    fn bind_here(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Expr> {
        // In a grouped query, a GROUP BY expression is a column of the group row.
        if let Some(st) = &self.agg {
            if let Some(i) = st.keys.iter().position(|k| k == e) {
                return Ok(Expr::Column(i, st.key_types[i]));
            }
        }
        match e {
            ast::Expr::Identifier(id) => self.bind_column(None, id, scope),
            ast::Expr::CompoundIdentifier(ids) => {
                if ids.len() == 2 {
                    self.bind_column(Some(&ids[0]), &ids[1], scope)
                } else if ids.len() == 3 {
                    self.bind_column(Some(&ids[1]), &ids[2], scope)
                } else {
                    bail!(
                        sqlstate::SYNTAX_ERROR,
                        "improper qualified name (too many dotted names)"
                    )
                }
            }
            ast::Expr::Value(v) => self.bind_value(&v.value, v.span),
            ast::Expr::TypedString(ts) => {
                let (ty, tm) = convert_type(&ts.data_type)?;
                let s = match &ts.value.value {
                    ast::Value::SingleQuotedString(s) => s.clone(),
                    other => other.to_string(),
                };
                self.coerce(
                    Expr::Const(Value::Text(s), DataType::Unknown),
                    ty,
                    tm,
                    Coercion::Explicit,
                    ts.value.span,
                )
            }
            ast::Expr::Nested(x) => self.bind(x, scope),
            ast::Expr::Collate { expr, collation } => {
                let b = self.bind(expr, scope)?;
                self.collate(b, collation, e.span())
            }
            ast::Expr::UnaryOp { op, expr } if super::string_funcs::is_signed_power(op, expr) => {
                self.bind(&super::string_funcs::sign_into_power(op, expr), scope)
            }
            ast::Expr::UnaryOp { op, expr } => match op {
                ast::UnaryOperator::Minus => {
                    if let ast::Expr::Value(v) = expr.as_ref() {
                        if let ast::Value::Number(n, _) = &v.value {
                            return self
                                .bind_value(&ast::Value::Number(format!("-{n}"), false), v.span);
                        }
                    }
                    let b = self.bind(expr, scope)?;
                    let b = match b.ty() {
                        DataType::Unknown => {
                            self.coerce(b, DataType::Numeric, -1, Coercion::Implicit, expr.span())?
                        }
                        // `- time` is the interval's minus, through time's implicit cast.
                        DataType::Time => {
                            self.coerce(b, DataType::Interval, -1, Coercion::Implicit, expr.span())?
                        }
                        _ => b,
                    };
                    if !b.ty().is_numeric() && b.ty() != DataType::Interval {
                        return Err(self.at(
                            err!(
                                sqlstate::UNDEFINED_FUNCTION,
                                "operator does not exist: - {}",
                                b.ty().name()
                            )
                            .with_hint("No operator matches the given name and argument type. You might need to add an explicit type cast."),
                            e.span(),
                        ));
                    }
                    let t = b.ty();
                    Ok(Expr::Neg(Box::new(b), t))
                }
                ast::UnaryOperator::Plus => self.bind(expr, scope),
                ast::UnaryOperator::Not => {
                    let b = self.bind(expr, scope)?;
                    Ok(Expr::Not(Box::new(self.coerce_bool(
                        b,
                        "NOT",
                        expr.span(),
                    )?)))
                }
                _ => bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "operator {op} is not supported yet"
                ),
            },
            ast::Expr::BinaryOp { left, op, right } => {
                // A FROM item named alone compares as a composite value: column by
                // column, NULLs equal to each other and above every value.
                if let (Some(ast::Expr::Tuple(l)), Some(ast::Expr::Tuple(r))) = (
                    self.row_of_item(left, scope),
                    self.row_of_item(right, scope),
                ) {
                    let expanded = whole_row::record_comparison(l, op, r)?;
                    return self.bind(&expanded, scope);
                }
                match rows::comparison(left, op, right)? {
                    Some(expanded) => self.bind(&expanded, scope),
                    None => self.bind_binary(left, op, right, scope),
                }
            }
            ast::Expr::IsNull(x) | ast::Expr::IsNotNull(x) => {
                let not = matches!(e, ast::Expr::IsNotNull(_));
                // A row IS NULL when every column is, IS NOT NULL when none is.
                if let Some(ast::Expr::Tuple(items)) = self.row_of_item(x, scope) {
                    let test = |i: ast::Expr| {
                        if not {
                            ast::Expr::IsNotNull(Box::new(i))
                        } else {
                            ast::Expr::IsNull(Box::new(i))
                        }
                    };
                    let all = items
                        .into_iter()
                        .map(test)
                        .reduce(|a, b| ast::Expr::BinaryOp {
                            left: Box::new(a),
                            op: ast::BinaryOperator::And,
                            right: Box::new(b),
                        });
                    if let Some(all) = all {
                        return self.bind(&all, scope);
                    }
                }
                Ok(Expr::IsNull(Box::new(self.bind(x, scope)?), not))
            }
            ast::Expr::IsTrue(x)
            | ast::Expr::IsNotTrue(x)
            | ast::Expr::IsFalse(x)
            | ast::Expr::IsNotFalse(x) => {
                let b = self.bind(x, scope)?;
                let b = self.coerce_bool(b, "IS TRUE", x.span())?;
                let want = matches!(e, ast::Expr::IsTrue(_) | ast::Expr::IsNotTrue(_));
                let neg = matches!(e, ast::Expr::IsNotTrue(_) | ast::Expr::IsNotFalse(_));
                Ok(Expr::IsBool(Box::new(b), want, neg))
            }
            ast::Expr::IsDistinctFrom(a, b) | ast::Expr::IsNotDistinctFrom(a, b) => {
                let not = matches!(e, ast::Expr::IsNotDistinctFrom(..));
                if let Some(expanded) = rows::distinct(a, b, not)? {
                    return self.bind(&expanded, scope);
                }
                let (l, r) = self.unify(a, b, scope)?;
                Ok(Expr::IsDistinct(
                    Box::new(l),
                    Box::new(r),
                    matches!(e, ast::Expr::IsNotDistinctFrom(..)),
                ))
            }
            ast::Expr::Cast {
                expr,
                data_type,
                kind,
                ..
            } => {
                if *kind == ast::CastKind::TryCast || *kind == ast::CastKind::SafeCast {
                    bail!(sqlstate::FEATURE_NOT_SUPPORTED, "TRY_CAST is not supported");
                }
                if let Some(named) = self.bind_reg_name(expr, data_type, scope)? {
                    return Ok(named);
                }
                if let Some(kind) = super::catalog_funcs::reg_kind(&data_type.to_string()) {
                    let b = self.bind(expr, scope)?;
                    let f = super::catalog_funcs::CatalogFn::ToReg(kind);
                    return Ok(Expr::Func(Func::Catalog(f), vec![b], DataType::Oid));
                }
                let (ty, tm) = convert_type(data_type)?;
                let b = self.bind(expr, scope)?;
                // `x::regproc::oid`: the number, not the name the `reg*` output prints
                // (an explicit cast node hides the `reg*` call from `name_reg_outputs`).
                if ty == DataType::Oid
                    && matches!(
                        b,
                        Expr::Func(Func::Catalog(super::catalog_funcs::CatalogFn::ToReg(_)), ..)
                    )
                {
                    return Ok(Expr::Cast(Box::new(b), ty, -1, true));
                }
                self.coerce(b, ty, tm, Coercion::Explicit, expr.span())
            }
            ast::Expr::Function(f) => self.bind_function(f, scope),
            ast::Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let mut whens = Vec::new();
                let mut results = Vec::new();
                for cw in conditions {
                    let cond = match operand {
                        Some(op) => {
                            let (l, r) = self.unify(op, &cw.condition, scope)?;
                            Expr::Binary(BinOp::Eq, Box::new(l), Box::new(r), DataType::Bool)
                        }
                        None => {
                            let b = self.bind(&cw.condition, scope)?;
                            self.coerce_bool(b, "CASE/WHEN", cw.condition.span())?
                        }
                    };
                    whens.push(cond);
                    results.push(self.bind(&cw.result, scope)?);
                }
                let els = match else_result {
                    Some(x) => Some(self.bind(x, scope)?),
                    None => None,
                };
                let ty = results
                    .iter()
                    .chain(els.iter())
                    .map(|x| x.ty())
                    .find(|t| *t != DataType::Unknown)
                    .unwrap_or(DataType::Text);
                // (The span of the whole CASE walks every branch: once, not per branch.)
                let span = e.span();
                let mut pairs = Vec::new();
                for (c, r) in whens.into_iter().zip(results) {
                    pairs.push((c, self.coerce(r, ty, -1, Coercion::Implicit, span)?));
                }
                let els = match els {
                    Some(x) => Some(Box::new(self.coerce(
                        x,
                        ty,
                        -1,
                        Coercion::Implicit,
                        span,
                    )?)),
                    None => None,
                };
                Ok(Expr::Case(pairs, els, ty))
            }
            ast::Expr::InList {
                expr,
                list,
                negated,
            } => {
                if let Some(expanded) = rows::in_list(expr, list, *negated)? {
                    return self.bind(&expanded, scope);
                }
                let mut x = self.bind(expr, scope)?;
                let mut items = Vec::new();
                for it in list {
                    items.push(self.bind(it, scope)?);
                }
                let ty = std::iter::once(x.ty())
                    .chain(items.iter().map(|i| i.ty()))
                    .find(|t| *t != DataType::Unknown)
                    .unwrap_or(DataType::Text);
                x = self.coerce(x, ty, -1, Coercion::Implicit, expr.span())?;
                let mut out = Vec::new();
                for (it, a) in items.into_iter().zip(list) {
                    out.push(self.coerce_cmp(it, ty, a.span())?);
                }
                // character(n) compares without its padding: as text.
                if ty == DataType::Bpchar {
                    x = self.coerce(x, DataType::Text, -1, Coercion::Implicit, expr.span())?;
                    for (it, a) in out.iter_mut().zip(list) {
                        let mut e = std::mem::replace(it, Expr::Const(Value::Null, DataType::Text));
                        if e.ty() == DataType::Unknown {
                            e = self.coerce(e, ty, -1, Coercion::Implicit, a.span())?;
                        }
                        *it = self.coerce(e, DataType::Text, -1, Coercion::Implicit, a.span())?;
                    }
                }
                Ok(Expr::InList(Box::new(x), out, *negated))
            }
            ast::Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let (x1, lo) = self.unify(expr, low, scope)?;
                let (x2, hi) = self.unify(expr, high, scope)?;
                let both = Expr::And(
                    Box::new(Expr::Binary(
                        BinOp::GtEq,
                        Box::new(x1),
                        Box::new(lo),
                        DataType::Bool,
                    )),
                    Box::new(Expr::Binary(
                        BinOp::LtEq,
                        Box::new(x2),
                        Box::new(hi),
                        DataType::Bool,
                    )),
                );
                Ok(if *negated {
                    Expr::Not(Box::new(both))
                } else {
                    both
                })
            }
            ast::Expr::Like {
                negated,
                expr,
                pattern,
                escape_char: None,
                any: false,
            }
            | ast::Expr::ILike {
                negated,
                expr,
                pattern,
                escape_char: None,
                any: false,
            } => {
                let x = self.bind(expr, scope)?;
                let x = self.coerce(x, DataType::Text, -1, Coercion::Implicit, expr.span())?;
                let p = self.bind(pattern, scope)?;
                let p = self.coerce(p, DataType::Text, -1, Coercion::Implicit, pattern.span())?;
                Ok(Expr::Like(
                    Box::new(x),
                    Box::new(p),
                    *negated,
                    matches!(e, ast::Expr::ILike { .. }),
                ))
            }
            ast::Expr::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![(**expr).clone()];
                args.push(match substring_from {
                    Some(f) => (**f).clone(),
                    None => ast::Expr::value(ast::Value::Number("1".into(), false)),
                });
                if let Some(c) = substring_for {
                    args.push((**c).clone());
                }
                self.call_builtin("substring", &args, scope, e.span())
            }
            ast::Expr::Position { expr, r#in } => self.call_builtin(
                "strpos",
                &[(**r#in).clone(), (**expr).clone()],
                scope,
                e.span(),
            ),
            ast::Expr::Trim {
                expr,
                trim_where,
                trim_what,
                trim_characters,
            } => {
                if trim_characters.is_some() {
                    bail!(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "this TRIM form is not supported"
                    );
                }
                let name = match trim_where {
                    Some(ast::TrimWhereField::Leading) => "ltrim",
                    Some(ast::TrimWhereField::Trailing) => "rtrim",
                    _ => "btrim",
                };
                let mut args = vec![(**expr).clone()];
                if let Some(w) = trim_what {
                    args.push((**w).clone());
                }
                self.call_builtin(name, &args, scope, e.span())
            }
            ast::Expr::Extract { field, expr, .. } => {
                let f = ast::Expr::value(ast::Value::SingleQuotedString(
                    field.to_string().to_lowercase(),
                ));
                self.call_builtin("extract", &[f, (**expr).clone()], scope, e.span())
            }
            ast::Expr::Interval(iv) => {
                let v = self.bind(&iv.value, scope)?;
                let v = match (v, &iv.leading_field) {
                    // INTERVAL '3' DAY: the unit follows the literal.
                    (Expr::Const(Value::Text(t), DataType::Unknown), Some(f))
                        if iv.last_field.is_none() =>
                    {
                        Expr::Const(Value::Text(format!("{t} {f}")), DataType::Unknown)
                    }
                    (v, _) => v,
                };
                self.coerce(
                    v,
                    DataType::Interval,
                    -1,
                    Coercion::Explicit,
                    iv.value.span(),
                )
            }
            ast::Expr::Subquery(q) => self.with_outer(scope, |b| {
                let p = b.plan_subquery(q, e.span())?;
                let ty = p
                    .fields
                    .first()
                    .and_then(|f| DataType::from_oid(f.type_oid))
                    .unwrap_or(DataType::Text);
                Ok(Expr::Subquery(Box::new(p), ty))
            }),
            ast::Expr::Exists { subquery, negated } => self.with_outer(scope, |b| {
                let saved = b.agg.take();
                b.ctes.sublinks += 1;
                let p = b.plan_query(subquery);
                b.ctes.sublinks -= 1;
                b.agg = saved;
                Ok(Expr::Exists(Box::new(p?), *negated))
            }),
            ast::Expr::InSubquery {
                expr,
                subquery,
                negated,
            } => {
                let mut ty = DataType::Text;
                let sub = self.with_outer(scope, |b| {
                    let p = b.plan_subquery(subquery, e.span())?;
                    ty = p
                        .fields
                        .first()
                        .and_then(|f| DataType::from_oid(f.type_oid))
                        .unwrap_or(DataType::Text);
                    Ok(Expr::Exists(Box::new(p), false))
                })?;
                let (p, correlated) = match sub {
                    Expr::Exists(p, _) => (p, false),
                    Expr::Correlated(inner) => match *inner {
                        Expr::Exists(p, _) => (p, true),
                        _ => unreachable!("with_outer wraps what it was given"),
                    },
                    _ => unreachable!("with_outer returns what it was given"),
                };
                let x = self.bind(expr, scope)?;
                let x = if x.ty() == DataType::Unknown || !comparable(x.ty(), ty) {
                    self.coerce(x, ty, -1, Coercion::Implicit, expr.span())?
                } else {
                    x
                };
                let e = Expr::InSubquery(Box::new(x), p, *negated);
                Ok(if correlated {
                    Expr::Correlated(Box::new(e))
                } else {
                    e
                })
            }
            other => {
                if let Some(e) = super::type_funcs::bind_array_expr(self, other, scope)? {
                    return Ok(e);
                }
                if let Some(e) = super::string_funcs::bind_expr(self, other, scope)? {
                    return Ok(e);
                }
                if let Some(e) = super::tz_funcs::bind_expr(self, other, scope)? {
                    return Ok(e);
                }
                if let ast::Expr::SimilarTo {
                    negated,
                    expr,
                    pattern,
                    escape_char,
                } = other
                {
                    return super::regex_funcs::bind_similar(
                        self,
                        *negated,
                        expr,
                        pattern,
                        escape_char.as_ref(),
                        scope,
                    );
                }
                Err(self.at(
                    err!(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "expression {other} is not supported yet"
                    ),
                    other.span(),
                ))
            }
        }
    }

    /// Plans a subquery used as an expression: uncorrelated, exactly one column.
    /// Binds `x::regclass::text` (any `reg*` type, to `text`, `name` or `varchar`) as
    /// the object's name, what PostgreSQL's `reg*` output function writes; `None`
    /// when the cast is not one to a string of a `reg*` cast.
    fn bind_reg_name(
        &mut self,
        expr: &ast::Expr,
        target: &ast::DataType,
        scope: &Scope,
    ) -> Result<Option<Expr>> {
        let mut inner = expr;
        while let ast::Expr::Nested(x) = inner {
            inner = x;
        }
        let ast::Expr::Cast {
            expr: arg,
            data_type,
            kind: ast::CastKind::DoubleColon | ast::CastKind::Cast,
            ..
        } = inner
        else {
            return Ok(None);
        };
        let Some(kind) = super::catalog_funcs::reg_kind(&data_type.to_string()) else {
            return Ok(None);
        };
        if super::catalog_funcs::reg_kind(&target.to_string()).is_some() {
            return Ok(None);
        }
        let (ty, tm) = convert_type(target)?;
        if !matches!(ty, DataType::Text | DataType::Name | DataType::Varchar) {
            return Ok(None);
        }
        let b = self.bind(arg, scope)?;
        let oid = Expr::Func(
            Func::Catalog(super::catalog_funcs::CatalogFn::ToReg(kind)),
            vec![b],
            DataType::Oid,
        );
        let name = Expr::Func(
            Func::Catalog(super::catalog_funcs::CatalogFn::RegName(kind)),
            vec![oid],
            DataType::Text,
        );
        self.coerce(name, ty, tm, Coercion::Explicit, expr.span())
            .map(Some)
    }

    /// Binds `ARRAY(SELECT …)`: an array of the subquery's one column (`name` and
    /// `oid` columns, whose array types tusk lacks, give `text[]`, which prints the
    /// same).
    fn bind_array_subquery(
        &mut self,
        q: &ast::Query,
        span: sqlparser::tokenizer::Span,
        scope: &Scope,
    ) -> Result<Expr> {
        self.with_outer(scope, |b| {
            let p = b.plan_subquery(q, span)?;
            let elem = p
                .fields
                .first()
                .and_then(|f| DataType::from_oid(f.type_oid))
                .unwrap_or(DataType::Text);
            let ty = match elem {
                DataType::Name | DataType::Oid | DataType::Unknown => DataType::TextArray,
                t => match crate::types::array::array_type_of(t) {
                    Some(a) => a,
                    None => bail!(
                        sqlstate::UNDEFINED_OBJECT,
                        "could not find array type for data type {}",
                        t.name()
                    ),
                },
            };
            Ok(Expr::ArraySubquery(Box::new(p), ty))
        })
    }

    fn plan_subquery(
        &mut self,
        q: &ast::Query,
        span: sqlparser::tokenizer::Span,
    ) -> Result<SelectPlan> {
        let saved = self.agg.take();
        self.ctes.sublinks += 1;
        let p = self.plan_query(q);
        self.ctes.sublinks -= 1;
        self.agg = saved;
        let p = p?;
        if p.visible != 1 {
            return Err(self.at(
                err!(
                    sqlstate::SYNTAX_ERROR,
                    "subquery must return only one column"
                ),
                span,
            ));
        }
        Ok(p)
    }

    fn coerce_cmp(
        &mut self,
        e: Expr,
        ty: DataType,
        span: sqlparser::tokenizer::Span,
    ) -> Result<Expr> {
        let from = e.ty();
        if from == ty || comparable(from, ty) {
            return Ok(e);
        }
        self.coerce(e, ty, -1, Coercion::Implicit, span)
    }

    /// Binds two operands to a common comparable type (resolving unknowns).
    fn unify(&mut self, a: &ast::Expr, b: &ast::Expr, scope: &Scope) -> Result<(Expr, Expr)> {
        let l = self.bind(a, scope)?;
        let r = self.bind(b, scope)?;
        let (lt, rt) = (l.ty(), r.ty());
        let l = if lt == DataType::Unknown {
            let t = if rt == DataType::Unknown {
                DataType::Text
            } else {
                rt
            };
            self.coerce(l, t, -1, Coercion::Implicit, a.span())?
        } else {
            l
        };
        let r = if rt == DataType::Unknown {
            let t = l.ty();
            self.coerce(r, t, -1, Coercion::Implicit, b.span())?
        } else {
            r
        };
        Ok((l, r))
    }

    fn bind_binary(
        &mut self,
        left: &ast::Expr,
        op: &ast::BinaryOperator,
        right: &ast::Expr,
        scope: &Scope,
    ) -> Result<Expr> {
        use ast::BinaryOperator as B;
        let bop = match op {
            B::And | B::Or => {
                let l = self.bind(left, scope)?;
                let l =
                    self.coerce_bool(l, if *op == B::And { "AND" } else { "OR" }, left.span())?;
                let r = self.bind(right, scope)?;
                let r =
                    self.coerce_bool(r, if *op == B::And { "AND" } else { "OR" }, right.span())?;
                return Ok(if *op == B::And {
                    Expr::And(Box::new(l), Box::new(r))
                } else {
                    Expr::Or(Box::new(l), Box::new(r))
                });
            }
            B::Plus => BinOp::Add,
            B::Minus => BinOp::Sub,
            B::Multiply => BinOp::Mul,
            B::Divide => BinOp::Div,
            B::Modulo => BinOp::Mod,
            B::StringConcat => BinOp::Concat,
            B::Eq => BinOp::Eq,
            B::NotEq => BinOp::NotEq,
            B::Lt => BinOp::Lt,
            B::LtEq => BinOp::LtEq,
            B::Gt => BinOp::Gt,
            B::GtEq => BinOp::GtEq,
            B::PGExp => {
                let whole = ast::Expr::BinaryOp {
                    left: Box::new(left.clone()),
                    op: op.clone(),
                    right: Box::new(right.clone()),
                };
                let grouped = super::string_funcs::reassociate_power(&whole);
                if grouped != whole {
                    return self.bind(&grouped, scope);
                }
                let span = left.span().union(&right.span());
                return self
                    .call_builtin("power", &[left.clone(), right.clone()], scope, span)
                    .map_err(|e| match super::string_funcs::power_operator_error(&e) {
                        Some(op_error) => self.at(op_error, self.symbol_span(left, "^")),
                        None => e,
                    });
            }
            B::PGCustomBinaryOperator(parts) => {
                if let Some(op) = super::catalog_funcs::qualified_operator(parts) {
                    return self.bind_binary(left, &op, right, scope);
                }
                let (l, r) = (self.bind(left, scope)?, self.bind(right, scope)?);
                return Err(err!(
                    sqlstate::UNDEFINED_FUNCTION,
                    "operator does not exist: {} {} {}",
                    l.ty().name(),
                    parts.join("."),
                    r.ty().name()
                )
                .with_hint("No operator matches the given name and argument types. You might need to add explicit type casts."));
            }
            other => {
                if let Some(e) =
                    super::type_funcs::bind_json_operator(self, left, other, right, scope)?
                {
                    return Ok(e);
                }
                if let Some(e) = super::regex_funcs::bind_operator(self, left, other, right, scope)?
                {
                    return Ok(e);
                }
                bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "operator {other} is not supported yet"
                )
            }
        };
        let l = self.bind(left, scope)?;
        let r = self.bind(right, scope)?;
        let (l, r) = if matches!(bop, BinOp::Eq | BinOp::NotEq) {
            super::catalog_funcs::reg_text_operands(l, r)
        } else {
            (l, r)
        };
        let (l, r) = match super::type_funcs::bind_typed_binary(
            self,
            bop,
            l,
            r,
            (left.span(), right.span()),
        )? {
            Ok(e) => return Ok(e),
            Err(pair) => pair,
        };
        let op_span = self.op_span(left, bop);
        let no_op = |this: &Self, lt: DataType, rt: DataType| {
            this.at(
                err!(
                    sqlstate::UNDEFINED_FUNCTION,
                    "operator does not exist: {} {} {}",
                    lt.name(),
                    bop.symbol(),
                    rt.name()
                )
                .with_hint("No operator matches the given name and argument types. You might need to add explicit type casts."),
                op_span,
            )
        };
        let (lt, rt) = (l.ty(), r.ty());
        if bop == BinOp::Concat {
            let as_text = |t: DataType| match t {
                DataType::Unknown | DataType::Bpchar => DataType::Text,
                t => t,
            };
            let (lt2, rt2) = (as_text(lt), as_text(rt));
            if !lt2.is_string() && !rt2.is_string() {
                return Err(no_op(self, lt2, rt2));
            }
            let l = self.coerce(l, lt2, -1, Coercion::Implicit, left.span())?;
            let r = self.coerce(r, rt2, -1, Coercion::Implicit, right.span())?;
            return Ok(Expr::Binary(bop, Box::new(l), Box::new(r), DataType::Text));
        }
        // Resolve unknown operands from the other side.
        let (l, r) = match (lt == DataType::Unknown, rt == DataType::Unknown) {
            (true, true) => {
                let t = if bop.is_comparison() {
                    DataType::Text
                } else {
                    // Every candidate of an arithmetic operator fits: PostgreSQL
                    // cannot choose (`$1 - $2` with untyped parameters, as pgbench
                    // sends them, fails the same way).
                    return Err(self.at(
                        err!(
                            sqlstate::AMBIGUOUS_FUNCTION,
                            "operator is not unique: unknown {} unknown",
                            bop.symbol()
                        )
                        .with_hint("Could not choose a best candidate operator. You might need to add explicit type casts."),
                        op_span,
                    ));
                };
                (
                    self.coerce(l, t, -1, Coercion::Implicit, left.span())?,
                    self.coerce(r, t, -1, Coercion::Implicit, right.span())?,
                )
            }
            (true, false) => {
                let t = unknown_partner(bop, rt);
                (self.coerce(l, t, -1, Coercion::Implicit, left.span())?, r)
            }
            (false, true) => {
                let t = unknown_partner(bop, lt);
                let r = self.coerce(r, t, -1, Coercion::Implicit, right.span())?;
                (l, r)
            }
            _ => (l, r),
        };
        let (lt, rt) = (l.ty(), r.ty());
        // time against timetz: the time goes through its implicit cast to timetz.
        let (l, r) = match (lt, rt) {
            (DataType::Time, DataType::TimeTz) if bop.is_comparison() => {
                let l = self.coerce(l, rt, -1, Coercion::Implicit, left.span())?;
                (l, r)
            }
            (DataType::TimeTz, DataType::Time) if bop.is_comparison() => {
                let r = self.coerce(r, lt, -1, Coercion::Implicit, right.span())?;
                (l, r)
            }
            _ => (l, r),
        };
        let (lt, rt) = (l.ty(), r.ty());
        // character(n) compares without its trailing blanks (bpchareq and friends), and
        // against text through its cast to text, which drops them: both sides go to text
        // — unless a constant can be padded to the width of a character(n) column, whose
        // stored values are all padded, so that the comparison can still use an index.
        let (l, r) = match (lt, rt) {
            (DataType::Bpchar, o) | (o, DataType::Bpchar)
                if bop.is_comparison()
                    && matches!(o, DataType::Bpchar | DataType::Text | DataType::Varchar) =>
            {
                if let Some((l, r)) = pad_bpchar_const(&l, &r) {
                    (l, r)
                } else if let Some((r, l)) = pad_bpchar_const(&r, &l) {
                    (l, r)
                } else {
                    let l = self.coerce(l, DataType::Text, -1, Coercion::Implicit, left.span())?;
                    let r = self.coerce(r, DataType::Text, -1, Coercion::Implicit, right.span())?;
                    (l, r)
                }
            }
            _ => (l, r),
        };
        let (lt, rt) = (l.ty(), r.ty());
        if bop.is_comparison() {
            if !comparable(lt, rt) {
                return Err(no_op(self, lt, rt));
            }
            return Ok(Expr::Binary(bop, Box::new(l), Box::new(r), DataType::Bool));
        }
        if let Some(ty) = super::expr::datetime_arith_type(bop, lt, rt) {
            return Ok(Expr::Binary(bop, Box::new(l), Box::new(r), ty));
        }
        let Some(ty) = arith_type(lt, rt) else {
            return Err(no_op(self, lt, rt));
        };
        if bop == BinOp::Mod && matches!(ty, DataType::Float4 | DataType::Float8) {
            return Err(no_op(self, lt, rt));
        }
        Ok(Expr::Binary(bop, Box::new(l), Box::new(r), ty))
    }

    /// The span of an operator token: the first occurrence of its symbol after the left
    /// operand (sqlparser keeps no span for operators).
    fn op_span(&self, left: &ast::Expr, op: BinOp) -> sqlparser::tokenizer::Span {
        self.symbol_span(left, op.symbol())
    }

    /// The span of the first occurrence of `symbol` after the left operand.
    fn symbol_span(&self, left: &ast::Expr, symbol: &str) -> sqlparser::tokenizer::Span {
        let end = left.span().end;
        let l = end.line as usize;
        if l == 0 || l > self.line_starts.len() {
            return sqlparser::tokenizer::Span::empty();
        }
        let start = self.line_starts[l - 1] + (end.column as usize).saturating_sub(1);
        let sym: Vec<char> = symbol.chars().collect();
        let mut i = start;
        while i + sym.len() <= self.chars.len() {
            if self.chars[i..i + sym.len()] == sym[..] {
                // Convert the char index back to (line, column).
                let line = self.line_starts.iter().rposition(|&s| s <= i).unwrap_or(0);
                let col = i - self.line_starts[line] + 1;
                let loc = sqlparser::tokenizer::Location::new(line as u64 + 1, col as u64);
                return sqlparser::tokenizer::Span::new(loc, loc);
            }
            i += 1;
        }
        sqlparser::tokenizer::Span::empty()
    }

    fn bind_value(&mut self, v: &ast::Value, span: sqlparser::tokenizer::Span) -> Result<Expr> {
        Ok(match v {
            ast::Value::Number(n, _) => {
                let (v, ty) = number_literal(n).map_err(|e| {
                    // (Only a non-integer's error carries the literal's position.)
                    if is_integer_literal(n) {
                        e
                    } else {
                        self.at(e, span)
                    }
                })?;
                Expr::Const(v, ty)
            }
            ast::Value::SingleQuotedString(s)
            | ast::Value::EscapedStringLiteral(s)
            | ast::Value::NationalStringLiteral(s)
            | ast::Value::UnicodeStringLiteral(s) => {
                Expr::Const(Value::Text(s.clone()), DataType::Unknown)
            }
            ast::Value::DollarQuotedString(d) => {
                Expr::Const(Value::Text(d.value.clone()), DataType::Unknown)
            }
            ast::Value::Boolean(b) => Expr::Const(Value::Bool(*b), DataType::Bool),
            ast::Value::Null => Expr::Const(Value::Null, DataType::Unknown),
            ast::Value::Placeholder(p) => {
                let n: usize = p.trim_start_matches('$').parse().map_err(|_| {
                    self.at(
                        err!(sqlstate::SYNTAX_ERROR, "syntax error at or near \"{p}\""),
                        span,
                    )
                })?;
                if n == 0 || n > 65535 {
                    return Err(self.at(
                        err!(sqlstate::UNDEFINED_PARAMETER, "there is no parameter ${n}"),
                        span,
                    ));
                }
                if self.params.len() < n {
                    self.params.resize(n, DataType::Unknown);
                }
                Expr::Param(n - 1, self.params[n - 1])
            }
            other => bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "literal {other} is not supported yet"
            ),
        })
    }

    fn bind_column(
        &mut self,
        table: Option<&ast::Ident>,
        col: &ast::Ident,
        scope: &Scope,
    ) -> Result<Expr> {
        let name = fold(col);
        let tname = table.map(fold);
        if self.agg.is_some() {
            // A column outside an aggregate that is not a GROUP BY key.
            let st = self
                .agg
                .as_ref()
                .map(|s| s.input.clone())
                .unwrap_or_default();
            let found = st
                .cols
                .iter()
                .find(|c| c.name == name && c.visible_as(tname.as_deref()));
            if let Some(c) = found {
                let t = c.table.clone().unwrap_or_default();
                return Err(self.at(
                    err!(
                        sqlstate::GROUPING_ERROR,
                        "column \"{}.{}\" must appear in the GROUP BY clause or be used in an aggregate function",
                        t,
                        name
                    ),
                    col.span.union(&table.map(|t| t.span).unwrap_or(col.span)),
                ));
            }
        }
        if let Some(t) = &tname {
            if !scope
                .cols
                .iter()
                .any(|c| c.table.as_deref() == Some(t.as_str()))
            {
                if let Some(e) = self.outer_column(Some(t), &name)? {
                    return Ok(e);
                }
                let span = table.map(|x| x.span).unwrap_or(col.span);
                return Err(self.at(
                    err!(
                        sqlstate::UNDEFINED_TABLE,
                        "missing FROM-clause entry for table \"{t}\""
                    ),
                    span,
                ));
            }
        }
        let hits: Vec<usize> = scope
            .cols
            .iter()
            .enumerate()
            .filter(|(_, c)| c.name == name && c.visible_as(tname.as_deref()))
            .map(|(i, _)| i)
            .collect();
        if hits.is_empty() {
            if let Some(e) = self.outer_column(tname.as_deref(), &name)? {
                return Ok(e);
            }
        }
        match hits.len() {
            1 => {
                let c = &scope.cols[hits[0]];
                self.acl_read(c.table_oid, c.attnum);
                Ok(Expr::Column(hits[0], c.ty))
            }
            0 => {
                if tname.is_none() && col.quote_style.is_none() {
                    if let Some((f, ty)) = functions::lookup(&name, &[]) {
                        if matches!(
                            name.as_str(),
                            "current_user"
                                | "user"
                                | "session_user"
                                | "current_role"
                                | "current_catalog"
                                | "current_schema"
                                | "current_timestamp"
                                | "current_date"
                                | "localtimestamp"
                                | "current_time"
                                | "localtime"
                        ) {
                            return Ok(Expr::Func(f, vec![], ty));
                        }
                    }
                }
                // A FROM item named alone: its row as a composite value (text).
                if tname.is_none() && self.agg.is_none() {
                    if let Some(row) = self.whole_row_text(col, scope) {
                        return self.bind(&row, scope);
                    }
                }
                let shown = match &tname {
                    Some(t) => format!("column {t}.{name} does not exist"),
                    None => format!("column \"{name}\" does not exist"),
                };
                let span = table.map(|t| t.span).unwrap_or(col.span);
                Err(self.at(err!(sqlstate::UNDEFINED_COLUMN, "{shown}"), span))
            }
            _ => Err(self.at(
                err!(
                    sqlstate::AMBIGUOUS_COLUMN,
                    "column reference \"{name}\" is ambiguous"
                ),
                col.span,
            )),
        }
    }

    fn bind_function(&mut self, f: &ast::Function, scope: &Scope) -> Result<Expr> {
        let name = f
            .name
            .0
            .last()
            .and_then(|p| match p {
                ast::ObjectNamePart::Identifier(i) => Some(fold(i)),
                _ => None,
            })
            .unwrap_or_default();
        if let Some(rewritten) = self.whole_row_json(f, &name, scope) {
            return self.bind(&rewritten, scope);
        }
        if let (ast::FunctionArguments::Subquery(q), 1) = (&f.args, f.name.0.len()) {
            if name == "array" {
                return self.bind_array_subquery(q, f.name.span(), scope);
            }
        }
        // ORDER BY inside the argument list (aggregates only); other clauses are not
        // PostgreSQL's and must not be ignored.
        let mut agg_order: Vec<ast::OrderByExpr> = Vec::new();
        if let ast::FunctionArguments::List(l) = &f.args {
            for c in &l.clauses {
                match c {
                    ast::FunctionArgumentClause::OrderBy(v) => agg_order = v.clone(),
                    other => bail!(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "{other} in a function call is not supported yet"
                    ),
                }
            }
        }
        let ordered_set = matches!(
            name.as_str(),
            "percentile_cont" | "percentile_disc" | "mode"
        );
        if ordered_set {
            if f.within_group.is_empty() {
                return Err(self.at(
                    err!(
                        sqlstate::WRONG_OBJECT_TYPE,
                        "WITHIN GROUP is required for ordered-set aggregate {name}"
                    ),
                    f.name.span(),
                ));
            }
            if f.over.is_some() {
                return Err(self.at(
                    err!(
                        sqlstate::WRONG_OBJECT_TYPE,
                        "OVER is not supported for ordered-set aggregate {name}"
                    ),
                    f.name.span(),
                ));
            }
            agg_order = f.within_group.clone();
        } else {
            self.check_call_clauses(f, &name)?;
        }
        let (args, distinct, star) = match &f.args {
            ast::FunctionArguments::None => (vec![], false, false),
            ast::FunctionArguments::Subquery(_) => {
                bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "subqueries are not supported yet"
                )
            }
            ast::FunctionArguments::List(l) => {
                let mut star = false;
                let v = match self.named_arguments(f, &name, &l.args, scope)? {
                    Some(in_order) => in_order,
                    None => {
                        let mut v = Vec::with_capacity(l.args.len());
                        for a in &l.args {
                            match a {
                                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                                    v.push(e.clone())
                                }
                                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard) => {
                                    star = true
                                }
                                _ => bail!(sqlstate::SYNTAX_ERROR, "syntax error at or near \"*\""),
                            }
                        }
                        v
                    }
                };
                (
                    v,
                    matches!(
                        l.duplicate_treatment,
                        Some(ast::DuplicateTreatment::Distinct)
                    ),
                    star,
                )
            }
        };
        let span = f.name.span();
        if let Some(over) = &f.over {
            return self.bind_window_call(f, over, &name, &args, star, distinct, scope);
        }
        // An ordered-set aggregate feeds its WITHIN GROUP value, the direct argument
        // riding along as the second argument.
        let args = if ordered_set {
            let direct = if name == "mode" { 0 } else { 1 };
            if args.len() != direct || agg_order.len() != 1 || distinct {
                let shown = if name == "mode" {
                    ""
                } else {
                    "double precision"
                };
                return Err(self.at(
                    err!(
                        sqlstate::UNDEFINED_FUNCTION,
                        "function {name}({shown}) does not exist"
                    )
                    .with_hint("No function matches the given name and argument types. You might need to add explicit type casts."),
                    span,
                ));
            }
            let mut v = vec![agg_order[0].expr.clone()];
            v.extend(args);
            v
        } else {
            args
        };
        let af = agg_func(&name, star, args.len());
        if af.is_none() {
            self.reject_aggregate_syntax(f, &name, distinct, &agg_order)?;
        }
        if let Some(af) = af {
            let Some(st) = self.agg.take() else {
                return Err(self.at(
                    err!(
                        sqlstate::GROUPING_ERROR,
                        "aggregate functions are not allowed here"
                    ),
                    span,
                ));
            };
            let input = st.input.clone();
            // Arguments bind against the input row (not the group row).
            self.windows.suspended += 1;
            let outer_reads = self.outer_reads_begin();
            let res = (|| -> Result<(Vec<Expr>, Option<Expr>, super::aggregate::SortKeys)> {
                let (filter, order) =
                    self.bind_aggregate_extras(f, &agg_order, distinct, &args, &input)?;
                let mut out = Vec::new();
                for (i, a) in args.iter().enumerate() {
                    let b = self.bind(a, &input)?;
                    let want = match af {
                        AggFunc::StringAgg => DataType::Text,
                        AggFunc::BoolAnd | AggFunc::BoolOr => DataType::Bool,
                        AggFunc::OrderedSet(o)
                            if i == 1 || o == super::aggregate::OrderedSet::PercentileCont =>
                        {
                            DataType::Float8
                        }
                        _ if b.ty() == DataType::Unknown => DataType::Text,
                        _ => b.ty(),
                    };
                    out.push(self.coerce(b, want, -1, Coercion::Implicit, a.span())?);
                }
                Ok((out, filter, order))
            })();
            self.windows.suspended -= 1;
            self.agg = Some(st);
            let outer_agg =
                self.outer_reads_end(outer_reads, res.as_ref().ok().map(|r| &r.0[..]), span);
            let (bound, filter, order) = res?;
            outer_agg?;
            let mut bound = bound.into_iter();
            let arg = bound.next();
            let arg2 = bound.next();
            let at = arg.as_ref().map(|a| a.ty()).unwrap_or(DataType::Int8);
            let ty = match af {
                AggFunc::CountStar | AggFunc::Count => DataType::Int8,
                AggFunc::Sum => match at {
                    DataType::Int2 | DataType::Int4 => DataType::Int8,
                    DataType::Int8 | DataType::Numeric => DataType::Numeric,
                    DataType::Float4 => DataType::Float4,
                    DataType::Float8 => DataType::Float8,
                    t => {
                        return Err(self.at(
                            err!(sqlstate::UNDEFINED_FUNCTION, "function sum({}) does not exist", t.name())
                                .with_hint("No function matches the given name and argument types. You might need to add explicit type casts."),
                            span,
                        ))
                    }
                },
                AggFunc::Avg => match at {
                    DataType::Int2 | DataType::Int4 | DataType::Int8 | DataType::Numeric => DataType::Numeric,
                    DataType::Float4 | DataType::Float8 => DataType::Float8,
                    t => {
                        return Err(self.at(
                            err!(sqlstate::UNDEFINED_FUNCTION, "function avg({}) does not exist", t.name())
                                .with_hint("No function matches the given name and argument types. You might need to add explicit type casts."),
                            span,
                        ))
                    }
                },
                AggFunc::Min | AggFunc::Max => at,
                AggFunc::StringAgg => DataType::Text,
                AggFunc::BoolAnd | AggFunc::BoolOr => DataType::Bool,
                AggFunc::Collect(c) => super::type_funcs::collect_type_for(c, at)?,
                AggFunc::OrderedSet(_) => at,
                AggFunc::Stat(_) => match at {
                    DataType::Int2 | DataType::Int4 | DataType::Int8 | DataType::Numeric => DataType::Numeric,
                    DataType::Float4 | DataType::Float8 => DataType::Float8,
                    t => {
                        return Err(self.at(
                            err!(sqlstate::UNDEFINED_FUNCTION, "function {name}({}) does not exist", t.name())
                                .with_hint("No function matches the given name and argument types. You might need to add explicit type casts."),
                            span,
                        ))
                    }
                },
            };
            let st = self
                .agg
                .as_mut()
                .ok_or_else(|| Error::internal("aggregate state lost"))?;
            st.aggs.push(AggSpec {
                func: af,
                arg,
                arg2,
                distinct,
                filter,
                order,
                ty,
            });
            let idx = st.keys.len() + st.aggs.len() - 1;
            return Ok(Expr::Column(idx, ty));
        }
        if star {
            return Err(self.at(
                err!(
                    sqlstate::UNDEFINED_FUNCTION,
                    "function {name}(*) does not exist"
                ),
                span,
            ));
        }
        self.call_builtin(&name, &args, scope, span)
    }

    /// Binds a call of a built-in scalar function on AST arguments.
    fn call_builtin(
        &mut self,
        name: &str,
        args: &[ast::Expr],
        scope: &Scope,
        span: sqlparser::tokenizer::Span,
    ) -> Result<Expr> {
        let mut bound = Vec::new();
        for a in args {
            bound.push(self.bind(a, scope)?);
        }
        let types: Vec<DataType> = bound.iter().map(|b| b.ty()).collect();
        if name == "pg_typeof" && types.len() == 1 {
            // The argument's type as bound (PostgreSQL returns it as regtype).
            return Ok(Expr::Const(
                Value::Text(types[0].name().to_string()),
                DataType::Text,
            ));
        }
        let Some((func, ty)) = functions::lookup(name, &types) else {
            let shown: Vec<&str> = types.iter().map(|t| t.name()).collect();
            return Err(self.at(
                err!(
                    sqlstate::UNDEFINED_FUNCTION,
                    "function {}({}) does not exist",
                    name,
                    shown.join(", ")
                )
                .with_hint("No function matches the given name and argument types. You might need to add explicit type casts."),
                span,
            ));
        };
        if matches!(func, Func::Coalesce | Func::Greatest | Func::Least) {
            let what = match func {
                Func::Coalesce => "COALESCE",
                Func::Greatest => "GREATEST",
                _ => "LEAST",
            };
            super::type_funcs::common_type(types.iter().copied(), what)
                .map_err(|e| self.at(e, span))?;
        }
        let mut out = Vec::new();
        for (i, (b, a)) in bound.into_iter().zip(args).enumerate() {
            let want = functions::arg_type(func, i).unwrap_or(if b.ty() == DataType::Unknown {
                if ty == DataType::Unknown
                    || matches!(func, Func::NumNulls(_))
                    || matches!(func, Func::Size(_) | Func::HasPrivilege(_))
                    || matches!(func, Func::Typed(t) if super::type_funcs::unknown_args_as_text(t))
                {
                    DataType::Text
                } else {
                    ty
                }
            } else {
                b.ty()
            });
            let want = if matches!(
                func,
                Func::Coalesce | Func::NullIf | Func::Greatest | Func::Least
            ) {
                ty
            } else {
                want
            };
            // A sequence named by OID (`nextval('s'::regclass)`): its digits are read as
            // the OID, as PostgreSQL's regclass argument would be.
            let b = if i == 0
                && b.ty() == DataType::Oid
                && matches!(
                    func,
                    Func::Ddl(
                        super::ddl::DdlFn::Nextval
                            | super::ddl::DdlFn::Currval
                            | super::ddl::DdlFn::Setval
                    )
                ) {
                Expr::Cast(Box::new(b), DataType::Text, -1, true)
            } else {
                b
            };
            let coerced = self.coerce(b, want, -1, Coercion::Implicit, a.span());
            out.push(coerced.map_err(|e| {
                if e.code == sqlstate::CANNOT_COERCE {
                    let shown: Vec<&str> = types.iter().map(|t| t.name()).collect();
                    self.at(
                        err!(
                            sqlstate::UNDEFINED_FUNCTION,
                            "function {}({}) does not exist",
                            name,
                            shown.join(", ")
                        )
                        .with_hint("No function matches the given name and argument types. You might need to add explicit type casts."),
                        span,
                    )
                } else {
                    e
                }
            })?);
        }
        Ok(Expr::Func(func, out, ty))
    }
}

impl SelectPlan {
    /// Stashes HAVING in `filter` temporarily while the select list is bound.
    fn with_having(mut self, having: Option<Expr>) -> SelectPlan {
        self.filter = having;
        self
    }
}

/// The type an untyped literal takes opposite a typed operand: the operand's own type,
/// except that `date/timestamp/time + 'literal'` reads the literal as an interval (the
/// `+` PostgreSQL picks for those types).
/// `(column, constant)` with the constant blank-padded to the column's width, when
/// `col` is a character(n) expression with a known `n` and `cst` a character constant
/// (from an untyped literal) no longer than `n` without its trailing blanks.
fn pad_bpchar_const(col: &Expr, cst: &Expr) -> Option<(Expr, Expr)> {
    let Expr::Const(Value::Text(s), DataType::Bpchar) = cst else {
        return None;
    };
    let m = col.typmod();
    if col.ty() != DataType::Bpchar || m < 4 || matches!(col, Expr::Const(..)) {
        return None;
    }
    let n = (m - 4) as usize;
    let core = s.trim_end_matches(' ');
    let len = core.chars().count();
    if len > n {
        return None;
    }
    let padded = format!("{core}{}", " ".repeat(n - len));
    Some((
        col.clone(),
        Expr::Const(Value::Text(padded), DataType::Bpchar),
    ))
}

fn unknown_partner(op: BinOp, other: DataType) -> DataType {
    match (op, other) {
        (
            BinOp::Add,
            DataType::Timestamp
            | DataType::TimestampTz
            | DataType::Date
            | DataType::Time
            | DataType::TimeTz,
        ) => DataType::Interval,
        _ => other,
    }
}

/// Whether an expression reads no column of the row (constants, parameters, functions
/// of those).
fn row_independent(e: &Expr) -> bool {
    match e {
        Expr::Const(..) | Expr::Param(..) => true,
        Expr::Cast(x, ..) | Expr::Neg(x, _) => row_independent(x),
        Expr::Binary(_, l, r, _) => row_independent(l) && row_independent(r),
        Expr::Func(f, args, _) => !functions::is_volatile(*f) && args.iter().all(row_independent),
        _ => false,
    }
}

/// The primary-key lookup a filter allows: `pk1 = v1 AND pk2 = v2 …` (in any order,
/// among other conjuncts) with row-independent values.
pub fn pk_key_exprs(def: &TableDef, filter: Option<&Expr>) -> Option<Vec<Expr>> {
    let pk = def.primary_key.as_ref()?;
    let mut conjuncts = Vec::new();
    let mut stack = vec![filter?];
    while let Some(e) = stack.pop() {
        match e {
            Expr::And(l, r) => {
                stack.push(l);
                stack.push(r);
            }
            other => conjuncts.push(other),
        }
    }
    let mut key = Vec::new();
    for &col in pk {
        let found = conjuncts.iter().find_map(|c| match c {
            Expr::Binary(BinOp::Eq, l, r, _) => match (l.as_ref(), r.as_ref()) {
                (Expr::Column(i, _), v) | (v, Expr::Column(i, _))
                    if *i == col && row_independent(v) =>
                {
                    Some(v.clone())
                }
                _ => None,
            },
            _ => None,
        })?;
        key.push(found);
    }
    Some(key)
}

/// The column positions an index's column list names (plain column names only).
/// `in_key` picks the message for a missing column: constraints say "named in key",
/// CREATE INDEX does not.
fn index_columns(
    columns: &[ColumnDef],
    cols: &[ast::IndexColumn],
    in_key: bool,
) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for ic in cols {
        let cname = match &ic.column.expr {
            ast::Expr::Identifier(id) => fold(id),
            _ => bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "indexes on expressions are not supported yet"
            ),
        };
        let idx = columns
            .iter()
            .position(|c| c.name == cname)
            .ok_or_else(|| {
                if in_key {
                    err!(
                        sqlstate::UNDEFINED_COLUMN,
                        "column \"{cname}\" named in key does not exist"
                    )
                } else {
                    err!(
                        sqlstate::UNDEFINED_COLUMN,
                        "column \"{cname}\" does not exist"
                    )
                }
            })?;
        out.push(idx);
    }
    Ok(out)
}

/// A lookup through a secondary index that a filter allows (see [`index_path`]).
#[derive(Debug, Clone)]
pub struct IndexPath {
    /// The index's OID.
    pub index: u32,
    /// The indexed columns the values below are for, in key order.
    pub columns: Vec<usize>,
    /// Values the first key columns equal.
    pub eq: Vec<Expr>,
    /// Bounds on the next key column, if any.
    pub range: Option<(Bound<Expr>, Bound<Expr>)>,
    /// Values the next key column is one of (`IN`, `= ANY`, an OR of equalities):
    /// one lookup each.
    pub any: Option<AnyValues>,
}

/// The values of an [`IndexPath`]'s list.
#[derive(Debug, Clone)]
pub enum AnyValues {
    /// Each expression is one value.
    List(Vec<Expr>),
    /// The elements of an array (`col = ANY (array)`).
    Array(Expr),
}

/// The best secondary-index lookup a filter allows: AND-ed `col = value` conjuncts on
/// a prefix of an index's columns (longest prefix wins, a unique index fully matched
/// first), else `<`, `<=`, `>`, `>=` (BETWEEN) bounds on an index's first column.
/// Values must be row-independent; the filter is still applied to what it returns.
pub fn index_path(def: &TableDef, filter: Option<&Expr>) -> Option<IndexPath> {
    if def.indexes.is_empty() && def.primary_key.is_none() {
        return None;
    }
    let mut conjuncts = Vec::new();
    let mut stack = vec![filter?];
    while let Some(e) = stack.pop() {
        match e {
            Expr::And(l, r) => {
                stack.push(l);
                stack.push(r);
            }
            other => conjuncts.push(other),
        }
    }
    // (column, operator with the column on the left, value)
    let mut preds: Vec<(usize, BinOp, &Expr)> = Vec::new();
    for c in &conjuncts {
        if let Expr::Binary(op, l, r, _) = c {
            let flipped = match op {
                BinOp::Lt => BinOp::Gt,
                BinOp::LtEq => BinOp::GtEq,
                BinOp::Gt => BinOp::Lt,
                BinOp::GtEq => BinOp::LtEq,
                BinOp::Eq => BinOp::Eq,
                _ => continue,
            };
            match (l.as_ref(), r.as_ref()) {
                (Expr::Column(i, _), v) if row_independent(v) => preds.push((*i, *op, v)),
                (v, Expr::Column(i, _)) if row_independent(v) => preds.push((*i, flipped, v)),
                _ => {}
            }
        }
    }
    let eq_of = |col: usize| {
        preds
            .iter()
            .find(|(c, op, _)| *c == col && *op == BinOp::Eq)
            .map(|(_, _, v)| (*v).clone())
    };
    // `col IN (values)`, `col = ANY (array)` and `col = a OR col = b` conjuncts: the
    // lookups of each value.
    let lists: Vec<(usize, AnyValues)> = conjuncts.iter().filter_map(|c| in_values(c)).collect();
    let mut best: Option<(usize, IndexPath)> = None;
    // The primary key (heap::PK_INDEX) is a candidate like any unique index.
    let pk = def
        .primary_key
        .iter()
        .map(|cols| (crate::storage::heap::PK_INDEX, cols, true));
    // A partial index holds only the rows its predicate is true for: a candidate only
    // when the filter requires that too (a conjunct that is the predicate's column,
    // as `sql::generated::index_filter` makes it).
    let covers = |p: usize| {
        conjuncts
            .iter()
            .any(|c| matches!(c, Expr::Column(i, _) if *i == p))
    };
    let secondary = def
        .indexes
        .iter()
        .filter(|ix| ix.predicate.is_none_or(covers))
        .map(|ix| (ix.oid, &ix.columns, ix.unique));
    for (oid, columns, unique) in pk.chain(secondary) {
        let mut eq = Vec::new();
        for &col in columns {
            match eq_of(col) {
                Some(v) => eq.push(v),
                None => break,
            }
        }
        let n = eq.len();
        let mut range = None;
        let mut any = None;
        if let Some(&next) = columns.get(n) {
            any = lists
                .iter()
                .find(|(c, _)| *c == next)
                .map(|(_, v)| v.clone());
            let mut lo = Bound::Unbounded;
            let mut hi = Bound::Unbounded;
            for (c, op, v) in &preds {
                if *c != next {
                    continue;
                }
                match op {
                    BinOp::Gt => lo = Bound::Excluded((*v).clone()),
                    BinOp::GtEq => lo = Bound::Included((*v).clone()),
                    BinOp::Lt => hi = Bound::Excluded((*v).clone()),
                    BinOp::LtEq => hi = Bound::Included((*v).clone()),
                    _ => {}
                }
            }
            if !matches!((&lo, &hi), (Bound::Unbounded, Bound::Unbounded)) {
                range = Some((lo, hi));
            }
        }
        if any.is_some() {
            range = None; // a list of values beats a range on the same column
        }
        if n == 0 && range.is_none() && any.is_none() {
            continue;
        }
        // Full unique matches are best, then longer equality prefixes (a list of
        // values counting almost as one more), then ranges.
        let score = if unique && n == columns.len() {
            usize::MAX
        } else {
            n * 4
                + if any.is_some() {
                    3
                } else {
                    range.is_some() as usize
                }
        };
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((
                score,
                IndexPath {
                    index: oid,
                    columns: columns.clone(),
                    eq,
                    range,
                    any,
                },
            ));
        }
    }
    best.map(|(_, p)| p)
}

/// The column and the values of an `IN (…)` list, `= ANY (array)` or an OR of
/// equalities of one column, when the values are row-independent.
fn in_values(c: &Expr) -> Option<(usize, AnyValues)> {
    match c {
        Expr::InList(x, list, false) => match x.as_ref() {
            Expr::Column(i, _) if list.iter().all(row_independent) => {
                Some((*i, AnyValues::List(list.clone())))
            }
            _ => None,
        },
        Expr::Func(Func::Typed(super::type_funcs::TypeFn::AnyAll(BinOp::Eq, false)), args, _) => {
            match args.as_slice() {
                [Expr::Column(i, _), arr] if row_independent(arr) => {
                    Some((*i, AnyValues::Array(arr.clone())))
                }
                _ => None,
            }
        }
        Expr::Or(a, b) => {
            let (ca, va) = in_values(a).or_else(|| eq_value(a))?;
            let (cb, vb) = in_values(b).or_else(|| eq_value(b))?;
            match (va, vb) {
                (AnyValues::List(mut x), AnyValues::List(y)) if ca == cb => {
                    x.extend(y);
                    Some((ca, AnyValues::List(x)))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// `ORDER BY col [DESC] LIMIT n` over one stored table, where `col` leads the primary
/// key or an index and its values sort as their index encoding: the index to read in
/// order (its OID, `heap::PK_INDEX` for the primary key, and its name) and whether
/// descending. Rows then come in ORDER BY's order and the scan stops once LIMIT (plus
/// OFFSET) rows passed the filter, instead of reading and sorting the whole table.
pub fn ordered_index(p: &SelectPlan) -> Option<(u32, String, bool)> {
    let Source::Table { def, key: None, .. } = &p.source else {
        return None;
    };
    if p.group.is_some() || p.distinct || p.lock.is_some() || p.limit.is_none() {
        return None;
    }
    let [(idx, desc, nulls_first)] = p.order.as_slice() else {
        return None;
    };
    // The index puts NULLs last: ASC NULLS LAST and DESC NULLS FIRST only.
    if nulls_first != desc {
        return None;
    }
    let Some(Expr::Column(col, _)) = p.exprs.get(*idx) else {
        return None;
    };
    let ordered_type = matches!(
        def.columns.get(*col).map(|c| c.data_type),
        Some(
            DataType::Int2
                | DataType::Int4
                | DataType::Int8
                | DataType::Oid
                | DataType::Date
                | DataType::Timestamp
                | DataType::TimestampTz
                | DataType::Bool
        )
    );
    if !ordered_type {
        return None;
    }
    if def.primary_key.as_ref().and_then(|pk| pk.first()) == Some(col) {
        return Some((crate::storage::heap::PK_INDEX, def.pkey_name.clone(), *desc));
    }
    def.indexes
        .iter()
        .find(|ix| ix.columns.first() == Some(col) && ix.predicate.is_none())
        .map(|ix| (ix.oid, ix.name.clone(), *desc))
}

/// The column an `IN` list, `= ANY` or OR of equalities looks up (EXPLAIN's Index
/// Cond).
pub fn index_column_list(c: &Expr) -> Option<usize> {
    in_values(c).map(|(col, _)| col)
}

/// `col = value` as a one-value list.
fn eq_value(c: &Expr) -> Option<(usize, AnyValues)> {
    match c {
        Expr::Binary(BinOp::Eq, l, r, _) => match (l.as_ref(), r.as_ref()) {
            (Expr::Column(i, _), v) | (v, Expr::Column(i, _)) if row_independent(v) => {
                Some((*i, AnyValues::List(vec![v.clone()])))
            }
            _ => None,
        },
        _ => None,
    }
}

fn apply_alias_columns(scope: &mut Scope, alias: Option<&ast::TableAlias>) -> Result<()> {
    if let Some(a) = alias {
        if a.columns.len() > scope.cols.len() {
            bail!(
                sqlstate::INVALID_COLUMN_REFERENCE,
                "table \"{}\" has {} columns available but {} columns specified",
                fold(&a.name),
                scope.cols.len(),
                a.columns.len()
            );
        }
        for (c, ac) in scope.cols.iter_mut().zip(&a.columns) {
            c.name = fold(&ac.name);
        }
    }
    Ok(())
}

fn is_default_keyword(e: &ast::Expr) -> bool {
    matches!(e, ast::Expr::Identifier(id) if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("default"))
}

pub(crate) fn agg_func(name: &str, star: bool, nargs: usize) -> Option<AggFunc> {
    Some(match (name, star, nargs) {
        ("count", true, 0) => AggFunc::CountStar,
        ("count", false, 1) => AggFunc::Count,
        ("sum", false, 1) => AggFunc::Sum,
        ("min", false, 1) => AggFunc::Min,
        ("max", false, 1) => AggFunc::Max,
        ("avg", false, 1) => AggFunc::Avg,
        ("string_agg", false, 2) => AggFunc::StringAgg,
        ("bool_and" | "every", false, 1) => AggFunc::BoolAnd,
        ("bool_or", false, 1) => AggFunc::BoolOr,
        // Counted with the WITHIN GROUP value (bound) or without (as written).
        ("percentile_cont", false, 1 | 2) => {
            AggFunc::OrderedSet(super::aggregate::OrderedSet::PercentileCont)
        }
        ("percentile_disc", false, 1 | 2) => {
            AggFunc::OrderedSet(super::aggregate::OrderedSet::PercentileDisc)
        }
        ("mode", false, 0 | 1) => AggFunc::OrderedSet(super::aggregate::OrderedSet::Mode),
        (
            "stddev" | "stddev_samp" | "stddev_pop" | "variance" | "var_samp" | "var_pop",
            false,
            1,
        ) => AggFunc::Stat(super::aggregate::Stat {
            variance: name.starts_with("var"),
            pop: name.ends_with("_pop"),
        }),
        (n, false, k) => AggFunc::Collect(super::type_funcs::collect_agg(n, k)?),
        _ => return None,
    })
}

/// Whether an AST expression contains an aggregate call.
fn contains_aggregate(e: &ast::Expr) -> bool {
    match e {
        ast::Expr::Function(f) => {
            // Case-folded as identifiers are (`"avg"(x)` is avg; `"AVG"` is not).
            let name = f
                .name
                .0
                .iter()
                .map(|p| p.as_ident().map_or_else(|| p.to_string(), fold))
                .collect::<Vec<_>>()
                .join(".");
            // Built-in aggregates live in pg_catalog (`pg_catalog.array_agg(…)`).
            let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
            let (n, star) = match &f.args {
                ast::FunctionArguments::List(l) => (
                    l.args.len(),
                    l.args.iter().any(|a| {
                        matches!(a, ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard))
                    }),
                ),
                _ => (0, false),
            };
            if f.over.is_none() && agg_func(name, star, if star { 0 } else { n }).is_some() {
                return true;
            }
            match &f.args {
                ast::FunctionArguments::List(l) => l.args.iter().any(|a| match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x)) => {
                        contains_aggregate(x)
                    }
                    _ => false,
                }),
                _ => false,
            }
        }
        ast::Expr::BinaryOp { left, right, .. } => {
            contains_aggregate(left) || contains_aggregate(right)
        }
        ast::Expr::UnaryOp { expr, .. }
        | ast::Expr::Nested(expr)
        | ast::Expr::Cast { expr, .. }
        | ast::Expr::IsNull(expr)
        | ast::Expr::IsNotNull(expr) => contains_aggregate(expr),
        ast::Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            operand.as_deref().is_some_and(contains_aggregate)
                || conditions
                    .iter()
                    .any(|c| contains_aggregate(&c.condition) || contains_aggregate(&c.result))
                || else_result.as_deref().is_some_and(contains_aggregate)
        }
        _ => false,
    }
}

/// PostgreSQL's default output column name for an expression (FigureColname).
pub fn figure_colname(e: &ast::Expr) -> String {
    fn go(e: &ast::Expr) -> Option<String> {
        match e {
            ast::Expr::Identifier(i) => Some(fold(i)),
            ast::Expr::CompoundIdentifier(v) => v.last().map(fold),
            ast::Expr::Function(f) => f.name.0.last().and_then(|p| match p {
                ast::ObjectNamePart::Identifier(i) => Some(fold(i)),
                _ => None,
            }),
            ast::Expr::Nested(x) => go(x),
            // `a[1]` is named after `a`; `(r).f` after the field `f`.
            ast::Expr::CompoundFieldAccess { root, access_chain } => match access_chain.last() {
                Some(ast::AccessExpr::Dot(f)) => go(f),
                _ => go(root),
            },
            // A name from beneath any casts (a column's, a function's) wins; otherwise
            // the outermost type names the column, as PostgreSQL's FigureColname ranks
            // a type name below the others.
            ast::Expr::Cast {
                expr, data_type, ..
            } => {
                let mut inner = expr.as_ref();
                while let ast::Expr::Cast { expr, .. } | ast::Expr::Nested(expr) = inner {
                    inner = expr;
                }
                match inner {
                    ast::Expr::TypedString(_) => None,
                    x => go(x),
                }
            }
            .or_else(|| {
                super::catalog_funcs::reg_kind(&data_type.to_string())
                    .map(|k| k.type_name().to_string())
            })
            .or_else(|| {
                convert_type(data_type)
                    .ok()
                    .map(|(t, _)| t.column_name().to_string())
            }),
            ast::Expr::TypedString(ts) => convert_type(&ts.data_type)
                .ok()
                .map(|(t, _)| t.column_name().to_string()),
            ast::Expr::Case { .. } => Some("case".into()),
            ast::Expr::Exists { negated: false, .. } => Some("exists".into()),
            // SQL-syntax functions carry the name of the function they call.
            ast::Expr::Extract { .. } => Some("extract".into()),
            ast::Expr::Substring { .. } => Some("substring".into()),
            ast::Expr::Trim { .. } => Some("btrim".into()),
            ast::Expr::Position { .. } => Some("position".into()),
            ast::Expr::Overlay { .. } => Some("overlay".into()),
            ast::Expr::Ceil { .. } => Some("ceil".into()),
            ast::Expr::Floor { .. } => Some("floor".into()),
            ast::Expr::AtTimeZone { .. } => Some("timezone".into()),
            ast::Expr::Array(_) => Some("array".into()),
            ast::Expr::Interval(_) => Some("interval".into()),
            ast::Expr::Tuple(_) => Some("row".into()),
            ast::Expr::Collate { expr, .. } => go(expr),
            // A scalar subquery is named after its (first) result column.
            ast::Expr::Subquery(q) => match q.body.as_ref() {
                ast::SetExpr::Select(sel) => match sel.projection.first() {
                    Some(ast::SelectItem::UnnamedExpr(x)) => go(x),
                    Some(ast::SelectItem::ExprWithAlias { alias, .. }) => Some(fold(alias)),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    }
    go(e).unwrap_or_else(|| "?column?".into())
}

/// The quoted name under which `sql::pg_clauses` hands an ON CONFLICT inference
/// specification sqlparser cannot parse over (as the target's one "column"; no real
/// column has a name with a NUL in it).
const CONFLICT_TARGET_KEY: &str = "tusk conflict target\u{0}";

/// Records an inference specification on the parsed INSERT … ON CONFLICT.
pub fn mark_conflict_target(ins: &mut ast::Insert, t: &super::pg_clauses::ConflictTarget) {
    if let Some(ast::OnInsert::OnConflict(oc)) = &mut ins.on {
        let text = format!(
            "{CONFLICT_TARGET_KEY}{}\u{0}{}",
            t.elements,
            t.predicate.as_deref().unwrap_or("")
        );
        let mut id = ast::Ident::with_quote('"', text);
        // (an empty predicate and none are told apart by the marker's last field)
        if t.predicate.is_none() {
            id.value.push('\u{0}');
        }
        oc.conflict_target = Some(ast::ConflictTarget::Columns(vec![id]));
    }
}

/// The inference specification [`mark_conflict_target`] recorded: (elements,
/// predicate).
fn conflict_target_of(cols: &[ast::Ident]) -> Option<(String, Option<String>)> {
    let [id] = cols else { return None };
    let rest = id.value.strip_prefix(CONFLICT_TARGET_KEY)?;
    let mut parts = rest.split('\u{0}');
    let elements = parts.next()?.to_string();
    let predicate = parts.next()?.to_string();
    let none = parts.next().is_some();
    Some((elements, (!none).then_some(predicate)))
}

/// The setting key under which `sql::pg_clauses` hands an INSERT's OVERRIDING clause
/// over (sqlparser's INSERT has no such field; PostgreSQL has no SETTINGS clause).
const OVERRIDING_KEY: &str = "tusk overriding";

/// Records an INSERT's `OVERRIDING … VALUE` clause on the parsed statement.
pub fn mark_overriding(ins: &mut ast::Insert, o: super::pg_clauses::Overriding) {
    let word = match o {
        super::pg_clauses::Overriding::System => "system",
        super::pg_clauses::Overriding::User => "user",
    };
    ins.settings = Some(vec![ast::Setting {
        key: ast::Ident::with_quote('"', OVERRIDING_KEY),
        value: ast::Expr::Identifier(ast::Ident::new(word)),
    }]);
}

/// The OVERRIDING clause recorded by [`mark_overriding`]; any other SETTINGS is not
/// PostgreSQL's.
fn overriding_of(ins: &ast::Insert) -> Result<Option<super::pg_clauses::Overriding>> {
    let Some(settings) = &ins.settings else {
        return Ok(None);
    };
    match settings.as_slice() {
        [ast::Setting {
            key,
            value: ast::Expr::Identifier(w),
        }] if key.value == OVERRIDING_KEY => Ok(Some(if w.value == "system" {
            super::pg_clauses::Overriding::System
        } else {
            super::pg_clauses::Overriding::User
        })),
        _ => bail!(
            sqlstate::SYNTAX_ERROR,
            "syntax error at or near \"SETTINGS\""
        ),
    }
}

/// Converts a sqlparser type to tusk's type and typmod.
pub fn convert_type(t: &ast::DataType) -> Result<(DataType, i32)> {
    let text = t.to_string();
    let lower = text.to_lowercase();
    let (base, mods) = match lower.find('(') {
        Some(i) => {
            let close = lower.rfind(')').unwrap_or(lower.len());
            let mods: Vec<String> = lower[i + 1..close]
                .split(',')
                .map(|s| s.trim().to_string())
                .collect();
            let rest = lower[close.saturating_add(1).min(lower.len())..]
                .trim()
                .to_string();
            let base = format!("{} {}", lower[..i].trim(), rest).trim().to_string();
            (base, mods)
        }
        None => (lower.clone(), vec![]),
    };
    let base = base.replace("[]", "").trim().to_string();
    // Built-in types live in pg_catalog: `pg_catalog.text` is `text`.
    let base = match base.strip_prefix("pg_catalog.") {
        Some(b) if DataType::from_sql_name(b).is_some() => b.to_string(),
        _ => base,
    };
    let is_array = lower.ends_with("[]");
    if base.contains("serial") {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "type {base} is not supported yet"
        );
    }
    let mut ty = DataType::from_sql_name(&base)
        .or_else(|| super::enums::type_by_name(&base))
        .ok_or_else(|| {
            err!(
                sqlstate::UNDEFINED_OBJECT,
                "type \"{}\" does not exist",
                base
            )
        })?;
    if is_array {
        ty = crate::types::array::array_type_of(ty).ok_or_else(|| {
            err!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "arrays of type {} are not supported yet",
                ty.name()
            )
        })?;
    }
    let num = |s: &str| -> Result<u32> {
        s.parse::<u32>()
            .map_err(|_| err!(sqlstate::SYNTAX_ERROR, "invalid type modifier"))
    };
    let typmod = match (ty, mods.len()) {
        (DataType::Bpchar, 0) if base != "bpchar" => 5,
        (_, 0) => -1,
        (DataType::Bpchar, 1) => {
            let n = num(&mods[0])?;
            if n == 0 {
                bail!(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "length for type char must be at least 1"
                );
            }
            n as i32 + 4
        }
        (DataType::Varchar, 1) => {
            let n = num(&mods[0])?;
            if n == 0 {
                bail!(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "length for type varchar must be at least 1"
                );
            }
            n as i32 + 4
        }
        (DataType::Numeric, 1 | 2) => {
            let p = num(&mods[0])?;
            let s = if mods.len() == 2 { num(&mods[1])? } else { 0 };
            if !(1..=1000).contains(&p) {
                bail!(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "NUMERIC precision {p} must be between 1 and 1000"
                );
            }
            if s > p {
                bail!(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "NUMERIC scale {s} must be between 0 and precision {p}"
                );
            }
            numeric_typmod(p, s)
        }
        (DataType::Timestamp | DataType::TimestampTz, 1) => -1,
        // time(p): PostgreSQL reduces a precision above 6 to 6 (with a warning).
        (DataType::Time | DataType::TimeTz, 1) => {
            num(&mods[0])?.min(crate::types::time::MAX_TIME_PRECISION as u32) as i32
        }
        (DataType::Float8, 1) => {
            // float(p): p <= 24 is real.
            let p = num(&mods[0])?;
            if p <= 24 {
                ty = DataType::Float4;
            }
            -1
        }
        _ => bail!(
            sqlstate::SYNTAX_ERROR,
            "type modifier is not allowed for type \"{}\"",
            base
        ),
    };
    Ok((ty, typmod))
}

/// Whether `from` converts to `to` in the given context.
pub fn castable(from: DataType, to: DataType, how: Coercion) -> bool {
    use DataType::*;
    if from == to || from == Unknown {
        return true;
    }
    if let (Some(a), Some(b)) = (
        crate::types::array::elem_type(from),
        crate::types::array::elem_type(to),
    ) {
        return castable(a, b, how);
    }
    let rank = |t: DataType| match t {
        Int2 => 1,
        Int4 => 2,
        Int8 => 3,
        Numeric => 4,
        Float4 => 5,
        Float8 => 6,
        _ => 0,
    };
    let (rf, rt) = (rank(from), rank(to));
    let implicit = (rf > 0 && rt > rf)
        || (from.is_string() && to.is_string())
        || matches!(
            (from, to),
            (Date, Timestamp | TimestampTz) | (Timestamp, TimestampTz) | (Time, Interval | TimeTz)
        )
        || (from == Oid && rt >= 2)
        || (rf > 0 && rf <= 3 && to == Oid);
    if implicit {
        return true;
    }
    let assignment = matches!((from, to), (Json, Jsonb) | (Jsonb, Json))
        || (rf > 0 && rt > 0)
        || to.is_string()
        || matches!(
            (from, to),
            (Timestamp | TimestampTz, Date)
                | (TimestampTz, Timestamp)
                | (Timestamp | TimestampTz | Interval | TimeTz, Time)
                | (TimestampTz, TimeTz)
        );
    match how {
        Coercion::Implicit => false,
        Coercion::Assignment => assignment,
        Coercion::Explicit => true,
    }
}

/// Whether two types can be compared directly.
pub fn comparable(a: DataType, b: DataType) -> bool {
    use DataType::*;
    (a == b && a != Json)
        || (a.is_numeric() && b.is_numeric())
        || (a.is_string() && b.is_string())
        || (matches!(a, Date | Timestamp | TimestampTz)
            && matches!(b, Date | Timestamp | TimestampTz))
}

/// A FieldDesc for a result column.
pub fn field(name: &str, ty: DataType, typmod: i32, table_oid: u32, attnum: i16) -> FieldDesc {
    let ty = if ty == DataType::Unknown {
        DataType::Text
    } else {
        ty
    };
    FieldDesc {
        name: name.to_string(),
        table_oid,
        column_id: attnum,
        type_oid: ty.oid(),
        type_len: ty.type_len(),
        typmod,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(indexes: Vec<IndexDef>) -> TableDef {
        let col = |n: &str| ColumnDef {
            name: n.into(),
            data_type: DataType::Int4,
            typmod: -1,
            not_null: false,
            default: None,
            dropped: false,
            generated: None,
        };
        TableDef {
            oid: 1,
            schema: 2200,
            name: "t".into(),
            owner: 10,
            columns: vec![col("a"), col("b"), col("c")],
            primary_key: None,
            pkey_name: "t_pkey".into(),
            indexes,
        }
    }

    fn ix(oid: u32, columns: Vec<usize>, unique: bool) -> IndexDef {
        IndexDef {
            oid,
            name: format!("i{oid}"),
            columns,
            unique,
            constraint: false,
            predicate: None,
            options: vec![],
        }
    }

    fn col(i: usize) -> Expr {
        Expr::Column(i, DataType::Int4)
    }

    fn lit(v: i32) -> Expr {
        Expr::Const(Value::Int4(v), DataType::Int4)
    }

    fn cmp(op: BinOp, l: Expr, r: Expr) -> Expr {
        Expr::Binary(op, Box::new(l), Box::new(r), DataType::Bool)
    }

    fn and(l: Expr, r: Expr) -> Expr {
        Expr::And(Box::new(l), Box::new(r))
    }

    #[test]
    fn equality_on_a_prefix_picks_the_longest_match() {
        let def = table(vec![ix(10, vec![0], false), ix(11, vec![0, 1], false)]);
        let f = and(
            cmp(BinOp::Eq, col(1), lit(2)),
            cmp(BinOp::Eq, lit(1), col(0)),
        );
        let p = index_path(&def, Some(&f)).unwrap();
        assert_eq!(p.index, 11);
        assert_eq!(p.eq.len(), 2);
        assert!(p.range.is_none());
        // Only the first column constrained: either index, one value.
        let f = cmp(BinOp::Eq, col(0), Expr::Param(0, DataType::Int4));
        let p = index_path(&def, Some(&f)).unwrap();
        assert_eq!(p.eq.len(), 1);
        // A column not leading any index, or a row-dependent value: no index.
        assert!(index_path(&def, Some(&cmp(BinOp::Eq, col(1), lit(1)))).is_none());
        assert!(index_path(&def, Some(&cmp(BinOp::Eq, col(0), col(1)))).is_none());
        assert!(index_path(&def, None).is_none());
        // An OR of equalities of one column is a list of lookups; of two columns, none.
        let f = Expr::Or(
            Box::new(cmp(BinOp::Eq, col(0), lit(1))),
            Box::new(cmp(BinOp::Eq, col(0), lit(2))),
        );
        let p = index_path(&def, Some(&f)).unwrap();
        assert!(matches!(p.any, Some(AnyValues::List(ref v)) if v.len() == 2));
        let f = Expr::Or(
            Box::new(cmp(BinOp::Eq, col(0), lit(1))),
            Box::new(cmp(BinOp::Eq, col(1), lit(2))),
        );
        assert!(index_path(&def, Some(&f)).is_none());
        // IN (…) on the leading column.
        let f = Expr::InList(Box::new(col(0)), vec![lit(1), lit(5)], false);
        assert!(index_path(&def, Some(&f)).unwrap().any.is_some());
        let f = Expr::InList(Box::new(col(0)), vec![lit(1), lit(5)], true);
        assert!(index_path(&def, Some(&f)).is_none());
    }

    #[test]
    fn a_fully_matched_unique_index_wins() {
        let def = table(vec![ix(10, vec![0, 1], false), ix(11, vec![2], true)]);
        let f = and(
            and(
                cmp(BinOp::Eq, col(0), lit(1)),
                cmp(BinOp::Eq, col(1), lit(1)),
            ),
            cmp(BinOp::Eq, col(2), lit(3)),
        );
        assert_eq!(index_path(&def, Some(&f)).unwrap().index, 11);
    }

    #[test]
    fn ranges_on_the_first_column_and_after_an_equality_prefix() {
        let def = table(vec![ix(10, vec![0, 1], false)]);
        // a BETWEEN 1 AND 5 (bound as a >= 1 AND a <= 5); 7 > a flips to a < 7.
        let f = and(
            and(
                cmp(BinOp::GtEq, col(0), lit(1)),
                cmp(BinOp::LtEq, col(0), lit(5)),
            ),
            cmp(BinOp::Gt, lit(7), col(0)),
        );
        let p = index_path(&def, Some(&f)).unwrap();
        assert!(p.eq.is_empty());
        let (lo, hi) = p.range.unwrap();
        assert!(matches!(
            lo,
            Bound::Included(Expr::Const(Value::Int4(1), _))
        ));
        assert!(
            matches!(hi, Bound::Excluded(Expr::Const(Value::Int4(7), _)))
                || matches!(hi, Bound::Included(Expr::Const(Value::Int4(5), _)))
        );
        // a = 1 AND b > 3: equality prefix, then a range on b.
        let f = and(
            cmp(BinOp::Eq, col(0), lit(1)),
            cmp(BinOp::Gt, col(1), lit(3)),
        );
        let p = index_path(&def, Some(&f)).unwrap();
        assert_eq!(p.eq.len(), 1);
        let (lo, hi) = p.range.unwrap();
        assert!(matches!(
            lo,
            Bound::Excluded(Expr::Const(Value::Int4(3), _))
        ));
        assert!(matches!(hi, Bound::Unbounded));
        // <> is not a range.
        assert!(index_path(&def, Some(&cmp(BinOp::NotEq, col(0), lit(1)))).is_none());
    }
}
