//! pg_hba.conf and roles, as the guide uses them: `CREATE ROLE repl login replication
//! encrypted password 'repl'` with an md5 line lets psql in with the password and nobody
//! in without it; PostgreSQL's FATAL texts for every refusal.

use crate::common::*;

const HBA_HEAD: &str = "local all all trust\n";

#[test]
fn guide_role_with_md5_line() {
    let mut s = Server::init("auth-md5", &[]);
    s.write_hba(&format!(
        "{HBA_HEAD}host all postgres 127.0.0.1/32 trust\nhost all repl 127.0.0.1/32 md5\nhost replication repl 127.0.0.1/32 md5\n"
    ));
    s.start();
    assert_eq!(
        s.psql("CREATE ROLE repl login replication encrypted password 'repl'"),
        "CREATE ROLE"
    );
    // Stored as SCRAM (password_encryption default), so the md5 line runs SCRAM.
    let ok = s.psql_as("repl", "postgres", Some("repl"), "select current_user");
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert_eq!(stdout(&ok).trim(), "repl");
    let bad = s.psql_as("repl", "postgres", Some("wrong"), "select 1");
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("FATAL:  password authentication failed for user \"repl\""),
        "{}",
        stderr(&bad)
    );
    let none = s.psql_as("repl", "postgres", None, "select 1");
    assert!(!none.status.success());
    assert!(
        stderr(&none).contains("no password supplied"),
        "{}",
        stderr(&none)
    );
    // An md5-stored secret uses the MD5 exchange.
    s.psql("set password_encryption = 'md5'; create role m5 login password 'pw5'");
    s.write_hba(&format!(
        "{HBA_HEAD}host all postgres 127.0.0.1/32 trust\nhost all m5 127.0.0.1/32 md5\n"
    ));
    s.signal(libc::SIGHUP);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let ok = s.psql_as("m5", "postgres", Some("pw5"), "select 1");
    assert!(ok.status.success(), "{}", stderr(&ok));
    let bad = s.psql_as("m5", "postgres", Some("nope"), "select 1");
    assert!(stderr(&bad).contains("password authentication failed for user \"m5\""));
}

#[test]
fn scram_password_reject_and_missing_entries() {
    let mut s = Server::init("auth-hba", &[]);
    s.write_hba(&format!(
        "{HBA_HEAD}host all postgres 127.0.0.1/32 trust\nhost all rejectme 127.0.0.1/32 reject\nhost postgres scramuser 127.0.0.1/32 scram-sha-256\nhost postgres pwuser 127.0.0.1/32 password\nhost postgres ghost 127.0.0.1/32 scram-sha-256\n"
    ));
    s.start();
    s.psql("create role scramuser login password 'sp'");
    s.psql("create role pwuser login password 'pp'");
    s.psql("create role rejectme login");
    assert!(s
        .psql_as("scramuser", "postgres", Some("sp"), "select 1")
        .status
        .success());
    assert!(s
        .psql_as("pwuser", "postgres", Some("pp"), "select 1")
        .status
        .success());
    let e = stderr(&s.psql_as("pwuser", "postgres", Some("xx"), "select 1"));
    assert!(
        e.contains("password authentication failed for user \"pwuser\""),
        "{e}"
    );
    let e = stderr(&s.psql_as("rejectme", "postgres", None, "select 1"));
    assert!(e.contains("pg_hba.conf rejects connection for host \"127.0.0.1\", user \"rejectme\", database \"postgres\", no encryption"), "{e}");
    let e = stderr(&s.psql_as("scramuser", "template1", Some("sp"), "select 1"));
    assert!(e.contains("no pg_hba.conf entry for host \"127.0.0.1\", user \"scramuser\", database \"template1\", no encryption"), "{e}");
    // A role that does not exist gets the same message as a wrong password.
    let e = stderr(&s.psql_as("ghost", "postgres", Some("x"), "select 1"));
    assert!(
        e.contains("password authentication failed for user \"ghost\""),
        "{e}"
    );
}

#[test]
fn post_authentication_checks() {
    let mut s = Server::init("auth-post", &[]);
    s.append_conf("max_connections = 4\nsuperuser_reserved_connections = 1\n");
    s.start();
    let e = stderr(&s.psql_as("ghosttrust", "postgres", None, "select 1"));
    assert!(
        e.contains("FATAL:  role \"ghosttrust\" does not exist"),
        "{e}"
    );
    let e = stderr(&s.psql_as("postgres", "nosuchdb", None, "select 1"));
    assert!(
        e.contains("FATAL:  database \"nosuchdb\" does not exist"),
        "{e}"
    );
    let e = stderr(&s.psql_as("postgres", "template0", None, "select 1"));
    assert!(
        e.contains("database \"template0\" is not currently accepting connections"),
        "{e}"
    );
    s.psql("create role nologin_role nologin");
    let e = stderr(&s.psql_as("nologin_role", "postgres", None, "select 1"));
    assert!(
        e.contains("role \"nologin_role\" is not permitted to log in"),
        "{e}"
    );
    s.psql("create role plain login");

    // Fill three of the four slots; the fourth is reserved for superusers.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut held = Vec::new();
        for _ in 0..3 {
            let (c, conn) = tokio_postgres::connect(&s.conninfo("plain"), tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            held.push(c);
        }
        let e = tokio_postgres::connect(&s.conninfo("plain"), tokio_postgres::NoTls)
            .await
            .err()
            .expect("connection must be refused");
        let db = e.as_db_error().expect("a server error");
        assert_eq!(db.code().code(), "53300");
        assert_eq!(
            db.message(),
            "remaining connection slots are reserved for non-replication superuser connections"
        );
        let (c, conn) = tokio_postgres::connect(&s.conninfo("postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        held.push(c);
        let e = tokio_postgres::connect(&s.conninfo("postgres"), tokio_postgres::NoTls)
            .await
            .err()
            .expect("connection must be refused");
        let db = e.as_db_error().expect("a server error");
        assert_eq!(db.code().code(), "53300");
        assert_eq!(db.message(), "sorry, too many clients already");
        drop(held);
    });
}

#[test]
fn replication_attribute_is_required_for_walsender() {
    let mut s = Server::init("auth-repl", &[]);
    s.write_hba(&format!(
        "{HBA_HEAD}host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n"
    ));
    s.start();
    s.psql("create role norepl login");
    let out = run_with_timeout(
        std::process::Command::new(pg_bin("psql"))
            .args(["-X", "-w", "-c", "IDENTIFY_SYSTEM"])
            .arg(format!(
                "host=127.0.0.1 port={} user=norepl dbname=postgres replication=database",
                s.port
            )),
        std::time::Duration::from_secs(30),
    );
    assert!(
        stderr(&out).contains("must be superuser or replication role to start walsender"),
        "{}",
        stderr(&out)
    );
}
