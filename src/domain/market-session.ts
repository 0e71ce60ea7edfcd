/**
 * Which Alpaca session it is, from Alpaca's own clock and calendar (pure), and whether a position's
 * stops can trigger in it. Sessions (docs "24/5 Trading"): overnight 20:00–04:00 ET into a trading
 * day, pre-market from the calendar's `session_open` to `open`, regular `open`–`close`, after-hours
 * `close`–`session_close`, closed otherwise (weekends, holidays: days the calendar does not list).
 * Stops and trailing stops trigger only in regular hours (docs "Orders"); crypto trades 24/7.
 */
import { isCrypto } from './symbols.js';

export type MarketSession = 'regular' | 'pre' | 'after' | 'overnight' | 'closed';
/** A position's session: its market's, or `continuous` for crypto. */
export type PositionSession = MarketSession | 'continuous';

/** One `GET /v2/calendar` day: `open`/`close` as "HH:MM", `session_open`/`session_close` as "HHMM". */
export interface CalendarDay {
  date: string;
  open: string;
  close: string;
  sessionOpen: string;
  sessionClose: string;
}

/** The trading days Alpaca listed for the dates `from`..`to` (inclusive): a date in range but absent does not trade. */
export interface CalendarWindow {
  from: string;
  to: string;
  days: readonly CalendarDay[];
}

/** `GET /v2/clock`: in the regular session or not, until `nextClose` / `nextOpen` (epoch ms). */
export interface ClockReading {
  isOpen: boolean;
  nextOpen: number;
  nextClose: number;
}

const NEW_YORK = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
const OVERNIGHT_START = 20 * 60;

/** New York date and minutes after midnight of an instant. */
export function newYorkWall(ms: number): { date: string; minutes: number } {
  const p = Object.fromEntries(NEW_YORK.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return { date: `${p.year}-${p.month}-${p.day}`, minutes: (Number(p.hour) % 24) * 60 + Number(p.minute) };
}

/** "09:30" or "0930" → 570. */
export function minutesOf(hhmm: string): number {
  const m = /^(\d{2}):?(\d{2})$/.exec(hhmm);
  if (!m) throw new Error(`not a time of day: ${hhmm}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** `YYYY-MM-DD` moved by `days` calendar days. */
export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/**
 * The session at `nowMs` (the broker's time). The calendar splits the day; the clock, while its
 * answer holds (before its `next_close` when open, its `next_open` when closed), says whether the
 * regular session is on: an unscheduled closure is `closed`, an open the calendar did not expect
 * `regular`. Null when the calendar does not cover today and tomorrow.
 */
export function marketSession(nowMs: number, calendar: CalendarWindow, clock?: ClockReading | null): MarketSession | null {
  const { date, minutes } = newYorkWall(nowMs);
  const tomorrow = addDays(date, 1);
  if (date < calendar.from || tomorrow > calendar.to) return null;
  const today = calendar.days.find((d) => d.date === date);
  let session: MarketSession = minutes >= OVERNIGHT_START && calendar.days.some((d) => d.date === tomorrow) ? 'overnight' : 'closed';
  if (today) {
    const [sessionOpen, open, close, sessionClose] = [today.sessionOpen, today.open, today.close, today.sessionClose].map(minutesOf) as [number, number, number, number];
    if (minutes < sessionOpen) session = 'overnight';
    else if (minutes < open) session = 'pre';
    else if (minutes < close) session = 'regular';
    else if (minutes < sessionClose) session = 'after';
  }
  if (clock?.isOpen && nowMs < clock.nextClose) return 'regular';
  if (clock && !clock.isOpen && nowMs < clock.nextOpen && session === 'regular') return 'closed';
  return session;
}

/** Whether a position's stops can trigger now, and why not. Unknown session: unknown (null). */
export function stopsActing(session: PositionSession | null): { stops_acting: boolean | null; stops_acting_reason: 'outside_regular_hours' | null } {
  if (session === null) return { stops_acting: null, stops_acting_reason: null };
  if (session === 'regular' || session === 'continuous') return { stops_acting: true, stops_acting_reason: null };
  return { stops_acting: false, stops_acting_reason: 'outside_regular_hours' };
}

/** A position's session: crypto's is `continuous`; an equity's is the market's (null while unknown). */
export function positionSession(symbol: string, market: MarketSession | null, assetClass?: string): PositionSession | null {
  return isCrypto(symbol, assetClass) ? 'continuous' : market;
}
