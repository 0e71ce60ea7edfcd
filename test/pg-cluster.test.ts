import { connect } from 'node:net';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freshDatabase, startPgCluster, type PgCluster } from './support/pg-cluster.js';

/**
 * The test-side PostgreSQL helper: a throwaway cluster (or CT_TEST_PG_URL), a fresh database on it with
 * C collation, dropped again, and a stopped cluster that no longer listens. Without PostgreSQL it is
 * skipped with one line, unless CT_REQUIRE_PG=1 (CI), where startPgCluster throws and the file fails.
 */
// Its own cluster, not the run's shared one (test/support/pg-global.ts): this test stops it.
const started = await startPgCluster({ name: 'selftest', own: true });
const SKIP = 'skip' in started ? started.skip : undefined;
if (SKIP !== undefined) console.log(`pg-cluster.test.ts skipped: ${SKIP}`);
const cluster: PgCluster | undefined = 'cluster' in started ? started.cluster : undefined;

afterAll(async () => {
  await cluster?.stop();
});

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** Resolves true when something accepts a TCP connection on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.setTimeout(2_000);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
    sock.once('timeout', () => {
      sock.destroy();
      resolve(false);
    });
  });
}

describe.skipIf(SKIP !== undefined)('pg-cluster helper', () => {
  it('gives a fresh C-collated database, drops it, and stops the cluster', async () => {
    const c = cluster!;
    expect(c.url).toMatch(/^postgres:\/\//);

    const db = await freshDatabase(c);
    const dbName = new URL(db.url).pathname.slice(1);
    expect(dbName).toMatch(/^ct_[0-9a-f]{8}$/);
    expect(await query<{ one: number }>(db.url, 'select 1 as one')).toEqual([{ one: 1 }]);
    // `show lc_collate` is gone in PostgreSQL 16; pg_database says the same on every version.
    const [coll] = await query<{ datcollate: string; current: string }>(
      db.url,
      'select datcollate, current_database() as current from pg_database where datname = current_database()',
    );
    expect(coll).toEqual({ datcollate: 'C', current: dbName });
    // C collation orders bytes, as SQLite does: upper case before '_' before lower case.
    const ordered = await query<{ x: string }>(db.url, `select x from (values ('a'), ('_'), ('B')) t(x) order by x`);
    expect(ordered.map((r) => r.x)).toEqual(['B', '_', 'a']);

    const other = await freshDatabase(c);
    expect(other.url).not.toBe(db.url);
    await other.drop();

    await db.drop();
    await db.drop(); // twice is harmless
    expect(await query(c.url, `select 1 from pg_database where datname = '${dbName}'`)).toEqual([]);

    const port = Number(new URL(c.url).port);
    expect(await accepts(port)).toBe(true);
    await c.stop();
    expect(await accepts(port)).toBe(false);
  });
});
