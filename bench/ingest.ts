import pg from 'pg';
import { pino } from 'pino';
import { OrderActors } from '../src/runtime/order-actors.js';
import { restart } from '../src/runtime/restart.js';
import type { Database } from '../src/store/database.js';
import { onStore, PG_SCHEMA, type BenchStore, type StoreKind } from './store.js';

const RAW_INSERT =
  'insert into fills (order_id, cum_qty, qty, price, symbol, side, exec_id, source, filled_at, recorded_at) values (?,?,?,?,?,?,?,?,?,?)';

/** Inserts per second straight through the driver, one commit per row: better-sqlite3's prepared statement, or a pg prepared statement (awaited one by one). */
async function rawInsertsPerSec(store: BenchStore, raw: Database, fills: number): Promise<number> {
  if (store.kind === 'sqlite') {
    const stmt = raw.sqlite.prepare(RAW_INSERT);
    const t0 = performance.now();
    for (let i = 0; i < fills; i++) stmt.run(`o${i}`, '1', '1', '100.5', 'AAPL', 'buy', null, 'stream', '2026-01-02T15:00:00.000000000Z', '2026-01-02T15:00:00.000Z');
    return fills / ((performance.now() - t0) / 1000);
  }
  const client = new pg.Client({ connectionString: store.urlOf(raw), options: `-c search_path=${PG_SCHEMA}` });
  await client.connect();
  try {
    let n = 0;
    const text = RAW_INSERT.replace(/\?/g, () => `$${++n}`);
    const t0 = performance.now();
    for (let i = 0; i < fills; i++) await client.query({ name: 'raw_insert', text, values: [`o${i}`, '1', '1', '100.5', 'AAPL', 'buy', null, 'stream', '2026-01-02T15:00:00.000000000Z', '2026-01-02T15:00:00.000Z'] });
    return fills / ((performance.now() - t0) / 1000);
  } finally {
    await client.end();
  }
}

/**
 * Ingest throughput through the full path (report → supervisor → order actor → fill plan → one
 * commit of fill + snapshot + history), against the raw driver insert rate on the same store.
 * Both commit per fill: that is the durability each fill gets on the stream path.
 * (Reconciliation commits a page of 100 in one transaction; that rate is reported too.)
 */
export function benchIngest(fills = 20_000, kind: StoreKind = 'sqlite') {
  return onStore(kind, 'ingest', async (store) => {
    const raw = await store.open('raw');
    const rawPerSec = await rawInsertsPerSec(store, raw, fills).finally(() => raw.close());

    const path = async (name: string, batch: number) => {
      const db = await store.open(name);
      const actors = new OrderActors({ db, log: pino({ level: 'silent' }), adopt: 'record', fetchOrder: async () => null, onFatal: (e) => { throw e; } });
      await restart({ actors: actors });
      const perOrder = 4;
      const start = performance.now();
      for (let b = 0; b < fills / perOrder / batch; b++) {
        const work = () => {
          for (let j = 0; j < batch; j++) {
            const i = b * batch + j;
            const orderId = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
            for (let k = 1; k <= perOrder; k++) {
              actors.handleExecution(
                { orderId, symbol: 'AAPL', side: 'buy', source: 'stream', cumQty: String(k * 2.5), qty: '2.5', price: '100.5', avgPrice: '100.5', execId: `e${i}-${k}`, executionId: `e${i}-${k}`, orderStatus: k === perOrder ? 'filled' : 'partially_filled', at: '2026-01-02T15:00:00Z' },
                null,
              );
            }
          }
        };
        if (batch === 1) work();
        else db.transaction(work);
      }
      const perSec = fills / ((performance.now() - start) / 1000);
      const recorded = actors.fillsRecorded;
      actors.stop();
      await db.close();
      if (recorded !== fills) throw new Error(`recorded ${recorded} of ${fills}`);
      return perSec;
    };
    const perFill = await path('actors', 1);
    const perPage = await path('actors-page', 25);
    return {
      fills,
      raw_insert_per_s: Math.round(rawPerSec),
      full_path_per_s: Math.round(perFill),
      ratio: Number((perFill / rawPerSec).toFixed(3)),
      target_ratio: 0.1,
      within_target: perFill / rawPerSec >= 0.1,
      full_path_page_commits_per_s: Math.round(perPage),
    };
  });
}
