import type { Generated } from 'kysely';
import type { StopRow } from '../domain/protection.js';

/** Table types for kysely. Decimals are TEXT (canonical decimal strings), times ISO-8601 TEXT. */

export interface FillsTable {
  id: Generated<number>;
  order_id: string;
  /** With order_id, the fill's identity (DESIGN §3.2); UNIQUE. */
  cum_qty: string;
  qty: string;
  price: string;
  symbol: string;
  side: 'buy' | 'sell';
  /** The id of the report that brought it: the stream's execution id, the REST activity id, the event id. */
  exec_id: string | null;
  source: 'stream' | 'activity' | 'order' | 'inferred' | 'event';
  filled_at: string;
  recorded_at: string;
  /** The broker's execution id (trade_updates `execution_id`, an event's `ref_id`), once any source told it. */
  execution_id: Generated<string | null>;
  /** 1: a trade bust took this execution back (migration 0012): kept, out of positions, P&L and cooldowns. */
  busted: Generated<number>;
  /** 1: a trade correction replaced its qty / price (the original is in `fill_changes`). */
  corrected: Generated<number>;
}

/**
 * A trade bust or correction from the activity event stream (migration 0012), one row per change
 * event, keyed by the change's own execution id. `fill_id` null: pending (its fill not in the ledger yet).
 */
export interface FillChangesTable {
  ref_id: string;
  event_id: string;
  kind: 'bust' | 'correct';
  /** The execution it changes: a fill's execution id, or an earlier correction's ref_id. */
  previous_id: string;
  fill_id: number | null;
  order_id: string | null;
  symbol: string | null;
  side: string | null;
  /** The event's terms (a correction's new qty and price; a bust's, the busted execution's when told). */
  qty: string | null;
  price: string | null;
  /** The fill's terms before and after (after: null for a bust), once applied. */
  old_qty: string | null;
  old_price: string | null;
  new_qty: string | null;
  new_price: string | null;
  executed_at: string;
  recorded_at: string;
  applied_at: string | null;
}

export interface OrdersTable {
  order_id: string;
  client_order_id: string;
  symbol: string;
  side: 'buy' | 'sell';
  type: string;
  asset_class: string;
  role: 'entry' | 'stop' | 'exit' | null;
  /** The actor's state value, for queries without parsing the snapshot. */
  state: string;
  terminal: number;
  filled_qty: string;
  filled_avg_price: string | null;
  stop_order_id: string | null;
  machine_version: number;
  /** The persisted XState snapshot (JSON); the version lives in machine_version, not inside. */
  snapshot: string;
  created_at: string;
  updated_at: string;
}

export interface OrderHistoryTable {
  id: Generated<number>;
  order_id: string;
  at: string;
  event: string;
  from_state: string | null;
  to_state: string;
}

/** Columns the database fills in when a row is inserted without them. */
type StopRowDefaults = 'version' | 'next_attempt_at' | 'cancel_requested' | 'cut_qty' | 'placed_trail_percent' | 'expires_at';

/** The outbox of protective stops: a StopRow (src/domain/protection.ts) plus the store's own columns. */
export interface StopsTable extends Omit<StopRow, StopRowDefaults> {
  kind: string;
  created_at: string;
  updated_at: string;
  version: Generated<number>;
  next_attempt_at: Generated<number>;
  cancel_requested: Generated<number>;
  cut_qty: Generated<string>;
  placed_trail_percent: Generated<string | null>;
  expires_at: Generated<string | null>;
}

export interface CooldownsTable {
  /** The exit fill's identity "<order_id>:<cum_qty>": one cooldown per exit (DESIGN §3.5). */
  exit_fill_id: string;
  symbol: string;
  started_at: string;
  until: string;
}

/** Crypto fees taken in the coin (CFEE activities): the ledger's position is its fills less these. */
export interface FeesTable {
  /** The CFEE activity id: one row per fee. */
  activity_id: string;
  /** Pair form (`BTC/USD`), as fills name it. */
  symbol: string;
  /** The coin taken, positive. */
  qty: string;
  price: string | null;
  /** Canonical UTC (the activity's transaction time, else its id's time, else its date). */
  at: string;
  created_at: string;
}

export interface SyncStateTable {
  key: string;
  value: string;
  updated_at: string;
}

/** The notifications outbox (src/notify/): one row per event, its id derived from the fact it reports. */
export interface NotificationsTable {
  id: string;
  kind: string;
  text: string;
  /** JSON object. */
  data: string;
  created_at: string;
}

/** One notification's delivery to one configured channel (`webhook`, `telegram`). */
export interface NotificationDeliveriesTable {
  notification_id: string;
  channel: string;
  attempts: Generated<number>;
  /** Epoch ms: not tried again before (the channel's backoff after a failed request). */
  next_attempt_at: Generated<number>;
  delivered_at: string | null;
  last_error: string | null;
}

export interface Schema {
  fills: FillsTable;
  fill_changes: FillChangesTable;
  orders: OrdersTable;
  order_history: OrderHistoryTable;
  stops: StopsTable;
  cooldowns: CooldownsTable;
  sync_state: SyncStateTable;
  fees: FeesTable;
  notifications: NotificationsTable;
  notification_deliveries: NotificationDeliveriesTable;
}
