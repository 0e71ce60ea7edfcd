/**
 * Moving the simulated session (POST /_sim/clock) and applying what time does to orders:
 * - a session change ends the `day` orders it ends (order-sessions.ts `expiresAtSessionChange`:
 *   status `expired`, `expired_at`, stream event `expired`), then queued (`accepted`) orders that
 *   can act now go `new` and every open order is worked, so a stop crossed while it could not
 *   trigger fills at the regular open;
 * - a GTC order past its `expires_at` (aged order policy) expires.
 * In timed mode `syncSession` walks every session mark between the last instant applied and now,
 * in order, so a jump of 90 days closes each day it passes.
 */
import { parseTimeParam } from './clock.js';
import type { Engine } from './engine.js';
import { invalid, unprocessable } from './errors.js';
import { isPlainObject } from './order-request.js';
import { expiresAtSessionChange } from './order-sessions.js';
import { type Session, nextMarkAfter, sessionAt } from './sessions.js';

export interface SessionUpdate {
  /** Orders that expired (day orders at a close, aged GTC orders). */
  expired: string[];
}

/** Enter `next` now: end the orders the change ends, then release and work the rest. */
function enter(engine: Engine, next: Session, expired: string[]): void {
  const prev = engine.session.set(next);
  if (prev === null) return;
  for (const o of engine.openOrders()) {
    if (expiresAtSessionChange(prev, next, o)) {
      engine.expire(o.id);
      expired.push(o.id);
    }
  }
  engine.sessionChanged();
}

/** Expire every open order whose aged-order deadline (`expires_at`) is at or before `atMs`. */
function expireAged(engine: Engine, atMs: number, expired: string[]): void {
  for (const o of engine.openOrders()) {
    if (o.expiresAt !== null && o.expiresAt <= atMs * 1000) {
      engine.expire(o.id);
      expired.push(o.id);
    }
  }
}

/** Default mode: regular (`true`) or after-hours (`false`). */
export function setMarketOpen(engine: Engine, open: boolean): SessionUpdate {
  const expired: string[] = [];
  enter(engine, open ? 'regular' : 'after', expired);
  return { expired };
}

/** Applies the simulated time passed since the last call: session changes in order, aged orders. */
export function syncSession(engine: Engine): SessionUpdate {
  const expired: string[] = [];
  const s = engine.session;
  const nowMs = Math.floor(engine.nowMicros() / 1000);
  if (s.syncedMs !== null) {
    for (let at = nextMarkAfter(s.syncedMs); at <= nowMs; at = nextMarkAfter(at)) {
      enter(engine, sessionAt(at), expired);
      expireAged(engine, at, expired);
    }
    enter(engine, sessionAt(nowMs), expired);
    s.syncedMs = nowMs;
  }
  expireAged(engine, nowMs, expired);
  return { expired };
}

function timeField(body: Record<string, unknown>, name: string): number | null | undefined {
  const raw = body[name];
  if (raw === undefined) return undefined;
  if (raw === null) return null;
  const micros = typeof raw === 'string' ? parseTimeParam(raw) : null;
  if (micros === null) throw invalid(`${name} must be an RFC 3339 time or null`);
  return Math.floor(micros / 1000);
}

const CLOCK_FIELDS = new Set(['is_open', 'next_open', 'next_close', 'now']);

/**
 * `POST /_sim/clock {"is_open"?: bool, "now"?: RFC 3339, "next_open"?: time|null, "next_close"?: time|null}`.
 * `now` moves the simulated time (forward only once an order exists) and makes the session follow
 * it from then on; `is_open` switches the default mode and is refused once the time was set.
 */
export function applyClockRequest(engine: Engine, body: unknown): SessionUpdate {
  if (!isPlainObject(body)) throw invalid('body must be a JSON object');
  for (const key of Object.keys(body)) if (!CLOCK_FIELDS.has(key)) throw invalid(`unknown clock field: ${key}`);
  if (body.is_open !== undefined && typeof body.is_open !== 'boolean') throw invalid('is_open must be true or false');
  const now = body.now === undefined ? undefined : timeField(body, 'now');
  if (now === null) throw invalid('now must be an RFC 3339 time');
  if (typeof body.is_open === 'boolean' && (now !== undefined || engine.session.timed)) {
    throw unprocessable('is_open cannot be set once the clock follows a simulated time (move it with now)');
  }
  const nextOpen = timeField(body, 'next_open');
  const nextClose = timeField(body, 'next_close');
  if (now !== undefined) moveClock(engine, now);
  engine.session.setOverrides(nextOpen, nextClose);
  if (typeof body.is_open === 'boolean') return setMarketOpen(engine, body.is_open);
  return now !== undefined ? syncSession(engine) : { expired: [] };
}

/** Move the simulated time to `ms`; the first move starts timed mode from that instant. */
function moveClock(engine: Engine, ms: number): void {
  const current = Math.floor(engine.nowMicros() / 1000);
  const pristine = engine.orders.length === 0;
  if (ms < current && !pristine) {
    throw unprocessable('now is before the simulated time: once an order exists the clock only moves forward');
  }
  engine.moveClock(ms, pristine);
  // The first move does not replay the days before it: the session is the one at `ms`.
  if (!engine.session.timed || pristine) engine.session.syncedMs = ms;
}
