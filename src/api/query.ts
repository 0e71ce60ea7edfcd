import { HttpError } from './errors.js';
import { canonicalTime } from '../time.js';
import { canonicalSymbol } from '../domain/symbols.js';

/** Query-string readers for the status API: a bad value is a 400 naming the parameter. */

type Query = Record<string, string | string[] | undefined>;

function one(q: Query, name: string): string | undefined {
  const v = q[name];
  if (Array.isArray(v)) throw new HttpError(400, 'bad_request', `${name} given more than once`);
  return v === '' ? undefined : v;
}

/** ?symbol= as the ledger names it: a legacy crypto symbol (`BTCUSD`) is its pair (`BTC/USD`), as on the control routes. */
export function symbolParam(q: Query): string | undefined {
  const v = one(q, 'symbol');
  if (v !== undefined && !/^[A-Za-z0-9./-]{1,32}$/.test(v)) throw new HttpError(400, 'bad_request', 'symbol must be 1-32 letters, digits, ".", "/" or "-"');
  return v === undefined ? undefined : canonicalSymbol(v);
}

/** An RFC 3339 timestamp (with its zone), in the canonical form stored times use. */
export function timeParam(q: Query, name: string): string | undefined {
  const v = one(q, name);
  if (v === undefined) return undefined;
  const t = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i.test(v) ? canonicalTime(v) : null;
  if (t === null) throw new HttpError(400, 'bad_request', `${name} must be an RFC 3339 timestamp with a zone, e.g. 2026-01-02T15:04:05Z`);
  return t;
}

export function intParam(q: Query, name: string, fallback: number, min: number, max: number): number {
  const v = one(q, name);
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new HttpError(400, 'bad_request', `${name} must be an integer from ${min} to ${max}`);
  return Number(v);
}

/** Opaque page cursors: base64url of the last row id served. */
export function encodeCursor(id: number): string {
  return Buffer.from(`f:${id}`).toString('base64url');
}

export function cursorParam(q: Query): number | undefined {
  const v = one(q, 'cursor');
  if (v === undefined) return undefined;
  const m = /^f:(\d{1,15})$/.exec(Buffer.from(v, 'base64url').toString());
  if (!m) throw new HttpError(400, 'bad_request', 'cursor is not one this API returned');
  return Number(m[1]);
}
