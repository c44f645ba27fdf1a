//! Tar headers exactly as PostgreSQL 15 writes them (`src/port/tar.c`): POSIX ustar,
//! 512-byte blocks, names up to 99 bytes in the name field, no prefix, no GNU or pax
//! extensions.
//!
//! What it owns: [`header`], [`padding`] and the archive [`TRAILER`]. What it must never
//! do: read files or write to the client.
//!
//! One header, step by step:
//! 1. the name (plus `/` for directories and links) goes into bytes 0..100;
//! 2. mode, uid, gid as 7 octal digits and a space; size and mtime as 11 octal digits
//!    and a space (base-256 when too large);
//! 3. type, link target, `ustar\0`, `00`, user and group name `postgres`, device numbers;
//! 4. the checksum: the byte sum with the checksum field taken as spaces.

use crate::err;
use crate::error::{sqlstate, Result};

/// The size of a tar block.
pub const BLOCK: usize = 512;

/// The end of an archive: two zero blocks.
pub const TRAILER: [u8; 1024] = [0; 1024];

/// The kind of a tar member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file (type `0`).
    File,
    /// A directory (type `5`).
    Directory,
    /// A symbolic link (type `2`).
    Symlink,
}

/// Writes `value` into `field` as PostgreSQL's `print_tar_number`: octal digits filling
/// all but the last byte, then a space; base-256 when the value does not fit.
fn number(field: &mut [u8], value: u64) {
    let len = field.len();
    let digits = len - 1;
    if digits * 3 >= 64 || value < (1u64 << (digits * 3)) {
        let s = format!("{value:0digits$o}");
        field[..digits].copy_from_slice(s.as_bytes());
        field[digits] = b' ';
    } else {
        // Base-256: a leading 0x80, then the value big-endian in the rest.
        field.fill(0);
        field[0] = 0x80;
        let bytes = value.to_be_bytes();
        let n = (len - 1).min(8);
        field[len - n..].copy_from_slice(&bytes[8 - n..]);
    }
}

/// Builds one 512-byte header. `name` is the member name without a trailing `/`.
#[allow(clippy::too_many_arguments)]
pub fn header(
    name: &[u8],
    kind: Kind,
    link_target: &[u8],
    size: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
) -> Result<[u8; BLOCK]> {
    let mut h = [0u8; BLOCK];
    let mut full = name.to_vec();
    if kind != Kind::File {
        full.push(b'/');
    }
    if full.len() >= 100 {
        return Err(err!(
            sqlstate::INTERNAL_ERROR,
            "file name too long for tar format: \"{}\"",
            String::from_utf8_lossy(name)
        ));
    }
    if link_target.len() >= 100 {
        return Err(err!(
            sqlstate::INTERNAL_ERROR,
            "symbolic link target too long for tar format: file name \"{}\", target \"{}\"",
            String::from_utf8_lossy(name),
            String::from_utf8_lossy(link_target)
        ));
    }
    h[..full.len()].copy_from_slice(&full);
    number(&mut h[100..108], u64::from(mode & 0o7777));
    number(&mut h[108..116], u64::from(uid));
    number(&mut h[116..124], u64::from(gid));
    let size = if kind == Kind::File { size } else { 0 };
    number(&mut h[124..136], size);
    number(&mut h[136..148], mtime.max(0) as u64);
    h[156] = match kind {
        Kind::File => b'0',
        Kind::Directory => b'5',
        Kind::Symlink => b'2',
    };
    h[157..157 + link_target.len()].copy_from_slice(link_target);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[265..273].copy_from_slice(b"postgres");
    h[297..305].copy_from_slice(b"postgres");
    number(&mut h[329..337], 0);
    number(&mut h[337..345], 0);
    // The checksum is computed with its own field as eight spaces.
    h[148..156].fill(b' ');
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    number(&mut h[148..156], sum);
    Ok(h)
}

/// The zero bytes that pad a member of `size` bytes to a whole block.
pub fn padding(size: u64) -> usize {
    let rem = (size % BLOCK as u64) as usize;
    if rem == 0 {
        0
    } else {
        BLOCK - rem
    }
}

/// The bytes a member of `size` bytes occupies (header plus padded data).
pub fn member_size(size: u64) -> u64 {
    BLOCK as u64 + size + padding(size) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_postgresql_backup_label_header() {
        // The captured header of PostgreSQL's backup_label member (base-backup.md §10).
        let h = header(
            b"backup_label",
            Kind::File,
            b"",
            225,
            0o600,
            101,
            104,
            0o15301225346,
        )
        .unwrap();
        assert_eq!(&h[..13], b"backup_label\0");
        assert_eq!(&h[100..108], b"0000600 ");
        assert_eq!(&h[108..116], b"0000145 ");
        assert_eq!(&h[116..124], b"0000150 ");
        assert_eq!(&h[124..136], b"00000000341 ");
        assert_eq!(&h[136..148], b"15301225346 ");
        assert_eq!(&h[148..156], b"0015520 ");
        assert_eq!(h[156], b'0');
        assert_eq!(&h[257..265], b"ustar\x0000");
        assert_eq!(&h[265..274], b"postgres\0");
        assert_eq!(&h[297..306], b"postgres\0");
        assert_eq!(&h[329..345], b"0000000 0000000 ");
        assert!(h[345..].iter().all(|&b| b == 0));
    }

    #[test]
    fn directories_links_and_limits() {
        let d = header(b"global", Kind::Directory, b"", 99, 0o700, 0, 0, 0).unwrap();
        assert_eq!(&d[..8], b"global/\0");
        assert_eq!(&d[124..136], b"00000000000 ");
        assert_eq!(d[156], b'5');
        let l = header(
            b"pg_tblspc/16396",
            Kind::Symlink,
            b"/tmp/ts",
            0,
            0o777,
            0,
            0,
            0,
        )
        .unwrap();
        assert_eq!(&l[..17], b"pg_tblspc/16396/\0");
        assert_eq!(&l[157..165], b"/tmp/ts\0");
        assert_eq!(l[156], b'2');
        assert!(header(&[b'a'; 99], Kind::File, b"", 0, 0, 0, 0, 0).is_ok());
        let e = header(&[b'a'; 100], Kind::File, b"", 0, 0, 0, 0, 0).unwrap_err();
        assert!(e.message.starts_with("file name too long for tar format"));
        let big = header(b"big", Kind::File, b"", 1 << 40, 0o600, 0, 0, 0).unwrap();
        assert_eq!(big[124], 0x80);
        assert_eq!(&big[128..136], &(1u64 << 40).to_be_bytes());
        assert_eq!(padding(0), 0);
        assert_eq!(padding(1), 511);
        assert_eq!(padding(512), 0);
        assert_eq!(member_size(225), 1024);
    }
}
