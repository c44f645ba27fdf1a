//! A TCP proxy the test runs between a standby's `primary_conninfo` port and the
//! primary, to make the network misbehave on command.
//!
//! It owns one listening socket on loopback and, per accepted connection, two pump
//! threads (one per direction). Its [`Mode`] decides what happens to bytes and to new
//! connections:
//! - [`Mode::Forward`]: copy bytes both ways;
//! - [`Mode::Refuse`]: new connections are accepted and closed at once (the client sees
//!   the server close the connection before any reply); existing ones go on;
//! - [`Mode::Stall`]: nothing is read or written any more, and nothing is closed — a
//!   link that went silent (a dead router), for the peers' timeouts to notice.
//!
//! [`Proxy::cut`] closes every connection it carries (both sides see a reset or an end
//! of file). It must never touch anything but its own sockets; every thread it starts
//! polls a stop flag at least every 100 ms and ends when the proxy is dropped.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the proxy does with bytes and new connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Copies bytes both ways.
    Forward = 0,
    /// Closes new connections at once.
    Refuse = 1,
    /// Neither reads nor writes nor closes.
    Stall = 2,
}

/// State shared by the proxy's threads.
struct Shared {
    /// The current [`Mode`] as its discriminant.
    mode: AtomicU8,
    /// Bumped by [`Proxy::cut`]: pumps of an older generation end.
    generation: AtomicU64,
    /// Set on drop: every thread ends.
    stop: AtomicBool,
    /// Both sockets of every live connection, for [`Proxy::cut`] to shut down.
    live: Mutex<Vec<TcpStream>>,
    /// Connections accepted so far (forwarded ones, not refused ones).
    accepted: AtomicU64,
}

impl Shared {
    fn mode(&self) -> Mode {
        match self.mode.load(Ordering::SeqCst) {
            1 => Mode::Refuse,
            2 => Mode::Stall,
            _ => Mode::Forward,
        }
    }
}

/// A running proxy; dropping it closes everything and joins its threads.
pub struct Proxy {
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
    pumps: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    /// Starts a proxy on `listen_port` forwarding to `127.0.0.1:target_port`.
    pub fn start(listen_port: u16, target_port: u16) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", listen_port)).expect("proxy bind");
        listener.set_nonblocking(true).unwrap();
        let shared = Arc::new(Shared {
            mode: AtomicU8::new(Mode::Forward as u8),
            generation: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            live: Mutex::new(Vec::new()),
            accepted: AtomicU64::new(0),
        });
        let pumps: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let acceptor = {
            let shared = shared.clone();
            let pumps = pumps.clone();
            std::thread::spawn(move || accept_loop(listener, target_port, shared, pumps))
        };
        Proxy {
            shared,
            acceptor: Some(acceptor),
            pumps,
        }
    }

    /// Changes the mode; a stalled link resumes forwarding with [`Mode::Forward`].
    pub fn set_mode(&self, mode: Mode) {
        self.shared.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Closes every connection the proxy carries now.
    pub fn cut(&self) {
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        let live = std::mem::take(&mut *self.shared.live.lock().unwrap());
        for s in live {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// How many connections were forwarded so far.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.cut();
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        for h in std::mem::take(&mut *self.pumps.lock().unwrap()) {
            let _ = h.join();
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    target_port: u16,
    shared: Arc<Shared>,
    pumps: Arc<Mutex<Vec<JoinHandle<()>>>>,
) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                if shared.mode() == Mode::Refuse {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let _ = client.set_nonblocking(false);
                let Ok(server) = TcpStream::connect(("127.0.0.1", target_port)) else {
                    // The primary is down: the client sees its connection closed.
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                let generation = shared.generation.load(Ordering::SeqCst);
                {
                    let mut live = shared.live.lock().unwrap();
                    live.push(client.try_clone().unwrap());
                    live.push(server.try_clone().unwrap());
                }
                let mut p = pumps.lock().unwrap();
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let shared = shared.clone();
                    p.push(std::thread::spawn(move || {
                        pump(from, to, &shared, generation)
                    }));
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Copies `from` → `to` until either side ends, the generation changes or the proxy
/// stops; while stalled it neither reads nor writes.
fn pump(mut from: TcpStream, mut to: TcpStream, shared: &Shared, generation: u64) {
    let tick = Duration::from_millis(50);
    let _ = from.set_read_timeout(Some(tick));
    let _ = to.set_write_timeout(Some(tick));
    let alive = || {
        !shared.stop.load(Ordering::SeqCst)
            && shared.generation.load(Ordering::SeqCst) == generation
    };
    let mut buf = vec![0u8; 64 * 1024];
    'outer: while alive() {
        if shared.mode() == Mode::Stall {
            std::thread::sleep(tick);
            continue;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => break,
        };
        let mut done = 0;
        while done < n {
            if !alive() {
                break 'outer;
            }
            if shared.mode() == Mode::Stall {
                std::thread::sleep(tick);
                continue;
            }
            match to.write(&buf[done..n]) {
                Ok(0) => break 'outer,
                Ok(k) => done += k,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => break 'outer,
            }
        }
        let _ = to.flush();
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
