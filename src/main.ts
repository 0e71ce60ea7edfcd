import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, accountDbPath, loadConfig, type AccountConfig, type Config } from './config.js';
import { freshDemoDatabase } from './store/demo-database.js';
import { StartupRefusal } from './startup-refusal.js';
import { createLogger, type Logger } from './log.js';
import { openDatabase } from './store/database.js';
import { acquireProcessLock } from './store/process-lock.js';
import { startApiHost, type HostedAccount } from './api/host.js';
import { AccountSlot } from './api/account-slot.js';
import { bindRefusal } from './api/bind-refusal.js';
import { tokenFailures } from './api/auth.js';
import { armCrashPoint } from './runtime/crash-points.js';
import type { Inspector } from './inspect/inspector.js';
import type { Simulator } from './sim/index.js';
import { startAccount, type Endpoints, type RunningAccount } from './account.js';
import { startLedAccounts } from './led-accounts.js';

/**
 * The composition root: config → logger → the API host's port (bound first: a port in use refuses
 * the start before the broker hears from us; each account answers "starting" until it runs) →
 * (inspector) → (demo simulator) → each account (its store, then its runtime: src/account.ts; on
 * PostgreSQL once this instance leads it).
 */

interface Running {
  /** `reason`: what the `stopped` notification says (the signal). */
  close(reason?: string): Promise<void>;
}

/** faults: CT_DEMO_FAULTS, the full fault mix and a careless outside trader; else a careful one and no refusals. */
async function startDemoSimulator(log: Logger, faults: boolean): Promise<{ sim: Simulator; keyId: string; secretKey: string }> {
  const { startSimulator } = await import('./sim/index.js');
  const keyId = `DEMO${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretKey = randomBytes(24).toString('hex');
  const sim = await startSimulator({ port: 0, host: '127.0.0.1', outsideTrader: true, keyId, secretKey, demoFaults: faults });
  // Warn, not info: a live account expected here would be protected by nothing.
  log.warn(
    { event: 'demo_mode', sim_url: sim.url, demo_faults: faults },
    faults
      ? 'demo mode: the embedded Alpaca simulator with its full fault mix (CT_DEMO_FAULTS=1): refusals and alarms are expected; no real account is watched'
      : 'demo mode: the embedded Alpaca simulator, no real account is watched',
  );
  return { sim, keyId, secretKey };
}

/** Demo fills come from a fresh simulator each run, so they get a fresh database beside the real one. */
function demoDbPath(config: Config): string {
  return join(dirname(config.dbPath), 'demo.db');
}

/** Prints a refusal as one line on stderr and exits 2: the keys, the lock or the database say no. */
function exitRefused(log: Logger, err: StartupRefusal): never {
  log.fatal({ event: 'start_refused', reason: err.message }, err.message);
  process.stderr.write(`crazy-trade: ${err.message}\n`);
  process.exit(err.exitCode);
}

/** One account as the API host serves it. */
function hostedAlone(name: string, running: RunningAccount): HostedAccount {
  return { name, app: () => running.app, health: () => running.health(), leader: async () => null, role: () => 'leading' };
}

async function start(config: Config, log: Logger): Promise<Running> {
  const closers: Array<() => Promise<void> | void> = [];
  // Last opened, first closed; each closer runs once even if shutdown and a fatal error race.
  const closeAll = async () => {
    for (let close = closers.pop(); close; close = closers.pop()) {
      try {
        await close();
      } catch (err) {
        log.warn({ event: 'close_failed', err: String(err) }, 'error while closing');
      }
    }
  };
  const refuse = (err: StartupRefusal) => void closeAll().finally(() => exitRefused(log, err));
  let stopReason = 'error';
  const fatal = () => {
    // Running on with state that is not on disk would break every invariant: stop, let the
    // supervisor (pm2/systemd) restart us, and rehydrate from what did commit.
    process.exitCode = 1;
    stopReason = 'fatal error';
    void closeAll().finally(() => process.exit(1));
  };
  try {
    armCrashPoint(config.crashAt);
    let inspector: Inspector | null = null;
    // One budget of wrong tokens for the status API and the inspector's feed together.
    const failures = tokenFailures();
    const slots = config.accounts.map((a) => new AccountSlot(a.name));
    const api = await startApiHost({
      host: config.api.host,
      port: config.api.port,
      token: config.api.token,
      tokenName: config.api.tokenName,
      tokenFailures: failures,
      allowedHosts: config.api.allowedHosts,
      log,
      accounts: slots,
      limits: { maxConnections: config.api.maxConnections },
    }).catch((err: unknown) => {
      throw bindRefusal(err, { host: config.api.host, port: config.api.port, hostVar: 'CT_API_HOST', portVar: 'CT_API_PORT' }) ?? err;
    });
    closers.push(() => api.close());
    log.info({ event: 'api_bound', url: api.url }, `status API bound on ${api.url}; accounts answer "starting" until they run`);
    if (config.inspect.enabled) {
      // Loaded only when asked for; started before the actors so rehydrated ones are seen too.
      const { startInspector } = await import('./inspect/inspector.js');
      const started = await startInspector({ port: config.inspect.port, log, token: config.api.token, tokenFailures: failures }).catch((err: unknown) => {
        throw bindRefusal(err, { host: '127.0.0.1', port: config.inspect.port, hostVar: 'CT_INSPECT_PORT', portVar: 'CT_INSPECT_PORT' }) ?? err;
      });
      inspector = started;
      closers.push(() => started.close());
    }
    const endpointsOf = (a: AccountConfig): Endpoints => ({
      keyId: a.alpaca.keyId ?? '',
      secretKey: a.alpaca.secretKey ?? '',
      paper: a.alpaca.paper,
      apiUrl: a.alpaca.apiUrl,
      streamUrl: a.alpaca.streamUrl,
      dataUrl: a.alpaca.dataUrl,
    });
    const accountLog = (a: AccountConfig) => (config.accounts.length > 1 ? log.child({ account: a.name }) : log);

    if (config.mode === 'demo' || !config.dbUrl) {
      // SQLite: one process per database file, taken before anything else touches it.
      for (const account of config.accounts) {
        let endpoints = endpointsOf(account);
        let dbPath = accountDbPath(config.dbPath, account.name, config.accounts.length);
        const lock = acquireProcessLock(resolve(config.mode === 'demo' ? demoDbPath(config) : dbPath));
        closers.push(() => lock.release());
        if (config.mode === 'demo') {
          dbPath = lock.dbPath;
          // Locked first: another demo bot on this data directory keeps its live database. Only a
          // database the demo created is deleted; anything else at that path refuses the start.
          freshDemoDatabase(dbPath);
          const demo = await startDemoSimulator(log, config.demoFaults);
          closers.push(() => demo.sim.close());
          endpoints = { ...endpoints, keyId: demo.keyId, secretKey: demo.secretKey, apiUrl: demo.sim.url, streamUrl: demo.sim.streamUrl, dataUrl: demo.sim.dataUrl };
        }
        const db = await openDatabase(dbPath, { lock });
        closers.push(() => db.close());
        log.info({ event: 'store_opened', path: dbPath, account: account.name }, 'database ready');
        const acc = await startAccount({ config, account, endpoints, db, log: accountLog(account), inspector, onFatal: fatal, onRefused: refuse });

        closers.push(() => acc.close(stopReason));
        slots[config.accounts.indexOf(account)]!.serve(hostedAlone(account.name, acc));
      }
    } else {
      // PostgreSQL: each account is led by one instance at a time.
      const led = startLedAccounts({
        config: { ...config, dbUrl: config.dbUrl },
        log,
        logOf: accountLog,
        endpointsOf,
        inspector,
        onFatal: fatal,
        onRefused: refuse,
        closers,
        stopReason: () => stopReason,
      });
      led.forEach((hosted, i) => slots[i]!.serve(hosted));
    }

    log.info({ event: 'api_listening', url: api.url, mode: config.mode, accounts: config.accounts.map((a) => a.name) }, `status API on ${api.url}`);
    return {
      close: (reason) => {
        stopReason = reason ?? 'shutdown';
        return closeAll();
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`crazy-trade: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  for (const warning of config.warnings) log.warn({ event: 'config_warning' }, warning);
  process.on('uncaughtException', (err) => {
    log.fatal({ event: 'uncaught_exception', err }, 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    log.error({ event: 'unhandled_rejection', err }, 'unhandled promise rejection');
  });

  // Signals are handled from the first moment: one that arrives while starting waits for the start
  // to finish, then closes everything it opened (a start that fails exits on its own).
  const starting = start(config, log);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ event: 'shutdown', signal }, 'stopping');
    const running = await starting.catch(() => null);
    if (!running) return;
    await running.close(signal);
    log.info({ event: 'shutdown_complete' }, 'stopped cleanly');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  try {
    await starting;
  } catch (err) {
    if (err instanceof StartupRefusal) exitRefused(log, err);
    log.fatal({ event: 'start_failed', err }, `could not start: ${(err as Error).message}`);
    process.exit(1);
  }
}

void main();
