//! The walsender against stock PostgreSQL 15 clients: psql on `replication=true` and
//! `replication=database` connections, pg_receivewal streaming, the connection checks
//! (REPLICATION attribute, pg_hba, passwords, max_wal_senders) and pg_stat_replication.
//!
//! Every test starts its own server (the harness picks free ports), bounds every wait
//! and cleans up on drop.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::{pg_bin, replication_connect, run_with_timeout, stderr, stdout, Server};

/// Runs psql with a full connection string; returns its output.
fn psql_conn(server: &Server, conninfo: &str, sql: &str, password: Option<&str>) -> Output {
    let mut cmd = Command::new(pg_bin("psql"));
    cmd.args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-w"])
        .arg(format!(
            "host=127.0.0.1 port={} connect_timeout=10 {conninfo}",
            server.port
        ))
        .args(["-c", sql])
        .env_remove("PGPASSWORD");
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    run_with_timeout(&mut cmd, Duration::from_secs(60))
}

/// psql on a physical replication connection as `postgres`.
fn repl(server: &Server, sql: &str) -> Output {
    psql_conn(
        server,
        "user=postgres dbname=replication replication=true",
        sql,
        None,
    )
}

#[test]
fn commands_on_physical_and_database_connections() {
    let mut server = Server::init("ws_cmds", &[]);
    server.append_conf("log_replication_commands = on\n");
    server.start();

    let out = repl(&server, "SHOW wal_segment_size");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "16MB");

    let out = repl(&server, "SHOW data_directory_mode;");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "0700");

    let out = repl(&server, "IDENTIFY_SYSTEM");
    assert!(out.status.success(), "{}", stderr(&out));
    let row = stdout(&out).trim().to_string();
    let cols: Vec<&str> = row.split('|').collect();
    assert_eq!(cols.len(), 4, "{row}");
    let sysid = server.psql("select system_identifier from pg_control_system()");
    assert_eq!(cols[0], sysid);
    assert_eq!(cols[1], "1");
    assert!(cols[2].contains('/'), "{row}");
    assert_eq!(cols[3], "", "dbname is NULL on a physical connection");

    // SQL on a physical walsender: PostgreSQL's 0A000, and the connection survives.
    let out = repl(&server, "select 1");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot execute SQL commands in WAL sender for physical replication"),
        "{}",
        stderr(&out)
    );
    let out = repl(&server, "identify_system");
    assert!(stderr(&out).contains("cannot execute SQL commands in WAL sender"));

    // Syntax errors.
    let out = repl(&server, "BASE_BACKUP LABEL 'x' PROGRESS");
    assert!(
        stderr(&out).contains("ERROR:  syntax error"),
        "{}",
        stderr(&out)
    );
    let out = repl(&server, "TIMELINE_HISTORY 0");
    assert!(
        stderr(&out).contains("invalid timeline 0"),
        "{}",
        stderr(&out)
    );
    let out = repl(&server, "TIMELINE_HISTORY 1");
    assert!(
        stderr(&out)
            .contains("could not open file \"pg_wal/00000001.history\": No such file or directory"),
        "{}",
        stderr(&out)
    );

    // Several commands over one connection: errors do not end it.
    let out = Command::new(pg_bin("psql"))
        .args(["-X", "-A", "-t", "-w"])
        .arg(format!(
            "host=127.0.0.1 port={} user=postgres dbname=replication replication=true",
            server.port
        ))
        .args(["-c", "select 1", "-c", "SHOW wal_segment_size"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out).trim(), "16MB", "{}", stderr(&out));

    // replication=database runs SQL and replication commands; dbname is set.
    let out = psql_conn(
        &server,
        "user=postgres dbname=postgres replication=database",
        "select 40 + 2",
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "42");
    let out = psql_conn(
        &server,
        "user=postgres dbname=postgres replication=database",
        "IDENTIFY_SYSTEM",
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).trim().ends_with("|postgres"),
        "{}",
        stdout(&out)
    );

    assert!(server
        .log_text()
        .contains("received replication command: IDENTIFY_SYSTEM"));
}

/// A minimal protocol-3 client over TCP (trust authentication only), to drive the
/// CopyBoth stream byte by byte.
struct Raw {
    sock: std::net::TcpStream,
}

impl Raw {
    /// Connects as `user` with `replication=true`; returns the client and the backend
    /// pid, or the FATAL message the server sent.
    fn connect(port: u16, user: &str) -> Result<(Raw, i32), String> {
        let (sock, pid) = replication_connect(port, user, "rawtest")?;
        Ok((Raw { sock }, pid))
    }

    /// Reads one message; None when the server closed the connection.
    fn read(&mut self) -> Option<(u8, Vec<u8>)> {
        use std::io::Read;
        let mut head = [0u8; 5];
        self.sock.read_exact(&mut head).ok()?;
        let len = i32::from_be_bytes(head[1..5].try_into().unwrap()) as usize;
        let mut body = vec![0u8; len - 4];
        self.sock.read_exact(&mut body).ok()?;
        Some((head[0], body))
    }

    fn send(&mut self, tag: u8, body: &[u8]) {
        use std::io::Write;
        let mut msg = vec![tag];
        msg.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
        msg.extend_from_slice(body);
        self.sock.write_all(&msg).unwrap();
    }

    fn query(&mut self, text: &str) {
        let mut body = text.as_bytes().to_vec();
        body.push(0);
        self.send(b'Q', &body);
    }

    /// Reads messages up to and including ReadyForQuery.
    fn until_ready(&mut self) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some((tag, body)) = self.read() {
            out.push((tag, body));
            if tag == b'Z' {
                break;
            }
        }
        out
    }
}

/// The `M` field of an ErrorResponse body.
fn error_message(body: &[u8]) -> String {
    let mut fields = body.split(|b| *b == 0);
    for f in &mut fields {
        if f.first() == Some(&b'M') {
            return String::from_utf8_lossy(&f[1..]).to_string();
        }
    }
    String::new()
}

/// The `C` (SQLSTATE) field of an ErrorResponse body.
fn error_code(body: &[u8]) -> String {
    for f in body.split(|b| *b == 0) {
        if f.first() == Some(&b'C') {
            return String::from_utf8_lossy(&f[1..]).to_string();
        }
    }
    String::new()
}

fn command_tag(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len() - 1]).to_string()
}

fn parse_lsn(s: &str) -> u64 {
    let (hi, lo) = s.trim().split_once('/').unwrap();
    (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap()
}

#[test]
fn copy_both_stream_by_hand() {
    let mut server = Server::init("ws_raw", &["--wal-segsize=1"]);
    server.append_conf("wal_sender_timeout = 2s\n");
    server.start();
    server.psql("create table t(a int); insert into t select g from generate_series(1, 1000) g");
    let flush = parse_lsn(&server.psql("select pg_current_wal_flush_lsn()"));
    let seg_start = flush - flush % (1024 * 1024);

    let (mut c, _pid) = Raw::connect(server.port, "postgres").unwrap();

    // A start point ahead of the flush position: CopyBoth, then the error, then Z.
    c.query("START_REPLICATION 0/7F000000 TIMELINE 1");
    let msgs = c.until_ready();
    assert_eq!(msgs[0].0, b'W', "{msgs:?}");
    assert_eq!(msgs[0].1, vec![0, 0, 0]);
    assert_eq!(msgs[1].0, b'E');
    assert_eq!(error_code(&msgs[1].1), "XX000");
    let m = error_message(&msgs[1].1);
    assert!(
        m.starts_with("requested starting point 0/7F000000 is ahead of the WAL flush position of this server "),
        "{m}"
    );
    // An unknown timeline: error before CopyBoth.
    c.query("START_REPLICATION 0/0 TIMELINE 7");
    let msgs = c.until_ready();
    assert_eq!(msgs[0].0, b'E', "{msgs:?}");
    assert_eq!(
        error_message(&msgs[0].1),
        "requested timeline 7 is not in this server's history"
    );
    // A removed (or never written) segment: 58P01 after CopyBoth.
    c.query("START_REPLICATION 0/0 TIMELINE 1");
    let msgs = c.until_ready();
    assert_eq!(msgs[0].0, b'W');
    assert_eq!(
        error_code(&msgs[1].1),
        "58P01",
        "{}",
        error_message(&msgs[1].1)
    );
    assert_eq!(
        error_message(&msgs[1].1),
        "requested WAL segment 000000010000000000000000 has already been removed"
    );

    // A real stream from the segment start up to the flush position.
    c.query(&format!(
        "START_REPLICATION {:X}/{:X} TIMELINE 1",
        seg_start >> 32,
        seg_start & 0xffff_ffff
    ));
    let (tag, _) = c.read().unwrap();
    assert_eq!(tag, b'W');
    let mut next = seg_start;
    let mut wal = Vec::new();
    while next < flush {
        let (tag, body) = c.read().expect("stream ended early");
        assert_eq!(tag, b'd');
        if body[0] == b'k' {
            continue;
        }
        assert_eq!(body[0], b'w');
        let start = u64::from_be_bytes(body[1..9].try_into().unwrap());
        let wal_end = u64::from_be_bytes(body[9..17].try_into().unwrap());
        assert_eq!(start, next, "messages are contiguous");
        assert!(wal_end >= flush);
        assert!(body.len() - 25 <= 128 * 1024);
        wal.extend_from_slice(&body[25..]);
        next += (body.len() - 25) as u64;
    }
    // The bytes are the segment file's.
    let file = std::fs::read(server.datadir().join("pg_wal").join(format!(
        "{:08X}{:08X}{:08X}",
        1,
        0,
        seg_start >> 20
    )))
    .unwrap();
    assert_eq!(&file[..wal.len()], &wal[..]);
    // Silence: a keepalive asking for a reply comes after wal_sender_timeout / 2.
    let t0 = std::time::Instant::now();
    loop {
        let (tag, body) = c.read().expect("keepalive");
        assert_eq!(tag, b'd');
        if body[0] == b'k' {
            assert_eq!(body.len(), 18);
            assert_eq!(body[17], 1, "reply requested");
            assert_eq!(u64::from_be_bytes(body[1..9].try_into().unwrap()), next);
            break;
        }
    }
    assert!(t0.elapsed() < Duration::from_secs(5));
    // A standby reply asking for a reply gets a keepalive without the request.
    let mut r = vec![b'r'];
    for v in [next, next, 0u64, 0u64] {
        r.extend_from_slice(&v.to_be_bytes());
    }
    r.push(1);
    c.send(b'd', &r);
    loop {
        let (tag, body) = c.read().expect("keepalive answer");
        assert_eq!(tag, b'd');
        if body[0] == b'k' {
            assert_eq!(body[17], 0);
            break;
        }
    }
    let row = server.psql(
        "select application_name, state, sent_lsn = write_lsn, flush_lsn is not null, \
         replay_lsn is null, sync_priority, sync_state, reply_time is not null \
         from pg_stat_replication",
    );
    assert_eq!(row, "rawtest|streaming|t|t|t|0|async|t");

    // CopyDone ends the stream: CopyDone back, two tags, ReadyForQuery.
    c.send(b'c', &[]);
    let msgs = c.until_ready();
    let tags: Vec<String> = msgs
        .iter()
        .filter(|(t, b)| *t != b'd' || b[0] != b'w')
        .map(|(t, b)| match t {
            b'C' => format!("C {}", command_tag(b)),
            t => (*t as char).to_string(),
        })
        .collect();
    assert_eq!(
        tags,
        ["c", "C START_STREAMING", "C START_REPLICATION", "Z"],
        "{msgs:?}"
    );

    // No reply for wal_sender_timeout ends the connection.
    c.query(&format!(
        "START_REPLICATION {:X}/{:X} TIMELINE 1",
        seg_start >> 32,
        seg_start & 0xffff_ffff
    ));
    let t0 = std::time::Instant::now();
    while c.read().is_some() {
        assert!(t0.elapsed() < Duration::from_secs(15));
    }
    assert!(t0.elapsed() >= Duration::from_secs(1));
    assert!(server
        .log_text()
        .contains("terminating walsender process due to replication timeout"));
}

#[test]
fn connection_checks() {
    let mut server = Server::init("ws_checks", &[]);
    server.append_conf("max_wal_senders = 1\n");
    server.start();
    server.psql("create role norepl login; create role repl login replication password 'secret'");

    // The REPLICATION attribute is required.
    let out = psql_conn(
        &server,
        "user=norepl dbname=replication replication=true",
        "IDENTIFY_SYSTEM",
        None,
    );
    assert!(
        stderr(&out).contains("FATAL:  must be superuser or replication role to start walsender"),
        "{}",
        stderr(&out)
    );

    // max_wal_senders: the second walsender is refused.
    let (first, _) = Raw::connect(server.port, "postgres").unwrap();
    let err = Raw::connect(server.port, "postgres").err().unwrap();
    assert_eq!(
        err,
        "number of requested standby connections exceeds max_wal_senders (currently 1)"
    );
    drop(first);
    // The place frees when the first one leaves.
    let t0 = std::time::Instant::now();
    loop {
        match Raw::connect(server.port, "postgres") {
            Ok(_) => break,
            Err(e) => {
                assert!(t0.elapsed() < Duration::from_secs(10), "{e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    // Passwords, and pg_hba's replication keyword.
    server.write_hba(
        "local all all trust\nhost all all 127.0.0.1/32 trust\n\
         host replication repl 127.0.0.1/32 scram-sha-256\n",
    );
    server.psql("select pg_reload_conf()");
    std::thread::sleep(Duration::from_millis(500));
    let out = psql_conn(
        &server,
        "user=repl dbname=replication replication=true",
        "SHOW wal_segment_size",
        Some("wrong"),
    );
    assert!(
        stderr(&out).contains("password authentication failed for user \"repl\""),
        "{}",
        stderr(&out)
    );
    let out = psql_conn(
        &server,
        "user=repl dbname=replication replication=true",
        "SHOW wal_segment_size",
        Some("secret"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "16MB");
    let out = repl(&server, "IDENTIFY_SYSTEM");
    assert!(
        stderr(&out).contains(
            "no pg_hba.conf entry for replication connection from host \"127.0.0.1\", user \"postgres\", no encryption"
        ),
        "{}",
        stderr(&out)
    );
}

/// A child process killed (if still running) when dropped.
struct Reaper(std::process::Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let t0 = std::time::Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn pg_receivewal_streams_segments() {
    let mut server = Server::init("ws_recv", &["--wal-segsize=1"]);
    server.start();
    let target = server.dir.path().join("recv");
    std::fs::create_dir_all(&target).unwrap();
    let child = Command::new(pg_bin("pg_receivewal"))
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "--no-loop",
            "-s",
            "1",
            "-w",
        ])
        .arg("-p")
        .arg(server.port.to_string())
        .arg("-D")
        .arg(&target)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Reaper(child);
    wait_for(Duration::from_secs(20), "the walsender row", || {
        server.psql("select count(*) from pg_stat_replication where state = 'streaming'") == "1"
    });
    server.psql(
        "create table t(a int, b text); \
         insert into t select g, repeat('x', 100) from generate_series(1, 5000) g",
    );
    let lsn = parse_lsn(&server.psql("select pg_current_wal_lsn()"));
    let switched = format!("{:08X}{:08X}{:08X}", 1, 0, lsn >> 20);
    server.psql("select pg_switch_wal()");
    let done = target.join(&switched);
    wait_for(Duration::from_secs(30), "a finished segment", || {
        done.exists()
    });
    let sent = std::fs::read(&done).unwrap();
    let local = std::fs::read(server.datadir().join("pg_wal").join(&switched)).unwrap();
    assert_eq!(sent.len(), 1024 * 1024);
    assert!(sent == local, "segment {switched} differs");

    // pg_stat_replication: PostgreSQL 15's columns and types, and the row's values.
    let rt = common::runtime();
    rt.block_on(async {
        let client = server.connect("postgres").await;
        let st = client
            .prepare("select * from pg_stat_replication")
            .await
            .unwrap();
        let cols: Vec<(String, u32)> = st
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), c.type_().oid()))
            .collect();
        let expected: Vec<(&str, u32)> = vec![
            ("pid", 23),
            ("usesysid", 26),
            ("usename", 19),
            ("application_name", 25),
            ("client_addr", 25), // inet (869) in PostgreSQL
            ("client_hostname", 25),
            ("client_port", 23),
            ("backend_start", 1184),
            ("backend_xmin", 25), // xid (28) in PostgreSQL
            ("state", 25),
            ("sent_lsn", 3220),
            ("write_lsn", 3220),
            ("flush_lsn", 3220),
            ("replay_lsn", 3220),
            ("write_lag", 1186),
            ("flush_lag", 1186),
            ("replay_lag", 1186),
            ("sync_priority", 23),
            ("sync_state", 25),
            ("reply_time", 1184),
        ];
        let expected: Vec<(String, u32)> = expected
            .into_iter()
            .map(|(n, o)| (n.to_string(), o))
            .collect();
        assert_eq!(cols, expected);
    });
    wait_for(Duration::from_secs(20), "a standby reply", || {
        server.psql("select write_lsn is not null from pg_stat_replication") == "t"
    });
    let row = server.psql(
        "select application_name, client_addr, client_port > 0, usename, \
         backend_xmin is null, flush_lsn is null, replay_lsn is null, \
         replay_lag is not null, sync_state from pg_stat_replication",
    );
    assert_eq!(row, "pg_receivewal|127.0.0.1|t|postgres|t|t|t|t|async");

    // `ps` shows the walsender's title, with the position sent.
    wait_for(
        Duration::from_secs(10),
        "the walsender's process title",
        || {
            proc_titles().iter().any(|t| {
                t.starts_with("postgres: walsender postgres 127.0.0.1(")
                    && t.contains(") streaming 0/")
            })
        },
    );

    // SIGINT: pg_receivewal ends the stream with CopyDone and exits cleanly.
    unsafe {
        libc::kill(child.0.id() as i32, libc::SIGINT);
    }
    let t0 = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "pg_receivewal did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "pg_receivewal exit {status:?}");
    wait_for(Duration::from_secs(10), "the walsender to leave", || {
        server.psql("select count(*) from pg_stat_replication") == "0"
    });
}

#[test]
fn fast_shutdown_streams_the_shutdown_checkpoint() {
    let mut server = Server::init("ws_stop", &["--wal-segsize=1"]);
    server.start();
    let (mut c, _) = Raw::connect(server.port, "postgres").unwrap();
    let flush = parse_lsn(&server.psql("select pg_current_wal_flush_lsn()"));
    let seg_start = flush - flush % (1024 * 1024);
    c.query(&format!(
        "START_REPLICATION {:X}/{:X} TIMELINE 1",
        seg_start >> 32,
        seg_start & 0xffff_ffff
    ));
    assert_eq!(c.read().unwrap().0, b'W');
    wait_for(Duration::from_secs(10), "streaming", || {
        server.psql("select state from pg_stat_replication") == "streaming"
    });
    server.signal(libc::SIGINT);
    // Everything up to the end of WAL, a keepalive asking for a reply; the reply
    // lets the walsender end with `COPY 0` and close.
    let mut end = seg_start;
    let mut tags = Vec::new();
    while let Some((tag, body)) = c.read() {
        match (tag, body.first()) {
            (b'd', Some(b'w')) => {
                end = u64::from_be_bytes(body[1..9].try_into().unwrap()) + body.len() as u64 - 25;
            }
            (b'd', Some(b'k')) => {
                if body[17] == 1 {
                    let mut r = vec![b'r'];
                    for v in [end, end, 0u64, 0u64] {
                        r.extend_from_slice(&v.to_be_bytes());
                    }
                    r.push(0);
                    c.send(b'd', &r);
                }
            }
            (t, _) => tags.push(format!("{} {}", t as char, command_tag(&body))),
        }
    }
    assert_eq!(tags, ["C COPY 0"]);
    let status = server.wait_exit(Duration::from_secs(30));
    assert!(status.success());
    // The shutdown checkpoint record was among what was sent.
    let out = run_with_timeout(
        Command::new(pg_bin("pg_controldata")).arg(server.datadir()),
        Duration::from_secs(30),
    );
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with("Latest checkpoint location:"))
        .unwrap();
    let ckpt = parse_lsn(line.split(':').nth(1).unwrap());
    assert!(end > ckpt, "sent up to {end:X}, checkpoint at {ckpt:X}");
}

/// Every process's command line (as `ps` shows it), NULs as spaces, trimmed.
fn proc_titles() -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(c) = std::fs::read(e.path().join("cmdline")) {
            let t = String::from_utf8_lossy(&c).replace('\0', " ");
            out.push(t.trim().to_string());
        }
    }
    out
}

#[test]
fn an_error_drops_the_temporary_slots() {
    let mut server = Server::init("ws_errslot", &[]);
    server.start();
    let (mut c, pid) = Raw::connect(server.port, "postgres").unwrap();
    c.query(&format!(
        "CREATE_REPLICATION_SLOT \"pg_basebackup_{pid}\" TEMPORARY PHYSICAL ( RESERVE_WAL)"
    ));
    let msgs = c.until_ready();
    assert!(
        msgs.iter()
            .any(|(t, b)| *t == b'C' && command_tag(b) == "CREATE_REPLICATION_SLOT"),
        "{msgs:?}"
    );
    assert_eq!(
        server.psql("select slot_name, temporary from pg_replication_slots"),
        format!("pg_basebackup_{pid}|t")
    );
    // The slot is busy for this walsender while it streams; an error releases it and
    // drops the temporary slot, as PostgreSQL's walsender error recovery does.
    c.query(&format!(
        "START_REPLICATION SLOT \"pg_basebackup_{pid}\" 0/7F000000 TIMELINE 1"
    ));
    let msgs = c.until_ready();
    assert!(msgs.iter().any(|(t, _)| *t == b'E'), "{msgs:?}");
    assert_eq!(
        server.psql("select count(*) from pg_replication_slots"),
        "0"
    );
    c.query("READ_REPLICATION_SLOT anything");
    let msgs = c.until_ready();
    assert_eq!(msgs.last().unwrap().0, b'Z');
}

#[test]
fn terminate_and_smart_shutdown() {
    let mut server = Server::init("ws_smart", &[]);
    server.start();
    // pg_terminate_backend on a walsender: FATAL 57P01.
    let (mut idle, pid) = Raw::connect(server.port, "postgres").unwrap();
    assert_eq!(
        server.psql(&format!("select pg_terminate_backend({pid})")),
        "t"
    );
    let (tag, body) = idle.read().expect("the FATAL");
    assert_eq!(tag, b'E');
    assert_eq!(error_code(&body), "57P01");
    assert!(idle.read().is_none());

    // Smart shutdown with only a streaming walsender left: it ends with COPY 0 and
    // the server stops.
    let (mut c, _) = Raw::connect(server.port, "postgres").unwrap();
    let flush = parse_lsn(&server.psql("select pg_current_wal_flush_lsn()"));
    let seg_start = flush - flush % (16 * 1024 * 1024);
    c.query(&format!(
        "START_REPLICATION {:X}/{:X}",
        seg_start >> 32,
        seg_start & 0xffff_ffff
    ));
    assert_eq!(c.read().unwrap().0, b'W');
    wait_for(Duration::from_secs(10), "streaming", || {
        server.psql("select state from pg_stat_replication") == "streaming"
    });
    server.signal(libc::SIGTERM);
    let mut tags = Vec::new();
    while let Some((tag, body)) = c.read() {
        if tag != b'd' {
            tags.push(format!("{} {}", tag as char, command_tag(&body)));
        }
    }
    assert_eq!(tags, ["C COPY 0"]);
    assert!(server.wait_exit(Duration::from_secs(30)).success());
}
