//! Client drivers against a real tusk server: each driver's check program (under
//! `tests/drivers/<driver>/`) connects, creates a table, inserts with parameters, reads
//! every common type back, commits and rolls back, and checks the results; a second
//! phase runs the driver's catalog introspection where it has one (asyncpg's and
//! tokio-postgres' type lookups, psycopg's EnumInfo, JDBC's DatabaseMetaData, sqlx's
//! `describe` and `pg_type` lookup). tokio-postgres's check runs in this process
//! (`tests/drivers/tokio_postgres/check.rs`); the others are programs run as children.
//!
//! The drivers and their runtimes come from outside cargo: `scripts/test` installs the
//! Python packages into `target/drivers/py`, node-postgres into `target/drivers/node`
//! and the Debian JDBC jar into `/usr/share/java`; sqlx is a cargo project of its own
//! (`tests/drivers/sqlx`) built here into `target/drivers/sqlx-target` so that tusk's own
//! build never compiles it. `TUSK_DRIVERS_DIR` moves `target/drivers`.
//!
//! A driver whose runtime is missing is skipped with a printed reason — except under CI
//! (`CI` set), where a missing runtime fails the test: CI installs them all.
//!
//! Checks listed in [`EXPECTED_TO_FAIL`] fail today for a reason owned elsewhere (what
//! pg_catalog still lacks: psycopg's enum lookup finds nothing, the one-byte `"char"`
//! type, `information_schema._pg_expandarray`, `EXPLAIN (FORMAT JSON)`). Such a check must fail with the
//! listed error; once it passes, the test fails until the entry is removed, so the list
//! cannot go stale.

#[path = "common/mod.rs"]
mod common;
#[path = "drivers/tokio_postgres/check.rs"]
mod tokio_postgres_check;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A check that is known to fail until pg_catalog exists.
struct ExpectedFailure {
    /// The check's name, as [`judge`] is given it.
    check: &'static str,
    /// Text the failing program's output must contain.
    error: &'static str,
    /// The first query of the driver that fails.
    query: &'static str,
}

/// The driver checks that fail for now, each with the error and the driver's query that
/// causes it; `tests/drivers/catalog-queries.sql` has every catalog query of these
/// checks as PostgreSQL 15 logged them. Remove an entry when its check passes (the test
/// says so).
const EXPECTED_TO_FAIL: &[ExpectedFailure] = &[
    ExpectedFailure {
        check: "psycopg3 introspection",
        error: "EnumInfo.fetch found no drv_mood3",
        query: "SELECT name, oid, array_oid, regtype, array_agg(label) AS labels FROM ( SELECT \
                t.typname AS name, t.oid AS oid, t.typarray AS array_oid, t.oid::regtype::text \
                AS regtype, e.enumlabel AS label FROM pg_type t LEFT JOIN pg_enum e ON \
                e.enumtypid = t.oid WHERE t.oid = to_regtype($1) ORDER BY e.enumsortorder ) x \
                GROUP BY name, oid, array_oid, regtype",
    },
    ExpectedFailure {
        check: "tokio-postgres introspection",
        error: "error deserializing column 1",
        query: "SELECT t.typname, t.typtype, t.typelem, r.rngsubtype, t.typbasetype, n.nspname, \
                t.typrelid FROM pg_catalog.pg_type t LEFT OUTER JOIN pg_catalog.pg_range r ON \
                r.rngtypid = t.oid INNER JOIN pg_catalog.pg_namespace n ON t.typnamespace = n.oid \
                WHERE t.oid = $1 (typtype must be the one-byte \"char\" type, tusk sends text)",
    },
    ExpectedFailure {
        check: "jdbc metadata",
        error: "function _pg_expandarray(int2vector) does not exist",
        query: "getPrimaryKeys: SELECT … FROM pg_catalog.pg_class ct JOIN pg_catalog.pg_attribute a ON (ct.oid = a.attrelid) JOIN pg_catalog.pg_namespace n ON (ct.relnamespace = n.oid) JOIN (SELECT i.indexrelid, i.indrelid, i.indisprimary, information_schema._pg_expandarray(i.indkey) AS keys FROM pg_catalog.pg_index i) i ON … (getTables passes)",
    },
    ExpectedFailure {
        check: "sqlx introspection",
        error: "invalid value for boolean option \"format\": json",
        query: "EXPLAIN (VERBOSE, FORMAT JSON) <the described query> (sqlx's nullability inference; its pg_attribute lookup passes)",
    },
];

/// Where `scripts/test` puts the drivers and their builds.
fn drivers_dir() -> PathBuf {
    std::env::var_os("TUSK_DRIVERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/drivers"))
}

/// The check programs' directory in the repository.
fn programs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/drivers")
}

/// Whether `program` runs on this machine (it answers `--version`).
fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Reports a missing runtime: under CI a failure, elsewhere a printed skip. Returns
/// true when the driver's test should stop.
fn missing(driver: &str, reason: &str) -> bool {
    if std::env::var_os("CI").is_some() {
        panic!("{driver}: {reason} (CI installs every driver: see scripts/test)");
    }
    eprintln!("SKIPPED {driver}: {reason}; ./scripts/test installs it");
    true
}

/// Runs one check program against `server` and judges it with [`judge`].
fn run_check(server: &Server, check: &str, cmd: &mut Command) {
    cmd.env("PGHOST", "127.0.0.1")
        .env("PGPORT", server.port.to_string())
        .env("PGUSER", "postgres")
        .env("PGDATABASE", "postgres")
        .env("PGSSLMODE", "disable")
        .env_remove("PGPASSWORD")
        .env_remove("PGOPTIONS");
    let out = run_with_timeout(cmd, Duration::from_secs(300));
    let outcome = if out.status.success() {
        Ok(stdout(&out))
    } else {
        Err(format!(
            "{} ({}):\n{}{}",
            check,
            out.status,
            stdout(&out),
            stderr(&out)
        ))
    };
    judge(server, check, outcome);
}

/// Judges a check's outcome (its output, or its failure as text) against
/// [`EXPECTED_TO_FAIL`]: a listed check must fail with its error, any other must pass.
fn judge(server: &Server, check: &str, outcome: Result<String, String>) {
    let expected = EXPECTED_TO_FAIL.iter().find(|e| e.check == check);
    match (outcome, expected) {
        (Ok(out), None) => eprintln!("{}", out.trim_end()),
        (Err(text), None) => panic!("{check} failed: {text}\nserver log:\n{}", server.log_text()),
        (Ok(_), Some(_)) => {
            panic!("{check} passes now: remove it from EXPECTED_TO_FAIL in tests/drivers.rs")
        }
        (Err(text), Some(e)) => {
            assert!(
                text.contains(e.error),
                "{check} was expected to fail with {:?} but failed otherwise:\n{text}",
                e.error
            );
            eprintln!(
                "EXPECTED FAILURE {check}: {}\n  failing query: {}",
                e.error, e.query
            );
        }
    }
}

/// A Python check program run with the packages installed under `target/drivers/py`;
/// `None` when the runtime or `module` is missing (and that is allowed).
fn python(driver: &str, module: &str, script: &str) -> Option<Command> {
    if !have("python3") {
        missing(driver, "python3 is not installed");
        return None;
    }
    let py = drivers_dir().join("py");
    let probe = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .env("PYTHONPATH", &py)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !probe {
        missing(
            driver,
            &format!("python module {module} is not in {}", py.display()),
        );
        return None;
    }
    let mut cmd = Command::new("python3");
    cmd.arg(programs_dir().join(script))
        .env("PYTHONPATH", &py)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    Some(cmd)
}

#[test]
fn tokio_postgres() {
    let s = Server::start_new("drv-tokio");
    runtime().block_on(async {
        tokio_postgres_check::run(&s.conninfo("postgres")).await;
        let r = tokio_postgres_check::introspection(&s.conninfo("postgres")).await;
        judge(
            &s,
            "tokio-postgres introspection",
            r.map(|()| "tokio-postgres introspection: ok".into()),
        );
    });
}

#[test]
fn psycopg3() {
    let s = Server::start_new("drv-psycopg3");
    for phase in ["basic", "introspection"] {
        if let Some(mut cmd) = python("psycopg3", "psycopg", "psycopg3/check.py") {
            run_check(&s, &format!("psycopg3 {phase}"), cmd.arg(phase));
        }
    }
}

#[test]
fn psycopg2() {
    let s = Server::start_new("drv-psycopg2");
    if let Some(mut cmd) = python("psycopg2", "psycopg2", "psycopg2/check.py") {
        run_check(&s, "psycopg2", &mut cmd);
    }
}

#[test]
fn asyncpg() {
    let s = Server::start_new("drv-asyncpg");
    for phase in ["basic", "introspection"] {
        if let Some(mut cmd) = python("asyncpg", "asyncpg", "asyncpg/check.py") {
            run_check(&s, &format!("asyncpg {phase}"), cmd.arg(phase));
        }
    }
}

#[test]
fn node_postgres() {
    if !have("node") {
        missing("node-postgres", "node is not installed");
        return;
    }
    let modules = drivers_dir().join("node/node_modules");
    if !modules.join("pg/package.json").exists() {
        missing(
            "node-postgres",
            &format!("pg is not in {}", modules.display()),
        );
        return;
    }
    let s = Server::start_new("drv-node");
    run_check(
        &s,
        "node-postgres",
        Command::new("node")
            .arg(programs_dir().join("node/check.js"))
            .env("NODE_PATH", &modules),
    );
}

#[test]
fn jdbc() {
    let jar = Path::new("/usr/share/java/postgresql.jar");
    if !have("javac") || !have("java") {
        missing("jdbc", "javac or java is not installed");
        return;
    }
    if !jar.exists() {
        missing(
            "jdbc",
            "the driver jar (Debian's libpostgresql-jdbc-java) is not installed",
        );
        return;
    }
    let classes = TempDir::new("drv-jdbc-classes");
    let out = run_with_timeout(
        Command::new("javac")
            .arg("-d")
            .arg(classes.path())
            .arg("-cp")
            .arg(jar)
            .arg(programs_dir().join("jdbc/Check.java")),
        Duration::from_secs(300),
    );
    assert!(out.status.success(), "javac failed: {}", stderr(&out));
    let cp = format!("{}:{}", classes.path().display(), jar.display());
    let s = Server::start_new("drv-jdbc");
    for phase in ["basic", "metadata"] {
        run_check(
            &s,
            &format!("jdbc {phase}"),
            Command::new("java")
                .arg("-cp")
                .arg(&cp)
                .arg("Check")
                .arg(phase),
        );
    }
}

#[test]
fn sqlx() {
    let project = programs_dir().join("sqlx");
    let target = drivers_dir().join("sqlx-target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let started = std::time::Instant::now();
    let out = run_with_timeout(
        Command::new(&cargo)
            .args(["build", "--quiet", "--locked", "--manifest-path"])
            .arg(project.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target),
        Duration::from_secs(1500),
    );
    assert!(
        out.status.success(),
        "building the sqlx check failed: {}",
        stderr(&out)
    );
    eprintln!("sqlx check built in {:.1?}", started.elapsed());
    let bin = target.join("debug/tusk-drivers-sqlx");
    let s = Server::start_new("drv-sqlx");
    for phase in ["basic", "introspection"] {
        run_check(&s, &format!("sqlx {phase}"), Command::new(&bin).arg(phase));
    }
}
