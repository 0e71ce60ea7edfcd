/**
 * Time for the simulator: a strictly increasing microsecond clock (so every event
 * has a distinct timestamp) that tests can move (the simulated time: the wall clock
 * plus a shift), RFC 3339 formatting in Z and in America/New_York (Alpaca's clock and
 * activity ids use New York time), and query-parameter parsing.
 */

/** Epoch microseconds, strictly increasing across calls. */
export class MonotonicClock {
  private last = 0;
  private shiftMs = 0;

  nowMicros(): number {
    const wall = (Date.now() + this.shiftMs) * 1000;
    this.last = wall > this.last ? wall : this.last + 1;
    return this.last;
  }

  /**
   * Simulated time is `ms` now and runs on with the wall clock. Backwards only with `rewind`
   * (nothing happened yet): otherwise timestamps and activity ids would stop sorting in order.
   */
  moveTo(ms: number, rewind = false): void {
    this.shiftMs = ms - Date.now();
    if (rewind) this.last = 0;
  }
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `2024-05-01T14:03:07.123456Z` */
export function rfc3339(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString(); // ...SS.mmmZ
  return `${iso.slice(0, -1)}${pad(micros - ms * 1000, 3)}Z`;
}

const NY_TZ = 'America/New_York';
const nyFormatter = new Intl.DateTimeFormat('en-US', {
  timeZone: NY_TZ,
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

interface WallParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** New York's wall clock at `ms`, read from the time zone database (Intl). */
function formatNyParts(ms: number): WallParts {
  const parts: Record<string, number> = {};
  for (const p of nyFormatter.formatToParts(new Date(ms))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year ?? 1970,
    month: parts.month ?? 1,
    day: parts.day ?? 1,
    hour: (parts.hour ?? 0) % 24,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

const HOUR_MS = 3_600_000;
/**
 * New York's offset (ms) by UTC hour. New York's offsets are whole hours and change at 02:00 local
 * time, which is always the start of a UTC hour: one hour has one offset. Intl costs tens of µs a
 * call and every order, event and activity the simulator writes asks it.
 */
const offsetsByHour = new Map<number, number>();

function nyOffsetMs(ms: number): number {
  const hour = Math.floor(ms / HOUR_MS);
  let offset = offsetsByHour.get(hour);
  if (offset === undefined) {
    const start = hour * HOUR_MS;
    const p = formatNyParts(start);
    offset = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - start;
    if (offsetsByHour.size >= 4096) offsetsByHour.clear();
    offsetsByHour.set(hour, offset);
  }
  return offset;
}

function nyParts(ms: number): WallParts {
  const wall = new Date(Math.floor(ms) + nyOffsetMs(ms));
  return {
    year: wall.getUTCFullYear(),
    month: wall.getUTCMonth() + 1,
    day: wall.getUTCDate(),
    hour: wall.getUTCHours(),
    minute: wall.getUTCMinutes(),
    second: wall.getUTCSeconds(),
  };
}

/** Offset of New York from UTC at instant `ms`, in minutes (e.g. -240 in summer). */
export function nyOffsetMinutes(ms: number): number {
  return Math.round(nyOffsetMs(ms) / 60000);
}

/** `YYYYMMDDHHMMSSmmm` in New York local time (Alpaca activity id prefix). */
export function nyCompactStamp(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const p = nyParts(ms);
  return `${p.year}${pad(p.month)}${pad(p.day)}${pad(p.hour)}${pad(p.minute)}${pad(p.second)}${pad(ms % 1000, 3)}`;
}

/** The New York date of instant `ms` and its minutes after New York midnight. */
export function nyWall(ms: number): { date: string; minutes: number } {
  const p = nyParts(ms);
  return { date: `${p.year}-${pad(p.month)}-${pad(p.day)}`, minutes: p.hour * 60 + p.minute };
}

/** `YYYY-MM-DD` of the instant in New York. */
export function nyDate(micros: number): string {
  const p = nyParts(Math.floor(micros / 1000));
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
}

function offsetSuffix(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** RFC 3339 in New York local time with its offset, e.g. `2022-04-28T14:07:04.451420-04:00`. */
export function nyIso(micros: number, withFraction = true): string {
  const ms = Math.floor(micros / 1000);
  const p = nyParts(ms);
  const base = `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`;
  const frac = withFraction ? `.${pad(ms % 1000, 3)}${pad(micros - ms * 1000, 3)}` : '';
  return `${base}${frac}${offsetSuffix(nyOffsetMinutes(ms))}`;
}

/** Epoch ms of a New York wall-clock time on the given date. */
export function nyWallToMs(date: string, hour = 0, minute = 0): number {
  const [y, m, d] = date.split('-').map(Number);
  const wallAsUtc = Date.UTC(y ?? 1970, (m ?? 1) - 1, d ?? 1, hour, minute);
  const offset = nyOffsetMinutes(wallAsUtc - 5 * 3600_000);
  return wallAsUtc - offset * 60_000;
}

const DATE_ONLY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const RFC3339_RE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+\- ]\d{2}:?\d{2})?$/;

/**
 * Parse a time query parameter to epoch microseconds. Accepts RFC 3339 (any offset,
 * 0–9 fractional digits; no offset means UTC; a `+` decoded to a space is tolerated)
 * and a bare `YYYY-MM-DD` (midnight New York). Returns null when unparseable.
 */
export function parseTimeParam(raw: string): number | null {
  const text = raw.trim();
  if (DATE_ONLY_RE.test(text)) {
    const ms = nyWallToMs(text);
    return Number.isFinite(ms) ? ms * 1000 : null;
  }
  const m = RFC3339_RE.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const baseMs = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (!Number.isFinite(baseMs)) return null;
  const fracMicros = frac ? Number(frac.padEnd(6, '0').slice(0, 6)) : 0;
  let offsetMin = 0;
  if (tz && tz.toUpperCase() !== 'Z') {
    const sign = tz[0] === '-' ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    offsetMin = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4)));
  }
  return (baseMs - offsetMin * 60_000) * 1000 + fracMicros;
}
