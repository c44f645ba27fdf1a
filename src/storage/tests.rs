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
    Engine::bootstrap(
        &d,
        &BootstrapOptions {
            superuser: "postgres".into(),
            password: None,
            password_encryption: "scram-sha-256".into(),
            wal_segment_size: 16 * 1024 * 1024,
        },
    )
    .unwrap();
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
            },
            ColumnDef {
                name: "v".into(),
                data_type: DataType::Text,
                typmod: -1,
                not_null: false,
                default: None,
            },
        ],
        primary_key: Some(vec![0]),
        pkey_name: "t_pkey".into(),
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
