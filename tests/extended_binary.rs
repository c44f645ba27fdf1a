//! The extended query protocol with binary formats, through tokio-postgres (which
//! asks for binary results and sends binary parameters): named statements and their
//! parameter type inference, every common type round-tripped, a row-limited Execute
//! that answers PortalSuspended, error recovery to the next Sync, and a deferred
//! constraint failing at the Sync's commit.

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::time::{Duration, SystemTime};

#[test]
fn binary_round_trips_portals_and_errors() {
    let s = Server::start_new("ext-binary");
    runtime().block_on(async {
        let mut c = s.connect("postgres").await;
        c.batch_execute(
            "CREATE TABLE tb (id int8 PRIMARY KEY, s int2, i int4, r float4, d float8, \
             b bool, t text, v varchar(10), by bytea, ts timestamp, tz timestamptz, \
             n int4 NULL)",
        )
        .await
        .unwrap();
        // A named statement; parameter types inferred from the columns.
        let ins = c
            .prepare("INSERT INTO tb VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
            .await
            .unwrap();
        let types: Vec<u32> = ins.params().iter().map(|t| t.oid()).collect();
        assert_eq!(
            types,
            vec![20, 21, 23, 700, 701, 16, 25, 1043, 17, 1114, 1184, 23]
        );
        let when = SystemTime::UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        let bytes: Vec<u8> = vec![0, 1, 2, 255];
        for id in 1..=5i64 {
            c.execute(
                &ins,
                &[
                    &id,
                    &(id as i16 * -3),
                    &(id as i32 * 1000),
                    &1.5f32,
                    &(id as f64 / 3.0),
                    &(id % 2 == 0),
                    &format!("row {id} ü"),
                    &"short",
                    &bytes,
                    &when,
                    &when,
                    &None::<i32>,
                ],
            )
            .await
            .unwrap();
        }
        let row = c
            .query_one("SELECT * FROM tb WHERE id = $1", &[&3i64])
            .await
            .unwrap();
        assert_eq!(row.get::<_, i64>(0), 3);
        assert_eq!(row.get::<_, i16>(1), -9);
        assert_eq!(row.get::<_, i32>(2), 3000);
        assert_eq!(row.get::<_, f32>(3), 1.5);
        assert_eq!(row.get::<_, f64>(4), 1.0);
        assert!(!row.get::<_, bool>(5));
        assert_eq!(row.get::<_, String>(6), "row 3 ü");
        assert_eq!(row.get::<_, String>(7), "short");
        assert_eq!(row.get::<_, Vec<u8>>(8), bytes);
        assert_eq!(row.get::<_, SystemTime>(9), when);
        assert_eq!(row.get::<_, SystemTime>(10), when);
        assert_eq!(row.get::<_, Option<i32>>(11), None);

        // A row-limited Execute: the portal is suspended and resumed.
        let tx = c.transaction().await.unwrap();
        let sel = tx.prepare("SELECT id FROM tb ORDER BY id").await.unwrap();
        let portal = tx.bind(&sel, &[]).await.unwrap();
        let first = tx.query_portal(&portal, 2).await.unwrap();
        assert_eq!(
            first.iter().map(|r| r.get::<_, i64>(0)).collect::<Vec<_>>(),
            [1, 2]
        );
        let rest = tx.query_portal(&portal, 10).await.unwrap();
        assert_eq!(
            rest.iter().map(|r| r.get::<_, i64>(0)).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        tx.commit().await.unwrap();

        // An error ends the batch at its Sync; the connection goes on.
        let e = c
            .query("SELECT 1 / (id - 3) FROM tb ORDER BY id", &[])
            .await
            .unwrap_err();
        assert_eq!(e.as_db_error().unwrap().code().code(), "22012");
        let e = c.prepare("SELECT nosuch FROM tb").await.unwrap_err();
        assert_eq!(e.as_db_error().unwrap().code().code(), "42703");
        let n: i64 = c
            .query_one("SELECT count(*) FROM tb WHERE b", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 2);
        // PREPARE / EXECUTE in SQL on the same connection.
        c.batch_execute("PREPARE byid (int8) AS SELECT t FROM tb WHERE id = $1")
            .await
            .unwrap();
        let r = c.simple_query("EXECUTE byid(4)").await.unwrap();
        let text = r
            .iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
                _ => None,
            })
            .unwrap();
        assert_eq!(text, "row 4 ü");

        // A deferred constraint fails at the implicit transaction's commit (Sync): the
        // statement's error, nothing kept, the connection usable.
        c.batch_execute(
            "CREATE TABLE dpar (id int8 PRIMARY KEY); \
             CREATE TABLE dchi (p int8 REFERENCES dpar DEFERRABLE INITIALLY DEFERRED)",
        )
        .await
        .unwrap();
        let e = c
            .execute("INSERT INTO dchi VALUES ($1)", &[&7i64])
            .await
            .unwrap_err();
        assert_eq!(e.as_db_error().unwrap().code().code(), "23503");
        let n: i64 = c
            .query_one("SELECT count(*) FROM dchi", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0);
    });
}

/// `time` and `timetz` in their binary formats, read and written raw (tokio-postgres
/// maps them to chrono types only behind a feature tusk does not enable): an int8 of
/// microseconds since midnight, and for `timetz` an int4 zone in seconds west.
mod raw_time {
    use std::error::Error;
    use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};

    /// A `time` value as microseconds since midnight.
    #[derive(Debug, PartialEq)]
    pub struct Time(pub i64);

    /// A `timetz` value: microseconds since midnight and seconds west of UTC.
    #[derive(Debug, PartialEq)]
    pub struct TimeTz(pub i64, pub i32);

    impl ToSql for Time {
        fn to_sql(
            &self,
            _: &Type,
            out: &mut bytes::BytesMut,
        ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
            out.extend_from_slice(&self.0.to_be_bytes());
            Ok(IsNull::No)
        }
        fn accepts(ty: &Type) -> bool {
            *ty == Type::TIME
        }
        to_sql_checked!();
    }

    impl<'a> FromSql<'a> for Time {
        fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Time, Box<dyn Error + Sync + Send>> {
            Ok(Time(i64::from_be_bytes(raw.try_into()?)))
        }
        fn accepts(ty: &Type) -> bool {
            *ty == Type::TIME
        }
    }

    impl ToSql for TimeTz {
        fn to_sql(
            &self,
            _: &Type,
            out: &mut bytes::BytesMut,
        ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
            out.extend_from_slice(&self.0.to_be_bytes());
            out.extend_from_slice(&self.1.to_be_bytes());
            Ok(IsNull::No)
        }
        fn accepts(ty: &Type) -> bool {
            *ty == Type::TIMETZ
        }
        to_sql_checked!();
    }

    impl<'a> FromSql<'a> for TimeTz {
        fn from_sql(_: &Type, raw: &'a [u8]) -> Result<TimeTz, Box<dyn Error + Sync + Send>> {
            if raw.len() != 12 {
                return Err("timetz is 12 bytes".into());
            }
            Ok(TimeTz(
                i64::from_be_bytes(raw[..8].try_into()?),
                i32::from_be_bytes(raw[8..].try_into()?),
            ))
        }
        fn accepts(ty: &Type) -> bool {
            *ty == Type::TIMETZ
        }
    }
}

#[test]
fn time_and_timetz_travel_in_binary() {
    use raw_time::{Time, TimeTz};
    const H: i64 = 3_600_000_000;
    let s = Server::start_new("ext-time");
    runtime().block_on(async {
        let c = s.connect("postgres").await;
        c.batch_execute("CREATE TABLE tt (id int4 PRIMARY KEY, t time(3), z timetz)")
            .await
            .unwrap();
        let ins = c
            .prepare("INSERT INTO tt VALUES ($1, $2, $3)")
            .await
            .unwrap();
        let types: Vec<u32> = ins.params().iter().map(|t| t.oid()).collect();
        assert_eq!(types, vec![23, 1083, 1266]);
        // 10:30:15.123456 rounds to time(3) on the way in, as time_recv does.
        c.execute(
            &ins,
            &[&1i32, &Time(10 * H + 1_815_123_456), &TimeTz(H, -7200)],
        )
        .await
        .unwrap();
        c.execute(&ins, &[&2i32, &Time(24 * H), &TimeTz(0, 19_800)])
            .await
            .unwrap();
        let rows = c
            .query("SELECT t, z, t::text, z::text FROM tt ORDER BY id", &[])
            .await
            .unwrap();
        let got: Vec<(Time, TimeTz, String, String)> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    Time(10 * H + 1_815_123_000),
                    TimeTz(H, -7200),
                    "10:30:15.123".to_string(),
                    "01:00:00+02".to_string()
                ),
                (
                    Time(24 * H),
                    TimeTz(0, 19_800),
                    "24:00:00".to_string(),
                    "00:00:00-05:30".to_string()
                ),
            ]
        );
        // Arithmetic on a binary parameter; the result type is time.
        let r = c
            .query_one("SELECT $1::time + interval '90 minutes'", &[&Time(23 * H)])
            .await
            .unwrap();
        assert_eq!(r.get::<_, Time>(0), Time(H / 2));
        // Out of range in binary: time_recv's 22P03.
        let e = c
            .execute(&ins, &[&3i32, &Time(24 * H + 1), &TimeTz(0, 0)])
            .await
            .unwrap_err();
        let db = e.as_db_error().unwrap();
        assert_eq!(
            (db.code().code(), db.message()),
            ("22P03", "time out of range")
        );
    });
}
