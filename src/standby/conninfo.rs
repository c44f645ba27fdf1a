//! Parsing `primary_conninfo`: libpq's `keyword=value` form and its URI form
//! (`postgresql://user:password@host:port/dbname?key=value`), keeping what a
//! walreceiver needs.
//!
//! What it owns: [`Conninfo`] and [`parse`]. Invariants: unknown keywords are ignored
//! (libpq rejects them, but a standby must not fail on options it does not use, such as
//! `target_session_attrs`); a malformed string is an error with libpq's wording.
//! What it must never do: open connections or read files other than a passfile.
//!
//! One parse: 1. pick the form by the `postgres://`/`postgresql://` prefix; 2. split
//! into (keyword, value) pairs (quotes and backslash escapes in the keyword form,
//! percent-decoding in the URI form); 3. fill [`Conninfo`], defaulting the port to
//! 5432 and the host to the Unix socket directory `/tmp`.

use crate::error::{sqlstate, Error, Result};

/// The connection parameters a walreceiver uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conninfo {
    /// `host`: a host name / address, or a Unix socket directory (starting with `/`).
    pub host: String,
    /// `port`.
    pub port: u16,
    /// `user` (default: the OS user running the server).
    pub user: String,
    /// `password`, if given (or found in the passfile).
    pub password: Option<String>,
    /// `application_name`, if given.
    pub application_name: Option<String>,
    /// `sslmode` (`disable`, `allow`, `prefer`, `require`…); TLS is not used by this
    /// walreceiver, so only the modes that allow plain connections work.
    pub sslmode: String,
    /// `passfile`, if given.
    pub passfile: Option<String>,
    /// `connect_timeout`: how long connecting and authenticating may take (libpq's
    /// rules: seconds, at least 2; 0, negative or absent waits indefinitely).
    pub connect_timeout: Option<std::time::Duration>,
}

fn bad(msg: String) -> Error {
    Error::new(sqlstate::INVALID_PARAMETER_VALUE, msg)
}

/// Splits the keyword=value form into pairs.
fn keyword_pairs(s: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    loop {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= chars.len() {
            return Ok(out);
        }
        let start = i;
        while i < chars.len() && chars[i] != '=' && !chars[i].is_whitespace() {
            i += 1;
        }
        let key: String = chars[start..i].iter().collect();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= chars.len() || chars[i] != '=' {
            return Err(bad(format!(
                "missing \"=\" after \"{key}\" in connection info string"
            )));
        }
        i += 1;
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let mut val = String::new();
        if i < chars.len() && chars[i] == '\'' {
            i += 1;
            loop {
                if i >= chars.len() {
                    return Err(bad(
                        "unterminated quoted string in connection info string".into()
                    ));
                }
                match chars[i] {
                    '\\' if i + 1 < chars.len() => {
                        val.push(chars[i + 1]);
                        i += 2;
                    }
                    '\'' => {
                        i += 1;
                        break;
                    }
                    c => {
                        val.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < chars.len() && !chars[i].is_whitespace() {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    val.push(chars[i + 1]);
                    i += 2;
                } else {
                    val.push(chars[i]);
                    i += 1;
                }
            }
        }
        out.push((key, val));
    }
}

fn percent_decode(s: &str) -> Result<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad(format!("invalid percent-encoded token: \"{s}\"")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad(format!("invalid percent-encoded token: \"{s}\"")))
}

/// Splits the URI form into pairs.
fn uri_pairs(s: &str) -> Result<Vec<(String, String)>> {
    let rest = s
        .strip_prefix("postgresql://")
        .or_else(|| s.strip_prefix("postgres://"))
        .unwrap_or(s);
    let mut out = Vec::new();
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (rest, None),
    };
    let (authority, db) = match main.split_once('/') {
        Some((a, d)) => (a, Some(d)),
        None => (main, None),
    };
    let hostport = match authority.rsplit_once('@') {
        Some((userinfo, hp)) => {
            match userinfo.split_once(':') {
                Some((u, p)) => {
                    out.push(("user".into(), percent_decode(u)?));
                    out.push(("password".into(), percent_decode(p)?));
                }
                None => out.push(("user".into(), percent_decode(userinfo)?)),
            }
            hp
        }
        None => authority,
    };
    if !hostport.is_empty() {
        let (h, p) = if let Some(v6) = hostport.strip_prefix('[') {
            match v6.split_once(']') {
                Some((h, tail)) => (h.to_string(), tail.strip_prefix(':').map(str::to_string)),
                None => return Err(bad(format!("end of string reached when looking for matching \"]\" in IPv6 host address in URI: \"{s}\""))),
            }
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p.to_string())),
                None => (hostport.to_string(), None),
            }
        };
        if !h.is_empty() {
            out.push(("host".into(), percent_decode(&h)?));
        }
        if let Some(p) = p.filter(|p| !p.is_empty()) {
            out.push(("port".into(), p));
        }
    }
    if let Some(d) = db.filter(|d| !d.is_empty()) {
        out.push(("dbname".into(), percent_decode(d)?));
    }
    if let Some(q) = query {
        for kv in q.split('&').filter(|kv| !kv.is_empty()) {
            let (k, v) = kv.split_once('=').ok_or_else(|| {
                bad(format!(
                    "missing key/value separator \"=\" in URI query parameter: \"{kv}\""
                ))
            })?;
            out.push((percent_decode(k)?, percent_decode(v)?));
        }
    }
    Ok(out)
}

/// Parses `primary_conninfo`.
pub fn parse(s: &str) -> Result<Conninfo> {
    let trimmed = s.trim();
    let pairs = if trimmed.starts_with("postgresql://") || trimmed.starts_with("postgres://") {
        uri_pairs(trimmed)?
    } else {
        keyword_pairs(trimmed)?
    };
    let mut c = Conninfo {
        host: "/tmp".into(),
        port: 5432,
        user: std::env::var("USER").unwrap_or_else(|_| "postgres".into()),
        password: None,
        application_name: None,
        sslmode: "prefer".into(),
        passfile: None,
        connect_timeout: None,
    };
    for (k, v) in pairs {
        match k.as_str() {
            "host" | "hostaddr" if !v.is_empty() => c.host = v,
            "port" if !v.is_empty() => {
                c.port = v
                    .parse()
                    .map_err(|_| bad(format!("invalid port number: \"{v}\"")))?
            }
            "user" if !v.is_empty() => c.user = v,
            "password" => c.password = Some(v),
            "application_name" => c.application_name = Some(v),
            "sslmode" => c.sslmode = v,
            "passfile" => c.passfile = Some(v),
            "connect_timeout" => {
                let secs: i64 = v.trim().parse().map_err(|_| {
                    bad(format!(
                        "invalid integer value \"{v}\" for connection option \"connect_timeout\""
                    ))
                })?;
                c.connect_timeout =
                    (secs > 0).then(|| std::time::Duration::from_secs(secs.max(2) as u64));
            }
            _ => {}
        }
    }
    if c.password.is_none() {
        c.password = passfile_password(&c);
    }
    Ok(c)
}

/// Looks the password up in `passfile` or `~/.pgpass` (`host:port:db:user:password`,
/// `*` matching anything; the database of a replication connection is `replication`).
fn passfile_password(c: &Conninfo) -> Option<String> {
    let path = match &c.passfile {
        Some(p) => std::path::PathBuf::from(p),
        None => std::path::PathBuf::from(std::env::var("HOME").ok()?).join(".pgpass"),
    };
    let text = std::fs::read_to_string(path).ok()?;
    let host = if c.host.starts_with('/') {
        "localhost"
    } else {
        c.host.as_str()
    };
    let port = c.port.to_string();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = Vec::new();
        let mut cur = String::new();
        let mut chars = line.chars();
        while let Some(ch) = chars.next() {
            match ch {
                '\\' => cur.extend(chars.next()),
                ':' if fields.len() < 4 => fields.push(std::mem::take(&mut cur)),
                _ => cur.push(ch),
            }
        }
        fields.push(cur);
        if fields.len() != 5 {
            continue;
        }
        let m = |pat: &str, v: &str| pat == "*" || pat == v;
        if m(&fields[0], host)
            && m(&fields[1], &port)
            && m(&fields[2], "replication")
            && m(&fields[3], &c.user)
        {
            return Some(fields[4].clone());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_timeout_follows_libpq() {
        let t = |s: &str| parse(s).map(|c| c.connect_timeout.map(|d| d.as_secs()));
        assert_eq!(t("host=h connect_timeout=10").unwrap(), Some(10));
        assert_eq!(t("host=h connect_timeout=1").unwrap(), Some(2));
        assert_eq!(t("host=h connect_timeout=0").unwrap(), None);
        assert_eq!(t("host=h connect_timeout=-3").unwrap(), None);
        assert_eq!(t("host=h").unwrap(), None);
        assert_eq!(
            t("host=h connect_timeout=x").unwrap_err().message,
            "invalid integer value \"x\" for connection option \"connect_timeout\""
        );
    }

    #[test]
    fn keyword_form() {
        let c = parse("host=127.0.0.1 port=5433 user=repl password='p w\\'x' application_name=s1 sslmode=disable").unwrap();
        assert_eq!(c.host, "127.0.0.1");
        assert_eq!(c.port, 5433);
        assert_eq!(c.user, "repl");
        assert_eq!(c.password.as_deref(), Some("p w'x"));
        assert_eq!(c.application_name.as_deref(), Some("s1"));
        assert_eq!(c.sslmode, "disable");
        assert!(parse("host").is_err());
        assert!(parse("host='x").is_err());
        assert!(parse("port=abc").is_err());
    }

    #[test]
    fn uri_form() {
        let c = parse(
            "postgresql://repl:s%40cret@[::1]:5444/postgres?application_name=x&sslmode=disable",
        )
        .unwrap();
        assert_eq!(c.host, "::1");
        assert_eq!(c.port, 5444);
        assert_eq!(c.user, "repl");
        assert_eq!(c.password.as_deref(), Some("s@cret"));
        assert_eq!(c.application_name.as_deref(), Some("x"));
        let c = parse("postgres://u@h").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("h", 5432));
    }
}
