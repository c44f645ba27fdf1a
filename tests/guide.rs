//! The operator's guide (`shared/GUIDE.md`), followed literally on loopback with the
//! stock PostgreSQL 15 tools: a primary configured with the guide's settings, a standby
//! made by `pg_basebackup -Fp -Xs --progress`, started from the guide's recovery.conf
//! (and, in the second scenario, from the PostgreSQL 12+ `standby.signal` form that
//! `pg_basebackup -R` writes), then the guide's checks: `pg_stat_replication` on the
//! primary, `ps aux | grep sender` / `grep receiver`, read queries on the standby.
//!
//! The guide's addresses (192.168.181.128/129) become 127.0.0.1: the pg_hba line is the
//! guide's with the standby's real source address.

mod common;

use common::{pg_bin, ps_lines, run_with_timeout, stderr, Server, TempDir};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The guide's primary settings (postgresql.conf), with this test's port and socket.
const GUIDE_PRIMARY_CONF: &str = "\
listen_addresses = '127.0.0.1'
max_connections = 1000
wal_level = hot_standby
max_wal_senders = 5
wal_keep_segments = 64
wal_sender_timeout = 60s
";

/// A primary set up as the guide says: the repl role, the pg_hba replication line, the
/// guide's postgresql.conf, a restart, and a table with rows.
fn guide_primary(tag: &str) -> Server {
    let mut primary = Server::init(tag, &[]);
    primary.start();
    primary.psql("CREATE ROLE repl login replication encrypted password 'repl'");
    let hba = std::fs::read_to_string(primary.datadir().join("pg_hba.conf")).unwrap();
    primary.write_hba(&format!(
        "{hba}\nhost    replication     repl             127.0.0.1/32         md5\n"
    ));
    primary.append_conf(GUIDE_PRIMARY_CONF);
    primary.append_conf(&format!("cluster_name = 'guidep{}'\n", primary.port));
    primary.stop();
    primary.start();
    primary.psql("CREATE TABLE guide (id int PRIMARY KEY, note text)");
    primary
        .psql("INSERT INTO guide SELECT g, 'before backup ' || g FROM generate_series(1, 500) g");
    primary
}

/// Runs a stock client tool with the guide's password in the environment.
fn run_tool(name: &str, args: &[&str]) -> Output {
    run_with_timeout(
        Command::new(pg_bin(name))
            .args(args)
            .env("PGPASSWORD", "repl")
            .env("PGCONNECT_TIMEOUT", "10"),
        Duration::from_secs(120),
    )
}

/// A standby server object over a data directory that `pg_basebackup` fills.
fn empty_standby(tag: &str) -> Server {
    let dir = TempDir::new(tag);
    std::fs::create_dir_all(dir.path().join("sock")).unwrap();
    let log = dir.path().join("server.log");
    Server {
        dir,
        port: common::free_port(),
        child: None,
        log,
    }
}

/// Starts a standby (which logs "ready to accept read-only connections", not the
/// primary's line) and waits, bounded, until a read query works.
fn start_standby(standby: &mut Server) {
    common::spawn(standby);
    wait_until(
        standby,
        "the standby answers read queries",
        Duration::from_secs(60),
        || {
            standby
                .psql_as("postgres", "postgres", None, "select 1")
                .status
                .success()
        },
    );
}

/// Polls `cond` every 100 ms until it holds or `limit` passes (then fails with the log).
fn wait_until(server: &Server, what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting until {what}; log:\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Follows the guide end to end: base backup, recovery.conf, hot standby, the checks.
#[test]
fn guide_primary_and_standby_with_recovery_conf() {
    let primary = guide_primary("guide-primary");
    let port = primary.port.to_string();
    let mut standby = empty_standby("guide-standby");
    let archive = standby.dir.path().join("arch");
    std::fs::create_dir_all(&archive).unwrap();

    // pg_basebackup -Fp -Xs --progress -D DIR -h <primary> -U repl
    let datadir = standby.datadir();
    let out = run_tool(
        "pg_basebackup",
        &[
            "-Fp",
            "-Xs",
            "--progress",
            "-D",
            datadir.to_str().unwrap(),
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "repl",
        ],
    );
    assert!(
        out.status.success(),
        "pg_basebackup failed: {}\nprimary log:\n{}",
        stderr(&out),
        primary.log_text()
    );
    assert!(
        stderr(&out).contains("(100%)"),
        "no progress report: {}",
        stderr(&out)
    );

    // recovery.conf as the guide writes it; the standby's postgresql.conf additions.
    std::fs::write(
        datadir.join("recovery.conf"),
        format!(
            "standby_mode = on\n\
             primary_conninfo = 'host=127.0.0.1 port={port} user=repl password=repl'\n\
             recovery_target_timeline = 'latest'\n\
             archive_cleanup_command = 'pg_archivecleanup {} %r'\n",
            archive.display()
        ),
    )
    .unwrap();
    standby.append_conf(&format!(
        "port = {}\nunix_socket_directories = '{}'\nmax_connections = 1000\nhot_standby = on\ncluster_name = 'guides{}'\n",
        standby.port,
        standby.socket_dir().display(),
        standby.port
    ));
    start_standby(&mut standby);

    // The standby has the rows of the backup and is in recovery.
    assert_eq!(standby.psql("select count(*) from guide"), "500");
    assert_eq!(standby.psql("select pg_is_in_recovery()"), "t");

    // New commits on the primary reach the standby.
    primary.psql("INSERT INTO guide SELECT g, 'streamed ' || g FROM generate_series(501, 700) g");
    wait_until(
        &standby,
        "the standby sees 700 rows",
        Duration::from_secs(30),
        || standby.psql("select count(*) from guide") == "700",
    );

    // Writes on the standby fail as in PostgreSQL.
    let out = standby.psql_as(
        "postgres",
        "postgres",
        None,
        "insert into guide values (9999, 'x')",
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot execute INSERT in a read-only transaction"),
        "{}",
        stderr(&out)
    );

    // select * from pg_stat_replication on the primary.
    let row = primary.psql(
        "select usename, application_name, client_addr, state, sync_state, \
         sent_lsn is not null, replay_lsn is not null from pg_stat_replication",
    );
    assert_eq!(
        row,
        format!("repl|guides{}|127.0.0.1|streaming|async|t|t", standby.port),
        "pg_stat_replication: {row}"
    );

    // ps aux | grep sender (primary) and | grep receiver (standby).
    let primary_title = format!("guidep{}: walsender repl 127.0.0.1(", primary.port);
    wait_until(
        &primary,
        "ps shows the walsender streaming",
        Duration::from_secs(10),
        || {
            ps_lines(&primary_title)
                .iter()
                .any(|l| l.contains("streaming"))
        },
    );
    let standby_title = format!("guides{}: walreceiver streaming", standby.port);
    wait_until(
        &standby,
        "ps shows the walreceiver streaming",
        Duration::from_secs(10),
        || !ps_lines(&standby_title).is_empty(),
    );
    assert_eq!(
        standby.psql("select status from pg_stat_wal_receiver"),
        "streaming"
    );

    standby.stop();
    let mut primary = primary;
    primary.stop();
}

/// The PostgreSQL 12+ form: `pg_basebackup -R` writes standby.signal and
/// primary_conninfo; a standby whose max_connections is below the primary's refuses to
/// start hot standby with PostgreSQL's message, and starts once it is raised.
#[test]
fn guide_standby_signal_form_and_max_connections_check() {
    let mut primary = guide_primary("guide12-primary");
    let port = primary.port.to_string();
    let mut standby = empty_standby("guide12-standby");
    let datadir = standby.datadir();
    let out = run_tool(
        "pg_basebackup",
        &[
            "-Fp",
            "-Xs",
            "-R",
            "-D",
            datadir.to_str().unwrap(),
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "repl",
        ],
    );
    assert!(
        out.status.success(),
        "pg_basebackup -R failed: {}",
        stderr(&out)
    );
    assert!(datadir.join("standby.signal").exists());
    let auto = std::fs::read_to_string(datadir.join("postgresql.auto.conf")).unwrap();
    assert!(auto.contains("primary_conninfo"), "{auto}");

    // max_connections below the primary's 1000: hot standby refuses to start.
    standby.append_conf(&format!(
        "port = {}\nunix_socket_directories = '{}'\nmax_connections = 100\n",
        standby.port,
        standby.socket_dir().display()
    ));
    assert!(
        standby.try_start().is_err(),
        "a standby with max_connections = 100 started"
    );
    let log = standby.log_text();
    assert!(
        log.contains("insufficient parameter settings")
            && log.contains("max_connections = 100 is a lower setting than on the primary server, where its value was 1000"),
        "{log}"
    );

    standby.append_conf("max_connections = 1000\n");
    start_standby(&mut standby);
    assert_eq!(standby.psql("select count(*) from guide"), "500");
    primary.psql("INSERT INTO guide VALUES (1001, 'after')");
    wait_until(
        &standby,
        "the standby sees row 1001",
        Duration::from_secs(30),
        || standby.psql("select count(*) from guide where id = 1001") == "1",
    );
    standby.stop();
    primary.stop();
}
