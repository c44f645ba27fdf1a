//! Bad input never takes the server down: malformed startup packets, oversize messages,
//! unknown message types, garbage SQL and wrong passwords each get an error (or a
//! closed socket), and the server keeps serving everyone else.

use crate::common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn raw(s: &Server, bytes: &[u8]) -> Vec<u8> {
    let mut c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = c.write_all(bytes);
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    out
}

fn startup(user: &str) -> Vec<u8> {
    let mut body = 196608u32.to_be_bytes().to_vec();
    body.extend_from_slice(format!("user\0{user}\0database\0postgres\0\0").as_bytes());
    let mut p = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    p.extend_from_slice(&body);
    p
}

#[test]
fn garbage_never_takes_the_server_down() {
    let s = Server::start_new("badinput");
    // Startup packets: too long, too short, truncated, wrong protocol, garbage.
    raw(&s, &[0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0]);
    raw(&s, &[0, 0, 0, 4]);
    raw(&s, &[0, 0, 0, 40, 0, 3, 0, 0, b'u']);
    let reply = raw(&s, &[0, 0, 0, 8, 0, 9, 0, 0]);
    assert_eq!(reply.first(), Some(&b'E'));
    raw(&s, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    // After a good startup: unknown message type, oversize length, lying Bind.
    let mut p = startup("postgres");
    p.extend_from_slice(&[b'!', 0, 0, 0, 4]);
    let reply = raw(&s, &p);
    assert!(String::from_utf8_lossy(&reply).contains("invalid frontend message type 33"));
    let mut p = startup("postgres");
    p.extend_from_slice(&[b'S', 0x7f, 0, 0, 0]);
    let reply = raw(&s, &p);
    assert!(String::from_utf8_lossy(&reply).contains("invalid message length"));
    let mut p = startup("postgres");
    p.extend_from_slice(&[
        b'B', 0, 0, 0, 16, 0, 0, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff, 0, 0,
    ]);
    let reply = raw(&s, &p);
    assert!(reply.contains(&b'E'));
    // Random bytes after startup.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..50 {
        let mut p = startup("postgres");
        for _ in 0..64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            p.push(seed as u8);
        }
        raw(&s, &p);
    }
    // Garbage SQL keeps the session usable.
    let out = s.psql_as("postgres", "postgres", None, "selec 1 frm");
    assert!(stderr(&out).contains("syntax error"), "{}", stderr(&out));
    assert_eq!(s.psql("select 'still here'"), "still here");
}
