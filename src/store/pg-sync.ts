import { once } from 'node:events';
import { createRequire } from 'node:module';
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { PG_WORKER_SOURCE, type PgReply, type PgRequest, type PgWorkerData } from './pg-worker.js';

/** A PostgreSQL error as the server (or the connection) gave it: `code` is the SQLSTATE. */
export class PgError extends Error {
  constructor(message: string, readonly code?: string, readonly detail?: string) {
    super(message);
    this.name = 'PgError';
  }
}

export interface SyncPgOptions {
  url: string;
  schema: string;
  applicationName: string;
  /** A statement running longer is canceled by the server (and throws here). */
  statementTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** More session settings, e.g. { idle_in_transaction_session_timeout: '5000' }. */
  settings?: Record<string, string>;
}

/**
 * One PostgreSQL connection queried synchronously: the query runs on a worker thread
 * (src/store/pg-worker.ts) while this thread waits on a shared flag. The wait is bounded: a server
 * that stops answering throws here after the statement timeout and a margin, never hangs the process.
 */
export class SyncPgConnection {
  private readonly worker: Worker;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private readonly replies: MessageChannel['port2'];
  private readonly waitMs: number;
  private closed = false;

  constructor(opts: SyncPgOptions) {
    const { port1, port2 } = new MessageChannel();
    this.replies = port2;
    const statementTimeoutMs = opts.statementTimeoutMs ?? 15_000;
    const connectTimeoutMs = opts.connectTimeoutMs ?? 5_000;
    this.waitMs = statementTimeoutMs + connectTimeoutMs + 5_000;
    const data: PgWorkerData = {
      pgPath: createRequire(import.meta.url).resolve('pg'),
      settings: opts.settings ?? {},
      url: opts.url,
      schema: opts.schema,
      applicationName: opts.applicationName,
      statementTimeoutMs,
      connectTimeoutMs,
      flag: this.flag.buffer as SharedArrayBuffer,
      replies: port1,
    };
    this.worker = new Worker(PG_WORKER_SOURCE, { eval: true, workerData: data, transferList: [port1] });
    // The worker holds no timers of its own; never keep the process alive for it.
    this.worker.unref();
    this.loaded = Promise.race([
      once(this.worker, 'message').then(() => undefined),
      once(this.worker, 'error').then(([err]) => Promise.reject(err as Error)),
    ]);
  }

  private readonly loaded: Promise<void>;

  /** Resolves once the worker is loaded; query() may only be called after. */
  ready(): Promise<void> {
    return this.loaded;
  }

  /**
   * `inTransaction`: the statement belongs to an open transaction (a commit included). If the
   * connection was lost since the transaction began, it fails instead of running on a new one, where
   * a COMMIT would "succeed" with nothing to commit. `before`: statements run first in the same
   * trip; the first of them that fails is the answer. `all`: every statement's rows in `results`.
   */
  query(
    sql: string,
    params: readonly unknown[] = [],
    inTransaction = false,
    before?: PgRequest['before'],
    all = false,
  ): { rows: Record<string, unknown>[]; rowCount: number; results?: Array<Record<string, unknown>[]> } {
    return this.ask({ sql, params: [...params], inTransaction, ...(before && before.length > 0 ? { before, ...(all ? { all } : {}) } : {}) }) as {
      rows: Record<string, unknown>[];
      rowCount: number;
      results?: Array<Record<string, unknown>[]>;
    };
  }

  /** The same, each row an array of the selected columns in the select's order. */
  queryArrays(sql: string, params: readonly unknown[] = [], inTransaction = false, before?: PgRequest['before']): { rows: unknown[][]; rowCount: number } {
    return this.ask({ sql, params: [...params], inTransaction, arrays: true, ...(before && before.length > 0 ? { before } : {}) }) as { rows: unknown[][]; rowCount: number };
  }

  private ask(req: PgRequest): { rows: Record<string, unknown>[] | unknown[][]; rowCount: number; results?: Array<Record<string, unknown>[]> } {
    if (this.closed) throw new PgError('the PostgreSQL store is closed');
    Atomics.store(this.flag, 0, 0);
    this.worker.postMessage(req);
    // Wait for the flag, not for a wake-up: the previous answer's notify can come late (the worker
    // set the flag, we read that answer before its notify, then it wakes this wait with no reply yet).
    const deadline = performance.now() + this.waitMs;
    let waited = 'ok';
    while (Atomics.load(this.flag, 0) === 0) {
      const left = deadline - performance.now();
      if (left <= 0) {
        waited = 'timed-out';
        break;
      }
      waited = Atomics.wait(this.flag, 0, 0, left);
    }
    const msg = receiveMessageOnPort(this.replies);
    if (!msg) {
      throw new PgError(waited === 'timed-out' ? `PostgreSQL did not answer within ${this.waitMs} ms` : 'PostgreSQL worker gave no answer', '57014');
    }
    const reply = msg.message as PgReply;
    if (!reply.ok) throw new PgError(reply.message, reply.code, reply.detail);
    return { rows: reply.rows, rowCount: reply.rowCount, ...(reply.results ? { results: reply.results } : {}) };
  }

  close(): void {
    if (this.closed) return;
    Atomics.store(this.flag, 0, 0);
    this.worker.postMessage('close');
    Atomics.wait(this.flag, 0, 0, 5_000);
    receiveMessageOnPort(this.replies);
    this.closed = true;
    void this.worker.terminate();
  }
}
