import { benchCatchup } from './catchup.js';
import { benchFillToStop } from './fill-to-stop.js';

/** `npm run bench`: every benchmark, one JSON document on stdout. */
const results: Record<string, unknown> = {
  node: process.version,
  at: new Date().toISOString(),
  catchup_10k_missed_fills: await benchCatchup(10_000),
  fill_to_stop_submitted: await benchFillToStop(100, 650),
};
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
