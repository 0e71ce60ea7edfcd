import { pino, type Logger } from 'pino';
import { ConfigError, accountDbPath, loadConfig, type AccountConfig, type Config } from '../config.js';
import { REDACT_PATHS } from '../log.js';
import { StartupRefusal } from '../startup-refusal.js';
import type { Endpoints } from '../account.js';
import { buildPlan } from './build-plan.js';
import { startDemoAccount, type DemoAccount } from './demo-account.js';
import { planJson, planText } from './print-plan.js';
import type { AccountPlan } from './types.js';

/**
 * `npm run plan [-- --json] [-- --verbose]`: what a start with this configuration would do to the
 * account — the stops it would place, the open orders it would adopt, the positions it would leave
 * without a stop, the cooldowns it would start — worked out by running the start's own code
 * against a copy of the database and a broker that only answers reads (src/plan/build-plan.ts).
 * Sends no order request. Exits 0 with the plan; 2 for a configuration error or keys Alpaca
 * refuses (one line naming what to fix); 1 when the account cannot be read.
 */

const USAGE = 'usage: npm run plan [-- --json] [-- --verbose]';

function fail(message: string, code: number): never {
  process.stderr.write(`crazy-trade plan: ${message}\n`);
  process.exit(code);
}

/** Warnings kept for the error message; with --verbose every line also goes to stderr. */
function planLogger(verbose: boolean, level: string): { log: Logger; lastError: (event: string) => string | null } {
  const seen: Array<Record<string, unknown>> = [];
  const log = pino(
    { level: verbose ? level : 'warn', base: { app: 'crazy-trade-plan' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    {
      write(line: string) {
        if (verbose) process.stderr.write(line);
        try {
          seen.push(JSON.parse(line) as Record<string, unknown>);
          if (seen.length > 200) seen.shift();
        } catch {
          // not a JSON line
        }
      },
    },
  );
  const lastError = (event: string) => {
    const hit = [...seen].reverse().find((l) => l.event === event);
    return hit ? String(hit.err ?? hit.msg ?? '') : null;
  };
  return { log, lastError };
}

/** Only reads leave this process: any other request is stopped here (the broker client refuses them too). */
function readsOnly(): void {
  const real = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    if (method !== 'GET' && method !== 'HEAD') {
      const url = input instanceof Request ? input.url : String(input);
      return Promise.reject(new Error(`plan: ${method} ${new URL(url).pathname} not sent (reads only)`));
    }
    return real(input, init);
  };
}

function endpointsOf(a: AccountConfig): Endpoints {
  return { keyId: a.alpaca.keyId ?? '', secretKey: a.alpaca.secretKey ?? '', paper: a.alpaca.paper, apiUrl: a.alpaca.apiUrl, streamUrl: a.alpaca.streamUrl, dataUrl: a.alpaca.dataUrl };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const unknown = args.find((a) => !['--json', '--verbose', '--help', '-h'].includes(a));
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${USAGE}\nPrints what a start with this configuration would do (same variables as npm start), sending no order request.\n`);
    return;
  }
  if (unknown !== undefined) fail(`unknown argument ${unknown}; ${USAGE}`, 2);
  const json = args.includes('--json');

  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message, 2);
    throw err;
  }
  const { log, lastError } = planLogger(args.includes('--verbose'), config.logLevel);
  for (const warning of config.warnings) process.stderr.write(`crazy-trade plan: warning: ${warning}\n`);

  let demo: DemoAccount | null = null;
  const plans: AccountPlan[] = [];
  try {
    if (config.mode === 'demo') demo = await startDemoAccount();
    readsOnly();
    for (const account of config.accounts) {
      let endpoints = endpointsOf(account);
      const notes: string[] = [];
      if (demo) {
        endpoints = { ...endpoints, keyId: demo.keyId, secretKey: demo.secretKey, apiUrl: demo.sim.url, streamUrl: demo.sim.streamUrl, dataUrl: demo.sim.dataUrl };
        notes.push(demo.note);
      }
      try {
        plans.push(
          await buildPlan({
            config,
            account,
            endpoints,
            dbPath: accountDbPath(config.dbPath, account.name, config.accounts.length),
            log: config.accounts.length > 1 ? log.child({ account: account.name }) : log,
            notes,
            ...(demo ? { fresh: 'demo: `npm start` runs the demo on a fresh database each time, so this is a first start' } : {}),
          }),
        );
      } catch (err) {
        const where = config.accounts.length > 1 ? `account "${account.name}": ` : '';
        if (err instanceof StartupRefusal) throw new StartupRefusal(`${where}${err.message}`);
        const detail = /could not read the account’s fills/.test((err as Error).message) ? `${(err as Error).message}: ${lastError('reconcile_failed') ?? 'see --verbose'}` : (err as Error).message;
        throw new Error(`${where}${detail}`);
      }
    }
  } catch (err) {
    await demo?.sim.close();
    if (err instanceof StartupRefusal) fail(err.message, err.exitCode);
    fail(err instanceof Error ? err.message : String(err), 1);
  }
  await demo?.sim.close();
  process.stdout.write(json ? planJson(plans) : planText(plans));
  process.exit(0);
}

void main();
