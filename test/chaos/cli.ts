import { runChaos } from './harness.js';
import { runFailoverChaos } from './failover.js';

/**
 * `npm run chaos -- --kills 200 [--seed N] [--session-every N]`: the full chaos run; figures as JSON on
 * stdout. `--session-every N` closes the simulated session at every Nth kill (default 25; 0 = never).
 *
 * `npm run chaos -- --failover [--instances 2|3] [--leader-timeout-s N] --kills 50 [--seed N]`: N
 * instances on a throwaway PostgreSQL cluster; `--kills` is the number of takeover rounds (the leader
 * SIGKILLed, or about one round in five SIGSTOPped past the leader timeout and resumed). Exits 2 when
 * no PostgreSQL is available.
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
const progress = (l: string) => process.stderr.write(`${l}\n`);
let figures: { violations: string[] };
if (args.includes('--failover')) {
  const instances = arg('instances', 3);
  if (instances !== 2 && instances !== 3) {
    process.stderr.write('--instances must be 2 or 3\n');
    process.exit(2);
  }
  const leaderTimeoutS = arg('leader-timeout-s', 3);
  if (leaderTimeoutS < 2) {
    process.stderr.write('--leader-timeout-s must be at least 2 (CT_LEADER_TIMEOUT_S)\n');
    process.exit(2);
  }
  const result = await runFailoverChaos({
    kills: arg('kills', 200),
    seed: arg('seed', 1),
    sessionEvery: arg('session-every', 25),
    instances,
    leaderTimeoutS,
    progress,
  });
  if ('skip' in result) {
    process.stderr.write(`chaos --failover: ${result.skip}\n`);
    process.exit(2);
  }
  figures = result;
} else {
  figures = await runChaos({
    kills: arg('kills', 200),
    seed: arg('seed', 1),
    sessionEvery: arg('session-every', 25),
    progress,
  });
}
process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
process.exit(figures.violations.length === 0 ? 0 : 1);
