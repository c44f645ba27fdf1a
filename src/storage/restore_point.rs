//! Named restore points: `pg_create_restore_point(name)` writes PostgreSQL's own
//! `XLOG_RESTORE_POINT` record, which `recovery_target_name` stops after.
//!
//! What it owns: the record's layout (resource manager XLOG = 0, info 0x70, main data
//! `xl_restore_point { TimestampTz rp_time; char rp_name[64] }` — the time as a
//! little-endian i64 of PostgreSQL microseconds, the name NUL-padded), its append and
//! flush ([`Engine::create_restore_point`], with `xlogfuncs.c`'s errors and
//! `XLogRestorePoint`'s LOG line), and its decoding for replay
//! ([`decode_restore_point`]).
//!
//! Invariants:
//! - The record is byte for byte PostgreSQL's: stock `pg_waldump` shows
//!   `rmgr: XLOG … desc: RESTORE_POINT <name>` and a stock standby would read it.
//! - The returned LSN is the end of the record (MAXALIGNed), as PostgreSQL returns
//!   `XLogInsert`'s result; the record is durable when this returns.
//! - Names are at most 63 bytes (`MAXFNAMELEN - 1`), counted in bytes as `strlen`.
//!
//! What it must never do: write during recovery, or decide anything about stopping
//! replay (`standby::target` does); redo ignores the record (it changes no data).

use super::wal::format::RM_XLOG_ID;
use super::{Engine, Lsn};
use crate::error::{sqlstate, Error, Result};

/// PostgreSQL's `XLOG_RESTORE_POINT` info byte.
pub const XLOG_RESTORE_POINT: u8 = 0x70;

/// `sizeof(xl_restore_point)`: an 8-byte time and a 64-byte name.
pub const RESTORE_POINT_SIZE: usize = 8 + NAME_SIZE;

/// `MAXFNAMELEN`: the name field's size, NUL included.
const NAME_SIZE: usize = 64;

/// True when a record is an XLOG restore point.
pub fn is_restore_point(rmid: u8, info: u8) -> bool {
    rmid == RM_XLOG_ID && info & 0xF0 == XLOG_RESTORE_POINT
}

/// The main data of a restore point record: `rp_time` then `rp_name`, NUL-padded.
/// The name must be shorter than 64 bytes (checked by the caller).
pub fn encode_restore_point(time: i64, name: &str) -> [u8; RESTORE_POINT_SIZE] {
    let mut out = [0u8; RESTORE_POINT_SIZE];
    out[..8].copy_from_slice(&time.to_le_bytes());
    let n = name.len().min(NAME_SIZE - 1);
    out[8..8 + n].copy_from_slice(&name.as_bytes()[..n]);
    out
}

/// Reads a restore point record's main data: (rp_time in PostgreSQL microseconds,
/// rp_name up to its first NUL). None when the payload is too short.
pub fn decode_restore_point(payload: &[u8]) -> Option<(i64, String)> {
    if payload.len() < RESTORE_POINT_SIZE {
        return None;
    }
    let time = i64::from_le_bytes(payload[..8].try_into().ok()?);
    let field = &payload[8..RESTORE_POINT_SIZE];
    let len = field.iter().position(|&b| b == 0).unwrap_or(NAME_SIZE);
    Some((time, String::from_utf8_lossy(&field[..len]).into_owned()))
}

impl Engine {
    /// `pg_create_restore_point(name)`: appends a restore point record stamped with
    /// the current time, flushes it, logs `restore point "name" created at X/X`, and
    /// returns the record's end. Errors as PostgreSQL 15: 55000 during recovery or
    /// with `wal_level = minimal` (as recorded in pg_control at start-up), 22023 for a
    /// name of 64 bytes or more. The superuser check is the caller's.
    pub fn create_restore_point(&self, name: &str) -> Result<Lsn> {
        if self.in_recovery() {
            return Err(Error::new(
                sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                "recovery is in progress",
            )
            .with_hint("WAL control functions cannot be executed during recovery."));
        }
        let wal_level = self
            .control
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .wal_level;
        if wal_level == super::control::WAL_LEVEL_MINIMAL {
            return Err(Error::new(
                sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                "WAL level not sufficient for creating a restore point",
            )
            .with_hint("wal_level must be set to \"replica\" or \"logical\" at server start."));
        }
        if name.len() >= NAME_SIZE {
            return Err(Error::new(
                sqlstate::INVALID_PARAMETER_VALUE,
                format!(
                    "value too long for restore point (maximum {} characters)",
                    NAME_SIZE - 1
                ),
            ));
        }
        let data = encode_restore_point(crate::types::now_micros(), name);
        let (_, end) = self
            .wal
            .append_postgres(RM_XLOG_ID, XLOG_RESTORE_POINT, 0, &data)?;
        self.wal.flush(end)?;
        tracing::info!("restore point \"{name}\" created at {end}");
        Ok(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_round_trips() {
        let d = encode_restore_point(0x0102_0304_0506_0708, "rp1");
        assert_eq!(d.len(), 72);
        assert_eq!(&d[..8], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&d[8..12], b"rp1\0");
        assert!(d[11..].iter().all(|&b| b == 0));
        assert_eq!(
            decode_restore_point(&d),
            Some((0x0102_0304_0506_0708, "rp1".to_string()))
        );
        let long = "é".repeat(31) + "a";
        assert_eq!(long.len(), 63);
        let d = encode_restore_point(-5, &long);
        assert_eq!(d[71], 0);
        assert_eq!(decode_restore_point(&d), Some((-5, long)));
        assert_eq!(decode_restore_point(&d[..71]), None);
        assert!(is_restore_point(0, 0x70));
        assert!(is_restore_point(0, 0x71));
        assert!(!is_restore_point(0, 0x40));
        assert!(!is_restore_point(130, 0x70));
    }

    #[test]
    fn creates_a_record_and_refuses_long_names() {
        let dir = crate::testutil::tempdir("restore-point");
        crate::testutil::bootstrap(&dir, 16 * 1024 * 1024);
        let opts = crate::storage::EngineOptions {
            background: false,
            ..Default::default()
        };
        let engine = Engine::open(&dir, &opts).unwrap();
        let before = engine.current_wal_lsn();
        let end = engine.create_restore_point("rp1").unwrap();
        // 24-byte header + 2-byte short data header + 72 bytes, MAXALIGNed.
        assert_eq!(end.0, before.0 + 104);
        assert!(engine.wal_flush_lsn() >= end);
        let lines = engine.describe_wal(before).unwrap();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains("PostgreSQL rmgr 0 info 0x70"),
            "{lines:?}"
        );
        let e = engine.create_restore_point(&"a".repeat(64)).unwrap_err();
        assert_eq!(e.code, "22023");
        assert_eq!(
            e.message,
            "value too long for restore point (maximum 63 characters)"
        );
        assert!(engine.create_restore_point(&"a".repeat(63)).is_ok());
        assert!(engine.create_restore_point("").is_ok());
        drop(engine);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
