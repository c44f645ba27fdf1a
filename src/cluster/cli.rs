//! The command line of the one `tusk` binary, parsed by hand.
//!
//! Five commands, each taking the options of the PostgreSQL program it stands in for:
//! `tusk init` (initdb), `tusk run` (postgres), `tusk ctl` (pg_ctl), `tusk waldump`
//! (pg_waldump), and `tusk standby`, which no single PostgreSQL program does (a base
//! backup, the standby's configuration and its start in one step). Options may be
//! written the getopt way: `-D DIR`, `-DDIR`, `--pgdata=DIR`, `--pgdata DIR`, and flags
//! may be bundled (`-ws`). Parsing is pure: it never reads files or the environment,
//! so every rule here is unit-tested; `src/main.rs` only dispatches.
//!
//! Invariants: a parse either yields a complete command or an [`Error`] whose message is
//! what the PostgreSQL tool would print and whose hint is the "Try ... --help" line.
//!
//! One parse, step by step (`tusk run -p 5433 -c wal_level=replica --hot-standby=on`):
//! 1. [`parse`] sees `run` and hands the rest to [`parse_run`].
//! 2. `-p 5433` becomes the override `("port", "5433")`.
//! 3. `-c wal_level=replica` becomes `("wal_level", "replica")`.
//! 4. `--hot-standby=on` becomes `("hot_standby", "on")` (dashes to underscores, as
//!    PostgreSQL does).
//! 5. The result is [`Command::Run`] with no `-D`, so the caller resolves the directory.

use crate::error::{sqlstate, Error, Result};

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `tusk init ...`.
    Init(InitArgs),
    /// `tusk run ...`.
    Run(RunArgs),
    /// `tusk ctl ...`.
    Ctl(CtlArgs),
    /// `tusk waldump ...` (like pg_waldump); `None` for its `--help`.
    Waldump(Option<crate::storage::wal::dump::DumpOptions>),
    /// `tusk standby ...`: a new standby in one step.
    Standby(StandbyArgs),
    /// `tusk --version` (or `-V`).
    Version,
    /// `tusk --help` (or `-?`, or `help`).
    Help,
}

/// The options of `tusk init`, as given (validated further by `init::InitOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitArgs {
    /// `-D DIR` / `--pgdata=DIR` / a positional directory.
    pub datadir: Option<String>,
    /// `-U NAME` / `--username=NAME`: the superuser's name.
    pub superuser: Option<String>,
    /// `--pwfile=FILE`: the superuser's password is the first line of FILE.
    pub pwfile: Option<String>,
    /// `-A METHOD` / `--auth=METHOD`: the method for local and host lines.
    pub auth: Option<String>,
    /// `--auth-local=METHOD`.
    pub auth_local: Option<String>,
    /// `--auth-host=METHOD`.
    pub auth_host: Option<String>,
    /// `--wal-segsize=MB`, already checked to be a power of 2 in 1..=1024.
    pub wal_segsize_mb: Option<u32>,
    /// `-N` / `--no-sync`: do not fsync the new files.
    pub no_sync: bool,
    /// `--help` was given.
    pub help: bool,
    /// `--version` was given.
    pub version: bool,
}

/// The options of `tusk run`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunArgs {
    /// `-D DIR`, if given.
    pub datadir: Option<String>,
    /// Setting overrides in command-line order (`-c`, `--name=value`, `-p`, `-k`, ...).
    pub overrides: Vec<(String, String)>,
    /// `--help` was given.
    pub help: bool,
    /// `--version` was given.
    pub version: bool,
}

/// The options of `tusk standby` (checked further by `standby::bootstrap`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StandbyArgs {
    /// `-D DIR` / `--pgdata=DIR`: the new standby's data directory.
    pub datadir: Option<String>,
    /// `--primary=CONNSTR` (or `-d`, pg_basebackup's name): how to reach the primary.
    pub primary: Option<String>,
    /// `-S NAME` / `--slot=NAME`: the physical slot the standby streams through
    /// (created on the primary if missing).
    pub slot: Option<String>,
    /// `--application-name=NAME`: the name the primary shows for the standby.
    pub application_name: Option<String>,
    /// `-p PORT` / `--port=PORT`: the standby's port.
    pub port: Option<u16>,
    /// `--monitor=CONNSTR`: how to read the primary's `pg_stat_replication` (default:
    /// the `--primary` parameters, database `postgres`).
    pub monitor: Option<String>,
    /// `--no-start`: write the standby but do not start it.
    pub no_start: bool,
    /// `-c NAME=VALUE`: extra settings for the standby, in order.
    pub settings: Vec<(String, String)>,
    /// `-l FILE` / `--log=FILE`: the standby's server log (default `DIR/log/tusk.log`).
    pub log_file: Option<String>,
    /// `-t SECS` / `--timeout=SECS`: how long to wait for streaming (default 60).
    pub timeout: Option<u64>,
    /// `-P` / `--progress`: progress lines on stderr, as pg_basebackup's.
    pub progress: bool,
    /// `-n` / `--no-clean`: keep what was written when the backup fails.
    pub no_clean: bool,
    /// `--help` was given.
    pub help: bool,
    /// `--version` was given.
    pub version: bool,
}

/// The operations of `tusk ctl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtlCommand {
    /// Start the server in the background.
    Start,
    /// Stop the running server.
    Stop,
    /// Stop the server if it runs, then start it with its remembered options.
    Restart,
    /// Make the server re-read its configuration files (SIGHUP).
    Reload,
    /// Tell whether a server runs on the directory.
    Status,
    /// End a standby's recovery and make it a primary.
    Promote,
}

/// How `tusk ctl stop` asks the server to shut down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShutdownMode {
    /// Wait for clients to disconnect (SIGTERM).
    Smart,
    /// Disconnect clients, shut down cleanly (SIGINT); the default.
    #[default]
    Fast,
    /// Quit at once; the next start recovers (SIGQUIT).
    Immediate,
}

impl ShutdownMode {
    /// The signal PostgreSQL's postmaster understands for this mode.
    pub fn signal(self) -> i32 {
        match self {
            ShutdownMode::Smart => libc::SIGTERM,
            ShutdownMode::Fast => libc::SIGINT,
            ShutdownMode::Immediate => libc::SIGQUIT,
        }
    }
}

/// The options of `tusk ctl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtlArgs {
    /// The operation; `None` only together with `help` or `version`.
    pub command: Option<CtlCommand>,
    /// `-D DIR`, if given.
    pub datadir: Option<String>,
    /// `-l FILE`: append the server's output to FILE.
    pub log_file: Option<String>,
    /// `-m MODE`.
    pub mode: ShutdownMode,
    /// `-w` (the default) or `-W`.
    pub wait: bool,
    /// `-t SECS`, if given.
    pub timeout: Option<u64>,
    /// `-o OPTS`: options for `tusk run`, split by the shell.
    pub options: Option<String>,
    /// `-p PATH`: the tusk executable to start (default: this one).
    pub exe: Option<String>,
    /// `-s`: print only errors.
    pub silent: bool,
    /// `--help` was given.
    pub help: bool,
    /// `--version` was given.
    pub version: bool,
}

impl Default for CtlArgs {
    fn default() -> CtlArgs {
        CtlArgs {
            command: None,
            datadir: None,
            log_file: None,
            mode: ShutdownMode::Fast,
            wait: true,
            timeout: None,
            options: None,
            exe: None,
            silent: false,
            help: false,
            version: false,
        }
    }
}

/// Usage of the whole binary.
pub const HELP: &str = "\
tusk is a PostgreSQL-compatible database server.

Usage:
  tusk init [OPTION]... [DATADIR]   create a new database cluster (like initdb)
  tusk run  [OPTION]...             run the server in the foreground (like postgres)
  tusk ctl  OPERATION [OPTION]...   start, stop or control the server (like pg_ctl)
  tusk waldump [OPTION]... [STARTSEG [ENDSEG]]
                                    print WAL records readably (like pg_waldump)
  tusk standby -D DIR --primary=CONNSTR [OPTION]...
                                    make, configure and start a new standby

Options:
  -V, --version   output version information, then exit
  -?, --help      show this help, then exit

Run \"tusk COMMAND --help\" for the options of a command.
If the -D option is omitted, the environment variable PGDATA is used,
and if it is unset, the directory \"data\" under the current directory.
";

/// Usage of `tusk init`.
pub const INIT_HELP: &str = "\
tusk init initializes a tusk database cluster (like initdb).

Usage:
  tusk init [OPTION]... [DATADIR]

Options:
  -A, --auth=METHOD         default authentication method for local connections
      --auth-host=METHOD    default authentication method for local TCP/IP connections
      --auth-local=METHOD   default authentication method for local-socket connections
 [-D, --pgdata=]DATADIR     location for this database cluster
      --pwfile=FILE         read password for the new superuser from file
  -U, --username=NAME       database superuser name (default \"postgres\")
      --wal-segsize=SIZE    size of WAL segments, in megabytes
  -N, --no-sync             do not wait for changes to be written safely to disk
  -V, --version             output version information, then exit
  -?, --help                show this help, then exit

Authentication methods: trust, reject, md5, password, scram-sha-256, peer (local only).
If the data directory is not specified, the environment variable PGDATA
is used, and if it is unset, ./data.
";

/// Usage of `tusk run`.
pub const RUN_HELP: &str = "\
tusk run is the tusk server, in the foreground (like postgres).

Usage:
  tusk run [OPTION]...

Options:
  -c NAME=VALUE      set run-time parameter
  -D DATADIR         database directory (created and initialized if missing)
  -d 1-5             debugging level
  -F                 turn fsync off
  -h HOSTNAME        host name or IP address to listen on
  -i                 enable TCP/IP connections (listen_addresses='*')
  -k DIRECTORY       Unix-domain socket location
  -N MAX-CONNECT     maximum number of allowed connections
  -p PORT            port number to listen on
  --NAME=VALUE       set run-time parameter
  -V, --version      output version information, then exit
  -?, --help         show this help, then exit

Settings come from DATADIR/postgresql.conf, then postgresql.auto.conf, then
these options. Logs go to stderr.
";

/// Usage of `tusk ctl`.
pub const CTL_HELP: &str = "\
tusk ctl is a utility to start, stop, or control a tusk server (like pg_ctl).

Usage:
  tusk ctl start      [-D DATADIR] [-l FILENAME] [-W] [-t SECS] [-s] [-o OPTIONS] [-p PATH]
  tusk ctl stop       [-D DATADIR] [-m SHUTDOWN-MODE] [-W] [-t SECS] [-s]
  tusk ctl restart    [-D DATADIR] [-m SHUTDOWN-MODE] [-W] [-t SECS] [-s] [-o OPTIONS]
  tusk ctl reload     [-D DATADIR] [-s]
  tusk ctl status     [-D DATADIR]
  tusk ctl promote    [-D DATADIR] [-W] [-t SECS] [-s]

Common options:
  -D, --pgdata=DATADIR   location of the database storage area
  -s, --silent           only print errors, no informational messages
  -t, --timeout=SECS     seconds to wait when using -w option
  -V, --version          output version information, then exit
  -w, --wait             wait until operation completes (default)
  -W, --no-wait          do not wait until operation completes
  -?, --help             show this help, then exit
If the -D option is omitted, the environment variable PGDATA is used,
and if it is unset, ./data.

Options for start or restart:
  -l, --log=FILENAME     write (or append) server log to FILENAME
  -o, --options=OPTIONS  command line options to pass to \"tusk run\"
  -p PATH-TO-TUSK        normally not necessary

Options for stop or restart:
  -m, --mode=MODE        MODE can be \"smart\", \"fast\", or \"immediate\"

Shutdown modes are:
  smart       quit after all clients have disconnected
  fast        quit directly, with proper shutdown (default)
  immediate   quit without complete shutdown; will lead to recovery on restart
";

/// Usage of `tusk standby`.
pub const STANDBY_HELP: &str = "\
tusk standby makes a new streaming standby of a running primary in one step: a base
backup with streamed WAL (like pg_basebackup -Fp -Xs), the standby configuration,
the start, and a check that the primary sees it streaming.

Usage:
  tusk standby -D DATADIR --primary=CONNSTR [OPTION]...

Options:
  -D, --pgdata=DATADIR       the new standby's data directory (must not exist or be empty)
  -d, --primary=CONNSTR      connection string of the primary, for example
                             'host=192.168.181.128 port=5432 user=repl password=repl'
  -S, --slot=SLOTNAME        stream through this physical replication slot
                             (created on the primary if it does not exist)
      --application-name=NAME
                             name the primary shows for this standby
                             (default: the data directory's name)
  -p, --port=PORT            port the standby listens on
  -c NAME=VALUE              another setting for the standby (repeatable)
  -l, --log=FILENAME         the standby's server log (default DATADIR/log/tusk.log)
  -t, --timeout=SECS         seconds to wait for the standby to stream (default 60)
      --monitor=CONNSTR      connection to read pg_stat_replication on the primary
                             (default: --primary's, database postgres; only
                             superusers see a walsender's state and positions)
      --no-start             write the standby but do not start it
  -P, --progress             show progress of the base backup
  -n, --no-clean             do not clean up after errors
  -V, --version              output version information, then exit
  -?, --help                 show this help, then exit

The settings a hot standby must not have lower than its primary (max_connections,
max_worker_processes, max_wal_senders, max_prepared_transactions,
max_locks_per_transaction) are copied from the primary into postgresql.auto.conf,
with standby.signal, primary_conninfo, primary_slot_name, hot_standby = on, the port
and the -c settings.
";

/// Usage of `tusk waldump`.
pub const WALDUMP_HELP: &str = "\
tusk waldump decodes and displays tusk write-ahead logs for debugging (like pg_waldump).

Usage:
  tusk waldump [OPTION]... [STARTSEG [ENDSEG]]

Options:
  -e, --end=RECPTR       stop reading at WAL location RECPTR
  -n, --limit=N          number of records to display
  -p, --path=PATH        directory in which to find log segment files or a
                         directory with a ./pg_wal that contains such files
                         (default: current directory, ./pg_wal, $PGDATA/pg_wal)
  -q, --quiet            do not print any output, except for errors
  -r, --rmgr=RMGR        only show records generated by resource manager RMGR;
                         use --rmgr=list to list valid resource manager names
  -s, --start=RECPTR     start reading at WAL location RECPTR
  -t, --timeline=TLI     timeline from which to read log records
                         (default: 1 or the value used in STARTSEG)
  -x, --xid=XID          only show records with transaction ID XID
  -z, --stats            show statistics instead of records
  -V, --version          output version information, then exit
  -?, --help             show this help, then exit

Records are described as recovery replays them: INSERT/DELETE with database, table
and tuple id, catalog changes, COMMIT with its time, CHECKPOINT with its redo LSN.
";

/// Parses the options of `tusk waldump` (`pg_waldump`'s): [`Command::Waldump`], with
/// `None` for `--help`, or [`Command::Version`].
pub fn parse_waldump(args: &[String]) -> Result<Command> {
    const CMD: &str = "tusk waldump";
    let mut o = crate::storage::wal::dump::DumpOptions::default();
    let mut s = Scanner::new(args, CMD);
    let lsn = |v: &str| -> Result<crate::storage::wal::Lsn> {
        let parsed = v.split_once('/').and_then(|(hi, lo)| {
            let hi = u64::from_str_radix(hi, 16).ok()?;
            let lo = u64::from_str_radix(lo, 16).ok()?;
            (hi <= u64::from(u32::MAX) && lo <= u64::from(u32::MAX)).then_some((hi << 32) | lo)
        });
        parsed
            .map(crate::storage::wal::Lsn)
            .ok_or_else(|| usage(CMD, &format!("invalid WAL location: \"{v}\"")))
    };
    let number = |what: &str, v: &str| -> Result<u64> {
        v.parse::<u64>()
            .map_err(|_| usage(CMD, &format!("invalid value \"{v}\" for option {what}")))
    };
    while let Some(tok) = s.next() {
        match tok {
            Token::Short('e', v) => o.end = Some(lsn(&s.short_value('e', v)?)?),
            Token::Long(n, v) if n == "end" => o.end = Some(lsn(&s.long_value(&n, v)?)?),
            Token::Short('s', v) => o.start = Some(lsn(&s.short_value('s', v)?)?),
            Token::Long(n, v) if n == "start" => o.start = Some(lsn(&s.long_value(&n, v)?)?),
            Token::Short('n', v) => o.limit = Some(number("-n/--limit", &s.short_value('n', v)?)?),
            Token::Long(n, v) if n == "limit" => {
                o.limit = Some(number("-n/--limit", &s.long_value(&n, v)?)?)
            }
            Token::Short('p', v) => o.path = Some(s.short_value('p', v)?),
            Token::Long(n, v) if n == "path" => o.path = Some(s.long_value(&n, v)?),
            Token::Short('r', v) => o.rmgr = Some(s.short_value('r', v)?),
            Token::Long(n, v) if n == "rmgr" => o.rmgr = Some(s.long_value(&n, v)?),
            Token::Short('t', v) => {
                o.timeline = Some(number("-t/--timeline", &s.short_value('t', v)?)? as u32)
            }
            Token::Long(n, v) if n == "timeline" => {
                o.timeline = Some(number("-t/--timeline", &s.long_value(&n, v)?)? as u32)
            }
            Token::Short('x', v) => {
                o.xid = Some(number("-x/--xid", &s.short_value('x', v)?)? as u32)
            }
            Token::Long(n, v) if n == "xid" => {
                o.xid = Some(number("-x/--xid", &s.long_value(&n, v)?)? as u32)
            }
            Token::Short('z', rest) => {
                o.stats = true;
                s.push_flags(rest);
            }
            Token::Long(n, None) if n == "stats" => o.stats = true,
            Token::Short('q', rest) => {
                o.quiet = true;
                s.push_flags(rest);
            }
            Token::Long(n, None) if n == "quiet" => o.quiet = true,
            Token::Short('?', _) => return Ok(Command::Waldump(None)),
            Token::Long(n, None) if n == "help" => return Ok(Command::Waldump(None)),
            Token::Short('V', _) => return Ok(Command::Version),
            Token::Long(n, None) if n == "version" => return Ok(Command::Version),
            Token::Plain(p) => {
                if o.segments.len() == 2 {
                    return Err(usage(
                        CMD,
                        &format!("too many command-line arguments (first is \"{p}\")"),
                    ));
                }
                o.segments.push(p);
            }
            Token::Short(c, _) => return Err(usage(CMD, &format!("invalid option -- '{c}'"))),
            Token::Long(n, _) => return Err(usage(CMD, &format!("unrecognized option '--{n}'"))),
        }
    }
    Ok(Command::Waldump(Some(o)))
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command> {
    let Some(first) = args.first() else {
        return Err(usage("tusk", "no command specified"));
    };
    let rest = &args[1..];
    match first.as_str() {
        "init" | "initdb" => parse_init(rest).map(Command::Init),
        "run" => parse_run(rest).map(Command::Run),
        "ctl" => parse_ctl(rest).map(Command::Ctl),
        "waldump" => parse_waldump(rest),
        "standby" => parse_standby(rest).map(Command::Standby),
        "-V" | "--version" => Ok(Command::Version),
        "-?" | "--help" | "-h" | "help" => Ok(Command::Help),
        other => Err(usage("tusk", &format!("unrecognized command \"{other}\""))),
    }
}

/// An option token: a short option (with the text attached after it, if any), a long
/// option (with its `=value`, if any), or a plain argument.
enum Token {
    Short(char, String),
    Long(String, Option<String>),
    Plain(String),
}

/// Walks an argument list getopt-style; after `--`, everything is plain.
struct Scanner<'a> {
    args: &'a [String],
    pos: usize,
    /// The rest of a bundle of short flags (`-ws` after `w` was taken).
    pending: String,
    only_plain: bool,
    /// The command whose `--help` the error hints point to.
    cmd: &'static str,
}

impl<'a> Scanner<'a> {
    fn new(args: &'a [String], cmd: &'static str) -> Scanner<'a> {
        Scanner {
            args,
            pos: 0,
            pending: String::new(),
            only_plain: false,
            cmd,
        }
    }

    fn next(&mut self) -> Option<Token> {
        if !self.pending.is_empty() {
            let mut chars = self.pending.chars();
            let c = chars.next()?;
            let rest: String = chars.collect();
            self.pending.clear();
            return Some(Token::Short(c, rest));
        }
        let arg = self.args.get(self.pos)?.clone();
        self.pos += 1;
        if self.only_plain || arg == "-" || !arg.starts_with('-') {
            return Some(Token::Plain(arg));
        }
        if arg == "--" {
            self.only_plain = true;
            return self.next();
        }
        if let Some(long) = arg.strip_prefix("--") {
            return Some(match long.split_once('=') {
                Some((n, v)) => Token::Long(n.to_string(), Some(v.to_string())),
                None => Token::Long(long.to_string(), None),
            });
        }
        let mut chars = arg[1..].chars();
        let c = chars.next()?;
        Some(Token::Short(c, chars.collect()))
    }

    /// The value of a short option: the attached text, or the next argument.
    fn short_value(&mut self, opt: char, attached: String) -> Result<String> {
        if !attached.is_empty() {
            return Ok(attached);
        }
        self.take_next()
            .ok_or_else(|| usage(self.cmd, &format!("option requires an argument -- '{opt}'")))
    }

    /// The value of a long option: its `=value`, or the next argument.
    fn long_value(&mut self, name: &str, inline: Option<String>) -> Result<String> {
        if let Some(v) = inline {
            return Ok(v);
        }
        self.take_next()
            .ok_or_else(|| usage(self.cmd, &format!("option '--{name}' requires an argument")))
    }

    /// A bundled short flag (`-ws`): the attached text holds more flags.
    fn push_flags(&mut self, attached: String) {
        self.pending = attached;
    }

    fn take_next(&mut self) -> Option<String> {
        let v = self.args.get(self.pos)?.clone();
        self.pos += 1;
        Some(v)
    }
}

/// A usage error for `cmd`, with the "Try ... --help" hint.
fn usage(cmd: &str, message: &str) -> Error {
    Error::new(sqlstate::SYNTAX_ERROR, message)
        .with_hint(format!("Try \"{cmd} --help\" for more information."))
}

/// Parses the options of `tusk init`.
pub fn parse_init(args: &[String]) -> Result<InitArgs> {
    const CMD: &str = "tusk init";
    let mut a = InitArgs::default();
    let mut s = Scanner::new(args, CMD);
    while let Some(tok) = s.next() {
        match tok {
            Token::Short('D', v) => a.datadir = Some(s.short_value('D', v)?),
            Token::Long(n, v) if n == "pgdata" => a.datadir = Some(s.long_value(&n, v)?),
            Token::Short('U', v) => a.superuser = Some(s.short_value('U', v)?),
            Token::Long(n, v) if n == "username" => a.superuser = Some(s.long_value(&n, v)?),
            Token::Short('A', v) => a.auth = Some(s.short_value('A', v)?),
            Token::Long(n, v) if n == "auth" => a.auth = Some(s.long_value(&n, v)?),
            Token::Long(n, v) if n == "auth-local" => a.auth_local = Some(s.long_value(&n, v)?),
            Token::Long(n, v) if n == "auth-host" => a.auth_host = Some(s.long_value(&n, v)?),
            Token::Long(n, v) if n == "pwfile" => a.pwfile = Some(s.long_value(&n, v)?),
            Token::Long(n, v) if n == "wal-segsize" => {
                let v = s.long_value(&n, v)?;
                a.wal_segsize_mb = Some(parse_wal_segsize(&v)?);
            }
            Token::Short('N', rest) => {
                a.no_sync = true;
                s.push_flags(rest);
            }
            Token::Long(n, None) if n == "no-sync" => a.no_sync = true,
            Token::Short('V', _) => a.version = true,
            Token::Long(n, None) if n == "version" => a.version = true,
            Token::Short('?', _) => a.help = true,
            Token::Long(n, None) if n == "help" => a.help = true,
            Token::Plain(p) => {
                if a.datadir.is_some() {
                    return Err(usage(
                        CMD,
                        &format!("too many command-line arguments (first is \"{p}\")"),
                    ));
                }
                a.datadir = Some(p);
            }
            Token::Short(c, _) => return Err(usage(CMD, &format!("invalid option -- '{c}'"))),
            Token::Long(n, _) => return Err(usage(CMD, &format!("unrecognized option '--{n}'"))),
        }
    }
    Ok(a)
}

/// Checks `--wal-segsize`: a power of 2 between 1 and 1024 (megabytes), as initdb does.
fn parse_wal_segsize(v: &str) -> Result<u32> {
    let n: u32 = v.trim().parse().map_err(|_| {
        Error::new(
            sqlstate::INVALID_PARAMETER_VALUE,
            "argument of --wal-segsize must be a number",
        )
    })?;
    if !(1..=1024).contains(&n) || !n.is_power_of_two() {
        return Err(Error::new(
            sqlstate::INVALID_PARAMETER_VALUE,
            "argument of --wal-segsize must be a power of 2 between 1 and 1024",
        ));
    }
    Ok(n)
}

/// Parses `name=value` from `-c` or `--name=value` into a setting override, turning
/// dashes in the name into underscores as PostgreSQL does.
fn setting(raw: &str, via_c: bool) -> Result<(String, String)> {
    match raw.split_once('=') {
        Some((n, v)) if !n.is_empty() => Ok((n.replace('-', "_"), v.to_string())),
        _ => {
            let name = raw.replace('-', "_");
            let msg = if via_c {
                format!("-c {name} requires a value")
            } else {
                format!("--{name} requires a value")
            };
            Err(Error::new(sqlstate::SYNTAX_ERROR, msg))
        }
    }
}

/// Parses the options of `tusk run` (a subset of `postgres`'s).
pub fn parse_run(args: &[String]) -> Result<RunArgs> {
    const CMD: &str = "tusk run";
    let mut a = RunArgs::default();
    let mut s = Scanner::new(args, CMD);
    let set = |a: &mut RunArgs, n: &str, v: String| a.overrides.push((n.to_string(), v));
    while let Some(tok) = s.next() {
        match tok {
            Token::Short('D', v) => a.datadir = Some(s.short_value('D', v)?),
            Token::Short('c', v) => {
                let raw = s.short_value('c', v)?;
                a.overrides.push(setting(&raw, true)?);
            }
            Token::Short('p', v) => set(&mut a, "port", s.short_value('p', v)?),
            Token::Short('k', v) => set(&mut a, "unix_socket_directories", s.short_value('k', v)?),
            Token::Short('h', v) => set(&mut a, "listen_addresses", s.short_value('h', v)?),
            Token::Short('N', v) => set(&mut a, "max_connections", s.short_value('N', v)?),
            Token::Short('B', v) => set(&mut a, "shared_buffers", s.short_value('B', v)?),
            Token::Short('d', v) => {
                let level = s.short_value('d', v)?;
                let value = match level.trim().parse::<u8>() {
                    Ok(0) => "notice".to_string(),
                    Ok(n @ 1..=5) => format!("debug{n}"),
                    _ => {
                        return Err(usage(CMD, &format!("invalid debug level \"{level}\"")));
                    }
                };
                set(&mut a, "log_min_messages", value);
            }
            Token::Short('i', rest) => {
                set(&mut a, "listen_addresses", "*".to_string());
                s.push_flags(rest);
            }
            Token::Short('F', rest) => {
                set(&mut a, "fsync", "off".to_string());
                s.push_flags(rest);
            }
            Token::Short('V', _) => a.version = true,
            Token::Short('?', _) => a.help = true,
            Token::Long(n, None) if n == "version" => a.version = true,
            Token::Long(n, None) if n == "help" => a.help = true,
            Token::Long(n, v) if n == "pgdata" => a.datadir = Some(s.long_value(&n, v)?),
            Token::Long(n, v) => {
                let raw = match v {
                    Some(v) => format!("{n}={v}"),
                    None => n,
                };
                a.overrides.push(setting(&raw, false)?);
            }
            Token::Short(c, _) => return Err(usage(CMD, &format!("invalid option -- '{c}'"))),
            Token::Plain(p) => return Err(usage(CMD, &format!("invalid argument: \"{p}\""))),
        }
    }
    Ok(a)
}

/// Parses the options of `tusk ctl`; options may come before or after the operation.
pub fn parse_ctl(args: &[String]) -> Result<CtlArgs> {
    const CMD: &str = "tusk ctl";
    let mut a = CtlArgs::default();
    let mut s = Scanner::new(args, CMD);
    while let Some(tok) = s.next() {
        match tok {
            Token::Short('D', v) => a.datadir = Some(s.short_value('D', v)?),
            Token::Long(n, v) if n == "pgdata" => a.datadir = Some(s.long_value(&n, v)?),
            Token::Short('l', v) => a.log_file = Some(s.short_value('l', v)?),
            Token::Long(n, v) if n == "log" => a.log_file = Some(s.long_value(&n, v)?),
            Token::Short('m', v) => a.mode = parse_mode(&s.short_value('m', v)?)?,
            Token::Long(n, v) if n == "mode" => a.mode = parse_mode(&s.long_value(&n, v)?)?,
            Token::Short('o', v) => {
                a.options = Some(append_opts(a.options, s.short_value('o', v)?))
            }
            Token::Long(n, v) if n == "options" => {
                a.options = Some(append_opts(a.options, s.long_value(&n, v)?))
            }
            Token::Short('t', v) => a.timeout = Some(parse_timeout(&s.short_value('t', v)?)?),
            Token::Long(n, v) if n == "timeout" => {
                a.timeout = Some(parse_timeout(&s.long_value(&n, v)?)?)
            }
            Token::Short('p', v) => a.exe = Some(s.short_value('p', v)?),
            Token::Short('w', rest) => {
                a.wait = true;
                s.push_flags(rest);
            }
            Token::Short('W', rest) => {
                a.wait = false;
                s.push_flags(rest);
            }
            Token::Short('s', rest) => {
                a.silent = true;
                s.push_flags(rest);
            }
            // -c (core files) is accepted for pg_ctl compatibility and has no effect.
            Token::Short('c', rest) => s.push_flags(rest),
            Token::Long(n, None) if n == "wait" => a.wait = true,
            Token::Long(n, None) if n == "no-wait" => a.wait = false,
            Token::Long(n, None) if n == "silent" => a.silent = true,
            Token::Long(n, None) if n == "core-files" => {}
            Token::Short('V', _) => a.version = true,
            Token::Long(n, None) if n == "version" => a.version = true,
            Token::Short('?', _) => a.help = true,
            Token::Long(n, None) if n == "help" => a.help = true,
            Token::Plain(p) => {
                if a.command.is_some() {
                    return Err(usage(
                        CMD,
                        &format!("too many command-line arguments (first is \"{p}\")"),
                    ));
                }
                a.command = Some(match p.as_str() {
                    "start" => CtlCommand::Start,
                    "stop" => CtlCommand::Stop,
                    "restart" => CtlCommand::Restart,
                    "reload" => CtlCommand::Reload,
                    "status" => CtlCommand::Status,
                    "promote" => CtlCommand::Promote,
                    _ => return Err(usage(CMD, &format!("unrecognized operation mode \"{p}\""))),
                });
            }
            Token::Short(c, _) => return Err(usage(CMD, &format!("invalid option -- '{c}'"))),
            Token::Long(n, _) => return Err(usage(CMD, &format!("unrecognized option '--{n}'"))),
        }
    }
    if a.command.is_none() && !a.help && !a.version {
        return Err(usage(CMD, "no operation specified"));
    }
    Ok(a)
}

/// Parses the options of `tusk standby`; `-D` and `--primary` are required (unless
/// `--help` or `--version`).
pub fn parse_standby(args: &[String]) -> Result<StandbyArgs> {
    const CMD: &str = "tusk standby";
    let mut a = StandbyArgs::default();
    let mut s = Scanner::new(args, CMD);
    let port = |v: String| -> Result<u16> {
        match v.trim().parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => Err(usage(CMD, &format!("invalid port number \"{v}\""))),
        }
    };
    let timeout = |v: String| -> Result<u64> {
        v.trim().parse().map_err(|_| {
            usage(
                CMD,
                &format!("invalid value \"{v}\" for option -t/--timeout"),
            )
        })
    };
    while let Some(tok) = s.next() {
        match tok {
            Token::Short('D', v) => a.datadir = Some(s.short_value('D', v)?),
            Token::Long(n, v) if n == "pgdata" => a.datadir = Some(s.long_value(&n, v)?),
            Token::Short('d', v) => a.primary = Some(s.short_value('d', v)?),
            Token::Long(n, v) if n == "primary" || n == "dbname" => {
                a.primary = Some(s.long_value(&n, v)?)
            }
            Token::Short('S', v) => a.slot = Some(s.short_value('S', v)?),
            Token::Long(n, v) if n == "slot" => a.slot = Some(s.long_value(&n, v)?),
            Token::Long(n, v) if n == "application-name" => {
                a.application_name = Some(s.long_value(&n, v)?)
            }
            Token::Short('p', v) => a.port = Some(port(s.short_value('p', v)?)?),
            Token::Long(n, v) if n == "port" => a.port = Some(port(s.long_value(&n, v)?)?),
            Token::Short('c', v) => {
                let raw = s.short_value('c', v)?;
                a.settings.push(setting(&raw, true)?);
            }
            Token::Short('l', v) => a.log_file = Some(s.short_value('l', v)?),
            Token::Long(n, v) if n == "log" => a.log_file = Some(s.long_value(&n, v)?),
            Token::Short('t', v) => a.timeout = Some(timeout(s.short_value('t', v)?)?),
            Token::Long(n, v) if n == "timeout" => a.timeout = Some(timeout(s.long_value(&n, v)?)?),
            Token::Long(n, v) if n == "monitor" => a.monitor = Some(s.long_value(&n, v)?),
            Token::Long(n, None) if n == "no-start" => a.no_start = true,
            Token::Short('P', rest) => {
                a.progress = true;
                s.push_flags(rest);
            }
            Token::Long(n, None) if n == "progress" => a.progress = true,
            Token::Short('n', rest) => {
                a.no_clean = true;
                s.push_flags(rest);
            }
            Token::Long(n, None) if n == "no-clean" => a.no_clean = true,
            Token::Short('V', _) => a.version = true,
            Token::Long(n, None) if n == "version" => a.version = true,
            Token::Short('?', _) => a.help = true,
            Token::Long(n, None) if n == "help" => a.help = true,
            Token::Plain(p) => {
                return Err(usage(
                    CMD,
                    &format!("too many command-line arguments (first is \"{p}\")"),
                ))
            }
            Token::Short(c, _) => return Err(usage(CMD, &format!("invalid option -- '{c}'"))),
            Token::Long(n, _) => return Err(usage(CMD, &format!("unrecognized option '--{n}'"))),
        }
    }
    if a.help || a.version {
        return Ok(a);
    }
    if a.datadir.is_none() {
        return Err(usage(CMD, "no target directory specified"));
    }
    if a.primary.is_none() {
        return Err(usage(CMD, "no primary specified (--primary=CONNSTR)"));
    }
    Ok(a)
}

/// pg_ctl appends repeated `-o` options with a space.
fn append_opts(prev: Option<String>, next: String) -> String {
    match prev {
        Some(p) => format!("{p} {next}"),
        None => next,
    }
}

/// Parses `-m`: `smart`, `fast`, `immediate` or their first letters.
fn parse_mode(v: &str) -> Result<ShutdownMode> {
    match v {
        "s" | "smart" => Ok(ShutdownMode::Smart),
        "f" | "fast" => Ok(ShutdownMode::Fast),
        "i" | "immediate" => Ok(ShutdownMode::Immediate),
        _ => Err(usage(
            "tusk ctl",
            &format!("unrecognized shutdown mode \"{v}\""),
        )),
    }
}

/// Parses `-t SECS`.
fn parse_timeout(v: &str) -> Result<u64> {
    v.trim()
        .parse()
        .map_err(|_| usage("tusk ctl", &format!("invalid value \"{v}\" for option -t")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn top_level() {
        assert_eq!(parse(&args("--version")).unwrap(), Command::Version);
        assert_eq!(parse(&args("-V")).unwrap(), Command::Version);
        assert_eq!(parse(&args("--help")).unwrap(), Command::Help);
        let e = parse(&args("frobnicate")).unwrap_err();
        assert_eq!(e.message, "unrecognized command \"frobnicate\"");
        assert_eq!(
            e.hint.as_deref(),
            Some("Try \"tusk --help\" for more information.")
        );
        assert_eq!(parse(&[]).unwrap_err().message, "no command specified");
    }

    #[test]
    fn init_options() {
        let Command::Init(a) = parse(&args(
            "init -D /d -U admin --pwfile=/pw --auth md5 --auth-local=peer --wal-segsize=64 -N",
        ))
        .unwrap() else {
            panic!("not init")
        };
        assert_eq!(a.datadir.as_deref(), Some("/d"));
        assert_eq!(a.superuser.as_deref(), Some("admin"));
        assert_eq!(a.pwfile.as_deref(), Some("/pw"));
        assert_eq!(a.auth.as_deref(), Some("md5"));
        assert_eq!(a.auth_local.as_deref(), Some("peer"));
        assert_eq!(a.wal_segsize_mb, Some(64));
        assert!(a.no_sync);

        let a = parse_init(&args("-D/x -Uu")).unwrap();
        assert_eq!(a.datadir.as_deref(), Some("/x"));
        assert_eq!(a.superuser.as_deref(), Some("u"));
        assert_eq!(
            parse_init(&args("/pos")).unwrap().datadir.as_deref(),
            Some("/pos")
        );
        assert!(parse_init(&args("--help")).unwrap().help);

        let e = parse_init(&args("--wal-segsize=3")).unwrap_err();
        assert_eq!(
            e.message,
            "argument of --wal-segsize must be a power of 2 between 1 and 1024"
        );
        assert_eq!(
            parse_init(&args("--wal-segsize=x")).unwrap_err().message,
            "argument of --wal-segsize must be a number"
        );
        assert_eq!(
            parse_init(&args("--bogus")).unwrap_err().message,
            "unrecognized option '--bogus'"
        );
        assert_eq!(
            parse_init(&args("-D")).unwrap_err().message,
            "option requires an argument -- 'D'"
        );
        assert_eq!(
            parse_init(&args("a b")).unwrap_err().message,
            "too many command-line arguments (first is \"b\")"
        );
    }

    #[test]
    fn run_options_become_overrides() {
        let a = parse_run(&args(
            "-D data -p 5433 -c wal_level=replica --hot-standby=on -k /tmp -h * -i -F -N 50 -d 2",
        ))
        .unwrap();
        assert_eq!(a.datadir.as_deref(), Some("data"));
        let o: Vec<(&str, &str)> = a
            .overrides
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            o,
            vec![
                ("port", "5433"),
                ("wal_level", "replica"),
                ("hot_standby", "on"),
                ("unix_socket_directories", "/tmp"),
                ("listen_addresses", "*"),
                ("listen_addresses", "*"),
                ("fsync", "off"),
                ("max_connections", "50"),
                ("log_min_messages", "debug2"),
            ]
        );
        // Values may contain '=' and spaces (one argv element).
        let a = parse_run(&[
            "-c".to_string(),
            "primary_conninfo=host=h port=5 user=repl".to_string(),
        ])
        .unwrap();
        assert_eq!(
            a.overrides,
            vec![(
                "primary_conninfo".to_string(),
                "host=h port=5 user=repl".to_string()
            )]
        );
        assert_eq!(
            parse_run(&args("-c fsync")).unwrap_err().message,
            "-c fsync requires a value"
        );
        assert_eq!(
            parse_run(&args("--log-connections")).unwrap_err().message,
            "--log_connections requires a value"
        );
        assert_eq!(
            parse_run(&args("-x")).unwrap_err().message,
            "invalid option -- 'x'"
        );
        assert_eq!(
            parse_run(&args("stray")).unwrap_err().message,
            "invalid argument: \"stray\""
        );
        assert!(parse_run(&args("-iF")).unwrap().overrides.len() == 2);
    }

    #[test]
    fn standby_options() {
        let mut v = args("standby -D /s -S slot1 --application-name=s1 -p 5433 --no-start -P -n");
        v.extend([
            "--primary".to_string(),
            "host=h port=5 user=repl password=x".to_string(),
            "-c".to_string(),
            "work_mem=8MB".to_string(),
            "-cshared_buffers=1GB".to_string(),
            "-l".to_string(),
            "/s.log".to_string(),
            "--timeout=9".to_string(),
            "--monitor=user=postgres".to_string(),
        ]);
        let Command::Standby(a) = parse(&v).unwrap() else {
            panic!("not standby")
        };
        assert_eq!(a.datadir.as_deref(), Some("/s"));
        assert_eq!(
            a.primary.as_deref(),
            Some("host=h port=5 user=repl password=x")
        );
        assert_eq!(a.slot.as_deref(), Some("slot1"));
        assert_eq!(a.application_name.as_deref(), Some("s1"));
        assert_eq!(a.port, Some(5433));
        assert!(a.no_start && a.progress && a.no_clean);
        assert_eq!(
            a.settings,
            vec![
                ("work_mem".to_string(), "8MB".to_string()),
                ("shared_buffers".to_string(), "1GB".to_string())
            ]
        );
        assert_eq!(a.log_file.as_deref(), Some("/s.log"));
        assert_eq!(a.timeout, Some(9));
        assert_eq!(a.monitor.as_deref(), Some("user=postgres"));
        let a = parse_standby(&args("-D/x -dhost=h --slot s")).unwrap();
        assert_eq!(a.primary.as_deref(), Some("host=h"));
        assert_eq!(a.slot.as_deref(), Some("s"));
        assert!(!a.no_start && !a.progress);
        assert!(parse_standby(&args("--help")).unwrap().help);

        let e = parse_standby(&args("--primary=host=h")).unwrap_err();
        assert_eq!(e.message, "no target directory specified");
        assert_eq!(
            e.hint.as_deref(),
            Some("Try \"tusk standby --help\" for more information.")
        );
        assert_eq!(
            parse_standby(&args("-D d")).unwrap_err().message,
            "no primary specified (--primary=CONNSTR)"
        );
        assert_eq!(
            parse_standby(&args("-D d -d x -p 0")).unwrap_err().message,
            "invalid port number \"0\""
        );
        assert_eq!(
            parse_standby(&args("-D d -d x -p nope"))
                .unwrap_err()
                .message,
            "invalid port number \"nope\""
        );
        assert_eq!(
            parse_standby(&args("-D d -d x -t soon"))
                .unwrap_err()
                .message,
            "invalid value \"soon\" for option -t/--timeout"
        );
        assert_eq!(
            parse_standby(&args("-D d -d x -c fsync"))
                .unwrap_err()
                .message,
            "-c fsync requires a value"
        );
        assert_eq!(
            parse_standby(&args("-D d -d x extra")).unwrap_err().message,
            "too many command-line arguments (first is \"extra\")"
        );
        assert_eq!(
            parse_standby(&args("-D d -d x --bogus"))
                .unwrap_err()
                .message,
            "unrecognized option '--bogus'"
        );
        assert_eq!(
            parse_standby(&args("-D d -d x -S")).unwrap_err().message,
            "option requires an argument -- 'S'"
        );
    }

    #[test]
    fn ctl_options_anywhere() {
        let a = parse_ctl(&args("-D /d start -l log -W -t 5")).unwrap();
        assert_eq!(a.command, Some(CtlCommand::Start));
        assert_eq!(a.datadir.as_deref(), Some("/d"));
        assert_eq!(a.log_file.as_deref(), Some("log"));
        assert!(!a.wait);
        assert_eq!(a.timeout, Some(5));
        let a = parse_ctl(&[
            "start".to_string(),
            "-o".to_string(),
            "-p 5433 -c fsync=off".to_string(),
        ])
        .unwrap();
        assert_eq!(a.options.as_deref(), Some("-p 5433 -c fsync=off"));
        let a = parse_ctl(&args("stop -m immediate -ws")).unwrap();
        assert_eq!(a.mode, ShutdownMode::Immediate);
        assert!(a.wait && a.silent);
        assert_eq!(
            parse_ctl(&args("stop -mi")).unwrap().mode,
            ShutdownMode::Immediate
        );
        assert_eq!(parse_ctl(&args("stop")).unwrap().mode, ShutdownMode::Fast);
        assert_eq!(ShutdownMode::Smart.signal(), libc::SIGTERM);
        assert_eq!(ShutdownMode::Fast.signal(), libc::SIGINT);
        assert_eq!(ShutdownMode::Immediate.signal(), libc::SIGQUIT);

        let e = parse_ctl(&args("bogus")).unwrap_err();
        assert_eq!(e.message, "unrecognized operation mode \"bogus\"");
        assert_eq!(
            e.hint.as_deref(),
            Some("Try \"tusk ctl --help\" for more information.")
        );
        assert_eq!(
            parse_ctl(&args("stop -m wrong")).unwrap_err().message,
            "unrecognized shutdown mode \"wrong\""
        );
        assert_eq!(
            parse_ctl(&args("-D x")).unwrap_err().message,
            "no operation specified"
        );
        assert_eq!(
            parse_ctl(&args("start stop")).unwrap_err().message,
            "too many command-line arguments (first is \"stop\")"
        );
        assert!(parse_ctl(&args("--help")).unwrap().help);
    }
}
