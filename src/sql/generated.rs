//! Values a table computes from its own columns: the hidden key columns of indexes on
//! expressions and of partial indexes, and stored generated columns (`GENERATED ALWAYS
//! AS (expr) STORED`), which are the same mechanism made visible.
//!
//! # The idea
//! `CREATE UNIQUE INDEX ON users (lower(email))` adds to `users` a hidden column (a
//! `dropped` column whose `ColumnDef::generated` holds `lower(email)`) and indexes it
//! like any column; `CREATE INDEX … WHERE deleted_at IS NULL` adds a hidden boolean
//! column holding the predicate, and the index holds only rows where it is true
//! (`IndexDef::predicate`). The values are computed here, by the SQL layer, every time a
//! row is written ([`fill`]: INSERT, UPDATE, ON CONFLICT DO UPDATE, COPY, cascaded
//! foreign-key actions, ALTER TABLE's rewrites) and stored in the row version, so the
//! storage engine indexes them by position, checks uniqueness and rebuilds them at redo
//! without ever evaluating an expression — the WAL carries them in the rows, and a
//! standby's indexes are the primary's. Statements never see the hidden columns (they
//! are `dropped` to every name lookup and `*`).
//!
//! # What it owns
//! - binding the stored expressions against their table (cached per session and
//!   catalog version, as CHECK constraints are) and computing them ([`fill`]);
//! - the rules PostgreSQL sets on them ([`check_index_expr`]: immutable functions only,
//!   no subqueries, no aggregates);
//! - the filter rewrite that lets a query use such an index ([`index_filter`]): each
//!   subexpression equal to an index expression becomes a reference to its hidden
//!   column, and a conjunct equal to a partial index's predicate becomes a reference to
//!   the predicate column, which `plan::index_path` then treats as plain columns.
//!
//! # What it must never do
//! Let a row reach the engine with a stale hidden value (every write path calls
//! [`fill`] before its NOT NULL and CHECK tests), or let a query evaluate a hidden
//! column in place of the expression for anything but choosing and reading an index
//! (the full filter is always evaluated on the rows an index returns).

use super::expr::{eval, Expr, Func};
use super::plan::fold;
use super::plan::{Binder, Coercion, Scope};
use super::ExecCtx;
use crate::error::{sqlstate, Result};
use crate::storage::{Engine, TableDef};
use crate::types::{self, DataType, Value};
use crate::{bail, err};
use sqlparser::ast;
use std::sync::Arc;

/// A table's generation expressions bound for evaluation: (column position, expression).
pub type BoundGenerated = Arc<Vec<(usize, Expr)>>;

/// The name a hidden key column gets (never a name a statement can reach: the same
/// shape as a dropped column's, which it is to every lookup).
pub fn hidden_name(pos: usize) -> String {
    format!("........pg.expr.{}........", pos + 1)
}

/// Parses and binds a stored expression over the table's columns, as it is typed.
pub fn bind_raw(engine: &Engine, db: u32, def: &TableDef, text: &str) -> Result<Expr> {
    let e = crate::sql::depth::parse_stored(text, |p| p.parse_expr())
        .map_err(|e| err!(sqlstate::INTERNAL_ERROR, "invalid stored expression: {e}"))?;
    Binder::new(engine, db, text, 0, vec![]).bind(&e, &Scope::of_table(def, &def.name))
}

/// Whether a stored expression's text names the column `name` (an identifier token
/// equal to it: unquoted ones case-folded).
pub fn uses_column(text: &str, name: &str) -> bool {
    use sqlparser::tokenizer::{Token, Tokenizer};
    let dialect = crate::sql::dialect::PG;
    Tokenizer::new(&dialect, text)
        .tokenize()
        .unwrap_or_default()
        .iter()
        .any(|t| match t {
            Token::Word(w) if w.quote_style.is_none() => w.value.to_lowercase() == name,
            Token::Word(w) => w.value == name,
            _ => false,
        })
}

/// Parses and binds one stored generation expression over the table's columns, coerced
/// to the type of the column that holds it.
pub fn bind(engine: &Engine, db: u32, def: &TableDef, pos: usize, text: &str) -> Result<Expr> {
    let bound = bind_raw(engine, db, def, text)?;
    let mut b = Binder::new(engine, db, text, 0, vec![]);
    let col = &def.columns[pos];
    b.coerce(
        bound,
        col.data_type,
        col.typmod,
        Coercion::Assignment,
        sqlparser::tokenizer::Span::empty(),
    )
}

/// The table's generation expressions, bound (cached in the session per catalog
/// version); empty for a table without any.
pub fn bound(cx: &mut ExecCtx<'_>, db: u32, def: &TableDef) -> Result<BoundGenerated> {
    if def.columns.iter().all(|c| c.generated.is_none()) {
        return Ok(Arc::new(Vec::new()));
    }
    let version = cx.engine.catalog_version();
    let key = (db, def.oid);
    if let Some((v, b)) = cx.ddl.generated.get(&key) {
        if *v == version {
            return Ok(b.clone());
        }
    }
    let out = Arc::new(bind_all(cx.engine, db, def)?);
    cx.ddl.generated.insert(key, (version, out.clone()));
    Ok(out)
}

/// Binds every generation expression of a definition (one not stored yet, too).
pub fn bind_all(engine: &Engine, db: u32, def: &TableDef) -> Result<Vec<(usize, Expr)>> {
    let mut out = Vec::new();
    for (pos, c) in def.columns.iter().enumerate() {
        if let Some(text) = &c.generated {
            out.push((pos, bind(engine, db, def, pos, text)?));
        }
    }
    Ok(out)
}

/// Computes the generated columns of a row about to be written (a row narrower than
/// its table is widened with NULLs first).
pub fn fill(cx: &mut ExecCtx<'_>, db: u32, def: &TableDef, row: &mut Vec<Value>) -> Result<()> {
    // Most tables have none: no cache to look in for every row written.
    if def.columns.iter().all(|c| c.generated.is_none()) {
        return Ok(());
    }
    let exprs = bound(cx, db, def)?;
    fill_bound(cx, def, &exprs, row)
}

/// [`fill`] with expressions bound by [`bind_all`].
pub fn fill_bound(
    cx: &mut ExecCtx<'_>,
    def: &TableDef,
    exprs: &[(usize, Expr)],
    row: &mut Vec<Value>,
) -> Result<()> {
    if exprs.is_empty() {
        return Ok(());
    }
    if row.len() < def.columns.len() {
        row.resize(def.columns.len(), Value::Null);
    }
    for (pos, e) in exprs.iter() {
        let v = eval(e, row, cx)?;
        let c = &def.columns[*pos];
        row[*pos] = if v.is_null() {
            v
        } else {
            types::cast(v, c.data_type, c.typmod, false)?
        };
    }
    Ok(())
}

/// Whether a function gives the same result for the same arguments whatever the
/// session (PostgreSQL's IMMUTABLE), as far as tusk's built-ins go; unknown ones are
/// taken as not.
fn immutable_func(f: Func, args: &[Expr]) -> bool {
    let no_tz = || {
        args.iter()
            .all(|a| !matches!(a.ty(), DataType::TimestampTz | DataType::TimeTz))
    };
    match f {
        Func::Coalesce
        | Func::NullIf
        | Func::Greatest
        | Func::Least
        | Func::Lower
        | Func::Upper
        | Func::Length
        | Func::Abs
        | Func::Round
        | Func::Replace
        | Func::Substr
        | Func::Left
        | Func::Right
        | Func::Repeat
        | Func::StrPos
        | Func::Md5
        | Func::Btrim
        | Func::Ltrim
        | Func::Rtrim
        | Func::Reverse
        | Func::NumNulls(_)
        | Func::Regex(_) => true,
        // The timestamptz forms depend on TimeZone (STABLE in PostgreSQL).
        Func::Extract | Func::DatePart | Func::DateTrunc => no_tz(),
        Func::Typed(t) => !super::type_funcs::is_volatile(t),
        Func::Str(s) => !super::string_funcs::is_volatile(s),
        _ => false,
    }
}

/// Whether a cast's result depends on the session (TimeZone, DateStyle): those
/// between a zoned type and another type.
fn session_cast(from: DataType, to: DataType) -> bool {
    let zoned = |t| matches!(t, DataType::TimestampTz | DataType::TimeTz);
    from != to && (zoned(from) || zoned(to))
}

/// PostgreSQL's rules for an index expression or predicate (`what`: "index
/// expression" or "index predicate"): no subqueries (0A000), immutable functions and
/// casts only (42P17).
pub fn check_index_expr(e: &Expr, what: &str) -> Result<()> {
    check_pure(
        e,
        &format!("cannot use subquery in {what}"),
        &format!("functions in {what} must be marked IMMUTABLE"),
    )
}

/// PostgreSQL's rules for a stored generated column's expression: no subqueries
/// (0A000), immutable (42P17), no other generated column (42P17; `generated`: the
/// names of the table's generated columns), given its text.
pub fn check_generation_expr(e: &Expr, text: &str, generated: &[&str]) -> Result<()> {
    check_pure(
        e,
        "cannot use subquery in column generation expression",
        "generation expression is not immutable",
    )?;
    if let Some(g) = generated.iter().find(|g| uses_column(text, g)) {
        return Err(err!(
            sqlstate::INVALID_OBJECT_DEFINITION,
            "cannot use generated column \"{g}\" in column generation expression"
        )
        .with_detail("A generated column cannot reference another generated column."));
    }
    Ok(())
}

/// No subqueries (0A000 `subquery`), immutable functions and casts only (42P17
/// `immutable`).
fn check_pure(e: &Expr, subquery: &str, immutable: &str) -> Result<()> {
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Subquery(..)
            | Expr::ArraySubquery(..)
            | Expr::Exists(..)
            | Expr::InSubquery(..)
            | Expr::Correlated(..)
            | Expr::OuterColumn(..) => bail!(sqlstate::FEATURE_NOT_SUPPORTED, "{subquery}"),
            Expr::Func(f, args, _) => {
                if !immutable_func(*f, args) {
                    bail!(sqlstate::INVALID_OBJECT_DEFINITION, "{immutable}");
                }
                stack.extend(args);
            }
            Expr::Cast(x, to, _, _) => {
                if session_cast(x.ty(), *to) {
                    bail!(sqlstate::INVALID_OBJECT_DEFINITION, "{immutable}");
                }
                stack.push(x);
            }
            other => stack.extend(children(other)),
        }
    }
    Ok(())
}

/// The direct subexpressions of an expression (none for subqueries: their plans are
/// not walked).
fn children(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::Binary(_, l, r, _)
        | Expr::And(l, r)
        | Expr::Or(l, r)
        | Expr::IsDistinct(l, r, _)
        | Expr::Like(l, r, _, _) => vec![l, r],
        Expr::Neg(x, _)
        | Expr::Not(x)
        | Expr::IsNull(x, _)
        | Expr::IsBool(x, _, _)
        | Expr::Cast(x, _, _, _) => vec![x],
        Expr::Func(_, args, _) => args.iter().collect(),
        Expr::Case(arms, other, _) => {
            let mut v: Vec<&Expr> = arms.iter().flat_map(|(w, t)| [w, t]).collect();
            v.extend(other.as_deref());
            v
        }
        Expr::InList(x, list, _) => std::iter::once(x.as_ref()).chain(list).collect(),
        _ => vec![],
    }
}

/// How an expression is compared with a key: its debug form (bound expressions carry
/// no identity, so it compares them fully), except that a cast without a type modifier
/// counts the same written (`(email)::text`, as pg_dump restores an index) or implied
/// by the binder (`lower(email)` over a varchar): both give the same value. Only
/// `Expr::Cast` has an `i32, bool)` tail.
fn shown(e: &Expr) -> String {
    format!("{e:?}").replace(", -1, true)", ", -1, false)")
}

/// A hidden key column's expression, with its [`shown`] form.
struct Key {
    pos: usize,
    expr: Expr,
    shown: String,
}

/// `e` with every subexpression equal to one of `keys` replaced by its column (each
/// subexpression is shown once, and only when a key of its kind exists).
fn replace(e: &Expr, keys: &[Key]) -> Expr {
    let kind = std::mem::discriminant(e);
    if keys.iter().any(|k| std::mem::discriminant(&k.expr) == kind) {
        let shown = shown(e);
        if let Some(k) = keys.iter().find(|k| k.shown == shown) {
            return Expr::Column(k.pos, k.expr.ty());
        }
    }
    let r = |x: &Expr| Box::new(replace(x, keys));
    match e {
        Expr::Binary(op, l, rr, t) => Expr::Binary(*op, r(l), r(rr), *t),
        Expr::And(l, rr) => Expr::And(r(l), r(rr)),
        Expr::Or(l, rr) => Expr::Or(r(l), r(rr)),
        Expr::IsDistinct(l, rr, n) => Expr::IsDistinct(r(l), r(rr), *n),
        Expr::Like(l, rr, n, i) => Expr::Like(r(l), r(rr), *n, *i),
        Expr::Neg(x, t) => Expr::Neg(r(x), *t),
        Expr::Not(x) => Expr::Not(r(x)),
        Expr::IsNull(x, n) => Expr::IsNull(r(x), *n),
        Expr::IsBool(x, w, n) => Expr::IsBool(r(x), *w, *n),
        Expr::Cast(x, t, m, ex) => Expr::Cast(r(x), *t, *m, *ex),
        Expr::Func(f, args, t) => {
            Expr::Func(*f, args.iter().map(|a| replace(a, keys)).collect(), *t)
        }
        Expr::InList(x, list, n) => {
            Expr::InList(r(x), list.iter().map(|a| replace(a, keys)).collect(), *n)
        }
        other => other.clone(),
    }
}

/// The filter as an index sees it: index expressions (and partial index predicates)
/// replaced by their hidden columns; None when the table has no such column, so the
/// filter is used as it is.
pub fn index_filter(
    cx: &mut ExecCtx<'_>,
    db: u32,
    def: &TableDef,
    filter: Option<&Expr>,
) -> Result<Option<Expr>> {
    let Some(f) = filter else {
        return Ok(None);
    };
    if !(0..def.columns.len()).any(|i| def.is_hidden_key(i)) {
        return Ok(None);
    }
    let keys: Vec<Key> = bound(cx, db, def)?
        .iter()
        .filter(|(pos, _)| def.is_hidden_key(*pos))
        .map(|(pos, e)| Key {
            pos: *pos,
            expr: e.clone(),
            shown: shown(e),
        })
        .collect();
    Ok(Some(replace(f, &keys)))
}

/// The name PostgreSQL gives an index expression when it names the index after its
/// keys: a function's name, a cast's operand's name, else `expr`.
pub fn figure_name(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Function(f) => f
            .name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(fold)
            .unwrap_or_else(|| "expr".into()),
        ast::Expr::Cast { expr, .. } | ast::Expr::Nested(expr) => figure_name(expr),
        ast::Expr::Identifier(id) => fold(id),
        ast::Expr::CompoundIdentifier(ids) => ids.last().map(fold).unwrap_or_default(),
        _ => "expr".into(),
    }
}

/// How PostgreSQL prints a key column of an index (`pg_get_indexdef`, psql's `\d`): a
/// column's quoted name; an expression deparsed (`sql::deparse`, or its text as
/// written when it has a shape that module does not print), in parentheses unless it
/// is a function call (`in_list`: as one key of the list). `pretty` is
/// `pg_get_indexdef(…, true)`'s style.
pub fn key_text(
    engine: &Engine,
    db: u32,
    def: &TableDef,
    pos: usize,
    pretty: bool,
    in_list: bool,
) -> String {
    let Some(c) = def.columns.get(pos) else {
        return String::new();
    };
    let Some(text) = c.generated.as_ref().filter(|_| c.dropped) else {
        return crate::catalog::pg_catalog::quote_ident(&c.name);
    };
    let names: Vec<String> = def.columns.iter().map(|c| c.name.clone()).collect();
    let bound = bind(engine, db, def, pos, text).ok();
    let deparsed = bound
        .as_ref()
        .and_then(|b| super::deparse::check_text(b, &names, pretty));
    let call = match (&bound, &deparsed) {
        (Some(Expr::Func(..)), Some(_)) => true,
        (_, Some(_)) => false,
        _ => {
            matches!(
                crate::sql::depth::parse_stored(text, |p| p.parse_expr()),
                Ok(ast::Expr::Function(_))
            )
        }
    };
    let (s, parenthesised) = match deparsed {
        // Plain style parenthesises every operator expression itself.
        Some(s) => (s, !pretty && !call),
        None => (text.clone(), false),
    };
    if call || (!in_list && (pretty || parenthesised)) {
        s
    } else if in_list || !parenthesised {
        format!("({s})")
    } else {
        s
    }
}

/// The expression of a `GENERATED ALWAYS AS (expr) STORED` column option, None for
/// any other option (identity columns included); PostgreSQL's errors for the forms it
/// refuses.
pub fn stored_generation(o: &ast::ColumnOption) -> Result<Option<ast::Expr>> {
    let ast::ColumnOption::Generated {
        generated_as,
        generation_expr: Some(e),
        generation_expr_mode,
        ..
    } = o
    else {
        return Ok(None);
    };
    if *generated_as != ast::GeneratedAs::Always && *generated_as != ast::GeneratedAs::ExpStored {
        bail!(
            sqlstate::SYNTAX_ERROR,
            "for a generated column, GENERATED ALWAYS must be specified"
        );
    }
    if generation_expr_mode
        .as_ref()
        .is_some_and(|m| *m != ast::GeneratedExpressionMode::Stored)
    {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "virtual generated columns are not supported"
        );
    }
    if generation_expr_mode.is_none() && *generated_as != ast::GeneratedAs::ExpStored {
        bail!(sqlstate::SYNTAX_ERROR, "syntax error at or near \")\"");
    }
    Ok(Some(e.clone()))
}
