import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { Simulator } from '../src/sim/index.js';
import { isLiveStatus } from '../src/domain/orders.js';
import { eventually, getJson } from './support/bot-process.js';
import { simsAndBots } from './support/sim-bots.js';

/**
 * The operator's side against the simulator: entries through the service (so cooldowns and the
 * pause bite, idempotent by client_order_id across a SIGKILL), closing a position (stops first,
 * then the exit, one cooldown), and every answer checked against GET /openapi.json.
 */
const TOKEN = 'operator-token-0123456789abcdef';
const env = simsAndBots('operator', 'PKOPER', 'operator-secret', { CT_API_TOKEN: TOKEN, CT_API_TOKEN_NAME: 'desk-1', CT_POLL_MS: '1000' });
const AUTH = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

async function call(url: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, { method, headers: AUTH, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

async function simOrders(s: Simulator): Promise<any[]> {
  const res = await fetch(`${s.url}/v2/orders?status=all&limit=500`, { headers: env.headers });
  return (await res.json()) as any[];
}

describe('the operator side', () => {
  it('entries through the service are protected, refused while cooling down or paused, idempotent across a SIGKILL; a close leaves the symbol flat with one cooldown; every answer fits /openapi.json', async () => {
    const s = await env.sim(501);
    const b = env.bot(s, 'operator.db');
    await b.waitFor((l) => l.event === 'reconcile_done');
    const url = await b.apiUrl();
    const seen: Array<{ method: string; path: string; status: number; body: unknown }> = [];
    const record = async (method: string, path: string, body?: unknown, route = path) => {
      const r = await call(url, method, path, body);
      seen.push({ method, path: route, status: r.status, body: r.body });
      return r;
    };

    // An entry through the service: placed with the caller's id under ct-entry-, protected like any entry.
    const entry = await record('POST', '/entries', { symbol: 'AAPL', side: 'buy', qty: '2', client_order_id: 'a-1' });
    expect(entry).toMatchObject({ status: 201, body: { client_order_id: 'ct-entry-a-1', symbol: 'AAPL', side: 'buy', replayed: false } });
    const stop = await eventually(async () => (await simOrders(s)).find((o) => o.client_order_id === `ct-stop-${entry.body.id}` && isLiveStatus(o.status)), 20_000, 250);
    expect(stop).toMatchObject({ side: 'sell', qty: '2', type: 'trailing_stop' });

    // Invalid requests change nothing.
    const bad = await record('POST', '/entries', { symbol: 'AAPL', side: 'buy', qty: 2 });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid_request' });
    expect(bad.body.error.message).toBe('qty: send decimal strings, e.g. "2", not 2');

    // Close: the stop is canceled first (it holds the shares), then the exit at market.
    const close = await record('POST', '/positions/AAPL/close', undefined, '/positions/{symbol}/close');
    expect(close).toMatchObject({ status: 202, body: { symbol: 'AAPL', status: 'closing', canceled_stops: [`ct-stop-${entry.body.id}`] } });
    expect(close.body.exit).toMatchObject({ side: 'sell', qty: '2', client_order_id: expect.stringMatching(/^ct-close-AAPL-\d+$/) });
    await eventually(async () => {
      const p = (await getJson(`${url}/positions`, { authorization: AUTH.authorization })).body.positions as any[];
      return p.every((x) => x.symbol !== 'AAPL') ? true : null;
    }, 20_000, 250);
    const aaplOrders = (await simOrders(s)).filter((o) => o.symbol === 'AAPL');
    expect(aaplOrders.filter((o) => isLiveStatus(o.status))).toEqual([]);
    const cooldowns = await eventually(async () => {
      const c = (await getJson(`${url}/cooldowns`, { authorization: AUTH.authorization })).body.cooldowns as any[];
      return c.length > 0 ? c : null;
    }, 10_000, 250);
    expect(cooldowns.filter((c) => c.symbol === 'AAPL')).toHaveLength(1);
    // Closing again: already flat, nothing sent.
    const again = await record('POST', '/positions/AAPL/close', undefined, '/positions/{symbol}/close');
    expect(again).toMatchObject({ status: 200, body: { status: 'flat', exit: null } });
    expect((await simOrders(s)).filter((o) => o.symbol === 'AAPL')).toHaveLength(aaplOrders.length);

    // An entry while AAPL cools down: 409 with until, and no order reaches the broker.
    const before = (await simOrders(s)).length;
    const cooling = await record('POST', '/entries', { symbol: 'AAPL', side: 'buy', qty: '1' });
    expect(cooling).toMatchObject({ status: 409, body: { error: { code: 'cooldown', until: cooldowns[0].until } } });
    // Paused: every entry refused; resumed: entries go again. Protection is not paused.
    expect((await record('POST', '/control/pause')).body).toMatchObject({ entries_paused: true, by: 'desk-1' });
    expect((await getJson(`${url}/health`, { authorization: AUTH.authorization })).body.entries_paused).toBe(true);
    const paused = await record('POST', '/entries', { symbol: 'MSFT', side: 'buy', qty: '1' });
    expect(paused).toMatchObject({ status: 409, body: { error: { code: 'paused' } } });
    expect((await record('POST', '/control/resume')).body).toMatchObject({ entries_paused: false });
    expect((await simOrders(s)).length).toBe(before);
    // The log line travels the bot's stdout apart from the HTTP answer: waited for, not assumed there.
    await b.waitFor((l) => l.event === 'control_action' && l.action === 'resume', 5_000);
    expect(b.lines.filter((l) => l.event === 'control_action').map((l) => `${l.action} by ${l.by}`)).toEqual(['close_position', 'close_position', 'pause', 'resume'].map((a) => `${a} by desk-1`));

    // Clearing the cooldown opens the symbol again.
    expect((await record('DELETE', '/cooldowns/AAPL', undefined, '/cooldowns/{symbol}')).body).toEqual({ symbol: 'AAPL', cleared: 1 });

    // The same entry twice, the second after a SIGKILL: one broker order.
    const first = await record('POST', '/entries', { symbol: 'MSFT', side: 'buy', qty: '1', client_order_id: 'm-1' });
    expect(first).toMatchObject({ status: 201, body: { replayed: false } });
    b.proc.kill('SIGKILL');
    await b.exited;
    const b2 = env.bot(s, 'operator.db');
    await b2.waitFor((l) => l.event === 'reconcile_done');
    const url2 = await b2.apiUrl();
    const second = await call(url2, 'POST', '/entries', { symbol: 'MSFT', side: 'buy', qty: '1', client_order_id: 'm-1' });
    expect(second).toMatchObject({ status: 201, body: { id: first.body.id, replayed: true } });
    // A replay answers what became of the order (a market entry: filled by now), not what it was when sent.
    const atBroker = await eventually(async () => (await simOrders(s)).find((o) => o.client_order_id === 'ct-entry-m-1' && o.status === 'filled'), 10_000, 250);
    const third = await call(url2, 'POST', '/entries', { symbol: 'MSFT', side: 'buy', qty: '1', client_order_id: 'm-1' });
    expect(third).toMatchObject({ status: 201, body: { id: first.body.id, replayed: true, status: atBroker.status, filled_qty: atBroker.filled_qty } });
    expect((await simOrders(s)).filter((o) => o.client_order_id === 'ct-entry-m-1')).toHaveLength(1);

    // The operator sets that stop's trail: the working trailing stop is replaced with it.
    await eventually(async () => (await simOrders(s)).find((o) => o.client_order_id === `ct-stop-${first.body.id}` && isLiveStatus(o.status)), 20_000, 250);
    const trail = await call(url2, 'PATCH', `/stops/${first.body.id}`, { trail_percent: '3.5' });
    seen.push({ method: 'PATCH', path: '/stops/{entry_order_id}', status: trail.status, body: trail.body });
    expect(trail).toMatchObject({ status: 200, body: { entry_order_id: first.body.id, trail_percent: '3.5' } });
    const retrailed = await eventually(
      async () => (await simOrders(s)).find((o) => String(o.client_order_id).startsWith(`ct-stop-${first.body.id}`) && isLiveStatus(o.status) && o.trail_percent === '3.5'),
      20_000,
      250,
    );
    expect(retrailed).toMatchObject({ client_order_id: `ct-stop-${first.body.id}-v1`, qty: '1', type: 'trailing_stop' });
    expect((await simOrders(s)).filter((o) => String(o.client_order_id).startsWith(`ct-stop-${first.body.id}`) && isLiveStatus(o.status))).toHaveLength(1);
    const unknownStop = await call(url2, 'PATCH', '/stops/no-such-entry', { trail_percent: '3.5' });
    expect(unknownStop).toMatchObject({ status: 404, body: { error: { code: 'no_stop' } } });
    // One bound with CT_TRAIL_PERCENT (50): a wider trail is a 400 naming it, and the stop stays as it was.
    const tooWide = await call(url2, 'PATCH', `/stops/${first.body.id}`, { trail_percent: '50.01' });
    expect(tooWide.status).toBe(400);
    expect(JSON.stringify(tooWide.body)).toContain('at most 50');
    expect((await simOrders(s)).filter((o) => String(o.client_order_id).startsWith(`ct-stop-${first.body.id}`) && isLiveStatus(o.status)).map((o) => o.trail_percent)).toEqual(['3.5']);

    // Every answer above, and the reads, fit the published document (served without a token).
    const doc = (await getJson(`${url2}/openapi.json`)).body;
    expect(doc.openapi).toBe('3.1.0');
    for (const path of ['/health', '/positions', '/cooldowns', '/orders', `/orders/${first.body.id}`, '/fills', '/performance']) {
      const r = await getJson(`${url2}${path}`, { authorization: AUTH.authorization });
      seen.push({ method: 'GET', path: path.startsWith('/orders/') ? '/orders/{id}' : path, status: r.status, body: r.body });
    }
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema({ $id: 'openapi.json', components: doc.components });
    for (const r of seen) {
      const op = doc.paths[r.path]?.[r.method.toLowerCase()];
      expect(op, `${r.method} ${r.path} is in the document`).toBeDefined();
      const schema = op.responses[String(r.status)]?.content?.['application/json']?.schema;
      expect(schema, `${r.method} ${r.path} → ${r.status} is documented`).toBeDefined();
      const validate = ajv.compile({ $ref: `openapi.json${schema.$ref}` });
      expect(validate(r.body), `${r.method} ${r.path} → ${r.status}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    }
    // The check can fail: an entry answer without its replayed flag, or with a number for a quantity.
    const entrySchema = ajv.compile({ $ref: 'openapi.json#/components/schemas/EntryResponse' });
    expect(entrySchema({ ...first.body, replayed: undefined })).toBe(false);
    expect(entrySchema({ ...first.body, filled_qty: 1 })).toBe(false);
    b2.proc.kill('SIGTERM');
    await b2.exited;
    // Every control action is in the notifications outbox too (delivered wherever channels are set).
    const db = new BetterSqlite3(join(env.dir, 'operator.db'), { readonly: true });
    const actions = (db.prepare("select data from notifications where kind = 'control_action'").all() as Array<{ data: string }>).map((r) => JSON.parse(r.data).action).sort();
    db.close();
    expect(actions).toEqual(['clear_cooldown', 'close_position', 'close_position', 'pause', 'resume', 'set_trail']);
  }, 120_000);
});
