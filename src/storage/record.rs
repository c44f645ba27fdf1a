//! tusk's WAL records: one enum, each variant with `encode`, `decode`, `redo` and
//! `describe` (STYLE habit 7). Crash recovery, standby replay and `tusk waldump`
//! ([`super::wal::dump`]) all go through this table.
//!
//! Resource managers (PostgreSQL 15 reserves 128..=255 for extensions):
//!
//! | rmid | name          | info | record                                  |
//! |------|---------------|------|-----------------------------------------|
//! | 128  | tusk heap     | 0x00 | INSERT db rel tid row                   |
//! | 128  | tusk heap     | 0x10 | DELETE db rel tid                       |
//! | 128  | tusk heap     | 0x20 | INSERT_ROWS db rel first-tid n rows     |
//! | 129  | tusk catalog  | 0x00 | CATALOG change (table, role, database)  |
//! | 130  | tusk xact     | 0x00 | COMMIT time                             |
//! | 130  | tusk xact     | 0x10 | CHECKPOINT redo next_xid next_oid       |
//! | 130  | tusk xact     | 0x20 | PARAMETER_CHANGE (xl_parameter_change)  |
//!
//! PARAMETER_CHANGE is tusk's spelling of PostgreSQL's `XLOG_PARAMETER_CHANGE`: a
//! primary appends it at start-up when its hot-standby settings differ from pg_control,
//! with PostgreSQL's 28-byte `xl_parameter_change` payload; a standby's replay checks it
//! against its own settings. It belongs to no transaction (xid 0) and redo ignores it.
//!
//! INSERT_ROWS is PostgreSQL's `XLOG_HEAP2_MULTI_INSERT` in tusk's terms: rows one
//! transaction inserted into one table under consecutive tuple ids (a COPY's), up to
//! [`INSERT_ROWS_BYTES`] of payload a record, so that a million rows cost a few
//! thousand record headers, CRC set-ups and buffer appends instead of a million.
//!
//! A transaction's heap and catalog records are appended together at commit, followed
//! by its COMMIT record (the xid travels in the record header). Redo therefore buffers a
//! transaction's records until its COMMIT arrives and applies them then; records of a
//! transaction whose COMMIT never made it into the WAL (a torn tail) are dropped.

use super::heap::{Heap, Tuple};
use super::heaps::Heaps;
use super::recovery::HotStandbyParams;
use super::schema::{put_u32, put_u64, CatalogChange, CatalogState, CatalogUndo};
use crate::err;
use crate::error::{sqlstate, Result};
use crate::types::{decode_row, encode_row, format_text, FormatOptions, Reader, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Resource manager id of heap records.
pub const RM_TUSK_HEAP: u8 = 128;
/// Resource manager id of catalog records.
pub const RM_TUSK_CATALOG: u8 = 129;
/// Resource manager id of transaction and checkpoint records.
pub const RM_TUSK_XACT: u8 = 130;

/// The info byte of INSERT_ROWS records (resource manager [`RM_TUSK_HEAP`]).
pub const INSERT_ROWS_INFO: u8 = 0x20;

/// Where a commit stops adding rows to an INSERT_ROWS record: the payload bytes past
/// which the next row starts a new record.
pub const INSERT_ROWS_BYTES: usize = 64 * 1024;

/// The resource managers whose records tusk writes, by the names `tusk waldump` shows
/// (PostgreSQL's `XLOG` for the segment switch record, tusk's own for the rest).
pub const RMGR_NAMES: [&str; 4] = ["XLOG", "TuskHeap", "TuskCatalog", "TuskXact"];

/// The name of resource manager `rmid` (`customN` for one tusk does not write, as
/// `pg_waldump` names extension resource managers it does not know).
pub fn rmgr_name(rmid: u8) -> std::borrow::Cow<'static, str> {
    match rmid {
        0 => "XLOG".into(),
        RM_TUSK_HEAP => "TuskHeap".into(),
        RM_TUSK_CATALOG => "TuskCatalog".into(),
        RM_TUSK_XACT => "TuskXact".into(),
        n if n >= 128 => format!("custom{n}").into(),
        n => format!("rmgr{n}").into(),
    }
}

/// The in-memory state redo applies records to: the catalog and the heaps.
#[derive(Debug, Default)]
pub struct Store {
    /// The catalog.
    pub catalog: CatalogState,
    /// Heaps by (database OID, table OID), loaded or waiting for their image.
    pub heaps: Heaps,
}

impl Store {
    /// The heap of a table, created empty (with the table's primary key) on first use.
    pub fn heap_mut(&mut self, db: u32, rel: u32) -> &mut Heap {
        // Called for every row a commit or redo touches: the table's definition is
        // only looked at (never cloned) when the heap is first made.
        let Store { catalog, heaps } = self;
        heaps.get_or_insert_with((db, rel), || empty_heap(catalog, db, rel))
    }

    /// Applies a replayed change to a table's heap (made empty, with the table's
    /// primary key, if there is none): at once if the heap is in memory, else when its
    /// checkpoint image is decoded (`storage::heaps`), so that crash recovery does not
    /// wait for the images.
    fn redo_on_heap(&mut self, db: u32, rel: u32, op: impl FnOnce(&mut Heap) + Send + 'static) {
        let Store { catalog, heaps } = self;
        heaps.apply_or_defer((db, rel), || empty_heap(catalog, db, rel), op);
    }

    /// Makes a table's heap indexes the primary key and secondary indexes its
    /// definition now has (after ALTER TABLE, CREATE/DROP INDEX or their undo),
    /// rebuilding what changed from the versions present.
    pub fn sync_pk(&mut self, db: u32, rel: u32) {
        let def = self.catalog.tables.get(&(db, rel)).cloned();
        self.redo_on_heap(db, rel, move |heap| {
            let pk = def.as_ref().and_then(|t| t.primary_key.clone());
            heap.sync_indexes(def.as_ref().map_or(&[][..], |d| &d.indexes[..]));
            heap.set_pk(pk);
        });
    }

    /// Reverts catalog changes (newest last in `undos`), keeping heaps in step.
    pub fn undo_catalog(&mut self, undos: Vec<CatalogUndo>) {
        for u in undos.into_iter().rev() {
            let table = match &u {
                CatalogUndo::RestoreTable(db, def) => Some((*db, def.oid)),
                _ => None,
            };
            self.catalog.undo(u);
            if let Some((db, oid)) = table {
                if self.heaps.contains_key(&(db, oid)) {
                    self.sync_pk(db, oid);
                }
            }
        }
    }
}

/// A table's heap when it has none yet: empty, with the table's primary key and
/// indexes (none for a table the catalog does not know).
fn empty_heap(catalog: &CatalogState, db: u32, rel: u32) -> Heap {
    match catalog.tables.get(&(db, rel)) {
        Some(d) => Heap::for_table(d),
        None => Heap::new(None),
    }
}

/// One WAL record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A row inserted into a table under a tuple id.
    Insert {
        /// Database OID.
        db: u32,
        /// Table OID.
        rel: u32,
        /// Tuple id.
        tid: u64,
        /// The row.
        row: Arc<Vec<Value>>,
    },
    /// Rows inserted into one table under the consecutive tuple ids `first`,
    /// `first + 1`, … (one transaction's COPY or multi-row INSERT).
    InsertRows {
        /// Database OID.
        db: u32,
        /// Table OID.
        rel: u32,
        /// The first row's tuple id.
        first: u64,
        /// The rows, in tuple-id order.
        rows: Vec<Arc<Vec<Value>>>,
    },
    /// A row version deleted (also the first half of an UPDATE).
    Delete {
        /// Database OID.
        db: u32,
        /// Table OID.
        rel: u32,
        /// Tuple id.
        tid: u64,
    },
    /// A catalog change.
    Catalog(CatalogChange),
    /// A transaction commit, with its time (PostgreSQL timestamp microseconds).
    Commit {
        /// Commit time.
        time: i64,
    },
    /// A checkpoint: the images on disk hold every commit before `redo`.
    Checkpoint {
        /// Where replay must start.
        redo: u64,
        /// The next transaction id.
        next_xid: u32,
        /// The next OID.
        next_oid: u32,
        /// Whether this is a shutdown checkpoint.
        shutdown: bool,
        /// Time of the checkpoint.
        time: i64,
    },
    /// The primary's hot-standby settings changed (PostgreSQL's XLOG_PARAMETER_CHANGE).
    ParameterChange(HotStandbyParams),
}

impl Record {
    /// The (rmid, info) pair the record is logged under.
    pub fn rmid_info(&self) -> (u8, u8) {
        match self {
            Record::Insert { .. } => (RM_TUSK_HEAP, 0x00),
            Record::Delete { .. } => (RM_TUSK_HEAP, 0x10),
            Record::InsertRows { .. } => (RM_TUSK_HEAP, INSERT_ROWS_INFO),
            Record::Catalog(_) => (RM_TUSK_CATALOG, 0x00),
            Record::Commit { .. } => (RM_TUSK_XACT, 0x00),
            Record::Checkpoint { .. } => (RM_TUSK_XACT, 0x10),
            Record::ParameterChange(_) => (RM_TUSK_XACT, 0x20),
        }
    }

    /// Encodes the payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the payload to `out` (a commit reuses one buffer for all its records).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Record::Insert { db, rel, tid, row } => {
                put_u32(out, *db);
                put_u32(out, *rel);
                put_u64(out, *tid);
                encode_row(row, out);
            }
            Record::InsertRows {
                db,
                rel,
                first,
                rows,
            } => {
                let mut w = InsertRowsWriter::start(out, *db, *rel, *first);
                for row in rows {
                    w.push(row);
                }
                w.finish();
            }
            Record::Delete { db, rel, tid } => {
                put_u32(out, *db);
                put_u32(out, *rel);
                put_u64(out, *tid);
            }
            Record::Catalog(c) => c.encode(out),
            Record::Commit { time } => put_u64(out, *time as u64),
            Record::Checkpoint {
                redo,
                next_xid,
                next_oid,
                shutdown,
                time,
            } => {
                put_u64(out, *redo);
                put_u32(out, *next_xid);
                put_u32(out, *next_oid);
                out.push(*shutdown as u8);
                put_u64(out, *time as u64);
            }
            Record::ParameterChange(p) => out.extend_from_slice(&p.encode()),
        }
    }

    /// Decodes a payload logged under (rmid, info).
    pub fn decode(rmid: u8, info: u8, payload: &[u8]) -> Result<Record> {
        let r = &mut Reader::new(payload);
        Ok(match (rmid, info) {
            (RM_TUSK_HEAP, 0x00) => Record::Insert {
                db: r.u32()?,
                rel: r.u32()?,
                tid: r.u64()?,
                row: Arc::new(decode_row(r)?),
            },
            (RM_TUSK_HEAP, INSERT_ROWS_INFO) => {
                let (db, rel, first) = (r.u32()?, r.u32()?, r.u64()?);
                let n = r.u32()? as usize;
                // Every row takes at least its column count: a corrupt count cannot
                // make the vector larger than the payload.
                let mut rows = Vec::with_capacity(n.min(payload.len()));
                for _ in 0..n {
                    rows.push(Arc::new(decode_row(r)?));
                }
                Record::InsertRows {
                    db,
                    rel,
                    first,
                    rows,
                }
            }
            (RM_TUSK_HEAP, 0x10) => Record::Delete {
                db: r.u32()?,
                rel: r.u32()?,
                tid: r.u64()?,
            },
            (RM_TUSK_CATALOG, 0x00) => Record::Catalog(CatalogChange::decode(r)?),
            (RM_TUSK_XACT, 0x00) => Record::Commit {
                time: r.u64()? as i64,
            },
            (RM_TUSK_XACT, 0x10) => Record::Checkpoint {
                redo: r.u64()?,
                next_xid: r.u32()?,
                next_oid: r.u32()?,
                shutdown: r.u8()? != 0,
                time: r.u64()? as i64,
            },
            (RM_TUSK_XACT, 0x20) => match HotStandbyParams::decode(payload) {
                Some(p) => Record::ParameterChange(p),
                None => {
                    return Err(err!(
                        sqlstate::DATA_CORRUPTED,
                        "invalid parameter-change WAL record ({} bytes)",
                        payload.len()
                    ))
                }
            },
            _ => {
                return Err(err!(
                    sqlstate::DATA_CORRUPTED,
                    "unknown WAL record rmid {rmid} info {info:#x}"
                ))
            }
        })
    }

    /// Applies a committed record to the store (redo). Heap records produce frozen
    /// tuples; deletes remove the version.
    pub fn redo(&self, store: &mut Store) {
        match self {
            Record::Insert { .. } | Record::InsertRows { .. } => {
                self.clone().put_inserted(store, 1);
            }
            Record::Delete { db, rel, tid } => {
                let tid = *tid;
                store.redo_on_heap(*db, *rel, move |heap| drop(heap.remove(tid)));
            }
            Record::Catalog(c) => {
                store.catalog.apply(c);
                match c {
                    CatalogChange::DropTable { db, oid } => {
                        store.heaps.remove(&(*db, *oid));
                    }
                    CatalogChange::AlterTable { db, def } => store.sync_pk(*db, def.oid),
                    CatalogChange::DropDatabase { oid } => store.heaps.retain(|(db, _)| db != oid),
                    CatalogChange::CreateTable { db, def } => {
                        store
                            .heaps
                            .get_or_insert_with((*db, def.oid), || Heap::for_table(def));
                    }
                    _ => {}
                }
            }
            Record::Commit { .. } | Record::Checkpoint { .. } | Record::ParameterChange(_) => {}
        }
    }

    /// Puts the rows of an INSERT or INSERT_ROWS record into their heap as frozen
    /// versions committed at sequence number `seq` (redo and standby replay); any
    /// other record does nothing.
    pub fn put_inserted(self, store: &mut Store, seq: u64) {
        let (db, rel, first, rows) = match self {
            Record::Insert { db, rel, tid, row } => (db, rel, tid, vec![row]),
            Record::InsertRows {
                db,
                rel,
                first,
                rows,
            } => (db, rel, first, rows),
            _ => return,
        };
        store.redo_on_heap(db, rel, move |heap| {
            for (tid, row) in (first..).zip(rows) {
                heap.put(tid, Tuple::frozen(row, seq));
            }
        });
    }

    /// Whether this is a one-row insert into table `rel` of database `db`.
    fn is_insert_into(&self, db: u32, rel: u32) -> bool {
        matches!(*self, Record::Insert { db: d, rel: r, .. } if (d, r) == (db, rel))
    }

    /// A one-line description for logs and a waldump (`INSERT db 5 rel 16384 tid 1 …`).
    pub fn describe(&self) -> String {
        match self {
            Record::Insert { db, rel, tid, row } => {
                format!(
                    "INSERT db {db} rel {rel} tid {tid}: ({})",
                    describe_row(row)
                )
            }
            Record::InsertRows {
                db,
                rel,
                first,
                rows,
            } => {
                // The first rows as INSERT shows one; a record holds hundreds.
                let mut shown: Vec<String> = rows
                    .iter()
                    .take(DESCRIBED_ROWS)
                    .map(|r| format!("({})", describe_row(r)))
                    .collect();
                if rows.len() > DESCRIBED_ROWS {
                    shown.push(format!("… {} more", rows.len() - DESCRIBED_ROWS));
                }
                format!(
                    "INSERT_ROWS db {db} rel {rel} tids {first}..{}: {}",
                    first + (rows.len() as u64).saturating_sub(1),
                    shown.join(", ")
                )
            }
            Record::Delete { db, rel, tid } => format!("DELETE db {db} rel {rel} tid {tid}"),
            Record::Catalog(c) => match c {
                CatalogChange::CreateTable { db, def } => {
                    format!("CREATE TABLE db {db} oid {} name {}", def.oid, def.name)
                }
                CatalogChange::DropTable { db, oid } => format!("DROP TABLE db {db} oid {oid}"),
                CatalogChange::AlterTable { db, def } => {
                    format!("ALTER TABLE db {db} oid {} name {}", def.oid, def.name)
                }
                CatalogChange::SetRole(r) => format!("SET ROLE oid {} name {}", r.oid, r.name),
                CatalogChange::DropRole { oid } => format!("DROP ROLE oid {oid}"),
                CatalogChange::Grant { role, member } => {
                    format!("GRANT role {role} to member {member}")
                }
                CatalogChange::SetDatabase(d) => {
                    format!("SET DATABASE oid {} name {}", d.oid, d.name)
                }
                CatalogChange::DropDatabase { oid } => format!("DROP DATABASE oid {oid}"),
                CatalogChange::Ddl(d) => d.describe(),
                CatalogChange::Enum(e) => e.describe(),
                CatalogChange::Acl(a) => a.describe(),
            },
            Record::Commit { time } => {
                format!(
                    "COMMIT {}",
                    crate::types::format_timestamptz(*time, &Default::default())
                )
            }
            Record::Checkpoint {
                redo,
                next_xid,
                next_oid,
                shutdown,
                ..
            } => format!(
                "CHECKPOINT_{} redo {:X}/{:X}; next xid {next_xid}; next oid {next_oid}",
                if *shutdown { "SHUTDOWN" } else { "ONLINE" },
                redo >> 32,
                redo & 0xffff_ffff
            ),
            Record::ParameterChange(p) => format!(
                "PARAMETER_CHANGE max_connections={} max_worker_processes={} \
                 max_wal_senders={} max_prepared_xacts={} max_locks_per_xact={} \
                 wal_level={} wal_log_hints={} track_commit_timestamp={}",
                p.max_connections,
                p.max_worker_processes,
                p.max_wal_senders,
                p.max_prepared_xacts,
                p.max_locks_per_xact,
                p.wal_level,
                if p.wal_log_hints { "on" } else { "off" },
                if p.track_commit_timestamp {
                    "on"
                } else {
                    "off"
                },
            ),
        }
    }
}

/// How many rows an INSERT_ROWS record's description shows.
const DESCRIBED_ROWS: usize = 8;

/// A row's values as a description shows them (`1, apple, NULL`).
fn describe_row(row: &[Value]) -> String {
    let vals: Vec<String> = row
        .iter()
        .map(|v| {
            if v.is_null() {
                "NULL".into()
            } else {
                format_text(v, &FormatOptions::default())
            }
        })
        .collect();
    vals.join(", ")
}

/// Encodes an INSERT_ROWS payload row by row, for a writer that decides where one
/// record ends while encoding (a commit cuts its rows into records of about
/// [`INSERT_ROWS_BYTES`]).
pub struct InsertRowsWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Where the row count goes in `out`.
    count_at: usize,
    count: u32,
}

impl<'a> InsertRowsWriter<'a> {
    /// Starts a payload in `out` (appended) for rows of table `rel` of database `db`
    /// from tuple id `first` on.
    pub fn start(out: &'a mut Vec<u8>, db: u32, rel: u32, first: u64) -> Self {
        put_u32(out, db);
        put_u32(out, rel);
        put_u64(out, first);
        let count_at = out.len();
        put_u32(out, 0);
        InsertRowsWriter {
            out,
            count_at,
            count: 0,
        }
    }

    /// Adds the next row (tuple id `first` + the rows added before it).
    pub fn push(&mut self, row: &[Value]) {
        encode_row(row, self.out);
        self.count += 1;
    }

    /// The payload's length so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether no row was added yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Writes the row count; the payload is complete.
    pub fn finish(self) {
        self.out[self.count_at..self.count_at + 4].copy_from_slice(&self.count.to_le_bytes());
    }
}

/// Applies WAL records in order to a [`Store`], buffering each transaction's records
/// until its COMMIT (crash recovery now; standby replay later).
#[derive(Debug, Default)]
pub struct Replayer {
    pending: HashMap<u32, Vec<Record>>,
    /// Transactions committed so far.
    pub replayed: u64,
    /// One past the highest xid seen.
    pub next_xid: u32,
}

impl Replayer {
    /// A replayer whose xid counter starts at `next_xid`.
    pub fn new(next_xid: u32) -> Replayer {
        Replayer {
            next_xid,
            ..Default::default()
        }
    }

    /// Transactions with records but no COMMIT yet.
    pub fn in_progress(&self) -> usize {
        self.pending.len()
    }

    /// Applies one WAL record (PostgreSQL's own records, below rmid 128, are skipped).
    pub fn apply(
        &mut self,
        rmid: u8,
        info: u8,
        xid: u32,
        payload: &[u8],
        store: &mut Store,
    ) -> Result<()> {
        if rmid < RM_TUSK_HEAP {
            return Ok(());
        }
        let r = Record::decode(rmid, info, payload)?;
        if xid != 0 && xid >= self.next_xid {
            self.next_xid = xid.wrapping_add(1);
        }
        match r {
            Record::Commit { .. } => {
                let mut records = self
                    .pending
                    .remove(&xid)
                    .unwrap_or_default()
                    .into_iter()
                    .peekable();
                while let Some(r) = records.next() {
                    // An UPDATE logs its delete and then its insert: replayed as one
                    // replacement (`Heap::replace`).
                    if let Record::Delete { db, rel, tid: old } = r {
                        let insert = records.next_if(|n| n.is_insert_into(db, rel));
                        if let Some(Record::Insert { tid, row, .. }) = insert {
                            store.redo_on_heap(db, rel, move |heap| {
                                heap.replace(old, tid, Tuple::frozen(row, 1))
                            });
                            continue;
                        }
                    }
                    r.redo(store);
                }
                self.replayed += 1;
            }
            Record::Checkpoint { next_oid, .. } => {
                if next_oid > store.catalog.next_oid {
                    store.catalog.next_oid = next_oid;
                }
            }
            Record::ParameterChange(_) => {}
            other => self.pending.entry(xid).or_default().push(other),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_describe() {
        let recs = vec![
            Record::Insert {
                db: 5,
                rel: 16384,
                tid: 1,
                row: Arc::new(vec![Value::Int4(1), Value::Text("a".into()), Value::Null]),
            },
            Record::Delete {
                db: 5,
                rel: 16384,
                tid: 1,
            },
            Record::InsertRows {
                db: 5,
                rel: 16384,
                first: 7,
                rows: vec![
                    Arc::new(vec![Value::Int4(7), Value::Null]),
                    Arc::new(vec![Value::Int4(8), Value::Text("b".into())]),
                ],
            },
            Record::Catalog(CatalogChange::DropRole { oid: 16390 }),
            Record::Commit { time: 12345 },
            Record::Checkpoint {
                redo: 0x1000028,
                next_xid: 740,
                next_oid: 16400,
                shutdown: true,
                time: 1,
            },
            Record::ParameterChange(HotStandbyParams {
                max_connections: 300,
                max_worker_processes: 8,
                max_wal_senders: 10,
                max_prepared_xacts: 0,
                max_locks_per_xact: 64,
                wal_level: 1,
                wal_log_hints: false,
                track_commit_timestamp: true,
            }),
        ];
        for r in recs {
            let (rmid, info) = r.rmid_info();
            let back = Record::decode(rmid, info, &r.encode()).unwrap();
            assert_eq!(back, r);
        }
        let d = Record::Insert {
            db: 5,
            rel: 16384,
            tid: 1,
            row: Arc::new(vec![Value::Int4(1), Value::Null]),
        }
        .describe();
        assert_eq!(d, "INSERT db 5 rel 16384 tid 1: (1, NULL)");
        assert!(Record::decode(128, 0x00, &[1, 2]).is_err());
        let rows = Record::InsertRows {
            db: 5,
            rel: 16384,
            first: 7,
            rows: (0..3)
                .map(|_| Arc::new(vec![Value::Int4(1), Value::Null]))
                .collect(),
        };
        assert_eq!(
            rows.describe(),
            "INSERT_ROWS db 5 rel 16384 tids 7..9: (1, NULL), (1, NULL), (1, NULL)"
        );
        let many = Record::InsertRows {
            db: 5,
            rel: 16384,
            first: 1,
            rows: (0..10).map(|_| Arc::new(vec![Value::Int4(1)])).collect(),
        };
        assert!(many
            .describe()
            .ends_with("tids 1..10: (1), (1), (1), (1), (1), (1), (1), (1), … 2 more"));
        // A count larger than the rows present is corruption, not a huge allocation.
        let mut p = rows.encode();
        p[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Record::decode(128, INSERT_ROWS_INFO, &p).is_err());
        // Redo puts the rows under consecutive tuple ids.
        let mut store = Store::default();
        rows.redo(&mut store);
        let tids: Vec<u64> = store
            .heaps
            .get(&(5, 16384))
            .unwrap()
            .tuples
            .keys()
            .collect();
        assert_eq!(tids, vec![7, 8, 9]);
    }
}
