import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The longest integration files first, so three forks end together instead of one of them starting
 * a minute-long file when the others are done. vitest orders by the durations it cached on this
 * machine; a fresh clone (CI) has none, and falls back to this list, longest first as measured in
 * CI. A file not listed keeps vitest's order, after these.
 */
const LONGEST_FIRST = [
  'test/demo.test.ts',
  'test/protection-statuses.test.ts',
  'test/chaos.test.ts',
  'test/extended-hours-guard.test.ts',
  'test/failover.test.ts',
  'test/sync.test.ts',
  'test/alpaca-rules.test.ts',
  'test/protection.test.ts',
  'test/busy-account.test.ts',
  'test/dashboard.test.ts',
  'test/pm2.test.ts',
  'test/plan.test.ts',
  'test/crypto-fees.test.ts',
  'test/notify-process.test.ts',
  'test/unsafe-starts.test.ts',
  'test/store-safety.test.ts',
  'test/runtime/order-actors.test.ts',
  'test/protection-crash.test.ts',
  'test/accounts.test.ts',
  'test/stop-rearm.test.ts',
  'test/store-dialects.test.ts',
  'test/coverage-health.test.ts',
  'test/fill-changes-process.test.ts',
  'test/quiet-stops.test.ts',
  'test/resync-window.test.ts',
  'test/inspector.test.ts',
  'test/security.test.ts',
];

export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = LONGEST_FIRST.indexOf(relative(process.cwd(), f.moduleId));
      return i < 0 ? LONGEST_FIRST.length : i;
    };
    return sorted.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map(({ f }) => f);
  }
}
