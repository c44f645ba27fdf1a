#!/usr/bin/env bash
# Streaming replication of tusk against PostgreSQL 15, same machine, same settings:
# replay lag (bytes and seconds) on an async streaming standby under a sustained
# pgbench write load, the time the standby needs to catch up once the load stops, and
# pg_basebackup throughput (MB/s) for a database of SIZE_GB.
#
# For each server (tusk first, then PostgreSQL 15, one at a time so they never compete):
#   1. a primary (fsync = on, synchronous_commit = on, wal_level = replica) and a standby
#      made by stock `pg_basebackup -Fp -Xs -R` (with a physical slot, -C -S), started on
#      its own port (tusk: `tusk run -D standby`; PostgreSQL: pg_ctl as user postgres);
#   2. `pgbench -n -c CLIENTS -j JOBS -T LOAD_SECONDS` (the built-in TPC-B-like script on
#      `pgbench -i -s LOAD_SCALE` tables) on the primary while a sampler asks the primary
#      every SAMPLE_INTERVAL s (from 1 s after the load starts) for pg_current_wal_lsn(),
#      and from pg_stat_replication the replay_lsn,
#      pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) and replay_lag; the CPU time
#      both servers used over the load (every process of each) is divided by the
#      transactions pgbench made;
#   3. catch-up: the primary's pg_current_wal_lsn() when pgbench exits is the target;
#      the standby's pg_last_wal_replay_lsn() is polled every 50 ms (bounded by
#      CATCHUP_TIMEOUT s) until it reaches it;
#   3b. replay speed: replay is paused on the standby (pg_wal_replay_pause()), the same
#      load runs PAUSED_SECONDS, the standby receives all of it, replay is resumed and
#      timed until it reaches the primary's position: backlog MB / seconds;
#   4. the standby is stopped, `pgbench -i -s SCALE_PER_GB*SIZE_GB` loads the big
#      database, CHECKPOINT, then `pg_basebackup -Fp -Xs -c fast -D dir` is timed;
#      throughput = size of the resulting directory / seconds; with -v, the time until "checkpoint
#      completed" (the backup's start checkpoint) is reported apart, and the throughput
#      of the rest.
#
# Run as root from the repository root (PostgreSQL runs as the `postgres` OS user):
#   bench/replication.sh
# Knobs (environment): LOAD_SECONDS (60), CLIENTS (8), JOBS (2), LOAD_SCALE (10),
#   SIZE_GB (2), SCALE_PER_GB (68), SAMPLE_INTERVAL (0.5), CATCHUP_TIMEOUT (300),
#   PAUSED_SECONDS (30; 0 skips step 3b), RATE (unset: as fast as each server goes; N:
#   step 2's load throttled to N transactions a second with pgbench -R, the same for
#   both servers, so that the lag compares the replication path under the same work),
#   SERVERS ("tusk pg"), BENCH_DIR (/var/tmp/tusk-repl-bench), TUSK_PORT (25911),
#   TUSK_STANDBY_PORT (25912), PG_PORT (25913), PG_STANDBY_PORT (25914),
#   SKIP_BUILD (unset), TUSK (target/release/tusk).
# It writes a summary to stdout and raw outputs (samples, pgbench, logs) under
# $BENCH_DIR/raw/.
set -euo pipefail

LOAD_SECONDS=${LOAD_SECONDS:-60}
CLIENTS=${CLIENTS:-8}
JOBS=${JOBS:-2}
LOAD_SCALE=${LOAD_SCALE:-10}
SIZE_GB=${SIZE_GB:-2}
SCALE_PER_GB=${SCALE_PER_GB:-68}
SAMPLE_INTERVAL=${SAMPLE_INTERVAL:-0.5}
CATCHUP_TIMEOUT=${CATCHUP_TIMEOUT:-300}
PAUSED_SECONDS=${PAUSED_SECONDS:-30}
RATE=${RATE:-}
SERVERS=${SERVERS:-"tusk pg"}
BENCH_DIR=${BENCH_DIR:-/var/tmp/tusk-repl-bench}
TUSK_PORT=${TUSK_PORT:-25911}
TUSK_STANDBY_PORT=${TUSK_STANDBY_PORT:-25912}
PG_PORT=${PG_PORT:-25913}
PG_STANDBY_PORT=${PG_STANDBY_PORT:-25914}
PGBIN=/usr/lib/postgresql/15/bin
REPO=$(cd "$(dirname "$0")/.." && pwd)
TUSK=${TUSK:-$REPO/target/release/tusk}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
BIG_SCALE=$(awk -v g="$SIZE_GB" -v s="$SCALE_PER_GB" 'BEGIN { n = int(g * s + 0.5); print (n < 1 ? 1 : n) }')

[ "$(id -u)" = 0 ] || { echo "run as root (PostgreSQL is started as user postgres)" >&2; exit 1; }
for p in "$TUSK_PORT" "$TUSK_STANDBY_PORT" "$PG_PORT" "$PG_STANDBY_PORT"; do
    [ "$p" != 5432 ] || { echo "never port 5432" >&2; exit 1; }
done

if [ -z "${SKIP_BUILD:-}" ]; then
    (cd "$REPO" && cargo build --release --bin tusk)
fi

# --- process bookkeeping and cleanup --------------------------------------------------
TUSK_PRIMARY_PID=
TUSK_STANDBY_PID=
SAMPLER_PID=
cleanup() {
    if [ -n "$SAMPLER_PID" ]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
    stop_tusk "$TUSK_STANDBY_PID"
    stop_tusk "$TUSK_PRIMARY_PID"
    pg_stop "$BENCH_DIR/pg-standby"
    pg_stop "$BENCH_DIR/pg"
}
trap cleanup EXIT

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR/raw" "$BENCH_DIR/sock"
chown postgres "$BENCH_DIR" "$BENCH_DIR/sock"
chmod 755 "$BENCH_DIR"
chmod 1777 "$BENCH_DIR/raw"
chmod 1777 "$BENCH_DIR/sock"
RAW=$BENCH_DIR/raw

# psql_to, lsn_num, now, wait_ready, stop_tusk, pg_stop and ratio: bench/lib.sh.

# The settings both primaries get (appended to postgresql.conf).
primary_conf() { # port
    cat <<EOF
port = $1
listen_addresses = '127.0.0.1'
unix_socket_directories = '$BENCH_DIR/sock'
fsync = on
synchronous_commit = on
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
max_connections = 100
EOF
}

start_primary() { # server
    local d=$BENCH_DIR/$1
    if [ "$1" = tusk ]; then
        "$TUSK" init -D "$d" > "$RAW/tusk-init.txt" 2>&1
        primary_conf "$TUSK_PORT" >> "$d/postgresql.conf"
        "$TUSK" run -D "$d" > "$RAW/tusk-primary.log" 2>&1 &
        TUSK_PRIMARY_PID=$!
        wait_ready "$TUSK_PORT" "tusk primary" "$RAW/tusk-primary.log"
    else
        su postgres -c "$PGBIN/initdb -D $d -A trust -U postgres" > "$RAW/pg-initdb.txt" 2>&1
        primary_conf "$PG_PORT" >> "$d/postgresql.conf"
        su postgres -c "$PGBIN/pg_ctl -D $d -l $RAW/pg-primary.log -w start" > /dev/null
        wait_ready "$PG_PORT" "PostgreSQL primary" "$RAW/pg-primary.log"
    fi
}

# pg_basebackup -Fp -Xs -R -C -S bench_standby, then the standby's own port, then start.
start_standby() { # server
    local port sport d=$BENCH_DIR/$1-standby
    if [ "$1" = tusk ]; then port=$TUSK_PORT sport=$TUSK_STANDBY_PORT; else port=$PG_PORT sport=$PG_STANDBY_PORT; fi
    mkdir -p "$d"; chown postgres "$d"; chmod 700 "$d"
    su postgres -c "$PGBIN/pg_basebackup -Fp -Xs -R -C -S bench_standby -D $d -h 127.0.0.1 -p $port -U postgres" \
        > "$RAW/$1-standby-basebackup.txt" 2>&1 \
        || { echo "$1: pg_basebackup for the standby failed:"; cat "$RAW/$1-standby-basebackup.txt"; exit 1; }
    printf 'port = %s\n' "$sport" >> "$d/postgresql.conf"
    if [ "$1" = tusk ]; then
        "$TUSK" run -D "$d" > "$RAW/tusk-standby.log" 2>&1 &
        TUSK_STANDBY_PID=$!
        wait_ready "$sport" "tusk standby" "$RAW/tusk-standby.log"
    else
        su postgres -c "$PGBIN/pg_ctl -D $d -l $RAW/pg-standby.log -w start" > /dev/null
        wait_ready "$sport" "PostgreSQL standby" "$RAW/pg-standby.log"
    fi
    # Bounded wait for the walsender to report streaming.
    for _ in $(seq 1 300); do
        [ "$(psql_to "$port" "select count(*) from pg_stat_replication where state = 'streaming'")" = 1 ] && return 0
        sleep 0.1
    done
    echo "$1: the standby is not streaming after 30 s" >&2
    exit 1
}

stop_standby() { # server
    if [ "$1" = tusk ]; then stop_tusk "$TUSK_STANDBY_PID"; TUSK_STANDBY_PID=; else pg_stop "$BENCH_DIR/pg-standby"; fi
}
stop_primary() { # server
    if [ "$1" = tusk ]; then stop_tusk "$TUSK_PRIMARY_PID"; TUSK_PRIMARY_PID=; else pg_stop "$BENCH_DIR/pg"; fi
}

# Samples the primary every SAMPLE_INTERVAL s until killed: one line per sample,
# "epoch current_lsn replay_lsn lag_bytes replay_lag" ('-' for NULL).
sampler() { # port out
    local q="select pg_current_wal_lsn(), coalesce(replay_lsn::text, '-'),
        coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::text, '-'),
        coalesce(replay_lag::text, '-') from pg_stat_replication"
    # The first second of the load is not sampled: replay_lag still holds the value of
    # the last idle-time reply then (the standby reports replay with its next reply).
    sleep 1
    while :; do
        local t row
        t=$(now)
        row=$(psql_to "$1" "$q" 2>/dev/null | head -1 | tr '|' ' ') || row=
        [ -n "$row" ] && echo "$t $row" >> "$2"
        sleep "$SAMPLE_INTERVAL"
    done
}

# A PostgreSQL interval text (HH:MM:SS[.ffffff], maybe "N days ...") in seconds.
# awk function text shared by the summaries.
AWK_INTERVAL='function secs(s,   n, p, d) { d = 0; if (s ~ /day/) { split(s, p, " "); d = p[1] * 86400; s = p[3] }
    n = split(s, p, ":"); if (n != 3) return -1; return d + p[1] * 3600 + p[2] * 60 + p[3] }'

declare -A R

# Polls the standby's pg_last_wal_replay_lsn() every 50 ms until it reaches byte
# position TARGET; prints the seconds since FROM (an epoch), or timeout(>N s) after
# CATCHUP_TIMEOUT.
wait_replay() { # standby_port target from
    local deadline replay
    deadline=$(awk -v t="$3" -v d="$CATCHUP_TIMEOUT" 'BEGIN { printf "%.3f", t + d }')
    while :; do
        replay=$(psql_to "$1" "select pg_last_wal_replay_lsn()" 2>/dev/null || true)
        if [ -n "$replay" ] && (( $(lsn_num "$replay") >= $2 )); then
            awk -v a="$3" -v b="$(now)" 'BEGIN { printf "%.3f\n", b - a }'
            return 0
        fi
        if awk -v n="$(now)" -v d="$deadline" 'BEGIN { exit !(n > d) }'; then
            echo "timeout(>${CATCHUP_TIMEOUT}s)"
            return 0
        fi
        sleep 0.05
    done
}

run_server() { # server
    local s=$1 port sport_of
    if [ "$s" = tusk ]; then port=$TUSK_PORT sport_of=$TUSK_STANDBY_PORT; else port=$PG_PORT sport_of=$PG_STANDBY_PORT; fi
    echo "== $s: primary, pgbench -i -s $LOAD_SCALE, standby by pg_basebackup -Fp -Xs -R"
    start_primary "$s"
    "$PGBIN/pgbench" -i -s "$LOAD_SCALE" -h 127.0.0.1 -p "$port" -U postgres postgres > "$RAW/$s-load-init.txt" 2>&1 \
        || { echo "$s: pgbench -i failed:"; tail -20 "$RAW/$s-load-init.txt"; exit 1; }
    psql_to "$port" "checkpoint"
    start_standby "$s"

    # Start the load from a caught-up standby, as the primary sees it: small writes
    # (one a second) until pg_stat_replication's replay_lsn has passed the first one
    # (bounded). The standby reports its replay position with its next reply, after it
    # receives more WAL, so one write is not always enough. (Without this, tusk's first
    # sample showed the rest of the segment skipped by the backup's WAL switch: tusk's
    # standby reports the end of a switch record, not the segment boundary, until it
    # replays the next record.)
    psql_to "$port" "create table bench_settle (x int)"
    local settle_target settled=
    settle_target=$(lsn_num "$(psql_to "$port" "select pg_current_wal_lsn()")")
    for i in $(seq 1 300); do
        local r
        r=$(psql_to "$port" "select replay_lsn from pg_stat_replication" 2>/dev/null | head -1 || true)
        if [ -n "$r" ] && (( $(lsn_num "$r") >= settle_target )); then settled=1; break; fi
        (( i % 10 )) || psql_to "$port" "insert into bench_settle values ($i)"
        sleep 0.1
    done
    [ -n "$settled" ] || { echo "$s: the standby did not report replaying a small write within 30 s" >&2; exit 1; }

    # --- 2. sustained write load with the sampler ----------------------------------
    echo "== $s: pgbench -n -c $CLIENTS -j $JOBS -T $LOAD_SECONDS${RATE:+ -R $RATE} (TPC-B-like), sampling every ${SAMPLE_INTERVAL}s"
    local samples=$RAW/$s-samples.txt
    : > "$samples"
    local start_lsn
    start_lsn=$(psql_to "$port" "select pg_current_wal_lsn()")
    local ppid spid cpu_p0 cpu_s0
    if [ "$s" = tusk ]; then
        ppid=$TUSK_PRIMARY_PID spid=$TUSK_STANDBY_PID
    else
        ppid=$(pg_postmaster_pid "$BENCH_DIR/pg") spid=$(pg_postmaster_pid "$BENCH_DIR/pg-standby")
    fi
    cpu_p0=$(server_cpu_ms "$ppid") cpu_s0=$(server_cpu_ms "$spid")
    sampler "$port" "$samples" &
    SAMPLER_PID=$!
    "$PGBIN/pgbench" -n -c "$CLIENTS" -j "$JOBS" -T "$LOAD_SECONDS" ${RATE:+-R "$RATE"} -h 127.0.0.1 -p "$port" -U postgres postgres \
        > "$RAW/$s-load.txt" 2>&1 || { echo "$s: pgbench failed:"; tail -20 "$RAW/$s-load.txt"; }
    local t_end target cpu_p1 cpu_s1
    t_end=$(now)
    cpu_p1=$(server_cpu_ms "$ppid") cpu_s1=$(server_cpu_ms "$spid")
    target=$(psql_to "$port" "select pg_current_wal_lsn()")
    kill "$SAMPLER_PID" 2>/dev/null || true
    wait "$SAMPLER_PID" 2>/dev/null || true
    SAMPLER_PID=

    # --- 3. catch-up ------------------------------------------------------------------
    local sport=$sport_of replay tnum catchup
    tnum=$(lsn_num "$target")
    catchup=$(wait_replay "$sport" "$tnum" "$t_end")
    replay=$(psql_to "$sport" "select pg_last_wal_replay_lsn()" 2>/dev/null || true)
    echo "catch-up: target $target, standby replay reached it after ${catchup} s (last seen ${replay:-?})" \
        | tee "$RAW/$s-catchup.txt"

    local tps
    tps=$(awk '/^tps = / {printf "%.0f", $3; exit}' "$RAW/$s-load.txt")
    # Lag summary over samples that have a replay position.
    local summary
    summary=$(awk "$AWK_INTERVAL"'
        $4 != "-" { nb++; sb += $4; if ($4 > mb) mb = $4 }
        $5 != "-" { v = secs($5 " " $6 " " $7); if (v >= 0) { ns++; ss += v; if (v > ms) ms = v } }
        END {
            printf "%d %.0f %.0f %d %.1f %.1f\n", nb, (nb ? sb / nb : -1), (nb ? mb : -1),
                ns, (ns ? 1000 * ss / ns : -1), (ns ? 1000 * ms : -1)
        }' "$samples")
    # shellcheck disable=SC2086
    set -- $summary
    local wal_bytes=$(( tnum - $(lsn_num "$start_lsn") ))
    R[$s-tps]=${tps:-?}
    R[$s-wal_mb_s]=$(awk -v b="$wal_bytes" -v t="$LOAD_SECONDS" 'BEGIN { printf "%.1f", b / t / 1048576 }')
    R[$s-n]=$1
    R[$s-lagb_mean]=$2
    R[$s-lagb_max]=$3
    R[$s-lags_mean]=$5
    R[$s-lags_max]=$6
    R[$s-lags_n]=$4
    R[$s-catchup]=$catchup
    local ntx_load
    ntx_load=$(awk '/number of transactions actually processed/ {print $NF; exit}' "$RAW/$s-load.txt")
    R[$s-cpu_primary]=$(awk -v c="$((cpu_p1 - cpu_p0))" -v n="${ntx_load:-0}" 'BEGIN { if (n > 0) printf "%.1f", c * 1000 / n; else print "?" }')
    R[$s-cpu_standby]=$(awk -v c="$((cpu_s1 - cpu_s0))" -v n="${ntx_load:-0}" 'BEGIN { if (n > 0) printf "%.1f", c * 1000 / n; else print "?" }')
    echo "$s: ${tps:-?} tps, WAL ${R[$s-wal_mb_s]} MB/s; replay lag bytes mean $2 max $3 ($1 samples);" \
        "replay_lag mean $5 ms, max $6 ms ($4 non-null samples); catch-up ${catchup} s"

    # --- 3b. replay speed: the same load with replay paused, then resumed ---------------
    if [ "$PAUSED_SECONDS" != 0 ]; then
        echo "== $s: pgbench -T $PAUSED_SECONDS with replay paused on the standby, then resumed"
        psql_to "$sport" "select pg_wal_replay_pause()" > /dev/null
        local p0 p1 paused_from t_resume
        p0=$(psql_to "$port" "select pg_current_wal_lsn()")
        "$PGBIN/pgbench" -n -c "$CLIENTS" -j "$JOBS" -T "$PAUSED_SECONDS" -h 127.0.0.1 -p "$port" -U postgres postgres \
            > "$RAW/$s-paused-load.txt" 2>&1 || { echo "$s: pgbench failed:"; tail -20 "$RAW/$s-paused-load.txt"; }
        p1=$(psql_to "$port" "select pg_current_wal_lsn()")
        # Wait (bounded) until the standby has received everything, so that what follows
        # measures replay alone.
        for _ in $(seq 1 300); do
            local rcv
            rcv=$(psql_to "$sport" "select pg_last_wal_receive_lsn()" 2>/dev/null || true)
            [ -n "$rcv" ] && (( $(lsn_num "$rcv") >= $(lsn_num "$p1") )) && break
            sleep 0.1
        done
        paused_from=$(psql_to "$sport" "select pg_last_wal_replay_lsn()")
        t_resume=$(now)
        # On PostgreSQL the resuming statement itself may be cancelled by a recovery
        # conflict (the backlog's cleanup records are older than
        # max_standby_streaming_delay); replay is resumed all the same. Check, and retry.
        for _ in $(seq 1 50); do
            psql_to "$sport" "select pg_wal_replay_resume()" > /dev/null 2>&1 || true
            [ "$(psql_to "$sport" "select pg_get_wal_replay_pause_state()" 2>/dev/null || true)" = "not paused" ] && break
            sleep 0.1
        done
        local rt
        rt=$(wait_replay "$sport" "$(lsn_num "$p1")" "$t_resume")
        local backlog=$(( $(lsn_num "$p1") - $(lsn_num "$paused_from") ))
        R[$s-backlog_mb]=$(awk -v b="$backlog" 'BEGIN { printf "%.1f", b / 1048576 }')
        R[$s-replay_s]=$rt
        R[$s-replay_mbs]=$(awk -v b="$backlog" -v t="$rt" 'BEGIN { if (t ~ /^[0-9.]+$/ && t > 0) printf "%.1f", b / t / 1048576; else print "?" }')
        local ntx
        ntx=$(awk '/number of transactions actually processed/ {print $NF; exit}' "$RAW/$s-paused-load.txt")
        R[$s-replay_tx]=${ntx:-?}
        R[$s-replay_txs]=$(awk -v n="${ntx:-}" -v t="$rt" 'BEGIN { if (n != "" && t ~ /^[0-9.]+$/ && t > 0) printf "%.0f", n / t; else print "?" }')
        echo "$s: backlog ${R[$s-backlog_mb]} MB of WAL ($p0 .. $p1, replay paused at $paused_from)" \
            "replayed in $rt s after resume = ${R[$s-replay_mbs]} MB/s," \
            "${R[$s-replay_tx]} pgbench transactions = ${R[$s-replay_txs]} transactions/s" | tee "$RAW/$s-paused.txt"
    fi
    stop_standby "$s"
    rm -rf "${BENCH_DIR:?}/$s-standby"

    # --- 4. base backup throughput ----------------------------------------------------
    echo "== $s: pgbench -i -s $BIG_SCALE (about $SIZE_GB GB), CHECKPOINT, timed pg_basebackup -Fp -Xs -c fast"
    psql_to "$port" "select pg_drop_replication_slot('bench_standby')" > /dev/null
    local t0 t1
    t0=$(now)
    "$PGBIN/pgbench" -i -s "$BIG_SCALE" -h 127.0.0.1 -p "$port" -U postgres postgres > "$RAW/$s-big-init.txt" 2>&1 \
        || { echo "$s: pgbench -i -s $BIG_SCALE failed:"; tail -20 "$RAW/$s-big-init.txt"; exit 1; }
    t1=$(now)
    psql_to "$port" "checkpoint"
    local rss="" dbsize
    if [ "$s" = tusk ]; then
        rss=$(awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$TUSK_PRIMARY_PID/status")
    fi
    dbsize=$(du -sm "$BENCH_DIR/$s/base" | cut -f1)
    echo "loaded in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }') s; base/ ${dbsize} MB${rss:+; tusk RSS ${rss} MB}"
    local bdir=$BENCH_DIR/$s-backup
    mkdir -p "$bdir"; chown postgres "$bdir"; chmod 700 "$bdir"
    sync
    t0=$(now)
    # -v: "checkpoint completed" marks the end of the backup's start checkpoint; every
    # line is stamped as it arrives to split the time into checkpoint and transfer.
    su postgres -c "$PGBIN/pg_basebackup -v -Fp -Xs -c fast -D $bdir -h 127.0.0.1 -p $port -U postgres 2>&1" \
        | while IFS= read -r line; do printf '%s %s\n' "$(now)" "$line"; done > "$RAW/$s-basebackup.txt" \
        || { echo "$s: pg_basebackup failed:"; cat "$RAW/$s-basebackup.txt"; exit 1; }
    t1=$(now)
    local t_ckpt
    t_ckpt=$(awk '/checkpoint completed/ {print $1; exit}' "$RAW/$s-basebackup.txt")
    local mb secs
    mb=$(du -sm "$bdir" | cut -f1)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    R[$s-bb_mb]=$mb
    R[$s-bb_s]=$secs
    R[$s-bb_mbs]=$(awk -v m="$mb" -v t="$secs" 'BEGIN { printf "%.1f", m / t }')
    R[$s-bb_ckpt]=$(awk -v a="$t0" -v b="${t_ckpt:-}" 'BEGIN { if (b == "") print "?"; else printf "%.2f", b - a }')
    R[$s-bb_xfer_mbs]=$(awk -v m="$mb" -v t="$t1" -v c="${t_ckpt:-}" 'BEGIN { if (c == "" || t - c <= 0) print "?"; else printf "%.1f", m / (t - c) }')
    R[$s-base_mb]=$dbsize
    R[$s-rss]=${rss:--}
    echo "$s: pg_basebackup -Fp -Xs: $mb MB in $secs s = ${R[$s-bb_mbs]} MB/s" \
        "(start checkpoint ${R[$s-bb_ckpt]} s; after it ${R[$s-bb_xfer_mbs]} MB/s)"
    rm -rf "$bdir"
    stop_primary "$s"
    rm -rf "${BENCH_DIR:?}/$s"
}

for s in $SERVERS; do run_server "$s"; done

# --- summary ---------------------------------------------------------------------------
get() { echo "${R[$1]:-?}"; }
echo
echo "Load: pgbench TPC-B-like, -c $CLIENTS -j $JOBS -T $LOAD_SECONDS${RATE:+ -R $RATE} on scale $LOAD_SCALE; async standby;" \
     "samples every ${SAMPLE_INTERVAL}s. Base backup: pgbench -i -s $BIG_SCALE."
echo
echo "| measure | tusk | PostgreSQL 15 | tusk/PG | better |"
echo "|---|---:|---:|---:|---|"
row() { # label key better
    echo "| $1 | $(get "tusk-$2") | $(get "pg-$2") | $(ratio "$(get "tusk-$2")" "$(get "pg-$2")") | $3 |"
}
row "primary tps under load" tps "higher"
row "WAL generated (MB/s)" wal_mb_s "(context)"
row "replay lag, mean (bytes)" lagb_mean "lower"
row "replay lag, max (bytes)" lagb_max "lower"
row "replay_lag, mean (ms)" lags_mean "lower"
row "replay_lag, max (ms)" lags_max "lower"
row "catch-up after load stops (s)" catchup "lower"
row "primary CPU per 1 000 transactions (ms)" cpu_primary "lower"
row "standby CPU per 1 000 transactions (ms)" cpu_standby "lower"
row "backlog after a paused-replay load (MB)" backlog_mb "(context)"
row "time to replay that backlog (s)" replay_s "lower"
row "  transactions in that backlog" replay_tx "(context)"
row "replay speed (MB of WAL/s)" replay_mbs "higher"
row "replay speed (pgbench transactions/s)" replay_txs "higher"
row "base backup size (MB)" bb_mb "(context)"
row "pg_basebackup time (s)" bb_s "lower"
row "pg_basebackup throughput (MB/s)" bb_mbs "higher"
row "  of the time: start checkpoint (s)" bb_ckpt "lower"
row "  throughput after the checkpoint (MB/s)" bb_xfer_mbs "higher"
echo
echo "samples with a replay position: tusk $(get tusk-n), PG $(get pg-n); non-null replay_lag: tusk $(get tusk-lags_n), PG $(get pg-lags_n); tusk primary RSS after the big load: $(get tusk-rss) MB"
