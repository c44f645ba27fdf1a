//! Tests of `sql::alter`: what the slt runner cannot show — the changes replayed after
//! a crash and kept by a checkpoint image (the dropped-column flag is part of the
//! logged definition), an uncommitted DROP COLUMN gone after the crash, COPY in and
//! out of a table with a dropped column, NOTICE and DETAIL texts, and the rewriting
//! of view text on renames.

use super::super::tests::{db, q, reopen, session};
use super::{qualifiers, rename_words};
use crate::sql::Session;

/// The notices the last statement sent, as `message / detail` lines.
fn notices(s: &mut Session, sql: &str) -> Vec<String> {
    let r = s.simple_query(sql);
    assert!(r.iter().all(|x| x.is_ok()), "{sql}: {r:?}");
    s.take_notices()
        .into_iter()
        .map(|n| format!("{} / {}", n.message, n.detail.unwrap_or_default()))
        .collect()
}

#[test]
fn altered_tables_survive_a_crash_and_a_checkpoint() {
    let d = db("altercrash2");
    {
        let mut s = session(&d.engine, "postgres");
        q(&mut s, "create table p (id int primary key, b int unique, c text, d int check (d > 0), e int, s serial)");
        q(
            &mut s,
            "create table ch (x int references p (id), y int references p (b))",
        );
        q(
            &mut s,
            "insert into p (id, b, c, d, e) values (1, 10, '12', 3, 100), (2, 20, '345', 4, 200)",
        );
        q(&mut s, "comment on column p.b is 'gone soon'");
        q(&mut s, "create view pv as select id, d from p");
        q(&mut s, "checkpoint");
        // After the checkpoint: only the WAL has these.
        q(&mut s, "alter table p drop column b cascade, drop column s");
        q(
            &mut s,
            "alter table p alter column c type int using length(c), alter column e set default 70",
        );
        q(&mut s, "alter table p add column f text not null default 'f', add constraint e_big check (e > 50)");
        q(
            &mut s,
            "alter table p rename constraint p_d_check to d_positive, alter column e set not null",
        );
        // Never committed: must not come back.
        q(&mut s, "begin; alter table p drop column e");
        std::mem::forget(s);
    }
    let e = reopen(&d.dir);
    let check = |s: &mut Session| {
        assert_eq!(
            q(s, "select * from p order by id"),
            "id|c|d|e|f\n1|2|3|100|f\n2|3|4|200|f\nSELECT 2"
        );
        assert_eq!(
            q(s, "insert into p values (3, 1, 1, 60, 'g')"),
            "INSERT 0 1"
        );
        assert_eq!(
            q(s, "insert into p (id, d) values (4, 1) returning *"),
            "id|c|d|e|f\n4|NULL|1|70|f\nINSERT 0 1"
        );
        assert!(q(s, "insert into p (id, d) values (5, 0)").starts_with(
            "ERROR 23514: new row for relation \"p\" violates check constraint \"d_positive\""
        ));
        assert!(
            q(s, "insert into p (id, d, e) values (5, 1, 1)").starts_with(
                "ERROR 23514: new row for relation \"p\" violates check constraint \"e_big\""
            )
        );
        assert!(q(s, "insert into p (id, d, e) values (5, 1, null)").starts_with("ERROR 23502"));
        assert!(q(s, "insert into p (id, d) values (1, 1)").starts_with("ERROR 23505"));
        assert!(q(s, "select d + 1 from pv where id = 2").ends_with("5\nSELECT 1"));
        // ch.y's foreign key went with b; ch.x's stays.
        assert_eq!(q(s, "insert into ch values (1, 999)"), "INSERT 0 1");
        assert!(q(s, "insert into ch values (9, 1)").starts_with("ERROR 23503"));
        assert!(q(s, "select nextval('p_s_seq')").starts_with("ERROR 42P01"));
        q(s, "delete from ch; delete from p where id > 2");
    };
    let mut s = session(&e, "postgres");
    check(&mut s);
    // The checkpoint image now holds the dropped columns; read it back.
    q(&mut s, "checkpoint");
    std::mem::forget(s);
    drop(e);
    let e2 = reopen(&d.dir);
    let mut s = session(&e2, "postgres");
    check(&mut s);
    // The comment on b went with it; a new column at a new position has none.
    q(&mut s, "alter table p add column b int");
    assert_eq!(
        q(&mut s, "select b from p where id = 1"),
        "b\nNULL\nSELECT 1"
    );
}

#[test]
fn copy_skips_dropped_columns() {
    let d = db("altercopy");
    let mut s = session(&d.engine, "postgres");
    q(&mut s, "create table t (a int, b text, c int)");
    q(&mut s, "insert into t values (1, 'x', 10)");
    q(&mut s, "alter table t drop column b");
    assert_eq!(q(&mut s, "copy t to stdout"), "1\t10\nCOPY 1");
    assert_eq!(q(&mut s, "copy t from stdin"), "COPY IN 2");
    s.copy_data(b"2\t20\n\\.\n").unwrap();
    s.copy_done().unwrap();
    assert_eq!(
        q(&mut s, "select * from t order by a"),
        "a|c\n1|10\n2|20\nSELECT 2"
    );
    assert!(q(&mut s, "copy t (b) from stdin")
        .starts_with("ERROR 42703: column \"b\" of relation \"t\" does not exist"));
}

#[test]
fn notices_and_details_are_postgres() {
    let d = db("altermsg");
    let mut s = session(&d.engine, "postgres");
    q(&mut s, "create table p (a int primary key, b int, c int)");
    q(&mut s, "create table ch (x int references p)");
    q(&mut s, "create view v as select a, b from p");
    q(&mut s, "create view v2 as select * from v");
    assert_eq!(
        q(&mut s, "alter table p drop column a"),
        "ERROR 2BP01: cannot drop column a of table p because other objects depend on it DETAIL constraint ch_x_fkey on table ch depends on column a of table p\nview v depends on column a of table p\nview v2 depends on view v"
    );
    assert_eq!(
        notices(&mut s, "alter table p drop column a cascade"),
        ["drop cascades to 3 other objects / drop cascades to constraint ch_x_fkey on table ch\ndrop cascades to view v\ndrop cascades to view v2"]
    );
    assert_eq!(
        notices(&mut s, "alter table p drop column if exists a"),
        ["column \"a\" of relation \"p\" does not exist, skipping / "]
    );
    q(&mut s, "create view w as select b from p");
    assert_eq!(
        q(&mut s, "alter table p alter column b type bigint"),
        "ERROR 0A000: cannot alter type of a column used by a view or rule DETAIL rule _RETURN on view w depends on column \"b\""
    );
    assert_eq!(
        q(&mut s, "alter table p alter column b type date"),
        "ERROR 0A000: cannot alter type of a column used by a view or rule DETAIL rule _RETURN on view w depends on column \"b\""
    );
    q(&mut s, "drop view w; create table tx (t text)");
    let e = s.simple_query("alter table tx alter column t type numeric(5,2)");
    let e = e[0].as_ref().unwrap_err();
    assert_eq!(
        (e.message.as_str(), e.hint.as_deref()),
        (
            "column \"t\" cannot be cast automatically to type numeric",
            Some("You might need to specify \"USING t::numeric(5,2)\".")
        )
    );
}

#[test]
fn renames_rewrite_only_the_names_that_mean_the_table() {
    let text = "/*tusk search_path:2200*/ SELECT r.a, u.a AS ua, 'a' AS lit, \"a\"\nFROM r AS x JOIN u ON x.a = u.a WHERE a > 0";
    let q = qualifiers(text, "r");
    assert_eq!(q, ["r", "x"]);
    assert_eq!(
        rename_words(text, "a", "new col", Some(&q)),
        "/*tusk search_path:2200*/ SELECT r.\"new col\", u.a AS ua, 'a' AS lit, \"new col\"\nFROM r AS x JOIN u ON x.\"new col\" = u.a WHERE \"new col\" > 0"
    );
    assert_eq!(
        rename_words("select it's from r", "r", "s", None),
        "select it's from r"
    );
    assert_eq!(
        rename_words("select 'it''s', r.b from r", "r", "s", None),
        "select 'it''s', s.b from s"
    );
}

#[test]
fn add_primary_key_finds_repeated_keys_in_any_order() {
    let d = db("alterpk");
    let mut s = session(&d.engine, "postgres");
    q(&mut s, "create table t (a int, b int)");
    q(
        &mut s,
        "insert into t values (5, 1), (3, 2), (9, 3), (3, 4)",
    );
    assert_eq!(
        q(&mut s, "alter table t add primary key (a)"),
        "ERROR 23505: could not create unique index \"t_pkey\" DETAIL Key (a)=(3) is duplicated."
    );
    // A deleted version (not vacuumed yet) is no duplicate.
    q(&mut s, "delete from t where b = 4");
    assert_eq!(
        q(&mut s, "alter table t add primary key (a)"),
        "ALTER TABLE"
    );
    assert_eq!(
        q(&mut s, "insert into t values (9, 5)"),
        "ERROR 23505: duplicate key value violates unique constraint \"t_pkey\" DETAIL Key (a)=(9) already exists."
    );
    // Numerics equal in value are one key.
    q(&mut s, "create table n (x numeric)");
    q(&mut s, "insert into n values (2), (1.0), (1.00)");
    let e = q(&mut s, "alter table n add primary key (x)");
    assert!(
        e.starts_with("ERROR 23505: could not create unique index \"n_pkey\" DETAIL Key (x)=(1.0"),
        "{e}"
    );
    q(&mut s, "create table u (a int, b int)");
    q(&mut s, "insert into u values (1, 1), (null, 2)");
    assert_eq!(
        q(&mut s, "alter table u add primary key (b, a)"),
        "ERROR 23502: column \"a\" of relation \"u\" contains null values"
    );
    // A key column already NOT NULL (no NULL scan); the duplicate found in the index
    // just built undoes the definition with the savepoint, and the table takes
    // repeated keys again.
    q(&mut s, "create table v (a int not null, b int)");
    q(
        &mut s,
        "insert into v select g % 1000, g from generate_series(1, 3000) g",
    );
    q(&mut s, "begin");
    q(&mut s, "savepoint s");
    let e = q(&mut s, "alter table v add primary key (a)");
    assert!(
        e.starts_with("ERROR 23505: could not create unique index \"v_pkey\" DETAIL Key (a)=("),
        "{e}"
    );
    q(&mut s, "rollback to savepoint s");
    assert_eq!(q(&mut s, "insert into v values (1, 0)"), "INSERT 0 1");
    q(&mut s, "delete from v where b > 1000 or b = 0");
    assert_eq!(
        q(&mut s, "alter table v add primary key (a)"),
        "ALTER TABLE"
    );
    q(&mut s, "commit");
    assert_eq!(
        q(&mut s, "insert into v values (7, 0)"),
        "ERROR 23505: duplicate key value violates unique constraint \"v_pkey\" DETAIL Key (a)=(7) already exists."
    );
}

#[test]
fn copy_evaluates_defaults_of_columns_not_copied_only() {
    let d = db("copydefaults");
    let mut s = session(&d.engine, "postgres");
    q(&mut s, "create table t (id serial, v int)");
    q(&mut s, "copy t (id, v) from stdin");
    s.copy_data(b"10\t1\n20\t2\n").unwrap();
    s.copy_done().unwrap();
    q(&mut s, "copy t (v) from stdin");
    s.copy_data(b"3\n").unwrap();
    s.copy_done().unwrap();
    // The copied ids took no sequence values: the first default is 1.
    assert_eq!(
        q(&mut s, "select id, v from t order by v"),
        "id|v\n10|1\n20|2\n1|3\nSELECT 3"
    );
}
