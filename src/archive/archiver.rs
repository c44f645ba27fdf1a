//! The archiver: copies every file marked `pg_wal/archive_status/<file>.ready` to the
//! operator's archive with `archive_command`, and renames the mark to `.done`, as
//! PostgreSQL's archiver process (`pgarch.c`, `shell_archive.c`) does.
//!
//! What it owns: the archiver thread ([`start`], [`finish_shutdown`], [`wake`]), the
//! order files are archived in ([`ready_files`]: timeline history files first, then
//! oldest name first), the retry rule, its log lines and its `ps` title
//! (`postgres: archiver last was 000000010000000000000003`, `archiver archiving <f>`,
//! `archiver failed on <f>`).
//!
//! The engine owns the rest (`storage::archive_status`): the `.ready` marks of completed
//! segments, the rule that keeps unarchived segments from removal, the wake-ups and
//! `pg_stat_archiver`'s counters, which this thread feeds.
//!
//! PostgreSQL's rules, kept here:
//! - One cycle archives every `.ready` file, in order. A failed command is logged
//!   (`LOG:  archive command failed with exit code N` with `DETAIL:  The failed archive
//!   command was: …`) and retried after one second; after three failures in a row
//!   `WARNING:  archiving write-ahead log file "…" failed too many times, will try again
//!   later` ends the cycle, and the next starts at the next wake-up.
//! - A command killed by a signal, or exiting above 125, is FATAL for the archiver
//!   process: the same lines at FATAL; PostgreSQL's postmaster restarts it, here the
//!   thread pauses a moment and goes on. The server stays up.
//! - The thread wakes when a file becomes ready, on a reload (a new `archive_command`
//!   is used from the next attempt: it is read before each one) and at least every 60 s.
//! - An empty `archive_command` archives nothing and keeps the `.ready` files
//!   (`WARNING:  archive_mode enabled, yet archiving is not configured`, PostgreSQL
//!   15's words).
//! - A `.ready` whose file is gone is an orphan: removed, with a WARNING.
//! - At shutdown, after the shutdown checkpoint, one last cycle runs ([`finish_shutdown`]
//!   waits for it only briefly); an immediate shutdown does not wait at all.
//!
//! Invariants: one archiver at a time per process ([`start`] again while one runs does
//! nothing); a `.ready` becomes `.done` only after the command exited 0.
//!
//! What it must never do: remove or recycle WAL (checkpoints do), decide what is
//! archivable (whoever creates the `.ready` does), or take the server down.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::command::{self, Outcome};
use crate::config::ServerConfig;
use crate::error::{Error, Result};
use crate::proctitle::ProcTitle;
use crate::server::ShutdownMode;
use crate::storage::archive_status::{status_file, ArchiveStatus};
use crate::storage::Engine;

/// Attempts per file and cycle (PostgreSQL's `NUM_ARCHIVE_RETRIES`).
const ATTEMPTS: u32 = 3;
/// The pause between attempts.
const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// The longest sleep between cycles (PostgreSQL's `PGARCH_AUTOWAKE_INTERVAL`).
const AUTOWAKE: Duration = Duration::from_secs(60);
/// The pause before a "restarted" archiver goes on after a FATAL.
const RESTART_PAUSE: Duration = Duration::from_secs(1);

/// The running archiver.
struct Running {
    thread: JoinHandle<()>,
    /// Set to ask for the last cycle.
    last_cycle: Arc<AtomicBool>,
    engine: Arc<Engine>,
}

static ARCHIVER: Mutex<Option<Running>> = Mutex::new(None);

/// Starts the archiver thread for `engine` when archiving is active there (a primary
/// with `archive_mode` `on` or `always`, a standby with `always`); does nothing
/// otherwise, or when an archiver already runs. Safe to call again later (after a
/// promotion, for instance). `config` gives the configuration in force (re-read before
/// each attempt); `shutdown` ends the thread at once on an immediate shutdown.
pub fn start(
    engine: Arc<Engine>,
    config: impl Fn() -> Arc<ServerConfig> + Send + Sync + 'static,
    shutdown: watch::Receiver<ShutdownMode>,
) -> Result<()> {
    if !engine.archive_status().active(engine.in_recovery()) {
        return Ok(());
    }
    let mut slot = ARCHIVER.lock().unwrap_or_else(|p| p.into_inner());
    if slot.as_ref().is_some_and(|r| !r.thread.is_finished()) {
        return Ok(());
    }
    let last_cycle = Arc::new(AtomicBool::new(false));
    let (e, last) = (engine.clone(), last_cycle.clone());
    let thread = std::thread::Builder::new()
        .name("archiver".into())
        .spawn(move || archiver_main(&e, &config, &shutdown, &last))
        .map_err(|e| Error::internal(format!("could not start the archiver thread: {e}")))?;
    *slot = Some(Running {
        thread,
        last_cycle,
        engine,
    });
    Ok(())
}

/// Wakes the archiver (after a reload: a changed `archive_command` is tried at once).
pub fn wake(engine: &Engine) {
    engine.archive_status().wake();
}

/// After the shutdown checkpoint: asks the archiver for one last cycle and waits for it
/// at most `limit` (a slow or hanging command does not hold up the shutdown).
pub fn finish_shutdown(limit: Duration) {
    let running = ARCHIVER.lock().unwrap_or_else(|p| p.into_inner()).take();
    let Some(r) = running else {
        return;
    };
    r.last_cycle.store(true, Ordering::SeqCst);
    r.engine.archive_status().wake();
    let deadline = Instant::now() + limit;
    while !r.thread.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if r.thread.is_finished() {
        let _ = r.thread.join();
    }
}

/// The files marked ready in `wal_dir/archive_status`, in archiving order: timeline
/// history files first, then by name (oldest segment first).
pub fn ready_files(wal_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(wal_dir.join("archive_status")) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_str()?.strip_suffix(".ready")?.to_string();
            (!name.is_empty()).then_some(name)
        })
        .collect();
    out.sort_by(|a, b| {
        let history = |n: &str| !n.ends_with(".history");
        (history(a), a).cmp(&(history(b), b))
    });
    out
}

fn archiver_main(
    engine: &Engine,
    config: &dyn Fn() -> Arc<ServerConfig>,
    shutdown: &watch::Receiver<ShutdownMode>,
    last_cycle: &AtomicBool,
) {
    let status = engine.archive_status().clone();
    let title = ProcTitle::new("archiver");
    let mut seen = status.wakeups();
    loop {
        let last = last_cycle.load(Ordering::SeqCst);
        if *shutdown.borrow() == ShutdownMode::Immediate {
            return;
        }
        let stop = || *shutdown.borrow() == ShutdownMode::Immediate;
        if copy_loop(engine, &status, config, &title, &stop).is_err() {
            // PostgreSQL's archiver exits with FATAL and the postmaster starts a new
            // one; the thread pauses and goes on instead.
            if last {
                return;
            }
            std::thread::sleep(RESTART_PAUSE);
            continue;
        }
        if last {
            return;
        }
        seen = status.wait(seen, AUTOWAKE);
    }
}

/// One cycle: archives every ready file. `Err` is the archiver's FATAL (a command
/// killed by a signal or unable to run).
fn copy_loop(
    engine: &Engine,
    status: &ArchiveStatus,
    config: &dyn Fn() -> Arc<ServerConfig>,
    title: &ProcTitle,
    stop: &dyn Fn() -> bool,
) -> std::result::Result<(), ()> {
    let datadir = engine.datadir();
    let wal_dir = status.wal_dir().to_path_buf();
    for name in ready_files(&wal_dir) {
        let mut failures = 0;
        loop {
            if stop() {
                return Ok(());
            }
            let template = config().get_str("archive_command");
            if template.is_empty() {
                tracing::warn!("archive_mode enabled, yet archiving is not configured");
                return Ok(());
            }
            if !wal_dir.join(&name).exists() {
                // A crash can leave a mark for a file already removed or recycled.
                let ready = status_file(&wal_dir, &name, ".ready");
                if std::fs::remove_file(&ready).is_ok() || !ready.exists() {
                    tracing::warn!(
                        "removed orphan archive status file \"{}\"",
                        Path::new("pg_wal/archive_status")
                            .join(format!("{name}.ready"))
                            .display()
                    );
                }
                break;
            }
            title.set(&format!("archiver archiving {name}"));
            let cmd = command::expand(
                &template,
                Some(&format!("pg_wal/{name}")),
                Some(&name),
                None,
            );
            tracing::debug!("executing archive command \"{cmd}\"");
            let outcome = command::run(&cmd, datadir);
            if outcome.is_success() {
                mark_done(&wal_dir, &name);
                status.report_archived(&name);
                title.set(&format!("archiver last was {name}"));
                break;
            }
            status.report_failed(&name);
            title.set(&format!("archiver failed on {name}"));
            let severity = if outcome.is_fatal() { "FATAL" } else { "LOG" };
            let detail = format!("The failed archive command was: {cmd}");
            crate::logging::log_at(severity, &failure_message(&outcome), Some(&detail), None);
            if outcome.is_fatal() {
                return Err(());
            }
            failures += 1;
            if failures >= ATTEMPTS {
                tracing::warn!(
                    "archiving write-ahead log file \"{name}\" failed too many times, will try again later"
                );
                return Ok(());
            }
            std::thread::sleep(RETRY_PAUSE);
        }
    }
    Ok(())
}

/// PostgreSQL's message for a failed archive command (`shell_archive.c`).
fn failure_message(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Failed(c) | Outcome::FatalExit(c) => {
            format!("archive command failed with exit code {c}")
        }
        Outcome::Signaled(s) => format!(
            "archive command was terminated by signal {s}: {}",
            command::signal_name(*s)
        ),
        Outcome::Success | Outcome::NotStarted(_) => {
            format!("archive command could not be run: {}", outcome.describe())
        }
    }
}

/// Renames `<name>.ready` to `<name>.done` (PostgreSQL's `pgarch_archiveDone`; a
/// failure is only a WARNING: the file is archived again later, which the classic
/// `test ! -f` command refuses harmlessly).
fn mark_done(wal_dir: &Path, name: &str) {
    let ready = status_file(wal_dir, name, ".ready");
    let done = status_file(wal_dir, name, ".done");
    if let Err(e) = std::fs::rename(&ready, &done) {
        tracing::warn!(
            "could not rename file \"{}\" to \"{}\": {e}",
            ready.display(),
            done.display()
        );
        return;
    }
    if let Some(dir) = done.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_files_first_then_oldest() {
        let d = std::env::temp_dir().join(format!("tusk-archiver-{}", std::process::id()));
        let st = d.join("archive_status");
        std::fs::create_dir_all(&st).unwrap();
        for f in [
            "000000020000000000000003.ready",
            "000000010000000000000003.partial.ready",
            "000000010000000000000002.ready",
            "00000002.history.ready",
            "000000010000000000000001.done",
            "000000010000000000000002.00000028.backup.ready",
        ] {
            std::fs::write(st.join(f), b"").unwrap();
        }
        assert_eq!(
            ready_files(&d),
            vec![
                "00000002.history",
                "000000010000000000000002",
                "000000010000000000000002.00000028.backup",
                "000000010000000000000003.partial",
                "000000020000000000000003",
            ]
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn failure_messages_as_postgresql() {
        assert_eq!(
            failure_message(&Outcome::Failed(1)),
            "archive command failed with exit code 1"
        );
        assert_eq!(
            failure_message(&Outcome::FatalExit(127)),
            "archive command failed with exit code 127"
        );
        assert_eq!(
            failure_message(&Outcome::Signaled(9)),
            "archive command was terminated by signal 9: Killed"
        );
    }
}
