import { D, normalize, type Dec } from '../decimal.js';
import type { StopsTable } from '../store/schema.js';
import type { HolderAsk, OrderHolder } from '../store/order-holders.js';
import { LIVE_STOP_STATUSES } from '../domain/protection.js';
import { wantedOf, type RefusalKind } from '../../machines/stop-policy.js';
import { replaceTarget } from '../../machines/stop-model.js';
import { isOption } from '../domain/symbols.js';

/**
 * How much of each ledger position live protective stops cover (pure: no I/O). A sell stop
 * covers a long, a buy stop a short; only a confirmed stop whose cancel was not asked for
 * counts. What is not covered gets a short machine-readable reason taken from the stops; where
 * other open orders hold the shares or coins, the reason names them (holders are passed in). An
 * option contract's position is shown with the reason `OPTION` and is never unprotected.
 */

/** One stop as coverage sees it (see stopCoverOf for the row → cover mapping). */
export interface StopCover {
  symbol: string;
  /** The stop's side (from the row's payload). */
  side: 'buy' | 'sell';
  status: StopsTable['status'];
  placedQty: string | null;
  cancelRequested: boolean;
  attempts: number;
  lastError: string | null;
  /** What the stop wants to cover (its ask less what exits cut); absent when unknown. */
  wanted?: string;
  assetClass?: string;
  /** Being replaced (PATCH): its working order keeps covering until the replacement exists. */
  replacing?: boolean;
  /** Crypto: the asset's trade increment; a remainder below it cannot be covered by any order. */
  qtyIncrement?: string;
}

export interface SymbolCoverage {
  symbol: string;
  /** Signed ledger position. */
  position: string;
  /** Placed quantity of live confirmed stops on the closing side. */
  covered: string;
  /** |position| − covered, never below 0. */
  uncovered: string;
  /** Why it is not (fully) covered; null when it is. */
  reason: string | null;
}

export interface Overprotection {
  symbol: string;
  position: string;
  /** Every live confirmed stop on the symbol, whichever side. */
  covered: string;
  /** Stop quantity beyond the position: a trigger would open the other side. */
  excess: string;
}

export interface CoverageReport {
  /** Every non-flat symbol, by symbol. */
  positions: SymbolCoverage[];
  unprotected: SymbolCoverage[];
  overprotected: Overprotection[];
}

export interface CoverageOptions {
  /** CT_ADOPT: with 'record', untracked entries are recorded, not protected. */
  adopt: 'protect' | 'record';
  /** Symbols the extended-hours guard is exiting (their stops canceled on purpose): a state, not uncovered. */
  guarded?: ReadonlySet<string>;
}

/** The open orders holding part of each symbol's position (see openOrdersHolding). */
export type HoldersBySymbol = ReadonlyMap<string, readonly OrderHolder[]>;

/** The reason an option contract position shows: recorded, not protected by stops (not an alarm). */
export const OPTION = 'option_unprotected_by_design';
const LIVE = new Set<StopsTable['status']>(LIVE_STOP_STATUSES);
const NO_HOLDERS: HoldersBySymbol = new Map();
/** Reasons that mean other open orders hold the rest: a stop placed short of what it wants, or refused for it. */
const HELD = 'held_for_orders';
const HELD_REFUSAL: RefusalKind = 'insufficient_qty';
/** How many holders a reason names; the rest are counted. */
const NAMED_HOLDERS = 3;
/** What to do about the orders holding what a stop needs (the reason says so after naming them). */
const FREE_THEM = 'cancel or reduce them and the stop';

/** A working stop, or one being replaced: Alpaca's replace leaves the old order working until the new one exists. */
const counts = (s: StopCover) => (s.status === 'confirmed' || s.replacing === true) && !s.cancelRequested;
const sum = (stops: StopCover[]) => stops.reduce((acc, s) => acc.plus(s.placedQty ?? 0), new D(0));

/** The side that closes a signed position: a sell for a long, a buy for a short. */
export const closingSide = (position: string | Dec): 'buy' | 'sell' => (new D(position).isNegative() ? 'buy' : 'sell');

export function assessCoverage(
  positions: ReadonlyMap<string, string>,
  stops: readonly StopCover[],
  opts: CoverageOptions,
  holders: HoldersBySymbol = NO_HOLDERS,
): CoverageReport {
  const report: CoverageReport = { positions: [], unprotected: [], overprotected: [] };
  const symbols = new Set([...positions.keys(), ...stops.filter(counts).map((s) => s.symbol)]);
  for (const symbol of [...symbols].sort()) {
    const position = new D(positions.get(symbol) ?? 0);
    const mine = stops.filter((s) => s.symbol === symbol);
    const closing = closingSide(position);
    // Flat: every confirmed stop is excess; otherwise those on the wrong side are.
    const onSide = position.isZero() ? [] : mine.filter((s) => s.side === closing);
    const covered = sum(onSide.filter(counts));
    const allStops = sum(mine.filter(counts));
    const excess = D.max(covered.minus(position.abs()), 0).plus(allStops.minus(covered));
    if (excess.gt(0)) report.overprotected.push({ symbol, position: normalize(position), covered: normalize(allStops), excess: normalize(excess) });
    if (position.isZero()) continue;
    // An option contract is never protected by a stop (issue 26 item 5): a state, never unprotected.
    if (isOption(symbol)) {
      report.positions.push({ symbol, position: normalize(position), covered: '0', uncovered: '0', reason: OPTION });
      continue;
    }
    const entry = symbolCoverage(symbol, position, covered, onSide, opts, holders.get(symbol) ?? []);
    if (entry.reason !== null && opts.guarded?.has(symbol)) entry.reason = 'guard_exit';
    report.positions.push(entry);
    if (entry.reason !== null && entry.reason !== 'guard_exit') report.unprotected.push(entry);
  }
  return report;
}

function symbolCoverage(symbol: string, position: Dec, covered: Dec, onSide: StopCover[], opts: CoverageOptions, holders: readonly OrderHolder[]): SymbolCoverage {
  let uncovered = position.abs().minus(covered);
  // Dust below the asset's trade increment (a fee-net crypto remainder) is no order's to cover.
  const increment = onSide.find((s) => counts(s) && s.qtyIncrement)?.qtyIncrement;
  if (increment && uncovered.gt(0) && uncovered.lt(increment)) uncovered = new D(0);
  return {
    symbol,
    position: normalize(position),
    covered: normalize(covered),
    uncovered: uncovered.gt(0) ? normalize(uncovered) : '0',
    reason: uncovered.gt(0) ? uncoveredReason(onSide, opts, holders) : null,
  };
}

/**
 * The most telling reason among the closing side's stops, most actionable first. `holders` are
 * the open orders on that side (not our stops): a reason saying they hold the rest names them.
 */
export function uncoveredReason(onSide: readonly StopCover[], opts: CoverageOptions, holders: readonly OrderHolder[] = []): string {
  const live = onSide.filter((s) => LIVE.has(s.status) && !s.cancelRequested);
  if (live.length === 0) return opts.adopt === 'record' ? 'adopt_record' : 'no_stop';
  // A stop being replaced counts with what its working order holds; only the others explain the rest.
  const waiting = live.filter((s) => !s.replacing);
  const refused = waiting.find((s) => (s.status === 'pending' || s.status === 'rejected') && s.lastError && s.attempts > 0);
  if (refused) {
    const held = refused.lastError!.startsWith(`${HELD_REFUSAL}:`) && holders.length > 0;
    return `stop_refused: ${refused.lastError}${held ? `; held by open order(s) ${named(holders)}: ${FREE_THEM} covers what they free` : ''}`;
  }
  if (waiting.some((s) => s.status === 'unknown')) return 'stop_unknown';
  if (waiting.some((s) => s.status === 'pending')) return 'stop_pending';
  if (waiting.some((s) => s.status === 'rejected')) return 'stop_refused';
  // Placed short of what it wants: what other orders left (the fraction of shares has its own stop).
  const short = live.find((s) => counts(s) && s.wanted !== undefined && s.placedQty !== null && new D(s.placedQty).lt(s.wanted));
  if (short) {
    const by = holders.length > 0 ? `open order(s) ${named(holders)}: ${FREE_THEM} grows to cover what they free` : 'other open orders';
    return `${HELD}: stop placed for ${short.placedQty} of ${short.wanted}; the rest is held by ${by}`;
  }
  return 'stop_too_small';
}

/** `<order id> (<client order id>)` of the first few holders, and how many more there are. */
function named(holders: readonly OrderHolder[]): string {
  const first = holders.slice(0, NAMED_HOLDERS).map((h) => `${h.orderId} (${h.clientOrderId})`).join(', ');
  return holders.length > NAMED_HOLDERS ? `${first} and ${holders.length - NAMED_HOLDERS} more` : first;
}

/**
 * The uncovered positions whose reason says other open orders hold the rest, as the holders to
 * look up (a crypto refusal for a fee-shrunk balance asks too; it simply has none).
 */
export function holderAsks(report: CoverageReport): HolderAsk[] {
  return report.unprotected
    .filter((u) => u.reason !== null && (u.reason.startsWith(`${HELD}:`) || u.reason.startsWith(`stop_refused: ${HELD_REFUSAL}:`)))
    .map((u) => ({ symbol: u.symbol, side: closingSide(u.position) }));
}

/** An stops row (with its JSON payload) as a StopCover. */
export function stopCoverOf(
  row: Pick<StopsTable, 'symbol' | 'payload' | 'status' | 'placed_qty' | 'attempts' | 'last_error'> & {
    cancel_requested: number;
    cut_qty?: string;
    broker_order_id?: string | null;
    version?: number;
  },
): StopCover {
  const ask = JSON.parse(row.payload) as { side?: string; qty?: string; assetClass?: string; qtyIncrement?: string };
  const replacing = row.broker_order_id != null && row.version !== undefined && replaceTarget({ status: row.status, broker_order_id: row.broker_order_id, version: row.version }) !== null;
  const side = ask.side === 'buy' ? 'buy' : 'sell';
  // An equity entry's stop wants its whole shares, its fraction stop the fraction (machines/stop-policy.ts).
  const wanted = row.cut_qty !== undefined && typeof ask.qty === 'string' ? wantedOf({ payload: row.payload, cut_qty: row.cut_qty }) : undefined;
  return {
    symbol: row.symbol,
    side,
    status: row.status,
    placedQty: row.placed_qty,
    cancelRequested: row.cancel_requested !== 0,
    attempts: row.attempts,
    lastError: row.last_error,
    ...(wanted !== undefined ? { wanted } : {}),
    ...(ask.assetClass ? { assetClass: ask.assetClass } : {}),
    ...(replacing && row.placed_qty !== null ? { replacing: true } : {}),
    ...(ask.qtyIncrement ? { qtyIncrement: ask.qtyIncrement } : {}),
  };
}
