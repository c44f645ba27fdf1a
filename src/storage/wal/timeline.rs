//! Timeline history files (`pg_wal/TTTTTTTT.history`), in PostgreSQL's format.
//!
//! A history file of timeline N lists the ancestors of N, one line each:
//! `<parent tli>\t<switch LSN>\t<reason>\n`. A new timeline's file is its parent's file
//! plus one line; as PostgreSQL does, a blank line separates the inherited part from
//! the new line. Timeline 1 has no file. Reading gives the history newest first, as
//! PostgreSQL's `readTimeLineHistory`: `[N from its switch point on, ..., 1 from 0/0]`.
//!
//! The history tells which timeline owns which WAL positions, so a reader of timeline
//! N knows to read segment `s` from the file of the newest timeline that began at or
//! before `s` (PostgreSQL's `XLogFileReadAnyTLI` rule).

use std::path::Path;

use super::io::{StdIo, WalIo};
use super::segment::history_file_name;
use super::Lsn;
use crate::error::{sqlstate, Error, Result};

/// One timeline of a history: it owns the WAL positions `[begin, end)`; `end` is
/// `Lsn::INVALID` for the newest timeline (it has not ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelineEntry {
    /// The timeline id.
    pub tli: u32,
    /// Where the timeline begins (0/0 for the first one).
    pub begin: Lsn,
    /// Where it was switched away from (0/0 = still current).
    pub end: Lsn,
}

/// Parses the contents of timeline `target`'s history file into entries, newest first
/// (the last entry is `target` itself, open-ended).
pub fn parse_history(contents: &str, target: u32) -> Result<Vec<TimelineEntry>> {
    let bad = |detail: &str| {
        Error::new(sqlstate::DATA_CORRUPTED, "syntax error in history file")
            .with_detail(detail.to_string())
            .with_hint("Expected a numeric timeline ID.")
    };
    let mut entries: Vec<TimelineEntry> = Vec::new();
    let mut prev_end = Lsn::INVALID;
    let mut last_tli = 0u32;
    for line in contents.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let tli: u32 = fields
            .next()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| bad(line))?;
        let switch: Lsn = fields
            .next()
            .ok_or_else(|| {
                Error::new(sqlstate::DATA_CORRUPTED, "syntax error in history file")
                    .with_detail(line.to_string())
                    .with_hint("Expected a write-ahead log switchpoint location.")
            })?
            .parse()
            .map_err(|_| bad(line))?;
        if !entries.is_empty() && tli <= last_tli {
            return Err(
                Error::new(sqlstate::DATA_CORRUPTED, "invalid data in history file")
                    .with_detail(line.to_string())
                    .with_hint("Timeline IDs must be in increasing sequence."),
            );
        }
        entries.push(TimelineEntry {
            tli,
            begin: prev_end,
            end: switch,
        });
        prev_end = switch;
        last_tli = tli;
    }
    if !entries.is_empty() && target <= last_tli {
        return Err(
            Error::new(sqlstate::DATA_CORRUPTED, "invalid data in history file")
                .with_hint("Timeline IDs must be less than child timeline's ID."),
        );
    }
    entries.push(TimelineEntry {
        tli: target,
        begin: prev_end,
        end: Lsn::INVALID,
    });
    entries.reverse();
    Ok(entries)
}

/// Reads the history of timeline `tli` from `dir` (a `pg_wal` directory), newest
/// first. Timeline 1, or a timeline without a history file, is its own whole history.
pub fn read_history(dir: &Path, tli: u32) -> Result<Vec<TimelineEntry>> {
    let path = dir.join(history_file_name(tli));
    match std::fs::read_to_string(&path) {
        Ok(s) => parse_history(&s, tli),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![TimelineEntry {
            tli,
            begin: Lsn::INVALID,
            end: Lsn::INVALID,
        }]),
        Err(e) => Err(Error::io(
            format!("could not open file \"{}\"", path.display()),
            e,
        )),
    }
}

/// The contents of the history file of `new_tli`, forked from `parent_tli` at
/// `switchpoint`: the parent's history (`parent_contents`, `None` for timeline 1) plus
/// one line.
pub fn history_contents(
    parent_contents: Option<&str>,
    parent_tli: u32,
    switchpoint: Lsn,
    reason: &str,
) -> String {
    let mut s = String::new();
    if let Some(p) = parent_contents {
        s.push_str(p);
        s.push('\n');
    }
    s.push_str(&format!("{parent_tli}\t{switchpoint}\t{reason}\n"));
    s
}

/// Writes `dir/<new_tli>.history` for a fork from `parent_tli` at `switchpoint`,
/// copying the parent's history file when there is one; durable when `fsync` is set.
/// PostgreSQL's reason for a plain promotion is "no recovery target specified".
pub fn write_history(
    dir: &Path,
    new_tli: u32,
    parent_tli: u32,
    switchpoint: Lsn,
    reason: &str,
    fsync: bool,
) -> Result<()> {
    let parent_path = dir.join(history_file_name(parent_tli));
    let parent = match std::fs::read_to_string(&parent_path) {
        Ok(s) => Some(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Error::io(
                format!("could not open file \"{}\"", parent_path.display()),
                e,
            ))
        }
    };
    let contents = history_contents(parent.as_deref(), parent_tli, switchpoint, reason);
    let path = dir.join(history_file_name(new_tli));
    StdIo
        .replace_file(&path, contents.as_bytes(), fsync)
        .map_err(|e| Error::io(format!("could not write file \"{}\"", path.display()), e))
}

/// The timeline that owns position `lsn` in `history` (PostgreSQL's
/// `tliOfPointInHistory`); a position exactly at a switch point belongs to the newer
/// timeline.
pub fn timeline_of(history: &[TimelineEntry], lsn: Lsn) -> Option<u32> {
    history
        .iter()
        .find(|e| (!e.begin.is_valid() || lsn >= e.begin) && (!e.end.is_valid() || lsn < e.end))
        .map(|e| e.tli)
}

/// Where timeline `tli` ended in `history` (`Lsn::INVALID` when it is the newest), or
/// `None` when `tli` is not in the history (PostgreSQL's `tliSwitchPoint`).
pub fn switch_point(history: &[TimelineEntry], tli: u32) -> Option<Lsn> {
    history.iter().find(|e| e.tli == tli).map(|e| e.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_round_trip_like_postgres() {
        let h2 = history_contents(None, 1, Lsn(0x3000158), "no recovery target specified");
        assert_eq!(h2, "1\t0/3000158\tno recovery target specified\n");
        let h3 = history_contents(Some(&h2), 2, Lsn(0x5000000), "no recovery target specified");
        assert_eq!(
            h3,
            "1\t0/3000158\tno recovery target specified\n\n2\t0/5000000\tno recovery target specified\n"
        );
        let e = parse_history(&h3, 3).unwrap();
        assert_eq!(
            e,
            vec![
                TimelineEntry {
                    tli: 3,
                    begin: Lsn(0x5000000),
                    end: Lsn(0)
                },
                TimelineEntry {
                    tli: 2,
                    begin: Lsn(0x3000158),
                    end: Lsn(0x5000000)
                },
                TimelineEntry {
                    tli: 1,
                    begin: Lsn(0),
                    end: Lsn(0x3000158)
                },
            ]
        );
        assert_eq!(timeline_of(&e, Lsn(0x1000000)), Some(1));
        assert_eq!(timeline_of(&e, Lsn(0x3000158)), Some(2));
        assert_eq!(timeline_of(&e, Lsn(0x9000000)), Some(3));
        assert_eq!(switch_point(&e, 2), Some(Lsn(0x5000000)));
        assert_eq!(switch_point(&e, 3), Some(Lsn(0)));
        assert_eq!(switch_point(&e, 4), None);
        assert!(parse_history("1\t0/10\tx\n", 1).is_err());
        assert!(parse_history("x\t0/10\n", 2).is_err());
        assert!(parse_history("2\t0/10\n1\t0/20\n", 3).is_err());
        assert_eq!(parse_history("# comment\n\n", 1).unwrap().len(), 1);
    }

    #[test]
    fn files_in_a_directory() {
        let d = std::env::temp_dir().join(format!(
            "tusk-tli-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        assert_eq!(read_history(&d, 1).unwrap().len(), 1);
        write_history(
            &d,
            2,
            1,
            Lsn(0x3000158),
            "no recovery target specified",
            false,
        )
        .unwrap();
        write_history(
            &d,
            3,
            2,
            Lsn(0x5000000),
            "no recovery target specified",
            true,
        )
        .unwrap();
        let h = read_history(&d, 3).unwrap();
        assert_eq!(h.iter().map(|e| e.tli).collect::<Vec<_>>(), vec![3, 2, 1]);
        assert_eq!(
            std::fs::read_to_string(d.join("00000003.history")).unwrap(),
            "1\t0/3000158\tno recovery target specified\n\n2\t0/5000000\tno recovery target specified\n"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
