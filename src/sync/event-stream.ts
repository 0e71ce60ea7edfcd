import { NotFoundError } from '@alpacahq/alpaca-trade-api';
import type { BrokerClient } from '../broker/client.js';
import { openActivityEvents, type OpenActivityEvents } from '../broker/activity-events.js';
import { eventIdOf, parseActivityEvent } from '../broker/activity-event-adapter.js';
import { parseOptionActivityEvent } from '../broker/option-activity-adapter.js';
import type { Database } from '../store/database.js';
import { readSyncState, writeSyncState } from '../store/sync-state.js';
import { ledgerNetFilled } from '../store/ledger.js';
import { fillOfExecution } from '../store/fill-changes.js';
import { D } from '../decimal.js';
import { LeadershipLost } from '../store/leadership-lost.js';
import type { Logger } from '../log.js';
import type { OrderActors } from '../runtime/order-actors.js';
import type { ExecutionIdLookup } from './execution-ids.js';

/**
 * The activity event stream as a source of fills (`GET /v2beta1/events/activities`, SSE), read from a
 * persisted cursor: `sync_state.event_cursor`, the id of the last event handled, written in the
 * transaction that commits the fill the event brought (a crash never leaves the cursor past an
 * unrecorded fill). A trade fill becomes the same execution report as the other sources', identity
 * (order_id, cum_qty): whichever source brings a fill first records its one row, the others are
 * duplicates (the order machine's fill plan). A trade bust or correction is applied to the fill it
 * names (runtime/fill-change-commit.ts), once, in the transaction that moves the cursor past it; one
 * whose fill is not in the ledger yet is kept pending and applied when that fill's execution id is
 * recorded. Other events (fees, option events) are read past: the REST activities still bring the fees.
 *
 * Connects from the cursor (`since_id`, so what came while away is replayed first); with no cursor
 * yet, live only (the REST watermark covers the history). Resumes from the cursor, with backoff,
 * after the connection ends (`: internal server error`, a network error) or says messages were
 * dropped (`: you are reading too slowly, dropped N messages`: it is left at once, so nothing after
 * the gap moves the cursor), or after `IDLE_RECONNECT_MS` without a message (a dead socket is silent
 * too: no heartbeat is promised). A 404, or `FAILURES_TO_FALL_BACK` failures in a row, is a host without
 * the stream: `unavailable`, said once (log and /health reason), and tried again every
 * `UNAVAILABLE_RETRY_MS`; trade_updates and the REST polling go on as they always did.
 */

export type EventStreamState = 'off' | 'connecting' | 'live' | 'retrying' | 'unavailable';

export const FAILURES_TO_FALL_BACK = 5;
export const UNAVAILABLE_RETRY_MS = 5 * 60_000;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 30_000;
/** A connection open this long has proved the stream, whatever ends it. */
const PROVEN_MS = 60_000;
/** A connection that says nothing this long is left and resumed from the cursor (one request per 10 quiet minutes). */
export const IDLE_RECONNECT_MS = 10 * 60_000;
const SLOW_READER = /^you are reading too slowly/;
const SERVER_ERROR = /^internal server error/;

export interface EventStreamDeps {
  db: Database;
  log: Logger;
  client: BrokerClient;
  actors: OrderActors;
  onLeadershipLost?(err: Error): void;
  /** Looks up execution ids of fills recorded without one, for a change that names one (sync/execution-ids.ts). */
  lookup?: ExecutionIdLookup;
  /** How long a silent connection is kept (default IDLE_RECONNECT_MS; tests shorten it). */
  idleMs?: number;
}

/**
 * Why a connection ended: the server ended it, it said it dropped messages, a fill could not be
 * recorded yet (its order is being looked up: the cursor waits for it), or we stop.
 */
type Ending = 'ended' | 'dropped' | 'held' | 'stopped';

export class ActivityEventStream {
  private current: EventStreamState = 'off';
  private running: Promise<void> | null = null;
  private abort: AbortController | null = null;
  private wake: (() => void) | null = null;
  private stopped = false;
  /** Failures in a row (refused, or ended before it delivered or lasted): N in a row is a host without it. */
  private failures = 0;
  private unavailableSince: string | null = null;
  private unavailableWhy = '';
  /** Connections left in a row to wait for a fill its order's lookup must record first. */
  private holds = 0;
  /** Fill events this process handled (new or not): for tests and logs. */
  fillEvents = 0;
  /** Trade bust and correction events this process handled (applied, pending or seen before). */
  changeEvents = 0;

  constructor(private readonly deps: EventStreamDeps) {}

  get state(): EventStreamState {
    return this.current;
  }

  /** The /health reason while the stream is unavailable (one line), else null. */
  reason(): string | null {
    return this.current === 'unavailable' ? `event stream unavailable (${this.unavailableWhy}): fills from trade_updates and activity polling` : null;
  }

  start(): void {
    if (this.running) return;
    this.setState('connecting');
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    this.wake?.();
    await this.running;
    this.setState('off');
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const ending = await this.connectOnce();
      if (this.stopped || ending === 'stopped') break;
      this.holds = ending === 'held' ? this.holds + 1 : 0;
      if (this.failures >= FAILURES_TO_FALL_BACK && this.current !== 'unavailable') this.fallBack(`${this.failures} failures in a row`);
      const waitMs = this.current === 'unavailable' ? UNAVAILABLE_RETRY_MS : backoffMs(Math.max(this.failures, this.holds));
      if (this.current !== 'unavailable') this.setState('retrying');
      await this.sleep(waitMs);
    }
  }

  /** One connection from the cursor, read until it ends. */
  private async connectOnce(): Promise<Ending> {
    const { db, log, client } = this.deps;
    const cursor = readSyncState(db, 'event_cursor');
    const ac = new AbortController();
    this.abort = ac;
    let stream: OpenActivityEvents;
    try {
      stream = await openActivityEvents(client, cursor, ac.signal);
    } catch (err) {
      if (this.stopped) return 'stopped';
      this.failures += 1;
      if (err instanceof NotFoundError) this.fallBack('404');
      else if (this.current !== 'unavailable') log.warn({ event: 'event_stream_failed', err: String(err), failures: this.failures }, 'activity event stream could not connect; trying again');
      return 'ended';
    }
    if (this.current === 'unavailable') {
      log.info({ event: 'event_stream_restored', since: this.unavailableSince }, 'activity event stream available again');
      this.unavailableSince = null;
    }
    const openedAt = Date.now();
    let delivered = false;
    // A connection that delivered, or lasted, proved the stream: its end is no failure.
    const failed = () => {
      if (delivered || Date.now() - openedAt >= PROVEN_MS) this.failures = 0;
      else this.failures += 1;
    };
    // No heartbeat is promised: a connection silent this long may be a dead socket; left, and resumed from the cursor.
    let idle = false;
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    const heard = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        idle = true;
        ac.abort();
      }, this.deps.idleMs ?? IDLE_RECONNECT_MS);
      watchdog.unref?.();
    };
    heard();
    // Our stop, the idle watchdog and the finally below all end the reading by cancelling it.
    ac.signal.addEventListener('abort', () => stream.close(), { once: true });
    if (ac.signal.aborted) stream.close();
    this.setState('live');
    log.info({ event: 'event_stream_connected', since_id: cursor }, cursor ? 'activity event stream connected, replaying from its cursor' : 'activity event stream connected (live: no cursor yet)');
    try {
      for await (const item of stream.items) {
        heard();
        if (item.type === 'comment') {
          if (SLOW_READER.test(item.text)) {
            log.warn({ event: 'event_stream_dropped', comment: item.text }, 'activity event stream dropped messages; resuming from the cursor');
            return 'dropped';
          }
          if (SERVER_ERROR.test(item.text)) log.warn({ event: 'event_stream_server_error', comment: item.text }, 'activity event stream ended by a server error; resuming from the cursor');
          continue;
        }
        if (this.handle(item.data) === 'held') {
          log.info({ event: 'event_stream_held', cursor: readSyncState(db, 'event_cursor') }, 'activity event stream waits at its cursor for a fill its order lookup records');
          return 'held';
        }
        delivered = true;
      }
      if (this.stopped) return 'stopped';
      if (idle) {
        log.info({ event: 'event_stream_idle', idle_s: (this.deps.idleMs ?? IDLE_RECONNECT_MS) / 1000 }, 'activity event stream silent; resuming from the cursor');
        return 'ended';
      }
      failed();
      log.info({ event: 'event_stream_ended', failures: this.failures }, 'activity event stream ended; resuming from the cursor');
      return 'ended';
    } catch (err) {
      if (this.stopped) return 'stopped';
      if (idle) {
        log.info({ event: 'event_stream_idle', idle_s: (this.deps.idleMs ?? IDLE_RECONNECT_MS) / 1000 }, 'activity event stream silent; resuming from the cursor');
        return 'ended';
      }
      if (err instanceof LeadershipLost) {
        this.stopped = true;
        this.deps.onLeadershipLost?.(err);
        return 'stopped';
      }
      failed();
      log.warn({ event: 'event_stream_failed', err: String(err), failures: this.failures }, 'activity event stream broke off; resuming from the cursor');
      return 'ended';
    } finally {
      clearTimeout(watchdog);
      ac.abort();
      this.abort = null;
    }
  }

  /**
   * One message: its fill (if any) handed to the order actors and the cursor moved past it, in one
   * transaction. A commit that failed inside (the order actors stop the process on it) rolls the
   * cursor back with it. A fill its live order could not record yet (it jumps past fills the ledger
   * lacks, and nothing prices the gap: the order actor asked for the order) leaves the cursor where it
   * was (`held`): the connection is left and resumed from there, and the event, replayed, is then a
   * duplicate. A finished order's fill the ledger lacks is drift, logged by the actors: read past. A
   * malformed event is logged and read past.
   */
  private handle(data: string): 'ok' | 'held' {
    const { db, log, actors } = this.deps;
    let raw: unknown;
    try {
      raw = JSON.parse(data);
    } catch {
      log.warn({ event: 'broker_payload_rejected', source: 'event', reason: 'not JSON' }, 'skipped a malformed activity event');
      return 'ok';
    }
    const parsed = parseActivityEvent(raw);
    const eventId = parsed.ok ? parsed.value.eventId : eventIdOf(raw);
    if (!parsed.ok) log.warn({ event: 'broker_payload_rejected', source: 'event', event_id: eventId, reason: parsed.reason }, 'skipped a malformed activity event');
    // An option exercise or assignment (OPEXC / OPASN / OPTRD): recorded with the cursor (option-commit.ts).
    const option = parseOptionActivityEvent(raw);
    if (option && !option.ok) log.warn({ event: 'broker_payload_rejected', source: 'event', event_id: eventId, reason: option.reason }, 'skipped a malformed option activity event');
    if (eventId === null) return 'ok';
    const outcome = db.transaction((): 'ok' | 'held' => {
      if (option?.ok) {
        const failuresBefore = actors.commitFailures;
        actors.recordOptionEvent(option.value);
        if (actors.commitFailures !== failuresBefore) throw new Error(`the ${option.value.kind} of activity event ${eventId} was not committed`);
      }
      if (parsed.ok && parsed.value.kind === 'fill') {
        const execution = parsed.value.execution;
        const failuresBefore = actors.commitFailures;
        this.fillEvents += 1;
        actors.handleExecution(execution, null);
        if (actors.commitFailures !== failuresBefore) throw new Error(`the fill of activity event ${eventId} was not committed`);
        // The broker's cum_qty, against what the fills add up to (after a bust, below the highest recorded).
        // (An execution of before a change, replayed in the numbering of then, is recorded by its execution id.)
        const recorded = new D(ledgerNetFilled(db, execution.orderId)).gte(execution.cumQty) || (execution.executionId !== null && fillOfExecution(db, execution.executionId) !== undefined);
        if (!recorded && actors.live(execution.orderId) !== undefined) return 'held';
      }
      // A trade bust or correction: applied to its fill once (keyed by its ref_id), or kept pending
      // until that fill is recorded; a failed commit throws, and the cursor stays before it.
      if (parsed.ok && parsed.value.kind === 'change') {
        this.changeEvents += 1;
        const change = parsed.value.change;
        // Its fill may be in the ledger without its execution id (recorded from REST): looked up on the stream's history.
        if (actors.applyChange(eventId, change) === 'pending' && change.orderId !== null && this.deps.lookup) {
          const lookup = this.deps.lookup;
          db.afterCommit(() => lookup.request(change.orderId!));
        }
      }
      const cursor = readSyncState(db, 'event_cursor');
      if (cursor === null || eventId > cursor) writeSyncState(db, 'event_cursor', eventId);
      return 'ok';
    });
    // Committed: a fill it brought first gets its stop as soon as this returns (as a trade update's does).
    if (outcome === 'ok' && parsed.ok && parsed.value.kind === 'fill') actors.hurryStops();
    return outcome;
  }

  private fallBack(why: string): void {
    this.unavailableWhy = why;
    if (this.current === 'unavailable') return;
    this.unavailableSince = new Date().toISOString();
    this.deps.log.warn(
      { event: 'event_stream_unavailable', why, retry_s: UNAVAILABLE_RETRY_MS / 1000 },
      `activity event stream unavailable (${why}): fills come from trade_updates and activity polling as before`,
    );
    this.setState('unavailable');
  }

  private setState(next: EventStreamState): void {
    this.current = next;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref?.();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).finally(() => {
      this.wake = null;
    });
  }
}

/** 250 ms doubling to 30 s with the failures in a row (a resume after dropped messages: at once). */
export function backoffMs(failures: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.max(0, failures - 1));
}
