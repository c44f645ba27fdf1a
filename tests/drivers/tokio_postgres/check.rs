//! tokio-postgres against tusk: named statements (Parse + Describe S + Sync, Close S
//! pipelined with the next request), parameter types inferred by the server, binary
//! parameters and results for every common type, transactions committed and rolled back,
//! a simple-query batch, and an error's SQLSTATE and constraint.
//!
//! tokio-postgres decodes numeric, date, time, interval, uuid and json only behind
//! optional features; rather than compiling those into tusk's dev build, [`Raw`] takes
//! the binary value as the server sent it and the check compares it with the bytes of
//! PostgreSQL's binary format, which is the stricter test anyway.

use tokio_postgres::types::{accepts, to_sql_checked, FromSql, IsNull, ToSql, Type};

/// One value in binary format, of whatever type the server said.
#[derive(Debug, PartialEq)]
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Raw, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

impl ToSql for Raw {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }
    accepts!(NUMERIC, DATE, TIME, INTERVAL, UUID, JSON, JSONB);
    to_sql_checked!();
}

fn hex(s: &str) -> Raw {
    Raw((0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect())
}

/// Runs the check against the server at `conninfo`; panics with the difference.
pub async fn run(conninfo: &str) {
    let (mut c, conn) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    c.batch_execute(
        "DROP TABLE IF EXISTS drv_tokio; \
         CREATE TABLE drv_tokio (id serial PRIMARY KEY, i2 int2, i4 int4, i8 int8, \
         n numeric(12,3), f4 float4, f8 float8, t text UNIQUE, vc varchar(20), b bool, \
         by bytea, d date, tm time, ts timestamp, tz timestamptz, iv interval, u uuid, \
         j json, jb jsonb, ai int4[], at text[])",
    )
    .await
    .unwrap();
    // PostgreSQL's binary formats of the values without a tokio-postgres codec.
    let n = hex("0003000100000003000109291a7c"); // 12345.678, dscale 3
    let d = hex("00002279"); // 2024-02-29: 8825 days after 2000-01-01
    let tm = hex("0000000a8be62608"); // 12:34:56.789 in microseconds
    let iv = hex("000000036c8bc0800000000300000000"); // 04:05:06, 3 days, 0 months
    let u = hex("a0eebc999c0b4ef8bb6d6bb9bd380a11");
    let j = Raw(br#"{"a": [1, 2, null]}"#.to_vec());
    let jb = Raw([&[1u8][..], br#"{"b": {"c": true}}"#].concat());
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_709_210_096_789);
    let ins = c
        .prepare(
            "INSERT INTO drv_tokio (i2, i4, i8, n, f4, f8, t, vc, b, by, d, tm, ts, tz, iv, u, j, jb, ai, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
        )
        .await
        .unwrap();
    let types: Vec<u32> = ins.params().iter().map(|t| t.oid()).collect();
    assert_eq!(
        types,
        [
            21, 23, 20, 1700, 700, 701, 25, 1043, 16, 17, 1082, 1083, 1114, 1184, 1186, 2950, 114,
            3802, 1007, 1009
        ]
    );
    let ai: Vec<i32> = vec![1, 2, 3];
    let at: Vec<Option<&str>> = vec![Some("x"), Some("y z"), None];
    let by: Vec<u8> = vec![0, 1, 255];
    let n_rows = c
        .execute(
            &ins,
            &[
                &41i16,
                &70000i32,
                &9007199254740993i64,
                &n,
                &1.5f32,
                &2.25f64,
                &"héllo wörld ✓",
                &"varchar",
                &true,
                &by,
                &d,
                &tm,
                &when,
                &when,
                &iv,
                &u,
                &j,
                &jb,
                &ai,
                &at,
            ],
        )
        .await
        .unwrap();
    assert_eq!(n_rows, 1);
    let row = c
        .query_one(
            "SELECT i2, i4, i8, n, f4, f8, t, vc, b, by, d, tm, ts, tz, iv, u, j, jb, ai, at \
             FROM drv_tokio WHERE i4 = $1",
            &[&70000i32],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i16>(0), 41);
    assert_eq!(row.get::<_, i32>(1), 70000);
    assert_eq!(row.get::<_, i64>(2), 9007199254740993);
    assert_eq!(row.get::<_, Raw>(3), n);
    assert_eq!(row.get::<_, f32>(4), 1.5);
    assert_eq!(row.get::<_, f64>(5), 2.25);
    assert_eq!(row.get::<_, String>(6), "héllo wörld ✓");
    assert_eq!(row.get::<_, String>(7), "varchar");
    assert!(row.get::<_, bool>(8));
    assert_eq!(row.get::<_, Vec<u8>>(9), by);
    assert_eq!(row.get::<_, Raw>(10), d);
    assert_eq!(row.get::<_, Raw>(11), tm);
    assert_eq!(row.get::<_, std::time::SystemTime>(12), when);
    assert_eq!(row.get::<_, std::time::SystemTime>(13), when);
    assert_eq!(row.get::<_, Raw>(14), iv);
    assert_eq!(row.get::<_, Raw>(15), u);
    assert_eq!(row.get::<_, Raw>(16), j);
    assert_eq!(row.get::<_, Raw>(17), jb);
    assert_eq!(row.get::<_, Vec<i32>>(18), ai);
    assert_eq!(
        row.get::<_, Vec<Option<String>>>(19),
        vec![Some("x".to_string()), Some("y z".to_string()), None]
    );
    // Parameter types inferred from the expression; NULL parameters.
    let row = c
        .query_one(
            "SELECT $1::int4 + 1, $2::text, $3::text IS NULL",
            &[&41i32, &"é", &None::<String>],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, i32>(0),
            row.get::<_, String>(1),
            row.get::<_, bool>(2)
        ),
        (42, "é".into(), true)
    );
    let row = c
        .query_one("SELECT count(*) FROM drv_tokio WHERE i4 > $1", &[&1i32])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1);
    // Transactions: START TRANSACTION … ROLLBACK, then … COMMIT.
    let tx = c.transaction().await.unwrap();
    tx.execute("INSERT INTO drv_tokio (t) VALUES ($1)", &[&"rolled back"])
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let tx = c.transaction().await.unwrap();
    tx.execute("INSERT INTO drv_tokio (t) VALUES ($1)", &[&"committed"])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let texts: Vec<String> = c
        .query(
            "SELECT t FROM drv_tokio WHERE t IN ('rolled back', 'committed')",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(texts, ["committed"]);
    // Errors carry SQLSTATE and constraint.
    let e = c
        .execute("INSERT INTO drv_tokio (t) VALUES ($1)", &[&"committed"])
        .await
        .unwrap_err();
    let db = e.as_db_error().expect("a server error");
    assert_eq!(db.code().code(), "23505");
    assert_eq!(db.constraint(), Some("drv_tokio_t_key"));
    assert_eq!(db.table(), Some("drv_tokio"));
    assert_eq!(db.schema(), Some("public"));
    // A simple-query batch.
    let msgs = c.simple_query("SELECT 1; SELECT 'two'").await.unwrap();
    let vals: Vec<String> = msgs
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect();
    assert_eq!(vals, ["1", "two"]);
    c.batch_execute("DROP TABLE drv_tokio").await.unwrap();
}

/// The type lookup tokio-postgres runs for a result type it does not know (an enum):
/// `pg_type` joined with `pg_range` and `pg_namespace`, then `pg_enum`. Returns the
/// driver's error as text, for the harness to judge.
pub async fn introspection(conninfo: &str) -> Result<(), String> {
    let (c, conn) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    c.batch_execute(
        "DROP TYPE IF EXISTS drv_tokio_mood; CREATE TYPE drv_tokio_mood AS ENUM ('sad', 'happy')",
    )
    .await
    .map_err(|e| e.to_string())?;
    let row = c
        .query_one("SELECT 'happy'::drv_tokio_mood", &[])
        .await
        .map_err(|e| match e.as_db_error() {
            Some(db) => db.message().to_string(),
            None => e.to_string(),
        })?;
    let t = row.columns()[0].type_();
    assert_eq!((t.name(), t.schema()), ("drv_tokio_mood", "public"));
    assert_eq!(
        t.kind(),
        &tokio_postgres::types::Kind::Enum(vec!["sad".into(), "happy".into()])
    );
    assert_eq!(row.get::<_, Raw>(0), Raw(b"happy".to_vec()));
    c.batch_execute("DROP TYPE drv_tokio_mood")
        .await
        .map_err(|e| e.to_string())?;
    // "char" catalog columns arrive as the one-byte type in binary (i8), the zero byte
    // for an empty flag, and a "char" parameter compares with them.
    let row = c
        .query_one(
            "SELECT c.relkind, a.attidentity, t.typtype FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid \
             JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
             WHERE c.relname = 'pg_class' AND a.attnum = 1",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(row.columns()[0].type_(), &tokio_postgres::types::Type::CHAR);
    assert_eq!(row.get::<_, i8>(0), b'r' as i8);
    assert_eq!(row.get::<_, i8>(1), 0);
    assert_eq!(row.get::<_, i8>(2), b'b' as i8);
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_catalog.pg_class WHERE relname = 'pg_class' AND relkind = $1",
            &[&(b'r' as i8)],
        )
        .await
        .map_err(|e| e.to_string())?
        .get(0);
    assert_eq!(n, 1);
    Ok(())
}
