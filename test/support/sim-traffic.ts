import type { Simulator } from '../../src/sim/index.js';

/** Drives the simulator from outside (its /_sim control endpoints), as a person or another tool would. */
export async function simPost(sim: Simulator, path: string, body: unknown): Promise<any> {
  const res = await fetch(`${sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await res.json();
  if (res.status !== 200) throw new Error(`${path} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const EQUITIES = [
  ['AAPL', 190],
  ['MSFT', 410],
  ['TSLA', 250],
  ['SPY', 520],
] as const;

/**
 * Places `orders` outside orders of qty 10, each filled in `fillsPerOrder` parts at moving prices;
 * every `leaveOpenEvery`-th order keeps its last part unfilled (it stays open, partially filled).
 * Returns how many fills it made.
 */
export async function makeFills(sim: Simulator, opts: { orders: number; fillsPerOrder: number; leaveOpenEvery?: number; seed?: number }): Promise<{ fills: number; orderIds: string[] }> {
  const parts = splitQty(10, opts.fillsPerOrder);
  let fills = 0;
  const orderIds: string[] = [];
  for (let i = 0; i < opts.orders; i++) {
    const [symbol, base] = EQUITIES[i % EQUITIES.length]!;
    // Move the price a little every order, so each order's VWAP is a real average.
    await simPost(sim, '/_sim/price', { symbol, price: (base + ((i * 37) % 200) / 100).toFixed(2) });
    // Traffic, not a test of Alpaca's holds: a sell goes through whatever the bot's stops hold.
    const side = i % 3 === 2 ? 'sell' : 'buy';
    const limit = side === 'buy' ? (base * 2).toFixed(2) : (base / 2).toFixed(2);
    const order = await simPost(sim, '/_sim/trade', { symbol, side, qty: '10', type: 'limit', limit_price: limit, time_in_force: 'gtc', fill: 'partial', fill_qty: String(parts[0]), ignore_held: true });
    orderIds.push(order.id);
    fills += 1;
    const last = opts.leaveOpenEvery && i % opts.leaveOpenEvery === 0 ? parts.length - 1 : parts.length;
    for (let p = 1; p < last; p++) {
      await simPost(sim, '/_sim/price', { symbol, price: (base + ((i * 37 + p * 11) % 200) / 100).toFixed(2) });
      await simPost(sim, '/_sim/fill', { order_id: order.id, qty: String(parts[p]) });
      fills += 1;
    }
  }
  return { fills, orderIds };
}

function splitQty(total: number, n: number): number[] {
  const base = Math.floor(total / n);
  const out = Array.from({ length: n }, () => base);
  out[n - 1]! += total - base * n;
  return out;
}
