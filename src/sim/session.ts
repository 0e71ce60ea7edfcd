/**
 * The simulated regular market session (equities; crypto trades 24/7 and ignores it).
 *
 * Default: open, whatever the wall time, so tests that never touch the clock see a market
 * that is always open. `POST /_sim/clock {"is_open": false}` closes it: equity orders then do
 * not execute on their own (stops and trailing stops do not trigger, docs "Orders": "Trailing
 * stop will not trigger outside of the regular market hours"), new equity orders are taken as
 * `accepted` and wait for the next open (spec TimeInForce; docs "Orders": `accepted` "could be
 * seen often outside of trading session hours"), and at the close every open equity `day`
 * order expires (session-control.ts). `extended_hours` limit orders may still fill while closed.
 *
 * `GET /v2/clock` answers in Alpaca's shape (clock.json / clock-closed.json): New York offset,
 * `next_open` / `next_close` the coming regular session (weekends skipped, holidays not).
 */
import { nyDate, nyIso, nyWallToMs } from './clock.js';
import type { OrderEventName, OrderStatus, SimOrder } from './types.js';

const DAY_MS = 24 * 3600_000;

/** The first New York date on or after `date` that is a weekday. */
function weekdayOnOrAfter(date: string): string {
  let d = date;
  for (let i = 0; i < 7; i++) {
    const [y, m, dd] = d.split('-').map(Number);
    const dow = new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, dd ?? 1)).getUTCDay();
    if (dow !== 0 && dow !== 6) return d;
    d = nyDate((nyWallToMs(d, 12, 0) + DAY_MS) * 1000);
  }
  return d;
}

/** The next day's New York date. */
function nextNyDate(date: string): string {
  return nyDate((nyWallToMs(date, 12, 0) + DAY_MS) * 1000);
}

/** Epoch ms of the next regular open (09:30 New York) strictly after `nowMs`. */
export function nextRegularOpenMs(nowMs: number): number {
  let date = weekdayOnOrAfter(nyDate(nowMs * 1000));
  let open = nyWallToMs(date, 9, 30);
  if (open <= nowMs) {
    date = weekdayOnOrAfter(nextNyDate(date));
    open = nyWallToMs(date, 9, 30);
  }
  return open;
}

/** Epoch ms of the next regular close (16:00 New York) strictly after `nowMs`. */
export function nextRegularCloseMs(nowMs: number): number {
  let date = weekdayOnOrAfter(nyDate(nowMs * 1000));
  let close = nyWallToMs(date, 16, 0);
  if (close <= nowMs) {
    date = weekdayOnOrAfter(nextNyDate(date));
    close = nyWallToMs(date, 16, 0);
  }
  return close;
}

export type SessionChange = 'opened' | 'closed' | null;

export class MarketSession {
  private open = true;
  /** Counts regular sessions: incremented at every close → open transition. */
  private session = 1;
  private nextOpenOverride: number | null = null;
  private nextCloseOverride: number | null = null;
  /** order id → the session in which it was reported done_for_day. */
  private readonly doneForDay = new Map<string, number>();

  get isOpen(): boolean {
    return this.open;
  }

  /** Number of the current (or last) regular session, starting at 1. */
  get number(): number {
    return this.session;
  }

  /** Open or close the session; returns what changed (null when it already was so). */
  set(open: boolean): SessionChange {
    if (open === this.open) return null;
    this.open = open;
    if (open) this.session += 1;
    return open ? 'opened' : 'closed';
  }

  /** Fixed `next_open` / `next_close` for /v2/clock (epoch ms; null = computed). */
  setOverrides(nextOpenMs: number | null | undefined, nextCloseMs: number | null | undefined): void {
    if (nextOpenMs !== undefined) this.nextOpenOverride = nextOpenMs;
    if (nextCloseMs !== undefined) this.nextCloseOverride = nextCloseMs;
  }

  /** `GET /v2/clock` body (clock.json / clock-closed.json). */
  clockJson(nowMicros: number): Record<string, unknown> {
    const nowMs = Math.floor(nowMicros / 1000);
    let closeMs: number;
    let openMs: number;
    if (this.open) {
      // In a session: it closes at the coming 16:00; the next one opens after that.
      closeMs = nextRegularCloseMs(nowMs);
      openMs = nextRegularOpenMs(closeMs);
    } else {
      // Closed: the next session opens at the coming 09:30 and closes at 16:00 that day.
      openMs = nextRegularOpenMs(nowMs);
      closeMs = nextRegularCloseMs(openMs);
    }
    return {
      timestamp: nyIso(nowMicros),
      is_open: this.open,
      next_open: nyIso((this.nextOpenOverride ?? openMs) * 1000, false),
      next_close: nyIso((this.nextCloseOverride ?? closeMs) * 1000, false),
    };
  }

  /** Status of an equity order entering the book now: `accepted` (queued) while closed. */
  initialStatus(order: SimOrder): OrderStatus {
    if (order.asset.assetClass !== 'us_equity' || this.open || order.extendedHours) return 'new';
    return 'accepted';
  }

  noteEvent(order: SimOrder, event: OrderEventName): void {
    if (event === 'done_for_day') this.doneForDay.set(order.id, this.session);
  }

  /** Reported done_for_day in this session: no fill until the next session opens. */
  isDoneForToday(order: SimOrder): boolean {
    return order.status === 'done_for_day' && this.doneForDay.get(order.id) === this.session;
  }

  /** May this open order execute on its own (a price move, its acceptance) now? */
  canAutoExecute(order: SimOrder): boolean {
    if (this.isDoneForToday(order)) return false;
    if (order.asset.assetClass !== 'us_equity') return true;
    if (order.status === 'accepted') return false;
    if (this.open) return true;
    return order.extendedHours && order.type === 'limit';
  }
}
