import { describe, expect, it } from 'vitest';
import { canonicalTime } from '../src/time.js';

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
