import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/store/database.js';
import { insertFills } from '../src/store/ledger.js';
import { FEE_DUE_MS, PollRelaxGate } from '../src/sync/poll-relax.js';
import type { FillRecord } from '../src/domain/protection.js';

const dir = mkdtempSync(join(tmpdir(), 'ct-poll-relax-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fill = (orderId: string, symbol: string, side: 'buy' | 'sell', at: string): FillRecord => ({
  orderId, symbol, side, cumQty: '1', qty: '1', price: '10', source: 'stream', execId: null, at,
});

/**
 * Crypto fees come only from the poll's activity reads: the poll is not relaxed while one may be due
 * (a crypto buy recorded within FEE_DUE_MS, or a fee the drift check saw taken and not recorded).
 */
describe('PollRelaxGate', () => {
  it('holds the plain poll for a minute after a crypto buy is recorded, and while a fee is owed', async () => {
    const db = await openDatabase(join(dir, 'gate.db'));
    try {
      let owed = false;
      const gate = new PollRelaxGate({ db, feeOwed: () => owed });
      const t0 = Date.parse('2026-12-01T15:00:00Z');
      expect(gate.feesSettled(t0)).toBe(true);

      // A stock buy and a crypto sell owe no fee.
      insertFills(db, [fill('o1', 'AAPL', 'buy', '2026-12-01T14:59:00Z'), fill('o2', 'BTC/USD', 'sell', '2026-12-01T14:59:30Z')]);
      expect(gate.feesSettled(t0)).toBe(true);

      // A crypto buy: its fee may be posted with it.
      insertFills(db, [fill('o3', 'ETH/USD', 'buy', '2026-12-01T14:59:50Z')]);
      expect(gate.feesSettled(t0)).toBe(false);
      expect(gate.feesSettled(t0 + FEE_DUE_MS - 1)).toBe(false);
      expect(gate.feesSettled(t0 + FEE_DUE_MS)).toBe(true);

      // A crypto buy recorded late (a catch-up, fill time hours ago) counts from when it was seen.
      insertFills(db, [fill('o4', 'BTC/USD', 'buy', '2026-12-01T09:00:00Z')]);
      const t1 = t0 + 10 * FEE_DUE_MS;
      expect(gate.feesSettled(t1)).toBe(false);
      expect(gate.feesSettled(t1 + FEE_DUE_MS)).toBe(true);

      // The drift check saw a fee taken and not recorded.
      owed = true;
      expect(gate.feesSettled(t1 + 2 * FEE_DUE_MS)).toBe(false);
      owed = false;
      expect(gate.feesSettled(t1 + 2 * FEE_DUE_MS)).toBe(true);
    } finally {
      await db.close();
    }
  });
});
