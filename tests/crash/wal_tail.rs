//! WAL-tail corruption: after committed work and a SIGKILL, the newest WAL is truncated
//! or bit-flipped (or a byte in its middle is corrupted) before the restart.
//!
//! The workload: `t(k int, part int, v text, primary key (k, part))`, then after a
//! `CHECKPOINT` (position `L_0`) `N` transactions, transaction `k` inserting three rows
//! `(k, 1..=3)` with payloads of varying length (so records cross pages), and the insert
//! position `L_k = pg_current_wal_lsn()` noted after each acknowledged commit. The
//! checks after the restart:
//!
//! 1. the keys present are exactly `1..=m` for some `m`, each with all three parts and
//!    its exact payload — a consistent prefix in commit order, never wrong data;
//! 2. truncation at `cut`: every commit with `L_k <= cut` is there and none that started
//!    at or after `cut` (`L_{k-1} >= cut`);
//! 3. bit flips at or after `L_j`: commits `1..=j` are there;
//! 4. the restarted server keeps working: a new commit after the repaired tail survives
//!    another SIGKILL, and no cut-off transaction comes back from behind it.
//!
//! A corrupted byte in the middle (inside commit `j`'s records, with valid WAL after it)
//! must either stop the server with a clear message or leave a consistent prefix; the
//! test prints which it was.

use crate::bank::{rounds, seed};
use crate::common::*;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

const N: i32 = 60;
const SEGMENT: u64 = 1024 * 1024;

fn payload(k: i32, part: i32) -> String {
    let len = ((k as usize * 7919 + part as usize * 104_729) % 2500) + 1;
    let unit = format!("{k}.{part};");
    unit.repeat(len / unit.len() + 1)[..len].to_string()
}

fn parse_lsn(s: &str) -> u64 {
    let (hi, lo) = s.trim().split_once('/').expect("an LSN like 0/16B3740");
    (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap()
}

fn lsn(s: &Server) -> u64 {
    parse_lsn(&s.psql("select pg_current_wal_lsn()"))
}

/// The segment file holding byte `lsn` (timeline 1) and the offset in it.
fn wal_file(s: &Server, lsn: u64) -> (PathBuf, u64) {
    let segno = lsn / SEGMENT;
    let per_id = 0x1_0000_0000 / SEGMENT;
    let name = format!("{:08X}{:08X}{:08X}", 1, segno / per_id, segno % per_id);
    (s.datadir().join("pg_wal").join(name), lsn % SEGMENT)
}

/// A cluster with 1 MiB segments, the table, `N` committed transactions, killed; returns
/// the server and `L_0..=L_N`.
fn prepare(tag: &str) -> (Server, Vec<u64>) {
    let mut s = Server::init(tag, &["--wal-segsize=1"]);
    s.try_start()
        .unwrap_or_else(|e| panic!("start: {e}\n{}", s.log_text()));
    s.psql("create table t (k int, part int, v text not null, primary key (k, part)); checkpoint");
    let mut lsns = vec![lsn(&s)];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(&s.conninfo("postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        for k in 1..=N {
            let mut sql = String::from("begin;");
            for part in 1..=3 {
                sql.push_str(&format!(
                    "insert into t values ({k}, {part}, '{}');",
                    payload(k, part)
                ));
            }
            sql.push_str("commit");
            c.batch_execute(&sql).await.unwrap();
            let rows = c.simple_query("select pg_current_wal_lsn()").await.unwrap();
            let l = rows
                .iter()
                .find_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(parse_lsn),
                    _ => None,
                })
                .unwrap();
            lsns.push(l);
        }
    });
    s.crash();
    (s, lsns)
}

/// Checks invariant 1 and returns `m` (the number of transactions present) and whether
/// the extra key 1000 is there.
fn check_prefix(s: &Server, what: &str) -> (i32, bool) {
    let out = s.psql("select k, part, v from t order by k, part");
    let mut by_k: BTreeMap<i32, Vec<(i32, String)>> = BTreeMap::new();
    for line in out.lines().filter(|l| !l.is_empty()) {
        let mut f = line.splitn(3, '|');
        let k: i32 = f.next().unwrap().parse().unwrap();
        let part: i32 = f.next().unwrap().parse().unwrap();
        let v = f.next().unwrap().to_string();
        by_k.entry(k).or_default().push((part, v));
    }
    let extra = by_k.remove(&1000).is_some();
    let m = by_k.len() as i32;
    for (i, (k, parts)) in by_k.iter().enumerate() {
        assert_eq!(
            *k,
            i as i32 + 1,
            "{what}: keys are not a prefix: {:?}",
            by_k.keys().collect::<Vec<_>>()
        );
        let expect: Vec<(i32, String)> = (1..=3).map(|p| (p, payload(*k, p))).collect();
        assert!(
            *parts == expect,
            "{what}: transaction {k} is partial or has wrong data"
        );
    }
    (m, extra)
}

/// Invariant 4: a commit after the repaired tail survives another crash, and the prefix
/// does not change.
fn check_keeps_working(s: &mut Server, m: i32, what: &str) {
    s.psql("insert into t values (1000, 1, 'after')");
    s.crash();
    s.try_start()
        .unwrap_or_else(|e| panic!("{what}: second restart: {e}\n{}", s.log_text()));
    let (m2, extra) = check_prefix(s, what);
    assert!(extra, "{what}: the commit after the repaired tail was lost");
    assert_eq!(m2, m, "{what}: the prefix changed after the second crash");
}

#[test]
fn truncated_wal_tail_is_cut() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed("wal-truncate"));
    for round in 0..rounds() {
        let (mut s, l) = prepare("waltrunc");
        let cut = rng.gen_range(l[0] + 1..=l[N as usize]);
        let (file, off) = wal_file(&s, cut);
        let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        f.set_len(off).unwrap();
        drop(f);
        // Later segments (if the work crossed into one) go too: the cut is the end.
        for e in std::fs::read_dir(s.datadir().join("pg_wal")).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().unwrap().len() == 24 && p.file_name() > file.file_name() {
                std::fs::remove_file(p).unwrap();
            }
        }
        let what = format!("round {round}, cut at {cut:X} ({} + {off})", file.display());
        s.try_start()
            .unwrap_or_else(|e| panic!("{what}: restart: {e}\n{}", s.log_text()));
        let (m, _) = check_prefix(&s, &what);
        let must = l[1..].iter().filter(|&&x| x <= cut).count() as i32;
        let may = l[..N as usize].iter().filter(|&&x| x < cut).count() as i32;
        assert!(
            m >= must && m <= may,
            "{what}: {m} transactions present, expected {must}..={may}"
        );
        eprintln!("wal-truncate {what}: {m} of {N} transactions kept (bounds {must}..={may})");
        check_keeps_working(&mut s, m, &what);
    }
}

#[test]
fn flipped_bits_after_last_commit_of_interest() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed("wal-flip"));
    for round in 0..rounds() {
        let (mut s, l) = prepare("walflip");
        let j = rng.gen_range(0..N as usize);
        let mut flips = Vec::new();
        for _ in 0..rng.gen_range(1..=3) {
            let at = rng.gen_range(l[j]..l[N as usize]);
            let bit = rng.gen_range(0..8);
            let (file, off) = wal_file(&s, at);
            let mut bytes = std::fs::read(&file).unwrap();
            bytes[off as usize] ^= 1 << bit;
            std::fs::write(&file, bytes).unwrap();
            flips.push(format!("{at:X}.{bit}"));
        }
        let what = format!("round {round}, commits 1..={j} of interest, flips {flips:?}");
        s.try_start()
            .unwrap_or_else(|e| panic!("{what}: restart: {e}\n{}", s.log_text()));
        let (m, _) = check_prefix(&s, &what);
        assert!(m >= j as i32, "{what}: only {m} transactions present");
        eprintln!("wal-flip {what}: {m} of {N} transactions kept");
        check_keeps_working(&mut s, m, &what);
    }
}

#[test]
fn corrupt_byte_in_the_middle_never_gives_wrong_data() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed("wal-middle"));
    for round in 0..rounds() {
        let (mut s, l) = prepare("walmid");
        let j = rng.gen_range(1..=N as usize - 10);
        let at = rng.gen_range(l[j - 1]..l[j]);
        let (file, off) = wal_file(&s, at);
        let mut bytes = std::fs::read(&file).unwrap();
        bytes[off as usize] ^= rng.gen_range(1..=255u8);
        std::fs::write(&file, bytes).unwrap();
        let what = format!("round {round}, byte at {at:X} inside commit {j} corrupted");
        match s.try_start() {
            Err(status) => {
                let log = s.log_text();
                let tail: Vec<&str> = log.lines().rev().take(4).collect();
                eprintln!("wal-middle {what}: refused to start ({status}): {tail:?}");
            }
            Ok(()) => {
                let (m, _) = check_prefix(&s, &what);
                let log = s.log_text();
                let said: Vec<&str> = log
                    .lines()
                    .filter(|l| l.contains("redo") || l.contains("invalid") || l.contains("record"))
                    .collect();
                eprintln!("wal-middle {what}: started with {m} of {N} transactions; log: {said:?}");
                check_keeps_working(&mut s, m, &what);
            }
        }
        // Keep the server alive until the message is printed, then let Drop clean up.
        std::thread::sleep(Duration::from_millis(10));
    }
}
