import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dec } from '../../src/sim/decimal.js';
import type { Simulator } from '../../src/sim/index.js';
import { type Json, http, startTestSim, waitFor } from './helpers.js';

let sim: Simulator;

beforeAll(async () => {
  sim = await startTestSim({ seed: 99, outsideTrader: { intervalMs: 5 } });
});
afterAll(async () => {
  await sim.close();
});

describe('outside trader', () => {
  it('places orders and makes fills flow on its own, never shorting crypto', async () => {
    const positionsSeen: Json[][] = [];
    await waitFor(() => sim.engine.fills.length >= 120, 10_000, '120 outside fills');
    for (let i = 0; i < 3; i++) {
      positionsSeen.push((await http<Json[]>(sim, 'GET', '/v2/positions')).body);
    }
    sim.outsideTrader?.stop();
    const orders = sim.engine.orders;
    expect(orders.every((o) => o.origin === 'outside')).toBe(true);
    expect(new Set(orders.map((o) => o.type))).toEqual(new Set(['market', 'limit']));
    expect(sim.engine.fills.some((f) => f.type === 'partial_fill')).toBe(true);
    expect(new Set(sim.engine.fills.map((f) => f.symbol)).size).toBeGreaterThanOrEqual(4);
    // Crypto positions never go short: replay every crypto fill.
    const held = new Map<string, Dec>();
    for (const f of sim.engine.fills) {
      if (!f.symbol.includes('/')) continue;
      const q = (held.get(f.symbol) ?? new Dec(0)).plus(f.side === 'buy' ? f.qty : f.qty.neg());
      expect(q.gte(0)).toBe(true);
      held.set(f.symbol, q);
    }
    for (const list of positionsSeen) {
      for (const p of list) if (p.asset_class === 'crypto') expect(p.side).toBe('long');
    }
    // Prices random-walk.
    const state = (await http<{ prices: Record<string, string> }>(sim, 'GET', '/_sim/state', undefined, { auth: false })).body;
    expect(state.prices.AAPL).not.toBe('190');
  });
});
