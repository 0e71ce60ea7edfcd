/**
 * The account's activity events, as GET /v2beta1/events/activities serves them (activity-sse.ts):
 * every event ever made, in event_id order, and the live listeners. An event's `at` is when it was
 * made; its JSON is built by activity-event-json.ts. The log is append-only: a bust or a correction is
 * a new event naming the old execution in `previous_id`, never an edit.
 */
import { rfc3339 } from './clock.js';
import type { UlidFactory } from './ulid.js';

export interface ActivityEvent {
  eventId: string;
  /** When the event was made (epoch µs): `since` / `until` filter on it. */
  atMicros: number;
  /** The wire object (`data:` of the SSE message). */
  json: Record<string, unknown>;
}

/** The event's fields but `event_id` and `at`, which the log sets. */
export type EventBody = Record<string, unknown>;

export class ActivityEventLog {
  private readonly list: ActivityEvent[] = [];
  private readonly listeners = new Set<(e: ActivityEvent) => void>();

  constructor(
    private readonly ulids: UlidFactory,
    private readonly nowMicros: () => number,
  ) {}

  get events(): readonly ActivityEvent[] {
    return this.list;
  }

  /** Make and publish an event; `body` keys go after `activity_type`, `at`, `event_id` as in the SDK's ToJSON. */
  append(activityType: string, body: EventBody): ActivityEvent {
    const atMicros = this.nowMicros();
    const eventId = this.ulids.next(Math.floor(atMicros / 1000));
    const { activity_subtype: subtype, currency, ...rest } = body;
    const json: Record<string, unknown> = {
      ...(subtype === undefined ? {} : { activity_subtype: subtype }),
      activity_type: activityType,
      at: rfc3339(atMicros),
      currency: currency ?? 'USD',
      event_id: eventId,
      ...rest,
    };
    const ev: ActivityEvent = { eventId, atMicros, json };
    this.list.push(ev);
    for (const fn of this.listeners) {
      try {
        fn(ev);
      } catch {
        // A reader must never break the engine.
      }
    }
    return ev;
  }

  onEvent(fn: (e: ActivityEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
