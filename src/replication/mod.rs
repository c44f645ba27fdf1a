//! Replication: what a primary does for standbys and backup tools, over the replication
//! sub-protocol of PostgreSQL 15.
//!
//! This module owns everything a `replication=true|database` connection does after
//! start-up and authentication (which [`crate::server`] runs): the command grammar
//! ([`command`]), the walsender loop that answers commands and streams WAL
//! ([`walsender`]), physical replication slots ([`slots`]), synchronous replication
//! ([`syncrep`]) and `BASE_BACKUP` ([`basebackup`]).
//!
//! Layering: it sits above [`crate::storage`] (it reads WAL segments, asks the engine
//! for checkpoints and positions) and beside [`crate::sql`]; the server hands it the
//! socket. It must never write WAL or data itself, and never interpret ordinary SQL
//! (a `replication=database` connection passes SQL to a [`crate::sql::Session`]).
//!
//! A standby's `START_REPLICATION`, step by step:
//! 1. the server authenticates the connection (pg_hba `replication` lines, the
//!    REPLICATION attribute) and calls [`walsender::serve`];
//! 2. each Query message is parsed by [`command::parse`]; `IDENTIFY_SYSTEM`, `SHOW` and
//!    `TIMELINE_HISTORY` are answered with one result set;
//! 3. `START_REPLICATION` switches to CopyBoth: WAL is read from `pg_wal/` and sent as
//!    `w` messages as it is flushed, with `k` keepalives; the standby's `r`/`h` replies
//!    update what `pg_stat_replication` shows and what a slot keeps, and release
//!    the commits waiting for synchronous standbys ([`syncrep`]).

pub mod basebackup;
pub mod command;
pub mod slots;
pub mod syncrep;
pub mod walsender;
