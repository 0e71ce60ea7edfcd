import type { StopIntent } from '../../machines/order.machine.js';
import type { Database } from './database.js';

/**
 * The outbox: the intent to place (or resize) an entry's protective stop, written in the same
 * transaction as the entry fill that calls for it. Keyed by the stop's deterministic client order
 * id, so asking again only updates the wanted quantity.
 */
export function upsertStopIntent(db: Database, intent: StopIntent, now = new Date()): void {
  const at = now.toISOString();
  const payload = JSON.stringify(intent);
  db.run(
    db.kysely
      .insertInto('intents')
      .values({
        client_order_id: intent.clientOrderId,
        kind: 'protective_stop',
        entry_order_id: intent.entryOrderId,
        symbol: intent.symbol,
        payload,
        status: 'pending',
        broker_order_id: null,
        attempts: 0,
        last_error: null,
        created_at: at,
        updated_at: at,
      })
      .onConflict((oc) => oc.column('client_order_id').doUpdateSet({ payload, updated_at: at })),
  );
}
