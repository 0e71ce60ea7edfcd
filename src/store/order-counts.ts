import { sql } from 'kysely';
import type { Database } from './database.js';

/** How many order actors are live (non-terminal) and finished, as /health reports them. */
export function countOrders(db: Database): { active: number; terminal: number } {
  const row = db.first(
    db.kysely
      .selectFrom('orders')
      .select([
        sql<number>`coalesce(sum(case when terminal = 0 then 1 else 0 end), 0)`.as('active'),
        sql<number>`coalesce(sum(terminal), 0)`.as('terminal'),
      ]),
  );
  return { active: Number(row?.active ?? 0), terminal: Number(row?.terminal ?? 0) };
}
