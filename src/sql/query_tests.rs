//! Tests of the query features whose behaviour cannot live in `sql-tests/*.slt`
//! because PostgreSQL answers differently: what tusk refuses with 0A000 (WITH
//! ORDINALITY, TABLESAMPLE) and how an endless recursive CTE is stopped.

use super::tests::{db, session};
use super::ExecResult;

fn error_code(s: &mut super::Session, sql: &str) -> Option<String> {
    s.simple_query(sql)
        .into_iter()
        .find_map(|r| r.err())
        .map(|e| format!("{}: {}", e.code, e.message))
}

#[test]
fn unimplemented_query_features_are_refused_not_ignored() {
    let d = db("query-refusals");
    let mut s = session(&d.engine, "postgres");
    super::tests::q(&mut s, "create table t_unread (x int)");
    for sql in [
        "select * from generate_series(1,3) with ordinality",
        // A data-modifying CTE nothing reads, under a data-modifying statement.
        "with x as (insert into t_unread values (1)) insert into t_unread values (2)",
        "select * from pg_settings tablesample bernoulli(0)",
        // An aggregate over an enclosing query's columns belongs to that query.
        "select (select sum(a.x) from generate_series(1,2) g) from (select 1 as x) a",
        "select * from (select 1 as x) a, lateral (select count(*) filter (where a.x > 0)) s",
        // A parenthesized join mixing lateral items and plain subqueries.
        "select * from (select 1 as x) a join ((select 2 as y) b cross join \
         generate_series(1, a.x) g) on true",
    ] {
        let e = error_code(&mut s, sql).unwrap_or_default();
        assert!(e.starts_with("0A000: "), "{sql}: {e}");
    }
}

#[test]
fn an_endless_recursive_cte_stops_at_statement_timeout() {
    let d = db("query-recursion");
    let mut s = session(&d.engine, "postgres");
    assert!(error_code(&mut s, "set statement_timeout = 300").is_none());
    let e = error_code(
        &mut s,
        "with recursive t(n) as (select 1 union all select n + 1 from t) select count(*) from t",
    )
    .unwrap_or_default();
    assert!(e.starts_with("57014: "), "{e}");
    // The session still works.
    let r = s.simple_query("select 1");
    assert!(matches!(r.first(), Some(Ok(ExecResult::Rows { .. }))));
}

#[test]
fn explain_shows_a_lateral_item_under_a_nested_loop() {
    // PostgreSQL pulls simple LATERAL subqueries up into ordinary joins, so this plan
    // shape is tusk's own and cannot live in an .slt file.
    let d = db("query-lateral-explain");
    let mut s = session(&d.engine, "postgres");
    super::tests::q(
        &mut s,
        "create table a (id int, n int); create table b (id int, v int)",
    );
    let out = super::tests::q(
        &mut s,
        "explain (costs off) select a.id, s.v from a left join lateral \
         (select v from b where b.id = a.id) s on s.v > 1",
    );
    assert!(out.contains("Nested Loop Left Join"), "{out}");
    assert!(out.contains("Join Filter: (v > 1)"), "{out}");
    assert!(out.contains("Seq Scan on a"), "{out}");
    assert!(out.contains("Seq Scan on b"), "{out}");
    let out = super::tests::q(
        &mut s,
        "explain (costs off) select a.id, g from a, generate_series(1, a.n) g",
    );
    assert!(out.contains("Nested Loop\n"), "{out}");
    assert!(out.contains("Function Scan on generate_series"), "{out}");
}

#[test]
fn value_lists_and_key_ranges_use_the_primary_key_or_an_index() {
    // PostgreSQL picks a sequential scan for a small table where tusk always looks
    // the values up, so the plan shape cannot live in an .slt file.
    let d = db("query-index-lists");
    let mut s = session(&d.engine, "postgres");
    super::tests::q(
        &mut s,
        "create table t (id int primary key, a int); create index t_a on t (a)",
    );
    for (sql, index, cond) in [
        ("id in (1, 2)", "t_pkey", "(id IN (1, 2))"),
        (
            "id = any(array[1, 2])",
            "t_pkey",
            "(id = ANY (ARRAY[1, 2]))",
        ),
        ("id = 1 or id = 3", "t_pkey", "((id = 1) OR (id = 3))"),
        ("id between 1 and 9", "t_pkey", "((id >= 1) AND (id <= 9))"),
        ("id > 5", "t_pkey", "(id > 5)"),
        ("a in (3, 4)", "t_a", "(a IN (3, 4))"),
    ] {
        let out = super::tests::q(
            &mut s,
            &format!("explain (costs off) select * from t where {sql}"),
        );
        assert!(
            out.contains(&format!("Index Scan using {index} on t")),
            "{sql}: {out}"
        );
        assert!(out.contains(&format!("Index Cond: {cond}")), "{sql}: {out}");
    }
    // Two columns ORed, or a negated list: no lookup can answer.
    for sql in ["id = 1 or a = 2", "id not in (1, 2)"] {
        let out = super::tests::q(
            &mut s,
            &format!("explain (costs off) select * from t where {sql}"),
        );
        assert!(out.contains("Seq Scan on t"), "{sql}: {out}");
    }
}

#[test]
fn order_by_an_indexed_column_with_limit_reads_the_index() {
    let d = db("query-ordered-index");
    let mut s = session(&d.engine, "postgres");
    super::tests::q(
        &mut s,
        "create table t (id int primary key, a int, b text); create index t_a on t (a); \
         create index t_b on t (b)",
    );
    let plan = |s: &mut super::Session, sql: &str| {
        super::tests::q(s, &format!("explain (costs off) {sql}"))
    };
    let out = plan(&mut s, "select * from t order by id limit 5");
    assert!(out.contains("Index Scan using t_pkey on t"), "{out}");
    assert!(!out.contains("Sort"), "{out}");
    let out = plan(
        &mut s,
        "select * from t where b = 'x' order by a desc limit 5",
    );
    assert!(out.contains("Index Scan Backward using t_a on t"), "{out}");
    // Not in index order: a text key, NULLS FIRST ascending, two keys, no LIMIT.
    for sql in [
        "select * from t order by b limit 5",
        "select * from t order by a nulls first limit 5",
        "select * from t order by a, id limit 5",
        "select * from t order by id",
    ] {
        let out = plan(&mut s, sql);
        assert!(out.contains("Sort"), "{sql}: {out}");
    }
}
