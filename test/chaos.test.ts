import { describe, expect, it } from 'vitest';
import { runChaos } from './chaos/harness.js';

describe('chaos (CI: 9 kills, to keep CI under 15 minutes; npm run chaos -- --kills 200 for the full run)', () => {
  it('after 9 random SIGKILLs under faults: no lost or doubled fill, one stop per entry, every position covered within twice the grace per bot life, one cooldown per exit', async () => {
    const figures = await runChaos({ kills: 9, seed: 7, maxUpMs: 2500, settleMs: 90_000 });
    console.info(`chaos figures: ${JSON.stringify(figures)}`);
    // Every other invariant as the full run judges it.
    expect(figures.violations.filter((v) => !v.startsWith('uncovered:'))).toEqual([]);
    // Coverage over time: this run's bots live at most 2.5 s and the last one starts cold beside the
    // test runner on 2 cores, so one life is held to twice the grace here; `npm run chaos` holds the
    // full run to the grace itself (a slower catch-up is still a violation there).
    const longest = Object.entries(figures.longest_uncovered as Record<string, { charged_s: number }>);
    expect(longest.filter(([, iv]) => iv.charged_s > 2 * figures.protect_grace_s)).toEqual([]);
    expect(figures.broker_fills).toBeGreaterThan(40);
    expect(figures.entries_protected).toBeGreaterThan(5);
    // Coverage over time was judged from samples of the broker's book, not vacuously.
    expect(figures.coverage_samples).toBeGreaterThan(50);
    expect(figures.coverage_sample_gap_max_ms).toBeLessThan(2000);
    expect(figures).toMatchObject({ lost_fills: 0, duplicate_fills: 0, vwap_mismatches: 0, duplicate_stops: 0, unprotected_positions: 0, duplicate_cooldowns: 0 });
  }, 300_000);
});
