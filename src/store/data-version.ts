import { CompiledQuery } from 'kysely';
import type { Database } from './database.js';

/**
 * A token that is the same only while the database's committed contents are: a read answered under
 * one token may be given again while the token stays. SQLite: the changes this connection made
 * (`total_changes()`, every row written through it, whatever wrote it) and `data_version` (bumped
 * when another connection commits to the file). PostgreSQL: the current snapshot (`xmin:xmax:xip`):
 * two statements with the same one see the same committed rows; any transaction that wrote and
 * committed since changes it. Null inside a transaction (what it wrote is not committed yet).
 */
export function dataVersion(db: Database): string | null {
  if (db.inTransaction) return null;
  const query = db.dialect === 'sqlite' ? SQLITE : POSTGRES;
  const row = db.first(query) as { v: string | number } | undefined;
  return row === undefined ? null : String(row.v);
}

const SQLITE = { compile: () => CompiledQuery.raw("select total_changes() || ':' || (select data_version from pragma_data_version) as v") };
const POSTGRES = { compile: () => CompiledQuery.raw('select pg_current_snapshot()::text as v') };
