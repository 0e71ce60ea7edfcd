import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getJson, startBot, type BotProcess } from './support/bot-process.js';

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
