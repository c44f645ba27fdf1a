//! Tests of EXPLAIN's FORMAT JSON ([`super`]): the documents PostgreSQL 15 prints for
//! the same plans (compared with a real server when written), EXPLAIN EXECUTE of a
//! prepared statement, and the result column's type.

use crate::sql::tests::{db, first_column, session};
use crate::sql::ExecResult;
use crate::types::oid;

fn setup(name: &str) -> (crate::sql::tests::Db, crate::sql::Session) {
    let d = db(name);
    let mut s = session(&d.engine, "postgres");
    first_column(
        &mut s,
        "create table ej_a (id int primary key, t text); \
         create table ej_b (id int primary key, a_id int not null); \
         insert into ej_a select g, 'x' from generate_series(1, 1000) g; \
         insert into ej_b values (1, 1)",
    );
    (d, s)
}

#[test]
fn json_plans_are_postgresqls() {
    let (_d, mut s) = setup("explain-json");
    assert_eq!(
        first_column(&mut s, "explain (format json, costs off) select 1"),
        "[\n  {\n    \"Plan\": {\n      \"Node Type\": \"Result\",\n      \
         \"Parallel Aware\": false,\n      \"Async Capable\": false\n    }\n  }\n]"
    );
    assert_eq!(
        first_column(
            &mut s,
            "explain (format json, costs off, verbose) select id, t from ej_a where id = 1"
        ),
        r#"[
  {
    "Plan": {
      "Node Type": "Index Scan",
      "Parallel Aware": false,
      "Async Capable": false,
      "Scan Direction": "Forward",
      "Index Name": "ej_a_pkey",
      "Relation Name": "ej_a",
      "Schema": "public",
      "Alias": "ej_a",
      "Output": ["id", "t"],
      "Index Cond": "(ej_a.id = 1)"
    }
  }
]"#
    );
    assert_eq!(
        first_column(
            &mut s,
            "explain (format json, costs off) update ej_a set t = 'z' where id = 2"
        ),
        r#"[
  {
    "Plan": {
      "Node Type": "ModifyTable",
      "Operation": "Update",
      "Parallel Aware": false,
      "Async Capable": false,
      "Relation Name": "ej_a",
      "Alias": "ej_a",
      "Plans": [
        {
          "Node Type": "Index Scan",
          "Parent Relationship": "Outer",
          "Parallel Aware": false,
          "Async Capable": false,
          "Scan Direction": "Forward",
          "Index Name": "ej_a_pkey",
          "Relation Name": "ej_a",
          "Alias": "ej_a",
          "Index Cond": "(id = 2)"
        }
      ]
    }
  }
]"#
    );
    assert_eq!(
        first_column(
            &mut s,
            "explain (format json, costs off) select t from ej_a order by t"
        ),
        r#"[
  {
    "Plan": {
      "Node Type": "Sort",
      "Parallel Aware": false,
      "Async Capable": false,
      "Sort Key": ["t"],
      "Plans": [
        {
          "Node Type": "Seq Scan",
          "Parent Relationship": "Outer",
          "Parallel Aware": false,
          "Async Capable": false,
          "Relation Name": "ej_a",
          "Alias": "ej_a"
        }
      ]
    }
  }
]"#
    );
    // ANALYZE: the actual figures of the top node and the summary keys.
    assert_eq!(
        first_column(
            &mut s,
            "explain (format json, analyze, costs off, timing off, summary off) select * from ej_b"
        ),
        r#"[
  {
    "Plan": {
      "Node Type": "Seq Scan",
      "Parallel Aware": false,
      "Async Capable": false,
      "Relation Name": "ej_b",
      "Alias": "ej_b",
      "Actual Rows": 1,
      "Actual Loops": 1
    },
    "Triggers": [
    ]
  }
]"#
    );
}

#[test]
fn json_plans_are_json_and_typed_json() {
    let (_d, mut s) = setup("explain-json-typed");
    let sql = "explain (format json, verbose) select a.id, b.a_id from ej_a a \
               left join ej_b b on b.a_id = a.id order by a.id limit 3";
    let doc = first_column(&mut s, sql);
    let parsed = crate::types::json::parse_jsonb(&doc).expect("valid JSON");
    let text = crate::types::json::to_text(&parsed);
    // The join's type and its inner side's output, which sqlx reads for nullability.
    assert!(text.contains(r#""Join Type": "Left""#), "{doc}");
    assert!(text.contains(r#""Parent Relationship": "Inner""#), "{doc}");
    assert!(
        text.contains(r#""Output": ["ej_a.id", "ej_b.a_id"]"#),
        "{doc}"
    );
    assert!(text.contains(r#""Total Cost": "#), "{doc}");
    match s.simple_query(sql).pop() {
        Some(Ok(ExecResult::Rows { fields, rows, .. })) => {
            assert_eq!(fields.len(), 1);
            assert_eq!(fields[0].name, "QUERY PLAN");
            assert_eq!(fields[0].type_oid, oid::JSON);
            assert_eq!(rows.len(), 1);
        }
        other => panic!("{other:?}"),
    }
    // TEXT stays text.
    match s.simple_query("explain (format text) select 1").pop() {
        Some(Ok(ExecResult::Rows { fields, .. })) => assert_eq!(fields[0].type_oid, oid::TEXT),
        other => panic!("{other:?}"),
    }
}

#[test]
fn explain_execute_explains_the_prepared_statement() {
    let (_d, mut s) = setup("explain-execute");
    first_column(
        &mut s,
        "prepare ej_q(int) as select t from ej_a where id > $1",
    );
    assert_eq!(
        first_column(
            &mut s,
            "explain (format json, costs off, verbose) execute ej_q(null)"
        ),
        r#"[
  {
    "Plan": {
      "Node Type": "Index Scan",
      "Parallel Aware": false,
      "Async Capable": false,
      "Scan Direction": "Forward",
      "Index Name": "ej_a_pkey",
      "Relation Name": "ej_a",
      "Schema": "public",
      "Alias": "ej_a",
      "Output": ["t"],
      "Index Cond": "(ej_a.id > $1)"
    }
  }
]"#
    );
    // With ANALYZE the statement runs with the parameters given.
    let out = first_column(
        &mut s,
        "explain (analyze, costs off, timing off, summary off) execute ej_q(998)",
    );
    assert!(out.contains("(actual rows=2 loops=1)"), "{out}");
    // The same EXPLAIN text after the statement was prepared again explains the new one.
    first_column(&mut s, "deallocate ej_q");
    first_column(
        &mut s,
        "prepare ej_q(int) as select id from ej_b where a_id = $1",
    );
    let out = first_column(
        &mut s,
        "explain (analyze, costs off, timing off, summary off) execute ej_q(998)",
    );
    assert!(out.starts_with("Seq Scan on ej_b"), "{out}");
    assert_eq!(
        first_column(&mut s, "explain execute ej_nonesuch"),
        "ERROR 26000: prepared statement \"ej_nonesuch\" does not exist"
    );
    assert_eq!(
        first_column(&mut s, "explain execute ej_q(1, 2)"),
        "ERROR 42601: wrong number of parameters for prepared statement \"ej_q\""
    );
}

#[test]
fn verbose_text_shows_outputs_and_schemas() {
    let (_d, mut s) = setup("explain-verbose-text");
    let lines = |s: &mut crate::sql::Session, sql: &str| -> Vec<String> {
        match s.simple_query(sql).pop() {
            Some(Ok(ExecResult::Rows { rows, .. })) => rows
                .iter()
                .map(|r| {
                    s.encode_value(&r[0], 0)
                        .map(|b| String::from_utf8(b).unwrap())
                        .unwrap_or_default()
                })
                .collect(),
            other => panic!("{other:?}"),
        }
    };
    // PostgreSQL 15's lines for the same statements.
    assert_eq!(
        lines(
            &mut s,
            "explain (verbose, costs off) select id, t from ej_a where id = 1"
        ),
        [
            "Index Scan using ej_a_pkey on public.ej_a",
            "  Output: id, t",
            "  Index Cond: (ej_a.id = 1)"
        ]
    );
    assert_eq!(
        lines(
            &mut s,
            "explain (verbose, costs off) select count(*) from ej_a"
        ),
        [
            "Aggregate",
            "  Output: count(*)",
            "  ->  Seq Scan on public.ej_a",
            "        Output: id, t"
        ]
    );
    assert_eq!(
        lines(
            &mut s,
            "explain (verbose, costs off) delete from ej_b where a_id = 5"
        )[0],
        "Delete on public.ej_b"
    );
}
