//! Recovery conflicts on a hot standby, against the real `tusk` binary: a standby
//! transaction that read a table keeps it while the primary drops it — replay waits
//! `max_standby_streaming_delay` (2 s, then -1, then 0), then cancels the statement
//! (ERROR 40001) or ends the idle session (FATAL 40001) as PostgreSQL 15 does, and
//! the drop is replayed. A session between statements never holds anything; CREATE
//! INDEX and TRUNCATE do not conflict, ALTER TABLE ADD COLUMN and a LOCK TABLE do.
//!
//! Every wait is bounded; servers are killed and their directories removed on drop.

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::time::{Duration, Instant};

/// Starts a standby and waits (bounded) until it accepts read-only connections.
fn start_standby(s: &mut Server) {
    let before = s.log_text().matches("ready to accept read-only").count();
    spawn(s);
    wait_log(s, "ready to accept read-only connections", before + 1);
}

/// Sets `max_standby_streaming_delay` on the standby and reloads.
fn set_delay(s: &Server, value: &str) {
    s.append_conf(&format!("max_standby_streaming_delay = {value}\n"));
    s.psql("select pg_reload_conf()");
    wait_for(s, "show max_standby_streaming_delay", value);
}

/// Creates `big` on the primary and waits until the standby has it.
fn create_big(primary: &Server, standby: &Server) {
    primary.psql("create table big (id int primary key, v text)");
    primary.psql("insert into big select g, 'x' || g from generate_series(1, 1000) g");
    wait_for(standby, "select count(*) from big", "1000");
}

/// Whether the standby's catalog still has `big`.
fn standby_has_big(standby: &Server) -> bool {
    standby.psql("select count(*) from pg_class where relname = 'big'") == "1"
}

/// Waits until the standby received everything the primary wrote so far.
fn wait_received(primary: &Server, standby: &Server) {
    let lsn = primary.psql("select pg_current_wal_lsn()");
    wait_for(
        standby,
        &format!("select pg_last_wal_receive_lsn() >= '{lsn}'"),
        "t",
    );
}

#[test]
fn replay_waits_for_standby_transactions_then_cancels_them() {
    let mut primary = Server::init("cf-p", &["--wal-segsize=1"]);
    primary.append_conf("wal_level = replica\n");
    primary.start();
    primary.stop();
    let mut standby = make_standby(
        &primary,
        "cf-s",
        &format!(
            "primary_conninfo = 'host=127.0.0.1 port={} user=postgres'\nwal_retrieve_retry_interval = 200ms\nmax_standby_streaming_delay = 2s\n",
            primary.port
        ),
    );
    primary.start();
    start_standby(&mut standby);
    let rt = runtime();

    // 1. Idle in a REPEATABLE READ transaction: replay waits about 2 s (the table is
    //    still readable, the replay LSN lags), then ends the session with FATAL.
    create_big(&primary, &standby);
    rt.block_on(async {
        let s = standby.connect("postgres").await;
        s.batch_execute("begin isolation level repeatable read")
            .await
            .unwrap();
        let n: i64 = s
            .query_one("select count(*) from big", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 1000);
        let dropped = Instant::now();
        primary.psql("drop table big");
        wait_received(&primary, &standby);
        assert_eq!(
            standby.psql("select pg_last_wal_replay_lsn() < pg_last_wal_receive_lsn()"),
            "t",
            "replay should wait for the standby transaction"
        );
        let n: i64 = s
            .query_one("select count(*) from big", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 1000, "the transaction still reads its table");
        assert!(standby_has_big(&standby));
        wait_until("the drop to be replayed", || !standby_has_big(&standby));
        let waited = dropped.elapsed();
        assert!(
            waited >= Duration::from_millis(1800),
            "replayed after {waited:?}"
        );
        assert!(
            waited < Duration::from_secs(10),
            "replayed after {waited:?}"
        );
        let e = s.simple_query("select 1").await;
        assert!(e.is_err(), "the session should have been terminated");
        assert!(s.is_closed());
    });
    let log = standby.log_text();
    assert!(
        log.contains("FATAL:  terminating connection due to conflict with recovery"),
        "{log}"
    );
    assert!(log.contains("DETAIL:  User was holding a relation lock for too long."));
    assert!(log.contains(
        "HINT:  In a moment you should be able to reconnect to the database and repeat your command."
    ));
    wait_for(
        &standby,
        "select pg_last_wal_replay_lsn() = pg_last_wal_receive_lsn()",
        "t",
    );

    // 2. A statement running when the delay ends is cancelled with ERROR 40001; the
    //    session survives.
    create_big(&primary, &standby);
    rt.block_on(async {
        let s = standby.connect("postgres").await;
        s.batch_execute("begin isolation level repeatable read; select count(*) from big")
            .await
            .unwrap();
        let started = Instant::now();
        let sleeper = {
            let s = s;
            tokio::spawn(async move {
                let r = s.simple_query("select pg_sleep(30)").await;
                (s, r)
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        primary.psql("drop table big");
        let (s, r) = tokio::time::timeout(Duration::from_secs(20), sleeper)
            .await
            .expect("the statement should be cancelled")
            .unwrap();
        let e = r.expect_err("pg_sleep should be cancelled");
        let db = e.as_db_error().expect("an ErrorResponse");
        assert_eq!(db.code().code(), "40001");
        assert_eq!(db.severity(), "ERROR");
        assert_eq!(
            db.message(),
            "canceling statement due to conflict with recovery"
        );
        assert_eq!(
            db.detail(),
            Some("User was holding a relation lock for too long.")
        );
        assert!(started.elapsed() >= Duration::from_millis(1800));
        s.batch_execute("rollback").await.unwrap();
        let one: i32 = s.query_one("select 1", &[]).await.unwrap().get(0);
        assert_eq!(one, 1);
        wait_until("the drop to be replayed", || !standby_has_big(&standby));
        let e = s
            .simple_query("select count(*) from big")
            .await
            .unwrap_err();
        assert_eq!(
            e.as_db_error().unwrap().message(),
            "relation \"big\" does not exist"
        );
    });

    // 3. -1: replay waits as long as the transaction lasts, and goes on at its commit.
    set_delay(&standby, "-1");
    create_big(&primary, &standby);
    rt.block_on(async {
        let s = standby.connect("postgres").await;
        s.batch_execute("begin isolation level repeatable read; select count(*) from big")
            .await
            .unwrap();
        primary.psql("drop table big");
        wait_received(&primary, &standby);
        std::thread::sleep(Duration::from_secs(3));
        assert!(standby_has_big(&standby), "replay should still wait");
        let n: i64 = s
            .query_one("select count(*) from big", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 1000);
        s.batch_execute("commit").await.unwrap();
        let committed = Instant::now();
        wait_until("the drop to be replayed", || !standby_has_big(&standby));
        assert!(committed.elapsed() < Duration::from_secs(5));
    });

    // 4. Sessions between statements (READ COMMITTED, no transaction open) hold
    //    nothing: replay does not wait for them, even with -1.
    create_big(&primary, &standby);
    rt.block_on(async {
        let s = standby.connect("postgres").await;
        let n: i64 = s
            .query_one("select count(*) from big", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 1000);
        let dropped = Instant::now();
        primary.psql("drop table big");
        wait_until("the drop to be replayed", || !standby_has_big(&standby));
        assert!(dropped.elapsed() < Duration::from_secs(5));
        let one: i32 = s.query_one("select 1", &[]).await.unwrap().get(0);
        assert_eq!(one, 1);
    });

    // 5. 0: the conflict is resolved at once.
    set_delay(&standby, "0");
    create_big(&primary, &standby);
    rt.block_on(async {
        let s = standby.connect("postgres").await;
        s.batch_execute("begin isolation level repeatable read; select count(*) from big")
            .await
            .unwrap();
        let dropped = Instant::now();
        primary.psql("drop table big");
        wait_until("the drop to be replayed", || !standby_has_big(&standby));
        assert!(dropped.elapsed() < Duration::from_millis(1500));
        assert!(s.simple_query("select 1").await.is_err());
    });

    // 6. Still with 0: CREATE INDEX (a weaker lock in PostgreSQL) and TRUNCATE (an
    //    MVCC delete in tusk, which the snapshot still sees past) do not conflict; an
    //    ALTER TABLE that changes the table's definition does.
    create_big(&primary, &standby);
    rt.block_on(async {
        let s = standby.connect("postgres").await;
        s.batch_execute("begin isolation level repeatable read; select count(*) from big")
            .await
            .unwrap();
        primary.psql("create index big_v on big (v)");
        primary.psql("truncate big");
        wait_received(&primary, &standby);
        wait_for(&standby, "select count(*) from big", "0");
        let n: i64 = s.query_one("select count(*) from big", &[]).await.unwrap().get(0);
        assert_eq!(n, 1000, "the snapshot still sees the truncated rows");
        primary.psql("alter table big add column w int");
        wait_for(
            &standby,
            "select count(*) from information_schema.columns where table_name = 'big' and column_name = 'w'",
            "1",
        );
        assert!(s.simple_query("select 1").await.is_err());
    });
    primary.psql("drop table big");
    wait_until("the drop to be replayed", || !standby_has_big(&standby));

    // 7. Still with 0: LOCK TABLE … IN ACCESS SHARE MODE holds the table without
    //    reading it.
    create_big(&primary, &standby);
    rt.block_on(async {
        let s = standby.connect("postgres").await;
        s.batch_execute("begin; lock table big in access share mode")
            .await
            .unwrap();
        primary.psql("drop table big");
        wait_until("the drop to be replayed", || !standby_has_big(&standby));
        assert!(s.simple_query("select 1").await.is_err());
    });

    // Five conflicts were counted (1., 2., 5., 6. and 7.).
    wait_for(
        &standby,
        "select conflicts from pg_stat_database where datname = 'postgres'",
        "5",
    );
    wait_for(
        &standby,
        "select confl_lock, confl_snapshot from pg_stat_database_conflicts where datname = 'postgres'",
        "5|0",
    );
    standby.stop();
    primary.stop();
}
