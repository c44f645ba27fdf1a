//! The backend activity table: one entry per live session of this engine, what
//! `pg_stat_activity`, `pg_stat_database.numbackends` and `pg_locks` report (the views
//! themselves are `catalog::pg_stat`).
//!
//! # What it owns
//!
//! For each session: who and where it is (pid, database, user, application name,
//! client address), when it started, and what it is doing now (state, current or
//! last query, when the query and the transaction started). Sessions write their
//! own entry (`sql::Session` at start, before and after each statement, and at its
//! end through [`Registration`]'s `Drop`); readers take a copy.
//!
//! It lives with the engine, not the server, so that every session of an engine —
//! those the server starts and those tests and tools start — is listed, and sessions
//! of another engine in the same process are not.
//!
//! Invariants: an entry exists exactly while its [`Registration`] lives; the one
//! mutex is never held while anything else is locked or awaited.
//!
//! What this module must never do: decide anything for a session (cancelling and
//! terminating are the server's business), or keep an entry after its session ended.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// What one backend is doing, as `pg_stat_activity` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendStatus {
    /// The backend's pid (BackendKeyData's).
    pub pid: i32,
    /// The database connected to.
    pub database: String,
    /// The authenticated user.
    pub user: String,
    /// `application_name` as the session has it now.
    pub application_name: String,
    /// The client's IP address; `None` for a Unix-domain socket (or no socket).
    pub client_addr: Option<String>,
    /// The client's TCP port; `None` for a Unix-domain socket.
    pub client_port: Option<i32>,
    /// When the backend started (PostgreSQL timestamp microseconds).
    pub backend_start: i64,
    /// When the current transaction started; `None` outside one.
    pub xact_start: Option<i64>,
    /// The transaction id of the open transaction, if any (tusk gives every
    /// transaction one when it begins).
    pub xid: Option<u32>,
    /// When the current (or last) query started; `None` before the first.
    pub query_start: Option<i64>,
    /// When `state` last changed.
    pub state_change: Option<i64>,
    /// `active`, `idle`, `idle in transaction`, `idle in transaction (aborted)`.
    pub state: &'static str,
    /// The current query, or the last one when idle.
    pub query: String,
    /// `client backend`, or `walsender` for a replication connection.
    pub backend_type: &'static str,
    /// What an active backend waits for, as `(wait_event_type, wait_event)`
    /// (`("IPC", "SyncRep")` while a commit waits for synchronous standbys).
    pub wait_event: Option<(&'static str, &'static str)>,
}

/// The table of live backends of an engine, by registration number (sessions that
/// share a pid, as tests' may, keep entries of their own). Locks: one mutex around the
/// map and the counter, taken to register, unregister and list; one per entry, taken by
/// its session twice a statement — so sessions never queue behind each other to say
/// what they are doing.
#[derive(Debug, Default)]
pub struct Activity {
    backends: Mutex<Table>,
}

/// The last registration number given, and the live entries by number.
type Table = (u64, BTreeMap<u64, Arc<Mutex<BackendStatus>>>);

/// A session's entry in the table: removed when this is dropped.
#[derive(Debug)]
pub struct Registration {
    table: Arc<Activity>,
    id: u64,
    entry: Arc<Mutex<BackendStatus>>,
}

fn lock_entry(e: &Mutex<BackendStatus>) -> MutexGuard<'_, BackendStatus> {
    e.lock().unwrap_or_else(|p| p.into_inner())
}

impl Activity {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.backends.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a backend; the entry lives as long as the returned registration.
    pub fn register(table: &Arc<Activity>, status: BackendStatus) -> Registration {
        let entry = Arc::new(Mutex::new(status));
        let mut t = table.lock();
        t.0 += 1;
        let id = t.0;
        t.1.insert(id, entry.clone());
        Registration {
            table: table.clone(),
            id,
            entry,
        }
    }

    /// A copy of every live backend's status, in pid order.
    pub fn list(&self) -> Vec<BackendStatus> {
        let mut v: Vec<BackendStatus> = self
            .lock()
            .1
            .values()
            .map(|e| lock_entry(e).clone())
            .collect();
        v.sort_by_key(|s| s.pid);
        v
    }

    /// Each live backend's `(backend_type, state)`, without copying the rest of its
    /// entry (what the metrics endpoint counts on every scrape).
    pub fn states(&self) -> Vec<(&'static str, &'static str)> {
        self.lock()
            .1
            .values()
            .map(|e| {
                let s = lock_entry(e);
                (s.backend_type, s.state)
            })
            .collect()
    }
}

impl Registration {
    /// Changes the session's entry (under its own lock only).
    pub fn update(&self, f: impl FnOnce(&mut BackendStatus)) {
        f(&mut lock_entry(&self.entry));
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.table.lock().1.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(pid: i32) -> BackendStatus {
        BackendStatus {
            pid,
            database: "postgres".into(),
            user: "postgres".into(),
            application_name: String::new(),
            client_addr: None,
            client_port: None,
            backend_start: 0,
            xact_start: None,
            xid: None,
            query_start: None,
            state_change: None,
            state: "idle",
            query: String::new(),
            backend_type: "client backend",
            wait_event: None,
        }
    }

    #[test]
    fn entries_live_as_long_as_their_registration() {
        let table = Arc::new(Activity::default());
        let a = Activity::register(&table, status(7));
        {
            let _b = Activity::register(&table, status(3));
            assert_eq!(
                table.list().iter().map(|s| s.pid).collect::<Vec<_>>(),
                [3, 7]
            );
        }
        a.update(|s| s.state = "active");
        assert_eq!(table.states(), [("client backend", "active")]);
        assert_eq!(table.list().len(), 1);
        assert_eq!(table.list()[0].state, "active");
        drop(a);
        assert!(table.list().is_empty());
    }

    #[test]
    fn sessions_sharing_a_pid_keep_their_own_entries() {
        let table = Arc::new(Activity::default());
        let a = Activity::register(&table, status(1));
        let b = Activity::register(&table, status(1));
        b.update(|s| s.state = "active");
        drop(a);
        assert_eq!(table.list().len(), 1);
        assert_eq!(table.list()[0].state, "active");
    }
}
