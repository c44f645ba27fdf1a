//! The stock pgbench 15 against tusk, unchanged: initialisation in its variants
//! (client-side COPY generation, server-side `generate_series` generation, VACUUM,
//! primary keys, `--foreign-keys`, `-F`, `--unlogged-tables`; `--partitions` refused
//! with a clear error because tusk has no partitioning), runs of the three built-in
//! scripts in `-M simple`, `-M extended` and `-M prepared` with one client and with
//! `-c 32 -j 2`, and custom scripts using `\set`, `\gset`, `\if`, `\sleep` and
//! `\setshell`. Every run must report no failed transaction and exit 0, and afterwards
//! the money adds up: sum(abalance) = sum(bbalance) = sum(tbalance) = sum(delta).
//!
//! Scales and runs are small (scale 1 or 2, a few hundred transactions) so the whole
//! file stays within seconds on a debug build; every pgbench run has a time limit.

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::process::{Command, Output};
use std::time::Duration;

/// Runs the stock pgbench against `s` as postgres on database postgres with `args`;
/// `pgoptions` goes to `PGOPTIONS` when given.
fn pgbench_with(s: &Server, args: &[&str], pgoptions: Option<&str>) -> Output {
    let mut cmd = Command::new(pg_bin("pgbench"));
    cmd.args([
        "-h",
        "127.0.0.1",
        "-p",
        &s.port.to_string(),
        "-U",
        "postgres",
    ])
    .args(args)
    .arg("postgres")
    .env_remove("PGPASSWORD")
    .env_remove("PGOPTIONS")
    .env("PGCONNECT_TIMEOUT", "10");
    if let Some(o) = pgoptions {
        cmd.env("PGOPTIONS", o);
    }
    run_with_timeout(&mut cmd, Duration::from_secs(120))
}

/// Runs pgbench and fails the test (with its output and the server log) unless it
/// exits 0; returns stdout and stderr together.
fn pgbench_ok(s: &Server, args: &[&str]) -> String {
    let o = pgbench_with(s, args, None);
    let text = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        o.status.success(),
        "pgbench {args:?} exited with {}:\n{text}\nserver log tail:\n{}",
        o.status,
        log_tail(s)
    );
    text
}

/// The last lines of the server's log, for failure messages.
fn log_tail(s: &Server) -> String {
    let log = s.log_text();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The number after `label` on the line of pgbench's report that starts with it.
fn report_number(text: &str, label: &str) -> i64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} line in pgbench's output:\n{text}"));
    line[label.len()..]
        .trim()
        .split(|c: char| !(c.is_ascii_digit() || c == '-'))
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

/// Checks a run's report: every transaction processed, none failed; returns how
/// many were processed.
fn assert_clean_run(text: &str) -> i64 {
    assert!(
        !text.contains("error"),
        "pgbench reported an error:\n{text}"
    );
    assert_eq!(
        report_number(text, "number of failed transactions:"),
        0,
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("number of transactions actually processed:"))
        .unwrap_or_else(|| panic!("no processed line:\n{text}"));
    // `-t` runs print `n/m`: all must have been processed.
    if let Some((done, want)) = line.rsplit(' ').next().unwrap().split_once('/') {
        assert_eq!(done, want, "{text}");
    }
    let n = report_number(text, "number of transactions actually processed:");
    assert!(n > 0, "{text}");
    n
}

/// The four sums and the history's row count, as `a|b|t|d|n`.
fn sums(s: &Server) -> String {
    s.psql(
        "select (select coalesce(sum(abalance), 0) from pgbench_accounts) || '|' || \
         (select coalesce(sum(bbalance), 0) from pgbench_branches) || '|' || \
         (select coalesce(sum(tbalance), 0) from pgbench_tellers) || '|' || \
         (select coalesce(sum(delta), 0) from pgbench_history) || '|' || \
         (select count(*) from pgbench_history)",
    )
}

/// `sums` split into numbers.
fn sum_values(s: &Server) -> Vec<i64> {
    sums(s).split('|').map(|v| v.parse().unwrap()).collect()
}

/// The row counts of branches, tellers, accounts and history, as `b|t|a|h`.
fn counts(s: &Server) -> String {
    s.psql(
        "select (select count(*) from pgbench_branches) || '|' || \
         (select count(*) from pgbench_tellers) || '|' || \
         (select count(*) from pgbench_accounts) || '|' || \
         (select count(*) from pgbench_history)",
    )
}

/// The SQLSTATE and message of a failing statement run through psql.
fn psql_error(s: &Server, sql: &str) -> String {
    let o = run_with_timeout(
        Command::new(pg_bin("psql"))
            .args(["-X", "-v", "VERBOSITY=verbose", "-h", "127.0.0.1"])
            .args([
                "-p",
                &s.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
            ])
            .args(["-c", sql]),
        Duration::from_secs(60),
    );
    assert!(!o.status.success(), "{sql} succeeded");
    stderr(&o)
}

/// The data pgbench generated at scale `scale`, checked row by row in aggregate.
fn assert_generated(s: &Server, scale: i64) {
    assert_eq!(
        counts(s),
        format!("{scale}|{}|{}|0", 10 * scale, 100_000 * scale)
    );
    // Tellers and accounts are spread over the branches as pgbench's formulas say;
    // every balance starts at 0; the filler of accounts is the empty string padded.
    assert_eq!(
        s.psql(
            "select count(*) from pgbench_tellers where bid <> (tid - 1) / 10 + 1 or tbalance <> 0"
        ),
        "0"
    );
    assert_eq!(
        s.psql(
            "select count(*) from pgbench_accounts \
             where bid <> (aid - 1) / 100000 + 1 or abalance <> 0 or filler <> '' or octet_length(format('%s', filler)) <> 84"
        ),
        "0"
    );
    assert_eq!(
        s.psql(
            "select min(aid) || ' ' || max(aid) || ' ' || count(distinct bid) from pgbench_accounts"
        ),
        format!("1 {} {scale}", 100_000 * scale)
    );
    assert_eq!(sums(s), "0|0|0|0|0");
}

/// The primary keys of the `p` step exist: a duplicate key fails with 23505.
fn assert_primary_keys(s: &Server) {
    for (table, col) in [
        ("pgbench_branches", "bid"),
        ("pgbench_tellers", "tid"),
        ("pgbench_accounts", "aid"),
    ] {
        let e = psql_error(s, &format!("insert into {table}({col}) values (1)"));
        assert!(
            e.contains("23505") && e.contains(&format!("\"{table}_pkey\"")),
            "{table}: {e}"
        );
    }
}

#[test]
fn initialisation_variants() {
    let s = Server::start_new("pgbench-init");

    // The default steps dtgvp: client-side generation through COPY FROM STDIN.
    let out = pgbench_ok(&s, &["-i", "-s", "1"]);
    for line in [
        "NOTICE:  table \"pgbench_accounts\" does not exist, skipping",
        "dropping old tables...",
        "creating tables...",
        "generating data (client-side)...",
        "100000 of 100000 tuples (100%) done",
        "vacuuming...",
        "creating primary keys...",
        "done in ",
    ] {
        assert!(out.contains(line), "no {line:?} in:\n{out}");
    }
    assert_generated(&s, 1);
    assert_primary_keys(&s);

    // Server-side generation with generate_series, scale 2, over the old tables.
    let out = pgbench_ok(&s, &["-i", "-I", "dtGvp", "-s", "2"]);
    assert!(out.contains("generating data (server-side)..."), "{out}");
    assert!(!out.contains("NOTICE"), "the tables existed:\n{out}");
    assert_generated(&s, 2);
    assert_primary_keys(&s);

    // Foreign keys, a fill factor and unlogged tables.
    let out = pgbench_ok(
        &s,
        &[
            "-i",
            "-I",
            "dtGvpf",
            "-s",
            "1",
            "-F",
            "90",
            "--unlogged-tables",
        ],
    );
    assert!(out.contains("creating foreign keys..."), "{out}");
    assert_generated(&s, 1);
    assert_primary_keys(&s);
    for (sql, constraint) in [
        (
            "insert into pgbench_tellers(tid, bid) values (999, 999)",
            "pgbench_tellers_bid_fkey",
        ),
        (
            "insert into pgbench_accounts(aid, bid) values (999999, 999)",
            "pgbench_accounts_bid_fkey",
        ),
        (
            "insert into pgbench_history(tid, bid, aid) values (1, 999, 1)",
            "pgbench_history_bid_fkey",
        ),
        (
            "insert into pgbench_history(tid, bid, aid) values (999, 1, 1)",
            "pgbench_history_tid_fkey",
        ),
        (
            "insert into pgbench_history(tid, bid, aid) values (1, 1, 999999)",
            "pgbench_history_aid_fkey",
        ),
    ] {
        let e = psql_error(&s, sql);
        assert!(e.contains("23503") && e.contains(constraint), "{sql}: {e}");
    }
    // The foreign keys do not get in the way of a run.
    let out = pgbench_ok(&s, &["-c", "4", "-j", "2", "-t", "10"]);
    assert_eq!(assert_clean_run(&out), 40);
    let v = sum_values(&s);
    assert!(
        v[0] == v[1] && v[1] == v[2] && v[2] == v[3] && v[4] == 40,
        "{v:?}"
    );

    // Only some steps: the tables and data, then vacuum and keys in a second call.
    pgbench_ok(&s, &["-i", "-I", "dtG", "-s", "1"]);
    // No key yet: a duplicate goes in; generating again truncates it away.
    s.psql("insert into pgbench_branches(bid, bbalance) values (1, 0)");
    assert_eq!(s.psql("select count(*) from pgbench_branches"), "2");
    pgbench_ok(&s, &["-i", "-I", "G", "-s", "1"]);
    pgbench_ok(&s, &["-i", "-I", "vp"]);
    assert_generated(&s, 1);
    assert_primary_keys(&s);

    // --partitions needs declarative partitioning, which tusk does not have: the
    // run fails at the CREATE TABLE … PARTITION BY with a clear error.
    let o = pgbench_with(&s, &["-i", "--partitions", "2"], None);
    let text = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("ERROR:  partitioned tables are not supported"),
        "{text}"
    );
}

#[test]
fn builtin_scripts_in_every_query_mode() {
    let s = Server::start_new("pgbench-run");
    pgbench_ok(&s, &["-i", "-I", "dtGvp", "-s", "1", "-q"]);
    let modes = ["simple", "extended", "prepared"];

    // tpcb-like: one client, then 32 clients on 2 threads all updating the one
    // branch row (and 10 teller rows), which makes them wait for each other. The
    // first run starts with pgbench's vacuum and truncate of the history; later
    // ones pass -n so that the history keeps every transaction.
    let mut history = 0;
    for (i, m) in modes.iter().enumerate() {
        let vacuum: &[&str] = if i == 0 { &[] } else { &["-n"] };
        let out = pgbench_ok(&s, &[vacuum, &["-M", m, "-t", "20"]].concat());
        assert!(
            out.contains("transaction type: <builtin: TPC-B (sort of)>")
                && out.contains(&format!("query mode: {m}")),
            "{out}"
        );
        if i == 0 {
            assert!(out.contains("starting vacuum...end."), "{out}");
        }
        history += assert_clean_run(&out);
        let out = pgbench_ok(&s, &["-n", "-M", m, "-c", "32", "-j", "2", "-t", "5"]);
        assert!(out.contains("number of clients: 32"), "{out}");
        history += assert_clean_run(&out);
        let v = sum_values(&s);
        assert!(
            v[0] == v[1] && v[1] == v[2] && v[2] == v[3] && v[4] == history,
            "after tpcb-like -M {m}: sums a|b|t|d|n = {v:?}, {history} transactions"
        );
    }
    let after_tpcb = sum_values(&s);

    // simple-update touches accounts and history only.
    for m in modes {
        for clients in [&["-t", "20"][..], &["-c", "32", "-j", "2", "-T", "1"][..]] {
            let out = pgbench_ok(&s, &[&["-n", "-N", "-M", m][..], clients].concat());
            assert!(
                out.contains("transaction type: <builtin: simple update>"),
                "{out}"
            );
            history += assert_clean_run(&out);
        }
        let v = sum_values(&s);
        assert!(
            v[0] == v[3] && v[1] == after_tpcb[1] && v[2] == after_tpcb[2] && v[4] == history,
            "after simple-update -M {m}: sums a|b|t|d|n = {v:?}, {history} transactions"
        );
    }
    let after_update = sum_values(&s);

    // select-only changes nothing; its single statement runs without BEGIN/END.
    for m in modes {
        for clients in [&["-t", "50"][..], &["-c", "32", "-j", "2", "-T", "1"][..]] {
            let out = pgbench_ok(&s, &[&["-n", "-S", "-M", m][..], clients].concat());
            assert!(
                out.contains("transaction type: <builtin: select only>"),
                "{out}"
            );
            assert_clean_run(&out);
        }
    }
    assert_eq!(sum_values(&s), after_update);

    // The run's start-up queries against a database without the tables: pgbench
    // counts the branches first and gives up with PostgreSQL's error and its hint.
    s.psql("drop table pgbench_history");
    s.psql("drop table pgbench_branches");
    let o = pgbench_with(&s, &["-t", "1"], None);
    let text = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "pgbench: error: could not count number of branches: \
             ERROR:  relation \"pgbench_branches\" does not exist"
        ) && text.contains("LINE 1: select count(*) from pgbench_branches")
            && text.contains("Perhaps you need to do initialization (\"pgbench -i\")"),
        "{text}"
    );
}

#[test]
fn custom_scripts_errors_and_retries() {
    let s = Server::start_new("pgbench-custom");
    pgbench_ok(&s, &["-i", "-I", "dtGvp", "-s", "1", "-q"]);
    let dir = TempDir::new("pgbench-scripts");

    // Meta-commands: \set with expressions, \gset with and without a prefix, \if on
    // a fetched value, \sleep, \setshell; the values round-trip through the server
    // in every query mode.
    let script = dir.path().join("custom.sql");
    std::fs::write(
        &script,
        "\\set aid random(1, 100000 * :scale)\n\
         \\set twice 2 * :aid\n\
         UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;\n\
         SELECT abalance, bid FROM pgbench_accounts WHERE aid = :aid \\gset acc_\n\
         SELECT :twice - :aid::int AS back \\gset\n\
         \\if :acc_abalance < 1 or :back != :aid or :acc_bid != 1\n\
         SELECT 1/0;\n\
         \\endif\n\
         \\sleep 1 ms\n\
         \\setshell three echo 3\n\
         SELECT :three * 1;\n",
    )
    .unwrap();
    let script_arg = script.display().to_string();
    let mut updates = 0;
    for m in ["simple", "extended", "prepared"] {
        let out = pgbench_ok(
            &s,
            &["-n", "-M", m, "-f", &script_arg, "-c", "2", "-t", "10"],
        );
        assert!(
            out.contains(&format!("transaction type: {script_arg}")),
            "{out}"
        );
        updates += assert_clean_run(&out);
    }
    assert_eq!(
        s.psql("select sum(abalance) from pgbench_accounts"),
        updates.to_string()
    );

    // An error in a script aborts the client: pgbench prints the server's message
    // and exits 2, as against PostgreSQL.
    let bad = dir.path().join("bad.sql");
    std::fs::write(&bad, "SELECT 1/0;\n").unwrap();
    let o = pgbench_with(
        &s,
        &["-n", "-f", &bad.display().to_string(), "-t", "2"],
        None,
    );
    let text = format!("{}{}", stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert!(
        text.contains(
            "pgbench: error: client 0 script 0 aborted in command 0 query 0: \
             ERROR:  division by zero"
        ) && text.contains("number of transactions actually processed: 0/2")
            && text.contains("pgbench: error: Run was aborted; the above results are incomplete."),
        "{text}"
    );

    // REPEATABLE READ: the tpcb-like transactions collide on the branch row and
    // fail with serialization failures (40001), which pgbench retries with
    // --max-tries; none may fail for good, and the sums still agree.
    s.psql("truncate pgbench_history");
    s.psql("update pgbench_accounts set abalance = 0 where abalance <> 0");
    let o = pgbench_with(
        &s,
        &["-n", "--max-tries=1000", "-c", "8", "-j", "2", "-t", "10"],
        Some("-c default_transaction_isolation=repeatable\\ read"),
    );
    let text = format!("{}{}", stdout(&o), stderr(&o));
    assert!(o.status.success(), "{text}");
    assert_eq!(assert_clean_run(&text), 80);
    assert!(text.contains("number of transactions retried:"), "{text}");
    let v = sum_values(&s);
    assert!(
        v[0] == v[1] && v[1] == v[2] && v[2] == v[3] && v[4] == 80,
        "sums a|b|t|d|n = {v:?}"
    );
    // Without retries a serialization failure is a failed transaction (not an
    // aborted client): pgbench reports it and exits 0.
    let o = pgbench_with(
        &s,
        &["-n", "-c", "8", "-j", "2", "-t", "10"],
        Some("-c default_transaction_isolation=repeatable\\ read"),
    );
    let text = format!("{}{}", stdout(&o), stderr(&o));
    assert!(o.status.success(), "{text}");
    assert!(!text.contains("aborted"), "{text}");
    let failed = report_number(&text, "number of failed transactions:");
    let done = report_number(&text, "number of transactions actually processed:");
    assert_eq!(failed + done, 80, "{text}");
    let v = sum_values(&s);
    assert!(
        v[0] == v[1] && v[1] == v[2] && v[2] == v[3] && v[4] == 80 + done,
        "sums a|b|t|d|n = {v:?}"
    );
}
