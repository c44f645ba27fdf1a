//! Process titles: `ps aux | grep sender` shows a line per walsender, and
//! `ps aux | grep receiver` the walreceiver, as PostgreSQL's do.
//!
//! tusk serves connections on threads, and `ps` lists processes, so each title lives in
//! a tiny *holder* process: the `tusk` binary itself, started with the hidden first
//! argument [`HOLDER_ARG`] (which `main.rs` checks before parsing the command line)
//! followed by a long padding argument. The holder finds its own argument area through
//! `/proc/self/stat` (fields `arg_start` and `arg_end`) and writes each title it reads
//! from its stdin pipe there, NUL-padded, so `/proc/<pid>/cmdline` and `ps` show it.
//! The title is `postgres: ` + (`<cluster_name>: ` if set, see [`set_cluster_name`]) +
//! the caller's text, exactly PostgreSQL's prefix, so operators' greps and monitoring
//! scripts written for PostgreSQL (`postgres: walsender`, `postgres: walreceiver`) work.
//!
//! What it owns: [`ProcTitle`] (the handle: start, [`ProcTitle::set`], end on drop) and
//! [`holder_main`] (the holder's loop). Invariants: the holder never outlives its
//! owner: it exits when the pipe closes (the handle dropped, or the server process gone,
//! which closes every descriptor), and a watcher thread in the holder also exits when
//! its parent process changes (`getppid`). `PR_SET_PDEATHSIG` is not used: it fires
//! when the *thread* that started the child ends, and tusk starts titles from
//! short-lived threads too. What it must never do: fail or slow down the connection it
//! describes. Everything is best effort: a holder that cannot start logs a WARNING and
//! the handle does nothing; a title that cannot be written is dropped.
//!
//! A walsender's title, step by step:
//! 1. the walsender calls `ProcTitle::new("walsender repl 127.0.0.1(53114) idle")`;
//! 2. the handle spawns `tusk --tusk-proctitle-holder <ppid> <padding>` with a piped
//!    stdin and sends the full title as one line;
//! 3. the holder overwrites its argument area with the title: `ps` now shows
//!    `postgres: walsender repl 127.0.0.1(53114) idle`;
//! 4. `set("walsender repl 127.0.0.1(53114) streaming 0/B6F5CC0")` sends another line;
//! 5. dropping the handle closes the pipe; the holder exits and is reaped.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

/// The hidden first argument that makes `tusk` run as a title holder.
pub const HOLDER_ARG: &str = "--tusk-proctitle-holder";

/// Room for the title: the padding argument's length (the title may use the whole
/// argument area, a little more than this).
const PADDING: usize = 256;

static CLUSTER_NAME: RwLock<String> = RwLock::new(String::new());

/// Sets `cluster_name` for the titles started from now on (empty: no cluster part).
pub fn set_cluster_name(name: &str) {
    *CLUSTER_NAME.write().unwrap_or_else(|p| p.into_inner()) = name.to_string();
}

/// The full title for `text`: `postgres: [cluster_name: ]text`.
pub fn full_title(text: &str) -> String {
    let cluster = CLUSTER_NAME.read().unwrap_or_else(|p| p.into_inner());
    let text = text.replace(['\n', '\r'], " ");
    if cluster.is_empty() {
        format!("postgres: {text}")
    } else {
        format!("postgres: {cluster}: {text}")
    }
}

/// A process title shown by `ps` for as long as the handle lives.
pub struct ProcTitle {
    holder: Mutex<Option<(Child, ChildStdin)>>,
}

impl ProcTitle {
    /// Starts a holder process (the running `tusk` binary) showing `title` (without
    /// the `postgres: ` prefix, which is added). Never fails: on error a WARNING is
    /// logged and the handle does nothing.
    pub fn new(title: &str) -> ProcTitle {
        match std::env::current_exe() {
            Ok(exe) => ProcTitle::with_program(&exe, title),
            Err(e) => {
                tracing::warn!("could not start process title holder: {e}");
                ProcTitle {
                    holder: Mutex::new(None),
                }
            }
        }
    }

    /// As [`ProcTitle::new`], running `program` (a `tusk` binary) as the holder.
    pub fn with_program(program: &Path, title: &str) -> ProcTitle {
        let spawned = Command::new(program)
            .arg(HOLDER_ARG)
            .arg(std::process::id().to_string())
            .arg(" ".repeat(PADDING))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let holder = match spawned {
            Ok(mut child) => match child.stdin.take() {
                Some(stdin) => Some((child, stdin)),
                None => {
                    let _ = child.kill();
                    let _ = child.wait();
                    None
                }
            },
            Err(e) => {
                tracing::warn!(
                    "could not start process title holder \"{}\": {e}",
                    program.display()
                );
                None
            }
        };
        let t = ProcTitle {
            holder: Mutex::new(holder),
        };
        t.set(title);
        t
    }

    /// Shows `title` (without the `postgres: ` prefix) from now on.
    pub fn set(&self, title: &str) {
        let mut h = self.holder.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, stdin)) = h.as_mut() {
            let line = format!("{}\n", full_title(title));
            if stdin
                .write_all(line.as_bytes())
                .and_then(|_| stdin.flush())
                .is_err()
            {
                // The holder is gone: stop trying.
                if let Some((mut child, _)) = h.take() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
    }

    /// The holder's process id, if it runs.
    pub fn pid(&self) -> Option<u32> {
        self.holder
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|(c, _)| c.id())
    }
}

impl Drop for ProcTitle {
    fn drop(&mut self) {
        let taken = self
            .holder
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some((mut child, stdin)) = taken {
            // Closing the pipe ends the holder; kill makes sure, wait reaps it.
            drop(stdin);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The argument area of this process, from `/proc/self/stat` (fields 48 and 49).
fn arg_area() -> Option<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces and parentheses).
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state).
    let start: usize = fields.get(48 - 3)?.parse().ok()?;
    let end: usize = fields.get(49 - 3)?.parse().ok()?;
    (end > start).then_some((start, end))
}

/// Writes `title` NUL-padded over the argument area `[start, end)`.
fn write_title(area: (usize, usize), title: &str) {
    let (start, end) = area;
    let len = end - start;
    let bytes = title.as_bytes();
    let n = bytes.len().min(len - 1);
    // SAFETY: `[start, end)` is this process's own argument area, mapped writable on
    // the main thread's stack since exec; Rust's runtime only reads it (for
    // `std::env::args`), which the holder has done before the first write, and no
    // other thread touches it.
    unsafe {
        let p = start as *mut u8;
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, n);
        std::ptr::write_bytes(p.add(n), 0, len - n);
    }
}

/// The holder process: `tusk --tusk-proctitle-holder <parent pid> <padding>`. Shows
/// each line read from stdin as its command line; exits when stdin closes or its
/// parent process is gone.
pub fn holder_main() -> ExitCode {
    let parent: u32 = std::env::args()
        .nth(2)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let Some(area) = arg_area() else {
        return ExitCode::from(1);
    };
    std::thread::spawn(move || loop {
        // SAFETY: getppid has no preconditions.
        let ppid = unsafe { libc::getppid() } as u32;
        if parent != 0 && ppid != parent {
            std::process::exit(0);
        }
        std::thread::sleep(Duration::from_millis(500));
    });
    let stdin = std::io::stdin();
    let mut line = String::new();
    loop {
        line.clear();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => return ExitCode::SUCCESS,
            Ok(_) => write_title(area, line.trim_end_matches('\n')),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_have_postgresql_prefix() {
        assert_eq!(
            full_title("walsender repl 127.0.0.1(53114) streaming 0/B6F5CC0"),
            "postgres: walsender repl 127.0.0.1(53114) streaming 0/B6F5CC0"
        );
        assert_eq!(full_title("a\nb"), "postgres: a b");
    }

    #[test]
    fn arg_area_is_found() {
        let (start, end) = arg_area().expect("arg_start/arg_end in /proc/self/stat");
        assert!(end > start);
    }

    #[test]
    fn a_missing_program_gives_an_inert_handle() {
        let t = ProcTitle::with_program(Path::new("/nonexistent/tusk"), "walsender x");
        assert_eq!(t.pid(), None);
        t.set("still fine");
    }
}
