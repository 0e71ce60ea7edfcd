/**
 * The activity event stream as a source of fills (src/sync/event-stream.ts), in the whole account
 * service (src/account.ts startAccount: actors, stop worker, reconciler, trade_updates, API) run
 * in-process on a SQLite file, against the simulator over loopback with the real SDK:
 * - a fill comes by the event stream, trade_updates and REST, and is one ledger row with its
 *   execution id, shown on /fills;
 * - the cursor is kept, and a restart replays from it: a fill made while the service was down comes
 *   by the event stream too;
 * - "dropped N messages": the service resumes from its cursor and the dropped fills come again;
 * - a host without the stream (404): one /health reason (200, never 503), one log line, fills still recorded.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { openDatabase, type Database } from '../src/store/database.js';
import { loadConfig } from '../src/config.js';
import { startAccount, type RunningAccount } from '../src/account.js';
import { startAccountService, type AccountService } from './support/account-service.js';
import { simPost } from './support/sim-traffic.js';
import { eventually, getJson } from './support/bot-process.js';

type Service = AccountService;

let sim: Simulator;
let dir: string;

beforeAll(async () => {
  sim = await startSimulator({ seed: 26 });
  dir = mkdtempSync(join(tmpdir(), 'ct-events-'));
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The account service on `file` (kept across restarts). Outside orders are recorded, not protected: these tests are about fills, not stops. */
function startService(file: string, env: Record<string, string> = {}): Promise<Service> {
  return startAccountService(sim, join(dir, file), { CT_POLL_MS: '250', CT_ADOPT: 'record', ...env });
}

/** An outside market buy of one share, filled at once; its order id and the fill's execution id. */
async function outsideBuy(symbol: string): Promise<{ orderId: string; executionId: string }> {
  const order = await simPost(sim, '/_sim/trade', { symbol, side: 'buy', qty: '1', type: 'market' });
  const fill = sim.engine.fills.find((f) => f.orderId === order.id);
  if (!fill) throw new Error(`no fill for ${order.id}`);
  return { orderId: order.id, executionId: fill.executionId };
}

/** The sources that reported the order's fill to the actors (recorded or seen again), from the log. */
function sourcesOf(s: Service, orderId: string): Set<string> {
  return new Set(
    s
      .lines()
      .filter((l) => (l.event === 'fill_received' || l.event === 'fill_already_processed') && l.order_id === orderId)
      .map((l) => String(l.source)),
  );
}

const ledgerRows = (s: Service, orderId: string) => s.db.sqlite.prepare('select cum_qty, source, execution_id from fills where order_id = ?').all(orderId) as Array<Record<string, unknown>>;
const cursorOf = (s: Service) => (s.db.sqlite.prepare("select value from sync_state where key = 'event_cursor'").get() as { value: string } | undefined)?.value ?? null;
const connects = (s: Service) => s.lines().filter((l) => l.event === 'event_stream_connected');
const live = (s: Service) => eventually(async () => (await getJson(`${s.url}/health`)).body.event_stream === 'live' && s.running.health().stream === 'connected', 20_000);

describe('the activity event stream as a source (in-process service, simulator over loopback)', () => {
  it('one fill from three sources is one ledger row with its execution id; the cursor survives a restart and replays what came while down', async () => {
    const first = await startService('restart.db');
    let stopped: string | null = null;
    try {
      await live(first);
      // No cursor yet: live only, the REST watermark covers the history.
      expect(connects(first)[0]).toMatchObject({ since_id: null });

      const a = await outsideBuy('AAPL');
      // The event stream, trade_updates and the REST poll each report it; the first records it.
      await eventually(async () => sourcesOf(first, a.orderId).size === 3 || undefined, 20_000);
      expect(sourcesOf(first, a.orderId)).toEqual(new Set(['event', 'stream', 'activity']));
      expect(first.lines().filter((l) => l.event === 'fill_received' && l.order_id === a.orderId)).toHaveLength(1);
      expect(ledgerRows(first, a.orderId)).toEqual([expect.objectContaining({ cum_qty: '1', execution_id: a.executionId })]);

      // /fills shows it.
      const fills = await getJson(`${first.url}/fills?symbol=AAPL`);
      expect(fills.status).toBe(200);
      expect(fills.body.fills.filter((f: any) => f.order_id === a.orderId)).toEqual([expect.objectContaining({ execution_id: a.executionId, cum_qty: '1' })]);

      // The cursor is the event of that fill (or later): committed with it.
      const aEvent = sim.engine.events.events.find((e) => (e.json as any).ref_id === a.executionId)!;
      await eventually(async () => (cursorOf(first) ?? '') >= aEvent.eventId || undefined);
      stopped = cursorOf(first);
    } finally {
      await first.close();
    }

    // Down: a fill the service does not see live.
    const b = await outsideBuy('MSFT');

    const second = await startService('restart.db');
    try {
      await live(second);
      expect(connects(second)[0]).toMatchObject({ since_id: stopped });
      // The replay brings it (a live-only connection never would: it was made before this one opened).
      await eventually(async () => sourcesOf(second, b.orderId).has('event') || undefined, 20_000);
      expect(ledgerRows(second, b.orderId)).toEqual([expect.objectContaining({ cum_qty: '1', execution_id: b.executionId })]);
      const bEvent = sim.engine.events.events.find((e) => (e.json as any).ref_id === b.executionId)!;
      await eventually(async () => (cursorOf(second) ?? '') >= bEvent.eventId || undefined);
    } finally {
      await second.close();
    }
  });

  it('a bust of a fill recorded from REST (no execution id) finds that id on the stream\'s history and is applied', async () => {
    // Made before the service ever ran: only the REST activities (no execution id) bring it.
    const g = await outsideBuy('GOOGL');
    const s = await startService('lookup.db');
    try {
      await live(s);
      await eventually(async () => ledgerRows(s, g.orderId).length === 1 || undefined, 20_000);
      expect(ledgerRows(s, g.orderId)).toEqual([expect.objectContaining({ cum_qty: '1', source: 'activity', execution_id: null })]);

      await simPost(sim, '/_sim/bust', { execution_id: g.executionId });
      const busted = () => s.db.sqlite.prepare('select busted, execution_id from fills where order_id = ?').get(g.orderId) as { busted: number; execution_id: string | null };
      await eventually(async () => busted().busted === 1 || undefined, 20_000);
      expect(busted()).toEqual({ busted: 1, execution_id: g.executionId });
      // Pending first (the ledger knew no fill by that id), then the lookup found it and the change applied.
      expect(s.lines().filter((l) => l.event === 'execution_change_pending').map((l) => l.order_id)).toEqual([g.orderId]);
      expect(s.lines().filter((l) => l.event === 'execution_ids_looked_up')).toEqual([expect.objectContaining({ order_id: g.orderId, identified: 1, unidentified: 0 })]);
      const positions = await getJson(`${s.url}/positions`);
      expect(positions.body.positions.filter((p: any) => p.symbol === 'GOOGL')).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('after "dropped N messages" it resumes from its cursor, and the dropped fills come again', async () => {
    const s = await startService('dropped.db');
    try {
      await live(s);
      const warmup = await outsideBuy('F');
      await eventually(async () => sourcesOf(s, warmup.orderId).has('event') || undefined, 20_000);
      const before = cursorOf(s);
      expect(await simPost(sim, '/_sim/events/drop', { count: 2 })).toMatchObject({ streams: 1 });
      const dropped = [await outsideBuy('NVDA'), await outsideBuy('AMZN')];

      await eventually(async () => s.lines().some((l) => l.event === 'event_stream_dropped') || undefined, 20_000);
      await eventually(async () => dropped.every((d) => sourcesOf(s, d.orderId).has('event')) || undefined, 20_000);
      // Resumed from the cursor it had before the gap.
      expect(connects(s).map((l) => l.since_id)).toContain(before);
      for (const d of dropped) expect(ledgerRows(s, d.orderId)).toEqual([expect.objectContaining({ cum_qty: '1', execution_id: d.executionId })]);
    } finally {
      await s.close();
    }
  });

  it('a host without the stream (404): one /health reason, 200 not 503, one log line, and fills still recorded', async () => {
    await simPost(sim, '/_sim/events', { available: false });
    const s = await startService('absent.db');
    try {
      const health = await eventually(async () => {
        const h = await getJson(`${s.url}/health`);
        return h.body.event_stream === 'unavailable' ? h : undefined;
      }, 20_000);
      expect(health.status).toBe(200);
      expect(health.body.status).not.toBe('critical');
      expect(health.body.reasons.filter((r: string) => r.startsWith('event stream unavailable'))).toEqual(['event stream unavailable (404): fills from trade_updates and activity polling']);

      const c = await outsideBuy('GOOGL');
      await eventually(async () => ledgerRows(s, c.orderId).length === 1 || undefined, 20_000);
      expect(ledgerRows(s, c.orderId)).toEqual([expect.objectContaining({ cum_qty: '1' })]);
      expect(s.lines().filter((l) => l.event === 'event_stream_unavailable')).toHaveLength(1);
      expect((await getJson(`${s.url}/health`)).status).toBe(200);
    } finally {
      await s.close();
      await simPost(sim, '/_sim/events', { available: true });
    }
  });
});
