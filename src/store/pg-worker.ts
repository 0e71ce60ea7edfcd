import type { MessagePort } from 'node:worker_threads';

/**
 * The PostgreSQL connection of one store, on a worker thread: the main thread posts a query and
 * blocks on a shared flag until the answer is back (src/store/pg-sync.ts), so the store keeps the
 * synchronous contract better-sqlite3 gives it (an actor's transition commits before it returns).
 * One connection, queries strictly in turn: a transaction's statements run on it in order.
 *
 * The worker's code is the CommonJS source below, started with `eval: true`: the same from
 * TypeScript sources (tsx, vitest) and from the compiled build, with no loader of its own to find.
 */
export interface PgWorkerData {
  /** require.resolve('pg') from here: the worker loads the same package. */
  pgPath: string;
  url: string;
  /** The account's schema: every unqualified table name resolves in it. */
  schema: string;
  applicationName: string;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  /** More `-c name=value` session settings (e.g. idle_in_transaction_session_timeout). */
  settings: Record<string, string>;
  /** Int32Array over a SharedArrayBuffer: [0] is set to 1 when an answer is posted. */
  flag: SharedArrayBuffer;
  replies: MessagePort;
}

export interface PgRequest {
  sql: string;
  params: unknown[];
  /** Part of an open transaction: on a lost connection it fails rather than run on a new one. */
  inTransaction: boolean;
  /**
   * Statements to run before this one, in order, in the same trip (a transaction's writes whose
   * results nobody reads, its BEGIN): the answer is this one's; the first that fails is the answer.
   */
  before?: Array<{ sql: string; params: unknown[] }>;
  /** Answer with every statement's rows (`results`, `before`'s then this one's), not only this one's. */
  all?: boolean;
  /** Rows as arrays of the selected columns (pg's rowMode 'array'): no keys to copy across threads. */
  arrays?: boolean;
}

export type PgReply =
  | { ok: true; rows: Record<string, unknown>[] | unknown[][]; rowCount: number; results?: Array<Record<string, unknown>[]> }
  | { ok: false; message: string; code?: string; detail?: string };

export const PG_WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData: data } = require('node:worker_threads');
const pg = require(data.pgPath);
// int8 (count(*), bigserial, epoch ms in bigint columns) as a number, as better-sqlite3 gives it.
pg.types.setTypeParser(20, (v) => Number(v));
const flag = new Int32Array(data.flag);
let client = null;
let broken = null;

async function connect() {
  const settings = Object.entries({ search_path: data.schema + ',public', ...data.settings }).map(([k, v]) => '-c ' + k + '=' + v).join(' ');
  const c = new pg.Client({
    connectionString: data.url,
    application_name: data.applicationName,
    connectionTimeoutMillis: data.connectTimeoutMs,
    statement_timeout: data.statementTimeoutMs,
    keepAlive: true,
    options: settings,
  });
  c.on('error', (err) => { broken = err; });
  c.on('end', () => { broken = broken || new Error('the server closed the connection'); });
  await c.connect();
  broken = null;
  return c;
}

let lostReason = null;

async function run(req) {
  try {
    if (client && broken) {
      lostReason = broken.message;
      await client.end().catch(() => undefined);
      client = null;
    }
    if (!client) {
      // A lost connection loses its transaction: the rest of it (its COMMIT above all) must fail,
      // not run on a new connection outside it.
      if (req.inTransaction && lostReason !== null) {
        return { ok: false, message: 'connection lost inside a transaction: ' + lostReason, code: '08006' };
      }
      client = await connect();
      lostReason = null;
    }
    const before = req.before || [];
    if (before.length === 0) {
      const res = await client.query(req.arrays ? { text: req.sql, values: req.params, rowMode: 'array' } : { text: req.sql, values: req.params });
      return { ok: true, rows: res.rows, rowCount: res.rowCount ?? 0 };
    }
    const all = before.concat([{ sql: req.sql, params: req.params }]);
    // One simple-protocol query of them all (one round trip to the server; it stops at the first
    // that fails) when each can carry its values as literals; otherwise each in turn.
    const text = inlined(all);
    let results;
    if (text !== null) {
      const res = await client.query(text);
      results = Array.isArray(res) ? res : [res];
      if (results.length !== all.length) return { ok: false, message: 'a batch of ' + all.length + ' statements gave ' + results.length + ' results' };
    } else {
      results = [];
      for (const s of all) results.push(await client.query({ text: s.sql, values: s.params }));
    }
    const last = results[results.length - 1];
    // Arrays asked of a batch: its last statement's rows, each as its values in the select's order.
    const rows = req.arrays ? last.rows.map((r) => Object.values(r)) : last.rows;
    return { ok: true, rows, rowCount: last.rowCount ?? 0, ...(req.all ? { results: results.map((r) => r.rows) } : {}) };
  } catch (err) {
    if (client && broken) lostReason = broken.message;
    return { ok: false, message: String(err && err.message), code: err && err.code, detail: err && err.detail };
  }
}

const { prepareValue } = require(require('node:path').join(require('node:path').dirname(data.pgPath), 'utils.js'));

/**
 * The statements as one text, each $n replaced by its value as a quoted literal: what the extended
 * protocol sends as an untyped text parameter, the simple protocol reads as an untyped literal, so
 * the server takes each the same way. Null when one cannot be (a quote or a dollar quote in its text:
 * a $n there need not be a parameter).
 */
function inlined(statements) {
  const parts = [];
  for (const s of statements) {
    if (s.sql.includes("'") || s.sql.includes('$$') || s.sql.includes(';')) return null;
    let bad = false;
    const text = s.sql.replace(/\$(\d+)/g, (_, n) => {
      const i = Number(n) - 1;
      if (i < 0 || i >= s.params.length) { bad = true; return ''; }
      const v = prepareValue(s.params[i]);
      if (v === null || v === undefined) return 'NULL';
      if (typeof v !== 'string') { bad = true; return ''; }
      return pg.Client.prototype.escapeLiteral(v);
    });
    if (bad) return null;
    parts.push(text);
  }
  return parts.join(';\n');
}

function answer(reply) {
  data.replies.postMessage(reply);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

parentPort.on('message', (msg) => {
  if (msg === 'close') {
    Promise.resolve(client && client.end()).catch(() => undefined).finally(() => {
      client = null;
      answer({ ok: true, rows: [], rowCount: 0 });
    });
    return;
  }
  run(msg).then(answer);
});
// Loaded: the main thread may block on queries from now on.
parentPort.postMessage('ready');
`;
