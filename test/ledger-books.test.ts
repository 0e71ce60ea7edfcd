import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { openDatabase, type Database } from '../src/store/database.js';
import { insertFills } from '../src/store/ledger.js';
import { insertFee } from '../src/store/fees.js';
import { ledgerBooks } from '../src/api/ledger-books.js';
import { fifoBooks } from '../src/performance/fifo.js';
import { listFees } from '../src/store/fees.js';

/**
 * GET /fills and /positions read FIFO books kept per database and carried on with what was recorded
 * since (src/api/ledger-books.ts): whatever order fills and fees arrive in — after the ledger's end
 * (carried on) or in its middle (walked again) — the books equal one walk of the whole ledger.
 */
let db: Database;
beforeEach(async () => {
  db = await openDatabase(':memory:');
});
afterEach(async () => {
  await db.close();
});

const SYMBOLS = ['AAPL', 'BTC/USD'];

function wholeWalk() {
  const rows = db.all(db.kysely.selectFrom('fills').select(['id', 'symbol', 'side', 'qty', 'price', 'filled_at']).orderBy('filled_at').orderBy('id'));
  return fifoBooks(rows, listFees(db));
}

const plain = (b: ReturnType<typeof fifoBooks>) => ({ open: [...b.open].sort(), realized: [...b.realized].sort((x, y) => x[0] - y[0]) });

describe('ledger books, carried on', () => {
  it('equal a walk of the whole ledger after each batch, in order or late', async () => {
    const move = fc.record({
      fee: fc.boolean(),
      symbol: fc.constantFrom(...SYMBOLS),
      buy: fc.boolean(),
      qty: fc.integer({ min: 1, max: 5 }),
      price: fc.integer({ min: 90, max: 110 }),
      // Mostly forward in time (the stream), sometimes back (a late fill or fee).
      dt: fc.integer({ min: -3, max: 6 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(move, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 12 }), async (batches) => {
        // A new ledger each run: the books are kept per database, and a ledger only ever grows.
        await db.close();
        db = await openDatabase(':memory:');
        let t = Date.parse('2026-01-02T15:00:00Z');
        let n = 0;
        for (const batch of batches) {
          for (const m of batch) {
            t += m.dt * 1000;
            const at = new Date(t).toISOString();
            n += 1;
            if (m.fee) insertFee(db, { activityId: `fee-${n}`, symbol: m.symbol, qty: String(m.qty / 10), price: null, at, timed: true } as never);
            else insertFills(db, [{ orderId: `o${n}`, symbol: m.symbol, side: m.buy ? 'buy' : 'sell', cumQty: String(m.qty), qty: String(m.qty), price: String(m.price), execId: null, source: 'stream', at }]);
          }
          expect(plain(ledgerBooks(db))).toEqual(plain(wholeWalk()));
        }
      }),
      { numRuns: 150 },
    );
  });
});
