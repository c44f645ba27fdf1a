//! The built `tusk` binary's command line: `init` and `ctl status` on a temporary
//! directory, and the texts and exit codes of a few errors. No server is started.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tusk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tusk"))
        .args(args)
        .env_remove("PGDATA")
        .output()
        .expect("run tusk")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh path under the temp directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        TempDir(std::env::temp_dir().join(format!("tusk-cli-{tag}-{}-{nanos}", std::process::id())))
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn str(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn version() {
    let o = tusk(&["--version"]);
    assert!(o.status.success());
    assert!(text(&o.stdout).starts_with("tusk (PostgreSQL) 15"));
}

#[test]
fn init_then_status() {
    let d = TempDir::new("init");
    let o = tusk(&["init", "-D", d.str()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("creating configuration files ... ok"), "{out}");
    assert!(out.contains(&format!("tusk ctl -D {} -l logfile start", d.str())));
    assert!(text(&o.stderr).contains("warning: enabling \"trust\" authentication"));
    assert_eq!(
        std::fs::read_to_string(d.path().join("PG_VERSION")).unwrap(),
        "15\n"
    );
    assert!(d.path().join("pg_wal/archive_status").is_dir());

    let o = tusk(&["ctl", "status", "-D", d.str()]);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(text(&o.stdout), "pg_ctl: no server running\n");

    let o = tusk(&["ctl", "stop", "-D", d.str()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        format!(
            "pg_ctl: PID file \"{}/postmaster.pid\" does not exist\nIs server running?\n",
            d.str()
        )
    );

    // A second init refuses the non-empty directory.
    let o = tusk(&["init", "-D", d.str()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).starts_with(&format!(
        "tusk: error: directory \"{}\" exists but is not empty\n",
        d.str()
    )));
}

#[test]
fn status_without_a_directory() {
    let d = TempDir::new("missing");
    let o = tusk(&["ctl", "status", "-D", d.str()]);
    assert_eq!(o.status.code(), Some(4));
    assert_eq!(
        text(&o.stderr),
        format!("pg_ctl: directory \"{}\" does not exist\n", d.str())
    );
}

#[test]
fn usage_errors() {
    let o = tusk(&["ctl", "bogus"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "pg_ctl: unrecognized operation mode \"bogus\"\nTry \"tusk ctl --help\" for more information.\n"
    );
    let o = tusk(&["init", "--wal-segsize=3"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "tusk: error: argument of --wal-segsize must be a power of 2 between 1 and 1024\n"
    );
    let o = tusk(&["run", "-c", "fsync"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stderr), "tusk: error: -c fsync requires a value\n");
    let o = tusk(&["init", "--auth=md5", "-D", "/nonexistent/x"]);
    assert_eq!(
        text(&o.stderr),
        "tusk: error: must specify a password for the superuser to enable password authentication\n"
    );
}
