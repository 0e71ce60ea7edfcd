import type { Database } from './database.js';

/** Keys of the sync_state table. */
export type SyncKey = 'fill_watermark' | 'event_cursor' | 'last_reconcile_at' | 'position_baseline' | 'late_exits_from' | 'fee_backfill_until' | 'entries_paused' | 'late_safe_until' | 'fees_read_at';

export function readSyncState(db: Database, key: SyncKey): string | null {
  const row = db.first(db.kysely.selectFrom('sync_state').select('value').where('key', '=', key));
  return row?.value ?? null;
}

export function writeSyncState(db: Database, key: SyncKey, value: string, now = new Date()): void {
  db.run(
    db.kysely
      .insertInto('sync_state')
      .values({ key, value, updated_at: now.toISOString() })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: now.toISOString() })),
  );
}

export function deleteSyncState(db: Database, key: SyncKey): void {
  db.run(db.kysely.deleteFrom('sync_state').where('key', '=', key));
}
