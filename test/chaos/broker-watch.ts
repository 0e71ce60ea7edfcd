import { coverOf, type Book, type CoverSample, type CoverageRules, type WashRefusals } from './coverage.js';
import { parseStopId } from './broker-terms.js';

/**
 * What the chaos checker reads from the simulator while a run goes on: its book every `everyMs`
 * (GET /_sim/book, turned into coverage samples at once) and its request log (GET /_sim/requests).
 * Both are /_sim routes: never faulted, not counted in the API's stats.
 */

/** One entry of GET /_sim/requests (src/sim/request-log.ts). */
export interface LoggedRequest {
  seq: number;
  at: number;
  method: string;
  path: string;
  status: number;
  client_order_id: string | null;
  symbol: string | null;
  source: string | null;
  error: string | null;
}

/** A request that asks the broker to change an order: place, replace or cancel (one or all). */
export const isOrderWrite = (r: LoggedRequest): boolean => r.method !== 'GET' && /^\/v2\/orders(\/|$)/.test(r.path);

/** The simulator's request log, read page by page as it grows; `gaps` counts entries dropped before they were read. */
export function requestLogReader(url: string) {
  const entries: LoggedRequest[] = [];
  let after = 0;
  let gaps = 0;
  return {
    entries,
    gaps: () => gaps,
    /** Reads whatever was logged since the last call. */
    async refresh(): Promise<LoggedRequest[]> {
      for (;;) {
        const res = await fetch(`${url}/_sim/requests?after=${after}&limit=10000`);
        if (res.status !== 200) throw new Error(`/_sim/requests → ${res.status}`);
        const page = (await res.json()) as { first_seq: number; next_seq: number; entries: LoggedRequest[] };
        if (page.first_seq > after + 1) gaps += page.first_seq - after - 1;
        entries.push(...page.entries);
        if (page.entries.length === 0) return entries;
        after = page.entries[page.entries.length - 1]!.seq;
      }
    },
  };
}

export type RequestLogReader = ReturnType<typeof requestLogReader>;

/** When the broker refused a stop of ours as a wash trade, per symbol (no slash). */
export function washRefusals(log: readonly LoggedRequest[]): WashRefusals {
  const out = new Map<string, number[]>();
  for (const r of log) {
    if (r.method !== 'POST' || r.path !== '/v2/orders' || r.status !== 403 || !r.symbol) continue;
    if (!r.client_order_id || !parseStopId(r.client_order_id) || !/wash trade/i.test(r.error ?? '')) continue;
    const k = r.symbol.replace('/', '');
    out.set(k, [...(out.get(k) ?? []), r.at]);
  }
  return out;
}

export async function readBook(url: string): Promise<Book> {
  const res = await fetch(`${url}/_sim/book`);
  if (res.status !== 200) throw new Error(`/_sim/book → ${res.status}`);
  return (await res.json()) as Book;
}

export interface BookSampler {
  samples: CoverSample[];
  /** The longest time between two samples (the checker's resolution in practice). */
  maxGapMs(): number;
  stop(): Promise<void>;
}

/** Samples the book every `everyMs` until stopped; `up()` says whether a bot process was up then. */
export function sampleBook(url: string, up: () => number | null, rules: CoverageRules = {}, everyMs = 250): BookSampler {
  const samples: CoverSample[] = [];
  let stopped = false;
  let failures = 0;
  const loop = (async () => {
    while (!stopped) {
      const started = Date.now();
      try {
        const book = await readBook(url);
        const life = up();
        samples.push({ at: book.at, up: life !== null, life, covers: coverOf(book, rules) });
        failures = 0;
      } catch (err) {
        if (++failures >= 20) throw new Error(`the book could not be read 20 times in a row: ${String(err)}`);
      }
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - started))));
    }
  })();
  loop.catch(() => undefined); // surfaced by stop()
  return {
    samples,
    maxGapMs: () => samples.reduce((m, s, i) => (i === 0 ? m : Math.max(m, s.at - samples[i - 1]!.at)), 0),
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
