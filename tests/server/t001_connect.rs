//! A new user's first steps: connect with psql over TCP and the Unix socket, see the
//! PostgreSQL 15 identity, use the extended protocol from tokio-postgres, cancel a query.

use crate::common::*;
use std::time::Duration;

#[test]
fn psql_connects_over_tcp_and_unix_socket() {
    let s = Server::start_new("connect");
    assert!(s.psql("select version()").starts_with("PostgreSQL 15"));
    assert_eq!(s.psql("select 1 + 1"), "2");
    let out = run_with_timeout(
        std::process::Command::new(pg_bin("psql"))
            .args(["-X", "-A", "-t", "-w", "-h"])
            .arg(s.socket_dir())
            .arg("-p")
            .arg(s.port.to_string())
            .args(["-U", "postgres", "-c", "select current_user"]),
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "postgres");
    assert_eq!(
        s.psql("show server_version"),
        format!("15.0 (tusk {})", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(s.psql("select pg_is_in_recovery()"), "f");
    let lsn = s.psql("select pg_current_wal_lsn()");
    assert!(lsn.contains('/'), "{lsn}");
}

#[test]
fn tokio_postgres_extended_protocol_and_parameter_status() {
    let s = Server::start_new("tokio");
    runtime().block_on(async {
        let client = s.connect("postgres").await;
        client
            .batch_execute("create table kv (k int primary key, v text)")
            .await
            .unwrap();
        let stmt = client
            .prepare("insert into kv values ($1, $2)")
            .await
            .unwrap();
        for i in 0..5 {
            client
                .execute(&stmt, &[&i, &format!("v{i}")])
                .await
                .unwrap();
        }
        let rows = client
            .query("select k, v from kv where k >= $1 order by k", &[&2i32])
            .await
            .unwrap();
        let got: Vec<(i32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(
            got,
            vec![(2, "v2".into()), (3, "v3".into()), (4, "v4".into())]
        );
        let err = client.query("select * from nosuch", &[]).await.unwrap_err();
        assert_eq!(err.code().unwrap().code(), "42P01");
        // The connection survives the error.
        let row = client
            .query_one("select count(*) from kv", &[])
            .await
            .unwrap();
        assert_eq!(row.get::<_, i64>(0), 5);
    });
}

#[test]
fn cancel_request_stops_a_running_statement() {
    let s = Server::start_new("cancel");
    runtime().block_on(async {
        let client = s.connect("postgres").await;
        let token = client.cancel_token();
        let canceller = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            token.cancel_query(tokio_postgres::NoTls).await.unwrap();
        });
        let started = std::time::Instant::now();
        let err = client
            .simple_query("select pg_sleep(20)")
            .await
            .unwrap_err();
        canceller.await.unwrap();
        assert_eq!(err.code().unwrap().code(), "57014", "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(
            client
                .query_one("select 7", &[])
                .await
                .unwrap()
                .get::<_, i32>(0),
            7
        );
    });
}

#[test]
fn copy_from_stdin_through_psql() {
    let s = Server::start_new("copy");
    s.psql("create table c (a int primary key, b text)");
    let dir = s.dir.path().join("rows.tsv");
    std::fs::write(&dir, "1\tone\n2\ttwo\n3\t\\N\n").unwrap();
    assert_eq!(
        s.psql(&format!("\\copy c from '{}'", dir.display())),
        "COPY 3"
    );
    assert_eq!(
        s.psql("select a, coalesce(b, 'null') from c order by a"),
        "1|one\n2|two\n3|null"
    );
    // A bad row fails the whole COPY and the session goes on.
    std::fs::write(&dir, "4\tfour\nnot-a-number\tx\n").unwrap();
    let out = s.psql_as(
        "postgres",
        "postgres",
        None,
        &format!("\\copy c from '{}'", dir.display()),
    );
    assert!(
        stderr(&out).contains("invalid input syntax for type integer"),
        "{}",
        stderr(&out)
    );
    assert_eq!(s.psql("select count(*) from c"), "3");
}

/// A connection idle past the trim period (server::idle_trim gives its stack and
/// allocator cache back) serves on as before: a deep expression reaches the released
/// stack pages again, a statement larger than the 8 kB read buffer goes past it, and a
/// statement longer than the sweeper's period does not end the connection.
#[test]
fn an_idle_connection_serves_on_after_its_memory_is_trimmed() {
    let s = Server::start_new("trim");
    runtime().block_on(async {
        let client = s.connect("postgres").await;
        let deep = format!("select {}1{}", "(".repeat(40), ")".repeat(40));
        let long = format!("select length('{}')", "x".repeat(20_000));
        for round in 0..2 {
            let row = client.query_one(deep.as_str(), &[]).await.unwrap();
            assert_eq!(row.get::<_, i32>(0), 1, "round {round}");
            let row = client.query_one(long.as_str(), &[]).await.unwrap();
            assert_eq!(row.get::<_, i32>(0), 20_000, "round {round}");
            // Two trim periods and a half: the tick that finds no message trims.
            tokio::time::sleep(Duration::from_millis(2500)).await;
        }
        let row = client
            .query_one("select count(*) from generate_series(1, 1000)", &[])
            .await
            .unwrap();
        assert_eq!(row.get::<_, i64>(0), 1000);
        // A statement running past two sweeps is busy, not idle: the sweeper's
        // request it withdrew must not end the connection when it finishes.
        client.batch_execute("select pg_sleep(2.5)").await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let row = client.query_one("select 41 + 1", &[]).await.unwrap();
        assert_eq!(row.get::<_, i32>(0), 42);
    });
}
