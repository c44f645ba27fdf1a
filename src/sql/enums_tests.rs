//! Restart tests of `sql::enums`: enum types, their labels and sort positions, and the
//! rows using them come back after a crash — from the checkpoint image and from WAL
//! replay — and rolled-back or dropped types stay gone.

use super::super::tests::{db, first_column as q, reopen, session};

#[test]
fn enum_types_and_their_rows_survive_a_crash() {
    let d = db("enumcrash");
    {
        let mut s = session(&d.engine, "postgres");
        assert_eq!(
            q(&mut s, "create type mood as enum ('sad', 'happy')"),
            "CREATE TYPE"
        );
        q(&mut s, "create table t (id int primary key, m mood)");
        q(&mut s, "insert into t values (1, 'happy'), (2, 'sad')");
        // The image holds the type as it is now; the rest is replayed from WAL.
        q(&mut s, "checkpoint");
        q(&mut s, "alter type mood add value 'ok' before 'happy'");
        q(&mut s, "insert into t values (3, 'ok')");
        q(&mut s, "create type gone as enum ('x')");
        q(&mut s, "drop type gone");
        q(&mut s, "begin; create type never as enum ('y'); rollback");
        q(&mut s, "begin; create type open as enum ('z')");
        std::mem::forget(s);
    }
    let e = reopen(&d.dir);
    let mut s = session(&e, "postgres");
    assert_eq!(q(&mut s, "select m from t order by m"), "sad,ok,happy");
    assert_eq!(
        q(&mut s, "select id from t where m > 'sad' order by id"),
        "1,3"
    );
    assert_eq!(
        q(&mut s, "select 'meh'::mood"),
        "ERROR 22P02: invalid input value for enum mood: \"meh\""
    );
    for gone in ["gone", "never", "open"] {
        assert_eq!(
            q(&mut s, &format!("select 'x'::{gone}")),
            format!("ERROR 42704: type \"{gone}\" does not exist")
        );
    }
    // The type's OID is even (its array type takes the next one).
    let oid = e.with_catalog(|c| c.enums.keys().copied().collect::<Vec<_>>());
    assert_eq!(oid.len(), 1);
    assert_eq!(oid[0] % 2, 0);
    // A new type after recovery does not reuse an OID handed out before the crash.
    q(&mut s, "create type later as enum ('a')");
    let later = e.with_catalog(|c| c.enums.keys().copied().max().unwrap());
    assert!(later > oid[0] + 1);
    assert_eq!(later % 2, 0);
    assert_eq!(
        q(&mut s, "drop type mood"),
        "ERROR 2BP01: cannot drop type mood because other objects depend on it"
    );
}
