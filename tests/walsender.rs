//! The walsender against stock PostgreSQL 15 clients: psql on `replication=true` and
//! `replication=database` connections, pg_receivewal streaming, the connection checks
//! (REPLICATION attribute, pg_hba, passwords, max_wal_senders) and pg_stat_replication.
//!
//! Every test starts its own server (the harness picks free ports), bounds every wait
//! and cleans up on drop.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::{pg_bin, run_with_timeout, stderr, stdout, Server};

/// Runs psql with a full connection string; returns its output.
fn psql_conn(server: &Server, conninfo: &str, sql: &str, password: Option<&str>) -> Output {
    let mut cmd = Command::new(pg_bin("psql"));
    cmd.args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-w"])
        .arg(format!(
            "host=127.0.0.1 port={} connect_timeout=10 {conninfo}",
            server.port
        ))
        .args(["-c", sql])
        .env_remove("PGPASSWORD");
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    run_with_timeout(&mut cmd, Duration::from_secs(60))
}

/// psql on a physical replication connection as `postgres`.
fn repl(server: &Server, sql: &str) -> Output {
    psql_conn(
        server,
        "user=postgres dbname=replication replication=true",
        sql,
        None,
    )
}

#[test]
fn commands_on_physical_and_database_connections() {
    let mut server = Server::init("ws_cmds", &[]);
    server.append_conf("log_replication_commands = on\n");
    server.start();

    let out = repl(&server, "SHOW wal_segment_size");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "16MB");

    let out = repl(&server, "SHOW data_directory_mode;");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "0700");

    let out = repl(&server, "IDENTIFY_SYSTEM");
    assert!(out.status.success(), "{}", stderr(&out));
    let row = stdout(&out).trim().to_string();
    let cols: Vec<&str> = row.split('|').collect();
    assert_eq!(cols.len(), 4, "{row}");
    let sysid = server.psql("select system_identifier from pg_control_system()");
    assert_eq!(cols[0], sysid);
    assert_eq!(cols[1], "1");
    assert!(cols[2].contains('/'), "{row}");
    assert_eq!(cols[3], "", "dbname is NULL on a physical connection");

    // SQL on a physical walsender: PostgreSQL's 0A000, and the connection survives.
    let out = repl(&server, "select 1");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot execute SQL commands in WAL sender for physical replication"),
        "{}",
        stderr(&out)
    );
    let out = repl(&server, "identify_system");
    assert!(stderr(&out).contains("cannot execute SQL commands in WAL sender"));

    // Syntax errors.
    let out = repl(&server, "BASE_BACKUP LABEL 'x' PROGRESS");
    assert!(
        stderr(&out).contains("ERROR:  syntax error"),
        "{}",
        stderr(&out)
    );
    let out = repl(&server, "TIMELINE_HISTORY 0");
    assert!(
        stderr(&out).contains("invalid timeline 0"),
        "{}",
        stderr(&out)
    );
    let out = repl(&server, "TIMELINE_HISTORY 1");
    assert!(
        stderr(&out)
            .contains("could not open file \"pg_wal/00000001.history\": No such file or directory"),
        "{}",
        stderr(&out)
    );

    // Several commands over one connection: errors do not end it.
    let out = Command::new(pg_bin("psql"))
        .args(["-X", "-A", "-t", "-w"])
        .arg(format!(
            "host=127.0.0.1 port={} user=postgres dbname=replication replication=true",
            server.port
        ))
        .args(["-c", "select 1", "-c", "SHOW wal_segment_size"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out).trim(), "16MB", "{}", stderr(&out));

    // replication=database runs SQL and replication commands; dbname is set.
    let out = psql_conn(
        &server,
        "user=postgres dbname=postgres replication=database",
        "select 40 + 2",
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "42");
    let out = psql_conn(
        &server,
        "user=postgres dbname=postgres replication=database",
        "IDENTIFY_SYSTEM",
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).trim().ends_with("|postgres"),
        "{}",
        stdout(&out)
    );

    assert!(server
        .log_text()
        .contains("received replication command: IDENTIFY_SYSTEM"));
}
