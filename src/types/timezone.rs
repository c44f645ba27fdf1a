//! Time zones: the IANA database with its daylight-saving rules, POSIX-style zone
//! specifications, and PostgreSQL's default time zone abbreviations.
//!
//! # What this module owns
//! - [`Zone`]: what the `TimeZone` setting, `AT TIME ZONE` and a zone name inside a
//!   timestamp literal denote. A zone answers two questions: the offset from UTC (and
//!   its abbreviation) in force at an instant ([`Zone::offset_at`]), and the instant a
//!   local wall-clock time denotes ([`Zone::local_to_utc`]).
//! - [`lookup`]: a zone by name as PostgreSQL's `pg_tzset` finds it — an IANA name
//!   matched case-insensitively (`europe/paris` is `Europe/Paris`), else a POSIX
//!   specification (`UTC+3`, `EST5EDT4,M3.2.0,M11.1.0`, `<+03>-03`, and PostgreSQL's
//!   extension of an empty abbreviation, `+05`), whose offsets are *west*-positive.
//! - [`abbreviation`]: the fixed-offset and zone-backed abbreviations of PostgreSQL's
//!   `Default` abbreviation set that clients commonly write (`EST`, `PDT`, `CET`, `MSK`…).
//! - [`timestamptz_plus`]: `timestamptz + interval`, whose months and days move the
//!   local wall-clock time, as PostgreSQL adds them.
//!
//! # Where the zone data comes from
//! The database is the `chrono-tz` crate's copy of the IANA tz database, compiled into
//! the binary. The alternatives read `/usr/share/zoneinfo` at run time (as PostgreSQL
//! built with `--with-system-tzdata` does); a Debian machine has it, but a slim container
//! image often has not, and then every named zone would fail to resolve — a client that
//! sends `TimeZone=Europe/Paris` in its startup packet could not even connect. Embedded
//! data cannot go missing and gives the same answers everywhere; its cost is that a
//! tzdata update needs a crate update. `chrono-tz` ≥ 0.10 ships its tables pre-generated
//! (no build script), so it adds little build time. Its tables list transitions up to
//! 2099; later instants are answered from an equivalent year (same leap-ness and
//! weekday of 1 January) of the 2070s–2090s, which is what a zone's POSIX rule gives as
//! long as the rule does not change.
//!
//! # Invariants
//! - Offsets are seconds *east* of UTC everywhere outside the POSIX parser.
//! - [`Zone::local_to_utc`] resolves DST gaps and overlaps as PostgreSQL's
//!   `DetermineTimeZoneOffset`: of the two offsets around a transition it takes the one
//!   giving the later UTC instant, so a skipped `02:30` is read with the offset before
//!   the jump (and shows as `03:30`), and a repeated `01:30` is read as the second one.
//!
//! # What it must never do
//! Read files, consult the process's `TZ`, or panic on any input: every name a client
//! sends goes through [`lookup`] and comes back as a zone or `None`.
//!
//! # One conversion
//! `SELECT timestamptz '2024-07-01 12:00'` with `TimeZone = 'Europe/Paris'`:
//! 1. the session's setting is resolved by [`lookup`] (cached per thread, [`session_zone`]);
//! 2. the literal has no zone, so [`Zone::local_to_utc`] reads 12:00 as Paris time: the
//!    offset a day before and after is +02 both times and consistent, so 10:00 UTC;
//! 3. on output [`Zone::offset_at`] gives +02 (`CEST`) at that instant, and the text is
//!    `2024-07-01 12:00:00+02`.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::{OffsetComponents, OffsetName, Tz};
use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;

const USECS_PER_SEC: i64 = 1_000_000;
const USECS_PER_DAY: i64 = 86_400 * USECS_PER_SEC;
/// Seconds between the Unix epoch and 2000-01-01 (PostgreSQL's epoch).
const PG_EPOCH_UNIX_SECS: i64 = 946_684_800;
/// The last year chrono-tz's tables list transitions for.
const LAST_TABLE_YEAR: i32 = 2099;

/// A time zone: a zone of the IANA database or a POSIX-style specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Zone {
    /// A zone of the IANA database (`Europe/Paris`, `UTC`, `EST5EDT`).
    Named(Tz),
    /// A POSIX-style specification (`UTC+3`, `<+03>-03`, `XXX5YYY`).
    Posix(Arc<PosixZone>),
}

impl Default for Zone {
    /// `Etc/UTC`, the `TimeZone` a new cluster starts with.
    fn default() -> Self {
        Zone::Named(Tz::Etc__UTC)
    }
}

/// The offset in force at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneOffset<'a> {
    /// Seconds east of UTC.
    pub east_secs: i32,
    /// The zone abbreviation (`CEST`, `EST`, `+0330`; empty when the zone has none),
    /// borrowed from the zone data where it can be.
    pub abbrev: Cow<'a, str>,
    /// Whether daylight-saving time is in force.
    pub is_dst: bool,
}

impl Zone {
    /// A fixed offset east of UTC, named as PostgreSQL names numeric zones (`<+02>-02`).
    pub fn fixed(east_secs: i32) -> Zone {
        Zone::Posix(Arc::new(PosixZone {
            std_abbrev: offset_abbrev(east_secs),
            std_east: east_secs,
            dst: None,
        }))
    }

    /// The offset, abbreviation and DST flag in force at a UTC instant given as
    /// PostgreSQL microseconds (since 2000-01-01 UTC).
    pub fn offset_at(&self, utc_micros: i64) -> ZoneOffset<'_> {
        let unix = utc_micros.div_euclid(USECS_PER_SEC) + PG_EPOCH_UNIX_SECS;
        match self {
            Zone::Named(tz) => named_offset(*tz, unix),
            Zone::Posix(p) => p.offset_at(unix),
        }
    }

    /// Seconds east of UTC in force at a UTC instant (without building the
    /// abbreviation: this is the hot path of timestamptz output and input).
    pub fn east_at(&self, utc_micros: i64) -> i32 {
        match self {
            Zone::Named(tz) => {
                let unix = utc_micros.div_euclid(USECS_PER_SEC) + PG_EPOCH_UNIX_SECS;
                match chrono::DateTime::from_timestamp(unix, 0) {
                    Some(d) => {
                        let mut dt = d.naive_utc();
                        if dt.year() > LAST_TABLE_YEAR {
                            dt = equivalent_table_year(dt);
                        }
                        tz.offset_from_utc_datetime(&dt).fix().local_minus_utc()
                    }
                    None => 0,
                }
            }
            Zone::Posix(_) => self.offset_at(utc_micros).east_secs,
        }
    }

    /// The local wall-clock time (microseconds since 2000-01-01, no zone) of an instant.
    pub fn to_local(&self, utc_micros: i64) -> i64 {
        if is_infinite(utc_micros) {
            return utc_micros;
        }
        utc_micros.saturating_add(self.east_at(utc_micros) as i64 * USECS_PER_SEC)
    }

    /// The instant a local wall-clock time denotes, resolving DST gaps and overlaps as
    /// PostgreSQL does (the interpretation giving the later UTC instant).
    pub fn local_to_utc(&self, local_micros: i64) -> i64 {
        if is_infinite(local_micros) {
            return local_micros;
        }
        let off = |o: i32| o as i64 * USECS_PER_SEC;
        let before = self.east_at(local_micros.saturating_sub(USECS_PER_DAY));
        let after = self.east_at(local_micros.saturating_add(USECS_PER_DAY));
        let consistent = |o: i32| {
            let u = local_micros.saturating_sub(off(o));
            (self.east_at(u) == o).then_some(u)
        };
        match (consistent(before), consistent(after)) {
            (Some(a), Some(b)) => a.max(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => {
                // Neither neighbour is consistent: a transition lies within a day on
                // both sides, or the time is in a gap. Try the offset at the naive
                // instant itself before falling back to the gap rule.
                let here = self.east_at(local_micros);
                consistent(here)
                    .unwrap_or_else(|| local_micros.saturating_sub(off(before.min(after))))
            }
        }
    }
}

/// `infinity` and `-infinity` pass through every conversion unchanged.
fn is_infinite(micros: i64) -> bool {
    micros == i64::MAX || micros == i64::MIN
}

fn named_offset(tz: Tz, unix: i64) -> ZoneOffset<'static> {
    let Some(mut dt) = chrono::DateTime::from_timestamp(unix, 0).map(|d| d.naive_utc()) else {
        return ZoneOffset {
            east_secs: 0,
            abbrev: Cow::Borrowed(""),
            is_dst: false,
        };
    };
    if dt.year() > LAST_TABLE_YEAR {
        dt = equivalent_table_year(dt);
    }
    let o = tz.offset_from_utc_datetime(&dt);
    ZoneOffset {
        east_secs: o.fix().local_minus_utc(),
        // The database writes numeric abbreviations (`%z`) as none; spell them out as
        // zic does: `-03`, `+0330`.
        abbrev: Cow::Owned(
            o.abbreviation()
                .map_or_else(|| numeric_abbrev(o.fix().local_minus_utc()), str::to_string),
        ),
        is_dst: !o.dst_offset().is_zero(),
    }
}

/// The same month, day and time in a year of the tables' last three decades that has
/// the same length and starts on the same weekday.
fn equivalent_table_year(dt: NaiveDateTime) -> NaiveDateTime {
    let leap = |y: i32| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let jan1 = |y: i32| NaiveDate::from_ymd_opt(y, 1, 1).map(|d| d.weekday());
    let y = dt.year();
    for cand in (LAST_TABLE_YEAR - 28..=LAST_TABLE_YEAR).rev() {
        if leap(cand) == leap(y) && jan1(cand) == jan1(y) {
            if let Some(d) = dt.with_year(cand) {
                return d;
            }
        }
    }
    dt
}

/// A POSIX TZ specification: `STD offset [DST [offset] [,start[/time],end[/time]]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosixZone {
    /// The standard-time abbreviation (may be empty, as PostgreSQL allows).
    pub std_abbrev: String,
    /// The standard-time offset, seconds east of UTC.
    pub std_east: i32,
    /// Daylight-saving time, if the specification has it.
    pub dst: Option<PosixDst>,
}

/// The daylight-saving part of a POSIX specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosixDst {
    /// Its abbreviation.
    pub abbrev: String,
    /// Its offset, seconds east of UTC.
    pub east: i32,
    /// When it starts (in local standard time).
    pub start: PosixRule,
    /// When it ends (in local daylight time).
    pub end: PosixRule,
}

/// One transition date of a POSIX rule, with its local time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PosixRule {
    /// The day.
    pub day: RuleDay,
    /// Seconds after local midnight (may be negative or exceed a day).
    pub secs: i32,
}

/// The day of a POSIX rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleDay {
    /// `Jn`: day 1..=365, 29 February never counted.
    Julian1(u16),
    /// `n`: day 0..=365, 29 February counted.
    Julian0(u16),
    /// `Mm.w.d`: weekday `d` (0 = Sunday) of week `w` (5 = last) of month `m`.
    MonthWeekDay(u8, u8, u8),
}

/// The rules POSIX zones without explicit rules get (PostgreSQL's `posixrules`
/// fallback: the current United States rules).
const DEFAULT_RULES: (PosixRule, PosixRule) = (
    PosixRule {
        day: RuleDay::MonthWeekDay(3, 2, 0),
        secs: 7200,
    },
    PosixRule {
        day: RuleDay::MonthWeekDay(11, 1, 0),
        secs: 7200,
    },
);

impl PosixZone {
    fn offset_at(&self, unix: i64) -> ZoneOffset<'_> {
        let std = || ZoneOffset {
            east_secs: self.std_east,
            abbrev: Cow::Borrowed(self.std_abbrev.as_str()),
            is_dst: false,
        };
        let Some(d) = &self.dst else {
            return std();
        };
        let Some(year) = chrono::DateTime::from_timestamp(unix, 0).map(|t| t.year()) else {
            return std();
        };
        // Transitions as Unix seconds: DST starts at `start` local standard time and
        // ends at `end` local daylight time.
        let Some(start) = d.start.unix_in(year).map(|s| s - self.std_east as i64) else {
            return std();
        };
        let Some(end) = d.end.unix_in(year).map(|s| s - d.east as i64) else {
            return std();
        };
        let in_dst = if start < end {
            unix >= start && unix < end
        } else {
            // Southern hemisphere: DST spans the new year.
            !(unix >= end && unix < start)
        };
        if in_dst {
            ZoneOffset {
                east_secs: d.east,
                abbrev: Cow::Borrowed(d.abbrev.as_ref()),
                is_dst: true,
            }
        } else {
            std()
        }
    }
}

impl PosixRule {
    /// The rule's moment in `year` as Unix seconds of local wall time (still to be
    /// shifted by the offset in force before the transition).
    fn unix_in(&self, year: i32) -> Option<i64> {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let date = match self.day {
            RuleDay::Julian1(n) => {
                let mut ord = n as u32;
                if leap && ord >= 60 {
                    ord += 1;
                }
                NaiveDate::from_yo_opt(year, ord)?
            }
            RuleDay::Julian0(n) => NaiveDate::from_yo_opt(year, n as u32 + 1)?,
            RuleDay::MonthWeekDay(m, w, d) => {
                let first = NaiveDate::from_ymd_opt(year, m as u32, 1)?;
                let wd0 = first.weekday().num_days_from_sunday() as i64;
                let mut day = 1 + (d as i64 - wd0).rem_euclid(7) + (w as i64 - 1) * 7;
                let dim = days_in_month(year, m as u32) as i64;
                while day > dim {
                    day -= 7;
                }
                NaiveDate::from_ymd_opt(year, m as u32, day as u32)?
            }
        };
        Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp() + self.secs as i64)
    }
}

fn days_in_month(y: i32, m: u32) -> u32 {
    let next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    next.and_then(|n| n.pred_opt()).map_or(31, |d| d.day())
}

/// A numeric abbreviation as the tz database's `%z` writes it: `-03`, `+0330`, `+001932`.
fn numeric_abbrev(east: i32) -> String {
    let sign = if east < 0 { '-' } else { '+' };
    let a = east.unsigned_abs();
    let (h, m, s) = (a / 3600, (a / 60) % 60, a % 60);
    if s != 0 {
        format!("{sign}{h:02}{m:02}{s:02}")
    } else if m != 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}")
    }
}

/// The abbreviation PostgreSQL gives a numeric zone: `+02`, `-03:30`.
fn offset_abbrev(east: i32) -> String {
    let sign = if east < 0 { '-' } else { '+' };
    let a = east.unsigned_abs();
    let (h, m, s) = (a / 3600, (a / 60) % 60, a % 60);
    if s != 0 {
        format!("{sign}{h:02}:{m:02}:{s:02}")
    } else if m != 0 {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}")
    }
}

/// Parses a POSIX TZ specification. Offsets in it are west-positive (`UTC+3` is three
/// hours *behind* UTC); the standard abbreviation may be empty (`+05`), as PostgreSQL
/// allows. A DST abbreviation without rules gets the United States rules.
pub fn parse_posix(s: &str) -> Option<PosixZone> {
    let b = s.as_bytes();
    let mut i = 0;
    let std_abbrev = posix_abbrev(b, &mut i, true)?;
    let std_west = posix_offset(b, &mut i, 24)?;
    let std_east = -std_west;
    if i == b.len() {
        return Some(PosixZone {
            std_abbrev,
            std_east,
            dst: None,
        });
    }
    let dst_abbrev = posix_abbrev(b, &mut i, false)?;
    let dst_east = if i < b.len() && b[i] != b',' && b[i] != b';' {
        -posix_offset(b, &mut i, 24)?
    } else {
        std_east + 3600
    };
    let (start, end) = if i == b.len() {
        DEFAULT_RULES
    } else {
        if b[i] != b',' && b[i] != b';' {
            return None;
        }
        i += 1;
        let start = posix_rule(b, &mut i)?;
        if i >= b.len() || b[i] != b',' {
            return None;
        }
        i += 1;
        let end = posix_rule(b, &mut i)?;
        if i != b.len() {
            return None;
        }
        (start, end)
    };
    Some(PosixZone {
        std_abbrev,
        std_east,
        dst: Some(PosixDst {
            abbrev: dst_abbrev,
            east: dst_east,
            start,
            end,
        }),
    })
}

fn posix_abbrev(b: &[u8], i: &mut usize, allow_empty: bool) -> Option<String> {
    if b.get(*i) == Some(&b'<') {
        let start = *i + 1;
        let len = b[start..].iter().position(|&c| c == b'>')?;
        let a = &b[start..start + len];
        // PostgreSQL's numeric zones put a colon in it (`<+05:30>-05:30`).
        if a.len() < 3
            || !a
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || b"+-:".contains(c))
        {
            return None;
        }
        *i = start + len + 1;
        return Some(String::from_utf8_lossy(a).into_owned());
    }
    let start = *i;
    while *i < b.len() && b[*i].is_ascii_alphabetic() {
        *i += 1;
    }
    let len = *i - start;
    if (len == 0 && allow_empty) || len >= 3 {
        Some(String::from_utf8_lossy(&b[start..*i]).into_owned())
    } else {
        None
    }
}

/// `[+-]hh[:mm[:ss]]` as seconds (sign as written).
fn posix_offset(b: &[u8], i: &mut usize, max_hours: i64) -> Option<i32> {
    let mut sign = 1;
    match b.get(*i) {
        Some(b'+') => *i += 1,
        Some(b'-') => {
            sign = -1;
            *i += 1
        }
        _ => {}
    }
    let h = posix_num(b, i, max_hours)?;
    let mut secs = h * 3600;
    if b.get(*i) == Some(&b':') {
        *i += 1;
        secs += posix_num(b, i, 59)? * 60;
        if b.get(*i) == Some(&b':') {
            *i += 1;
            secs += posix_num(b, i, 59)?;
        }
    }
    Some((sign * secs) as i32)
}

fn posix_num(b: &[u8], i: &mut usize, max: i64) -> Option<i64> {
    let start = *i;
    let mut n: i64 = 0;
    while *i < b.len() && b[*i].is_ascii_digit() && *i - start < 4 {
        n = n * 10 + (b[*i] - b'0') as i64;
        *i += 1;
    }
    (*i > start && n <= max).then_some(n)
}

fn posix_rule(b: &[u8], i: &mut usize) -> Option<PosixRule> {
    let day = match b.get(*i) {
        Some(b'J') => {
            *i += 1;
            let n = posix_num(b, i, 365)?;
            if n == 0 {
                return None;
            }
            RuleDay::Julian1(n as u16)
        }
        Some(b'M') => {
            *i += 1;
            let m = posix_num(b, i, 12)?;
            if b.get(*i) != Some(&b'.') {
                return None;
            }
            *i += 1;
            let w = posix_num(b, i, 5)?;
            if b.get(*i) != Some(&b'.') {
                return None;
            }
            *i += 1;
            let d = posix_num(b, i, 6)?;
            if m == 0 || w == 0 {
                return None;
            }
            RuleDay::MonthWeekDay(m as u8, w as u8, d as u8)
        }
        Some(c) if c.is_ascii_digit() => RuleDay::Julian0(posix_num(b, i, 365)? as u16),
        _ => return None,
    };
    let secs = if b.get(*i) == Some(&b'/') {
        *i += 1;
        posix_offset(b, i, 167)?
    } else {
        7200
    };
    Some(PosixRule { day, secs })
}

/// Finds a zone by name as PostgreSQL's `pg_tzset` does: an IANA zone (case-insensitive;
/// the database's spelling is the canonical name), else a POSIX specification (whose
/// canonical name is the specification in upper case).
pub fn lookup(name: &str) -> Option<Zone> {
    if name.is_empty() || name.len() > 255 {
        return None;
    }
    if let Some(tz) = find_named(name) {
        return Some(Zone::Named(tz));
    }
    let upper = name.to_ascii_uppercase();
    parse_posix(&upper).map(|p| Zone::Posix(Arc::new(p)))
}

/// The canonical spelling of a zone name for the `TimeZone` setting (what `SHOW`
/// prints), or `None` when no zone has that name.
pub fn canonical_name(name: &str) -> Option<String> {
    if let Some(tz) = find_named(name) {
        return Some(tz.name().to_string());
    }
    let upper = name.to_ascii_uppercase();
    parse_posix(&upper).map(|_| upper)
}

fn find_named(name: &str) -> Option<Tz> {
    if let Ok(tz) = name.parse::<Tz>() {
        return Some(tz);
    }
    chrono_tz::TZ_VARIANTS
        .iter()
        .copied()
        .find(|tz| tz.name().eq_ignore_ascii_case(name))
}

thread_local! {
    /// This backend thread's session zone: the last `TimeZone` value resolved and the
    /// zone it names (PostgreSQL's per-backend `session_timezone`).
    static SESSION_ZONE: RefCell<Option<(String, Zone)>> = const { RefCell::new(None) };
}

/// Makes the zone a `TimeZone` setting value names this thread's session zone and
/// returns it. `sql::Session` calls it (through its output options) before each
/// statement, bind and COPY batch, so the conversions that cannot see the session —
/// `types::cast` between timestamp, date and timestamptz, timestamptz text input —
/// use the session's zone through [`current_zone`]. The value was validated when it
/// was set, so an unresolvable one (which cannot happen) means UTC. The resolution is
/// kept, so per-value output does not look the name up again.
pub fn session_zone(setting: &str) -> Zone {
    SESSION_ZONE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some((name, zone)) = c.as_ref() {
            if name == setting {
                return zone.clone();
            }
        }
        let zone = setting_zone(setting);
        *c = Some((setting.to_string(), zone.clone()));
        zone
    })
}

/// This thread's session zone (see [`session_zone`]); UTC before any session set one.
pub fn current_zone() -> Zone {
    SESSION_ZONE.with(|c| {
        c.borrow()
            .as_ref()
            .map(|(_, z)| z.clone())
            .unwrap_or_default()
    })
}

/// The zone a `TimeZone` setting value names, without touching this thread's session
/// zone (for server-side readers of the setting, e.g. `recovery_target_time`).
pub fn setting_zone(setting: &str) -> Zone {
    let t = setting.trim();
    if let Ok(hours) = t.parse::<f64>() {
        if hours.is_finite() && hours.abs() < 168.0 {
            return Zone::fixed((hours * 3600.0).round() as i32);
        }
    }
    lookup(t).unwrap_or_default()
}

/// What a time zone abbreviation stands for.
#[derive(Debug, Clone, PartialEq)]
pub enum Abbrev {
    /// A fixed offset, seconds east of UTC (`EST` = -18000).
    Fixed(i32),
    /// A zone whose offset at the time in question applies (`MSK` = Europe/Moscow).
    Dynamic(Tz),
}

/// The time zone abbreviations of PostgreSQL's `Default` set that tusk knows (the
/// common ones), matched case-insensitively, with their offsets in seconds east.
const ABBREVS: &[(&str, i32)] = &[
    // North America.
    ("ADT", -10800),
    ("AKDT", -28800),
    ("AKST", -32400),
    ("AST", -14400),
    ("CDT", -18000),
    ("CST", -21600),
    ("EDT", -14400),
    ("EST", -18000),
    ("HST", -36000),
    ("MDT", -21600),
    ("MST", -25200),
    ("NDT", -9000),
    ("NST", -12600),
    ("PDT", -25200),
    ("PST", -28800),
    // Universal.
    ("GMT", 0),
    ("UCT", 0),
    ("UT", 0),
    ("UTC", 0),
    ("Z", 0),
    ("ZULU", 0),
    // Europe.
    ("BST", 3600),
    ("CEST", 7200),
    ("CET", 3600),
    ("CETDST", 7200),
    ("EEST", 10800),
    ("EET", 7200),
    ("EETDST", 10800),
    ("MEST", 7200),
    ("MESZ", 7200),
    ("MET", 3600),
    ("METDST", 7200),
    ("MEZ", 3600),
    ("WET", 0),
    ("WETDST", 3600),
    // Asia.
    ("HKT", 28800),
    ("IDT", 10800),
    ("IST", 7200),
    ("JST", 32400),
    ("KST", 32400),
    ("PKT", 18000),
    // Australia and New Zealand.
    ("ACDT", 37800),
    ("ACST", 34200),
    ("AEDT", 39600),
    ("AEST", 36000),
    ("AWST", 28800),
    ("NZDT", 46800),
    ("NZST", 43200),
];

/// Abbreviations that stand for a whole zone (their offset changed over the years).
const DYNAMIC_ABBREVS: &[(&str, Tz)] = &[
    ("MSK", Tz::Europe__Moscow),
    ("SGT", Tz::Asia__Singapore),
    ("VET", Tz::America__Caracas),
];

/// Looks up a time zone abbreviation (case-insensitive).
pub fn abbreviation(word: &str) -> Option<Abbrev> {
    if let Some((_, off)) = ABBREVS.iter().find(|(a, _)| a.eq_ignore_ascii_case(word)) {
        return Some(Abbrev::Fixed(*off));
    }
    DYNAMIC_ABBREVS
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(word))
        .map(|(_, tz)| Abbrev::Dynamic(*tz))
}

/// A zone named by text in `AT TIME ZONE`, `timezone()`, `date_trunc(…, zone)` and
/// `make_timestamptz(…, zone)`: an abbreviation first, then a zone name or POSIX
/// specification, as PostgreSQL's `timestamptz_zone` looks it up.
pub fn zone_argument(name: &str) -> Option<Zone> {
    match abbreviation(name) {
        Some(Abbrev::Fixed(off)) => Some(Zone::Posix(Arc::new(PosixZone {
            std_abbrev: name.to_ascii_uppercase(),
            std_east: off,
            dst: None,
        }))),
        Some(Abbrev::Dynamic(tz)) => Some(Zone::Named(tz)),
        None => lookup(name),
    }
}

/// Microseconds as a naive date-time (for field access); `None` outside chrono's range.
fn naive(micros: i64) -> Option<NaiveDateTime> {
    NaiveDate::from_ymd_opt(2000, 1, 1)?
        .and_hms_opt(0, 0, 0)?
        .checked_add_signed(chrono::Duration::microseconds(micros))
}

/// `timestamptz + interval` in a zone, as PostgreSQL's `timestamptz_pl_interval`: the
/// months, then the days, move the local wall-clock time (re-resolving the offset
/// after each, so `+ '1 day'` keeps 12:00 across a DST change), then the time part is
/// added as elapsed time. `None` when the result is out of range.
pub fn timestamptz_plus(ts: i64, months: i32, days: i32, micros: i64, zone: &Zone) -> Option<i64> {
    if is_infinite(ts) {
        return Some(ts);
    }
    let mut t = ts;
    if months != 0 {
        let local = naive(zone.to_local(t))?;
        let moved = if months > 0 {
            local.checked_add_months(chrono::Months::new(months as u32))?
        } else {
            local.checked_sub_months(chrono::Months::new(months.unsigned_abs()))?
        };
        t = zone.local_to_utc(from_naive(moved)?);
    }
    if days != 0 {
        let local = zone.to_local(t);
        t = zone.local_to_utc(local.checked_add(days as i64 * USECS_PER_DAY)?);
    }
    t.checked_add(micros)
}

fn from_naive(dt: NaiveDateTime) -> Option<i64> {
    let epoch = NaiveDate::from_ymd_opt(2000, 1, 1)?.and_hms_opt(0, 0, 0)?;
    (dt - epoch).num_microseconds()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PostgreSQL microseconds of a UTC date-time.
    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        let dt = NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap();
        from_naive(dt).unwrap()
    }

    fn zone(name: &str) -> Zone {
        lookup(name).unwrap()
    }

    #[test]
    fn named_zones_follow_dst() {
        let paris = zone("europe/paris");
        assert_eq!(
            canonical_name("europe/paris").as_deref(),
            Some("Europe/Paris")
        );
        let summer = paris.offset_at(at(2024, 7, 1, 10, 0));
        assert_eq!((summer.east_secs, summer.abbrev.as_ref()), (7200, "CEST"));
        assert!(summer.is_dst);
        let winter = paris.offset_at(at(2024, 1, 1, 10, 0));
        assert_eq!((winter.east_secs, winter.abbrev.as_ref()), (3600, "CET"));
        // The switch on 2024-03-31 happens at 01:00 UTC.
        assert_eq!(paris.east_at(at(2024, 3, 31, 0, 59)), 3600);
        assert_eq!(paris.east_at(at(2024, 3, 31, 1, 0)), 7200);
        let kolkata = zone("Asia/Kolkata");
        assert_eq!(kolkata.east_at(at(2024, 7, 1, 0, 0)), 19800);
        // Numeric abbreviations are spelled out.
        assert_eq!(
            zone("Asia/Tehran").offset_at(at(2024, 7, 1, 0, 0)).abbrev,
            "+0330"
        );
        assert_eq!(zone("Etc/GMT+3").offset_at(0).abbrev, "-03");
    }

    #[test]
    fn dst_gap_and_overlap_resolve_as_postgres() {
        let ny = zone("America/New_York");
        // 2024-03-10 02:30 does not exist in New York: read with the offset before the
        // jump (-05), it is 07:30 UTC, i.e. 03:30 EDT.
        assert_eq!(
            ny.local_to_utc(at(2024, 3, 10, 2, 30)),
            at(2024, 3, 10, 7, 30)
        );
        // 2024-11-03 01:30 happens twice: PostgreSQL takes the second (EST, -05).
        assert_eq!(
            ny.local_to_utc(at(2024, 11, 3, 1, 30)),
            at(2024, 11, 3, 6, 30)
        );
        // Ordinary times either side of the transitions.
        assert_eq!(
            ny.local_to_utc(at(2024, 3, 10, 1, 59)),
            at(2024, 3, 10, 6, 59)
        );
        assert_eq!(
            ny.local_to_utc(at(2024, 3, 10, 3, 0)),
            at(2024, 3, 10, 7, 0)
        );
        assert_eq!(
            ny.local_to_utc(at(2024, 11, 3, 0, 59)),
            at(2024, 11, 3, 4, 59)
        );
        assert_eq!(
            ny.local_to_utc(at(2024, 11, 3, 2, 0)),
            at(2024, 11, 3, 7, 0)
        );
        // Round trip through local time for every hour of a transition week.
        for h in 0..(24 * 7) {
            let u = at(2024, 3, 7, 0, 0) + h * 3_600_000_000;
            assert_eq!(ny.local_to_utc(ny.to_local(u)), u, "hour {h}");
        }
    }

    #[test]
    fn adding_a_day_keeps_the_wall_clock() {
        let paris = zone("Europe/Paris");
        let noon = paris.local_to_utc(at(2024, 3, 30, 12, 0));
        let next = timestamptz_plus(noon, 0, 1, 0, &paris).unwrap();
        assert_eq!(paris.to_local(next), at(2024, 3, 31, 12, 0));
        assert_eq!(next - noon, 23 * 3_600_000_000);
        let by_hours = timestamptz_plus(noon, 0, 0, 24 * 3_600_000_000, &paris).unwrap();
        assert_eq!(paris.to_local(by_hours), at(2024, 3, 31, 13, 0));
        let month = timestamptz_plus(noon, 1, 0, 0, &paris).unwrap();
        assert_eq!(paris.to_local(month), at(2024, 4, 30, 12, 0));
    }

    #[test]
    fn posix_specifications_are_west_positive() {
        let z = zone("utc+3");
        let o = z.offset_at(at(2024, 7, 1, 0, 0));
        assert_eq!((o.east_secs, o.abbrev.as_ref()), (-10800, "UTC"));
        assert_eq!(canonical_name("utc+3").as_deref(), Some("UTC+3"));
        assert_eq!(zone("+05").east_at(0), -18000);
        assert_eq!(zone("-05:30").east_at(0), 19800);
        assert_eq!(zone("<+03>-03").east_at(0), 10800);
        // A DST abbreviation without rules gets the US rules.
        let x = zone("XXX5YYY");
        let summer = x.offset_at(at(2024, 7, 1, 12, 0));
        assert_eq!((summer.east_secs, summer.abbrev.as_ref()), (-14400, "YYY"));
        assert_eq!(x.east_at(at(2024, 1, 1, 12, 0)), -18000);
        assert_eq!(x.east_at(at(2024, 3, 10, 6, 59)), -18000);
        assert_eq!(x.east_at(at(2024, 3, 10, 7, 0)), -14400);
        assert_eq!(x.east_at(at(2024, 11, 3, 5, 59)), -14400);
        assert_eq!(x.east_at(at(2024, 11, 3, 6, 0)), -18000);
        // Southern hemisphere rules span the new year.
        let s = zone("AEST-10AEDT,M10.1.0,M4.1.0/3");
        assert_eq!(s.east_at(at(2024, 1, 15, 0, 0)), 39600);
        assert_eq!(s.east_at(at(2024, 7, 15, 0, 0)), 36000);
        for bad in ["Nowhere/Foo", "", "UT+", "A1", "UTC+3,", "XXX5YYY,M3.2.0"] {
            assert!(lookup(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn fixed_offsets_are_named_as_postgres() {
        assert_eq!(Zone::fixed(-5 * 3600).offset_at(0).abbrev, "-05");
        assert_eq!(setting_zone("<-05>+05").east_at(0), -18000);
        assert_eq!(setting_zone("<+05:30>-05:30").east_at(0), 19800);
        assert_eq!(session_zone("-3.5").east_at(0), -12600);
        assert_eq!(session_zone("Europe/Paris"), zone("Europe/Paris"));
    }

    #[test]
    fn far_future_uses_an_equivalent_year() {
        let paris = zone("Europe/Paris");
        assert_eq!(paris.east_at(at(2150, 7, 1, 0, 0)), 7200);
        assert_eq!(paris.east_at(at(2150, 1, 1, 0, 0)), 3600);
        // Last Sunday of March 2150 is the 29th.
        assert_eq!(paris.east_at(at(2150, 3, 29, 0, 59)), 3600);
        assert_eq!(paris.east_at(at(2150, 3, 29, 1, 0)), 7200);
    }

    #[test]
    fn abbreviations() {
        assert_eq!(abbreviation("est"), Some(Abbrev::Fixed(-18000)));
        assert_eq!(abbreviation("CEST"), Some(Abbrev::Fixed(7200)));
        assert_eq!(
            abbreviation("msk"),
            Some(Abbrev::Dynamic(Tz::Europe__Moscow))
        );
        assert_eq!(abbreviation("xyz"), None);
        assert_eq!(zone_argument("PST").unwrap().east_at(0), -28800);
        assert_eq!(
            zone_argument("America/Los_Angeles").unwrap().east_at(0),
            -28800
        );
    }
}
