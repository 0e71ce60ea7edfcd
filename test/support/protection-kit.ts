import { basename } from 'node:path';
import type { Simulator } from '../../src/sim/index.js';
import { isLiveStatus } from '../../src/domain/orders.js';
import { eventually, getJson, type BotProcess } from './bot-process.js';
import { simsAndBots } from './sim-bots.js';
import { simPost } from './sim-traffic.js';

/**
 * What the protection tests share (test/protection*.test.ts: one file per concern, so the files run
 * side by side): simulators and bots with one key pair, the broker's view of an entry's stops, and the
 * simulator's request counts.
 */
export function protectionKit(name: string) {
  const env = simsAndBots(name, 'PKPROT', 'prot-secret');
  const KEYS = env.headers;
  const sim = (seed: number) => env.sim(seed);

  /** A bot on `s`, ready: reconciled once (or, when it is to crash, at least listening). */
  async function bot(s: Simulator, db: string, extra: Record<string, string> = {}) {
    const b = env.bot(s, basename(db), extra);
    if (!extra.CT_CRASH_AT) {
      await b.waitFor((l) => l.event === 'reconcile_done');
    } else {
      await b.waitFor((l) => l.event === 'stream_state' && l.state === 'connected');
    }
    return b;
  }

  /** Every order at the broker whose client order id marks it as the protective stop of `entryId`. */
  async function stopsOf(s: Simulator, entryId: string): Promise<any[]> {
    const res = await fetch(`${s.url}/v2/orders?status=all&limit=500`, { headers: KEYS });
    return ((await res.json()) as any[]).filter((o) => String(o.client_order_id).startsWith(`ct-stop-${entryId}`));
  }
  /** Buys `qty` AAPL from outside and waits until the bot protects it with a stop of that size. */
  async function protectedLong(s: Simulator, qty: string): Promise<{ id: string }> {
    const entry = await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty, type: 'market' });
    await eventually(async () => live(await stopsOf(s, entry.id)).find((o) => o.qty === qty), 15_000);
    return entry;
  }

  /** Requests the bot made, by route, as the simulator counted them (GET /_sim/stats). */
  async function byRoute(s: Simulator): Promise<Record<string, number>> {
    return (await getJson(`${s.url}/_sim/stats`)).body.requests.by_route;
  }

  return { dir: env.dir, sim, bot, stopsOf, protectedLong, byRoute };
}

/**
 * An outside order Alpaca would refuse while the bot's stop holds the shares (403 held_for_orders,
 * no single-order flip): these tests stand for a close the bot did not make and must follow anyway.
 */
export const OUTSIDE_CLOSE = { ignore_held: true };
export const live = (orders: any[]) => orders.filter((o) => isLiveStatus(o.status));
/** The stops of an entry that were placed by POST (a replacement by PATCH has `replaces` set). */
export const posted = (stops: any[]) => stops.filter((o) => o.replaces === null);

/**
 * Resolves once `b` has logged `n` more reconcile passes than it had: how long a test waits to prove
 * that nothing more is sent. Each pass reads the broker's orders and positions and would place a
 * missing stop, record an unseen fill or cancel a stop too many; with CT_POLL_MS at 500 three passes
 * take about 1.5 s.
 */
export async function passes(b: BotProcess, n: number): Promise<void> {
  const from = b.lines.length;
  const isPass = (l: Record<string, any>) => l.event === 'reconcile_done';
  await b.waitFor((l) => isPass(l) && b.lines.slice(from, b.lines.indexOf(l) + 1).filter(isPass).length >= n, 15_000);
}
