//! `BASE_BACKUP`: a consistent copy of the data directory streamed as tar archives in
//! PostgreSQL 15's CopyOut framing, with backup_label and backup_manifest.
//!
//! What it owns: the option grammar of `BASE_BACKUP (…)`, the archive stream, the
//! manifest. What it must never do: write into the data directory (other than what
//! a checkpoint writes through the engine).

use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::AsyncWrite;

use crate::config::ServerConfig;
use crate::error::{sqlstate, Result};
use crate::storage::Engine;

/// What one `BASE_BACKUP` command needs.
pub struct BackupRequest {
    /// The text after `BASE_BACKUP` (the options).
    pub args: String,
    /// The engine (checkpoints, positions, the timeline).
    pub engine: Arc<Engine>,
    /// The server configuration in force.
    pub config: Arc<ServerConfig>,
    /// The data directory.
    pub datadir: PathBuf,
}

/// Runs one `BASE_BACKUP`: writes the result sets, the CopyOut archive stream and the
/// final result set with their CommandComplete messages to `out` (the caller sends
/// ReadyForQuery, or the ErrorResponse of a returned error).
pub async fn run<W: AsyncWrite + Unpin + Send>(req: BackupRequest, out: &mut W) -> Result<()> {
    let _ = (req, out);
    crate::bail!(
        sqlstate::FEATURE_NOT_SUPPORTED,
        "BASE_BACKUP is not built yet"
    )
}
