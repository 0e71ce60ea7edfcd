/**
 * What the venue does to executions after the fact: /_sim/bust, /_sim/correct (src/sim/executions.ts),
 * option contracts' order rules (option-rules.ts) and /_sim/exercise, /_sim/assign (option-events.ts):
 * the events they publish on GET /v2beta1/events/activities and what the simulator's books show after.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../src/sim/index.js';
import { type Json, http, outsideTrade, startTestSim, waitFor } from './helpers.js';
import { openSse, type SseStream } from './sse-helpers.js';

let sim: Simulator;
let events: SseStream;

beforeAll(async () => {
  sim = await startTestSim({ seed: 9 });
  events = await openSse(sim); // live events from here on
});
afterAll(async () => {
  events.close();
  await sim.close();
});
afterEach(async () => {
  await http(sim, 'POST', '/_sim/options', { stop_orders: true }, { auth: false });
});

const control = (path: string, body: Json) => http<Json>(sim, 'POST', path, body, { auth: false });
const position = async (symbol: string) => http<Json>(sim, 'GET', `/v2/positions/${symbol}`);
const executionOf = (orderId: string): string => sim.engine.fills.find((f) => f.orderId === orderId)!.executionId;

async function eventFor(refId: string): Promise<Json> {
  await waitFor(() => events.messages.some((m) => m.ref_id === refId), 3000, `event ${refId}`);
  return events.messages.find((m) => m.ref_id === refId)!;
}

describe('trade bust', () => {
  it('takes the fill back out of the position and the order; the event names the execution in previous_id', async () => {
    const order = await outsideTrade(sim, { symbol: 'NVDA', side: 'buy', qty: '10' });
    expect((await position('NVDA')).body.qty).toBe('10');
    const exec = executionOf(String(order.id));
    const cashBefore = sim.engine.portfolio.cash;

    const res = await control('/_sim/bust', { execution_id: exec });
    expect(res.status).toBe(200);
    const ev = await eventFor(String((res.body.event as Json).ref_id));
    expect(ev).toMatchObject({
      activity_type: 'TRD', previous_id: exec, qty: '10', price: '900', net_amount: '9000',
      details: { execution_type: 'trade_bust', order_id: order.id, cum_qty: '0', side: 'buy', symbol: 'NVDA' },
    });
    expect(ev.ref_id).not.toBe(exec);
    expect((await position('NVDA')).status).toBe(404);
    expect(sim.engine.portfolio.cash.minus(cashBefore).toString()).toBe('9000');
    const after = await http<Json>(sim, 'GET', `/v2/orders/${order.id}`);
    expect(after.body).toMatchObject({ filled_qty: '0', filled_avg_price: null, status: 'filled' });
    // REST keeps the FILL (its schema has no execution type): decision documented in src/sim/README.md.
    const fills = await http<Json[]>(sim, 'GET', `/v2/account/activities/FILL?direction=desc&page_size=5`);
    expect(fills.body.some((a) => a.order_id === order.id)).toBe(true);

    const again = await control('/_sim/bust', { execution_id: exec });
    expect(again.status).toBe(422);
    expect((await control('/_sim/bust', { execution_id: 'nope' })).status).toBe(404);
  });

  it('refuses crypto executions', async () => {
    const order = await outsideTrade(sim, { symbol: 'ETH/USD', side: 'buy', qty: '0.1' });
    const res = await control('/_sim/bust', { execution_id: executionOf(String(order.id)) });
    expect(res.status).toBe(422);
  });
});

describe('trade correction', () => {
  it('replaces qty and price; a later bust names the correction', async () => {
    const order = await outsideTrade(sim, { symbol: 'META', side: 'buy', qty: '10' });
    const exec = executionOf(String(order.id));
    const res = await control('/_sim/correct', { execution_id: exec, qty: '8', price: '470' });
    expect(res.status).toBe(200);
    const correction = await eventFor(String((res.body.event as Json).ref_id));
    expect(correction).toMatchObject({
      previous_id: exec, qty: '8', price: '470', net_amount: '-3760',
      details: { execution_type: 'trade_correct', cum_qty: '8', leaves_qty: '2' },
    });
    expect((await position('META')).body).toMatchObject({ qty: '8' });
    expect((await http<Json>(sim, 'GET', `/v2/orders/${order.id}`)).body).toMatchObject({ filled_qty: '8', filled_avg_price: '470' });

    expect((await control('/_sim/correct', { execution_id: exec, qty: '9' })).status).toBe(422); // replaced
    const bust = await control('/_sim/bust', { execution_id: correction.ref_id });
    expect(bust.status).toBe(200);
    expect(bust.body.event).toMatchObject({ previous_id: correction.ref_id, qty: '8', price: '470' });
    expect((await position('META')).status).toBe(404);
  });
});

describe('option contracts', () => {
  const CALL = 'AAPL261218C00150000';
  const PUT = 'AAPL261218P00200000';

  it('take market, limit, stop and stop_limit (changelog 2026-08-27), never trailing_stop; whole contracts', async () => {
    const post = (body: Json) => http<Json>(sim, 'POST', '/v2/orders', { symbol: CALL, side: 'buy', qty: '1', time_in_force: 'day', ...body });
    const trailing = await post({ type: 'trailing_stop', trail_percent: '5' });
    expect(trailing).toMatchObject({ status: 422, body: { code: 42210000, message: 'invalid options order_type' } });
    expect((await post({ type: 'stop', stop_price: '99' })).status).toBe(200);
    expect((await post({ type: 'market', qty: '1.5' })).body).toEqual({ code: 40010001, message: 'qty must be integer' });

    await control('/_sim/options', { stop_orders: false });
    const stop = await post({ type: 'stop', stop_price: '99' });
    expect(stop).toMatchObject({ status: 422, body: { message: 'invalid options order_type' } });
    expect((await post({ type: 'limit', limit_price: '1' })).status).toBe(200);
  });

  it('exercise of long calls: OPEXC −n and OPTRD +100·n at the strike, the contracts gone', async () => {
    const order = await outsideTrade(sim, { symbol: CALL, side: 'buy', qty: '2' });
    expect(order).toMatchObject({ status: 'filled', asset_class: 'us_option' });
    expect((await position(CALL)).body).toMatchObject({ qty: '2', asset_class: 'us_option', market_value: '8200' }); // (190−150+1)·100·2
    const aaplBefore = sim.engine.portfolio.qty('AAPL');
    const cashBefore = sim.engine.portfolio.cash;

    const res = await control('/_sim/exercise', { symbol: CALL });
    expect(res.status).toBe(200);
    const [opexc, optrd] = res.body.activities as Json[];
    expect(opexc).toMatchObject({ activity_type: 'OPEXC', symbol: CALL, qty: '-2', net_amount: '0', description: 'Option Exercise' });
    expect(optrd).toMatchObject({ activity_type: 'OPTRD', symbol: 'AAPL', qty: '200', price: '150', net_amount: '-30000' });
    expect((await position(CALL)).status).toBe(404);
    expect(sim.engine.portfolio.qty('AAPL').minus(aaplBefore).toString()).toBe('200');
    expect(cashBefore.minus(sim.engine.portfolio.cash).toString()).toBe('30000');
    const rest = await http<Json[]>(sim, 'GET', '/v2/account/activities?activity_types=OPEXC,OPTRD');
    expect(rest.body.map((a) => a.activity_type).sort()).toEqual(['OPEXC', 'OPTRD']);
  });

  it('assignment of a short put: OPASN +n and OPTRD buying 100·n at the strike, on the event stream too', async () => {
    await outsideTrade(sim, { symbol: PUT, side: 'sell', qty: '1' });
    expect((await position(PUT)).body.qty).toBe('-1');
    expect((await control('/_sim/exercise', { symbol: PUT })).body).toEqual({
      code: 40310000, message: 'no available position for the specified contract',
    });
    const aaplBefore = sim.engine.portfolio.qty('AAPL');
    const res = await control('/_sim/assign', { symbol: PUT });
    expect(res.status).toBe(200);
    const [opasn, optrd] = res.body.activities as Json[];
    expect(opasn).toMatchObject({ activity_type: 'OPASN', symbol: PUT, qty: '1' });
    expect(optrd).toMatchObject({ activity_type: 'OPTRD', symbol: 'AAPL', qty: '100', price: '200', net_amount: '-20000' });
    expect((await position(PUT)).status).toBe(404);
    expect(sim.engine.portfolio.qty('AAPL').minus(aaplBefore).toString()).toBe('100');

    await waitFor(() => events.messages.some((m) => m.activity_type === 'OPASN'), 3000, 'OPASN event');
    const i = events.messages.findIndex((m) => m.activity_type === 'OPASN');
    expect(events.messages[i]).toMatchObject({ qty: '1', details: { symbol: 'AAPL', contract_symbol: PUT }, asset: { symbol: PUT } });
    expect(events.messages[i + 1]).toMatchObject({ activity_type: 'OPTRD', qty: '100', price: '200', net_amount: '-20000' });
  });
});
