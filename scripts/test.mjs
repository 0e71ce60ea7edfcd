#!/usr/bin/env node
// `npm test`: the typecheck (tsc -p tsconfig.test.json, which also emits the dist/ build the process
// tests start) side by side with the unit project, which needs no build; then, both passed, the
// integration project. The same checks as one after the other, about twenty seconds sooner on two
// cores. Extra arguments go to both vitest runs. CT_TEST_REPORT=<file> writes vitest's JSON report
// of each run, as <file> (integration) and <file>.unit.json (.ci/check-skips.mjs reads both).
import { spawn } from 'node:child_process';

const args = process.argv.slice(2);
const report = process.env.CT_TEST_REPORT;

function run(cmd, cmdArgs, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, cmdArgs, { stdio: 'inherit', env: { ...process.env, ...env } });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const [typecheck, unit] = await Promise.all([
  run(npx, ['tsc', '-p', 'tsconfig.test.json']),
  run(npx, ['vitest', 'run', '--project', 'unit', ...args], report ? { CT_TEST_REPORT: `${report}.unit.json` } : {}),
]);
if (typecheck !== 0) console.error('npm test: the typecheck failed (tsc -p tsconfig.test.json)');
if (typecheck !== 0 || unit !== 0) process.exit(1);
process.exit(await run(npx, ['vitest', 'run', '--project', 'integration', ...args]));
