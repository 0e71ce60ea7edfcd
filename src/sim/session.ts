/**
 * The simulated equity session (crypto trades 24/7 and ignores it). Two modes:
 *
 * - **Default** (the clock never set): regular, whatever the wall time, so tests that never touch
 *   the clock see a market that is always open. `POST /_sim/clock {"is_open": false}` turns it to
 *   after-hours (only extended-hours limit orders act), `{"is_open": true}` back to regular.
 * - **Timed** (`POST /_sim/clock {"now": …}`): the session follows the simulated time through
 *   Alpaca's sessions and the NYSE calendar (sessions.ts, calendar.ts); session-control.ts applies
 *   each change as the time passes it.
 *
 * Which orders act in which session: order-sessions.ts. `GET /v2/clock` answers in Alpaca's shape
 * (clock.json / clock-closed.json): New York offset, `next_open` / `next_close` the coming regular
 * session, holidays skipped; `is_open` is true in the regular session only.
 */
import { nyIso } from './clock.js';
import { actsIn } from './order-sessions.js';
import { type Session, nextRegularCloseMs, nextRegularOpenMs } from './sessions.js';
import type { OrderEventName, OrderStatus, SimOrder } from './types.js';

export type { Session } from './sessions.js';

export class MarketSession {
  private current: Session = 'regular';
  /** Counts regular sessions: incremented every time the regular session begins. */
  private session = 1;
  private nextOpenOverride: number | null = null;
  private nextCloseOverride: number | null = null;
  /** order id → the regular session in which it was reported done_for_day. */
  private readonly doneForDay = new Map<string, number>();
  /** Timed mode: the simulated instant (epoch ms) up to which session changes were applied. */
  syncedMs: number | null = null;

  /** The session now. */
  get now(): Session {
    return this.current;
  }

  /** In the regular session (`/v2/clock` `is_open`). */
  get isOpen(): boolean {
    return this.current === 'regular';
  }

  /** Does the session follow the simulated time? */
  get timed(): boolean {
    return this.syncedMs !== null;
  }

  /** Number of the current (or last) regular session, starting at 1. */
  get number(): number {
    return this.session;
  }

  /** Enter `next`; returns the session left (null when it already was `next`). */
  set(next: Session): Session | null {
    if (next === this.current) return null;
    const prev = this.current;
    this.current = next;
    if (next === 'regular') this.session += 1;
    return prev;
  }

  /** Fixed `next_open` / `next_close` for /v2/clock (epoch ms; null = computed). */
  setOverrides(nextOpenMs: number | null | undefined, nextCloseMs: number | null | undefined): void {
    if (nextOpenMs !== undefined) this.nextOpenOverride = nextOpenMs;
    if (nextCloseMs !== undefined) this.nextCloseOverride = nextCloseMs;
  }

  /** `GET /v2/clock` body (clock.json / clock-closed.json). */
  clockJson(nowMicros: number): Record<string, unknown> {
    const nowMs = Math.floor(nowMicros / 1000);
    // In a regular session it closes at the coming close and the next one opens after that;
    // otherwise the next one opens at the coming open and closes that day.
    const closeMs = this.isOpen ? nextRegularCloseMs(nowMs) : nextRegularCloseMs(nextRegularOpenMs(nowMs));
    const openMs = this.isOpen ? nextRegularOpenMs(closeMs) : nextRegularOpenMs(nowMs);
    return {
      timestamp: nyIso(nowMicros),
      is_open: this.isOpen,
      next_open: nyIso((this.nextOpenOverride ?? openMs) * 1000, false),
      next_close: nyIso((this.nextCloseOverride ?? closeMs) * 1000, false),
    };
  }

  /** Status of an equity order entering the book now: `accepted` (queued) when it cannot act in this session. */
  initialStatus(order: SimOrder): OrderStatus {
    return actsIn(this.current, order) ? 'new' : 'accepted';
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
    if (order.status === 'accepted') return false;
    return actsIn(this.current, order);
  }
}
