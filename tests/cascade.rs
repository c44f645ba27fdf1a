//! Cascading replication against the real `tusk` binary and stock PostgreSQL 15
//! clients: a chain primary → A → B → C where every standby is made by stock
//! `pg_basebackup -Fp -Xs -R` from its upstream — A from the primary, B from the
//! standby A, C from the standby B.
//!
//! - rows committed on the primary reach the end of the chain;
//! - B streams through a physical slot created on the standby A;
//! - A's `pg_stat_replication` lists B (streaming, LSNs, always `async` although A's
//!   `synchronous_standby_names` is `*`: synchronous cascading is not supported), and
//!   `ps` shows A's walsender next to its walreceiver;
//! - a backup taken from a standby says `BACKUP FROM: standby` and starts a working
//!   standby, with the WAL streamed (`-X stream`) or fetched into it (`-X fetch`);
//! - the primary is killed and A promoted: B follows A onto timeline 2 (A's cascading
//!   walsender ends timeline 1 at the switch point), and C follows B, whose replay
//!   moved on to timeline 2 (a middle standby following its upstream's promotion);
//!   rows committed on A reach both, and B is A's synchronous standby now that A is a
//!   primary; a backup of B taken now starts on timeline 2.
//!
//! Every wait is bounded; servers are killed and their directories removed on drop.

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

/// Starts a standby and waits (bounded) until it accepts read-only connections.
fn start_standby(s: &mut Server) {
    let before = s.log_text().matches("ready to accept read-only").count();
    spawn(s);
    wait_log(s, "ready to accept read-only connections", before + 1);
}

/// A standby of `upstream` made by stock `pg_basebackup -Fp -Xs -R`, named
/// `<tag><port>` (its `cluster_name`, so its walreceiver's `application_name`).
fn standby_of(upstream: &Server, tag: &str, conf: &str) -> (Server, String) {
    let s = basebackup(upstream, tag, &["-Fp", "-Xs", "-R"]);
    let name = format!("{tag}{}", s.port);
    s.append_conf(&format!(
        "cluster_name = '{name}'\nwal_retrieve_retry_interval = 200ms\n{conf}\n"
    ));
    (s, name)
}

/// `application_name|state|sync_priority|sync_state|LSNs shown` of each walsender.
const SENDERS: &str = "select application_name, state, sync_priority, sync_state, \
     sent_lsn is not null and write_lsn is not null and flush_lsn is not null \
     and replay_lsn is not null from pg_stat_replication order by application_name";

#[test]
fn chain_of_standbys_follows_a_promotion() {
    let mut primary = Server::init("cas-p", &["--wal-segsize=1"]);
    primary.start();
    primary.psql("create table t (id int primary key, v text)");
    primary.psql("insert into t values (1, 'p')");

    // A: a standby of the primary. Its synchronous_standby_names does not make its
    // own standbys synchronous while it is a standby.
    let (mut a, a_name) = standby_of(&primary, "casa", "synchronous_standby_names = '*'");
    start_standby(&mut a);
    wait_for(&a, "select count(*) from t", "1");

    // B: stock pg_basebackup from the standby A, streaming through a physical slot
    // made on A (a standby keeps WAL for its slots too).
    a.psql("select pg_create_physical_replication_slot('b_slot', true)");
    let (mut b, b_name) = standby_of(&a, "casb", "primary_slot_name = 'b_slot'");
    let label = std::fs::read_to_string(b.datadir().join("backup_label")).unwrap();
    assert!(label.contains("BACKUP FROM: standby\n"), "{label}");
    start_standby(&mut b);

    primary.psql("insert into t select g, 'p' from generate_series(2, 100) g");
    wait_for(&b, "select count(*) from t", "100");
    wait_for(&a, SENDERS, &format!("{b_name}|streaming|0|async|t"));
    assert_eq!(
        b.psql("select status, sender_port, slot_name from pg_stat_wal_receiver"),
        format!("streaming|{}|b_slot", a.port)
    );
    wait_for(
        &a,
        "select active, restart_lsn = (select flush_lsn from pg_stat_replication) \
         from pg_replication_slots where slot_name = 'b_slot'",
        "t|t",
    );
    // IDENTIFY_SYSTEM on A: the primary's system, A's timeline.
    let sysid = primary.psql("select system_identifier from pg_control_system()");
    let out = run_with_timeout(
        Command::new(pg_bin("psql"))
            .arg(format!(
                "host=127.0.0.1 port={} user=postgres replication=true dbname=replication",
                a.port
            ))
            .args(["-X", "-A", "-t", "-c", "IDENTIFY_SYSTEM"]),
        Duration::from_secs(30),
    );
    let row = stdout(&out);
    assert!(
        row.starts_with(&format!("{sysid}|1|")),
        "{row} {}",
        stderr(&out)
    );
    // ps: A's walsender next to its walreceiver.
    let sender = format!("{a_name}: walsender postgres 127.0.0.1(");
    let receiver = format!("{a_name}: walreceiver streaming");
    wait_until("ps shows A's walsender and walreceiver", || {
        ps_lines(&sender).iter().any(|l| l.contains("streaming")) && !ps_lines(&receiver).is_empty()
    });

    // C: stock pg_basebackup from the standby B (two hops from the primary).
    // (B's postgresql.conf came along: C names no slot of B.)
    let (mut c, c_name) = standby_of(&b, "casc", "primary_slot_name = ''");
    start_standby(&mut c);
    primary.psql("insert into t select g, 'p' from generate_series(101, 110) g");
    wait_for(&c, "select count(*) from t", "110");
    wait_for(&b, SENDERS, &format!("{c_name}|streaming|0|async|t"));
    // A sends only what it received or replayed.
    wait_for(
        &a,
        "select greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) \
         >= (select max(sent_lsn) from pg_stat_replication)",
        "t",
    );

    // D: a backup of the standby A with the WAL fetched into it (`-X fetch`), which
    // A's pg_wal holds up to the backup's end.
    let mut d = basebackup(&a, "casd", &["-Fp", "-Xf", "-R"]);
    d.append_conf("wal_retrieve_retry_interval = 200ms\n");
    start_standby(&mut d);
    primary.psql("insert into t values (1000, 'p')");
    wait_for(&d, "select count(*) from t", "111");
    d.stop();

    // The primary dies; A is promoted onto timeline 2.
    primary.crash();
    let out = run_with_timeout(
        Command::new(tusk_bin())
            .args(["ctl", "promote", "-D"])
            .arg(a.datadir()),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "tusk ctl promote: {}\n{}",
        stderr(&out),
        a.log_text()
    );
    wait_for(&a, "select pg_is_in_recovery()", "f");
    assert_eq!(
        a.psql("select timeline_id from pg_control_checkpoint()"),
        "2"
    );
    // B follows A onto timeline 2; A is a primary now, so B is its synchronous
    // standby ('*'), and this commit returns once B has it.
    wait_for(&b, "select received_tli from pg_stat_wal_receiver", "2");
    a.psql("insert into t select g, 'a' from generate_series(111, 120) g");
    assert_eq!(a.psql(SENDERS), format!("{b_name}|streaming|1|sync|t"));
    wait_for(&b, "select count(*) from t where v = 'a'", "10");
    // C follows B, whose replay moved on to timeline 2.
    wait_for(&c, "select count(*) from t where v = 'a'", "10");
    wait_for(&c, "select received_tli from pg_stat_wal_receiver", "2");
    assert!(b.log_text().contains("new target timeline is 2"));
    assert!(c.log_text().contains("new target timeline is 2"));
    assert!(c
        .log_text()
        .contains("fetching timeline history file for timeline 2 from primary server"));
    wait_for(&b, SENDERS, &format!("{c_name}|streaming|0|async|t"));

    // E: a backup of B after B followed onto timeline 2 starts on timeline 2.
    let (mut e, _) = standby_of(&b, "case", "primary_slot_name = ''");
    let label = std::fs::read_to_string(e.datadir().join("backup_label")).unwrap();
    assert!(
        label.contains("BACKUP FROM: standby\n") && label.contains("START TIMELINE: 2\n"),
        "{label}"
    );
    start_standby(&mut e);
    a.psql("insert into t values (2000, 'a')");
    wait_for(&e, "select count(*) from t where v = 'a'", "11");
    e.stop();

    c.stop();
    b.stop();
    a.stop();
}
