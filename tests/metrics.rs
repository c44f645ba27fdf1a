//! The metrics endpoint (`metrics_listen_address`, `server::metrics`) against the real
//! `tusk` binary: scrapes `/metrics` over a plain TCP socket, parses the Prometheus
//! text exposition (every line a comment or `name{labels} value`, every family with
//! `# HELP` and `# TYPE`, values numbers), checks that the values move with the work
//! done (commits, rollbacks, WAL, checkpoints, backends), the HTTP refusals (404, 405,
//! 400, 408), concurrent scrapes, a malformed setting and a taken port, a streaming
//! standby's series on both sides, and that the endpoint stops with the server.
//!
//! Every wait is bounded; servers are killed and their directories removed on drop.

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One HTTP exchange: sends `request` as is, reads until the server closes. Returns
/// (status, head with every line ending in CRLF, body).
fn http(port: u16, request: &[u8]) -> (u16, String, String) {
    let mut sock = TcpStream::connect(("127.0.0.1", port)).expect("connect to metrics port");
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    sock.write_all(request).unwrap();
    let mut raw = Vec::new();
    sock.read_to_end(&mut raw).expect("read response");
    let text = String::from_utf8(raw).expect("response is UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("response head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line of {head:?}"));
    (status, format!("{head}\r\n"), body.to_string())
}

/// The parsed exposition: series (name with its labels, as written) → value.
type Samples = BTreeMap<String, f64>;

/// Parses a text exposition strictly (see the file's essay) and returns its samples.
fn parse_exposition(text: &str) -> Samples {
    let mut help: BTreeMap<String, ()> = BTreeMap::new();
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Samples::new();
    assert!(text.ends_with('\n'), "exposition must end with a newline");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, doc) = rest.split_once(' ').expect("HELP text");
            assert!(!doc.is_empty(), "{line}");
            assert!(
                help.insert(name.to_string(), ()).is_none(),
                "HELP twice: {line}"
            );
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE kind");
            assert!(
                ["counter", "gauge", "histogram"].contains(&kind),
                "unknown type: {line}"
            );
            assert!(help.contains_key(name), "TYPE before HELP: {line}");
            assert!(
                types.insert(name.to_string(), kind.to_string()).is_none(),
                "TYPE twice: {line}"
            );
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment: {line}");
        // name{labels} value
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, Some(l)),
            None => (series, None),
        };
        assert!(
            !name.is_empty()
                && name.starts_with("tusk_")
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "metric name: {line}"
        );
        if let Some(l) = labels {
            let l = l
                .strip_suffix('}')
                .unwrap_or_else(|| panic!("labels: {line}"));
            check_labels(l, line);
        }
        let v: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("value is not a number: {line}")),
        };
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).map(String::as_str) == Some("histogram"))
            })
            .unwrap_or(name);
        let kind = types
            .get(family)
            .unwrap_or_else(|| panic!("sample without TYPE: {line}"));
        assert!(help.contains_key(family), "sample without HELP: {line}");
        if kind == "counter" {
            assert!(name.ends_with("_total"), "counter not named _total: {line}");
            assert!(v >= 0.0, "{line}");
        }
        assert!(
            samples.insert(series.to_string(), v).is_none(),
            "series twice: {line}"
        );
    }
    samples
}

/// Checks `k="v",k2="v2"` with Prometheus' escapes.
fn check_labels(l: &str, line: &str) {
    let b = l.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        assert!(i > start, "label name: {line}");
        assert!(
            b.get(i) == Some(&b'=') && b.get(i + 1) == Some(&b'"'),
            "{line}"
        );
        i += 2;
        loop {
            match b.get(i) {
                Some(b'\\') => {
                    assert!(matches!(b.get(i + 1), Some(b'\\' | b'"' | b'n')), "{line}");
                    i += 2;
                }
                Some(b'"') => break,
                Some(_) => i += 1,
                None => panic!("unterminated label value: {line}"),
            }
        }
        i += 1;
        match b.get(i) {
            Some(b',') => i += 1,
            None => {}
            _ => panic!("after label value: {line}"),
        }
    }
}

/// Scrapes `GET /metrics`, checks the response and parses the body.
fn scrape(port: u16) -> Samples {
    let (status, head, body) = http(
        port,
        b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: text/plain\r\n\r\n",
    );
    assert_eq!(status, 200, "{head}\n{body}");
    assert!(
        head.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{head}"
    );
    assert!(
        head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())),
        "{head}"
    );
    parse_exposition(&body)
}

fn get(s: &Samples, series: &str) -> f64 {
    *s.get(series)
        .unwrap_or_else(|| panic!("{series} not exported; have: {:#?}", s.keys()))
}

/// A primary with the metrics endpoint on a free loopback port; returns it and the port.
fn primary_with_metrics(tag: &str) -> (Server, u16) {
    let s = Server::init(tag, &[]);
    let port = free_port();
    s.append_conf(&format!("metrics_listen_address = '127.0.0.1:{port}'\n"));
    (s, port)
}

#[test]
fn scrapes_parse_and_values_move() {
    let (mut s, mport) = primary_with_metrics("metrics-prim");
    s.start();
    assert!(
        s.log_text().contains(&format!(
            "listening for metrics on IPv4 address \"127.0.0.1\", port {mport}"
        )),
        "{}",
        s.log_text()
    );
    let before = scrape(mport);
    assert_eq!(get(&before, "tusk_up"), 1.0);
    assert_eq!(get(&before, "tusk_in_recovery"), 0.0);
    assert_eq!(get(&before, "tusk_max_connections"), 100.0);
    assert_eq!(get(&before, "tusk_timeline_id"), 1.0);
    let started = get(&before, "tusk_start_time_seconds");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        started <= now && started > now - 600.0,
        "{started} vs {now}"
    );
    for state in ["active", "idle", "idle in transaction"] {
        assert!(before.contains_key(&format!("tusk_backends{{state=\"{state}\"}}")));
    }
    assert_eq!(get(&before, "tusk_wal_senders{state=\"streaming\"}"), 0.0);

    // Work: a table, six commits, a rollback, a checkpoint.
    s.psql("create table t (id int primary key, v text)");
    for i in 0..5 {
        s.psql(&format!("insert into t values ({i}, 'row {i}')"));
    }
    s.psql("begin; insert into t values (100, 'no'); rollback");
    s.psql("checkpoint");
    let after = scrape(mport);
    let delta = |k: &str| get(&after, k) - get(&before, k);
    assert!(
        delta("tusk_transactions_committed_total") >= 6.0,
        "{}",
        delta("tusk_transactions_committed_total")
    );
    assert!(delta("tusk_transactions_rolled_back_total") >= 1.0);
    assert!(delta("tusk_wal_records_total") >= 6.0);
    assert!(delta("tusk_wal_bytes_total") > 0.0);
    assert!(delta("tusk_wal_insert_lsn_bytes") > 0.0);
    assert!(delta("tusk_wal_flush_lsn_bytes") > 0.0);
    assert!(get(&after, "tusk_wal_flush_lsn_bytes") <= get(&after, "tusk_wal_insert_lsn_bytes"));
    assert!(delta("tusk_wal_flushes_total") >= 6.0);
    assert!(delta("tusk_wal_fsyncs_total") >= 6.0);
    // The histogram counts every fsync; its buckets are cumulative.
    assert_eq!(
        get(&after, "tusk_wal_fsync_duration_seconds_count"),
        get(&after, "tusk_wal_fsyncs_total")
    );
    assert_eq!(
        get(
            &after,
            "tusk_wal_fsync_duration_seconds_bucket{le=\"+Inf\"}"
        ),
        get(&after, "tusk_wal_fsync_duration_seconds_count")
    );
    let buckets: Vec<f64> = after
        .iter()
        .filter(|(k, _)| k.starts_with("tusk_wal_fsync_duration_seconds_bucket{"))
        .map(|(_, v)| *v)
        .collect();
    assert!(buckets.len() > 5);
    assert!(get(&after, "tusk_wal_fsync_duration_seconds_sum") > 0.0);
    assert!(delta("tusk_checkpoints_requested_total") >= 1.0);
    assert!(get(&after, "tusk_checkpoint_last_time_seconds") >= started.floor());
    assert!(delta("tusk_checkpoint_lsn_bytes") > 0.0);

    // Backends by state: one session left idle in a transaction, one idle (a
    // session registers itself just after its connection is ready: polled).
    let rt = runtime();
    rt.block_on(async {
        let in_txn = s.connect("postgres").await;
        in_txn.batch_execute("begin; select 1").await.unwrap();
        let idle = s.connect("postgres").await;
        idle.batch_execute("select 1").await.unwrap();
        tokio::task::spawn_blocking(move || {
            wait_until("backends idle and idle in transaction", || {
                let m = scrape(mport);
                get(&m, "tusk_backends{state=\"idle in transaction\"}") >= 1.0
                    && get(&m, "tusk_backends{state=\"idle\"}") >= 1.0
            })
        })
        .await
        .unwrap();
        in_txn.batch_execute("commit").await.unwrap();
    });

    // Concurrent scrapes all succeed.
    let threads: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(move || scrape(mport)))
        .collect();
    for t in threads {
        assert_eq!(get(&t.join().unwrap(), "tusk_up"), 1.0);
    }

    // HEAD: the headers of GET, no body.
    let (status, head, body) = http(mport, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, 200, "{head}");
    assert!(body.is_empty(), "{body}");
    assert!(!head.contains("Content-Length: 0\r\n"), "{head}");

    // Refusals.
    let (status, _, body) = http(mport, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((status, body.as_str()), (404, "not found\n"));
    let (status, head, _) = http(mport, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(status, 404, "{head}");
    let (status, head, _) = http(
        mport,
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert_eq!(status, 405, "{head}");
    assert!(head.contains("\r\nAllow: GET, HEAD\r\n"), "{head}");
    for junk in [
        &b"HELLO\r\n\r\n"[..],
        b"GET /metrics\r\n\r\n",
        b"GET /metrics HTTP/9.9\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nbroken header\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    ] {
        let (status, head, _) = http(mport, junk);
        assert_eq!(status, 400, "{junk:?}: {head}");
        assert!(head.contains("\r\nConnection: close\r\n"), "{head}");
    }
    // An oversized head is refused without waiting for its end.
    let mut big = b"GET /metrics HTTP/1.1\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 20_000));
    let (status, _, body) = http(mport, &big);
    assert_eq!((status, body.as_str()), (400, "request head too large\n"));
    // A client that never finishes its head is answered 408 after the read timeout.
    let t = Instant::now();
    let (status, _, _) = http(mport, b"GET /metrics HTTP/1.1\r\nHost:");
    assert_eq!(status, 408);
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
    // Still serving after all that.
    assert_eq!(get(&scrape(mport), "tusk_up"), 1.0);

    // The endpoint stops when a shutdown begins: during a smart shutdown, which waits
    // for the open session, the metrics port is already closed.
    rt.block_on(async {
        let c = s.connect("postgres").await;
        s.signal(libc::SIGTERM);
        tokio::task::spawn_blocking(move || {
            wait_until("the metrics port to close", || {
                TcpStream::connect(("127.0.0.1", mport)).is_err()
            })
        })
        .await
        .unwrap();
        // The server itself still runs: the session is answered.
        c.simple_query("select 1").await.unwrap();
    });
    let status = s.wait_exit(Duration::from_secs(60));
    assert!(status.success(), "{status}");
    assert!(TcpStream::connect(("127.0.0.1", mport)).is_err());
}

#[test]
fn off_by_default_malformed_refused_taken_port_warned() {
    // Off: no metrics line in the log, the server runs.
    let mut s = Server::init("metrics-off", &[]);
    s.start();
    assert!(!s.log_text().contains("listening for metrics"));
    s.stop();

    // Malformed: the configuration check refuses it and the server does not start.
    s.append_conf("metrics_listen_address = '127.0.0.1'\n");
    let status = s.try_start().expect_err("started with a malformed address");
    assert!(!status.success());
    let log = s.log_text();
    assert!(
        log.contains("invalid value for parameter \"metrics_listen_address\": \"127.0.0.1\""),
        "{log}"
    );
    assert!(
        log.contains("Expected host:port, [IPv6 address]:port or *:port."),
        "{log}"
    );

    // A port already taken: a WARNING, and the database serves anyway.
    let taken = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = taken.local_addr().unwrap().port();
    let conf = s.datadir().join("postgresql.conf");
    let text = std::fs::read_to_string(&conf).unwrap().replace(
        "metrics_listen_address = '127.0.0.1'\n",
        &format!("metrics_listen_address = '127.0.0.1:{port}'\n"),
    );
    std::fs::write(&conf, text).unwrap();
    let ready = s.log_text().matches("ready to accept connections").count();
    spawn(&mut s);
    wait_log(&mut s, "ready to accept connections", ready + 1);
    let log = s.log_text();
    assert!(
        log.contains(&format!(
            "WARNING:  could not bind metrics IPv4 address \"127.0.0.1\", port {port}: Address already in use"
        )),
        "{log}"
    );
    assert!(log.contains("WARNING:  metrics are not served"), "{log}");
    assert_eq!(s.psql("select 1"), "1");
    s.stop();
    drop(taken);
}

#[test]
fn streaming_standby_series_on_both_sides() {
    let (mut p, pport) = primary_with_metrics("metrics-sb-prim");
    p.start();
    p.psql("create table t (id int primary key)");
    let mut sb = basebackup(&p, "metrics-sb-stby", &["-Fp", "-Xs", "-R"]);
    let sport = free_port();
    // The copied postgresql.conf names the primary's port: the later line wins.
    sb.append_conf(&format!(
        "cluster_name = 'metrics_standby'\nmetrics_listen_address = '127.0.0.1:{sport}'\n"
    ));
    spawn(&mut sb);
    wait_log(&mut sb, "ready to accept read-only connections", 1);
    p.psql("insert into t values (1)");
    let labels = "{application_name=\"metrics_standby\",client_addr=\"127.0.0.1\"}";
    let start = Instant::now();
    // The standby's replay report reaches the primary's flush position.
    let last = loop {
        let m = scrape(pport);
        let flushed = get(&m, "tusk_wal_flush_lsn_bytes");
        let replayed = m
            .get(&format!("tusk_replication_replay_lsn_bytes{labels}"))
            .copied();
        if replayed.is_some_and(|r| r >= flushed) {
            break m;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "standby never caught up: {m:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        get(&last, &format!("tusk_replication_streaming{labels}")),
        1.0
    );
    assert_eq!(get(&last, "tusk_wal_senders{state=\"streaming\"}"), 1.0);
    for f in ["sent", "write", "flush", "replay"] {
        assert!(get(&last, &format!("tusk_replication_{f}_lsn_bytes{labels}")) > 0.0);
    }
    assert!(
        get(&last, &format!("tusk_replication_sent_lsn_bytes{labels}"))
            >= get(&last, &format!("tusk_replication_replay_lsn_bytes{labels}"))
    );
    // The standby's side.
    wait_for(&sb, "select count(*) from t", "1");
    let m = scrape(sport);
    assert_eq!(get(&m, "tusk_in_recovery"), 1.0);
    assert!(get(&m, "tusk_standby_replay_lsn_bytes") > 0.0);
    assert!(get(&m, "tusk_standby_receive_lsn_bytes") >= get(&m, "tusk_standby_replay_lsn_bytes"));
    assert!(get(&m, "tusk_standby_replay_lag_seconds") >= 0.0);
    assert!(get(&m, "tusk_standby_last_replay_timestamp_seconds") > 0.0);
    assert!(
        !m.contains_key("tusk_wal_insert_lsn_bytes"),
        "a standby has no WAL insert position"
    );
    sb.stop();
    // With the standby gone, its series go too.
    wait_until("the walsender to go", || {
        !scrape(pport).contains_key(&format!("tusk_replication_streaming{labels}"))
    });
    p.stop();
}
