//! The storage engine: the WAL-first, in-memory MVCC row store, its transactions,
//! checkpoints and crash recovery.
//!
//! Map of this module:
//! - `mod.rs`        — [`Engine`]: open/bootstrap, transactions, row operations, commit
//! - `heap.rs`       — row versions (xmin/xmax), visibility, the primary-key index and
//!   the secondary B-tree indexes (their definitions live in `TableDef`, so they are
//!   logged as catalog changes and kept in the catalog image; contents are rebuilt)
//! - `schema.rs`     — the catalog state (databases, roles, tables) and its encoding
//! - `record.rs`     — the one WAL record enum: encode, decode, redo, describe
//! - `checkpoint.rs` — table and catalog images on disk
//! - `checkpointer.rs` — timed / WAL-size checkpoints, WAL retention, autovacuum,
//!   `archive_timeout`
//! - `archive_status.rs` — `pg_wal/archive_status/`: `.ready` when a segment is
//!   complete, which segments the archiver still needs, the archiver's counters
//! - `temp.rs`     — temporary namespaces: their objects are never logged nor imaged
//! - `wal/`, `control.rs` — the WAL envelope and pg_control (another engineer's)
//!
//! Invariants:
//! - **WAL first.** A transaction's records and its COMMIT are appended and (with
//!   synchronous commit) flushed before its changes become visible to anyone.
//! - Images on disk only ever hold committed state that the flushed WAL already covers;
//!   replay from the checkpoint's redo LSN reproduces everything after it.
//! - Checkpoints are online: commits go on while one runs. Its images hold the
//!   committed state as of one snapshot; its redo LSN is no later than the first record
//!   of any commit outside that snapshot (`in_flight`), and redo is idempotent for the
//!   commits inside it whose records lie after the redo LSN (see `checkpoint_inner`).
//!   A table's image is rewritten only when its heap's generation moved since that
//!   image was written or loaded at start-up (`write_images`, `image_generations`).
//! - Crash recovery may end without its checkpoint ([`EngineOptions::defer_recovery_checkpoint`],
//!   the server's choice): the checkpointer thread writes it on its first tick while
//!   sessions already run. Until it completes, the previous checkpoint and all WAL
//!   from its redo LSN stay in charge, as between any two checkpoints, so a second
//!   crash replays the same records again (uncommitted ones are never applied).
//! - No checkpoint follows the shutdown checkpoint: both run under one mutex, and a
//!   checkpoint that waited for it finds the engine shut down and fails (57P01).
//! - After a WAL write or flush failure the engine refuses further commits (PANIC):
//!   it never guesses what reached the disk. Its panic hook ([`Engine::on_panic`])
//!   tells the server, which starts over from the WAL.
//!
//! - **Two locks, one order.** The heaps, the catalog and row locks are under the
//!   engine lock (`state`, a read-write lock: scans, look-ups and catalog questions
//!   share it, every change takes it alone); running transactions, snapshots in use
//!   and the commit sequence under a small lock of their own (`procs`, [`Procs`]).
//!   Whoever needs both takes `state` first. A transaction that changes nothing begins and ends under
//!   `procs` alone; a commit's sequence number is bumped under both, before its
//!   versions are stamped, so a snapshot that sees the number finds them stamped.
//!
//! What this module must never do: parse SQL, format output, or know about sessions.
//!
//! One UPDATE's walk through storage:
//! 1. [`Engine::begin`] assigns an xid; [`Engine::new_snapshot`] takes the statement's
//!    snapshot (the current commit sequence number);
//! 2. [`Engine::scan`] returns the visible versions; the SQL layer picks rows;
//! 3. [`Engine::update`] sets xmax on the old version (waiting for a concurrent writer
//!    to finish first), checks the primary key and unique indexes, adds the new version
//!    (indexing it), and remembers a DELETE and an INSERT record in the transaction;
//! 4. [`Engine::commit`] appends the records and COMMIT to the WAL, flushes, then stamps
//!    the versions with the next commit sequence number: the change becomes visible.

pub mod acl;
pub mod activity;
pub mod archive_status;
pub mod backup;
mod checkpoint;
pub mod checkpointer;
// Sequences, CHECK constraints, views, schemas and comments (ddl.rs).
pub mod control;
pub mod ddl;
pub mod enums;
pub mod heap;
pub mod heaps;
// Backup holds: WAL kept for the standby of a finished base backup (holds.rs).
pub mod holds;
pub mod record;
pub mod recovery;
pub mod restore_point;
pub mod schema;
pub mod standby_locks;
// Cumulative counters: transactions and checkpoints (stats.rs).
pub mod stats;
// Temporary namespaces: never logged, never imaged (temp.rs).
pub mod temp;
pub mod tuple_map;
pub mod wal;

pub use checkpointer::{oldest_segment_to_keep, CheckpointSettings, WalRetention};
pub use checkpointer::{slot_invalidation_cutoff, SlotRetention};
pub use heap::Snapshot;
pub use record::{Record, Replayer, Store};
pub use schema::{
    CatalogChange, CatalogState, ColumnDef, DatabaseInfo, IndexDef, RoleInfo, TableDef,
};
pub use wal::Lsn;

use crate::error::{sqlstate, Error, Result, Severity};
use crate::types::{format_text, now_micros, FormatOptions, Value};
use crate::{bail, err};
use control::{ControlFile, DbState};
use heap::{Heap, Tuple};
use schema::{CatalogUndo, BOOTSTRAP_SUPERUSER, PG_CATALOG_NAMESPACE, PUBLIC_NAMESPACE};
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;
use wal::io::{StdIo, WalIo};
use wal::{SyncMethod, WalOptions, WalReader, WalWriter};

/// How the server opens an existing cluster.
#[derive(Clone)]
pub struct EngineOptions {
    /// Whether to fsync WAL and images (`fsync` setting).
    pub fsync: bool,
    /// The WAL segment size (from pg_control).
    pub wal_segment_size: u64,
    /// How WAL flushes are made durable (`wal_sync_method`).
    pub wal_sync_method: SyncMethod,
    /// The disk I/O layer for WAL segments and checkpoint images (tests inject faults).
    pub io: Arc<dyn WalIo>,
    /// Automatic checkpoint and WAL retention settings; `None` reads them from the
    /// data directory's configuration files at open.
    pub checkpoint: Option<CheckpointSettings>,
    /// Whether [`Engine::open`] starts the background checkpointer thread.
    pub background: bool,
    /// With `background`: whether crash recovery leaves its end-of-recovery checkpoint
    /// to the checkpointer thread instead of writing it before [`Engine::open`]
    /// returns. PostgreSQL waits for it; tusk's rewrites the image of every table the
    /// WAL touched, which can take far longer than the replay, and nothing depends on
    /// it but the length of a later recovery. A base-backup restore always waits (its
    /// backup_label goes only once a checkpoint is written). The server sets it; tools
    /// and tests that drop an engine and open the directory again in one process must
    /// not, or the old engine's checkpoint could still be running.
    pub defer_recovery_checkpoint: bool,
}

impl std::fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineOptions")
            .field("fsync", &self.fsync)
            .field("wal_segment_size", &self.wal_segment_size)
            .field("wal_sync_method", &self.wal_sync_method)
            .finish_non_exhaustive()
    }
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            fsync: true,
            wal_segment_size: 16 * 1024 * 1024,
            wal_sync_method: SyncMethod::default(),
            io: wal::fault::io_from_env(),
            checkpoint: None,
            background: true,
            defer_recovery_checkpoint: false,
        }
    }
}

/// How `tusk init` creates a new cluster's storage.
#[derive(Debug, Clone)]
pub struct BootstrapOptions {
    /// The bootstrap superuser's name.
    pub superuser: String,
    /// The superuser's password in clear text, if one was given.
    pub password: Option<String>,
    /// `password_encryption` (`scram-sha-256` or `md5`).
    pub password_encryption: String,
    /// The WAL segment size.
    pub wal_segment_size: u64,
}

/// A point inside a transaction that [`Engine::rollback_to`] can return to
/// (SAVEPOINT): how much of each of the transaction's lists existed then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Savepoint {
    records: RedoMark,
    /// Runs of inserted versions, and the last tuple id of the last of them then (a
    /// run may grow after the savepoint).
    inserted: usize,
    inserted_last: u64,
    deleted: usize,
    dropped: usize,
    undo: usize,
    created: usize,
}

/// What happened to a row a writer tried to change.
#[derive(Debug, Clone, PartialEq)]
pub enum RowOutcome {
    /// The change was made.
    Done,
    /// The row no longer exists (deleted by this or a committed transaction).
    Gone,
    /// A committed UPDATE replaced the row: its newest version's tuple id and values.
    Moved(u64, Arc<Vec<Value>>),
}

/// A transaction in progress. Owned by one session; passed to every engine call.
#[derive(Debug)]
pub struct Transaction {
    /// The transaction id.
    pub xid: u32,
    /// The database of the session running it (0 when none; `pg_stat_database`).
    pub db: u32,
    /// The current statement's snapshot.
    pub snapshot: Snapshot,
    /// The start time (PostgreSQL timestamp microseconds).
    pub start_time: i64,
    /// Records to append at commit, in order.
    records: RedoLog,
    /// Versions this transaction inserted, as runs of consecutive tuple ids per table
    /// (a COPY of a million rows is one run): committing stamps a run in one ordered
    /// walk of its heap rather than a look-up per version.
    inserted: Vec<InsertRun>,
    /// Versions this transaction deleted.
    deleted: Vec<(u32, u32, u64)>,
    /// Tables this transaction dropped (their heaps go at commit).
    dropped: Vec<(u32, u32)>,
    /// Whether it changed the catalog (its undo entries and created heaps are in the
    /// engine state, to be dropped or undone when it ends).
    changed_catalog: bool,
    /// Set by the session to cancel waits (57014).
    pub cancel: Option<Arc<AtomicBool>>,
    /// The current statement's `statement_timeout` deadline, which ends waits too.
    pub deadline: Option<std::time::Instant>,
    /// `lock_timeout`: the longest one wait for another transaction may last.
    pub lock_timeout: Option<Duration>,
    /// Row locks this transaction holds (released when it ends).
    locked: Vec<(u32, u32, u64)>,
    /// `commit_delay` and `commit_siblings`: before its flush, a committer waits this
    /// long when at least that many other transactions are active, so that more
    /// commits share the flush.
    pub commit_delay: Option<(Duration, usize)>,
}

/// A transaction's redo records, in order, appended to the WAL at commit. Rows it
/// inserted into one table under consecutive tuple ids are held as one entry (a row
/// costs a pointer, not a whole [`Record`]) and logged as INSERT_ROWS records of
/// about [`record::INSERT_ROWS_BYTES`] each.
#[derive(Debug, Default)]
struct RedoLog {
    items: Vec<Redo>,
}

/// One entry of a [`RedoLog`].
#[derive(Debug)]
enum Redo {
    /// A record as it is.
    One(Record),
    /// Rows inserted into table `rel` of database `db` under tuple ids `first`, …
    Rows {
        db: u32,
        rel: u32,
        first: u64,
        rows: Vec<Arc<Vec<Value>>>,
    },
}

/// A position in a [`RedoLog`] (SAVEPOINT): its entries, and the rows of the last
/// one when that holds rows (it may grow after the savepoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RedoMark {
    items: usize,
    rows: usize,
}

impl RedoLog {
    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The inserted rows held.
    fn rows(&self) -> usize {
        self.items
            .iter()
            .map(|i| match i {
                Redo::Rows { rows, .. } => rows.len(),
                Redo::One(_) => 0,
            })
            .sum()
    }

    /// Adds a record; an insert continuing the last entry's rows joins them.
    fn push(&mut self, r: Record) {
        let Record::Insert { db, rel, tid, row } = r else {
            self.items.push(Redo::One(r));
            return;
        };
        if let Some(Redo::Rows {
            db: d,
            rel: t,
            first,
            rows,
        }) = self.items.last_mut()
        {
            if (*d, *t) == (db, rel) && *first + rows.len() as u64 == tid {
                rows.push(row);
                return;
            }
        }
        self.items.push(Redo::Rows {
            db,
            rel,
            first: tid,
            rows: vec![row],
        });
    }

    fn mark(&self) -> RedoMark {
        RedoMark {
            items: self.items.len(),
            rows: match self.items.last() {
                Some(Redo::Rows { rows, .. }) => rows.len(),
                _ => 0,
            },
        }
    }

    /// Forgets everything added after `m`.
    fn truncate(&mut self, m: RedoMark) {
        self.items.truncate(m.items);
        if let Some(Redo::Rows { rows, .. }) = self.items.last_mut() {
            if m.rows > 0 {
                rows.truncate(m.rows);
            }
        }
    }

    /// Encodes the records in order, handing each (rmid, info, payload) to `emit`;
    /// stops at the first error `emit` returns. Rows are cut into INSERT_ROWS records
    /// of about [`record::INSERT_ROWS_BYTES`]; a row alone is an INSERT. A run of at
    /// least [`PARALLEL_ENCODE_ROWS`] rows (a large COPY) is encoded on two threads
    /// ([`emit_rows_in_two`]): its records come out in the same order, cut at the same
    /// pieces' ends.
    fn emit(&self, mut emit: impl FnMut(u8, u8, &[u8]) -> Result<()>) -> Result<()> {
        // Room for a typical row's record from the start (growing it from empty cost
        // a few reallocations per commit).
        let mut buf = Vec::with_capacity(512);
        let mut piece = EncodedRows::default();
        for item in &self.items {
            match item {
                Redo::One(r) => {
                    buf.clear();
                    r.encode_into(&mut buf);
                    let (rmid, info) = r.rmid_info();
                    emit(rmid, info, &buf)?;
                }
                Redo::Rows {
                    db,
                    rel,
                    first,
                    rows,
                } if rows.len() >= PARALLEL_ENCODE_ROWS => {
                    emit_rows_in_two((*db, *rel), *first, rows, &mut emit)?;
                }
                Redo::Rows {
                    db,
                    rel,
                    first,
                    rows,
                } => emit_rows_here(&mut piece, (*db, *rel), *first, rows, &mut emit)?,
            }
        }
        Ok(())
    }
}

/// Runs of at least this many inserted rows are encoded on two threads at commit.
const PARALLEL_ENCODE_ROWS: usize = 100_000;

/// Rows a run is encoded in at a time: its records end at these pieces' ends too.
const ENCODE_PIECE_ROWS: usize = 4096;

/// Some consecutive rows of a run encoded as records: the bytes, and each record's
/// resource manager, info and place in them.
#[derive(Default)]
struct EncodedRows {
    buf: Vec<u8>,
    records: Vec<(u8, u8, std::ops::Range<usize>)>,
}

impl EncodedRows {
    /// Encodes `rows` (inserted into `rel` of `db` under tuple ids from `first` on) in
    /// place of what it held: INSERT_ROWS records of about
    /// [`record::INSERT_ROWS_BYTES`], a last row alone an INSERT.
    fn encode(&mut self, (db, rel): (u32, u32), first: u64, rows: &[Arc<Vec<Value>>]) {
        self.buf.clear();
        self.records.clear();
        let mut done = 0;
        while done < rows.len() {
            let at = self.buf.len();
            let tid = first + done as u64;
            if done + 1 == rows.len() {
                let r = Record::Insert {
                    db,
                    rel,
                    tid,
                    row: rows[done].clone(),
                };
                r.encode_into(&mut self.buf);
                let (rmid, info) = r.rmid_info();
                self.records.push((rmid, info, at..self.buf.len()));
                break;
            }
            let mut w = record::InsertRowsWriter::start(&mut self.buf, db, rel, tid);
            while done < rows.len() && w.len() - at < record::INSERT_ROWS_BYTES {
                w.push(&rows[done]);
                done += 1;
            }
            w.finish();
            self.records.push((
                record::RM_TUSK_HEAP,
                record::INSERT_ROWS_INFO,
                at..self.buf.len(),
            ));
        }
    }

    /// Hands the records, in order, to `emit`.
    fn emit(&self, emit: &mut impl FnMut(u8, u8, &[u8]) -> Result<()>) -> Result<()> {
        for (rmid, info, range) in &self.records {
            emit(*rmid, *info, &self.buf[range.clone()])?;
        }
        Ok(())
    }
}

/// A run's records encoded on this thread, a piece of [`ENCODE_PIECE_ROWS`] rows at a
/// time (in `piece`, reused).
fn emit_rows_here(
    piece: &mut EncodedRows,
    table: (u32, u32),
    first: u64,
    rows: &[Arc<Vec<Value>>],
    emit: &mut impl FnMut(u8, u8, &[u8]) -> Result<()>,
) -> Result<()> {
    for (k, part) in rows.chunks(ENCODE_PIECE_ROWS).enumerate() {
        piece.encode(table, first + (k * ENCODE_PIECE_ROWS) as u64, part);
        piece.emit(emit)?;
    }
    Ok(())
}

/// A large run's records, encoded on two threads: the run is cut into pieces of
/// [`ENCODE_PIECE_ROWS`] rows; a helper thread encodes the even pieces and hands them
/// over in order (at most two ahead: a few megabytes held), while this thread encodes
/// the odd ones and emits every piece in turn. Encoding is most of a large commit's
/// work, and its rows are read from all over memory: two cores read them at once.
fn emit_rows_in_two(
    table: (u32, u32),
    first: u64,
    rows: &[Arc<Vec<Value>>],
    emit: &mut impl FnMut(u8, u8, &[u8]) -> Result<()>,
) -> Result<()> {
    let pieces: Vec<&[Arc<Vec<Value>>]> = rows.chunks(ENCODE_PIECE_ROWS).collect();
    let tid_of = |k: usize| first + (k * ENCODE_PIECE_ROWS) as u64;
    std::thread::scope(|scope| {
        let (to, from) = std::sync::mpsc::sync_channel::<EncodedRows>(2);
        let (back, spare) = std::sync::mpsc::channel::<EncodedRows>();
        let pieces = &pieces;
        let helper = std::thread::Builder::new()
            .name("tusk commit encode".into())
            .spawn_scoped(scope, move || {
                for k in (0..pieces.len()).step_by(2) {
                    let mut e = spare.try_recv().unwrap_or_default();
                    e.encode(table, tid_of(k), pieces[k]);
                    if to.send(e).is_err() {
                        // This thread stopped (an error emitting): so does the helper.
                        return;
                    }
                }
            });
        let result = (|| -> Result<()> {
            let Ok(_) = &helper else {
                // No second thread to be had: encoded here, piece by piece.
                return emit_rows_here(&mut EncodedRows::default(), table, first, rows, emit);
            };
            let mut own = EncodedRows::default();
            for (k, piece) in pieces.iter().enumerate() {
                if k % 2 == 0 {
                    let e = from
                        .recv()
                        .map_err(|_| Error::internal("the commit's encoding thread ended early"))?;
                    e.emit(emit)?;
                    let _ = back.send(e);
                } else {
                    own.encode(table, tid_of(k), piece);
                    own.emit(emit)?;
                }
            }
            Ok(())
        })();
        // The helper ends once its sends fail (when this thread stopped early).
        drop(from);
        result
    })
}

/// Consecutive tuple ids `first..=last` a transaction inserted into one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InsertRun {
    db: u32,
    rel: u32,
    first: u64,
    last: u64,
}

impl Transaction {
    /// Remembers an inserted version, extending the last run when it continues it.
    fn note_insert(&mut self, db: u32, rel: u32, tid: u64) {
        if let Some(r) = self.inserted.last_mut() {
            if r.db == db && r.rel == rel && r.last.checked_add(1) == Some(tid) {
                r.last = tid;
                return;
            }
        }
        self.inserted.push(InsertRun {
            db,
            rel,
            first: tid,
            last: tid,
        });
    }

    /// Whether the transaction has written anything.
    pub fn has_writes(&self) -> bool {
        !self.records.is_empty()
    }
}

/// Shared mutable state, protected by `Engine::state`.
struct State {
    store: Store,
    /// Catalog undo entries of transactions in progress (by xid), in apply order.
    pending_undo: rustc_hash::FxHashMap<u32, Vec<CatalogUndo>>,
    /// Tables created by transactions in progress (their heaps go on abort).
    pending_created: rustc_hash::FxHashMap<u32, Vec<(u32, u32)>>,
    /// Who waits for whom: a waiting transaction's xid → the xid it waits for. A wait
    /// that would close a cycle is a deadlock (40P01).
    waits_for: HashMap<u32, u32>,
    /// Row locks taken by SELECT … FOR UPDATE / FOR SHARE: (db, rel, tid) → holders
    /// (xid, exclusive). Held until the holder's transaction ends.
    row_locks: HashMap<(u32, u32, u64), Vec<(u32, bool)>>,
    /// Deleted versions kept because an older snapshot was in use (autovacuum's gauge).
    dead_versions: usize,
    /// The table whose rows an online checkpoint is copying a piece per lock hold
    /// (`write_images`): a transaction dropping it waits until the copy is done
    /// (`finish`), so the copy never loses its heap half-way.
    imaging: Option<(u32, u32)>,
}

/// Transactions in progress and snapshots in use (PostgreSQL's proc array), under a
/// lock of their own (`Engine::procs`): beginning a transaction, taking a statement's
/// snapshot and ending a transaction that changed nothing touch only this, never the
/// engine lock the heaps are under, so a read-only transaction takes that lock once
/// (its look-up) instead of three times. Lock order: `state` before `procs`, never the
/// other way; every hold is a few map operations.
#[derive(Default)]
struct Procs {
    /// Xids of transactions in progress.
    running: rustc_hash::FxHashSet<u32>,
    next_xid: u32,
    /// The last commit sequence number handed out. Bumped only under the engine lock
    /// too, before the commit's versions are stamped with it: a snapshot that sees the
    /// new number reads the heaps only once the stamping is done (under that lock).
    commit_seq: u64,
    /// Snapshot sequence numbers in use, with counts (for pruning dead versions).
    snapshots: BTreeMap<u64, usize>,
}

impl Procs {
    /// Registers a snapshot at the last commit and returns its sequence number.
    fn take_snapshot(&mut self) -> u64 {
        let seq = self.commit_seq;
        *self.snapshots.entry(seq).or_default() += 1;
        seq
    }

    /// Lets go of a snapshot taken with [`Procs::take_snapshot`].
    fn release_snapshot(&mut self, seq: u64) {
        if let Some(n) = self.snapshots.get_mut(&seq) {
            *n -= 1;
            if *n == 0 {
                self.snapshots.remove(&seq);
            }
        }
    }

    /// The oldest snapshot in use (`u64::MAX` when none): a version deleted by a commit
    /// at or before it is needed by nobody.
    fn oldest_snapshot(&self) -> u64 {
        self.snapshots.keys().next().copied().unwrap_or(u64::MAX)
    }
}

/// Transaction ends (and finished image copies), counted and signalled to those
/// waiting for one (`Engine::wait_for`, `Engine::finish`). A waiter reads the count
/// while it still holds the engine lock, lets the lock go, then sleeps until the count
/// moves: an end that comes in between moved it already, so none is missed (the engine
/// lock is a read-write lock, which a condition variable cannot wait on).
#[derive(Default)]
struct Ends {
    count: Mutex<u64>,
    cond: Condvar,
}

impl Ends {
    fn lock(&self) -> MutexGuard<'_, u64> {
        self.count.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The count now (read under the engine lock, before letting it go).
    fn seen(&self) -> u64 {
        *self.lock()
    }

    /// Counts an end and wakes every waiter.
    fn signal(&self) {
        *self.lock() += 1;
        self.cond.notify_all();
    }

    /// Sleeps until the count is past `seen`, or `timeout` has gone by.
    fn wait_past(&self, seen: u64, timeout: Option<Duration>) {
        let guard = self.lock();
        match timeout {
            Some(t) => drop(
                self.cond
                    .wait_timeout_while(guard, t, |c| *c == seen)
                    .unwrap_or_else(|p| p.into_inner()),
            ),
            None => drop(
                self.cond
                    .wait_while(guard, |c| *c == seen)
                    .unwrap_or_else(|p| p.into_inner()),
            ),
        }
    }
}

/// The storage engine, shared by all sessions as `Arc<Engine>`.
pub struct Engine {
    datadir: PathBuf,
    opts: EngineOptions,
    wal: WalWriter,
    system_id: u64,
    /// The timeline WAL is written on (changes once, when a standby is promoted).
    timeline: AtomicU32,
    /// Catalog, heaps and transaction bookkeeping: read-only work (a scan, a look-up, a
    /// catalog question) shares it, everything else takes it alone. `ends` signals
    /// transaction ends to those waiting for one.
    state: RwLock<State>,
    /// Running transactions and snapshots in use (see [`Procs`]).
    procs: Mutex<Procs>,
    /// How many heaps may still wait for their checkpoint images after the start
    /// (`storage::heaps`): while not 0, [`Engine::await_heap`] waits for a table's
    /// image before the engine lock is taken.
    images_waiting: Arc<AtomicUsize>,
    ends: Ends,
    /// Serializes WAL appends of commits so WAL order is commit order.
    commit_lock: Mutex<()>,
    /// Serializes checkpoints (manual, timed, shutdown).
    checkpoint_mutex: Mutex<()>,
    /// Transactions whose records are in the WAL but whose commit is not yet visible
    /// (xid → LSN of their first record): an online checkpoint's redo point may not be
    /// later than any of them.
    in_flight: Mutex<HashMap<u32, Lsn>>,
    /// Automatic checkpoint settings.
    settings: Mutex<CheckpointSettings>,
    /// When the last checkpoint started.
    last_checkpoint_start: Mutex<std::time::Instant>,
    /// The end of the last checkpoint record (0 until one is written by this process):
    /// a timed checkpoint is skipped while the WAL has not grown past it, as PostgreSQL
    /// skips checkpoints on an idle system.
    last_checkpoint_end: AtomicU64,
    /// Recent distance between checkpoints' redo points in bytes (PostgreSQL's
    /// `CheckPointDistanceEstimate`): how many old segments to recycle.
    checkpoint_distance: AtomicU64,
    /// Per table, the heap generation its image on disk was written from (or loaded
    /// from, at start-up) and the image's stamp (see `write_images`): a table whose
    /// heap still has that generation is not rewritten.
    image_generations: Mutex<ImageGenerations>,
    /// Bumped by every catalog change and rollback of one: plans cached by sessions
    /// are valid only for the version they were made at.
    catalog_version: AtomicU64,
    /// Set by the shutdown checkpoint: the engine refuses further writes.
    shut_down: AtomicBool,
    /// Crash recovery left its checkpoint to the checkpointer thread, which has not
    /// started it yet (see [`EngineOptions::defer_recovery_checkpoint`]).
    recovery_checkpoint_pending: AtomicBool,
    /// Set after a WAL failure: the engine refuses further writes.
    broken: AtomicBool,
    /// Called once when the engine breaks (see [`Engine::on_panic`]).
    panic_hook: Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
    /// The last checkpoint's (checkpoint, redo) LSNs and time, for pg_control updates.
    control: Mutex<ControlFile>,
    /// Standby replay state (see `recovery.rs`); inactive on a primary.
    recovery: recovery::RecoveryState,
    /// Base backups in progress: the WAL they need is kept (see `backup.rs`).
    backups: backup::BackupFloors,
    /// Backup holds: WAL kept for the standbys of finished base backups (see `holds.rs`).
    holds: holds::BackupHolds,
    /// Replication slots' say in WAL retention (see [`Engine::set_slot_retention`]).
    slot_retention: Mutex<Option<Arc<dyn SlotRetention>>>,
    /// WAL archiving's status files, wake-ups and counters (see `archive_status.rs`).
    archive: Arc<archive_status::ArchiveStatus>,
    /// The live sessions and what they do (see `activity.rs`).
    activity: Arc<activity::Activity>,
    /// Transactions and checkpoints counted (see `stats.rs`); lock-free.
    counters: stats::Counters,
    /// Relation locks of standby transactions and replay's conflicts with them (see
    /// `standby_locks.rs`).
    standby_locks: standby_locks::StandbyLocks,
    /// When replay last found newly received WAL (see `standby_locks.rs`).
    receipt_clock: standby_locks::ReceiptClock,
}

fn panic_error(e: Error) -> Error {
    let mut e = e;
    e.severity = Severity::Panic;
    e
}

impl Engine {
    /// Creates a new cluster's storage in an existing datadir (like initdb's bootstrap):
    /// pg_wal/ with the first segment, global/pg_control, the initial catalog (databases
    /// postgres (oid 5), template1 (1), template0 (4, datallowconn false); the bootstrap
    /// superuser (oid 10) with all attributes; schemas pg_catalog (11), public (2200)),
    /// and a first checkpoint.
    pub fn bootstrap(datadir: &Path, opts: &BootstrapOptions) -> Result<()> {
        for d in ["global", "pg_wal", "base/1", "base/4", "base/5"] {
            checkpoint::create_private_dir(&datadir.join(d))?;
        }
        let system_id = ControlFile::new_system_identifier();
        let mut wal_opts = WalOptions::new(datadir.join("pg_wal"), system_id);
        wal_opts.segment_size = opts.wal_segment_size;
        let wal = WalWriter::create(wal_opts)?;
        let mut catalog = CatalogState {
            next_oid: schema::FIRST_NORMAL_OID,
            ..Default::default()
        };
        let password = opts
            .password
            .as_ref()
            .map(|p| crate::auth::encrypt_password(&opts.password_encryption, &opts.superuser, p));
        catalog.apply(&CatalogChange::SetRole(RoleInfo {
            oid: BOOTSTRAP_SUPERUSER,
            name: opts.superuser.clone(),
            superuser: true,
            inherit: true,
            createrole: true,
            createdb: true,
            login: true,
            replication: true,
            bypassrls: true,
            conn_limit: -1,
            password,
            valid_until: None,
        }));
        for (oid, name, allow, template) in [
            (1, "template1", true, true),
            (4, "template0", false, true),
            (5, "postgres", true, false),
        ] {
            catalog.apply(&CatalogChange::SetDatabase(DatabaseInfo {
                oid,
                name: name.into(),
                owner: BOOTSTRAP_SUPERUSER,
                allow_connections: allow,
                is_template: template,
                conn_limit: -1,
            }));
        }
        // initdb revokes CREATE and TEMPORARY on the templates from PUBLIC, so their
        // ACL is `{=c/owner,owner=CTc/owner}`.
        for oid in [1, 4] {
            let item = |grantee, privs| acl::AclItem {
                grantee,
                grantor: BOOTSTRAP_SUPERUSER,
                privs,
                grant_opts: 0,
            };
            catalog.apply(&CatalogChange::Acl(acl::AclChange::Set {
                object: acl::AclObject::Database(oid),
                acl: Some(vec![
                    item(0, acl::ACL_CONNECT),
                    item(BOOTSTRAP_SUPERUSER, acl::ACL_ALL_DATABASE),
                ]),
            }));
        }
        catalog.schemas.insert(
            PG_CATALOG_NAMESPACE,
            ("pg_catalog".into(), BOOTSTRAP_SUPERUSER),
        );
        catalog
            .schemas
            // PostgreSQL 15: `public` belongs to pg_database_owner (see storage::acl).
            .insert(PUBLIC_NAMESPACE, ("public".into(), acl::PG_DATABASE_OWNER));
        catalog.next_oid = schema::FIRST_NORMAL_OID;
        let mut control = ControlFile::new(system_id, opts.wal_segment_size as u32);
        control.state = DbState::Shutdowned;
        control.timeline = 1;
        control.next_xid = 735;
        control.next_oid = catalog.next_oid;
        let engine = Engine {
            images_waiting: Arc::default(),
            datadir: datadir.to_path_buf(),
            opts: EngineOptions {
                fsync: true,
                wal_segment_size: opts.wal_segment_size,
                wal_sync_method: SyncMethod::default(),
                io: Arc::new(StdIo),
                checkpoint: Some(CheckpointSettings::default()),
                background: false,
                defer_recovery_checkpoint: false,
            },
            wal,
            system_id,
            timeline: AtomicU32::new(1),
            state: RwLock::new(State {
                store: Store {
                    catalog,
                    heaps: Default::default(),
                },
                pending_undo: Default::default(),
                pending_created: Default::default(),
                waits_for: HashMap::new(),
                row_locks: HashMap::new(),
                dead_versions: 0,
                imaging: None,
            }),
            procs: Mutex::new(Procs {
                next_xid: 735,
                commit_seq: 1,
                ..Procs::default()
            }),
            ends: Ends::default(),
            commit_lock: Mutex::new(()),
            checkpoint_mutex: Mutex::new(()),
            in_flight: Mutex::new(HashMap::new()),
            settings: Mutex::new(CheckpointSettings::default()),
            last_checkpoint_start: Mutex::new(std::time::Instant::now()),
            last_checkpoint_end: AtomicU64::new(0),
            checkpoint_distance: AtomicU64::new(0),
            image_generations: Mutex::new(HashMap::new()),
            broken: AtomicBool::new(false),
            panic_hook: Mutex::new(None),
            shut_down: AtomicBool::new(false),
            recovery_checkpoint_pending: AtomicBool::new(false),
            catalog_version: AtomicU64::new(1),
            control: Mutex::new(control),
            recovery: recovery::RecoveryState::default(),
            backups: backup::BackupFloors::default(),
            holds: holds::BackupHolds::empty(datadir, true),
            slot_retention: Mutex::new(None),
            // Bootstrap never archives: its first segment is not complete.
            archive: Arc::new(archive_status::ArchiveStatus::new(
                &datadir.join("pg_wal"),
                archive_status::ArchiveMode::Off,
            )),
            activity: Arc::default(),
            counters: stats::Counters::default(),
            standby_locks: standby_locks::StandbyLocks::default(),
            receipt_clock: standby_locks::ReceiptClock::default(),
        };
        engine.checkpoint_inner(true, None, false).map(drop)
    }

    /// Opens the cluster: reads pg_control, loads the last checkpoint's images, replays
    /// the WAL to its end, cuts the torn tail, and returns the engine ready for writes.
    pub fn open(datadir: &Path, opts: &EngineOptions) -> Result<Arc<Engine>> {
        let mut control = ControlFile::read(datadir)?;
        // Base backup restore (backup.rs): a backup_label names where redo starts.
        let backup_label = backup::BackupLabel::read(datadir)?;
        if let Some(l) = &backup_label {
            tracing::info!(
                "starting backup recovery with redo LSN {}, checkpoint LSN {}, on timeline ID {}",
                l.redo,
                l.checkpoint,
                l.timeline
            );
            control.redo = l.redo;
            control.checkpoint = l.checkpoint;
        }
        let clean = control.state == DbState::Shutdowned && backup_label.is_none();
        let known_up = format_unix_time(control.time);
        if clean {
            tracing::info!("database system was shut down at {known_up}");
        } else {
            tracing::info!("database system was interrupted; last known up at {known_up}");
            tracing::info!(
                "database system was not properly shut down; automatic recovery in progress"
            );
        }
        let (mut store, loaded_images) = load_store_with_images(datadir, control.redo)?;

        // Replay.
        let seg = if control.wal_segment_size > 0 {
            control.wal_segment_size as u64
        } else {
            opts.wal_segment_size
        };
        let mut reader =
            WalReader::new(&datadir.join("pg_wal"), seg, control.timeline, control.redo);
        let mut redo = Replayer::new(control.next_xid as u32);
        let mut last_record = control.checkpoint;
        let mut first = true;
        let mut redo_started = false;
        while let Some(rec) = reader.next_record()? {
            let is_checkpoint_record = first && rec.start == control.checkpoint;
            first = false;
            if !is_checkpoint_record && !redo_started {
                tracing::info!("redo starts at {}", rec.start);
                redo_started = true;
            }
            last_record = rec.start;
            redo.apply(rec.rmid, rec.info, rec.xid, &rec.payload, &mut store)?;
        }
        let end = reader.end_of_valid();
        if let Some(reason) = reader.stop_reason() {
            // PostgreSQL logs why replay stopped before `redo done`.
            tracing::info!("{reason}");
        }
        // Base backup restore (backup.rs): not live before the backup's end is replayed.
        if let Some(l) = &backup_label {
            if end <= l.checkpoint {
                return Err(Error::fatal(
                    sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    format!("could not locate required checkpoint record at {}", l.checkpoint),
                )
                .with_hint("If you are restoring from a backup, make sure the WAL the backup needs is in pg_wal."));
            }
            let backup_end = if control.backup_end.is_valid() {
                control.backup_end
            } else {
                end
            };
            if end < backup_end {
                return Err(backup::wal_ends_before_backup_end());
            }
            tracing::info!(
                "completed backup recovery with redo LSN {} and end LSN {backup_end}",
                l.redo
            );
            tracing::info!("consistent recovery state reached at {backup_end}");
            control.backup_start = Lsn::INVALID;
            control.backup_end = Lsn::INVALID;
            control.backup_end_required = false;
        }
        if redo_started {
            tracing::info!(
                "redo done at {last_record} ({} transactions replayed)",
                redo.replayed
            );
        } else if !clean {
            tracing::info!("redo is not required");
        }
        if redo.in_progress() > 0 {
            tracing::info!(
                "{} transaction(s) without a commit record were rolled back",
                redo.in_progress()
            );
        }
        let wal = WalWriter::open_with_io(
            WalOptions {
                dir: datadir.join("pg_wal"),
                segment_size: seg,
                system_id: control.system_identifier,
                timeline: control.timeline,
                fsync: opts.fsync,
                sync_method: opts.wal_sync_method,
            },
            end,
            last_record,
            opts.io.clone(),
        )?;
        control.state = DbState::InProduction;
        control.time = chrono::Utc::now().timestamp();
        control.write(datadir, opts.fsync)?;
        let next_xid = redo.next_xid.max(3);
        // Replay left its changes to tables still waiting for their images with their
        // loads; the loaders decode them (and apply those) from now on.
        store.heaps.start_loading(image_loader_threads());
        let engine = Engine::assemble(datadir, opts, seg, wal, control, store, next_xid);
        // The images just loaded are written as far as the next checkpoint is concerned:
        // a heap replay left untouched is not rewritten (write_images).
        *engine
            .image_generations
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = loaded_images;
        let deferred = redo_started
            && backup_label.is_none()
            && opts.background
            && opts.defer_recovery_checkpoint;
        if (redo_started && !deferred) || backup_label.is_some() {
            // End-of-recovery checkpoint, as PostgreSQL does after crash recovery.
            engine.checkpoint_inner(false, Some("end-of-recovery immediate wait"), false)?;
        }
        engine
            .recovery_checkpoint_pending
            .store(deferred, Ordering::SeqCst);
        if backup_label.is_some() {
            backup::BackupLabel::retire(datadir)?;
        }
        let engine = Arc::new(engine);
        if opts.background {
            checkpointer::spawn(&engine);
        }
        Ok(engine)
    }

    /// The engine state, alone (every change to it).
    fn lock(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The engine state, shared with other readers (what only reads it).
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The running transactions and snapshots in use (see [`Procs`]); taken after the
    /// engine lock when both are needed, never before it.
    fn procs(&self) -> MutexGuard<'_, Procs> {
        self.procs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits, with the engine lock released, until a table whose checkpoint image is
    /// still being decoded after the start is in memory (`storage::heaps`), decoding it
    /// in this thread if no loader has started it — so that the session (or
    /// checkpoint) about to use it does not hold every other one up while it waits.
    /// One atomic load once every image is decoded.
    fn await_heap(&self, db: u32, rel: u32) {
        if self.images_waiting.load(Ordering::Relaxed) == 0 {
            return;
        }
        let load = {
            let mut st = self.lock();
            // Once every image is decoded, the heaps go in their slots and this lock is
            // no longer taken here (the count falls to 0).
            st.store.heaps.settle();
            st.store.heaps.pending(&(db, rel))
        };
        if let Some(load) = load {
            load.wait();
        }
    }

    /// The engine around an opened WAL writer, pg_control and the loaded store: what
    /// [`Engine::open`] and `Engine::open_standby` (recovery.rs) share once recovery has
    /// decided where things stand. `seg` is pg_control's segment size (not the caller's).
    fn assemble(
        datadir: &Path,
        opts: &EngineOptions,
        seg: u64,
        wal: WalWriter,
        control: ControlFile,
        store: Store,
        next_xid: u32,
    ) -> Engine {
        let settings = opts
            .checkpoint
            .unwrap_or_else(|| CheckpointSettings::load(datadir));
        // WAL archiving: the writer tells of each completed segment; archive_status.rs
        // marks it `.ready` when archiving is on and wakes the archiver.
        let archive = Arc::new(archive_status::ArchiveStatus::new(
            &datadir.join("pg_wal"),
            settings.archive_mode,
        ));
        let notified = archive.clone();
        wal.on_segment_complete(Box::new(move |tli, segno| {
            notified.segment_completed(&wal::segment::segment_file_name(tli, segno, seg));
        }));
        let images_waiting = store.heaps.waiting();
        Engine {
            images_waiting,
            datadir: datadir.to_path_buf(),
            opts: EngineOptions {
                wal_segment_size: seg,
                ..opts.clone()
            },
            wal,
            system_id: control.system_identifier,
            timeline: AtomicU32::new(control.timeline),
            state: RwLock::new(State {
                store,
                pending_undo: Default::default(),
                pending_created: Default::default(),
                waits_for: HashMap::new(),
                row_locks: HashMap::new(),
                dead_versions: 0,
                imaging: None,
            }),
            procs: Mutex::new(Procs {
                next_xid,
                commit_seq: 1,
                ..Procs::default()
            }),
            ends: Ends::default(),
            commit_lock: Mutex::new(()),
            checkpoint_mutex: Mutex::new(()),
            in_flight: Mutex::new(HashMap::new()),
            settings: Mutex::new(settings),
            last_checkpoint_start: Mutex::new(std::time::Instant::now()),
            last_checkpoint_end: AtomicU64::new(0),
            checkpoint_distance: AtomicU64::new(0),
            image_generations: Mutex::new(HashMap::new()),
            broken: AtomicBool::new(false),
            panic_hook: Mutex::new(None),
            shut_down: AtomicBool::new(false),
            recovery_checkpoint_pending: AtomicBool::new(false),
            catalog_version: AtomicU64::new(1),
            control: Mutex::new(control),
            recovery: recovery::RecoveryState::default(),
            backups: backup::BackupFloors::default(),
            // Backup holds (holds.rs): this cluster's own (a standby never inherits
            // its primary's: the file is left out of base backups).
            holds: holds::BackupHolds::load(datadir, opts.fsync),
            slot_retention: Mutex::new(None),
            archive,
            activity: Arc::default(),
            counters: stats::Counters::default(),
            standby_locks: standby_locks::StandbyLocks::default(),
            receipt_clock: standby_locks::ReceiptClock::default(),
        }
    }

    /// The data directory.
    pub fn datadir(&self) -> &Path {
        &self.datadir
    }

    /// Writes a checkpoint (the SQL `CHECKPOINT` command): images of committed state as
    /// of one snapshot, a checkpoint record, pg_control, then old WAL segments go.
    /// Commits go on while it runs.
    pub fn checkpoint(&self) -> Result<()> {
        self.checkpoint_with_reason("immediate force wait")
    }

    /// Writes an online checkpoint, logging `checkpoint starting: <reason>` (PostgreSQL's
    /// flags: `time`, `wal`, `immediate force wait`…) when `log_checkpoints` is on.
    pub fn checkpoint_with_reason(&self, reason: &str) -> Result<()> {
        self.counters.count_checkpoint(reason);
        self.checkpoint_inner(false, Some(reason), false).map(drop)
    }

    /// The shutdown checkpoint (state = shut down in pg_control).
    pub fn shutdown(&self) -> Result<()> {
        self.checkpoint_inner(true, Some("shutdown immediate"), false)?;
        // Nothing may be written after the shutdown checkpoint.
        self.shut_down.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Whether crash recovery left its checkpoint to the checkpointer thread and no
    /// checkpoint has completed since.
    pub(crate) fn recovery_checkpoint_pending(&self) -> bool {
        self.recovery_checkpoint_pending.load(Ordering::SeqCst)
    }

    /// Runs the checkpoint crash recovery left to the checkpointer thread (reason
    /// `end-of-recovery`), unless one completed since recovery — a `CHECKPOINT` that
    /// got there first already did its work, and a second one behind it would rewrite
    /// the images again later than anyone asked. True when it ran.
    pub(crate) fn end_of_recovery_checkpoint(&self) -> Result<bool> {
        if !self.recovery_checkpoint_pending() {
            return Ok(false);
        }
        let ran = self.checkpoint_inner(false, Some("end-of-recovery"), true)?;
        if ran {
            self.counters.count_checkpoint("end-of-recovery");
        }
        Ok(ran)
    }

    /// The last checkpoint's location and redo location (from pg_control).
    pub fn last_checkpoint(&self) -> (Lsn, Lsn) {
        let c = self.control.lock().unwrap_or_else(|p| p.into_inner());
        (c.checkpoint, c.redo)
    }

    /// A copy of pg_control as of the last checkpoint (for `pg_control_checkpoint()`
    /// and `pg_control_system()`).
    pub fn control_file(&self) -> ControlFile {
        self.control
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The automatic checkpoint settings in force.
    pub fn settings(&self) -> CheckpointSettings {
        *self.settings.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the automatic checkpoint settings (at start-up and on reload).
    pub fn set_checkpoint_settings(&self, s: CheckpointSettings) {
        *self.settings.lock().unwrap_or_else(|p| p.into_inner()) = s;
    }

    /// Dead row versions (deleted by a committed transaction but kept for an older
    /// snapshot) in all tables, as counted when their deletes committed (the automatic
    /// reclamation asks this every tick: it must not scan the tables under the lock).
    pub fn dead_versions(&self) -> usize {
        self.read().dead_versions
    }

    /// Dead row versions of one table.
    pub fn table_dead_versions(&self, db: u32, rel: u32) -> usize {
        self.await_heap(db, rel);
        self.lock()
            .store
            .heaps
            .get(&(db, rel))
            .map_or(0, |h| h.dead_versions())
    }

    /// VACUUM: removes the versions of a table (all tables of `db` when `rel` is None)
    /// whose delete committed before every snapshot still in use. Returns how many
    /// versions went. Nothing is logged: the versions are invisible to everyone and
    /// absent from images already.
    pub fn vacuum(&self, db: u32, rel: Option<u32>) -> usize {
        let mut st = self.lock();
        let oldest = self.procs().oldest_snapshot();
        let mut removed = 0;
        for ((d, r), h) in st.store.heaps.loaded_mut() {
            if *d == db && rel.is_none_or(|x| x == *r) {
                removed += h.vacuum(oldest);
            }
        }
        st.dead_versions = st.dead_versions.saturating_sub(removed);
        removed
    }

    /// VACUUM of every table of every database (the automatic reclamation): visits only
    /// the versions whose deletes committed since they were last looked at, so its cost
    /// follows the dead versions, not the size of the tables.
    pub fn vacuum_all(&self) -> usize {
        // Under TPC-B-like load thousands of versions pile up between two ticks; removing
        // them all in one hold of the engine lock stalled every session for milliseconds
        // (the tail of commit latency). A slice at a time, each candidate once per pass.
        const SLICE: usize = 256;
        let pending: Vec<((u32, u32), usize)> = {
            let st = self.read();
            st.store
                .heaps
                .loaded()
                .map(|(k, h)| (*k, h.dead_candidates()))
                .filter(|(_, n)| *n > 0)
                .collect()
        };
        let mut removed = 0;
        for (key, mut left) in pending {
            while left > 0 {
                let n = left.min(SLICE);
                let mut st = self.lock();
                let oldest = self.procs().oldest_snapshot();
                let Some(h) = st.store.heaps.get_mut(&key) else {
                    break;
                };
                removed += h.vacuum_dead_first(oldest, n);
                left -= n;
            }
        }
        let mut st = self.lock();
        st.dead_versions = st
            .store
            .heaps
            .loaded()
            .map(|(_, h)| h.dead_candidates())
            .sum();
        removed
    }

    /// The checkpoint proper. Online: commits go on while the images are written.
    ///
    /// Why replay from the redo LSN is correct: under `commit_lock` and the state lock
    /// we take one snapshot (commit sequence `seq`) and the redo LSN = the oldest first
    /// record of a commit that is in the WAL but not yet visible (or the insert position
    /// if there is none). Every commit in the snapshot is in the images; every commit
    /// not in it appended its records at or after the redo LSN, so replay brings it
    /// back. Commits in the snapshot whose records also lie after the redo LSN are
    /// replayed a second time: redo is idempotent (inserts and deletes address unique
    /// tuple ids, a repeated insert replaces the tuple, a repeated delete of a missing
    /// tuple does nothing, catalog changes set state), and replay in WAL order ends in
    /// the same state.
    ///
    /// `only_if_recovery_pending`: checked under the checkpoint mutex, the checkpoint is
    /// skipped (false) when one completed since crash recovery deferred its own.
    fn checkpoint_inner(
        &self,
        shutdown: bool,
        reason: Option<&str>,
        only_if_recovery_pending: bool,
    ) -> Result<bool> {
        if self.in_recovery() {
            // A standby writes no WAL: its checkpoints are restartpoints.
            return self
                .restartpoint(shutdown, reason.unwrap_or("immediate force wait"))
                .map(|()| true);
        }
        self.check_broken()?;
        let _one = self
            .checkpoint_mutex
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // Again under the mutex: a checkpoint that waited for the shutdown checkpoint
        // must not follow it.
        self.check_broken()?;
        if only_if_recovery_pending && !self.recovery_checkpoint_pending() {
            return Ok(false);
        }
        let log = reason.is_some() && self.settings().log_checkpoints;
        if let Some(r) = reason.filter(|_| log) {
            tracing::info!("checkpoint starting: {r}");
        }
        let started = std::time::Instant::now();
        *self
            .last_checkpoint_start
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = started;
        // A shutdown checkpoint keeps writers out for its whole run.
        let shutdown_guard =
            shutdown.then(|| self.commit_lock.lock().unwrap_or_else(|p| p.into_inner()));
        // 1. One snapshot and its redo LSN.
        let (catalog, seq, next_xid, redo) = {
            let order =
                (!shutdown).then(|| self.commit_lock.lock().unwrap_or_else(|p| p.into_inner()));
            let st = self.read();
            let mut catalog = st.store.catalog.clone();
            for undos in st.pending_undo.values() {
                for u in undos.iter().rev() {
                    catalog.undo(u.clone());
                }
            }
            // Temporary objects never reach an image (temp.rs).
            catalog.strip_temp();
            let mut procs = self.procs();
            let seq = procs.take_snapshot();
            let next_xid = procs.next_xid;
            drop(procs);
            let redo = self
                .in_flight_lock()
                .values()
                .copied()
                .min()
                .unwrap_or_else(|| self.wal.insert_lsn());
            drop(st);
            drop(order);
            (catalog, seq, next_xid, redo)
        };
        // WAL before data: every commit the snapshot sees (visible commits appended
        // their records first, even asynchronous ones) must be durable in the WAL before
        // any image holding it is written.
        let upto = self.wal.insert_lsn();
        if let Err(e) = self.wal.flush(upto) {
            self.procs().release_snapshot(seq);
            return Err(self.fail(e));
        }
        // 2. Images, one table at a time, each as of the snapshot.
        let written = self.write_images(&catalog, seq, redo);
        self.procs().release_snapshot(seq);
        let tables = written?;
        // 3. The checkpoint record, flushed.
        let rec = Record::Checkpoint {
            redo: redo.0,
            next_xid,
            next_oid: catalog.next_oid,
            shutdown,
            time: now_micros(),
        };
        let (rmid, info) = rec.rmid_info();
        let (start, end) = self
            .wal
            .append(rmid, info, 0, &rec.encode())
            .map_err(|e| self.fail(e))?;
        self.wal.flush(end).map_err(|e| self.fail(e))?;
        self.last_checkpoint_end.store(end.0, Ordering::SeqCst);
        // 4. pg_control.
        let prior_redo;
        {
            let mut control = self.control.lock().unwrap_or_else(|p| p.into_inner());
            prior_redo = control.redo;
            control.checkpoint = start;
            control.redo = redo;
            control.next_xid = next_xid as u64;
            control.next_oid = catalog.next_oid;
            control.time = chrono::Utc::now().timestamp();
            control.checkpoint_time = control.time;
            control.state = if shutdown {
                DbState::Shutdowned
            } else {
                DbState::InProduction
            };
            control.write(&self.datadir, self.opts.fsync)?;
        }
        // Whatever crash recovery left undone, this checkpoint did.
        self.recovery_checkpoint_pending
            .store(false, Ordering::SeqCst);
        drop(shutdown_guard);
        // 5. WAL segments no longer needed are recycled or removed; the next segment
        // is prepared when the current one is nearly full.
        let distance = redo.bytes_since(prior_redo);
        let estimate = checkpointer::next_distance_estimate(
            self.checkpoint_distance.load(Ordering::SeqCst),
            distance,
        );
        self.checkpoint_distance.store(estimate, Ordering::SeqCst);
        let wal = self.remove_old_wal(redo, estimate);
        let added = if shutdown {
            0
        } else {
            match self.wal.preallocate_next() {
                Ok(added) => usize::from(added),
                Err(e) => {
                    tracing::warn!("could not preallocate a WAL segment: {}", e.message);
                    0
                }
            }
        };
        if log {
            let total = started.elapsed().as_secs_f64();
            tracing::info!(
                "checkpoint complete: wrote {tables} table images; {added} WAL file(s) added, {} removed, {} recycled; write={total:.3} s, sync=0.000 s, total={total:.3} s; distance={} kB, estimate={} kB",
                wal.removed,
                wal.recycled,
                distance / 1024,
                estimate / 1024
            );
        }
        if shutdown {
            // Still under the checkpoint mutex: a checkpoint waiting for it sees this.
            self.shut_down.store(true, Ordering::SeqCst);
        }
        Ok(true)
    }

    /// A table's rows as of snapshot `seq` for its checkpoint image, and whether no
    /// version was stamped after `seq` (the image then shows the heap's committed
    /// state). On a primary the rows are copied [`IMAGE_CHUNK`] versions per hold of
    /// the engine lock, so that a checkpoint of a big table never stops every session
    /// for the whole copy: versions visible at `seq` stay (the checkpoint's snapshot is
    /// registered, so nothing they need is vacuumed), later ones are filtered out by
    /// their stamps, and a transaction dropping the table waits for the copy
    /// (`State::imaging`). During recovery the copy is made in one hold, as replay
    /// does not wait.
    fn copy_rows_as_of(&self, key: (u32, u32), seq: u64) -> Result<(HeapRows, bool)> {
        self.await_heap(key.0, key.1);
        let chunk = if self.in_recovery() {
            usize::MAX
        } else {
            IMAGE_CHUNK
        };
        let mut rows = Vec::new();
        let mut changed = false;
        let mut after = None;
        let mut first = true;
        loop {
            let mut st = self.lock();
            let Some(heap) = st.store.heaps.get(&key) else {
                st.imaging = None;
                drop(st);
                self.ends.signal();
                if first {
                    return Ok((rows, true));
                }
                // Only a drop removes a heap, and drops wait for the copy (`finish`).
                bail!(
                    sqlstate::OBJECT_IN_USE,
                    "table {}/{} went away while its checkpoint image was copied",
                    key.0,
                    key.1
                );
            };
            let (last, piece_changed) = heap.rows_as_of_chunk(seq, after, chunk, &mut rows);
            changed |= piece_changed;
            first = false;
            match last {
                Some(t) if chunk != usize::MAX => {
                    after = Some(t);
                    st.imaging = Some(key);
                }
                _ => {
                    let waiters = st.imaging.take().is_some();
                    drop(st);
                    if waiters {
                        self.ends.signal();
                    }
                    return Ok((rows, !changed));
                }
            }
        }
    }

    /// Writes the catalog image and one image per table as of snapshot `seq`
    /// (temp file, fsync, rename, directory fsync), then removes dropped tables' images.
    /// `stamp` is the latest redo start from which replay brings these images up to
    /// date (the checkpoint's redo LSN, a restartpoint's replay position; see
    /// `checkpoint.rs`). Returns how many table images were written.
    fn write_images(&self, catalog: &CatalogState, seq: u64, stamp: Lsn) -> Result<usize> {
        let fsync = self.opts.fsync;
        let mut n = 0;
        let mut written = self
            .image_generations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        written.retain(|key, _| catalog.tables.contains_key(key));
        let mut stamps = HashMap::new();
        for key @ (db, oid) in catalog.tables.keys() {
            let path = checkpoint::heap_path(&self.datadir, *db, *oid);
            // A heap untouched since its image was written (same generation) still
            // has exactly that image's rows: nothing stamped after the image's snapshot
            // was there then (see below), and any later change moves the generation.
            // Its image keeps its stamp, which the catalog image records.
            // (A heap still waiting for its image has the generation reserved for
            // it unless replay changed it: then it is decoded first, outside the lock.)
            let generation = loop {
                let load = match self.read().store.heaps.generation(key) {
                    Ok(g) => break g,
                    Err(load) => load,
                };
                load.wait();
            };
            if let Some((g, s)) = written.get(key) {
                if *g == generation && path.is_file() {
                    stamps.insert(*key, *s);
                    continue;
                }
            }
            let (rows, complete) = self.copy_rows_as_of(*key, seq)?;
            // Commits stamped after the snapshot are not in this image: its generation
            // must not count as written. (A change after `generation` was read moves
            // the heap's generation on, so recording the older one is harmless.)
            let generation = complete.then_some(generation);
            checkpoint::write_heap(
                &*self.opts.io,
                &self.datadir,
                *db,
                *oid,
                &rows,
                stamp,
                fsync,
            )?;
            stamps.insert(*key, stamp);
            match generation {
                Some(g) => written.insert(*key, (g, stamp)),
                None => written.remove(key),
            };
            n += 1;
        }
        checkpoint::write_catalog(
            &*self.opts.io,
            &self.datadir,
            catalog,
            stamp,
            &stamps,
            fsync,
        )?;
        checkpoint::remove_stale_images(&self.datadir, catalog);
        *self
            .image_generations
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = written;
        Ok(n)
    }

    /// Removes WAL segments older than what the redo point, `wal_keep_size`, the
    /// replication slots (see [`oldest_segment_to_keep`]), running base backups and
    /// backup holds (`holds.rs`) need; returns how many went. Failures are logged,
    /// not fatal: the segments are merely kept.
    fn remove_old_wal(&self, redo: Lsn, distance_estimate: u64) -> wal::Recycled {
        let settings = self.settings();
        let recycle_upto = checkpointer::recycle_limit(
            &settings,
            redo,
            self.opts.wal_segment_size,
            distance_estimate,
        );
        let mut retention = WalRetention {
            redo,
            insert: self.wal.insert_lsn(),
            segment_size: self.opts.wal_segment_size,
            wal_keep_size: settings.wal_keep_size,
            slot_min: None,
            archive_min_segno: None,
        };
        retention.slot_min = self.slots_min_lsn(&retention, &settings);
        let keep = oldest_segment_to_keep(&retention);
        // Running base backups keep the WAL from their start (backup.rs).
        let keep = self.backup_keep_floor(keep);
        // Finished base backups keep the WAL their standby will ask for (holds.rs).
        let keep = self.backup_hold_keep_floor(&retention, &settings, keep);
        // The archiver keeps every segment from the oldest one not archived yet
        // (archive_status.rs).
        let candidates = self.removal_candidates(keep);
        let keep = self
            .archive
            .oldest_unarchived(&candidates, false)
            .map_or(keep, |a| keep.min(a));
        match self.wal.remove_or_recycle(keep, recycle_upto) {
            Ok(r) => {
                self.archive_cleanup(&candidates, keep);
                // Backup history files older than every kept segment go once archived
                // (backup.rs).
                self.cleanup_backup_history(Some(keep));
                r
            }
            Err(e) => {
                tracing::warn!("could not remove old WAL segments: {}", e.message);
                wal::Recycled::default()
            }
        }
    }

    // ---- WAL archiving (archive_status.rs) ----

    /// The segment files below `keep` (`(segno, file name)`, oldest first): what a
    /// checkpoint would remove or recycle.
    fn removal_candidates(&self, keep: u64) -> Vec<(u64, String)> {
        if self.archive.mode() == archive_status::ArchiveMode::Off {
            return Vec::new();
        }
        let dir = self.datadir.join("pg_wal");
        let seg = self.opts.wal_segment_size;
        wal::segments_before(&dir, seg, keep)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                let name = p.file_name()?.to_str()?.to_string();
                let (_, segno) = wal::segment::parse_segment_file_name(&name, seg)?;
                Some((segno, name))
            })
            .collect()
    }

    /// Removes the status files of the candidates below `keep` that are gone now.
    fn archive_cleanup(&self, candidates: &[(u64, String)], keep: u64) {
        let dir = self.datadir.join("pg_wal");
        for (segno, name) in candidates {
            if *segno < keep && !dir.join(name).exists() {
                self.archive.cleanup(name);
            }
        }
    }

    /// The table of live sessions (`pg_stat_activity`, see `activity.rs`).
    pub fn activity(&self) -> &Arc<activity::Activity> {
        &self.activity
    }

    /// The oldest transaction id any transaction running here may still need: the
    /// oldest running one, else the next to be assigned. A standby sends it as its
    /// `hot_standby_feedback` xmin (what the primary shows as `backend_xmin`).
    pub fn xmin_horizon(&self) -> u32 {
        let procs = self.procs();
        procs
            .running
            .iter()
            .copied()
            .min()
            .unwrap_or(procs.next_xid)
    }

    /// (committed, rolled back) transactions of database `db` since the engine opened
    /// (`pg_stat_database.xact_commit`, `xact_rollback`).
    pub fn database_transactions(&self, db: u32) -> (u64, u64) {
        self.counters.database(db)
    }

    /// Transactions and checkpoints counted since the engine opened (see `stats.rs`).
    pub fn counters(&self) -> stats::CountersSnapshot {
        self.counters.snapshot()
    }

    /// WAL archiving's status files, wake-ups and counters (the archiver and
    /// `pg_stat_archiver` use it; promotion marks its history and `.partial` files
    /// through [`archive_status::ArchiveStatus::notify`]).
    pub fn archive_status(&self) -> &Arc<archive_status::ArchiveStatus> {
        &self.archive
    }

    /// `archive_timeout` (PostgreSQL's `CheckArchiveTimeout`, run by the checkpointer):
    /// once `timeout` has passed since the last segment switch, switches segments when
    /// WAL other than a lone checkpoint record was written since; either way the clock
    /// restarts, so an idle system is not polled constantly. Returns whether a segment
    /// was switched.
    pub fn check_archive_timeout(&self, timeout: Duration) -> Result<bool> {
        if timeout.is_zero()
            || self.in_recovery()
            || self.archive.last_segment_switch().elapsed() < timeout
        {
            return Ok(false);
        }
        self.archive.note_switch_attempt();
        let seg = self.opts.wal_segment_size;
        let insert = self.wal.insert_lsn().0;
        let (checkpoint, _) = self.last_checkpoint();
        let only_checkpoint = checkpoint.0 / seg == insert / seg
            && checkpoint.0 % seg == wal::format::LONG_PAGE_HEADER
            && insert == self.last_checkpoint_end.load(Ordering::SeqCst);
        if only_checkpoint {
            return Ok(false);
        }
        let before = self.wal.insert_lsn();
        let end = self.switch_wal()?;
        let switched = end != before;
        if switched {
            tracing::debug!(
                "write-ahead log switch forced (archive_timeout={})",
                timeout.as_secs()
            );
        }
        Ok(switched)
    }

    // ---- end of WAL archiving ----

    // ---- Replication slot retention ----

    /// Registers the replication slots' retention hook (the slot manager does at start).
    pub fn set_slot_retention(&self, hook: Arc<dyn SlotRetention>) {
        *self
            .slot_retention
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(hook);
    }

    /// The oldest LSN the replication slots keep, after invalidating the slots beyond
    /// `max_slot_wal_keep_size`. Before the slot manager registered itself (the
    /// end-of-recovery checkpoint at open), any entry in `pg_replslot` keeps all WAL.
    fn slots_min_lsn(&self, r: &WalRetention, s: &CheckpointSettings) -> Option<Lsn> {
        let hook = self
            .slot_retention
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match hook {
            Some(h) => h.checkpoint_slots(slot_invalidation_cutoff(r, s.max_slot_wal_keep_size)),
            None => std::fs::read_dir(self.datadir.join("pg_replslot"))
                .ok()
                .and_then(|mut d| d.next())
                .map(|_| Lsn(0)),
        }
    }

    // ---- end of replication slot retention ----

    /// Registers what to do when the engine breaks (a WAL write or fsync failure): the
    /// server ends every session and starts over from the WAL, as PostgreSQL's
    /// postmaster does after a PANIC. Called at once if the engine is already broken.
    pub fn on_panic(&self, hook: Box<dyn Fn() + Send + Sync>) {
        let mut slot = self.panic_hook.lock().unwrap_or_else(|p| p.into_inner());
        if self.broken.load(Ordering::SeqCst) {
            hook();
        }
        *slot = Some(hook);
    }

    /// True after a WAL write or fsync failure: nothing more can be written.
    pub fn is_broken(&self) -> bool {
        self.broken.load(Ordering::SeqCst)
    }

    fn fail(&self, e: Error) -> Error {
        // Logged once, at PANIC as PostgreSQL logs a failed WAL write or fsync; the
        // panic hook (the server) then ends every session and re-runs recovery.
        if !self.broken.swap(true, Ordering::SeqCst) {
            crate::logging::log_at(
                "PANIC",
                &e.message,
                Some("The storage engine refuses all further writes; the server recovers from the WAL."),
                None,
            );
            if let Some(hook) = &*self.panic_hook.lock().unwrap_or_else(|p| p.into_inner()) {
                hook();
            }
        }
        panic_error(e)
    }

    fn check_broken(&self) -> Result<()> {
        if self.shut_down.load(Ordering::SeqCst) {
            bail!(
                sqlstate::ADMIN_SHUTDOWN,
                "terminating connection due to administrator command"
            );
        }
        if self.broken.load(Ordering::SeqCst) {
            return Err(panic_error(err!(
                sqlstate::IO_ERROR,
                "the storage engine stopped after a WAL write failure"
            )));
        }
        Ok(())
    }

    /// The role with this name.
    pub fn role(&self, name: &str) -> Option<RoleInfo> {
        self.read().store.catalog.role_by_name(name).cloned()
    }

    /// Whether role `role` is a member of role `group` (directly or indirectly; a role
    /// is a member of itself).
    pub fn is_member_of(&self, role: &str, group: &str) -> bool {
        let st = self.read();
        let c = &st.store.catalog;
        match (c.role_by_name(role), c.role_by_name(group)) {
            (Some(r), Some(g)) => c.is_member_of(r.oid, g.oid),
            _ => false,
        }
    }

    /// The database with this name.
    pub fn database(&self, name: &str) -> Option<DatabaseInfo> {
        self.read().store.catalog.database_by_name(name).cloned()
    }

    /// The current WAL insert position.
    pub fn current_wal_lsn(&self) -> Lsn {
        self.wal.insert_lsn()
    }

    /// How far the WAL has been written to the OS (`pg_current_wal_lsn()`).
    pub fn wal_write_lsn(&self) -> Lsn {
        self.wal.write_lsn()
    }

    /// How far the WAL is durable (`pg_current_wal_flush_lsn()`).
    pub fn wal_flush_lsn(&self) -> Lsn {
        self.wal.flush_lsn()
    }

    /// `pg_switch_wal()`: ends the current WAL segment with a switch record, flushes it,
    /// and returns the end of the switch record (the current position when the segment
    /// holds nothing yet, as PostgreSQL does).
    pub fn switch_wal(&self) -> Result<Lsn> {
        let end = self.wal.switch_segment()?;
        self.wal.flush(end)?;
        Ok(end)
    }

    /// Describes the WAL records from `start` to the end of valid WAL, one line each
    /// (`0/01000060 xid 735 tusk catalog: CREATE TABLE …`), for tests and a waldump.
    pub fn describe_wal(&self, start: Lsn) -> Result<Vec<String>> {
        let mut reader = WalReader::new(
            &self.datadir.join("pg_wal"),
            self.opts.wal_segment_size,
            self.timeline(),
            start,
        );
        let mut out = Vec::new();
        while let Some(rec) = reader.next_record()? {
            let text = if rec.rmid >= record::RM_TUSK_HEAP {
                Record::decode(rec.rmid, rec.info, &rec.payload)?.describe()
            } else {
                format!("PostgreSQL rmgr {} info {:#04x}", rec.rmid, rec.info)
            };
            out.push(format!("{} xid {}: {}", rec.start, rec.xid, text));
        }
        Ok(out)
    }

    // --- Walsender accessor (replication::walsender) ---

    /// Subscribes to WAL flush progress: the receiver sees the flushed LSN each time it
    /// advances (walsenders wait on it for new WAL to send).
    pub fn subscribe_wal_flush(&self) -> tokio::sync::watch::Receiver<Lsn> {
        self.wal.subscribe_flush()
    }

    // --- end of walsender accessor ---

    /// The cluster's system identifier.
    pub fn system_identifier(&self) -> u64 {
        self.system_id
    }

    /// The current timeline.
    pub fn timeline(&self) -> u32 {
        self.timeline.load(Ordering::SeqCst)
    }

    /// Runs `f` on the catalog (under the state lock: keep it short).
    pub fn with_catalog<R>(&self, f: impl FnOnce(&CatalogState) -> R) -> R {
        f(&self.read().store.catalog)
    }

    /// The catalog version: it changes whenever a table, role or database is created,
    /// changed or dropped (or such a change is rolled back).
    pub fn catalog_version(&self) -> u64 {
        self.catalog_version.load(Ordering::SeqCst)
    }

    /// Hands out a new OID.
    pub fn new_oid(&self) -> u32 {
        self.lock().store.catalog.new_oid()
    }

    /// Starts a transaction: assigns its xid and takes a first snapshot.
    pub fn begin(&self) -> Transaction {
        let mut procs = self.procs();
        let xid = procs.next_xid;
        procs.next_xid = procs.next_xid.wrapping_add(1).max(3);
        procs.running.insert(xid);
        let seq = procs.take_snapshot();
        drop(procs);
        Transaction {
            xid,
            db: 0,
            snapshot: Snapshot { xid, seq },
            start_time: now_micros(),
            records: RedoLog::default(),
            inserted: Vec::new(),
            deleted: Vec::new(),
            dropped: Vec::new(),
            changed_catalog: false,
            cancel: None,
            deadline: None,
            lock_timeout: None,
            locked: Vec::new(),
            commit_delay: None,
        }
    }

    /// Takes a new snapshot for the transaction's next statement (READ COMMITTED).
    pub fn new_snapshot(&self, txn: &mut Transaction) {
        let mut procs = self.procs();
        procs.release_snapshot(txn.snapshot.seq);
        txn.snapshot.seq = procs.take_snapshot();
    }

    /// A table's size and row counts as tusk accounts them (see
    /// [`heap::Heap::sizes`]); `None` for a relation without a heap.
    pub fn heap_sizes(&self, db: u32, rel: u32) -> Option<heap::HeapSizes> {
        self.await_heap(db, rel);
        let st = self.read();
        st.store.heaps.get(&(db, rel)).map(|h| h.sizes())
    }

    /// The versions of a table visible to the transaction's snapshot, in scan order.
    pub fn scan(&self, txn: &Transaction, db: u32, rel: u32) -> Vec<(u64, Arc<Vec<Value>>)> {
        self.await_heap(db, rel);
        self.note_standby_read(txn, db, rel);
        let st = self.read();
        match st.store.heaps.get(&(db, rel)) {
            None => vec![],
            Some(h) => {
                // Sized once for the versions held less those known dead (a large
                // table's scan grew by doubling, copying and faulting on each step).
                let mut rows =
                    Vec::with_capacity(h.tuples.len().saturating_sub(h.dead_candidates()));
                rows.extend(
                    h.tuples
                        .iter()
                        .filter(|(_, t)| t.visible(&txn.snapshot))
                        .map(|(tid, t)| (tid, t.row.clone())),
                );
                rows
            }
        }
    }

    /// Whether a version of the table visible to the transaction's snapshot matches
    /// `pred`, tried in scan order where the versions lie (nothing is copied: ALTER
    /// TABLE's NOT NULL checks over millions of rows).
    pub fn any_visible(
        &self,
        txn: &Transaction,
        db: u32,
        rel: u32,
        pred: impl Fn(&[Value]) -> bool,
    ) -> bool {
        self.await_heap(db, rel);
        self.note_standby_read(txn, db, rel);
        let st = self.read();
        st.store.heaps.get(&(db, rel)).is_some_and(|h| {
            h.tuples
                .values()
                .any(|t| t.visible(&txn.snapshot) && pred(&t.row))
        })
    }

    /// Visible versions in the order of an index (the primary key for
    /// `heap::PK_INDEX`), ascending or descending, from the cursor's position on: at
    /// least `want` versions when there are that many, always whole keys (every
    /// visible version of the last key returned). Moves the cursor past them; it is
    /// `done` once the index is exhausted (or does not exist).
    pub fn ordered_batch(
        &self,
        txn: &Transaction,
        db: u32,
        rel: u32,
        cur: &mut IndexCursor,
        want: usize,
    ) -> Vec<(u64, Arc<Vec<Value>>)> {
        self.await_heap(db, rel);
        use std::ops::Bound;
        self.note_standby_read(txn, db, rel);
        let st = self.read();
        let map = st.store.heaps.get(&(db, rel)).and_then(|h| {
            if cur.index == heap::PK_INDEX {
                Some((h, &h.pk_index))
            } else {
                h.indexes
                    .iter()
                    .find(|i| i.def.oid == cur.index)
                    .map(|ix| (h, &ix.map))
            }
        });
        let Some((h, map)) = map else {
            cur.done = true;
            return vec![];
        };
        let range: (Bound<&[u8]>, Bound<&[u8]>) = match (cur.after.as_deref(), cur.desc) {
            (None, _) => (Bound::Unbounded, Bound::Unbounded),
            (Some(k), false) => (Bound::Excluded(k), Bound::Unbounded),
            (Some(k), true) => (Bound::Unbounded, Bound::Excluded(k)),
        };
        let range = (
            range.0.map(heap::KeyBytes::new),
            range.1.map(heap::KeyBytes::new),
        );
        let iter: Box<dyn Iterator<Item = (&heap::IndexKey, &heap::TidList)>> = if cur.desc {
            Box::new(map.range::<heap::KeyBytes, _>(range).rev())
        } else {
            Box::new(map.range::<heap::KeyBytes, _>(range))
        };
        let mut out = Vec::new();
        for (k, tids) in iter {
            for tid in tids {
                if let Some(t) = h.tuples.get(*tid).filter(|t| t.visible(&txn.snapshot)) {
                    out.push((*tid, t.row.clone()));
                }
            }
            if out.len() >= want {
                cur.after = Some(k.to_vec());
                return out;
            }
        }
        cur.done = true;
        out
    }

    /// The versions visible to the transaction whose primary key equals `key` (values
    /// already of the key columns' types), found through the primary-key index.
    pub fn lookup_key(
        &self,
        txn: &Transaction,
        db: u32,
        rel: u32,
        key: &[Value],
    ) -> Vec<(u64, Arc<Vec<Value>>)> {
        self.await_heap(db, rel);
        self.note_standby_read(txn, db, rel);
        let st = self.read();
        let Some(h) = st.store.heaps.get(&(db, rel)) else {
            return vec![];
        };
        let Some(k) = h.encode_key(key) else {
            return vec![];
        };
        h.versions_with_key(&k)
            .iter()
            .filter_map(|&tid| h.tuples.get(tid).map(|t| (tid, t)))
            .filter(|(_, t)| t.visible(&txn.snapshot))
            .map(|(tid, t)| (tid, t.row.clone()))
            .collect()
    }

    /// The versions visible to the transaction found through the secondary index with
    /// OID `index` (or the primary key, for `heap::PK_INDEX`): those whose first key columns equal `prefix` (values already of
    /// the columns' types), and, when `range` is given, whose next key column lies
    /// within it (an order-preserving type; see `heap`). None when the index does
    /// not exist or cannot answer (the caller scans instead). The caller still
    /// applies its filter.
    pub fn lookup_index(
        &self,
        txn: &Transaction,
        db: u32,
        rel: u32,
        index: u32,
        prefix: &[Value],
        range: Option<(Bound<Value>, Bound<Value>)>,
    ) -> Option<Vec<(u64, Arc<Vec<Value>>)>> {
        self.await_heap(db, rel);
        self.note_standby_read(txn, db, rel);
        let st = self.read();
        let h = st.store.heaps.get(&(db, rel))?;
        // The primary key (heap::PK_INDEX) or a secondary index: its width and map.
        let (ncols, map) = if index == heap::PK_INDEX {
            (h.pk.as_ref()?.len(), &h.pk_index)
        } else {
            let ix = h.indexes.iter().find(|i| i.def.oid == index)?;
            (ix.def.columns.len(), &ix.map)
        };
        let width = prefix.len() + range.is_some() as usize;
        if width == 0 || width > ncols {
            return None;
        }
        let Some(pre) = heap::index_key(prefix) else {
            return Some(vec![]); // `col = NULL` matches nothing
        };
        let tids = match range {
            None => heap::keys_with_prefix(map, &pre),
            Some((lo, hi)) => {
                // Each bound as the prefix plus the bound value's encoding; an
                // open end stays within the prefix.
                let enc = |b: &Bound<Value>| -> Option<Bound<Vec<u8>>> {
                    let key = |v: &Value| -> Option<Vec<u8>> {
                        if !heap::order_preserving(v) {
                            return None;
                        }
                        let mut k = pre.clone();
                        k.extend(heap::index_key(std::slice::from_ref(v))?);
                        Some(k)
                    };
                    Some(match b {
                        Bound::Included(v) => Bound::Included(key(v)?),
                        Bound::Excluded(v) => Bound::Excluded(key(v)?),
                        Bound::Unbounded if prefix.is_empty() => Bound::Unbounded,
                        Bound::Unbounded => Bound::Included(pre.clone()),
                    })
                };
                let (lo_b, hi_b) = (enc(&lo)?, enc(&hi)?);
                heap::keys_in_range(
                    map,
                    lo_b.as_ref().map(|k| k.as_slice()),
                    hi_b.as_ref().map(|k| k.as_slice()),
                )
            }
        };
        Some(
            tids.into_iter()
                .filter_map(|tid| h.tuples.get(tid).map(|t| (tid, t)))
                .filter(|(_, t)| t.visible(&txn.snapshot))
                .map(|(tid, t)| (tid, t.row.clone()))
                .collect(),
        )
    }

    /// Checks a unique index just added to a table's definition (by this transaction)
    /// against the rows: first waits for every other transaction with uncommitted
    /// changes to the table (PostgreSQL's CREATE INDEX takes a lock that waits for
    /// them; writers starting later already check the new index), then looks for two
    /// live versions with the same key without NULLs. `index` is a secondary index's
    /// OID, or [`heap::PK_INDEX`] for a primary key just set (ALTER TABLE … ADD
    /// PRIMARY KEY: its index was built once, with the definition). Returns the rows
    /// of the first duplicate found (the caller reports it and aborts), or None.
    pub fn unique_index_duplicate(
        &self,
        txn: &Transaction,
        db: u32,
        rel: u32,
        index: u32,
    ) -> Result<Option<Arc<Vec<Value>>>> {
        self.await_heap(db, rel);
        let mut st = self.lock();
        loop {
            let Some(h) = st.store.heaps.get(&(db, rel)) else {
                return Ok(None);
            };
            let me = txn.xid;
            // Only a transaction in progress other than this one can hold a version to
            // wait for: with none, the walk over every version is skipped.
            // A copy: the walk below may be long, and the running set's lock is
            // for short holds only.
            let running = self.procs().running.clone();
            let others = running.iter().any(|&x| x != me);
            let busy = others.then(|| {
                h.tuples.values().find_map(|t| {
                    let x = if t.xmin != me && t.xmin_seq == 0 {
                        t.xmin
                    } else if t.xmax != 0 && t.xmax != me && t.xmax_seq == 0 {
                        t.xmax
                    } else {
                        return None;
                    };
                    running.contains(&x).then_some(x)
                })
            });
            if let Some(x) = busy.flatten() {
                st = self.wait_for(st, txn, x)?;
                continue;
            }
            // The primary key's index holds no NULL key (its columns are NOT NULL).
            let (map, secondary) = if index == heap::PK_INDEX {
                (&h.pk_index, None)
            } else {
                let Some(ix) = h.indexes.iter().find(|i| i.def.oid == index) else {
                    return Ok(None);
                };
                (&ix.map, Some(ix))
            };
            let live =
                |t: &Tuple| (t.xmin == me || t.xmin_seq != 0) && !(t.xmax == me || t.xmax_seq != 0);
            for tids in map.values().filter(|v| v.len() > 1) {
                let rows: Vec<&Tuple> = tids
                    .iter()
                    .filter_map(|tid| h.tuples.get(*tid))
                    .filter(|t| live(t))
                    .collect();
                let null_key = |row: &[Value]| {
                    secondary.is_some_and(|ix| !matches!(ix.key_of(row), Some((_, false))))
                };
                if rows.len() > 1 && !null_key(&rows[0].row) {
                    return Ok(Some(rows[0].row.clone()));
                }
            }
            return Ok(None);
        }
    }

    /// Waits (releasing the lock) until transaction `xid` has ended, honouring the
    /// transaction's cancel flag.
    fn wait_for<'a>(
        &'a self,
        mut st: RwLockWriteGuard<'a, State>,
        txn: &Transaction,
        xid: u32,
    ) -> Result<RwLockWriteGuard<'a, State>> {
        if !self.procs().running.contains(&xid) {
            return Ok(st);
        }
        // Following the waits-for chain from the holder back to us means a cycle.
        let mut next = xid;
        let mut steps = 0;
        while let Some(&w) = st.waits_for.get(&next) {
            if w == txn.xid || steps > st.waits_for.len() {
                return Err(Error::new(sqlstate::DEADLOCK_DETECTED, "deadlock detected")
                    .with_detail(format!(
                        "Transaction {} waits for transaction {xid}, which waits, directly or not, for transaction {}.",
                        txn.xid, txn.xid
                    ))
                    .with_hint("See server log for query details."));
            }
            next = w;
            steps += 1;
        }
        st.waits_for.insert(txn.xid, xid);
        let started = std::time::Instant::now();
        let r = self.wait_loop(st, txn, xid, started);
        match r {
            Ok(mut st) => {
                st.waits_for.remove(&txn.xid);
                Ok(st)
            }
            Err((mut st, e)) => {
                st.waits_for.remove(&txn.xid);
                drop(st);
                Err(e)
            }
        }
    }

    /// The waiting part of [`Engine::wait_for`]: returns the lock either way so the
    /// caller can clear the waits-for edge.
    #[allow(clippy::result_large_err)]
    fn wait_loop<'a>(
        &'a self,
        mut st: RwLockWriteGuard<'a, State>,
        txn: &Transaction,
        xid: u32,
        started: std::time::Instant,
    ) -> std::result::Result<RwLockWriteGuard<'a, State>, (RwLockWriteGuard<'a, State>, Error)>
    {
        while self.procs().running.contains(&xid) {
            if txn.lock_timeout.is_some_and(|t| started.elapsed() >= t) {
                let e = Error::new(
                    sqlstate::LOCK_NOT_AVAILABLE,
                    "canceling statement due to lock timeout",
                );
                return Err((st, e));
            }
            if txn.deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                let e = Error::new(
                    sqlstate::QUERY_CANCELED,
                    "canceling statement due to statement timeout",
                );
                return Err((st, e));
            }
            if let Some(c) = &txn.cancel {
                if c.swap(false, Ordering::SeqCst) {
                    let e = Error::new(
                        sqlstate::QUERY_CANCELED,
                        "canceling statement due to user request",
                    );
                    return Err((st, e));
                }
            }
            let seen = self.ends.seen();
            drop(st);
            self.ends.wait_past(seen, Some(Duration::from_millis(50)));
            st = self.lock();
        }
        Ok(st)
    }

    /// Inserts a row (already coerced to the table's column types), enforcing the
    /// primary key: a duplicate of a live version fails with 23505, a version written by
    /// a transaction in progress is waited for first.
    pub fn insert(&self, txn: &mut Transaction, db: u32, rel: u32, row: Vec<Value>) -> Result<u64> {
        let mut tid = 0;
        self.insert_rows(txn, db, rel, std::iter::once(row), |t| tid = t)
            .map_err(|f| f.1)?;
        Ok(tid)
    }

    /// Inserts rows into one table, in order, each exactly as [`Engine::insert`] would
    /// (a later row's unique check sees the earlier ones), taking the engine lock and
    /// looking the table up once for all of them rather than once a row (COPY FROM's
    /// batches). On failure, the index of the row that failed with its error; the rows
    /// before it are inserted (the statement's failure aborts them with the rest).
    pub fn insert_many(
        &self,
        txn: &mut Transaction,
        db: u32,
        rel: u32,
        rows: impl IntoIterator<Item = Vec<Value>>,
    ) -> std::result::Result<(), Box<(usize, Error)>> {
        self.insert_rows(txn, db, rel, rows.into_iter(), |_| {})
    }

    /// The body of [`Engine::insert`] and [`Engine::insert_many`]: `inserted` gets each
    /// new tuple id. The engine lock is held from one row to the next and given up only
    /// to wait for a transaction whose uncommitted version conflicts with a row.
    fn insert_rows(
        &self,
        txn: &mut Transaction,
        db: u32,
        rel: u32,
        mut rows: impl Iterator<Item = Vec<Value>>,
        mut inserted: impl FnMut(u64),
    ) -> std::result::Result<(), Box<(usize, Error)>> {
        self.check_broken().map_err(|e| Box::new((0, e)))?;
        self.await_heap(db, rel);
        let mut st = self.lock();
        check_not_pending(&st, txn, db, rel).map_err(|e| Box::new((0, e)))?;
        let mut index = 0;
        // A row that had to wait for another transaction, tried again after the wait.
        let mut retry: Option<Arc<Vec<Value>>> = None;
        loop {
            let def = st
                .store
                .catalog
                .tables
                .get(&(db, rel))
                .cloned()
                .ok_or_else(|| {
                    err!(
                        sqlstate::UNDEFINED_TABLE,
                        "relation with OID {rel} does not exist"
                    )
                })
                .map_err(|e| Box::new((index, e)))?;
            // Temporary tables are never logged (temp.rs).
            let logged = !st.store.catalog.is_temp_schema(def.schema);
            let heap = st.store.heap_mut(db, rel);
            let stopped = loop {
                let Some(row) = retry.take().or_else(|| rows.next().map(Arc::new)) else {
                    break None;
                };
                match insert_one(heap, txn, (db, rel), &def, row, logged) {
                    Ok(tid) => {
                        inserted(tid);
                        index += 1;
                    }
                    Err(stop) => break Some(stop),
                }
            };
            match stopped {
                None => return Ok(()),
                Some(InsertStop::Wait(x, row)) => {
                    retry = Some(row);
                    st = self
                        .wait_for(st, txn, x)
                        .map_err(|e| Box::new((index, e)))?;
                }
                Some(InsertStop::Duplicate(e)) => {
                    return Err(Box::new((
                        index,
                        match st.store.catalog.schemas.get(&def.schema) {
                            Some((schema, _)) => e.with_schema(schema.clone()),
                            None => e,
                        },
                    )));
                }
            }
        }
    }

    /// Locks a version the transaction saw (SELECT … FOR UPDATE when `exclusive`, FOR
    /// SHARE otherwise) until the transaction ends. A concurrent writer or a conflicting
    /// locker in progress is waited for first (or, per `wait`, not); outcomes as for
    /// [`delete`](Self::delete), plus [`RowOutcome::Gone`] for a row skipped by SKIP LOCKED.
    pub fn lock_row(
        &self,
        txn: &mut Transaction,
        db: u32,
        rel: u32,
        tid: u64,
        exclusive: bool,
        wait: LockWait,
    ) -> Result<RowOutcome> {
        self.await_heap(db, rel);
        self.check_broken()?;
        let mut st = self.lock();
        let key = (db, rel, tid);
        loop {
            let heap = st.store.heap_mut(db, rel);
            let Some(t) = heap.tuples.get(tid) else {
                return Ok(RowOutcome::Gone);
            };
            let blocker = if t.xmax == txn.xid {
                return Ok(RowOutcome::Gone);
            } else if t.xmax != 0 && t.xmax_seq != 0 {
                let next = t.next;
                return Ok(match heap.tuples.get(next) {
                    Some(n) if next != 0 && n.xmin_seq != 0 => {
                        RowOutcome::Moved(next, n.row.clone())
                    }
                    _ => RowOutcome::Gone,
                });
            } else if t.xmax != 0 {
                Some(t.xmax)
            } else {
                conflicting_locker(&st, &self.procs(), txn.xid, key, exclusive)
            };
            match (blocker, wait) {
                (Some(_), LockWait::SkipLocked) => return Ok(RowOutcome::Gone),
                (Some(_), LockWait::NoWait) => {
                    let name = st
                        .store
                        .catalog
                        .tables
                        .get(&(db, rel))
                        .map(|d| d.name.clone())
                        .unwrap_or_default();
                    bail!(
                        sqlstate::LOCK_NOT_AVAILABLE,
                        "could not obtain lock on row in relation \"{name}\""
                    );
                }
                (Some(x), LockWait::Wait) => {
                    st = self.wait_for(st, txn, x)?;
                    continue;
                }
                (None, _) => {}
            }
            let holders = st.row_locks.entry(key).or_default();
            match holders.iter_mut().find(|(x, _)| *x == txn.xid) {
                Some(h) => h.1 |= exclusive,
                None => {
                    holders.push((txn.xid, exclusive));
                    txn.locked.push(key);
                }
            }
            return Ok(RowOutcome::Done);
        }
    }

    /// Deletes a version the transaction saw. A concurrent writer in progress is
    /// waited for first. Returns [`RowOutcome::Gone`] when the version was already
    /// deleted (by this transaction or a committed one), and [`RowOutcome::Moved`] when
    /// a committed UPDATE replaced it: READ COMMITTED re-checks the newer version.
    pub fn delete(&self, txn: &mut Transaction, db: u32, rel: u32, tid: u64) -> Result<RowOutcome> {
        self.await_heap(db, rel);
        self.check_broken()?;
        let mut st = self.lock();
        check_not_pending(&st, txn, db, rel)?;
        loop {
            let heap = st.store.heap_mut(db, rel);
            let Some(t) = heap.tuples.get(tid) else {
                return Ok(RowOutcome::Gone);
            };
            if t.xmax == 0 {
                if let Some(x) =
                    conflicting_locker(&st, &self.procs(), txn.xid, (db, rel, tid), true)
                {
                    st = self.wait_for(st, txn, x)?;
                    continue;
                }
                let heap = st.store.heap_mut(db, rel);
                if let Some(t) = heap.tuple_mut(tid) {
                    t.xmax = txn.xid;
                }
                txn.deleted.push((db, rel, tid));
                // Temporary tables are never logged (temp.rs).
                if !st.store.catalog.is_temp_relation(db, rel) {
                    txn.records.push(Record::Delete { db, rel, tid });
                }
                return Ok(RowOutcome::Done);
            }
            if t.xmax == txn.xid {
                return Ok(RowOutcome::Gone);
            }
            if t.xmax_seq != 0 {
                let next = t.next;
                return Ok(match heap.tuples.get(next) {
                    Some(n) if next != 0 && n.xmin_seq != 0 => {
                        RowOutcome::Moved(next, n.row.clone())
                    }
                    _ => RowOutcome::Gone,
                });
            }
            let x = t.xmax;
            st = self.wait_for(st, txn, x)?;
        }
    }

    /// Replaces a version with a new row (a delete plus an insert, linked so concurrent
    /// writers can follow it). Outcomes as for [`delete`](Self::delete).
    pub fn update(
        &self,
        txn: &mut Transaction,
        db: u32,
        rel: u32,
        tid: u64,
        row: Vec<Value>,
    ) -> Result<RowOutcome> {
        let out = self.delete(txn, db, rel, tid)?;
        if out != RowOutcome::Done {
            return Ok(out);
        }
        let new_tid = self.insert(txn, db, rel, row)?;
        let mut st = self.lock();
        if let Some(t) = st.store.heap_mut(db, rel).tuple_mut(tid) {
            t.next = new_tid;
        }
        Ok(RowOutcome::Done)
    }

    /// Applies a catalog change inside the transaction (visible at once, undone if the
    /// transaction aborts, logged at commit).
    pub fn catalog_change(&self, txn: &mut Transaction, change: CatalogChange) -> Result<()> {
        self.check_broken()?;
        let mut st = self.lock();
        txn.changed_catalog = true;
        self.catalog_version.fetch_add(1, Ordering::SeqCst);
        // Changes of temporary objects are undone on abort but never logged (temp.rs).
        let logged = !st.store.catalog.change_is_temp(&change);
        if let Some(u) = st.store.catalog.apply(&change) {
            st.pending_undo.entry(txn.xid).or_default().push(u);
        }
        match &change {
            CatalogChange::CreateTable { db, def } => {
                st.store.heaps.insert((*db, def.oid), Heap::for_table(def));
                st.pending_created
                    .entry(txn.xid)
                    .or_default()
                    .push((*db, def.oid));
            }
            CatalogChange::DropTable { db, oid } => txn.dropped.push((*db, *oid)),
            CatalogChange::DropDatabase { oid } => {
                let gone: Vec<(u32, u32)> = st
                    .store
                    .heaps
                    .keys()
                    .filter(|(db, _)| db == oid)
                    .copied()
                    .collect();
                txn.dropped.extend(gone);
            }
            CatalogChange::AlterTable { db, def } => st.store.sync_pk(*db, def.oid),
            _ => {}
        }
        if logged {
            txn.records.push(Record::Catalog(change));
        }
        Ok(())
    }

    /// WAL statistics (records, bytes, writes, flushes, fsyncs) for tests and metrics.
    pub fn wal_stats(&self) -> wal::WalStats {
        self.wal.stats()
    }

    /// The WAL writer's fsync latency histogram (lock-free, for metrics).
    pub fn wal_sync_latency(&self) -> wal::latency::SyncLatencySnapshot {
        self.wal.sync_latency()
    }

    /// When the WAL counters started (server start), in PostgreSQL microseconds.
    pub fn wal_stats_since(&self) -> i64 {
        self.wal.stats_since()
    }

    /// The WAL writer's round (every `wal_writer_delay`): makes durable what
    /// asynchronous commits (`synchronous_commit = off`) appended but did not flush.
    /// A flush failure is a PANIC, as on the commit path.
    pub fn background_flush(&self) -> Result<()> {
        if self.broken.load(Ordering::SeqCst) {
            return Ok(());
        }
        let end = self.wal.insert_lsn();
        if self.wal.flush_lsn() < end {
            if let Err(e) = self.wal.flush(end) {
                return Err(self.fail(e));
            }
        }
        Ok(())
    }

    /// Whether WAL was written since the last checkpoint record this process wrote (true
    /// when it has written none yet).
    pub fn wal_since_last_checkpoint(&self) -> bool {
        let end = self.last_checkpoint_end.load(Ordering::SeqCst);
        end == 0 || self.wal.insert_lsn().0 > end
    }

    /// Commits: appends the transaction's records and a COMMIT to the WAL, flushes it
    /// when `wait_flush` (synchronous_commit), then makes the changes visible.
    pub fn commit(&self, txn: Transaction, wait_flush: bool) -> Result<()> {
        self.commit_then(txn, wait_flush, |_| {})
    }

    /// [`Engine::commit`], running `durable` with the commit record's end LSN once it
    /// is flushed (only when `wait_flush` and the transaction wrote WAL) and before
    /// the changes become visible — where a synchronous commit waits for its
    /// standbys, as PostgreSQL waits before ending the transaction in the proc array.
    /// `durable` runs holding no engine lock (other commits append, flush and finish
    /// meanwhile); the transaction's row locks stay held until it returns.
    pub fn commit_then(
        &self,
        txn: Transaction,
        wait_flush: bool,
        durable: impl FnOnce(Lsn),
    ) -> Result<()> {
        if txn.records.is_empty() {
            self.finish(txn, true);
            return Ok(());
        }
        if let Err(e) = self.check_broken() {
            self.finish(txn, false);
            return Err(e);
        }
        let appended = (|| -> Result<Lsn> {
            let _order = self.commit_lock.lock().unwrap_or_else(|p| p.into_inner());
            let mut first = true;
            txn.records.emit(|rmid, info, payload| {
                let (start, _) = self.wal.append(rmid, info, txn.xid, payload)?;
                if first {
                    // From here until `finish` stamps it, the commit is in the WAL but
                    // not visible: a checkpoint's redo point must not pass it.
                    self.in_flight_lock().insert(txn.xid, start);
                    first = false;
                }
                Ok(())
            })?;
            let c = Record::Commit { time: now_micros() };
            let (rmid, info) = c.rmid_info();
            Ok(self.wal.append(rmid, info, txn.xid, &c.encode())?.1)
        })();
        let result = appended.and_then(|end| {
            if wait_flush {
                if let Some((delay, siblings)) = txn.commit_delay {
                    let others = self.procs().running.len().saturating_sub(1);
                    if self.opts.fsync && others >= siblings && self.wal.flush_lsn() < end {
                        std::thread::sleep(delay);
                    }
                }
                self.wal.flush(end).map(|()| Some(end))
            } else {
                Ok(None)
            }
        });
        match result {
            Ok(end) => {
                if let Some(end) = end {
                    durable(end);
                }
                self.finish(txn, true);
                Ok(())
            }
            Err(e) => {
                let e = self.fail(e);
                self.finish(txn, false);
                Err(e)
            }
        }
    }

    /// Marks the transaction's current state (SAVEPOINT).
    pub fn savepoint(&self, txn: &Transaction) -> Savepoint {
        let st = self.read();
        Savepoint {
            records: txn.records.mark(),
            inserted: txn.inserted.len(),
            inserted_last: txn.inserted.last().map_or(0, |r| r.last),
            deleted: txn.deleted.len(),
            dropped: txn.dropped.len(),
            undo: st.pending_undo.get(&txn.xid).map_or(0, |v| v.len()),
            created: st.pending_created.get(&txn.xid).map_or(0, |v| v.len()),
        }
    }

    /// Undoes everything the transaction did after `sp` (ROLLBACK TO SAVEPOINT). Nothing
    /// of it reached the WAL: records are only appended at commit.
    pub fn rollback_to(&self, txn: &mut Transaction, sp: &Savepoint) {
        let mut st = self.lock();
        let keep = sp.inserted.min(txn.inserted.len());
        let mut undone: Vec<InsertRun> = txn.inserted.drain(keep..).collect();
        if let Some(r) = txn.inserted.last_mut() {
            // The run that was last at the savepoint, less what it gained since.
            if r.last > sp.inserted_last {
                undone.push(InsertRun {
                    first: sp.inserted_last + 1,
                    ..*r
                });
                r.last = sp.inserted_last;
            }
        }
        for r in undone {
            if let Some(h) = st.store.heaps.get_mut(&(r.db, r.rel)) {
                for tid in r.first..=r.last {
                    h.remove(tid);
                }
            }
        }
        for (db, rel, tid) in txn.deleted.drain(sp.deleted.min(txn.deleted.len())..) {
            if let Some(t) = st
                .store
                .heaps
                .get_mut(&(db, rel))
                .and_then(|h| h.tuple_mut(tid))
            {
                if t.xmax == txn.xid {
                    t.xmax = 0;
                    t.next = 0;
                }
            }
        }
        txn.records.truncate(sp.records);
        txn.dropped.truncate(sp.dropped);
        let undo: Vec<CatalogUndo> = match st.pending_undo.get_mut(&txn.xid) {
            Some(v) if v.len() > sp.undo => v.drain(sp.undo..).collect(),
            _ => vec![],
        };
        if !undo.is_empty() {
            self.catalog_version.fetch_add(1, Ordering::SeqCst);
        }
        st.store.undo_catalog(undo);
        let created: Vec<(u32, u32)> = match st.pending_created.get_mut(&txn.xid) {
            Some(v) if v.len() > sp.created => v.drain(sp.created..).collect(),
            _ => vec![],
        };
        for key in created {
            st.store.heaps.remove(&key);
        }
        drop(st);
        self.ends.signal();
    }

    /// Rolls the transaction back.
    pub fn abort(&self, txn: Transaction) {
        self.finish(txn, false);
    }

    /// Ends a transaction in memory: stamps its versions with a commit sequence number,
    /// or removes/restores them on abort, then wakes waiters.
    fn finish(&self, mut txn: Transaction, committed: bool) {
        self.counters.count_transaction_in(txn.db, committed);
        self.standby_locks.release(txn.xid);
        // A transaction that wrote and locked nothing (every read-only one) was never
        // in flight, and nobody waits for it: waiters wait for the writer of a version
        // or the holder of a row lock (`wait_for`), or for a table being imaged, which
        // only a writer drops. So no in-flight look-up and no wake-up (a futex call
        // whether anyone sleeps or not).
        let wrote = !txn.records.is_empty()
            || !txn.inserted.is_empty()
            || !txn.deleted.is_empty()
            || !txn.dropped.is_empty()
            || !txn.locked.is_empty();
        if !wrote && !txn.changed_catalog {
            // Nothing of it is in the engine state (no versions, row locks, catalog
            // undo or created heaps): its snapshot and its place among the running
            // go, and the engine lock is not taken. Nothing to make visible, so no
            // commit sequence number either.
            let mut procs = self.procs();
            procs.release_snapshot(txn.snapshot.seq);
            procs.running.remove(&txn.xid);
            return;
        }
        let mut st = self.lock();
        // A table being copied into a checkpoint image stays until the copy is done.
        while committed && st.imaging.is_some_and(|k| txn.dropped.contains(&k)) {
            let seen = self.ends.seen();
            drop(st);
            self.ends.wait_past(seen, None);
            st = self.lock();
        }
        let undo = st.pending_undo.remove(&txn.xid).unwrap_or_default();
        let created = st.pending_created.remove(&txn.xid).unwrap_or_default();
        if committed {
            // The new number is published before the versions are stamped with it; a
            // snapshot that sees it reads the heaps only after this lock is let go.
            let (seq, oldest) = {
                let mut procs = self.procs();
                procs.commit_seq += 1;
                procs.release_snapshot(txn.snapshot.seq);
                (procs.commit_seq, procs.oldest_snapshot())
            };
            for r in &txn.inserted {
                if let Some(h) = st.store.heaps.get_mut(&(r.db, r.rel)) {
                    h.stamp_inserts(r.first..=r.last, txn.xid, seq);
                }
            }
            for (db, rel, tid) in &txn.deleted {
                if let Some(h) = st.store.heaps.get_mut(&(*db, *rel)) {
                    if let Some(t) = h.tuple_mut(*tid) {
                        t.xmax_seq = seq;
                    }
                    // No snapshot older than this commit can still see the version.
                    if oldest >= seq {
                        h.remove(*tid);
                    } else {
                        h.mark_dead(*tid);
                        st.dead_versions += 1;
                    }
                }
            }
            for key in &txn.dropped {
                st.store.heaps.remove(key);
            }
        } else {
            for r in &txn.inserted {
                if let Some(h) = st.store.heaps.get_mut(&(r.db, r.rel)) {
                    for tid in r.first..=r.last {
                        h.remove(tid);
                    }
                }
            }
            for (db, rel, tid) in &txn.deleted {
                if let Some(t) = st
                    .store
                    .heaps
                    .get_mut(&(*db, *rel))
                    .and_then(|h| h.tuple_mut(*tid))
                {
                    if t.xmax == txn.xid {
                        t.xmax = 0;
                        t.next = 0;
                    }
                }
            }
            if !undo.is_empty() {
                self.catalog_version.fetch_add(1, Ordering::SeqCst);
            }
            st.store.undo_catalog(undo);
            for key in created {
                st.store.heaps.remove(&key);
            }
            self.procs().release_snapshot(txn.snapshot.seq);
        }
        for key in &txn.locked {
            if let Some(holders) = st.row_locks.get_mut(key) {
                holders.retain(|(x, _)| *x != txn.xid);
                if holders.is_empty() {
                    st.row_locks.remove(key);
                }
            }
        }
        // Under the engine lock: a waiter checks for it there (`wait_for`).
        self.procs().running.remove(&txn.xid);
        if wrote {
            // Under the state lock, so a checkpoint sees the commit either in its
            // snapshot or among the in-flight ones, never neither.
            self.in_flight_lock().remove(&txn.xid);
        }
        drop(st);
        if wrote {
            self.ends.signal();
        }
        // A large transaction's logged rows (a COPY's million shared rows) are let go
        // on a thread of their own: the client waits for this return.
        if txn.records.rows() >= heaps::FREE_APART_VERSIONS {
            heaps::drop_apart("tusk redo free", std::mem::take(&mut txn.records));
        }
    }

    fn in_flight_lock(&self) -> MutexGuard<'_, HashMap<u32, Lsn>> {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Versions a checkpoint copies per hold of the engine lock (about a millisecond).
const IMAGE_CHUNK: usize = 16 * 1024;

/// (tuple id, row) pairs of a checkpoint image.
type HeapRows = Vec<(u64, Arc<Vec<Value>>)>;

/// Per table (database, filenode): the heap generation its image on disk holds, and
/// the image's stamp.
type ImageGenerations = HashMap<(u32, u32), (u64, Lsn)>;

/// Loads the last checkpoint's (or restartpoint's) images: the catalog, and every
/// table's image checked and left to decode on first use or by the loader threads
/// (`storage::heaps`; [`heaps::Heaps::start_loading`] starts them). Every image must be
/// current for a replay starting at `redo` (`checkpoint::check_stamp`): a stale copy is
/// refused, as is a damaged one, before anything is decoded.
fn load_store(datadir: &Path, redo: Lsn) -> Result<Store> {
    load_store_with_images(datadir, redo).map(|(store, _)| store)
}

/// [`load_store`], and for each table whose image carries a stamp, the generation
/// reserved for its heap and that stamp: the heap holds exactly that image's rows
/// until its generation moves, so it is what [`Engine::write_images`] may count as
/// already written (a checkpoint then keeps the image instead of rewriting it, without
/// decoding it if it still waits).
fn load_store_with_images(datadir: &Path, redo: Lsn) -> Result<(Store, ImageGenerations)> {
    let image = checkpoint::read_catalog(datadir).map_err(unusable_image)?;
    checkpoint::check_stamp(&checkpoint::catalog_path(datadir), image.stamp, redo, None)
        .map_err(unusable_image)?;
    let mut store = Store {
        catalog: image.catalog,
        heaps: Default::default(),
    };
    let tables: Vec<(u32, Arc<TableDef>)> = store
        .catalog
        .tables
        .iter()
        .map(|((db, _), t)| (*db, t.clone()))
        .collect();
    let mut written = ImageGenerations::new();
    for (db, def) in tables {
        // Every table of the catalog image has an image of its own (a checkpoint
        // writes the tables first): a missing one is damage, not an empty table.
        let path = checkpoint::heap_path(datadir, db, def.oid);
        let (stamp, size) = checkpoint::verify_heap(datadir, db, def.oid)
            .and_then(|(stamp, size)| {
                let expected = image.table_stamps.get(&(db, def.oid)).copied();
                checkpoint::check_stamp(&path, stamp, redo, expected)?;
                Ok((stamp, size))
            })
            .map_err(unusable_image)?;
        let key = (db, def.oid);
        let generation = store.heaps.insert_pending(
            key,
            heaps::ImageSource {
                datadir: datadir.to_path_buf(),
                db,
                def,
                size,
                stamp,
            },
        );
        if let Some(stamp) = stamp {
            written.insert(key, (generation, stamp));
        }
    }
    Ok((store, written))
}

/// Threads decoding table images after a start: one per core.
fn image_loader_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Turns a failure to read a checkpoint image at start-up into a clear FATAL error
/// (logged as well): recovery cannot start without the images, and silently treating
/// a damaged one as empty would lose committed data.
fn unusable_image(e: Error) -> Error {
    tracing::error!("{}", e.message);
    let mut e = e
        .with_severity(Severity::Fatal)
        .with_detail("A checkpoint image of the last checkpoint cannot be used, so crash recovery cannot start.")
        .with_hint("Restore the data directory from a backup.");
    if e.code != sqlstate::DATA_CORRUPTED {
        e.message = format!("could not load checkpoint image: {}", e.message);
    }
    e
}

/// Formats Unix seconds as PostgreSQL's log timestamps (`2024-01-02 03:04:05 UTC`).
fn format_unix_time(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| secs.to_string())
}

/// How a row lock request treats a conflicting holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockWait {
    /// Wait for it to end (the default).
    Wait,
    /// NOWAIT: fail with 55P03.
    NoWait,
    /// SKIP LOCKED: leave the row out.
    SkipLocked,
}

/// Another transaction's row lock that conflicts with `exclusive` (an exclusive request
/// conflicts with every holder, a shared one with exclusive holders).
fn conflicting_locker(
    st: &State,
    procs: &Procs,
    me: u32,
    key: (u32, u32, u64),
    exclusive: bool,
) -> Option<u32> {
    st.row_locks.get(&key).and_then(|holders| {
        holders
            .iter()
            .find(|(x, ex)| *x != me && (exclusive || *ex) && procs.running.contains(x))
            .map(|(x, _)| *x)
    })
}

/// Refuses writes to a table another transaction created and has not committed yet
/// (PostgreSQL would not even let the writer see it).
fn check_not_pending(st: &State, txn: &Transaction, db: u32, rel: u32) -> Result<()> {
    let foreign = st
        .pending_created
        .iter()
        .any(|(x, v)| *x != txn.xid && v.contains(&(db, rel)));
    if foreign {
        bail!(
            sqlstate::UNDEFINED_TABLE,
            "relation with OID {rel} does not exist"
        );
    }
    Ok(())
}

/// A position in an index read in order ([`Engine::ordered_batch`]).
#[derive(Debug, Clone)]
pub struct IndexCursor {
    /// The index's OID (`heap::PK_INDEX`: the primary key).
    pub index: u32,
    /// Descending.
    pub desc: bool,
    /// The encoded key read last (None: from the start).
    pub after: Option<Vec<u8>>,
    /// Nothing is left.
    pub done: bool,
}

/// Why [`insert_one`] did not insert its row.
enum InsertStop {
    /// A transaction in progress wrote a version with the row's key: wait for it, then
    /// try the row again.
    Wait(u32, Arc<Vec<Value>>),
    /// A live version has the row's key (23505; the schema's name is added by the
    /// caller, which holds the catalog).
    Duplicate(Error),
}

/// Inserts one row into its table's heap under the engine lock, checking the primary
/// key and unique indexes first, and remembers the version (and its redo record when
/// `logged`) in the transaction.
fn insert_one(
    heap: &mut Heap,
    txn: &mut Transaction,
    (db, rel): (u32, u32),
    def: &TableDef,
    row: Arc<Vec<Value>>,
    logged: bool,
) -> std::result::Result<u64, InsertStop> {
    if let Some(key) = heap.key_of(&row) {
        match unique_conflict(heap, txn.xid, heap.versions_with_key(&key)) {
            Conflict::None => {}
            Conflict::Wait(x) => return Err(InsertStop::Wait(x, row)),
            Conflict::Live => {
                let pk = def.primary_key.clone().unwrap_or_default();
                let e = duplicate_key(def, &def.pkey_name, &pk, &row);
                return Err(InsertStop::Duplicate(e));
            }
        }
    }
    for ix in heap.indexes.iter().filter(|i| i.def.unique) {
        // NULLs never conflict, nor rows a partial index leaves out.
        let Some((key, false)) = ix.key_of(&row) else {
            continue;
        };
        let tids = ix
            .map
            .get(heap::KeyBytes::new(&key))
            .map_or(&[][..], |t| &t[..]);
        match unique_conflict(heap, txn.xid, tids) {
            Conflict::None => {}
            Conflict::Wait(x) => return Err(InsertStop::Wait(x, row)),
            Conflict::Live => {
                let e = duplicate_key(def, &ix.def.name, &ix.def.columns, &row);
                return Err(InsertStop::Duplicate(e));
            }
        }
    }
    let tid = heap.next_tid;
    heap.put(
        tid,
        Tuple {
            xmin: txn.xid,
            xmin_seq: 0,
            xmax: 0,
            xmax_seq: 0,
            next: 0,
            row: row.clone(),
        },
    );
    txn.note_insert(db, rel, tid);
    if logged {
        txn.records.push(Record::Insert { db, rel, tid, row });
    }
    Ok(tid)
}

/// What a unique index's versions with a new row's key mean for its insert.
enum Conflict {
    /// No live version: the insert may go ahead.
    None,
    /// A version of a transaction in progress: wait for it, then look again.
    Wait(u32),
    /// A live version: a unique violation.
    Live,
}

/// Applies the unique-check rules to the versions carrying a key: a live version is a
/// conflict, one inserted or deleted by a transaction in progress must be waited for,
/// dead ones and the writer's own deletions do not count.
fn unique_conflict(heap: &Heap, me: u32, tids: &[u64]) -> Conflict {
    for &tid in tids {
        let Some(t) = heap.tuples.get(tid) else {
            continue;
        };
        if t.xmin != me && t.xmin_seq == 0 {
            return Conflict::Wait(t.xmin);
        }
        if t.xmax != 0 && (t.xmax == me || t.xmax_seq != 0) {
            continue; // dead
        }
        if t.xmax != 0 {
            return Conflict::Wait(t.xmax);
        }
        return Conflict::Live;
    }
    Conflict::None
}

/// PostgreSQL's unique violation for a unique index (`name`) over columns `pk`.
fn duplicate_key(def: &TableDef, name: &str, pk: &[usize], row: &[Value]) -> Error {
    let names: Vec<&str> = pk.iter().filter_map(|&i| def.key_label(i)).collect();
    let vals: Vec<String> = pk
        .iter()
        .map(|&i| {
            let v = row.get(i).cloned().unwrap_or(Value::Null);
            if v.is_null() {
                "null".into()
            } else {
                format_text(&v, &FormatOptions::default())
            }
        })
        .collect();
    err!(
        sqlstate::UNIQUE_VIOLATION,
        "duplicate key value violates unique constraint \"{}\"",
        name
    )
    .with_detail(format!(
        "Key ({})=({}) already exists.",
        names.join(", "),
        vals.join(", ")
    ))
    .with_table(def.name.clone())
    .with_constraint(name)
}

#[cfg(test)]
mod tests;
