//! Wire framing: reading frontend messages safely, writing backend messages.
//!
//! This file owns the bytes of the PostgreSQL v3 protocol once a connection is past its
//! first packet. Every frontend message is read as one frame (`type byte`, `int32
//! length`, body) whose length is checked against PostgreSQL's limits *before* any
//! allocation, then decoded by bounds-checked readers: a malformed or truncated body is a
//! protocol violation ([`Error`] with SQLSTATE 08P01), never a panic.
//!
//! Backend messages are encoded with the `pgwire` crate's message types (the project's
//! pinned wire library). Its *frontend* decoders are deliberately not used: they read
//! lengths from the client unchecked (a Bind announcing more bytes than it carries would
//! panic the task), and a panic reachable from a client is a bug.
//!
//! What this file must never do: interpret SQL, look at sessions, or block. It is pure
//! framing over an `AsyncRead`/`AsyncWrite` pair.
//!
//! A request, step by step:
//! 1. [`read_frame`] reads the type byte and the length, rejects lengths below 4 or above
//!    the per-type limit (PostgreSQL: 1 GB − 1 for Query, Parse, Bind, CopyData and
//!    password messages, 10000 bytes for the small control messages), then the body.
//! 2. [`FrontendMessage::decode`] turns the frame into a typed message.
//! 3. The connection loop answers with [`Writer`] calls that queue encoded messages; a
//!    [`Writer::flush`] sends them.

use bytes::{BufMut, BytesMut};
use pgwire::messages::data::{FieldDescription, ParameterDescription, RowDescription};
use pgwire::messages::response::{
    CommandComplete, ErrorResponse, NoticeResponse, ReadyForQuery, TransactionStatus,
};
use pgwire::messages::startup::{Authentication, BackendKeyData, ParameterStatus, SecretKey};
use pgwire::messages::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{sqlstate, Error, Result, Severity};
use crate::sql::FieldDesc;

/// PostgreSQL's limit for large messages (PQ_LARGE_MESSAGE_LIMIT: 1 GB − 1).
pub const LARGE_MESSAGE_LIMIT: usize = 0x3fff_ffff - 1;
/// PostgreSQL's limit for small control messages (PQ_SMALL_MESSAGE_LIMIT).
pub const SMALL_MESSAGE_LIMIT: usize = 10_000;

/// One decoded frontend message of the regular (post-startup) protocol.
#[derive(Debug, Clone, PartialEq)]
pub enum FrontendMessage {
    /// `Q`: a simple query string.
    Query(String),
    /// `P`: prepare `query` as statement `name` with the given parameter type OIDs.
    Parse {
        name: String,
        query: String,
        param_types: Vec<u32>,
    },
    /// `B`: bind statement to portal with parameters and format codes.
    Bind {
        portal: String,
        statement: String,
        param_formats: Vec<i16>,
        params: Vec<Option<Vec<u8>>>,
        result_formats: Vec<i16>,
    },
    /// `D`: describe a statement (`S`) or a portal (`P`).
    Describe { kind: u8, name: String },
    /// `E`: execute a portal for up to `max_rows` rows (0 = all).
    Execute { portal: String, max_rows: i32 },
    /// `C`: close a statement (`S`) or a portal (`P`).
    Close { kind: u8, name: String },
    /// `S`: end of an extended-protocol batch.
    Sync,
    /// `H`: flush pending output.
    Flush,
    /// `X`: the client is leaving.
    Terminate,
    /// `d`: COPY data.
    CopyData(Vec<u8>),
    /// `c`: COPY done.
    CopyDone,
    /// `f`: COPY failed with a message.
    CopyFail(String),
    /// `p`: a password, SASLInitialResponse or SASLResponse (meaning depends on the state).
    Password(Vec<u8>),
    /// `F`: a fast-path function call by OID (arguments read and checked, not kept).
    FunctionCall { oid: u32 },
}

/// The largest body a frontend message of type `tag` may have.
pub(crate) fn limit_for(tag: u8) -> Option<usize> {
    match tag {
        b'Q' | b'P' | b'B' | b'd' | b'p' | b'f' | b'F' => Some(LARGE_MESSAGE_LIMIT),
        b'D' | b'E' | b'C' | b'S' | b'H' | b'X' | b'c' => Some(SMALL_MESSAGE_LIMIT),
        _ => None,
    }
}

fn protocol_violation(message: impl Into<String>) -> Error {
    Error::fatal(sqlstate::PROTOCOL_VIOLATION, message)
}

/// Reads one frame. `Ok(None)` means the client closed the connection cleanly between
/// messages. Unknown types and bad lengths are FATAL protocol violations, with
/// PostgreSQL's texts.
pub async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Option<(u8, Vec<u8>)>> {
    let mut tag = [0u8; 1];
    match reader.read(&mut tag).await {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(e) if is_disconnect(&e) => return Ok(None),
        Err(e) => return Err(Error::io("could not receive data from client", e)),
    }
    let tag = tag[0];
    let Some(limit) = limit_for(tag) else {
        return Err(protocol_violation(format!(
            "invalid frontend message type {tag}"
        )));
    };
    let mut len = [0u8; 4];
    read_exact_or_eof(reader, &mut len).await?;
    let len = i32::from_be_bytes(len);
    if len < 4 || (len as usize - 4) > limit {
        return Err(protocol_violation("invalid message length"));
    }
    let mut body = vec![0u8; len as usize - 4];
    read_exact_or_eof(reader, &mut body).await?;
    Ok(Some((tag, body)))
}

fn is_disconnect(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionReset | BrokenPipe | UnexpectedEof | ConnectionAborted
    )
}

async fn read_exact_or_eof<R: AsyncRead + Unpin>(reader: &mut R, buf: &mut [u8]) -> Result<()> {
    match reader.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(protocol_violation(
            "unexpected EOF on client connection with an open transaction",
        )),
        Err(e) => Err(Error::io("could not receive data from client", e)),
    }
}

/// A bounds-checked reader over one message body.
pub struct BodyReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> BodyReader<'a> {
    /// Starts reading at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> BodyReader<'a> {
        BodyReader { buf, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() - self.pos < n {
            return Err(protocol_violation("insufficient data left in message"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Reads a big-endian i16.
    pub fn i16(&mut self) -> Result<i16> {
        Ok(i16::from_be_bytes(
            self.take(2)?.try_into().unwrap_or_default(),
        ))
    }

    /// Reads a big-endian i32.
    pub fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }

    /// Reads a NUL-terminated string (must be valid UTF-8).
    pub fn cstring(&mut self) -> Result<String> {
        let rest = &self.buf[self.pos..];
        let Some(nul) = rest.iter().position(|&b| b == 0) else {
            return Err(protocol_violation("invalid string in message"));
        };
        let s = std::str::from_utf8(&rest[..nul]).map_err(|_| {
            Error::new(
                sqlstate::CHARACTER_NOT_IN_REPERTOIRE,
                "invalid byte sequence for encoding \"UTF8\"",
            )
        })?;
        self.pos += nul + 1;
        Ok(s.to_string())
    }

    /// Reads `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<Vec<u8>> {
        Ok(self.take(n)?.to_vec())
    }

    /// Reads everything that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }

    /// Fails unless the whole body was consumed (PostgreSQL's pq_getmsgend).
    pub fn end(&self) -> Result<()> {
        if self.pos != self.buf.len() {
            return Err(protocol_violation("invalid message format"));
        }
        Ok(())
    }

    fn count(&mut self) -> Result<usize> {
        let n = self.i16()?;
        if n < 0 {
            return Err(protocol_violation("invalid message format"));
        }
        Ok(n as usize)
    }
}

impl FrontendMessage {
    /// Decodes a frame read by [`read_frame`].
    pub fn decode(tag: u8, body: &[u8]) -> Result<FrontendMessage> {
        let mut r = BodyReader::new(body);
        let msg = match tag {
            b'Q' => FrontendMessage::Query(r.cstring()?),
            b'P' => {
                let name = r.cstring()?;
                let query = r.cstring()?;
                let n = r.count()?;
                let mut param_types = Vec::with_capacity(n.min(body.len() / 4));
                for _ in 0..n {
                    param_types.push(r.i32()? as u32);
                }
                FrontendMessage::Parse {
                    name,
                    query,
                    param_types,
                }
            }
            b'B' => {
                let portal = r.cstring()?;
                let statement = r.cstring()?;
                let nf = r.count()?;
                let mut param_formats = Vec::with_capacity(nf.min(body.len() / 2));
                for _ in 0..nf {
                    param_formats.push(r.i16()?);
                }
                let np = r.count()?;
                let mut params = Vec::with_capacity(np.min(body.len() / 4));
                for _ in 0..np {
                    let len = r.i32()?;
                    if len == -1 {
                        params.push(None);
                    } else if len < 0 {
                        return Err(protocol_violation(format!(
                            "invalid length {len} in bind parameter"
                        )));
                    } else {
                        params.push(Some(r.bytes(len as usize)?));
                    }
                }
                let nr = r.count()?;
                let mut result_formats = Vec::with_capacity(nr.min(body.len() / 2));
                for _ in 0..nr {
                    result_formats.push(r.i16()?);
                }
                FrontendMessage::Bind {
                    portal,
                    statement,
                    param_formats,
                    params,
                    result_formats,
                }
            }
            b'D' | b'C' => {
                let kind = r.take(1)?[0];
                if kind != b'S' && kind != b'P' {
                    let what = if tag == b'D' { "describe" } else { "close" };
                    return Err(protocol_violation(format!(
                        "invalid {what} message subtype {kind}"
                    )));
                }
                let name = r.cstring()?;
                if tag == b'D' {
                    FrontendMessage::Describe { kind, name }
                } else {
                    FrontendMessage::Close { kind, name }
                }
            }
            b'E' => {
                let portal = r.cstring()?;
                let max_rows = r.i32()?;
                FrontendMessage::Execute { portal, max_rows }
            }
            b'S' => FrontendMessage::Sync,
            b'H' => FrontendMessage::Flush,
            b'X' => FrontendMessage::Terminate,
            b'd' => FrontendMessage::CopyData(r.rest().to_vec()),
            b'c' => FrontendMessage::CopyDone,
            b'f' => FrontendMessage::CopyFail(r.cstring()?),
            b'p' => FrontendMessage::Password(r.rest().to_vec()),
            b'F' => {
                let oid = r.i32()? as u32;
                let nf = r.count()?;
                for _ in 0..nf {
                    r.i16()?;
                }
                let na = r.count()?;
                for _ in 0..na {
                    let len = r.i32()?;
                    if len > 0 {
                        r.bytes(len as usize)?;
                    } else if len < -1 {
                        return Err(protocol_violation(format!(
                            "invalid argument size {len} in function call message"
                        )));
                    }
                }
                r.i16()?;
                FrontendMessage::FunctionCall { oid }
            }
            other => {
                return Err(protocol_violation(format!(
                    "invalid frontend message type {other}"
                )))
            }
        };
        r.end()?;
        Ok(msg)
    }
}

/// The first capacity of [`Writer::for_replies`]: a RowDescription, a few rows,
/// CommandComplete and ReadyForQuery.
const REPLY_CAPACITY: usize = 512;

/// Queues encoded backend messages; [`Writer::flush`] sends them in one write.
pub struct Writer {
    buf: BytesMut,
}

impl Default for Writer {
    fn default() -> Self {
        Writer::new()
    }
}

impl Writer {
    /// An empty output queue. It allocates on its first message: many are made and
    /// dropped empty (one per CopyData message of a COPY FROM, for instance).
    pub fn new() -> Writer {
        Writer {
            buf: BytesMut::new(),
        }
    }

    /// An output queue with room for a statement's usual replies, so that queuing
    /// them does not grow the buffer message by message.
    pub fn for_replies() -> Writer {
        Writer {
            buf: BytesMut::with_capacity(REPLY_CAPACITY),
        }
    }

    fn put<M: Message>(&mut self, m: M) {
        // Backend messages tusk builds are always within pgwire's limits except huge
        // rows, whose limit (i32::MAX) PostgreSQL shares.
        if let Err(e) = m.encode(&mut self.buf) {
            tracing::error!("could not encode a backend message: {e}");
        }
    }

    /// Bytes queued and not yet flushed.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Moves everything queued in `other` to the end of this queue.
    pub fn append(&mut self, other: Writer) {
        self.buf.extend_from_slice(&other.buf);
    }

    /// Queues raw bytes (a one-byte SSL answer, say).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.put_slice(bytes);
    }

    /// Queues an Authentication request.
    pub fn auth(&mut self, a: Authentication) {
        self.put(a);
    }

    /// Queues a ParameterStatus.
    pub fn parameter_status(&mut self, name: &str, value: &str) {
        self.put(ParameterStatus::new(name.to_string(), value.to_string()));
    }

    /// Queues BackendKeyData.
    pub fn backend_key(&mut self, pid: i32, secret: i32) {
        self.put(BackendKeyData::new(pid, SecretKey::I32(secret)));
    }

    /// Queues ReadyForQuery with the given status byte (`I`, `T` or `E`).
    pub fn ready(&mut self, status: u8) {
        let s = match status {
            b'T' => TransactionStatus::Transaction,
            b'E' => TransactionStatus::Error,
            _ => TransactionStatus::Idle,
        };
        self.put(ReadyForQuery::new(s));
    }

    /// Queues an ErrorResponse, or a NoticeResponse for NOTICE/WARNING severities.
    pub fn error(&mut self, e: &Error) {
        let mut fields = vec![
            (b'S', e.severity.as_str().to_string()),
            (b'V', e.severity.as_str().to_string()),
            (b'C', e.code.to_string()),
            (b'M', e.message.clone()),
        ];
        if let Some(d) = &e.detail {
            fields.push((b'D', d.clone()));
        }
        if let Some(h) = &e.hint {
            fields.push((b'H', h.clone()));
        }
        if let Some(p) = e.position {
            fields.push((b'P', p.to_string()));
        }
        if let Some(w) = &e.context {
            fields.push((b'W', w.to_string()));
        }
        if let Some(o) = &e.objects {
            for (tag, v) in [
                (b's', &o.schema),
                (b't', &o.table),
                (b'c', &o.column),
                (b'd', &o.datatype),
                (b'n', &o.constraint),
            ] {
                if let Some(v) = v {
                    fields.push((tag, v.clone()));
                }
            }
        }
        if e.severity <= Severity::Warning {
            self.put(NoticeResponse::new(fields));
        } else {
            self.put(ErrorResponse::new(fields));
        }
    }

    /// Queues a RowDescription; `formats` gives each column's format code (empty = text).
    pub fn row_description(&mut self, columns: &[FieldDesc], formats: &[i16]) {
        let fields = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                FieldDescription::new(
                    c.name.clone(),
                    c.table_oid as i32,
                    c.column_id,
                    c.type_oid,
                    c.type_len,
                    c.typmod,
                    format_for(formats, i),
                )
            })
            .collect();
        self.put(RowDescription::new(fields));
    }

    /// Queues a DataRow of already-encoded values (None = NULL).
    pub fn data_row(&mut self, values: &[Option<Vec<u8>>]) {
        self.data_row_of(values.iter().map(|v| v.as_deref()));
    }

    /// Queues a DataRow of the values `values` yields (None = NULL), each written
    /// straight into the queue: no row of encoded values is gathered first, and no
    /// message is built apart and copied in (a result of many rows made three
    /// allocations a row that way).
    pub fn data_row_of<V: AsRef<[u8]>>(
        &mut self,
        values: impl ExactSizeIterator<Item = Option<V>>,
    ) {
        let start = self.buf.len();
        self.buf.put_u8(b'D');
        self.buf.put_i32(0); // the length, set below
        self.buf.put_i16(values.len() as i16);
        for v in values {
            match v {
                Some(v) => {
                    let v = v.as_ref();
                    self.buf.put_i32(v.len() as i32);
                    self.buf.put_slice(v);
                }
                None => self.buf.put_i32(-1),
            }
        }
        match i32::try_from(self.buf.len() - start - 1) {
            Ok(len) => self.buf[start + 1..start + 5].copy_from_slice(&len.to_be_bytes()),
            Err(_) => {
                // As `put` does with a message beyond the protocol's limit.
                self.buf.truncate(start);
                tracing::error!("could not encode a backend message: a row of more than 2 GB");
            }
        }
    }

    /// Queues a CommandComplete with the given tag.
    pub fn command_complete(&mut self, tag: &str) {
        self.put(CommandComplete::new(tag.to_string()));
    }

    /// Queues a CopyInResponse for COPY FROM STDIN of `columns` columns (text or binary).
    pub fn copy_in_response(&mut self, columns: usize, binary: bool) {
        self.buf.put_u8(b'G');
        self.buf.put_i32(4 + 1 + 2 + 2 * columns as i32);
        self.buf.put_i8(binary as i8);
        self.buf.put_i16(columns as i16);
        for _ in 0..columns {
            self.buf.put_i16(binary as i16);
        }
    }

    /// Queues a CopyOutResponse: overall format (0 text, 1 binary) and each column's.
    pub fn copy_out_response(&mut self, columns: usize, binary: bool) {
        self.buf.put_u8(b'H');
        self.buf.put_i32(4 + 1 + 2 + 2 * columns as i32);
        self.buf.put_i8(binary as i8);
        self.buf.put_i16(columns as i16);
        for _ in 0..columns {
            self.buf.put_i16(binary as i16);
        }
    }

    /// Queues one CopyData message.
    pub fn copy_data(&mut self, data: &[u8]) {
        self.buf.put_u8(b'd');
        self.buf.put_i32(4 + data.len() as i32);
        self.buf.put_slice(data);
    }

    /// Queues CopyDone.
    pub fn copy_done(&mut self) {
        self.buf.put_u8(b'c');
        self.buf.put_i32(4);
    }

    /// Queues a ParameterDescription.
    pub fn parameter_description(&mut self, types: &[u32]) {
        self.put(ParameterDescription::new(types.to_vec()));
    }

    /// Queues a message that has no body: `1` ParseComplete, `2` BindComplete,
    /// `3` CloseComplete, `n` NoData, `s` PortalSuspended, `I` EmptyQueryResponse.
    pub fn empty_message(&mut self, tag: u8) {
        self.buf.put_u8(tag);
        self.buf.put_i32(4);
    }

    /// Writes everything queued.
    pub async fn flush<W: AsyncWrite + Unpin>(&mut self, w: &mut W) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            w.write_all(&self.buf).await?;
            self.buf.clear();
        }
        w.flush().await
    }
}

/// The format code of column `i` given a Bind's result format list (PostgreSQL: none =
/// all text, one = for all, else one per column).
pub fn format_for(formats: &[i16], i: usize) -> i16 {
    match formats.len() {
        0 => 0,
        1 => formats[0],
        _ => formats.get(i).copied().unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_with_lying_lengths_is_an_error_not_a_panic() {
        // portal "", statement "", 0 formats, 1 param claiming 1000 bytes but carrying 2.
        let mut body = vec![0u8, 0u8, 0, 0, 0, 1];
        body.extend_from_slice(&1000i32.to_be_bytes());
        body.extend_from_slice(b"ab");
        let e = FrontendMessage::decode(b'B', &body).unwrap_err();
        assert_eq!(e.code, sqlstate::PROTOCOL_VIOLATION);
        let e = FrontendMessage::decode(b'B', &[0u8]).unwrap_err();
        assert_eq!(e.code, sqlstate::PROTOCOL_VIOLATION);
    }

    #[test]
    fn parse_and_bind_round_trip() {
        let mut body = b"s1\0select $1\0".to_vec();
        body.extend_from_slice(&1i16.to_be_bytes());
        body.extend_from_slice(&23i32.to_be_bytes());
        let m = FrontendMessage::decode(b'P', &body).unwrap();
        assert_eq!(
            m,
            FrontendMessage::Parse {
                name: "s1".into(),
                query: "select $1".into(),
                param_types: vec![23]
            }
        );
        let mut body = b"\0s1\0".to_vec();
        body.extend_from_slice(&0i16.to_be_bytes());
        body.extend_from_slice(&2i16.to_be_bytes());
        body.extend_from_slice(&1i32.to_be_bytes());
        body.push(b'7');
        body.extend_from_slice(&(-1i32).to_be_bytes());
        body.extend_from_slice(&0i16.to_be_bytes());
        let m = FrontendMessage::decode(b'B', &body).unwrap();
        assert_eq!(
            m,
            FrontendMessage::Bind {
                portal: "".into(),
                statement: "s1".into(),
                param_formats: vec![],
                params: vec![Some(b"7".to_vec()), None],
                result_formats: vec![],
            }
        );
    }

    #[test]
    fn trailing_garbage_and_bad_subtypes_are_rejected() {
        assert!(FrontendMessage::decode(b'Q', b"select 1\0junk").is_err());
        assert!(FrontendMessage::decode(b'D', b"Xname\0").is_err());
        assert!(FrontendMessage::decode(b'Q', b"no terminator").is_err());
        assert!(FrontendMessage::decode(b'Z', b"").is_err());
    }

    #[tokio::test]
    async fn frames_are_length_checked_before_allocation() {
        let mut input: &[u8] = &[b'Q', 0x7f, 0xff, 0xff, 0xff];
        let e = read_frame(&mut input).await.unwrap_err();
        assert_eq!(e.message, "invalid message length");
        let mut input: &[u8] = &[b'S', 0, 0, 0, 2];
        assert!(read_frame(&mut input).await.is_err());
        let mut input: &[u8] = &[b'!', 0, 0, 0, 4];
        let e = read_frame(&mut input).await.unwrap_err();
        assert_eq!(e.message, "invalid frontend message type 33");
        let mut input: &[u8] = &[];
        assert!(read_frame(&mut input).await.unwrap().is_none());
        let mut input: &[u8] = &[b'S', 0, 0, 0, 4];
        assert_eq!(read_frame(&mut input).await.unwrap(), Some((b'S', vec![])));
    }
}
