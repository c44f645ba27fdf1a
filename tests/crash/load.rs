//! The bank workload of [`crate::bank`] as a tool for the storage-fault scenarios
//! ([`crate::fsync`], [`crate::disk_full`]): start clients, stop them, and check after
//! a restart that what the clients were told matches what is there.
//!
//! The check is the bank's (with `synchronous_commit = on`): money is conserved, every
//! balance matches the ledger, each client's ledger rows are `1..=m` with
//! `acked <= m <= acked + 1` — nothing acknowledged is lost, and the only transaction
//! that may be there without an acknowledgement is the one the client was waiting on
//! when the fault hit — and rows verified earlier are still there.

use crate::bank::{
    check_balances, client, client_rows, read_state, ClientLog, Entry, Stats, CLIENTS,
};
use crate::common::*;
use rand::Rng;
use std::collections::{BTreeMap, HashMap};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Starts `tusk run` with extra environment variables and waits (bounded) until it is
/// ready or has exited; the exit status is the error.
pub(crate) fn start_env(s: &mut Server, env: &[(&str, String)]) -> Result<(), ExitStatus> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&s.log)
        .unwrap();
    let before = s.log_text().matches("ready to accept connections").count();
    let mut cmd = Command::new(tusk_bin());
    cmd.arg("run")
        .arg("-D")
        .arg(s.datadir())
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    for (k, v) in env {
        cmd.env(k, v);
    }
    s.child = Some(cmd.spawn().unwrap());
    let start = Instant::now();
    loop {
        if let Some(status) = s.child.as_mut().unwrap().try_wait().unwrap() {
            s.child = None;
            return Err(status);
        }
        if s.log_text().matches("ready to accept connections").count() > before
            && std::net::TcpStream::connect(("127.0.0.1", s.port)).is_ok()
        {
            return Ok(());
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "server did not start within 60s; log:\n{}",
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The distinct PANIC, FATAL and ERROR messages of a log excerpt, without the line
/// prefix (what a fault round reports it saw).
pub(crate) fn problems_logged(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("PANIC") || l.contains("FATAL") || l.contains("ERROR"))
        .map(|l| l.split_once("] ").map_or(l, |(_, m)| m).to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Running bank clients.
pub(crate) struct Load {
    pub(crate) stats: Arc<Stats>,
    logs: Vec<Arc<ClientLog>>,
    stop: Arc<AtomicBool>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// Starts `CLIENTS` transfer clients with ids from `base`.
    pub(crate) fn start(
        rt: &tokio::runtime::Runtime,
        conninfo: &str,
        base: i32,
        rng: &mut impl Rng,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Stats::default());
        let logs: Vec<Arc<ClientLog>> = (0..CLIENTS).map(|_| Arc::default()).collect();
        let handles = logs
            .iter()
            .enumerate()
            .map(|(k, log)| {
                rt.spawn(client(
                    conninfo.to_string(),
                    base + k as i32,
                    rng.gen(),
                    log.clone(),
                    stats.clone(),
                    stop.clone(),
                ))
            })
            .collect();
        Load {
            stats,
            logs,
            stop,
            handles,
        }
    }

    /// The errors the clients got so far, by SQLSTATE and message.
    pub(crate) fn errors(&self) -> BTreeMap<String, u64> {
        self.stats.errors.lock().unwrap().clone()
    }

    /// Stops the clients (bounded) and returns the logs to check.
    pub(crate) fn stop(self, rt: &tokio::runtime::Runtime) -> Vec<Arc<ClientLog>> {
        self.stop.store(true, Ordering::SeqCst);
        rt.block_on(async {
            for h in self.handles {
                tokio::time::timeout(Duration::from_secs(30), h)
                    .await
                    .expect("client did not stop within 30s")
                    .expect("client task panicked");
            }
        });
        self.logs
    }
}

/// What a check after a restart found.
pub(crate) struct Checked {
    /// Ledger rows present in all.
    pub(crate) rows: usize,
    /// Clients whose unacknowledged last transaction is there.
    pub(crate) in_flight_present: u64,
    /// The whole ledger (to be kept by later rounds).
    pub(crate) ledger: HashMap<(i32, i32), Entry>,
}

/// Reads the data back and checks it against the clients' logs (see the module
/// essay); `verified` holds the rows checked by earlier rounds.
pub(crate) fn check(
    rt: &tokio::runtime::Runtime,
    s: &Server,
    base: i32,
    logs: &[Arc<ClientLog>],
    verified: &HashMap<(i32, i32), Entry>,
    what: &str,
) -> Checked {
    let (accounts, ledger) = rt.block_on(read_state(&s.conninfo("postgres")));
    check_balances(&accounts, &ledger);
    for (key, e) in verified {
        assert_eq!(
            ledger.get(key),
            Some(e),
            "{what}: ledger row {key:?} verified earlier is gone"
        );
    }
    let mut in_flight_present = 0;
    for (k, log) in logs.iter().enumerate() {
        let cid = base + k as i32;
        let acked = log.acked.load(Ordering::SeqCst);
        let m = client_rows(&ledger, cid, &format!("{what}: client {cid}"));
        assert!(
            m >= acked,
            "{what}: client {cid}: acknowledged commit lost: {m} ledger rows, {acked} acknowledged"
        );
        assert!(
            m <= acked + 1,
            "{what}: client {cid}: {m} ledger rows but only {acked} acknowledged"
        );
        in_flight_present += u64::from(m == acked + 1);
    }
    Checked {
        rows: ledger.len(),
        in_flight_present,
        ledger,
    }
}
