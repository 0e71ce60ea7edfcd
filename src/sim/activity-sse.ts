/**
 * GET /v2beta1/events/activities as server-sent events (SDK 4.0.2 EventsApi.subscribeToActivitiesSSE;
 * docs "Subscribe to Activity Events (SSE)"). Each event is one `data: <json>` message (activity-events.ts).
 * Query rules (docs): `until` needs `since`, `until_id` needs `since_id`, `since` and `since_id` (and
 * `until` and `until_id`, docs "Subscribe to System Events (SSE)") exclude each other: 400
 * `{"code":40010000,"message":…}` (**wording ours**). Without `since`/`since_id` no history is sent, only
 * live events; with one, the historical events from that point (`since`: `at` ≥ since; `since_id`:
 * event ids after it, exclusive) come first, then live ones. `until` (`at` ≤ until) / `until_id` (ids up
 * to it, inclusive) end the stream (200) once the last matching event is sent — at once when that point
 * is already past, else when a later event comes or the time passes.
 * Slow readers (docs, "Slow client"): while the response's unsent bytes exceed `slow_reader_bytes`
 * (POST /_sim/events; default 1 MiB, **ours**), messages are dropped; once it has drained, the reader gets
 * `: you are reading too slowly, dropped N messages` before the next message. `POST /_sim/events/error`
 * ends every open stream with `: internal server error` (docs, "Internal server error"); the fault
 * `sse_duplicate_rate` sends a message twice by chance (events may come more than once).
 */
import type { ServerResponse } from 'node:http';
import type { ActivityEvent, ActivityEventLog } from './activity-events.js';
import { CODE, SimError } from './errors.js';
import { type Query, qs } from './query-params.js';
import { parseTimeParam } from './clock.js';
import { isUlid } from './ulid.js';

export interface EventQuery {
  since?: number;
  until?: number;
  sinceId?: string;
  untilId?: string;
}

const badRequest = (message: string): SimError => new SimError(400, { code: CODE.DECODE, message });

function time(query: Query, name: string): number | undefined {
  const raw = qs(query, name);
  if (raw === undefined) return undefined;
  const micros = parseTimeParam(raw);
  if (micros === null) throw badRequest(`invalid ${name}: ${raw}`);
  return micros;
}

function id(query: Query, name: string): string | undefined {
  const raw = qs(query, name);
  if (raw === undefined) return undefined;
  if (!isUlid(raw.toUpperCase())) throw badRequest(`invalid ${name}: ${raw}`);
  return raw.toUpperCase();
}

export function parseEventQuery(query: Query): EventQuery {
  const q: EventQuery = {};
  const since = time(query, 'since');
  const until = time(query, 'until');
  const sinceId = id(query, 'since_id');
  const untilId = id(query, 'until_id');
  if (since !== undefined && sinceId !== undefined) throw badRequest('since and since_id cannot be used together');
  if (until !== undefined && untilId !== undefined) throw badRequest('until and until_id cannot be used together');
  if (until !== undefined && since === undefined) throw badRequest('since is required if until is specified');
  if (untilId !== undefined && sinceId === undefined) throw badRequest('since_id is required if until_id is specified');
  if (since !== undefined) q.since = since;
  if (until !== undefined) q.until = until;
  if (sinceId !== undefined) q.sinceId = sinceId;
  if (untilId !== undefined) q.untilId = untilId;
  return q;
}

const wantsHistory = (q: EventQuery): boolean => q.since !== undefined || q.sinceId !== undefined;
const afterStart = (q: EventQuery, ev: ActivityEvent): boolean =>
  (q.since === undefined || ev.atMicros >= q.since) && (q.sinceId === undefined || ev.eventId > q.sinceId);
const beyondEnd = (q: EventQuery, ev: ActivityEvent): boolean =>
  (q.until !== undefined && ev.atMicros > q.until) || (q.untilId !== undefined && ev.eventId > q.untilId);

export const DEFAULT_SLOW_READER_BYTES = 1 << 20;

export interface SseSettings {
  slowReaderBytes: number;
  /**
   * false: the endpoint answers 404, as an Alpaca host (or account) without the v2beta1 event stream
   * would (**ours**: a test switch, for a client that must fall back to what it had).
   */
  available: boolean;
}

/** One reader's response: writes, drops while it is behind, ends. */
class Connection {
  private dropped = 0;
  private ended = false;
  /** Live messages still to drop as a slow reader's would be (`dropNext`, a test switch). */
  private toDrop = 0;
  private readonly poll: NodeJS.Timeout;

  constructor(
    private readonly res: ServerResponse,
    private readonly settings: SseSettings,
    private readonly duplicate: () => boolean,
    private readonly onEnd: () => void,
  ) {
    // A reader that catches up hears how much it missed without waiting for the next event.
    this.poll = setInterval(() => this.reportDropped(), 50);
    this.poll.unref();
    res.on('close', () => this.finish());
  }

  private behind(): boolean {
    return this.res.writableLength > this.settings.slowReaderBytes;
  }

  private reportDropped(): void {
    if (this.ended || this.dropped === 0 || this.behind()) return;
    this.res.write(`: you are reading too slowly, dropped ${this.dropped} messages\n\n`);
    this.dropped = 0;
  }

  /** The next `n` messages are dropped, then the slow-reader comment says so. */
  dropNext(n: number): void {
    this.toDrop += n;
  }

  send(ev: ActivityEvent): void {
    if (this.ended) return;
    if (this.toDrop > 0) {
      this.toDrop -= 1;
      this.dropped += 1;
      if (this.toDrop === 0) this.reportDropped();
      return;
    }
    if (this.behind()) {
      this.dropped += 1;
      return;
    }
    this.reportDropped();
    const message = `data: ${JSON.stringify(ev.json)}\n\n`;
    this.res.write(message);
    if (this.duplicate()) this.res.write(message);
  }

  end(comment?: string): void {
    if (this.ended) return;
    if (comment !== undefined) this.res.write(`: ${comment}\n\n`);
    this.res.end();
    this.finish();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.poll);
    this.onEnd();
  }
}

export class ActivitySse {
  readonly settings: SseSettings = { slowReaderBytes: DEFAULT_SLOW_READER_BYTES, available: true };
  private readonly open = new Set<Connection>();

  constructor(
    private readonly log: ActivityEventLog,
    private readonly duplicate: () => boolean,
    private readonly nowMicros: () => number,
  ) {}

  get openStreams(): number {
    return this.open.size;
  }

  serve(res: ServerResponse, q: EventQuery): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    res.flushHeaders();
    const cleanups: (() => void)[] = [];
    const conn = new Connection(res, this.settings, this.duplicate, () => {
      this.open.delete(conn);
      for (const fn of cleanups) fn();
    });
    this.open.add(conn);
    if (wantsHistory(q)) for (const ev of this.log.events) if (afterStart(q, ev) && !beyondEnd(q, ev)) conn.send(ev);
    const last = this.log.events.at(-1);
    if ((q.untilId !== undefined && last !== undefined && last.eventId >= q.untilId) || (q.until !== undefined && q.until <= this.nowMicros())) {
      conn.end();
      return;
    }
    if (q.until !== undefined) {
      const timer = setTimeout(() => conn.end(), Math.ceil((q.until - this.nowMicros()) / 1000) + 1);
      cleanups.push(() => clearTimeout(timer));
    }
    cleanups.push(
      this.log.onEvent((ev) => {
        if (beyondEnd(q, ev)) return conn.end();
        conn.send(ev);
        if (q.untilId !== undefined && ev.eventId >= q.untilId) conn.end();
      }),
    );
  }

  /** End every open stream with `: internal server error`; returns how many. */
  failAll(): number {
    const n = this.open.size;
    for (const c of [...this.open]) c.end('internal server error');
    return n;
  }

  /**
   * The next `n` messages to each open stream are dropped and then reported with the slow-reader
   * comment, as if each reader had lagged (**ours**: a test switch, no flood needed); returns how many streams.
   */
  dropNext(n: number): number {
    for (const c of this.open) c.dropNext(n);
    return this.open.size;
  }

  closeAll(): void {
    for (const c of [...this.open]) c.end();
  }
}
