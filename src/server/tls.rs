//! TLS for `ssl = on`: a rustls acceptor built from `ssl_cert_file` and `ssl_key_file`,
//! and the certificate's `tls-server-end-point` channel-binding data (RFC 5929) that
//! SCRAM-SHA-256-PLUS binds a client's proof to ([`server_end_point`]).
//!
//! Relative paths are relative to the data directory, as PostgreSQL resolves them. A
//! missing or unreadable file stops start-up with PostgreSQL's message. This file must
//! never read from a socket; [`super::connection`] runs the handshake.

use std::path::Path;
use std::sync::{Arc, Mutex};

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

    let end_point = end_point_hash(&certs[0]);
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
    *END_POINT.lock().unwrap_or_else(|p| p.into_inner()) = end_point;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(server_config)))
}

/// The channel-binding data of the certificate the acceptor serves.
static END_POINT: Mutex<Option<Vec<u8>>> = Mutex::new(None);

/// The `tls-server-end-point` data of the server's certificate, when TLS is set up
/// and the certificate's signature algorithm names a hash (else SCRAM-SHA-256-PLUS is
/// not offered).
pub fn server_end_point() -> Option<Vec<u8>> {
    END_POINT.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// RFC 5929: the certificate hashed with its signature's hash function, SHA-256 for
/// MD5 and SHA-1; None for an algorithm without one (Ed25519, RSASSA-PSS).
fn end_point_hash(der: &[u8]) -> Option<Vec<u8>> {
    use sha2::Digest;
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
    let (_, cert, _) = der_item(der).filter(|(t, _, _)| *t == 0x30)?;
    let (_, _, rest) = der_item(cert)?;
    let (_, alg, _) = der_item(rest).filter(|(t, _, _)| *t == 0x30)?;
    let (_, oid, _) = der_item(alg).filter(|(t, _, _)| *t == 0x06)?;
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA_SHA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03];
    const ECDSA_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01];
    let bits = match oid {
        // md5/sha1/sha256 WithRSAEncryption, ecdsa-with-SHA1/SHA256
        [r @ .., 4 | 5 | 11] if r == RSA => 256,
        [r @ .., 12] if r == RSA => 384,
        [r @ .., 13] if r == RSA => 512,
        o if o == ECDSA_SHA1 => 256,
        [r @ .., 2] if r == ECDSA_SHA => 256,
        [r @ .., 3] if r == ECDSA_SHA => 384,
        [r @ .., 4] if r == ECDSA_SHA => 512,
        _ => return None,
    };
    Some(match bits {
        256 => sha2::Sha256::digest(der).to_vec(),
        384 => sha2::Sha384::digest(der).to_vec(),
        _ => sha2::Sha512::digest(der).to_vec(),
    })
}

/// One DER element: (tag, contents, what follows it).
fn der_item(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)? as usize;
    let (len, head) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = len << 8 | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = head.checked_add(len)?;
    Some((tag, b.get(head..end)?, b.get(end..)?))
}

/// The encryption of an accepted connection as PostgreSQL's `log_connections` line
/// shows it: `protocol=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384, bits=256` (OpenSSL's
/// names for the protocol and cipher, which PostgreSQL prints).
pub fn describe(conn: &rustls::ServerConnection) -> Option<String> {
    let protocol = match conn.protocol_version()? {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
        _ => "unknown",
    };
    let suite = format!("{:?}", conn.negotiated_cipher_suite()?.suite());
    Some(format!(
        "protocol={protocol}, cipher={}, bits={}",
        openssl_cipher_name(&suite),
        if suite.contains("AES_128") { 128 } else { 256 }
    ))
}

/// OpenSSL's name for a rustls cipher suite name: `TLS13_AES_256_GCM_SHA384` →
/// `TLS_AES_256_GCM_SHA384`, `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256` →
/// `ECDHE-RSA-AES128-GCM-SHA256`.
fn openssl_cipher_name(rustls_name: &str) -> String {
    if let Some(rest) = rustls_name.strip_prefix("TLS13_") {
        return format!("TLS_{rest}");
    }
    let Some((kx, cipher)) = rustls_name
        .strip_prefix("TLS_")
        .and_then(|r| r.split_once("_WITH_"))
    else {
        return rustls_name.to_string();
    };
    let cipher = cipher
        .replace("AES_128", "AES128")
        .replace("AES_256", "AES256")
        .replace("CHACHA20_POLY1305_SHA256", "CHACHA20-POLY1305");
    format!("{kx}-{cipher}").replace('_', "-")
}

#[cfg(test)]
mod cipher_name_tests {
    use super::openssl_cipher_name;

    #[test]
    fn rustls_suites_get_openssl_names() {
        assert_eq!(
            openssl_cipher_name("TLS13_AES_256_GCM_SHA384"),
            "TLS_AES_256_GCM_SHA384"
        );
        assert_eq!(
            openssl_cipher_name("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            "ECDHE-RSA-AES128-GCM-SHA256"
        );
        assert_eq!(
            openssl_cipher_name("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
            "ECDHE-ECDSA-CHACHA20-POLY1305"
        );
    }
}
