//! Two sessions: READ COMMITTED follows a concurrent committed update; REPEATABLE READ
//! keeps its snapshot and fails with 40001 where PostgreSQL does.

use crate::common::*;

#[test]
fn read_committed_and_repeatable_read_between_sessions() {
    let s = Server::start_new("isolation");
    s.psql("create table acct (id int primary key, bal int); insert into acct values (1, 100)");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let a = s.connect("postgres").await;
        let b = s.connect("postgres").await;
        let bal = |rows: Vec<tokio_postgres::SimpleQueryMessage>| -> String {
            rows.into_iter()
                .find_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => {
                        Some(r.get(0).unwrap().to_string())
                    }
                    _ => None,
                })
                .unwrap()
        };

        // REPEATABLE READ: the snapshot is the first statement's.
        a.batch_execute("begin isolation level repeatable read")
            .await
            .unwrap();
        assert_eq!(
            bal(a
                .simple_query("select bal from acct where id = 1")
                .await
                .unwrap()),
            "100"
        );
        b.batch_execute("update acct set bal = bal + 1 where id = 1")
            .await
            .unwrap();
        assert_eq!(
            bal(a
                .simple_query("select bal from acct where id = 1")
                .await
                .unwrap()),
            "100"
        );
        let e = a
            .batch_execute("update acct set bal = bal + 10 where id = 1")
            .await
            .unwrap_err();
        assert_eq!(e.code().unwrap().code(), "40001", "{e}");
        assert_eq!(
            e.as_db_error().unwrap().message(),
            "could not serialize access due to concurrent update"
        );
        a.batch_execute("rollback").await.unwrap();

        // READ COMMITTED: each statement sees the latest commits; the update applies on top.
        a.batch_execute("begin").await.unwrap();
        assert_eq!(
            bal(a
                .simple_query("select bal from acct where id = 1")
                .await
                .unwrap()),
            "101"
        );
        b.batch_execute("update acct set bal = bal + 1 where id = 1")
            .await
            .unwrap();
        assert_eq!(
            bal(a
                .simple_query("select bal from acct where id = 1")
                .await
                .unwrap()),
            "102"
        );
        a.batch_execute("update acct set bal = bal + 10 where id = 1; commit")
            .await
            .unwrap();
        assert_eq!(
            bal(b
                .simple_query("select bal from acct where id = 1")
                .await
                .unwrap()),
            "112"
        );
    });
}

#[test]
fn deadlock_and_lock_timeout() {
    let s = Server::start_new("deadlock");
    s.psql("create table d (id int primary key, v int); insert into d values (1, 0), (2, 0)");
    let rt = runtime();
    rt.block_on(async {
        let a = s.connect("postgres").await;
        let b = s.connect("postgres").await;
        a.batch_execute("begin; update d set v = 1 where id = 1")
            .await
            .unwrap();
        b.batch_execute("begin; update d set v = 2 where id = 2")
            .await
            .unwrap();
        // a waits for b...
        let a_wait = tokio::spawn(async move {
            let r = a.batch_execute("update d set v = 1 where id = 2").await;
            (a, r)
        });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        // ...and b waiting for a closes the cycle: one of them gets 40P01.
        let rb = b.batch_execute("update d set v = 2 where id = 1").await;
        let (a, ra) = tokio::time::timeout(std::time::Duration::from_secs(20), a_wait)
            .await
            .unwrap()
            .unwrap();
        let codes: Vec<String> = [&ra, &rb]
            .iter()
            .filter_map(|r| {
                r.as_ref()
                    .err()
                    .and_then(|e| e.code())
                    .map(|c| c.code().to_string())
            })
            .collect();
        assert_eq!(codes, vec!["40P01".to_string()], "a: {ra:?} b: {rb:?}");
        a.batch_execute("rollback").await.unwrap();
        b.batch_execute("rollback").await.unwrap();

        // lock_timeout ends a wait with 55P03.
        a.batch_execute("begin; update d set v = 5 where id = 1")
            .await
            .unwrap();
        let e = b
            .batch_execute("set lock_timeout = '200ms'; update d set v = 6 where id = 1")
            .await
            .unwrap_err();
        assert_eq!(e.code().unwrap().code(), "55P03", "{e}");
        a.batch_execute("commit").await.unwrap();
    });
}

#[test]
fn select_for_update_and_share() {
    let s = Server::start_new("rowlocks");
    s.psql("create table q (id int primary key, state text); insert into q values (1, 'new'), (2, 'new')");
    let rt = runtime();
    rt.block_on(async {
        let a = s.connect("postgres").await;
        let b = s.connect("postgres").await;
        a.batch_execute("begin").await.unwrap();
        let rows = a.query("select id from q where id = 1 for update", &[]).await.unwrap();
        assert_eq!(rows.len(), 1);
        // NOWAIT fails at once; SKIP LOCKED leaves the row out.
        b.batch_execute("begin").await.unwrap();
        let e = b.query("select id from q where id = 1 for update nowait", &[]).await.unwrap_err();
        assert_eq!(e.code().unwrap().code(), "55P03", "{e}");
        b.batch_execute("rollback; begin").await.unwrap();
        let ids: Vec<i32> =
            b.query("select id from q order by id for update skip locked", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
        assert_eq!(ids, vec![2]);
        b.batch_execute("rollback").await.unwrap();
        // A plain FOR UPDATE waits until the holder commits, then sees its update.
        let waiter = tokio::spawn(async move {
            b.batch_execute("begin").await.unwrap();
            let r = b.query("select state from q where id = 1 for update", &[]).await.unwrap();
            let state: String = r[0].get(0);
            b.batch_execute("commit").await.unwrap();
            state
        });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!waiter.is_finished(), "FOR UPDATE must wait for the holder");
        a.batch_execute("update q set state = 'taken' where id = 1; commit").await.unwrap();
        let seen = tokio::time::timeout(std::time::Duration::from_secs(20), waiter).await.unwrap().unwrap();
        assert_eq!(seen, "taken");
        // FOR SHARE locks share with each other but block writers.
        let c = s.connect("postgres").await;
        a.batch_execute("begin; select * from q where id = 2 for share").await.unwrap();
        c.batch_execute("begin; select * from q where id = 2 for share").await.unwrap();
        let e = c.batch_execute("set lock_timeout = '200ms'; update q set state = 'x' where id = 1; select * from q where id = 2 for update").await.unwrap_err();
        assert_eq!(e.code().unwrap().code(), "55P03", "{e}");
        c.batch_execute("rollback").await.unwrap();
        a.batch_execute("commit").await.unwrap();
    });
}
