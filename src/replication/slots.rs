//! Physical replication slots: which exist, which WAL they keep, who uses them.
//!
//! What it owns: the slot table (persistent slots under `pg_replslot/<name>/state`,
//! temporary ones in memory), slot acquisition by walsenders, the rows of
//! `pg_replication_slots`, and the oldest LSN the slots need, which it reports to the
//! engine for WAL retention through [`crate::storage::SlotRetention`] (registered with
//! [`Engine::set_slot_retention`] by [`SlotManager::open`]), including invalidating
//! slots beyond `max_slot_wal_keep_size` and having their walsender terminated (the
//! server's `pg_terminate_backend`, given by [`SlotManager::set_terminator`]). What it
//! must never do: delete WAL itself, or wait for anything while holding its table lock
//! (state files are small and written under the lock only on creation, drop, release,
//! advance and checkpoint; `drop_slot(wait)` waits on a condition variable).
//!
//! Invariants:
//! - A persistent slot exists on disk as `pg_replslot/<name>/state` (PostgreSQL's
//!   directory names; tusk's own small file format: magic, version, restart LSN and
//!   timeline, xmin, the LSN it was invalidated at, the name, CRC-32C of all of it).
//!   The file is written to `state.tmp`, fsynced, renamed over `state`, and the
//!   directory fsynced; a new slot's directory is built as `<name>.tmp` and renamed;
//!   a dropped slot's directory is renamed to `<name>.tmp` before it is removed.
//!   Leftover `*.tmp` directories are removed at start, as PostgreSQL does.
//! - Temporary slots are never on disk; they belong to the backend that created
//!   them and go when it ends ([`SlotManager::connection_ended`]) or errors
//!   ([`SlotManager::error_cleanup`]).
//! - A slot's `restart_lsn` only moves forward while the slot is valid; the slot
//!   table's minimum over all slots is what a checkpoint must keep, unless that is
//!   older than `max_slot_wal_keep_size` allows: then the slot is invalidated
//!   (`restart_lsn` NULL, `wal_status = lost`) with PostgreSQL's log line.
//! - Progress reported by a standby (`confirm_flush`) is written to disk at the next
//!   checkpoint or when the slot is released: after a crash a slot may keep more WAL
//!   than it needs, never less.
//!
//! `pg_create_physical_replication_slot('s', true)`, step by step:
//! 1. the SQL function calls [`SlotManager::create`] with `reserve_wal = true`;
//! 2. the name is checked (`[a-z0-9_]`, at most 63 bytes), then the table (duplicate,
//!    `max_replication_slots`);
//! 3. `restart_lsn` becomes the last checkpoint's redo LSN (PostgreSQL's
//!    `GetRedoRecPtr()` for physical slots), so every WAL record needed to reach a
//!    consistent state from there is kept;
//! 4. the state file is written durably, then the slot is visible in the table;
//! 5. from then on every checkpoint asks [`crate::storage::SlotRetention`] for the
//!    minimum `restart_lsn` and keeps the segments from there on.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{sqlstate, Error, Result};
use crate::storage::wal::Lsn;
use crate::storage::{Engine, SlotRetention};
use crate::types::Value;
use crate::{bail, err};

/// The longest slot name (PostgreSQL's `NAMEDATALEN - 1`).
pub const MAX_SLOT_NAME_LEN: usize = 63;

/// How long `drop_slot(wait = true)` waits for the slot's walsender to let go.
const DROP_WAIT_LIMIT: Duration = Duration::from_secs(60);

const STATE_MAGIC: u32 = 0x5453_4C54; // "TSLT"
const STATE_VERSION: u32 = 1;

/// One slot as the views and commands see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInfo {
    /// The slot name.
    pub name: String,
    /// Dropped when its connection ends.
    pub temporary: bool,
    /// The walsender (backend pid) using it.
    pub active_pid: Option<i32>,
    /// The oldest WAL the slot keeps; None until reserved.
    pub restart_lsn: Option<Lsn>,
    /// The timeline of `restart_lsn`.
    pub restart_tli: Option<u32>,
}

/// One slot in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Slot {
    name: String,
    temporary: bool,
    /// The backend that created a temporary slot.
    owner: i32,
    active_pid: Option<i32>,
    restart_lsn: Option<Lsn>,
    restart_tli: Option<u32>,
    /// The xmin reported by hot-standby feedback through this slot.
    xmin: Option<u32>,
    /// Where `restart_lsn` was when the slot was invalidated by
    /// `max_slot_wal_keep_size` (PostgreSQL's `invalidated_at`).
    invalidated_at: Option<Lsn>,
    /// Changed since the state file was written.
    dirty: bool,
}

impl Slot {
    fn info(&self) -> SlotInfo {
        SlotInfo {
            name: self.name.clone(),
            temporary: self.temporary,
            active_pid: self.active_pid,
            restart_lsn: self.restart_lsn,
            restart_tli: self.restart_tli,
        }
    }
}

/// The shared slot table; the engine holds it (as its [`SlotRetention`]) next to the
/// [`SlotManager`].
struct SlotTable {
    /// `<datadir>/pg_replslot`.
    dir: PathBuf,
    slots: Mutex<BTreeMap<String, Slot>>,
    /// Signalled whenever a slot is released or dropped.
    released: Condvar,
    /// `max_replication_slots`.
    max_slots: AtomicUsize,
    /// Ends a backend (pg_terminate_backend) whose slot was invalidated.
    terminator: Mutex<Option<Terminator>>,
}

/// How the slot table ends the walsender of an invalidated slot.
pub type Terminator = Arc<dyn Fn(i32) -> bool + Send + Sync>;

/// The slot table, shared by walsenders and SQL functions.
pub struct SlotManager {
    engine: Arc<Engine>,
    table: Arc<SlotTable>,
}

/// The WAL retention of one slot as `pg_replication_slots` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalStatus {
    /// Within `max_wal_size`.
    Reserved,
    /// Kept beyond `max_wal_size` because of the slot (or `wal_keep_size`).
    Extended,
    /// No longer kept: the next checkpoint removes it.
    Unreserved,
    /// Removed: the slot is no longer usable.
    Lost,
}

impl WalStatus {
    /// PostgreSQL's text for the status.
    pub fn as_str(self) -> &'static str {
        match self {
            WalStatus::Reserved => "reserved",
            WalStatus::Extended => "extended",
            WalStatus::Unreserved => "unreserved",
            WalStatus::Lost => "lost",
        }
    }
}

/// The WAL facts `wal_status` and `safe_wal_size` are computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalPosition {
    /// The current WAL write position (`pg_current_wal_lsn()`).
    pub current: Lsn,
    /// The last checkpoint's redo LSN.
    pub redo: Lsn,
    /// The WAL segment size.
    pub segment_size: u64,
    /// `max_wal_size` in bytes.
    pub max_wal_size: u64,
    /// `wal_keep_size` in bytes.
    pub wal_keep_size: u64,
    /// `max_slot_wal_keep_size` in bytes; None for -1 (unlimited).
    pub max_slot_wal_keep_size: Option<u64>,
    /// The oldest segment number still in `pg_wal`.
    pub oldest_segment: u64,
    /// The oldest `restart_lsn` of all slots.
    pub slots_min: Option<Lsn>,
}

impl WalPosition {
    /// PostgreSQL's `KeepLogSeg` from the current position: the oldest segment the
    /// slots and `wal_keep_size` keep.
    fn oldest_kept_by_slots(&self) -> u64 {
        let seg = self.segment_size.max(1);
        let current = self.current.0 / seg;
        let mut segno = current;
        if let Some(min) = self.slots_min.filter(|m| m.0 > 0 && *m < self.current) {
            segno = min.0 / seg;
            if let Some(max) = self.max_slot_wal_keep_size {
                let keep = max / seg;
                if current - segno > keep {
                    segno = current - keep;
                }
            }
        }
        let keep = self.wal_keep_size / seg;
        if keep > 0 && current - segno < keep {
            segno = current.saturating_sub(keep).max(1);
        }
        segno
    }

    /// PostgreSQL's `GetWALAvailability` for a slot whose `restart_lsn` is `target`.
    pub fn status(&self, target: Lsn) -> WalStatus {
        let seg = self.segment_size.max(1);
        let target_seg = target.0 / seg;
        let current = self.current.0 / seg;
        let keep = self.max_wal_size / seg + 1;
        let oldest_max_wal_size = if current > keep { current - keep } else { 1 };
        if target_seg >= self.oldest_kept_by_slots() {
            if target_seg >= oldest_max_wal_size {
                WalStatus::Reserved
            } else {
                WalStatus::Extended
            }
        } else if target_seg >= self.oldest_segment {
            WalStatus::Unreserved
        } else {
            WalStatus::Lost
        }
    }

    /// `safe_wal_size`: bytes that can still be written before the slot's WAL is
    /// lost (None when `max_slot_wal_keep_size` is -1).
    pub fn safe_wal_size(&self, target: Lsn) -> Option<i64> {
        let max = self.max_slot_wal_keep_size?;
        let seg = self.segment_size.max(1);
        let target_seg = target.0 / seg;
        let keep = (max / seg).max(self.wal_keep_size / seg);
        let fail = (target_seg + keep + 1).saturating_mul(seg);
        Some(fail as i64 - self.current.0 as i64)
    }
}

/// Checks a slot name as PostgreSQL's `ReplicationSlotValidateName`.
pub fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() {
        bail!(
            sqlstate::INVALID_NAME,
            "replication slot name \"{name}\" is too short"
        );
    }
    if name.len() > MAX_SLOT_NAME_LEN {
        bail!(
            sqlstate::NAME_TOO_LONG,
            "replication slot name \"{name}\" is too long"
        );
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(err!(
            sqlstate::INVALID_NAME,
            "replication slot name \"{name}\" contains invalid character"
        )
        .with_hint(
            "Replication slot names may only contain lower case letters, numbers, and the underscore character.",
        ));
    }
    Ok(())
}

fn missing(name: &str) -> Error {
    err!(
        sqlstate::UNDEFINED_OBJECT,
        "replication slot \"{name}\" does not exist"
    )
}

fn active_for(name: &str, pid: i32) -> Error {
    err!(
        sqlstate::OBJECT_IN_USE,
        "replication slot \"{name}\" is active for PID {pid}"
    )
}

impl SlotManager {
    /// Loads the persistent slots of `datadir` and reports their needs to `engine`.
    pub fn open(datadir: &Path, engine: Arc<Engine>) -> Result<SlotManager> {
        let dir = datadir.join("pg_replslot");
        fs::create_dir_all(&dir).map_err(|e| {
            Error::io(
                format!("could not create directory \"{}\"", dir.display()),
                e,
            )
        })?;
        let mut slots = BTreeMap::new();
        let entries = fs::read_dir(&dir)
            .map_err(|e| Error::io(format!("could not open directory \"{}\"", dir.display()), e))?;
        for entry in entries.flatten() {
            let fname = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if fname.ends_with(".tmp") {
                // A creation or drop that did not finish.
                if let Err(e) = fs::remove_dir_all(&path) {
                    tracing::warn!("could not remove directory \"{}\": {e}", path.display());
                }
                continue;
            }
            let slot = read_state(&path.join("state"))?;
            slots.insert(slot.name.clone(), slot);
        }
        // From the configuration files; the server sets it again with its command-line
        // overrides (set_max_slots).
        let max_slots = crate::config::ServerConfig::load(datadir, &[])
            .map(|c| c.get_int("max_replication_slots").max(0) as usize)
            .unwrap_or(10);
        if slots.len() > max_slots {
            return Err(Error::fatal(
                sqlstate::CONFIGURATION_LIMIT_EXCEEDED,
                "too many replication slots active before shutdown",
            )
            .with_hint("Increase max_replication_slots and try again."));
        }
        let table = Arc::new(SlotTable {
            dir,
            slots: Mutex::new(slots),
            released: Condvar::new(),
            max_slots: AtomicUsize::new(max_slots),
            terminator: Mutex::new(None),
        });
        engine.set_slot_retention(table.clone());
        Ok(SlotManager { engine, table })
    }

    /// Sets `max_replication_slots` (read from the configuration files at open; the
    /// server calls this when it knows the value with its command-line overrides).
    pub fn set_max_slots(&self, n: usize) {
        self.table.max_slots.store(n, Ordering::SeqCst);
    }

    /// Sets how a walsender using a slot that `max_slot_wal_keep_size` invalidates is
    /// ended (the server passes its `pg_terminate_backend`), as PostgreSQL's
    /// checkpointer signals it.
    pub fn set_terminator(&self, f: Terminator) {
        *self
            .table
            .terminator
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(f);
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Slot>> {
        self.table.lock()
    }

    /// The position a newly reserving slot starts at: the last checkpoint's redo LSN
    /// (PostgreSQL's `GetRedoRecPtr()` for physical slots), with its timeline.
    fn reserve_position(&self) -> (Lsn, u32) {
        let (_, redo) = self.engine.last_checkpoint();
        (redo, self.engine.timeline())
    }

    /// Creates a physical slot (`CREATE_REPLICATION_SLOT`,
    /// `pg_create_physical_replication_slot`); `owner` is the creating backend (for
    /// temporary slots).
    pub fn create(
        &self,
        name: &str,
        temporary: bool,
        reserve_wal: bool,
        owner: i32,
    ) -> Result<SlotInfo> {
        if self.table.max_slots.load(Ordering::SeqCst) == 0 {
            bail!(
                sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                "replication slots can only be used if max_replication_slots > 0"
            );
        }
        validate_name(name)?;
        let mut slots = self.lock();
        if slots.contains_key(name) {
            bail!(
                sqlstate::DUPLICATE_OBJECT,
                "replication slot \"{name}\" already exists"
            );
        }
        if slots.len() >= self.table.max_slots.load(Ordering::SeqCst) {
            return Err(err!(
                sqlstate::CONFIGURATION_LIMIT_EXCEEDED,
                "all replication slots are in use"
            )
            .with_hint("Free one or increase max_replication_slots."));
        }
        let (restart_lsn, restart_tli) = if reserve_wal {
            let (lsn, tli) = self.reserve_position();
            (Some(lsn), Some(tli))
        } else {
            (None, None)
        };
        let slot = Slot {
            name: name.to_string(),
            temporary,
            owner,
            // PostgreSQL's creators release the slot before they return
            // (CREATE_REPLICATION_SLOT, pg_create_physical_replication_slot), so a new
            // slot is inactive until a walsender acquires it.
            active_pid: None,
            restart_lsn,
            restart_tli,
            xmin: None,
            invalidated_at: None,
            dirty: false,
        };
        if !temporary {
            self.table.create_on_disk(&slot)?;
        }
        let info = slot.info();
        slots.insert(name.to_string(), slot);
        Ok(info)
    }

    /// Drops a slot; with `wait`, waits for its walsender to release it.
    pub fn drop_slot(&self, name: &str, wait: bool) -> Result<()> {
        let deadline = Instant::now() + DROP_WAIT_LIMIT;
        let mut slots = self.lock();
        loop {
            let Some(slot) = slots.get(name) else {
                return Err(missing(name));
            };
            match slot.active_pid {
                Some(pid) if !wait || Instant::now() >= deadline => {
                    return Err(active_for(name, pid))
                }
                Some(_) => {
                    slots = self
                        .table
                        .released
                        .wait_timeout(slots, Duration::from_millis(100))
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                None => break,
            }
        }
        if let Some(slot) = slots.remove(name) {
            if !slot.temporary {
                if let Err(e) = self.table.remove_from_disk(name) {
                    slots.insert(name.to_string(), slot);
                    return Err(e);
                }
            }
        }
        drop(slots);
        self.table.released.notify_all();
        Ok(())
    }

    /// The slot named `name`, if it exists.
    pub fn get(&self, name: &str) -> Option<SlotInfo> {
        self.lock().get(name).map(Slot::info)
    }

    /// Every slot, in name order.
    pub fn list(&self) -> Vec<SlotInfo> {
        self.lock().values().map(Slot::info).collect()
    }

    /// Marks the slot as used by walsender `pid` (55006 when another uses it).
    pub fn acquire(&self, name: &str, pid: i32) -> Result<SlotInfo> {
        let mut slots = self.lock();
        let slot = slots.get_mut(name).ok_or_else(|| missing(name))?;
        match slot.active_pid {
            Some(other) if other != pid => Err(active_for(name, other)),
            _ => {
                slot.active_pid = Some(pid);
                Ok(slot.info())
            }
        }
    }

    /// Releases the slot used by `pid`, dropping it if temporary... only when the
    /// connection ends (see [`SlotManager::connection_ended`]).
    pub fn release(&self, name: &str, pid: i32) {
        let mut slots = self.lock();
        if let Some(slot) = slots.get_mut(name) {
            if slot.active_pid == Some(pid) {
                slot.active_pid = None;
                if !slot.temporary && slot.dirty {
                    match self.table.write_state(slot) {
                        Ok(()) => slot.dirty = false,
                        Err(e) => tracing::warn!("{}", e.message),
                    }
                }
            }
        }
        drop(slots);
        self.table.released.notify_all();
    }

    /// The standby confirmed it flushed WAL up to `flush`: the slot may let older WAL go.
    pub fn confirm_flush(&self, name: &str, flush: Lsn) {
        if flush.0 == 0 {
            return;
        }
        let tli = self.engine.timeline();
        let mut slots = self.lock();
        if let Some(slot) = slots.get_mut(name) {
            if slot.restart_lsn != Some(flush) {
                slot.restart_lsn = Some(flush);
                slot.restart_tli = Some(tli);
                slot.dirty = true;
            }
        }
    }

    /// Streaming starts from `start` through the slot: a slot that never reserved WAL
    /// begins keeping it from there (a slot with a `restart_lsn` keeps it).
    pub fn reserve_if_unset(&self, name: &str, start: Lsn, timeline: u32) {
        let mut slots = self.lock();
        if let Some(slot) = slots.get_mut(name) {
            if slot.restart_lsn.is_none() && start.0 != 0 {
                slot.restart_lsn = Some(start);
                slot.restart_tli = Some(timeline);
                slot.dirty = true;
            }
        }
    }

    /// Hot-standby feedback through the slot: the xmin the standby needs (None clears).
    pub fn set_xmin(&self, name: &str, xmin: Option<u32>) {
        let mut slots = self.lock();
        if let Some(slot) = slots.get_mut(name) {
            if slot.xmin != xmin {
                slot.xmin = xmin;
                slot.dirty = true;
            }
        }
    }

    /// `pg_replication_slot_advance(name, upto)`: moves the slot's `restart_lsn`
    /// forward to `upto` (capped at the flushed WAL position); returns the slot's new
    /// position. PostgreSQL's errors: XX000 for 0/0, 55000 when the slot never
    /// reserved WAL or when `upto` is behind it, 55006 when another backend uses it.
    pub fn advance(&self, name: &str, upto: Lsn, pid: i32) -> Result<Lsn> {
        if upto.0 == 0 {
            bail!(sqlstate::INTERNAL_ERROR, "invalid target WAL LSN");
        }
        let target = upto.min(self.engine.wal_flush_lsn());
        let mut slots = self.lock();
        let slot = slots.get_mut(name).ok_or_else(|| missing(name))?;
        if let Some(other) = slot.active_pid.filter(|p| *p != pid) {
            return Err(active_for(name, other));
        }
        let Some(current) = slot.restart_lsn else {
            return Err(err!(
                sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                "replication slot \"{name}\" cannot be advanced"
            )
            .with_detail(
                "This slot has never previously reserved WAL, or it has been invalidated.",
            ));
        };
        if target < current {
            return Err(err!(
                sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                "cannot advance replication slot to {target}, minimum is {current}"
            ));
        }
        if target > current {
            slot.restart_lsn = Some(target);
            slot.restart_tli = Some(self.engine.timeline());
            // PostgreSQL writes an advanced slot at the next checkpoint; tusk writes it
            // now, so a restart never brings back WAL the user let go of.
            if !slot.temporary {
                self.table.write_state(slot)?;
            }
            slot.dirty = false;
        }
        Ok(target)
    }

    /// The connection of backend `pid` ended: its temporary slots are dropped and the
    /// slots it held released.
    pub fn connection_ended(&self, pid: i32) {
        self.error_cleanup(pid);
    }

    /// An error ended backend `pid`'s command: as PostgreSQL's error recovery
    /// (`ReplicationSlotRelease` + `ReplicationSlotCleanup`), the slot it held is
    /// released and the temporary slots it created are dropped.
    pub fn error_cleanup(&self, pid: i32) {
        let mut slots = self.lock();
        slots.retain(|_, s| !(s.temporary && s.owner == pid));
        let mut to_write = Vec::new();
        for s in slots.values_mut() {
            if s.active_pid == Some(pid) {
                s.active_pid = None;
                if !s.temporary && s.dirty {
                    to_write.push(s.name.clone());
                }
            }
        }
        for name in to_write {
            if let Some(s) = slots.get_mut(&name) {
                match self.table.write_state(s) {
                    Ok(()) => s.dirty = false,
                    Err(e) => tracing::warn!("{}", e.message),
                }
            }
        }
        drop(slots);
        self.table.released.notify_all();
    }

    /// The WAL facts the view's `wal_status` and `safe_wal_size` are computed from.
    pub fn wal_position(&self) -> WalPosition {
        let settings = self.engine.settings();
        let seg = u64::from(self.engine.control_file().wal_segment_size).max(1);
        let current = self.engine.wal_write_lsn();
        WalPosition {
            current,
            redo: self.engine.last_checkpoint().1,
            segment_size: seg,
            max_wal_size: settings.max_wal_size,
            wal_keep_size: settings.wal_keep_size,
            max_slot_wal_keep_size: settings.max_slot_wal_keep_size,
            oldest_segment: oldest_segment_in(&self.engine.datadir().join("pg_wal"), seg)
                .unwrap_or(current.0 / seg),
            slots_min: self.table.min_restart_lsn(),
        }
    }

    /// The rows of `pg_replication_slots` (columns as
    /// [`crate::catalog::VirtualTable::PgReplicationSlots`] lists them).
    pub fn view_rows(&self) -> Vec<Vec<Value>> {
        let pos = self.wal_position();
        let slots: Vec<Slot> = self.lock().values().cloned().collect();
        slots
            .iter()
            .map(|s| {
                let (status, safe) = match (s.restart_lsn, s.invalidated_at) {
                    (Some(lsn), _) => {
                        let st = match pos.status(lsn) {
                            // A slot still in use by a live walsender is not lost yet.
                            WalStatus::Lost if s.active_pid.is_some() => WalStatus::Unreserved,
                            st => st,
                        };
                        let safe = if st == WalStatus::Lost {
                            None
                        } else {
                            pos.safe_wal_size(lsn)
                        };
                        (Some(st), safe)
                    }
                    (None, Some(_)) => (Some(WalStatus::Lost), None),
                    // PostgreSQL computes safe_wal_size from restart_lsn 0/0 here.
                    (None, None) => (None, pos.safe_wal_size(Lsn(0))),
                };
                vec![
                    Value::Text(s.name.clone()),
                    Value::Null,
                    Value::Text("physical".into()),
                    Value::Null,
                    Value::Null,
                    Value::Bool(s.temporary),
                    Value::Bool(s.active_pid.is_some()),
                    s.active_pid.map(Value::Int4).unwrap_or(Value::Null),
                    s.xmin.map(|x| Value::Int8(x.into())).unwrap_or(Value::Null),
                    Value::Null,
                    s.restart_lsn
                        .map(|l| Value::PgLsn(l.0))
                        .unwrap_or(Value::Null),
                    Value::Null,
                    status
                        .map(|st| Value::Text(st.as_str().into()))
                        .unwrap_or(Value::Null),
                    safe.map(Value::Int8).unwrap_or(Value::Null),
                    Value::Bool(false),
                ]
            })
            .collect()
    }
}

/// The oldest WAL segment number present in `pg_wal` (any timeline).
fn oldest_segment_in(pg_wal: &Path, segment_size: u64) -> Option<u64> {
    let per_id = 0x1_0000_0000u64 / segment_size.max(1);
    fs::read_dir(pg_wal)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.len() != 24 || !n.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let hi = u64::from_str_radix(&n[8..16], 16).ok()?;
            let lo = u64::from_str_radix(&n[16..24], 16).ok()?;
            Some(hi * per_id + lo)
        })
        .min()
}

impl SlotTable {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn min_restart_lsn(&self) -> Option<Lsn> {
        self.lock().values().filter_map(|s| s.restart_lsn).min()
    }

    /// Builds `<name>.tmp/state`, then renames the directory into place.
    fn create_on_disk(&self, slot: &Slot) -> Result<()> {
        let tmp = self.dir.join(format!("{}.tmp", slot.name));
        let final_dir = self.dir.join(&slot.name);
        let io = |what: &str, p: &Path, e: std::io::Error| {
            Error::io(format!("could not {what} \"{}\"", p.display()), e)
        };
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| io("remove directory", &tmp, e))?;
        }
        fs::create_dir(&tmp).map_err(|e| io("create directory", &tmp, e))?;
        let result = (|| {
            write_file_durably(&tmp.join("state"), &encode_state(slot))?;
            fsync_dir(&tmp)?;
            fs::rename(&tmp, &final_dir).map_err(|e| io("rename directory", &tmp, e))?;
            fsync_dir(&self.dir)
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result
    }

    /// Replaces `<name>/state` durably.
    fn write_state(&self, slot: &Slot) -> Result<()> {
        let dir = self.dir.join(&slot.name);
        let tmp = dir.join("state.tmp");
        write_file_durably(&tmp, &encode_state(slot))?;
        let state = dir.join("state");
        fs::rename(&tmp, &state).map_err(|e| {
            Error::io(
                format!(
                    "could not rename file \"{}\" to \"{}\"",
                    tmp.display(),
                    state.display()
                ),
                e,
            )
        })?;
        fsync_dir(&dir)
    }

    /// Renames `<name>` to `<name>.tmp` (so a crash cannot bring it back), then
    /// removes it.
    fn remove_from_disk(&self, name: &str) -> Result<()> {
        let dir = self.dir.join(name);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let _ = fs::remove_dir_all(&tmp);
        fs::rename(&dir, &tmp).map_err(|e| {
            Error::io(
                format!(
                    "could not rename file \"{}\" to \"{}\"",
                    dir.display(),
                    tmp.display()
                ),
                e,
            )
        })?;
        fsync_dir(&self.dir)?;
        if let Err(e) = fs::remove_dir_all(&tmp) {
            tracing::warn!("could not remove directory \"{}\": {e}", tmp.display());
        }
        Ok(())
    }
}

impl SlotRetention for SlotTable {
    fn checkpoint_slots(&self, cutoff: Option<Lsn>) -> Option<Lsn> {
        let mut slots = self.lock();
        let mut terminate = Vec::new();
        if let Some(cutoff) = cutoff {
            for s in slots.values_mut() {
                let Some(lsn) = s.restart_lsn else { continue };
                if lsn < cutoff {
                    tracing::info!(
                        "invalidating slot \"{}\" because its restart_lsn {} exceeds max_slot_wal_keep_size",
                        s.name,
                        lsn
                    );
                    if let Some(pid) = s.active_pid {
                        tracing::info!(
                            "terminating process {pid} to release replication slot \"{}\"",
                            s.name
                        );
                        terminate.push(pid);
                    }
                    s.invalidated_at = Some(lsn);
                    s.restart_lsn = None;
                    s.restart_tli = None;
                    s.dirty = true;
                }
            }
        }
        // CheckPointReplicationSlots: persist what changed since the last checkpoint.
        for s in slots.values_mut() {
            if s.dirty && !s.temporary {
                match self.write_state(s) {
                    Ok(()) => s.dirty = false,
                    Err(e) => tracing::warn!("{}", e.message),
                }
            }
        }
        let min = slots.values().filter_map(|s| s.restart_lsn).min();
        drop(slots);
        if !terminate.is_empty() {
            let f = self
                .terminator
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            if let Some(f) = f {
                for pid in terminate {
                    f(pid);
                }
            }
        }
        min
    }
}

fn write_file_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = fs::File::create(path)
        .map_err(|e| Error::io(format!("could not create file \"{}\"", path.display()), e))?;
    f.write_all(bytes)
        .map_err(|e| Error::io(format!("could not write to file \"{}\"", path.display()), e))?;
    f.sync_all()
        .map_err(|e| Error::io(format!("could not fsync file \"{}\"", path.display()), e))
}

fn fsync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("could not fsync file \"{}\"", dir.display()), e))
}

/// The state file: magic, version, flags (bit 0: restart LSN valid, bit 1: xmin
/// valid, bit 2: invalidated), restart LSN, restart timeline, xmin, invalidated-at
/// LSN, name length and name, then CRC-32C of everything before it; little-endian.
fn encode_state(s: &Slot) -> Vec<u8> {
    let mut b = Vec::with_capacity(64 + s.name.len());
    b.extend_from_slice(&STATE_MAGIC.to_le_bytes());
    b.extend_from_slice(&STATE_VERSION.to_le_bytes());
    let flags = u32::from(s.restart_lsn.is_some())
        | (u32::from(s.xmin.is_some()) << 1)
        | (u32::from(s.invalidated_at.is_some()) << 2);
    b.extend_from_slice(&flags.to_le_bytes());
    b.extend_from_slice(&s.restart_lsn.map_or(0, |l| l.0).to_le_bytes());
    b.extend_from_slice(&s.restart_tli.unwrap_or(0).to_le_bytes());
    b.extend_from_slice(&s.xmin.unwrap_or(0).to_le_bytes());
    b.extend_from_slice(&s.invalidated_at.map_or(0, |l| l.0).to_le_bytes());
    b.extend_from_slice(&(s.name.len() as u32).to_le_bytes());
    b.extend_from_slice(s.name.as_bytes());
    let crc = crc32c::crc32c(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

fn decode_state(b: &[u8], path: &Path) -> Result<Slot> {
    let corrupt = |what: &str| {
        Error::fatal(
            sqlstate::DATA_CORRUPTED,
            format!("replication slot file \"{}\" {what}", path.display()),
        )
    };
    if b.len() < 44 {
        return Err(corrupt("is too short"));
    }
    let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    let u64_at = |o: usize| u64::from(u32_at(o)) | (u64::from(u32_at(o + 4)) << 32);
    if u32_at(0) != STATE_MAGIC {
        return Err(corrupt("has wrong magic number"));
    }
    if u32_at(4) != STATE_VERSION {
        return Err(corrupt("has unsupported version number"));
    }
    let (body, crc) = b.split_at(b.len() - 4);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let actual = crc32c::crc32c(body);
    if stored != actual {
        return Err(Error::fatal(
            sqlstate::DATA_CORRUPTED,
            format!(
                "checksum mismatch for replication slot file \"{}\": is {actual}, should be {stored}",
                path.display()
            ),
        ));
    }
    let flags = u32_at(8);
    let name_len = u32_at(36) as usize;
    if 40 + name_len != body.len() {
        return Err(corrupt("has corrupted length"));
    }
    let name =
        String::from_utf8(body[40..].to_vec()).map_err(|_| corrupt("has an invalid name"))?;
    let restart_valid = flags & 1 != 0;
    Ok(Slot {
        name,
        temporary: false,
        owner: 0,
        active_pid: None,
        restart_lsn: restart_valid.then(|| Lsn(u64_at(12))),
        restart_tli: restart_valid.then(|| u32_at(20)),
        xmin: (flags & 2 != 0).then(|| u32_at(24)),
        invalidated_at: (flags & 4 != 0).then(|| Lsn(u64_at(28))),
        dirty: false,
    })
}

fn read_state(path: &Path) -> Result<Slot> {
    let b = fs::read(path)
        .map_err(|e| Error::io(format!("could not open file \"{}\"", path.display()), e))?;
    decode_state(&b, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(name: &str) -> Slot {
        Slot {
            name: name.into(),
            temporary: false,
            owner: 0,
            active_pid: None,
            restart_lsn: Some(Lsn(0x1_0E00_0028)),
            restart_tli: Some(2),
            xmin: Some(740),
            invalidated_at: None,
            dirty: false,
        }
    }

    #[test]
    fn state_round_trips_and_detects_corruption() {
        let p = Path::new("pg_replslot/s/state");
        let mut s = slot("standby1_slot");
        assert_eq!(decode_state(&encode_state(&s), p).unwrap(), s);
        s.restart_lsn = None;
        s.restart_tli = None;
        s.xmin = None;
        s.invalidated_at = Some(Lsn(77));
        assert_eq!(decode_state(&encode_state(&s), p).unwrap(), s);
        let mut b = encode_state(&s);
        b[14] ^= 1;
        let e = decode_state(&b, p).unwrap_err();
        assert_eq!(e.code, sqlstate::DATA_CORRUPTED);
        assert!(e.message.starts_with("checksum mismatch"), "{}", e.message);
        assert!(decode_state(&b[..10], p).is_err());
    }

    fn manager(tag: &str) -> (PathBuf, SlotManager) {
        use crate::storage::EngineOptions;
        let d = crate::testutil::tempdir(tag);
        crate::testutil::bootstrap(&d, 1024 * 1024);
        let opts = EngineOptions {
            fsync: false,
            background: false,
            wal_segment_size: 1024 * 1024,
            ..EngineOptions::default()
        };
        let e = Engine::open(&d, &opts).unwrap();
        let m = SlotManager::open(&d, e).unwrap();
        (d, m)
    }

    #[test]
    fn acquire_release_drop_and_cleanup() {
        let (d, m) = manager("slots-unit");
        let s = m.create("s1", false, true, 100).unwrap();
        assert!(s.restart_lsn.is_some() && s.restart_tli == Some(1));
        assert_eq!(s.active_pid, None);
        assert!(d.join("pg_replslot/s1/state").exists());
        m.create("t1", true, false, 100).unwrap();
        m.create("t2", true, false, 200).unwrap();
        assert!(!d.join("pg_replslot/t1").exists());

        // One walsender at a time.
        assert_eq!(m.acquire("s1", 300).unwrap().active_pid, Some(300));
        assert_eq!(m.acquire("s1", 300).unwrap().active_pid, Some(300));
        let e = m.acquire("s1", 301).unwrap_err();
        assert_eq!(e.code, sqlstate::OBJECT_IN_USE);
        assert_eq!(e.message, "replication slot \"s1\" is active for PID 300");
        assert_eq!(
            m.drop_slot("s1", false).unwrap_err().code,
            sqlstate::OBJECT_IN_USE
        );
        assert_eq!(
            m.acquire("zz", 1).unwrap_err().code,
            sqlstate::UNDEFINED_OBJECT
        );

        // Progress is kept when the slot is released, and survives a reopen.
        m.confirm_flush("s1", Lsn(0x0300_0000));
        m.release("s1", 300);
        assert_eq!(m.get("s1").unwrap().active_pid, None);

        // drop_slot(wait) waits for the walsender to let go.
        m.acquire("s1", 400).unwrap();
        std::thread::scope(|sc| {
            sc.spawn(|| {
                std::thread::sleep(Duration::from_millis(150));
                m.release("s1", 400);
            });
            let t0 = Instant::now();
            m.drop_slot("s1", true).unwrap();
            assert!(t0.elapsed() >= Duration::from_millis(100));
        });
        assert!(m.get("s1").is_none());
        assert!(!d.join("pg_replslot/s1").exists());

        // A backend's end (or error) drops its temporary slots only.
        m.error_cleanup(100);
        assert_eq!(
            m.list().iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            vec!["t2"]
        );
        m.connection_ended(200);
        assert!(m.list().is_empty());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn slots_reload_and_reserve_on_streaming() {
        let (d, m) = manager("slots-reload");
        m.create("lazy", false, false, 1).unwrap();
        m.create("busy", false, true, 1).unwrap();
        m.acquire("busy", 7).unwrap();
        m.confirm_flush("busy", Lsn(0x0500_0000));
        m.release("busy", 7);
        m.reserve_if_unset("lazy", Lsn(0x0400_0000), 1);
        m.reserve_if_unset("lazy", Lsn(0x0600_0000), 1);
        assert_eq!(m.get("lazy").unwrap().restart_lsn, Some(Lsn(0x0400_0000)));
        // A checkpoint writes what changed; a reopen reads it back.
        assert_eq!(m.table.checkpoint_slots(None), Some(Lsn(0x0400_0000)));
        let engine = m.engine.clone();
        drop(m);
        let m = SlotManager::open(&d, engine).unwrap();
        let busy = m.get("busy").unwrap();
        assert_eq!(busy.restart_lsn, Some(Lsn(0x0500_0000)));
        assert_eq!(busy.active_pid, None);
        assert_eq!(m.get("lazy").unwrap().restart_lsn, Some(Lsn(0x0400_0000)));
        // Invalidation below a cutoff: restart_lsn goes, the view says lost.
        assert_eq!(
            m.table.checkpoint_slots(Some(Lsn(0x0480_0000))),
            Some(Lsn(0x0500_0000))
        );
        assert_eq!(m.get("lazy").unwrap().restart_lsn, None);
        let rows = m.view_rows();
        let lazy = rows
            .iter()
            .find(|r| r[0] == Value::Text("lazy".into()))
            .unwrap();
        assert_eq!(lazy[12], Value::Text("lost".into()));
        assert_eq!(lazy[13], Value::Null);
        // Full: 53400 with PostgreSQL's hint.
        m.set_max_slots(2);
        let e = m.create("third", false, false, 1).unwrap_err();
        assert_eq!(e.code, sqlstate::CONFIGURATION_LIMIT_EXCEEDED);
        assert_eq!(e.message, "all replication slots are in use");
        m.set_max_slots(0);
        assert_eq!(
            m.create("x", false, false, 1).unwrap_err().message,
            "replication slots can only be used if max_replication_slots > 0"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn names_are_validated_as_postgresql() {
        assert!(validate_name("pg_basebackup_11898").is_ok());
        let e = validate_name("Bad-Name").unwrap_err();
        assert_eq!(e.code, sqlstate::INVALID_NAME);
        assert_eq!(
            e.message,
            "replication slot name \"Bad-Name\" contains invalid character"
        );
        assert!(e.hint.is_some());
        assert_eq!(validate_name("").unwrap_err().code, sqlstate::INVALID_NAME);
        assert_eq!(
            validate_name(&"a".repeat(64)).unwrap_err().code,
            sqlstate::NAME_TOO_LONG
        );
        assert!(validate_name(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn wal_status_and_safe_size_follow_postgresql() {
        const MB: u64 = 1024 * 1024;
        let pos = WalPosition {
            current: Lsn(20 * MB + 100),
            redo: Lsn(19 * MB),
            segment_size: MB,
            max_wal_size: 4 * MB,
            wal_keep_size: 0,
            max_slot_wal_keep_size: None,
            oldest_segment: 3,
            slots_min: Some(Lsn(5 * MB)),
        };
        // Within max_wal_size of the current position.
        assert_eq!(pos.status(Lsn(18 * MB)), WalStatus::Reserved);
        // Kept by the slot beyond max_wal_size.
        assert_eq!(pos.status(Lsn(5 * MB)), WalStatus::Extended);
        assert_eq!(pos.safe_wal_size(Lsn(5 * MB)), None);
        // With a cap of 10 segments, segment 5 is no longer kept but still exists.
        let capped = WalPosition {
            max_slot_wal_keep_size: Some(10 * MB),
            ..pos
        };
        assert_eq!(capped.status(Lsn(5 * MB)), WalStatus::Unreserved);
        assert_eq!(capped.status(Lsn(2 * MB)), WalStatus::Lost);
        assert_eq!(capped.status(Lsn(12 * MB)), WalStatus::Extended);
        // failLSN = (12 + 10 + 1) segments; safe size = that - current.
        assert_eq!(
            capped.safe_wal_size(Lsn(12 * MB)),
            Some((23 * MB) as i64 - (20 * MB + 100) as i64)
        );
    }
}
