import { defineConfig } from 'vitest/config';

/**
 * Two projects, chosen by file (never by tag, so a unit run starts no PostgreSQL, bot or browser):
 * - `unit`: no processes, no servers (machines, parsers, the simulator's engine, SQLite in memory).
 *   Files run in parallel threads: `npm run test:unit` is the inner loop. (test/dashboard-format.test.ts
 *   is pure but sets TZ, which a worker thread cannot: it runs with the forks.)
 * - `integration`: whatever starts a simulator, a bot, PostgreSQL, pm2 or Chromium. Files run one
 *   at a time in forks: they measure timing-sensitive behaviour, and two of them racing on a
 *   2-core machine only measure the race. It runs after the unit group (sequence.groupOrder).
 */
const UNIT = [
  'test/machines/**/*.test.ts',
  'test/adapter.test.ts',
  'test/chaos-checker.test.ts',
  'test/config.test.ts',
  'test/coverage.test.ts',
  'test/extended-hours-guard-decision.test.ts',
  'test/fuzz.test.ts',
  'test/grid.test.ts',
  'test/imports.test.ts',
  'test/ledger-books.test.ts',
  'test/position-summary.test.ts',
  'test/stop-worker.test.ts',
  'test/store.test.ts',
  'test/time.test.ts',
  'test/wash-crossing.test.ts',
  'test/sim/activities.test.ts',
  'test/sim/engine.test.ts',
  'test/sim/equity-rules.test.ts',
  'test/sim/orders.test.ts',
  'test/sim/outside-careful.test.ts',
  'test/sim/outside-fractional.test.ts',
  'test/sim/outside-trader.test.ts',
  'test/sim/schema.test.ts',
  'test/sim/session-rules.test.ts',
  'test/sim/session-time.test.ts',
];

export default defineConfig({
  // xstate's development build throws on misuse that the production build lets slide.
  resolve: { conditions: ['development'] },
  ssr: { resolve: { conditions: ['development'] } },
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT, pool: 'threads', sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'integration', include: ['test/**/*.test.ts'], exclude: UNIT, pool: 'forks', fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
