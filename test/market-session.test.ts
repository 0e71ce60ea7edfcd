/**
 * The bot's session from Alpaca's clock and calendar: the pure rule (src/domain/market-session.ts)
 * and the reader (src/broker/market-clock.ts) against the simulator, whose clock is moved.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBrokerClient } from '../src/broker/client.js';
import { MarketClock } from '../src/broker/market-clock.js';
import { type CalendarWindow, marketSession, positionSession, stopsActing } from '../src/domain/market-session.js';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { calendarRange } from '../src/sim/calendar.js';
import { captureLogger } from './support/log-capture.js';

/** The window as the bot keeps it, from the simulator's own calendar (the shape of calendar.json). */
function windowOf(from: string, to: string): CalendarWindow {
  return { from, to, days: calendarRange(from, to).map((d) => ({ date: d.date!, open: d.open!, close: d.close!, sessionOpen: d.session_open!, sessionClose: d.session_close! })) };
}
const at = (iso: string) => Date.parse(iso);

describe('marketSession (pure)', () => {
  const july = windowOf('2025-06-25', '2025-07-15');

  it('splits a trading day by the calendar: overnight, pre, regular, after; closed on the holiday and the evening before it', () => {
    const s = (iso: string) => marketSession(at(iso), july);
    expect([s('2025-07-02T03:00:00-04:00'), s('2025-07-02T08:00:00-04:00'), s('2025-07-02T12:00:00-04:00'), s('2025-07-02T17:00:00-04:00'), s('2025-07-02T21:00:00-04:00')]).toEqual([
      'overnight', 'pre', 'regular', 'after', 'overnight',
    ]);
    // 2025-07-03 closes at 13:00 (after-hours to 17:00); 07-04 is a holiday: no overnight before it.
    expect([s('2025-07-03T13:30:00-04:00'), s('2025-07-03T18:00:00-04:00'), s('2025-07-03T22:00:00-04:00'), s('2025-07-04T12:00:00-04:00')]).toEqual(['after', 'closed', 'closed', 'closed']);
    expect([s('2025-07-05T12:00:00-04:00'), s('2025-07-06T19:00:00-04:00'), s('2025-07-06T20:30:00-04:00')]).toEqual(['closed', 'closed', 'overnight']);
  });

  it('the clock decides the regular session while its answer holds; unknown outside the calendar', () => {
    const noon = at('2025-07-02T12:00:00-04:00');
    const sat = at('2025-07-05T12:00:00-04:00');
    expect(marketSession(sat, july, { isOpen: true, nextOpen: sat + 86_400_000, nextClose: sat + 3_600_000 })).toBe('regular');
    expect(marketSession(sat + 7_200_000, july, { isOpen: true, nextOpen: sat + 86_400_000, nextClose: sat + 3_600_000 })).toBe('closed');
    expect(marketSession(noon, july, { isOpen: false, nextOpen: noon + 3_600_000, nextClose: noon + 7_200_000 })).toBe('closed');
    expect(marketSession(noon, july, { isOpen: false, nextOpen: noon - 1, nextClose: noon + 7_200_000 })).toBe('regular');
    expect(marketSession(at('2025-07-15T12:00:00-04:00'), july)).toBeNull(); // tomorrow is past the window
  });

  it('crypto is continuous; equity stops act in regular hours only', () => {
    expect(positionSession('BTC/USD', 'closed')).toBe('continuous');
    expect(positionSession('AAPL', 'after')).toBe('after');
    expect(stopsActing('continuous')).toEqual({ stops_acting: true, stops_acting_reason: null });
    expect(stopsActing('regular')).toEqual({ stops_acting: true, stops_acting_reason: null });
    for (const s of ['pre', 'after', 'overnight', 'closed'] as const) expect(stopsActing(s)).toEqual({ stops_acting: false, stops_acting_reason: 'outside_regular_hours' });
    expect(stopsActing(null)).toEqual({ stops_acting: null, stops_acting_reason: null });
  });
});

describe('MarketClock (GET /v2/clock and /v2/calendar through the SDK client)', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 91 });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('takes the broker’s time, not ours; reads the calendar once for three weeks; the clock again at a boundary, else every refreshMs', async () => {
    const cap = captureLogger();
    const client = createBrokerClient({ keyId: 'k', secretKey: 's', paper: true, apiUrl: sim.url }, { rateLimit: false });
    const mc = new MarketClock({ client, log: cap.log, refreshMs: 60_000 });
    expect(mc.session()).toBeNull();
    await fetch(`${sim.url}/_sim/clock`, { method: 'POST', body: JSON.stringify({ now: '2025-07-02T15:59:57.000-04:00' }) });
    sim.stats.reset();
    mc.start();
    const deadline = Date.now() + 3000;
    while (mc.session() === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(mc.session()).toBe('regular');
    expect(Math.abs(mc.brokerNow() - at('2025-07-02T15:59:57.000-04:00'))).toBeLessThan(2000);
    // The close is 3 s away: the clock is read again just after it, not a minute later.
    const until = Date.now() + 6000;
    while (mc.session() !== 'after' && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(mc.session()).toBe('after');
    await new Promise((r) => setTimeout(r, 2000)); // the re-read is due 1 s after the close
    mc.stop();
    expect(sim.stats.get('GET /v2/calendar')).toBe(1);
    // First read, then one just past the 16:00 boundary (and at most one more before the next mark).
    expect(sim.stats.get('GET /v2/clock')).toBeGreaterThanOrEqual(2);
    expect(sim.stats.get('GET /v2/clock')).toBeLessThanOrEqual(3);
  });
});
