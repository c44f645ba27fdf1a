//! Privilege checks through whole sessions: ACLs of every kind survive a checkpoint
//! image and crash recovery, SET ROLE follows transactions, and the checks a later
//! statement needs (TEMP) give PostgreSQL's messages.

use super::super::tests::{db, first_column as q, reopen, session};
use super::*;

#[test]
fn every_kind_of_acl_survives_the_checkpoint_image_and_redo() {
    let d = db("priv-image");
    {
        let mut s = session(&d.engine, "postgres");
        q(&mut s, "create role bob");
        q(&mut s, "create schema sc");
        q(&mut s, "create table sc.t (a int, b int)");
        q(&mut s, "create sequence sc.q");
        q(&mut s, "grant usage on schema sc to bob");
        q(&mut s, "grant select (a) on sc.t to bob");
        q(&mut s, "checkpoint");
        // After the image: only in the WAL.
        q(&mut s, "grant usage on sequence sc.q to bob");
        q(&mut s, "revoke temporary on database postgres from public");
        q(&mut s, "alter table sc.t owner to bob");
        std::mem::forget(s);
    }
    let e = reopen(&d.dir);
    let mut s = session(&e, "postgres");
    assert_eq!(
        q(
            &mut s,
            "select has_schema_privilege('bob', 'sc', 'usage')::text || \
             has_column_privilege('bob', 'sc.t', 'a', 'select')::text || \
             has_column_privilege('bob', 'sc.t', 'b', 'select')::text || \
             has_sequence_privilege('bob', 'sc.q', 'usage')::text || \
             has_database_privilege('bob', 'postgres', 'temp')::text"
        ),
        "truetruetruetruefalse"
    );
    assert_eq!(
        q(
            &mut s,
            "select tableowner from pg_tables where tablename = 't'"
        ),
        "bob"
    );
    // The owner change rewrote the stored column ACL's grantor, not its grantee.
    let bob = e.role("bob").unwrap().oid;
    let cols = e.with_catalog(|c| {
        c.acl
            .lists
            .iter()
            .filter(|(o, _)| matches!(o, AclObject::Column { .. }))
            .map(|(_, a)| a.clone())
            .collect::<Vec<_>>()
    });
    assert_eq!(cols.len(), 1);
    assert_eq!((cols[0][0].grantee, cols[0][0].grantor), (bob, bob));
    let db_oid = e.database("postgres").unwrap().oid;
    assert_eq!(
        check_create_temp(&e, db_oid, bob).unwrap_err().message,
        "permission denied to create temporary tables in database \"postgres\""
    );
    q(&mut s, "grant temp on database postgres to bob");
    check_create_temp(&e, db_oid, bob).unwrap();
}

#[test]
fn set_role_follows_transactions_and_plans_follow_the_role() {
    let d = db("priv-setrole");
    let mut s = session(&d.engine, "postgres");
    q(&mut s, "create role bob");
    q(&mut s, "create table t (a int)");
    q(&mut s, "insert into t values (1)");
    // The same text planned as two roles: the cached plan of one is not the other's.
    assert_eq!(q(&mut s, "select a from t"), "1");
    q(&mut s, "set role bob");
    assert_eq!(
        q(&mut s, "select a from t"),
        "ERROR 42501: permission denied for table t"
    );
    q(&mut s, "begin");
    q(&mut s, "reset role");
    assert_eq!(q(&mut s, "select a from t"), "1");
    q(&mut s, "rollback");
    assert_eq!(q(&mut s, "select current_user"), "bob");
    q(&mut s, "discard all");
    assert_eq!(q(&mut s, "select current_user"), "postgres");
    // A session whose role is dropped under it holds only what PUBLIC holds.
    q(&mut s, "create role carol");
    q(&mut s, "grant select on t to carol");
    let mut c = session(&d.engine, "carol");
    assert_eq!(q(&mut c, "select a from t"), "1");
    q(&mut s, "revoke select on t from carol");
    q(&mut s, "drop role carol");
    assert_eq!(
        q(&mut c, "select a from t"),
        "ERROR 42501: permission denied for table t"
    );
    q(&mut s, "grant select on t to public");
    assert_eq!(q(&mut c, "select a from t"), "1");
}
