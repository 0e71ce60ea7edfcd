import { randomUUID } from 'node:crypto';
import type { Database } from '../store/database.js';
import { insertNotification } from '../store/notifications.js';

/**
 * Alerts that are never lost: a notification is a row of the `notifications` outbox, written by
 * `notify` inside the transaction of the fact it reports (a rolled-back fact leaves no alert, a
 * committed one always has its alert), delivered at least once by ./delivery.ts to every channel
 * configured when it was written. Its id is derived from the fact (`fill:<order>:<cum_qty>`, …), so
 * a fact committed again after a crash adds no second row, and receivers dedupe by it.
 */

export type NotificationKind =
  | 'fill'
  | 'fills'
  | 'fill_busted'
  | 'fill_corrected'
  | 'stop_placed'
  | 'stop_refused'
  | 'stop_filled'
  | 'position_unprotected'
  | 'position_protected'
  | 'cooldown_started'
  | 'ledger_drift'
  | 'stream_down'
  | 'stream_restored'
  | 'started'
  | 'stopped'
  | 'control_action';

export const NOTIFICATION_KINDS: readonly NotificationKind[] = [
  'fill',
  'fills',
  'fill_busted',
  'fill_corrected',
  'stop_placed',
  'stop_refused',
  'stop_filled',
  'position_unprotected',
  'position_protected',
  'cooldown_started',
  'ledger_drift',
  'stream_down',
  'stream_restored',
  'started',
  'stopped',
  'control_action',
];

export type NotificationChannel = 'webhook' | 'telegram';

export interface Notification {
  /** Stable: derived from the fact, so the same fact never makes two rows. */
  id: string;
  kind: NotificationKind;
  /** One line for people (Telegram, logs). */
  text: string;
  /** The fact's fields for machines (the webhook body). */
  data: Record<string, unknown>;
}

const channelsByDb = new WeakMap<Database, readonly NotificationChannel[]>();

/** The channels configured for this database's process: each new notification gets a delivery row per channel. */
export function setNotificationChannels(db: Database, channels: readonly NotificationChannel[]): void {
  channelsByDb.set(db, [...channels]);
}

export function notificationChannelsOf(db: Database): readonly NotificationChannel[] {
  return channelsByDb.get(db) ?? [];
}

/**
 * Writes the notification (synchronous: call it inside the fact's `db.transaction`). True when it
 * is new; false when a notification with this id exists already (nothing changes).
 */
export function notify(db: Database, n: Notification, now: Date = new Date()): boolean {
  return insertNotification(db, n, notificationChannelsOf(db), now);
}

/**
 * A control action someone took (pause entries, clear a cooldown, …), for the control API. `id`
 * makes it idempotent when the caller has one (a request id); otherwise each call is a new event.
 */
export function notifyControlAction(
  db: Database,
  a: { action: string; who: string; detail?: string | Record<string, unknown>; id?: string },
  now: Date = new Date(),
): boolean {
  const detail = typeof a.detail === 'string' ? a.detail : a.detail ? JSON.stringify(a.detail) : '';
  return notify(
    db,
    {
      id: `control_action:${a.id ?? `${now.toISOString()}:${randomUUID()}`}`,
      kind: 'control_action',
      text: `control: ${a.action} by ${a.who}${detail ? ` (${detail})` : ''}`,
      data: { action: a.action, who: a.who, detail: a.detail ?? null },
    },
    now,
  );
}
