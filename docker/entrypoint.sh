#!/bin/sh
# tusk's container start-up, in the manner of the official postgres image's
# docker-entrypoint.sh, and runnable without Docker (tests/docker_entrypoint.rs runs it
# in CI).
#
# On the first start (an empty or missing $PGDATA) it makes the data directory:
#   - a primary:  tusk init with POSTGRES_USER / POSTGRES_PASSWORD, listen_addresses='*',
#                 pg_hba.conf lines for everyone (databases and replication) with
#                 POSTGRES_HOST_AUTH_METHOD, POSTGRES_DB created, the replication role
#                 POSTGRES_REPLICATION_USER created, archiving into TUSK_ARCHIVE_DIR, and
#                 the scripts of TUSK_INITDB_DIR (*.sql, *.sql.gz, *.sh) run once;
#   - a standby (TUSK_PRIMARY_CONNINFO set): waits for the primary, then stock
#                 `pg_basebackup -Fp -Xs -R` from it, hot_standby = on, the primary's
#                 max_connections (and the other settings a hot standby must not have
#                 lower), and restoring from / cleaning up TUSK_ARCHIVE_DIR when given —
#                 the guide's standby.
# Then (and on every later start) it execs `tusk run -D $PGDATA` with the arguments
# given: `-c name=value` options are passed on, as with the postgres image.
#
# Environment (defaults in brackets):
#   PGDATA [/var/lib/tusk/data]   PGPORT [5432]   TUSK_BIN [tusk]
#   POSTGRES_USER [postgres]      POSTGRES_PASSWORD (required unless the method is trust)
#   POSTGRES_DB [$POSTGRES_USER]  POSTGRES_HOST_AUTH_METHOD [scram-sha-256]
#   POSTGRES_INITDB_ARGS          extra `tusk init` options (e.g. --wal-segsize=64)
#   POSTGRES_REPLICATION_USER / POSTGRES_REPLICATION_PASSWORD   role for standbys
#   TUSK_ARCHIVE_DIR              a shared archive volume (primary writes, standby reads)
#   TUSK_PRIMARY_CONNINFO         libpq string of the primary: makes this a standby
#   TUSK_PRIMARY_WAIT [120]       seconds to wait for the primary to accept connections
#   TUSK_INITDB_DIR [/docker-entrypoint-initdb.d]
#   TUSK_RUN_AS [tusk]            when started as root: the user to run as, if it exists
set -eu

TUSK_BIN=${TUSK_BIN:-tusk}
PGDATA=${PGDATA:-/var/lib/tusk/data}
PGPORT=${PGPORT:-5432}
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_PASSWORD=${POSTGRES_PASSWORD:-}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
POSTGRES_HOST_AUTH_METHOD=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
POSTGRES_INITDB_ARGS=${POSTGRES_INITDB_ARGS:-}
POSTGRES_REPLICATION_USER=${POSTGRES_REPLICATION_USER:-}
POSTGRES_REPLICATION_PASSWORD=${POSTGRES_REPLICATION_PASSWORD:-}
TUSK_ARCHIVE_DIR=${TUSK_ARCHIVE_DIR:-}
TUSK_PRIMARY_CONNINFO=${TUSK_PRIMARY_CONNINFO:-}
TUSK_PRIMARY_WAIT=${TUSK_PRIMARY_WAIT:-120}
TUSK_INITDB_DIR=${TUSK_INITDB_DIR:-/docker-entrypoint-initdb.d}
TUSK_RUN_AS=${TUSK_RUN_AS-tusk}
export PGDATA PGPORT

log() { echo "tusk-entrypoint: $*" >&2; }
die() { log "error: $*"; exit 1; }

# `docker run IMAGE -c x=y` and `docker run IMAGE tusk run -c x=y` both mean tusk run.
if [ "${1:-}" = "tusk" ]; then shift; fi
if [ "${1:-}" = "run" ]; then shift; fi
case "${1:-}" in
    ''|-*) ;;
    *) exec "$@" ;;  # anything else (a shell, psql) runs as given
esac

# As root: own the data directory (and the archive), then run as the unprivileged user.
if [ "$(id -u)" = 0 ] && [ -n "$TUSK_RUN_AS" ] && id "$TUSK_RUN_AS" >/dev/null 2>&1; then
    mkdir -p "$PGDATA"
    chown "$TUSK_RUN_AS" "$PGDATA"
    chmod 0700 "$PGDATA"
    if [ -n "$TUSK_ARCHIVE_DIR" ]; then
        mkdir -p "$TUSK_ARCHIVE_DIR"
        chown "$TUSK_RUN_AS" "$TUSK_ARCHIVE_DIR"
    fi
    exec setpriv --reuid="$TUSK_RUN_AS" --regid="$(id -g "$TUSK_RUN_AS")" --init-groups "$0" "$@"
fi

# A quoted SQL literal / identifier.
sql_literal() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"; }
sql_ident() { printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')"; }

conf() { printf '%s\n' "$1" >> "$PGDATA/postgresql.conf"; }

# Starts the new cluster for set-up only: Unix socket in a private directory, no TCP.
SETUP_SOCKETS=
start_for_setup() {
    SETUP_SOCKETS=$(mktemp -d)
    "$TUSK_BIN" ctl start -D "$PGDATA" -w -t 60 -s \
        -o "-c listen_addresses= -c unix_socket_directories=$SETUP_SOCKETS -p $PGPORT" \
        -l "$PGDATA/setup.log" \
        || { cat "$PGDATA/setup.log" >&2; die "could not start the server for set-up"; }
}
stop_after_setup() {
    "$TUSK_BIN" ctl stop -D "$PGDATA" -m fast -w -t 60 -s
    rm -rf "$SETUP_SOCKETS"
    rm -f "$PGDATA/setup.log"
}
setup_psql() {
    PGPASSWORD= psql -X -q -v ON_ERROR_STOP=1 -h "$SETUP_SOCKETS" -p "$PGPORT" \
        -U "$POSTGRES_USER" "$@"
}

init_primary() {
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
        die "Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, \"-e POSTGRES_PASSWORD=password\" on \"docker run\".
       (Or POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without a password;
       not recommended.)"
    fi
    log "initializing a primary in $PGDATA"
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    pwopt=
    if [ -n "$POSTGRES_PASSWORD" ]; then pwopt="--pwfile=$pwfile"; fi
    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of options
    "$TUSK_BIN" init -D "$PGDATA" -U "$POSTGRES_USER" $pwopt \
        --auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD" $POSTGRES_INITDB_ARGS >&2 \
        || { rm -f "$pwfile"; die "tusk init failed"; }
    rm -f "$pwfile"
    {
        echo
        echo "# Added by docker/entrypoint.sh"
        echo "host all all all $POSTGRES_HOST_AUTH_METHOD"
        echo "host replication all all $POSTGRES_HOST_AUTH_METHOD"
    } >> "$PGDATA/pg_hba.conf"
    conf ""
    conf "# Added by docker/entrypoint.sh"
    conf "listen_addresses = '*'"
    conf "port = $PGPORT"
    if [ -n "$TUSK_ARCHIVE_DIR" ]; then
        mkdir -p "$TUSK_ARCHIVE_DIR"
        conf "archive_mode = on"
        conf "archive_command = 'test ! -f $TUSK_ARCHIVE_DIR/%f && cp %p $TUSK_ARCHIVE_DIR/%f'"
    fi
    start_for_setup
    if [ "$POSTGRES_DB" != postgres ]; then
        setup_psql -d postgres -c "CREATE DATABASE $(sql_ident "$POSTGRES_DB")"
    fi
    if [ -n "$POSTGRES_REPLICATION_USER" ]; then
        setup_psql -d postgres -c "CREATE ROLE $(sql_ident "$POSTGRES_REPLICATION_USER") LOGIN REPLICATION ENCRYPTED PASSWORD $(sql_literal "$POSTGRES_REPLICATION_PASSWORD")"
    fi
    if [ -d "$TUSK_INITDB_DIR" ]; then
        for f in "$TUSK_INITDB_DIR"/*; do
            [ -e "$f" ] || continue
            case "$f" in
                *.sh)
                    log "running $f"
                    PGHOST=$SETUP_SOCKETS PGUSER=$POSTGRES_USER PGDATABASE=$POSTGRES_DB sh "$f" ;;
                *.sql)
                    log "running $f"
                    setup_psql -d "$POSTGRES_DB" -f "$f" ;;
                *.sql.gz)
                    log "running $f"
                    gunzip -c "$f" | setup_psql -d "$POSTGRES_DB" ;;
                *) log "ignoring $f" ;;
            esac
        done
    fi
    stop_after_setup
    log "primary ready for start-up"
}

init_standby() {
    log "initializing a standby of \"$TUSK_PRIMARY_CONNINFO\" in $PGDATA"
    waited=0
    until pg_isready -q -d "$TUSK_PRIMARY_CONNINFO"; do
        waited=$((waited + 1))
        [ "$waited" -lt "$TUSK_PRIMARY_WAIT" ] || die "the primary did not accept connections within ${TUSK_PRIMARY_WAIT}s"
        sleep 1
    done
    mkdir -p "$PGDATA"
    chmod 0700 "$PGDATA"
    pg_basebackup -D "$PGDATA" -d "$TUSK_PRIMARY_CONNINFO" -Fp -Xs -R -c fast >&2 \
        || die "pg_basebackup from the primary failed"
    conf ""
    conf "# Added by docker/entrypoint.sh"
    conf "hot_standby = on"
    conf "listen_addresses = '*'"
    conf "port = $PGPORT"
    # A hot standby's max_connections (and the other hot-standby parameters) must not be
    # below the primary's: take the primary's values (a -c option can still raise them).
    settings=$(psql -X -At -F ' = ' -d "$TUSK_PRIMARY_CONNINFO dbname=postgres" -c \
        "select name, setting from pg_settings where name in ('max_connections', 'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions', 'max_locks_per_transaction') order by name") \
        || die "could not read the primary's settings"
    printf '%s\n' "$settings" >> "$PGDATA/postgresql.conf"
    if [ -n "$TUSK_ARCHIVE_DIR" ]; then
        conf "restore_command = 'cp $TUSK_ARCHIVE_DIR/%f %p'"
        if command -v pg_archivecleanup >/dev/null 2>&1; then
            conf "archive_cleanup_command = 'pg_archivecleanup $TUSK_ARCHIVE_DIR %r'"
        fi
    fi
    log "standby ready for start-up"
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -d "$PGDATA" ] && [ -n "$(ls -A "$PGDATA")" ]; then
        die "$PGDATA is not empty but holds no cluster (no PG_VERSION); refusing to touch it"
    fi
    if [ -n "$TUSK_PRIMARY_CONNINFO" ]; then
        init_standby
    else
        init_primary
    fi
fi

exec "$TUSK_BIN" run -D "$PGDATA" "$@"
