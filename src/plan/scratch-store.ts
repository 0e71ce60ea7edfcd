import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openDatabase, type Database } from '../store/database.js';
import { readLockHolder } from '../store/process-lock.js';
import { readSyncState } from '../store/sync-state.js';
import { StartupRefusal } from '../startup-refusal.js';

/**
 * The store `npm run plan` lets the start write to: a copy of the account's SQLite file in a
 * private temporary folder (migrated there if need be), or an empty one for a first start. The
 * real file is only read, by copying its bytes: not opened with SQLite at all, since even a
 * read-only open of a WAL database leaves -wal and -shm files beside it. PostgreSQL is not read:
 * the plan is a first start's, and says so.
 */
export interface ScratchStore {
  db: Database;
  /** What the header says about the store. */
  description: string;
  firstStart: boolean;
  notes: string[];
  close(): Promise<void>;
}

export async function openScratchStore(opts: { dbPath: string; dbUrl?: string; /** Plan a first start whatever is there, saying why (demo mode: a fresh database each run). */ fresh?: string }): Promise<ScratchStore> {
  const dir = mkdtempSync(join(tmpdir(), 'crazy-trade-plan-'));
  const copy = join(dir, 'plan.db');
  const notes: string[] = [];
  let description: string;
  let firstStart = true;
  const real = opts.dbPath === ':memory:' ? null : resolve(opts.dbPath);
  if (opts.fresh !== undefined) {
    description = opts.fresh;
  } else if (opts.dbUrl) {
    description = 'PostgreSQL (CT_DB_URL) is not read by the plan: planned as a first start, as if nothing were recorded yet';
    notes.push('CT_DB_URL is set: what the PostgreSQL store already records is not taken into account; a start that finds stops recorded there places fewer than shown');
  } else if (real && existsSync(real)) {
    copyFileSync(real, copy);
    // The write-ahead log holds the latest commits (a running service, or one killed): copied with it.
    if (existsSync(`${real}-wal`)) copyFileSync(`${real}-wal`, `${copy}-wal`);
    firstStart = false;
    description = `${opts.dbPath} (read from a copy; the file itself is not opened)`;
    const holder = readLockHolder(real);
    if (holder) notes.push(`a service is running on ${opts.dbPath} now (pid ${holder.pid} on ${holder.host}): this is what a restart would do; stop it for a plan that cannot change under it`);
  } else {
    description = `first start: no database at ${opts.dbPath} yet (the plan creates none)`;
  }
  let db: Database;
  try {
    db = await openDatabase(copy);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    // Said of the real file: the copy's path means nothing to the reader.
    if (err instanceof StartupRefusal && real) throw new StartupRefusal(err.message.split(copy).join(real));
    throw err;
  }
  if (!firstStart && readSyncState(db, 'fill_watermark') === null) {
    description += ', which has read no fill yet';
  } else if (!firstStart) {
    description += `, last reconciled ${readSyncState(db, 'last_reconcile_at') ?? 'never'}`;
  }
  return {
    db,
    description,
    firstStart,
    notes,
    close: async () => {
      try {
        await db.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
