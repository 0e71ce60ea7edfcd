import type { Database } from './database.js';
import { prepared } from './prepared.js';

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

/** A cooldown an exit fill started. */
export interface StartedCooldown {
  exitFillId: string;
  symbol: string;
  until: Date;
}

/**
 * The exit fill `<order>:<cum_qty>` starts its symbol's cooldown of `minutes` from `now`; null when
 * cooldowns are off or that exit already started one.
 */
export function startExitCooldown(db: Database, fill: { orderId: string; cumQty: string; symbol: string }, minutes: number, now: Date): StartedCooldown | null {
  if (minutes <= 0) return null;
  const cd = { exitFillId: `${fill.orderId}:${fill.cumQty}`, symbol: fill.symbol, until: new Date(now.getTime() + minutes * 60_000) };
  return startCooldown(db, { ...cd, startedAt: now }) ? cd : null;
}

/** Ends now the cooldown an exit fill `<order>:<cum_qty>` started, if it still runs (a bust took the exit back). */
export function endExitCooldown(db: Database, exitFillId: string, now = new Date()): boolean {
  const at = now.toISOString();
  return db.run(db.kysely.updateTable('cooldowns').set({ until: at }).where('exit_fill_id', '=', exitFillId).where('until', '>', at)).changes > 0;
}

/** The latest cooldown of a symbol that is still running at `now`, if any. */
export function activeCooldown(db: Database, symbol: string, now = new Date()) {
  return db.first(activeOf(db, { symbol, now: now.toISOString() }));
}

const activeOf = prepared((k, p: { symbol: string; now: string }) =>
  k.selectFrom('cooldowns').selectAll().where('symbol', '=', p.symbol).where('until', '>', p.now).orderBy('until', 'desc').limit(1),
);

/** Ends the symbol's running cooldowns now (DELETE /cooldowns/:symbol); how many were running. */
export function clearCooldowns(db: Database, symbol: string, now = new Date()): number {
  const at = now.toISOString();
  return db.run(db.kysely.updateTable('cooldowns').set({ until: at }).where('symbol', '=', symbol).where('until', '>', at)).changes;
}

export function listCooldowns(db: Database, opts: { activeAt?: Date } = {}) {
  let q = db.kysely.selectFrom('cooldowns').selectAll().orderBy('started_at', 'desc');
  if (opts.activeAt) q = q.where('until', '>', opts.activeAt.toISOString());
  return db.all(q);
}
