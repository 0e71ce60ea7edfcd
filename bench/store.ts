import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Insertable } from 'kysely';
import { openDatabase, type Database } from '../src/store/database.js';
import { openPgDatabase } from '../src/store/database-pg.js';
import type { FillsTable } from '../src/store/schema.js';
import { freshDatabase, pgRequired, startPgCluster } from '../test/support/pg-cluster.js';

export type StoreKind = 'sqlite' | 'postgres';

/** The account schema the PostgreSQL benches write into. */
export const PG_SCHEMA = 'acct_bench';

/** Where a benchmark opens its databases: every open() is a new, empty, migrated one. */
export interface BenchStore {
  readonly kind: StoreKind;
  open(name: string): Promise<Database>;
  /** PostgreSQL: the URL of a database open() returned (its tables are in PG_SCHEMA). */
  urlOf(db: Database): string;
}

/**
 * Runs `bench` on a store of the given kind and tags its figures with `store`. SQLite: files in a
 * temp dir (removed after). PostgreSQL: one throwaway cluster for the whole benchmark (each open()
 * a fresh database on it), stopped after; without one, `{ skipped }` instead of a failure.
 */
export async function onStore<T extends object>(
  kind: StoreKind,
  tag: string,
  bench: (store: BenchStore) => Promise<T>,
): Promise<(T & { store: StoreKind }) | { store: StoreKind; skipped: string }> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), `ct-bench-${tag}-`));
    try {
      const store: BenchStore = { kind, open: (name) => openDatabase(join(dir, `${name}.db`)), urlOf: () => { throw new Error('SQLite has no URL'); } };
      return { ...(await bench(store)), store: kind };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  // CT_REQUIRE_PG=1 makes a missing or broken PostgreSQL an error, as in the tests.
  const started = await startPgCluster({ name: `bench-${tag}` }).catch((err: Error) => {
    if (pgRequired()) throw err;
    return { skip: `PostgreSQL cluster did not start: ${err.message.split('\n')[0]}` };
  });
  if ('skip' in started) return { store: kind, skipped: started.skip };
  const { cluster } = started;
  const urls = new Map<Database, string>();
  const drops: Array<() => Promise<void>> = [];
  try {
    const store: BenchStore = {
      kind,
      async open(name) {
        const fresh = await freshDatabase(cluster);
        drops.push(fresh.drop);
        const db = await openPgDatabase({ url: fresh.url, schema: PG_SCHEMA, applicationName: `bench-${name}` });
        urls.set(db, fresh.url);
        return db;
      },
      urlOf(db) {
        const url = urls.get(db);
        if (!url) throw new Error('not a database of this store');
        return url;
      },
    };
    return { ...(await bench(store)), store: kind };
  } finally {
    // A CT_TEST_PG_URL server outlives the bench: leave it as it was.
    for (const drop of drops) await drop().catch(() => {});
    await cluster.stop();
  }
}

/** Seeds fills through the Database interface: one transaction, 500 rows per insert. */
export function insertFillRows(db: Database, rows: Insertable<FillsTable>[], batch = 500): void {
  db.transaction(() => {
    for (let i = 0; i < rows.length; i += batch) db.run(db.kysely.insertInto('fills').values(rows.slice(i, i + batch)));
  });
}
