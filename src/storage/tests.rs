//! Engine tests: transactions, visibility, unique keys, and crash recovery from the WAL.

use super::*;
use crate::types::DataType;
use std::sync::atomic::AtomicBool;

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "tusk-storage-{name}-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn boot(name: &str) -> (PathBuf, Arc<Engine>) {
    let d = tempdir(name);
    crate::testutil::bootstrap(&d, 16 * 1024 * 1024);
    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    (d, e)
}

fn table_def(oid: u32) -> TableDef {
    TableDef {
        oid,
        schema: PUBLIC_NAMESPACE,
        name: "t".into(),
        owner: 10,
        columns: vec![
            ColumnDef {
                name: "id".into(),
                data_type: DataType::Int4,
                typmod: -1,
                not_null: true,
                default: None,
                dropped: false,
                generated: None,
            },
            ColumnDef {
                name: "v".into(),
                data_type: DataType::Text,
                typmod: -1,
                not_null: false,
                default: None,
                dropped: false,
                generated: None,
            },
        ],
        primary_key: Some(vec![0]),
        pkey_name: "t_pkey".into(),
        indexes: vec![],
    }
}

fn row(id: i32, v: &str) -> Vec<Value> {
    vec![Value::Int4(id), Value::Text(v.into())]
}

#[test]
fn bootstrap_creates_the_initial_catalog() {
    let (d, e) = boot("boot");
    let r = e.role("postgres").unwrap();
    assert_eq!(r.oid, 10);
    assert!(r.superuser && r.login && r.replication);
    assert_eq!(e.database("postgres").unwrap().oid, 5);
    assert!(!e.database("template0").unwrap().allow_connections);
    assert!(e.is_member_of("postgres", "postgres"));
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn uncommitted_rows_are_invisible_to_others_and_keys_are_unique() {
    let (d, e) = boot("vis");
    let mut t1 = e.begin();
    let oid = e.new_oid();
    e.catalog_change(
        &mut t1,
        CatalogChange::CreateTable {
            db: 5,
            def: table_def(oid),
        },
    )
    .unwrap();
    e.commit(t1, true).unwrap();

    let mut a = e.begin();
    e.insert(&mut a, 5, oid, row(1, "a")).unwrap();
    let b = e.begin();
    assert_eq!(e.scan(&a, 5, oid).len(), 1);
    assert_eq!(e.scan(&b, 5, oid).len(), 0);
    e.commit(a, true).unwrap();
    let mut b = b;
    assert_eq!(e.scan(&b, 5, oid).len(), 0, "old snapshot");
    e.new_snapshot(&mut b);
    assert_eq!(e.scan(&b, 5, oid).len(), 1, "new statement sees the commit");
    let err = e.insert(&mut b, 5, oid, row(1, "again")).unwrap_err();
    assert_eq!(err.code, "23505");
    assert_eq!(
        err.message,
        "duplicate key value violates unique constraint \"t_pkey\""
    );
    assert_eq!(err.detail.as_deref(), Some("Key (id)=(1) already exists."));
    e.abort(b);

    // Update then abort restores the old version.
    let mut c = e.begin();
    let (tid, _) = e.scan(&c, 5, oid)[0].clone();
    assert_eq!(
        e.update(&mut c, 5, oid, tid, row(1, "b")).unwrap(),
        RowOutcome::Done
    );
    assert_eq!(e.scan(&c, 5, oid)[0].1[1], Value::Text("b".into()));
    e.abort(c);
    let r = e.begin();
    assert_eq!(e.scan(&r, 5, oid)[0].1[1], Value::Text("a".into()));
    e.abort(r);
    let _ = std::fs::remove_dir_all(d);
}

/// Beginning a transaction, taking a new snapshot and ending a transaction that
/// changed nothing use the running set's own lock (`Procs`), not the engine lock the
/// heaps are under: with that lock held here, a reader elsewhere still begins, takes a
/// snapshot, commits and aborts. A writer's end still needs the engine lock, and a
/// deleted version stays for a reader whose snapshot predates the delete.
#[test]
fn read_only_transactions_begin_and_end_outside_the_engine_lock() {
    let (d, e) = boot("procs");
    let oid = create_tables(&e, 1)[0];
    let mut t = e.begin();
    e.insert(&mut t, 5, oid, row(1, "a")).unwrap();
    e.commit(t, true).unwrap();

    let held = e.lock();
    let reader = {
        let e = e.clone();
        std::thread::spawn(move || {
            let mut r = e.begin();
            e.new_snapshot(&mut r);
            e.commit(r, true).unwrap();
            e.abort(e.begin());
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !reader.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let finished = reader.is_finished();
    drop(held);
    reader.join().unwrap();
    assert!(
        finished,
        "a read-only transaction waited for the engine lock"
    );

    // A reader's snapshot from before a delete keeps the deleted version.
    let old = e.begin();
    let mut w = e.begin();
    let (tid, _) = e.scan(&w, 5, oid)[0].clone();
    assert_eq!(e.delete(&mut w, 5, oid, tid).unwrap(), RowOutcome::Done);
    e.commit(w, true).unwrap();
    assert_eq!(e.scan(&old, 5, oid).len(), 1, "the old snapshot's version");
    let now = e.begin();
    assert_eq!(e.scan(&now, 5, oid).len(), 0);
    e.commit(old, true).unwrap();
    e.commit(now, true).unwrap();
    assert_eq!(
        e.vacuum(5, Some(oid)),
        1,
        "pruned once no snapshot needs it"
    );
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn crash_recovery_keeps_committed_and_drops_uncommitted() {
    let (d, e) = boot("crash");
    let oid = e.new_oid();
    let mut t = e.begin();
    e.catalog_change(
        &mut t,
        CatalogChange::CreateTable {
            db: 5,
            def: table_def(oid),
        },
    )
    .unwrap();
    e.insert(&mut t, 5, oid, row(1, "one")).unwrap();
    e.commit(t, true).unwrap();
    e.checkpoint().unwrap();
    let mut t = e.begin();
    e.insert(&mut t, 5, oid, row(2, "two")).unwrap();
    let (tid1, _) = e.scan(&t, 5, oid)[0].clone();
    e.update(&mut t, 5, oid, tid1, row(1, "uno")).unwrap();
    e.commit(t, true).unwrap();
    let mut role = e.role("postgres").unwrap();
    role.oid = e.new_oid();
    role.name = "alice".into();
    let mut t = e.begin();
    e.catalog_change(&mut t, CatalogChange::SetRole(role))
        .unwrap();
    e.commit(t, true).unwrap();
    // In progress at the crash: never committed.
    let mut t = e.begin();
    e.insert(&mut t, 5, oid, row(3, "three")).unwrap();
    drop(t);
    drop(e); // crash: no shutdown checkpoint

    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    let r = e.begin();
    let mut rows: Vec<Vec<Value>> = e
        .scan(&r, 5, oid)
        .into_iter()
        .map(|(_, r)| (*r).clone())
        .collect();
    rows.sort_by(|a, b| crate::types::compare(&a[0], &b[0]));
    assert_eq!(rows, vec![row(1, "uno"), row(2, "two")]);
    assert!(e.role("alice").is_some());
    e.abort(r);
    e.shutdown().unwrap();
    drop(e);
    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    let r = e.begin();
    assert_eq!(e.scan(&r, 5, oid).len(), 2);
    e.abort(r);
    let _ = std::fs::remove_dir_all(d);
}

/// A transaction inserting a run large enough to be encoded on two threads at commit
/// (pieces of 4 096 rows, one row over the last whole piece: an INSERT record of its
/// own) is replayed after a crash row for row, in its tuple ids' order.
#[test]
fn a_large_run_encoded_in_two_replays_whole() {
    let (d, e) = boot("encodetwo");
    let oid = create_tables(&e, 1)[0];
    let n = (PARALLEL_ENCODE_ROWS / ENCODE_PIECE_ROWS + 1) * ENCODE_PIECE_ROWS + 1;
    let text = |i: usize| "x".repeat(i % 97);
    let mut t = e.begin();
    for i in 0..n {
        e.insert(&mut t, 5, oid, row(i as i32, &text(i))).unwrap();
    }
    assert_eq!(t.records.rows(), n, "one run");
    e.commit(t, true).unwrap();
    drop(e); // crash: the rows are in the WAL only

    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    let r = e.begin();
    let rows = e.scan(&r, 5, oid);
    assert_eq!(rows.len(), n);
    for (i, (tid, got)) in rows.iter().enumerate() {
        assert_eq!(**got, row(i as i32, &text(i)), "row {i}");
        if i > 0 {
            assert_eq!(*tid, rows[i - 1].0 + 1, "consecutive tuple ids");
        }
    }
    e.abort(r);
    drop(e);
    let _ = std::fs::remove_dir_all(d);
}

/// Zeroes WAL bytes in [from, to) of a 16 MiB-segment, timeline-1 cluster.
fn tear_wal(dir: &Path, from: Lsn, to: Lsn) {
    use std::io::{Seek, SeekFrom, Write};
    let seg = 16 * 1024 * 1024u64;
    let mut pos = from.0;
    while pos < to.0 {
        let segno = pos / seg;
        let name = format!("{:08X}{:08X}{:08X}", 1, segno / 256, segno % 256);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("pg_wal").join(name))
            .unwrap();
        let end = to.0.min((segno + 1) * seg);
        f.seek(SeekFrom::Start(pos % seg)).unwrap();
        f.write_all(&vec![0u8; (end - pos) as usize]).unwrap();
        pos = end;
    }
}

#[test]
fn torn_wal_tail_loses_only_the_torn_transaction() {
    let (d, e) = boot("torn");
    let oid = e.new_oid();
    let mut t = e.begin();
    e.catalog_change(
        &mut t,
        CatalogChange::CreateTable {
            db: 5,
            def: table_def(oid),
        },
    )
    .unwrap();
    e.commit(t, true).unwrap();
    for i in 1..=3 {
        let mut t = e.begin();
        e.insert(&mut t, 5, oid, row(i, "kept")).unwrap();
        e.commit(t, true).unwrap();
    }
    let before = e.current_wal_lsn();
    let mut t = e.begin();
    e.insert(&mut t, 5, oid, row(4, "torn")).unwrap();
    e.commit(t, true).unwrap();
    let after = e.current_wal_lsn();
    drop(e);
    // Tear the last transaction in the middle of its records.
    tear_wal(&d, Lsn(before.0 + (after.0 - before.0) / 2), after);
    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    let r = e.begin();
    let mut ids: Vec<Value> = e
        .scan(&r, 5, oid)
        .into_iter()
        .map(|(_, r)| r[0].clone())
        .collect();
    ids.sort_by(crate::types::compare);
    assert_eq!(ids, vec![Value::Int4(1), Value::Int4(2), Value::Int4(3)]);
    e.abort(r);
    // New commits after the cut are durable too.
    let mut t = e.begin();
    e.insert(&mut t, 5, oid, row(5, "after")).unwrap();
    e.commit(t, true).unwrap();
    drop(e);
    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    let r = e.begin();
    assert_eq!(e.scan(&r, 5, oid).len(), 4);
    e.abort(r);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn nothing_is_written_after_the_shutdown_checkpoint() {
    let (d, e) = boot("shutdown");
    let oid = e.new_oid();
    let mut t = e.begin();
    e.catalog_change(
        &mut t,
        CatalogChange::CreateTable {
            db: 5,
            def: table_def(oid),
        },
    )
    .unwrap();
    e.commit(t, true).unwrap();
    let mut t = e.begin();
    e.insert(&mut t, 5, oid, row(1, "late")).unwrap();
    e.shutdown().unwrap();
    let (ckpt, redo) = e.last_checkpoint();
    assert_eq!(ckpt, redo);
    assert_eq!(e.commit(t, true).unwrap_err().code, "57P01");
    drop(e);
    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    let r = e.begin();
    assert!(e.scan(&r, 5, oid).is_empty());
    e.abort(r);
    let _ = std::fs::remove_dir_all(d);
}

/// An I/O layer that fails on demand: image replacement, or WAL syncs.
struct FaultyIo {
    fail_images: Arc<AtomicBool>,
    fail_wal_sync: Arc<AtomicBool>,
}

struct FaultyFile {
    inner: Box<dyn wal::io::SegmentFile>,
    fail_sync: Arc<AtomicBool>,
}

impl wal::io::SegmentFile for FaultyFile {
    fn write_at(&mut self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.inner.write_at(buf, offset)
    }
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn sync(&mut self) -> std::io::Result<()> {
        if self.fail_sync.load(Ordering::SeqCst) {
            return Err(std::io::Error::from_raw_os_error(libc::EIO));
        }
        self.inner.sync()
    }
}

impl WalIo for FaultyIo {
    fn open(
        &self,
        path: &Path,
        method: SyncMethod,
    ) -> std::io::Result<Box<dyn wal::io::SegmentFile>> {
        Ok(Box::new(FaultyFile {
            inner: StdIo.open(path, method)?,
            fail_sync: self.fail_wal_sync.clone(),
        }))
    }
    fn create_zeroed(
        &self,
        path: &Path,
        size: u64,
        fsync: bool,
        method: SyncMethod,
    ) -> std::io::Result<Box<dyn wal::io::SegmentFile>> {
        Ok(Box::new(FaultyFile {
            inner: StdIo.create_zeroed(path, size, fsync, method)?,
            fail_sync: self.fail_wal_sync.clone(),
        }))
    }
    fn copy(&self, from: &Path, to: &Path, fsync: bool) -> std::io::Result<()> {
        StdIo.copy(from, to, fsync)
    }
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        StdIo.sync_dir(dir)
    }
    fn replace_file(&self, path: &Path, contents: &[u8], fsync: bool) -> std::io::Result<()> {
        if self.fail_images.load(Ordering::SeqCst) {
            return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
        }
        StdIo.replace_file(path, contents, fsync)
    }
}

#[test]
fn io_failures_never_lose_or_invent_commits() {
    let (d, e) = boot("faulty");
    let oid = e.new_oid();
    let mut t = e.begin();
    e.catalog_change(
        &mut t,
        CatalogChange::CreateTable {
            db: 5,
            def: table_def(oid),
        },
    )
    .unwrap();
    e.insert(&mut t, 5, oid, row(1, "before")).unwrap();
    e.commit(t, true).unwrap();
    e.shutdown().unwrap();
    drop(e);

    let fail_images = Arc::new(AtomicBool::new(false));
    let fail_wal_sync = Arc::new(AtomicBool::new(false));
    let opts = EngineOptions {
        io: Arc::new(FaultyIo {
            fail_images: fail_images.clone(),
            fail_wal_sync: fail_wal_sync.clone(),
        }),
        ..Default::default()
    };
    let e = Engine::open(&d, &opts).unwrap();
    let mut t = e.begin();
    e.insert(&mut t, 5, oid, row(2, "committed")).unwrap();
    e.commit(t, true).unwrap();
    // A checkpoint that cannot write its images fails and leaves pg_control alone.
    let before = e.last_checkpoint();
    fail_images.store(true, Ordering::SeqCst);
    let err = e.checkpoint().unwrap_err();
    assert_eq!(err.code, "53100");
    assert_eq!(e.last_checkpoint(), before);
    fail_images.store(false, Ordering::SeqCst);
    // A WAL flush failure is not retried: the commit fails and the engine stops writing.
    fail_wal_sync.store(true, Ordering::SeqCst);
    let mut t = e.begin();
    e.insert(&mut t, 5, oid, row(3, "unflushed")).unwrap();
    let err = e.commit(t, true).unwrap_err();
    assert_eq!(err.severity, crate::error::Severity::Panic);
    let mut t = e.begin();
    assert!(e.insert(&mut t, 5, oid, row(4, "refused")).is_err());
    e.abort(t);
    drop(e);
    // After a restart everything acknowledged is there; the failed commit is not
    // visible as acknowledged (it may be in the WAL, but it was never acknowledged).
    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    let r = e.begin();
    let ids: Vec<Value> = e
        .scan(&r, 5, oid)
        .into_iter()
        .map(|(_, r)| r[0].clone())
        .collect();
    assert!(ids.contains(&Value::Int4(1)) && ids.contains(&Value::Int4(2)));
    assert!(!ids.contains(&Value::Int4(4)));
    e.abort(r);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn commit_delay_lets_concurrent_commits_share_flushes() {
    let (d, e) = boot("commit-delay");
    let mut t = e.begin();
    let oid = e.new_oid();
    e.catalog_change(
        &mut t,
        CatalogChange::CreateTable {
            db: 5,
            def: table_def(oid),
        },
    )
    .unwrap();
    e.commit(t, true).unwrap();
    let before = e.wal_stats().flushes;
    let threads: Vec<_> = (0..8)
        .map(|n| {
            let e = e.clone();
            std::thread::spawn(move || {
                for i in 0..5 {
                    let mut t = e.begin();
                    e.insert(&mut t, 5, oid, row(n * 100 + i, "x")).unwrap();
                    t.commit_delay = Some((Duration::from_millis(20), 1));
                    e.commit(t, true).unwrap();
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    let flushes = e.wal_stats().flushes - before;
    assert!(flushes < 40, "40 commits took {flushes} flushes");
    let r = e.begin();
    assert_eq!(e.scan(&r, 5, oid).len(), 40);

    // The delay applies only with enough siblings: one other open transaction meets
    // commit_siblings = 1, so three commits wait at least three delays…
    let sibling = e.begin();
    let start = std::time::Instant::now();
    for i in 0..3 {
        let mut t = e.begin();
        e.insert(&mut t, 5, oid, row(1000 + i, "y")).unwrap();
        t.commit_delay = Some((Duration::from_millis(40), 1));
        e.commit(t, true).unwrap();
    }
    assert!(
        start.elapsed() >= Duration::from_millis(120),
        "{:?}",
        start.elapsed()
    );
    // …while commit_siblings = 5 is not met and nobody waits.
    let start = std::time::Instant::now();
    for i in 0..3 {
        let mut t = e.begin();
        e.insert(&mut t, 5, oid, row(2000 + i, "z")).unwrap();
        t.commit_delay = Some((Duration::from_secs(2), 5));
        e.commit(t, true).unwrap();
    }
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    e.abort(sibling);
    let _ = std::fs::remove_dir_all(d);
}

/// An I/O layer that makes image writes and WAL flushes slow (so commits overlap a
/// checkpoint and sit between their WAL append and their visibility), and can fail the
/// catalog image (a checkpoint that dies after writing some table images).
struct SlowIo {
    image_delay: Duration,
    wal_sync_delay: Duration,
    fail_catalog: Arc<AtomicBool>,
}

struct SlowFile {
    inner: Box<dyn wal::io::SegmentFile>,
    delay: Duration,
}

impl wal::io::SegmentFile for SlowFile {
    fn write_at(&mut self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.inner.write_at(buf, offset)
    }
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn sync(&mut self) -> std::io::Result<()> {
        std::thread::sleep(self.delay);
        self.inner.sync()
    }
}

impl WalIo for SlowIo {
    fn open(
        &self,
        path: &Path,
        method: SyncMethod,
    ) -> std::io::Result<Box<dyn wal::io::SegmentFile>> {
        Ok(Box::new(SlowFile {
            inner: StdIo.open(path, method)?,
            delay: self.wal_sync_delay,
        }))
    }
    fn create_zeroed(
        &self,
        path: &Path,
        size: u64,
        fsync: bool,
        method: SyncMethod,
    ) -> std::io::Result<Box<dyn wal::io::SegmentFile>> {
        Ok(Box::new(SlowFile {
            inner: StdIo.create_zeroed(path, size, fsync, method)?,
            delay: self.wal_sync_delay,
        }))
    }
    fn copy(&self, from: &Path, to: &Path, fsync: bool) -> std::io::Result<()> {
        StdIo.copy(from, to, fsync)
    }
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        StdIo.sync_dir(dir)
    }
    fn replace_file(&self, path: &Path, contents: &[u8], fsync: bool) -> std::io::Result<()> {
        std::thread::sleep(self.image_delay);
        if path.ends_with("tusk_catalog") && self.fail_catalog.load(Ordering::SeqCst) {
            return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
        }
        StdIo.replace_file(path, contents, fsync)
    }
}

/// Every table's visible rows sorted by id, and a check that each live key is indexed
/// exactly once (replay over an image must not duplicate index entries).
fn contents(e: &Engine, tables: &[u32]) -> Vec<Vec<(i32, String)>> {
    let r = e.begin();
    let mut out = Vec::new();
    for &oid in tables {
        let mut rows: Vec<(i32, String)> = e
            .scan(&r, 5, oid)
            .into_iter()
            .map(|(_, row)| match (&row[0], &row[1]) {
                (Value::Int4(i), Value::Text(s)) => (*i, s.clone()),
                other => panic!("unexpected row {other:?}"),
            })
            .collect();
        rows.sort();
        for (id, _) in &rows {
            assert_eq!(e.lookup_key(&r, 5, oid, &[Value::Int4(*id)]).len(), 1);
        }
        out.push(rows);
    }
    e.abort(r);
    out
}

/// Writers commit inserts, updates and deletes on three tables while checkpoints run;
/// returns how many commits finished while a checkpoint was running.
fn run_writers_during_checkpoints(
    e: &Arc<Engine>,
    tables: &[u32],
    checkpoints: usize,
    mut between: impl FnMut(usize) -> Result<()>,
) -> usize {
    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for w in 0..3i32 {
        let e = e.clone();
        let stop = stop.clone();
        let commits = commits.clone();
        let tables = tables.to_vec();
        handles.push(std::thread::spawn(move || {
            let mut live: Vec<(u32, i32, u64)> = Vec::new();
            let mut i = 0i32;
            while !stop.load(Ordering::SeqCst) {
                let rel = tables[(i as usize) % tables.len()];
                let id = w * 1_000_000 + i;
                let mut t = e.begin();
                let tid = e.insert(&mut t, 5, rel, row(id, "new")).unwrap();
                live.push((rel, id, tid));
                if i % 3 == 0 && live.len() > 2 {
                    let (rel, id, tid) = live.remove(0);
                    let out = e
                        .update(&mut t, 5, rel, tid, row(id, &format!("upd{i}")))
                        .unwrap();
                    assert_eq!(out, RowOutcome::Done);
                    let key = [Value::Int4(id)];
                    let new_tid = e.lookup_key(&t, 5, rel, &key)[0].0;
                    live.push((rel, id, new_tid));
                }
                if i % 5 == 0 && live.len() > 3 {
                    let (rel, _, tid) = live.remove(1);
                    assert_eq!(e.delete(&mut t, 5, rel, tid).unwrap(), RowOutcome::Done);
                }
                e.commit(t, true).unwrap();
                commits.fetch_add(1, Ordering::SeqCst);
                i += 1;
            }
        }));
    }
    let mut during = 0;
    for n in 0..checkpoints {
        std::thread::sleep(Duration::from_millis(30));
        let before = commits.load(Ordering::SeqCst);
        let res = between(n);
        during += (commits.load(Ordering::SeqCst) - before) as usize;
        res.ok();
    }
    std::thread::sleep(Duration::from_millis(30));
    stop.store(true, Ordering::SeqCst);
    for h in handles {
        h.join().unwrap();
    }
    during
}

fn create_tables(e: &Engine, n: usize) -> Vec<u32> {
    let mut t = e.begin();
    let mut out = Vec::new();
    for _ in 0..n {
        let oid = e.new_oid();
        let mut def = table_def(oid);
        def.name = format!("t{oid}");
        e.catalog_change(&mut t, CatalogChange::CreateTable { db: 5, def })
            .unwrap();
        out.push(oid);
    }
    e.commit(t, true).unwrap();
    out
}

fn slow_opts(fail_catalog: Arc<AtomicBool>) -> EngineOptions {
    EngineOptions {
        io: Arc::new(SlowIo {
            image_delay: Duration::from_millis(40),
            wal_sync_delay: Duration::from_millis(1),
            fail_catalog,
        }),
        background: false,
        checkpoint: Some(CheckpointSettings::default()),
        ..Default::default()
    }
}

#[test]
fn commits_during_online_checkpoints_survive_a_crash() {
    let (d, e) = boot("online");
    let tables = create_tables(&e, 3);
    e.shutdown().unwrap();
    drop(e);
    let e = Engine::open(&d, &slow_opts(Arc::new(AtomicBool::new(false)))).unwrap();
    let during = run_writers_during_checkpoints(&e, &tables, 4, |_| e.checkpoint());
    // Commits went on while the checkpoints wrote their images.
    assert!(during > 0, "no commit finished during a checkpoint");
    let (ckpt, redo) = e.last_checkpoint();
    assert!(redo <= ckpt);
    let expected = contents(&e, &tables);
    assert!(expected.iter().map(|t| t.len()).sum::<usize>() > 10);
    drop(e); // crash: no shutdown checkpoint
    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    assert_eq!(contents(&e, &tables), expected);
    // The recovered engine keeps working: keys stay unique, updates work.
    let mut t = e.begin();
    let (id, _) = expected[0][0].clone();
    assert_eq!(
        e.insert(&mut t, 5, tables[0], row(id, "dup"))
            .unwrap_err()
            .code,
        "23505"
    );
    e.abort(t);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn a_checkpoint_that_dies_halfway_leaves_a_recoverable_cluster() {
    let (d, e) = boot("halfway");
    let tables = create_tables(&e, 3);
    e.shutdown().unwrap();
    drop(e);
    let fail = Arc::new(AtomicBool::new(false));
    let e = Engine::open(&d, &slow_opts(fail.clone())).unwrap();
    // First a good checkpoint, then ones that write new table images but die before
    // the catalog image and pg_control: the old redo point must still recover all.
    run_writers_during_checkpoints(&e, &tables, 3, |n| {
        fail.store(n > 0, Ordering::SeqCst);
        e.checkpoint()
    });
    let expected = contents(&e, &tables);
    drop(e);
    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    assert_eq!(contents(&e, &tables), expected);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn a_corrupt_or_missing_checkpoint_image_stops_start_up() {
    let (d, e) = boot("corrupt");
    let tables = create_tables(&e, 1);
    let mut t = e.begin();
    e.insert(&mut t, 5, tables[0], row(1, "x")).unwrap();
    e.commit(t, true).unwrap();
    e.shutdown().unwrap();
    drop(e);
    let p = checkpoint::heap_path(&d, 5, tables[0]);
    let good = std::fs::read(&p).unwrap();
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 8] ^= 0x55;
    std::fs::write(&p, &bad).unwrap();
    let err = Engine::open(&d, &EngineOptions::default()).err().unwrap();
    assert_eq!(err.code, sqlstate::DATA_CORRUPTED);
    assert_eq!(err.severity, Severity::Fatal);
    assert!(err.message.contains("checksum mismatch"), "{}", err.message);
    std::fs::remove_file(&p).unwrap();
    let err = Engine::open(&d, &EngineOptions::default()).err().unwrap();
    assert!(err.message.contains("could not"), "{}", err.message);
    std::fs::write(&p, &good).unwrap();
    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    assert_eq!(contents(&e, &tables), vec![vec![(1, "x".to_string())]]);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn checkpoints_remove_old_segments_but_keep_wal_keep_size() {
    let d = tempdir("recycle");
    let mb = 1024 * 1024;
    crate::testutil::bootstrap(&d, mb);
    let settings = CheckpointSettings {
        wal_keep_size: 3 * mb,
        ..Default::default()
    };
    let opts = EngineOptions {
        wal_segment_size: mb,
        checkpoint: Some(settings),
        background: false,
        fsync: false,
        ..Default::default()
    };
    let e = Engine::open(&d, &opts).unwrap();
    let tables = create_tables(&e, 1);
    let segments = || {
        let mut v: Vec<u64> = std::fs::read_dir(d.join("pg_wal"))
            .unwrap()
            .flatten()
            .filter_map(|f| {
                wal::segment::parse_segment_file_name(f.file_name().to_str()?, mb).map(|x| x.1)
            })
            .collect();
        v.sort();
        v
    };
    let big = "x".repeat(2000);
    for i in 0..4000 {
        let mut t = e.begin();
        e.insert(&mut t, 5, tables[0], row(i, &big)).unwrap();
        e.commit(t, false).unwrap();
    }
    let current = e.current_wal_lsn().segno(mb);
    assert!(current >= 7, "only {current} segments written");
    assert!(segments()[0] <= 1);
    e.checkpoint().unwrap();
    // wal_keep_size = 3 segments behind the current one are kept, older ones go.
    assert_eq!(segments()[0], current - 3);
    assert!(segments().contains(&current));
    // Without wal_keep_size only the redo point's segment and later are kept.
    e.set_checkpoint_settings(CheckpointSettings::default());
    e.checkpoint().unwrap();
    let (_, redo) = e.last_checkpoint();
    assert_eq!(segments()[0], redo.segno(mb));
    drop(e);
    // The cluster still recovers from what is left.
    let e = Engine::open(&d, &opts).unwrap();
    assert_eq!(contents(&e, &tables)[0].len(), 4000);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn vacuum_removes_dead_versions_no_snapshot_can_see() {
    let (d, e) = boot("vacuum");
    let tables = create_tables(&e, 1);
    let rel = tables[0];
    let mut t = e.begin();
    let mut tids = Vec::new();
    for i in 0..10 {
        tids.push(e.insert(&mut t, 5, rel, row(i, "a")).unwrap());
    }
    e.commit(t, true).unwrap();
    // An old snapshot keeps the deleted versions alive.
    let old = e.begin();
    let mut t = e.begin();
    for tid in &tids[..6] {
        e.delete(&mut t, 5, rel, *tid).unwrap();
    }
    e.commit(t, true).unwrap();
    assert_eq!(e.table_dead_versions(5, rel), 6);
    assert_eq!(e.vacuum(5, Some(rel)), 0);
    assert_eq!(e.scan(&old, 5, rel).len(), 10);
    e.abort(old);
    assert_eq!(e.vacuum(5, Some(rel)), 6);
    assert_eq!(e.table_dead_versions(5, rel), 0);
    let r = e.begin();
    assert_eq!(e.scan(&r, 5, rel).len(), 4);
    e.abort(r);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn the_checkpointer_runs_timed_checkpoints_and_autovacuum() {
    let d = tempdir("timed");
    crate::testutil::bootstrap(&d, 16 * 1024 * 1024);
    let opts = EngineOptions {
        checkpoint: Some(CheckpointSettings {
            checkpoint_timeout: Duration::from_millis(300),
            autovacuum_threshold: 5,
            tick: Duration::from_millis(50),
            ..Default::default()
        }),
        fsync: false,
        ..Default::default()
    };
    let e = Engine::open(&d, &opts).unwrap();
    let tables = create_tables(&e, 1);
    let rel = tables[0];
    let before = e.last_checkpoint();
    let mut t = e.begin();
    let tids: Vec<u64> = (0..8)
        .map(|i| e.insert(&mut t, 5, rel, row(i, "a")).unwrap())
        .collect();
    e.commit(t, true).unwrap();
    let old = e.begin();
    let mut t = e.begin();
    for tid in &tids {
        e.delete(&mut t, 5, rel, *tid).unwrap();
    }
    e.commit(t, true).unwrap();
    e.abort(old);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while (e.last_checkpoint() == before || e.table_dead_versions(5, rel) > 0)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_ne!(e.last_checkpoint(), before, "no timed checkpoint happened");
    // Once idle (nothing written since the last checkpoint record), timed checkpoints
    // are skipped, as PostgreSQL skips them.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while e.wal_since_last_checkpoint() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let idle = e.last_checkpoint();
    std::thread::sleep(Duration::from_millis(900));
    assert_eq!(
        e.last_checkpoint(),
        idle,
        "a timed checkpoint ran on an idle system"
    );
    assert_eq!(e.table_dead_versions(5, rel), 0, "autovacuum did not run");
    e.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(d);
}

// ---- secondary indexes ---------------------------------------------------------------

/// Creates `t` (id pk, v text) with rows, then adds an index on `v` (unique or not).
fn table_with_index(e: &Engine, unique: bool, rows: &[(i32, &str)]) -> (u32, u32) {
    let oid = e.new_oid();
    let mut t = e.begin();
    e.catalog_change(
        &mut t,
        CatalogChange::CreateTable {
            db: 5,
            def: table_def(oid),
        },
    )
    .unwrap();
    for (id, v) in rows {
        e.insert(&mut t, 5, oid, row(*id, v)).unwrap();
    }
    e.commit(t, true).unwrap();
    let ix = e.new_oid();
    let mut def = table_def(oid);
    def.indexes.push(IndexDef {
        oid: ix,
        name: if unique { "t_v_key" } else { "t_v_idx" }.into(),
        columns: vec![1],
        unique,
        constraint: unique,
        predicate: None,
        options: vec![],
    });
    let mut t = e.begin();
    e.catalog_change(&mut t, CatalogChange::AlterTable { db: 5, def })
        .unwrap();
    e.commit(t, true).unwrap();
    (oid, ix)
}

fn ids(rows: Option<Vec<(u64, Arc<Vec<Value>>)>>) -> Vec<i32> {
    let mut out: Vec<i32> = rows
        .expect("index usable")
        .into_iter()
        .map(|(_, r)| match r[0] {
            Value::Int4(i) => i,
            _ => -1,
        })
        .collect();
    out.sort();
    out
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

#[test]
fn unique_index_rejects_live_duplicates_but_not_nulls_or_dead_versions() {
    let (d, e) = boot("uix");
    let (oid, _) = table_with_index(&e, true, &[(1, "a"), (2, "b")]);
    let mut t = e.begin();
    let err = e.insert(&mut t, 5, oid, row(3, "a")).unwrap_err();
    assert_eq!(err.code, "23505");
    assert_eq!(
        err.message,
        "duplicate key value violates unique constraint \"t_v_key\""
    );
    assert_eq!(err.detail.as_deref(), Some("Key (v)=(a) already exists."));
    e.abort(t);
    // NULLs never conflict.
    let mut t = e.begin();
    e.insert(&mut t, 5, oid, vec![Value::Int4(4), Value::Null])
        .unwrap();
    e.insert(&mut t, 5, oid, vec![Value::Int4(5), Value::Null])
        .unwrap();
    // A key freed by this transaction's own delete may be reused.
    let (tid, _) = e
        .scan(&t, 5, oid)
        .into_iter()
        .find(|(_, r)| r[1] == text("b"))
        .unwrap();
    e.delete(&mut t, 5, oid, tid).unwrap();
    e.insert(&mut t, 5, oid, row(6, "b")).unwrap();
    // An UPDATE that keeps the key does not conflict with its own old version.
    let (tid, _) = e
        .scan(&t, 5, oid)
        .into_iter()
        .find(|(_, r)| r[1] == text("a"))
        .unwrap();
    assert_eq!(
        e.update(&mut t, 5, oid, tid, row(7, "a")).unwrap(),
        RowOutcome::Done
    );
    e.commit(t, true).unwrap();
    let r = e.begin();
    assert_eq!(e.scan(&r, 5, oid).len(), 4);
    e.abort(r);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn a_unique_insert_waits_for_a_concurrent_writer_of_the_same_key() {
    let (d, e) = boot("uixwait");
    let (oid, _) = table_with_index(&e, true, &[]);
    let mut a = e.begin();
    e.insert(&mut a, 5, oid, row(1, "k")).unwrap();
    let e2 = e.clone();
    let h = std::thread::spawn(move || {
        let mut b = e2.begin();
        let r = e2.insert(&mut b, 5, oid, row(2, "k"));
        e2.abort(b);
        r.map(|_| ()).map_err(|e| e.code)
    });
    std::thread::sleep(Duration::from_millis(200));
    assert!(!h.is_finished(), "the second writer waits");
    e.commit(a, true).unwrap();
    assert_eq!(h.join().unwrap(), Err("23505"));
    // After an abort, the waiter goes ahead.
    let mut a = e.begin();
    e.insert(&mut a, 5, oid, row(3, "m")).unwrap();
    let e2 = e.clone();
    let h = std::thread::spawn(move || {
        let mut b = e2.begin();
        let r = e2.insert(&mut b, 5, oid, row(4, "m"));
        e2.commit(b, true).unwrap();
        r.map(|_| ()).map_err(|e| e.code)
    });
    std::thread::sleep(Duration::from_millis(200));
    e.abort(a);
    assert_eq!(h.join().unwrap(), Ok(()));
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn index_lookups_follow_mvcc_visibility() {
    let (d, e) = boot("ixvis");
    let (oid, ix) = table_with_index(&e, false, &[(1, "a"), (2, "a"), (3, "b")]);
    let r = e.begin();
    assert_eq!(
        ids(e.lookup_index(&r, 5, oid, ix, &[text("a")], None)),
        vec![1, 2]
    );
    // An uncommitted update is visible to its writer only.
    let mut w = e.begin();
    let (tid, _) = e
        .scan(&w, 5, oid)
        .into_iter()
        .find(|(_, r)| r[0] == Value::Int4(1))
        .unwrap();
    e.update(&mut w, 5, oid, tid, row(1, "b")).unwrap();
    assert_eq!(
        ids(e.lookup_index(&w, 5, oid, ix, &[text("b")], None)),
        vec![1, 3]
    );
    assert_eq!(
        ids(e.lookup_index(&r, 5, oid, ix, &[text("b")], None)),
        vec![3]
    );
    e.commit(w, true).unwrap();
    // The old snapshot still sees the old version through the index.
    assert_eq!(
        ids(e.lookup_index(&r, 5, oid, ix, &[text("a")], None)),
        vec![1, 2]
    );
    let mut r = r;
    e.new_snapshot(&mut r);
    assert_eq!(
        ids(e.lookup_index(&r, 5, oid, ix, &[text("a")], None)),
        vec![2]
    );
    // NULL keys match nothing; an unknown index cannot answer.
    assert_eq!(
        ids(e.lookup_index(&r, 5, oid, ix, &[Value::Null], None)),
        Vec::<i32>::new()
    );
    assert!(e
        .lookup_index(&r, 5, oid, 999_999, &[text("a")], None)
        .is_none());
    e.abort(r);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn range_lookups_on_an_integer_index() {
    let (d, e) = boot("ixrange");
    let oid = e.new_oid();
    let mut def = table_def(oid);
    def.primary_key = None;
    def.indexes.push(IndexDef {
        oid: e.new_oid(),
        name: "t_id_idx".into(),
        columns: vec![0, 1],
        unique: false,
        constraint: false,
        predicate: None,
        options: vec![],
    });
    let ix = def.indexes[0].oid;
    let mut t = e.begin();
    e.catalog_change(&mut t, CatalogChange::CreateTable { db: 5, def })
        .unwrap();
    for i in -5..=5 {
        e.insert(&mut t, 5, oid, row(i, &format!("r{i}"))).unwrap();
    }
    e.commit(t, true).unwrap();
    let r = e.begin();
    let range = |lo: Bound<i32>, hi: Bound<i32>| {
        let m = |b: Bound<i32>| match b {
            Bound::Included(v) => Bound::Included(Value::Int4(v)),
            Bound::Excluded(v) => Bound::Excluded(Value::Int4(v)),
            Bound::Unbounded => Bound::Unbounded,
        };
        ids(e.lookup_index(&r, 5, oid, ix, &[], Some((m(lo), m(hi)))))
    };
    assert_eq!(
        range(Bound::Included(-1), Bound::Included(1)),
        vec![-1, 0, 1]
    );
    assert_eq!(range(Bound::Excluded(-1), Bound::Excluded(2)), vec![0, 1]);
    assert_eq!(range(Bound::Unbounded, Bound::Excluded(-3)), vec![-5, -4]);
    assert_eq!(range(Bound::Excluded(3), Bound::Unbounded), vec![4, 5]);
    // Equality on the first column, range on the second is not order-preserving text.
    assert!(e
        .lookup_index(
            &r,
            5,
            oid,
            ix,
            &[Value::Int4(1)],
            Some((Bound::Included(text("a")), Bound::Unbounded))
        )
        .is_none());
    assert_eq!(
        ids(e.lookup_index(&r, 5, oid, ix, &[Value::Int4(2)], None)),
        vec![2]
    );
    e.abort(r);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn indexes_survive_crash_recovery_and_checkpoints_and_drop_index() {
    let (d, e) = boot("ixcrash");
    let (oid, ix) = table_with_index(&e, true, &[(1, "a")]);
    e.checkpoint().unwrap();
    let mut t = e.begin();
    e.insert(&mut t, 5, oid, row(2, "b")).unwrap();
    e.commit(t, true).unwrap();
    drop(e); // crash: the index definition comes from the image, its contents are rebuilt

    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    let mut t = e.begin();
    assert_eq!(
        e.insert(&mut t, 5, oid, row(3, "b")).unwrap_err().code,
        "23505"
    );
    e.abort(t);
    let r = e.begin();
    assert_eq!(
        ids(e.lookup_index(&r, 5, oid, ix, &[text("b")], None)),
        vec![2]
    );
    e.abort(r);

    // DROP INDEX (logged after the checkpoint), then crash: replay drops it too.
    let mut t = e.begin();
    e.catalog_change(
        &mut t,
        CatalogChange::AlterTable {
            db: 5,
            def: table_def(oid),
        },
    )
    .unwrap();
    e.commit(t, true).unwrap();
    drop(e);
    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    let mut t = e.begin();
    e.insert(&mut t, 5, oid, row(3, "b")).unwrap();
    assert!(e.lookup_index(&t, 5, oid, ix, &[text("b")], None).is_none());
    e.commit(t, true).unwrap();
    e.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn create_index_created_by_replay_is_built_from_replayed_rows() {
    let (d, e) = boot("ixreplay");
    // Everything after the bootstrap checkpoint: rows, then the index, all replayed.
    let (oid, ix) = table_with_index(&e, false, &[(1, "x"), (2, "y"), (3, "x")]);
    let mut t = e.begin();
    e.insert(&mut t, 5, oid, row(4, "x")).unwrap();
    e.commit(t, true).unwrap();
    drop(e);
    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    let r = e.begin();
    assert_eq!(
        ids(e.lookup_index(&r, 5, oid, ix, &[text("x")], None)),
        vec![1, 3, 4]
    );
    e.abort(r);
    // An aborted CREATE INDEX leaves no index behind.
    let mut def = table_def(oid);
    def.indexes.push(IndexDef {
        oid: e.new_oid(),
        name: "t_v_key".into(),
        columns: vec![1],
        unique: true,
        constraint: false,
        predicate: None,
        options: vec![],
    });
    let mut t = e.begin();
    e.catalog_change(&mut t, CatalogChange::AlterTable { db: 5, def })
        .unwrap();
    e.abort(t);
    let mut t = e.begin();
    e.insert(&mut t, 5, oid, row(5, "y")).unwrap();
    e.commit(t, true).unwrap();
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn building_a_unique_index_waits_for_writers_and_finds_duplicates() {
    let (d, e) = boot("uixbuild");
    let (oid, _) = table_with_index(&e, false, &[(1, "a"), (2, "b")]);
    // A writer in progress inserts a duplicate of "a".
    let mut w = e.begin();
    e.insert(&mut w, 5, oid, row(3, "a")).unwrap();
    let ix = e.new_oid();
    let mut def = table_def(oid);
    def.indexes.push(IndexDef {
        oid: ix,
        name: "t_v_uniq".into(),
        columns: vec![1],
        unique: true,
        constraint: false,
        predicate: None,
        options: vec![],
    });
    let e2 = e.clone();
    let h = std::thread::spawn(move || {
        let mut t = e2.begin();
        e2.catalog_change(&mut t, CatalogChange::AlterTable { db: 5, def })
            .unwrap();
        let dup = e2.unique_index_duplicate(&t, 5, oid, ix).unwrap();
        e2.abort(t);
        dup.map(|r| r[1].clone())
    });
    std::thread::sleep(Duration::from_millis(200));
    assert!(!h.is_finished(), "the build waits for the writer");
    e.commit(w, true).unwrap();
    assert_eq!(h.join().unwrap(), Some(text("a")));
    // Without duplicates (NULLs do not count) the check passes.
    let mut t = e.begin();
    let (tid, _) = e
        .scan(&t, 5, oid)
        .into_iter()
        .find(|(_, r)| r[0] == Value::Int4(3))
        .unwrap();
    e.update(&mut t, 5, oid, tid, vec![Value::Int4(3), Value::Null])
        .unwrap();
    e.insert(&mut t, 5, oid, vec![Value::Int4(4), Value::Null])
        .unwrap();
    e.commit(t, true).unwrap();
    let mut def = table_def(oid);
    def.indexes.push(IndexDef {
        oid: ix,
        name: "t_v_uniq".into(),
        columns: vec![1],
        unique: true,
        constraint: false,
        predicate: None,
        options: vec![],
    });
    let mut t = e.begin();
    e.catalog_change(&mut t, CatalogChange::AlterTable { db: 5, def })
        .unwrap();
    assert_eq!(e.unique_index_duplicate(&t, 5, oid, ix).unwrap(), None);
    e.commit(t, true).unwrap();
    let _ = std::fs::remove_dir_all(d);
}

/// Watches a table's image file: holding it open keeps its inode from being reused, so
/// a rewrite (a new file renamed into place) always shows as a different inode.
struct ImageWatch(std::fs::File);

impl ImageWatch {
    fn new(d: &Path, oid: u32) -> ImageWatch {
        ImageWatch(std::fs::File::open(checkpoint::heap_path(d, 5, oid)).unwrap())
    }

    fn rewritten(&self, d: &Path, oid: u32) -> bool {
        use std::os::unix::fs::MetadataExt;
        let now = std::fs::metadata(checkpoint::heap_path(d, 5, oid)).unwrap();
        now.ino() != self.0.metadata().unwrap().ino()
    }
}

#[test]
fn checkpoints_rewrite_only_the_images_of_changed_tables() {
    let (d, e) = boot("skipimages");
    let tables = create_tables(&e, 3);
    let mut t = e.begin();
    for (i, &oid) in tables.iter().enumerate() {
        e.insert(&mut t, 5, oid, row(i as i32, "first")).unwrap();
    }
    e.commit(t, true).unwrap();
    e.checkpoint().unwrap();
    let watch = |oid| ImageWatch::new(&d, oid);
    let w: Vec<ImageWatch> = tables.iter().map(|&o| watch(o)).collect();
    // Nothing changed: no image is rewritten.
    e.checkpoint().unwrap();
    assert!(tables.iter().zip(&w).all(|(&o, w)| !w.rewritten(&d, o)));
    // One table changed (and an uncommitted insert in another): the changed table is
    // rewritten, the idle one is not; the other follows once its insert commits.
    let mut t = e.begin();
    e.insert(&mut t, 5, tables[0], row(10, "second")).unwrap();
    e.commit(t, true).unwrap();
    let mut pending = e.begin();
    e.insert(&mut pending, 5, tables[1], row(11, "later"))
        .unwrap();
    e.checkpoint().unwrap();
    assert!(w[0].rewritten(&d, tables[0]));
    assert!(!w[2].rewritten(&d, tables[2]));
    let w1 = watch(tables[1]);
    e.commit(pending, true).unwrap();
    let expected = contents(&e, &tables);
    e.checkpoint().unwrap();
    assert!(w1.rewritten(&d, tables[1]));
    assert!(!w[2].rewritten(&d, tables[2]));
    // After a crash the images (skipped or not) and the WAL give back every row.
    drop(e);
    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    assert_eq!(contents(&e, &tables), expected);
    let _ = std::fs::remove_dir_all(d);
}

/// Whether a table's heap still waits for its image to be decoded (storage::heaps).
fn waits_for_its_image(e: &Engine, oid: u32) -> bool {
    e.lock().store.heaps.pending(&(5, oid)).is_some()
}

#[test]
fn recovery_replays_into_tables_whose_images_load_later() {
    let (d, e) = boot("lazyheaps");
    let tables = create_tables(&e, 3);
    let mut t = e.begin();
    for (i, &oid) in tables.iter().enumerate() {
        for id in 0..200 {
            e.insert(&mut t, 5, oid, row(id, &format!("t{i}"))).unwrap();
        }
    }
    e.commit(t, true).unwrap();
    e.checkpoint().unwrap();
    // After the checkpoint: table 0 gets updates, deletes and inserts, table 2 one
    // delete; table 1 is left alone.
    let mut t = e.begin();
    for (tid, r) in e.scan(&t, 5, tables[0]).into_iter().take(50) {
        let Value::Int4(id) = r[0] else { panic!() };
        if id % 2 == 0 {
            e.update(&mut t, 5, tables[0], tid, row(id, "updated"))
                .unwrap();
        } else {
            e.delete(&mut t, 5, tables[0], tid).unwrap();
        }
    }
    e.insert(&mut t, 5, tables[0], row(1000, "new")).unwrap();
    let (tid, _) = e.scan(&t, 5, tables[2])[7].clone();
    e.delete(&mut t, 5, tables[2], tid).unwrap();
    e.commit(t, true).unwrap();
    let expected = contents(&e, &tables);
    let w1 = ImageWatch::new(&d, tables[1]);
    drop(e); // crash

    // Replay kept its changes with the waiting heaps; the end-of-recovery checkpoint
    // decodes (and rewrites) the two changed tables, and keeps table 1's image (the
    // table may still wait for it, or have been settled untouched once the loaders
    // were done: `Heaps::settle`).
    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    assert!(!waits_for_its_image(&e, tables[0]));
    assert!(!w1.rewritten(&d, tables[1]));
    assert_eq!(contents(&e, &tables), expected);
    assert!(!waits_for_its_image(&e, tables[1]), "a scan decodes it");
    // The replayed rows are in the indexes a decoded heap rebuilds.
    let r = e.begin();
    assert_eq!(
        e.lookup_key(&r, 5, tables[0], &[Value::Int4(1000)]).len(),
        1
    );
    assert!(e.lookup_key(&r, 5, tables[0], &[Value::Int4(1)]).is_empty());
    e.abort(r);
    // A clean restart: nothing is decoded before it is used, and a checkpoint of
    // untouched waiting heaps rewrites nothing.
    e.shutdown().unwrap();
    drop(e);
    let w: Vec<ImageWatch> = tables.iter().map(|&o| ImageWatch::new(&d, o)).collect();
    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    assert!(tables.iter().all(|&o| waits_for_its_image(&e, o)));
    e.checkpoint().unwrap();
    assert!(tables.iter().zip(&w).all(|(&o, w)| !w.rewritten(&d, o)));
    assert_eq!(contents(&e, &tables), expected);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn commits_racing_checkpoints_on_one_table_of_several_survive_a_crash() {
    let (d, e) = boot("skiprace");
    let tables = create_tables(&e, 3);
    let mut t = e.begin();
    for &oid in &tables[1..] {
        e.insert(&mut t, 5, oid, row(-1, "idle")).unwrap();
    }
    e.commit(t, true).unwrap();
    e.shutdown().unwrap();
    drop(e);
    let e = Engine::open(&d, &slow_opts(Arc::new(AtomicBool::new(false)))).unwrap();
    // Writers touch only the first table; the idle ones are skipped by later
    // checkpoints while commits to the first land during image writes.
    run_writers_during_checkpoints(&e, &tables[..1], 5, |_| e.checkpoint());
    // Quiet now: this checkpoint skips every image whose table did not change since
    // the last one wrote it — which must include any commit that raced that write.
    e.checkpoint().unwrap();
    let expected = contents(&e, &tables);
    drop(e);
    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    assert_eq!(contents(&e, &tables), expected);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn a_commit_landing_while_its_image_is_written_is_not_skipped_later() {
    let (d, e) = boot("skipwindow");
    let tables = create_tables(&e, 3);
    e.shutdown().unwrap();
    drop(e);
    let e = Engine::open(&d, &slow_opts(Arc::new(AtomicBool::new(false)))).unwrap();
    let insert = |oid: u32, id: i32| {
        let mut t = e.begin();
        e.insert(&mut t, 5, oid, row(id, "x")).unwrap();
        e.commit(t, true).unwrap();
    };
    for (i, &oid) in tables.iter().enumerate() {
        insert(oid, i as i32);
    }
    e.checkpoint().unwrap();
    // The first two tables change, so the next checkpoint spends ~80 ms writing their
    // images before it reads the last table; a commit to the last table lands in that
    // window, after the checkpoint's snapshot.
    insert(tables[0], 100);
    insert(tables[1], 101);
    std::thread::scope(|s| {
        let ck = s.spawn(|| e.checkpoint());
        std::thread::sleep(Duration::from_millis(30));
        insert(tables[2], 102);
        ck.join().unwrap().unwrap();
    });
    // Nothing changes any more: this checkpoint must still rewrite the last table,
    // whose image lacks row 102 while its redo point is past that commit.
    e.checkpoint().unwrap();
    let expected = contents(&e, &tables);
    assert!(expected[2].iter().any(|(id, _)| *id == 102));
    drop(e);
    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    assert_eq!(contents(&e, &tables), expected);
    let _ = std::fs::remove_dir_all(d);
}

/// Fills a new table with `n` rows in one transaction.
fn big_table(e: &Engine, n: i32) -> u32 {
    let oid = create_tables(e, 1)[0];
    let mut t = e.begin();
    for i in 0..n {
        e.insert(&mut t, 5, oid, row(i, "x")).unwrap();
    }
    e.commit(t, true).unwrap();
    oid
}

#[test]
fn checkpoints_copy_big_tables_in_pieces_while_writers_go_on() {
    let (d, e) = boot("chunks");
    let n = (IMAGE_CHUNK * 3 + 5) as i32;
    let oid = big_table(&e, n);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (e, stop) = (e.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let mut t = e.begin();
                let id = (i * 7919) % n;
                let tids = e.lookup_key(&t, 5, oid, &[Value::Int4(id)]);
                if let Some((tid, _)) = tids.first() {
                    e.update(&mut t, 5, oid, *tid, row(id, &format!("u{i}")))
                        .unwrap();
                }
                e.insert(&mut t, 5, oid, row(n + i, "new")).unwrap();
                e.commit(t, true).unwrap();
                i += 1;
            }
            i
        })
    };
    for _ in 0..3 {
        e.checkpoint().unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    let commits = writer.join().unwrap();
    assert!(commits > 0);
    let before = contents(&e, &[oid]);
    assert_eq!(before[0].len(), n as usize + commits as usize);
    drop(e); // crash: replay from the last checkpoint's images
    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    assert_eq!(contents(&e, &[oid]), before);
    // And from images alone.
    e.shutdown().unwrap();
    drop(e);
    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    assert_eq!(contents(&e, &[oid]), before);
    drop(e);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn a_drop_during_a_checkpoint_waits_for_the_copy_of_its_table() {
    let (d, e) = boot("dropwait");
    let n = (IMAGE_CHUNK * 4) as i32;
    let keep = big_table(&e, 10);
    for round in 0..3 {
        let oid = big_table(&e, n);
        let ck = {
            let e = e.clone();
            std::thread::spawn(move || e.checkpoint())
        };
        // Let the checkpoint start on some rounds, not on others.
        std::thread::sleep(std::time::Duration::from_millis(round * 20));
        let mut t = e.begin();
        e.catalog_change(&mut t, CatalogChange::DropTable { db: 5, oid })
            .unwrap();
        e.commit(t, true).unwrap();
        ck.join().unwrap().unwrap();
        let r = e.begin();
        assert!(e.scan(&r, 5, oid).is_empty());
        e.abort(r);
    }
    drop(e);
    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    assert_eq!(contents(&e, &[keep])[0].len(), 10);
    drop(e);
    let _ = std::fs::remove_dir_all(d);
}

/// Options whose checkpointer thread never ticks within a test, deferring crash
/// recovery's checkpoint to it: the deferred state stays as it is until the test acts.
fn deferring_opts() -> EngineOptions {
    EngineOptions {
        checkpoint: Some(CheckpointSettings {
            tick: Duration::from_secs(3600),
            ..CheckpointSettings::default()
        }),
        defer_recovery_checkpoint: true,
        ..EngineOptions::default()
    }
}

fn sorted_ids(e: &Engine, oid: u32) -> Vec<i32> {
    let r = e.begin();
    let mut ids: Vec<i32> = e
        .scan(&r, 5, oid)
        .into_iter()
        .map(|(_, r)| match r[0] {
            Value::Int4(i) => i,
            ref v => panic!("{v:?}"),
        })
        .collect();
    e.abort(r);
    ids.sort();
    ids
}

#[test]
fn a_deferred_recovery_checkpoint_keeps_the_old_one_in_charge_until_it_runs() {
    let (d, e) = boot("deferred");
    let oid = e.new_oid();
    let mut t = e.begin();
    e.catalog_change(
        &mut t,
        CatalogChange::CreateTable {
            db: 5,
            def: table_def(oid),
        },
    )
    .unwrap();
    e.insert(&mut t, 5, oid, row(1, "one")).unwrap();
    e.commit(t, true).unwrap();
    e.checkpoint().unwrap();
    let first = e.last_checkpoint();
    let mut t = e.begin();
    e.insert(&mut t, 5, oid, row(2, "two")).unwrap();
    e.commit(t, true).unwrap();
    // In progress at the crash: its records are in the WAL, never committed.
    let mut t = e.begin();
    e.insert(&mut t, 5, oid, row(3, "three")).unwrap();
    let (tid1, _) = e
        .scan(&t, 5, oid)
        .into_iter()
        .find(|(_, r)| r[0] == Value::Int4(1))
        .unwrap();
    e.delete(&mut t, 5, oid, tid1).unwrap();
    e.wal.flush(e.wal.insert_lsn()).unwrap();
    drop(t);
    drop(e); // crash

    // Recovery returns without a checkpoint: the old one is still in pg_control.
    let e = Engine::open(&d, &deferring_opts()).unwrap();
    assert_eq!(e.last_checkpoint(), first);
    assert_eq!(sorted_ids(&e, oid), vec![1, 2]);
    // Work after recovery, then a second crash before the checkpointer ran: replay
    // starts from the same redo point and goes through the first crash's unfinished
    // transaction (which touched row 1) to the new commits.
    let mut t = e.begin();
    e.insert(&mut t, 5, oid, row(4, "four")).unwrap();
    let (tid1, _) = e
        .scan(&t, 5, oid)
        .into_iter()
        .find(|(_, r)| r[0] == Value::Int4(1))
        .unwrap();
    e.update(&mut t, 5, oid, tid1, row(5, "one, renumbered"))
        .unwrap();
    e.commit(t, true).unwrap();
    drop(e);
    let e = Engine::open(&d, &deferring_opts()).unwrap();
    assert_eq!(e.last_checkpoint(), first);
    assert_eq!(sorted_ids(&e, oid), vec![2, 4, 5]);
    // The checkpointer's turn: it runs the deferred checkpoint once.
    assert!(e.recovery_checkpoint_pending());
    assert!(e.end_of_recovery_checkpoint().unwrap());
    assert!(e.last_checkpoint().1 > first.1);
    assert!(!e.recovery_checkpoint_pending());
    assert!(!e.end_of_recovery_checkpoint().unwrap());
    e.shutdown().unwrap();
    // Nothing follows the shutdown checkpoint, not even a checkpoint that asks later.
    let down = e.last_checkpoint();
    assert_eq!(e.checkpoint_with_reason("time").unwrap_err().code, "57P01");
    assert_eq!(e.last_checkpoint(), down);
    assert_eq!(e.control_file().state, DbState::Shutdowned);
    drop(e);
    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    assert_eq!(sorted_ids(&e, oid), vec![2, 4, 5]);
    e.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn a_checkpoint_after_recovery_stands_for_the_deferred_one() {
    let (d, e) = boot("deferred-done");
    let oid = e.new_oid();
    let mut t = e.begin();
    e.catalog_change(
        &mut t,
        CatalogChange::CreateTable {
            db: 5,
            def: table_def(oid),
        },
    )
    .unwrap();
    e.insert(&mut t, 5, oid, row(1, "one")).unwrap();
    e.commit(t, true).unwrap();
    drop(e); // crash

    let e = Engine::open(&d, &deferring_opts()).unwrap();
    assert!(e.recovery_checkpoint_pending());
    // An operator's CHECKPOINT gets there before the checkpointer thread: that one
    // then has nothing to do (a second checkpoint, later than anyone asked, would
    // rewrite the images behind the operator's back).
    e.checkpoint().unwrap();
    assert!(!e.recovery_checkpoint_pending());
    let done = e.last_checkpoint();
    assert!(!e.end_of_recovery_checkpoint().unwrap());
    assert_eq!(e.last_checkpoint(), done);
    assert_eq!(sorted_ids(&e, oid), vec![1]);
    e.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(d);
}

/// The rows of table `oid` a new transaction sees, by id.
fn visible_rows(e: &Engine, oid: u32) -> Vec<(i32, String)> {
    contents(e, &[oid]).remove(0)
}

#[test]
fn bulk_inserts_stay_invisible_until_commit_roll_back_to_savepoints_and_replay_exactly() {
    let (d, e) = boot("bulk");
    let oid = e.new_oid();
    let other = e.new_oid();
    let mut t = e.begin();
    for o in [oid, other] {
        e.catalog_change(
            &mut t,
            CatalogChange::CreateTable {
                db: 5,
                def: table_def(o),
            },
        )
        .unwrap();
    }
    e.commit(t, true).unwrap();

    let mut t = e.begin();
    let reader = e.begin();
    let text = |i: i32| format!("r{i}");
    e.insert_many(&mut t, 5, oid, (1..=600).map(|i| row(i, &text(i))))
        .unwrap();
    let sp = e.savepoint(&t);
    e.insert_many(&mut t, 5, oid, (601..=1000).map(|i| row(i, &text(i))))
        .unwrap();
    // A row of another table splits the run; a duplicate fails at its own index.
    e.insert(&mut t, 5, other, row(1, "x")).unwrap();
    let (at, err) = *e
        .insert_many(
            &mut t,
            5,
            oid,
            [row(5000, "a"), row(7, "dup"), row(5001, "b")],
        )
        .unwrap_err();
    assert_eq!((at, err.code), (1, sqlstate::UNIQUE_VIOLATION));
    e.rollback_to(&mut t, &sp);
    // The savepoint cut the run of 1..=1000 (and took the rest with it).
    assert_eq!(e.scan(&t, 5, oid).len(), 600);
    assert!(e.scan(&t, 5, other).is_empty());
    e.insert_many(&mut t, 5, oid, (2000..2100).map(|i| row(i, &text(i))))
        .unwrap();
    // Deleting a row of the run, then inserting more: redo must keep this order.
    let five = e.lookup_key(&t, 5, oid, &[Value::Int4(5)])[0].0;
    assert_eq!(e.delete(&mut t, 5, oid, five).unwrap(), RowOutcome::Done);
    e.insert_many(&mut t, 5, oid, [row(5, "five again")])
        .unwrap();
    // Others see nothing before the commit.
    assert!(e.scan(&reader, 5, oid).is_empty());
    e.commit(t, true).unwrap();
    assert!(e.scan(&reader, 5, oid).is_empty());
    e.abort(reader);

    let mut expected: Vec<(i32, String)> =
        (1..=600).chain(2000..2100).map(|i| (i, text(i))).collect();
    expected[4] = (5, "five again".into());
    expected.sort();
    assert_eq!(visible_rows(&e, oid), expected);

    // An aborted bulk insert leaves nothing, in memory or after a crash.
    let mut t = e.begin();
    e.insert_many(&mut t, 5, oid, (10_000..20_000).map(|i| row(i, "gone")))
        .unwrap();
    e.abort(t);
    assert_eq!(visible_rows(&e, oid), expected);
    // In progress at the crash: never committed.
    let mut t = e.begin();
    e.insert_many(&mut t, 5, oid, (30_000..31_000).map(|i| row(i, "lost")))
        .unwrap();
    drop(t);
    drop(e);

    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    assert_eq!(visible_rows(&e, oid), expected);
    assert!(visible_rows(&e, other).is_empty());
    // The committed rows went to the WAL as INSERT_ROWS records, not one a row.
    let mut reader = WalReader::new(&d.join("pg_wal"), 16 * 1024 * 1024, 1, Lsn(0x1000028));
    let (mut multi, mut single) = (0, 0);
    while let Some(rec) = reader.next_record().unwrap() {
        match (rec.rmid, rec.info) {
            (record::RM_TUSK_HEAP, record::INSERT_ROWS_INFO) => {
                let r = Record::decode(rec.rmid, rec.info, &rec.payload).unwrap();
                assert!(
                    r.describe().starts_with("INSERT_ROWS db 5 rel "),
                    "{}",
                    r.describe()
                );
                multi += 1;
            }
            (record::RM_TUSK_HEAP, 0x00) => single += 1,
            _ => {}
        }
    }
    // 1..=600 and 2000..2099 (one record each), the row of `other` rolled back, the
    // re-inserted 5 alone; the aborted and the unfinished transactions wrote nothing.
    assert_eq!((multi, single), (2, 1));
    e.shutdown().unwrap();
    drop(e);
    let e = Engine::open(&d, &EngineOptions::default()).unwrap();
    assert_eq!(visible_rows(&e, oid), expected);
    drop(e);
    let _ = std::fs::remove_dir_all(d);
}
