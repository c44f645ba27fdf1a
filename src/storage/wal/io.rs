//! The WAL's disk I/O, behind a small trait so tests can inject failures.
//!
//! Every byte the writer puts on disk and every fsync it asks for goes through
//! [`WalIo`] and [`SegmentFile`]. The production implementation is [`StdIo`] (plain
//! files, `pwrite`, `fdatasync`/`fsync`, `O_DSYNC`/`O_SYNC` for the `open_*` sync
//! methods). A test can wrap it to fail a write or an fsync and check that the writer
//! refuses further work (STYLE habit 8: crash before corrupt).
//!
//! Segment files are created the way PostgreSQL creates them: zero-filled to the full
//! segment size in a temporary file, made durable, then renamed into place, so a
//! segment file is either absent or complete. A temporary file whose writing failed
//! (a full disk) is removed at once, never left to hold the space.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use super::SyncMethod;

/// One open segment file.
pub trait SegmentFile: Send {
    /// Writes all of `buf` at byte `offset` of the file.
    fn write_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Reads into `buf` from byte `offset`; returns the bytes read (short at end of file).
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Makes the written bytes durable as the sync method says (a no-op for the `open_*`
    /// methods, whose writes are already synchronous).
    fn sync(&mut self) -> io::Result<()>;
}

/// The WAL's file-system operations.
pub trait WalIo: Send + Sync {
    /// Opens an existing segment file for reading and writing.
    fn open(&self, path: &Path, method: SyncMethod) -> io::Result<Box<dyn SegmentFile>>;
    /// Creates (or replaces) `path` as a zero-filled file of `size` bytes, durably when
    /// `fsync` is set, and opens it.
    fn create_zeroed(
        &self,
        path: &Path,
        size: u64,
        fsync: bool,
        method: SyncMethod,
    ) -> io::Result<Box<dyn SegmentFile>>;
    /// Copies `from` to `to` (through a temporary file and a rename), durably when
    /// `fsync` is set.
    fn copy(&self, from: &Path, to: &Path, fsync: bool) -> io::Result<()>;
    /// Fsyncs a directory so that renames and creations in it are durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Replaces `path` with `contents` atomically: a temporary file beside it, fsync,
    /// rename, fsync of the directory (the fsyncs only when `fsync` is set).
    fn replace_file(&self, path: &Path, contents: &[u8], fsync: bool) -> io::Result<()>;
}

/// The production [`WalIo`]: plain files.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdIo;

struct StdFile {
    file: File,
    method: SyncMethod,
}

impl SegmentFile for StdFile {
    fn write_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.file.write_all_at(buf, offset)
    }

    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            match self.file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    fn sync(&mut self) -> io::Result<()> {
        match self.method {
            SyncMethod::Fdatasync => self.file.sync_data(),
            SyncMethod::Fsync => self.file.sync_all(),
            SyncMethod::OpenDatasync | SyncMethod::OpenSync => Ok(()),
        }
    }
}

fn open_flags(method: SyncMethod) -> i32 {
    match method {
        SyncMethod::OpenDatasync => libc::O_DSYNC,
        SyncMethod::OpenSync => libc::O_SYNC,
        _ => 0,
    }
}

/// A temporary file name beside `path`, unique within the process (the writer and a
/// preallocation may build segment files at the same time).
fn temp_path(path: &Path) -> std::path::PathBuf {
    temp_in(path.parent().unwrap_or_else(|| Path::new(".")))
}

/// A temporary file name in `dir`, unique within the process (see [`temp_path`]).
pub(super) fn temp_in(dir: &Path) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    dir.join(format!("xlogtemp.{}.{n}", std::process::id()))
}

/// Runs `f`, which writes the temporary file `tmp` and renames it into place; if it
/// fails, removes `tmp` (as PostgreSQL unlinks a half-written `xlogtemp` file), so a
/// full disk is not kept full by the remains of the write that found it full.
fn removing_on_error(tmp: &Path, f: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
    let r = f();
    if r.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    r
}

impl WalIo for StdIo {
    fn open(&self, path: &Path, method: SyncMethod) -> io::Result<Box<dyn SegmentFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(open_flags(method))
            .open(path)?;
        Ok(Box::new(StdFile { file, method }))
    }

    fn create_zeroed(
        &self,
        path: &Path,
        size: u64,
        fsync: bool,
        method: SyncMethod,
    ) -> io::Result<Box<dyn SegmentFile>> {
        let tmp = temp_path(path);
        removing_on_error(&tmp, || {
            let f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            let zeros = vec![0u8; 1 << 20];
            let mut off = 0u64;
            while off < size {
                let n = (size - off).min(zeros.len() as u64) as usize;
                f.write_all_at(&zeros[..n], off)?;
                off += n as u64;
            }
            if fsync {
                f.sync_all()?;
            }
            std::fs::rename(&tmp, path)
        })?;
        if fsync {
            if let Some(dir) = path.parent() {
                self.sync_dir(dir)?;
            }
        }
        self.open(path, method)
    }

    fn copy(&self, from: &Path, to: &Path, fsync: bool) -> io::Result<()> {
        let tmp = temp_path(to);
        removing_on_error(&tmp, || {
            std::fs::copy(from, &tmp)?;
            if fsync {
                File::open(&tmp)?.sync_all()?;
            }
            std::fs::rename(&tmp, to)
        })?;
        if fsync {
            if let Some(dir) = to.parent() {
                self.sync_dir(dir)?;
            }
        }
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn replace_file(&self, path: &Path, contents: &[u8], fsync: bool) -> io::Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        removing_on_error(&tmp, || {
            let f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all_at(contents, 0)?;
            if fsync {
                f.sync_all()?;
            }
            std::fs::rename(&tmp, path)
        })?;
        if fsync {
            if let Some(dir) = path.parent() {
                self.sync_dir(dir)?;
            }
        }
        Ok(())
    }
}
