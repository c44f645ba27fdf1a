//! Tests of the WAL as a whole: framing round trips, torn tails, group commit, failure
//! injection, and the stock `pg_waldump` walking what tusk wrote.

use super::io::{SegmentFile, StdIo, WalIo};
use super::*;
use crate::error::Severity;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const MB: u64 = 1 << 20;
const RM_TUSK: u8 = 130;

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "tusk-wal-{tag}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn opts(dir: &Path, seg: u64) -> WalOptions {
    WalOptions {
        dir: dir.to_path_buf(),
        segment_size: seg,
        system_id: 7_311_111_111_111_111_111,
        timeline: 1,
        fsync: false,
        sync_method: SyncMethod::Fdatasync,
    }
}

/// A payload of `len` bytes that differs per record.
fn payload(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j * 7) as u8).collect()
}

/// Sizes covering short/long data headers, exact page fills and multi-page records.
fn sizes() -> Vec<usize> {
    let mut v = vec![
        0, 1, 2, 100, 253, 254, 255, 256, 1000, 8000, 8142, 8168, 8192, 20000, 70000, 300_000,
    ];
    for i in 0..200 {
        v.push((i * 97) % 3000);
    }
    v.extend([1_500_000, 5, 9000]);
    v
}

fn read_all(dir: &Path, seg: u64, tli: u32, start: Lsn) -> (Vec<WalRecord>, Lsn) {
    let mut r = WalReader::new(dir, seg, tli, start);
    let mut out = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        out.push(rec);
    }
    (out, r.end_of_valid())
}

#[test]
fn lsn_display_and_parse() {
    assert_eq!(Lsn(0x1000028).to_string(), "0/1000028");
    assert_eq!(Lsn(0x16_B374_D848).to_string(), "16/B374D848");
    assert_eq!(Lsn(0).to_string(), "0/0");
    assert_eq!("16/B374D848".parse::<Lsn>().unwrap(), Lsn(0x16_B374_D848));
    assert_eq!("0/1000028".parse::<Lsn>().unwrap(), Lsn(0x1000028));
    assert_eq!("ffffffff/ffffffff".parse::<Lsn>().unwrap(), Lsn(u64::MAX));
    for bad in ["", "1", "/1", "1/", "x/1", "1/123456789", "0/1/2", " 0/1"] {
        let e = bad.parse::<Lsn>().unwrap_err();
        assert_eq!(e.code, "22P02", "{bad}");
    }
    assert!(Lsn(1) > Lsn(0));
    assert_eq!(Lsn(0x1000028) + 8, Lsn(0x1000030));
    assert_eq!(Lsn(u64::MAX) + 8, Lsn(u64::MAX));
    assert_eq!(Lsn(0x1000030).bytes_since(Lsn(0x1000028)), 8);
    assert_eq!(Lsn(0x1000028).bytes_since(Lsn(0x1000030)), 0);
    assert_eq!(Lsn(0x2000028).segno(16 * MB), 2);
    assert_eq!(Lsn::default(), Lsn::INVALID);
    assert_eq!(
        "open_sync".parse::<SyncMethod>().unwrap(),
        SyncMethod::OpenSync
    );
    assert!("nope".parse::<SyncMethod>().is_err());
}

#[test]
fn create_positions_like_initdb() {
    let d = TempDir::new("create");
    let w = WalWriter::create(opts(&d.0, 16 * MB)).unwrap();
    assert_eq!(w.insert_lsn(), Lsn(0x1000028));
    assert!(d.0.join("000000010000000000000001").is_file());
    let (s, e) = w.append(RM_TUSK, 0x10, 5, b"hello").unwrap();
    assert_eq!(s, Lsn(0x1000028));
    // 24 header + 2 data header + 5 bytes = 31, aligned to 32.
    assert_eq!(e, Lsn(0x1000048));
    assert_eq!(w.insert_lsn(), e);
    let d1 = TempDir::new("create1m");
    let w = WalWriter::create(opts(&d1.0, MB)).unwrap();
    assert_eq!(w.insert_lsn(), Lsn(0x100028));
    assert_eq!(
        std::fs::metadata(d1.0.join("000000010000000000000001"))
            .unwrap()
            .len(),
        MB
    );
    let bad = WalWriter::create(opts(&d1.0, 3 * MB));
    assert!(bad.is_err());
    assert!(w.append(0, 0x40, 0, b"").is_err());
    assert!(w.append(21, 0, 0, b"x").is_err());
    assert!(w.append(128, 0, 0, b"x").is_ok());
}

#[test]
fn round_trip_many_sizes_across_pages_and_segments() {
    let d = TempDir::new("roundtrip");
    let w = WalWriter::create(opts(&d.0, MB)).unwrap();
    let first = w.insert_lsn();
    let mut expect = Vec::new();
    for (i, len) in sizes().into_iter().enumerate() {
        let p = payload(i, len);
        let (s, e) = w
            .append(RM_TUSK + (i % 3) as u8, ((i % 16) << 4) as u8, i as u32, &p)
            .unwrap();
        assert!(e > s);
        expect.push((s, e, p));
        if i == 100 {
            let sw = w.switch_segment().unwrap();
            assert_eq!(w.insert_lsn().0 % MB, 0);
            assert!(sw > e);
            // A second switch right away is a no-op.
            assert_eq!(w.switch_segment().unwrap(), w.insert_lsn());
        }
    }
    w.flush(w.insert_lsn()).unwrap();
    assert_eq!(w.flush_lsn(), w.insert_lsn());
    let (recs, end) = read_all(&d.0, MB, 1, first);
    let data: Vec<&WalRecord> = recs.iter().filter(|r| !r.is_switch()).collect();
    assert_eq!(recs.len(), expect.len() + 1);
    assert_eq!(data.len(), expect.len());
    let mut prev = Lsn(0);
    for (r, (s, e, p)) in data.iter().zip(&expect) {
        assert_eq!((r.start, r.end), (*s, *e));
        assert_eq!(&r.payload, p);
        if prev.is_valid() {
            assert!(r.prev == prev || recs.iter().any(|x| x.is_switch() && x.start == r.prev));
        }
        prev = r.start;
    }
    assert_eq!(end, w.insert_lsn());
    assert!(std::fs::read_dir(&d.0).unwrap().count() >= 3);
}

#[test]
fn a_read_limit_holds_records_back_until_lifted() {
    let d = TempDir::new("limit");
    let w = WalWriter::create(opts(&d.0, MB)).unwrap();
    let first = w.insert_lsn();
    // The second record spans pages, so holding it back drops a page read ahead.
    let (_, e0) = w.append(RM_TUSK, 0, 3, &payload(0, 100)).unwrap();
    let (s1, e1) = w.append(RM_TUSK, 0, 3, &payload(1, 20_000)).unwrap();
    let (_, e2) = w.append(RM_TUSK, 0, 3, &payload(2, 10)).unwrap();
    w.flush(w.insert_lsn()).unwrap();
    let mut r = WalReader::new(&d.0, MB, 1, first);
    r.set_limit(Some(e0));
    assert_eq!(r.next_record().unwrap().unwrap().end, e0);
    // The next record ends past the limit: "no more WAL" for now, at its start.
    assert!(r.next_record().unwrap().is_none());
    assert_eq!(r.end_of_valid(), s1);
    assert!(r.stop_reason().is_none());
    r.set_limit(Some(Lsn(e1.0 - 1)));
    assert!(r.next_record().unwrap().is_none());
    r.set_limit(Some(e1));
    let rec = r.next_record().unwrap().unwrap();
    assert_eq!((rec.start, rec.end), (s1, e1));
    assert_eq!(rec.payload, payload(1, 20_000));
    r.set_limit(None);
    assert_eq!(r.next_record().unwrap().unwrap().end, e2);
    assert!(r.next_record().unwrap().is_none());
}

#[test]
fn raw_bytes_match_the_files() {
    let d = TempDir::new("raw");
    let w = WalWriter::create(opts(&d.0, MB)).unwrap();
    for i in 0..50 {
        w.append(RM_TUSK, 0, i, &payload(i as usize, 30_000))
            .unwrap();
    }
    w.write(w.insert_lsn()).unwrap();
    assert_eq!(w.write_lsn(), w.insert_lsn());
    let file = std::fs::read(d.0.join("000000010000000000000001")).unwrap();
    let mut buf = vec![0u8; 3 * MB as usize];
    let n = read_wal_bytes(&d.0, MB, 1, Lsn(MB + 100), &mut buf).unwrap();
    assert_eq!(n as u64, MB - 100);
    assert_eq!(&buf[..n], &file[100..]);
    let e = read_wal_bytes(&d.0, MB, 1, Lsn(50 * MB), &mut buf).unwrap_err();
    assert_eq!(
        e.message,
        "requested WAL segment 000000010000000000000032 has already been removed"
    );
}

#[test]
fn torn_tail_is_cut_and_writer_reopens() {
    for mode in ["truncate", "cut-file", "bitflip", "zero-contpage"] {
        let d = TempDir::new("torn");
        let seg = MB;
        let w = WalWriter::create(opts(&d.0, seg)).unwrap();
        let first = w.insert_lsn();
        let mut ends = Vec::new();
        for i in 0..40 {
            ends.push(w.append(RM_TUSK, 0, i, &payload(i as usize, 5000)).unwrap());
        }
        w.flush(w.insert_lsn()).unwrap();
        drop(w);
        // Damage record 30 (which spans a page boundary or not; either way).
        let (s30, e30) = ends[30];
        let path = d.0.join("000000010000000000000001");
        let mut bytes = std::fs::read(&path).unwrap();
        match mode {
            "truncate" => {
                // Zero everything from the middle of record 30 on, as a torn write.
                let mid = ((s30.0 + e30.0) / 2 - seg) as usize;
                bytes[mid..].iter_mut().for_each(|b| *b = 0);
            }
            "cut-file" => {
                // The file itself ends in the middle of record 30.
                let mid = ((s30.0 + e30.0) / 2 - seg) as usize;
                bytes.truncate(mid);
            }
            "bitflip" => {
                let at = (s30.0 - seg) as usize + 40;
                bytes[at] ^= 0x10;
            }
            _ => {
                // Wipe the page where record 30 continues.
                let page = ((e30.0 - 1) / 8192 * 8192 - seg) as usize;
                if page as u64 + seg <= s30.0 {
                    // Record 30 did not span a page; wipe the page it starts on instead.
                    let p = ((s30.0 - seg) / 8192 * 8192) as usize;
                    bytes[p..p + 8192].iter_mut().for_each(|b| *b = 0);
                } else {
                    bytes[page..page + 8192].iter_mut().for_each(|b| *b = 0);
                }
            }
        }
        std::fs::write(&path, &bytes).unwrap();
        let mut r = WalReader::new(&d.0, seg, 1, first);
        let mut n = 0;
        while let Some(_rec) = r.next_record().unwrap() {
            n += 1;
        }
        if mode == "bitflip" {
            assert_eq!(
                r.stop_reason(),
                Some(
                    format!("incorrect resource manager data checksum in record at {s30}").as_str()
                )
            );
        }
        let good = if mode == "zero-contpage" { n } else { 30 };
        assert!(n <= 30, "{mode}: read {n}");
        assert_eq!(n, good, "{mode}");
        let end = r.end_of_valid();
        assert_eq!(end, ends[n - 1].1, "{mode}");
        let last = r.last_record().unwrap();
        // Reopen there and append: everything after reads back, nothing stale follows.
        let w = WalWriter::open(opts(&d.0, seg), end, last).unwrap();
        let (s, _) = w.append(RM_TUSK, 0x20, 99, b"after the crash").unwrap();
        assert_eq!(s, end);
        w.append(RM_TUSK, 0x20, 100, &payload(1, 20000)).unwrap();
        w.flush(w.insert_lsn()).unwrap();
        let (recs, end2) = read_all(&d.0, seg, 1, first);
        assert_eq!(recs.len(), n + 2, "{mode}");
        assert_eq!(recs[n].payload, b"after the crash");
        assert_eq!(recs[n].prev, last);
        assert_eq!(end2, w.insert_lsn());
    }
}

#[test]
fn end_of_wal_reason_is_postgres_wording() {
    let d = TempDir::new("reason");
    let w = WalWriter::create(opts(&d.0, MB)).unwrap();
    let first = w.insert_lsn();
    w.append(RM_TUSK, 0, 1, b"one").unwrap();
    w.flush(w.insert_lsn()).unwrap();
    let end = w.insert_lsn();
    drop(w);
    let mut r = WalReader::new(&d.0, MB, 1, first);
    while r.next_record().unwrap().is_some() {}
    assert_eq!(r.end_of_valid(), end);
    assert_eq!(
        r.stop_reason(),
        Some(format!("invalid record length at {end}: wanted 24, got 0").as_str())
    );
}

#[test]
fn reopen_after_switch_and_at_page_boundary() {
    let d = TempDir::new("reopen");
    let seg = MB;
    let w = WalWriter::create(opts(&d.0, seg)).unwrap();
    let first = w.insert_lsn();
    // 8192 - 40 (long header) = 8152 bytes: a record of 24 + 5 + 8123 bytes ends
    // exactly at the first page boundary.
    let (_, e) = w.append(RM_TUSK, 0, 1, &payload(0, 8152 - 29)).unwrap();
    assert_eq!(e, Lsn(seg + 8192));
    w.flush(e).unwrap();
    drop(w);
    let (recs, end) = read_all(&d.0, seg, 1, first);
    assert_eq!((recs.len(), end), (1, e));
    let w = WalWriter::open(opts(&d.0, seg), end, recs[0].start).unwrap();
    let (s, _) = w.append(RM_TUSK, 0, 2, b"x").unwrap();
    assert_eq!(s, Lsn(seg + 8192 + 24));
    let sw = w.switch_segment().unwrap();
    assert_eq!(w.insert_lsn(), Lsn(2 * seg));
    w.flush(w.insert_lsn()).unwrap();
    drop(w);
    let (recs, end) = read_all(&d.0, seg, 1, first);
    assert_eq!(recs.len(), 3);
    assert!(recs[2].is_switch());
    assert_eq!(recs[2].end, sw);
    assert_eq!(end, Lsn(2 * seg));
    let w = WalWriter::open(opts(&d.0, seg), end, recs[2].start).unwrap();
    let (s, _) = w.append(RM_TUSK, 0, 3, b"next segment").unwrap();
    assert_eq!(s, Lsn(2 * seg + 40));
    w.flush(w.insert_lsn()).unwrap();
    let (recs, _) = read_all(&d.0, seg, 1, first);
    assert_eq!(recs.len(), 4);
    assert_eq!(recs[3].prev, recs[2].start);
}

#[test]
fn stale_next_segment_is_recreated() {
    let d = TempDir::new("stale");
    let seg = MB;
    let w = WalWriter::create(opts(&d.0, seg)).unwrap();
    let first = w.insert_lsn();
    for i in 0..300 {
        w.append(RM_TUSK, 0, i, &payload(i as usize, 5000)).unwrap();
    }
    w.flush(w.insert_lsn()).unwrap();
    drop(w);
    // Pretend the crash lost everything after record 10: reopen there.
    let (recs, _) = read_all(&d.0, seg, 1, first);
    assert_eq!(recs.len(), 300);
    let w = WalWriter::open(opts(&d.0, seg), recs[10].end, recs[10].start).unwrap();
    for i in 0..250 {
        w.append(RM_TUSK, 0x30, 1000 + i, &payload(i as usize + 7, 5000))
            .unwrap();
    }
    w.flush(w.insert_lsn()).unwrap();
    let (recs2, end) = read_all(&d.0, seg, 1, first);
    assert_eq!(recs2.len(), 11 + 250);
    assert!(recs2[11..].iter().all(|r| r.info == 0x30));
    assert_eq!(end, w.insert_lsn());
}

#[test]
fn group_commit_shares_flushes() {
    let d = TempDir::new("group");
    let mut o = opts(&d.0, MB);
    o.fsync = true;
    let w = Arc::new(WalWriter::create(o).unwrap());
    let base = w.stats();
    let threads = 8;
    let per = 40;
    let mut hs = Vec::new();
    let mut rx = w.subscribe_flush();
    for t in 0..threads {
        let w = w.clone();
        hs.push(std::thread::spawn(move || {
            let mut ends = Vec::new();
            for i in 0..per {
                let (_, e) = w
                    .append(RM_TUSK, 0, t * 1000 + i, &payload(i as usize, 200))
                    .unwrap();
                w.flush(e).unwrap();
                assert!(w.flush_lsn() >= e);
                ends.push(e);
            }
            ends
        }));
    }
    for h in hs {
        h.join().unwrap();
    }
    let st = w.stats();
    let commits = u64::from(threads * per);
    let flushes = st.flushes - base.flushes;
    assert!(
        flushes <= commits,
        "{flushes} flushes for {commits} commits"
    );
    assert!(st.fsyncs >= flushes.min(1));
    assert_eq!(w.flush_lsn(), w.insert_lsn());
    assert!(rx.has_changed().unwrap());
    assert_eq!(*rx.borrow_and_update(), w.flush_lsn());
    let (recs, _) = read_all(&d.0, MB, 1, Lsn(MB + 40));
    assert_eq!(recs.len() as u64, commits);
}

#[test]
fn group_commit_batches_waiters() {
    // Deterministic: while one flush runs (slow fsync), the others queue up and are
    // covered by at most one more flush.
    let d = TempDir::new("batch");
    let mut o = opts(&d.0, MB);
    o.fsync = true;
    let io = FaultyIo::default();
    io.slow_sync.store(true, Ordering::SeqCst);
    let w = Arc::new(WalWriter::create_with_io(o, Arc::new(io.clone())).unwrap());
    let base = w.stats().flushes;
    let (_, e0) = w.append(RM_TUSK, 0, 1, b"first").unwrap();
    let w0 = w.clone();
    let h0 = std::thread::spawn(move || w0.flush(e0).unwrap());
    std::thread::sleep(std::time::Duration::from_millis(30));
    let mut hs = Vec::new();
    for i in 0..6 {
        let w = w.clone();
        let (_, e) = w.append(RM_TUSK, 0, 10 + i, b"later").unwrap();
        hs.push(std::thread::spawn(move || w.flush(e).unwrap()));
    }
    h0.join().unwrap();
    for h in hs {
        h.join().unwrap();
    }
    let flushes = w.stats().flushes - base;
    assert!(flushes <= 2, "{flushes} flushes for 7 commits");
    assert_eq!(w.flush_lsn(), w.insert_lsn());
}

#[test]
fn waiters_of_every_kind_are_woken() {
    // Flush and write waiters mixed, while fsyncs are slow: every thread is woken
    // exactly when its wait is over or when it must lead the next round; none is left
    // parked (the test would hang).
    let d = TempDir::new("wake");
    let mut o = opts(&d.0, MB);
    o.fsync = true;
    let io = FaultyIo::default();
    io.slow_sync.store(true, Ordering::SeqCst);
    let w = Arc::new(WalWriter::create_with_io(o, Arc::new(io.clone())).unwrap());
    let mut hs = Vec::new();
    for t in 0..12u32 {
        let w = w.clone();
        hs.push(std::thread::spawn(move || {
            for i in 0..5 {
                let (_, e) = w.append(RM_TUSK, 0, t * 100 + i, b"mixed").unwrap();
                if (t + i) % 3 == 0 {
                    w.write(e).unwrap();
                    assert!(w.write_lsn() >= e);
                } else {
                    w.flush(e).unwrap();
                    assert!(w.flush_lsn() >= e);
                }
            }
        }));
    }
    for h in hs {
        h.join().unwrap();
    }
    w.flush(w.insert_lsn()).unwrap();
    assert_eq!(w.flush_lsn(), w.insert_lsn());
}

#[test]
fn a_failed_flush_wakes_every_waiter_with_the_error() {
    let d = TempDir::new("wakefail");
    let mut o = opts(&d.0, MB);
    o.fsync = true;
    let io = FaultyIo::default();
    io.slow_sync.store(true, Ordering::SeqCst);
    let w = Arc::new(WalWriter::create_with_io(o, Arc::new(io.clone())).unwrap());
    io.fail_sync.store(true, Ordering::SeqCst);
    let mut hs = Vec::new();
    for t in 0..6u32 {
        let w = w.clone();
        hs.push(std::thread::spawn(move || {
            let (_, e) = w.append(RM_TUSK, 0, t, b"doomed").unwrap();
            w.flush(e)
        }));
    }
    for h in hs {
        let e = h.join().unwrap().unwrap_err();
        assert_eq!(e.severity, crate::error::Severity::Panic);
    }
}

/// Switches that make the [`FaultyIo`] layer fail or slow down.
#[derive(Default)]
struct Faults {
    fail_sync: AtomicBool,
    fail_write: AtomicBool,
    slow_sync: AtomicBool,
}

/// An I/O layer over [`StdIo`] that can fail or slow down fsyncs and writes.
#[derive(Default, Clone)]
struct FaultyIo(Arc<Faults>);

impl std::ops::Deref for FaultyIo {
    type Target = Faults;
    fn deref(&self) -> &Faults {
        &self.0
    }
}

struct FaultyFile {
    inner: Box<dyn SegmentFile>,
    faults: Arc<Faults>,
}

impl SegmentFile for FaultyFile {
    fn write_at(&mut self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        if self.faults.fail_write.load(Ordering::SeqCst) {
            return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
        }
        self.inner.write_at(buf, offset)
    }
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn sync(&mut self) -> std::io::Result<()> {
        if self.faults.slow_sync.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(150));
        }
        if self.faults.fail_sync.load(Ordering::SeqCst) {
            return Err(std::io::Error::from_raw_os_error(libc::EIO));
        }
        self.inner.sync()
    }
}

impl FaultyIo {
    fn wrap(&self, f: Box<dyn SegmentFile>) -> Box<dyn SegmentFile> {
        Box::new(FaultyFile {
            inner: f,
            faults: self.0.clone(),
        })
    }
}

impl WalIo for FaultyIo {
    fn open(&self, path: &Path, method: SyncMethod) -> std::io::Result<Box<dyn SegmentFile>> {
        Ok(self.wrap(StdIo.open(path, method)?))
    }
    fn create_zeroed(
        &self,
        path: &Path,
        size: u64,
        fsync: bool,
        method: SyncMethod,
    ) -> std::io::Result<Box<dyn SegmentFile>> {
        Ok(self.wrap(StdIo.create_zeroed(path, size, fsync, method)?))
    }
    fn copy(&self, from: &Path, to: &Path, fsync: bool) -> std::io::Result<()> {
        StdIo.copy(from, to, fsync)
    }
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        StdIo.sync_dir(dir)
    }
    fn replace_file(&self, path: &Path, contents: &[u8], fsync: bool) -> std::io::Result<()> {
        if self.fail_write.load(Ordering::SeqCst) {
            return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
        }
        StdIo.replace_file(path, contents, fsync)
    }
}

#[test]
fn io_errors_are_panics_and_stick() {
    let d = TempDir::new("faulty");
    let mut o = opts(&d.0, MB);
    o.fsync = true;
    let io = FaultyIo::default();
    let w = WalWriter::create_with_io(o, Arc::new(io.clone())).unwrap();
    let (_, e) = w.append(RM_TUSK, 0, 1, b"ok").unwrap();
    w.flush(e).unwrap();
    io.fail_sync.store(true, Ordering::SeqCst);
    let (_, e) = w.append(RM_TUSK, 0, 2, b"lost").unwrap();
    let err = w.flush(e).unwrap_err();
    assert_eq!(err.severity, Severity::Panic);
    assert!(
        err.message.starts_with("could not fsync file"),
        "{}",
        err.message
    );
    // No retry: the writer stays broken even after the fault goes away.
    io.fail_sync.store(false, Ordering::SeqCst);
    assert_eq!(w.flush(e).unwrap_err().severity, Severity::Panic);
    assert!(w.append(RM_TUSK, 0, 3, b"refused").is_err());
    assert!(w.flush_lsn() < e);
}

#[test]
fn write_error_is_panic_with_disk_full_code() {
    let d = TempDir::new("enospc");
    let io = FaultyIo::default();
    let w = WalWriter::create_with_io(opts(&d.0, MB), Arc::new(io.clone())).unwrap();
    io.fail_write.store(true, Ordering::SeqCst);
    let (_, e) = w.append(RM_TUSK, 0, 2, b"x").unwrap();
    let err = w.write(e).unwrap_err();
    assert_eq!((err.severity, err.code), (Severity::Panic, "53100"));
    assert!(err
        .message
        .starts_with("could not write to log file 000000010000000000000001 at offset"));
}

#[test]
fn timeline_switch_copies_segment_and_stamps_new_pages() {
    let d = TempDir::new("tli");
    let seg = MB;
    let w = WalWriter::create(opts(&d.0, seg)).unwrap();
    let first = w.insert_lsn();
    for i in 0..20 {
        w.append(RM_TUSK, 0, i, &payload(i as usize, 3000)).unwrap();
    }
    w.switch_timeline(2).unwrap();
    assert_eq!(w.timeline(), 2);
    assert!(d.0.join("000000020000000000000001").is_file());
    assert!(d.0.join("000000010000000000000001").is_file());
    for i in 0..400 {
        w.append(RM_TUSK, 0x40, i, &payload(i as usize, 3000))
            .unwrap();
    }
    w.flush(w.insert_lsn()).unwrap();
    assert!(d.0.join("000000020000000000000002").is_file());
    assert!(!d.0.join("000000010000000000000002").exists());
    let (recs, end) = read_all(&d.0, seg, 2, first);
    assert_eq!(recs.len(), 420);
    assert_eq!(end, w.insert_lsn());
    // Timeline 1 alone ends at the switch point.
    let (recs1, _) = read_all(&d.0, seg, 1, first);
    assert_eq!(recs1.len(), 20);
    assert!(w.switch_timeline(2).is_err());
}

#[test]
fn remove_old_segments_keeps_current() {
    let d = TempDir::new("remove");
    let w = WalWriter::create(opts(&d.0, MB)).unwrap();
    for _ in 0..3 {
        w.append(RM_TUSK, 0, 1, b"a").unwrap();
        w.switch_segment().unwrap();
    }
    w.append(RM_TUSK, 0, 1, b"a").unwrap();
    w.flush(w.insert_lsn()).unwrap();
    std::fs::write(d.0.join("00000001.history"), "x").unwrap();
    // Segments 1..=4 exist; asking to keep from 10 still keeps the current one; with no
    // room for recycling every old file is deleted.
    let r = w.remove_or_recycle(10, 0).unwrap();
    assert_eq!(
        r,
        Recycled {
            removed: 3,
            recycled: 0
        }
    );
    assert!(d.0.join("000000010000000000000004").is_file());
    assert!(d.0.join("00000001.history").is_file());
    assert!(segments_before(&d.0, MB, 4).unwrap().is_empty());
}

#[test]
fn recycled_segments_are_written_over_and_end_cleanly() {
    let d = TempDir::new("recycle");
    let seg = MB;
    let w = WalWriter::create(opts(&d.0, seg)).unwrap();
    // Fill segments 1..=4 with records whose bytes are not zero.
    let mut i = 0u32;
    while w.insert_lsn().0 < 5 * seg {
        w.append(RM_TUSK, 0x10, i, &payload(i as usize, 3000))
            .unwrap();
        i += 1;
    }
    w.flush(w.insert_lsn()).unwrap();
    // Recycle segments 1..=3 as 6, 7 and 8 (limit 7: segment 8 is deleted instead).
    let r = w.remove_or_recycle(4, 7).unwrap();
    assert_eq!(
        r,
        Recycled {
            removed: 1,
            recycled: 2
        }
    );
    assert_eq!(w.ready_segments(), vec![6, 7]);
    assert!(!d.0.join("000000010000000000000001").exists());
    assert!(d.0.join("000000010000000000000006").is_file());
    // Write on into the recycled files, flushing at odd places (mid-page ends).
    let restart = w.insert_lsn();
    let mut n = 0;
    while w.insert_lsn().0 < 7 * seg + seg / 3 {
        let (_, e) = w
            .append(
                RM_TUSK,
                0x20,
                9000 + n,
                &payload(n as usize, 777 + (n as usize % 5) * 1000),
            )
            .unwrap();
        if n % 7 == 0 {
            w.flush(e).unwrap();
        }
        n += 1;
    }
    w.flush(w.insert_lsn()).unwrap();
    assert!(w.ready_segments().is_empty());
    // Reading from segment 4 on finds exactly the new records and stops at the end,
    // not in the old bytes of the recycled files.
    let (recs, end) = read_all(&d.0, seg, 1, restart);
    let new: Vec<_> = recs.iter().filter(|r| r.start >= restart).collect();
    assert_eq!(new.len() as u32, n);
    assert!(new.iter().all(|r| r.info & 0xF0 == 0x20));
    assert_eq!(end, w.insert_lsn());
    if let Some((ok, out, err)) = pg_waldump(&d.0, &["--start", &restart.to_string()]) {
        assert_eq!(
            out.lines().filter(|l| l.starts_with("rmgr:")).count() as u32,
            n,
            "{err}"
        );
        let want = format!("invalid record length at {end}: wanted 24, got 0");
        assert!(!ok && err.contains(&want), "stderr: {err}");
    }
    // Reopened after a "crash" at the end, the writer goes on in the recycled file.
    drop(w);
    let w = WalWriter::open(opts(&d.0, seg), end, new.last().unwrap().start).unwrap();
    w.append(RM_TUSK, 0x30, 1, b"after restart").unwrap();
    w.flush(w.insert_lsn()).unwrap();
    let (recs, end2) = read_all(&d.0, seg, 1, restart);
    assert_eq!(recs.len() as u32, n + 1);
    assert_eq!(end2, w.insert_lsn());
}

#[test]
fn a_restart_reuses_recycled_files_but_not_ones_written_under_their_name() {
    let d = TempDir::new("recycle-restart");
    let seg = MB;
    let w = WalWriter::create(opts(&d.0, seg)).unwrap();
    let mut i = 0u32;
    while w.insert_lsn().0 < 5 * seg {
        w.append(RM_TUSK, 0x10, i, &payload(i as usize, 3000))
            .unwrap();
        i += 1;
    }
    w.flush(w.insert_lsn()).unwrap();
    // Segments 1..=3 become 6, 7, 8.
    assert_eq!(w.remove_or_recycle(4, 100).unwrap().recycled, 3);
    let end = w.insert_lsn();
    let last = w.last_record_lsn();
    drop(w);
    // A crashed run wrote segment 8 under its own name: it must not be reused.
    let f8 = d.0.join("000000010000000000000008");
    let mut bytes = std::fs::read(&f8).unwrap();
    let mut header = bytes[..format::LONG_PAGE_HEADER as usize].to_vec();
    header[8..16].copy_from_slice(&(8 * seg).to_le_bytes());
    bytes[..header.len()].copy_from_slice(&header);
    std::fs::write(&f8, bytes).unwrap();
    let w = WalWriter::open(opts(&d.0, seg), end, last).unwrap();
    assert_eq!(w.ready_segments(), vec![6, 7]);
}

#[test]
fn preallocation_prepares_the_next_segment_once() {
    let d = TempDir::new("prealloc");
    let seg = MB;
    let w = WalWriter::create(opts(&d.0, seg)).unwrap();
    assert!(
        !w.preallocate_next().unwrap(),
        "segment 1 is not nearly full yet"
    );
    let mut i = 0;
    while w.insert_lsn().0 % seg < seg / 4 * 3 + 100 {
        w.append(RM_TUSK, 0, i, &payload(i as usize, 2000)).unwrap();
        i += 1;
    }
    assert!(w.preallocate_next().unwrap());
    assert!(!w.preallocate_next().unwrap());
    assert_eq!(w.ready_segments(), vec![2]);
    let f = d.0.join("000000010000000000000002");
    assert_eq!(std::fs::metadata(&f).unwrap().len(), seg);
    while w.insert_lsn().0 < 2 * seg + 5000 {
        w.append(RM_TUSK, 0, i, &payload(i as usize, 2000)).unwrap();
        i += 1;
    }
    w.flush(w.insert_lsn()).unwrap();
    assert!(w.ready_segments().is_empty());
    let (recs, end) = read_all(&d.0, seg, 1, Lsn(seg + 40));
    assert_eq!(recs.len() as u32, i);
    assert_eq!(end, w.insert_lsn());
    let leftovers: Vec<_> = std::fs::read_dir(&d.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("xlogtemp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn segments_are_asked_for_ahead_once_half_way() {
    let d = TempDir::new("ahead");
    let seg = MB;
    let w = WalWriter::create(opts(&d.0, seg)).unwrap();
    let requests = w.ahead_requests().unwrap();
    assert!(w.ahead_requests().is_none(), "the requests go to one taker");
    let mut i = 0;
    let append_until = |w: &WalWriter, i: &mut u32, pos: u64| {
        while w.insert_lsn().0 < pos {
            w.append(RM_TUSK, 0, *i, &payload(*i as usize, 2000))
                .unwrap();
            *i += 1;
        }
    };
    append_until(&w, &mut i, seg + seg / 2 - 4000);
    assert!(
        requests.try_recv().is_err(),
        "not half-way through segment 1 yet"
    );
    append_until(&w, &mut i, seg + seg / 2 + 4000);
    assert_eq!(requests.try_recv(), Ok(2));
    append_until(&w, &mut i, seg + seg / 4 * 3);
    assert!(requests.try_recv().is_err(), "segment 2 is asked for once");
    assert!(w.prepare_segment(2).unwrap());
    assert!(!w.prepare_segment(2).unwrap(), "already ready");
    assert_eq!(w.ready_segments(), vec![2]);
    // The writer moves into the file made ready (no new file), and past it asks for 3
    // half-way through 2; a segment it already moved into is not prepared again.
    append_until(&w, &mut i, 2 * seg + seg / 2 + 4000);
    w.flush(w.insert_lsn()).unwrap();
    assert!(w.ready_segments().is_empty());
    assert_eq!(requests.try_recv(), Ok(3));
    assert!(
        !w.prepare_segment(2).unwrap(),
        "the writer is in segment 2 already"
    );
    let (recs, end) = read_all(&d.0, seg, 1, Lsn(seg + 40));
    assert_eq!(recs.len() as u32, i);
    assert_eq!(end, w.insert_lsn());
    // Once the taker is gone the writer goes on alone.
    drop(requests);
    append_until(&w, &mut i, 3 * seg + seg / 2 + 4000);
    w.flush(w.insert_lsn()).unwrap();
    let (recs, _) = read_all(&d.0, seg, 1, Lsn(seg + 40));
    assert_eq!(recs.len() as u32, i);
}

/// Runs the stock pg_waldump on `dir` with `args`; `None` when it is not installed.
fn pg_waldump(dir: &Path, args: &[&str]) -> Option<(bool, String, String)> {
    let bin = Path::new("/usr/lib/postgresql/15/bin/pg_waldump");
    if !bin.is_file() {
        eprintln!("pg_waldump (PostgreSQL 15) is not installed; skipping the stock-tool check");
        return None;
    }
    let out = std::process::Command::new(bin)
        .arg("-p")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    Some((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[test]
fn stock_pg_waldump_walks_tusk_wal() {
    let d = TempDir::new("waldump");
    let seg = MB;
    let w = WalWriter::create(opts(&d.0, seg)).unwrap();
    let first = w.insert_lsn();
    let mut n = 0;
    for (i, len) in sizes().into_iter().enumerate() {
        w.append(RM_TUSK + (i % 5) as u8, 0x10, i as u32, &payload(i, len))
            .unwrap();
        n += 1;
        if i == 150 {
            w.switch_segment().unwrap();
            n += 1;
        }
    }
    let (last, _) = w.append(255, 0xF0, 1, b"last").unwrap();
    n += 1;
    w.flush(w.insert_lsn()).unwrap();
    let end = w.insert_lsn();
    let Some((ok, out, err)) = pg_waldump(&d.0, &["--start", &first.to_string()]) else {
        return;
    };
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("rmgr:")).collect();
    assert_eq!(lines.len(), n, "stdout:\n{out}\nstderr:\n{err}");
    assert!(lines.iter().any(|l| l.contains("SWITCH")), "{out}");
    assert!(lines.iter().any(|l| l.contains("custom130")), "{out}");
    assert!(
        lines
            .last()
            .unwrap()
            .contains(&format!("lsn: 0/{:08X}", last.0)),
        "{out}"
    );
    let want = format!("invalid record length at {end}: wanted 24, got 0");
    assert!(
        !ok && err.contains(&want) && err.lines().count() == 1,
        "stderr: {err}"
    );

    // By segment file name, and with an explicit --end: no error at all.
    let (ok, out, err) = pg_waldump(&d.0, &["000000010000000000000001"]).unwrap();
    assert!(ok, "{err}");
    assert!(out.lines().count() > 10);
    let (ok, out, err) = pg_waldump(
        &d.0,
        &["--start", &first.to_string(), "--end", &end.to_string()],
    )
    .unwrap();
    assert!(ok, "{err}");
    assert_eq!(out.lines().filter(|l| l.starts_with("rmgr:")).count(), n);
}

#[test]
fn stock_pg_waldump_default_segments_timelines_and_info_bits() {
    let d = TempDir::new("waldump16");
    let seg = 16 * MB;
    let w = WalWriter::create(opts(&d.0, seg)).unwrap();
    let first = w.insert_lsn();
    let mut n = 0;
    for i in 0..40usize {
        // Every info value, low (PostgreSQL-reserved) bits included, must pass.
        w.append(200, (i * 7) as u8, i as u32, &payload(i, i * 1500))
            .unwrap();
        n += 1;
    }
    w.switch_segment().unwrap();
    n += 1;
    for i in 0..10usize {
        w.append(RM_TUSK, 0x70, i as u32, &payload(i, 100_000))
            .unwrap();
        n += 1;
    }
    w.switch_timeline(2).unwrap();
    for i in 0..10usize {
        w.append(RM_TUSK, 0x80, i as u32, &payload(i, 2_000_000))
            .unwrap();
        n += 1;
    }
    w.flush(w.insert_lsn()).unwrap();
    let end = w.insert_lsn();
    // Timeline 1 up to its last segment, then timeline 2 from the switched segment on.
    let Some((ok, out, err)) =
        pg_waldump(&d.0, &["--start", &first.to_string(), "--end", "0/2000000"])
    else {
        return;
    };
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("rmgr:")).count(),
        41,
        "{out}"
    );
    assert!(out.contains("custom200"), "{out}");
    let (ok, out, err) = pg_waldump(&d.0, &["-t", "2", "--start", "0/2000028"]).unwrap();
    assert!(!ok);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("rmgr:")).count(),
        n - 41,
        "{out}\n{err}"
    );
    let want = format!("invalid record length at {end}: wanted 24, got 0");
    assert!(
        err.contains(&want) && err.lines().count() == 1,
        "stderr: {err}"
    );
    let (recs, e) = read_all(&d.0, seg, 2, first);
    assert_eq!((recs.len(), e), (n, end));
}

#[test]
fn reader_follows_timeline_history() {
    let d = TempDir::new("history");
    let seg = MB;
    let w = WalWriter::create(opts(&d.0, seg)).unwrap();
    let first = w.insert_lsn();
    for i in 0..400 {
        w.append(RM_TUSK, 0, i, &payload(i as usize, 3000)).unwrap();
    }
    w.flush(w.insert_lsn()).unwrap();
    let fork = w.insert_lsn();
    w.switch_timeline(2).unwrap();
    timeline::write_history(&d.0, 2, 1, fork, "no recovery target specified", false).unwrap();
    for i in 0..400 {
        w.append(RM_TUSK, 0x10, i, &payload(i as usize, 3000))
            .unwrap();
    }
    w.flush(w.insert_lsn()).unwrap();
    // A diverged timeline-1 segment after the fork must not be read on timeline 2.
    let fork_seg = fork.segno(seg);
    std::fs::write(
        d.0.join(segment::segment_file_name(1, fork_seg + 1, seg)),
        vec![0xAAu8; seg as usize],
    )
    .unwrap();
    let mut r = WalReader::new(&d.0, seg, 1, first);
    r.set_history(timeline::read_history(&d.0, 2).unwrap());
    let mut n = 0;
    while r.next_record().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 800);
    assert_eq!(r.end_of_valid(), w.insert_lsn());
}

#[test]
fn streamed_bytes_replay_on_a_standby_directory() {
    let primary = TempDir::new("primary");
    let standby = TempDir::new("standby");
    let seg = MB;
    let w = WalWriter::create(opts(&primary.0, seg)).unwrap();
    let first = w.insert_lsn();
    for i in 0..700 {
        w.append(
            RM_TUSK,
            0x10,
            i,
            &payload(i as usize, (i as usize * 37) % 6000),
        )
        .unwrap();
    }
    w.switch_segment().unwrap();
    w.append(RM_TUSK, 0x20, 1, b"after switch").unwrap();
    w.flush(w.insert_lsn()).unwrap();
    let end = w.flush_lsn();
    // Stream from the first segment's start in uneven pieces, as a walsender would.
    let mut raw = RawWalWriter::new(&opts(&standby.0, seg), Lsn(seg));
    let mut pos = Lsn(seg);
    let mut buf = vec![0u8; 100_000];
    let mut step = 1usize;
    while pos < end {
        let want = ((step * 7919) % 90_000 + 1).min(end.bytes_since(pos) as usize);
        let n = read_wal_bytes(&primary.0, seg, 1, pos, &mut buf[..want]).unwrap();
        raw.write(pos, &buf[..n]).unwrap();
        pos = pos + n as u64;
        if step.is_multiple_of(5) {
            raw.flush().unwrap();
        }
        step += 1;
    }
    assert_eq!(raw.flush().unwrap(), end);
    assert!(raw.write(Lsn(seg), b"x").is_err());
    let done = raw.take_completed_segments();
    assert!(
        done.contains(&"000000010000000000000001".to_string()),
        "{done:?}"
    );
    assert!(!done.contains(&segment::segment_file_name(1, end.segno(seg), seg)));
    let (a, ea) = read_all(&primary.0, seg, 1, first);
    let (b, eb) = read_all(&standby.0, seg, 1, first);
    assert_eq!(a, b);
    assert_eq!((ea, eb), (end, end));
}

#[test]
fn every_sync_method_round_trips() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<WalWriter>();
    for method in [
        SyncMethod::Fdatasync,
        SyncMethod::Fsync,
        SyncMethod::OpenDatasync,
        SyncMethod::OpenSync,
    ] {
        let d = TempDir::new("sync");
        let mut o = opts(&d.0, MB);
        o.fsync = true;
        o.sync_method = method;
        let w = WalWriter::create(o).unwrap();
        let first = w.insert_lsn();
        for i in 0..50 {
            let (_, e) = w
                .append(RM_TUSK, 0, i, &payload(i as usize, 40_000))
                .unwrap();
            w.flush(e).unwrap();
        }
        let st = w.stats();
        assert_eq!(st.records, 50);
        let open_method = matches!(method, SyncMethod::OpenDatasync | SyncMethod::OpenSync);
        assert_eq!(st.fsyncs == 0, open_method, "{method}: {st:?}");
        let (recs, _) = read_all(&d.0, MB, 1, first);
        assert_eq!(recs.len(), 50, "{method}");
    }
}

#[test]
fn reader_checks_system_identifier_and_prev_link() {
    let d = TempDir::new("sysid");
    let w = WalWriter::create(opts(&d.0, MB)).unwrap();
    let first = w.insert_lsn();
    let (s1, _) = w.append(RM_TUSK, 0, 1, b"one").unwrap();
    w.append(RM_TUSK, 0, 2, b"two").unwrap();
    w.flush(w.insert_lsn()).unwrap();
    let mut r = WalReader::new(&d.0, MB, 1, first);
    r.set_system_id(12345);
    assert!(r.next_record().unwrap().is_none());
    assert_eq!(r.end_of_valid(), first);
    let mut r = WalReader::new(&d.0, MB, 1, first);
    r.set_system_id(opts(&d.0, MB).system_id);
    r.set_expected_prev(Lsn(0x42));
    assert!(
        r.next_record().unwrap().is_none(),
        "a wrong prev-link ends the WAL"
    );
    let mut r = WalReader::new(&d.0, MB, 1, first);
    r.set_expected_prev(Lsn(0));
    assert_eq!(r.next_record().unwrap().unwrap().start, s1);
    assert_eq!(r.next_record().unwrap().unwrap().prev, s1);
    assert!(r.next_record().unwrap().is_none());
    // More WAL appears later: the same reader picks it up.
    let (s3, _) = w.append(RM_TUSK, 0, 3, b"three").unwrap();
    w.write(w.insert_lsn()).unwrap();
    assert_eq!(r.next_record().unwrap().unwrap().start, s3);
}

#[test]
fn stock_pg_waldump_accepts_reopened_wal() {
    let d = TempDir::new("waldump-reopen");
    let seg = MB;
    let w = WalWriter::create(opts(&d.0, seg)).unwrap();
    let first = w.insert_lsn();
    for i in 0..60 {
        w.append(RM_TUSK, 0, i, &payload(i as usize, 7000)).unwrap();
    }
    w.flush(w.insert_lsn()).unwrap();
    drop(w);
    // Tear the last record, recover, reopen, append more.
    let path = d.0.join("000000010000000000000001");
    let mut bytes = std::fs::read(&path).unwrap();
    let (recs, _) = read_all(&d.0, seg, 1, first);
    let torn = recs[59].start.0 - seg + 30;
    bytes[torn as usize..].iter_mut().for_each(|b| *b = 0);
    std::fs::write(&path, &bytes).unwrap();
    let mut r = WalReader::new(&d.0, seg, 1, first);
    while r.next_record().unwrap().is_some() {}
    let w = WalWriter::open(opts(&d.0, seg), r.end_of_valid(), r.last_record().unwrap()).unwrap();
    for i in 0..150 {
        w.append(RM_TUSK, 0x10, i, &payload(i as usize, 9000))
            .unwrap();
    }
    w.flush(w.insert_lsn()).unwrap();
    let Some((_, out, err)) = pg_waldump(&d.0, &["--start", &first.to_string()]) else {
        return;
    };
    assert_eq!(
        out.lines().filter(|l| l.starts_with("rmgr:")).count(),
        59 + 150,
        "{err}"
    );
    let want = format!(
        "invalid record length at {}: wanted 24, got 0",
        w.insert_lsn()
    );
    assert!(
        err.contains(&want) && err.lines().count() == 1,
        "stderr: {err}"
    );
}

#[test]
fn completed_segments_are_reported_once_in_order() {
    let d = TempDir::new("segdone");
    let seg = MB;
    let w = WalWriter::create(opts(&d.0, seg)).unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    w.on_segment_complete(Box::new(move |tli, segno| {
        s.lock().unwrap().push((tli, segno))
    }));
    // Writing without a flush completes nothing; a switch plus flush does.
    w.append(RM_TUSK, 0, 1, &payload(1, 100)).unwrap();
    w.write(w.insert_lsn()).unwrap();
    assert!(seen.lock().unwrap().is_empty());
    let end = w.switch_segment().unwrap();
    w.flush(end).unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![(1, 1)]);
    // An empty segment is not switched; filling two segments reports both.
    w.flush(w.switch_segment().unwrap()).unwrap();
    for i in 0..700 {
        w.append(RM_TUSK, 0, i, &payload(i as usize, 3000)).unwrap();
    }
    w.flush(w.insert_lsn()).unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![(1, 1), (1, 2), (1, 3)]);
}
