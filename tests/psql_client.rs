//! What psql 15 does interactively against tusk: tab completion of table and column
//! names (psql's own catalog queries, through a pseudo-terminal made by util-linux's
//! `script`), and the client-side meta-commands `\conninfo`, `\c`, `\x` and `\timing`
//! that the compared transcript of `tests/psql_meta.rs` cannot hold (they print the
//! port or a duration).

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs psql interactively on a pseudo-terminal, typing each step after a pause (so
/// that readline sees the tab keys one by one and psql has answered the completion
/// query before the next keys come); returns everything the terminal showed.
fn interactive(s: &Server, steps: &[&str]) -> String {
    let psql = format!(
        "{} -X -P pager=off -h 127.0.0.1 -p {} -U postgres -d postgres",
        pg_bin("psql").display(),
        s.port
    );
    let mut child = Command::new("script")
        .args(["-q", "-f", "-e", "-c", &psql, "/dev/null"])
        .env("TERM", "dumb")
        .env_remove("PGPASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn script (util-linux): {e}"));
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let mut stdin = child.stdin.take().unwrap();
    std::thread::sleep(Duration::from_millis(800));
    for step in steps {
        stdin.write_all(step.as_bytes()).unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_millis(800));
    }
    stdin.write_all(b"\\q\n").unwrap();
    drop(stdin);
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("psql on a pseudo-terminal did not exit");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // (readline rings the bell when a completion is ambiguous)
    String::from_utf8_lossy(&reader.join().unwrap()).replace(['\r', '\u{7}'], "")
}

/// Runs psql non-interactively with the given `-c` commands, in order.
fn commands(s: &Server, cmds: &[&str]) -> String {
    let mut c = Command::new(pg_bin("psql"));
    c.args(["-X", "-h", "127.0.0.1", "-p", &s.port.to_string()])
        .args(["-U", "postgres", "-d", "postgres"])
        .env_remove("PGPASSWORD");
    for cmd in cmds {
        c.args(["-c", cmd]);
    }
    let o = run_with_timeout(&mut c, Duration::from_secs(60));
    assert!(o.status.success(), "psql {cmds:?}: {}", stderr(&o));
    stdout(&o).trim_end().to_string()
}

#[test]
fn tab_completion_of_tables_and_columns() {
    let s = Server::start_new("psql-complete");
    s.psql("create table completion_target (id int primary key, value_col int); create schema compl_schema");
    let shown = interactive(
        &s,
        &[
            "select * from completion_t\t",
            ";\n",
            "update completion_target set value_\t",
            "= 1;\n",
            "\\d completion_ta\t",
            "\n",
            "select * from compl_sch\t",
            "\x15", // (^U: discard the line)
        ],
    );
    for want in [
        "select * from completion_target ;",
        "update completion_target set value_col = 1;",
        "\\d completion_target",
        "select * from compl_schema.",
        "UPDATE 0",
    ] {
        assert!(
            shown.contains(want),
            "psql did not complete to {want:?}; the terminal showed:\n{shown:?}"
        );
    }
}

#[test]
fn client_side_meta_commands() {
    let s = Server::start_new("psql-client");
    s.psql("create database other_db");
    let port = s.port;
    assert_eq!(
        commands(&s, &["\\conninfo"]),
        format!(
            "You are connected to database \"postgres\" as user \"postgres\" on host \"127.0.0.1\" at port \"{port}\"."
        )
    );
    assert_eq!(
        commands(&s, &["\\c other_db", "select current_database()"]),
        "You are now connected to database \"other_db\" as user \"postgres\".\n current_database \n------------------\n other_db\n(1 row)"
    );
    assert_eq!(
        commands(&s, &["\\x", "select 1 as a, 'two' as b"]),
        "Expanded display is on.\n-[ RECORD 1 ]\na | 1\nb | two"
    );
    let timed = commands(&s, &["\\timing on", "select 1"]);
    assert!(timed.starts_with("Timing is on.\n"), "{timed}");
    assert!(
        timed.contains("\nTime: ") && timed.ends_with(" ms"),
        "{timed}"
    );
}
