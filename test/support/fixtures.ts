import { readFileSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** test/fixtures/alpaca in this checkout; `CT_FIXTURES_DIR` (relative to the working directory) overrides it. */
export const FIXTURES_DIR = process.env.CT_FIXTURES_DIR
  ? resolve(process.cwd(), process.env.CT_FIXTURES_DIR)
  : resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/alpaca');

if (!existsSync(FIXTURES_DIR)) {
  throw new Error(`Alpaca fixtures not found at ${FIXTURES_DIR}; unset CT_FIXTURES_DIR to use test/fixtures/alpaca`);
}

export function fixture<T = any>(name: string): T {
  return JSON.parse(readFileSync(resolve(FIXTURES_DIR, name), 'utf8')) as T;
}
