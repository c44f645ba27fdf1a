//! The write-ahead log: tusk's source of truth (DESIGN §3).
//!
//! The WAL is one byte stream addressed by a 64-bit [`Lsn`], cut into segment files of
//! `wal_segment_size` bytes under `pg_wal/`, and dressed in PostgreSQL 15's envelope so
//! that stock tools (`pg_waldump`, `pg_receivewal`, `pg_verifybackup`, archivers) accept
//! it: 8 kB pages with PostgreSQL's page headers, records with PostgreSQL's
//! `XLogRecord` framing and CRC-32C, continuation across pages and segments, and
//! PostgreSQL's own XLOG switch record to end a segment early. tusk's records use
//! custom resource manager ids (128..=255); this module does not know what they mean —
//! it carries `(rmid, info, xid, payload)` and gives back the same.
//!
//! ## Files
//! - `segment.rs` — segment numbers, LSN arithmetic, file names (`XLogFileName`).
//! - `format.rs`  — page headers and record framing, byte by byte; the CRC.
//! - `io.rs`      — the disk I/O trait ([`io::WalIo`]) and its production implementation.
//! - `fault.rs`   — the I/O layer a server uses: production, or (debug builds only) an
//!   fsync failure armed by `TUSK_TEST_FAIL_FSYNC_AFTER` for the crash suite.
//! - `writer.rs`  — [`WalWriter`]: append, write, flush with group commit, segment and
//!   timeline switches.
//! - `latency.rs` — the writer's lock-free fsync latency histogram (for metrics).
//! - `reader.rs`  — [`WalReader`] (records, stopping cleanly at the end of valid WAL) and
//!   [`read_wal_bytes`] (raw stream bytes for walsenders and base backups).
//! - `raw.rs`     — [`RawWalWriter`]: received WAL bytes into segment files (walreceiver).
//! - `timeline.rs` — timeline history files (`TTTTTTTT.history`): read, write, lookups.
//!
//! ## Invariants
//! - Records start 8-aligned; a page never starts inside a record without
//!   XLP_FIRST_IS_CONTRECORD and the exact remaining length in `xlp_rem_len`.
//! - Every record's `xl_prev` is the start of the record before it.
//! - Nothing is acknowledged as durable before its bytes were fsynced (unless the
//!   operator set `fsync = off`); an I/O error on this path is a PANIC and the writer
//!   refuses all later work rather than guessing.
//!
//! ## What it must never do
//! Interpret payloads, retry a failed write or fsync, or leave stale bytes after the
//! end of valid WAL where a reader could mistake them for records.
//!
//! ## One commit, step by step
//! 1. The engine builds its commit payload and calls `WalWriter::append(rmid, info,
//!    xid, payload)`; the record gets `xl_prev`, its CRC and page headers and lands in
//!    the in-memory buffer; `append` returns its (start, end) LSNs.
//! 2. The engine calls `flush(end)` (in `spawn_blocking`). If another flush is running
//!    it waits; then one waiter writes all buffered bytes and fdatasyncs once for
//!    everybody (group commit).
//! 3. `flush_lsn` advances and `subscribe_flush` receivers (walsenders) wake up and read
//!    the new bytes with `read_wal_bytes`.
//! 4. After a crash, recovery walks `WalReader::next_record` from the checkpoint's redo
//!    LSN until `None`, then `WalWriter::open(end_of_valid, last_record)` cuts the torn
//!    tail and appends after it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{sqlstate, Error, Result};

pub mod dump;
pub mod fault;
pub mod format;
pub mod io;
// fsync latency histogram of the writer (latency.rs).
pub mod latency;
pub mod raw;
pub mod reader;
pub mod segment;
pub mod timeline;
pub mod writer;

pub use raw::RawWalWriter;
pub use reader::{read_wal_bytes, WalReader, WalRecord};
pub use writer::{Recycled, WalStats, WalWriter};

/// A position in the WAL stream (PostgreSQL's `XLogRecPtr`). Displays as PostgreSQL
/// prints LSNs: `%X/%X` of the high and low 32 bits, e.g. `0/1000028`, `16/B374D848`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl Lsn {
    /// The invalid LSN 0/0.
    pub const INVALID: Lsn = Lsn(0);

    /// Returns true unless this is 0/0.
    pub fn is_valid(self) -> bool {
        self.0 != 0
    }

    /// The number of bytes from `earlier` to `self`, or 0 when `earlier` is later.
    pub fn bytes_since(self, earlier: Lsn) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// The segment number this position falls in.
    pub fn segno(self, segment_size: u64) -> u64 {
        segment::lsn_to_segno(self, segment_size)
    }
}

impl std::ops::Add<u64> for Lsn {
    type Output = Lsn;

    /// Advances the position by `bytes` (saturating at the largest LSN).
    fn add(self, bytes: u64) -> Lsn {
        Lsn(self.0.saturating_add(bytes))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl FromStr for Lsn {
    type Err = Error;

    /// Parses `X/Y` (hex, either case, up to 8 digits each), as `pg_lsn` input does.
    fn from_str(s: &str) -> Result<Lsn> {
        let bad = || {
            Error::new(
                sqlstate::INVALID_TEXT_REPRESENTATION,
                format!("invalid input syntax for type pg_lsn: \"{s}\""),
            )
        };
        let (hi, lo) = s.split_once('/').ok_or_else(bad)?;
        let ok =
            |p: &str| !p.is_empty() && p.len() <= 8 && p.bytes().all(|b| b.is_ascii_hexdigit());
        if !ok(hi) || !ok(lo) {
            return Err(bad());
        }
        let hi = u64::from_str_radix(hi, 16).map_err(|_| bad())?;
        let lo = u64::from_str_radix(lo, 16).map_err(|_| bad())?;
        Ok(Lsn(hi << 32 | lo))
    }
}

/// How WAL is made durable (the `wal_sync_method` setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMethod {
    /// `fdatasync(2)` after writing (the default on Linux).
    #[default]
    Fdatasync,
    /// `fsync(2)` after writing.
    Fsync,
    /// Files opened with `O_DSYNC`: every write is durable when it returns.
    OpenDatasync,
    /// Files opened with `O_SYNC`: every write is durable when it returns.
    OpenSync,
}

impl FromStr for SyncMethod {
    type Err = Error;

    /// Parses a `wal_sync_method` value.
    fn from_str(s: &str) -> Result<SyncMethod> {
        match s {
            "fdatasync" => Ok(SyncMethod::Fdatasync),
            "fsync" => Ok(SyncMethod::Fsync),
            "open_datasync" => Ok(SyncMethod::OpenDatasync),
            "open_sync" => Ok(SyncMethod::OpenSync),
            _ => Err(Error::new(
                sqlstate::INVALID_PARAMETER_VALUE,
                format!("invalid value for parameter \"wal_sync_method\": \"{s}\""),
            )),
        }
    }
}

impl fmt::Display for SyncMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SyncMethod::Fdatasync => "fdatasync",
            SyncMethod::Fsync => "fsync",
            SyncMethod::OpenDatasync => "open_datasync",
            SyncMethod::OpenSync => "open_sync",
        })
    }
}

/// Where and how the WAL is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalOptions {
    /// The `pg_wal` directory.
    pub dir: PathBuf,
    /// The segment size in bytes (a power of two, 1 MiB ..= 1 GiB).
    pub segment_size: u64,
    /// The cluster's system identifier, stamped into every segment's long page header.
    pub system_id: u64,
    /// The timeline new WAL is written on.
    pub timeline: u32,
    /// `fsync = off` skips every fsync/fdatasync (and is unsafe, as in PostgreSQL).
    pub fsync: bool,
    /// How durability is obtained when `fsync` is on.
    pub sync_method: SyncMethod,
}

impl WalOptions {
    /// Options with PostgreSQL's defaults (16 MiB segments, timeline 1, fsync on,
    /// fdatasync) for the `pg_wal` directory `dir`.
    pub fn new(dir: impl Into<PathBuf>, system_id: u64) -> WalOptions {
        WalOptions {
            dir: dir.into(),
            segment_size: segment::DEFAULT_SEGMENT_SIZE,
            system_id,
            timeline: 1,
            fsync: true,
            sync_method: SyncMethod::Fdatasync,
        }
    }
}

/// The segment files (of any timeline) in `dir` whose segment number is below
/// `before_segno`, oldest first. Other files are left out.
pub fn segments_before(dir: &Path, segment_size: u64, before_segno: u64) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::io(format!("could not open directory \"{}\"", dir.display()), e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry
            .map_err(|e| Error::io(format!("could not read directory \"{}\"", dir.display()), e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some((_, segno)) = segment::parse_segment_file_name(name, segment_size) {
            if segno < before_segno {
                out.push((segno, entry.path()));
            }
        }
    }
    out.sort();
    Ok(out.into_iter().map(|(_, p)| p).collect())
}

#[cfg(test)]
mod tests;
