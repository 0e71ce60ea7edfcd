import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../src/sim/index.js';
import { openDatabase } from '../src/store/database.js';
import { createBrokerClient } from '../src/broker/client.js';
import { OrderActors } from '../src/runtime/order-actors.js';
import { restart } from '../src/runtime/restart.js';
import { DriftCheck } from '../src/sync/drift.js';
import { Reconciler } from '../src/sync/reconciler.js';
import { captureLogger } from './support/log-capture.js';
import { simPost } from './support/sim-traffic.js';

const dir = mkdtempSync(join(tmpdir(), 'ct-resync-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Alpaca has confirmed missing activities that show up later (alpacahq/Alpaca-API#176): an id
 * before ones already served, which paging on from the watermark never returns. The trailing
 * re-read (CT_RESYNC_WINDOW_S) records it once; re-reading again records nothing twice.
 */
describe('the trailing window behind the watermark', () => {
  it('records a FILL activity published late, with an id before the watermark, exactly once', async () => {
    const sim = await startSimulator({ seed: 501 });
    const db = await openDatabase(join(dir, 'resync.db'));
    const { log, lines: logged } = captureLogger();
    const lines = () => logged();
    try {
      const client = createBrokerClient({ keyId: 'k', secretKey: 's', paper: true, apiUrl: sim.url }, { rateLimit: false });
      const actors = new OrderActors({ db, log, adopt: 'record', fetchOrder: async () => null, onFatal: (e) => { throw e; } });
      await restart({ actors: actors });
      const reconciler = new Reconciler({ db, log, client, actors, drift: new DriftCheck({ db, log, client, actors }), resyncWindowS: 900 });
      // Only the trailing re-read is under test: let it run at every reconcile.
      (reconciler as any).resync.deps.everyMs = 0;

      await simPost(sim, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '1', type: 'market' });
      await simPost(sim, '/_sim/faults', { late_activity_ms: 1500 });
      const late = await simPost(sim, '/_sim/trade', { symbol: 'MSFT', side: 'buy', qty: '2', type: 'market' });
      await simPost(sim, '/_sim/trade', { symbol: 'SPY', side: 'buy', qty: '3', type: 'market' });
      // A poll: orders closed since the last run are read at start and after a reconnect (next test).
      const first = await reconciler.trigger('poll');
      expect(first).toMatchObject({ late_recovered: 0 });
      const has = () => db.all(db.kysely.selectFrom('fills').select('order_id').where('order_id', '=', late.id)).length;
      expect(has()).toBe(0);

      await new Promise((r) => setTimeout(r, 1700));
      const second = await reconciler.trigger('poll');
      expect(second).toMatchObject({ late_recovered: 1 });
      expect(has()).toBe(1);
      expect(lines().filter((l) => l.event === 'late_activity_recovered').map((l) => l.order_id)).toEqual([late.id]);

      const third = await reconciler.trigger('poll');
      expect(third).toMatchObject({ late_recovered: 0, fills_new: 0 });
      expect(has()).toBe(1);
      expect(lines().filter((l) => l.event === 'fill_already_processed')).toEqual([]);
      actors.stop();
    } finally {
      await db.close();
      await sim.close();
    }
  }, 30_000);

  it('at start, a fill whose activity is published late is recorded from its closed order at once, and the activity later adds nothing', async () => {
    const sim = await startSimulator({ seed: 503 });
    const db = await openDatabase(join(dir, 'resync-start.db'));
    const { log, lines } = captureLogger();
    try {
      const client = createBrokerClient({ keyId: 'k', secretKey: 's', paper: true, apiUrl: sim.url }, { rateLimit: false });
      const actors = new OrderActors({ db, log, adopt: 'record', fetchOrder: async () => null, onFatal: (e) => { throw e; } });
      await restart({ actors: actors });
      const reconciler = new Reconciler({ db, log, client, actors, drift: new DriftCheck({ db, log, client, actors }), resyncWindowS: 900 });
      (reconciler as any).resync.deps.everyMs = 0;
      await simPost(sim, '/_sim/faults', { late_activity_ms: 1500 });
      const late = await simPost(sim, '/_sim/trade', { symbol: 'MSFT', side: 'buy', qty: '2', type: 'market' });
      const fills = () => db.all(db.kysely.selectFrom('fills').select(['order_id', 'qty', 'source']).where('order_id', '=', late.id));
      // The activity is not served yet; the order is closed and filled: recorded from it, at the first run.
      await reconciler.trigger('start');
      expect(fills()).toEqual([{ order_id: late.id, qty: '2', source: 'order' }]);
      // The activity shows up later: the same fill, not a second row.
      await new Promise((r) => setTimeout(r, 1700));
      await reconciler.trigger('poll');
      expect(fills()).toHaveLength(1);
      expect(lines().filter((l) => l.event === 'ledger_drift')).toEqual([]);
      actors.stop();
    } finally {
      await db.close();
      await sim.close();
    }
  }, 30_000);

  it('a re-read that comes late (bots that never lived a minute) starts where activities stopped being safe, not a window behind the watermark', async () => {
    const sim = await startSimulator({ seed: 502 });
    const db = await openDatabase(join(dir, 'resync-late.db'));
    const { log } = captureLogger();
    try {
      const client = createBrokerClient({ keyId: 'k', secretKey: 's', paper: true, apiUrl: sim.url }, { rateLimit: false });
      const actors = new OrderActors({ db, log, adopt: 'record', fetchOrder: async () => null, onFatal: (e) => { throw e; } });
      await restart({ actors: actors });
      const life = (everyMs: number) => {
        const r = new Reconciler({ db, log, client, actors, drift: new DriftCheck({ db, log, client, actors }), resyncWindowS: 1 });
        (r as any).resync.deps.everyMs = everyMs;
        (r as any).resync.lastAt = everyMs === 0 ? 0 : Date.now();
        return r;
      };
      // A bot that dies before its first re-read: the first read marks what is safe.
      await life(3_600_000).trigger('start');
      await simPost(sim, '/_sim/faults', { late_activity_ms: 1200 });
      const late = await simPost(sim, '/_sim/trade', { symbol: 'MSFT', side: 'buy', qty: '2', type: 'market' });
      await simPost(sim, '/_sim/faults', { late_activity_ms: 0 });
      // A fill right after it, served at once: the watermark passes the late one's id.
      await simPost(sim, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '1', type: 'market' });
      await life(3_600_000).trigger('poll');
      // Well past the window (1 s): newer fills move the watermark on.
      await new Promise((r) => setTimeout(r, 2500));
      await simPost(sim, '/_sim/trade', { symbol: 'SPY', side: 'buy', qty: '3', type: 'market' });
      const has = () => db.all(db.kysely.selectFrom('fills').select('order_id').where('order_id', '=', late.id)).length;
      await life(3_600_000).trigger('poll');
      expect(has()).toBe(0);
      // The next bot that re-reads: the window behind the watermark alone would start after it.
      const reread = await life(0).trigger('poll');
      expect(reread).toMatchObject({ late_recovered: 1 });
      expect(has()).toBe(1);
      actors.stop();
    } finally {
      await db.close();
      await sim.close();
    }
  }, 30_000);
  it('a fill whose commit failed inside an activity page leaves the watermark before it: the next run records it', async () => {
    const sim = await startSimulator({ seed: 504 });
    const db = await openDatabase(join(dir, 'resync-failed-commit.db'));
    const { log, lines } = captureLogger();
    try {
      const client = createBrokerClient({ keyId: 'k', secretKey: 's', paper: true, apiUrl: sim.url }, { rateLimit: false });
      const fatal: unknown[] = [];
      // The process would stop on a failed commit (main.ts); here the failure is only counted.
      const failing = new OrderActors({ db, log, adopt: 'record', fetchOrder: async () => null, onFatal: (e) => void fatal.push(e) });
      await restart({ actors: failing });
      const reconciler = new Reconciler({ db, log, client, actors: failing, drift: new DriftCheck({ db, log, client, actors: failing }), resyncWindowS: 0 });
      await reconciler.trigger('start');
      // The store refuses MSFT's fill (a disk that filled up, say); AAPL's, on the same page, commits.
      db.sqlite.exec(`CREATE TRIGGER refuse_msft BEFORE INSERT ON fills WHEN NEW.symbol = 'MSFT' BEGIN SELECT RAISE(ABORT, 'disk full'); END`);
      const msft = await simPost(sim, '/_sim/trade', { symbol: 'MSFT', side: 'buy', qty: '2', type: 'market' });
      await simPost(sim, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '1', type: 'market' });
      const watermark = () => db.first(db.kysely.selectFrom('sync_state').select('value').where('key', '=', 'fill_watermark'))?.value ?? null;
      const before = watermark();
      await reconciler.trigger('poll');
      expect(fatal.length).toBeGreaterThan(0);
      expect(lines().some((l) => l.event === 'reconcile_failed')).toBe(true);
      // Nothing of the page moved on: neither the watermark nor AAPL's fill (same transaction).
      expect(watermark()).toBe(before);
      failing.stop();

      // The process restarted with a healthy store: the page is read again and both fills are recorded once.
      db.sqlite.exec('DROP TRIGGER refuse_msft');
      const actors = new OrderActors({ db, log, adopt: 'record', fetchOrder: async () => null, onFatal: (e) => { throw e; } });
      await restart({ actors });
      await new Reconciler({ db, log, client, actors, drift: new DriftCheck({ db, log, client, actors }), resyncWindowS: 0 }).trigger('start');
      const fills = db.all(db.kysely.selectFrom('fills').select(['symbol', 'qty']).where('source', '=', 'activity').orderBy('symbol'));
      expect(fills).toEqual([{ symbol: 'AAPL', qty: '1' }, { symbol: 'MSFT', qty: '2' }]);
      expect(db.all(db.kysely.selectFrom('fills').select('order_id').where('order_id', '=', msft.id))).toHaveLength(1);
      actors.stop();
    } finally {
      await db.close();
      await sim.close();
    }
  }, 30_000);
});
