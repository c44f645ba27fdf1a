//! Tests of the bytea, uuid, json and jsonb types through the whole stack: values in
//! rows survive a checkpoint and crash recovery, and travel in the binary format.

use super::tests::{db, q, session};
use crate::storage::{Engine, EngineOptions};

#[test]
fn new_types_survive_checkpoint_and_crash() {
    let d = db("types-restart");
    {
        let mut s = session(&d.engine, "postgres");
        q(
            &mut s,
            "create table t (id uuid primary key, b bytea, j json, jb jsonb)",
        );
        q(
            &mut s,
            r#"insert into t values ('11111111-1111-1111-1111-111111111111', '\x00ff', '{"b":1,  "a":[1,2]}', '{"b": 1.50, "a": [true, null]}')"#,
        );
        q(&mut s, "checkpoint");
        q(
            &mut s,
            r#"insert into t values ('22222222-2222-2222-2222-222222222222', 'x', '[]', '"s"')"#,
        );
        std::mem::forget(s); // crash: the second row is only in the WAL
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
        q(&mut s, "select * from t order by id"),
        "id|b|j|jb\n\
         11111111-1111-1111-1111-111111111111|\\x00ff|{\"b\":1,  \"a\":[1,2]}|{\"a\": [true, null], \"b\": 1.50}\n\
         22222222-2222-2222-2222-222222222222|\\x78|[]|\"s\"\n\
         SELECT 2"
    );
    assert_eq!(
        q(
            &mut s,
            "select jb->>'b' from t where id = '11111111-1111-1111-1111-111111111111'"
        ),
        "?column?\n1.50\nSELECT 1"
    );
}

#[test]
fn binary_formats_match_postgres() {
    use crate::types::{decode_binary, encode_binary, DataType, Value};
    let u = Value::Uuid([0xab; 16]);
    assert_eq!(encode_binary(&u), vec![0xab; 16]);
    assert_eq!(decode_binary(DataType::Uuid, &[0xab; 16]).unwrap(), u);
    assert!(decode_binary(DataType::Uuid, &[1, 2]).is_err());
    let j = crate::types::parse_text(DataType::Jsonb, -1, r#"{"a": 1}"#).unwrap();
    let b = encode_binary(&j);
    assert_eq!(b[0], 1);
    assert_eq!(&b[1..], br#"{"a": 1}"#);
    assert_eq!(decode_binary(DataType::Jsonb, &b).unwrap(), j);
    assert!(decode_binary(DataType::Jsonb, &[2, b'1']).is_err());
    assert_eq!(
        decode_binary(DataType::Bytea, &[0, 1]).unwrap(),
        Value::Bytea(vec![0, 1])
    );
}
