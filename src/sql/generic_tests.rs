//! Generic plans of the simple protocol: reused for other literals, and never once the
//! catalog, `search_path`, the privileges or the literals' types say otherwise.

use super::super::tests::{db, q, session};
use super::*;

fn accounts(s: &mut Session) {
    q(s, "create table t (id int primary key, v text)");
    q(
        s,
        "insert into t select g, 'v' || g from generate_series(1, 30) g",
    );
}

#[test]
fn other_literals_reuse_the_plan_with_their_own_values_and_types() {
    let d = db("generic-reuse");
    let mut s = session(&d.engine, "postgres");
    accounts(&mut s);
    assert_eq!(
        q(&mut s, "select v from t where id = 10"),
        "v\nv10\nSELECT 1"
    );
    assert!(s.has_generic_plan("select v from t where id = $1"));
    assert_eq!(
        q(&mut s, "select v from t where id = 25"),
        "v\nv25\nSELECT 1"
    );
    // One shape for literals of any length, one character too.
    assert_eq!(q(&mut s, "select v from t where id = 7"), "v\nv7\nSELECT 1");
    assert_eq!(
        q(&mut s, "select v from t where id = 0007"),
        "v\nv7\nSELECT 1"
    );
    assert_eq!(q(&mut s, "select v from t where id = 99;"), "v\nSELECT 0");
    // Another kind of literal: bigint, then numeric, each planned for its type.
    assert_eq!(
        q(&mut s, "select v from t where id = 3000000000"),
        "v\nSELECT 0"
    );
    assert_eq!(
        q(&mut s, "select v from t where id = 12.0"),
        "v\nv12\nSELECT 1"
    );
    assert_eq!(q(&mut s, "select v from t where id = 13.5"), "v\nSELECT 0");
    assert_eq!(
        q(&mut s, "select 10 as a, 3000000000 as b, 1.50 as c"),
        "a|b|c\n10|3000000000|1.50\nSELECT 1"
    );
    assert_eq!(
        q(
            &mut s,
            "select pg_typeof(20), pg_typeof(4000000000), pg_typeof(2.50)"
        ),
        "pg_typeof|pg_typeof|pg_typeof\ninteger|bigint|numeric\nSELECT 1"
    );
    // Writes too.
    assert_eq!(q(&mut s, "update t set v = 'x' where id = 11"), "UPDATE 1");
    assert_eq!(q(&mut s, "update t set v = 'x' where id = 12"), "UPDATE 1");
    assert_eq!(q(&mut s, "delete from t where id = 11"), "DELETE 1");
    assert_eq!(q(&mut s, "delete from t where id = 12"), "DELETE 1");
    assert_eq!(q(&mut s, "insert into t values (31, 'y')"), "INSERT 0 1");
    assert_eq!(q(&mut s, "insert into t values (32, 'y')"), "INSERT 0 1");
    assert_eq!(
        q(&mut s, "insert into t values (32, 'z')"),
        "ERROR 23505: duplicate key value violates unique constraint \"t_pkey\" \
         DETAIL Key (id)=(32) already exists."
    );
    assert_eq!(
        q(
            &mut s,
            "select count(*), min(v), max(id) from t where id >= 10"
        ),
        "count|min|max\n21|v10|32\nSELECT 1"
    );
}

#[test]
fn literals_that_are_not_plain_values_are_planned_each_time() {
    let d = db("generic-shapes");
    let mut s = session(&d.engine, "postgres");
    accounts(&mut s);
    q(&mut s, "create table p (a int, b int)");
    q(&mut s, "insert into p values (1, 2), (2, 1)");
    // A position: `ORDER BY 01` is the first column, `ORDER BY 02` the second.
    assert_eq!(
        q(&mut s, "select a, b from p order by 01"),
        "a|b\n1|2\n2|1\nSELECT 2"
    );
    assert!(!s.has_generic_plan("select a, b from p order by $1"));
    assert_eq!(
        q(&mut s, "select a, b from p order by 02"),
        "a|b\n2|1\n1|2\nSELECT 2"
    );
    // A negative literal is one constant: an integer one is proved equal to the
    // parameter negated, and the plan is reused with the other value.
    assert_eq!(
        q(&mut s, "select v from t where id = -10 + 20"),
        "v\nv10\nSELECT 1"
    );
    assert!(s.has_generic_plan("select v from t where id = -$1 + $2"));
    assert_eq!(
        q(&mut s, "select v from t where id = -11 + 20"),
        "v\nv9\nSELECT 1"
    );
    assert_eq!(
        q(
            &mut s,
            "select v from t where id = -3000000000 + 3000000015"
        ),
        "v\nv15\nSELECT 1"
    );
    assert_eq!(
        q(
            &mut s,
            "select pg_typeof(-12), pg_typeof(-3000000000), -12 + 2"
        ),
        "pg_typeof|pg_typeof|?column?\ninteger|bigint|-10\nSELECT 1"
    );
    assert_eq!(
        q(
            &mut s,
            "select pg_typeof(-13), pg_typeof(-3000000001), -13 + 2"
        ),
        "pg_typeof|pg_typeof|?column?\ninteger|bigint|-11\nSELECT 1"
    );
    // A decimal one is not proved (planned each time), and still right; unsigned, it is.
    assert_eq!(q(&mut s, "select 1.50 + 10 as x"), "x\n11.50\nSELECT 1");
    assert!(s.has_generic_plan("select $1 + $2 as x"));
    assert_eq!(q(&mut s, "select -1.50 + 10 as x"), "x\n8.50\nSELECT 1");
    assert!(!s.has_generic_plan("select -$1 + $2 as x"));
    assert_eq!(q(&mut s, "select -2.25 + 10 as x"), "x\n7.75\nSELECT 1");
    assert_eq!(
        q(&mut s, "select -2147483648 as m, pg_typeof(-2147483648)"),
        "m|pg_typeof\n-2147483648|integer\nSELECT 1"
    );
    // A shape whose plan depends on one literal (a position) falls back to its
    // template, where literals of one character stay: the others are parameters.
    assert_eq!(
        q(&mut s, "select id from t where id >= 28 order by 1"),
        "id\n28\n29\n30\nSELECT 3"
    );
    assert!(!s.has_generic_plan("select id from t where id >= $1 order by $2"));
    assert!(s.has_generic_plan("select id from t where id >= $1 order by 1"));
    assert_eq!(
        q(&mut s, "select id from t where id >= 29 order by 1"),
        "id\n29\n30\nSELECT 2"
    );
    assert_eq!(
        q(&mut s, "select id from t where id >= 28 order by 1 desc"),
        "id\n30\n29\n28\nSELECT 3"
    );
    // LIMIT's value.
    assert_eq!(
        q(
            &mut s,
            "select count(*) from (select id from t order by id limit 10) s"
        ),
        "count\n10\nSELECT 1"
    );
    assert_eq!(
        q(
            &mut s,
            "select count(*) from (select id from t order by id limit 20) s"
        ),
        "count\n20\nSELECT 1"
    );
    // A literal out of a smallint column's range compares, it is not cast.
    q(&mut s, "create table sm (x smallint)");
    q(&mut s, "insert into sm values (10), (20)");
    assert_eq!(
        q(&mut s, "select count(*) from sm where x = 10"),
        "count\n1\nSELECT 1"
    );
    assert_eq!(
        q(&mut s, "select count(*) from sm where x = 100000"),
        "count\n0\nSELECT 1"
    );
    assert_eq!(
        q(&mut s, "select count(*) from sm where x = 20"),
        "count\n1\nSELECT 1"
    );
    assert_eq!(
        q(&mut s, "insert into sm values (100000)"),
        "ERROR 22003: smallint out of range @24"
    );
}

#[test]
fn ddl_invalidates_the_generic_plan() {
    let d = db("generic-ddl");
    let mut s = session(&d.engine, "postgres");
    accounts(&mut s);
    // int + int overflows while id is an integer ...
    assert_eq!(
        q(&mut s, "select id + 2147483640 from t where id = 10"),
        "ERROR 22003: integer out of range"
    );
    assert_eq!(
        q(&mut s, "select id + 2147483640 from t where id = 11"),
        "ERROR 22003: integer out of range"
    );
    assert!(s.has_generic_plan("select id + $1 from t where id = $2"));
    // ... and not once it is a bigint.
    assert_eq!(
        q(&mut s, "alter table t alter column id type bigint"),
        "ALTER TABLE"
    );
    assert_eq!(
        q(&mut s, "select id + 2147483640 from t where id = 12"),
        "?column?\n2147483652\nSELECT 1"
    );
    // An index, then a renamed column, then no table at all.
    assert_eq!(
        q(&mut s, "select v from t where id = 13"),
        "v\nv13\nSELECT 1"
    );
    q(&mut s, "create index t_v on t (v)");
    assert_eq!(
        q(&mut s, "select v from t where id = 14"),
        "v\nv14\nSELECT 1"
    );
    q(&mut s, "drop index t_v");
    q(&mut s, "alter table t rename column v to w");
    assert_eq!(
        q(&mut s, "select v from t where id = 15"),
        "ERROR 42703: column \"v\" does not exist @8"
    );
    q(&mut s, "drop table t");
    assert_eq!(
        q(&mut s, "select w from t where id = 16"),
        "ERROR 42P01: relation \"t\" does not exist @15"
    );
}

#[test]
fn search_path_and_privileges_invalidate_the_generic_plan() {
    let d = db("generic-path");
    let mut s = session(&d.engine, "postgres");
    q(&mut s, "create schema a");
    q(&mut s, "create schema b");
    q(&mut s, "create table a.u (id int, v text)");
    q(&mut s, "create table b.u (id int, v text)");
    q(&mut s, "insert into a.u values (10, 'in a'), (11, 'in a')");
    q(&mut s, "insert into b.u values (10, 'in b'), (11, 'in b')");
    q(&mut s, "set search_path = a");
    assert_eq!(
        q(&mut s, "select v from u where id = 10"),
        "v\nin a\nSELECT 1"
    );
    assert_eq!(
        q(&mut s, "select v from u where id = 11"),
        "v\nin a\nSELECT 1"
    );
    q(&mut s, "set search_path = b");
    assert_eq!(
        q(&mut s, "select v from u where id = 10"),
        "v\nin b\nSELECT 1"
    );
    // A table that shadows it in an earlier schema of the path.
    q(&mut s, "set search_path = a, b");
    assert_eq!(
        q(&mut s, "select v from u where id = 11"),
        "v\nin a\nSELECT 1"
    );
    q(&mut s, "drop table a.u");
    assert_eq!(
        q(&mut s, "select v from u where id = 11"),
        "v\nin b\nSELECT 1"
    );

    q(&mut s, "create role bob login");
    q(&mut s, "grant usage on schema b to bob");
    q(&mut s, "grant select on b.u to bob");
    let mut bob = session(&d.engine, "bob");
    q(&mut bob, "set search_path = b");
    assert_eq!(
        q(&mut bob, "select v from u where id = 10"),
        "v\nin b\nSELECT 1"
    );
    assert_eq!(
        q(&mut bob, "select v from u where id = 11"),
        "v\nin b\nSELECT 1"
    );
    assert!(bob.has_generic_plan("select v from u where id = $1"));
    q(&mut s, "revoke select on b.u from bob");
    assert_eq!(
        q(&mut bob, "select v from u where id = 10"),
        "ERROR 42501: permission denied for table u"
    );
    q(&mut s, "grant select on b.u to bob");
    assert_eq!(
        q(&mut bob, "select v from u where id = 10"),
        "v\nin b\nSELECT 1"
    );
    // The same session as another role: that role's privileges.
    q(&mut s, "create role carol");
    q(&mut s, "set role carol");
    assert!(q(&mut s, "select v from b.u where id = 10")
        .starts_with("ERROR 42501: permission denied for schema b"));
    q(&mut s, "reset role");
    assert_eq!(
        q(&mut s, "select v from b.u where id = 11"),
        "v\nin b\nSELECT 1"
    );
}
