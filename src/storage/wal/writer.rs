//! The WAL writer: one appender at a time, group commit for durability.
//!
//! ## State and locks
//! - `state` (a `Mutex<State>`) holds the insert position, the not-yet-written bytes
//!   (as chunks of contiguous stream bytes, page headers included), the write and flush
//!   positions and the `io_busy` flag. Appends hold it only to copy bytes in.
//! - `files` (a `Mutex<Files>`) holds the open segment files. Only the thread that set
//!   `io_busy` touches it, so it is never contended; it is a mutex only to be `Sync`.
//! - `sleepers` (inside `state`) lists the threads waiting for the I/O in progress;
//!   each is parked on its own and woken only when its wait is over or it is picked
//!   to lead the next round (a shared condition variable woke every waiter after
//!   every round: under 32 committers most went straight back to sleep, and those
//!   context switches cost more CPU than the commits).
//!
//! ## Invariants
//! - `phys` (where the next byte goes) is 8-aligned and never at a page start: whenever
//!   the stream reaches a page boundary the next page's header is appended at once, so
//!   the page after the last record always carries a valid header and `pg_waldump` ends
//!   with "invalid record length ... wanted 24, got 0" like on PostgreSQL's own WAL.
//! - `insert_end >= written >= flushed`; all three are record ends (or segment starts
//!   after a switch), as PostgreSQL reports them.
//! - A segment file the writer moves into for the first time is either created afresh
//!   (zero-filled, renamed into place), or was made ready ahead: preallocated
//!   zero-filled, or recycled by a checkpoint from an old segment (as PostgreSQL
//!   recycles). A recycled file's old pages carry an older segment's page addresses, so
//!   readers reject them; within the page being written the writer zeroes the rest of
//!   the page once, so the last record is followed by zeros as on a fresh file. A file
//!   beyond the end of WAL that a crashed run wrote under its own name is never reused:
//!   its old records could pass for new ones.
//! - A segment is *complete* once the flushed position reaches its end (by filling it,
//!   or by a switch). The round that got it there calls the completion hook
//!   ([`WalWriter::on_segment_complete`]) once per segment, oldest first, before it
//!   publishes the new flush position; the writer knows nothing of what the hook does
//!   (the engine marks the segment for the archiver).
//! - After any I/O error the writer is broken: every later call returns the same PANIC
//!   error. Nothing is retried (STYLE habit 6).
//!
//! ## Group commit, step by step
//! 1. Committers append their records (`append`), each getting its end LSN.
//! 2. Each calls `flush(end)`. The first finds no I/O running, marks `io_busy`, takes
//!    all buffered bytes and the current insert end as its target, and drops the lock.
//! 3. It writes the bytes and fdatasyncs while other committers append and then wait on
//!    `cond`.
//! 4. It publishes `flushed = target` and wakes the waiters whose records lie below
//!    `target`. If others appended and wait meanwhile, it runs up to
//!    `EXTRA_FLUSH_ROUNDS` more rounds for them at once (the disk never idles while a
//!    woken thread gets scheduled); then it clears `io_busy` and wakes one waiter,
//!    which leads the next round and covers all the others with one fsync.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, OnceLock};

use tokio::sync::watch;

use super::format::{self, LONG_PAGE_HEADER, PAGE_SIZE};
use super::io::{SegmentFile, StdIo, WalIo};
use super::segment::{self, segment_file_name};
use super::{Lsn, SyncMethod, WalOptions};
use crate::error::{sqlstate, Error, Result, Severity};

/// Buffered bytes beyond which an append writes them out itself.
const WRITE_THRESHOLD: usize = 8 << 20;

/// How many further flush rounds the thread leading a group commit runs for
/// committers that arrived during its own round, before it hands leadership on.
const EXTRA_FLUSH_ROUNDS: u32 = 2;

/// Counters of the writer's work, for tests and monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Records appended.
    pub records: u64,
    /// Bytes appended to the stream (page headers and padding included).
    pub bytes: u64,
    /// I/O rounds that wrote buffered bytes to the OS.
    pub writes: u64,
    /// I/O rounds that made the WAL durable (one per group commit).
    pub flushes: u64,
    /// fsync/fdatasync system calls issued.
    pub fsyncs: u64,
    /// Appends that found the in-memory buffer full and wrote it out themselves
    /// (pg_stat_wal's `wal_buffers_full`).
    pub buffers_full: u64,
    /// Microseconds spent writing WAL bytes to the OS.
    pub write_time_us: u64,
    /// Microseconds spent in fsync/fdatasync.
    pub sync_time_us: u64,
}

/// What one round of [`WalWriter::do_io`] did.
struct IoDone {
    fsyncs: u64,
    write_time: std::time::Duration,
    sync_time: std::time::Duration,
}

impl WalStats {
    fn count_io(&mut self, done: &IoDone) {
        self.fsyncs += done.fsyncs;
        self.write_time_us += done.write_time.as_micros() as u64;
        self.sync_time_us += done.sync_time.as_micros() as u64;
    }
}

struct State {
    tli: u32,
    insert_end: u64,
    last_record: u64,
    phys: u64,
    chunks: Vec<(u64, Vec<u8>)>,
    buffered: usize,
    written: u64,
    flushed: u64,
    io_busy: bool,
    /// Threads waiting for I/O another thread runs, each woken on its own.
    sleepers: Vec<Sleeper>,
    broken: Option<Error>,
    stats: WalStats,
}

/// A thread waiting in [`WalWriter::flush`]/[`WalWriter::write`] (or for the I/O to
/// go idle) while another thread runs the I/O round.
struct Sleeper {
    wait: Wait,
    thread: std::thread::Thread,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Until `flushed` reaches the LSN.
    Flushed(u64),
    /// Until `written` reaches the LSN.
    Written(u64),
    /// Until no I/O round runs.
    Idle,
}

impl State {
    /// Parks the calling thread until a round wakes it (or spuriously); the caller
    /// re-checks its condition. Wake-ups are targeted: a finished round wakes only the
    /// threads it satisfied, plus one to lead the next round, never the whole crowd.
    fn sleep<'a>(
        st: MutexGuard<'a, State>,
        wait: Wait,
        relock: impl FnOnce() -> MutexGuard<'a, State>,
    ) -> MutexGuard<'a, State> {
        let mut st = st;
        let me = std::thread::current();
        let id = me.id();
        st.sleepers.push(Sleeper { wait, thread: me });
        drop(st);
        // An unpark between the drop and here is kept as the thread's token, so
        // park returns at once: no wake-up is lost.
        std::thread::park();
        let mut st = relock();
        st.sleepers.retain(|s| s.thread.id() != id);
        st
    }

    /// Wakes the sleepers a round has satisfied.
    fn wake_reached(&mut self) {
        let (flushed, written) = (self.flushed, self.written);
        self.sleepers.retain(|s| {
            let done = match s.wait {
                Wait::Flushed(l) => l <= flushed,
                Wait::Written(l) => l <= written,
                Wait::Idle => false,
            };
            if done {
                s.thread.unpark();
            }
            !done
        });
    }

    /// After the I/O went idle: wakes one waiter to lead the next round, and every
    /// thread waiting for idleness.
    fn wake_next(&mut self) {
        let mut leader = false;
        for s in &self.sleepers {
            if s.wait == Wait::Idle || !leader {
                leader |= s.wait != Wait::Idle;
                s.thread.unpark();
            }
        }
    }

    /// Wakes everybody (the writer broke).
    fn wake_all(&mut self) {
        for s in self.sleepers.drain(..) {
            s.thread.unpark();
        }
    }

    /// Whether a sleeping thread needs WAL flushed beyond `flushed`.
    fn flush_awaited(&self) -> bool {
        self.sleepers
            .iter()
            .any(|s| matches!(s.wait, Wait::Flushed(l) if l > self.flushed))
    }
}

struct Files {
    tli: u32,
    current: Option<(u64, Box<dyn SegmentFile>)>,
    current_dirty: bool,
    unsynced: Vec<(u64, Box<dyn SegmentFile>)>,
    /// Segments below this number exist and may be opened; from it on they are created
    /// (or taken from `ready`).
    first_new_segno: u64,
    /// Segment files made ready ahead of the writer, all at or after
    /// `first_new_segno`: recycled from old segments by a checkpoint (`true`: they hold
    /// the old segment's stale bytes) or preallocated zero-filled (`false`).
    ready: BTreeMap<u64, bool>,
    /// Whether the current file is a recycled one, holding stale bytes beyond what this
    /// writer wrote into it.
    current_stale: bool,
    /// In a stale current file: the file offset up to which its bytes are this run's
    /// (written, or zeroed to the end of the page the last write ended in).
    clean_upto: u64,
}

/// What [`WalWriter::remove_or_recycle`] did with old segment files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recycled {
    /// Files deleted.
    pub removed: usize,
    /// Files renamed to future segment names, to be written over.
    pub recycled: usize,
}

/// The WAL writer: appends records, writes and flushes them with group commit. Shared
/// as `Arc<WalWriter>`.
pub struct WalWriter {
    opts: WalOptions,
    io: Arc<dyn WalIo>,
    state: Mutex<State>,
    files: Mutex<Files>,
    flush_tx: watch::Sender<Lsn>,
    /// When the counters started (PostgreSQL microseconds), pg_stat_wal's `stats_reset`.
    stats_since: i64,
    /// Told of each completed segment (see [`WalWriter::on_segment_complete`]).
    segment_hook: OnceLock<SegmentHook>,
    /// How long each fsync/fdatasync call took (lock-free, see `latency.rs`).
    sync_latency: super::latency::SyncLatency,
    /// Segments to make ready ahead of the writer (see [`WalWriter::ahead_requests`]).
    ahead: Ahead,
}

/// The requests for segments to be made ready ahead of the writer: once the insert
/// position passes half of its segment, the next segment's number is sent, once per
/// segment, to whoever took the receiving end ([`WalWriter::ahead_requests`]).
#[derive(Default)]
struct Ahead {
    /// The highest segment number asked for so far.
    asked: AtomicU64,
    /// Set once a thread takes the requests; until then none are sent.
    tx: OnceLock<mpsc::Sender<u64>>,
}

/// What [`WalWriter::on_segment_complete`] calls: `(timeline, segment number)`.
pub type SegmentHook = Box<dyn Fn(u32, u64) + Send + Sync>;

/// Deletes the half-built segment files (`xlogtemp.*`) a crashed run left behind.
fn remove_temp_files(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with("xlogtemp.") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The segments from `first` on (timeline `tli`) that an earlier run recycled and that
/// may be written over: full-size files whose first page header belongs to an older
/// segment. A file whose header carries its own address was written under this name by
/// a crashed run, and one without a readable header is unknown: both are recreated.
fn recycled_files_after(dir: &std::path::Path, tli: u32, seg: u64, first: u64) -> Vec<u64> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((t, segno)) = name
            .to_str()
            .and_then(|n| segment::parse_segment_file_name(n, seg))
        else {
            continue;
        };
        if t != tli || segno < first {
            continue;
        }
        let mut head = [0u8; LONG_PAGE_HEADER as usize];
        let readable = std::fs::File::open(entry.path()).and_then(|f| {
            use std::os::unix::fs::FileExt;
            f.read_exact_at(&mut head, 0)?;
            f.metadata()
        });
        let Ok(meta) = readable else { continue };
        if meta.len() != seg {
            continue;
        }
        if let Some(h) = format::decode_page_header(&head) {
            if h.pageaddr % seg == 0 && h.pageaddr / seg < segno {
                out.push(segno);
            }
        }
    }
    out.sort_unstable();
    out
}

fn panic_io(what: String, e: std::io::Error) -> Error {
    Error::io(what, e).with_severity(Severity::Panic)
}

fn check_options(opts: &WalOptions) -> Result<()> {
    if !segment::is_valid_segment_size(opts.segment_size) {
        crate::bail!(
            sqlstate::INVALID_PARAMETER_VALUE,
            "invalid WAL segment size: {} bytes",
            opts.segment_size
        );
    }
    if opts.timeline == 0 {
        crate::bail!(sqlstate::INVALID_PARAMETER_VALUE, "invalid timeline 0");
    }
    Ok(())
}

impl State {
    fn push_raw(&mut self, b: &[u8]) {
        /// A WAL block: what a few commits' records take.
        const CHUNK_CAPACITY: usize = 8192;
        match self.chunks.last_mut() {
            Some((start, v)) if *start + v.len() as u64 == self.phys => v.extend_from_slice(b),
            _ => {
                // A new chunk starts with room for the records that usually follow it
                // before the next write (growing it from one record's size cost a
                // reallocation per record).
                let mut chunk = Vec::with_capacity(b.len().max(CHUNK_CAPACITY));
                chunk.extend_from_slice(b);
                self.chunks.push((self.phys, chunk));
            }
        }
        self.phys += b.len() as u64;
        self.buffered += b.len();
        self.stats.bytes += b.len() as u64;
    }

    fn push_page_header(&mut self, rem_len: u32, seg: u64, sysid: u64) {
        let mut h = Vec::with_capacity(LONG_PAGE_HEADER as usize);
        format::encode_page_header(&mut h, self.phys, self.tli, rem_len, seg, sysid);
        self.push_raw(&h);
    }

    /// Appends a complete record at `phys`; returns (start, logical end, unaligned
    /// physical end). With `eager`, a page boundary reached at the end gets its header.
    fn push_record(
        &mut self,
        rec: &mut [u8],
        body_crc: u32,
        seg: u64,
        sysid: u64,
        eager: bool,
    ) -> (u64, u64, u64) {
        let start = self.phys;
        rec[8..16].copy_from_slice(&self.last_record.to_le_bytes());
        let crc = crc32c::crc32c_append(body_crc, &rec[..format::CRC_OFFSET]);
        rec[format::CRC_OFFSET..format::RECORD_HEADER].copy_from_slice(&crc.to_le_bytes());
        let tot = rec.len() as u64;
        let mut done = 0u64;
        while done < tot {
            if self.phys.is_multiple_of(PAGE_SIZE) {
                self.push_page_header((tot - done) as u32, seg, sysid);
            }
            let room = PAGE_SIZE - self.phys % PAGE_SIZE;
            let n = room.min(tot - done) as usize;
            let from = done as usize;
            self.push_raw(&rec[from..from + n]);
            done += n as u64;
        }
        let raw_end = self.phys;
        let pad = format::maxalign(self.phys) - self.phys;
        if pad > 0 {
            self.push_raw(&[0u8; 8][..pad as usize]);
        }
        let end = self.phys;
        if eager && self.phys.is_multiple_of(PAGE_SIZE) {
            self.push_page_header(0, seg, sysid);
        }
        self.insert_end = end;
        self.last_record = start;
        self.stats.records += 1;
        (start, end, raw_end)
    }
}

/// Builds a record with a zero `xl_prev` and no CRC yet, and the CRC of its data part
/// (computed outside the lock; the header part is added once `xl_prev` is known).
fn build_record(rmid: u8, info: u8, xid: u32, payload: &[u8]) -> Result<(Vec<u8>, u32)> {
    if !format::rmid_is_valid(rmid) {
        crate::bail!(
            sqlstate::INTERNAL_ERROR,
            "invalid resource manager ID {}",
            rmid
        );
    }
    let rec = format::encode_record(rmid, info, xid, 0, payload)?;
    let body_crc = crc32c::crc32c(&rec[format::RECORD_HEADER..]);
    Ok((rec, body_crc))
}

impl WalWriter {
    /// Creates the very first WAL of a new cluster: segment 1 of the options' timeline,
    /// whose first record goes right after the long page header (0/1000028 with 16 MiB
    /// segments), and returns a writer positioned there. The segment is on disk when
    /// this returns.
    pub fn create(opts: WalOptions) -> Result<WalWriter> {
        WalWriter::create_with_io(opts, Arc::new(StdIo))
    }

    /// [`WalWriter::create`] with an explicit I/O layer (tests inject failures here).
    pub fn create_with_io(opts: WalOptions, io: Arc<dyn WalIo>) -> Result<WalWriter> {
        check_options(&opts)?;
        std::fs::create_dir_all(&opts.dir).map_err(|e| {
            Error::io(
                format!("could not create directory \"{}\"", opts.dir.display()),
                e,
            )
        })?;
        let seg = opts.segment_size;
        let w = WalWriter::build(opts, io, seg, 0, seg, 1);
        {
            let mut st = w.lock_state();
            let sysid = w.opts.system_id;
            st.push_page_header(0, seg, sysid);
            st.insert_end = st.phys;
        }
        let end = w.insert_lsn();
        w.flush(end)?;
        Ok(w)
    }

    /// Opens the WAL for appending after recovery: `end` is the end of the last valid
    /// record (from `WalReader::end_of_valid`), `last_record` its start (the next
    /// record's `xl_prev`). Everything after `end` in its segment is zeroed, so a torn
    /// tail is cut; later segments are recreated when the writer reaches them.
    pub fn open(opts: WalOptions, end: Lsn, last_record: Lsn) -> Result<WalWriter> {
        WalWriter::open_with_io(opts, end, last_record, Arc::new(StdIo))
    }

    /// [`WalWriter::open`] with an explicit I/O layer.
    pub fn open_with_io(
        opts: WalOptions,
        end: Lsn,
        last_record: Lsn,
        io: Arc<dyn WalIo>,
    ) -> Result<WalWriter> {
        check_options(&opts)?;
        let seg = opts.segment_size;
        if end.0 < seg
            || !end.0.is_multiple_of(8)
            || !end.0.is_multiple_of(seg) && end.0 % seg < LONG_PAGE_HEADER
            || !end.0.is_multiple_of(PAGE_SIZE) && end.0 % PAGE_SIZE < format::SHORT_PAGE_HEADER
        {
            crate::bail!(sqlstate::INTERNAL_ERROR, "invalid WAL end position {}", end);
        }
        let segno = end.0 / seg;
        let offset = end.0 % seg;
        let mut first_new = segno;
        if offset != 0 {
            // Cut the torn tail: zero the rest of the segment holding `end`.
            let name = segment_file_name(opts.timeline, segno, seg);
            let path = opts.dir.join(&name);
            if !path.exists() {
                match super::reader::find_segment(&opts.dir, opts.timeline, segno, seg) {
                    Some((_, older)) => io.copy(&older, &path, opts.fsync).map_err(|e| {
                        panic_io(format!("could not copy file \"{}\"", older.display()), e)
                    })?,
                    None => crate::bail!(
                        sqlstate::DATA_CORRUPTED,
                        "could not open file \"{}\": No such file or directory",
                        path.display()
                    ),
                }
            }
            let mut f = io
                .open(&path, opts.sync_method)
                .map_err(|e| panic_io(format!("could not open file \"{}\"", path.display()), e))?;
            let zeros = vec![0u8; (seg - offset).min(1 << 20) as usize];
            let mut off = offset;
            while off < seg {
                let n = (seg - off).min(zeros.len() as u64) as usize;
                f.write_at(&zeros[..n], off).map_err(|e| {
                    panic_io(format!("could not write to file \"{}\"", path.display()), e)
                })?;
                off += n as u64;
            }
            if opts.fsync {
                f.sync().map_err(|e| {
                    panic_io(format!("could not fsync file \"{}\"", path.display()), e)
                })?;
            }
            first_new = segno + 1;
        }
        let tli = opts.timeline;
        remove_temp_files(&opts.dir);
        let recycled = recycled_files_after(&opts.dir, tli, seg, first_new);
        let w = WalWriter::build(opts, io, end.0, last_record.0, end.0, first_new);
        w.lock_files().ready = recycled.into_iter().map(|s| (s, true)).collect();
        {
            let mut st = w.lock_state();
            st.tli = tli;
            if end.0.is_multiple_of(PAGE_SIZE) {
                st.push_page_header(0, seg, w.opts.system_id);
            }
        }
        Ok(w)
    }

    fn build(
        opts: WalOptions,
        io: Arc<dyn WalIo>,
        end: u64,
        last_record: u64,
        phys: u64,
        first_new_segno: u64,
    ) -> WalWriter {
        let (flush_tx, _) = watch::channel(Lsn(end));
        let tli = opts.timeline;
        WalWriter {
            opts,
            io,
            state: Mutex::new(State {
                tli,
                insert_end: end,
                last_record,
                phys,
                chunks: Vec::new(),
                buffered: 0,
                written: end,
                flushed: end,
                io_busy: false,
                sleepers: Vec::new(),
                broken: None,
                stats: WalStats::default(),
            }),
            files: Mutex::new(Files {
                tli,
                current: None,
                current_dirty: false,
                unsynced: Vec::new(),
                first_new_segno,
                ready: BTreeMap::new(),
                current_stale: false,
                clean_upto: 0,
            }),
            flush_tx,
            stats_since: crate::types::now_micros(),
            segment_hook: OnceLock::new(),
            sync_latency: Default::default(),
            ahead: Ahead::default(),
        }
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated in a way that
        // matters more than the panic itself; keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The options the writer was opened with.
    pub fn options(&self) -> &WalOptions {
        &self.opts
    }

    /// Appends one record and returns its (start, end) LSNs. Records from concurrent
    /// callers are serialized. The bytes go to an in-memory buffer (written out by
    /// `write`/`flush`, or here once the buffer is large); this never fsyncs.
    ///
    /// `rmid` must be a custom resource manager id (128..=255): PostgreSQL's own ids
    /// would make `pg_waldump` decode tusk payloads as PostgreSQL records. Any `info`
    /// byte is accepted; the low four bits are PostgreSQL's `XLR_*` flags, so tusk
    /// record kinds should live in the high four bits (as PostgreSQL's do).
    pub fn append(&self, rmid: u8, info: u8, xid: u32, payload: &[u8]) -> Result<(Lsn, Lsn)> {
        if rmid < format::RM_MIN_CUSTOM_ID {
            crate::bail!(
                sqlstate::INTERNAL_ERROR,
                "resource manager ID {} is reserved for PostgreSQL",
                rmid
            );
        }
        self.append_any(rmid, info, xid, payload)
    }

    /// Appends a record of one of PostgreSQL's own resource managers (`rmid` below
    /// 128), whose payload the caller has laid out exactly as PostgreSQL 15 does, so
    /// that `pg_waldump` and stock replay read it as theirs (`XLOG_RESTORE_POINT`).
    /// Otherwise as [`WalWriter::append`].
    pub fn append_postgres(
        &self,
        rmid: u8,
        info: u8,
        xid: u32,
        payload: &[u8],
    ) -> Result<(Lsn, Lsn)> {
        if rmid > format::RM_MAX_BUILTIN_ID {
            crate::bail!(
                sqlstate::INTERNAL_ERROR,
                "resource manager ID {} is not one of PostgreSQL's",
                rmid
            );
        }
        self.append_any(rmid, info, xid, payload)
    }

    fn append_any(&self, rmid: u8, info: u8, xid: u32, payload: &[u8]) -> Result<(Lsn, Lsn)> {
        let (mut rec, body_crc) = build_record(rmid, info, xid, payload)?;
        let seg = self.opts.segment_size;
        let (start, end, big) = {
            let mut st = self.lock_state();
            if let Some(e) = &st.broken {
                return Err(e.clone());
            }
            let (start, end, _) =
                st.push_record(&mut rec, body_crc, seg, self.opts.system_id, true);
            let big = st.buffered > WRITE_THRESHOLD;
            st.stats.buffers_full += u64::from(big);
            (start, end, big)
        };
        self.ask_ahead(end);
        if big {
            self.write(Lsn(end))?;
        }
        Ok((Lsn(start), Lsn(end)))
    }

    /// Makes everything up to `upto` durable (written and fdatasynced as the sync method
    /// says). Concurrent callers share flushes (group commit). Blocks the calling
    /// thread; async callers run it in `spawn_blocking`.
    pub fn flush(&self, upto: Lsn) -> Result<()> {
        self.io_until(upto, true)
    }

    /// Writes (without fsync) everything up to `upto` to the OS, so readers such as
    /// walsenders can see it.
    pub fn write(&self, upto: Lsn) -> Result<()> {
        self.io_until(upto, false)
    }

    fn io_until(&self, upto: Lsn, sync: bool) -> Result<()> {
        let mut st = self.lock_state();
        let upto = upto.0.min(st.insert_end);
        loop {
            // Bytes already made durable stay durable: a caller whose record an
            // earlier round flushed hears so even if a later round broke the writer
            // before it woke up (its commit is in the WAL; calling it failed would
            // abort in memory what recovery brings back).
            let reached = if sync { st.flushed } else { st.written };
            if reached >= upto {
                return Ok(());
            }
            if let Some(e) = &st.broken {
                return Err(e.clone());
            }
            if st.io_busy {
                let wait = if sync {
                    Wait::Flushed(upto)
                } else {
                    Wait::Written(upto)
                };
                st = State::sleep(st, wait, || self.lock_state());
                continue;
            }
            st.io_busy = true;
            let mut rounds = 0;
            loop {
                let chunks = std::mem::take(&mut st.chunks);
                st.buffered = 0;
                let target = st.insert_end;
                let (tli, was_flushed) = (st.tli, st.flushed);
                drop(st);
                let res = self.do_io(&chunks, sync);
                if sync && res.is_ok() {
                    self.segments_completed(tli, was_flushed, target);
                }
                st = self.lock_state();
                match res {
                    Ok(done) => {
                        st.written = st.written.max(target);
                        st.stats.writes += u64::from(!chunks.is_empty());
                        st.stats.count_io(&done);
                        if sync {
                            st.flushed = st.flushed.max(target);
                            st.stats.flushes += 1;
                            self.flush_tx.send_replace(Lsn(st.flushed));
                        }
                        st.wake_reached();
                    }
                    Err(e) => {
                        st.io_busy = false;
                        st.broken = Some(e.clone());
                        st.wake_all();
                        return Err(e);
                    }
                }
                // Others appended while this round ran and are waiting: serve them
                // at once rather than hand the next round to a thread still waking up
                // (the hand-off left the disk idle under load). Bounded, so this
                // caller's own reply is delayed by at most that many flushes.
                rounds += 1;
                if !(sync && rounds <= EXTRA_FLUSH_ROUNDS && st.flush_awaited()) {
                    break;
                }
            }
            st.io_busy = false;
            st.wake_next();
        }
    }

    fn lock_files(&self) -> MutexGuard<'_, Files> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes `chunks` to their segment files and, with `sync`, makes all written files
    /// durable; returns the number of fsync calls. Runs only with `io_busy` set.
    fn do_io(&self, chunks: &[(u64, Vec<u8>)], sync: bool) -> Result<IoDone> {
        let started = std::time::Instant::now();
        let seg = self.opts.segment_size;
        let mut files = self.lock_files();
        for (start, bytes) in chunks {
            let mut pos = *start;
            let mut data = &bytes[..];
            while !data.is_empty() {
                let segno = pos / seg;
                let off = pos % seg;
                let n = ((seg - off) as usize).min(data.len());
                self.ensure_file(&mut files, segno)?;
                let tli = files.tli;
                if let Some((_, f)) = files.current.as_mut() {
                    // (the file's name is spelled only for the error)
                    f.write_at(&data[..n], off).map_err(|e| {
                        let name = segment_file_name(tli, segno, seg);
                        panic_io(
                            format!(
                                "could not write to log file {name} at offset {off}, length {n}"
                            ),
                            e,
                        )
                    })?;
                }
                files.current_dirty = true;
                if files.current_stale {
                    self.zero_page_tail(&mut files, off + n as u64)?;
                }
                pos += n as u64;
                data = &data[n..];
            }
        }
        let write_time = started.elapsed();
        let sync_started = std::time::Instant::now();
        let mut fsyncs = 0;
        // With O_DSYNC/O_SYNC every write was durable when it returned.
        let needs_fsync = self.opts.fsync
            && matches!(
                self.opts.sync_method,
                SyncMethod::Fdatasync | SyncMethod::Fsync
            );
        if sync && needs_fsync {
            let tli = files.tli;
            let fsync_failed = |segno: u64, e| {
                let name = segment_file_name(tli, segno, seg);
                panic_io(format!("could not fsync file \"{name}\""), e)
            };
            for (segno, mut f) in std::mem::take(&mut files.unsynced) {
                let t = std::time::Instant::now();
                f.sync().map_err(|e| fsync_failed(segno, e))?;
                self.sync_latency.observe(t.elapsed());
                fsyncs += 1;
            }
            if files.current_dirty {
                if let Some((segno, f)) = files.current.as_mut() {
                    let t = std::time::Instant::now();
                    f.sync().map_err(|e| fsync_failed(*segno, e))?;
                    self.sync_latency.observe(t.elapsed());
                    fsyncs += 1;
                }
                files.current_dirty = false;
            }
        } else if sync {
            files.unsynced.clear();
            files.current_dirty = false;
        }
        Ok(IoDone {
            fsyncs,
            write_time,
            sync_time: if fsyncs > 0 {
                sync_started.elapsed()
            } else {
                std::time::Duration::ZERO
            },
        })
    }

    /// Makes `files.current` the file of `segno`, opening or creating it.
    fn ensure_file(&self, files: &mut Files, segno: u64) -> Result<()> {
        if matches!(&files.current, Some((s, _)) if *s == segno) {
            return Ok(());
        }
        if let Some((old, f)) = files.current.take() {
            if files.current_dirty {
                files.unsynced.push((old, f));
            }
        }
        files.current_dirty = false;
        let seg = self.opts.segment_size;
        let path = self.opts.dir.join(segment_file_name(files.tli, segno, seg));
        files.current_stale = false;
        let ready = if segno >= files.first_new_segno {
            files.ready.remove(&segno)
        } else {
            None
        };
        // A file made ready ahead is used when it is still there; else it is created.
        let ready_file = ready.and_then(|stale| {
            let f = self.io.open(&path, self.opts.sync_method).ok()?;
            Some((f, stale))
        });
        let f = if let Some((f, stale)) = ready_file {
            files.first_new_segno = segno + 1;
            files.current_stale = stale;
            files.clean_upto = 0;
            f
        } else if segno < files.first_new_segno {
            self.io
                .open(&path, self.opts.sync_method)
                .map_err(|e| panic_io(format!("could not open file \"{}\"", path.display()), e))?
        } else {
            let f = self
                .io
                .create_zeroed(&path, seg, self.opts.fsync, self.opts.sync_method)
                .map_err(|e| {
                    panic_io(format!("could not create file \"{}\"", path.display()), e)
                })?;
            files.first_new_segno = segno + 1;
            f
        };
        files.current = Some((segno, f));
        Ok(())
    }

    /// In a recycled (stale) current file, zeroes from file offset `end` to the end of
    /// its WAL page, once per page, so that what follows the last record on its page
    /// reads as zeros (as on a fresh segment, and as PostgreSQL's whole-page writes
    /// leave it) rather than as the old segment's bytes.
    fn zero_page_tail(&self, files: &mut Files, end: u64) -> Result<()> {
        let seg = self.opts.segment_size;
        let page_end = end.next_multiple_of(PAGE_SIZE).min(seg);
        files.clean_upto = files.clean_upto.max(end);
        if page_end <= files.clean_upto {
            return Ok(());
        }
        let zeros = [0u8; PAGE_SIZE as usize];
        let n = (page_end - end) as usize;
        let tli = files.tli;
        if let Some((segno, f)) = files.current.as_mut() {
            f.write_at(&zeros[..n], end).map_err(|e| {
                let name = segment_file_name(tli, *segno, seg);
                panic_io(
                    format!("could not write to log file {name} at offset {end}, length {n}"),
                    e,
                )
            })?;
        }
        files.clean_upto = page_end;
        Ok(())
    }

    /// Deletes or recycles the segment files before `keep_from_segno` (never the one
    /// being written), as PostgreSQL's checkpoints do: while the files made ready ahead
    /// of the writer stay at or below segment `recycle_upto`, an old file is renamed to
    /// the next future segment name (the writer later writes over it instead of creating
    /// and zero-filling a new file); the rest are deleted.
    pub fn remove_or_recycle(&self, keep_from_segno: u64, recycle_upto: u64) -> Result<Recycled> {
        let seg = self.opts.segment_size;
        let current = {
            let st = self.lock_state();
            st.written.saturating_sub(1) / seg
        };
        let old = super::segments_before(&self.opts.dir, seg, keep_from_segno.min(current))?;
        let mut out = Recycled::default();
        let mut doomed = Vec::new();
        {
            let mut files = self.lock_files();
            let mut next = files
                .ready
                .keys()
                .next_back()
                .map_or(files.first_new_segno, |s| s + 1)
                .max(files.first_new_segno)
                .max(current + 1);
            for path in old {
                if next > recycle_upto {
                    doomed.push(path);
                    continue;
                }
                let to = self.opts.dir.join(segment_file_name(files.tli, next, seg));
                match std::fs::rename(&path, &to) {
                    Ok(()) => {
                        files.ready.insert(next, true);
                        next += 1;
                        out.recycled += 1;
                    }
                    Err(_) => doomed.push(path),
                }
            }
            if out.recycled > 0 && self.opts.fsync {
                self.io.sync_dir(&self.opts.dir).map_err(|e| {
                    Error::io(
                        format!("could not fsync directory \"{}\"", self.opts.dir.display()),
                        e,
                    )
                })?;
            }
        }
        for path in doomed {
            std::fs::remove_file(&path).map_err(|e| {
                Error::io(format!("could not remove file \"{}\"", path.display()), e)
            })?;
            out.removed += 1;
        }
        Ok(out)
    }

    /// Creates the segment after the one being written, zero-filled, when the insert
    /// position is past three quarters of the current segment and no file is ready for
    /// it yet (PostgreSQL's preallocation at checkpoints). Returns whether a file was
    /// added.
    pub fn preallocate_next(&self) -> Result<bool> {
        let seg = self.opts.segment_size;
        let insert = self.lock_state().insert_end;
        if insert % seg < seg / 4 * 3 {
            return Ok(false);
        }
        self.prepare_segment(insert / seg + 1)
    }

    /// Creates segment `next` zero-filled, unless the writer already moved into it or a
    /// file is ready for it. The file is built under a temporary name without holding
    /// up writers, and renamed into place under the files lock only if it is still
    /// wanted then (the writer may have created it meanwhile). Returns whether a file
    /// was added.
    pub fn prepare_segment(&self, next: u64) -> Result<bool> {
        let seg = self.opts.segment_size;
        let wanted =
            |files: &Files| next >= files.first_new_segno && !files.ready.contains_key(&next);
        if !wanted(&self.lock_files()) {
            return Ok(false);
        }
        // Unique: the checkpointer and the thread preparing ahead may both be at it.
        let temp = super::io::temp_in(&self.opts.dir);
        self.io
            .create_zeroed(&temp, seg, self.opts.fsync, self.opts.sync_method)
            .map_err(|e| Error::io(format!("could not create file \"{}\"", temp.display()), e))?;
        let mut files = self.lock_files();
        if !wanted(&files) {
            drop(files);
            let _ = std::fs::remove_file(&temp);
            return Ok(false);
        }
        let to = self.opts.dir.join(segment_file_name(files.tli, next, seg));
        std::fs::rename(&temp, &to)
            .map_err(|e| Error::io(format!("could not rename file \"{}\"", temp.display()), e))?;
        if self.opts.fsync {
            self.io.sync_dir(&self.opts.dir).map_err(|e| {
                Error::io(
                    format!("could not fsync directory \"{}\"", self.opts.dir.display()),
                    e,
                )
            })?;
        }
        files.ready.insert(next, false);
        Ok(true)
    }

    /// The receiving end of the requests for segments to prepare ahead of the writer
    /// ([`WalWriter::prepare_segment`] each number received): once the insert position
    /// passes half of a segment, the next one's number is sent, once. A large
    /// transaction's commit fills a segment every few tens of milliseconds, and creating
    /// one (16 MB of zeros written and synced) in the writer's path held every
    /// committer behind it up for as long as ~15 ms. `None` when another caller took
    /// the requests already. Until one is taken, nothing is asked.
    pub fn ahead_requests(&self) -> Option<mpsc::Receiver<u64>> {
        let (tx, rx) = mpsc::channel();
        self.ahead.tx.set(tx).ok()?;
        Some(rx)
    }

    /// Asks for the segment after the one holding `end` once `end` is past half of its
    /// segment (see [`WalWriter::ahead_requests`]): an atomic maximum per append, a send
    /// once per segment.
    fn ask_ahead(&self, end: u64) {
        let seg = self.opts.segment_size;
        if end % seg < seg / 2 {
            return;
        }
        let Some(tx) = self.ahead.tx.get() else {
            return;
        };
        let next = end / seg + 1;
        if self.ahead.asked.fetch_max(next, Ordering::Relaxed) < next {
            // The receiver gone (the thread ended) leaves the writer to create it.
            let _ = tx.send(next);
        }
    }

    /// The segment numbers of the files made ready ahead of the writer (tests).
    pub fn ready_segments(&self) -> Vec<u64> {
        self.lock_files().ready.keys().copied().collect()
    }

    /// The end of the last appended record (where the next one begins, modulo a page
    /// header), or the next segment's start after a switch.
    pub fn insert_lsn(&self) -> Lsn {
        Lsn(self.lock_state().insert_end)
    }

    /// How far the WAL has been written to the OS.
    pub fn write_lsn(&self) -> Lsn {
        Lsn(self.lock_state().written)
    }

    /// How far the WAL is durable.
    pub fn flush_lsn(&self) -> Lsn {
        Lsn(self.lock_state().flushed)
    }

    /// The timeline new pages are written on.
    pub fn timeline(&self) -> u32 {
        self.lock_state().tli
    }

    /// The start LSN of the last appended record.
    pub fn last_record_lsn(&self) -> Lsn {
        Lsn(self.lock_state().last_record)
    }

    /// Appends an XLOG switch record and moves to the next segment (the rest of the
    /// current one stays zero, as PostgreSQL leaves it); returns the switch record's
    /// end, as `pg_switch_wal()` reports it. When the current segment holds no record
    /// yet, nothing is written and the insert position is returned.
    pub fn switch_segment(&self) -> Result<Lsn> {
        let (mut rec, body_crc) = build_record(format::RM_XLOG_ID, format::XLOG_SWITCH, 0, &[])?;
        let seg = self.opts.segment_size;
        let sysid = self.opts.system_id;
        let mut st = self.lock_state();
        if let Some(e) = &st.broken {
            return Err(e.clone());
        }
        let seg_start = (st.phys - 1) / seg * seg;
        if st.insert_end <= seg_start + LONG_PAGE_HEADER {
            return Ok(Lsn(st.insert_end));
        }
        let (_, end, raw_end) = st.push_record(&mut rec, body_crc, seg, sysid, false);
        let next = (raw_end - 1) / seg * seg + seg;
        st.phys = next;
        st.insert_end = next;
        st.push_page_header(0, seg, sysid);
        Ok(Lsn(end))
    }

    /// Starts timeline `new_tli` at the current position (promotion): everything
    /// buffered is written, the current segment is copied to the new timeline's file
    /// name, and later pages and segment files carry the new timeline.
    pub fn switch_timeline(&self, new_tli: u32) -> Result<()> {
        let mut st = self.lock_state();
        loop {
            if let Some(e) = &st.broken {
                return Err(e.clone());
            }
            if !st.io_busy {
                break;
            }
            st = State::sleep(st, Wait::Idle, || self.lock_state());
        }
        if new_tli <= st.tli {
            crate::bail!(
                sqlstate::INTERNAL_ERROR,
                "new timeline {} is not greater than current timeline {}",
                new_tli,
                st.tli
            );
        }
        st.io_busy = true;
        let chunks = std::mem::take(&mut st.chunks);
        st.buffered = 0;
        let target = st.insert_end;
        let segno = (st.phys - 1) / self.opts.segment_size;
        let (old_tli, was_flushed) = (st.tli, st.flushed);
        drop(st);
        let res = self.do_io(&chunks, true).and_then(|done| {
            self.segments_completed(old_tli, was_flushed, target);
            let seg = self.opts.segment_size;
            let mut files = self.lock_files();
            let from = self.opts.dir.join(segment_file_name(files.tli, segno, seg));
            let to = self.opts.dir.join(segment_file_name(new_tli, segno, seg));
            if from.exists() {
                self.io.copy(&from, &to, self.opts.fsync).map_err(|e| {
                    panic_io(format!("could not copy file \"{}\"", from.display()), e)
                })?;
            }
            files.current = None;
            files.current_dirty = false;
            // Files made ready ahead carry the old timeline's names: rename them.
            let ready: Vec<u64> = files.ready.keys().copied().collect();
            for s in ready {
                let from = self.opts.dir.join(segment_file_name(files.tli, s, seg));
                let to = self.opts.dir.join(segment_file_name(new_tli, s, seg));
                if std::fs::rename(&from, &to).is_err() {
                    files.ready.remove(&s);
                }
            }
            files.tli = new_tli;
            Ok(done)
        });
        let mut st = self.lock_state();
        st.io_busy = false;
        match res {
            Ok(done) => {
                st.tli = new_tli;
                st.written = st.written.max(target);
                st.flushed = st.flushed.max(target);
                st.stats.flushes += 1;
                st.stats.count_io(&done);
                self.flush_tx.send_replace(Lsn(st.flushed));
                st.wake_reached();
                st.wake_next();
                Ok(())
            }
            Err(e) => {
                st.broken = Some(e.clone());
                st.wake_all();
                Err(e)
            }
        }
    }

    /// Takes over the positions and files of `fresh`, a writer opened on the same
    /// directory and I/O layer at the end of recovered WAL (promotion: a standby's
    /// writer was parked while replay ran). Subscribers of [`WalWriter::subscribe_flush`]
    /// keep their channel and see the new flush position. Nothing may be appending
    /// meanwhile (an engine in recovery refuses writes).
    pub fn take_over(&self, fresh: WalWriter) {
        let mut st = self.lock_state();
        let mut files = self.lock_files();
        let mut fst = fresh.lock_state();
        let mut ffiles = fresh.lock_files();
        std::mem::swap(&mut *files, &mut *ffiles);
        let sleepers = std::mem::take(&mut st.sleepers);
        std::mem::swap(&mut *st, &mut *fst);
        st.sleepers = sleepers;
        let flushed = st.flushed;
        drop(ffiles);
        drop(fst);
        drop(files);
        drop(st);
        self.flush_tx.send_replace(Lsn(flushed));
    }

    /// Sets the hook called with `(timeline, segment number)` for each segment that
    /// becomes complete: durable up to its end, by filling it or by a switch. It runs on
    /// the flushing thread, oldest segment first, before the new flush position is
    /// published; it must be quick and must not call back into the writer. Only the
    /// first hook set counts.
    pub fn on_segment_complete(&self, hook: SegmentHook) {
        let _ = self.segment_hook.set(hook);
    }

    /// Calls the completion hook for the segments a flush from `from` to `to` finished.
    fn segments_completed(&self, tli: u32, from: u64, to: u64) {
        let Some(hook) = self.segment_hook.get() else {
            return;
        };
        let seg = self.opts.segment_size;
        for segno in from / seg..to / seg {
            hook(tli, segno);
        }
    }

    /// Subscribes to flush progress: the receiver sees the flushed LSN each time it
    /// advances (walsenders wait on it).
    pub fn subscribe_flush(&self) -> watch::Receiver<Lsn> {
        self.flush_tx.subscribe()
    }

    /// The writer's counters.
    pub fn stats(&self) -> WalStats {
        self.lock_state().stats
    }

    /// The fsync latency histogram (lock-free; see `latency.rs`).
    pub fn sync_latency(&self) -> super::latency::SyncLatencySnapshot {
        self.sync_latency.snapshot()
    }

    /// When the counters started counting (this process's start), in PostgreSQL
    /// microseconds.
    pub fn stats_since(&self) -> i64 {
        self.stats_since
    }

    /// The directory the writer writes in.
    pub fn dir(&self) -> PathBuf {
        self.opts.dir.clone()
    }
}
