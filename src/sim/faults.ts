/**
 * Fault injection (POST /_sim/faults): latency, 429s and 5xx on API requests (decided
 * before the request is processed), and drop/duplicate/reorder on trade_updates frames.
 * All randomness comes from the seeded PRNG.
 */
import { CODE, SimError, invalid } from './errors.js';
import { isPlainObject } from './order-request.js';
import { OrderFaults } from './order-faults.js';
import type { Rng } from './rng.js';

export interface FaultConfig {
  latency_ms: number;
  rate_429: number;
  rate_5xx: number;
  ws_drop_rate: number;
  ws_duplicate_rate: number;
  ws_reorder_rate: number;
  /** Late FILL activities (Alpaca-API#176): how late, in ms (0 = the default 2000 ms). */
  late_activity_ms: number;
  /** The next N FILL activities are published late (counts down as they are used). */
  late_activity_next: number;
  /** Chance that any FILL activity is published late. */
  late_activity_rate: number;
  /** Chance that an activity event stream message is sent twice (activity-sse.ts). */
  sse_duplicate_rate: number;
}

const RATE_KEYS = ['rate_429', 'rate_5xx', 'ws_drop_rate', 'ws_duplicate_rate', 'ws_reorder_rate', 'late_activity_rate', 'sse_duplicate_rate'] as const;
export const DEFAULT_LATE_ACTIVITY_MS = 2000;

export const NO_FAULTS: FaultConfig = {
  latency_ms: 0,
  rate_429: 0,
  rate_5xx: 0,
  ws_drop_rate: 0,
  ws_duplicate_rate: 0,
  ws_reorder_rate: 0,
  late_activity_ms: 0,
  late_activity_next: 0,
  late_activity_rate: 0,
  sse_duplicate_rate: 0,
};

/**
 * The demo's full fault mix (CT_DEMO_FAULTS=1; `startSimulator({ demoFaults: true })`), for those who
 * want to see the alarms work: now and then a 429 or 5xx, a dropped, repeated or reordered
 * trade_updates frame, a late FILL activity, an order rejected after it was accepted (the bot's stops
 * included), an outside order done for the day. The simulator pairs it with a careless outside trader
 * (outside-trader.ts), whose resting orders cross the bot's stops and hold their shares. The default
 * demo has none of it: no fault, a careful trader.
 */
export const DEMO_FAULT_MIX = {
  rate_429: 0.02,
  rate_5xx: 0.02,
  ws_drop_rate: 0.01,
  ws_duplicate_rate: 0.05,
  ws_reorder_rate: 0.05,
  late_activity_rate: 0.05,
  reject_after_accept_rate: 0.02,
  done_for_day_rate: 0.05,
} as const;

export class Faults {
  private cfg: FaultConfig = { ...NO_FAULTS };
  /** Order-level faults (pdt, reject_after_accept_*, replace_race, done_for_day_rate): order-faults.ts. */
  readonly orders = new OrderFaults();

  constructor(private readonly rng: Rng) {}

  get config(): FaultConfig {
    return { ...this.cfg, ...this.orders.config };
  }

  /** Validate and merge a partial config; returns the resulting config. */
  update(body: unknown): FaultConfig {
    if (!isPlainObject(body)) throw invalid('body must be a JSON object');
    const next = { ...this.cfg };
    for (const [key, value] of Object.entries(body)) {
      if (key === 'latency_ms') {
        if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 60_000) {
          throw invalid('latency_ms must be a number between 0 and 60000');
        }
        next.latency_ms = value;
      } else if ((RATE_KEYS as readonly string[]).includes(key)) {
        if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
          throw invalid(`${key} must be a number between 0 and 1`);
        }
        next[key as (typeof RATE_KEYS)[number]] = value;
      } else if (key === 'late_activity_ms' || key === 'late_activity_next') {
        lateActivityKey(next, key, value, body);
      } else if (this.orders.has(key)) {
        this.orders.check(key, value);
      } else {
        throw invalid(`unknown fault: ${key}`);
      }
    }
    this.cfg = next;
    this.orders.apply(body);
    return this.config;
  }

  reset(): FaultConfig {
    this.cfg = { ...NO_FAULTS };
    this.orders.reset();
    return this.config;
  }

  /** An error to answer instead of processing this API request, or null. */
  httpFault(): SimError | null {
    if (this.rng.chance(this.cfg.rate_429)) {
      return new SimError(429, { code: CODE.RATE_LIMIT, message: 'rate limit exceeded' }, { 'Retry-After': '0' });
    }
    if (this.rng.chance(this.cfg.rate_5xx)) {
      return this.rng.chance(0.5)
        ? new SimError(500, { code: CODE.INTERNAL, message: 'internal server error' })
        : new SimError(503, { code: CODE.UNAVAILABLE, message: 'service unavailable' });
    }
    return null;
  }

  /** How late (ms) the FILL activity being made now is published: 0 = on time. */
  lateActivityDelayMs(): number {
    const delay = this.cfg.late_activity_ms > 0 ? this.cfg.late_activity_ms : DEFAULT_LATE_ACTIVITY_MS;
    if (this.cfg.late_activity_next > 0) {
      this.cfg = { ...this.cfg, late_activity_next: this.cfg.late_activity_next - 1 };
      return delay;
    }
    return this.rng.chance(this.cfg.late_activity_rate) ? delay : 0;
  }

  drop(): boolean {
    return this.rng.chance(this.cfg.ws_drop_rate);
  }

  duplicate(): boolean {
    return this.rng.chance(this.cfg.ws_duplicate_rate);
  }

  sseDuplicate(): boolean {
    return this.rng.chance(this.cfg.sse_duplicate_rate);
  }

  reorder(): boolean {
    return this.rng.chance(this.cfg.ws_reorder_rate);
  }
}

/**
 * `late_activity_ms` (0..600000) sets the delay; posted without `late_activity_next` or
 * `late_activity_rate` in the same body it also arms the next FILL (`late_activity_next` = 1).
 * `late_activity_next` (integer 0..1000): that many next FILL activities are late.
 */
function lateActivityKey(next: FaultConfig, key: 'late_activity_ms' | 'late_activity_next', value: unknown, body: Record<string, unknown>): void {
  if (key === 'late_activity_ms') {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 600_000) {
      throw invalid('late_activity_ms must be a number between 0 and 600000');
    }
    next.late_activity_ms = value;
    if (value > 0 && !('late_activity_next' in body) && !('late_activity_rate' in body)) next.late_activity_next = 1;
    return;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 1000) {
    throw invalid('late_activity_next must be an integer between 0 and 1000');
  }
  next.late_activity_next = value;
}
