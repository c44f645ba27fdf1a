//! WAL archiving on a primary against the real `tusk` binary: `archive_mode = on` with
//! the classic `test ! -f ARCH/%f && cp %p ARCH/%f`, `archive_status/*.done`,
//! `pg_stat_archiver`, `archive_timeout`, a failing command (PostgreSQL's LOG / DETAIL /
//! WARNING lines, nothing removed or recycled before it is archived, everything
//! archived once the command is fixed and reloaded), and a command killed by a signal
//! (the archiver's FATAL; the server stays up), and the backup history file a base
//! backup leaves in the archive (`<segment>.<offset>.backup`, kept by
//! `pg_archivecleanup`, never inside the backup).
//!
//! Servers use 1 MB segments. Every wait is bounded; servers are killed and their
//! directories removed on drop.

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SEG: u64 = 1024 * 1024;

/// A primary with 1 MB segments, archiving with `command` (`ARCH` replaced by the
/// archive directory, which is created), plus `extra` settings. Returns the server
/// (started) and the archive directory.
fn archiving_primary(tag: &str, command: &str, extra: &str) -> (Server, PathBuf) {
    let mut s = Server::init(tag, &["--wal-segsize=1"]);
    let arch = s.dir.path().join("archive");
    std::fs::create_dir_all(&arch).unwrap();
    s.append_conf(&format!(
        "archive_mode = on\narchive_command = '{}'\nmax_wal_size = 4MB\nmin_wal_size = 2MB\ncheckpoint_timeout = 3600\n{extra}\n",
        command.replace("ARCH", &arch.display().to_string())
    ));
    s.start();
    s.psql("create table t (id int primary key, v text)");
    (s, arch)
}

fn classic(arch_placeholder: &str) -> String {
    format!("test ! -f {arch_placeholder}/%f && cp %p {arch_placeholder}/%f")
}

/// The WAL file name of segment `segno` on timeline 1 with 1 MB segments.
fn seg_name(segno: u64) -> String {
    let per_id = 0x1_0000_0000 / SEG;
    format!("{:08X}{:08X}{:08X}", 1, segno / per_id, segno % per_id)
}

fn parse_lsn(s: &str) -> u64 {
    let (hi, lo) = s.trim().split_once('/').unwrap();
    (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap()
}

/// Inserts a few rows (ids from `from`) and switches segments; returns the name of the
/// segment the switch ended.
fn write_and_switch(s: &Server, from: i32) -> String {
    s.psql(&format!(
        "insert into t select g, repeat('x', 100) from generate_series({from}, {}) g",
        from + 49
    ));
    let end = parse_lsn(&s.psql("select pg_switch_wal()"));
    seg_name((end - 1) / SEG)
}

/// Polls `cond` every 100 ms until it holds; fails with `what` and the log after `limit`.
fn wait_until(s: &Server, limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "timed out waiting for {what}; log:\n{}",
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn archived(arch: &Path, name: &str) -> bool {
    arch.join(name).exists()
}

fn status(s: &Server, name: &str, suffix: &str) -> bool {
    s.datadir()
        .join("pg_wal/archive_status")
        .join(format!("{name}{suffix}"))
        .exists()
}

#[test]
fn switched_segments_reach_the_archive() {
    // max_wal_size well above the three segments: with the shared 4MB, the switches
    // request a checkpoint, which may (rightly) remove an archived segment from pg_wal
    // before it is compared below.
    let (mut s, arch) = archiving_primary("arch-basic", &classic("ARCH"), "max_wal_size = 64MB");
    let mut names = Vec::new();
    for i in 0..3 {
        names.push(write_and_switch(&s, i * 100));
    }
    wait_until(
        &s,
        Duration::from_secs(30),
        "three archived segments",
        || names.iter().all(|n| archived(&arch, n)),
    );
    for n in &names {
        // Marked done (so `cp` has finished writing the copy: the archive file exists
        // from cp's first write on), then byte-identical to pg_wal's copy.
        wait_until(&s, Duration::from_secs(10), "a .done mark", || {
            status(&s, n, ".done") && !status(&s, n, ".ready")
        });
        let ours = std::fs::read(s.datadir().join("pg_wal").join(n)).unwrap();
        let theirs = std::fs::read(arch.join(n)).unwrap();
        assert_eq!(ours.len() as u64, SEG, "{n}");
        assert!(ours == theirs, "archived {n} differs from pg_wal's");
    }
    let last = names.last().unwrap();
    wait_until(&s, Duration::from_secs(10), "pg_stat_archiver", || {
        s.psql("select last_archived_wal from pg_stat_archiver") == *last
    });
    let row = s.psql(
        "select archived_count >= 3, failed_count, last_failed_wal is null, \
         last_archived_time is not null, stats_reset is not null from pg_stat_archiver",
    );
    assert_eq!(row, "t|0|t|t|t");
    // PostgreSQL 15's column types.
    let types = s.psql(
        "select pg_typeof(archived_count), pg_typeof(last_archived_wal), \
         pg_typeof(last_archived_time), pg_typeof(failed_count), pg_typeof(last_failed_wal), \
         pg_typeof(last_failed_time), pg_typeof(stats_reset) from pg_stat_archiver",
    );
    assert_eq!(
        types,
        "bigint|text|timestamp with time zone|bigint|text|timestamp with time zone|timestamp with time zone"
    );
    // The archiver's process title.
    let title = format!("archiver last was {last}");
    wait_until(
        &s,
        Duration::from_secs(10),
        "the archiver's ps title",
        || !ps_lines(&title).is_empty(),
    );
    // pg_stat_reset_shared('archiver') starts the counters afresh.
    s.psql("select pg_stat_reset_shared('archiver')");
    assert_eq!(
        s.psql("select archived_count, last_archived_wal is null, stats_reset > now() - interval '1 minute' from pg_stat_archiver"),
        "0|t|t"
    );
    let bad = s.psql_as(
        "postgres",
        "postgres",
        None,
        "select pg_stat_reset_shared('nope')",
    );
    assert!(
        stderr(&bad).contains("unrecognized reset target: \"nope\""),
        "{}",
        stderr(&bad)
    );
    s.stop();
}

#[test]
fn archive_timeout_forces_a_switch() {
    let (mut s, arch) = archiving_primary("arch-timeout", &classic("ARCH"), "archive_timeout = 1");
    s.psql("insert into t values (1, 'a')");
    let lsn = parse_lsn(&s.psql("select pg_current_wal_lsn()"));
    let name = seg_name(lsn / SEG);
    wait_until(
        &s,
        Duration::from_secs(30),
        "the archive_timeout switch",
        || archived(&arch, &name),
    );
    // The next WAL goes to a later segment.
    assert!(parse_lsn(&s.psql("select pg_current_wal_lsn()")) / SEG > lsn / SEG);
    s.stop();
}

#[test]
fn failing_command_keeps_wal_until_fixed() {
    let (mut s, arch) = archiving_primary("arch-fail", "exit 1", "");
    let mut names = Vec::new();
    names.push(write_and_switch(&s, 0));
    wait_log(&mut s, "WARNING:  archiving write-ahead log file \"", 1);
    let log = s.log_text();
    assert!(
        log.contains("LOG:  archive command failed with exit code 1"),
        "{log}"
    );
    assert!(
        log.contains("DETAIL:  The failed archive command was: exit 1"),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "WARNING:  archiving write-ahead log file \"{}\" failed too many times, will try again later",
            names[0]
        )),
        "{log}"
    );
    let row =
        s.psql("select failed_count >= 3, last_failed_wal, archived_count from pg_stat_archiver");
    assert_eq!(row, format!("t|{}|0", names[0]));
    assert!(!ps_lines(&format!("archiver failed on {}", names[0])).is_empty());
    // Plenty of WAL and checkpoints: without the archiver these segments would be
    // recycled (max_wal_size = 4MB).
    for i in 1..8 {
        names.push(write_and_switch(&s, i * 100));
        s.psql("checkpoint");
    }
    for n in &names {
        assert!(
            s.datadir().join("pg_wal").join(n).exists(),
            "{n} was removed before it was archived; log:\n{}",
            s.log_text()
        );
        assert!(status(&s, n, ".ready"), "{n} has no .ready");
    }
    // Fix the command and reload: everything arrives, in order, nothing lost.
    s.append_conf(&format!(
        "archive_command = '{}'\n",
        classic(&arch.display().to_string())
    ));
    assert_eq!(s.psql("select pg_reload_conf()"), "t");
    wait_until(
        &s,
        Duration::from_secs(60),
        "every segment archived",
        || names.iter().all(|n| archived(&arch, n)),
    );
    // Done first: the archive file exists from cp's first write on.
    wait_until(&s, Duration::from_secs(10), "all .done", || {
        names.iter().all(|n| status(&s, n, ".done"))
    });
    for n in &names {
        let theirs = std::fs::read(arch.join(n)).unwrap();
        assert_eq!(theirs.len() as u64, SEG, "{n}");
    }
    // Now a checkpoint may let them go.
    s.psql("checkpoint");
    wait_until(&s, Duration::from_secs(20), "old segments removed", || {
        s.psql("checkpoint");
        !s.datadir().join("pg_wal").join(&names[0]).exists()
    });
    assert!(
        !status(&s, &names[0], ".done"),
        "status file of a removed segment stays"
    );
    s.stop();
}

#[test]
fn killed_command_does_not_take_the_server_down() {
    let (mut s, _arch) = archiving_primary("arch-kill", "kill -9 $$", "");
    let name = write_and_switch(&s, 0);
    wait_log(
        &mut s,
        "FATAL:  archive command was terminated by signal 9: Killed",
        2,
    );
    assert!(s
        .log_text()
        .contains("DETAIL:  The failed archive command was: kill -9 $$"));
    // The archiver went on (it tried again), and the server still serves.
    assert_eq!(s.psql("select count(*) from t"), "50");
    assert!(status(&s, &name, ".ready"));
    assert!(s.child.as_mut().unwrap().try_wait().unwrap().is_none());
    s.stop();
}

#[test]
fn empty_command_keeps_ready_files() {
    let (mut s, _arch) = archiving_primary("arch-empty", "", "");
    let name = write_and_switch(&s, 0);
    wait_log(
        &mut s,
        "WARNING:  archive_mode enabled, yet archiving is not configured",
        1,
    );
    assert!(status(&s, &name, ".ready"));
    s.psql("checkpoint");
    assert!(s.datadir().join("pg_wal").join(&name).exists());
    s.stop();
}

#[test]
fn standby_with_always_archives_what_it_receives() {
    let mut primary = Server::init("arch-sbp", &["--wal-segsize=1"]);
    primary.start();
    primary.psql("create table t (id int primary key, v text)");
    primary.stop();
    let conninfo = format!("host=127.0.0.1 port={} user=postgres", primary.port);
    let mut standby = make_standby(
        &primary,
        "arch-sbs",
        &format!("primary_conninfo = '{conninfo}'\nwal_retrieve_retry_interval = 200ms\n"),
    );
    let arch = standby.dir.path().join("archive");
    std::fs::create_dir_all(&arch).unwrap();
    standby.append_conf(&format!(
        "archive_mode = always\narchive_command = '{}'\n",
        classic(&arch.display().to_string())
    ));
    primary.start();
    spawn(&mut standby);
    wait_log(&mut standby, "started streaming WAL from primary at", 1);
    let name = write_and_switch(&primary, 0);
    wait_until(
        &standby,
        Duration::from_secs(30),
        "the standby's archive",
        || archived(&arch, &name),
    );
    wait_until(&standby, Duration::from_secs(10), "a .done mark", || {
        status(&standby, &name, ".done")
    });
    assert_eq!(
        standby.psql("select archived_count > 0, last_archived_wal from pg_stat_archiver"),
        format!("t|{name}")
    );
    standby.stop();
    primary.stop();
}

/// All regular files under `dir`, relative paths.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out
}

/// A `"Key": "value"` string field of the manifest's WAL-Ranges line.
fn manifest_field<'a>(line: &'a str, key: &str) -> &'a str {
    let at = line.find(&format!("\"{key}\": \"")).unwrap() + key.len() + 5;
    let rest = &line[at..];
    &rest[..rest.find('"').unwrap()]
}

#[test]
fn base_backup_writes_the_backup_history_file() {
    let (mut s, arch) = archiving_primary("arch-bkhist", &classic("ARCH"), "");
    write_and_switch(&s, 0);
    let copy = basebackup(&s, "arch-bkhist-copy", &["-Fp", "-Xs"]);
    let data = copy.datadir();

    // The start LSN from the copy's backup_label names the file.
    let label = std::fs::read_to_string(data.join("backup_label")).unwrap();
    let label: Vec<&str> = label.lines().collect();
    let first = label[0].strip_prefix("START WAL LOCATION: ").unwrap();
    let (start_lsn, start_file) = first.split_once(" (file ").unwrap();
    let start_file = start_file.strip_suffix(')').unwrap();
    let start = parse_lsn(start_lsn);
    assert_eq!(start_file, seg_name(start / SEG));
    let name = format!("{start_file}.{:08X}.backup", start % SEG);

    // The manifest's WAL range: from the start to the stop.
    let manifest = std::fs::read_to_string(data.join("backup_manifest")).unwrap();
    let range = manifest
        .lines()
        .find(|l| l.starts_with("{ \"Timeline\": 1,"))
        .expect("a WAL range on timeline 1");
    assert_eq!(manifest_field(range, "Start-LSN"), start_lsn);
    let stop_lsn = manifest_field(range, "End-LSN");
    let stop = parse_lsn(stop_lsn);

    wait_until(
        &s,
        Duration::from_secs(30),
        "the archived .backup file",
        || archived(&arch, &name) && status(&s, &name, ".done"),
    );
    let text = std::fs::read_to_string(arch.join(&name)).unwrap();
    assert!(text.ends_with('\n'), "{text:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 10, "{text}");
    assert_eq!(lines[0], label[0]);
    assert_eq!(
        lines[1],
        format!(
            "STOP WAL LOCATION: {stop_lsn} (file {})",
            seg_name(stop / SEG)
        )
    );
    // CHECKPOINT LOCATION … START TIMELINE, as in the label.
    assert_eq!(&lines[2..8], &label[1..]);
    assert_eq!(lines[6], "LABEL: pg_basebackup base backup");
    let stop_time = lines[8].strip_prefix("STOP TIME: ").unwrap();
    assert!(
        stop_time.len() == 23 && stop_time.ends_with(" UTC"),
        "{stop_time}"
    );
    let start_time = lines[5].strip_prefix("START TIME: ").unwrap();
    assert!(stop_time >= start_time, "{start_time} / {stop_time}");
    assert_eq!(lines[9], "STOP TIMELINE: 1");
    // pg_wal keeps the same bytes, now marked done.
    let ours = std::fs::read_to_string(s.datadir().join("pg_wal").join(&name)).unwrap();
    assert_eq!(ours, text);
    wait_until(&s, Duration::from_secs(10), "the .backup's .done", || {
        status(&s, &name, ".done") && !status(&s, &name, ".ready")
    });

    // Never inside a base backup.
    let inside: Vec<String> = files_under(&data)
        .into_iter()
        .filter(|f| f.ends_with(".backup") || f.contains(".backup."))
        .collect();
    assert!(inside.is_empty(), "{inside:?}");

    // pg_archivecleanup keeps backup history files by design.
    wait_until(
        &s,
        Duration::from_secs(30),
        "the start segment archived",
        || archived(&arch, start_file),
    );
    let out = run_with_timeout(
        std::process::Command::new(pg_bin("pg_archivecleanup"))
            .arg(&arch)
            .arg(seg_name(start / SEG + 1)),
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!archived(&arch, start_file));
    assert!(archived(&arch, &name));
    s.stop();
}
