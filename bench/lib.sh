# Shared helpers of the benchmark scripts (sourced, never run): starting and stopping
# both servers, psql one-liners, LSN arithmetic, medians and ratios, the machine's
# physical limits (fdatasync rate, loopback bandwidth) and memory accounting.
#
# The sourcing script sets, before calling anything here: BENCH_DIR (its scratch
# directory) and RAW (where raw outputs go). Everything else has a default below.
# Nothing here starts a process the caller does not get the id of, and nothing stops a
# process by name: servers are stopped by pid (tusk) or by data directory (pg_ctl).

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
TUSK=${TUSK:-$REPO/target/release/tusk}

# Refuses to go on unless run as root (PostgreSQL runs as the `postgres` OS user).
require_root() {
    [ "$(id -u)" = 0 ] || { echo "run as root (PostgreSQL is started as user postgres)" >&2; exit 1; }
}

# Refuses port 5432 (a real PostgreSQL may be there).
check_ports() { # port...
    local p
    for p in "$@"; do [ "$p" != 5432 ] || { echo "never port 5432" >&2; exit 1; }; done
}

# Builds target/release/tusk unless SKIP_BUILD is set.
build_tusk() {
    if [ -z "${SKIP_BUILD:-}" ]; then (cd "$REPO" && cargo build --release --bin tusk); fi
}

# psql against a port, unaligned, tuples only.
psql_to() { "$PGBIN/psql" -X -q -A -t -h 127.0.0.1 -p "$1" -U postgres -d postgres -v ON_ERROR_STOP=1 -c "$2"; }

# An LSN "X/Y" as a decimal byte position (bash arithmetic is 64-bit).
lsn_num() { local hi=${1%/*} lo=${1#*/}; echo $(( (16#$hi << 32) + 16#$lo )); }

# Seconds since the epoch, with nanoseconds.
now() { date +%s.%N; }

# b - a for two `now` values, in seconds with 3 decimals.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# The median of the numbers on stdin, one a line ("?" when there are none).
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "?"; else if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# The median of a space-separated list ("?" entries are ignored).
median_of() { echo "$*" | tr ' ' '\n' | grep -E '^[0-9.]+$' | median; }

# a / b with two decimals, "?" unless both are numbers and b > 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) printf "%.2f", a / b; else print "?" }'; }

# Waits until a server answers on a port (bounded); $2 names it for the message.
wait_ready() { # port name log
    for _ in $(seq 1 600); do
        psql_to "$1" "select 1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "$2 did not accept connections within 60 s; log:" >&2
    tail -50 "$3" >&2 || true
    exit 1
}

# Stops a tusk server by pid: SIGINT (fast shutdown), bounded wait, then SIGKILL.
stop_tusk() { # pid
    [ -n "$1" ] || return 0
    kill -INT "$1" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# Stops a PostgreSQL cluster by data directory (fast shutdown), if it runs.
pg_stop() { # datadir
    [ -d "$1" ] || return 0
    su postgres -c "$PGBIN/pg_ctl -D $1 -m fast -w stop" >/dev/null 2>&1 || true
}

# The settings both servers of a side-by-side comparison get (appended to
# postgresql.conf): same durability, same limits. Extra lines come from $BENCH_CONF.
common_conf() { # port socket_dir
    cat <<EOF
port = $1
listen_addresses = '127.0.0.1'
unix_socket_directories = '$2'
fsync = on
synchronous_commit = on
${BENCH_CONF:-}
EOF
}

# `tusk init` into a directory, then the common settings.
init_tusk() { # datadir port socket_dir
    "$TUSK" init -D "$1" > "$RAW/tusk-init-$(basename "$1").txt" 2>&1
    common_conf "$2" "$3" >> "$1/postgresql.conf"
}

# `initdb` as user postgres (trust authentication), then the common settings.
init_pg() { # datadir port socket_dir
    mkdir -p "$1"; chown postgres "$1"; chmod 700 "$1"
    su postgres -c "$PGBIN/initdb -D $1 -A trust -U postgres" > "$RAW/pg-initdb-$(basename "$1").txt" 2>&1
    common_conf "$2" "$3" >> "$1/postgresql.conf"
}

# Starts `tusk run` in the background; its pid is left in TUSK_PID (no waiting).
start_tusk_bg() { # datadir log
    "$TUSK" run -D "$1" >> "$2" 2>&1 &
    TUSK_PID=$!
}

# Starts PostgreSQL through pg_ctl without waiting (-W); the caller polls.
start_pg_bg() { # datadir log
    su postgres -c "$PGBIN/pg_ctl -D $1 -l $2 -W start" > /dev/null
}

# The postmaster's pid of a running PostgreSQL cluster (first line of postmaster.pid).
pg_postmaster_pid() { head -1 "$1/postmaster.pid"; }

# A process and all its direct children (a postmaster's backends and auxiliary
# processes are its direct children), one pid a line.
pid_and_children() { # pid
    echo "$1"
    ps -o pid= --ppid "$1" | tr -d ' '
}

# CPU time, in ms, used so far by a server: the process's own time (every thread of
# tusk's) and its reaped children's (a PostgreSQL postmaster's exited backends), plus
# the time of its live children (PostgreSQL's backends and auxiliary processes).
server_cpu_ms() { # pid
    local hz p total=0 v
    hz=$(getconf CLK_TCK)
    # Fields after the command name (which may hold spaces): utime is the 12th.
    v=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }')
    total=${v:-0}
    for p in $(ps -o pid= --ppid "$1" | tr -d ' '); do
        v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }')
        total=$(( total + ${v:-0} ))
    done
    awk -v t="$total" -v hz="$hz" 'BEGIN { printf "%.0f", t * 1000 / hz }'
}

# Proportional set size, in kB, summed over the given pids (processes that vanished
# count 0). PSS divides each shared page among the processes mapping it, so the sum is
# the memory the group really uses, shared memory counted once.
pss_kb() { # pid...
    local p total=0 v
    for p in "$@"; do
        v=$(awk '/^Pss:/ { print $2; exit }' "/proc/$p/smaps_rollup" 2>/dev/null || true)
        total=$(( total + ${v:-0} ))
    done
    echo "$total"
}

# The disk's fdatasync rate (ops/s) for one 8 kB write, from pg_test_fsync on a file
# in the given directory.
fdatasync_rate() { # dir
    "$PGBIN/pg_test_fsync" -s 3 -f "$1/fsync.test" > "$RAW/pg_test_fsync.txt" 2>&1 || true
    rm -f "$1/fsync.test"
    awk '/fdatasync/ && /ops\/sec/ {print $2; exit}' "$RAW/pg_test_fsync.txt"
}

# Loopback TCP bandwidth in MB/s: one Python process sends MB megabytes in 256 kB
# writes over 127.0.0.1 to a reader thread (a ceiling for one stream, not a NIC).
loopback_mb_s() { # mb
    python3 - "$1" <<'EOF'
import socket, sys, threading, time
total = int(sys.argv[1]) << 20
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
got = [0]
def reader():
    c, _ = srv.accept()
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        got[0] += len(b)
t = threading.Thread(target=reader); t.start()
s = socket.create_connection(srv.getsockname())
chunk = b"x" * (256 << 10)
t0 = time.monotonic()
sent = 0
while sent < total:
    s.sendall(chunk); sent += len(chunk)
s.close(); t.join()
print("%.0f" % (got[0] / (time.monotonic() - t0) / 1048576))
EOF
}
