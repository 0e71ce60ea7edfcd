/**
 * What `npm run plan` prints: the order requests a start would send, the open orders it would
 * follow, the positions it would leave without a new stop, and the cooldowns it would start. Every
 * quantity and price is a decimal string.
 */

/** One stop order request a start would send (a new stop, a replace of a working one, or a cancel). */
export interface PlannedStop {
  symbol: string;
  qty: string;
  /** Alpaca's order type: `trailing_stop` (whole shares), `stop` (fractional shares, day), `stop_limit` (crypto). */
  type: string;
  /** `stop` and `stop_limit`: the stop level. */
  stop_price?: string;
  /** `trailing_stop`: the trail, in percent. */
  trail_percent?: string;
  /** `stop_limit`: the limit under the stop. */
  limit_price?: string;
  /** A trailing stop's level if it were placed at the latest trade (Alpaca moves it with the high-water mark). */
  level_now?: string;
  side: 'buy' | 'sell';
  time_in_force: string;
  /** `place`: POST /v2/orders; `replace`: PATCH of its working order; `cancel`: DELETE of it. */
  action: 'place' | 'replace' | 'cancel';
  client_order_id: string;
  /** The order whose position the stop protects. */
  entry_order_id: string;
  /** `replace` / `cancel`: the working order at the broker. */
  order_id?: string;
  reason: string;
}

/** An open order at the broker that the start would follow (record its fills, track its state). */
export interface PlannedAdopt {
  symbol: string;
  order_id: string;
  client_order_id: string;
  side: string;
  type: string;
  qty: string | null;
  status: string;
  limit_price?: string;
  stop_price?: string;
  trail_percent?: string;
  /** `outside`: not placed by this service (no `ct-` client order id). */
  placed_by: 'outside' | 'this service';
  /** The service's database follows it already (a restart). */
  known: boolean;
  /** This service's stop from an earlier run: kept as its position's protection. */
  protection: boolean;
  reason: string;
}

/** A position the start would place no (further) stop for, and why. */
export interface PlannedLeave {
  symbol: string;
  /** Signed position as the ledger will have it (from the account's fills); the broker's when the ledger has none. */
  qty: string;
  /** What live stops cover after the start (working ones and those it would place). */
  covered: string;
  /** The broker's position, when it differs from the ledger's. */
  broker_qty?: string;
  /** Open orders (or working stops) the reason names. */
  order_ids?: string[];
  reason: string;
}

/** A cooldown the start would begin: an exit found in the history that closed (or crossed) its position. */
export interface PlannedCooldown {
  symbol: string;
  /** `<order_id>:<cum_qty>` of the exit fill. */
  exit_fill_id: string;
  order_id: string;
  until: string;
  reason: string;
}

export interface Plan {
  stops: PlannedStop[];
  adopt: PlannedAdopt[];
  leave: PlannedLeave[];
  cooldowns: PlannedCooldown[];
}

/** What the text header says about the account and how it was read (not part of the JSON). */
export interface PlanHeader {
  account: string;
  mode: 'demo' | 'paper' | 'live';
  broker: string;
  /** Alpaca's account number and status, as GET /v2/account answered. */
  accountNumber: string | null;
  accountStatus: string | null;
  adopt: 'protect' | 'record';
  trailPercent: string;
  cooldownMinutes: number;
  /** How the service's own database was read. */
  store: string;
  /** The equity session now, as Alpaca's clock says (null: not read). */
  session: string | null;
  /** GET requests the plan made (it made no other). */
  reads: number;
  notes: string[];
}

export interface AccountPlan {
  header: PlanHeader;
  plan: Plan;
}
