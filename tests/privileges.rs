//! Table privileges over real connections: a LOGIN role without privileges gets
//! PostgreSQL's 42501 `permission denied for table t`, then succeeds after GRANT
//! (directly and through a group role's membership), fails again after REVOKE, and
//! every GRANT/REVOKE survives a crash (they are WAL-logged catalog changes).

#[path = "common/mod.rs"]
mod common;

use common::*;

fn as_bob(s: &Server, sql: &str) -> Result<String, String> {
    let o = s.psql_as("bob", "postgres", None, sql);
    if o.status.success() {
        Ok(stdout(&o).trim_end().to_string())
    } else {
        Err(stderr(&o))
    }
}

fn denied(r: Result<String, String>) {
    let e = r.expect_err("expected permission denied");
    assert!(e.contains("permission denied for table t"), "{e}");
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
