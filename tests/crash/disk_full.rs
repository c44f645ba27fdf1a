//! Disk full under a write load: the WAL (or the whole data directory) lives on a small
//! tmpfs the test mounts, a ballast file leaves a little room, and the bank workload
//! plus a client inserting 64 kB rows write until the space runs out.
//!
//! Expected, as PostgreSQL (whose WAL writer PANICs on `ENOSPC`):
//!
//! 1. the commit that needs the missing space gets an error (SQLSTATE 53100, "No space
//!    left on device"), never a success; the server logs a PANIC, refuses writes (the
//!    other clients get 58030 errors), ends every session and reinitializes — whose
//!    recovery may stop with a FATAL for want of space, or serve until the next
//!    commit that needs the space PANICs again;
//! 2. it shuts down when asked (bounded), if it is still up;
//! 3. after the ballast is removed it starts, with every acknowledged commit and at
//!    most the one unacknowledged transaction per client ([`crate::load::check`]);
//! 4. it works again: a new commit and a `CHECKPOINT` succeed.
//!
//! With the whole data directory on the small file system, checkpoints (images, the
//! control file) run out of space too, and must leave nothing behind that stops a
//! later start or eats the space freed.
//!
//! Mounting needs root (`CAP_SYS_ADMIN`); otherwise the test prints why and passes
//! without running. The mount is undone by a drop guard, also when an assertion fails.
//! Rounds: `TUSK_CRASH_ROUNDS` (3 by default) per test, on one data directory.

use crate::bank::{rounds, schema_sql, seed};
use crate::common::*;
use crate::load::{check, problems_logged, Load};
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A tmpfs mounted for the test, unmounted (lazily if busy) and removed on drop.
struct Mount(PathBuf);

impl Mount {
    /// Mounts a tmpfs of `size` (e.g. `"16m"`), or says why it cannot.
    fn tmpfs(tag: &str, size: &str) -> Result<Mount, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not running as root: cannot mount a tmpfs".into());
        }
        let dir = std::env::temp_dir().join(format!("tusk-tmpfs-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&dir)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir(&dir);
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Mount(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// Free bytes on the file system.
    fn free(&self) -> u64 {
        let c = std::ffi::CString::new(self.0.to_str().unwrap()).unwrap();
        // SAFETY: statvfs writes into the zeroed struct we own; the path is a valid C string.
        unsafe {
            let mut st: libc::statvfs = std::mem::zeroed();
            assert_eq!(libc::statvfs(c.as_ptr(), &mut st), 0, "statvfs");
            st.f_bavail as u64 * st.f_frsize as u64
        }
    }
}

impl Mount {
    /// Grows the file `ballast` until about `room` bytes are left free (or none: the
    /// server writes meanwhile).
    fn fill(&self, ballast: &Path, room: u64) {
        use std::io::Write;
        let mut f = std::fs::File::create(ballast).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while self.free() > room + chunk.len() as u64 {
            match f.write_all(&chunk) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("ballast: {e}"),
            }
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Moves `from` (a directory) onto the mount as `name` and leaves a symlink behind.
fn move_onto(from: &Path, m: &Mount, name: &str) {
    let to = m.path().join(name);
    let out = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(&to)
        .output()
        .unwrap();
    assert!(out.status.success(), "cp: {}", stderr(&out));
    std::fs::remove_dir_all(from).unwrap();
    std::os::unix::fs::symlink(&to, from).unwrap();
}

/// A client inserting 64 kB rows into `bulk` until told to stop, counting them in `n`.
fn filler(
    rt: &tokio::runtime::Runtime,
    conninfo: String,
    stop: Arc<AtomicBool>,
    n: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    rt.spawn(async move {
        let Some(c) = crate::bank::connect(&conninfo).await else {
            return;
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        while !stop.load(Ordering::SeqCst) {
            let v: String = (0..65536)
                .map(|_| rng.gen_range(b'a'..=b'z') as char)
                .collect();
            if c.execute("insert into bulk values ($1)", &[&v])
                .await
                .is_ok()
            {
                n.fetch_add(1, Ordering::SeqCst);
            } else {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    })
}

/// The filler table's size in kB, roughly.
fn filler_kb(s: &Server) -> String {
    s.psql("select sum(length(v)) / 1024 from filler")
}

/// Temporary files under `dir`: WAL segments and images being written (`xlogtemp.*`,
/// `*.tmp`).
fn temp_files(dir: &Path) -> Vec<String> {
    let out = Command::new("find")
        .arg(dir)
        .args([
            "-mindepth",
            "1",
            "(",
            "-name",
            "xlogtemp*",
            "-o",
            "-name",
            "*.tmp",
            ")",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn run(whole_datadir: bool) {
    let tag = if whole_datadir {
        "full-data"
    } else {
        "full-wal"
    };
    let m = match Mount::tmpfs(tag, "96m") {
        Ok(m) => m,
        Err(why) => {
            eprintln!("{tag}: skipped: {why}");
            return;
        }
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed(tag));
    // Declared after the mount: dropped (killed, removed) before it is unmounted.
    let mut s = Server::init(tag, &["--wal-segsize=1"]);
    // No automatic checkpoint frees WAL space during a round (it would race the fill
    // and make rounds ever longer as the ledger grows); the restart's and step 4's
    // checkpoints remove the old segments (keeping `min_wal_size`).
    s.append_conf("min_wal_size = 2MB\nmax_wal_size = 1GB\ncheckpoint_timeout = 1h\n");
    if whole_datadir {
        move_onto(&s.datadir(), &m, "data");
    } else {
        move_onto(&s.datadir().join("pg_wal"), &m, "pg_wal");
    }
    s.try_start()
        .unwrap_or_else(|e| panic!("start: {e}\n{}", s.log_text()));
    s.psql(&schema_sql());
    s.psql("create table filler (v text); create table bulk (v text)");
    if whole_datadir {
        // Several MB in one table image, so a checkpoint needs more than the room left.
        s.psql("insert into filler select repeat(g::text, 65536) from generate_series(1, 30) g");
    }
    let rt = runtime();
    let conninfo = s.conninfo("postgres");
    let ballast = m.path().join("ballast");
    let mut verified = HashMap::new();
    let (mut acked_total, mut refusals, mut in_flight_total) = (0u64, 0u64, 0u64);
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut exits: BTreeMap<String, u32> = BTreeMap::new();
    let test_start = Instant::now();
    let rounds = rounds();
    for round in 0..rounds {
        // Leave 256 kB to 2 MB free.
        let room = rng.gen_range(256u64..2048) * 1024;
        m.fill(&ballast, room);
        let what = format!("{tag} round {round} ({} kB left)", m.free() / 1024);
        let log_start = s.log_text().len();
        let mut checkpoint_said = String::new();
        if whole_datadir {
            // A checkpoint must rewrite the (changed) filler image of several MB: it
            // fails for want of space, leaves no temporary file, and writes go on.
            s.psql("insert into filler values ('dirty')");
            let out = s.psql_as("postgres", "postgres", None, "checkpoint");
            assert!(
                !out.status.success(),
                "{what}: a checkpoint writing {} kB of images into {room} bytes succeeded; log:\n{}",
                filler_kb(&s),
                s.log_text()
            );
            checkpoint_said = stderr(&out).trim().to_string();
            let leftovers = temp_files(m.path());
            assert!(
                leftovers.is_empty(),
                "{what}: the failed checkpoint left temporary files: {leftovers:?}; log:\n{}",
                s.log_text()
            );
        }
        let load = Load::start(&rt, &conninfo, (round as i32 + 1) * 1000, &mut rng);
        let stop = Arc::new(AtomicBool::new(false));
        let filled = Arc::new(AtomicU64::new(0));
        let filler_task = filler(&rt, conninfo.clone(), stop.clone(), filled.clone());
        // Checkpoints run out of space too when the images live there.
        let checkpointer = whole_datadir.then(|| {
            let (conninfo, stop) = (conninfo.clone(), stop.clone());
            rt.spawn(async move {
                let Some(c) = crate::bank::connect(&conninfo).await else {
                    return;
                };
                while !stop.load(Ordering::SeqCst) {
                    let _ = c.batch_execute("checkpoint").await;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        });
        // 1. Wait until the WAL runs out of space (the server logs a PANIC).
        let wait = Instant::now();
        while !s.log_text()[log_start..].contains("PANIC:") {
            assert!(
                wait.elapsed() < Duration::from_secs(120),
                "{what}: no PANIC within 120s ({} commits, errors {:?}); log:\n{}",
                load.stats.commits.load(Ordering::SeqCst),
                load.errors(),
                s.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // The server does not carry on: it ends every session and reinitializes
        // (recovery from the WAL), as PostgreSQL's postmaster after a PANIC. The new
        // start may itself run out of space and stop with a FATAL, or serve until the
        // next commit that needs the missing space PANICs again.
        let wait = Instant::now();
        while !s.log_text()[log_start..].contains("all server processes terminated; reinitializing")
        {
            assert!(
                wait.elapsed() < Duration::from_secs(60),
                "{what}: no reinitialization within 60s after the PANIC; log:\n{}",
                s.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            s.log_text()[log_start..].contains("terminating any other active server processes"),
            "{what}: sessions were not ended after the PANIC"
        );
        stop.store(true, Ordering::SeqCst);
        let round_errors = load.errors();
        let logs = load.stop(&rt);
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(30), filler_task)
                .await
                .expect("filler did not stop")
                .unwrap();
            if let Some(c) = checkpointer {
                tokio::time::timeout(Duration::from_secs(30), c)
                    .await
                    .expect("checkpoint loop did not stop")
                    .unwrap();
            }
        });
        let acked: u64 = logs.iter().map(|l| l.acked.load(Ordering::SeqCst)).sum();
        let failed: u64 = round_errors.values().sum();
        // 2. Shutdown, bounded.
        s.signal(libc::SIGINT);
        let status = s.wait_exit(Duration::from_secs(60));
        *exits.entry(status.to_string()).or_default() += 1;
        // The failed writes left no temporary files behind to eat the space freed
        // (PostgreSQL unlinks its half-written xlogtemp file).
        let leftovers = temp_files(m.path());
        assert!(
            leftovers.is_empty(),
            "{what}: temporary files left: {leftovers:?}"
        );
        // 3. Space freed: a restart has every acknowledged commit.
        std::fs::remove_file(&ballast).unwrap();
        s.try_start().unwrap_or_else(|e| {
            panic!("{what}: restart after freeing space: {e}\n{}", s.log_text())
        });
        let c = check(&rt, &s, (round as i32 + 1) * 1000, &logs, &verified, &what);
        // 4. It works again.
        // (The bulk rows go first, in their own transaction, so that rounds do not
        // pile them up.)
        s.psql("delete from bulk");
        let out = s.psql_as(
            "postgres",
            "postgres",
            None,
            "insert into filler values ('after'); checkpoint",
        );
        if !out.status.success() {
            let du = Command::new("du").arg("-a").arg(m.path()).output().unwrap();
            panic!(
                "{what}: after the restart: {}; {} bytes free; du:\n{}\nlog:\n{}",
                stderr(&out),
                m.free(),
                stdout(&du),
                s.log_text()
            );
        }
        let said = problems_logged(&s.log_text()[log_start..]);
        eprintln!(
            "{what}: checkpoint got {checkpoint_said:?}; {acked} commits acknowledged, {} bulk rows, {failed} transfer attempts refused, {} unacknowledged found committed, {} ledger rows; shutdown {status}; the log said {said:?}",
            filled.load(Ordering::SeqCst),
            c.in_flight_present,
            c.rows,
        );
        acked_total += acked;
        refusals += failed;
        in_flight_total += c.in_flight_present;
        for (k, v) in round_errors {
            *errors.entry(k).or_default() += v;
        }
        verified = c.ledger;
    }
    s.stop();
    eprintln!(
        "{tag}: {rounds} rounds in {:?}: {acked_total} commits acknowledged, 0 lost; {refusals} transfer attempts refused; {in_flight_total} unacknowledged found committed; shutdowns {exits:?}; client errors {errors:?}",
        test_start.elapsed()
    );
}

#[test]
fn disk_full_in_pg_wal_loses_no_acknowledged_commit() {
    run(false);
}

#[test]
fn disk_full_in_the_data_directory_loses_no_acknowledged_commit() {
    run(true);
}
