//! postgresql.conf, postgresql.auto.conf and -c: the guide's settings as written, errors
//! naming file and line, SHOW/SET/RESET, and reload on SIGHUP or pg_reload_conf().

use crate::common::*;
use std::process::Command;
use std::time::Duration;

#[test]
fn guide_settings_are_accepted_as_written() {
    let mut s = Server::init("guide-conf", &[]);
    s.append_conf(
        "max_connections = 1000        # the standby's max_connections must not be lower than this\n\
         wal_level = hot_standby       # makes this server a WAL source for standbys\n\
         max_wal_senders = 5\n\
         wal_keep_segments = 64\n\
         wal_sender_timeout = 60s\n\
         hot_standby = on\n",
    );
    s.start();
    assert_eq!(s.psql("show max_connections"), "1000");
    assert_eq!(s.psql("show wal_level"), "replica");
    assert_eq!(s.psql("show wal_sender_timeout"), "1min");
    assert_eq!(s.psql("show wal_keep_size"), "1GB");
    assert_eq!(s.psql("show max_wal_senders"), "5");
}

#[test]
fn bad_setting_stops_startup_naming_file_and_line() {
    let s = Server::init("bad-conf", &[]);
    let conf = s.datadir().join("postgresql.conf");
    let lines = std::fs::read_to_string(&conf).unwrap().lines().count() + 1;
    s.append_conf("no_such_setting = 3\n");
    let out = run_with_timeout(
        Command::new(tusk_bin())
            .arg("run")
            .arg("-D")
            .arg(s.datadir()),
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "unrecognized configuration parameter \"no_such_setting\" in file \"{}\" line {}",
            conf.display(),
            lines
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "configuration file \"{}\" contains errors",
            conf.display()
        )),
        "{err}"
    );
}

#[test]
fn set_show_reset_and_reload() {
    let mut s = Server::start_new("set-show");
    assert_eq!(s.psql("set work_mem = '8MB'; show work_mem"), "SET\n8MB");
    assert_eq!(s.psql("select current_setting('DateStyle')"), "ISO, MDY");
    assert_eq!(
        s.psql("select set_config('work_mem', '16MB', false)"),
        "16MB"
    );
    let e = stderr(&s.psql_as("postgres", "postgres", None, "set nosuch = 1"));
    assert!(
        e.contains("unrecognized configuration parameter \"nosuch\""),
        "{e}"
    );
    let e = stderr(&s.psql_as("postgres", "postgres", None, "set port = 1"));
    assert!(
        e.contains("parameter \"port\" cannot be changed without restarting the server"),
        "{e}"
    );
    // -c overrides the file; reload picks up file changes of sighup settings.
    s.stop();
    s.start_with(&["-c", "work_mem=2MB"]);
    assert_eq!(s.psql("show work_mem"), "2MB");
    s.append_conf("log_min_duration_statement = 250\n");
    assert_eq!(s.psql("select pg_reload_conf()"), "t");
    let start = std::time::Instant::now();
    while s.psql("show log_min_duration_statement") != "250ms" {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "reload not applied"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = s.log_text();
    assert!(log.contains("received SIGHUP, reloading configuration files"));
    // The reload's own lines carry the log prefix once, as PostgreSQL's do.
    let changed = log
        .lines()
        .find(|l| l.contains("parameter \"log_min_duration_statement\" changed to \"250\""))
        .unwrap_or_else(|| panic!("no 'changed to' line in:\n{log}"));
    assert!(
        changed.ends_with("] LOG:  parameter \"log_min_duration_statement\" changed to \"250\""),
        "{changed}"
    );
}
