//! Tests of `types::time`: literal input as PostgreSQL 15 reads it, output, typmod
//! rounding, the binary formats and the row codec.

use super::*;
use crate::types::{decode_binary, decode_row, encode_binary, encode_row, Reader};

const H: i64 = 3_600_000_000;
const M: i64 = 60_000_000;
const S: i64 = 1_000_000;

fn t(s: &str) -> i64 {
    parse_time(s, -1, 0).unwrap_or_else(|e| panic!("{s}: {}", e.message))
}

fn err(s: &str) -> (&'static str, String) {
    let e = parse_time(s, -1, 0).unwrap_err();
    (e.code, e.message)
}

#[test]
fn literals_read_as_postgres_reads_them() {
    assert_eq!(t("10:30"), 10 * H + 30 * M);
    assert_eq!(t("10:30:15.123456"), 10 * H + 30 * M + 15 * S + 123_456);
    assert_eq!(t("10:30:15.1234567"), 10 * H + 30 * M + 15 * S + 123_457);
    assert_eq!(t("1030"), 10 * H + 30 * M);
    assert_eq!(t("103015"), 10 * H + 30 * M + 15 * S);
    assert_eq!(t("103015.5"), 10 * H + 30 * M + 15 * S + 500_000);
    assert_eq!(t("1030.5"), 10 * H + 30 * M + 500_000);
    assert_eq!(t("allballs"), 0);
    assert_eq!(t("24:00:00"), USECS_PER_DAY);
    assert_eq!(t("23:59:60"), USECS_PER_DAY);
    assert_eq!(t("23:59:59.9999999"), USECS_PER_DAY);
    assert_eq!(t("10:30 am"), 10 * H + 30 * M);
    assert_eq!(t("12:00 am"), 0);
    assert_eq!(t("12:00 pm"), 12 * H);
    assert_eq!(t("00:00 pm"), 12 * H);
    assert_eq!(t("10:30:15 PM"), 22 * H + 30 * M + 15 * S);
    assert_eq!(t("10:30pm"), 22 * H + 30 * M);
    assert_eq!(t("  10:30  "), 10 * H + 30 * M);
    // Two fields with a fraction are minutes and seconds.
    assert_eq!(t("10:30.5"), 10 * M + 30 * S + 500_000);
    // Empty fields read as zero, as strtol leaves them.
    assert_eq!(t("10::30"), 10 * H + 30 * S);
    assert_eq!(t("10:30:"), 10 * H + 30 * M);
    // A date before the time, an ISO T, a zone: accepted and dropped for `time`.
    assert_eq!(t("2024-01-02 10:30"), 10 * H + 30 * M);
    assert_eq!(t("T10:30"), 10 * H + 30 * M);
    assert_eq!(t("T103015"), 10 * H + 30 * M + 15 * S);
    assert_eq!(t("10:30:15-08"), 10 * H + 30 * M + 15 * S);
    assert_eq!(t("10:30 UTC"), 10 * H + 30 * M);
    assert_eq!(t("10:30 +02 pm"), 22 * H + 30 * M);
}

#[test]
fn bad_literals_fail_with_postgres_errors() {
    let range = |s: &str| {
        (
            "22008",
            format!("date/time field value out of range: \"{s}\""),
        )
    };
    let syntax = |s: &str| {
        (
            "22007",
            format!("invalid input syntax for type time: \"{s}\""),
        )
    };
    for s in [
        "25:00",
        "24:00:01",
        "24:00:00.000001",
        "10:60",
        "100:00",
        "13:00 pm",
        "24:00 am",
        "23:59:60.5",
    ] {
        assert_eq!(err(s), range(s), "{s}");
    }
    for s in [
        "abc",
        "10",
        "",
        "102",
        "10301",
        "1030156",
        "10.5",
        "-1:00",
        "+10:30",
        "2024-01-02",
        "10:30:15.5.5",
        "10:30 am pm",
        "10:30 utc utc",
        "10:30 +02 +03",
        "allballs 10:00",
        "now allballs",
        "10:30:15 2024-01-01",
        "10:30 xyz",
        "10am",
        "T",
    ] {
        assert_eq!(err(s), syntax(s), "{s}");
    }
    let e = parse_time("2024-13-02 10:30", -1, 0).unwrap_err();
    assert_eq!(e.code, "22008");
    assert_eq!(
        e.hint.as_deref(),
        Some("Perhaps you need a different \"datestyle\" setting.")
    );
    let e = parse_time("10:30:15+25", -1, 0).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            "22009",
            "time zone displacement out of range: \"10:30:15+25\""
        )
    );
}

#[test]
fn output_trims_the_fraction() {
    assert_eq!(format_time(10 * H + 30 * M), "10:30:00");
    assert_eq!(
        format_time(10 * H + 30 * M + 15 * S + 500_000),
        "10:30:15.5"
    );
    assert_eq!(format_time(1), "00:00:00.000001");
    assert_eq!(format_time(USECS_PER_DAY), "24:00:00");
}

#[test]
fn typmod_rounds_half_up_without_wrapping() {
    let v = t("10:30:15.125");
    assert_eq!(format_time(round_to_typmod(v, 2)), "10:30:15.13");
    assert_eq!(format_time(round_to_typmod(v, 0)), "10:30:15");
    assert_eq!(format_time(round_to_typmod(v, 6)), "10:30:15.125");
    assert_eq!(format_time(round_to_typmod(v, -1)), "10:30:15.125");
    assert_eq!(format_time(round_to_typmod(t("23:59:59.9"), 0)), "24:00:00");
    // The module comment's walk-through.
    let v = parse_time("10:30:15.126 pm", 2, 0).unwrap();
    assert_eq!(
        (v, format_time(v).as_str()),
        (81_015_130_000, "22:30:15.13")
    );
    assert_eq!(
        format_time(parse_time("10:30:15.5", 0, 0).unwrap()),
        "10:30:16"
    );
}

#[test]
fn timetz_keeps_its_zone() {
    let z = |s: &str| format_timetz(&parse_timetz(s, -1, 0).unwrap());
    assert_eq!(z("10:30+02"), "10:30:00+02");
    assert_eq!(z("10:30"), "10:30:00+00");
    assert_eq!(z("10:30:15.5-05:30"), "10:30:15.5-05:30");
    assert_eq!(z("24:00+15:59:59"), "24:00:00+15:59:59");
    assert_eq!(z("10:30 +0530"), "10:30:00+05:30");
    assert_eq!(z("10:30 z"), "10:30:00+00");
    // Without a zone in the text, the session's applies.
    assert_eq!(
        format_timetz(&parse_timetz("10:30", -1, 3 * 3600).unwrap()),
        "10:30:00+03"
    );
    let e = parse_timetz("10:30+16", -1, 0).unwrap_err();
    assert_eq!(e.code, "22009");
    let e = parse_timetz("x", -1, 0).unwrap_err();
    assert_eq!(
        e.message,
        "invalid input syntax for type time with time zone: \"x\""
    );
    // Same instant, different zones: not equal; ordered by instant, then zone.
    let a = parse_timetz("10:00+02", -1, 0).unwrap();
    let b = parse_timetz("09:00+01", -1, 0).unwrap();
    assert_eq!(cmp_timetz(&a, &b), std::cmp::Ordering::Less);
    let c = parse_timetz("10:00+03", -1, 0).unwrap();
    assert_eq!(cmp_timetz(&a, &c), std::cmp::Ordering::Greater);
}

#[test]
fn arithmetic_wraps_around_midnight() {
    let iv = |micros: i64| Interval {
        months: 1,
        days: 1,
        micros,
    };
    assert_eq!(format_time(time_plus(t("23:00"), &iv(3 * H))), "02:00:00");
    assert_eq!(format_time(time_plus(t("01:00"), &iv(-3 * H))), "22:00:00");
    assert_eq!(format_time(time_plus(t("24:00"), &iv(0))), "00:00:00");
    assert_eq!(time_diff(t("10:00"), t("12:30")).micros, -(2 * H + 30 * M));
    assert_eq!(
        format_time(interval_to_time(&iv(25 * H + 30 * M))),
        "01:30:00"
    );
    assert_eq!(format_time(interval_to_time(&iv(-H))), "23:00:00");
    assert_eq!(time_of_timestamp(-1), Some(USECS_PER_DAY - 1));
    assert_eq!(time_of_timestamp(i64::MAX), None);
}

#[test]
fn zone_dependent_casts_use_the_given_offset() {
    let ts = Value::TimestampTz(10 * H + 30 * M);
    let off = 3 * 3600;
    let r = cast_in_zone(&ts, DataType::Time, -1, off).unwrap().unwrap();
    assert_eq!(r, Value::Time(13 * H + 30 * M));
    let r = cast_in_zone(&ts, DataType::TimeTz, -1, off)
        .unwrap()
        .unwrap();
    assert_eq!(
        r,
        Value::TimeTz(TimeTz {
            micros: 13 * H + 30 * M,
            zone: -off
        })
    );
    let r = cast_in_zone(&Value::Time(H), DataType::TimeTz, -1, -off)
        .unwrap()
        .unwrap();
    assert_eq!(format_text(&r), "01:00:00-03");
    assert!(cast_in_zone(&Value::Time(H), DataType::Interval, -1, 0).is_none());
    assert!(depends_on_zone(DataType::TimestampTz, DataType::Time));
    assert!(!depends_on_zone(DataType::Timestamp, DataType::Time));
}

fn format_text(v: &Value) -> String {
    crate::types::format_text(v, &crate::types::FormatOptions::default())
}

#[test]
fn make_time_checks_like_postgres() {
    assert_eq!(format_time(make_time(10, 30, 15.5).unwrap()), "10:30:15.5");
    assert_eq!(format_time(make_time(24, 0, 0.0).unwrap()), "24:00:00");
    assert_eq!(format_time(make_time(10, 0, 60.0).unwrap()), "10:01:00");
    for (h, m, s, shown) in [
        (25, 0, 0.0, "25:00:00"),
        (10, 60, 0.0, "10:60:00"),
        (-1, 0, 0.0, "-1:00:00"),
        (24, 0, 0.5, "24:00:0.5"),
        (10, 0, 60.5, "10:00:60.5"),
        (10, 0, 1e7, "10:00:1e+07"),
    ] {
        let e = make_time(h, m, s).unwrap_err();
        assert_eq!(
            (e.code, e.message),
            ("22008", format!("time field value out of range: {shown}"))
        );
    }
}

#[test]
fn extract_follows_time_part_common() {
    let v = Value::Time(t("10:30:15.5"));
    let x = |f: &str, v: &Value| extract(f, v).unwrap().unwrap().to_string();
    assert_eq!(x("hour", &v), "10");
    assert_eq!(x("minute", &v), "30");
    assert_eq!(x("second", &v), "15.500000");
    assert_eq!(x("milliseconds", &v), "15500.000");
    assert_eq!(x("microseconds", &v), "15500000");
    assert_eq!(x("epoch", &v), "37815.500000");
    assert_eq!(x("HOURS", &v), "10");
    let e = extract("day", &v).unwrap().unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            "0A000",
            "unit \"day\" not supported for type time without time zone"
        )
    );
    let e = extract("epochs", &v).unwrap().unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            "22023",
            "unit \"epochs\" not recognized for type time without time zone"
        )
    );
    let z = Value::TimeTz(parse_timetz("10:30-05:30", -1, 0).unwrap());
    assert_eq!(x("timezone", &z), "-19800");
    assert_eq!(x("timezone_hour", &z), "-5");
    assert_eq!(x("timezone_minute", &z), "-30");
    assert_eq!(x("epoch", &z), "57600.000000");
    assert!(extract("hour", &Value::Int4(1)).is_none());
}

#[test]
fn binary_formats_and_row_codec_round_trip() {
    let v = Value::Time(t("10:30:15.5"));
    let b = encode_binary(&v);
    assert_eq!(
        b,
        (10 * H + 30 * M + 15 * S + 500_000).to_be_bytes().to_vec()
    );
    assert_eq!(decode_binary(DataType::Time, &b).unwrap(), v);
    let z = Value::TimeTz(TimeTz {
        micros: 10 * H,
        zone: -7200,
    });
    let b = encode_binary(&z);
    assert_eq!(b.len(), 12);
    assert_eq!(&b[8..], &(-7200i32).to_be_bytes());
    assert_eq!(decode_binary(DataType::TimeTz, &b).unwrap(), z);
    // time_recv refuses values outside a day, timetz_recv zones beyond ±15:59:59.
    let e = decode_binary(DataType::Time, &(USECS_PER_DAY + 1).to_be_bytes()).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), ("22P03", "time out of range"));
    let mut bad = (H).to_be_bytes().to_vec();
    bad.extend_from_slice(&(16 * 3600i32).to_be_bytes());
    assert!(decode_binary(DataType::TimeTz, &bad).is_err());
    assert!(decode_binary(DataType::Time, &[0; 4]).is_err());
    let row = vec![v, z, Value::Null];
    let mut buf = Vec::new();
    encode_row(&row, &mut buf);
    assert_eq!(decode_row(&mut Reader::new(&buf)).unwrap(), row);
    assert!(decode_row(&mut Reader::new(&buf[..buf.len() - 2])).is_err());
}
