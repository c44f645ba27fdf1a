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
