//! The WAL is the database: roles, tables and rows that were acknowledged are all there
//! after `kill -9` and a restart; what was not committed is not.

use crate::common::*;

#[test]
fn acknowledged_work_survives_kill_9() {
    let mut s = Server::start_new("durable");
    s.psql("create role app login password 'apppw' createdb");
    s.psql("create table accounts (id bigint primary key, owner text not null, balance numeric(12,2), active boolean, opened timestamp, n int)");
    s.psql("insert into accounts values (1, 'ann', 100.50, true, '2024-01-02 03:04:05', 7), (2, 'bob', -3.25, false, null, null)");
    s.psql("update accounts set balance = balance + 1 where id = 1");
    s.psql("insert into accounts values (3, 'cy', 0, true, null, 3)");
    s.psql("delete from accounts where id = 3");
    s.psql("begin; insert into accounts values (4, 'dee', 4, true, null, 4); commit");
    // Left open and then lost in the crash: must not appear.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let open_tx = rt.block_on(async {
        let c = s.connect("postgres").await;
        c.batch_execute("begin; insert into accounts values (5, 'ghost', 5, true, null, 5)")
            .await
            .unwrap();
        c
    });
    s.crash();
    drop(open_tx);
    s.start();
    assert_eq!(
        s.psql("select id, owner, balance, active, opened, n from accounts order by id"),
        "1|ann|101.50|t|2024-01-02 03:04:05|7\n2|bob|-3.25|f||\n4|dee|4.00|t||4"
    );
    let ok = s.psql_as("app", "postgres", Some("apppw"), "select current_user");
    assert!(ok.status.success(), "{}", stderr(&ok));
    // And again after a clean shutdown (checkpoint) plus more WAL and another crash.
    s.stop();
    s.start();
    s.psql("insert into accounts values (6, 'eve', 6, true, null, 6)");
    s.crash();
    s.start();
    assert_eq!(s.psql("select count(*), sum(id) from accounts"), "4|13");
}

#[test]
fn rolled_back_work_is_gone() {
    let s = Server::start_new("rollback");
    s.psql("create table t (a int)");
    s.psql("begin; insert into t values (1); rollback");
    s.psql("insert into t values (2)");
    assert_eq!(s.psql("select a from t"), "2");
    let out = s.psql_as(
        "postgres",
        "postgres",
        None,
        "begin; insert into t values (3); select 1/0",
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("division by zero"));
    assert_eq!(s.psql("select count(*) from t"), "1");
}

#[test]
fn wal_writer_flushes_asynchronous_commits() {
    let mut s = Server::init("walwriter", &[]);
    s.append_conf("synchronous_commit = off\nwal_writer_delay = 100ms\n");
    s.start();
    s.psql("create table a (x int)");
    s.psql("insert into a values (1)");
    let lsn = s.psql("select pg_current_wal_insert_lsn()");
    let start = std::time::Instant::now();
    while s.psql(&format!(
        "select pg_current_wal_flush_lsn() >= '{lsn}'::pg_lsn"
    )) != "t"
    {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "WAL writer did not flush {lsn}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        s.psql(&format!("select pg_current_wal_lsn() >= '{lsn}'::pg_lsn")),
        "t"
    );
}

#[test]
fn concurrent_commits_share_fsyncs_in_pg_stat_wal() {
    let s = Server::start_new("groupcommit");
    s.psql("create table g (client int, n int)");
    let before = s.psql("select wal_records, wal_sync from pg_stat_wal");
    let (clients, per) = (16, 40);
    runtime().block_on(async {
        let mut tasks = Vec::new();
        for c in 0..clients {
            let client = s.connect("postgres").await;
            tasks.push(tokio::spawn(async move {
                let ins = client
                    .prepare("insert into g values ($1, $2)")
                    .await
                    .unwrap();
                for n in 0..per {
                    client.execute(&ins, &[&c, &n]).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let after = s.psql("select wal_records, wal_sync from pg_stat_wal");
    let parse = |t: &str| -> (i64, i64) {
        let (a, b) = t.split_once('|').unwrap();
        (a.parse().unwrap(), b.parse().unwrap())
    };
    let ((r0, s0), (r1, s1)) = (parse(&before), parse(&after));
    let commits = i64::from(clients * per);
    assert_eq!(s.psql("select count(*) from g"), commits.to_string());
    // Every commit writes at least its row and its commit record...
    assert!(r1 - r0 >= 2 * commits, "{before} -> {after}");
    // ...and was flushed before it was acknowledged, most of them sharing an fsync.
    assert!(s1 > s0, "{before} -> {after}");
    assert!(
        s1 - s0 < commits,
        "{} fsyncs for {commits} commits",
        s1 - s0
    );
}
