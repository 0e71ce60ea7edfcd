import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { accountSchema } from '../src/store/account-schema.js';
import { D } from '../src/decimal.js';
import { eventually, getJson, startBot, type BotProcess } from './support/bot-process.js';
import { freshDatabase, startPgCluster, type PgCluster } from './support/pg-cluster.js';

/**
 * Two accounts (CT_ACCOUNTS_FILE) over three instances on one PostgreSQL database: each account is
 * led by exactly one instance, the accounts spread, a killed instance's account is led elsewhere
 * within the target, and neither account loses or doubles a fill.
 */
const started = await startPgCluster({ name: 'accounts' });
if ('skip' in started) console.log(`accounts.test.ts skipped: ${started.skip}`);
const cluster: PgCluster | null = 'cluster' in started ? started.cluster : null;
// At file level: a filtered run that skips the PostgreSQL cases must still stop the server.
afterAll(async () => {
  await cluster?.stop();
}, 30_000);

const ACCOUNTS = {
  alpha: { key: 'PKALPHA', secret: 'alpha-secret', seed: 31 },
  beta: { key: 'PKBETA', secret: 'beta-secret', seed: 32 },
} as const;
type Name = keyof typeof ACCOUNTS;
const NAMES = Object.keys(ACCOUNTS) as Name[];
const headersOf = (n: Name) => ({ 'APCA-API-KEY-ID': ACCOUNTS[n].key, 'APCA-API-SECRET-KEY': ACCOUNTS[n].secret });

describe.skipIf(!cluster)('several accounts over several instances', () => {
  const sims = new Map<Name, Simulator>();
  const bots = new Map<string, BotProcess>();
  const urls = new Map<string, string>();
  let db: { url: string; drop(): Promise<void> };
  let dir: string;
  let accountsFile: string;

  beforeAll(async () => {
    db = await freshDatabase(cluster!);
    dir = mkdtempSync(join(tmpdir(), 'ct-accounts-'));
    const file: Record<string, unknown> = {};
    for (const n of NAMES) {
      const a = ACCOUNTS[n];
      const s = await startSimulator({ seed: a.seed, keyId: a.key, secretKey: a.secret, outsideTrader: { intervalMs: 500 } });
      sims.set(n, s);
      file[n] = { key_id: a.key, secret_key: a.secret, paper: true, api_url: s.url, stream_url: s.streamUrl, data_url: s.dataUrl };
    }
    accountsFile = join(dir, 'accounts.json');
    writeFileSync(accountsFile, JSON.stringify(file));
    chmodSync(accountsFile, 0o600);
  });
  afterAll(async () => {
    for (const b of bots.values()) if (b.proc.exitCode === null && b.proc.signalCode === null) b.proc.kill('SIGKILL');
    await Promise.all([...bots.values()].map((b) => b.exited));
    await Promise.all([...sims.values()].map((s) => s.close()));
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  const instance = async (name: string) => {
    const b = startBot({
      CT_ACCOUNTS_FILE: accountsFile,
      CT_DB_URL: db.url,
      CT_INSTANCE_NAME: name,
      CT_LEADER_TIMEOUT_S: '3',
      CT_POLL_MS: '1000',
      // At that cadence with both streams up too (the relaxed poll is tested elsewhere).
      CT_POLL_RELAX: '1',
      CT_API_PORT: '0',
      CT_LOG_LEVEL: 'info',
    });
    bots.set(name, b);
    urls.set(name, await b.apiUrl());
    return b;
  };
  /** Who leads each account, as every live instance's /health overview says (they must agree). */
  const leadersNow = async (): Promise<Record<Name, string> | null> => {
    const seen: Partial<Record<Name, Set<string>>> = {};
    for (const [name, url] of urls) {
      const b = bots.get(name)!;
      if (b.proc.exitCode !== null || b.proc.signalCode !== null) continue;
      const h = await getJson(`${url}/health`);
      for (const a of h.body.accounts ?? []) {
        if (a.here === 'leading') (seen[a.account as Name] ??= new Set()).add(name);
      }
    }
    const out: Partial<Record<Name, string>> = {};
    for (const n of NAMES) {
      const here = [...(seen[n] ?? [])];
      expect(here.length, `${n} led by ${here.join(', ')}`).toBeLessThanOrEqual(1);
      if (here.length !== 1) return null;
      out[n] = here[0]!;
    }
    return out as Record<Name, string>;
  };

  it('each account is led by exactly one instance, they spread, and a killed instance\'s account moves within 10 s', async () => {
    await Promise.all(['i1', 'i2', 'i3'].map((n) => instance(n)));
    const first = await eventually(leadersNow, 20_000, 250);
    expect(new Set(Object.values(first)).size).toBe(2);

    // The API: an account's data where it is led; elsewhere 503; without ?account= a 400 naming them.
    const alphaLeader = first.alpha;
    const other = ['i1', 'i2', 'i3'].find((n) => n !== first.alpha && n !== first.beta)!;
    await eventually(async () => (await getJson(`${urls.get(alphaLeader)}/fills?account=alpha`)).status === 200);
    expect((await getJson(`${urls.get(other)}/fills?account=alpha`)).status).toBe(503);
    const bare = await getJson(`${urls.get(alphaLeader)}/fills`);
    expect(bare.status).toBe(400);
    expect(bare.body.error).toMatchObject({ code: 'account_required' });
    expect(bare.body.error.message).toContain('alpha, beta');
    expect((await getJson(`${urls.get(alphaLeader)}/fills?account=gamma`)).status).toBe(404);
    const standby = await getJson(`${urls.get(other)}/health?account=alpha`);
    expect(standby.body).toMatchObject({ status: 'standby', account: 'alpha', leader: { leader: alphaLeader } });
    // Every kind of /health answer fits the published schema.
    const doc = (await getJson(`${urls.get(other)}/openapi.json`)).body;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema({ $id: 'openapi.json', components: doc.components });
    const health = ajv.compile({ $ref: 'openapi.json#/components/schemas/Health' });
    for (const body of [standby.body, (await getJson(`${urls.get(other)}/health`)).body, (await getJson(`${urls.get(alphaLeader)}/health?account=alpha`)).body]) {
      expect(health(body), `${JSON.stringify(body).slice(0, 300)}: ${ajv.errorsText(health.errors)}`).toBe(true);
    }
    expect(health({ status: 'standby', reasons: [], account: 'alpha' })).toBe(false);

    // Kill alpha's leader: alpha is led elsewhere within 10 s; beta keeps its leader.
    const killedAt = Date.now();
    bots.get(alphaLeader)!.proc.kill('SIGKILL');
    await bots.get(alphaLeader)!.exited;
    const second = await eventually(async () => {
      const l = await leadersNow();
      return l && l.alpha !== alphaLeader ? l : null;
    }, 10_000, 200);
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    expect(second.beta).toBe(first.beta);

    // Kill beta's leader too: the last instance leads both.
    const last = ['i1', 'i2', 'i3'].find((n) => n !== alphaLeader && n !== first.beta)!;
    const killed2 = Date.now();
    bots.get(first.beta)!.proc.kill('SIGKILL');
    await bots.get(first.beta)!.exited;
    const third = await eventually(async () => {
      const l = await leadersNow();
      return l && l.alpha === last && l.beta === last ? l : null;
    }, 15_000, 200);
    expect(third).toEqual({ alpha: last, beta: last });
    expect(Date.now() - killed2).toBeLessThan(15_000);

    // Settle: each account's ledger equals its broker's fills, in its own schema.
    for (const s of sims.values()) s.outsideTrader?.stop();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      for (const n of NAMES) {
        const sim = sims.get(n)!;
        const schema = accountSchema(((await getJson(`${sim.url}/v2/account`, headersOf(n))).body as { id: string }).id);
        await eventually(async () => {
          const orders = (await getJson(`${sim.url}/v2/orders?status=all&limit=500`, headersOf(n))).body as any[];
          const rows = (await client.query(`select order_id, qty from ${schema}.fills`)).rows as Array<{ order_id: string; qty: string }>;
          const ledger = new Map<string, InstanceType<typeof D>>();
          for (const r of rows) ledger.set(r.order_id, (ledger.get(r.order_id) ?? new D(0)).plus(r.qty));
          const off = orders.filter((o) => !new D(o.filled_qty).eq(ledger.get(o.id) ?? 0));
          const foreign = rows.filter((r) => !orders.some((o) => o.id === r.order_id));
          return off.length === 0 && foreign.length === 0 && rows.length > 0;
        }, 30_000, 500);
      }
      const leaders = (await client.query('select account_name, leader, epoch::int as epoch from crazy_trade.leaders order by account_name')).rows;
      expect(leaders.map((r) => [r.account_name, r.leader])).toEqual([
        ['alpha', last],
        ['beta', last],
      ]);
    } finally {
      await client.end();
    }
  }, 120_000);
});

describe('several accounts in one process on SQLite', () => {
  it('runs each account on its own file, answers ?account=, and lists both in /health', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ct-accounts-sqlite-'));
    const sims: Simulator[] = [];
    let bot: BotProcess | null = null;
    try {
      const file: Record<string, unknown> = {};
      for (const n of NAMES) {
        const a = ACCOUNTS[n];
        const s = await startSimulator({ seed: a.seed + 10, keyId: a.key, secretKey: a.secret, outsideTrader: { intervalMs: 300 } });
        sims.push(s);
        file[n] = { key_id: a.key, secret_key: a.secret, api_url: s.url, stream_url: s.streamUrl, data_url: s.dataUrl };
      }
      const accountsFile = join(dir, 'accounts.json');
      writeFileSync(accountsFile, JSON.stringify(file), { mode: 0o600 });
      bot = startBot({ CT_ACCOUNTS_FILE: accountsFile, CT_DB_PATH: join(dir, 'ct.db'), CT_API_PORT: '0', CT_LOG_LEVEL: 'info' });
      const url = await bot.apiUrl();
      const health = await getJson(`${url}/health`);
      expect(health.body.accounts.map((a: any) => [a.account, a.here, a.leader])).toEqual([
        ['alpha', 'leading', null],
        ['beta', 'leading', null],
      ]);
      // Each account's fills are its own broker's.
      for (const [i, n] of NAMES.entries()) {
        const fills = await eventually(async () => {
          const f = await getJson(`${url}/fills?account=${n}`);
          return f.status === 200 && f.body.fills.length > 0 ? f.body.fills : null;
        }, 20_000);
        const orders = (await getJson(`${sims[i]!.url}/v2/orders?status=all&limit=500`, headersOf(n))).body as any[];
        const ids = new Set(orders.map((o) => o.id));
        expect(fills.every((f: any) => ids.has(f.order_id))).toBe(true);
      }
      expect(bot.lines.filter((l) => l.event === 'store_opened').map((l) => l.path.split('/').pop()).sort()).toEqual(['ct.alpha.db', 'ct.beta.db']);
    } finally {
      if (bot && bot.proc.exitCode === null) bot.proc.kill('SIGKILL');
      await bot?.exited;
      await Promise.all(sims.map((s) => s.close()));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
