/**
 * The activity event stream's parsing (src/broker/activity-event-adapter.ts, src/broker/activity-events.ts):
 * a trade fill becomes the execution report the other sources make, identity (order_id, cum_qty) and
 * the execution id from `ref_id`; everything else is read past; malformed events are refused, never
 * thrown; SSE framing split anywhere reads the same.
 */
import { describe, expect, it } from 'vitest';
import { eventIdOf, parseActivityEvent } from '../src/broker/activity-event-adapter.js';
import { readSse, type SseItem } from '../src/broker/activity-events.js';

const trade = (over: Record<string, unknown> = {}, details: Record<string, unknown> = {}) => ({
  activity_type: 'TRD',
  at: '2026-03-02T15:00:00.123456Z',
  event_id: '01JNQ5P0000000000000000001',
  executed_at: '2026-03-02T15:00:00.120000Z',
  net_amount: '-300',
  price: '150.00',
  qty: '2',
  ref_id: 'exec-1',
  status: 'executed',
  details: { asset_id: 'a', client_order_id: 'c', commission: '0', cum_qty: '5.0', execution_type: 'partial_fill', leaves_qty: '5', order_id: 'o1', order_status: 'partially_filled', side: 'buy', symbol: 'BTCUSD', ...details },
  ...over,
});

describe('activity events → reports', () => {
  it('a trade fill is an execution of its order at details.cum_qty, with ref_id as its execution id', () => {
    const r = parseActivityEvent(trade());
    expect(r).toEqual({
      ok: true,
      value: {
        kind: 'fill',
        eventId: '01JNQ5P0000000000000000001',
        execution: {
          orderId: 'o1',
          symbol: 'BTC/USD',
          side: 'buy',
          source: 'event',
          cumQty: '5',
          qty: '2',
          price: '150',
          avgPrice: null,
          execId: '01JNQ5P0000000000000000001',
          executionId: 'exec-1',
          orderStatus: 'partially_filled',
          at: '2026-03-02T15:00:00.120000Z',
        },
      },
    });
  });

  it('a trade_bust is a change naming the execution it takes back (previous_id), under its own ref_id', () => {
    const r = parseActivityEvent(trade({ previous_id: 'exec-0', ref_id: 'exec-9', net_amount: '300' }, { execution_type: 'trade_bust', cum_qty: '3' }));
    expect(r).toEqual({
      ok: true,
      value: {
        kind: 'change',
        eventId: '01JNQ5P0000000000000000001',
        change: { type: 'bust', refId: 'exec-9', previousId: 'exec-0', qty: '2', price: '150', orderId: 'o1', symbol: 'BTC/USD', side: 'buy', at: '2026-03-02T15:00:00.120000Z' },
      },
    });
  });

  it('a trade_correct carries the new terms as a whole; a bust without qty or price is still a bust', () => {
    const r = parseActivityEvent(trade({ previous_id: 'exec-0', ref_id: 'exec-10', qty: '3.50', price: '149.5' }, { execution_type: 'trade_correct', symbol: 'AAPL' }));
    expect(r).toMatchObject({ ok: true, value: { kind: 'change', change: { type: 'correct', refId: 'exec-10', previousId: 'exec-0', qty: '3.5', price: '149.5', symbol: 'AAPL' } } });
    const bare = parseActivityEvent({ event_id: 'E7', activity_type: 'TRD', ref_id: 'x2', previous_id: 'x1', executed_at: '2026-03-02T15:00:00Z', details: { execution_type: 'trade_bust' } });
    expect(bare).toEqual({
      ok: true,
      value: { kind: 'change', eventId: 'E7', change: { type: 'bust', refId: 'x2', previousId: 'x1', qty: null, price: null, orderId: null, symbol: null, side: null, at: '2026-03-02T15:00:00Z' } },
    });
  });

  it.each([
    ['no previous_id', trade({ previous_id: undefined }, { execution_type: 'trade_bust' })],
    ['an empty previous_id', trade({ previous_id: '' }, { execution_type: 'trade_bust' })],
    ['no ref_id', trade({ previous_id: 'exec-0', ref_id: undefined }, { execution_type: 'trade_bust' })],
    ['a correction without its new qty', trade({ previous_id: 'exec-0', qty: undefined }, { execution_type: 'trade_correct' })],
    ['a correction with a price of 0', trade({ previous_id: 'exec-0', price: '0' }, { execution_type: 'trade_correct' })],
    ['a correction with a float qty', trade({ previous_id: 'exec-0', qty: 2.5 }, { execution_type: 'trade_correct' })],
    ['a change naming itself', trade({ previous_id: 'exec-1' }, { execution_type: 'trade_bust' })],
    ['a bad side', trade({ previous_id: 'exec-0' }, { execution_type: 'trade_bust', side: 'short' })],
    ['no time', trade({ previous_id: 'exec-0', executed_at: 'soon' }, { execution_type: 'trade_correct' })],
  ])('a malformed bust or correction (%s) is refused, never thrown', (_why, raw) => {
    const r = parseActivityEvent(raw);
    expect(r.ok).toBe(false);
    expect(eventIdOf(raw)).toBe('01JNQ5P0000000000000000001');
  });

  it('a crypto fee event is read past', () => {
    const r = parseActivityEvent({ activity_type: 'CFEE', event_id: 'E2', qty: '-0.000025', details: { symbol: 'BTCUSD' } });
    expect(r).toEqual({ ok: true, value: { kind: 'other', eventId: 'E2', activityType: 'CFEE', executionType: null } });
  });

  it.each([
    ['no cum_qty', trade({}, { cum_qty: undefined }), /details\.cum_qty/],
    ['qty not a decimal', trade({ qty: 'two' }), /qty/],
    ['qty of zero', trade({ qty: '0' }), /qty/],
    ['no ref_id', trade({ ref_id: undefined }), /ref_id/],
    ['qty above cum_qty', trade({ qty: '9' }), /qty above details\.cum_qty/],
  ])('refuses a fill with %s, and its event id is still read', (_, raw, reason) => {
    const r = parseActivityEvent(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
    expect(eventIdOf(raw)).toBe('01JNQ5P0000000000000000001');
  });

  it('refuses what is not an event at all', () => {
    for (const raw of [null, 'x', [], { details: {} }]) {
      expect(parseActivityEvent(raw).ok).toBe(false);
      expect(eventIdOf(raw)).toBeNull();
    }
  });
});

async function items(chunks: string[]): Promise<SseItem[]> {
  const body = (async function* () {
    for (const c of chunks) yield new TextEncoder().encode(c);
  })();
  const out: SseItem[] = [];
  for await (const item of readSse(body)) out.push(item);
  return out;
}

describe('server-sent events', () => {
  const wire = 'data: {"a":1}\n\n: you are reading too slowly, dropped 3 messages\n\ndata: {"b":\ndata: 2}\r\n\r\n: internal server error\n\n';
  const expected: SseItem[] = [
    { type: 'data', data: '{"a":1}' },
    { type: 'comment', text: 'you are reading too slowly, dropped 3 messages' },
    { type: 'data', data: '{"b":\n2}' },
    { type: 'comment', text: 'internal server error' },
  ];

  it('reads messages and comments in order', async () => {
    expect(await items([wire])).toEqual(expected);
  });

  it('reads the same however the body is cut (a CRLF split included)', async () => {
    for (let cut = 1; cut < wire.length; cut++) {
      expect(await items([wire.slice(0, cut), wire.slice(cut)])).toEqual(expected);
    }
    expect(await items([...wire])).toEqual(expected);
  });
});
