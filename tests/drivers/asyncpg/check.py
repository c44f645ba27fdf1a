"""asyncpg against tusk: named prepared statements with Describe and Flush, binary
parameters and results for every common type, fetchrow's row-limited Execute
(PortalSuspended), executemany, transactions committed and rolled back, binary COPY
pipelined ahead of CopyInResponse, errors mapped by SQLSTATE, a pool's reset of a
released connection, a cursor read through a row-limited portal, and the type
introspection asyncpg runs for types without a built-in codec (arrays, an enum, and
set_type_codec). Connection settings come from PGHOST/PGPORT/PGUSER/PGDATABASE.

`check.py basic` runs everything that needs no catalog query; `check.py introspection`
runs what makes asyncpg read pg_type (arrays, an enum, a custom codec)."""

import asyncio
import datetime as dt
import decimal
import json
import sys
import uuid

import asyncpg


def check(label, got, want):
    if got != want:
        sys.exit(f"asyncpg: {label}: got {got!r}, want {want!r}")


UTC = dt.timezone.utc
ROW = dict(
    i2=41, i4=70000, i8=9007199254740993, n=decimal.Decimal("12345.678"),
    f4=1.5, f8=2.25, t="héllo wörld ✓", vc="varchar", b=True, by=b"\x00\x01\xff",
    d=dt.date(2024, 2, 29), tm=dt.time(12, 34, 56, 789000),
    ts=dt.datetime(2024, 2, 29, 12, 34, 56, 789000),
    tz=dt.datetime(2024, 2, 29, 12, 34, 56, 789000, tzinfo=UTC),
    iv=dt.timedelta(days=3, hours=4, minutes=5, seconds=6),
    u=uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    j='{"a": [1, 2, null]}', jb='{"b": {"c": true}}',
)
COLS = list(ROW)
# Array types have no built-in codec in asyncpg: their first use introspects pg_type.
ARRAYS = dict(ai=[1, 2, 3], at=["x", "y z", None])


async def basic(conn):
    await conn.execute("DROP TABLE IF EXISTS drv_asyncpg")
    await conn.execute(
        "CREATE TABLE drv_asyncpg (id serial PRIMARY KEY, i2 int2, i4 int4, i8 int8,"
        " n numeric(12,3), f4 float4, f8 float8, t text UNIQUE, vc varchar(20), b bool,"
        " by bytea, d date, tm time, ts timestamp, tz timestamptz, iv interval,"
        " u uuid, j json, jb jsonb)"
    )
    placeholders = ", ".join(f"${k + 1}" for k in range(len(COLS)))
    await conn.execute(
        f"INSERT INTO drv_asyncpg ({', '.join(COLS)}) VALUES ({placeholders})",
        *[ROW[c] for c in COLS],
    )
    row = await conn.fetchrow(f"SELECT {', '.join(COLS)} FROM drv_asyncpg WHERE i4 = $1", 70000)
    for c in COLS:
        got = row[c]
        if c == "jb":
            got = json.loads(got)
            want = json.loads(ROW[c])
        else:
            want = ROW[c]
        check(c, got, want)
    check("fetchval", await conn.fetchval("SELECT $1::int + 1", 41), 42)
    got = await conn.fetchrow("SELECT $1::int + 1, $2::text, $3::text IS NULL", 41, "é", None)
    check("expression", tuple(got), (42, "é", True))
    # Transactions: a rolled-back one leaves nothing, a committed one stays.
    try:
        async with conn.transaction():
            await conn.execute("INSERT INTO drv_asyncpg (t) VALUES ($1)", "rolled back")
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    async with conn.transaction():
        await conn.execute("INSERT INTO drv_asyncpg (t) VALUES ($1)", "committed")
    got = [r["t"] for r in await conn.fetch("SELECT t FROM drv_asyncpg ORDER BY id")]
    check("after commit/rollback", got, [ROW["t"], "committed"])
    # executemany: pipelined Bind/Execute, one Sync.
    await conn.executemany("INSERT INTO drv_asyncpg (t, i2) VALUES ($1, $2)", [("a", 1), ("b", None)])
    got = [tuple(r) for r in await conn.fetch("SELECT t, i2 FROM drv_asyncpg WHERE t IN ('a', 'b') ORDER BY t")]
    check("executemany", got, [("a", 1), ("b", None)])
    # Binary COPY, data sent ahead of CopyInResponse.
    n = await conn.copy_records_to_table("drv_asyncpg", records=[("copied-1", 10), ("copied-2", None)], columns=["t", "i4"])
    check("copy", n, "COPY 2")
    check("copied", await conn.fetchval("SELECT count(*) FROM drv_asyncpg WHERE t LIKE 'copied-%'"), 2)
    # Errors by SQLSTATE.
    try:
        await conn.execute("INSERT INTO drv_asyncpg (t) VALUES ($1)", "a")
        sys.exit("asyncpg: duplicate key accepted")
    except asyncpg.UniqueViolationError as e:
        check("sqlstate", e.sqlstate, "23505")
    try:
        await conn.execute("SELEC 1")
        sys.exit("asyncpg: syntax error accepted")
    except asyncpg.PostgresSyntaxError as e:
        check("sqlstate", e.sqlstate, "42601")
    await conn.execute("DROP TABLE drv_asyncpg")
    # A pool resets a connection it gets back with `SELECT pg_advisory_unlock_all();
    # CLOSE ALL; UNLISTEN *; RESET ALL;`.
    pool = await asyncpg.create_pool(min_size=1, max_size=1)
    async with pool.acquire() as c:
        await c.execute("SET application_name = 'changed'")
    async with pool.acquire() as c:
        check("pool reset", await c.fetchval("SHOW application_name"), "")
        async with c.transaction():
            got = [r[0] async for r in c.cursor("SELECT g FROM generate_series(1, 5) g", prefetch=2)]
        check("portal cursor", got, [1, 2, 3, 4, 5])
        # A cursor object: Execute with a row limit on a named portal, then MOVE and
        # FETCH on that portal as SQL.
        async with c.transaction():
            cur = await c.cursor("SELECT g FROM generate_series(1, 10) g")
            check("cursor fetch", [r[0] for r in await cur.fetch(3)], [1, 2, 3])
            check("cursor forward", await cur.forward(2), 2)
            check("cursor fetchrow", (await cur.fetchrow())[0], 6)
    await pool.close()


async def introspection(conn):
    await conn.execute("DROP TABLE IF EXISTS drv_asyncpg_i; DROP TYPE IF EXISTS drv_mood")
    await conn.execute("CREATE TABLE drv_asyncpg_i (id int PRIMARY KEY, j json, ai int4[], at text[])")
    await conn.execute(
        "INSERT INTO drv_asyncpg_i VALUES (1, $1, $2, $3)", ROW["j"], ARRAYS["ai"], ARRAYS["at"]
    )
    row = await conn.fetchrow("SELECT ai, at FROM drv_asyncpg_i WHERE id = $1", 1)
    check("arrays", dict(row), ARRAYS)
    # An enum has no built-in codec, nor does json after set_type_codec.
    await conn.execute("CREATE TYPE drv_mood AS ENUM ('sad', 'happy')")
    check("enum", await conn.fetchval("SELECT 'happy'::drv_mood"), "happy")
    check("enum param", await conn.fetchval("SELECT $1::drv_mood::text", "sad"), "sad")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    check("json codec", await conn.fetchval("SELECT j FROM drv_asyncpg_i WHERE id = 1"), {"a": [1, 2, None]})
    await conn.execute("DROP TABLE drv_asyncpg_i; DROP TYPE drv_mood")


async def main(phase):
    conn = await asyncpg.connect(server_settings={"application_name": "tusk-asyncpg"})
    await {"basic": basic, "introspection": introspection}[phase](conn)
    await conn.close()
    print(f"asyncpg {phase}: ok")


asyncio.run(main(sys.argv[1]))
