//! `pg_stat_activity` over real connections: every client session is a row with its
//! state (`idle`, `active`, `idle in transaction`), query, application name and TCP
//! address; a session that ends leaves the view; another role sees a superuser's
//! session only as `<insufficient privilege>`; `pg_stat_database.numbackends` and
//! `pg_locks` follow the same sessions.
//!
//! Every wait is bounded; the server is killed and its directory removed on drop.

#[path = "common/mod.rs"]
mod common;

use common::*;

#[test]
fn sessions_are_listed_with_their_state_and_leave_when_they_end() {
    let s = Server::start_new("stat-activity");
    s.psql("create table stat_t (a int); create role stat_watch login");
    let rt = runtime();
    rt.block_on(async {
        let a = s.connect("postgres").await;
        let b = s.connect("postgres").await;
        a.batch_execute("set application_name = 'stat_a'")
            .await
            .unwrap();
        let b_pid: i32 = b
            .query_one("select pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0);
        b.batch_execute("begin; insert into stat_t values (1)")
            .await
            .unwrap();

        // b, seen from a: idle in its transaction, its last query, a TCP client.
        let row = a
            .query_one(
                "select state, query, client_addr, client_port > 0, xact_start is not null, \
                 backend_type from pg_stat_activity where pid = $1",
                &[&b_pid],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), "idle in transaction");
        assert_eq!(
            row.get::<_, String>(1),
            "begin; insert into stat_t values (1)"
        );
        assert_eq!(row.get::<_, String>(2), "127.0.0.1");
        assert!(row.get::<_, bool>(3));
        assert!(row.get::<_, bool>(4));
        assert_eq!(row.get::<_, String>(5), "client backend");

        // a, seen from itself: active, with its application name.
        let row = a
            .query_one(
                "select state, application_name from pg_stat_activity \
                 where pid = pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), "active");
        assert_eq!(row.get::<_, String>(1), "stat_a");

        // b's transaction holds its transaction id lock.
        let locks: i64 = a
            .query_one(
                "select count(*) from pg_locks where pid = $1 and locktype = 'transactionid'",
                &[&b_pid],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(locks, 1);
        let backends: i32 = a
            .query_one(
                "select numbackends from pg_stat_database where datname = 'postgres'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(backends >= 2, "numbackends {backends}");

        // Another role sees who, not what.
        let shown = s.psql_as(
            "stat_watch",
            "postgres",
            None,
            &format!(
                "select usename, query, state is null from pg_stat_activity where pid = {b_pid}"
            ),
        );
        assert_eq!(stdout(&shown).trim(), "postgres|<insufficient privilege>|t");

        b.batch_execute("commit").await.unwrap();
        let state: String = a
            .query_one(
                "select state from pg_stat_activity where pid = $1",
                &[&b_pid],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(state, "idle");
        drop(b);
    });
    drop(rt);
    wait_until("the ended session to leave pg_stat_activity", || {
        s.psql("select count(*) from pg_stat_activity where application_name = 'stat_a' or state = 'idle in transaction'") == "0"
    });
}

/// `pg_stat_database.xact_commit` / `xact_rollback` count each database's transactions
/// (what monitoring turns into transactions per second).
#[test]
fn pg_stat_database_counts_commits_and_rollbacks_per_database() {
    let mut s = Server::start_new("stat-db");
    s.psql("create database other");
    let counts = |s: &Server| {
        s.psql(
            "select datname, xact_commit, xact_rollback from pg_stat_database \
             where datname in ('postgres', 'other') order by datname",
        )
    };
    let parse = |t: String| -> Vec<(String, i64, i64)> {
        t.lines()
            .map(|l| {
                let f: Vec<&str> = l.split('|').collect();
                (
                    f[0].to_string(),
                    f[1].parse().unwrap(),
                    f[2].parse().unwrap(),
                )
            })
            .collect()
    };
    let before = parse(counts(&s));
    for sql in [
        "create table t (a int)",
        "insert into t values (1)",
        "begin; insert into t values (2); rollback",
    ] {
        let out = s.psql_as("postgres", "other", None, sql);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let after = parse(counts(&s));
    let (o_before, o_after) = (&before[0], &after[0]);
    assert_eq!(o_before.0, "other");
    assert!(o_after.1 >= o_before.1 + 2, "{before:?} {after:?}");
    assert_eq!(o_after.2, o_before.2 + 1, "{before:?} {after:?}");
    // The other database's queries counted in postgres only.
    assert!(after[1].1 > before[1].1, "{before:?} {after:?}");
    assert_eq!(after[1].2, before[1].2, "{before:?} {after:?}");
    s.stop();
}
