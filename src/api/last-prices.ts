/**
 * The latest trade price per symbol for GET /positions (the dashboard's distance from each stop),
 * from the market-data host, kept for `ttlMs` so a dashboard polling every few seconds costs one
 * request per symbol kind every 10 s, not one per poll. A failure answers without prices (the
 * distance is left out) and is tried again at the next expiry.
 */
export class LastPrices {
  private cached = new Map<string, string>();
  private at = 0;
  private inFlight: Promise<void> | null = null;

  constructor(
    private readonly fetchLatest: (symbols: string[]) => Promise<Map<string, string>>,
    private readonly ttlMs = 10_000,
  ) {}

  async of(symbols: string[], now = Date.now()): Promise<Map<string, string>> {
    const missing = symbols.some((s) => !this.cached.has(s));
    if ((missing || now - this.at >= this.ttlMs) && symbols.length > 0) {
      this.inFlight ??= this.fetchLatest(symbols)
        .then((prices) => {
          this.cached = prices;
          this.at = Date.now();
        })
        .catch(() => {
          this.at = Date.now();
        })
        .finally(() => {
          this.inFlight = null;
        });
      await this.inFlight;
    }
    return new Map(symbols.filter((s) => this.cached.has(s)).map((s) => [s, this.cached.get(s)!]));
  }
}
