//! SCRAM-SHA-256: stored secrets and the server side of one exchange, as PostgreSQL 15
//! implements them (RFC 5802 and RFC 7677), with SCRAM-SHA-256-PLUS channel binding of
//! type `tls-server-end-point` (RFC 5929) over TLS.
//!
//! Message shapes (all ASCII, attributes separated by commas):
//! ```text
//! client-first  = gs2-header client-first-bare     gs2-header = ("n" | "y" | "p=tls-server-end-point") ",,"
//! client-first-bare = "n=" user ",r=" client-nonce ["," extensions]
//! server-first  = "r=" client-nonce server-nonce ",s=" salt-b64 ",i=" iterations
//! client-final  = "c=" b64(gs2-header) ",r=" nonce ["," extensions] ",p=" proof-b64
//! server-final  = "v=" server-signature-b64
//! ```
//! The user name in `n=` is ignored (libpq sends it empty): the role is the one from
//! the StartupMessage.
//!
//! Invariants: an exchange moves strictly Init → server-first sent → done; any step out
//! of order or any malformed message is an error (08P01), and a failed or mock exchange
//! never yields a server-final message.

use super::{constant_time_eq, hmac, password_failed, sha256};
use crate::error::{sqlstate, Error, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use std::sync::OnceLock;

/// The iteration count PostgreSQL uses for new secrets.
pub const ITERATIONS: u32 = 4096;
/// The salt length PostgreSQL uses for new secrets.
pub const SALT_LEN: usize = 16;
/// The number of random bytes in the server's part of the nonce.
pub const NONCE_LEN: usize = 18;

/// A stored secret observed on PostgreSQL 15 for password `pgpass` (reference §5).
#[cfg(test)]
pub(crate) const REFERENCE_SECRET: &str = "SCRAM-SHA-256$4096:StU1eT+QyuwepuMY6hRcxA==$PgQcPodQ8G98hZ9LgcG7Gahluo0lHkzbxz8HUNhL7I0=:UQsQozN6fmqMpxpazOqy9AElr7zqYge7xEbHlurdGaE=";

/// The parts of a stored `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>` secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramSecret {
    /// The PBKDF2 iteration count.
    pub iterations: u32,
    /// The salt (raw bytes).
    pub salt: Vec<u8>,
    /// SHA256(HMAC(SaltedPassword, "Client Key")).
    pub stored_key: [u8; 32],
    /// HMAC(SaltedPassword, "Server Key").
    pub server_key: [u8; 32],
}

/// Prepares a password as SASLprep (RFC 4013) would, as far as tusk implements it:
/// ASCII passwords are unchanged; otherwise non-ASCII spaces become spaces and
/// "commonly mapped to nothing" characters are dropped, and a password with a
/// prohibited character (or empty after mapping) is used as raw bytes, as PostgreSQL
/// does when SASLprep fails. NFKC normalisation is not applied.
pub fn saslprep(password: &str) -> Vec<u8> {
    if password.is_ascii() {
        return password.as_bytes().to_vec();
    }
    let mut out = String::new();
    for c in password.chars() {
        let u = c as u32;
        let space = matches!(
            u,
            0xA0 | 0x1680 | 0x2000..=0x200B | 0x202F | 0x205F | 0x3000
        );
        let nothing = matches!(
            u,
            0xAD | 0x34F | 0x1806 | 0x180B..=0x180D | 0x200C | 0x200D | 0x2060 | 0xFE00..=0xFE0F | 0xFEFF
        );
        let prohibited = matches!(
            u,
            0x00..=0x1F
                | 0x7F..=0x9F
                | 0x340
                | 0x341
                | 0x200E
                | 0x200F
                | 0x202A..=0x202E
                | 0x206A..=0x206F
                | 0x2FF0..=0x2FFB
                | 0xE000..=0xF8FF
                | 0xFDD0..=0xFDEF
                | 0xFFF9..=0xFFFF
                | 0xE0001
                | 0xE0020..=0xE007F
                | 0xF0000..=0x10FFFF
        ) || (u & 0xFFFE) == 0xFFFE;
        if prohibited {
            return password.as_bytes().to_vec();
        }
        if space {
            out.push(' ');
        } else if !nothing {
            out.push(c);
        }
    }
    if out.is_empty() {
        return password.as_bytes().to_vec();
    }
    out.into_bytes()
}

fn salted_password(password: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(&saslprep(password), salt, iterations, &mut out);
    out
}

/// Builds a stored secret from a password, salt and iteration count.
pub fn secret_with_salt(password: &str, salt: &[u8], iterations: u32) -> String {
    let salted = salted_password(password, salt, iterations);
    let stored_key = sha256(&hmac(&salted, b"Client Key"));
    let server_key = hmac(&salted, b"Server Key");
    format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        B64.encode(salt),
        B64.encode(stored_key),
        B64.encode(server_key)
    )
}

/// A new stored secret for `password`: 4096 iterations and a random 16-byte salt.
pub fn secret(password: &str) -> String {
    let salt: [u8; SALT_LEN] = rand::random();
    secret_with_salt(password, &salt, ITERATIONS)
}

/// Parses a stored secret; None unless it is well formed (positive iteration count,
/// valid base64, 32-byte keys).
pub fn parse_secret(s: &str) -> Option<ScramSecret> {
    let rest = s.strip_prefix("SCRAM-SHA-256$")?;
    let (iter_salt, keys) = rest.split_once('$')?;
    let (iter, salt) = iter_salt.split_once(':')?;
    let (stored, server) = keys.split_once(':')?;
    let iterations: u32 = iter.parse().ok().filter(|i| *i > 0)?;
    let salt = B64.decode(salt).ok()?;
    let stored_key: [u8; 32] = B64.decode(stored).ok()?.try_into().ok()?;
    let server_key: [u8; 32] = B64.decode(server).ok()?.try_into().ok()?;
    Some(ScramSecret {
        iterations,
        salt,
        stored_key,
        server_key,
    })
}

/// Checks a cleartext password against a stored SCRAM secret.
pub fn verify_plain(stored: &str, password: &str) -> bool {
    let Some(sec) = parse_secret(stored) else {
        return false;
    };
    let salted = salted_password(password, &sec.salt, sec.iterations);
    let stored_key = sha256(&hmac(&salted, b"Client Key"));
    let server_key = hmac(&salted, b"Server Key");
    constant_time_eq(&stored_key, &sec.stored_key) && constant_time_eq(&server_key, &sec.server_key)
}

/// The per-process secret from which mock salts are derived, so that a role without a
/// secret always shows the same salt (PostgreSQL uses a per-cluster nonce).
fn mock_nonce() -> &'static [u8; 32] {
    static NONCE: OnceLock<[u8; 32]> = OnceLock::new();
    NONCE.get_or_init(rand::random)
}

fn malformed(detail: impl Into<String>) -> Error {
    Error::fatal(sqlstate::PROTOCOL_VIOLATION, "malformed SCRAM message").with_detail(detail)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Init,
    ServerFirstSent,
    Finished,
}

/// The server side of one SCRAM-SHA-256 exchange.
#[derive(Debug, Clone)]
pub struct ScramExchange {
    user: String,
    secret: Option<ScramSecret>,
    channel_binding_offered: bool,
    /// The client chose SCRAM-SHA-256-PLUS: the `tls-server-end-point` data (the hash of
    /// the server's certificate) its proof must be bound to.
    channel_binding: Option<Vec<u8>>,
    state: State,
    server_nonce: String,
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

impl ScramExchange {
    /// Starts an exchange for `user`. `secret` None (no such role, or no secret), or a
    /// secret that is not a valid SCRAM secret, runs PostgreSQL's mock exchange: a
    /// deterministic fake salt derived from the user name, which always fails at the end.
    /// `channel_binding_offered` says whether SCRAM-SHA-256-PLUS was advertised.
    pub fn new(user: &str, secret: Option<&str>, channel_binding_offered: bool) -> ScramExchange {
        let nonce: [u8; NONCE_LEN] = rand::random();
        ScramExchange::with_server_nonce(user, secret, channel_binding_offered, &B64.encode(nonce))
    }

    /// Like [`ScramExchange::new`] with a chosen server nonce (printable ASCII, no
    /// commas), for deterministic tests.
    pub fn with_server_nonce(
        user: &str,
        secret: Option<&str>,
        channel_binding_offered: bool,
        server_nonce: &str,
    ) -> ScramExchange {
        ScramExchange {
            user: user.to_string(),
            secret: secret.and_then(parse_secret),
            channel_binding_offered,
            channel_binding: None,
            state: State::Init,
            server_nonce: server_nonce.to_string(),
            gs2_header: String::new(),
            client_first_bare: String::new(),
            server_first: String::new(),
            nonce: String::new(),
        }
    }

    /// The client selected SCRAM-SHA-256-PLUS: its messages must carry channel binding
    /// to `end_point` (the `tls-server-end-point` data of the connection's certificate).
    pub fn bind_to(&mut self, end_point: Vec<u8>) {
        self.channel_binding_offered = true;
        self.channel_binding = Some(end_point);
    }

    /// True when this is a mock exchange that can only fail (no usable SCRAM secret);
    /// the server uses it to choose the log DETAIL.
    pub fn is_mock(&self) -> bool {
        self.secret.is_none()
    }

    /// Takes the SASLInitialResponse data (client-first-message) and returns the
    /// server-first-message. Accepts gs2 headers `n,,` and `y,,` (rejects `p=` when
    /// channel binding was not offered); ignores the `n=` user name.
    pub fn server_first(&mut self, client_first: &[u8]) -> Result<Vec<u8>> {
        if self.state != State::Init {
            return Err(malformed("Unexpected SCRAM message order."));
        }
        self.state = State::Finished;
        let text = std::str::from_utf8(client_first)
            .map_err(|_| malformed("Message is not valid UTF-8."))?;
        let (flag, rest) = match text.as_bytes().first() {
            Some(b'n') | Some(b'y') if self.channel_binding.is_some() => {
                return Err(malformed(
                    "The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include channel binding data.",
                ));
            }
            Some(b'n') | Some(b'y') => (&text[..1], &text[1..]),
            Some(b'p') => {
                if self.channel_binding.is_none() {
                    return Err(malformed(
                        "The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data.",
                    ));
                }
                let (kind, rest) = text[1..].split_once(',').unwrap_or((&text[1..], ""));
                let kind = kind.strip_prefix('=').unwrap_or(kind);
                if kind != "tls-server-end-point" {
                    return Err(Error::fatal(
                        sqlstate::PROTOCOL_VIOLATION,
                        format!("unsupported SCRAM channel-binding type \"{kind}\""),
                    ));
                }
                (
                    &text[..text.len() - rest.len() - 1],
                    &text[text.len() - rest.len() - 1..],
                )
            }
            Some(_) => {
                let c: String = text.chars().take(1).collect();
                return Err(malformed(format!(
                    "Unexpected channel-binding flag \"{c}\"."
                )));
            }
            None => return Err(malformed("Input message is empty.")),
        };
        if flag == "y" && self.channel_binding_offered {
            return Err(Error::fatal(
                sqlstate::PROTOCOL_VIOLATION,
                "SCRAM channel binding negotiation error",
            )
            .with_detail("The client supports SCRAM channel binding but thinks the server does not.  However, this server does support channel binding."));
        }
        let rest = rest.strip_prefix(',').ok_or_else(|| {
            malformed("Comma expected, but found character after channel-binding flag.")
        })?;
        if rest.starts_with("a=") {
            return Err(Error::fatal(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "client uses authorization identity, but it is not supported",
            ));
        }
        let bare = rest
            .strip_prefix(',')
            .ok_or_else(|| malformed("Unexpected attribute in client-first-message."))?;
        let mut attrs = bare.split(',');
        let first = attrs.next().unwrap_or("");
        if first.starts_with("m=") {
            return Err(Error::fatal(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "client requires an unsupported SCRAM extension",
            ));
        }
        if !first.starts_with("n=") {
            return Err(malformed(format!(
                "Expected attribute \"n\" but found \"{first}\"."
            )));
        }
        let r = attrs.next().unwrap_or("");
        let client_nonce = r
            .strip_prefix("r=")
            .ok_or_else(|| malformed(format!("Expected attribute \"r\" but found \"{r}\".")))?;
        if client_nonce.is_empty()
            || !client_nonce
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
        {
            return Err(malformed("Client nonce is not printable."));
        }
        let (salt, iterations) = match &self.secret {
            Some(s) => (s.salt.clone(), s.iterations),
            None => {
                let mut data = self.user.as_bytes().to_vec();
                data.extend_from_slice(mock_nonce());
                (sha256(&data)[..SALT_LEN].to_vec(), ITERATIONS)
            }
        };
        self.gs2_header = format!("{flag},,");
        self.client_first_bare = bare.to_string();
        self.nonce = format!("{client_nonce}{}", self.server_nonce);
        self.server_first = format!("r={},s={},i={iterations}", self.nonce, B64.encode(salt));
        self.state = State::ServerFirstSent;
        Ok(self.server_first.clone().into_bytes())
    }

    /// Takes the SASLResponse data (client-final-message). Returns the
    /// server-final-message (`v=…`) when the proof verifies; otherwise 28P01
    /// `password authentication failed for user "…"` (also for every mock exchange), or
    /// 08P01 for a malformed message.
    pub fn server_final(&mut self, client_final: &[u8]) -> Result<Vec<u8>> {
        if self.state != State::ServerFirstSent {
            return Err(malformed("Unexpected SCRAM message order."));
        }
        self.state = State::Finished;
        let text = std::str::from_utf8(client_final)
            .map_err(|_| malformed("Message is not valid UTF-8."))?;
        let mut parts = text.split(',');
        let c = parts.next().unwrap_or("");
        let cbind = c
            .strip_prefix("c=")
            .ok_or_else(|| malformed(format!("Expected attribute \"c\" but found \"{c}\".")))?;
        let decoded = B64
            .decode(cbind)
            .map_err(|_| malformed("Malformed channel binding data."))?;
        // The gs2 header, then (SCRAM-SHA-256-PLUS) the channel-binding data.
        let mut expected = self.gs2_header.as_bytes().to_vec();
        if let Some(end_point) = &self.channel_binding {
            expected.extend_from_slice(end_point);
        }
        if !constant_time_eq(&decoded, &expected) {
            return Err(Error::fatal(
                sqlstate::PROTOCOL_VIOLATION,
                "SCRAM channel binding check failed",
            ));
        }
        let r = parts.next().unwrap_or("");
        let nonce = r
            .strip_prefix("r=")
            .ok_or_else(|| malformed(format!("Expected attribute \"r\" but found \"{r}\".")))?;
        if nonce != self.nonce {
            return Err(malformed("Nonce does not match."));
        }
        let proof_at = text
            .rfind(",p=")
            .ok_or_else(|| malformed("Malformed proof in client-final-message."))?;
        let without_proof = &text[..proof_at];
        let proof_b64 = &text[proof_at + 3..];
        if proof_b64.contains(',') {
            return Err(malformed(
                "Garbage found at the end of client-final-message.",
            ));
        }
        let proof: [u8; 32] = B64
            .decode(proof_b64)
            .ok()
            .and_then(|p| p.try_into().ok())
            .ok_or_else(|| malformed("Malformed proof in client-final-message."))?;
        let Some(secret) = &self.secret else {
            return Err(password_failed(&self.user));
        };
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let signature = hmac(&secret.stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = proof.iter().zip(signature).map(|(a, b)| a ^ b).collect();
        if !constant_time_eq(&sha256(&client_key), &secret.stored_key) {
            return Err(password_failed(&self.user));
        }
        let server_sig = hmac(&secret.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_sig)).into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT_FIRST: &str = "n,,n=,r=XvYm/Qv7qMkD3KkZl7y4MvNK";
    const SERVER_NONCE: &str = "UOEYZgKu+qUEjZPPkCXTWiGW";
    const CLIENT_FINAL: &str = "c=biws,r=XvYm/Qv7qMkD3KkZl7y4MvNKUOEYZgKu+qUEjZPPkCXTWiGW,p=fKaNEMsTTd6dByS3KbW5Rene4aJoNCGZQHazuJ2QNsw=";

    /// Computes a client-final-message for `password` the way libpq does.
    fn client_final(
        password: &str,
        client_first_bare: &str,
        server_first: &str,
        gs2: &str,
    ) -> String {
        let mut it = server_first.split(',');
        let nonce = &it.next().unwrap()[2..];
        let salt = B64.decode(&it.next().unwrap()[2..]).unwrap();
        let iter: u32 = it.next().unwrap()[2..].parse().unwrap();
        let salted = salted_password(password, &salt, iter);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key = sha256(&client_key);
        let without = format!("c={},r={nonce}", B64.encode(gs2));
        let auth = format!("{client_first_bare},{server_first},{without}");
        let sig = hmac(&stored_key, auth.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(sig).map(|(a, b)| a ^ b).collect();
        format!("{without},p={}", B64.encode(proof))
    }

    #[test]
    fn reference_secret_and_exchange() {
        let salt = B64.decode("StU1eT+QyuwepuMY6hRcxA==").unwrap();
        assert_eq!(secret_with_salt("pgpass", &salt, 4096), REFERENCE_SECRET);
        let mut x = ScramExchange::with_server_nonce(
            "postgres",
            Some(REFERENCE_SECRET),
            false,
            SERVER_NONCE,
        );
        let sf = x.server_first(CLIENT_FIRST.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(sf).unwrap(),
            "r=XvYm/Qv7qMkD3KkZl7y4MvNKUOEYZgKu+qUEjZPPkCXTWiGW,s=StU1eT+QyuwepuMY6hRcxA==,i=4096"
        );
        let fin = x.server_final(CLIENT_FINAL.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(fin).unwrap(),
            "v=hxAxVh3GyFu12UCp//Rq97zuzbwAQ1qnqlV4k9rXHIs="
        );
        // Out of order.
        assert_eq!(
            x.server_final(CLIENT_FINAL.as_bytes()).unwrap_err().code,
            "08P01"
        );
    }

    #[test]
    fn parse_and_generate_secrets() {
        let s = parse_secret(REFERENCE_SECRET).unwrap();
        assert_eq!(s.iterations, 4096);
        assert_eq!(s.salt.len(), 16);
        let fresh = secret("pw");
        assert!(fresh.starts_with("SCRAM-SHA-256$4096:"));
        assert_ne!(fresh, secret("pw"));
        assert!(verify_plain(&fresh, "pw"));
        for bad in [
            "SCRAM-SHA-256$0:c2FsdA==$AAAA:AAAA",
            "SCRAM-SHA-256$4096:c2FsdA==$AAAA:AAAA",
            "SCRAM-SHA-256$4096:!!$PgQcPodQ8G98hZ9LgcG7Gahluo0lHkzbxz8HUNhL7I0=:UQsQozN6fmqMpxpazOqy9AElr7zqYge7xEbHlurdGaE=",
            "SCRAM-SHA-256$x:c2FsdA==",
            "md5abc",
            "",
        ] {
            assert!(parse_secret(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn full_exchange_with_y_header_and_odd_nonce() {
        let stored = secret("s3cret");
        let mut x = ScramExchange::new("alice", Some(&stored), false);
        let cf = "y,,n=*,r=a'&%}b";
        let sf = String::from_utf8(x.server_first(cf.as_bytes()).unwrap()).unwrap();
        assert!(sf.starts_with("r=a'&%}b"));
        assert_eq!(sf.split(',').next().unwrap().len(), 2 + 6 + 24);
        let fin = client_final("s3cret", "n=*,r=a'&%}b", &sf, "y,,");
        let v = x.server_final(fin.as_bytes()).unwrap();
        assert!(v.starts_with(b"v="));

        let mut x = ScramExchange::new("alice", Some(&stored), false);
        let sf = String::from_utf8(x.server_first(b"n,,n=,r=abc").unwrap()).unwrap();
        let fin = client_final("wrong", "n=,r=abc", &sf, "n,,");
        let e = x.server_final(fin.as_bytes()).unwrap_err();
        assert_eq!(e.code, "28P01");
        assert_eq!(
            e.message,
            "password authentication failed for user \"alice\""
        );
    }

    #[test]
    fn mock_exchange_is_stable_and_always_fails() {
        let mut a = ScramExchange::new("ghost", None, false);
        let mut b = ScramExchange::new("ghost", Some("md57541d4e65fae11bd07f18dc6fe2b02bc"), false);
        assert!(a.is_mock() && b.is_mock());
        let sa = String::from_utf8(a.server_first(b"n,,n=,r=abc").unwrap()).unwrap();
        let sb = String::from_utf8(b.server_first(b"n,,n=,r=abc").unwrap()).unwrap();
        let salt = |s: &str| s.split(',').nth(1).unwrap().to_string();
        assert_eq!(salt(&sa), salt(&sb));
        assert!(sa.ends_with(",i=4096"));
        let fin = client_final("anything", "n=,r=abc", &sa, "n,,");
        assert_eq!(a.server_final(fin.as_bytes()).unwrap_err().code, "28P01");
    }

    #[test]
    fn malformed_messages_are_errors() {
        let bad_first: [&[u8]; 9] = [
            b"",
            b"x,,n=,r=abc",
            b"p=tls-server-end-point,,n=,r=abc",
            b"n,,",
            b"n,,r=abc",
            b"n,,n=,",
            b"n,,n=,r=",
            b"n",
            b"\xff\xfe",
        ];
        for m in bad_first {
            let mut x = ScramExchange::new("u", Some(REFERENCE_SECRET), false);
            let e = x.server_first(m).unwrap_err();
            assert_eq!(e.code, "08P01", "{:?}", String::from_utf8_lossy(m));
            assert_eq!(e.message, "malformed SCRAM message");
        }
        let mut x = ScramExchange::new("u", Some(REFERENCE_SECRET), false);
        assert_eq!(
            x.server_first(b"n,a=bob,n=,r=abc").unwrap_err().code,
            "0A000"
        );
        let mut x = ScramExchange::new("u", Some(REFERENCE_SECRET), false);
        assert_eq!(
            x.server_first(b"n,,m=ext,n=,r=abc").unwrap_err().code,
            "0A000"
        );
        let mut x = ScramExchange::new("u", Some(REFERENCE_SECRET), true);
        assert_eq!(
            x.server_first(b"y,,n=,r=abc").unwrap_err().message,
            "SCRAM channel binding negotiation error"
        );

        let start = || {
            let mut x = ScramExchange::with_server_nonce("u", Some(REFERENCE_SECRET), false, "SN");
            x.server_first(b"n,,n=,r=abc").unwrap();
            x
        };
        for m in [
            &b""[..],
            b"c=biws",
            b"c=biws,r=abcSN",
            b"c=biws,r=abcXX,p=AAAA",
            b"c=eSws,r=abcSN,p=AAAA",
            b"c=!!,r=abcSN,p=AAAA",
            b"r=abcSN,c=biws,p=AAAA",
            b"c=biws,r=abcSN,p=notbase64!",
            b"c=biws,r=abcSN,p=fKaNEMsTTd6dByS3KbW5Rene4aJoNCGZQHazuJ2QNsw=,x=1",
            b"\xff",
        ] {
            let e = start().server_final(m).unwrap_err();
            assert_eq!(e.code, "08P01", "{:?}", String::from_utf8_lossy(m));
        }
        let e = start()
            .server_final(b"c=biws,r=abcSN,p=fKaNEMsTTd6dByS3KbW5Rene4aJoNCGZQHazuJ2QNsw=")
            .unwrap_err();
        assert_eq!(e.code, "28P01");
    }

    #[test]
    fn saslprep_basics() {
        assert_eq!(saslprep("pgpass"), b"pgpass");
        assert_eq!(saslprep("a\u{a0}b"), b"a b");
        assert_eq!(saslprep("a\u{ad}b"), b"ab");
        assert_eq!(saslprep("caf\u{e9}"), "caf\u{e9}".as_bytes());
        assert_eq!(saslprep("a\u{e000}"), "a\u{e000}".as_bytes());
        assert_eq!(saslprep("\u{ad}"), "\u{ad}".as_bytes());
    }
}
