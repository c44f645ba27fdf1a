//! `docker/entrypoint.sh` without Docker (no engine runs in CI): the container's
//! start-up logic run as a plain script against the built binary and PostgreSQL 15's
//! client tools, on loopback ports the test picks.
//!
//! 1. No password for an uninitialized primary: refused with the postgres image's
//!    message, nothing created.
//! 2. A primary from the environment: POSTGRES_USER / POSTGRES_PASSWORD (SCRAM over
//!    TCP, a wrong password refused), POSTGRES_DB, the replication role, the init
//!    scripts run once, archiving into TUSK_ARCHIVE_DIR, `-c` options passed on.
//! 3. A standby from TUSK_PRIMARY_CONNINFO: pg_basebackup'd, streaming (the primary's
//!    pg_stat_replication shows it), read-only, replaying new commits, restoring from
//!    the shared archive.
//! 4. A second start of the primary finds its cluster and does not initialize again.

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/entrypoint.sh")
}

/// The entrypoint with a clean environment: the binaries, the given variables.
fn entrypoint(env: &[(&str, String)], args: &[&str], log: &Path) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg(script()).args(args);
    cmd.env_clear();
    let bin = Path::new(tusk_bin()).to_path_buf();
    cmd.env("TUSK_BIN", &bin);
    cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
    // Never drop privileges in the test, whoever runs it.
    cmd.env("TUSK_RUN_AS", "");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let f = std::fs::File::create(log).unwrap();
    cmd.stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f);
    cmd
}

/// A running entrypoint (the server it exec'd into), killed on drop.
struct Running {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        // SAFETY: kill on our own child's PID.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) until the server answers on its TCP port.
    fn wait_ready(&mut self, what: &str) {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{what}: the entrypoint exited with {status}:\n{}",
                    self.log_text()
                );
            }
            let ready = Command::new(pg_bin("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ready {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "{what}: not ready within 120s:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// psql over TCP as `user` with `password`; the output, or the error text.
    fn psql(&self, user: &str, password: &str, db: &str, sql: &str) -> Result<String, String> {
        let o = run_with_timeout(
            Command::new(pg_bin("psql"))
                .args(["-X", "-At", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", user, "-d", db, "-c", sql])
                .env("PGPASSWORD", password)
                .env_remove("PGOPTIONS"),
            Duration::from_secs(60),
        );
        if o.status.success() {
            Ok(stdout(&o).trim().to_string())
        } else {
            Err(stderr(&o))
        }
    }
}

fn start(env: &[(&str, String)], args: &[&str], dir: &Path, tag: &str, port: u16) -> Running {
    let log = dir.join(format!("{tag}.log"));
    let child = entrypoint(env, args, &log).spawn().unwrap();
    Running { child, port, log }
}

#[test]
fn entrypoint_builds_the_guides_primary_and_standby() {
    let dir = TempDir::new("entrypoint");
    let root = dir.path();
    let archive = root.join("archive");
    let initdb = root.join("initdb");
    std::fs::create_dir_all(&initdb).unwrap();
    std::fs::write(
        initdb.join("01-schema.sql"),
        "create table notes (id int primary key, body text);\n\
         insert into notes values (1, 'from 01-schema.sql');\n",
    )
    .unwrap();
    std::fs::write(
        initdb.join("02-more.sh"),
        "psql -X -q -v ON_ERROR_STOP=1 -c \"insert into notes values (2, 'from 02-more.sh')\"\n",
    )
    .unwrap();

    // 1. No password: refused, nothing made.
    let primary_data = root.join("primary");
    let p_port = free_port();
    let base = |data: &Path, port: u16| {
        vec![
            ("PGDATA", data.display().to_string()),
            ("PGPORT", port.to_string()),
            ("TUSK_INITDB_DIR", initdb.display().to_string()),
        ]
    };
    let log = root.join("nopassword.log");
    let o = run_with_timeout(
        &mut entrypoint(&base(&primary_data, p_port), &[], &log),
        Duration::from_secs(60),
    );
    // (run_with_timeout captures the output itself.)
    let said = format!("{}{}", std::fs::read_to_string(&log).unwrap(), stderr(&o));
    assert_eq!(o.status.code(), Some(1), "{said}");
    assert!(
        said.contains("Database is uninitialized and superuser password is not specified"),
        "{said}"
    );
    assert!(!primary_data.join("PG_VERSION").exists());

    // 2. A primary from the environment.
    let mut env = base(&primary_data, p_port);
    env.extend([
        ("POSTGRES_USER", "alice".to_string()),
        ("POSTGRES_PASSWORD", "s3cret pass".to_string()),
        ("POSTGRES_DB", "app".to_string()),
        ("POSTGRES_REPLICATION_USER", "repl".to_string()),
        ("POSTGRES_REPLICATION_PASSWORD", "replpw".to_string()),
        ("TUSK_ARCHIVE_DIR", archive.display().to_string()),
    ]);
    let sockets = root.join("sockets");
    std::fs::create_dir_all(&sockets).unwrap();
    let socket_opt = format!("unix_socket_directories={}", sockets.display());
    let args = ["-c", "max_connections=150", "-c", socket_opt.as_str()];
    let mut primary = start(&env, &args, root, "primary", p_port);
    primary.wait_ready("primary");
    assert_eq!(
        primary.psql(
            "alice",
            "s3cret pass",
            "app",
            "select body from notes order by id"
        ),
        Ok("from 01-schema.sql\nfrom 02-more.sh".to_string())
    );
    let wrong = primary
        .psql("alice", "nope", "app", "select 1")
        .unwrap_err();
    assert!(
        wrong.contains("password authentication failed for user \"alice\""),
        "{wrong}"
    );
    assert_eq!(
        primary.psql("alice", "s3cret pass", "app", "show max_connections"),
        Ok("150".to_string())
    );
    assert_eq!(
        primary.psql(
            "alice",
            "s3cret pass",
            "app",
            "select rolreplication from pg_roles where rolname = 'repl'"
        ),
        Ok("t".to_string())
    );
    primary
        .psql("alice", "s3cret pass", "app", "select pg_switch_wal()")
        .unwrap();

    // 3. A standby of it.
    let standby_data = root.join("standby");
    let s_port = free_port();
    let mut senv = base(&standby_data, s_port);
    senv.extend([
        (
            "TUSK_PRIMARY_CONNINFO",
            format!(
                "host=127.0.0.1 port={p_port} user=repl password=replpw application_name=standby1"
            ),
        ),
        ("TUSK_ARCHIVE_DIR", archive.display().to_string()),
        ("TUSK_PRIMARY_WAIT", "30".to_string()),
    ]);
    let mut standby = start(&senv, &["-c", socket_opt.as_str()], root, "standby", s_port);
    standby.wait_ready("standby");
    // The primary's max_connections came along (a lower one would stop a hot standby).
    assert_eq!(
        standby.psql("alice", "s3cret pass", "app", "show max_connections"),
        Ok("150".to_string())
    );
    let conf = std::fs::read_to_string(standby_data.join("postgresql.conf")).unwrap();
    assert!(conf.contains("restore_command = 'cp "), "{conf}");
    assert!(standby_data.join("standby.signal").exists());
    primary
        .psql(
            "alice",
            "s3cret pass",
            "app",
            "insert into notes values (3, 'streamed')",
        )
        .unwrap();
    let start_wait = Instant::now();
    loop {
        let got = standby.psql(
            "alice",
            "s3cret pass",
            "app",
            "select body from notes where id = 3",
        );
        if got == Ok("streamed".to_string()) {
            break;
        }
        assert!(
            start_wait.elapsed() < Duration::from_secs(60),
            "the standby did not replay the insert: {got:?}\n{}",
            standby.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let row = primary
        .psql(
            "alice",
            "s3cret pass",
            "app",
            "select application_name, state from pg_stat_replication",
        )
        .unwrap();
    assert_eq!(row, "standby1|streaming");
    let ro = standby
        .psql(
            "alice",
            "s3cret pass",
            "app",
            "insert into notes values (4, 'x')",
        )
        .unwrap_err();
    assert!(ro.contains("read-only transaction"), "{ro}");
    assert!(
        std::fs::read_dir(&archive).unwrap().count() > 0,
        "nothing archived"
    );
    drop(standby);

    // 4. A restart finds the cluster.
    drop(primary);
    let mut again = start(&env, &args, root, "primary-again", p_port);
    again.wait_ready("primary restart");
    assert!(
        !again.log_text().contains("initializing a primary"),
        "{}",
        again.log_text()
    );
    assert_eq!(
        again.psql("alice", "s3cret pass", "app", "select count(*) from notes"),
        Ok("3".to_string())
    );
}
