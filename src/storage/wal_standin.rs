//! TEMPORARY private stand-in for `storage::wal` and `storage::control` (branch `wal`),
//! with the same signatures, so the engine can run end to end before that branch lands.
//! Deleted when the real modules are merged.
#![allow(dead_code)]

use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A WAL position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl std::fmt::Display for Lsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xffff_ffff)
    }
}

/// How to sync.
#[derive(Debug, Clone, Copy, Default)]
pub enum SyncMethod {
    /// fdatasync.
    #[default]
    Fdatasync,
}

/// Options.
#[derive(Debug, Clone)]
pub struct WalOptions {
    pub dir: PathBuf,
    pub segment_size: u64,
    pub system_id: u64,
    pub timeline: u32,
    pub fsync: bool,
    pub sync_method: SyncMethod,
}

const BASE: u64 = 0x0100_0000;

/// The writer.
pub struct WalWriter {
    file: Mutex<(File, u64, u64)>,
}

fn path(dir: &Path) -> PathBuf {
    dir.join("standin.wal")
}

impl WalWriter {
    pub fn create(opts: WalOptions) -> Result<WalWriter> {
        std::fs::create_dir_all(&opts.dir).map_err(|e| Error::io("mkdir", e))?;
        let f = File::create(path(&opts.dir)).map_err(|e| Error::io("create", e))?;
        Ok(WalWriter {
            file: Mutex::new((f, BASE, BASE)),
        })
    }
    pub fn open(opts: WalOptions, end: Lsn, _last: Lsn) -> Result<WalWriter> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path(&opts.dir))
            .map_err(|e| Error::io("open", e))?;
        f.set_len(end.0 - BASE).map_err(|e| Error::io("trunc", e))?;
        Ok(WalWriter {
            file: Mutex::new((f, end.0, end.0)),
        })
    }
    pub fn append(&self, rmid: u8, info: u8, xid: u32, payload: &[u8]) -> Result<(Lsn, Lsn)> {
        let mut g = self.file.lock().unwrap();
        let start = g.1;
        let mut buf = Vec::new();
        buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        let mut body = vec![rmid, info];
        body.extend_from_slice(&xid.to_le_bytes());
        body.extend_from_slice(payload);
        buf.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
        buf.extend_from_slice(&body);
        g.0.seek(SeekFrom::Start(start - BASE)).unwrap();
        g.0.write_all(&buf).map_err(|e| Error::io("write", e))?;
        g.1 = start + buf.len() as u64;
        Ok((Lsn(start), Lsn(g.1)))
    }
    pub fn flush(&self, upto: Lsn) -> Result<()> {
        let mut g = self.file.lock().unwrap();
        g.0.sync_data().map_err(|e| Error::io("sync", e))?;
        g.2 = g.2.max(upto.0);
        Ok(())
    }
    pub fn insert_lsn(&self) -> Lsn {
        Lsn(self.file.lock().unwrap().1)
    }
    pub fn flush_lsn(&self) -> Lsn {
        Lsn(self.file.lock().unwrap().2)
    }
}

/// A record.
pub struct WalRecord {
    pub start: Lsn,
    pub end: Lsn,
    pub prev: Lsn,
    pub rmid: u8,
    pub info: u8,
    pub xid: u32,
    pub payload: Vec<u8>,
}

/// The reader.
pub struct WalReader {
    data: Vec<u8>,
    pos: u64,
}

impl WalReader {
    pub fn new(dir: &Path, _seg: u64, _tl: u32, start: Lsn) -> WalReader {
        let mut data = Vec::new();
        if let Ok(mut f) = File::open(path(dir)) {
            let _ = f.read_to_end(&mut data);
        }
        WalReader {
            data,
            pos: start.0.max(BASE),
        }
    }
    pub fn next_record(&mut self) -> Result<Option<WalRecord>> {
        let off = (self.pos - BASE) as usize;
        let d = &self.data;
        if off + 14 > d.len() {
            return Ok(None);
        }
        let len = u32::from_le_bytes(d[off..off + 4].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(d[off + 4..off + 8].try_into().unwrap());
        if off + 14 + len > d.len() {
            return Ok(None);
        }
        let body = &d[off + 8..off + 14 + len];
        if crc32c::crc32c(body) != crc {
            return Ok(None);
        }
        let start = self.pos;
        self.pos += 14 + len as u64;
        Ok(Some(WalRecord {
            start: Lsn(start),
            end: Lsn(self.pos),
            prev: Lsn(0),
            rmid: body[0],
            info: body[1],
            xid: u32::from_le_bytes(body[2..6].try_into().unwrap()),
            payload: body[6..].to_vec(),
        }))
    }
    pub fn end_of_valid(&self) -> Lsn {
        Lsn(self.pos)
    }
}

/// Cluster state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DbState {
    #[default]
    Shutdowned,
    InProduction,
}

/// The control file.
#[derive(Debug, Clone, Default)]
pub struct ControlFile {
    pub system_identifier: u64,
    pub state: DbState,
    pub checkpoint: Lsn,
    pub redo: Lsn,
    pub timeline: u32,
    pub next_xid: u64,
    pub next_oid: u32,
    pub wal_segment_size: u32,
}

impl ControlFile {
    pub fn new_system_identifier() -> u64 {
        rand::random()
    }
    pub fn read(datadir: &Path) -> Result<Self> {
        let s = std::fs::read_to_string(datadir.join("global/pg_control"))
            .map_err(|e| Error::io("read control", e))?;
        let v: Vec<u64> = s.split(',').map(|x| x.parse().unwrap_or(0)).collect();
        Ok(ControlFile {
            system_identifier: v[0],
            state: if v[1] == 0 {
                DbState::Shutdowned
            } else {
                DbState::InProduction
            },
            checkpoint: Lsn(v[2]),
            redo: Lsn(v[3]),
            timeline: v[4] as u32,
            next_xid: v[5],
            next_oid: v[6] as u32,
            wal_segment_size: v[7] as u32,
        })
    }
    pub fn write(&self, datadir: &Path, _fsync: bool) -> Result<()> {
        std::fs::create_dir_all(datadir.join("global")).map_err(|e| Error::io("mkdir", e))?;
        let s = format!(
            "{},{},{},{},{},{},{},{}",
            self.system_identifier,
            (self.state == DbState::InProduction) as u8,
            self.checkpoint.0,
            self.redo.0,
            self.timeline,
            self.next_xid,
            self.next_oid,
            self.wal_segment_size
        );
        std::fs::write(datadir.join("global/pg_control"), s).map_err(|e| Error::io("write", e))
    }
}

/// Stand-in for `crate::auth::encrypt_password` (md5 form only).
pub fn encrypt_password(_method: &str, user: &str, password: &str) -> String {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    h.update(password.as_bytes());
    h.update(user.as_bytes());
    format!("md5{:x}", h.finalize())
}
