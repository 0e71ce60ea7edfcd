import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dec } from '../../src/sim/decimal.js';
import { DEMO_FAULT_MIX } from '../../src/sim/faults.js';
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

describe('the demo\'s simulator: careful and fault-free by default, the full fault mix on demand', () => {
  const control = (s: Simulator, body: Json) => http<Json>(s, 'POST', '/_sim/outside-trader', body, { auth: false });

  it('outsideTrader: true (as the demo starts it) is careful, with no fault; its pace and care can be changed while it runs', async () => {
    const s = await startTestSim({ seed: 7, outsideTrader: true });
    try {
      expect(s.outsideTrader).toMatchObject({ careful: true, intervalMs: 1500, running: true });
      const faults = s.faults.config as unknown as Record<string, unknown>;
      expect(Object.entries(faults).filter(([, v]) => v !== 0 && v !== false && !(Array.isArray(v) && v.length === 0))).toEqual([]);
      expect((await control(s, { running: true, interval_ms: 250 })).body).toEqual({ running: true, interval_ms: 250, careful: true });
      expect(s.outsideTrader).toMatchObject({ intervalMs: 250, running: true });
      expect((await control(s, { running: false, careless: true })).body).toEqual({ running: false, interval_ms: 250, careful: false });
      expect(s.outsideTrader!.running).toBe(false);
      for (const bad of [{ running: true, interval_ms: 5 }, { running: true, interval_ms: 1.5 }, { running: true, careless: 'yes' }]) {
        expect((await control(s, bad)).status).toBe(422);
      }
    } finally {
      await s.close();
    }
  });

  it('demoFaults (CT_DEMO_FAULTS=1): the fault mix from the start, and a careless trader', async () => {
    const s = await startTestSim({ seed: 8, outsideTrader: true, demoFaults: true });
    try {
      expect(s.faults.config).toMatchObject(DEMO_FAULT_MIX);
      expect(s.outsideTrader!.careful).toBe(false);
    } finally {
      await s.close();
    }
    // Asked for explicitly, the trader's care wins over the mix's default.
    const t = await startTestSim({ seed: 9, outsideTrader: { careless: false }, demoFaults: true });
    expect(t.outsideTrader!.careful).toBe(true);
    await t.close();
  });
});
