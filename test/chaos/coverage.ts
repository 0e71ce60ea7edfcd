import { D, STOP_TYPES, isLive, parseStopId, placedByBot, type Dec } from './broker-terms.js';

/**
 * Stop coverage judged from the broker's side only (pure): what the simulator's book shows (GET
 * /_sim/book: positions and open orders) and its request log. A sample needs more cover when the
 * open stops of ours on the closing side leave part of the position uncovered, after these
 * exceptions (README "Chaos"):
 *
 * - held: shares or coins that open orders placed outside the bot hold on the closing side cannot
 *   carry a stop too (Alpaca refuses it: held_for_orders, insufficient balance); only the rest must
 *   be covered. (The bot's own orders of other types excuse nothing.)
 * - fee_dust: a crypto rest below the asset's min_order_size (or min_trade_increment) cannot be
 *   sold at all: a buy's fee is taken from the coin.
 * - told_not_to_protect: symbols the run told the bot not to protect (CT_ADOPT=record: all).
 * - session_closed_fraction: while the session is closed, an equity rest under one share (the
 *   fraction, whose `day` stop expired at the close and only works from the next open).
 * - wash_trade: a crypto rest while an outside order rests on the other side that a stop could
 *   trade with, once the broker has refused one of our stops for that symbol as a wash trade.
 *
 * Then (uncoveredIntervals) an interval runs from the first sample that needs more cover to the next
 * that does not; only time while a bot was up is charged (a killed bot, or one still loading its
 * code, can place nothing; harness.ts `isUp`), one life at a time (a restart gets the grace anew),
 * and an interval one life was charged beyond the bot's CT_PROTECT_GRACE_S is a violation.
 * Resolution: one sample period.
 */

export interface BookPosition {
  symbol: string;
  asset_class: string;
  qty: string;
  min_order_size: string | null;
  min_trade_increment: string | null;
}

export interface BookOrder {
  id: string;
  client_order_id: string;
  symbol: string;
  asset_class: string;
  side: 'buy' | 'sell';
  type: string;
  time_in_force: string;
  qty: string | null;
  notional: string | null;
  filled_qty: string;
  limit_price: string | null;
  status: string;
}

/** GET /_sim/book. */
export interface Book {
  at: number;
  session_open: boolean;
  positions: BookPosition[];
  open_orders: BookOrder[];
}

export type Excuse = 'fee_dust' | 'told_not_to_protect' | 'session_closed_fraction';

export interface SymbolCover {
  symbol: string;
  position: string;
  /** Open stops of ours on the closing side, what is left of them. */
  covered: string;
  /** What open orders placed outside the bot hold on the closing side. */
  held: string;
  /** |position| − held − covered, never below 0. */
  uncovered: string;
  /** Why the uncovered rest needs no stop; null when it does. */
  excuse: Excuse | null;
  /** Crypto: an outside order rests on the other side that a stop could trade with (see wash_trade). */
  crossing: boolean;
}

export interface CoverageRules {
  /** Symbols the bot was told not to protect; 'all' for CT_ADOPT=record. */
  unprotected?: 'all' | ReadonlySet<string>;
}

const left = (o: BookOrder): Dec => (o.qty === null ? new D(0) : D.max(new D(o.qty).minus(o.filled_qty), 0));
const sum = (orders: BookOrder[]): Dec => orders.reduce((s, o) => s.plus(left(o)), new D(0));
const key = (symbol: string) => symbol.replace('/', '');

/** Every non-flat position of one book, with what covers it. */
export function coverOf(book: Book, rules: CoverageRules = {}): SymbolCover[] {
  const out: SymbolCover[] = [];
  for (const p of book.positions) {
    const qty = new D(p.qty);
    if (qty.isZero()) continue;
    const closing = qty.isPositive() ? 'sell' : 'buy';
    const mine = book.open_orders.filter((o) => key(o.symbol) === key(p.symbol) && isLive(o.status));
    const stops = mine.filter((o) => o.side === closing && STOP_TYPES.has(o.type) && parseStopId(o.client_order_id) !== null);
    const holders = mine.filter((o) => o.side === closing && !placedByBot(o.client_order_id));
    const covered = sum(stops);
    const held = sum(holders);
    const uncovered = D.max(qty.abs().minus(held).minus(covered), 0);
    const crossing = p.asset_class === 'crypto' && mine.some((o) => o.side !== closing && o.type !== 'trailing_stop' && !placedByBot(o.client_order_id));
    out.push({
      symbol: p.symbol,
      position: p.qty,
      covered: covered.toFixed(),
      held: held.toFixed(),
      uncovered: uncovered.toFixed(),
      excuse: uncovered.isZero() ? null : excuseOf(p, uncovered, book.session_open, rules),
      crossing,
    });
  }
  return out;
}

function excuseOf(p: BookPosition, uncovered: Dec, sessionOpen: boolean, rules: CoverageRules): Excuse | null {
  if (rules.unprotected === 'all' || rules.unprotected?.has(p.symbol) || rules.unprotected?.has(key(p.symbol))) return 'told_not_to_protect';
  if (p.asset_class === 'crypto') {
    const least = D.max(p.min_order_size ?? 0, p.min_trade_increment ?? 0);
    if (uncovered.lt(least)) return 'fee_dust';
  }
  if (p.asset_class === 'us_equity' && !sessionOpen && uncovered.lt(1)) return 'session_closed_fraction';
  return null;
}

/** When the broker refused one of our stops as a wash trade, per symbol (from its request log). */
export type WashRefusals = ReadonlyMap<string, readonly number[]>;

/** The rest needs a stop now: uncovered, no excuse, and not a wash trade the broker already refused. */
export function needsCover(c: SymbolCover, at: number, wash: WashRefusals = new Map()): boolean {
  if (new D(c.uncovered).isZero() || c.excuse !== null) return false;
  if (c.crossing && (wash.get(key(c.symbol)) ?? []).some((t) => t <= at)) return false;
  return true;
}

/** One sample: the book's cover, and whether a bot process was up (alive, not stopped) then. */
export interface CoverSample {
  at: number;
  up: boolean;
  /** Which bot process was up (its pid): a restart is a new life, and each life gets its own grace. Absent: one life. */
  life?: number | null;
  covers: SymbolCover[];
}

export interface UncoveredInterval {
  symbol: string;
  from: number;
  to: number;
  wall_ms: number;
  /**
   * The longest time one bot life was up during it (a gap between two samples counts when the first
   * had one up): a process killed and started again has the grace anew, as its own /health does.
   */
  charged_ms: number;
  /** The life being charged now, and what it has been charged. */
  life?: { id: number | null; ms: number };
  /** Still uncovered at the last sample. */
  open: boolean;
  /** The broker's side when it began. */
  first: SymbolCover;
}

/** Every uncovered interval of every symbol, in order of start. Samples must be in time order. */
export function uncoveredIntervals(samples: readonly CoverSample[], wash: WashRefusals = new Map()): UncoveredInterval[] {
  const out: UncoveredInterval[] = [];
  const running = new Map<string, UncoveredInterval>();
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    const prev = samples[i - 1];
    for (const iv of running.values()) {
      iv.to = s.at;
      if (!prev?.up) continue;
      const id = prev.life ?? 0;
      if (iv.life?.id !== id) iv.life = { id, ms: 0 };
      iv.life.ms += s.at - prev.at;
      iv.charged_ms = Math.max(iv.charged_ms, iv.life.ms);
    }
    const short = new Map(s.covers.filter((c) => needsCover(c, s.at, wash)).map((c) => [key(c.symbol), c]));
    for (const [k, iv] of [...running]) {
      if (short.has(k)) continue;
      iv.wall_ms = iv.to - iv.from;
      iv.open = false;
      running.delete(k);
    }
    for (const [k, c] of short) {
      if (running.has(k)) continue;
      const iv: UncoveredInterval = { symbol: c.symbol, from: s.at, to: s.at, wall_ms: 0, charged_ms: 0, open: true, first: c };
      running.set(k, iv);
      out.push(iv);
    }
  }
  for (const iv of running.values()) iv.wall_ms = iv.to - iv.from;
  return out;
}

/** The longest interval per symbol, by charged time. */
export function longestPerSymbol(intervals: readonly UncoveredInterval[]): Map<string, UncoveredInterval> {
  const best = new Map<string, UncoveredInterval>();
  for (const iv of intervals) {
    const b = best.get(key(iv.symbol));
    if (!b || iv.charged_ms > b.charged_ms) best.set(key(iv.symbol), iv);
  }
  return best;
}

/** One violation line per interval charged beyond the grace, with what the broker showed when it began. */
export function intervalViolations(intervals: readonly UncoveredInterval[], graceS: number): string[] {
  return intervals
    .filter((iv) => iv.charged_ms > graceS * 1000)
    .map(
      (iv) =>
        `uncovered: ${iv.symbol} for ${(iv.charged_ms / 1000).toFixed(1)} s with a bot up (${(iv.wall_ms / 1000).toFixed(1)} s wall, ` +
        `${new Date(iv.from).toISOString()} to ${new Date(iv.to).toISOString()}${iv.open ? ', still at the end' : ''}) > ${graceS} s; ` +
        `at its start the broker had position ${iv.first.position}, our stops covering ${iv.first.covered}, other orders holding ${iv.first.held}`,
    );
}
