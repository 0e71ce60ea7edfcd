import { defineConfig } from 'vitest/config';
import { LongestFirst } from './test/support/sequencer.js';

/**
 * Two projects, chosen by file (never by tag, so a unit run starts no PostgreSQL, bot or browser):
 * - `unit`: no processes, no servers (machines, parsers, the simulator's engine, SQLite in memory).
 *   Files run in parallel threads: `npm run test:unit` is the inner loop. (test/dashboard-format.test.ts
 *   is pure but sets TZ, which a worker thread cannot: it runs with the forks.)
 * - `integration`: whatever starts a simulator, a bot, PostgreSQL, pm2 or Chromium. Files run in
 *   forks, three side by side (CT_TEST_WORKERS; 1 for a timing question): most of their time is
 *   spent waiting on a bot's loops, not computing, and their deadlines are written for a loaded
 *   machine. One PostgreSQL cluster serves the run (test/support/pg-global.ts); each file takes a
 *   fresh database on it. A fork keeps its imported modules from one file to the next
 *   (isolate: false; CT_TEST_ISOLATE=1 isolates): importing the simulator and the store again for
 *   each file cost a quarter of the group's CPU, and no test leaves module state behind (a test that
 *   sets process.env restores it). The group runs after the unit group (sequence.groupOrder).
 */
const UNIT = [
  'test/machines/**/*.test.ts',
  'test/activity-event-adapter.test.ts',
  'test/adapter.test.ts',
  'test/chaos-checker.test.ts',
  'test/config.test.ts',
  'test/coverage.test.ts',
  'test/execution-id.test.ts',
  'test/extended-hours-guard-decision.test.ts',
  'test/fuzz.test.ts',
  'test/grid.test.ts',
  'test/imports.test.ts',
  'test/ledger-books.test.ts',
  'test/option-events.test.ts',
  'test/poll-relax.test.ts',
  'test/poll-timer.test.ts',
  'test/position-summary.test.ts',
  'test/stop-worker.test.ts',
  'test/store.test.ts',
  'test/time.test.ts',
  'test/wash-crossing.test.ts',
  'test/sim/activities.test.ts',
  'test/sim/engine.test.ts',
  'test/sim/equity-rules.test.ts',
  'test/sim/event-stream.test.ts',
  'test/sim/executions-control.test.ts',
  'test/sim/orders.test.ts',
  'test/sim/outside-careful.test.ts',
  'test/sim/outside-fractional.test.ts',
  'test/sim/outside-trader.test.ts',
  'test/sim/schema.test.ts',
  'test/sim/session-rules.test.ts',
  'test/sim/session-time.test.ts',
];

/**
 * CT_TEST_REPORT=<file>: vitest's JSON report beside the usual output, which .ci/check-skips.mjs
 * reads to fail CI on any skip or todo it did not expect (.ci/expected-skips.txt).
 */
const report = process.env.CT_TEST_REPORT;

export default defineConfig({
  // xstate's development build throws on misuse that the production build lets slide.
  resolve: { conditions: ['development'] },
  ssr: { resolve: { conditions: ['development'] } },
  test: {
    ...(report ? { reporters: ['default', 'json'], outputFile: { json: report } } : {}),
    sequence: { sequencer: LongestFirst },
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT, pool: 'threads', sequence: { groupOrder: 0 } } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: UNIT,
          pool: 'forks',
          isolate: process.env.CT_TEST_ISOLATE === '1',
          maxWorkers: Number(process.env.CT_TEST_WORKERS ?? 3),
          globalSetup: ['test/support/pg-global.ts'],
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
