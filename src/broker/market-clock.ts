import type { BrokerClient } from './client.js';
import type { Logger } from '../log.js';
import { addDays, marketSession, minutesOf, newYorkWall, type CalendarWindow, type ClockReading, type MarketSession } from '../domain/market-session.js';

/**
 * Alpaca's session as Alpaca tells it: `GET /v2/clock` (its time, and whether the regular session is
 * on) and `GET /v2/calendar` (each trading day's hours), read through the SDK client (reads: the
 * limiter's low lane). The broker's time, not ours, decides: a simulator whose clock was moved
 * drives it. The clock is read again at each session boundary the calendar or clock announces and
 * every `refreshMs` (default 5 min); the calendar, a window of three weeks around today, when today
 * nears its edge. At idle that is a few requests an hour, never more than one a minute unless
 * `refreshMs` is set below that.
 */
export interface MarketClockDeps {
  client: Pick<BrokerClient, 'clock' | 'calendar'>;
  log: Logger;
  refreshMs?: number;
  /** Local epoch ms (tests pass a fake clock). */
  now?: () => number;
}

const DEFAULT_REFRESH_MS = 5 * 60_000;
/** Days of calendar read before and after today; read again when today is within MARGIN of an edge. */
const BEHIND = 7;
const AHEAD = 14;
const MARGIN = 3;
/** Retry after a failed read (at most this often, and never more often than refreshMs). */
const RETRY_MS = 30_000;

export class MarketClock {
  private offsetMs = 0;
  private clock: ClockReading | null = null;
  private window: CalendarWindow | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private failing = false;
  private stopped = false;
  private readonly refreshMs: number;

  constructor(private readonly deps: MarketClockDeps) {
    this.refreshMs = deps.refreshMs ?? DEFAULT_REFRESH_MS;
  }

  start(): void {
    this.stopped = false;
    void this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** The equity session now; null until the clock and calendar were read. */
  session(): MarketSession | null {
    return this.window ? marketSession(this.brokerNow(), this.window, this.clock) : null;
  }

  /** The broker's time now (epoch ms): ours corrected by the offset its clock showed. */
  brokerNow(): number {
    return this.localNow() + this.offsetMs;
  }

  /** The broker's time now, once its clock was read (null before: ours alone is not Alpaca's). */
  brokerNowIfRead(): number | null {
    return this.clock ? this.brokerNow() : null;
  }

  /** Reads the clock (and the calendar when needed) now. */
  async refresh(): Promise<void> {
    const before = this.localNow();
    const c = await this.deps.client.clock.legacyClock();
    const after = this.localNow();
    // The broker's timestamp was taken somewhere during the request: assume its middle.
    this.offsetMs = c.timestamp.getTime() - Math.round((before + after) / 2);
    this.clock = { isOpen: c.isOpen, nextOpen: c.nextOpen.getTime(), nextClose: c.nextClose.getTime() };
    const today = newYorkWall(this.brokerNow()).date;
    const w = this.window;
    if (!w || addDays(today, -1) < w.from || addDays(today, MARGIN) > w.to) await this.readCalendar(today);
  }

  private async readCalendar(today: string): Promise<void> {
    const from = addDays(today, -BEHIND);
    const to = addDays(today, AHEAD);
    // The SDK sends toISOString(); midnight UTC of a date reads as that date.
    const days = await this.deps.client.calendar.legacyCalendar({ start: new Date(`${from}T00:00:00Z`), end: new Date(`${to}T00:00:00Z`) });
    this.window = {
      from,
      to,
      days: days.map((d) => ({ date: d.date.toISOString().slice(0, 10), open: d.open, close: d.close, sessionOpen: d.sessionOpen, sessionClose: d.sessionClose })),
    };
  }

  private async tick(): Promise<void> {
    let delay = this.refreshMs;
    try {
      await this.refresh();
      if (this.failing) this.deps.log.info({ event: 'market_clock_restored', session: this.session() }, 'reading Alpaca’s clock again');
      this.failing = false;
      delay = Math.min(this.refreshMs, Math.max(1000, this.untilNextBoundary() + 1000));
    } catch (err) {
      if (!this.failing) this.deps.log.warn({ event: 'market_clock_failed', err: String(err) }, 'could not read Alpaca’s clock or calendar; the session shown may be stale');
      this.failing = true;
      delay = Math.min(this.refreshMs, RETRY_MS);
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), delay);
    this.timer.unref();
  }

  /** Local ms until the next instant the session may change (the clock's next open or close, the calendar's hours, 20:00). */
  private untilNextBoundary(): number {
    const now = this.brokerNow();
    const marks: number[] = [];
    if (this.clock) marks.push(this.clock.nextOpen, this.clock.nextClose);
    const { date } = newYorkWall(now);
    for (const d of [date, addDays(date, 1)]) {
      const day = this.window?.days.find((x) => x.date === d);
      const times = day ? [day.sessionOpen, day.open, day.close, day.sessionClose] : [];
      for (const t of [...times, '20:00']) marks.push(newYorkInstant(d, minutesOf(t)));
    }
    const next = Math.min(...marks.filter((m) => m > now));
    return Number.isFinite(next) ? next - now : this.refreshMs;
  }

  private localNow(): number {
    return this.deps.now?.() ?? Date.now();
  }
}

/** Epoch ms of New York wall time `minutes` on `date` (the offset found by one correction step). */
function newYorkInstant(date: string, minutes: number): number {
  const guess = Date.parse(`${date}T00:00:00Z`) + minutes * 60_000;
  const wall = newYorkWall(guess);
  const shown = Date.parse(`${wall.date}T00:00:00Z`) + wall.minutes * 60_000;
  return guess + (guess - shown);
}
