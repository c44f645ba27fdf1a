//! Relation locks on a hot standby, and the recovery conflicts they cause
//! (PostgreSQL's `ResolveRecoveryConflictWithLock` with `max_standby_streaming_delay`
//! / `max_standby_archive_delay`).
//!
//! # What it owns
//!
//! - The relations each standby transaction has read (PostgreSQL's AccessShareLock a
//!   standby backend holds until its transaction ends), by the transaction's xid. The
//!   engine records one whenever a transaction reads a table's rows while the engine
//!   is in recovery (`Engine::scan`, `ordered_batch`, `lookup_key`, `lookup_index`, and
//!   `LOCK TABLE … IN ACCESS SHARE MODE`), and
//!   drops them all when the transaction commits or aborts (`Engine::finish`).
//! - The replay thread's AccessExclusiveLock: before replay applies a committed
//!   transaction that drops a table or changes its definition (`DROP TABLE`, an
//!   `ALTER TABLE` other than adding an index), it asks [`StandbyLocks::acquire`] for
//!   those relations. That waits for the holders, but no longer than the limit the
//!   caller computed from when the WAL was received (PostgreSQL's
//!   `GetStandbyLimitTime`: `-1` waits for ever, `0` does not wait); then every holder
//!   is signalled — a statement running is cancelled, a transaction idle between
//!   statements is terminated — and replay keeps waiting (signalling again every
//!   half second) until they are gone. While replay holds the lock (only while the
//!   commit is applied) a new reader of those relations waits for it.
//! - The conflicts signalled and not yet reported by their session, and the count of
//!   conflicts per database (`pg_stat_database_conflicts.confl_lock`).
//!
//! # Invariants
//!
//! - The one mutex is never held while anything else is locked or waited for, and the
//!   engine's state lock is never taken while it is held: readers record before they
//!   take the state lock, replay waits here before it takes the state lock.
//! - Replay never waits on a reader that waits on replay: readers wait only for the
//!   lock replay holds while it applies one commit, which waits for nothing.
//!
//! What this module must never do: decide how a session ends (the server does, through
//! the [`ConflictSignal`] hook), or let replay apply a change to a relation a standby
//! transaction still holds.
//!
//! One conflict, step by step (`max_standby_streaming_delay = 2s`):
//! 1. a REPEATABLE READ transaction on the standby reads `big`: `hold(xid, db, big)`;
//! 2. the primary drops `big`; replay reads the COMMIT and calls `acquire` with the
//!    deadline receipt time + 2 s; it waits (the replay LSN stays behind);
//! 3. at the deadline the holder is signalled; its session fails with 40001
//!    `canceling statement due to conflict with recovery` (or FATAL
//!    `terminating connection due to conflict with recovery` when idle), its
//!    transaction ends and `release(xid)` wakes replay;
//! 4. replay applies the DROP, then `release_exclusive`.

use crate::error::{sqlstate, Error};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How a holder of a conflicting lock is interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictAction {
    /// Its statement is running: cancel the statement (ERROR).
    Cancel,
    /// It is idle in its transaction: end the session (FATAL).
    Terminate,
}

/// What the server lends the registry to interrupt a session: `pid` is the backend's
/// pid; returns false when no such backend exists.
pub type ConflictSignal = Arc<dyn Fn(i32, ConflictAction) -> bool + Send + Sync>;

/// How often replay signals holders again while it waits for them after its deadline.
const RESIGNAL: Duration = Duration::from_millis(500);

/// A standby transaction's locks.
#[derive(Default)]
struct Holder {
    /// The database the transaction reads in.
    db: u32,
    /// The relations it read, as (database OID, relation OID).
    relations: BTreeSet<(u32, u32)>,
    /// Its session's cancel flag, set to interrupt a running statement.
    cancel: Option<Arc<AtomicBool>>,
}

#[derive(Default)]
struct Inner {
    /// Holders by xid.
    holders: rustc_hash::FxHashMap<u32, Holder>,
    /// The relations replay holds exclusively (while it applies one commit).
    exclusive: BTreeSet<(u32, u32)>,
    /// Xids signalled for a conflict whose session has not reported it yet, with the
    /// database to count it in.
    signalled: HashMap<u32, u32>,
    /// Backends terminated for a conflict whose session has not ended yet, with the
    /// database to count it in and the transaction signalled.
    terminated: HashMap<i32, (u32, u32)>,
    /// Lock conflicts per database OID (`confl_lock`).
    confl_lock: BTreeMap<u32, u64>,
}

/// The registry of standby relation locks (a field of the engine). Lock: one mutex
/// around everything; `cond` is signalled whenever locks are released.
#[derive(Default)]
pub struct StandbyLocks {
    inner: Mutex<Inner>,
    cond: Condvar,
    signal: Mutex<Option<ConflictSignal>>,
    /// Holders and signalled transactions, as of the last change under the lock: a
    /// transaction's end looks at it before taking the lock, so that a primary's
    /// transactions (which never hold one) do not all meet on this mutex. A holder is
    /// recorded by its own session before it ends, and only holders are signalled.
    occupied: AtomicUsize,
}

impl std::fmt::Debug for StandbyLocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandbyLocks").finish_non_exhaustive()
    }
}

/// The error a statement fails with when its transaction was cancelled for a lock
/// conflict (PostgreSQL's `ProcessInterrupts`).
pub fn cancel_error() -> Error {
    Error::new(
        sqlstate::SERIALIZATION_FAILURE,
        "canceling statement due to conflict with recovery",
    )
    .with_detail("User was holding a relation lock for too long.")
}

/// The error a session idle in its transaction ends with for a lock conflict.
pub fn terminate_error() -> Error {
    Error::fatal(
        sqlstate::SERIALIZATION_FAILURE,
        "terminating connection due to conflict with recovery",
    )
    .with_detail("User was holding a relation lock for too long.")
    .with_hint(
        "In a moment you should be able to reconnect to the database and repeat your command.",
    )
}

impl StandbyLocks {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes how many holders and signalled transactions `g` has (see `occupied`).
    fn note_occupancy(&self, g: &Inner) {
        self.occupied
            .store(g.holders.len() + g.signalled.len(), Ordering::Release);
    }

    /// Registers how sessions are interrupted (the server's backend registry).
    pub fn set_signal(&self, signal: ConflictSignal) {
        *self.signal.lock().unwrap_or_else(|p| p.into_inner()) = Some(signal);
    }

    /// Records that transaction `xid` (of database `db`, with the session's cancel
    /// flag) read relation `rel` of database `rel_db`. Waits while replay holds that
    /// relation exclusively (only while it applies one commit).
    pub fn hold(&self, xid: u32, db: u32, rel_db: u32, rel: u32, cancel: Option<&Arc<AtomicBool>>) {
        let mut g = self.lock();
        if g.holders
            .get(&xid)
            .is_some_and(|h| h.relations.contains(&(rel_db, rel)))
        {
            return;
        }
        while g.exclusive.contains(&(rel_db, rel)) {
            g = self
                .cond
                .wait_timeout(g, Duration::from_millis(50))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        let h = g.holders.entry(xid).or_default();
        h.db = db;
        if h.cancel.is_none() {
            h.cancel = cancel.cloned();
        }
        h.relations.insert((rel_db, rel));
        self.note_occupancy(&g);
    }

    /// Releases every lock of transaction `xid` (its end) and wakes replay.
    pub fn release(&self, xid: u32) {
        if self.occupied.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut g = self.lock();
        let had = g.holders.remove(&xid).is_some();
        g.signalled.remove(&xid);
        self.note_occupancy(&g);
        drop(g);
        if had {
            self.cond.notify_all();
        }
    }

    /// The transactions holding any of `rels`, in xid order.
    pub fn holders_of(&self, rels: &BTreeSet<(u32, u32)>) -> Vec<u32> {
        let g = self.lock();
        let mut v: Vec<u32> = g
            .holders
            .iter()
            .filter(|(_, h)| !h.relations.is_disjoint(rels))
            .map(|(x, _)| *x)
            .collect();
        v.sort_unstable();
        v
    }

    /// Replay's AccessExclusiveLock on `rels`: waits until no transaction holds any of
    /// them, up to `deadline` (`None`: for ever); from then on signals the holders
    /// through `interrupt` (given an xid, the action for its session: the caller
    /// looks up the session's pid and state) every [`RESIGNAL`] until they are gone.
    /// `stop` ends the wait early (shutdown; the lock is then taken anyway). Returns
    /// how many transactions were signalled. Release with
    /// [`StandbyLocks::release_exclusive`].
    pub fn acquire(
        &self,
        rels: &BTreeSet<(u32, u32)>,
        deadline: Option<Instant>,
        interrupt: &dyn Fn(u32) -> Option<(i32, ConflictAction)>,
        stop: &dyn Fn() -> bool,
    ) -> usize {
        let mut signalled_xids = BTreeSet::new();
        let mut next_signal = deadline;
        let mut g = self.lock();
        loop {
            let holders: Vec<u32> = g
                .holders
                .iter()
                .filter(|(_, h)| !h.relations.is_disjoint(rels))
                .map(|(x, _)| *x)
                .collect();
            if holders.is_empty() || stop() {
                g.exclusive.extend(rels.iter().copied());
                return signalled_xids.len();
            }
            let now = Instant::now();
            if next_signal.is_some_and(|t| now >= t) {
                // Signal outside the lock: the activity table and the server's backend
                // registry have locks of their own.
                let targets: Vec<(u32, u32, Option<Arc<AtomicBool>>)> = holders
                    .iter()
                    .map(|x| {
                        let h = &g.holders[x];
                        (*x, h.db, h.cancel.clone())
                    })
                    .collect();
                drop(g);
                let hook = self
                    .signal
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                // A running statement is cancelled through the transaction's own cancel
                // flag; an idle session is ended by the server. Both marks are set
                // together, before the session can see either.
                let actions: Vec<Option<(i32, ConflictAction)>> =
                    targets.iter().map(|(xid, _, _)| interrupt(*xid)).collect();
                {
                    let mut g = self.lock();
                    for ((xid, db, _), action) in targets.iter().zip(&actions) {
                        g.signalled.insert(*xid, *db);
                        if let (Some((pid, ConflictAction::Terminate)), Some(_)) = (action, &hook) {
                            g.terminated.insert(*pid, (*db, *xid));
                        }
                    }
                    self.note_occupancy(&g);
                }
                for ((xid, _, cancel), action) in targets.into_iter().zip(actions) {
                    signalled_xids.insert(xid);
                    let delivered = match (action, &hook) {
                        (Some((pid, ConflictAction::Terminate)), Some(h)) => {
                            let done = h(pid, ConflictAction::Terminate);
                            if !done {
                                self.lock().terminated.remove(&pid);
                            }
                            done
                        }
                        _ => false,
                    };
                    if !delivered {
                        if let Some(c) = cancel {
                            c.store(true, Ordering::SeqCst);
                        }
                    }
                }
                next_signal = Some(now + RESIGNAL);
                g = self.lock();
                continue;
            }
            let wait = match next_signal {
                Some(t) => t
                    .saturating_duration_since(now)
                    .min(Duration::from_millis(200)),
                None => Duration::from_millis(200),
            };
            g = self
                .cond
                .wait_timeout(g, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Ends replay's exclusive lock on `rels` and wakes the readers waiting for it.
    pub fn release_exclusive(&self, rels: &BTreeSet<(u32, u32)>) {
        let mut g = self.lock();
        for r in rels {
            g.exclusive.remove(r);
        }
        drop(g);
        self.cond.notify_all();
    }

    /// The conflict signalled to transaction `xid`, if any: its statement fails with
    /// [`cancel_error`]. Taken and counted once — unless the session is being
    /// terminated for it, which [`StandbyLocks::take_termination`] counts.
    pub fn take_conflict(&self, xid: u32) -> Option<Error> {
        let mut g = self.lock();
        if g.terminated.values().any(|(_, x)| *x == xid) {
            return g.signalled.contains_key(&xid).then(cancel_error);
        }
        let db = g.signalled.remove(&xid)?;
        self.note_occupancy(&g);
        *g.confl_lock.entry(db).or_default() += 1;
        Some(cancel_error())
    }

    /// Whether a conflict was signalled to `xid` and not reported yet.
    pub fn conflict_pending(&self, xid: u32) -> bool {
        self.lock().signalled.contains_key(&xid)
    }

    /// The FATAL error backend `pid` ends with when it was terminated for a conflict
    /// (taken, and counted, once).
    pub fn take_termination(&self, pid: i32) -> Option<Error> {
        let mut g = self.lock();
        let (db, xid) = g.terminated.remove(&pid)?;
        // The transaction's own signal is the same conflict: counted once.
        g.signalled.remove(&xid);
        self.note_occupancy(&g);
        *g.confl_lock.entry(db).or_default() += 1;
        Some(terminate_error())
    }

    /// The relations transaction `xid` holds.
    pub fn held_by(&self, xid: u32) -> Vec<(u32, u32)> {
        self.lock()
            .holders
            .get(&xid)
            .map(|h| h.relations.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Lock conflicts counted in database `db` (`confl_lock`).
    pub fn conflicts(&self, db: u32) -> u64 {
        self.lock().confl_lock.get(&db).copied().unwrap_or(0)
    }
}

/// When replay last found new WAL after running out (PostgreSQL's `XLogReceiptTime`):
/// the delay limits are measured from it.
#[derive(Debug, Default)]
pub struct ReceiptClock {
    /// (receipt time, replay had run out of WAL since).
    state: Mutex<(Option<Instant>, bool)>,
}

impl ReceiptClock {
    /// Replay found no more WAL.
    pub fn ran_dry(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
    }

    /// Replay read a record: the first after running out (or ever) is "received" now.
    pub fn record_read(&self) {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if g.1 || g.0.is_none() {
            *g = (Some(Instant::now()), false);
        }
    }

    /// The receipt time (now when nothing was read yet).
    pub fn receipt(&self) -> Instant {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .unwrap_or_else(Instant::now)
    }
}

/// The relations a replayed transaction's records need AccessExclusiveLock on: tables
/// it drops, and tables whose definition it changes other than by adding indexes
/// (CREATE INDEX takes a weaker lock in PostgreSQL, which a standby never sees).
fn exclusive_relations(
    records: &[super::record::Record],
    catalog: &super::schema::CatalogState,
) -> BTreeSet<(u32, u32)> {
    use super::schema::CatalogChange;
    let mut out = BTreeSet::new();
    for r in records {
        let super::record::Record::Catalog(c) = r else {
            continue;
        };
        match c {
            CatalogChange::DropTable { db, oid } => {
                out.insert((*db, *oid));
            }
            CatalogChange::AlterTable { db, def } => {
                let Some(old) = catalog.tables.get(&(*db, def.oid)) else {
                    continue;
                };
                let only_new_indexes = def.indexes.len() > old.indexes.len()
                    && def.indexes[..old.indexes.len()] == old.indexes[..]
                    && super::schema::TableDef {
                        indexes: old.indexes.clone(),
                        ..def.clone()
                    } == **old;
                if !only_new_indexes && **old != *def {
                    out.insert((*db, def.oid));
                }
            }
            _ => {}
        }
    }
    out
}

impl super::Engine {
    /// The standby relation-lock registry (see this module).
    pub fn standby_locks(&self) -> &StandbyLocks {
        &self.standby_locks
    }

    /// Records that `txn` read relation `rel` of `db`, when this engine is a standby
    /// in recovery (the engine's read entry points call it before they take the state
    /// lock; `LOCK TABLE … IN ACCESS SHARE MODE` calls it too).
    pub fn note_standby_read(&self, txn: &super::Transaction, db: u32, rel: u32) {
        if self.in_recovery() {
            self.standby_locks
                .hold(txn.xid, txn.db, db, rel, txn.cancel.as_ref());
        }
    }

    /// After a statement of transaction `xid` on a standby: fails when it read a table
    /// that is no longer in the catalog. A hold keeps replay from dropping a table, so
    /// such a table was dropped after the statement was planned and before its read
    /// recorded the hold, and was read as empty; PostgreSQL's lock-then-look-up never
    /// reads it at all.
    pub fn check_standby_reads(&self, xid: u32) -> crate::error::Result<()> {
        if !self.in_recovery() {
            return Ok(());
        }
        let held = self.standby_locks.held_by(xid);
        if held.is_empty() {
            return Ok(());
        }
        match self.with_catalog(|c| held.into_iter().find(|k| !c.tables.contains_key(k))) {
            Some((_, oid)) => Err(Error::new(
                sqlstate::INTERNAL_ERROR,
                format!("could not open relation with OID {oid}"),
            )),
            None => Ok(()),
        }
    }

    /// Before replay applies the committed transaction `rec` with `records`: takes the
    /// AccessExclusiveLock its changes need, waiting for standby transactions as
    /// `max_standby_streaming_delay` (WAL the walreceiver flushed) or
    /// `max_standby_archive_delay` (WAL from the archive or pg_wal) allow. Returns the
    /// relations locked, for [`StandbyLocks::release_exclusive`] after the apply.
    pub(super) fn lock_for_replay(
        &self,
        records: &[super::record::Record],
        rec: &super::wal::WalRecord,
    ) -> BTreeSet<(u32, u32)> {
        let rels = self.with_catalog(|c| exclusive_relations(records, c));
        if rels.is_empty() {
            return rels;
        }
        let settings = self.settings();
        let from_stream = self.receive_lsn().is_some_and(|l| l >= rec.end);
        let delay = if from_stream {
            settings.max_standby_streaming_delay
        } else {
            settings.max_standby_archive_delay
        };
        let deadline = delay.map(|d| self.receipt_clock.receipt() + d);
        let activity = self.activity.clone();
        let interrupt = move |xid: u32| {
            activity
                .list()
                .into_iter()
                .find(|s| s.xid == Some(xid))
                .map(|s| {
                    let action = if s.state == "active" {
                        ConflictAction::Cancel
                    } else {
                        ConflictAction::Terminate
                    };
                    (s.pid, action)
                })
        };
        self.standby_locks
            .acquire(&rels, deadline, &interrupt, &|| self.replay_stopping());
        rels
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn rels(v: &[(u32, u32)]) -> BTreeSet<(u32, u32)> {
        v.iter().copied().collect()
    }

    #[test]
    fn acquire_waits_for_a_holder_until_it_releases() {
        let l = Arc::new(StandbyLocks::default());
        l.hold(10, 5, 5, 100, None);
        assert_eq!(l.holders_of(&rels(&[(5, 100)])), [10]);
        assert!(l.holders_of(&rels(&[(5, 101)])).is_empty());
        let l2 = l.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            l2.release(10);
        });
        let started = Instant::now();
        let n = l.acquire(&rels(&[(5, 100)]), None, &|_| None, &|| false);
        assert_eq!(n, 0);
        assert!(started.elapsed() >= Duration::from_millis(140));
        t.join().unwrap();
        l.release_exclusive(&rels(&[(5, 100)]));
    }

    #[test]
    fn past_the_deadline_a_running_statement_is_cancelled_and_counted_once() {
        let l = Arc::new(StandbyLocks::default());
        let flag = Arc::new(AtomicBool::new(false));
        l.hold(10, 5, 5, 100, Some(&flag));
        let hook_calls = Arc::new(AtomicUsize::new(0));
        let calls = hook_calls.clone();
        l.set_signal(Arc::new(move |_, _| {
            calls.fetch_add(1, Ordering::SeqCst);
            true
        }));
        // The session's statement notices its cancel flag and ends its transaction.
        let (l2, f2) = (l.clone(), flag.clone());
        let t = std::thread::spawn(move || {
            while !f2.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
            let e = l2.take_conflict(10).unwrap();
            assert_eq!(e.code, "40001");
            assert_eq!(
                e.message,
                "canceling statement due to conflict with recovery"
            );
            assert!(l2.take_conflict(10).is_none());
            l2.release(10);
        });
        let n = l.acquire(
            &rels(&[(5, 100)]),
            Some(Instant::now()),
            &|xid| (xid == 10).then_some((42, ConflictAction::Cancel)),
            &|| false,
        );
        t.join().unwrap();
        assert_eq!(n, 1);
        assert_eq!(hook_calls.load(Ordering::SeqCst), 0);
        assert_eq!(l.conflicts(5), 1);
        assert_eq!(l.conflicts(6), 0);
        l.release_exclusive(&rels(&[(5, 100)]));
    }

    #[test]
    fn an_idle_transaction_is_ended_by_the_server_hook() {
        let l = Arc::new(StandbyLocks::default());
        let terminated = Arc::new(Mutex::new(Vec::new()));
        let seen = terminated.clone();
        l.set_signal(Arc::new(move |pid, a| {
            seen.lock().unwrap().push((pid, a));
            true
        }));
        l.hold(11, 5, 5, 100, None);
        let l2 = l.clone();
        let t = std::thread::spawn(move || loop {
            if l2.conflict_pending(11) {
                // A statement that notices first fails, but the count is the FATAL's.
                assert!(l2.take_conflict(11).is_some());
            }
            if let Some(e) = l2.take_termination(7) {
                assert_eq!(
                    e.message,
                    "terminating connection due to conflict with recovery"
                );
                assert!(e.hint.is_some());
                assert!(l2.take_conflict(11).is_none(), "counted once");
                assert!(l2.take_termination(7).is_none());
                l2.release(11);
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        });
        l.acquire(
            &rels(&[(5, 100)]),
            Some(Instant::now()),
            &|_| Some((7, ConflictAction::Terminate)),
            &|| false,
        );
        t.join().unwrap();
        assert_eq!(
            terminated.lock().unwrap()[0],
            (7, ConflictAction::Terminate)
        );
        assert_eq!(l.conflicts(5), 1);
    }

    #[test]
    fn a_new_reader_waits_while_replay_holds_the_relation() {
        let l = Arc::new(StandbyLocks::default());
        l.acquire(&rels(&[(5, 100)]), None, &|_| None, &|| false);
        let l2 = l.clone();
        let t = std::thread::spawn(move || {
            let started = Instant::now();
            l2.hold(12, 5, 5, 100, None);
            started.elapsed()
        });
        std::thread::sleep(Duration::from_millis(120));
        l.release_exclusive(&rels(&[(5, 100)]));
        assert!(t.join().unwrap() >= Duration::from_millis(100));
        assert_eq!(l.holders_of(&rels(&[(5, 100)])), [12]);
        // Another relation is never blocked.
        l.acquire(&rels(&[(5, 200)]), Some(Instant::now()), &|_| None, &|| {
            false
        });
        l.hold(13, 5, 5, 100, None);
        l.release_exclusive(&rels(&[(5, 200)]));
    }

    /// Replays until table `oid` is gone from the standby's catalog (20 s at most).
    fn replay_until_dropped(
        e: &crate::storage::Engine,
        cur: &mut crate::storage::recovery::ReplayCursor,
        oid: u32,
    ) {
        let started = Instant::now();
        while e.with_catalog(|c| c.tables.contains_key(&(5, oid))) {
            e.replay_available(cur, Duration::from_millis(50)).unwrap();
            assert!(started.elapsed() < Duration::from_secs(20));
        }
    }

    /// A primary with table `oid` holding 1 and 2, a standby copy of it made before the
    /// primary drops the table, and the standby engine opened with its cursor.
    fn standby_of_a_drop(
        tag: &str,
    ) -> (
        Arc<crate::storage::Engine>,
        crate::storage::recovery::ReplayCursor,
        u32,
    ) {
        use crate::storage::{schema::CatalogChange, Engine, EngineOptions};
        use crate::types::Value;
        let d = crate::testutil::tempdir(&format!("{tag}-p"));
        let s = crate::testutil::tempdir(&format!("{tag}-s"));
        crate::testutil::bootstrap(&d, 1024 * 1024);
        let opts = EngineOptions {
            background: false,
            fsync: false,
            ..EngineOptions::default()
        };
        let p = Engine::open(&d, &opts).unwrap();
        let mut t = p.begin();
        let oid = p.new_oid();
        let def = crate::testutil::int_table(oid);
        p.catalog_change(&mut t, CatalogChange::CreateTable { db: 5, def })
            .unwrap();
        p.insert(&mut t, 5, oid, vec![Value::Int4(1)]).unwrap();
        p.insert(&mut t, 5, oid, vec![Value::Int4(2)]).unwrap();
        p.commit(t, true).unwrap();
        p.shutdown().unwrap();
        drop(p);
        let out = std::process::Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", d.display()))
            .arg(&s)
            .status()
            .unwrap();
        assert!(out.success());
        let p = Engine::open(&d, &opts).unwrap();
        let mut t = p.begin();
        p.catalog_change(&mut t, CatalogChange::DropTable { db: 5, oid })
            .unwrap();
        p.commit(t, true).unwrap();
        drop(p);
        // The primary's WAL reaches the standby's pg_wal (as shipped segments would).
        let out = std::process::Command::new("cp")
            .arg("-a")
            .arg(format!("{}/pg_wal/.", d.display()))
            .arg(s.join("pg_wal"))
            .status()
            .unwrap();
        assert!(out.success());
        let (e, cur) = Engine::open_standby(&s, &opts).unwrap();
        (e, cur, oid)
    }

    fn set_archive_delay(e: &crate::storage::Engine, delay: Option<Duration>) {
        let mut st = e.settings();
        st.max_standby_archive_delay = delay;
        e.set_checkpoint_settings(st);
    }

    #[test]
    fn replay_of_a_drop_waits_for_the_reader_with_minus_one() {
        let (e, mut cur, oid) = standby_of_a_drop("sl-wait");
        set_archive_delay(&e, None);
        let mut reader = e.begin();
        reader.db = 5;
        assert_eq!(e.scan(&reader, 5, oid).len(), 2);
        let e2 = e.clone();
        let ender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            // Still there: replay waits.
            assert!(e2.with_catalog(|c| c.tables.contains_key(&(5, oid))));
            assert_eq!(e2.scan(&reader, 5, oid).len(), 2);
            e2.abort(reader);
        });
        let started = Instant::now();
        replay_until_dropped(&e, &mut cur, oid);
        assert!(started.elapsed() >= Duration::from_millis(290));
        ender.join().unwrap();
        assert_eq!(e.standby_locks().conflicts(5), 0);
    }

    #[test]
    fn replay_of_a_drop_cancels_the_reader_with_zero() {
        let (e, mut cur, oid) = standby_of_a_drop("sl-zero");
        set_archive_delay(&e, Some(Duration::ZERO));
        let flag = Arc::new(AtomicBool::new(false));
        let mut reader = e.begin();
        reader.db = 5;
        reader.cancel = Some(flag.clone());
        assert_eq!(e.scan(&reader, 5, oid).len(), 2);
        let e2 = e.clone();
        let ender = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
            let err = e2.standby_locks().take_conflict(reader.xid).unwrap();
            assert_eq!(err.code, "40001");
            e2.abort(reader);
        });
        replay_until_dropped(&e, &mut cur, oid);
        ender.join().unwrap();
        assert_eq!(e.standby_locks().conflicts(5), 1);
    }

    #[test]
    fn a_table_read_after_replay_dropped_it_fails_the_statement() {
        let (e, mut cur, oid) = standby_of_a_drop("sl-late");
        let mut late = e.begin();
        late.db = 5;
        e.replay_available(&mut cur, Duration::ZERO).unwrap();
        assert!(!e.with_catalog(|c| c.tables.contains_key(&(5, oid))));
        // Planned before the drop, read after it.
        assert!(e.scan(&late, 5, oid).is_empty());
        let err = e.check_standby_reads(late.xid).unwrap_err();
        assert_eq!(
            err.message,
            format!("could not open relation with OID {oid}")
        );
        e.abort(late);
        let other = e.begin();
        assert!(e.check_standby_reads(other.xid).is_ok());
        e.abort(other);
    }
}
