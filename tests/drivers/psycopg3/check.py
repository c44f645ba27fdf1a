"""psycopg 3 against tusk: connect, create a table, insert with parameters (typed binary
and text parameters, as psycopg sends them), read every common type back, commit and
roll back, a server-side prepared statement, executemany in pipeline mode, COPY FROM
STDIN, a named (server-side) cursor, and an error's SQLSTATE; `check.py introspection`
fetches an enum's type information from pg_type. Connection settings come from
PGHOST/PGPORT/PGUSER/PGDATABASE. Exits non-zero with a message on the first difference."""

import datetime as dt
import decimal
import sys
import uuid

import psycopg
from psycopg.types.json import Json, Jsonb


def check(label, got, want):
    if got != want:
        sys.exit(f"psycopg3: {label}: got {got!r}, want {want!r}")


UTC = dt.timezone.utc
ROW = dict(
    i2=41, i4=70000, i8=9007199254740993, n=decimal.Decimal("12345.678"),
    f4=1.5, f8=2.25, t="héllo wörld ✓", vc="varchar", b=True, by=b"\x00\x01\xff",
    d=dt.date(2024, 2, 29), tm=dt.time(12, 34, 56, 789000),
    ts=dt.datetime(2024, 2, 29, 12, 34, 56, 789000),
    tz=dt.datetime(2024, 2, 29, 12, 34, 56, 789000, tzinfo=UTC),
    iv=dt.timedelta(days=3, hours=4, minutes=5, seconds=6),
    u=uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    j={"a": [1, 2, None]}, jb={"b": {"c": True}}, ai=[1, 2, 3], at=["x", "y z", None],
)
COLS = list(ROW)


def introspection():
    """psycopg's type registry: EnumInfo.fetch reads pg_type and pg_enum for an enum,
    after which the enum's values load as a Python Enum."""
    from psycopg.types.enum import EnumInfo, register_enum

    with psycopg.connect(application_name="tusk-psycopg3", autocommit=True) as conn:
        conn.execute("DROP TYPE IF EXISTS drv_mood3")
        conn.execute("CREATE TYPE drv_mood3 AS ENUM ('sad', 'happy')")
        info = EnumInfo.fetch(conn, "drv_mood3")
        if info is None:
            sys.exit("psycopg3: EnumInfo.fetch found no drv_mood3")
        check("enum labels", info.labels, ["sad", "happy"])
        register_enum(info, conn)
        got = conn.execute("SELECT 'happy'::drv_mood3").fetchone()[0]
        check("enum value", got.name, "happy")
        conn.execute("DROP TYPE drv_mood3")
    print("psycopg3 introspection: ok")


def main():
    with psycopg.connect(application_name="tusk-psycopg3") as conn:
        conn.execute("DROP TABLE IF EXISTS drv_psycopg3")
        conn.execute(
            "CREATE TABLE drv_psycopg3 (id serial PRIMARY KEY, i2 int2, i4 int4, i8 int8,"
            " n numeric(12,3), f4 float4, f8 float8, t text, vc varchar(20), b bool,"
            " by bytea, d date, tm time, ts timestamp, tz timestamptz, iv interval,"
            " u uuid, j json, jb jsonb, ai int4[], at text[])"
        )
        conn.commit()
        params = dict(ROW, j=Json(ROW["j"]), jb=Jsonb(ROW["jb"]))
        placeholders = ", ".join(f"%({c})s" for c in COLS)
        conn.execute(
            f"INSERT INTO drv_psycopg3 ({', '.join(COLS)}) VALUES ({placeholders})", params
        )
        conn.commit()
        for binary in (False, True):
            cur = conn.cursor(binary=binary)
            cur.execute(f"SELECT {', '.join(COLS)} FROM drv_psycopg3 WHERE i4 = %s", (70000,))
            row = cur.fetchone()
            for c, got in zip(COLS, row):
                want = ROW[c]
                if c == "tz":
                    got = got.astimezone(UTC)
                check(f"{c} (binary={binary})", got, want)
        # Parameters of several types in one expression, and NULL.
        row = conn.execute("SELECT %s::int + 1, %s::text, %s::text IS NULL", (41, "é", None)).fetchone()
        check("expression", row, (42, "é", True))
        # A rolled-back transaction leaves nothing; a committed one stays.
        conn.execute("INSERT INTO drv_psycopg3 (t) VALUES (%s)", ("rolled back",))
        conn.rollback()
        with conn.transaction():
            conn.execute("INSERT INTO drv_psycopg3 (t) VALUES (%s)", ("committed",))
        texts = [r[0] for r in conn.execute("SELECT t FROM drv_psycopg3 ORDER BY id")]
        check("after commit/rollback", texts, [ROW["t"], "committed"])
        conn.commit()
        # prepare=True: a named server-side statement, executed several times.
        for k in range(3):
            got = conn.execute("SELECT %s::int8 * 2", (k,), prepare=True).fetchone()[0]
            check("prepared", got, 2 * k)
        # executemany: pipeline mode with named statements per parameter-type signature.
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO drv_psycopg3 (t, i2, n) VALUES (%s, %s, %s)",
                [("pear", 5, decimal.Decimal("2.50")), ("plum", None, None)],
            )
        conn.commit()
        got = conn.execute("SELECT t, i2, n FROM drv_psycopg3 WHERE t IN ('pear', 'plum') ORDER BY t").fetchall()
        check("executemany", got, [("pear", 5, decimal.Decimal("2.500")), ("plum", None, None)])
        # COPY FROM STDIN.
        with conn.cursor() as cur:
            with cur.copy("COPY drv_psycopg3 (t, i4) FROM STDIN") as copy:
                copy.write_row(("copied-1", 10))
                copy.write_row(("copied-2", None))
        conn.commit()
        got = conn.execute("SELECT count(*) FROM drv_psycopg3 WHERE t LIKE 'copied-%'").fetchone()[0]
        check("copy", got, 2)
        # A named (server-side) cursor: DECLARE with a parameter, then FETCH.
        with conn.cursor(name="drv_cur") as cur:
            cur.execute("SELECT id, t FROM drv_psycopg3 WHERE id > %s ORDER BY id", (0,))
            first = cur.fetchmany(2)
            rest = cur.fetchall()
        check("named cursor", [r[1] for r in first + rest], [ROW["t"], "committed", "pear", "plum", "copied-1", "copied-2"])
        conn.commit()
        # An error carries its SQLSTATE; the connection is usable after rollback.
        try:
            conn.execute("INSERT INTO drv_psycopg3 (id) VALUES (1)")
            sys.exit("psycopg3: duplicate key accepted")
        except psycopg.errors.UniqueViolation as e:
            check("sqlstate", e.sqlstate, "23505")
        conn.rollback()
        conn.execute("DROP TABLE drv_psycopg3")
        conn.commit()
    print("psycopg3 basic: ok")


{"basic": main, "introspection": introspection}[sys.argv[1]]()
