//! The data directory as a whole: creating it, locking it, and controlling the server
//! that runs on it. This is the code behind `tusk init` and `tusk ctl`, and the part of
//! `tusk run` that happens before the server proper starts.
//!
//! Map of the files:
//! - [`cli`]: the command line of `tusk init`, `tusk run` and `tusk ctl`, parsed by
//!   hand the way `initdb`, `postgres` and `pg_ctl` parse theirs (pure; tested here so
//!   `src/main.rs` stays thin).
//! - [`datadir`]: where the data directory is (`-D`, `$PGDATA`, `./data`) and whether it
//!   is one a server may start on (PostgreSQL's checks and FATAL texts).
//! - [`init`]: `tusk init`, like `initdb`: directories, configuration files from the
//!   templates in `conf/` (compiled in), then the storage bootstrap.
//! - [`pidfile`]: `postmaster.pid` and the socket lock files, in PostgreSQL's layout.
//! - [`ctl`]: `tusk ctl`, like `pg_ctl`: start, stop, restart, reload, status, promote,
//!   with pg_ctl's messages and exit codes, talking to the server only through
//!   `postmaster.pid`, `postmaster.opts`, signals and the `promote` file.
//!
//! Invariants: nothing here ever touches a data directory another live server holds
//! (see [`pidfile`]); `tusk init` never writes into a non-empty directory, and removes
//! what it created when it fails.
//!
//! What this module must never do: open sockets for clients, or read storage files
//! beyond `PG_VERSION` (storage owns everything under `global/`, `base/`, `pg_wal/`).
//!
//! One `tusk run` on a fresh machine, step by step:
//! 1. [`cli::parse_run`] turns `-D`, `-p`, `-c name=value`, `--name=value` into a data
//!    directory and a list of setting overrides.
//! 2. [`datadir::resolve`] picks the directory; it does not exist, so [`init::init`]
//!    creates it, announcing so on stderr.
//! 3. [`datadir::check`] validates it the way the postmaster does.
//! 4. [`pidfile::PidFile::acquire`] locks it; `postmaster.opts` records the command line
//!    for `tusk ctl restart` ([`ctl::write_opts_file`]).
//! 5. The server takes over with the pid file; it reports `ready` through it, which is
//!    what `tusk ctl start` waits for.

pub mod cli;
pub mod ctl;
pub mod datadir;
pub mod init;
pub mod pidfile;

/// The PostgreSQL major version tusk speaks, as written to `PG_VERSION`.
pub const PG_MAJOR_VERSION: &str = "15";

/// The version line printed by `--version` (PostgreSQL's shape, tusk's own version).
pub fn version_line(program: &str) -> String {
    format!(
        "{program} (PostgreSQL) 15.0 (tusk {})",
        env!("CARGO_PKG_VERSION")
    )
}
