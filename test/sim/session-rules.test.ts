/**
 * Alpaca's sessions and which orders act in each, as pure rules (src/sim/sessions.ts,
 * order-sessions.ts, calendar.ts; sources in src/sim/README.md "Sessions, 24/5 and aged orders").
 */
import { describe, expect, it } from 'vitest';
import { calendarDayJson, calendarRange, isTradingDay, nextTradingDay } from '../../src/sim/calendar.js';
import { actsIn, agedExpiryMs, expiresAtSessionChange, extendedHoursAllowed, stopsTriggerIn } from '../../src/sim/order-sessions.js';
import { type Session, nextMarkAfter, nextRegularCloseMs, nextRegularOpenMs, sessionAt } from '../../src/sim/sessions.js';
import type { OrderType, TimeInForce } from '../../src/sim/types.js';
import { fixture } from '../support/fixtures.js';

/** Epoch ms of a New York wall time given with its offset, e.g. at('2025-06-03T10:00:00-04:00'). */
const at = (iso: string): number => Date.parse(iso);

describe('the session at an instant (docs "24/5 Trading")', () => {
  it('a trading day (Tuesday 2025-06-03, EDT): overnight, pre, regular, after, then overnight again', () => {
    const cases: Array<[string, Session]> = [
      ['2025-06-03T03:59:59-04:00', 'overnight'],
      ['2025-06-03T04:00:00-04:00', 'pre'],
      ['2025-06-03T09:29:59-04:00', 'pre'],
      ['2025-06-03T09:30:00-04:00', 'regular'],
      ['2025-06-03T15:59:59-04:00', 'regular'],
      ['2025-06-03T16:00:00-04:00', 'after'],
      ['2025-06-03T19:59:59-04:00', 'after'],
      ['2025-06-03T20:00:00-04:00', 'overnight'],
      ['2025-06-03T23:30:00-04:00', 'overnight'],
    ];
    expect(cases.map(([t]) => sessionAt(at(t)))).toEqual(cases.map(([, s]) => s));
  });

  it('in winter time (EST) the same wall times hold', () => {
    expect(sessionAt(at('2025-01-14T09:29:00-05:00'))).toBe('pre');
    expect(sessionAt(at('2025-01-14T09:30:00-05:00'))).toBe('regular');
    expect(sessionAt(at('2025-01-14T16:00:00-05:00'))).toBe('after');
  });

  it('weekends: Friday evening to Sunday 20:00 closed; Sunday 20:00 the overnight session leads into Monday', () => {
    expect(sessionAt(at('2025-06-06T19:59:00-04:00'))).toBe('after'); // Friday
    expect(sessionAt(at('2025-06-06T20:00:00-04:00'))).toBe('closed');
    expect(sessionAt(at('2025-06-07T02:00:00-04:00'))).toBe('closed'); // Saturday
    expect(sessionAt(at('2025-06-07T12:00:00-04:00'))).toBe('closed');
    expect(sessionAt(at('2025-06-08T19:59:00-04:00'))).toBe('closed'); // Sunday
    expect(sessionAt(at('2025-06-08T20:00:00-04:00'))).toBe('overnight');
    expect(sessionAt(at('2025-06-09T03:00:00-04:00'))).toBe('overnight'); // Monday
  });

  it('NYSE holidays are closed all day, and the overnight session before one does not run', () => {
    expect(sessionAt(at('2025-07-04T11:00:00-04:00'))).toBe('closed'); // Independence Day
    expect(sessionAt(at('2025-01-09T11:00:00-05:00'))).toBe('closed'); // National Day of Mourning
    expect(sessionAt(at('2025-04-18T11:00:00-04:00'))).toBe('closed'); // Good Friday
    expect(sessionAt(at('2026-07-03T11:00:00-04:00'))).toBe('closed'); // Independence Day observed
    // Wednesday before Thanksgiving 2025: after-hours as usual, then no overnight session.
    expect(sessionAt(at('2025-11-26T19:00:00-05:00'))).toBe('after');
    expect(sessionAt(at('2025-11-26T21:00:00-05:00'))).toBe('closed');
    expect(sessionAt(at('2025-11-27T02:00:00-05:00'))).toBe('closed');
    // Thanksgiving evening leads into Friday, a trading day: overnight runs.
    expect(sessionAt(at('2025-11-27T21:00:00-05:00'))).toBe('overnight');
  });

  it('early closes: regular ends at 13:00 and after-hours at 17:00 (day after Thanksgiving 2025)', () => {
    expect(sessionAt(at('2025-11-28T12:59:00-05:00'))).toBe('regular');
    expect(sessionAt(at('2025-11-28T13:00:00-05:00'))).toBe('after');
    expect(sessionAt(at('2025-11-28T16:59:00-05:00'))).toBe('after');
    expect(sessionAt(at('2025-11-28T17:00:00-05:00'))).toBe('closed');
  });

  it('next regular open and close skip weekends and holidays', () => {
    // Thursday 2025-07-03 (early close) after the close: next open is Monday 07-07 (07-04 is a holiday).
    const t = at('2025-07-03T14:00:00-04:00');
    expect(new Date(nextRegularOpenMs(t)).toISOString()).toBe('2025-07-07T13:30:00.000Z');
    expect(new Date(nextRegularCloseMs(t)).toISOString()).toBe('2025-07-07T20:00:00.000Z');
    expect(new Date(nextRegularCloseMs(at('2025-07-03T10:00:00-04:00'))).toISOString()).toBe('2025-07-03T17:00:00.000Z');
  });

  it('session marks: the next instant a session may change (or 16:15 passes), across days', () => {
    const seq: string[] = [];
    for (let t = at('2025-06-03T03:00:00-04:00'), i = 0; i < 9; i++) seq.push(new Date((t = nextMarkAfter(t))).toISOString());
    expect(seq).toEqual([
      '2025-06-03T08:00:00.000Z', // 04:00
      '2025-06-03T13:30:00.000Z', // 09:30
      '2025-06-03T17:00:00.000Z', // 13:00 (an early close's)
      '2025-06-03T20:00:00.000Z', // 16:00
      '2025-06-03T20:15:00.000Z', // 16:15 (aged orders)
      '2025-06-03T21:00:00.000Z', // 17:00 (an early close's after-hours end)
      '2025-06-04T00:00:00.000Z', // 20:00
      '2025-06-04T08:00:00.000Z', // next day 04:00
      '2025-06-04T13:30:00.000Z',
    ]);
  });
});

describe('the calendar (GET /v2/calendar, calendar.json)', () => {
  it('a trading day reads as the fixture, field for field', () => {
    expect(calendarDayJson('2025-01-02')).toEqual(fixture<Record<string, string>[]>('calendar.json')[0]);
  });

  it('weekends and holidays are absent; an early close shows 13:00 / 1700; settlement is the next trading day', () => {
    const july = calendarRange('2025-07-01', '2025-07-08');
    expect(july.map((d) => d.date)).toEqual(['2025-07-01', '2025-07-02', '2025-07-03', '2025-07-07', '2025-07-08']);
    expect(july[2]).toEqual({ date: '2025-07-03', open: '09:30', close: '13:00', session_open: '0400', session_close: '1700', settlement_date: '2025-07-07' });
    expect(isTradingDay('2027-12-24')).toBe(false); // Christmas observed
    expect(nextTradingDay('2025-12-24')).toBe('2025-12-26');
  });

  it('date_type SETTLEMENT selects by settlement date', () => {
    expect(calendarRange('2025-07-07', '2025-07-07', 'SETTLEMENT').map((d) => d.date)).toEqual(['2025-07-03']);
  });
});

type Shape = { type: OrderType; timeInForce: TimeInForce; extendedHours: boolean; asset: { assetClass: string } };
const equity = (type: OrderType, timeInForce: TimeInForce, extendedHours = false): Shape => ({ type, timeInForce, extendedHours, asset: { assetClass: 'us_equity' } });

describe('which orders act in each session (docs "Orders", "24/5 Trading")', () => {
  const orders: Record<string, Shape> = {
    trailing_gtc: equity('trailing_stop', 'gtc'),
    stop_day: equity('stop', 'day'),
    market_day: equity('market', 'day'),
    limit_gtc: equity('limit', 'gtc'),
    ext_limit_day: equity('limit', 'day', true),
    ext_limit_gtc: equity('limit', 'gtc', true),
    crypto_stop_limit: { type: 'stop_limit', timeInForce: 'gtc', extendedHours: false, asset: { assetClass: 'crypto' } },
  };
  const acting = (s: Session) => Object.entries(orders).filter(([, o]) => actsIn(s, o)).map(([k]) => k);

  it('regular: all; pre, after and overnight: extended-hours limit orders (day or gtc) only; closed: crypto only', () => {
    expect(acting('regular')).toEqual(Object.keys(orders));
    for (const s of ['pre', 'after', 'overnight'] as const) expect(acting(s)).toEqual(['ext_limit_day', 'ext_limit_gtc', 'crypto_stop_limit']);
    expect(acting('closed')).toEqual(['crypto_stop_limit']);
  });

  it('stops and trailing stops trigger in regular hours only; crypto always', () => {
    expect((['regular', 'pre', 'after', 'overnight', 'closed'] as const).filter((s) => stopsTriggerIn(s, 'us_equity'))).toEqual(['regular']);
    expect(stopsTriggerIn('closed', 'crypto')).toBe(true);
  });

  it('extended_hours is taken on limit orders with tif day or gtc only', () => {
    expect(extendedHoursAllowed('limit', 'day')).toBe(true);
    expect(extendedHoursAllowed('limit', 'gtc')).toBe(true);
    expect(extendedHoursAllowed('limit', 'ioc')).toBe(false);
    expect(extendedHoursAllowed('market', 'day')).toBe(false);
    expect(extendedHoursAllowed('stop_limit', 'gtc')).toBe(false);
  });

  it('a day order ends at the close; an extended-hours day order when after-hours ends; gtc and queued orders stay', () => {
    const open = { status: 'new' as const };
    expect(expiresAtSessionChange('regular', 'after', { ...equity('limit', 'day'), ...open })).toBe(true);
    expect(expiresAtSessionChange('regular', 'after', { ...equity('limit', 'day', true), ...open })).toBe(false);
    expect(expiresAtSessionChange('after', 'overnight', { ...equity('limit', 'day', true), ...open })).toBe(true);
    expect(expiresAtSessionChange('after', 'closed', { ...equity('limit', 'day', true), ...open })).toBe(true);
    expect(expiresAtSessionChange('overnight', 'pre', { ...equity('limit', 'day', true), ...open })).toBe(false);
    expect(expiresAtSessionChange('regular', 'after', { ...equity('trailing_stop', 'gtc'), ...open })).toBe(false);
    expect(expiresAtSessionChange('regular', 'after', { ...equity('market', 'day'), status: 'accepted' })).toBe(false);
  });

  it('aged orders: a GTC order expires at 16:15 ET on the day 90 days after it was created', () => {
    expect(new Date(agedExpiryMs(at('2025-06-03T10:00:00-04:00'))).toISOString()).toBe('2025-09-01T20:15:00.000Z');
    // Created in EDT, deadline in EST: still 16:15 New York time.
    expect(new Date(agedExpiryMs(at('2025-10-01T23:59:00-04:00'))).toISOString()).toBe('2025-12-30T21:15:00.000Z');
  });
});
