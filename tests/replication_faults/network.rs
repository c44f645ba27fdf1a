//! Network faults between a streaming standby and its primary, made by a [`Proxy`]
//! the standby's `primary_conninfo` points at.
//!
//! - [`link_cut_refused_and_primary_restarts`]: under a write load (clients that
//!   reconnect), rounds of a random fault — every connection cut; cut and new
//!   connections refused for a while; the primary stopped and restarted; the primary
//!   SIGKILLed and restarted; a flapping link (ten cuts in quick succession) — each
//!   followed by a bounded wait for the standby to
//!   replay past the primary's position, for `pg_stat_replication` to show one
//!   streaming walsender again and `pg_stat_wal_receiver` a streaming walreceiver.
//! - [`stalled_link_fires_both_timeouts`]: the link stops forwarding without closing
//!   while the primary writes megabytes; with `wal_sender_timeout` and
//!   `wal_receiver_timeout` at 2 s both sides must give up (PostgreSQL's log lines),
//!   the primary's `pg_stat_replication` must empty, and once the link forwards again
//!   the standby must reconnect and catch up; at the end the primary is shut down
//!   (fast) with the link stalled, which must not wait beyond that timeout.
//!
//! Both end with the load stopped and the standby holding exactly the primary's data,
//! and no acknowledged commit missing on either.

use crate::bank::{self, Load};
use crate::common::*;
use crate::proxy::{Mode, Proxy};
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

/// Waits (bounded by `limit`) until `text` occurs more than `before` times in `s`'s log.
fn wait_log_count(s: &Server, text: &str, before: usize, limit: Duration, what: &str) -> Duration {
    let t = Instant::now();
    while s.log_text().matches(text).count() <= before {
        assert!(
            t.elapsed() < limit,
            "{what}: no new {text:?} within {limit:?}; log:\n{}",
            bank::tail(&s.log_text(), 40)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    t.elapsed()
}

#[test]
fn link_cut_refused_and_primary_restarts() {
    let tag = "netcut";
    let rounds = bank::rounds(5);
    let mut rng = rand::rngs::StdRng::seed_from_u64(bank::seed(tag));
    let proxy_port = free_port();
    let (mut primary, mut standby) = crate::primary_and_standby(tag, "", "", Some(proxy_port));
    let proxy = Proxy::start(proxy_port, primary.port);
    crate::start_standby(&mut standby);
    bank::wait_streaming(&primary, "first start");
    let rt = runtime();
    let load = Load::start(&rt, &primary.conninfo("postgres"), 4, 1, true, rng.gen());
    let t0 = Instant::now();
    let mut counts = [0usize; 5];
    let mut max_catch = Duration::ZERO;
    for round in 0..rounds {
        load.wait_commits(20, &format!("round {round}: before the fault"));
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..800)));
        // In the short mode every fault runs once, in order.
        let fault = if round < 5 {
            round
        } else {
            rng.gen_range(0..5)
        };
        let what = match fault {
            0 => {
                proxy.cut();
                "link cut".to_string()
            }
            1 => {
                let pause = Duration::from_millis(rng.gen_range(500..3000));
                proxy.set_mode(Mode::Refuse);
                proxy.cut();
                std::thread::sleep(pause);
                proxy.set_mode(Mode::Forward);
                format!("link cut, connections refused for {pause:?}")
            }
            2 => {
                primary.stop();
                primary.start();
                "primary restarted (fast shutdown)".to_string()
            }
            3 => {
                primary.crash();
                primary
                    .try_start()
                    .unwrap_or_else(|e| panic!("round {round}: restart: {e}"));
                "primary SIGKILLed and restarted".to_string()
            }
            _ => {
                // A flapping link: cuts land in every phase of the walreceiver's
                // connection (startup, authentication, IDENTIFY_SYSTEM, streaming).
                for _ in 0..10 {
                    proxy.cut();
                    std::thread::sleep(Duration::from_millis(rng.gen_range(5..300)));
                }
                "link flapping (10 cuts 5-300 ms apart)".to_string()
            }
        };
        counts[fault] += 1;
        let caught = bank::catch_up(
            &primary,
            &standby,
            crate::CONVERGE,
            &format!("round {round} ({what})"),
        );
        bank::wait_streaming(&primary, &format!("round {round} ({what})"));
        bank::wait_receiving(&standby, &format!("round {round} ({what})"));
        max_catch = max_catch.max(caught);
        eprintln!("{tag} round {round}: {what}; the standby caught up in {caught:?}");
    }
    let acked = load.stop(&rt);
    let took = bank::converge(&primary, &standby, crate::CONVERGE, "end");
    let v = bank::check(&primary, &acked, false, "primary");
    bank::check(&standby, &acked, false, "standby");
    eprintln!(
        "{tag}: {rounds} faults in {:?} (cuts {}, refusals {}, primary restarts {}, primary kills {}, flapping links {}); \
         {} connections through the proxy; catch-up at most {max_catch:?}, final convergence {took:?}; \
         {} commits acknowledged, none lost ({} ledger rows)",
        t0.elapsed(),
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        counts[4],
        proxy.accepted(),
        acked.values().sum::<u64>(),
        v.rows
    );
    drop(proxy);
}

#[test]
fn stalled_link_fires_both_timeouts() {
    let tag = "netstall";
    let rounds = bank::rounds(2).min(20);
    let mut rng = rand::rngs::StdRng::seed_from_u64(bank::seed(tag));
    let proxy_port = free_port();
    let (mut primary, mut standby) = crate::primary_and_standby(
        tag,
        "wal_sender_timeout = 2s\n",
        "wal_receiver_timeout = 2s\n",
        Some(proxy_port),
    );
    let proxy = Proxy::start(proxy_port, primary.port);
    primary.psql("create table filler (id int, pad text)");
    crate::start_standby(&mut standby);
    bank::wait_streaming(&primary, "first start");
    let rt = runtime();
    let load = Load::start(&rt, &primary.conninfo("postgres"), 2, 1, false, rng.gen());
    let t0 = Instant::now();
    let (mut max_sender, mut max_receiver, mut max_catch) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for round in 0..rounds {
        load.wait_commits(10, &format!("round {round}: before the stall"));
        let sender_before = primary
            .log_text()
            .matches("terminating walsender process due to replication timeout")
            .count();
        let receiver_before = standby
            .log_text()
            .matches("terminating walreceiver due to timeout")
            .count();
        proxy.set_mode(Mode::Stall);
        let stalled = Instant::now();
        // Megabytes of WAL while stalled: more than the socket buffers hold.
        primary.psql(&format!(
            "insert into filler select g, repeat('{round}', 500) from generate_series(1, 20000) g"
        ));
        let limit = Duration::from_secs(20);
        wait_log_count(
            &primary,
            "terminating walsender process due to replication timeout",
            sender_before,
            limit,
            &format!("round {round}"),
        );
        let sender = stalled.elapsed();
        wait_log_count(
            &standby,
            "terminating walreceiver due to timeout",
            receiver_before,
            limit,
            &format!("round {round}"),
        );
        let receiver = stalled.elapsed();
        // The primary forgets the dead walsender.
        let t = Instant::now();
        loop {
            let rows = primary.psql("select pid, state, sent_lsn from pg_stat_replication");
            if rows.is_empty() {
                break;
            }
            assert!(
                t.elapsed() < limit,
                "round {round}: pg_stat_replication still shows {rows:?} {limit:?} after the walsender timed out; log:\n{}",
                bank::tail(&primary.log_text(), 30)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        proxy.set_mode(Mode::Forward);
        let resumed = Instant::now();
        bank::catch_up(
            &primary,
            &standby,
            crate::CONVERGE,
            &format!("round {round}"),
        );
        bank::wait_streaming(&primary, &format!("round {round}"));
        bank::wait_receiving(&standby, &format!("round {round}"));
        let caught = resumed.elapsed();
        max_sender = max_sender.max(sender);
        max_receiver = max_receiver.max(receiver);
        max_catch = max_catch.max(caught);
        eprintln!(
            "{tag} round {round}: walsender timed out {sender:?} and walreceiver {receiver:?} into the stall; \
             caught up {caught:?} after the link came back"
        );
    }
    let acked = load.stop(&rt);
    // A fast shutdown of the primary while the link is stalled: its walsender cannot
    // deliver the shutdown checkpoint, and must give up within wal_sender_timeout
    // (PostgreSQL's walsenders wait for the standby under the same timeout).
    proxy.set_mode(Mode::Stall);
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    primary.stop();
    let shutdown = t.elapsed();
    assert!(
        shutdown < Duration::from_secs(10),
        "a fast shutdown with a stalled standby took {shutdown:?}"
    );
    primary.start();
    proxy.set_mode(Mode::Forward);
    let took = bank::converge(&primary, &standby, crate::CONVERGE, "end");
    bank::wait_streaming(&primary, "after the restart");
    assert_eq!(
        primary.psql("select count(*) from filler"),
        standby.psql("select count(*) from filler")
    );
    let v = bank::check(&primary, &acked, false, "primary");
    bank::check(&standby, &acked, false, "standby");
    eprintln!(
        "{tag}: {rounds} stalls in {:?}: walsender timeout at most {max_sender:?}, walreceiver timeout at most {max_receiver:?} \
         into the stall (both set to 2s), catch-up at most {max_catch:?} after the link returned; a fast shutdown of the primary with the link stalled took {shutdown:?}, final convergence {took:?}; \
         {} commits acknowledged, none lost ({} ledger rows)",
        t0.elapsed(),
        acked.values().sum::<u64>(),
        v.rows
    );
    drop(proxy);
}

/// The primary SIGKILLed mid-stream with `synchronous_commit = off`: acknowledged
/// commits whose WAL was not yet flushed are lost on the primary (allowed, counted),
/// and must never have reached the standby either — a walsender sends only flushed
/// WAL. Otherwise the standby would hold transactions its primary forgot, and the
/// clients, resuming after the primary's highest `seq`, would write different
/// transfers under the same keys: the final comparison would differ.
#[test]
fn primary_killed_with_asynchronous_commit_standby_never_ahead() {
    let tag = "netasync";
    let rounds = bank::rounds(3);
    let mut rng = rand::rngs::StdRng::seed_from_u64(bank::seed(tag));
    let (mut primary, mut standby) =
        crate::primary_and_standby(tag, "synchronous_commit = off\n", "", None);
    crate::start_standby(&mut standby);
    bank::wait_streaming(&primary, "first start");
    let rt = runtime();
    let load = Load::start(&rt, &primary.conninfo("postgres"), 4, 1, true, rng.gen());
    let t0 = Instant::now();
    let mut max_catch = Duration::ZERO;
    for round in 0..rounds {
        load.wait_commits(50, &format!("round {round}: before the kill"));
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..800)));
        primary.crash();
        primary
            .try_start()
            .unwrap_or_else(|e| panic!("round {round}: restart: {e}"));
        let caught = bank::catch_up(
            &primary,
            &standby,
            crate::CONVERGE,
            &format!("round {round}"),
        );
        bank::wait_streaming(&primary, &format!("round {round}"));
        max_catch = max_catch.max(caught);
        eprintln!("{tag} round {round}: the standby caught up {caught:?} after the restart");
    }
    let counters = load.counters.clone();
    let acked = load.stop(&rt);
    let took = bank::converge(&primary, &standby, crate::CONVERGE, "end");
    let v = bank::check(&primary, &acked, true, "primary");
    bank::check(&standby, &acked, true, "standby");
    let lost = counters.lost.load(std::sync::atomic::Ordering::SeqCst) + v.lost;
    eprintln!(
        "{tag}: {rounds} primary kills with synchronous_commit = off in {:?}: {} commits acknowledged, \
         {lost} acknowledged commits lost by the primary and by the standby alike, none on one side only; \
         catch-up at most {max_catch:?}, final convergence {took:?}",
        t0.elapsed(),
        counters.commits.load(std::sync::atomic::Ordering::SeqCst),
    );
}
