//! Corrupted checkpoint images: a byte of `global/tusk_catalog` or of a table image
//! `base/<db>/<filenode>` is flipped, overwritten, zeroed as by a torn sector, or the
//! file is truncated, emptied or removed while the server is down; then it restarts.
//!
//! The expected outcome is PostgreSQL's promise for damaged data files: the server
//! either refuses to start with a FATAL line naming the damaged file, or starts with
//! exactly the data it had — never silently with other data. Each round:
//!
//! 1. commits some work after the last checkpoint (so recovery needs the WAL too),
//!    notes the full contents of the tables, and stops the server cleanly or kills it;
//! 2. corrupts one image file (a random target and a kind of damage; the kinds rotate
//!    so that the short mode covers each of them), keeping its original bytes; one
//!    kind is no damage at all but staleness: the intact image from before the round;
//! 3. restarts: a refusal must say `FATAL` and name the file; a start must show exactly
//!    the noted contents;
//! 4. puts the original bytes back and restarts: exactly the noted contents, so a
//!    refused start damaged nothing else (it must not, say, cut the WAL).
//!
//! Rounds: `4 × TUSK_CRASH_ROUNDS` (12 by default); `TUSK_CRASH_SEED` replays a run.

use crate::bank::{rounds, seed};
use crate::common::*;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The kinds of damage, applied in rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Damage {
    /// One bit flipped at a random offset.
    BitFlip,
    /// One byte replaced by a different random value.
    Byte,
    /// 512 bytes at a random 512-aligned offset zeroed (a torn sector).
    ZeroSector,
    /// The file cut at a random length shorter than it was.
    Truncate,
    /// The file emptied.
    Empty,
    /// The file removed.
    Missing,
    /// An older intact copy of the file (from before the round's checkpoint and work)
    /// put back in place of the newest one, as a restore from an old backup or a
    /// filesystem that lost a rename would.
    Stale,
}

const KINDS: [Damage; 7] = [
    Damage::BitFlip,
    Damage::Byte,
    Damage::ZeroSector,
    Damage::Truncate,
    Damage::Empty,
    Damage::Missing,
    Damage::Stale,
];

/// Applies `d` to `path` (`older`: the file's bytes from before the round); returns a
/// description, or `None` when it would not change the file (a zeroed sector that was
/// zero already, an image not rewritten since).
fn damage(path: &Path, d: Damage, older: &[u8], rng: &mut impl Rng) -> Option<String> {
    let mut bytes = std::fs::read(path).unwrap();
    let len = bytes.len();
    let what = match d {
        Damage::Stale => {
            if bytes == older || older.is_empty() {
                return None;
            }
            bytes = older.to_vec();
            "replaced by its older intact copy".to_string()
        }
        Damage::BitFlip => {
            let (at, bit) = (rng.gen_range(0..len), rng.gen_range(0..8));
            bytes[at] ^= 1 << bit;
            format!("bit {bit} of byte {at} flipped")
        }
        Damage::Byte => {
            let at = rng.gen_range(0..len);
            bytes[at] ^= rng.gen_range(1..=255u8);
            format!("byte {at} overwritten")
        }
        Damage::ZeroSector => {
            let at = rng.gen_range(0..len.div_ceil(512)) * 512;
            let end = (at + 512).min(len);
            if bytes[at..end].iter().all(|&b| b == 0) {
                return None;
            }
            bytes[at..end].fill(0);
            format!("bytes {at}..{end} zeroed")
        }
        Damage::Truncate => {
            let to = rng.gen_range(1..len);
            bytes.truncate(to);
            format!("truncated from {len} to {to} bytes")
        }
        Damage::Empty => {
            bytes.clear();
            "emptied".to_string()
        }
        Damage::Missing => {
            std::fs::remove_file(path).unwrap();
            return Some("removed".to_string());
        }
    };
    std::fs::write(path, bytes).unwrap();
    Some(what)
}

/// The full contents of the test tables, in a fixed order.
fn contents(s: &Server) -> String {
    s.psql("select 'a', k, v from a union all select 'b', k::int, v from b order by 1, 2")
}

#[test]
fn corrupted_checkpoint_image_is_refused_or_recovered() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed("images"));
    let mut s = Server::init("images", &[]);
    s.try_start()
        .unwrap_or_else(|e| panic!("start: {e}\n{}", s.log_text()));
    s.psql(
        "create table a (k int primary key, v text not null); \
         create table b (k bigint primary key, v text); \
         insert into a select g, repeat('a', g % 300) from generate_series(1, 200) g; \
         insert into b select g, 'b' || g from generate_series(1, 50) g",
    );
    let db = s.psql("select oid from pg_database where datname = 'postgres'");
    let nodes: Vec<(String, String)> = ["a", "b"]
        .iter()
        .map(|t| {
            let node = s.psql(&format!(
                "select relfilenode from pg_class where relname = '{t}'"
            ));
            (t.to_string(), node)
        })
        .collect();
    let mut targets: Vec<PathBuf> = vec![s.datadir().join("global/tusk_catalog")];
    for (_, node) in &nodes {
        targets.push(s.datadir().join("base").join(&db).join(node));
    }
    let mut outcomes: BTreeMap<(Damage, String, &str), u32> = BTreeMap::new();
    let rounds = 4 * rounds();
    for round in 0..rounds {
        // 1. Work after a checkpoint, then a clean stop or a kill.
        let older: Vec<Vec<u8>> = targets
            .iter()
            .map(|t| std::fs::read(t).unwrap_or_default())
            .collect();
        s.psql("checkpoint");
        let k = 1000 + round as i32;
        s.psql(&format!(
            "insert into a values ({k}, 'after checkpoint {round}'); \
             update b set v = v || '.' where k = {}; delete from a where k = {}",
            round % 50 + 1,
            round % 200 + 1
        ));
        if rng.gen_bool(0.5) {
            s.psql(&format!(
                "create table c{round} (x int); drop table c{round}"
            ));
        }
        let expect = contents(&s);
        let clean = rng.gen_bool(0.5);
        if clean {
            s.stop();
        } else {
            s.crash();
        }
        // 2. Damage one image.
        // Targets rotate too, shifted every pass over the kinds: the short mode damages
        // the catalog and both tables with several kinds each.
        let index = (round + round / KINDS.len()) % targets.len();
        let target = targets[index].clone();
        assert!(target.is_file(), "no image at {}", target.display());
        let original = std::fs::read(&target).unwrap();
        let kind = KINDS[round % KINDS.len()];
        let Some(how) = damage(&target, kind, &older[index], &mut rng) else {
            eprintln!("images round {round}: {kind:?} would not change the file; skipped");
            s.try_start()
                .unwrap_or_else(|e| panic!("round {round}: start: {e}\n{}", s.log_text()));
            continue;
        };
        let name = target
            .strip_prefix(s.datadir())
            .unwrap()
            .display()
            .to_string();
        let what = format!(
            "round {round}: {name} {how} after a {}",
            if clean { "clean stop" } else { "kill" }
        );
        // 3. Refused with a FATAL naming the file, or exactly the same data.
        let log_before = s.log_text().len();
        let outcome = match s.try_start() {
            Err(status) => {
                let log = s.log_text()[log_before..].to_string();
                let fatal = log
                    .lines()
                    .find(|l| l.contains("FATAL:"))
                    .unwrap_or_else(|| {
                        panic!("{what}: exited with {status} without a FATAL line:\n{log}")
                    });
                assert!(
                    fatal.contains(&target.display().to_string()),
                    "{what}: the FATAL line does not name the file: {fatal}"
                );
                eprintln!(
                    "images {what}: refused: {}",
                    fatal.split("FATAL:").nth(1).unwrap().trim()
                );
                "refused"
            }
            Ok(()) => {
                assert_eq!(contents(&s), expect, "{what}: started with different data");
                eprintln!("images {what}: started with the same data");
                s.stop();
                "recovered"
            }
        };
        let target_kind = if name.starts_with("global") {
            "catalog"
        } else {
            "table"
        };
        *outcomes
            .entry((kind, target_kind.to_string(), outcome))
            .or_default() += 1;
        // 4. The original bytes back: the same data again.
        std::fs::write(&target, &original).unwrap();
        s.try_start()
            .unwrap_or_else(|e| panic!("{what}: start after repair: {e}\n{}", s.log_text()));
        assert_eq!(
            contents(&s),
            expect,
            "{what}: after repair the data differs"
        );
    }
    eprintln!("images: {rounds} rounds; outcomes (damage, image, outcome): {outcomes:?}");
}
