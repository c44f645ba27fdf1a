//! Checkpoint images: the catalog image `global/tusk_catalog` and one image per table
//! at `base/<db oid>/<filenode>`, each written as temp file + fsync + rename + directory
//! fsync, so a crash leaves either the old or the new image, never a torn one.
//!
//! Image layout (little-endian): 8-byte magic, u32 format version, the body, and a
//! CRC-32C of everything before it. A table image's body is a u64 row count followed by
//! (u64 tuple id, encoded row) pairs.

use super::schema::CatalogState;
use super::wal::io::WalIo;
use crate::error::{sqlstate, Error, Result};
use crate::types::{decode_row, encode_row, Reader, Value};
use crate::{bail, err};
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const CATALOG_MAGIC: &[u8; 8] = b"TUSKCAT1";
const HEAP_MAGIC: &[u8; 8] = b"TUSKHEAP";
const FORMAT_VERSION: u32 = 1;

/// The path of the catalog image.
pub fn catalog_path(datadir: &Path) -> PathBuf {
    datadir.join("global").join("tusk_catalog")
}

/// The path of a table image.
pub fn heap_path(datadir: &Path, db: u32, filenode: u32) -> PathBuf {
    datadir
        .join("base")
        .join(db.to_string())
        .join(filenode.to_string())
}

/// Creates a directory (and its parents) with owner-only permissions, as PostgreSQL.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            Error::io(
                format!("could not create directory \"{}\"", dir.display()),
                e,
            )
        })
}

/// Writes `body` framed as an image to `path` durably (temp file, fsync, rename,
/// directory fsync) through the I/O layer.
fn write_image(
    io: &dyn WalIo,
    path: &Path,
    magic: &[u8; 8],
    body: &[u8],
    fsync: bool,
) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::internal("image path has no directory"))?;
    create_private_dir(dir)?;
    let mut data = Vec::with_capacity(body.len() + 16);
    data.extend_from_slice(magic);
    data.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    data.extend_from_slice(body);
    let crc = crc32c::crc32c(&data);
    data.extend_from_slice(&crc.to_le_bytes());
    io.replace_file(path, &data, fsync)
        .map_err(|e| Error::io(format!("could not write file \"{}\"", path.display()), e))
}

/// Reads and verifies an image; returns its body.
fn read_image(path: &Path, magic: &[u8; 8]) -> Result<Vec<u8>> {
    let data = fs::read(path)
        .map_err(|e| Error::io(format!("could not read file \"{}\"", path.display()), e))?;
    if data.len() < 16 || &data[..8] != magic {
        bail!(
            sqlstate::DATA_CORRUPTED,
            "invalid image file \"{}\"",
            path.display()
        );
    }
    let (content, crc) = data.split_at(data.len() - 4);
    let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32c::crc32c(content) != crc {
        bail!(
            sqlstate::DATA_CORRUPTED,
            "checksum mismatch in image file \"{}\"",
            path.display()
        );
    }
    let version = u32::from_le_bytes([content[8], content[9], content[10], content[11]]);
    if version != FORMAT_VERSION {
        bail!(
            sqlstate::DATA_CORRUPTED,
            "image file \"{}\" has unsupported format version {version}",
            path.display()
        );
    }
    Ok(content[12..].to_vec())
}

/// Writes the catalog image.
pub fn write_catalog(io: &dyn WalIo, datadir: &Path, c: &CatalogState, fsync: bool) -> Result<()> {
    let mut body = Vec::new();
    c.encode(&mut body);
    write_image(io, &catalog_path(datadir), CATALOG_MAGIC, &body, fsync)
}

/// Reads the catalog image.
pub fn read_catalog(datadir: &Path) -> Result<CatalogState> {
    let body = read_image(&catalog_path(datadir), CATALOG_MAGIC)?;
    CatalogState::decode(&mut Reader::new(&body))
}

/// Writes one table's image.
pub fn write_heap(
    io: &dyn WalIo,
    datadir: &Path,
    db: u32,
    filenode: u32,
    rows: &[(u64, Arc<Vec<Value>>)],
    fsync: bool,
) -> Result<()> {
    let mut body = Vec::new();
    body.extend_from_slice(&(rows.len() as u64).to_le_bytes());
    for (tid, row) in rows {
        body.extend_from_slice(&tid.to_le_bytes());
        encode_row(row, &mut body);
    }
    write_image(
        io,
        &heap_path(datadir, db, filenode),
        HEAP_MAGIC,
        &body,
        fsync,
    )
}

/// Reads one table's image (a missing file is an error: every table of the catalog
/// image has one).
pub fn read_heap(datadir: &Path, db: u32, filenode: u32) -> Result<Vec<(u64, Vec<Value>)>> {
    let body = read_image(&heap_path(datadir, db, filenode), HEAP_MAGIC)?;
    let r = &mut Reader::new(&body);
    let n = r.u64()?;
    let mut rows = Vec::new();
    for _ in 0..n {
        let tid = r.u64()?;
        rows.push((tid, decode_row(r)?));
    }
    if !r.remaining().is_empty() {
        return Err(err!(
            sqlstate::DATA_CORRUPTED,
            "trailing bytes in table image"
        ));
    }
    Ok(rows)
}

/// Removes image files of tables that no longer exist in `c` (after DROP TABLE).
pub fn remove_stale_images(datadir: &Path, c: &CatalogState) {
    let Ok(dbs) = fs::read_dir(datadir.join("base")) else {
        return;
    };
    for db in dbs.flatten() {
        let Some(db_oid) = db.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(files) = fs::read_dir(db.path()) else {
            continue;
        };
        for f in files.flatten() {
            let name = f.file_name();
            let Some(node) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if !c.tables.contains_key(&(db_oid, node)) {
                let _ = fs::remove_file(f.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_image_round_trips_and_detects_corruption() {
        let dir = std::env::temp_dir().join(format!("tusk-ckpt-{}", std::process::id()));
        let rows = vec![(
            3u64,
            Arc::new(vec![Value::Int4(1), Value::Text("x".into())]),
        )];
        write_heap(&super::super::wal::io::StdIo, &dir, 5, 16384, &rows, false).unwrap();
        let back = read_heap(&dir, 5, 16384).unwrap();
        assert_eq!(
            back,
            vec![(3u64, vec![Value::Int4(1), Value::Text("x".into())])]
        );
        let p = heap_path(&dir, 5, 16384);
        let mut data = fs::read(&p).unwrap();
        let n = data.len();
        data[n - 6] ^= 0xff;
        fs::write(&p, data).unwrap();
        assert!(read_heap(&dir, 5, 16384).is_err());
        let _ = fs::remove_dir_all(&dir);
    }
}
