import { sql, type RawBuilder } from 'kysely';
import type { Database } from './database.js';

/**
 * A text field inside a JSON text column (`snapshot`, `payload`), on either server: SQLite's
 * json_extract, PostgreSQL's #>> on the column cast to jsonb. `path` names are constants of ours.
 */
export function jsonText(db: Database, column: string, path: readonly string[]): RawBuilder<string | null> {
  if (path.some((p) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(p))) throw new Error(`bad JSON path ${path.join('.')}`);
  return db.dialect === 'postgres'
    ? sql<string | null>`(${sql.ref(column)}::jsonb #>> ${sql.lit(`{${path.join(',')}}`)})`
    : sql<string | null>`json_extract(${sql.ref(column)}, ${sql.lit(`$.${path.join('.')}`)})`;
}
