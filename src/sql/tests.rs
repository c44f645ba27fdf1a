//! Session tests: statements through the whole stack (front parser/sqlparser → binder →
//! executor → engine), compared with what PostgreSQL 15 returns.

use super::*;
use crate::storage::EngineOptions;
use std::path::PathBuf;

struct Hooks;

impl ServerHooks for Hooks {
    fn reload_config(&self) -> bool {
        true
    }
    fn cancel_backend(&self, _pid: i32) -> bool {
        false
    }
    fn terminate_backend(&self, _pid: i32) -> bool {
        false
    }
    fn postmaster_start_time(&self) -> i64 {
        0
    }
    fn server_config(&self) -> Arc<ServerConfig> {
        Arc::new(ServerConfig::defaults(std::path::Path::new("/nonexistent")))
    }
}

pub(super) struct Db {
    pub dir: PathBuf,
    pub engine: Arc<Engine>,
}

impl Drop for Db {
    fn drop(&mut self) {
        if std::env::var_os("TUSK_KEEP_TEST_DIRS").is_some() {
            eprintln!("kept {}", self.dir.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(super) fn db(name: &str) -> Db {
    let dir = std::env::temp_dir().join(format!(
        "tusk-sql-{name}-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    crate::testutil::bootstrap(&dir, 16 * 1024 * 1024);
    let engine = Engine::open(
        &dir,
        &EngineOptions {
            fsync: false,
            ..Default::default()
        },
    )
    .unwrap();
    Db { dir, engine }
}

/// Runs a statement; returns the first column of its rows, the tag, or the error
/// (restart tests compare these short strings).
pub(super) fn first_column(s: &mut Session, sql: &str) -> String {
    let mut out = Vec::new();
    for r in s.simple_query(sql) {
        match r {
            Ok(ExecResult::Rows { rows, .. }) => {
                for row in rows {
                    out.push(
                        s.encode_value(&row[0], 0)
                            .map(|b| String::from_utf8(b).unwrap())
                            .unwrap_or_else(|| "NULL".into()),
                    );
                }
            }
            Ok(ExecResult::Command { tag }) => out.push(tag),
            Ok(_) => {}
            Err(e) => out.push(format!("ERROR {}: {}", e.code, e.message)),
        }
    }
    out.join(",")
}

/// Opens the cluster in `dir` again, as after a crash (crash recovery runs).
pub(super) fn reopen(dir: &std::path::Path) -> Arc<Engine> {
    Engine::open(
        dir,
        &EngineOptions {
            fsync: false,
            ..Default::default()
        },
    )
    .unwrap()
}

pub(super) fn session(engine: &Arc<Engine>, user: &str) -> Session {
    let cfg = Arc::new(ServerConfig::defaults(std::path::Path::new("/nonexistent")));
    Session::new(
        engine.clone(),
        SessionSettings::new(cfg),
        SessionContext {
            user: user.into(),
            database: "postgres".into(),
            backend_pid: 4242,
            cancel: Arc::new(AtomicBool::new(false)),
            hooks: Arc::new(Hooks),
            application_name: String::new(),
        },
    )
}

/// Runs a query and renders its last result like a tiny psql: `tag` or rows as
/// `a|b` lines, or `ERROR code: message`.
pub(super) fn q(s: &mut Session, sql: &str) -> String {
    let results = s.simple_query(sql);
    let mut out = Vec::new();
    for r in results {
        match r {
            Ok(ExecResult::Rows { fields, rows, tag }) => {
                let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                out.push(names.join("|"));
                for row in rows {
                    let cells: Vec<String> = row
                        .iter()
                        .map(|v| {
                            s.encode_value(v, 0)
                                .map(|b| String::from_utf8(b).unwrap())
                                .unwrap_or_else(|| "NULL".into())
                        })
                        .collect();
                    out.push(cells.join("|"));
                }
                out.push(tag);
            }
            Ok(ExecResult::Command { tag }) => out.push(tag),
            Ok(ExecResult::Empty) => out.push("EMPTY".into()),
            Ok(ExecResult::CopyIn { columns, .. }) => out.push(format!("COPY IN {columns}")),
            Ok(ExecResult::CopyOut { data, tag, .. }) => {
                for d in data {
                    out.push(
                        String::from_utf8_lossy(&d)
                            .trim_end_matches('\n')
                            .to_string(),
                    );
                }
                out.push(tag);
            }
            Err(e) => {
                let mut line = format!("ERROR {}: {}", e.code, e.message);
                if let Some(d) = e.detail {
                    line.push_str(&format!(" DETAIL {d}"));
                }
                if let Some(p) = e.position {
                    line.push_str(&format!(" @{p}"));
                }
                out.push(line);
            }
        }
    }
    out.join("\n")
}

#[test]
fn create_insert_select_update_delete() {
    let d = db("crud");
    let mut s = session(&d.engine, "postgres");
    assert_eq!(
        q(&mut s, "CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL, score numeric(5,2) DEFAULT 1.5)"),
        "CREATE TABLE"
    );
    assert_eq!(
        q(
            &mut s,
            "insert into t values (1, 'a', 2.345), (2, 'b', DEFAULT)"
        ),
        "INSERT 0 2"
    );
    assert_eq!(
        q(
            &mut s,
            "insert into t (name, id) values ('c', 3) returning id, score"
        ),
        "id|score\n3|1.50\nINSERT 0 1"
    );
    assert_eq!(
        q(&mut s, "select * from t order by id desc"),
        "id|name|score\n3|c|1.50\n2|b|1.50\n1|a|2.35\nSELECT 3"
    );
    assert_eq!(
        q(&mut s, "insert into t values (1, 'dup')"),
        "ERROR 23505: duplicate key value violates unique constraint \"t_pkey\" DETAIL Key (id)=(1) already exists."
    );
    assert_eq!(
        q(&mut s, "insert into t (id) values (9)"),
        "ERROR 23502: null value in column \"name\" of relation \"t\" violates not-null constraint DETAIL Failing row contains (9, null, 1.50)."
    );
    assert_eq!(
        q(
            &mut s,
            "update t set score = score * 2 where id >= 2 returning id, score"
        ),
        "id|score\n2|3.00\n3|3.00\nUPDATE 2"
    );
    assert_eq!(q(&mut s, "delete from t where name = 'b'"), "DELETE 1");
    assert_eq!(
        q(
            &mut s,
            "select count(*), sum(score), min(id), max(name), avg(id) from t"
        ),
        "count|sum|min|max|avg\n2|5.35|1|c|2.0000000000000000\nSELECT 1"
    );
    assert_eq!(
        q(&mut s, "select nosuch from t"),
        "ERROR 42703: column \"nosuch\" does not exist @8"
    );
    assert_eq!(
        q(&mut s, "select * from nosuch"),
        "ERROR 42P01: relation \"nosuch\" does not exist @15"
    );
    assert_eq!(
        q(&mut s, "select * from public.t where id = 1"),
        "id|name|score\n1|a|2.35\nSELECT 1"
    );
    assert_eq!(q(&mut s, "drop table t"), "DROP TABLE");
    assert_eq!(
        q(&mut s, "drop table t"),
        "ERROR 42P01: table \"t\" does not exist"
    );
    assert_eq!(q(&mut s, "drop table if exists t"), "DROP TABLE");
    assert_eq!(s.take_notices().len(), 1);
}

#[test]
fn expressions_and_errors_match_postgres() {
    let d = db("expr");
    let mut s = session(&d.engine, "postgres");
    assert_eq!(
        q(
            &mut s,
            "select 1, 1::int, 'a'::text, 1.5::numeric/2, 'x' || 1, cast(1 as bigint)"
        ),
        "?column?|int4|text|?column?|?column?|int8\n1|1|a|0.75000000000000000000|x1|1\nSELECT 1"
    );
    assert_eq!(
        q(&mut s, "select 2147483647 + 1"),
        "ERROR 22003: integer out of range"
    );
    assert_eq!(q(&mut s, "select 1/0"), "ERROR 22012: division by zero");
    assert_eq!(
        q(&mut s, "select 'abc'::int"),
        "ERROR 22P02: invalid input syntax for type integer: \"abc\" @8"
    );
    assert_eq!(
        q(&mut s, "select 1 + 'a'"),
        "ERROR 22P02: invalid input syntax for type integer: \"a\" @12"
    );
    assert_eq!(
        q(&mut s, "select 'a'::text + 1"),
        "ERROR 42883: operator does not exist: text + integer @18"
    );
    assert_eq!(
        q(&mut s, "select null = null, true and null, false and null, 7 % 3, -7 / 2, 1.0::float8/3"),
        "?column?|?column?|?column?|?column?|?column?|?column?\nNULL|NULL|f|1|-3|0.3333333333333333\nSELECT 1"
    );
    assert_eq!(
        q(&mut s, "select current_user, user, current_database()"),
        "current_user|user|current_database\npostgres|postgres|postgres\nSELECT 1"
    );
    assert!(q(&mut s, "select version()").contains("PostgreSQL 15.0"));
    assert_eq!(q(&mut s, "select 1 where false"), "?column?\nSELECT 0");
}

#[test]
fn transactions_and_failed_blocks() {
    let d = db("txn");
    let mut a = session(&d.engine, "postgres");
    let mut b = session(&d.engine, "postgres");
    q(&mut a, "create table t (id int primary key)");
    assert_eq!(q(&mut a, "begin"), "BEGIN");
    assert_eq!(a.transaction_status(), TransactionStatus::InBlock);
    q(&mut a, "insert into t values (1)");
    assert_eq!(q(&mut b, "select count(*) from t"), "count\n0\nSELECT 1");
    assert_eq!(q(&mut a, "select count(*) from t"), "count\n1\nSELECT 1");
    assert_eq!(q(&mut a, "commit"), "COMMIT");
    assert_eq!(q(&mut b, "select count(*) from t"), "count\n1\nSELECT 1");
    q(&mut a, "begin");
    assert!(q(&mut a, "select x").starts_with("ERROR 42703"));
    assert_eq!(a.transaction_status(), TransactionStatus::Failed);
    assert_eq!(
        q(&mut a, "select 1"),
        "ERROR 25P02: current transaction is aborted, commands ignored until end of transaction block"
    );
    assert_eq!(q(&mut a, "commit"), "ROLLBACK");
    assert_eq!(a.transaction_status(), TransactionStatus::Idle);
    assert_eq!(q(&mut a, "commit"), "COMMIT");
    let n = a.take_notices();
    assert_eq!(n[0].message, "there is no transaction in progress");
    assert_eq!(n[0].severity, Severity::Warning);
    // A multi-statement query is one implicit transaction.
    assert!(q(&mut a, "insert into t values (2); insert into t values (2)").contains("23505"));
    assert_eq!(q(&mut a, "select count(*) from t"), "count\n1\nSELECT 1");
    // Rolled back DDL disappears.
    q(&mut a, "begin; create table u (x int); rollback");
    assert!(q(&mut a, "select * from u").starts_with("ERROR 42P01"));
}

#[test]
fn roles_and_settings() {
    let d = db("roles");
    let mut s = session(&d.engine, "postgres");
    assert_eq!(
        q(
            &mut s,
            "CREATE ROLE repl login replication encrypted password 'repl'"
        ),
        "CREATE ROLE"
    );
    let r = d.engine.role("repl").unwrap();
    assert!(r.login && r.replication && !r.superuser);
    assert!(r.password.unwrap().starts_with("SCRAM-SHA-256$"));
    assert_eq!(
        q(&mut s, "create role repl"),
        "ERROR 42710: role \"repl\" already exists"
    );
    assert_eq!(
        q(&mut s, "create user bob with password 'x'"),
        "CREATE ROLE"
    );
    assert!(d.engine.role("bob").unwrap().login);
    let mut bob = session(&d.engine, "bob");
    assert_eq!(
        q(&mut bob, "create role eve"),
        "ERROR 42501: permission denied to create role"
    );
    assert_eq!(
        q(&mut s, "alter role bob createrole valid until 'infinity'"),
        "ALTER ROLE"
    );
    assert_eq!(q(&mut s, "set password_encryption = 'md5'"), "SET");
    assert_eq!(q(&mut s, "alter role bob password 'y'"), "ALTER ROLE");
    assert!(d
        .engine
        .role("bob")
        .unwrap()
        .password
        .unwrap()
        .starts_with("md5"));
    assert_eq!(q(&mut s, "alter role bob rename to robert"), "ALTER ROLE");
    assert_eq!(
        s.take_notices()[0].message,
        "MD5 password cleared because of role rename"
    );
    assert_eq!(q(&mut s, "drop role robert, repl"), "DROP ROLE");
    assert_eq!(q(&mut s, "drop role if exists robert"), "DROP ROLE");
    assert_eq!(
        q(&mut s, "drop role robert"),
        "ERROR 42704: role \"robert\" does not exist"
    );
    assert_eq!(q(&mut s, "SHOW DateStyle"), "DateStyle\nISO, MDY\nSHOW");
    assert_eq!(
        q(
            &mut s,
            "set datestyle = 'ISO, MDY'; select current_setting('DateStyle')"
        ),
        "SET\ncurrent_setting\nISO, MDY\nSELECT 1"
    );
    assert_eq!(
        q(&mut s, "select set_config('application_name', 'x', false)"),
        "set_config\nx\nSELECT 1"
    );
    assert_eq!(
        q(
            &mut s,
            "select name, setting from pg_settings where name = 'application_name'"
        ),
        "name|setting\napplication_name|x\nSELECT 1"
    );
    assert!(q(&mut s, "show nosuch").starts_with("ERROR 42704"));
}

#[test]
fn extended_protocol_with_parameters() {
    let d = db("ext");
    let mut s = session(&d.engine, "postgres");
    q(&mut s, "create table t (id int primary key, v text)");
    s.parse("ins", "insert into t values ($1, $2)", &[])
        .unwrap();
    let (types, fields) = s.describe_statement("ins").unwrap();
    assert_eq!(types, vec![23, 25]);
    assert!(fields.is_none());
    for i in 1..=3 {
        s.bind(
            "",
            "ins",
            &[0],
            &[Some(i.to_string().into_bytes()), Some(b"x".to_vec())],
            &[],
        )
        .unwrap();
        assert_eq!(s.execute("", 0).unwrap().1.as_deref(), Some("INSERT 0 1"));
    }
    s.sync().unwrap();
    s.parse("", "select id from t where id >= $1 order by id", &[20])
        .unwrap();
    s.bind("", "", &[1], &[Some(2i64.to_be_bytes().to_vec())], &[1])
        .unwrap();
    assert_eq!(s.portal_formats(""), [1]);
    let (rows, tag) = s.execute("", 1).unwrap();
    assert_eq!(rows, vec![vec![Value::Int4(2)]]);
    assert_eq!(tag, None);
    let (rows, tag) = s.execute("", 0).unwrap();
    assert_eq!(rows, vec![vec![Value::Int4(3)]]);
    assert_eq!(tag.as_deref(), Some("SELECT 1"));
    s.sync().unwrap();
    assert!(s.bind("", "nosuch", &[], &[], &[]).is_err());
    // Format lists as PostgreSQL 15 checks them (texts and SQLSTATEs from it).
    s.parse("two", "select $1::int, 'x'", &[]).unwrap();
    let one = || vec![Some(b"1".to_vec())];
    let e = s.bind("", "two", &[0, 0], &one(), &[]).unwrap_err();
    assert_eq!(e.code, "08P01");
    assert_eq!(
        e.message,
        "bind message has 2 parameter formats but 1 parameters"
    );
    let e = s.bind("", "two", &[2], &one(), &[]).unwrap_err();
    assert_eq!(e.code, "22023");
    assert_eq!(e.message, "unsupported format code: 2");
    let e = s.bind("", "two", &[2], &[None], &[]).unwrap_err(); // a NULL too
    assert_eq!(e.message, "unsupported format code: 2");
    let e = s.bind("", "two", &[], &one(), &[0, 1, 0]).unwrap_err();
    assert_eq!(e.code, "08P01");
    assert_eq!(
        e.message,
        "bind message has 3 result formats but query has 2 columns"
    );
    s.bind("", "two", &[], &one(), &[1, 0]).unwrap();
    assert_eq!(s.portal_formats(""), [1, 0]);
    s.bind(
        "",
        "ins",
        &[],
        &one().into_iter().chain(one()).collect::<Vec<_>>(),
        &[1, 1, 1],
    )
    .unwrap(); // no rows: its result formats are not looked at
    s.sync().unwrap();
}

/// The protocol's Execute checks a prepared statement's result columns on the plan it
/// runs: unchanged columns run (again and again), an ALTER TABLE that changes them
/// fails with 0A000, and the check is armed for that statement only — a nested
/// EXECUTE's parameter query and the next unrelated statement are not held to it.
#[test]
fn execute_checks_result_type_on_the_plan_it_runs() {
    let d = db("restype");
    let mut s = session(&d.engine, "postgres");
    q(&mut s, "create table rt (a int primary key, b int)");
    q(&mut s, "insert into rt values (1, 2)");
    s.parse("star", "select * from rt where a = $1", &[23])
        .unwrap();
    let run = |s: &mut Session| {
        s.bind("", "star", &[0], &[Some(b"1".to_vec())], &[])?;
        let r = s.execute("", 0);
        s.sync().unwrap();
        r
    };
    for _ in 0..3 {
        let (rows, tag) = run(&mut s).unwrap();
        assert_eq!(rows, vec![vec![Value::Int4(1), Value::Int4(2)]]);
        assert_eq!(tag.as_deref(), Some("SELECT 1"));
    }
    // A new index changes the plan, not the columns.
    q(&mut s, "create index rt_b on rt (b)");
    assert!(run(&mut s).is_ok());
    q(&mut s, "alter table rt add column c int");
    let e = run(&mut s).unwrap_err();
    assert_eq!(e.code, "0A000");
    assert_eq!(e.message, "cached plan must not change result type");
    // The failed check leaves nothing armed: other statements run.
    assert_eq!(q(&mut s, "select a from rt"), "a\n1\nSELECT 1");
    // SQL EXECUTE with a parameter (evaluated by a nested run) still checks.
    q(&mut s, "prepare two (int) as select * from rt where a = $1");
    assert_eq!(q(&mut s, "execute two (1)"), "a|b|c\n1|2|NULL\nSELECT 1");
    q(&mut s, "alter table rt drop column b");
    assert!(q(&mut s, "execute two (1)").starts_with("ERROR 0A000"));
}

#[test]
fn durability_across_a_crash() {
    let d = db("crash");
    {
        let mut s = session(&d.engine, "postgres");
        q(&mut s, "create table t (id int primary key, v text)");
        q(&mut s, "insert into t values (1, 'one'), (2, 'two')");
        q(&mut s, "create role alice login");
        q(&mut s, "checkpoint");
        q(&mut s, "update t set v = 'uno' where id = 1");
        q(&mut s, "delete from t where id = 2");
        q(&mut s, "begin; insert into t values (3, 'uncommitted')");
        std::mem::forget(s); // crash: the open transaction never commits
    }
    let engine = Engine::open(
        &d.dir,
        &EngineOptions {
            fsync: false,
            ..Default::default()
        },
    )
    .unwrap();
    let mut s = session(&engine, "postgres");
    assert_eq!(
        q(&mut s, "select * from t order by 1"),
        "id|v\n1|uno\nSELECT 1"
    );
    assert!(engine.role("alice").is_some());
}

#[test]
fn concurrent_update_waits_for_the_first_writer() {
    let d = db("conc");
    let mut a = session(&d.engine, "postgres");
    q(&mut a, "create table t (id int primary key, n int)");
    q(&mut a, "insert into t values (1, 0)");
    q(&mut a, "begin");
    assert_eq!(q(&mut a, "update t set n = n + 1 where id = 1"), "UPDATE 1");
    let engine = d.engine.clone();
    let h = std::thread::spawn(move || {
        let mut b = session(&engine, "postgres");
        // Blocks until A commits, then re-checks A's new version (READ COMMITTED).
        q(&mut b, "update t set n = n + 10 where id = 1")
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(!h.is_finished(), "the second writer must wait");
    assert_eq!(q(&mut a, "commit"), "COMMIT");
    let r = h.join().unwrap();
    assert_eq!(r, "UPDATE 1");
    assert_eq!(q(&mut a, "select n from t"), "n\n11\nSELECT 1");
    // A concurrent insert of the same key waits, then fails once the first commits.
    q(&mut a, "begin");
    q(&mut a, "insert into t values (2, 0)");
    let engine = d.engine.clone();
    let h = std::thread::spawn(move || {
        let mut b = session(&engine, "postgres");
        q(&mut b, "insert into t values (2, 5)")
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(!h.is_finished());
    q(&mut a, "commit");
    assert!(h.join().unwrap().starts_with("ERROR 23505"));
    // A lock wait ends at statement_timeout.
    q(&mut a, "begin");
    q(&mut a, "update t set n = 0 where id = 2");
    let mut b = session(&d.engine, "postgres");
    assert_eq!(
        q(
            &mut b,
            "set statement_timeout = '100ms'; update t set n = 1 where id = 2"
        ),
        "SET\nERROR 57014: canceling statement due to statement timeout"
    );
    q(&mut a, "rollback");
}

#[test]
fn pg_sleep_honours_cancel() {
    let d = db("sleep");
    let mut s = session(&d.engine, "postgres");
    let cancel = s.ctx.cancel.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(100));
        cancel.store(true, Ordering::SeqCst);
    });
    let start = std::time::Instant::now();
    assert_eq!(
        q(&mut s, "select pg_sleep(30)"),
        "ERROR 57014: canceling statement due to user request"
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    t.join().unwrap();
    assert_eq!(q(&mut s, "select pg_sleep(0.01)"), "pg_sleep\n\nSELECT 1");
    assert_eq!(
        q(&mut s, "set statement_timeout = 50; select pg_sleep(10)"),
        "SET\nERROR 57014: canceling statement due to statement timeout"
    );
    assert_eq!(
        q(&mut s, "show statement_timeout"),
        "statement_timeout\n0\nSHOW",
        "the failed implicit transaction undid the SET"
    );
}

#[test]
fn syntax_errors_point_at_the_token() {
    let d = db("syntax");
    let mut s = session(&d.engine, "postgres");
    assert_eq!(
        q(&mut s, "selec 1"),
        "ERROR 42601: syntax error at or near \"selec\" @1"
    );
    assert_eq!(
        q(&mut s, "select 1 from"),
        "ERROR 42601: syntax error at end of input @14"
    );
    assert_eq!(
        q(&mut s, "select 1; select (2"),
        "ERROR 42601: syntax error at end of input @20"
    );
    assert_eq!(q(&mut s, ""), "EMPTY");
    assert_eq!(q(&mut s, " ; -- nothing"), "EMPTY");
    // Nested as deep as PostgreSQL takes, every shape answers; deeper is PostgreSQL's
    // stack-depth error, not a syntax error and not a crash; the session goes on. (On a
    // thread with a backend's 8 MB stack.)
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let n = 1000;
            let plus = format!("select {}", vec!["1"; n].join("+"));
            assert_eq!(q(&mut s, &plus), "?column?\n1000\nSELECT 1");
            let parens = format!("select {}1{}", "(".repeat(n), ")".repeat(n));
            assert_eq!(q(&mut s, &parens), "?column?\n1\nSELECT 1");
            let subqueries = format!("select {}1{}", "(select ".repeat(n / 2), ")".repeat(n / 2));
            assert_eq!(q(&mut s, &subqueries), "?column?\n1\nSELECT 1");
            let concat = format!("select length({})", vec!["'ab'"; n].join("||"));
            assert_eq!(q(&mut s, &concat), "length\n2000\nSELECT 1");
            let union = vec!["select 1"; n].join(" union all ");
            assert!(q(&mut s, &format!("select count(*) from ({union}) u")).contains("\n1000\n"));
            // Long OR and AND lists: any length (rebalanced, as PostgreSQL flattens them).
            let ors: Vec<String> = (0..100_000).map(|i| format!("g = {i}")).collect();
            let or_list = format!(
                "select count(*) from generate_series(1, 10) g where {}",
                ors.join(" or ")
            );
            assert_eq!(q(&mut s, &or_list), "count\n10\nSELECT 1");
            for deep in [
                format!("select {}", vec!["1"; 100_000].join("+")),
                format!("select {}1{}", "(".repeat(3000), ")".repeat(3000)),
                vec!["select 1"; 100_000].join(" union all "),
            ] {
                assert_eq!(q(&mut s, &deep), "ERROR 54001: stack depth limit exceeded");
            }
            assert_eq!(q(&mut s, "select 1"), "?column?\n1\nSELECT 1");
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn show_all_and_pg_settings_cover_the_registry() {
    let d = db("settings");
    let mut s = session(&d.engine, "postgres");
    let all = s.simple_query("show all");
    let Ok(ExecResult::Rows { fields, rows, tag }) = &all[0] else {
        panic!("{all:?}");
    };
    assert_eq!(fields.len(), 3);
    assert_eq!(tag, "SHOW");
    assert!(rows.len() > 50);
    let r = s.simple_query("select * from pg_settings");
    let Ok(ExecResult::Rows { fields, rows, .. }) = &r[0] else {
        panic!("{r:?}");
    };
    assert_eq!(fields.len(), 17);
    assert_eq!(fields[11].type_oid, 1009);
    assert!(rows.len() > 50);
    assert_eq!(
        q(
            &mut s,
            "select setting, unit, vartype from pg_settings where name = 'work_mem'"
        ),
        "setting|unit|vartype\n4096|kB|integer\nSELECT 1"
    );
    assert_eq!(
        q(&mut s, "alter system set work_mem = '8MB'"),
        "ALTER SYSTEM"
    );
    let auto = std::fs::read_to_string(d.dir.join("postgresql.auto.conf")).unwrap();
    assert!(auto.contains("work_mem = '8MB'"), "{auto}");
    assert_eq!(
        q(&mut s, "select pg_reload_conf()"),
        "pg_reload_conf\nt\nSELECT 1"
    );
    assert_eq!(
        q(
            &mut s,
            "select pg_current_wal_lsn() > '0/0', pg_backend_pid(), txid_current() > 0"
        ),
        "?column?|pg_backend_pid|?column?\nt|4242|t\nSELECT 1"
    );
}

#[test]
fn odd_inputs_error_instead_of_panicking() {
    let d = db("odd");
    let mut s = session(&d.engine, "postgres");
    q(&mut s, "create table t (id int primary key, v varchar(3), n numeric(4,1), f float8, ts timestamptz)");
    let inputs = [
        "select pg_sleep('NaN')",
        "select round(1.5, 2000000000)",
        "select 1e999999999",
        "select '1e999999999'::numeric",
        "select -9223372036854775808",
        "select -(-9223372036854775807 - 1)",
        "select (-2147483648)::int / -1",
        "select (-32768)::int2 * -1::int2",
        "select 'x'::pg_lsn",
        "select '99999999999-01-01'::date",
        "select '2024-02-30'::timestamp",
        "select 'infinity'::float8::int",
        "select 'nan'::float8::numeric",
        "insert into t values (1, 'abcd')",
        "insert into t values (2, 'a', 99999)",
        "insert into t (id, id) values (3, 3)",
        "insert into t values (4, 'a', 1, 1, 1, 1)",
        "select * from t order by 0",
        "select * from t group by 7",
        "select $1",
        "select $0",
        "select count(*) from t having",
        "select sum('a')",
        "select avg(ts) from t",
        "select * from t limit -1",
        "select * from t offset 'x'",
        "update t set nosuch = 1",
        "update t set id = 'x'",
        "create table t2 (a int, a int)",
        "create table t3 (a numeric(2000))",
        "create table t4 (a varchar(0))",
        "create table t5 (a int primary key, b int primary key)",
        "create table t6 (a nosuchtype)",
        "drop role postgres",
        "create role \"\"",
        "alter role nosuch login",
        "set nosuch = 1",
        "show",
        "begin; begin; commit; commit",
        "select '\u{1F418}' || 1",
        "select E'\\x'",
        "select 1::int4::int8::numeric::float4::float8::text::int",
        "select current_setting(NULL)",
        "select set_config('nosuch', 'x', false)",
        "select lower(1)",
        "select abs(-2147483648)",
        "select greatest(1, 'a')",
        "values (1), ('a')",
        "select * from (select 1) as s(a, b)",
        "select x.* from t",
        "select t.nosuch from t",
        "select nosuch.id from t",
        "select 1 in (1, null), null in (1), 2 not in (1, null)",
        "select 'a' like null, null between 1 and 2",
        "select case 1 when 1 then 'a' when 'x' then 'b' end",
    ];
    for i in inputs {
        // Each must return a result or an error; a panic fails the test.
        let out = q(&mut s, i);
        if std::env::var_os("TUSK_SHOW").is_some() {
            eprintln!("{i}\n  => {}", out.replace('\n', " / "));
        }
        if s.transaction_status() != TransactionStatus::Idle {
            q(&mut s, "rollback");
        }
    }
    assert_eq!(q(&mut s, "select count(*) from t"), "count\n0\nSELECT 1");
}

/// The WAL records statements wrote, without their LSNs and xids (which vary).
fn wal_since(engine: &Engine, start: crate::storage::Lsn) -> Vec<String> {
    engine
        .describe_wal(start)
        .unwrap()
        .into_iter()
        .map(|l| l.split_once(": ").map(|x| x.1.to_string()).unwrap_or(l))
        .collect()
}

#[test]
fn statements_write_these_wal_records() {
    let d = db("walrec");
    let mut s = session(&d.engine, "postgres");
    q(&mut s, "create table t (id int primary key, v text)");
    let oid = d
        .engine
        .with_catalog(|c| c.table_by_name(5, 2200, "t").unwrap().oid);
    let start = d.engine.current_wal_lsn();
    q(&mut s, "insert into t values (1, 'a'), (2, NULL)");
    q(&mut s, "update t set v = 'b' where id = 2");
    q(&mut s, "begin; delete from t where id = 1; rollback");
    q(&mut s, "select * from t");
    let recs = wal_since(&d.engine, start);
    let commit = |l: &String| l.starts_with("COMMIT ");
    let recs: Vec<String> = recs
        .iter()
        .map(|l| {
            if commit(l) {
                "COMMIT".into()
            } else {
                l.clone()
            }
        })
        .collect();
    assert_eq!(
        recs,
        vec![
            // Rows one statement inserted under consecutive tuple ids: one record.
            format!("INSERT_ROWS db 5 rel {oid} tids 1..2: (1, a), (2, NULL)"),
            "COMMIT".to_string(),
            format!("DELETE db 5 rel {oid} tid 2"),
            format!("INSERT db 5 rel {oid} tid 3: (2, b)"),
            "COMMIT".to_string(),
        ],
        "a rolled-back or read-only transaction writes nothing"
    );
}

#[test]
fn rollback_to_savepoint_undoes_ddl_and_roles() {
    let d = db("spddl");
    let mut s = session(&d.engine, "postgres");
    q(&mut s, "begin; create table keep (a int); savepoint a");
    q(
        &mut s,
        "create table gone (a int); create role gone_role; insert into keep values (1)",
    );
    assert_eq!(q(&mut s, "rollback to a"), "ROLLBACK");
    assert!(q(&mut s, "select * from gone").starts_with("ERROR 42P01"));
    assert_eq!(q(&mut s, "rollback to a"), "ROLLBACK");
    assert_eq!(q(&mut s, "commit"), "COMMIT");
    assert!(d.engine.role("gone_role").is_none());
    assert_eq!(q(&mut s, "select count(*) from keep"), "count\n0\nSELECT 1");
    // Nothing of the rolled-back part reached the WAL: a crash and restart agrees.
    drop(s);
    let e = Engine::open(
        &d.dir,
        &EngineOptions {
            fsync: false,
            ..Default::default()
        },
    )
    .unwrap();
    let mut s = session(&e, "postgres");
    assert_eq!(q(&mut s, "select count(*) from keep"), "count\n0\nSELECT 1");
    assert!(q(&mut s, "select * from gone").starts_with("ERROR 42P01"));
}

#[test]
fn primary_key_equality_uses_the_index() {
    let d = db("pkidx");
    let mut s = session(&d.engine, "postgres");
    q(
        &mut s,
        "create table t (a int, b text, v int, primary key (a, b))",
    );
    q(
        &mut s,
        "insert into t values (1, 'x', 10), (1, 'y', 20), (2, 'x', 30)",
    );
    let def = d
        .engine
        .with_catalog(|c| c.table_by_name(5, 2200, "t").unwrap());
    let stmt = |sql: &str| {
        let dialect = crate::sql::dialect::PG;
        sqlparser::parser::Parser::parse_sql(&dialect, sql)
            .unwrap()
            .remove(0)
    };
    let mut b = plan::Binder::new(&d.engine, 5, "", 0, vec![]);
    let Plan::Update(u) = b
        .plan(&stmt("update t set v = 0 where b = 'y' and a = 1"))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(u.key.as_ref().map(|k| k.len()), Some(2));
    let Plan::Query(p) = b.plan(&stmt("select * from t where a = 1")).unwrap() else {
        panic!()
    };
    assert!(
        matches!(p.source, plan::Source::Table { key: None, .. }),
        "a partial key scans"
    );
    assert!(plan::pk_key_exprs(&def, None).is_none());
    assert_eq!(
        q(&mut s, "update t set v = v + 1 where b = 'y' and a = 1.0"),
        "UPDATE 1"
    );
    assert_eq!(
        q(&mut s, "select v from t where a = 1 and b = 'y'"),
        "v\n21\nSELECT 1"
    );
    assert_eq!(
        q(&mut s, "select v from t where a = 1.5 and b = 'y'"),
        "v\nSELECT 0"
    );
    assert_eq!(
        q(&mut s, "delete from t where a = 3000000000 and b = 'x'"),
        "DELETE 0"
    );
    assert_eq!(
        q(&mut s, "delete from t where a = 2 and b = 'x' and v = 0"),
        "DELETE 0"
    );
    assert_eq!(
        q(&mut s, "delete from t where a = 2 and b = 'x'"),
        "DELETE 1"
    );
}

#[test]
fn uncommitted_tables_take_no_foreign_writes() {
    let d = db("pendingddl");
    let mut a = session(&d.engine, "postgres");
    let mut b = session(&d.engine, "postgres");
    q(&mut a, "begin; create table t (id int primary key)");
    assert!(q(&mut b, "insert into t values (1)").starts_with("ERROR 42P01"));
    q(&mut a, "insert into t values (2); commit");
    assert_eq!(q(&mut b, "insert into t values (1)"), "INSERT 0 1");
    assert_eq!(q(&mut b, "select count(*) from t"), "count\n2\nSELECT 1");
}

#[test]
#[ignore = "manual speed check: cargo test --lib speed -- --ignored --nocapture"]
fn speed_check() {
    let d = db("speed");
    let mut s = session(&d.engine, "postgres");
    q(&mut s, "create table t (id int primary key, v int)");
    let t0 = std::time::Instant::now();
    q(&mut s, "begin");
    for i in 0..20000 {
        q(&mut s, &format!("insert into t values ({i}, 0)"));
    }
    q(&mut s, "commit");
    let t1 = std::time::Instant::now();
    for i in 0..2000 {
        q(
            &mut s,
            &format!("update t set v = v + 1 where id = {}", i * 7 % 20000),
        );
    }
    let t2 = std::time::Instant::now();
    q(&mut s, "select count(*), sum(v) from t");
    eprintln!(
        "20k inserts {:?}, 2k pk updates {:?}, count {:?}",
        t1 - t0,
        t2 - t1,
        t2.elapsed()
    );
}

#[test]
fn maintenance_commands_have_pg_tags() {
    let d = db("maint");
    let mut s = session(&d.engine, "postgres");
    q(
        &mut s,
        "create table m (id int primary key); insert into m values (1)",
    );
    assert_eq!(q(&mut s, "truncate m"), "TRUNCATE TABLE");
    assert_eq!(q(&mut s, "vacuum analyze m"), "VACUUM");
    assert_eq!(q(&mut s, "analyze m"), "ANALYZE");
    assert_eq!(q(&mut s, "select count(*) from m"), "count\n0\nSELECT 1");
}

#[test]
fn alter_table_survives_a_crash() {
    let d = db("altercrash");
    {
        let mut s = session(&d.engine, "postgres");
        q(
            &mut s,
            "create table t (id int not null, v int); insert into t values (1, 1), (2, 2)",
        );
        q(&mut s, "alter table t add primary key (id)");
        q(&mut s, "checkpoint");
        q(&mut s, "alter table t add column w text default 'x'");
        q(&mut s, "begin; alter table t rename to u");
        std::mem::forget(s);
    }
    let e = Engine::open(
        &d.dir,
        &EngineOptions {
            fsync: false,
            ..Default::default()
        },
    )
    .unwrap();
    let mut s = session(&e, "postgres");
    assert_eq!(
        q(&mut s, "select * from t order by id"),
        "id|v|w\n1|1|x\n2|2|x\nSELECT 2"
    );
    assert!(q(&mut s, "insert into t values (1, 9)").starts_with("ERROR 23505"));
    assert!(q(&mut s, "select * from u").starts_with("ERROR 42P01"));
}

#[test]
fn databases_keep_their_own_tables_and_survive_restart() {
    let d = db("dbs");
    let mut s = session(&d.engine, "postgres");
    assert_eq!(q(&mut s, "create database app"), "CREATE DATABASE");
    q(&mut s, "create table t (a int)");
    let cfg = Arc::new(ServerConfig::defaults(std::path::Path::new("/nonexistent")));
    let mut app = Session::new(
        d.engine.clone(),
        SessionSettings::new(cfg),
        SessionContext {
            user: "postgres".into(),
            database: "app".into(),
            backend_pid: 1,
            cancel: Arc::new(AtomicBool::new(false)),
            hooks: Arc::new(Hooks),
            application_name: String::new(),
        },
    );
    assert!(q(&mut app, "select * from t").starts_with("ERROR 42P01"));
    q(
        &mut app,
        "create table t (b text); insert into t values ('in app')",
    );
    assert_eq!(
        q(&mut app, "select current_database(), b from t"),
        "current_database|b\napp|in app\nSELECT 1"
    );
    assert!(q(&mut s, "drop role postgres").starts_with("ERROR"));
    q(
        &mut s,
        "create role owner_role; create database owned owner owner_role",
    );
    assert!(q(&mut s, "drop role owner_role").starts_with("ERROR 2BP01"));
    drop(app);
    let e = Engine::open(
        &d.dir,
        &EngineOptions {
            fsync: false,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(e.database("app").is_some());
    let mut s = session(&e, "postgres");
    assert_eq!(q(&mut s, "drop database app"), "DROP DATABASE");
    assert!(e.database("app").is_none());
}

#[test]
fn insert_errors_come_in_row_order() {
    // The error reported is the first failing row's, each row checked before it is
    // inserted, as PostgreSQL's row-by-row INSERT reports it (texts from PostgreSQL 15):
    // what any faster INSERT path (rows handed over in batches) must keep.
    let d = db("insert_order");
    let mut s = session(&d.engine, "postgres");
    q(
        &mut s,
        "create table ord (a int primary key check (a > 0), b text not null)",
    );
    assert_eq!(
        q(&mut s, "insert into ord values (1, 'x'), (1, 'y'), (-1, 'z')"),
        "ERROR 23505: duplicate key value violates unique constraint \"ord_pkey\" DETAIL Key (a)=(1) already exists."
    );
    assert_eq!(
        q(&mut s, "insert into ord values (1, 'x'), (-1, 'y'), (1, 'z')"),
        "ERROR 23514: new row for relation \"ord\" violates check constraint \"ord_a_check\" DETAIL Failing row contains (-1, y)."
    );
    assert_eq!(
        q(&mut s, "insert into ord values (1, 'x'), (2, null), (1, 'z')"),
        "ERROR 23502: null value in column \"b\" of relation \"ord\" violates not-null constraint DETAIL Failing row contains (2, null)."
    );
    // A duplicate in a later batch than its first copy.
    assert_eq!(
        q(
            &mut s,
            "insert into ord select g, 'v' from generate_series(1, 2500) g union all select 7, 'dup'"
        ),
        "ERROR 23505: duplicate key value violates unique constraint \"ord_pkey\" DETAIL Key (a)=(7) already exists."
    );
    assert_eq!(
        q(
            &mut s,
            "insert into ord select g, 'v' from generate_series(1, 2500) g"
        ),
        "INSERT 0 2500"
    );
    assert_eq!(
        q(&mut s, "select count(*), sum(a) from ord"),
        "count|sum\n2500|3126250\nSELECT 1"
    );
}

#[test]
fn copy_from_stdin_text_and_csv() {
    let d = db("copy");
    let mut s = session(&d.engine, "postgres");
    q(
        &mut s,
        "create table t (id int primary key, name text, note text default 'dflt', f char(3))",
    );
    let r = s.simple_query("copy t (id, name, f) from stdin with (freeze on)");
    assert!(
        matches!(r[0], Ok(ExecResult::CopyIn { columns: 3, .. })),
        "{r:?}"
    );
    // Data split at arbitrary points, as CopyData messages may be.
    s.copy_data(b"1\ta\\tb\tx\n2\t\\N").unwrap();
    s.copy_data(b"\ty\n3\tc\\\\d\tz\n\\.\n").unwrap();
    let done = s.copy_done().unwrap();
    assert!(
        matches!(&done, ExecResult::Command { tag } if tag == "COPY 3"),
        "{done:?}"
    );
    assert_eq!(
        q(&mut s, "select id, name, note, f from t order by id"),
        "id|name|note|f\n1|a\tb|dflt|x  \n2|NULL|dflt|y  \n3|c\\d|dflt|z  \nSELECT 3"
    );
    // A backslash before the delimiter makes it data, as in PostgreSQL; an escaped
    // backslash does not; a multi-byte character after a backslash stays whole.
    s.simple_query("copy t (id, name, f) from stdin");
    s.copy_data("10\tx\\\ty\tq\n11\tw\\\\\tr\n12\t\\é\\\té\tz\n".as_bytes())
        .unwrap();
    s.copy_done().unwrap();
    assert_eq!(
        q(
            &mut s,
            "select id, name, f from t where id >= 10 order by id"
        ),
        "id|name|f\n10|x\ty|q  \n11|w\\|r  \n12|é\té|z  \nSELECT 3"
    );
    s.simple_query("copy t (id, name, f) from stdin");
    let e = s
        .copy_data(b"13\tp\\\tq\n")
        .err()
        .unwrap_or_else(|| s.copy_done().unwrap_err());
    assert_eq!(e.message, "missing data for column \"f\"", "{e:?}");
    q(&mut s, "delete from t where id >= 10");
    // A delimiter is one byte in UTF-8 (PostgreSQL's text and SQLSTATE).
    let e = q(&mut s, "copy t from stdin (delimiter 'é')");
    assert!(
        e.starts_with("ERROR 0A000")
            && e.contains("COPY delimiter must be a single one-byte character"),
        "{e}"
    );
    // CSV with a header, quotes and an empty-string NULL.
    let r = s.simple_query("COPY t (id, name) FROM STDIN WITH (FORMAT csv, HEADER true)");
    assert!(matches!(r[0], Ok(ExecResult::CopyIn { columns: 2, .. })));
    s.copy_data(b"id,name\n4,\"x, \"\"y\"\"\"\n5,\n").unwrap();
    s.copy_done().unwrap();
    assert_eq!(
        q(&mut s, "select id, name from t where id > 3 order by id"),
        "id|name\n4|x, \"y\"\n5|NULL\nSELECT 2"
    );
    // A bad row fails the whole COPY; CopyFail too.
    s.simple_query("copy t (id, name) from stdin");
    // (Rows are inserted in batches: the error comes with CopyDone at the latest.)
    s.copy_data(b"6\tok\n1\tdup\n").unwrap();
    assert_eq!(s.copy_done().unwrap_err().code, "23505");
    s.simple_query("copy t (id) from stdin");
    s.copy_data(b"7\n").unwrap();
    assert_eq!(
        s.copy_fail("client gave up").message,
        "COPY from stdin failed: client gave up"
    );
    assert_eq!(q(&mut s, "select count(*) from t"), "count\n5\nSELECT 1");
    assert!(q(&mut s, "copy nosuch from stdin").starts_with("ERROR 42P01"));
}

/// A COPY of many batches goes through the conversion thread (`copy_convert`) and
/// gives what a one-thread COPY gives: the rows, the end marker, defaults, errors with
/// their line and column, in the order one thread meets them.
#[test]
fn a_large_copy_converts_on_a_second_thread_as_on_one() {
    let d = db("copy_big");
    let mut s = session(&d.engine, "postgres");
    q(
        &mut s,
        "create table big (id int primary key, v text, f char(4), n numeric, d text default 'dflt')",
    );
    let lines = |from: u32, to: u32| {
        let mut input = Vec::new();
        for i in from..=to {
            let f = if i % 7 == 0 { "\\N" } else { "f" };
            input.extend(format!("{i}\tv{i}\\tx\t{f}\t{i}.5\n").into_bytes());
        }
        input
    };
    let many = |n: u32, line: &dyn Fn(u32) -> String| -> Vec<u8> {
        (0..n).flat_map(|i| line(i).into_bytes()).collect()
    };
    let send = |s: &mut Session, input: &[u8]| -> Result<()> {
        for chunk in input.chunks(10_000) {
            s.copy_data(chunk)?;
        }
        Ok(())
    };
    s.simple_query("copy big (id, v, f, n) from stdin");
    let mut input = lines(1, 40_000);
    input.extend(b"\\.\n99999\tafter the end\tx\t1\n");
    // Batches wholly after the end marker (on the other thread) are never read.
    input.extend(many(60_000, &|i| format!("junk {i}\n")));
    send(&mut s, &input).unwrap();
    assert!(s.copy.as_ref().unwrap().converter.is_some());
    let done = s.copy_done().unwrap();
    assert!(
        matches!(&done, ExecResult::Command { tag } if tag == "COPY 40000"),
        "{done:?}"
    );
    assert_eq!(
        q(
            &mut s,
            "select count(*), count(f), sum(n), max(id) from big"
        ),
        "count|count|sum|max\n40000|34286|800040000.0|40000\nSELECT 1"
    );
    assert_eq!(
        q(
            &mut s,
            "select id, v, f, n, d from big where id in (7, 8) order by id"
        ),
        "id|v|f|n|d\n7|v7\tx|NULL|7.5|dflt\n8|v8\tx|f   |8.5|dflt\nSELECT 2"
    );
    // A bad value in a later batch: PostgreSQL's error and CONTEXT, nothing kept.
    s.simple_query("copy big (id, v, f, n) from stdin");
    let mut input = lines(50_001, 80_000);
    input.extend(b"oops\tv\tf\t1\n");
    input.extend(lines(80_001, 90_000));
    let e = send(&mut s, &input)
        .err()
        .unwrap_or_else(|| s.copy_done().unwrap_err());
    assert_eq!(e.code, "22P02");
    assert_eq!(e.message, "invalid input syntax for type integer: \"oops\"");
    assert!(
        e.context
            .as_deref()
            .is_some_and(|c| c.contains("COPY big, line 30001, column id: \"oops\"")),
        "{e:?}"
    );
    assert_eq!(
        q(&mut s, "select count(*) from big"),
        "count\n40000\nSELECT 1"
    );
    // A repeated key in an early batch is met before a bad value in a later one.
    s.simple_query("copy big (id, v, f, n) from stdin");
    let mut input = lines(100_001, 100_010);
    input.extend(lines(5, 5));
    input.extend(lines(100_011, 130_000));
    input.extend(b"oops\tv\tf\t1\n");
    let e = send(&mut s, &input)
        .err()
        .unwrap_or_else(|| s.copy_done().unwrap_err());
    assert_eq!(e.code, "23505", "{e:?}");
    // A CSV header is skipped once, in the first batch only.
    q(&mut s, "create table hdr (id int, v text)");
    s.simple_query("copy hdr from stdin (format csv, header)");
    let mut input = b"id,v\n".to_vec();
    input.extend(many(40_000, &|i| format!("{i},\"v,{i}\"\n")));
    send(&mut s, &input).unwrap();
    assert!(s.copy.as_ref().unwrap().converter.is_some());
    s.copy_done().unwrap();
    assert_eq!(
        q(&mut s, "select count(*), min(id), max(v) from hdr"),
        "count|min|max\n40000|0|v,9999\nSELECT 1"
    );
    // Times are read in the session's TimeZone on the thread too.
    q(&mut s, "set timezone = 'Asia/Kolkata'");
    q(&mut s, "create table at (id int, ts timestamptz, d date)");
    s.simple_query("copy at from stdin");
    let input = many(20_000, &|i| {
        format!("{i}\t2026-12-07 10:00:00\t2026-12-07\n")
    });
    send(&mut s, &input).unwrap();
    assert!(s.copy.as_ref().unwrap().converter.is_some());
    s.copy_done().unwrap();
    q(&mut s, "set timezone = 'UTC'");
    assert_eq!(
        q(&mut s, "select count(*), min(ts), max(d) from at"),
        "count|min|max\n20000|2026-12-07 04:30:00+00|2026-12-07\nSELECT 1"
    );
    // An enum column (labels from the backend's catalog) keeps the COPY on one thread.
    q(&mut s, "create type mood as enum ('sad', 'ok')");
    q(&mut s, "create table moods (id int, m mood)");
    s.simple_query("copy moods from stdin");
    let input = many(20_000, &|i| format!("{i}\tok\n"));
    send(&mut s, &input).unwrap();
    assert!(s.copy.as_ref().unwrap().converter.is_none());
    s.copy_done().unwrap();
    assert_eq!(
        q(&mut s, "select count(*) from moods where m = 'ok'"),
        "count\n20000\nSELECT 1"
    );
    // Columns named out of order, and every column named in order, on the thread.
    q(&mut s, "create table ro (a int, b text, c int)");
    s.simple_query("copy ro (c, b, a) from stdin");
    send(
        &mut s,
        &many(20_000, &|i| format!("{i}\tb{i}\t{}\n", i + 1)),
    )
    .unwrap();
    assert!(s.copy.as_ref().unwrap().converter.is_some());
    s.copy_done().unwrap();
    s.simple_query("copy ro from stdin");
    send(&mut s, &many(20_000, &|i| format!("-{i}\tB{i}\t{i}\n"))).unwrap();
    assert!(s.copy.as_ref().unwrap().converter.is_some());
    s.copy_done().unwrap();
    assert_eq!(
        q(
            &mut s,
            "select a, b, c from ro where b in ('b7', 'B7') order by b"
        ),
        "a|b|c\n-7|B7|7\n8|b7|7\nSELECT 2"
    );
}

#[test]
fn command_tags_spell_the_count_in_decimal() {
    assert_eq!(super::counted_tag("UPDATE ", 0), "UPDATE 0");
    assert_eq!(super::counted_tag("INSERT 0 ", 7), "INSERT 0 7");
    assert_eq!(super::counted_tag("SELECT ", 1_000_000), "SELECT 1000000");
    assert_eq!(
        super::counted_tag("DELETE ", u64::MAX),
        format!("DELETE {}", u64::MAX)
    );
}

/// A statement's snapshot is taken when it starts: after a BEGIN, the first statement
/// sees what committed between the two (READ COMMITTED and REPEATABLE READ alike, as
/// in PostgreSQL, whose transaction snapshot is the first statement's); an autocommit
/// statement runs on the snapshot its own transaction began with.
#[test]
fn statements_see_what_committed_before_they_started() {
    let d = db("snapstart");
    let mut a = session(&d.engine, "postgres");
    let mut b = session(&d.engine, "postgres");
    q(&mut a, "create table t (id int primary key)");
    let count = "select count(*) from t";
    q(&mut a, "begin");
    q(&mut b, "insert into t values (1)");
    assert_eq!(q(&mut a, count), "count\n1\nSELECT 1");
    q(&mut b, "insert into t values (2)");
    assert_eq!(q(&mut a, count), "count\n2\nSELECT 1");
    q(&mut a, "commit");
    q(&mut a, "begin isolation level repeatable read");
    q(&mut b, "insert into t values (3)");
    assert_eq!(q(&mut a, count), "count\n3\nSELECT 1");
    q(&mut b, "insert into t values (4)");
    assert_eq!(q(&mut a, count), "count\n3\nSELECT 1");
    q(&mut a, "commit");
    // Autocommit, simple and extended: each statement's own transaction.
    assert_eq!(q(&mut a, count), "count\n4\nSELECT 1");
    a.parse("c", count, &[]).unwrap();
    for n in 5..=6 {
        q(&mut b, &format!("insert into t values ({n})"));
        a.bind("", "c", &[], &[], &[]).unwrap();
        let (rows, tag) = a.execute("", 0).unwrap();
        assert_eq!(rows, vec![vec![Value::Int8(n)]]);
        assert_eq!(tag.as_deref(), Some("SELECT 1"));
        // Executed again before Sync, the exhausted portal has nothing more.
        let (rows, tag) = a.execute("", 0).unwrap();
        assert!(rows.is_empty());
        assert_eq!(tag.as_deref(), Some("SELECT 0"));
        a.sync().unwrap();
    }
}
