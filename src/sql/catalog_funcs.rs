//! The system information functions clients call on the catalog: the `reg*` casts
//! (`'t'::regclass`, `'16413'::regclass`, `'version'::regproc`,
//! `'lower(text)'::regprocedure` against `catalog::pg_proc`), `format_type`, `pg_get_userbyid`,
//! `pg_table_is_visible` / `pg_type_is_visible`, `obj_description` /
//! `col_description` / `shobj_description`, `pg_get_constraintdef`, `pg_get_indexdef`,
//! `pg_get_expr`, `pg_get_viewdef`, `pg_get_serial_sequence`, `pg_encoding_to_char`,
//! `pg_size_pretty`, `pg_relation_is_publishable`.
//!
//! What it owns: the name table of those functions, their argument types and their
//! evaluation against one read of the catalog (`catalog::pg_catalog` builds the rows
//! the OIDs refer to, so a function and a catalog view always agree on an OID).
//!
//! What it must never do: change the catalog, or resolve names other than along the
//! session's search path (`catalog::search_path`).
//!
//! One call, `SELECT c.oid FROM pg_class c WHERE c.oid = 'orders'::regclass`:
//! 1. the binder sees the cast to `regclass` and binds it as [`CatalogFn::ToReg`] of
//!    the literal (inside a query a `reg*` value is an `oid`);
//! 2. at execution, [`call`] reads the text: digits are an OID as they are, a name is
//!    resolved along the search path (42P01 if no relation has it);
//! 3. the comparison is then between two `oid` values.
//!
//! A `reg*` value leaves the query as a name: [`name_reg_outputs`] wraps a top-level
//! output column that is a `reg*` cast in [`CatalogFn::RegName`] (described as
//! `text`: tusk has no `reg*` types of its own), and `x::regclass::text` binds to the same function,
//! so `SELECT c.oid::regclass` prints `orders` (or `app.customers` when `app` is not
//! on the search path) while comparisons and ORDER BY still use the OID.

use super::expr::{Expr, Func};
use super::ExecCtx;
use crate::catalog::pg_catalog;
use crate::catalog::pg_proc;
use crate::catalog::search_path;
use crate::error::{sqlstate, Result};
use crate::storage::schema::{CatalogState, PG_CATALOG_NAMESPACE};
use crate::types::{DataType, Value};
use crate::{bail, err};

/// The object class a `reg*` cast names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegKind {
    /// `regclass`: a relation.
    Class,
    /// `regtype`: a type.
    Type,
    /// `regnamespace`: a schema.
    Namespace,
    /// `regrole`: a role.
    Role,
    /// `regproc`: a function named without its arguments (`catalog::pg_proc`).
    Proc,
    /// `regprocedure`: a function with its argument types (`lower(text)`).
    Procedure,
}

/// Which `pg_get_function_*` / `pg_function_is_visible` a [`CatalogFn::FunctionInfo`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FnInfo {
    /// `pg_function_is_visible(oid)`.
    IsVisible,
    /// `pg_get_function_arguments(oid)`.
    Arguments,
    /// `pg_get_function_identity_arguments(oid)`.
    IdentityArguments,
    /// `pg_get_function_result(oid)`.
    Result,
    /// `pg_get_function_sqlbody(oid)`: built-in functions have no SQL-standard body.
    SqlBody,
}

/// A catalog information function (see the module comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogFn {
    /// A cast to `regclass`, `regtype`, `regnamespace` or `regrole`.
    ToReg(RegKind),
    /// `to_regclass(text)`, `to_regtype`, `to_regnamespace`, `to_regrole`: as the cast,
    /// but NULL for a name that resolves to nothing.
    ToRegOrNull(RegKind),
    /// `format_type(oid, int4)`.
    FormatType,
    /// `pg_get_userbyid(oid)`.
    GetUserById,
    /// `pg_table_is_visible(oid)`.
    TableIsVisible,
    /// `pg_type_is_visible(oid)`.
    TypeIsVisible,
    /// `obj_description(oid [, name])`.
    ObjDescription,
    /// `col_description(oid, int4)`.
    ColDescription,
    /// `shobj_description(oid, name)`.
    ShobjDescription,
    /// `pg_get_constraintdef(oid [, bool])`.
    GetConstraintDef,
    /// `pg_get_indexdef(oid [, int4, bool])`.
    GetIndexDef,
    /// `pg_get_expr(text, oid [, bool])`.
    GetExpr,
    /// `pg_get_viewdef(oid [, bool])`.
    GetViewDef,
    /// `pg_get_serial_sequence(text, text)`.
    GetSerialSequence,
    /// `pg_encoding_to_char(int4)`.
    EncodingToChar,
    /// `pg_size_pretty(bigint)`.
    SizePretty,
    /// `acldefault("char", oid)`: the default ACL of an object kind for an owner.
    AclDefault,
    /// `pg_relation_is_publishable(oid)`.
    RelationIsPublishable,
    /// `pg_get_statisticsobjdef_columns(oid)` (tusk has no statistics objects: NULL).
    StatisticsObjDefColumns,
    /// `pg_function_is_visible(oid)`, `pg_get_function_arguments(oid)`,
    /// `pg_get_function_result(oid)`, `pg_get_function_identity_arguments(oid)`: what
    /// PostgreSQL prints for a built-in function of `pg_proc` (all live in the
    /// always-visible `pg_catalog`), NULL for an OID that names no function.
    FunctionInfo(FnInfo),
    /// The name a `reg*` value prints as (PostgreSQL's `regclassout` and friends):
    /// relations and types qualified only when the search path does not find them,
    /// the number itself when no object has the OID.
    RegName(RegKind),
    /// `pg_get_triggerdef(oid [, bool])`: tusk has no triggers in `pg_trigger`, so
    /// NULL, as PostgreSQL answers for an OID that names no trigger.
    GetTriggerDef,
}

impl RegKind {
    /// The `reg*` type's name (`regclass`…), also the column name of a cast to it.
    pub fn type_name(self) -> &'static str {
        match self {
            RegKind::Class => "regclass",
            RegKind::Type => "regtype",
            RegKind::Namespace => "regnamespace",
            RegKind::Role => "regrole",
            RegKind::Proc => "regproc",
            RegKind::Procedure => "regprocedure",
        }
    }
}

/// Makes the `reg*` casts among a top-level query's output columns print as names,
/// as PostgreSQL's output functions do (`SELECT c.oid::regclass` shows `orders`). Inside the query the value
/// stays an `oid` (it compares and sorts as one); an ORDER BY on such a column keeps
/// sorting by the OID through a hidden copy of the expression.
pub fn name_reg_outputs(p: &mut super::plan::SelectPlan) {
    for i in 0..p.visible.min(p.exprs.len()) {
        let kind = match &p.exprs[i] {
            Expr::Func(Func::Catalog(CatalogFn::ToReg(kind)), _, _) => *kind,
            // `to_regtype('t')` is a `regtype` too: its name leaves the query.
            Expr::Func(Func::Catalog(CatalogFn::ToRegOrNull(kind)), _, _) => *kind,
            _ => continue,
        };
        let original = p.exprs[i].clone();
        if p.order.iter().any(|(k, _, _)| *k == i) {
            let hidden = p.exprs.len();
            p.exprs.push(original.clone());
            for o in p.order.iter_mut().filter(|o| o.0 == i) {
                o.0 = hidden;
            }
        }
        p.exprs[i] = Expr::Func(
            Func::Catalog(CatalogFn::RegName(kind)),
            vec![original],
            DataType::Text,
        );
        // The column is described as `text`, not as the `reg*` type: its value is
        // the name in either result format (a `reg*` column's binary format would be
        // the OID's four bytes).
        if let Some(f) = p.fields.get_mut(i) {
            f.type_oid = DataType::Text.oid();
            f.type_len = DataType::Text.type_len();
        }
    }
}

/// `pg_type.typinput = 'pg_catalog.array_in'::regproc` (JDBC's type cache): tusk holds
/// the function-naming columns of its catalogs as the names in text, so a `regproc` or
/// `regprocedure` value compared with a text or name operand is compared by the name
/// it prints, which is what the column shows.
pub fn reg_text_operands(l: Expr, r: Expr) -> (Expr, Expr) {
    let reg = |e: &Expr| match e {
        Expr::Func(
            Func::Catalog(CatalogFn::ToReg(k @ (RegKind::Proc | RegKind::Procedure))),
            ..,
        ) => Some(*k),
        _ => None,
    };
    let texty = |e: &Expr| matches!(e.ty(), DataType::Text | DataType::Name);
    let named = |kind: RegKind, e: Expr| {
        Expr::Func(
            Func::Catalog(CatalogFn::RegName(kind)),
            vec![e],
            DataType::Text,
        )
    };
    match (reg(&l), reg(&r)) {
        (Some(k), None) if texty(&r) => (named(k, l), r),
        (None, Some(k)) if texty(&l) => (l, named(k, r)),
        _ => (l, r),
    }
}

/// The `reg*` type a cast names (`regclass`, `pg_catalog.regclass`…), if it is one.
pub fn reg_kind(type_name: &str) -> Option<RegKind> {
    let n = type_name.trim().to_ascii_lowercase();
    let n = n.strip_prefix("pg_catalog.").unwrap_or(&n);
    Some(match n {
        "regclass" => RegKind::Class,
        "regtype" => RegKind::Type,
        "regnamespace" => RegKind::Namespace,
        "regrole" => RegKind::Role,
        "regproc" => RegKind::Proc,
        "regprocedure" => RegKind::Procedure,
        _ => return None,
    })
}

/// Resolves a function by name and argument count.
pub fn lookup(name: &str, arg_types: &[DataType]) -> Option<(Func, DataType)> {
    use CatalogFn::*;
    let (f, t) = match (name, arg_types.len()) {
        ("format_type", 2) => (FormatType, DataType::Text),
        ("pg_get_userbyid", 1) => (GetUserById, DataType::Name),
        ("pg_table_is_visible", 1) => (TableIsVisible, DataType::Bool),
        ("pg_type_is_visible", 1) => (TypeIsVisible, DataType::Bool),
        ("obj_description", 1 | 2) => (ObjDescription, DataType::Text),
        ("col_description", 2) => (ColDescription, DataType::Text),
        ("shobj_description", 2) => (ShobjDescription, DataType::Text),
        ("pg_get_constraintdef", 1 | 2) => (GetConstraintDef, DataType::Text),
        ("pg_get_indexdef", 1 | 3) => (GetIndexDef, DataType::Text),
        ("pg_get_expr", 2 | 3) => (GetExpr, DataType::Text),
        ("pg_get_viewdef", 1 | 2) => (GetViewDef, DataType::Text),
        ("pg_get_serial_sequence", 2) => (GetSerialSequence, DataType::Text),
        ("pg_encoding_to_char", 1) => (EncodingToChar, DataType::Name),
        ("pg_size_pretty", 1) => (SizePretty, DataType::Text),
        ("acldefault", 2) => (AclDefault, DataType::TextArray),
        ("to_regclass", 1) => (ToRegOrNull(RegKind::Class), DataType::Oid),
        ("to_regtype", 1) => (ToRegOrNull(RegKind::Type), DataType::Oid),
        ("to_regnamespace", 1) => (ToRegOrNull(RegKind::Namespace), DataType::Oid),
        ("to_regrole", 1) => (ToRegOrNull(RegKind::Role), DataType::Oid),
        ("to_regproc", 1) => (ToRegOrNull(RegKind::Proc), DataType::Oid),
        ("to_regprocedure", 1) => (ToRegOrNull(RegKind::Procedure), DataType::Oid),
        ("pg_relation_is_publishable", 1) => (RelationIsPublishable, DataType::Bool),
        ("pg_get_statisticsobjdef_columns", 1) => (StatisticsObjDefColumns, DataType::Text),
        ("pg_function_is_visible", 1) => (FunctionInfo(FnInfo::IsVisible), DataType::Bool),
        ("pg_get_function_arguments", 1) => (FunctionInfo(FnInfo::Arguments), DataType::Text),
        ("pg_get_function_identity_arguments", 1) => {
            (FunctionInfo(FnInfo::IdentityArguments), DataType::Text)
        }
        ("pg_get_function_result", 1) => (FunctionInfo(FnInfo::Result), DataType::Text),
        ("pg_get_function_sqlbody", 1) => (FunctionInfo(FnInfo::SqlBody), DataType::Text),
        ("pg_get_triggerdef", 1 | 2) => (GetTriggerDef, DataType::Text),
        _ => return None,
    };
    Some((Func::Catalog(f), t))
}

/// The type argument `i` is coerced to.
pub fn arg_type(f: CatalogFn, i: usize) -> Option<DataType> {
    use CatalogFn::*;
    Some(match (f, i) {
        (ToReg(_), _) => return None,
        (FormatType | ColDescription | GetIndexDef, 1) => DataType::Int4,
        (ObjDescription | ShobjDescription, 1) => DataType::Name,
        (GetConstraintDef | GetViewDef | GetTriggerDef, 1) => DataType::Bool,
        (GetIndexDef, 2) | (GetExpr, 2) => DataType::Bool,
        (GetExpr, 0) => DataType::Text,
        (GetExpr, 1) => DataType::Oid,
        (GetSerialSequence, _) => DataType::Text,
        (EncodingToChar, _) => DataType::Int4,
        (SizePretty, _) => DataType::Int8,
        (AclDefault, 0) | (ToRegOrNull(_), 0) => DataType::Text,
        _ => DataType::Oid,
    })
}

fn oid_arg(v: &Value) -> Option<u32> {
    match v {
        Value::Oid(o) => Some(*o),
        Value::Int4(i) => Some(*i as u32),
        Value::Int8(i) => Some(*i as u32),
        Value::Int2(i) => Some(*i as u32),
        _ => None,
    }
}

/// Whether a relation `name` in `schema` is the one an unqualified name finds.
fn relation_visible(c: &CatalogState, db: u32, schema: u32, name: &str) -> bool {
    let rels = pg_catalog::relations(c, db);
    for s in search_path::lookup_schemas() {
        if rels.iter().any(|r| r.schema == s && r.name == name) {
            return s == schema;
        }
    }
    false
}

/// The schema name to qualify an object with when it is not visible (None when it is).
fn qualifier(c: &CatalogState, schema: u32) -> Option<String> {
    if search_path::lookup_schemas().contains(&schema) {
        None
    } else {
        Some(pg_catalog::schema_name(c, schema))
    }
}

/// Evaluates a catalog function.
pub fn call(f: CatalogFn, args: Vec<Value>, cx: &mut ExecCtx<'_>) -> Result<Value> {
    use CatalogFn::*;
    let db = cx.db_oid;
    if f != ToReg(RegKind::Class) && args.first().is_some_and(|a| a.is_null()) {
        return Ok(Value::Null);
    }
    let text = |s: String| Value::Text(s);
    let first = args.first().and_then(oid_arg).unwrap_or(0);
    let flag = |i: usize| matches!(args.get(i), Some(Value::Bool(true)));
    Ok(match f {
        ToReg(kind) => return to_reg(kind, &args[0], cx),
        ToRegOrNull(kind) => {
            return match to_reg(kind, &args[0], cx) {
                // A missing argument type of `to_regprocedure` stays an error, as
                // in PostgreSQL 15.
                Err(e) if e.code == sqlstate::UNDEFINED_OBJECT && kind == RegKind::Procedure => {
                    Err(e)
                }
                Err(e)
                    if matches!(
                        e.code,
                        sqlstate::UNDEFINED_TABLE
                            | sqlstate::UNDEFINED_OBJECT
                            | sqlstate::INVALID_SCHEMA_NAME
                            | sqlstate::UNDEFINED_FUNCTION
                            | sqlstate::AMBIGUOUS_FUNCTION
                    ) =>
                {
                    Ok(Value::Null)
                }
                r => r,
            };
        }
        FormatType => {
            let typmod = match args.get(1) {
                Some(Value::Int4(m)) => *m,
                _ => -1,
            };
            cx.engine
                .with_catalog(|c| pg_catalog::format_type(c, first, typmod, &|s| qualifier(c, s)))
                .map_or_else(|| text("???".into()), text)
        }
        GetUserById => text(
            cx.engine
                .with_catalog(|c| c.roles.get(&first).map(|r| r.name.clone()))
                // The predefined role owning `public` (not in tusk's role list).
                .or_else(|| {
                    (first == crate::storage::acl::PG_DATABASE_OWNER)
                        .then(|| "pg_database_owner".to_string())
                })
                .unwrap_or_else(|| format!("unknown (OID={first})")),
        ),
        TableIsVisible => cx.engine.with_catalog(|c| {
            pg_catalog::relations(c, db)
                .into_iter()
                .find(|r| r.oid == first)
                .map_or(Value::Null, |r| {
                    Value::Bool(relation_visible(c, db, r.schema, &r.name))
                })
        }),
        TypeIsVisible => cx.engine.with_catalog(|c| {
            if crate::catalog::pg_types::by_oid(first).is_some() {
                return Value::Bool(true);
            }
            match c
                .enums
                .get(&first)
                .or_else(|| c.enums.get(&first.wrapping_sub(1)))
            {
                Some(e) => Value::Bool(qualifier(c, e.schema).is_none()),
                None => Value::Null,
            }
        }),
        ObjDescription | ColDescription => {
            let sub = match (f, args.get(1)) {
                (ColDescription, Some(Value::Int4(n))) => *n,
                _ => 0,
            };
            cx.engine
                .with_catalog(|c| c.ddl.comments.get(&(db, first, sub)).cloned())
                .or_else(|| {
                    (f == ObjDescription)
                        .then(|| pg_catalog::initial_comment(first).map(str::to_string))
                        .flatten()
                })
                // A built-in function's comment (`obj_description(oid, 'pg_proc')`).
                .or_else(|| {
                    let in_pg_proc = match args.get(1) {
                        None => true,
                        Some(Value::Text(catalog)) => catalog == "pg_proc",
                        Some(_) => false,
                    };
                    (f == ObjDescription && in_pg_proc)
                        .then(|| pg_proc::by_oid(first).and_then(|p| p.description.clone()))
                        .flatten()
                })
                .map_or(Value::Null, text)
        }
        RegName(kind) => text(cx.engine.with_catalog(|c| reg_name(c, db, kind, first))),
        ShobjDescription | StatisticsObjDefColumns | GetTriggerDef => Value::Null,
        FunctionInfo(info) => match pg_proc::by_oid(first) {
            None => Value::Null,
            Some(p) => match info {
                FnInfo::IsVisible => Value::Bool(true),
                FnInfo::Arguments => text(p.arguments.to_string()),
                FnInfo::IdentityArguments => text(p.identity_arguments.to_string()),
                FnInfo::Result => p.result.map_or(Value::Null, |r| text(r.to_string())),
                FnInfo::SqlBody => Value::Null,
            },
        },
        GetConstraintDef => {
            let found = cx.engine.with_catalog(|c| {
                pg_catalog::constraints(c, db)
                    .into_iter()
                    .find(|k| k.oid == first)
                    .map(|k| (constraint_def(c, db, &k), k))
            });
            match found {
                None => Value::Null,
                Some((def, k)) => match (k.kind, &k.expr) {
                    (b'c', Some(expr)) => text(
                        check_def(cx, db, &k.table, expr, flag(1))
                            .map_or(def, |e| format!("CHECK ({e})")),
                    ),
                    _ => text(def),
                },
            }
        }
        GetIndexDef => {
            let column = match args.get(1) {
                Some(Value::Int4(n)) => *n,
                _ => 0,
            };
            let pretty = args.len() == 3 && flag(2);
            let Some(ix) = cx.engine.with_catalog(|c| {
                pg_catalog::indexes(c, db)
                    .into_iter()
                    .find(|i| i.oid == first)
            }) else {
                return Ok(Value::Null);
            };
            let key = |p: usize, in_list: bool| {
                super::generated::key_text(cx.engine, db, &ix.table, p, pretty, in_list)
            };
            if column > 0 {
                return Ok(ix
                    .columns
                    .get(column as usize - 1)
                    .map_or(text(String::new()), |&p| text(key(p, true))));
            }
            // Each key with its ordering as declared (PostgreSQL's defaults unsaid).
            let keys: Vec<String> = ix
                .columns
                .iter()
                .zip(ix.key_options())
                .map(|(&p, o)| {
                    let order = match (o & 1 != 0, o & 2 != 0) {
                        (false, false) | (true, true) => match o & 1 {
                            0 => "",
                            _ => " DESC",
                        },
                        (false, true) => " NULLS FIRST",
                        (true, false) => " DESC NULLS LAST",
                    };
                    format!("{}{order}", key(p, true))
                })
                .collect();
            let predicate = ix.predicate.map(|p| key(p, false));
            cx.engine
                .with_catalog(|c| text(index_def(c, &ix, &keys, predicate.as_deref(), pretty)))
        }
        // A boolean expression over a table (an index predicate, a CHECK's conbin) is
        // deparsed as PostgreSQL prints it; anything else is kept as stored.
        GetExpr => {
            let table = cx.engine.with_catalog(|c| {
                let rel = match args.get(1) {
                    Some(Value::Oid(o)) => *o,
                    Some(Value::Int4(o)) => *o as u32,
                    _ => return None,
                };
                c.tables.get(&(db, rel)).cloned()
            });
            let pretty = args.len() == 3 && flag(2);
            match (&args[0], table) {
                (Value::Text(t), Some(table)) => {
                    check_def(cx, db, &table, t, pretty).map_or_else(|| args[0].clone(), text)
                }
                _ => args[0].clone(),
            }
        }
        GetViewDef => cx
            .engine
            .with_catalog(|c| c.ddl.views.get(&(db, first)).map(|v| v.query.clone()))
            .map_or(Value::Null, |q| {
                text(super::viewdef::view_definition(cx.engine, db, &q))
            }),
        GetSerialSequence => {
            let (Value::Text(table), Value::Text(column)) = (&args[0], &args[1]) else {
                return Ok(Value::Null);
            };
            let (schema, name) = super::ddl::parse_qualified(table)?;
            let Some(t) = crate::catalog::resolve_table(cx.engine, db, schema.as_deref(), &name)?
            else {
                bail!(
                    sqlstate::UNDEFINED_TABLE,
                    "relation \"{}\" does not exist",
                    table.trim()
                );
            };
            let Some(pos) = t.column_position(column) else {
                bail!(
                    sqlstate::UNDEFINED_COLUMN,
                    "column \"{column}\" of relation \"{}\" does not exist",
                    t.name
                );
            };
            cx.engine
                .with_catalog(|c| {
                    c.ddl
                        .sequences
                        .range((db, 0)..=(db, u32::MAX))
                        .find(|(_, s)| s.owned_by == Some((t.oid, pos)))
                        .map(|(_, s)| {
                            format!(
                                "{}.{}",
                                pg_catalog::quote_ident(&pg_catalog::schema_name(c, s.schema)),
                                pg_catalog::quote_ident(&s.name)
                            )
                        })
                })
                .map_or(Value::Null, text)
        }
        EncodingToChar => text(
            match args.first() {
                Some(Value::Int4(6)) => "UTF8",
                Some(Value::Int4(0)) => "SQL_ASCII",
                Some(Value::Int4(8)) => "LATIN1",
                _ => "",
            }
            .into(),
        ),
        SizePretty => match args.first() {
            Some(Value::Int8(n)) => text(size_pretty(*n)),
            _ => Value::Null,
        },
        AclDefault => {
            let (Some(Value::Text(kind)), Some(owner)) =
                (args.first(), args.get(1).and_then(oid_arg))
            else {
                return Ok(Value::Null);
            };
            acl_default(cx, kind, owner)?
        }
        RelationIsPublishable => cx.engine.with_catalog(|c| {
            pg_catalog::relations(c, db)
                .into_iter()
                .find(|r| r.oid == first)
                .map_or(Value::Null, |r| {
                    Value::Bool(
                        r.kind == b'r'
                            && r.persistence == b'p'
                            && r.schema != crate::storage::schema::PG_CATALOG_NAMESPACE,
                    )
                })
        }),
    })
}

/// A `reg*` cast: an OID as it is, digits as an OID, a name resolved.
pub(crate) fn to_reg(kind: RegKind, v: &Value, cx: &mut ExecCtx<'_>) -> Result<Value> {
    let s = match v {
        Value::Null => return Ok(Value::Null),
        Value::Text(s) => s.trim().to_string(),
        other => match oid_arg(other) {
            Some(o) => return Ok(Value::Oid(o)),
            None => bail!(
                sqlstate::CANNOT_COERCE,
                "cannot cast to an object identifier"
            ),
        },
    };
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
        return s
            .parse::<u32>()
            .map(Value::Oid)
            .map_err(|_| err!(sqlstate::NUMERIC_VALUE_OUT_OF_RANGE, "OID out of range"));
    }
    if s == "-" {
        return Ok(Value::Oid(0));
    }
    let db = cx.db_oid;
    match kind {
        RegKind::Class => {
            let (schema, name) = super::ddl::parse_qualified(&s)?;
            let schemas = match &schema {
                Some(n) => vec![crate::catalog::lookup_schema(cx.engine, n)?],
                None => search_path::lookup_schemas(),
            };
            let found = cx.engine.with_catalog(|c| {
                let rels = pg_catalog::relations(c, db);
                schemas.iter().find_map(|sc| {
                    rels.iter()
                        .find(|r| r.schema == *sc && r.name == name)
                        .map(|r| r.oid)
                })
            });
            found
                .map(Value::Oid)
                .ok_or_else(|| err!(sqlstate::UNDEFINED_TABLE, "relation \"{s}\" does not exist"))
        }
        RegKind::Type => type_oid(&s).map(Value::Oid),
        RegKind::Proc => {
            let (schema, name) = super::ddl::parse_qualified(&s)?;
            let undefined = || {
                err!(
                    sqlstate::UNDEFINED_FUNCTION,
                    "function \"{s}\" does not exist"
                )
            };
            if let Some(n) = &schema {
                if crate::catalog::lookup_schema(cx.engine, n)? != PG_CATALOG_NAMESPACE {
                    return Err(undefined());
                }
            }
            let mut found = pg_proc::all().iter().filter(|p| p.name == name);
            match (found.next(), found.next()) {
                (None, _) => Err(undefined()),
                (Some(p), None) => Ok(Value::Oid(p.oid)),
                (Some(_), Some(_)) => bail!(
                    sqlstate::AMBIGUOUS_FUNCTION,
                    "more than one function named \"{s}\""
                ),
            }
        }
        RegKind::Procedure => {
            let (name_text, arg_texts) = split_signature(&s)?;
            let (schema, name) = super::ddl::parse_qualified(name_text)?;
            let undefined = || {
                err!(
                    sqlstate::UNDEFINED_FUNCTION,
                    "function \"{s}\" does not exist"
                )
            };
            let schema_ok = match &schema {
                Some(n) => crate::catalog::lookup_schema(cx.engine, n)? == PG_CATALOG_NAMESPACE,
                None => true,
            };
            let args = arg_texts
                .iter()
                .map(|t| type_oid(t))
                .collect::<Result<Vec<u32>>>()?;
            pg_proc::all()
                .iter()
                .find(|p| schema_ok && p.name == name && p.argtypes == args)
                .map(|p| Value::Oid(p.oid))
                .ok_or_else(undefined)
        }
        RegKind::Namespace => {
            let name = super::ddl::parse_qualified(&s)?.1;
            if name == "information_schema" {
                return Ok(Value::Oid(pg_catalog::INFORMATION_SCHEMA_NAMESPACE));
            }
            crate::catalog::schema_oid(cx.engine, &name).map(Value::Oid)
        }
        RegKind::Role => {
            let name = super::ddl::parse_qualified(&s)?.1;
            cx.engine
                .with_catalog(|c| c.roles.values().find(|r| r.name == name).map(|r| r.oid))
                .map(Value::Oid)
                .ok_or_else(|| err!(sqlstate::UNDEFINED_OBJECT, "role \"{name}\" does not exist"))
        }
    }
}

/// A type named as `regtype` input reads it (`integer`, `pg_catalog.text`, `"any"`).
fn type_oid(s: &str) -> Result<u32> {
    let s = s.trim();
    let lowered = s.to_ascii_lowercase();
    let name = lowered.strip_prefix("pg_catalog.").unwrap_or(&lowered);
    // A quoted name is taken as written (`"any"`, the pseudo-type).
    let quoted = name
        .strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .filter(|n| !n.contains('"'));
    if let Some(q) = quoted {
        if let Some(t) = crate::catalog::pg_types::by_name(q) {
            return Ok(t.oid);
        }
    }
    DataType::from_sql_name(name)
        .or_else(|| super::enums::type_by_name(name))
        .map(|t| t.oid())
        .or_else(|| crate::catalog::pg_types::by_name(name).map(|t| t.oid))
        .ok_or_else(|| err!(sqlstate::UNDEFINED_OBJECT, "type \"{s}\" does not exist"))
}

/// Splits `regprocedure` input, `name(type, type)`, into the name and the argument
/// type texts, with PostgreSQL's messages for a missing parenthesis.
fn split_signature(s: &str) -> Result<(&str, Vec<&str>)> {
    let Some(open) = s.find('(') else {
        bail!(
            sqlstate::INVALID_TEXT_REPRESENTATION,
            "expected a left parenthesis"
        );
    };
    let right = || {
        err!(
            sqlstate::INVALID_TEXT_REPRESENTATION,
            "expected a right parenthesis"
        )
    };
    let inner = s[open + 1..]
        .trim_end()
        .strip_suffix(')')
        .ok_or_else(right)?;
    let mut args = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in inner.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return Err(right()),
            ')' => depth -= 1,
            ',' if depth == 0 => {
                args.push(inner[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(right());
    }
    let last = inner[start..].trim();
    if !last.is_empty() || !args.is_empty() {
        args.push(last);
    }
    Ok((&s[..open], args))
}

/// A CHECK expression as PostgreSQL deparses it (`sql::deparse`), or `None` when
/// it cannot be bound again or has a shape the deparser does not print.
fn check_def(
    cx: &ExecCtx<'_>,
    db: u32,
    table: &crate::storage::TableDef,
    expr: &str,
    pretty: bool,
) -> Option<String> {
    let (bound, _) = super::ddl::bind_check(cx.engine, db, table, expr).ok()?;
    let names: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    super::deparse::check_text(&bound, &names, pretty)
}

/// What a `reg*` value of `kind` prints as.
fn reg_name(c: &CatalogState, db: u32, kind: RegKind, oid: u32) -> String {
    if oid == 0 {
        return "-".into();
    }
    match kind {
        RegKind::Class => relation_name(c, db, oid),
        RegKind::Type => pg_catalog::format_type(c, oid, -1, &|s| qualifier(c, s))
            .unwrap_or_else(|| oid.to_string()),
        RegKind::Namespace => {
            let n = pg_catalog::schema_name(c, oid);
            if n.is_empty() {
                oid.to_string()
            } else {
                pg_catalog::quote_ident(&n)
            }
        }
        RegKind::Role => c
            .roles
            .get(&oid)
            .map_or_else(|| oid.to_string(), |r| pg_catalog::quote_ident(&r.name)),
        // Qualified when the name alone would be ambiguous, as `regprocout` writes it.
        RegKind::Proc => match pg_proc::by_oid(oid) {
            None => oid.to_string(),
            Some(p) if pg_proc::all().iter().filter(|q| q.name == p.name).count() > 1 => {
                format!("pg_catalog.{}", pg_catalog::quote_ident(p.name))
            }
            Some(p) => pg_catalog::quote_ident(p.name),
        },
        RegKind::Procedure => match pg_proc::by_oid(oid) {
            None => oid.to_string(),
            Some(p) => {
                let args: Vec<String> = p
                    .argtypes
                    .iter()
                    .map(|&t| match t {
                        // `format_type_be`, unlike SQL's format_type, names bpchar so.
                        crate::types::oid::BPCHAR => "character".to_string(),
                        t => pg_catalog::format_type(c, t, -1, &|s| qualifier(c, s))
                            .unwrap_or_else(|| t.to_string()),
                    })
                    .collect();
                format!("{}({})", pg_catalog::quote_ident(p.name), args.join(","))
            }
        },
    }
}

/// A relation's name as `regclass` output writes it: qualified when not visible.
fn relation_name(c: &CatalogState, db: u32, oid: u32) -> String {
    match pg_catalog::relations(c, db)
        .into_iter()
        .find(|r| r.oid == oid)
    {
        Some(r) if relation_visible(c, db, r.schema, &r.name) => pg_catalog::quote_ident(&r.name),
        Some(r) => format!(
            "{}.{}",
            pg_catalog::quote_ident(&pg_catalog::schema_name(c, r.schema)),
            pg_catalog::quote_ident(&r.name)
        ),
        None => oid.to_string(),
    }
}

fn column_list(t: &crate::storage::TableDef, nums: &[i16]) -> String {
    nums.iter()
        .map(|&n| {
            t.columns
                .get((n - 1) as usize)
                .map_or(String::new(), |col| pg_catalog::quote_ident(&col.name))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `pg_get_constraintdef`: the constraint as its clause of CREATE TABLE.
fn constraint_def(c: &CatalogState, db: u32, k: &pg_catalog::Constraint) -> String {
    let mut out = match k.kind {
        b'p' => format!("PRIMARY KEY ({})", column_list(&k.table, &k.keys)),
        b'u' => format!("UNIQUE ({})", column_list(&k.table, &k.keys)),
        b'c' => format!("CHECK ({})", k.expr.as_deref().unwrap_or_default()),
        _ => {
            let Some(rt) = c.tables.get(&(db, k.ref_table)) else {
                return String::new();
            };
            let mut s = format!(
                "FOREIGN KEY ({}) REFERENCES {}({})",
                column_list(&k.table, &k.keys),
                relation_name(c, db, k.ref_table),
                column_list(rt, &k.ref_keys)
            );
            let action = |a: u8| match a {
                b'r' => Some("RESTRICT"),
                b'c' => Some("CASCADE"),
                b'n' => Some("SET NULL"),
                b'd' => Some("SET DEFAULT"),
                _ => None,
            };
            if let Some(a) = action(k.on_update) {
                s += &format!(" ON UPDATE {a}");
            }
            if let Some(a) = action(k.on_delete) {
                s += &format!(" ON DELETE {a}");
            }
            s
        }
    };
    if k.deferrable {
        out += " DEFERRABLE";
    }
    if k.deferred {
        out += " INITIALLY DEFERRED";
    }
    out
}

/// `pg_get_indexdef`: the CREATE INDEX statement, from its keys and predicate as
/// printed (see `generated::key_text`).
fn index_def(
    c: &CatalogState,
    ix: &pg_catalog::Index,
    keys: &[String],
    predicate: Option<&str>,
    pretty: bool,
) -> String {
    let table = if pretty && qualifier(c, ix.table.schema).is_none() {
        pg_catalog::quote_ident(&ix.table.name)
    } else {
        let schema = if search_path::is_my_temp(ix.table.schema) {
            "pg_temp".to_string()
        } else {
            pg_catalog::quote_ident(&pg_catalog::schema_name(c, ix.table.schema))
        };
        format!("{schema}.{}", pg_catalog::quote_ident(&ix.table.name))
    };
    let mut out = format!(
        "CREATE {}INDEX {} ON {table} USING btree ({})",
        if ix.unique { "UNIQUE " } else { "" },
        pg_catalog::quote_ident(&ix.name),
        keys.join(", ")
    );
    if let Some(p) = predicate {
        out += " WHERE ";
        out += p;
    }
    out
}

/// `pg_size_pretty(bigint)`: bytes, then kB, MB, GB, TB, PB, each shown once the
/// value reaches 10 of them in the unit below, rounded half away from zero.
pub fn size_pretty(n: i64) -> String {
    let limit: i64 = 10 * 1024;
    let limit2 = limit * 2 - 1;
    let half = |x: i64| (x + if x < 0 { -1 } else { 1 }) / 2;
    if n.abs() < limit {
        return format!("{n} bytes");
    }
    // One extra bit for rounding.
    let mut size = n >> 9;
    for unit in ["kB", "MB", "GB", "TB"] {
        if size.abs() < limit2 {
            return format!("{} {unit}", half(size));
        }
        size >>= 10;
    }
    format!("{} PB", half(size))
}

/// `acldefault(kind, owner)`: the ACL PostgreSQL gives an object of `kind` (`r`
/// relation, `s` sequence, `n` schema, `d` database, `c` column, `p` parameter, `T`
/// type, `f` function, `l` language, `L` large object, `F` foreign-data wrapper, `S`
/// foreign server) owned by `owner` while it has none stored, as `aclitem[]` text.
fn acl_default(cx: &mut ExecCtx<'_>, kind: &str, owner: u32) -> Result<Value> {
    use crate::storage::acl::{self, AclObject, ObjectKind};
    let k = match kind {
        "r" => ObjectKind::Table,
        "s" => ObjectKind::Sequence,
        "n" => ObjectKind::Schema,
        "d" => ObjectKind::Database,
        "c" => ObjectKind::Column,
        "p" => {
            // Parameters: the owner may SET and ALTER SYSTEM (letters s and A).
            let name = cx.engine.with_catalog(|c| acl::role_name(c, owner));
            return Ok(Value::TextArray(vec![Some(format!("{name}=sA/{name}"))]));
        }
        // Object kinds tusk has no objects of, or none with ACLs of their own (types,
        // functions, languages, large objects, foreign-data wrappers and servers):
        // PostgreSQL's defaults, PUBLIC's item first where PUBLIC has one.
        "T" | "f" | "l" | "L" | "F" | "S" => {
            let (public, owner_privs) = match kind {
                "T" | "l" => (acl::ACL_USAGE, acl::ACL_USAGE),
                "f" => (acl::ACL_EXECUTE, acl::ACL_EXECUTE),
                "L" => (0, acl::ACL_SELECT | acl::ACL_UPDATE),
                _ => (0, acl::ACL_USAGE),
            };
            let item = |grantee, privs| acl::AclItem {
                grantee,
                grantor: owner,
                privs,
                grant_opts: 0,
            };
            let mut items = Vec::new();
            if public != 0 {
                items.push(item(0, public));
            }
            items.push(item(owner, owner_privs));
            return Ok(cx.engine.with_catalog(|c| acl_items_value(c, &items)));
        }
        other => crate::bail!(
            sqlstate::INVALID_PARAMETER_VALUE,
            "unrecognized object type abbreviation: {other}"
        ),
    };
    // A schema other than pg_catalog and public: the object only decides those two.
    let object = AclObject::Schema(u32::MAX);
    let items = acl::default_acl(k, owner, &object);
    Ok(cx.engine.with_catalog(|c| acl_items_value(c, &items)))
}

/// ACL items as an `aclitem[]` value (text items).
fn acl_items_value(c: &CatalogState, items: &[crate::storage::acl::AclItem]) -> Value {
    Value::TextArray(
        items
            .iter()
            .map(|it| {
                let t = crate::storage::acl::acl_text(c, std::slice::from_ref(it));
                Some(t.trim_start_matches('{').trim_end_matches('}').to_string())
            })
            .collect(),
    )
}

/// The built-in operator `OPERATOR(pg_catalog.~)` names (what psql writes around its
/// name patterns), as sqlparser's plain operator: `parts` is the schema and the
/// symbol, or the symbol alone. `None` when no built-in operator has that name (the
/// caller reports 42883 with the operand types, as PostgreSQL does).
pub fn qualified_operator(parts: &[String]) -> Option<sqlparser::ast::BinaryOperator> {
    use sqlparser::ast::BinaryOperator as B;
    let symbol = match parts {
        [symbol] => symbol.as_str(),
        [schema, symbol] if schema == "pg_catalog" => symbol.as_str(),
        _ => return None,
    };
    Some(match symbol {
        "=" => B::Eq,
        "<>" | "!=" => B::NotEq,
        "<" => B::Lt,
        "<=" => B::LtEq,
        ">" => B::Gt,
        ">=" => B::GtEq,
        "+" => B::Plus,
        "-" => B::Minus,
        "*" => B::Multiply,
        "/" => B::Divide,
        "%" => B::Modulo,
        "^" => B::PGExp,
        "||" => B::StringConcat,
        "~" => B::PGRegexMatch,
        "~*" => B::PGRegexIMatch,
        "!~" => B::PGRegexNotMatch,
        "!~*" => B::PGRegexNotIMatch,
        "~~" => B::PGLikeMatch,
        "~~*" => B::PGILikeMatch,
        "!~~" => B::PGNotLikeMatch,
        "!~~*" => B::PGNotILikeMatch,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_pretty_matches_postgresql() {
        assert_eq!(size_pretty(0), "0 bytes");
        assert_eq!(size_pretty(10239), "10239 bytes");
        assert_eq!(size_pretty(10240), "10 kB");
        assert_eq!(size_pretty(8192 * 1024), "8192 kB");
        assert_eq!(size_pretty(20 * 1024 * 1024), "20 MB");
        assert_eq!(size_pretty(1_000_000_000_000), "931 GB");
    }

    #[test]
    fn regprocedure_signatures() {
        assert_eq!(
            split_signature("lower(text)").unwrap(),
            ("lower", vec!["text"])
        );
        assert_eq!(split_signature("now()").unwrap(), ("now", vec![]));
        assert_eq!(
            split_signature("f(numeric(10,2), int)").unwrap(),
            ("f", vec!["numeric(10,2)", "int"])
        );
        let msg = |s: &str| split_signature(s).unwrap_err().message;
        assert_eq!(msg("lower"), "expected a left parenthesis");
        assert_eq!(msg("lower(text"), "expected a right parenthesis");
        assert_eq!(msg("lower(text)x"), "expected a right parenthesis");
        assert_eq!(type_oid("pg_catalog.text").unwrap(), 25);
        assert_eq!(type_oid("\"any\"").unwrap(), 2276);
        assert_eq!(
            type_oid("nosuch").unwrap_err().code,
            sqlstate::UNDEFINED_OBJECT
        );
    }

    #[test]
    fn reg_kinds() {
        assert_eq!(reg_kind("pg_catalog.regclass"), Some(RegKind::Class));
        assert_eq!(reg_kind("REGTYPE"), Some(RegKind::Type));
        assert_eq!(reg_kind("oid"), None);
        assert_eq!(reg_kind("regprocedure"), Some(RegKind::Procedure));
    }

    #[test]
    fn qualified_operators() {
        use sqlparser::ast::BinaryOperator as B;
        let op =
            |p: &[&str]| qualified_operator(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(op(&["pg_catalog", "~"]), Some(B::PGRegexMatch));
        assert_eq!(op(&["<>"]), Some(B::NotEq));
        assert_eq!(op(&["pg_catalog", "!~*"]), Some(B::PGRegexNotIMatch));
        assert_eq!(op(&["public", "~"]), None);
        assert_eq!(op(&["pg_catalog", "@@"]), None);
        assert_eq!(op(&["a", "b", "="]), None);
    }
}
