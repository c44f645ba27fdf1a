//! Secondary indexes are durable: a unique index created before `kill -9` still
//! rejects duplicates after the restart (its definition comes back from the WAL or the
//! checkpoint image, its contents are rebuilt from the rows), and lookups through a
//! non-unique index still find every row.

use crate::common::*;

fn dup_error(s: &Server, sql: &str) -> String {
    let out = s.psql_as("postgres", "postgres", None, sql);
    assert!(!out.status.success(), "expected a unique violation: {sql}");
    stderr(&out)
}

#[test]
fn unique_index_holds_after_kill_9() {
    let mut s = Server::start_new("indexes");
    s.psql("create table users (id int primary key, email text, team int)");
    s.psql("insert into users values (1, 'a@x', 1), (2, 'b@x', 1), (3, null, 2)");
    s.psql("create unique index users_email_uniq on users (email)");
    s.psql("create index on users (team)");
    s.psql("alter table users add constraint users_team_id_key unique (team, id)");
    s.psql("insert into users values (4, 'd@x', 2), (5, null, 2)");
    assert!(dup_error(&s, "insert into users values (6, 'a@x', 3)")
        .contains("duplicate key value violates unique constraint \"users_email_uniq\""));
    s.crash();
    s.start();
    let err = dup_error(&s, "insert into users values (7, 'b@x', 3)");
    assert!(
        err.contains("duplicate key value violates unique constraint \"users_email_uniq\""),
        "{err}"
    );
    assert!(err.contains("Key (email)=(b@x) already exists."), "{err}");
    // NULLs still never conflict; lookups through the rebuilt indexes see every row.
    s.psql("insert into users values (8, null, 2)");
    assert_eq!(
        s.psql("select id from users where team = 2 order by id"),
        "3\n4\n5\n8"
    );
    assert_eq!(s.psql("select id from users where email = 'd@x'"), "4");
    // After a clean shutdown (the checkpoint image holds the definitions) and more WAL.
    s.stop();
    s.start();
    s.psql("drop index users_team_idx");
    s.psql("update users set email = 'z@x' where id = 1");
    s.crash();
    s.start();
    assert!(
        dup_error(&s, "insert into users values (9, 'z@x', 3)").contains("\"users_email_uniq\"")
    );
    s.psql("insert into users values (10, 'a@x', 3)");
    assert_eq!(s.psql("select count(*) from users where team = 2"), "4");
    // The dropped index's name is free again; the constraint's index is not droppable.
    s.psql("create index users_team_idx on users (team)");
    let out = s.psql_as("postgres", "postgres", None, "drop index users_team_id_key");
    assert!(stderr(&out).contains("cannot drop index users_team_id_key"));
}
