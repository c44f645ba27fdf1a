//! The second half of the operator's guide, with the stock tools: WAL shipped through
//! an archive (`archive_command` on the primary, `restore_command` on the standby), a
//! standby that cycles between the archive and streaming, promotion and timelines, a
//! second standby following the new timeline, point-in-time recovery, and
//! `pg_archivecleanup` as `archive_cleanup_command`.
//!
//! Every server runs on a free port with 1 MB WAL segments; every wait is bounded;
//! servers are killed and directories removed on drop.

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A WAL archive directory.
struct Archive(TempDir);

impl Archive {
    fn new(tag: &str) -> Archive {
        Archive(TempDir::new(tag))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    /// The classic archive_command of the PostgreSQL docs.
    fn archive_command(&self) -> String {
        let a = self.path().display();
        format!("test ! -f {a}/%f && cp %p {a}/%f")
    }

    fn restore_command(&self) -> String {
        format!("cp {}/%f %p", self.path().display())
    }

    fn has(&self, name: &str) -> bool {
        self.path().join(name).is_file()
    }

    /// File names in the archive, sorted.
    fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        v.sort();
        v
    }

    fn wait_for(&self, name: &str) {
        wait_until(&format!("{name} in the archive"), || self.has(name));
    }
}

/// A primary with 1 MB segments archiving into `arch`, started.
fn archiving_primary(tag: &str, arch: &Archive) -> Server {
    let mut p = Server::init(tag, &["--wal-segsize=1"]);
    p.append_conf(&format!(
        "archive_mode = on\narchive_command = '{}'\nwal_keep_size = 0\nmax_wal_size = 8MB\nmin_wal_size = 2MB\n",
        arch.archive_command()
    ));
    p.start();
    p.psql("create table t (id int primary key, v text)");
    p
}

/// Closes the current segment on `p` and waits until the archive has it.
fn switch_and_archive(p: &Server, arch: &Archive) -> String {
    let seg = p.psql("select pg_walfile_name(pg_switch_wal())");
    arch.wait_for(&seg);
    seg
}

/// Appends `lines` to `s`'s postgresql.conf.
fn conf(s: &Server, lines: &str) {
    s.append_conf(&format!("{lines}\n"));
}

fn start_standby(s: &mut Server) {
    let before = s.log_text().matches("ready to accept read-only").count();
    spawn(s);
    wait_log(s, "ready to accept read-only connections", before + 1);
}

fn count_after(log: &str, anchor: &str, needle: &str) -> usize {
    match log.rfind(anchor) {
        Some(i) => log[i..].matches(needle).count(),
        None => 0,
    }
}

fn tusk_ctl(args: &[&str]) -> std::process::Output {
    run_with_timeout(
        Command::new(tusk_bin()).arg("ctl").args(args),
        Duration::from_secs(90),
    )
}

#[test]
fn archive_only_standby_catches_up_and_cleans_the_archive() {
    let arch = Archive::new("ar-arch");
    let p = archiving_primary("ar-prim", &arch);
    p.psql("insert into t values (1, 'one')");
    let mut s = basebackup(&p, "ar-stby", &["-Fp", "-Xf"]);
    p.psql("insert into t select g, 'x' from generate_series(2, 200) g");
    switch_and_archive(&p, &arch);
    // Only the archive: no primary_conninfo.
    conf(
        &s,
        &format!(
            "restore_command = '{}'\narchive_cleanup_command = '{} -d {} %r'\nwal_retrieve_retry_interval = 200ms\nhot_standby = on",
            arch.restore_command(),
            pg_bin("pg_archivecleanup").display(),
            arch.path().display()
        ),
    );
    std::fs::write(s.datadir().join("standby.signal"), b"").unwrap();
    start_standby(&mut s);
    wait_for(&s, "select count(*) from t", "200");
    let log = s.log_text();
    assert!(log.contains("entering standby mode"), "{log}");
    assert!(log.contains("from archive"), "{log}");
    assert!(!log.contains("started streaming"), "{log}");
    // PostgreSQL's startup process title.
    assert!(!ps_lines("postgres: startup ").is_empty());

    // More WAL: it comes through the archive only.
    p.psql("insert into t values (500, 'five hundred')");
    p.psql("checkpoint");
    let last = switch_and_archive(&p, &arch);
    wait_for(&s, "select v from t where id = 500", "five hundred");
    assert!(
        s.log_text()
            .contains(&format!("restored log file \"{last}\" from archive")),
        "{}",
        s.log_text()
    );
    assert_eq!(s.psql("select pg_is_in_recovery()"), "t");
    assert_eq!(s.psql("select pg_last_wal_receive_lsn() is null"), "t");

    // A restartpoint runs archive_cleanup_command: pg_archivecleanup removes exactly
    // the segments before the restartpoint's redo segment.
    let before = arch.files();
    s.psql("checkpoint");
    wait_log(&mut s, "keeping WAL file", 1);
    let log = s.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("keeping WAL file"))
        .unwrap()
        .to_string();
    let kept = line
        .split('"')
        .nth(1)
        .and_then(|p| Path::new(p).file_name())
        .unwrap()
        .to_string_lossy()
        .to_string();
    let redo_file = s.psql("select redo_wal_file from pg_control_checkpoint()");
    assert_eq!(kept, redo_file, "{line}");
    let after = arch.files();
    for f in &before {
        let is_segment = f.len() == 24 && f.chars().all(|c| c.is_ascii_hexdigit());
        let older = is_segment && f[8..] < kept[8..];
        assert_eq!(!after.contains(f), older, "{f} (kept {kept}): {after:?}");
    }
}

#[test]
fn hybrid_cycle_between_archive_and_streaming_then_trigger_file() {
    let arch = Archive::new("hy-arch");
    let mut p = archiving_primary("hy-prim", &arch);
    let port_a = p.port;
    let mut s = basebackup(&p, "hy-stby", &["-Fp", "-Xs"]);
    p.psql("insert into t select g, 'a' from generate_series(1, 100) g");
    switch_and_archive(&p, &arch);
    p.stop();

    // The guide's recovery.conf, with an archive and a trigger file as well.
    let trigger = s.dir.path().join("promote.trigger");
    std::fs::write(
        s.datadir().join("recovery.conf"),
        format!(
            "standby_mode = on\nprimary_conninfo = 'host=127.0.0.1 port={port_a} user=postgres'\nrestore_command = '{}'\nrecovery_target_timeline = 'latest'\ntrigger_file = '{}'\n",
            arch.restore_command(),
            trigger.display()
        ),
    )
    .unwrap();
    conf(&s, "wal_retrieve_retry_interval = 200ms");

    // 1. The primary is down: the standby catches up from the archive alone.
    start_standby(&mut s);
    wait_for(&s, "select count(*) from t", "100");
    wait_log(&mut s, "could not connect to the primary server", 1);
    assert!(s.log_text().contains("from archive"));

    // 2. The primary comes back: the standby streams.
    p.start();
    p.psql("insert into t values (1000, 'streamed')");
    wait_for(&s, "select v from t where id = 1000", "streamed");
    wait_log(&mut s, "started streaming WAL from primary", 1);

    // 3. The link is cut (the primary moves to another port): WAL comes through the
    //    archive again.
    p.stop();
    p.port = free_port();
    conf(&p, &format!("port = {}", p.port));
    p.start();
    p.psql("insert into t values (2000, 'archived')");
    switch_and_archive(&p, &arch);
    wait_for(&s, "select v from t where id = 2000", "archived");
    let log = s.log_text();
    assert!(
        count_after(&log, "started streaming WAL from primary", "from archive") > 0,
        "{log}"
    );

    // 4. Reachable again: streaming resumes.
    p.stop();
    p.port = port_a;
    conf(&p, &format!("port = {}", p.port));
    p.start();
    p.psql("insert into t values (3000, 'streamed again')");
    wait_for(&s, "select v from t where id = 3000", "streamed again");
    wait_log(&mut s, "started streaming WAL from primary", 2);

    // The legacy trigger_file promotes it.
    p.stop();
    std::fs::write(&trigger, b"").unwrap();
    wait_for(&s, "select pg_is_in_recovery()", "f");
    wait_log(&mut s, "promote trigger file found", 1);
    assert!(!trigger.exists());
    assert!(s.datadir().join("recovery.done").exists());
    assert!(!s.datadir().join("recovery.conf").exists());
    assert!(s.datadir().join("pg_wal/00000002.history").exists());
    s.psql("insert into t values (4000, 'written after promotion')");
    assert_eq!(s.psql("select count(*) from t"), "104");
}

/// A primary with a streaming standby that archives after promotion, a second
/// streaming standby, and an archive-only standby; the primary dies, the first standby
/// is promoted, and both others follow it onto timeline 2 (`'latest'`).
#[test]
fn promotion_and_other_standbys_follow_the_new_timeline() {
    let arch = Archive::new("pr-arch");
    let mut p = archiving_primary("pr-prim", &arch);
    p.psql("insert into t values (1, 'before')");
    let mut s1 = basebackup(&p, "pr-s1", &["-Fp", "-Xs", "-R"]);
    let mut s2 = basebackup(&p, "pr-s2", &["-Fp", "-Xs", "-R"]);
    let mut s3 = basebackup(&p, "pr-s3", &["-Fp", "-Xs"]);
    conf(
        &s1,
        &format!(
            "archive_mode = on\narchive_command = '{}'\nrecovery_end_command = 'touch recovery_ended'",
            arch.archive_command()
        ),
    );
    conf(&s2, "wal_retrieve_retry_interval = 200ms");
    conf(
        &s3,
        &format!(
            "restore_command = '{}'\nwal_retrieve_retry_interval = 200ms",
            arch.restore_command()
        ),
    );
    std::fs::write(s3.datadir().join("standby.signal"), b"").unwrap();
    for s in [&mut s1, &mut s2, &mut s3] {
        start_standby(s);
    }
    p.psql("insert into t values (2, 'streamed')");
    switch_and_archive(&p, &arch);
    for s in [&s1, &s2, &s3] {
        wait_for(s, "select count(*) from t", "2");
    }
    // With archive_mode = on a standby does not archive.
    assert_eq!(s1.psql("select archived_count from pg_stat_archiver"), "0");
    p.stop();
    wait_log(&mut s1, "replication terminated by primary server", 1);
    wait_log(&mut s2, "replication terminated by primary server", 1);

    // Promote s1 the pg_ctl way.
    let out = tusk_ctl(&["promote", "-D", s1.datadir().to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("server promoted"), "{}", stdout(&out));
    assert_eq!(s1.psql("select pg_is_in_recovery()"), "f");
    let log = s1.log_text();
    for line in [
        "received promote request",
        "selected new timeline ID: 2",
        "archive recovery complete",
        "database system is ready to accept connections",
    ] {
        assert!(log.contains(line), "{line}: {log}");
    }
    assert!(s1.datadir().join("recovery_ended").exists());
    assert!(!s1.datadir().join("standby.signal").exists());
    let history = std::fs::read_to_string(s1.datadir().join("pg_wal/00000002.history")).unwrap();
    assert!(
        history.starts_with("1\t") && history.ends_with("\tno recovery target specified\n"),
        "{history:?}"
    );
    s1.psql("insert into t values (3, 'timeline two')");
    assert_eq!(
        s1.psql("select timeline_id from pg_control_checkpoint()"),
        "2"
    );
    // The new primary archives the history file and its segments.
    arch.wait_for("00000002.history");
    switch_and_archive(&s1, &arch);

    // s2 streams from s1 (re-pointed as in the PostgreSQL docs) and follows timeline 2.
    s2.psql(&format!(
        "alter system set primary_conninfo = 'host=127.0.0.1 port={} user=postgres'",
        s1.port
    ));
    s2.psql("select pg_reload_conf()");
    wait_for(&s2, "select v from t where id = 3", "timeline two");
    let log = s2.log_text();
    assert!(
        log.contains("fetching timeline history file for timeline 2 from primary server"),
        "{log}"
    );
    assert!(log.contains("new target timeline is 2"), "{log}");
    assert!(
        log.contains("on timeline 2"),
        "no stream on timeline 2: {log}"
    );
    s1.psql("insert into t values (4, 'streamed on two')");
    wait_for(&s2, "select v from t where id = 4", "streamed on two");

    // s3 follows through the archive.
    wait_for(&s3, "select v from t where id = 3", "timeline two");
    assert!(s3.log_text().contains("new target timeline is 2"));

    // pg_promote() on s2: timeline 3, whose history keeps timeline 2's line after a
    // blank line, as PostgreSQL writes it.
    assert_eq!(s2.psql("select pg_promote()"), "t");
    assert_eq!(s2.psql("select pg_is_in_recovery()"), "f");
    let h3 = std::fs::read_to_string(s2.datadir().join("pg_wal/00000003.history")).unwrap();
    let lines: Vec<&str> = h3.split('\n').collect();
    assert_eq!(lines.len(), 4, "{h3:?}");
    assert!(lines[0].starts_with("1\t"), "{h3:?}");
    assert_eq!(lines[1], "", "{h3:?}");
    assert!(lines[2].starts_with("2\t"), "{h3:?}");
    s2.psql("insert into t values (5, 'timeline three')");
    let out = s2.psql_as("postgres", "postgres", None, "select pg_promote()");
    assert!(
        stderr(&out).contains("recovery is not in progress"),
        "{}",
        stderr(&out)
    );
}

/// Point-in-time recovery from a base backup plus the archive.
#[test]
fn point_in_time_recovery_to_time_name_xid_and_lsn() {
    let arch = Archive::new("pitr-arch");
    let p = archiving_primary("pitr-prim", &arch);
    let backup = basebackup(&p, "pitr-base", &["-Fp", "-Xf"]);
    p.psql("insert into t values (1, 'one')");
    let after_one = p.psql("select now()");
    let lsn_after_one = p.psql("select pg_current_wal_insert_lsn()");
    std::thread::sleep(Duration::from_millis(300));
    let out = p.psql("begin; insert into t values (2, 'two'); select txid_current(); commit;");
    let xid_two = out
        .lines()
        .find(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no xid in {out:?}"))
        .to_string();
    p.psql("select pg_create_restore_point('before_three')");
    p.psql("insert into t values (3, 'three')");
    switch_and_archive(&p, &arch);

    let restore = |tag: &str, target: &str| -> Server {
        let dir = TempDir::new(tag);
        copy_tree(&backup.datadir(), &dir.path().join("data"));
        let s = Server::in_dir(dir);
        conf(
            &s,
            &format!(
                "restore_command = '{}'\narchive_mode = off\n{target}",
                arch.restore_command()
            ),
        );
        std::fs::write(s.datadir().join("recovery.signal"), b"").unwrap();
        s
    };
    let ids = |s: &Server| s.psql("select string_agg(id::text, ',' order by id) from t");

    // To a time: the commit of row 2 is after it.
    let mut r = restore(
        "pitr-time",
        &format!("recovery_target_time = '{after_one}'\nrecovery_target_action = 'promote'"),
    );
    spawn(&mut r);
    wait_for(&r, "select pg_is_in_recovery()", "f");
    assert_eq!(ids(&r), "1");
    let log = r.log_text();
    assert!(log.contains("starting point-in-time recovery to"), "{log}");
    assert!(
        log.contains("recovery stopping before commit of transaction"),
        "{log}"
    );
    let h = std::fs::read_to_string(r.datadir().join("pg_wal/00000002.history")).unwrap();
    assert!(h.contains("\tbefore "), "{h:?}");
    assert!(!r.datadir().join("recovery.signal").exists());
    r.psql("insert into t values (10, 'new timeline')");
    drop(r);

    // To a named restore point.
    let mut r = restore(
        "pitr-name",
        "recovery_target_name = 'before_three'\nrecovery_target_action = 'promote'",
    );
    spawn(&mut r);
    wait_for(&r, "select pg_is_in_recovery()", "f");
    assert_eq!(ids(&r), "1,2");
    let h = std::fs::read_to_string(r.datadir().join("pg_wal/00000002.history")).unwrap();
    assert!(
        h.ends_with("\tat restore point \"before_three\"\n"),
        "{h:?}"
    );
    drop(r);

    // To a transaction, inclusive, pausing there (the default action): read-only until
    // pg_wal_replay_resume() promotes it.
    let mut r = restore("pitr-xid", &format!("recovery_target_xid = '{xid_two}'"));
    spawn(&mut r);
    wait_for(&r, "select pg_get_wal_replay_pause_state()", "paused");
    assert_eq!(ids(&r), "1,2");
    assert_eq!(r.psql("select pg_is_in_recovery()"), "t");
    assert!(r.log_text().contains(&format!(
        "recovery stopping after commit of transaction {xid_two}"
    )));
    r.psql("select pg_wal_replay_resume()");
    wait_for(&r, "select pg_is_in_recovery()", "f");
    assert_eq!(ids(&r), "1,2");
    drop(r);

    // To an LSN, exclusive, shutting down there; a restart stops at the same place.
    let mut r = restore(
        "pitr-lsn",
        &format!(
            "recovery_target_lsn = '{lsn_after_one}'\nrecovery_target_inclusive = off\nrecovery_target_action = 'shutdown'"
        ),
    );
    spawn(&mut r);
    let st = r.wait_exit(Duration::from_secs(60));
    assert!(st.success() || st.code().is_some(), "{st}");
    let log = r.log_text();
    assert!(log.contains("shutdown at recovery target"), "{log}");
    assert!(
        log.contains("recovery stopping before WAL location (LSN)"),
        "{log}"
    );
    assert!(r.datadir().join("recovery.signal").exists());

    // No target: everything in the archive, then a new timeline.
    let mut r = restore("pitr-all", "");
    spawn(&mut r);
    wait_for(&r, "select pg_is_in_recovery()", "f");
    assert_eq!(ids(&r), "1,2,3");
    assert!(r.log_text().contains("starting archive recovery"));
}

/// A restore_command that hands back something else than the segment asked for: the
/// file is refused (never replayed, never installed), and streaming still works.
#[test]
fn a_restore_command_returning_garbage_is_rejected() {
    let arch = Archive::new("gb-arch");
    let p = archiving_primary("gb-prim", &arch);
    p.psql("insert into t values (1, 'one')");
    let mut s = basebackup(&p, "gb-stby", &["-Fp", "-Xs", "-R"]);
    let first = switch_and_archive(&p, &arch);
    // Every request gets the same (wrong) segment, or random bytes for other names.
    let garbage = s.dir.path().join("garbage");
    std::fs::write(&garbage, vec![0x5au8; 1 << 20]).unwrap();
    conf(
        &s,
        &format!(
            "restore_command = 'case %f in *.history) exit 1;; {first}) cp {}/{first} %p;; *) cp {} %p;; esac'\nwal_retrieve_retry_interval = 200ms",
            arch.path().display(),
            garbage.display()
        ),
    );
    start_standby(&mut s);
    p.psql("insert into t values (2, 'two')");
    let _ = p.psql("select pg_switch_wal()");
    p.psql("insert into t values (3, 'three')");
    wait_for(&s, "select count(*) from t", "3");
    let log = s.log_text();
    assert!(
        log.contains("invalid magic number 5A5A") || log.contains("unexpected pageaddr"),
        "{log}"
    );
    assert!(log.contains("started streaming WAL from primary"), "{log}");
}

/// A newer timeline whose history forked before what the standby already replayed is
/// not followed (a LOG line says why, and replay goes on on its timeline); a standby
/// whose start checkpoint lies after the fork refuses to start on it.
#[test]
fn a_timeline_that_forked_before_the_standby_is_refused() {
    let arch = Archive::new("fk-arch");
    let p = archiving_primary("fk-prim", &arch);
    let mut s = basebackup(&p, "fk-stby", &["-Fp", "-Xf"]);
    let fork = p.psql("select pg_current_wal_insert_lsn()");
    p.psql("insert into t select g, 'x' from generate_series(1, 50) g");
    switch_and_archive(&p, &arch);
    conf(
        &s,
        &format!(
            "restore_command = '{}'
recovery_target_timeline = 'latest'
wal_retrieve_retry_interval = 200ms",
            arch.restore_command()
        ),
    );
    std::fs::write(s.datadir().join("standby.signal"), b"").unwrap();
    start_standby(&mut s);
    wait_for(&s, "select count(*) from t", "50");

    // A timeline 2 that forked off at `fork`, as another server's promotion would
    // have written it into the shared archive.
    std::fs::write(
        arch.path().join("00000002.history"),
        format!("1\t{fork}\tno recovery target specified\n"),
    )
    .unwrap();
    wait_log(
        &mut s,
        "new timeline 2 forked off current database system timeline 1 before current recovery point",
        1,
    );
    p.psql("insert into t values (100, 'still timeline one')");
    switch_and_archive(&p, &arch);
    wait_for(&s, "select v from t where id = 100", "still timeline one");

    // A standby made later (its start checkpoint is after the fork) refuses it.
    let mut late = basebackup(&p, "fk-late", &["-Fp", "-Xs", "-R"]);
    conf(
        &late,
        &format!("restore_command = '{}'", arch.restore_command()),
    );
    spawn(&mut late);
    let st = late.wait_exit(Duration::from_secs(60));
    assert!(!st.success());
    let log = late.log_text();
    assert!(
        log.contains("FATAL:  requested timeline 2 is not a child of this server's history"),
        "{log}"
    );
    assert!(
        log.contains("but in the history of the requested timeline, the server forked off from that timeline at"),
        "{log}"
    );
}

/// A restore_command killed by a signal is fatal (PostgreSQL's rule: the startup
/// process dies and the server with it), unlike an ordinary failure.
#[test]
fn a_restore_command_killed_by_a_signal_stops_the_server() {
    let arch = Archive::new("kl-arch");
    let p = archiving_primary("kl-prim", &arch);
    let mut s = basebackup(&p, "kl-stby", &["-Fp", "-Xs", "-R"]);
    conf(&s, "restore_command = 'kill -9 $$'");
    spawn(&mut s);
    let st = s.wait_exit(Duration::from_secs(60));
    assert!(!st.success(), "{st}");
    let log = s.log_text();
    assert!(
        log.contains("could not restore file")
            && log.contains("child process was terminated by signal 9: Killed"),
        "{log}"
    );
    assert!(
        log.contains("shutting down due to startup process failure"),
        "{log}"
    );
}
