//! Settings (PostgreSQL's GUC system), the configuration files, and pg_hba.conf.
//!
//! # What this module owns
//!
//! - The static registry of every setting tusk knows ([`registry`], [`lookup`]): name,
//!   type, unit, context, category, descriptions, range, enum values and boot value, as
//!   PostgreSQL 15's `pg_settings` shows them.
//! - [`ServerConfig`]: the postmaster-level values after reading `postgresql.conf`
//!   (with includes), `postgresql.auto.conf` and the `-c` overrides, and their re-reading
//!   on SIGHUP ([`ServerConfig::reload`]).
//! - [`SessionSettings`]: one session's view (server values, then StartupMessage values,
//!   then `SET`/`SET LOCAL`), with PostgreSQL's transactional behaviour, SHOW formatting,
//!   the `pg_settings` rows and the ParameterStatus reports.
//! - [`alter_system`] (rewriting postgresql.auto.conf) and [`read_recovery_conf`] (the
//!   legacy recovery.conf of PostgreSQL <= 11).
//!
//! Files of this module:
//! - `registry.rs`: the table of settings (data only);
//! - `value.rs`: parsing values and printing them, with PostgreSQL's error texts;
//! - `unit.rs`: memory and time units;
//! - `conf.rs`: the postgresql.conf lexer and include handling;
//! - `hba.rs`: pg_hba.conf and pg_ident.conf.
//!
//! # Invariants
//!
//! - Every stored value is valid for its setting: values are parsed (and range-checked)
//!   before they are stored, so readers (`get_int` …) never fail for a registered name.
//! - Names are case-insensitive; the registry's spelling (`DateStyle`, `TimeZone`) is the
//!   canonical one used in messages and reports. `sort_mem` and `vacuum_mem` are
//!   PostgreSQL's old aliases of `work_mem` and `maintenance_work_mem`.
//! - Precedence, lowest first: boot value, configuration file, command line (`-c`),
//!   StartupMessage (source `client`), values the server sets internally, `SET`,
//!   `SET LOCAL`.
//! - A configuration file with errors changes nothing at start-up (the server must not
//!   start) and, on reload, changes nothing when names or syntax are wrong; bad values
//!   are skipped one by one, as PostgreSQL does.
//!
//! What this module must never do: touch sockets, spawn threads, or panic on input from
//! a file or a client. The `get_*` readers panic only on a name that is not in the
//! registry or has another type, which is a programming error in the caller.
//!
//! # One request, step by step: `SET work_mem = '8MB'` inside a transaction
//!
//! 1. The SQL layer calls [`SessionSettings::set`]`("work_mem", Some("8MB"), false, su)`.
//! 2. [`lookup`] finds the registry entry case-insensitively; its context (`user`) allows
//!    SET.
//! 3. `value::parse` reads `8` with unit `MB` and stores 8192 (kB, the base unit).
//! 4. The value goes into the session layer; [`SessionSettings::begin_transaction`] had
//!    saved that layer, so [`SessionSettings::end_transaction`]`(false)` restores it.
//! 5. `SHOW work_mem` prints the value in its largest exact unit: `8MB`.
//! 6. [`SessionSettings::take_reported_changes`] reports nothing: work_mem is not a
//!    GUC_REPORT setting.
//!
//! # Extras beyond PostgreSQL 15
//!
//! - `wal_keep_segments` (integer, sighup): the legacy PostgreSQL <= 12 setting. The
//!   effective `wal_keep_size` is the larger of `wal_keep_size` and
//!   `wal_keep_segments × wal_segment_size`, so old configuration files keep working.
//! - `metrics_listen_address` (string, postmaster, empty by default): where tusk serves
//!   Prometheus metrics (`GET /metrics`, see `server::metrics`), written `host:port`,
//!   `[IPv6 address]:port` or `*:port`; checked by `value::parse_listen_address`. A
//!   restart is needed to change it, as for `listen_addresses`.

pub mod conf;
pub mod hba;
mod registry;
pub mod unit;
pub mod value;

use std::collections::{BTreeMap, BTreeSet};

// The settings maps are read on every statement: FxHash (keys are setting names, never
// attacker-chosen at scale) costs a fraction of SipHash there.
use rustc_hash::FxHashMap as HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{sqlstate, Error, Result};
use conf::{ConfEntry, LogLine};
use value::Value;

/// When a setting may be changed, as PostgreSQL's `GucContext` (pg_settings.context).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GucContext {
    /// Fixed at build or init time; never settable.
    Internal,
    /// Set at server start only.
    Postmaster,
    /// Set in the configuration files; takes effect on reload.
    Sighup,
    /// Set at connection start, by superusers only.
    SuperuserBackend,
    /// Set at connection start.
    Backend,
    /// Settable any time by superusers.
    Superuser,
    /// Settable any time by anyone.
    User,
}

impl GucContext {
    /// The context as the `context` column of pg_settings spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            GucContext::Internal => "internal",
            GucContext::Postmaster => "postmaster",
            GucContext::Sighup => "sighup",
            GucContext::SuperuserBackend => "superuser-backend",
            GucContext::Backend => "backend",
            GucContext::Superuser => "superuser",
            GucContext::User => "user",
        }
    }
}

/// Where a setting's current value came from, as pg_settings.source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GucSource {
    /// The boot value.
    Default,
    /// An environment variable (PGPORT and friends).
    EnvVar,
    /// postgresql.conf, an included file, or postgresql.auto.conf.
    File,
    /// A `-c` option of the server command line.
    CommandLine,
    /// ALTER DATABASE SET.
    Database,
    /// ALTER ROLE SET.
    User,
    /// ALTER ROLE IN DATABASE SET.
    DatabaseUser,
    /// The StartupMessage (or its `options`).
    Client,
    /// A value the server set itself (is_superuser, data_directory…).
    Override,
    /// SET or SET LOCAL in the session.
    Session,
}

impl GucSource {
    /// The source as the `source` column of pg_settings spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            GucSource::Default => "default",
            GucSource::EnvVar => "environment variable",
            GucSource::File => "configuration file",
            GucSource::CommandLine => "command line",
            GucSource::Database => "database",
            GucSource::User => "user",
            GucSource::DatabaseUser => "database user",
            GucSource::Client => "client",
            GucSource::Override => "override",
            GucSource::Session => "session",
        }
    }
}

/// The type of a setting (pg_settings.vartype).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VarType {
    /// on/off.
    Bool,
    /// A 32-bit integer, possibly with a unit.
    Integer,
    /// A double, possibly with a unit.
    Real,
    /// Free text (some with a check hook).
    String,
    /// One of a fixed list of names.
    Enum,
}

impl VarType {
    /// The type as pg_settings.vartype spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            VarType::Bool => "bool",
            VarType::Integer => "integer",
            VarType::Real => "real",
            VarType::String => "string",
            VarType::Enum => "enum",
        }
    }
}

/// The base unit a numeric setting is stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// No unit.
    None,
    /// Bytes.
    Bytes,
    /// Kilobytes.
    Kb,
    /// Megabytes.
    Mb,
    /// 8 kB blocks (data or WAL pages).
    Blocks,
    /// Milliseconds.
    Ms,
    /// Seconds.
    S,
    /// Minutes.
    Min,
}

/// One accepted spelling of an enum setting's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnumValue {
    /// The spelling accepted on input (case-insensitively).
    pub name: &'static str,
    /// The value it stands for, as SHOW prints it.
    pub canonical: &'static str,
    /// True for aliases PostgreSQL accepts but does not list (`archive` for wal_level).
    pub hidden: bool,
}

/// One static entry of the settings registry.
#[derive(Debug, Clone, Copy)]
pub struct SettingDef {
    /// The canonical name (`DateStyle`, `work_mem`).
    pub name: &'static str,
    /// The value type.
    pub vartype: VarType,
    /// The base unit of numeric values.
    pub unit: Unit,
    /// The pg_settings category (`Write-Ahead Log / Settings`).
    pub category: &'static str,
    /// The one-sentence description (`SHOW ALL`'s third column).
    pub short_desc: &'static str,
    /// The optional longer description.
    pub extra_desc: Option<&'static str>,
    /// When the setting may change.
    pub context: GucContext,
    /// The minimum of an integer or real setting, in its base unit.
    pub min: f64,
    /// The maximum of an integer or real setting, in its base unit.
    pub max: f64,
    /// The accepted values of an enum setting, listed ones first.
    pub enum_values: &'static [EnumValue],
    /// The boot value as input text in the base unit; None where PostgreSQL has none
    /// (data_directory, config_file…), which reads as an empty string.
    pub boot: Option<&'static str>,
    /// True for GUC_REPORT settings, sent to the client in ParameterStatus messages.
    pub report: bool,
    /// False for settings hidden from SHOW ALL and pg_settings (GUC_NO_SHOW_ALL).
    pub show_all: bool,
}

/// Every setting tusk knows, sorted by name case-insensitively (SHOW ALL's order).
pub fn registry() -> &'static [SettingDef] {
    registry::REGISTRY
}

fn index() -> &'static HashMap<String, usize> {
    static INDEX: OnceLock<HashMap<String, usize>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut m: HashMap<String, usize> = registry::REGISTRY
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.to_ascii_lowercase(), i))
            .collect();
        for (old, new) in [
            ("sort_mem", "work_mem"),
            ("vacuum_mem", "maintenance_work_mem"),
        ] {
            if let Some(&i) = m.get(new) {
                m.insert(old.to_string(), i);
            }
        }
        // The names as the registry spells them too (`TimeZone`, `DateStyle`), so that
        // code asking by the canonical name finds it without lowering a copy first.
        for (i, d) in registry::REGISTRY.iter().enumerate() {
            m.entry(d.name.to_string()).or_insert(i);
        }
        m
    })
}

/// Finds a setting by name, case-insensitively (old aliases included).
pub fn lookup(name: &str) -> Option<&'static SettingDef> {
    let i = match index().get(name) {
        Some(i) => Some(i),
        None if name.bytes().any(|b| b.is_ascii_uppercase()) => {
            // Lowered on the stack: names such as "TimeZone" are asked for per statement.
            let mut buf = [0u8; 64];
            match buf.get_mut(..name.len()) {
                Some(lower) => {
                    lower.copy_from_slice(name.as_bytes());
                    lower.make_ascii_lowercase();
                    std::str::from_utf8(lower).ok().and_then(|l| index().get(l))
                }
                None => index().get(&name.to_ascii_lowercase()),
            }
        }
        None => None,
    };
    i.map(|&i| &registry::REGISTRY[i])
}

/// The position of `def` in the registry (every `&'static SettingDef` tusk hands out
/// points into it).
fn registry_index(def: &'static SettingDef) -> usize {
    let base = registry::REGISTRY.as_ptr() as usize;
    let i = (def as *const SettingDef as usize - base) / std::mem::size_of::<SettingDef>();
    debug_assert!(std::ptr::eq(&registry::REGISTRY[i], def));
    i
}

fn boot_value(def: &'static SettingDef) -> Value {
    static BOOT: OnceLock<Vec<Value>> = OnceLock::new();
    let all = BOOT.get_or_init(|| {
        registry::REGISTRY
            .iter()
            .map(|d| match d.boot {
                None => Value::Str(String::new()),
                Some(b) => match d.vartype {
                    // String boot values are stored as PostgreSQL shows them; running
                    // them through the check hooks would need the file system.
                    VarType::String => Value::Str(b.to_string()),
                    _ => value::parse(d, b, None).unwrap_or_else(|e| {
                        panic!("registry boot value of {} is invalid: {}", d.name, e)
                    }),
                },
            })
            .collect()
    });
    all[registry_index(def)].clone()
}

fn unrecognized(name: &str) -> Error {
    Error::new(
        sqlstate::UNDEFINED_OBJECT,
        format!("unrecognized configuration parameter \"{name}\""),
    )
}

fn cant_change(code: &'static str, msg: String) -> Error {
    Error::new(code, msg)
}

/// True for a custom placeholder name such as `myext.setting` (two identifiers joined
/// by a dot), which PostgreSQL accepts for extensions.
fn is_custom_name(name: &str) -> bool {
    let Some((a, b)) = name.split_once('.') else {
        return false;
    };
    let ident = |s: &str| {
        let mut c = s.chars();
        c.next().is_some_and(|c| c.is_alphabetic() || c == '_')
            && c.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
    };
    ident(a) && b.split('.').all(ident)
}

/// A stored value with where it came from.
#[derive(Debug, Clone, PartialEq)]
struct Slot {
    value: Value,
    source: GucSource,
    file: Option<PathBuf>,
    line: Option<usize>,
}

impl Slot {
    fn new(value: Value, source: GucSource) -> Slot {
        Slot {
            value,
            source,
            file: None,
            line: None,
        }
    }
}

/// Why the server cannot start with its configuration: the LOG lines PostgreSQL prints
/// (each with its DETAIL/HINT), then the FATAL error.
#[derive(Debug, Clone)]
pub struct ConfigError {
    /// LOG lines printed before the FATAL one, in order.
    pub logs: Vec<LogLine>,
    /// The FATAL error (SQLSTATE F0000 for file errors, 22023/42704 for `-c` values).
    pub fatal: Error,
}

impl ConfigError {
    fn fatal(e: Error) -> ConfigError {
        ConfigError {
            logs: Vec::new(),
            fatal: e.with_severity(crate::error::Severity::Fatal),
        }
    }

    /// Every line as PostgreSQL prints it after its log prefix, FATAL last:
    /// `LOG:  unrecognized configuration parameter "foo" in file "…" line 3`,
    /// `FATAL:  configuration file "…" contains errors`.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self.logs.iter().flat_map(LogLine::lines).collect();
        let f = LogLine {
            level: "FATAL",
            message: self.fatal.message.clone(),
            detail: self.fatal.detail.clone(),
            hint: self.fatal.hint.clone(),
        };
        out.extend(f.lines());
        out
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.lines().join("\n"))
    }
}

impl std::error::Error for ConfigError {}

/// The postmaster-level settings: boot values overlaid with the configuration files and
/// the command line. Shared read-only (behind an `Arc`) by all sessions; a reload builds
/// a new one.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    datadir: PathBuf,
    values: HashMap<&'static str, Slot>,
    custom: BTreeMap<String, Slot>,
    overrides: Vec<(String, String)>,
    pending_restart: BTreeSet<&'static str>,
}

/// The outcome of applying a file's entries.
struct Applied {
    logs: Vec<LogLine>,
    error_file: Option<PathBuf>,
    names_ok: bool,
}

impl ServerConfig {
    /// A configuration with every setting at its boot value and the file locations of
    /// `datadir` (made absolute); no file is read. Useful for tests and tools.
    pub fn defaults(datadir: &Path) -> ServerConfig {
        let datadir = std::path::absolute(datadir).unwrap_or_else(|_| datadir.to_path_buf());
        let mut c = ServerConfig {
            datadir: datadir.clone(),
            values: HashMap::default(),
            custom: BTreeMap::new(),
            overrides: Vec::new(),
            pending_restart: BTreeSet::new(),
        };
        for (name, file) in [
            ("data_directory", None),
            ("config_file", Some("postgresql.conf")),
            ("hba_file", Some("pg_hba.conf")),
            ("ident_file", Some("pg_ident.conf")),
        ] {
            let p = match file {
                Some(f) => datadir.join(f),
                None => datadir.clone(),
            };
            c.put_override(name, &p.to_string_lossy());
        }
        c
    }

    fn put_override(&mut self, name: &str, v: &str) {
        if let Some(def) = lookup(name) {
            self.values.insert(
                def.name,
                Slot::new(Value::Str(v.to_string()), GucSource::Override),
            );
        }
    }

    /// Loads postgresql.conf (then its includes), postgresql.auto.conf, then `overrides`
    /// (from `-c`). On failure the error holds PostgreSQL's LOG lines and the FATAL one.
    // The error is large on purpose: it carries every LOG line, once, at start-up.
    #[allow(clippy::result_large_err)]
    pub fn load(
        datadir: &Path,
        overrides: &[(String, String)],
    ) -> std::result::Result<ServerConfig, ConfigError> {
        let mut cfg = ServerConfig::defaults(datadir);
        // Command-line values are checked first: a bad one stops the server at once.
        let mut cmdline = Vec::new();
        for (name, v) in overrides {
            let def = lookup(name);
            if def.is_none() && !is_custom_name(name) {
                return Err(ConfigError::fatal(unrecognized(name)));
            }
            if let Some(def) = def {
                if def.context == GucContext::Internal {
                    return Err(ConfigError::fatal(cant_change(
                        sqlstate::CANT_CHANGE_RUNTIME_PARAM,
                        format!("parameter \"{}\" cannot be changed", def.name),
                    )));
                }
                let val = value::parse(def, v, None).map_err(ConfigError::fatal)?;
                cmdline.push((Some(def), name.clone(), val));
            } else {
                cmdline.push((None, name.clone(), Value::Str(v.clone())));
            }
        }
        cfg.overrides = overrides.to_vec();
        if let Some((_, _, Value::Str(f))) = cmdline
            .iter()
            .find(|(d, ..)| d.is_some_and(|d| d.name == "config_file"))
        {
            let f = f.clone();
            cfg.put_override("config_file", &f);
        }
        let conf_path = PathBuf::from(cfg.get_str("config_file"));
        if !conf_path.exists() {
            return Err(ConfigError::fatal(Error::new(
                sqlstate::CONFIG_FILE_ERROR,
                format!(
                    "could not access the server configuration file \"{}\": No such file or directory",
                    conf_path.display()
                ),
            )));
        }
        let parsed = read_config_files(&conf_path, &cfg.datadir);
        let contains_errors = |file: &Path| {
            Error::fatal(
                sqlstate::CONFIG_FILE_ERROR,
                format!("configuration file \"{}\" contains errors", file.display()),
            )
        };
        if !parsed.ok {
            return Err(ConfigError {
                logs: parsed.logs,
                fatal: contains_errors(&conf_path),
            });
        }
        let applied = cfg.apply_entries(&parsed.entries, false);
        if let Some(file) = applied.error_file {
            return Err(ConfigError {
                logs: applied.logs,
                fatal: contains_errors(&file),
            });
        }
        for (def, name, val) in cmdline {
            match def {
                Some(def) => {
                    cfg.values
                        .insert(def.name, Slot::new(val, GucSource::CommandLine));
                }
                None => {
                    cfg.custom.insert(
                        name.to_ascii_lowercase(),
                        Slot::new(val, GucSource::CommandLine),
                    );
                }
            }
        }
        Ok(cfg)
    }

    /// Applies file entries (last occurrence of each name wins). With `reload`,
    /// postmaster-context changes are refused and changes are logged as PostgreSQL does.
    fn apply_entries(&mut self, entries: &[ConfEntry], reload: bool) -> Applied {
        let mut out = Applied {
            logs: Vec::new(),
            error_file: None,
            names_ok: true,
        };
        // Pass 1: every name must be known (or a custom placeholder).
        for e in entries {
            if lookup(&e.name).is_none() && !is_custom_name(&e.name) {
                out.logs.push(LogLine::log(format!(
                    "unrecognized configuration parameter \"{}\" in file \"{}\" line {}",
                    e.name,
                    e.file.display(),
                    e.line
                )));
                out.error_file = Some(e.file.clone());
                out.names_ok = false;
            }
        }
        if !out.names_ok {
            return out;
        }
        // Only the last occurrence of each name counts.
        let key = |e: &ConfEntry| match lookup(&e.name) {
            Some(d) => d.name.to_string(),
            None => e.name.to_ascii_lowercase(),
        };
        let mut last: HashMap<String, usize> = HashMap::default();
        for (i, e) in entries.iter().enumerate() {
            last.insert(key(e), i);
        }
        // Settings that came from a file before and are gone now go back to default.
        if reload {
            let gone: Vec<&'static str> = self
                .values
                .iter()
                .filter(|(n, s)| s.source == GucSource::File && !last.contains_key(**n))
                .map(|(n, _)| *n)
                .collect();
            let mut gone = gone;
            gone.sort();
            for name in gone {
                let Some(def) = lookup(name) else { continue };
                if def.context == GucContext::Postmaster {
                    if self.values.get(name).map(|s| &s.value) != Some(&boot_value(def)) {
                        out.logs.push(LogLine::log(format!(
                            "parameter \"{name}\" cannot be changed without restarting the server"
                        )));
                        self.pending_restart.insert(def.name);
                        out.error_file = Some(self.get_str("config_file").into());
                    }
                    continue;
                }
                self.values.remove(name);
                out.logs.push(LogLine::log(format!(
                    "parameter \"{name}\" removed from configuration file, reset to default"
                )));
            }
            let gone_custom: Vec<String> = self
                .custom
                .iter()
                .filter(|(n, s)| s.source == GucSource::File && !last.contains_key(*n))
                .map(|(n, _)| n.clone())
                .collect();
            for n in gone_custom {
                self.custom.remove(&n);
            }
        }
        // Pass 2: values, in file order.
        for (i, e) in entries.iter().enumerate() {
            if last.get(&key(e)) != Some(&i) {
                continue;
            }
            let Some(def) = lookup(&e.name) else {
                let slot = Slot {
                    value: Value::Str(e.value.clone()),
                    source: GucSource::File,
                    file: Some(e.file.clone()),
                    line: Some(e.line),
                };
                self.custom.insert(e.name.to_ascii_lowercase(), slot);
                continue;
            };
            if def.context == GucContext::Internal {
                out.logs.push(LogLine::log(format!(
                    "parameter \"{}\" cannot be changed",
                    def.name
                )));
                out.error_file = Some(e.file.clone());
                continue;
            }
            let current = self.effective(def);
            let v = match value::parse(def, &e.value, Some(&current)) {
                Ok(v) => v,
                Err(err) => {
                    out.logs.push(LogLine::from_error(&err));
                    out.error_file = Some(e.file.clone());
                    continue;
                }
            };
            if self
                .values
                .get(def.name)
                .is_some_and(|s| s.source == GucSource::CommandLine)
            {
                continue;
            }
            if reload && def.context == GucContext::Postmaster {
                if v != current {
                    out.logs.push(LogLine::log(format!(
                        "parameter \"{}\" cannot be changed without restarting the server",
                        def.name
                    )));
                    self.pending_restart.insert(def.name);
                    out.error_file = Some(e.file.clone());
                    continue;
                }
                self.pending_restart.remove(def.name);
            } else if reload && v != current {
                out.logs.push(LogLine::log(format!(
                    "parameter \"{}\" changed to \"{}\"",
                    def.name, e.value
                )));
            }
            self.values.insert(
                def.name,
                Slot {
                    value: v,
                    source: GucSource::File,
                    file: Some(e.file.clone()),
                    line: Some(e.line),
                },
            );
        }
        out
    }

    /// Re-reads the files for SIGHUP: returns the new configuration and PostgreSQL's LOG
    /// lines (`parameter "work_mem" changed to "8MB"`, `parameter "port" cannot be
    /// changed without restarting the server`, `configuration file "…" contains errors;
    /// no changes were applied`). Postmaster-context settings keep their value and are
    /// marked pending_restart. The caller logs "received SIGHUP, reloading configuration
    /// files" itself. The files are the ones this configuration was loaded from
    /// (config_file, and postgresql.auto.conf of its data directory); `datadir` is
    /// accepted for symmetry with [`ServerConfig::load`] and not consulted.
    pub fn reload(&self, datadir: &Path) -> (ServerConfig, Vec<String>) {
        let _ = datadir;
        let conf_path = PathBuf::from(self.get_str("config_file"));
        let parsed = read_config_files(&conf_path, &self.datadir);
        let mut logs: Vec<LogLine> = parsed.logs.clone();
        if !parsed.ok {
            logs.push(LogLine::log(format!(
                "configuration file \"{}\" contains errors; no changes were applied",
                conf_path.display()
            )));
            return (self.clone(), logs.iter().flat_map(LogLine::lines).collect());
        }
        let mut next = self.clone();
        let applied = next.apply_entries(&parsed.entries, true);
        logs.extend(applied.logs);
        if !applied.names_ok {
            let file = applied.error_file.unwrap_or(conf_path);
            logs.push(LogLine::log(format!(
                "configuration file \"{}\" contains errors; no changes were applied",
                file.display()
            )));
            return (self.clone(), logs.iter().flat_map(LogLine::lines).collect());
        }
        if let Some(file) = applied.error_file {
            logs.push(LogLine::log(format!(
                "configuration file \"{}\" contains errors; unaffected changes were applied",
                file.display()
            )));
        }
        (next, logs.iter().flat_map(LogLine::lines).collect())
    }

    /// Sets a value the server controls itself (wal_segment_size and data_checksums
    /// from pg_control, in_hot_standby…), bypassing context checks; source `override`.
    pub fn set_internal(&mut self, name: &str, v: &str) -> Result<()> {
        let def = lookup(name).ok_or_else(|| unrecognized(name))?;
        let val = value::parse(def, v, Some(&self.effective(def)))?;
        self.values
            .insert(def.name, Slot::new(val, GucSource::Override));
        Ok(())
    }

    /// [F] Sets a preset value read from pg_control at start-up (wal_segment_size,
    /// data_checksums), bypassing context checks. As PostgreSQL's
    /// `PGC_S_DYNAMIC_DEFAULT`, pg_settings shows its source as `default`.
    pub fn set_preset(&mut self, name: &str, v: &str) -> Result<()> {
        let def = lookup(name).ok_or_else(|| unrecognized(name))?;
        let val = value::parse(def, v, Some(&self.effective(def)))?;
        self.values
            .insert(def.name, Slot::new(val, GucSource::Default));
        Ok(())
    }

    fn slot(&self, def: &'static SettingDef) -> Option<&Slot> {
        self.values.get(def.name)
    }

    /// The value in force, derived settings (wal_keep_size, wal_buffers = -1) resolved.
    fn effective(&self, def: &'static SettingDef) -> Value {
        let v = self
            .slot(def)
            .map(|s| s.value.clone())
            .unwrap_or_else(|| boot_value(def));
        match (def.name, &v) {
            ("wal_keep_size", Value::Int(mb)) => {
                let segs = self.get_int("wal_keep_segments");
                let seg_mb = self.get_int("wal_segment_size") / (1024 * 1024);
                Value::Int((*mb).max(segs.saturating_mul(seg_mb)).min(i32::MAX as i64))
            }
            ("wal_buffers", Value::Int(-1)) => {
                let per_segment = self.get_int("wal_segment_size") / 8192;
                let n = (self.get_int("shared_buffers") / 32).clamp(8, per_segment.max(8));
                Value::Int(n)
            }
            _ => v,
        }
    }

    fn def(name: &str) -> &'static SettingDef {
        lookup(name).unwrap_or_else(|| panic!("setting \"{name}\" is not in the registry"))
    }

    /// The value as SHOW prints it, or None for an unknown name. Custom placeholders
    /// (`myext.x`) set in a file are returned as written.
    pub fn get(&self, name: &str) -> Option<String> {
        match lookup(name) {
            Some(def) => Some(shown(def, &self.effective(def), |n| {
                self.effective(Self::def(n))
            })),
            None => self
                .custom
                .get(&name.to_ascii_lowercase())
                .map(|s| value::show_custom(&s.value)),
        }
    }

    /// A boolean setting's value. Panics on a name not in the registry or not boolean.
    pub fn get_bool(&self, name: &str) -> bool {
        match self.effective(Self::def(name)) {
            Value::Bool(b) => b,
            other => panic!("setting \"{name}\" is not a boolean: {other:?}"),
        }
    }

    /// An integer setting's value in its base unit (kB, 8 kB blocks, MB, bytes, ms, s or
    /// min, as PostgreSQL stores it). Panics on a name not in the registry or not integer.
    pub fn get_int(&self, name: &str) -> i64 {
        match self.effective(Self::def(name)) {
            Value::Int(i) => i,
            other => panic!("setting \"{name}\" is not an integer: {other:?}"),
        }
    }

    /// A real setting's value in its base unit. Panics on a name not in the registry
    /// or not real.
    pub fn get_real(&self, name: &str) -> f64 {
        match self.effective(Self::def(name)) {
            Value::Real(r) => r,
            Value::Int(i) => i as f64,
            other => panic!("setting \"{name}\" is not a real: {other:?}"),
        }
    }

    /// A string or enum setting's value (the canonical enum name); other types are
    /// rendered as SHOW prints them. Panics on a name not in the registry.
    pub fn get_str(&self, name: &str) -> String {
        let def = Self::def(name);
        value::show(def, &self.effective(def))
    }

    /// The `-c` overrides this configuration was loaded with (for a restart).
    pub fn overrides(&self) -> &[(String, String)] {
        &self.overrides
    }

    /// The data directory, absolute.
    pub fn data_directory(&self) -> &Path {
        &self.datadir
    }

    /// True when a postmaster-context setting was changed in the files but needs a
    /// restart (pg_settings.pending_restart).
    pub fn pending_restart(&self, name: &str) -> bool {
        lookup(name).is_some_and(|d| self.pending_restart.contains(d.name))
    }

    /// Where the value of `name` came from.
    pub fn source(&self, name: &str) -> Option<GucSource> {
        let def = lookup(name)?;
        Some(self.slot(def).map_or(GucSource::Default, |s| s.source))
    }
}

/// Reads postgresql.conf (strict) and then postgresql.auto.conf (optional) of `datadir`.
fn read_config_files(conf_path: &Path, datadir: &Path) -> conf::Parsed {
    let mut p = conf::Parsed {
        ok: true,
        ..conf::Parsed::default()
    };
    conf::read_into(conf_path, None, true, 0, &mut p);
    if p.ok {
        conf::read_into(
            &datadir.join("postgresql.auto.conf"),
            None,
            false,
            0,
            &mut p,
        );
    }
    p.logs.retain(|l| l.level != "NOTE");
    p
}

/// One row of the pg_settings view, each column as PostgreSQL formats it (None = NULL).
#[derive(Debug, Clone, PartialEq)]
pub struct PgSettingRow {
    /// The setting's canonical name.
    pub name: String,
    /// The current value, in the base unit, without a unit.
    pub setting: String,
    /// The base unit (`kB`, `8kB`, `ms`…), NULL for unitless settings.
    pub unit: Option<String>,
    /// The category (`Resource Usage / Memory`).
    pub category: String,
    /// The short description.
    pub short_desc: String,
    /// The longer description, if any.
    pub extra_desc: Option<String>,
    /// The context (`postmaster`, `user`…).
    pub context: String,
    /// The type (`bool`, `integer`, `real`, `string`, `enum`).
    pub vartype: String,
    /// Where the value came from (`default`, `configuration file`, `session`…).
    pub source: String,
    /// The minimum of numeric settings.
    pub min_val: Option<String>,
    /// The maximum of numeric settings.
    pub max_val: Option<String>,
    /// The listed values of enum settings (a text[] column).
    pub enumvals: Option<Vec<String>>,
    /// The boot value.
    pub boot_val: Option<String>,
    /// The value RESET would restore.
    pub reset_val: Option<String>,
    /// The file the value came from.
    pub sourcefile: Option<String>,
    /// The line of that file.
    pub sourceline: Option<i32>,
    /// True when the files hold a change that needs a restart.
    pub pending_restart: bool,
}

/// The names and order of the ParameterStatus messages sent after authentication.
const REPORTED: [&str; 13] = [
    "application_name",
    "client_encoding",
    "DateStyle",
    "default_transaction_read_only",
    "in_hot_standby",
    "integer_datetimes",
    "IntervalStyle",
    "is_superuser",
    "server_encoding",
    "server_version",
    "session_authorization",
    "standard_conforming_strings",
    "TimeZone",
];

/// Settings RESET ALL leaves alone (GUC_NO_RESET_ALL).
const NO_RESET_ALL: [&str; 5] = [
    "transaction_isolation",
    "transaction_read_only",
    "transaction_deferrable",
    "session_authorization",
    "role",
];

/// A session's settings: the server's values, overlaid with the StartupMessage values,
/// values the server sets internally, `SET` and `SET LOCAL`.
#[derive(Debug)]
pub struct SessionSettings {
    server: Arc<ServerConfig>,
    startup: HashMap<String, Slot>,
    internal: HashMap<String, Slot>,
    session: HashMap<String, Slot>,
    local: HashMap<String, Slot>,
    /// The transaction's `transaction_isolation` and `transaction_read_only` as taken
    /// from the defaults at its start ([`SessionSettings::begin_default_characteristics`]):
    /// read as `SET LOCAL` values below `local`, kept apart so that the transaction
    /// every statement runs in does not fill and empty that map.
    characteristics: [Option<Slot>; 2],
    /// The defaults' values for `characteristics` (not forced read-only) at a
    /// generation: every transaction starts from them, and while the generation stays
    /// they need no look-up.
    default_characteristics: Option<(u64, [Value; 2])>,
    /// The generation at which `characteristics` were installed from those defaults:
    /// ending the transaction at the same generation, the values after it are the ones
    /// it ran with, and nothing remembered needs checking.
    plain_characteristics: Option<u64>,
    /// Snapshots of (SET layer, SET LOCAL layer): the first taken at the start of the
    /// transaction block, one more per open savepoint. Empty outside a transaction.
    saved: Vec<(HashMap<String, Slot>, HashMap<String, Slot>)>,
    /// The last value reported to the client per GUC_REPORT setting; a Mutex only
    /// because [`SessionSettings::reported`] takes `&self`.
    last_reported: Mutex<HashMap<&'static str, String>>,
    /// Whether a GUC_REPORT setting may have changed since the last
    /// [`SessionSettings::take_reported_changes`]; lets the per-statement check skip
    /// recomputing the 13 values when nothing that could change them happened.
    reported_dirty: bool,
    /// Effective values read since the last change, by registry index: a statement
    /// reads a dozen settings, each otherwise looked up through four layers and the
    /// server's configuration. Every `&mut self` method empties it (`changed`); a
    /// Mutex only because reads take `&self`. A short list, scanned: a session reads
    /// few distinct settings, and an idle one holds none.
    memo: Mutex<Vec<(u16, Value)>>,
    /// [`SessionSettings::get_str`]'s answers, by registry name; kept and emptied
    /// with `memo`.
    memo_shown: Mutex<Vec<(&'static str, String)>>,
    /// Moves whenever an effective value may have changed — wherever `memo` is
    /// emptied or a value forgotten — except a transaction characteristic's
    /// (`transaction_isolation`, `transaction_read_only`, `transaction_deferrable`,
    /// set and dropped by every transaction): readers that remember other settings
    /// check it instead of asking again (see [`SessionSettings::generation`]).
    generation: u64,
}

/// `transaction_isolation` and `transaction_read_only`, in the order of
/// `SessionSettings::characteristics`.
fn characteristic_defs() -> [&'static SettingDef; 2] {
    static DEFS: OnceLock<[&'static SettingDef; 2]> = OnceLock::new();
    *DEFS.get_or_init(|| {
        [
            ServerConfig::def("transaction_isolation"),
            ServerConfig::def("transaction_read_only"),
        ]
    })
}

/// Where `key` sits in `SessionSettings::characteristics`.
fn characteristic_index(key: &str) -> Option<usize> {
    match key {
        "transaction_isolation" => Some(0),
        "transaction_read_only" => Some(1),
        _ => None,
    }
}

/// Whether `key` (a registry name or custom placeholder) is a GUC_REPORT setting.
fn is_reported(key: &str) -> bool {
    REPORTED.iter().any(|r| r.eq_ignore_ascii_case(key))
}

impl SessionSettings {
    /// A session view over `server` with no session-level values yet.
    pub fn new(server: Arc<ServerConfig>) -> SessionSettings {
        SessionSettings {
            server,
            startup: HashMap::default(),
            internal: HashMap::default(),
            session: HashMap::default(),
            local: HashMap::default(),
            characteristics: [None, None],
            default_characteristics: None,
            plain_characteristics: None,
            saved: Vec::new(),
            last_reported: Mutex::new(HashMap::default()),
            reported_dirty: true,
            memo: Mutex::new(Vec::new()),
            memo_shown: Mutex::new(Vec::new()),
            generation: 0,
        }
    }

    /// A number that changes whenever the effective value of any setting but the
    /// transaction characteristics (`transaction_isolation`, `transaction_read_only`,
    /// `transaction_deferrable`) may have changed: what a reader remembered of other
    /// settings at one generation is still their value while it stays the same.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Forgets every remembered effective value: called by the methods that may
    /// change many layers at once or the server configuration under them.
    fn changed(&mut self) {
        self.generation += 1;
        self.memo
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.memo_shown
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Forgets the remembered value of one setting (a session value depends only on
    /// that setting's own layers and the server's value — and a transaction
    /// characteristic outside a transaction on its `default_` setting, see
    /// `effective`).
    fn forget(&mut self, name: &str) {
        if let Some(def) = lookup(name) {
            self.forget_def(def);
        }
    }

    /// [`Self::forget`] of a registry entry.
    fn forget_def(&mut self, def: &'static SettingDef) {
        {
            if let Some(derived) = def.name.strip_prefix("default_") {
                if derived.starts_with("transaction_") {
                    self.forget(derived);
                }
            }
            if !def.name.starts_with("transaction_") {
                self.generation += 1;
            }
            let i = registry_index(def) as u16;
            self.memo
                .get_mut()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|(k, _)| *k != i);
            self.memo_shown
                .get_mut()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|(n, _)| *n != def.name);
        }
    }

    /// Resolves `name` to its registry entry (None for a custom placeholder) and the key
    /// of the session maps; unknown names are 42704.
    fn key(name: &str) -> Result<(Option<&'static SettingDef>, String)> {
        match lookup(name) {
            Some(def) => Ok((Some(def), def.name.to_string())),
            None if is_custom_name(name) => Ok((None, name.to_ascii_lowercase())),
            None => Err(unrecognized(name)),
        }
    }

    fn layered(&self, key: &str) -> Option<&Slot> {
        self.local
            .get(key)
            .or_else(|| characteristic_index(key).and_then(|i| self.characteristics[i].as_ref()))
            .or_else(|| self.session.get(key))
            .or_else(|| self.internal.get(key))
            .or_else(|| self.startup.get(key))
    }

    /// The slot RESET returns to: internal, then startup, then the server's.
    fn reset_slot(&self, def: Option<&'static SettingDef>, key: &str) -> Option<Slot> {
        if let Some(s) = self.internal.get(key).or_else(|| self.startup.get(key)) {
            return Some(s.clone());
        }
        match def {
            Some(def) => Some(Slot {
                value: self.server.effective(def),
                source: self
                    .server
                    .slot(def)
                    .map_or(GucSource::Default, |s| s.source),
                file: self.server.slot(def).and_then(|s| s.file.clone()),
                line: self.server.slot(def).and_then(|s| s.line),
            }),
            None => self.server.custom.get(key).cloned(),
        }
    }

    fn effective(&self, def: &'static SettingDef) -> Value {
        let i = registry_index(def) as u16;
        {
            let memo = self.memo.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, v)) = memo.iter().find(|(k, _)| *k == i) {
                return v.clone();
            }
        }
        let v = self.compute_effective(def);
        let mut memo = self.memo.lock().unwrap_or_else(|p| p.into_inner());
        if !memo.iter().any(|(k, _)| *k == i) {
            memo.push((i, v.clone()));
        }
        v
    }

    /// The effective value of `def` from the layers (not the memo): the innermost
    /// layer that holds it, else the server's value.
    fn compute_effective(&self, def: &'static SettingDef) -> Value {
        match self.layered(def.name) {
            Some(s) => s.value.clone(),
            // Every statement runs in a transaction whose characteristics start from
            // the session's defaults: outside one, SHOW sees those.
            None => {
                let default = match def.name {
                    "transaction_isolation" => Some("default_transaction_isolation"),
                    "transaction_read_only" => Some("default_transaction_read_only"),
                    "transaction_deferrable" => Some("default_transaction_deferrable"),
                    _ => None,
                };
                match default {
                    Some(default) => self.effective(ServerConfig::def(default)),
                    None => self.server.effective(def),
                }
            }
        }
    }

    fn shown(&self, def: &'static SettingDef) -> String {
        shown(def, &self.effective(def), |n| {
            self.effective(ServerConfig::def(n))
        })
    }

    fn superuser(&self) -> bool {
        matches!(
            self.layered("is_superuser").map(|s| &s.value),
            Some(Value::Bool(true))
        )
    }

    /// Applies a StartupMessage parameter or an `options` `-c` pair (source `client`).
    /// Superuser-only settings are allowed when `is_superuser` was set on (with
    /// [`SessionSettings::set_internal`]) before this call. The caller handles `user`,
    /// `database`, `replication` and `_pq_.*` itself and expands `options` with
    /// [`SessionSettings::parse_options`]; anything else it passes here.
    pub fn apply_startup(&mut self, name: &str, v: &str) -> Result<()> {
        // It may read the value before it changes it: forget it afterwards too.
        self.forget(name);
        let r = self.apply_startup_layer(name, v);
        self.forget(name);
        r
    }

    /// [`Self::apply_startup`] itself, between the two `forget` calls.
    fn apply_startup_layer(&mut self, name: &str, v: &str) -> Result<()> {
        let (def, key) = Self::key(name)?;
        let val = match def {
            Some(def) => {
                let su = self.superuser();
                match def.context {
                    GucContext::Internal => {
                        return Err(cant_change(
                            sqlstate::CANT_CHANGE_RUNTIME_PARAM,
                            format!("parameter \"{}\" cannot be changed", def.name),
                        ))
                    }
                    GucContext::Postmaster => {
                        return Err(cant_change(
                            sqlstate::CANT_CHANGE_RUNTIME_PARAM,
                            format!(
                                "parameter \"{}\" cannot be changed without restarting the server",
                                def.name
                            ),
                        ))
                    }
                    GucContext::Sighup => {
                        return Err(cant_change(
                            sqlstate::CANT_CHANGE_RUNTIME_PARAM,
                            format!("parameter \"{}\" cannot be changed now", def.name),
                        ))
                    }
                    GucContext::SuperuserBackend | GucContext::Superuser if !su => {
                        return Err(permission_denied(def.name))
                    }
                    _ => {}
                }
                value::parse(def, v, Some(&self.effective(def)))?
            }
            None => Value::Str(v.to_string()),
        };
        self.reported_dirty |= is_reported(&key);
        self.startup.insert(key, Slot::new(val, GucSource::Client));
        Ok(())
    }

    /// Parses the StartupMessage `options` string as PostgreSQL's `pg_split_opts` and
    /// switch processing do: words split at unescaped blanks (a backslash takes the next
    /// character literally), `-c name=value`, `-cname=value`, `--name=value`, and the
    /// classic single-letter switches (`-B`, `-d`, `-e`, `-F`, `-N`, `-p`, `-S`…).
    /// Dashes in names become underscores.
    pub fn parse_options(options: &str) -> Result<Vec<(String, String)>> {
        let mut words = Vec::new();
        let mut cur = String::new();
        let mut have = false;
        let mut chars = options.chars();
        while let Some(c) = chars.next() {
            if c.is_ascii_whitespace() {
                if have {
                    words.push(std::mem::take(&mut cur));
                    have = false;
                }
            } else if c == '\\' {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                have = true;
            } else {
                cur.push(c);
                have = true;
            }
        }
        if have {
            words.push(cur);
        }
        let mut out = Vec::new();
        let mut i = 0;
        let bad = |w: &str| {
            Error::new(
                sqlstate::SYNTAX_ERROR,
                format!("invalid command-line argument for server process: {w}"),
            )
            .with_hint("Try \"postgres --help\" for more information.")
        };
        while i < words.len() {
            let w = words[i].clone();
            i += 1;
            let Some(sw) = w.strip_prefix('-') else {
                return Err(bad(&w));
            };
            let (letter, rest) = if let Some(long) = sw.strip_prefix('-') {
                ('-', long.to_string())
            } else {
                let mut cs = sw.chars();
                let Some(l) = cs.next() else {
                    return Err(bad(&w));
                };
                (l, cs.as_str().to_string())
            };
            let needs_arg = "BcdDhkNpSrT".contains(letter);
            let arg = if letter == '-' || !needs_arg || !rest.is_empty() {
                rest
            } else if i < words.len() {
                i += 1;
                words[i - 1].clone()
            } else {
                return Err(bad(&w));
            };
            let pair = |n: &str, v: &str| (n.to_string(), v.to_string());
            match letter {
                '-' | 'c' => match arg.split_once('=') {
                    Some((n, v)) => out.push((n.replace('-', "_"), v.to_string())),
                    None => {
                        let prefix = if letter == '-' { "--" } else { "-c " };
                        return Err(Error::new(
                            sqlstate::SYNTAX_ERROR,
                            format!("{prefix}{arg} requires a value"),
                        ));
                    }
                },
                'B' => out.push(pair("shared_buffers", &arg)),
                'd' => out.push(pair(
                    "log_min_messages",
                    match arg.parse::<u8>() {
                        Ok(0) => "warning",
                        Ok(1) => "debug1",
                        Ok(2) => "debug2",
                        Ok(3) => "debug3",
                        Ok(4) => "debug4",
                        Ok(_) => "debug5",
                        Err(_) => return Err(bad(&w)),
                    },
                )),
                'D' => out.push(pair("data_directory", &arg)),
                'e' if arg.is_empty() => out.push(pair("DateStyle", "euro")),
                'F' if arg.is_empty() => out.push(pair("fsync", "off")),
                'h' => out.push(pair("listen_addresses", &arg)),
                'i' if arg.is_empty() => out.push(pair("listen_addresses", "*")),
                'k' => out.push(pair("unix_socket_directories", &arg)),
                'l' if arg.is_empty() => out.push(pair("ssl", "on")),
                'N' => out.push(pair("max_connections", &arg)),
                'p' => out.push(pair("port", &arg)),
                'S' => out.push(pair("work_mem", &arg)),
                _ => return Err(bad(&w)),
            }
        }
        Ok(out)
    }

    /// `SET [LOCAL] name = value` (or `TO DEFAULT` when `v` is None) with PostgreSQL's
    /// context rules and error texts. `SET LOCAL` outside a transaction does nothing.
    pub fn set(&mut self, name: &str, v: Option<&str>, local: bool, superuser: bool) -> Result<()> {
        // It may read the value before it changes it: forget it afterwards too.
        self.forget(name);
        let r = self.set_layer(name, v, local, superuser);
        self.forget(name);
        r
    }

    /// [`Self::set`] itself, between the two `forget` calls.
    fn set_layer(
        &mut self,
        name: &str,
        v: Option<&str>,
        local: bool,
        superuser: bool,
    ) -> Result<()> {
        let (def, key) = Self::key(name)?;
        if let Some(def) = def {
            check_set_context(def, superuser)?;
        }
        let slot = match v {
            None => self
                .reset_slot(def, &key)
                .unwrap_or_else(|| Slot::new(Value::Str(String::new()), GucSource::Default)),
            Some(text) => {
                let val = match def {
                    Some(def) => value::parse(def, text, Some(&self.effective(def)))?,
                    None => Value::Str(text.to_string()),
                };
                Slot::new(val, GucSource::Session)
            }
        };
        self.reported_dirty |= is_reported(&key);
        if local {
            if !self.saved.is_empty() {
                self.local.insert(key, slot);
            }
        } else {
            self.remove_local(&key);
            if v.is_none() {
                self.session.remove(&key);
                if def.is_none() && self.reset_slot(None, &key).is_none() {
                    // A placeholder reset to default reads as an empty string.
                    self.session.insert(key, slot);
                }
            } else {
                self.session.insert(key, slot);
            }
        }
        Ok(())
    }

    /// `RESET name`: back to the value at session start, with SET's context checks
    /// (superuser rights taken from `is_superuser`).
    pub fn reset(&mut self, name: &str) -> Result<()> {
        self.changed();
        let su = self.superuser();
        self.set(name, None, false, su)
    }

    /// `RESET ALL`: drops every SET value except those PostgreSQL keeps
    /// (transaction_isolation, session_authorization, role…).
    pub fn reset_all(&mut self) {
        self.changed();
        self.reported_dirty = true;
        self.session
            .retain(|k, _| NO_RESET_ALL.contains(&k.as_str()));
        self.local.retain(|k, _| NO_RESET_ALL.contains(&k.as_str()));
    }

    /// Marks the start of a transaction block: SET values made from now on are undone
    /// if the transaction rolls back, and SET LOCAL values last until its end.
    /// Calling it again inside the block does nothing.
    pub fn begin_transaction(&mut self) {
        if self.saved.is_empty() {
            self.saved.push((self.session.clone(), self.local.clone()));
        }
    }

    /// Whether a transaction's values are held: from [`SessionSettings::begin_transaction`]
    /// or [`SessionSettings::begin_default_characteristics`] until
    /// [`SessionSettings::end_transaction`].
    pub fn in_transaction(&self) -> bool {
        !self.saved.is_empty() || self.characteristics.iter().any(Option::is_some)
    }

    /// Ends the transaction block: SET LOCAL values are dropped, and on rollback the SET
    /// values go back to what they were at [`SessionSettings::begin_transaction`].
    pub fn end_transaction(&mut self, committed: bool) {
        self.reported_dirty |= self.local.keys().any(|k| is_reported(k));
        let local = std::mem::take(&mut self.local);
        let characteristics = std::mem::take(&mut self.characteristics);
        let plain = self.plain_characteristics.take();
        if !self.saved.is_empty() {
            let (session, _) = self.saved.swap_remove(0);
            if !committed {
                self.reported_dirty |= session != self.session;
                if session != self.session {
                    self.changed();
                }
                self.session = session;
            }
            self.saved.clear();
        }
        for (k, slot) in local {
            match lookup(&k) {
                // A transaction characteristic usually ends as the default it started
                // from: its remembered value stays right then (see
                // `install_characteristic`).
                Some(def) if def.name.starts_with("transaction_") => {
                    if self.compute_effective(def) != slot.value {
                        self.forget_def(def);
                    }
                }
                _ => self.forget(&k),
            }
        }
        if plain.is_some() && plain == Some(self.generation) {
            // Nothing moved the defaults (or anything else) since the transaction
            // began: the characteristics after it are those it ran with.
            return;
        }
        for (def, slot) in characteristic_defs().into_iter().zip(characteristics) {
            if let Some(slot) = slot {
                if self.compute_effective(def) != slot.value {
                    self.forget_def(def);
                }
            }
        }
    }

    /// Drops a `SET LOCAL` value, and the transaction characteristic of that name.
    fn remove_local(&mut self, key: &str) {
        self.local.remove(key);
        if let Some(i) = characteristic_index(key) {
            self.characteristics[i] = None;
        }
    }

    /// `SAVEPOINT`: SET and SET LOCAL values made after it are undone by rolling back
    /// to it. Does nothing outside a transaction block.
    pub fn begin_subtransaction(&mut self) {
        if !self.saved.is_empty() {
            self.saved.push((self.session.clone(), self.local.clone()));
        }
    }

    /// Closes the innermost savepoint: `RELEASE` (`committed`) keeps the values set
    /// since it; `ROLLBACK TO` restores them (the caller then opens the savepoint again
    /// with [`SessionSettings::begin_subtransaction`], as ROLLBACK TO keeps it).
    pub fn end_subtransaction(&mut self, committed: bool) {
        self.changed();
        if self.saved.len() > 1 {
            if let Some((session, local)) = self.saved.pop() {
                if !committed {
                    self.reported_dirty = true;
                    self.session = session;
                    self.local = local;
                }
            }
        }
    }

    /// `SHOW name`, formatted as PostgreSQL prints it.
    pub fn show(&self, name: &str) -> Result<String> {
        let (def, key) = Self::key(name)?;
        match def {
            Some(def) => Ok(self.shown(def)),
            None => self
                .layered(&key)
                .or_else(|| self.server.custom.get(&key))
                .map(|s| value::show_custom(&s.value))
                .ok_or_else(|| unrecognized(name)),
        }
    }

    /// The rows of `SHOW ALL`: name, value, short description, in name order.
    pub fn show_all(&self) -> Vec<(String, String, String)> {
        registry()
            .iter()
            .filter(|d| d.show_all)
            .map(|d| (d.name.to_string(), self.shown(d), d.short_desc.to_string()))
            .collect()
    }

    /// The rows of the pg_settings view, in name order.
    pub fn pg_settings_rows(&self) -> Vec<PgSettingRow> {
        registry()
            .iter()
            .filter(|d| d.show_all)
            .map(|d| {
                let slot = self.layered(d.name).or_else(|| self.server.slot(d));
                let cur = self.effective(d);
                let numeric = matches!(d.vartype, VarType::Integer | VarType::Real);
                let fmt_num = |x: f64| match d.vartype {
                    VarType::Integer => (x as i64).to_string(),
                    _ => unit::format_g(x),
                };
                let raw = |v: &Value| match v {
                    Value::Int(i) => i.to_string(),
                    other => value::setting_text(d, other),
                };
                let reset = self.reset_slot(Some(d), d.name).map(|s| s.value);
                PgSettingRow {
                    name: d.name.to_string(),
                    setting: if d.name == "archive_command" {
                        self.shown(d)
                    } else {
                        value::setting_text(d, &cur)
                    },
                    unit: unit::unit_name(d.unit).map(str::to_string),
                    category: d.category.to_string(),
                    short_desc: d.short_desc.to_string(),
                    extra_desc: d.extra_desc.map(str::to_string),
                    context: d.context.as_str().to_string(),
                    vartype: d.vartype.as_str().to_string(),
                    source: slot
                        .map_or(GucSource::Default, |s| s.source)
                        .as_str()
                        .to_string(),
                    min_val: numeric.then(|| fmt_num(d.min)),
                    max_val: numeric.then(|| fmt_num(d.max)),
                    enumvals: (d.vartype == VarType::Enum).then(|| {
                        d.enum_values
                            .iter()
                            .filter(|e| !e.hidden)
                            .map(|e| e.name.to_string())
                            .collect()
                    }),
                    boot_val: d.boot.map(|_| raw(&boot_value(d))),
                    reset_val: reset.as_ref().map(raw),
                    sourcefile: slot
                        .and_then(|s| s.file.as_ref())
                        .map(|f| f.to_string_lossy().into_owned()),
                    sourceline: slot.and_then(|s| s.line).map(|l| l as i32),
                    pending_restart: self.server.pending_restart.contains(d.name),
                }
            })
            .collect()
    }

    /// A boolean setting's value in this session. Panics on a name not in the registry.
    pub fn get_bool(&self, name: &str) -> bool {
        match self.effective(ServerConfig::def(name)) {
            Value::Bool(b) => b,
            other => panic!("setting \"{name}\" is not a boolean: {other:?}"),
        }
    }

    /// An integer setting's value in its base unit in this session. Panics on a name not
    /// in the registry.
    pub fn get_int(&self, name: &str) -> i64 {
        match self.effective(ServerConfig::def(name)) {
            Value::Int(i) => i,
            other => panic!("setting \"{name}\" is not an integer: {other:?}"),
        }
    }

    /// A real setting's value in its base unit in this session. Panics on a name not in
    /// the registry.
    pub fn get_real(&self, name: &str) -> f64 {
        match self.effective(ServerConfig::def(name)) {
            Value::Real(r) => r,
            Value::Int(i) => i as f64,
            other => panic!("setting \"{name}\" is not a real: {other:?}"),
        }
    }

    /// A string or enum setting's value in this session (other types as SHOW prints
    /// them). Panics on a name not in the registry.
    pub fn get_str(&self, name: &str) -> String {
        // Asked for by its registry spelling (as tusk's own code does), a value shown
        // before is found without a lookup; `memo_shown` is emptied with `memo`.
        {
            let shown = self.memo_shown.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, v)) = shown.iter().find(|(n, _)| *n == name) {
                return v.clone();
            }
        }
        let def = ServerConfig::def(name);
        let v = value::show(def, &self.effective(def));
        let mut shown = self.memo_shown.lock().unwrap_or_else(|p| p.into_inner());
        if !shown.iter().any(|(n, _)| *n == def.name) {
            shown.push((def.name, v.clone()));
        }
        v
    }

    /// The 13 ParameterStatus pairs sent after authentication, in PostgreSQL's order.
    /// They become the baseline for [`SessionSettings::take_reported_changes`].
    pub fn reported(&self) -> Vec<(&'static str, String)> {
        let out: Vec<(&'static str, String)> = REPORTED
            .iter()
            .map(|n| {
                let def = ServerConfig::def(n);
                (def.name, value::show(def, &self.effective(def)))
            })
            .collect();
        let mut last = self.last_reported.lock().unwrap_or_else(|p| p.into_inner());
        for (n, v) in &out {
            last.insert(n, v.clone());
        }
        out
    }

    /// The GUC_REPORT settings whose value changed since the last report, to send as
    /// ParameterStatus after the statement's CommandComplete.
    pub fn take_reported_changes(&mut self) -> Vec<(&'static str, String)> {
        if !self.reported_dirty {
            return Vec::new();
        }
        self.reported_dirty = false;
        let now: Vec<(&'static str, String)> = REPORTED
            .iter()
            .map(|n| {
                let def = ServerConfig::def(n);
                (def.name, value::show(def, &self.effective(def)))
            })
            .collect();
        let last = self
            .last_reported
            .get_mut()
            .unwrap_or_else(|p| p.into_inner());
        let mut changed = Vec::new();
        for (n, v) in now {
            if last.get(n) != Some(&v) {
                last.insert(n, v.clone());
                changed.push((n, v));
            }
        }
        changed
    }

    /// Sets a value the server controls (is_superuser, session_authorization,
    /// in_hot_standby, transaction_read_only…) bypassing context checks; any SET value
    /// of the same setting is dropped. An invalid name or value is ignored (it is a
    /// programming error, logged by debug assertions).
    pub fn set_internal(&mut self, name: &str, v: &str) {
        // It may read the value before it changes it: forget it afterwards too.
        self.forget(name);
        self.set_internal_layer(name, v);
        self.forget(name);
    }

    /// [`Self::set_internal`] itself, between the two `forget` calls.
    fn set_internal_layer(&mut self, name: &str, v: &str) {
        let Ok((def, key)) = Self::key(name) else {
            debug_assert!(false, "set_internal of unknown setting {name}");
            return;
        };
        let val = match def {
            Some(def) => match value::parse(def, v, Some(&self.effective(def))) {
                Ok(val) => val,
                Err(e) => {
                    debug_assert!(false, "set_internal({name}, {v}): {e}");
                    return;
                }
            },
            None => Value::Str(v.to_string()),
        };
        self.reported_dirty |= is_reported(&key);
        self.session.remove(&key);
        self.remove_local(&key);
        self.internal
            .insert(key, Slot::new(val, GucSource::Override));
    }

    /// A transaction's characteristics at its start, from the session's defaults:
    /// `transaction_isolation` and `transaction_read_only` as values of the
    /// transaction (dropped at its end), shown with source `override` as PostgreSQL
    /// shows them. What `SET LOCAL` would do, without its checks, which a value the
    /// server sets itself does not need (run per transaction).
    pub fn begin_transaction_characteristics(&mut self, isolation: &str, read_only: bool) {
        for (name, v) in [
            ("transaction_isolation", isolation),
            (
                "transaction_read_only",
                if read_only { "on" } else { "off" },
            ),
        ] {
            let def = ServerConfig::def(name);
            let Ok(val) = value::parse(def, v, None) else {
                debug_assert!(false, "{name} = {v}");
                continue;
            };
            self.install_characteristic(def, val);
        }
    }

    /// [`Self::begin_transaction_characteristics`] with the session's defaults
    /// (`default_transaction_isolation`, and `default_transaction_read_only` unless
    /// `force_read_only`, as on a hot standby), taken as values: what every
    /// transaction does.
    pub fn begin_default_characteristics(&mut self, force_read_only: bool) {
        if !force_read_only {
            if let Some((generation, values)) = &self.default_characteristics {
                if *generation == self.generation {
                    // Remembered values of the characteristics outside a transaction
                    // are these defaults (`end_transaction` forgets any other).
                    let [iso, ro] = values.clone();
                    self.characteristics = [
                        Some(Slot::new(iso, GucSource::Override)),
                        Some(Slot::new(ro, GucSource::Override)),
                    ];
                    self.plain_characteristics = Some(self.generation);
                    return;
                }
            }
        }
        static DEFAULTS: OnceLock<[&'static SettingDef; 2]> = OnceLock::new();
        let [iso_default, ro_default] = *DEFAULTS.get_or_init(|| {
            [
                ServerConfig::def("default_transaction_isolation"),
                ServerConfig::def("default_transaction_read_only"),
            ]
        });
        let isolation = self.effective(iso_default);
        let read_only = match self.effective(ro_default) {
            Value::Bool(b) => Value::Bool(b || force_read_only),
            other => other,
        };
        for (i, (def, val)) in characteristic_defs()
            .into_iter()
            .zip([isolation, read_only])
            .enumerate()
        {
            // As `install_characteristic`: the remembered value stays when equal.
            if self.effective(def) != val {
                self.forget_def(def);
            }
            self.characteristics[i] = Some(Slot::new(val, GucSource::Override));
        }
        if !force_read_only {
            let values = self.characteristics.clone().map(|c| c.map(|s| s.value));
            if let [Some(iso), Some(ro)] = values {
                self.default_characteristics = Some((self.generation, [iso, ro]));
                self.plain_characteristics = Some(self.generation);
            }
        }
    }

    /// Sets a transaction characteristic for the transaction (as `SET LOCAL`, source
    /// `override`). The remembered value is forgotten only when this one differs: a
    /// transaction starting from the defaults, as nearly all do, leaves it (and the
    /// shown text) as the transaction before left it.
    fn install_characteristic(&mut self, def: &'static SettingDef, val: Value) {
        if self.effective(def) != val {
            self.forget_def(def);
        }
        self.local
            .insert(def.name.to_string(), Slot::new(val, GucSource::Override));
    }

    /// Replaces the server-level configuration after a SIGHUP reload; session values
    /// stay.
    pub fn update_server(&mut self, server: Arc<ServerConfig>) {
        self.changed();
        self.reported_dirty = true;
        self.server = server;
    }

    /// The server-level configuration this session reads through.
    pub fn server(&self) -> &Arc<ServerConfig> {
        &self.server
    }
}

/// The SHOW text of a value, with the show hooks that depend on other settings:
/// archive_command reads `(disabled)` unless archiving is on (archive_mode not off and
/// wal_level not minimal), as in PostgreSQL.
fn shown(def: &SettingDef, v: &Value, other: impl Fn(&str) -> Value) -> String {
    if def.name == "archive_command" {
        let off = |n: &str, bad: &str| matches!(other(n), Value::Str(s) if s == bad);
        if off("archive_mode", "off") || off("wal_level", "minimal") {
            return "(disabled)".to_string();
        }
    }
    value::show(def, v)
}

fn permission_denied(name: &str) -> Error {
    Error::new(
        sqlstate::INSUFFICIENT_PRIVILEGE,
        format!("permission denied to set parameter \"{name}\""),
    )
}

/// The context rules of SET: which settings may change in a running session.
fn check_set_context(def: &SettingDef, superuser: bool) -> Result<()> {
    let code = sqlstate::CANT_CHANGE_RUNTIME_PARAM;
    let name = def.name;
    match def.context {
        GucContext::Internal => Err(cant_change(
            code,
            format!("parameter \"{name}\" cannot be changed"),
        )),
        GucContext::Postmaster => Err(cant_change(
            code,
            format!("parameter \"{name}\" cannot be changed without restarting the server"),
        )),
        GucContext::Sighup => Err(cant_change(
            code,
            format!("parameter \"{name}\" cannot be changed now"),
        )),
        GucContext::SuperuserBackend | GucContext::Backend => Err(cant_change(
            code,
            format!("parameter \"{name}\" cannot be set after connection start"),
        )),
        GucContext::Superuser if !superuser => Err(permission_denied(name)),
        _ => Ok(()),
    }
}

/// Settings whose value is a list (GUC_LIST_INPUT): `SET name = a, b` is allowed.
const LIST_INPUT: [&str; 10] = [
    "DateStyle",
    "search_path",
    "temp_tablespaces",
    "session_preload_libraries",
    "shared_preload_libraries",
    "local_preload_libraries",
    "listen_addresses",
    "unix_socket_directories",
    "log_destination",
    "wal_consistency_checking",
];

/// List settings whose elements are identifiers, quoted when needed (GUC_LIST_QUOTE).
const LIST_QUOTE: [&str; 5] = [
    "search_path",
    "temp_tablespaces",
    "session_preload_libraries",
    "shared_preload_libraries",
    "local_preload_libraries",
];

/// Keywords PostgreSQL's `quote_identifier` always quotes (reserved, type/function-name
/// and column-name keywords).
const QUOTED_KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

/// Quotes an identifier as PostgreSQL's `quote_identifier` does: unchanged when it is
/// lower-case letters, digits and underscores starting with a letter or underscore and
/// not a keyword that needs quoting; otherwise in double quotes with `"` doubled.
pub fn quote_identifier(s: &str) -> String {
    let safe = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !QUOTED_KEYWORDS.contains(&s);
    if safe {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// Builds the value of `SET name = arg1, arg2, …` as PostgreSQL's
/// `flatten_set_variable_args` does. `args` are the arguments' texts (identifiers after
/// case folding, string literals' contents, numbers as written). Several arguments are
/// allowed only for list settings (search_path, DateStyle…) and are joined with `, `;
/// for search_path-like settings each is quoted as an identifier when needed, so
/// `SET search_path = 'a b', public` gives `"a b", public`.
pub fn flatten_set_args(name: &str, args: &[&str]) -> Result<String> {
    let def = lookup(name);
    if def.is_none() && !is_custom_name(name) {
        return Err(unrecognized(name));
    }
    let canonical = def.map_or(name, |d| d.name);
    if args.len() > 1 && !LIST_INPUT.contains(&canonical) {
        return Err(Error::new(
            sqlstate::SYNTAX_ERROR,
            format!("SET {canonical} takes only one argument"),
        ));
    }
    let quote = LIST_QUOTE.contains(&canonical);
    Ok(args
        .iter()
        .map(|a| {
            if quote {
                quote_identifier(a)
            } else {
                a.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", "))
}

/// Splits a list-valued setting (listen_addresses, unix_socket_directories,
/// search_path, log_destination…) into its elements as PostgreSQL's `SplitGUCList`
/// does: comma-separated, blanks around elements dropped, double-quoted elements kept
/// verbatim with `""` standing for one quote. An empty value is an empty list; None for
/// bad syntax (an empty element or an unterminated quote).
pub fn split_list(value: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    let skip_ws = |it: &mut std::iter::Peekable<std::str::Chars>| {
        while it.peek().is_some_and(|c| c.is_whitespace()) {
            it.next();
        }
    };
    skip_ws(&mut chars);
    if chars.peek().is_none() {
        return Some(out);
    }
    loop {
        let mut item = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return None,
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        item.push('"');
                    }
                    Some('"') => break,
                    Some(c) => item.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                item.push(c);
                chars.next();
            }
            item = item.trim_end().to_string();
            if item.is_empty() {
                return None;
            }
        }
        out.push(item);
        skip_ws(&mut chars);
        match chars.next() {
            None => return Some(out),
            Some(',') => skip_ws(&mut chars),
            Some(_) => return None,
        }
    }
}

/// The header PostgreSQL writes at the top of postgresql.auto.conf.
pub const AUTO_CONF_HEADER: &str =
    "# Do not edit this file manually!\n# It will be overwritten by the ALTER SYSTEM command.\n";

/// `ALTER SYSTEM SET name = value` (or `ALTER SYSTEM RESET name` when `value` is None;
/// `ALTER SYSTEM RESET ALL` is name `all` with None): validates the value, then rewrites
/// `datadir/postgresql.auto.conf` as PostgreSQL does (header comment, the entry moved to
/// the end, values single-quoted with `'` and `\` doubled), atomically through a
/// temporary file, fsync and rename.
pub fn alter_system(datadir: &Path, name: &str, value: Option<&str>) -> Result<()> {
    let reset_all = value.is_none() && name.eq_ignore_ascii_case("all");
    let canonical = if reset_all {
        String::new()
    } else {
        let def = lookup(name).ok_or_else(|| unrecognized(name))?;
        if def.context == GucContext::Internal
            || matches!(
                def.name,
                "data_directory" | "config_file" | "hba_file" | "ident_file"
            )
        {
            return Err(cant_change(
                sqlstate::CANT_CHANGE_RUNTIME_PARAM,
                format!("parameter \"{}\" cannot be changed", def.name),
            ));
        }
        if let Some(v) = value {
            value::parse(def, v, None)?;
            if v.contains('\n') {
                return Err(Error::new(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "parameter value for ALTER SYSTEM must not contain a newline",
                ));
            }
        }
        def.name.to_string()
    };
    let path = datadir.join("postgresql.auto.conf");
    let mut entries: Vec<(String, String)> = if path.exists() && !reset_all {
        let parsed = conf::parse_file(&path).map_err(|_| {
            Error::new(
                sqlstate::CONFIG_FILE_ERROR,
                format!("could not parse contents of file \"{}\"", path.display()),
            )
        })?;
        parsed.into_iter().map(|e| (e.name, e.value)).collect()
    } else {
        Vec::new()
    };
    if !reset_all {
        entries.retain(|(n, _)| !n.eq_ignore_ascii_case(&canonical));
        if let Some(v) = value {
            entries.push((canonical, v.to_string()));
        }
    }
    let mut text = String::from(AUTO_CONF_HEADER);
    for (n, v) in &entries {
        let escaped = v.replace('\\', "\\\\").replace('\'', "''");
        text.push_str(&format!("{n} = '{escaped}'\n"));
    }
    let tmp = datadir.join("postgresql.auto.conf.tmp");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(datadir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(format!("could not write file \"{}\"", path.display()), e)
    })
}

/// The settings of a legacy recovery.conf (PostgreSQL <= 11), checked and mapped to
/// PostgreSQL 15 names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryConf {
    /// True when the file says `standby_mode = on`.
    pub standby_mode: bool,
    /// The other settings, as (PostgreSQL 15 name, value) in file order; `trigger_file`
    /// appears as `promote_trigger_file`.
    pub settings: Vec<(String, String)>,
}

/// Settings recovery.conf may hold besides `standby_mode` and `trigger_file`.
const RECOVERY_NAMES: &[&str] = &[
    "primary_conninfo",
    "primary_slot_name",
    "restore_command",
    "archive_cleanup_command",
    "recovery_end_command",
    "recovery_target_timeline",
    "recovery_target",
    "recovery_target_lsn",
    "recovery_target_time",
    "recovery_target_xid",
    "recovery_target_name",
    "recovery_target_inclusive",
    "recovery_target_action",
    "recovery_min_apply_delay",
    "promote_trigger_file",
];

/// Reads `datadir/recovery.conf` if it exists (Ok(None) when it does not). Values are
/// validated like postgresql.conf values; unknown names are errors with PostgreSQL's
/// texts. The caller applies `settings` to its ServerConfig with
/// [`ServerConfig::apply_recovery_conf`].
#[allow(clippy::result_large_err)]
pub fn read_recovery_conf(
    datadir: &Path,
) -> std::result::Result<Option<RecoveryConf>, ConfigError> {
    let path = datadir.join("recovery.conf");
    if !path.exists() {
        return Ok(None);
    }
    let fatal = |logs: Vec<LogLine>| ConfigError {
        logs,
        fatal: Error::fatal(
            sqlstate::CONFIG_FILE_ERROR,
            format!("configuration file \"{}\" contains errors", path.display()),
        ),
    };
    let entries = conf::parse_file(&path).map_err(fatal)?;
    let mut rc = RecoveryConf::default();
    let mut logs = Vec::new();
    for e in entries {
        let lname = e.name.to_ascii_lowercase();
        if lname == "standby_mode" {
            match value::parse_bool(&e.value) {
                Some(b) => rc.standby_mode = b,
                None => logs.push(LogLine::log(
                    "parameter \"standby_mode\" requires a Boolean value",
                )),
            }
            continue;
        }
        let name = if lname == "trigger_file" {
            "promote_trigger_file".to_string()
        } else {
            lname
        };
        match lookup(&name).filter(|d| RECOVERY_NAMES.contains(&d.name)) {
            Some(def) => match value::parse(def, &e.value, None) {
                Ok(_) => rc.settings.push((def.name.to_string(), e.value)),
                Err(err) => logs.push(LogLine::from_error(&err)),
            },
            None => logs.push(LogLine::log(format!(
                "unrecognized configuration parameter \"{}\" in file \"{}\" line {}",
                e.name,
                e.file.display(),
                e.line
            ))),
        }
    }
    if logs.is_empty() {
        Ok(Some(rc))
    } else {
        Err(fatal(logs))
    }
}

impl ServerConfig {
    /// The LOG lines for the recovery.conf settings that a configuration file
    /// (postgresql.conf, postgresql.auto.conf, an included file) also sets: recovery.conf
    /// wins, as an operator of PostgreSQL 11 or older expects, and says so —
    /// `parameter "primary_conninfo" is set in both "…/recovery.conf" and
    /// "…/postgresql.auto.conf"; the value from recovery.conf is used`. One line per
    /// setting, in recovery.conf's order (a setting repeated there counts once).
    pub fn recovery_conf_overrides(&self, datadir: &Path, rc: &RecoveryConf) -> Vec<LogLine> {
        let file = datadir.join("recovery.conf");
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (name, _) in &rc.settings {
            let Some(def) = lookup(name) else { continue };
            if !seen.insert(def.name) {
                continue;
            }
            let Some(slot) = self.values.get(def.name) else {
                continue;
            };
            let Some(other) = slot
                .file
                .as_ref()
                .filter(|_| slot.source == GucSource::File)
            else {
                continue;
            };
            if *other == file {
                continue;
            }
            out.push(LogLine::log(format!(
                "parameter \"{}\" is set in both \"{}\" and \"{}\"; the value from recovery.conf is used",
                def.name,
                file.display(),
                other.display()
            )));
        }
        out
    }

    /// Applies the settings of a legacy recovery.conf (source `configuration file`,
    /// recovery.conf as source file), overriding postgresql.conf's values; each
    /// setting also set in a configuration file is logged once
    /// ([`ServerConfig::recovery_conf_overrides`]).
    pub fn apply_recovery_conf(&mut self, datadir: &Path, rc: &RecoveryConf) -> Result<()> {
        for line in self.recovery_conf_overrides(datadir, rc) {
            tracing::info!("{}", line.message);
        }
        let file = datadir.join("recovery.conf");
        for (name, v) in &rc.settings {
            let def = lookup(name).ok_or_else(|| unrecognized(name))?;
            let val = value::parse(def, v, None)?;
            self.values.insert(
                def.name,
                Slot {
                    value: val,
                    source: GucSource::File,
                    file: Some(file.clone()),
                    line: None,
                },
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
