//! Physical replication slots: which exist, which WAL they keep, who uses them.
//!
//! What it owns: the slot table (persistent slots under `pg_replslot/<name>/state`,
//! temporary ones in memory), slot acquisition by walsenders, and the oldest LSN the
//! slots need, which it reports to the engine for WAL retention. What it must never do:
//! delete WAL itself.

use std::path::Path;
use std::sync::Arc;

use crate::error::{sqlstate, Result};
use crate::storage::wal::Lsn;
use crate::storage::Engine;

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

/// The slot table, shared by walsenders and SQL functions.
pub struct SlotManager {
    _engine: Arc<Engine>,
}

impl SlotManager {
    /// Loads the persistent slots of `datadir` and reports their needs to `engine`.
    pub fn open(_datadir: &Path, engine: Arc<Engine>) -> Result<SlotManager> {
        Ok(SlotManager { _engine: engine })
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
        let _ = (name, temporary, reserve_wal, owner);
        crate::bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "replication slots are not built yet"
        )
    }

    /// Drops a slot; with `wait`, waits for its walsender to release it.
    pub fn drop_slot(&self, name: &str, wait: bool) -> Result<()> {
        let _ = (name, wait);
        crate::bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "replication slots are not built yet"
        )
    }

    /// The slot named `name`, if it exists.
    pub fn get(&self, name: &str) -> Option<SlotInfo> {
        let _ = name;
        None
    }

    /// Every slot, in name order.
    pub fn list(&self) -> Vec<SlotInfo> {
        Vec::new()
    }

    /// Marks the slot as used by walsender `pid` (55006 when another uses it).
    pub fn acquire(&self, name: &str, pid: i32) -> Result<SlotInfo> {
        let _ = (name, pid);
        crate::bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "replication slots are not built yet"
        )
    }

    /// Releases the slot used by `pid`, dropping it if temporary... only when the
    /// connection ends (see [`SlotManager::connection_ended`]).
    pub fn release(&self, name: &str, pid: i32) {
        let _ = (name, pid);
    }

    /// The standby confirmed it flushed WAL up to `flush`: the slot may let older WAL go.
    pub fn confirm_flush(&self, name: &str, flush: Lsn) {
        let _ = (name, flush);
    }

    /// The connection of backend `pid` ended: its temporary slots are dropped and the
    /// slots it held released.
    pub fn connection_ended(&self, pid: i32) {
        let _ = pid;
    }
}
