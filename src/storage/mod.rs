//! (being written)
pub mod control;
pub mod wal;
