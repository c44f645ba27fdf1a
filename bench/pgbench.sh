#!/usr/bin/env bash
# tusk against PostgreSQL 15 side by side, in one run, with the same pgbench binary and
# the same settings (fsync = on, synchronous_commit = on, max_connections = 1100):
#   1. pgbench select-only (-S), scale SCALE, SELECT_CLIENTS clients, -M simple and
#      -M prepared: tps; each run also against bench/floor_server.c, a protocol server
#      doing no work (the ceiling any server's tps has on this machine);
#   2. pgbench TPC-B-like (built-in script), scale SCALE, TPCB_CLIENTS clients: tps and
#      p99 latency from pgbench's per-transaction logs (--log);
#   3. `pgbench -i -s LOAD_SCALE` load time, then CHECKPOINT and the size (du) of the
#      data directory and of base/;
#   4. CONNS idle connections: memory per connection, proportional set size (Pss from
#      /proc/PID/smaps_rollup) summed over the server's processes (PostgreSQL: the
#      postmaster and all its children; tusk: its one process), after minus before,
#      divided by CONNS;
#   5. crash recovery: with checkpoint_timeout = 1h and max_wal_size = 20GB, CHECKPOINT,
#      TPC-B-like for RECOVERY_SECONDS, SIGKILL the server (PostgreSQL: the postmaster
#      and every child, by pid), time the restart to the first successful connection,
#      divided by the WAL written since the checkpoint (and the same less the time of
#      a clean start of that cluster, taken just before); then bench/replication.sh (its
#      own clusters, one server at a time) for replay lag under TPC-B-like load and
#      pg_basebackup MB/s of a scale-LOAD_SCALE database;
#   6. startup to first connection after a clean shutdown, on an empty cluster and on
#      the scale-LOAD_SCALE one (about 0.75 GB of PostgreSQL heap and indexes at 50),
#      and on the latter (as after a crash in 5) the time to the first answer of a
#      primary-key look-up in pgbench_accounts.
# Every measurement runs ROUNDS times, alternating which server goes first; the table
# shows medians and tusk/PostgreSQL ratios. The goal is parity: ratio >= 1 where higher
# is better (throughput), <= 1 where lower is better (latency, time, memory, size).
# Beside it: the disk's fdatasync rate (pg_test_fsync) and loopback TCP bandwidth.
#
# Run as root from the repository root (PostgreSQL runs as the `postgres` OS user):
#   bench/pgbench.sh
#   SKIP_BUILD=1 ROUNDS=1 SECONDS_PER_RUN=5 SECTIONS="1 2" bench/pgbench.sh   # smoke
# Knobs (environment): ROUNDS (3), SECONDS_PER_RUN (10), SECTIONS ("1 2 3 4 5 6"),
#   SCALE (10), LOAD_SCALE (50), SELECT_CLIENTS ("1 8 32"), TPCB_CLIENTS ("8 32"),
#   PROTOCOLS ("simple prepared"), CONNS (1000), RECOVERY_SECONDS (30),
#   REPL_SECONDS (2 x SECONDS_PER_RUN), LOOPBACK_MB (2000), BENCH_DIR
#   (/var/tmp/tusk-pgbench, removed and recreated), TUSK_PORT (25915), PG_PORT (25916), FLOOR_PORT (25917),
#   REPL_PORTS ("25921 25922 25923 25924"), SKIP_BUILD (unset), TUSK (the binary).
# Output: the table on stdout and in $BENCH_DIR/results.md; raw outputs under
# $BENCH_DIR/raw/.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
SECTIONS=${SECTIONS:-"1 2 3 4 5 6"}
SCALE=${SCALE:-10}
LOAD_SCALE=${LOAD_SCALE:-50}
SELECT_CLIENTS=${SELECT_CLIENTS:-"1 8 32"}
TPCB_CLIENTS=${TPCB_CLIENTS:-"8 32"}
PROTOCOLS=${PROTOCOLS:-"simple prepared"}
CONNS=${CONNS:-1000}
RECOVERY_SECONDS=${RECOVERY_SECONDS:-30}
REPL_SECONDS=${REPL_SECONDS:-$(( 2 * SECONDS_PER_RUN ))}
LOOPBACK_MB=${LOOPBACK_MB:-2000}
BENCH_DIR=${BENCH_DIR:-/var/tmp/tusk-pgbench}
TUSK_PORT=${TUSK_PORT:-25915}
PG_PORT=${PG_PORT:-25916}
REPL_PORTS=${REPL_PORTS:-"25921 25922 25923 25924"}
FLOOR_PORT=${FLOOR_PORT:-25917}
STARTUP_TIMEOUT=${STARTUP_TIMEOUT:-900}
RAW=$BENCH_DIR/raw
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

require_root
# shellcheck disable=SC2086
check_ports "$TUSK_PORT" "$PG_PORT" "$FLOOR_PORT" $REPL_PORTS
build_tusk
has() { [[ " $SECTIONS " == *" $1 "* ]]; }

# --- process bookkeeping and cleanup --------------------------------------------------
TUSK_PID=
PG_PID=
CONNS_PID=
FLOOR_PID=
cleanup() {
    if [ -n "$CONNS_PID" ]; then kill "$CONNS_PID" 2>/dev/null || true; fi
    if [ -n "$FLOOR_PID" ]; then kill "$FLOOR_PID" 2>/dev/null || true; fi
    stop_tusk "$TUSK_PID"
    pg_stop "$BENCH_DIR/pg"
}
trap cleanup EXIT

rm -rf "$BENCH_DIR"
mkdir -p "$RAW" "$BENCH_DIR/sock"
chown postgres "$BENCH_DIR" "$BENCH_DIR/sock"
chmod 755 "$BENCH_DIR"
chmod 1777 "$RAW" "$BENCH_DIR/sock"

port_of() { case $1 in tusk) echo "$TUSK_PORT";; floor) echo "$FLOOR_PORT";; *) echo "$PG_PORT";; esac; }
dir_of() { echo "$BENCH_DIR/$1"; }
# Which server goes first in round r: tusk in odd rounds, PostgreSQL in even ones.
order() { if (( $1 % 2 )); then echo "tusk pg"; else echo "pg tusk"; fi; }
jobs_for() { echo $(( $1 < 2 ? 1 : 2 )); }

# Starts a server in the background without waiting; its pid goes to TUSK_PID or PG_PID
# (PostgreSQL: the postmaster itself, as user postgres, no pg_ctl, so that the shell
# can reap it after a SIGKILL).
start_bg() { # server
    if [ "$1" = tusk ]; then
        start_tusk_bg "$(dir_of tusk)" "$RAW/tusk.log"
    else
        setpriv --reuid=postgres --regid=postgres --init-groups \
            "$PGBIN/postgres" -D "$(dir_of pg)" >> "$RAW/pg.log" 2>&1 &
        PG_PID=$!
    fi
}

# Starts a server and sets STARTUP_S to the seconds to its first successful connection
# (a ReadyForQuery), polled every 5 ms by idle_conns.py --first. Not to be called in a
# subshell: the server's pid must reach this shell.
timed_start() { # server
    local t0
    t0=$(now)
    START_T0=$t0
    start_bg "$1"
    STARTUP_S=$(python3 "$REPO/bench/idle_conns.py" --first 127.0.0.1 "$(port_of "$1")" postgres postgres "$t0" "$STARTUP_TIMEOUT") \
        || { echo "$1 did not accept a connection within $STARTUP_TIMEOUT s; log:" >&2; tail -30 "$RAW/$1.log" >&2; exit 1; }
}

# After timed_start: sets FIRST_LOOKUP_S to the seconds from that start to the answer of
# one primary-key look-up in pgbench_accounts (a server that keeps its tables in memory
# and decodes them after the start answers it only once that table is in memory;
# PostgreSQL reads a few pages). Names both numbers so that neither hides the other.
time_first_lookup() { # server
    psql_to "$(port_of "$1")" "select abalance from pgbench_accounts where aid = 1" > /dev/null
    FIRST_LOOKUP_S=$(elapsed "$START_T0" "$(now)")
}

stop_server() { # server
    if [ "$1" = tusk ]; then
        stop_tusk "$TUSK_PID"; TUSK_PID=
    else
        pg_stop "$(dir_of pg)"
        if [ -n "$PG_PID" ]; then wait "$PG_PID" 2>/dev/null || true; PG_PID=; fi
    fi
}

# SIGKILL: tusk's one process; PostgreSQL's postmaster and all its children, by pid.
crash_server() { # server
    local pids p
    if [ "$1" = tusk ]; then
        kill -KILL "$TUSK_PID"; wait "$TUSK_PID" 2>/dev/null || true; TUSK_PID=
    else
        pids=$(pid_and_children "$PG_PID")
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
        wait "$PG_PID" 2>/dev/null || true; PG_PID=
        for p in $pids; do
            for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
        done
    fi
}

pgb() { # server args... (pgbench against that server)
    local s=$1; shift
    "$PGBIN/pgbench" -h 127.0.0.1 -p "$(port_of "$s")" -U postgres "$@" postgres
}

# --- results --------------------------------------------------------------------------
ROWS=()
# Adds a table row; better is "higher", "lower" or "context".
add_row() { # label tusk pg better
    ROWS+=("$1|$2|$3|$4")
    echo "  -> $1: tusk $2, PostgreSQL $3 (tusk/PG $(ratio "$2" "$3"))"
}
declare -A V
# Appends a value to the list under a key (medians are taken at the end of a section).
put() { V[$1]="${V[$1]:-} $2"; }
med() { median_of "${V[$1]:-}"; }

# The scale currently loaded in both servers (none yet).
LOADED=
ensure_scale() { # scale
    [ "$LOADED" = "$1" ] && return 0
    local s
    for s in tusk pg; do
        echo "== $s: pgbench -i -s $1 (untimed)"
        pgb "$s" -i -s "$1" > "$RAW/$s-init-s$1.txt" 2>&1 \
            || { echo "$s: pgbench -i -s $1 failed:"; tail -20 "$RAW/$s-init-s$1.txt"; exit 1; }
        psql_to "$(port_of "$s")" "checkpoint"
    done
    LOADED=$1
}

# --- the machine --------------------------------------------------------------------------
START_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== physical limits"
FDATASYNC=$(fdatasync_rate "$BENCH_DIR" | awk '{ printf "%.0f", $1 }')
echo "fdatasync (one 8 kB write, pg_test_fsync): ${FDATASYNC:-?} ops/s"
LOOPBACK=$(loopback_mb_s "$LOOPBACK_MB" || echo "?")
echo "loopback TCP, one stream: $LOOPBACK MB/s"

# --- the servers --------------------------------------------------------------------------
export BENCH_CONF="max_connections = 1100
wal_level = replica
max_wal_senders = 10"
init_tusk "$(dir_of tusk)" "$TUSK_PORT" "$BENCH_DIR/sock"
init_pg "$(dir_of pg)" "$PG_PORT" "$BENCH_DIR/sock"
unset BENCH_CONF

# Section 6: ROUNDS clean stops and timed starts of both servers, alternating which goes
# first; each start's seconds are kept under "<server>-$1".
# With a second argument, also the time to the first pgbench_accounts look-up (under
# "<server>-$1-lookup").
startup_rounds() { # key [lookup]
    for r in $(seq 1 "$ROUNDS"); do
        for s in $(order "$r"); do
            stop_server "$s"
            timed_start "$s"; put "$s-$1" "$STARTUP_S"
            echo "round $r $s: $STARTUP_S s"
            if [ -n "${2:-}" ]; then
                time_first_lookup "$s"; put "$s-$1-lookup" "$FIRST_LOOKUP_S"
                echo "round $r $s: first pgbench_accounts look-up $FIRST_LOOKUP_S s after the start"
            fi
        done
    done
}

# Section 6a first, while both clusters are empty: each start is the timed one.
for s in tusk pg; do
    timed_start "$s"
    echo "first start of the fresh $s cluster: $STARTUP_S s"
done
if has 6; then
    echo "== 6. startup to first connection, empty cluster, $ROUNDS rounds"
    startup_rounds start-empty
    add_row "startup to first connection, empty cluster (s)" "$(med tusk-start-empty)" "$(med pg-start-empty)" lower
fi

if has 4; then
    echo "== 4. $CONNS idle connections: Pss of the server's processes, $ROUNDS rounds"
    server_pids() { # server
        if [ "$1" = tusk ]; then echo "$TUSK_PID"; else pid_and_children "$PG_PID"; fi
    }
    for r in $(seq 1 "$ROUNDS"); do
        for s in $(order "$r"); do
            sleep 1
            # shellcheck disable=SC2046
            before=$(pss_kb $(server_pids "$s"))
            fifo=$BENCH_DIR/conns.fifo out=$RAW/$s-conns-r$r.txt
            rm -f "$fifo"; mkfifo "$fifo"
            python3 "$REPO/bench/idle_conns.py" 127.0.0.1 "$(port_of "$s")" postgres postgres "$CONNS" < "$fifo" > "$out" 2>&1 &
            CONNS_PID=$!
            exec 7> "$fifo"
            for _ in $(seq 1 1200); do grep -q '^ready\|^error' "$out" && break; sleep 0.1; done
            # Idle means idle: tusk trims a connection 1-2 s after its last message
            # (src/server/idle_trim.rs); PostgreSQL's backends keep what they have.
            sleep 3
            # shellcheck disable=SC2046
            after=$(pss_kb $(server_pids "$s"))
            nproc_s=$(server_pids "$s" | wc -l)
            echo >&7; exec 7>&-
            wait "$CONNS_PID" || true; CONNS_PID=
            if grep -q "^ready $CONNS" "$out"; then
                per=$(awk -v a="$after" -v b="$before" -v n="$CONNS" 'BEGIN { printf "%.0f", (a - b) / n }')
                put "$s-conn-kb" "$per"
                echo "round $r $s: Pss $before kB before, $after kB with $CONNS connections ($nproc_s processes): $per kB each"
            else
                echo "round $r $s: $(cat "$out")"
            fi
            # Let the backends go before the next measurement.
            if [ "$s" = pg ]; then
                for _ in $(seq 1 300); do
                    (( $(server_pids pg | wc -l) < 20 )) && break; sleep 0.1
                done
            fi
        done
    done
    add_row "memory per idle connection, Pss (kB)" "$(med tusk-conn-kb)" "$(med pg-conn-kb)" lower
fi

if has 1; then
    ensure_scale "$SCALE"
    echo "== 1. select-only (-S), scale $SCALE, ${SECONDS_PER_RUN}s runs, $ROUNDS rounds"
    # The ceiling: bench/floor_server.c answers every query with a constant and does
    # nothing else, so its tps is what pgbench, loopback TCP and the context switches
    # allow any server on this machine (its ratio over PostgreSQL bounds tusk's).
    cc -O2 -pthread -o "$BENCH_DIR/floor_server" "$REPO/bench/floor_server.c"
    "$BENCH_DIR/floor_server" "$FLOOR_PORT" > "$RAW/floor.log" 2>&1 &
    FLOOR_PID=$!
    wait_ready "$FLOOR_PORT" "floor_server" "$RAW/floor.log"
    for r in $(seq 1 "$ROUNDS"); do
        for m in $PROTOCOLS; do
            for c in $SELECT_CLIENTS; do
                for s in $(order "$r") floor; do
                    out=$RAW/$s-select-$m-c$c-r$r.txt
                    pgb "$s" -n -S -M "$m" -c "$c" -j "$(jobs_for "$c")" -T "$SECONDS_PER_RUN" > "$out" 2>&1 || true
                    t=$(awk '/^tps = / {printf "%.0f", $3; exit}' "$out")
                    put "$s-select-$m-$c" "${t:-?}"
                    echo "round $r -M $m -c $c $s: ${t:-failed} tps"
                done
            done
        done
    done
    for m in $PROTOCOLS; do
        for c in $SELECT_CLIENTS; do
            add_row "select-only -M $m -c $c (tps)" "$(med "tusk-select-$m-$c")" "$(med "pg-select-$m-$c")" higher
            add_row "  ceiling: a server doing no work (floor_server.c) -M $m -c $c (tps)" "$(med "floor-select-$m-$c")" "$(med "pg-select-$m-$c")" context
        done
    done
    kill "$FLOOR_PID" 2>/dev/null || true; wait "$FLOOR_PID" 2>/dev/null || true; FLOOR_PID=
fi

# p99 of the latencies (column 3, microseconds) of pgbench per-transaction log files,
# in milliseconds.
p99_ms() { # files...
    cat "$@" | awk '{ print $3 }' | sort -n | awk '{ a[NR] = $1 } END {
        if (NR == 0) { print "?"; exit } i = int(NR * 0.99 + 0.999999); if (i > NR) i = NR; printf "%.2f", a[i] / 1000 }'
}

if has 2; then
    ensure_scale "$SCALE"
    echo "== 2. TPC-B-like, scale $SCALE, ${SECONDS_PER_RUN}s runs, $ROUNDS rounds"
    for r in $(seq 1 "$ROUNDS"); do
        for c in $TPCB_CLIENTS; do
            for s in $(order "$r"); do
                prefix=$RAW/$s-tpcb-c$c-r$r
                pgb "$s" -n -c "$c" -j "$(jobs_for "$c")" -T "$SECONDS_PER_RUN" --log --log-prefix="$prefix" \
                    > "$prefix.txt" 2>&1 || true
                t=$(awk '/^tps = / {printf "%.0f", $3; exit}' "$prefix.txt")
                p=$(p99_ms "$prefix".[0-9]* 2>/dev/null || echo "?")
                rm -f "$prefix".[0-9]*
                put "$s-tpcb-$c" "${t:-?}"; put "$s-tpcb-p99-$c" "$p"
                echo "round $r -c $c $s: ${t:-failed} tps, p99 $p ms"
            done
        done
    done
    for c in $TPCB_CLIENTS; do
        add_row "TPC-B-like -c $c (tps)" "$(med "tusk-tpcb-$c")" "$(med "pg-tpcb-$c")" higher
        add_row "TPC-B-like -c $c, p99 latency (ms)" "$(med "tusk-tpcb-p99-$c")" "$(med "pg-tpcb-p99-$c")" lower
    done
fi

if has 3; then
    echo "== 3. pgbench -i -s $LOAD_SCALE load time, $ROUNDS rounds; then CHECKPOINT and du"
    for r in $(seq 1 "$ROUNDS"); do
        for s in $(order "$r"); do
            t0=$(now)
            pgb "$s" -i -s "$LOAD_SCALE" > "$RAW/$s-load-s$LOAD_SCALE-r$r.txt" 2>&1 \
                || { echo "$s: pgbench -i failed:"; tail -20 "$RAW/$s-load-s$LOAD_SCALE-r$r.txt"; exit 1; }
            t=$(elapsed "$t0" "$(now)")
            put "$s-load" "$t"
            echo "round $r $s: $t s"
        done
    done
    LOADED=$LOAD_SCALE
    for s in tusk pg; do
        psql_to "$(port_of "$s")" "checkpoint"
        put "$s-du" "$(du -sm "$(dir_of "$s")" | cut -f1)"
        put "$s-du-base" "$(du -sm "$(dir_of "$s")/base" | cut -f1)"
        put "$s-du-wal" "$(du -sm "$(dir_of "$s")/pg_wal" | cut -f1)"
    done
    add_row "pgbench -i -s $LOAD_SCALE load time (s)" "$(med tusk-load)" "$(med pg-load)" lower
    add_row "  data directory after CHECKPOINT (MB)" "$(med tusk-du)" "$(med pg-du)" lower
    add_row "  of which base/ (MB)" "$(med tusk-du-base)" "$(med pg-du-base)" lower
    add_row "  of which pg_wal/ (MB)" "$(med tusk-du-wal)" "$(med pg-du-wal)" context
fi

if has 6; then
    ensure_scale "$LOAD_SCALE"
    echo "== 6. startup to first connection, scale-$LOAD_SCALE cluster, $ROUNDS rounds"
    for s in tusk pg; do psql_to "$(port_of "$s")" "checkpoint"; done
    startup_rounds start-big lookup
    add_row "startup to first connection, scale-$LOAD_SCALE cluster (s; PG $(du -sm "$(dir_of pg)" | cut -f1) MB, tusk $(du -sm "$(dir_of tusk)" | cut -f1) MB)" \
        "$(med tusk-start-big)" "$(med pg-start-big)" lower
    add_row "  startup to the first pgbench_accounts look-up (s)" \
        "$(med tusk-start-big-lookup)" "$(med pg-start-big-lookup)" lower
fi

if has 5; then
    [ -n "$LOADED" ] || ensure_scale "$SCALE"
    echo "== 5. crash recovery: checkpoint_timeout = 1h, max_wal_size = 20GB; CHECKPOINT," \
         "TPC-B-like -c 8 for ${RECOVERY_SECONDS}s, SIGKILL, timed restart; $ROUNDS rounds"
    for s in tusk pg; do
        printf 'checkpoint_timeout = 1h\nmax_wal_size = 20GB\n' >> "$(dir_of "$s")/postgresql.conf"
        stop_server "$s"; timed_start "$s"; put "$s-clean-s" "$STARTUP_S"
        echo "$s: clean restart with these settings: $STARTUP_S s"
    done
    for r in $(seq 1 "$ROUNDS"); do
        for s in $(order "$r"); do
            port=$(port_of "$s")
            psql_to "$port" "checkpoint"
            l0=$(psql_to "$port" "select pg_current_wal_lsn()")
            pgb "$s" -n -c 8 -j 2 -T "$RECOVERY_SECONDS" > "$RAW/$s-crash-load-r$r.txt" 2>&1 || true
            l1=$(psql_to "$port" "select pg_current_wal_lsn()")
            wal=$(( $(lsn_num "$l1") - $(lsn_num "$l0") ))
            crash_server "$s"
            timed_start "$s"; t=$STARTUP_S
            time_first_lookup "$s"; put "$s-crash-lookup-s" "$FIRST_LOOKUP_S"
            per=$(awk -v t="$t" -v w="$wal" 'BEGIN { if (w > 0) printf "%.2f", t / (w / 1073741824); else print "?" }')
            # The part of the restart a clean start of the same cluster does not need.
            extra=$(awk -v t="$t" -v c="$(med "$s-clean-s")" -v w="$wal" \
                'BEGIN { if (w > 0 && c ~ /^[0-9.]+$/) { x = (t - c) / (w / 1073741824); printf "%.2f", x < 0 ? 0 : x } else print "?" }')
            put "$s-crash-extra-per-gb" "$extra"
            put "$s-crash-wal" "$(awk -v w="$wal" 'BEGIN { printf "%.0f", w / 1048576 }')"
            put "$s-crash-s" "$t"; put "$s-crash-per-gb" "$per"
            echo "round $r $s: $((wal / 1048576)) MB of WAL since the checkpoint; restart after SIGKILL $t s = $per s/GB"
        done
    done
    add_row "crash: WAL since the checkpoint (MB)" "$(med tusk-crash-wal)" "$(med pg-crash-wal)" context
    add_row "crash: restart to first connection (s)" "$(med tusk-crash-s)" "$(med pg-crash-s)" lower
    add_row "  restart to the first pgbench_accounts look-up (s)" "$(med tusk-crash-lookup-s)" "$(med pg-crash-lookup-s)" lower
    add_row "crash recovery per GB of WAL (s/GB)" "$(med tusk-crash-per-gb)" "$(med pg-crash-per-gb)" lower
    add_row "  the same, less a clean start of that cluster (s/GB)" "$(med tusk-crash-extra-per-gb)" "$(med pg-crash-extra-per-gb)" lower

    # Replay lag and pg_basebackup: bench/replication.sh, on its own clusters, with this
    # run's servers stopped so that nothing competes.
    stop_server tusk; stop_server pg
    # shellcheck disable=SC2086
    set -- $REPL_PORTS
    echo "== 5. bench/replication.sh: TPC-B-like -c 8 for ${REPL_SECONDS}s with an async standby;" \
         "pg_basebackup of scale $LOAD_SCALE"
    # The base backup's scale is read before the assignments below: in one command's
    # prefix, "$LOAD_SCALE" after LOAD_SCALE=... would read the new value (SCALE).
    backup_scale=$LOAD_SCALE
    SKIP_BUILD=1 TUSK="$TUSK" BENCH_DIR="$BENCH_DIR/repl" LOAD_SECONDS="$REPL_SECONDS" CLIENTS=8 \
        LOAD_SCALE="$SCALE" SIZE_GB=1 SCALE_PER_GB="$backup_scale" PAUSED_SECONDS=0 \
        TUSK_PORT=$1 TUSK_STANDBY_PORT=$2 PG_PORT=$3 PG_STANDBY_PORT=$4 \
        "$REPO/bench/replication.sh" > "$RAW/replication.txt" 2>&1 \
        || { echo "bench/replication.sh failed:"; tail -20 "$RAW/replication.txt"; }
    cp -r "$BENCH_DIR/repl/raw" "$RAW/replication-raw" 2>/dev/null || true
    rm -rf "$BENCH_DIR/repl"
    # A row of replication.sh's table: "| label | tusk | pg | ratio | better |".
    repl() { awk -F'|' -v l="$1" '{ gsub(/^ +| +$/, "", $2) } $2 == l { gsub(/ /, "", $3); gsub(/ /, "", $4); print $3, $4; exit }' "$RAW/replication.txt"; }
    repl_row() { # label-in-replication.sh label-here better
        local t p
        read -r t p <<< "$(repl "$1")"
        add_row "$2" "${t:-?}" "${p:-?}" "$3"
    }
    repl_row "replay_lag, mean (ms)" "replication: replay_lag under TPC-B-like -c 8, mean (ms)" lower
    repl_row "replay_lag, max (ms)" "replication: replay_lag, max (ms)" lower
    repl_row "replay lag, mean (bytes)" "replication: replay lag, mean (bytes)" lower
    repl_row "primary tps under load" "replication: primary tps under that load" higher
    repl_row "pg_basebackup throughput (MB/s)" "pg_basebackup -Fp -Xs, scale $LOAD_SCALE (MB/s)" higher
fi

# --- the table ------------------------------------------------------------------------------
{
    echo "tusk ($(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?')) against PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), $START_DATE;" \
         "$(nproc) cores, load average $LOAD_BEFORE at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end."
    echo "ROUNDS=$ROUNDS SECONDS_PER_RUN=$SECONDS_PER_RUN SCALE=$SCALE LOAD_SCALE=$LOAD_SCALE SECTIONS=\"$SECTIONS\"; medians."
    echo "Physical limits: fdatasync ${FDATASYNC:-?} ops/s (pg_test_fsync, one 8 kB write); loopback TCP $LOOPBACK MB/s (one stream)."
    echo
    echo "| benchmark | tusk | PostgreSQL | tusk/PG | goal | met? |"
    echo "|---|---:|---:|---:|---|---|"
    for row in "${ROWS[@]}"; do
        IFS='|' read -r label t p better <<< "$row"
        rt=$(ratio "$t" "$p")
        case $better in
            higher) goal="≥ 1.00"; met=$(awk -v r="$rt" 'BEGIN { if (r !~ /^[0-9.]+$/) print "?"; else print (r >= 1 ? "yes" : "no") }') ;;
            lower) goal="≤ 1.00"; met=$(awk -v r="$rt" 'BEGIN { if (r !~ /^[0-9.]+$/) print "?"; else print (r <= 1 ? "yes" : "no") }') ;;
            *) goal="—"; met="—" ;;
        esac
        echo "| $label | $t | $p | $rt | $goal | $met |"
    done
} > "$BENCH_DIR/results.md"
echo
cat "$BENCH_DIR/results.md"
