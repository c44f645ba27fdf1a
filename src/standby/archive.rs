//! The recovery side of a WAL archive: fetching segments and timeline history files
//! with `restore_command`, cleaning the archive with `archive_cleanup_command`, and
//! `recovery_end_command`.
//!
//! What it owns: [`Archive`], the three commands as the configuration names them now
//! (a reload changes them), the checks a restored file must pass before it replaces
//! anything in `pg_wal/`, and the `restored log file "…" from archive` log lines.
//!
//! PostgreSQL's rules, kept here:
//! - `restore_command` writes into `pg_wal/RECOVERYXLOG` (segments) or
//!   `pg_wal/RECOVERYHISTORY` (history files), `%f` is the wanted file name and `%r`
//!   the oldest segment still needed. Exit 0 means the file is there; any other exit is
//!   "not in the archive" (normal: recovery asks for files that do not exist yet); a
//!   command killed by a signal or exiting above 125 stops the server (FATAL), except
//!   SIGTERM, which is a shutdown request.
//! - A restored segment must be a whole segment whose first page header belongs to it
//!   (magic, address, system identifier, segment size): anything else is logged and
//!   thrown away, and the copy already in `pg_wal/` (if any) stays. Only then is it
//!   renamed over `pg_wal/<name>` and marked `archive_status/<name>.done` (`.ready`
//!   with `archive_mode = always`), so it is never archived again by this server.
//! - `archive_cleanup_command` runs after each restartpoint; a failure is a WARNING.
//!
//! What it must never do: decide when to read the archive (the WAL-source loop in
//! [`super`] does), or write a file into `pg_wal/` that failed the checks.

use crate::archive::command::{self, Outcome};
use crate::config::ServerConfig;
use crate::error::{sqlstate, Error, Result};
use crate::storage::wal::format;
use crate::storage::wal::segment::{history_file_name, segment_file_name};
use crate::storage::Lsn;
use std::path::{Path, PathBuf};

/// The archive as recovery sees it: the data directory and the configuration's
/// commands.
pub struct Archive {
    datadir: PathBuf,
    restore_command: String,
    cleanup_command: String,
    end_command: String,
    archive_mode: String,
    segment_size: u64,
    system_id: u64,
}

impl Archive {
    /// The archive of `config` for the cluster in `datadir`.
    pub fn new(
        datadir: &Path,
        config: &ServerConfig,
        segment_size: u64,
        system_id: u64,
    ) -> Archive {
        Archive {
            datadir: datadir.to_path_buf(),
            restore_command: config.get_str("restore_command"),
            cleanup_command: config.get_str("archive_cleanup_command"),
            end_command: config.get_str("recovery_end_command"),
            archive_mode: config.get_str("archive_mode"),
            segment_size,
            system_id,
        }
    }

    /// Whether `restore_command` is set.
    pub fn can_restore(&self) -> bool {
        !self.restore_command.trim().is_empty()
    }

    fn pg_wal(&self) -> PathBuf {
        self.datadir.join("pg_wal")
    }

    /// Runs `restore_command` for `file` into `pg_wal/<into>`; Ok(true) when the
    /// command says it restored it. A fatal end is an error (the server stops).
    fn restore(&self, file: &str, into: &str, oldest: &str) -> Result<bool> {
        if !self.can_restore() {
            return Ok(false);
        }
        let target = self.pg_wal().join(into);
        let _ = std::fs::remove_file(&target);
        let cmd = command::expand(
            &self.restore_command,
            Some(&format!("pg_wal/{into}")),
            Some(file),
            Some(oldest),
        );
        match command::run(&cmd, &self.datadir) {
            Outcome::Success => Ok(target.is_file()),
            Outcome::Signaled(s) if s == libc::SIGTERM => Err(Error::fatal(
                sqlstate::ADMIN_SHUTDOWN,
                "terminating startup process due to administrator command",
            )),
            o if o.is_fatal() => Err(Error::fatal(
                sqlstate::INTERNAL_ERROR,
                format!(
                    "could not restore file \"{file}\" from archive: {}",
                    o.describe()
                ),
            )),
            _ => Ok(false),
        }
    }

    /// Fetches segment `segno` of timeline `tli` from the archive into `pg_wal/`,
    /// replacing a local copy; Ok(true) when a valid segment was installed.
    pub fn restore_segment(&self, tli: u32, segno: u64, oldest: &str) -> Result<bool> {
        let name = segment_file_name(tli, segno, self.segment_size);
        if !self.restore(&name, "RECOVERYXLOG", oldest)? {
            return Ok(false);
        }
        let tmp = self.pg_wal().join("RECOVERYXLOG");
        if let Err(why) = self.check_segment(&tmp, tli, segno) {
            tracing::info!("{why}");
            let _ = std::fs::remove_file(&tmp);
            return Ok(false);
        }
        let dest = self.pg_wal().join(&name);
        std::fs::rename(&tmp, &dest).map_err(|e| {
            Error::io(
                format!(
                    "could not rename file \"{}\" to \"{}\"",
                    tmp.display(),
                    dest.display()
                ),
                e,
            )
        })?;
        self.mark_restored(&name);
        tracing::info!("restored log file \"{name}\" from archive");
        Ok(true)
    }

    /// Fetches timeline `tli`'s history file from the archive into `pg_wal/`;
    /// Ok(true) when it was restored.
    pub fn restore_history(&self, tli: u32) -> Result<bool> {
        let name = history_file_name(tli);
        if !self.restore(&name, "RECOVERYHISTORY", "000000000000000000000000")? {
            return Ok(false);
        }
        let tmp = self.pg_wal().join("RECOVERYHISTORY");
        let contents = std::fs::read_to_string(&tmp).unwrap_or_default();
        if let Err(e) = crate::storage::wal::timeline::parse_history(&contents, tli) {
            tracing::info!("{}", e.message);
            let _ = std::fs::remove_file(&tmp);
            return Ok(false);
        }
        let dest = self.pg_wal().join(&name);
        std::fs::rename(&tmp, &dest)
            .map_err(|e| Error::io(format!("could not rename file \"{}\"", tmp.display()), e))?;
        self.mark_restored(&name);
        tracing::info!("restored log file \"{name}\" from archive");
        Ok(true)
    }

    /// Whether timeline `tli`'s history file is in `pg_wal/` or can be restored.
    pub fn history_exists(&self, tli: u32) -> Result<bool> {
        if tli == 1 {
            return Ok(true);
        }
        if self.pg_wal().join(history_file_name(tli)).is_file() {
            // PostgreSQL asks the archive first; a local copy does as well.
            let _ = self.restore_history(tli)?;
            return Ok(true);
        }
        self.restore_history(tli)
    }

    /// Marks a restored file so that this server never archives it again (or, with
    /// `archive_mode = always`, so that it does).
    fn mark_restored(&self, name: &str) {
        let dir = self.pg_wal().join("archive_status");
        let _ = std::fs::create_dir_all(&dir);
        let kind = if self.archive_mode == "always" {
            "ready"
        } else {
            "done"
        };
        let _ = std::fs::write(dir.join(format!("{name}.{kind}")), b"");
    }

    /// PostgreSQL's checks of a segment's first page (`XLogReaderValidatePageHeader`),
    /// plus the size; Err is the LOG line saying why it is not usable.
    fn check_segment(&self, path: &Path, tli: u32, segno: u64) -> std::result::Result<(), String> {
        let name = segment_file_name(tli, segno, self.segment_size);
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if size != self.segment_size {
            return Err(format!(
                "archive file \"{name}\" has wrong size: {size} instead of {}",
                self.segment_size
            ));
        }
        let mut head = [0u8; format::LONG_PAGE_HEADER as usize];
        let read = std::fs::File::open(path).and_then(|f| {
            use std::os::unix::fs::FileExt;
            f.read_exact_at(&mut head, 0)
        });
        if read.is_err() {
            return Err(format!("could not read file \"{name}\""));
        }
        let magic = u16::from_le_bytes([head[0], head[1]]);
        let Some(h) = format::decode_page_header(&head) else {
            return Err(format!(
                "invalid magic number {magic:04X} in log segment {name}, offset 0"
            ));
        };
        let start = segno * self.segment_size;
        if h.pageaddr != start {
            return Err(format!(
                "unexpected pageaddr {} in log segment {name}, offset 0",
                Lsn(h.pageaddr)
            ));
        }
        match h.long {
            Some((sysid, _, _)) if sysid != self.system_id => Err(format!(
                "WAL file is from different database system: WAL file database system identifier is {sysid}, pg_control database system identifier is {}",
                self.system_id
            )),
            Some((_, seg, _)) if u64::from(seg) != self.segment_size => Err(
                "WAL file is from different database system: incorrect segment size in page header"
                    .to_string(),
            ),
            Some(_) => Ok(()),
            None => Err(format!(
                "invalid info bits 0000 in log segment {name}, offset 0"
            )),
        }
    }

    /// Runs `archive_cleanup_command` with `%r` = `oldest` (after a restartpoint); a
    /// failure is only a WARNING, as in PostgreSQL.
    pub fn cleanup(&self, oldest: &str) {
        self.run_recovery_command(
            &self.cleanup_command,
            "archive_cleanup_command",
            oldest,
            false,
        );
    }

    /// Runs `recovery_end_command` once recovery has ended; a failure is a WARNING, a
    /// signal FATAL (returned).
    pub fn recovery_end(&self, oldest: &str) -> Result<()> {
        if self.run_recovery_command(&self.end_command, "recovery_end_command", oldest, true) {
            return Err(Error::fatal(
                sqlstate::INTERNAL_ERROR,
                "recovery_end_command was terminated by a signal",
            ));
        }
        Ok(())
    }

    /// PostgreSQL's `ExecuteRecoveryCommand`; returns whether the failure was fatal.
    fn run_recovery_command(
        &self,
        template: &str,
        what: &str,
        oldest: &str,
        fail_on_signal: bool,
    ) -> bool {
        if template.trim().is_empty() {
            return false;
        }
        let cmd = command::expand(template, None, None, Some(oldest));
        let outcome = command::run(&cmd, &self.datadir);
        if outcome.is_success() {
            return false;
        }
        let fatal = fail_on_signal && matches!(outcome, Outcome::Signaled(_));
        let level = if fatal { "FATAL" } else { "WARNING" };
        crate::logging::log_at(
            level,
            &format!("{what} \"{template}\": {}", outcome.describe()),
            None,
            None,
        );
        fatal
    }
}

/// The `%r` of the commands: the segment holding `redo` on timeline `tli` (the oldest
/// file recovery still needs), or all zeros when there is none yet.
pub fn oldest_needed(tli: u32, redo: Lsn, segment_size: u64) -> String {
    if !redo.is_valid() {
        return "000000000000000000000000".into();
    }
    segment_file_name(tli, redo.0 / segment_size, segment_size)
}
