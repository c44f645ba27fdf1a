//! The operator's shell commands: `archive_command`, `restore_command`,
//! `archive_cleanup_command` and `recovery_end_command`, run as PostgreSQL runs them.
//!
//! What it owns: the `%` placeholders ([`expand`]), running a command through
//! `/bin/sh -c` with the data directory as working directory ([`run`]), and the reading
//! of its exit status ([`Outcome`]) with PostgreSQL's words for it
//! ([`Outcome::describe`]).
//!
//! PostgreSQL's rules, kept here:
//! - `%p` is a path relative to the data directory (`pg_wal/000000010000000000000002`,
//!   or `pg_wal/RECOVERYXLOG` for a restore), `%f` a file name, `%r` the oldest file
//!   still needed (`archive_cleanup_command`, `restore_command`), `%%` a percent sign;
//!   any other `%x` is copied as it is, and so is a placeholder the command kind does
//!   not define (the caller passes `None` for it).
//! - Exit 0 is success; another exit code is an ordinary failure ("not available",
//!   "retry later"); death by a signal, or an exit code above 125 (the shell's "command
//!   not found" / "not executable"), is fatal for the caller, which decides what fatal
//!   means for it (the archiver restarts, recovery stops the server).
//! - The command's own stdout and stderr go where the server's go (the log), as with
//!   PostgreSQL, so `cp: cannot stat …` lines show up in the log.
//!
//! What it must never do: decide what a failure means for WAL (the archiver and the
//! recovery loop do), or run a command other than through `/bin/sh -c`.

use std::path::Path;
use std::process::Command;

/// Expands PostgreSQL's placeholders in `template`: `%p`, `%f`, `%r` with the given
/// values (left as they are when `None`), `%%` as `%`; anything else is copied.
pub fn expand(template: &str, p: Option<&str>, f: Option<&str>, r: Option<&str>) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let value = match chars.peek() {
            Some('p') => p,
            Some('f') => f,
            Some('r') => r,
            Some('%') => Some("%"),
            _ => {
                out.push('%');
                continue;
            }
        };
        match value {
            Some(v) => {
                out.push_str(v);
                chars.next();
            }
            None => out.push('%'),
        }
    }
    out
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exit status 0.
    Success,
    /// An exit code from 1 to 125: the ordinary failure.
    Failed(i32),
    /// An exit code above 125 (the shell could not find or run the command).
    FatalExit(i32),
    /// Killed by a signal (number).
    Signaled(i32),
    /// The shell itself could not be started.
    NotStarted(String),
}

impl Outcome {
    /// Whether the command succeeded.
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Success)
    }

    /// Whether PostgreSQL treats this end as fatal for the caller (a signal, an exit
    /// code above 125, or no shell at all).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Outcome::FatalExit(_) | Outcome::Signaled(_) | Outcome::NotStarted(_)
        )
    }

    /// PostgreSQL's `wait_result_to_str`: `child process exited with exit code 1`,
    /// `child process was terminated by signal 9: Killed`.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Success => "child process exited with exit code 0".into(),
            Outcome::Failed(c) | Outcome::FatalExit(c) => match c {
                126 => "command not executable".into(),
                127 => "command not found".into(),
                c => format!("child process exited with exit code {c}"),
            },
            Outcome::Signaled(s) => {
                format!(
                    "child process was terminated by signal {s}: {}",
                    signal_name(*s)
                )
            }
            Outcome::NotStarted(e) => format!("could not start the shell: {e}"),
        }
    }
}

/// The description `strsignal` gives for the common signals.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "Hangup",
        libc::SIGINT => "Interrupt",
        libc::SIGQUIT => "Quit",
        libc::SIGABRT => "Aborted",
        libc::SIGKILL => "Killed",
        libc::SIGSEGV => "Segmentation fault",
        libc::SIGPIPE => "Broken pipe",
        libc::SIGTERM => "Terminated",
        libc::SIGUSR1 => "User defined signal 1",
        libc::SIGUSR2 => "User defined signal 2",
        _ => "Unknown signal",
    }
}

/// Runs `command` through `/bin/sh -c` in `cwd` and waits for it (blocking: call it
/// from a thread of its own or `spawn_blocking`).
pub fn run(command: &str, cwd: &Path) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .current_dir(cwd)
        .stdin(std::process::Stdio::null())
        .status();
    match status {
        Err(e) => Outcome::NotStarted(e.to_string()),
        Ok(s) => match (s.code(), s.signal()) {
            (Some(0), _) => Outcome::Success,
            (Some(c), _) if c > 125 => Outcome::FatalExit(c),
            (Some(c), _) => Outcome::Failed(c),
            (None, Some(sig)) => Outcome::Signaled(sig),
            (None, None) => Outcome::NotStarted("unknown exit status".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_as_postgresql_expands_them() {
        assert_eq!(
            expand(
                "test ! -f /arch/%f && cp %p /arch/%f",
                Some("pg_wal/000000010000000000000002"),
                Some("000000010000000000000002"),
                None
            ),
            "test ! -f /arch/000000010000000000000002 && cp pg_wal/000000010000000000000002 /arch/000000010000000000000002"
        );
        assert_eq!(expand("a %% b %x %", None, None, None), "a % b %x %");
        assert_eq!(expand("clean %r", None, None, Some("R")), "clean R");
        // A placeholder the command kind does not define stays as written.
        assert_eq!(expand("x %r", Some("p"), Some("f"), None), "x %r");
        assert_eq!(expand("100%%%p", Some("P"), None, None), "100%P");
    }

    #[test]
    fn exit_statuses_are_classified() {
        let d = std::env::temp_dir();
        assert_eq!(run("exit 0", &d), Outcome::Success);
        assert_eq!(run("exit 1", &d), Outcome::Failed(1));
        assert!(!run("exit 1", &d).is_fatal());
        let nf = run("/nonexistent/command/x 2>/dev/null", &d);
        assert_eq!(nf, Outcome::FatalExit(127));
        assert!(nf.is_fatal());
        assert_eq!(nf.describe(), "command not found");
        let killed = run("kill -9 $$", &d);
        assert_eq!(killed, Outcome::Signaled(9));
        assert!(killed.is_fatal());
        assert_eq!(
            killed.describe(),
            "child process was terminated by signal 9: Killed"
        );
        assert_eq!(
            Outcome::Failed(3).describe(),
            "child process exited with exit code 3"
        );
    }

    #[test]
    fn runs_in_the_given_directory() {
        let d = std::env::temp_dir().join(format!("tusk-cmd-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        assert_eq!(run("touch here", &d), Outcome::Success);
        assert!(d.join("here").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
