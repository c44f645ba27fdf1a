//! `pg_create_restore_point(name)` on a real server: the returned LSN is the end of
//! PostgreSQL's own XLOG RESTORE_POINT record, which stock `pg_waldump` decodes with
//! its name; the LOG line; the errors (name too long, not a superuser, in recovery,
//! `wal_level = minimal`) with PostgreSQL 15's SQLSTATEs and texts.

#[path = "common/mod.rs"]
mod common;

use common::{make_standby, pg_bin, run_with_timeout, runtime, spawn, wait_log, Server};
use std::process::Command;
use std::time::Duration;

/// Parses `X/Y` as printed by PostgreSQL.
fn lsn(s: &str) -> u64 {
    let (hi, lo) = s.trim().split_once('/').expect("an LSN");
    (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap()
}

/// `pg_waldump` of everything from `start` (its end-of-WAL complaint is expected).
fn waldump(s: &Server, start: u64) -> String {
    let out = run_with_timeout(
        Command::new(pg_bin("pg_waldump"))
            .arg("-p")
            .arg(s.datadir().join("pg_wal"))
            .arg("-s")
            .arg(format!("{:X}/{:X}", start >> 32, start as u32)),
        Duration::from_secs(60),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn restore_point_record_lsn_and_errors() {
    let mut s = Server::start_new("restore-point");
    let before = lsn(&s.psql("SELECT pg_current_wal_insert_lsn()"));
    let end = lsn(&s.psql("SELECT pg_create_restore_point('before_upgrade')"));
    let long63 = "a".repeat(63);
    s.psql(&format!("SELECT pg_create_restore_point('{long63}')"));
    assert_eq!(s.psql("SELECT pg_create_restore_point(NULL) IS NULL"), "t");

    // Stock pg_waldump sees PostgreSQL's record, 98 bytes, and the returned LSN is its
    // (MAXALIGNed) end.
    let dump = waldump(&s, before);
    let line = dump
        .lines()
        .find(|l| l.ends_with("desc: RESTORE_POINT before_upgrade"))
        .unwrap_or_else(|| panic!("no RESTORE_POINT in pg_waldump output:\n{dump}"));
    assert!(line.starts_with("rmgr: XLOG"), "{line}");
    assert!(line.contains("len (rec/tot):     98/    98"), "{line}");
    let at = line
        .split("lsn: ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    assert_eq!(end, lsn(at) + 104, "{line}");
    assert!(
        dump.contains(&format!("desc: RESTORE_POINT {long63}")),
        "{dump}"
    );
    assert!(s.log_text().contains(&format!(
        "LOG:  restore point \"before_upgrade\" created at {:X}/{:X}",
        end >> 32,
        end as u32
    )));

    runtime().block_on(async {
        let c = s.connect("postgres").await;
        let e = c
            .query_one("SELECT pg_create_restore_point(repeat('a', 64))", &[])
            .await
            .unwrap_err();
        let db = e.as_db_error().unwrap();
        assert_eq!(db.code().code(), "22023");
        assert_eq!(
            db.message(),
            "value too long for restore point (maximum 63 characters)"
        );
        // Bytes count, as strlen: 32 two-byte characters are too long.
        let e = c
            .query_one("SELECT pg_create_restore_point(repeat('é', 32))", &[])
            .await
            .unwrap_err();
        assert_eq!(e.as_db_error().unwrap().code().code(), "22023");
        c.batch_execute("CREATE ROLE plain LOGIN").await.unwrap();
        let p = s.connect("plain").await;
        let e = p
            .query_one("SELECT pg_create_restore_point('x')", &[])
            .await
            .unwrap_err();
        let db = e.as_db_error().unwrap();
        assert_eq!(db.code().code(), "42501");
        assert_eq!(
            db.message(),
            "permission denied for function pg_create_restore_point"
        );
    });

    // During recovery: a standby made from the stopped primary.
    s.stop();
    let mut st = make_standby(&s, "restore-point-standby", "");
    spawn(&mut st);
    wait_log(&mut st, "ready to accept read-only connections", 1);
    runtime().block_on(async {
        let c = st.connect("postgres").await;
        let e = c
            .query_one("SELECT pg_create_restore_point('x')", &[])
            .await
            .unwrap_err();
        let db = e.as_db_error().unwrap();
        assert_eq!(db.code().code(), "55000");
        assert_eq!(db.message(), "recovery is in progress");
        assert_eq!(
            db.hint(),
            Some("WAL control functions cannot be executed during recovery.")
        );
    });
}

#[test]
fn restore_point_needs_wal_level_replica() {
    let mut s = Server::init("restore-point-minimal", &[]);
    s.append_conf("wal_level = minimal\nmax_wal_senders = 0\n");
    s.start();
    runtime().block_on(async {
        let c = s.connect("postgres").await;
        let e = c
            .query_one("SELECT pg_create_restore_point('x')", &[])
            .await
            .unwrap_err();
        let db = e.as_db_error().unwrap();
        assert_eq!(db.code().code(), "55000");
        assert_eq!(
            db.message(),
            "WAL level not sufficient for creating a restore point"
        );
        assert_eq!(
            db.hint(),
            Some("wal_level must be set to \"replica\" or \"logical\" at server start.")
        );
    });
}
