//! BASE_BACKUP against the stock PostgreSQL 15 tools: pg_basebackup in plain and tar
//! format, with and without WAL, manifest and throttling; pg_verifybackup on the copy
//! (its WAL check runs the stock pg_waldump); then a tusk server started on the copy
//! must find the rows, and refuse to go live when the backup's WAL is missing.
//!
//! Every test starts its own servers (the harness picks free ports), bounds every wait
//! and cleans up on drop.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, pg_bin, run_with_timeout, stderr, stdout, Server, TempDir};

/// A primary with 1 MB segments, a `repl` role with REPLICATION and a table of rows
/// 1..=n.
fn primary(tag: &str, n: i64) -> Server {
    let mut s = Server::init(tag, &["--wal-segsize=1"]);
    s.start();
    s.psql(&format!(
        "CREATE ROLE repl LOGIN REPLICATION; CREATE TABLE t (a int PRIMARY KEY, b text); \
         INSERT INTO t SELECT g, repeat('x', 100) || g FROM generate_series(1, {n}) g"
    ));
    s
}

/// Runs pg_basebackup against `server` with `args`; returns its output.
fn basebackup(server: &Server, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(pg_bin("pg_basebackup"));
    cmd.arg("-D")
        .arg(dir)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &server.port.to_string(),
            "-U",
            "repl",
        ])
        .args(args)
        .env_remove("PGPASSWORD");
    run_with_timeout(&mut cmd, Duration::from_secs(120))
}

fn verifybackup(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(pg_bin("pg_verifybackup"));
    cmd.args(args).arg(dir);
    run_with_timeout(&mut cmd, Duration::from_secs(120))
}

/// A server over a restored copy at `<dir>/data`, listening on a new port.
fn copy_server(dir: TempDir) -> Server {
    let port = free_port();
    std::fs::create_dir_all(dir.path().join("sock")).unwrap();
    let log = dir.path().join("server.log");
    let s = Server {
        dir,
        port,
        child: None,
        log,
    };
    s.append_conf(&format!(
        "port = {}\nunix_socket_directories = '{}'\n",
        port,
        s.socket_dir().display()
    ));
    s
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn replication_psql(server: &Server, sql: &str) -> Output {
    let mut cmd = Command::new(pg_bin("psql"));
    cmd.args(["-X", "-A", "-t", "-w"])
        .arg(format!(
            "host=127.0.0.1 port={} user=repl dbname=replication replication=true connect_timeout=10",
            server.port
        ))
        .args(["-c", sql]);
    run_with_timeout(&mut cmd, Duration::from_secs(60))
}

#[test]
fn plain_with_fetched_wal_verifies_and_starts() {
    let primary = primary("bb_plain", 2000);
    let dir = TempDir::new("bb_plain_copy");
    let data = dir.path().join("data");
    let out = basebackup(
        &primary,
        &data,
        &["-Fp", "-X", "fetch", "-P", "-c", "fast", "-l", "mylabel"],
    );
    assert!(
        out.status.success(),
        "pg_basebackup failed: {}\nlog:\n{}",
        stderr(&out),
        primary.log_text()
    );
    // The progress display ends at 100%.
    assert!(
        stderr(&out).contains("(100%), 1/1 tablespace"),
        "{}",
        stderr(&out)
    );
    // Rows committed after the backup must not be in the copy.
    primary.psql("INSERT INTO t VALUES (100000, 'after')");

    let label = std::fs::read_to_string(data.join("backup_label")).unwrap();
    let lines: Vec<&str> = label.lines().collect();
    assert_eq!(lines.len(), 7, "{label}");
    assert!(lines[0].starts_with("START WAL LOCATION: 0/"), "{label}");
    assert!(lines[0].contains(" (file 00000001"), "{label}");
    assert!(lines[1].starts_with("CHECKPOINT LOCATION: 0/"), "{label}");
    assert_eq!(lines[2], "BACKUP METHOD: streamed");
    assert_eq!(lines[3], "BACKUP FROM: primary");
    assert!(lines[4].starts_with("START TIME: "), "{label}");
    assert_eq!(lines[5], "LABEL: mylabel");
    assert_eq!(lines[6], "START TIMELINE: 1");
    // What PostgreSQL leaves out, and the directories it sends empty.
    assert!(!data.join("postmaster.pid").exists());
    assert!(data.join("pg_wal/archive_status").is_dir());
    assert!(files_in(&data.join("pg_replslot")).is_empty());
    assert!(data.join("global/pg_control").is_file());
    let wal = files_in(&data.join("pg_wal"));
    assert!(wal.iter().any(|f| f.starts_with("00000001")), "{wal:?}");
    for seg in wal.iter().filter(|f| f.len() == 24) {
        assert_eq!(
            std::fs::metadata(data.join("pg_wal").join(seg))
                .unwrap()
                .len(),
            1024 * 1024
        );
        assert!(data
            .join("pg_wal/archive_status")
            .join(format!("{seg}.done"))
            .exists());
    }

    // The stock verifier: sizes, checksums, and pg_waldump over the WAL range.
    let v = verifybackup(&data, &[]);
    assert!(
        v.status.success(),
        "pg_verifybackup failed: {}{}",
        stdout(&v),
        stderr(&v)
    );
    assert!(stdout(&v).contains("backup successfully verified"));

    let mut copy = copy_server(dir);
    copy.start();
    assert_eq!(copy.psql("SELECT count(*), max(a) FROM t"), "2000|2000");
    let log = copy.log_text();
    assert!(
        log.contains("starting backup recovery with redo LSN"),
        "{log}"
    );
    assert!(
        log.contains("consistent recovery state reached at"),
        "{log}"
    );
    assert!(copy.datadir().join("backup_label.old").exists());
    assert!(!copy.datadir().join("backup_label").exists());
    // The copy is a live server of its own.
    copy.psql("INSERT INTO t VALUES (2001, 'copy')");
    copy.stop();
    copy.start();
    assert_eq!(copy.psql("SELECT count(*) FROM t"), "2001");
}

#[test]
fn tar_gzip_and_tar_headers() {
    let primary = primary("bb_tar", 300);
    let dir = TempDir::new("bb_tar_copy");
    let gz = dir.path().join("gz");
    let out = basebackup(&primary, &gz, &["-Ft", "-z", "-X", "fetch", "-c", "fast"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(files_in(&gz), vec!["backup_manifest", "base.tar.gz"]);
    let list = run_with_timeout(
        Command::new("tar").arg("tzf").arg(gz.join("base.tar.gz")),
        Duration::from_secs(60),
    );
    assert!(list.status.success(), "{}", stderr(&list));
    let names: Vec<String> = stdout(&list).lines().map(str::to_string).collect();
    assert_eq!(names[0], "backup_label");
    assert!(names.contains(&"pg_wal/".to_string()), "{names:?}");
    assert!(names.contains(&"./pg_wal/archive_status/".to_string()));
    assert!(names.contains(&"global/pg_control".to_string()));
    assert!(names
        .iter()
        .any(|n| n.starts_with("pg_wal/00000001") && n.len() == 31));

    // Uncompressed: PostgreSQL's header fields and the 1024-byte trailer.
    let plain = dir.path().join("tar");
    let out = basebackup(&primary, &plain, &["-Ft", "-X", "none", "-c", "fast"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tar = std::fs::read(plain.join("base.tar")).unwrap();
    assert_eq!(tar.len() % 512, 0);
    assert!(tar[tar.len() - 1024..].iter().all(|&b| b == 0));
    let h = &tar[..512];
    assert_eq!(&h[..13], b"backup_label\0");
    assert_eq!(&h[100..108], b"0000600 ");
    assert_eq!(&h[257..265], b"ustar\x0000");
    assert_eq!(&h[265..274], b"postgres\0");
    let sum: u32 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    assert_eq!(&h[148..156], format!("{sum:07o} ").as_bytes());

    // Extracted by the system tar, the copy starts.
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let x = run_with_timeout(
        Command::new("tar")
            .arg("xzf")
            .arg(gz.join("base.tar.gz"))
            .arg("-C")
            .arg(&data),
        Duration::from_secs(60),
    );
    assert!(x.status.success(), "{}", stderr(&x));
    std::fs::copy(gz.join("backup_manifest"), data.join("backup_manifest")).unwrap();
    let v = verifybackup(&data, &[]);
    assert!(v.status.success(), "{}{}", stdout(&v), stderr(&v));
    assert!(data.join("tablespace_map").exists());
    let mut copy = copy_server(dir);
    copy.start();
    assert_eq!(copy.psql("SELECT count(*) FROM t"), "300");
    assert!(copy.datadir().join("tablespace_map.old").exists());
    assert!(copy.datadir().join("backup_label.old").exists());
}

#[test]
fn without_wal_the_copy_waits_for_it() {
    let primary = primary("bb_nowal", 500);
    let dir = TempDir::new("bb_nowal_copy");
    let data = dir.path().join("data");
    let out = basebackup(
        &primary,
        &data,
        &["-Fp", "-X", "none", "--no-manifest", "-c", "fast"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // PostgreSQL's notice when WAL is neither included nor archived.
    assert!(
        stderr(&out).contains("WAL archiving is not enabled"),
        "{}",
        stderr(&out)
    );
    assert!(!data.join("backup_manifest").exists());
    let wal: Vec<String> = files_in(&data.join("pg_wal"));
    assert_eq!(wal, vec!["archive_status"]);
    // The primary's WAL of the backup period, copied by hand before it can go.
    let primary_wal: Vec<PathBuf> = std::fs::read_dir(primary.datadir().join("pg_wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().len() == 24)
        .collect();

    let mut copy = copy_server(dir);
    // Without WAL the copy is not consistent: the server refuses to start.
    assert!(copy.try_start().is_err(), "{}", copy.log_text());
    let log = copy.log_text();
    assert!(
        log.contains("could not locate required checkpoint record")
            || log.contains("WAL ends before end of online backup"),
        "{log}"
    );
    assert!(copy.datadir().join("backup_label").exists());
    for p in primary_wal {
        std::fs::copy(
            &p,
            copy.datadir().join("pg_wal").join(p.file_name().unwrap()),
        )
        .unwrap();
    }
    copy.start();
    assert_eq!(copy.psql("SELECT count(*) FROM t"), "500");
    assert!(copy.datadir().join("backup_label.old").exists());
}

#[test]
fn throttled_backup_under_writes_and_checkpoints() {
    let primary = Arc::new(primary("bb_rate", 3000));
    let before: i64 = primary.psql("SELECT count(*) FROM t").parse().unwrap();
    // Writers, segment switches and checkpoints while the backup runs: the backup's
    // WAL must stay, and the copy must hold a prefix of the committed rows.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (p, stop) = (primary.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut next = 3001;
            while !stop.load(Ordering::SeqCst) && next < 3400 {
                p.psql(&format!(
                    "INSERT INTO t VALUES ({next}, 'during'); SELECT pg_switch_wal(); CHECKPOINT"
                ));
                next += 1;
            }
        })
    };
    let dir = TempDir::new("bb_rate_copy");
    let data = dir.path().join("data");
    let started = Instant::now();
    let out = basebackup(
        &primary,
        &data,
        &["-Fp", "-X", "fetch", "--max-rate=1M", "-c", "fast", "-P"],
    );
    let took = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    assert!(
        out.status.success(),
        "{}\nlog:\n{}",
        stderr(&out),
        primary.log_text()
    );
    // About 1.4 MB of data files and WAL at 1 MB/s cannot take less than a second.
    assert!(took >= Duration::from_millis(900), "took {took:?}");
    let v = verifybackup(&data, &[]);
    assert!(v.status.success(), "{}{}", stdout(&v), stderr(&v));
    let after: i64 = primary.psql("SELECT count(*) FROM t").parse().unwrap();

    let mut copy = copy_server(dir);
    copy.start();
    let got = copy.psql("SELECT count(*), max(a) FROM t");
    let (n, max) = got.split_once('|').unwrap();
    let (n, max): (i64, i64) = (n.parse().unwrap(), max.parse().unwrap());
    assert!(
        n >= before && n <= after,
        "{got} not within {before}..{after}"
    );
    assert_eq!(n, max, "rows are a prefix: {got}");
}

#[test]
fn base_backup_option_errors() {
    let mut s = Server::init("bb_opts", &[]);
    s.start();
    s.psql("CREATE ROLE repl LOGIN REPLICATION");
    for (cmd, msg) in [
        (
            "BASE_BACKUP (MAX_RATE 10)",
            "10 is outside the valid range for parameter \"MAX_RATE\" (32 .. 1048576)",
        ),
        (
            "BASE_BACKUP (LABEL 'a', label 'b')",
            "duplicate option \"label\"",
        ),
        (
            "BASE_BACKUP (FOO)",
            "unrecognized base backup option: \"foo\"",
        ),
        (
            "BASE_BACKUP (CHECKPOINT 'slow')",
            "unrecognized checkpoint type: \"slow\"",
        ),
        (
            "BASE_BACKUP (MANIFEST_CHECKSUMS 'sha256')",
            "manifest checksums require a backup manifest",
        ),
        ("BASE_BACKUP (LABEL 'x'", "syntax error"),
    ] {
        let out = replication_psql(&s, cmd);
        assert!(!out.status.success(), "{cmd}");
        assert!(stderr(&out).contains(msg), "{cmd}: {}", stderr(&out));
    }
    // The connection still works after an error; a SHA-256 manifest backup verifies.
    let dir = TempDir::new("bb_opts_copy");
    let data = dir.path().join("data");
    let out = basebackup(
        &s,
        &data,
        &[
            "-Fp",
            "-X",
            "fetch",
            "--manifest-checksums=SHA256",
            "-c",
            "fast",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let manifest = std::fs::read_to_string(data.join("backup_manifest")).unwrap();
    assert!(manifest.contains("\"Checksum-Algorithm\": \"SHA256\""));
    let v = verifybackup(&data, &[]);
    assert!(v.status.success(), "{}{}", stdout(&v), stderr(&v));
}

#[test]
fn streamed_wal_with_temporary_slot_and_recovery_config() {
    let primary = primary("bb_stream", 800);
    let dir = TempDir::new("bb_stream_copy");
    let data = dir.path().join("data");
    let out = basebackup(
        &primary,
        &data,
        &["-Fp", "-X", "stream", "-c", "fast", "-v"],
    );
    assert!(
        out.status.success(),
        "{}\nlog:\n{}",
        stderr(&out),
        primary.log_text()
    );
    assert!(
        stderr(&out).contains("created temporary replication slot \"pg_basebackup_"),
        "{}",
        stderr(&out)
    );
    let v = verifybackup(&data, &[]);
    assert!(v.status.success(), "{}{}", stdout(&v), stderr(&v));
    // The temporary slot went with the WAL connection.
    assert_eq!(
        primary.psql("SELECT count(*) FROM pg_replication_slots"),
        "0"
    );
    let mut copy = copy_server(dir);
    copy.start();
    assert_eq!(copy.psql("SELECT count(*) FROM t"), "800");
    drop(copy);

    // -R writes standby.signal and primary_conninfo; -Ft -Xs puts the WAL in pg_wal.tar.
    let dir = TempDir::new("bb_stream_r");
    let r = dir.path().join("r");
    let out = basebackup(&primary, &r, &["-Fp", "-X", "stream", "-R", "-c", "fast"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(r.join("standby.signal").exists());
    let auto = std::fs::read_to_string(r.join("postgresql.auto.conf")).unwrap();
    assert!(auto.contains("primary_conninfo = 'user=repl"), "{auto}");
    assert!(auto.contains(&format!("port={}", primary.port)), "{auto}");
    let v = verifybackup(&r, &[]);
    assert!(v.status.success(), "{}{}", stdout(&v), stderr(&v));
    let t = dir.path().join("t");
    let out = basebackup(&primary, &t, &["-Ft", "-X", "stream", "-c", "fast"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        files_in(&t),
        vec!["backup_manifest", "base.tar", "pg_wal.tar"]
    );
}
