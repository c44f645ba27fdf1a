//! The SQL-standard `information_schema` views ORMs and JDBC read — `tables`,
//! `columns`, `schemata`, `table_constraints`, `key_column_usage`, `check_constraints`,
//! `referential_constraints`, `constraint_column_usage`, `views`, `sequences` —
//! computed, as PostgreSQL 15 defines them, from the same relation, index and
//! constraint lists `pg_catalog` builds ([`super::pg_catalog::relations`],
//! [`super::pg_catalog::constraints`]).
//!
//! # What it owns
//!
//! The translation of catalog facts into the standard's vocabulary: `'BASE TABLE'`,
//! `'YES'`/`'NO'`, `data_type` as `format_type` without modifier (`ARRAY` and
//! `USER-DEFINED` where the standard says so), the character, numeric and datetime
//! precision columns derived from a type and its modifier, the referential actions'
//! names, the NOT NULL "constraints" PostgreSQL lists as CHECK constraints named
//! `<schema oid>_<table oid>_<attnum>_not_null`.
//!
//! # Visibility
//!
//! As in PostgreSQL, a row is shown only to a role that owns the object (or is a member
//! of its owner, or a superuser) or holds some privilege on it: [`IsView::rows`] gets
//! the role and filters. Other sessions' temporary objects are left out.
//!
//! # One query's walk, `SELECT … FROM information_schema.columns`
//!
//! 1. `catalog::virtual_table` maps the qualified name to [`IsView::Columns`];
//! 2. the executor calls [`IsView::rows`] inside one `Engine::with_catalog` read;
//! 3. the rows are filtered and sorted by the query like any other table's.
//!
//! What this module must never do: write the catalog, or know sessions and the wire.
//!
//! tusk keeps no column types for views: the SQL layer plans each view's query and
//! hands the output columns to [`view_column_rows`] for `columns`.
//!
//! Known differences from PostgreSQL: tusk's views are not updatable, so `views`,
//! `tables` and `columns` say `NO` where PostgreSQL says `YES` for a simple view; the
//! character data, cardinal-number and yes-or-no domains are `text`, `integer` and
//! `text`.

use super::pg_catalog::{self, format_type, schema_name, Constraint, INFORMATION_SCHEMA_NAMESPACE};
use super::pg_types;
use super::search_path;
use crate::storage::acl::{self, AclObject};
use crate::storage::ddl::ViewDef;
use crate::storage::schema::{CatalogState, ColumnDef, TableDef, PG_CATALOG_NAMESPACE};
use crate::types::{oid as typeoid, DataType, Value};

/// One view of `information_schema`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsView {
    /// `tables`: tables, views (and the system catalogs).
    Tables,
    /// `columns`: the columns of tables.
    Columns,
    /// `schemata`.
    Schemata,
    /// `table_constraints`: primary keys, unique, CHECK, FOREIGN KEY and NOT NULL.
    TableConstraints,
    /// `key_column_usage`: the columns of primary, unique and foreign keys.
    KeyColumnUsage,
    /// `check_constraints`: CHECK constraints and the NOT NULL ones.
    CheckConstraints,
    /// `referential_constraints`: foreign keys with their rules.
    ReferentialConstraints,
    /// `constraint_column_usage`: the columns each constraint uses (for a foreign
    /// key, the referenced columns).
    ConstraintColumnUsage,
    /// `views`.
    Views,
    /// `sequences` (identity sequences left out, as PostgreSQL does).
    Sequences,
}

/// The view of `information_schema` with this name.
pub fn view_by_name(name: &str) -> Option<IsView> {
    Some(match name {
        "tables" => IsView::Tables,
        "columns" => IsView::Columns,
        "schemata" => IsView::Schemata,
        "table_constraints" => IsView::TableConstraints,
        "key_column_usage" => IsView::KeyColumnUsage,
        "referential_constraints" => IsView::ReferentialConstraints,
        "check_constraints" => IsView::CheckConstraints,
        "constraint_column_usage" => IsView::ConstraintColumnUsage,
        "views" => IsView::Views,
        "sequences" => IsView::Sequences,
        _ => return None,
    })
}

/// All the views, for listing them in `tables`.
const ALL: &[(&str, IsView)] = &[
    ("check_constraints", IsView::CheckConstraints),
    ("columns", IsView::Columns),
    ("constraint_column_usage", IsView::ConstraintColumnUsage),
    ("key_column_usage", IsView::KeyColumnUsage),
    ("referential_constraints", IsView::ReferentialConstraints),
    ("schemata", IsView::Schemata),
    ("sequences", IsView::Sequences),
    ("table_constraints", IsView::TableConstraints),
    ("tables", IsView::Tables),
    ("views", IsView::Views),
];

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn yes_no(b: bool) -> Value {
    text(if b { "YES" } else { "NO" })
}

fn int(n: i32) -> Value {
    Value::Int4(n)
}

/// Whether `role` may see an object owned by `owner` with ACL object `object`:
/// ownership (or membership in the owner) or any of the privileges in `mask`.
fn visible(
    c: &CatalogState,
    db: u32,
    role: u32,
    owner: u32,
    object: &AclObject,
    mask: u32,
) -> bool {
    acl::owns(c, db, role, owner) || acl::privileges(c, db, object, role).0 & mask != 0
}

/// Whether `role` holds a privilege in `mask` on the table or on one of its columns.
fn table_visible(c: &CatalogState, db: u32, role: u32, t: &TableDef, mask: u32) -> bool {
    visible(
        c,
        db,
        role,
        t.owner,
        &AclObject::Relation { db, oid: t.oid },
        mask,
    ) || t
        .live_columns()
        .any(|i| column_visible(c, db, role, t, i, mask))
}

fn column_visible(
    c: &CatalogState,
    db: u32,
    role: u32,
    t: &TableDef,
    col: usize,
    mask: u32,
) -> bool {
    let column = AclObject::Column {
        db,
        table: t.oid,
        column: col as u32,
    };
    acl::privileges(c, db, &column, role).0 & mask != 0
        || visible(
            c,
            db,
            role,
            t.owner,
            &AclObject::Relation { db, oid: t.oid },
            mask,
        )
}

/// Whether a schema is another session's temporary namespace.
fn other_temp(c: &CatalogState, schema: u32) -> bool {
    c.is_temp_schema(schema) && !search_path::is_my_temp(schema)
}

const ANY_TABLE: u32 = acl::ACL_ALL_TABLE;
const NOT_SELECT: u32 = acl::ACL_ALL_TABLE & !acl::ACL_SELECT;

/// The type facts of `columns` and `sequences`: the numeric precision, radix and
/// scale of a type with modifier.
fn numeric_facts(ty: u32, typmod: i32) -> (Value, Value, Value) {
    let n = Value::Null;
    match ty {
        typeoid::INT2 => (int(16), int(2), int(0)),
        typeoid::INT4 => (int(32), int(2), int(0)),
        typeoid::INT8 => (int(64), int(2), int(0)),
        typeoid::FLOAT4 => (int(24), int(2), n),
        typeoid::FLOAT8 => (int(53), int(2), n),
        typeoid::NUMERIC if typmod >= 4 => {
            let t = typmod - 4;
            (int((t >> 16) & 0xffff), int(10), int(t & 0xffff))
        }
        typeoid::NUMERIC => (n.clone(), int(10), n),
        _ => (n.clone(), n.clone(), n),
    }
}

/// `data_type` and the udt columns of a type: (data_type, udt schema, udt name).
fn type_names(c: &CatalogState, ty: u32) -> (String, String, String) {
    if let Some(t) = pg_types::by_oid(ty) {
        let data_type = if t.elem != 0 && t.len == -1 && t.category == b'A' {
            "ARRAY".to_string()
        } else if ty == typeoid::BPCHAR {
            "character".to_string()
        } else if ty == 1560 {
            "bit".to_string()
        } else {
            format_type(c, ty, -1, &|_| None).unwrap_or_default()
        };
        return (data_type, "pg_catalog".into(), t.name.to_string());
    }
    if let Some(e) = c.enums.get(&ty) {
        return (
            "USER-DEFINED".into(),
            schema_name(c, e.schema),
            e.name.clone(),
        );
    }
    if let Some(e) = ty.checked_sub(1).and_then(|o| c.enums.get(&o)) {
        return (
            "ARRAY".into(),
            schema_name(c, e.schema),
            format!("_{}", e.name),
        );
    }
    (String::new(), String::new(), String::new())
}

impl IsView {
    /// The view's columns with PostgreSQL 15's names (domains as their base types).
    pub fn columns(self) -> &'static [(&'static str, DataType)] {
        use DataType::*;
        match self {
            IsView::Tables => &[
                ("table_catalog", Name),
                ("table_schema", Name),
                ("table_name", Name),
                ("table_type", Text),
                ("self_referencing_column_name", Name),
                ("reference_generation", Text),
                ("user_defined_type_catalog", Name),
                ("user_defined_type_schema", Name),
                ("user_defined_type_name", Name),
                ("is_insertable_into", Text),
                ("is_typed", Text),
                ("commit_action", Text),
            ],
            IsView::Columns => &[
                ("table_catalog", Name),
                ("table_schema", Name),
                ("table_name", Name),
                ("column_name", Name),
                ("ordinal_position", Int4),
                ("column_default", Text),
                ("is_nullable", Text),
                ("data_type", Text),
                ("character_maximum_length", Int4),
                ("character_octet_length", Int4),
                ("numeric_precision", Int4),
                ("numeric_precision_radix", Int4),
                ("numeric_scale", Int4),
                ("datetime_precision", Int4),
                ("interval_type", Text),
                ("interval_precision", Int4),
                ("character_set_catalog", Name),
                ("character_set_schema", Name),
                ("character_set_name", Name),
                ("collation_catalog", Name),
                ("collation_schema", Name),
                ("collation_name", Name),
                ("domain_catalog", Name),
                ("domain_schema", Name),
                ("domain_name", Name),
                ("udt_catalog", Name),
                ("udt_schema", Name),
                ("udt_name", Name),
                ("scope_catalog", Name),
                ("scope_schema", Name),
                ("scope_name", Name),
                ("maximum_cardinality", Int4),
                ("dtd_identifier", Name),
                ("is_self_referencing", Text),
                ("is_identity", Text),
                ("identity_generation", Text),
                ("identity_start", Text),
                ("identity_increment", Text),
                ("identity_maximum", Text),
                ("identity_minimum", Text),
                ("identity_cycle", Text),
                ("is_generated", Text),
                ("generation_expression", Text),
                ("is_updatable", Text),
            ],
            IsView::Schemata => &[
                ("catalog_name", Name),
                ("schema_name", Name),
                ("schema_owner", Name),
                ("default_character_set_catalog", Name),
                ("default_character_set_schema", Name),
                ("default_character_set_name", Name),
                ("sql_path", Text),
            ],
            IsView::TableConstraints => &[
                ("constraint_catalog", Name),
                ("constraint_schema", Name),
                ("constraint_name", Name),
                ("table_catalog", Name),
                ("table_schema", Name),
                ("table_name", Name),
                ("constraint_type", Text),
                ("is_deferrable", Text),
                ("initially_deferred", Text),
                ("enforced", Text),
                ("nulls_distinct", Text),
            ],
            IsView::KeyColumnUsage => &[
                ("constraint_catalog", Name),
                ("constraint_schema", Name),
                ("constraint_name", Name),
                ("table_catalog", Name),
                ("table_schema", Name),
                ("table_name", Name),
                ("column_name", Name),
                ("ordinal_position", Int4),
                ("position_in_unique_constraint", Int4),
            ],
            IsView::ReferentialConstraints => &[
                ("constraint_catalog", Name),
                ("constraint_schema", Name),
                ("constraint_name", Name),
                ("unique_constraint_catalog", Name),
                ("unique_constraint_schema", Name),
                ("unique_constraint_name", Name),
                ("match_option", Text),
                ("update_rule", Text),
                ("delete_rule", Text),
            ],
            IsView::CheckConstraints => &[
                ("constraint_catalog", Name),
                ("constraint_schema", Name),
                ("constraint_name", Name),
                ("check_clause", Text),
            ],
            IsView::ConstraintColumnUsage => &[
                ("table_catalog", Name),
                ("table_schema", Name),
                ("table_name", Name),
                ("column_name", Name),
                ("constraint_catalog", Name),
                ("constraint_schema", Name),
                ("constraint_name", Name),
            ],
            IsView::Views => &[
                ("table_catalog", Name),
                ("table_schema", Name),
                ("table_name", Name),
                ("view_definition", Text),
                ("check_option", Text),
                ("is_updatable", Text),
                ("is_insertable_into", Text),
                ("is_trigger_updatable", Text),
                ("is_trigger_deletable", Text),
                ("is_trigger_insertable_into", Text),
            ],
            IsView::Sequences => &[
                ("sequence_catalog", Name),
                ("sequence_schema", Name),
                ("sequence_name", Name),
                ("data_type", Text),
                ("numeric_precision", Int4),
                ("numeric_precision_radix", Int4),
                ("numeric_scale", Int4),
                ("start_value", Text),
                ("minimum_value", Text),
                ("maximum_value", Text),
                ("increment", Text),
                ("cycle_option", Text),
            ],
        }
    }

    /// The view's rows in database `db` as role `role` may see them.
    pub fn rows(self, c: &CatalogState, db: u32, role: u32) -> Vec<Vec<Value>> {
        let catalog = text(
            &c.databases
                .get(&db)
                .map(|d| d.name.clone())
                .unwrap_or_default(),
        );
        let schema = |oid: u32| text(&schema_name(c, oid));
        let tables = || {
            c.tables
                .range((db, 0)..=(db, u32::MAX))
                .map(|(_, t)| t)
                .filter(|t| !other_temp(c, t.schema))
        };
        let constraints = || {
            pg_catalog::constraints(c, db)
                .into_iter()
                .filter(|k| !other_temp(c, k.schema))
        };
        match self {
            IsView::Tables => {
                let mut out = Vec::new();
                let row = |schema_v: Value, name: &str, kind: &str, insertable: bool| {
                    vec![
                        catalog.clone(),
                        schema_v,
                        text(name),
                        text(kind),
                        Value::Null,
                        Value::Null,
                        Value::Null,
                        Value::Null,
                        Value::Null,
                        yes_no(insertable),
                        yes_no(false),
                        // PostgreSQL 15 leaves it NULL, temporary tables included.
                        Value::Null,
                    ]
                };
                for r in pg_catalog::relations(c, db) {
                    if other_temp(c, r.schema) || !matches!(r.kind, b'r' | b'v') {
                        continue;
                    }
                    let object = AclObject::Relation { db, oid: r.oid };
                    let shown = match c.tables.get(&(db, r.oid)) {
                        Some(t) => table_visible(c, db, role, t, ANY_TABLE),
                        None if r.schema == PG_CATALOG_NAMESPACE => true,
                        None => visible(c, db, role, r.owner, &object, ANY_TABLE),
                    };
                    if !shown {
                        continue;
                    }
                    let temp = c.is_temp_schema(r.schema);
                    let kind = match (r.kind, temp) {
                        (b'v', _) => "VIEW",
                        (_, true) => "LOCAL TEMPORARY",
                        _ => "BASE TABLE",
                    };
                    out.push(row(schema(r.schema), &r.name, kind, r.kind == b'r'));
                }
                for (name, _) in ALL {
                    out.push(row(text("information_schema"), name, "VIEW", false));
                }
                out
            }
            IsView::Columns => {
                let mut out = Vec::new();
                for t in tables() {
                    for i in t.live_columns() {
                        if !column_visible(c, db, role, t, i, ANY_TABLE) {
                            continue;
                        }
                        out.push(column_row(c, db, &catalog, t, i));
                    }
                }
                out
            }
            IsView::Schemata => {
                let mut list: Vec<(u32, String, u32)> = c
                    .schemas
                    .iter()
                    .filter(|(oid, _)| !other_temp(c, **oid))
                    .map(|(oid, (n, owner))| (*oid, n.clone(), *owner))
                    .collect();
                list.push((
                    INFORMATION_SCHEMA_NAMESPACE,
                    "information_schema".into(),
                    crate::storage::schema::BOOTSTRAP_SUPERUSER,
                ));
                list.into_iter()
                    .filter(|(_, _, owner)| acl::owns(c, db, role, *owner))
                    .map(|(_, name, owner)| {
                        let owner = match c.roles.get(&owner) {
                            Some(r) => r.name.clone(),
                            None if owner == acl::PG_DATABASE_OWNER => "pg_database_owner".into(),
                            None => String::new(),
                        };
                        vec![
                            catalog.clone(),
                            text(&name),
                            text(&owner),
                            Value::Null,
                            Value::Null,
                            Value::Null,
                            Value::Null,
                        ]
                    })
                    .collect()
            }
            IsView::TableConstraints => {
                let mut out = Vec::new();
                for k in constraints() {
                    if !table_visible(c, db, role, &k.table, NOT_SELECT) {
                        continue;
                    }
                    let kind = match k.kind {
                        b'p' => "PRIMARY KEY",
                        b'u' => "UNIQUE",
                        b'f' => "FOREIGN KEY",
                        _ => "CHECK",
                    };
                    out.push(vec![
                        catalog.clone(),
                        schema(k.schema),
                        text(&k.name),
                        catalog.clone(),
                        schema(k.table.schema),
                        text(&k.table.name),
                        text(kind),
                        yes_no(k.deferrable),
                        yes_no(k.deferred),
                        yes_no(true),
                        if k.kind == b'u' {
                            yes_no(true)
                        } else {
                            Value::Null
                        },
                    ]);
                }
                for t in tables() {
                    if !table_visible(c, db, role, t, NOT_SELECT) {
                        continue;
                    }
                    for i in t.live_columns().filter(|&i| t.columns[i].not_null) {
                        out.push(vec![
                            catalog.clone(),
                            schema(t.schema),
                            text(&format!("{}_{}_{}_not_null", t.schema, t.oid, i + 1)),
                            catalog.clone(),
                            schema(t.schema),
                            text(&t.name),
                            text("CHECK"),
                            yes_no(false),
                            yes_no(false),
                            yes_no(true),
                            Value::Null,
                        ]);
                    }
                }
                out
            }
            IsView::KeyColumnUsage => {
                let all: Vec<Constraint> = constraints().collect();
                let mut out = Vec::new();
                for k in all.iter().filter(|k| matches!(k.kind, b'p' | b'u' | b'f')) {
                    // The referenced key, for position_in_unique_constraint.
                    let unique = (k.kind == b'f').then(|| {
                        all.iter()
                            .find(|u| matches!(u.kind, b'p' | b'u') && u.index == k.index)
                    });
                    for (n, &attnum) in k.keys.iter().enumerate() {
                        let Some(pos) = (attnum as usize).checked_sub(1) else {
                            continue;
                        };
                        let Some(col) = k.table.columns.get(pos) else {
                            continue;
                        };
                        let select_like = acl::ACL_SELECT
                            | acl::ACL_INSERT
                            | acl::ACL_UPDATE
                            | acl::ACL_REFERENCES;
                        if !column_visible(c, db, role, &k.table, pos, select_like) {
                            continue;
                        }
                        let in_unique = match unique {
                            Some(Some(u)) => k
                                .ref_keys
                                .get(n)
                                .and_then(|r| u.keys.iter().position(|x| x == r))
                                .map_or(Value::Null, |p| int(p as i32 + 1)),
                            _ => Value::Null,
                        };
                        out.push(vec![
                            catalog.clone(),
                            schema(k.schema),
                            text(&k.name),
                            catalog.clone(),
                            schema(k.table.schema),
                            text(&k.table.name),
                            text(&col.name),
                            int(n as i32 + 1),
                            in_unique,
                        ]);
                    }
                }
                out
            }
            IsView::ReferentialConstraints => {
                let all: Vec<Constraint> = constraints().collect();
                let rule = |b: u8| match b {
                    b'c' => "CASCADE",
                    b'n' => "SET NULL",
                    b'd' => "SET DEFAULT",
                    b'r' => "RESTRICT",
                    _ => "NO ACTION",
                };
                all.iter()
                    .filter(|k| k.kind == b'f')
                    .filter(|k| table_visible(c, db, role, &k.table, NOT_SELECT))
                    .map(|k| {
                        let unique = all
                            .iter()
                            .find(|u| matches!(u.kind, b'p' | b'u') && u.index == k.index);
                        vec![
                            catalog.clone(),
                            schema(k.schema),
                            text(&k.name),
                            unique.map_or(Value::Null, |_| catalog.clone()),
                            unique.map_or(Value::Null, |u| schema(u.schema)),
                            unique.map_or(Value::Null, |u| text(&u.name)),
                            text("NONE"),
                            text(rule(k.on_update)),
                            text(rule(k.on_delete)),
                        ]
                    })
                    .collect()
            }
            IsView::CheckConstraints => {
                let mut out = Vec::new();
                for k in constraints().filter(|k| k.kind == b'c') {
                    if !acl::owns(c, db, role, k.table.owner) {
                        continue;
                    }
                    out.push(vec![
                        catalog.clone(),
                        schema(k.schema),
                        text(&k.name),
                        text(&check_clause(k.expr.as_deref().unwrap_or_default())),
                    ]);
                }
                for t in tables().filter(|t| acl::owns(c, db, role, t.owner)) {
                    for i in t.live_columns().filter(|&i| t.columns[i].not_null) {
                        out.push(vec![
                            catalog.clone(),
                            schema(t.schema),
                            text(&format!("{}_{}_{}_not_null", t.schema, t.oid, i + 1)),
                            text(&format!("{} IS NOT NULL", t.columns[i].name)),
                        ]);
                    }
                }
                out
            }
            IsView::ConstraintColumnUsage => {
                let mut out = Vec::new();
                for k in constraints() {
                    let (table, keys) = if k.kind == b'f' {
                        match c.tables.get(&(db, k.ref_table)) {
                            Some(t) => (t.clone(), k.ref_keys.clone()),
                            None => continue,
                        }
                    } else {
                        (k.table.clone(), k.keys.clone())
                    };
                    if !acl::owns(c, db, role, table.owner) {
                        continue;
                    }
                    for attnum in keys {
                        let Some(col) = (attnum as usize)
                            .checked_sub(1)
                            .and_then(|p| table.columns.get(p))
                        else {
                            continue;
                        };
                        out.push(vec![
                            catalog.clone(),
                            schema(table.schema),
                            text(&table.name),
                            text(&col.name),
                            catalog.clone(),
                            schema(k.schema),
                            text(&k.name),
                        ]);
                    }
                }
                out
            }
            IsView::Views => c
                .ddl
                .views
                .range((db, 0)..=(db, u32::MAX))
                .map(|(_, v)| v)
                .filter(|v| !other_temp(c, v.schema))
                .filter(|v| {
                    visible(
                        c,
                        db,
                        role,
                        v.owner,
                        &AclObject::Relation { db, oid: v.oid },
                        ANY_TABLE,
                    )
                })
                .map(|v| {
                    let owner = acl::owns(c, db, role, v.owner);
                    vec![
                        catalog.clone(),
                        schema(v.schema),
                        text(&v.name),
                        if owner { text(&v.query) } else { Value::Null },
                        text("NONE"),
                        yes_no(false),
                        yes_no(false),
                        yes_no(false),
                        yes_no(false),
                        yes_no(false),
                    ]
                })
                .collect(),
            IsView::Sequences => c
                .ddl
                .sequences
                .range((db, 0)..=(db, u32::MAX))
                .map(|(_, s)| s)
                .filter(|s| s.identity == 0 && !other_temp(c, s.schema))
                .filter(|s| {
                    let mask = acl::ACL_SELECT | acl::ACL_UPDATE | acl::ACL_USAGE;
                    visible(
                        c,
                        db,
                        role,
                        s.owner,
                        &AclObject::Relation { db, oid: s.oid },
                        mask,
                    )
                })
                .map(|s| {
                    let (precision, radix, scale) = numeric_facts(s.type_oid, -1);
                    vec![
                        catalog.clone(),
                        schema(s.schema),
                        text(&s.name),
                        text(&format_type(c, s.type_oid, -1, &|_| None).unwrap_or_default()),
                        precision,
                        radix,
                        scale,
                        text(&s.start.to_string()),
                        text(&s.min.to_string()),
                        text(&s.max.to_string()),
                        text(&s.increment.to_string()),
                        yes_no(s.cycle),
                    ]
                })
                .collect(),
        }
    }
}

/// The `columns` rows of a view, given the output columns planning its query found
/// — (name, type OID, modifier) — (tusk stores a view as its query text; the SQL
/// layer plans it). Empty when `role` may not see the view. A view's columns are
/// nullable and, tusk's views not being updatable, not updatable.
pub fn view_column_rows(
    c: &CatalogState,
    db: u32,
    role: u32,
    view: &ViewDef,
    cols: &[(String, u32, i32)],
) -> Vec<Vec<Value>> {
    let object = AclObject::Relation { db, oid: view.oid };
    if other_temp(c, view.schema) || !visible(c, db, role, view.owner, &object, ANY_TABLE) {
        return vec![];
    }
    let catalog = text(
        &c.databases
            .get(&db)
            .map(|d| d.name.clone())
            .unwrap_or_default(),
    );
    let columns = cols
        .iter()
        .map(|(name, ty, typmod)| ColumnDef {
            name: name.clone(),
            data_type: DataType::from_oid(*ty).unwrap_or(DataType::Text),
            typmod: *typmod,
            not_null: false,
            default: None,
            dropped: false,
            generated: None,
        })
        .collect();
    let t = TableDef {
        oid: view.oid,
        schema: view.schema,
        name: view.name.clone(),
        owner: view.owner,
        columns,
        primary_key: None,
        pkey_name: String::new(),
        indexes: vec![],
    };
    (0..cols.len())
        .map(|i| {
            let mut row = column_row(c, db, &catalog, &t, i);
            if let Some(last) = row.last_mut() {
                *last = yes_no(false);
            }
            row
        })
        .collect()
}

/// `check_clause`: PostgreSQL's `CHECK (…)` text without `CHECK `. Its deparser puts
/// an operator expression in parentheses of its own (`((qty > 0))`); tusk keeps the
/// expression's text, so one pair is added unless the text is already enclosed in
/// one, or is a bare name or call.
fn check_clause(expr: &str) -> String {
    let e = expr.trim();
    let enclosed = e.starts_with('(') && e.ends_with(')') && {
        let mut depth = 0i32;
        let mut closes_early = false;
        for (i, ch) in e.char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 && i + 1 < e.len() {
                        closes_early = true;
                    }
                }
                _ => {}
            }
        }
        !closes_early
    };
    let simple = e
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '"'))
        || (e.ends_with(')')
            && e.find('(').is_some_and(|p| {
                e[..p].chars().all(|c| c.is_alphanumeric() || c == '_') && !e[..p].is_empty()
            })
            && !e.contains(' '));
    if enclosed || simple {
        format!("({e})")
    } else {
        format!("(({e}))")
    }
}

/// One row of `columns`: column `i` of table `t`.
fn column_row(c: &CatalogState, db: u32, catalog: &Value, t: &TableDef, i: usize) -> Vec<Value> {
    let col = &t.columns[i];
    let ty = col.data_type.oid();
    let typmod = col.typmod;
    let null = Value::Null;
    let (data_type, udt_schema, udt_name) = type_names(c, ty);
    let char_max = match ty {
        typeoid::VARCHAR | typeoid::BPCHAR if typmod >= 4 => int(typmod - 4),
        1560 | 1562 if typmod >= 0 => int(typmod),
        _ => null.clone(),
    };
    // UTF8's longest character is four bytes; an unbounded string up to 1 GB.
    let char_octet = match ty {
        typeoid::VARCHAR | typeoid::BPCHAR if typmod >= 4 => int((typmod - 4) * 4),
        typeoid::VARCHAR | typeoid::BPCHAR | typeoid::TEXT => int(1_073_741_824),
        _ => null.clone(),
    };
    let (precision, radix, scale) = numeric_facts(ty, typmod);
    let datetime = match ty {
        typeoid::DATE => int(0),
        typeoid::TIME | typeoid::TIMETZ | typeoid::TIMESTAMP | typeoid::TIMESTAMPTZ => {
            int(if typmod >= 0 { typmod } else { 6 })
        }
        typeoid::INTERVAL => int(if typmod >= 0 && typmod & 0xffff != 0xffff {
            typmod & 0xffff
        } else {
            6
        }),
        _ => null.clone(),
    };
    let identity = c
        .ddl
        .sequences
        .range((db, 0)..=(db, u32::MAX))
        .map(|(_, s)| s)
        .find(|s| s.owned_by == Some((t.oid, i)) && s.identity != 0);
    let default = match (&col.default, identity) {
        (Some(d), None) => text(&pg_catalog::default_text(c, ty, d)),
        _ => null.clone(),
    };
    let ident = |f: &dyn Fn(&crate::storage::ddl::SequenceDef) -> String| {
        identity.map_or(Value::Null, |s| text(&f(s)))
    };
    vec![
        catalog.clone(),
        text(&schema_name(c, t.schema)),
        text(&t.name),
        text(&col.name),
        int(i as i32 + 1),
        default,
        yes_no(!col.not_null),
        text(&data_type),
        char_max,
        char_octet,
        precision,
        radix,
        scale,
        datetime,
        null.clone(),
        null.clone(),
        null.clone(),
        null.clone(),
        null.clone(),
        null.clone(),
        null.clone(),
        null.clone(),
        null.clone(),
        null.clone(),
        null.clone(),
        catalog.clone(),
        text(&udt_schema),
        text(&udt_name),
        null.clone(),
        null.clone(),
        null.clone(),
        null.clone(),
        text(&(i + 1).to_string()),
        yes_no(false),
        yes_no(identity.is_some()),
        ident(&|s| {
            if s.identity == b'a' {
                "ALWAYS"
            } else {
                "BY DEFAULT"
            }
            .into()
        }),
        ident(&|s| s.start.to_string()),
        ident(&|s| s.increment.to_string()),
        ident(&|s| s.max.to_string()),
        ident(&|s| s.min.to_string()),
        identity.map_or(yes_no(false), |s| yes_no(s.cycle)),
        // A stored generated column: ALWAYS, with its expression (as pg_get_expr).
        match &col.generated {
            Some(_) => text("ALWAYS"),
            None => text("NEVER"),
        },
        col.generated
            .as_ref()
            .map_or(null.clone(), |g| text(&generation_text(g))),
        yes_no(true),
    ]
}

/// A generation expression as `pg_get_expr` prints it (see
/// [`super::pg_catalog::node_text`]).
fn generation_text(g: &str) -> String {
    super::pg_catalog::node_text(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_view_resolves_and_rows_match_columns() {
        for (name, v) in ALL {
            assert_eq!(view_by_name(name), Some(*v));
        }
        assert_eq!(view_by_name("pg_class"), None);
        assert_eq!(IsView::Columns.columns().len(), 44);
        assert_eq!(IsView::Tables.columns().len(), 12);
    }

    #[test]
    fn numeric_facts_follow_the_modifier() {
        let (p, r, s) = numeric_facts(typeoid::NUMERIC, ((8 << 16) | 2) + 4);
        assert_eq!((p, r, s), (int(8), int(10), int(2)));
        let (p, _, s) = numeric_facts(typeoid::NUMERIC, -1);
        assert_eq!((p, s), (Value::Null, Value::Null));
        assert_eq!(numeric_facts(typeoid::FLOAT8, -1).0, int(53));
    }

    #[test]
    fn check_clause_parenthesizes_as_the_deparser() {
        assert_eq!(check_clause("qty > 0"), "((qty > 0))");
        assert_eq!(check_clause("(qty > 0)"), "((qty > 0))");
        assert_eq!(
            check_clause("(a > 0) AND (b > 0)"),
            "(((a > 0) AND (b > 0)))"
        );
        assert_eq!(check_clause("flag"), "(flag)");
    }
}
