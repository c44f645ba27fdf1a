//! Failover under load: SIGKILL of the primary, promotion of its streaming standby
//! (`tusk ctl promote` and `pg_promote()` in turn), and how many acknowledged commits
//! reached it.
//!
//! Here tusk replicates asynchronously (`tests/sync_replication.rs` covers the
//! synchronous case), so a commit acknowledged by the primary may not have reached
//! the standby when the primary dies. This scenario measures that window instead of asserting it is empty: a
//! sampler reads the primary's `pg_stat_replication` every few milliseconds, and the
//! last sample before the kill gives the replay lag in bytes and time. The promoted
//! standby must be consistent — every bank invariant holds, each client's ledger is a
//! gap-free prefix of what it sent, so no transaction is half applied — and writable;
//! the old primary, restarted, must still hold every acknowledged commit (they were
//! durable locally; only replication lagged).

use crate::bank::{self, Load};
use crate::common::*;
use rand::{Rng, SeedableRng};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The last replication sample: (lag in bytes, `replay_lag` as text, when taken).
type Sample = Arc<Mutex<Option<(i64, String, Instant)>>>;

async fn sampler(conninfo: String, last: Sample, stop: Arc<AtomicBool>) {
    let Ok((c, conn)) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls).await else {
        return;
    };
    tokio::spawn(async move {
        let _ = conn.await;
    });
    while !stop.load(Ordering::SeqCst) {
        let Ok(rows) = c
            .simple_query(
                "select pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint::text, coalesce(replay_lag::text, '') from pg_stat_replication",
            )
            .await
        else {
            return;
        };
        if let Some(tokio_postgres::SimpleQueryMessage::Row(r)) = rows
            .iter()
            .find(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_)))
        {
            if let (Some(b), Some(t)) = (r.get(0), r.get(1)) {
                *last.lock().unwrap() =
                    Some((b.parse().unwrap_or(-1), t.to_string(), Instant::now()));
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn failover_under_load_measures_the_loss_window() {
    let tag = "failover";
    let rounds = bank::rounds(2);
    let mut rng = rand::rngs::StdRng::seed_from_u64(bank::seed(tag));
    let rt = runtime();
    let t0 = Instant::now();
    let (mut commits, mut lost, mut max_lost, mut lossy_failovers) = (0u64, 0u64, 0u64, 0);
    let mut lags = Vec::new();
    for round in 0..rounds {
        let (mut primary, mut standby) =
            crate::primary_and_standby(&format!("{tag}{round}"), "", "", None);
        crate::start_standby(&mut standby);
        bank::wait_streaming(&primary, "before the load");
        let load = Load::start(&rt, &primary.conninfo("postgres"), 4, 1, false, rng.gen());
        let last: Sample = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let s = rt.spawn(sampler(
            primary.conninfo("postgres"),
            last.clone(),
            stop.clone(),
        ));
        load.wait_commits(50, "before the kill");
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..1500)));
        let lag = last
            .lock()
            .unwrap()
            .clone()
            .map(|(b, t, at)| (b, t, at.elapsed()));
        primary.crash();
        stop.store(true, Ordering::SeqCst);
        let acked = load.stop(&rt);
        rt.block_on(async {
            let _ = tokio::time::timeout(Duration::from_secs(10), s).await;
        });
        // Even rounds promote with `tusk ctl promote`, odd ones with `pg_promote()`.
        let t = Instant::now();
        if round % 2 == 0 {
            let out = run_with_timeout(
                Command::new(tusk_bin())
                    .args(["ctl", "promote", "-D"])
                    .arg(standby.datadir()),
                Duration::from_secs(60),
            );
            assert!(
                out.status.success(),
                "round {round}: tusk ctl promote: {}\n{}",
                stderr(&out),
                bank::tail(&standby.log_text(), 40)
            );
        } else {
            assert_eq!(standby.psql("select pg_promote(true, 60)"), "t");
        }
        let promote = t.elapsed();
        assert_eq!(standby.psql("select pg_is_in_recovery()"), "f");
        let v = bank::check(
            &standby,
            &acked,
            true,
            &format!("round {round}: promoted standby"),
        );
        // The new primary takes writes.
        standby.psql(
            "begin; update accounts set balance = balance + 1 where id = 1; \
             update accounts set balance = balance - 1 where id = 2; \
             insert into ledger values (0, 1, 2, 1, 1); commit",
        );
        bank::check(
            &standby,
            &acked,
            true,
            &format!("round {round}: promoted standby after a write"),
        );
        // The old primary lost nothing it acknowledged.
        primary
            .try_start()
            .unwrap_or_else(|e| panic!("round {round}: old primary restart: {e}"));
        bank::check(
            &primary,
            &acked,
            false,
            &format!("round {round}: old primary"),
        );
        let sent: u64 = acked.values().sum();
        commits += sent;
        lost += v.lost;
        max_lost = max_lost.max(v.lost);
        if v.lost > 0 {
            lossy_failovers += 1;
        }
        eprintln!(
            "{tag} round {round}: {sent} commits acknowledged, {} missing on the promoted standby, {} in flight found there; \
             replay lag just before the kill: {lag:?} (bytes, replay_lag, sample age); promotion took {promote:?}",
            v.lost, v.in_flight
        );
        lags.push(lag.map_or(-1, |l| l.0));
        standby.stop();
        primary.stop();
    }
    lags.sort_unstable();
    eprintln!(
        "{tag}: {rounds} failovers in {:?}: {commits} commits acknowledged, {lost} of them missing on the promoted standby \
         (at most {max_lost} in one failover, {lossy_failovers} failovers lost any); replay lag before the kill in bytes: \
         median {}, max {}; every promoted standby consistent",
        t0.elapsed(),
        lags.get(lags.len() / 2).copied().unwrap_or(-1),
        lags.last().copied().unwrap_or(-1),
    );
}
