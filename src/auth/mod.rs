//! Password secrets and authentication exchanges: md5 and SCRAM-SHA-256, as PostgreSQL
//! 15 stores and checks them.
//!
//! What it owns:
//! - the two stored-secret formats ([`md5::secret`] gives `md5<32 hex>`,
//!   [`scram::secret`] gives `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`),
//!   recognising them ([`secret_kind`]) and choosing one for `CREATE ROLE … PASSWORD`
//!   ([`encrypt_password`]);
//! - checking an MD5 challenge response ([`md5::verify_response`]) and a cleartext
//!   password against either secret ([`verify_cleartext`]);
//! - the server side of one SCRAM-SHA-256 exchange ([`scram::ScramExchange`]),
//!   including PostgreSQL's mock exchange for roles without a usable secret.
//!
//! Which exchange to run is the server's decision (pg_hba method × stored secret, see
//! shared/reference/startup-and-auth.md §5): `md5` in pg_hba.conf with a SCRAM secret
//! runs SCRAM; `scram-sha-256` with an md5 secret runs the mock exchange.
//!
//! Invariants: this module is pure — no sockets, no clocks, no global state except
//! the per-process mock nonce; every malformed client message gives an [`Error`]
//! (08P01 `malformed SCRAM message`, or 28P01 for a wrong password), never a panic;
//! proofs are compared in constant time.
//!
//! A SCRAM exchange, step by step (user `postgres`, password `pgpass`):
//! 1. The server sends AuthenticationSASL listing `SCRAM-SHA-256`; the client answers
//!    with `n,,n=,r=<client nonce>`.
//! 2. [`scram::ScramExchange::server_first`] checks the gs2 header, keeps the client
//!    nonce, appends 18 random bytes of server nonce (24 base64 characters) and answers
//!    `r=<nonce>,s=<salt>,i=4096` (AuthenticationSASLContinue).
//! 3. The client sends `c=biws,r=<nonce>,p=<proof>`;
//!    [`scram::ScramExchange::server_final`] recomputes
//!    `ClientKey = proof XOR HMAC(StoredKey, AuthMessage)`, checks
//!    `SHA256(ClientKey) == StoredKey`, and answers `v=<ServerSignature>`
//!    (AuthenticationSASLFinal), after which the server sends AuthenticationOk.

use crate::error::{sqlstate, Error};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// MD5 secrets and the MD5 challenge-response exchange.
pub mod md5 {
    use super::{constant_time_eq, hex};
    use md5::{Digest, Md5};

    fn md5_hex(parts: &[&[u8]]) -> String {
        let mut h = Md5::new();
        for p in parts {
            h.update(p);
        }
        hex(&h.finalize())
    }

    /// The stored md5 secret: `"md5" + hex(md5(password || user))`.
    pub fn secret(user: &str, password: &str) -> String {
        format!("md5{}", md5_hex(&[password.as_bytes(), user.as_bytes()]))
    }

    /// What a client sends for an MD5 challenge: `"md5" + hex(md5(hex part of the
    /// secret || salt))`.
    pub fn client_response(user: &str, password: &str, salt: [u8; 4]) -> String {
        response_for_secret(&secret(user, password), salt)
    }

    fn response_for_secret(stored_secret: &str, salt: [u8; 4]) -> String {
        format!("md5{}", md5_hex(&[&stored_secret.as_bytes()[3..], &salt]))
    }

    /// Checks a client's response to an MD5 challenge with `salt` against a stored md5
    /// secret. False for a wrong response or a secret that is not an md5 secret.
    pub fn verify_response(stored_secret: &str, salt: [u8; 4], response: &str) -> bool {
        if !is_secret(stored_secret) {
            return false;
        }
        let expected = response_for_secret(stored_secret, salt);
        constant_time_eq(expected.as_bytes(), response.as_bytes())
    }

    /// True when `s` has the form of an md5 secret: `md5` and 32 lowercase hex digits.
    pub fn is_secret(s: &str) -> bool {
        s.len() == 35
            && s.starts_with("md5")
            && s[3..]
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }
}

/// SCRAM-SHA-256 secrets and the server side of the exchange (RFC 5802 / 7677).
pub mod scram;

/// The kind of a stored password secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// `md5` followed by 32 hex digits.
    Md5,
    /// A well-formed `SCRAM-SHA-256$…` secret.
    Scram,
    /// Anything else (a cleartext password).
    Plain,
}

/// Classifies a stored secret (or a password given to CREATE ROLE) as PostgreSQL's
/// `get_password_type` does.
pub fn secret_kind(stored: &str) -> SecretKind {
    if md5::is_secret(stored) {
        SecretKind::Md5
    } else if scram::parse_secret(stored).is_some() {
        SecretKind::Scram
    } else {
        SecretKind::Plain
    }
}

/// Checks a cleartext password (pg_hba method `password`) against a stored md5 or
/// SCRAM secret (or, for a plain stored value, against the value itself).
pub fn verify_cleartext(user: &str, stored_secret: &str, password: &str) -> bool {
    match secret_kind(stored_secret) {
        SecretKind::Md5 => constant_time_eq(
            md5::secret(user, password).as_bytes(),
            stored_secret.as_bytes(),
        ),
        SecretKind::Scram => scram::verify_plain(stored_secret, password),
        SecretKind::Plain => constant_time_eq(stored_secret.as_bytes(), password.as_bytes()),
    }
}

/// Encrypts a password for storage as `password_encryption` says (`scram-sha-256` or
/// `md5`); a password that already is a valid md5 or SCRAM secret is stored as given.
pub fn encrypt_password(password_encryption: &str, user: &str, password: &str) -> String {
    if secret_kind(password) != SecretKind::Plain {
        return password.to_string();
    }
    if password_encryption.eq_ignore_ascii_case("md5") {
        md5::secret(user, password)
    } else {
        scram::secret(password)
    }
}

/// The message of every failed password check (28P01).
pub fn password_failed(user: &str) -> Error {
    Error::fatal(
        sqlstate::INVALID_PASSWORD,
        format!("password authentication failed for user \"{user}\""),
    )
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(data);
    m.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_reference_vector() {
        assert_eq!(
            md5::secret("md5user", "md5pass"),
            "md57541d4e65fae11bd07f18dc6fe2b02bc"
        );
        let salt = [0x1c, 0x27, 0x5b, 0x11];
        assert_eq!(
            md5::client_response("md5user", "md5pass", salt),
            "md5bc8ac4b172045de78fbcd5e02f285a25"
        );
        let stored = "md57541d4e65fae11bd07f18dc6fe2b02bc";
        assert!(md5::verify_response(
            stored,
            salt,
            "md5bc8ac4b172045de78fbcd5e02f285a25"
        ));
        assert!(!md5::verify_response(
            stored,
            [0, 0, 0, 0],
            "md5bc8ac4b172045de78fbcd5e02f285a25"
        ));
        assert!(!md5::verify_response(stored, salt, "md5"));
        assert!(!md5::verify_response("SCRAM-SHA-256$x", salt, "md5bc8a"));
    }

    #[test]
    fn kinds_and_encryption() {
        assert_eq!(
            secret_kind("md57541d4e65fae11bd07f18dc6fe2b02bc"),
            SecretKind::Md5
        );
        assert_eq!(
            secret_kind("md57541d4e65fae11bd07f18dc6fe2b02b"),
            SecretKind::Plain
        );
        assert_eq!(
            secret_kind("md57541D4E65FAE11BD07F18DC6FE2B02BC"),
            SecretKind::Plain
        );
        assert_eq!(secret_kind(scram::REFERENCE_SECRET), SecretKind::Scram);
        assert_eq!(secret_kind("SCRAM-SHA-256$4096:abc"), SecretKind::Plain);
        assert_eq!(secret_kind("hunter2"), SecretKind::Plain);

        let m = encrypt_password("md5", "md5user", "md5pass");
        assert_eq!(m, "md57541d4e65fae11bd07f18dc6fe2b02bc");
        let s = encrypt_password("scram-sha-256", "u", "pw");
        assert_eq!(secret_kind(&s), SecretKind::Scram);
        assert_eq!(encrypt_password("md5", "x", &s), s);
        assert_eq!(encrypt_password("scram-sha-256", "x", &m), m);

        assert!(verify_cleartext("md5user", &m, "md5pass"));
        assert!(!verify_cleartext("md5user", &m, "wrong"));
        assert!(verify_cleartext(
            "postgres",
            scram::REFERENCE_SECRET,
            "pgpass"
        ));
        assert!(!verify_cleartext(
            "postgres",
            scram::REFERENCE_SECRET,
            "pgpas"
        ));
        assert!(verify_cleartext("u", &s, "pw"));
        assert!(verify_cleartext("u", "plain", "plain"));
        assert_eq!(
            password_failed("ghost").message,
            "password authentication failed for user \"ghost\""
        );
    }
}
