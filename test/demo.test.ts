import { mkdtempSync, rmSync } from 'node:fs';
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
