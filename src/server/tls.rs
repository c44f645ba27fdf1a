//! TLS for `ssl = on`: a rustls acceptor built from `ssl_cert_file` and `ssl_key_file`.
//!
//! Relative paths are relative to the data directory, as PostgreSQL resolves them. A
//! missing or unreadable file stops start-up with PostgreSQL's message. This file must
//! never read from a socket; [`super::connection`] runs the handshake.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls;

use crate::config::ServerConfig;
use crate::error::{sqlstate, Error, Result};

/// Builds the acceptor from the configured certificate and key.
pub fn acceptor(datadir: &Path, config: &ServerConfig) -> Result<tokio_rustls::TlsAcceptor> {
    let cert_setting = config.get_str("ssl_cert_file");
    let key_setting = config.get_str("ssl_key_file");
    let cert_path = datadir.join(&cert_setting);
    let key_path = datadir.join(&key_setting);
    let fatal = |m: String| Error::fatal(sqlstate::CONFIG_FILE_ERROR, m);

    let cert_pem = std::fs::read(&cert_path).map_err(|e| {
        fatal(format!(
            "could not load server certificate file \"{cert_setting}\": {e}"
        ))
    })?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| {
            fatal(format!(
                "could not load server certificate file \"{cert_setting}\": {e}"
            ))
        })?;
    if certs.is_empty() {
        return Err(fatal(format!(
            "could not load server certificate file \"{cert_setting}\": no certificate found"
        )));
    }
    let key_pem = std::fs::read(&key_path).map_err(|e| {
        fatal(format!(
            "could not load private key file \"{key_setting}\": {e}"
        ))
    })?;
    let key = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|e| {
            fatal(format!(
                "could not load private key file \"{key_setting}\": {e}"
            ))
        })?
        .ok_or_else(|| {
            fatal(format!(
                "could not load private key file \"{key_setting}\": no key found"
            ))
        })?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fatal(format!("could not set up TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            fatal(format!(
                "private key file \"{key_setting}\" does not match the certificate: {e}"
            ))
        })?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(server_config)))
}
