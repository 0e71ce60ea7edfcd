/**
 * Fault injection (POST /_sim/faults): latency, 429s and 5xx on API requests (decided
 * before the request is processed), and drop/duplicate/reorder on trade_updates frames.
 * All randomness comes from the seeded PRNG.
 */
import { CODE, SimError, invalid } from './errors.js';
import { isPlainObject } from './order-request.js';
import type { Rng } from './rng.js';

export interface FaultConfig {
  latency_ms: number;
  rate_429: number;
  rate_5xx: number;
  ws_drop_rate: number;
  ws_duplicate_rate: number;
  ws_reorder_rate: number;
}

const RATE_KEYS = ['rate_429', 'rate_5xx', 'ws_drop_rate', 'ws_duplicate_rate', 'ws_reorder_rate'] as const;

export const NO_FAULTS: FaultConfig = {
  latency_ms: 0,
  rate_429: 0,
  rate_5xx: 0,
  ws_drop_rate: 0,
  ws_duplicate_rate: 0,
  ws_reorder_rate: 0,
};

export class Faults {
  private cfg: FaultConfig = { ...NO_FAULTS };

  constructor(private readonly rng: Rng) {}

  get config(): FaultConfig {
    return { ...this.cfg };
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
      } else {
        throw invalid(`unknown fault: ${key}`);
      }
    }
    this.cfg = next;
    return this.config;
  }

  reset(): FaultConfig {
    this.cfg = { ...NO_FAULTS };
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

  drop(): boolean {
    return this.rng.chance(this.cfg.ws_drop_rate);
  }

  duplicate(): boolean {
    return this.rng.chance(this.cfg.ws_duplicate_rate);
  }

  reorder(): boolean {
    return this.rng.chance(this.cfg.ws_reorder_rate);
  }
}
