import type { Database } from './database.js';
import { deleteSyncState, readSyncState, writeSyncState } from './sync-state.js';

/**
 * Whether the operator paused entries (POST /control/pause): durable, so a restart does not resume
 * them behind the operator's back. Only entries pause; protection never does.
 */
export interface EntriesPaused {
  paused: boolean;
  /** Who paused them (the API token's name) and when; null while entries run. */
  by: string | null;
  since: string | null;
}

export function entriesPaused(db: Database): EntriesPaused {
  const raw = readSyncState(db, 'entries_paused');
  if (raw === null) return { paused: false, by: null, since: null };
  const v = JSON.parse(raw) as { by?: string; since?: string };
  return { paused: true, by: v.by ?? null, since: v.since ?? null };
}

export function setEntriesPaused(db: Database, paused: boolean, by: string, now = new Date()): EntriesPaused {
  if (!paused) deleteSyncState(db, 'entries_paused');
  else if (readSyncState(db, 'entries_paused') === null) writeSyncState(db, 'entries_paused', JSON.stringify({ by, since: now.toISOString() }), now);
  return entriesPaused(db);
}
