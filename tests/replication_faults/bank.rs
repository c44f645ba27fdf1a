//! The write load of every scenario and the checks made against it: bank transfers
//! with client-side acknowledgement logs, and the comparison of a standby's tables with
//! its primary's.
//!
//! `accounts(id int primary key, balance bigint)` holds [`ACCOUNTS`] rows of
//! [`INITIAL`]. Each client runs `BEGIN; debit a; credit b; INSERT INTO ledger (client,
//! seq, a, b, amount); COMMIT` and records the last `seq` whose COMMIT was
//! acknowledged. A client that loses its connection reconnects (when asked to) and
//! resumes after the highest `seq` the server has for it, so the log stays a gap-free
//! prefix; acknowledged commits the server no longer has are counted as lost
//! ([`Load::lost`]), which only `synchronous_commit = off` allows. The checks ([`check`]) are the crash suite's: money is conserved, every
//! balance equals `INITIAL` plus the ledger's credits minus its debits (no transfer half
//! applied), every client's ledger rows are `1..=m`, and `m` is compared with what was
//! acknowledged.

use crate::common::*;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Number of accounts.
pub const ACCOUNTS: i32 = 20;
/// Opening balance of every account.
pub const INITIAL: i64 = 1_000_000;

/// Rounds for the scenarios that repeat a fault, from `TUSK_REPL_ROUNDS` (`default` when
/// unset: the short CI mode).
pub fn rounds(default: usize) -> usize {
    std::env::var("TUSK_REPL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The run's random seed, from `TUSK_REPL_SEED` or the clock; printed for replays.
pub fn seed(tag: &str) -> u64 {
    let s = std::env::var("TUSK_REPL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("{tag}: TUSK_REPL_SEED={s}");
    s
}

/// Creates the tables (committed synchronously).
pub fn create_schema(s: &Server) {
    let values: Vec<String> = (1..=ACCOUNTS)
        .map(|i| format!("({i}, {INITIAL})"))
        .collect();
    s.psql(&format!(
        "create table accounts (id int primary key, balance bigint not null); \
         create table ledger (client int, seq int, a int not null, b int not null, amount bigint not null, primary key (client, seq)); \
         insert into accounts values {}",
        values.join(",")
    ));
}

/// A running load: `clients` tasks on a tokio runtime.
pub struct Load {
    stop: Arc<AtomicBool>,
    handles: Vec<tokio::task::JoinHandle<()>>,
    /// Client id and the last acknowledged seq, per client.
    pub acked: Vec<(i32, Arc<AtomicU64>)>,
    /// What all clients counted.
    pub counters: Arc<Counters>,
}

/// Counts shared by the clients of a [`Load`].
#[derive(Default)]
pub struct Counters {
    /// Commits acknowledged so far.
    pub commits: AtomicU64,
    /// Acknowledged commits a reconnecting client found missing on the server (only
    /// possible with `synchronous_commit = off`).
    pub lost: AtomicU64,
}

impl Load {
    /// Starts `clients` clients with ids `first_id..` against `conninfo`.
    pub fn start(
        rt: &tokio::runtime::Runtime,
        conninfo: &str,
        clients: usize,
        first_id: i32,
        reconnect: bool,
        seed: u64,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let mut handles = Vec::new();
        let mut acked = Vec::new();
        for k in 0..clients {
            let id = first_id + k as i32;
            let a = Arc::new(AtomicU64::new(0));
            acked.push((id, a.clone()));
            handles.push(rt.spawn(client(
                conninfo.to_string(),
                id,
                seed.wrapping_add(k as u64),
                a,
                counters.clone(),
                stop.clone(),
                reconnect,
            )));
        }
        Load {
            stop,
            handles,
            acked,
            counters,
        }
    }

    /// Waits (bounded) until `n` more commits than now were acknowledged.
    pub fn wait_commits(&self, n: u64, what: &str) {
        let start = self.counters.commits.load(Ordering::SeqCst);
        let t = Instant::now();
        while self.counters.commits.load(Ordering::SeqCst) < start + n {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "{what}: fewer than {n} commits in 30s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the clients and waits (bounded) for them; returns the acknowledged seqs.
    pub fn stop(self, rt: &tokio::runtime::Runtime) -> HashMap<i32, u64> {
        self.stop.store(true, Ordering::SeqCst);
        rt.block_on(async {
            for h in self.handles {
                tokio::time::timeout(Duration::from_secs(30), h)
                    .await
                    .expect("a client did not stop within 30s")
                    .expect("client task panicked");
            }
        });
        self.acked
            .iter()
            .map(|(id, a)| (*id, a.load(Ordering::SeqCst)))
            .collect()
    }
}

async fn connect(conninfo: &str) -> Option<tokio_postgres::Client> {
    let (c, conn) = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_postgres::connect(conninfo, tokio_postgres::NoTls),
    )
    .await
    .ok()?
    .ok()?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Some(c)
}

/// One client: transfers until `stop`; after a lost connection it reconnects when
/// `reconnect`, else it ends.
async fn client(
    conninfo: String,
    id: i32,
    seed: u64,
    acked: Arc<AtomicU64>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    reconnect: bool,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    while !stop.load(Ordering::SeqCst) {
        let Some(c) = connect(&conninfo).await else {
            if !reconnect {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let setup = async {
            c.batch_execute("set statement_timeout = '5s'").await?;
            let row = c
                .query_one(
                    "select coalesce(max(seq), 0) from ledger where client = $1::int",
                    &[&id],
                )
                .await?;
            let last: i32 = row.get(0);
            let debit = c
                .prepare("update accounts set balance = balance - $1::bigint where id = $2::int")
                .await?;
            let credit = c
                .prepare("update accounts set balance = balance + $1::bigint where id = $2::int")
                .await?;
            let ledger = c
                .prepare("insert into ledger (client, seq, a, b, amount) values ($1::int, $2::int, $3::int, $4::int, $5::bigint)")
                .await?;
            Ok::<_, tokio_postgres::Error>((last, debit, credit, ledger))
        }
        .await;
        let Ok((last, debit, credit, ledger)) = setup else {
            if !reconnect {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        // What the server lacks of what it acknowledged is lost: counted, and the log
        // goes on from what is there.
        let had = acked.load(Ordering::SeqCst);
        if (last as u64) < had {
            counters.lost.fetch_add(had - last as u64, Ordering::SeqCst);
            acked.store(last as u64, Ordering::SeqCst);
        }
        let mut seq = last + 1;
        while !stop.load(Ordering::SeqCst) {
            let a = rng.gen_range(1..=ACCOUNTS);
            let mut b = rng.gen_range(1..ACCOUNTS);
            if b >= a {
                b += 1;
            }
            let amount: i64 = rng.gen_range(1..=1000);
            let r: Result<(), tokio_postgres::Error> = async {
                c.batch_execute("begin").await?;
                c.execute(&debit, &[&amount, &a]).await?;
                c.execute(&credit, &[&amount, &b]).await?;
                c.execute(&ledger, &[&id, &seq, &a, &b, &amount]).await?;
                c.batch_execute("commit").await?;
                Ok(())
            }
            .await;
            match r {
                Ok(()) => {
                    acked.store(seq as u64, Ordering::SeqCst);
                    counters.commits.fetch_add(1, Ordering::SeqCst);
                    seq += 1;
                }
                Err(e) if e.as_db_error().is_some() && !c.is_closed() => {
                    // Deadlock, serialization failure, timeout: roll back and retry.
                    if c.batch_execute("rollback").await.is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        if !reconnect {
            return;
        }
    }
}

/// One ledger row: (a, b, amount).
pub type Entry = (i32, i32, i64);

/// Reads accounts and ledger of `s` with psql.
pub fn read_state(s: &Server) -> (BTreeMap<i32, i64>, BTreeMap<(i32, i32), Entry>) {
    let accounts = s
        .psql("select id, balance from accounts")
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            (f[0].parse().unwrap(), f[1].parse().unwrap())
        })
        .collect();
    let ledger = s
        .psql("select client, seq, a, b, amount from ledger")
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            (
                (f[0].parse().unwrap(), f[1].parse().unwrap()),
                (
                    f[2].parse().unwrap(),
                    f[3].parse().unwrap(),
                    f[4].parse().unwrap(),
                ),
            )
        })
        .collect();
    (accounts, ledger)
}

/// What [`check`] found about acknowledged commits.
#[derive(Default, Debug, Clone, Copy)]
pub struct Verdict {
    /// Ledger rows present.
    pub rows: u64,
    /// Acknowledged commits missing.
    pub lost: u64,
    /// Transactions in flight (not acknowledged) found committed.
    pub in_flight: u64,
}

/// Checks the bank invariants on `s` and compares each client's ledger with `acked`;
/// lost acknowledged commits fail the test unless `allow_loss` (they are counted).
pub fn check(s: &Server, acked: &HashMap<i32, u64>, allow_loss: bool, what: &str) -> Verdict {
    let (accounts, ledger) = read_state(s);
    assert_eq!(accounts.len(), ACCOUNTS as usize, "{what}: accounts lost");
    let total: i64 = accounts.values().sum();
    assert_eq!(
        total,
        INITIAL * ACCOUNTS as i64,
        "{what}: money not conserved"
    );
    let mut expect: BTreeMap<i32, i64> = (1..=ACCOUNTS).map(|i| (i, INITIAL)).collect();
    for (a, b, amount) in ledger.values() {
        *expect.get_mut(a).unwrap() -= amount;
        *expect.get_mut(b).unwrap() += amount;
    }
    assert_eq!(
        accounts, expect,
        "{what}: balances do not match the ledger (a transaction is half applied)"
    );
    let mut v = Verdict {
        rows: ledger.len() as u64,
        ..Verdict::default()
    };
    let mut by_client: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for (c, q) in ledger.keys() {
        by_client.entry(*c).or_default().push(*q);
    }
    for (c, seqs) in &by_client {
        assert!(
            seqs.iter().enumerate().all(|(i, q)| *q as usize == i + 1),
            "{what}: client {c}'s ledger has a gap: {seqs:?}"
        );
    }
    for (c, a) in acked {
        let m = by_client.get(c).map_or(0, |v| v.len()) as u64;
        assert!(
            m <= a + 1,
            "{what}: client {c} has {m} ledger rows but only {a} were acknowledged"
        );
        if m < *a {
            assert!(
                allow_loss,
                "{what}: client {c}: acknowledged commit lost: {m} ledger rows, {a} acknowledged"
            );
            v.lost += a - m;
        }
        if m == a + 1 {
            v.in_flight += 1;
        }
    }
    v
}

/// Parses an `X/Y` LSN.
pub fn parse_lsn(t: &str) -> u64 {
    let (hi, lo) = t
        .trim()
        .split_once('/')
        .unwrap_or_else(|| panic!("not an LSN: {t:?}"));
    (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap()
}

/// Waits (bounded by `limit`) until `standby` has replayed everything `primary` has
/// written now, then checks that both hold the same data; returns how long it took.
pub fn converge(primary: &Server, standby: &Server, limit: Duration, what: &str) -> Duration {
    let took = catch_up(primary, standby, limit, what);
    let (pa, pl) = read_state(primary);
    let (sa, sl) = read_state(standby);
    if pa != sa || pl != sl {
        let only_p: Vec<_> = pl.iter().filter(|(k, v)| sl.get(k) != Some(v)).collect();
        let only_s: Vec<_> = sl.iter().filter(|(k, v)| pl.get(k) != Some(v)).collect();
        panic!(
            "{what}: the standby's data differs from the primary's: ledger rows only (or different) on the primary: {only_p:?}; on the standby: {only_s:?}\nprimary log:\n{}\nstandby log:\n{}",
            tail(&primary.log_text(), 40),
            tail(&standby.log_text(), 40)
        );
    }
    took
}

/// Waits (bounded by `limit`) until `standby` has replayed everything `primary` has
/// inserted now; returns how long it took. (The insert position, not
/// `pg_current_wal_lsn()`, the write position: with `synchronous_commit = off` the last
/// acknowledged commits may not be written yet, and the standby gets them only once
/// the WAL writer has flushed them.)
pub fn catch_up(primary: &Server, standby: &Server, limit: Duration, what: &str) -> Duration {
    let start = Instant::now();
    let target = parse_lsn(&primary.psql("select pg_current_wal_insert_lsn()"));
    loop {
        let out = standby.psql_as(
            "postgres",
            "postgres",
            None,
            "select pg_last_wal_replay_lsn()",
        );
        let got = stdout(&out);
        if out.status.success() && !got.trim().is_empty() && parse_lsn(&got) >= target {
            break;
        }
        assert!(
            start.elapsed() < limit,
            "{what}: the standby did not replay up to {target:X} within {limit:?} (at {:?}, {}); standby log:\n{}",
            got.trim(),
            stderr(&out),
            tail(&standby.log_text(), 60)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Waits (bounded) until the primary shows exactly one walsender, streaming.
pub fn wait_streaming(primary: &Server, what: &str) {
    let start = Instant::now();
    loop {
        let out = primary.psql_as(
            "postgres",
            "postgres",
            None,
            "select state from pg_stat_replication",
        );
        let got = stdout(&out).trim().to_string();
        if got == "streaming" {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what}: pg_stat_replication shows {got:?}, not one streaming walsender; primary log:\n{}",
            tail(&primary.log_text(), 40)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits (bounded) until the standby's `pg_stat_wal_receiver` shows it streaming.
pub fn wait_receiving(standby: &Server, what: &str) {
    let start = Instant::now();
    loop {
        let out = standby.psql_as(
            "postgres",
            "postgres",
            None,
            "select status from pg_stat_wal_receiver",
        );
        let got = stdout(&out).trim().to_string();
        if got == "streaming" {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what}: pg_stat_wal_receiver shows {got:?}, not streaming; standby log:\n{}",
            tail(&standby.log_text(), 40)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
