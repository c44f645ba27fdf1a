//! Writing WAL bytes that arrive from elsewhere (a walreceiver streaming from the
//! primary) into `pg_wal` exactly as they are.
//!
//! The bytes are already framed by the primary's [`WalWriter`](super::WalWriter):
//! page headers, records, CRCs. [`RawWalWriter`] only places them at their LSN in the
//! right segment file, creating a zero-filled segment when it is missing (as
//! PostgreSQL's walreceiver does through `XLogFileInit`), and makes them durable on
//! `flush`. Segments it wrote to their end are reported once durable, so the caller
//! can mark them `archive_status/<seg>.done`.
//!
//! Invariants: bytes are written in stream order (each `write` starts where the last
//! one ended, or anywhere after a `reset`); an I/O error is a PANIC and the writer
//! refuses further work.

use std::path::PathBuf;
use std::sync::Arc;

use super::io::{SegmentFile, StdIo, WalIo};
use super::segment::segment_file_name;
use super::{Lsn, SyncMethod, WalOptions};
use crate::error::{Error, Result, Severity};

/// Writes received WAL bytes into segment files.
pub struct RawWalWriter {
    dir: PathBuf,
    seg: u64,
    tli: u32,
    fsync: bool,
    method: SyncMethod,
    io: Arc<dyn WalIo>,
    current: Option<(u64, Box<dyn SegmentFile>)>,
    current_dirty: bool,
    unsynced: Vec<(u64, Box<dyn SegmentFile>)>,
    written: Lsn,
    flushed: Lsn,
    finished_unsynced: Vec<String>,
    completed: Vec<String>,
    broken: Option<Error>,
}

fn panic_io(what: String, e: std::io::Error) -> Error {
    Error::io(what, e).with_severity(Severity::Panic)
}

impl RawWalWriter {
    /// A writer into `opts.dir` on `opts.timeline`, positioned at `start`.
    pub fn new(opts: &WalOptions, start: Lsn) -> RawWalWriter {
        RawWalWriter::with_io(opts, start, Arc::new(StdIo))
    }

    /// [`RawWalWriter::new`] with an explicit I/O layer.
    pub fn with_io(opts: &WalOptions, start: Lsn, io: Arc<dyn WalIo>) -> RawWalWriter {
        RawWalWriter {
            dir: opts.dir.clone(),
            seg: opts.segment_size,
            tli: opts.timeline,
            fsync: opts.fsync,
            method: opts.sync_method,
            io,
            current: None,
            current_dirty: false,
            unsynced: Vec::new(),
            written: start,
            flushed: start,
            finished_unsynced: Vec::new(),
            completed: Vec::new(),
            broken: None,
        }
    }

    /// Continues on timeline `tli` from `start` (after the primary switched timelines,
    /// or to restart streaming elsewhere). Flush first: unflushed bytes are synced now.
    pub fn reset(&mut self, tli: u32, start: Lsn) -> Result<()> {
        self.flush()?;
        self.current = None;
        self.tli = tli;
        self.written = start;
        self.flushed = start;
        Ok(())
    }

    /// The end of the bytes written so far.
    pub fn write_lsn(&self) -> Lsn {
        self.written
    }

    /// The end of the bytes made durable so far.
    pub fn flush_lsn(&self) -> Lsn {
        self.flushed
    }

    /// Writes `data`, which belongs at `start` in the stream. `start` must be where the
    /// previous write ended.
    pub fn write(&mut self, start: Lsn, data: &[u8]) -> Result<()> {
        if let Some(e) = &self.broken {
            return Err(e.clone());
        }
        if start != self.written {
            crate::bail!(
                crate::error::sqlstate::INTERNAL_ERROR,
                "received WAL at {} but expected it at {}",
                start,
                self.written
            );
        }
        let r = self.write_inner(start, data);
        if let Err(e) = &r {
            self.broken = Some(e.clone());
        }
        r
    }

    fn write_inner(&mut self, start: Lsn, mut data: &[u8]) -> Result<()> {
        let mut pos = start.0;
        while !data.is_empty() {
            let segno = pos / self.seg;
            let off = pos % self.seg;
            let n = ((self.seg - off) as usize).min(data.len());
            self.ensure_file(segno)?;
            // The segment's name is spelled only for an error or a finished segment
            // (formatting it for every write was a measurable part of the receiver).
            let (tli, seg) = (self.tli, self.seg);
            if let Some((_, f)) = self.current.as_mut() {
                f.write_at(&data[..n], off).map_err(|e| {
                    let name = segment_file_name(tli, segno, seg);
                    panic_io(
                        format!(
                            "could not write to log segment {name} at offset {off}, length {n}"
                        ),
                        e,
                    )
                })?;
            }
            self.current_dirty = true;
            pos += n as u64;
            data = &data[n..];
            self.written = Lsn(pos);
            if pos.is_multiple_of(self.seg) {
                self.finished_unsynced
                    .push(segment_file_name(self.tli, segno, self.seg));
            }
        }
        Ok(())
    }

    fn ensure_file(&mut self, segno: u64) -> Result<()> {
        if matches!(&self.current, Some((s, _)) if *s == segno) {
            return Ok(());
        }
        if let Some((old, f)) = self.current.take() {
            if self.current_dirty {
                self.unsynced.push((old, f));
            }
        }
        self.current_dirty = false;
        let path = self.dir.join(segment_file_name(self.tli, segno, self.seg));
        let f = if path.is_file() {
            self.io
                .open(&path, self.method)
                .map_err(|e| panic_io(format!("could not open file \"{}\"", path.display()), e))?
        } else {
            self.io
                .create_zeroed(&path, self.seg, self.fsync, self.method)
                .map_err(|e| panic_io(format!("could not create file \"{}\"", path.display()), e))?
        };
        self.current = Some((segno, f));
        Ok(())
    }

    /// Makes everything written durable; returns the new flush position.
    pub fn flush(&mut self) -> Result<Lsn> {
        if let Some(e) = &self.broken {
            return Err(e.clone());
        }
        if self.fsync {
            for (segno, mut f) in std::mem::take(&mut self.unsynced) {
                let name = segment_file_name(self.tli, segno, self.seg);
                if let Err(e) = f.sync() {
                    let e = panic_io(format!("could not fsync file \"{name}\""), e);
                    self.broken = Some(e.clone());
                    return Err(e);
                }
            }
            if self.current_dirty {
                if let Some((segno, f)) = self.current.as_mut() {
                    if let Err(e) = f.sync() {
                        let name = segment_file_name(self.tli, *segno, self.seg);
                        let e = panic_io(format!("could not fsync file \"{name}\""), e);
                        self.broken = Some(e.clone());
                        return Err(e);
                    }
                }
            }
        } else {
            self.unsynced.clear();
        }
        self.current_dirty = false;
        self.flushed = self.written;
        self.completed.append(&mut self.finished_unsynced);
        Ok(self.flushed)
    }

    /// Takes the names of the segments written to their end and made durable since the
    /// last call (to be marked `.done` in `archive_status`).
    pub fn take_completed_segments(&mut self) -> Vec<String> {
        std::mem::take(&mut self.completed)
    }
}
