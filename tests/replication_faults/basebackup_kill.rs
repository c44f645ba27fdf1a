//! SIGKILL of the primary while a stock `pg_basebackup -Xs` copies it.
//!
//! Each round starts a throttled backup (`--max-rate`, so that it is still running
//! when the kill comes) under a write load, SIGKILLs the primary at a random moment,
//! and requires: `pg_basebackup` exits with an error within a bounded time and removes
//! the directory it made; the primary restarts and holds every acknowledged commit
//! with the bank invariants intact. After the rounds a new, unthrottled backup under
//! load must succeed, and the standby made from it (`-R`) must converge.

use crate::bank::{self, Load};
use crate::common::*;
use rand::{Rng, SeedableRng};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn primary_killed_during_pg_basebackup() {
    let tag = "bbkill";
    let rounds = bank::rounds(2);
    let mut rng = rand::rngs::StdRng::seed_from_u64(bank::seed(tag));
    let mut primary = Server::init(&format!("{tag}-p"), &["--wal-segsize=1"]);
    primary.start();
    bank::create_schema(&primary);
    // Some volume, so that a throttled backup takes seconds.
    primary.psql(
        "create table filler (id int primary key, pad text); \
         insert into filler select g, repeat('x', 200) from generate_series(1, 10000) g",
    );
    let rt = runtime();
    let t0 = Instant::now();
    let (mut failed, mut finished_first, mut commits) = (0, 0, 0u64);
    let mut error_lines = std::collections::BTreeSet::new();
    for round in 0..rounds {
        let load = Load::start(
            &rt,
            &primary.conninfo("postgres"),
            4,
            round as i32 * 100 + 1,
            false,
            rng.gen(),
        );
        load.wait_commits(10, "before the backup");
        let dir = TempDir::new(&format!("{tag}-b{round}"));
        let target = dir.path().join("data");
        let mut bb = Command::new(pg_bin("pg_basebackup"))
            .arg("-D")
            .arg(&target)
            .args(["-h", "127.0.0.1", "-p", &primary.port.to_string()])
            .args(["-U", "postgres", "-c", "fast", "-Xs", "-Fp", "-r", "64k"])
            .env_remove("PGPASSWORD")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("bb.err")).unwrap())
            .spawn()
            .unwrap();
        // Odd rounds kill early (the backup's checkpoint, the WAL streamer starting),
        // even ones while files are copied.
        let after = if round % 2 == 1 {
            rng.gen_range(0..150)
        } else {
            rng.gen_range(150..2000)
        };
        std::thread::sleep(Duration::from_millis(after));
        let t = Instant::now();
        primary.crash();
        let status = loop {
            if let Some(st) = bb.try_wait().unwrap() {
                break st;
            }
            if t.elapsed() > Duration::from_secs(60) {
                let _ = bb.kill();
                let _ = bb.wait();
                panic!("round {round}: pg_basebackup still running 60s after the primary died");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let bb_exit = t.elapsed();
        let err = std::fs::read_to_string(dir.path().join("bb.err")).unwrap_or_default();
        if status.success() {
            finished_first += 1;
        } else {
            failed += 1;
            // (The WAL streamer is a second pg_basebackup process writing to the same
            // stderr: the two messages may interleave.)
            assert!(
                err.contains("pg_basebackup") && err.contains("error:"),
                "round {round}: pg_basebackup failed without an error message: {err}"
            );
            assert!(
                !target.exists(),
                "round {round}: pg_basebackup left its directory behind: {err}"
            );
            for l in err.lines().filter(|l| l.contains("error:")) {
                error_lines.insert(l.to_string());
            }
        }
        let acked = load.stop(&rt);
        commits += acked.values().sum::<u64>();
        primary
            .try_start()
            .unwrap_or_else(|e| panic!("round {round}: restart: {e}\n{}", primary.log_text()));
        let v = bank::check(&primary, &acked, false, &format!("round {round}"));
        eprintln!(
            "{tag} round {round}: killed {after} ms into the backup; pg_basebackup {} {bb_exit:?} after the kill; {} commits acknowledged, all present ({} ledger rows)",
            if status.success() { "had finished" } else { "failed" },
            acked.values().sum::<u64>(),
            v.rows
        );
    }
    // A new backup under load succeeds and makes a standby that converges.
    let load = Load::start(
        &rt,
        &primary.conninfo("postgres"),
        4,
        9001,
        false,
        rng.gen(),
    );
    load.wait_commits(10, "before the last backup");
    let mut standby = basebackup(
        &primary,
        &format!("{tag}-s"),
        &["-Xs", "-Fp", "-R", "-C", "-S", "standby"],
    );
    crate::start_standby(&mut standby);
    load.wait_commits(20, "after the last backup");
    let acked = load.stop(&rt);
    let took = bank::converge(
        &primary,
        &standby,
        crate::CONVERGE,
        "standby from the new backup",
    );
    bank::check(&standby, &acked, false, "standby from the new backup");
    bank::wait_streaming(&primary, "standby from the new backup");
    eprintln!(
        "{tag}: {rounds} primary kills during pg_basebackup in {:?}: {failed} backups failed cleanly, {finished_first} had finished before the kill; \
         {commits} commits acknowledged, none lost; errors seen: {error_lines:?}; the standby from a new backup converged {took:?} after the load stopped",
        t0.elapsed()
    );
}
