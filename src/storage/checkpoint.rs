//! Checkpoint images: the catalog image `global/tusk_catalog` and one image per table
//! at `base/<db oid>/<filenode>`, each written as temp file + fsync + rename + directory
//! fsync, so a crash leaves either the old or the new image, never a torn one.
//!
//! Image layout (little-endian): 8-byte magic, u32 format version, the u64 *stamp*, the
//! body, and a CRC-32C of everything before it. A table image's body is a u64 row count
//! followed by (u64 tuple id, encoded row) pairs; the catalog image's body is a u32
//! count of (u32 database, u32 filenode, u64 stamp) triples — the stamp of each table's
//! image as the checkpoint that wrote the catalog left it — followed by the encoded
//! catalog.
//!
//! Images can be large (a 5 M-row table's is ≈ 0.5 GB): a table image is encoded
//! straight into the buffer that is written (sized from its first rows), and read back
//! into one buffer whose body is decoded in place, never copied whole a second time —
//! a large one in two halves on two threads, the second thread finding where its half
//! starts by stepping over the rows before it (`types::skip_row`).
//!
//! ## Stamps: a stale image is refused
//! A CRC proves an image intact, not current: an older image put back in place of the
//! newest one (a restored file, a filesystem that lost a rename) is intact and would
//! silently lose every change since. So each image carries a stamp, the latest WAL
//! position from which replay brings it up to date: a checkpoint's redo LSN, or a
//! restartpoint's replay position. An image is usable for recovery starting at redo
//! LSN `R` when its stamp is at least `R`, or (a table unchanged since its image was
//! written, which checkpoints skip) when its stamp is exactly the one the catalog image
//! records for it. [`check_stamp`] is that rule; images of format version 1 (before
//! stamps) are not checked.

use super::schema::CatalogState;
use super::wal::io::WalIo;
use super::wal::Lsn;
use crate::error::{sqlstate, Error, Result};
use crate::types::{decode_row, encode_row, skip_row, Reader, Value};
use crate::{bail, err};
use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const CATALOG_MAGIC: &[u8; 8] = b"TUSKCAT1";
const HEAP_MAGIC: &[u8; 8] = b"TUSKHEAP";
const FORMAT_VERSION: u32 = 2;
/// Images written before stamps: read, never written.
const FORMAT_VERSION_UNSTAMPED: u32 = 1;

/// A read image: its stamp (`None` for format version 1) and body.
struct Image {
    stamp: Option<Lsn>,
    /// The file without its CRC; the body starts at `header`.
    data: Vec<u8>,
    header: usize,
}

impl Image {
    fn body(&self) -> &[u8] {
        &self.data[self.header..]
    }
}

/// The catalog image: the catalog and the stamps it expects of the table images.
pub struct CatalogImage {
    /// The catalog state.
    pub catalog: CatalogState,
    /// The catalog image's own stamp (`None` before stamps).
    pub stamp: Option<Lsn>,
    /// Per table, the stamp its image had when this catalog image was written.
    pub table_stamps: HashMap<(u32, u32), Lsn>,
}

/// A table image's rows and stamp.
pub struct HeapImage {
    /// (tuple id, row) pairs, each row in the shared form a heap keeps it in.
    pub rows: Vec<(u64, Arc<Vec<Value>>)>,
    /// The image's stamp (`None` before stamps).
    pub stamp: Option<Lsn>,
}

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

/// Writes an image to `path` durably (temp file, fsync, rename, directory fsync)
/// through the I/O layer; `body` appends the body to the buffer after the header (so a
/// large body is encoded in place, never copied into a second buffer).
fn write_image(
    io: &dyn WalIo,
    path: &Path,
    magic: &[u8; 8],
    stamp: Lsn,
    body: impl FnOnce(&mut Vec<u8>),
    fsync: bool,
) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::internal("image path has no directory"))?;
    create_private_dir(dir)?;
    let mut data = Vec::new();
    data.extend_from_slice(magic);
    data.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    data.extend_from_slice(&stamp.0.to_le_bytes());
    body(&mut data);
    let crc = crc32c::crc32c(&data);
    data.extend_from_slice(&crc.to_le_bytes());
    io.replace_file(path, &data, fsync)
        .map_err(|e| Error::io(format!("could not write file \"{}\"", path.display()), e))
}

fn invalid_image(path: &Path) -> Error {
    err!(
        sqlstate::DATA_CORRUPTED,
        "invalid image file \"{}\"",
        path.display()
    )
}

/// Checks an image's magic, CRC (`crc_ok`: whether the stored CRC matched) and format
/// version from the start of its content (at least 16 bytes, the first 20 if there are
/// as many); returns its stamp and header length.
fn check_header(
    path: &Path,
    magic: &[u8; 8],
    head: &[u8],
    crc_ok: bool,
) -> Result<(Option<Lsn>, usize)> {
    if head.len() < 12 || &head[..8] != magic {
        return Err(invalid_image(path));
    }
    if !crc_ok {
        bail!(
            sqlstate::DATA_CORRUPTED,
            "checksum mismatch in image file \"{}\"",
            path.display()
        );
    }
    let version = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    Ok(match version {
        FORMAT_VERSION_UNSTAMPED => (None, 12),
        FORMAT_VERSION if head.len() >= 20 => {
            let mut stamp = [0u8; 8];
            stamp.copy_from_slice(&head[12..20]);
            (Some(Lsn(u64::from_le_bytes(stamp))), 20)
        }
        _ => bail!(
            sqlstate::DATA_CORRUPTED,
            "image file \"{}\" has unsupported format version {version}",
            path.display()
        ),
    })
}

/// Checks an image as [`read_image`] does (magic, CRC, format version) without keeping
/// it: the file is read a megabyte at a time. Returns its stamp and size in bytes. (A
/// start checks every table image this way and leaves decoding to `storage::heaps`.)
fn verify_image(path: &Path, magic: &[u8; 8]) -> Result<(Option<Lsn>, u64)> {
    use std::io::Read;
    let io_err = |e| Error::io(format!("could not read file \"{}\"", path.display()), e);
    let mut f = fs::File::open(path).map_err(io_err)?;
    let len = f.metadata().map_err(io_err)?.len();
    if len < 16 {
        return Err(invalid_image(path));
    }
    let mut buf = vec![0u8; (len - 4).min(1 << 20) as usize];
    let mut head = Vec::with_capacity(20);
    let mut crc = 0;
    let mut left = len - 4;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        f.read_exact(&mut buf[..n]).map_err(io_err)?;
        let want = (20 - head.len()).min(n);
        head.extend_from_slice(&buf[..want]);
        crc = crc32c::crc32c_append(crc, &buf[..n]);
        left -= n as u64;
    }
    let mut stored = [0u8; 4];
    f.read_exact(&mut stored).map_err(io_err)?;
    let (stamp, _) = check_header(path, magic, &head, crc.to_le_bytes() == stored)?;
    Ok((stamp, len))
}

/// Checks one table's image ([`verify_image`]) without decoding it: its stamp and size.
pub fn verify_heap(datadir: &Path, db: u32, filenode: u32) -> Result<(Option<Lsn>, u64)> {
    verify_image(&heap_path(datadir, db, filenode), HEAP_MAGIC)
}

/// Reads and verifies an image; returns its stamp and body.
fn read_image(path: &Path, magic: &[u8; 8]) -> Result<Image> {
    let mut data = fs::read(path)
        .map_err(|e| Error::io(format!("could not read file \"{}\"", path.display()), e))?;
    if data.len() < 16 {
        return Err(invalid_image(path));
    }
    let (content, crc) = data.split_at(data.len() - 4);
    let crc_ok = crc32c::crc32c(content).to_le_bytes() == crc;
    let (stamp, header) = check_header(path, magic, content, crc_ok)?;
    // The body stays in the file's buffer (an image can be large: no copy).
    let end = data.len() - 4;
    data.truncate(end);
    Ok(Image {
        stamp,
        data,
        header,
    })
}

/// Checks that the image at `path`, stamped `stamp`, is current for a recovery whose
/// redo starts at `redo` (see the module essay): its stamp is at least `redo`, or it is
/// exactly `expected`, the stamp the catalog image recorded for it (a table unchanged
/// since). Unstamped (version 1) images pass.
pub fn check_stamp(
    path: &Path,
    stamp: Option<Lsn>,
    redo: Lsn,
    expected: Option<Lsn>,
) -> Result<()> {
    let Some(stamp) = stamp else {
        return Ok(());
    };
    if stamp >= redo || expected == Some(stamp) {
        return Ok(());
    }
    Err(err!(
        sqlstate::DATA_CORRUPTED,
        "image file \"{}\" is older than the checkpoint recovery starts from",
        path.display()
    )
    .with_detail(format!(
        "The image is current as of redo LSN {stamp}, but redo starts at {redo}{}: it is a stale copy, and replay would leave it without the changes in between.",
        match expected {
            Some(e) => format!(" and the catalog image expects the image of {e}"),
            None => String::new(),
        }
    )))
}

/// Writes the catalog image, stamped `stamp`, with the stamps of the table images it
/// goes with.
pub fn write_catalog(
    io: &dyn WalIo,
    datadir: &Path,
    c: &CatalogState,
    stamp: Lsn,
    table_stamps: &HashMap<(u32, u32), Lsn>,
    fsync: bool,
) -> Result<()> {
    let mut stamps: Vec<_> = table_stamps.iter().collect();
    stamps.sort();
    let body = |body: &mut Vec<u8>| {
        body.extend_from_slice(&(stamps.len() as u32).to_le_bytes());
        for ((db, node), s) in stamps {
            body.extend_from_slice(&db.to_le_bytes());
            body.extend_from_slice(&node.to_le_bytes());
            body.extend_from_slice(&s.0.to_le_bytes());
        }
        c.encode(body);
    };
    write_image(
        io,
        &catalog_path(datadir),
        CATALOG_MAGIC,
        stamp,
        body,
        fsync,
    )
}

/// Reads the catalog image.
pub fn read_catalog(datadir: &Path) -> Result<CatalogImage> {
    let image = read_image(&catalog_path(datadir), CATALOG_MAGIC)?;
    let r = &mut Reader::new(image.body());
    let mut table_stamps = HashMap::new();
    if image.stamp.is_some() {
        for _ in 0..r.u32()? {
            let key = (r.u32()?, r.u32()?);
            table_stamps.insert(key, Lsn(r.u64()?));
        }
    }
    Ok(CatalogImage {
        catalog: CatalogState::decode(r)?,
        stamp: image.stamp,
        table_stamps,
    })
}

/// Writes one table's image.
pub fn write_heap(
    io: &dyn WalIo,
    datadir: &Path,
    db: u32,
    filenode: u32,
    rows: &[(u64, Arc<Vec<Value>>)],
    stamp: Lsn,
    fsync: bool,
) -> Result<()> {
    let body = |body: &mut Vec<u8>| {
        body.extend_from_slice(&(rows.len() as u64).to_le_bytes());
        // Sized from the first rows' encoding, so that a large image is not grown (and
        // copied) a dozen times on the way.
        let sample = rows.len().min(64);
        for (tid, row) in &rows[..sample] {
            body.extend_from_slice(&tid.to_le_bytes());
            encode_row(row, body);
        }
        if let Some(per_row) = (body.len() - 28).checked_div(sample) {
            body.reserve((rows.len() - sample) * per_row * 9 / 8 + 4);
        }
        for (tid, row) in &rows[sample..] {
            body.extend_from_slice(&tid.to_le_bytes());
            encode_row(row, body);
        }
    };
    write_image(
        io,
        &heap_path(datadir, db, filenode),
        HEAP_MAGIC,
        stamp,
        body,
        fsync,
    )
}

/// Reads one table's image (a missing file is an error: every table of the catalog
/// image has one).
pub fn read_heap(datadir: &Path, db: u32, filenode: u32) -> Result<HeapImage> {
    let image = read_image(&heap_path(datadir, db, filenode), HEAP_MAGIC)?;
    let r = &mut Reader::new(image.body());
    let n = r.u64()?;
    let rows = if n >= PARALLEL_DECODE_ROWS {
        decode_in_two(r, n)?
    } else {
        decode_rows(r, n)?
    };
    if !r.remaining().is_empty() {
        return Err(err!(
            sqlstate::DATA_CORRUPTED,
            "trailing bytes in table image"
        ));
    }
    Ok(HeapImage {
        rows,
        stamp: image.stamp,
    })
}

/// Rows from which a table image is decoded in two halves on two threads: decoding
/// is most of a large table's load (allocating and first touching every row), and a
/// start's first query of the table waits for it.
const PARALLEL_DECODE_ROWS: u64 = 100_000;

/// (tuple id, row) pairs as a heap takes them.
type Rows = Vec<(u64, Arc<Vec<Value>>)>;

/// Decodes `n` (tuple id, row) pairs from `r`.
fn decode_rows(r: &mut Reader<'_>, n: u64) -> Result<Rows> {
    // Each row takes at least its 8-byte tuple id: a corrupt count cannot reserve more
    // than the file could hold.
    let mut rows = Vec::with_capacity((n as usize).min(r.remaining().len() / 8));
    for _ in 0..n {
        let tid = r.u64()?;
        rows.push((tid, Arc::new(decode_row(r)?)));
    }
    Ok(rows)
}

/// [`decode_rows`] of `n` pairs, the first half on this thread while a second thread
/// steps over that half ([`skip_row`]) and decodes the rest; both must agree on where
/// the second half starts, or the image is reported damaged. Decodes on this thread
/// alone when no thread can be started.
fn decode_in_two(r: &mut Reader<'_>, n: u64) -> Result<Rows> {
    let body = r.remaining();
    let half = n / 2;
    let second_half = move || -> Result<(usize, Rows, usize)> {
        let mut r = Reader::new(body);
        for _ in 0..half {
            r.u64()?;
            skip_row(&mut r)?;
        }
        let starts_at = body.len() - r.remaining().len();
        let rows = decode_rows(&mut r, n - half)?;
        Ok((starts_at, rows, body.len() - r.remaining().len()))
    };
    let (first, second) = std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("tusk image decode".into())
            .spawn_scoped(scope, second_half);
        let Ok(handle) = spawned else {
            return (decode_rows(r, n), None);
        };
        let first = decode_rows(r, half);
        let second = handle.join().unwrap_or_else(|_| {
            Err(err!(
                sqlstate::INTERNAL_ERROR,
                "the image decoding thread panicked"
            ))
        });
        (first, Some(second))
    });
    let Some(second) = second else {
        return first;
    };
    let mut rows = first?;
    let (starts_at, tail, ends_at) = second?;
    if body.len() - r.remaining().len() != starts_at {
        bail!(
            sqlstate::DATA_CORRUPTED,
            "rows of a table image do not line up"
        );
    }
    *r = Reader::new(&body[ends_at..]);
    rows.extend(tail);
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
    fn a_large_image_decodes_in_two_halves_to_the_same_rows() {
        let dir = std::env::temp_dir().join(format!("tusk-ckpt-two-{}", std::process::id()));
        let io = super::super::wal::io::StdIo;
        // Rows of different lengths (the halves split mid-body), an odd count.
        let n = PARALLEL_DECODE_ROWS + 7;
        let rows: Rows = (0..n)
            .map(|i| {
                let text = match i % 3 {
                    0 => Value::Null,
                    1 => Value::Text(format!("row {i}{}", " ".repeat((i % 20) as usize))),
                    _ => Value::Text("é".repeat((i % 5) as usize)),
                };
                (i * 2 + 1, Arc::new(vec![Value::Int8(i as i64), text]))
            })
            .collect();
        write_heap(&io, &dir, 5, 16385, &rows, Lsn(0x3000028), false).unwrap();
        let back = read_heap(&dir, 5, 16385).unwrap();
        assert_eq!(back.rows.len(), rows.len());
        assert!(back.rows == rows);
        // One thread, same rows; a body cut short fails either way.
        let image = read_image(&heap_path(&dir, 5, 16385), HEAP_MAGIC).unwrap();
        let mut r = Reader::new(image.body());
        r.u64().unwrap();
        assert!(decode_rows(&mut r, n).unwrap() == rows);
        let body = &image.body()[8..];
        let cut = &body[..body.len() - 3];
        assert!(decode_in_two(&mut Reader::new(cut), n).is_err());
        assert!(decode_in_two(&mut Reader::new(body), n + 1).is_err());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn heap_image_round_trips_and_detects_corruption() {
        let dir = std::env::temp_dir().join(format!("tusk-ckpt-{}", std::process::id()));
        let rows = vec![(
            3u64,
            Arc::new(vec![Value::Int4(1), Value::Text("x".into())]),
        )];
        let io = super::super::wal::io::StdIo;
        write_heap(&io, &dir, 5, 16384, &rows, Lsn(0x3000028), false).unwrap();
        let back = read_heap(&dir, 5, 16384).unwrap();
        assert_eq!(
            back.rows,
            vec![(
                3u64,
                Arc::new(vec![Value::Int4(1), Value::Text("x".into())])
            )]
        );
        assert_eq!(back.stamp, Some(Lsn(0x3000028)));
        let p = heap_path(&dir, 5, 16384);
        // Current for redo from its stamp or earlier; older only if the catalog
        // expects exactly this image.
        assert!(check_stamp(&p, back.stamp, Lsn(0x3000028), None).is_ok());
        assert!(check_stamp(&p, back.stamp, Lsn(0x1000000), None).is_ok());
        let stale = check_stamp(&p, back.stamp, Lsn(0x5000060), Some(Lsn(0x4000000)));
        assert_eq!(stale.unwrap_err().code, sqlstate::DATA_CORRUPTED);
        assert!(check_stamp(&p, back.stamp, Lsn(0x5000060), Some(Lsn(0x3000028))).is_ok());
        assert!(check_stamp(&p, None, Lsn(0x5000060), None).is_ok());
        let mut data = fs::read(&p).unwrap();
        let n = data.len();
        data[n - 6] ^= 0xff;
        fs::write(&p, data).unwrap();
        assert!(read_heap(&dir, 5, 16384).is_err());
        let _ = fs::remove_dir_all(&dir);
    }
}
