//! The server log's lines about sessions, in PostgreSQL 15's words: `log_connections`,
//! `log_disconnections`, `log_statement`, `log_min_duration_statement` (simple and
//! extended protocol, with parameters) and the errors sent to clients with their
//! `STATEMENT:` line. The expected lines were taken from PostgreSQL 15.18 running the
//! same clients with the same settings (durations, ports and session times masked).

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

/// The log's lines without the prefix, with the varying numbers masked.
fn normalized(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.split_once("] ").map(|(_, rest)| rest.to_string()))
        .map(|l| {
            let mut out = String::new();
            let mut rest = l.as_str();
            // "duration: 0.123 ms" → "duration: X ms"
            while let Some(i) = rest.find("duration: ") {
                out.push_str(&rest[..i + 10]);
                rest = &rest[i + 10..];
                let end = rest.find(" ms").unwrap_or(0);
                out.push('X');
                rest = &rest[end..];
            }
            out.push_str(rest);
            let masked: Vec<String> = out
                .split(' ')
                .map(|w| {
                    if w.starts_with("port=") {
                        "port=P".to_string()
                    } else if w.len() > 5 && w.starts_with("0:00:") {
                        "T".to_string()
                    } else {
                        w.to_string()
                    }
                })
                .collect();
            masked.join(" ")
        })
        .collect()
}

/// Asserts that `want` appears in `lines` in order (other lines may come between).
fn assert_in_order(lines: &[String], want: &[&str]) {
    let mut at = 0;
    for w in want {
        match lines[at..].iter().position(|l| l == w) {
            Some(i) => at += i + 1,
            None => panic!(
                "missing (in order) {w:?}; log from there:\n{}",
                lines[at..].join("\n")
            ),
        }
    }
}

#[test]
fn session_lines_match_postgresql() {
    let mut s = Server::init("session-log", &[]);
    s.append_conf(
        "log_connections = on\nlog_disconnections = on\nlog_min_duration_statement = 0\nlog_statement = 'ddl'\n",
    );
    s.start();
    let psql = |host: &str, args: &[&str]| {
        run_with_timeout(
            Command::new(pg_bin("psql"))
                .args([
                    "-X",
                    "-h",
                    host,
                    "-p",
                    &s.port.to_string(),
                    "-U",
                    "postgres",
                ])
                .args(args)
                .env_remove("PGOPTIONS"),
            Duration::from_secs(60),
        )
    };
    let sock = s.socket_dir();
    let sock = sock.to_str().unwrap();
    psql(sock, &["-c", "select 1", "-c", "create table lt (a int)"]);
    psql("127.0.0.1", &["-c", "select 2"]);
    let script = s.dir.path().join("s.sql");
    std::fs::write(&script, "select 1 + :v;\n").unwrap();
    let o = run_with_timeout(
        Command::new(pg_bin("pgbench"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &s.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-n", "-M", "prepared", "-t", "2", "-D", "v=5", "-f"])
            .arg(&script)
            .arg("postgres"),
        Duration::from_secs(60),
    );
    assert!(o.status.success(), "pgbench: {}", stderr(&o));
    psql(
        sock,
        &["-c", "select 1/0", "-c", "insert into lt values (3)"],
    );
    s.stop();
    let lines = normalized(&s.log_text());
    assert_in_order(
        &lines,
        &[
            "LOG:  connection received: host=[local]",
            "LOG:  connection authorized: user=postgres database=postgres application_name=psql",
            "LOG:  duration: X ms  statement: select 1",
            "LOG:  statement: create table lt (a int)",
            "LOG:  duration: X ms",
            "LOG:  disconnection: session time: T user=postgres database=postgres host=[local]",
            "LOG:  connection received: host=127.0.0.1 port=P",
            "LOG:  connection authorized: user=postgres database=postgres application_name=psql",
            "LOG:  duration: X ms  statement: select 2",
            "LOG:  disconnection: session time: T user=postgres database=postgres host=127.0.0.1 port=P",
            "LOG:  connection authorized: user=postgres database=postgres application_name=pgbench",
            "LOG:  duration: X ms  parse P_0: select 1 + $1;",
            "LOG:  duration: X ms  bind P_0: select 1 + $1;",
            "DETAIL:  parameters: $1 = '5'",
            "LOG:  duration: X ms  execute P_0: select 1 + $1;",
            "DETAIL:  parameters: $1 = '5'",
            "LOG:  duration: X ms  bind P_0: select 1 + $1;",
            "DETAIL:  parameters: $1 = '5'",
            "LOG:  duration: X ms  execute P_0: select 1 + $1;",
            "DETAIL:  parameters: $1 = '5'",
            "ERROR:  division by zero",
            "STATEMENT:  select 1/0",
            "LOG:  duration: X ms  statement: insert into lt values (3)",
        ],
    );
    // A failed statement has no duration line.
    assert!(
        !lines.iter().any(|l| l.ends_with("statement: select 1/0")),
        "{}",
        lines.join("\n")
    );
}
