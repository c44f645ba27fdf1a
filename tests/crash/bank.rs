//! The bank-transfer crash test (issue 3 evidence).
//!
//! `accounts(id int primary key, balance bigint)` holds `ACCOUNTS` rows of `INITIAL`
//! each. `CLIENTS` tokio-postgres clients each run transfers
//! `BEGIN; UPDATE … -x WHERE id=a; UPDATE … +x WHERE id=b; INSERT INTO ledger …; COMMIT`
//! where the ledger row carries `(client, seq, a, b, amount)`, and remember the last
//! `seq` whose COMMIT was acknowledged. At a random moment the server is SIGKILLed, then
//! restarted, and the data is checked:
//!
//! 1. the sum of balances is unchanged;
//! 2. every account's balance equals `INITIAL` plus the credits minus the debits of the
//!    ledger rows present — so a ledger row is present exactly when its transfer was
//!    applied (atomicity), whatever subset survived;
//! 3. each client's ledger rows are `1..=m` with no gaps, and with
//!    `synchronous_commit = on`, `acked <= m <= acked + 1` (only the one transaction in
//!    flight at the kill may or may not be there); with `off`, `m <= acked + 1` (lost
//!    acknowledged commits are allowed, and counted);
//! 4. rows verified after an earlier round are still there after later crashes.
//!
//! Rounds run against the same data directory (recovery after recovery), some with a
//! concurrent `CHECKPOINT` loop. `TUSK_CRASH_ROUNDS` sets the number of rounds (default
//! 3); `TUSK_CRASH_SEED` replays a run. Transactions that fail with a server error
//! (serialization failure, deadlock, statement timeout…) are rolled back, retried with the
//! same `seq`, and counted by SQLSTATE in the printed summary.

use crate::common::*;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) const ACCOUNTS: i32 = 50;
pub(crate) const INITIAL: i64 = 1_000_000;
pub(crate) const CLIENTS: usize = 8;

/// Rounds to run, from `TUSK_CRASH_ROUNDS` (default 3).
pub fn rounds() -> usize {
    std::env::var("TUSK_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// The run's random seed, from `TUSK_CRASH_SEED` or the clock; printed so a failure can
/// be replayed.
pub fn seed(tag: &str) -> u64 {
    let s = std::env::var("TUSK_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("{tag}: TUSK_CRASH_SEED={s}");
    s
}

/// What one client saw.
#[derive(Default)]
pub(crate) struct ClientLog {
    /// The last seq whose COMMIT returned success.
    pub(crate) acked: AtomicU64,
    /// The seq being attempted (acked + 1 while a transaction is open).
    pub(crate) attempting: AtomicU64,
}

/// Counts shared by all clients of a round.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) commits: AtomicU64,
    pub(crate) errors: Mutex<BTreeMap<String, u64>>,
}

/// One ledger row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) a: i32,
    pub(crate) b: i32,
    pub(crate) amount: i64,
}

pub(crate) async fn connect(conninfo: &str) -> Option<tokio_postgres::Client> {
    let (c, conn) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls)
        .await
        .ok()?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Some(c)
}

/// One client's loop; returns when the connection breaks (the kill) or `stop` is set.
pub(crate) async fn client(
    conninfo: String,
    id: i32,
    seed: u64,
    log: Arc<ClientLog>,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let Some(c) = connect(&conninfo).await else {
        return;
    };
    if c.batch_execute("set statement_timeout = '3s'")
        .await
        .is_err()
    {
        return;
    }
    let (Ok(debit), Ok(credit), Ok(ledger)) = (
        c.prepare("update accounts set balance = balance - $1::bigint where id = $2::int")
            .await,
        c.prepare("update accounts set balance = balance + $1::bigint where id = $2::int")
            .await,
        c.prepare(
            "insert into ledger (client, seq, a, b, amount) values ($1::int, $2::int, $3::int, $4::int, $5::bigint)",
        )
        .await,
    ) else {
        return;
    };
    let mut seq: i32 = 1;
    while !stop.load(Ordering::SeqCst) {
        let a = rng.gen_range(1..=ACCOUNTS);
        let mut b = rng.gen_range(1..ACCOUNTS);
        if b >= a {
            b += 1;
        }
        let amount: i64 = rng.gen_range(1..=1000);
        log.attempting.store(seq as u64, Ordering::SeqCst);
        let r: Result<(), tokio_postgres::Error> = async {
            c.batch_execute("begin").await?;
            let n = c.execute(&debit, &[&amount, &a]).await?;
            assert_eq!(n, 1, "debit of account {a} updated {n} rows");
            let n = c.execute(&credit, &[&amount, &b]).await?;
            assert_eq!(n, 1, "credit of account {b} updated {n} rows");
            c.execute(&ledger, &[&id, &seq, &a, &b, &amount]).await?;
            c.batch_execute("commit").await?;
            Ok(())
        }
        .await;
        match r {
            Ok(()) => {
                log.acked.store(seq as u64, Ordering::SeqCst);
                stats.commits.fetch_add(1, Ordering::SeqCst);
                seq += 1;
            }
            Err(e) => {
                let Some(db) = e.as_db_error() else {
                    return; // the connection is gone: the kill
                };
                *stats
                    .errors
                    .lock()
                    .unwrap()
                    .entry(format!("{} {}", db.code().code(), db.message()))
                    .or_default() += 1;
                if c.batch_execute("rollback").await.is_err() {
                    return;
                }
            }
        }
    }
}

/// How many ledger rows client `cid` has, asserting (`what` names the place) that
/// its sequence numbers run 1..=m without a gap.
pub(crate) fn client_rows(ledger: &HashMap<(i32, i32), Entry>, cid: i32, what: &str) -> u64 {
    let mut seqs: Vec<i32> = ledger
        .keys()
        .filter(|(c, _)| *c == cid)
        .map(|(_, q)| *q)
        .collect();
    seqs.sort_unstable();
    assert!(
        seqs.iter().enumerate().all(|(i, q)| *q as usize == i + 1),
        "{what}: ledger seqs have a gap: {seqs:?}"
    );
    seqs.len() as u64
}

/// Reads the accounts and the ledger.
pub(crate) async fn read_state(conninfo: &str) -> (HashMap<i32, i64>, HashMap<(i32, i32), Entry>) {
    let c = connect(conninfo).await.expect("connect after restart");
    let accounts = c
        .query("select id, balance from accounts", &[])
        .await
        .expect("read accounts")
        .iter()
        .map(|r| (r.get::<_, i32>(0), r.get::<_, i64>(1)))
        .collect();
    let ledger = c
        .query("select client, seq, a, b, amount from ledger", &[])
        .await
        .expect("read ledger")
        .iter()
        .map(|r| {
            (
                (r.get::<_, i32>(0), r.get::<_, i32>(1)),
                Entry {
                    a: r.get(2),
                    b: r.get(3),
                    amount: r.get(4),
                },
            )
        })
        .collect();
    (accounts, ledger)
}

/// Checks invariants 1 and 2 (money is conserved; each balance matches the ledger).
pub(crate) fn check_balances(accounts: &HashMap<i32, i64>, ledger: &HashMap<(i32, i32), Entry>) {
    assert_eq!(
        accounts.len(),
        ACCOUNTS as usize,
        "accounts lost or duplicated"
    );
    let total: i64 = accounts.values().sum();
    assert_eq!(
        total,
        INITIAL * ACCOUNTS as i64,
        "money was created or destroyed"
    );
    let mut expect: HashMap<i32, i64> = (1..=ACCOUNTS).map(|i| (i, INITIAL)).collect();
    for e in ledger.values() {
        *expect.get_mut(&e.a).unwrap() -= e.amount;
        *expect.get_mut(&e.b).unwrap() += e.amount;
    }
    for (id, bal) in accounts {
        assert_eq!(
            *bal, expect[id],
            "account {id}: balance {bal} but the ledger says {} (a transfer is half applied, or applied without its ledger row, or vice versa)",
            expect[id]
        );
    }
}

/// The statements creating and filling `accounts` and `ledger`, then a checkpoint
/// (committed synchronously whatever the server's `synchronous_commit`).
pub(crate) fn schema_sql() -> String {
    let mut values = String::new();
    for i in 1..=ACCOUNTS {
        if i > 1 {
            values.push(',');
        }
        values.push_str(&format!("({i}, {INITIAL})"));
    }
    format!(
        "set synchronous_commit = on; create table accounts (id int primary key, balance bigint not null); \
         create table ledger (client int, seq int, a int not null, b int not null, amount bigint not null, primary key (client, seq)); \
         insert into accounts values {values}; checkpoint"
    )
}

/// Runs the whole scenario with `synchronous_commit` on or off; with `storm`, every
/// round runs back-to-back checkpoints (so the kill usually lands inside one), the
/// cluster has 1 MiB WAL segments (recycled by those checkpoints) and at least 10
/// rounds are run.
pub fn run(sync_commit: bool, storm: bool) {
    let tag = match (sync_commit, storm) {
        (true, false) => "bank-sync",
        (false, false) => "bank-async",
        (true, true) => "bank-sync-ckpt",
        (false, true) => "bank-async-ckpt",
    };
    let rounds = if storm { rounds().max(10) } else { rounds() };
    let seed = seed(tag);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    // With checkpoints racing, 1 MiB segments: the WAL crosses many segment boundaries
    // and every checkpoint recycles old segments into future ones, so kills land while
    // the writer moves into recycled files too.
    let init_args: &[&str] = if storm { &["--wal-segsize=1"] } else { &[] };
    let mut s = Server::init(tag, init_args);
    if !sync_commit {
        s.append_conf("synchronous_commit = off\n");
    }
    s.try_start()
        .unwrap_or_else(|e| panic!("start: {e}\n{}", s.log_text()));
    // The schema is committed synchronously in both modes.
    s.psql(&schema_sql());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let conninfo = s.conninfo("postgres");
    // Ledger rows verified after each earlier round, which must never go away.
    let mut verified: HashMap<(i32, i32), Entry> = HashMap::new();
    let mut total_commits = 0u64;
    let mut lost_acked = 0u64;
    let mut in_flight_present = 0u64;
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let test_start = Instant::now();
    for round in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Stats::default());
        let logs: Vec<Arc<ClientLog>> = (0..CLIENTS).map(|_| Arc::default()).collect();
        let base = (round as i32 + 1) * 1000;
        let mut handles = Vec::new();
        for (k, log) in logs.iter().enumerate() {
            handles.push(rt.spawn(client(
                conninfo.clone(),
                base + k as i32,
                rng.gen(),
                log.clone(),
                stats.clone(),
                stop.clone(),
            )));
        }
        // Every other round, checkpoints race the transfers.
        let checkpointer = (storm || round % 2 == 1).then(|| {
            let conninfo = conninfo.clone();
            let stop = stop.clone();
            rt.spawn(async move {
                let Some(c) = connect(&conninfo).await else {
                    return 0u32;
                };
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    if c.batch_execute("checkpoint").await.is_err() {
                        break;
                    }
                    n += 1;
                    if !storm {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                n
            })
        });
        // Let some transfers commit, then kill at a random moment.
        let wait_start = Instant::now();
        while stats.commits.load(Ordering::SeqCst) < 5 {
            assert!(
                wait_start.elapsed() < Duration::from_secs(20),
                "round {round}: fewer than 5 commits in 20s; errors {:?}; log:\n{}",
                stats.errors.lock().unwrap(),
                s.log_text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..1500)));
        s.crash();
        stop.store(true, Ordering::SeqCst);
        rt.block_on(async {
            for h in handles {
                tokio::time::timeout(Duration::from_secs(30), h)
                    .await
                    .expect("client did not notice the kill within 30s")
                    .expect("client task panicked");
            }
        });
        let checkpoints = checkpointer.map(|h| rt.block_on(h).unwrap_or(0));
        let commits = stats.commits.load(Ordering::SeqCst);
        total_commits += commits;
        for (k, v) in stats.errors.lock().unwrap().iter() {
            *errors.entry(k.clone()).or_default() += v;
        }
        let started = Instant::now();
        s.try_start()
            .unwrap_or_else(|e| panic!("round {round}: restart failed: {e}\n{}", s.log_text()));
        let recovery = started.elapsed();
        let (accounts, ledger) = rt.block_on(read_state(&conninfo));
        check_balances(&accounts, &ledger);
        for (key, e) in &verified {
            assert_eq!(
                ledger.get(key),
                Some(e),
                "round {round}: ledger row {key:?} verified after an earlier round is gone"
            );
        }
        for (k, log) in logs.iter().enumerate() {
            let cid = base + k as i32;
            let acked = log.acked.load(Ordering::SeqCst);
            let attempting = log.attempting.load(Ordering::SeqCst);
            let m = client_rows(&ledger, cid, &format!("round {round} client {cid}"));
            assert!(
                m <= acked + 1 && m <= attempting.max(acked),
                "round {round} client {cid}: {m} ledger rows but only {acked} acknowledged and {attempting} attempted"
            );
            if sync_commit {
                assert!(
                    m >= acked,
                    "round {round} client {cid}: acknowledged commit lost: {m} ledger rows, {acked} acknowledged"
                );
            } else {
                lost_acked += acked.saturating_sub(m);
            }
            if m == acked + 1 {
                in_flight_present += 1;
            }
        }
        eprintln!(
            "{tag} round {round}: {commits} commits acknowledged, {} ledger rows in all, checkpoints {checkpoints:?}, recovery {recovery:?}",
            ledger.len()
        );
        verified = ledger;
    }
    // A clean shutdown and restart keeps everything.
    s.stop();
    s.try_start()
        .unwrap_or_else(|e| panic!("restart failed: {e}\n{}", s.log_text()));
    let (accounts, ledger) = rt.block_on(read_state(&conninfo));
    check_balances(&accounts, &ledger);
    assert_eq!(ledger, verified, "a clean restart changed the ledger");
    eprintln!(
        "{tag}: {} rounds in {:?}: {total_commits} commits acknowledged, {lost_acked} acknowledged commits lost (allowed only with synchronous_commit = off), {in_flight_present} in-flight transactions found committed; retried errors: {errors:?}",
        rounds,
        test_start.elapsed()
    );
}

#[test]
fn bank_transfers_survive_kill_9() {
    run(true, false);
}

#[test]
fn bank_transfers_survive_kill_9_without_synchronous_commit() {
    run(false, false);
}

/// The kill lands inside a checkpoint: the images already written must not hold changes
/// whose WAL is not on disk (WAL before data).
#[test]
fn bank_transfers_survive_kill_9_during_checkpoints() {
    run(true, true);
}

/// As above with `synchronous_commit = off`, where the WAL of acknowledged commits may
/// still be in memory when the checkpoint starts writing images.
#[test]
fn bank_transfers_survive_kill_9_during_checkpoints_without_synchronous_commit() {
    run(false, true);
}
