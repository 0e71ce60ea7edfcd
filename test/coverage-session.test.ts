import { describe, expect, it } from 'vitest';
import { nextTradingDay, isTradingDay } from '../src/sim/calendar.js';
import { nyDate, nyWallToMs } from '../src/sim/clock.js';
import { eventually, getJson } from './support/bot-process.js';
import { simsAndBots } from './support/sim-bots.js';
import { simPost } from './support/sim-traffic.js';

const env = simsAndBots('coverage-session', 'PKSESSION', 'session-secret');

/** The first New York trading day on or after today whose `hour`:00 is still ahead (epoch ms). */
function nextTradingAt(hour: number, afterMs: number): number {
  let d = nyDate(afterMs * 1000);
  if (!isTradingDay(d)) d = nextTradingDay(d);
  while (nyWallToMs(d, hour, 0) <= afterMs + 60_000) d = nextTradingDay(d);
  return nyWallToMs(d, hour, 0);
}

/**
 * The real bot against the simulator, whose clock is moved: the bot takes the session from Alpaca's
 * clock and calendar, and says whether each position's stops can trigger now. Outside regular hours
 * an equity covered by its trailing stop shows `stops_acting: false` (outside_regular_hours) while
 * /health stays ok; crypto trades on (`continuous`); back in regular hours the stops act again.
 */
describe('coverage says whether stops act in the session now', () => {
  it('after-hours: the AAPL trailing stop is idle, /health ok; crypto continuous; the next regular session: acting again', async () => {
    const s = await env.sim(73);
    const b = env.bot(s, 'coverage-session.db', { CT_MARKET_CLOCK_S: '1' });
    await b.waitFor((l) => l.event === 'reconcile_done');
    const url = await b.apiUrl();

    await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '5', type: 'market' });
    await simPost(s, '/_sim/trade', { symbol: 'BTC/USD', side: 'buy', qty: '0.01', type: 'market' });
    const row = (body: any, symbol: string) => body.positions.find((p: any) => p.symbol === symbol);
    const regular = await eventually(async () => {
      const p = await getJson(`${url}/positions`);
      const aapl = row(p.body, 'AAPL');
      const btc = row(p.body, 'BTC/USD');
      // Settled: the crypto fee (CFEE) recorded, so the stop covers the fee-net coin in full.
      const h = await getJson(`${url}/health`);
      const settled = h.body.status === 'ok' && h.body.protection.unprotected.length === 0;
      return settled && aapl?.protected_qty === '5' && btc && btc.protected_qty === btc.qty && aapl.session === 'regular' ? p.body : null;
    }, 30_000, 200);
    // The simulator's default clock: regular whatever the wall time.
    expect(row(regular, 'AAPL')).toMatchObject({ session: 'regular', stops_acting: true, stops_acting_reason: null });
    expect(row(regular, 'BTC/USD')).toMatchObject({ session: 'continuous', stops_acting: true, stops_acting_reason: null });

    const after = nextTradingAt(17, Date.now());
    const moved = await simPost(s, '/_sim/clock', { now: new Date(after).toISOString() });
    expect(moved).toMatchObject({ session: 'after', is_open: false });
    const idle = await eventually(async () => {
      const p = await getJson(`${url}/positions`);
      return row(p.body, 'AAPL')?.session === 'after' ? p.body : null;
    }, 10_000, 200);
    expect(row(idle, 'AAPL')).toMatchObject({ protected_qty: '5', session: 'after', stops_acting: false, stops_acting_reason: 'outside_regular_hours' });
    expect(row(idle, 'AAPL').stops).toEqual([expect.objectContaining({ type: 'trailing_stop', qty: '5' })]);
    expect(row(idle, 'BTC/USD')).toMatchObject({ session: 'continuous', stops_acting: true });
    // A state, not an alarm: /health stays ok, its protection says which session it is.
    const health = await getJson(`${url}/health`);
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', reasons: [], protection: { unprotected: [], overprotected: [], session: 'after' } });

    const open = nextTradingAt(10, after);
    expect(await simPost(s, '/_sim/clock', { now: new Date(open).toISOString() })).toMatchObject({ session: 'regular', is_open: true });
    const acting = await eventually(async () => {
      const p = await getJson(`${url}/positions`);
      return row(p.body, 'AAPL')?.session === 'regular' ? p.body : null;
    }, 10_000, 200);
    expect(row(acting, 'AAPL')).toMatchObject({ protected_qty: '5', stops_acting: true, stops_acting_reason: null });
    expect((await getJson(`${url}/health`)).body).toMatchObject({ status: 'ok', protection: { session: 'regular' } });
    // The clock was read about once a second (CT_MARKET_CLOCK_S=1); the calendar (three weeks) once or twice.
    expect(s.stats.get('GET /v2/clock')).toBeGreaterThan(2);
    expect(s.stats.get('GET /v2/calendar')).toBeGreaterThanOrEqual(1);
    expect(s.stats.get('GET /v2/calendar')).toBeLessThanOrEqual(2);

    b.proc.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  }, 60_000);
});
