//! Tests of the join algorithms ([`super::join`]): the hash join and the index nested
//! loop give exactly the nested loop's rows over random data (NULLs, mixed integer
//! widths, numerics), and a join of two 20 000-row tables looks at few inner rows.

use super::join::take_inner_rows_visited;
use super::tests::{db, q, session};

/// The result lines of a query, sorted (the row order of a join is not specified).
fn sorted(s: &mut super::Session, sql: &str) -> Vec<String> {
    let out = q(s, sql);
    assert!(!out.contains("ERROR"), "{sql}: {out}");
    let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

#[test]
fn fast_joins_give_the_nested_loops_rows() {
    let d = db("join-differential");
    let mut s = session(&d.engine, "postgres");
    q(
        &mut s,
        "create table a (id int primary key, k int, s smallint, n numeric, t text); \
         create table b (id bigint primary key, k bigint, n numeric(8,2), t varchar(5)); \
         create index b_k on b (k); \
         create table c (k int, n numeric)",
    );
    // A small linear congruential generator: deterministic, no dependency.
    let mut seed: u64 = 0x5eed;
    let mut next = |m: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % m
    };
    let mut val = |m: u64, nulls: bool| -> String {
        if nulls && next(5) == 0 {
            "NULL".into()
        } else if m == 0 {
            // A numeric with a fractional part of 0 or 5.
            format!("{}.{}", next(8), if next(2) == 0 { "0" } else { "5" })
        } else {
            next(m).to_string()
        }
    };
    for i in 0..120 {
        let sql = format!(
            "insert into a values ({i}, {}, {}, {}, {}); \
             insert into b values ({}, {}, {}, {}); \
             insert into c values ({}, {})",
            val(15, true),
            val(15, true),
            val(0, true),
            match val(6, true).as_str() {
                "NULL" => "NULL".to_string(),
                v => format!("'t{v}'"),
            },
            i * 2,
            val(15, true),
            val(8, true),
            match val(6, true).as_str() {
                "NULL" => "NULL".to_string(),
                v => format!("'t{v}'"),
            },
            val(15, true),
            val(8, true),
        );
        let out = q(&mut s, &sql);
        assert!(!out.contains("ERROR"), "{sql}: {out}");
    }
    // Each fast join next to the same join written so that only the nested loop can
    // run it (`(x = y) IS TRUE` is no equality conjunct).
    let cases = [
        ("a join b on a.k = b.k", "a join b on (a.k = b.k) is true"),
        (
            "a left join b on a.k = b.k",
            "a left join b on (a.k = b.k) is true",
        ),
        (
            "a join b on b.id = a.id",
            "a join b on (b.id = a.id) is true",
        ),
        (
            "a left join b on a.s = b.id",
            "a left join b on (a.s = b.id) is true",
        ),
        ("a join c on a.k = c.k", "a join c on (a.k = c.k) is true"),
        (
            "a left join c on c.k = a.s",
            "a left join c on (c.k = a.s) is true",
        ),
        ("a join b on a.n = b.n", "a join b on (a.n = b.n) is true"),
        (
            "a left join c on a.n = c.n",
            "a left join c on (a.n = c.n) is true",
        ),
        ("a join c on a.n = c.k", "a join c on (a.n = c.k) is true"),
        (
            "a left join b on a.t = b.t",
            "a left join b on (a.t = b.t) is true",
        ),
        (
            "a left join b on a.k = b.k and a.n > b.n",
            "a left join b on (a.k = b.k) is true and a.n > b.n",
        ),
        (
            "a join b on a.k = b.k and a.s = b.n",
            "a join b on (a.k = b.k and a.s = b.n) is true",
        ),
        (
            "a, b, c where a.k = b.k and c.k = b.k",
            "a, b, c where (a.k = b.k and c.k = b.k) is true",
        ),
        (
            "a left join b on a.id = b.id join c on c.k = a.k",
            "a left join b on (a.id = b.id) is true join c on (c.k = a.k) is true",
        ),
    ];
    for (fast, slow) in cases {
        let f = sorted(&mut s, &format!("select * from {fast}"));
        let n = sorted(&mut s, &format!("select * from {slow}"));
        assert_eq!(f, n, "{fast}");
        assert!(f.len() > 2, "{fast}: too few rows to prove anything");
    }
}

#[test]
fn a_join_of_two_large_tables_visits_few_inner_rows() {
    let d = db("join-large");
    let mut s = session(&d.engine, "postgres");
    let out = q(
        &mut s,
        "create table l (id int primary key, k int); \
         create table r (id bigint primary key, k bigint); \
         create table h (k int, v int); \
         insert into l select g, g % 1000 from generate_series(1, 20000) g; \
         insert into r select g, g from generate_series(1, 20000) g; \
         insert into h select g, g from generate_series(1, 20000) g",
    );
    assert!(!out.contains("ERROR"), "{out}");
    take_inner_rows_visited();
    // Index nested loop through r's primary key.
    assert_eq!(
        q(&mut s, "select count(*) from l join r on r.id = l.id"),
        "count\n20000\nSELECT 1"
    );
    let visited = take_inner_rows_visited();
    assert!(visited <= 20_000, "index nested loop visited {visited}");
    // Hash join (h has no index).
    assert_eq!(
        q(&mut s, "select count(*) from l, h where l.id = h.k"),
        "count\n20000\nSELECT 1"
    );
    let visited = take_inner_rows_visited();
    assert!(visited <= 20_000, "hash join visited {visited}");
    // LEFT JOIN with matches only for l.k between 1 and 999.
    assert_eq!(
        q(
            &mut s,
            "select count(*), count(h.v) from l left join h on h.v = l.k"
        ),
        "count|count\n20000|19980\nSELECT 1"
    );
    assert!(take_inner_rows_visited() <= 20_000);
}

#[test]
fn explain_shows_the_join_algorithm_the_executor_runs() {
    let d = db("join-explain");
    let mut s = session(&d.engine, "postgres");
    q(
        &mut s,
        "create table p (id int primary key, k int); \
         create table h (k int, v int); \
         insert into p values (1, 1), (2, 2); insert into h values (1, 1)",
    );
    assert_eq!(
        q(
            &mut s,
            "explain (costs off) select * from h join p on p.id = h.k"
        ),
        "QUERY PLAN\nNested Loop\n  ->  Seq Scan on h\n  ->  Index Scan using p_pkey on p\
         \n        Index Cond: (p.id = h.k)\nEXPLAIN"
    );
    assert_eq!(
        q(
            &mut s,
            "explain (costs off) select * from p left join h on h.k = p.k and h.v > 0"
        ),
        "QUERY PLAN\nHash Left Join\n  Hash Cond: (h.k = p.k)\n  Join Filter: (h.v > 0)\
         \n  ->  Seq Scan on p\n  ->  Hash\n        ->  Seq Scan on h\nEXPLAIN"
    );
    assert_eq!(
        q(
            &mut s,
            "explain (costs off) select * from p, h where p.k < h.v"
        ),
        "QUERY PLAN\nNested Loop\n  Filter: (p.k < h.v)\n  ->  Seq Scan on p\
         \n  ->  Seq Scan on h\nEXPLAIN"
    );
    // ANALYZE runs the statement (a write too); plain EXPLAIN does not.
    q(&mut s, "explain delete from h");
    assert_eq!(q(&mut s, "select count(*) from h"), "count\n1\nSELECT 1");
    let out = q(&mut s, "explain analyze delete from h");
    assert!(out.contains("(actual time="), "{out}");
    assert!(out.contains("Execution Time:"), "{out}");
    assert_eq!(q(&mut s, "select count(*) from h"), "count\n0\nSELECT 1");
    let out = q(
        &mut s,
        "explain (analyze, costs off, timing off) select * from p",
    );
    assert!(
        out.starts_with("QUERY PLAN\nSeq Scan on p  (actual rows=2 loops=1)"),
        "{out}"
    );
}
