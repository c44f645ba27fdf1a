//! Standby scenarios against the real `tusk` binary: a standby built by copying a
//! cleanly stopped primary's data directory plus `standby.signal`, fed by copying WAL
//! segments into its `pg_wal` (continuous replay), and — when the primary can stream —
//! fed by its walreceiver. Checks replay visibility, read-only errors, pause/resume,
//! the hot-standby parameter check, restarts, and refused connections.
//!
//! Every wait is bounded; servers are killed and their directories removed on drop.

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

/// Starts a standby and waits (bounded) until it accepts read-only connections.
fn start_standby(s: &mut Server) {
    let before = s.log_text().matches("ready to accept read-only").count();
    spawn(s);
    wait_log(s, "ready to accept read-only connections", before + 1);
}

/// Copies every segment file of `from`'s pg_wal into `to`'s (temp file + rename, so
/// the standby never reads a half-copied file).
fn ship_wal(from: &Server, to: &Server) {
    let src = from.datadir().join("pg_wal");
    let dst = to.datadir().join("pg_wal");
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.len() == 24 && name.chars().all(|c| c.is_ascii_hexdigit()) {
            let tmp = dst.join(format!("{name}.tmp"));
            std::fs::copy(e.path(), &tmp).unwrap();
            std::fs::rename(&tmp, dst.join(&name)).unwrap();
        }
    }
}

/// psql failure text (stderr) of `sql` on `s`.
fn psql_err(s: &Server, sql: &str) -> String {
    let out = s.psql_as("postgres", "postgres", None, sql);
    assert!(!out.status.success(), "{sql:?} succeeded on the standby");
    stderr(&out)
}

#[test]
fn replay_by_shipping_segments_read_only_and_pause() {
    let mut primary = Server::init("sb-prim", &["--wal-segsize=1"]);
    primary.start();
    primary.psql("create table t (id int primary key, v text)");
    primary.psql("insert into t values (1, 'one'), (2, 'two')");
    primary.stop();
    let mut standby = make_standby(&primary, "sb-stby", "");
    primary.start();
    start_standby(&mut standby);
    assert!(standby.log_text().contains("entering standby mode"));
    assert_eq!(standby.psql("select pg_is_in_recovery()"), "t");
    assert_eq!(standby.psql("select count(*) from t"), "2");
    assert_eq!(standby.psql("show transaction_read_only"), "on");
    assert_eq!(standby.psql("show in_hot_standby"), "on");

    // New WAL arriving in pg_wal is replayed.
    primary.psql("insert into t values (3, 'three')");
    primary.psql("update t set v = 'uno' where id = 1");
    primary.psql("delete from t where id = 2");
    // Indexes on expressions and partial indexes come with the rows' hidden key values.
    primary.psql("create unique index t_lower on t (lower(v)); create index t_part on t (id) where v <> 'zz'");
    primary.psql("select pg_switch_wal()");
    ship_wal(&primary, &standby);
    wait_for(
        &standby,
        "select id, v from t order by id",
        "1|uno\n3|three",
    );
    wait_for(&standby, "select id from t where lower(v) = 'three'", "3");
    assert_eq!(
        standby.psql("explain (costs off) select id from t where lower(v) = 'uno'"),
        "Index Scan using t_lower on t\n  Index Cond: (lower(v) = 'uno'::text)"
    );
    assert_eq!(
        standby.psql("select id from t where id = 1 and v <> 'zz'"),
        "1"
    );
    assert_ne!(standby.psql("select pg_last_wal_replay_lsn()"), "");
    assert_ne!(standby.psql("select pg_last_xact_replay_timestamp()"), "");
    assert_eq!(
        standby.psql("select pg_last_wal_receive_lsn() is null"),
        "t"
    );

    // Writes fail with PostgreSQL's errors.
    for (sql, text) in [
        (
            "insert into t values (9, 'x')",
            "cannot execute INSERT in a read-only transaction",
        ),
        (
            "update t set v = 'x'",
            "cannot execute UPDATE in a read-only transaction",
        ),
        (
            "delete from t",
            "cannot execute DELETE in a read-only transaction",
        ),
        (
            "create table t2 (a int)",
            "cannot execute CREATE TABLE in a read-only transaction",
        ),
        (
            "drop table t",
            "cannot execute DROP TABLE in a read-only transaction",
        ),
        ("vacuum t", "cannot execute VACUUM during recovery"),
        (
            "select * from t for update",
            "cannot execute SELECT FOR UPDATE in a read-only transaction",
        ),
        (
            "select * from t for share",
            "cannot execute SELECT FOR SHARE in a read-only transaction",
        ),
        (
            "truncate t",
            "cannot execute TRUNCATE TABLE in a read-only transaction",
        ),
        (
            "create role r1",
            "cannot execute CREATE ROLE in a read-only transaction",
        ),
        (
            "begin read write",
            "cannot set transaction read-write mode during recovery",
        ),
        (
            "set transaction_read_only = off",
            "cannot set transaction read-write mode during recovery",
        ),
        ("select pg_current_wal_lsn()", "recovery is in progress"),
        ("select pg_switch_wal()", "recovery is in progress"),
        (
            "select txid_current()",
            "cannot execute pg_current_xact_id() during recovery",
        ),
    ] {
        let e = psql_err(&standby, sql);
        assert!(e.contains(text), "{sql}: {e}");
    }
    let e = psql_err(&primary, "select pg_wal_replay_pause()");
    assert!(e.contains("recovery is not in progress"), "{e}");
    let e = psql_err(&primary, "select pg_promote()");
    assert!(e.contains("recovery is not in progress"), "{e}");
    let e = psql_err(&standby, "select pg_promote(true, 0)");
    assert!(
        e.contains("\"wait_seconds\" must not be negative or zero"),
        "{e}"
    );
    assert_eq!(standby.psql("select pg_is_in_recovery()"), "t");

    // Pause / resume.
    assert_eq!(
        standby.psql("select pg_get_wal_replay_pause_state()"),
        "not paused"
    );
    standby.psql("select pg_wal_replay_pause()");
    assert_eq!(standby.psql("select pg_is_wal_replay_paused()"), "t");
    wait_for(&standby, "select pg_get_wal_replay_pause_state()", "paused");
    primary.psql("insert into t values (4, 'four')");
    primary.psql("select pg_switch_wal()");
    ship_wal(&primary, &standby);
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(standby.psql("select count(*) from t"), "2");
    standby.psql("select pg_wal_replay_resume()");
    wait_for(&standby, "select count(*) from t", "3");
    assert_eq!(standby.psql("select pg_is_wal_replay_paused()"), "f");

    // A restart resumes replay where it was (restartpoint at shutdown).
    standby.psql("checkpoint");
    standby.stop();
    let ctl = Command::new(pg_bin("pg_controldata"))
        .arg(standby.datadir())
        .output()
        .unwrap();
    let ctl = String::from_utf8_lossy(&ctl.stdout).to_string();
    assert!(ctl.contains("shut down in recovery"), "{ctl}");
    primary.psql("insert into t values (5, 'five')");
    primary.psql("select pg_switch_wal()");
    ship_wal(&primary, &standby);
    start_standby(&mut standby);
    wait_for(&standby, "select count(*) from t", "4");
    assert_eq!(standby.psql("select pg_is_in_recovery()"), "t");
    standby.stop();
    primary.stop();
}

#[test]
fn hot_standby_checks() {
    let mut primary = Server::init("sb-prim2", &["--wal-segsize=1"]);
    primary.append_conf("max_connections = 50\n");
    primary.start();
    primary.stop();

    // Lower max_connections than the primary: refused at start-up.
    let mut low = make_standby(&primary, "sb-low", "max_connections = 20");
    spawn(&mut low);
    let st = low.wait_exit(Duration::from_secs(30));
    assert!(!st.success());
    let log = low.log_text();
    assert!(
        log.contains("recovery aborted because of insufficient parameter settings"),
        "{log}"
    );
    assert!(
        log.contains("max_connections = 20 is a lower setting than on the primary server, where its value was 50."),
        "{log}"
    );

    // hot_standby = off: clients are refused with 57P03.
    let mut off = make_standby(&primary, "sb-off", "hot_standby = off");
    spawn(&mut off);
    wait_log(&mut off, "consistent recovery state reached", 1);
    let start = Instant::now();
    let e = loop {
        let out = off.psql_as("postgres", "postgres", None, "select 1");
        let e = stderr(&out);
        if e.contains("not accepting connections") || start.elapsed() > Duration::from_secs(20) {
            break e;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        e.contains("the database system is not accepting connections"),
        "{e}"
    );
    assert!(e.contains("Hot standby mode is disabled."), "{e}");
    off.stop();
}

#[test]
fn streaming_reconnects_and_resumes() {
    let mut primary = Server::init("sb-sprim", &["--wal-segsize=1"]);
    primary.start();
    primary.psql("create table s (id int primary key)");
    primary.psql("insert into s values (1)");
    primary.stop();
    let conninfo = format!(
        "host=127.0.0.1 port={} user=postgres application_name=stby1",
        primary.port
    );
    let mut standby = make_standby(
        &primary,
        "sb-sstby",
        &format!("primary_conninfo = '{conninfo}'\nwal_retrieve_retry_interval = 200ms\n"),
    );
    primary.start();
    start_standby(&mut standby);
    wait_log(&mut standby, "started streaming WAL from primary at", 1);
    primary.psql("insert into s values (2)");
    wait_for(&standby, "select count(*) from s", "2");
    wait_for(
        &primary,
        "select application_name, state from pg_stat_replication",
        "stby1|streaming",
    );
    assert_eq!(
        standby.psql("select pg_last_wal_receive_lsn() >= pg_last_wal_replay_lsn()"),
        "t"
    );

    // The primary restarts: the standby reconnects and goes on.
    primary.stop();
    primary.start();
    primary.psql("insert into s values (3)");
    wait_for(&standby, "select count(*) from s", "3");
    assert!(standby.log_text().matches("started streaming WAL").count() >= 2);
    assert!(standby
        .log_text()
        .contains("replication terminated by primary server"));
    assert!(standby
        .log_text()
        .contains("End of WAL reached on timeline 1 at"));

    // The standby restarts: it resumes from its restartpoint and streams again.
    standby.stop();
    primary.psql("insert into s values (4)");
    start_standby(&mut standby);
    wait_for(&standby, "select count(*) from s", "4");
    primary.psql("insert into s values (5)");
    wait_for(&standby, "select count(*) from s", "5");
    standby.stop();
    if std::env::var("TUSK_SHOW_LOGS").is_ok() {
        eprintln!("{}", standby.log_text());
    }
    primary.stop();
}

#[test]
fn system_identifier_mismatch() {
    let mut primary = Server::init("sb-idp", &["--wal-segsize=1"]);
    primary.start();
    let mut other = Server::init("sb-ido", &["--wal-segsize=1"]);
    other.stop_if_running();
    let mut standby = make_standby(
        &other,
        "sb-ids",
        &format!(
            "primary_conninfo = 'host=127.0.0.1 port={} user=postgres'\nwal_retrieve_retry_interval = 200ms\n",
            primary.port
        ),
    );
    start_standby(&mut standby);
    wait_log(
        &mut standby,
        "database system identifier differs between the primary and standby",
        1,
    );
    assert!(standby.log_text().contains("The primary's identifier is"));
    standby.stop();
    primary.stop();
}

trait StopIfRunning {
    fn stop_if_running(&mut self);
}

impl StopIfRunning for Server {
    fn stop_if_running(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
    }
}

#[test]
fn standby_from_pg_basebackup_streams() {
    let mut primary = Server::init("sb-bbp", &["--wal-segsize=1"]);
    primary.start();
    primary.psql("create role repl login replication");
    primary.psql("create table b (id int primary key, v text)");
    primary.psql("insert into b select g, 'v' || g from generate_series(1, 100) g");
    let mut standby = basebackup_as(&primary, "sb-bbs", "repl", &["-Fp", "-X", "stream", "-R"]);
    standby.append_conf("cluster_name = 'stby_bb'\nwal_retrieve_retry_interval = 200ms\n");
    primary.psql("insert into b values (101, 'after backup')");
    start_standby(&mut standby);
    let log = standby.log_text();
    assert!(
        log.contains("starting backup recovery with redo LSN"),
        "{log}"
    );
    assert!(standby.datadir().join("backup_label.old").exists());
    wait_for(&standby, "select count(*) from b", "101");
    primary.psql("update b set v = 'changed' where id = 1");
    wait_for(&standby, "select v from b where id = 1", "changed");
    // The walreceiver connected as the cluster name (no application_name in the
    // conninfo pg_basebackup wrote).
    wait_for(
        &primary,
        "select usename, application_name from pg_stat_replication",
        "repl|stby_bb",
    );
    wait_for(
        &standby,
        "select status, sender_port = {} from pg_stat_wal_receiver"
            .replace("{}", &primary.port.to_string())
            .as_str(),
        "streaming|t",
    );
    standby.stop();
    primary.stop();
}

#[test]
fn refused_before_consistency_then_streams_from_recovery_conf() {
    let mut primary = Server::init("sb-rcp", &["--wal-segsize=1"]);
    primary.append_conf("wal_keep_size = 64MB\n");
    primary.start();
    primary.psql("create role repl login replication");
    primary.psql("create table c (id int)");
    primary.psql("insert into c values (1)");
    // A backup without WAL: consistent only once streaming brought the backup's end.
    let dir = TempDir::new("sb-rcs");
    std::fs::create_dir_all(dir.path().join("sock")).unwrap();
    let data = dir.path().join("data");
    let out = run_with_timeout(
        Command::new(pg_bin("pg_basebackup"))
            .arg("-D")
            .arg(&data)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &primary.port.to_string(),
                "-U",
                "repl",
            ])
            .args(["-Fp", "-X", "none", "-c", "fast"])
            .env_remove("PGPASSWORD"),
        Duration::from_secs(120),
    );
    assert!(out.status.success(), "pg_basebackup: {}", stderr(&out));
    primary.psql("insert into c values (2)");
    primary.stop();
    let log = dir.path().join("server.log");
    let mut standby = Server {
        dir,
        port: free_port(),
        child: None,
        log,
    };
    standby.append_conf(&format!(
        "port = {}\nunix_socket_directories = '{}'\nwal_retrieve_retry_interval = 200ms\n",
        standby.port,
        standby.socket_dir().display()
    ));
    // A legacy recovery.conf asks for standby mode and names the primary.
    std::fs::write(
        standby.datadir().join("recovery.conf"),
        format!(
            "standby_mode = on\nprimary_conninfo = 'host=127.0.0.1 port={} user=repl'\n",
            primary.port
        ),
    )
    .unwrap();
    spawn(&mut standby);
    wait_log(&mut standby, "entering standby mode", 1);
    let start = Instant::now();
    let e = loop {
        let e = stderr(&standby.psql_as("postgres", "postgres", None, "select 1"));
        if e.contains("not yet accepting connections") || start.elapsed() > Duration::from_secs(20)
        {
            break e;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        e.contains("the database system is not yet accepting connections"),
        "{e}"
    );
    assert!(
        e.contains("Consistent recovery state has not been yet reached."),
        "{e}"
    );
    // The walreceiver tries the (stopped) primary once replay has run out of WAL.
    wait_log(&mut standby, "could not connect to the primary server", 1);

    primary.start();
    wait_log(&mut standby, "ready to accept read-only connections", 1);
    wait_for(&standby, "select count(*) from c", "2");

    // A consistent standby serves replication connections (cascading replication,
    // tests/cascade.rs): IDENTIFY_SYSTEM reports the primary's system identifier and
    // the standby's timeline and position.
    let sysid = primary.psql("select system_identifier from pg_control_system()");
    let out = run_with_timeout(
        Command::new(pg_bin("psql"))
            .arg(format!(
                "host=127.0.0.1 port={} user=postgres replication=true dbname=replication",
                standby.port
            ))
            .args(["-X", "-A", "-t", "-c", "IDENTIFY_SYSTEM"]),
        Duration::from_secs(30),
    );
    let row = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        row.starts_with(&format!("{}|1|", sysid.trim())),
        "{row} {}",
        stderr(&out)
    );
    standby.stop();
    primary.stop();
}

#[test]
fn walreceiver_authenticates_with_scram_md5_and_password() {
    let mut primary = Server::init("sb-authp", &["--wal-segsize=1"]);
    primary.start();
    primary.psql("create role repl_s login replication password 'sEcret s'");
    primary.psql(
        "set password_encryption = 'md5'; create role repl_m login replication password 'md5pw'",
    );
    primary.psql("create role repl_p login replication password 'plainpw'");
    primary.psql("create table a (id int)");
    primary.stop();
    primary.write_hba(
        "local all all trust\n\
         host replication repl_s 127.0.0.1/32 scram-sha-256\n\
         host replication repl_m 127.0.0.1/32 md5\n\
         host replication repl_p 127.0.0.1/32 password\n\
         host all all 127.0.0.1/32 trust\n",
    );
    let mut standbys = Vec::new();
    for (user, pw) in [
        ("repl_s", "sEcret s"),
        ("repl_m", "md5pw"),
        ("repl_p", "plainpw"),
    ] {
        let s = make_standby(
            &primary,
            &format!("sb-auth-{user}"),
            &format!(
                "primary_conninfo = 'host=127.0.0.1 port={} user={user} password=''{pw}'' application_name={user}'\nwal_retrieve_retry_interval = 200ms\n",
                primary.port
            ),
        );
        standbys.push(s);
    }
    primary.start();
    for s in &mut standbys {
        start_standby(s);
    }
    primary.psql("insert into a values (1)");
    for s in &standbys {
        wait_for(s, "select count(*) from a", "1");
    }
    wait_for(
        &primary,
        "select usename from pg_stat_replication order by usename",
        "repl_m\nrepl_p\nrepl_s",
    );
    // A wrong password is refused and retried; the log says why.
    let mut bad = make_standby(
        &primary,
        "sb-auth-bad",
        &format!(
            "primary_conninfo = 'host=127.0.0.1 port={} user=repl_s password=wrong'\nwal_retrieve_retry_interval = 200ms\n",
            primary.port
        ),
    );
    primary.stop();
    primary.start();
    start_standby(&mut bad);
    wait_log(
        &mut bad,
        "password authentication failed for user \"repl_s\"",
        1,
    );
    for mut s in standbys {
        s.stop();
    }
    bad.stop();
    primary.stop();
}

#[test]
fn streaming_through_a_physical_slot_over_a_unix_socket() {
    let mut primary = Server::init("sb-slotp", &["--wal-segsize=1"]);
    primary.start();
    primary.psql("create table sl (id int)");
    primary.stop();
    let mut standby = make_standby(
        &primary,
        "sb-slots",
        &format!(
            "primary_conninfo = 'host={} port={} user=postgres'\nprimary_slot_name = 'stby_slot'\nwal_retrieve_retry_interval = 200ms\nwal_receiver_status_interval = 1s\nhot_standby_feedback = on\n",
            primary.socket_dir().display(),
            primary.port
        ),
    );
    primary.start();
    primary.psql("select 1 from pg_create_physical_replication_slot('stby_slot')");
    start_standby(&mut standby);
    primary.psql("insert into sl values (1)");
    wait_for(&standby, "select count(*) from sl", "1");
    wait_for(
        &primary,
        "select active, restart_lsn is not null from pg_replication_slots where slot_name = 'stby_slot'",
        "t|t",
    );
    wait_for(
        &standby,
        "select slot_name from pg_stat_wal_receiver",
        "stby_slot",
    );
    standby.stop();
    primary.stop();
}

#[test]
fn readers_see_replayed_transactions_whole() {
    let mut primary = Server::init("sb-mvccp", &["--wal-segsize=1"]);
    primary.start();
    primary.psql("create table acct (id int primary key, bal int)");
    primary.psql("insert into acct values (1, 100), (2, 100)");
    primary.stop();
    let mut standby = make_standby(
        &primary,
        "sb-mvccs",
        &format!(
            "primary_conninfo = 'host=127.0.0.1 port={} user=postgres'\nwal_retrieve_retry_interval = 200ms\n",
            primary.port
        ),
    );
    primary.start();
    start_standby(&mut standby);
    let rt = runtime();
    rt.block_on(async {
        let p = primary.connect("postgres").await;
        let s = standby.connect("postgres").await;
        let writer = tokio::spawn(async move {
            for i in 0..300 {
                let (from, to) = if i % 2 == 0 { (1, 2) } else { (2, 1) };
                p.batch_execute(&format!(
                    "begin; update acct set bal = bal - {n} where id = {from}; \
                     update acct set bal = bal + {n} where id = {to}; commit",
                    n = i % 7 + 1
                ))
                .await
                .unwrap();
            }
        });
        let mut reads = 0;
        while !writer.is_finished() {
            let row = s
                .query_one("select sum(bal)::int8, count(*) from acct", &[])
                .await
                .unwrap();
            let (sum, n): (i64, i64) = (row.get(0), row.get(1));
            assert_eq!((sum, n), (200, 2), "a reader saw half a transaction");
            reads += 1;
        }
        writer.await.unwrap();
        assert!(reads > 0);
    });
    // The standby catches up with the last balance.
    let want = primary.psql("select bal from acct order by id");
    wait_for(&standby, "select bal from acct order by id", &want);
    standby.stop();
    primary.stop();
}

#[test]
fn primary_conninfo_takes_effect_on_reload() {
    let mut primary = Server::init("sb-relp", &["--wal-segsize=1"]);
    primary.start();
    primary.psql("create table r (id int)");
    primary.stop();
    let nobody = free_port();
    let mut standby = make_standby(
        &primary,
        "sb-rels",
        &format!(
            "primary_conninfo = 'host=127.0.0.1 port={nobody} user=postgres'\nwal_retrieve_retry_interval = 200ms\n"
        ),
    );
    primary.start();
    start_standby(&mut standby);
    wait_log(&mut standby, "could not connect to the primary server", 1);
    assert!(standby.log_text().contains("Connection refused"));
    standby.psql(&format!(
        "alter system set primary_conninfo = 'host=127.0.0.1 port={} user=postgres'",
        primary.port
    ));
    standby.psql("select pg_reload_conf()");
    wait_log(&mut standby, "started streaming WAL from primary", 1);
    primary.psql("insert into r values (1)");
    wait_for(&standby, "select count(*) from r", "1");
    standby.stop();
    primary.stop();
}

#[test]
fn standby_survives_kill_9() {
    let mut primary = Server::init("sb-killp", &["--wal-segsize=1"]);
    primary.start();
    primary.psql("create table k (id int primary key)");
    primary.stop();
    let mut standby = make_standby(
        &primary,
        "sb-kills",
        &format!(
            "primary_conninfo = 'host=127.0.0.1 port={} user=postgres'\nwal_retrieve_retry_interval = 200ms\n",
            primary.port
        ),
    );
    primary.start();
    start_standby(&mut standby);
    primary.psql("insert into k select g from generate_series(1, 500) g");
    wait_for(&standby, "select count(*) from k", "500");
    standby.psql("checkpoint");
    primary.psql("insert into k select g from generate_series(501, 600) g");
    wait_for(&standby, "select count(*) from k", "600");
    standby.crash();
    primary.psql("delete from k where id <= 100");
    start_standby(&mut standby);
    assert!(standby
        .log_text()
        .contains("database system was interrupted; last known up at"));
    wait_for(&standby, "select count(*), min(id) from k", "500|101");
    standby.stop();
    primary.stop();
}

/// "Latest checkpoint location" of a stopped server, read with the stock
/// `pg_controldata`.
fn checkpoint_location(s: &Server) -> u64 {
    let out = Command::new(pg_bin("pg_controldata"))
        .arg("-D")
        .arg(s.datadir())
        .output()
        .unwrap();
    assert!(out.status.success(), "pg_controldata: {}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let line = text
        .lines()
        .find(|l| l.starts_with("Latest checkpoint location:"))
        .unwrap_or_else(|| panic!("no checkpoint location in {text}"));
    let lsn = line.rsplit(' ').next().unwrap();
    let (hi, lo) = lsn.split_once('/').unwrap();
    (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap()
}

/// PostgreSQL's WAL-source order: a standby first replays every valid segment it has
/// in pg_wal (here several, beyond what its copy needed, while its primary is
/// unreachable), serves their rows, and only then streams, from the start of the
/// segment where its local WAL ends.
#[test]
fn local_wal_is_replayed_before_streaming_from_its_end() {
    const SEG: u64 = 1024 * 1024;
    let mut primary = Server::init("sb-lprim", &["--wal-segsize=1"]);
    // Every segment stays in the primary's pg_wal, to be shipped.
    primary.append_conf("wal_keep_size = 64MB\n");
    primary.start();
    primary.psql("create table l (id int primary key, pad text)");
    primary.stop();
    let conninfo = format!(
        "host=127.0.0.1 port={} user=postgres application_name=stbyl",
        primary.port
    );
    let mut standby = make_standby(
        &primary,
        "sb-lstby",
        &format!("primary_conninfo = '{conninfo}'\nwal_retrieve_retry_interval = 200ms\n"),
    );
    // Several complete segments the standby's copy does not need.
    primary.start();
    for round in 0..5 {
        primary.psql(&format!(
            "insert into l select g, repeat('x', 500) from generate_series({}, {}) g",
            round * 1000 + 1,
            round * 1000 + 1000
        ));
        primary.psql("select pg_switch_wal()");
    }
    primary.stop();
    let end_segment_start = checkpoint_location(&primary) / SEG * SEG;
    ship_wal(&primary, &standby);
    // The primary is down: the standby replays all of its local WAL regardless.
    start_standby(&mut standby);
    wait_for(&standby, "select count(*), max(id) from l", "5000|5000");
    wait_log(&mut standby, "could not connect to the primary server", 1);
    assert!(!standby.log_text().contains("started streaming WAL"));
    standby.stop();
    // The primary is up while the standby starts: streaming begins only once the
    // local WAL is used, at the segment where it ends.
    primary.start();
    spawn(&mut standby);
    wait_log(&mut standby, "started streaming WAL from primary at", 1);
    let want = format!(
        "started streaming WAL from primary at {:X}/{:X} on timeline 1",
        end_segment_start >> 32,
        end_segment_start & 0xFFFF_FFFF
    );
    let log = standby.log_text();
    let first = log
        .lines()
        .find(|l| l.contains("started streaming WAL from primary at"))
        .unwrap();
    assert!(first.contains(&want), "wanted {want:?}; log:\n{log}");
    primary.psql("insert into l values (5001, 'streamed')");
    wait_for(&standby, "select count(*), max(id) from l", "5001|5001");
    standby.stop();
    primary.stop();
}

/// A base backup of an idle primary ends with the segment switch of its stop (its end
/// is the switched segment's end, as in PostgreSQL). The copy alone must reach
/// consistency and serve its rows: replay counts a switch record as ending where its
/// segment ends, with the primary gone.
#[test]
fn backup_ending_with_a_switch_is_consistent_from_local_wal() {
    let mut primary = Server::init("sb-swp", &["--wal-segsize=1"]);
    primary.start();
    primary.psql("create role repl login replication");
    primary.psql("create table w (id int primary key)");
    primary.psql("insert into w select g from generate_series(1, 50) g");
    let dir = TempDir::new("sb-sws");
    std::fs::create_dir_all(dir.path().join("sock")).unwrap();
    let data = dir.path().join("data");
    let out = run_with_timeout(
        Command::new(pg_bin("pg_basebackup"))
            .arg("-D")
            .arg(&data)
            .args(["-h", "127.0.0.1", "-p", &primary.port.to_string()])
            .args(["-U", "repl", "-Fp", "-X", "stream", "-R", "-c", "fast"])
            .env_remove("PGPASSWORD"),
        Duration::from_secs(120),
    );
    assert!(out.status.success(), "pg_basebackup: {}", stderr(&out));
    primary.stop();
    let log = dir.path().join("server.log");
    let mut standby = Server {
        dir,
        port: free_port(),
        child: None,
        log,
    };
    standby.append_conf(&format!(
        "port = {}\nunix_socket_directories = '{}'\nwal_retrieve_retry_interval = 200ms\n",
        standby.port,
        standby.socket_dir().display()
    ));
    start_standby(&mut standby);
    wait_for(&standby, "select count(*) from w", "50");
    assert!(!standby.log_text().contains("started streaming WAL"));
    standby.stop();
}

/// `recovery_min_apply_delay`: a delayed standby receives and flushes the WAL at once
/// but applies each commit only once the delay has passed since it committed on the
/// primary; a promotion ends the wait and applies the rest at once.
#[test]
fn delayed_standby_applies_commits_late_and_promotes_at_once() {
    let mut primary = Server::init("sb-delay-p", &["--wal-segsize=1"]);
    primary.start();
    primary.psql("create role repl login replication");
    primary.psql("create table d (id int primary key)");
    let mut standby = basebackup_as(
        &primary,
        "sb-delay-s",
        "repl",
        &["-Fp", "-X", "stream", "-R"],
    );
    standby.append_conf(
        "recovery_min_apply_delay = '3s'\napplication_name = 'delayed'\nwal_retrieve_retry_interval = 200ms\n",
    );
    start_standby(&mut standby);
    wait_for(&standby, "select count(*) from d", "0");
    primary.psql("insert into d values (1)");
    let committed = Instant::now();
    let flushed = primary.psql("select pg_current_wal_lsn()");
    // Received and flushed at once, not applied.
    wait_for(
        &primary,
        &format!("select flush_lsn >= '{flushed}' from pg_stat_replication"),
        "t",
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(committed.elapsed() < Duration::from_secs(3));
    assert_eq!(standby.psql("select count(*) from d"), "0");
    // Applied once the delay has passed.
    wait_for(&standby, "select count(*) from d", "1");
    assert!(
        committed.elapsed() >= Duration::from_millis(2900),
        "applied after {:?}",
        committed.elapsed()
    );
    // A promotion ends the wait: the next commit is there at once.
    primary.psql("insert into d values (2)");
    wait_for(
        &primary,
        "select flush_lsn = pg_current_wal_lsn() from pg_stat_replication",
        "t",
    );
    let promoted = Instant::now();
    standby.psql("select pg_promote()");
    wait_for(&standby, "select count(*) from d", "2");
    assert!(
        promoted.elapsed() < Duration::from_secs(3),
        "promotion waited for the delay: {:?}",
        promoted.elapsed()
    );
    standby.stop();
    primary.stop();
}

/// `hot_standby_feedback`: the standby reports its xmin horizon at each
/// `wal_receiver_status_interval`, and the primary shows it as the walsender's
/// `backend_xmin`; turned off (on reload), the standby clears it with one message
/// carrying xmin 0 and the column goes back to NULL, as in PostgreSQL.
#[test]
fn hot_standby_feedback_shows_as_backend_xmin() {
    let mut primary = Server::init("sb-hsf-p", &["--wal-segsize=1"]);
    primary.start();
    primary.psql("create role repl login replication");
    primary.psql("create table f (id int)");
    let mut standby = basebackup_as(&primary, "sb-hsf-s", "repl", &["-Fp", "-X", "stream", "-R"]);
    standby.append_conf(
        "hot_standby_feedback = on\nwal_receiver_status_interval = 1s\nwal_retrieve_retry_interval = 200ms\n",
    );
    start_standby(&mut standby);
    wait_for(
        &primary,
        "select backend_xmin is not null and backend_xmin::text::bigint > 0 from pg_stat_replication",
        "t",
    );
    // Turned off on reload: one last message with xmin 0 clears it on the primary.
    standby.append_conf("hot_standby_feedback = off\n");
    standby.psql("select pg_reload_conf()");
    wait_for(
        &primary,
        "select count(*) from pg_stat_replication where backend_xmin is null",
        "1",
    );
    standby.stop();
    primary.stop();
}
