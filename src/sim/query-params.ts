/** Helpers to read query-string parameters (first value of repeated keys, comma lists). */
import { parseTimeParam } from './clock.js';
import { invalid } from './errors.js';

export type Query = Record<string, string | string[] | undefined>;

export function qs(query: Query, name: string): string | undefined {
  const v = query[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}

/** Comma-separated and/or repeated parameter as a list of non-empty items. */
export function qList(query: Query, name: string): string[] | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  const items = (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  return items.length > 0 ? items : undefined;
}

export function qTime(query: Query, name: string): number | undefined {
  const s = qs(query, name);
  if (s === undefined) return undefined;
  const micros = parseTimeParam(s);
  if (micros === null) throw invalid(`invalid ${name}: ${s}`);
  return micros;
}

export function qInt(query: Query, name: string): number | undefined {
  const s = qs(query, name);
  if (s === undefined) return undefined;
  if (!/^-?\d+$/.test(s.trim())) throw invalid(`invalid ${name}: ${s}`);
  return Number(s);
}

export function qEnum<T extends string>(query: Query, name: string, allowed: readonly T[]): T | undefined {
  const s = qs(query, name);
  if (s === undefined) return undefined;
  const found = allowed.find((a) => a === s);
  if (!found) throw invalid(`invalid ${name}: ${s}`);
  return found;
}

export function qBool(query: Query, name: string): boolean | undefined {
  const s = qs(query, name);
  if (s === undefined) return undefined;
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  throw invalid(`invalid ${name}: ${s}`);
}
