// node-postgres (pg) against tusk: untyped text parameters (every value sent as text,
// Buffers binary), text results parsed by type OID, every common type read back, a
// named statement reused, transactions committed and rolled back, a multi-statement
// simple query, and the fields of an error. Connection settings come from PGHOST/
// PGPORT/PGUSER/PGDATABASE.
'use strict';
const { Client } = require('pg');

function check(label, got, want) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) {
    console.error(`node-postgres: ${label}: got ${g}, want ${w}`);
    process.exit(1);
  }
}

const ROW = {
  i2: 41, i4: 70000, i8: '9007199254740993', n: '12345.678', f4: 1.5, f8: 2.25,
  t: 'héllo wörld ✓', vc: 'varchar', b: true, by: Buffer.from([0, 1, 255]),
  d: '2024-02-29', tm: '12:34:56.789', ts: '2024-02-29 12:34:56.789',
  tz: new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789)),
  iv: '3 days 04:05:06', u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  j: { a: [1, 2, null] }, jb: { b: { c: true } }, ai: [1, 2, 3], at: ['x', 'y z', null],
};
const COLS = Object.keys(ROW);

async function main() {
  const c = new Client({ application_name: 'tusk-node' });
  await c.connect();
  await c.query('DROP TABLE IF EXISTS drv_node');
  await c.query(
    'CREATE TABLE drv_node (id serial PRIMARY KEY, i2 int2, i4 int4, i8 int8,' +
    ' n numeric(12,3), f4 float4, f8 float8, t text UNIQUE, vc varchar(20), b bool,' +
    ' by bytea, d date, tm time, ts timestamp, tz timestamptz, iv interval,' +
    ' u uuid, j json, jb jsonb, ai int4[], at text[])');
  const values = COLS.map((k) => (k === 'j' || k === 'jb' ? JSON.stringify(ROW[k]) : ROW[k]));
  const ph = COLS.map((_, i) => `$${i + 1}`).join(', ');
  const ins = await c.query(`INSERT INTO drv_node (${COLS.join(', ')}) VALUES (${ph})`, values);
  check('insert rowCount', ins.rowCount, 1);
  // Dates, times and intervals as text so the check does not depend on the local zone.
  const sel = COLS.map((k) => (['d', 'ts'].includes(k) ? `${k}::text` : k)).join(', ');
  const r = await c.query(`SELECT ${sel} FROM drv_node WHERE i4 = $1`, [70000]);
  check('rows', r.rowCount, 1);
  const row = r.rows[0];
  for (const k of COLS) {
    let got = row[k];
    let want = ROW[k];
    if (k === 'by') { got = [...got]; want = [...want]; }
    if (k === 'tz') { got = got.toISOString(); want = want.toISOString(); }
    if (k === 'iv') { got = got.toPostgres(); want = '6 seconds 5 minutes 4 hours 3 days'; }
    check(k, got, want);
  }
  const e = await c.query('SELECT $1::int + 1 AS a, $2::text AS b, $3::text IS NULL AS c', [41, 'é', null]);
  check('expression', e.rows[0], { a: 42, b: 'é', c: true });
  // A named statement, parsed once and executed again.
  for (const t of ['n1', 'n2']) {
    await c.query({ name: 'drv_ins', text: 'INSERT INTO drv_node (t, i4) VALUES ($1, $2)', values: [t, 7] });
  }
  const n = await c.query({ name: 'drv_count', text: 'SELECT count(*)::int AS n FROM drv_node WHERE i4 = $1', values: [7] });
  check('named', n.rows[0].n, 2);
  // Transactions.
  await c.query('BEGIN');
  await c.query('INSERT INTO drv_node (t) VALUES ($1)', ['rolled back']);
  await c.query('ROLLBACK');
  await c.query('BEGIN');
  await c.query('INSERT INTO drv_node (t) VALUES ($1)', ['committed']);
  await c.query('COMMIT');
  const ts = await c.query("SELECT t FROM drv_node WHERE t IN ('rolled back', 'committed')");
  check('after commit/rollback', ts.rows.map((x) => x.t), ['committed']);
  // Multi-statement simple query: one result per statement.
  const multi = await c.query('SELECT 1 AS x; SELECT 2 AS y');
  check('multi', multi.map((m) => m.rows[0]), [{ x: 1 }, { y: 2 }]);
  // Error fields.
  try {
    await c.query('INSERT INTO drv_node (t) VALUES ($1)', ['committed']);
    check('duplicate accepted', true, false);
  } catch (err) {
    check('code', err.code, '23505');
    check('constraint', err.constraint, 'drv_node_t_key');
    check('table', err.table, 'drv_node');
    check('schema', err.schema, 'public');
    check('detail', err.detail, 'Key (t)=(committed) already exists.');
  }
  try {
    await c.query('SELECT nosuchcolumn FROM drv_node');
    check('undefined column accepted', true, false);
  } catch (err) {
    check('code', err.code, '42703');
    check('position', err.position, '8');
  }
  await c.query('DROP TABLE drv_node');
  await c.end();
  console.log('node-postgres: ok');
}

main().catch((err) => { console.error('node-postgres:', err); process.exit(1); });
