//! Reading WAL back: records for recovery and replay, raw bytes for walsenders.
//!
//! [`WalReader`] walks records the way PostgreSQL's xlogreader does and stops at the
//! first thing that is not a valid continuation of the stream: a zero length, a page
//! with a wrong magic, address, timeline or header, a record whose `xl_prev` does not
//! point at the previous record, a continuation page that does not continue the record
//! (missing XLP_FIRST_IS_CONTRECORD or a wrong `xlp_rem_len`), a bad CRC, a missing or
//! short segment file. That is the end of valid WAL, which is normal after a crash:
//! `next_record` returns `Ok(None)` and `end_of_valid` says where the writer should
//! carry on. Only real I/O errors are errors.
//!
//! Segment files are looked up on the reader's timeline first, then on lower timelines
//! (the segments before a promotion exist only under the old timeline's name).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::format::{self, PAGE_SIZE, RECORD_HEADER};
use super::segment::{parse_segment_file_name, segment_file_name};
use super::timeline::TimelineEntry;
use super::Lsn;
use crate::error::{Error, Result};

/// One record read back from the WAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalRecord {
    /// The LSN of the record's first byte.
    pub start: Lsn,
    /// The record's end (8-aligned), as the writer returned it.
    pub end: Lsn,
    /// The start of the previous record (`xl_prev`).
    pub prev: Lsn,
    /// The resource manager id.
    pub rmid: u8,
    /// The info byte.
    pub info: u8,
    /// The transaction id stored in the header.
    pub xid: u32,
    /// The main data.
    pub payload: Vec<u8>,
}

impl WalRecord {
    /// Returns true when this is PostgreSQL's XLOG segment switch record.
    pub fn is_switch(&self) -> bool {
        format::is_switch(self.rmid, self.info)
    }
}

/// Finds the file of segment `segno` on timeline `tli`, or else on the highest lower
/// timeline that has it; returns its timeline and path.
pub fn find_segment(dir: &Path, tli: u32, segno: u64, segment_size: u64) -> Option<(u32, PathBuf)> {
    let exact = dir.join(segment_file_name(tli, segno, segment_size));
    if exact.is_file() {
        return Some((tli, exact));
    }
    let mut best: Option<(u32, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some((t, s)) = parse_segment_file_name(name, segment_size) {
            if s == segno && t < tli && best.as_ref().is_none_or(|(b, _)| t > *b) {
                best = Some((t, entry.path()));
            }
        }
    }
    best
}

/// Finds the file of segment `segno` following a timeline history (newest first): the
/// newest timeline that began at or before the segment and has the file.
pub fn find_segment_in_history(
    dir: &Path,
    history: &[TimelineEntry],
    segno: u64,
    segment_size: u64,
) -> Option<(u32, PathBuf)> {
    for e in history {
        if e.begin.is_valid() && segno < e.begin.0 / segment_size {
            continue;
        }
        let path = dir.join(segment_file_name(e.tli, segno, segment_size));
        if path.is_file() {
            return Some((e.tli, path));
        }
    }
    None
}

/// Reads records sequentially from a `pg_wal` directory.
pub struct WalReader {
    dir: PathBuf,
    seg: u64,
    tli: u32,
    next: u64,
    prev: Option<u64>,
    end: u64,
    sysid: Option<u64>,
    last_page_tli: u32,
    history: Option<Vec<TimelineEntry>>,
    file: Option<(u64, File)>,
    page: Option<(u64, Vec<u8>)>,
    /// Why the last `next_record` found no valid record, in PostgreSQL's words (None:
    /// simply no more WAL, such as a missing segment or a zeroed page).
    stop_reason: Option<String>,
    /// Why the last page read was refused, when its header was not simply zeros.
    page_reason: Option<String>,
    /// Records ending past this position are not returned yet (see
    /// [`WalReader::set_limit`]).
    limit: Option<u64>,
}

impl WalReader {
    /// A reader starting at `start` (a record start, or a page/segment start) in `dir`,
    /// following `timeline` (and lower timelines for older segments).
    pub fn new(dir: &Path, segment_size: u64, timeline: u32, start: Lsn) -> WalReader {
        WalReader {
            dir: dir.to_path_buf(),
            seg: segment_size,
            tli: timeline,
            next: start.0,
            prev: None,
            end: start.0,
            sysid: None,
            last_page_tli: 0,
            history: None,
            file: None,
            page: None,
            stop_reason: None,
            page_reason: None,
            limit: None,
        }
    }

    /// Holds back any record that ends past `limit` (None: no bound): `next_record`
    /// returns `None` for it, as for a record cut short, and reads it again (from the
    /// file, not from its page cache) on a later call. A standby's replay uses it so
    /// as never to apply WAL the walreceiver has written but not yet flushed.
    pub fn set_limit(&mut self, limit: Option<Lsn>) {
        self.limit = limit.map(|l| l.0);
    }

    /// Why reading stopped at [`WalReader::end_of_valid`], as PostgreSQL logs it before
    /// `redo done` (e.g. `invalid record length at 0/1000F10: wanted 24, got 0`, or
    /// `incorrect resource manager data checksum in record at …`); None when the WAL
    /// simply ended (a missing segment).
    pub fn stop_reason(&self) -> Option<&str> {
        self.stop_reason.as_deref()
    }

    fn stop(&mut self, reason: String) -> Result<Option<(WalRecord, u64)>> {
        self.stop_reason = Some(reason);
        Ok(None)
    }

    /// Expects `prev` as the `xl_prev` of the first record (PostgreSQL checks the
    /// prev-link even of the first record when it knows the previous one).
    pub fn set_expected_prev(&mut self, prev: Lsn) {
        self.prev = Some(prev.0);
    }

    /// Reads each segment from the timeline `history` assigns to it (newest first, as
    /// `timeline::read_history` returns it), as PostgreSQL's `XLogFileReadAnyTLI` does,
    /// instead of "the reader's timeline, else the highest lower one".
    pub fn set_history(&mut self, history: Vec<TimelineEntry>) {
        if let Some(newest) = history.first() {
            self.tli = newest.tli;
        }
        self.history = Some(history);
    }

    /// Expects every long page header to carry `system_id`.
    pub fn set_system_id(&mut self, system_id: u64) {
        self.sysid = Some(system_id);
    }

    /// The next valid record, or `Ok(None)` at the end of valid WAL. Calling again
    /// after `None` retries from the same position (more WAL may have arrived).
    pub fn next_record(&mut self) -> Result<Option<WalRecord>> {
        self.stop_reason = None;
        match self.read_record(self.next)? {
            Some((_, next)) if self.limit.is_some_and(|l| next > l) => {
                self.page = None;
                self.file = None;
                self.end = self.next;
                Ok(None)
            }
            Some((rec, next)) => {
                self.next = next;
                self.prev = Some(rec.start.0);
                self.end = next;
                Ok(Some(rec))
            }
            None => {
                self.page = None;
                self.file = None;
                self.end = self.next;
                Ok(None)
            }
        }
    }

    /// Where valid WAL ends: after `next_record` returned `None`, the position of the
    /// first invalid record (the end of the last valid one, or the next segment's start
    /// after a switch record).
    pub fn end_of_valid(&self) -> Lsn {
        Lsn(self.end)
    }

    /// The start of the last record returned.
    pub fn last_record(&self) -> Option<Lsn> {
        self.prev.map(Lsn)
    }

    fn read_page(&mut self, addr: u64) -> Result<Option<format::PageHeader>> {
        if !matches!(&self.page, Some((a, _)) if *a == addr) {
            self.page = None;
            let segno = addr / self.seg;
            if !matches!(&self.file, Some((s, _)) if *s == segno) {
                self.file = None;
                let found = match &self.history {
                    Some(h) => find_segment_in_history(&self.dir, h, segno, self.seg),
                    None => find_segment(&self.dir, self.tli, segno, self.seg),
                };
                let Some((_, path)) = found else {
                    return Ok(None);
                };
                match File::open(&path) {
                    Ok(f) => self.file = Some((segno, f)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => {
                        return Err(Error::io(
                            format!("could not open file \"{}\"", path.display()),
                            e,
                        ))
                    }
                }
            }
            let Some((_, f)) = &self.file else {
                return Ok(None);
            };
            let mut buf = vec![0u8; PAGE_SIZE as usize];
            let off = addr % self.seg;
            let mut got = 0;
            while got < buf.len() {
                match f.read_at(&mut buf[got..], off + got as u64) {
                    // A file cut short inside a page: what is missing reads as zeros,
                    // so the records before the cut stay readable.
                    Ok(0) if got > 0 => break,
                    Ok(0) => return Ok(None),
                    Ok(n) => got += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(Error::io("could not read from WAL segment", e)),
                }
            }
            let where_ = || {
                let name = super::segment::segment_file_name(self.tli, segno, self.seg);
                format!("in log segment {name}, offset {}", addr % self.seg)
            };
            self.page_reason = None;
            let Some(h) = format::decode_page_header(&buf) else {
                let magic = u16::from_le_bytes([buf[0], buf[1]]);
                if buf.iter().take(24).any(|&b| b != 0) {
                    self.page_reason =
                        Some(format!("invalid magic number {magic:04X} {}", where_()));
                }
                return Ok(None);
            };
            if h.pageaddr != addr {
                self.page_reason = Some(format!(
                    "unexpected pageaddr {} {}",
                    Lsn(h.pageaddr),
                    where_()
                ));
                return Ok(None);
            }
            if h.tli > self.tli || h.tli < self.last_page_tli {
                self.page_reason = Some(format!(
                    "out-of-sequence timeline ID {} (after {}) {}",
                    h.tli,
                    self.last_page_tli,
                    where_()
                ));
                return Ok(None);
            }
            let first_of_segment = addr.is_multiple_of(self.seg);
            match h.long {
                Some((sysid, seg_size, blcksz)) => {
                    if !first_of_segment
                        || u64::from(seg_size) != self.seg
                        || u64::from(blcksz) != PAGE_SIZE
                    {
                        return Ok(None);
                    }
                    match self.sysid {
                        Some(s) if s != sysid => return Ok(None),
                        Some(_) => {}
                        None => self.sysid = Some(sysid),
                    }
                }
                None if first_of_segment => return Ok(None),
                None => {}
            }
            self.last_page_tli = h.tli;
            self.page = Some((addr, buf));
        }
        let Some((_, buf)) = &self.page else {
            return Ok(None);
        };
        Ok(format::decode_page_header(buf))
    }

    fn page_bytes(&self) -> &[u8] {
        match &self.page {
            Some((_, b)) => b,
            None => &[],
        }
    }

    fn header_ok(&self, h: &format::RecordHeader, start: u64) -> bool {
        if !format::rmid_is_valid(h.rmid) {
            return false;
        }
        match self.prev {
            Some(p) => h.prev == p,
            None => h.prev < start,
        }
    }

    /// Records why a page could not be used (only when its header is not all zeros:
    /// a zeroed or missing page is simply the end of the WAL).
    fn stop_page(&mut self, page_addr: u64) -> Result<Option<(WalRecord, u64)>> {
        if self.page_reason.is_some() {
            let r = self.page_reason.take().unwrap_or_default();
            return self.stop(r);
        }
        let _ = page_addr;
        Ok(None)
    }

    fn stop_header(
        &mut self,
        h: &format::RecordHeader,
        start: u64,
    ) -> Result<Option<(WalRecord, u64)>> {
        if !format::rmid_is_valid(h.rmid) {
            return self.stop(format!(
                "invalid resource manager ID {} at {}",
                h.rmid,
                Lsn(start)
            ));
        }
        self.stop(format!(
            "record with incorrect prev-link {} at {}",
            Lsn(h.prev),
            Lsn(start)
        ))
    }

    fn read_record(&mut self, pos: u64) -> Result<Option<(WalRecord, u64)>> {
        let mut page_addr = pos - pos % PAGE_SIZE;
        let Some(ph) = self.read_page(page_addr)? else {
            return self.stop_page(page_addr);
        };
        let mut off = pos % PAGE_SIZE;
        let hsize = ph.size();
        if off == 0 {
            if ph.info & format::XLP_FIRST_IS_CONTRECORD != 0 {
                return self.stop(format!("contrecord is requested by {}", Lsn(pos)));
            }
            off = hsize;
        } else if off < hsize || !off.is_multiple_of(8) {
            return self.stop(format!("invalid record offset at {}", Lsn(pos)));
        }
        let start = page_addr + off;
        let page = self.page_bytes();
        let o = off as usize;
        let tot_len = u32::from_le_bytes([page[o], page[o + 1], page[o + 2], page[o + 3]]) as usize;
        if tot_len < RECORD_HEADER {
            return self.stop(format!(
                "invalid record length at {}: wanted {RECORD_HEADER}, got {tot_len}",
                Lsn(start)
            ));
        }
        if tot_len > format::MAX_PAYLOAD + RECORD_HEADER + 5 {
            return self.stop(format!(
                "record length {tot_len} at {} too long",
                Lsn(start)
            ));
        }
        let n = (PAGE_SIZE as usize - o).min(tot_len);
        let mut rec = Vec::with_capacity(tot_len);
        rec.extend_from_slice(&page[o..o + n]);
        let mut last_off = o + n;
        let mut checked = false;
        if rec.len() >= RECORD_HEADER {
            let h = format::decode_record_header(&rec);
            if !self.header_ok(&h, start) {
                return self.stop_header(&h, start);
            }
            checked = true;
        }
        while rec.len() < tot_len {
            page_addr += PAGE_SIZE;
            let Some(ph) = self.read_page(page_addr)? else {
                return self.stop_page(page_addr);
            };
            let remaining = tot_len - rec.len();
            if ph.info & format::XLP_FIRST_IS_CONTRECORD == 0 {
                return self.stop(format!("there is no contrecord flag at {}", Lsn(page_addr)));
            }
            if ph.rem_len as usize != remaining {
                return self.stop(format!(
                    "invalid contrecord length {} (expected {remaining}) at {}",
                    ph.rem_len,
                    Lsn(page_addr)
                ));
            }
            let hs = ph.size() as usize;
            let n = (PAGE_SIZE as usize - hs).min(remaining);
            let page = self.page_bytes();
            rec.extend_from_slice(&page[hs..hs + n]);
            last_off = hs + n;
            if !checked && rec.len() >= RECORD_HEADER {
                let h = format::decode_record_header(&rec);
                if !self.header_ok(&h, start) {
                    return self.stop_header(&h, start);
                }
                checked = true;
            }
        }
        let h = format::decode_record_header(&rec);
        if h.crc != format::record_crc(&rec) {
            return self.stop(format!(
                "incorrect resource manager data checksum in record at {}",
                Lsn(start)
            ));
        }
        let Some(payload) = format::decode_main_data(&rec) else {
            return Ok(None);
        };
        let raw_end = page_addr + last_off as u64;
        let end = format::maxalign(raw_end);
        let next = if format::is_switch(h.rmid, h.info) {
            (raw_end - 1) / self.seg * self.seg + self.seg
        } else {
            end
        };
        let record = WalRecord {
            start: Lsn(start),
            end: Lsn(end),
            prev: Lsn(h.prev),
            rmid: h.rmid,
            info: h.info,
            xid: h.xid,
            payload,
        };
        Ok(Some((record, next)))
    }
}

/// Reads the raw bytes of the WAL stream starting at `from` into `buf`, exactly as they
/// are in the segment files (page headers included); returns how many bytes were read,
/// which stops at the end of `from`'s segment. A missing segment is an error
/// ("requested WAL segment ... has already been removed").
pub fn read_wal_bytes(
    dir: &Path,
    segment_size: u64,
    timeline: u32,
    from: Lsn,
    buf: &mut [u8],
) -> Result<usize> {
    let segno = from.0 / segment_size;
    let off = from.0 % segment_size;
    let Some((_, path)) = find_segment(dir, timeline, segno, segment_size) else {
        crate::bail!(
            "58P01",
            "requested WAL segment {} has already been removed",
            segment_file_name(timeline, segno, segment_size)
        );
    };
    let f = File::open(&path)
        .map_err(|e| Error::io(format!("could not open file \"{}\"", path.display()), e))?;
    let want = (buf.len() as u64).min(segment_size - off) as usize;
    let mut got = 0;
    while got < want {
        match f.read_at(&mut buf[got..want], off + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(Error::io(
                    format!("could not read from file \"{}\"", path.display()),
                    e,
                ))
            }
        }
    }
    Ok(got)
}
