import { sql } from 'kysely';
import type { Database } from './database.js';
import { prepared, preparedRows } from './prepared.js';

/**
 * The notifications outbox: rows only (what to say is decided in src/notify/). A notification is
 * written once per id (insert-or-ignore: a fact committed again after a crash adds nothing), with
 * one delivery row per channel configured when it was written.
 */

export interface NewNotification {
  id: string;
  kind: string;
  text: string;
  data: Record<string, unknown>;
}

/** A notification waiting for one channel. */
export interface PendingNotification {
  id: string;
  kind: string;
  text: string;
  /** JSON object. */
  data: string;
  created_at: string;
  attempts: number;
}

const insertRow = prepared((k, p: { id: string; kind: string; text: string; data: string; created_at: string }) =>
  k
    .insertInto('notifications')
    .values({ id: p.id, kind: p.kind, text: p.text, data: p.data, created_at: p.created_at })
    .onConflict((oc) => oc.column('id').doNothing()),
);

const insertDeliveries = preparedRows((k, rows: { notification_id: string; channel: string }[]) =>
  k.insertInto('notification_deliveries').values(rows.map((r) => ({ notification_id: r.notification_id, channel: r.channel, delivered_at: null, last_error: null }))),
);

/**
 * Inserts the notification, then its delivery rows (one statement for all channels); false when the
 * id exists. Both in one transaction: the caller's (the fact's), or one of their own outside it.
 */
export function insertNotification(db: Database, n: NewNotification, channels: readonly string[], now: Date): boolean {
  const write = () => {
    const { changes } = db.run(insertRow(db, { id: n.id, kind: n.kind, text: n.text, data: JSON.stringify(n.data), created_at: now.toISOString() }));
    if (changes === 0) return false;
    if (channels.length > 0) db.run(insertDeliveries(db, channels.map((channel) => ({ notification_id: n.id, channel }))));
    return true;
  };
  // Inside the fact's transaction a savepoint adds nothing: a failure here fails the fact's commit.
  return db.inTransaction ? write() : db.transaction(write);
}

/**
 * Writes the notification and its delivery rows (unless its id exists), as a write of the
 * transaction in progress whose result nobody reads (`db.write`): on PostgreSQL one statement for
 * both rows, sent with the transaction's next statement or its commit. Outside a transaction, as
 * insertNotification.
 */
export function writeNotification(db: Database, n: NewNotification, channels: readonly string[], now: Date): void {
  if (db.dialect !== 'postgres' || !db.inTransaction || channels.length === 0) {
    insertNotification(db, n, channels, now);
    return;
  }
  const values = { id: n.id, kind: n.kind, text: n.text, data: JSON.stringify(n.data), created_at: now.toISOString() };
  const statement = sql`with n as (insert into notifications (id, kind, text, data, created_at) values (${values.id}, ${values.kind}, ${values.text}, ${values.data}, ${values.created_at}) on conflict (id) do nothing returning id) insert into notification_deliveries (notification_id, channel) select n.id, c.channel from n cross join (values ${sql.join(channels.map((c) => sql`(${c})`))}) as c(channel)`;
  db.write({ compile: () => statement.compile(db.kysely) });
}

/** Up to `limit` notifications not yet delivered to `channel`, oldest first. */
export function pendingNotifications(db: Database, channel: string, limit: number): PendingNotification[] {
  return db.all(
    db.kysely
      .selectFrom('notification_deliveries as d')
      .innerJoin('notifications as n', 'n.id', 'd.notification_id')
      .select(['n.id', 'n.kind', 'n.text', 'n.data', 'n.created_at', 'd.attempts'])
      .where('d.channel', '=', channel)
      .where('d.delivered_at', 'is', null)
      .orderBy('n.created_at')
      .orderBy(sql`n.rowid`)
      .limit(limit),
  ) as PendingNotification[];
}

/** How many notifications each channel has not had yet. */
export function pendingCounts(db: Database): Map<string, number> {
  const rows = db.all(
    db.kysely
      .selectFrom('notification_deliveries')
      .select(['channel', sql<number>`count(*)`.as('n')])
      .where('delivered_at', 'is', null)
      .groupBy('channel'),
  );
  return new Map(rows.map((r) => [r.channel, Number(r.n)]));
}

export function markDelivered(db: Database, channel: string, ids: readonly string[], now: Date): void {
  if (ids.length === 0) return;
  db.run(
    db.kysely
      .updateTable('notification_deliveries')
      .set((eb) => ({ delivered_at: now.toISOString(), attempts: eb('attempts', '+', 1), last_error: null }))
      .where('channel', '=', channel)
      .where('notification_id', 'in', [...ids]),
  );
}

/** A request that carried `ids` failed: counted, and not tried again before `nextAttemptAt` (epoch ms). */
export function markFailed(db: Database, channel: string, ids: readonly string[], error: string, nextAttemptAt: number): void {
  if (ids.length === 0) return;
  db.run(
    db.kysely
      .updateTable('notification_deliveries')
      .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: error.slice(0, 500), next_attempt_at: nextAttemptAt }))
      .where('channel', '=', channel)
      .where('notification_id', 'in', [...ids]),
  );
}

/** Every notification, newest first (history; tests and the API read it). Its columns by name: PostgreSQL's table also has `rowid`. */
export function listNotifications(db: Database, opts: { limit?: number } = {}) {
  return db.all(db.kysely.selectFrom('notifications').select(['id', 'kind', 'text', 'data', 'created_at']).orderBy('created_at', 'desc').orderBy(sql`rowid`, 'desc').limit(opts.limit ?? 100));
}
