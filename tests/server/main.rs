//! Real-server scenarios: each test starts the real `tusk` binary on a free port in its
//! own temporary data directory and drives it with stock PostgreSQL 15 clients (psql) and
//! a Rust client (tokio-postgres). Numbered like PostgreSQL's TAP scenarios.

#[path = "../common/mod.rs"]
mod common;
mod t001_connect;
mod t002_auth;
mod t003_durability;
mod t004_config;
mod t005_lifecycle;
mod t006_bad_input;
mod t007_tls_peer;
mod t008_checkpoints;
mod t009_isolation;
mod t010_indexes;
mod t011_pgbench;
