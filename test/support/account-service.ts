import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import type { Simulator } from '../../src/sim/index.js';
import { openDatabase, type Database } from '../../src/store/database.js';
import { loadConfig } from '../../src/config.js';
import { startAccount, type RunningAccount } from '../../src/account.js';
import { captureLogger } from './log-capture.js';

/** The whole account service (src/account.ts startAccount) in this process, its API on an ephemeral loopback port. */
export interface AccountService {
  db: Database;
  running: RunningAccount;
  url: string;
  /** Its log lines so far (and the check that it neither failed nor was refused). */
  lines: () => Array<Record<string, any>>;
  close(): Promise<void>;
}

/** Starts the service on the SQLite file `path` (kept across restarts) against `sim`, `env` over the test keys. */
export async function startAccountService(sim: Simulator, path: string, env: Record<string, string>): Promise<AccountService> {
  const cap = captureLogger('debug');
  const config = loadConfig({ APCA_API_KEY_ID: 'k', APCA_API_SECRET_KEY: 's', ALPACA_API_URL: sim.url, ALPACA_DATA_URL: sim.dataUrl, CT_DB_PATH: path, ...env });
  const db = await openDatabase(path);
  const failures: string[] = [];
  const running = await startAccount({
    config,
    account: config.accounts[0]!,
    endpoints: { keyId: 'k', secretKey: 's', paper: true, apiUrl: sim.url, dataUrl: sim.dataUrl },
    db,
    log: cap.log,
    inspector: null,
    onFatal: () => failures.push('fatal'),
    onRefused: (err) => failures.push(String(err)),
  });
  const server: Server = createServer(running.app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    db,
    running,
    url,
    lines: () => {
      expect(failures).toEqual([]);
      return cap.lines();
    },
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await running.close();
      await db.close();
    },
  };
}
