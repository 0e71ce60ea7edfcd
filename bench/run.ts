import { benchCatchup } from './catchup.js';
import { benchFillToStop } from './fill-to-stop.js';
import { benchFillsApi } from './fills-api.js';
import { benchIngest } from './ingest.js';
import { benchRehydrate } from './rehydrate.js';

/**
 * `npm run bench`: every benchmark in turn, one JSON document on stdout (progress on stderr).
 * Targets (issue 8) are reported next to each figure; benchmarks measure, they do not fail.
 */
const only = process.argv.slice(2);
const benches: Record<string, () => Promise<unknown>> = {
  ingest: () => benchIngest(20_000),
  catchup_10k_missed_fills: () => benchCatchup(10_000),
  rehydrate_10k_actors: () => benchRehydrate(10_000),
  fill_to_stop_submitted: () => benchFillToStop(100, 650),
  fills_api_100k: () => benchFillsApi(100_000, 1000),
};
const results: Record<string, unknown> = { node: process.version, platform: `${process.platform}-${process.arch}`, at: new Date().toISOString() };
for (const [name, run] of Object.entries(benches)) {
  if (only.length && !only.includes(name)) continue;
  process.stderr.write(`bench ${name}…\n`);
  results[name] = await run();
}
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
