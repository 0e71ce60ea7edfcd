import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORMAT_FUNCTIONS, FORMAT_SCRIPT } from '../src/api/dashboard-format.js';
import { CHART_SCRIPT } from '../src/api/dashboard-chart.js';

/** The page's own formatting text, evaluated as the browser would (no DOM needed). */
type Fn = (...args: any[]) => any;
const load = (): Record<string, Fn> => runInNewContext(`${FORMAT_SCRIPT}\n${CHART_SCRIPT}\n({ ${[...FORMAT_FUNCTIONS, 'valueTicks', 'timeTicks', 'niceStep'].map((n) => `${n}: ${n}`).join(', ')} })`);

// Local times are the reader's: pinned to a zone with an offset, so "local" differs from UTC.
const zone = process.env.TZ;
let f: Record<string, Fn>;
beforeAll(() => {
  process.env.TZ = 'America/New_York';
  f = load();
});
afterAll(() => {
  if (zone === undefined) delete process.env.TZ;
  else process.env.TZ = zone;
});

describe('dashboard number formats', () => {
  it('rounds money to 2 places as text, half away from zero, with separators and the sign before the $', () => {
    expect(f.money!('-672.317783275')).toBe('-$672.32');
    expect(f.money!('1234567.005')).toBe('$1,234,567.01');
    expect(f.money!('0.004')).toBe('$0.00');
    expect(f.money!('-0.004')).toBe('$0.00');
    expect(f.money!('999.995')).toBe('$1,000.00');
    expect(f.money!('12')).toBe('$12.00');
    expect(f.money!(null)).toBe('\u2014');
    // A float would give 0.30000000000000004; digits are rounded as digits.
    expect(f.money!('0.30000000000000004')).toBe('$0.30');
    expect(f.pnl!('12.3')).toBe('+$12.30');
    expect(f.pnl!('-4')).toBe('-$4.00');
    expect(f.pnl!('0.001')).toBe('$0.00');
  });

  it('gives percentages and ratios 2 places', () => {
    expect(f.percent!('2.345', false)).toBe('2.35%');
    expect(f.percent!('2.5', true)).toBe('+2.50%');
    expect(f.percent!('-0.5', true)).toBe('-0.50%');
    expect(f.ratio!('1.6666666667')).toBe('1.67');
    expect(f.ratioPercent!('0.6')).toBe('60.00%');
    expect(f.ratioPercent!('0.3333333333')).toBe('33.33%');
    expect(f.ratioPercent!('1')).toBe('100.00%');
  });

  it("puts prices and quantities on the asset's increment, else on sensible rules", () => {
    // Increments from the asset (BTC/USD: price 1, qty 0.000000001; DOGE/USD: price 0.00001, qty 1).
    expect(f.price!('65012.5', '1', true)).toBe('65,013');
    expect(f.price!('0.152345', '0.00001', true)).toBe('0.15235');
    expect(f.qty!('0.500000000', '0.000000001')).toBe('0.5');
    expect(f.qty!('1500', '1')).toBe('1,500');
    // Without one: equities 2 places from $1 (4 below), coins 4 significant digits below $1.
    expect(f.price!('182.123456', null, false)).toBe('182.12');
    expect(f.price!('0.41235', null, false)).toBe('0.4124');
    expect(f.price!('0.0000234567', null, true)).toBe('0.00002346');
    expect(f.price!('3200.5', null, true)).toBe('3,200.50');
    // A symbol /positions no longer lists (its class unknown here): 4 significant digits below $1.
    expect(f.price!('0.0000234567', null, undefined)).toBe('0.00002346');
    expect(f.price!('0.41235', null, undefined)).toBe('0.4124');
    expect(f.qty!('12.500', null)).toBe('12.5');
    expect(f.qty!('-4', null)).toBe('-4');
    expect(f.qty!('0.123456789', null)).toBe('0.123456789');
    expect(f.placesOf!('0.010')).toBe(2);
    expect(f.placesOf!('0')).toBeNull();
  });
});

describe('dashboard times', () => {
  it('shows local time of day with the UTC instant (milliseconds, never nanoseconds) on hover', () => {
    const now = Date.parse('2026-01-02T20:00:00Z');
    const w = f.when!('2026-01-02T15:00:01.123456789Z', now);
    expect(w).toEqual({ text: '10:00:01', title: '2026-01-02 15:00:01.123 UTC' });
    expect(f.when!('2026-01-01T15:00:01Z', now)).toEqual({ text: 'Jan 1 10:00:01', title: '2026-01-01 15:00:01 UTC' });
    expect(f.when!('2025-06-01T12:00:00.5Z', now).text).toBe('2025-06-01 08:00:00');
    expect(f.when!(null, now).text).toBe('\u2014');
    expect(f.ago!(12_400)).toBe('12 s');
    expect(f.ago!(5 * 60_000)).toBe('5 min');
  });

  it('ticks the time axis on round local times and the value axis on round amounts', () => {
    const t0 = Date.parse('2026-01-02T14:07:00Z');
    const t1 = Date.parse('2026-01-02T19:52:00Z');
    const { step, ticks } = f.timeTicks!(t0, t1, 6);
    expect(step).toBe(3_600_000);
    // 10:00 to 14:00 New York time, on the hour.
    expect(ticks.map((t: number) => new Date(t).toISOString().slice(11, 16))).toEqual(['15:00', '16:00', '17:00', '18:00', '19:00']);
    const v = f.valueTicks!(-672.317783275, 120, 4);
    expect(v.ticks).toEqual([-800, -600, -400, -200, 0, 200]);
    expect(f.valueTicks!(0, 0.004, 4).ticks.every((t: number) => Number.isInteger(Math.round(t * 100)))).toBe(true);
  });
});
