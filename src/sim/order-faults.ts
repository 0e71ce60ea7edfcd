/**
 * Order-level faults, set through POST /_sim/faults alongside the transport faults (faults.ts
 * delegates these keys here). All default off.
 *
 * - `pdt`: true, or a list of symbols: POST /v2/orders answers 403
 *   `{"code":40310100,"message":"trade denied due to pattern day trading protection"}`
 *   (docs "User protection"; the body as users report it).
 * - `reject_after_accept_rate` (0..1) and `reject_after_accept_symbols`: the order is answered
 *   200 `new`, then rejected shortly after (status `rejected`, stream event `rejected`) — docs
 *   "Orders": an accepted order may still be rejected.
 * - `replace_race`: the next PATCH loses a race with a fill (the original fills, the
 *   replacement is rejected, event `order_replace_rejected`); one-shot. `POST /_sim/replace-race
 *   {order_id}` arms it for one order.
 * - `done_for_day_rate` (0..1): chance that an open outside equity order (`--outside-trader`) is
 *   reported `done_for_day` (status + stream event; no fill until the next session opens) — docs
 *   "Orders", order lifecycle: "done executing for the day". Decided once per order, while the
 *   session is open, on the outside trader's ticks (outside-trader.ts).
 */
import { invalid } from './errors.js';
import type { Rng } from './rng.js';

export const PDT_CODE = 40310100;
export const PDT_MESSAGE = 'trade denied due to pattern day trading protection';
/** How long after acceptance a doomed order is rejected. */
export const REJECT_AFTER_ACCEPT_MS = 25;

export interface OrderFaultConfig {
  pdt: boolean | string[];
  reject_after_accept_rate: number;
  reject_after_accept_symbols: string[];
  replace_race: boolean;
  done_for_day_rate: number;
}

export const NO_ORDER_FAULTS: OrderFaultConfig = {
  pdt: false,
  reject_after_accept_rate: 0,
  reject_after_accept_symbols: [],
  replace_race: false,
  done_for_day_rate: 0,
};

const KEYS = new Set(Object.keys(NO_ORDER_FAULTS));

function symbolList(key: string, value: unknown): string[] {
  if (!Array.isArray(value) || !value.every((s) => typeof s === 'string' && s !== '')) {
    throw invalid(`${key} must be a list of symbols`);
  }
  return value.map((s: string) => s.toUpperCase());
}

/** Does a configured symbol name this asset (`BTC/USD` and `BTCUSD` both match BTC/USD)? */
function names(list: readonly string[], symbol: string): boolean {
  return list.includes(symbol) || list.includes(symbol.replace('/', ''));
}

export class OrderFaults {
  private cfg: OrderFaultConfig = { ...NO_ORDER_FAULTS, reject_after_accept_symbols: [] };
  private readonly raceOrders = new Set<string>();
  private rng: Rng | null = null;

  /** The PRNG for reject_after_accept_rate (seeded by the simulator). */
  useRng(rng: Rng): void {
    this.rng = rng;
  }

  get config(): OrderFaultConfig {
    const pdt = Array.isArray(this.cfg.pdt) ? [...this.cfg.pdt] : this.cfg.pdt;
    return { ...this.cfg, pdt, reject_after_accept_symbols: [...this.cfg.reject_after_accept_symbols] };
  }

  has(key: string): boolean {
    return KEYS.has(key);
  }

  /** Validate one key (throws 422 on a bad value). */
  check(key: string, value: unknown): void {
    this.parse(key, value);
  }

  /** Apply this class's keys of an already validated body. */
  apply(body: Record<string, unknown>): void {
    const next = { ...this.cfg };
    for (const [key, value] of Object.entries(body)) {
      if (!this.has(key)) continue;
      Object.assign(next, { [key]: this.parse(key, value) });
    }
    this.cfg = next;
  }

  reset(): void {
    this.cfg = { ...NO_ORDER_FAULTS, reject_after_accept_symbols: [] };
    this.raceOrders.clear();
  }

  /** PDT protection refuses orders for this symbol. */
  pdtRefuses(symbol: string): boolean {
    const pdt = this.cfg.pdt;
    return pdt === true || (Array.isArray(pdt) && names(pdt, symbol));
  }

  /** This newly accepted order is to be rejected shortly after. */
  rejectsAfterAccept(symbol: string): boolean {
    if (names(this.cfg.reject_after_accept_symbols, symbol)) return true;
    const p = this.cfg.reject_after_accept_rate;
    if (p <= 0) return false;
    return this.rng ? this.rng.chance(p) : p >= 1;
  }

  /** Should this open outside equity order be reported done_for_day (done_for_day_rate)? */
  doneForDay(): boolean {
    const p = this.cfg.done_for_day_rate;
    if (p <= 0) return false;
    return this.rng ? this.rng.chance(p) : p >= 1;
  }

  armReplaceRace(orderId: string): void {
    this.raceOrders.add(orderId);
  }

  /** Should a PATCH of this order lose the race with a fill? */
  replaceRaceArmed(orderId: string): boolean {
    return this.raceOrders.has(orderId) || this.cfg.replace_race;
  }

  /** The race happened: disarm (the order's own arming first, else the one-shot switch). */
  consumeReplaceRace(orderId: string): void {
    if (this.raceOrders.delete(orderId)) return;
    this.cfg = { ...this.cfg, replace_race: false };
  }

  private parse(key: string, value: unknown): unknown {
    switch (key) {
      case 'pdt':
        if (typeof value === 'boolean') return value;
        return symbolList(key, value);
      case 'reject_after_accept_rate':
      case 'done_for_day_rate':
        if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw invalid(`${key} must be a number between 0 and 1`);
        return value;
      case 'reject_after_accept_symbols':
        return symbolList(key, value);
      case 'replace_race':
        if (typeof value !== 'boolean') throw invalid(`${key} must be true or false`);
        return value;
      default:
        throw invalid(`unknown fault: ${key}`);
    }
  }
}
