//! `tusk standby`: one command makes, configures and starts a streaming standby of a
//! primary set up as the operator's guide says (a `repl` role with REPLICATION and a
//! password, `host replication repl 127.0.0.1/32 md5`), and every way it fails says
//! why with pg_basebackup's / libpq's texts — checked against stock pg_basebackup 15
//! on the same primary where both apply.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// A primary with the guide's settings; `host all all … trust` lets the command (and
/// the test) read pg_stat_replication over an ordinary connection.
fn guide_primary(tag: &str, max_wal_senders: u32) -> Server {
    let mut p = Server::init(tag, &[]);
    p.append_conf(&format!(
        "max_connections = 120\nwal_level = hot_standby\nmax_wal_senders = {max_wal_senders}\n\
         wal_sender_timeout = 60s\nmax_locks_per_transaction = 80\nwal_keep_size = 64MB\n"
    ));
    p.write_hba(
        "local all all trust\n\
         host all all 127.0.0.1/32 trust\n\
         host replication repl 127.0.0.1/32 md5\n\
         host replication postgres 127.0.0.1/32 trust\n",
    );
    p.start();
    p.psql(
        "CREATE ROLE repl LOGIN REPLICATION ENCRYPTED PASSWORD 'repl'; \
         CREATE ROLE norepl LOGIN PASSWORD 'x'; \
         CREATE TABLE t (a int PRIMARY KEY, b text); \
         INSERT INTO t SELECT g, 'before' FROM generate_series(1, 50) g",
    );
    p
}

/// `tusk standby -D dir --primary … args`, bounded.
fn tusk_standby(dir: &Path, primary: &str, args: &[&str]) -> Output {
    run_with_timeout(
        Command::new(tusk_bin())
            .arg("standby")
            .arg("-D")
            .arg(dir)
            .arg("--primary")
            .arg(primary)
            .args(args)
            .env_remove("PGPASSWORD"),
        Duration::from_secs(180),
    )
}

fn repl_conninfo(p: &Server, password: &str) -> String {
    format!(
        "host=127.0.0.1 port={} user=repl password={password}",
        p.port
    )
}

/// A standby made by the command: its directory holder, port and data directory;
/// stopped (immediate) on drop.
struct Made {
    _dir: TempDir,
    data: PathBuf,
    port: u16,
}

impl Made {
    fn psql(&self, sql: &str) -> String {
        let out = run_with_timeout(
            Command::new(pg_bin("psql"))
                .args([
                    "-X",
                    "-A",
                    "-t",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                ])
                .args(["-U", "postgres", "-d", "postgres", "-c", sql]),
            Duration::from_secs(30),
        );
        stdout(&out).trim().to_string()
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        let _ = run_with_timeout(
            Command::new(tusk_bin())
                .args(["ctl", "stop", "-m", "immediate", "-D"])
                .arg(&self.data),
            Duration::from_secs(60),
        );
    }
}

/// Makes a standby of `p` named `app` with the command; asserts success.
fn make(p: &Server, tag: &str, app: &str, extra: &[&str]) -> (Made, Output) {
    let dir = TempDir::new(tag);
    let data = dir.path().join("data");
    let port = free_port();
    let port_s = port.to_string();
    let monitor = format!("--monitor=host=127.0.0.1 port={} user=postgres", p.port);
    let mut args = vec![
        "-p",
        &port_s,
        "--application-name",
        app,
        "-c",
        "listen_addresses=127.0.0.1",
        monitor.as_str(),
    ];
    args.extend_from_slice(extra);
    let out = tusk_standby(&data, &repl_conninfo(p, "repl"), &args);
    let made = Made {
        _dir: dir,
        data,
        port,
    };
    assert!(
        out.status.success(),
        "tusk standby failed: {}\nstdout: {}\nstandby log: {}\nprimary log: {}",
        stderr(&out),
        stdout(&out),
        std::fs::read_to_string(made.data.join("log/tusk.log")).unwrap_or_default(),
        p.log_text()
    );
    (made, out)
}

/// The value of `name` in the expanded row the command printed.
fn field(printed: &str, name: &str) -> Option<String> {
    printed.lines().find_map(|l| {
        let (n, v) = l.split_once(" | ")?;
        (n.trim() == name).then(|| v.trim().to_string())
    })
}

#[test]
fn one_command_standby_under_concurrent_writes() {
    let p = guide_primary("sbc-main", 5);
    // A write load (one autocommit INSERT per psql run) that runs during the whole
    // backup, the start and the wait, and goes on until at least 300 rows are in.
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let port = p.port;
    let (stop, done) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let load = {
        let (stop, done) = (stop.clone(), done.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while i < 300 || !stop.load(Ordering::SeqCst) {
                let out = run_with_timeout(
                    Command::new(pg_bin("psql"))
                        .args(["-X", "-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                        .args(["-U", "postgres", "-d", "postgres", "-c"])
                        .arg(format!("INSERT INTO t VALUES ({}, 'during')", 1000 + i)),
                    Duration::from_secs(30),
                );
                assert!(out.status.success(), "insert {i}: {}", stderr(&out));
                i += 1;
                done.store(i, Ordering::SeqCst);
            }
            i
        })
    };
    wait_until("the load to begin", || done.load(Ordering::SeqCst) >= 5);
    let before = done.load(Ordering::SeqCst);
    let (s, out) = make(&p, "sbc-s1", "s1", &["--slot", "s1slot", "-P"]);
    let after = done.load(Ordering::SeqCst);
    assert!(after > before, "no insert committed while the command ran");
    let printed = stdout(&out);
    let err = stderr(&out);
    assert!(printed.starts_with("-[ RECORD 1 ]"), "{printed}");
    assert_eq!(
        field(&printed, "state").as_deref(),
        Some("streaming"),
        "{printed}"
    );
    assert_eq!(field(&printed, "application_name").as_deref(), Some("s1"));
    assert_eq!(field(&printed, "usename").as_deref(), Some("repl"));
    assert!(err.contains("tablespace"), "progress lines: {err}");
    assert!(err.contains("server started"), "{err}");
    stop.store(true, Ordering::SeqCst);
    let inserted = load.join().unwrap();

    // The configuration it wrote.
    let auto = std::fs::read_to_string(s.data.join("postgresql.auto.conf")).unwrap();
    for want in [
        "primary_conninfo = 'user=repl host=127.0.0.1",
        "application_name=s1",
        "primary_slot_name = 's1slot'",
        "hot_standby = on",
        "max_connections = '120'",
        "max_wal_senders = '5'",
        "max_locks_per_transaction = '80'",
        "max_worker_processes = '",
        "max_prepared_transactions = '",
        "listen_addresses = '127.0.0.1'",
    ] {
        assert!(auto.contains(want), "{want:?} missing from:\n{auto}");
    }
    assert!(s.data.join("standby.signal").exists());
    assert!(s.data.join("log/tusk.log").exists());
    // The slot was created on the primary and is the one streaming.
    assert_eq!(
        p.psql("SELECT slot_type, active FROM pg_replication_slots WHERE slot_name = 's1slot'")
            .trim(),
        "physical|t"
    );

    // Every row written during the backup, and one written now, reach the standby.
    p.psql("INSERT INTO t VALUES (5000, 'after')");
    let want = format!("{}|5000", 50 + inserted + 1);
    wait_until("the standby to replay every insert", || {
        s.psql("SELECT count(*), max(a) FROM t") == want
    });
    assert_eq!(
        s.psql("SELECT count(*), min(a), max(a) FROM t WHERE b = 'during'"),
        format!("{inserted}|1000|{}", 999 + inserted),
        "the concurrent inserts"
    );
    assert_eq!(s.psql("SELECT pg_is_in_recovery()"), "t");
    // The primary's pg_stat_replication shows the standby streaming.
    assert_eq!(
        p.psql("SELECT state, sync_state FROM pg_stat_replication WHERE application_name = 's1'")
            .trim(),
        "streaming|async"
    );

    // Run as the repl role alone (no --monitor), the row is found as well; only the
    // columns a non-superuser may see are filled, and it says so.
    let dir = TempDir::new("sbc-s2");
    let data = dir.path().join("data");
    let port2 = free_port().to_string();
    let out = tusk_standby(
        &data,
        &repl_conninfo(&p, "repl"),
        &["-p", &port2, "-c", "listen_addresses=127.0.0.1"],
    );
    let _s2 = Made {
        _dir: dir,
        data: data.clone(),
        port: port2.parse().unwrap(),
    };
    assert!(out.status.success(), "{}", stderr(&out));
    // The default application name is the directory's name.
    assert_eq!(
        field(&stdout(&out), "application_name").as_deref(),
        Some("data")
    );
    assert!(
        stderr(&out).contains("only superusers see a walsender's state"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn failures_say_why_and_leave_nothing_behind() {
    let p = guide_primary("sbc-fail", 2);
    let base = TempDir::new("sbc-fail-dirs");

    // A directory that is not empty is refused and left as it was.
    let full = base.path().join("full");
    std::fs::create_dir_all(&full).unwrap();
    std::fs::write(full.join("keep"), b"mine").unwrap();
    let out = tusk_standby(&full, &repl_conninfo(&p, "repl"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "tusk standby: error: directory \"{}\" exists but is not empty\n",
            full.display()
        )
    );
    assert_eq!(std::fs::read(full.join("keep")).unwrap(), b"mine");
    assert_eq!(std::fs::read_dir(&full).unwrap().count(), 1);

    // Authentication failures: the same text as stock pg_basebackup on this primary.
    let target = base.path().join("new");
    let cases: [(&str, &str, &str); 3] = [
        ("repl", "wrong", "FATAL:  password authentication failed for user \"repl\""),
        (
            "nobody",
            "x",
            "FATAL:  no pg_hba.conf entry for replication connection from host \"127.0.0.1\", user \"nobody\"",
        ),
        ("norepl", "x", "must be superuser or replication role to start walsender"),
    ];
    // norepl needs an hba line to get as far as the role check.
    p.write_hba(
        "local all all trust\n\
         host all all 127.0.0.1/32 trust\n\
         host replication repl 127.0.0.1/32 md5\n\
         host replication norepl 127.0.0.1/32 md5\n\
         host replication postgres 127.0.0.1/32 trust\n",
    );
    p.psql("SELECT pg_reload_conf()");
    std::thread::sleep(Duration::from_millis(500));
    for (user, password, want) in cases {
        let conninfo = format!(
            "host=127.0.0.1 port={} user={user} password={password}",
            p.port
        );
        let out = tusk_standby(&target, &conninfo, &[]);
        assert_eq!(out.status.code(), Some(1), "{user}: {}", stderr(&out));
        let ours = stderr(&out);
        assert!(ours.contains(want), "{user}: {ours}");
        assert!(
            ours.starts_with(&format!(
                "tusk standby: error: connection to server at \"127.0.0.1\", port {} failed: ",
                p.port
            )),
            "{ours}"
        );
        assert!(!target.exists(), "{user}: the target directory was created");
        let stock = run_with_timeout(
            Command::new(pg_bin("pg_basebackup"))
                .arg("-D")
                .arg(&target)
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &p.port.to_string(),
                    "-U",
                    user,
                    "-Xs",
                ])
                .env("PGPASSWORD", password),
            Duration::from_secs(60),
        );
        let stock = stderr(&stock);
        let stock_line = stock.lines().next().unwrap_or_default();
        assert_eq!(
            ours.lines()
                .next()
                .unwrap_or_default()
                .strip_prefix("tusk standby: "),
            stock_line.strip_prefix("pg_basebackup: "),
            "pg_basebackup said: {stock}"
        );
        let _ = std::fs::remove_dir_all(&target);
    }

    // An unreachable primary.
    let dead = free_port();
    let out = tusk_standby(
        &target,
        &format!("host=127.0.0.1 port={dead} user=repl password=repl"),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with(&format!(
            "tusk standby: error: connection to server at \"127.0.0.1\", port {dead} failed: Connection refused\n\
             \tIs the server running on that host and accepting TCP/IP connections?"
        )),
        "{}",
        stderr(&out)
    );
    assert!(!target.exists());

    // A monitoring connection the primary refuses: the standby is written, not
    // started, and the message says so.
    let out = tusk_standby(
        &target,
        &repl_conninfo(&p, "repl"),
        &[&format!(
            "--monitor=host=127.0.0.1 port={} user=nobody dbname=postgres",
            p.port
        )],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("tusk standby: error: could not connect to the primary to check the standby: connection to server at"),
        "{err}"
    );
    assert!(
        err.contains("The standby was written but not started"),
        "{err}"
    );
    assert!(target.join("standby.signal").exists() && !target.join("postmaster.pid").exists());
    std::fs::remove_dir_all(&target).unwrap();

    // max_wal_senders = 2 with one standby streaming: the backup's connection gets
    // the second walsender, its WAL stream finds none left; the half-made directory
    // (given empty) is emptied again.
    let (_s1, _) = make(&p, "sbc-fail-s1", "s1", &[]);
    std::fs::create_dir_all(&target).unwrap();
    let out = tusk_standby(&target, &repl_conninfo(&p, "repl"), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    eprintln!("max_wal_senders during the backup:\n{err}");
    assert!(
        err.contains(
            "FATAL:  number of requested standby connections exceeds max_wal_senders (currently 2)"
        ),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "tusk standby: removing contents of data directory \"{}\"",
            target.display()
        )),
        "{err}"
    );
    assert!(target.is_dir() && std::fs::read_dir(&target).unwrap().next().is_none());

    // Both walsenders taken (the standby and another replication client): the first
    // connection is refused.
    // (The failed attempt's walsender may take a moment to go: retry, bounded.)
    let started = std::time::Instant::now();
    let _held = loop {
        match replication_connect(p.port, "postgres", "holder") {
            Ok(c) => break c,
            Err(e) if started.elapsed() < std::time::Duration::from_secs(20) => {
                let _ = e;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => panic!("second walsender: {e:?}"),
        }
    };
    let out = tusk_standby(&target, &repl_conninfo(&p, "repl"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "failed: FATAL:  number of requested standby connections exceeds max_wal_senders (currently 2)"
        ),
        "{}",
        stderr(&out)
    );
    assert!(std::fs::read_dir(&target).unwrap().next().is_none());
}

/// A small tmpfs mounted for one test and unmounted on drop (None where mounting is
/// not permitted).
struct SmallFs(PathBuf);

impl SmallFs {
    fn mount(at: &Path, size: &str) -> Option<SmallFs> {
        std::fs::create_dir_all(at).unwrap();
        let out = run_with_timeout(
            Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(at),
            Duration::from_secs(20),
        );
        out.status.success().then(|| SmallFs(at.to_path_buf()))
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = run_with_timeout(Command::new("umount").arg(&self.0), Duration::from_secs(20));
    }
}

#[test]
fn a_full_disk_during_the_backup_is_reported_and_cleaned_up() {
    let base = TempDir::new("sbc-disk");
    let Some(fs) = SmallFs::mount(&base.path().join("small"), "256k") else {
        eprintln!("SKIPPED: mounting a tmpfs is not permitted here");
        return;
    };
    let p = guide_primary("sbc-disk-p", 5);
    let target = fs.0.join("standby");
    let out = tusk_standby(&target, &repl_conninfo(&p, "repl"), &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.starts_with("tusk standby: error: could not "), "{err}");
    assert!(
        err.contains(&format!(
            "tusk standby: removing data directory \"{}\"",
            target.display()
        )),
        "{err}"
    );
    assert!(!target.exists());
    assert!(std::fs::read_dir(&fs.0).unwrap().next().is_none());
    drop(fs);
}

/// Runs `program` as the `postgres` OS user when the tests run as root (PostgreSQL
/// refuses to run as root and wants its data directory owned by its user).
fn as_postgres(program: &Path, root: bool) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// The native backup client against a stock PostgreSQL 15 primary: `tusk standby
/// --no-start` writes a directory that stock `pg_ctl start` runs as a streaming hot
/// standby.
#[test]
fn the_backup_client_makes_a_postgresql_standby_too() {
    let bin = Path::new("/usr/lib/postgresql/15/bin");
    if !bin.join("initdb").exists() {
        eprintln!("SKIPPED: no PostgreSQL 15 server binaries");
        return;
    }
    let root = stdout(&run_with_timeout(
        Command::new("id").arg("-u"),
        Duration::from_secs(10),
    ))
    .trim()
        == "0";
    let dir = TempDir::new("sbc-pg");
    if root {
        assert!(Command::new("chown")
            .arg("postgres")
            .arg(dir.path())
            .status()
            .unwrap()
            .success());
    }
    let (pport, sport) = (free_port(), free_port());
    let pdata = dir.path().join("primary");
    let sdata = dir.path().join("standby");
    let ok = |o: Output, what: &str| assert!(o.status.success(), "{what}: {}", stderr(&o));
    ok(
        run_with_timeout(
            as_postgres(&bin.join("initdb"), root)
                .args(["-U", "postgres", "-A", "trust", "--no-sync", "-D"])
                .arg(&pdata),
            Duration::from_secs(120),
        ),
        "initdb",
    );
    let pg_ctl = |data: &Path, args: &[&str]| {
        run_with_timeout(
            as_postgres(&bin.join("pg_ctl"), root)
                .arg("-D")
                .arg(data)
                .args(args),
            Duration::from_secs(120),
        )
    };
    let opts = format!(
        "-p {pport} -k {} -c listen_addresses=127.0.0.1",
        dir.path().display()
    );
    let plog = dir.path().join("primary.log");
    ok(
        pg_ctl(
            &pdata,
            &["-w", "-l", plog.to_str().unwrap(), "-o", &opts, "start"],
        ),
        "pg_ctl start (primary)",
    );
    struct Stop<'a>(&'a dyn Fn());
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            (self.0)()
        }
    }
    let stop_all = || {
        let _ = pg_ctl(&sdata, &["-m", "immediate", "stop"]);
        let _ = pg_ctl(&pdata, &["-m", "immediate", "stop"]);
    };
    let _stop = Stop(&stop_all);
    let psql = |port: u16, sql: &str| {
        let o = run_with_timeout(
            Command::new(pg_bin("psql"))
                .args(["-X", "-A", "-t", "-h", "127.0.0.1", "-p", &port.to_string()])
                .args(["-U", "postgres", "-d", "postgres", "-c", sql]),
            Duration::from_secs(30),
        );
        stdout(&o).trim().to_string()
    };
    psql(
        pport,
        "CREATE TABLE t (a int); INSERT INTO t SELECT generate_series(1, 1000)",
    );

    let out = run_with_timeout(
        as_postgres(Path::new(tusk_bin()), root)
            .arg("standby")
            .arg("-D")
            .arg(&sdata)
            .arg(format!(
                "--primary=host=127.0.0.1 port={pport} user=postgres"
            ))
            .args([
                "--slot",
                "pgslot",
                "--application-name",
                "tuskmade",
                "--no-start",
            ])
            .args(["-p", &sport.to_string()]),
        Duration::from_secs(120),
    );
    assert!(out.status.success(), "tusk standby: {}", stderr(&out));
    assert!(sdata.join("standby.signal").exists());
    assert!(sdata.join("backup_label").exists());
    let slog = dir.path().join("standby.log");
    ok(
        pg_ctl(&sdata, &["-w", "-l", slog.to_str().unwrap(), "start"]),
        "pg_ctl start (standby)",
    );
    psql(pport, "INSERT INTO t VALUES (1001)");
    wait_until("the PostgreSQL standby to replay", || {
        psql(sport, "SELECT count(*) FROM t") == "1001"
    });
    assert_eq!(psql(sport, "SELECT pg_is_in_recovery()"), "t");
    assert_eq!(
        psql(
            pport,
            "SELECT state FROM pg_stat_replication WHERE application_name = 'tuskmade'"
        ),
        "streaming"
    );
    assert_eq!(
        psql(
            pport,
            "SELECT active FROM pg_replication_slots WHERE slot_name = 'pgslot'"
        ),
        "t"
    );
}
