//! SIGKILL of a streaming standby at random moments under primary write load.
//!
//! Each round (every other one with `CHECKPOINT` — restartpoints — running on the
//! standby in a loop up to the kill) kills the standby, lets the primary write on, restarts the standby and
//! waits (bounded) until it has replayed past where the primary was at the restart
//! and the primary shows it streaming again. A monitor samples the standby's
//! `pg_last_wal_replay_lsn()` over and over on one connection at a time (a connection
//! never outlives the process it talks to): within a connection the position must
//! never go backwards; the first sample of every connection is compared with the
//! highest seen before, and how far a restarted standby opened behind it is reported
//! (PostgreSQL's standby too opens at its consistency point, which may be behind).
//! At the end the load stops and the standby must hold exactly the primary's data,
//! the primary every acknowledged commit.

use crate::bank::{self, Load};
use crate::common::*;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Replay positions sampled: (connection number, LSN).
type Samples = Arc<Mutex<Vec<(u64, u64)>>>;

async fn monitor(conninfo: String, samples: Samples, stop: Arc<AtomicBool>) {
    let mut conn_no = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let Ok(Ok((c, conn))) = tokio::time::timeout(
            Duration::from_secs(5),
            tokio_postgres::connect(&conninfo, tokio_postgres::NoTls),
        )
        .await
        else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        tokio::spawn(async move {
            let _ = conn.await;
        });
        conn_no += 1;
        while !stop.load(Ordering::SeqCst) {
            let Ok(rows) = c
                .simple_query("select pg_last_wal_replay_lsn()::text")
                .await
            else {
                break;
            };
            if let Some(tokio_postgres::SimpleQueryMessage::Row(r)) = rows
                .iter()
                .find(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_)))
            {
                if let Some(t) = r.get(0) {
                    samples.lock().unwrap().push((conn_no, bank::parse_lsn(t)));
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[test]
fn standby_killed_under_load_converges() {
    let tag = "sbkill";
    let rounds = bank::rounds(3);
    let mut rng = rand::rngs::StdRng::seed_from_u64(bank::seed(tag));
    let (primary, mut standby) = crate::primary_and_standby(tag, "", "", None);
    crate::start_standby(&mut standby);
    bank::wait_streaming(&primary, "first start");
    let rt = runtime();
    let load = Load::start(&rt, &primary.conninfo("postgres"), 4, 1, false, rng.gen());
    let samples: Samples = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mon = rt.spawn(monitor(
        standby.conninfo("postgres"),
        samples.clone(),
        stop.clone(),
    ));
    let t0 = Instant::now();
    let (mut max_ready, mut max_catch) = (Duration::ZERO, Duration::ZERO);
    for round in 0..rounds {
        load.wait_commits(20, "before the kill");
        // Every other round, restartpoints race the kill.
        let checkpoints = (round % 2 == 1).then(|| {
            let conninfo = standby.conninfo("postgres");
            rt.spawn(async move {
                let Ok((c, conn)) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls).await
                else {
                    return 0u32;
                };
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                let mut n = 0;
                while c.batch_execute("checkpoint").await.is_ok() {
                    n += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                n
            })
        });
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..1200)));
        standby.crash();
        let restartpoints = checkpoints.map(|h| {
            rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(30), h)
                    .await
                    .expect("the checkpoint loop did not end after the kill")
                    .unwrap_or(0)
            })
        });
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..500)));
        let t = Instant::now();
        crate::start_standby(&mut standby);
        let ready = t.elapsed();
        let caught = bank::catch_up(
            &primary,
            &standby,
            crate::CONVERGE,
            &format!("round {round}"),
        );
        bank::wait_streaming(&primary, &format!("round {round}"));
        max_ready = max_ready.max(ready);
        max_catch = max_catch.max(caught);
        eprintln!(
            "{tag} round {round}: restartpoints before the kill {restartpoints:?}, ready after {ready:?}, caught up {caught:?} later, {} commits so far",
            load.counters.commits.load(Ordering::SeqCst)
        );
    }
    let acked = load.stop(&rt);
    let took = bank::converge(&primary, &standby, crate::CONVERGE, "end");
    stop.store(true, Ordering::SeqCst);
    rt.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(10), mon).await;
    });
    let v = bank::check(&primary, &acked, false, "primary");
    bank::check(&standby, &acked, false, "standby");

    // Within one life of the standby the replay position never goes backwards. A
    // restarted standby opens for reads at its consistency point (the minimum recovery
    // point of its last restartpoint), as PostgreSQL's does, which may be behind what it
    // showed before the kill: that step back is measured, not forbidden.
    let samples = samples.lock().unwrap().clone();
    let mut highest = 0u64;
    let mut last: Option<(u64, u64)> = None;
    let (mut conns, mut restarts_behind, mut max_behind) = (0, 0, 0u64);
    for (conn, lsn) in &samples {
        match last {
            Some((c, l)) if c == *conn => assert!(
                *lsn >= l,
                "connection {conn}: replay position went back from {l:X} to {lsn:X}"
            ),
            _ => {
                conns += 1;
                if *lsn < highest {
                    restarts_behind += 1;
                    max_behind = max_behind.max(highest - lsn);
                }
            }
        }
        highest = highest.max(*lsn);
        last = Some((*conn, *lsn));
    }
    assert!(conns > rounds, "the monitor saw only {conns} standby lives");
    eprintln!(
        "{tag}: {rounds} standby kills in {:?}: {} commits acknowledged, all on the primary and the standby ({} ledger rows); \
         restart to ready at most {max_ready:?}, catch-up at most {max_catch:?}, final convergence {took:?}; \
         {} replay positions sampled over {conns} connections, never backwards within one; \
         {restarts_behind} restarts opened behind the position shown before the kill (at most {max_behind} bytes)",
        t0.elapsed(),
        acked.values().sum::<u64>(),
        v.rows,
        samples.len()
    );
}
