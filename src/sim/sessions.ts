/**
 * Alpaca's equity sessions at an instant (pure; docs "24/5 Trading"): overnight 20:00–04:00 ET
 * Sunday to Friday morning, pre-market 04:00–09:30, regular 09:30–16:00, after-hours 16:00–20:00,
 * closed otherwise (weekends, NYSE holidays: calendar.ts). "The overnight session follows the NYSE
 * holiday calendar. If US markets are fully closed for a holiday, the overnight trading session
 * immediately preceding that holiday will not run": the overnight session belongs to the trading day
 * it leads into. On an early-close day regular ends at 13:00 and after-hours at 17:00.
 */
import { addDays, isTradingDay, tradingHours } from './calendar.js';
import { nyWall, nyWallToMs } from './clock.js';

export type Session = 'regular' | 'pre' | 'after' | 'overnight' | 'closed';

const OVERNIGHT_START = 20 * 60;

/** The session at epoch ms `ms`. */
export function sessionAt(ms: number): Session {
  const { date, minutes } = nyWall(ms);
  const h = tradingHours(date);
  if (h) {
    if (minutes >= h.sessionOpen && minutes < h.open) return 'pre';
    if (minutes >= h.open && minutes < h.close) return 'regular';
    if (minutes >= h.close && minutes < h.sessionClose) return 'after';
    if (minutes < h.sessionOpen) return 'overnight';
  }
  return minutes >= OVERNIGHT_START && isTradingDay(addDays(date, 1)) ? 'overnight' : 'closed';
}

/** Wall times (minutes) at which a session may change or an aged order expire (16:15), every day. */
const MARKS = [4 * 60, 9 * 60 + 30, 13 * 60, 16 * 60, 16 * 60 + 15, 17 * 60, 20 * 60];

/** The first instant strictly after `ms` at which a session may change (or 16:15 passes). */
export function nextMarkAfter(ms: number): number {
  const { date } = nyWall(ms);
  for (let day = 0; day < 3; day++) {
    const d = addDays(date, day);
    for (const m of MARKS) {
      const at = nyWallToMs(d, Math.floor(m / 60), m % 60);
      if (at > ms) return at;
    }
  }
  throw new Error('no session mark within three days');
}

/** Epoch ms of the next regular open (strictly after `ms`); holidays skipped. */
export function nextRegularOpenMs(ms: number): number {
  return nextRegular(ms, 'open');
}

/** Epoch ms of the next regular close (strictly after `ms`); early closes at 13:00. */
export function nextRegularCloseMs(ms: number): number {
  return nextRegular(ms, 'close');
}

function nextRegular(ms: number, edge: 'open' | 'close'): number {
  let d = nyWall(ms).date;
  for (let i = 0; i < 30; i++, d = addDays(d, 1)) {
    const h = tradingHours(d);
    if (!h) continue;
    const at = nyWallToMs(d, Math.floor(h[edge] / 60), h[edge] % 60);
    if (at > ms) return at;
  }
  throw new Error('no trading day within 30 days');
}
