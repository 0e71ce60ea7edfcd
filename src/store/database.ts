import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type Compilable } from 'kysely';
import { migrationProvider } from './migrations.js';
import type { Schema } from './schema.js';

/**
 * The SQLite store. kysely builds the (typed) queries and runs the migrations; hot paths that must
 * commit several rows atomically from synchronous code (an actor transition) execute the compiled
 * queries on better-sqlite3 directly inside `transaction`, which kysely's async API cannot do.
 */
export interface Database {
  readonly sqlite: BetterSqlite3.Database;
  readonly kysely: Kysely<Schema>;
  /** Run a kysely query synchronously; returns changes for writes. */
  run(query: Compilable): { changes: number };
  all<R>(query: Compilable<R>): R[];
  first<R>(query: Compilable<R>): R | undefined;
  /** Run fn in one SQLite transaction (nested calls become savepoints). */
  transaction<T>(fn: () => T): T;
  close(): Promise<void>;
}

export async function openDatabase(path: string): Promise<Database> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const kysely = new Kysely<Schema>({ dialect: new SqliteDialect({ database: sqlite }) });

  const { error, results } = await new Migrator({ db: kysely, provider: migrationProvider }).migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    await kysely.destroy();
    throw new Error(`database migration failed${failed ? ` at ${failed.migrationName}` : ''}: ${String(error)}`);
  }

  const statements = new Map<string, BetterSqlite3.Statement>();
  const prepare = (query: Compilable) => {
    const compiled = query.compile();
    let stmt = statements.get(compiled.sql);
    if (!stmt) {
      // Queries with IN-lists vary in text; keep the cache bounded.
      if (statements.size >= 512) statements.clear();
      stmt = sqlite.prepare(compiled.sql);
      statements.set(compiled.sql, stmt);
    }
    return { stmt, params: compiled.parameters as unknown[] };
  };

  let closed = false;
  return {
    sqlite,
    kysely,
    run(query) {
      const { stmt, params } = prepare(query);
      return { changes: stmt.run(...params).changes };
    },
    all<R>(query: Compilable<R>) {
      const { stmt, params } = prepare(query);
      return stmt.all(...params) as R[];
    },
    first<R>(query: Compilable<R>) {
      const { stmt, params } = prepare(query);
      return stmt.get(...params) as R | undefined;
    },
    transaction(fn) {
      return sqlite.transaction(fn)();
    },
    async close() {
      if (closed) return;
      closed = true;
      // kysely's SqliteDriver closes the better-sqlite3 handle on destroy.
      await kysely.destroy();
    },
  };
}
