//! Online checkpoints: commits go on during CHECKPOINT and survive a crash right after;
//! old WAL segments go after checkpoints but `wal_keep_size` is honoured; `max_wal_size`
//! triggers checkpoints by itself (logged as PostgreSQL logs them); VACUUM runs; the
//! pg_control functions agree with stock pg_controldata.

use crate::common::*;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn segments(s: &Server) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(s.datadir().join("pg_wal"))
        .unwrap()
        .flatten()
        .filter_map(|f| f.file_name().to_str().map(|n| n.to_string()))
        .filter(|n| n.len() == 24 && n.chars().all(|c| c.is_ascii_hexdigit()))
        .collect();
    v.sort();
    v
}

fn segno(name: &str) -> u64 {
    // 1 MiB segments: 4096 per xlog id.
    let hi = u64::from_str_radix(&name[8..16], 16).unwrap();
    let lo = u64::from_str_radix(&name[16..24], 16).unwrap();
    hi * 4096 + lo
}

#[test]
fn commits_during_checkpoints_survive_a_crash() {
    let mut s = Server::start_new("ckpt-online");
    s.psql("create table t (w int, i int, primary key (w, i))");
    let rt = runtime();
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Vec<Arc<AtomicI64>> = (0..3).map(|_| Arc::new(AtomicI64::new(0))).collect();
    let mut tasks = Vec::new();
    for (w, count) in acked.iter().enumerate() {
        let conninfo = s.conninfo("postgres");
        let stop = stop.clone();
        let count = count.clone();
        tasks.push(rt.spawn(async move {
            let (c, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            let mut i = 0i64;
            while !stop.load(Ordering::SeqCst) {
                if c.batch_execute(&format!("insert into t values ({w}, {})", i + 1))
                    .await
                    .is_err()
                {
                    break; // the server went away
                }
                i += 1;
                count.store(i, Ordering::SeqCst);
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..3 {
        let before: i64 = acked.iter().map(|a| a.load(Ordering::SeqCst)).sum();
        s.psql("checkpoint");
        std::thread::sleep(Duration::from_millis(100));
        let after: i64 = acked.iter().map(|a| a.load(Ordering::SeqCst)).sum();
        assert!(after > before, "writers stalled around a checkpoint");
    }
    // Crash while the writers are still committing.
    s.crash();
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        let _ = rt.block_on(t);
    }
    s.start();
    for (w, count) in acked.iter().enumerate() {
        let n = count.load(Ordering::SeqCst);
        let got: i64 = s
            .psql(&format!("select count(*) from t where w = {w}"))
            .parse()
            .unwrap();
        // Every acknowledged insert is there; at most the one in flight besides.
        assert!(
            got == n || got == n + 1,
            "writer {w}: {got} rows, {n} acknowledged"
        );
        let max: i64 = s
            .psql(&format!("select coalesce(max(i), 0) from t where w = {w}"))
            .parse()
            .unwrap();
        assert_eq!(max, got, "writer {w}: rows are not 1..{got}");
    }
    assert!(s.log_text().contains("redo starts at"), "{}", s.log_text());
}

#[test]
fn old_segments_go_but_wal_keep_size_is_kept() {
    let mut s = Server::init("ckpt-recycle", &["--wal-segsize", "1"]);
    s.append_conf("wal_keep_size = 3MB\nmax_wal_size = 1GB\n");
    s.start();
    s.psql("create table big (id int primary key, pad text)");
    for k in 0..4 {
        s.psql(&format!(
            "insert into big select g, repeat('x', 1000) from generate_series({}, {}) g",
            k * 2000 + 1,
            (k + 1) * 2000
        ));
    }
    let before = segments(&s);
    assert!(before.len() >= 7, "not enough WAL written: {before:?}");
    assert!(segno(&before[0]) <= 1);
    s.psql("checkpoint");
    let after = segments(&s);
    let newest = segno(after.last().unwrap());
    let oldest = segno(&after[0]);
    assert!(oldest > 1, "nothing removed: {after:?}");
    // The current segment and 3 MB (3 segments) behind it are kept.
    assert!(
        newest - oldest >= 3,
        "wal_keep_size not honoured: {after:?}"
    );
    assert!(
        s.log_text()
            .contains("checkpoint starting: immediate force wait"),
        "{}",
        s.log_text()
    );
    assert!(s.log_text().contains("checkpoint complete: "));
    // Still recoverable from what is left.
    s.crash();
    s.start();
    assert_eq!(s.psql("select count(*) from big"), "8000");
}

#[test]
fn max_wal_size_triggers_a_checkpoint_by_itself() {
    let mut s = Server::init("ckpt-walsize", &["--wal-segsize", "1"]);
    s.append_conf("max_wal_size = 2MB\nmin_wal_size = 2MB\n");
    s.start();
    s.psql("create table big (id int primary key, pad text)");
    s.psql("insert into big select g, repeat('y', 1000) from generate_series(1, 3000) g");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !s.log_text().contains("checkpoint starting: wal") {
        assert!(
            std::time::Instant::now() < deadline,
            "no WAL-triggered checkpoint; log:\n{}",
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let redo = s.psql("select redo_lsn from pg_control_checkpoint()");
    assert_ne!(redo, "0/0");
}

#[test]
fn vacuum_and_pg_control_functions() {
    let s = Server::start_new("ckpt-control");
    s.psql("create table v (id int primary key, x int)");
    s.psql("insert into v select g, g from generate_series(1, 100) g");
    s.psql("delete from v where id <= 60");
    assert_eq!(s.psql("vacuum v"), "VACUUM");
    assert_eq!(s.psql("vacuum"), "VACUUM");
    assert_eq!(s.psql("select count(*), sum(x) from v"), "40|3220");

    let before = s.psql("select checkpoint_lsn from pg_control_checkpoint()");
    s.psql("checkpoint");
    let row = s.psql(
        "select checkpoint_lsn, redo_lsn <= checkpoint_lsn, timeline_id, full_page_writes, \
         next_xid, redo_wal_file from pg_control_checkpoint()",
    );
    let f: Vec<&str> = row.split('|').collect();
    assert_ne!(f[0], before, "CHECKPOINT did not move checkpoint_lsn");
    assert_eq!(&f[1..4], &["t", "1", "t"], "{row}");
    assert!(f[4].starts_with("0:"), "{row}");
    assert_eq!(f[5].len(), 24, "{row}");
    // Column names and types as PostgreSQL 15.
    let out = s.psql(
        "select pg_typeof(checkpoint_lsn), pg_typeof(next_oid), pg_typeof(checkpoint_time) \
         from pg_control_checkpoint()",
    );
    assert_eq!(out, "pg_lsn|oid|timestamp with time zone");
    let sys = s.psql(
        "select pg_control_version, catalog_version_no, system_identifier \
         from pg_control_system()",
    );
    assert!(sys.starts_with("1300|202209061|"), "{sys}");
    let sysid = sys.rsplit('|').next().unwrap().to_string();
    // Stock pg_controldata agrees.
    let out = run_with_timeout(
        std::process::Command::new(pg_bin("pg_controldata")).arg(s.datadir()),
        Duration::from_secs(30),
    );
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.starts_with("Database system identifier:") && l.ends_with(&sysid)),
        "{text}"
    );
    let ckpt = f[0];
    assert!(
        text.lines()
            .any(|l| l.starts_with("Latest checkpoint location:") && l.ends_with(ckpt)),
        "{text}"
    );
    let a: i64 = s.psql("select txid_current()").parse().unwrap();
    let b: i64 = s.psql("select txid_current()").parse().unwrap();
    assert!(b > a && a > 700, "{a} {b}");
}
