//! WAL segment arithmetic and file names.
//!
//! The WAL stream is cut into segments of `segment_size` bytes (a power of two between
//! 1 MiB and 1 GiB, fixed when the cluster is initialized). Segment number `segno`
//! covers the LSNs `[segno * segment_size, (segno + 1) * segment_size)`. On disk a
//! segment of timeline `tli` is the file `TTTTTTTTXXXXXXXXYYYYYYYY` (24 upper-case hex
//! digits) where `T` is the timeline, and `X`/`Y` split the segment number into
//! "logical log file" and "segment within it" the way PostgreSQL's `XLogFileName` does:
//! `X = segno / (4 GiB / segment_size)`, `Y = segno % (4 GiB / segment_size)`.
//!
//! Everything here is pure arithmetic; nothing touches the disk.

use super::Lsn;

/// The smallest allowed segment size (1 MiB).
pub const MIN_SEGMENT_SIZE: u64 = 1 << 20;
/// The largest allowed segment size (1 GiB).
pub const MAX_SEGMENT_SIZE: u64 = 1 << 30;
/// The default segment size (16 MiB).
pub const DEFAULT_SEGMENT_SIZE: u64 = 16 << 20;

/// Returns true when `size` is a valid WAL segment size: a power of two from 1 MiB to
/// 1 GiB.
pub fn is_valid_segment_size(size: u64) -> bool {
    size.is_power_of_two() && (MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&size)
}

/// The number of segments per 4 GiB "logical log file" (PostgreSQL's
/// `XLogSegmentsPerXLogId`).
pub fn segments_per_xlog_id(segment_size: u64) -> u64 {
    0x1_0000_0000 / segment_size
}

/// The segment number that holds the byte at `lsn` (PostgreSQL's `XLByteToSeg`).
pub fn lsn_to_segno(lsn: Lsn, segment_size: u64) -> u64 {
    lsn.0 / segment_size
}

/// The segment number that holds the byte just before `lsn` (PostgreSQL's
/// `XLByteToPrevSeg`): the segment an end position belongs to.
pub fn lsn_to_prev_segno(lsn: Lsn, segment_size: u64) -> u64 {
    lsn.0.saturating_sub(1) / segment_size
}

/// The LSN at which segment `segno` starts (PostgreSQL's `XLogSegNoOffsetToRecPtr` with
/// offset 0).
pub fn segment_start_lsn(segno: u64, segment_size: u64) -> Lsn {
    Lsn(segno * segment_size)
}

/// The offset of `lsn` within its segment (PostgreSQL's `XLogSegmentOffset`).
pub fn segment_offset(lsn: Lsn, segment_size: u64) -> u64 {
    lsn.0 & (segment_size - 1)
}

/// The file name of segment `segno` on timeline `tli` (PostgreSQL's `XLogFileName`).
pub fn segment_file_name(tli: u32, segno: u64, segment_size: u64) -> String {
    let per = segments_per_xlog_id(segment_size);
    format!("{:08X}{:08X}{:08X}", tli, segno / per, segno % per)
}

/// Parses a segment file name into `(timeline, segno)`; `None` when `name` is not 24
/// hex digits or its low part is out of range for `segment_size`.
pub fn parse_segment_file_name(name: &str, segment_size: u64) -> Option<(u32, u64)> {
    if name.len() != 24 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let tli = u32::from_str_radix(&name[0..8], 16).ok()?;
    let log = u64::from_str_radix(&name[8..16], 16).ok()?;
    let seg = u64::from_str_radix(&name[16..24], 16).ok()?;
    let per = segments_per_xlog_id(segment_size);
    if seg >= per {
        return None;
    }
    Some((tli, log * per + seg))
}

/// Returns true when `name` looks like a WAL segment file name (24 hex digits).
pub fn is_segment_file_name(name: &str) -> bool {
    name.len() == 24 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The file name of a timeline history file (`TTTTTTTT.history`).
pub fn history_file_name(tli: u32) -> String {
    format!("{tli:08X}.history")
}

/// The file name of a backup history file (PostgreSQL's `BackupHistoryFileName`):
/// the segment holding the backup's `start` on timeline `tli` (the stop timeline, as
/// PostgreSQL names it), a dot, the start's offset in that segment as `%08X`, and
/// `.backup` — e.g. `000000010000000000000002.00000028.backup`.
pub fn backup_history_file_name(tli: u32, start: Lsn, segment_size: u64) -> String {
    format!(
        "{}.{:08X}.backup",
        segment_file_name(tli, lsn_to_segno(start, segment_size), segment_size),
        segment_offset(start, segment_size)
    )
}

/// Parses a backup history file name (PostgreSQL's `IsBackupHistoryFileName`: 24 hex
/// digits, `.`, 8 hex digits, `.backup`) into the `(timeline, segno)` of its start
/// segment.
pub fn parse_backup_history_file_name(name: &str, segment_size: u64) -> Option<(u32, u64)> {
    let rest = name.strip_suffix(".backup")?;
    if rest.len() != 33 || rest.as_bytes()[24] != b'.' {
        return None;
    }
    if !rest[25..].bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    parse_segment_file_name(&rest[..24], segment_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_history_names_match_postgres() {
        let mb16 = DEFAULT_SEGMENT_SIZE;
        let name = backup_history_file_name(1, Lsn(0x2000028), mb16);
        assert_eq!(name, "000000010000000000000002.00000028.backup");
        assert_eq!(parse_backup_history_file_name(&name, mb16), Some((1, 2)));
        assert_eq!(
            backup_history_file_name(3, Lsn(0x1_0500_0100), 1 << 20),
            "000000030000000100000050.00000100.backup"
        );
        for bad in [
            "000000010000000000000002",
            "000000010000000000000002.backup",
            "000000010000000000000002.0000002G.backup",
            "000000010000000000000002.00000028.backup.done",
            "00000002.history",
        ] {
            assert_eq!(parse_backup_history_file_name(bad, mb16), None, "{bad}");
        }
    }

    #[test]
    fn names_match_postgres() {
        let mb16 = DEFAULT_SEGMENT_SIZE;
        assert_eq!(segment_file_name(1, 1, mb16), "000000010000000000000001");
        assert_eq!(segment_file_name(1, 256, mb16), "000000010000000100000000");
        assert_eq!(
            segment_file_name(2, 0x1FF, mb16),
            "0000000200000001000000FF"
        );
        // 1 MiB segments: 4096 per logical file.
        assert_eq!(
            segment_file_name(1, 4097, 1 << 20),
            "000000010000000100000001"
        );
        assert_eq!(
            parse_segment_file_name("0000000200000001000000FF", mb16),
            Some((2, 0x1FF))
        );
        assert_eq!(
            parse_segment_file_name("000000010000000000000100", mb16),
            None
        );
        assert_eq!(
            parse_segment_file_name("00000001000000000000001", mb16),
            None
        );
        assert_eq!(
            parse_segment_file_name("0000000100000000000000XY", mb16),
            None
        );
        assert_eq!(history_file_name(10), "0000000A.history");
    }

    #[test]
    fn lsn_arithmetic() {
        let s = DEFAULT_SEGMENT_SIZE;
        assert_eq!(lsn_to_segno(Lsn(0x1000028), s), 1);
        assert_eq!(lsn_to_segno(Lsn(0x2000000), s), 2);
        assert_eq!(lsn_to_prev_segno(Lsn(0x2000000), s), 1);
        assert_eq!(segment_start_lsn(3, s), Lsn(0x3000000));
        assert_eq!(segment_offset(Lsn(0x3000128), s), 0x128);
        assert!(is_valid_segment_size(1 << 20));
        assert!(is_valid_segment_size(1 << 30));
        assert!(!is_valid_segment_size(1 << 19));
        assert!(!is_valid_segment_size(3 << 20));
        assert!(!is_valid_segment_size(1 << 31));
    }
}
