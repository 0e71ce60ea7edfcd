import { D, type Dec } from './broker-terms.js';
import { readBook } from './broker-watch.js';
import { coverOf } from './coverage.js';

/**
 * What the venue does to executions after the fact, in the chaos run (issue 26): once the run is
 * quiet, a few equity executions are busted or corrected at the simulator (`POST /_sim/bust`,
 * `/_sim/correct`): first, before the last bot starts (it learns them from the activity event stream,
 * replayed from its cursor); then, with it up, outside buys of a few symbols (`freshBuys`) are
 * protected and then busted or corrected (their stops must shrink while it watches). Only the latest execution of a symbol, a buy of a long at least as large, is
 * changed: nothing traded after it, so the exits the broker's fill history shows (and the cooldowns
 * they start) stay what they were, and the position stays long or goes flat (a bust is no exit). The checker then compares the
 * ledger's positions and each order's fills with the simulator's after them.
 */

interface Execution {
  execution_id: string;
  order_id: string;
  symbol: string;
  asset_class: string | null;
  side: 'buy' | 'sell';
  qty: string;
  price: string;
  micros: number;
}

export interface ExecutionChanges {
  busts: number;
  corrections: number;
  /** What was asked: `bust <id> (<symbol> <qty>@<price>)` or `correct <id> … → …`. */
  changes: string[];
  /** The execution ids changed (never changed twice: the simulator refuses it). */
  ids: string[];
}

async function post(url: string, path: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

export async function changeExecutions(url: string, rand: () => number, count = 4, already: readonly string[] = []): Promise<ExecutionChanges> {
  const res = await fetch(`${url}/_sim/executions`);
  if (res.status !== 200) throw new Error(`/_sim/executions → ${res.status}`);
  const executions = ((await res.json()) as Execution[]).slice().sort((a, b) => a.micros - b.micros);
  const latest = new Map<string, Execution>();
  for (const e of executions) latest.set(e.symbol, e);
  const book = await readBook(url);
  const candidates = book.positions
    .filter((p) => p.asset_class === 'us_equity' && new D(p.qty).gt(0))
    .map((p) => ({ position: new D(p.qty), e: latest.get(p.symbol) }))
    .filter((c): c is { position: Dec; e: Execution } => c.e !== undefined && c.e.side === 'buy' && c.position.gte(c.e.qty) && !already.includes(c.e.execution_id))
    .map((c) => c.e)
    .sort((a, b) => (a.symbol < b.symbol ? -1 : 1));
  // A seeded shuffle: the same seed changes the same executions.
  for (let i = candidates.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!];
  }
  const out: ExecutionChanges = { busts: 0, corrections: 0, ids: [], changes: [`${candidates.length} executions could be changed (the latest of a long's symbol, a buy)`] };
  for (const [i, e] of candidates.slice(0, count).entries()) {
    if (i % 2 === 0) {
      const r = await post(url, '/_sim/bust', { execution_id: e.execution_id });
      if (r.status !== 200) throw new Error(`/_sim/bust ${e.execution_id} → ${r.status} ${JSON.stringify(r.json)}`);
      out.busts += 1;
      out.ids.push(e.execution_id);
      out.changes.push(`bust ${e.execution_id} (${e.symbol} ${e.qty}@${e.price})`);
    } else {
      // A new price (2% up, to the cent), and a share less where the fill was a whole number above one.
      const price = new D(e.price).times('1.02').toDecimalPlaces(2);
      const qty = new D(e.qty).isInteger() && new D(e.qty).gt(1) ? new D(e.qty).minus(1) : new D(e.qty);
      const r = await post(url, '/_sim/correct', { execution_id: e.execution_id, qty: qty.toString(), price: price.toString() });
      if (r.status !== 200) throw new Error(`/_sim/correct ${e.execution_id} → ${r.status} ${JSON.stringify(r.json)}`);
      out.corrections += 1;
      out.ids.push(e.execution_id);
      out.changes.push(`correct ${e.execution_id} (${e.symbol} ${e.qty}@${e.price} → ${qty}@${price})`);
    }
  }
  return out;
}

/** Equities the last bot's phase may buy outside, then bust or correct (the outside trader's, and others). */
const FRESH = ['AAPL', 'MSFT', 'SPY', 'TSLA', 'QQQ', 'IWM', 'NVDA', 'AMZN'];
const FRESH_COUNT = 4;

/**
 * Outside market buys of 3 shares of up to four equities that are not short (a buy against a short
 * our stops hold is refused, as Alpaca refuses it), each then the latest execution of its symbol, and
 * the wait until the broker shows each of those positions covered by the bot's stops (at most
 * `waitMs`). Returns the symbols bought and whether they all were covered.
 */
export async function freshBuys(url: string, waitMs = 60_000): Promise<{ symbols: string[]; covered: boolean }> {
  const book = await readBook(url);
  const short = new Set(book.positions.filter((p) => new D(p.qty).isNegative()).map((p) => p.symbol));
  const symbols: string[] = [];
  for (const symbol of FRESH.filter((s) => !short.has(s))) {
    if (symbols.length === FRESH_COUNT) break;
    const r = await post(url, '/_sim/trade', { symbol, side: 'buy', qty: '3', type: 'market' });
    if (r.status === 200) symbols.push(symbol);
  }
  const deadline = Date.now() + waitMs;
  for (;;) {
    const covers = coverOf(await readBook(url)).filter((c) => symbols.includes(c.symbol));
    if (covers.length === symbols.length && covers.every((c) => new D(c.uncovered).isZero())) return { symbols, covered: true };
    if (Date.now() > deadline) return { symbols, covered: false };
    await new Promise((r) => setTimeout(r, 250));
  }
}
