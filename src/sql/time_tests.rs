//! Tests of `time` and `timetz` through the whole stack: columns of those types survive
//! a checkpoint and crash recovery, are found through primary keys and indexes, and
//! travel through COPY in text and binary formats (PostgreSQL's `time_send` /
//! `timetz_send` layouts).

use super::tests::{db, q, reopen, session};
use super::ExecResult;

#[test]
fn time_columns_survive_checkpoint_and_crash() {
    let d = db("time-restart");
    {
        let mut s = session(&d.engine, "postgres");
        assert_eq!(
            q(
                &mut s,
                "create table tt (t time primary key, z timetz, p time(2) unique, a time[] default '{00:00}')"
            ),
            "CREATE TABLE"
        );
        q(
            &mut s,
            "insert into tt values ('10:30', '10:30+02', '10:30:15.126', '{10:00,NULL}')",
        );
        q(&mut s, "checkpoint");
        q(
            &mut s,
            "insert into tt (t, z, p) values ('24:00', '23:59:59.5-05:30', '00:00:00.004')",
        );
        std::mem::forget(s); // crash: the second row is only in the WAL
    }
    let engine = reopen(&d.dir);
    let mut s = session(&engine, "postgres");
    assert_eq!(
        q(&mut s, "select t, z, p, a from tt order by t"),
        "t|z|p|a\n\
         10:30:00|10:30:00+02|10:30:15.13|{10:00:00,NULL}\n\
         24:00:00|23:59:59.5-05:30|00:00:00|{00:00:00}\n\
         SELECT 2"
    );
    // Keys: the primary key and the unique index find and guard the values.
    assert_eq!(
        q(&mut s, "select z from tt where t = '24:00:00'"),
        "z\n23:59:59.5-05:30\nSELECT 1"
    );
    assert_eq!(
        q(
            &mut s,
            "select t from tt where p between '10:00' and '11:00'"
        ),
        "t\n10:30:00\nSELECT 1"
    );
    assert_eq!(
        q(&mut s, "insert into tt (t) values ('10:30:00.000')"),
        "ERROR 23505: duplicate key value violates unique constraint \"tt_pkey\" \
         DETAIL Key (t)=(10:30:00) already exists."
    );
    assert_eq!(
        q(
            &mut s,
            "insert into tt (t, p) values ('11:00', '00:00:00.001')"
        ),
        "ERROR 23505: duplicate key value violates unique constraint \"tt_p_key\" \
         DETAIL Key (p)=(00:00:00) already exists."
    );
    // The result columns carry the type OIDs and time(2)'s typmod.
    let r = s.simple_query("select t, z, p, a from tt");
    let Some(Ok(ExecResult::Rows { fields, .. })) = r.into_iter().next() else {
        panic!("no rows");
    };
    let desc: Vec<(u32, i16, i32)> = fields
        .iter()
        .map(|f| (f.type_oid, f.type_len, f.typmod))
        .collect();
    assert_eq!(
        desc,
        vec![(1083, 8, -1), (1266, 12, -1), (1083, 8, 2), (1183, -1, -1)]
    );
}

/// The CopyData payloads of a COPY … TO STDOUT.
fn copy_out(s: &mut super::Session, sql: &str) -> Vec<u8> {
    match s.simple_query(sql).into_iter().next() {
        Some(Ok(ExecResult::CopyOut { data, .. })) => data.concat(),
        other => panic!("not a COPY OUT: {other:?}"),
    }
}

#[test]
fn copy_moves_times_in_text_and_binary() {
    let d = db("time-copy");
    let mut s = session(&d.engine, "postgres");
    q(&mut s, "create table c (id int, t time, z timetz)");
    q(
        &mut s,
        "insert into c values (1, '10:30:15.5', '10:30-05:30'), (2, NULL, '00:00+00')",
    );
    assert_eq!(
        String::from_utf8(copy_out(&mut s, "copy c to stdout")).unwrap(),
        "1\t10:30:15.5\t10:30:00-05:30\n2\t\\N\t00:00:00+00\n"
    );
    let bin = copy_out(&mut s, "copy c to stdout (format binary)");
    // time is an int8 of microseconds; timetz adds the int4 zone, seconds west.
    let t = (10 * 3_600_000_000i64 + 30 * 60_000_000 + 15_500_000).to_be_bytes();
    let mut field = 8i32.to_be_bytes().to_vec();
    field.extend_from_slice(&t);
    assert!(bin.windows(12).any(|w| w == field.as_slice()));
    let mut zfield = 12i32.to_be_bytes().to_vec();
    zfield.extend_from_slice(&(10 * 3_600_000_000i64 + 30 * 60_000_000).to_be_bytes());
    zfield.extend_from_slice(&19_800i32.to_be_bytes());
    assert!(bin.windows(16).any(|w| w == zfield.as_slice()));
    // Back in through COPY FROM (binary) and (text).
    q(&mut s, "create table c2 (id int, t time(0), z timetz)");
    match s
        .simple_query("copy c2 from stdin (format binary)")
        .into_iter()
        .next()
    {
        Some(Ok(ExecResult::CopyIn { binary: true, .. })) => {}
        other => panic!("not a COPY IN: {other:?}"),
    }
    s.copy_data(&bin).unwrap();
    s.copy_done().unwrap();
    match s.simple_query("copy c2 from stdin").into_iter().next() {
        Some(Ok(ExecResult::CopyIn { binary: false, .. })) => {}
        other => panic!("not a COPY IN: {other:?}"),
    }
    s.copy_data(b"3\t23:59:59.6\t12:00 pm +01\n").unwrap();
    s.copy_done().unwrap();
    assert_eq!(
        q(&mut s, "select * from c2 order by id"),
        "id|t|z\n\
         1|10:30:16|10:30:00-05:30\n\
         2|NULL|00:00:00+00\n\
         3|24:00:00|12:00:00+01\n\
         SELECT 3"
    );
    match s.simple_query("copy c2 from stdin").into_iter().next() {
        Some(Ok(ExecResult::CopyIn { .. })) => {}
        other => panic!("not a COPY IN: {other:?}"),
    }
    // Rows are inserted in batches: the error comes with CopyDone at the latest.
    s.copy_data(b"4\t25:00\t\\N\n").unwrap();
    let e = s.copy_done().unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        ("22008", "date/time field value out of range: \"25:00\"")
    );
}
