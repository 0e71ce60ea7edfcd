import { describe, expect, it } from 'vitest';
import { eventually, getJson } from './support/bot-process.js';
import { simsAndBots } from './support/sim-bots.js';
import { simPost } from './support/sim-traffic.js';

// A stop sent into a 5xx is looked up by its client order id, and sent again once it stays absent
// for CT_STOP_LOOKUP_GRACE_MS (10 s by default; 1 s here: these tests are about what /health says
// meanwhile, not about how long an order may take to become visible).
const env = simsAndBots('coverage', 'PKCOVER', 'cover-secret', { CT_STOP_LOOKUP_GRACE_MS: '1000' });

/**
 * The real bot against the simulator: a position whose stop cannot be placed turns /health
 * critical (503) once the grace period is over, and healthy again when the stop lands.
 */
describe('/health tells the truth about stop coverage', () => {
  it('goes 503 critical for a position whose stop the broker keeps failing, and 200 ok once it is placed', async () => {
    const s = await env.sim(71);
    const b = env.bot(s, 'coverage.db', { CT_PROTECT_GRACE_S: '2' });
    await b.waitFor((l) => l.event === 'reconcile_done');
    const url = await b.apiUrl();

    const calm = await getJson(`${url}/health`);
    expect(calm.status).toBe(200);
    expect(calm.body).toMatchObject({ status: 'ok', reasons: [], protection: { unprotected: [], overprotected: [], grace_s: 2 } });

    // /_sim routes are never faulted; every API request (the stop's POST included) answers 5xx.
    await simPost(s, '/_sim/faults', { rate_5xx: 1 });
    await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '5', type: 'market' });
    const t0 = Date.now();
    const critical = await eventually(async () => {
      const h = await getJson(`${url}/health`);
      return h.status === 503 ? h : null;
    }, 10_000, 200);
    const tCritical = Date.now() - t0;
    expect(critical.body.status).toBe('critical');
    expect(critical.body.protection.unprotected).toEqual([
      expect.objectContaining({ symbol: 'AAPL', position: '5', covered: '0', uncovered: '5', past_grace: true, critical: true }),
    ]);
    expect(critical.body.reasons).toEqual(expect.arrayContaining([expect.stringMatching(/^position AAPL uncovered 5 of 5 for \d+ s: stop_/)]));
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^ct_unprotected_qty\{symbol="AAPL",app="crazy-trade"\} 5$/m);
    await b.waitFor((l) => l.event === 'position_unprotected' && l.symbol === 'AAPL', 5_000);

    await fetch(`${s.url}/_sim/faults`, { method: 'DELETE' });
    const t1 = Date.now();
    const healed = await eventually(async () => {
      const h = await getJson(`${url}/health`);
      return h.status === 200 && h.body.status === 'ok' ? h : null;
    }, 30_000, 200);
    const tHealed = Date.now() - t1;
    expect(healed.body.protection.unprotected).toEqual([]);
    await b.waitFor((l) => l.event === 'position_protected' && l.symbol === 'AAPL', 5_000);
    expect(b.lines.filter((l) => l.event === 'position_unprotected')).toHaveLength(1);
    expect(b.lines.find((l) => l.event === 'position_unprotected')).toMatchObject({ level: 'warn', position: '5', covered: '0' });
    // Grace 2 s + at most one 1 s watch tick. The cure waits on the worker: a send that may have
    // reached the broker is looked up (404 = not yet visible) for CT_STOP_LOOKUP_GRACE_MS (1 s here)
    // before it is sent again.
    expect(tCritical).toBeGreaterThan(1_500);
    expect(tCritical).toBeLessThan(6_000);
    expect(tHealed).toBeLessThan(16_000);

    b.proc.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  }, 60_000);

  it('names the outside open sell that holds the shares a refused stop wanted', async () => {
    const s = await env.sim(72);
    const b = env.bot(s, 'coverage-held.db', { CT_PROTECT_GRACE_S: '2' });
    await b.waitFor((l) => l.event === 'reconcile_done');
    const url = await b.apiUrl();

    // The stop cannot go in while every request fails; meanwhile another tool's take-profit (the
    // /_sim routes are never faulted) holds all 5 shares, so once the faults stop Alpaca refuses the
    // stop: 403 insufficient qty available (available: 0).
    await simPost(s, '/_sim/faults', { rate_5xx: 1 });
    await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '5', type: 'market' });
    const tp = await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'sell', qty: '5', type: 'limit', limit_price: '9999', time_in_force: 'gtc', fill: 'none' });
    await fetch(`${s.url}/_sim/faults`, { method: 'DELETE' });

    const u = await eventually(async () => {
      const h = await getJson(`${url}/health`);
      const entry = h.body.protection.unprotected.find((x: any) => x.symbol === 'AAPL');
      return entry && /held by open order/.test(entry.reason) ? entry : null;
    }, 40_000, 250);
    expect(u).toMatchObject({ position: '5', covered: '0', uncovered: '5' });
    expect(u.reason).toBe(`stop_refused: insufficient_qty: insufficient qty available for order (requested: 5, available: 0); held by open order(s) ${tp.id} (${tp.client_order_id}): cancel or reduce them and the stop covers what they free`);

    b.proc.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  }, 60_000);
});
