import { accessSync, constants, existsSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type Compilable } from 'kysely';
import { StartupRefusal } from '../startup-refusal.js';
import { migrationProvider } from './migrations.js';
import { acquireProcessLock, ensurePrivateDir, ensurePrivateFile, openFailure, tightenIfPresent, type ProcessLock } from './process-lock.js';
import type { Schema } from './schema.js';

/**
 * The SQLite store. kysely builds the (typed) queries and runs the migrations; hot paths that must
 * commit several rows atomically from synchronous code (an actor transition) execute the compiled
 * queries on better-sqlite3 directly inside `transaction`, which kysely's async API cannot do.
 */
export interface Database {
  /** Which server: SQLite (a file, one process) or PostgreSQL (CT_DB_URL, several instances). */
  readonly dialect: 'sqlite' | 'postgres';
  /** The better-sqlite3 handle (SQLite only: tests and benches that prepare statements directly). */
  readonly sqlite: BetterSqlite3.Database;
  readonly kysely: Kysely<Schema>;
  /** Run a kysely query synchronously; returns changes for writes. */
  run(query: Compilable): { changes: number };
  /**
   * A write of the transaction in progress whose result nobody reads (a row written as it is).
   * SQLite runs it now. PostgreSQL sends it with the transaction's next statement or its commit, in
   * one round trip (src/store/database-pg.ts): a commit's writes cost one trip, not one each. A
   * failure fails that next statement (or the commit), so the transaction still fails as a whole.
   * Outside a transaction it runs now.
   */
  write(query: Compilable): void;
  /**
   * A read the transaction in progress will need: SQLite reads now; PostgreSQL sends it with the
   * transaction's next statement (one trip for both). Its rows when the returned function is
   * called (sent then, with what is pending, if they are not back yet). Outside a transaction it reads now.
   */
  prefetch<R>(query: Compilable<R>): () => R[];
  all<R>(query: Compilable<R>): R[];
  first<R>(query: Compilable<R>): R | undefined;
  /**
   * The rows as arrays of their selected columns, in the select's order: a long page read without
   * building an object per row (half the time of `all` for 1,000 rows on SQLite).
   */
  values(query: Compilable): unknown[][];
  /** Whether a transaction is open (a statement run now commits with it). */
  readonly inTransaction: boolean;
  /** Run fn in one SQLite transaction (nested calls become savepoints). */
  transaction<T>(fn: () => T): T;
  /**
   * Runs fn once the transaction in progress commits (at once outside one); dropped if it, or the
   * savepoint it was asked in, rolls back. For what must only be said of committed facts (log lines).
   */
  afterCommit(fn: () => void): void;
  /**
   * Folds `item` into what the transaction in progress writes just before it commits: every item of
   * one `key` goes to one `write` call, in order (a batch's rows in one statement). Inside the
   * transaction, so it commits or rolls back with it; an item of a savepoint that rolls back is
   * dropped. Outside one, written at once.
   */
  fold<T>(key: string, item: T, write: (items: T[]) => void): void;
  /**
   * Throws unless this process still leads the account (PostgreSQL, src/store/leadership.ts): called
   * in the transaction that marks an order as sent, so a leader that lost its lock cannot send.
   * SQLite: one process per file (the process lock), nothing to check.
   */
  assertLeading(): void;
  close(): Promise<void>;
}

export interface OpenOptions {
  /**
   * The process lock for this path, taken earlier with acquireProcessLock (e.g. before deleting
   * old files). The database owns it from here on: released on close() or if the open fails.
   * Without it, openDatabase takes the lock itself. Ignored for ':memory:'.
   */
  lock?: ProcessLock;
}

/**
 * Opens (creating if need be) and migrates the database at `path`. Refuses with StartupRefusal,
 * before changing anything, if another process holds the database, the file cannot be opened, or
 * it carries migrations this version does not know. Files are kept private: the folder is created
 * 0700, the database and its -wal/-shm are 0600 (SQLite gives -wal/-shm the main file's mode).
 */
export async function openDatabase(path: string, opts: OpenOptions = {}): Promise<Database> {
  if (path === ':memory:') return setUp(new BetterSqlite3(path), path, null);

  const abs = resolve(path);
  if (opts.lock && opts.lock.dbPath !== abs) {
    throw new Error(`the process lock passed for ${abs} guards ${opts.lock.dbPath}`);
  }
  // The lock comes first: nothing below may touch a database another process is running on.
  const lock = opts.lock ?? acquireProcessLock(abs);
  // The files SQLite adds beside the database: any this open creates goes again if it fails, so
  // the next start does not trip on it (a -wal made 0400 after a read-only database, say).
  const beside = ['-wal', '-shm', '-journal'].map((suffix) => abs + suffix);
  const existedBefore = new Set(beside.filter((f) => existsSync(f)));
  let sqlite: BetterSqlite3.Database;
  try {
    ensurePrivateDir(abs);
    refuseUnwritable(abs);
    ensurePrivateFile(abs);
    for (const f of beside) tightenIfPresent(f);
    sqlite = new BetterSqlite3(abs);
  } catch (err) {
    lock.release();
    throw err instanceof StartupRefusal ? err : openFailure(abs, err);
  }
  try {
    return await setUp(sqlite, abs, lock);
  } catch (err) {
    try {
      sqlite.close();
    } catch {
      // already closed (kysely.destroy) or never usable
    }
    for (const f of beside) if (!existedBefore.has(f)) rmSync(f, { force: true });
    lock.release();
    throw err;
  }
}

/**
 * A database the service cannot write (or a folder it cannot create its -wal in) is refused before
 * SQLite opens it: SQLite would open it, create -wal/-shm with the file's read-only mode, and fail at
 * the first write.
 */
function refuseUnwritable(path: string): void {
  const folder = dirname(path);
  const targets = existsSync(path) ? [{ target: path, what: 'the file' }, { target: folder, what: `its folder ${folder}` }] : [{ target: folder, what: `its folder ${folder}` }];
  for (const { target, what } of targets) {
    try {
      accessSync(target, constants.R_OK | constants.W_OK);
    } catch (err) {
      const mode = (statSync(target).mode & 0o777).toString(8).padStart(4, '0');
      const code = (err as NodeJS.ErrnoException).code ?? 'EACCES';
      throw new StartupRefusal(`cannot open database at ${path}: ${what} is not writable by this user (mode ${mode}, ${code}): chmod u+rw ${target}, or run as its owner`);
    }
  }
}

async function setUp(sqlite: BetterSqlite3.Database, path: string, lock: ProcessLock | null): Promise<Database> {
  try {
    sqlite.pragma('busy_timeout = 5000');
    // The whole file, checked once as it opens: a corrupt page anywhere is refused now, not met
    // mid-run by the first query that reads it. ("file is not a database" surfaces here too.)
    refuseCorrupt(sqlite, path);
    refuseUnknownMigrations(sqlite, path, Object.keys(await migrationProvider.getMigrations()));
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
  } catch (err) {
    if (err instanceof StartupRefusal) throw err;
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('SQLITE_CORRUPT')) throw corrupt(path, (err as Error).message);
    throw openFailure(path, err);
  }
  const kysely = new Kysely<Schema>({ dialect: new SqliteDialect({ database: sqlite }) });

  const { error, results } = await new Migrator({ db: kysely, provider: migrationProvider }).migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    await kysely.destroy();
    const reason = error instanceof Error ? error.message : String(error);
    throw new StartupRefusal(
      `cannot open database at ${path}: its migration${failed ? ` ${failed.migrationName}` : ''} failed (${reason.split('\n')[0]}); nothing was changed by it (each migration is one transaction): restore the file from a backup, or move it away to start a new ledger`,
    );
  }

  const statements = new Map<string, BetterSqlite3.Statement>();
  const prepare = (query: Compilable, raw = false) => {
    const compiled = query.compile();
    const key = raw ? `raw:${compiled.sql}` : compiled.sql;
    let stmt = statements.get(key);
    if (!stmt) {
      // Queries with IN-lists vary in text; keep the cache bounded.
      if (statements.size >= 512) statements.clear();
      stmt = sqlite.prepare(compiled.sql);
      if (raw) stmt.raw(true);
      statements.set(key, stmt);
    }
    return { stmt, params: compiled.parameters as unknown[] };
  };

  let closed = false;
  const after = commitHooks();
  return {
    dialect: 'sqlite',
    sqlite,
    kysely,
    assertLeading() {},
    run(query) {
      const { stmt, params } = prepare(query);
      return { changes: stmt.run(...params).changes };
    },
    write(query) {
      const { stmt, params } = prepare(query);
      stmt.run(...params);
    },
    prefetch<R>(query: Compilable<R>) {
      const { stmt, params } = prepare(query);
      const rows = stmt.all(...params) as R[];
      return () => rows;
    },
    all<R>(query: Compilable<R>) {
      const { stmt, params } = prepare(query);
      return stmt.all(...params) as R[];
    },
    first<R>(query: Compilable<R>) {
      const { stmt, params } = prepare(query);
      return stmt.get(...params) as R | undefined;
    },
    values(query) {
      const { stmt, params } = prepare(query, true);
      return stmt.all(...params) as unknown[][];
    },
    get inTransaction() {
      return sqlite.inTransaction;
    },
    transaction(fn) {
      return after.around(() => sqlite.transaction(() => after.inside(fn))());
    },
    afterCommit: after.add,
    fold: after.fold,
    async close() {
      if (closed) return;
      closed = true;
      // kysely's SqliteDriver closes the better-sqlite3 handle on destroy.
      try {
        await kysely.destroy();
      } finally {
        lock?.release();
      }
    },
  };
}

/** `PRAGMA quick_check` over the whole file; anything but "ok" refuses the start. */
function refuseCorrupt(sqlite: BetterSqlite3.Database, path: string): void {
  const rows = sqlite.pragma('quick_check(1)') as Array<{ quick_check: string }>;
  const first = rows[0]?.quick_check;
  if (first !== 'ok') throw corrupt(path, `quick_check: ${String(first)}`);
}

function corrupt(path: string, detail: string): StartupRefusal {
  return new StartupRefusal(
    `database at ${path} is corrupt (${detail.split('\n')[0]!.slice(0, 120)}): keep the file, and restore the ledger from a backup, or move it away to start a new one`,
  );
}

/**
 * A database that has run a migration this version does not have was written by a newer version:
 * kysely would refuse with "corrupted migrations"; refuse clearly instead, before any change.
 */
function refuseUnknownMigrations(sqlite: BetterSqlite3.Database, path: string, known: string[]): void {
  const table = sqlite.prepare("select 1 from sqlite_master where type = 'table' and name = 'kysely_migration'").get();
  if (!table) return;
  const applied = (sqlite.prepare('select name from kysely_migration order by name').all() as Array<{ name: string }>).map((r) => r.name);
  const unknown = applied.filter((name) => !known.includes(name));
  if (unknown.length === 0) return;
  throw new StartupRefusal(
    `database at ${path} was written by a newer version of crazy-trade (migration ${unknown.join(', ')}); upgrade, or point CT_DB_PATH elsewhere`,
  );
}

/**
 * The commit hooks of a store: folds written at the end of the outermost transaction (inside it),
 * after-commit callbacks run once it committed; both go with a rollback of the part that asked.
 * `around` wraps the whole transaction; `inside` its body (between BEGIN and COMMIT).
 */
export function commitHooks(): {
  around<T>(run: () => T): T;
  inside<T>(fn: () => T): T;
  add(fn: () => void): void;
  fold<T>(key: string, item: T, write: (items: T[]) => void): void;
} {
  const queue: Array<() => void> = [];
  const folds: Array<{ key: string; item: unknown; write: (items: unknown[]) => void }> = [];
  let depth = 0;
  const flush = () => {
    while (folds.length > 0) {
      const batch = folds.splice(0);
      const byKey = new Map<string, { write: (items: unknown[]) => void; items: unknown[] }>();
      for (const f of batch) {
        const group = byKey.get(f.key);
        if (group) group.items.push(f.item);
        else byKey.set(f.key, { write: f.write, items: [f.item] });
      }
      for (const { write, items } of byKey.values()) write(items);
    }
  };
  return {
    around(run) {
      const mark = queue.length;
      const foldMark = folds.length;
      depth++;
      let result;
      try {
        result = run();
      } catch (err) {
        depth--;
        queue.length = mark;
        folds.length = Math.min(folds.length, foldMark);
        throw err;
      }
      depth--;
      if (depth === 0) for (const fn of queue.splice(0)) fn();
      return result;
    },
    inside(fn) {
      const result = fn();
      if (depth === 1) flush();
      return result;
    },
    add(fn) {
      if (depth === 0) fn();
      else queue.push(fn);
    },
    fold(key, item, write) {
      if (depth === 0) write([item]);
      else folds.push({ key, item, write: write as (items: unknown[]) => void });
    },
  };
}
