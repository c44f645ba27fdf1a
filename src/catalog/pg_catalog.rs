//! The `pg_catalog` relations PostgreSQL 15 clients read — `pg_class`, `pg_namespace`,
//! `pg_attribute`, `pg_attrdef`, `pg_type`, `pg_index`, `pg_constraint`, `pg_am`,
//! `pg_description`, `pg_auth_members`, `pg_authid`, `pg_sequence`, `pg_depend`,
//! `pg_enum`, `pg_database`, `pg_sequences`, `pg_views` and the catalogs psql's queries
//! touch that tusk has nothing to put in (`pg_inherits`, `pg_policy`, `pg_trigger`,
//! `pg_rewrite`, `pg_publication*`, `pg_statistic_ext`, `pg_extension`,
//! `pg_foreign_table`, …) — as views computed from one read of the catalog state.
//!
//! # What it owns
//!
//! The mapping from tusk's catalog (`storage::schema::CatalogState`: tables with their
//! columns, primary keys and indexes; `storage::ddl`: sequences, views, CHECK and
//! FOREIGN KEY constraints, comments; enum types; roles, schemas, databases) to
//! PostgreSQL's catalog rows, column for column in PostgreSQL 15's order and names.
//!
//! # OIDs
//!
//! Tables, indexes, sequences, views, schemas, types, roles and databases have OIDs in
//! the catalog state; they are used as they are. Built-in types, namespaces
//! (`pg_catalog` 11, `public` 2200), access methods, collations and the system
//! catalogs themselves use PostgreSQL's fixed OIDs. Two kinds of object have no OID
//! in tusk's catalog: constraints and a primary key's index. They get one derived
//! from what identifies them — the kind, the table's OID and the name — by
//! [`derived_oid`], so the OID is the same on every read and after a restart (it
//! changes when the constraint is renamed) and lies in the upper half of the OID space,
//! which tusk never hands out.
//!
//! # Invariants
//!
//! - Every row of every view comes from one `Engine::with_catalog` read.
//! - The `oid` of a relation in `pg_class` is the one `regclass` resolves to
//!   (`sql::catalog_funcs`), and `pg_attribute.attrelid`, `pg_index`, `pg_constraint`
//!   and `pg_description` refer to the same numbers.
//!
//! What this module must never do: write the catalog, or know about sessions and the
//! wire (visibility along the search path is the caller's business).
//!
//! # Types tusk lacks
//!
//! PostgreSQL's `"char"` columns (`relkind`, `contype`…) are tusk's `"char"` too
//! (`types::pg_char`), `pg_node_tree` columns hold SQL text (what `pg_get_expr` prints),
//! `aclitem[]` is `text[]`, `regproc` and `regtype` columns are the names as text
//! (those of the always-empty catalogs `pg_operator`, `pg_amproc`, `pg_ts_*`,
//! `pg_conversion`, `pg_transform` are `oid`, so that pg_dump's comparisons with
//! `pg_proc.oid` bind), and `xid` columns are text. `int2vector` and `oidvector` are
//! their own types (subscripted from 0, written space-separated: pg_dump parses
//! `indkey` so).

use super::pg_types::{self, BUILTIN_TYPES};
use crate::storage::acl::{self, AclItem, AclObject};
use crate::storage::schema::{
    CatalogState, TableDef, BOOTSTRAP_SUPERUSER, PG_CATALOG_NAMESPACE, PUBLIC_NAMESPACE,
};
use crate::types::{array::ArrayValue, oid as typeoid, DataType, Value};
use std::sync::Arc;

/// `information_schema`'s namespace OID (PostgreSQL assigns it at initdb; 13207 in 15).
pub const INFORMATION_SCHEMA_NAMESPACE: u32 = 13207;
/// `pg_class`'s OID, the `classoid` of relations in `pg_description` and `pg_depend`.
pub const PG_CLASS_OID: u32 = 1259;
/// `pg_namespace`'s OID.
pub const PG_NAMESPACE_OID: u32 = 2615;
/// `pg_type`'s OID.
pub const PG_TYPE_OID: u32 = 1247;
/// `pg_proc`'s OID, the `classoid` of functions in `pg_description`.
pub const PG_PROC_OID: u32 = 1255;
/// `pg_attrdef`'s OID.
pub const PG_ATTRDEF_OID: u32 = 2604;
/// `pg_rewrite`'s OID.
pub const PG_REWRITE_OID: u32 = 2618;
/// `pg_constraint`'s OID.
pub const PG_CONSTRAINT_OID: u32 = 2606;
/// The `heap` table access method.
pub const HEAP_AM: u32 = 2;
/// The `btree` index access method.
pub const BTREE_AM: u32 = 403;
/// The `default` collation.
pub const DEFAULT_COLLATION: u32 = 100;

/// A catalog relation of `pg_catalog` computed from the catalog state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgView {
    /// `pg_class`: tables, indexes, sequences, views and the system catalogs.
    Class,
    /// `pg_namespace`.
    Namespace,
    /// `pg_attribute`: the columns of every relation in `pg_class`.
    Attribute,
    /// `pg_attrdef`: column defaults (`adbin` is the default's SQL text).
    Attrdef,
    /// `pg_type`: built-in types, enum types and their array types.
    Type,
    /// `pg_index`.
    Index,
    /// `pg_constraint`: primary keys, unique, CHECK and FOREIGN KEY constraints.
    Constraint,
    /// `pg_am`.
    Am,
    /// `pg_description` (COMMENT ON).
    Description,
    /// `pg_shdescription` (tusk has no comments on shared objects: empty).
    Shdescription,
    /// `pg_seclabel` / `pg_shseclabel` (tusk has no security label providers: empty;
    /// pg_dump and pg_dumpall read them).
    Seclabel(bool),
    /// `pg_db_role_setting` (tusk has no per-role or per-database settings: empty).
    DbRoleSetting,
    /// `pg_parameter_acl` (GRANT SET ON PARAMETER is not supported: empty).
    ParameterAcl,
    /// `pg_range` (tusk has no range types: empty; drivers' type lookups join it).
    Range,
    /// `pg_auth_members`.
    AuthMembers,
    /// `pg_authid` (superuser only; the binder checks).
    Authid,
    /// `pg_database`.
    Database,
    /// `pg_tablespace`: `pg_default` and `pg_global`.
    Tablespace,
    /// `pg_collation`: `default`, `C` and `POSIX`.
    Collation,
    /// `pg_sequence`.
    Sequence,
    /// `pg_depend`: what ties an owned sequence to its column.
    Depend,
    /// `pg_enum`.
    Enum,
    /// `pg_sequences`.
    Sequences,
    /// `pg_views`.
    Views,
    /// `pg_proc`: the built-in functions tusk implements (`catalog::pg_proc`).
    Proc,
    /// `pg_inherits` (no inheritance or partitioning in tusk: empty).
    Inherits,
    /// `pg_policy` (no row security: empty).
    Policy,
    /// `pg_statistic_ext` (no extended statistics: empty).
    StatisticExt,
    /// `pg_publication` (no logical replication: empty).
    Publication,
    /// `pg_publication_rel` (empty).
    PublicationRel,
    /// `pg_publication_namespace` (empty).
    PublicationNamespace,
    /// `pg_trigger` (tusk's foreign keys are not triggers: empty).
    Trigger,
    /// `pg_rewrite`: each view's `_RETURN` rule (`ev_action` is the view's query
    /// text).
    Rewrite,
    /// `pg_extension` (empty).
    Extension,
    /// `pg_foreign_table` (empty).
    ForeignTable,
    /// `pg_init_privs` (no extensions, so no initial privileges to remember: empty;
    /// pg_dump compares ACLs with it).
    InitPrivs,
    /// `pg_language`: the built-in `internal`, `c` and `sql` (tusk has no procedural
    /// languages).
    Language,
    /// `pg_operator` (no user-defined operators: empty).
    Operator,
    /// `pg_opclass` (no user-defined operator classes: empty).
    Opclass,
    /// `pg_opfamily` (empty).
    Opfamily,
    /// `pg_amop` (empty).
    Amop,
    /// `pg_amproc` (empty).
    Amproc,
    /// `pg_ts_parser` (no text search: empty).
    TsParser,
    /// `pg_ts_template` (empty).
    TsTemplate,
    /// `pg_ts_dict` (empty).
    TsDict,
    /// `pg_ts_config` (empty).
    TsConfig,
    /// `pg_foreign_data_wrapper` (no foreign data: empty).
    ForeignDataWrapper,
    /// `pg_foreign_server` (empty).
    ForeignServer,
    /// `pg_default_acl` (ALTER DEFAULT PRIVILEGES is not supported: empty).
    DefaultAcl,
    /// `pg_conversion` (no user-defined conversions: empty).
    Conversion,
    /// `pg_cast` (no user-defined casts: empty).
    Cast,
    /// `pg_transform` (empty).
    Transform,
    /// `pg_event_trigger` (no event triggers: empty).
    EventTrigger,
    /// `pg_partitioned_table` (no partitioning: empty).
    PartitionedTable,
    /// `pg_subscription` (no logical replication: empty).
    Subscription,
    /// `pg_largeobject_metadata` (no large objects: empty).
    LargeobjectMetadata,
    /// `pg_seclabels`, the view over `pg_seclabel` and `pg_shseclabel` (empty as they
    /// are).
    Seclabels,
}

/// The catalog relations with PostgreSQL's fixed OIDs, as `pg_class` lists them.
const SYSTEM_CATALOGS: &[(u32, &str, PgView)] = &[
    (1213, "pg_tablespace", PgView::Tablespace),
    (1247, "pg_type", PgView::Type),
    (1249, "pg_attribute", PgView::Attribute),
    (1255, "pg_proc", PgView::Proc),
    (1259, "pg_class", PgView::Class),
    (1260, "pg_authid", PgView::Authid),
    (1261, "pg_auth_members", PgView::AuthMembers),
    (1262, "pg_database", PgView::Database),
    (2224, "pg_sequence", PgView::Sequence),
    (2396, "pg_shdescription", PgView::Shdescription),
    (3596, "pg_seclabel", PgView::Seclabel(false)),
    (3592, "pg_shseclabel", PgView::Seclabel(true)),
    (2964, "pg_db_role_setting", PgView::DbRoleSetting),
    (6243, "pg_parameter_acl", PgView::ParameterAcl),
    (3541, "pg_range", PgView::Range),
    (2601, "pg_am", PgView::Am),
    (2604, "pg_attrdef", PgView::Attrdef),
    (2606, "pg_constraint", PgView::Constraint),
    (2608, "pg_depend", PgView::Depend),
    (2609, "pg_description", PgView::Description),
    (2610, "pg_index", PgView::Index),
    (2611, "pg_inherits", PgView::Inherits),
    (2615, "pg_namespace", PgView::Namespace),
    (2618, "pg_rewrite", PgView::Rewrite),
    (2620, "pg_trigger", PgView::Trigger),
    (3079, "pg_extension", PgView::Extension),
    (3118, "pg_foreign_table", PgView::ForeignTable),
    (3256, "pg_policy", PgView::Policy),
    (3381, "pg_statistic_ext", PgView::StatisticExt),
    (3456, "pg_collation", PgView::Collation),
    (3501, "pg_enum", PgView::Enum),
    (6104, "pg_publication", PgView::Publication),
    (6106, "pg_publication_rel", PgView::PublicationRel),
    (
        6237,
        "pg_publication_namespace",
        PgView::PublicationNamespace,
    ),
    (3394, "pg_init_privs", PgView::InitPrivs),
    (2612, "pg_language", PgView::Language),
    (2617, "pg_operator", PgView::Operator),
    (2616, "pg_opclass", PgView::Opclass),
    (2753, "pg_opfamily", PgView::Opfamily),
    (2602, "pg_amop", PgView::Amop),
    (2603, "pg_amproc", PgView::Amproc),
    (3601, "pg_ts_parser", PgView::TsParser),
    (3764, "pg_ts_template", PgView::TsTemplate),
    (3600, "pg_ts_dict", PgView::TsDict),
    (3602, "pg_ts_config", PgView::TsConfig),
    (2328, "pg_foreign_data_wrapper", PgView::ForeignDataWrapper),
    (1417, "pg_foreign_server", PgView::ForeignServer),
    (826, "pg_default_acl", PgView::DefaultAcl),
    (2607, "pg_conversion", PgView::Conversion),
    (2605, "pg_cast", PgView::Cast),
    (3576, "pg_transform", PgView::Transform),
    (3466, "pg_event_trigger", PgView::EventTrigger),
    (3350, "pg_partitioned_table", PgView::PartitionedTable),
    (6100, "pg_subscription", PgView::Subscription),
    (2995, "pg_largeobject_metadata", PgView::LargeobjectMetadata),
];

/// The OID of the system catalog this relation is (`tableoid` of its rows), None for
/// the views (`pg_sequences`, `pg_views`), which have no system columns.
pub fn catalog_oid(view: PgView) -> Option<u32> {
    SYSTEM_CATALOGS
        .iter()
        .find(|(_, _, v)| *v == view)
        .map(|(oid, _, _)| *oid)
}

/// The catalog relation with this name, if this module computes it.
pub fn view_by_name(name: &str) -> Option<PgView> {
    if let Some((_, _, v)) = SYSTEM_CATALOGS.iter().find(|(_, n, _)| *n == name) {
        return Some(*v);
    }
    Some(match name {
        "pg_sequences" => PgView::Sequences,
        "pg_views" => PgView::Views,
        "pg_seclabels" => PgView::Seclabels,
        _ => return None,
    })
}

/// The roles `pg_authid` and `pg_roles` list: the catalog's roles and PostgreSQL 15's
/// predefined `pg_database_owner` (it owns `public`; see `storage::acl`), which tusk
/// knows without storing it. pg_dump looks up every owner among these. In OID order.
pub fn listed_roles(c: &CatalogState) -> Vec<crate::storage::schema::RoleInfo> {
    let mut out: Vec<_> = c.roles.values().cloned().collect();
    if !c.roles.contains_key(&acl::PG_DATABASE_OWNER) {
        out.push(crate::storage::schema::RoleInfo {
            oid: acl::PG_DATABASE_OWNER,
            name: "pg_database_owner".into(),
            superuser: false,
            inherit: true,
            createrole: false,
            createdb: false,
            login: false,
            replication: false,
            bypassrls: false,
            conn_limit: -1,
            password: None,
            valid_until: None,
        });
    }
    out.sort_by_key(|r| r.oid);
    out
}

/// An OID for an object tusk's catalog stores without one (constraints, a primary
/// key's index): FNV-1a of (kind, table OID, name), in the upper half of the OID
/// space. See the module comment.
pub fn derived_oid(kind: u8, table: u32, name: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let mut mix = |b: u8| {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    };
    mix(kind);
    table.to_le_bytes().into_iter().for_each(&mut mix);
    name.bytes().for_each(&mut mix);
    h | 0x8000_0000
}

/// A relation as `pg_class` describes it.
#[derive(Debug, Clone)]
pub struct Relation {
    /// `oid`.
    pub oid: u32,
    /// `relname`.
    pub name: String,
    /// `relnamespace`.
    pub schema: u32,
    /// `relowner`.
    pub owner: u32,
    /// `relkind`: r, i, S, v.
    pub kind: u8,
    /// `relpersistence`: p, or t for a temporary relation.
    pub persistence: u8,
    /// `relam`: heap for tables, btree for indexes, 0 otherwise.
    pub am: u32,
    /// `relnatts` (for an index, its key columns).
    pub natts: i16,
    /// `relchecks`.
    pub checks: i16,
    /// `relhasindex`.
    pub has_index: bool,
    /// `relhastriggers`: tusk's foreign keys stand for PostgreSQL's internal
    /// triggers, on both the referencing and the referenced table.
    pub has_triggers: bool,
    /// The relation's stored ACL (`relacl`; None while it has the default).
    pub acl: Option<Vec<AclItem>>,
}

/// An index as `pg_index` describes it.
#[derive(Debug, Clone)]
pub struct Index {
    /// `indexrelid`.
    pub oid: u32,
    /// The index's name.
    pub name: String,
    /// The indexed table.
    pub table: Arc<TableDef>,
    /// The key columns (positions in the table).
    pub columns: Vec<usize>,
    /// `indisunique`.
    pub unique: bool,
    /// `indisprimary`.
    pub primary: bool,
    /// A partial index's predicate column (see `storage::IndexDef::predicate`).
    pub predicate: Option<usize>,
    /// Per key `indoption` bits (see `storage::IndexDef::options`; empty = all 0).
    pub options: Vec<i16>,
}

impl Index {
    /// `indoption`: one entry per key column.
    pub fn key_options(&self) -> Vec<i16> {
        (0..self.columns.len())
            .map(|k| self.options.get(k).copied().unwrap_or(0))
            .collect()
    }
}

/// A constraint as `pg_constraint` describes it.
#[derive(Debug, Clone)]
pub struct Constraint {
    /// `oid` (see [`derived_oid`]).
    pub oid: u32,
    /// `conname`.
    pub name: String,
    /// `connamespace` (the table's schema).
    pub schema: u32,
    /// `contype`: p, u, c, f.
    pub kind: u8,
    /// `conrelid`.
    pub table: Arc<TableDef>,
    /// `conindid`: the index of a key, or for a foreign key the referenced key's.
    pub index: u32,
    /// `confrelid` (0 unless a foreign key).
    pub ref_table: u32,
    /// `conkey` (1-based column numbers).
    pub keys: Vec<i16>,
    /// `confkey`.
    pub ref_keys: Vec<i16>,
    /// `condeferrable`.
    pub deferrable: bool,
    /// `condeferred`.
    pub deferred: bool,
    /// `confupdtype` (foreign keys; b' ' otherwise).
    pub on_update: u8,
    /// `confdeltype`.
    pub on_delete: u8,
    /// The CHECK expression's SQL text (`conbin`).
    pub expr: Option<String>,
}

/// The relations of database `db` (and the system catalogs), in OID order.
pub fn relations(c: &CatalogState, db: u32) -> Vec<Relation> {
    let mut out = Vec::new();
    let referenced: std::collections::BTreeSet<u32> = c
        .ddl
        .foreign_keys
        .range((db, 0)..=(db, u32::MAX))
        .flat_map(|(_, fks)| fks.iter().map(|f| f.ref_table))
        .collect();
    let acl_of = |oid: u32| c.acl.lists.get(&AclObject::Relation { db, oid }).cloned();
    let persistence = |schema: u32| if c.is_temp_schema(schema) { b't' } else { b'p' };
    for &(oid, name, view) in SYSTEM_CATALOGS {
        out.push(Relation {
            oid,
            name: name.to_string(),
            schema: PG_CATALOG_NAMESPACE,
            owner: BOOTSTRAP_SUPERUSER,
            kind: b'r',
            persistence: b'p',
            am: HEAP_AM,
            natts: view.columns().len() as i16,
            checks: 0,
            has_index: false,
            has_triggers: false,
            acl: None,
        });
    }
    for t in c.tables.range((db, 0)..=(db, u32::MAX)).map(|(_, t)| t) {
        let fks = c
            .ddl
            .foreign_keys
            .get(&(db, t.oid))
            .is_some_and(|f| !f.is_empty());
        out.push(Relation {
            oid: t.oid,
            name: t.name.clone(),
            schema: t.schema,
            owner: t.owner,
            kind: b'r',
            persistence: persistence(t.schema),
            am: HEAP_AM,
            natts: t.columns.len() as i16,
            checks: c.ddl.checks.get(&(db, t.oid)).map_or(0, |v| v.len()) as i16,
            has_index: t.primary_key.is_some() || !t.indexes.is_empty(),
            has_triggers: fks || referenced.contains(&t.oid),
            acl: acl_of(t.oid),
        });
    }
    for ix in indexes(c, db) {
        out.push(Relation {
            oid: ix.oid,
            name: ix.name.clone(),
            schema: ix.table.schema,
            owner: ix.table.owner,
            kind: b'i',
            persistence: persistence(ix.table.schema),
            am: BTREE_AM,
            natts: ix.columns.len() as i16,
            checks: 0,
            has_index: false,
            has_triggers: false,
            acl: None,
        });
    }
    for s in c
        .ddl
        .sequences
        .range((db, 0)..=(db, u32::MAX))
        .map(|(_, s)| s)
    {
        out.push(Relation {
            oid: s.oid,
            name: s.name.clone(),
            schema: s.schema,
            owner: s.owner,
            kind: b'S',
            persistence: persistence(s.schema),
            am: 0,
            natts: 3,
            checks: 0,
            has_index: false,
            has_triggers: false,
            acl: acl_of(s.oid),
        });
    }
    for v in c.ddl.views.range((db, 0)..=(db, u32::MAX)).map(|(_, v)| v) {
        out.push(Relation {
            oid: v.oid,
            name: v.name.clone(),
            schema: v.schema,
            owner: v.owner,
            kind: b'v',
            persistence: persistence(v.schema),
            am: 0,
            natts: v.columns.len() as i16,
            checks: 0,
            has_index: false,
            has_triggers: false,
            acl: acl_of(v.oid),
        });
    }
    out.sort_by_key(|r| r.oid);
    out
}

/// The indexes of database `db`: each table's primary key index, then its secondary
/// indexes in creation order.
pub fn indexes(c: &CatalogState, db: u32) -> Vec<Index> {
    let mut out = Vec::new();
    for t in c.tables.range((db, 0)..=(db, u32::MAX)).map(|(_, t)| t) {
        if let Some(pk) = &t.primary_key {
            out.push(Index {
                oid: derived_oid(b'i', t.oid, &t.pkey_name),
                name: t.pkey_name.clone(),
                table: t.clone(),
                columns: pk.clone(),
                unique: true,
                primary: true,
                predicate: None,
                options: vec![],
            });
        }
        for i in &t.indexes {
            out.push(Index {
                oid: i.oid,
                name: i.name.clone(),
                table: t.clone(),
                columns: i.columns.clone(),
                unique: i.unique,
                primary: false,
                predicate: i.predicate,
                options: i.options.clone(),
            });
        }
    }
    out
}

/// A stored expression's text as `pg_get_expr` shows a node: an operator expression in
/// parentheses, a function call, a name or a constant as it is.
pub fn node_text(t: &str) -> String {
    let bare = matches!(
        crate::sql::depth::parse_stored(t, |p| p.parse_expr()),
        Ok(sqlparser::ast::Expr::Function(_)
            | sqlparser::ast::Expr::Identifier(_)
            | sqlparser::ast::Expr::CompoundIdentifier(_)
            | sqlparser::ast::Expr::Value(_)
            | sqlparser::ast::Expr::Nested(_))
    );
    if bare {
        t.to_string()
    } else {
        format!("({t})")
    }
}

/// `pg_index.indexprs`: the index's key expressions as `pg_get_expr` prints them
/// (their text as written, each parenthesised unless a function call), NULL without.
fn index_exprs(ix: &Index) -> Value {
    let texts: Vec<String> = ix
        .columns
        .iter()
        .filter(|&&p| ix.table.is_hidden_key(p))
        .filter_map(|&p| ix.table.columns[p].generated.as_deref())
        .map(node_text)
        .collect();
    if texts.is_empty() {
        Value::Null
    } else {
        text(&texts.join(", "))
    }
}

fn attnums(cols: &[usize]) -> Vec<i16> {
    cols.iter().map(|&p| p as i16 + 1).collect()
}

/// The constraints of database `db`, table by table: primary key, unique, CHECK,
/// FOREIGN KEY.
pub fn constraints(c: &CatalogState, db: u32) -> Vec<Constraint> {
    let mut out = Vec::new();
    let base = |t: &Arc<TableDef>, kind: u8, name: &str| Constraint {
        oid: derived_oid(kind, t.oid, name),
        name: name.to_string(),
        schema: t.schema,
        kind,
        table: t.clone(),
        index: 0,
        ref_table: 0,
        keys: vec![],
        ref_keys: vec![],
        deferrable: false,
        deferred: false,
        on_update: b' ',
        on_delete: b' ',
        expr: None,
    };
    for t in c.tables.range((db, 0)..=(db, u32::MAX)).map(|(_, t)| t) {
        if let Some(pk) = &t.primary_key {
            let mut k = base(t, b'p', &t.pkey_name);
            k.index = derived_oid(b'i', t.oid, &t.pkey_name);
            k.keys = attnums(pk);
            out.push(k);
        }
        for i in t.indexes.iter().filter(|i| i.constraint) {
            let mut k = base(t, b'u', &i.name);
            k.index = i.oid;
            k.keys = attnums(&i.columns);
            out.push(k);
        }
        for ch in c.ddl.checks.get(&(db, t.oid)).into_iter().flatten() {
            let mut k = base(t, b'c', &ch.name);
            k.keys = referenced_columns(t, &ch.expr);
            k.expr = Some(ch.expr.clone());
            out.push(k);
        }
        for f in c.ddl.foreign_keys.get(&(db, t.oid)).into_iter().flatten() {
            let mut k = base(t, b'f', &f.name);
            k.ref_table = f.ref_table;
            k.keys = attnums(&f.columns);
            k.ref_keys = attnums(&f.ref_columns);
            k.deferrable = f.deferrable;
            k.deferred = f.initially_deferred;
            k.on_update = f.on_update;
            k.on_delete = f.on_delete;
            // The referenced key's index: the one whose columns are the referenced
            // columns as a set.
            if let Some(rt) = c.tables.get(&(db, f.ref_table)) {
                let mut want = f.ref_columns.clone();
                want.sort_unstable();
                let same = |cols: &[usize]| {
                    let mut v = cols.to_vec();
                    v.sort_unstable();
                    v == want
                };
                if rt.primary_key.as_deref().is_some_and(same) {
                    k.index = derived_oid(b'i', rt.oid, &rt.pkey_name);
                } else if let Some(i) = rt.indexes.iter().find(|i| i.unique && same(&i.columns)) {
                    k.index = i.oid;
                }
            }
            out.push(k);
        }
    }
    out
}

/// The columns an expression's text names (`conkey` of a CHECK constraint): its
/// identifiers outside string literals that are live columns of the table, as
/// 1-based numbers in column order.
fn referenced_columns(t: &TableDef, expr: &str) -> Vec<i16> {
    let mut names = std::collections::BTreeSet::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            for d in chars.by_ref() {
                if d == '\'' {
                    break;
                }
            }
        } else if c == '"' {
            let mut id = String::new();
            for d in chars.by_ref() {
                if d == '"' {
                    break;
                }
                id.push(d);
            }
            names.insert(id);
        } else if c.is_alphabetic() || c == '_' {
            let mut id = c.to_lowercase().to_string();
            while let Some(&d) = chars.peek() {
                if !(d.is_alphanumeric() || d == '_' || d == '$') {
                    break;
                }
                id.extend(d.to_lowercase());
                chars.next();
            }
            names.insert(id);
        } else if c.is_ascii_digit() {
            while chars
                .peek()
                .is_some_and(|d| d.is_alphanumeric() || *d == '.')
            {
                chars.next();
            }
        }
    }
    t.live_columns()
        .filter(|&i| names.contains(&t.columns[i].name))
        .map(|i| i as i16 + 1)
        .collect()
}

/// `format_type(oid, typmod)`: a type's name as SQL writes it, with its modifier;
/// names of types not visible along the search path are schema-qualified by the
/// caller's `qualify`.
pub fn format_type(
    c: &CatalogState,
    oid: u32,
    typmod: i32,
    qualify: &dyn Fn(u32) -> Option<String>,
) -> Option<String> {
    let with_mod = typmod >= 0;
    let precision = |base: &str, rest: &str| {
        if with_mod {
            format!("{base}({typmod}){rest}")
        } else {
            format!("{base}{rest}")
        }
    };
    Some(match oid {
        typeoid::BOOL => "boolean".into(),
        typeoid::INT2 => "smallint".into(),
        typeoid::INT4 => "integer".into(),
        typeoid::INT8 => "bigint".into(),
        typeoid::FLOAT4 => "real".into(),
        typeoid::FLOAT8 => "double precision".into(),
        // The internal one-byte type's name is quoted, unlike character's `char`.
        typeoid::CHAR => "\"char\"".into(),
        // The pseudo-type "any": its name is a reserved word.
        2276 => "\"any\"".into(),
        typeoid::BPCHAR if with_mod => format!("character({})", typmod - 4),
        typeoid::BPCHAR => "bpchar".into(),
        typeoid::VARCHAR if with_mod => format!("character varying({})", typmod - 4),
        typeoid::VARCHAR => "character varying".into(),
        typeoid::NUMERIC if with_mod => {
            let t = typmod - 4;
            format!("numeric({},{})", (t >> 16) & 0xffff, t & 0xffff)
        }
        typeoid::TIME => precision("time", " without time zone"),
        typeoid::TIMETZ => precision("time", " with time zone"),
        typeoid::TIMESTAMP => precision("timestamp", " without time zone"),
        typeoid::TIMESTAMPTZ => precision("timestamp", " with time zone"),
        typeoid::INTERVAL if with_mod => format!("interval({typmod})"),
        1560 if with_mod => format!("bit({typmod})"),
        1562 if with_mod => format!("bit varying({typmod})"),
        1562 => "bit varying".into(),
        _ => {
            if let Some(t) = pg_types::by_oid(oid) {
                if t.elem != 0 && t.len == -1 && t.category == b'A' {
                    return format_type(c, t.elem, typmod, qualify).map(|s| s + "[]");
                }
                return Some(quote_ident(t.name));
            }
            if let Some(e) = c.enums.get(&oid) {
                let name = quote_ident(&e.name);
                return Some(match qualify(e.schema) {
                    Some(s) => format!("{}.{name}", quote_ident(&s)),
                    None => name,
                });
            }
            if let Some(e) = oid.checked_sub(1).and_then(|o| c.enums.get(&o)) {
                return format_type(c, e.oid, -1, qualify).map(|s| s + "[]");
            }
            return None;
        }
    })
}

/// An identifier as PostgreSQL's `quote_ident` writes it.
pub fn quote_ident(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// A `"char"` value: one character, or the empty string for PostgreSQL's `'\0'`.
fn ch(b: u8) -> Value {
    if b == 0 {
        Value::Text(String::new())
    } else {
        Value::Text((b as char).to_string())
    }
}

fn oid_array(v: &[u32]) -> Value {
    Value::Array(Box::new(ArrayValue {
        elem: DataType::Oid,
        items: v.iter().map(|&o| Value::Oid(o)).collect(),
    }))
}

/// An `int2vector` / `oidvector` value with the items of an array value.
fn vector(t: DataType, v: Value) -> Value {
    crate::types::array::as_vector(t, v)
}

fn int2_array(v: &[i16]) -> Value {
    Value::Array(Box::new(ArrayValue {
        elem: DataType::Int2,
        items: v.iter().map(|&o| Value::Int2(o)).collect(),
    }))
}

fn acl_value(c: &CatalogState, acl: Option<&Vec<AclItem>>) -> Value {
    match acl {
        None => Value::Null,
        Some(items) => Value::TextArray(
            items
                .iter()
                .map(|i| {
                    let t = acl::acl_text(c, std::slice::from_ref(i));
                    Some(t.trim_start_matches('{').trim_end_matches('}').to_string())
                })
                .collect(),
        ),
    }
}

/// `typlen` of a type.
fn type_len(c: &CatalogState, oid: u32) -> i16 {
    pg_types::by_oid(oid)
        .map(|t| t.len)
        .unwrap_or(if c.enums.contains_key(&oid) { 4 } else { -1 })
}

/// The collation of a column of this type (`default` for the string types).
fn type_collation(oid: u32) -> u32 {
    pg_types::by_oid(oid).map_or(0, |t| t.collation)
}

impl PgView {
    /// The relation's columns with PostgreSQL 15's names and (see the module comment)
    /// types.
    pub fn columns(self) -> &'static [(&'static str, DataType)] {
        use DataType::*;
        const OIDA: DataType = DataType::Array(typeoid::OID);
        const INT2A: DataType = DataType::Array(typeoid::INT2);
        const I2V: DataType = DataType::Int2Vector;
        const OIDV: DataType = DataType::OidVector;
        match self {
            PgView::Class => &[
                ("oid", Oid),
                ("relname", Name),
                ("relnamespace", Oid),
                ("reltype", Oid),
                ("reloftype", Oid),
                ("relowner", Oid),
                ("relam", Oid),
                ("relfilenode", Oid),
                ("reltablespace", Oid),
                ("relpages", Int4),
                ("reltuples", Float4),
                ("relallvisible", Int4),
                ("reltoastrelid", Oid),
                ("relhasindex", Bool),
                ("relisshared", Bool),
                ("relpersistence", Char),
                ("relkind", Char),
                ("relnatts", Int2),
                ("relchecks", Int2),
                ("relhasrules", Bool),
                ("relhastriggers", Bool),
                ("relhassubclass", Bool),
                ("relrowsecurity", Bool),
                ("relforcerowsecurity", Bool),
                ("relispopulated", Bool),
                ("relreplident", Char),
                ("relispartition", Bool),
                ("relrewrite", Oid),
                ("relfrozenxid", Text),
                ("relminmxid", Text),
                ("relacl", TextArray),
                ("reloptions", TextArray),
                ("relpartbound", Text),
            ],
            PgView::Namespace => &[
                ("oid", Oid),
                ("nspname", Name),
                ("nspowner", Oid),
                ("nspacl", TextArray),
            ],
            PgView::Attribute => &[
                ("attrelid", Oid),
                ("attname", Name),
                ("atttypid", Oid),
                ("attstattarget", Int4),
                ("attlen", Int2),
                ("attnum", Int2),
                ("attndims", Int4),
                ("attcacheoff", Int4),
                ("atttypmod", Int4),
                ("attbyval", Bool),
                ("attalign", Char),
                ("attstorage", Char),
                ("attcompression", Char),
                ("attnotnull", Bool),
                ("atthasdef", Bool),
                ("atthasmissing", Bool),
                ("attidentity", Char),
                ("attgenerated", Char),
                ("attisdropped", Bool),
                ("attislocal", Bool),
                ("attinhcount", Int4),
                ("attcollation", Oid),
                ("attacl", TextArray),
                ("attoptions", TextArray),
                ("attfdwoptions", TextArray),
                ("attmissingval", TextArray),
            ],
            PgView::Attrdef => &[
                ("oid", Oid),
                ("adrelid", Oid),
                ("adnum", Int2),
                ("adbin", Text),
            ],
            PgView::Type => &[
                ("oid", Oid),
                ("typname", Name),
                ("typnamespace", Oid),
                ("typowner", Oid),
                ("typlen", Int2),
                ("typbyval", Bool),
                ("typtype", Char),
                ("typcategory", Char),
                ("typispreferred", Bool),
                ("typisdefined", Bool),
                ("typdelim", Char),
                ("typrelid", Oid),
                ("typsubscript", Text),
                ("typelem", Oid),
                ("typarray", Oid),
                ("typinput", Text),
                ("typoutput", Text),
                ("typreceive", Text),
                ("typsend", Text),
                ("typmodin", Text),
                ("typmodout", Text),
                ("typanalyze", Text),
                ("typalign", Char),
                ("typstorage", Char),
                ("typnotnull", Bool),
                ("typbasetype", Oid),
                ("typtypmod", Int4),
                ("typndims", Int4),
                ("typcollation", Oid),
                ("typdefaultbin", Text),
                ("typdefault", Text),
                ("typacl", TextArray),
            ],
            PgView::Index => &[
                ("indexrelid", Oid),
                ("indrelid", Oid),
                ("indnatts", Int2),
                ("indnkeyatts", Int2),
                ("indisunique", Bool),
                ("indnullsnotdistinct", Bool),
                ("indisprimary", Bool),
                ("indisexclusion", Bool),
                ("indimmediate", Bool),
                ("indisclustered", Bool),
                ("indisvalid", Bool),
                ("indcheckxmin", Bool),
                ("indisready", Bool),
                ("indislive", Bool),
                ("indisreplident", Bool),
                ("indkey", I2V),
                ("indcollation", OIDV),
                ("indclass", OIDV),
                ("indoption", I2V),
                ("indexprs", Text),
                ("indpred", Text),
            ],
            PgView::Constraint => &[
                ("oid", Oid),
                ("conname", Name),
                ("connamespace", Oid),
                ("contype", Char),
                ("condeferrable", Bool),
                ("condeferred", Bool),
                ("convalidated", Bool),
                ("conrelid", Oid),
                ("contypid", Oid),
                ("conindid", Oid),
                ("conparentid", Oid),
                ("confrelid", Oid),
                ("confupdtype", Char),
                ("confdeltype", Char),
                ("confmatchtype", Char),
                ("conislocal", Bool),
                ("coninhcount", Int4),
                ("connoinherit", Bool),
                ("conkey", INT2A),
                ("confkey", INT2A),
                ("conpfeqop", OIDA),
                ("conppeqop", OIDA),
                ("conffeqop", OIDA),
                ("confdelsetcols", INT2A),
                ("conexclop", OIDA),
                ("conbin", Text),
            ],
            PgView::Am => &[
                ("oid", Oid),
                ("amname", Name),
                ("amhandler", Text),
                ("amtype", Char),
            ],
            PgView::Description => &[
                ("objoid", Oid),
                ("classoid", Oid),
                ("objsubid", Int4),
                ("description", Text),
            ],
            PgView::Shdescription => &[("objoid", Oid), ("classoid", Oid), ("description", Text)],
            PgView::Seclabel(false) => &[
                ("objoid", Oid),
                ("classoid", Oid),
                ("objsubid", Int4),
                ("provider", Text),
                ("label", Text),
            ],
            PgView::ParameterAcl => &[("oid", Oid), ("parname", Text), ("paracl", TextArray)],
            PgView::Range => &[
                ("rngtypid", Oid),
                ("rngsubtype", Oid),
                ("rngmultitypid", Oid),
                ("rngcollation", Oid),
                ("rngsubopc", Oid),
                ("rngcanonical", Text),
                ("rngsubdiff", Text),
            ],
            PgView::DbRoleSetting => &[
                ("setdatabase", Oid),
                ("setrole", Oid),
                ("setconfig", TextArray),
            ],
            PgView::Seclabel(true) => &[
                ("objoid", Oid),
                ("classoid", Oid),
                ("provider", Text),
                ("label", Text),
            ],
            PgView::AuthMembers => &[
                ("roleid", Oid),
                ("member", Oid),
                ("grantor", Oid),
                ("admin_option", Bool),
            ],
            PgView::Authid => &[
                ("oid", Oid),
                ("rolname", Name),
                ("rolsuper", Bool),
                ("rolinherit", Bool),
                ("rolcreaterole", Bool),
                ("rolcreatedb", Bool),
                ("rolcanlogin", Bool),
                ("rolreplication", Bool),
                ("rolbypassrls", Bool),
                ("rolconnlimit", Int4),
                ("rolpassword", Text),
                ("rolvaliduntil", TimestampTz),
            ],
            PgView::Database => &[
                ("oid", Oid),
                ("datname", Name),
                ("datdba", Oid),
                ("encoding", Int4),
                ("datlocprovider", Char),
                ("datistemplate", Bool),
                ("datallowconn", Bool),
                ("datconnlimit", Int4),
                ("datfrozenxid", Text),
                ("datminmxid", Text),
                ("dattablespace", Oid),
                ("datcollate", Text),
                ("datctype", Text),
                ("daticulocale", Text),
                ("datcollversion", Text),
                ("datacl", TextArray),
            ],
            PgView::Tablespace => &[
                ("oid", Oid),
                ("spcname", Name),
                ("spcowner", Oid),
                ("spcacl", TextArray),
                ("spcoptions", TextArray),
            ],
            PgView::Collation => &[
                ("oid", Oid),
                ("collname", Name),
                ("collnamespace", Oid),
                ("collowner", Oid),
                ("collprovider", Char),
                ("collisdeterministic", Bool),
                ("collencoding", Int4),
                ("collcollate", Text),
                ("collctype", Text),
                ("colliculocale", Text),
                ("collversion", Text),
            ],
            PgView::Sequence => &[
                ("seqrelid", Oid),
                ("seqtypid", Oid),
                ("seqstart", Int8),
                ("seqincrement", Int8),
                ("seqmax", Int8),
                ("seqmin", Int8),
                ("seqcache", Int8),
                ("seqcycle", Bool),
            ],
            PgView::Depend => &[
                ("classid", Oid),
                ("objid", Oid),
                ("objsubid", Int4),
                ("refclassid", Oid),
                ("refobjid", Oid),
                ("refobjsubid", Int4),
                ("deptype", Char),
            ],
            PgView::Enum => &[
                ("oid", Oid),
                ("enumtypid", Oid),
                ("enumsortorder", Float4),
                ("enumlabel", Name),
            ],
            PgView::Sequences => &[
                ("schemaname", Name),
                ("sequencename", Name),
                ("sequenceowner", Name),
                ("data_type", Text),
                ("start_value", Int8),
                ("min_value", Int8),
                ("max_value", Int8),
                ("increment_by", Int8),
                ("cycle", Bool),
                ("cache_size", Int8),
                ("last_value", Int8),
            ],
            PgView::Views => &[
                ("schemaname", Name),
                ("viewname", Name),
                ("viewowner", Name),
                ("definition", Text),
            ],
            PgView::Proc => &[
                ("oid", Oid),
                ("proname", Name),
                ("pronamespace", Oid),
                ("proowner", Oid),
                ("prolang", Oid),
                ("procost", Float4),
                ("prorows", Float4),
                ("provariadic", Oid),
                ("prosupport", Text),
                ("prokind", Char),
                ("prosecdef", Bool),
                ("proleakproof", Bool),
                ("proisstrict", Bool),
                ("proretset", Bool),
                ("provolatile", Char),
                ("proparallel", Char),
                ("pronargs", Int2),
                ("pronargdefaults", Int2),
                ("prorettype", Oid),
                ("proargtypes", OIDV),
                ("proallargtypes", OIDA),
                ("proargmodes", TextArray),
                ("proargnames", TextArray),
                ("proargdefaults", Text),
                ("protrftypes", OIDA),
                ("prosrc", Text),
                ("probin", Text),
                ("prosqlbody", Text),
                ("proconfig", TextArray),
                ("proacl", TextArray),
            ],
            PgView::Inherits => &[
                ("inhrelid", Oid),
                ("inhparent", Oid),
                ("inhseqno", Int4),
                ("inhdetachpending", Bool),
            ],
            PgView::Policy => &[
                ("oid", Oid),
                ("polname", Name),
                ("polrelid", Oid),
                ("polcmd", Char),
                ("polpermissive", Bool),
                ("polroles", OIDA),
                ("polqual", Text),
                ("polwithcheck", Text),
            ],
            PgView::StatisticExt => &[
                ("oid", Oid),
                ("stxrelid", Oid),
                ("stxname", Name),
                ("stxnamespace", Oid),
                ("stxowner", Oid),
                ("stxstattarget", Int4),
                ("stxkeys", I2V),
                ("stxkind", TextArray),
                ("stxexprs", Text),
            ],
            PgView::Publication => &[
                ("oid", Oid),
                ("pubname", Name),
                ("pubowner", Oid),
                ("puballtables", Bool),
                ("pubinsert", Bool),
                ("pubupdate", Bool),
                ("pubdelete", Bool),
                ("pubtruncate", Bool),
                ("pubviaroot", Bool),
            ],
            PgView::PublicationRel => &[
                ("oid", Oid),
                ("prpubid", Oid),
                ("prrelid", Oid),
                ("prqual", Text),
                ("prattrs", INT2A),
            ],
            PgView::PublicationNamespace => &[("oid", Oid), ("pnpubid", Oid), ("pnnspid", Oid)],
            PgView::Trigger => &[
                ("oid", Oid),
                ("tgrelid", Oid),
                ("tgparentid", Oid),
                ("tgname", Name),
                ("tgfoid", Oid),
                ("tgtype", Int2),
                ("tgenabled", Char),
                ("tgisinternal", Bool),
                ("tgconstrrelid", Oid),
                ("tgconstrindid", Oid),
                ("tgconstraint", Oid),
                ("tgdeferrable", Bool),
                ("tginitdeferred", Bool),
                ("tgnargs", Int2),
                ("tgattr", I2V),
                ("tgargs", Bytea),
                ("tgqual", Text),
                ("tgoldtable", Name),
                ("tgnewtable", Name),
            ],
            PgView::Rewrite => &[
                ("oid", Oid),
                ("rulename", Name),
                ("ev_class", Oid),
                ("ev_type", Char),
                ("ev_enabled", Char),
                ("is_instead", Bool),
                ("ev_qual", Text),
                ("ev_action", Text),
            ],
            PgView::Extension => &[
                ("oid", Oid),
                ("extname", Name),
                ("extowner", Oid),
                ("extnamespace", Oid),
                ("extrelocatable", Bool),
                ("extversion", Text),
                ("extconfig", OIDA),
                ("extcondition", TextArray),
            ],
            PgView::ForeignTable => &[
                ("ftrelid", Oid),
                ("ftserver", Oid),
                ("ftoptions", TextArray),
            ],
            PgView::InitPrivs => &[
                ("objoid", Oid),
                ("classoid", Oid),
                ("objsubid", Int4),
                ("privtype", Text),
                ("initprivs", TextArray),
            ],
            PgView::Language => &[
                ("oid", Oid),
                ("lanname", Name),
                ("lanowner", Oid),
                ("lanispl", Bool),
                ("lanpltrusted", Bool),
                ("lanplcallfoid", Oid),
                ("laninline", Oid),
                ("lanvalidator", Oid),
                ("lanacl", TextArray),
            ],
            PgView::Operator => &[
                ("oid", Oid),
                ("oprname", Name),
                ("oprnamespace", Oid),
                ("oprowner", Oid),
                ("oprkind", Text),
                ("oprcanmerge", Bool),
                ("oprcanhash", Bool),
                ("oprleft", Oid),
                ("oprright", Oid),
                ("oprresult", Oid),
                ("oprcom", Oid),
                ("oprnegate", Oid),
                ("oprcode", Oid),
                ("oprrest", Oid),
                ("oprjoin", Oid),
            ],
            PgView::Opclass => &[
                ("oid", Oid),
                ("opcmethod", Oid),
                ("opcname", Name),
                ("opcnamespace", Oid),
                ("opcowner", Oid),
                ("opcfamily", Oid),
                ("opcintype", Oid),
                ("opcdefault", Bool),
                ("opckeytype", Oid),
            ],
            PgView::Opfamily => &[
                ("oid", Oid),
                ("opfmethod", Oid),
                ("opfname", Name),
                ("opfnamespace", Oid),
                ("opfowner", Oid),
            ],
            PgView::Amop => &[
                ("oid", Oid),
                ("amopfamily", Oid),
                ("amoplefttype", Oid),
                ("amoprighttype", Oid),
                ("amopstrategy", Int2),
                ("amoppurpose", Text),
                ("amopopr", Oid),
                ("amopmethod", Oid),
                ("amopsortfamily", Oid),
            ],
            PgView::Amproc => &[
                ("oid", Oid),
                ("amprocfamily", Oid),
                ("amproclefttype", Oid),
                ("amprocrighttype", Oid),
                ("amprocnum", Int2),
                ("amproc", Oid),
            ],
            PgView::TsParser => &[
                ("oid", Oid),
                ("prsname", Name),
                ("prsnamespace", Oid),
                ("prsstart", Oid),
                ("prstoken", Oid),
                ("prsend", Oid),
                ("prsheadline", Oid),
                ("prslextype", Oid),
            ],
            PgView::TsTemplate => &[
                ("oid", Oid),
                ("tmplname", Name),
                ("tmplnamespace", Oid),
                ("tmplinit", Oid),
                ("tmpllexize", Oid),
            ],
            PgView::TsDict => &[
                ("oid", Oid),
                ("dictname", Name),
                ("dictnamespace", Oid),
                ("dictowner", Oid),
                ("dicttemplate", Oid),
                ("dictinitoption", Text),
            ],
            PgView::TsConfig => &[
                ("oid", Oid),
                ("cfgname", Name),
                ("cfgnamespace", Oid),
                ("cfgowner", Oid),
                ("cfgparser", Oid),
            ],
            PgView::ForeignDataWrapper => &[
                ("oid", Oid),
                ("fdwname", Name),
                ("fdwowner", Oid),
                ("fdwhandler", Oid),
                ("fdwvalidator", Oid),
                ("fdwacl", TextArray),
                ("fdwoptions", TextArray),
            ],
            PgView::ForeignServer => &[
                ("oid", Oid),
                ("srvname", Name),
                ("srvowner", Oid),
                ("srvfdw", Oid),
                ("srvtype", Text),
                ("srvversion", Text),
                ("srvacl", TextArray),
                ("srvoptions", TextArray),
            ],
            PgView::DefaultAcl => &[
                ("oid", Oid),
                ("defaclrole", Oid),
                ("defaclnamespace", Oid),
                ("defaclobjtype", Text),
                ("defaclacl", TextArray),
            ],
            PgView::Conversion => &[
                ("oid", Oid),
                ("conname", Name),
                ("connamespace", Oid),
                ("conowner", Oid),
                ("conforencoding", Int4),
                ("contoencoding", Int4),
                ("conproc", Oid),
                ("condefault", Bool),
            ],
            PgView::Cast => &[
                ("oid", Oid),
                ("castsource", Oid),
                ("casttarget", Oid),
                ("castfunc", Oid),
                ("castcontext", Text),
                ("castmethod", Text),
            ],
            PgView::Transform => &[
                ("oid", Oid),
                ("trftype", Oid),
                ("trflang", Oid),
                ("trffromsql", Oid),
                ("trftosql", Oid),
            ],
            PgView::EventTrigger => &[
                ("oid", Oid),
                ("evtname", Name),
                ("evtevent", Name),
                ("evtowner", Oid),
                ("evtfoid", Oid),
                ("evtenabled", Text),
                ("evttags", TextArray),
            ],
            PgView::PartitionedTable => &[
                ("partrelid", Oid),
                ("partstrat", Text),
                ("partnatts", Int2),
                ("partdefid", Oid),
                ("partattrs", I2V),
                ("partclass", OIDV),
                ("partcollation", OIDV),
                ("partexprs", Text),
            ],
            PgView::Subscription => &[
                ("oid", Oid),
                ("subdbid", Oid),
                ("subskiplsn", PgLsn),
                ("subname", Name),
                ("subowner", Oid),
                ("subenabled", Bool),
                ("subbinary", Bool),
                ("substream", Bool),
                ("subtwophasestate", Text),
                ("subdisableonerr", Bool),
                ("subconninfo", Text),
                ("subslotname", Name),
                ("subsynccommit", Text),
                ("subpublications", TextArray),
            ],
            PgView::LargeobjectMetadata => {
                &[("oid", Oid), ("lomowner", Oid), ("lomacl", TextArray)]
            }
            PgView::Seclabels => &[
                ("objoid", Oid),
                ("classoid", Oid),
                ("objsubid", Int4),
                ("objtype", Text),
                ("objnamespace", Oid),
                ("objname", Text),
                ("provider", Text),
                ("label", Text),
            ],
        }
    }

    /// The relation's rows in database `db`, from one read of the catalog.
    pub fn rows(self, c: &CatalogState, db: u32) -> Vec<Vec<Value>> {
        let o = Value::Oid;
        let b = Value::Bool;
        let null = || Value::Null;
        match self {
            PgView::Class => relations(c, db)
                .into_iter()
                .map(|r| {
                    vec![
                        o(r.oid),
                        text(&r.name),
                        o(r.schema),
                        o(0),
                        o(0),
                        o(r.owner),
                        o(r.am),
                        o(if r.kind == b'v' { 0 } else { r.oid }),
                        o(0),
                        Value::Int4(0),
                        Value::Float4(-1.0),
                        Value::Int4(0),
                        o(0),
                        b(r.has_index),
                        b(false),
                        ch(r.persistence),
                        ch(r.kind),
                        Value::Int2(r.natts),
                        Value::Int2(r.checks),
                        b(false),
                        b(r.has_triggers),
                        b(false),
                        b(false),
                        b(false),
                        b(true),
                        ch(if r.kind == b'r' { b'd' } else { b'n' }),
                        b(false),
                        o(0),
                        text("0"),
                        text("0"),
                        acl_value(c, r.acl.as_ref()),
                        null(),
                        null(),
                    ]
                })
                .collect(),
            PgView::Namespace => {
                let mut list: Vec<(u32, String, u32)> = c
                    .schemas
                    .iter()
                    .map(|(oid, (n, owner))| (*oid, n.clone(), *owner))
                    .collect();
                list.push((
                    INFORMATION_SCHEMA_NAMESPACE,
                    "information_schema".into(),
                    BOOTSTRAP_SUPERUSER,
                ));
                list.sort_by_key(|l| l.0);
                list.into_iter()
                    .map(|(oid, name, owner)| {
                        vec![
                            o(oid),
                            text(&name),
                            o(owner),
                            acl_value(c, schema_acl(c, oid, owner).as_ref()),
                        ]
                    })
                    .collect()
            }
            PgView::Attribute => attribute_rows(c, db),
            PgView::Attrdef => {
                let mut out = Vec::new();
                for t in c.tables.range((db, 0)..=(db, u32::MAX)).map(|(_, t)| t) {
                    for (i, col) in t.columns.iter().enumerate() {
                        let num = i as i16 + 1;
                        if let Some(d) = column_default(c, db, t, i) {
                            out.push(vec![
                                o(derived_oid(b'd', t.oid, &num.to_string())),
                                o(t.oid),
                                Value::Int2(num),
                                text(&default_text(c, col.data_type.oid(), d)),
                            ]);
                        } else if let (Some(g), false) = (&col.generated, col.dropped) {
                            // A stored generated column's expression is its "default".
                            out.push(vec![
                                o(derived_oid(b'd', t.oid, &num.to_string())),
                                o(t.oid),
                                Value::Int2(num),
                                text(g),
                            ]);
                        }
                    }
                }
                out
            }
            PgView::Type => type_rows(c, db),
            PgView::Index => indexes(c, db)
                .into_iter()
                .map(|ix| {
                    let n = ix.columns.len() as i16;
                    let colls: Vec<u32> = ix
                        .columns
                        .iter()
                        .map(|&p| {
                            ix.table
                                .columns
                                .get(p)
                                .map_or(0, |col| type_collation(col.data_type.oid()))
                        })
                        .collect();
                    vec![
                        o(ix.oid),
                        o(ix.table.oid),
                        Value::Int2(n),
                        Value::Int2(n),
                        b(ix.unique),
                        b(false),
                        b(ix.primary),
                        b(false),
                        b(true),
                        b(false),
                        b(true),
                        b(false),
                        b(true),
                        b(true),
                        b(false),
                        // An expression key is attribute 0; its text is in indexprs.
                        vector(
                            DataType::Int2Vector,
                            int2_array(
                                &ix.columns
                                    .iter()
                                    .map(|&p| {
                                        if ix.table.is_hidden_key(p) {
                                            0
                                        } else {
                                            p as i16 + 1
                                        }
                                    })
                                    .collect::<Vec<_>>(),
                            ),
                        ),
                        vector(DataType::OidVector, oid_array(&colls)),
                        null(),
                        vector(DataType::Int2Vector, int2_array(&ix.key_options())),
                        index_exprs(&ix),
                        ix.predicate
                            .and_then(|p| ix.table.columns.get(p)?.generated.clone())
                            .map_or(Value::Null, |t| text(&format!("({t})"))),
                    ]
                })
                .collect(),
            PgView::Constraint => constraints(c, db)
                .into_iter()
                .map(|k| {
                    let fk = k.kind == b'f';
                    let arr = |v: &[i16]| {
                        if v.is_empty() {
                            Value::Null
                        } else {
                            int2_array(v)
                        }
                    };
                    vec![
                        o(k.oid),
                        text(&k.name),
                        o(k.schema),
                        ch(k.kind),
                        b(k.deferrable),
                        b(k.deferred),
                        b(true),
                        o(k.table.oid),
                        o(0),
                        o(k.index),
                        o(0),
                        o(k.ref_table),
                        ch(k.on_update),
                        ch(k.on_delete),
                        ch(if fk { b's' } else { b' ' }),
                        b(true),
                        Value::Int4(0),
                        b(false),
                        arr(&k.keys),
                        arr(&k.ref_keys),
                        null(),
                        null(),
                        null(),
                        null(),
                        null(),
                        k.expr.as_deref().map_or(Value::Null, text),
                    ]
                })
                .collect(),
            PgView::Am => vec![
                vec![
                    o(HEAP_AM),
                    text("heap"),
                    text("heap_tableam_handler"),
                    ch(b't'),
                ],
                vec![o(BTREE_AM), text("btree"), text("bthandler"), ch(b'i')],
            ],
            PgView::Description => {
                let rels: std::collections::BTreeSet<u32> =
                    relations(c, db).into_iter().map(|r| r.oid).collect();
                // initdb's comments on the two schemas it creates, unless replaced.
                let mut rows: Vec<Vec<Value>> = [PG_CATALOG_NAMESPACE, PUBLIC_NAMESPACE]
                    .into_iter()
                    .filter(|oid| !c.ddl.comments.contains_key(&(db, *oid, 0)))
                    .filter_map(|oid| Some((oid, initial_comment(oid)?)))
                    .map(|(oid, d)| vec![o(oid), o(PG_NAMESPACE_OID), Value::Int4(0), text(d)])
                    .collect();
                rows.extend(
                    c.ddl
                        .comments
                        .range((db, 0, i32::MIN)..=(db, u32::MAX, i32::MAX))
                        .map(|((_, oid, sub), text_)| {
                            let class = if rels.contains(oid) {
                                PG_CLASS_OID
                            } else if c.schemas.contains_key(oid) {
                                PG_NAMESPACE_OID
                            } else if c.enums.contains_key(oid) {
                                PG_TYPE_OID
                            } else {
                                PG_CONSTRAINT_OID
                            };
                            vec![o(*oid), o(class), Value::Int4(*sub), text(text_)]
                        }),
                );
                // The built-in functions' comments (`catalog::pg_proc`).
                rows.extend(super::pg_proc::all().iter().filter_map(|p| {
                    let d = p.description.as_deref()?;
                    Some(vec![o(p.oid), o(PG_PROC_OID), Value::Int4(0), text(d)])
                }));
                rows
            }
            PgView::AuthMembers => c
                .memberships
                .iter()
                .map(|(role, member)| vec![o(*role), o(*member), o(BOOTSTRAP_SUPERUSER), b(false)])
                .collect(),
            PgView::Authid => listed_roles(c)
                .iter()
                .map(|r| {
                    vec![
                        o(r.oid),
                        text(&r.name),
                        b(r.superuser),
                        b(r.inherit),
                        b(r.createrole),
                        b(r.createdb),
                        b(r.login),
                        b(r.replication),
                        b(r.bypassrls),
                        Value::Int4(r.conn_limit),
                        r.password.as_deref().map_or(Value::Null, text),
                        r.valid_until.map_or(Value::Null, Value::TimestampTz),
                    ]
                })
                .collect(),
            PgView::Database => c
                .databases
                .values()
                .map(|d| {
                    vec![
                        o(d.oid),
                        text(&d.name),
                        o(d.owner),
                        Value::Int4(6),
                        ch(b'c'),
                        b(d.is_template),
                        b(d.allow_connections),
                        Value::Int4(d.conn_limit),
                        text("0"),
                        text("1"),
                        o(1663),
                        text("C"),
                        text("C"),
                        null(),
                        null(),
                        acl_value(c, c.acl.lists.get(&AclObject::Database(d.oid))),
                    ]
                })
                .collect(),
            PgView::Tablespace => vec![
                vec![
                    o(1663),
                    text("pg_default"),
                    o(BOOTSTRAP_SUPERUSER),
                    null(),
                    null(),
                ],
                vec![
                    o(1664),
                    text("pg_global"),
                    o(BOOTSTRAP_SUPERUSER),
                    null(),
                    null(),
                ],
            ],
            PgView::Collation => [(100, "default", b'd', None), (950, "C", b'c', Some("C"))]
                .into_iter()
                .chain([(951, "POSIX", b'c', Some("POSIX"))])
                .map(|(oid, name, provider, locale)| {
                    vec![
                        o(oid),
                        text(name),
                        o(PG_CATALOG_NAMESPACE),
                        o(BOOTSTRAP_SUPERUSER),
                        ch(provider),
                        b(true),
                        Value::Int4(-1),
                        locale.map_or(Value::Null, text),
                        locale.map_or(Value::Null, text),
                        null(),
                        null(),
                    ]
                })
                .collect(),
            PgView::Sequence => c
                .ddl
                .sequences
                .range((db, 0)..=(db, u32::MAX))
                .map(|(_, s)| {
                    vec![
                        o(s.oid),
                        o(s.type_oid),
                        Value::Int8(s.start),
                        Value::Int8(s.increment),
                        Value::Int8(s.max),
                        Value::Int8(s.min),
                        Value::Int8(s.cache),
                        b(s.cycle),
                    ]
                })
                .collect(),
            PgView::Depend => {
                let mut out: Vec<Vec<Value>> = c
                    .ddl
                    .sequences
                    .range((db, 0)..=(db, u32::MAX))
                    .filter_map(|(_, s)| {
                        let (table, col) = s.owned_by?;
                        Some(vec![
                            o(PG_CLASS_OID),
                            o(s.oid),
                            Value::Int4(0),
                            o(PG_CLASS_OID),
                            o(table),
                            Value::Int4(col as i32 + 1),
                            ch(if s.identity != 0 { b'i' } else { b'a' }),
                        ])
                    })
                    .collect();
                // A default belongs to its column ('a') and needs the sequence its
                // nextval() names ('n'): pg_dump orders and splits on these.
                for t in c.tables.range((db, 0)..=(db, u32::MAX)).map(|(_, t)| t) {
                    for i in 0..t.columns.len() {
                        let Some(d) = column_default(c, db, t, i) else {
                            continue;
                        };
                        let num = i as i16 + 1;
                        let me = derived_oid(b'd', t.oid, &num.to_string());
                        let dep = |refobj: u32, sub: i32, kind: u8| {
                            vec![
                                o(PG_ATTRDEF_OID),
                                o(me),
                                Value::Int4(0),
                                o(PG_CLASS_OID),
                                o(refobj),
                                Value::Int4(sub),
                                ch(kind),
                            ]
                        };
                        out.push(dep(t.oid, i32::from(num), b'a'));
                        if let Some(seq) = nextval_sequence(c, db, d) {
                            out.push(dep(seq, 0, b'n'));
                        }
                    }
                }
                // A view's rule belongs to its view ('i'); what the rule reads is
                // added by the SQL layer, which can parse the view's query.
                for v in c.ddl.views.range((db, 0)..=(db, u32::MAX)).map(|(_, v)| v) {
                    out.push(vec![
                        o(PG_REWRITE_OID),
                        o(view_rule_oid(v.oid)),
                        Value::Int4(0),
                        o(PG_CLASS_OID),
                        o(v.oid),
                        Value::Int4(0),
                        ch(b'i'),
                    ]);
                }
                out
            }
            // The ACLs initdb gives `pg_catalog` and `public`: pg_dump dumps only how a
            // schema's ACL differs from these.
            PgView::InitPrivs => [PG_CATALOG_NAMESPACE, PUBLIC_NAMESPACE]
                .into_iter()
                .filter_map(|oid| {
                    let owner = c.schemas.get(&oid)?.1;
                    let initial =
                        acl::default_acl(acl::ObjectKind::Schema, owner, &AclObject::Schema(oid));
                    Some(vec![
                        o(oid),
                        o(PG_NAMESPACE_OID),
                        Value::Int4(0),
                        ch(b'i'),
                        acl_value(c, Some(&initial)),
                    ])
                })
                .collect(),
            // Each view's ON SELECT rule, as PostgreSQL stores a view.
            PgView::Rewrite => c
                .ddl
                .views
                .range((db, 0)..=(db, u32::MAX))
                .map(|(_, v)| {
                    vec![
                        o(view_rule_oid(v.oid)),
                        text("_RETURN"),
                        o(v.oid),
                        ch(b'1'),
                        ch(b'O'),
                        b(true),
                        text("<>"),
                        text(view_query_text(&v.query)),
                    ]
                })
                .collect(),
            PgView::Enum => {
                let mut out = Vec::new();
                for e in c.enums.values().filter(|e| e.db == db) {
                    for (label, sort) in &e.labels {
                        out.push(vec![
                            o(derived_oid(b'e', e.oid, label)),
                            o(e.oid),
                            Value::Float4(*sort as f32),
                            text(label),
                        ]);
                    }
                }
                out
            }
            PgView::Sequences => c
                .ddl
                .sequences
                .range((db, 0)..=(db, u32::MAX))
                .map(|(_, s)| {
                    let last = c
                        .ddl
                        .seq_values
                        .get(&(db, s.oid))
                        .filter(|v| v.called)
                        .map_or(Value::Null, |v| Value::Int8(v.last));
                    vec![
                        text(&schema_name(c, s.schema)),
                        text(&s.name),
                        text(&acl::role_name(c, s.owner)),
                        format_type(c, s.type_oid, -1, &|_| None).map_or(Value::Null, |t| text(&t)),
                        Value::Int8(s.start),
                        Value::Int8(s.min),
                        Value::Int8(s.max),
                        Value::Int8(s.increment),
                        b(s.cycle),
                        Value::Int8(s.cache),
                        last,
                    ]
                })
                .collect(),
            PgView::Views => c
                .ddl
                .views
                .range((db, 0)..=(db, u32::MAX))
                .map(|(_, v)| {
                    vec![
                        text(&schema_name(c, v.schema)),
                        text(&v.name),
                        text(&acl::role_name(c, v.owner)),
                        // PostgreSQL's `pg_get_viewdef` form, without the creation
                        // path tusk keeps in front; the executor replaces it with
                        // `sql::viewdef`'s, names qualified for the reader's path.
                        text(&format!(" {};", view_query_text(&v.query).trim())),
                    ]
                })
                .collect(),
            PgView::Proc => super::pg_proc::rows(),
            PgView::Shdescription
            | PgView::Seclabel(_)
            | PgView::DbRoleSetting
            | PgView::ParameterAcl
            | PgView::Range
            | PgView::Inherits
            | PgView::Policy
            | PgView::StatisticExt
            | PgView::Publication
            | PgView::PublicationRel
            | PgView::PublicationNamespace
            | PgView::Trigger
            | PgView::Extension
            | PgView::ForeignTable
            | PgView::Operator
            | PgView::Opclass
            | PgView::Opfamily
            | PgView::Amop
            | PgView::Amproc
            | PgView::TsParser
            | PgView::TsTemplate
            | PgView::TsDict
            | PgView::TsConfig
            | PgView::ForeignDataWrapper
            | PgView::ForeignServer
            | PgView::DefaultAcl
            | PgView::Conversion
            | PgView::Cast
            | PgView::Transform
            | PgView::EventTrigger
            | PgView::PartitionedTable
            | PgView::Subscription
            | PgView::LargeobjectMetadata
            | PgView::Seclabels => vec![],
            // PostgreSQL's OIDs for the languages and their validator functions.
            PgView::Language => [(12, "internal", 2246), (13, "c", 2247), (14, "sql", 2248)]
                .into_iter()
                .map(|(oid, name, validator)| {
                    vec![
                        o(oid),
                        text(name),
                        o(BOOTSTRAP_SUPERUSER),
                        b(false),
                        b(name == "sql"),
                        o(0),
                        o(0),
                        o(validator),
                        null(),
                    ]
                })
                .collect(),
        }
    }
}

/// A column default as PostgreSQL's deparser prints it, for the shapes it rewrites: a
/// string literal gets the column's type (`'new'::text`), and `nextval('s')` names
/// its sequence as `regclass` output (`nextval('s'::regclass)`, qualified only when
/// the search path does not find it). Other expressions keep their stored text.
pub(crate) fn default_text<'a>(c: &CatalogState, ty: u32, d: &'a str) -> String {
    let d = d.trim();
    let quoted = |s: &str| {
        s.len() >= 2
            && s.starts_with('\'')
            && s.ends_with('\'')
            && !s[1..s.len() - 1].replace("''", "").contains('\'')
    };
    if quoted(d) {
        if let Some(t) = format_type(c, ty, -1, &|_| None) {
            return format!("{d}::{t}");
        }
    }
    // A literal already cast to the column's type (a default restored from a dump,
    // stored as written: `'anon'::CHARACTER VARYING`) prints as the first shape.
    if let Some((lit, cast)) = d.rsplit_once("::") {
        let t = format_type(c, ty, -1, &|_| None);
        if quoted(lit.trim())
            && t.as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(cast.trim()))
        {
            return default_text(c, ty, lit);
        }
    }
    let nextval_arg = |d: &'a str| -> Option<&'a str> {
        let a = d.strip_prefix("nextval(")?.strip_suffix(')')?.trim();
        // `nextval('s'::regclass)`, as a dump writes it, names the same sequence.
        let a = match a.rsplit_once("::") {
            Some((lit, t)) if t.trim().eq_ignore_ascii_case("regclass") => lit.trim(),
            _ => a,
        };
        quoted(a).then_some(a)
    };
    if let Some(arg) = nextval_arg(d) {
        let name = &arg[1..arg.len() - 1];
        let shown = match name.split_once('.') {
            Some((schema, rel)) => {
                let path = super::search_path::lookup_schemas();
                let visible = c
                    .schemas
                    .iter()
                    .any(|(oid, (n, _))| n == schema && path.contains(oid));
                if visible {
                    rel.to_string()
                } else {
                    name.to_string()
                }
            }
            None => name.to_string(),
        };
        return format!("nextval('{shown}'::regclass)");
    }
    d.to_string()
}

/// The comment initdb gives an object of its own (`pg_catalog`, `public`), which
/// `pg_description` shows until a COMMENT replaces it.
pub fn initial_comment(oid: u32) -> Option<&'static str> {
    match oid {
        PG_CATALOG_NAMESPACE => Some("system catalog schema"),
        PUBLIC_NAMESPACE => Some("standard public schema"),
        _ => None,
    }
}

/// A schema's ACL as `nspacl` shows it: the stored one, or for `pg_catalog` and
/// `public` the default they hold (initdb stores theirs explicitly).
fn schema_acl(c: &CatalogState, oid: u32, owner: u32) -> Option<Vec<AclItem>> {
    if let Some(l) = c.acl.lists.get(&AclObject::Schema(oid)) {
        return Some(l.clone());
    }
    matches!(oid, PG_CATALOG_NAMESPACE | PUBLIC_NAMESPACE)
        .then(|| acl::default_acl(acl::ObjectKind::Schema, owner, &AclObject::Schema(oid)))
}

/// The OID of a view's `_RETURN` rule (derived, see [`derived_oid`]).
pub fn view_rule_oid(view: u32) -> u32 {
    derived_oid(b'r', view, "_RETURN")
}

/// A column's default as `pg_attrdef` has it: an identity column's `nextval` is its
/// generation, not a default, as in PostgreSQL.
fn column_default<'a>(c: &CatalogState, db: u32, t: &'a TableDef, pos: usize) -> Option<&'a str> {
    let d = t.columns.get(pos)?.default.as_deref()?;
    let identity = c
        .ddl
        .sequences
        .range((db, 0)..=(db, u32::MAX))
        .any(|(_, s)| s.owned_by == Some((t.oid, pos)) && s.identity != 0);
    (!identity).then_some(d)
}

/// The sequence a default's `nextval('name')` names, resolved as the call would be
/// now (a qualified name in its schema, else along the search path).
fn nextval_sequence(c: &CatalogState, db: u32, default: &str) -> Option<u32> {
    let rest = &default[default.find("nextval('")? + "nextval('".len()..];
    let name = &rest[..rest.find('\'')?];
    let (schemas, rel) = match name.split_once('.') {
        Some((schema, rel)) => (
            c.schemas
                .iter()
                .filter(|(_, (n, _))| n.as_str() == schema.trim_matches('"'))
                .map(|(o, _)| *o)
                .collect::<Vec<u32>>(),
            rel,
        ),
        None => (super::search_path::lookup_schemas(), name),
    };
    let rel = rel.trim_matches('"');
    schemas
        .iter()
        .find_map(|s| c.ddl.sequence_by_name(db, *s, rel).map(|q| q.oid))
}

/// A view's stored query without the `search_path` comment tusk keeps in front of it
/// (`sql::ddl`'s `/*tusk search_path:…*/`).
pub fn view_query_text(stored: &str) -> &str {
    match stored.strip_prefix("/*tusk search_path:") {
        Some(rest) => rest.split_once("*/ ").map_or(stored, |(_, q)| q),
        None => stored,
    }
}

/// A schema's name (empty if unknown).
pub fn schema_name(c: &CatalogState, oid: u32) -> String {
    if oid == INFORMATION_SCHEMA_NAMESPACE {
        return "information_schema".into();
    }
    c.schemas.get(&oid).map(|s| s.0.clone()).unwrap_or_default()
}

/// The `pg_attribute` rows of a view's output columns — (name, type OID, modifier),
/// found by planning its query (the SQL layer does; tusk stores a view as its text).
pub fn view_attribute_rows(
    c: &CatalogState,
    view_oid: u32,
    cols: &[(String, u32, i32)],
) -> Vec<Vec<Value>> {
    cols.iter()
        .enumerate()
        .map(|(i, (name, ty, typmod))| {
            attribute_row(
                c,
                view_oid,
                name,
                *ty,
                *typmod,
                i as i16 + 1,
                false,
                false,
                false,
                0,
                Value::Null,
            )
        })
        .collect()
}

/// The position of `attgenerated` in a `pg_attribute` row.
const ATTGENERATED: usize = 17;

/// One `pg_attribute` row.
#[allow(clippy::too_many_arguments)]
fn attribute_row(
    c: &CatalogState,
    rel: u32,
    name: &str,
    ty: u32,
    typmod: i32,
    num: i16,
    not_null: bool,
    has_def: bool,
    dropped: bool,
    identity: u8,
    acl: Value,
) -> Vec<Value> {
    let bt = pg_types::by_oid(ty);
    vec![
        Value::Oid(rel),
        text(name),
        Value::Oid(if dropped { 0 } else { ty }),
        Value::Int4(-1),
        Value::Int2(type_len(c, ty)),
        Value::Int2(num),
        Value::Int4(i32::from(bt.is_some_and(|t| t.category == b'A'))),
        Value::Int4(-1),
        Value::Int4(typmod),
        Value::Bool(bt.is_some_and(|t| t.byval) || c.enums.contains_key(&ty)),
        ch(bt.map_or(b'i', |t| t.align)),
        ch(bt.map_or(b'p', |t| t.storage)),
        ch(0),
        Value::Bool(not_null),
        Value::Bool(has_def),
        Value::Bool(false),
        ch(identity),
        ch(0),
        Value::Bool(dropped),
        Value::Bool(true),
        Value::Int4(0),
        Value::Oid(type_collation(ty)),
        acl,
        Value::Null,
        Value::Null,
        Value::Null,
    ]
}

fn attribute_rows(c: &CatalogState, db: u32) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    #[allow(clippy::too_many_arguments)]
    let row = |rel: u32,
               name: &str,
               ty: u32,
               typmod: i32,
               num: i16,
               not_null: bool,
               has_def: bool,
               dropped: bool,
               identity: u8,
               acl: Value| {
        attribute_row(
            c, rel, name, ty, typmod, num, not_null, has_def, dropped, identity, acl,
        )
    };
    let empty = |s: &str| s.to_string();
    for &(oid, _, view) in SYSTEM_CATALOGS {
        for (i, (name, ty)) in view.columns().iter().enumerate() {
            out.push(row(
                oid,
                &empty(name),
                ty.oid(),
                -1,
                i as i16 + 1,
                false,
                false,
                false,
                0,
                Value::Null,
            ));
        }
    }
    let identity_of = |table: u32, pos: usize| {
        c.ddl
            .sequences
            .range((db, 0)..=(db, u32::MAX))
            .find(|(_, s)| s.owned_by == Some((table, pos)) && s.identity != 0)
            .map_or(0, |(_, s)| s.identity)
    };
    for t in c.tables.range((db, 0)..=(db, u32::MAX)).map(|(_, t)| t) {
        for (i, col) in t.columns.iter().enumerate() {
            let acl = c.acl.lists.get(&AclObject::Column {
                db,
                table: t.oid,
                column: i as u32,
            });
            let stored = col.generated.is_some() && !col.dropped;
            let mut r = row(
                t.oid,
                &col.name,
                col.data_type.oid(),
                col.typmod,
                i as i16 + 1,
                col.not_null,
                (col.default.is_some() && identity_of(t.oid, i) == 0) || stored,
                col.dropped,
                identity_of(t.oid, i),
                acl_value(c, acl),
            );
            if stored {
                r[ATTGENERATED] = ch(b's');
            }
            out.push(r);
        }
    }
    for ix in indexes(c, db) {
        for (i, &p) in ix.columns.iter().enumerate() {
            if let Some(col) = ix.table.columns.get(p) {
                // An expression key is named as PostgreSQL names it (`lower`, `expr`).
                let name = match (&col.generated, col.dropped) {
                    (Some(t), true) => figure_name(t),
                    _ => col.name.clone(),
                };
                out.push(row(
                    ix.oid,
                    &name,
                    col.data_type.oid(),
                    col.typmod,
                    i as i16 + 1,
                    false,
                    false,
                    false,
                    0,
                    Value::Null,
                ));
            }
        }
    }
    for s in c
        .ddl
        .sequences
        .range((db, 0)..=(db, u32::MAX))
        .map(|(_, s)| s)
    {
        for (i, (name, ty)) in [
            ("last_value", typeoid::INT8),
            ("log_cnt", typeoid::INT8),
            ("is_called", typeoid::BOOL),
        ]
        .into_iter()
        .enumerate()
        {
            out.push(row(
                s.oid,
                name,
                ty,
                -1,
                i as i16 + 1,
                true,
                false,
                false,
                0,
                Value::Null,
            ));
        }
    }
    out
}

fn type_rows(c: &CatalogState, db: u32) -> Vec<Vec<Value>> {
    let o = Value::Oid;
    let b = Value::Bool;
    let mut out: Vec<Vec<Value>> = BUILTIN_TYPES
        .iter()
        .map(|t| {
            vec![
                o(t.oid),
                text(t.name),
                o(PG_CATALOG_NAMESPACE),
                o(BOOTSTRAP_SUPERUSER),
                Value::Int2(t.len),
                b(t.byval),
                ch(t.typtype),
                ch(t.category),
                b(t.preferred),
                b(true),
                ch(t.delim),
                o(0),
                text(t.subscript),
                o(t.elem),
                o(t.array),
                text(t.input),
                text(t.output),
                text(t.receive),
                text(t.send),
                text(t.modin),
                text(t.modout),
                text(if t.category == b'A' {
                    "array_typanalyze"
                } else {
                    "-"
                }),
                ch(t.align),
                ch(t.storage),
                b(false),
                o(0),
                Value::Int4(-1),
                Value::Int4(0),
                o(t.collation),
                Value::Null,
                Value::Null,
                Value::Null,
            ]
        })
        .collect();
    for e in c.enums.values().filter(|e| e.db == db) {
        for (oid, name, elem, array, cat) in [
            (e.oid, e.name.clone(), 0, e.oid + 1, b'E'),
            (e.oid + 1, format!("_{}", e.name), e.oid, 0, b'A'),
        ] {
            let arr = cat == b'A';
            out.push(vec![
                o(oid),
                text(&name),
                o(e.schema),
                o(e.owner),
                Value::Int2(if arr { -1 } else { 4 }),
                b(!arr),
                ch(if arr { b'b' } else { b'e' }),
                ch(cat),
                b(false),
                b(true),
                ch(b','),
                o(0),
                text(if arr { "array_subscript_handler" } else { "-" }),
                o(elem),
                o(array),
                text(if arr { "array_in" } else { "enum_in" }),
                text(if arr { "array_out" } else { "enum_out" }),
                text(if arr { "array_recv" } else { "enum_recv" }),
                text(if arr { "array_send" } else { "enum_send" }),
                text("-"),
                text("-"),
                text(if arr { "array_typanalyze" } else { "-" }),
                ch(b'i'),
                ch(if arr { b'x' } else { b'p' }),
                b(false),
                o(0),
                Value::Int4(-1),
                Value::Int4(0),
                o(0),
                Value::Null,
                Value::Null,
                Value::Null,
            ]);
        }
    }
    out
}

/// The name of an expression key's index attribute (PostgreSQL's FigureIndexColname).
fn figure_name(text: &str) -> String {
    match crate::sql::depth::parse_stored(text, |p| p.parse_expr()) {
        Ok(e) => crate::sql::generated::figure_name(&e),
        Err(_) => "expr".into(),
    }
}
