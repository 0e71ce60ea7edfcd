import { once } from 'node:events';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The database session that holds an account's leadership lock, on a worker thread of its own: its
 * heartbeat runs on the worker's event loop, so a leader whose main thread is busy (a long catch-up
 * commit) keeps its lock, and one that is stopped or killed (every thread with it) loses it. The
 * main thread asks queries of it asynchronously and is told when the session is lost.
 */
export interface LockSessionOptions {
  url: string;
  applicationName: string;
  connectTimeoutMs: number;
  /** `-c name=value` settings of the session (idle_session_timeout, lock_timeout, …). */
  settings: Record<string, string>;
}

type Reply = { id: number; ok: true; rows: Record<string, unknown>[]; rowCount: number } | { id: number; ok: false; message: string };
type Note = { type: 'ready' } | { type: 'failed'; message: string } | { type: 'lost'; reason: string } | { type: 'closed' };

const SOURCE = String.raw`
'use strict';
const { parentPort, workerData: data } = require('node:worker_threads');
const pg = require(data.pgPath);
let client = null;
let beat = null;
let lost = false;
const tell = (m) => parentPort.postMessage(m);
// When the last query the server answered was sent (epoch ms): the session was alive then.
const heardAt = new BigInt64Array(data.heard);
function heard(sent) {
  if (BigInt(sent) > Atomics.load(heardAt, 0)) Atomics.store(heardAt, 0, BigInt(sent));
}
function gone(reason) {
  if (lost) return;
  lost = true;
  if (beat) clearTimeout(beat.timer);
  beat = null;
  tell({ type: 'lost', reason });
}
(async () => {
  const options = Object.entries(data.settings).map(([k, v]) => '-c ' + k + '=' + v).join(' ');
  client = new pg.Client({ connectionString: data.url, application_name: data.applicationName, connectionTimeoutMillis: data.connectTimeoutMs, keepAlive: true, options });
  client.on('error', (err) => gone('leader session ended: ' + err.message));
  client.on('end', () => gone('leader session ended'));
  await client.connect();
  tell({ type: 'ready' });
})().catch((err) => tell({ type: 'failed', message: String(err && err.message) }));

async function tick() {
  if (!beat || lost) return;
  try {
    const sent = Date.now();
    const res = await client.query(beat.sql, beat.params);
    if (res.rowCount === 0) return gone('another instance took the account over');
    heard(sent);
  } catch (err) {
    return gone('heartbeat failed: ' + String(err && err.message));
  }
  if (beat) beat.timer = setTimeout(tick, beat.everyMs);
}

parentPort.on('message', (m) => {
  if (m.type === 'query') {
    const sent = Date.now();
    client.query(m.sql, m.params).then(
      (res) => {
        heard(sent);
        tell({ id: m.id, ok: true, rows: res.rows, rowCount: res.rowCount ?? 0 });
      },
      (err) => tell({ id: m.id, ok: false, message: String(err && err.message) }),
    );
  } else if (m.type === 'beat') {
    if (beat) clearTimeout(beat.timer);
    beat = { sql: m.sql, params: m.params, everyMs: m.everyMs, timer: null };
    beat.timer = setTimeout(tick, m.everyMs);
  } else if (m.type === 'unbeat') {
    if (beat) clearTimeout(beat.timer);
    beat = null;
  } else if (m.type === 'close') {
    lost = true;
    if (beat) clearTimeout(beat.timer);
    beat = null;
    Promise.resolve(client && client.end()).catch(() => undefined).finally(() => tell({ type: 'closed' }));
  }
});
`;

export class LockSession {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: { rows: any[]; rowCount: number }) => void; reject: (e: Error) => void }>();
  private lostHandler: ((reason: string) => void) | null = null;
  private lostReason: string | null = null;
  private closed: Promise<void> | null = null;

  private constructor(
    private readonly worker: Worker,
    private readonly heard: BigInt64Array,
  ) {
    worker.on('message', (m: Reply | Note) => {
      if ('id' in m) {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.ok) p?.resolve({ rows: m.rows, rowCount: m.rowCount });
        else p?.reject(new Error(m.message));
      } else if (m.type === 'lost') {
        this.lostReason = m.reason;
        for (const p of this.pending.values()) p.reject(new Error(m.reason));
        this.pending.clear();
        this.lostHandler?.(m.reason);
      }
    });
    worker.on('error', (err) => {
      this.lostReason = String(err);
      this.lostHandler?.(String(err));
    });
  }

  /** Connects; rejects when the database cannot be reached. */
  static async open(opts: LockSessionOptions): Promise<LockSession> {
    const heard = new SharedArrayBuffer(8);
    const worker = new Worker(SOURCE, {
      eval: true,
      workerData: { ...opts, heard, pgPath: createRequire(import.meta.url).resolve('pg') },
    });
    const [first] = (await once(worker, 'message')) as [Note];
    if (first.type !== 'ready') {
      await worker.terminate();
      throw new Error(first.type === 'failed' ? first.message : 'the leader session did not start');
    }
    return new LockSession(worker, new BigInt64Array(heard));
  }

  query<R = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<{ rows: R[]; rowCount: number }> {
    if (this.lostReason !== null) return Promise.reject(new Error(this.lostReason));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'query', id, sql, params });
    });
  }

  /**
   * When the last query the server answered (a heartbeat that found its row, or any asked here) was
   * sent, epoch ms; 0 before any. Kept by the worker in shared memory: true even while the main
   * thread was stopped or busy, and never later than a send (an answer read after a SIGSTOP and
   * SIGCONT tells of the session as it was before).
   */
  heardAt(): number {
    return Number(Atomics.load(this.heard, 0));
  }

  /** Runs `sql` every `everyMs` on the worker; none of its rows changed, or an error, loses the session. */
  beat(sql: string, params: unknown[], everyMs: number): void {
    this.worker.postMessage({ type: 'beat', sql, params, everyMs });
  }

  unbeat(): void {
    this.worker.postMessage({ type: 'unbeat' });
  }

  /** Told once when the session ends (the server closed it, the heartbeat failed or found no row). */
  onLost(handler: (reason: string) => void): void {
    this.lostHandler = handler;
    if (this.lostReason !== null) handler(this.lostReason);
  }

  /** Ends the session (its advisory locks with it) and the worker. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.lostHandler = null;
      const done = new Promise<void>((resolve) => {
        const onMsg = (m: Note) => {
          if ('type' in m && m.type === 'closed') {
            this.worker.off('message', onMsg);
            resolve();
          }
        };
        this.worker.on('message', onMsg);
      });
      this.worker.postMessage({ type: 'close' });
      await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
      await this.worker.terminate();
    })();
    return this.closed;
  }
}
