//! `tusk standby`: a new streaming standby in one step — what the operator's guide
//! does by hand with `pg_basebackup -Fp -Xs`, `recovery.conf`/`standby.signal`, the
//! copied settings and `pg_ctl start`, then `select * from pg_stat_replication`.
//!
//! Why it lives in `standby/`: it is the client side of replication, next to the other
//! client — the walreceiver — whose connection and authentication code it shares
//! ([`super::client`]) and whose `primary_conninfo` grammar it writes
//! ([`super::conninfo`]). The server side (`replication::basebackup`, the walsender)
//! stays untouched: this command talks to a primary only over the protocol, so it
//! works against tusk and against PostgreSQL 15 alike.
//!
//! Map: [`backup`] takes the base backup (archive + streamed WAL); this file checks
//! the directory, writes the configuration, starts the server through `tusk ctl`'s
//! code, waits for streaming and prints the primary's row.
//!
//! Invariants:
//! - A directory that exists and is not empty is never touched
//!   (`directory "…" exists but is not empty`, exit 1).
//! - A failure before the standby is started removes what this command created (the
//!   directory, or the contents of the empty one it was given), as pg_basebackup does,
//!   unless `--no-clean`; after the start the directory is a working standby and stays.
//! - Every wait is bounded (`-t`, default 60 s).
//!
//! What it must never do: write anything on the primary except the replication slot
//! asked for with `--slot`, or start a standby whose backup is incomplete.
//!
//! `tusk standby -D /s --primary 'host=p user=repl password=x' -p 5433`, step by step:
//! 1. check `/s` (missing or empty), parse the conninfo (`PGPASSWORD` fills a missing
//!    password, as libpq does);
//! 2. connect (replication), create `/s`, [`backup::take`] the backup with WAL
//!    streamed into `/s/pg_wal`;
//! 3. append to `postgresql.auto.conf`: `primary_conninfo` (with `application_name`),
//!    `primary_slot_name`, `hot_standby = on`, the primary's values of the settings a
//!    hot standby must not have lower, `port`, the `-c` settings; create
//!    `standby.signal`;
//! 4. open the connection that reads the primary's `pg_stat_replication` (the same
//!    parameters with database `postgres`, or `--monitor`'s) and note the walsenders
//!    already there under the standby's name;
//! 5. start the server as `tusk ctl start -l /s/log/tusk.log` does, waiting until it
//!    accepts read-only connections;
//! 6. poll until a new row of that name is `streaming` (for a role that may not see
//!    the state: the row is there and the standby's log says it streams), and print it
//!    in psql's expanded layout.
//!
pub mod backup;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cluster::cli::{CtlArgs, CtlCommand, StandbyArgs};
use crate::cluster::ctl::Ctl;
use crate::cluster::pidfile::{process_alive, PidFile};
use crate::error::{sqlstate, Error, Result};
use crate::standby::conninfo::{self, Conninfo};

/// The default wait for the standby to start and to stream, in seconds.
const DEFAULT_TIMEOUT: u64 = 60;

/// Runs `tusk standby`: returns the exit code; the row goes to `out`, messages and
/// errors (`tusk standby: error: …`) to `err`.
pub fn run(args: &StandbyArgs, exe: PathBuf, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut created = None;
    match run_inner(args, exe, out, err, &mut created) {
        Ok(()) => 0,
        Err(e) => {
            print_error(err, &e);
            if let Some((dir, target)) = created {
                clean_up(&dir, target, args.no_clean, err);
            }
            1
        }
    }
}

/// Prints an error as PostgreSQL 15's tools do.
fn print_error(err: &mut dyn Write, e: &Error) {
    let _ = writeln!(err, "tusk standby: error: {}", e.message);
    if let Some(d) = &e.detail {
        let _ = writeln!(err, "tusk standby: detail: {d}");
    }
    if let Some(h) = &e.hint {
        let _ = writeln!(err, "tusk standby: hint: {h}");
    }
}

/// What state the target directory was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// It did not exist: on failure it is removed.
    Missing,
    /// It existed and was empty: on failure its contents are removed.
    Empty,
}

/// pg_basebackup's check: the directory must not exist, or be empty.
fn check_target(dir: &Path) -> Result<Target> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                Err(Error::new(
                    sqlstate::DUPLICATE_FILE,
                    format!("directory \"{}\" exists but is not empty", dir.display()),
                ))
            } else {
                Ok(Target::Empty)
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Target::Missing),
        Err(e) => Err(Error::io(
            format!("could not access directory \"{}\"", dir.display()),
            e,
        )),
    }
}

/// Removes what a failed run created, saying so as pg_basebackup does.
fn clean_up(dir: &Path, target: Target, no_clean: bool, err: &mut dyn Write) {
    if no_clean {
        let _ = writeln!(
            err,
            "tusk standby: data directory \"{}\" not removed at user's request",
            dir.display()
        );
        return;
    }
    match target {
        Target::Missing => {
            let _ = writeln!(
                err,
                "tusk standby: removing data directory \"{}\"",
                dir.display()
            );
            if let Err(e) = std::fs::remove_dir_all(dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    let _ = writeln!(
                        err,
                        "tusk standby: error: failed to remove data directory: {e}"
                    );
                }
            }
        }
        Target::Empty => {
            let _ = writeln!(
                err,
                "tusk standby: removing contents of data directory \"{}\"",
                dir.display()
            );
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    let p = e.path();
                    let r = if p.is_dir() && !p.is_symlink() {
                        std::fs::remove_dir_all(&p)
                    } else {
                        std::fs::remove_file(&p)
                    };
                    if let Err(e) = r {
                        let _ = writeln!(
                            err,
                            "tusk standby: error: failed to remove contents of data directory: {e}"
                        );
                    }
                }
            }
        }
    }
}

/// Quotes a connection-string value (libpq's rules: `'…'` with `\` escapes).
fn conninfo_value(v: &str) -> String {
    if !v.is_empty()
        && v.chars()
            .all(|c| !c.is_whitespace() && c != '\'' && c != '\\')
    {
        return v.to_string();
    }
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Quotes a configuration-file string value (`'…'` with `''` and `\\`).
fn conf_value(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "''"))
}

/// The `primary_conninfo` the standby uses: the parameters of the connection that
/// took the backup, with `application_name`.
pub fn primary_conninfo(c: &Conninfo, application_name: &str) -> String {
    let mut parts = vec![
        format!("user={}", conninfo_value(&c.user)),
        format!("host={}", conninfo_value(&c.host)),
        format!("port={}", c.port),
    ];
    if let Some(p) = &c.password {
        parts.push(format!("password={}", conninfo_value(p)));
    }
    if let Some(p) = &c.passfile {
        parts.push(format!("passfile={}", conninfo_value(p)));
    }
    if let Some(t) = c.connect_timeout {
        parts.push(format!("connect_timeout={}", t.as_secs()));
    }
    parts.push(format!("sslmode={}", conninfo_value(&c.sslmode)));
    parts.push(format!(
        "application_name={}",
        conninfo_value(application_name)
    ));
    parts.join(" ")
}

/// The lines appended to the standby's `postgresql.auto.conf`.
pub fn standby_settings(
    conninfo: &str,
    slot: Option<&str>,
    primary: &[(String, String)],
    port: Option<u16>,
    extra: &[(String, String)],
) -> String {
    let mut s = String::from("# Written by tusk standby: this server streams from its primary.\n");
    s.push_str(&format!("primary_conninfo = {}\n", conf_value(conninfo)));
    if let Some(slot) = slot {
        s.push_str(&format!("primary_slot_name = {}\n", conf_value(slot)));
    }
    s.push_str("hot_standby = on\n");
    s.push_str("# The primary's values: a hot standby must not have lower ones.\n");
    for (n, v) in primary {
        s.push_str(&format!("{n} = {}\n", conf_value(v)));
    }
    if let Some(p) = port {
        s.push_str(&format!("port = {p}\n"));
    }
    for (n, v) in extra {
        s.push_str(&format!("{n} = {}\n", conf_value(v)));
    }
    s
}

fn write_config(dir: &Path, text: &str) -> Result<()> {
    let auto = dir.join("postgresql.auto.conf");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&auto)
        .map_err(|e| Error::io(format!("could not open file \"{}\"", auto.display()), e))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(format!("could not write to file \"{}\"", auto.display()), e))?;
    let signal = dir.join("standby.signal");
    std::fs::File::create(&signal)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(format!("could not create file \"{}\"", signal.display()), e))?;
    Ok(())
}

/// The work of [`run`]; `created` names the directory to clean up while a failure
/// would leave a half-made standby (from its creation until the configuration is
/// written).
fn run_inner(
    args: &StandbyArgs,
    exe: PathBuf,
    out: &mut dyn Write,
    err: &mut dyn Write,
    created: &mut Option<(PathBuf, Target)>,
) -> Result<()> {
    // 1. The directory and the primary's parameters.
    let dir = PathBuf::from(args.datadir.as_deref().unwrap_or_default());
    let target = check_target(&dir)?;
    let mut c = conninfo::parse(args.primary.as_deref().unwrap_or_default())?;
    if c.password.is_none() {
        c.password = std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty());
    }
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    let app = match &args.application_name {
        Some(a) => a.clone(),
        None => dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "walreceiver".into()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("could not start the runtime", e))?;

    // 2. The base backup. The connection is tried before the directory is created, so
    // that a refused connection leaves nothing behind.
    let cl = runtime.block_on(backup::connect_replication(&c, "tusk standby"))?;
    if target == Target::Missing {
        std::fs::create_dir_all(&dir).map_err(|e| {
            Error::io(
                format!("could not create directory \"{}\"", dir.display()),
                e,
            )
        })?;
    }
    *created = Some((dir.clone(), target));
    let taken = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            Error::io(
                format!(
                    "could not change permissions of directory \"{}\"",
                    dir.display()
                ),
                e,
            )
        })?;
        let req = backup::BackupRequest {
            conninfo: &c,
            dir: &dir,
            slot: args.slot.as_deref(),
            progress: args.progress,
        };
        let result = runtime.block_on(backup::take(cl, &req, err))?;
        // 3. The standby's configuration.
        let settings = standby_settings(
            &primary_conninfo(&c, &app),
            args.slot.as_deref(),
            &result.settings,
            args.port,
            &args.settings,
        );
        write_config(&dir, &settings)?;
        std::fs::create_dir_all(dir.join("log")).map_err(|e| {
            Error::io(
                format!(
                    "could not create directory \"{}\"",
                    dir.join("log").display()
                ),
                e,
            )
        })?;
        if args.progress {
            let _ = writeln!(err, "tusk standby: syncing data to disk ...");
        }
        // SAFETY: sync(2) has no preconditions.
        unsafe { libc::sync() };
        result
    };
    *created = None;
    let _ = writeln!(
        err,
        "tusk standby: base backup completed (WAL {} to {} on timeline {})",
        taken.start, taken.end, taken.timeline
    );
    if args.no_start {
        let _ = writeln!(
            err,
            "tusk standby: standby written to \"{}\"; start it with: tusk ctl start -D {}",
            dir.display(),
            dir.display()
        );
        return Ok(());
    }

    // 4. The connection that will read the primary's pg_stat_replication, opened
    // before the start so that a refused one leaves the standby unstarted; walsenders
    // already there under the same name are not this standby's.
    let monitor = match &args.monitor {
        Some(m) => {
            let mut m = conninfo::parse(m)?;
            if m.password.is_none() {
                m.password = std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty());
            }
            m
        }
        None => c.clone(),
    };
    let mut watch = runtime
        .block_on(Watch::open(&monitor, &app))
        .map_err(|e| {
            e.with_hint(format!(
                "The standby was written but not started (start it with: tusk ctl start -D {}). Let user \"{}\" connect to database \"postgres\" on the primary, or name another connection with --monitor.",
                dir.display(),
                monitor.user
            ))
        })?;

    // 5. Start it as `tusk ctl start` does.
    let timeout = args.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let log = args
        .log_file
        .as_ref()
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("log").join("tusk.log"));
    let ctl_args = CtlArgs {
        command: Some(CtlCommand::Start),
        log_file: Some(log.display().to_string()),
        timeout: Some(timeout),
        ..CtlArgs::default()
    };
    let Some(ctl) = Ctl::from_args(&ctl_args, dir.clone(), exe) else {
        return Err(Error::internal("no ctl operation"));
    };
    let mut ctl_out = Vec::new();
    let code = ctl.run(&mut ctl_out, err);
    let _ = err.write_all(&ctl_out);
    if code != 0 {
        return Err(Error::new(
            sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
            "the standby did not start",
        )
        .with_hint(format!("Examine the log output in \"{}\".", log.display())));
    }

    // 6. Wait until the primary sees it streaming, and show its row.
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let (names, row) = runtime.block_on(watch.wait_streaming(&dir, deadline, &log))?;
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let vwidth = row
        .iter()
        .map(|v| v.as_deref().unwrap_or("").chars().count())
        .max()
        .unwrap_or(0);
    let head = "-[ RECORD 1 ]";
    let _ = writeln!(
        out,
        "{head}{}+{}",
        "-".repeat((width + 1).saturating_sub(head.len())),
        "-".repeat(vwidth + 1)
    );
    for (n, v) in names.iter().zip(&row) {
        let _ = writeln!(out, "{n:<width$} | {}", v.as_deref().unwrap_or(""));
    }
    let state = names.iter().position(|n| n == "state");
    if state.is_some_and(|i| row.get(i).is_some_and(Option::is_none)) {
        let _ = writeln!(
            err,
            "tusk standby: note: only superusers see a walsender's state and positions; the standby's log says it streams (use --monitor to read the row as another role)"
        );
    }
    Ok(())
}

/// Whether the standby's log says its walreceiver streams (PostgreSQL's
/// `started streaming WAL from primary at …`).
fn log_says_streaming(log: &Path) -> bool {
    std::fs::read_to_string(log)
        .map(|t| t.contains("started streaming WAL from primary at"))
        .unwrap_or(false)
}

/// A connection to the primary reading `pg_stat_replication` for one application name.
struct Watch {
    cl: crate::standby::client::Client,
    sql: String,
    app: String,
    /// The pids of walsenders with that name before the standby started.
    before: Vec<Option<String>>,
}

impl Watch {
    /// Connects (database `postgres`) and notes the walsenders already named `app`.
    async fn open(c: &Conninfo, app: &str) -> Result<Watch> {
        let cl = backup::connect_sql(c, "tusk standby").await.map_err(|e| {
            Error::new(
                e.code,
                format!(
                    "could not connect to the primary to check the standby: {}",
                    e.message
                ),
            )
        })?;
        let mut w = Watch {
            cl,
            sql: format!(
                "SELECT * FROM pg_stat_replication WHERE application_name = {}",
                conf_value(app)
            ),
            app: app.to_string(),
            before: Vec::new(),
        };
        let (names, rows) = w.rows().await?;
        let pid = names.iter().position(|n| n == "pid");
        w.before = rows
            .iter()
            .map(|r| pid.and_then(|i| r.get(i).cloned().flatten()))
            .collect();
        Ok(w)
    }

    async fn rows(&mut self) -> Result<(Vec<String>, Vec<Vec<Option<String>>>)> {
        backup::query_rows(
            &mut self.cl,
            &self.sql,
            "could not query pg_stat_replication",
        )
        .await
    }

    /// Polls until a new walsender row of the application name says `streaming` with
    /// a reported position. A role that is not superuser sees only the first columns
    /// of a walsender's row (as in PostgreSQL); then the row's presence and the
    /// standby's log line together mean streaming.
    async fn wait_streaming(
        &mut self,
        dir: &Path,
        deadline: Instant,
        log: &Path,
    ) -> Result<(Vec<String>, Vec<Option<String>>)> {
        loop {
            let (names, rows) = self.rows().await?;
            let col = |n: &str| names.iter().position(|c| c == n);
            let (pid, state, flush) = (col("pid"), col("state"), col("flush_lsn"));
            for r in rows {
                if self
                    .before
                    .contains(&pid.and_then(|i| r.get(i).cloned().flatten()))
                {
                    continue;
                }
                let st = state.and_then(|i| r.get(i).cloned().flatten());
                // Streaming, and the standby has reported a position at least once.
                let reported = flush.is_none_or(|i| r.get(i).is_some_and(Option::is_some));
                let streaming = match st.as_deref() {
                    Some(s) => s == "streaming" && reported,
                    None => log_says_streaming(log),
                };
                if streaming {
                    let _ = self.cl.send(Some(b'X'), &[]).await;
                    return Ok((names, r));
                }
            }
            let alive = matches!(PidFile::read(dir), Ok(Some(p)) if process_alive(p.pid));
            if !alive {
                return Err(Error::new(
                    sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "the standby stopped before it streamed",
                )
                .with_hint(format!("Examine the log output in \"{}\".", log.display())));
            }
            if Instant::now() >= deadline {
                return Err(Error::new(
                    sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    format!(
                        "the standby did not stream from the primary within the timeout (application_name \"{}\")",
                        self.app
                    ),
                )
                .with_hint(format!(
                    "The standby is running; examine the log output in \"{}\".",
                    log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conninfo_written_for_the_standby_parses_back() {
        let c =
            conninfo::parse("host=10.0.0.1 port=5433 user=repl password='it\\'s \\\\x'").unwrap();
        assert_eq!(c.password.as_deref(), Some("it's \\x"));
        let s = primary_conninfo(&c, "s 1");
        let back = conninfo::parse(&s).unwrap();
        assert_eq!(back.host, "10.0.0.1");
        assert_eq!(back.port, 5433);
        assert_eq!(back.user, "repl");
        assert_eq!(back.password, c.password);
        assert_eq!(back.application_name.as_deref(), Some("s 1"));
    }

    #[test]
    fn settings_text() {
        let t = standby_settings(
            "host=h user=repl password='a\\'b'",
            Some("slot1"),
            &[("max_connections".into(), "1000".into())],
            Some(5433),
            &[("work_mem".into(), "8MB".into())],
        );
        assert_eq!(
            t,
            "# Written by tusk standby: this server streams from its primary.\n\
             primary_conninfo = 'host=h user=repl password=''a\\\\''b'''\n\
             primary_slot_name = 'slot1'\n\
             hot_standby = on\n\
             # The primary's values: a hot standby must not have lower ones.\n\
             max_connections = '1000'\n\
             port = 5433\n\
             work_mem = '8MB'\n"
        );
    }

    #[test]
    fn target_directory_rules() {
        let base = std::env::temp_dir().join(format!("tusk-standby-target-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        assert_eq!(check_target(&base).unwrap(), Target::Missing);
        std::fs::create_dir_all(&base).unwrap();
        assert_eq!(check_target(&base).unwrap(), Target::Empty);
        std::fs::write(base.join("f"), b"x").unwrap();
        assert_eq!(
            check_target(&base).unwrap_err().message,
            format!("directory \"{}\" exists but is not empty", base.display())
        );
        let mut sink = Vec::new();
        clean_up(&base, Target::Empty, false, &mut sink);
        assert!(base.is_dir() && std::fs::read_dir(&base).unwrap().next().is_none());
        clean_up(&base, Target::Missing, false, &mut sink);
        assert!(!base.exists());
    }
}
