/**
 * Which orders act in which session, and when time ends them (pure). Sources in src/sim/README.md
 * ("Sessions, 24/5 and aged orders"):
 * - regular: every order; stops and trailing stops trigger only here (docs "Orders": "Trailing stop
 *   will not trigger outside of the regular market hours");
 * - pre-market / after-hours: only `limit` orders with `extended_hours: true`, tif day or gtc;
 * - overnight: only `limit` orders (day or gtc), marked `extended_hours` as in pre/after (docs
 *   "24/5 Trading");
 * - closed (weekends, NYSE holidays): none. Crypto trades 24/7 and ignores sessions.
 * - A `day` order ends at the close (spec TimeInForce); an extended-hours `day` order carries to
 *   20:00 ET (docs "24/5 Trading": an unfilled overnight day order carries to 20:00 ET).
 * - Aged orders (docs "Orders", aged order policy): a GTC order is cancelled 90 days after it was
 *   created, at 16:15 ET on its `expires_at` date (status `expired`).
 */
import { addDays } from './calendar.js';
import { nyWall, nyWallToMs } from './clock.js';
import type { Session } from './sessions.js';
import type { OrderType, SimOrder, TimeInForce } from './types.js';

type OrderShape = Pick<SimOrder, 'type' | 'timeInForce' | 'extendedHours'> & { asset: { assetClass: string } };

/** Time in force an extended-hours (and overnight) order may have. */
export const EXTENDED_TIFS: readonly TimeInForce[] = ['day', 'gtc'];
/** Wording ours: Alpaca's reply for a gtc extended-hours order is not published (older docs: "DAY limit"). */
export const MSG_EXTENDED = 'extended hours orders must be limit orders with time_in_force day or gtc';

/** Whether an `extended_hours: true` request is one Alpaca takes (`limit`, day or gtc). */
export function extendedHoursAllowed(type: OrderType, tif: TimeInForce): boolean {
  return type === 'limit' && EXTENDED_TIFS.includes(tif);
}

/** May this order execute (a limit fill, a stop trigger) in `session`? */
export function actsIn(session: Session, o: OrderShape): boolean {
  // Crypto trades 24/7; option contracts as equities without extended hours (option-rules.ts refuses them).
  if (o.asset.assetClass === 'crypto') return true;
  switch (session) {
    case 'regular':
      return true;
    case 'pre':
    case 'after':
    case 'overnight':
      return o.extendedHours && extendedHoursAllowed(o.type, o.timeInForce);
    case 'closed':
      return false;
  }
}

/** Do stops and trailing stops trigger in `session`? (Regular hours only; crypto always.) */
export function stopsTriggerIn(session: Session, assetClass: string): boolean {
  return assetClass === 'crypto' || session === 'regular';
}

const DAYTIME: ReadonlySet<Session> = new Set(['pre', 'regular', 'after']);

/**
 * Does an open order end (expire) when the session goes from `prev` to `next`? An equity `day`
 * order at the regular close; an extended-hours one when after-hours ends (into overnight or
 * closed). A queued (`accepted`) order waits for a later session and is not ended.
 */
export function expiresAtSessionChange(prev: Session, next: Session, o: OrderShape & Pick<SimOrder, 'status'>): boolean {
  if (o.asset.assetClass === 'crypto' || o.timeInForce !== 'day' || o.status === 'accepted') return false;
  if (!o.extendedHours) return prev === 'regular' && next !== 'regular';
  return DAYTIME.has(prev) && !DAYTIME.has(next);
}

export const AGED_ORDER_DAYS = 90;

/** Epoch ms at which a GTC order created at `createdMs` is cancelled: 16:15 ET, 90 days on. */
export function agedExpiryMs(createdMs: number): number {
  return nyWallToMs(addDays(nyWall(createdMs).date, AGED_ORDER_DAYS), 16, 15);
}
