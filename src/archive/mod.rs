//! WAL archiving: the operator's shell commands and the archiver.
//!
//! What it owns: running `archive_command`, `restore_command`,
//! `archive_cleanup_command` and `recovery_end_command` as PostgreSQL runs them
//! ([`command`]), and the archiver thread that copies every file marked
//! `pg_wal/archive_status/<file>.ready` to the archive and marks it `.done`
//! ([`archiver`]).
//!
//! How a segment reaches the archive:
//! 1. the WAL writer flushes up to the end of a segment (filled, or ended by a switch:
//!    `pg_switch_wal()`, `archive_timeout`) and calls the completion hook the engine
//!    gave it; the engine (`storage::archive_status`) creates `<segment>.ready` when
//!    `archive_mode` is not `off` and wakes the archiver (a standby's walreceiver does
//!    the same with `archive_mode = always`, `.done` otherwise);
//! 2. the archiver runs `archive_command` with `%p` = `pg_wal/<segment>` and `%f` =
//!    `<segment>`; exit 0 renames the mark to `.done` and counts it in
//!    `pg_stat_archiver`; failures are logged and retried as PostgreSQL does;
//! 3. a checkpoint removes or recycles only segments marked `.done`: it keeps every
//!    segment from the oldest unarchived one, and marks `.ready` any old segment that
//!    has no mark at all.
//!
//! The split: the engine decides what is archivable and what may be removed (it owns
//! `pg_wal/`); this module only runs commands and moves marks from `.ready` to `.done`.
//!
//! What it must never do: apply WAL or decide where replay reads it from (the standby's
//! recovery loop does), or remove WAL; it only moves files between `pg_wal/` and the
//! operator's archive through the operator's commands.

pub mod archiver;
pub mod command;
