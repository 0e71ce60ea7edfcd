import type { Database } from '../store/database.js';
import type { Logger } from '../log.js';
import { markDelivered, markFailed, pendingNotifications, type PendingNotification } from '../store/notifications.js';
import type { Channel, OutgoingNotification } from './channel.js';

export interface DeliveryDeps {
  db: Database;
  log: Logger;
  /** The configured channels (the same ones `setNotificationChannels` was given). */
  channels: readonly Channel[];
  /** At most one request per channel this often; everything pending by then goes in it. */
  batchMs?: number;
  /** How often the outbox is looked at. */
  tickMs?: number;
  /** After a failed request: base, doubling per failure in a row, up to max. */
  backoff?: { baseMs: number; maxMs: number };
  /** Epoch ms (tests pass a fake clock). */
  now?: () => number;
}

interface ChannelState {
  channel: Channel;
  /** No request before this (the batch window after a request, the backoff after a failure). */
  nextAt: number;
  /** Failed requests in a row. */
  failures: number;
  inFlight: Promise<void> | null;
}

export const DEFAULT_BACKOFF = { baseMs: 1000, maxMs: 300_000 };

/** The backoff after `failures` failed requests in a row: base, doubling, capped. */
export function backoffMs(failures: number, b = DEFAULT_BACKOFF): number {
  return Math.min(b.maxMs, b.baseMs * 2 ** Math.max(0, Math.min(30, failures - 1)));
}

/**
 * Delivers the notifications outbox at least once (ids stay stable for the receivers' dedupe). Per
 * channel: one request at a time, at most one per `batchMs` (3 s) carrying everything pending (up to
 * the channel's batch size), a failed request retried after a backoff of 1 s doubling to 5 min
 * (or what the receiver asked for, if longer). The backoff belongs to the channel, not the rows:
 * a new event waits for a receiver that is down like the old ones. A start tries at once (rows
 * written before a crash or while the receiver was down go out then). Delivery state is per row and
 * channel (`notification_deliveries`): a crash between a request and its `delivered_at` sends that
 * batch again, under the same ids.
 */
export class NotificationDelivery {
  private readonly states: ChannelState[];
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly abort = new AbortController();
  private stopped = false;

  constructor(private readonly deps: DeliveryDeps) {
    this.states = deps.channels.map((channel) => ({ channel, nextAt: 0, failures: 0, inFlight: null }));
  }

  start(): void {
    if (this.states.length === 0) return;
    this.timer = setInterval(() => void this.pass(), this.deps.tickMs ?? 500);
    this.timer.unref();
    void this.pass();
  }

  /**
   * Stops the loop. With `flushMs`, one last request per channel that has anything pending (the
   * batch window and backoff waived), abandoned after `flushMs`: what it could not deliver is
   * delivered after the next start.
   */
  async stop(opts: { flushMs?: number } = {}): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.stopped) return;
    this.stopped = true;
    const flushMs = opts.flushMs ?? 0;
    // Past the budget every request still out is aborted (its rows stay pending for the next start).
    const deadline = setTimeout(() => this.abort.abort(), flushMs);
    try {
      await Promise.all(this.states.map((s) => s.inFlight));
      if (flushMs > 0 && !this.abort.signal.aborted) await Promise.all(this.states.map((s) => this.run(s)));
    } finally {
      clearTimeout(deadline);
      this.abort.abort();
    }
  }

  /** Looks at every channel once; resolves when the requests it started are done. */
  async pass(): Promise<void> {
    const now = this.now();
    await Promise.all(this.states.filter((s) => !s.inFlight && now >= s.nextAt && !this.stopped).map((s) => this.run(s)));
  }

  private run(s: ChannelState): Promise<void> {
    if (s.inFlight) return s.inFlight;
    s.inFlight = this.deliver(s).finally(() => {
      s.inFlight = null;
    });
    return s.inFlight;
  }

  private async deliver(s: ChannelState): Promise<void> {
    const { db, log } = this.deps;
    const name = s.channel.name;
    let rows: PendingNotification[];
    try {
      rows = pendingNotifications(db, name, s.channel.maxBatch);
    } catch (err) {
      log.warn({ event: 'notification_read_failed', channel: name, err: String(err) }, 'could not read the notifications outbox');
      return;
    }
    if (rows.length === 0) return;
    const ids = rows.map((r) => r.id);
    const started = this.now();
    try {
      await s.channel.send(rows.map(outgoing), this.abort.signal);
    } catch (err) {
      s.failures += 1;
      const retryAfter = (err as { retryAfterMs?: number }).retryAfterMs ?? 0;
      const wait = Math.max(backoffMs(s.failures, this.deps.backoff), retryAfter, this.batchMs());
      s.nextAt = this.now() + wait;
      const error = err instanceof Error ? err.message : String(err);
      try {
        markFailed(db, name, ids, error, s.nextAt);
      } catch (writeErr) {
        log.warn({ event: 'notification_state_failed', channel: name, err: String(writeErr) }, 'could not record a failed delivery');
      }
      log.warn(
        { event: 'notification_failed', channel: name, count: ids.length, ids: ids.slice(0, 20), failures: s.failures, retry_in_ms: wait, error },
        `could not deliver ${ids.length} notification(s) to ${name}; retrying in ${Math.round(wait / 1000)} s`,
      );
      return;
    }
    s.failures = 0;
    s.nextAt = this.now() + this.batchMs();
    try {
      markDelivered(db, name, ids, new Date(this.now()));
    } catch (err) {
      // Delivered but not recorded: sent again later, under the same ids (receivers dedupe).
      log.warn({ event: 'notification_state_failed', channel: name, err: String(err) }, 'could not record a delivery');
    }
    log.info(
      { event: 'notification_delivered', channel: name, count: ids.length, ids: ids.slice(0, 20), kinds: [...new Set(rows.map((r) => r.kind))], ms: this.now() - started },
      `delivered ${ids.length} notification(s) to ${name}`,
    );
  }

  private batchMs(): number {
    return this.deps.batchMs ?? 3000;
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }
}

function outgoing(r: PendingNotification): OutgoingNotification {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(r.data) as Record<string, unknown>;
  } catch {
    data = {};
  }
  return { id: r.id, kind: r.kind, at: r.created_at, text: r.text, data };
}
