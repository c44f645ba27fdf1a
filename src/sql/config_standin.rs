//! TEMPORARY private stand-in for `crate::config` (branch `config`) with the same
//! signatures, so the SQL layer compiles and runs before that branch lands. Deleted when
//! the real module is merged.
#![allow(dead_code)]

use crate::err;
use crate::error::{sqlstate, Result};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Server-level settings.
#[derive(Debug, Default)]
pub struct ServerConfig {}

impl ServerConfig {
    pub fn get_str(&self, name: &str) -> String {
        default_for(name).unwrap_or_default().to_string()
    }
    pub fn get_bool(&self, name: &str) -> bool {
        self.get_str(name) == "on"
    }
    pub fn get_int(&self, name: &str) -> i64 {
        self.get_str(name).parse().unwrap_or(0)
    }
}

const DEFAULTS: &[(&str, &str, &str)] = &[
    (
        "application_name",
        "",
        "Sets the application name to be reported in statistics and logs.",
    ),
    (
        "client_encoding",
        "UTF8",
        "Sets the client's character set encoding.",
    ),
    (
        "DateStyle",
        "ISO, MDY",
        "Sets the display format for date and time values.",
    ),
    (
        "extra_float_digits",
        "1",
        "Sets the number of digits displayed for floating-point values.",
    ),
    (
        "integer_datetimes",
        "on",
        "Shows whether datetimes are integer based.",
    ),
    (
        "max_connections",
        "100",
        "Sets the maximum number of concurrent connections.",
    ),
    (
        "password_encryption",
        "scram-sha-256",
        "Chooses the algorithm for encrypting passwords.",
    ),
    (
        "search_path",
        "\"$user\", public",
        "Sets the schema search order for names that are not schema-qualified.",
    ),
    (
        "server_version",
        "15.0 (tusk 0.1.0)",
        "Shows the server version.",
    ),
    (
        "standard_conforming_strings",
        "on",
        "Causes '...' strings to treat backslashes literally.",
    ),
    (
        "statement_timeout",
        "0",
        "Sets the maximum allowed duration of any statement.",
    ),
    (
        "synchronous_commit",
        "on",
        "Sets the current transaction's synchronization level.",
    ),
    (
        "TimeZone",
        "UTC",
        "Sets the time zone for displaying and interpreting time stamps.",
    ),
    (
        "transaction_isolation",
        "read committed",
        "Sets the current transaction's isolation level.",
    ),
    (
        "work_mem",
        "4MB",
        "Sets the maximum memory to be used for query workspaces.",
    ),
];

fn canonical(name: &str) -> Option<&'static str> {
    DEFAULTS
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .map(|(n, _, _)| *n)
}

fn default_for(name: &str) -> Option<&'static str> {
    DEFAULTS
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v, _)| *v)
}

/// A pg_settings row.
#[derive(Debug, Clone, Default)]
pub struct PgSettingRow {
    pub name: String,
    pub setting: String,
    pub unit: Option<String>,
    pub category: String,
    pub short_desc: String,
    pub extra_desc: Option<String>,
    pub context: String,
    pub vartype: String,
    pub source: String,
    pub min_val: Option<String>,
    pub max_val: Option<String>,
    pub enumvals: Option<Vec<String>>,
    pub boot_val: Option<String>,
    pub reset_val: Option<String>,
    pub sourcefile: Option<String>,
    pub sourceline: Option<i32>,
    pub pending_restart: bool,
}

/// Per-session settings.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    values: BTreeMap<&'static str, String>,
    saved: Option<BTreeMap<&'static str, String>>,
    server: Arc<ServerConfig>,
}

impl SessionSettings {
    pub fn new(server: Arc<ServerConfig>) -> SessionSettings {
        SessionSettings {
            values: DEFAULTS
                .iter()
                .map(|(n, v, _)| (*n, v.to_string()))
                .collect(),
            saved: None,
            server,
        }
    }
    pub fn set(
        &mut self,
        name: &str,
        v: Option<&str>,
        local: bool,
        _superuser: bool,
    ) -> Result<()> {
        let n = canonical(name).ok_or_else(|| {
            err!(
                sqlstate::UNDEFINED_OBJECT,
                "unrecognized configuration parameter \"{name}\""
            )
        })?;
        if local && self.saved.is_none() {
            self.saved = Some(self.values.clone());
        }
        let v = v
            .map(|s| s.to_string())
            .unwrap_or_else(|| default_for(n).unwrap_or("").to_string());
        self.values.insert(n, v);
        Ok(())
    }
    pub fn reset(&mut self, name: &str) -> Result<()> {
        self.set(name, None, false, false)
    }
    pub fn reset_all(&mut self) {
        *self = SessionSettings::new(self.server.clone());
    }
    pub fn begin_transaction(&mut self) {}
    pub fn end_transaction(&mut self, _committed: bool) {
        if let Some(s) = self.saved.take() {
            self.values = s;
        }
    }
    pub fn show(&self, name: &str) -> Result<String> {
        let n = canonical(name).ok_or_else(|| {
            err!(
                sqlstate::UNDEFINED_OBJECT,
                "unrecognized configuration parameter \"{name}\""
            )
        })?;
        Ok(self.values.get(n).cloned().unwrap_or_default())
    }
    pub fn show_all(&self) -> Vec<(String, String, String)> {
        DEFAULTS
            .iter()
            .map(|(n, _, d)| (n.to_string(), self.values[n].clone(), d.to_string()))
            .collect()
    }
    pub fn pg_settings_rows(&self) -> Vec<PgSettingRow> {
        DEFAULTS
            .iter()
            .map(|(n, b, d)| PgSettingRow {
                name: n.to_string(),
                setting: self.values[n].clone(),
                category: "Ungrouped".into(),
                short_desc: d.to_string(),
                context: "user".into(),
                vartype: "string".into(),
                source: "default".into(),
                boot_val: Some(b.to_string()),
                reset_val: Some(b.to_string()),
                ..Default::default()
            })
            .collect()
    }
    pub fn get_bool(&self, name: &str) -> bool {
        matches!(self.get_str(name).as_str(), "on" | "true")
    }
    pub fn get_int(&self, name: &str) -> i64 {
        self.get_str(name).parse().unwrap_or(0)
    }
    pub fn get_str(&self, name: &str) -> String {
        canonical(name)
            .and_then(|n| self.values.get(n).cloned())
            .unwrap_or_default()
    }
    pub fn set_internal(&mut self, name: &str, v: &str) {
        if let Some(n) = canonical(name) {
            self.values.insert(n, v.to_string());
        }
    }
    pub fn server(&self) -> &Arc<ServerConfig> {
        &self.server
    }
}

/// The canonical spelling of a setting name.
pub fn canonical_name(name: &str) -> Option<String> {
    canonical(name).map(|s| s.to_string())
}

/// ALTER SYSTEM stand-in: writes nothing.
pub fn alter_system(_datadir: &Path, _name: &str, _value: Option<&str>) -> Result<()> {
    Ok(())
}
