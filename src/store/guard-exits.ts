import type { Database } from './database.js';
import type { GuardExit } from '../domain/extended-hours-guard.js';

/**
 * The extended-hours guard's exits in progress, one `sync_state` row per symbol
 * (`guard_exit:<symbol>`, the GuardExit as JSON): written in the transaction that cancels the
 * symbol's stops, so a crash never leaves stops canceled without the exit that needs it.
 */

const PREFIX = 'guard_exit:';

export function readGuardExit(db: Database, symbol: string): GuardExit | null {
  const row = db.first(db.kysely.selectFrom('sync_state').select('value').where('key', '=', `${PREFIX}${symbol}`));
  return row ? (JSON.parse(row.value) as GuardExit) : null;
}

/** Every exit in progress, by symbol. */
export function guardExits(db: Database): GuardExit[] {
  // The key range of the prefix (`;` follows `:`), not LIKE, whose `_` matches any character.
  const rows = db.all(db.kysely.selectFrom('sync_state').select('value').where('key', '>=', PREFIX).where('key', '<', 'guard_exit;').orderBy('key'));
  return rows.map((r) => JSON.parse(r.value) as GuardExit);
}

export function writeGuardExit(db: Database, exit: GuardExit, now = new Date()): void {
  const key = `${PREFIX}${exit.symbol}`;
  const value = JSON.stringify(exit);
  const at = now.toISOString();
  db.run(db.kysely.insertInto('sync_state').values({ key, value, updated_at: at }).onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: at })));
}

export function deleteGuardExit(db: Database, symbol: string): void {
  db.run(db.kysely.deleteFrom('sync_state').where('key', '=', `${PREFIX}${symbol}`));
}
