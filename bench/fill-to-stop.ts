import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../src/sim/index.js';
import { startBot } from '../test/support/bot-process.js';
import { simPost } from '../test/support/sim-traffic.js';
import { onStore, type StoreKind } from './store.js';

/**
 * Fill → stop submitted, via the stream path: the bot runs as its own process against the
 * simulator; the simulator (in this process) timestamps the entry's fill event and the arrival of
 * its protective stop. Entries are sequential, so each latency is measured alone.
 */
export function benchFillToStop(entries = 100, paceMs = 650, kind: StoreKind = 'sqlite') {
  return onStore(kind, 'stop', async (store) => {
    // PostgreSQL: the bot gets a fresh database of the bench's cluster (CT_DB_URL; it keeps its own schema there).
    if (store.kind === 'sqlite') return latencies(entries, paceMs, {});
    const db = await store.open('bot');
    const url = store.urlOf(db);
    await db.close();
    return latencies(entries, paceMs, { CT_DB_URL: url });
  });
}

async function latencies(entries: number, paceMs: number, storeEnv: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'ct-bench-stop-'));
  const sim = await startSimulator({ seed: 5, keyId: 'PKBENCH', secretKey: 'bench' });
  const fillAt = new Map<string, number>();
  const stopAt = new Map<string, number>();
  // Waiters are told by the event itself (a polling loop's timers would tax this process's GC, and the latency it measures).
  const waiters = new Map<string, () => void>();
  sim.engine.onEvent((e) => {
    const now = performance.now();
    const cid = String((e.data.order as { client_order_id?: string } | undefined)?.client_order_id ?? '');
    if (e.event === 'fill' && !cid.startsWith('ct-')) fillAt.set(e.orderId, now);
    if (e.event === 'new' && cid.startsWith('ct-stop-')) {
      const entry = cid.slice('ct-stop-'.length);
      stopAt.set(entry, now);
      waiters.get(entry)?.();
    }
  });
  const stopOf = (entry: string, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      if (stopAt.has(entry)) return resolve();
      const timer = setTimeout(() => reject(new Error(`no stop for ${entry} within ${timeoutMs} ms`)), timeoutMs);
      waiters.set(entry, () => {
        clearTimeout(timer);
        waiters.delete(entry);
        resolve();
      });
    });
  const bot = startBot({
    APCA_API_KEY_ID: 'PKBENCH',
    APCA_API_SECRET_KEY: 'bench',
    ALPACA_API_URL: sim.url,
    ALPACA_STREAM_URL: sim.streamUrl,
    CT_DB_PATH: join(dir, 'bench.db'),
    CT_API_PORT: '0',
    CT_LOG_LEVEL: 'warn',
    CT_POLL_MS: '600000',
    ...storeEnv,
  });
  try {
    // Ready once a first entry is protected (warm-up, not measured).
    const warm = await simPost(sim, '/_sim/trade', { symbol: 'SPY', side: 'buy', qty: '1', type: 'market' });
    await stopOf(warm.id, 30_000);
    const latencies: number[] = [];
    const symbols = ['AAPL', 'MSFT', 'TSLA', 'SPY'];
    for (let i = 0; i < entries; i++) {
      const o = await simPost(sim, '/_sim/trade', { symbol: symbols[i % symbols.length], side: 'buy', qty: '1', type: 'market' });
      await stopOf(o.id, 10_000);
      latencies.push(stopAt.get(o.id)! - fillAt.get(o.id)!);
      // Each protection costs the bot one request (the stop's POST): entries are paced well under
      // Alpaca's 200 requests/minute, so no latency measured here is a wait for the rate limit.
      await new Promise((r) => setTimeout(r, paceMs));
    }
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => Number(latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)]!.toFixed(2));
    return { entries, pace_ms: paceMs, p50_ms: pct(50), p99_ms: pct(99), max_ms: Number(latencies.at(-1)!.toFixed(2)), target_p99_ms: 10, within_target: pct(99) < 10 };
  } finally {
    bot.proc.kill('SIGTERM');
    await bot.exited;
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
