import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createLogger } from '../src/log.js';
import { openDatabase, type Database } from '../src/store/database.js';
import { openPgDatabase } from '../src/store/database-pg.js';
import { onStore, PG_SCHEMA, type StoreKind } from './store.js';
import { OrderActors } from '../src/runtime/order-actors.js';
import { restart } from '../src/runtime/restart.js';
import { stopActorsOf } from '../src/protection/stop-actors.js';
import type { OrderReport } from '../src/domain/reports.js';

/**
 * Rehydration: N live order actors (partially filled, with fills and stops) are persisted by
 * one process; a fresh OrderActors on the same file knows them all (`restored`: what `liveStates`
 * reports), with one position actor per symbol (holding what each of the 10,000 stops covers); order
 * and stop actors come back from their rows when an event first reaches them. Measures the whole restart as src/account.ts runs it, steps 1 to 3
 * (the stops resumed and their fraction stops brought in line; the worker's passes are not run:
 * there is no broker), with the service's logger at info (to /dev/null), and the RSS it adds.
 */
export function benchRehydrate(actorsN = 10_000, kind: StoreKind = 'sqlite', keepDir?: string) {
  if (kind === 'sqlite') {
    const dir = keepDir ?? mkdtempSync(join(tmpdir(), 'ct-bench-rehydrate-'));
    const path = join(dir, 'bench.db');
    return rehydrate(actorsN, () => openDatabase(path)).finally(() => {
      if (!keepDir) rmSync(dir, { recursive: true, force: true });
    });
  }
  // PostgreSQL: the first process's database, opened again as a restart opens it.
  return onStore(kind, 'rehydrate', async (store) => {
    let url: string | null = null;
    return rehydrate(actorsN, async () => {
      if (url === null) {
        const db = await store.open('rehydrate');
        url = store.urlOf(db);
        return db;
      }
      return openPgDatabase({ url, schema: PG_SCHEMA, applicationName: 'bench-rehydrate-2' });
    });
  });
}

/** `open` gives the same database each call: the first process's, then the restarted one's. */
async function rehydrate(actorsN: number, open: () => Promise<Database>) {
  const log = pino({ level: 'silent' });
  const db = await open();
  const first = new OrderActors({ db, log, adopt: 'protect', fetchOrder: async () => null, onFatal: (e) => { throw e; } });
  await restart({ actors: first });
  db.transaction(() => {
    for (let i = 0; i < actorsN; i++) {
      const order = report(i);
      first.handleExecution(
        { orderId: order.orderId, symbol: order.symbol, side: 'buy', source: 'stream', cumQty: '4', qty: '4', price: '100.25', avgPrice: '100.25', execId: null, executionId: null, orderStatus: 'partially_filled', at: '2026-01-02T15:00:00Z' },
        order,
      );
    }
  });
  // The first process does what it does after a batch (the exit walk) before it stops, as a running
  // service would within a tick: the restart measured is one with nothing left over to walk.
  await new Promise((r) => setImmediate(r));
  first.stop();
  await db.close();

  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const db2 = await open();
  // What npm start logs, formatted as it would be; written nowhere.
  const infoLog = createLogger('info', pino.destination({ dest: '/dev/null', sync: true }));
  const second = new OrderActors({ db: db2, log: infoLog, adopt: 'protect', fetchOrder: async () => null, onFatal: (e) => { throw e; } });
  let workerStarted = false;
  const worker = { start: () => void (workerStarted = true) };
  const t0 = performance.now();
  await restart({ log: infoLog, actors: second, stops: { db: db2, worker, passMs: 1000 } });
  const ms = performance.now() - t0;
  if (!workerStarted) throw new Error('restart did not start the stop worker');
  const live = second.liveStates().length;
  const positionActors = second.ledgerPositions().size;
  const stopActors = stopActorsOf(db2).size;
  const rssAfter = process.memoryUsage().rss;
  second.stop();
  await db2.close();
  return { actors: actorsN, restored: live, position_actors: positionActors, stop_actors_at_start: stopActors, ms: Math.round(ms), rss_mb: Math.round(rssAfter / 2 ** 20), rss_added_mb: Math.round((rssAfter - rssBefore) / 2 ** 20), target_ms: 300, within_target: ms < 300 };
}

function report(i: number): OrderReport {
  const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
  return {
    orderId: id, clientOrderId: `manual-${i}`, symbol: ['AAPL', 'MSFT', 'TSLA', 'SPY'][i % 4]!, assetClass: 'us_equity', side: 'buy', type: 'limit',
    timeInForce: 'gtc', status: 'partially_filled', qty: '10', notional: null, filledQty: '4', filledAvgPrice: '100.25', limitPrice: '101',
    stopPrice: null, trailPercent: null, trailPrice: null, replacedBy: null, replaces: null, submittedAt: '2026-01-02T15:00:00Z', updatedAt: '2026-01-02T15:00:00Z', filledAt: null, expiresAt: null,
  };
}
