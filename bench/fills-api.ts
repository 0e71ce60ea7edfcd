import { sql } from 'kysely';
import { pino } from 'pino';
import { startApi } from '../src/api/server.js';
import type { Database } from '../src/store/database.js';
import { writeSyncState } from '../src/store/sync-state.js';
import { encodeCursor } from '../src/api/query.js';
import { insertFillRows, onStore, type StoreKind } from './store.js';

const SYMBOLS = ['AAPL', 'MSFT', 'TSLA', 'SPY', 'BTC/USD', 'ETH/USD'];

/** The ledger: `fills` rows a second apart from 2026-01-01, four per order, symbols in turn. */
function seed(db: Database, fills: number): void {
  const start = Date.parse('2026-01-01T00:00:00Z');
  if (db.dialect === 'sqlite') {
    const stmt = db.sqlite.prepare(
      'insert into fills (order_id, cum_qty, qty, price, symbol, side, exec_id, source, filled_at, recorded_at) values (?,?,?,?,?,?,?,?,?,?)',
    );
    db.sqlite.transaction(() => {
      for (let i = 0; i < fills; i++) {
        const at = new Date(start + i * 1000).toISOString().replace('Z', '000000Z');
        stmt.run(`o${Math.floor(i / 4)}`, String((i % 4) + 1), '1', '100.5', SYMBOLS[i % SYMBOLS.length], i % 2 ? 'sell' : 'buy', null, 'stream', at, at);
      }
    })();
    return;
  }
  const rows = Array.from({ length: fills }, (_, i) => {
    const at = new Date(start + i * 1000).toISOString().replace('Z', '000000Z');
    return { order_id: `o${Math.floor(i / 4)}`, cum_qty: String((i % 4) + 1), qty: '1', price: '100.5', symbol: SYMBOLS[i % SYMBOLS.length]!, side: i % 2 ? ('sell' as const) : ('buy' as const), exec_id: null, source: 'stream' as const, filled_at: at, recorded_at: at };
  });
  insertFillRows(db, rows);
  // Planner statistics, as autovacuum keeps them for a ledger that grew over time (just after a
  // bulk load PostgreSQL has none, and ?symbol= queries take ~5x longer).
  db.run({ compile: () => sql`analyze fills`.compile(db.kysely) });
}

/**
 * GET /fills latency over HTTP on loopback with 100,000 fills in the ledger, mixed queries, each
 * after a write (the figures and the target); then after each new fill; then pages of 1,000 fills
 * no answer showed before (`unseen_pages_of_1000`: no fill's row kept from an earlier answer,
 * src/api/stored-fill-texts.ts); then asked again with nothing written (`database_unchanged`:
 * answers the API keeps). The last two are not part of the target.
 */
export function benchFillsApi(fills = 100_000, requests = 1000, kind: StoreKind = 'sqlite') {
  return onStore(kind, 'fills', async (store) => {
    const db = await store.open('fills');
    try {
      seed(db, fills);
      const api = await startApi({
        host: '127.0.0.1',
        port: 0,
        db,
        log: pino({ level: 'silent' }),
        health: { mode: 'paper', streamState: () => 'connected', drift: () => [] },
      });
      const queries = [
        '/fills',
        '/fills?limit=1000',
        '/fills?symbol=AAPL&limit=200',
        `/fills?symbol=${encodeURIComponent('BTC/USD')}&since=2026-01-01T12:00:00Z`,
        '/fills?since=2026-01-02T00:00:00Z&limit=500',
      ];
      const times: number[] = [];
      const labels: string[] = [];
      let cursor: string | null = null;
      for (let i = 0; i < requests; i++) {
        // Every fifth request follows the cursor deeper into the ledger.
        const path = i % 5 === 4 && cursor ? `/fills?limit=100&cursor=${cursor}` : queries[i % queries.length]!;
        // The database changes before each request, as a running service's does between two polls
        // (its cursors, polls, stops): no answer is given again from the API's cache (answer-cache.ts).
        writeSyncState(db, 'event_cursor', String(i));
        const t0 = performance.now();
        const res = await fetch(api.url + path);
        const body = (await res.json()) as { next_cursor: string | null };
        times.push(performance.now() - t0);
        labels.push(path.includes('cursor=') ? '/fills?limit=100&cursor=…' : path);
        if (res.status !== 200) throw new Error(`${path} → ${res.status}`);
        if (path.startsWith('/fills?limit=100&cursor') || path === '/fills') cursor = body.next_cursor;
      }
      // A dashboard's poll after each new fill (the stream's: later than every fill recorded): the books are carried on, not walked again.
      const afterFill: number[] = [];
      const last = Date.parse('2026-01-01T00:00:00Z') + fills * 1000;
      for (let i = 0; i < 100; i++) {
        const at = new Date(last + i * 1000).toISOString().replace('Z', '000000Z');
        insertFillRows(db, [{ order_id: `new${i}`, cum_qty: '1', qty: '1', price: '101', symbol: SYMBOLS[i % SYMBOLS.length]!, side: i % 2 ? 'sell' : 'buy', exec_id: null, source: 'stream', filled_at: at, recorded_at: at }]);
        const t0 = performance.now();
        const res = await fetch(`${api.url}/fills`);
        await res.json();
        afterFill.push(performance.now() - t0);
        if (res.status !== 200) throw new Error(`/fills after a fill → ${res.status}`);
      }
      // Pages of 1,000 fills no answer has shown yet, from the middle of the ledger down (the mixed
      // requests' cursor reaches 20,000 deep): no row of them is kept (stored-fill-texts.ts).
      const unseen: number[] = [];
      for (let i = 0; i < 20; i++) {
        writeSyncState(db, 'event_cursor', `unseen${i}`);
        const t0 = performance.now();
        const res = await fetch(`${api.url}/fills?limit=1000&cursor=${encodeCursor(Math.floor(fills / 2) - i * 1000 + 1)}`);
        const body = (await res.json()) as { fills: unknown[] };
        unseen.push(performance.now() - t0);
        if (res.status !== 200 || body.fills.length !== 1000) throw new Error(`an unseen page → ${res.status}, ${body.fills.length} fills`);
      }
      // The same shapes asked again with nothing written between: the answers the cache keeps.
      const unchanged: number[] = [];
      for (let i = 0; i < 200; i++) {
        const t0 = performance.now();
        const res = await fetch(api.url + queries[i % queries.length]!);
        await res.json();
        unchanged.push(performance.now() - t0);
        if (res.status !== 200) throw new Error(`${queries[i % queries.length]} → ${res.status}`);
      }
      await api.close();
      const pct = (xs: number[], p: number) => {
        const sorted = [...xs].sort((a, b) => a - b);
        return Number(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!.toFixed(2));
      };
      const byQuery = Object.fromEntries([...new Set(labels)].map((q) => [q, pct(times.filter((_, i) => labels[i] === q), 99)]));
      return {
        fills,
        requests,
        p50_ms: pct(times, 50),
        p99_ms: pct(times, 99),
        p99_ms_by_query: byQuery,
        after_new_fill: { requests: afterFill.length, p50_ms: pct(afterFill, 50), p99_ms: pct(afterFill, 99) },
        unseen_pages_of_1000: { requests: unseen.length, p50_ms: pct(unseen, 50), p99_ms: pct(unseen, 99) },
        database_unchanged: { requests: unchanged.length, p50_ms: pct(unchanged, 50), p99_ms: pct(unchanged, 99) },
        target_p99_ms: 10,
        within_target: pct(times, 99) < 10 && pct(afterFill, 99) < 10,
      };
    } finally {
      await db.close();
    }
  });
}
