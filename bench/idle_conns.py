#!/usr/bin/env python3
"""Opens N idle PostgreSQL-protocol connections and holds them (bench/pgbench.sh, section 4).

Usage: idle_conns.py HOST PORT USER DATABASE N
       idle_conns.py --first HOST PORT USER DATABASE T0 TIMEOUT

Speaks just enough of protocol 3.0 over a raw socket to get each connection to its
first ReadyForQuery: the StartupMessage, then it expects AuthenticationOk (trust
authentication; anything else is an error, it never sends a password). Connections are
opened in batches of 50 (all startup messages of a batch sent, then all answers read).
When all N are ready it prints "ready N" and waits until stdin closes or a line arrives,
then sends Terminate on each and exits. Any failure prints "error: ..." and exits 1.

With --first it times a server's startup instead (sections 5 and 6): it tries one
connection every 5 ms (refused, closed or answered with an error such as "the database
system is starting up" all count as not yet) until one reaches ReadyForQuery, then prints
the seconds since T0 (an epoch the caller took just before starting the server) and
exits; after TIMEOUT seconds it prints "timeout" and exits 1.
"""
import resource
import socket
import struct
import sys
import time


def startup(sock, user, db):
    body = struct.pack("!i", 196608)
    for k, v in (("user", user), ("database", db), ("application_name", "idle_conns")):
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    sock.sendall(struct.pack("!i", len(body) + 4) + body)


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        b = sock.recv(n - len(buf))
        if not b:
            raise RuntimeError("server closed the connection during startup")
        buf += b
    return buf


def until_ready(sock):
    while True:
        kind, length = struct.unpack("!ci", recv_exact(sock, 5))
        body = recv_exact(sock, length - 4)
        if kind == b"E":
            raise RuntimeError("server error: " + body.decode(errors="replace"))
        if kind == b"R" and struct.unpack("!i", body[:4])[0] != 0:
            raise RuntimeError("server asks for authentication; use trust")
        if kind == b"Z":
            return


def first(host, port, user, db, t0, timeout):
    while True:
        try:
            with socket.create_connection((host, port), timeout=5) as s:
                startup(s, user, db)
                until_ready(s)
                s.sendall(b"X\0\0\0\4")
            print("%.3f" % (time.time() - t0), flush=True)
            return
        except (OSError, RuntimeError, struct.error):
            if time.time() - t0 > timeout:
                print("timeout", flush=True)
                sys.exit(1)
            time.sleep(0.005)


def main():
    if sys.argv[1] == "--first":
        a = sys.argv[2:]
        first(a[0], int(a[1]), a[2], a[3], float(a[4]), float(a[5]))
        return
    host, port, user, db, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64) if hard > 0 else n + 64, hard))
    conns = []
    try:
        while len(conns) < n:
            batch = []
            for _ in range(min(50, n - len(conns))):
                s = socket.create_connection((host, port), timeout=60)
                startup(s, user, db)
                batch.append(s)
            for s in batch:
                until_ready(s)
            conns.extend(batch)
    except Exception as e:  # report and give up: the caller prints this line
        print("error: after %d connections: %s" % (len(conns), e), flush=True)
        sys.exit(1)
    print("ready %d" % len(conns), flush=True)
    sys.stdin.readline()
    for s in conns:
        try:
            s.sendall(b"X\0\0\0\4")
            s.close()
        except OSError:
            pass


if __name__ == "__main__":
    main()
