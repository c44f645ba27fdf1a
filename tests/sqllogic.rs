//! Runs the sqllogictest-style files in `sql-tests/` against a tusk `Session` over a
//! fresh engine in a temporary directory (and, when `TUSK_SLT_PG` holds a libpq
//! connection string, against a real PostgreSQL 15 too, to prove the expected results
//! are PostgreSQL's).
//!
//! Format (a subset of sqllogictest):
//! ```text
//! statement ok
//! CREATE TABLE t (a int)
//!
//! statement error <regex matched against "SQLSTATE: message">
//! SELECT nosuch
//!
//! query <column types, e.g. IT> [rowsort]
//! SELECT 1, 'a'
//! ----
//! 1 a
//! ```
//! Result rows are PostgreSQL's text output, columns separated by one space, NULL as
//! `NULL` and the empty string as `(empty)`.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tusk::config::{ServerConfig, SessionSettings};
use tusk::sql::{ExecResult, ServerHooks, Session, SessionContext};
use tusk::storage::{BootstrapOptions, Engine, EngineOptions};

struct Hooks;

impl ServerHooks for Hooks {
    fn reload_config(&self) -> bool {
        true
    }
    fn cancel_backend(&self, _pid: i32) -> bool {
        false
    }
    fn terminate_backend(&self, _pid: i32) -> bool {
        false
    }
    fn postmaster_start_time(&self) -> i64 {
        0
    }
    fn server_config(&self) -> Arc<ServerConfig> {
        Arc::new(ServerConfig::defaults(Path::new("/nonexistent")))
    }
}

/// One record of a test file.
#[derive(Debug)]
enum Rec {
    Ok(String, usize),
    Error(String, String, usize),
    Query {
        sql: String,
        rowsort: bool,
        expected: Vec<String>,
        line: usize,
    },
}

fn parse_file(text: &str) -> Vec<Rec> {
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < lines.len() {
        let l = lines[i].trim_end();
        if l.is_empty() || l.starts_with('#') {
            i += 1;
            continue;
        }
        let line = i + 1;
        let head = l.to_string();
        i += 1;
        let mut sql = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() && lines[i].trim() != "----" {
            sql.push(lines[i]);
            i += 1;
        }
        let sql = sql.join("\n");
        if head == "statement ok" {
            out.push(Rec::Ok(sql, line));
        } else if let Some(re) = head.strip_prefix("statement error") {
            out.push(Rec::Error(sql, re.trim().to_string(), line));
        } else if let Some(spec) = head.strip_prefix("query") {
            let rowsort = spec.contains("rowsort");
            let mut expected = Vec::new();
            if i < lines.len() && lines[i].trim() == "----" {
                i += 1;
                while i < lines.len() && !lines[i].trim().is_empty() {
                    expected.push(lines[i].trim_end().to_string());
                    i += 1;
                }
            }
            out.push(Rec::Query {
                sql,
                rowsort,
                expected,
                line,
            });
        } else {
            panic!("line {line}: unknown record {head:?}");
        }
    }
    out
}

/// What running one statement gave: rows (as text cells) or an error text.
type Outcome = Result<Vec<Vec<Option<String>>>, String>;

trait Target {
    fn run(&mut self, sql: &str) -> Outcome;
}

struct TuskTarget {
    session: Session,
    _engine: Arc<Engine>,
    dir: PathBuf,
}

impl Target for TuskTarget {
    fn run(&mut self, sql: &str) -> Outcome {
        let mut rows = Vec::new();
        for r in self.session.simple_query(sql) {
            match r {
                Ok(ExecResult::Rows { rows: rs, .. }) => {
                    rows = rs
                        .iter()
                        .map(|row| {
                            row.iter()
                                .map(|v| {
                                    self.session
                                        .encode_value(v, 0)
                                        .map(|b| String::from_utf8(b).unwrap())
                                })
                                .collect()
                        })
                        .collect()
                }
                Ok(_) => {}
                Err(e) => return Err(format!("{}: {}", e.code, e.message)),
            }
        }
        Ok(rows)
    }
}

impl Drop for TuskTarget {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tusk_target(name: &str) -> TuskTarget {
    let dir = std::env::temp_dir().join(format!("tusk-slt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Engine::bootstrap(
        &dir,
        &BootstrapOptions {
            superuser: "postgres".into(),
            password: None,
            password_encryption: "scram-sha-256".into(),
            wal_segment_size: 16 * 1024 * 1024,
        },
    )
    .unwrap();
    let engine = Engine::open(
        &dir,
        &EngineOptions {
            fsync: false,
            ..Default::default()
        },
    )
    .unwrap();
    let cfg = Arc::new(ServerConfig::defaults(&dir));
    let session = Session::new(
        engine.clone(),
        SessionSettings::new(cfg),
        SessionContext {
            user: "postgres".into(),
            database: "postgres".into(),
            backend_pid: 1,
            cancel: Arc::new(AtomicBool::new(false)),
            hooks: Arc::new(Hooks),
            application_name: String::new(),
        },
    );
    TuskTarget {
        session,
        _engine: engine,
        dir,
    }
}

struct PgTarget {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Target for PgTarget {
    fn run(&mut self, sql: &str) -> Outcome {
        let r = self.rt.block_on(self.client.simple_query(sql));
        match r {
            Ok(msgs) => {
                let mut rows = Vec::new();
                for m in msgs {
                    if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
                        rows.push(
                            (0..r.len())
                                .map(|i| r.get(i).map(|s| s.to_string()))
                                .collect(),
                        );
                    }
                }
                Ok(rows)
            }
            Err(e) => match e.as_db_error() {
                Some(d) => Err(format!("{}: {}", d.code().code(), d.message())),
                None => Err(e.to_string()),
            },
        }
    }
}

/// A connection to the real PostgreSQL's `postgres` database, emptied first (every
/// schema but the system ones dropped, `public` re-created), so that files never see
/// each other's objects, as each file gets a fresh engine on the tusk side.
fn pg_target(conn: &str) -> PgTarget {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (client, connection) = rt
        .block_on(tokio_postgres::connect(conn, tokio_postgres::NoTls))
        .unwrap();
    rt.spawn(connection);
    rt.block_on(client.batch_execute(
        "DO $$ DECLARE s text; BEGIN \
           FOR s IN SELECT nspname FROM pg_namespace \
             WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' LOOP \
             EXECUTE format('DROP SCHEMA %I CASCADE', s); \
           END LOOP; \
           CREATE SCHEMA public; \
         END $$",
    ))
    .unwrap();
    PgTarget { rt, client }
}

/// A tiny regex subset for error expectations: literal text with `.*` wildcards,
/// searched anywhere in the text.
fn matches(pattern: &str, text: &str) -> bool {
    let mut pos = 0;
    for p in pattern.split(".*") {
        match text[pos..].find(p) {
            Some(at) => pos += at + p.len(),
            None => return false,
        }
    }
    true
}

fn render(rows: &[Vec<Option<String>>]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    None => "NULL".to_string(),
                    Some(s) if s.is_empty() => "(empty)".to_string(),
                    Some(s) => s.clone(),
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn run_file(path: &Path, target: &mut dyn Target) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut failures = Vec::new();
    let name = path.display();
    for rec in parse_file(&text) {
        match rec {
            Rec::Ok(sql, line) => {
                if let Err(e) = target.run(&sql) {
                    failures.push(format!("{name}:{line}: expected ok, got error {e}"));
                }
            }
            Rec::Error(sql, re, line) => match target.run(&sql) {
                Ok(_) => failures.push(format!("{name}:{line}: expected error {re}, got ok")),
                Err(e) => {
                    if !matches(&re, &e) {
                        failures.push(format!("{name}:{line}: expected error {re}, got {e}"));
                    }
                }
            },
            Rec::Query {
                sql,
                rowsort,
                expected,
                line,
            } => match target.run(&sql) {
                Err(e) => failures.push(format!("{name}:{line}: query failed: {e}")),
                Ok(rows) => {
                    let mut got = render(&rows);
                    let mut want = expected.clone();
                    if rowsort {
                        got.sort();
                        want.sort();
                    }
                    if got != want {
                        failures.push(format!(
                            "{name}:{line}: result mismatch\n  expected: {want:?}\n  got:      {got:?}"
                        ));
                    }
                }
            },
        }
    }
    failures
}

#[test]
fn sql_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql-tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        // TUSK_SLT_ONLY=a,b runs only those files (by stem).
        .filter(|p| match std::env::var("TUSK_SLT_ONLY") {
            Ok(only) => only
                .split(',')
                .any(|o| p.file_stem().is_some_and(|s| s == o)),
            Err(_) => true,
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", root.display());
    let pg = std::env::var("TUSK_SLT_PG").ok();
    let mut failures = Vec::new();
    for f in &files {
        let stem = f.file_stem().unwrap().to_string_lossy().to_string();
        let mut t = tusk_target(&stem);
        failures.extend(run_file(f, &mut t));
        if let Some(conn) = &pg {
            let mut p = pg_target(conn);
            failures.extend(
                run_file(f, &mut p)
                    .into_iter()
                    .map(|m| format!("[postgres] {m}")),
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
