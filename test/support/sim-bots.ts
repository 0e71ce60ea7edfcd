import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, onTestFailed } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { startBot, type BotProcess } from './bot-process.js';

/**
 * Process tests' common ground: in-process simulators with one key pair, bots as child processes
 * pointed at them, a temp folder, and a cleanup that kills whatever is left after the file.
 */
export function simsAndBots(name: string, keyId: string, secretKey: string, botDefaults: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), `ct-${name}-`));
  const sims: Simulator[] = [];
  const bots: BotProcess[] = [];
  afterAll(async () => {
    for (const b of bots) if (b.proc.exitCode === null && b.proc.signalCode === null) b.proc.kill('SIGKILL');
    await Promise.all(bots.map((b) => b.exited));
    await Promise.all(sims.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);
  return {
    dir,
    headers: { 'APCA-API-KEY-ID': keyId, 'APCA-API-SECRET-KEY': secretKey },
    async sim(seed: number): Promise<Simulator> {
      const s = await startSimulator({ seed, keyId, secretKey });
      sims.push(s);
      return s;
    },
    /** A bot on `s` with its database at `<dir>/<dbFile>`; not yet waited for. */
    bot(s: Simulator, dbFile: string, env: Record<string, string> = {}): BotProcess {
      const b = startBot({
        APCA_API_KEY_ID: keyId,
        APCA_API_SECRET_KEY: secretKey,
        ALPACA_API_URL: s.url,
        ALPACA_STREAM_URL: s.streamUrl,
        ALPACA_DATA_URL: s.dataUrl,
        CT_DB_PATH: join(dir, dbFile),
        CT_API_PORT: '0',
        CT_LOG_LEVEL: 'info',
        // Polls at CT_POLL_MS even with both streams up: these tests wait on reconcile passes at the
        // cadence they set (the relaxed poll is tested in test/poll-timer.test.ts and the event-stream tests).
        CT_POLL_RELAX: '1',
        ...botDefaults,
        ...env,
      });
      bots.push(b);
      // A failed test shows what its bots said last (a deadline missed on a loaded machine is
      // otherwise a bare timeout).
      try {
        onTestFailed(() => {
          const tail = b.lines.slice(-40).map((l) => JSON.stringify(l)).join('\n');
          console.error(`--- last log lines of the bot on ${dbFile} ---\n${tail}\n--- stderr ---\n${b.stderr().slice(-2000)}`);
        });
      } catch {
        // started outside a test (a beforeAll): nothing to attach to
      }
      return b;
    },
  };
}
