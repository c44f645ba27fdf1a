//! The frontend side of PostgreSQL's protocol, as tusk's replication clients speak it:
//! the walreceiver ([`super::walreceiver`]) and `tusk standby`'s base-backup client
//! ([`super::bootstrap`]).
//!
//! What it owns: one connection ([`Client`]: TCP or Unix socket, message framing with
//! bounds checks, cancellation-safe reads), the StartupMessage with the caller's
//! parameters, cleartext / MD5 / SCRAM-SHA-256 authentication as a client
//! ([`ScramClient`]), and decoding of ErrorResponse and DataRow bodies.
//!
//! Invariants: a malformed message from the server is an error, never a panic; a
//! connection that fails before ReadyForQuery is reported through the caller's
//! `fail` function, so each client keeps its own wording (the walreceiver prefixes
//! `could not connect to the primary server:`, `tusk standby` prints libpq's text as
//! pg_basebackup does).
//!
//! What it must never do: know what the connection is for (replication commands, WAL,
//! archives belong to its callers), or read files.
//!
//! One connection, step by step: 1. open the socket (`<dir>/.s.PGSQL.<port>` for a
//! host starting with `/`, else TCP with a 30 s limit); 2. send the StartupMessage
//! (protocol 3.0, `user` and the caller's parameters); 3. answer the authentication
//! requests; 4. return at the first ReadyForQuery.

use super::conninfo::Conninfo;
use crate::error::{Error, Result};
use base64::Engine as _;
use hmac::Mac;
use sha2::Digest;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How a failure to connect or authenticate is turned into the caller's error.
pub(crate) type ConnectFail<'a> = &'a (dyn Fn(&Conninfo, String) -> Error + Sync);

/// libpq's name for where a connection went: `connection to server at "h", port p
/// failed` or `connection to server on socket "…" failed`.
pub(crate) fn place(c: &Conninfo) -> String {
    if c.host.starts_with('/') {
        format!(
            "connection to server on socket \"{}/.s.PGSQL.{}\" failed",
            c.host, c.port
        )
    } else {
        format!(
            "connection to server at \"{}\", port {} failed",
            c.host, c.port
        )
    }
}

pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A frontend-protocol connection to the primary.
pub(crate) struct Client {
    io: Box<dyn Stream>,
    /// Bytes read but not yet returned as messages (reads are cancellation-safe: a
    /// timed-out read loses nothing).
    buf: bytes::BytesMut,
}

/// An ErrorResponse's fields.
pub(crate) fn error_fields(body: &[u8]) -> (String, String, Option<String>, String) {
    let (mut sev, mut msg, mut detail, mut code) =
        (String::new(), String::new(), None, String::new());
    for f in body.split(|b| *b == 0) {
        if f.is_empty() {
            continue;
        }
        let v = String::from_utf8_lossy(&f[1..]).to_string();
        match f[0] {
            b'S' => sev = v,
            b'M' => msg = v,
            b'D' => detail = Some(v),
            b'C' => code = v,
            _ => {}
        }
    }
    (sev, msg, detail, code)
}

impl Client {
    pub(crate) async fn send(&mut self, tag: Option<u8>, body: &[u8]) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(body.len() + 5);
        if let Some(t) = tag {
            buf.push(t);
        }
        buf.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        buf.extend_from_slice(body);
        self.io.write_all(&buf).await?;
        self.io.flush().await
    }

    pub(crate) async fn read(&mut self) -> std::io::Result<(u8, Vec<u8>)> {
        loop {
            if self.buf.len() >= 5 {
                let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]])
                    as usize;
                if !(4..=(1 << 30)).contains(&len) {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "invalid message length",
                    ));
                }
                if self.buf.len() > len {
                    let msg = self.buf.split_to(len + 1);
                    return Ok((msg[0], msg[5..].to_vec()));
                }
            }
            if self.io.read_buf(&mut self.buf).await? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "server closed the connection unexpectedly",
                ));
            }
        }
    }

    pub(crate) async fn query(&mut self, sql: &str) -> std::io::Result<()> {
        let mut b = sql.as_bytes().to_vec();
        b.push(0);
        self.send(Some(b'Q'), &b).await
    }

    pub(crate) async fn copy_data(&mut self, body: &[u8]) -> std::io::Result<()> {
        self.send(Some(b'd'), body).await
    }
}

pub(crate) fn cstr(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

/// Opens the connection, sends the StartupMessage (`user` and `params`), authenticates;
/// returns the client at ReadyForQuery. Failures before that go through
/// `connect_failed` with libpq's text of what went wrong.
pub(crate) async fn connect(
    c: &Conninfo,
    params: &[(&str, &str)],
    connect_failed: ConnectFail<'_>,
) -> Result<Client> {
    let io: Box<dyn Stream> = if c.host.starts_with('/') {
        let path = format!("{}/.s.PGSQL.{}", c.host, c.port);
        match tokio::net::UnixStream::connect(&path).await {
            Ok(s) => Box::new(s),
            Err(e) => return Err(connect_failed(c, e.to_string())),
        }
    } else {
        match tokio::time::timeout(
            Duration::from_secs(30),
            tokio::net::TcpStream::connect((c.host.as_str(), c.port)),
        )
        .await
        {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                Box::new(s)
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Err(connect_failed(
                    c,
                    "Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?".into(),
                ))
            }
            Ok(Err(e)) => return Err(connect_failed(c, e.to_string())),
            Err(_) => return Err(connect_failed(c, "timeout expired".into())),
        }
    };
    let mut cl = Client {
        io,
        buf: bytes::BytesMut::with_capacity(64 * 1024),
    };
    let mut sp = Vec::new();
    sp.extend_from_slice(&196608u32.to_be_bytes());
    for &(k, v) in [("user", c.user.as_str())].iter().chain(params) {
        cstr(&mut sp, k);
        cstr(&mut sp, v);
    }
    sp.push(0);
    let fail = |e: std::io::Error| connect_failed(c, e.to_string());
    cl.send(None, &sp).await.map_err(fail)?;
    let mut scram: Option<ScramClient> = None;
    loop {
        let (tag, body) = cl.read().await.map_err(fail)?;
        match tag {
            b'R' => {
                let code = u32::from_be_bytes(
                    body.get(0..4)
                        .and_then(|b| b.try_into().ok())
                        .unwrap_or([0xff; 4]),
                );
                let password = || {
                    c.password.clone().ok_or_else(|| {
                        connect_failed(c, "fe_sendauth: no password supplied".into())
                    })
                };
                match code {
                    0 => {}
                    3 => {
                        let mut b = Vec::new();
                        cstr(&mut b, &password()?);
                        cl.send(Some(b'p'), &b).await.map_err(fail)?;
                    }
                    5 => {
                        let salt = body.get(4..8).unwrap_or(&[]);
                        let inner = hex(&md5::Md5::digest(
                            format!("{}{}", password()?, c.user).as_bytes(),
                        ));
                        let mut h = md5::Md5::new();
                        h.update(inner.as_bytes());
                        h.update(salt);
                        let mut b = Vec::new();
                        cstr(&mut b, &format!("md5{}", hex(&h.finalize())));
                        cl.send(Some(b'p'), &b).await.map_err(fail)?;
                    }
                    10 => {
                        let mechs = String::from_utf8_lossy(&body[4..]).to_string();
                        if !mechs.split('\0').any(|m| m == "SCRAM-SHA-256") {
                            return Err(connect_failed(
                                c,
                                "none of the server's SASL authentication mechanisms are supported"
                                    .into(),
                            ));
                        }
                        let s = ScramClient::new(&password()?);
                        let first = s.client_first();
                        let mut b = Vec::new();
                        cstr(&mut b, "SCRAM-SHA-256");
                        b.extend_from_slice(&(first.len() as u32).to_be_bytes());
                        b.extend_from_slice(first.as_bytes());
                        cl.send(Some(b'p'), &b).await.map_err(fail)?;
                        scram = Some(s);
                    }
                    11 => {
                        let s = scram
                            .as_mut()
                            .ok_or_else(|| connect_failed(c, "unexpected SASL message".into()))?;
                        let fin = s
                            .client_final(&String::from_utf8_lossy(&body[4..]))
                            .map_err(|m| connect_failed(c, m))?;
                        cl.send(Some(b'p'), fin.as_bytes()).await.map_err(fail)?;
                    }
                    12 => {
                        let s = scram
                            .as_ref()
                            .ok_or_else(|| connect_failed(c, "unexpected SASL message".into()))?;
                        if !s.verify_server(&String::from_utf8_lossy(&body[4..])) {
                            return Err(connect_failed(c, "incorrect server signature".into()));
                        }
                    }
                    other => {
                        return Err(connect_failed(
                            c,
                            format!("authentication method {other} not supported"),
                        ))
                    }
                }
            }
            b'E' => {
                let (sev, msg, _, _) = error_fields(&body);
                return Err(connect_failed(c, format!("{sev}:  {msg}")));
            }
            b'Z' => return Ok(cl),
            _ => {}
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The client side of SCRAM-SHA-256 (RFC 5802/7677, no channel binding).
pub(crate) struct ScramClient {
    password: Vec<u8>,
    nonce: String,
    auth_message: String,
    salted: [u8; 32],
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

fn hmac256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().into()
}

impl ScramClient {
    pub(crate) fn new(password: &str) -> ScramClient {
        use rand::Rng;
        let raw: [u8; 18] = rand::thread_rng().gen();
        ScramClient {
            password: crate::auth::scram::saslprep(password),
            nonce: base64::engine::general_purpose::STANDARD.encode(raw),
            auth_message: String::new(),
            salted: [0; 32],
        }
    }

    pub(crate) fn client_first(&self) -> String {
        format!("n,,n=,r={}", self.nonce)
    }

    pub(crate) fn client_final(
        &mut self,
        server_first: &str,
    ) -> std::result::Result<String, String> {
        let mut r = None;
        let mut s = None;
        let mut i = None;
        for part in server_first.split(',') {
            match part.split_at_checked(2) {
                Some(("r=", v)) => r = Some(v.to_string()),
                Some(("s=", v)) => s = Some(v.to_string()),
                Some(("i=", v)) => i = v.parse::<u32>().ok(),
                _ => {}
            }
        }
        let (Some(r), Some(s), Some(i)) = (r, s, i) else {
            return Err("malformed SCRAM message".into());
        };
        if !r.starts_with(&self.nonce) {
            return Err("invalid SCRAM response (nonce mismatch)".into());
        }
        let salt = base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|_| "malformed SCRAM message".to_string())?;
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(&self.password, &salt, i, &mut self.salted);
        let client_key = hmac256(&self.salted, b"Client Key");
        let stored = sha2::Sha256::digest(client_key);
        let without_proof = format!("c=biws,r={r}");
        self.auth_message = format!("n=,r={},{server_first},{without_proof}", self.nonce);
        let sig = hmac256(&stored, self.auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(sig.iter())
            .map(|(a, b)| a ^ b)
            .collect();
        Ok(format!(
            "{without_proof},p={}",
            base64::engine::general_purpose::STANDARD.encode(proof)
        ))
    }

    pub(crate) fn verify_server(&self, server_final: &str) -> bool {
        let server_key = hmac256(&self.salted, b"Server Key");
        let expect = hmac256(&server_key, self.auth_message.as_bytes());
        server_final
            .strip_prefix("v=")
            .and_then(|v| {
                base64::engine::general_purpose::STANDARD
                    .decode(v.trim_end_matches('\0'))
                    .ok()
            })
            .is_some_and(|v| v == expect)
    }
}

/// The text values of a DataRow message (None when it is malformed).
pub(crate) fn parse_data_row(body: &[u8]) -> Option<Vec<Option<String>>> {
    let n = u16::from_be_bytes(body.get(0..2)?.try_into().ok()?) as usize;
    let mut p = 2;
    let mut row = Vec::with_capacity(n);
    for _ in 0..n {
        let len = i32::from_be_bytes(body.get(p..p + 4)?.try_into().ok()?);
        p += 4;
        if len < 0 {
            row.push(None);
        } else {
            let v = body.get(p..p + len as usize)?;
            row.push(Some(String::from_utf8_lossy(v).to_string()));
            p += len as usize;
        }
    }
    Some(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::scram::{secret, ScramExchange};

    #[test]
    fn scram_client_against_the_server_side() {
        let stored = secret("pa ss");
        let mut server = ScramExchange::new("repl", Some(&stored), false);
        let mut client = ScramClient::new("pa ss");
        let first = server
            .server_first(client.client_first().as_bytes())
            .unwrap();
        let fin = client
            .client_final(std::str::from_utf8(&first).unwrap())
            .unwrap();
        let server_final = server.server_final(fin.as_bytes()).unwrap();
        assert!(client.verify_server(std::str::from_utf8(&server_final).unwrap()));
        assert!(!client.verify_server("v=AAAA"));

        // A wrong password is refused by the server.
        let mut server = ScramExchange::new("repl", Some(&stored), false);
        let mut client = ScramClient::new("wrong");
        let first = server
            .server_first(client.client_first().as_bytes())
            .unwrap();
        let fin = client
            .client_final(std::str::from_utf8(&first).unwrap())
            .unwrap();
        assert!(server.server_final(fin.as_bytes()).is_err());
        // A server nonce not extending ours is refused by the client.
        assert!(ScramClient::new("x")
            .client_final("r=other,s=c2FsdA==,i=4096")
            .is_err());
    }

    #[test]
    fn data_rows_are_parsed_defensively() {
        let mut b = 2u16.to_be_bytes().to_vec();
        b.extend_from_slice(&3i32.to_be_bytes());
        b.extend_from_slice(b"abc");
        b.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            parse_data_row(&b),
            Some(vec![Some("abc".to_string()), None])
        );
        assert_eq!(parse_data_row(&b[..7]), None);
        assert_eq!(parse_data_row(&[]), None);
        let mut big = 1u16.to_be_bytes().to_vec();
        big.extend_from_slice(&100i32.to_be_bytes());
        assert_eq!(parse_data_row(&big), None);
    }
}
