/**
 * Opening and closing the simulated session (POST /_sim/clock). At the close every open equity
 * `day` order expires (spec TimeInForce: a day order "is automatically canceled" after the close;
 * the sim reports it as Alpaca does, status `expired`, stream event `expired`). At the open the
 * queued (`accepted`) equity orders go live (`new`) and every open order is worked again, so a
 * stop that was crossed while closed triggers at the open.
 */
import { parseTimeParam } from './clock.js';
import type { Engine } from './engine.js';
import { invalid } from './errors.js';
import { isPlainObject } from './order-request.js';

export interface SessionUpdate {
  /** Equity day orders that expired at the close. */
  expired: string[];
}

/** Open or close the session; returns what it did. */
export function setMarketOpen(engine: Engine, open: boolean): SessionUpdate {
  const change = engine.session.set(open);
  const expired: string[] = [];
  if (change === 'closed') {
    for (const o of engine.openOrders()) {
      if (o.asset.assetClass === 'us_equity' && o.timeInForce === 'day') {
        engine.expire(o.id);
        expired.push(o.id);
      }
    }
  } else if (change === 'opened') {
    engine.sessionOpened();
  }
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

/** `POST /_sim/clock {"is_open": bool, "next_open"?: time|null, "next_close"?: time|null}`. */
export function applyClockRequest(engine: Engine, body: unknown): SessionUpdate {
  if (!isPlainObject(body)) throw invalid('body must be a JSON object');
  for (const key of Object.keys(body)) {
    if (key !== 'is_open' && key !== 'next_open' && key !== 'next_close') throw invalid(`unknown clock field: ${key}`);
  }
  if (body.is_open !== undefined && typeof body.is_open !== 'boolean') throw invalid('is_open must be true or false');
  const nextOpen = timeField(body, 'next_open');
  const nextClose = timeField(body, 'next_close');
  engine.session.setOverrides(nextOpen, nextClose);
  return typeof body.is_open === 'boolean' ? setMarketOpen(engine, body.is_open) : { expired: [] };
}
