//! Online base backups, the engine's side: starting a backup (a checkpoint and a stable
//! view of the files it wrote), keeping the WAL a running backup needs, stopping it
//! (closing the WAL segment that holds the end position), and starting a server from a
//! restored copy that carries a `backup_label`.
//!
//! What it owns: [`BackupStart`] (the start checkpoint's redo/checkpoint LSNs, timeline
//! and time, a `pg_control` image as of that checkpoint, and the files of the data
//! directory *opened* under the checkpoint lock), the backup WAL floor that
//! `remove_old_wal` honours, and the `backup_label` reader used by [`Engine::open`].
//!
//! Invariants:
//! - **Stable files by open descriptors.** Checkpoint images are only ever replaced by
//!   rename (temp file, rename) and removed by unlink, both under the checkpoint mutex.
//!   [`Engine::start_backup`] opens every file it will copy while holding that mutex,
//!   right after its checkpoint: the descriptors keep the inodes of that checkpoint's
//!   images, so later checkpoints never change what the backup copies, and the copy is
//!   consistent with the WAL from the recorded redo point. Checkpoints are not held off.
//! - While a [`BackupStart`] lives, no WAL segment at or after its redo segment is
//!   removed or recycled (the floor is dropped with it). After the stop, the backup
//!   hold (`holds.rs`) keeps the same WAL on; `global/tusk_backup_holds` is never
//!   copied.
//! - The copied `pg_control` is the one of the start checkpoint; the backup code stamps
//!   it with `backupStartPoint`/`backupEndPoint`, which [`Engine::open`] uses to refuse
//!   going live before the WAL reaches the backup's end.
//!
//! On a standby (PostgreSQL's backup from a standby) the start's checkpoint is a
//! restartpoint, the backup writes no WAL at all (no segment switch, no backup history
//! file), its end is pg_control's `minRecoveryPoint`, `backup_label` says
//! `BACKUP FROM: standby`, and a promotion before the stop fails the backup.
//!
//! What it must never do: write into the data directory during a backup (other than what
//! a checkpoint and the WAL switch write through the engine, and the backup history
//! file at the stop), or copy pg_wal's contents (segments, `.backup` files, status
//! files) as data files.
//!
//! One backup, step by step:
//! 1. [`Engine::start_backup`] runs a checkpoint, takes the checkpoint mutex, reads the
//!    checkpoint/redo LSNs and pg_control, registers the WAL floor at the redo LSN and
//!    opens the data directory's files (skipping what PostgreSQL skips);
//! 2. the backup streams those files;
//! 3. [`Engine::stop_backup`] flushes the WAL, ends the current segment (PostgreSQL's
//!    `pg_switch_wal` at backup stop), records a backup hold (the WAL from the start
//!    to the end and on stays until the standby made from this backup streamed past
//!    the end, see `holds.rs`), on a primary writes the backup history file
//!    `pg_wal/<start segment>.<start offset %08X>.backup` and cleans up the archived
//!    ones (PostgreSQL's `CleanupBackupHistory`, which also marks the new one `.ready`
//!    when archiving is active) and returns the end LSN;
//! 4. the WAL segments from the redo segment to the end are copied, then the
//!    [`BackupStart`] is dropped and its floor goes with it.

use super::control::ControlFile;
use super::wal::segment::{
    backup_history_file_name, parse_backup_history_file_name, segment_file_name, segment_offset,
};
use super::wal::Lsn;
use super::Engine;
use crate::err;
use crate::error::{sqlstate, Error, Result};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Files never copied into a base backup (PostgreSQL's `excludeFiles`, plus tusk's temp
/// image files ending in `.tmp`).
const EXCLUDED_FILES: &[&str] = &[
    "postgresql.auto.conf.tmp",
    "current_logfiles.tmp",
    "backup_label",
    "tablespace_map",
    "backup_manifest",
    "postmaster.pid",
    "postmaster.opts",
    ".DS_Store",
    // tusk's backup holds belong to this server, not to the standby made from it.
    "tusk_backup_holds",
];

/// Directories whose contents are never copied (the directory itself is).
const EMPTIED_DIRS: &[&str] = &[
    "pg_stat_tmp",
    "pg_replslot",
    "pg_dynshmem",
    "pg_notify",
    "pg_serial",
    "pg_snapshots",
    "pg_subtrans",
    "pg_wal",
];

/// The WAL floors of running backups (their redo LSNs), one entry per backup.
#[derive(Default)]
pub(super) struct BackupFloors {
    floors: Mutex<Vec<(u64, Lsn)>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl BackupFloors {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Lsn)>> {
        self.floors.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The oldest WAL position a running backup needs.
    pub(super) fn min(&self) -> Option<Lsn> {
        self.lock().iter().map(|(_, l)| *l).min()
    }
}

/// What kind of member a backed-up path is.
#[derive(Debug, Clone)]
pub enum BackupEntryKind {
    /// A directory (sent as a header only).
    Directory,
    /// A regular file, opened when the backup started.
    File(Arc<fs::File>),
    /// A symbolic link to the given target.
    Symlink(String),
}

/// One member of the data directory as the backup saw it at its start.
#[derive(Debug, Clone)]
pub struct BackupEntry {
    /// The path relative to the data directory, `/`-separated, as raw bytes.
    pub path: Vec<u8>,
    /// What it is.
    pub kind: BackupEntryKind,
    /// Permission bits (`st_mode & 07777`).
    pub mode: u32,
    /// Owner and group ids.
    pub uid: u32,
    /// The group id.
    pub gid: u32,
    /// Size in bytes when the file was opened (0 for directories and links).
    pub size: u64,
    /// Modification time, Unix seconds.
    pub mtime: i64,
}

/// A running base backup: where it started and the files it copies. Dropping it ends
/// the backup's claim on old WAL.
pub struct BackupStart {
    /// The redo LSN of the start checkpoint (`START WAL LOCATION`).
    pub redo: Lsn,
    /// The start checkpoint record's LSN (`CHECKPOINT LOCATION`).
    pub checkpoint: Lsn,
    /// The timeline of the start.
    pub timeline: u32,
    /// When the backup started (Unix seconds).
    pub start_time: i64,
    /// The WAL segment size.
    pub segment_size: u64,
    /// pg_control as of the start checkpoint.
    pub control: ControlFile,
    /// The data directory's members in sending order (directories before their
    /// contents; `global/pg_control` is not among them).
    pub entries: Vec<BackupEntry>,
    /// The pg_control file's own metadata (mode, owner, mtime) for its tar header.
    pub control_meta: BackupEntry,
    /// The backup is taken from a standby (`BACKUP FROM: standby`): it starts at the
    /// last restartpoint and ends at the minimum recovery point.
    pub from_standby: bool,
    floor_id: u64,
    engine: Arc<Engine>,
}

impl Drop for BackupStart {
    fn drop(&mut self) {
        let id = self.floor_id;
        self.engine.backups.lock().retain(|(i, _)| *i != id);
    }
}

impl BackupStart {
    /// The `backup_label` text PostgreSQL 15 writes for a streamed backup from a
    /// primary or a standby, with `START TIME` in UTC.
    pub fn backup_label(&self, label: &str) -> String {
        let from = if self.from_standby {
            "standby"
        } else {
            "primary"
        };
        let seg = segment_file_name(
            self.timeline,
            self.redo.segno(self.segment_size),
            self.segment_size,
        );
        let time = chrono::DateTime::from_timestamp(self.start_time, 0)
            .unwrap_or_default()
            .format("%Y-%m-%d %H:%M:%S UTC");
        format!(
            "START WAL LOCATION: {} (file {seg})\nCHECKPOINT LOCATION: {}\nBACKUP METHOD: streamed\nBACKUP FROM: {from}\nSTART TIME: {time}\nLABEL: {label}\nSTART TIMELINE: {}\n",
            self.redo, self.checkpoint, self.timeline
        )
    }

    /// The backup history file PostgreSQL 15 writes at backup stop
    /// (`pg_wal/<start segment>.<start offset>.backup`): the label's first line, the
    /// `STOP WAL LOCATION` (with the file holding `stop`), the label's other lines,
    /// `STOP TIME` (UTC, like `START TIME`) and `STOP TIMELINE`.
    pub fn history_file(
        &self,
        label: &str,
        stop: Lsn,
        stop_timeline: u32,
        stop_time: i64,
    ) -> String {
        let text = self.backup_label(label);
        let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
        let stop_seg = segment_file_name(
            stop_timeline,
            stop.segno(self.segment_size),
            self.segment_size,
        );
        let time = chrono::DateTime::from_timestamp(stop_time, 0)
            .unwrap_or_default()
            .format("%Y-%m-%d %H:%M:%S UTC");
        format!(
            "{first}\nSTOP WAL LOCATION: {stop} (file {stop_seg})\n{rest}STOP TIME: {time}\nSTOP TIMELINE: {stop_timeline}\n"
        )
    }

    /// The pg_control image to put into the backup: the start checkpoint's, stamped with
    /// the backup's start and end so that a server started from the copy does not go
    /// live before its WAL reaches `end`.
    pub fn control_image(&self, end: Lsn) -> Vec<u8> {
        let mut c = self.control.clone();
        c.backup_start = self.redo;
        c.backup_end = end;
        c.backup_end_required = false;
        c.encode()
    }
}

/// A parsed `backup_label`: where redo must start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupLabel {
    /// `START WAL LOCATION`: the redo LSN.
    pub redo: Lsn,
    /// `CHECKPOINT LOCATION`.
    pub checkpoint: Lsn,
    /// The timeline of the start (from the segment file name).
    pub timeline: u32,
}

impl BackupLabel {
    /// Parses a `backup_label` as PostgreSQL reads it: line 1 must be
    /// `START WAL LOCATION: %X/%X (file %08X%16s)`, line 2 `CHECKPOINT LOCATION: %X/%X`;
    /// anything else is FATAL `invalid data in file "backup_label"`.
    pub fn parse(text: &str) -> Result<BackupLabel> {
        let invalid = || {
            Error::fatal(
                sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                "invalid data in file \"backup_label\"",
            )
        };
        let mut lines = text.split('\n');
        let l1 = lines.next().ok_or_else(invalid)?;
        let l2 = lines.next().ok_or_else(invalid)?;
        let rest = l1
            .strip_prefix("START WAL LOCATION: ")
            .ok_or_else(invalid)?;
        let (lsn, file) = rest.split_once(" (file ").ok_or_else(invalid)?;
        let redo: Lsn = lsn.parse().map_err(|_| invalid())?;
        let file = file.strip_suffix(')').ok_or_else(invalid)?;
        if file.len() != 24 || !file.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        let timeline = u32::from_str_radix(&file[..8], 16).map_err(|_| invalid())?;
        let ck = l2
            .strip_prefix("CHECKPOINT LOCATION: ")
            .ok_or_else(invalid)?;
        let checkpoint: Lsn = ck.parse().map_err(|_| invalid())?;
        Ok(BackupLabel {
            redo,
            checkpoint,
            timeline,
        })
    }

    /// Reads `<datadir>/backup_label` if there is one.
    pub fn read(datadir: &Path) -> Result<Option<BackupLabel>> {
        let path = datadir.join("backup_label");
        match fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                BackupLabel::parse(&text).map(Some)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(
                Error::io(format!("could not read file \"{}\"", path.display()), e)
                    .with_severity(crate::error::Severity::Fatal),
            ),
        }
    }

    /// Renames `backup_label` to `backup_label.old` once recovery no longer needs it,
    /// and a `tablespace_map` (always empty from tusk, which has no tablespaces) to
    /// `tablespace_map.old`, as PostgreSQL does.
    pub fn retire(datadir: &Path) -> Result<()> {
        for name in ["backup_label", "tablespace_map"] {
            let from = datadir.join(name);
            if name == "tablespace_map" && !from.exists() {
                continue;
            }
            let to = datadir.join(format!("{name}.old"));
            fs::rename(&from, &to).map_err(|e| {
                Error::io(
                    format!(
                        "could not rename file \"{}\" to \"{}\"",
                        from.display(),
                        to.display()
                    ),
                    e,
                )
            })?;
        }
        Ok(())
    }
}

impl Engine {
    /// Starts a base backup: a checkpoint (`fast` or not, both run at once here), then,
    /// under the checkpoint mutex, the checkpoint/redo LSNs from pg_control, a WAL floor
    /// at the redo LSN, and the data directory's files opened (see the module essay).
    pub fn start_backup(self: &Arc<Self>, fast: bool) -> Result<BackupStart> {
        let reason = if fast {
            "immediate force wait"
        } else {
            "force wait"
        };
        // On a standby this is a restartpoint: the backup starts at the last replayed
        // checkpoint it made durable, as PostgreSQL's backup from a standby does.
        self.checkpoint_with_reason(reason)?;
        let _one = self
            .checkpoint_mutex
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut control = self
            .control
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let from_standby = self.in_recovery();
        let timeline = if from_standby {
            // The timeline of the restartpoint's checkpoint in the history replay
            // follows (pg_control keeps the timeline the standby started on).
            let tli =
                super::wal::timeline::timeline_of(&self.recovery_history(), control.checkpoint)
                    .unwrap_or_else(|| self.timeline());
            control.timeline = tli;
            tli
        } else {
            self.timeline()
        };
        let floor_id = self
            .backups
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.backups.lock().push((floor_id, control.redo));
        let start = BackupStart {
            redo: control.redo,
            checkpoint: control.checkpoint,
            timeline,
            start_time: chrono::Utc::now().timestamp(),
            segment_size: self.opts.wal_segment_size,
            control_meta: BackupEntry {
                path: b"global/pg_control".to_vec(),
                kind: BackupEntryKind::Directory,
                mode: 0o600,
                uid: 0,
                gid: 0,
                size: 0,
                mtime: 0,
            },
            control,
            entries: Vec::new(),
            from_standby,
            floor_id,
            engine: self.clone(),
        };
        let mut start = start;
        let mut entries = Vec::new();
        walk(&self.datadir, &self.datadir, "", &mut entries)?;
        let mut control_meta = None;
        entries.retain(|e| {
            if e.path == b"global/pg_control" {
                control_meta = Some(e.clone());
                false
            } else {
                true
            }
        });
        if let Some(m) = control_meta {
            start.control_meta = BackupEntry {
                kind: BackupEntryKind::Directory,
                ..m
            };
        }
        start.entries = entries;
        Ok(start)
    }

    /// Stops a base backup: flushes the WAL, ends the current WAL segment so the segment
    /// holding the end is complete (PostgreSQL switches segments at backup stop), writes
    /// the backup history file for the backup labelled `label` (on a primary; see
    /// [`Engine::write_backup_history`]) and returns the end LSN (the end of the last
    /// record written before the switch).
    pub fn stop_backup(&self, start: &BackupStart, label: &str) -> Result<Lsn> {
        if start.from_standby {
            return self.stop_backup_on_standby(start);
        }
        let mut end = self.wal.insert_lsn();
        self.wal.flush(end).map_err(|e| self.fail(e))?;
        let seg = self.opts.wal_segment_size;
        // An insert position just past a segment's first page header means the last
        // record ended exactly at the segment boundary.
        if segment_offset(end, seg) <= 40 && end.0 >= seg {
            end = Lsn(end.0 - segment_offset(end, seg));
        }
        if end <= start.redo {
            end = start.redo;
        }
        self.switch_wal()?;
        // The standby made from this backup will ask for this WAL (holds.rs).
        self.add_backup_hold(start.redo, end);
        if !self.in_recovery() {
            self.write_backup_history(start, label, end)?;
        }
        Ok(end)
    }

    /// The end of a backup taken from a standby, which writes no WAL (so no segment
    /// switch and no backup history file): the minimum recovery point, which the
    /// restartpoint that started the backup moved past everything its images hold
    /// (PostgreSQL's `minRecoveryPoint` at `do_pg_backup_stop`). A standby promoted
    /// meanwhile fails the backup with PostgreSQL's error.
    fn stop_backup_on_standby(&self, start: &BackupStart) -> Result<Lsn> {
        if !self.in_recovery() {
            return Err(err!(
                sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                "the standby was promoted during online backup"
            )
            .with_hint(
                "This means that the backup being taken is corrupt and should not be used. Try taking another online backup.",
            ));
        }
        let end = self.control_file().min_recovery_point.max(start.redo);
        self.add_backup_hold(start.redo, end);
        Ok(end)
    }

    /// PostgreSQL's backup history file: writes
    /// `pg_wal/<start segment>.<start offset %08X>.backup` (see
    /// [`BackupStart::history_file`]), then cleans up as `CleanupBackupHistory` does:
    /// every backup history file in pg_wal that is archived (`.done`, or archiving not
    /// active) is removed with its status files, and one without any status gets its
    /// `.ready` (`XLogArchiveCheckDone`) — which is how the new file is marked for the
    /// archiver. With archiving off the new file goes at once, as in PostgreSQL.
    fn write_backup_history(&self, start: &BackupStart, label: &str, end: Lsn) -> Result<()> {
        let tli = self.timeline();
        let name = backup_history_file_name(tli, start.redo, start.segment_size);
        let text = start.history_file(label, end, tli, chrono::Utc::now().timestamp());
        let path = self.datadir.join("pg_wal").join(&name);
        fs::write(&path, text.as_bytes())
            .map_err(|e| Error::io(format!("could not write file \"pg_wal/{name}\""), e))?;
        self.cleanup_backup_history(None);
        Ok(())
    }

    /// Removes the backup history files in pg_wal that are archived (`.done`, or
    /// archiving not active; one with no status gets a `.ready` and stays) and, when
    /// `before` is given, whose start segment is older than it; their status files go
    /// too. Run at backup stop (all of them, PostgreSQL's `CleanupBackupHistory`) and
    /// by checkpoints (those older than the oldest segment kept).
    pub(super) fn cleanup_backup_history(&self, before: Option<u64>) {
        let dir = self.datadir.join("pg_wal");
        let Ok(entries) = fs::read_dir(&dir) else {
            return;
        };
        let mut names: Vec<(u64, String)> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_str()?.to_string();
                let (_, segno) = parse_backup_history_file_name(&name, self.opts.wal_segment_size)?;
                Some((segno, name))
            })
            .collect();
        names.sort();
        let in_recovery = self.in_recovery();
        for (segno, name) in names {
            if before.is_some_and(|b| segno >= b) {
                continue;
            }
            if !self.archive.check_done(&name, in_recovery) {
                continue;
            }
            tracing::debug!("removing WAL backup history file \"{name}\"");
            match fs::remove_file(dir.join(&name)) {
                Ok(()) => self.archive.cleanup(&name),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.archive.cleanup(&name),
                Err(e) => tracing::warn!("could not remove file \"pg_wal/{name}\": {e}"),
            }
        }
    }

    /// The oldest WAL segment that may be kept given the running backups' floors:
    /// `keep` lowered to the oldest backup redo segment (used by `remove_old_wal`).
    pub(super) fn backup_keep_floor(&self, keep: u64) -> u64 {
        match self.backups.min() {
            Some(l) => keep.min(l.segno(self.opts.wal_segment_size)),
            None => keep,
        }
    }
}

/// Adds the members under `dir` (relative path `rel`, "" for the top) to `out`:
/// directories first, then their contents, in name order.
fn walk(root: &Path, dir: &Path, rel: &str, out: &mut Vec<BackupEntry>) -> Result<()> {
    let rd = fs::read_dir(dir)
        .map_err(|e| Error::io(format!("could not open directory \"{}\"", dir.display()), e))?;
    let mut names: Vec<(std::ffi::OsString, PathBuf)> = Vec::new();
    for ent in rd {
        let ent = ent
            .map_err(|e| Error::io(format!("could not read directory \"{}\"", dir.display()), e))?;
        names.push((ent.file_name(), ent.path()));
    }
    names.sort();
    for (name, path) in names {
        use std::os::unix::ffi::OsStrExt;
        let nb = name.as_bytes();
        let name_s = String::from_utf8_lossy(nb);
        if EXCLUDED_FILES.contains(&name_s.as_ref())
            || nb.starts_with(b"pgsql_tmp")
            || nb.starts_with(b"pg_internal.init")
            || nb.ends_with(b".tmp")
        {
            continue;
        }
        let mut relpath = rel.as_bytes().to_vec();
        if !relpath.is_empty() {
            relpath.push(b'/');
        }
        relpath.extend_from_slice(nb);
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            // Removed since the directory was read (a dropped table's image).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(Error::io(
                    format!("could not stat file or directory \"{}\"", path.display()),
                    e,
                ))
            }
        };
        let mut entry = BackupEntry {
            path: relpath.clone(),
            kind: BackupEntryKind::Directory,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            size: 0,
            mtime: meta.mtime(),
        };
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = fs::read_link(&path).map_err(|e| {
                Error::io(
                    format!("could not read symbolic link \"{}\"", path.display()),
                    e,
                )
            })?;
            entry.kind =
                BackupEntryKind::Symlink(target.as_os_str().to_string_lossy().into_owned());
            out.push(entry);
        } else if ft.is_dir() {
            out.push(entry);
            let top_level = rel.is_empty();
            if top_level && EMPTIED_DIRS.contains(&name_s.as_ref()) {
                continue;
            }
            let sub = String::from_utf8_lossy(&relpath).into_owned();
            walk(root, &path, &sub, out)?;
        } else if ft.is_file() {
            let f = match fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(Error::io(
                        format!("could not open file \"{}\"", path.display()),
                        e,
                    ))
                }
            };
            let m = f
                .metadata()
                .map_err(|e| Error::io(format!("could not stat file \"{}\"", path.display()), e))?;
            entry.size = m.len();
            entry.mtime = m.mtime();
            entry.kind = BackupEntryKind::File(Arc::new(f));
            out.push(entry);
        } else {
            // Sockets, FIFOs and devices are skipped, as PostgreSQL warns and skips.
            tracing::warn!("skipping special file \"{}\"", path.display());
        }
    }
    let _ = root;
    Ok(())
}

/// Why recovery from a backup cannot go live: the WAL ended before the backup's end.
pub fn wal_ends_before_backup_end() -> Error {
    err!(
        sqlstate::INTERNAL_ERROR,
        "WAL ends before end of online backup"
    )
    .with_severity(crate::error::Severity::Fatal)
    .with_hint("All WAL generated while online backup was taken must be available at recovery.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{CatalogChange, EngineOptions};
    use crate::types::Value;
    use std::os::unix::fs::FileExt;

    fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "tusk-backup-{name}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn insert(e: &Engine, oid: u32, id: i32) {
        let mut t = e.begin();
        e.insert(&mut t, 5, oid, vec![Value::Int4(id)]).unwrap();
        e.commit(t, true).unwrap();
    }

    fn ids(e: &Engine, oid: u32) -> Vec<i32> {
        let t = e.begin();
        let mut v: Vec<i32> = e
            .scan(&t, 5, oid)
            .iter()
            .map(|(_, r)| match r[0] {
                Value::Int4(i) => i,
                _ => panic!("not an int"),
            })
            .collect();
        e.abort(t);
        v.sort();
        v
    }

    /// The engine side of a backup without the network: files copied through the
    /// descriptors opened at start stay those of the start checkpoint while later
    /// checkpoints run, the WAL floor keeps the start segment through segment switches
    /// and checkpoints, and the copy recovers to the state at the backup's end.
    #[test]
    fn copy_through_start_descriptors_recovers_to_the_end() {
        let src = tempdir("src");
        let seg = 1024 * 1024;
        crate::testutil::bootstrap(&src, seg);
        let opts = EngineOptions::default();
        let e = Engine::open(&src, &opts).unwrap();
        let mut t = e.begin();
        let oid = e.new_oid();
        e.catalog_change(
            &mut t,
            CatalogChange::CreateTable {
                db: 5,
                def: crate::testutil::int_table(oid),
            },
        )
        .unwrap();
        e.commit(t, true).unwrap();
        insert(&e, oid, 1);

        let start = e.start_backup(true).unwrap();
        assert_eq!(start.timeline, 1);
        let image = format!("base/5/{oid}");
        let entry = start
            .entries
            .iter()
            .find(|x| x.path == image.as_bytes())
            .expect("table image listed")
            .clone();
        assert!(start.entries.iter().all(|x| x.path != b"global/pg_control"));
        assert!(start.entries.iter().any(|x| x.path == b"pg_wal"));
        assert!(!start.entries.iter().any(|x| x.path.starts_with(b"pg_wal/")));
        let redo_seg = segment_file_name(1, start.redo.segno(seg), seg);

        // Writes, segment switches and checkpoints while the backup runs.
        for i in 2..=4 {
            insert(&e, oid, i);
            e.switch_wal().unwrap();
            e.checkpoint().unwrap();
        }
        assert!(src.join("pg_wal").join(&redo_seg).exists());
        let end = e.stop_backup(&start, "unit").unwrap();
        assert!(end > start.redo);
        // Archiving is off: the backup history file is written and removed at once,
        // as PostgreSQL's CleanupBackupHistory does.
        let hist = backup_history_file_name(1, start.redo, seg);
        assert!(!src.join("pg_wal").join(&hist).exists());
        assert!(!src
            .join("pg_wal/archive_status")
            .join(format!("{hist}.ready"))
            .exists());
        insert(&e, oid, 99);

        // The copy: what the stream would carry.
        let dst = tempdir("dst");
        for x in &start.entries {
            let p = dst.join(String::from_utf8(x.path.clone()).unwrap());
            match &x.kind {
                BackupEntryKind::Directory => fs::create_dir_all(&p).unwrap(),
                BackupEntryKind::Symlink(_) => {}
                BackupEntryKind::File(f) => {
                    let mut buf = vec![0u8; x.size as usize];
                    f.read_exact_at(&mut buf, 0).unwrap();
                    fs::write(&p, &buf).unwrap();
                }
            }
        }
        // The copied image is the start checkpoint's, not the one on disk now.
        let copied = fs::read(dst.join(&image)).unwrap();
        let now = fs::read(src.join(&image)).unwrap();
        assert_ne!(copied, now);
        assert_eq!(copied.len() as u64, entry.size);
        fs::write(dst.join("global/pg_control"), start.control_image(end)).unwrap();
        fs::write(dst.join("backup_label"), start.backup_label("unit")).unwrap();
        for segno in start.redo.segno(seg)..=Lsn(end.0 - 1).segno(seg) {
            let name = segment_file_name(1, segno, seg);
            fs::copy(
                src.join("pg_wal").join(&name),
                dst.join("pg_wal").join(&name),
            )
            .unwrap();
        }
        drop(start);
        drop(e);

        let c = Engine::open(&dst, &opts).unwrap();
        assert_eq!(ids(&c, oid), vec![1, 2, 3, 4]);
        assert!(dst.join("backup_label.old").exists());
        assert!(!dst.join("backup_label").exists());
        assert!(!c.control_file().backup_end.is_valid());
        drop(c);
        let _ = fs::remove_dir_all(&src);
        let _ = fs::remove_dir_all(&dst);
    }

    /// Without the WAL up to the backup's end the copy refuses to go live.
    #[test]
    fn missing_wal_is_refused() {
        let src = tempdir("nowal");
        crate::testutil::bootstrap(&src, 1024 * 1024);
        let opts = EngineOptions::default();
        let e = Engine::open(&src, &opts).unwrap();
        let start = e.start_backup(false).unwrap();
        let end = e.stop_backup(&start, "x").unwrap();
        // A pg_control claiming a later end than the WAL reaches.
        fs::write(
            src.join("global/pg_control"),
            start.control_image(end + 10 * 1024 * 1024),
        )
        .unwrap();
        fs::write(src.join("backup_label"), start.backup_label("x")).unwrap();
        drop(start);
        drop(e);
        let err = match Engine::open(&src, &opts) {
            Ok(_) => panic!("opened without the backup's WAL"),
            Err(err) => err,
        };
        assert_eq!(err.message, "WAL ends before end of online backup");
        assert!(src.join("backup_label").exists());
        let _ = fs::remove_dir_all(&src);
    }

    /// With archiving on, backup stop writes `<start seg>.<offset>.backup` in
    /// PostgreSQL's layout and marks it `.ready`; the next stop removes an archived one
    /// (`CleanupBackupHistory`); checkpoints remove archived ones older than the oldest
    /// kept segment, never unarchived ones.
    #[test]
    fn backup_history_file_is_written_marked_and_cleaned_up() {
        let src = tempdir("hist");
        let seg = 1024 * 1024;
        crate::testutil::bootstrap(&src, seg);
        let opts = EngineOptions {
            checkpoint: Some(crate::storage::checkpointer::CheckpointSettings {
                archive_mode: crate::storage::archive_status::ArchiveMode::On,
                ..Default::default()
            }),
            ..EngineOptions::default()
        };
        let e = Engine::open(&src, &opts).unwrap();
        let wal = src.join("pg_wal");
        let st = |n: &str, suffix: &str| wal.join("archive_status").join(format!("{n}{suffix}"));

        let start = e.start_backup(true).unwrap();
        let end = e.stop_backup(&start, "first").unwrap();
        let name = backup_history_file_name(1, start.redo, seg);
        assert_eq!(
            &name[25..],
            format!("{:08X}.backup", segment_offset(start.redo, seg))
        );
        let text = fs::read_to_string(wal.join(&name)).unwrap();
        let label = start.backup_label("first");
        let label: Vec<&str> = label.lines().collect();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 10, "{text}");
        assert!(text.ends_with('\n'));
        assert_eq!(lines[0], label[0]);
        assert_eq!(
            lines[1],
            format!(
                "STOP WAL LOCATION: {end} (file {})",
                segment_file_name(1, end.segno(seg), seg)
            )
        );
        assert_eq!(&lines[2..8], &label[1..]);
        assert_eq!(lines[6], "LABEL: first");
        let time = lines[8].strip_prefix("STOP TIME: ").unwrap();
        assert!(
            chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%d %H:%M:%S UTC").is_ok(),
            "{time}"
        );
        assert_eq!(lines[9], "STOP TIMELINE: 1");
        assert!(st(&name, ".ready").exists());
        drop(start);

        // Not archived yet: a second backup's stop keeps it, and its own is ready.
        let second = e.start_backup(true).unwrap();
        e.stop_backup(&second, "second").unwrap();
        let name2 = backup_history_file_name(1, second.redo, seg);
        drop(second);
        assert_ne!(name, name2);
        assert!(wal.join(&name).exists() && wal.join(&name2).exists());
        assert!(st(&name2, ".ready").exists());
        // Archived now: the next stop removes it and its status file.
        fs::rename(st(&name, ".ready"), st(&name, ".done")).unwrap();
        let third = e.start_backup(true).unwrap();
        e.stop_backup(&third, "third").unwrap();
        let name3 = backup_history_file_name(1, third.redo, seg);
        drop(third);
        assert!(!wal.join(&name).exists());
        assert!(!st(&name, ".done").exists());
        assert!(wal.join(&name2).exists() && wal.join(&name3).exists());

        // Checkpoint cleanup: only archived files older than the oldest kept segment.
        fs::rename(st(&name2, ".ready"), st(&name2, ".done")).unwrap();
        let (_, segno2) = parse_backup_history_file_name(&name2, seg).unwrap();
        let (_, segno3) = parse_backup_history_file_name(&name3, seg).unwrap();
        e.cleanup_backup_history(Some(segno2));
        assert!(
            wal.join(&name2).exists(),
            "kept: not older than the kept segment"
        );
        e.cleanup_backup_history(Some(segno3 + 1));
        assert!(!wal.join(&name2).exists() && !st(&name2, ".done").exists());
        assert!(wal.join(&name3).exists(), "kept: not archived");
        assert!(st(&name3, ".ready").exists());
        drop(e);
        let _ = fs::remove_dir_all(&src);
    }

    #[test]
    fn parses_backup_label() {
        let l = BackupLabel::parse(
            "START WAL LOCATION: 0/3000028 (file 000000010000000000000003)\nCHECKPOINT LOCATION: 0/3000060\nBACKUP METHOD: streamed\n",
        )
        .unwrap();
        assert_eq!(l.redo, Lsn(0x3000028));
        assert_eq!(l.checkpoint, Lsn(0x3000060));
        assert_eq!(l.timeline, 1);
        let e = BackupLabel::parse("START WAL LOCATION: 0/3000028\n").unwrap_err();
        assert_eq!(e.message, "invalid data in file \"backup_label\"");
        assert!(BackupLabel::parse("").is_err());
        assert!(BackupLabel::parse(
            "START WAL LOCATION: 0/3000028 (file 0000000100000000000003)\nCHECKPOINT LOCATION: 0/3000060\n"
        )
        .is_err());
    }
}
