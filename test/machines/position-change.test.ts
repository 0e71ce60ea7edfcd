/**
 * machines/position.ts `followChange`: a trade bust or correction of a recorded fill, as the position
 * actor follows it (issue 26 items 3, 4) — signed, attributed to the fill's order: less of a fill that
 * built the position shrinks that order's own stop first; less of one that shrank it (a busted exit)
 * grows the position back and covers it again with the stops that had covered it; more of a fill (a
 * correction up) is a fill of the difference.
 */
import { describe, expect, it } from 'vitest';
import { followChange, followFill, stopWants, type FillChange, type FillOrder, type PositionState, type StopCover } from '../../machines/position.js';

const stop = (stopOf: string, side: 'buy' | 'sell', asked: string, over: Partial<StopCover> = {}): StopCover => ({ stopOf, side, asked, cut: '0', cancelRequested: false, done: false, ...over });
const state = (qty: string, stops: StopCover[] = [], symbol = 'AAPL'): PositionState => ({ symbol, qty, stops });
const order = (orderId: string, role: FillOrder['role'], over: Partial<FillOrder> = {}): FillOrder => ({
  orderId,
  role,
  assetClass: 'us_equity',
  clientOrderId: role === 'stop' ? `ct-stop-${orderId.replace(/^s-/, '')}` : `ct-entry-${orderId}`,
  ...over,
});
const change = (orderId: string, side: 'buy' | 'sell', before: string, after: string, symbol = 'AAPL'): FillChange => ({ orderId, symbol, side, before, after });
const wants = (s: PositionState) => Object.fromEntries(s.stops.map((x) => [x.stopOf, stopWants(x)]));

describe('followChange: a busted or corrected fill', () => {
  it('a busted buy of an entry shrinks that entry\'s own stop first, not the oldest', () => {
    const s = state('15', [stop('e1', 'sell', '10'), stop('e2', 'sell', '5')]);
    const step = followChange(s, change('e2', 'buy', '5', '0'), order('e2', 'entry'));
    expect(step.next.qty).toBe('10');
    expect(step.commands).toEqual([
      { type: 'shrink', stopOf: 'e2', qty: '5', cutQty: '5' },
      { type: 'cancel', stopOf: 'e2' },
      { type: 'positionClosed', entryOrderId: 'e2' },
    ]);
    expect(wants(step.next)).toEqual({ e1: '10', e2: '0' });
  });

  it('a bust that leaves the position smaller than the other stops cover cuts them oldest first', () => {
    // e1's entry filled 10, an exit sold 4 (e1 cut to 6), e2 bought 5: long 11. e2's buy of 5 busted,
    // and e1's 6 still fits; then a bust of 3 of e1's own entry (corrected down 10 → 7) takes 3 off e1.
    const s = state('11', [stop('e1', 'sell', '10', { cut: '4' }), stop('e2', 'sell', '5')]);
    const a = followChange(s, change('e2', 'buy', '5', '0'), order('e2', 'entry'));
    expect(a.next.qty).toBe('6');
    expect(wants(a.next)).toEqual({ e1: '6', e2: '0' });
    const b = followChange({ ...a.next, stops: a.next.stops.filter((x) => x.stopOf === 'e1') }, change('e1', 'buy', '10', '7'), order('e1', 'entry'));
    expect(b.next.qty).toBe('3');
    expect(b.commands).toEqual([{ type: 'shrink', stopOf: 'e1', qty: '3', cutQty: '7' }]);
  });

  it('a busted buy that was the whole position cancels its stops', () => {
    const step = followChange(state('10', [stop('e1', 'sell', '10')]), change('e1', 'buy', '10', '0'), order('e1', 'entry'));
    expect(step.next.qty).toBe('0');
    expect(step.commands).toEqual([
      { type: 'shrink', stopOf: 'e1', qty: '10', cutQty: '10' },
      { type: 'cancel', stopOf: 'e1' },
      { type: 'positionClosed', entryOrderId: 'e1' },
    ]);
  });

  it('a busted buy of another order (not an entry of ours) shrinks the stops oldest first, as a reduction', () => {
    const s = state('12', [stop('e1', 'sell', '4'), stop('e2', 'sell', '6')]);
    const step = followChange(s, change('x', 'buy', '2', '0'), order('x', null, { clientOrderId: 'manual' }));
    expect(step.next.qty).toBe('10');
    expect(step.commands).toEqual([]);
    const more = followChange(state('10', [stop('e1', 'sell', '4'), stop('e2', 'sell', '6')]), change('x', 'buy', '3', '0'), order('x', null, { clientOrderId: 'manual' }));
    expect(more.next.qty).toBe('7');
    expect(more.commands).toEqual([
      { type: 'shrink', stopOf: 'e1', qty: '3', cutQty: '3' },
    ]);
  });

  it('a busted stop fill grows the position back: the entry\'s ended stop is re-armed under its next id', () => {
    // The entry bought 10, its stop sold 10 (the stop done, cut 10): flat. The stop's fill busted.
    const ended = [stop('e1', 'sell', '10', { cut: '10', done: true })];
    const step = followChange(state('0'), change('s-e1', 'sell', '10', '0'), order('s-e1', 'stop'), ended);
    expect(step.next.qty).toBe('10');
    expect(step.commands).toEqual([{ type: 'cover', stopOf: 'e1', side: 'sell', qty: '10', rearm: { cut: '0', nextVersion: true } }]);
    expect(wants(step.next)).toEqual({ e1: '10' });
  });

  it('a busted partial exit gives the cuts it took back (the live stop grows again)', () => {
    // Long 10 (e1), an exit sold 4: e1 cut 4, long 6. The exit's fill busted: long 10, e1 covers 10.
    const step = followChange(state('6', [stop('e1', 'sell', '10', { cut: '4' })]), change('x', 'sell', '4', '0'), order('x', 'exit', { clientOrderId: 'ct-close-AAPL-1' }));
    expect(step.next.qty).toBe('10');
    expect(step.commands).toEqual([{ type: 'restore', stopOf: 'e1', qty: '4', cutQty: '0' }]);
  });

  it('a busted close re-arms the stops it canceled, oldest first, only as far as the position grew back', () => {
    const ended = [stop('e1', 'sell', '6', { done: true }), stop('e2', 'sell', '4', { cancelRequested: true })];
    const step = followChange(state('0'), change('x', 'sell', '7', '0'), order('x', 'exit', { clientOrderId: 'manual' }), ended);
    expect(step.next.qty).toBe('7');
    expect(step.commands).toEqual([
      { type: 'cover', stopOf: 'e1', side: 'sell', qty: '6', rearm: { cut: '0', nextVersion: true } },
      { type: 'cover', stopOf: 'e2', side: 'sell', qty: '4', rearm: { cut: '3', nextVersion: false } },
    ]);
    expect(wants(step.next)).toEqual({ e1: '6', e2: '1' });
  });

  it('ended stops not re-armed stay out of the position\'s list', () => {
    const ended = [stop('old', 'sell', '5', { done: true })];
    const step = followChange(state('10', [stop('e1', 'sell', '10')]), change('e1', 'buy', '10', '8'), order('e1', 'entry'), ended);
    expect(step.next.stops.map((s) => s.stopOf)).toEqual(['e1']);
  });

  it('a correction up is a fill of the difference: the order\'s own stop asks for more', () => {
    const s = state('10', [stop('e1', 'sell', '10')]);
    const step = followChange(s, change('e1', 'buy', '10', '12'), order('e1', 'entry'));
    const asFill = followFill(s, { orderId: 'e1', symbol: 'AAPL', side: 'buy', cumQty: '0', qty: '2' }, order('e1', 'entry'));
    expect(step.next).toEqual(asFill.next);
    expect(step.commands).toEqual([{ type: 'cover', stopOf: 'e1', side: 'sell', qty: '12' }]);
  });

  it('a price-only correction moves nothing', () => {
    const s = state('10', [stop('e1', 'sell', '10')]);
    expect(followChange(s, change('e1', 'buy', '10', '10'), order('e1', 'entry'))).toEqual({ next: s, commands: [] });
  });

  it('a busted buy that leaves a short cancels the sell stops; a crypto position below flat gets no buy stop', () => {
    const step = followChange(state('6', [stop('e1', 'sell', '10', { cut: '4' })]), change('e1', 'buy', '10', '0'), order('e1', 'entry'));
    expect(step.next.qty).toBe('-4');
    expect(step.commands).toEqual([
      { type: 'shrink', stopOf: 'e1', qty: '6', cutQty: '10' },
      { type: 'cancel', stopOf: 'e1' },
      { type: 'positionClosed', entryOrderId: 'e1' },
    ]);
    const btc = followChange(state('0.5', [stop('b1', 'sell', '1', { cut: '0.5' })], 'BTC/USD'), change('b1', 'buy', '1', '0', 'BTC/USD'), order('b1', 'entry', { assetClass: 'crypto' }), [
      stop('s1', 'buy', '1', { done: true }),
    ]);
    expect(btc.next.qty).toBe('-0.5');
    expect(btc.commands.filter((c) => c.type === 'cover')).toEqual([]);
  });

  it('a busted sell of a short shrinks that order\'s own buy stop first', () => {
    const step = followChange(state('-8', [stop('e1', 'buy', '5'), stop('e2', 'buy', '3')]), change('e2', 'sell', '3', '0'), order('e2', 'entry'));
    expect(step.next.qty).toBe('-5');
    expect(step.commands[0]).toEqual({ type: 'shrink', stopOf: 'e2', qty: '3', cutQty: '3' });
    expect(wants(step.next)).toEqual({ e1: '5', e2: '0' });
  });
});
