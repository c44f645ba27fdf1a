//! Privileges over real connections: a LOGIN role without privileges gets
//! PostgreSQL's 42501 `permission denied for table t`, then succeeds after GRANT
//! (directly and through a group role's membership), fails again after REVOKE, and
//! every GRANT/REVOKE survives a crash (they are WAL-logged catalog changes). Beyond
//! tables: CONNECT on a database (PostgreSQL's FATAL at connection), sequence, schema
//! and column privileges seen by other sessions at once and after a crash, DROP ROLE's
//! dependency DETAIL, ownership changes, and a streaming standby replaying all of it.

#[path = "common/mod.rs"]
mod common;

use common::*;

fn as_user(s: &Server, user: &str, db: &str, sql: &str) -> Result<String, String> {
    let o = s.psql_as(user, db, None, sql);
    if o.status.success() {
        Ok(stdout(&o).trim_end().to_string())
    } else {
        Err(stderr(&o))
    }
}

fn as_bob(s: &Server, sql: &str) -> Result<String, String> {
    as_user(s, "bob", "postgres", sql)
}

fn denied(r: Result<String, String>) {
    let e = r.expect_err("expected permission denied");
    assert!(e.contains("permission denied for table t"), "{e}");
}

fn denied_for(r: Result<String, String>, what: &str) {
    let e = r.expect_err("expected permission denied");
    assert!(e.contains(&format!("permission denied for {what}")), "{e}");
}

#[test]
fn grant_revoke_checked_over_connections_and_survive_a_crash() {
    let mut s = Server::start_new("privileges");
    s.psql(
        "CREATE ROLE bob LOGIN; CREATE ROLE grp; CREATE TABLE t (a int); INSERT INTO t VALUES (1)",
    );
    denied(as_bob(&s, "SELECT a FROM t"));
    denied(as_bob(&s, "INSERT INTO t VALUES (2)"));
    s.psql("GRANT SELECT ON TABLE t TO bob");
    assert_eq!(as_bob(&s, "SELECT a FROM t").unwrap(), "1");
    denied(as_bob(&s, "INSERT INTO t VALUES (2)"));
    // A subquery reads t too.
    denied(as_bob(&s, "DELETE FROM t WHERE a = 1"));
    s.psql("GRANT DELETE ON t TO grp; GRANT grp TO bob");
    s.crash();
    s.start();
    assert_eq!(as_bob(&s, "SELECT a FROM t").unwrap(), "1");
    as_bob(&s, "DELETE FROM t WHERE a = 1").unwrap();
    s.psql("REVOKE grp FROM bob; REVOKE SELECT ON t FROM bob");
    s.crash();
    s.start();
    denied(as_bob(&s, "SELECT a FROM t"));
    denied(as_bob(&s, "TRUNCATE t"));
    // A non-owner without grant option cannot grant.
    let e = as_bob(&s, "GRANT SELECT ON t TO bob").unwrap_err();
    assert!(e.contains("permission denied for table t"), "{e}");
    s.psql("GRANT ALL ON ALL TABLES IN SCHEMA public TO PUBLIC");
    as_bob(&s, "INSERT INTO t VALUES (3)").unwrap();
    assert_eq!(as_bob(&s, "SELECT a FROM t").unwrap(), "3");
    s.stop();
}

/// REVOKE CONNECT … FROM PUBLIC: PostgreSQL's FATAL with its DETAIL, a GRANT lets the
/// role in, and both survive a crash; a superuser is never refused.
#[test]
fn connect_privilege_is_checked_at_connection_and_survives_a_crash() {
    let mut s = Server::start_new("priv-connect");
    s.psql("CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN");
    s.psql("CREATE DATABASE d1");
    s.psql("REVOKE CONNECT ON DATABASE d1 FROM PUBLIC");
    let e = as_user(&s, "bob", "d1", "SELECT 1").unwrap_err();
    assert!(
        e.contains("FATAL:  permission denied for database \"d1\"")
            && e.contains("DETAIL:  User does not have CONNECT privilege."),
        "{e}"
    );
    assert_eq!(as_user(&s, "postgres", "d1", "SELECT 1").unwrap(), "1");
    // Other databases are untouched.
    assert_eq!(as_user(&s, "bob", "postgres", "SELECT 1").unwrap(), "1");
    s.psql("GRANT CONNECT ON DATABASE d1 TO bob");
    s.crash();
    s.start();
    assert_eq!(
        as_user(&s, "bob", "d1", "SELECT current_user, current_database()").unwrap(),
        "bob|d1"
    );
    as_user(&s, "carol", "d1", "SELECT 1").unwrap_err();
    assert_eq!(
        s.psql("SELECT datacl FROM pg_database WHERE datname = 'd1'"),
        "{=T/postgres,postgres=CTc/postgres,bob=c/postgres}"
    );
    assert_eq!(
        s.psql(
            "SELECT has_database_privilege('bob', 'd1', 'connect'), \
             has_database_privilege('carol', 'd1', 'connect'), \
             has_database_privilege('carol', 'd1', 'temporary')"
        ),
        "t|f|t"
    );
    // CREATE on the database is what CREATE SCHEMA needs.
    denied_for(as_user(&s, "bob", "d1", "CREATE SCHEMA bs"), "database d1");
    s.psql("GRANT CREATE ON DATABASE d1 TO bob");
    as_user(&s, "bob", "d1", "CREATE SCHEMA bs").unwrap();
    s.stop();
}

/// Sequence, schema and column privileges: another session sees a GRANT at its next
/// statement (plans are re-checked), and everything is still there after a crash and
/// after a checkpoint (the catalog image carries the ACLs).
#[test]
fn sequence_schema_and_column_privileges_across_sessions_and_restarts() {
    let mut s = Server::start_new("priv-objects");
    s.psql(
        "CREATE ROLE bob LOGIN; CREATE SCHEMA sc; \
         CREATE TABLE sc.t (id serial, a int, b int); INSERT INTO sc.t (a, b) VALUES (1, 2); \
         GRANT INSERT (a), SELECT (a) ON sc.t TO bob",
    );
    denied_for(as_bob(&s, "SELECT a FROM sc.t"), "schema sc");
    s.psql("GRANT USAGE ON SCHEMA sc TO bob");
    assert_eq!(as_bob(&s, "SELECT a FROM sc.t").unwrap(), "1");
    denied(as_bob(&s, "SELECT b FROM sc.t"));
    // The serial column's sequence needs USAGE.
    denied_for(
        as_bob(&s, "INSERT INTO sc.t (a) VALUES (5)"),
        "sequence t_id_seq",
    );
    rt_grant_seen_by_open_session(&s);
    s.crash();
    s.start();
    as_bob(&s, "INSERT INTO sc.t (a) VALUES (6)").unwrap();
    assert_eq!(as_bob(&s, "SELECT max(a) FROM sc.t").unwrap(), "7");
    s.psql("CHECKPOINT");
    s.crash();
    s.start();
    assert_eq!(
        s.psql(
            "SELECT has_schema_privilege('bob', 'sc', 'usage'), \
             has_sequence_privilege('bob', 'sc.t_id_seq', 'usage'), \
             has_column_privilege('bob', 'sc.t', 'a', 'insert'), \
             has_column_privilege('bob', 'sc.t', 'b', 'select')"
        ),
        "t|t|t|f"
    );
    s.psql("REVOKE USAGE ON SCHEMA sc FROM bob");
    s.crash();
    s.start();
    denied_for(as_bob(&s, "SELECT a FROM sc.t"), "schema sc");
    s.stop();
}

/// A session that stays open sees a GRANT made by another session at its next
/// statement, and a REVOKE too (its cached plan is not reused).
fn rt_grant_seen_by_open_session(s: &Server) {
    let rt = runtime();
    rt.block_on(async {
        let bob = s.connect("bob").await;
        let admin = s.connect("postgres").await;
        let insert = "INSERT INTO sc.t (a) VALUES (7)";
        let e = bob.simple_query(insert).await.unwrap_err();
        let db = e.as_db_error().expect("a server error");
        assert_eq!(db.message(), "permission denied for sequence t_id_seq");
        admin
            .simple_query("GRANT USAGE ON SEQUENCE sc.t_id_seq TO bob")
            .await
            .unwrap();
        bob.simple_query(insert).await.unwrap();
        admin
            .simple_query("REVOKE SELECT (a) ON sc.t FROM bob")
            .await
            .unwrap();
        let e = bob.simple_query("SELECT a FROM sc.t").await.unwrap_err();
        let db = e.as_db_error().expect("a server error");
        assert_eq!(db.code().code(), "42501");
        assert_eq!(db.message(), "permission denied for table t");
        admin
            .simple_query("GRANT SELECT (a) ON sc.t TO bob")
            .await
            .unwrap();
        bob.simple_query("SELECT a FROM sc.t").await.unwrap();
    });
}

/// DROP ROLE lists what depends on the role as PostgreSQL does (by object OID; other
/// databases as a count), ownership moves with ALTER … OWNER TO and REASSIGN OWNED,
/// DROP OWNED clears the rest, and all of it survives a crash.
#[test]
fn drop_role_dependencies_and_ownership_changes() {
    let mut s = Server::start_new("priv-owner");
    s.psql(
        "CREATE ROLE ow LOGIN; CREATE ROLE heir; \
         GRANT CREATE ON SCHEMA public TO ow; GRANT CREATE ON DATABASE postgres TO ow",
    );
    as_user(
        &s,
        "ow",
        "postgres",
        "CREATE TABLE owt (a int); CREATE SEQUENCE ows; CREATE VIEW owv AS SELECT 1 AS x; \
         CREATE SCHEMA ows2; CREATE TYPE owm AS ENUM ('a')",
    )
    .unwrap();
    s.psql(
        "CREATE TABLE pt (a int, b int); GRANT SELECT ON pt TO ow; GRANT UPDATE (b) ON pt TO ow",
    );
    s.psql("CREATE DATABASE d2; GRANT CONNECT ON DATABASE d2 TO ow");
    let e = as_user(&s, "postgres", "postgres", "DROP ROLE ow").unwrap_err();
    assert!(
        e.contains("ERROR:  role \"ow\" cannot be dropped because some objects depend on it"),
        "{e}"
    );
    let detail = e.split("DETAIL:  ").nth(1).unwrap_or_default().trim_end();
    assert_eq!(
        detail,
        "privileges for database postgres\n\
         privileges for schema public\n\
         owner of table owt\n\
         owner of sequence ows\n\
         owner of view owv\n\
         owner of schema ows2\n\
         owner of type owm\n\
         privileges for table pt\n\
         privileges for column b of table pt\n\
         privileges for database d2"
    );
    // Ownership moves; the new owner's ACL replaces the old owner's.
    s.psql("GRANT SELECT ON owt TO heir");
    as_user(&s, "ow", "postgres", "GRANT INSERT ON owt TO heir").unwrap();
    s.psql("GRANT CREATE ON SCHEMA public TO heir; REASSIGN OWNED BY ow TO heir");
    s.crash();
    s.start();
    assert_eq!(
        s.psql("SELECT tableowner FROM pg_tables WHERE tablename = 'owt'"),
        "heir"
    );
    let e = as_user(&s, "ow", "postgres", "DROP TABLE owt").unwrap_err();
    assert!(e.contains("must be owner of table owt"), "{e}");
    let e = as_user(&s, "postgres", "postgres", "DROP ROLE ow").unwrap_err();
    let detail = e.split("DETAIL:  ").nth(1).unwrap_or_default().trim_end();
    assert_eq!(
        detail,
        "privileges for database postgres\n\
         privileges for schema public\n\
         privileges for table pt\n\
         privileges for column b of table pt\n\
         privileges for database d2"
    );
    s.psql("DROP OWNED BY ow");
    s.crash();
    s.start();
    s.psql("DROP ROLE ow");
    assert_eq!(
        s.psql("SELECT count(*) FROM pg_roles WHERE rolname = 'ow'"),
        "0"
    );
    // An object in another database is counted, not named.
    s.psql("GRANT CREATE ON SCHEMA public TO heir");
    as_user(
        &s,
        "postgres",
        "d2",
        "CREATE TABLE t2 (a int); ALTER TABLE t2 OWNER TO heir",
    )
    .unwrap();
    s.psql("REVOKE ALL ON SCHEMA public FROM heir");
    let e = as_user(&s, "postgres", "postgres", "DROP ROLE heir").unwrap_err();
    assert!(e.contains("1 object in database d2"), "{e}");
    s.stop();
}

/// A streaming standby replays GRANT, REVOKE and ownership changes: a role's rights
/// on the standby follow the primary's.
#[test]
fn a_standby_replays_privilege_changes() {
    let mut p = Server::start_new("priv-prim");
    p.psql(
        "CREATE ROLE bob LOGIN; CREATE TABLE t (a int, b int); INSERT INTO t VALUES (1, 2); \
         CREATE SEQUENCE q",
    );
    let mut sb = basebackup(&p, "priv-stby", &["-Fp", "-Xs", "-R"]);
    let before = sb.log_text().matches("ready to accept read-only").count();
    spawn(&mut sb);
    wait_log(&mut sb, "ready to accept read-only connections", before + 1);
    denied(as_bob(&sb, "SELECT a FROM t"));
    p.psql("GRANT SELECT (a) ON t TO bob; GRANT SELECT ON SEQUENCE q TO bob");
    wait_for(
        &sb,
        "SELECT has_column_privilege('bob', 't', 'a', 'select')",
        "t",
    );
    assert_eq!(as_bob(&sb, "SELECT a FROM t").unwrap(), "1");
    denied(as_bob(&sb, "SELECT b FROM t"));
    assert_eq!(as_bob(&sb, "SELECT last_value FROM q").unwrap(), "1");
    p.psql("REVOKE CONNECT ON DATABASE postgres FROM PUBLIC");
    wait_for(
        &sb,
        "SELECT has_database_privilege('bob', 'postgres', 'connect')",
        "f",
    );
    let e = as_bob(&sb, "SELECT 1").unwrap_err();
    assert!(e.contains("User does not have CONNECT privilege."), "{e}");
    p.psql("ALTER TABLE t OWNER TO bob; GRANT CONNECT ON DATABASE postgres TO bob");
    wait_for(
        &sb,
        "SELECT tableowner FROM pg_tables WHERE tablename = 't'",
        "bob",
    );
    assert_eq!(as_bob(&sb, "SELECT a, b FROM t").unwrap(), "1|2");
    // SET ROLE only changes the session: a hot standby allows it.
    assert_eq!(
        sb.psql("SET ROLE bob; SELECT current_user, has_column_privilege('t', 'b', 'update')"),
        "SET\nbob|t"
    );
    sb.stop();
    p.stop();
}
