//! The statistics views — `pg_stat_activity`, `pg_locks`, `pg_stat_database`,
//! `pg_stat_all_tables` / `pg_stat_user_tables`, `pg_statio_all_tables` /
//! `pg_statio_user_tables` — and the sizes the size functions report
//! (`pg_relation_size`, `pg_table_size`, `pg_indexes_size`, `pg_total_relation_size`,
//! `pg_database_size`).
//!
//! # Where the numbers come from
//!
//! - Sessions: the engine's activity table (`storage::activity`), which every session
//!   keeps current before and after each statement. So `pg_stat_activity` lists the
//!   client sessions and walsenders of this server (tusk's background threads —
//!   checkpointer, WAL writer, archiver — are not backends and are not listed), and
//!   `pg_stat_database.numbackends` counts them.
//! - Row counts: `n_live_tup` and `n_dead_tup` are exact, counted from the table's row
//!   versions in memory when the view is read (`storage::heap::Heap::sizes`): committed
//!   and not deleted, and deleted by a committed transaction but not yet vacuumed.
//! - Sizes: tusk keeps tables in memory, so a relation's size is what it holds there
//!   as tusk accounts it: a table, the bytes of all its row versions in tusk's row
//!   encoding (the encoding of its checkpoint image); an index, its encoded keys plus
//!   eight bytes for each tuple id an entry points to; a sequence, its one row encoded;
//!   a view, nothing. A database's size is the sum over its relations. There are no
//!   pages: sizes are not multiples of 8192, and the `fsm`, `vm` and `init` forks are 0.
//! - Counters tusk does not keep (scans, tuples inserted/updated/deleted, blocks,
//!   commits, vacuum and analyze times) are 0 or NULL, never invented.
//! - Recovery conflicts (`pg_stat_database.conflicts`, `pg_stat_database_conflicts`):
//!   the relation-lock conflicts a hot standby's replay resolved by cancelling a
//!   session (`storage::standby_locks`); tusk has no other kind, so the other columns
//!   are 0.
//! - `pg_locks`: a transaction's lock on its own transaction id (tusk gives every
//!   transaction an id when it begins). Row locks and their waits live in the engine's
//!   waits-for graph and are not listed; tusk takes no table-level locks.
//!
//! Other users' sessions show only who and where, with `<insufficient privilege>` as
//! their query, unless the reader is a superuser — as PostgreSQL does without
//! `pg_read_all_stats`.
//!
//! What this module must never do: write the catalog or the activity table, or count
//! anything itself (it reports what storage holds).
//!
//! One read, `SELECT state FROM pg_stat_activity WHERE pid = pg_backend_pid()`:
//! 1. `catalog::virtual_table` maps the name to [`StatView::Activity`];
//! 2. the executor calls [`StatView::rows`] with the reader (role, superuser);
//! 3. the rows come from `Engine::activity().list()`, a copy taken under its lock.

use super::pg_catalog::{self, schema_name};
use crate::error::{sqlstate, Result};
use crate::storage::schema::CatalogState;
use crate::storage::Engine;
use crate::types::{DataType, Value};
use crate::{bail, err};

/// One statistics view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatView {
    /// `pg_stat_activity`: one row per client session. `client_addr` is text and
    /// `backend_xid` / `backend_xmin` are text (tusk has no inet or xid type).
    Activity,
    /// `pg_locks`: each open transaction's lock on its transaction id.
    Locks,
    /// `pg_stat_database`: one row per database and one for shared objects.
    Database,
    /// `pg_stat_database_conflicts`: queries cancelled on a hot standby, per database
    /// and cause (tusk has relation-lock conflicts only).
    DatabaseConflicts,
    /// `pg_stat_all_tables`.
    AllTables,
    /// `pg_stat_user_tables` (tables outside `pg_catalog` and `information_schema`).
    UserTables,
    /// `pg_statio_all_tables`.
    StatioAllTables,
    /// `pg_statio_user_tables`.
    StatioUserTables,
}

/// The statistics view with this name.
pub fn view_by_name(name: &str) -> Option<StatView> {
    Some(match name {
        "pg_stat_activity" => StatView::Activity,
        "pg_locks" => StatView::Locks,
        "pg_stat_database" => StatView::Database,
        "pg_stat_database_conflicts" => StatView::DatabaseConflicts,
        "pg_stat_all_tables" => StatView::AllTables,
        "pg_stat_user_tables" => StatView::UserTables,
        "pg_statio_all_tables" => StatView::StatioAllTables,
        "pg_statio_user_tables" => StatView::StatioUserTables,
        _ => return None,
    })
}

/// Who reads a view: what they may see of other sessions.
#[derive(Debug, Clone)]
pub struct Reader {
    /// The current user's name.
    pub user: String,
    /// Whether the current role is a superuser.
    pub superuser: bool,
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn int8(n: u64) -> Value {
    Value::Int8(n.min(i64::MAX as u64) as i64)
}

/// The size of a relation's main fork (see the module comment); `None` if no relation
/// of database `db` has this OID.
pub fn relation_size(engine: &Engine, db: u32, oid: u32) -> Option<u64> {
    enum Kind {
        Table,
        Index(u32),
        Sequence,
        Empty,
    }
    let kind = engine.with_catalog(|c| {
        if c.tables.contains_key(&(db, oid)) {
            return Some(Kind::Table);
        }
        if let Some(ix) = pg_catalog::indexes(c, db)
            .into_iter()
            .find(|i| i.oid == oid)
        {
            return Some(Kind::Index(ix.table.oid));
        }
        if c.ddl.sequences.contains_key(&(db, oid)) {
            return Some(Kind::Sequence);
        }
        pg_catalog::relations(c, db)
            .iter()
            .any(|r| r.oid == oid)
            .then_some(Kind::Empty)
    })?;
    Some(match kind {
        Kind::Table => engine.heap_sizes(db, oid).map_or(0, |s| s.heap_bytes),
        Kind::Index(table) => engine.heap_sizes(db, table).map_or(0, |s| {
            s.index_bytes
                .iter()
                .find(|(i, _)| *i == oid)
                .map_or(s.pk_index_bytes, |(_, b)| *b)
        }),
        Kind::Sequence => engine.with_catalog(|c| {
            let v = c.ddl.seq_values.get(&(db, oid));
            let row = [
                Value::Int8(v.map_or(0, |v| v.last)),
                Value::Int8(0),
                Value::Bool(v.is_some_and(|v| v.called)),
            ];
            let mut buf = Vec::new();
            crate::types::encode_row(&row, &mut buf);
            buf.len() as u64
        }),
        Kind::Empty => 0,
    })
}

/// The size of a relation's indexes (`pg_indexes_size`): 0 for what is not a table.
pub fn indexes_size(engine: &Engine, db: u32, oid: u32) -> u64 {
    engine.heap_sizes(db, oid).map_or(0, |s| {
        s.pk_index_bytes + s.index_bytes.iter().map(|(_, b)| b).sum::<u64>()
    })
}

/// `pg_relation_size(rel, fork)`: the main fork's size; the other forks are empty in
/// tusk. An unknown fork name is 22023.
pub fn fork_size(engine: &Engine, db: u32, oid: u32, fork: &str) -> Result<Option<u64>> {
    match fork {
        "main" => Ok(relation_size(engine, db, oid)),
        "fsm" | "vm" | "init" => Ok(relation_size(engine, db, oid).map(|_| 0)),
        _ => Err(err!(sqlstate::INVALID_PARAMETER_VALUE, "invalid fork name")
            .with_hint("Valid fork names are \"main\", \"fsm\", \"vm\", and \"init\".")),
    }
}

/// `pg_database_size(name)`: the sum of the sizes of the database's relations; 3D000
/// for an unknown name.
pub fn database_size_by_name(engine: &Engine, name: &str) -> Result<u64> {
    let Some(d) = engine.database(name) else {
        bail!(
            sqlstate::INVALID_CATALOG_NAME,
            "database \"{name}\" does not exist"
        );
    };
    Ok(database_size(engine, d.oid).unwrap_or(0))
}

/// `pg_database_size(oid)`: `None` for an unknown OID.
pub fn database_size(engine: &Engine, db: u32) -> Option<u64> {
    let rels: Vec<u32> = engine.with_catalog(|c| {
        c.databases.get(&db)?;
        let mut v: Vec<u32> = c
            .tables
            .range((db, 0)..=(db, u32::MAX))
            .map(|(k, _)| k.1)
            .collect();
        v.extend(
            c.ddl
                .sequences
                .range((db, 0)..=(db, u32::MAX))
                .map(|(k, _)| k.1),
        );
        Some(v)
    })?;
    Some(
        rels.into_iter()
            .map(|r| relation_size(engine, db, r).unwrap_or(0) + indexes_size(engine, db, r))
            .sum(),
    )
}

impl StatView {
    /// The view's columns with PostgreSQL 15's names.
    pub fn columns(self) -> &'static [(&'static str, DataType)] {
        use DataType::*;
        match self {
            StatView::Activity => &[
                ("datid", Oid),
                ("datname", Name),
                ("pid", Int4),
                ("leader_pid", Int4),
                ("usesysid", Oid),
                ("usename", Name),
                ("application_name", Text),
                ("client_addr", Text),
                ("client_hostname", Text),
                ("client_port", Int4),
                ("backend_start", TimestampTz),
                ("xact_start", TimestampTz),
                ("query_start", TimestampTz),
                ("state_change", TimestampTz),
                ("wait_event_type", Text),
                ("wait_event", Text),
                ("state", Text),
                ("backend_xid", Text),
                ("backend_xmin", Text),
                ("query_id", Int8),
                ("query", Text),
                ("backend_type", Text),
            ],
            StatView::Locks => &[
                ("locktype", Text),
                ("database", Oid),
                ("relation", Oid),
                ("page", Int4),
                ("tuple", Int2),
                ("virtualxid", Text),
                ("transactionid", Text),
                ("classid", Oid),
                ("objid", Oid),
                ("objsubid", Int2),
                ("virtualtransaction", Text),
                ("pid", Int4),
                ("mode", Text),
                ("granted", Bool),
                ("fastpath", Bool),
                ("waitstart", TimestampTz),
            ],
            StatView::Database => &[
                ("datid", Oid),
                ("datname", Name),
                ("numbackends", Int4),
                ("xact_commit", Int8),
                ("xact_rollback", Int8),
                ("blks_read", Int8),
                ("blks_hit", Int8),
                ("tup_returned", Int8),
                ("tup_fetched", Int8),
                ("tup_inserted", Int8),
                ("tup_updated", Int8),
                ("tup_deleted", Int8),
                ("conflicts", Int8),
                ("temp_files", Int8),
                ("temp_bytes", Int8),
                ("deadlocks", Int8),
                ("checksum_failures", Int8),
                ("checksum_last_failure", TimestampTz),
                ("blk_read_time", Float8),
                ("blk_write_time", Float8),
                ("session_time", Float8),
                ("active_time", Float8),
                ("idle_in_transaction_time", Float8),
                ("sessions", Int8),
                ("sessions_abandoned", Int8),
                ("sessions_fatal", Int8),
                ("sessions_killed", Int8),
                ("stats_reset", TimestampTz),
            ],
            StatView::DatabaseConflicts => &[
                ("datid", Oid),
                ("datname", Name),
                ("confl_tablespace", Int8),
                ("confl_lock", Int8),
                ("confl_snapshot", Int8),
                ("confl_bufferpin", Int8),
                ("confl_deadlock", Int8),
            ],
            StatView::AllTables | StatView::UserTables => &[
                ("relid", Oid),
                ("schemaname", Name),
                ("relname", Name),
                ("seq_scan", Int8),
                ("seq_tup_read", Int8),
                ("idx_scan", Int8),
                ("idx_tup_fetch", Int8),
                ("n_tup_ins", Int8),
                ("n_tup_upd", Int8),
                ("n_tup_del", Int8),
                ("n_tup_hot_upd", Int8),
                ("n_live_tup", Int8),
                ("n_dead_tup", Int8),
                ("n_mod_since_analyze", Int8),
                ("n_ins_since_vacuum", Int8),
                ("last_vacuum", TimestampTz),
                ("last_autovacuum", TimestampTz),
                ("last_analyze", TimestampTz),
                ("last_autoanalyze", TimestampTz),
                ("vacuum_count", Int8),
                ("autovacuum_count", Int8),
                ("analyze_count", Int8),
                ("autoanalyze_count", Int8),
            ],
            StatView::StatioAllTables | StatView::StatioUserTables => &[
                ("relid", Oid),
                ("schemaname", Name),
                ("relname", Name),
                ("heap_blks_read", Int8),
                ("heap_blks_hit", Int8),
                ("idx_blks_read", Int8),
                ("idx_blks_hit", Int8),
                ("toast_blks_read", Int8),
                ("toast_blks_hit", Int8),
                ("tidx_blks_read", Int8),
                ("tidx_blks_hit", Int8),
            ],
        }
    }

    /// The view's rows in database `db` for `reader`.
    pub fn rows(self, engine: &Engine, db: u32, reader: &Reader) -> Vec<Vec<Value>> {
        let null = || Value::Null;
        let ts = |v: Option<i64>| v.map_or(Value::Null, Value::TimestampTz);
        match self {
            StatView::Activity => {
                let (dbs, roles) = engine.with_catalog(|c| {
                    let dbs: Vec<(String, u32)> = c
                        .databases
                        .values()
                        .map(|d| (d.name.clone(), d.oid))
                        .collect();
                    let roles: Vec<(String, u32)> =
                        c.roles.values().map(|r| (r.name.clone(), r.oid)).collect();
                    (dbs, roles)
                });
                let oid_of = |list: &[(String, u32)], n: &str| {
                    list.iter()
                        .find(|(name, _)| name == n)
                        .map_or(Value::Null, |(_, o)| Value::Oid(*o))
                };
                engine
                    .activity()
                    .list()
                    .into_iter()
                    .map(|s| {
                        let own = reader.superuser || s.user == reader.user;
                        let idle = s.state != "active";
                        let shown = |v: Value| if own { v } else { Value::Null };
                        vec![
                            oid_of(&dbs, &s.database),
                            text(&s.database),
                            Value::Int4(s.pid),
                            null(),
                            oid_of(&roles, &s.user),
                            text(&s.user),
                            text(&s.application_name),
                            shown(s.client_addr.as_deref().map_or(Value::Null, text)),
                            null(),
                            shown(match (&s.client_addr, s.client_port) {
                                (Some(_), Some(p)) => Value::Int4(p),
                                // A Unix-domain socket, as PostgreSQL shows it.
                                _ => Value::Int4(-1),
                            }),
                            shown(Value::TimestampTz(s.backend_start)),
                            shown(ts(s.xact_start)),
                            shown(ts(s.query_start)),
                            shown(ts(s.state_change)),
                            shown(match (idle, s.wait_event) {
                                (true, _) => text("Client"),
                                (false, Some((kind, _))) => text(kind),
                                (false, None) => null(),
                            }),
                            shown(match (idle, s.wait_event) {
                                (true, _) => text("ClientRead"),
                                (false, Some((_, event))) => text(event),
                                (false, None) => null(),
                            }),
                            shown(text(s.state)),
                            shown(s.xid.map_or(Value::Null, |x| text(&x.to_string()))),
                            null(),
                            null(),
                            if own {
                                text(&s.query)
                            } else {
                                text("<insufficient privilege>")
                            },
                            text(s.backend_type),
                        ]
                    })
                    .collect()
            }
            StatView::Locks => engine
                .activity()
                .list()
                .into_iter()
                .filter_map(|s| {
                    let xid = s.xid?;
                    Some(vec![
                        text("transactionid"),
                        null(),
                        null(),
                        null(),
                        null(),
                        null(),
                        text(&xid.to_string()),
                        null(),
                        null(),
                        null(),
                        null(),
                        Value::Int4(s.pid),
                        text("ExclusiveLock"),
                        Value::Bool(true),
                        Value::Bool(false),
                        null(),
                    ])
                })
                .collect(),
            StatView::Database => {
                let sessions = engine.activity().list();
                let dbs: Vec<(u32, String)> = engine.with_catalog(|c| {
                    c.databases
                        .values()
                        .map(|d| (d.oid, d.name.clone()))
                        .collect()
                });
                let row = |oid: u32, name: Value, backends: i32| {
                    let (commits, rollbacks) = engine.database_transactions(oid);
                    let mut r = vec![Value::Oid(oid), name, Value::Int4(backends)];
                    r.push(Value::Int8(commits as i64));
                    r.push(Value::Int8(rollbacks as i64));
                    r.extend((0..7).map(|_| Value::Int8(0)));
                    // conflicts: recovery conflicts (relation locks, on a standby).
                    r.push(int8(engine.standby_locks().conflicts(oid)));
                    r.extend((0..4).map(|_| Value::Int8(0)));
                    r.push(null());
                    r.extend((0..5).map(|_| Value::Float8(0.0)));
                    r.extend((0..4).map(|_| Value::Int8(0)));
                    r.push(null());
                    r
                };
                let mut out = vec![row(0, null(), 0)];
                for (oid, name) in dbs {
                    let n = sessions.iter().filter(|s| s.database == name).count();
                    out.push(row(oid, text(&name), n as i32));
                }
                out
            }
            StatView::DatabaseConflicts => engine
                .with_catalog(|c| {
                    c.databases
                        .values()
                        .map(|d| (d.oid, d.name.clone()))
                        .collect::<Vec<_>>()
                })
                .into_iter()
                .map(|(oid, name)| {
                    let mut r = vec![Value::Oid(oid), text(&name), Value::Int8(0)];
                    r.push(int8(engine.standby_locks().conflicts(oid)));
                    r.extend((0..3).map(|_| Value::Int8(0)));
                    r
                })
                .collect(),
            StatView::AllTables | StatView::UserTables => table_list(engine, db)
                .into_iter()
                .map(|(oid, schema, name)| {
                    let sizes = engine.heap_sizes(db, oid).unwrap_or_default();
                    let mut r = vec![Value::Oid(oid), text(&schema), text(&name)];
                    r.extend((0..8).map(|_| Value::Int8(0)));
                    r.push(int8(sizes.live));
                    r.push(int8(sizes.dead));
                    r.extend((0..2).map(|_| Value::Int8(0)));
                    r.extend((0..4).map(|_| null()));
                    r.extend((0..4).map(|_| Value::Int8(0)));
                    r
                })
                .collect(),
            StatView::StatioAllTables | StatView::StatioUserTables => {
                let indexed: Vec<u32> = engine.with_catalog(|c| {
                    c.tables
                        .range((db, 0)..=(db, u32::MAX))
                        .filter(|(_, t)| t.primary_key.is_some() || !t.indexes.is_empty())
                        .map(|(k, _)| k.1)
                        .collect()
                });
                table_list(engine, db)
                    .into_iter()
                    .map(|(oid, schema, name)| {
                        let idx = || {
                            if indexed.contains(&oid) {
                                Value::Int8(0)
                            } else {
                                Value::Null
                            }
                        };
                        vec![
                            Value::Oid(oid),
                            text(&schema),
                            text(&name),
                            Value::Int8(0),
                            Value::Int8(0),
                            idx(),
                            idx(),
                            null(),
                            null(),
                            null(),
                            null(),
                        ]
                    })
                    .collect()
            }
        }
    }
}

/// The user tables of database `db` (the only tables tusk counts): (OID, schema
/// name, table name), other sessions' temporary tables left out.
fn table_list(engine: &Engine, db: u32) -> Vec<(u32, String, String)> {
    engine.with_catalog(|c: &CatalogState| {
        c.tables
            .range((db, 0)..=(db, u32::MAX))
            .map(|(_, t)| t)
            .filter(|t| !c.is_temp_schema(t.schema) || super::search_path::is_my_temp(t.schema))
            .map(|t| (t.oid, schema_name(c, t.schema), t.name.clone()))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_resolve_by_name() {
        assert_eq!(view_by_name("pg_stat_activity"), Some(StatView::Activity));
        assert_eq!(
            view_by_name("pg_stat_user_tables"),
            Some(StatView::UserTables)
        );
        assert_eq!(view_by_name("pg_class"), None);
        assert_eq!(StatView::Activity.columns().len(), 22);
        assert_eq!(StatView::Database.columns().len(), 28);
        assert_eq!(StatView::AllTables.columns().len(), 23);
    }
}
