import { runChaos } from './harness.js';

/**
 * `npm run chaos -- --kills 200 [--seed N] [--session-every N]`: the full chaos run; figures as JSON on
 * stdout. `--session-every N` closes the simulated session at every Nth kill (default 25; 0 = never).
 */
const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 0) {
    process.stderr.write(`--${name} must be a non-negative integer\n`);
    process.exit(2);
  }
  return v;
};
const figures = await runChaos({
  kills: arg('kills', 200),
  seed: arg('seed', 1),
  sessionEvery: arg('session-every', 25),
  progress: (l) => process.stderr.write(`${l}\n`),
});
process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
process.exit(figures.violations.length === 0 ? 0 : 1);
