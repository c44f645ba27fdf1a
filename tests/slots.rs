//! Physical replication slots on a real server: the SQL functions and
//! `pg_replication_slots`, persistence across restarts, WAL retention by a slot
//! (segments stay after CHECKPOINT + pg_switch_wal while the slot exists, go after it
//! is dropped), invalidation by `max_slot_wal_keep_size`, `max_replication_slots`, and
//! the process-title holder (`tusk::proctitle`).

#[path = "common/mod.rs"]
mod common;

use common::{replication_connect, runtime, Server};
use std::time::{Duration, Instant};

const MB: u64 = 1024 * 1024;

/// Parses `X/Y` as printed by PostgreSQL.
fn lsn(s: &str) -> u64 {
    let (hi, lo) = s.trim().split_once('/').expect("an LSN");
    (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap()
}

/// The WAL file name of `lsn` on timeline 1 with 1 MB segments.
fn segment_name(lsn: u64) -> String {
    let segno = lsn / MB;
    let per_id = 0x1_0000_0000 / MB;
    format!("{:08X}{:08X}{:08X}", 1, segno / per_id, segno % per_id)
}

fn wal_file_exists(s: &Server, name: &str) -> bool {
    s.datadir().join("pg_wal").join(name).exists()
}

/// Writes a little WAL and switches to a new segment, `n` times, then checkpoints.
fn churn_wal(s: &Server, n: usize) {
    for i in 0..n {
        s.psql(&format!(
            "INSERT INTO churn SELECT g, repeat('x', 100) FROM generate_series(1, 50) g; \
             SELECT pg_switch_wal(); -- {i}"
        ));
    }
    s.psql("CHECKPOINT");
}

/// The SQLSTATE and message of a failing statement (run with tokio-postgres).
fn sql_error(s: &Server, sql: &str) -> (String, String, Option<String>) {
    let rt = runtime();
    rt.block_on(async {
        let c = s.connect("postgres").await;
        let e = c
            .batch_execute(sql)
            .await
            .expect_err("the statement should fail");
        let db = e.as_db_error().expect("a server error");
        (
            db.code().code().to_string(),
            db.message().to_string(),
            db.hint().map(str::to_string),
        )
    })
}

#[test]
fn slot_functions_and_view() {
    let mut s = Server::start_new("slots-sql");
    // Created without reserving: restart_lsn and wal_status are NULL.
    assert_eq!(
        s.psql("SELECT pg_create_physical_replication_slot('standby1_slot')"),
        "(standby1_slot,)"
    );
    // tusk's max_slot_wal_keep_size is finite by default (1GB), so safe_wal_size is
    // shown, computed from 0/0 as PostgreSQL does for a slot without restart_lsn.
    assert_eq!(s.psql("SHOW max_slot_wal_keep_size"), "1GB");
    let row = s.psql("SELECT * FROM pg_replication_slots");
    let (head, tail) = row.rsplit_once("||").unwrap();
    assert_eq!(head, "standby1_slot||physical|||f|f|||||");
    let (safe, two_phase) = tail.split_once('|').unwrap();
    let current = lsn(&s.psql("SELECT pg_current_wal_lsn()")) as i64;
    assert_eq!(
        safe.parse::<i64>().unwrap(),
        (1024 + 16) * MB as i64 - current
    );
    assert_eq!(two_phase, "f");
    // Reserving: the lsn column is the restart_lsn (the last redo point).
    let row =
        s.psql("SELECT slot_name, lsn FROM pg_create_physical_replication_slot('recv4', true)");
    let (name, at) = row.split_once('|').unwrap();
    assert_eq!(name, "recv4");
    assert!(lsn(at) > 0, "{row}");
    assert_eq!(
        s.psql("SELECT restart_lsn, wal_status, safe_wal_size > 0, temporary, active FROM pg_replication_slots WHERE slot_name = 'recv4'"),
        format!("{at}|reserved|t|f|f")
    );
    // Column types as PostgreSQL's.
    assert_eq!(
        s.psql("SELECT pg_typeof(slot_name), pg_typeof(restart_lsn), pg_typeof(active_pid), pg_typeof(safe_wal_size) FROM pg_replication_slots LIMIT 1"),
        "name|pg_lsn|integer|bigint"
    );

    // Errors, with PostgreSQL's SQLSTATEs and texts.
    let (code, msg, _) = sql_error(&s, "SELECT pg_create_physical_replication_slot('recv4')");
    assert_eq!(
        (code.as_str(), msg.as_str()),
        ("42710", "replication slot \"recv4\" already exists")
    );
    let (code, msg, hint) = sql_error(&s, "SELECT pg_create_physical_replication_slot('Bad-Name')");
    assert_eq!(code, "42602");
    assert_eq!(
        msg,
        "replication slot name \"Bad-Name\" contains invalid character"
    );
    assert_eq!(
        hint.as_deref(),
        Some("Replication slot names may only contain lower case letters, numbers, and the underscore character.")
    );
    let (code, msg, _) = sql_error(&s, "SELECT pg_drop_replication_slot('nope')");
    assert_eq!(
        (code.as_str(), msg.as_str()),
        ("42704", "replication slot \"nope\" does not exist")
    );
    let (code, _, _) = sql_error(
        &s,
        "SELECT pg_replication_slot_advance('standby1_slot', pg_current_wal_lsn())",
    );
    assert_eq!(code, "55000");

    // Advancing moves restart_lsn forward to the target.
    s.psql("CREATE TABLE churn (a int, b text)");
    s.psql("INSERT INTO churn VALUES (1, 'x')");
    let target = s.psql("SELECT pg_current_wal_flush_lsn()");
    assert_eq!(
        s.psql(&format!(
            "SELECT * FROM pg_replication_slot_advance('recv4', '{target}')"
        )),
        format!("recv4|{target}")
    );
    assert_eq!(
        s.psql("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'recv4'"),
        target
    );

    // A temporary slot lives as long as its session.
    assert_eq!(
        s.psql("SELECT slot_name FROM pg_create_physical_replication_slot('tmp1', true, true); SELECT count(*) FROM pg_replication_slots WHERE temporary"),
        "tmp1\n1"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'tmp1'") != "0" {
        assert!(
            Instant::now() < deadline,
            "temporary slot survived its session"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Dropping.
    assert_eq!(
        s.psql("SELECT pg_drop_replication_slot('standby1_slot')"),
        ""
    );
    assert_eq!(
        s.psql("SELECT string_agg(slot_name, ',') FROM pg_replication_slots"),
        "recv4"
    );
    s.stop();
}

#[test]
fn slots_survive_restart_and_crash() {
    let mut s = Server::start_new("slots-restart");
    s.psql("SELECT pg_create_physical_replication_slot('keep_me', true)");
    s.psql("SELECT pg_create_physical_replication_slot('lazy')");
    s.psql("SELECT pg_create_physical_replication_slot('gone_tmp', true, true)");
    let before = s.psql(
        "SELECT slot_name, restart_lsn FROM pg_replication_slots WHERE NOT temporary ORDER BY 1",
    );
    assert!(s.datadir().join("pg_replslot/keep_me/state").exists());
    assert!(!s.datadir().join("pg_replslot/gone_tmp").exists());
    s.stop();
    s.start();
    assert_eq!(
        s.psql("SELECT slot_name, restart_lsn FROM pg_replication_slots ORDER BY 1"),
        before
    );
    s.psql("SELECT pg_drop_replication_slot('lazy')");
    assert!(!s.datadir().join("pg_replslot/lazy").exists());
    s.crash();
    s.start();
    assert_eq!(
        s.psql("SELECT string_agg(slot_name, ',') FROM pg_replication_slots"),
        "keep_me"
    );
    s.stop();
}

#[test]
fn a_slot_holds_wal_until_dropped() {
    let mut s = Server::init("slots-retention", &["--wal-segsize=1"]);
    s.append_conf("max_wal_size = 32MB\nmin_wal_size = 2MB\n");
    s.start();
    s.psql("CREATE TABLE churn (a int, b text)");
    s.psql("CHECKPOINT");
    let at = s.psql("SELECT lsn FROM pg_create_physical_replication_slot('holder', true)");
    let held = segment_name(lsn(&at));
    churn_wal(&s, 6);
    assert!(
        wal_file_exists(&s, &held),
        "segment {held} kept by the slot was removed"
    );
    assert_eq!(
        s.psql("SELECT wal_status FROM pg_replication_slots"),
        "reserved"
    );
    // The slot survives a restart and still holds the segment.
    s.stop();
    s.start();
    churn_wal(&s, 2);
    assert!(
        wal_file_exists(&s, &held),
        "segment {held} removed after restart"
    );
    s.psql("SELECT pg_drop_replication_slot('holder')");
    churn_wal(&s, 2);
    assert!(
        !wal_file_exists(&s, &held),
        "segment {held} still there after the slot went"
    );
    s.stop();
}

#[test]
fn max_slot_wal_keep_size_invalidates_a_slot() {
    let mut s = Server::init("slots-invalidate", &["--wal-segsize=1"]);
    s.append_conf("max_slot_wal_keep_size = 3\nmax_wal_size = 32MB\nmin_wal_size = 2MB\n");
    s.start();
    s.psql("CREATE TABLE churn (a int, b text)");
    s.psql("CHECKPOINT");
    let at = s.psql("SELECT lsn FROM pg_create_physical_replication_slot('laggard', true)");
    let held = segment_name(lsn(&at));
    let safe: i64 = s
        .psql("SELECT safe_wal_size FROM pg_replication_slots")
        .parse()
        .unwrap();
    assert!(safe > 0 && safe <= 4 * MB as i64, "safe_wal_size {safe}");
    churn_wal(&s, 6);
    assert_eq!(
        s.psql("SELECT restart_lsn IS NULL, wal_status, safe_wal_size IS NULL FROM pg_replication_slots"),
        "t|lost|t"
    );
    assert!(
        !wal_file_exists(&s, &held),
        "segment {held} kept by an invalidated slot"
    );
    assert!(
        s.log_text().contains(&format!(
            "invalidating slot \"laggard\" because its restart_lsn {at} exceeds max_slot_wal_keep_size"
        )),
        "{}",
        s.log_text()
    );
    // Still lost after a restart.
    s.stop();
    s.start();
    assert_eq!(
        s.psql("SELECT wal_status FROM pg_replication_slots"),
        "lost"
    );
    s.stop();
}

#[test]
fn max_replication_slots_is_enforced() {
    let mut s = Server::init("slots-max", &[]);
    s.append_conf("max_replication_slots = 2\n");
    s.start();
    s.psql("SELECT pg_create_physical_replication_slot('a1')");
    s.psql("SELECT pg_create_physical_replication_slot('a2')");
    let (code, msg, hint) = sql_error(&s, "SELECT pg_create_physical_replication_slot('a3')");
    assert_eq!(
        (code.as_str(), msg.as_str()),
        ("53400", "all replication slots are in use")
    );
    assert_eq!(
        hint.as_deref(),
        Some("Free one or increase max_replication_slots.")
    );
    s.stop();
}

#[test]
fn slot_functions_need_replication_privilege() {
    let mut s = Server::start_new("slots-priv");
    s.psql("CREATE ROLE plain LOGIN");
    let out = s.psql_as(
        "plain",
        "postgres",
        None,
        "SELECT pg_create_physical_replication_slot('x')",
    );
    assert!(!out.status.success());
    assert!(
        common::stderr(&out)
            .contains("must be superuser or replication role to use replication slots"),
        "{}",
        common::stderr(&out)
    );
    s.psql("CREATE ROLE repl LOGIN REPLICATION");
    let out = s.psql_as(
        "repl",
        "postgres",
        None,
        "SELECT pg_create_physical_replication_slot('x')",
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    s.stop();
}

/// The title holder's command line as `ps` reads it (trailing NULs dropped, NULs
/// between arguments as spaces).
fn cmdline(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let s = String::from_utf8_lossy(&raw).into_owned();
    Some(s.trim_end_matches('\0').replace('\0', " "))
}

#[test]
fn process_title_holder_shows_and_updates_the_title() {
    use tusk::proctitle::ProcTitle;
    let tusk = std::path::Path::new(common::tusk_bin());
    let wait_for = |pid: u32, want: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = cmdline(pid);
            if got.as_deref() == Some(want) {
                return;
            }
            assert!(Instant::now() < deadline, "cmdline {got:?}, want {want:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let t = ProcTitle::with_program(tusk, "walsender repl 127.0.0.1(53114) idle");
    let pid = t.pid().expect("holder started");
    wait_for(pid, "postgres: walsender repl 127.0.0.1(53114) idle");
    t.set("walsender repl 127.0.0.1(53114) streaming 0/B6F5CC0");
    wait_for(
        pid,
        "postgres: walsender repl 127.0.0.1(53114) streaming 0/B6F5CC0",
    );
    // `ps` shows it too.
    let ps = std::process::Command::new("ps")
        .args(["-o", "args=", "-p", &pid.to_string()])
        .output()
        .expect("ps");
    assert_eq!(
        String::from_utf8_lossy(&ps.stdout).trim(),
        "postgres: walsender repl 127.0.0.1(53114) streaming 0/B6F5CC0"
    );
    // A title longer than the room is cut, not an error.
    t.set(&"x".repeat(10_000));
    drop(t);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "holder {pid} still running after drop"
    );
}

/// psql on a replication connection (`replication=true` or `database`).
fn repl_psql(s: &Server, mode: &str, sql: &str) -> std::process::Output {
    let mut cmd = std::process::Command::new(common::pg_bin("psql"));
    cmd.args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-w"])
        .arg(format!(
            "host=127.0.0.1 port={} connect_timeout=10 user=postgres dbname=postgres replication={mode}",
            s.port
        ))
        .args(["-c", sql]);
    common::run_with_timeout(&mut cmd, Duration::from_secs(60))
}

fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn slot_commands_on_replication_connections() {
    let mut s = Server::start_new("slots-proto");
    // CREATE_REPLICATION_SLOT ... RESERVE_WAL: one row, consistent_point 0/0.
    let out = repl_psql(
        &s,
        "database",
        "CREATE_REPLICATION_SLOT s PHYSICAL RESERVE_WAL",
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(common::stdout(&out).trim(), "s|0/0||");
    let restart = s.psql("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 's'");
    assert!(lsn(&restart) > 0);
    // READ_REPLICATION_SLOT: type, restart_lsn, its timeline.
    let out = repl_psql(&s, "true", "READ_REPLICATION_SLOT s");
    assert_eq!(common::stdout(&out).trim(), format!("physical|{restart}|1"));
    let out = repl_psql(&s, "true", "READ_REPLICATION_SLOT nope");
    assert_eq!(common::stdout(&out).trim(), "||");
    // Without RESERVE_WAL the slot keeps nothing yet.
    let out = repl_psql(&s, "true", "CREATE_REPLICATION_SLOT \"lazy\" PHYSICAL");
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(
        s.psql("SELECT restart_lsn IS NULL FROM pg_replication_slots WHERE slot_name = 'lazy'"),
        "t"
    );
    // A duplicate, PostgreSQL's text.
    let out = repl_psql(&s, "true", "CREATE_REPLICATION_SLOT s PHYSICAL");
    assert!(common::stderr(&out).contains("replication slot \"s\" already exists"));
    // A temporary slot goes with its connection.
    let out = repl_psql(
        &s,
        "true",
        "CREATE_REPLICATION_SLOT \"pg_basebackup_4242\" TEMPORARY PHYSICAL ( RESERVE_WAL)",
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    wait_until(Duration::from_secs(10), "the temporary slot to go", || {
        s.psql("SELECT count(*) FROM pg_replication_slots WHERE temporary") == "0"
    });
    // DROP_REPLICATION_SLOT, then it is missing.
    let out = repl_psql(&s, "true", "DROP_REPLICATION_SLOT s");
    assert!(out.status.success(), "{}", common::stderr(&out));
    let out = repl_psql(&s, "true", "DROP_REPLICATION_SLOT s");
    assert!(common::stderr(&out).contains("replication slot \"s\" does not exist"));
    s.stop();
}

#[test]
fn pg_receivewal_through_a_slot_moves_restart_lsn() {
    let mut s = Server::init("slots-recv", &["--wal-segsize=1"]);
    s.start();
    let target = s.dir.path().join("recv");
    std::fs::create_dir_all(&target).unwrap();
    let receivewal = |extra: &[&str]| {
        let mut c = std::process::Command::new(common::pg_bin("pg_receivewal"));
        c.args(["-h", "127.0.0.1", "-U", "postgres", "-w", "-S", "recv_slot"])
            .arg("-p")
            .arg(s.port.to_string())
            .arg("-D")
            .arg(&target)
            .args(extra);
        c
    };
    let out =
        common::run_with_timeout(&mut receivewal(&["--create-slot"]), Duration::from_secs(30));
    assert!(out.status.success(), "{}", common::stderr(&out));
    // --if-not-exists: the 42710 is taken as success.
    let out = common::run_with_timeout(
        &mut receivewal(&["--create-slot", "--if-not-exists"]),
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(
        s.psql("SELECT slot_name, restart_lsn IS NULL FROM pg_replication_slots"),
        "recv_slot|t"
    );
    let child = receivewal(&["--no-loop", "-s", "1", "--synchronous"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Reaper(std::process::Child);
    impl Drop for Reaper {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Reaper(child);
    wait_until(Duration::from_secs(20), "the slot to become active", || {
        s.psql("SELECT active AND active_pid IS NOT NULL FROM pg_replication_slots") == "t"
    });
    s.psql("CREATE TABLE churn (a int, b text)");
    s.psql("INSERT INTO churn SELECT g, repeat('x', 100) FROM generate_series(1, 2000) g");
    let written = lsn(&s.psql("SELECT pg_current_wal_flush_lsn()"));
    wait_until(
        Duration::from_secs(30),
        "restart_lsn to follow the flush",
        || {
            let r = s.psql("SELECT coalesce(restart_lsn::text, '0/0') FROM pg_replication_slots");
            lsn(&r) >= written
        },
    );
    // In use by the walsender: dropping fails with 55006.
    let (code, msg, _) = sql_error(&s, "SELECT pg_drop_replication_slot('recv_slot')");
    assert_eq!(code, "55006");
    assert!(
        msg.starts_with("replication slot \"recv_slot\" is active for PID "),
        "{msg}"
    );
    // When pg_receivewal ends, the slot is released and keeps its position.
    let _ = child.0.kill();
    let _ = child.0.wait();
    wait_until(Duration::from_secs(20), "the slot to be released", || {
        s.psql("SELECT active FROM pg_replication_slots") == "f"
    });
    s.stop();
    s.start();
    let r = s.psql("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'recv_slot'");
    assert!(lsn(&r) >= written, "restart_lsn {r} after restart");
    s.stop();
}

/// Opens a physical replication connection by hand and starts streaming through
/// `slot` from `start`; the returned socket is read by a thread that discards
/// everything and never replies (a standby that never confirms anything). The
/// receiver reports the end of the connection on the channel.
fn silent_streamer(
    port: u16,
    slot: &str,
    start: &str,
) -> (std::net::TcpStream, std::sync::mpsc::Receiver<()>) {
    use std::io::{Read, Write};
    let (mut sock, _) =
        replication_connect(port, "postgres", "silent").unwrap_or_else(|e| panic!("{e}"));
    sock.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut q =
        format!("START_REPLICATION SLOT \"{slot}\" PHYSICAL {start} TIMELINE 1").into_bytes();
    q.push(0);
    let mut msg = vec![b'Q'];
    msg.extend_from_slice(&((q.len() + 4) as i32).to_be_bytes());
    msg.extend_from_slice(&q);
    sock.write_all(&msg).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut reader = sock.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
        let _ = tx.send(());
    });
    (sock, rx)
}

#[test]
fn an_invalidated_slot_ends_its_walsender() {
    let mut s = Server::init("slots-terminate", &["--wal-segsize=1"]);
    s.append_conf("max_slot_wal_keep_size = 2\nmax_wal_size = 32MB\nmin_wal_size = 2MB\n");
    s.start();
    s.psql("CREATE TABLE churn (a int, b text)");
    s.psql("CHECKPOINT");
    let at = s.psql("SELECT lsn FROM pg_create_physical_replication_slot('stuck', true)");
    // Stream from the segment start of the slot's position, never confirming.
    let seg_start = lsn(&at) / MB * MB;
    let start = format!("{:X}/{:X}", seg_start >> 32, seg_start & 0xffff_ffff);
    let (_sock, ended) = silent_streamer(s.port, "stuck", &start);
    wait_until(Duration::from_secs(20), "the slot to become active", || {
        s.psql("SELECT active FROM pg_replication_slots") == "t"
    });
    churn_wal(&s, 6);
    ended
        .recv_timeout(Duration::from_secs(30))
        .expect("the walsender of the invalidated slot was not terminated");
    let log = s.log_text();
    assert!(
        log.contains("invalidating slot \"stuck\" because its restart_lsn"),
        "{log}"
    );
    assert!(
        log.contains("to release replication slot \"stuck\""),
        "{log}"
    );
    wait_until(Duration::from_secs(20), "the slot to be released", || {
        s.psql("SELECT active FROM pg_replication_slots") == "f"
    });
    assert_eq!(
        s.psql("SELECT wal_status FROM pg_replication_slots"),
        "lost"
    );
    s.stop();
}
