//! The walsender: a replication connection's life after authentication.
//!
//! What it owns: the command loop of a replication connection, `START_REPLICATION`'s
//! CopyBoth stream, `wal_sender_timeout`, and the walsender registry that
//! `pg_stat_replication` reads. What it must never do: write WAL or data.
