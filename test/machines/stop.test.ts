import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StopAsk } from '../../src/domain/protection.js';
import { STOP_STATES, currentCid, initialStop, stopBasis, stopStateOf, type StopEvent, type StopEventType, type StopOrder, type StopRow, type StopState } from '../../machines/stop-model.js';
import { acceptedEvents, stopStep } from '../../machines/stop.js';
import { IDLE, SHORT_RECHECK_MS, classifyRefusal, refusalBackoffMs, retryBackoffMs, wantedOf } from '../../machines/stop-policy.js';
import { createActor } from 'xstate';
import { stopMachine } from '../../machines/stop.machine.js';
import { RefusedRetryBudget } from '../../src/protection/stop-budget.js';

const NOW = Date.parse('2026-03-02T15:00:00Z');
const SENT = new Date(NOW - 60_000).toISOString();

const ask = (qty = '10', over: Partial<StopAsk> = {}): StopAsk => ({
  entryOrderId: 'e1',
  clientOrderId: 'ct-stop-e1',
  symbol: 'AAPL',
  assetClass: 'us_equity',
  side: 'sell',
  qty,
  ...over,
});
const base: StopRow = { client_order_id: 'ct-stop-e1', entry_order_id: 'e1', symbol: 'AAPL', ...initialStop(ask()) };
/** Alpaca cancels the working order (aged-order policy) 12 hours from NOW. */
const EXPIRES = new Date(NOW + 12 * 3_600_000).toISOString();
const REARM_BEFORE_MS = 24 * 3_600_000;
const working: StopRow = { ...base, status: 'confirmed', sent_at: SENT, broker_order_id: 'o1', placed_qty: '10', expires_at: EXPIRES };

/** One row in each state, as the columns hold it. */
const ROWS: Record<StopState, StopRow> = {
  pending: base,
  sending: { ...base, status: 'unknown', sent_at: SENT, next_attempt_at: Date.parse(SENT) },
  unknown: { ...base, status: 'unknown', sent_at: SENT, attempts: 1, last_error: 'send of ct-stop-e1 failed: 503' },
  working,
  replacing: { ...working, status: 'unknown', version: 1, current_client_order_id: 'ct-stop-e1-v1', payload: JSON.stringify(ask('12')) },
  cancelling: { ...working, cancel_requested: 1 },
  refused: { ...base, status: 'rejected', attempts: 1, last_error: 'insufficient_qty: insufficient qty available', next_attempt_at: NOW - 1 },
  done: { ...working, status: 'done', next_attempt_at: IDLE },
};

const order = (over: Partial<StopOrder> = {}): StopOrder => ({
  orderId: 'o2',
  clientOrderId: 'ct-stop-e1',
  status: 'new',
  qty: '10',
  stopPrice: null,
  replacedBy: null,
  type: 'trailing_stop',
  trailPercent: '2',
  expiresAt: null,
  ...over,
});

/** Each event as it would come for `row` (about its current client order id, its order). */
const EVENTS: { [T in StopEventType]: (row: StopRow) => Extract<StopEvent, { type: T }> } = {
  asked: () => ({ type: 'asked', ask: ask('12') }),
  cut: () => ({ type: 'cut', cutQty: '2', wake: true }),
  cancelRequested: () => ({ type: 'cancelRequested' }),
  rearmed: () => ({ type: 'rearmed', ask: ask('4'), cut: '0' }),
  raised: () => ({ type: 'raised', stopPrice: '101' }),
  orderFinished: (r) => ({ type: 'orderFinished', orderId: r.broker_order_id ?? 'o9', clientOrderId: currentCid(r), outcome: 'canceled' }),
  restarted: () => ({ type: 'restarted' }),
  causeGone: () => ({ type: 'causeGone' }),
  due: () => ({ type: 'due' }),
  postponed: () => ({ type: 'postponed', until: NOW + 5000 }),
  deferred: () => ({ type: 'deferred', reason: 'no latest price for BTC/USD' }),
  notNeeded: () => ({ type: 'notNeeded' }),
  sendStarted: (r) => ({ type: 'sendStarted', clientOrderId: currentCid(r), basis: stopBasis(r), qty: '10', stopPrice: null }),
  accepted: (r) => ({ type: 'accepted', clientOrderId: currentCid(r), order: order({ clientOrderId: currentCid(r) }) }),
  refused: (r) => ({ type: 'refused', clientOrderId: currentCid(r), kind: 'insufficient_qty', message: 'insufficient qty available for order' }),
  outcomeUnknown: (r) => ({ type: 'outcomeUnknown', clientOrderId: currentCid(r), reason: 'send failed: ECONNRESET' }),
  duplicate: (r) => ({ type: 'duplicate', clientOrderId: currentCid(r) }),
  lookupFound: (r) => ({ type: 'lookupFound', clientOrderId: currentCid(r), order: order({ clientOrderId: currentCid(r) }) }),
  lookupAbsent: (r) => ({ type: 'lookupAbsent', clientOrderId: currentCid(r), graceMs: 10_000 }),
  cancelConfirmed: (r) => ({ type: 'cancelConfirmed', clientOrderId: currentCid(r), orderId: r.broker_order_id }),
  unchanged: (r) => ({ type: 'unchanged', clientOrderId: currentCid(r) }),
  expiryRead: (r) => ({ type: 'expiryRead', orderId: r.broker_order_id ?? 'o9', expiresAt: '2026-06-01T20:15:00.000Z' }),
  aging: () => ({ type: 'aging', brokerNow: NOW, rearmBeforeMs: REARM_BEFORE_MS }),
};
const EVENT_TYPES = Object.keys(EVENTS) as StopEventType[];

/** Every transition the machine allows, with the state it leads to and the effects it asks for. */
const ALLOWED: Array<[StopState, StopEventType, StopState, string[]]> = [
  ['pending', 'asked', 'pending', []],
  ['pending', 'cut', 'pending', []],
  ['pending', 'cancelRequested', 'cancelling', []],
  ['pending', 'orderFinished', 'pending', []],
  ['pending', 'restarted', 'pending', []],
  ['pending', 'due', 'pending', ['place']],
  ['pending', 'deferred', 'pending', ['backoff']],
  ['pending', 'notNeeded', 'done', []],
  ['pending', 'sendStarted', 'sending', ['post']],
  ['pending', 'cancelConfirmed', 'pending', []],

  ...(['sending', 'unknown'] as const).flatMap((s): Array<[StopState, StopEventType, StopState, string[]]> => [
    [s, 'asked', s, []],
    [s, 'cut', s, []],
    [s, 'cancelRequested', 'cancelling', []],
    [s, 'orderFinished', 'pending', []],
    [s, 'restarted', s, []],
    [s, 'due', s, ['lookup']],
    [s, 'deferred', s, ['backoff']],
    [s, 'notNeeded', 'done', []],
    [s, 'sendStarted', 'sending', ['post']],
    [s, 'accepted', 'working', ['announce']],
    [s, 'refused', 'refused', ['announce', 'backoff']],
    [s, 'outcomeUnknown', 'unknown', ['backoff']],
    [s, 'duplicate', s, ['lookup']],
    [s, 'lookupFound', 'working', ['announce']],
    [s, 'lookupAbsent', s, ['place']],
    [s, 'cancelConfirmed', 'pending', []],
  ]),

  ['replacing', 'asked', 'replacing', []],
  ['replacing', 'cut', 'replacing', []],
  ['replacing', 'cancelRequested', 'cancelling', []],
  ['replacing', 'orderFinished', 'pending', []],
  ['replacing', 'restarted', 'replacing', []],
  ['replacing', 'due', 'replacing', ['lookup']],
  ['replacing', 'deferred', 'replacing', ['backoff']],
  ['replacing', 'notNeeded', 'done', []],
  ['replacing', 'sendStarted', 'replacing', ['patch']],
  ['replacing', 'accepted', 'working', ['announce']],
  ['replacing', 'refused', 'refused', ['announce', 'backoff', 'fetchOrder']],
  ['replacing', 'outcomeUnknown', 'replacing', ['backoff']],
  ['replacing', 'duplicate', 'replacing', ['lookup']],
  ['replacing', 'lookupFound', 'working', ['announce']],
  ['replacing', 'lookupAbsent', 'replacing', ['place']],
  ['replacing', 'cancelConfirmed', 'pending', []],
  ['replacing', 'unchanged', 'working', []],
  ['replacing', 'expiryRead', 'replacing', []],

  ['working', 'asked', 'working', []],
  ['working', 'cut', 'working', []],
  ['working', 'cancelRequested', 'cancelling', []],
  ['working', 'orderFinished', 'pending', []],
  ['working', 'restarted', 'working', []],
  ['working', 'causeGone', 'working', []],
  ['sending', 'causeGone', 'sending', []],
  ['unknown', 'causeGone', 'unknown', []],
  ['replacing', 'causeGone', 'replacing', []],
  ['working', 'raised', 'working', []],
  ['working', 'due', 'working', []],
  ['working', 'cancelConfirmed', 'pending', []],
  ['working', 'expiryRead', 'working', []],
  ['working', 'aging', 'replacing', ['place']],

  ['cancelling', 'asked', 'cancelling', []],
  ['cancelling', 'cut', 'cancelling', []],
  ['cancelling', 'rearmed', 'working', []],
  ['cancelling', 'restarted', 'cancelling', []],
  ['cancelling', 'due', 'cancelling', ['delete']],
  ['cancelling', 'deferred', 'cancelling', ['backoff']],
  ['cancelling', 'accepted', 'cancelling', ['announce', 'delete']],
  ['cancelling', 'refused', 'cancelling', ['announce']],
  ['cancelling', 'outcomeUnknown', 'cancelling', ['backoff']],
  ['cancelling', 'duplicate', 'cancelling', ['lookup']],
  ['cancelling', 'lookupFound', 'cancelling', ['delete']],
  ['cancelling', 'lookupAbsent', 'cancelling', ['delete']],
  ['cancelling', 'cancelConfirmed', 'done', []],
  ['cancelling', 'expiryRead', 'cancelling', []],

  ['refused', 'asked', 'refused', []],
  ['refused', 'cut', 'refused', []],
  ['refused', 'cancelRequested', 'cancelling', []],
  ['refused', 'orderFinished', 'refused', []],
  ['refused', 'causeGone', 'refused', []],
  ['refused', 'due', 'refused', ['place']],
  ['refused', 'postponed', 'refused', ['backoff']],
  ['refused', 'deferred', 'refused', ['backoff']],
  ['refused', 'notNeeded', 'done', []],
  ['refused', 'sendStarted', 'sending', ['post']],
  ['refused', 'cancelConfirmed', 'pending', []],

  ['done', 'asked', 'done', []],
  ['done', 'rearmed', 'pending', []],
];

/** Listed for the state, but refused for the canonical event (see "guards"): a cancelling stop takes only a fill. */
const GUARDED_ONLY: Array<[StopState, StopEventType]> = [
  ['cancelling', 'orderFinished'],
  // An expiry is kept only for the order the stop has: these have none (the canonical event names another).
  ...(['pending', 'sending', 'unknown', 'refused'] as const).map((s): [StopState, StopEventType] => [s, 'expiryRead']),
];

const step = (row: StopRow, event: StopEvent, now = NOW) => stopStep(row, event, now);
/** Applies events in turn, as applyStopTransition does; throws on a refused one. */
function run(row: StopRow, ...events: StopEvent[]): StopRow {
  return events.reduce((r, e) => {
    const s = step(r, e);
    if (!s.allowed) throw new Error(`${e.type} refused in ${s.from}`);
    return { ...r, ...s.next };
  }, row);
}

describe('stop machine: the state of a row, from its columns', () => {
  it('every fixture reads as the state it stands for', () => {
    for (const state of STOP_STATES) expect(stopStateOf(ROWS[state])).toBe(state);
  });

  it.each<[string, Partial<StopRow>, StopState]>([
    ['a new row', {}, 'pending'],
    ['sent, nothing heard (or the process died with it in flight)', { status: 'unknown', sent_at: SENT }, 'sending'],
    ['sent, a failure heard', { status: 'unknown', sent_at: SENT, last_error: 'timeout', attempts: 1 }, 'unknown'],
    ['confirmed', { status: 'confirmed', broker_order_id: 'o1' }, 'working'],
    ['confirmed, a replacement of it confirmed (v2)', { status: 'confirmed', broker_order_id: 'o3', version: 2 }, 'working'],
    ['a resize to send (next version, the old order kept)', { status: 'pending', broker_order_id: 'o1', version: 1 }, 'replacing'],
    ['a resize sent', { status: 'unknown', broker_order_id: 'o1', version: 1, sent_at: SENT }, 'replacing'],
    ['a re-armed stop (next version, no order)', { status: 'pending', version: 1 }, 'pending'],
    ['cancel asked for while confirmed', { status: 'confirmed', cancel_requested: 1 }, 'cancelling'],
    ['cancel asked for while sending', { status: 'unknown', sent_at: SENT, cancel_requested: 1 }, 'cancelling'],
    ['cancel asked for while refused', { status: 'rejected', cancel_requested: 1 }, 'cancelling'],
    ['refused (status rejected)', { status: 'rejected', last_error: 'invalid: x' }, 'refused'],
    ['done, its cancel flag still set', { status: 'done', cancel_requested: 1 }, 'done'],
    // What versions before the machine wrote after a refusal: pending with the error; tried again as pending.
    ['legacy refusal (pending with an error)', { status: 'pending', attempts: 2, last_error: 'insufficient qty' }, 'pending'],
  ])('%s', (_name, cols, state) => {
    expect(stopStateOf({ ...base, ...cols })).toBe(state);
  });
});

describe('stop machine: the transition table', () => {
  const allowed = new Map(ALLOWED.map(([s, e, to, fx]) => [`${s}/${e}`, { to, fx }]));

  it('lists each state/event pair once, and exactly the events each state accepts', () => {
    expect(allowed.size).toBe(ALLOWED.length);
    for (const state of STOP_STATES) {
      const listed = [...ALLOWED, ...GUARDED_ONLY].filter(([s]) => s === state).map(([, e]) => e);
      expect(acceptedEvents(state).sort()).toEqual([...listed].sort());
    }
  });

  it.each(ALLOWED)('%s + %s → %s', (state, type, to, effects) => {
    const row = ROWS[state];
    const s = step(row, EVENTS[type](row));
    expect(s).toMatchObject({ allowed: true, from: state, to });
    expect(s.effects.map((e) => e.type)).toEqual(effects);
  });

  const refused = STOP_STATES.flatMap((state) => EVENT_TYPES.filter((type) => !allowed.has(`${state}/${type}`)).map((type) => [state, type] as const));
  it.each(refused)('%s refuses %s: nothing changes', (state, type) => {
    const row = ROWS[state];
    expect(step(row, EVENTS[type](row))).toEqual({ allowed: false, from: state, to: state, next: {}, effects: [] });
  });
});

describe('stop machine: guards', () => {
  it('is not due before next_attempt_at', () => {
    const waiting = { ...ROWS.refused, next_attempt_at: NOW + 1 };
    expect(step(waiting, { type: 'due' }).allowed).toBe(false);
    expect(step(waiting, { type: 'due' }, NOW + 1).allowed).toBe(true);
  });

  it('refuses a send prepared from a row that changed since (resized, canceled, moved on)', () => {
    const basis = stopBasis(base);
    const send: StopEvent = { type: 'sendStarted', clientOrderId: 'ct-stop-e1', basis, qty: '10', stopPrice: null };
    expect(step(base, send).allowed).toBe(true);
    expect(step({ ...base, cut_qty: '3' }, send).allowed).toBe(false);
    expect(step({ ...base, cancel_requested: 1 }, send).allowed).toBe(false);
    expect(step({ ...base, version: 1, current_client_order_id: 'ct-stop-e1-v1' }, send).allowed).toBe(false);
    expect(step({ ...base, status: 'unknown', sent_at: SENT }, send).allowed).toBe(false);
  });

  it('refuses outcomes about another client order id (an older version) or a send never made', () => {
    const moved = { ...ROWS.sending, version: 1, current_client_order_id: 'ct-stop-e1-v1' };
    for (const type of ['accepted', 'refused', 'outcomeUnknown', 'duplicate', 'lookupFound', 'lookupAbsent', 'cancelConfirmed'] as const) {
      expect(step(moved, EVENTS[type](ROWS.sending)).allowed).toBe(false);
    }
    const unsent = { ...ROWS.replacing, sent_at: null, status: 'pending' as const };
    expect(stopStateOf(unsent)).toBe('replacing');
    expect(step(unsent, EVENTS.accepted(unsent)).allowed).toBe(false);
    expect(step(unsent, { type: 'due' }).effects).toEqual([{ type: 'place', clientOrderId: 'ct-stop-e1-v1', replaces: 'o1', rearm: false }]);
  });

  it("an unfilled end of another order is not the stop's: refused; a fill of any of its orders is", () => {
    const other: StopEvent = { type: 'orderFinished', orderId: 'o-old', clientOrderId: 'ct-stop-e1-v0', outcome: 'canceled' };
    expect(step(working, other).allowed).toBe(false);
    // A fill ends the stop once its own fill has cut all it wants (the commit cuts before the order ends)…
    expect(step({ ...working, cut_qty: '10' }, { ...other, outcome: 'filled' })).toMatchObject({ allowed: true, to: 'done' });
    // …and when it still wants more (its resize to 10 lost the race to the fill of 4:
    // order_replace_rejected), what is left is protected again under the next client order id.
    expect(step({ ...working, cut_qty: '4' }, { ...other, outcome: 'filled' })).toMatchObject({
      allowed: true,
      to: 'pending',
      next: { version: 1, current_client_order_id: 'ct-stop-e1-v1', broker_order_id: null },
    });
    expect(step(ROWS.cancelling, { ...other, outcome: 'filled' })).toMatchObject({ allowed: true, to: 'done' });
  });

  it('a replaced order is the worker’s own resize — except for a refused stop, whose replace target went away', () => {
    expect(step(ROWS.replacing, { type: 'orderFinished', orderId: 'o1', clientOrderId: 'ct-stop-e1', outcome: 'replaced' }).allowed).toBe(false);
    const refusedReplace = { ...ROWS.replacing, status: 'rejected' as const, sent_at: null, last_error: 'invalid: order is not open', attempts: 1, next_attempt_at: NOW + 60_000 };
    const s = step(refusedReplace, { type: 'orderFinished', orderId: 'o1', clientOrderId: 'ct-stop-e1', outcome: 'replaced' });
    expect(s).toMatchObject({ allowed: true, to: 'refused', next: { version: 2, current_client_order_id: 'ct-stop-e1-v2', broker_order_id: null, next_attempt_at: 0 } });
  });
});

describe('stop machine: fractional equities (Alpaca: fractional orders are day-only, cannot trail, and their qty cannot be replaced)', () => {
  const frac = (qty: string, cut = '0') => ({ payload: JSON.stringify(ask(qty)), cut_qty: cut });
  const part = (qty: string, cut = '0') => ({ payload: JSON.stringify(ask(qty, { clientOrderId: 'ct-stop-e1-f', part: 'fraction' })), cut_qty: cut });

  it('an entry of one share or more: whole shares on its trailing stop, the fraction on its fraction stop; under one share, all on the first', () => {
    expect([wantedOf(frac('2.5')), wantedOf(part('2.5'))]).toEqual(['2', '0.5']);
    expect([wantedOf(frac('3')), wantedOf(part('3'))]).toEqual(['3', '0']);
    expect([wantedOf(frac('0.4')), wantedOf(part('0.4'))]).toEqual(['0.4', '0']);
    expect([wantedOf(frac('2.5', '1.75')), wantedOf(part('2.5', '1.75'))]).toEqual(['0.75', '0']);
    // Crypto has no such split: the coin quantity is all one stop's.
    expect(wantedOf({ payload: JSON.stringify(ask('2.5', { symbol: 'BTC/USD', assetClass: 'crypto' })), cut_qty: '0' })).toBe('2.5');
  });

  it('a working trailing stop for the whole shares of 2.5 is as wanted: no resize every recheck', () => {
    const whole = { ...working, payload: JSON.stringify(ask('2.5')), placed_qty: '2' };
    expect(step(whole, { type: 'due' })).toMatchObject({ allowed: true, next: { next_attempt_at: IDLE }, effects: [] });
  });

  it('a fractional stop is resized by cancel-and-replace: DELETE, then the next version is placed as a new order', () => {
    const day = { ...working, client_order_id: 'ct-stop-e1-f', current_client_order_id: 'ct-stop-e1-f', payload: part('2.5').payload, placed_qty: '0.5', cut_qty: '0.25' };
    const s = step(day, { type: 'due' });
    expect(s).toMatchObject({ allowed: true, to: 'working', effects: [{ type: 'delete', orderId: 'o1', clientOrderId: 'ct-stop-e1-f' }] });
    const gone = step(day, { type: 'cancelConfirmed', clientOrderId: 'ct-stop-e1-f', orderId: 'o1' });
    expect(gone).toMatchObject({ allowed: true, to: 'pending', next: { version: 1, current_client_order_id: 'ct-stop-e1-f-v1', broker_order_id: null } });
    // So does a whole-share trailing stop whose entry is now under one share (it becomes a day stop).
    const shrunk = { ...working, payload: JSON.stringify(ask('2.5')), placed_qty: '2', cut_qty: '2' };
    expect(step(shrunk, { type: 'due' }).effects).toEqual([{ type: 'delete', orderId: 'o1', clientOrderId: 'ct-stop-e1' }]);
    // A whole-share resize is still a PATCH (place under the next id, replacing o1).
    const grown = { ...working, payload: JSON.stringify(ask('12.5')) };
    expect(step(grown, { type: 'due' }).effects).toEqual([{ type: 'place', clientOrderId: 'ct-stop-e1-v1', replaces: 'o1', rearm: false }]);
  });

  it('a refusal is retried when its cause goes away (an order of the symbol ended) only if that order could have caused it', () => {
    const wash = { ...ROWS.refused, last_error: 'wash_trade: potential wash trade detected. use complex orders', next_attempt_at: NOW + 9000 };
    expect(step(wash, { type: 'causeGone' })).toMatchObject({ allowed: true, next: { next_attempt_at: 0 } });
    const invalid = { ...ROWS.refused, last_error: 'invalid: stop price must be positive', next_attempt_at: NOW + 9000 };
    expect(step(invalid, { type: 'causeGone' }).allowed).toBe(false);
  });
});

describe("stop machine: the operator's trail (PATCH /stops/:entry_order_id)", () => {
  it('a working trailing stop placed with another trail is replaced; an ask for a quantity keeps the trail', () => {
    const placed = { ...working, placed_trail_percent: '2' };
    const retrail = step(placed, { type: 'asked', ask: ask('10', { trailPercent: '3.5' }) });
    const row = { ...placed, ...retrail.next };
    expect(JSON.parse(row.payload).trailPercent).toBe('3.5');
    expect(step(row, { type: 'due' }).effects).toEqual([{ type: 'place', clientOrderId: 'ct-stop-e1-v1', replaces: 'o1', rearm: false }]);
    // The order machine's re-ask (a quantity, no trail) leaves the operator's trail in place.
    const reasked = { ...row, ...step(row, { type: 'asked', ask: ask('10') }).next };
    expect(JSON.parse(reasked.payload).trailPercent).toBe('3.5');
    // Placed with it: nothing more to do.
    expect(step({ ...reasked, placed_trail_percent: '3.50' }, { type: 'due' })).toMatchObject({ effects: [], next: { next_attempt_at: IDLE } });
  });
});

describe('stop machine: a replace that changes nothing', () => {
  const crypto = (qty: string, over: Partial<StopAsk> = {}) => ask(qty, { symbol: 'BTC/USD', assetClass: 'crypto', entryOrderId: 'e1', ...over });
  const btc: StopRow = { ...base, symbol: 'BTC/USD', ...initialStop(crypto('0.1')) };

  it('a fee-net crypto stop on its grid is as wanted: no replace (0.09975 wanted, 0.0997 placed, increment 0.0001)', () => {
    let row = run(btc, { type: 'cut', cutQty: '0.00025', wake: true }, { type: 'due' });
    row = run(row, { type: 'sendStarted', clientOrderId: 'ct-stop-e1', basis: stopBasis(row), qty: '0.0997', stopPrice: '60000', qtyIncrement: '0.0001' });
    expect(JSON.parse(row.payload).qtyIncrement).toBe('0.0001');
    row = run(row, { type: 'accepted', clientOrderId: 'ct-stop-e1', order: order({ orderId: 'o1', qty: '0.0997', type: 'stop_limit', stopPrice: '60000', trailPercent: null }) });
    expect(row).toMatchObject({ status: 'confirmed', placed_qty: '0.0997', next_attempt_at: 0 });
    expect(wantedOf(row)).toBe('0.0997');
    expect(step(row, { type: 'due' })).toMatchObject({ effects: [], next: { next_attempt_at: IDLE } });
    // A later ask (a quantity, no increment) keeps the increment: still as wanted.
    row = run(row, { type: 'asked', ask: crypto('0.1') });
    expect(step(row, { type: 'due' }).effects).toEqual([]);
  });

  it('unchanged (found before sending, or Alpaca\'s 403 "order parameters are not changed") goes back to the working order, idle', () => {
    const shrunk = run(working, { type: 'cut', cutQty: '1', wake: true }, { type: 'due' });
    expect(shrunk).toMatchObject({ version: 1, current_client_order_id: 'ct-stop-e1-v1' });
    for (const row of [shrunk, run(shrunk, EVENTS.sendStarted(shrunk))]) {
      const back = step(row, { type: 'unchanged', clientOrderId: 'ct-stop-e1-v1' });
      expect(back).toMatchObject({ allowed: true, to: 'working', effects: [] });
      expect({ ...row, ...back.next }).toMatchObject({ status: 'confirmed', version: 0, current_client_order_id: 'ct-stop-e1', broker_order_id: 'o1', placed_qty: '10', last_error: null });
      // Not short of what it wants (10 placed, 9 wanted): idle until something changes it.
      expect(back.next.next_attempt_at).toBe(IDLE);
      // About another client order id: refused.
      expect(step(row, { type: 'unchanged', clientOrderId: 'ct-stop-e1' }).allowed).toBe(false);
    }
    // A stop placed short of what it wants looks again later, not at once and not never.
    const short = run({ ...working, placed_qty: '8' }, { type: 'due' });
    expect(step(short, { type: 'unchanged', clientOrderId: 'ct-stop-e1-v1' }).next.next_attempt_at).toBe(NOW + SHORT_RECHECK_MS);
  });
});

describe('stop machine: a replace whose answer is lost', () => {
  it('is looked up within 2 s, and its working order keeps its place meanwhile', () => {
    const sent = run(working, { type: 'cut', cutQty: '4', wake: true }, { type: 'due' });
    const inFlight = run(sent, EVENTS.sendStarted(sent));
    const lost = step(inFlight, { type: 'outcomeUnknown', clientOrderId: 'ct-stop-e1-v1', reason: 'send failed: ECONNRESET' });
    expect(lost.to).toBe('replacing');
    const row = { ...inFlight, ...lost.next };
    expect(row.next_attempt_at - NOW).toBeLessThanOrEqual(2000);
    // The working order is still the stop's until the lookup says otherwise (coverage counts it).
    expect(row).toMatchObject({ broker_order_id: 'o1', placed_qty: '10' });
    expect(step(row, { type: 'due' }, row.next_attempt_at).effects).toEqual([{ type: 'lookup', clientOrderId: 'ct-stop-e1-v1' }]);
  });
});

describe('stop machine: what each step writes and asks for', () => {
  it('a life: placed, resized by PATCH, canceled, re-armed under the next id', () => {
    let row = run(base, { type: 'due' });
    const send = step(row, { type: 'sendStarted', clientOrderId: 'ct-stop-e1', basis: stopBasis(row), qty: '10', stopPrice: null });
    // sent_at is committed with the step that asks for the POST: a crash after it is looked up.
    expect(send.next).toMatchObject({ status: 'unknown', sent_at: new Date(NOW).toISOString(), last_error: null });
    expect(send.effects).toEqual([{ type: 'post', clientOrderId: 'ct-stop-e1', qty: '10', stopPrice: null }]);
    row = run(row, EVENTS.sendStarted(row), { type: 'accepted', clientOrderId: 'ct-stop-e1', order: order({ orderId: 'o1' }) });
    expect(row).toMatchObject({ status: 'confirmed', broker_order_id: 'o1', placed_qty: '10', attempts: 0, next_attempt_at: 0 });
    // Satisfied: idle until something changes it.
    expect(step(row, { type: 'due' }).next).toEqual({ next_attempt_at: IDLE });
    // An exit shrinks it: a replace under -v1 of the working order.
    row = run(row, { type: 'cut', cutQty: '4', wake: true });
    const replace = step(row, { type: 'due' });
    expect(replace).toMatchObject({ to: 'replacing', next: { version: 1, current_client_order_id: 'ct-stop-e1-v1', status: 'pending', sent_at: null } });
    expect(replace.effects).toEqual([{ type: 'place', clientOrderId: 'ct-stop-e1-v1', replaces: 'o1', rearm: false }]);
    row = run(row, { type: 'due' });
    expect(step(row, EVENTS.sendStarted(row)).effects).toEqual([{ type: 'patch', orderId: 'o1', clientOrderId: 'ct-stop-e1-v1', qty: '10', stopPrice: null }]);
    row = run(row, EVENTS.sendStarted(row), { type: 'accepted', clientOrderId: 'ct-stop-e1-v1', order: order({ orderId: 'o2', clientOrderId: 'ct-stop-e1-v1', qty: '6' }) });
    expect(row).toMatchObject({ status: 'confirmed', broker_order_id: 'o2', current_client_order_id: 'ct-stop-e1-v1', placed_qty: '6', version: 1 });
    // The position closes: the order is deleted, the stop is done.
    row = run(row, { type: 'cancelRequested' });
    expect(step(row, { type: 'due' }).effects).toEqual([{ type: 'delete', orderId: 'o2', clientOrderId: 'ct-stop-e1-v1' }]);
    row = run(row, { type: 'due' }, { type: 'cancelConfirmed', clientOrderId: 'ct-stop-e1-v1', orderId: 'o2' });
    expect(row).toMatchObject({ status: 'done', next_attempt_at: IDLE });
    // Its order opens a position again: a new stop under the next client order id.
    row = run(row, { type: 'rearmed', ask: ask('3'), cut: '0' });
    expect(row).toMatchObject({ status: 'pending', version: 2, current_client_order_id: 'ct-stop-e1-v2', broker_order_id: null, sent_at: null, placed_qty: null, cancel_requested: 0 });
    expect(stopStateOf(row)).toBe('pending');
  });

  it('a refusal is recorded with its kind and a capped, growing backoff, and tells the entry', () => {
    const row = ROWS.sending;
    const s = step(row, { type: 'refused', clientOrderId: 'ct-stop-e1', kind: 'insufficient_qty', message: 'insufficient qty available for order' });
    expect(s.next).toEqual({ status: 'rejected', sent_at: null, attempts: 1, last_error: 'insufficient_qty: insufficient qty available for order', next_attempt_at: NOW + 1000 });
    expect(s.effects).toEqual([
      { type: 'announce', outcome: 'rejected', entryOrderId: 'e1', reason: 'insufficient qty available for order' },
      { type: 'backoff', until: NOW + 1000 },
    ]);
    const again = step({ ...row, attempts: 4 }, { type: 'refused', clientOrderId: 'ct-stop-e1', kind: 'invalid', message: 'qty must be > 0' });
    expect(again.next).toMatchObject({ attempts: 5, last_error: 'invalid: qty must be > 0', next_attempt_at: NOW + 16_000 });
  });

  it('a refused stop is woken by a changed ask or a resize, not by the same ask again', () => {
    const refused = { ...ROWS.refused, next_attempt_at: NOW + 30_000 };
    expect(step(refused, { type: 'asked', ask: ask('10') }).next).toEqual({ payload: JSON.stringify(ask('10')) });
    expect(step(refused, { type: 'asked', ask: ask('12') }).next).toMatchObject({ next_attempt_at: 0 });
    expect(step(refused, { type: 'cut', cutQty: '1', wake: true }).next).toMatchObject({ next_attempt_at: 0 });
    // A restart does not retry it: it keeps its backoff.
    expect(step(refused, { type: 'restarted' }).allowed).toBe(false);
    // Its retry goes out under the same client order id (nothing was placed).
    expect(step(ROWS.refused, { type: 'due' }).effects).toEqual([{ type: 'place', clientOrderId: 'ct-stop-e1', replaces: null, rearm: false }]);
  });

  it('a refused replace looks at the order it was for: filled → done; gone → a new order now', () => {
    const s = step(ROWS.replacing, EVENTS.refused(ROWS.replacing));
    expect(s.effects).toContainEqual({ type: 'fetchOrder', orderId: 'o1', clientOrderId: 'ct-stop-e1-v1', purpose: 'replaceTarget' });
    const refused = run(ROWS.replacing, EVENTS.refused(ROWS.replacing));
    expect(stopStateOf(refused)).toBe('refused');
    expect(step({ ...refused, cut_qty: '12' }, { type: 'orderFinished', orderId: 'o1', clientOrderId: 'ct-stop-e1', outcome: 'filled' })).toMatchObject({ to: 'done' });
    expect(step(refused, { type: 'orderFinished', orderId: 'o1', clientOrderId: 'ct-stop-e1', outcome: 'canceled' })).toMatchObject({
      to: 'refused',
      next: { version: 2, broker_order_id: null, status: 'rejected', next_attempt_at: 0 },
    });
  });

  it('an unknown outcome is probed by client order id, backing off; never assumed absent', () => {
    const s = step(ROWS.sending, { type: 'outcomeUnknown', clientOrderId: 'ct-stop-e1', reason: 'timeout' });
    expect(s).toMatchObject({ to: 'unknown', next: { status: 'unknown', attempts: 1, last_error: 'timeout', next_attempt_at: NOW + retryBackoffMs(1) } });
    expect(step({ ...ROWS.sending, ...s.next }, { type: 'due' }, NOW + 60_000).effects).toEqual([{ type: 'lookup', clientOrderId: 'ct-stop-e1' }]);
  });

  it('a 404 within the grace period is looked up again a second later; past it, the stop is sent again', () => {
    const justSent = { ...ROWS.sending, sent_at: new Date(NOW - 2000).toISOString() };
    expect(step(justSent, EVENTS.lookupAbsent(justSent))).toMatchObject({ next: { next_attempt_at: NOW + 1000 }, effects: [{ type: 'backoff', until: NOW + 1000 }] });
    expect(step(ROWS.sending, EVENTS.lookupAbsent(ROWS.sending)).effects).toEqual([{ type: 'place', clientOrderId: 'ct-stop-e1', replaces: null, rearm: false }]);
    // Cancelling: a send that never showed up past the grace period left nothing to cancel.
    const cancelSent = { ...ROWS.sending, cancel_requested: 1 };
    expect(step(cancelSent, EVENTS.lookupAbsent(cancelSent))).toMatchObject({ to: 'done', effects: [] });
  });

  it('a found order: live adopted, filled done, replaced followed to its replacement, gone placed again', () => {
    const r = ROWS.unknown;
    expect(step(r, { type: 'lookupFound', clientOrderId: 'ct-stop-e1', order: order({ status: 'done_for_day' }) }).effects[0]).toMatchObject({ type: 'announce', how: 'adopted' });
    expect(step(r, { type: 'lookupFound', clientOrderId: 'ct-stop-e1', order: order({ status: 'filled' }) })).toMatchObject({ to: 'done', next: { broker_order_id: 'o2' } });
    const replaced = step(r, { type: 'lookupFound', clientOrderId: 'ct-stop-e1', order: order({ status: 'replaced', replacedBy: 'o5' }) });
    expect(replaced.effects).toEqual([{ type: 'fetchOrder', orderId: 'o5', clientOrderId: 'ct-stop-e1', purpose: 'replacement' }]);
    const deadReplacement = step(r, { type: 'lookupFound', clientOrderId: 'ct-stop-e1', order: order({ orderId: 'o5', status: 'canceled' }), replacement: true });
    expect(deadReplacement).toMatchObject({ to: 'pending', next: { version: 1, current_client_order_id: 'ct-stop-e1-v1', broker_order_id: null } });
  });

  it('placed short of what it wants (another order holds the rest): grows later', () => {
    const s = step(ROWS.sending, { type: 'accepted', clientOrderId: 'ct-stop-e1', order: order({ qty: '6' }) });
    expect(s.next).toMatchObject({ placed_qty: '6', next_attempt_at: NOW + 30_000 });
    expect(s.effects).toEqual([{ type: 'announce', outcome: 'accepted', entryOrderId: 'e1', order: order({ qty: '6' }), placedQty: '6', how: 'placed' }]);
  });

  it('asked for more while its send was out (a fill grew the position): resized at once, not in 30 s', () => {
    // Sent for 4; the entry's next fill asks for 10 before the broker's answer.
    const sent = run({ ...base, payload: JSON.stringify(ask('4')) }, { type: 'due' });
    const out = step(sent, { type: 'sendStarted', clientOrderId: 'ct-stop-e1', basis: stopBasis(sent), qty: '4', stopPrice: null });
    const inFlight = { ...sent, ...out.next };
    expect(inFlight.next_attempt_at).toBe(NOW);
    const grown = run(inFlight, { type: 'asked', ask: ask('10') });
    const s = step(grown, { type: 'accepted', clientOrderId: 'ct-stop-e1', order: order({ qty: '4' }) }, NOW + 5);
    expect(s.next).toMatchObject({ placed_qty: '4', next_attempt_at: 0 });
    // Due at once: the working order is replaced for 10.
    const working4 = { ...grown, ...s.next };
    expect(step(working4, { type: 'due' }, NOW + 6).effects).toEqual([expect.objectContaining({ type: 'place' })]);
    // Asked again for the same while it was out (another source's report of the same fill): no wake,
    // so a stop sent short for want of coins waits as before.
    const same = run(inFlight, { type: 'asked', ask: ask('4') });
    expect(same.next_attempt_at).toBe(NOW);
    // Not asked for more meanwhile: the same answer waits, as a stop short for want of shares does.
    expect(step(inFlight, { type: 'accepted', clientOrderId: 'ct-stop-e1', order: order({ qty: '3' }) }, NOW + 5).next.next_attempt_at).toBe(NOW + 5 + 30_000);
  });

  it('an order of its symbol ended while its send was out (it held the shares): placed short, then resized at once', () => {
    // Sent for 6 while another stop of the symbol held 3 of the 6 shares; that stop's cancel lands before the answer.
    const sent = run({ ...base, payload: JSON.stringify(ask('6')) }, { type: 'due' });
    const inFlight = { ...sent, ...step(sent, { type: 'sendStarted', clientOrderId: 'ct-stop-e1', basis: stopBasis(sent), qty: '6', stopPrice: null }).next };
    const woken = run(inFlight, { type: 'causeGone' });
    expect(woken.next_attempt_at).toBe(0);
    const s = step(woken, { type: 'accepted', clientOrderId: 'ct-stop-e1', order: order({ qty: '3' }) }, NOW + 5);
    expect(s.next).toMatchObject({ placed_qty: '3', next_attempt_at: 0 });
    // Before the send went out, nothing is marked.
    expect(step(base, { type: 'causeGone' }).allowed).toBe(false);
  });

  it('accepted while its cancel was asked for: deleted at once', () => {
    const cancelSent = { ...ROWS.sending, cancel_requested: 1 };
    const s = step(cancelSent, { type: 'accepted', clientOrderId: 'ct-stop-e1', order: order() });
    expect(s).toMatchObject({ to: 'cancelling', next: { status: 'confirmed', broker_order_id: 'o2' } });
    expect(s.effects[1]).toEqual({ type: 'delete', orderId: 'o2', clientOrderId: 'ct-stop-e1' });
  });

  it('a cancel withdrawn keeps the order (resized later); landing after the withdrawal starts a new version', () => {
    const withdrawn = run(ROWS.cancelling, { type: 'rearmed', ask: ask('6'), cut: '0' });
    expect(withdrawn).toMatchObject({ status: 'confirmed', broker_order_id: 'o1', cancel_requested: 0, next_attempt_at: 0 });
    expect(step(withdrawn, { type: 'cancelConfirmed', clientOrderId: 'ct-stop-e1', orderId: 'o1' })).toMatchObject({
      to: 'pending',
      next: { version: 1, current_client_order_id: 'ct-stop-e1-v1', broker_order_id: null, sent_at: null },
    });
    const refusedThenCanceled = { ...ROWS.refused, cancel_requested: 1 };
    expect(run(refusedThenCanceled, { type: 'rearmed', ask: ask('6'), cut: '0' })).toMatchObject({ status: 'pending', last_error: null, attempts: 0 });
  });

  it('a lost stop (canceled, expired or rejected unfilled) is placed again under its next id; one being canceled is left to the worker', () => {
    const lost = step(working, { type: 'orderFinished', orderId: 'o1', clientOrderId: 'ct-stop-e1', outcome: 'expired' });
    expect(lost).toMatchObject({ to: 'pending', next: { version: 1, current_client_order_id: 'ct-stop-e1-v1', broker_order_id: null, next_attempt_at: 0 } });
    expect(step(ROWS.cancelling, { type: 'orderFinished', orderId: 'o1', clientOrderId: 'ct-stop-e1', outcome: 'canceled' }).allowed).toBe(false);
  });

  it('cancelling: an unconfirmed send is found first; nothing placed ends it at once', () => {
    expect(step({ ...ROWS.sending, cancel_requested: 1 }, { type: 'due' }).effects).toEqual([{ type: 'lookup', clientOrderId: 'ct-stop-e1' }]);
    expect(step({ ...base, cancel_requested: 1 }, { type: 'due' })).toMatchObject({ to: 'done', effects: [] });
    expect(step({ ...ROWS.replacing, status: 'rejected', sent_at: null, cancel_requested: 1 }, { type: 'due' }).effects).toEqual([
      { type: 'delete', orderId: 'o1', clientOrderId: 'ct-stop-e1-v1' },
    ]);
  });

  it('a crypto stop whose target the ratchet raised is replaced; placed at the target it is satisfied', () => {
    const crypto = { ...working, payload: JSON.stringify(ask('0.5', { symbol: 'BTC/USD', assetClass: 'crypto' })), placed_qty: '0.5', placed_stop_price: '58800' };
    const raised = run(crypto, { type: 'raised', stopPrice: '61740' });
    expect(raised).toMatchObject({ target_stop_price: '61740', next_attempt_at: 0 });
    expect(step(raised, { type: 'due' }).to).toBe('replacing');
    expect(step({ ...raised, placed_stop_price: '61740' }, { type: 'due' }).next).toEqual({ next_attempt_at: IDLE });
    expect(step(ROWS.cancelling, { type: 'raised', stopPrice: '1' }).allowed).toBe(false);
  });

  it('wantedOf: the ask less the cut, never below zero', () => {
    expect(wantedOf({ payload: JSON.stringify(ask('10')), cut_qty: '3' })).toBe('7');
    expect(wantedOf({ payload: JSON.stringify(ask('10')), cut_qty: '12' })).toBe('0');
  });
});

describe("stop machine: Alpaca's aged-order deadline (a GTC order is canceled 90 days after it was created)", () => {
  const aging = (brokerNow: number) => ({ type: 'aging' as const, brokerNow, rearmBeforeMs: REARM_BEFORE_MS });

  it('a working stop within the window is replaced under the next id (a re-arm), due at once; outside it, or without a deadline, nothing', () => {
    const s = step(ROWS.working, aging(NOW));
    expect(s).toMatchObject({ allowed: true, to: 'replacing', next: { version: 1, current_client_order_id: 'ct-stop-e1-v1', status: 'pending', sent_at: null, next_attempt_at: 0 } });
    expect(s.effects).toEqual([{ type: 'place', clientOrderId: 'ct-stop-e1-v1', replaces: 'o1', rearm: true }]);
    // 25 hours before the deadline, with a 24-hour window: not yet.
    expect(step(ROWS.working, aging(Date.parse(EXPIRES) - 25 * 3_600_000)).allowed).toBe(false);
    expect(step({ ...ROWS.working, expires_at: null }, aging(NOW)).allowed).toBe(false);
    // A fractional `day` stop is never aged (and could only be re-armed by cancel, uncovering it).
    expect(step({ ...ROWS.working, payload: JSON.stringify(ask('0.5')), placed_qty: '0.5' }, aging(NOW)).allowed).toBe(false);
  });

  it('a re-arm resumed after a crash or a refusal is still a re-arm; a resize is not', () => {
    const rearming = run(ROWS.working, aging(NOW));
    expect(step(rearming, { type: 'due' }).effects).toEqual([{ type: 'place', clientOrderId: 'ct-stop-e1-v1', replaces: 'o1', rearm: true }]);
    const resizing = { ...ROWS.replacing, status: 'pending' as const, sent_at: null };
    expect(step(resizing, { type: 'due' }).effects).toEqual([{ type: 'place', clientOrderId: 'ct-stop-e1-v1', replaces: 'o1', rearm: false }]);
  });

  it("the replacement's deadline comes with its answer; a new order starts without one", () => {
    const rearming = run(ROWS.working, aging(NOW), EVENTS.sendStarted(run(ROWS.working, aging(NOW))));
    const renewed = run(rearming, { type: 'accepted', clientOrderId: 'ct-stop-e1-v1', order: order({ orderId: 'o2', clientOrderId: 'ct-stop-e1-v1', expiresAt: '2026-05-31T20:15:00.000Z' }) });
    expect(renewed).toMatchObject({ status: 'confirmed', broker_order_id: 'o2', expires_at: '2026-05-31T20:15:00.000Z' });
    expect(step(renewed, aging(NOW)).allowed).toBe(false);
    // Lost (canceled, expired): the next version has no order, so no deadline.
    const lost = run(ROWS.working, { type: 'orderFinished', orderId: 'o1', clientOrderId: 'ct-stop-e1', outcome: 'expired' });
    expect(lost).toMatchObject({ status: 'pending', version: 1, expires_at: null });
  });

  it("an expiry read is kept only for the stop's current order, and only when it differs", () => {
    const read = (orderId: string, expiresAt: string) => step(ROWS.working, { type: 'expiryRead', orderId, expiresAt });
    expect(read('o1', '2026-06-01T20:15:00.000Z')).toMatchObject({ allowed: true, to: 'working', next: { expires_at: '2026-06-01T20:15:00.000Z' }, effects: [] });
    expect(read('o1', EXPIRES).allowed).toBe(false);
    // The replacement's own deadline, before the replace was accepted: not this order's.
    expect(read('o2', '2026-06-01T20:15:00.000Z').allowed).toBe(false);
  });
});

describe('refusals: classified, backed off, budgeted', () => {
  it.each<[number, string, string | null]>([
    [403, 'insufficient balance for BTC/USD (requested: 0.5, available: 0.3)', 'insufficient_qty'],
    [403, 'insufficient qty available for order (requested: 10, available: 0)', 'insufficient_qty'],
    [403, 'forbidden', 'forbidden'],
    [403, 'potential wash trade detected. use complex orders', 'wash_trade'],
    [403, 'trade denied due to pattern day trading protection', 'pdt'],
    [422, 'fractional orders must be DAY orders', 'fractional'],
    [422, 'fractional orders must be market, limit, stop, or stop_limit orders', 'fractional'],
    [401, 'unauthorized', 'forbidden'],
    [422, 'trail must be < 100', 'invalid'],
    [422, 'order is not open', 'invalid'],
    [400, 'failed to decode request body', 'invalid'],
    [409, 'conflict', 'unknown'],
    // Not refusals: a duplicate is adopted; a 404 is for the lookup to decide; 408/429/5xx are unknown.
    [422, 'client_order_id must be unique', null],
    [404, 'order not found', null],
    [408, 'timeout', null],
    [429, 'rate limit exceeded', null],
    [500, 'internal error', null],
    [503, 'unavailable', null],
  ])('%i %s → %s', (status, message, kind) => {
    expect(classifyRefusal(status, message)).toBe(kind);
  });

  it('backs off 1 s, doubling, never beyond a minute (5 for invalid / forbidden)', () => {
    expect([1, 2, 3, 4].map((a) => refusalBackoffMs('insufficient_qty', a))).toEqual([1000, 2000, 4000, 8000]);
    for (let a = 1; a < 100; a++) {
      expect(refusalBackoffMs('insufficient_qty', a)).toBeLessThanOrEqual(60_000);
      expect(refusalBackoffMs('unknown', a)).toBeLessThanOrEqual(60_000);
      expect(refusalBackoffMs('invalid', a)).toBeLessThanOrEqual(300_000);
      expect(refusalBackoffMs('forbidden', a)).toBeLessThanOrEqual(300_000);
      expect(refusalBackoffMs('invalid', a + 1)).toBeGreaterThanOrEqual(refusalBackoffMs('invalid', a));
    }
    expect(refusalBackoffMs('invalid', 50)).toBe(300_000);
    // A wash-trade block clears when the user's crossing order goes: retried within 10 s.
    expect(refusalBackoffMs('wash_trade', 50)).toBe(10_000);
  });

  it('at most 10 retries of refused stops per symbol per minute, whatever woke them', () => {
    const budget = new RefusedRetryBudget();
    const granted = (symbol: string, at: number) => budget.take(symbol, at) === null;
    for (let i = 0; i < 10; i++) expect(granted('AAPL', NOW + i)).toBe(true);
    expect(budget.take('AAPL', NOW + 100)).toBe(NOW + 60_000);
    expect(granted('MSFT', NOW + 100)).toBe(true);
    expect(granted('AAPL', NOW + 59_999)).toBe(false);
    expect(granted('AAPL', NOW + 60_000)).toBe(true);
  });
});

describe('one writer', () => {
  it('nothing in src/ writes an stops row but src/store/stops.ts (every write is a transition)', () => {
    const root = join(import.meta.dirname, '../../src');
    const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
    const writers = files(root)
      .filter((f) => f.endsWith('.ts') && relative(root, f) !== join('store', 'stops.ts'))
      .filter((f) => /updateStopRow\(|(updateTable|insertInto|deleteFrom)\(\s*'stops'|update\s+stops|insert\s+into\s+stops/i.test(readFileSync(f, 'utf8')));
    expect(writers.map((f) => relative(root, f))).toEqual([]);
  });
});

describe('stop actor (machines/stop.machine.ts): the statechart over the table', () => {
  const start = (row: StopRow) => createActor(stopMachine, { input: { row } }).start();

  it('starts in the state its row stands for', () => {
    for (const state of STOP_STATES) expect(start(ROWS[state]).getSnapshot().value).toBe(state);
  });

  it('takes exactly the transitions stopStep allows, to the state it names, with its patch and effects', () => {
    let taken = 0;
    for (const state of STOP_STATES) {
      for (const type of EVENT_TYPES) {
        const row = ROWS[state];
        const event = EVENTS[type](row);
        const actor = start(row);
        expect(actor.getSnapshot().can({ ...event, now: NOW })).toBe(stopStep(row, event, NOW).allowed);
        actor.send({ ...event, now: NOW });
        const snap = actor.getSnapshot();
        const s = stopStep(row, event, NOW);
        if (!s.allowed) {
          expect(snap.value, `${state} ${type}`).toBe(state);
          expect(snap.context.last).toBeNull();
          expect(snap.context.row).toBe(row);
          continue;
        }
        taken++;
        expect(snap.value, `${state} ${type}`).toBe(s.to);
        expect(snap.context.row).toEqual({ ...row, ...s.next });
        expect(snap.context.last).toEqual({ seq: 1, from: state, to: s.to, patch: s.next, effects: s.effects });
        expect(snap.hasTag('ended')).toBe(s.to === 'done');
      }
    }
    expect(taken).toBeGreaterThan(40);
  });

  it('a life as events of one actor: placed, accepted, canceled, confirmed done', () => {
    const actor = start(ROWS.pending);
    const send = (e: StopEvent) => actor.send({ ...e, now: NOW });
    send({ type: 'due' });
    expect(actor.getSnapshot().context.last?.effects).toEqual([{ type: 'place', clientOrderId: 'ct-stop-e1', replaces: null, rearm: false }]);
    send(EVENTS.sendStarted(actor.getSnapshot().context.row));
    expect(actor.getSnapshot().value).toBe('sending');
    send({ type: 'accepted', clientOrderId: 'ct-stop-e1', order: order({ orderId: 'o1' }) });
    expect(actor.getSnapshot().value).toBe('working');
    send({ type: 'cancelRequested' });
    expect(actor.getSnapshot().value).toBe('cancelling');
    send({ type: 'cancelConfirmed', clientOrderId: 'ct-stop-e1', orderId: 'o1' });
    expect(actor.getSnapshot().value).toBe('done');
    expect(actor.getSnapshot().context.last?.seq).toBe(5);
  });
});
