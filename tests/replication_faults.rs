//! Replication under faults (issue 8, points 1, 2 and 4): real `tusk` clusters — a
//! primary and a streaming standby — under a bank-transfer write load, with processes
//! SIGKILLed and the network between them cut, refused and stalled. Whatever happens, a
//! standby must converge to its primary's data, no transaction may be half applied,
//! and no acknowledged commit may be lost except through the asynchronous-replication
//! window of a failover, which is measured and printed.
//!
//! - [`standby_kill`]: SIGKILL of a streaming standby at random moments; it restarts,
//!   converges, and its replay position never goes backwards;
//! - [`basebackup_kill`]: SIGKILL of the primary while a stock `pg_basebackup -Xs` runs;
//!   the backup fails cleanly, the primary keeps every acknowledged commit, a new
//!   backup makes a standby that converges;
//! - [`failover`]: SIGKILL of the primary under load, promotion of the standby, and the
//!   acknowledged commits that did not reach it, against the replay lag just before;
//! - [`network`]: a [`proxy`] between standby and primary cuts the link, refuses
//!   connections and stalls (firing `wal_sender_timeout` / `wal_receiver_timeout`),
//!   and the primary restarts mid-stream — also SIGKILLed with
//!   `synchronous_commit = off`, where the standby must lose exactly what the primary
//!   lost;
//! - [`bank`]: the load, the checks and the convergence wait all of them share.
//!
//! Short mode (CI): `cargo test --test replication_faults` (a few rounds each). Long
//! mode: `TUSK_REPL_ROUNDS=20 cargo test --test replication_faults -- --nocapture`; the
//! summaries printed per scenario are the report (tests/replication_faults/README.md
//! keeps the figures of a long run). `TUSK_REPL_SEED=<n>` replays the random choices.

#[path = "replication_faults/bank.rs"]
mod bank;
#[path = "common/mod.rs"]
mod common;
#[path = "replication_faults/proxy.rs"]
mod proxy;

#[path = "replication_faults/basebackup_kill.rs"]
mod basebackup_kill;
#[path = "replication_faults/failover.rs"]
mod failover;
#[path = "replication_faults/network.rs"]
mod network;
#[path = "replication_faults/standby_kill.rs"]
mod standby_kill;

use common::*;
use std::time::Duration;

/// Starts a standby and waits (bounded) until it accepts read-only connections.
pub fn start_standby(s: &mut Server) {
    let before = s.log_text().matches("ready to accept read-only").count();
    spawn(s);
    wait_log(s, "ready to accept read-only connections", before + 1);
}

/// A primary with the bank schema and a standby copied from it (not started), whose
/// `primary_conninfo` names `port` (the primary's own, or a proxy's; `None`: the
/// primary's) and which has `standby_conf` appended. The primary runs.
///
/// The standby streams through a physical slot: without one (or `wal_keep_size`), a
/// standby lagging behind a segment boundary when the primary checkpoints — the
/// end-of-recovery checkpoint after a crash, say — finds the segment it needs removed
/// (`requested WAL segment … has already been removed`) and can never catch up, in
/// PostgreSQL as in tusk.
pub fn primary_and_standby(
    tag: &str,
    primary_conf: &str,
    standby_conf: &str,
    port: Option<u16>,
) -> (Server, Server) {
    let mut primary = Server::init(&format!("{tag}-p"), &["--wal-segsize=1"]);
    primary.append_conf(primary_conf);
    primary.start();
    bank::create_schema(&primary);
    primary.stop();
    let standby = make_standby(
        &primary,
        &format!("{tag}-s"),
        &format!(
            "primary_conninfo = 'host=127.0.0.1 port={} user=postgres application_name={tag}'\nprimary_slot_name = 'standby'\nwal_retrieve_retry_interval = 200ms\nwal_receiver_status_interval = 1s\n{standby_conf}",
            port.unwrap_or(primary.port)
        ),
    );
    primary.start();
    primary.psql("select pg_create_physical_replication_slot('standby', true)");
    (primary, standby)
}

/// The convergence limit for every scenario.
pub const CONVERGE: Duration = Duration::from_secs(60);
