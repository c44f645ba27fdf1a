//! `BASE_BACKUP`: a consistent copy of the data directory streamed as tar archives in
//! PostgreSQL 15's CopyOut framing, with backup_label and backup_manifest.
//!
//! What it owns: the option grammar of `BASE_BACKUP (…)` ([`options`]), the archive
//! stream (tar headers in [`tar`]), the manifest ([`manifest`]). What it must never do:
//! write into the data directory (other than what a checkpoint, the WAL switch and the
//! backup history file at backup stop write through the engine).
//!
//! Invariants:
//! - The files sent are those opened by [`Engine::start_backup`] under the checkpoint
//!   lock: they hold the start checkpoint's images, whatever checkpoints run meanwhile.
//! - The WAL from the start's redo point stays on disk until the stream is done (the
//!   [`crate::storage::backup::BackupStart`] lives until `run` returns).
//! - Every member's directory precedes it; `backup_label` is first, `global/pg_control`
//!   last of the data files; the archive ends with two zero blocks.
//!
//! One `BASE_BACKUP ( LABEL 'x', PROGRESS, CHECKPOINT 'fast', WAL, MANIFEST 'yes' )`:
//! 1. the options are parsed ([`options::parse`]); errors end the command before any
//!    output;
//! 2. the engine checkpoints and opens the files; the start LSN/TLI result and the
//!    tablespace result (one row: the data directory, with the size estimate) are sent;
//! 3. CopyOutResponse, `n` "base.tar", then `d` messages: backup_label, the files
//!    (emptied directories sent as headers only, `pg_wal/` plus
//!    `./pg_wal/archive_status/`), `p` progress about once a second;
//! 4. the engine stops the backup (WAL switch, backup history file in pg_wal) and
//!    returns the end LSN; pg_control
//!    (stamped with the backup's start and end) follows, then with `WAL` the segments
//!    from the start to the end and their `.done` files, then the trailer;
//! 5. `m` and the manifest in `d` messages, CopyDone, the end LSN/TLI result,
//!    CommandComplete `BASE_BACKUP`.

pub mod manifest;
pub mod options;
pub mod tar;

use std::os::unix::fs::FileExt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWrite;

use crate::config::ServerConfig;
use crate::err;
use crate::error::{sqlstate, Error, Result, Severity};
use crate::server::protocol::Writer;
use crate::sql::FieldDesc;
use crate::storage::backup::{BackupEntry, BackupEntryKind, BackupStart};
use crate::storage::wal::segment::{history_file_name, segment_file_name};
use crate::storage::wal::Lsn;
use crate::storage::Engine;

use manifest::{FileChecksum, Manifest};
use options::{BackupOptions, ManifestMode};

/// What one `BASE_BACKUP` command needs.
pub struct BackupRequest {
    /// The text after `BASE_BACKUP` (the options).
    pub args: String,
    /// The engine (checkpoints, positions, the timeline).
    pub engine: Arc<Engine>,
    /// The server configuration in force.
    pub config: Arc<ServerConfig>,
    /// The data directory.
    pub datadir: PathBuf,
}

/// Chunk size of file data in `d` messages (PostgreSQL's sink buffer).
const CHUNK: usize = 32 * 1024;
/// Bytes queued before the output is flushed to the socket.
const FLUSH_AT: usize = 64 * 1024;

/// Runs one `BASE_BACKUP`: writes the result sets, the CopyOut archive stream and the
/// final result set with their CommandComplete messages (including the final
/// `BASE_BACKUP` tag) to `out` (the caller sends ReadyForQuery, or the ErrorResponse of
/// a returned error).
pub async fn run<W: AsyncWrite + Unpin + Send>(req: BackupRequest, out: &mut W) -> Result<()> {
    let opts = options::parse(&req.args)?;
    if req
        .config
        .get_str("wal_level")
        .eq_ignore_ascii_case("minimal")
    {
        return Err(err!(
            sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
            "WAL level not sufficient for making an online backup"
        )
        .with_hint("wal_level must be set to \"replica\" or \"logical\" at server start."));
    }
    let start = req.engine.start_backup(opts.fast)?;
    let mut s = Stream {
        out,
        w: Writer::new(),
        opts: opts.clone(),
        done: 0,
        last_report: Instant::now(),
        throttle_start: Instant::now(),
        throttled: 0,
        manifest: (opts.manifest != ManifestMode::No)
            .then(|| Manifest::new(opts.checksum, opts.manifest == ManifestMode::ForceEncode)),
    };
    s.lsn_result(start.redo, start.timeline);
    let estimate = opts.progress.then(|| estimate_kb(&start));
    s.tablespace_result(estimate);
    // CopyOutResponse: overall format 0, no columns.
    s.w.raw(&[b'H', 0, 0, 0, 7, 0, 0, 0]);
    s.copy_data(b'n', b"base.tar\0\0");
    s.flush().await?;

    // 3. backup_label, tablespace_map, the files.
    let label = start.backup_label(&opts.label);
    let now = chrono::Utc::now().timestamp();
    let (uid, gid) = (start.control_meta.uid, start.control_meta.gid);
    s.generated_file(b"backup_label", label.as_bytes(), uid, gid, now)
        .await?;
    if opts.tablespace_map {
        s.generated_file(b"tablespace_map", b"", uid, gid, now)
            .await?;
    }
    for e in &start.entries {
        s.entry(e).await?;
        if e.path == b"pg_wal" {
            let mut st = e.clone();
            st.path = b"./pg_wal/archive_status".to_vec();
            s.entry(&st).await?;
        }
    }

    // 4. Stop, pg_control, WAL.
    let end = req.engine.stop_backup(&start, &opts.label)?;
    let control = start.control_image(end);
    let cm = &start.control_meta;
    s.generated_file(b"global/pg_control", &control, cm.uid, cm.gid, cm.mtime)
        .await?;
    if !opts.wal
        && opts.wait
        && req
            .config
            .get_str("archive_mode")
            .eq_ignore_ascii_case("off")
    {
        let notice = Error::new(
            sqlstate::SUCCESSFUL_COMPLETION,
            "WAL archiving is not enabled; you must ensure that all required WAL segments are copied through other means to complete the backup",
        )
        .with_severity(Severity::Notice);
        s.w.error(&notice);
    }
    if opts.wal {
        s.wal(&req, &start, end, uid, gid).await?;
    }
    s.data(&tar::TRAILER).await?;
    s.progress();

    // 5. Manifest, CopyDone, end result.
    if let Some(m) = s.manifest.take() {
        let ranges = [(start.timeline, start.redo.to_string(), end.to_string())];
        let text = m.finish(&ranges);
        s.copy_data(b'm', b"");
        for chunk in text.chunks(CHUNK) {
            s.copy_data(b'd', chunk);
            s.maybe_flush().await?;
        }
    }
    s.w.raw(&[b'c', 0, 0, 0, 4]);
    s.lsn_result(end, start.timeline);
    s.w.command_complete("BASE_BACKUP");
    s.flush().await?;
    drop(start);
    Ok(())
}

/// The progress estimate in kB: every member PostgreSQL counts (a header plus the
/// padded data; directories and links a header), without backup_label,
/// tablespace_map, pg_control, the trailer and the WAL.
fn estimate_kb(start: &BackupStart) -> i64 {
    let mut total = 0u64;
    for e in &start.entries {
        total += tar::member_size(e.size);
        if e.path == b"pg_wal" {
            total += tar::BLOCK as u64;
        }
    }
    (total / 1024) as i64
}

struct Stream<'a, W> {
    out: &'a mut W,
    w: Writer,
    opts: BackupOptions,
    /// Tar bytes sent so far (the `p` numerator).
    done: u64,
    last_report: Instant,
    throttle_start: Instant,
    throttled: u64,
    manifest: Option<Manifest>,
}

fn text_col(name: &str, type_oid: u32, type_len: i16) -> FieldDesc {
    FieldDesc {
        name: name.to_string(),
        table_oid: 0,
        column_id: 0,
        type_oid,
        type_len,
        typmod: 0,
    }
}

impl<W: AsyncWrite + Unpin + Send> Stream<'_, W> {
    /// Queues a CopyData message of sub-type `kind`.
    fn copy_data(&mut self, kind: u8, payload: &[u8]) {
        let len = (4 + 1 + payload.len()) as u32;
        let mut head = [0u8; 6];
        head[0] = b'd';
        head[1..5].copy_from_slice(&len.to_be_bytes());
        head[5] = kind;
        self.w.raw(&head);
        self.w.raw(payload);
    }

    /// A one-row result of an LSN and a timeline (`recptr`, `tli`).
    fn lsn_result(&mut self, lsn: Lsn, tli: u32) {
        self.w
            .row_description(&[text_col("recptr", 25, -1), text_col("tli", 20, -1)], &[]);
        self.w.data_row(&[
            Some(lsn.to_string().into_bytes()),
            Some(tli.to_string().into_bytes()),
        ]);
        self.w.command_complete("SELECT");
    }

    /// The tablespace list: only the data directory (NULL oid and location).
    fn tablespace_result(&mut self, size_kb: Option<i64>) {
        self.w.row_description(
            &[
                text_col("spcoid", 26, 4),
                text_col("spclocation", 25, -1),
                text_col("size", 20, 8),
            ],
            &[],
        );
        self.w
            .data_row(&[None, None, size_kb.map(|k| k.to_string().into_bytes())]);
        self.w.command_complete("SELECT");
    }

    async fn flush(&mut self) -> Result<()> {
        self.w
            .flush(self.out)
            .await
            .map_err(|e| Error::io("could not send data to client", e))
    }

    async fn maybe_flush(&mut self) -> Result<()> {
        if self.w.pending() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    /// Queues a `p` message with the bytes sent so far.
    fn progress(&mut self) {
        let done = self.done;
        self.copy_data(b'p', &done.to_be_bytes());
        self.last_report = Instant::now();
    }

    /// Sends archive bytes as one `d` message, counting them, throttling to
    /// `MAX_RATE` and reporting progress about once a second.
    async fn data(&mut self, bytes: &[u8]) -> Result<()> {
        self.copy_data(b'd', bytes);
        self.done += bytes.len() as u64;
        if self.last_report.elapsed() >= Duration::from_secs(1) {
            self.progress();
        }
        self.maybe_flush().await?;
        if let Some(rate) = self.opts.max_rate {
            self.throttled += bytes.len() as u64;
            let per_sec = u64::from(rate) * 1024;
            let due = Duration::from_secs_f64(self.throttled as f64 / per_sec as f64);
            let elapsed = self.throttle_start.elapsed();
            if due > elapsed {
                self.flush().await?;
                tokio::time::sleep(due - elapsed).await;
            }
        }
        Ok(())
    }

    /// Sends a member made of `data` (backup_label, pg_control…), listed in the
    /// manifest.
    async fn generated_file(
        &mut self,
        name: &[u8],
        data: &[u8],
        uid: u32,
        gid: u32,
        mtime: i64,
    ) -> Result<()> {
        let h = tar::header(
            name,
            tar::Kind::File,
            b"",
            data.len() as u64,
            0o600,
            uid,
            gid,
            mtime,
        )?;
        self.data(&h).await?;
        let mut sum = self.checksum();
        for c in data.chunks(CHUNK) {
            sum.update(c);
            self.data(c).await?;
        }
        self.pad(data.len() as u64).await?;
        self.list(name, data.len() as u64, mtime, sum);
        Ok(())
    }

    fn checksum(&self) -> FileChecksum {
        FileChecksum::new(
            self.manifest
                .as_ref()
                .map_or(options::ChecksumKind::None, |m| m.kind()),
        )
    }

    fn list(&mut self, name: &[u8], size: u64, mtime: i64, sum: FileChecksum) {
        if let Some(m) = self.manifest.as_mut() {
            m.add_file(name, size, mtime, &sum.finish());
        }
    }

    async fn pad(&mut self, size: u64) -> Result<()> {
        let n = tar::padding(size);
        if n > 0 {
            self.data(&[0u8; tar::BLOCK][..n]).await?;
        }
        Ok(())
    }

    /// Sends one member of the data directory.
    async fn entry(&mut self, e: &BackupEntry) -> Result<()> {
        match &e.kind {
            BackupEntryKind::Directory => {
                let h = entry_header(e, tar::Kind::Directory, b"", 0)?;
                self.data(&h).await
            }
            BackupEntryKind::Symlink(target) => {
                let h = entry_header(e, tar::Kind::Symlink, target.as_bytes(), 0)?;
                self.data(&h).await
            }
            BackupEntryKind::File(f) => {
                let h = entry_header(e, tar::Kind::File, b"", e.size)?;
                self.data(&h).await?;
                let mut sum = self.checksum();
                self.file_body(f, e.size, &e.path, &mut sum).await?;
                self.pad(e.size).await?;
                self.list(&e.path, e.size, e.mtime, sum);
                Ok(())
            }
        }
    }

    /// Sends exactly `size` bytes of `f`: a file that shrank since it was opened is
    /// padded with zeros, as PostgreSQL does.
    async fn file_body(
        &mut self,
        f: &std::fs::File,
        size: u64,
        path: &[u8],
        sum: &mut FileChecksum,
    ) -> Result<()> {
        let mut buf = vec![0u8; CHUNK];
        let mut off = 0u64;
        while off < size {
            let want = ((size - off) as usize).min(CHUNK);
            let n = f.read_at(&mut buf[..want], off).map_err(|e| {
                Error::io(
                    format!("could not read file \"{}\"", String::from_utf8_lossy(path)),
                    e,
                )
            })?;
            if n == 0 {
                buf[..want].fill(0);
                sum.update(&buf[..want]);
                self.data(&buf[..want]).await?;
                off += want as u64;
                continue;
            }
            sum.update(&buf[..n]);
            let chunk = buf[..n].to_vec();
            self.data(&chunk).await?;
            off += n as u64;
        }
        Ok(())
    }

    /// With `WAL`: the segments from the start's to the end's, each followed by its
    /// `archive_status/….done`, then the timeline history files.
    async fn wal(
        &mut self,
        req: &BackupRequest,
        start: &BackupStart,
        end: Lsn,
        uid: u32,
        gid: u32,
    ) -> Result<()> {
        let seg = start.segment_size;
        let first = start.redo.segno(seg);
        let last = Lsn(end.0.saturating_sub(1)).segno(seg).max(first);
        let tli = start.timeline;
        let dir = req.datadir.join("pg_wal");
        for segno in first..=last {
            let name = segment_file_name(tli, segno, seg);
            let path = dir.join(&name);
            let f = std::fs::File::open(&path).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    err!(
                        sqlstate::INTERNAL_ERROR,
                        "could not find WAL file \"{name}\""
                    )
                } else {
                    Error::io(format!("could not open file \"{}\"", path.display()), e)
                }
            })?;
            let meta = f
                .metadata()
                .map_err(|e| Error::io(format!("could not stat file \"{}\"", path.display()), e))?;
            if meta.len() != seg {
                return Err(err!(
                    sqlstate::INTERNAL_ERROR,
                    "unexpected WAL file size \"{name}\""
                ));
            }
            let member = format!("pg_wal/{name}");
            let h = tar::header(
                member.as_bytes(),
                tar::Kind::File,
                b"",
                seg,
                meta.mode(),
                meta.uid(),
                meta.gid(),
                meta.mtime(),
            )?;
            self.data(&h).await?;
            let mut none = FileChecksum::new(options::ChecksumKind::None);
            self.file_body(&f, seg, member.as_bytes(), &mut none)
                .await?;
            self.pad(seg).await?;
            let done = format!("pg_wal/archive_status/{name}.done");
            self.generated_file(done.as_bytes(), b"", uid, gid, meta.mtime())
                .await?;
        }
        // Timeline history files (none on timeline 1).
        for t in 2..=tli {
            let name = history_file_name(t);
            let path = dir.join(&name);
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let mtime = std::fs::metadata(&path).map(|m| m.mtime()).unwrap_or(0);
            let member = format!("pg_wal/{name}");
            let h = tar::header(
                member.as_bytes(),
                tar::Kind::File,
                b"",
                bytes.len() as u64,
                0o600,
                uid,
                gid,
                mtime,
            )?;
            self.data(&h).await?;
            self.data(&bytes).await?;
            self.pad(bytes.len() as u64).await?;
            let done = format!("pg_wal/archive_status/{name}.done");
            self.generated_file(done.as_bytes(), b"", uid, gid, mtime)
                .await?;
        }
        Ok(())
    }
}

/// The tar header of a backed-up member, with its mode, owner and time.
fn entry_header(e: &BackupEntry, kind: tar::Kind, link: &[u8], size: u64) -> Result<[u8; 512]> {
    tar::header(&e.path, kind, link, size, e.mode, e.uid, e.gid, e.mtime)
}
