import { describe, expect, it } from 'vitest';
import { activityIdTime, canonicalTime, newYorkDayEnd, newYorkDayStart } from '../src/time.js';

describe('canonical stored time', () => {
  it.each([
    ['2022-04-19T17:45:05.024916716Z', '2022-04-19T17:45:05.024916716Z'],
    ['2022-02-02T18:55:09.981482Z', '2022-02-02T18:55:09.981482000Z'],
    ['2026-01-02T15:00:00Z', '2026-01-02T15:00:00.000000000Z'],
    ['2022-04-19T13:45:04.981350886-04:00', '2022-04-19T17:45:04.981350886Z'],
    ['2022-04-28T14:07:04.451420928+02:00', '2022-04-28T12:07:04.451420928Z'],
  ])('%s → %s', (input, out) => {
    expect(canonicalTime(input)).toBe(out);
  });

  it('sorts as strings in time order whatever precision the broker sent', () => {
    const times = ['2026-01-02T15:00:00.5Z', '2026-01-02T15:00:00Z', '2026-01-02T15:00:00.123456789Z', '2026-01-02T14:59:59.999-00:00'];
    const sorted = times.map((t) => canonicalTime(t)!).sort();
    expect(sorted).toEqual([
      '2026-01-02T14:59:59.999000000Z',
      '2026-01-02T15:00:00.000000000Z',
      '2026-01-02T15:00:00.123456789Z',
      '2026-01-02T15:00:00.500000000Z',
    ]);
  });

  it('refuses what is not a time', () => {
    expect(canonicalTime('yesterday')).toBeNull();
    expect(canonicalTime('2026-02-30T25:00:00Z')).toBeNull();
  });
});

describe('activityIdTime: the New York time an Alpaca activity id starts with', () => {
  it('matches the transaction times of the fixtures, in winter and in summer (DST)', () => {
    // activity-fill.json: id 20220202135509981::…, transaction_time 2022-02-02T18:55:09.981482Z (EST).
    expect(activityIdTime('20220202135509981::2d7be4ff-d1f3-43e9-856a-0f5cf5c5088e')).toBe('2022-02-02T18:55:09.981000000Z');
    // activities-mixed.json: 20220304095318500::…, 2022-03-04T14:53:18.500245Z.
    expect(activityIdTime('20220304095318500::092cd749')).toBe('2022-03-04T14:53:18.500000000Z');
    // EDT (-4) in August: activity-cfee.json's midnight id.
    expect(activityIdTime('20220812000000000::53be51ba')).toBe('2022-08-12T04:00:00.000000000Z');
  });

  it('is null for an id without the time prefix', () => {
    expect(activityIdTime('53be51ba-46f9-43de-b81f-576f241dc680')).toBeNull();
    expect(activityIdTime('2022081200000000::x')).toBeNull();
  });
});

describe('New York days (a CFEE id names one: YYYYMMDD000000000)', () => {
  it('newYorkDayStart: the midnight of the New York day an instant falls on, or days before it, across DST changes', () => {
    const start = (iso: string, before = 0) => newYorkDayStart(Date.parse(iso), before).toISOString();
    // 23:00 in New York on 2026-03-08 (the day clocks go forward): that day began in EST.
    expect(start('2026-03-09T03:00:00Z')).toBe('2026-03-08T05:00:00.000Z');
    expect(start('2026-03-09T03:00:00Z', 1)).toBe('2026-03-07T05:00:00.000Z');
    // The day after begins in EDT; the day clocks go back began in EDT.
    expect(start('2026-03-09T12:00:00Z')).toBe('2026-03-09T04:00:00.000Z');
    expect(start('2026-11-02T04:30:00Z')).toBe('2026-11-01T04:00:00.000Z');
    // Across a year's end.
    expect(start('2026-01-01T04:00:00Z', 1)).toBe('2025-12-30T05:00:00.000Z');
  });

  it('newYorkDayEnd: the last nanosecond of a New York day; null for anything but YYYY-MM-DD', () => {
    expect(newYorkDayEnd('2022-08-12')).toBe('2022-08-13T03:59:59.999999999Z');
    expect(newYorkDayEnd('2026-03-08')).toBe('2026-03-09T03:59:59.999999999Z');
    expect(newYorkDayEnd('2022-8-12')).toBeNull();
  });
});
