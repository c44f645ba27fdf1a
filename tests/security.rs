//! Who gets in and what they may do, as PostgreSQL 15 decides it: every pg_hba method
//! over TCP and the Unix socket against right and wrong secrets, VALID UNTIL, CONNECTION
//! LIMIT, what a non-superuser may not read or run, and no secret in the server log.
//! (TLS lines, peer, the reserved slots and the REPLICATION attribute are in
//! tests/server/t002_auth.rs and t007_tls_peer.rs.)

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

/// Runs psql as `user` over TCP (`host` true) or the socket with a password (or none);
/// returns (success, stderr).
fn attempt(s: &Server, host: bool, user: &str, password: Option<&str>) -> (bool, String) {
    let h = if host {
        "127.0.0.1".to_string()
    } else {
        s.socket_dir().display().to_string()
    };
    let mut c = Command::new(pg_bin("psql"));
    c.args(["-X", "-At", "-w", "-h", &h, "-p", &s.port.to_string()])
        .args(["-U", user, "-d", "postgres", "-c", "select current_user"])
        .env_remove("PGPASSWORD");
    if let Some(p) = password {
        c.env("PGPASSWORD", p);
    }
    let o = run_with_timeout(&mut c, Duration::from_secs(30));
    (o.status.success(), stderr(&o))
}

#[test]
fn every_hba_method_with_right_and_wrong_secrets() {
    let mut s = Server::init("sec-hba", &[]);
    s.start();
    s.psql(
        "set password_encryption = 'md5'; create role u_md5 login password 'pw-md5'; \
         set password_encryption = 'scram-sha-256'; create role u_scram login password 'pw-scram'; \
         create role u_pass login password 'pw-pass'; create role u_trust login; \
         create role u_reject login password 'pw-reject'",
    );
    let hba = "local all postgres trust\nhost all postgres 127.0.0.1/32 trust\n\
               local all u_trust trust\nhost all u_trust 127.0.0.1/32 trust\n\
               local all u_reject reject\nhost all u_reject 127.0.0.1/32 reject\n\
               local all u_pass password\nhost all u_pass 127.0.0.1/32 password\n\
               local all u_md5 md5\nhost all u_md5 127.0.0.1/32 md5\n\
               local all u_scram scram-sha-256\nhost all u_scram 127.0.0.1/32 scram-sha-256\n";
    s.write_hba(hba);
    s.psql("select pg_reload_conf()");
    std::thread::sleep(Duration::from_millis(300));
    for host in [true, false] {
        let via = if host { "TCP" } else { "socket" };
        assert!(attempt(&s, host, "u_trust", None).0, "trust over {via}");
        let (ok, e) = attempt(&s, host, "u_reject", Some("pw-reject"));
        assert!(
            !ok && e.contains("rejects connection for host"),
            "{via}: {e}"
        );
        for (user, right) in [
            ("u_pass", "pw-pass"),
            ("u_md5", "pw-md5"),
            ("u_scram", "pw-scram"),
        ] {
            assert!(attempt(&s, host, user, Some(right)).0, "{user} over {via}");
            let (ok, e) = attempt(&s, host, user, Some("wrong"));
            assert!(
                !ok && e.contains(&format!(
                    "password authentication failed for user \"{user}\""
                )),
                "{user} with a wrong password over {via}: {e}"
            );
            let (ok, e) = attempt(&s, host, user, None);
            assert!(
                !ok && e.contains("no password supplied"),
                "{user} without a password over {via}: {e}"
            );
        }
        // md5 lines accept a SCRAM secret (the SCRAM exchange runs), as PostgreSQL's do.
        let (ok, _) = attempt(&s, host, "u_scram", Some("pw-scram"));
        assert!(ok);
    }
    // An unknown role fails like a wrong password (no hint that it does not exist).
    s.write_hba(&format!("{hba}host all all 127.0.0.1/32 scram-sha-256\n"));
    s.psql("select pg_reload_conf()");
    std::thread::sleep(Duration::from_millis(300));
    let (ok, e) = attempt(&s, true, "nobody_here", Some("x"));
    assert!(
        !ok && e.contains("password authentication failed for user \"nobody_here\""),
        "{e}"
    );

    // No secret, cleartext or stored, reaches the log.
    let log = s.log_text();
    for secret in [
        "pw-md5",
        "pw-scram",
        "pw-pass",
        "pw-reject",
        "SCRAM-SHA-256$",
        "wrong",
    ] {
        assert!(!log.contains(secret), "the log holds {secret:?}:\n{log}");
    }
    assert!(
        log.contains("password authentication failed for user \"u_md5\""),
        "failures are logged:\n{log}"
    );
}

#[test]
fn valid_until_and_connection_limit() {
    let mut s = Server::init("sec-limits", &[]);
    s.start();
    s.psql(
        "create role expired login password 'pw' valid until '2001-01-01'; \
         create role fresh login password 'pw' valid until 'infinity'; \
         create role limited login connection limit 1; \
         create role none_allowed login connection limit 0",
    );
    s.write_hba(
        "local all all trust\nhost all expired 127.0.0.1/32 md5\nhost all fresh 127.0.0.1/32 md5\nhost all all 127.0.0.1/32 trust\n",
    );
    s.psql("select pg_reload_conf()");
    std::thread::sleep(Duration::from_millis(300));
    let (ok, e) = attempt(&s, true, "expired", Some("pw"));
    assert!(
        !ok && e.contains("password authentication failed for user \"expired\""),
        "{e}"
    );
    assert!(
        s.log_text()
            .contains("User \"expired\" has an expired password."),
        "the log says why:\n{}",
        s.log_text()
    );
    assert!(attempt(&s, true, "fresh", Some("pw")).0);

    let (ok, e) = attempt(&s, true, "none_allowed", None);
    assert!(
        !ok && e.contains("too many connections for role \"none_allowed\""),
        "{e}"
    );
    let rt = runtime();
    rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(&s.conninfo("limited"), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let e = tokio_postgres::connect(&s.conninfo("limited"), tokio_postgres::NoTls)
            .await
            .err()
            .expect("a second connection must be refused");
        let db = e.as_db_error().expect("a server error");
        assert_eq!(db.code().code(), "53300");
        assert_eq!(db.message(), "too many connections for role \"limited\"");
        drop(c);
    });
    // Superusers are not limited by their role's CONNECTION LIMIT.
    s.psql("alter role postgres connection limit 0");
    assert_eq!(s.psql("select 1"), "1");
}

#[test]
fn what_a_non_superuser_may_not_do() {
    let s = Server::start_new("sec-nonsuper");
    s.psql("create role app login; create table secret_t (a int); insert into secret_t values (1)");
    let as_app = |sql: &str| stderr(&s.psql_as("app", "postgres", None, sql));
    for (sql, want) in [
        ("select rolpassword from pg_authid", "permission denied for table pg_authid"),
        ("select * from secret_t", "permission denied for table secret_t"),
        ("select pg_reload_conf()", "permission denied for function pg_reload_conf"),
        ("select pg_switch_wal()", "permission denied for function pg_switch_wal"),
        ("alter system set work_mem = '8MB'", "must be superuser to execute ALTER SYSTEM command"),
        ("create role evil superuser", "must be superuser to create superusers"),
        ("set log_statement = 'all'", "permission denied to set parameter \"log_statement\""),
        ("copy secret_t to '/tmp/tusk-secret-copy'", "must be superuser or have privileges of the pg_write_server_files role to COPY to a file"),
        ("alter role app superuser", "must be superuser to alter superuser roles or change superuser attribute"),
    ] {
        let e = as_app(sql);
        assert!(e.contains(want), "{sql}: {e}");
    }
    // pg_roles shows the password masked to everyone.
    assert_eq!(
        stdout(&s.psql_as(
            "app",
            "postgres",
            None,
            "select rolpassword from pg_roles where rolname = 'app'"
        ))
        .trim(),
        "********"
    );
    s.psql("grant select on secret_t to app");
    assert_eq!(
        stdout(&s.psql_as("app", "postgres", None, "select a from secret_t")).trim(),
        "1"
    );
    s.psql("revoke select on secret_t from app");
    assert!(as_app("select * from secret_t").contains("permission denied for table secret_t"));
}
