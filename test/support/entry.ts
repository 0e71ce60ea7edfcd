import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * How a test starts one of the project's programs as a child process: from the build `npm test`
 * made a moment ago (`tsc -p tsconfig.test.json`: the typecheck, emitting into dist/), or, when
 * dist/ is missing or older than any source file (a test run by hand after an edit), through tsx.
 * The two run the same code; the build starts in about half the time, and a suite starts some
 * hundred processes.
 */
const SOURCES = ['src', 'machines'];
const fresh = new Map<string, boolean>();

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** True when dist/ holds a build at least as new as every source file under `root`. */
export function buildIsFresh(root = process.cwd()): boolean {
  const known = fresh.get(root);
  if (known !== undefined) return known;
  const stamp = join(root, 'dist/src/main.js');
  let ok = false;
  if (existsSync(stamp)) {
    const built = statSync(stamp).mtimeMs;
    ok = SOURCES.every((d) => !existsSync(join(root, d)) || newestSource(join(root, d)) <= built);
  }
  fresh.set(root, ok);
  return ok;
}

/** Node arguments that run `file` (a .ts path relative to the root, e.g. 'src/main.ts'). */
export function entryArgs(file: string, root = process.cwd()): string[] {
  if (process.env.CT_TEST_TSX !== '1' && buildIsFresh(root)) return [resolve(root, 'dist', file.replace(/\.ts$/, '.js'))];
  return ['--import', 'tsx', resolve(root, file)];
}
