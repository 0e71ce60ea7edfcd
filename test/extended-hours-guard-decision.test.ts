import { describe, expect, it } from 'vitest';
import {
  crossedLevel,
  decideGuard,
  guardClientOrderId,
  guardLimitPrice,
  nextExitClientOrderId,
  repriceClientOrderId,
  type GuardExit,
  type GuardInput,
} from '../src/domain/extended-hours-guard.js';
import { resumeStops, type StopCover } from '../machines/position.js';
import { assessCoverage } from '../src/protection/coverage.js';

/** The guard's decisions (src/domain/extended-hours-guard.ts), pure: no broker, no store. */

const exit = (over: Partial<GuardExit> = {}): GuardExit => ({
  symbol: 'AAPL',
  side: 'sell',
  baseCid: 'ct-guard-AAPL-1-20270105p',
  attempt: 1,
  cid: 'ct-guard-AAPL-1-20270105p',
  orderId: 'o1',
  limitPrice: '96.03',
  placedAt: 1_000,
  reprices: 0,
  pendingReplace: null,
  stops: ['ct-stop-e1'],
  level: '98',
  trigger: '97',
  session: 'pre',
  startedAt: '2027-01-05T13:00:00.000Z',
  ...over,
});

const input = (over: Partial<GuardInput> = {}): GuardInput => ({
  session: 'pre',
  position: '10',
  exit: null,
  levels: ['98'],
  latest: '97',
  stopsGone: false,
  order: 'none',
  now: 2_000,
  repriceMs: 60_000,
  slippagePct: '1',
  ...over,
});

describe('when the guard starts an exit', () => {
  it('a long: the latest trade at or below its highest sell stop, in pre, after and overnight only', () => {
    expect(decideGuard(input())).toEqual({ type: 'start', level: '98', session: 'pre' });
    expect(decideGuard(input({ latest: '98' }))).toMatchObject({ type: 'start', level: '98' });
    expect(decideGuard(input({ latest: '98.01' }))).toEqual({ type: 'none' });
    expect(decideGuard(input({ session: 'after' }))).toMatchObject({ type: 'start', session: 'after' });
    expect(decideGuard(input({ session: 'overnight' }))).toMatchObject({ type: 'start', session: 'overnight' });
    // Regular hours: the stops act themselves; closed or unknown: nothing trades.
    for (const session of ['regular', 'closed', null] as const) expect(decideGuard(input({ session }))).toEqual({ type: 'none' });
    expect(decideGuard(input({ position: '0' }))).toEqual({ type: 'none' });
    expect(decideGuard(input({ latest: null }))).toEqual({ type: 'none' });
    expect(decideGuard(input({ levels: [] }))).toEqual({ type: 'none' });
  });

  it('the nearest level is the one a move reaches first: the highest for a long, the lowest for a short', () => {
    expect(crossedLevel('10', ['95', '98', '96.5'], '97.5')).toBe('98');
    expect(crossedLevel('10', ['95', '96'], '97')).toBeNull();
    expect(crossedLevel('-5', ['105', '102'], '102.5')).toBe('102');
    expect(crossedLevel('-5', ['105', '102'], '101.99')).toBeNull();
  });
});

describe('the exit order', () => {
  it('is priced CT_GUARD_SLIPPAGE_PCT through the latest trade, on the equity grid, rounded away from the trade', () => {
    expect(guardLimitPrice('97', 'sell', '1')).toBe('96.03');
    expect(guardLimitPrice('97.37', 'sell', '1')).toBe('96.39'); // 96.3963 down
    expect(guardLimitPrice('97.37', 'buy', '1')).toBe('98.35'); // 98.3437 up
    expect(guardLimitPrice('0.5123', 'sell', '1')).toBe('0.5071'); // below $1: 4 places
    expect(guardLimitPrice('1.01', 'sell', '2.5')).toBe('0.9847'); // 0.98475 crosses $1: 4 places
  });

  it('has a deterministic client order id: symbol, fill count, New York date and session', () => {
    // 2027-01-05 13:00 UTC is 08:00 in New York.
    expect(guardClientOrderId('AAPL', 3, Date.parse('2027-01-05T13:00:00Z'), 'pre')).toBe('ct-guard-AAPL-3-20270105p');
    // 01:00 UTC on the 6th is still the 5th in New York, 20:00.
    expect(guardClientOrderId('AAPL', 3, Date.parse('2027-01-06T01:00:00Z'), 'overnight')).toBe('ct-guard-AAPL-3-20270105o');
    expect(repriceClientOrderId('ct-guard-AAPL-3-20270105p', 2)).toBe('ct-guard-AAPL-3-20270105p-r2');
    // An exit that ended unfilled, placed again: a new id, numbered when nothing else changed.
    expect(nextExitClientOrderId({ baseCid: 'ct-guard-AAPL-3-20270105a', attempt: 1 }, 'ct-guard-AAPL-3-20270105o')).toBe('ct-guard-AAPL-3-20270105o');
    expect(nextExitClientOrderId({ baseCid: 'ct-guard-AAPL-3-20270105a', attempt: 1 }, 'ct-guard-AAPL-3-20270105a')).toBe('ct-guard-AAPL-3-20270105a-2');
    expect(nextExitClientOrderId({ baseCid: 'ct-guard-AAPL-3-20270105a-2', attempt: 2 }, 'ct-guard-AAPL-3-20270105a')).toBe('ct-guard-AAPL-3-20270105a-3');
  });

  it('is sent once the stops are gone, re-priced once CT_GUARD_REPRICE_S passed, unchanged price only restarts the clock', () => {
    const fresh = exit({ orderId: null, limitPrice: null, placedAt: null });
    expect(decideGuard(input({ exit: fresh, stopsGone: false }))).toEqual({ type: 'wait' });
    expect(decideGuard(input({ exit: fresh, stopsGone: true }))).toEqual({ type: 'send', limitPrice: '96.03' });
    expect(decideGuard(input({ exit: fresh, stopsGone: true, latest: null }))).toEqual({ type: 'wait' });
    const working = exit();
    expect(decideGuard(input({ exit: working, stopsGone: true, order: 'live', now: 60_999 }))).toEqual({ type: 'wait' });
    expect(decideGuard(input({ exit: working, stopsGone: true, order: 'live', now: 61_000 }))).toEqual({ type: 'reprice', limitPrice: '96.03', same: true });
    expect(decideGuard(input({ exit: working, stopsGone: true, order: 'live', now: 61_000, latest: '95' }))).toEqual({ type: 'reprice', limitPrice: '94.05', same: false });
    // An exit that ended unfilled (a day order at the end of after-hours) is placed again.
    expect(decideGuard(input({ exit: working, stopsGone: true, order: 'ended', session: 'overnight' }))).toEqual({ type: 'send', limitPrice: '96.03' });
    // Closed (a weekend): nothing acts; it waits for a session.
    expect(decideGuard(input({ exit: working, stopsGone: true, order: 'ended', session: 'closed' }))).toEqual({ type: 'wait' });
  });

  it('ends when flat (a working order canceled first); at the regular open the exit goes and the stops come back', () => {
    expect(decideGuard(input({ exit: exit(), position: '0', order: 'ended' }))).toEqual({ type: 'finish' });
    expect(decideGuard(input({ exit: exit(), position: '0', order: 'live' }))).toEqual({ type: 'cancelExit' });
    expect(decideGuard(input({ exit: exit(), session: 'regular', order: 'live' }))).toEqual({ type: 'cancelExit' });
    expect(decideGuard(input({ exit: exit(), session: 'regular', order: 'ended' }))).toEqual({ type: 'resume' });
    // Still canceling its stops at the open: the cancels are withdrawn (resume).
    expect(decideGuard(input({ exit: exit({ orderId: null }), session: 'regular', order: 'none' }))).toEqual({ type: 'resume' });
  });
});

describe('stops again at the open (machines/position.ts resumeStops)', () => {
  const cover = (stopOf: string, asked: string, over: Partial<StopCover> = {}): StopCover => ({ stopOf, side: 'sell', asked, cut: '0', cancelRequested: false, done: false, ...over });

  it('re-arms the stops the guard took off (done: under the next id), oldest first, cut down to what is left', () => {
    // 10 + 5 were covered; the exit sold 6 before the open: 9 left, the oldest stop gives up 6.
    const step = resumeStops({ symbol: 'AAPL', qty: '9', stops: [] }, [cover('e1', '10', { done: true }), cover('e2', '5', { cancelRequested: true })]);
    expect(step.commands).toEqual([
      { type: 'cover', stopOf: 'e1', side: 'sell', qty: '10', rearm: { cut: '0', nextVersion: true } },
      { type: 'cover', stopOf: 'e2', side: 'sell', qty: '5', rearm: { cut: '0', nextVersion: false } },
      { type: 'shrink', stopOf: 'e1', qty: '6', cutQty: '6' },
    ]);
    expect(step.next.stops.map((s) => [s.stopOf, s.asked, s.cut, s.done, s.cancelRequested])).toEqual([
      ['e1', '10', '6', false, false],
      ['e2', '5', '0', false, false],
    ]);
  });

  it('leaves live stops and the other side alone, and does nothing for a flat position', () => {
    expect(resumeStops({ symbol: 'AAPL', qty: '5', stops: [] }, [cover('e1', '5')]).commands).toEqual([]);
    expect(resumeStops({ symbol: 'AAPL', qty: '5', stops: [] }, [cover('e1', '5', { side: 'buy', done: true })]).commands).toEqual([]);
    expect(resumeStops({ symbol: 'AAPL', qty: '0', stops: [] }, [cover('e1', '5', { done: true })]).commands).toEqual([]);
  });
});

describe('coverage during a guard exit (src/protection/coverage.ts)', () => {
  it('a position the guard is exiting is a state (reason guard_exit), not unprotected; without the guard it is', () => {
    const positions = new Map([['AAPL', '10']]);
    const guarded = assessCoverage(positions, [], { adopt: 'protect', guarded: new Set(['AAPL']) });
    expect(guarded.unprotected).toEqual([]);
    expect(guarded.positions).toEqual([{ symbol: 'AAPL', position: '10', covered: '0', uncovered: '10', reason: 'guard_exit' }]);
    expect(assessCoverage(positions, [], { adopt: 'protect' }).unprotected).toEqual([expect.objectContaining({ symbol: 'AAPL', reason: 'no_stop' })]);
  });
});
