/**
 * The NYSE trading calendar the simulator knows (pure): which New York dates are trading days and
 * their hours, in the shape of Alpaca's `GET /v2/calendar` (calendar.json).
 *
 * Full-day closures and early closes: NYSE Group, "NYSE Group Announces 2025, 2026 and 2027 Holiday
 * and Early Closings Calendar" (2024-11-08), plus the 2025-01-09 closure for the National Day of
 * Mourning for President Carter (NYSE Group, 2024-12-30). On an early-close day the market closes at
 * 13:00 and the late trading session at 17:00 (same release). Outside 2025–2027 every weekday is a
 * trading day (no holidays known).
 */

/** Full-day NYSE closures, New York dates. */
export const NYSE_HOLIDAYS: ReadonlySet<string> = new Set([
  '2025-01-01', '2025-01-09', '2025-01-20', '2025-02-17', '2025-04-18', '2025-05-26', '2025-06-19', '2025-07-04', '2025-09-01', '2025-11-27', '2025-12-25',
  '2026-01-01', '2026-01-19', '2026-02-16', '2026-04-03', '2026-05-25', '2026-06-19', '2026-07-03', '2026-09-07', '2026-11-26', '2026-12-25',
  '2027-01-01', '2027-01-18', '2027-02-15', '2027-03-26', '2027-05-31', '2027-06-18', '2027-07-05', '2027-09-06', '2027-11-25', '2027-12-24',
]);

/** 13:00 closes (late session to 17:00). */
export const NYSE_EARLY_CLOSES: ReadonlySet<string> = new Set(['2025-07-03', '2025-11-28', '2025-12-24', '2026-11-27', '2026-12-24', '2027-11-26']);

/** A trading day's hours, in minutes after New York midnight. */
export interface TradingHours {
  sessionOpen: number;
  open: number;
  close: number;
  sessionClose: number;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const pad = (n: number): string => String(n).padStart(2, '0');

function utcOf(date: string): Date {
  const m = DATE_RE.exec(date);
  if (!m) throw new Error(`not a YYYY-MM-DD date: ${date}`);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
}

/** `date` moved by `days` calendar days. */
export function addDays(date: string, days: number): string {
  const d = utcOf(date);
  d.setUTCDate(d.getUTCDate() + days);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

export function isTradingDay(date: string): boolean {
  const dow = utcOf(date).getUTCDay();
  return dow !== 0 && dow !== 6 && !NYSE_HOLIDAYS.has(date);
}

/** The date's hours, or null when it is no trading day. */
export function tradingHours(date: string): TradingHours | null {
  if (!isTradingDay(date)) return null;
  const early = NYSE_EARLY_CLOSES.has(date);
  return { sessionOpen: 4 * 60, open: 9 * 60 + 30, close: early ? 13 * 60 : 16 * 60, sessionClose: early ? 17 * 60 : 20 * 60 };
}

/** The first trading day strictly after `date`. */
export function nextTradingDay(date: string): string {
  let d = addDays(date, 1);
  while (!isTradingDay(d)) d = addDays(d, 1);
  return d;
}

const hhmm = (minutes: number, colon: boolean): string => `${pad(Math.floor(minutes / 60))}${colon ? ':' : ''}${pad(minutes % 60)}`;

/** One `GET /v2/calendar` item (calendar.json): `open`/`close` HH:MM, `session_*` HHMM, settlement T+1. */
export function calendarDayJson(date: string): Record<string, string> | null {
  const h = tradingHours(date);
  if (!h) return null;
  return {
    date,
    open: hhmm(h.open, true),
    close: hhmm(h.close, true),
    session_open: hhmm(h.sessionOpen, false),
    session_close: hhmm(h.sessionClose, false),
    settlement_date: nextTradingDay(date),
  };
}

/**
 * The trading days from `start` to `end` (inclusive), by trade date or, with `dateType`
 * SETTLEMENT, by settlement date (spec `date_type`).
 */
export function calendarRange(start: string, end: string, dateType: 'TRADING' | 'SETTLEMENT' = 'TRADING'): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  // A settlement date is at most a few days after its trade date: start the walk a week early.
  let d = dateType === 'SETTLEMENT' ? addDays(start, -7) : start;
  while (d <= end) {
    const day = calendarDayJson(d);
    const key = dateType === 'SETTLEMENT' ? day?.settlement_date : d;
    if (day && key !== undefined && key >= start && key <= end) out.push(day);
    d = addDays(d, 1);
  }
  return out;
}
