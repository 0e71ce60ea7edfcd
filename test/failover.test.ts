import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { accountSchema } from '../src/store/account-schema.js';
import { eventually, getJson, startBot, type BotProcess } from './support/bot-process.js';
import { freshDatabase, startPgCluster, type PgCluster } from './support/pg-cluster.js';
import { D } from '../src/decimal.js';

/**
 * Several instances on one PostgreSQL database: one leads the account, the others stand by and take
 * over when it is killed or stopped; a stopped leader that wakes up sends nothing.
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
    await sim?.close();
    await db?.drop();
  }, 30_000);

  const bot = (name: string) => {
    const b = startBot({
      APCA_API_KEY_ID: KEY,
      APCA_API_SECRET_KEY: SECRET,
      ALPACA_API_URL: sim.url,
      ALPACA_STREAM_URL: sim.streamUrl,
      ALPACA_DATA_URL: sim.dataUrl,
      CT_DB_URL: db.url,
      CT_INSTANCE_NAME: name,
      CT_LEADER_TIMEOUT_S: '3',
      CT_POLL_MS: '1000',
      CT_API_PORT: '0',
      CT_LOG_LEVEL: 'info',
    });
    bots.push(b);
    return b;
  };
  const leads = (b: BotProcess, after = 0) => b.waitFor((l) => l.event === 'leadership_acquired' && Date.parse(l.time) >= after, 20_000);

  it('one instance leads, the other stands by; a SIGKILLed leader is replaced, and a SIGSTOPped one that wakes up sends nothing', async () => {
    const a = bot('a');
    const b = bot('b');
    const [aUrl, bUrl] = await Promise.all([a.apiUrl(), b.apiUrl()]);
    const first = await Promise.race([leads(a).then(() => a), leads(b).then(() => b)]);
    const standby = first === a ? b : a;
    const standbyUrl = first === a ? bUrl : aUrl;
    const leaderUrl = first === a ? aUrl : bUrl;
    const standbyHealth = await eventually(async () => {
      const h = await getJson(`${standbyUrl}/health`);
      return h.body.status === 'standby' && h.body.leader ? h : null;
    });
    expect(standbyHealth.status).toBe(200);
    expect(standbyHealth.body.leader.leader).toBe(first === a ? 'a' : 'b');
    expect((await getJson(`${standbyUrl}/fills`)).status).toBe(503);

    // The leader records fills and protects them.
    await eventually(async () => {
      const f = await getJson(`${leaderUrl}/fills`);
      return f.status === 200 && f.body.fills?.length >= 3;
    }, 20_000);

    // SIGKILL: the lock frees with the socket; the standby takes over well within 10 s.
    const killedAt = Date.now();
    first.proc.kill('SIGKILL');
    await first.exited;
    await leads(standby, killedAt);
    const takeoverMs = Date.now() - killedAt;
    expect(takeoverMs).toBeLessThan(10_000);

    // A third instance stands by; the leader is SIGSTOPped past the lock timeout, the third takes
    // over, and the old leader, resumed, steps down without sending.
    const c = bot('c');
    await c.apiUrl();
    await c.waitFor((l) => l.event === 'leadership_standby', 20_000);
    const stoppedAt = Date.now();
    standby.proc.kill('SIGSTOP');
    await leads(c, stoppedAt);
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    const resumedAt = Date.now();
    standby.proc.kill('SIGCONT');
    await standby.waitFor((l) => l.event === 'leadership_released', 15_000);
    // Woken up, it placed no stop: the new leader alone acts for the account.
    expect(standby.lines.filter((l) => Date.parse(l.time) >= resumedAt && l.event === 'stop_placed')).toEqual([]);

    // Settle: the outside trader stops; the ledger equals the broker's fills, and no entry has two stops.
    sim.outsideTrader?.stop();
    const schema = accountSchema(((await getJson(`${sim.url}/v2/account`, headers)).body as { id: string }).id);
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
      const perEntry = new Map<string, number>();
      for (const s of stops) {
        const entry = String(s.client_order_id).replace(/^ct-stop-/, '').replace(/-(f|v\d+)$/, '');
        perEntry.set(entry, (perEntry.get(entry) ?? 0) + 1);
      }
      expect([...perEntry.values()].filter((n) => n > 2)).toEqual([]);
      const epochs = (await client.query('select epoch::int as epoch, leader from crazy_trade.leaders')).rows;
      expect(epochs).toEqual([{ epoch: 3, leader: 'c' }]);
    } finally {
      await client.end();
    }
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
