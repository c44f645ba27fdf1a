"""psycopg2 against tusk: every statement is a simple Query with the parameters
interpolated into the SQL text on the client, so this checks tusk's literal parsing
(ISO timestamps with T and offsets, bytea hex, json, ARRAY[…] literals, :: chains).
Connect, create a table, insert with parameters, read every common type back, commit
and roll back, executemany and execute_values, COPY both ways, a named cursor, and an
error's SQLSTATE.
Connection settings come from PGHOST/PGPORT/PGUSER/PGDATABASE."""

import datetime as dt
import decimal
import io
import sys
import uuid

import psycopg2
import psycopg2.extras
import psycopg2.tz


def check(label, got, want):
    if got != want:
        sys.exit(f"psycopg2: {label}: got {got!r}, want {want!r}")


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


def main():
    psycopg2.extras.register_uuid()
    conn = psycopg2.connect(application_name="tusk-psycopg2")
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS drv_psycopg2")
    cur.execute(
        "CREATE TABLE drv_psycopg2 (id serial PRIMARY KEY, i2 int2, i4 int4, i8 int8,"
        " n numeric(12,3), f4 float4, f8 float8, t text, vc varchar(20), b bool,"
        " by bytea, d date, tm time, ts timestamp, tz timestamptz, iv interval,"
        " u uuid, j json, jb jsonb, ai int4[], at text[])"
    )
    conn.commit()
    params = dict(ROW, j=psycopg2.extras.Json(ROW["j"]), jb=psycopg2.extras.Json(ROW["jb"]))
    placeholders = ", ".join(f"%({c})s" for c in COLS)
    cur.execute(f"INSERT INTO drv_psycopg2 ({', '.join(COLS)}) VALUES ({placeholders})", params)
    conn.commit()
    cur.execute(f"SELECT {', '.join(COLS)} FROM drv_psycopg2 WHERE i4 = %s", (70000,))
    row = cur.fetchone()
    for c, got in zip(COLS, row):
        want = ROW[c]
        if c == "tz":
            got = got.astimezone(UTC)
        if c == "by":
            got = bytes(got)
        check(c, got, want)
    cur.execute("SELECT %s::int + 1, %s::text, %s::text IS NULL", (41, "é'\\", None))
    check("expression", cur.fetchone(), (42, "é'\\", True))
    # Rollback discards, commit keeps.
    cur.execute("INSERT INTO drv_psycopg2 (t) VALUES (%s)", ("rolled back",))
    conn.rollback()
    cur.execute("INSERT INTO drv_psycopg2 (t) VALUES (%s)", ("committed",))
    conn.commit()
    cur.execute("SELECT t FROM drv_psycopg2 ORDER BY id")
    check("after commit/rollback", [r[0] for r in cur.fetchall()], [ROW["t"], "committed"])
    # executemany (one Query per row) and execute_values (one multi-row VALUES).
    cur.executemany("INSERT INTO drv_psycopg2 (t, i2) VALUES (%s, %s)", [("a", 1), ("b", None)])
    psycopg2.extras.execute_values(
        cur, "INSERT INTO drv_psycopg2 (t, i2) VALUES %s", [("c", 3), ("d", 4)]
    )
    conn.commit()
    cur.execute("SELECT t, i2 FROM drv_psycopg2 WHERE t IN ('a','b','c','d') ORDER BY t")
    check("executemany", cur.fetchall(), [("a", 1), ("b", None), ("c", 3), ("d", 4)])
    # COPY in and out.
    cur.copy_expert("COPY drv_psycopg2 (t, i4) FROM STDIN", io.StringIO("copied-1\t10\ncopied-2\t\\N\n"))
    conn.commit()
    out = io.StringIO()
    cur.copy_expert("COPY (SELECT t, i4 FROM drv_psycopg2 WHERE t LIKE 'copied-%' ORDER BY t) TO STDOUT", out)
    check("copy", out.getvalue(), "copied-1\t10\ncopied-2\t\\N\n")
    # A named cursor: DECLARE, then FETCH FORWARD itersize at a time.
    named = conn.cursor("drv_cur")
    named.itersize = 2
    named.execute("SELECT t FROM drv_psycopg2 WHERE t IN %s ORDER BY t", (("a", "b", "c", "d"),))
    check("named cursor", [r[0] for r in named], ["a", "b", "c", "d"])
    named.close()
    conn.commit()
    # Errors carry the SQLSTATE.
    try:
        cur.execute("INSERT INTO drv_psycopg2 (id) VALUES (1)")
        sys.exit("psycopg2: duplicate key accepted")
    except psycopg2.errors.UniqueViolation as e:
        check("pgcode", e.pgcode, "23505")
    conn.rollback()
    try:
        cur.execute("SELEC 1")
        sys.exit("psycopg2: syntax error accepted")
    except psycopg2.Error as e:
        check("pgcode", e.pgcode, "42601")
    conn.rollback()
    cur.execute("DROP TABLE drv_psycopg2")
    conn.commit()
    conn.close()
    print("psycopg2: ok")


main()
