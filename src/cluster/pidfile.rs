//! `postmaster.pid` and the Unix socket lock files, in PostgreSQL's layout.
//!
//! A data directory is owned by at most one running server at a time. The proof of
//! ownership is `postmaster.pid`, created with `O_CREAT | O_EXCL` so that two servers
//! racing for one directory cannot both win. Its lines are PostgreSQL's, so `pg_ctl`,
//! monitoring scripts and `tusk ctl` read it the same way:
//!
//! ```text
//! 1  12345                 the server's PID
//! 2  /var/lib/tusk/data    the data directory (absolute)
//! 3  1795508106            start time, seconds since the epoch
//! 4  5432                  port
//! 5  /tmp                  first Unix socket directory (empty if none)
//! 6  localhost             first listen address (`*`, an address, or empty)
//! 7         0         0    shared memory key and id (tusk has none: zeros)
//! 8  ready                 status: `starting`, `stopping`, `ready   `, `standby `
//! ```
//!
//! The status is padded to eight characters as PostgreSQL pads it, so a reader that
//! compares the whole line and one that trims it both work.
//!
//! Each Unix socket `.s.PGSQL.<port>` gets a lock file `.s.PGSQL.<port>.lock` next to it
//! with the first five lines; it stops a second server from stealing the socket of a
//! live one, and lets a server remove a socket left over by a crash.
//!
//! Invariants:
//! - A lock file is only ever removed by the process whose PID is in it, or when it is
//!   stale: its PID is not alive, is our own PID or our parent's (a container restart
//!   reuses PIDs), or belongs to a live process that is neither tusk nor postgres
//!   (checked through `/proc/PID/cmdline`).
//! - A live owner is never overridden: acquisition fails with PostgreSQL's FATAL text.
//!
//! What this module must never do: remove a lock file it did not prove stale, or leave
//! a half-written pid file behind (rewrites go through a temporary file and a rename).
//!
//! One start-up, step by step:
//! 1. `tusk run` calls [`PidFile::acquire`]: lines 1-5 (port 0 and no socket yet), an
//!    empty line 6, the zero shared-memory line 7 and status `starting`.
//! 2. The server binds its sockets, calls [`create_socket_lock`] for each socket
//!    directory, then [`PidFile::set_port_and_sockets`].
//! 3. Once recovery is done it calls [`PidFile::set_status`] with `ready` (or
//!    `standby` while it replays as a hot standby); `tusk ctl start -w` waits for that.
//! 4. At shutdown: `stopping`, then [`PidFile::remove`]; socket locks go with their
//!    [`SocketLock`] values.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::{sqlstate, Error, Result};

/// SQLSTATE PostgreSQL raises when a lock file is held by a live server.
const LOCK_FILE_EXISTS: &str = "F0001";

/// The name of the data directory lock file.
pub const PID_FILE_NAME: &str = "postmaster.pid";

/// Status line value while the server starts up and recovers.
pub const STATUS_STARTING: &str = "starting";
/// Status line value while the server shuts down.
pub const STATUS_STOPPING: &str = "stopping";
/// Status line value once the server accepts connections (padded as PostgreSQL pads it).
pub const STATUS_READY: &str = "ready   ";
/// Status line value while a hot standby accepts read-only connections (padded).
pub const STATUS_STANDBY: &str = "standby ";

/// The shared memory line PostgreSQL writes (`%9lu %9lu`); tusk has no System V segment.
fn shmem_line() -> String {
    format!("{:9} {:9}", 0, 0)
}

/// How many times acquisition retries after removing a stale lock file.
const MAX_ATTEMPTS: usize = 100;

/// The parsed contents of a `postmaster.pid` (or socket lock) file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidFileContents {
    /// The PID of the server that wrote the file (line 1).
    pub pid: i32,
    /// The data directory (line 2).
    pub datadir: PathBuf,
    /// The server's start time in seconds since the epoch (line 3), 0 if missing.
    pub start_time: i64,
    /// The port (line 4), 0 if not yet known.
    pub port: u16,
    /// The first Unix socket directory (line 5), `None` if empty or missing.
    pub socket_dir: Option<PathBuf>,
    /// The first listen address (line 6), empty if none or missing.
    pub listen_addr: String,
    /// The status (line 8) with the padding trimmed, `None` before it is written.
    pub status: Option<String>,
}

impl PidFileContents {
    /// Parses the text of a lock file; `None` if line 1 is not a PID.
    pub fn parse(text: &str) -> Option<PidFileContents> {
        let lines: Vec<&str> = text.split('\n').collect();
        let line = |i: usize| lines.get(i).copied().unwrap_or("");
        let pid: i32 = line(0).trim().parse().ok()?;
        let socket_dir = match line(4).trim() {
            "" => None,
            dir => Some(PathBuf::from(dir)),
        };
        let status = match line(7).trim() {
            "" => None,
            s => Some(s.to_string()),
        };
        Some(PidFileContents {
            pid,
            datadir: PathBuf::from(line(1)),
            start_time: line(2).trim().parse().unwrap_or(0),
            port: line(3).trim().parse().unwrap_or(0),
            socket_dir,
            listen_addr: line(5).trim().to_string(),
            status,
        })
    }
}

/// The data directory lock held by a running server; see the module documentation.
#[derive(Debug)]
pub struct PidFile {
    /// The absolute path of `postmaster.pid`.
    path: PathBuf,
    /// The eight lines of the file, without their newlines.
    lines: Vec<String>,
}

impl PidFile {
    /// Creates `DATADIR/postmaster.pid` for this process, removing a stale one first;
    /// fails with PostgreSQL's FATAL error when a live server holds the directory.
    pub fn acquire(datadir: &Path) -> Result<PidFile> {
        let datadir = std::path::absolute(datadir)
            .map_err(|e| Error::io(format!("could not resolve \"{}\"", datadir.display()), e))?;
        let path = datadir.join(PID_FILE_NAME);
        let lines = vec![
            std::process::id().to_string(),
            datadir.display().to_string(),
            now_epoch().to_string(),
            "0".to_string(),
            String::new(),
            String::new(),
            shmem_line(),
            STATUS_STARTING.to_string(),
        ];
        let text = render(&lines);
        create_lock_file(&path, PID_FILE_NAME, &text, |pid| {
            format!(
                "Is another postmaster (PID {pid}) running in data directory \"{}\"?",
                datadir.display()
            )
        })?;
        Ok(PidFile { path, lines })
    }

    /// The absolute path of the pid file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The data directory this pid file locks.
    pub fn datadir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("/"))
    }

    /// Fills in the port (line 4), the first socket directory (line 5) and the first
    /// listen address (line 6) once the server has bound them.
    pub fn set_port_and_sockets(
        &mut self,
        port: u16,
        socket_dir: Option<&Path>,
        listen_addr: &str,
    ) -> Result<()> {
        self.lines[3] = port.to_string();
        self.lines[4] = socket_dir
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        self.lines[5] = listen_addr.to_string();
        self.rewrite()
    }

    /// Rewrites the status line (line 8): `starting`, `stopping`, `ready` or `standby`,
    /// padded to eight characters as PostgreSQL writes it.
    pub fn set_status(&mut self, status: &str) -> Result<()> {
        self.lines[7] = format!("{status:<8}");
        self.rewrite()
    }

    /// Removes the pid file at clean shutdown; a failure is ignored because the next
    /// start-up detects the file as stale.
    pub fn remove(self) {
        let _ = fs::remove_file(&self.path);
    }

    /// Reads `DATADIR/postmaster.pid`: `None` if it does not exist, an error if it cannot
    /// be read or its first line is not a PID.
    pub fn read(datadir: &Path) -> Result<Option<PidFileContents>> {
        let path = datadir.join(PID_FILE_NAME);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::io(
                    format!("could not open file \"{}\"", path.display()),
                    e,
                ))
            }
        };
        match PidFileContents::parse(&text) {
            Some(c) => Ok(Some(c)),
            None => Err(Error::new(
                sqlstate::DATA_CORRUPTED,
                format!("invalid data in PID file \"{}\"", path.display()),
            )),
        }
    }

    /// Writes the current lines through a temporary file and a rename, so a reader sees
    /// either the old or the new contents, never a torn mix.
    fn rewrite(&self) -> Result<()> {
        let tmp = self.path.with_extension("pid.tmp");
        let write = || -> std::io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(render(&self.lines).as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io(
                format!("could not write lock file \"{}\"", self.path.display()),
                e,
            )
        })
    }
}

/// The lock file of one Unix socket; dropping it removes the lock file and the socket.
#[derive(Debug)]
pub struct SocketLock {
    /// The path of `.s.PGSQL.<port>.lock`.
    lock_path: PathBuf,
    /// The path of the socket `.s.PGSQL.<port>` it protects.
    socket_path: PathBuf,
}

impl SocketLock {
    /// The path of the socket this lock protects (`DIR/.s.PGSQL.<port>`).
    pub fn socket_path(&self) -> &Path {
        &self.socket_path
    }

    /// The path of the lock file itself.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }
}

impl Drop for SocketLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.socket_path);
        let _ = fs::remove_file(&self.lock_path);
    }
}

/// Creates `SOCKET_DIR/.s.PGSQL.<port>.lock` (the first five lines of `postmaster.pid`)
/// and removes a socket file left over by a dead server, so the caller can bind
/// `SOCKET_DIR/.s.PGSQL.<port>`; fails with PostgreSQL's FATAL error when a live server
/// owns the socket.
pub fn create_socket_lock(socket_dir: &Path, port: u16, datadir: &Path) -> Result<SocketLock> {
    let socket_path = socket_dir.join(format!(".s.PGSQL.{port}"));
    let lock_path = socket_dir.join(format!(".s.PGSQL.{port}.lock"));
    let datadir = std::path::absolute(datadir).unwrap_or_else(|_| datadir.to_path_buf());
    let lines = [
        std::process::id().to_string(),
        datadir.display().to_string(),
        now_epoch().to_string(),
        port.to_string(),
        socket_dir.display().to_string(),
    ];
    let name = lock_path.display().to_string();
    let socket_name = socket_path.display().to_string();
    create_lock_file(&lock_path, &name, &render(&lines), |pid| {
        format!("Is another postmaster (PID {pid}) using socket file \"{socket_name}\"?")
    })?;
    // We own the lock now, so any socket file there is a dead server's leftover.
    match fs::remove_file(&socket_path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => {
            let _ = fs::remove_file(&lock_path);
            return Err(Error::io(
                format!("could not remove old socket file \"{socket_name}\""),
                e,
            )
            .with_severity(crate::error::Severity::Fatal));
        }
    }
    Ok(SocketLock {
        lock_path,
        socket_path,
    })
}

/// Whether a process with this PID exists (a process of another user counts).
pub fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Whether the live process `pid` looks like a database server: its program name in
/// `/proc/PID/cmdline` says tusk or postgres, or it runs this same executable; `true`
/// when that cannot be read, so an unknown process is never mistaken for a stale entry.
fn looks_like_server(pid: i32) -> bool {
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return true;
    };
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or(&[]);
    if argv0.is_empty() {
        // A process in the middle of exec (or a kernel thread): cannot tell, so assume
        // the worst.
        return true;
    }
    let argv0 = String::from_utf8_lossy(argv0);
    let name = argv0.rsplit('/').next().unwrap_or("");
    // A server's title may also be rewritten to "postgres: ..." or "tusk: ...".
    if name.contains("tusk") || name.contains("postgres") || name.contains("postmaster") {
        return true;
    }
    // A renamed copy of this very binary is a server too.
    match (
        fs::read_link(format!("/proc/{pid}/exe")),
        std::env::current_exe(),
    ) {
        (Ok(theirs), Ok(ours)) => theirs == ours,
        _ => false,
    }
}

/// Whether a lock file naming `pid` belongs to a live server other than this process.
fn held_by_live_server(pid: i32) -> bool {
    let me = std::process::id() as i32;
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    let pid = pid.abs();
    pid != me && pid != parent && process_alive(pid) && looks_like_server(pid)
}

/// Creates a lock file exclusively, replacing a stale one; `hint` words the HINT for a
/// live owner's PID. `name` is how messages call the file.
fn create_lock_file(
    path: &Path,
    name: &str,
    contents: &str,
    hint: impl Fn(i32) -> String,
) -> Result<File> {
    let fatal = |code: &'static str, msg: String| Error::fatal(code, msg);
    for _ in 0..MAX_ATTEMPTS {
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(mut f) => {
                let written = f.write_all(contents.as_bytes()).and_then(|_| f.sync_all());
                if let Err(e) = written {
                    let _ = fs::remove_file(path);
                    return Err(
                        Error::io(format!("could not write lock file \"{name}\""), e)
                            .with_severity(crate::error::Severity::Fatal),
                    );
                }
                return Ok(f);
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(fatal(
                    sqlstate::IO_ERROR,
                    format!("could not create lock file \"{name}\": {e}"),
                ))
            }
        }
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(fatal(
                    sqlstate::IO_ERROR,
                    format!("could not open lock file \"{name}\": {e}"),
                ))
            }
        };
        if text.is_empty() {
            return Err(fatal(LOCK_FILE_EXISTS, format!("lock file \"{name}\" is empty"))
                .with_hint(
                    "Either another server is starting, or the lock file is the remnant of a previous server startup crash.",
                ));
        }
        let first = text.split('\n').next().unwrap_or("");
        let Ok(pid) = first.trim().parse::<i32>() else {
            return Err(fatal(
                LOCK_FILE_EXISTS,
                format!("bogus data in lock file \"{name}\": \"{first}\""),
            ));
        };
        if held_by_live_server(pid) {
            return Err(fatal(
                LOCK_FILE_EXISTS,
                format!("lock file \"{name}\" already exists"),
            )
            .with_hint(hint(pid)));
        }
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => {
                return Err(fatal(
                    LOCK_FILE_EXISTS,
                    format!("could not remove old lock file \"{name}\": {e}"),
                )
                .with_hint(
                    "The file seems accidentally left over, but it could not be removed. Please remove the file by hand and try again.",
                ))
            }
        }
    }
    Err(fatal(
        LOCK_FILE_EXISTS,
        format!("could not create lock file \"{name}\": too many attempts"),
    ))
}

/// Joins lines with a newline after each, as PostgreSQL writes lock files.
fn render(lines: &[String]) -> String {
    let mut s = String::new();
    for l in lines {
        s.push_str(l);
        s.push('\n');
    }
    s
}

/// Seconds since the epoch, now.
pub(crate) fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command};

    fn tempdir(tag: &str) -> PathBuf {
        crate::testutil::tempdir(&format!("pidfile-{tag}"))
    }

    /// A live process whose program name is `argv0`, killed on drop.
    struct Sleeper(Child);
    impl Sleeper {
        fn new(argv0: &str) -> Sleeper {
            let s = Sleeper(Command::new("sleep").arg0(argv0).arg("30").spawn().unwrap());
            // Right after spawn, /proc/PID/cmdline can still be empty: wait for the exec.
            for _ in 0..200 {
                let cmdline = fs::read(format!("/proc/{}/cmdline", s.pid())).unwrap_or_default();
                if cmdline.starts_with(argv0.as_bytes()) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            s
        }
        fn pid(&self) -> i32 {
            self.0.id() as i32
        }
    }
    impl Drop for Sleeper {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn layout_matches_postgresql() {
        let dir = tempdir("layout");
        let mut pf = PidFile::acquire(&dir).unwrap();
        let text = fs::read_to_string(dir.join("postmaster.pid")).unwrap();
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(
            lines.len(),
            9,
            "eight lines each ending in a newline: {text:?}"
        );
        assert_eq!(lines[0], std::process::id().to_string());
        assert_eq!(lines[1], dir.display().to_string());
        assert!(lines[2].parse::<i64>().unwrap() > 1_600_000_000);
        assert_eq!(lines[6], format!("{:>9} {:>9}", "0", "0"));
        assert_eq!(lines[7], "starting");
        assert_eq!(lines[8], "");

        pf.set_port_and_sockets(5433, Some(Path::new("/tmp")), "localhost")
            .unwrap();
        pf.set_status("ready").unwrap();
        let text = fs::read_to_string(dir.join("postmaster.pid")).unwrap();
        assert!(
            text.ends_with(&format!(
                "\n5433\n/tmp\nlocalhost\n{}\nready   \n",
                shmem_line()
            )),
            "{text:?}"
        );
        let c = PidFile::read(&dir).unwrap().unwrap();
        assert_eq!(c.pid, std::process::id() as i32);
        assert_eq!(c.port, 5433);
        assert_eq!(c.socket_dir.as_deref(), Some(Path::new("/tmp")));
        assert_eq!(c.listen_addr, "localhost");
        assert_eq!(c.status.as_deref(), Some("ready"));
        pf.set_status("standby").unwrap();
        assert_eq!(
            PidFile::read(&dir).unwrap().unwrap().status.as_deref(),
            Some("standby")
        );
        pf.remove();
        assert!(!dir.join("postmaster.pid").exists());
        assert_eq!(PidFile::read(&dir).unwrap(), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn live_server_is_refused_with_postgresql_text() {
        let dir = tempdir("live");
        let server = Sleeper::new("tusk");
        fs::write(
            dir.join("postmaster.pid"),
            format!("{}\n{}\n1\n5432\n\n", server.pid(), dir.display()),
        )
        .unwrap();
        let e = PidFile::acquire(&dir).unwrap_err();
        assert_eq!(e.severity, crate::error::Severity::Fatal);
        assert_eq!(e.code, "F0001");
        assert_eq!(e.message, "lock file \"postmaster.pid\" already exists");
        assert_eq!(
            e.hint.unwrap(),
            format!(
                "Is another postmaster (PID {}) running in data directory \"{}\"?",
                server.pid(),
                dir.display()
            )
        );
        // The live owner's file is untouched.
        assert!(fs::read_to_string(dir.join("postmaster.pid"))
            .unwrap()
            .starts_with(&server.pid().to_string()));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stale_files_are_replaced() {
        let dir = tempdir("stale");
        // A PID that is not alive: a reaped child's.
        let mut child = Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        fs::write(
            dir.join("postmaster.pid"),
            format!("{dead}\n/x\n1\n5432\n\n"),
        )
        .unwrap();
        let pf = PidFile::acquire(&dir).unwrap();
        assert_eq!(
            PidFile::read(&dir).unwrap().unwrap().pid,
            std::process::id() as i32
        );
        pf.remove();

        // A live process that is not a database server (PID reused after a reboot).
        let other = Sleeper::new("sleep");
        fs::write(
            dir.join("postmaster.pid"),
            format!("{}\n/x\n1\n5432\n\n", other.pid()),
        )
        .unwrap();
        let pf = PidFile::acquire(&dir).unwrap();
        pf.remove();

        // Our own PID (a container restarted with the same PID).
        fs::write(
            dir.join("postmaster.pid"),
            format!("{}\n/x\n", std::process::id()),
        )
        .unwrap();
        PidFile::acquire(&dir).unwrap().remove();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn empty_and_bogus_files_are_refused() {
        let dir = tempdir("bogus");
        fs::write(dir.join("postmaster.pid"), "").unwrap();
        let e = PidFile::acquire(&dir).unwrap_err();
        assert_eq!(e.message, "lock file \"postmaster.pid\" is empty");
        fs::write(dir.join("postmaster.pid"), "abc\n").unwrap();
        let e = PidFile::acquire(&dir).unwrap_err();
        assert_eq!(
            e.message,
            "bogus data in lock file \"postmaster.pid\": \"abc\""
        );
        assert!(PidFile::read(&dir).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn second_acquire_in_one_process_wins_only_as_stale() {
        // Our own PID counts as stale (PostgreSQL's rule), so a server restarting
        // in-process after a crash is not locked out by its own leftover.
        let dir = tempdir("own");
        let first = PidFile::acquire(&dir).unwrap();
        let second = PidFile::acquire(&dir).unwrap();
        drop(first);
        second.remove();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn socket_lock_layout_refusal_and_cleanup() {
        let dir = tempdir("sock");
        let port = 54329;
        // A leftover socket file from a dead server is removed.
        fs::write(dir.join(format!(".s.PGSQL.{port}")), "").unwrap();
        let lock = create_socket_lock(&dir, port, Path::new("/data")).unwrap();
        assert!(!dir.join(format!(".s.PGSQL.{port}")).exists());
        let text = fs::read_to_string(lock.lock_path()).unwrap();
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(lines.len(), 6, "{text:?}");
        assert_eq!(lines[1], "/data");
        assert_eq!(lines[3], port.to_string());
        assert_eq!(lines[4], dir.display().to_string());
        assert_eq!(lock.socket_path(), dir.join(format!(".s.PGSQL.{port}")));
        drop(lock);
        assert!(!dir.join(format!(".s.PGSQL.{port}.lock")).exists());

        let server = Sleeper::new("postgres");
        let lock_path = dir.join(format!(".s.PGSQL.{port}.lock"));
        fs::write(
            &lock_path,
            format!("{}\n/d\n1\n{port}\n/tmp\n", server.pid()),
        )
        .unwrap();
        let e = create_socket_lock(&dir, port, Path::new("/data")).unwrap_err();
        assert_eq!(
            e.message,
            format!("lock file \"{}\" already exists", lock_path.display())
        );
        assert!(e.hint.unwrap().contains("using socket file"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn parse_tolerates_short_files() {
        let c = PidFileContents::parse("42\n/d\n").unwrap();
        assert_eq!(c.pid, 42);
        assert_eq!(c.port, 0);
        assert_eq!(c.socket_dir, None);
        assert_eq!(c.status, None);
        assert!(PidFileContents::parse("").is_none());
    }
}
