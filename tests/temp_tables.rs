//! Temporary tables over real connections: two sessions each with their own table of
//! the same name, the table gone when its session disconnects (cleanly, or by a
//! dropped socket in the middle of a transaction), nothing of it on a streaming
//! standby (which refuses to create one with 25006), and nothing after a crash or a
//! restart although a checkpoint ran while it existed.
//!
//! Every wait is bounded; servers are killed and their directories removed on drop.

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How many tables named `name` the catalog lists (every session's temporary ones
/// included, as in PostgreSQL's `pg_tables`).
fn tables_named(s: &Server, name: &str) -> String {
    s.psql(&format!(
        "select count(*) from pg_tables where tablename = '{name}'"
    ))
}

/// A raw protocol session (trust authentication) that runs each of `queries` as one
/// simple Query (reading up to ReadyForQuery), and returns the socket, so the caller
/// can drop it without a Terminate message — an abnormal disconnect.
fn raw_session(port: u16, queries: &[&str]) -> TcpStream {
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut body = 196608i32.to_be_bytes().to_vec();
    for (k, v) in [("user", "postgres"), ("database", "postgres")] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut msg = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    msg.extend_from_slice(&body);
    sock.write_all(&msg).unwrap();
    read_until_ready(&mut sock);
    for sql in queries {
        let mut q = vec![b'Q'];
        q.extend_from_slice(&((sql.len() + 5) as i32).to_be_bytes());
        q.extend_from_slice(sql.as_bytes());
        q.push(0);
        sock.write_all(&q).unwrap();
        read_until_ready(&mut sock);
    }
    sock
}

/// Reads backend messages up to ReadyForQuery; panics on an ErrorResponse.
fn read_until_ready(sock: &mut TcpStream) {
    loop {
        let mut head = [0u8; 5];
        sock.read_exact(&mut head).unwrap();
        let len = i32::from_be_bytes(head[1..5].try_into().unwrap()) as usize;
        let mut rest = vec![0u8; len.saturating_sub(4)];
        sock.read_exact(&mut rest).unwrap();
        match head[0] {
            b'E' => panic!("error: {}", String::from_utf8_lossy(&rest)),
            b'Z' => return,
            _ => {}
        }
    }
}

#[test]
fn sessions_own_their_temp_tables_and_disconnects_drop_them() {
    let mut s = Server::start_new("temp-sessions");
    s.psql("create table marker (a int)");
    let rt = runtime();
    rt.block_on(async {
        let a = s.connect("postgres").await;
        let b = s.connect("postgres").await;
        a.batch_execute("create temp table scratch (id serial primary key, v text)")
            .await
            .unwrap();
        b.batch_execute("create temp table scratch (id serial primary key, v text)")
            .await
            .unwrap();
        a.batch_execute("insert into scratch (v) values ('a1'), ('a2')")
            .await
            .unwrap();
        b.batch_execute("insert into scratch (v) values ('b1')")
            .await
            .unwrap();
        let rows = a
            .query("select v from scratch order by id", &[])
            .await
            .unwrap();
        let got: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(got, ["a1", "a2"]);
        let rows = b.query("select v from scratch", &[]).await.unwrap();
        let got: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(got, ["b1"]);
        // Another session sees neither: the name does not resolve for it.
        let other = s.psql_as("postgres", "postgres", None, "select * from scratch");
        assert!(
            stderr(&other).contains("relation \"scratch\" does not exist"),
            "{}",
            stderr(&other)
        );
        // By its schema's name, another session's table is refused.
        let schema: String = a
            .query_one(
                "select schemaname::text from pg_tables where tablename = 'scratch' \
                 order by schemaname limit 1",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        let other = s.psql_as(
            "postgres",
            "postgres",
            None,
            &format!("select * from {schema}.scratch"),
        );
        assert!(
            stderr(&other).contains("cannot access temporary tables of other sessions"),
            "{}",
            stderr(&other)
        );
        assert_eq!(tables_named(&s, "scratch"), "2");
        drop(a);
        wait_until("a's temporary table to go", || {
            tables_named(&s, "scratch") == "1"
        });
        let rows = b.query("select v from scratch", &[]).await.unwrap();
        assert_eq!(rows.len(), 1);
        drop(b);
    });
    wait_until("b's temporary table to go", || {
        tables_named(&s, "scratch") == "0"
    });

    // A socket dropped without Terminate, in the middle of a transaction block.
    let sock = raw_session(
        s.port,
        &[
            "create temp table abandoned (a int); insert into abandoned values (1)",
            "begin; insert into abandoned values (2); insert into marker values (1)",
        ],
    );
    assert_eq!(tables_named(&s, "abandoned"), "1");
    drop(sock);
    wait_until("the abandoned session's table to go", || {
        tables_named(&s, "abandoned") == "0"
    });
    // Its open transaction was rolled back, not committed.
    assert_eq!(s.psql("select count(*) from marker"), "0");
    s.stop();
}

#[test]
fn nothing_reaches_a_standby_or_survives_a_crash() {
    let mut primary = Server::init("temp-prim", &["--wal-segsize=1"]);
    primary.start();
    primary.psql("create table marker (a int)");
    primary.stop();
    let mut standby = make_standby(
        &primary,
        "temp-stby",
        &format!(
            "primary_conninfo = 'host=127.0.0.1 port={} user=postgres'\nwal_retrieve_retry_interval = 200ms\n",
            primary.port
        ),
    );
    primary.start();
    let before = standby
        .log_text()
        .matches("ready to accept read-only")
        .count();
    spawn(&mut standby);
    wait_log(
        &mut standby,
        "ready to accept read-only connections",
        before + 1,
    );

    let sock = raw_session(
        primary.port,
        &[
            "create temp table secret (id serial primary key, v text)",
            "create index on secret (v)",
            "insert into secret (v) values ('x'), ('y')",
            "create temp view secret_v as select * from secret",
            "insert into marker values (1)",
            "checkpoint",
            "insert into secret (v) values ('z')",
            "insert into marker values (2)",
        ],
    );
    assert_eq!(tables_named(&primary, "secret"), "1");
    // The standby replays the permanent inserts around them, and nothing else.
    wait_for(&standby, "select count(*) from marker", "2");
    assert_eq!(tables_named(&standby, "secret"), "0");
    assert_eq!(
        standby.psql("select count(*) from pg_tables where schemaname like 'pg_temp%'"),
        "0"
    );
    // A hot standby refuses to create one, as PostgreSQL does.
    let refused = standby.psql_as("postgres", "postgres", None, "create temp table t (a int)");
    assert!(
        stderr(&refused).contains("cannot execute CREATE TABLE in a read-only transaction"),
        "{}",
        stderr(&refused)
    );
    let refused = standby.psql_as("postgres", "postgres", None, "select 1 into temp t");
    assert!(
        stderr(&refused).contains("cannot execute SELECT INTO in a read-only transaction"),
        "{}",
        stderr(&refused)
    );
    standby.stop();

    // A crash while the session holds its table: after crash recovery (from the
    // checkpoint taken while it existed) nothing of it is left, and a new session
    // can use the name.
    primary.crash();
    drop(sock);
    primary.start();
    assert_eq!(tables_named(&primary, "secret"), "0");
    assert_eq!(primary.psql("select count(*) from marker"), "2");
    assert_eq!(
        primary.psql("create temp table secret (a int); select count(*) from secret"),
        "CREATE TABLE\n0"
    );

    // A clean restart (shutdown checkpoint) with a session holding a table.
    let sock = raw_session(
        primary.port,
        &[
            "create temp table kept (a int)",
            "insert into kept values (1)",
        ],
    );
    primary.stop();
    drop(sock);
    primary.start();
    assert_eq!(tables_named(&primary, "kept"), "0");
    primary.stop();
}
