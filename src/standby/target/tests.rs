//! Recovery-target tests: parsing the `recovery_target*` settings with PostgreSQL's
//! errors, and the stop-before/stop-after rules for every kind of target.

use super::*;
use crate::config::RecoveryConf;
use std::path::Path;

/// A configuration with `settings` applied over the boot values.
fn config(settings: &[(&str, &str)]) -> Result<ServerConfig> {
    let dir = Path::new("/tmp/tusk-target-test");
    let mut c = ServerConfig::defaults(dir);
    let rc = RecoveryConf {
        standby_mode: false,
        settings: settings
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
    };
    c.apply_recovery_conf(dir, &rc)?;
    Ok(c)
}

fn target(settings: &[(&str, &str)]) -> RecoveryTarget {
    RecoveryTarget::from_config(&config(settings).unwrap()).unwrap()
}

fn target_err(settings: &[(&str, &str)]) -> Error {
    match config(settings) {
        // The setting's own check refused it at load time.
        Err(e) => e,
        Ok(c) => RecoveryTarget::from_config(&c).unwrap_err(),
    }
}

/// PostgreSQL microseconds of a UTC timestamp text.
fn ts(s: &str) -> i64 {
    parse_timestamptz(s, &Default::default()).unwrap()
}

fn commit(xid: u32, time: &str, start: u64) -> ReplayEvent<'static> {
    ReplayEvent::Commit {
        xid,
        time: ts(time),
        start_lsn: Lsn(start),
        end_lsn: Lsn(start + 0x30),
    }
}

fn abort(xid: u32, time: &str, start: u64) -> ReplayEvent<'static> {
    ReplayEvent::Abort {
        xid,
        time: ts(time),
        start_lsn: Lsn(start),
        end_lsn: Lsn(start + 0x30),
    }
}

fn other(start: u64) -> ReplayEvent<'static> {
    ReplayEvent::Other {
        start_lsn: Lsn(start),
        end_lsn: Lsn(start + 0x40),
    }
}

#[test]
fn defaults_are_unset_inclusive_pause_latest() {
    let t = target(&[]);
    assert_eq!(t, RecoveryTarget::unset());
    assert!(!t.is_set());
    assert_eq!(t.describe(), "starting archive recovery");
    assert_eq!(t.history_reason(None), "no recovery target specified");
    assert_eq!(t.stops_before(&commit(5, "2026-01-01", 0x100), true), None);
    assert_eq!(t.stops_after(&commit(5, "2026-01-01", 0x100), true), None);
}

#[test]
fn parses_every_kind_and_describes_it() {
    let t = target(&[("recovery_target_xid", "736")]);
    assert_eq!(t.kind, Some(TargetKind::Xid(736)));
    assert_eq!(t.describe(), "starting point-in-time recovery to XID 736");
    let t = target(&[("recovery_target_time", "2026-11-24 06:15:03+00")]);
    assert_eq!(t.kind, Some(TargetKind::Time(ts("2026-11-24 06:15:03"))));
    assert_eq!(
        t.describe(),
        "starting point-in-time recovery to 2026-11-24 06:15:03+00"
    );
    let t = target(&[("recovery_target_name", "before_upgrade")]);
    assert_eq!(t.kind, Some(TargetKind::Name("before_upgrade".into())));
    assert_eq!(
        t.describe(),
        "starting point-in-time recovery to \"before_upgrade\""
    );
    let t = target(&[("recovery_target_lsn", "0/3000060")]);
    assert_eq!(t.kind, Some(TargetKind::Lsn(Lsn(0x300_0060))));
    assert_eq!(
        t.describe(),
        "starting point-in-time recovery to WAL location (LSN) \"0/3000060\""
    );
    let t = target(&[("recovery_target", "immediate")]);
    assert_eq!(t.kind, Some(TargetKind::Immediate));
    assert!(t.is_set());
    assert_eq!(
        t.describe(),
        "starting point-in-time recovery to earliest consistent point"
    );
}

#[test]
fn xid_and_timeline_read_like_strtoul() {
    assert_eq!(
        target(&[("recovery_target_xid", "0x10")]).kind,
        Some(TargetKind::Xid(16))
    );
    // PostgreSQL 15 accepts 'abc' (strtoul reads 0) and wraps '-1'.
    assert_eq!(
        target(&[("recovery_target_xid", "abc")]).kind,
        Some(TargetKind::Xid(0))
    );
    assert_eq!(
        target(&[("recovery_target_xid", "-1")]).kind,
        Some(TargetKind::Xid(u32::MAX))
    );
    assert_eq!(
        target(&[("recovery_target_timeline", "current")]).timeline,
        TargetTimeline::Current
    );
    assert_eq!(
        target(&[("recovery_target_timeline", "3")]).timeline,
        TargetTimeline::Numeric(3)
    );
    assert_eq!(
        target(&[("recovery_target_timeline", "foo")]).timeline,
        TargetTimeline::Numeric(0)
    );
    let e = timeline_does_not_exist(0);
    assert_eq!(e.message, "recovery target timeline 0 does not exist");
    assert_eq!(e.code, "22023");
    assert_eq!(
        target_not_reached().message,
        "recovery ended before configured recovery target was reached"
    );
}

#[test]
fn action_and_inclusive() {
    let t = target(&[
        ("recovery_target_action", "promote"),
        ("recovery_target_inclusive", "off"),
    ]);
    assert_eq!(t.action, TargetAction::Promote);
    assert!(!t.inclusive);
    assert_eq!(
        target(&[("recovery_target_action", "shutdown")]).action,
        TargetAction::Shutdown
    );
    // Pause without hot standby would never end: PostgreSQL shuts down instead.
    let t = target(&[("hot_standby", "off")]);
    assert_eq!(t.action, TargetAction::Shutdown);
}

#[test]
fn errors_are_postgresqls() {
    let e = target_err(&[("recovery_target_xid", "5"), ("recovery_target_name", "x")]);
    assert_eq!(e.code, "22023");
    assert_eq!(e.message, "multiple recovery targets specified");
    assert_eq!(
        e.detail.as_deref(),
        Some(
            "At most one of recovery_target, recovery_target_lsn, recovery_target_name, \
             recovery_target_time, recovery_target_xid may be set."
        )
    );
    let e = target_err(&[
        ("recovery_target", "immediate"),
        ("recovery_target_lsn", "0/1"),
    ]);
    assert_eq!(e.message, "multiple recovery targets specified");
    let e = target_err(&[("recovery_target_time", "garbage")]);
    assert_eq!(
        e.message,
        "invalid value for parameter \"recovery_target_time\": \"garbage\""
    );
    assert_eq!(e.detail, None);
    let e = target_err(&[("recovery_target_time", "now")]);
    assert_eq!(
        e.message,
        "invalid value for parameter \"recovery_target_time\": \"now\""
    );
    // Field out of range: no DETAIL, as DecodeDateTime's failure.
    let e = target_err(&[("recovery_target_time", "2024-13-01 10:00")]);
    assert_eq!(
        e.message,
        "invalid value for parameter \"recovery_target_time\": \"2024-13-01 10:00\""
    );
    let e = target_err(&[("recovery_target_lsn", "x")]);
    assert_eq!(
        e.message,
        "invalid value for parameter \"recovery_target_lsn\": \"x\""
    );
    let long = "a".repeat(64);
    let e = target_err(&[("recovery_target_name", &long)]);
    assert_eq!(
        e.message,
        format!("invalid value for parameter \"recovery_target_name\": \"{long}\"")
    );
    assert_eq!(
        e.detail.as_deref(),
        Some("recovery_target_name is too long (maximum 63 characters).")
    );
    let e = target_err(&[("recovery_target_action", "foo")]);
    assert_eq!(
        e.message,
        "invalid value for parameter \"recovery_target_action\": \"foo\""
    );
    assert_eq!(
        e.hint.as_deref(),
        Some("Available values: pause, promote, shutdown.")
    );
    let e = target_err(&[("recovery_target_xid", "99999999999999999999999")]);
    assert_eq!(
        e.message,
        "invalid value for parameter \"recovery_target_xid\": \"99999999999999999999999\""
    );
    let e = target_err(&[("recovery_target", "foo")]);
    assert_eq!(
        e.detail.as_deref(),
        Some("The only allowed value is \"immediate\".")
    );
    // The parse itself (settings that reached it unchecked).
    let e = parse_target_time("294277-01-01", &Default::default()).unwrap_err();
    assert_eq!(
        e.detail.as_deref(),
        Some("timestamp out of range: \"294277-01-01\"")
    );
    assert!(parse_target_time("10:00", &Default::default()).is_err());
    assert!(parse_target_time("epoch", &Default::default()).is_err());
}

#[test]
fn time_honours_time_zone_and_explicit_offsets() {
    let t = target(&[
        ("TimeZone", "-3.5"),
        ("recovery_target_time", "2026-11-24 06:15:03"),
    ]);
    let want = ts("2026-11-24 09:45:03");
    assert_eq!(t.kind, Some(TargetKind::Time(want)));
    // Printed in the same zone, as timestamptz_to_str does.
    assert_eq!(
        t.describe(),
        "starting point-in-time recovery to 2026-11-24 06:15:03-03:30"
    );
    let t = target(&[
        ("TimeZone", "UTC"),
        ("recovery_target_time", "2026-11-24 08:15:03+02"),
    ]);
    assert_eq!(t.kind, Some(TargetKind::Time(ts("2026-11-24 06:15:03"))));
    // Offsets on 2000-01-01 (winter in New York).
    let east = |tz: &str| crate::types::timezone::setting_zone(tz).east_at(0);
    assert_eq!(east("UTC"), 0);
    assert_eq!(east("<+05:30>-05:30"), 19800);
    assert_eq!(east("<-03:30>+03:30"), -12600);
    assert_eq!(east("JST-9"), 9 * 3600);
    assert_eq!(east("EST5"), -5 * 3600);
    assert_eq!(east("America/New_York"), -5 * 3600);
}

#[test]
fn time_target_inclusive_stops_before_first_later_commit() {
    let t = target(&[("recovery_target_time", "2026-11-24 06:15:03+00")]);
    // Equal time: inclusive goes on.
    assert_eq!(
        t.stops_before(&commit(735, "2026-11-24 06:15:03", 0x100), true),
        None
    );
    let s = t
        .stops_before(&commit(736, "2026-11-24 06:15:03.465866", 0x200), true)
        .unwrap();
    assert!(!s.after);
    assert_eq!(s.xid, 736);
    assert_eq!(
        s.log,
        "recovery stopping before commit of transaction 736, time 2026-11-24 06:15:03.465866+00"
    );
    assert_eq!(s.reason, "before 2026-11-24 06:15:03.465866+00\n");
    // Aborts count too.
    let s = t
        .stops_before(&abort(737, "2026-11-24 06:16:00", 0x200), true)
        .unwrap();
    assert_eq!(
        s.log,
        "recovery stopping before abort of transaction 737, time 2026-11-24 06:16:00+00"
    );
    // Never after, never on other records or restore points.
    assert_eq!(t.stops_after(&commit(736, "2027-01-01", 0x200), true), None);
    assert_eq!(t.stops_before(&other(0x300), true), None);
    let rp = ReplayEvent::RestorePoint {
        name: "x",
        time: ts("2027-01-01"),
        start_lsn: Lsn(0x400),
        end_lsn: Lsn(0x468),
    };
    assert_eq!(t.stops_before(&rp, true), None);
    assert_eq!(t.stops_after(&rp, true), None);
}

#[test]
fn time_target_exclusive_stops_at_equal_time() {
    let t = target(&[
        ("recovery_target_time", "2026-11-24 06:15:03+00"),
        ("recovery_target_inclusive", "false"),
    ]);
    assert_eq!(
        t.stops_before(&commit(735, "2026-11-24 06:15:02.999999", 0x100), true),
        None
    );
    let s = t
        .stops_before(&commit(736, "2026-11-24 06:15:03", 0x200), true)
        .unwrap();
    assert_eq!(
        s.log,
        "recovery stopping before commit of transaction 736, time 2026-11-24 06:15:03+00"
    );
    assert_eq!(s.reason, "before 2026-11-24 06:15:03+00\n");
}

#[test]
fn xid_target_inclusive_stops_after_its_commit() {
    let t = target(&[("recovery_target_xid", "736")]);
    let c = commit(736, "2026-11-24 06:15:03.465866", 0x200);
    assert_eq!(t.stops_before(&c, true), None);
    // Only equality: a later xid finishing first does not stop.
    assert_eq!(
        t.stops_after(&commit(737, "2026-11-24 06:15:00", 0x100), true),
        None
    );
    let s = t.stops_after(&c, true).unwrap();
    assert!(s.after);
    assert_eq!(s.xid, 736);
    assert_eq!(
        s.log,
        "recovery stopping after commit of transaction 736, time 2026-11-24 06:15:03.465866+00"
    );
    assert_eq!(s.reason, "after transaction 736");
    let s = t
        .stops_after(&abort(736, "2026-11-24 06:15:04", 0x200), true)
        .unwrap();
    assert_eq!(
        s.log,
        "recovery stopping after abort of transaction 736, time 2026-11-24 06:15:04+00"
    );
    assert_eq!(t.stops_after(&other(0x300), true), None);
}

#[test]
fn xid_target_exclusive_stops_before_with_time_zero() {
    let t = target(&[
        ("recovery_target_xid", "733"),
        ("recovery_target_inclusive", "off"),
    ]);
    let s = t
        .stops_before(&commit(733, "2026-11-24 06:15:03", 0x200), true)
        .unwrap();
    assert!(!s.after);
    // PostgreSQL only reads the record's time for time targets.
    assert_eq!(s.time, 0);
    assert_eq!(
        s.log,
        "recovery stopping before commit of transaction 733, time 2000-01-01 00:00:00+00"
    );
    assert_eq!(s.reason, "before transaction 733");
    let s = t
        .stops_before(&abort(733, "2026-11-24 06:15:03", 0x200), true)
        .unwrap();
    assert_eq!(
        s.log,
        "recovery stopping before abort of transaction 733, time 2000-01-01 00:00:00+00"
    );
    assert_eq!(t.stops_after(&commit(733, "2026-11-24", 0x200), true), None);
}

#[test]
fn lsn_target_inclusive_stops_after_first_record_at_or_past_it() {
    let t = target(&[("recovery_target_lsn", "0/3000060")]);
    assert_eq!(t.stops_after(&other(0x300_0028), true), None);
    assert_eq!(t.stops_before(&other(0x300_0060), true), None);
    let s = t.stops_after(&other(0x300_0060), true).unwrap();
    assert!(s.after);
    assert_eq!(s.lsn, Lsn(0x300_0060));
    assert_eq!(
        s.log,
        "recovery stopping after WAL location (LSN) \"0/3000060\""
    );
    assert_eq!(s.reason, "after LSN 0/3000060\n");
    // A record starting past the target (the target was mid-record) stops too, with
    // the record's start.
    let s = t
        .stops_after(&commit(9, "2026-01-01", 0x300_0070), true)
        .unwrap();
    assert_eq!(
        s.log,
        "recovery stopping after WAL location (LSN) \"0/3000070\""
    );
}

#[test]
fn lsn_target_exclusive_stops_before_first_record_at_or_past_it() {
    let t = target(&[
        ("recovery_target_lsn", "0/3000060"),
        ("recovery_target_inclusive", "off"),
    ]);
    assert_eq!(t.stops_before(&other(0x300_0028), true), None);
    let s = t.stops_before(&other(0x300_0060), false).unwrap();
    assert!(!s.after);
    assert_eq!(
        s.log,
        "recovery stopping before WAL location (LSN) \"0/3000060\""
    );
    assert_eq!(s.reason, "before LSN 0/3000060\n");
    assert_eq!(t.stops_after(&other(0x300_0060), true), None);
}

#[test]
fn name_target_stops_after_matching_restore_point() {
    let t = target(&[("recovery_target_name", "rp1")]);
    let rp = |name: &'static str, start: u64| ReplayEvent::RestorePoint {
        name,
        time: ts("2026-11-24 06:15:03.5"),
        start_lsn: Lsn(start),
        end_lsn: Lsn(start + 0x68),
    };
    assert_eq!(t.stops_after(&rp("rp0", 0x100), true), None);
    assert_eq!(t.stops_before(&rp("rp1", 0x200), true), None);
    // Inclusive or not makes no difference for names.
    let s = t.stops_after(&rp("rp1", 0x200), true).unwrap();
    assert!(s.after);
    assert_eq!(s.name, "rp1");
    assert_eq!(
        s.log,
        "recovery stopping at restore point \"rp1\", time 2026-11-24 06:15:03.5+00"
    );
    assert_eq!(s.reason, "at restore point \"rp1\"");
    let t = target(&[
        ("recovery_target_name", "rp1"),
        ("recovery_target_inclusive", "off"),
    ]);
    assert!(t.stops_after(&rp("rp1", 0x200), false).is_some());
    assert_eq!(t.stops_after(&commit(1, "2030-01-01", 0x300), true), None);
}

#[test]
fn immediate_stops_once_consistent() {
    let t = target(&[("recovery_target", "immediate")]);
    assert_eq!(t.stops_before(&other(0x100), false), None);
    assert_eq!(t.stops_after(&other(0x100), false), None);
    // Consistency reached by applying this record: stop after it.
    let s = t.stops_after(&other(0x100), true).unwrap();
    assert!(s.after);
    assert_eq!(s.log, "recovery stopping after reaching consistency");
    assert_eq!(s.reason, "reached consistency");
    // Already consistent before the record: stop before it (same line).
    let s = t
        .stops_before(&commit(5, "2026-01-01", 0x200), true)
        .unwrap();
    assert!(!s.after);
    assert_eq!(s.log, "recovery stopping after reaching consistency");
    assert_eq!(s.reason, "reached consistency");
}

#[test]
fn history_reason_without_a_stop() {
    // A target set but recovery ended elsewhere: PostgreSQL's zero values.
    assert_eq!(
        target(&[("recovery_target_xid", "9")]).history_reason(None),
        "before transaction 0"
    );
    assert_eq!(
        target(&[("recovery_target_lsn", "0/1")]).history_reason(None),
        "before LSN 0/0\n"
    );
    assert_eq!(
        target(&[("recovery_target_name", "n")]).history_reason(None),
        "at restore point \"\""
    );
}
