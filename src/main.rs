//! The `tusk` binary: `tusk init` (like initdb), `tusk run` (like postgres) and
//! `tusk ctl` (like pg_ctl), `tusk waldump` (like pg_waldump) and `tusk standby` (a
//! standby in one command). This file only dispatches; the work is in
//! `tusk::cluster` (parsing, init, pid file, ctl), `tusk::logging` and `tusk::server`.
//!
//! Exit codes: 0 on success, 1 on failure (and a usage error), and `tusk ctl status`'s
//! 3 and 4 as pg_ctl's. Errors print as PostgreSQL's tools print them:
//! `tusk: error: ...` / `tusk: hint: ...` for init and usage, `pg_ctl: ...` for ctl, and
//! log lines (`... FATAL:  ...`) once `tusk run` has set up logging.
//!
//! `tusk run` on a fresh machine, step by step:
//! 1. Parse the options into a data directory and setting overrides.
//! 2. Resolve the directory (`-D`, `$PGDATA`, `./data`); if it is missing or empty,
//!    initialize it with the defaults, saying so on stderr.
//! 3. Start logging, warn when running as root, check the directory.
//! 4. Acquire `postmaster.pid` and record the command line in `postmaster.opts`.
//! 5. Hand over to the server; its exit code is ours.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tusk::cluster::cli::{self, Command, CtlArgs, InitArgs, RunArgs};
use tusk::cluster::{ctl, datadir, init, pidfile::PidFile, version_line};
use tusk::error::Error;
use tusk::logging;

/// jemalloc instead of glibc's malloc: tusk keeps every row in memory and allocates per
/// row and per message; under glibc the COPY of `pgbench -i` spent a third of its time
/// in malloc's free-list consolidation (bench/README.md has the profiles).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read once at its start (`_RJEM_MALLOC_CONF` in the environment
/// still overrides them). Every backend is a thread, and jemalloc's default per-thread
/// cache keeps up to 200 freed blocks of each small size for reuse: about 95 kB per
/// connection at rest, over half of an idle connection's memory. Caches of 2–8 blocks per
/// size keep the allocation fast path (instructions per select-only transaction +0.6 %;
/// with no thread cache at all they double) and leave an idle connection 100 kB in all,
/// thread stack included (bench/README.md, memory per idle connection).
#[export_name = "_rjem_malloc_conf"]
static JEMALLOC_CONF: &[u8; 74] =
    b"tcache_nslots_small_min:2,tcache_nslots_small_max:8,tcache_nslots_large:1\0";

/// Returns the calling thread's cached blocks to jemalloc's arenas: what an idle
/// backend thread gives back (tusk::server::idle_trim).
fn flush_thread_cache() {
    // SAFETY: "thread.tcache.flush" takes no input and gives no output; jemalloc is the
    // global allocator, so the thread's cache is jemalloc's own.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            c"thread.tcache.flush".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
}

fn main() -> ExitCode {
    tusk::server::idle_trim::set_allocator_flush(flush_thread_cache);
    // A process-title holder (see tusk::proctitle), before any command-line parsing.
    if std::env::args_os().nth(1).as_deref()
        == Some(std::ffi::OsStr::new(tusk::proctitle::HOLDER_ARG))
    {
        return tusk::proctitle::holder_main();
    }
    let args: Vec<String> = std::env::args().collect();
    let rest = args.get(1..).unwrap_or(&[]);
    match cli::parse(rest) {
        Err(e) => {
            match rest.first().map(String::as_str) {
                Some("waldump") => print_waldump_error(&e.message, e.hint.as_deref()),
                first => print_usage_error(&e, first == Some("ctl")),
            }
            ExitCode::from(1)
        }
        Ok(Command::Version) => {
            println!("{}", version_line("tusk"));
            ExitCode::SUCCESS
        }
        Ok(Command::Help) => {
            print!("{}", cli::HELP);
            ExitCode::SUCCESS
        }
        Ok(Command::Init(a)) => cmd_init(&a),
        Ok(Command::Run(a)) => cmd_run(&a),
        Ok(Command::Ctl(a)) => cmd_ctl(&a),
        Ok(Command::Waldump(o)) => cmd_waldump(o.as_ref()),
        Ok(Command::Standby(a)) => cmd_standby(&a),
    }
}

/// Prints a command-line error: pg_ctl's style for ctl, initdb's otherwise.
fn print_usage_error(e: &Error, is_ctl: bool) {
    if is_ctl {
        eprintln!("pg_ctl: {}", e.message);
        if let Some(h) = &e.hint {
            eprintln!("{h}");
        }
    } else {
        print_tool_error(e);
    }
}

/// Prints `tusk: error: MESSAGE` and `tusk: detail/hint: ...` as PostgreSQL 15's tools do.
fn print_tool_error(e: &Error) {
    eprintln!("tusk: error: {}", e.message);
    if let Some(d) = &e.detail {
        eprintln!("tusk: detail: {d}");
    }
    if let Some(h) = &e.hint {
        eprintln!("tusk: hint: {h}");
    }
}

/// Prints an error of `tusk waldump` as `pg_waldump` prints its own.
fn print_waldump_error(message: &str, hint: Option<&str>) {
    eprintln!("tusk waldump: error: {message}");
    if let Some(h) = hint {
        eprintln!("tusk waldump: hint: {h}");
    }
}

/// `tusk waldump` (like pg_waldump).
fn cmd_waldump(o: Option<&tusk::storage::wal::dump::DumpOptions>) -> ExitCode {
    let Some(o) = o else {
        print!("{}", cli::WALDUMP_HELP);
        return ExitCode::SUCCESS;
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = tusk::storage::wal::dump::run(o, &mut out);
    drop(out);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            print_waldump_error(&e.message, e.hint.as_deref());
            ExitCode::from(1)
        }
    }
}

/// `tusk standby` (a base backup, the standby configuration, the start).
fn cmd_standby(a: &cli::StandbyArgs) -> ExitCode {
    if a.help {
        print!("{}", cli::STANDBY_HELP);
        return ExitCode::SUCCESS;
    }
    if a.version {
        println!("{}", version_line("tusk standby"));
        return ExitCode::SUCCESS;
    }
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("tusk"));
    let code =
        tusk::standby::bootstrap::run(a, exe, &mut std::io::stdout(), &mut std::io::stderr());
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// `tusk init`.
fn cmd_init(a: &InitArgs) -> ExitCode {
    if a.help {
        print!("{}", cli::INIT_HELP);
        return ExitCode::SUCCESS;
    }
    if a.version {
        println!("{}", version_line("tusk init"));
        return ExitCode::SUCCESS;
    }
    let dir = datadir::resolve(a.datadir.as_deref());
    let opts = match init::InitOptions::from_args(a, dir) {
        Ok(o) => o,
        Err(e) => {
            print_tool_error(&e);
            return ExitCode::from(1);
        }
    };
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    match init::init(&opts, &mut out, &mut err, "tusk") {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = out.flush();
            print_tool_error(&e);
            ExitCode::from(1)
        }
    }
}

/// `tusk ctl`.
fn cmd_ctl(a: &CtlArgs) -> ExitCode {
    if a.help {
        print!("{}", cli::CTL_HELP);
        return ExitCode::SUCCESS;
    }
    if a.version {
        println!("{}", version_line("tusk ctl"));
        return ExitCode::SUCCESS;
    }
    let dir = datadir::resolve(a.datadir.as_deref());
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("tusk"));
    let Some(c) = ctl::Ctl::from_args(a, dir, exe) else {
        eprintln!("pg_ctl: no operation specified");
        return ExitCode::from(1);
    };
    let code = c.run(&mut std::io::stdout(), &mut std::io::stderr());
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// `tusk run`.
fn cmd_run(a: &RunArgs) -> ExitCode {
    if a.help {
        print!("{}", cli::RUN_HELP);
        return ExitCode::SUCCESS;
    }
    if a.version {
        println!("{}", version_line("tusk"));
        return ExitCode::SUCCESS;
    }
    let dir = datadir::resolve(a.datadir.as_deref());
    if datadir::needs_init(&dir) {
        eprintln!(
            "tusk: data directory \"{}\" is missing or empty; initializing it",
            dir.display()
        );
        let opts = init::InitOptions::new(&dir);
        let mut err = std::io::stderr();
        if let Err(e) = init::init(&opts, &mut std::io::stderr(), &mut err, "tusk") {
            print_tool_error(&e);
            return ExitCode::from(1);
        }
    }

    logging::init(logging::DEFAULT_LINE_PREFIX);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 && !tusk::server::reinitialized() {
        tracing::warn!(
            hint = "PostgreSQL refuses to run as root; tusk allows it (containers, CI) but an unprivileged user is safer.",
            "running tusk as root is not recommended"
        );
    }
    if let Err(e) = datadir::check(&dir) {
        logging::log_error(&e);
        return ExitCode::from(1);
    }
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    let pidfile = match PidFile::acquire(&dir) {
        Ok(p) => p,
        Err(e) => {
            logging::log_error(&e);
            return ExitCode::from(1);
        }
    };
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("tusk"));
    if let Err(e) = ctl::write_opts_file(&dir, &exe, &opts_args(&dir, &a.overrides)) {
        logging::log_error(&e.with_severity(tusk::error::Severity::Fatal));
        pidfile.remove();
        return ExitCode::from(1);
    }
    serve(dir, a.overrides.clone(), pidfile)
}

/// The arguments `postmaster.opts` records: `run -D ABSDIR` and each override as `-c`,
/// so that `tusk ctl restart` works from any working directory.
fn opts_args(dir: &Path, overrides: &[(String, String)]) -> Vec<String> {
    let mut v = vec![
        "run".to_string(),
        "-D".to_string(),
        dir.display().to_string(),
    ];
    for (n, val) in overrides {
        v.push("-c".to_string());
        v.push(format!("{n}={val}"));
    }
    v
}

/// Runs the server on the locked data directory and returns its exit code.
fn serve(datadir: PathBuf, overrides: Vec<(String, String)>, pidfile: PidFile) -> ExitCode {
    tusk::server::run(tusk::server::RunOptions {
        datadir,
        overrides,
        pidfile,
    })
}
