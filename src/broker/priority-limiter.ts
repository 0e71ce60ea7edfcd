/**
 * Alpaca's 200 requests/min per account, spent protection first: a token bucket with two waiting
 * lines. Every waiting `high` request (stop placements, resizes, cancels, lookups by client order
 * id) is served before any `low` one (polls, lookups, positions); each line is FIFO.
 *
 * The bucket holds `burst` tokens (a tenth of the budget) and refills at `(maxRequests - burst)`
 * per `intervalMs`, so no window of `intervalMs` ever sees more than `maxRequests` grants: Alpaca
 * counts requests per minute, and a full 200-token bucket refilled at 200/min (the SDK's own
 * limiter) lets 400 through in the first busy minute, which the live API answers with 429.
 * A waiter whose AbortSignal fires (the SDK's per-attempt deadline, a caller's abort) leaves its
 * line without spending a token; a granted token is spent (the request went out), whatever the
 * outcome, so a failure has nothing to give back.
 */
export type Lane = 'high' | 'low';

export interface PriorityLimiterOptions {
  /** Requests permitted in any window of `intervalMs`. Default 200. */
  maxRequests?: number;
  /** Default 60 000 ms. */
  intervalMs?: number;
  /** Monotonic clock in ms (tests pass a fake one). Default performance.now. */
  now?: () => number;
}

type Waiter = { resolve: () => void; signal?: AbortSignal; onAbort?: () => void };

export class PriorityLimiter {
  /** Bucket size: how many requests may go at once after a quiet spell. */
  private readonly burst: number;
  /** Tokens per ms. */
  private readonly rate: number;
  private readonly now: () => number;
  private tokens: number;
  private last: number;
  private readonly lines: Record<Lane, Waiter[]> = { high: [], low: [] };
  private timer: ReturnType<typeof setTimeout> | undefined;
  private grants = 0;

  constructor(opts: PriorityLimiterOptions = {}) {
    const max = Math.max(2, opts.maxRequests ?? 200);
    const intervalMs = Math.max(1, opts.intervalMs ?? 60_000);
    this.burst = Math.max(1, Math.floor(max / 10));
    this.rate = (max - this.burst) / intervalMs;
    this.now = opts.now ?? (() => performance.now());
    this.tokens = this.burst;
    this.last = this.now();
  }

  /** Resolves when a token is granted to this request; rejects (spending nothing) if `signal` aborts first. */
  acquire(lane: Lane, signal?: AbortSignal | null): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve };
      if (signal) {
        waiter.signal = signal;
        waiter.onAbort = () => {
          const line = this.lines[lane];
          const at = line.indexOf(waiter);
          if (at >= 0) line.splice(at, 1);
          reject(abortReason(signal));
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.lines[lane].push(waiter);
      this.drain();
    });
  }

  /** Requests waiting for a token, per lane. */
  queued(): { high: number; low: number } {
    return { high: this.lines.high.length, low: this.lines.low.length };
  }

  /** Tokens granted so far. */
  granted(): number {
    return this.grants;
  }

  private drain(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + Math.max(0, now - this.last) * this.rate);
    this.last = now;
    while (this.tokens >= 1) {
      const waiter = this.lines.high.shift() ?? this.lines.low.shift();
      if (!waiter) break;
      this.tokens -= 1;
      this.grants += 1;
      if (waiter.onAbort) waiter.signal!.removeEventListener('abort', waiter.onAbort);
      waiter.resolve();
    }
    if (this.timer === undefined && this.lines.high.length + this.lines.low.length > 0) {
      // The time until the next whole token.
      const wait = Math.max(1, Math.ceil((1 - this.tokens) / this.rate));
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.drain();
      }, wait);
      this.timer.unref?.();
    }
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The rate-limit wait was aborted', 'AbortError');
}
