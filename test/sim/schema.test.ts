/**
 * Validates simulator responses against the official Trading API schemas in
 * test/fixtures/alpaca/openapi/trading-api-subset.json (OpenAPI 3.0: `nullable`,
 * `$ref: #/components/...`, unknown keywords such as `example` / `x-*`).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../src/sim/index.js';
import { FIXTURES_DIR, fixture } from '../support/fixtures.js';
import { type Json, http, outsideTrade, startTestSim } from './helpers.js';

const SPEC_PATH = resolve(FIXTURES_DIR, 'openapi/trading-api-subset.json');
const SPEC_ID = 'trading-api.json';

// ajv-formats is CommonJS; its default export is the plugin function.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

let ajv: Ajv;
let sim: Simulator;

function schema(name: string): ValidateFunction {
  const v = ajv.getSchema(`${SPEC_ID}#/components/schemas/${name}`);
  if (!v) throw new Error(`schema ${name} not found`);
  return v;
}

function arrayOf(name: string): ValidateFunction {
  return ajv.compile({ type: 'array', items: { $ref: `${SPEC_ID}#/components/schemas/${name}` } });
}

function expectValid(v: ValidateFunction, data: unknown): void {
  const ok = v(data);
  expect(ok ? null : { errors: v.errors, data }).toBeNull();
}

beforeAll(async () => {
  const spec = JSON.parse(readFileSync(SPEC_PATH, 'utf8')) as Json;
  ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addFormat('decimal', /^-?\d+(\.\d+)?$/);
  ajv.addSchema(spec, SPEC_ID);
  sim = await startTestSim({ seed: 3 });
  await outsideTrade(sim, { symbol: 'AAPL', side: 'buy', qty: '2' });
  await outsideTrade(sim, { symbol: 'BTC/USD', side: 'buy', qty: '0.25', fill: 'partial' });
  await outsideTrade(sim, { symbol: 'TSLA', side: 'sell', qty: '3' });
  await http(sim, 'POST', '/v2/orders', {
    symbol: 'MSFT', qty: '1', side: 'sell', type: 'trailing_stop', trail_percent: '2', time_in_force: 'gtc',
  });
  await http(sim, 'POST', '/v2/orders', { symbol: 'SPY', notional: '100', side: 'buy', type: 'market', time_in_force: 'day' });
});
afterAll(async () => {
  await sim?.close();
});

describe('responses match the official OpenAPI schemas', () => {
  it('a placed order and the orders list (Order)', async () => {
    const placed = await http<Json>(sim, 'POST', '/v2/orders', {
      symbol: 'AAPL', qty: '1', side: 'buy', type: 'limit', limit_price: '150', time_in_force: 'gtc', client_order_id: 'schema-1',
    });
    expectValid(schema('Order'), placed.body);
    // Sanity: the validator is really checking types, enums behind $ref and formats.
    expect(schema('Order')({ ...placed.body, qty: 1 })).toBe(false);
    expect(schema('Order')({ ...placed.body, status: 'bogus' })).toBe(false);
    expect(schema('Order')({ ...placed.body, created_at: 'yesterday' })).toBe(false);
    const list = await http<Json[]>(sim, 'GET', '/v2/orders?status=all&limit=500');
    expect(list.body.length).toBeGreaterThanOrEqual(6);
    expectValid(arrayOf('Order'), list.body);
    // The fixture (a 2023 spec example) predates `expires_at`, which the spec's Order now has: a GTC
    // order carries its aged-order deadline right after `expired_at`.
    const fixtureKeys = Object.keys(fixture<Json>('order-limit-accepted.json'));
    fixtureKeys.splice(fixtureKeys.indexOf('expired_at') + 1, 0, 'expires_at');
    expect(Object.keys(placed.body)).toEqual(fixtureKeys);
    const replaced = await http<Json>(sim, 'PATCH', `/v2/orders/${placed.body.id as string}`, { qty: '2' });
    expectValid(schema('Order'), replaced.body);
    expectValid(schema('Order'), (await http<Json>(sim, 'GET', `/v2/orders/${placed.body.id as string}`)).body);
  });

  it('account (Account)', async () => {
    const acct = await http<Json>(sim, 'GET', '/v2/account');
    expectValid(schema('Account'), acct.body);
    const fixtureKeys = Object.keys(fixture<Json>('account.json'));
    expect(Object.keys(acct.body)).toEqual(fixtureKeys);
  });

  it('positions and a position (Position), equity long/short and crypto', async () => {
    const list = await http<Json[]>(sim, 'GET', '/v2/positions');
    expect(list.body.map((p) => p.symbol)).toEqual(['AAPL', 'BTCUSD', 'SPY', 'TSLA']);
    expectValid(arrayOf('Position'), list.body);
    expectValid(schema('Position'), (await http(sim, 'GET', '/v2/positions/BTCUSD')).body);
    expectValid(schema('Position'), (await http(sim, 'GET', '/v2/positions/AAPL')).body);
  });

  it('clock (legacy_clock) and calendar (legacy_public_calendar_resp, keys as calendar.json)', async () => {
    expectValid(schema('legacy_clock'), (await http(sim, 'GET', '/v2/clock')).body);
    const cal = await http<Json[]>(sim, 'GET', '/v2/calendar?start=2025-01-01&end=2025-01-10');
    expectValid(schema('legacy_public_calendar_resp'), cal.body);
    expect(cal.body.length).toBeGreaterThan(0);
    for (const day of cal.body) expect(Object.keys(day)).toEqual(Object.keys(fixture<Json[]>('calendar.json')[0]!));
    expect(schema('legacy_public_calendar_resp')([{ ...cal.body[0], date: 'Jan 2' }])).toBe(false);
  });

  it('FILL activities (TradingActivities)', async () => {
    const acts = await http<Json[]>(sim, 'GET', '/v2/account/activities/FILL?direction=asc');
    expect(acts.body.length).toBeGreaterThanOrEqual(4);
    expectValid(arrayOf('TradingActivities'), acts.body);
    const both = await http<Json[]>(sim, 'GET', '/v2/account/activities?activity_types=FILL');
    expectValid(arrayOf('TradingActivities'), both.body);
  });

  it('errors (Error) and cancel-all (CanceledOrderResponse)', async () => {
    const v = schema('Error');
    expectValid(v, (await http(sim, 'GET', '/v2/orders/7b08df51-c1ac-453c-99f9-323a5f075f0d')).body);
    expectValid(v, (await http(sim, 'GET', '/v2/orders/nope')).body);
    expectValid(v, (await http(sim, 'POST', '/v2/orders', { symbol: 'AAPL' })).body);
    expectValid(v, (await http(sim, 'GET', '/v2/nothing')).body);
    expectValid(v, (await http(sim, 'GET', '/v2/positions/F')).body);
    expectValid(schema('ErrorResponse'), (await http(sim, 'GET', '/v2/account', undefined, { auth: false })).body);
    const canceled = await http(sim, 'DELETE', '/v2/orders');
    expect(canceled.status).toBe(207);
    expectValid(arrayOf('CanceledOrderResponse'), canceled.body);
  });
});
