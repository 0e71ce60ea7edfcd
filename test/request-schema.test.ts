import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { afterAll, describe, expect, it } from 'vitest';
import { isLiveStatus } from '../src/domain/orders.js';
import { eventually } from './support/bot-process.js';
import { FIXTURES_DIR } from './support/fixtures.js';
import { simsAndBots } from './support/sim-bots.js';
import { simPost } from './support/sim-traffic.js';

/**
 * Every request the bot sends to the trading API validates against the official OpenAPI subset
 * (test/fixtures/alpaca/openapi/trading-api-subset.json): bodies against the request schemas, query
 * parameters against theirs. The bot talks to the simulator through a recording proxy on loopback.
 */
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const spec = JSON.parse(readFileSync(resolve(FIXTURES_DIR, 'openapi/trading-api-subset.json'), 'utf8')) as any;
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addFormat('decimal', /^-?\d+(\.\d+)?$/);
ajv.addSchema(spec, 'spec');

interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}

/** The spec's operation for a request: path template match, or null when the subset has none. */
function operationOf(method: string, path: string): { template: string; op: any } | null {
  for (const [template, item] of Object.entries(spec.paths as Record<string, any>)) {
    const re = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    const op = item[method.toLowerCase()];
    if (op && re.test(path)) return { template, op };
  }
  return null;
}

function validateRequest(r: Recorded): string[] {
  const found = operationOf(r.method, r.path);
  if (!found) return [];
  const problems: string[] = [];
  const ptr = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
  const schemaRef = (json: string) => ({ $ref: `spec#/paths/${ptr(found.template)}/${r.method.toLowerCase()}/${json}` });
  if (r.body !== undefined && found.op.requestBody) {
    const v = ajv.compile(schemaRef('requestBody/content/application~1json/schema'));
    if (!v(r.body)) problems.push(`${r.method} ${found.template} body ${JSON.stringify(r.body)}: ${ajv.errorsText(v.errors)}`);
  }
  // A parameter is inline, or a $ref into components/parameters (the calendar's legacy_start / legacy_end).
  const params = ((found.op.parameters ?? []) as any[]).map((p, i) => {
    if (typeof p.$ref !== 'string') return { ...p, schemaRef: schemaRef(`parameters/${i}/schema`) };
    const name = p.$ref.replace('#/components/parameters/', '');
    return { ...spec.components.parameters[name], schemaRef: { $ref: `spec${p.$ref}/schema` } };
  });
  for (const [name, value] of r.query) {
    const i = params.findIndex((p) => p.in === 'query' && p.name === name);
    if (i < 0) {
      problems.push(`${r.method} ${found.template}: query parameter ${name} is not in the spec`);
      continue;
    }
    const schema = params[i].schema ?? {};
    const typed = schema.type === 'integer' ? Number(value) : schema.type === 'boolean' ? value === 'true' : schema.type === 'array' ? value.split(',') : value;
    const v: ValidateFunction = ajv.compile(params[i].schemaRef);
    if (!v(typed)) problems.push(`${r.method} ${found.template}: ${name}=${value}: ${ajv.errorsText(v.errors)}`);
  }
  return problems;
}

function recordingProxy(target: string): Promise<{ url: string; seen: Recorded[]; server: Server }> {
  const seen: Recorded[] = [];
  const to = new URL(target);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const u = new URL(req.url ?? '/', 'http://proxy');
      seen.push({ method: req.method ?? 'GET', path: u.pathname, query: u.searchParams, body: raw.length ? JSON.parse(raw.toString('utf8')) : undefined });
      const fwd = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      fwd.on('error', () => res.writeHead(502).end());
      fwd.end(raw);
    });
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server })));
}

const env = simsAndBots('reqschema', 'PKSCHEMA', 'schema-secret');
let proxy: Server | null = null;
afterAll(() => new Promise<void>((ok) => (proxy ? proxy.close(() => ok()) : ok())));

describe('requests the bot sends match the OpenAPI subset', () => {
  it('stops for equities, fractional shares and crypto, a resize and a cancel: every body and query validates', async () => {
    const s = await env.sim(401);
    const p = await recordingProxy(s.url);
    proxy = p.server;
    const b = env.bot(s, 'schema.db', { ALPACA_API_URL: p.url, CT_POLL_MS: '1000' });
    await b.waitFor((l) => l.event === 'reconcile_done');
    const headers = env.headers;
    const stopsOf = async (id: string) =>
      ((await (await fetch(`${s.url}/v2/orders?status=all&limit=500`, { headers })).json()) as any[]).filter((o) => String(o.client_order_id).startsWith(`ct-stop-${id}`));

    const aapl = await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '10', type: 'limit', limit_price: '900', time_in_force: 'gtc', fill: 'partial', fill_qty: '4' });
    await eventually(async () => (await stopsOf(aapl.id)).some((o) => isLiveStatus(o.status)), 15_000);
    await simPost(s, '/_sim/fill', { order_id: aapl.id });
    await eventually(async () => (await stopsOf(aapl.id)).some((o) => isLiveStatus(o.status) && o.qty === '10'), 15_000);
    const frac = await simPost(s, '/_sim/trade', { symbol: 'MSFT', side: 'buy', qty: '0.5', type: 'market', time_in_force: 'day' });
    await eventually(async () => (await stopsOf(frac.id)).some((o) => isLiveStatus(o.status)), 15_000);
    const btc = await simPost(s, '/_sim/trade', { symbol: 'BTC/USD', side: 'buy', qty: '0.1', type: 'market' });
    await eventually(async () => (await stopsOf(btc.id)).some((o) => isLiveStatus(o.status)), 15_000);
    // Closed from outside: the stop is canceled.
    await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'sell', qty: '10', type: 'market', ignore_held: true });
    await b.waitFor((l) => l.event === 'stop_canceled' && l.entry_order_id === aapl.id, 15_000);
    b.proc.kill('SIGTERM');
    await b.exited;

    const kinds = new Set(p.seen.map((r) => `${r.method} ${operationOf(r.method, r.path)?.template ?? r.path}`));
    for (const k of ['POST /v2/orders', 'PATCH /v2/orders/{order_id}', 'DELETE /v2/orders/{order_id}', 'GET /v2/orders', 'GET /v2/account/activities']) expect(kinds).toContain(k);
    expect(p.seen.flatMap(validateRequest)).toEqual([]);
    // The check can fail: a body the spec refuses is reported.
    expect(validateRequest({ method: 'POST', path: '/v2/orders', query: new URLSearchParams(), body: { symbol: 'AAPL', qty: 1, side: 'sideways' } }).length).toBeGreaterThan(0);
    expect(validateRequest({ method: 'GET', path: '/v2/orders', query: new URLSearchParams('status=bogus'), body: undefined }).length).toBe(1);
  }, 90_000);
});
