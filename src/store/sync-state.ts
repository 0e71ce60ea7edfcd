import type { Database } from './database.js';
import { prepared } from './prepared.js';

/** Keys of the sync_state table. */
export type SyncKey = 'fill_watermark' | 'event_cursor' | 'last_reconcile_at' | 'position_baseline' | 'late_exits_from' | 'fee_backfill_until' | 'entries_paused' | 'late_safe_until' | 'fees_read_at';

// Built once per store: a fill's commit writes one (its exit walk's mark), a cursor's move another.
const readOne = prepared((k, p: { key: string }) => k.selectFrom('sync_state').select('value').where('key', '=', p.key));
const writeOne = prepared((k, p: { key: string; value: string; at: string }) =>
  k
    .insertInto('sync_state')
    .values({ key: p.key, value: p.value, updated_at: p.at })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: p.value, updated_at: p.at })),
);

export function readSyncState(db: Database, key: SyncKey): string | null {
  const row = db.first(readOne(db, { key })) as { value: string } | undefined;
  return row?.value ?? null;
}

export function writeSyncState(db: Database, key: SyncKey, value: string, now = new Date()): void {
  db.run(writeOne(db, { key, value, at: now.toISOString() }));
}

export function deleteSyncState(db: Database, key: SyncKey): void {
  db.run(db.kysely.deleteFrom('sync_state').where('key', '=', key));
}
