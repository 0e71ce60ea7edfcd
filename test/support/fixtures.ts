import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** ../shared/fixtures/alpaca beside the checkout (as laid out for developers and CI). */
export const FIXTURES_DIR = resolve(process.cwd(), process.env.CT_FIXTURES_DIR ?? '../shared/fixtures/alpaca');

if (!existsSync(FIXTURES_DIR)) {
  throw new Error(`Alpaca fixtures not found at ${FIXTURES_DIR}; set CT_FIXTURES_DIR`);
}

export function fixture<T = any>(name: string): T {
  return JSON.parse(readFileSync(resolve(FIXTURES_DIR, name), 'utf8')) as T;
}
