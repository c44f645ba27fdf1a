//! WAL archiving: the operator's shell commands and the archiver.
//!
//! What it owns: running `archive_command`, `restore_command`,
//! `archive_cleanup_command` and `recovery_end_command` as PostgreSQL runs them
//! ([`command`]).
//!
//! What it must never do: apply WAL or decide where replay reads it from (the standby's
//! recovery loop does); it only moves files between `pg_wal/` and the operator's
//! archive through the operator's commands.

pub mod command;
