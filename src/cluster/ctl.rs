//! `tusk ctl`: start, stop and control a server in the background, as `pg_ctl` 15 does,
//! with its messages and exit codes (scripts written for pg_ctl read tusk's output).
//!
//! `tusk ctl` never talks to the server over the protocol. Everything goes through the
//! data directory and signals, exactly as pg_ctl does with a postmaster:
//! - `postmaster.pid` says which process runs and whether it is `ready` or `standby`;
//! - `postmaster.opts` (written by `tusk run`) remembers the command line for restart
//!   and is shown by status;
//! - SIGTERM / SIGINT / SIGQUIT ask for a smart / fast / immediate shutdown, SIGHUP for
//!   a reload, SIGUSR1 together with a `promote` file for a promotion.
//!
//! Exit codes: 0 success; 1 failure; 3 `status` found no server; 4 `status` found no
//! usable data directory. Messages start with `pg_ctl:` as pg_ctl's do, so that the
//! texts documented for PostgreSQL (and matched by scripts) are the same.
//!
//! What this module must never do: signal a PID it did not read from `postmaster.pid`,
//! or delete the pid file (only the server does that).
//!
//! `tusk ctl start -D /d -l log`, step by step:
//! 1. If `postmaster.pid` exists, warn that another server might be running.
//! 2. Spawn `/bin/sh -c 'exec "TUSK" run -D "/d" OPTS < /dev/null >> "log" 2>&1'` in a
//!    new session (setsid), so it outlives the terminal; its PID is the server's.
//! 3. Print `waiting for server to start...` and a dot a second; poll `postmaster.pid`
//!    ten times a second until it names that PID with status `ready` or `standby` and
//!    the advertised socket or address accepts a connection.
//! 4. Print ` done` / `server started`, or, if the child exited, ` stopped waiting` and
//!    `pg_ctl: could not start server` / `Examine the log output.` (exit 1).

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::cli::{CtlArgs, CtlCommand, ShutdownMode};
use super::init::io_text;
use super::pidfile::{process_alive, PidFile, PidFileContents};

/// The program name pg_ctl's messages start with.
const PROGNAME: &str = "pg_ctl";
/// The file `tusk run` writes its command line into.
pub const OPTS_FILE_NAME: &str = "postmaster.opts";
/// Polls per second while waiting (pg_ctl's `WAITS_PER_SEC`).
const WAITS_PER_SEC: u64 = 10;
/// The default wait, in seconds (`-t`, or `PGCTLTIMEOUT`).
const DEFAULT_WAIT_SECONDS: u64 = 60;

/// Everything one `tusk ctl` invocation needs.
#[derive(Debug, Clone)]
pub struct Ctl {
    /// The operation.
    pub command: CtlCommand,
    /// The data directory as given (messages show it this way).
    pub datadir: PathBuf,
    /// `-l FILE`.
    pub log_file: Option<PathBuf>,
    /// `-m MODE`.
    pub mode: ShutdownMode,
    /// Whether to wait for the operation to complete.
    pub wait: bool,
    /// How long to wait, in seconds.
    pub timeout: u64,
    /// `-o OPTS`, passed to `tusk run` through the shell.
    pub options: Option<String>,
    /// The tusk executable to start.
    pub exe: PathBuf,
    /// `-s`: print only errors.
    pub silent: bool,
}

impl Ctl {
    /// Builds a controller from parsed arguments; `datadir` is already resolved, `exe` is
    /// the running binary unless `-p` names another.
    pub fn from_args(args: &CtlArgs, datadir: PathBuf, exe: PathBuf) -> Option<Ctl> {
        let timeout = args.timeout.unwrap_or_else(|| {
            std::env::var("PGCTLTIMEOUT")
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(DEFAULT_WAIT_SECONDS)
        });
        Some(Ctl {
            command: args.command?,
            datadir,
            log_file: args.log_file.as_ref().map(PathBuf::from),
            mode: args.mode,
            wait: args.wait,
            timeout,
            options: args.options.clone(),
            exe: args.exe.as_ref().map(PathBuf::from).unwrap_or(exe),
            silent: args.silent,
        })
    }

    /// Runs the operation, printing to `out` (informational) and `err` (errors); returns
    /// the process exit code.
    pub fn run(&self, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
        let mut io = Io {
            out,
            err,
            silent: self.silent,
        };
        let r = match self.command {
            CtlCommand::Start => self.start(&mut io, false),
            CtlCommand::Stop => self.stop(&mut io),
            CtlCommand::Restart => self.restart(&mut io),
            CtlCommand::Reload => self.reload(&mut io),
            CtlCommand::Status => self.status(&mut io),
            CtlCommand::Promote => self.promote(&mut io),
        };
        match r {
            Ok(()) => 0,
            Err(code) => code,
        }
    }

    fn pid_file_path(&self) -> PathBuf {
        self.datadir.join(super::pidfile::PID_FILE_NAME)
    }

    /// pg_ctl's `get_pgpid`: checks the directory, then reads the pid file (`None` when
    /// it does not exist). `status_request` selects exit code 4 for directory trouble.
    fn get_pid(&self, io: &mut Io, status_request: bool) -> Result<Option<PidFileContents>, i32> {
        let bad = if status_request { 4 } else { 1 };
        let shown = self.datadir.display();
        match std::fs::metadata(&self.datadir) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                io.error(&format!("directory \"{shown}\" does not exist"));
                return Err(bad);
            }
            Err(e) => {
                io.error(&format!(
                    "could not access directory \"{shown}\": {}",
                    io_text(&e)
                ));
                return Err(bad);
            }
        }
        if !self.datadir.join("PG_VERSION").exists() {
            io.error(&format!(
                "directory \"{shown}\" is not a database cluster directory"
            ));
            return Err(bad);
        }
        match PidFile::read(&self.datadir) {
            Ok(c) => Ok(c),
            Err(_) => {
                io.error(&format!(
                    "invalid data in PID file \"{}\"",
                    self.pid_file_path().display()
                ));
                Err(1)
            }
        }
    }

    /// The running server's pid file, or pg_ctl's "does not exist / Is server running?".
    fn require_pid(&self, io: &mut Io) -> Result<PidFileContents, i32> {
        match self.get_pid(io, false)? {
            Some(c) => Ok(c),
            None => {
                io.error(&format!(
                    "PID file \"{}\" does not exist",
                    self.pid_file_path().display()
                ));
                io.raw_err("Is server running?\n");
                Err(1)
            }
        }
    }

    /// `start` (also the second half of `restart`, which uses `postmaster.opts`).
    fn start(&self, io: &mut Io, restarting: bool) -> Result<(), i32> {
        if !restarting {
            if let Ok(Some(_)) = PidFile::read(&self.datadir) {
                io.error("another server might be running; trying to start server anyway");
            }
        }
        let cmd = self.start_command(io, restarting)?;
        let started_at = now_epoch();
        let mut child = match self.spawn(&cmd) {
            Ok(c) => c,
            Err(e) => {
                io.error(&format!("could not start server: {}", io_text(&e)));
                return Err(1);
            }
        };
        if !self.wait {
            io.msg("server starting\n");
            return Ok(());
        }
        io.msg("waiting for server to start...");
        match self.wait_for_start(io, &mut child, started_at) {
            StartState::Ready => {
                io.msg(" done\n");
                io.msg("server started\n");
                Ok(())
            }
            StartState::StillStarting => {
                io.msg(" stopped waiting\n");
                io.error("server did not start in time");
                Err(1)
            }
            StartState::Failed => {
                io.msg(" stopped waiting\n");
                io.error("could not start server");
                io.raw_err("Examine the log output.\n");
                Err(1)
            }
        }
    }

    /// The shell command that starts the server, as pg_ctl builds it: the remembered
    /// options for a restart without `-o`, otherwise `run -D DIR` and `-o`'s text.
    fn start_command(&self, io: &mut Io, restarting: bool) -> Result<String, i32> {
        let mut cmd = format!("exec {} ", shell_quote(&self.exe.display().to_string()));
        let remembered = if restarting && self.options.is_none() {
            Some(self.read_opts(io)?)
        } else {
            None
        };
        match remembered {
            Some(args) => cmd.push_str(&args),
            None => {
                let dir = std::path::absolute(&self.datadir).unwrap_or(self.datadir.clone());
                cmd.push_str(&format!(
                    "\"run\" \"-D\" {}",
                    shell_quote(&dir.display().to_string())
                ));
                if let Some(o) = &self.options {
                    cmd.push(' ');
                    cmd.push_str(o);
                }
            }
        }
        cmd.push_str(" < \"/dev/null\"");
        if let Some(log) = &self.log_file {
            cmd.push_str(&format!(" >> {}", shell_quote(&log.display().to_string())));
        }
        cmd.push_str(" 2>&1");
        Ok(cmd)
    }

    /// The arguments part of `postmaster.opts` (after the executable's path).
    fn read_opts(&self, io: &mut Io) -> Result<String, i32> {
        let path = self.datadir.join(OPTS_FILE_NAME);
        let Ok(text) = std::fs::read_to_string(&path) else {
            io.error(&format!("could not read file \"{}\"", path.display()));
            return Err(1);
        };
        let lines: Vec<&str> = text.lines().collect();
        if lines.len() != 1 {
            io.error(&format!(
                "option file \"{}\" must have exactly one line",
                path.display()
            ));
            return Err(1);
        }
        // `EXE "arg" "arg"...`: everything from the first ` "` on is the arguments.
        match lines[0].find(" \"") {
            Some(i) => Ok(lines[0][i + 1..].to_string()),
            None => Ok(String::new()),
        }
    }

    /// Starts the shell command in a new session with stdin from /dev/null.
    fn spawn(&self, cmd: &str) -> std::io::Result<Child> {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(cmd).stdin(Stdio::null());
        // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
        unsafe {
            c.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        c.spawn()
    }

    /// pg_ctl's `wait_for_postmaster_start`, plus a check that the server answers.
    fn wait_for_start(&self, io: &mut Io, child: &mut Child, started_at: i64) -> StartState {
        let child_pid = child.id() as i32;
        for i in 0..self.timeout * WAITS_PER_SEC {
            if let Ok(Some(c)) = PidFile::read(&self.datadir) {
                let ours = c.pid == child_pid && c.start_time >= started_at - 2;
                let up = matches!(c.status.as_deref(), Some("ready") | Some("standby"));
                if ours && up && answers(&c) {
                    return StartState::Ready;
                }
            }
            if let Ok(Some(_)) = child.try_wait() {
                return StartState::Failed;
            }
            if i % WAITS_PER_SEC == 0 {
                io.msg(".");
            }
            std::thread::sleep(Duration::from_millis(1000 / WAITS_PER_SEC));
        }
        StartState::StillStarting
    }

    /// `stop`.
    fn stop(&self, io: &mut Io) -> Result<(), i32> {
        let c = self.require_pid(io)?;
        if let Err(e) = signal(c.pid, self.mode.signal()) {
            io.error(&format!(
                "could not send stop signal (PID: {}): {}",
                c.pid,
                io_text(&e)
            ));
            return Err(1);
        }
        if !self.wait {
            io.msg("server shutting down\n");
            return Ok(());
        }
        io.msg("waiting for server to shut down...");
        self.wait_for_stop(io, c.pid)?;
        io.msg(" done\n");
        io.msg("server stopped\n");
        Ok(())
    }

    /// Waits until the pid file is gone (or its process died without removing it).
    fn wait_for_stop(&self, io: &mut Io, pid: i32) -> Result<(), i32> {
        for i in 0..self.timeout * WAITS_PER_SEC {
            match PidFile::read(&self.datadir) {
                Ok(None) => return Ok(()),
                _ if !process_alive(pid) => return Ok(()),
                _ => {}
            }
            if i % WAITS_PER_SEC == 0 {
                io.msg(".");
            }
            std::thread::sleep(Duration::from_millis(1000 / WAITS_PER_SEC));
        }
        io.msg(" failed\n");
        io.error("server does not shut down");
        if self.mode == ShutdownMode::Smart {
            io.raw_err(
                "HINT: The \"-m fast\" option immediately disconnects sessions rather than\n\
                 waiting for session-initiated disconnection.\n",
            );
        }
        Err(1)
    }

    /// `restart`: stop the running server (if any), then start with the old options.
    fn restart(&self, io: &mut Io) -> Result<(), i32> {
        match self.get_pid(io, false)? {
            None => {
                io.error(&format!(
                    "PID file \"{}\" does not exist",
                    self.pid_file_path().display()
                ));
                io.raw_err("Is server running?\n");
                io.raw_err("trying to start server anyway\n");
            }
            Some(c) if process_alive(c.pid) => {
                if let Err(e) = signal(c.pid, self.mode.signal()) {
                    io.error(&format!(
                        "could not send stop signal (PID: {}): {}",
                        c.pid,
                        io_text(&e)
                    ));
                    return Err(1);
                }
                io.msg("waiting for server to shut down...");
                self.wait_for_stop(io, c.pid)?;
                io.msg(" done\n");
                io.msg("server stopped\n");
            }
            Some(c) => {
                io.error(&format!(
                    "old server process (PID: {}) seems to be gone",
                    c.pid
                ));
                io.raw_err("starting server anyway\n");
            }
        }
        self.start(io, true)
    }

    /// `reload`: SIGHUP.
    fn reload(&self, io: &mut Io) -> Result<(), i32> {
        let c = self.require_pid(io)?;
        if let Err(e) = signal(c.pid, libc::SIGHUP) {
            io.error(&format!(
                "could not send reload signal (PID: {}): {}",
                c.pid,
                io_text(&e)
            ));
            return Err(1);
        }
        io.msg("server signaled\n");
        Ok(())
    }

    /// `status`: exit 0 and the command line when a server runs, else exit 3.
    fn status(&self, io: &mut Io) -> Result<(), i32> {
        if let Some(c) = self.get_pid(io, true)? {
            if process_alive(c.pid) {
                let _ = writeln!(io.out, "{PROGNAME}: server is running (PID: {})", c.pid);
                if let Ok(opts) = std::fs::read_to_string(self.datadir.join(OPTS_FILE_NAME)) {
                    let _ = io.out.write_all(opts.as_bytes());
                    if !opts.ends_with('\n') {
                        let _ = writeln!(io.out);
                    }
                }
                return Ok(());
            }
        }
        let _ = writeln!(io.out, "{PROGNAME}: no server running");
        Err(3)
    }

    /// `promote`: the `promote` file plus SIGUSR1, then wait for the standby status to go.
    fn promote(&self, io: &mut Io) -> Result<(), i32> {
        let c = self.require_pid(io)?;
        if c.status.as_deref() != Some("standby") {
            io.error("cannot promote server; server is not in standby mode");
            return Err(1);
        }
        let promote_file = self.datadir.join("promote");
        if let Err(e) = std::fs::write(&promote_file, b"") {
            io.error(&format!(
                "could not create promote signal file \"{}\": {}",
                promote_file.display(),
                io_text(&e)
            ));
            return Err(1);
        }
        if let Err(e) = signal(c.pid, libc::SIGUSR1) {
            io.error(&format!(
                "could not send promote signal (PID: {}): {}",
                c.pid,
                io_text(&e)
            ));
            let _ = std::fs::remove_file(&promote_file);
            return Err(1);
        }
        if !self.wait {
            io.msg("server promoting\n");
            return Ok(());
        }
        io.msg("waiting for server to promote...");
        for i in 0..self.timeout * WAITS_PER_SEC {
            match PidFile::read(&self.datadir) {
                Ok(Some(now)) if now.status.as_deref() == Some("ready") => {
                    io.msg(" done\n");
                    io.msg("server promoted\n");
                    return Ok(());
                }
                _ => {}
            }
            if i % WAITS_PER_SEC == 0 {
                io.msg(".");
            }
            std::thread::sleep(Duration::from_millis(1000 / WAITS_PER_SEC));
        }
        io.msg(" stopped waiting\n");
        io.error("server did not promote in time");
        Err(1)
    }
}

/// The outcome of waiting for a start.
enum StartState {
    Ready,
    StillStarting,
    Failed,
}

/// The two output streams, flushed after each piece so dots appear as they come.
struct Io<'a> {
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    silent: bool,
}

impl Io<'_> {
    /// An informational message (suppressed by `-s`).
    fn msg(&mut self, text: &str) {
        if !self.silent {
            let _ = self.out.write_all(text.as_bytes());
            let _ = self.out.flush();
        }
    }

    /// `pg_ctl: TEXT` on stderr.
    fn error(&mut self, text: &str) {
        let _ = writeln!(self.err, "{PROGNAME}: {text}");
        let _ = self.err.flush();
    }

    /// Text on stderr as is.
    fn raw_err(&mut self, text: &str) {
        let _ = self.err.write_all(text.as_bytes());
        let _ = self.err.flush();
    }
}

/// Whether the server the pid file describes accepts connections: its Unix socket if it
/// has one, else its first listen address; with neither, the status line is trusted.
fn answers(c: &PidFileContents) -> bool {
    if let Some(dir) = &c.socket_dir {
        let sock = dir.join(format!(".s.PGSQL.{}", c.port));
        return std::os::unix::net::UnixStream::connect(sock).is_ok();
    }
    let host = match c.listen_addr.as_str() {
        "" => return true,
        "*" | "0.0.0.0" | "localhost" => "127.0.0.1",
        "::" => "::1",
        other => other,
    };
    let addr = if host.contains(':') {
        format!("[{host}]:{}", c.port)
    } else {
        format!("{host}:{}", c.port)
    };
    use std::net::ToSocketAddrs;
    let Ok(mut addrs) = addr.to_socket_addrs() else {
        return true;
    };
    addrs.next().is_none_or(|a| {
        std::net::TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_ok()
    })
}

/// Sends `sig` to `pid`.
fn signal(pid: i32, sig: i32) -> std::io::Result<()> {
    if pid <= 0 {
        return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
    }
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Quotes a word for `/bin/sh` inside double quotes, escaping what stays special there.
pub fn shell_quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// The contents of `postmaster.opts` for a server started as `exe` with `args` (the
/// arguments after the program name): the executable, then each argument quoted.
pub fn render_opts(exe: &Path, args: &[String]) -> String {
    let mut line = exe.display().to_string();
    for a in args {
        line.push(' ');
        line.push_str(&shell_quote(a));
    }
    line.push('\n');
    line
}

/// Writes `DATADIR/postmaster.opts` (called by `tusk run` once it holds the pid file).
pub fn write_opts_file(datadir: &Path, exe: &Path, args: &[String]) -> crate::error::Result<()> {
    let path = datadir.join(OPTS_FILE_NAME);
    std::fs::write(&path, render_opts(exe, args)).map_err(|e| {
        crate::error::Error::io(format!("could not write file \"{}\"", path.display()), e)
    })
}

use super::pidfile::now_epoch;

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tempdir(tag: &str) -> PathBuf {
        crate::testutil::tempdir(&format!("ctl-{tag}"))
    }

    fn ctl(command: CtlCommand, dir: &Path) -> Ctl {
        Ctl {
            command,
            datadir: dir.to_path_buf(),
            log_file: None,
            mode: ShutdownMode::Fast,
            wait: true,
            timeout: 2,
            options: None,
            exe: PathBuf::from("/bin/false"),
            silent: false,
        }
    }

    fn run(c: &Ctl) -> (i32, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = c.run(&mut out, &mut err);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn no_server_messages_and_exit_codes() {
        let d = tempdir("none");
        fs::write(d.join("PG_VERSION"), "15\n").unwrap();
        let pid_file = d.join("postmaster.pid").display().to_string();

        assert_eq!(
            run(&ctl(CtlCommand::Status, &d)),
            (3, "pg_ctl: no server running\n".to_string(), String::new())
        );
        let missing =
            format!("pg_ctl: PID file \"{pid_file}\" does not exist\nIs server running?\n");
        for cmd in [CtlCommand::Stop, CtlCommand::Reload, CtlCommand::Promote] {
            assert_eq!(run(&ctl(cmd, &d)), (1, String::new(), missing.clone()));
        }
        // A stale pid file: status says no server.
        let mut child = Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        fs::write(
            d.join("postmaster.pid"),
            format!("{dead}\n{}\n1\n5432\n\n", d.display()),
        )
        .unwrap();
        assert_eq!(run(&ctl(CtlCommand::Status, &d)).0, 3);
        let (code, _, err) = run(&ctl(CtlCommand::Stop, &d));
        assert_eq!(code, 1);
        assert!(
            err.starts_with(&format!(
                "pg_ctl: could not send stop signal (PID: {dead}): "
            )),
            "{err}"
        );
        fs::remove_dir_all(&d).unwrap();

        let gone = d.join("nope");
        assert_eq!(
            run(&ctl(CtlCommand::Status, &gone)),
            (
                4,
                String::new(),
                format!("pg_ctl: directory \"{}\" does not exist\n", gone.display())
            )
        );
        assert_eq!(run(&ctl(CtlCommand::Stop, &gone)).0, 1);
    }

    #[test]
    fn not_a_cluster_directory() {
        let d = tempdir("notcluster");
        let (code, _, err) = run(&ctl(CtlCommand::Status, &d));
        assert_eq!(code, 4);
        assert_eq!(
            err,
            format!(
                "pg_ctl: directory \"{}\" is not a database cluster directory\n",
                d.display()
            )
        );
        fs::remove_dir_all(&d).unwrap();
    }

    /// A fake server: a live process named tusk that removes the pid file on SIGINT.
    fn fake_server(d: &Path, status: &str) -> Child {
        let script = format!(
            "trap 'rm -f {pid}; exit 0' INT TERM; trap 'echo hup >> {d}/hup' HUP; \
             trap 'printf \"%s\\n\" $$ {d} 1 0 \"\" \"\" \"\" ready > {pid}' USR1; \
             printf '%s\\n' $$ {d} 1 0 '' '' '' {status} > {pid}; \
             while true; do sleep 0.05; done",
            pid = d.join("postmaster.pid").display(),
            d = d.display(),
        );
        let child = Command::new("/bin/sh")
            .arg0("tusk")
            .arg("-c")
            .arg(script)
            .spawn()
            .unwrap();
        // Wait (bounded) until the file is complete, not merely created: on a busy
        // machine the shell may not have written its lines yet.
        for _ in 0..500 {
            let written = fs::read_to_string(d.join("postmaster.pid")).unwrap_or_default();
            if written.lines().count() >= 8 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    }

    #[test]
    fn status_reload_promote_stop_against_a_running_server() {
        let d = tempdir("live");
        fs::write(d.join("PG_VERSION"), "15\n").unwrap();
        fs::write(
            d.join("postmaster.opts"),
            "/usr/bin/tusk \"run\" \"-D\" \"/d\"\n",
        )
        .unwrap();
        let mut server = fake_server(&d, "ready");
        let pid = server.id();

        let (code, out, _) = run(&ctl(CtlCommand::Status, &d));
        assert_eq!(code, 0);
        assert_eq!(
            out,
            format!(
                "pg_ctl: server is running (PID: {pid})\n/usr/bin/tusk \"run\" \"-D\" \"/d\"\n"
            )
        );

        assert_eq!(
            run(&ctl(CtlCommand::Reload, &d)),
            (0, "server signaled\n".to_string(), String::new())
        );
        let (code, _, err) = run(&ctl(CtlCommand::Promote, &d));
        assert_eq!(code, 1);
        assert_eq!(
            err,
            "pg_ctl: cannot promote server; server is not in standby mode\n"
        );

        let (code, out, _) = run(&ctl(CtlCommand::Stop, &d));
        assert_eq!(code, 0, "{out}");
        assert!(
            out.starts_with("waiting for server to shut down..."),
            "{out}"
        );
        assert!(out.ends_with(" done\nserver stopped\n"), "{out}");
        server.wait().unwrap();
        assert!(!d.join("postmaster.pid").exists());

        // A standby is promoted: the status line leaves "standby".
        let mut server = fake_server(&d, "standby");
        let (code, out, err) = run(&ctl(CtlCommand::Promote, &d));
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.starts_with("waiting for server to promote..."), "{out}");
        assert!(out.ends_with(" done\nserver promoted\n"), "{out}");
        assert!(d.join("promote").exists());
        let mut no_wait = ctl(CtlCommand::Stop, &d);
        no_wait.wait = false;
        assert_eq!(
            run(&no_wait),
            (0, "server shutting down\n".to_string(), String::new())
        );
        server.wait().unwrap();
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn start_failure_is_reported() {
        let d = tempdir("startfail");
        fs::write(d.join("PG_VERSION"), "15\n").unwrap();
        // /bin/false exits at once: the start fails.
        let (code, out, err) = run(&ctl(CtlCommand::Start, &d));
        assert_eq!(code, 1);
        assert!(out.starts_with("waiting for server to start..."), "{out}");
        assert!(out.ends_with(" stopped waiting\n"), "{out}");
        assert_eq!(
            err,
            "pg_ctl: could not start server\nExamine the log output.\n"
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn start_command_and_opts_file() {
        let d = tempdir("cmd");
        let mut c = ctl(CtlCommand::Start, &d);
        c.exe = PathBuf::from("/opt/tusk/bin/tusk");
        c.log_file = Some(PathBuf::from("/var/log/tusk.log"));
        c.options = Some("-p 5433 -c 'log_line_prefix=%m %p '".into());
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut io = Io {
            out: &mut out,
            err: &mut err,
            silent: false,
        };
        assert_eq!(
            c.start_command(&mut io, false).unwrap(),
            format!(
                "exec \"/opt/tusk/bin/tusk\" \"run\" \"-D\" \"{}\" -p 5433 -c 'log_line_prefix=%m %p ' < \"/dev/null\" >> \"/var/log/tusk.log\" 2>&1",
                d.display()
            )
        );
        let args: Vec<String> = ["run", "-D", "/d a", "-c", "x=$y"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        write_opts_file(&d, Path::new("/opt/tusk/bin/tusk"), &args).unwrap();
        assert_eq!(
            fs::read_to_string(d.join(OPTS_FILE_NAME)).unwrap(),
            "/opt/tusk/bin/tusk \"run\" \"-D\" \"/d a\" \"-c\" \"x=\\$y\"\n"
        );
        c.options = None;
        c.log_file = None;
        assert_eq!(
            c.start_command(&mut io, true).unwrap(),
            "exec \"/opt/tusk/bin/tusk\" \"run\" \"-D\" \"/d a\" \"-c\" \"x=\\$y\" < \"/dev/null\" 2>&1"
        );
        fs::write(d.join(OPTS_FILE_NAME), "a\nb\n").unwrap();
        assert!(c.start_command(&mut io, true).is_err());
        fs::remove_dir_all(&d).unwrap();
    }
}
