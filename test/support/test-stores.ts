import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import { openDatabase, type Database } from '../../src/store/database.js';
import { openPgDatabase } from '../../src/store/database-pg.js';
import { freshDatabase, startPgCluster, type PgCluster } from './pg-cluster.js';

/** One server the store runs on in tests: open a fresh store, run raw set-up SQL on it (a trigger, a drop). */
export interface TestStore {
  name: 'sqlite' | 'postgres';
  open(): Promise<Database>;
  /** Raw SQL on the given store (set-up only, e.g. a trigger that makes every insert fail). */
  exec(db: Database, sqlText: { sqlite: string; postgres: string }): Promise<void>;
  /** A kysely that executes on the store's database (a migration's `up` in a test). */
  executing(db: Database): Promise<{ kysely: Kysely<any>; close(): Promise<void> }>;
}

let cluster: Promise<{ cluster: PgCluster; url: string } | { skip: string }> | null = null;
const schemas = new WeakMap<Database, string>();

/** Started on first use, once per test file; stopped by the cluster helper's exit hook. */
function pgCluster() {
  cluster ??= startPgCluster({ name: 'stores' }).then(async (s) => ('skip' in s ? s : { cluster: s.cluster, url: (await freshDatabase(s.cluster)).url }));
  return cluster;
}

/** Stops the file's cluster, if one was started (call from the test file's afterAll). */
export async function stopTestStores(): Promise<void> {
  const c = cluster && (await cluster);
  cluster = null;
  if (c && 'cluster' in c) await c.cluster.stop();
}

/** Why the PostgreSQL cases of a file are skipped, or null when a server is there (starts it). */
export async function pgSkipReason(): Promise<string | null> {
  const c = await pgCluster();
  return 'skip' in c ? c.skip : null;
}

export const TEST_STORES: TestStore[] = [
  {
    name: 'sqlite',
    open: () => openDatabase(':memory:'),
    exec: async (db, q) => void db.sqlite.exec(q.sqlite),
    executing: async (db) => ({ kysely: db.kysely, close: async () => undefined }),
  },
  {
    name: 'postgres',
    async open() {
      const c = await pgCluster();
      if ('skip' in c) throw new Error(c.skip);
      const schema = `acct_t${randomBytes(5).toString('hex')}`;
      const db = await openPgDatabase({ url: c.url, schema });
      schemas.set(db, schema);
      return db;
    },
    async executing(db) {
      const c = await pgCluster();
      if ('skip' in c) throw new Error(c.skip);
      const kysely = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: c.url, max: 1, options: `-c search_path=${schemas.get(db)}` }) }) });
      return { kysely, close: () => kysely.destroy() };
    },
    async exec(db, q) {
      const c = await pgCluster();
      if ('skip' in c) throw new Error(c.skip);
      const client = new pg.Client({ connectionString: c.url, options: `-c search_path=${schemas.get(db)}` });
      await client.connect();
      try {
        await client.query(q.postgres);
      } finally {
        await client.end();
      }
    },
  },
];
