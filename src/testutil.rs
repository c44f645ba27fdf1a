//! Helpers shared by unit tests (compiled only for tests): unique temporary directories.

use std::path::PathBuf;

/// A new, empty, uniquely named directory under the system temp directory. Tests remove
/// it themselves when they are done with it.
pub fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "tusk-{tag}-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
