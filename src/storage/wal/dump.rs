//! `tusk waldump`: the records of WAL segments printed the way PostgreSQL's
//! `pg_waldump` prints them, with tusk's own record descriptions.
//!
//! Stock `pg_waldump` reads tusk's segments (the page and record framing is
//! PostgreSQL's) but can only call tusk's records `custom128 … UNKNOWN`. This module
//! walks the same segments with the reader recovery uses ([`WalReader`]) and describes
//! each record with [`Record::describe`], the text recovery's own logs use, so what an
//! operator reads here is what replay will do:
//!
//! ```text
//! rmgr: TuskHeap    len (rec/tot):     55/    55, tx:        736, lsn: 0/010000F8, prev 0/010000D0, desc: INSERT db 5 rel 16384 tid 1: (1, a)
//! ```
//!
//! What it owns: locating the segments (`pg_waldump`'s rules: `-p DIR`, else the
//! segment argument's directory, `.`, `pg_wal`, `$PGDATA/pg_wal`), finding the first
//! record at or after a start position (skipping a record continued from an earlier
//! page, as `pg_waldump` does), the filters (`-n`, `-r`, `-x`), the record lines and
//! the `-z` statistics table, and `pg_waldump`'s messages and exit codes (0 when the
//! end position was reached, 1 on an error — including WAL that ends before it).
//!
//! What it must never do: write anything, or decode a record any other way than
//! recovery does ([`Record::decode`]).

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::format::{self, PAGE_SIZE};
use super::reader::find_segment;
use super::segment::parse_segment_file_name;
use super::{Lsn, WalReader, WalRecord};
use crate::storage::record::{rmgr_name, Record, RMGR_NAMES};

/// What `tusk waldump` was asked to do (see `cluster::cli::parse_waldump`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DumpOptions {
    /// `-p DIR`: where the segments are.
    pub path: Option<String>,
    /// `-s LSN`: where to start.
    pub start: Option<Lsn>,
    /// `-e LSN`: where to stop.
    pub end: Option<Lsn>,
    /// `-t TLI`: the timeline (default: the start segment's, else 1).
    pub timeline: Option<u32>,
    /// `-n N`: print at most N records.
    pub limit: Option<u64>,
    /// `-r NAME`: only records of this resource manager.
    pub rmgr: Option<String>,
    /// `-x XID`: only records of this transaction.
    pub xid: Option<u32>,
    /// `-z`: statistics instead of records.
    pub stats: bool,
    /// `-q`: no output except errors.
    pub quiet: bool,
    /// STARTSEG and optionally ENDSEG.
    pub segments: Vec<String>,
}

/// A failure, printed as `tusk waldump: error: …` (and the hint line, if any).
#[derive(Debug)]
pub struct DumpError {
    /// The message.
    pub message: String,
    /// The "Try …" hint of a usage error.
    pub hint: Option<String>,
}

fn fail(message: impl Into<String>) -> DumpError {
    DumpError {
        message: message.into(),
        hint: None,
    }
}

/// Runs `tusk waldump`: writes records (or statistics) to `out`. Returns an error for
/// the caller to print; `Ok` means the end position was reached.
pub fn run(o: &DumpOptions, out: &mut dyn Write) -> Result<(), DumpError> {
    if let Some(r) = &o.rmgr {
        if r == "list" {
            for name in RMGR_NAMES {
                let _ = writeln!(out, "{name}");
            }
            return Ok(());
        }
        if !RMGR_NAMES.iter().any(|n| n.eq_ignore_ascii_case(r)) {
            return Err(DumpError {
                message: format!("resource manager \"{r}\" does not exist"),
                hint: Some("Try \"tusk waldump --help\" for more information.".into()),
            });
        }
    }
    if o.segments.is_empty() && o.start.is_none() {
        return Err(DumpError {
            message: "no arguments specified".into(),
            hint: Some("Try \"tusk waldump --help\" for more information.".into()),
        });
    }
    let plan = Plan::new(o)?;
    let first = find_first_record(&plan.dir, plan.segment_size, plan.timeline, plan.start)
        .ok_or_else(|| {
            fail(format!(
                "could not find a valid record after {}",
                plan.start
            ))
        })?;
    if first != plan.start && !(plan.start.0 % plan.segment_size == 0 && o.start.is_none()) {
        let _ = writeln!(
            out,
            "first record is after {}, at {}, skipping over {} bytes",
            plan.start,
            first,
            first.0 - plan.start.0
        );
    }
    let mut reader = WalReader::new(&plan.dir, plan.segment_size, plan.timeline, first);
    let mut stats = Stats::default();
    let mut printed = 0u64;
    let mut last: Option<Lsn> = None;
    loop {
        if plan
            .end
            .is_some_and(|e| reader.end_of_valid() >= e && last.is_some())
        {
            break;
        }
        let rec = match reader.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => {
                let at = last.unwrap_or(first);
                let why = reader
                    .stop_reason()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("no valid WAL after {}", reader.end_of_valid()));
                if o.stats {
                    stats.print(out, first, reader.end_of_valid());
                }
                return Err(fail(format!("error in WAL record at {at}: {why}")));
            }
            Err(e) => return Err(fail(e.message)),
        };
        if plan.end.is_some_and(|e| rec.start >= e) {
            break;
        }
        last = Some(rec.start);
        if !wanted(o, &rec) {
            continue;
        }
        if o.stats {
            stats.add(&rec);
        } else if !o.quiet {
            let _ = writeln!(out, "{}", line(&rec));
        }
        printed += 1;
        if o.limit.is_some_and(|n| printed >= n) {
            break;
        }
    }
    if o.stats {
        stats.print(out, first, last.map_or(first, |_| reader.end_of_valid()));
    }
    Ok(())
}

/// Where to read: the directory, segment size, timeline and the start/end positions.
struct Plan {
    dir: PathBuf,
    segment_size: u64,
    timeline: u32,
    start: Lsn,
    end: Option<Lsn>,
}

impl Plan {
    fn new(o: &DumpOptions) -> Result<Plan, DumpError> {
        let named_dir = o.segments.first().and_then(|s| {
            let p = Path::new(s);
            p.parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map(Path::to_path_buf)
        });
        let dir = match (&o.path, named_dir) {
            (Some(p), _) => {
                let p = PathBuf::from(p);
                if !p.is_dir() {
                    return Err(fail(format!(
                        "could not open directory \"{}\": No such file or directory",
                        p.display()
                    )));
                }
                p
            }
            (None, Some(d)) => d,
            (None, None) => {
                search_dirs(o.segments.first().map(String::as_str)).ok_or_else(|| {
                    match o.segments.first() {
                        Some(s) => fail(format!("could not locate WAL file \"{s}\"")),
                        None => fail("could not find any WAL file"),
                    }
                })?
            }
        };
        let Some(first_seg) = o.segments.first() else {
            // Only -s: the segment size comes from any segment in the directory.
            let (size, tli) =
                any_segment(&dir).ok_or_else(|| fail("could not find any WAL file"))?;
            let start = o.start.unwrap_or_default();
            return Ok(Plan {
                dir,
                segment_size: size,
                timeline: o.timeline.unwrap_or(tli),
                start,
                end: o.end,
            });
        };
        let name = file_name(first_seg);
        let path = dir.join(&name);
        let segment_size = segment_size_of(&path)
            .ok_or_else(|| fail(format!("could not locate WAL file \"{name}\"")))?;
        let (tli, segno) = parse_segment_file_name(&name, segment_size)
            .ok_or_else(|| fail(format!("could not parse WAL file name \"{name}\"")))?;
        let seg_start = Lsn(segno * segment_size);
        let seg_end = Lsn(seg_start.0 + segment_size);
        let start = match o.start {
            Some(s) if s < seg_start || s >= seg_end => {
                return Err(fail(format!(
                    "start WAL location {s} is not inside file \"{name}\""
                )))
            }
            Some(s) => s,
            None => seg_start,
        };
        let end = match o.segments.get(1) {
            Some(last) => {
                let last = file_name(last);
                let (_, last_no) = parse_segment_file_name(&last, segment_size)
                    .ok_or_else(|| fail(format!("could not parse WAL file name \"{last}\"")))?;
                if last_no < segno {
                    return Err(fail(format!("ENDSEG {last} is before STARTSEG {name}")));
                }
                let end = Lsn((last_no + 1) * segment_size);
                Some(o.end.map_or(end, |e| e.min(end)))
            }
            None => Some(o.end.unwrap_or(seg_end)),
        };
        Ok(Plan {
            dir,
            segment_size,
            timeline: o.timeline.unwrap_or(tli),
            start,
            end,
        })
    }
}

/// The file name part of a segment argument.
fn file_name(arg: &str) -> String {
    Path::new(arg)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| arg.to_string())
}

/// `pg_waldump`'s search order without `-p`: `.`, `./pg_wal`, `$PGDATA/pg_wal`; the
/// first that holds `segment` (or any segment when none is named).
fn search_dirs(segment: Option<&str>) -> Option<PathBuf> {
    let mut dirs = vec![PathBuf::from("."), PathBuf::from("pg_wal")];
    if let Some(pgdata) = std::env::var_os("PGDATA") {
        dirs.push(PathBuf::from(pgdata).join("pg_wal"));
    }
    dirs.into_iter().find(|d| match segment {
        Some(s) => d.join(s).is_file(),
        None => any_segment(d).is_some(),
    })
}

/// The segment size and timeline of some segment in `dir`.
fn any_segment(dir: &Path) -> Option<(u64, u32)> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.len() == 24 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
    names.sort();
    names.iter().find_map(|n| {
        let size = segment_size_of(&dir.join(n))?;
        parse_segment_file_name(n, size).map(|(tli, _)| (size, tli))
    })
}

/// The segment size a segment file's long page header declares (as `pg_waldump`).
fn segment_size_of(path: &Path) -> Option<u64> {
    let f = File::open(path).ok()?;
    let mut head = [0u8; format::LONG_PAGE_HEADER as usize];
    f.read_exact_at(&mut head, 0).ok()?;
    let (_, size, _) = format::decode_page_header(&head)?.long?;
    let size = u64::from(size);
    (size.is_power_of_two() && size >= 1 << 20).then_some(size)
}

/// The first record starting at or after `start`: from the start of `start`'s page,
/// past any record continued from the page before (its remaining bytes, across as
/// many pages as it takes), then record by record.
fn find_first_record(dir: &Path, segment_size: u64, tli: u32, start: Lsn) -> Option<Lsn> {
    let mut page = start.0 - start.0 % PAGE_SIZE;
    let mut first = None;
    for _ in 0..(segment_size / PAGE_SIZE + 1) {
        let segno = page / segment_size;
        let (_, path) = find_segment(dir, tli, segno, segment_size)?;
        let f = File::open(path).ok()?;
        let mut head = [0u8; format::LONG_PAGE_HEADER as usize];
        f.read_exact_at(&mut head, page % segment_size).ok()?;
        let ph = format::decode_page_header(&head)?;
        let room = PAGE_SIZE - ph.size();
        if ph.info & format::XLP_FIRST_IS_CONTRECORD == 0 {
            first = Some(page + ph.size());
            break;
        }
        let rem = u64::from(ph.rem_len);
        if rem < room {
            first = Some(page + ph.size() + format::maxalign(rem));
            break;
        }
        page += PAGE_SIZE;
    }
    let first = first?;
    let mut reader = WalReader::new(dir, segment_size, tli, Lsn(first));
    // The record found may end exactly at the page's end: the next one is on the
    // next page, which the reader steps to itself.
    loop {
        let rec = reader.next_record().ok()??;
        if rec.start >= start {
            return Some(rec.start);
        }
    }
}

/// Whether a record passes `-r` and `-x`.
fn wanted(o: &DumpOptions, rec: &WalRecord) -> bool {
    if let Some(r) = &o.rmgr {
        if !rmgr_name(rec.rmid).eq_ignore_ascii_case(r) {
            return false;
        }
    }
    o.xid.is_none_or(|x| x == rec.xid)
}

/// The record's total length as stored (`xl_tot_len`): header, main-data header and
/// payload (tusk logs no block references; a record without data, such as the
/// segment switch, is the bare header).
fn total_len(rec: &WalRecord) -> usize {
    let data_header = match rec.payload.len() {
        0 => 0,
        1..=255 => 2,
        _ => 5,
    };
    format::RECORD_HEADER + data_header + rec.payload.len()
}

/// What a record does, in recovery's words.
fn describe(rec: &WalRecord) -> String {
    if rec.rmid == format::RM_XLOG_ID {
        return if rec.is_switch() {
            "SWITCH ".to_string()
        } else {
            format!("UNKNOWN ({:X})", rec.info & !format::XLR_INFO_MASK)
        };
    }
    match Record::decode(rec.rmid, rec.info, &rec.payload) {
        Ok(r) => r.describe(),
        Err(e) => format!("UNKNOWN ({:X}) rmid: {}: {}", rec.info, rec.rmid, e.message),
    }
}

/// One record line, in `pg_waldump`'s layout.
fn line(rec: &WalRecord) -> String {
    let len = total_len(rec);
    format!(
        "rmgr: {:<11} len (rec/tot): {:>6}/{:>6}, tx: {:>10}, lsn: {}, prev {}, desc: {}",
        rmgr_name(rec.rmid),
        len,
        len,
        rec.xid,
        padded(rec.start),
        padded(rec.prev),
        describe(rec)
    )
}

/// An LSN as `pg_waldump` prints it in record lines: `%X/%08X`.
fn padded(l: Lsn) -> String {
    format!("{:X}/{:08X}", l.0 >> 32, l.0 & 0xffff_ffff)
}

/// `-z`: counts and sizes per resource manager.
#[derive(Default)]
struct Stats {
    /// (records, bytes) per resource manager name, in [`RMGR_NAMES`] order.
    rows: Vec<(u64, u64)>,
}

impl Stats {
    fn add(&mut self, rec: &WalRecord) {
        if self.rows.is_empty() {
            self.rows = vec![(0, 0); RMGR_NAMES.len()];
        }
        let name = rmgr_name(rec.rmid);
        if let Some(i) = RMGR_NAMES.iter().position(|n| *n == name) {
            self.rows[i].0 += 1;
            self.rows[i].1 += total_len(rec) as u64;
        }
    }

    /// The table, in `pg_waldump --stats`'s layout (tusk logs no full-page images,
    /// so the FPI columns are zero).
    fn print(&self, out: &mut dyn Write, from: Lsn, to: Lsn) {
        let rows = if self.rows.is_empty() {
            vec![(0, 0); RMGR_NAMES.len()]
        } else {
            self.rows.clone()
        };
        let (n_total, len_total) = rows
            .iter()
            .fold((0u64, 0u64), |(n, l), (a, b)| (n + a, l + b));
        let pct = |x: u64, t: u64| {
            if t == 0 {
                0.0
            } else {
                100.0 * x as f64 / t as f64
            }
        };
        let _ = writeln!(out, "WAL statistics between {from} and {to}:");
        let _ = writeln!(
            out,
            "{:<27} {:>20} {:>8} {:>20} {:>8} {:>20} {:>8} {:>20} {:>8}",
            "Type", "N", "(%)", "Record size", "(%)", "FPI size", "(%)", "Combined size", "(%)"
        );
        let _ = writeln!(
            out,
            "{:<27} {:>20} {:>8} {:>20} {:>8} {:>20} {:>8} {:>20} {:>8}",
            "----", "-", "---", "-----------", "---", "--------", "---", "-------------", "---"
        );
        for (name, (n, len)) in RMGR_NAMES.iter().zip(rows.iter()) {
            let _ = writeln!(
                out,
                "{:<27} {:>20} ({:>6.2}) {:>20} ({:>6.2}) {:>20} ({:>6.2}) {:>20} ({:>6.2})",
                name,
                n,
                pct(*n, n_total),
                len,
                pct(*len, len_total),
                0,
                0.0,
                len,
                pct(*len, len_total)
            );
        }
        let _ = writeln!(
            out,
            "{:<27} {:>20} {:>8} {:>20} {:>8} {:>20} {:>8} {:>20}",
            "", "--------", "", "--------", "", "--------", "", "--------"
        );
        let _ = writeln!(
            out,
            "{:<27} {:>20} {:<9}{:>20} {:<9}{:>20} {:<9}{:>20} [100%]",
            "Total",
            n_total,
            "",
            len_total,
            format!("[{:.2}%]", pct(len_total, len_total)),
            0,
            "[0.00%]",
            len_total,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsns_are_padded_as_pg_waldump_prints_them() {
        assert_eq!(padded(Lsn(0x0100_0028)), "0/01000028");
        assert_eq!(padded(Lsn(0x16_B374_D848)), "16/B374D848");
    }

    #[test]
    fn total_length_counts_the_data_header() {
        let rec = |n: usize| WalRecord {
            start: Lsn(0),
            end: Lsn(0),
            prev: Lsn(0),
            rmid: 128,
            info: 0,
            xid: 1,
            payload: vec![0; n],
        };
        assert_eq!(total_len(&rec(0)), 24);
        assert_eq!(total_len(&rec(1)), 27);
        assert_eq!(total_len(&rec(255)), 24 + 2 + 255);
        assert_eq!(total_len(&rec(256)), 24 + 5 + 256);
    }

    #[test]
    fn unknown_rmgr_and_missing_arguments_are_usage_errors() {
        let mut out = Vec::new();
        let e = run(
            &DumpOptions {
                rmgr: Some("foo".into()),
                segments: vec!["x".into()],
                ..Default::default()
            },
            &mut out,
        )
        .unwrap_err();
        assert_eq!(e.message, "resource manager \"foo\" does not exist");
        let e = run(&DumpOptions::default(), &mut out).unwrap_err();
        assert_eq!(e.message, "no arguments specified");
        assert!(e.hint.is_some());
    }
}
