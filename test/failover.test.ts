import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { eventually, getJson, startBot, type BotProcess } from './support/bot-process.js';
import { freshDatabase, startPgCluster, type PgCluster } from './support/pg-cluster.js';
import { taggingProxy, type TaggingProxy } from './support/tagging-proxy.js';
import { D, accountSchemaOf, parseStopId } from './chaos/broker-terms.js';
import { isOrderWrite, type LoggedRequest } from './chaos/broker-watch.js';

/**
 * Several instances on one PostgreSQL database: one leads the account, the others stand by and take
 * over when it is killed or stopped; a stopped leader that wakes up sends nothing. What an instance
 * sent is judged at the broker: each reaches the simulator's API through its own tagging proxy, and
 * the simulator's request log (GET /_sim/requests) names the sender of every request.
 */
const started = await startPgCluster({ name: 'failover' });
if ('skip' in started) console.log(`failover.test.ts skipped: ${started.skip}`);
const cluster: PgCluster | null = 'cluster' in started ? started.cluster : null;
// At file level: a filtered run that skips the PostgreSQL cases must still stop the server.
afterAll(async () => {
  await cluster?.stop();
}, 30_000);

const KEY = 'PKFAILOVER';
const SECRET = 'failover-secret';
const headers = { 'APCA-API-KEY-ID': KEY, 'APCA-API-SECRET-KEY': SECRET };

describe.skipIf(!cluster)('failover on PostgreSQL', () => {
  let sim: Simulator;
  let db: { url: string; drop(): Promise<void> };
  const bots: BotProcess[] = [];
  const proxies: TaggingProxy[] = [];

  beforeAll(async () => {
    db = await freshDatabase(cluster!);
    sim = await startSimulator({ seed: 16, keyId: KEY, secretKey: SECRET, outsideTrader: { intervalMs: 400 } });
  });
  afterAll(async () => {
    for (const b of bots) {
      if (b.proc.exitCode === null && b.proc.signalCode === null) {
        b.proc.kill('SIGCONT');
        b.proc.kill('SIGKILL');
      }
    }
    await Promise.all(bots.map((b) => b.exited));
    await Promise.all(proxies.map((p) => p.close()));
    await sim?.close();
    await db?.drop();
  }, 30_000);

  /** An instance named `name`; its requests reach the broker tagged `name`. */
  const bot = async (name: string) => {
    const proxy = await taggingProxy(sim.url, name);
    proxies.push(proxy);
    const b = startBot({
      APCA_API_KEY_ID: KEY,
      APCA_API_SECRET_KEY: SECRET,
      ALPACA_API_URL: proxy.url,
      ALPACA_STREAM_URL: sim.streamUrl,
      ALPACA_DATA_URL: sim.dataUrl,
      CT_DB_URL: db.url,
      CT_INSTANCE_NAME: name,
      CT_LEADER_TIMEOUT_S: '3',
      CT_POLL_MS: '1000',
      // At that cadence with both streams up too (the relaxed poll is tested elsewhere).
      CT_POLL_RELAX: '1',
      // The other timers a stale leader could send from, each every second too (5 s by default): the
      // crypto ratchet and the aging scan (a re-arm). The SIGSTOP check below waits out two rounds.
      CT_RATCHET_MS: '1000',
      CT_REARM_SCAN_MS: '1000',
      CT_API_PORT: '0',
      CT_LOG_LEVEL: 'info',
    });
    bots.push(b);
    return b;
  };
  /** Every request that reached the broker from `source`, and those that place, replace or cancel an order. */
  const requestsFrom = async (source: string): Promise<LoggedRequest[]> =>
    ((await getJson(`${sim.url}/_sim/requests?source=${encodeURIComponent(source)}`)).body as { entries: LoggedRequest[] }).entries;
  const writesFrom = async (source: string) => (await requestsFrom(source)).filter(isOrderWrite);
  const placedStop = (q: LoggedRequest) => q.method === 'POST' && parseStopId(q.client_order_id ?? '') !== null;
  const leads = (b: BotProcess, after = 0) => b.waitFor((l) => l.event === 'leadership_acquired' && Date.parse(l.time) >= after, 20_000);

  it('one instance leads, the other stands by; a SIGKILLed leader is replaced, and a SIGSTOPped one that wakes up sends nothing', async () => {
    const a = await bot('a');
    const b = await bot('b');
    const [aUrl, bUrl] = await Promise.all([a.apiUrl(), b.apiUrl()]);
    const first = await Promise.race([leads(a).then(() => a), leads(b).then(() => b)]);
    const standby = first === a ? b : a;
    const firstName = first === a ? 'a' : 'b';
    const standbyName = first === a ? 'b' : 'a';
    const standbyUrl = first === a ? bUrl : aUrl;
    const leaderUrl = first === a ? aUrl : bUrl;
    const standbyHealth = await eventually(async () => {
      const h = await getJson(`${standbyUrl}/health`);
      return h.body.status === 'standby' && h.body.leader ? h : null;
    });
    expect(standbyHealth.status).toBe(200);
    expect(standbyHealth.body.leader.leader).toBe(first === a ? 'a' : 'b');
    expect((await getJson(`${standbyUrl}/fills`)).status).toBe(503);

    // The leader records fills and protects them: the broker saw its stops arrive, tagged as its own
    // (so the request log tells the instances apart), and none from the standby.
    await eventually(async () => {
      const f = await getJson(`${leaderUrl}/fills`);
      return f.status === 200 && f.body.fills?.length >= 3;
    }, 20_000);
    await eventually(async () => (await writesFrom(firstName)).some(placedStop), 20_000);
    expect(await writesFrom(standbyName)).toEqual([]);

    // SIGKILL: the lock frees with the socket; the standby takes over well within 10 s.
    const killedAt = Date.now();
    first.proc.kill('SIGKILL');
    await first.exited;
    await leads(standby, killedAt);
    const takeoverMs = Date.now() - killedAt;
    expect(takeoverMs).toBeLessThan(10_000);

    // A third instance stands by; the leader is SIGSTOPped past the lock timeout, the third takes
    // over, and the old leader, resumed, steps down without sending.
    const c = await bot('c');
    await c.apiUrl();
    await c.waitFor((l) => l.event === 'leadership_standby', 20_000);
    // It acts for the account before it is stopped: the broker has seen a stop of its own arrive.
    await eventually(async () => (await writesFrom(standbyName)).some((q) => placedStop(q) && q.at >= killedAt), 20_000);
    const stoppedAt = Date.now();
    standby.proc.kill('SIGSTOP');
    await leads(c, stoppedAt);
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    const resumedAt = Date.now();
    standby.proc.kill('SIGCONT');
    await standby.waitFor((l) => l.event === 'leadership_released', 15_000);

    // Settle: the outside trader stops; the ledger equals the broker's fills, and no entry has two stops.
    sim.outsideTrader?.stop();
    const schema = accountSchemaOf(((await getJson(`${sim.url}/v2/account`, headers)).body as { id: string }).id);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await eventually(async () => {
        const orders = (await getJson(`${sim.url}/v2/orders?status=all&limit=500`, headers)).body as any[];
        const rows = (await client.query(`select order_id, qty from ${schema}.fills`)).rows as Array<{ order_id: string; qty: string }>;
        const ledger = new Map<string, InstanceType<typeof D>>();
        for (const r of rows) ledger.set(r.order_id, (ledger.get(r.order_id) ?? new D(0)).plus(r.qty));
        const off = orders.filter((o) => !new D(o.filled_qty).eq(ledger.get(o.id) ?? 0));
        return off.length === 0 && rows.length > 0;
      }, 30_000, 500);
      const open = (await getJson(`${sim.url}/v2/orders?status=open&limit=500`, headers)).body as any[];
      const stops = open.filter((o) => String(o.client_order_id).startsWith('ct-stop-'));
      // One live stop per entry; a second only as that entry's fraction stop, and only while its
      // position holds a fraction of a share (Alpaca trails whole shares only).
      const positions = (await getJson(`${sim.url}/v2/positions`, headers)).body as Array<{ symbol: string; qty: string }>;
      const fractional = new Set(positions.filter((p) => !new D(p.qty).isInteger()).map((p) => p.symbol));
      const perEntry = new Map<string, { whole: number; fraction: number; symbol: string }>();
      for (const s of stops) {
        const id = parseStopId(String(s.client_order_id))!;
        const n = perEntry.get(id.entry) ?? { whole: 0, fraction: 0, symbol: String(s.symbol) };
        if (id.fraction) n.fraction += 1;
        else n.whole += 1;
        perEntry.set(id.entry, n);
      }
      expect([...perEntry].filter(([, n]) => n.whole > 1 || n.fraction > 1 || (n.fraction > 0 && !fractional.has(n.symbol)))).toEqual([]);
      expect(perEntry.size).toBeGreaterThan(0);
      const epochs = (await client.query('select epoch::int as epoch, leader from crazy_trade.leaders')).rows;
      expect(epochs).toEqual([{ epoch: 3, leader: 'c' }]);
    } finally {
      await client.end();
    }

    // Woken up, it sent nothing: no order request of its own reached the broker from its SIGCONT to
    // now, and now is at least 4 s after it (the poll, the stop worker, CT_RATCHET_MS and
    // CT_REARM_SCAN_MS all at 1 s: every timer a stale leader would send from has come round at least
    // twice). The new leader alone acts.
    await new Promise((r) => setTimeout(r, Math.max(0, resumedAt + 4_000 - Date.now())));
    expect((await writesFrom(standbyName)).filter((q) => q.at >= resumedAt)).toEqual([]);
    expect((await requestsFrom('c')).length).toBeGreaterThan(0);
  }, 120_000);

  it('a store opened under an old epoch refuses every write (a send\'s mark among them): nothing is written', async () => {
    const client = new pg.Client({ connectionString: db.url });
    client.on('error', () => undefined);
    await client.connect();
    const { openPgDatabase } = await import('../src/store/database-pg.js');
    const { LeadershipLost } = await import('../src/store/leadership-lost.js');
    const { readSyncState, writeSyncState } = await import('../src/store/sync-state.js');
    const { ensureLeaderTable } = await import('../src/store/leader-table.js');
    await ensureLeaderTable(client);
    await client.query(`insert into crazy_trade.leaders (account_id, account_name, epoch, leader, since, heartbeat_at) values ('fence-test', 'fence', 7, 'x', 'now', 'now')`);
    const store = await openPgDatabase({ url: db.url, schema: 'acct_fencetest', fence: { accountId: 'fence-test', epoch: 7 } }).catch(async (err) => {
      await client.end();
      throw err;
    });
    try {
      store.transaction(() => {
        writeSyncState(store, 'entries_paused', 'under-7');
        store.assertLeading();
      });
      expect(readSyncState(store, 'entries_paused')).toBe('under-7');
      await client.query(`update crazy_trade.leaders set epoch = 8 where account_id = 'fence-test'`);
      expect(() =>
        store.transaction(() => {
          writeSyncState(store, 'entries_paused', 'after-takeover');
          store.assertLeading();
        }),
      ).toThrow(LeadershipLost);
      // Every write is fenced, not only sends: a stale leader cannot touch the books either.
      expect(() => writeSyncState(store, 'entries_paused', 'stale write')).toThrow(LeadershipLost);
      expect(readSyncState(store, 'entries_paused')).toBe('under-7');
    } finally {
      await store.close();
      await client.end();
    }
  });

  it('a store whose connection dies inside a transaction fails it (its COMMIT too), then reconnects for the next', async () => {
    const { openPgDatabase } = await import('../src/store/database-pg.js');
    const { readSyncState, writeSyncState } = await import('../src/store/sync-state.js');
    const { sql } = await import('kysely');
    const store = await openPgDatabase({ url: db.url, schema: 'acct_lostconn' });
    const killer = await openPgDatabase({ url: db.url, schema: 'acct_lostconn' });
    const kill = () => {
      const pid = store.first(store.kysely.selectNoFrom(sql<number>`pg_backend_pid()`.as('pid')))!.pid;
      killer.first(killer.kysely.selectNoFrom(sql<boolean>`pg_terminate_backend(${pid})`.as('done')));
    };
    try {
      writeSyncState(store, 'entries_paused', 'before');
      // Lost between two statements: the second fails.
      expect(() =>
        store.transaction(() => {
          writeSyncState(store, 'entries_paused', 'half');
          kill();
          writeSyncState(store, 'entries_paused', 'rest');
        }),
      ).toThrow();
      expect(readSyncState(store, 'entries_paused')).toBe('before');
      // Lost right before COMMIT: the commit fails; it must not "succeed" on a new connection.
      expect(() =>
        store.transaction(() => {
          writeSyncState(store, 'entries_paused', 'uncommitted');
          kill();
        }),
      ).toThrow(/connection|terminat/i);
      expect(readSyncState(store, 'entries_paused')).toBe('before');
      writeSyncState(store, 'entries_paused', 'after');
      expect(readSyncState(store, 'entries_paused')).toBe('after');
    } finally {
      await store.close();
      await killer.close();
    }
  });

  it('a leader whose main thread is busy past the lock timeout keeps its lock (the heartbeat has a thread of its own)', async () => {
    const { AccountLeader } = await import('../src/runtime/account-leader.js');
    const { captureLogger } = await import('./support/log-capture.js');
    const make = (instance: string) =>
      new AccountLeader({ url: db.url, accountId: 'busy-account', accountName: 'busy', instance, timeoutS: 2, log: captureLogger().log, lead: async () => ({ close: async () => undefined }) });
    const a = make('a');
    const b = make('b');
    try {
      a.start();
      await eventually(async () => a.status().role === 'leading', 10_000);
      const epoch = a.status().epoch;
      b.start();
      await b.firstAttempt;
      // 5 s of synchronous work on this thread: 2.5 times the lock timeout.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5_000);
      await new Promise((r) => setTimeout(r, 2_500));
      expect(a.status()).toMatchObject({ role: 'leading', epoch });
      expect(b.status().role).toBe('standby');
    } finally {
      await a.stop();
      await b.stop();
    }
    // Released on stop: the lock is free for the next.
    const c = make('c');
    c.start();
    await eventually(async () => c.status().role === 'leading', 10_000);
    await c.stop();
  }, 30_000);
});
