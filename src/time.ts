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

const ACTIVITY_ID = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{3})::/;
const NEW_YORK = new Intl.DateTimeFormat('en-US', {
  timeZone: 'America/New_York',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** New York's offset from UTC (ms) at an instant. */
function newYorkOffsetMs(utcMs: number): number {
  const p = Object.fromEntries(NEW_YORK.formatToParts(new Date(utcMs)).map((x) => [x.type, x.value]));
  const local = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
  return local - (utcMs - (((utcMs % 1000) + 1000) % 1000));
}

/**
 * The time an Alpaca activity id carries: `YYYYMMDDHHMMSSmmm::<uuid>`, New York time to the
 * millisecond (activity-fill.json: id `20220202135509981::…`, transaction_time
 * `2022-02-02T18:55:09.981482Z`), as canonical UTC; null when the id has no such prefix.
 */
export function activityIdTime(id: string): string | null {
  const m = ACTIVITY_ID.exec(id);
  if (!m) return null;
  const [y, mo, d, h, mi, s, ms] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
  const local = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  if (Number.isNaN(local)) return null;
  // Local → UTC: the offset at the first guess, checked again where it lands (DST changes).
  let utc = local - newYorkOffsetMs(local);
  utc = local - newYorkOffsetMs(utc);
  return canonicalTime(new Date(utc).toISOString());
}

/**
 * The start (midnight, New York) of the New York day `daysBefore` days before the one `utcMs` falls
 * on: the day a CFEE's id names (`YYYYMMDD000000000`) begins there.
 */
export function newYorkDayStart(utcMs: number, daysBefore = 0): Date {
  const p = Object.fromEntries(NEW_YORK.formatToParts(new Date(utcMs)).map((x) => [x.type, x.value]));
  const local = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day) - daysBefore);
  let utc = local - newYorkOffsetMs(local);
  utc = local - newYorkOffsetMs(utc);
  return new Date(utc);
}

/** The last nanosecond of the New York day `YYYY-MM-DD`, as canonical UTC; null for anything else. */
export function newYorkDayEnd(day: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return null;
  const noon = Date.parse(`${day}T12:00:00Z`);
  if (Number.isNaN(noon)) return null;
  const next = newYorkDayStart(noon, -1).getTime();
  return `${new Date(next - 1000).toISOString().slice(0, 19)}.999999999Z`;
}
