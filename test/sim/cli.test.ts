import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/sim/index.js';
import { entryArgs } from '../support/entry.js';

describe('cli', () => {
  it('prints sim_listening, serves, and exits cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [...entryArgs('src/sim/cli.ts'), '--port', '0', '--seed', '1', '--outside-trader'], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout });
    const [first] = (await once(lines, 'line')) as [string];
    const msg = JSON.parse(first) as { event: string; url: string; stream_url: string };
    expect(msg.event).toBe('sim_listening');
    expect(msg.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(msg.stream_url).toBe(`${msg.url.replace('http', 'ws')}/stream`);
    const res = await fetch(`${msg.url}/v2/clock`, { headers: { 'APCA-API-KEY-ID': 'k', 'APCA-API-SECRET-KEY': 's' } });
    expect(res.status).toBe(200);
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
  });

  it('refuses a non-loopback host', async () => {
    await expect(startSimulator({ host: '0.0.0.0' })).rejects.toThrow(/loopback/);
  });
});
