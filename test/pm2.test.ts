import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './support/bot-process.js';
import { migrationProvider } from '../src/store/migrations.js';
import { buildIsFresh } from './support/entry.js';

const run = promisify(execFile);
const root = process.cwd();
const pm2 = resolve(root, 'node_modules/.bin/pm2');
const home = mkdtempSync(join(tmpdir(), 'ct-pm2-'));
const dataDir = join(home, 'data');
let port = 0;

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

const env = () => ({
  PATH: process.env.PATH ?? '',
  HOME: home,
  PM2_HOME: join(home, '.pm2'),
  CT_DB_PATH: join(dataDir, 'crazy-trade.db'),
  CT_API_PORT: String(port),
  CT_LOG_LEVEL: 'info',
});

beforeAll(async () => {
  port = await freePort();
  // pm2 runs the compiled JavaScript, as in production: npm test's typecheck built it moments ago
  // (tsconfig.test.json); a run by hand after an edit builds it first.
  if (!buildIsFresh(root)) await run('npm', ['run', 'build', '--silent'], { cwd: root });
}, 120_000);

afterAll(async () => {
  await run(pm2, ['kill'], { cwd: root, env: env() }).catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
}, 30_000);

describe('under pm2 (ecosystem.config.cjs)', () => {
  it('starts crazy-trade-bot, answers /health, and stops cleanly with the database intact', async () => {
    await run(pm2, ['start', 'ecosystem.config.cjs'], { cwd: root, env: env() });
    const health = await eventually(async () => {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      return res.status === 200 ? ((await res.json()) as any) : null;
    }, 30_000, 250);
    expect(health.mode).toBe('demo');
    const { stdout } = await run(pm2, ['jlist'], { cwd: root, env: env() });
    const app = (JSON.parse(stdout) as any[]).find((a) => a.name === 'crazy-trade-bot');
    expect(app.pm2_env.status).toBe('online');
    expect(app.pm2_env.pm_exec_path).toBe(resolve(root, 'dist/src/main.js'));

    await run(pm2, ['stop', 'crazy-trade-bot'], { cwd: root, env: env() });
    const outLog = join(home, '.pm2', 'logs', 'crazy-trade-bot-out.log');
    const lines = await eventually(async () => {
      const text = existsSync(outLog) ? readFileSync(outLog, 'utf8') : '';
      const parsed = text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      return parsed.some((l) => l.event === 'shutdown_complete') ? parsed : null;
    }, 20_000, 250);
    expect(lines.find((l) => l.event === 'shutdown')?.signal).toBe('SIGINT');
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();

    // Demo mode keeps its database beside the configured one; it closed cleanly (WAL folded in).
    const dbPath = join(dataDir, 'demo.db');
    expect(existsSync(dbPath)).toBe(true);
    expect(existsSync(`${dbPath}-wal`)).toBe(false);
    const db = new BetterSqlite3(dbPath, { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(db.prepare('select count(*) as n from kysely_migration').get()).toEqual({ n: Object.keys(await migrationProvider.getMigrations()).length });
    db.close();
  }, 90_000);

  it('does not restart a refused start (exit 2)', async () => {
    // A database path under a regular file cannot be opened: a refused start, exit 2.
    const notADir = join(home, 'not-a-directory');
    writeFileSync(notADir, 'x');
    await run(pm2, ['delete', 'all'], { cwd: root, env: env() }).catch(() => undefined);
    await run(pm2, ['start', 'ecosystem.config.cjs'], { cwd: root, env: { ...env(), CT_DB_PATH: join(notADir, 'x.db') } });
    const app = await eventually(async () => {
      const { stdout } = await run(pm2, ['jlist'], { cwd: root, env: env() });
      const a = (JSON.parse(stdout) as any[]).find((x) => x.name === 'crazy-trade-bot');
      return a && a.pm2_env.exit_code === 2 ? a : null;
    }, 20_000, 250);
    // Seven times the first backoff delay (200 ms, then 300, 450 …): pm2 would have restarted it
    // within 200 ms of the exit, and restart_time counts a restart as it is made.
    await new Promise((r) => setTimeout(r, 1_500));
    const { stdout } = await run(pm2, ['jlist'], { cwd: root, env: env() });
    const after = (JSON.parse(stdout) as any[]).find((x) => x.name === 'crazy-trade-bot');
    expect(after.pm2_env.restart_time).toBe(0);
    expect(after.pid ?? 0).toBe(0);
    expect(app.pm2_env.exp_backoff_restart_delay).toBe(200);
    const errLog = readFileSync(join(home, '.pm2', 'logs', 'crazy-trade-bot-error.log'), 'utf8');
    expect(errLog).toContain(`crazy-trade: cannot open database at ${join(notADir, 'demo.db')}`);
  }, 60_000);

  it('restarts a crashing bot with a growing delay', async () => {
    await run(pm2, ['delete', 'all'], { cwd: root, env: env() }).catch(() => undefined);
    const pm2Log = join(home, '.pm2', 'pm2.log');
    const before = existsSync(pm2Log) ? readFileSync(pm2Log, 'utf8').length : 0;
    // SIGKILLs itself at its first stop (demo fills arrive within seconds): a crash loop.
    await run(pm2, ['start', 'ecosystem.config.cjs'], { cwd: root, env: { ...env(), CT_CRASH_AT: 'after_intent_commit' } });
    const delays = await eventually(async () => {
      const text = readFileSync(pm2Log, 'utf8').slice(before);
      const found = [...text.matchAll(/crazy-trade-bot:\d+\] will restart in (\d+)ms/g)].map((m) => Number(m[1]));
      return found.length >= 3 ? found : null;
    }, 45_000, 500);
    await run(pm2, ['delete', 'all'], { cwd: root, env: env() });
    expect(delays.slice(0, 3)).toEqual([200, 300, 450]);
  }, 60_000);
});

