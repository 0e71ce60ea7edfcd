/**
 * How often refused stops of one symbol may be tried again: at most `max` requests per symbol in
 * any window of `windowMs` (10 a minute), whatever the refusal and whatever woke the stop — on top
 * of each stop's own backoff (machines/stop-policy.ts). Kept in memory: a refused stop keeps its
 * backoff across a restart (its `next_attempt_at`), so a new process starts with a full budget.
 */
export class RefusedRetryBudget {
  private readonly sent = new Map<string, number[]>();

  constructor(
    private readonly max = 10,
    private readonly windowMs = 60_000,
  ) {}

  /** Spends one request for `symbol` at `now`: null when granted, else the time the next one may go. */
  take(symbol: string, now: number): number | null {
    const recent = (this.sent.get(symbol) ?? []).filter((t) => now - t < this.windowMs);
    this.sent.set(symbol, recent);
    if (recent.length >= this.max) return recent[0]! + this.windowMs;
    recent.push(now);
    return null;
  }
}
