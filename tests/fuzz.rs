//! Bad input over the wire: a structured fuzzer for the frontend protocol, the
//! replication protocol and the SQL front end, run against one tusk server.
//!
//! Four generators, each seeded (the seed is printed; `TUSK_FUZZ_SEED` replays a run)
//! and bounded (`TUSK_FUZZ_CASES` per generator, a small number in CI):
//! * startup packets: random bytes, lengths that lie, protocol codes with junk after
//!   them (SSLRequest, GSSENCRequest, CancelRequest), valid packets with flipped bits;
//! * messages after a valid startup: every frontend message type, with random,
//!   truncated or mutated payloads and length fields that lie, then Sync and a query;
//! * SQL: token soup drawn from SQL's keywords, operators, literals and names;
//! * replication: commands with random arguments on a `replication=true` connection,
//!   and junk standby status / feedback messages inside a started stream.
//!
//! A case passes whatever the server answers (an error, or closing that connection):
//! what must hold is that the server never panics (its log has no panic), keeps
//! serving (a fresh connection runs `SELECT 1` after every batch), never hangs a case
//! past its time limit, and does not grow its memory without bound.

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// xorshift64*: small, seedable, good enough to pick bytes and shapes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// Up to `max - 1` random bytes.
    fn some_bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max);
        self.bytes(n)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn cases() -> usize {
    std::env::var("TUSK_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150)
}

fn seed() -> u64 {
    let s = std::env::var("TUSK_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
        | 1;
    println!("fuzz seed {s} (TUSK_FUZZ_SEED={s} replays it)");
    s
}

/// A frontend message: tag, length, payload.
fn msg(tag: u8, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![tag];
    m.extend_from_slice(&(payload.len() as i32 + 4).to_be_bytes());
    m.extend_from_slice(payload);
    m
}

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn startup_packet(params: &[(&str, &str)]) -> Vec<u8> {
    let mut body = 196608i32.to_be_bytes().to_vec();
    for (k, v) in params {
        body.extend(cstr(k));
        body.extend(cstr(v));
    }
    body.push(0);
    let mut p = (body.len() as i32 + 4).to_be_bytes().to_vec();
    p.extend(body);
    p
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Reads what the server sends until it closes, goes quiet, or sends ReadyForQuery
/// (when `until_ready`); returns the bytes. Bounded by `limit`.
fn drain(s: &mut TcpStream, until_ready: bool, limit: Duration) -> Vec<u8> {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while start.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if until_ready && ready(&out) {
                    break;
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                if !until_ready {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    out
}

/// Whether a stream of backend messages holds a ReadyForQuery.
fn ready(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i + 5 <= bytes.len() {
        let len = i32::from_be_bytes([bytes[i + 1], bytes[i + 2], bytes[i + 3], bytes[i + 4]]);
        if bytes[i] == b'Z' {
            return true;
        }
        if len < 4 {
            return false;
        }
        i += 1 + len as usize;
    }
    false
}

/// A connection past authentication (trust), at ReadyForQuery.
fn session(port: u16, extra: &[(&str, &str)]) -> TcpStream {
    let mut s = connect(port);
    let mut params = vec![("user", "postgres"), ("database", "postgres")];
    params.extend_from_slice(extra);
    s.write_all(&startup_packet(&params)).unwrap();
    let got = drain(&mut s, true, Duration::from_secs(10));
    assert!(ready(&got), "no ReadyForQuery after a valid startup");
    s
}

/// Sends bytes, ignoring a connection the server already closed.
fn send(s: &mut TcpStream, bytes: &[u8]) {
    let _ = s.write_all(bytes);
}

fn random_startup(r: &mut Rng) -> Vec<u8> {
    match r.below(5) {
        0 => {
            let n = r.below(300);
            r.bytes(n)
        }
        1 => {
            // A length that lies about what follows.
            let lie = *r.pick(&[0i32, 3, 4, 7, 8, 9, -1, 10_000, 10_001, i32::MAX]);
            let mut p = lie.to_be_bytes().to_vec();
            p.extend(r.some_bytes(40));
            p
        }
        2 => {
            let code = *r.pick(&[80877103i32, 80877104, 80877102, 196608, 131072, 196609]);
            let mut body = code.to_be_bytes().to_vec();
            let n = r.below(24);
            body.extend(r.bytes(n));
            let mut p = (body.len() as i32 + 4).to_be_bytes().to_vec();
            p.extend(body);
            p
        }
        3 => {
            let keys = [
                "user",
                "database",
                "options",
                "replication",
                "application_name",
                "client_encoding",
                "DateStyle",
                "x",
            ];
            let vals = [
                "postgres",
                "",
                "nosuch",
                "true",
                "database",
                "-c work_mem=1",
                "-c",
                "\u{7f}",
                "LATIN1",
                "ISO, MDY",
            ];
            let n = r.below(5);
            let params: Vec<(&str, &str)> =
                (0..n).map(|_| (*r.pick(&keys), *r.pick(&vals))).collect();
            startup_packet(&params)
        }
        _ => {
            let mut p = startup_packet(&[("user", "postgres"), ("database", "postgres")]);
            for _ in 0..1 + r.below(4) {
                let i = r.below(p.len());
                p[i] ^= 1 << r.below(8);
            }
            p
        }
    }
}

const SQL_WORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "INSERT",
    "INTO",
    "VALUES",
    "UPDATE",
    "SET",
    "DELETE",
    "CREATE",
    "TABLE",
    "INDEX",
    "ON",
    "DROP",
    "ALTER",
    "ADD",
    "COLUMN",
    "JOIN",
    "LEFT",
    "GROUP",
    "BY",
    "ORDER",
    "HAVING",
    "LIMIT",
    "OFFSET",
    "UNION",
    "ALL",
    "WITH",
    "RECURSIVE",
    "AS",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "NULL",
    "NOT",
    "AND",
    "OR",
    "IN",
    "EXISTS",
    "BETWEEN",
    "LIKE",
    "IS",
    "DISTINCT",
    "CAST",
    "::",
    "int",
    "text",
    "numeric(3,1)",
    "jsonb",
    "int[]",
    "(",
    ")",
    ",",
    ";",
    "*",
    "+",
    "-",
    "/",
    "%",
    "=",
    "<>",
    "<",
    ">",
    "||",
    "->>",
    "@>",
    "[",
    "]",
    "1",
    "0",
    "-1",
    "2147483648",
    "1e400",
    "'x'",
    "'{1,2'",
    "'{}'",
    "$1",
    "E'\\\\x'",
    "t",
    "fz",
    "a",
    "b",
    "generate_series(1,3)",
    "count(*)",
    "now()",
    "lower(a)",
    "pg_class",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT",
    "s",
    "PREPARE",
    "EXECUTE",
    "COPY",
    "STDIN",
    "VACUUM",
    "EXPLAIN",
    "ANALYZE",
    "OVER",
    "PARTITION",
    "ROW",
    "ARRAY",
    "LATERAL",
    "RETURNING",
    "CONFLICT",
    "DO",
    "NOTHING",
    "\"",
    "'",
    "--",
    "/*",
    "\\",
];

fn random_sql(r: &mut Rng) -> String {
    let n = 1 + r.below(20);
    (0..n)
        .map(|_| *r.pick(SQL_WORDS))
        .collect::<Vec<_>>()
        .join(" ")
}

fn random_message(r: &mut Rng) -> Vec<u8> {
    let tags = b"QPBEDCSHFXdcfp";
    let tag = *r.pick(tags);
    let payload = match (tag, r.below(3)) {
        (b'Q', 0) => cstr(&random_sql(r)),
        (b'P', 0) => {
            let mut p = cstr(if r.chance(50) { "" } else { "s1" });
            p.extend(cstr(&random_sql(r)));
            let n = *r.pick(&[0i16, 1, 2, -1, 300]);
            p.extend(n.to_be_bytes());
            for _ in 0..r.below(3) {
                p.extend((*r.pick(&[23u32, 25, 0, 9999, u32::MAX])).to_be_bytes());
            }
            p
        }
        (b'B', 0) => {
            let mut p = cstr("");
            p.extend(cstr(if r.chance(50) { "" } else { "s1" }));
            for _ in 0..3 {
                let n = *r.pick(&[0i16, 1, 2, -1, 1000]);
                p.extend(n.to_be_bytes());
                for _ in 0..r.below(3) {
                    let len = *r.pick(&[-1i32, 0, 1, 4, 8, 1_000_000]);
                    p.extend(len.to_be_bytes());
                    p.extend(r.some_bytes(9));
                }
            }
            p
        }
        (b'E', 0) => {
            let mut p = cstr("");
            p.extend((*r.pick(&[0i32, 1, -1, i32::MAX])).to_be_bytes());
            p
        }
        (b'D' | b'C', 0) => {
            let mut p = vec![*r.pick(b"SPX")];
            let name: &&str = r.pick(&["", "s1", "nosuch"]);
            p.extend(cstr(name));
            p
        }
        (b'F', 0) => {
            let mut p = 1u32.to_be_bytes().to_vec();
            p.extend(r.some_bytes(20));
            p
        }
        _ => {
            let n = r.below(64);
            r.bytes(n)
        }
    };
    let mut m = msg(tag, &payload);
    if r.chance(15) {
        // A length field that lies.
        let lie = *r.pick(&[0i32, 3, -5, 1 << 30, payload.len() as i32 + 100]);
        m[1..5].copy_from_slice(&lie.to_be_bytes());
    }
    if r.chance(10) {
        let i = r.below(m.len());
        m[i] ^= 1 << r.below(8);
    }
    m
}

fn random_replication_command(r: &mut Rng) -> String {
    let l = format!("{:X}/{:X}", r.below(3), r.next() as u32);
    match r.below(9) {
        0 => "IDENTIFY_SYSTEM".into(),
        1 => format!(
            "TIMELINE_HISTORY {}",
            *r.pick(&["0", "1", "2", "-1", "x", "99999999999"])
        ),
        2 => format!("START_REPLICATION {l}"),
        3 => format!(
            "START_REPLICATION SLOT nosuch PHYSICAL {l} TIMELINE {}",
            r.below(4)
        ),
        4 => format!(
            "CREATE_REPLICATION_SLOT fz{} {}",
            r.below(3),
            *r.pick(&[
                "PHYSICAL",
                "PHYSICAL RESERVE_WAL",
                "LOGICAL x",
                "TEMPORARY",
                ""
            ])
        ),
        5 => format!("DROP_REPLICATION_SLOT fz{}", r.below(3)),
        6 => format!("READ_REPLICATION_SLOT fz{}", r.below(3)),
        7 => format!(
            "BASE_BACKUP {}",
            *r.pick(&[
                "LABEL",
                "(LABEL 'x', WAL)",
                "MAX_RATE 1",
                "(CHECKPOINT 'nope')",
                "(TARGET 'server')",
                "NOWAIT TABLESPACE_MAP"
            ])
        ),
        _ => random_sql(r),
    }
}

/// The server is alive and answers a query on a fresh connection.
fn healthy(s: &mut Server, what: &str) {
    if let Some(c) = s.child.as_mut() {
        assert!(
            c.try_wait().unwrap().is_none(),
            "the server exited during {what}:\n{}",
            s.log_text()
        );
    }
    assert_eq!(s.psql("select 1"), "1", "after {what}");
}

fn rss_kib(s: &Server) -> u64 {
    let pid = s.child.as_ref().map(|c| c.id()).unwrap_or(0);
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn assert_no_panic(s: &Server) {
    let log = s.log_text();
    assert!(
        !log.contains("panicked"),
        "the server panicked:\n{}",
        log.lines()
            .filter(|l| l.contains("panicked"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn fuzz_protocol_sql_and_replication() {
    let mut s = Server::init("fuzz", &[]);
    s.append_conf("max_wal_senders = 4\nwal_sender_timeout = 2s\n");
    s.write_hba(
        "local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n",
    );
    s.start();
    s.psql("create table fz (a int primary key, b text); insert into fz values (1, 'x')");
    let mut r = Rng(seed());
    let n = cases();
    let limit = Duration::from_secs(5);
    let started = Instant::now();

    for _ in 0..n {
        let mut c = connect(s.port);
        send(&mut c, &random_startup(&mut r));
        drain(&mut c, false, limit);
    }
    healthy(&mut s, "startup packets");
    let warm = rss_kib(&s);

    for _ in 0..n {
        let mut c = session(s.port, &[]);
        for _ in 0..1 + r.below(4) {
            send(&mut c, &random_message(&mut r));
        }
        send(&mut c, &msg(b'S', &[]));
        send(&mut c, &msg(b'Q', &cstr("select 1")));
        drain(&mut c, true, limit);
    }
    healthy(&mut s, "frontend messages");

    for _ in 0..n {
        let mut c = session(s.port, &[]);
        for _ in 0..1 + r.below(3) {
            send(&mut c, &msg(b'Q', &cstr(&random_sql(&mut r))));
            drain(&mut c, true, limit);
        }
    }
    healthy(&mut s, "random SQL");

    for _ in 0..n / 3 {
        let mut c = session(s.port, &[("replication", "true")]);
        for _ in 0..1 + r.below(3) {
            send(
                &mut c,
                &msg(b'Q', &cstr(&random_replication_command(&mut r))),
            );
            let got = drain(&mut c, true, limit);
            // Inside a started stream (CopyBothResponse), junk status messages.
            if got.contains(&b'W') && !ready(&got) {
                for _ in 0..1 + r.below(3) {
                    let mut body = vec![*r.pick(b"rhpx")];
                    let len = r.below(40);
                    body.extend(r.bytes(len));
                    send(&mut c, &msg(b'd', &body));
                }
                send(&mut c, &msg(*r.pick(b"cfX"), &[]));
                drain(&mut c, true, limit);
            }
        }
    }
    healthy(&mut s, "replication commands");
    assert_eq!(s.psql("select b from fz where a = 1"), "x");

    let end = rss_kib(&s);
    println!(
        "fuzzed {} startup packets, {} message sessions, {} SQL sessions, {} replication sessions in {:?}; RSS {warm} KiB after warm-up, {end} KiB at the end",
        n,
        n,
        n,
        n / 3,
        started.elapsed()
    );
    assert!(
        end < warm * 2 + 128 * 1024,
        "memory grew from {warm} KiB to {end} KiB"
    );
    assert_no_panic(&s);
}

/// The fast-path FunctionCall message is answered with PostgreSQL's error for an
/// unknown function OID, and the connection goes on (it is not a protocol violation).
#[test]
fn function_call_is_an_error_not_a_disconnect() {
    let s = Server::start_new("fastpath");
    let mut c = session(s.port, &[]);
    let mut f = 952u32.to_be_bytes().to_vec(); // lo_open
    f.extend(1i16.to_be_bytes());
    f.extend(1i16.to_be_bytes());
    f.extend(2i16.to_be_bytes());
    f.extend(4i32.to_be_bytes());
    f.extend(1i32.to_be_bytes());
    f.extend(4i32.to_be_bytes());
    f.extend(0x20000i32.to_be_bytes());
    f.extend(1i16.to_be_bytes());
    send(&mut c, &msg(b'F', &f));
    let got = drain(&mut c, true, Duration::from_secs(10));
    let text = String::from_utf8_lossy(&got);
    assert!(got.first() == Some(&b'E') && ready(&got), "{text:?}");
    assert!(
        text.contains("C42883") && text.contains("function with OID 952 does not exist"),
        "{text:?}"
    );
    send(&mut c, &msg(b'Q', &cstr("select 1")));
    let got = drain(&mut c, true, Duration::from_secs(10));
    assert!(
        got.first() == Some(&b'T') && ready(&got),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
}

/// Statements nested deeper than any pass can walk on a backend's stack: each is
/// PostgreSQL's 54001 (or, for a long OR list, its answer), quickly, and the server
/// lives on. Each of these aborted the whole server with a stack overflow, and deep
/// `array[array[…` held a backend for hours.
#[test]
fn deep_statements_are_refused_not_a_crash() {
    let mut s = Server::start_new("deep");
    let mut c = session(s.port, &[]);
    let ors: Vec<String> = (0..20_000).map(|i| format!("g = {i}")).collect();
    let cases = [
        (
            format!(
                "select count(*) from generate_series(1, 10) g where {}",
                ors.join(" or ")
            ),
            None,
        ),
        (
            format!("select {}", vec!["1"; 20_000].join("+")),
            Some("C54001"),
        ),
        (vec!["select 1"; 20_000].join(" union all "), Some("C54001")),
        (
            format!("select 1{}", "::int".repeat(20_000)),
            Some("C54001"),
        ),
        (
            format!("select null::int{}", "[]".repeat(100_000)),
            Some("C54001"),
        ),
        (
            format!("select {}1{}", "(".repeat(5_000), ")".repeat(5_000)),
            Some("C54001"),
        ),
        (
            format!("select {}1{}", "array[".repeat(5_000), "]".repeat(5_000)),
            Some("C54001"),
        ),
    ];
    for (sql, error) in cases {
        let started = Instant::now();
        send(&mut c, &msg(b'Q', &cstr(&sql)));
        let got = drain(&mut c, true, Duration::from_secs(120));
        let text = String::from_utf8_lossy(&got);
        let shown = &sql[..60];
        assert!(
            ready(&got),
            "{shown}…: no answer in {:?}",
            started.elapsed()
        );
        match error {
            Some(code) => assert!(text.contains(code), "{shown}…: {text:?}"),
            None => assert!(got.first() == Some(&b'T'), "{shown}…: {text:?}"),
        }
        healthy(&mut s, shown);
    }
    assert_no_panic(&s);
}
