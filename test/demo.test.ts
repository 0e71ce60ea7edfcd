import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, getJson, startBot, type BotProcess } from './support/bot-process.js';

const dir = mkdtempSync(join(tmpdir(), 'ct-demo-'));
let bot: BotProcess | undefined;
afterAll(async () => {
  if (bot && bot.proc.exitCode === null) {
    bot.proc.kill('SIGKILL');
    await bot.exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('demo mode (no APCA keys)', () => {
  it('starts the embedded simulator, answers /health within 20 s, records outside fills, and stops cleanly on SIGTERM', async () => {
    const started = Date.now();
    bot = startBot({ CT_DB_PATH: join(dir, 'crazy-trade.db'), CT_API_PORT: '0' });
    const url = await bot.apiUrl();
    const health = await getJson(`${url}/health`);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ mode: 'demo', actors: { active: expect.any(Number), terminal: expect.any(Number) }, drift: [] });
    expect(['connected', 'reconnecting', 'down']).toContain(health.body.stream);
    const sim = bot.lines.find((l) => l.event === 'demo_mode');
    expect(sim!.demo_faults).toBe(false);
    const faults = await getJson(`${sim!.sim_url}/_sim/faults`);
    expect(Object.entries(faults.body).filter(([k, v]) => k.endsWith('_rate') && v !== 0)).toEqual([]);
    expect(new URL(sim!.sim_url).hostname).toBe('127.0.0.1');
    expect(new URL(url).hostname).toBe('127.0.0.1');

    // The outside trader places orders on its own; the bot records their fills.
    await bot.waitFor((l) => l.event === 'fill_received', 15_000);
    const connected = await getJson(`${url}/health`);
    expect(connected.body.stream).toBe('connected');

    bot.proc.kill('SIGTERM');
    const exit = await bot.exited;
    expect(exit.code).toBe(0);
    expect(bot.lines.some((l) => l.event === 'shutdown_complete')).toBe(true);
  }, 45_000);

  it('marks its database as the demo\'s own, and never deletes a file it did not create (a ledger at demo.db refuses the start, unchanged)', async () => {
    // The run above left its database, marked (the next demo run may delete it).
    const mine = new BetterSqlite3(join(dir, 'demo.db'), { readonly: true });
    expect(mine.pragma('application_id', { simple: true })).toBe(0x43544430);
    mine.close();

    const other = mkdtempSync(join(tmpdir(), 'ct-demo-ledger-'));
    try {
      const ledgerPath = join(other, 'demo.db');
      const ledger = new BetterSqlite3(ledgerPath);
      ledger.exec("create table fills (id text primary key, qty text); insert into fills values ('real-fill-1', '10');");
      ledger.close();
      const before = readFileSync(ledgerPath);
      const refused = startBot({ CT_DB_PATH: join(other, 'crazy-trade.db'), CT_API_PORT: '0' });
      const exit = await refused.exited;
      expect(exit.code).toBe(2);
      const lines = refused.stderr().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(ledgerPath);
      expect(lines[0]).toContain('not a demo database');
      expect(readFileSync(ledgerPath).equals(before)).toBe(true);
      expect(refused.lines.some((l) => l.event === 'demo_mode')).toBe(false); // refused before the simulator started

      // Not SQLite at all: refused alike, left as it was.
      writeFileSync(ledgerPath, 'notes, not a database\n');
      const again = startBot({ CT_DB_PATH: join(other, 'crazy-trade.db'), CT_API_PORT: '0' });
      expect((await again.exited).code).toBe(2);
      expect(readFileSync(ledgerPath, 'utf8')).toBe('notes, not a database\n');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }

    // Its own database is replaced at every start, a SIGKILL's leftovers (-wal, -shm) included.
    for (const stop of ['SIGKILL', 'SIGTERM'] as const) {
      const next = startBot({ CT_DB_PATH: join(dir, 'crazy-trade.db'), CT_API_PORT: '0' });
      expect((await getJson(`${await next.apiUrl()}/health`)).status).toBe(200);
      next.proc.kill(stop);
      await next.exited;
    }
  }, 45_000);

  it('the default demo stays healthy: /health ok throughout, no stop refused but a new stop racing a market exit, while the outside trader keeps the account busy', async () => {
    // A default demo start (no CT_DEMO_FAULTS): the careful outside trader, no fault. The trader is sped
    // up to a tick every TICK_MS through the simulator's control endpoint, so RUN_MS of it is about
    // 18000 / 120 = 150 ticks: more orders, fills and stops than the first 3 minutes of a default start
    // (1500 ms a tick: 120 ticks), compressed. That is enough because what turned the demo critical
    // was not time but the trader's orders: a resting order crossing a stop (wash trade) or holding its
    // shares (insufficient qty) gets the stop refused when it is sent, which happened within about 20 s
    // in 3 starts of 4. So besides /health (critical only after CT_PROTECT_GRACE_S, 10 s, of a position
    // uncovered), this checks the cause directly: no stop refused, whatever the kind, but one that a
    // market exit filling as it went out made short, and that was placed again within 3 s. At this pace the trader would outrun Alpaca's 200 requests a minute (a stop for nearly
    // every fill) and measure that instead, so this bot gets the budget of Alpaca's larger plan
    // (CT_BROKER_RATE_LIMIT=1000/60s; the simulator enforces none): the budget is busy-account's subject.
    const TICK_MS = 120;
    const RUN_MS = 18_000;
    const own = mkdtempSync(join(tmpdir(), 'ct-demo-healthy-'));
    const healthy = startBot({ CT_DB_PATH: join(own, 'crazy-trade.db'), CT_API_PORT: '0', CT_LOG_LEVEL: 'info', CT_BROKER_RATE_LIMIT: '1000/60s' });
    try {
      const url = await healthy.apiUrl();
      const simUrl = (await healthy.waitFor((l) => l.event === 'demo_mode')).sim_url as string;
      const sped = await fetch(`${simUrl}/_sim/outside-trader`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ running: true, interval_ms: TICK_MS }) });
      expect(await sped.json()).toEqual({ running: true, interval_ms: TICK_MS, careful: true });
      // Until the trade_updates stream is up /health says so (degraded, "stream down"): a second or so.
      await eventually(async () => (await getJson(`${url}/health`)).body.status === 'ok', 15_000, 100);

      const seen = new Map<string, number>();
      const notOk: string[] = [];
      const end = Date.now() + RUN_MS;
      while (Date.now() < end) {
        const h = await getJson(`${url}/health`);
        seen.set(h.body.status, (seen.get(h.body.status) ?? 0) + 1);
        if (h.body.status !== 'ok' && notOk.length < 5) notOk.push(`${h.status} ${h.body.status}: ${h.body.reasons.join('; ')}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(notOk).toEqual([]);
      expect(seen.get('ok')).toBeGreaterThan(RUN_MS / 250 / 2);
      const events = (name: string) => healthy.lines.filter((l) => l.event === name);
      // One refusal no trader can avoid: a market exit that fills as a new entry's stop goes out. The
      // broker counts the position after the exit, less what the other stops hold, before the bot has
      // the exit's fill (Alpaca's "insufficient qty available"); the exit's fill cuts those stops and
      // the refused one goes out again at once. Any other refusal, or one not followed within 3 s by
      // its entry's stop placed (or no longer needed), is what this test is here to catch.
      const lasting = events('stop_rejected').filter((r) => {
        if (!String(r.reason).startsWith('insufficient_qty:')) return true;
        const at = Date.parse(r.time);
        return !healthy.lines.some(
          (l) => l.entry_order_id === r.entry_order_id && ['stop_placed', 'stop_not_needed', 'stop_canceled'].includes(l.event) && Date.parse(l.time) > at && Date.parse(l.time) - at <= 3000,
        );
      });
      expect(lasting.map((l) => l.reason)).toEqual([]);
      expect(events('position_unprotected')).toEqual([]);
      // The account was busy: fills on several symbols, a stop for each of many of them.
      expect(events('fill_received').length).toBeGreaterThan(60);
      expect(new Set(events('fill_received').map((l) => l.symbol)).size).toBeGreaterThanOrEqual(4);
      expect(events('stop_placed').length).toBeGreaterThan(40);
      expect(events('stop_placed').some((l) => l.type === 'stop_limit')).toBe(true);

      healthy.proc.kill('SIGTERM');
      expect((await healthy.exited).code).toBe(0);
    } finally {
      if (healthy.proc.exitCode === null) healthy.proc.kill('SIGKILL');
      await healthy.exited;
      rmSync(own, { recursive: true, force: true });
    }
  }, 90_000);

  it('CT_DEMO_FAULTS=1 starts the simulator with its full fault mix and a careless outside trader, and says so', async () => {
    const own = mkdtempSync(join(tmpdir(), 'ct-demo-faults-'));
    const faulty = startBot({ CT_DB_PATH: join(own, 'crazy-trade.db'), CT_API_PORT: '0', CT_DEMO_FAULTS: '1' });
    try {
      const line = await faulty.waitFor((l) => l.event === 'demo_mode');
      expect(line.demo_faults).toBe(true);
      expect(line.msg).toMatch(/CT_DEMO_FAULTS=1/);
      const faults = await getJson(`${line.sim_url}/_sim/faults`);
      expect(faults.body).toMatchObject({ rate_429: 0.02, rate_5xx: 0.02, reject_after_accept_rate: 0.02, done_for_day_rate: 0.05 });
      const trader = await fetch(`${line.sim_url}/_sim/outside-trader`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ running: false }) });
      expect(await trader.json()).toMatchObject({ careful: false });
      faulty.proc.kill('SIGTERM');
      expect((await faulty.exited).code).toBe(0);
    } finally {
      if (faulty.proc.exitCode === null) faulty.proc.kill('SIGKILL');
      await faulty.exited;
      rmSync(own, { recursive: true, force: true });
    }
  }, 45_000);

  it('exits non-zero with one line naming a bad variable', async () => {
    const bad = startBot({ CT_POLL_MS: 'often', CT_DB_PATH: join(dir, 'x.db') });
    const exit = await bad.exited;
    expect(exit.code).toBe(2);
    const lines = bad.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/CT_POLL_MS/);
    expect(bad.lines).toEqual([]);
  });
});
