import type { Database } from '../store/database.js';
import type { Logger } from '../log.js';
import type { StreamState } from '../domain/stream.js';
import { notifyStreamDown, notifyStreamRestored } from './events.js';

export interface StreamWatchDeps {
  db: Database;
  log: Logger;
  /** The trade_updates stream's state now (the feed's). */
  state: () => StreamState;
  /** How long the stream may be away before it is told (60 s). */
  thresholdMs?: number;
  /** Epoch ms (tests pass a fake clock). */
  now?: () => number;
}

/**
 * Tells when the trade_updates stream has been away (not connected) for longer than the threshold:
 * one `stream_down` per episode, and `stream_restored` when it connects again after one. An episode
 * starts when the stream is first seen away (at start, before it ever connected, too).
 */
export class StreamWatch {
  private awaySince: number | null = null;
  private told = false;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly deps: StreamWatchDeps) {}

  start(intervalMs = 1000): void {
    this.check();
    this.timer = setInterval(() => this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  check(): void {
    const now = this.now();
    const state = this.deps.state();
    try {
      if (state === 'connected') {
        if (this.awaySince !== null && this.told) {
          notifyStreamRestored(this.deps.db, { since: new Date(this.awaySince).toISOString(), forS: Math.round((now - this.awaySince) / 1000) }, new Date(now));
        }
        this.awaySince = null;
        this.told = false;
        return;
      }
      if (this.awaySince === null) this.awaySince = now;
      if (this.told || now - this.awaySince <= (this.deps.thresholdMs ?? 60_000)) return;
      notifyStreamDown(this.deps.db, { since: new Date(this.awaySince).toISOString(), state, forS: Math.round((now - this.awaySince) / 1000) }, new Date(now));
      this.told = true;
    } catch (err) {
      this.deps.log.warn({ event: 'notification_write_failed', kind: 'stream', err: String(err) }, 'could not record a stream notification');
    }
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }
}
