import type { Compilable, CompiledQuery, Kysely } from 'kysely';
import type { Database } from './database.js';
import type { Schema } from './schema.js';

/**
 * Queries of a fixed shape on hot paths (an actor's commit runs several per fill), built with kysely
 * once per store and row count instead of once per call: building and compiling cost more than
 * SQLite takes to run them. The query is built with a placeholder for each value; each call binds
 * its values in the places the placeholders took. Only for shapes that do not depend on the values
 * (no IN-lists, no optional clauses).
 */

const MARK = '\u0000ct-slot:';

/** Where each parameter of the compiled query comes from: a row and a field, or a constant. */
type Source = { row: number; key: string } | { value: unknown };

interface Template {
  compiled: CompiledQuery;
  sources: Source[];
}

/** The placeholders a query is built from: each field reads as a unique marker string. */
function slots<P extends object>(row: number): P {
  return new Proxy({} as P, { get: (_, key) => `${MARK}${row}:${String(key)}` });
}

function template(compiled: CompiledQuery): Template {
  const sources = compiled.parameters.map((p): Source => {
    if (typeof p !== 'string' || !p.startsWith(MARK)) return { value: p };
    const [row, ...key] = p.slice(MARK.length).split(':');
    return { row: Number(row), key: key.join(':') };
  });
  return { compiled, sources };
}

function bind<R>(t: Template, rows: readonly object[]): Compilable<R> {
  const parameters = t.sources.map((s) => ('value' in s ? s.value : (rows[s.row] as Record<string, unknown>)[s.key]));
  const compiled = { ...t.compiled, parameters } as CompiledQuery<R>;
  return { compile: () => compiled };
}

/** A one-row query: `build` gets the placeholders of `P`; the result binds a `P` per call. */
export function prepared<P extends object, R = unknown>(build: (k: Kysely<Schema>, p: P) => Compilable<R>): (db: Database, values: P) => Compilable<R> {
  const cache = new WeakMap<Database, Template>();
  return (db, values) => {
    let t = cache.get(db);
    if (!t) cache.set(db, (t = template(build(db.kysely, slots<P>(0)).compile())));
    return bind<R>(t, [values]);
  };
}

/** A multi-row query (one statement for a batch): compiled once per store and number of rows. */
export function preparedRows<P extends object, R = unknown>(build: (k: Kysely<Schema>, rows: P[]) => Compilable<R>): (db: Database, rows: readonly P[]) => Compilable<R> {
  const cache = new WeakMap<Database, Map<number, Template>>();
  return (db, rows) => {
    let byCount = cache.get(db);
    if (!byCount) cache.set(db, (byCount = new Map()));
    let t = byCount.get(rows.length);
    if (!t) {
      t = template(build(db.kysely, rows.map((_, i) => slots<P>(i))).compile());
      // Batches come in a few sizes (a page is at most 100): the cache stays small.
      if (byCount.size < 128) byCount.set(rows.length, t);
    }
    return bind<R>(t, rows);
  };
}

/** The named fields of a placeholder row, as a plain object (an insert's values need its keys). */
export function pick<P extends object, K extends keyof P>(p: P, keys: readonly K[]): Pick<P, K> {
  const out = {} as Pick<P, K>;
  for (const k of keys) out[k] = p[k];
  return out;
}
