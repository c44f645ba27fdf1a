//! Helpers shared by unit tests (compiled only for tests): unique temporary directories,
//! a bootstrapped cluster, a one-column table definition.

use crate::storage::schema::PUBLIC_NAMESPACE;
use crate::storage::{BootstrapOptions, ColumnDef, Engine, TableDef};
use crate::types::DataType;
use std::path::{Path, PathBuf};

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

/// Bootstraps a cluster in `dir` (superuser `postgres` without a password, SCRAM as
/// the password encryption) with WAL segments of `wal_segment_size` bytes.
pub fn bootstrap(dir: &Path, wal_segment_size: u64) {
    Engine::bootstrap(
        dir,
        &BootstrapOptions {
            superuser: "postgres".into(),
            password: None,
            password_encryption: "scram-sha-256".into(),
            wal_segment_size,
        },
    )
    .unwrap();
}

/// Table `t` in `public` with one column, `id int4 primary key`, under `oid`.
pub fn int_table(oid: u32) -> TableDef {
    TableDef {
        oid,
        schema: PUBLIC_NAMESPACE,
        name: "t".into(),
        owner: 10,
        columns: vec![ColumnDef {
            name: "id".into(),
            data_type: DataType::Int4,
            typmod: -1,
            not_null: true,
            default: None,
            dropped: false,
            generated: None,
        }],
        primary_key: Some(vec![0]),
        pkey_name: "t_pkey".into(),
        indexes: vec![],
    }
}
