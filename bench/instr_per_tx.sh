#!/usr/bin/env bash
# tusk's instructions per pgbench transaction, counted by callgrind: a measurement that
# other load on the machine does not disturb, for before/after comparisons of one code
# path (tps on a shared machine varies by 2x between rounds; this varies by < 0.1 %).
#
# For each binary given: a scale-SCALE cluster (made once, with the first binary), the
# binary started under `valgrind --tool=callgrind --instr-atstart=no`, a warm-up of
# WARMUP transactions, instrumentation switched on (`callgrind_control -i on`),
# pgbench with one client for TXNS transactions (SCRIPT_ARGS, default select-only
# prepared), instrumentation off, a fast shutdown; prints the instructions collected
# divided by TXNS. Only user-space instructions of the tusk process are counted (no
# kernel, no client).
#
# Run as root from the repository root:
#   bench/instr_per_tx.sh /tmp/tusk-before target/release/tusk
# Knobs (environment): SCALE (1), TXNS (3000), WARMUP (200), SCRIPT_ARGS
#   ("-S -M prepared"), BENCH_DIR (/var/tmp/tusk-instr, removed and recreated),
#   PORT (25919). The callgrind outputs stay in $BENCH_DIR (callgrind_annotate them).
set -euo pipefail

SCALE=${SCALE:-1}
TXNS=${TXNS:-3000}
WARMUP=${WARMUP:-200}
SCRIPT_ARGS=${SCRIPT_ARGS:-"-S -M prepared"}
BENCH_DIR=${BENCH_DIR:-/var/tmp/tusk-instr}
PORT=${PORT:-25919}
RAW=$BENCH_DIR/raw
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

require_root
check_ports "$PORT"
[ $# -ge 1 ] || { echo "usage: $0 TUSK_BINARY..." >&2; exit 1; }
command -v valgrind > /dev/null || { echo "valgrind is not installed" >&2; exit 1; }

VPID=
cleanup() { if [ -n "$VPID" ]; then kill -INT "$VPID" 2>/dev/null || true; wait "$VPID" 2>/dev/null || true; fi; }
trap cleanup EXIT

rm -rf "$BENCH_DIR"
mkdir -p "$RAW"
D=$BENCH_DIR/data
TUSK=$1
init_tusk "$D" "$PORT" "$BENCH_DIR"
start_tusk_bg "$D" "$RAW/setup.log"
wait_ready "$PORT" "tusk" "$RAW/setup.log"
"$PGBIN/pgbench" -i -s "$SCALE" -h 127.0.0.1 -p "$PORT" -U postgres postgres > "$RAW/init.txt" 2>&1
psql_to "$PORT" "checkpoint"
stop_tusk "$TUSK_PID"

n=0
for bin in "$@"; do
    n=$((n + 1))
    log=$RAW/run$n.log
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$BENCH_DIR/callgrind.$n.out" \
        "$bin" run -D "$D" > "$log" 2>&1 &
    VPID=$!
    # Under valgrind the start takes a while (every table image is read).
    for _ in $(seq 1 1200); do psql_to "$PORT" "select 1" > /dev/null 2>&1 && break; sleep 0.5; done
    # shellcheck disable=SC2086
    "$PGBIN/pgbench" -n $SCRIPT_ARGS -c 1 -t "$WARMUP" -h 127.0.0.1 -p "$PORT" -U postgres postgres > /dev/null 2>&1
    callgrind_control -i on "$VPID" > /dev/null 2>&1
    # shellcheck disable=SC2086
    "$PGBIN/pgbench" -n $SCRIPT_ARGS -c 1 -t "$TXNS" -h 127.0.0.1 -p "$PORT" -U postgres postgres > "$RAW/pgbench$n.txt" 2>&1
    callgrind_control -i off "$VPID" > /dev/null 2>&1
    kill -INT "$VPID"; wait "$VPID" 2>/dev/null || true; VPID=
    ir=$(awk '/Collected :/ {print $NF}' "$log")
    echo "$bin: $ir instructions for $TXNS transactions (and one connection) = $(( ${ir:-0} / TXNS )) per transaction"
done
