//! tusk: a PostgreSQL-compatible database server with a WAL-first storage engine.
//!
//! The modules are stacked one way; lower modules never import higher ones
//! (`ARCHITECTURE.md` tells the data flows):
//!
//! | module | owns |
//! |---|---|
//! | [`archive`] | archive_command / restore_command and the other operator commands, the archiver |
//! | [`error`] | the one Error type: severity + SQLSTATE + message/detail/hint |
//! | [`config`] | settings registry, postgresql.conf / auto.conf / recovery.conf, pg_hba.conf |
//! | [`auth`] | md5 and SCRAM secrets and exchanges (pure, no sockets) |
//! | [`types`] | values, PostgreSQL type OIDs, text and binary I/O |
//! | [`storage`] | the WAL ([`storage::wal`]), the control file, tables, transactions, redo |
//! | [`catalog`] | tusk's catalog: databases, roles, tables, and the views over them |
//! | [`sql`] | parser wrapper, executor, sessions |
//! | [`cluster`] | the data directory: init, postmaster.pid, ctl |
//! | [`logging`] | PostgreSQL-shaped log lines on stderr or a file |
//! | [`server`] | the only module touching sockets: listeners, protocol, authentication flow |
//! | [`proctitle`] | `ps` titles of walsenders/walreceivers, held by tiny child processes |

pub mod archive;
pub mod auth;
pub mod catalog;
pub mod cluster;
pub mod config;
pub mod error;
pub mod logging;
pub mod proctitle;
pub mod replication;
pub mod server;
pub mod sql;
pub mod standby;
pub mod storage;
pub mod types;

#[cfg(test)]
mod testutil;
