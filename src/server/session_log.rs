//! What the server log says about a session, as PostgreSQL 15 says it: connections
//! (`log_connections`), disconnections (`log_disconnections`), statements
//! (`log_statement`), slow statements (`log_min_duration_statement`) and the errors
//! sent to the client (`log_min_messages` / `log_min_error_statement`).
//!
//! ```text
//! LOG:  connection received: host=127.0.0.1 port=40308
//! LOG:  connection authorized: user=postgres database=postgres application_name=psql
//! LOG:  statement: create table t (a int)
//! LOG:  duration: 5.476 ms
//! LOG:  duration: 0.253 ms  statement: select 2
//! LOG:  duration: 0.116 ms  bind P_0: select 1 + $1
//! DETAIL:  parameters: $1 = '5'
//! ERROR:  division by zero
//! STATEMENT:  select 1/0
//! LOG:  disconnection: session time: 0:00:00.004 user=postgres database=postgres host=127.0.0.1 port=40308
//! ```
//!
//! What it owns: [`SessionLog`], one per connection, holding the session's identity
//! for the line prefix (`%p %u %d %a %h %r`), its start time, and the statement name
//! each portal was bound from (the extended protocol's `execute P_0/portal:`), and the
//! rules for when each line is written. Settings are read from the session's own
//! settings at each message, so `SET log_min_duration_statement` (a superuser's) and a
//! reload take effect at once.
//!
//! What it must never do: change what the client receives, or fail: logging is a side
//! effect only.

use rustc_hash::FxHashMap as HashMap;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::logging::{log_for_session, SessionTag};
use crate::sql::log_level::{classify, LogClass};
use crate::sql::Session;

use super::startup::Peer;

/// Logs `connection received` when `log_connections` is on (before authentication,
/// so it has no session yet).
pub fn connection_received(on: bool, peer: &Peer) {
    if !on {
        return;
    }
    let message = match peer.addr {
        Some(a) => format!("connection received: host={a} port={}", peer.port),
        None => "connection received: host=[local]".to_string(),
    };
    crate::logging::log_at("LOG", &message, None, None);
}

/// A session's logging state.
pub struct SessionLog {
    tag: SessionTag,
    started: Instant,
    /// Portal name → the prepared statement it was bound from.
    portal_statements: HashMap<String, String>,
    /// Statement name → the query string its Parse message carried (the log shows
    /// it as sent, trailing semicolon and all).
    statement_texts: HashMap<String, String>,
}

/// `log_statement` as a class bound: statements of this class or a lower one are logged.
fn statement_bound(s: &Session) -> Option<LogClass> {
    match &*s.log_statement() {
        "ddl" => Some(LogClass::Ddl),
        "mod" => Some(LogClass::Mod),
        "all" => Some(LogClass::All),
        _ => None,
    }
}

/// Whether a Parse's or Bind's duration can be logged (`log_min_duration_statement`
/// is on): neither message changes the setting, so asked before it, this says whether
/// timing it is worth two clock readings.
pub fn durations_logged(s: &Session) -> bool {
    duration_bound(s).is_some()
}

/// `log_min_duration_statement`, or `None` when disabled (-1).
fn duration_bound(s: &Session) -> Option<Duration> {
    let ms = s.log_min_duration_ms();
    (ms >= 0).then(|| Duration::from_millis(ms as u64))
}

/// PostgreSQL's `%.3f ms`.
fn millis(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

/// A statement name as the log shows it.
fn shown(name: &str) -> &str {
    if name.is_empty() {
        "<unnamed>"
    } else {
        name
    }
}

impl SessionLog {
    /// The log state of a session that just authenticated.
    pub fn new(
        pid: i32,
        user: &str,
        database: &str,
        application_name: &str,
        peer: &Peer,
    ) -> SessionLog {
        SessionLog {
            tag: SessionTag {
                pid,
                user: user.to_string(),
                database: database.to_string(),
                application_name: application_name.to_string(),
                remote_host: peer.host(),
                remote_port: peer.addr.map(|_| peer.port),
            },
            started: Instant::now(),
            portal_statements: HashMap::default(),
            statement_texts: HashMap::default(),
        }
    }

    fn log(&self, message: &str, detail: Option<&str>) {
        log_for_session(&self.tag, "LOG", None, message, detail, None, None);
    }

    /// `connection authorized` (or `replication connection authorized`), when
    /// `log_connections` is on; `tls` describes the encryption, if any.
    pub fn authorized(
        &self,
        on: bool,
        replication: bool,
        application_name: Option<&str>,
        tls: Option<&str>,
    ) {
        if !on {
            return;
        }
        let mut m = if replication {
            format!("replication connection authorized: user={}", self.tag.user)
        } else {
            format!(
                "connection authorized: user={} database={}",
                self.tag.user, self.tag.database
            )
        };
        if let Some(a) = application_name {
            m.push_str(&format!(" application_name={a}"));
        }
        if let Some(t) = tls {
            m.push_str(&format!(" SSL enabled ({t})"));
        }
        self.log(&m, None);
    }

    /// `disconnection: session time: …`, when `log_disconnections` is on.
    pub fn disconnected(&self, on: bool) {
        if !on {
            return;
        }
        let t = self.started.elapsed();
        let ms = t.as_millis() as u64;
        let (h, m, sec, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
        let mut line = format!(
            "disconnection: session time: {h}:{m:02}:{sec:02}.{milli:03} user={} database={} host={}",
            self.tag.user, self.tag.database, self.tag.remote_host
        );
        if let Some(p) = self.tag.remote_port {
            line.push_str(&format!(" port={p}"));
        }
        self.log(&line, None);
    }

    /// Runs a simple Query message's statements with the logging around them: the
    /// query string before (`log_statement`), its duration after
    /// (`log_min_duration_statement`), and the errors sent to the client.
    pub fn simple_query<R>(
        &self,
        s: &mut Session,
        sql: &str,
        run: impl FnOnce(&mut Session) -> (R, Vec<Error>),
    ) -> R {
        let logged = statement_bound(s).is_some_and(|b| classify(sql) <= b);
        if logged {
            self.log(&format!("statement: {sql}"), None);
        }
        let started = Instant::now();
        let (r, errors) = run(s);
        let took = started.elapsed();
        self.errors(&errors, Some(sql));
        // A failed query string gets no duration line (PostgreSQL aborts before it).
        if errors.is_empty() && duration_bound(s).is_some_and(|b| took >= b) {
            if logged {
                self.log(&format!("duration: {} ms", millis(took)), None);
            } else {
                self.log(
                    &format!("duration: {} ms  statement: {sql}", millis(took)),
                    None,
                );
            }
        }
        r
    }

    /// Logs the errors sent to the client that pass `log_min_messages`, with the
    /// statement when they pass `log_min_error_statement`.
    pub fn errors(&self, errors: &[Error], statement: Option<&str>) {
        for e in errors {
            let severity = e.severity.as_str();
            if !crate::logging::is_logged(severity) {
                continue;
            }
            log_for_session(
                &self.tag,
                severity,
                Some(e.code),
                &e.message,
                e.detail.as_deref(),
                e.hint.as_deref(),
                statement,
            );
        }
    }

    /// Around a Parse message: remembers the query string; its duration.
    pub fn parse(
        &mut self,
        s: &Session,
        name: &str,
        sql: &str,
        took: Duration,
        failed: Option<&Error>,
    ) {
        if let Some(e) = failed {
            self.errors(std::slice::from_ref(e), Some(sql));
            return;
        }
        self.statement_texts
            .insert(name.to_string(), sql.to_string());
        if duration_bound(s).is_some_and(|b| took >= b) {
            self.log(
                &format!(
                    "duration: {} ms  parse {}: {sql}",
                    millis(took),
                    shown(name)
                ),
                None,
            );
        }
    }

    /// Around a Bind message: remembers the portal's statement; its duration with the
    /// parameters.
    pub fn bind(
        &mut self,
        s: &Session,
        portal: &str,
        statement: &str,
        took: Duration,
        failed: Option<&Error>,
    ) {
        // (Every Bind passes here: nothing is allocated unless the portal's statement
        // changed or a line is written.)
        if self.portal_statements.get(portal).map(String::as_str) != Some(statement) {
            self.portal_statements
                .insert(portal.to_string(), statement.to_string());
        }
        if let Some(e) = failed {
            let text = self.statement_text(s, statement);
            self.errors(std::slice::from_ref(e), Some(&text));
            return;
        }
        if duration_bound(s).is_some_and(|b| took >= b) {
            let text = self.statement_text(s, statement);
            let params = s.portal_log_text(portal).and_then(|(_, p)| p);
            self.log(
                &format!(
                    "duration: {} ms  bind {}{}: {text}",
                    millis(took),
                    shown(statement),
                    portal_suffix(portal)
                ),
                params.map(|p| format!("parameters: {p}")).as_deref(),
            );
        }
    }

    /// Before an Execute message: the statement, when `log_statement` covers it.
    /// Returns whether it was logged (the duration line is then shorter).
    pub fn before_execute(&self, s: &Session, portal: &str) -> bool {
        let Some(bound) = statement_bound(s) else {
            return false;
        };
        let Some((_, params)) = s.portal_log_text(portal) else {
            return false;
        };
        let text = self.portal_text(s, portal);
        if classify(&text) > bound {
            return false;
        }
        self.log(
            &format!("{}: {text}", self.execute_label(portal)),
            params.map(|p| format!("parameters: {p}")).as_deref(),
        );
        true
    }

    /// After an Execute message: its duration, and its error.
    pub fn after_execute(
        &self,
        s: &Session,
        portal: &str,
        logged: bool,
        took: Duration,
        failed: Option<&Error>,
    ) {
        // The statement text and parameters are formatted only for a line to write.
        if let Some(e) = failed {
            let text = self.portal_text(s, portal);
            self.errors(std::slice::from_ref(e), Some(&text));
            return;
        }
        if duration_bound(s).is_none_or(|b| took < b) {
            return;
        }
        if logged {
            self.log(&format!("duration: {} ms", millis(took)), None);
        } else {
            let params = s.portal_log_text(portal).and_then(|(_, p)| p);
            let text = self.portal_text(s, portal);
            self.log(
                &format!(
                    "duration: {} ms  {}: {text}",
                    millis(took),
                    self.execute_label(portal)
                ),
                params.map(|p| format!("parameters: {p}")).as_deref(),
            );
        }
    }

    /// A statement's query string: as its Parse message sent it, else as the session
    /// holds it (a statement made by SQL `PREPARE`).
    fn statement_text(&self, s: &Session, name: &str) -> String {
        match self.statement_texts.get(name) {
            Some(t) => t.clone(),
            None => s.statement_log_text(name).unwrap_or_default(),
        }
    }

    /// The query string of the statement a portal was bound from.
    fn portal_text(&self, s: &Session, portal: &str) -> String {
        match self.portal_statements.get(portal) {
            Some(name) if self.statement_texts.contains_key(name) => self.statement_text(s, name),
            _ => s
                .portal_log_text(portal)
                .map(|(t, _)| t)
                .unwrap_or_default(),
        }
    }

    /// `execute NAME[/PORTAL]`.
    fn execute_label(&self, portal: &str) -> String {
        let statement = self
            .portal_statements
            .get(portal)
            .map(String::as_str)
            .unwrap_or("");
        format!("execute {}{}", shown(statement), portal_suffix(portal))
    }
}

/// `/portal` after the statement name for a named portal.
fn portal_suffix(portal: &str) -> String {
    if portal.is_empty() {
        String::new()
    } else {
        format!("/{portal}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_names_print_as_postgresql() {
        assert_eq!(millis(Duration::from_micros(5476)), "5.476");
        assert_eq!(millis(Duration::from_nanos(2_400)), "0.002");
        assert_eq!(shown(""), "<unnamed>");
        assert_eq!(shown("P_0"), "P_0");
        assert_eq!(portal_suffix(""), "");
        assert_eq!(portal_suffix("c1"), "/c1");
    }
}
