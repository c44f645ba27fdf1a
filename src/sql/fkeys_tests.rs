//! Tests of `sql::fkeys`: PostgreSQL's DETAILs (the slt runner matches messages only),
//! constraints replayed after a crash and kept by a checkpoint image, a rolled-back
//! constraint gone, and a referenced row that a concurrent referencing insert holds.

use super::super::tests::{db, reopen, session};
use crate::sql::{ExecResult, Session};

/// Runs statements; returns the first column of their rows, tags, or the error with
/// its detail.
fn q(s: &mut Session, sql: &str) -> String {
    let mut out = Vec::new();
    for r in s.simple_query(sql) {
        match r {
            Ok(ExecResult::Rows { rows, .. }) => {
                for row in rows {
                    out.push(
                        s.encode_value(&row[0], 0)
                            .map(|b| String::from_utf8(b).unwrap())
                            .unwrap_or_else(|| "NULL".into()),
                    );
                }
            }
            Ok(ExecResult::Command { tag }) => out.push(tag),
            Ok(_) => {}
            Err(e) => out.push(format!(
                "ERROR {}: {} / {}",
                e.code,
                e.message,
                e.detail.clone().unwrap_or_default()
            )),
        }
    }
    out.join(",")
}

#[test]
fn messages_and_details_are_postgres() {
    let d = db("fkmsg");
    let mut s = session(&d.engine, "postgres");
    q(&mut s, "create table p (id int primary key)");
    q(&mut s, "create table c (p int references p)");
    q(&mut s, "insert into p values (1)");
    q(&mut s, "insert into c values (1)");
    assert_eq!(
        q(&mut s, "insert into c values (5)"),
        "ERROR 23503: insert or update on table \"c\" violates foreign key constraint \"c_p_fkey\" / Key (p)=(5) is not present in table \"p\"."
    );
    assert_eq!(
        q(&mut s, "delete from p"),
        "ERROR 23503: update or delete on table \"p\" violates foreign key constraint \"c_p_fkey\" on table \"c\" / Key (id)=(1) is still referenced from table \"c\"."
    );
    assert_eq!(
        q(&mut s, "drop table p"),
        "ERROR 2BP01: cannot drop table p because other objects depend on it / constraint c_p_fkey on table c depends on table p"
    );
    assert_eq!(
        q(&mut s, "create table bad (a text references p)"),
        "ERROR 42804: foreign key constraint \"bad_a_fkey\" cannot be implemented / Key columns \"a\" and \"id\" are of incompatible types: text and integer."
    );
}

#[test]
fn constraints_survive_a_crash_and_a_checkpoint() {
    let d = db("fkcrash");
    {
        let mut s = session(&d.engine, "postgres");
        q(&mut s, "create table p (id int primary key, u int unique)");
        q(
            &mut s,
            "create table c (p int references p on delete cascade)",
        );
        q(&mut s, "insert into p values (1, 10), (2, 20)");
        q(&mut s, "insert into c values (1), (2)");
        q(&mut s, "checkpoint");
        q(
            &mut s,
            "create table c2 (u int, constraint c2_u foreign key (u) references p (u))",
        );
        q(&mut s, "insert into c2 values (20)");
        // Rolled back: this constraint must not come back.
        q(&mut s, "begin; alter table c add constraint c_extra foreign key (p) references p (id) on delete restrict");
        std::mem::forget(s);
    }
    let e = reopen(&d.dir);
    let mut s = session(&e, "postgres");
    assert!(q(&mut s, "insert into c values (3)").starts_with("ERROR 23503"));
    assert!(q(&mut s, "insert into c2 values (30)").starts_with("ERROR 23503"));
    assert!(q(&mut s, "delete from p where id = 2").starts_with(
        "ERROR 23503: update or delete on table \"p\" violates foreign key constraint \"c2_u\""
    ));
    // ON DELETE CASCADE came back; c_extra (RESTRICT) did not.
    assert_eq!(q(&mut s, "delete from p where id = 1"), "DELETE 1");
    assert_eq!(q(&mut s, "select count(*) from c"), "1");
    q(&mut s, "alter table c2 drop constraint c2_u");
    std::mem::forget(s);
    let e2 = reopen(&d.dir);
    let mut s = session(&e2, "postgres");
    assert_eq!(q(&mut s, "insert into c2 values (30)"), "INSERT 0 1");
    assert!(q(&mut s, "insert into c values (3)").starts_with("ERROR 23503"));
}

#[test]
fn a_referenced_row_cannot_be_deleted_under_an_uncommitted_reference() {
    let d = db("fklock");
    let mut a = session(&d.engine, "postgres");
    let mut b = session(&d.engine, "postgres");
    q(&mut a, "create table p (id int primary key)");
    q(&mut a, "create table c (p int references p)");
    q(&mut a, "insert into p values (1)");
    // a holds the parent FOR SHARE; b's delete must wait for it (NOWAIT: fail at once).
    q(&mut a, "begin; insert into c values (1)");
    assert!(q(&mut b, "select * from p for update nowait").starts_with("ERROR 55P03"));
    q(&mut a, "commit");
    assert!(q(&mut b, "delete from p").starts_with("ERROR 23503"));
    // The other order: b deletes first (uncommitted); a's insert finds it gone once b
    // commits. Run b's commit before a's check by committing first.
    q(&mut b, "begin; delete from c; delete from p");
    q(&mut b, "commit");
    assert!(q(&mut a, "insert into c values (1)").starts_with("ERROR 23503"));
}

#[test]
fn deferrable_flags_survive_a_crash_and_a_checkpoint() {
    let d = db("fkdefer");
    {
        let mut s = session(&d.engine, "postgres");
        q(&mut s, "create table p (id int primary key)");
        q(
            &mut s,
            "create table c1 (p int references p deferrable initially deferred)",
        );
        q(&mut s, "checkpoint");
        q(&mut s, "create table c2 (p int references p deferrable)");
        std::mem::forget(s);
    }
    let e = reopen(&d.dir);
    let mut s = session(&e, "postgres");
    // c1 (from the checkpoint image) is still initially deferred.
    assert_eq!(
        q(
            &mut s,
            "begin; insert into c1 values (1); insert into p values (1); commit"
        ),
        "BEGIN,INSERT 0 1,INSERT 0 1,COMMIT"
    );
    // c2 (from the WAL) checks at once unless deferred by name.
    assert!(q(&mut s, "insert into c2 values (2)").starts_with("ERROR 23503"));
    assert_eq!(
        q(
            &mut s,
            "begin; set constraints c2_p_fkey deferred; insert into c2 values (2); insert into p values (2); commit"
        ),
        "BEGIN,SET CONSTRAINTS,INSERT 0 1,INSERT 0 1,COMMIT"
    );
    assert_eq!(
        q(&mut s, "begin; insert into c1 values (9); commit"),
        "BEGIN,INSERT 0 1,ERROR 23503: insert or update on table \"c1\" violates foreign key constraint \"c1_p_fkey\" / Key (p)=(9) is not present in table \"p\"."
    );
}
