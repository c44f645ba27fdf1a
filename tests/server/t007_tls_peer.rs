//! TLS with `ssl = on` (psql "sslmode=require"), hostssl/hostnossl lines, SCRAM with
//! channel binding (SCRAM-SHA-256-PLUS), and peer authentication on the Unix socket.

use crate::common::*;
use std::process::Command;
use std::time::Duration;

fn make_cert(dir: &std::path::Path) {
    let out = run_with_timeout(
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
            ])
            .arg("-keyout")
            .arg(dir.join("server.key"))
            .arg("-out")
            .arg(dir.join("server.crt")),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "openssl: {}", stderr(&out));
}

fn psql_conn(conninfo: &str, sql: &str) -> std::process::Output {
    run_with_timeout(
        Command::new(pg_bin("psql"))
            .args(["-X", "-A", "-t", "-w", "-c", sql])
            .arg(conninfo)
            .env_remove("PGPASSWORD"),
        Duration::from_secs(30),
    )
}

/// libpq's `channel_binding=require` over TLS: SCRAM-SHA-256-PLUS bound to the server's
/// certificate (RSA with SHA-256 and ECDSA with SHA-384) succeeds with the right
/// password and fails with a wrong one; without TLS the requirement cannot be met.
#[test]
fn scram_channel_binding() {
    for (key, digest) in [("rsa:2048", "-sha256"), ("ec", "-sha384")] {
        let mut s = Server::init("tls-cb", &[]);
        let dir = s.datadir();
        let mut cmd = Command::new("openssl");
        cmd.args([
            "req",
            "-x509",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            digest,
        ]);
        if key == "ec" {
            cmd.args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]);
        } else {
            cmd.args(["-newkey", key]);
        }
        let out = run_with_timeout(
            cmd.arg("-keyout")
                .arg(dir.join("server.key"))
                .arg("-out")
                .arg(dir.join("server.crt")),
            Duration::from_secs(60),
        );
        assert!(out.status.success(), "openssl: {}", stderr(&out));
        s.append_conf("ssl = on\n");
        s.write_hba("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n");
        s.start();
        let sock = s.socket_dir();
        let local = format!(
            "host={} port={} user=postgres dbname=postgres",
            sock.display(),
            s.port
        );
        let out = psql_conn(&local, "create role cb login password 'cb-secret'");
        assert!(out.status.success(), "{}", stderr(&out));
        let base = format!("host=127.0.0.1 port={} dbname=postgres user=cb", s.port);
        let out = psql_conn(
            &format!("{base} sslmode=require channel_binding=require password=cb-secret"),
            "select 'bound'",
        );
        assert!(out.status.success(), "{key}: {}", stderr(&out));
        assert_eq!(stdout(&out).trim(), "bound");
        let out = psql_conn(
            &format!("{base} sslmode=require channel_binding=require password=wrong"),
            "select 1",
        );
        assert!(
            stderr(&out).contains("password authentication failed for user \"cb\""),
            "{key}: {}",
            stderr(&out)
        );
        // Without TLS there is nothing to bind to: libpq refuses to go on.
        let out = psql_conn(
            &format!("{base} sslmode=disable channel_binding=require password=cb-secret"),
            "select 1",
        );
        assert!(!out.status.success());
        assert!(stderr(&out).contains("channel binding"), "{}", stderr(&out));
        // A client that prefers no binding still gets in over TLS.
        let out = psql_conn(
            &format!("{base} sslmode=require channel_binding=disable password=cb-secret"),
            "select 1",
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

#[test]
fn tls_and_hostssl_lines() {
    let mut s = Server::init("tls", &[]);
    make_cert(&s.datadir());
    s.append_conf("ssl = on\n");
    s.write_hba("local all all trust\nhostssl all postgres 127.0.0.1/32 trust\nhostnossl all plain 127.0.0.1/32 trust\n");
    s.start();
    let base = format!("host=127.0.0.1 port={} dbname=postgres", s.port);
    let out = psql_conn(
        &format!("{base} user=postgres sslmode=require"),
        "select 'tls ok'",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "tls ok");
    // Without TLS the hostssl line does not match.
    let out = psql_conn(&format!("{base} user=postgres sslmode=disable"), "select 1");
    assert!(stderr(&out).contains("no pg_hba.conf entry for host \"127.0.0.1\", user \"postgres\", database \"postgres\", no encryption"), "{}", stderr(&out));
    // hostnossl matches only clear-text connections; with prefer, libpq retries without TLS.
    let sock = s.socket_dir();
    let out = psql_conn(
        &format!(
            "host={} port={} user=postgres dbname=postgres",
            sock.display(),
            s.port
        ),
        "create role plain login",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = psql_conn(&format!("{base} user=plain sslmode=require"), "select 1");
    assert!(stderr(&out).contains("no pg_hba.conf entry for host \"127.0.0.1\", user \"plain\", database \"postgres\", SSL encryption"), "{}", stderr(&out));
    let out = psql_conn(&format!("{base} user=plain sslmode=disable"), "select 1");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn ssl_off_answers_n_to_sslrequest() {
    let s = Server::start_new("nossl");
    let out = psql_conn(
        &format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=require",
            s.port
        ),
        "select 1",
    );
    assert!(
        stderr(&out).contains("server does not support SSL, but SSL was required"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn peer_authentication_on_the_socket() {
    let mut s = Server::init("peer", &[]);
    s.write_hba("local all all peer\nhost all all 127.0.0.1/32 trust\n");
    s.start();
    let me = unsafe { libc::geteuid() };
    let os_user = {
        let out = Command::new("id").arg("-un").output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let _ = me;
    s.psql(&format!("create role \"{os_user}\" login"));
    s.psql("create role someone_else login");
    let sock = s.socket_dir();
    let out = psql_conn(
        &format!(
            "host={} port={} user={os_user} dbname=postgres",
            sock.display(),
            s.port
        ),
        "select current_user",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), os_user);
    let out = psql_conn(
        &format!(
            "host={} port={} user=someone_else dbname=postgres",
            sock.display(),
            s.port
        ),
        "select 1",
    );
    assert!(
        stderr(&out).contains("Peer authentication failed for user \"someone_else\""),
        "{}",
        stderr(&out)
    );
}
