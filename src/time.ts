/**
 * One text form for stored instants: UTC, nine fractional digits ("2026-01-02T15:04:05.123456000Z").
 * Alpaca sends 3, 6 or 9 digits and sometimes an offset; a fixed width makes stored times compare
 * and sort correctly as strings, and keeps the broker's nanoseconds.
 */
const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

export function canonicalTime(text: string): string | null {
  const m = RFC3339.exec(text);
  if (!m) {
    const ms = Date.parse(text);
    return Number.isNaN(ms) ? null : new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
  }
  const [, seconds, fraction = '', zone] = m;
  const whole = Date.parse(`${seconds}${zone!.toUpperCase()}`);
  if (Number.isNaN(whole)) return null;
  return `${new Date(whole).toISOString().slice(0, 19)}.${fraction.padEnd(9, '0')}Z`;
}
