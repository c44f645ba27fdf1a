//! pg_hba.conf (who may connect, and how they authenticate) and pg_ident.conf (user
//! name maps for `peer`), in PostgreSQL 15's format and with its first-match semantics.
//!
//! What it owns: tokenizing the files (whitespace-separated fields, comma lists, double
//! quotes, `#` comments, backslash line continuation, `@file` inclusion), checking each
//! line with PostgreSQL's error texts, and finding the first line that matches a
//! connection ([`HbaFile::find`]). Deciding what to do with the method is the server's
//! job (with `crate::auth`).
//!
//! Matching rules, as PostgreSQL's `check_hba`:
//! - connection type: `local` matches Unix-socket connections; `host` any TCP
//!   connection; `hostssl`/`hostnossl` TCP with/without TLS; `hostgssenc` never (tusk has
//!   no GSSAPI encryption); `hostnogssenc` every TCP connection (none is GSS-encrypted);
//! - database: a physical replication connection matches only the keyword
//!   `replication`; other connections match `all`, `sameuser`, `samerole` (membership
//!   through the caller's callback) or the name; `replication=database` connections are
//!   ordinary ones;
//! - user: `all`, a name, or `+group` (membership through the callback);
//! - address: `all`, `samehost`, `samenet` (the machine's interfaces, from
//!   getifaddrs), CIDR or address + mask (an IPv4 client also matches its IPv4-mapped
//!   IPv6 form), or `localhost` (the loopback addresses). Other host names are rejected
//!   when the file is read: tusk does no DNS lookups.
//!
//! Keywords lose their meaning when quoted (`"all"` is a database named all).
//!
//! Walk through a psql connection over TCP from 127.0.0.1 to database `postgres` as
//! user `alice`:
//! 1. the server builds an [`HbaRequest`] { local: false, addr: 127.0.0.1, ssl: false,
//!    database: "postgres", user: "alice", physical_replication: false };
//! 2. [`HbaFile::find`] skips `local` lines, then on `host all all 127.0.0.1/32
//!    scram-sha-256` checks database `all`, user `all`, and 127.0.0.1 within /32;
//! 3. that [`HbaLine`] is returned; its `method` tells the server to run SCRAM, and its
//!    `line_number`/`raw` go into the log's "Connection matched pg_hba.conf line …".

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use super::conf::{io_text, LogLine};
use crate::error::{sqlstate, Error, Result};

/// An authentication method named in pg_hba.conf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// Allow without a password.
    Trust,
    /// Refuse the connection.
    Reject,
    /// Cleartext password.
    Password,
    /// MD5 challenge (or SCRAM when the stored secret is SCRAM).
    Md5,
    /// SCRAM-SHA-256.
    ScramSha256,
    /// The OS user of a Unix-socket peer.
    Peer,
    /// RFC 1413 ident over TCP (parsed; the server treats it as a failure).
    Ident,
}

impl AuthMethod {
    /// The method's name as pg_hba.conf and log lines spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Trust => "trust",
            AuthMethod::Reject => "reject",
            AuthMethod::Password => "password",
            AuthMethod::Md5 => "md5",
            AuthMethod::ScramSha256 => "scram-sha-256",
            AuthMethod::Peer => "peer",
            AuthMethod::Ident => "ident",
        }
    }
}

/// The first column of a pg_hba.conf line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnType {
    /// Unix-domain sockets.
    Local,
    /// Any TCP connection.
    Host,
    /// TCP with TLS.
    HostSsl,
    /// TCP without TLS.
    HostNoSsl,
    /// TCP with GSSAPI encryption (never matches in tusk).
    HostGssEnc,
    /// TCP without GSSAPI encryption (every TCP connection in tusk).
    HostNoGssEnc,
}

/// One item of the database column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbSpec {
    /// The keyword `all`.
    All,
    /// The keyword `sameuser`: the database named like the user.
    SameUser,
    /// The keyword `samerole` (or `samegroup`): a database named like a role the user
    /// is a member of.
    SameRole,
    /// The keyword `replication`: physical replication connections.
    Replication,
    /// A database name.
    Name(String),
}

/// One item of the user column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSpec {
    /// The keyword `all`.
    All,
    /// `+group`: members of the role.
    Group(String),
    /// A role name.
    Name(String),
}

/// The address column of a host line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrSpec {
    /// The keyword `all`.
    All,
    /// Any of this machine's own addresses.
    SameHost,
    /// Any address in a subnet this machine is directly connected to.
    SameNet,
    /// An address range: network address and mask of the same family.
    Range(IpAddr, IpAddr),
    /// The host name `localhost`: the loopback addresses.
    Localhost,
}

/// One valid line of pg_hba.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HbaLine {
    /// The 1-based line number (of the first physical line, with continuations).
    pub line_number: usize,
    /// The line as written, for "Connection matched pg_hba.conf line N: "…"" logs.
    pub raw: String,
    /// The connection type.
    pub conn_type: ConnType,
    /// The database column.
    pub databases: Vec<DbSpec>,
    /// The user column.
    pub users: Vec<UserSpec>,
    /// The address column (None for `local`).
    pub address: Option<AddrSpec>,
    /// The authentication method (`ident` on a local line becomes `peer`, as in
    /// PostgreSQL).
    pub method: AuthMethod,
    /// The `name=value` options after the method, in order.
    pub options: Vec<(String, String)>,
}

impl HbaLine {
    /// The value of option `name` (e.g. `map`), if given.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed pg_hba.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HbaFile {
    /// The file it was read from.
    pub path: PathBuf,
    /// Its valid lines, in order.
    pub lines: Vec<HbaLine>,
}

/// What is known about a connection when pg_hba.conf is consulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HbaRequest<'a> {
    /// True for a Unix-domain socket connection.
    pub local: bool,
    /// The client's address (None for local connections).
    pub addr: Option<IpAddr>,
    /// True when the connection uses TLS.
    pub ssl: bool,
    /// The requested database (for physical replication, whatever the client sent).
    pub database: &'a str,
    /// The requested role.
    pub user: &'a str,
    /// True for `replication=true` (physical replication) connections.
    pub physical_replication: bool,
}

impl HbaRequest<'_> {
    fn host_text(&self) -> String {
        match (self.local, self.addr) {
            (true, _) | (false, None) => "[local]".into(),
            (false, Some(a)) => a.to_string(),
        }
    }

    fn encryption(&self) -> &'static str {
        if self.ssl {
            "SSL encryption"
        } else {
            "no encryption"
        }
    }

    /// PostgreSQL's FATAL error when no line matches (28000): `no pg_hba.conf entry for
    /// host "127.0.0.1", user "u", database "d", no encryption` (or the replication form).
    pub fn no_entry_error(&self) -> Error {
        let msg = if self.physical_replication {
            format!(
                "no pg_hba.conf entry for replication connection from host \"{}\", user \"{}\", {}",
                self.host_text(),
                self.user,
                self.encryption()
            )
        } else {
            format!(
                "no pg_hba.conf entry for host \"{}\", user \"{}\", database \"{}\", {}",
                self.host_text(),
                self.user,
                self.database,
                self.encryption()
            )
        };
        Error::fatal(sqlstate::INVALID_AUTHORIZATION_SPECIFICATION, msg)
    }

    /// PostgreSQL's FATAL error for a matching `reject` line (28000).
    pub fn reject_error(&self) -> Error {
        let msg = if self.physical_replication {
            format!(
                "pg_hba.conf rejects replication connection for host \"{}\", user \"{}\", {}",
                self.host_text(),
                self.user,
                self.encryption()
            )
        } else {
            format!(
                "pg_hba.conf rejects connection for host \"{}\", user \"{}\", database \"{}\", {}",
                self.host_text(),
                self.user,
                self.database,
                self.encryption()
            )
        };
        Error::fatal(sqlstate::INVALID_AUTHORIZATION_SPECIFICATION, msg)
    }
}

/// One token of an authentication file: its text and whether it was quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    text: String,
    quoted: bool,
}

impl Token {
    fn is_keyword(&self, kw: &str) -> bool {
        !self.quoted && self.text == kw
    }
}

/// A logical line: its number, raw text, and fields (each a comma list of tokens).
struct RawLine {
    number: usize,
    raw: String,
    fields: Vec<Vec<Token>>,
}

/// Tokenizes one logical line into fields. Returns the fields and an error message for
/// an unterminated quote.
fn tokenize_line(line: &str) -> (Vec<Vec<Token>>, Option<String>) {
    let chars: Vec<char> = line.chars().collect();
    let mut fields: Vec<Vec<Token>> = Vec::new();
    let mut i = 0;
    loop {
        // Skip blanks between fields.
        while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t' || chars[i] == '\r') {
            i += 1;
        }
        if i >= chars.len() || chars[i] == '#' {
            break;
        }
        let mut field = Vec::new();
        loop {
            let mut text = String::new();
            let (mut quoted, mut in_quote) = (false, false);
            while i < chars.len() {
                let c = chars[i];
                if !in_quote && (c == ' ' || c == '\t' || c == '\r' || c == ',' || c == '#') {
                    break;
                }
                if c == '"' {
                    in_quote = !in_quote;
                    quoted = true;
                } else {
                    text.push(c);
                }
                i += 1;
            }
            if in_quote {
                return (fields, Some("unterminated quoted string".into()));
            }
            if !text.is_empty() || quoted {
                field.push(Token { text, quoted });
            }
            if i < chars.len() && chars[i] == ',' {
                i += 1;
                continue;
            }
            break;
        }
        if !field.is_empty() {
            fields.push(field);
        }
    }
    (fields, None)
}

/// Splits a file's text into logical lines (joining backslash continuations), with
/// tokens; problems go to `errors` as (line, message).
fn tokenize_file(text: &str, path: &Path, errors: &mut Vec<LogLine>) -> Vec<RawLine> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (n, physical) in text.lines().enumerate() {
        let (start, mut acc) = pending.take().unwrap_or((n + 1, String::new()));
        if let Some(stripped) = physical.strip_suffix('\\') {
            acc.push_str(stripped);
            pending = Some((start, acc));
            continue;
        }
        acc.push_str(physical);
        let (fields, err) = tokenize_line(&acc);
        if let Some(e) = err {
            errors.push(context(LogLine::log(e), start, path));
            continue;
        }
        if fields.is_empty() {
            continue;
        }
        let fields = expand_includes(fields, path, start, errors);
        out.push(RawLine {
            number: start,
            raw: acc.trim().to_string(),
            fields,
        });
    }
    if let Some((start, acc)) = pending {
        let (fields, _) = tokenize_line(&acc);
        if !fields.is_empty() {
            let fields = expand_includes(fields, path, start, errors);
            out.push(RawLine {
                number: start,
                raw: acc.trim().to_string(),
                fields,
            });
        }
    }
    out
}

/// Replaces unquoted `@file` tokens by the tokens of that file (relative to the
/// including file's directory).
fn expand_includes(
    fields: Vec<Vec<Token>>,
    path: &Path,
    line: usize,
    errors: &mut Vec<LogLine>,
) -> Vec<Vec<Token>> {
    fields
        .into_iter()
        .map(|field| {
            let mut out = Vec::new();
            for tok in field {
                match tok.text.strip_prefix('@') {
                    Some(name) if !tok.quoted && !name.is_empty() => {
                        let p = Path::new(name);
                        let abs = if p.is_absolute() {
                            p.to_path_buf()
                        } else {
                            path.parent().unwrap_or(Path::new(".")).join(p)
                        };
                        match std::fs::read_to_string(&abs) {
                            Ok(text) => {
                                for l in text.lines() {
                                    let (fs, _) = tokenize_line(l);
                                    out.extend(fs.into_iter().flatten());
                                }
                            }
                            Err(e) => {
                                errors.push(context(
                                    LogLine::log(format!(
                                        "could not open secondary authentication file \"@{name}\" as \"{}\": {}",
                                        abs.display(),
                                        io_text(&e)
                                    )),
                                    line,
                                    path,
                                ));
                            }
                        }
                    }
                    _ => out.push(tok),
                }
            }
            out
        })
        .collect()
}

fn context(mut l: LogLine, line: usize, path: &Path) -> LogLine {
    l.detail = Some(format!(
        "line {line} of configuration file \"{}\"",
        path.display()
    ));
    l
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

fn prefix_mask(v6: bool, bits: u32) -> IpAddr {
    if v6 {
        let m = if bits == 0 {
            0
        } else {
            u128::MAX << (128 - bits)
        };
        IpAddr::V6(Ipv6Addr::from(m))
    } else {
        let m = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits)
        };
        IpAddr::V4(Ipv4Addr::from(m))
    }
}

fn parse_line(l: &RawLine) -> std::result::Result<HbaLine, String> {
    let f = &l.fields;
    let conn = &f[0];
    if conn.len() > 1 {
        return Err("multiple values specified for connection type".into());
    }
    let conn_type = match conn[0].text.as_str() {
        "local" => ConnType::Local,
        "host" => ConnType::Host,
        "hostssl" => ConnType::HostSsl,
        "hostnossl" => ConnType::HostNoSsl,
        "hostgssenc" => ConnType::HostGssEnc,
        "hostnogssenc" => ConnType::HostNoGssEnc,
        other => return Err(format!("invalid connection type \"{other}\"")),
    };
    let db_field = f
        .get(1)
        .ok_or("end-of-line before database specification")?;
    let databases = db_field
        .iter()
        .map(|t| {
            if t.is_keyword("all") {
                DbSpec::All
            } else if t.is_keyword("sameuser") {
                DbSpec::SameUser
            } else if t.is_keyword("samerole") || t.is_keyword("samegroup") {
                DbSpec::SameRole
            } else if t.is_keyword("replication") {
                DbSpec::Replication
            } else {
                DbSpec::Name(t.text.clone())
            }
        })
        .collect();
    let user_field = f.get(2).ok_or("end-of-line before role specification")?;
    let users = user_field
        .iter()
        .map(|t| {
            if t.is_keyword("all") {
                UserSpec::All
            } else if !t.quoted && t.text.starts_with('+') {
                UserSpec::Group(t.text[1..].to_string())
            } else {
                UserSpec::Name(t.text.clone())
            }
        })
        .collect();
    let mut next = 3;
    let address = if conn_type == ConnType::Local {
        None
    } else {
        let a = f
            .get(next)
            .ok_or("end-of-line before IP address specification")?;
        next += 1;
        if a.len() > 1 {
            return Err("multiple values specified for host address".into());
        }
        let text = a[0].text.as_str();
        Some(match text {
            "all" => AddrSpec::All,
            "samehost" => AddrSpec::SameHost,
            "samenet" => AddrSpec::SameNet,
            _ => {
                let (addr_text, cidr) = match text.split_once('/') {
                    Some((a, c)) => (a, Some(c)),
                    None => (text, None),
                };
                match parse_ip(addr_text) {
                    Some(ip) => {
                        let v6 = ip.is_ipv6();
                        let mask = match cidr {
                            Some(c) => {
                                let max = if v6 { 128 } else { 32 };
                                match c.parse::<u32>() {
                                    Ok(bits) if bits <= max && !c.starts_with('+') => {
                                        prefix_mask(v6, bits)
                                    }
                                    _ => {
                                        return Err(format!(
                                            "invalid CIDR mask in address \"{text}\""
                                        ))
                                    }
                                }
                            }
                            None => {
                                let m = f.get(next).ok_or(
                                    "end-of-line before netmask specification",
                                )?;
                                next += 1;
                                if m.len() > 1 {
                                    return Err("multiple values specified for netmask".into());
                                }
                                let mask = parse_ip(&m[0].text).ok_or_else(|| {
                                    format!(
                                        "invalid IP mask \"{}\": Name or service not known",
                                        m[0].text
                                    )
                                })?;
                                if mask.is_ipv6() != v6 {
                                    return Err("IP address and mask do not match".into());
                                }
                                mask
                            }
                        };
                        AddrSpec::Range(ip, mask)
                    }
                    None if cidr.is_some() => {
                        return Err(format!(
                            "invalid IP address \"{addr_text}\": Name or service not known"
                        ))
                    }
                    None if text.eq_ignore_ascii_case("localhost") => AddrSpec::Localhost,
                    None => {
                        return Err(format!(
                            "host name \"{text}\" is not supported in pg_hba.conf by tusk; use an IP address, samehost, samenet or all"
                        ))
                    }
                }
            }
        })
    };
    let m = f
        .get(next)
        .ok_or("end-of-line before authentication method")?;
    next += 1;
    if m.len() > 1 {
        return Err("multiple values specified for authentication type".into());
    }
    let mut method = match m[0].text.as_str() {
        "trust" => AuthMethod::Trust,
        "reject" => AuthMethod::Reject,
        "password" => AuthMethod::Password,
        "md5" => AuthMethod::Md5,
        "scram-sha-256" => AuthMethod::ScramSha256,
        "peer" => AuthMethod::Peer,
        "ident" => AuthMethod::Ident,
        other @ ("gss" | "sspi" | "pam" | "bsd" | "ldap" | "radius" | "cert") => {
            return Err(format!(
                "invalid authentication method \"{other}\": not supported by this build"
            ))
        }
        other => return Err(format!("invalid authentication method \"{other}\"")),
    };
    if conn_type == ConnType::Local && method == AuthMethod::Ident {
        method = AuthMethod::Peer;
    }
    if conn_type != ConnType::Local && method == AuthMethod::Peer {
        return Err("peer authentication is only supported on local sockets".into());
    }
    let mut options = Vec::new();
    for tok in f[next..].iter().flatten() {
        let Some((name, value)) = tok.text.split_once('=') else {
            return Err(format!(
                "authentication option not in name=value format: {}",
                tok.text
            ));
        };
        match name {
            "map" => {
                if !matches!(method, AuthMethod::Ident | AuthMethod::Peer) {
                    return Err("authentication option \"map\" is only valid for authentication methods ident, peer, gssapi, sspi, and cert".into());
                }
            }
            "clientcert" => {
                if conn_type != ConnType::HostSsl {
                    return Err("clientcert can only be configured for \"hostssl\" rows".into());
                }
                if value != "verify-ca" && value != "verify-full" {
                    return Err(format!("invalid value for clientcert: \"{value}\""));
                }
            }
            "clientname" => {
                if conn_type != ConnType::HostSsl {
                    return Err("clientname can only be configured for \"hostssl\" rows".into());
                }
            }
            other => {
                return Err(format!(
                    "unrecognized authentication option name: \"{other}\""
                ))
            }
        }
        options.push((name.to_string(), value.to_string()));
    }
    Ok(HbaLine {
        line_number: l.number,
        raw: l.raw.clone(),
        conn_type,
        databases,
        users,
        address,
        method,
        options,
    })
}

impl HbaFile {
    /// Reads and parses pg_hba.conf at `path`.
    pub fn load(path: &Path) -> Result<HbaFile> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::new(
                sqlstate::CONFIG_FILE_ERROR,
                format!(
                    "could not open configuration file \"{}\": {}",
                    path.display(),
                    io_text(&e)
                ),
            )
        })?;
        HbaFile::parse(&text, path)
    }

    /// Parses the text of pg_hba.conf. The error is the first problem, with PostgreSQL's
    /// message and `line N of configuration file "…"` as its detail (PostgreSQL's
    /// CONTEXT line); [`HbaFile::parse_report`] gives all of them.
    pub fn parse(text: &str, path: &Path) -> Result<HbaFile> {
        HbaFile::parse_report(text, path).map_err(|logs| {
            let first = &logs[0];
            let mut e = Error::new(sqlstate::CONFIG_FILE_ERROR, first.message.clone());
            e.detail = first.detail.clone();
            e
        })
    }

    /// Parses the text of pg_hba.conf, returning every problem as a LOG line whose
    /// `detail` is PostgreSQL's CONTEXT text (`line 2 of configuration file "…"`). The
    /// caller then logs `could not load pg_hba.conf` (start-up, FATAL) or
    /// `pg_hba.conf was not reloaded` (reload).
    pub fn parse_report(text: &str, path: &Path) -> std::result::Result<HbaFile, Vec<LogLine>> {
        let mut errors = Vec::new();
        let raw = tokenize_file(text, path, &mut errors);
        let mut lines = Vec::new();
        for l in &raw {
            match parse_line(l) {
                Ok(h) => lines.push(h),
                Err(msg) => errors.push(context(LogLine::log(msg), l.number, path)),
            }
        }
        if errors.is_empty() {
            Ok(HbaFile {
                path: path.to_path_buf(),
                lines,
            })
        } else {
            // Keep file order: errors were collected per line, includes first.
            errors.sort_by_key(|l| {
                l.detail
                    .as_deref()
                    .and_then(|d| d.split(' ').nth(1))
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(0)
            });
            Err(errors)
        }
    }

    /// The first line matching `conn`. `is_member(role, group)` answers whether `role`
    /// is `group` or a member of it (for `samerole` and `+group`).
    pub fn find(
        &self,
        conn: &HbaRequest,
        is_member: &dyn Fn(&str, &str) -> bool,
    ) -> Option<&HbaLine> {
        self.lines
            .iter()
            .find(|l| line_matches(l, conn, is_member, &interfaces))
    }
}

fn line_matches(
    l: &HbaLine,
    c: &HbaRequest,
    is_member: &dyn Fn(&str, &str) -> bool,
    ifaces: &dyn Fn() -> Vec<(IpAddr, IpAddr)>,
) -> bool {
    let type_ok = match l.conn_type {
        ConnType::Local => c.local,
        ConnType::Host | ConnType::HostNoGssEnc => !c.local,
        ConnType::HostSsl => !c.local && c.ssl,
        ConnType::HostNoSsl => !c.local && !c.ssl,
        ConnType::HostGssEnc => false,
    };
    if !type_ok {
        return false;
    }
    if !c.local {
        let Some(addr) = c.addr else { return false };
        let ok = match &l.address {
            None | Some(AddrSpec::All) => true,
            Some(AddrSpec::Range(net, mask)) => in_range(addr, *net, *mask),
            Some(AddrSpec::Localhost) => normalize(addr).is_loopback(),
            Some(AddrSpec::SameHost) => ifaces().iter().any(|(a, _)| normalize(addr) == *a),
            Some(AddrSpec::SameNet) => ifaces().iter().any(|(a, m)| in_range(addr, *a, *m)),
        };
        if !ok {
            return false;
        }
    }
    let db_ok = l.databases.iter().any(|d| {
        if c.physical_replication {
            return *d == DbSpec::Replication;
        }
        match d {
            DbSpec::All => true,
            DbSpec::SameUser => c.database == c.user,
            DbSpec::SameRole => is_member(c.user, c.database),
            DbSpec::Replication => false,
            DbSpec::Name(n) => n == c.database,
        }
    });
    if !db_ok {
        return false;
    }
    l.users.iter().any(|u| match u {
        UserSpec::All => true,
        UserSpec::Group(g) => is_member(c.user, g),
        UserSpec::Name(n) => n == c.user,
    })
}

/// An IPv4-mapped IPv6 address as IPv4; others unchanged.
fn normalize(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => a,
        },
        v4 => v4,
    }
}

fn in_range(addr: IpAddr, net: IpAddr, mask: IpAddr) -> bool {
    match (normalize(addr), net, mask) {
        (IpAddr::V4(a), IpAddr::V4(n), IpAddr::V4(m)) => {
            let (a, n, m) = (u32::from(a), u32::from(n), u32::from(m));
            a & m == n & m
        }
        (IpAddr::V6(a), IpAddr::V6(n), IpAddr::V6(m)) => {
            let (a, n, m) = (u128::from(a), u128::from(n), u128::from(m));
            a & m == n & m
        }
        (IpAddr::V4(a), IpAddr::V6(n), IpAddr::V6(m)) => {
            let a = u128::from(a.to_ipv6_mapped());
            let (n, m) = (u128::from(n), u128::from(m));
            a & m == n & m
        }
        _ => false,
    }
}

/// The machine's interface addresses with their netmasks, from getifaddrs(3).
fn interfaces() -> Vec<(IpAddr, IpAddr)> {
    fn sockaddr_ip(sa: *const libc::sockaddr) -> Option<IpAddr> {
        if sa.is_null() {
            return None;
        }
        // SAFETY: getifaddrs returns valid sockaddr pointers whose family field tells
        // which concrete structure they point to; we only read that structure.
        unsafe {
            match (*sa).sa_family as i32 {
                libc::AF_INET => {
                    let sin = &*(sa as *const libc::sockaddr_in);
                    Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                        sin.sin_addr.s_addr,
                    ))))
                }
                libc::AF_INET6 => {
                    let sin6 = &*(sa as *const libc::sockaddr_in6);
                    Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
                }
                _ => None,
            }
        }
    }
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we walk read-only and free once.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return out;
        }
        let mut cur = head;
        while !cur.is_null() {
            let ifa = &*cur;
            if let (Some(a), Some(m)) = (sockaddr_ip(ifa.ifa_addr), sockaddr_ip(ifa.ifa_netmask)) {
                out.push((a, m));
            }
            cur = ifa.ifa_next;
        }
        libc::freeifaddrs(head);
    }
    out
}

/// One line of pg_ident.conf: map name, operating-system user, database role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentMap {
    /// The 1-based line number.
    pub line_number: usize,
    /// The map name used by `map=` in pg_hba.conf.
    pub map: String,
    /// The operating-system user name.
    pub system_user: String,
    /// The database role it may connect as.
    pub pg_user: String,
}

/// A parsed pg_ident.conf. Regular expressions (system user names starting with `/`)
/// are not supported and are rejected when the file is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentFile {
    /// The file it was read from.
    pub path: PathBuf,
    /// Its lines, in order.
    pub maps: Vec<IdentMap>,
}

impl IdentFile {
    /// Reads pg_ident.conf; a missing file is an empty map list (PostgreSQL logs and
    /// goes on the same way).
    pub fn load(path: &Path) -> Result<IdentFile> {
        match std::fs::read_to_string(path) {
            Ok(text) => IdentFile::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(IdentFile {
                path: path.to_path_buf(),
                maps: Vec::new(),
            }),
            Err(e) => Err(Error::new(
                sqlstate::CONFIG_FILE_ERROR,
                format!(
                    "could not open usermap file \"{}\": {}",
                    path.display(),
                    io_text(&e)
                ),
            )),
        }
    }

    /// Parses the text of pg_ident.conf: `MAPNAME SYSTEM-USERNAME PG-USERNAME` per line.
    pub fn parse(text: &str, path: &Path) -> Result<IdentFile> {
        let mut errors = Vec::new();
        let raw = tokenize_file(text, path, &mut errors);
        if let Some(first) = errors.first() {
            let mut e = Error::new(sqlstate::CONFIG_FILE_ERROR, first.message.clone());
            e.detail = first.detail.clone();
            return Err(e);
        }
        let mut maps = Vec::new();
        for l in raw {
            let err = |msg: &str| {
                Error::new(sqlstate::CONFIG_FILE_ERROR, msg.to_string()).with_detail(format!(
                    "line {} of configuration file \"{}\"",
                    l.number,
                    path.display()
                ))
            };
            let single = |i: usize, what: &str| -> Result<String> {
                let f = l
                    .fields
                    .get(i)
                    .ok_or_else(|| err(&format!("missing entry at end of line{what}")))?;
                if f.len() > 1 {
                    return Err(err("multiple values in ident field"));
                }
                Ok(f[0].text.clone())
            };
            let map = single(0, "")?;
            let system_user = single(1, "")?;
            let pg_user = single(2, "")?;
            if l.fields.len() > 3 {
                return Err(err("extra entry at end of line"));
            }
            if system_user.starts_with('/') {
                return Err(err(
                    "regular expressions in pg_ident.conf are not supported by tusk",
                ));
            }
            maps.push(IdentMap {
                line_number: l.number,
                map,
                system_user,
                pg_user,
            });
        }
        Ok(IdentFile {
            path: path.to_path_buf(),
            maps,
        })
    }

    /// True when map `map` lets operating-system user `system_user` connect as role
    /// `pg_user`. Matching is exact and case-sensitive.
    pub fn check(&self, map: &str, system_user: &str, pg_user: &str) -> bool {
        self.maps
            .iter()
            .any(|m| m.map == map && m.system_user == system_user && m.pg_user == pg_user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "/data/pg_hba.conf";

    fn hba(text: &str) -> HbaFile {
        HbaFile::parse(text, Path::new(P)).unwrap()
    }

    fn err(text: &str) -> (String, String) {
        let e = HbaFile::parse(text, Path::new(P)).unwrap_err();
        (e.message, e.detail.unwrap())
    }

    fn req<'a>(local: bool, addr: &str, db: &'a str, user: &'a str) -> HbaRequest<'a> {
        HbaRequest {
            local,
            addr: if local {
                None
            } else {
                Some(addr.parse().unwrap())
            },
            ssl: false,
            database: db,
            user,
            physical_replication: false,
        }
    }

    fn no_members(_: &str, _: &str) -> bool {
        false
    }

    fn line_of(f: &HbaFile, r: &HbaRequest) -> Option<usize> {
        f.find(r, &no_members).map(|l| l.line_number)
    }

    const SAMPLE: &str = r#"# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             postgres                                peer map=local
local   all             all                                     trust
host    all             all             127.0.0.1/32            scram-sha-256
host    all             all             ::1/128                 md5
local   replication     all                                     trust
host    replication     all             127.0.0.1/32            trust
host    "all",sales     bob             10.0.0.0 255.0.0.0      password
hostssl all             all             0.0.0.0/0               scram-sha-256
host    all             all             0.0.0.0/0               reject
"#;

    #[test]
    fn first_match() {
        let f = hba(SAMPLE);
        assert_eq!(f.lines.len(), 9);
        assert_eq!(f.lines[0].method, AuthMethod::Peer);
        assert_eq!(f.lines[0].option("map"), Some("local"));
        assert_eq!(
            f.lines[2].raw,
            "host    all             all             127.0.0.1/32            scram-sha-256"
        );
        assert_eq!(line_of(&f, &req(true, "", "postgres", "postgres")), Some(2));
        assert_eq!(line_of(&f, &req(true, "", "x", "alice")), Some(3));
        assert_eq!(line_of(&f, &req(false, "127.0.0.1", "x", "alice")), Some(4));
        assert_eq!(line_of(&f, &req(false, "::1", "x", "alice")), Some(5));
        assert_eq!(
            line_of(&f, &req(false, "::ffff:127.0.0.1", "x", "a")),
            Some(4)
        );
        // A quoted "all" is a database named all.
        assert_eq!(line_of(&f, &req(false, "10.1.2.3", "all", "bob")), Some(8));
        assert_eq!(
            line_of(&f, &req(false, "10.1.2.3", "sales", "bob")),
            Some(8)
        );
        assert_eq!(
            line_of(&f, &req(false, "10.1.2.3", "other", "bob")),
            Some(10)
        );
        let mut ssl = req(false, "192.168.1.1", "x", "y");
        ssl.ssl = true;
        assert_eq!(line_of(&f, &ssl), Some(9));
        assert_eq!(
            f.find(&req(false, "192.168.1.1", "x", "y"), &no_members)
                .unwrap()
                .method,
            AuthMethod::Reject
        );
    }

    #[test]
    fn replication_matching() {
        let f = hba(SAMPLE);
        let mut r = req(false, "127.0.0.1", "replication", "rep");
        r.physical_replication = true;
        assert_eq!(line_of(&f, &r), Some(7));
        r.local = true;
        r.addr = None;
        assert_eq!(line_of(&f, &r), Some(6));
        // `all` does not cover physical replication.
        let f2 = hba("host all all 0.0.0.0/0 trust\n");
        let mut r = req(false, "127.0.0.1", "postgres", "rep");
        r.physical_replication = true;
        assert_eq!(line_of(&f2, &r), None);
        // replication=database connections are ordinary ones.
        let r = req(false, "127.0.0.1", "postgres", "rep");
        assert_eq!(line_of(&f2, &r), Some(1));
        let f3 = hba("host replication all 0.0.0.0/0 trust\n");
        assert_eq!(
            line_of(&f3, &req(false, "127.0.0.1", "replication", "r")),
            None
        );
    }

    #[test]
    fn keywords_groups_and_membership() {
        let f = hba(
            "local sameuser all trust\nlocal samerole all md5\nlocal all +admins password\n\
             local all \"+admins\" reject\nlocal db1,db2 u1,u2 scram-sha-256\n",
        );
        let member =
            |role: &str, group: &str| role == "carol" && (group == "admins" || group == "carolsdb");
        let find = |db: &str, user: &str| {
            f.find(&req(true, "", db, user), &member)
                .map(|l| l.line_number)
        };
        assert_eq!(find("alice", "alice"), Some(1));
        assert_eq!(find("carolsdb", "carol"), Some(2));
        assert_eq!(find("x", "carol"), Some(3));
        assert_eq!(find("x", "+admins"), Some(4));
        assert_eq!(find("db2", "u1"), Some(5));
        assert_eq!(find("db3", "u1"), None);
    }

    #[test]
    fn addresses() {
        let f = hba(
            "host all all 192.168.0.0/16 trust\nhost all all 10.0.0.1 255.255.255.255 md5\n\
             host all all fe80::/10 password\nhost all all localhost reject\nhost all all samehost scram-sha-256\n",
        );
        assert_eq!(line_of(&f, &req(false, "192.168.44.5", "d", "u")), Some(1));
        assert_eq!(line_of(&f, &req(false, "10.0.0.1", "d", "u")), Some(2));
        assert_eq!(line_of(&f, &req(false, "10.0.0.2", "d", "u")), None);
        assert_eq!(line_of(&f, &req(false, "fe80::1", "d", "u")), Some(3));
        assert_eq!(line_of(&f, &req(false, "127.0.0.1", "d", "u")), Some(4));
        assert_eq!(line_of(&f, &req(false, "::1", "d", "u")), Some(4));
        let loopback_is_here = interfaces().iter().any(|(a, _)| a.is_loopback());
        let f = hba("host all all samehost trust\nhost all all samenet md5\n");
        if loopback_is_here {
            assert_eq!(line_of(&f, &req(false, "127.0.0.1", "d", "u")), Some(1));
        }
        assert_eq!(line_of(&f, &req(false, "203.0.113.77", "d", "u")), None);
        // Local lines never match TCP and host lines never match sockets.
        let f = hba("local all all trust\n");
        assert_eq!(line_of(&f, &req(false, "127.0.0.1", "d", "u")), None);
        let f = hba("host all all all trust\nhostgssenc all all all reject\n");
        assert_eq!(line_of(&f, &req(true, "", "d", "u")), None);
        assert_eq!(line_of(&f, &req(false, "8.8.8.8", "d", "u")), Some(1));
        let f = hba("hostgssenc all all all reject\nhostnogssenc all all all trust\nhostnossl all all all md5\n");
        assert_eq!(line_of(&f, &req(false, "8.8.8.8", "d", "u")), Some(2));
    }

    #[test]
    fn parsing_details() {
        let f =
            hba("local all all \\\n   trust # comment\n\n# only comment\nlocal all all ident\n");
        assert_eq!(f.lines[0].line_number, 1);
        assert_eq!(f.lines[0].method, AuthMethod::Trust);
        assert_eq!(f.lines[1].method, AuthMethod::Peer);
        assert_eq!(f.lines[1].line_number, 5);
    }

    #[test]
    fn errors_have_postgres_texts() {
        let ctx = |n: usize| format!("line {n} of configuration file \"{P}\"");
        for (text, msg) in [
            ("local all all trust\nhost all all 127.0.0.1/32 bogus", "invalid authentication method \"bogus\""),
            ("host all all 127.0.0.1 md5", "invalid IP mask \"md5\": Name or service not known"),
            ("host all all 1.2.3.4/33 md5", "invalid CIDR mask in address \"1.2.3.4/33\""),
            ("local all all md5 map=foo", "authentication option \"map\" is only valid for authentication methods ident, peer, gssapi, sspi, and cert"),
            ("host all all 127.0.0.1/32 md5 foo", "authentication option not in name=value format: foo"),
            ("host all all 127.0.0.1/32 peer", "peer authentication is only supported on local sockets"),
            ("hostfoo all all 127.0.0.1/32 md5", "invalid connection type \"hostfoo\""),
            ("host all all 127.0.0.1/32 md5 clientcert=verify-full", "clientcert can only be configured for \"hostssl\" rows"),
            ("host all", "end-of-line before role specification"),
            ("local", "end-of-line before database specification"),
            ("host all all", "end-of-line before IP address specification"),
            ("local all all", "end-of-line before authentication method"),
            ("host all all 127.0.0.1", "end-of-line before netmask specification"),
            ("host all all 127.0.0.1 ffff:: trust", "IP address and mask do not match"),
            ("host all all 127.0.0.1/32 scram-sha-256 bogus=1", "unrecognized authentication option name: \"bogus\""),
            ("host all all 127.0.0.1/32 ldap", "invalid authentication method \"ldap\": not supported by this build"),
            ("local,host all all trust", "multiple values specified for connection type"),
        ] {
            let (m, d) = err(text);
            assert_eq!(m, msg, "{text}");
            assert_eq!(d, ctx(text.lines().count()), "{text}");
        }
        assert!(err("host all all db.example.com trust")
            .0
            .contains("host name \"db.example.com\""));
        let logs = HbaFile::parse_report(
            "host all all 127.0.0.1/32 bogus\nlocal all all trust\nfoo\n",
            Path::new(P),
        )
        .unwrap_err();
        assert_eq!(logs.len(), 2);
        assert_eq!(
            logs[1].lines(),
            vec![
                "LOG:  invalid connection type \"foo\"".to_string(),
                format!("DETAIL:  {}", ctx(3))
            ]
        );
    }

    #[test]
    fn include_files() {
        let d = std::env::temp_dir().join(format!(
            "tusk-hba-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("admins"), "alice, bob\ncarol\n").unwrap();
        std::fs::write(
            d.join("pg_hba.conf"),
            "local all @admins trust\nlocal all @missing md5\n",
        )
        .unwrap();
        let e = HbaFile::load(&d.join("pg_hba.conf")).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "could not open secondary authentication file \"@missing\" as \"{}\": No such file or directory",
                d.join("missing").display()
            )
        );
        std::fs::write(d.join("pg_hba.conf"), "local all @admins trust\n").unwrap();
        let f = HbaFile::load(&d.join("pg_hba.conf")).unwrap();
        assert_eq!(
            f.lines[0].users,
            vec![
                UserSpec::Name("alice".into()),
                UserSpec::Name("bob".into()),
                UserSpec::Name("carol".into())
            ]
        );
        assert_eq!(line_of(&f, &req(true, "", "d", "carol")), Some(1));
        assert_eq!(line_of(&f, &req(true, "", "d", "dave")), None);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn error_messages_for_the_client() {
        let r = req(false, "127.0.0.1", "nohbadb", "scramuser");
        assert_eq!(
            r.no_entry_error().message,
            "no pg_hba.conf entry for host \"127.0.0.1\", user \"scramuser\", database \"nohbadb\", no encryption"
        );
        let mut s = req(false, "127.0.0.1", "nohbadb", "scramuser");
        s.ssl = true;
        assert!(s.no_entry_error().message.ends_with("SSL encryption"));
        assert_eq!(
            req(false, "127.0.0.1", "postgres", "rejectme").reject_error().message,
            "pg_hba.conf rejects connection for host \"127.0.0.1\", user \"rejectme\", database \"postgres\", no encryption"
        );
        let mut rep = req(true, "", "x", "rep");
        rep.physical_replication = true;
        assert_eq!(
            rep.no_entry_error().message,
            "no pg_hba.conf entry for replication connection from host \"[local]\", user \"rep\", no encryption"
        );
        assert_eq!(rep.no_entry_error().code, "28000");
    }

    #[test]
    fn ident_maps() {
        let f = IdentFile::parse(
            "# MAPNAME SYSTEM-USERNAME PG-USERNAME\nlocal root postgres\nlocal alice alice\n",
            Path::new("/data/pg_ident.conf"),
        )
        .unwrap();
        assert!(f.check("local", "root", "postgres"));
        assert!(f.check("local", "alice", "alice"));
        assert!(!f.check("local", "alice", "postgres"));
        assert!(!f.check("other", "root", "postgres"));
        let e = IdentFile::parse("m /^(.*)$ \\1\n", Path::new("/i")).unwrap_err();
        assert!(e.message.contains("regular expressions"));
        assert!(IdentFile::parse("m a\n", Path::new("/i")).is_err());
        assert!(IdentFile::parse("m a b c\n", Path::new("/i")).is_err());
        let missing = IdentFile::load(Path::new("/nonexistent/pg_ident.conf")).unwrap();
        assert!(missing.maps.is_empty());
    }
}
