//! tusk's catalog as the SQL layer sees it: name resolution (along `search_path`, see
//! [`search_path`]; case folding done by the caller), and the system views
//! computed from the engine's catalog state (`pg_roles`, `pg_user`, `pg_database`,
//! `pg_tables`, `pg_indexes`, `pg_stat_wal`, `pg_stat_archiver`; `pg_settings` is
//! computed by the session from its settings).
//!
//! The durable catalog itself (databases, roles, tables, and their WAL records) lives in
//! `storage::schema`, below this module; this module only reads it.
//!
//! Invariants: lookups never change the catalog; view rows are built from one
//! consistent read of it.
//!
//! What this module must never do: write the catalog (changes go through
//! `Engine::catalog_change`, which logs them) or know about sessions and the wire.
//!
//! Temporary objects (see `storage::temp`) resolve through the session's temporary
//! namespace, which [`search_path`] searches first and `pg_temp` names; another
//! session's temporary relations are refused (0A000), and what a CREATE puts in the
//! temporary namespace is temporary ([`resolve_schema_for_create`],
//! [`resolve_temp_schema_for_create`]).
//!
//! One lookup's walk, `SELECT * FROM public.t`:
//! 1. the binder splits the name into (`public`, `t`) and calls [`resolve_table`];
//! 2. [`resolve_table`] maps the schema name to its OID (3F000 if unknown) and asks the
//!    engine's catalog for the table in that schema of the session's database;
//! 3. a name that is not a table may be a system view: [`virtual_table`].

pub mod information_schema;
pub mod pg_catalog;
pub mod pg_proc;
pub mod pg_stat;
pub mod pg_types;
pub mod search_path;

use crate::bail;
use crate::error::{sqlstate, Result};
use crate::storage::schema::PG_CATALOG_NAMESPACE;
use crate::storage::{Engine, TableDef};
use crate::types::{DataType, Value};
use std::sync::Arc;

/// Resolves a schema name to its OID for lookups: `pg_temp` is the session's
/// temporary namespace ([`search_path::PG_TEMP`], where nothing is found, while it does
/// not exist); an unknown name is 3F000.
pub fn schema_oid(engine: &Engine, name: &str) -> Result<u32> {
    if name == "pg_temp" {
        return Ok(search_path::temp_namespace().unwrap_or(search_path::PG_TEMP));
    }
    let oid = engine.with_catalog(|c| {
        c.schemas
            .iter()
            .find(|(_, (n, _))| n == name)
            .map(|(o, _)| *o)
    });
    match oid {
        Some(o) => Ok(o),
        None => bail!(
            sqlstate::INVALID_SCHEMA_NAME,
            "schema \"{name}\" does not exist"
        ),
    }
}

/// Refuses a relation in another session's temporary namespace (PostgreSQL lets a
/// session see such a relation's name but not use it).
pub fn check_not_other_temp(engine: &Engine, schema: u32) -> Result<()> {
    search_path::note_resolved(schema);
    if !search_path::is_my_temp(schema) && engine.with_catalog(|c| c.is_temp_schema(schema)) {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "cannot access temporary tables of other sessions"
        );
    }
    Ok(())
}

/// Resolves a schema named explicitly in an object's name: its OID, after checking
/// that the role the statement runs as has USAGE on it (42501 `permission denied for
/// schema s`, as PostgreSQL's `LookupExplicitNamespace`).
pub fn lookup_schema(engine: &Engine, name: &str) -> Result<u32> {
    let oid = schema_oid(engine, name)?;
    if !search_path::schema_allows(engine, oid, crate::storage::acl::ACL_USAGE) {
        bail!(
            sqlstate::INSUFFICIENT_PRIVILEGE,
            "permission denied for schema {name}"
        );
    }
    Ok(oid)
}

/// Finds a table by (optional schema, name) in a database; `Ok(None)` if it does not
/// exist, an error if the schema does not (or it is another session's temporary
/// table).
pub fn resolve_table(
    engine: &Engine,
    db: u32,
    schema: Option<&str>,
    name: &str,
) -> Result<Option<Arc<TableDef>>> {
    let schemas = match schema {
        Some(s) => vec![lookup_schema(engine, s)?],
        None => search_path::lookup_schemas(),
    };
    let found = engine.with_catalog(|c| schemas.iter().find_map(|s| c.table_by_name(db, *s, name)));
    if let Some(t) = &found {
        check_not_other_temp(engine, t.schema)?;
    }
    Ok(found)
}

/// The schema a CREATE goes to (the first existing schema of `search_path` when
/// unqualified), after checking that the statement's role may create in it (42501
/// `permission denied for schema s`). `pg_temp` — qualifying the name, or first in
/// `search_path` — is the session's temporary namespace (created now if needed):
/// what is created there is temporary, and needs the database's TEMP privilege.
pub fn resolve_schema_for_create(engine: &Engine, schema: Option<&str>) -> Result<u32> {
    let oid = creation_schema(engine, schema)?;
    if search_path::is_my_temp(oid) {
        return search_path::check_create_temp(engine).map(|_| oid);
    }
    if !search_path::schema_allows(engine, oid, crate::storage::acl::ACL_CREATE) {
        let name = engine.with_catalog(|c| {
            c.schemas
                .get(&oid)
                .map(|(n, _)| n.clone())
                .unwrap_or_default()
        });
        bail!(
            sqlstate::INSUFFICIENT_PRIVILEGE,
            "permission denied for schema {name}"
        );
    }
    Ok(oid)
}

fn creation_schema(engine: &Engine, schema: Option<&str>) -> Result<u32> {
    match schema {
        None if search_path::creates_in_temp() => search_path::temp_namespace_for_create(engine),
        None => match search_path::creation_schema() {
            Some(PG_CATALOG_NAMESPACE) => bail!(
                sqlstate::INSUFFICIENT_PRIVILEGE,
                "permission denied to create \"pg_catalog.x\""
            ),
            Some(o) => Ok(o),
            None => bail!(
                sqlstate::INVALID_SCHEMA_NAME,
                "no schema has been selected to create in"
            ),
        },
        Some("pg_catalog") => bail!(
            sqlstate::INSUFFICIENT_PRIVILEGE,
            "permission denied to create \"pg_catalog.x\""
        ),
        Some("pg_temp") => search_path::temp_namespace_for_create(engine),
        Some(s) => {
            let oid = schema_oid(engine, s)?;
            if !search_path::is_my_temp(oid) && engine.with_catalog(|c| c.is_temp_schema(oid)) {
                return Err(search_path::not_temp_schema(true));
            }
            Ok(oid)
        }
    }
}

/// The schema a CREATE TEMPORARY goes to: the session's temporary namespace (created
/// now if needed), which an explicit schema must name (42P16 otherwise); the role
/// needs the database's TEMP privilege.
pub fn resolve_temp_schema_for_create(engine: &Engine, schema: Option<&str>) -> Result<u32> {
    search_path::check_create_temp(engine)?;
    match schema {
        None | Some("pg_temp") => search_path::temp_namespace_for_create(engine),
        Some(s) => {
            let oid = schema_oid(engine, s)?;
            if search_path::is_my_temp(oid) {
                return Ok(oid);
            }
            let other = engine.with_catalog(|c| c.is_temp_schema(oid));
            Err(search_path::not_temp_schema(other))
        }
    }
}

/// Whether objects created in `schema` are temporary (the session's temporary
/// namespace, or the stand-in for it during recovery).
pub fn is_temp_schema(engine: &Engine, schema: u32) -> bool {
    schema == search_path::PG_TEMP || engine.with_catalog(|c| c.is_temp_schema(schema))
}

/// A system view computed at execution time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VirtualTable {
    /// `pg_settings` (rows from the session's settings).
    PgSettings,
    /// `pg_roles`.
    PgRoles,
    /// `pg_user`.
    PgUser,
    /// A `pg_catalog` relation computed from the catalog state (see [`pg_catalog`]).
    Catalog(pg_catalog::PgView),
    /// `pg_tables`.
    PgTables,
    /// `pg_indexes` (primary keys' indexes and secondary indexes).
    PgIndexes,
    /// `pg_stat_wal`: the WAL writer's counters since the server started (PostgreSQL
    /// keeps them across restarts; tusk does not). tusk writes no full-page images, so
    /// `wal_fpi` is 0; it always times WAL I/O, as if `track_wal_io_timing` were on.
    PgStatWal,
    /// `pg_replication_slots`: one row per replication slot (rows from the server's
    /// slot manager, see `replication::slots`). The `xid` columns are bigint here.
    PgReplicationSlots,
    /// `pg_stat_replication`: one row per walsender (rows come from the server's
    /// walsender registry through `ServerHooks::wal_senders`). `client_addr` and
    /// `backend_xmin` are text here (tusk has no inet or xid type).
    PgStatReplication,
    /// `pg_stat_wal_receiver`: zero or one row on a standby, while its walreceiver
    /// runs (rows from `standby::walreceiver::pg_stat_wal_receiver_rows`).
    PgStatWalReceiver,
    /// `pg_stat_archiver`: one row, the archiver's counters since the server started
    /// (PostgreSQL keeps them across restarts; tusk does not), from
    /// `storage::archive_status`.
    PgStatArchiver,
    /// `tusk_wal_holds` (tusk's own, not PostgreSQL's): one row per backup hold, the
    /// WAL kept for the standby of a finished base backup (see `storage::holds`).
    TuskWalHolds,
    /// An `information_schema` view (see [`information_schema`]); the executor
    /// supplies the rows, filtered for the current role.
    InfoSchema(information_schema::IsView),
    /// A statistics view of the server's activity (see [`pg_stat`]); the executor
    /// supplies the rows.
    Stat(pg_stat::StatView),
    /// A sequence read as a relation (`SELECT * FROM s`): one row, `last_value`,
    /// `log_cnt` (the values logged ahead, see `storage::ddl`), `is_called`. Holds the
    /// sequence's OID.
    Sequence(u32),
}

/// Refuses a system relation the role may not read: `pg_authid` (it holds password
/// secrets) is for superusers only, 42501 as PostgreSQL's table privilege check.
pub fn check_virtual_access(engine: &Engine, role: u32, vt: VirtualTable) -> Result<()> {
    if vt == VirtualTable::Catalog(pg_catalog::PgView::Authid)
        && !engine.with_catalog(|c| crate::storage::acl::is_superuser(c, role))
    {
        bail!(
            sqlstate::INSUFFICIENT_PRIVILEGE,
            "permission denied for table pg_authid"
        );
    }
    Ok(())
}

/// The system view with this name (unqualified or in `pg_catalog`).
pub fn virtual_table(schema: Option<&str>, name: &str) -> Option<VirtualTable> {
    if schema == Some("information_schema") {
        return information_schema::view_by_name(name).map(VirtualTable::InfoSchema);
    }
    if let Some(v) =
        pg_stat::view_by_name(name).filter(|_| matches!(schema, None | Some("pg_catalog")))
    {
        return Some(VirtualTable::Stat(v));
    }
    if !matches!(schema, None | Some("pg_catalog")) {
        return None;
    }
    Some(match name {
        "pg_settings" => VirtualTable::PgSettings,
        "pg_roles" => VirtualTable::PgRoles,
        "pg_user" => VirtualTable::PgUser,
        "pg_tables" => VirtualTable::PgTables,
        "pg_indexes" => VirtualTable::PgIndexes,
        "pg_stat_wal" => VirtualTable::PgStatWal,
        "pg_replication_slots" => VirtualTable::PgReplicationSlots,
        "pg_stat_replication" => VirtualTable::PgStatReplication,
        "pg_stat_wal_receiver" => VirtualTable::PgStatWalReceiver,
        "pg_stat_archiver" => VirtualTable::PgStatArchiver,
        "tusk_wal_holds" => VirtualTable::TuskWalHolds,
        _ => VirtualTable::Catalog(pg_catalog::view_by_name(name)?),
    })
}

/// The attribute number PostgreSQL gives the system column `tableoid`.
pub const TABLEOID_ATTNUM: i16 = -6;

impl VirtualTable {
    /// The system columns the relation's rows carry after its own columns, with their
    /// (negative) attribute numbers: `tableoid` for a system catalog, the OID of the
    /// catalog itself, which pg_dump reads as the class of every object it dumps. No
    /// `*` shows them; a name reaches them. tusk's catalog rows have no `xmin` or
    /// `ctid`, so those are not offered.
    pub fn system_columns(self) -> &'static [(&'static str, DataType, i16)] {
        match self {
            VirtualTable::Catalog(v) if pg_catalog::catalog_oid(v).is_some() => {
                &[("tableoid", DataType::Oid, TABLEOID_ATTNUM)]
            }
            _ => &[],
        }
    }

    /// The view's columns with PostgreSQL's names and types.
    pub fn columns(self) -> &'static [(&'static str, DataType)] {
        use DataType::*;
        match self {
            VirtualTable::PgSettings => &[
                ("name", Text),
                ("setting", Text),
                ("unit", Text),
                ("category", Text),
                ("short_desc", Text),
                ("extra_desc", Text),
                ("context", Text),
                ("vartype", Text),
                ("source", Text),
                ("min_val", Text),
                ("max_val", Text),
                ("enumvals", TextArray),
                ("boot_val", Text),
                ("reset_val", Text),
                ("sourcefile", Text),
                ("sourceline", Int4),
                ("pending_restart", Bool),
            ],
            VirtualTable::PgRoles => &[
                ("rolname", Name),
                ("rolsuper", Bool),
                ("rolinherit", Bool),
                ("rolcreaterole", Bool),
                ("rolcreatedb", Bool),
                ("rolcanlogin", Bool),
                ("rolreplication", Bool),
                ("rolconnlimit", Int4),
                ("rolpassword", Text),
                ("rolvaliduntil", TimestampTz),
                ("rolbypassrls", Bool),
                ("rolconfig", TextArray),
                ("oid", Oid),
            ],
            VirtualTable::PgUser => &[
                ("usename", Name),
                ("usesysid", Oid),
                ("usecreatedb", Bool),
                ("usesuper", Bool),
                ("userepl", Bool),
                ("usebypassrls", Bool),
                ("passwd", Text),
                ("valuntil", TimestampTz),
                ("useconfig", TextArray),
            ],
            VirtualTable::Catalog(v) => v.columns(),
            VirtualTable::InfoSchema(v) => v.columns(),
            VirtualTable::Stat(v) => v.columns(),
            VirtualTable::PgTables => &[
                ("schemaname", Name),
                ("tablename", Name),
                ("tableowner", Name),
                ("tablespace", Name),
                ("hasindexes", Bool),
                ("hasrules", Bool),
                ("hastriggers", Bool),
                ("rowsecurity", Bool),
            ],
            VirtualTable::PgIndexes => &[
                ("schemaname", Name),
                ("tablename", Name),
                ("indexname", Name),
                ("tablespace", Name),
                ("indexdef", Text),
            ],
            VirtualTable::PgStatWal => &[
                ("wal_records", Int8),
                ("wal_fpi", Int8),
                ("wal_bytes", Numeric),
                ("wal_buffers_full", Int8),
                ("wal_write", Int8),
                ("wal_sync", Int8),
                ("wal_write_time", Float8),
                ("wal_sync_time", Float8),
                ("stats_reset", TimestampTz),
            ],
            VirtualTable::PgReplicationSlots => &[
                ("slot_name", Name),
                ("plugin", Name),
                ("slot_type", Text),
                ("datoid", Oid),
                ("database", Name),
                ("temporary", Bool),
                ("active", Bool),
                ("active_pid", Int4),
                ("xmin", Int8),
                ("catalog_xmin", Int8),
                ("restart_lsn", PgLsn),
                ("confirmed_flush_lsn", PgLsn),
                ("wal_status", Text),
                ("safe_wal_size", Int8),
                ("two_phase", Bool),
            ],
            VirtualTable::PgStatReplication => &[
                ("pid", Int4),
                ("usesysid", Oid),
                ("usename", Name),
                ("application_name", Text),
                ("client_addr", Text),
                ("client_hostname", Text),
                ("client_port", Int4),
                ("backend_start", TimestampTz),
                ("backend_xmin", Text),
                ("state", Text),
                ("sent_lsn", PgLsn),
                ("write_lsn", PgLsn),
                ("flush_lsn", PgLsn),
                ("replay_lsn", PgLsn),
                ("write_lag", Interval),
                ("flush_lag", Interval),
                ("replay_lag", Interval),
                ("sync_priority", Int4),
                ("sync_state", Text),
                ("reply_time", TimestampTz),
            ],
            VirtualTable::PgStatWalReceiver => &[
                ("pid", Int4),
                ("status", Text),
                ("receive_start_lsn", PgLsn),
                ("receive_start_tli", Int4),
                ("written_lsn", PgLsn),
                ("flushed_lsn", PgLsn),
                ("received_tli", Int4),
                ("last_msg_send_time", TimestampTz),
                ("last_msg_receipt_time", TimestampTz),
                ("latest_end_lsn", PgLsn),
                ("latest_end_time", TimestampTz),
                ("slot_name", Text),
                ("sender_host", Text),
                ("sender_port", Int4),
                ("conninfo", Text),
            ],
            VirtualTable::PgStatArchiver => &[
                ("archived_count", Int8),
                ("last_archived_wal", Text),
                ("last_archived_time", TimestampTz),
                ("failed_count", Int8),
                ("last_failed_wal", Text),
                ("last_failed_time", TimestampTz),
                ("stats_reset", TimestampTz),
            ],
            VirtualTable::TuskWalHolds => &[
                ("backup_end_lsn", PgLsn),
                ("keep_from_lsn", PgLsn),
                ("timeline", Int4),
                ("wal_file", Text),
                ("created", TimestampTz),
                ("expires", TimestampTz),
            ],
            VirtualTable::Sequence(_) => {
                &[("last_value", Int8), ("log_cnt", Int8), ("is_called", Bool)]
            }
        }
    }

    /// The view's rows from the engine's catalog (`PgSettings` has none here: the
    /// session supplies them).
    pub fn rows(self, engine: &Engine, db: u32) -> Vec<Vec<Value>> {
        let text = |s: &str| Value::Text(s.to_string());
        let ts = |v: Option<i64>| v.map(Value::TimestampTz).unwrap_or(Value::Null);
        if let VirtualTable::Sequence(oid) = self {
            return engine.with_catalog(|c| {
                let (Some(def), Some(v)) = (
                    c.ddl.sequences.get(&(db, oid)),
                    c.ddl.seq_values.get(&(db, oid)),
                ) else {
                    return vec![];
                };
                let ahead = if v.called && def.increment != 0 {
                    ((v.wal_last - v.last) / def.increment).max(0)
                } else {
                    0
                };
                vec![vec![
                    Value::Int8(v.last),
                    Value::Int8(ahead),
                    Value::Bool(v.called),
                ]]
            });
        }
        if self == VirtualTable::PgStatWal {
            let w = engine.wal_stats();
            let int8 = |n: u64| Value::Int8(n.min(i64::MAX as u64) as i64);
            return vec![vec![
                int8(w.records),
                Value::Int8(0),
                Value::numeric(w.bytes.into()),
                int8(w.buffers_full),
                int8(w.writes),
                int8(w.fsyncs),
                Value::Float8(w.write_time_us as f64 / 1000.0),
                Value::Float8(w.sync_time_us as f64 / 1000.0),
                Value::TimestampTz(engine.wal_stats_since()),
            ]];
        }
        if self == VirtualTable::PgStatArchiver {
            let a = engine.archive_status().stats();
            let int8 = |n: u64| Value::Int8(n.min(i64::MAX as u64) as i64);
            let name = |n: Option<String>| n.map_or(Value::Null, Value::Text);
            return vec![vec![
                int8(a.archived_count),
                name(a.last_archived_wal),
                ts(a.last_archived_time),
                int8(a.failed_count),
                name(a.last_failed_wal),
                ts(a.last_failed_time),
                Value::TimestampTz(a.stats_reset),
            ]];
        }
        if self == VirtualTable::TuskWalHolds {
            let pg_ts = |unix: i64| {
                Value::TimestampTz((unix - crate::types::POSTGRES_EPOCH_UNIX_SECS) * 1_000_000)
            };
            let max_age = crate::storage::holds::HOLD_MAX_AGE.as_secs() as i64;
            return engine
                .backup_holds()
                .iter()
                .map(|h| {
                    vec![
                        Value::PgLsn(h.lsn.0),
                        Value::PgLsn(h.keep_from.0),
                        Value::Int4(h.timeline as i32),
                        text(&engine.backup_hold_file_name(h)),
                        pg_ts(h.created),
                        pg_ts(h.created + max_age),
                    ]
                })
                .collect();
        }
        engine.with_catalog(|c| match self {
            VirtualTable::PgSettings | VirtualTable::PgStatWal => vec![],
            VirtualTable::PgReplicationSlots => vec![],
            VirtualTable::PgStatReplication => vec![],
            VirtualTable::PgStatWalReceiver => vec![],
            VirtualTable::TuskWalHolds | VirtualTable::PgStatArchiver => vec![],
            VirtualTable::Sequence(_) => vec![],
            VirtualTable::InfoSchema(_) | VirtualTable::Stat(_) => vec![],
            VirtualTable::PgRoles => pg_catalog::listed_roles(c)
                .iter()
                .map(|r| {
                    vec![
                        text(&r.name),
                        Value::Bool(r.superuser),
                        Value::Bool(r.inherit),
                        Value::Bool(r.createrole),
                        Value::Bool(r.createdb),
                        Value::Bool(r.login),
                        Value::Bool(r.replication),
                        Value::Int4(r.conn_limit),
                        text("********"),
                        ts(r.valid_until),
                        Value::Bool(r.bypassrls),
                        Value::Null,
                        Value::Oid(r.oid),
                    ]
                })
                .collect(),
            VirtualTable::PgUser => c
                .roles
                .values()
                .filter(|r| r.login)
                .map(|r| {
                    vec![
                        text(&r.name),
                        Value::Oid(r.oid),
                        Value::Bool(r.createdb),
                        Value::Bool(r.superuser),
                        Value::Bool(r.replication),
                        Value::Bool(r.bypassrls),
                        text("********"),
                        ts(r.valid_until),
                        Value::Null,
                    ]
                })
                .collect(),
            VirtualTable::Catalog(v) => match pg_catalog::catalog_oid(v) {
                // The system column `tableoid` follows the relation's own columns.
                Some(oid) => v
                    .rows(c, db)
                    .into_iter()
                    .map(|mut r| {
                        r.push(Value::Oid(oid));
                        r
                    })
                    .collect(),
                None => v.rows(c, db),
            },
            VirtualTable::PgTables => c
                .tables
                .range((db, 0)..=(db, u32::MAX))
                .map(|(_, t)| {
                    let schema = c
                        .schemas
                        .get(&t.schema)
                        .map(|s| s.0.clone())
                        .unwrap_or_default();
                    let owner = c
                        .roles
                        .get(&t.owner)
                        .map(|r| r.name.clone())
                        .unwrap_or_default();
                    vec![
                        text(&schema),
                        text(&t.name),
                        text(&owner),
                        Value::Null,
                        Value::Bool(t.primary_key.is_some() || !t.indexes.is_empty()),
                        Value::Bool(false),
                        Value::Bool(false),
                        Value::Bool(false),
                    ]
                })
                .collect(),
            VirtualTable::PgIndexes => {
                let mut out = Vec::new();
                for t in c.tables.range((db, 0)..=(db, u32::MAX)).map(|(_, t)| t) {
                    let schema = c
                        .schemas
                        .get(&t.schema)
                        .map(|s| s.0.clone())
                        .unwrap_or_default();
                    let mut all: Vec<(&str, &[usize], bool)> = Vec::new();
                    if let Some(pk) = &t.primary_key {
                        all.push((&t.pkey_name, pk, true));
                    }
                    for i in &t.indexes {
                        all.push((&i.name, &i.columns, i.unique));
                    }
                    for (name, cols, unique) in all {
                        let cols: Vec<String> = cols
                            .iter()
                            .map(|&i| {
                                t.columns
                                    .get(i)
                                    .map_or(String::new(), |c| quote_ident(&c.name))
                            })
                            .collect();
                        let def = format!(
                            "CREATE {}INDEX {} ON {}.{} USING btree ({})",
                            if unique { "UNIQUE " } else { "" },
                            quote_ident(name),
                            // PostgreSQL names the session's own temporary schema so.
                            if search_path::is_my_temp(t.schema) {
                                "pg_temp".to_string()
                            } else {
                                quote_ident(&schema)
                            },
                            quote_ident(&t.name),
                            cols.join(", ")
                        );
                        out.push(vec![
                            text(&schema),
                            text(&t.name),
                            text(name),
                            Value::Null,
                            text(&def),
                        ]);
                    }
                }
                out
            }
        })
    }
}

/// An identifier as PostgreSQL's `quote_ident` writes it: bare when it is lowercase
/// letters, digits and underscores not starting with a digit, else double-quoted.
fn quote_ident(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_views_resolve_in_pg_catalog_only() {
        assert_eq!(
            virtual_table(None, "pg_settings"),
            Some(VirtualTable::PgSettings)
        );
        assert_eq!(
            virtual_table(Some("pg_catalog"), "pg_roles"),
            Some(VirtualTable::PgRoles)
        );
        assert_eq!(virtual_table(Some("public"), "pg_roles"), None);
        assert_eq!(VirtualTable::PgSettings.columns().len(), 17);
    }
}
