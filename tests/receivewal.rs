//! Stock `pg_receivewal` against a tusk primary across restarts, the walsender states
//! `pg_stat_replication` shows (`startup`, `backup`, `streaming`), the parameter-change
//! record a restarted primary writes for its standbys, and the preset settings read
//! from pg_control (`wal_segment_size` of a `--wal-segsize=1` cluster).
//!
//! Every wait is bounded; servers and pg_receivewal children are killed and their
//! directories removed on drop.

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Segment size of the test clusters (`--wal-segsize=1`).
const SEG: u64 = 1 << 20;

/// A stock client running in the background, killed on drop.
struct Bg(Option<Child>);

impl Bg {
    /// Waits (bounded) for the child to exit and returns its status.
    fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let start = Instant::now();
        let c = self.0.as_mut().expect("child already reaped");
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                self.0 = None;
                return st;
            }
            assert!(
                start.elapsed() < limit,
                "child did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `pg_receivewal -D dir` against `s` (TCP, user postgres) with `extra`
/// arguments, its stdout and stderr appended to `log`.
fn receivewal(s: &Server, dir: &Path, log: &Path, extra: &[&str]) -> Bg {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = Command::new(pg_bin("pg_receivewal"))
        .args(["-h", "127.0.0.1", "-U", "postgres", "-w"])
        .arg("-p")
        .arg(s.port.to_string())
        .arg("-D")
        .arg(dir)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .spawn()
        .unwrap();
    Bg(Some(child))
}

/// Polls `f` until it holds; panics with `what` and the server log after `limit`.
fn wait_until(s: &Server, what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < limit,
            "timed out waiting for {what}; server log:\n{}",
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Parses `X/Y` into a 64-bit LSN.
fn parse_lsn(s: &str) -> u64 {
    let (hi, lo) = s.trim().split_once('/').expect("an LSN");
    (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap()
}

/// The timeline-1 file name of the 1 MB segment holding `lsn`.
fn seg_name(lsn: u64) -> String {
    let segno = lsn / SEG;
    let per_id = 0x1_0000_0000 / SEG;
    format!("{:08X}{:08X}{:08X}", 1, segno / per_id, segno % per_id)
}

/// The names of the complete segment files in `dir`, sorted.
fn complete_segments(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.len() == 24 && n.chars().all(|c| c.is_ascii_hexdigit()))
        .collect();
    v.sort();
    v
}

/// The primary's current WAL insert position.
fn current_lsn(s: &Server) -> u64 {
    parse_lsn(&s.psql("select pg_current_wal_lsn()"))
}

/// Fills some WAL: `n` rows of 200 bytes into table `t`, starting at id `from`.
fn fill(s: &Server, from: i64, n: i64) {
    s.psql(&format!(
        "insert into t select g, repeat('x', 200) from generate_series({from}, {}) g",
        from + n - 1
    ));
}

/// Waits until `dir/<name>.partial` holds the primary's bytes of that segment up to
/// `upto` (the receiver writes what it receives without waiting for a flush).
fn wait_partial_matches(primary: &Server, dir: &Path, upto: u64) {
    let name = seg_name(upto);
    let partial = dir.join(format!("{name}.partial"));
    let len = (upto % SEG) as usize;
    wait_until(
        primary,
        &format!("{name}.partial to hold the primary's first {len} bytes"),
        Duration::from_secs(20),
        || {
            let (Ok(mine), Ok(theirs)) = (
                std::fs::read(&partial),
                std::fs::read(primary.datadir().join("pg_wal").join(&name)),
            ) else {
                return false;
            };
            mine.len() == SEG as usize && mine[..len] == theirs[..len]
        },
    );
    // pg_receivewal pads a .partial file to the full segment size up front.
    assert_eq!(std::fs::metadata(&partial).unwrap().len(), SEG);
}

/// Asserts every complete segment in `dir` that the primary still has is byte-identical.
/// Returns how many were compared.
fn assert_segments_identical(primary: &Server, dir: &Path) -> usize {
    let mut compared = 0;
    for name in complete_segments(dir) {
        let theirs = primary.datadir().join("pg_wal").join(&name);
        let Ok(theirs) = std::fs::read(theirs) else {
            continue;
        };
        let mine = std::fs::read(dir.join(&name)).unwrap();
        assert!(mine == theirs, "segment {name} differs from the primary's");
        compared += 1;
    }
    compared
}

#[test]
fn receivewal_streams_partial_and_survives_a_primary_restart() {
    let mut primary = Server::init("rw-prim", &["--wal-segsize=1"]);
    primary.start();
    primary.psql("create table t (a int primary key, b text)");
    let work = TempDir::new("rw-recv");
    let dir = work.path().join("wal");
    std::fs::create_dir_all(&dir).unwrap();
    let log = work.path().join("receivewal.log");
    let recv_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let _rw = receivewal(&primary, &dir, &log, &["-v"]);
    wait_for(
        &primary,
        "select application_name, state from pg_stat_replication",
        "pg_receivewal|streaming",
    );
    let first = seg_name(current_lsn(&primary));

    // A completed segment, then the current one as .partial.
    fill(&primary, 1, 3000);
    primary.psql("select pg_switch_wal()");
    fill(&primary, 3001, 500);
    let at = current_lsn(&primary);
    wait_partial_matches(&primary, &dir, at);
    let done = complete_segments(&dir);
    assert!(done.contains(&first), "{first} not complete: {done:?}");
    assert!(!dir.join(format!("{first}.partial")).exists());
    assert!(assert_segments_identical(&primary, &dir) >= 1);
    assert!(recv_log().contains("pg_receivewal: starting log streaming at"));

    // Fast shutdown: the stream ends with "COPY 0"; pg_receivewal keeps the .partial,
    // waits 5 s and reconnects to the restarted primary.
    let partial_seg = seg_name(at);
    primary.stop();
    wait_until(
        &primary,
        "pg_receivewal to notice the shutdown",
        Duration::from_secs(20),
        || recv_log().contains("disconnected; waiting 5 seconds to try again"),
    );
    let text = recv_log();
    assert!(
        text.contains("error: replication stream was terminated before stop point"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "not renaming \"{partial_seg}.partial\", segment is not complete"
        )),
        "{text}"
    );
    assert!(dir.join(format!("{partial_seg}.partial")).exists());
    primary.start();
    wait_until(
        &primary,
        "pg_receivewal to reconnect",
        Duration::from_secs(30),
        || recv_log().matches("starting log streaming at").count() >= 2,
    );
    wait_for(
        &primary,
        "select application_name, state from pg_stat_replication",
        "pg_receivewal|streaming",
    );

    // More WAL across two segment switches: the old .partial is completed and renamed,
    // later segments arrive, no gap.
    for i in 0..2 {
        fill(&primary, 10_000 + i * 1000, 500);
        primary.psql("select pg_switch_wal()");
    }
    fill(&primary, 20_000, 10);
    let at = current_lsn(&primary);
    wait_partial_matches(&primary, &dir, at);
    assert!(!dir.join(format!("{partial_seg}.partial")).exists());
    let done = complete_segments(&dir);
    assert!(done.contains(&partial_seg), "{done:?}");
    let last = seg_name(at);
    let want: Vec<String> = (parse_seg(&first)..parse_seg(&last))
        .map(|n| seg_name(n * SEG))
        .collect();
    assert_eq!(done, want, "segments received");
    assert!(assert_segments_identical(&primary, &dir) >= 2);
    primary.stop();
}

/// The segment number of a timeline-1 segment file name.
fn parse_seg(name: &str) -> u64 {
    let hi = u64::from_str_radix(&name[8..16], 16).unwrap();
    let lo = u64::from_str_radix(&name[16..24], 16).unwrap();
    hi * (0x1_0000_0000 / SEG) + lo
}

#[test]
fn receivewal_slot_synchronous_and_no_loop() {
    let mut primary = Server::init("rw-sync", &["--wal-segsize=1"]);
    primary.start();
    primary.psql("create table t (a int primary key, b text)");
    let work = TempDir::new("rw-sync-recv");
    let dir = work.path().join("wal");
    std::fs::create_dir_all(&dir).unwrap();
    let log = work.path().join("receivewal.log");

    // --create-slot creates the physical slot and exits.
    let mut create = receivewal(&primary, &dir, &log, &["--create-slot", "-S", "rw_slot"]);
    assert!(create.wait(Duration::from_secs(30)).success());
    assert_eq!(
        primary.psql("select slot_name, slot_type, active from pg_replication_slots"),
        "rw_slot|physical|f"
    );

    // --synchronous: flush_lsn follows at once (no 10 s status interval to wait for).
    let mut rw = receivewal(
        &primary,
        &dir,
        &log,
        &["-S", "rw_slot", "--synchronous", "-n", "-v"],
    );
    wait_for(
        &primary,
        "select application_name, state from pg_stat_replication",
        "pg_receivewal|streaming",
    );
    fill(&primary, 1, 100);
    let at = primary.psql("select pg_current_wal_lsn()");
    wait_for(
        &primary,
        "select sent_lsn, write_lsn, flush_lsn from pg_stat_replication",
        &format!("{at}|{at}|{at}"),
    );
    wait_for(
        &primary,
        "select active, restart_lsn from pg_replication_slots",
        &format!("t|{at}"),
    );

    // -n: the primary's shutdown ends pg_receivewal with "disconnected", exit 1.
    primary.stop();
    let status = rw.wait(Duration::from_secs(20));
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(
        text.contains("pg_receivewal: error: disconnected"),
        "{text}"
    );
    assert!(!text.contains("waiting 5 seconds"), "{text}");

    // The slot survives the restart with its position, which includes the shutdown
    // checkpoint pg_receivewal confirmed before the walsender let go.
    primary.start();
    assert_eq!(
        primary.psql(&format!(
            "select active, restart_lsn > '{at}' from pg_replication_slots"
        )),
        "f|t"
    );
    let mut dropper = receivewal(&primary, &dir, &log, &["--drop-slot", "-S", "rw_slot"]);
    assert!(dropper.wait(Duration::from_secs(30)).success());
    assert_eq!(
        primary.psql("select count(*) from pg_replication_slots"),
        "0"
    );
    primary.stop();
}

#[test]
fn walsender_states_and_preset_settings() {
    let mut primary = Server::init("rw-states", &["--wal-segsize=1"]);
    primary.start();
    let cluster = format!("rwst{}", primary.port);
    primary.append_conf(&format!("cluster_name = '{cluster}'\n"));
    primary.stop();
    primary.start();

    // Preset settings from pg_control, also after a reload.
    for _ in 0..2 {
        assert_eq!(primary.psql("show wal_segment_size"), "1MB");
        assert_eq!(
            primary.psql("select current_setting('wal_segment_size')"),
            "1MB"
        );
        assert_eq!(
            primary.psql(
                "select name, setting, unit, source, context from pg_settings where name in \
                 ('wal_segment_size', 'data_checksums', 'block_size', 'wal_block_size') \
                 order by name"
            ),
            "block_size|8192||default|internal\ndata_checksums|off||default|internal\n\
             wal_block_size|8192||default|internal\nwal_segment_size|1048576|B|default|internal"
        );
        primary.psql("select pg_reload_conf()");
        std::thread::sleep(Duration::from_millis(300));
    }

    // `startup`: a replication connection that has not started streaming.
    let mut idle = Command::new(pg_bin("psql"))
        .args(["-X", "-A", "-t", "-w"])
        .arg(format!(
            "host=127.0.0.1 port={} user=postgres replication=true application_name=idle_repl",
            primary.port
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let stdin = idle.stdin.as_mut().unwrap();
        stdin.write_all(b"IDENTIFY_SYSTEM;\n").unwrap();
        stdin.flush().unwrap();
    }
    let mut idle = Bg(Some(idle));
    wait_for(
        &primary,
        "select state, sent_lsn is null from pg_stat_replication \
         where application_name = 'idle_repl'",
        "startup|t",
    );
    let title = format!("{cluster}: walsender postgres 127.0.0.1(");
    wait_until(
        &primary,
        "ps shows the idle walsender",
        Duration::from_secs(10),
        || ps_lines(&title).iter().any(|l| l.ends_with(") idle")),
    );
    if let Some(c) = idle.0.as_mut() {
        drop(c.stdin.take());
    }
    idle.wait(Duration::from_secs(10));
    wait_for(&primary, "select count(*) from pg_stat_replication", "0");

    // `backup`: pg_basebackup's main connection while it sends (rate-limited), with
    // its ps title.
    let work = TempDir::new("rw-states-bb");
    let target = work.path().join("data");
    let bb = Command::new(pg_bin("pg_basebackup"))
        .args(["-h", "127.0.0.1", "-U", "postgres", "-w", "-X", "none"])
        .args(["--max-rate=32k", "-l", "rw label", "-c", "fast"])
        .arg("-p")
        .arg(primary.port.to_string())
        .arg("-D")
        .arg(&target)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut bb = Bg(Some(bb));
    wait_for(
        &primary,
        "select application_name, state from pg_stat_replication",
        "pg_basebackup|backup",
    );
    wait_until(
        &primary,
        "ps shows the walsender sending the backup",
        Duration::from_secs(10),
        || {
            ps_lines(&title)
                .iter()
                .any(|l| l.contains("sending backup \"rw label\""))
        },
    );
    assert!(bb.wait(Duration::from_secs(60)).success());
    assert!(target.join("backup_label").exists());
    wait_for(&primary, "select count(*) from pg_stat_replication", "0");
    primary.stop();
}

#[test]
fn restarted_primary_with_higher_max_connections_pauses_the_standby() {
    let mut primary = Server::init("rw-pc-prim", &["--wal-segsize=1"]);
    primary.start();
    primary.psql("create table t (a int primary key, b text)");
    primary.stop();
    let mut standby = make_standby(
        &primary,
        "rw-pc-stby",
        &format!(
            "max_connections = 200\nwal_retrieve_retry_interval = 200ms\n\
             primary_conninfo = 'host=127.0.0.1 port={} user=postgres'\n",
            primary.port
        ),
    );
    primary.start();
    spawn(&mut standby);
    wait_log(&mut standby, "started streaming WAL from primary at", 1);
    primary.psql("insert into t values (1, 'a')");
    wait_for(&standby, "select count(*) from t", "1");

    // 200 ≥ 100: a restart with unchanged settings writes no record and changes
    // nothing; 300 > 200: the standby warns and pauses.
    primary.append_conf("max_connections = 300\n");
    primary.stop();
    let before = current_lsn_after_start(&mut primary);
    wait_log(
        &mut standby,
        "WARNING:  hot standby is not possible because of insufficient parameter settings",
        1,
    );
    let log = standby.log_text();
    assert!(
        log.contains(
            "DETAIL:  max_connections = 200 is a lower setting than on the primary \
             server, where its value was 300."
        ),
        "{log}"
    );
    wait_log(&mut standby, "LOG:  recovery has paused", 1);
    // The primary's pg_control holds the new value too (after the record).
    let out = run_with_timeout(
        Command::new(pg_bin("pg_controldata")).arg(primary.datadir()),
        Duration::from_secs(30),
    );
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.starts_with("max_connections setting:") && l.ends_with(" 300")),
        "{}",
        stdout(&out)
    );
    let log = standby.log_text();
    assert!(
        log.contains("DETAIL:  If recovery is unpaused, the server will shut down."),
        "{log}"
    );
    assert!(log.contains(
        "HINT:  You can then restart the server after making the necessary configuration changes."
    ));
    assert_eq!(
        standby.psql("select pg_get_wal_replay_pause_state()"),
        "paused"
    );

    // pg_waldump still walks the primary's WAL over the record (tusk rmgr 130).
    let out = run_with_timeout(
        Command::new(pg_bin("pg_waldump"))
            .arg("-p")
            .arg(primary.datadir().join("pg_wal"))
            .arg("-s")
            .arg(format!("{:X}/{:X}", before >> 32, before & 0xffff_ffff)),
        Duration::from_secs(30),
    );
    let dump = stdout(&out);
    assert!(
        dump.lines()
            .any(|l| l.contains("rmgr: custom130") && l.contains("UNKNOWN (20)")),
        "{dump}{}",
        stderr(&out)
    );

    // Resuming ends recovery with FATAL, as PostgreSQL does.
    // (The server may go down before the function's result reaches psql.)
    let _ = standby.psql_as(
        "postgres",
        "postgres",
        None,
        "select pg_wal_replay_resume()",
    );
    wait_log(
        &mut standby,
        "FATAL:  recovery aborted because of insufficient parameter settings",
        1,
    );
    let _ = standby.wait_exit(Duration::from_secs(30));

    // Crash recovery on the primary replays over the record.
    primary.psql("insert into t values (2, 'b')");
    primary.crash();
    primary.start();
    assert_eq!(primary.psql("select count(*) from t"), "2");
    assert_eq!(primary.psql("show max_connections"), "300");
    primary.stop();
}

/// Starts `s` and returns the start of its WAL before the start-up records: the
/// position of its last checkpoint, read from pg_controldata while stopped.
fn current_lsn_after_start(s: &mut Server) -> u64 {
    let out = run_with_timeout(
        Command::new(pg_bin("pg_controldata")).arg(s.datadir()),
        Duration::from_secs(30),
    );
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with("Latest checkpoint location:"))
        .unwrap_or_else(|| panic!("no checkpoint location in {text}"));
    let lsn = parse_lsn(line.rsplit(' ').next().unwrap());
    s.start();
    lsn
}

/// Opens a `replication=true` connection as postgres (trust) named `app` and reads up
/// to its first ReadyForQuery.
fn raw_replication(port: u16, app: &str) -> std::net::TcpStream {
    replication_connect(port, "postgres", app)
        .unwrap_or_else(|e| panic!("connection refused: {e}"))
        .0
}

#[test]
fn walsender_catchup_then_streaming() {
    use std::io::{Read, Write};
    let mut primary = Server::init("rw-catchup", &["--wal-segsize=1"]);
    primary.start();
    primary.psql("create table t (a int primary key, b text)");
    let from = current_lsn(&primary) / SEG * SEG;
    // About 12 MB of WAL: more than the socket buffers between the walsender and a
    // client that does not read can hold.
    for i in 0..4 {
        primary.psql(&format!(
            "insert into t select g, repeat('x', 2000) from generate_series({}, {}) g",
            i * 1500 + 1,
            (i + 1) * 1500
        ));
    }
    let mut sock = raw_replication(primary.port, "slow_client");
    let mut q = format!(
        "START_REPLICATION {:X}/{:X} TIMELINE 1",
        from >> 32,
        from & 0xffff_ffff
    )
    .into_bytes();
    q.push(0);
    let mut msg = vec![b'Q'];
    msg.extend_from_slice(&((q.len() + 4) as i32).to_be_bytes());
    msg.extend_from_slice(&q);
    sock.write_all(&msg).unwrap();

    // The client reads nothing: the walsender is stuck behind the flush position.
    wait_for(
        &primary,
        "select state, sent_lsn < pg_current_wal_flush_lsn() from pg_stat_replication \
         where application_name = 'slow_client'",
        "catchup|t",
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        primary.psql("select state from pg_stat_replication"),
        "catchup"
    );

    // It reads: the walsender catches up and streams.
    let mut reader = sock.try_clone().unwrap();
    let drain = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
    });
    wait_for(
        &primary,
        "select state, sent_lsn = pg_current_wal_flush_lsn() from pg_stat_replication \
         where application_name = 'slow_client'",
        "streaming|t",
    );
    sock.shutdown(std::net::Shutdown::Both).unwrap();
    drain.join().unwrap();
    wait_for(&primary, "select count(*) from pg_stat_replication", "0");
    primary.stop();
}
