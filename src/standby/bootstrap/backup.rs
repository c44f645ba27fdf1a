//! The client side of `BASE_BACKUP`, as `pg_basebackup -Fp -Xs` runs it: one
//! replication connection receives the archive and extracts it into the new data
//! directory, a second one streams the WAL written meanwhile into its `pg_wal/`.
//!
//! What it owns: the replication commands of a backup (`SHOW`, `IDENTIFY_SYSTEM`,
//! `CREATE_REPLICATION_SLOT`, `BASE_BACKUP`, `START_REPLICATION`), the decoding of
//! PostgreSQL 15's CopyOut stream (`n` new archive, `d` data, `p` progress, `m`
//! manifest), the ustar extraction ([`Untar`]) and the WAL stream task.
//!
//! Invariants:
//! - Nothing is written outside the target directory: a tar member whose name is
//!   absolute or climbs with `..` is refused (`tar member has unsafe path name`).
//! - A member's directory must come before it (PostgreSQL's server and tusk's send it
//!   so); a member is never created through a missing parent.
//! - The backup is complete only when the archive's trailer was seen, the server sent
//!   the end LSN, and the WAL stream has written and flushed WAL up to that LSN.
//! - Every malformed message is an error with pg_basebackup's text, never a panic.
//!
//! What it must never do: decide what the directory becomes (configuration, start: the
//! caller does), or remove anything (cleanup is the caller's).
//!
//! One backup, step by step:
//! 1. connect (`replication=true`), `SHOW wal_segment_size` and the settings a hot
//!    standby needs, `IDENTIFY_SYSTEM`; with a slot, `CREATE_REPLICATION_SLOT … PHYSICAL
//!    RESERVE_WAL` unless it exists;
//! 2. `BASE_BACKUP ( LABEL 'tusk standby', PROGRESS, CHECKPOINT 'fast', WAIT 0,
//!    MANIFEST 'no' )`; the first result gives the start LSN and timeline, the second
//!    the size estimate;
//! 3. the WAL task connects and `START_REPLICATION`s from the start LSN's segment into
//!    `pg_wal/` ([`RawWalWriter`]), answering keepalives;
//! 4. the CopyOut stream is extracted member by member; `p` messages drive the
//!    progress line;
//! 5. the end result gives the end LSN; the WAL task is told, stops once it has
//!    flushed that far (CopyDone), and the backup is done.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::error::{sqlstate, Error, Result};
use crate::standby::client::{self, error_fields, parse_data_row, Client};
use crate::standby::conninfo::Conninfo;
use crate::storage::wal::raw::RawWalWriter;
use crate::storage::wal::{Lsn, SyncMethod, WalOptions};

/// The settings a hot standby must not have lower than its primary's (PostgreSQL's
/// `CheckRequiredParameterValues`), copied into the standby's configuration.
pub const HOT_STANDBY_SETTINGS: [&str; 5] = [
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
];

/// How long the WAL task may take to reach the end LSN once the archive is complete.
const WAL_FINISH_LIMIT: Duration = Duration::from_secs(60);

/// What a finished backup tells the caller.
#[derive(Debug, Clone)]
pub struct BackupResult {
    /// The backup's start (redo) LSN.
    pub start: Lsn,
    /// The backup's end LSN.
    pub end: Lsn,
    /// The timeline the backup was taken on.
    pub timeline: u32,
    /// The primary's values of [`HOT_STANDBY_SETTINGS`], in that order.
    pub settings: Vec<(String, String)>,
}

/// What [`take`] needs.
pub struct BackupRequest<'a> {
    /// The primary's connection parameters.
    pub conninfo: &'a Conninfo,
    /// The (new or empty) data directory to fill.
    pub dir: &'a Path,
    /// The physical slot to create if missing and to stream the backup's WAL through.
    pub slot: Option<&'a str>,
    /// Whether to print progress lines on `err`.
    pub progress: bool,
}

/// A connection failure as libpq (and so pg_basebackup) prints it.
fn connect_failed(c: &Conninfo, what: String) -> Error {
    Error::new(
        sqlstate::CONNECTION_FAILURE,
        format!("{}: {what}", client::place(c)),
    )
}

/// Opens a replication connection (`replication=true`) as `app`.
pub(crate) async fn connect_replication(c: &Conninfo, app: &str) -> Result<Client> {
    check_sslmode(c)?;
    let params = [
        ("database", "replication"),
        ("replication", "true"),
        ("application_name", app),
    ];
    with_timeout(c, client::connect(c, &params, &connect_failed)).await
}

/// Opens an ordinary connection to database `postgres` as `app`.
pub(crate) async fn connect_sql(c: &Conninfo, app: &str) -> Result<Client> {
    check_sslmode(c)?;
    let params = [("database", "postgres"), ("application_name", app)];
    with_timeout(c, client::connect(c, &params, &connect_failed)).await
}

fn check_sslmode(c: &Conninfo) -> Result<()> {
    if matches!(c.sslmode.as_str(), "require" | "verify-ca" | "verify-full") {
        return Err(connect_failed(
            c,
            format!("sslmode \"{}\" is not supported by tusk standby", c.sslmode),
        ));
    }
    Ok(())
}

/// libpq's `connect_timeout` bounds connecting and authenticating.
async fn with_timeout(
    c: &Conninfo,
    f: impl std::future::Future<Output = Result<Client>>,
) -> Result<Client> {
    match c.connect_timeout {
        Some(limit) => tokio::time::timeout(limit, f)
            .await
            .map_err(|_| connect_failed(c, "timeout expired".into()))?,
        None => f.await,
    }
}

/// An ErrorResponse as an [`Error`] with the server's SQLSTATE, message (after
/// `what: `, if given) and detail.
fn server_error(what: &str, body: &[u8]) -> Error {
    let (_, msg, detail, code) = error_fields(body);
    let code = sqlstate_of(&code);
    let msg = if what.is_empty() {
        msg
    } else {
        format!("{what}: {msg}")
    };
    let e = Error::new(code, msg);
    match detail {
        Some(d) => e.with_detail(d),
        None => e,
    }
}

/// The `&'static` SQLSTATE for a code the server sent (unknown codes become XX000).
fn sqlstate_of(code: &str) -> &'static str {
    match code {
        "42710" => sqlstate::DUPLICATE_OBJECT,
        "42704" => sqlstate::UNDEFINED_OBJECT,
        "53300" => sqlstate::TOO_MANY_CONNECTIONS,
        "28000" => sqlstate::INVALID_AUTHORIZATION_SPECIFICATION,
        "42501" => sqlstate::INSUFFICIENT_PRIVILEGE,
        "55000" => sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
        "42601" => sqlstate::SYNTAX_ERROR,
        "58P01" => sqlstate::UNDEFINED_FILE,
        "08006" => sqlstate::CONNECTION_FAILURE,
        _ => sqlstate::INTERNAL_ERROR,
    }
}

fn lost(e: std::io::Error) -> Error {
    Error::new(
        sqlstate::CONNECTION_FAILURE,
        format!("could not read COPY data: {e}"),
    )
}

/// Runs a command whose answer is at most one result set; returns its rows. An
/// ErrorResponse becomes `what: message` with the server's SQLSTATE.
pub(crate) async fn query_rows(
    cl: &mut Client,
    sql: &str,
    what: &str,
) -> Result<(Vec<String>, Vec<Vec<Option<String>>>)> {
    cl.query(sql).await.map_err(lost)?;
    let (mut names, mut rows, mut err) = (Vec::new(), Vec::new(), None);
    loop {
        let (tag, body) = cl.read().await.map_err(lost)?;
        match tag {
            b'T' => names = row_description(&body).ok_or_else(bad_response)?,
            b'D' => rows.push(parse_data_row(&body).ok_or_else(bad_response)?),
            b'E' => err = Some(server_error(what, &body)),
            b'Z' => break,
            _ => {}
        }
    }
    match err {
        Some(e) => Err(e),
        None => Ok((names, rows)),
    }
}

fn bad_response() -> Error {
    Error::new(
        sqlstate::PROTOCOL_VIOLATION,
        "invalid response from server: malformed message",
    )
}

/// The column names of a RowDescription message.
fn row_description(body: &[u8]) -> Option<Vec<String>> {
    let n = u16::from_be_bytes(body.get(0..2)?.try_into().ok()?) as usize;
    let mut p = 2;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let end = p + body.get(p..)?.iter().position(|b| *b == 0)?;
        out.push(String::from_utf8_lossy(&body[p..end]).to_string());
        p = end + 1 + 18;
    }
    Some(out)
}

/// One value of a one-row command result (`SHOW`, `IDENTIFY_SYSTEM`).
async fn single_row(cl: &mut Client, sql: &str, what: &str) -> Result<Vec<Option<String>>> {
    let (_, rows) = query_rows(cl, sql, what).await?;
    match rows.into_iter().next() {
        Some(r) => Ok(r),
        None => Err(Error::new(
            sqlstate::PROTOCOL_VIOLATION,
            format!("{what}: got 0 rows, expected 1"),
        )),
    }
}

/// Parses `SHOW wal_segment_size` (`16MB`, `1GB`, `1024kB`, or bytes) into bytes.
pub fn parse_segment_size(v: &str) -> Result<u64> {
    let v = v.trim();
    let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let bad = || {
        Error::new(
            sqlstate::INVALID_PARAMETER_VALUE,
            "WAL segment size could not be parsed",
        )
    };
    let n: u64 = v[..digits].parse().map_err(|_| bad())?;
    let mult = match v[digits..].trim() {
        "" | "B" => 1,
        "kB" => 1024,
        "MB" => 1024 * 1024,
        "GB" => 1024 * 1024 * 1024,
        _ => return Err(bad()),
    };
    let bytes = n.checked_mul(mult).ok_or_else(bad)?;
    if !bytes.is_power_of_two() || !(1 << 20..=1 << 30).contains(&bytes) {
        return Err(Error::new(
            sqlstate::INVALID_PARAMETER_VALUE,
            format!("WAL segment size must be a power of two between 1 MB and 1 GB, but the remote server reported a value of {bytes} bytes"),
        ));
    }
    Ok(bytes)
}

fn parse_lsn(s: Option<&Option<String>>) -> Result<Lsn> {
    let text = s.and_then(|v| v.clone()).unwrap_or_default();
    text.parse().map_err(|_| {
        Error::new(
            sqlstate::PROTOCOL_VIOLATION,
            format!("could not parse write-ahead log location \"{text}\""),
        )
    })
}

/// Quotes a replication-command identifier (`"…"`, `""` for a quote).
fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Takes the base backup into `req.dir` (which exists and is empty) with WAL streamed
/// into its `pg_wal/`. Progress lines (with `req.progress`) go to `err`.
/// `cl` is the replication connection ([`connect_replication`]) the caller opened
/// before it created the directory.
pub(crate) async fn take(
    mut cl: Client,
    req: &BackupRequest<'_>,
    err: &mut dyn Write,
) -> Result<BackupResult> {
    let c = req.conninfo;
    // 1. What the WAL stream and the standby's configuration need.
    let seg_text = single_row(
        &mut cl,
        "SHOW wal_segment_size",
        "could not fetch WAL segment size",
    )
    .await?;
    let seg = parse_segment_size(seg_text.first().and_then(|v| v.as_deref()).unwrap_or(""))?;
    let mut settings = Vec::new();
    for name in HOT_STANDBY_SETTINGS {
        let row = single_row(
            &mut cl,
            &format!("SHOW {name}"),
            &format!("could not fetch setting \"{name}\""),
        )
        .await?;
        let v = row.into_iter().next().flatten().unwrap_or_default();
        settings.push((name.to_string(), v));
    }
    let ident = single_row(&mut cl, "IDENTIFY_SYSTEM", "could not identify system").await?;
    if ident.len() < 3 {
        return Err(Error::new(
            sqlstate::PROTOCOL_VIOLATION,
            format!(
                "could not identify system: got 1 rows and {} fields, expected 1 rows and 3 or more fields",
                ident.len()
            ),
        ));
    }
    let system_id: u64 = ident[0]
        .as_deref()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            Error::new(
                sqlstate::PROTOCOL_VIOLATION,
                "could not identify system: invalid system identifier",
            )
        })?;
    if let Some(slot) = req.slot {
        let cmd = format!(
            "CREATE_REPLICATION_SLOT {} PHYSICAL RESERVE_WAL",
            quote_ident(slot)
        );
        match query_rows(&mut cl, &cmd, "could not create replication slot").await {
            Ok(_) => {
                if req.progress {
                    let _ = writeln!(err, "tusk standby: created replication slot \"{slot}\"");
                }
            }
            Err(e) if e.code == sqlstate::DUPLICATE_OBJECT => {}
            Err(e) => return Err(e),
        }
    }

    // 2. BASE_BACKUP and its first two results.
    cl.query(
        "BASE_BACKUP ( LABEL 'tusk standby', PROGRESS, CHECKPOINT 'fast', WAIT 0, MANIFEST 'no' )",
    )
    .await
    .map_err(lost)?;
    if req.progress {
        let _ = writeln!(
            err,
            "tusk standby: initiating base backup, waiting for checkpoint to complete"
        );
    }
    let first = read_result(&mut cl, "could not initiate base backup").await?;
    if first.len() != 1 || first[0].len() < 2 {
        return Err(Error::new(
            sqlstate::PROTOCOL_VIOLATION,
            format!(
                "server returned unexpected response to BASE_BACKUP command; got {} rows and {} fields, expected 1 rows and 2 fields",
                first.len(),
                first.first().map_or(0, Vec::len)
            ),
        ));
    }
    let start = parse_lsn(first[0].first())?;
    let timeline: u32 = first[0][1]
        .as_deref()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    if req.progress {
        let _ = writeln!(
            err,
            "tusk standby: write-ahead log start point: {start} on timeline {timeline}"
        );
    }
    let spaces = read_result(&mut cl, "could not get backup header").await?;
    if spaces.is_empty() {
        return Err(Error::new(
            sqlstate::PROTOCOL_VIOLATION,
            "no data returned from server",
        ));
    }
    let total_kb: u64 = spaces
        .iter()
        .filter_map(|r| r.get(2).cloned().flatten())
        .filter_map(|s| s.parse::<u64>().ok())
        .sum();

    // 3. The WAL stream, into a pg_wal/ that exists before the archive names it.
    let pg_wal = req.dir.join("pg_wal");
    for d in [pg_wal.clone(), pg_wal.join("archive_status")] {
        std::fs::create_dir_all(&d)
            .map_err(|e| Error::io(format!("could not create directory \"{}\"", d.display()), e))?;
    }
    let (end_tx, end_rx) = watch::channel(None::<Lsn>);
    let wal = WalStream {
        conninfo: c.clone(),
        slot: req.slot.map(str::to_string),
        system_id,
        timeline,
        start: Lsn(start.0 - start.0 % seg),
        opts: WalOptions {
            dir: pg_wal,
            segment_size: seg,
            system_id,
            timeline,
            fsync: true,
            sync_method: SyncMethod::default(),
        },
    };
    let mut wal_task = tokio::spawn(wal.run(end_rx));

    // 4. The archive; a WAL stream that fails meanwhile ends the backup at once.
    let archive = tokio::select! {
        r = async {
            receive_archive(&mut cl, req, total_kb, err).await?;
            read_result(&mut cl, "backup failed").await
        } => r,
        w = &mut wal_task => Err(match w {
            Ok(Err(e)) => e,
            _ => Error::new(
                sqlstate::INTERNAL_ERROR,
                "background process terminated unexpectedly",
            ),
        }),
    };
    let end_rows = match archive {
        Ok(r) => r,
        Err(e) => {
            wal_task.abort();
            return Err(e);
        }
    };
    let Some(end_row) = end_rows.first() else {
        wal_task.abort();
        return Err(Error::new(
            sqlstate::PROTOCOL_VIOLATION,
            "no write-ahead log end position returned from server",
        ));
    };
    let end = parse_lsn(end_row.first())?;
    let _ = cl.send(Some(b'X'), &[]).await;
    if req.progress {
        let _ = writeln!(err, "tusk standby: write-ahead log end point: {end}");
        let _ = writeln!(
            err,
            "tusk standby: waiting for background process to finish streaming ..."
        );
    }

    // 5. The WAL up to the end LSN.
    let _ = end_tx.send(Some(end));
    match tokio::time::timeout(WAL_FINISH_LIMIT, wal_task).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => return Err(e),
        Ok(Err(_)) => {
            return Err(Error::new(
                sqlstate::INTERNAL_ERROR,
                "background process terminated unexpectedly",
            ))
        }
        Err(_) => {
            return Err(Error::new(
                sqlstate::CONNECTION_FAILURE,
                format!(
                    "could not stream write-ahead log up to {end} within {} s",
                    WAL_FINISH_LIMIT.as_secs()
                ),
            ))
        }
    }
    Ok(BackupResult {
        start,
        end,
        timeline,
        settings,
    })
}

/// Reads one result set up to its CommandComplete (an ErrorResponse becomes
/// `what: message`; after an error the stream is read up to ReadyForQuery).
async fn read_result(cl: &mut Client, what: &str) -> Result<Vec<Vec<Option<String>>>> {
    let mut rows = Vec::new();
    loop {
        let (tag, body) = cl.read().await.map_err(lost)?;
        match tag {
            b'D' => rows.push(parse_data_row(&body).ok_or_else(bad_response)?),
            b'C' => return Ok(rows),
            b'E' => {
                let e = server_error(what, &body);
                return Err(e);
            }
            b'Z' => {
                return Err(Error::new(
                    sqlstate::PROTOCOL_VIOLATION,
                    format!("{what}: unexpected end of results"),
                ))
            }
            _ => {}
        }
    }
}

/// Receives the CopyOut stream of PostgreSQL 15's typed messages and extracts it.
async fn receive_archive(
    cl: &mut Client,
    req: &BackupRequest<'_>,
    total_kb: u64,
    err: &mut dyn Write,
) -> Result<()> {
    loop {
        let (tag, body) = cl.read().await.map_err(lost)?;
        match tag {
            b'H' => break,
            b'E' => return Err(server_error("could not get COPY data stream", &body)),
            b'N' => {}
            _ => {
                return Err(Error::new(
                    sqlstate::PROTOCOL_VIOLATION,
                    "could not get COPY data stream: unexpected message",
                ))
            }
        }
    }
    let mut untar: Option<Untar> = None;
    let mut manifest: Option<Vec<u8>> = None;
    let mut done: u64 = 0;
    let mut last_line = Instant::now();
    let progress = |err: &mut dyn Write, done: u64, last: bool| {
        let done_kb = done / 1024;
        let total = total_kb.max(done_kb);
        let pct = (done_kb * 100).checked_div(total).unwrap_or(100);
        let end = if last { "\n" } else { "\r" };
        let _ = write!(
            err,
            "{done_kb:>w$}/{total} kB ({pct}%), {}/1 tablespace{end}",
            u8::from(last),
            w = total.to_string().len()
        );
    };
    loop {
        let (tag, body) = cl.read().await.map_err(lost)?;
        match tag {
            b'c' => break,
            b'E' => return Err(server_error("could not read COPY data", &body)),
            b'd' => {}
            _ => continue,
        }
        let Some((&kind, rest)) = body.split_first() else {
            return Err(Error::new(
                sqlstate::PROTOCOL_VIOLATION,
                "empty COPY message",
            ));
        };
        let malformed = || {
            Error::new(
                sqlstate::PROTOCOL_VIOLATION,
                format!(
                    "malformed COPY message of type {}, length {}",
                    kind,
                    body.len()
                ),
            )
        };
        match kind {
            b'n' => {
                let mut parts = rest.split(|b| *b == 0);
                let (Some(name), Some(location), Some(tail), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err(malformed());
                };
                if !tail.is_empty() {
                    return Err(malformed());
                }
                let name = String::from_utf8_lossy(name).to_string();
                if manifest.is_some() {
                    return Err(Error::new(
                        sqlstate::PROTOCOL_VIOLATION,
                        "archives must precede manifest",
                    ));
                }
                if name.is_empty()
                    || name.starts_with('.')
                    || name.contains('/')
                    || name.contains('\\')
                {
                    return Err(Error::new(
                        sqlstate::PROTOCOL_VIOLATION,
                        format!("invalid archive name: \"{name}\""),
                    ));
                }
                if !location.is_empty() || name != "base.tar" {
                    return Err(Error::new(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        format!("cannot parse archive \"{name}\""),
                    )
                    .with_detail("tusk standby extracts only an uncompressed base.tar; the primary has tablespaces or compresses the backup."));
                }
                if let Some(prev) = untar.take() {
                    prev.finish()?;
                }
                untar = Some(Untar::new(req.dir));
            }
            b'd' => match (&mut manifest, &mut untar) {
                (Some(m), _) => m.extend_from_slice(rest),
                (None, Some(u)) => u.feed(rest)?,
                (None, None) => {
                    return Err(Error::new(
                        sqlstate::PROTOCOL_VIOLATION,
                        "unexpected payload data",
                    ))
                }
            },
            b'p' => {
                let Ok(b) = <[u8; 8]>::try_from(rest) else {
                    return Err(malformed());
                };
                done = u64::from_be_bytes(b);
                if req.progress && last_line.elapsed() >= Duration::from_millis(200) {
                    progress(err, done, false);
                    last_line = Instant::now();
                }
            }
            b'm' => {
                if !rest.is_empty() {
                    return Err(malformed());
                }
                manifest = Some(Vec::new());
            }
            _ => return Err(malformed()),
        }
    }
    match untar {
        Some(u) => u.finish()?,
        None => {
            return Err(Error::new(
                sqlstate::PROTOCOL_VIOLATION,
                "no data returned from server",
            ))
        }
    }
    if let Some(m) = manifest {
        let path = req.dir.join("backup_manifest");
        std::fs::write(&path, m)
            .map_err(|e| Error::io(format!("could not write file \"{}\"", path.display()), e))?;
    }
    if req.progress {
        progress(err, done, true);
    }
    Ok(())
}

/// A ustar stream extracted into a directory as it arrives (any chunking).
pub struct Untar {
    dir: PathBuf,
    /// Bytes of the current 512-byte header not yet complete.
    header: Vec<u8>,
    /// The member being written: its file, path, mode and the bytes still to come.
    file: Option<(std::fs::File, PathBuf, u32, u64)>,
    /// Padding bytes still to skip after a member's data.
    skip: u64,
    /// Zero blocks seen in a row (two end the archive).
    zero_blocks: u8,
}

fn tar_error(msg: impl Into<String>) -> Error {
    Error::new(sqlstate::PROTOCOL_VIOLATION, msg)
}

/// An octal numeric field of a tar header (NUL/space terminated).
fn octal(field: &[u8]) -> Result<u64> {
    let text: String = field
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| *b as char)
        .collect();
    let t = text.trim();
    if t.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(t, 8).map_err(|_| tar_error(format!("invalid tar header field \"{t}\"")))
}

fn cstr_field(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    &field[..end]
}

impl Untar {
    /// An extractor into `dir`.
    pub fn new(dir: &Path) -> Untar {
        Untar {
            dir: dir.to_path_buf(),
            header: Vec::with_capacity(512),
            file: None,
            skip: 0,
            zero_blocks: 0,
        }
    }

    /// Extracts the next bytes of the stream.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            if let Some((f, path, _, left)) = &mut self.file {
                let n = (*left).min(data.len() as u64) as usize;
                f.write_all(&data[..n]).map_err(|e| {
                    Error::io(format!("could not write to file \"{}\"", path.display()), e)
                })?;
                *left -= n as u64;
                data = &data[n..];
                if *left == 0 {
                    self.close_file()?;
                }
                continue;
            }
            if self.skip > 0 {
                let n = self.skip.min(data.len() as u64) as usize;
                self.skip -= n as u64;
                data = &data[n..];
                continue;
            }
            let n = (512 - self.header.len()).min(data.len());
            self.header.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.header.len() == 512 {
                let h = std::mem::take(&mut self.header);
                self.member(&h)?;
            }
        }
        Ok(())
    }

    fn close_file(&mut self) -> Result<()> {
        if let Some((f, path, mode, _)) = self.file.take() {
            let size = f
                .metadata()
                .map(|m| m.len())
                .map_err(|e| Error::io(format!("could not stat file \"{}\"", path.display()), e))?;
            f.set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(|e| {
                    Error::io(
                        format!("could not set permissions on file \"{}\"", path.display()),
                        e,
                    )
                })?;
            self.skip = crate::replication::basebackup::tar::padding(size) as u64;
        }
        Ok(())
    }

    /// One complete header block.
    fn member(&mut self, h: &[u8]) -> Result<()> {
        if h.iter().all(|b| *b == 0) {
            self.zero_blocks = self.zero_blocks.saturating_add(1);
            return Ok(());
        }
        if self.zero_blocks >= 2 {
            return Err(tar_error("tar file trailer exceeds 2 blocks"));
        }
        self.zero_blocks = 0;
        let mut name = cstr_field(&h[0..100]).to_vec();
        let prefix = cstr_field(&h[345..500]);
        if &h[257..262] == b"ustar" && !prefix.is_empty() {
            let mut full = prefix.to_vec();
            full.push(b'/');
            full.extend_from_slice(&name);
            name = full;
        }
        let mode = (octal(&h[100..108])? & 0o7777) as u32;
        let size = octal(&h[124..136])?;
        let kind = h[156];
        let name =
            String::from_utf8(name).map_err(|_| tar_error("tar member has unsafe path name"))?;
        let rel = name.trim_end_matches('/');
        let rel = rel.strip_prefix("./").unwrap_or(rel);
        if rel.is_empty() {
            return Err(tar_error("tar member has empty name"));
        }
        let rel_path = Path::new(rel);
        if rel_path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(tar_error(format!(
                "tar member has unsafe path name: \"{name}\""
            )));
        }
        let path = self.dir.join(rel_path);
        match kind {
            b'5' => {
                match std::fs::create_dir(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => {}
                    Err(e) => {
                        return Err(Error::io(
                            format!("could not create directory \"{}\"", path.display()),
                            e,
                        ))
                    }
                }
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).map_err(
                    |e| {
                        Error::io(
                            format!(
                                "could not set permissions on directory \"{}\"",
                                path.display()
                            ),
                            e,
                        )
                    },
                )?;
                self.skip = crate::replication::basebackup::tar::padding(size) as u64 + size;
            }
            b'0' | 0 => {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&path)
                    .map_err(|e| {
                        Error::io(format!("could not create file \"{}\"", path.display()), e)
                    })?;
                self.file = Some((f, path, mode, size));
                if size == 0 {
                    self.close_file()?;
                }
            }
            b'2' => {
                let target = String::from_utf8_lossy(cstr_field(&h[157..257])).to_string();
                std::os::unix::fs::symlink(&target, &path).map_err(|e| {
                    Error::io(
                        format!(
                            "could not create symbolic link from \"{}\" to \"{target}\"",
                            path.display()
                        ),
                        e,
                    )
                })?;
            }
            other => {
                return Err(tar_error(format!(
                    "tar member \"{name}\" has unsupported type '{}'",
                    other as char
                )))
            }
        }
        Ok(())
    }

    /// Checks that the archive ended where a member ended, with its trailer.
    pub fn finish(self) -> Result<()> {
        if self.file.is_some() || !self.header.is_empty() || self.skip > 0 {
            return Err(tar_error("COPY stream ended before last file was finished"));
        }
        if self.zero_blocks < 2 {
            return Err(tar_error("COPY stream ended before last file was finished"));
        }
        Ok(())
    }
}

/// The `-Xs` side: a second replication connection that streams WAL into `pg_wal/`
/// from the backup's start until the end LSN the archive connection learns.
struct WalStream {
    conninfo: Conninfo,
    slot: Option<String>,
    system_id: u64,
    timeline: u32,
    start: Lsn,
    opts: WalOptions,
}

impl WalStream {
    async fn run(self, mut end: watch::Receiver<Option<Lsn>>) -> Result<()> {
        let mut cl = connect_replication(&self.conninfo, "tusk standby").await?;
        let ident = single_row(&mut cl, "IDENTIFY_SYSTEM", "could not identify system").await?;
        let sysid = ident.first().cloned().flatten().unwrap_or_default();
        if sysid != self.system_id.to_string() {
            return Err(Error::new(
                sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE,
                "system identifier does not match between base backup and streaming connection",
            ));
        }
        let cmd = match &self.slot {
            Some(s) => format!(
                "START_REPLICATION SLOT {} PHYSICAL {} TIMELINE {}",
                quote_ident(s),
                self.start,
                self.timeline
            ),
            None => format!(
                "START_REPLICATION {} TIMELINE {}",
                self.start, self.timeline
            ),
        };
        cl.query(&cmd).await.map_err(lost)?;
        loop {
            let (tag, body) = cl.read().await.map_err(lost)?;
            match tag {
                b'W' => break,
                b'E' => {
                    return Err(server_error(
                        "could not send replication command \"START_REPLICATION\"",
                        &body,
                    ))
                }
                _ => {}
            }
        }
        let mut raw = RawWalWriter::new(&self.opts, self.start);
        let mut last_reply = Instant::now();
        loop {
            let end_lsn = *end.borrow();
            if let Some(e) = end_lsn {
                if raw.flush_lsn() >= e {
                    let _ = cl.send(Some(b'c'), &[]).await;
                    let _ = cl.send(Some(b'X'), &[]).await;
                    return Ok(());
                }
            }
            let msg = tokio::select! {
                m = cl.read() => Some(m),
                _ = end.changed() => None,
                _ = tokio::time::sleep(Duration::from_secs(1)) => None,
            };
            let mut reply = last_reply.elapsed() >= Duration::from_secs(10);
            if let Some(m) = msg {
                let (tag, body) = m.map_err(lost)?;
                match tag {
                    b'd' if body.first() == Some(&b'w') && body.len() >= 25 => {
                        let at = Lsn(be_u64(&body, 1));
                        raw.write(at, &body[25..])?;
                        raw.flush()?;
                        reply = true;
                    }
                    b'd' if body.first() == Some(&b'k') && body.len() >= 18 => {
                        reply |= body[17] != 0;
                    }
                    b'c' | b'C' => {
                        return Err(Error::new(
                            sqlstate::CONNECTION_FAILURE,
                            format!(
                                "replication stream ended at {} before the backup's end",
                                raw.flush_lsn()
                            ),
                        ))
                    }
                    b'E' => {
                        return Err(server_error(
                            "could not receive data from WAL stream",
                            &body,
                        ))
                    }
                    _ => {}
                }
            }
            if reply {
                let mut b = vec![b'r'];
                for l in [raw.write_lsn(), raw.flush_lsn(), Lsn(0)] {
                    b.extend_from_slice(&l.0.to_be_bytes());
                }
                b.extend_from_slice(&crate::types::now_micros().to_be_bytes());
                b.push(0);
                cl.copy_data(&b).await.map_err(lost)?;
                last_reply = Instant::now();
            }
        }
    }
}

fn be_u64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replication::basebackup::tar;

    fn member(name: &str, kind: tar::Kind, mode: u32, data: &[u8]) -> Vec<u8> {
        let mut v = tar::header(name.as_bytes(), kind, b"", data.len() as u64, mode, 0, 0, 0)
            .unwrap()
            .to_vec();
        v.extend_from_slice(data);
        v.extend(std::iter::repeat_n(0u8, tar::padding(data.len() as u64)));
        v
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tusk-untar-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn untar_extracts_in_any_chunking_with_modes() {
        let mut archive = member("global", tar::Kind::Directory, 0o700, b"");
        archive.extend(member(
            "global/pg_control",
            tar::Kind::File,
            0o600,
            &[7u8; 700],
        ));
        archive.extend(member("PG_VERSION", tar::Kind::File, 0o640, b"15\n"));
        archive.extend(member("empty", tar::Kind::File, 0o600, b""));
        archive.extend(member(
            "./pg_wal/archive_status",
            tar::Kind::Directory,
            0o700,
            b"",
        ));
        archive.extend([0u8; 1024]);
        for (k, chunk) in [1usize, 7, 511, 512, 1000, 100_000].into_iter().enumerate() {
            let d = tempdir(&format!("ok{k}"));
            std::fs::create_dir_all(d.join("pg_wal")).unwrap();
            let mut u = Untar::new(&d);
            for c in archive.chunks(chunk) {
                u.feed(c).unwrap();
            }
            u.finish().unwrap();
            assert_eq!(
                std::fs::read(d.join("global/pg_control")).unwrap(),
                vec![7u8; 700]
            );
            assert_eq!(std::fs::read(d.join("PG_VERSION")).unwrap(), b"15\n");
            assert_eq!(std::fs::read(d.join("empty")).unwrap(), b"");
            let mode =
                |p: &str| std::fs::metadata(d.join(p)).unwrap().permissions().mode() & 0o7777;
            assert_eq!(mode("global"), 0o700);
            assert_eq!(mode("PG_VERSION"), 0o640);
            assert_eq!(mode("global/pg_control"), 0o600);
            assert!(d.join("pg_wal/archive_status").is_dir());
            std::fs::remove_dir_all(&d).unwrap();
        }
    }

    #[test]
    fn untar_refuses_bad_streams() {
        let d = tempdir("bad");
        // Climbing out of the directory.
        let mut u = Untar::new(&d);
        let e = u
            .feed(&member("../evil", tar::Kind::File, 0o600, b"x"))
            .unwrap_err();
        assert_eq!(e.message, "tar member has unsafe path name: \"../evil\"");
        assert!(!d.parent().unwrap().join("evil").exists());
        let mut u = Untar::new(&d);
        let e = u
            .feed(&member("/abs", tar::Kind::File, 0o600, b"x"))
            .unwrap_err();
        assert!(
            e.message.starts_with("tar member has unsafe path name"),
            "{}",
            e.message
        );
        // A file whose directory was never sent.
        let mut u = Untar::new(&d);
        let e = u
            .feed(&member("nodir/f", tar::Kind::File, 0o600, b"x"))
            .unwrap_err();
        assert!(
            e.message.starts_with("could not create file"),
            "{}",
            e.message
        );
        // Cut in the middle of a file, or without the trailer.
        let m = member("f", tar::Kind::File, 0o600, &[1u8; 600]);
        let mut u = Untar::new(&d);
        u.feed(&m[..700]).unwrap();
        assert_eq!(
            u.finish().unwrap_err().message,
            "COPY stream ended before last file was finished"
        );
        let mut u = Untar::new(&d);
        u.feed(&m).unwrap();
        assert!(u.finish().is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn segment_sizes() {
        assert_eq!(parse_segment_size("16MB").unwrap(), 16 << 20);
        assert_eq!(parse_segment_size("1GB").unwrap(), 1 << 30);
        assert_eq!(parse_segment_size("1024kB").unwrap(), 1 << 20);
        assert_eq!(
            parse_segment_size("3MB").unwrap_err().message,
            "WAL segment size must be a power of two between 1 MB and 1 GB, but the remote server reported a value of 3145728 bytes"
        );
        assert_eq!(
            parse_segment_size("lots").unwrap_err().message,
            "WAL segment size could not be parsed"
        );
    }
}
