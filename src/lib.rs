//! tusk: a PostgreSQL-compatible database server with a WAL-first storage engine.
//!
//! The modules are stacked one way; each line says what the module owns. Lower modules
//! never import higher ones. See `ARCHITECTURE.md` for the data flows.

pub mod auth; //       md5 and SCRAM secrets and exchanges (pure, no sockets)
pub mod catalog; //    tusk's catalog: databases, roles, tables, and the views over them
pub mod cluster; //    the data directory: init, postmaster.pid, ctl
pub mod config; //     settings registry, postgresql.conf / auto.conf, pg_hba.conf
pub mod error; //      the one Error type: severity + SQLSTATE + message/detail/hint
pub mod server;
pub mod sql; //        parser wrapper, executor, sessions
pub mod storage; //    WAL (storage::wal), control file, row store, transactions, redo
pub mod types; //      values, PostgreSQL type OIDs, text and binary I/O //     the only module touching sockets: listeners, protocol, auth flow
