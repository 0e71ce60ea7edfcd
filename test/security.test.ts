import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { eventually, startBot, type BotProcess } from './support/bot-process.js';
import { simPost } from './support/sim-traffic.js';

const KEY = 'PKSECRETKEYID7731';
const SECRET = 'sEcReTvAlUe-9f8e7d6c5b4a';
const TOKEN = 'api-token-5512-very-private';
const dir = mkdtempSync(join(tmpdir(), 'ct-sec-'));
let sim: Simulator | undefined;
const bots: BotProcess[] = [];
afterAll(async () => {
  for (const b of bots) if (b.proc.exitCode === null && b.proc.signalCode === null) b.proc.kill('SIGKILL');
  await Promise.all(bots.map((b) => b.exited));
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('secrets and network binding', () => {
  it('never writes the key, the secret or the API token to its logs, even at trace level', async () => {
    sim = await startSimulator({ seed: 81, keyId: KEY, secretKey: SECRET });
    const b = startBot({
      APCA_API_KEY_ID: KEY,
      APCA_API_SECRET_KEY: SECRET,
      ALPACA_API_URL: sim.url,
      ALPACA_STREAM_URL: sim.streamUrl,
      ALPACA_DATA_URL: sim.dataUrl,
      CT_DB_PATH: join(dir, 'sec.db'),
      CT_API_PORT: '0',
      CT_API_TOKEN: TOKEN,
      CT_LOG_LEVEL: 'trace',
    });
    bots.push(b);
    const url = await b.apiUrl();
    expect(new URL(url).hostname).toBe('127.0.0.1');
    await b.waitFor((l) => l.event === 'reconcile_done');
    // Exercise the paths that handle credentials: REST, the stream's auth frame, stops, the API.
    const entry = await simPost(sim, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '1', type: 'market' });
    await b.waitFor((l) => l.event === 'stop_placed' && l.entry_order_id === entry.id, 15_000);
    expect((await fetch(`${url}/health`)).status).toBe(401);
    expect((await fetch(`${url}/health`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    await eventually(async () => b.lines.length > 10);
    b.proc.kill('SIGTERM');
    await b.exited;
    const everything = b.lines.map((l) => JSON.stringify(l)).join('\n') + b.stderr();
    expect(everything.length).toBeGreaterThan(1000);
    for (const secret of [KEY, SECRET, TOKEN]) expect(everything).not.toContain(secret);
  }, 45_000);

  it('refuses to expose the API on a non-loopback host without a token', async () => {
    const b = startBot({ CT_API_HOST: '0.0.0.0', CT_DB_PATH: join(dir, 'x.db') });
    bots.push(b);
    const exit = await b.exited;
    expect(exit.code).toBe(2);
    expect(b.stderr()).toMatch(/CT_API_HOST/);
  });
});
