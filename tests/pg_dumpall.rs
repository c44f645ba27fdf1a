//! `pg_dumpall --roles-only` (stock, PostgreSQL 15) against tusk: its catalog queries
//! succeed, the dump holds every role with its attributes and memberships, and it
//! restores into a fresh tusk cluster through psql, the roles coming back the same.

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

fn dump_roles(s: &Server) -> String {
    let o = run_with_timeout(
        Command::new(pg_bin("pg_dumpall"))
            .args(["-h", "127.0.0.1", "-U", "postgres", "--roles-only", "-p"])
            .arg(s.port.to_string()),
        Duration::from_secs(60),
    );
    assert!(o.status.success(), "pg_dumpall failed: {}", stderr(&o));
    stdout(&o)
}

const ROLES: &str = "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, \
     rolreplication, rolconnlimit FROM pg_roles WHERE rolname LIKE 'dump\\_%' ORDER BY 1";

#[test]
fn roles_dump_and_restore() {
    let src = Server::start_new("dumpall-src");
    src.psql(
        "CREATE ROLE dump_repl LOGIN REPLICATION ENCRYPTED PASSWORD 'repl'; \
         CREATE ROLE dump_admin CREATEDB CREATEROLE CONNECTION LIMIT 5; \
         CREATE ROLE dump_group; GRANT dump_group TO dump_repl",
    );
    let dump = dump_roles(&src);
    assert!(dump.contains("CREATE ROLE dump_repl;"), "{dump}");
    assert!(
        dump.contains("ALTER ROLE dump_repl WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN REPLICATION NOBYPASSRLS PASSWORD 'SCRAM-SHA-256$")
            || dump.contains("ALTER ROLE dump_repl WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN REPLICATION NOBYPASSRLS PASSWORD 'md5"),
        "{dump}"
    );
    assert!(dump.contains("CONNECTION LIMIT 5"), "{dump}");
    assert!(dump.contains("GRANT dump_group TO dump_repl"), "{dump}");
    let want = src.psql(ROLES);

    // Restore into a fresh cluster: only `CREATE ROLE postgres` fails (it exists), as
    // with PostgreSQL.
    let dst = Server::start_new("dumpall-dst");
    let dir = TempDir::new("dumpall-file");
    let file = dir.path().join("roles.sql");
    std::fs::write(&file, &dump).unwrap();
    let o = run_with_timeout(
        Command::new(pg_bin("psql"))
            .args([
                "-X",
                "-q",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-p",
            ])
            .arg(dst.port.to_string())
            .arg("-f")
            .arg(&file),
        Duration::from_secs(60),
    );
    let errors: Vec<String> = stderr(&o)
        .lines()
        .filter(|l| l.contains("ERROR"))
        .map(str::to_string)
        .collect();
    assert!(
        errors
            .iter()
            .all(|e| e.contains("role \"postgres\" already exists")),
        "{errors:?}"
    );
    assert_eq!(dst.psql(ROLES), want);
    // The restored password works.
    let o = dst.psql_as("dump_repl", "postgres", Some("repl"), "SELECT 1");
    assert!(o.status.success(), "{}", stderr(&o));
}
