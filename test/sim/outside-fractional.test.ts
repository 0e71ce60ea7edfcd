import { afterEach, describe, expect, it } from 'vitest';
import { Dec } from '../../src/sim/decimal.js';
import type { Simulator, TradeEvent } from '../../src/sim/index.js';
import { type Json, http, startTestSim } from './helpers.js';

// The outside trader's fractional entries (`fractionalRate`) and the `done_for_day_rate` fault. Ticks are
// driven by hand (the timer's interval is far away), so every run is the seed's.
const sims: Simulator[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

/** `careless`: the trader the fault mix goes with (the careful one cancels a limit left unfilled, done_for_day or not). */
async function manualSim(seed: number, fractionalRate?: number, careless = false): Promise<Simulator> {
  const sim = await startTestSim({ seed, outsideTrader: { intervalMs: 3_600_000, careless, ...(fractionalRate !== undefined ? { fractionalRate } : {}) } });
  sims.push(sim);
  return sim;
}

const control = (sim: Simulator, method: string, path: string, body?: unknown) => http<Json>(sim, method, path, body, { auth: false });
const equity = (sim: Simulator) => sim.engine.orders.filter((o) => o.asset.assetClass === 'us_equity');

describe('outside trader: fractional entries', () => {
  it('off by default: whole-share equity orders only', async () => {
    const sim = await manualSim(5);
    for (let i = 0; i < 300; i++) sim.outsideTrader!.tick();
    expect(equity(sim).length).toBeGreaterThan(50);
    expect(equity(sim).every((o) => o.qty !== null && o.qty.isInteger())).toBe(true);
  });

  it('fractionalRate: fractional buys and closing sells, always day, at most 9 decimals, never a fractional short', async () => {
    const sim = await manualSim(5, 0.25);
    const positions: Dec[] = [];
    for (let i = 0; i < 600; i++) {
      sim.outsideTrader!.tick();
      for (const sym of ['AAPL', 'MSFT', 'TSLA', 'SPY']) positions.push(sim.engine.portfolio.qty(sym));
    }
    const fractional = equity(sim).filter((o) => o.qty !== null && !o.qty.isInteger());
    const buys = fractional.filter((o) => o.side === 'buy');
    expect(buys.length).toBeGreaterThan(20);
    expect(fractional.some((o) => o.side === 'sell')).toBe(true);
    expect(fractional.every((o) => o.timeInForce === 'day' && (o.type === 'market' || o.type === 'limit'))).toBe(true);
    expect(fractional.every((o) => o.qty!.decimalPlaces() <= 9 && o.qty!.gt(0))).toBe(true);
    expect(fractional.some((o) => o.type === 'limit')).toBe(true);
    // Fractional fills happen, partial ones included (half of a fractional qty).
    const fills = sim.engine.fills.filter((f) => !f.symbol.includes('/') && !f.qty.isInteger());
    expect(fills.length).toBeGreaterThan(10);
    expect(fills.some((f) => f.type === 'partial_fill')).toBe(true);
    // A short position is only ever whole shares.
    expect(positions.every((q) => !q.lt(0) || q.isInteger())).toBe(true);
    // Whole-share orders that are not fractional still rest gtc.
    expect(equity(sim).some((o) => o.type === 'limit' && o.timeInForce === 'gtc')).toBe(true);
  });

  it('is deterministic from the seed', async () => {
    const a = await manualSim(11, 0.25);
    const b = await manualSim(11, 0.25);
    for (let i = 0; i < 200; i++) {
      a.outsideTrader!.tick();
      b.outsideTrader!.tick();
    }
    const sig = (s: Simulator) => s.engine.orders.map((o) => `${o.asset.symbol} ${o.side} ${o.type} ${o.timeInForce} ${o.qty?.toFixed()}`);
    expect(sig(a)).toEqual(sig(b));
  });
});

describe('done_for_day_rate fault', () => {
  it('marks open outside equity orders done_for_day (stream event), no fill until the session reopens; DELETE clears it', async () => {
    const sim = await manualSim(3, 0.25, true);
    const events: TradeEvent[] = [];
    sim.engine.onEvent((e) => events.push(e));
    expect((await control(sim, 'POST', '/_sim/faults', { done_for_day_rate: 2 })).status).toBe(422);
    expect((await control(sim, 'POST', '/_sim/faults', { done_for_day_rate: 1 })).body).toMatchObject({ done_for_day_rate: 1 });
    for (let i = 0; i < 100; i++) sim.outsideTrader!.tick();
    const done = events.filter((e) => e.event === 'done_for_day');
    expect(done.length).toBeGreaterThan(0);
    for (const e of done) {
      const o = sim.engine.getOrder(e.orderId)!;
      expect(o.origin).toBe('outside');
      expect(o.asset.assetClass).toBe('us_equity');
    }
    // Still done_for_day, unfilled since the event: the trader's forced fills skip them.
    const stillDone = sim.engine.openOrders().filter((o) => o.status === 'done_for_day');
    expect(stillDone.length).toBeGreaterThan(0);
    const filledAfterDone = events.filter(
      (e) => (e.event === 'fill' || e.event === 'partial_fill') && done.some((d) => d.orderId === e.orderId && events.indexOf(d) < events.indexOf(e)),
    );
    expect(filledAfterDone).toEqual([]);
    expect((await control(sim, 'DELETE', '/_sim/faults')).body).toMatchObject({ done_for_day_rate: 0 });
    // Close and reopen: day ones expire, the others may fill again.
    await control(sim, 'POST', '/_sim/clock', { is_open: false });
    await control(sim, 'POST', '/_sim/clock', { is_open: true });
    for (const o of stillDone) {
      if (o.timeInForce === 'day') expect(o.status).toBe('expired');
      else expect(sim.engine.session.isDoneForToday(o)).toBe(false);
    }
  });

  it('marks nothing while the session is closed, and no equity order is forced into a fill then', async () => {
    const sim = await manualSim(4, undefined, true);
    await control(sim, 'POST', '/_sim/faults', { done_for_day_rate: 1 });
    await control(sim, 'POST', '/_sim/clock', { is_open: false });
    const events: TradeEvent[] = [];
    sim.engine.onEvent((e) => events.push(e));
    for (let i = 0; i < 50; i++) sim.outsideTrader!.tick();
    expect(events.some((e) => e.event === 'done_for_day')).toBe(false);
    // Nothing forced into a fill for equities while closed: queued orders wait for the open.
    expect(events.some((e) => (e.event === 'fill' || e.event === 'partial_fill') && !String((e.data.order as Json).symbol).includes('/'))).toBe(false);
  });
});
