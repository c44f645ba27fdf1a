//! Where the data directory is, and whether a server may start on it.
//!
//! The directory comes from `-D`, else `$PGDATA`, else `./data` (tusk's embedded
//! default: one `tusk run` with no arguments gives a working server). Before the server
//! locks it, [`check`] applies the postmaster's own checks with its FATAL texts: the
//! directory exists, is a directory, belongs to us (unless we are root), is not open to
//! group writes or others, and holds a `PG_VERSION` of 15.
//!
//! What this module must never do: create or change anything (that is `init`'s job).
//!
//! A `tusk run` with `PGDATA=/srv/pg`, step by step:
//! 1. [`resolve`] returns `/srv/pg`.
//! 2. [`needs_init`] is false: the directory holds files.
//! 3. [`check`] reads `/srv/pg/PG_VERSION` and finds `15`.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{sqlstate, Error, Result};

/// The data directory used when neither `-D` nor `$PGDATA` is given.
pub const DEFAULT_DATADIR: &str = "data";

/// The data directory for `-D` (if given), else `$PGDATA` (if set and not empty), else
/// `./data`.
pub fn resolve(option: Option<&str>) -> PathBuf {
    resolve_from(option, std::env::var("PGDATA").ok())
}

/// [`resolve`] with the environment passed in (for tests).
pub fn resolve_from(option: Option<&str>, pgdata: Option<String>) -> PathBuf {
    let chosen = match option {
        Some(d) if !d.is_empty() => d.to_string(),
        _ => match pgdata {
            Some(d) if !d.is_empty() => d,
            _ => DEFAULT_DATADIR.to_string(),
        },
    };
    // pg_ctl and initdb canonicalize away trailing slashes ("/d/" is "/d").
    let trimmed = chosen.trim_end_matches('/');
    PathBuf::from(if trimmed.is_empty() { "/" } else { trimmed })
}

/// Whether `tusk run` should initialize `dir` first: it does not exist, or it is an
/// empty directory.
pub fn needs_init(dir: &Path) -> bool {
    match fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) => e.kind() == ErrorKind::NotFound,
    }
}

/// Checks that a server may run on `dir`, with the postmaster's FATAL messages.
pub fn check(dir: &Path) -> Result<()> {
    let shown = dir.display();
    let meta = match fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(fatal(
                sqlstate::IO_ERROR,
                format!("data directory \"{shown}\" does not exist"),
            ))
        }
        Err(e) => {
            return Err(fatal(
                sqlstate::IO_ERROR,
                format!("could not read permissions of directory \"{shown}\": {e}"),
            ))
        }
    };
    if !meta.is_dir() {
        return Err(fatal(
            sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("specified data directory \"{shown}\" is not a directory"),
        ));
    }
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 && meta.uid() != euid {
        return Err(fatal(
            sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("data directory \"{shown}\" has wrong ownership"),
        )
        .with_hint("The server must be started by the user that owns the data directory."));
    }
    if meta.permissions().mode() & 0o027 != 0 {
        return Err(fatal(
            sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("data directory \"{shown}\" has invalid permissions"),
        )
        .with_detail("Permissions should be u=rwx (0700) or u=rwx,g=rx (0750)."));
    }
    let version_file = dir.join("PG_VERSION");
    let version = match fs::read_to_string(&version_file) {
        Ok(v) => v,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(fatal(
                sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!("\"{shown}\" is not a valid data directory"),
            )
            .with_detail(format!("File \"{}\" is missing.", version_file.display())))
        }
        Err(e) => {
            return Err(fatal(
                sqlstate::IO_ERROR,
                format!("could not open file \"{}\": {e}", version_file.display()),
            ))
        }
    };
    let version = version.trim();
    if version != super::PG_MAJOR_VERSION {
        return Err(fatal(
            sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
            "database files are incompatible with server",
        )
        .with_detail(format!(
            "The data directory was initialized by PostgreSQL version {version}, which is not compatible with this version {}.",
            super::PG_MAJOR_VERSION
        )));
    }
    Ok(())
}

/// A FATAL error (start-up failures end the server).
fn fatal(code: &'static str, message: impl Into<String>) -> Error {
    Error::fatal(code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "tusk-datadir-{tag}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ))
    }

    #[test]
    fn resolution_order() {
        assert_eq!(
            resolve_from(Some("/a/"), Some("/b".into())),
            PathBuf::from("/a")
        );
        assert_eq!(resolve_from(None, Some("/b".into())), PathBuf::from("/b"));
        assert_eq!(
            resolve_from(None, Some(String::new())),
            PathBuf::from("data")
        );
        assert_eq!(resolve_from(None, None), PathBuf::from("data"));
        assert_eq!(resolve_from(Some("/"), None), PathBuf::from("/"));
    }

    #[test]
    fn checks_with_postmaster_texts() {
        let d = tempdir("check");
        assert!(needs_init(&d));
        assert_eq!(
            check(&d).unwrap_err().message,
            format!("data directory \"{}\" does not exist", d.display())
        );
        fs::create_dir_all(&d).unwrap();
        assert!(needs_init(&d));
        fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
        let e = check(&d).unwrap_err();
        assert_eq!(
            e.message,
            format!("data directory \"{}\" has invalid permissions", d.display())
        );
        assert_eq!(e.severity, crate::error::Severity::Fatal);
        fs::set_permissions(&d, fs::Permissions::from_mode(0o750)).unwrap();
        let e = check(&d).unwrap_err();
        assert_eq!(
            e.message,
            format!("\"{}\" is not a valid data directory", d.display())
        );
        assert!(e.detail.unwrap().ends_with("PG_VERSION\" is missing."));
        fs::write(d.join("PG_VERSION"), "9.6\n").unwrap();
        assert!(!needs_init(&d));
        let e = check(&d).unwrap_err();
        assert_eq!(e.message, "database files are incompatible with server");
        assert_eq!(
            e.detail.unwrap(),
            "The data directory was initialized by PostgreSQL version 9.6, which is not compatible with this version 15."
        );
        fs::write(d.join("PG_VERSION"), "15\n").unwrap();
        check(&d).unwrap();
        let f = d.join("PG_VERSION");
        assert!(check(&f)
            .unwrap_err()
            .message
            .ends_with("is not a directory"));
        fs::remove_dir_all(&d).unwrap();
    }
}
