//! Small helpers for the real-cluster scenarios, shared by the test targets
//! (`tests/server`, `tests/crash`): start the real `tusk` binary on a free
//! port in a temporary data directory, run stock `psql` against it, and clean up.
//!
//! Every wait is bounded; every server is killed and its directory removed on drop.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The tusk binary under test.
pub fn tusk_bin() -> &'static str {
    env!("CARGO_BIN_EXE_tusk")
}

/// A stock PostgreSQL 15 client program (psql, pg_waldump…).
pub fn pg_bin(name: &str) -> PathBuf {
    let p = Path::new("/usr/lib/postgresql/15/bin").join(name);
    if p.exists() {
        p
    } else {
        PathBuf::from(name)
    }
}

/// A fresh, unique temporary directory, removed by [`TempDir`]'s drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "tusk-test-{}-{}-{}",
            tag,
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port nobody listens on right now (never 5432), chosen below the kernel's
/// ephemeral range (32768–60999 by default) so that the outgoing connections of other
/// tests (walreceivers, pg_basebackup, psql) cannot take it between this call and the
/// server's bind; each port is handed out once per test process.
pub fn free_port() -> u16 {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    // A per-process start point spreads concurrent test processes over the range.
    let seed = (std::process::id() as u64 * 2_654_435_761)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos() as u64;
    const LOW: u64 = 20_000;
    const SPAN: u64 = 12_000;
    for i in 0..SPAN {
        let p = (LOW + (seed + i * 7_919) % SPAN) as u16;
        if p == 5432 || given.contains(&p) {
            continue;
        }
        let free_v4 = TcpListener::bind(("127.0.0.1", p)).is_ok();
        let free_any = TcpListener::bind(("0.0.0.0", p)).is_ok();
        if free_v4 && free_any {
            given.insert(p);
            return p;
        }
    }
    panic!("no free TCP port between {LOW} and {}", LOW + SPAN);
}

/// Runs a command with a time limit; kills it when the limit passes. Its output is
/// drained by threads while it runs, so a program writing more than a pipe buffer
/// (64 kB) does not deadlock.
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Output {
    use std::io::Read;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Output {
                status,
                stdout: out_t.join().unwrap(),
                stderr: err_t.join().unwrap(),
            };
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} timed out after {limit:?}; stderr: {}",
                String::from_utf8_lossy(&err_t.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A two-worker tokio runtime for tests that drive several clients at once.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A tusk server under test.
pub struct Server {
    pub dir: TempDir,
    pub port: u16,
    pub child: Option<Child>,
    pub log: PathBuf,
}

impl Server {
    /// The data directory.
    pub fn datadir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The Unix socket directory.
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    /// Initializes a cluster (with `init_args`) without starting it.
    pub fn init(tag: &str, init_args: &[&str]) -> Server {
        let dir = TempDir::new(tag);
        let port = free_port();
        std::fs::create_dir_all(dir.path().join("sock")).unwrap();
        let datadir = dir.path().join("data");
        let out = run_with_timeout(
            Command::new(tusk_bin())
                .arg("init")
                .arg("-D")
                .arg(&datadir)
                .args(init_args),
            Duration::from_secs(60),
        );
        assert!(
            out.status.success(),
            "tusk init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = dir.path().join("server.log");
        let s = Server {
            dir,
            port,
            child: None,
            log,
        };
        s.append_conf(&format!(
            "port = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n",
            port,
            s.socket_dir().display()
        ));
        s
    }

    /// Initializes and starts a cluster with default settings.
    pub fn start_new(tag: &str) -> Server {
        let mut s = Server::init(tag, &[]);
        s.start();
        s
    }

    /// Appends lines to postgresql.conf.
    pub fn append_conf(&self, text: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.datadir().join("postgresql.conf"))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    /// Replaces pg_hba.conf.
    pub fn write_hba(&self, text: &str) {
        std::fs::write(self.datadir().join("pg_hba.conf"), text).unwrap();
    }

    /// Starts `tusk run` and waits (bounded) until it accepts connections.
    pub fn start(&mut self) {
        self.start_with(&[]);
    }

    /// Starts `tusk run` with extra arguments.
    pub fn start_with(&mut self, args: &[&str]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(tusk_bin())
            .arg("run")
            .arg("-D")
            .arg(self.datadir())
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.wait_ready();
    }

    /// Starts `tusk run` and waits (bounded) for it to be ready or to exit; returns the
    /// exit status as an error when it refused to start (the test decides what that means).
    pub fn try_start(&mut self) -> Result<(), std::process::ExitStatus> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let before = self
            .log_text()
            .matches("ready to accept connections")
            .count();
        let child = Command::new(tusk_bin())
            .arg("run")
            .arg("-D")
            .arg(self.datadir())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return Err(status);
            }
            if self
                .log_text()
                .matches("ready to accept connections")
                .count()
                > before
                && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(60) {
                panic!("server did not start within 60s; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the server is ready or fails the test with its log.
    pub fn wait_ready(&mut self) {
        let start = Instant::now();
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Some(status) = c.try_wait().unwrap() {
                    panic!(
                        "server exited with {status} during start-up; log:\n{}",
                        self.log_text()
                    );
                }
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && self.log_text().contains("ready to accept connections")
            {
                return;
            }
            if start.elapsed() > Duration::from_secs(60) {
                panic!("server did not start within 60s; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends a signal to the server process.
    pub fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            unsafe {
                libc::kill(c.id() as i32, sig);
            }
        }
    }

    /// Waits (bounded) for the server process to exit; returns its exit status.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("server not running");
        let start = Instant::now();
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s;
            }
            if start.elapsed() > limit {
                let _ = c.kill();
                let _ = c.wait();
                panic!(
                    "server did not exit within {limit:?}; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server with SIGINT (fast shutdown) and waits for it.
    pub fn stop(&mut self) {
        self.signal(libc::SIGINT);
        let status = self.wait_exit(Duration::from_secs(60));
        assert!(
            status.success(),
            "fast shutdown exited with {status}; log:\n{}",
            self.log_text()
        );
    }

    /// Kills the server with SIGKILL (a crash) and waits for it.
    pub fn crash(&mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.wait_exit(Duration::from_secs(30));
    }

    /// Runs psql over TCP as `user` on `db` with optional password; returns the output.
    pub fn psql_as(&self, user: &str, db: &str, password: Option<&str>, sql: &str) -> Output {
        let mut cmd = Command::new(pg_bin("psql"));
        cmd.args([
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-w",
            "-h",
            "127.0.0.1",
        ])
        .arg("-p")
        .arg(self.port.to_string())
        .args(["-U", user, "-d", db, "-c", sql])
        .env_remove("PGPASSWORD")
        .env("PGCONNECT_TIMEOUT", "10");
        if let Some(p) = password {
            cmd.env("PGPASSWORD", p);
        }
        run_with_timeout(&mut cmd, Duration::from_secs(60))
    }

    /// Runs psql as postgres on postgres; panics on failure; returns trimmed stdout.
    pub fn psql(&self, sql: &str) -> String {
        let out = self.psql_as("postgres", "postgres", None, sql);
        assert!(
            out.status.success(),
            "psql -c {sql:?} failed: {}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log_text()
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    /// A tokio-postgres client as `user`, its connection driven by a spawned task (call
    /// inside a tokio runtime).
    pub async fn connect(&self, user: &str) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.conninfo(user), tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connect as {user}: {e}"));
        tokio::spawn(conn);
        client
    }

    /// A connection string for tokio-postgres.
    pub fn conninfo(&self, user: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={} dbname=postgres connect_timeout=10",
            self.port, user
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// stderr of an Output as a String.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// stdout of an Output as a String.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// Copies a directory tree (`cp -a`).
pub fn copy_tree(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

/// A standby of `primary` (which must be stopped cleanly): a copy of its data
/// directory with its own port and socket directory, `conf` appended, standby.signal.
pub fn make_standby(primary: &Server, tag: &str, conf: &str) -> Server {
    let dir = TempDir::new(tag);
    std::fs::create_dir_all(dir.path().join("sock")).unwrap();
    copy_tree(&primary.datadir(), &dir.path().join("data"));
    let _ = std::fs::remove_file(dir.path().join("data/postmaster.pid"));
    let s = Server::in_dir(dir);
    s.append_conf(&format!("{conf}\n"));
    std::fs::write(s.datadir().join("standby.signal"), b"").unwrap();
    s
}

impl Server {
    /// A server for the data directory `dir/data` (a copy, a base backup) with a
    /// fresh port and its own socket directory `dir/sock`, written into its
    /// postgresql.conf; not started.
    pub fn in_dir(dir: TempDir) -> Server {
        std::fs::create_dir_all(dir.path().join("sock")).unwrap();
        let log = dir.path().join("server.log");
        let s = Server {
            dir,
            port: free_port(),
            child: None,
            log,
        };
        s.append_conf(&format!(
            "port = {}\nunix_socket_directories = '{}'\n",
            s.port,
            s.socket_dir().display()
        ));
        s
    }
}

/// Starts `tusk run` on `s` without waiting for anything (a standby logs "ready to
/// accept read-only connections", not the primary's line: see [`wait_log`]).
pub fn spawn(s: &mut Server) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&s.log)
        .unwrap();
    let child = Command::new(tusk_bin())
        .arg("run")
        .arg("-D")
        .arg(s.datadir())
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    s.child = Some(child);
}

/// Waits until `text` occurs at least `n` times in `s`'s log; fails when the server
/// exits first or after 60 s.
pub fn wait_log(s: &mut Server, text: &str, n: usize) {
    let start = Instant::now();
    loop {
        if s.log_text().matches(text).count() >= n {
            return;
        }
        if let Some(c) = s.child.as_mut() {
            if let Some(st) = c.try_wait().unwrap() {
                panic!("server exited with {st}; log:\n{}", s.log_text());
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no {text:?} within 60s; log:\n{}",
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls `sql` on `s` (as postgres) until it prints `want`; fails after 60 s.
pub fn wait_for(s: &Server, sql: &str, want: &str) {
    let start = Instant::now();
    loop {
        let out = s.psql_as("postgres", "postgres", None, sql);
        let got = stdout(&out).trim_end().to_string();
        if got == want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{sql:?} gave {got:?} (stderr {:?}), wanted {want:?}; log:\n{}",
            stderr(&out),
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Opens a `replication=true` connection by hand (trust authentication) as `user` with
/// `application_name` = `app`, and reads up to its first ReadyForQuery. Returns the
/// socket (20 s read timeout) and the backend pid, or the message of the ErrorResponse
/// the server sent instead.
pub fn replication_connect(
    port: u16,
    user: &str,
    app: &str,
) -> Result<(std::net::TcpStream, i32), String> {
    use std::io::{Read, Write};
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut body = 196608i32.to_be_bytes().to_vec();
    for (k, v) in [
        ("user", user),
        ("database", "replication"),
        ("replication", "true"),
        ("application_name", app),
    ] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut msg = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    msg.extend_from_slice(&body);
    sock.write_all(&msg).unwrap();
    let mut pid = 0;
    loop {
        let mut head = [0u8; 5];
        sock.read_exact(&mut head)
            .map_err(|e| format!("connection closed: {e}"))?;
        let len = i32::from_be_bytes(head[1..5].try_into().unwrap()) as usize;
        let mut rest = vec![0u8; len.saturating_sub(4)];
        sock.read_exact(&mut rest)
            .map_err(|e| format!("connection closed: {e}"))?;
        match head[0] {
            b'E' => {
                let message = rest
                    .split(|b| *b == 0)
                    .find(|f| f.first() == Some(&b'M'))
                    .map(|f| String::from_utf8_lossy(&f[1..]).to_string())
                    .unwrap_or_default();
                return Err(message);
            }
            b'K' if rest.len() >= 4 => pid = i32::from_be_bytes(rest[0..4].try_into().unwrap()),
            b'Z' => return Ok((sock, pid)),
            _ => {}
        }
    }
}

/// The `ps aux` lines containing `needle` (process titles of walsenders, walreceivers).
pub fn ps_lines(needle: &str) -> Vec<String> {
    let out = run_with_timeout(Command::new("ps").arg("aux"), Duration::from_secs(10));
    stdout(&out)
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// Runs stock `pg_basebackup -D … -h 127.0.0.1 -p <p> -U postgres -c fast` with
/// `args` (e.g. `-Fp -Xs -R`) into a new server directory with its own port and socket
/// directory (not started).
pub fn basebackup(p: &Server, tag: &str, args: &[&str]) -> Server {
    basebackup_as(p, tag, "postgres", args)
}

/// [`basebackup`] as the replication role `user` (no password taken from the
/// environment).
pub fn basebackup_as(p: &Server, tag: &str, user: &str, args: &[&str]) -> Server {
    let dir = TempDir::new(tag);
    let data = dir.path().join("data");
    let out = run_with_timeout(
        Command::new(pg_bin("pg_basebackup"))
            .arg("-D")
            .arg(&data)
            .args(["-h", "127.0.0.1", "-p", &p.port.to_string(), "-U", user])
            .args(["-c", "fast"])
            .args(args)
            .env_remove("PGPASSWORD"),
        Duration::from_secs(120),
    );
    assert!(out.status.success(), "pg_basebackup: {}", stderr(&out));
    Server::in_dir(dir)
}

/// Polls until `cond` holds; fails with `what` after 60 s.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
