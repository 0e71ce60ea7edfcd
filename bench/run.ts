import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { benchCatchup } from './catchup.js';
import { benchCatchupProtect } from './catchup-protect.js';
import { benchFillToStop } from './fill-to-stop.js';
import { benchFillsApi } from './fills-api.js';
import { benchIdle } from './idle.js';
import { benchIngest } from './ingest.js';
import { benchRehydrate } from './rehydrate.js';

/**
 * `npm run bench [-- name …]`: every benchmark, each in a fresh process (one run's heap and
 * timers must not tax the next, as a restart would not), one JSON document on stdout.
 * Targets (issue 8; rehydration and fill → stop: issue 22 item 18) are reported next to each figure; benchmarks measure, they do not fail.
 * `*_pg` runs its twin on PostgreSQL (a throwaway cluster, test/support/pg-cluster.ts, or
 * CT_TEST_PG_URL); each figure says its `store`, a _pg one without PostgreSQL says `skipped`.
 * When both ran, a _pg result also carries `ratio_to_sqlite_run`: each of its times and rates over its twin's.
 */
const benches: Record<string, () => Promise<unknown>> = {
  ingest: () => benchIngest(20_000),
  ingest_pg: () => benchIngest(20_000, 'postgres'),
  catchup_10k_missed_fills: () => benchCatchup(10_000),
  catchup_10k_missed_fills_pg: () => benchCatchup(10_000, 'postgres'),
  catchup_protect_10k_fills_1k_entries: () => benchCatchupProtect(1000, 10),
  catchup_protect_10k_fills_1k_entries_pg: () => benchCatchupProtect(1000, 10, 'postgres'),
  rehydrate_10k_actors: () => benchRehydrate(10_000),
  rehydrate_10k_actors_pg: () => benchRehydrate(10_000, 'postgres'),
  fill_to_stop_submitted: () => benchFillToStop(100, 650),
  fill_to_stop_submitted_pg: () => benchFillToStop(100, 650, 'postgres'),
  fills_api_100k: () => benchFillsApi(100_000, 1000),
  fills_api_100k_pg: () => benchFillsApi(100_000, 1000, 'postgres'),
  idle_requests_per_min: () => benchIdle(130),
};

const [mode, name] = process.argv.slice(2);
if (mode === '--one' && name) {
  const run = benches[name];
  if (!run) throw new Error(`no benchmark ${name}`);
  process.stdout.write(JSON.stringify(await run()));
} else {
  const only = process.argv.slice(2);
  const results: Record<string, unknown> = { node: process.version, platform: `${process.platform}-${process.arch}`, at: new Date().toISOString() };
  for (const bench of Object.keys(benches)) {
    if (only.length && !only.includes(bench)) continue;
    process.stderr.write(`bench ${bench}…\n`);
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--expose-gc', 'bench/run.ts', '--one', bench], { maxBuffer: 1 << 20 });
    results[bench] = JSON.parse(stdout);
  }
  // Each PostgreSQL figure beside its SQLite twin's, as pg / sqlite: above 1 is slower for a time, faster for a rate.
  for (const [name, pg] of Object.entries(results)) {
    const twin = name.endsWith('_pg') ? results[name.slice(0, -3)] : undefined;
    if (!twin || typeof pg !== 'object' || typeof twin !== 'object') continue;
    const ratios: Record<string, number> = {};
    for (const [key, value] of Object.entries(pg as Record<string, unknown>)) {
      const base = (twin as Record<string, unknown>)[key];
      if (typeof value === 'number' && typeof base === 'number' && base > 0 && /(_ms|_per_s|^ms)$/.test(key)) ratios[key] = Number((value / base).toFixed(3));
    }
    (pg as Record<string, unknown>).ratio_to_sqlite_run = ratios;
  }
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}
