import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { captureLogger } from './support/log-capture.js';
import { entryArgs } from './support/entry.js';

describe('logger', () => {
  it('redacts keys, secrets and tokens wherever they appear', () => {
    const { log, text, lines } = captureLogger();
    log.info({ keyId: 'PKSECRETKEYID', secretKey: 'SUPERSECRET1' }, 'top level');
    log.info({ config: { alpaca: { keyId: 'PKSECRETKEYID', secretKey: 'SUPERSECRET1' }, api: { token: 'TOKEN123456' } } }, 'config');
    log.info({ req: { headers: { 'apca-api-key-id': 'PKSECRETKEYID', 'apca-api-secret-key': 'SUPERSECRET1', authorization: 'Bearer TOKEN123456' } } }, 'headers');
    log.info({ data: { key_id: 'PKSECRETKEYID', secret_key: 'SUPERSECRET1' } }, 'stream auth frame');
    log.info({ config: { notify: { webhook: { url: 'https://hooks.example/TOKEN123456', secret: 'SUPERSECRET1' }, telegram: { botToken: 'TOKEN123456', chatId: '42' } } } }, 'notify config');
    log.info({ telegram: { botToken: 'TOKEN123456' }, webhook: { secret: 'SUPERSECRET1' } }, 'channels');
    expect(lines()).toHaveLength(6);
    for (const secret of ['PKSECRETKEYID', 'SUPERSECRET1', 'TOKEN123456']) expect(text()).not.toContain(secret);
    expect(text()).toContain('[redacted]');
  });
});

describe('logs for people', () => {
  it('a pretty line is the time, the level, what happened and its fields on one line, still redacted', () => {
    const chunks: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        chunks.push(String(chunk));
        cb();
      },
    });
    const log = createLogger('info', sink, { pretty: true });
    log.info({ event: 'stop_placed', symbol: 'AAPL', qty: '2', secretKey: 'SUPERSECRET1' }, 'protective stop placed for AAPL');
    log.debug({ event: 'fill_already_processed' }, 'not at info');
    const lines = chunks.join('').trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: protective stop placed for AAPL \{"event":"stop_placed","symbol":"AAPL","qty":"2","secretKey":"\[redacted\]"\}$/);
  });

  it('the bot on a terminal writes pretty lines; off a terminal, JSON (every other test reads those)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ct-tty-'));
    // util-linux `script` gives the bot a pseudo-terminal for stdout, as a person's shell would.
    const cmd = [process.execPath, ...entryArgs('src/main.ts')].join(' ');
    const proc = spawn('script', ['-qfec', cmd, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CT_DB_PATH: join(dir, 'bot.db'), CT_API_PORT: '0', TERM: 'dumb' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no status API line within 30 s:\n${out}`)), 30_000);
        proc.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          if (/status API on http/.test(out)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    } finally {
      process.kill(-proc.pid!, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
    // eslint-disable-next-line no-control-regex
    const plain = out.replace(/\x1b\[[0-9;]*m/g, '').split(/\r?\n/).filter((l) => l.trim());
    expect(plain.some((l) => /^\[\d{2}:\d{2}:\d{2}\.\d{3}\] WARN: demo mode: the embedded Alpaca simulator/.test(l))).toBe(true);
    expect(plain.some((l) => l.startsWith('{'))).toBe(false);
  }, 40_000);
});
