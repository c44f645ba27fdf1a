#!/usr/bin/env bash
# Commit rate of tusk against PostgreSQL 15, same machine, same settings
# (fsync = on, synchronous_commit = on), 1, 8 and 32 clients, alternating, medians.
# Also: pg_test_fsync's fdatasync rate for the disk under BENCH_DIR, and the on-disk
# size of each data directory after `pgbench -i -s SCALE`.
#
# Run as root from the repository root (PostgreSQL runs as the `postgres` OS user):
#   bench/commit_rate.sh
# Knobs (environment): ROUNDS (3), SECONDS_PER_RUN (10), CLIENTS ("1 8 32"),
#   SCALE (5), BENCH_DIR (/var/tmp/tusk-bench), TUSK_PORT (25901), PG_PORT (25902),
#   PROTOCOL (prepared), SKIP_BUILD (unset), TUSK (target/release/tusk).
# It writes a summary to stdout and raw pgbench outputs under $BENCH_DIR/raw/.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
CLIENTS=${CLIENTS:-"1 8 32"}
SCALE=${SCALE:-5}
BENCH_DIR=${BENCH_DIR:-/var/tmp/tusk-bench}
TUSK_PORT=${TUSK_PORT:-25901}
PG_PORT=${PG_PORT:-25902}
PROTOCOL=${PROTOCOL:-prepared}
PGBIN=/usr/lib/postgresql/15/bin
REPO=$(cd "$(dirname "$0")/.." && pwd)
TUSK=${TUSK:-$REPO/target/release/tusk}

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "run as root (PostgreSQL is started as user postgres)" >&2; exit 1; }
[ "$TUSK_PORT" != 5432 ] && [ "$PG_PORT" != 5432 ] || { echo "never port 5432" >&2; exit 1; }

if [ -z "${SKIP_BUILD:-}" ]; then
    (cd "$REPO" && cargo build --release --bin tusk)
fi

TUSK_PID=
cleanup() {
    if [ -n "$TUSK_PID" ]; then kill -INT "$TUSK_PID" 2>/dev/null || true; wait "$TUSK_PID" 2>/dev/null || true; fi
    su postgres -c "$PGBIN/pg_ctl -D $BENCH_DIR/pg -m fast -w stop" >/dev/null 2>&1 || true
}
trap cleanup EXIT

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR/raw" "$BENCH_DIR/sock-tusk" "$BENCH_DIR/sock-pg"
chown postgres "$BENCH_DIR" "$BENCH_DIR/sock-pg"
chmod 755 "$BENCH_DIR"

# --- the disk ---------------------------------------------------------------------
echo "== pg_test_fsync (file on $BENCH_DIR)"
"$PGBIN/pg_test_fsync" -s 3 -f "$BENCH_DIR/fsync.test" > "$BENCH_DIR/raw/pg_test_fsync.txt" 2>&1 || true
FDATASYNC=$(awk '/fdatasync/ && /ops\/sec/ {print $2; exit}' "$BENCH_DIR/raw/pg_test_fsync.txt")
echo "fdatasync (one 8kB write): ${FDATASYNC:-?} ops/sec"
rm -f "$BENCH_DIR/fsync.test"

# --- the servers --------------------------------------------------------------------
"$TUSK" init -D "$BENCH_DIR/tusk" > "$BENCH_DIR/raw/tusk-init.txt" 2>&1
cat >> "$BENCH_DIR/tusk/postgresql.conf" <<EOF
port = $TUSK_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$BENCH_DIR/sock-tusk'
fsync = on
synchronous_commit = on
max_connections = 100
EOF
su postgres -c "$PGBIN/initdb -D $BENCH_DIR/pg -A trust -U postgres" > "$BENCH_DIR/raw/pg-initdb.txt" 2>&1
cat >> "$BENCH_DIR/pg/postgresql.conf" <<EOF
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$BENCH_DIR/sock-pg'
fsync = on
synchronous_commit = on
max_connections = 100
EOF

"$TUSK" run -D "$BENCH_DIR/tusk" > "$BENCH_DIR/raw/tusk.log" 2>&1 &
TUSK_PID=$!
for _ in $(seq 1 300); do
    grep -q "ready to accept connections" "$BENCH_DIR/raw/tusk.log" && break
    sleep 0.1
done
grep -q "ready to accept connections" "$BENCH_DIR/raw/tusk.log" || { cat "$BENCH_DIR/raw/tusk.log"; exit 1; }
su postgres -c "$PGBIN/pg_ctl -D $BENCH_DIR/pg -l $BENCH_DIR/pg/server.log -w start" > /dev/null

# psql_to and median: bench/lib.sh.

for port in "$TUSK_PORT" "$PG_PORT"; do
    psql_to "$port" "create table bench_commit (id bigint, v text)"
done
cat > "$BENCH_DIR/insert.sql" <<'EOF'
\set id random(1, 1000000000)
INSERT INTO bench_commit (id, v) VALUES (:id, 'a commit-rate benchmark row');
EOF

# One pgbench run: prints its tps.
run_one() { # name port clients round
    local name=$1 port=$2 c=$3 r=$4 out
    out="$BENCH_DIR/raw/$name-c$c-r$r.txt"
    local j=$(( c < 2 ? 1 : 2 ))
    "$PGBIN/pgbench" -n -M "$PROTOCOL" -f "$BENCH_DIR/insert.sql" -h 127.0.0.1 -p "$port" -U postgres \
        -c "$c" -j "$j" -T "$SECONDS_PER_RUN" postgres > "$out" 2>&1 || true
    awk '/^tps = / {print $3}' "$out" | head -1
}


echo "== commit rate: INSERT per transaction, -M $PROTOCOL, ${SECONDS_PER_RUN}s runs, $ROUNDS rounds, alternating"
declare -A TPS
for r in $(seq 1 "$ROUNDS"); do
    for c in $CLIENTS; do
        # Alternate which server goes first each round.
        if (( r % 2 )); then order="tusk pg"; else order="pg tusk"; fi
        for name in $order; do
            if [ "$name" = tusk ]; then port=$TUSK_PORT; else port=$PG_PORT; fi
            t=$(run_one "$name" "$port" "$c" "$r")
            echo "round $r clients $c $name: ${t:-failed} tps"
            TPS[$name-$c]="${TPS[$name-$c]:-} ${t:-}"
        done
    done
done

echo
echo "| clients | tusk tps (median) | PostgreSQL 15 tps (median) | tusk/PG |"
echo "|---:|---:|---:|---:|"
for c in $CLIENTS; do
    tm=$(echo "${TPS[tusk-$c]}" | tr ' ' '\n' | grep . | median || echo "?")
    pm=$(echo "${TPS[pg-$c]}" | tr ' ' '\n' | grep . | median || echo "?")
    ratio=$(awk -v a="$tm" -v b="$pm" 'BEGIN { if (b+0 > 0 && a+0 > 0) printf "%.2f", a/b; else print "?" }')
    echo "| $c | $tm | $pm | $ratio |"
done

# --- on-disk size after the same load -------------------------------------------------
echo
echo "== on-disk size after pgbench -i -s $SCALE, CHECKPOINT"
for name in tusk pg; do
    if [ "$name" = tusk ]; then port=$TUSK_PORT; else port=$PG_PORT; fi
    d=$BENCH_DIR/$name
    psql_to "$port" "drop table bench_commit"
    psql_to "$port" "checkpoint"
    before=$(du -sk "$d/base" | cut -f1)
    "$PGBIN/pgbench" -i -s "$SCALE" -h 127.0.0.1 -p "$port" -U postgres postgres > "$BENCH_DIR/raw/$name-init.txt" 2>&1 \
        || { echo "$name: pgbench -i failed (see raw/$name-init.txt)"; continue; }
    psql_to "$port" "checkpoint"
    rows=$(psql_to "$port" "select count(*) from pgbench_accounts")
    total=$(du -sk "$d" | cut -f1)
    base=$(du -sk "$d/base" | cut -f1)
    wal=$(du -sk "$d/pg_wal" | cut -f1)
    echo "$name: pgbench_accounts rows $rows; base/ grew $((base - before)) kB (to ${base} kB); pg_wal ${wal} kB; whole datadir ${total} kB"
done
