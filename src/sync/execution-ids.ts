import type { BrokerClient } from '../broker/client.js';
import { openActivityEventsFor } from '../broker/activity-events.js';
import { parseActivityEvent } from '../broker/activity-event-adapter.js';
import type { Database } from '../store/database.js';
import type { Logger } from '../log.js';
import type { OrderActors } from '../runtime/order-actors.js';

/**
 * Execution ids of fills the ledger recorded without one (a REST FILL activity or an order read tells
 * none, alpaca-rules.md), looked up when a trade bust or correction names an execution the ledger
 * cannot find: the order it names (`details.order_id`) has such fills, and the activity event stream's
 * history (`since` a minute before the first of them, `until` now: it ends after the history) holds
 * each one's trade event, its `ref_id` the execution id. Each of the order's fill events found is
 * handed to the order actors as the stream would have (a duplicate of its recorded row: the execution
 * id is kept on it, and a change waiting for that id is applied, `keepExecutionId`). One lookup at a
 * time, each order once while queued; a failure is logged and left to the next change that names it.
 */

const BEFORE_FIRST_MS = 60_000;
/** A history read that takes longer than this is given up (the next change of the order asks again). */
const READ_LIMIT_MS = 30_000;

const unidentified = (db: Database, orderId: string) =>
  db.all(
    db.kysely
      .selectFrom('fills')
      .select(['cum_qty', 'filled_at'])
      .where('order_id', '=', orderId)
      .where('execution_id', 'is', null)
      .where('busted', '=', 0)
      .orderBy('filled_at'),
  );

export class ExecutionIdLookup {
  private readonly queue = new Set<string>();
  private running: Promise<void> | null = null;
  private stopped = false;
  private abort: AbortController | null = null;
  /** Lookups that found at least one execution id (tests, logs). */
  found = 0;

  constructor(private readonly deps: { db: Database; log: Logger; client: BrokerClient; actors: OrderActors }) {}

  /** Looks up the execution ids of `orderId`'s fills recorded without one (nothing when it has none). */
  request(orderId: string): void {
    if (this.stopped || unidentified(this.deps.db, orderId).length === 0) return;
    this.queue.add(orderId);
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
  }

  /** Resolves once the lookups queued now are done. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.clear();
    this.abort?.abort();
    await this.running;
  }

  private async drain(): Promise<void> {
    for (const orderId of this.queue) {
      this.queue.delete(orderId);
      if (this.stopped) return;
      try {
        await this.lookup(orderId);
      } catch (err) {
        if (this.stopped) return;
        this.deps.log.warn({ event: 'execution_id_lookup_failed', order_id: orderId, err: String(err) }, 'could not look up execution ids on the activity event stream; the next change of the order asks again');
      }
    }
  }

  private async lookup(orderId: string): Promise<void> {
    const { db, log, client, actors } = this.deps;
    const rows = unidentified(db, orderId);
    if (rows.length === 0) return;
    const since = new Date(Date.parse(rows[0]!.filled_at) - BEFORE_FIRST_MS);
    const ac = new AbortController();
    this.abort = ac;
    const timer = setTimeout(() => ac.abort(), READ_LIMIT_MS);
    timer.unref?.();
    let fills = 0;
    try {
      const stream = await openActivityEventsFor(client, { since, until: new Date() }, ac.signal);
      ac.signal.addEventListener('abort', () => stream.close(), { once: true });
      for await (const item of stream.items) {
        if (item.type !== 'data') continue;
        let raw: unknown;
        try {
          raw = JSON.parse(item.data);
        } catch {
          continue;
        }
        const parsed = parseActivityEvent(raw);
        if (!parsed.ok || parsed.value.kind !== 'fill' || parsed.value.execution.orderId !== orderId) continue;
        fills += 1;
        // As the stream would have: the recorded row is a duplicate, and its execution id is kept.
        actors.handleExecution(parsed.value.execution, null);
      }
    } finally {
      clearTimeout(timer);
      this.abort = null;
    }
    const left = unidentified(db, orderId).length;
    if (left < rows.length) this.found += 1;
    log.info(
      { event: 'execution_ids_looked_up', order_id: orderId, since: since.toISOString(), fill_events: fills, identified: rows.length - left, unidentified: left },
      'execution ids of fills recorded without one, looked up on the activity event stream',
    );
  }
}
