//! Point-in-time recovery targets: where archive recovery stops, decided record by
//! record exactly as PostgreSQL 15's `recoveryStopsBefore` / `recoveryStopsAfter`
//! (xlogrecovery.c) decide it.
//!
//! What it owns: reading the `recovery_target*` settings into a [`RecoveryTarget`]
//! with PostgreSQL's start-up errors ([`RecoveryTarget::from_config`]: the check
//! hooks' `invalid value for parameter …` texts, `multiple recovery targets
//! specified`, the `timestamptz_in` reading of `recovery_target_time` in the
//! `TimeZone` setting, `validateRecoveryParameters`' pause→shutdown override), the
//! `starting point-in-time recovery to …` line ([`RecoveryTarget::describe`]), the
//! per-record decision ([`RecoveryTarget::stops_before`] before a record is applied,
//! [`RecoveryTarget::stops_after`] after it), the `recovery stopping …` LOG lines,
//! and the reason a new timeline's history file gives
//! ([`RecoveryTarget::history_reason`], PostgreSQL's `getRecoveryStopReason`).
//!
//! Invariants:
//! - At most one target kind is set; the parse refuses more with FATAL 22023.
//! - The decision functions are pure: the same target, record and consistency
//!   always give the same answer, and nothing here reads the clock, the WAL or the
//!   engine. The replay loop owns the state (whether it stopped, what it logged).
//! - The rules are PostgreSQL's, quirks included: a time target is only checked
//!   before a commit or abort (inclusive: stop before the first one whose time is
//!   later than the target; exclusive: at or later); an xid target stops before
//!   (exclusive) or after (inclusive) that transaction's commit or abort, and the
//!   "before" line then shows the time as `2000-01-01 00:00:00+00` because
//!   PostgreSQL only reads the record's time for time targets; an LSN target stops
//!   before (exclusive) or after (inclusive) the first record that *starts* at or past
//!   it; a name target stops after the first restore point with that name;
//!   `immediate` stops as soon as replay is consistent. The history reasons for time
//!   and LSN targets end with a newline, as PostgreSQL 15 writes them.
//!
//! What it must never do: apply, skip or read WAL records, pause or promote (the
//! replay loop in `storage/recovery.rs` does, using these answers), or check that a
//! numbered `recovery_target_timeline` exists (that needs `pg_wal/` and the archive;
//! [`timeline_does_not_exist`] is the error to raise).

use crate::config::ServerConfig;
use crate::error::{sqlstate, Error, Result};
use crate::storage::Lsn;
use crate::types::timezone::{self, Zone};
use crate::types::{format_timestamptz, parse_timestamptz};

/// PostgreSQL's `MAXFNAMELEN`: restore-point names and `recovery_target_name` hold at
/// most 63 bytes.
pub const MAX_RESTORE_POINT_NAME: usize = 63;

/// What recovery stops at (PostgreSQL's `RecoveryTargetType`, without UNSET).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKind {
    /// `recovery_target = 'immediate'`: the earliest consistent point.
    Immediate,
    /// `recovery_target_xid`: a transaction id (strtoul's reading of the text).
    Xid(u32),
    /// `recovery_target_time`: PostgreSQL microseconds since 2000-01-01 UTC.
    Time(i64),
    /// `recovery_target_name`: a restore point's name.
    Name(String),
    /// `recovery_target_lsn`.
    Lsn(Lsn),
}

/// `recovery_target_action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetAction {
    /// Pause replay at the target (the default); needs `hot_standby`, otherwise it
    /// reads as [`TargetAction::Shutdown`].
    Pause,
    /// End recovery and start a new timeline.
    Promote,
    /// Stop the server (a later start replays to the target again).
    Shutdown,
}

/// `recovery_target_timeline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetTimeline {
    /// `current`: the timeline of the starting checkpoint (pg_control).
    Current,
    /// `latest` (the default since PostgreSQL 12): the newest timeline found.
    Latest,
    /// A number (strtoul's reading; `foo` reads as 0, which then does not exist).
    Numeric(u32),
}

/// The recovery target settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryTarget {
    /// The target, or None when no `recovery_target*` is set.
    pub kind: Option<TargetKind>,
    /// `recovery_target_inclusive` (default on).
    pub inclusive: bool,
    /// `recovery_target_action`, after the pause→shutdown override.
    pub action: TargetAction,
    /// `recovery_target_timeline`.
    pub timeline: TargetTimeline,
    /// The `TimeZone` that timestamps are read and printed in (PostgreSQL's
    /// `timestamptz_to_str` uses the session time zone).
    pub zone: Zone,
}

/// One replayed record, as far as the targets care. For a COMMIT PREPARED or
/// ABORT PREPARED record the xid is the prepared transaction's (`twophase_xid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayEvent<'a> {
    /// A transaction commit record.
    Commit {
        /// The committed transaction.
        xid: u32,
        /// Its commit time (PostgreSQL microseconds).
        time: i64,
        /// Where the record starts (PostgreSQL's `ReadRecPtr`).
        start_lsn: Lsn,
        /// Where it ends (`EndRecPtr`).
        end_lsn: Lsn,
    },
    /// A transaction abort record.
    Abort {
        /// The aborted transaction.
        xid: u32,
        /// Its abort time.
        time: i64,
        /// Where the record starts.
        start_lsn: Lsn,
        /// Where it ends.
        end_lsn: Lsn,
    },
    /// An `XLOG_RESTORE_POINT` record (`pg_create_restore_point`).
    RestorePoint {
        /// The restore point's name.
        name: &'a str,
        /// When it was created.
        time: i64,
        /// Where the record starts.
        start_lsn: Lsn,
        /// Where it ends.
        end_lsn: Lsn,
    },
    /// Any other record.
    Other {
        /// Where the record starts.
        start_lsn: Lsn,
        /// Where it ends.
        end_lsn: Lsn,
    },
}

impl ReplayEvent<'_> {
    /// Where the record starts.
    pub fn start_lsn(&self) -> Lsn {
        match *self {
            ReplayEvent::Commit { start_lsn, .. }
            | ReplayEvent::Abort { start_lsn, .. }
            | ReplayEvent::RestorePoint { start_lsn, .. }
            | ReplayEvent::Other { start_lsn, .. } => start_lsn,
        }
    }

    /// Where the record ends.
    pub fn end_lsn(&self) -> Lsn {
        match *self {
            ReplayEvent::Commit { end_lsn, .. }
            | ReplayEvent::Abort { end_lsn, .. }
            | ReplayEvent::RestorePoint { end_lsn, .. }
            | ReplayEvent::Other { end_lsn, .. } => end_lsn,
        }
    }
}

/// Where recovery stops (PostgreSQL's `recoveryStop*` variables) and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// True: the record is applied, then recovery stops; false: it is not applied.
    pub after: bool,
    /// The transaction of the commit/abort stopped at (0 otherwise).
    pub xid: u32,
    /// The stop's time (0 when PostgreSQL has none, printed as 2000-01-01).
    pub time: i64,
    /// The record's start for LSN targets (0/0 otherwise).
    pub lsn: Lsn,
    /// The restore point's name for name targets (empty otherwise).
    pub name: String,
    /// The LOG line PostgreSQL prints (`recovery stopping before commit of …`).
    pub log: String,
    /// The reason for the new timeline's history file (`before transaction 736`).
    pub reason: String,
}

/// FATAL 22023 `recovery target timeline N does not exist`
/// (`validateRecoveryParameters`), for a numbered target other than 1 without a
/// history file.
pub fn timeline_does_not_exist(tli: u32) -> Error {
    Error::fatal(
        sqlstate::INVALID_PARAMETER_VALUE,
        format!("recovery target timeline {tli} does not exist"),
    )
}

/// FATAL `recovery ended before configured recovery target was reached`
/// (PostgreSQL 15 raises it without an error code: XX000).
pub fn target_not_reached() -> Error {
    Error::fatal(
        sqlstate::INTERNAL_ERROR,
        "recovery ended before configured recovery target was reached",
    )
}

fn invalid_value(name: &str, value: &str) -> Error {
    Error::fatal(
        sqlstate::INVALID_PARAMETER_VALUE,
        format!("invalid value for parameter \"{name}\": \"{value}\""),
    )
}

/// Reads `recovery_target_time` as `timestamptz_in` does for the check hook and
/// `validateRecoveryParameters`: an absolute date and time, in the given zone unless
/// the text names one; PostgreSQL's special words are refused.
fn parse_target_time(s: &str, zone: &Zone) -> Result<i64> {
    const NAME: &str = "recovery_target_time";
    let l = s.trim().to_ascii_lowercase();
    let special = [
        "now",
        "today",
        "tomorrow",
        "yesterday",
        "epoch",
        "infinity",
        "-infinity",
    ];
    if special.contains(&l.as_str()) {
        return Err(invalid_value(NAME, s));
    }
    // A date alone or a time alone is not enough: PostgreSQL wants DTK_DATE.
    if !l.contains(['-', '/']) && !l.bytes().any(|b| b.is_ascii_alphabetic()) {
        return Err(invalid_value(NAME, s));
    }
    parse_timestamptz(s, zone).map_err(|_| {
        // tm2timestamp's failure is the only one with a DETAIL: a year past
        // PostgreSQL's range (294276 AD).
        let year: Option<u64> = l
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|y| y.parse().ok());
        let e = invalid_value(NAME, s);
        if year.is_some_and(|y| y > 294_276) {
            e.with_detail(format!("timestamp out of range: \"{s}\""))
        } else {
            e
        }
    })
}

/// C's `strtoul(s, NULL, 0)` (see `config::value::parse_c_unsigned`).
fn strtoul(name: &str, s: &str) -> Result<u64> {
    crate::config::value::parse_c_unsigned(s).ok_or_else(|| invalid_value(name, s))
}

impl RecoveryTarget {
    /// Reads and checks the `recovery_target*` settings (and `TimeZone`,
    /// `hot_standby`) with PostgreSQL 15's FATAL texts.
    pub fn from_config(config: &ServerConfig) -> Result<RecoveryTarget> {
        let zone = timezone::setting_zone(&config.get_str("TimeZone"));
        let mut kinds = Vec::new();
        let target = config.get_str("recovery_target");
        if !target.is_empty() {
            if target != "immediate" {
                return Err(invalid_value("recovery_target", &target)
                    .with_detail("The only allowed value is \"immediate\"."));
            }
            kinds.push(TargetKind::Immediate);
        }
        let lsn = config.get_str("recovery_target_lsn");
        if !lsn.is_empty() {
            let v = crate::config::value::parse_lsn(&lsn)
                .ok_or_else(|| invalid_value("recovery_target_lsn", &lsn))?;
            kinds.push(TargetKind::Lsn(Lsn(v)));
        }
        let name = config.get_str("recovery_target_name");
        if !name.is_empty() {
            if name.len() > MAX_RESTORE_POINT_NAME {
                return Err(
                    invalid_value("recovery_target_name", &name).with_detail(format!(
                        "recovery_target_name is too long (maximum {MAX_RESTORE_POINT_NAME} characters)."
                    )),
                );
            }
            kinds.push(TargetKind::Name(name));
        }
        let time = config.get_str("recovery_target_time");
        if !time.is_empty() {
            kinds.push(TargetKind::Time(parse_target_time(&time, &zone)?));
        }
        let xid = config.get_str("recovery_target_xid");
        if !xid.is_empty() {
            kinds.push(TargetKind::Xid(strtoul("recovery_target_xid", &xid)? as u32));
        }
        if kinds.len() > 1 {
            return Err(Error::fatal(
                sqlstate::INVALID_PARAMETER_VALUE,
                "multiple recovery targets specified",
            )
            .with_detail(
                "At most one of recovery_target, recovery_target_lsn, recovery_target_name, \
                 recovery_target_time, recovery_target_xid may be set.",
            ));
        }
        let action = match config.get_str("recovery_target_action").as_str() {
            "pause" | "" => TargetAction::Pause,
            "promote" => TargetAction::Promote,
            "shutdown" => TargetAction::Shutdown,
            other => {
                return Err(invalid_value("recovery_target_action", other)
                    .with_hint("Available values: pause, promote, shutdown."))
            }
        };
        // validateRecoveryParameters: nobody could resume a pause without hot standby.
        let action = if action == TargetAction::Pause && !config.get_bool("hot_standby") {
            TargetAction::Shutdown
        } else {
            action
        };
        let tl = config.get_str("recovery_target_timeline");
        let timeline = match tl.as_str() {
            "current" => TargetTimeline::Current,
            "latest" | "" => TargetTimeline::Latest,
            s => TargetTimeline::Numeric(crate::config::value::parse_c_unsigned(s).ok_or_else(
                || {
                    invalid_value("recovery_target_timeline", s)
                        .with_detail("recovery_target_timeline is not a valid number.")
                },
            )? as u32),
        };
        Ok(RecoveryTarget {
            kind: kinds.pop(),
            inclusive: config.get_bool("recovery_target_inclusive"),
            action,
            timeline,
            zone,
        })
    }

    /// No target, inclusive, pause, latest, UTC: what an empty configuration reads as.
    pub fn unset() -> RecoveryTarget {
        RecoveryTarget {
            kind: None,
            inclusive: true,
            action: TargetAction::Pause,
            timeline: TargetTimeline::Latest,
            zone: Zone::default(),
        }
    }

    /// True when a `recovery_target*` setting names a target.
    pub fn is_set(&self) -> bool {
        self.kind.is_some()
    }

    /// The LOG line archive recovery (not standby mode, which logs `entering standby
    /// mode`) starts with: `starting point-in-time recovery to XID 736`, `… to
    /// 2026-11-24 06:15:03+00`, `… to "name"`, `… to WAL location (LSN) "0/3000060"`,
    /// `… to earliest consistent point`, or `starting archive recovery`.
    pub fn describe(&self) -> String {
        match &self.kind {
            None => "starting archive recovery".into(),
            Some(TargetKind::Xid(x)) => format!("starting point-in-time recovery to XID {x}"),
            Some(TargetKind::Time(t)) => format!(
                "starting point-in-time recovery to {}",
                self.timestamp_text(*t)
            ),
            Some(TargetKind::Name(n)) => format!("starting point-in-time recovery to \"{n}\""),
            Some(TargetKind::Lsn(l)) => {
                format!("starting point-in-time recovery to WAL location (LSN) \"{l}\"")
            }
            Some(TargetKind::Immediate) => {
                "starting point-in-time recovery to earliest consistent point".into()
            }
        }
    }

    /// PostgreSQL's `timestamptz_to_str` in the configured zone.
    pub fn timestamp_text(&self, t: i64) -> String {
        format_timestamptz(t, &self.zone)
    }

    /// `recoveryStopsBefore`: called before `ev` is applied, with `consistent` saying
    /// whether replay is consistent at that moment. Some = do not apply it; stop.
    pub fn stops_before(&self, ev: &ReplayEvent<'_>, consistent: bool) -> Option<Stop> {
        let kind = self.kind.as_ref()?;
        if *kind == TargetKind::Immediate && consistent {
            return Some(self.stop(false, 0, 0, Lsn::INVALID, String::new(), consistency()));
        }
        if let TargetKind::Lsn(target) = kind {
            if !self.inclusive && ev.start_lsn() >= *target {
                let lsn = ev.start_lsn();
                let log = format!("recovery stopping before WAL location (LSN) \"{lsn}\"");
                return Some(self.stop(false, 0, 0, lsn, String::new(), log));
            }
        }
        let (is_commit, xid, time) = match *ev {
            ReplayEvent::Commit { xid, time, .. } => (true, xid, time),
            ReplayEvent::Abort { xid, time, .. } => (false, xid, time),
            _ => return None,
        };
        // PostgreSQL reads the record's time only for a time target: an exclusive
        // xid stop prints time 0 (2000-01-01 00:00:00+00).
        let (stops, time) = match kind {
            TargetKind::Xid(target) if !self.inclusive => (xid == *target, 0),
            TargetKind::Time(target) if self.inclusive => (time > *target, time),
            TargetKind::Time(target) => (time >= *target, time),
            _ => (false, 0),
        };
        if !stops {
            return None;
        }
        let what = if is_commit { "commit" } else { "abort" };
        let log = format!(
            "recovery stopping before {what} of transaction {xid}, time {}",
            self.timestamp_text(time)
        );
        Some(self.stop(false, xid, time, Lsn::INVALID, String::new(), log))
    }

    /// `recoveryStopsAfter`: called after `ev` is applied, with `consistent` saying
    /// whether replay is consistent now. Some = stop here, the record applied.
    pub fn stops_after(&self, ev: &ReplayEvent<'_>, consistent: bool) -> Option<Stop> {
        let kind = self.kind.as_ref()?;
        if let (TargetKind::Name(target), ReplayEvent::RestorePoint { name, time, .. }) = (kind, ev)
        {
            if name == target {
                let log = format!(
                    "recovery stopping at restore point \"{name}\", time {}",
                    self.timestamp_text(*time)
                );
                return Some(self.stop(true, 0, *time, Lsn::INVALID, name.to_string(), log));
            }
        }
        if let TargetKind::Lsn(target) = kind {
            if self.inclusive && ev.start_lsn() >= *target {
                let lsn = ev.start_lsn();
                let log = format!("recovery stopping after WAL location (LSN) \"{lsn}\"");
                return Some(self.stop(true, 0, 0, lsn, String::new(), log));
            }
        }
        let xact = match *ev {
            ReplayEvent::Commit { xid, time, .. } => Some(("commit", xid, time)),
            ReplayEvent::Abort { xid, time, .. } => Some(("abort", xid, time)),
            _ => None,
        };
        if let (Some((what, xid, time)), TargetKind::Xid(target)) = (xact, kind) {
            if self.inclusive && xid == *target {
                let log = format!(
                    "recovery stopping after {what} of transaction {xid}, time {}",
                    self.timestamp_text(time)
                );
                return Some(self.stop(true, xid, time, Lsn::INVALID, String::new(), log));
            }
        }
        if *kind == TargetKind::Immediate && consistent {
            return Some(self.stop(true, 0, 0, Lsn::INVALID, String::new(), consistency()));
        }
        None
    }

    /// `getRecoveryStopReason`: the reason a new timeline's history file gives for
    /// the switch, from the target kind and where recovery stopped (None: it did not
    /// stop at a target, e.g. a standby promoted). The time and LSN reasons end with
    /// `\n` exactly as PostgreSQL 15 writes them (its history line then holds a blank
    /// line after them).
    pub fn history_reason(&self, stop: Option<&Stop>) -> String {
        let after = stop.is_some_and(|s| s.after);
        let dir = if after { "after" } else { "before" };
        match &self.kind {
            Some(TargetKind::Xid(_)) => {
                format!("{dir} transaction {}", stop.map_or(0, |s| s.xid))
            }
            Some(TargetKind::Time(_)) => format!(
                "{dir} {}\n",
                self.timestamp_text(stop.map_or(0, |s| s.time))
            ),
            Some(TargetKind::Lsn(_)) => {
                format!("{dir} LSN {}\n", stop.map_or(Lsn::INVALID, |s| s.lsn))
            }
            Some(TargetKind::Name(_)) => format!(
                "at restore point \"{}\"",
                stop.map_or("", |s| s.name.as_str())
            ),
            Some(TargetKind::Immediate) => "reached consistency".into(),
            None => "no recovery target specified".into(),
        }
    }

    fn stop(&self, after: bool, xid: u32, time: i64, lsn: Lsn, name: String, log: String) -> Stop {
        let mut s = Stop {
            after,
            xid,
            time,
            lsn,
            name,
            log,
            reason: String::new(),
        };
        s.reason = self.history_reason(Some(&s));
        s
    }
}

fn consistency() -> String {
    "recovery stopping after reaching consistency".into()
}

#[cfg(test)]
mod tests;
