//! Fault injection for the crash suite: a failing WAL fsync in a real server process.
//!
//! The engine's disk I/O goes through [`WalIo`]; [`io_from_env`] picks the layer a
//! server uses. In release builds it is always [`StdIo`]: nothing here can change what
//! a production server does. In debug builds (`cfg(debug_assertions)`, which the test
//! suites run) one environment variable arms a fault:
//!
//! - `TUSK_TEST_FAIL_FSYNC_AFTER=n`: after `n` successful WAL segment fsyncs (any file,
//!   counted from the start of the process), the next one returns `EIO`, once. Later
//!   fsyncs succeed again, so a writer that retried would seem to get away with it.
//!
//! The failed fsync also loses the writes it was to make durable, as Linux may after
//! a writeback error (the dirty pages are dropped and the error reported once): every
//! byte written to that file since its last successful fsync is put back to what it
//! was before. So a commit that was answered with success although its fsync failed
//! would be missing after a restart, where the crash suite looks for it.
//!
//! ## What it must never do
//! Be reachable in a release build, fail anything but the one fsync it was armed for,
//! or touch files other than through the wrapped [`StdIo`].

use std::sync::Arc;

use super::io::{StdIo, WalIo};

/// The environment variable that arms the fsync fault (debug builds only).
pub const FAIL_FSYNC_AFTER: &str = "TUSK_TEST_FAIL_FSYNC_AFTER";

/// The I/O layer for a server: [`StdIo`], or in a debug build with
/// [`FAIL_FSYNC_AFTER`] set, the fault-injecting layer over it.
pub fn io_from_env() -> Arc<dyn WalIo> {
    #[cfg(debug_assertions)]
    if let Ok(v) = std::env::var(FAIL_FSYNC_AFTER) {
        match v.parse::<u64>() {
            Ok(n) => {
                tracing::warn!(
                    "fault injection: WAL fsync number {} of this process will fail",
                    n + 1
                );
                return Arc::new(armed::FailFsyncIo::new(n));
            }
            Err(_) => tracing::warn!("ignoring {FAIL_FSYNC_AFTER}={v:?}: not a number"),
        }
    }
    Arc::new(StdIo)
}

#[cfg(debug_assertions)]
mod armed {
    use std::io;
    use std::path::Path;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use super::super::io::{SegmentFile, StdIo, WalIo};
    use super::super::SyncMethod;

    /// [`StdIo`] whose fsync number `after + 1` fails with `EIO` and loses its writes.
    pub struct FailFsyncIo {
        /// Successful fsyncs allowed before the failing one.
        after: u64,
        /// Fsyncs asked for so far, by every file of the process.
        count: Arc<AtomicU64>,
    }

    impl FailFsyncIo {
        pub fn new(after: u64) -> FailFsyncIo {
            FailFsyncIo {
                after,
                count: Arc::new(AtomicU64::new(0)),
            }
        }

        fn wrap(&self, inner: Box<dyn SegmentFile>) -> Box<dyn SegmentFile> {
            Box::new(FailFsyncFile {
                inner,
                after: self.after,
                count: self.count.clone(),
                unsynced: Vec::new(),
            })
        }
    }

    /// One segment file; remembers what its unsynced writes overwrote.
    struct FailFsyncFile {
        inner: Box<dyn SegmentFile>,
        after: u64,
        count: Arc<AtomicU64>,
        /// (offset, the bytes there before the write), oldest first, since the last
        /// successful fsync.
        unsynced: Vec<(u64, Vec<u8>)>,
    }

    impl SegmentFile for FailFsyncFile {
        fn write_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
            let mut old = vec![0u8; buf.len()];
            let n = self.inner.read_at(&mut old, offset)?;
            old.truncate(n);
            self.unsynced.push((offset, old));
            self.inner.write_at(buf, offset)
        }

        fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            self.inner.read_at(buf, offset)
        }

        fn sync(&mut self) -> io::Result<()> {
            let n = self.count.fetch_add(1, Ordering::SeqCst);
            if n == self.after {
                // The kernel dropped the dirty pages: the file reads as before the
                // writes (undone newest first, so overlapping writes unwind right).
                for (offset, old) in std::mem::take(&mut self.unsynced).into_iter().rev() {
                    self.inner.write_at(&old, offset)?;
                }
                self.inner.sync()?;
                tracing::warn!("fault injection: failing WAL fsync number {}", n + 1);
                return Err(io::Error::from_raw_os_error(libc::EIO));
            }
            self.inner.sync()?;
            self.unsynced.clear();
            Ok(())
        }
    }

    impl WalIo for FailFsyncIo {
        fn open(&self, path: &Path, method: SyncMethod) -> io::Result<Box<dyn SegmentFile>> {
            Ok(self.wrap(StdIo.open(path, method)?))
        }

        fn create_zeroed(
            &self,
            path: &Path,
            size: u64,
            fsync: bool,
            method: SyncMethod,
        ) -> io::Result<Box<dyn SegmentFile>> {
            Ok(self.wrap(StdIo.create_zeroed(path, size, fsync, method)?))
        }

        fn copy(&self, from: &Path, to: &Path, fsync: bool) -> io::Result<()> {
            StdIo.copy(from, to, fsync)
        }

        fn sync_dir(&self, dir: &Path) -> io::Result<()> {
            StdIo.sync_dir(dir)
        }

        fn replace_file(&self, path: &Path, contents: &[u8], fsync: bool) -> io::Result<()> {
            StdIo.replace_file(path, contents, fsync)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_armed_fsync_fails_once_and_loses_its_writes() {
            let dir = std::env::temp_dir().join(format!("tusk-fault-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("seg");
            let io = FailFsyncIo::new(1);
            let mut f = io
                .create_zeroed(&path, 8192, false, SyncMethod::Fdatasync)
                .unwrap();
            f.write_at(b"kept", 0).unwrap();
            f.sync().unwrap();
            f.write_at(b"lost", 4).unwrap();
            f.write_at(b"LOST", 2).unwrap();
            let e = f.sync().unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EIO));
            let back = std::fs::read(&path).unwrap();
            assert_eq!(&back[..10], b"kept\0\0\0\0\0\0");
            // Only the one fsync fails.
            f.write_at(b"later", 0).unwrap();
            f.sync().unwrap();
            assert_eq!(&std::fs::read(&path).unwrap()[..5], b"later");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
