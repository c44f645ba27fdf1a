//! Connection start-up: the first packet, TLS negotiation, and authentication.
//!
//! This file owns everything between `accept()` and AuthenticationOk, with the bytes and
//! texts `shared/reference/startup-and-auth.md` records:
//! 1. [`read_first_packet`] reads the untyped first packet (at most 10000 bytes, at least
//!    8): SSLRequest, GSSENCRequest, CancelRequest or StartupMessage. A bad length is
//!    logged and the socket closed without an answer, as PostgreSQL does.
//! 2. SSLRequest gets `S` (then a rustls handshake) when `ssl = on` on a TCP connection,
//!    else `N`; GSSENCRequest always gets `N`. Either may be followed by another first
//!    packet on the same socket.
//! 3. The StartupMessage's parameters become [`StartupParams`]; protocol 3.x minor
//!    versions above 0 and `_pq_.` options get a NegotiateProtocolVersion.
//! 4. [`authenticate`] runs the pg_hba method the first matching line names: trust,
//!    reject, password, md5 (silently SCRAM when the stored secret is SCRAM), scram-sha-256
//!    (a mock exchange when the role or its SCRAM secret is missing), peer.
//!
//! What this file must never do: touch sessions or SQL. Failures are FATAL [`Error`]s
//! that the caller sends and then closes the connection.

use std::net::IpAddr;

use rand::RngCore;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::auth;
use crate::config::hba::{AuthMethod, HbaLine};
use crate::error::{sqlstate, Error, Result};
use crate::storage::RoleInfo;

use super::protocol::{read_frame, BodyReader, Writer};
use super::Stream;

/// PostgreSQL's MAX_STARTUP_PACKET_LENGTH.
const MAX_STARTUP_PACKET: usize = 10_000;
const SSL_REQUEST_CODE: u32 = 80_877_103;
const GSS_REQUEST_CODE: u32 = 80_877_104;
const CANCEL_REQUEST_CODE: u32 = 80_877_102;

/// The untyped first packet of a connection.
#[derive(Debug, PartialEq, Eq)]
pub enum FirstPacket {
    /// SSLRequest.
    Ssl,
    /// GSSENCRequest.
    Gss,
    /// CancelRequest for backend `pid` with its secret `key`.
    Cancel { pid: i32, key: i32 },
    /// StartupMessage with the protocol version and its parameters.
    Startup {
        version: u32,
        params: Vec<(String, String)>,
    },
    /// The client closed the socket before sending anything.
    Closed,
}

/// Reads the first packet. Bad lengths and malformed contents are errors whose message
/// is the log line PostgreSQL writes (the client gets nothing back for those).
pub async fn read_first_packet<R: AsyncRead + Unpin>(r: &mut R) -> Result<FirstPacket> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]).await {
            Ok(0) if got == 0 => return Ok(FirstPacket::Closed),
            Ok(0) => return Err(bad_startup("incomplete startup packet")),
            Ok(n) => got += n,
            Err(_) => return Ok(FirstPacket::Closed),
        }
    }
    let len = u32::from_be_bytes(len) as usize;
    if !(8..=MAX_STARTUP_PACKET).contains(&len) {
        return Err(bad_startup("invalid length of startup packet"));
    }
    let mut body = vec![0u8; len - 4];
    r.read_exact(&mut body)
        .await
        .map_err(|_| bad_startup("incomplete startup packet"))?;
    let code = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
    match code {
        SSL_REQUEST_CODE if len == 8 => Ok(FirstPacket::Ssl),
        GSS_REQUEST_CODE if len == 8 => Ok(FirstPacket::Gss),
        CANCEL_REQUEST_CODE if len == 16 => {
            let mut b = BodyReader::new(&body[4..]);
            Ok(FirstPacket::Cancel {
                pid: b.i32()?,
                key: b.i32()?,
            })
        }
        _ => {
            let major = code >> 16;
            let minor = code & 0xffff;
            if major != 3 {
                return Err(Error::fatal(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    format!(
                        "unsupported frontend protocol {major}.{minor}: server supports 3.0 to 3.0"
                    ),
                ));
            }
            let params = parse_startup_params(&body[4..])?;
            Ok(FirstPacket::Startup {
                version: code,
                params,
            })
        }
    }
}

fn bad_startup(message: &str) -> Error {
    Error::fatal(sqlstate::PROTOCOL_VIOLATION, message)
}

/// Parses `name\0value\0…\0` pairs.
fn parse_startup_params(mut b: &[u8]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let next = |b: &mut &[u8]| -> Result<Option<String>> {
        let Some(nul) = b.iter().position(|&c| c == 0) else {
            return Err(bad_startup(
                "invalid startup packet layout: expected terminator as last byte",
            ));
        };
        let s = String::from_utf8(b[..nul].to_vec()).map_err(|_| {
            Error::fatal(
                sqlstate::CHARACTER_NOT_IN_REPERTOIRE,
                "invalid byte sequence for encoding \"UTF8\"",
            )
        })?;
        *b = &b[nul + 1..];
        Ok(Some(s))
    };
    loop {
        let name = next(&mut b)?.unwrap_or_default();
        if name.is_empty() {
            break;
        }
        let value = next(&mut b)?.unwrap_or_default();
        out.push((name, value));
    }
    if !b.is_empty() {
        return Err(bad_startup(
            "invalid startup packet layout: expected terminator as last byte",
        ));
    }
    Ok(out)
}

/// What the StartupMessage asked for.
#[derive(Debug, Default, Clone)]
pub struct StartupParams {
    /// The role name (`user`).
    pub user: String,
    /// The database name (`database`, defaulting to the user name).
    pub database: String,
    /// `replication=true` (physical) or `database` (logical); `None` for a normal session.
    pub replication: Option<ReplicationMode>,
    /// Every other parameter: GUC settings, in the order sent (`options` expanded later).
    pub settings: Vec<(String, String)>,
    /// The raw `options` string, if any.
    pub options: Option<String>,
    /// `_pq_.` protocol options the server does not know.
    pub unknown_protocol_options: Vec<String>,
}

/// The kind of replication connection requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicationMode {
    /// `replication=true`/`on`/`yes`/`1`: the physical replication protocol.
    Physical,
    /// `replication=database`: replication commands plus SQL, bound to a database.
    Database,
}

impl StartupParams {
    /// Sorts the raw parameters into their roles, with PostgreSQL's errors.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<StartupParams> {
        let mut p = StartupParams::default();
        let mut database = None;
        for (name, value) in pairs {
            match name.as_str() {
                "user" => p.user = value,
                "database" => database = Some(value),
                "options" => p.options = Some(value),
                "replication" => {
                    p.replication = match value.to_ascii_lowercase().as_str() {
                        "database" => Some(ReplicationMode::Database),
                        "true" | "on" | "yes" | "1" => Some(ReplicationMode::Physical),
                        "false" | "off" | "no" | "0" => None,
                        _ => {
                            return Err(Error::fatal(
                                sqlstate::INVALID_PARAMETER_VALUE,
                                format!("invalid value for parameter \"replication\": \"{value}\""),
                            )
                            .with_hint(
                                "Valid values are: \"false\", 0, \"true\", 1, \"database\".",
                            ))
                        }
                    }
                }
                n if n.starts_with("_pq_.") => p.unknown_protocol_options.push(name),
                _ => p.settings.push((name, value)),
            }
        }
        if p.user.is_empty() {
            return Err(Error::fatal(
                sqlstate::INVALID_AUTHORIZATION_SPECIFICATION,
                "no PostgreSQL user name specified in startup packet",
            ));
        }
        p.database = match database {
            Some(d) if !d.is_empty() => d,
            _ => p.user.clone(),
        };
        Ok(p)
    }
}

/// Where a connection comes from, as pg_hba and the log messages need it.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The client's IP address, `None` for a Unix socket.
    pub addr: Option<IpAddr>,
    /// The client's TCP port (0 for a Unix socket).
    pub port: u16,
    /// The connecting process's uid on a Unix socket (for peer authentication).
    pub uid: Option<u32>,
    /// Whether the connection is encrypted with TLS.
    pub ssl: bool,
}

impl Peer {
    /// `127.0.0.1` or `[local]`, as PostgreSQL prints the host in messages.
    pub fn host(&self) -> String {
        match self.addr {
            Some(a) => a.to_string(),
            None => "[local]".to_string(),
        }
    }

    fn encryption(&self) -> &'static str {
        if self.ssl {
            "SSL encryption"
        } else {
            "no encryption"
        }
    }
}

/// The FATAL error for a connection no pg_hba.conf line matches.
pub fn no_hba_entry(peer: &Peer, p: &StartupParams) -> Error {
    let msg = if p.replication == Some(ReplicationMode::Physical) {
        format!(
            "no pg_hba.conf entry for replication connection from host \"{}\", user \"{}\", {}",
            peer.host(),
            p.user,
            peer.encryption()
        )
    } else {
        format!(
            "no pg_hba.conf entry for host \"{}\", user \"{}\", database \"{}\", {}",
            peer.host(),
            p.user,
            p.database,
            peer.encryption()
        )
    };
    Error::fatal(sqlstate::INVALID_AUTHORIZATION_SPECIFICATION, msg)
}

fn rejected(peer: &Peer, p: &StartupParams) -> Error {
    let msg = if p.replication == Some(ReplicationMode::Physical) {
        format!(
            "pg_hba.conf rejects replication connection for host \"{}\", user \"{}\", {}",
            peer.host(),
            p.user,
            peer.encryption()
        )
    } else {
        format!(
            "pg_hba.conf rejects connection for host \"{}\", user \"{}\", database \"{}\", {}",
            peer.host(),
            p.user,
            p.database,
            peer.encryption()
        )
    };
    Error::fatal(sqlstate::INVALID_AUTHORIZATION_SPECIFICATION, msg)
}

fn password_failed(user: &str, line: &HbaLine, why: &str) -> Error {
    Error::fatal(
        sqlstate::INVALID_PASSWORD,
        format!("password authentication failed for user \"{user}\""),
    )
    .with_detail(format!(
        "{why}\nConnection matched pg_hba.conf line {}: \"{}\"",
        line.line_number,
        line.raw.trim()
    ))
}

/// The outcome of an authentication exchange that did not fail.
pub enum AuthOutcome {
    /// Authenticated: send AuthenticationOk and continue.
    Ok,
    /// The client hung up mid-exchange (psql does this to prompt for a password).
    ClientLeft,
}

/// The stored secret of a role usable for password authentication now (none when the
/// role is missing, has no password, or its VALID UNTIL has passed).
fn usable_secret(user: &str, role: Option<&RoleInfo>) -> (Option<String>, String) {
    let Some(role) = role else {
        return (None, format!("Role \"{user}\" does not exist."));
    };
    let Some(secret) = role.password.clone().filter(|s| !s.is_empty()) else {
        return (None, format!("User \"{user}\" has no password assigned."));
    };
    if let Some(until) = role.valid_until {
        if until < crate::types::now_micros() {
            return (None, format!("User \"{user}\" has an expired password."));
        }
    }
    (Some(secret), String::new())
}

/// Runs the authentication method of the matched pg_hba line.
pub async fn authenticate(
    io: &mut Box<dyn Stream>,
    w: &mut Writer,
    line: &HbaLine,
    params: &StartupParams,
    peer: &Peer,
    role: Option<&RoleInfo>,
    password_encryption: &str,
) -> Result<AuthOutcome> {
    let user = params.user.as_str();
    match line.method {
        AuthMethod::Trust => Ok(AuthOutcome::Ok),
        AuthMethod::Reject => Err(rejected(peer, params)),
        AuthMethod::Peer => {
            let os_user = peer.uid.and_then(user_name_of_uid);
            match os_user {
                Some(name) if name == user => Ok(AuthOutcome::Ok),
                _ => Err(Error::fatal(
                    sqlstate::INVALID_AUTHORIZATION_SPECIFICATION,
                    format!("Peer authentication failed for user \"{user}\""),
                )),
            }
        }
        AuthMethod::Ident => Err(Error::fatal(
            sqlstate::INVALID_AUTHORIZATION_SPECIFICATION,
            format!("Ident authentication failed for user \"{user}\""),
        )
        .with_detail("tusk does not support ident authentication.")),
        AuthMethod::Password => {
            w.auth(pgwire::messages::startup::Authentication::CleartextPassword);
            w.flush(io)
                .await
                .map_err(|e| Error::io("could not send data to client", e))?;
            let Some(body) = read_password_message(io).await? else {
                return Ok(AuthOutcome::ClientLeft);
            };
            let password = BodyReader::new(&body).cstring()?;
            let (secret, why) = usable_secret(user, role);
            match secret {
                Some(s) if auth::verify_cleartext(user, &s, &password) => Ok(AuthOutcome::Ok),
                Some(_) => Err(password_failed(
                    user,
                    line,
                    &format!("Password does not match for user \"{user}\"."),
                )),
                None => Err(password_failed(user, line, &why)),
            }
        }
        AuthMethod::Md5 | AuthMethod::ScramSha256 => {
            let (secret, why) = usable_secret(user, role);
            let kind = match &secret {
                Some(s) => auth::secret_kind(s),
                None if password_encryption == "md5" => auth::SecretKind::Md5,
                None => auth::SecretKind::Scram,
            };
            if line.method == AuthMethod::Md5 && matches!(kind, auth::SecretKind::Md5) {
                md5_exchange(io, w, user, secret.as_deref(), line, &why).await
            } else {
                let scram_secret =
                    secret.filter(|s| matches!(auth::secret_kind(s), auth::SecretKind::Scram));
                let why = if scram_secret.is_none() && why.is_empty() {
                    format!("User \"{user}\" does not have a valid SCRAM secret.")
                } else {
                    why
                };
                scram_exchange(io, w, user, scram_secret.as_deref(), peer.ssl, line, &why).await
            }
        }
    }
}

async fn md5_exchange(
    io: &mut Box<dyn Stream>,
    w: &mut Writer,
    user: &str,
    secret: Option<&str>,
    line: &HbaLine,
    why: &str,
) -> Result<AuthOutcome> {
    let mut salt = [0u8; 4];
    rand::thread_rng().fill_bytes(&mut salt);
    w.auth(pgwire::messages::startup::Authentication::MD5Password(
        salt.to_vec(),
    ));
    w.flush(io)
        .await
        .map_err(|e| Error::io("could not send data to client", e))?;
    let Some(body) = read_password_message(io).await? else {
        return Ok(AuthOutcome::ClientLeft);
    };
    let response = BodyReader::new(&body).cstring()?;
    match secret {
        Some(s) if auth::md5::verify_response(s, salt, &response) => Ok(AuthOutcome::Ok),
        Some(_) => Err(password_failed(
            user,
            line,
            &format!("Password does not match for user \"{user}\"."),
        )),
        None => Err(password_failed(user, line, why)),
    }
}

async fn scram_exchange(
    io: &mut Box<dyn Stream>,
    w: &mut Writer,
    user: &str,
    secret: Option<&str>,
    ssl: bool,
    line: &HbaLine,
    why: &str,
) -> Result<AuthOutcome> {
    use pgwire::messages::startup::Authentication;
    // Over TLS, SCRAM-SHA-256-PLUS (channel binding to the server's certificate) is
    // offered first, as PostgreSQL does.
    let end_point = if ssl {
        super::tls::server_end_point()
    } else {
        None
    };
    let mut mechanisms = Vec::new();
    if end_point.is_some() {
        mechanisms.push("SCRAM-SHA-256-PLUS".to_string());
    }
    mechanisms.push("SCRAM-SHA-256".to_string());
    w.auth(Authentication::SASL(mechanisms));
    w.flush(io)
        .await
        .map_err(|e| Error::io("could not send data to client", e))?;
    let Some(body) = read_password_message(io).await? else {
        return Ok(AuthOutcome::ClientLeft);
    };
    let mut r = BodyReader::new(&body);
    let mechanism = r.cstring()?;
    let plus = mechanism == "SCRAM-SHA-256-PLUS" && end_point.is_some();
    if mechanism != "SCRAM-SHA-256" && !plus {
        return Err(Error::fatal(
            sqlstate::PROTOCOL_VIOLATION,
            "client selected an invalid SASL authentication mechanism",
        ));
    }
    let len = r.i32()?;
    let data = if len < 0 {
        Vec::new()
    } else {
        r.bytes(len as usize)?
    };
    let mut exchange = auth::scram::ScramExchange::new(user, secret, end_point.is_some());
    if let (true, Some(e)) = (plus, end_point) {
        exchange.bind_to(e);
    }
    let first = exchange.server_first(&data).map_err(fatal)?;
    w.auth(Authentication::SASLContinue(first.into()));
    w.flush(io)
        .await
        .map_err(|e| Error::io("could not send data to client", e))?;
    let Some(body) = read_password_message(io).await? else {
        return Ok(AuthOutcome::ClientLeft);
    };
    match exchange.server_final(&body) {
        Ok(final_message) if secret.is_some() => {
            w.auth(Authentication::SASLFinal(final_message.into()));
            Ok(AuthOutcome::Ok)
        }
        Ok(_) => Err(password_failed(user, line, why)),
        Err(e) if e.code == sqlstate::INVALID_PASSWORD => {
            let why = if secret.is_some() {
                "Password does not match. "
            } else {
                why
            };
            Err(password_failed(user, line, why))
        }
        Err(e) => Err(fatal(e)),
    }
}

fn fatal(e: Error) -> Error {
    e.with_severity(crate::error::Severity::Fatal)
}

/// Reads the client's `p` message; `None` when the client closed the connection.
async fn read_password_message(io: &mut Box<dyn Stream>) -> Result<Option<Vec<u8>>> {
    match read_frame(io).await {
        Ok(Some((b'p', body))) => Ok(Some(body)),
        Ok(Some((tag, _))) => Err(Error::fatal(
            sqlstate::PROTOCOL_VIOLATION,
            format!("expected password response, got message type {tag}"),
        )),
        Ok(None) => Ok(None),
        Err(e) if e.code == sqlstate::PROTOCOL_VIOLATION => Err(e),
        Err(_) => Ok(None),
    }
}

/// The OS user name of `uid` (for peer authentication).
pub fn user_name_of_uid(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 16384];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes into `pwd` and `buf`, whose sizes we pass.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() {
        return None;
    }
    // SAFETY: on success pw_name points at a NUL-terminated string inside `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(code: u32, body: &[u8]) -> Vec<u8> {
        let mut v = ((8 + body.len()) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(&code.to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[tokio::test]
    async fn first_packets_decode() {
        let p = packet(SSL_REQUEST_CODE, b"");
        assert_eq!(
            read_first_packet(&mut &p[..]).await.unwrap(),
            FirstPacket::Ssl
        );
        let p = packet(CANCEL_REQUEST_CODE, &[0, 0, 0, 7, 0, 0, 0, 9]);
        assert_eq!(
            read_first_packet(&mut &p[..]).await.unwrap(),
            FirstPacket::Cancel { pid: 7, key: 9 }
        );
        let p = packet(196608, b"user\0bob\0database\0\0\0");
        match read_first_packet(&mut &p[..]).await.unwrap() {
            FirstPacket::Startup { version, params } => {
                assert_eq!(version, 196608);
                let sp = StartupParams::from_pairs(params).unwrap();
                assert_eq!(sp.user, "bob");
                assert_eq!(sp.database, "bob");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn malformed_first_packets_are_errors() {
        let too_long = 20_000u32.to_be_bytes();
        assert!(read_first_packet(&mut &too_long[..]).await.is_err());
        let short = [0u8, 0, 0, 5, 1];
        assert!(read_first_packet(&mut &short[..]).await.is_err());
        let p = packet(196608, b"user\0bob");
        assert!(read_first_packet(&mut &p[..]).await.is_err());
        let p = packet(2 << 16, b"user\0bob\0\0");
        let e = read_first_packet(&mut &p[..]).await.unwrap_err();
        assert_eq!(
            e.message,
            "unsupported frontend protocol 2.0: server supports 3.0 to 3.0"
        );
        assert_eq!(
            read_first_packet(&mut &[][..]).await.unwrap(),
            FirstPacket::Closed
        );
    }

    #[test]
    fn startup_params_need_a_user() {
        let e = StartupParams::from_pairs(vec![("database".into(), "x".into())]).unwrap_err();
        assert_eq!(e.code, sqlstate::INVALID_AUTHORIZATION_SPECIFICATION);
        let p = StartupParams::from_pairs(vec![
            ("user".into(), "repl".into()),
            ("replication".into(), "true".into()),
            ("application_name".into(), "walreceiver".into()),
        ])
        .unwrap();
        assert_eq!(p.replication, Some(ReplicationMode::Physical));
        assert_eq!(
            p.settings,
            vec![("application_name".to_string(), "walreceiver".to_string())]
        );
    }
}
