/**
 * Symbols whose stops Alpaca refuses as a wash trade (a crossing order of the account rests on the
 * other side): the refusal is the symbol's, not one stop's, so none of its stops is sent until the
 * crossing order ends (`lift`, when an order of the symbol ends) or a minute has passed — rather than
 * each retrying on its own and spending the symbol's budget (10 a minute) before the blocker is gone.
 * In memory: a restart sends once and learns again.
 */

/** How long a wash-trade refusal holds its symbol's stops back when no order of the symbol ends. */
const WASH_BLOCK_MS = 60_000;

export class WashBlocks {
  private readonly until = new Map<string, number>();

  /** A stop of `symbol` was refused as a wash trade at `now`. */
  block(symbol: string, now: number): void {
    this.until.set(symbol, now + WASH_BLOCK_MS);
  }

  /** Until when `symbol`'s stops are held back, or null when they are not. */
  blockedUntil(symbol: string, now: number): number | null {
    const until = this.until.get(symbol);
    return until !== undefined && until > now ? until : null;
  }

  /** An order of `symbol` ended: its block (if any) is lifted; true when there was one. */
  lift(symbol: string): boolean {
    return this.until.delete(symbol);
  }
}
