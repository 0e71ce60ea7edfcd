import { describe, expect, it } from 'vitest';
import { normalize } from '../../src/decimal.js';
import { endingFills } from '../../machines/exit-walk.js';
import {
  classifyFill,
  followFee,
  followFill,
  roleAtFirstFill,
  stopWants,
  type FillOrder,
  type PositionCommand,
  type PositionFill,
  type PositionState,
  type StopCover,
} from '../../machines/position.js';

const stop = (stopOf: string, side: 'buy' | 'sell', asked: string, over: Partial<StopCover> = {}): StopCover => ({
  stopOf,
  side,
  asked,
  cut: '0',
  cancelRequested: false,
  done: false,
  ...over,
});
const state = (qty: string, stops: StopCover[] = [], symbol = 'AAPL'): PositionState => ({ symbol, qty, stops });
const fill = (orderId: string, side: 'buy' | 'sell', qty: string, cumQty = qty, over: Partial<PositionFill> = {}): PositionFill => ({
  orderId,
  symbol: 'AAPL',
  side,
  qty,
  cumQty,
  ...over,
});
const order = (orderId: string, role: FillOrder['role'], over: Partial<FillOrder> = {}): FillOrder => ({
  orderId,
  role,
  assetClass: 'us_equity',
  clientOrderId: role === 'stop' ? `ct-stop-${orderId}` : 'manual-1',
  ...over,
});
const cancel = (stopOf: string): PositionCommand[] => [
  { type: 'cancel', stopOf },
  { type: 'positionClosed', entryOrderId: stopOf },
];
/** What each stop covers after the step (done or canceled ones included, as their fields say). */
const wants = (s: PositionState) => Object.fromEntries(s.stops.map((x) => [x.stopOf, stopWants(x)]));

describe('classifyFill: open / increase / reduce / close / cross', () => {
  it.each([
    ['0', 'buy', '5', 'opened', '5'],
    ['0', 'sell', '5', 'opened', '-5'],
    ['5', 'buy', '2', 'increased', '7'],
    ['-5', 'sell', '2', 'increased', '-7'],
    ['5', 'sell', '2', 'reduced', '3'],
    ['-5', 'buy', '2', 'reduced', '-3'],
    ['5', 'sell', '5', 'closed', '0'],
    ['-5', 'buy', '5', 'closed', '0'],
    ['5', 'sell', '8', 'crossed', '-3'],
    ['-5', 'buy', '8', 'crossed', '3'],
    ['0.5', 'sell', '0.25', 'reduced', '0.25'],
    ['0.1', 'sell', '0.1', 'closed', '0'],
  ] as const)('%s then %s %s: %s, %s after', (before, side, qty, kind, after) => {
    const c = classifyFill(before, side, qty);
    expect(c.kind).toBe(kind);
    expect(normalize(c.after)).toBe(after);
  });
});

describe('roleAtFirstFill', () => {
  it.each([
    ['a protective stop is a stop', '5', { clientOrderId: 'ct-stop-e1', side: 'sell' }, 'stop'],
    ['a buy on flat opens', '0', { side: 'buy' }, 'entry'],
    ['a buy on a long grows it', '3', { side: 'buy' }, 'entry'],
    ['a buy on a short is an exit', '-3', { side: 'buy' }, 'exit'],
    ['an equity sell on a long is an exit', '3', { side: 'sell' }, 'exit'],
    ['an equity sell on flat opens a short', '0', { side: 'sell' }, 'entry'],
    ['an equity sell on a short grows it', '-3', { side: 'sell' }, 'entry'],
    ['crypto cannot be shorted: a sell on flat is an exit', '0', { side: 'sell', symbol: 'BTC/USD', assetClass: 'crypto' }, 'exit'],
    ['a pair symbol is crypto', '-1', { side: 'sell', symbol: 'ETH/USD' }, 'exit'],
  ] as const)('%s', (_name, position, over, role) => {
    expect(roleAtFirstFill(position, { clientOrderId: 'manual-1', symbol: 'AAPL', assetClass: 'us_equity', ...over })).toBe(role);
  });
});

interface Case {
  name: string;
  position: PositionState;
  fill: PositionFill;
  order: FillOrder;
  kind: string;
  commands: PositionCommand[];
  qty: string;
  /** What each stop covers after the step. */
  wants?: Record<string, string>;
}

const cases: Case[] = [
  // Opened / increased.
  {
    name: 'long opened by an entry: the position actor asks its stop for what the fill opened',
    position: state('0'),
    fill: fill('e1', 'buy', '5'),
    order: order('e1', 'entry'),
    kind: 'opened',
    commands: [{ type: 'cover', stopOf: 'e1', side: 'sell', qty: '5' }],
    qty: '5',
    wants: { e1: '5' },
  },
  {
    name: 'an entry that is not protected (CT_ADOPT=record) gets no stop',
    position: state('0'),
    fill: fill('e1', 'buy', '5'),
    order: order('e1', 'entry', { protect: false }),
    kind: 'opened',
    commands: [],
    qty: '5',
  },
  {
    name: 'partial fills of an entry: its ask grows by each fill',
    position: state('4', [stop('e1', 'sell', '4')]),
    fill: fill('e1', 'buy', '6', '10'),
    order: order('e1', 'entry'),
    kind: 'increased',
    commands: [{ type: 'cover', stopOf: 'e1', side: 'sell', qty: '10' }],
    qty: '10',
    wants: { e1: '10' },
  },
  {
    name: 'short opened by an order that is no entry: its own buy stop covers it',
    position: state('0'),
    fill: fill('x1', 'sell', '5'),
    order: order('x1', 'exit'),
    kind: 'opened',
    commands: [{ type: 'cover', stopOf: 'x1', side: 'buy', qty: '5' }],
    qty: '-5',
    wants: { x1: '5' },
  },
  {
    name: "a live own stop grows by what the fill opened (its cut kept)",
    position: state('-5', [stop('x1', 'buy', '6', { cut: '1' })]),
    fill: fill('x1', 'sell', '2', '8'),
    order: order('x1', 'exit'),
    kind: 'increased',
    commands: [{ type: 'cover', stopOf: 'x1', side: 'buy', qty: '8' }],
    qty: '-7',
    wants: { x1: '7' },
  },
  {
    name: 'equity short opened by an entry: a buy stop for what it opened',
    position: state('0'),
    fill: fill('e1', 'sell', '3'),
    order: order('e1', 'entry'),
    kind: 'opened',
    commands: [{ type: 'cover', stopOf: 'e1', side: 'buy', qty: '3' }],
    qty: '-3',
  },
  // Crypto.
  {
    name: 'crypto long opened by an outside buy: a sell stop-limit of its own',
    position: state('0', [], 'BTC/USD'),
    fill: fill('x1', 'buy', '0.5', '0.5', { symbol: 'BTC/USD' }),
    order: order('x1', 'exit', { assetClass: 'crypto' }),
    kind: 'opened',
    commands: [{ type: 'cover', stopOf: 'x1', side: 'sell', qty: '0.5' }],
    qty: '0.5',
  },
  {
    name: 'crypto cannot be shorted: a sell below flat (fills not known yet) gets no buy stop',
    position: state('0', [], 'BTC/USD'),
    fill: fill('x1', 'sell', '0.5', '0.5', { symbol: 'BTC/USD' }),
    order: order('x1', 'exit', { assetClass: 'crypto' }),
    kind: 'opened',
    commands: [],
    qty: '-0.5',
  },
  {
    name: 'crypto sell past flat: the long\'s stops go, nothing covers the rest',
    position: state('0.3', [stop('e1', 'sell', '0.3')], 'BTC/USD'),
    fill: fill('x1', 'sell', '0.5', '0.5', { symbol: 'BTC/USD' }),
    order: order('x1', 'exit', { assetClass: 'crypto' }),
    kind: 'crossed',
    commands: [...cancel('e1')],
    qty: '-0.2',
  },
  {
    name: 'crypto reduced: the stop shrinks to the position, in crypto precision',
    position: state('0.5', [stop('e1', 'sell', '0.5')], 'BTC/USD'),
    fill: fill('x1', 'sell', '0.123456789', '0.123456789', { symbol: 'BTC/USD' }),
    order: order('x1', 'exit', { assetClass: 'crypto' }),
    kind: 'reduced',
    commands: [{ type: 'shrink', stopOf: 'e1', qty: '0.123456789', cutQty: '0.123456789' }],
    qty: '0.376543211',
    wants: { e1: '0.376543211' },
  },
  // Reduced: FIFO.
  {
    name: 'FIFO shrink across three entries: the oldest is cut to nothing (canceled), the next cut, the youngest kept',
    position: state('15', [stop('a', 'sell', '5'), stop('b', 'sell', '5'), stop('c', 'sell', '5')]),
    fill: fill('x1', 'sell', '7'),
    order: order('x1', 'exit'),
    kind: 'reduced',
    commands: [{ type: 'shrink', stopOf: 'a', qty: '5', cutQty: '5' }, ...cancel('a'), { type: 'shrink', stopOf: 'b', qty: '2', cutQty: '2' }],
    qty: '8',
    wants: { a: '0', b: '3', c: '5' },
  },
  {
    name: 'FIFO counts what earlier exits cut; stops on the other side, canceled or done are not shrunk',
    position: state('13', [
      stop('old', 'sell', '4', { done: true }),
      stop('a', 'sell', '5', { cut: '2' }),
      stop('short', 'buy', '2'),
      stop('gone', 'sell', '3', { cancelRequested: true }),
      stop('b', 'sell', '5'),
      stop('c', 'sell', '5'),
    ]),
    fill: fill('x1', 'sell', '4'),
    order: order('x1', 'exit'),
    kind: 'reduced',
    commands: [{ type: 'shrink', stopOf: 'a', qty: '3', cutQty: '5' }, ...cancel('a'), { type: 'shrink', stopOf: 'b', qty: '1', cutQty: '1' }],
    qty: '9',
    wants: { old: '4', a: '0', short: '2', gone: '3', b: '4', c: '5' },
  },
  {
    name: 'stops already no larger than the position are left alone',
    position: state('10', [stop('a', 'sell', '5')]),
    fill: fill('x1', 'sell', '3'),
    order: order('x1', 'exit'),
    kind: 'reduced',
    commands: [],
    qty: '7',
  },
  {
    name: 'short reduced by a buy: buy stops shrink',
    position: state('-6', [stop('s1', 'buy', '6')]),
    fill: fill('x1', 'buy', '2'),
    order: order('x1', 'exit'),
    kind: 'reduced',
    commands: [{ type: 'shrink', stopOf: 's1', qty: '2', cutQty: '2' }],
    qty: '-4',
  },
  // Closed.
  {
    name: 'closed: every live stop on the closing side is canceled (their entries told)',
    position: state('10', [stop('a', 'sell', '6'), stop('short', 'buy', '1'), stop('gone', 'sell', '2', { cancelRequested: true }), stop('b', 'sell', '4')]),
    fill: fill('x1', 'sell', '10', '12'),
    order: order('x1', 'exit'),
    kind: 'closed',
    commands: [...cancel('a'), ...cancel('b')],
    qty: '0',
  },
  // Crossed.
  {
    name: 'crossed: the long\'s stops go, and the order\'s own stop covers the short',
    position: state('5', [stop('e1', 'sell', '5')]),
    fill: fill('x1', 'sell', '8'),
    order: order('x1', 'exit'),
    kind: 'crossed',
    commands: [...cancel('e1'), { type: 'cover', stopOf: 'x1', side: 'buy', qty: '3' }],
    qty: '-3',
    wants: { e1: '5', x1: '3' },
  },
  // A stop's own fill.
  {
    name: "a stop's partial fill consumes its own cover first: the older entry's stop is not shrunk",
    position: state('15', [stop('b', 'sell', '5'), stop('a', 'sell', '10')]),
    fill: fill('stopA', 'sell', '4'),
    order: order('a', 'stop', { orderId: 'stopA' }),
    kind: 'reduced',
    commands: [{ type: 'cut', stopOf: 'a', qty: '4', cutQty: '4' }],
    qty: '11',
    wants: { b: '5', a: '6' },
  },
  {
    name: "a stop's full fill takes all of its cover; it is not canceled (it filled)",
    position: state('15', [stop('b', 'sell', '5'), stop('a', 'sell', '10')]),
    fill: fill('stopA', 'sell', '10'),
    order: order('a', 'stop', { orderId: 'stopA' }),
    kind: 'reduced',
    commands: [{ type: 'cut', stopOf: 'a', qty: '10', cutQty: '10' }],
    qty: '5',
    wants: { b: '5', a: '0' },
  },
  {
    name: "a stop's fill that closes the position: its own cut, then the cancels",
    position: state('10', [stop('a', 'sell', '10')]),
    fill: fill('stopA', 'sell', '10'),
    order: order('a', 'stop', { orderId: 'stopA' }),
    kind: 'closed',
    commands: [{ type: 'cut', stopOf: 'a', qty: '10', cutQty: '10' }, ...cancel('a')],
    qty: '0',
  },
  // Re-arm.
  {
    name: 're-arm after done: an order\'s own stop that ended starts over under the next client order id',
    position: state('0', [stop('x1', 'buy', '5', { done: true, cut: '2' })]),
    fill: fill('x1', 'sell', '3', '13'),
    order: order('x1', 'exit'),
    kind: 'opened',
    commands: [{ type: 'cover', stopOf: 'x1', side: 'buy', qty: '3', rearm: { cut: '0', nextVersion: true } }],
    qty: '-3',
    wants: { x1: '3' },
  },
  {
    name: 're-arm while the cancel is in flight: the same order is kept (resized), the cancel withdrawn',
    position: state('0', [stop('x1', 'buy', '5', { cancelRequested: true })]),
    fill: fill('x1', 'sell', '3', '13'),
    order: order('x1', 'exit'),
    kind: 'opened',
    commands: [{ type: 'cover', stopOf: 'x1', side: 'buy', qty: '3', rearm: { cut: '0', nextVersion: false } }],
    qty: '-3',
  },
  {
    name: 're-arm of an entry whose position others closed: armed again for what this fill opened',
    position: state('0', [stop('e1', 'sell', '5', { done: true, cut: '2' })]),
    fill: fill('e1', 'buy', '3', '5'),
    order: order('e1', 'entry'),
    kind: 'opened',
    commands: [{ type: 'cover', stopOf: 'e1', side: 'sell', qty: '3', rearm: { cut: '0', nextVersion: true } }],
    qty: '3',
    wants: { e1: '3' },
  },
  // An entry's fill against someone else's position: only what it opens is its own to cover.
  {
    name: "an entry's fill that closes someone else's short asks nothing of its own stop",
    position: state('-4', [stop('s1', 'buy', '4')]),
    fill: fill('e1', 'buy', '4'),
    order: order('e1', 'entry'),
    kind: 'closed',
    commands: [...cancel('s1')],
    qty: '0',
    wants: { s1: '4' },
  },
  {
    name: "an entry that crosses someone else's short: its stop covers only what it opened",
    position: state('-2', [stop('s1', 'buy', '2')]),
    fill: fill('e1', 'buy', '5'),
    order: order('e1', 'entry'),
    kind: 'crossed',
    commands: [...cancel('s1'), { type: 'cover', stopOf: 'e1', side: 'sell', qty: '3' }],
    qty: '3',
    wants: { s1: '2', e1: '3' },
  },
  {
    name: "an entry that only reduces someone else's short: its live stop is not grown, the short's stop shrinks",
    position: state('-6', [stop('s1', 'buy', '6'), stop('e1', 'sell', '2', { cut: '2' })]),
    fill: fill('e1', 'buy', '2'),
    order: order('e1', 'entry'),
    kind: 'reduced',
    commands: [{ type: 'shrink', stopOf: 's1', qty: '2', cutQty: '2' }],
    qty: '-4',
    wants: { s1: '4', e1: '0' },
  },
];

describe('followFill', () => {
  it.each(cases)('$name', (c) => {
    const frozen = JSON.stringify(c.position);
    const step = followFill(c.position, c.fill, c.order);
    expect(step.kind).toBe(c.kind);
    expect(step.commands).toEqual(c.commands);
    expect(step.next.qty).toBe(c.qty);
    if (c.wants) expect(wants(step.next)).toEqual(c.wants);
    // Pure: the state handed in is not changed.
    expect(JSON.stringify(c.position)).toBe(frozen);
  });

  it('the next state is what the commands wrote: cancels and re-arms show in it', () => {
    const s = state('5', [stop('e1', 'sell', '5')]);
    const crossed = followFill(s, fill('x1', 'sell', '8'), order('x1', 'exit')).next;
    expect(crossed.stops).toEqual([stop('e1', 'sell', '5', { cancelRequested: true }), stop('x1', 'buy', '3')]);
    // Bought back by hand: flat, the sell's own stop is canceled too.
    const flat = followFill(crossed, fill('y1', 'buy', '3'), order('y1', 'exit')).next;
    expect(flat.stops.map((x) => x.cancelRequested)).toEqual([true, true]);
    // The sell fills 2 more: its own stop is armed again for the new short (the cancel was in flight).
    const again = followFill(flat, fill('x1', 'sell', '2', '10'), order('x1', 'exit'));
    expect(again.commands).toEqual([{ type: 'cover', stopOf: 'x1', side: 'buy', qty: '2', rearm: { cut: '0', nextVersion: false } }]);
    expect(again.next.stops[1]).toEqual(stop('x1', 'buy', '2'));
  });

  it('a batch follows fill by fill: an entry filled 2, closed by a sell of 4, filled 3 more', () => {
    let s = state('0');
    const first = followFill(s, fill('e1', 'buy', '2'), order('e1', 'entry'));
    expect(first.commands).toEqual([{ type: 'cover', stopOf: 'e1', side: 'sell', qty: '2' }]);
    s = first.next;
    const sell = followFill(s, fill('x1', 'sell', '4'), order('x1', 'exit'));
    expect(sell.commands).toEqual([...cancel('e1'), { type: 'cover', stopOf: 'x1', side: 'buy', qty: '2' }]);
    // Its stop's cancel landed (done).
    s = { ...sell.next, stops: sell.next.stops.map((x) => (x.stopOf === 'e1' ? { ...x, done: true } : x)) };
    const last = followFill(s, fill('e1', 'buy', '3', '5'), order('e1', 'entry'));
    expect(last.kind).toBe('crossed');
    // Its stop ended: it is armed again for what this fill opened past flat.
    expect(last.commands).toEqual([
      ...cancel('x1'),
      { type: 'cover', stopOf: 'e1', side: 'sell', qty: '1', rearm: { cut: '0', nextVersion: true } },
    ]);
    expect(last.next.qty).toBe('1');
    expect(wants(last.next).e1).toBe('1');
  });
});

describe('endingFills: the exit walk in the broker\'s order', () => {
  it('finds the fills that closed or crossed, from the position after all of them', () => {
    const fills = [
      { id: 'a', side: 'buy', qty: '5' },
      { id: 'b', side: 'sell', qty: '4' },
      { id: 'c', side: 'sell', qty: '2' },
      { id: 'd', side: 'buy', qty: '4' },
      { id: 'e', side: 'sell', qty: '3' },
    ] as const;
    // 0 → 5 → 1 → -1 (c crossed) → 3 (d crossed) → 0 (e closed).
    expect(endingFills('0', fills).map((f) => f.id)).toEqual(['c', 'd', 'e']);
    // The same walk from a position of 10 before it: nothing ends.
    expect(endingFills('10', fills)).toEqual([]);
  });
});

describe('followFee: a crypto fee taken in the coin (CFEE)', () => {
  const btc = (qty: string, stops: StopCover[] = []) => state(qty, stops, 'BTC/USD');

  it('reduces the long and shrinks its sell stop exactly as a reduction would', () => {
    const s = btc('0.5', [stop('e1', 'sell', '0.5')]);
    const frozen = JSON.stringify(s);
    const step = followFee(s, '0.00125');
    expect(step.next.qty).toBe('0.49875');
    expect(step.commands).toEqual([{ type: 'shrink', stopOf: 'e1', qty: '0.00125', cutQty: '0.00125' }]);
    expect(wants(step.next)).toEqual({ e1: '0.49875' });
    // The same cut a sell fill of the fee's size makes, without its kind.
    const sold = followFill(s, { ...fill('x1', 'sell', '0.00125'), symbol: 'BTC/USD' }, order('x1', 'exit', { assetClass: 'crypto' }));
    expect(sold.commands).toEqual(step.commands);
    expect(JSON.stringify(s)).toBe(frozen);
  });

  it('cuts the oldest entry first; a stop cut to nothing is canceled', () => {
    const step = followFee(btc('0.3', [stop('e1', 'sell', '0.1'), stop('e2', 'sell', '0.2')]), '0.15');
    expect(step.next.qty).toBe('0.15');
    expect(step.commands).toEqual([
      { type: 'shrink', stopOf: 'e1', qty: '0.1', cutQty: '0.1' },
      ...cancel('e1'),
      { type: 'shrink', stopOf: 'e2', qty: '0.05', cutQty: '0.05' },
    ]);
    expect(wants(step.next)).toEqual({ e1: '0', e2: '0.15' });
  });

  it('stops already smaller than what is left are not touched', () => {
    const step = followFee(btc('0.5', [stop('e1', 'sell', '0.4')]), '0.00125');
    expect(step.commands).toEqual([]);
    expect(step.next.qty).toBe('0.49875');
  });

  it('a fee that leaves nothing cancels the stops like a close', () => {
    const step = followFee(btc('0.00125', [stop('e1', 'sell', '0.5', { cut: '0.49875' }), stop('e2', 'sell', '1', { done: true })]), '0.00125');
    expect(step.next.qty).toBe('0');
    expect(step.commands).toEqual(cancel('e1'));
    expect(step.next.stops.map((x) => x.cancelRequested)).toEqual([true, false]);
  });

  it('a fee past flat (fills not known yet) cancels too; on flat or below it only moves the position', () => {
    expect(followFee(btc('0.001', [stop('e1', 'sell', '0.001')]), '0.002')).toMatchObject({ next: { qty: '-0.001' }, commands: cancel('e1') });
    expect(followFee(btc('0'), '0.001')).toEqual({ next: btc('-0.001'), commands: [] });
    expect(followFee(btc('-0.001'), '0.001')).toEqual({ next: btc('-0.002'), commands: [] });
  });

  it('a zero fee changes nothing', () => {
    expect(followFee(btc('0.5', [stop('e1', 'sell', '0.5')]), '0')).toEqual({ next: btc('0.5', [stop('e1', 'sell', '0.5')]), commands: [] });
  });
});

describe('endingFills with crypto fees', () => {
  it('a fee moves the position between fills; one that takes the last of it completes the sale before it', () => {
    type F = { id: string; side: 'buy' | 'sell'; qty: string };
    const buy: F = { id: 'buy', side: 'buy', qty: '0.5' };
    const sell: F = { id: 'sell', side: 'sell', qty: '0.49875' };
    // 0 → 0.5 → 0.49875 (fee) → 0 (the sell closed it).
    expect(endingFills<F>('0', [buy, { feeQty: '0.00125' }, sell]).map((f) => f.id)).toEqual(['sell']);
    // Posted after the sale (Alpaca posts CFEE by the day): the sale left only the fee's dust, and
    // the fee took it: the sale was the exit.
    expect(endingFills<F>('0', [buy, sell, { feeQty: '0.00125' }]).map((f) => f.id)).toEqual(['sell']);
    // A fee is no exit by itself: emptying a position no sale reduced ends nothing.
    expect(endingFills<F>('0', [buy, { feeQty: '0.5' }])).toEqual([]);
    // Nor does a fee that leaves some of it.
    expect(endingFills<F>('0.0001', [buy, { id: 'sell', side: 'sell', qty: '0.49865' }, { feeQty: '0.00125' }])).toEqual([]);
  });
});
