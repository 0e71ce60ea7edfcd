/** Request counters for GET /_sim/stats, keyed by route template ("GET /v2/orders/{order_id}"). */
export class Stats {
  total = 0;
  private readonly byRoute = new Map<string, number>();

  count(routeKey: string): void {
    this.total += 1;
    this.byRoute.set(routeKey, (this.byRoute.get(routeKey) ?? 0) + 1);
  }

  get(routeKey: string): number {
    return this.byRoute.get(routeKey) ?? 0;
  }

  snapshot(): { total: number; by_route: Record<string, number> } {
    return { total: this.total, by_route: Object.fromEntries([...this.byRoute.entries()].sort()) };
  }

  reset(): void {
    this.total = 0;
    this.byRoute.clear();
  }
}
