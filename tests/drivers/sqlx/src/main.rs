//! sqlx against tusk: named statements with typed Parse, Describe of a statement (sqlx
//! checks every result column's type OID against the Rust type it decodes to), binary
//! parameters and results for every common type, `Close P` before Sync, transactions
//! committed and rolled back, an error's SQLSTATE, and — with the argument
//! `introspection` — the catalog queries of `describe` (nullability from
//! `pg_attribute`, and from `EXPLAIN (VERBOSE, FORMAT JSON)` for a LEFT JOIN) and the `pg_type` lookup sqlx runs for a result type it does not
//! know (an enum). Connection settings come from PGHOST/PGPORT/PGUSER/PGDATABASE.

use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sqlx::postgres::types::PgInterval;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Executor, Row};
use std::str::FromStr;

fn check<T: PartialEq + std::fmt::Debug>(label: &str, got: T, want: T) {
    if got != want {
        eprintln!("sqlx: {label}: got {got:?}, want {want:?}");
        std::process::exit(1);
    }
}

async fn basic(c: &mut PgConnection) -> Result<(), sqlx::Error> {
    c.execute("DROP TABLE IF EXISTS drv_sqlx").await?;
    c.execute(
        "CREATE TABLE drv_sqlx (id serial PRIMARY KEY, i2 int2, i4 int4, i8 int8, \
         n numeric(12,3), f4 float4, f8 float8, t text UNIQUE, vc varchar(20), b bool, \
         by bytea, d date, tm time, ts timestamp, tz timestamptz, iv interval, u uuid, \
         j json, jb jsonb, ai int4[], at text[])",
    )
    .await?;
    let n = BigDecimal::from_str("12345.678").unwrap();
    let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    let tm = NaiveTime::from_hms_milli_opt(12, 34, 56, 789).unwrap();
    let ts = NaiveDateTime::new(d, tm);
    let tz: DateTime<Utc> = DateTime::from_naive_utc_and_offset(ts, Utc);
    let iv = PgInterval {
        months: 0,
        days: 3,
        microseconds: ((4 * 60 + 5) * 60 + 6) * 1_000_000,
    };
    let u = uuid::Uuid::parse_str("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11").unwrap();
    let j = serde_json::json!({"a": [1, 2, null]});
    let jb = serde_json::json!({"b": {"c": true}});
    let r = sqlx::query(
        "INSERT INTO drv_sqlx (i2, i4, i8, n, f4, f8, t, vc, b, by, d, tm, ts, tz, iv, u, j, jb, ai, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
    )
    .bind(41i16)
    .bind(70000i32)
    .bind(9007199254740993i64)
    .bind(&n)
    .bind(1.5f32)
    .bind(2.25f64)
    .bind("héllo wörld ✓")
    .bind("varchar")
    .bind(true)
    .bind(vec![0u8, 1, 255])
    .bind(d)
    .bind(tm)
    .bind(ts)
    .bind(tz)
    .bind(iv.clone())
    .bind(u)
    .bind(sqlx::types::Json(&j))
    .bind(&jb)
    .bind(vec![1i32, 2, 3])
    .bind(vec![Some("x"), Some("y z"), None])
    .execute(&mut *c)
    .await?;
    check("rows affected", r.rows_affected(), 1);
    let row = sqlx::query(
        "SELECT i2, i4, i8, n, f4, f8, t, vc, b, by, d, tm, ts, tz, iv, u, j, jb, ai, at \
         FROM drv_sqlx WHERE i4 = $1",
    )
    .bind(70000i32)
    .fetch_one(&mut *c)
    .await?;
    check("i2", row.try_get::<i16, _>("i2")?, 41);
    check("i4", row.try_get::<i32, _>("i4")?, 70000);
    check("i8", row.try_get::<i64, _>("i8")?, 9007199254740993);
    check("n", row.try_get::<BigDecimal, _>("n")?, n);
    check("f4", row.try_get::<f32, _>("f4")?, 1.5);
    check("f8", row.try_get::<f64, _>("f8")?, 2.25);
    check("t", row.try_get::<String, _>("t")?, "héllo wörld ✓".into());
    check("vc", row.try_get::<String, _>("vc")?, "varchar".into());
    check("b", row.try_get::<bool, _>("b")?, true);
    check("by", row.try_get::<Vec<u8>, _>("by")?, vec![0, 1, 255]);
    check("d", row.try_get::<NaiveDate, _>("d")?, d);
    check("tm", row.try_get::<NaiveTime, _>("tm")?, tm);
    check("ts", row.try_get::<NaiveDateTime, _>("ts")?, ts);
    check("tz", row.try_get::<DateTime<Utc>, _>("tz")?, tz);
    check("iv", row.try_get::<PgInterval, _>("iv")?, iv);
    check("u", row.try_get::<uuid::Uuid, _>("u")?, u);
    check("j", row.try_get::<serde_json::Value, _>("j")?, j);
    check("jb", row.try_get::<serde_json::Value, _>("jb")?, jb);
    check("ai", row.try_get::<Vec<i32>, _>("ai")?, vec![1, 2, 3]);
    check(
        "at",
        row.try_get::<Vec<Option<String>>, _>("at")?,
        vec![Some("x".into()), Some("y z".into()), None],
    );
    let row = sqlx::query("SELECT $1::int4 + 1, $2::text, $3::text IS NULL")
        .bind(41i32)
        .bind("é")
        .bind(None::<String>)
        .fetch_one(&mut *c)
        .await?;
    check(
        "expression",
        (
            row.try_get::<i32, _>(0)?,
            row.try_get::<String, _>(1)?,
            row.try_get::<bool, _>(2)?,
        ),
        (42, "é".into(), true),
    );
    // Transactions.
    let mut tx = c.begin().await?;
    sqlx::query("INSERT INTO drv_sqlx (t) VALUES ($1)")
        .bind("rolled back")
        .execute(&mut *tx)
        .await?;
    tx.rollback().await?;
    let mut tx = c.begin().await?;
    sqlx::query("INSERT INTO drv_sqlx (t) VALUES ($1)")
        .bind("committed")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let got: Vec<String> =
        sqlx::query_scalar("SELECT t FROM drv_sqlx WHERE t IN ('rolled back', 'committed')")
            .fetch_all(&mut *c)
            .await?;
    check("after commit/rollback", got, vec!["committed".to_string()]);
    // Errors carry the SQLSTATE.
    match sqlx::query("INSERT INTO drv_sqlx (t) VALUES ($1)")
        .bind("committed")
        .execute(&mut *c)
        .await
    {
        Err(sqlx::Error::Database(e)) => {
            check("sqlstate", e.code().as_deref(), Some("23505"));
            check("constraint", e.constraint(), Some("drv_sqlx_t_key"));
        }
        other => check("duplicate key", format!("{other:?}"), "an error".into()),
    }
    c.execute("DROP TABLE drv_sqlx").await?;
    Ok(())
}

async fn introspection(c: &mut PgConnection) -> Result<(), sqlx::Error> {
    // Describe without executing: sqlx asks pg_attribute whether each column of a
    // table is nullable.
    c.execute(
        "DROP TABLE IF EXISTS drv_sqlx_d; CREATE TABLE drv_sqlx_d (id int PRIMARY KEY, t text)",
    )
    .await?;
    let described = c
        .describe("SELECT id, t FROM drv_sqlx_d WHERE id = $1")
        .await?;
    check("describe columns", described.columns().len(), 2);
    check("describe nullable", described.nullable(0), Some(false));
    check("describe nullable", described.nullable(1), Some(true));
    // A NOT NULL column on the inner side of a LEFT JOIN: pg_attribute says not
    // nullable, and sqlx learns otherwise from `EXPLAIN (VERBOSE, FORMAT JSON)
    // EXECUTE …` (the join's "Join Type", its inner child's "Output").
    c.execute(
        "DROP TABLE IF EXISTS drv_sqlx_e; \
         CREATE TABLE drv_sqlx_e (id int PRIMARY KEY, d_id int NOT NULL); \
         INSERT INTO drv_sqlx_d SELECT g, 'x' FROM generate_series(1, 1000) g; \
         INSERT INTO drv_sqlx_e VALUES (1, 1); ANALYZE drv_sqlx_d; ANALYZE drv_sqlx_e",
    )
    .await?;
    // sqlx reads only the inner children of Left/Right joins, so what it marks depends
    // on the side a server hashes: with e the small table, PostgreSQL (and tusk) run a
    // Hash Left Join with e inside.
    let described = c
        .describe("SELECT d.id, e.d_id FROM drv_sqlx_d d LEFT JOIN drv_sqlx_e e ON e.d_id = d.id")
        .await?;
    check("left join inner column", described.nullable(1), Some(true));
    c.execute("DROP TABLE drv_sqlx_e").await?;
    c.execute("DROP TABLE drv_sqlx_d").await?;
    c.execute(
        "DROP TYPE IF EXISTS drv_sqlx_mood; CREATE TYPE drv_sqlx_mood AS ENUM ('sad', 'happy')",
    )
    .await?;
    // The enum's OID is unknown to sqlx: describing the result looks it up in pg_type.
    let described = c.describe("SELECT 'happy'::drv_sqlx_mood AS m").await?;
    check(
        "enum column",
        sqlx::Column::name(&described.columns()[0]),
        "m",
    );
    let s: String = sqlx::query_scalar("SELECT 'happy'::drv_sqlx_mood::text")
        .fetch_one(&mut *c)
        .await?;
    check("enum text", s, "happy".into());
    c.execute("DROP TYPE drv_sqlx_mood").await?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let phase = std::env::args().nth(1).unwrap_or_default();
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} not set"));
    let opts = PgConnectOptions::new()
        .host(&env("PGHOST"))
        .port(env("PGPORT").parse().unwrap())
        .username(&env("PGUSER"))
        .database(&env("PGDATABASE"))
        .application_name("tusk-sqlx");
    let mut c = match PgConnection::connect_with(&opts).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sqlx: connect: {e}");
            std::process::exit(1);
        }
    };
    let r = match phase.as_str() {
        "basic" => basic(&mut c).await,
        "introspection" => introspection(&mut c).await,
        _ => panic!("usage: tusk-drivers-sqlx basic|introspection"),
    };
    if let Err(e) = r {
        eprintln!("sqlx {phase}: {e}");
        std::process::exit(1);
    }
    println!("sqlx {phase}: ok");
}
