//! Many connections at once: concurrent clients doing mixed reads and writes (single-row
//! reads and increments by primary key) for a while, every acknowledged increment
//! counted and found afterwards; then many idle connections held open while the server
//! still answers, with its memory measured per connection.
//!
//! CI runs the short mode (`TUSK_LOAD_CLIENTS` = 100 busy clients for
//! `TUSK_LOAD_SECONDS` = 5, then `TUSK_LOAD_IDLE` = 300 idle ones); the figures
//! are `TUSK_LOAD_CLIENTS=1000 TUSK_LOAD_SECONDS=120 TUSK_LOAD_IDLE=2000 cargo test
//! --release --test load -- --nocapture`. No error is tolerated below max_connections.

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

const KEYS: i32 = 1000;

#[test]
fn many_busy_then_many_idle_connections() {
    // (each client connection is a socket in this process too)
    tusk::server::raise_open_file_limit();
    let clients = env_or("TUSK_LOAD_CLIENTS", 100);
    let seconds = env_or("TUSK_LOAD_SECONDS", 5);
    let idle = env_or("TUSK_LOAD_IDLE", 300);
    let mut s = Server::init("load", &[]);
    s.append_conf(&format!(
        "max_connections = {}\nsynchronous_commit = on\n",
        clients.max(idle) + 20
    ));
    s.start();
    s.psql(&format!(
        "create table kv (k int primary key, v bigint not null); \
         insert into kv select g, 0 from generate_series(1, {KEYS}) g"
    ));
    let pid = s.child.as_ref().unwrap().id();
    let rss_start = rss_kib(pid);
    let conninfo = s.conninfo("postgres");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // Busy clients.
    let updates = Arc::new(AtomicU64::new(0));
    let reads = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut tasks = Vec::new();
        for i in 0..clients {
            let conninfo = conninfo.clone();
            let updates = updates.clone();
            let reads = reads.clone();
            tasks.push(tokio::spawn(async move {
                let (c, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
                    .await
                    .unwrap_or_else(|e| panic!("client {i} could not connect: {e}"));
                tokio::spawn(conn);
                let read = c.prepare("select v from kv where k = $1").await.unwrap();
                let write = c
                    .prepare("update kv set v = v + 1 where k = $1")
                    .await
                    .unwrap();
                let mut x = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                while Instant::now() < deadline {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let k = (x % KEYS as u64) as i32 + 1;
                    if x % 10 < 3 {
                        let n = c
                            .execute(&write, &[&k])
                            .await
                            .unwrap_or_else(|e| panic!("client {i}: update failed: {e}"));
                        assert_eq!(n, 1);
                        updates.fetch_add(1, Ordering::Relaxed);
                    } else {
                        let rows = c
                            .query(&read, &[&k])
                            .await
                            .unwrap_or_else(|e| panic!("client {i}: select failed: {e}"));
                        assert_eq!(rows.len(), 1);
                        reads.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for t in tasks {
            t.await.expect("a client failed");
        }
    });
    let busy_for = started.elapsed();
    let rss_busy = rss_kib(pid);
    let acknowledged = updates.load(Ordering::Relaxed);
    assert_eq!(
        s.psql("select sum(v) from kv"),
        acknowledged.to_string(),
        "every acknowledged increment is there, nothing more"
    );

    // Idle connections held open; the server still answers.
    let rss_before_idle = rss_kib(pid);
    rt.block_on(async {
        let mut held = Vec::new();
        for i in 0..idle {
            let (c, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("idle connection {i}: {e}"));
            tokio::spawn(conn);
            held.push(c);
        }
        let probe = held.last().unwrap();
        let row = probe.query_one("select count(*) from pg_stat_activity", &[]).await.unwrap();
        let n: i64 = row.get(0);
        assert!(n as u64 >= idle, "pg_stat_activity shows {n} sessions");
        let rss_idle = rss_kib(pid);
        let per = (rss_idle.saturating_sub(rss_before_idle)) as f64 / idle.max(1) as f64;
        println!(
            "{clients} busy clients for {busy_for:?}: {acknowledged} increments and {} reads acknowledged, all present; \
             {idle} idle connections held; server RSS {rss_start} KiB at start, {rss_busy} KiB after the busy phase, \
             {rss_idle} KiB with the idle connections ({per:.0} KiB per idle connection)",
            reads.load(Ordering::Relaxed)
        );
        // Bounded: well under a megabyte per idle connection.
        assert!(per < 1024.0, "{per:.0} KiB per idle connection");
        drop(held);
    });
    assert_eq!(s.psql("select 1"), "1");
}
