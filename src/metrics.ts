import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { sql } from 'kysely';
import type { Database } from './store/database.js';
import { countOrders } from './store/order-counts.js';
import { pendingCounts } from './store/notifications.js';
import type { StreamState } from './domain/stream.js';
import { LIVE_STOP_STATUSES } from './domain/protection.js';

/**
 * Prometheus metrics (prom-client). Most are read from the store when scraped, so nothing else
 * has to carry metric objects around; reconciliations are timed as they finish.
 */
export interface ServiceMetrics {
  registry: Registry;
  observeReconcile(result: { duration_ms: number; requests: number; fills_new: number; trigger: string }): void;
}

const STREAM_VALUE: Record<StreamState, number> = { down: 0, reconnecting: 1, connected: 2 };

export interface MetricsDeps {
  db: Database;
  streamState: () => StreamState;
  driftCount: () => number;
  /** Positions not fully covered by live stops now (the coverage watch). */
  unprotected?: () => ReadonlyArray<{ symbol: string; uncovered: string }>;
}

export function createMetrics(deps: MetricsDeps): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ app: 'crazy-trade' });
  collectDefaultMetrics({ register: registry });
  const { db } = deps;

  new Gauge({
    name: 'ct_fills',
    help: 'Fills in the ledger, by source',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      this.reset();
      const rows = db.all(db.kysely.selectFrom('fills').select(['source', sql<number>`count(*)`.as('n')]).groupBy('source'));
      for (const r of rows) this.set({ source: r.source }, Number(r.n));
    },
  });
  new Gauge({
    name: 'ct_stops',
    help: 'Protective stops, by status',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      this.reset();
      const rows = db.all(db.kysely.selectFrom('stops').select(['status', sql<number>`count(*)`.as('n')]).groupBy('status'));
      for (const r of rows) this.set({ status: r.status }, Number(r.n));
    },
  });
  new Gauge({
    name: 'ct_order_actors',
    help: 'Order actors: active (live) and terminal',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      const c = countOrders(db);
      this.set({ kind: 'active' }, c.active);
      this.set({ kind: 'terminal' }, c.terminal);
    },
  });
  new Gauge({
    name: 'ct_stream_state',
    help: 'trade_updates stream: 2 connected, 1 reconnecting, 0 down',
    registers: [registry],
    collect() {
      this.set(STREAM_VALUE[deps.streamState()]);
    },
  });
  new Gauge({
    name: 'ct_ledger_drift',
    help: 'Confirmed disagreements between the ledger and the broker',
    registers: [registry],
    collect() {
      this.set(deps.driftCount());
    },
  });
  protectionGauges(registry, deps);
  new Gauge({
    name: 'ct_notifications_pending',
    help: 'Notifications not yet delivered, by channel',
    labelNames: ['channel'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [channel, n] of pendingCounts(db)) this.set({ channel }, n);
    },
  });
  const duration = new Histogram({
    name: 'ct_reconcile_duration_seconds',
    help: 'Duration of reconciliation runs',
    labelNames: ['trigger'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const requests = new Counter({ name: 'ct_reconcile_requests_total', help: 'Broker requests made by reconciliations', registers: [registry] });
  const fills = new Counter({ name: 'ct_reconcile_fills_total', help: 'New fills found by reconciliations', registers: [registry] });

  return {
    registry,
    observeReconcile(r) {
      duration.observe({ trigger: r.trigger }, r.duration_ms / 1000);
      requests.inc(r.requests);
      fills.inc(r.fills_new);
    },
  };
}

function protectionGauges(registry: Registry, deps: MetricsDeps): void {
  const { db } = deps;
  new Gauge({
    name: 'ct_unprotected_qty',
    help: 'Position quantity not covered by a live protective stop, by symbol (covered symbols are absent)',
    labelNames: ['symbol'],
    registers: [registry],
    collect() {
      this.reset();
      for (const u of deps.unprotected?.() ?? []) this.set({ symbol: u.symbol }, Number(u.uncovered));
    },
  });
  new Gauge({
    name: 'ct_protection_backlog',
    help: 'Stops due for the worker now: not finished, not backing off',
    registers: [registry],
    collect() {
      const row = db.first(
        db.kysely
          .selectFrom('stops')
          .select(sql<number>`count(*)`.as('n'))
          .where('status', 'in', [...LIVE_STOP_STATUSES])
          .where('next_attempt_at', '<=', Date.now()),
      );
      this.set(Number(row?.n ?? 0));
    },
  });
}
