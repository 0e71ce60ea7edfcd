import pg from 'pg';
import { DummyDriver, Kysely, Migrator, PostgresAdapter, PostgresDialect, PostgresIntrospector, PostgresQueryCompiler, type Compilable } from 'kysely';
import { StartupRefusal } from '../startup-refusal.js';
import { commitHooks, type Database } from './database.js';
import { migrationProvider } from './migrations.js';
import { PgError, SyncPgConnection } from './pg-sync.js';
import type { Schema } from './schema.js';
import { LEADERS_TABLE } from './leader-table.js';
import { LeadershipLost } from './leadership-lost.js';

export interface PgOpenOptions {
  url: string;
  /** The account's schema (created if missing): each account's tables live apart. */
  schema: string;
  applicationName?: string;
  /**
   * The leadership this store acts under: every transaction (and every write outside one) first
   * checks the account's epoch is still it, and throws LeadershipLost otherwise (nothing written).
   */
  fence?: { accountId: string; epoch: number };
  statementTimeoutMs?: number;
  /** Session settings of the store's connection (e.g. idle_in_transaction_session_timeout). */
  settings?: Record<string, string>;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The PostgreSQL store (CT_DB_URL): the same migrations and queries as SQLite, run by kysely's
 * PostgresDialect for the migrations and by one synchronous connection (src/store/pg-sync.ts) for
 * everything else, so actor commits stay atomic and in order exactly as on SQLite.
 */
export async function openPgDatabase(opts: PgOpenOptions): Promise<Database> {
  if (!SCHEMA_NAME.test(opts.schema)) throw new Error(`invalid schema name ${JSON.stringify(opts.schema)}`);
  const pool = new pg.Pool({ connectionString: opts.url, max: 1, options: `-c search_path=${opts.schema},public`, application_name: opts.applicationName ?? 'crazy-trade' });
  const migrating = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  try {
    await pool.query(`create schema if not exists ${opts.schema}`);
    await refuseUnknownMigrations(pool, opts.schema, Object.keys(await migrationProvider.getMigrations()));
    // kysely's PostgreSQL adapter takes an advisory lock around migrations: instances starting
    // together migrate one after the other. The migration tables are the account's own (without the
    // schema named, kysely takes another account's kysely_migration for this one's).
    const { error, results } = await new Migrator({ db: migrating, provider: migrationProvider, migrationTableSchema: opts.schema }).migrateToLatest();
    const failed = results?.find((r) => r.status === 'Error');
    if (error || failed) throw new Error(`database migration failed${failed ? ` at ${failed.migrationName}` : ''}: ${String(error)}`);
  } finally {
    await migrating.destroy();
  }

  // Queries are only compiled by this instance; the synchronous connection runs them. Executing
  // one through it (`.execute()`) is a mistake that must not pass silently.
  const kysely = new Kysely<Schema>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new CompileOnlyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
  const conn = new SyncPgConnection({ url: opts.url, schema: opts.schema, applicationName: opts.applicationName ?? 'crazy-trade', statementTimeoutMs: opts.statementTimeoutMs, settings: opts.settings });
  try {
    await conn.ready();
    conn.query('select 1');
  } catch (err) {
    conn.close();
    throw err;
  }

  /**
   * Statements of the open transaction not sent yet (its BEGIN, writes whose results nobody reads):
   * they go with the next statement, in one trip. The first one's `inTransaction` is the trip's (a
   * BEGIN not sent yet may go on a new connection).
   */
  const pending: Array<{ sql: string; params: unknown[]; inTransaction: boolean; onRows?: (rows: Record<string, unknown>[]) => void }> = [];
  /** Runs `sql` with what is pending before it, in one trip; a pending read (`prefetch`) gets its rows. */
  const send = (sql: string, params: readonly unknown[], inTransaction: boolean) => {
    if (pending.length === 0) return conn.query(sql, params, inTransaction);
    const before = pending.splice(0);
    const reads = before.some((p) => p.onRows);
    const res = conn.query(sql, params, before[0]!.inTransaction, before.map((p) => ({ sql: p.sql, params: p.params })), reads);
    if (reads) before.forEach((p, i) => p.onRows?.(res.results![i]!));
    return res;
  };
  /** Sends what is pending now (its last statement the trip's own). */
  const flush = () => {
    const last = pending.pop();
    if (!last) return;
    const res = send(last.sql, last.params, last.inTransaction);
    last.onRows?.(res.rows);
  };
  const exec = (query: Compilable) => {
    const compiled = query.compile();
    return send(compiled.sql, compiled.parameters, depth > 0);
  };
  let depth = 0;
  let closed = false;
  /** Fenced (a leader's store): every top-level transaction starts by checking the epoch. */
  const checkFence = (inTransaction: boolean) => {
    const fence = opts.fence;
    if (!fence) return;
    // FOR SHARE: a takeover's epoch bump waits for the transactions that passed this check, and
    // those that start after it fail here, before they write or lock anything.
    const row = send(`select epoch from ${LEADERS_TABLE} where account_id = $1 for share`, [fence.accountId], inTransaction).rows[0] as { epoch: number } | undefined;
    const current = row ? Number(row.epoch) : null;
    if (current !== fence.epoch) throw new LeadershipLost(fence.accountId, fence.epoch, current);
  };
  /** One transaction (a savepoint inside another), fenced at its start when the store is. */
  const transactionOf = <T>(fn: () => T): T => {
    const savepoint = depth === 0 ? null : `sp${depth}`;
    // Sent with the transaction's first statement (the fence's check, when fenced).
    const opening = { sql: savepoint ? `savepoint ${savepoint}` : 'begin', params: [], inTransaction: savepoint !== null };
    pending.push(opening);
    depth++;
    /** Undoes the transaction (or savepoint): what of it was never sent is dropped, the rest rolled back. */
    const undo = () => {
      const at = pending.indexOf(opening);
      if (at >= 0) {
        // Nothing of it reached the server (what is pending before it is the outer transaction's, kept).
        pending.length = at;
        return;
      }
      // All that is pending is of it (it was sent before them): dropped, and rolled back.
      pending.length = 0;
      try {
        conn.query(savepoint ? `rollback to savepoint ${savepoint}` : 'rollback', [], true);
      } catch {
        // the connection is gone: the server rolled back with it
      }
    };
    let result: T;
    try {
      if (!savepoint) checkFence(true);
      result = fn();
      if (result && typeof (result as { then?: unknown }).then === 'function') throw new TypeError('Transaction function cannot return a promise');
    } catch (err) {
      depth--;
      undo();
      throw err;
    }
    depth--;
    if (pending[pending.length - 1] === opening) {
      // Nothing was asked of it: nothing to send.
      pending.pop();
      return result;
    }
    try {
      // What it left pending goes now, with its end: a write of a savepoint that fails fails the
      // savepoint (its caller may go on without it), not a later statement of the outer transaction.
      send(savepoint ? `release savepoint ${savepoint}` : 'commit', [], true);
    } catch (err) {
      try {
        conn.query(savepoint ? `rollback to savepoint ${savepoint}` : 'rollback', [], true);
      } catch {
        // nothing open any more (or the outer transaction failed: its next statement says so)
      }
      throw err;
    }
    return result;
  };
  const after = commitHooks();
  const db: Database = {
    dialect: 'postgres',
    get sqlite(): never {
      throw new Error('db.sqlite: this store is PostgreSQL');
    },
    kysely,
    run(query) {
      // A write outside a transaction is one of its own, fenced like any other.
      if (depth === 0 && opts.fence) return db.transaction(() => ({ changes: exec(query).rowCount }));
      return { changes: exec(query).rowCount };
    },
    prefetch<R>(query: Compilable<R>) {
      if (depth === 0) {
        const rows = exec(query).rows as R[];
        return () => rows;
      }
      const compiled = query.compile();
      let rows: R[] | null = null;
      const entry = { sql: compiled.sql, params: [...compiled.parameters], inTransaction: true, onRows: (r: Record<string, unknown>[]) => void (rows = r as R[]) };
      pending.push(entry);
      return () => {
        if (rows === null && pending.includes(entry)) flush();
        if (rows === null) throw new Error('prefetch: its transaction ended before its rows were read');
        return rows;
      };
    },
    write(query) {
      if (depth === 0) {
        db.run(query);
        return;
      }
      const compiled = query.compile();
      pending.push({ sql: compiled.sql, params: [...compiled.parameters], inTransaction: true });
    },
    all<R>(query: Compilable<R>) {
      return exec(query).rows as R[];
    },
    first<R>(query: Compilable<R>) {
      return exec(query).rows[0] as R | undefined;
    },
    values(query) {
      // Arrays from the worker (pg's rowMode 'array'): a page of 1,000 rows crosses threads without its keys.
      const compiled = query.compile();
      if (pending.length === 0) return conn.queryArrays(compiled.sql, compiled.parameters, depth > 0).rows;
      // What the transaction has pending goes first, in the same trip (a pending read gets its rows first).
      const before = pending.splice(0);
      if (before.some((p) => p.onRows)) {
        pending.push(...before);
        flush();
        return conn.queryArrays(compiled.sql, compiled.parameters, depth > 0).rows;
      }
      return conn.queryArrays(compiled.sql, compiled.parameters, before[0]!.inTransaction, before.map((p) => ({ sql: p.sql, params: p.params }))).rows;
    },
    get inTransaction() {
      return depth > 0;
    },
    transaction<T>(fn: () => T): T {
      return after.around(() => transactionOf(() => after.inside(fn)));
    },
    afterCommit: after.add,
    fold: after.fold,
    assertLeading() {
      // Inside a transaction the check at its start holds (FOR SHARE) until it commits.
      if (depth === 0) checkFence(false);
    },
    async close() {
      if (closed) return;
      closed = true;
      conn.close();
      await kysely.destroy();
    },
  };
  return db;
}

/** kysely's DummyDriver answers every query with no rows; this one refuses to run any. */
class CompileOnlyDriver extends DummyDriver {
  override async acquireConnection(): Promise<never> {
    throw new Error('db.kysely only builds queries on PostgreSQL: run them with db.run / db.all / db.first');
  }
}

async function refuseUnknownMigrations(pool: pg.Pool, schema: string, known: string[]): Promise<void> {
  const exists = await pool.query(`select to_regclass('${schema}.kysely_migration') as t`);
  if (!exists.rows[0]?.t) return;
  const applied = (await pool.query<{ name: string }>(`select name from ${schema}.kysely_migration order by name`)).rows.map((r) => r.name);
  const unknown = applied.filter((name) => !known.includes(name));
  if (unknown.length === 0) return;
  throw new StartupRefusal(`PostgreSQL schema ${schema} was written by a newer version of crazy-trade (migration ${unknown.join(', ')}); upgrade first`);
}

export { PgError, LeadershipLost };
