/**
 * A `git clone` of the committed HEAD, with nothing beside it, passes `npm ci && npm test`, and with
 * no browser available (CT_CHROMIUM=/nonexistent/chromium) the dashboard test is skipped, not failed.
 *
 * Slow (a full install and test run), so it runs only when CT_FRESH_CLONE_TEST=1:
 *   CT_FRESH_CLONE_TEST=1 npx vitest run test/fresh-clone.test.ts
 * Uncommitted work is not part of the clone: this checks what a person cloning the repository gets.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NO_CHROMIUM_MESSAGE } from './support/chromium.js';

const ENABLED = process.env.CT_FRESH_CLONE_TEST === '1';
if (!ENABLED) console.warn('fresh-clone.test.ts skipped: set CT_FRESH_CLONE_TEST=1 to clone HEAD into a temp dir and run npm ci && npm test there');

const TIMEOUT_MS = 20 * 60_000;
/** The run's log, kept after the temp dir is removed (overwritten by the next run) so a person can read it. */
const KEPT_LOG = join(tmpdir(), 'crazy-trade-fresh-clone.log');

let tmp: string | undefined;

afterAll(() => {
  if (!tmp) return;
  const log = join(tmp, 'fresh-clone.log');
  if (existsSync(log)) copyFileSync(log, KEPT_LOG);
  rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
}, 120_000);

/** What the commands in the clone see: this environment minus anything that would change what they do. */
function cloneEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    // The outer vitest's markers (VITEST, VITEST_POOL_ID, TEST, NODE_ENV=test, ...) would leak into the inner run.
    if (key.startsWith('VITEST') || key === 'TEST' || key === 'NODE_ENV') delete env[key];
  }
  delete env.CT_FRESH_CLONE_TEST; // no recursion
  delete env.CT_REQUIRE_BROWSER;
  delete env.CT_FIXTURES_DIR;
  delete env.CI;
  env.CT_CHROMIUM = '/nonexistent/chromium';
  return env;
}

/** Runs a command (no shell), appending its output to the log; resolves with its exit code. */
function run(log: WriteStream, cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<number> {
  log.write(`\n$ ${[cmd, ...args].join(' ')}   (in ${cwd})\n`);
  const started = Date.now();
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (b: Buffer) => log.write(b));
    child.stderr.on('data', (b: Buffer) => log.write(b));
    child.on('error', fail);
    child.on('close', (code, signal) => {
      log.write(`\n[exit ${code ?? signal} after ${((Date.now() - started) / 1000).toFixed(0)} s]\n`);
      done(code ?? 1);
    });
  });
}

function tail(path: string, lines = 80): string {
  return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
}

interface JsonReport {
  numFailedTests: number;
  numFailedTestSuites: number;
  testResults: Array<{ name: string; status: string; message: string; assertionResults: Array<{ fullName: string; status: string }> }>;
}

describe.skipIf(!ENABLED)('a fresh clone with nothing beside it', () => {
  it('passes npm ci && npm test, with the dashboard test skipped for want of a browser', async () => {
    tmp = mkdtempSync(join(tmpdir(), 'ct-fresh-clone-'));
    const clone = join(tmp, 'crazy-trade');
    const logPath = join(tmp, 'fresh-clone.log');
    const reportPath = join(tmp, 'vitest-report.json');
    const log = createWriteStream(logPath);
    const env = cloneEnv();
    const step = async (cmd: string, args: string[], cwd: string): Promise<void> => {
      const started = Date.now();
      const code = await run(log, cmd, args, cwd, env);
      console.log(`fresh clone: \`${[cmd, ...args].join(' ')}\` exited ${code} after ${((Date.now() - started) / 1000).toFixed(0)} s`);
      if (code !== 0) {
        await new Promise<void>((r) => log.end(r));
        throw new Error(`\`${[cmd, ...args].join(' ')}\` exited ${code}; full log in ${KEPT_LOG}, last lines:\n${tail(logPath)}`);
      }
    };
    try {
      await step('git', ['clone', '--quiet', '--no-hardlinks', process.cwd(), clone], tmp);
      // Nothing beside the clone: no ../shared (fixtures, design notes) to lean on.
      expect(existsSync(resolve(clone, '../shared'))).toBe(false);
      await step('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], clone);
      // npm test is `npm run typecheck && vitest run`; the extra arguments reach vitest: the usual
      // console output plus a JSON report to check which tests ran.
      await step('npm', ['test', '--', '--reporter=default', '--reporter=json', `--outputFile.json=${reportPath}`], clone);
    } finally {
      if (!log.writableEnded) await new Promise<void>((r) => log.end(r));
    }

    const output = readFileSync(logPath, 'utf8');
    const report = JSON.parse(readFileSync(reportPath, 'utf8')) as JsonReport;
    const failure = `full log in ${KEPT_LOG}, last lines:\n${tail(logPath)}`;
    expect(report.numFailedTests, failure).toBe(0);
    expect(report.numFailedTestSuites, failure).toBe(0);
    expect(report.testResults.filter((r) => r.status !== 'passed').map((r) => `${r.name}: ${r.message}`), failure).toEqual([]);
    const dashboard = report.testResults.find((r) => r.name.endsWith('/test/dashboard.test.ts'));
    expect(dashboard, `dashboard.test.ts is not in the report; ${failure}`).toBeDefined();
    expect(dashboard!.assertionResults.length).toBeGreaterThan(0);
    expect(dashboard!.assertionResults.map((a) => a.status), failure).toEqual(dashboard!.assertionResults.map(() => 'skipped'));
    expect(output, failure).toContain(`dashboard.test.ts skipped: ${NO_CHROMIUM_MESSAGE}`);
    // Everything else ran: the only skipped files are the dashboard and this test itself.
    const skippedFiles = report.testResults
      .filter((r) => r.assertionResults.length > 0 && r.assertionResults.every((a) => a.status === 'skipped'))
      .map((r) => r.name.slice(clone.length + 1))
      .sort();
    expect(skippedFiles, failure).toEqual(['test/dashboard.test.ts', 'test/fresh-clone.test.ts']);
  }, TIMEOUT_MS);
});
