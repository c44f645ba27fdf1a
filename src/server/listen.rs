//! Listening sockets: TCP from `listen_addresses`, Unix sockets from
//! `unix_socket_directories`.
//!
//! This file owns turning the two settings into bound, listening sockets, with
//! PostgreSQL's behaviour and log lines:
//! 1. `listen_addresses` is a comma-separated list: `*` means every IPv4 and IPv6
//!    address, `localhost` and other host names resolve to each of their addresses,
//!    literal addresses are used as written, an empty list means no TCP at all.
//! 2. Every socket gets SO_REUSEADDR, IPv6 sockets IPV6_V6ONLY (so `0.0.0.0` and `::`
//!    coexist), and each success logs `listening on IPv4 address "…", port N`.
//! 3. A failed bind logs PostgreSQL's `could not bind …` with its hint and goes on; only
//!    when nothing at all could be bound does start-up fail (`could not create any
//!    TCP/IP sockets`).
//! 4. Unix sockets are `<dir>/.s.PGSQL.<port>` with a `.lock` file beside them (written
//!    by [`crate::cluster::pidfile`]), permissions from `unix_socket_permissions`.
//!
//! What this file must never do: accept connections or speak the protocol.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use tokio::net::{TcpListener, TcpSocket, UnixListener};

use crate::error::{sqlstate, Error, Result};

/// A bound Unix-domain socket and the lock file that guards its path.
pub struct UnixSocket {
    /// The listening socket, taken by the accept task once it starts.
    pub listener: Option<UnixListener>,
    /// The socket's path (`<dir>/.s.PGSQL.<port>`), removed at shutdown.
    pub path: PathBuf,
    /// The lock file guard (`.s.PGSQL.<port>.lock`), removed when dropped.
    pub lock: crate::cluster::pidfile::SocketLock,
}

impl Drop for UnixSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Resolves `listen_addresses` to the addresses to bind, in order.
pub fn resolve_listen_addresses(setting: &str) -> Result<Vec<IpAddr>> {
    let mut out = Vec::new();
    for item in setting.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let item = item.trim_matches('"');
        if item == "*" {
            out.push(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            out.push(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        } else if let Ok(ip) = item.parse::<IpAddr>() {
            out.push(ip);
        } else {
            let addrs = (item, 0u16).to_socket_addrs().map_err(|e| {
                Error::new(
                    sqlstate::CONFIG_FILE_ERROR,
                    format!(
                        "could not translate host name \"{item}\", service \"0\" to address: {e}"
                    ),
                )
            })?;
            for a in addrs {
                if !out.contains(&a.ip()) {
                    out.push(a.ip());
                }
            }
        }
    }
    Ok(out)
}

/// Binds one TCP listener the way PostgreSQL does (SO_REUSEADDR, IPV6_V6ONLY); the
/// metrics listener binds the same way.
pub(crate) fn bind_tcp(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => {
            let s = TcpSocket::new_v6()?;
            let one: libc::c_int = 1;
            // SAFETY: a valid socket fd and a properly sized option value.
            let rc = unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::IPPROTO_IPV6,
                    libc::IPV6_V6ONLY,
                    &one as *const libc::c_int as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
            s
        }
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Binds every TCP listener `listen_addresses` names on `port`.
pub fn bind_tcp_listeners(setting: &str, port: u16) -> Result<Vec<TcpListener>> {
    let addrs = resolve_listen_addresses(setting)?;
    let mut listeners = Vec::new();
    for ip in &addrs {
        let family = if ip.is_ipv4() { "IPv4" } else { "IPv6" };
        match bind_tcp(SocketAddr::new(*ip, port)) {
            Ok(l) => {
                tracing::info!("listening on {family} address \"{ip}\", port {port}");
                listeners.push(l);
            }
            Err(e) => {
                tracing::warn!(
                    hint = format!(
                        "Is another postmaster already running on port {port}? If not, wait a few seconds and retry."
                    ),
                    severity = "LOG",
                    "could not bind {family} address \"{ip}\": {e}"
                );
            }
        }
    }
    if listeners.is_empty() && !addrs.is_empty() {
        return Err(Error::fatal(
            sqlstate::IO_ERROR,
            "could not create any TCP/IP sockets",
        ));
    }
    Ok(listeners)
}

/// The socket file name for a directory and port.
pub fn socket_path(dir: &Path, port: u16) -> PathBuf {
    dir.join(format!(".s.PGSQL.{port}"))
}

/// Binds the Unix sockets of `unix_socket_directories` on `port`.
pub fn bind_unix_sockets(
    setting: &str,
    port: u16,
    permissions: u32,
    datadir: &Path,
) -> Result<Vec<UnixSocket>> {
    let dirs: Vec<&str> = setting
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let mut sockets = Vec::new();
    for dir in &dirs {
        let dir = Path::new(dir.trim_matches('"'));
        let path = socket_path(dir, port);
        let lock = match crate::cluster::pidfile::create_socket_lock(dir, port, datadir) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(
                    severity = "LOG",
                    "could not create Unix socket for directory \"{}\": {}",
                    dir.display(),
                    e.message
                );
                continue;
            }
        };
        // The lock file is ours, so a socket file left at this path is stale.
        let _ = std::fs::remove_file(&path);
        match UnixListener::bind(&path) {
            Ok(listener) => {
                use std::os::unix::fs::PermissionsExt;
                let _ =
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(permissions));
                tracing::info!("listening on Unix socket \"{}\"", path.display());
                sockets.push(UnixSocket {
                    listener: Some(listener),
                    path,
                    lock,
                });
            }
            Err(e) => {
                tracing::warn!(
                    severity = "LOG",
                    "could not bind Unix address \"{}\": {}",
                    path.display(),
                    e
                );
            }
        }
    }
    if sockets.is_empty() && !dirs.is_empty() {
        return Err(Error::fatal(
            sqlstate::IO_ERROR,
            "could not create any Unix-domain sockets",
        ));
    }
    Ok(sockets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_resolve_like_postgres() {
        assert_eq!(resolve_listen_addresses("").unwrap(), Vec::<IpAddr>::new());
        let all = resolve_listen_addresses("*").unwrap();
        assert_eq!(all.len(), 2);
        let l = resolve_listen_addresses("127.0.0.1, ::1").unwrap();
        assert_eq!(
            l,
            vec![
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        assert!(resolve_listen_addresses("localhost")
            .unwrap()
            .contains(&"127.0.0.1".parse::<IpAddr>().unwrap()));
    }
}
