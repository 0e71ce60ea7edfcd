import type { Database } from './database.js';

/** Per-symbol cooldowns after an exit, one per exit fill (DESIGN §3.5). */

/** Starts a cooldown for an exit fill; false when that exit already has one. */
export function startCooldown(db: Database, c: { exitFillId: string; symbol: string; startedAt: Date; until: Date }): boolean {
  const { changes } = db.run(
    db.kysely
      .insertInto('cooldowns')
      .values({ exit_fill_id: c.exitFillId, symbol: c.symbol, started_at: c.startedAt.toISOString(), until: c.until.toISOString() })
      .onConflict((oc) => oc.column('exit_fill_id').doNothing()),
  );
  return changes > 0;
}

/** The latest cooldown of a symbol that is still running at `now`, if any. */
export function activeCooldown(db: Database, symbol: string, now = new Date()) {
  return db.first(
    db.kysely
      .selectFrom('cooldowns')
      .selectAll()
      .where('symbol', '=', symbol)
      .where('until', '>', now.toISOString())
      .orderBy('until', 'desc')
      .limit(1),
  );
}

export function listCooldowns(db: Database, opts: { activeAt?: Date } = {}) {
  let q = db.kysely.selectFrom('cooldowns').selectAll().orderBy('started_at', 'desc');
  if (opts.activeAt) q = q.where('until', '>', opts.activeAt.toISOString());
  return db.all(q);
}
