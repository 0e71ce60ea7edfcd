import pg from 'pg';
import { pino } from 'pino';
import { OrderActors } from '../src/runtime/order-actors.js';
import { restart } from '../src/runtime/restart.js';
import { setNotificationChannels } from '../src/notify/outbox.js';
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
 * One full path on a fresh store: `fills` reports (four per order) through OrderActors, each commit
 * on its own (`batch` 1) or `batch` orders' commits inside one transaction (a reconcile page).
 * Returns fills per second and the notification rows they left.
 */
async function fullPath(store: BenchStore, name: string, fills: number, batch: number): Promise<{ perSec: number; notificationRows: number; deliveryRows: number }> {
  const db = await store.open(name);
  // Notifications configured, as a running service has them: each commit's alert and its delivery row are written with it.
  setNotificationChannels(db, ['webhook']);
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
  const count = (table: 'notifications' | 'notification_deliveries') => Number(db.first(db.kysely.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')))?.n ?? 0);
  const notificationRows = count('notifications');
  const deliveryRows = count('notification_deliveries');
  actors.stop();
  await db.close();
  if (recorded !== fills) throw new Error(`recorded ${recorded} of ${fills}`);
  return { perSec, notificationRows, deliveryRows };
}

/** Both full paths on one store. */
async function benchPaths(store: BenchStore, fills: number) {
  const perFill = await fullPath(store, 'actors', fills, 1);
  const perPage = await fullPath(store, 'actors-page', fills, 25);
  return {
    full_path_per_s: Math.round(perFill.perSec),
    full_path_page_commits_per_s: Math.round(perPage.perSec),
    notification_rows: { per_fill_commits: perFill.notificationRows, page_commits: perPage.notificationRows },
    delivery_rows: { per_fill_commits: perFill.deliveryRows, page_commits: perPage.deliveryRows },
  };
}

/**
 * Ingest throughput through the full path (report → supervisor → order actor → fill plan → one
 * commit of fill + snapshot + history + notification), against the raw driver insert rate on the
 * same store. Both commit per fill: that is the durability each fill gets on the stream path.
 * (Reconciliation commits a page of 100 in one transaction, its fills' alert folded into one
 * notification; that rate is reported too.) PostgreSQL also runs the SQLite paths, for the ratio.
 */
export function benchIngest(fills = 20_000, kind: StoreKind = 'sqlite') {
  return onStore(kind, 'ingest', async (store) => {
    const raw = await store.open('raw');
    const rawPerSec = await rawInsertsPerSec(store, raw, fills).finally(() => raw.close());
    const paths = await benchPaths(store, fills);
    const ratio = paths.full_path_per_s / rawPerSec;
    const sqlite = store.kind === 'postgres' ? await onStore('sqlite', 'ingest-beside', (s) => benchPaths(s, fills)) : null;
    return {
      fills,
      notifications_configured: ['webhook'],
      raw_insert_per_s: Math.round(rawPerSec),
      ...paths,
      ratio: Number(ratio.toFixed(3)),
      target_ratio: 0.25,
      within_target: ratio >= 0.25,
      ...(sqlite && 'full_path_per_s' in sqlite
        ? {
            sqlite_full_path_per_s: sqlite.full_path_per_s,
            sqlite_full_path_page_commits_per_s: sqlite.full_path_page_commits_per_s,
            ratio_to_sqlite: Number((paths.full_path_per_s / sqlite.full_path_per_s).toFixed(3)),
            page_ratio_to_sqlite: Number((paths.full_path_page_commits_per_s / sqlite.full_path_page_commits_per_s).toFixed(3)),
            target_ratio_to_sqlite: 0.5,
            within_target_to_sqlite: paths.full_path_per_s / sqlite.full_path_per_s >= 0.5,
          }
        : {}),
    };
  });
}
