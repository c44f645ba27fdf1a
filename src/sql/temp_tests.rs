//! Tests of temporary tables through whole sessions: nothing of them reaches the WAL
//! or a checkpoint image, two sessions keep apart, a session's end (even without a
//! ROLLBACK) removes everything, and the catalog forgets them after a crash.

use super::super::tests::{db, first_column, reopen, session};
use crate::sql::ExecResult;
use crate::storage::Lsn;

/// The WAL records written from `from` on, described.
fn wal_since(e: &crate::storage::Engine, from: Lsn) -> Vec<String> {
    e.describe_wal(from).unwrap()
}

#[test]
fn temporary_changes_write_no_wal() {
    let d = db("temp-wal");
    let mut s = session(&d.engine, "postgres");
    first_column(&mut s, "create table p (a int primary key)");
    let before = d.engine.current_wal_lsn();
    for sql in [
        "create temp table t (id serial primary key, v text unique, check (v <> 'x'))",
        "insert into t (v) values ('a'), ('b')",
        "update t set v = 'c' where id = 1",
        "delete from t where id = 2",
        "create index on t (v)",
        "alter table t add column w int",
        "create temp sequence s",
        "select nextval('s')",
        "create temp view tv as select * from t",
        "comment on table t is 'scratch'",
        "truncate t",
        "drop table t cascade",
    ] {
        let out = first_column(&mut s, sql);
        assert!(!out.starts_with("ERROR"), "{sql}: {out}");
    }
    // COPY FROM into a temporary table.
    first_column(&mut s, "create temp table c (a int, b text)");
    let copy = s.simple_query("copy c from stdin");
    assert!(matches!(copy.last(), Some(Ok(ExecResult::CopyIn { .. }))));
    s.copy_data(b"1\tone\n2\ttwo\n").unwrap();
    s.copy_done().unwrap();
    assert_eq!(
        first_column(&mut s, "select b from c order by a"),
        "one,two"
    );
    assert_eq!(
        d.engine.current_wal_lsn(),
        before,
        "{:?}",
        wal_since(&d.engine, before)
    );

    // A transaction writing both logs the permanent row only.
    first_column(&mut s, "create temp table t2 (a int)");
    let before = d.engine.current_wal_lsn();
    first_column(
        &mut s,
        "begin; insert into t2 values (1); insert into p values (7); commit",
    );
    let wal = wal_since(&d.engine, before);
    let t2 = d
        .engine
        .with_catalog(|c| c.tables.values().find(|t| t.name == "t2").map(|t| t.oid))
        .unwrap();
    assert!(wal.iter().any(|l| l.contains("INSERT")), "{wal:?}");
    assert!(
        !wal.iter().any(|l| l.contains(&format!("rel {t2} "))),
        "{wal:?}"
    );
}

#[test]
fn sessions_keep_apart_and_their_end_drops_everything() {
    let d = db("temp-sessions");
    let mut a = session(&d.engine, "postgres");
    let mut b = session(&d.engine, "postgres");
    first_column(&mut a, "create temp table t (v text)");
    first_column(&mut a, "insert into t values ('a')");
    first_column(&mut b, "create temp table t (v text)");
    first_column(&mut b, "insert into t values ('b1'), ('b2')");
    assert_eq!(first_column(&mut a, "select v from t"), "a");
    assert_eq!(first_column(&mut b, "select v from t order by v"), "b1,b2");
    // The other session's schema is visible by name, its tables are not usable.
    let schema_a = first_column(
        &mut a,
        "select schemaname from pg_tables where tablename = 't' and schemaname <> 'public' order by 1 limit 1",
    );
    assert!(schema_a.starts_with("pg_temp_"), "{schema_a}");
    let other = first_column(&mut b, &format!("select * from {schema_a}.t"));
    let mine = first_column(&mut a, &format!("select * from {schema_a}.t"));
    assert!(
        (other.starts_with("ERROR 0A000") && mine == "a")
            || (mine.starts_with("ERROR 0A000") && other == "a"),
        "{other} / {mine}"
    );
    // A session ending inside a transaction block: no ROLLBACK, no COMMIT.
    first_column(&mut a, "begin; insert into t values ('pending')");
    drop(a);
    assert_eq!(first_column(&mut b, "select count(*) from t"), "2");
    let temp_tables = |e: &crate::storage::Engine| {
        e.with_catalog(|c| {
            (
                c.temp.namespaces.len(),
                c.tables
                    .values()
                    .filter(|t| c.is_temp_schema(t.schema))
                    .count(),
            )
        })
    };
    assert_eq!(temp_tables(&d.engine), (1, 1));
    drop(b);
    assert_eq!(temp_tables(&d.engine), (0, 0));
    assert!(!d
        .engine
        .with_catalog(|c| c.schemas.values().any(|(n, _)| n.starts_with("pg_temp"))));
}

#[test]
fn checkpoints_and_crashes_leave_no_trace() {
    let d = db("temp-crash");
    {
        let mut s = session(&d.engine, "postgres");
        first_column(&mut s, "create table keep (a int)");
        first_column(&mut s, "insert into keep values (1)");
        first_column(&mut s, "create temp table gone (a serial, b text)");
        first_column(&mut s, "insert into gone (b) values ('x')");
        first_column(&mut s, "create temp view gv as select * from gone");
        assert_eq!(first_column(&mut s, "checkpoint"), "CHECKPOINT");
        first_column(&mut s, "insert into gone (b) values ('y')");
        // Crash: the session never ends cleanly.
        std::mem::forget(s);
    }
    let e = reopen(&d.dir);
    let mut s = session(&e, "postgres");
    assert_eq!(first_column(&mut s, "select a from keep"), "1");
    let gone = first_column(&mut s, "select * from pg_temp_1.gone");
    assert!(gone.starts_with("ERROR 3F000"), "{gone}");
    assert_eq!(
        first_column(
            &mut s,
            "select count(*) from pg_tables where tablename = 'gone'"
        ),
        "0"
    );
    e.with_catalog(|c| {
        assert!(c.temp.namespaces.is_empty());
        assert!(c.ddl.sequences.values().all(|q| q.name != "gone_a_seq"));
        assert!(c.ddl.views.values().all(|v| v.name != "gv"));
    });
    // The name is free for a new temporary table.
    assert_eq!(
        first_column(&mut s, "create temp table gone (a int)"),
        "CREATE TABLE"
    );
}

#[test]
fn unlogged_is_blanked_out_keeping_positions() {
    use super::unlogged_as_logged as f;
    assert_eq!(
        f("CREATE UNLOGGED TABLE t (a int)").as_deref(),
        Some("CREATE          TABLE t (a int)")
    );
    assert_eq!(
        f("  create\n unlogged  table x as select 1").as_deref(),
        Some("  create\n           table x as select 1")
    );
    assert_eq!(f("CREATE TABLE unlogged (a int)"), None);
    assert_eq!(f("CREATE UNLOGGED SEQUENCE s"), None);
    assert_eq!(f("create unlogged"), None);
    assert_eq!(f("select 1"), None);
}

#[test]
fn creating_a_temporary_table_needs_the_temp_privilege() {
    let d = db("temp-privilege");
    let mut admin = session(&d.engine, "postgres");
    super::super::tests::q(&mut admin, "create role tmpuser login");
    let mut user = session(&d.engine, "tmpuser");
    // PUBLIC holds TEMP on a database by default.
    assert_eq!(
        super::super::tests::q(&mut user, "create temp table a (x int)"),
        "CREATE TABLE"
    );
    super::super::tests::q(&mut admin, "revoke temp on database postgres from public");
    let out = super::super::tests::q(&mut user, "create temp table b (x int)");
    assert!(
        out.contains("42501") && out.contains("permission denied to create temporary tables"),
        "{out}"
    );
    super::super::tests::q(&mut admin, "grant temp on database postgres to tmpuser");
    assert_eq!(
        super::super::tests::q(&mut user, "create temp table b (x int)"),
        "CREATE TABLE"
    );
}
