//! A failing WAL fsync under the bank workload: the server is started with
//! `TUSK_TEST_FAIL_FSYNC_AFTER=n` (a debug-build fault, see `src/storage/wal/fault.rs`),
//! so WAL fsync number `n + 1` returns `EIO` and loses the writes it covered.
//!
//! PostgreSQL (since 12, `data_sync_retry = off`) PANICs on a failed WAL fsync and never
//! retries it: the retry could "succeed" on pages the kernel already dropped; its
//! postmaster then ends every session and reinitializes (`restart_after_crash`). tusk's
//! WAL writer likewise stops for good; expected of each round:
//!
//! 1. the commits waiting on that fsync get an error (never a success); the server ends
//!    every session (FATAL 57P02) and starts over by itself in the same process,
//!    recovering from the WAL — it does not carry on as if nothing happened;
//! 2. the restarted server has every acknowledged commit and at most the one
//!    unacknowledged transaction per client that was waiting on the fsync
//!    ([`crate::load::check`]); the lost writes make an acknowledgement given in
//!    spite of the failure show up as a lost commit; it takes writes again;
//! 3. it still shuts down (bounded) when asked, and starts again.
//!
//! With `restart_after_crash = off` the server exits instead, and the next start
//! recovers.
//!
//! A fault armed so early that it hits start-up itself must stop the start with a
//! message naming the fsync, and the next start (without it) recovers.
//!
//! Rounds: `TUSK_CRASH_ROUNDS` (3 by default), on one data directory.

use crate::bank::{rounds, schema_sql, seed};
use crate::common::*;
use crate::load::{check, problems_logged, start_env, Load};
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

const FAULT_LINE: &str = "fault injection: failing WAL fsync number";

#[test]
fn failed_wal_fsync_stops_writes_and_loses_no_acknowledged_commit() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed("fsync"));
    let mut s = Server::init("fsync", &["--wal-segsize=1"]);
    s.try_start()
        .unwrap_or_else(|e| panic!("start: {e}\n{}", s.log_text()));
    s.psql(&schema_sql());
    s.stop();
    let rt = runtime();
    let conninfo = s.conninfo("postgres");
    let mut verified = HashMap::new();
    let (mut acked_total, mut failed_commits, mut in_flight_total) = (0u64, 0u64, 0u64);
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut exits: BTreeMap<String, u32> = BTreeMap::new();
    let rounds = rounds();
    let test_start = Instant::now();
    for round in 0..rounds {
        // Round 0 arms the fault inside start-up (the end-of-recovery checkpoint's
        // flush); the others somewhere in the load.
        let n: u64 = if round == 0 { 0 } else { rng.gen_range(3..300) };
        let what = format!("round {round} (fsync {} fails)", n + 1);
        let log_start = s.log_text().len();
        let env = [("TUSK_TEST_FAIL_FSYNC_AFTER", n.to_string())];
        if let Err(status) = start_env(&mut s, &env) {
            let log = s.log_text()[log_start..].to_string();
            assert!(
                log.contains(FAULT_LINE) && log.contains("could not fsync file"),
                "{what}: start-up failed ({status}) without naming the fsync:\n{log}"
            );
            let said: Vec<&str> = log
                .lines()
                .filter(|l| l.contains("FATAL") || l.contains("PANIC"))
                .collect();
            eprintln!("fsync {what}: start-up refused ({status}): {said:?}");
            *exits.entry("start-up refused".into()).or_default() += 1;
            s.try_start()
                .unwrap_or_else(|e| panic!("{what}: restart: {e}\n{}", s.log_text()));
            check(&rt, &s, 0, &[], &verified, &what);
            s.stop();
            continue;
        }
        let load = Load::start(&rt, &conninfo, (round as i32 + 1) * 1000, &mut rng);
        let wait = Instant::now();
        while !s.log_text()[log_start..].contains(FAULT_LINE) {
            assert!(
                wait.elapsed() < Duration::from_secs(60),
                "{what}: the fault did not fire within 60s ({} commits); log:\n{}",
                load.stats.commits.load(std::sync::atomic::Ordering::SeqCst),
                s.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // 1. The server ends every session with PostgreSQL's crash message and starts
        //    over by itself (same process, so pg_ctl's PID stays right), recovering
        //    from the WAL, as PostgreSQL's postmaster does after a PANIC.
        let pid = s.child.as_ref().unwrap().id();
        let wait = Instant::now();
        loop {
            let log = s.log_text()[log_start..].to_string();
            if let Some((_, after)) =
                log.split_once("all server processes terminated; reinitializing")
            {
                if after.contains("database system is ready to accept connections") {
                    assert!(
                        log.contains("terminating any other active server processes"),
                        "{what}: no termination line:\n{log}"
                    );
                    break;
                }
            }
            assert!(
                wait.elapsed() < Duration::from_secs(60),
                "{what}: the server did not reinitialize within 60s; log:\n{log}"
            );
            assert!(
                s.child.as_mut().unwrap().try_wait().unwrap().is_none(),
                "{what}: the server exited instead of reinitializing; log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let pidfile = std::fs::read_to_string(s.datadir().join("postmaster.pid")).unwrap();
        assert_eq!(
            pidfile.lines().next(),
            Some(pid.to_string().as_str()),
            "{what}: postmaster.pid does not name the server"
        );
        let round_errors = load.errors();
        let logs = load.stop(&rt);
        let acked: u64 = logs
            .iter()
            .map(|l| l.acked.load(std::sync::atomic::Ordering::SeqCst))
            .sum();
        let fsync_errors: u64 = round_errors
            .iter()
            .filter(|(k, _)| k.contains("could not fsync file"))
            .map(|(_, v)| v)
            .sum();
        // 2. The restarted server has every acknowledged commit, and takes writes
        //    again (the fault fires once per server, as a real disk error would not
        //    be retried on the same pages).
        let c = check(&rt, &s, (round as i32 + 1) * 1000, &logs, &verified, &what);
        let out = s.psql_as(
            "postgres",
            "postgres",
            None,
            "begin; insert into ledger values (0, 0, 1, 2, 0); rollback",
        );
        assert!(
            out.status.success(),
            "{what}: a write failed after the restart: {}",
            stderr(&out)
        );
        // 3. It still shuts down when asked.
        s.signal(libc::SIGINT);
        let status = s.wait_exit(Duration::from_secs(60));
        *exits
            .entry(format!("shutdown after reinitializing: {status}"))
            .or_default() += 1;
        s.try_start()
            .unwrap_or_else(|e| panic!("{what}: restart: {e}\n{}", s.log_text()));
        let said = problems_logged(&s.log_text()[log_start..]);
        eprintln!("fsync {what}: the log said {said:?}");
        eprintln!(
            "fsync {what}: {acked} commits acknowledged, {fsync_errors} commits failed with the fsync error, {} unacknowledged found committed, {} ledger rows",
            c.in_flight_present,
            c.rows,
        );
        acked_total += acked;
        failed_commits += fsync_errors;
        in_flight_total += c.in_flight_present;
        for (k, v) in round_errors {
            *errors.entry(k).or_default() += v;
        }
        verified = c.ledger;
        s.stop();
    }
    eprintln!(
        "fsync: {rounds} rounds in {:?}: {acked_total} commits acknowledged, 0 lost; {failed_commits} commits failed with the fsync error; {in_flight_total} unacknowledged found committed; exits {exits:?}; client errors {errors:?}",
        test_start.elapsed()
    );
}

/// Single-statement (implicit) transactions through psql while a WAL fsync fails: a
/// statement whose commit failed must get an error *instead of* its CommandComplete, as
/// PostgreSQL reports end-of-transaction errors before command-complete (tusk once sent
/// `INSERT 0 1` and then the error, and psql printed both). Every insert psql reported
/// without an error survives the restart.
#[test]
fn failed_implicit_commit_is_not_reported_as_done() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed("fsync-implicit"));
    let mut s = Server::init("fsync-implicit", &[]);
    s.try_start()
        .unwrap_or_else(|e| panic!("start: {e}\n{}", s.log_text()));
    s.psql("create table t (k int primary key)");
    s.stop();
    let mut reported_done = Vec::new();
    let mut failed_after_done = 0;
    for round in 0..rounds() {
        let n: u64 = rng.gen_range(2..12);
        let env = [("TUSK_TEST_FAIL_FSYNC_AFTER", n.to_string())];
        start_env(&mut s, &env).unwrap_or_else(|e| panic!("start: {e}\n{}", s.log_text()));
        for i in 0..20 {
            let k = round as i32 * 100 + i;
            let out = s.psql_as(
                "postgres",
                "postgres",
                None,
                &format!("insert into t values ({k})"),
            );
            let said_done = stdout(&out).contains("INSERT 0 1");
            if said_done && !out.status.success() {
                failed_after_done += 1;
            }
            if out.status.success() {
                reported_done.push(k);
            }
        }
        s.signal(libc::SIGINT);
        s.wait_exit(Duration::from_secs(60));
        s.try_start()
            .unwrap_or_else(|e| panic!("round {round}: restart: {e}\n{}", s.log_text()));
        let present: std::collections::BTreeSet<i32> = s
            .psql("select k from t")
            .lines()
            .map(|l| l.parse().unwrap())
            .collect();
        let lost: Vec<i32> = reported_done
            .iter()
            .filter(|k| !present.contains(k))
            .copied()
            .collect();
        assert!(
            lost.is_empty(),
            "round {round}: inserts reported done but lost: {lost:?}"
        );
        assert_eq!(
            failed_after_done, 0,
            "round {round}: a statement got INSERT 0 1 and then an error"
        );
        eprintln!(
            "fsync-implicit round {round} (fsync {} fails): {} inserts reported done in all, all present; {} rows",
            n + 1,
            reported_done.len(),
            present.len()
        );
        s.stop();
    }
}

/// `restart_after_crash = off`: after the failed fsync the server ends every session
/// and exits (status 1, as PostgreSQL's postmaster), leaving recovery to the next start.
#[test]
fn restart_after_crash_off_exits_after_a_failed_fsync() {
    let mut s = Server::init("fsync-noreinit", &[]);
    s.append_conf("restart_after_crash = off\n");
    s.try_start()
        .unwrap_or_else(|e| panic!("start: {e}\n{}", s.log_text()));
    s.psql("create table t (k int primary key)");
    s.stop();
    let env = [("TUSK_TEST_FAIL_FSYNC_AFTER", "3".to_string())];
    start_env(&mut s, &env).unwrap_or_else(|e| panic!("start: {e}\n{}", s.log_text()));
    let mut done = Vec::new();
    for k in 0..20 {
        let out = s.psql_as(
            "postgres",
            "postgres",
            None,
            &format!("insert into t values ({k})"),
        );
        if out.status.success() {
            done.push(k);
        }
        if s.log_text().contains("restart_after_crash is off") {
            break;
        }
    }
    let status = s.wait_exit(Duration::from_secs(60));
    assert_eq!(
        status.code(),
        Some(1),
        "exit status; log:\n{}",
        s.log_text()
    );
    let log = s.log_text();
    assert!(
        log.contains("shutting down because restart_after_crash is off")
            && !log.contains("reinitializing"),
        "log:\n{log}"
    );
    s.try_start()
        .unwrap_or_else(|e| panic!("restart: {e}\n{}", s.log_text()));
    let got: std::collections::BTreeSet<i32> = s
        .psql("select k from t")
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let lost: Vec<&i32> = done.iter().filter(|k| !got.contains(k)).collect();
    assert!(lost.is_empty(), "inserts reported done but lost: {lost:?}");
    s.stop();
}
