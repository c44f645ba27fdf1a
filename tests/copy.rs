//! COPY with the stock psql: `COPY … TO STDOUT` in text, CSV and binary formats with
//! their options, `COPY (query) TO`, `COPY FROM STDIN` (text, CSV with quoted
//! newlines, binary), psql's `\copy` both ways, and the errors with PostgreSQL's
//! CONTEXT lines. The script `tests/copy/copy.sql` runs through `psql -f`, and the
//! output must equal `tests/copy/copy.expected`, which is what PostgreSQL 15 printed
//! for the same script (regenerate it against a real PostgreSQL 15 when the script
//! changes; `@DIR@` stands for the test's directory).

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

#[test]
fn copy_through_psql_matches_postgresql() {
    let s = Server::start_new("copy");
    let dir = TempDir::new("copy-files");
    let d = dir.path().display().to_string();
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/copy");
    let script = std::fs::read_to_string(here.join("copy.sql"))
        .unwrap()
        .replace("@DIR@", &d);
    let expected = std::fs::read_to_string(here.join("copy.expected"))
        .unwrap()
        .replace("@DIR@", &d);
    let run = dir.path().join("run.sql");
    std::fs::write(&run, script).unwrap();
    let out = dir.path().join("out.txt");
    let o = run_with_timeout(
        Command::new("sh").arg("-c").arg(format!(
            "{} -X -h 127.0.0.1 -p {} -U postgres -d postgres -f {} > {} 2>&1",
            pg_bin("psql").display(),
            s.port,
            run.display(),
            out.display()
        )),
        Duration::from_secs(60),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let got = std::fs::read_to_string(&out).unwrap();
    if got != expected {
        let first = got
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "psql output differs from PostgreSQL's at line {}:\n got: {:?}\nwant: {:?}\n\nwhole output:\n{got}",
            first + 1,
            got.lines().nth(first),
            expected.lines().nth(first)
        );
    }
}
