/**
 * Alpaca's 200 requests/min per account, spent protection first, with two waiting lines. Every
 * waiting `high` request (stop placements, resizes, cancels, lookups by client order id) is served
 * before any `low` one (polls, lookups, positions); each line is FIFO.
 *
 * Two limits together. A sliding window: no window of `intervalMs` ever sees more than `maxRequests`
 * grants (Alpaca counts per minute). And a token bucket for the pace: `(maxRequests − tenth)` tokens
 * per interval, where a tenth is a tenth of the budget. After a quiet spell the bucket holds three
 * tenths, and protection may spend all of them at once, so a backlog of stops after a restart goes
 * out together. Reads always leave a tenth of the bucket and of the window to protection, so a
 * burst of reads never leaves a stop waiting; and after a burst of stops, reads resume as soon as
 * the bucket holds more than that tenth (a reconcile that learns a stop ended is not held back). A waiter whose
 * AbortSignal fires (the SDK's per-attempt deadline, a caller's abort) leaves its line without
 * spending anything; a granted slot is spent (the request went out), whatever the outcome.
 * A process knows only its own requests: one started right after another may find Alpaca's
 * minute partly spent, and a 429 is then an ambiguous outcome like any other (probed, not lost).
 */
export type Lane = 'high' | 'low';

export interface PriorityLimiterOptions {
  /** Requests permitted in any window of `intervalMs`. Default 200. */
  maxRequests?: number;
  /** Default 60 000 ms. */
  intervalMs?: number;
  /** Monotonic clock in ms (tests pass a fake one). Default performance.now. */
  now?: () => number;
  /**
   * How much longer than `intervalMs` a grant holds its slot: Alpaca counts a request when it
   * arrives, a little after it left here, so two requests granted exactly `intervalMs` apart could
   * arrive closer together. Default a sixtieth of `intervalMs` (1 s a minute; 0 in tests that check exact times).
   */
  marginMs?: number;
}

/** Tokens are fractions (a rate per ms): a sum off by rounding still counts as whole. */
const EPS = 1e-9;

type Waiter = { resolve: () => void; signal?: AbortSignal; onAbort?: () => void };

export class PriorityLimiter {
  private readonly max: number;
  /** `intervalMs` and the margin: how long a grant holds its slot. */
  private readonly holdMs: number;
  /** A tenth of the budget: what reads leave to protection, of the bucket and of the window. */
  private readonly tenth: number;
  /** The bucket's size: what protection may spend at once after a quiet spell. */
  private readonly capacity: number;
  /** Tokens per ms. */
  private readonly rate: number;
  private readonly now: () => number;
  private tokens: number;
  private last: number;
  /** When each grant still holding its slot was made, oldest first. */
  private readonly window: number[] = [];
  private readonly lines: Record<Lane, Waiter[]> = { high: [], low: [] };
  private timer: ReturnType<typeof setTimeout> | undefined;
  private grants = 0;

  constructor(opts: PriorityLimiterOptions = {}) {
    this.max = Math.max(2, opts.maxRequests ?? 200);
    const intervalMs = Math.max(1, opts.intervalMs ?? 60_000);
    this.holdMs = intervalMs + Math.max(0, opts.marginMs ?? intervalMs / 60);
    this.tenth = Math.max(1, Math.floor(this.max / 10));
    this.capacity = Math.min(this.max, 3 * this.tenth);
    this.rate = (this.max - this.tenth) / intervalMs;
    this.now = opts.now ?? (() => performance.now());
    this.tokens = this.capacity;
    this.last = this.now();
  }

  /** Resolves when a slot is granted to this request; rejects (spending nothing) if `signal` aborts first. */
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

  /** Requests waiting for a slot, per lane. */
  queued(): { high: number; low: number } {
    return { high: this.lines.high.length, low: this.lines.low.length };
  }

  /** Slots granted so far. */
  granted(): number {
    return this.grants;
  }

  private grant(waiter: Waiter, now: number): void {
    this.tokens -= 1;
    this.window.push(now);
    this.grants += 1;
    if (waiter.onAbort) waiter.signal!.removeEventListener('abort', waiter.onAbort);
    waiter.resolve();
  }

  private drain(): void {
    const now = this.now();
    while (this.window.length > 0 && this.window[0]! <= now - this.holdMs) this.window.shift();
    this.tokens = Math.min(this.capacity, this.tokens + Math.max(0, now - this.last) * this.rate);
    this.last = now;
    // Reads leave a tenth of the bucket and of the window to protection.
    const readFloor = this.tenth + 1;
    while (this.lines.high.length > 0 && this.tokens >= 1 - EPS && this.window.length < this.max) this.grant(this.lines.high.shift()!, now);
    while (this.lines.high.length === 0 && this.lines.low.length > 0 && this.tokens >= readFloor - EPS && this.window.length < this.max - this.tenth) {
      this.grant(this.lines.low.shift()!, now);
    }
    // A new head (a high request behind waiting reads) may go sooner than the timer set before it came.
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lines.high.length + this.lines.low.length > 0) {
      // The next moment a waiter at the head could go: a token comes, and (if full) a slot leaves the window.
      const need = this.lines.high.length > 0 ? 1 : readFloor;
      const cap = this.lines.high.length > 0 ? this.max : this.max - this.tenth;
      const tokenIn = this.tokens >= need - EPS ? 0 : (need - this.tokens) / this.rate;
      const slotIn = this.window.length < cap ? 0 : this.window[this.window.length - cap]! + this.holdMs - now;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.drain();
      }, Math.max(1, Math.ceil(Math.max(tokenIn, slotIn) - 1e-6)));
      this.timer.unref?.();
    }
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The rate-limit wait was aborted', 'AbortError');
}
