//! The backup manifest PostgreSQL 15 writes (`backup_manifest.c`): JSON with a strict
//! line layout, one file object per line, the WAL ranges, and a SHA-256 of everything
//! before the last line.
//!
//! What it owns: [`FileChecksum`] (a running per-file checksum) and [`Manifest`] (the
//! text being built). What it must never do: read files (the stream feeds it what it
//! sends).
//!
//! One manifest, step by step:
//! 1. [`Manifest::new`] writes the version line and opens `"Files": [`;
//! 2. for each regular file sent, [`Manifest::add_file`] appends one line with its path
//!    (or `Encoded-Path`), size, mtime and checksum (CRC-32C bytes in native order);
//! 3. [`Manifest::finish`] closes the list, writes `WAL-Ranges`, and appends the
//!    `Manifest-Checksum` line over all bytes before it.

use super::options::ChecksumKind;
use sha2::Digest;
use std::fmt::Write;

/// A per-file checksum being computed over the bytes sent.
pub enum FileChecksum {
    /// No checksum.
    None,
    /// CRC-32C so far.
    Crc32c(u32),
    /// SHA-224 so far.
    Sha224(sha2::Sha224),
    /// SHA-256 so far.
    Sha256(sha2::Sha256),
    /// SHA-384 so far.
    Sha384(sha2::Sha384),
    /// SHA-512 so far.
    Sha512(sha2::Sha512),
}

impl FileChecksum {
    /// A fresh checksum of the given kind.
    pub fn new(kind: ChecksumKind) -> FileChecksum {
        match kind {
            ChecksumKind::None => FileChecksum::None,
            ChecksumKind::Crc32c => FileChecksum::Crc32c(0),
            ChecksumKind::Sha224 => FileChecksum::Sha224(sha2::Sha224::new()),
            ChecksumKind::Sha256 => FileChecksum::Sha256(sha2::Sha256::new()),
            ChecksumKind::Sha384 => FileChecksum::Sha384(sha2::Sha384::new()),
            ChecksumKind::Sha512 => FileChecksum::Sha512(sha2::Sha512::new()),
        }
    }

    /// Adds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            FileChecksum::None => {}
            FileChecksum::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
            FileChecksum::Sha224(h) => h.update(data),
            FileChecksum::Sha256(h) => h.update(data),
            FileChecksum::Sha384(h) => h.update(data),
            FileChecksum::Sha512(h) => h.update(data),
        }
    }

    /// The digest bytes as the manifest writes them (CRC-32C: the 32-bit value in the
    /// host's byte order, as PostgreSQL copies it out of memory).
    pub fn finish(self) -> Vec<u8> {
        match self {
            FileChecksum::None => Vec::new(),
            FileChecksum::Crc32c(c) => c.to_ne_bytes().to_vec(),
            FileChecksum::Sha224(h) => h.finalize().to_vec(),
            FileChecksum::Sha256(h) => h.finalize().to_vec(),
            FileChecksum::Sha384(h) => h.finalize().to_vec(),
            FileChecksum::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Appends `s` as a JSON string (PostgreSQL's `escape_json`).
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A manifest being built.
pub struct Manifest {
    text: String,
    kind: ChecksumKind,
    force_encode: bool,
    first_file: bool,
}

impl Manifest {
    /// Starts a manifest whose files carry `kind` checksums; `force_encode` hex-encodes
    /// every path.
    pub fn new(kind: ChecksumKind, force_encode: bool) -> Manifest {
        Manifest {
            text: "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [".to_string(),
            kind,
            force_encode,
            first_file: true,
        }
    }

    /// The checksum kind of this manifest.
    pub fn kind(&self) -> ChecksumKind {
        self.kind
    }

    /// Adds one file line.
    pub fn add_file(&mut self, path: &[u8], size: u64, mtime: i64, checksum: &[u8]) {
        let t = &mut self.text;
        t.push_str(if self.first_file { "\n" } else { ",\n" });
        self.first_file = false;
        match std::str::from_utf8(path) {
            Ok(p) if !self.force_encode => {
                t.push_str("{ \"Path\": ");
                json_string(t, p);
            }
            _ => {
                t.push_str("{ \"Encoded-Path\": \"");
                t.push_str(&hex(path));
                t.push('"');
            }
        }
        let when = chrono::DateTime::from_timestamp(mtime, 0)
            .unwrap_or_default()
            .format("%Y-%m-%d %H:%M:%S GMT");
        let _ = write!(t, ", \"Size\": {size}, \"Last-Modified\": \"{when}\"");
        if self.kind != ChecksumKind::None {
            let _ = write!(
                t,
                ", \"Checksum-Algorithm\": \"{}\", \"Checksum\": \"{}\"",
                self.kind.name(),
                hex(checksum)
            );
        }
        t.push_str(" }");
    }

    /// Ends the manifest with its WAL ranges `(timeline, start, end)` (newest timeline
    /// first) and the manifest checksum line; returns the whole text.
    pub fn finish(mut self, wal_ranges: &[(u32, String, String)]) -> Vec<u8> {
        self.text.push_str("\n],\n\"WAL-Ranges\": [\n");
        for (i, (tli, start, end)) in wal_ranges.iter().enumerate() {
            if i > 0 {
                self.text.push_str(",\n");
            }
            let _ = write!(
                self.text,
                "{{ \"Timeline\": {tli}, \"Start-LSN\": \"{start}\", \"End-LSN\": \"{end}\" }}"
            );
        }
        self.text.push_str("\n],\n");
        let digest = sha2::Sha256::digest(self.text.as_bytes());
        let _ = writeln!(self.text, "\"Manifest-Checksum\": \"{}\"}}", hex(&digest));
        self.text.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_in_native_order() {
        let mut c = FileChecksum::new(ChecksumKind::Crc32c);
        c.update(b"1");
        c.update(b"5\n");
        // PostgreSQL writes CRC32C("15\n") = 0x2247748a as 8a744722 on little-endian hosts.
        let expect = 0x2247748au32.to_ne_bytes();
        assert_eq!(c.finish(), expect.to_vec());
        assert_eq!(
            FileChecksum::new(ChecksumKind::Crc32c).finish(),
            vec![0, 0, 0, 0]
        );
    }

    #[test]
    fn layout_and_checksum() {
        let mut m = Manifest::new(ChecksumKind::Crc32c, false);
        m.add_file(b"PG_VERSION", 3, 0, &[0x8a, 0x74, 0x47, 0x22]);
        m.add_file(b"a\"b", 0, 0, &[0, 0, 0, 0]);
        m.add_file(b"\xff", 0, 0, &[0, 0, 0, 0]);
        let text =
            String::from_utf8(m.finish(&[(1, "0/2000028".into(), "0/2000138".into())])).unwrap();
        let expect_head = "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n{ \"Path\": \"PG_VERSION\", \"Size\": 3, \"Last-Modified\": \"1970-01-01 00:00:00 GMT\", \"Checksum-Algorithm\": \"CRC32C\", \"Checksum\": \"8a744722\" },\n{ \"Path\": \"a\\\"b\", ";
        assert!(text.starts_with(expect_head), "{text}");
        assert!(text.contains("{ \"Encoded-Path\": \"ff\", \"Size\": 0"));
        assert!(text.contains(
            "\n],\n\"WAL-Ranges\": [\n{ \"Timeline\": 1, \"Start-LSN\": \"0/2000028\", \"End-LSN\": \"0/2000138\" }\n],\n\"Manifest-Checksum\": \""
        ));
        assert!(text.ends_with("\"}\n"));
        // The checksum covers everything up to the newline before the last line.
        let body = text.trim_end_matches('\n');
        let cut = body.rfind('\n').unwrap() + 1;
        let digest = hex(&sha2::Sha256::digest(&text.as_bytes()[..cut]));
        assert!(text[cut..].contains(&digest));
        // Without checksums the keys are omitted; an empty file list is valid.
        let mut m = Manifest::new(ChecksumKind::None, true);
        m.add_file(b"x", 1, 0, &[]);
        let t = String::from_utf8(m.finish(&[])).unwrap();
        assert!(t.contains("{ \"Encoded-Path\": \"78\", \"Size\": 1, \"Last-Modified\": \"1970-01-01 00:00:00 GMT\" }\n],"));
        let empty =
            String::from_utf8(Manifest::new(ChecksumKind::Crc32c, false).finish(&[])).unwrap();
        assert!(
            empty.starts_with("{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n],\n")
        );
    }
}
