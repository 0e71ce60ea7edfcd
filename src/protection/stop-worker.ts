import type { BrokerClient } from '../broker/client.js';
import type { Database } from '../store/database.js';
import { dueStops, type StoredStopRow } from '../store/stops.js';
import type { Logger } from '../log.js';
import type { OrderActors } from '../runtime/order-actors.js';
import type { StopEffect, StopEvent } from '../../machines/stop-model.js';
import { RefusedRetryBudget } from './stop-budget.js';
import { StopSizing } from './stop-sizing.js';
import { AssetGrids } from '../broker/asset-grids.js';
import type { StopSettings } from './stop-order.js';
import { AgingScan, type AgingClock } from './stop-aging.js';
import { LeadershipLost } from '../store/leadership-lost.js';
import { applyStopTransition, type StopTransition } from './stop-transitions.js';
import { StopPreparation } from './stop-prepare.js';
import { StopRequests } from './stop-requests.js';
import { reportStopTransition } from './stop-report.js';
import { WashBlocks } from './stop-wash-blocks.js';

export interface StopWorkerDeps {
  db: Database;
  log: Logger;
  client: BrokerClient;
  actors: OrderActors;
  settings: StopSettings;
  /** Latest trade price of a crypto symbol (the SDK's market data). */
  latestPrice: (symbol: string) => Promise<string>;
  /** How long a sent order may stay invisible by client order id before it counts as absent. */
  graceMs?: number;
  /** The ledger's signed position in a symbol (no request); the broker is asked only when it falls short. */
  ledgerPosition?: (symbol: string) => string;
  /** Crypto order grids (shared with the ratchet); one is made when not given. */
  grids?: AssetGrids;
  /** A send was fenced off (PostgreSQL: another instance took the account over). The worker has stopped. */
  onLeadershipLost?: (err: LeadershipLost) => void;
  /** Alpaca's time and CT_REARM_BEFORE_H: working stops near their aged-order deadline are re-armed. Absent: never. */
  aging?: AgingClock;
}

type Request = Extract<StopEffect, { type: 'lookup' | 'fetchOrder' | 'place' | 'post' | 'patch' | 'delete' }>;
const REQUESTS = new Set<StopEffect['type']>(['lookup', 'fetchOrder', 'place', 'post', 'patch', 'delete']);
const isRequest = (e: StopEffect): e is Request => REQUESTS.has(e.type);
/** Transitions one stop may take in one pass (a placement with a lookup, a duplicate and an adoption takes 8). */
const MAX_STEPS = 12;

/**
 * Carries protective stops out exactly once (DESIGN §3.3) by doing what each stop's machine
 * (machines/stop.ts) asks for and reporting what came of it as the machine's next event; it decides
 * nothing about the stop's state itself. The machine guarantees that every step is safe to repeat
 * after a crash: an order that may have been sent is looked up by its deterministic client order id
 * first; `sent_at` is committed (`sendStarted`) before a request leaves; a 422 "client_order_id must
 * be unique" is adopted; a network error is "unknown" and probed, and only a definite 404 past the
 * grace period counts as absent. What the worker decides is what the broker can take: how much a
 * stop may cover now (stop-sizing.ts), and (refused stops) whether the symbol's retry budget
 * (stop-budget.ts) allows a request. This file runs the passes and drives each stop; what a send
 * carries is stop-prepare.ts's, the requests stop-requests.ts's, what is said about it stop-report.ts's.
 */
export class StopWorker {
  private running: Promise<void> | null = null;
  private again = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  private stopped = false;
  /** A wash-trade refusal holds back every stop of its symbol (stop-wash-blocks.ts). */
  private readonly washBlocks = new WashBlocks();
  private readonly preparation: StopPreparation;
  private readonly requests: StopRequests;
  private readonly aging: AgingScan | null;

  constructor(private readonly deps: StopWorkerDeps) {
    const sizing = new StopSizing(deps);
    const grids = deps.grids ?? new AssetGrids(deps);
    const shared = { settings: deps.settings, sizing, grids, washBlocks: this.washBlocks };
    this.preparation = new StopPreparation({ ...shared, latestPrice: deps.latestPrice, budget: new RefusedRetryBudget() });
    this.requests = new StopRequests({ ...shared, client: deps.client, graceMs: deps.graceMs });
    this.aging = deps.aging ? new AgingScan(deps.db, deps.aging) : null;
  }

  /** Passes every `intervalMs`, the first now (at restart, after src/runtime/restart.ts has resumed the stops). */
  start(intervalMs = 1000): void {
    this.timer = setInterval(() => this.kick(), intervalMs);
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** An order of `symbol` that was not one of our stops ended: a wash-trade block of the symbol is lifted. */
  orderEnded(symbol: string): void {
    if (this.washBlocks.lift(symbol)) void this.kick();
  }

  /** Runs a pass now, or once more after the pass in progress. */
  kick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass();
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    // Stops near Alpaca's aged-order deadline first (read from the rows, every few seconds): re-armed.
    const aging = this.aging?.due(Date.now()) ?? null;
    for (const clientOrderId of aging?.clientOrderIds ?? []) if (!(await this.attempt(clientOrderId, aging!.event))) return;
    for (const row of dueStops(this.deps.db, Date.now())) if (!(await this.attempt(row.client_order_id, { type: 'due' }))) return;
  }

  /** Drives one stop from `first`; false once the worker has stopped (or was fenced off). */
  private async attempt(clientOrderId: string, first: StopEvent): Promise<boolean> {
    if (this.stopped) return false;
    try {
      await this.drive(clientOrderId, first);
    } catch (err) {
      if (err instanceof LeadershipLost) {
        // Another instance leads the account now: send nothing more, and let the runtime step down.
        this.stopped = true;
        this.deps.log.warn({ event: 'stop_send_fenced', client_order_id: clientOrderId, err: err.message }, 'not sending: another instance leads the account');
        this.deps.onLeadershipLost?.(err);
        return false;
      }
      // Something failed before a request left (a price, a position): nothing was sent.
      const t = this.apply(clientOrderId, { type: 'deferred', reason: String(err) });
      this.deps.log.warn({ event: 'stop_intent_error', client_order_id: clientOrderId, attempts: t.row?.attempts, err: String(err) }, 'stop will be retried');
    }
    return true;
  }

  /**
   * One stop: its `due` step, then each request its machine asks for, whose outcome is the next
   * event. The pass's list is stale by the time an earlier stop's requests return: the machine
   * acts on the row as it is now, and refuses a send prepared from a row that changed since.
   */
  private async drive(clientOrderId: string, first: StopEvent): Promise<void> {
    let t = this.apply(clientOrderId, first);
    const ctx = { partial: false };
    for (let i = 0; t.applied && t.row && i < MAX_STEPS; i++) {
      const request = t.effects.find(isRequest);
      if (!request) return;
      const event = await this.perform(t.row, request, ctx);
      if (!event) return;
      t = this.apply(clientOrderId, event);
      // A fill resized it or an exit asked for its cancel while the send was prepared: look again now.
      if (!t.applied && event.type === 'sendStarted') this.again = true;
    }
  }

  private perform(row: StoredStopRow, effect: Request, ctx: { partial: boolean }): Promise<StopEvent | null> {
    switch (effect.type) {
      case 'lookup':
        return this.requests.lookup(effect.clientOrderId, row.sent_at);
      case 'fetchOrder':
        return this.requests.fetchOrder(effect);
      case 'place':
        return this.preparation.prepare(row, effect.clientOrderId, effect.rearm);
      case 'post':
      case 'patch':
        return this.requests.send(row, effect, ctx);
      case 'delete':
        return this.requests.cancelOrder(effect);
    }
  }

  private apply(clientOrderId: string, event: StopEvent): StopTransition {
    const t = applyStopTransition(this.deps.db, clientOrderId, event);
    if (t.applied && t.row) reportStopTransition(this.deps, t, t.row, event);
    return t;
  }
}
