//! (being written)
pub mod wal;
