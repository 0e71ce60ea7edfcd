/**
 * Options (issue 26 item 5), the pure parts: which symbols are option contracts, the parsing of
 * OPEXC / OPASN / OPTRD from REST and from the activity event stream into one report with one identity,
 * the fills-ledger row it becomes, and that a contract never gets a stop, is never unprotected, and
 * counts 100 shares a contract in P&L.
 */
import { describe, expect, it } from 'vitest';
import { assetClassOf, canonicalSymbol, isCrypto, isOption, multiplierOf } from '../src/domain/symbols.js';
import { parseOptionActivity, parseOptionActivityEvent } from '../src/broker/option-activity-adapter.js';
import { isOptionEventOrderId, optionEventFill } from '../src/domain/option-events.js';
import { followFill, type PositionState } from '../machines/position.js';
import { assessCoverage, OPTION } from '../src/protection/coverage.js';
import { computePerformance } from '../src/performance/fifo.js';
import { positionFigures } from '../src/api/position-summary.js';

const CALL = 'AAPL261218C00150000';
const UUID = '7c2f7d3e-8a41-4f6b-9b0e-2d1f0c3a5e61';

/** As the simulator serves them (src/sim/option-events.ts, keys as in Alpaca's docs' examples). */
const restOptrd = { id: `20261207103000123::${UUID}`, activity_type: 'OPTRD', date: '2026-12-07', net_amount: '15000', description: 'Option Trade', symbol: 'AAPL', qty: '-100', price: '150', status: 'executed' };
const restOpasn = { id: '20261207103000123::0d9e1f2a-3b4c-4d5e-8f60-718293a4b5c6', activity_type: 'OPASN', date: '2026-12-07', net_amount: '0', description: 'Option Assignment', symbol: CALL, qty: '1', status: 'executed' };
const eventOptrd = {
  activity_type: 'OPTRD',
  at: '2026-12-07T15:30:00.123456Z',
  event_id: '01M96TKY12E9CYY5M83HQWXKAA',
  executed_at: '2026-12-07T15:30:00.123456Z',
  net_amount: '15000',
  price: '150',
  qty: '-100',
  ref_id: UUID,
  settle_date: '2026-12-08',
  status: 'executed',
  details: { symbol: 'AAPL', contract_symbol: CALL, side: 'sell' },
  asset: { id: 'a1', symbol: 'AAPL' },
};
const eventOpexc = { ...eventOptrd, activity_type: 'OPEXC', event_id: '01M96TKY12E9CYY5M83HQWXKAB', net_amount: '0', qty: '-2', ref_id: 'e1', price: undefined, details: { symbol: 'AAPL', contract_symbol: CALL, qty: '-2' }, asset: { id: 'c1', symbol: CALL } };

describe('option symbols (src/domain/symbols.ts, the one place)', () => {
  it('an OCC symbol or the us_option class is an option; equities and pairs are not', () => {
    expect(isOption(CALL)).toBe(true);
    expect(isOption('SPY270115P00420500')).toBe(true);
    expect(isOption('AAPL', 'us_option')).toBe(true);
    for (const s of ['AAPL', 'BRK.B', 'BTC/USD', 'BTCUSD', 'AAPL261218X00150000', 'AAPL261218C0015000']) expect(isOption(s)).toBe(false);
    expect(isCrypto(CALL)).toBe(false);
    expect(canonicalSymbol(CALL)).toBe(CALL);
    expect(assetClassOf(CALL)).toBe('us_option');
    expect(multiplierOf(CALL)).toBe(100);
    expect(multiplierOf('AAPL')).toBe(1);
  });
});

describe('option activities: REST and the event stream give one report', () => {
  it('an OPTRD from REST and the same from the event stream have one identity, one ledger row', () => {
    const rest = parseOptionActivity(restOptrd);
    const event = parseOptionActivityEvent(eventOptrd);
    if (!rest?.ok || !event?.ok) throw new Error('not parsed');
    expect(rest.value).toMatchObject({ kind: 'OPTRD', key: UUID, symbol: 'AAPL', qty: '-100', price: '150', source: 'activity', at: '2026-12-07T15:30:00.123000000Z' });
    expect(event.value).toMatchObject({ kind: 'OPTRD', key: UUID, symbol: 'AAPL', qty: '-100', price: '150', source: 'event', contractSymbol: CALL });
    const a = optionEventFill(rest.value);
    const b = optionEventFill(event.value);
    expect(a).toMatchObject({ orderId: `optrd-${UUID}`, cumQty: '100', qty: '100', side: 'sell', price: '150', source: 'activity' });
    expect([b.orderId, b.cumQty]).toEqual([a.orderId, a.cumQty]);
    expect(isOptionEventOrderId(a.orderId)).toBe(true);
    expect(isOptionEventOrderId(UUID)).toBe(false);
  });

  it('the contracts leaving (OPEXC, OPASN) are on the contract at no cash; the SDK-mapped date (a Date) is read', () => {
    const asn = parseOptionActivity({ ...restOpasn, date: new Date('2026-12-07') });
    if (!asn?.ok) throw new Error('not parsed');
    expect(optionEventFill(asn.value)).toMatchObject({ symbol: CALL, side: 'buy', qty: '1', price: '0' });
    const exc = parseOptionActivityEvent(eventOpexc);
    if (!exc?.ok) throw new Error('not parsed');
    expect(optionEventFill(exc.value)).toMatchObject({ orderId: 'opexc-e1', symbol: CALL, side: 'sell', qty: '2', price: '0' });
  });

  it('other activities are not option events; malformed ones are refused with a reason', () => {
    expect(parseOptionActivity({ activity_type: 'FILL', id: 'x' })).toBeNull();
    expect(parseOptionActivity({ activity_type: 'CFEE', id: 'x' })).toBeNull();
    expect(parseOptionActivityEvent({ activity_type: 'TRD', event_id: 'x' })).toBeNull();
    expect(parseOptionActivity({ ...restOptrd, qty: '0' })).toMatchObject({ ok: false });
    expect(parseOptionActivity({ ...restOptrd, price: undefined })).toMatchObject({ ok: false, reason: expect.stringContaining('no price') });
    expect(parseOptionActivity({ ...restOptrd, status: 'canceled' })).toMatchObject({ ok: false, reason: expect.stringContaining('canceled') });
    expect(parseOptionActivityEvent({ ...eventOptrd, details: {} })).toMatchObject({ ok: false, reason: expect.stringContaining('no symbol') });
  });
});

describe('an option contract is never protected', () => {
  const flat = (symbol: string): PositionState => ({ symbol, qty: '0', stops: [] });

  it('a contract bought or sold opens a position with no stop; shares an OPTRD bought get their own', () => {
    const order = { orderId: 'o1', role: 'entry' as const, assetClass: 'us_option', clientOrderId: '', protect: true };
    const buy = followFill(flat(CALL), { orderId: 'o1', symbol: CALL, side: 'buy', cumQty: '2', qty: '2' }, order);
    expect(buy).toMatchObject({ kind: 'opened', commands: [] });
    expect(buy.next.qty).toBe('2');
    const short = followFill(flat(CALL), { orderId: 'o2', symbol: CALL, side: 'sell', cumQty: '1', qty: '1' }, { ...order, orderId: 'o2' });
    expect(short.commands).toEqual([]);
    const shares = followFill(flat('AAPL'), { orderId: `optrd-${UUID}`, symbol: 'AAPL', side: 'buy', cumQty: '100', qty: '100' }, { ...order, orderId: `optrd-${UUID}`, assetClass: 'us_equity' });
    expect(shares.commands).toEqual([{ type: 'cover', stopOf: `optrd-${UUID}`, side: 'sell', qty: '100' }]);
  });

  it('coverage shows a contract position as a state, never unprotected', () => {
    const r = assessCoverage(new Map([[CALL, '-1'], ['AAPL', '100']]), [], { adopt: 'protect' });
    expect(r.positions.find((p) => p.symbol === CALL)).toMatchObject({ reason: OPTION, uncovered: '0' });
    expect(r.unprotected.map((u) => u.symbol)).toEqual(['AAPL']);
  });

  it('P&L and money figures count 100 shares a contract', () => {
    const fills = [
      { id: 1, symbol: CALL, side: 'buy' as const, qty: '2', price: '3.1', filled_at: '2026-12-07T15:00:00.000000000Z' },
      { id: 2, symbol: CALL, side: 'sell' as const, qty: '2', price: '3.6', filled_at: '2026-12-07T15:01:00.000000000Z' },
      { id: 3, symbol: 'AAPL', side: 'buy' as const, qty: '2', price: '3.1', filled_at: '2026-12-07T15:02:00.000000000Z' },
      { id: 4, symbol: 'AAPL', side: 'sell' as const, qty: '2', price: '3.6', filled_at: '2026-12-07T15:03:00.000000000Z' },
    ];
    const perf = computePerformance(fills);
    expect(perf.by_symbol[CALL]?.realized_pnl).toBe('100');
    expect(perf.total.realized_pnl).toBe('101');
    const f = positionFigures('2', { qty: '2', cost: '6.2' }, '3.6', [], 100);
    expect(f).toMatchObject({ avg_entry: '3.1', cost_basis: '620', market_value: '720', unrealized_pnl: '100' });
  });
});
