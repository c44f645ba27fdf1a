//! Synchronous replication: which standbys are synchronous, how far they have
//! confirmed the WAL, and the committing sessions that wait for them.
//!
//! What it owns: the parsed `synchronous_standby_names` (set at start-up and on every
//! reload), each standby's priority, the choice of the synchronous standbys among the
//! streaming ones (PostgreSQL's `FIRST n` priority and `ANY n` quorum rules), the three
//! released positions (write, flush, apply) and the wait of a commit for the position
//! its `synchronous_commit` asks for. What it must never do: hold an engine lock, or
//! make a commit wait that PostgreSQL would not make wait (no standby names, an empty
//! transaction, `synchronous_commit = local | off`), or release a commit before the
//! standbys it needs have confirmed its end LSN.
//!
//! Invariants:
//! - a released position only moves forward (PostgreSQL's `WalSndCtl->lsn[mode]`): a
//!   standby that disconnects or is dropped from the list never takes back what it
//!   confirmed;
//! - with no standby names configured nothing waits, and clearing the names on a
//!   reload releases every waiter at once;
//! - the state lock ([`SyncRep::state`]) is taken after the walsender registry's lock
//!   when both are needed, never the other way round, and is never held while
//!   waiting for anything but its own condition variable.
//!
//! One synchronous commit, step by step:
//! 1. the session appends and flushes its commit record (group commit as usual), then
//!    — before its changes become visible, as PostgreSQL's `SyncRepWaitForLSN` runs
//!    before `ProcArrayEndTransaction` — calls [`SyncRep::wait`] with the record's end
//!    LSN and the mode `synchronous_commit` gives ([`WaitMode`]);
//! 2. meanwhile each walsender streams the flushed WAL; on every standby reply it
//!    calls `WalSenders::release_sync_waiters`, which collects the streaming
//!    standbys' positions and priorities ([`Standby`]), picks the synchronous ones
//!    ([`choose`]), computes the positions they have all (FIRST) or a quorum of them
//!    (ANY) confirmed ([`synced_positions`]) and passes them to [`SyncRep::advance`];
//! 3. the waiter wakes once the released position of its mode reaches its LSN — or a
//!    cancel (WARNING, the commit stands), a termination (WARNING, the connection
//!    ends) or a reload that empties the names ends the wait; then the session makes
//!    its changes visible and answers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::config::value::{parse_sync_standby_names, SyncMethod, SyncStandbyNames};
use crate::error::{sqlstate, Error, Severity};
use crate::storage::wal::Lsn;

/// How often a waiting commit looks at its cancel and terminate flags when nothing
/// wakes it (the server wakes waiters when it sets one: this is a backstop).
const POLL: Duration = Duration::from_millis(100);

/// What a commit waits for, from `synchronous_commit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitMode {
    /// `remote_write`: the standbys wrote the WAL (not necessarily to disk).
    Write,
    /// `on`: the standbys flushed the WAL to disk.
    Flush,
    /// `remote_apply`: the standbys replayed it, so their queries see the commit.
    Apply,
}

impl WaitMode {
    /// The mode a `synchronous_commit` value asks for; `None` for `local` and `off`
    /// (and any value that is not a remote level), which never wait for a standby.
    pub fn from_synchronous_commit(value: &str) -> Option<WaitMode> {
        match value {
            "remote_write" => Some(WaitMode::Write),
            "on" => Some(WaitMode::Flush),
            "remote_apply" => Some(WaitMode::Apply),
            _ => None,
        }
    }

    fn index(self) -> usize {
        match self {
            WaitMode::Write => 0,
            WaitMode::Flush => 1,
            WaitMode::Apply => 2,
        }
    }
}

/// How a commit's wait for the synchronous standbys ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOutcome {
    /// No wait was needed (no standby names, or the position was already confirmed).
    NotRequired,
    /// The synchronous standbys confirmed the commit, or the names were cleared.
    Released,
    /// A cancel request ended the wait: the commit stands, a WARNING says so.
    Canceled,
    /// A termination ended the wait: the commit stands, a WARNING says so, and the
    /// connection ends without another message.
    Terminated,
}

impl WaitOutcome {
    /// The WARNING the client gets when the wait was given up (PostgreSQL's texts).
    pub fn warning(self) -> Option<Error> {
        let detail = "The transaction has already committed locally, but might not have been replicated to the standby.";
        match self {
            WaitOutcome::NotRequired | WaitOutcome::Released => None,
            WaitOutcome::Canceled => Some(
                Error::new(
                    sqlstate::WARNING,
                    "canceling wait for synchronous replication due to user request",
                )
                .with_severity(Severity::Warning)
                .with_detail(detail),
            ),
            WaitOutcome::Terminated => Some(
                Error::new(
                    sqlstate::ADMIN_SHUTDOWN,
                    "canceling the wait for synchronous replication and terminating connection due to administrator command",
                )
                .with_severity(Severity::Warning)
                .with_detail(detail),
            ),
        }
    }
}

/// One streaming standby as the choice of synchronous standbys sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standby {
    /// Its walsender's pid.
    pub pid: i32,
    /// Its walsender's place in the walsender array (PostgreSQL's index): ties
    /// between equal priorities go to the lower one.
    pub order: usize,
    /// Its priority (see [`priority`]); 0 is asynchronous.
    pub priority: u32,
    /// Whether it may be chosen: streaming (or stopping) and with a valid flush
    /// position, as PostgreSQL's candidates must be.
    pub eligible: bool,
    /// Its reported write position.
    pub write: Lsn,
    /// Its reported flush position.
    pub flush: Lsn,
    /// Its reported apply position.
    pub apply: Lsn,
}

/// A standby's priority for `application_name` under `names`: its 1-based place in
/// the list (the first match, compared without regard to case; `*` matches any
/// name), 1 for every listed standby under `ANY` (quorum), 0 when not listed.
pub fn priority(names: &SyncStandbyNames, application_name: &str) -> u32 {
    let found = names
        .names
        .iter()
        .position(|n| n == "*" || n.eq_ignore_ascii_case(application_name));
    match (found, names.method) {
        (None, _) => 0,
        (Some(_), SyncMethod::Quorum) => 1,
        (Some(i), SyncMethod::Priority) => i as u32 + 1,
    }
}

/// The synchronous standbys among `standbys` (indexes into it): every eligible one
/// with a priority; under `FIRST n` (priority) only the `n` of highest priority
/// (lowest number, then lowest place in the walsender array) when there are more.
pub fn choose(names: &SyncStandbyNames, standbys: &[Standby]) -> Vec<usize> {
    let mut chosen: Vec<usize> = (0..standbys.len())
        .filter(|&i| standbys[i].eligible && standbys[i].priority > 0)
        .collect();
    if names.method == SyncMethod::Priority && chosen.len() > names.num_sync as usize {
        chosen.sort_by_key(|&i| (standbys[i].priority, standbys[i].order));
        chosen.truncate(names.num_sync as usize);
    }
    chosen
}

/// The write, flush and apply positions the synchronous standbys have confirmed, or
/// `None` while fewer than `n` are connected: under `FIRST n` the oldest of each
/// among the chosen, under `ANY n` the n-th newest of each among all candidates.
pub fn synced_positions(names: &SyncStandbyNames, standbys: &[Standby]) -> Option<[Lsn; 3]> {
    let chosen = choose(names, standbys);
    let n = names.num_sync as usize;
    if n == 0 || chosen.len() < n {
        return None;
    }
    let column = |f: fn(&Standby) -> Lsn| -> Lsn {
        let mut v: Vec<Lsn> = chosen.iter().map(|&i| f(&standbys[i])).collect();
        match names.method {
            SyncMethod::Priority => v.into_iter().min().unwrap_or(Lsn::INVALID),
            SyncMethod::Quorum => {
                v.sort_by(|a, b| b.cmp(a));
                v[n - 1]
            }
        }
    };
    Some([
        column(|s| s.write),
        column(|s| s.flush),
        column(|s| s.apply),
    ])
}

/// What `pg_stat_replication.sync_state` shows for `standbys[i]`: `async` without a
/// priority, `sync` (FIRST) or `quorum` (ANY) when chosen, `potential` otherwise.
pub fn sync_state(names: &SyncStandbyNames, standbys: &[Standby], i: usize) -> &'static str {
    if standbys[i].priority == 0 {
        "async"
    } else if choose(names, standbys).contains(&i) {
        match names.method {
            SyncMethod::Priority => "sync",
            SyncMethod::Quorum => "quorum",
        }
    } else {
        "potential"
    }
}

/// The shared state of synchronous replication (one per server, owned by the
/// walsender registry).
pub struct SyncRep {
    /// The configuration and released positions. Lock order: after the walsender
    /// registry's lock; waiters hold it only inside [`Condvar::wait_timeout`].
    state: Mutex<State>,
    /// Signalled whenever a released position moves or the configuration changes.
    cond: Condvar,
    /// Whether standby names are configured: the lock-free first check of every
    /// commit (PostgreSQL's `sync_standbys_defined`), set under the state lock.
    defined: AtomicBool,
}

struct State {
    /// The parsed `synchronous_standby_names`; `None` when empty (or unparsable,
    /// which the configuration layer already refused).
    names: Option<SyncStandbyNames>,
    /// The write, flush and apply positions released so far; only ever advanced.
    released: [Lsn; 3],
}

impl Default for SyncRep {
    fn default() -> Self {
        SyncRep::new()
    }
}

impl SyncRep {
    /// No standby names, nothing released.
    pub fn new() -> SyncRep {
        SyncRep {
            state: Mutex::new(State {
                names: None,
                released: [Lsn::INVALID; 3],
            }),
            cond: Condvar::new(),
            defined: AtomicBool::new(false),
        }
    }

    /// Whether synchronous standbys are configured (a commit may have to wait).
    pub fn defined(&self) -> bool {
        self.defined.load(Ordering::SeqCst)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a new `synchronous_standby_names` value (start-up, reload). Waiters look
    /// again at once: with no names left they are all released.
    pub fn configure(&self, value: &str) {
        let names = parse_sync_standby_names(value).ok().flatten();
        let mut st = self.lock();
        if st.names != names {
            self.defined.store(names.is_some(), Ordering::SeqCst);
            st.names = names;
            drop(st);
            self.cond.notify_all();
        }
    }

    /// The current standby names, if synchronous replication is configured.
    pub fn names(&self) -> Option<SyncStandbyNames> {
        self.lock().names.clone()
    }

    /// Moves the released positions forward to `positions` (never back) and wakes
    /// the waiters when one moved.
    pub fn advance(&self, positions: [Lsn; 3]) {
        let mut st = self.lock();
        let mut moved = false;
        for (r, p) in st.released.iter_mut().zip(positions) {
            if p > *r {
                *r = p;
                moved = true;
            }
        }
        drop(st);
        if moved {
            self.cond.notify_all();
        }
    }

    /// The released position of `mode`.
    pub fn released(&self, mode: WaitMode) -> Lsn {
        self.lock().released[mode.index()]
    }

    /// Wakes every waiter so it looks at its flags now (a cancel or termination). The
    /// state lock is taken first, so a waiter between its flag check and its wait
    /// cannot miss the wake-up.
    pub fn wake(&self) {
        drop(self.lock());
        self.cond.notify_all();
    }

    /// Waits until the synchronous standbys have confirmed `lsn` as `mode` asks, the
    /// standby names are cleared, or `cancel` / `terminate` is set (the cancel flag is
    /// consumed, as a handled query cancel is). Blocking; holds no engine lock.
    /// `waiting` is called with `true` before it blocks and `false` after (for
    /// `pg_stat_activity`), never when no wait is needed.
    pub fn wait(
        &self,
        lsn: Lsn,
        mode: WaitMode,
        cancel: &AtomicBool,
        terminate: &AtomicBool,
        waiting: &mut dyn FnMut(bool),
    ) -> WaitOutcome {
        let st = self.lock();
        if st.names.is_none() || st.released[mode.index()] >= lsn {
            return WaitOutcome::NotRequired;
        }
        drop(st);
        waiting(true);
        let outcome = self.wait_blocking(lsn, mode, cancel, terminate);
        waiting(false);
        outcome
    }

    fn wait_blocking(
        &self,
        lsn: Lsn,
        mode: WaitMode,
        cancel: &AtomicBool,
        terminate: &AtomicBool,
    ) -> WaitOutcome {
        let mut st = self.lock();
        loop {
            if st.names.is_none() || st.released[mode.index()] >= lsn {
                return WaitOutcome::Released;
            }
            if terminate.load(Ordering::SeqCst) {
                return WaitOutcome::Terminated;
            }
            if cancel.swap(false, Ordering::SeqCst) {
                return WaitOutcome::Canceled;
            }
            st = match self.cond.wait_timeout(st, POLL) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn names(s: &str) -> SyncStandbyNames {
        parse_sync_standby_names(s).unwrap().unwrap()
    }

    fn standby(pid: i32, app: &str, n: &SyncStandbyNames, flush: u64) -> Standby {
        Standby {
            pid,
            order: pid as usize,
            priority: priority(n, app),
            eligible: true,
            write: Lsn(flush + 10),
            flush: Lsn(flush),
            apply: Lsn(flush - 10),
        }
    }

    #[test]
    fn priorities_follow_the_list() {
        let n = names("FIRST 1 (a, \"B\", *)");
        assert_eq!(priority(&n, "a"), 1);
        assert_eq!(priority(&n, "A"), 1);
        assert_eq!(priority(&n, "b"), 2);
        assert_eq!(priority(&n, "zz"), 3);
        let n = names("a, b");
        assert_eq!((priority(&n, "b"), priority(&n, "c")), (2, 0));
        let n = names("ANY 2 (a, b, c)");
        assert_eq!((priority(&n, "c"), priority(&n, "d")), (1, 0));
        let n = names("*");
        assert_eq!(priority(&n, "walreceiver"), 1);
    }

    #[test]
    fn first_n_chooses_by_priority_and_waits_for_all_n() {
        let n = names("FIRST 1 (a, b)");
        let s = vec![standby(10, "b", &n, 500), standby(11, "a", &n, 300)];
        assert_eq!(choose(&n, &s), vec![1]);
        assert_eq!(sync_state(&n, &s, 0), "potential");
        assert_eq!(sync_state(&n, &s, 1), "sync");
        // The synced position is the chosen standby's, not the further one's.
        assert_eq!(synced_positions(&n, &s).unwrap()[1], Lsn(300));
        // When a is not streaming, b takes over.
        let mut s2 = s.clone();
        s2[1].eligible = false;
        assert_eq!(sync_state(&n, &s2, 0), "sync");
        assert_eq!(synced_positions(&n, &s2).unwrap()[1], Lsn(500));
        // FIRST 2: the oldest of both, and nothing while only one streams.
        let n2 = names("FIRST 2 (a, b)");
        let s3 = vec![standby(10, "b", &n2, 500), standby(11, "a", &n2, 300)];
        assert_eq!(
            synced_positions(&n2, &s3).unwrap(),
            [Lsn(310), Lsn(300), Lsn(290)]
        );
        let mut s3b = s3.clone();
        s3b[1].eligible = false;
        assert_eq!(synced_positions(&n2, &s3b), None);
        // Equal priorities (`*`) go to the lower place in the walsender array.
        let n3 = names("*");
        let s4 = vec![standby(20, "x", &n3, 100), standby(7, "y", &n3, 50)];
        assert_eq!(sync_state(&n3, &s4, 1), "sync");
        assert_eq!(sync_state(&n3, &s4, 0), "potential");
        // An unlisted standby is async.
        let s5 = vec![standby(1, "zz", &n, 100)];
        assert_eq!(sync_state(&n, &s5, 0), "async");
        assert_eq!(synced_positions(&n, &s5), None);
    }

    #[test]
    fn any_n_is_a_quorum() {
        let n = names("ANY 2 (a, b, c)");
        let s = vec![
            standby(1, "a", &n, 100),
            standby(2, "b", &n, 300),
            standby(3, "c", &n, 200),
        ];
        for i in 0..3 {
            assert_eq!(sync_state(&n, &s, i), "quorum");
        }
        // The second newest of each position.
        assert_eq!(
            synced_positions(&n, &s).unwrap(),
            [Lsn(210), Lsn(200), Lsn(190)]
        );
        assert_eq!(synced_positions(&n, &s[..1]), None);
        let n1 = names("ANY 1 (a, b)");
        let s1 = vec![standby(1, "a", &n1, 100), standby(2, "b", &n1, 300)];
        assert_eq!(synced_positions(&n1, &s1).unwrap()[1], Lsn(300));
    }

    #[test]
    fn waits_end_on_release_cancel_termination_and_clearing() {
        let sr = Arc::new(SyncRep::new());
        let (cancel, terminate) = (AtomicBool::new(false), AtomicBool::new(false));
        // Not configured: no wait.
        assert!(!sr.defined());
        assert_eq!(
            sr.wait(Lsn(100), WaitMode::Flush, &cancel, &terminate, &mut |_| {}),
            WaitOutcome::NotRequired
        );
        sr.configure("s1");
        assert!(sr.defined());
        sr.advance([Lsn(200), Lsn(100), Lsn(50)]);
        assert_eq!(
            sr.wait(Lsn(100), WaitMode::Flush, &cancel, &terminate, &mut |_| {}),
            WaitOutcome::NotRequired
        );
        // Positions never go back.
        sr.advance([Lsn(1), Lsn(1), Lsn(1)]);
        assert_eq!(sr.released(WaitMode::Write), Lsn(200));
        // Released by a standby's progress; `waiting` hears of the blocking wait.
        let t = {
            let sr = sr.clone();
            std::thread::spawn(move || {
                let (c, t) = (AtomicBool::new(false), AtomicBool::new(false));
                let mut seen = Vec::new();
                let r = sr.wait(Lsn(150), WaitMode::Apply, &c, &t, &mut |on| seen.push(on));
                (r, seen)
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(!t.is_finished());
        sr.advance([Lsn(200), Lsn(200), Lsn(150)]);
        assert_eq!(
            t.join().unwrap(),
            (WaitOutcome::Released, vec![true, false])
        );
        let mut seen = Vec::new();
        sr.wait(Lsn(150), WaitMode::Apply, &cancel, &terminate, &mut |on| {
            seen.push(on)
        });
        assert!(seen.is_empty());
        // Cancel (consumed) and termination.
        cancel.store(true, Ordering::SeqCst);
        assert_eq!(
            sr.wait(Lsn(900), WaitMode::Write, &cancel, &terminate, &mut |_| {}),
            WaitOutcome::Canceled
        );
        assert!(!cancel.load(Ordering::SeqCst));
        terminate.store(true, Ordering::SeqCst);
        assert_eq!(
            sr.wait(Lsn(900), WaitMode::Write, &cancel, &terminate, &mut |_| {}),
            WaitOutcome::Terminated
        );
        // Clearing the names releases a waiter.
        let t = {
            let sr = sr.clone();
            std::thread::spawn(move || {
                let (c, t) = (AtomicBool::new(false), AtomicBool::new(false));
                sr.wait(Lsn(900), WaitMode::Flush, &c, &t, &mut |_| {})
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(!t.is_finished());
        sr.configure("");
        assert_eq!(t.join().unwrap(), WaitOutcome::Released);
    }

    #[test]
    fn warnings_have_postgresql_texts() {
        let c = WaitOutcome::Canceled.warning().unwrap();
        assert_eq!(c.code, "01000");
        assert_eq!(
            c.message,
            "canceling wait for synchronous replication due to user request"
        );
        let t = WaitOutcome::Terminated.warning().unwrap();
        assert_eq!(t.code, "57P01");
        assert!(t
            .detail
            .unwrap()
            .starts_with("The transaction has already committed locally"));
        assert!(WaitOutcome::Released.warning().is_none());
        assert_eq!(WaitMode::from_synchronous_commit("local"), None);
        assert_eq!(
            WaitMode::from_synchronous_commit("remote_apply"),
            Some(WaitMode::Apply)
        );
    }
}
