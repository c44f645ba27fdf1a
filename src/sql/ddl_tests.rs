//! Restart tests of `sql::ddl`: sequences never hand a value out twice across a crash,
//! and DDL objects (sequences, serial defaults, CHECK constraints) are replayed.

use super::super::tests::{db, first_column as q, reopen, session};

#[test]
fn sequences_skip_ahead_after_a_crash_and_never_repeat() {
    let d = db("seqcrash");
    {
        let mut s = session(&d.engine, "postgres");
        q(&mut s, "create sequence a");
        q(&mut s, "create sequence b");
        q(
            &mut s,
            "create table t (id serial primary key, v text check (v <> 'bad'))",
        );
        assert_eq!(q(&mut s, "select nextval('a')"), "1");
        // A checkpoint after the log-ahead record: the image must hold the logged
        // position, not the in-memory one.
        q(&mut s, "checkpoint");
        for i in 2..=5 {
            assert_eq!(q(&mut s, "select nextval('a')"), i.to_string());
        }
        assert_eq!(q(&mut s, "select setval('b', 500)"), "500");
        q(&mut s, "insert into t (v) values ('x'), ('y')");
        // nextval inside a transaction that never commits is still durable.
        q(&mut s, "begin");
        assert_eq!(q(&mut s, "select nextval('b')"), "501");
        q(&mut s, "create sequence c");
        assert_eq!(q(&mut s, "select nextval('c')"), "1");
        std::mem::forget(s);
    }
    let e = reopen(&d.dir);
    let mut s = session(&e, "postgres");
    // 1 was logged as 33 and 501 as 533: the next values come after them.
    assert_eq!(q(&mut s, "select nextval('a')"), "34");
    assert_eq!(q(&mut s, "select nextval('b')"), "534");
    assert!(q(&mut s, "select nextval('c')").starts_with("ERROR 42P01"));
    assert_eq!(
        q(&mut s, "insert into t (v) values ('z') returning id"),
        "34"
    );
    assert_eq!(
        q(&mut s, "insert into t (v) values ('bad')"),
        "ERROR 23514: new row for relation \"t\" violates check constraint \"t_v_check\""
    );
    // And a second crash right after: still no repeats.
    std::mem::forget(s);
    let e2 = reopen(&d.dir);
    let mut s = session(&e2, "postgres");
    assert_eq!(q(&mut s, "select nextval('a')"), "67");
    assert_eq!(
        q(&mut s, "select pg_get_serial_sequence('t', 'id')"),
        "public.t_id_seq"
    );
}

#[test]
fn dropped_sequences_stay_dropped_and_rollback_restores_them() {
    let d = db("seqdrop");
    {
        let mut s = session(&d.engine, "postgres");
        q(&mut s, "create sequence a start 10");
        q(&mut s, "create sequence b");
        assert_eq!(q(&mut s, "select nextval('a')"), "10");
        q(&mut s, "begin; drop sequence a; rollback");
        assert_eq!(q(&mut s, "select nextval('a')"), "11");
        q(&mut s, "drop sequence b");
        q(&mut s, "alter sequence a restart with 100");
        std::mem::forget(s);
    }
    let e = reopen(&d.dir);
    let mut s = session(&e, "postgres");
    assert_eq!(q(&mut s, "select nextval('a')"), "100");
    assert!(q(&mut s, "select nextval('b')").starts_with("ERROR 42P01"));
}

#[test]
fn views_survive_a_crash_and_checkpoint() {
    let d = db("viewcrash");
    {
        let mut s = session(&d.engine, "postgres");
        q(&mut s, "create table t (a int, b text)");
        q(&mut s, "insert into t values (1, 'x'), (2, 'y')");
        q(&mut s, "create view v1 as select a from t where a > 1");
        q(&mut s, "checkpoint");
        q(&mut s, "create view v2 (n) as select b from t");
        q(&mut s, "begin; drop view v1");
        std::mem::forget(s);
    }
    let e = reopen(&d.dir);
    let mut s = session(&e, "postgres");
    assert_eq!(q(&mut s, "select * from v1"), "2");
    assert_eq!(q(&mut s, "select n from v2 order by n"), "x,y");
    // Views that would expand into each other fail instead of recursing forever.
    q(&mut s, "create or replace view v1 as select a from t");
    q(&mut s, "create view v3 as select a from v1");
    assert!(q(&mut s, "create or replace view v1 as select a from v3").starts_with("ERROR 42P17"));
    // Views on views are not a cycle: a chain deeper than 32 (the old cut-off, reported
    // as infinite recursion) expands.
    for i in 4..=60 {
        q(
            &mut s,
            &format!("create view v{i} as select a + 1 as a from v{}", i - 1),
        );
    }
    assert_eq!(q(&mut s, "select * from v60 order by a"), "58,59");
    // What was accepted reads back: a view, a default and a CHECK nested deeper than
    // sqlparser's own default limit (50) are parsed again from their stored text.
    let deep = format!("{}1{}", "(".repeat(300), ")".repeat(300));
    q(&mut s, &format!("create view vdeep as select {deep} as a"));
    q(
        &mut s,
        &format!("create table tdeep (a int default {deep} check (a <= {deep}))"),
    );
    q(&mut s, "insert into tdeep default values");
    assert_eq!(q(&mut s, "select a from vdeep"), "1");
    assert_eq!(q(&mut s, "select a from tdeep"), "1");
    assert!(q(&mut s, "insert into tdeep values (2)").starts_with("ERROR 23514"));
}

#[test]
fn schemas_survive_a_crash_and_search_path_resolves() {
    let d = db("schemacrash");
    {
        let mut s = session(&d.engine, "postgres");
        q(&mut s, "create schema a");
        q(&mut s, "create table a.t (id serial, v int)");
        q(&mut s, "insert into a.t (v) values (1)");
        q(&mut s, "create schema b");
        q(&mut s, "checkpoint");
        q(&mut s, "drop schema b");
        q(&mut s, "begin; drop schema a cascade");
        std::mem::forget(s);
    }
    let e = reopen(&d.dir);
    let mut s = session(&e, "postgres");
    assert_eq!(q(&mut s, "select v from a.t"), "1");
    assert_eq!(
        q(&mut s, "insert into a.t (v) values (2) returning id"),
        "34"
    );
    assert!(q(&mut s, "create table b.x (i int)").starts_with("ERROR 3F000"));
    // Unqualified names follow search_path; creation goes to its first schema.
    q(&mut s, "set search_path = a, public");
    assert_eq!(q(&mut s, "select v from t"), "1,2");
    q(&mut s, "create table u (i int)");
    q(&mut s, "insert into u values (7)");
    std::mem::forget(s);
    let e3 = reopen(&d.dir);
    let mut s = session(&e3, "postgres");
    assert_eq!(q(&mut s, "select i from a.u"), "7");
    assert!(q(&mut s, "select i from u").starts_with("ERROR 42P01"));
    q(&mut s, "set search_path = nosuch, public");
    assert_eq!(q(&mut s, "select 1"), "1");
}

/// The comments of table `t` in database `postgres`: (column number, text).
fn comments_of(e: &std::sync::Arc<crate::storage::Engine>, table: &str) -> Vec<(i32, String)> {
    let db = e.database("postgres").expect("postgres database").oid;
    e.with_catalog(|c| {
        let oid = c
            .table_by_name(db, crate::storage::schema::PUBLIC_NAMESPACE, table)
            .map(|t| t.oid)
            .unwrap_or(0);
        c.ddl
            .comments
            .range((db, oid, i32::MIN)..=(db, oid, i32::MAX))
            .map(|((_, _, sub), t)| (*sub, t.clone()))
            .collect()
    })
}

#[test]
fn comments_survive_a_crash_and_follow_their_table() {
    let d = db("comments");
    {
        let mut s = session(&d.engine, "postgres");
        q(&mut s, "create table t (a int, b text)");
        q(&mut s, "create table gone (a int)");
        q(&mut s, "create view v as select 1 as x");
        q(&mut s, "comment on column v.x is 'view column'");
        q(&mut s, "drop view v");
        q(&mut s, "comment on table t is 'the table'");
        q(&mut s, "comment on column t.b is 'column b'");
        q(&mut s, "comment on column t.a is 'dropped below'");
        q(&mut s, "comment on column gone.a is 'x'");
        q(&mut s, "checkpoint");
        q(&mut s, "comment on column t.a is null");
        q(&mut s, "drop table gone");
        // Rolled back: leaves the committed comment.
        q(&mut s, "begin");
        q(&mut s, "comment on table t is 'never'");
        q(&mut s, "rollback");
        q(&mut s, "create role bob login");
        let mut b = session(&d.engine, "bob");
        assert_eq!(
            q(&mut b, "comment on table t is 'bob'"),
            "ERROR 42501: must be owner of table t"
        );
        assert_eq!(
            q(&mut b, "comment on column t.a is 'bob'"),
            "ERROR 42501: must be owner of relation t"
        );
        assert_eq!(q(&mut b, "select has_table_privilege('t', 'select')"), "f");
        q(&mut s, "grant select on t to bob");
        assert_eq!(q(&mut b, "select has_table_privilege('t', 'select')"), "t");
        std::mem::forget(b);
        std::mem::forget(s);
    }
    let e = reopen(&d.dir);
    assert_eq!(
        comments_of(&e, "t"),
        vec![(0, "the table".to_string()), (2, "column b".to_string())]
    );
    let all = e.with_catalog(|c| c.ddl.comments.len());
    assert_eq!(all, 2, "the dropped table's comment is gone");
}
