import { basename, join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.js';
import { eventually, getJson } from './support/bot-process.js';
import { simsAndBots } from './support/sim-bots.js';
import { makeFills, simPost } from './support/sim-traffic.js';
import { compareLedger } from './support/ground-truth.js';

const env = simsAndBots('sync', 'PKSYNC', 'sync-secret', { CT_ADOPT: 'record' });
const KEYS = env.headers;
const dir = env.dir;
const sim = (seed: number) => env.sim(seed);
const bot = (s: Simulator, db: string, extra: Record<string, string> = {}) => env.bot(s, basename(db), extra);

const rowCount = (db: string, sql: string) => {
  const d = new BetterSqlite3(db, { readonly: true });
  const n = (d.prepare(sql).get() as { n: number }).n;
  d.close();
  return n;
};

// Mostly waiting (12 s of an idle bot, measured at its own simulator): it runs beside the catch-up
// below (describe.concurrent), whose requests go to another simulator.
describe.concurrent('idle steady state', () => {
  it('stays under 200 requests a minute with the default poll interval', async () => {
    const s = await sim(13);
    const b = bot(s, join(dir, 'idle.db'));
    await b.waitFor((l) => l.event === 'reconcile_done' && l.trigger === 'stream');
    const start = (await getJson(`${s.url}/_sim/stats`)).body.requests.total as number;
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 12_000));
    const end = (await getJson(`${s.url}/_sim/stats`)).body.requests.total as number;
    const perMinute = ((end - start) * 60_000) / (Date.now() - t0);
    expect(end - start).toBeGreaterThan(0);
    expect(perMinute).toBeLessThan(200);
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 40_000);
});

describe.concurrent('lossless catch-up', () => {
  it('recovers 1,000+ fills over 300+ orders made while the bot was stopped, within the request budget', async () => {
    const s = await sim(11);
    const db = join(dir, 'catchup.db');
    // A first run sets the watermark past some earlier history.
    await makeFills(s, { orders: 5, fillsPerOrder: 2 });
    const first = bot(s, db);
    await first.waitFor((l) => l.event === 'reconcile_done' && l.trigger === 'start');
    first.proc.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    const before = rowCount(db, 'select count(*) as n from fills');
    expect(before).toBe(10);

    const missed = await makeFills(s, { orders: 320, fillsPerOrder: 4, leaveOpenEvery: 8 });
    expect(missed.fills).toBeGreaterThanOrEqual(1000);

    const second = bot(s, db);
    const done = await second.waitFor((l) => l.event === 'reconcile_done' && l.trigger === 'start', 60_000);
    const openOrders = s.engine.openOrders().length;
    const openPages = Math.floor(openOrders / 500) + 1;
    expect(done.fills_new).toBe(missed.fills);
    // Activities after the watermark, one page of open orders, the working actors' lookups, + 5, + the
    // activity event stream's connection (made while this run reads, counted by the same client).
    expect(done.requests).toBeLessThanOrEqual(Math.ceil(missed.fills / 100) + openPages + done.lookups + 5 + 1);
    expect(done.pages).toBe(Math.ceil(missed.fills / 100) + (missed.fills % 100 === 0 ? 1 : 0));

    const truth = await compareLedger(s, db, KEYS);
    expect(truth.mismatches).toEqual([]);
    expect(truth.orders).toBe(325);
    expect(truth.ledgerRows).toBe(truth.brokerFills);
    const url = await second.apiUrl();
    const health = await getJson(`${url}/health`);
    expect(health.body.drift).toEqual([]);
    expect(health.body.watermark).toBe(await lastActivityId(s));
    console.info(`catch-up: ${missed.fills} fills over 320 orders, ${done.requests} requests, ${done.pages} pages, ${done.duration_ms} ms`);
    second.proc.kill('SIGTERM');
    await second.exited;
  }, 120_000);
});

async function lastActivityId(s: Simulator): Promise<string> {
  const res = await fetch(`${s.url}/v2/account/activities?activity_types=FILL&direction=desc&page_size=1`, { headers: KEYS });
  return ((await res.json()) as any[])[0].id;
}

describe('sync under faults', () => {
  it('with 429s, 5xxs and a duplicating, reordering, dropping stream the ledger still equals the broker, with no duplicate rows', async () => {
    const s = await sim(12);
    const db = join(dir, 'faults.db');
    const b = bot(s, db, { CT_POLL_MS: '1000', CT_LOG_LEVEL: 'debug' });
    await b.waitFor((l) => l.event === 'stream_state' && l.state === 'connected');
    await simPost(s, '/_sim/faults', { rate_429: 0.1, rate_5xx: 0.1, ws_duplicate_rate: 0.2, ws_reorder_rate: 0.2, ws_drop_rate: 0.05 });
    const made = await makeFills(s, { orders: 120, fillsPerOrder: 3, leaveOpenEvery: 6 });
    expect(made.fills).toBeGreaterThan(300);
    const lastFill = Date.now();
    // Converges: a reconciliation that started after the last fill leaves nothing behind.
    await eventually(async () => {
      const line = b.lines.find((l) => l.event === 'reconcile_done' && Date.parse(l.time) - l.duration_ms > lastFill);
      return line ? true : null;
    }, 60_000, 250);
    const truth = await compareLedger(s, db, KEYS);
    expect(truth.mismatches).toEqual([]);
    expect(rowCount(db, 'select count(*) as n from (select order_id, cum_qty from fills group by 1, 2 having count(*) > 1)')).toBe(0);
    // The faults were real: duplicates arrived and were dropped, requests were retried.
    expect(b.lines.filter((l) => l.event === 'fill_already_processed').length).toBeGreaterThan(0);
    expect(b.lines.filter((l) => l.event === 'broker_retry' && [429, 500, 503].includes(l.status)).length).toBeGreaterThan(0);
    const stats = await getJson(`${s.url}/_sim/stats`);
    expect(stats.body.fills).toBe(made.fills);
    b.proc.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  }, 120_000);
});

describe('stream reconnect', () => {
  it('reconnects after a drop and reconciles what the stream missed meanwhile', async () => {
    const s = await sim(14);
    const db = join(dir, 'reconnect.db');
    // No polling and no activity event stream (which would bring them by itself): only the
    // trade_updates reconnect's reconcile can bring the missed fills in.
    const b = bot(s, db, { CT_POLL_MS: '3600000', CT_EVENT_STREAM: '0' });
    await b.waitFor((l) => l.event === 'reconcile_done' && l.trigger === 'stream');
    const seen = b.lines.length;
    await simPost(s, '/_sim/stream/drop', {});
    const missed = await makeFills(s, { orders: 3, fillsPerOrder: 2 });
    await b.waitFor((l) => l.event === 'stream_state' && l.state === 'reconnecting');
    await eventually(async () => b.lines.slice(seen).some((l) => l.event === 'reconcile_done' && l.trigger === 'stream' && l.fills_new > 0), 20_000);
    const truth = await compareLedger(s, db, KEYS);
    expect(truth.mismatches).toEqual([]);
    expect(truth.ledgerRows).toBe(missed.fills);
    const url = await b.apiUrl();
    expect((await getJson(`${url}/health`)).body.stream).toBe('connected');
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 40_000);
});
