#!/usr/bin/env node
// CI's guard against a test that quietly stops running: reads vitest's JSON reports (CT_TEST_REPORT)
// and fails on any test that neither passed nor failed (skipped, todo, pending) unless
// .ci/expected-skips.txt names it, and on any line there that no longer matches a skip (so the list
// cannot go stale). A line is `<file relative to the repo> :: <full test name>`; # starts a comment.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const reportPaths = process.argv.slice(2);
if (reportPaths.length === 0) {
  console.error('usage: node .ci/check-skips.mjs <vitest json report>...');
  process.exit(2);
}
const testResults = reportPaths.flatMap((p) => JSON.parse(readFileSync(p, 'utf8')).testResults);
const expectedPath = new URL('./expected-skips.txt', import.meta.url);
const expected = new Set(
  readFileSync(expectedPath, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#')),
);

const skipped = [];
for (const file of testResults) {
  const name = relative(process.cwd(), file.name);
  for (const t of file.assertionResults) {
    if (t.status === 'passed' || t.status === 'failed') continue;
    skipped.push({ key: `${name} :: ${t.fullName}`, status: t.status });
  }
}
const unexpected = skipped.filter((s) => !expected.has(s.key));
const seen = new Set(skipped.map((s) => s.key));
const stale = [...expected].filter((k) => !seen.has(k));
for (const s of unexpected) console.error(`ci: unexpected ${s.status} test: ${s.key}`);
for (const k of stale) console.error(`ci: .ci/expected-skips.txt names a test that was not skipped: ${k}`);
if (unexpected.length || stale.length) process.exit(1);
console.log(`ci: ${skipped.length} skipped or todo test(s), each expected (.ci/expected-skips.txt)`);
