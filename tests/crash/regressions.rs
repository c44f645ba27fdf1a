//! Behaviours where tusk differed from PostgreSQL 15, found by this suite and since
//! fixed. Each test asserts PostgreSQL's behaviour so that they stay fixed.

use crate::common::*;
use std::time::{Duration, Instant};

/// With `synchronous_commit = off`, PostgreSQL's WAL writer writes the WAL out every
/// `wal_writer_delay` (200ms), so a commit acknowledged seconds before a SIGKILL
/// survives it (the OS still has the bytes). tusk once kept asynchronous commits in its
/// WAL buffer until something else flushed; its WAL writer now flushes them.
#[test]
fn asynchronous_commit_is_written_within_wal_writer_delay() {
    let mut s = Server::init("asyncloss", &[]);
    s.append_conf("synchronous_commit = off\n");
    s.try_start()
        .unwrap_or_else(|e| panic!("start: {e}\n{}", s.log_text()));
    s.psql("set synchronous_commit = on; create table t (a int)");
    s.psql("insert into t values (1)");
    std::thread::sleep(Duration::from_secs(2));
    s.crash();
    s.try_start()
        .unwrap_or_else(|e| panic!("restart: {e}\n{}", s.log_text()));
    assert_eq!(s.psql("select count(*) from t"), "1");
}

/// Two transactions that each wait for a row lock the other holds: PostgreSQL cancels
/// one with 40P01 "deadlock detected" after `deadlock_timeout` (1s). tusk waits forever
/// (or until `statement_timeout`).
#[test]
fn lock_cycle_is_broken_with_40p01() {
    let mut s = Server::init("deadlock", &[]);
    s.try_start()
        .unwrap_or_else(|e| panic!("start: {e}\n{}", s.log_text()));
    s.psql("create table a (id int primary key, b bigint); insert into a values (1, 0), (2, 0)");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let conninfo = s.conninfo("postgres");
    let started = Instant::now();
    let results: Vec<Option<String>> = rt.block_on(async {
        let mut hs = Vec::new();
        for (first, second) in [(1, 2), (2, 1)] {
            let conninfo = conninfo.clone();
            hs.push(tokio::spawn(async move {
                let (c, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                c.batch_execute("set statement_timeout = '10s'")
                    .await
                    .unwrap();
                let r = c
                    .batch_execute(&format!(
                        "begin; update a set b = b + 1 where id = {first}; select pg_sleep(0.5); \
                         update a set b = b + 1 where id = {second}; commit"
                    ))
                    .await;
                r.err()
                    .and_then(|e| e.as_db_error().map(|d| d.code().code().to_string()))
            }));
        }
        let mut out = Vec::new();
        for h in hs {
            out.push(h.await.unwrap());
        }
        out
    });
    assert!(
        results.contains(&Some("40P01".to_string())),
        "no deadlock detected after {:?}: {results:?}",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// PostgreSQL removes or recycles (renames forward) every segment older than the new
/// REDO position's segment at each checkpoint (with `wal_keep_size = 0` and no slots),
/// so `pg_wal/` stays bounded by `max_wal_size`. (An early tusk never removed them:
/// `pg_wal/` grew without bound.) Recycled files carry future segment names, so none
/// may remain below the current segment.
#[test]
fn checkpoint_removes_segments_before_redo() {
    let mut s = Server::init("walremove", &["--wal-segsize=1"]);
    s.try_start()
        .unwrap_or_else(|e| panic!("start: {e}\n{}", s.log_text()));
    s.psql("create table t (a int, v text)");
    for _ in 0..4 {
        s.psql("insert into t select g, repeat('x', 1000) from generate_series(1, 1000) g");
    }
    s.psql("checkpoint");
    s.psql("checkpoint");
    let redo = s.psql("select pg_current_wal_lsn()");
    let (hi, lo) = redo.split_once('/').unwrap();
    let lsn = (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap();
    let current = format!("{:08X}{:08X}{:08X}", 1, lsn >> 32, (lsn >> 20) & 0xFFF);
    let mut old: Vec<String> = std::fs::read_dir(s.datadir().join("pg_wal"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.len() == 24 && *n < current)
        .collect();
    old.sort();
    assert!(
        old.is_empty(),
        "segments before the checkpoint's {current} remain: {old:?}"
    );
}

/// Indexes on expressions and partial indexes keep their keys in hidden columns of the
/// rows, so a crash loses none of them: after a SIGKILL, redo rebuilds the indexes from
/// the replayed rows and they still refuse duplicates and answer lookups.
#[test]
fn expression_and_partial_indexes_survive_kill_9() {
    let mut s = Server::start_new("exprindex");
    s.psql(
        "create table u (id int primary key, email text, nick text, gone boolean); \
         insert into u values (1, 'Ann@x', 'a', false), (2, 'bob@x', 'b', true); \
         create unique index u_email on u (lower(email)); \
         create unique index u_live on u (nick) where not gone; \
         insert into u values (3, 'carl@x', 'c', false), (4, 'dan@x', 'b', false)",
    );
    s.crash();
    s.try_start()
        .unwrap_or_else(|e| panic!("restart: {e}\n{}", s.log_text()));
    let fails = |sql: &str, index: &str| {
        let e = stderr(&s.psql_as("postgres", "postgres", None, sql));
        assert!(
            e.contains(&format!(
                "duplicate key value violates unique constraint \"{index}\""
            )),
            "{sql}: {e}"
        );
    };
    fails("insert into u values (5, 'ANN@x', 'e', false)", "u_email");
    fails("insert into u values (5, 'eve@x', 'b', false)", "u_live");
    fails("update u set gone = false where id = 2", "u_live");
    s.psql("insert into u values (5, 'eve@x', 'b', true)");
    assert_eq!(
        s.psql("select id from u where lower(email) = 'carl@x'"),
        "3"
    );
    assert_eq!(
        s.psql("select id from u where nick = 'b' and not gone"),
        "4"
    );
    assert_eq!(s.psql("select count(*) from u where nick = 'b'"), "3");
}
