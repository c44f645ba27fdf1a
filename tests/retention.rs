//! WAL retention that is safe by default, against the real `tusk` binary and stock
//! `pg_basebackup`: a finished base backup leaves a *backup hold* (storage/holds.rs) so
//! that the standby made from it can start even after the primary has checkpointed
//! and recycled WAL for a while; the hold goes once a standby has streamed past it, or
//! when it would exceed `max_slot_wal_keep_size`. Without a hold or slot,
//! `wal_keep_size` / `wal_keep_segments` decide, and a standby that fell behind gets
//! PostgreSQL's "requested WAL segment ... has already been removed".
//!
//! All servers use 1 MB segments and small `max_wal_size`/`min_wal_size`; the "busy"
//! primary writes rows, switches segments and checkpoints in a loop. Every wait is
//! bounded; servers are killed and their directories removed on drop.

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HOLDS_FILE: &str = "global/tusk_backup_holds";

/// A primary with 1 MB segments, small WAL sizes, a replication role and a table `t`.
fn busy_primary(tag: &str, conf: &str) -> Server {
    let mut p = Server::init(tag, &["--wal-segsize=1"]);
    p.append_conf(&format!(
        "max_wal_size = 4MB\nmin_wal_size = 2MB\nwal_keep_size = 0\ncheckpoint_timeout = 3600\n{conf}\n"
    ));
    p.start();
    p.psql("create role repl login replication");
    p.psql("create table t (v text)");
    p
}

/// One round of load: a few rows, a segment switch, a checkpoint.
fn churn_once(p: &Server) {
    p.psql("insert into t (v) select 'x' || g from generate_series(1, 50) g");
    p.psql("select pg_switch_wal()");
    p.psql("checkpoint");
}

/// `rounds` rounds of load.
fn churn(p: &Server, rounds: usize) {
    for _ in 0..rounds {
        churn_once(p);
    }
}

/// A writer running [`churn_once`] in a loop on another thread until stopped.
struct Writer {
    stop: Arc<AtomicBool>,
    rounds: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    fn start(p: &Server) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicUsize::new(0));
        let (port, sock) = (p.port, p.socket_dir());
        let (s, r) = (stop.clone(), rounds.clone());
        let thread = std::thread::spawn(move || {
            let psql = |sql: &str| {
                let out = run_with_timeout(
                    Command::new(pg_bin("psql"))
                        .args(["-X", "-q", "-h"])
                        .arg(&sock)
                        .args(["-p", &port.to_string(), "-U", "postgres", "-d", "postgres"])
                        .args(["-c", sql]),
                    Duration::from_secs(30),
                );
                assert!(out.status.success(), "{sql}: {}", stderr(&out));
            };
            while !s.load(Ordering::SeqCst) {
                psql("insert into t (v) select 'w' || g from generate_series(1, 50) g");
                psql("select pg_switch_wal()");
                psql("checkpoint");
                r.fetch_add(1, Ordering::SeqCst);
            }
        });
        Writer {
            stop,
            rounds,
            thread: Some(thread),
        }
    }

    /// Waits until the writer has done at least `n` rounds in all (bounded).
    fn wait_rounds(&self, n: usize) {
        let start = Instant::now();
        while self.rounds.load(Ordering::SeqCst) < n {
            assert!(start.elapsed() < Duration::from_secs(60), "writer stalled");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn finish(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
    }
}

/// Runs `pg_basebackup -Fp -Xs -R -c fast` of `p` as `repl` into a new standby
/// directory and returns the (not started) standby.
fn basebackup_standby(p: &Server, tag: &str) -> Server {
    let s = basebackup_as(p, tag, "repl", &["-Fp", "-X", "stream", "-R"]);
    assert!(
        !s.datadir().join(HOLDS_FILE).exists(),
        "the standby inherited its primary's holds"
    );
    s.append_conf("wal_retrieve_retry_interval = 200ms\n");
    s
}

/// What `sql` prints on `s` (empty on failure).
fn query(s: &Server, sql: &str) -> String {
    stdout(&s.psql_as("postgres", "postgres", None, sql))
        .trim_end()
        .to_string()
}

/// The segment the newest hold keeps, from the primary's LOG line.
fn held_segment(p: &Server) -> String {
    let log = p.log_text();
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("keeping WAL from segment "))
        .unwrap_or_else(|| panic!("no hold was logged; log:\n{log}"));
    let rest = line.split("keeping WAL from segment ").nth(1).unwrap();
    rest.split_whitespace().next().unwrap().to_string()
}

/// The `streamed-to` LSN of the only hold in the primary's holds file (1 MB segments).
fn hold_streamed_to(p: &Server) -> u64 {
    let text = std::fs::read_to_string(p.datadir().join(HOLDS_FILE)).unwrap();
    let line = text.lines().nth(1).expect("a hold line");
    let lsn = line.split_whitespace().nth(4).expect("a streamed-to field");
    let (hi, lo) = lsn.split_once('/').unwrap();
    (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap()
}

/// The number of the last segment in a (not started) standby's copied `pg_wal`.
fn last_local_segment(s: &Server) -> u64 {
    std::fs::read_dir(s.datadir().join("pg_wal"))
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let hex = name.strip_suffix(".partial").unwrap_or(&name);
            (hex.len() == 24 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| {
                let hi = u64::from_str_radix(&hex[8..16], 16).unwrap();
                let lo = u64::from_str_radix(&hex[16..24], 16).unwrap();
                (hi << 12) | lo // 4096 segments of 1 MB in a 4 GB "log"
            })
        })
        .max()
        .expect("WAL in the standby's pg_wal")
}

fn segment_exists(p: &Server, name: &str) -> bool {
    p.datadir().join("pg_wal").join(name).exists()
}

/// Kills a server if it still runs.
fn stop_if_running(s: &mut Server) {
    if s.child.is_some() {
        s.stop();
    }
}

/// The scenario of the issue: a backup taken while the primary is busy, the load
/// going on for many more checkpoints (well past `wal_keep_size = 0`), a primary
/// restart before the standby first connects, then the standby started. With the hold
/// it streams and sees the latest rows; with the hold file deleted while the primary
/// was down (as if there were no holds) it gets "has already been removed".
fn busy_backup_then_late_standby(hold: bool) -> (Server, Server, String) {
    let tag = if hold { "ret-hold" } else { "ret-nohold" };
    let mut p = busy_primary(&format!("{tag}-p"), "");
    let writer = Writer::start(&p);
    writer.wait_rounds(2);
    let mut standby = basebackup_standby(&p, &format!("{tag}-s"));
    let seg = held_segment(&p);
    let rounds = writer.rounds.load(Ordering::SeqCst);
    writer.wait_rounds(rounds + 4);
    writer.finish();
    // The hold is visible and persisted.
    assert!(
        p.datadir().join(HOLDS_FILE).exists(),
        "no holds file; log:\n{}",
        p.log_text()
    );
    assert_eq!(
        query(&p, "select count(*), min(wal_file) from tusk_wal_holds"),
        format!("1|{seg}")
    );
    // The hold knows how far the backup's own WAL stream went: the standby's copied
    // pg_wal ends there, and its first stream starts in that segment or the next.
    wait_log(&mut p, "the WAL stream of the base backup ending at ", 1);
    let streamed_to = hold_streamed_to(&p);
    let local_end = last_local_segment(&standby);
    assert!(
        local_end <= streamed_to >> 20,
        "the standby's pg_wal reaches segment {local_end}, the hold's stream ended at {streamed_to:X}"
    );
    // The primary restarts before the standby ever connects.
    p.stop();
    if !hold {
        std::fs::remove_file(p.datadir().join(HOLDS_FILE)).unwrap();
    }
    p.start();
    let after_restart = if hold { "1" } else { "0" };
    assert_eq!(
        query(&p, "select count(*) from tusk_wal_holds"),
        after_restart
    );
    churn(&p, 6);
    assert_eq!(segment_exists(&p, &seg), hold, "segment {seg}");
    spawn(&mut standby);
    (p, standby, seg)
}

/// Test 1 and 2: the standby made right after a busy period starts and streams; its
/// hold is released once it got past it, and the held segment then goes.
#[test]
fn standby_from_busy_primary_starts_thanks_to_the_hold() {
    let (mut p, mut standby, seg) = busy_backup_then_late_standby(true);
    wait_log(&mut standby, "ready to accept read-only connections", 1);
    let want = query(&p, "select count(*) from t");
    wait_for(&standby, "select count(*) from t", &want);
    p.psql("insert into t (v) values ('after the standby started')");
    wait_for(
        &standby,
        "select count(*) from t where v = 'after the standby started'",
        "1",
    );
    // Released once the standby streamed past it; then the segments go.
    wait_log(&mut p, "released backup hold at ", 1);
    assert_eq!(query(&p, "select count(*) from tusk_wal_holds"), "0");
    assert!(!p.datadir().join(HOLDS_FILE).exists());
    churn(&p, 3);
    assert!(!segment_exists(&p, &seg), "{seg} still in pg_wal");
    assert!(!standby.log_text().contains("has already been removed"));
    // Test 3, second half: with wal_keep_segments = 64 (the guide's setting) a
    // standby stopped while the primary writes on catches up when it comes back.
    p.append_conf("wal_keep_segments = 64\n");
    assert_eq!(query(&p, "select pg_reload_conf()"), "t");
    wait_for(&p, "show wal_keep_size", "64MB");
    standby.stop();
    churn(&p, 6);
    spawn(&mut standby);
    let want = query(&p, "select count(*) from t");
    wait_for(&standby, "select count(*) from t", &want);
    assert!(!standby.log_text().contains("has already been removed"));
    // Test 3, first half: without hold, slot or wal_keep_size, the same standby
    // stopped while the primary writes on gets PostgreSQL's error and keeps retrying.
    p.append_conf("wal_keep_segments = 0\n");
    assert_eq!(query(&p, "select pg_reload_conf()"), "t");
    wait_for(&p, "show wal_keep_size", "0");
    standby.stop();
    churn(&p, 6);
    spawn(&mut standby);
    wait_log(&mut standby, "has already been removed", 2);
    let log = standby.log_text();
    assert!(
        log.contains("could not receive data from WAL stream: ERROR:  requested WAL segment 0000000100000000"),
        "{log}"
    );
    assert!(p.log_text().contains("has already been removed"));
    stop_if_running(&mut standby);
    p.stop();
}

/// Test 1, the control: the same scenario without the hold fails as PostgreSQL does.
#[test]
fn without_the_hold_the_same_standby_cannot_start() {
    let (mut p, mut standby, seg) = busy_backup_then_late_standby(false);
    wait_log(&mut standby, "has already been removed", 2);
    let log = standby.log_text();
    assert!(
        log.lines().any(|l| l.contains("requested WAL segment")
            && l.contains("has already been removed")
            && l.contains("0000000100000000")),
        "{log}"
    );
    assert!(!segment_exists(&p, &seg));
    stop_if_running(&mut standby);
    p.stop();
}

/// Test 4: a hold that would keep more than max_slot_wal_keep_size is dropped with its
/// LOG line, and its WAL goes.
#[test]
fn a_hold_beyond_max_slot_wal_keep_size_is_dropped() {
    let mut p = busy_primary("ret-cap-p", "max_slot_wal_keep_size = 3MB");
    churn(&p, 1);
    let standby = basebackup_standby(&p, "ret-cap-s");
    let seg = held_segment(&p);
    assert_eq!(query(&p, "select count(*) from tusk_wal_holds"), "1");
    // A few segments: still within the cap, the hold stays.
    churn(&p, 1);
    assert_eq!(query(&p, "select count(*) from tusk_wal_holds"), "1");
    assert!(segment_exists(&p, &seg));
    churn(&p, 6);
    wait_log(&mut p, "because it exceeds max_slot_wal_keep_size", 1);
    assert!(
        p.log_text().contains("LOG:  releasing backup hold at "),
        "{}",
        p.log_text()
    );
    assert_eq!(query(&p, "select count(*) from tusk_wal_holds"), "0");
    assert!(!p.datadir().join(HOLDS_FILE).exists());
    churn(&p, 2);
    assert!(!segment_exists(&p, &seg));
    drop(standby);
    // An operator releases a hold by hand (superusers only).
    let standby = basebackup_standby(&p, "ret-cap-s2");
    let lsn = query(&p, "select backup_end_lsn from tusk_wal_holds");
    assert!(lsn.contains('/'), "{lsn:?}");
    let denied = p.psql_as(
        "repl",
        "postgres",
        None,
        &format!("select tusk_release_wal_hold('{lsn}')"),
    );
    assert!(
        stderr(&denied).contains("permission denied for function tusk_release_wal_hold"),
        "{}",
        stderr(&denied)
    );
    assert_eq!(
        query(&p, &format!("select tusk_release_wal_hold('{lsn}')")),
        "t"
    );
    assert_eq!(
        query(&p, &format!("select tusk_release_wal_hold('{lsn}')")),
        "f"
    );
    assert!(p
        .log_text()
        .contains(&format!("released backup hold at {lsn} by request")));
    assert_eq!(query(&p, "select count(*) from tusk_wal_holds"), "0");
    assert!(!p.datadir().join(HOLDS_FILE).exists());
    drop(standby);
    p.stop();
}
