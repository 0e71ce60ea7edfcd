import { D, normalize } from '../decimal.js';
import type { Side } from './reports.js';
import { newYorkWall, type MarketSession } from './market-session.js';

/**
 * The extended-hours guard's decisions (pure; CT_EXTENDED_HOURS_GUARD=1). Alpaca's stops and
 * trailing stops trigger in regular hours only (docs "Orders"); outside them, an equity whose latest
 * trade crosses its nearest stop level is sold (bought, for a short) by a `limit` order with
 * `extended_hours: true` — the only kind pre-market, after-hours and overnight take (docs "24/5
 * Trading") — after its stops, which hold the shares, are canceled. The I/O is
 * src/protection/extended-hours-guard.ts; the record it keeps per symbol is `GuardExit`.
 */

/** The sessions the guard acts in (crypto is continuous: never guarded). */
export type GuardSession = 'pre' | 'after' | 'overnight';

const LETTER: Record<GuardSession, string> = { pre: 'p', after: 'a', overnight: 'o' };

/** One symbol's guard exit, as kept in `sync_state` (`guard_exit:<symbol>`) across crashes. */
export interface GuardExit {
  symbol: string;
  /** The exit's side: sell for a long, buy for a short. */
  side: Side;
  /** The deterministic client order id of this exit (`ct-guard-…`); replacements add `-r<n>`. */
  baseCid: string;
  /** Exits placed so far (a day order ended unfilled outside regular hours is placed again, under a new id). */
  attempt: number;
  /** The client order id of the order working now (`baseCid`, or its latest replacement). */
  cid: string;
  /** The broker's id of that order; null until the broker's answer (or a lookup) was recorded. */
  orderId: string | null;
  limitPrice: string | null;
  /** Epoch ms of the last placement or replacement: the re-price clock. */
  placedAt: number | null;
  reprices: number;
  /** A replacement sent (or about to be): looked up by its client order id after a crash. */
  pendingReplace: { cid: string; limitPrice: string } | null;
  /** The stop rows (client order ids) canceled for this exit, oldest first: placed again at the open. */
  stops: string[];
  /** The stop level the latest trade crossed, and that trade. */
  level: string;
  trigger: string;
  session: GuardSession;
  startedAt: string;
}

/** What the broker's side of the exit order looks like, as the guard last learned it. */
export type ExitOrderState = 'none' | 'live' | 'ended';

export interface GuardInput {
  session: MarketSession | null;
  /** The ledger's signed position. */
  position: string;
  exit: GuardExit | null;
  /** Stop levels (stop prices) of the live stops on the closing side. */
  levels: readonly string[];
  latest: string | null;
  /** Every stop the exit canceled is done at the broker. */
  stopsGone: boolean;
  order: ExitOrderState;
  now: number;
  repriceMs: number;
  slippagePct: string;
}

export type GuardDecision =
  | { type: 'none' }
  /** The latest trade crossed `level`: cancel the stops, record the exit. */
  | { type: 'start'; level: string; session: GuardSession }
  /** Stops still being canceled, a trade price missing, or a session that takes no order. */
  | { type: 'wait' }
  /** Place the exit (again, when one ended unfilled) at `limitPrice`. */
  | { type: 'send'; limitPrice: string }
  /** Replace the working exit's limit; `same`: the price would not change, only its clock restarts. */
  | { type: 'reprice'; limitPrice: string; same: boolean }
  /** Regular hours: the exit order goes first (it holds the shares the stops will want). */
  | { type: 'cancelExit' }
  /** Regular hours, position still open, exit order gone: the stops are placed again. */
  | { type: 'resume' }
  /** Flat: the exit is over. */
  | { type: 'finish' };

/** The guard acts in pre-market, after-hours and overnight; not in regular hours (stops act), nor when closed. */
export function guardSessionOf(session: MarketSession | null): GuardSession | null {
  return session === 'pre' || session === 'after' || session === 'overnight' ? session : null;
}

/**
 * The level the latest trade crossed, if any: for a long the highest sell stop (the first a fall
 * reaches) at or above the trade, for a short the lowest buy stop at or below it.
 */
export function crossedLevel(position: string, levels: readonly string[], latest: string): string | null {
  const q = new D(position);
  if (q.isZero() || levels.length === 0) return null;
  const sorted = [...levels].map((l) => new D(l)).sort((a, b) => a.comparedTo(b));
  const nearest = q.isPositive() ? sorted[sorted.length - 1]! : sorted[0]!;
  const crossed = q.isPositive() ? new D(latest).lte(nearest) : new D(latest).gte(nearest);
  return crossed ? normalize(nearest) : null;
}

/**
 * The exit's limit: `slippagePct` through the latest trade (below it for a sell, above for a buy),
 * on Alpaca's equity price grid ($0.01 from $1, $0.0001 below: the sub-penny rule), rounded away
 * from the trade so the slippage is at least what was asked.
 */
export function guardLimitPrice(latest: string, side: Side, slippagePct: string): string {
  const f = new D(slippagePct).div(100);
  const raw = new D(latest).times(side === 'sell' ? new D(1).minus(f) : new D(1).plus(f));
  const places = raw.gte(1) ? 2 : 4;
  const onGrid = raw.toDecimalPlaces(places, side === 'sell' ? D.ROUND_DOWN : D.ROUND_UP);
  // A sell priced to nothing is no order: the smallest tick instead.
  return normalize(onGrid.gt(0) ? onGrid : new D(1).div(10 ** places));
}

/** `ct-guard-<symbol>-<fill count>-<YYYYMMDD><session letter>`: one exit per position state and session, across crashes. */
export function guardClientOrderId(symbol: string, fillCount: number, nowMs: number, session: GuardSession): string {
  return `ct-guard-${symbol.replace('/', '')}-${fillCount}-${newYorkWall(nowMs).date.replaceAll('-', '')}${LETTER[session]}`;
}

/** The id of the next exit after one ended unfilled: the state's own, or (same state and session) numbered. */
export function nextExitClientOrderId(exit: Pick<GuardExit, 'baseCid' | 'attempt'>, fresh: string): string {
  return fresh === exit.baseCid || exit.baseCid.startsWith(`${fresh}-`) ? `${fresh}-${exit.attempt + 1}` : fresh;
}

/** The client order id of the exit's `n`th replacement. */
export function repriceClientOrderId(baseCid: string, n: number): string {
  return `${baseCid}-r${n}`;
}

/** The exit's side for a signed position. */
export function exitSide(position: string): Side {
  return new D(position).isNegative() ? 'buy' : 'sell';
}

/** What the guard does next for one symbol (see GuardDecision). */
export function decideGuard(i: GuardInput): GuardDecision {
  const flat = new D(i.position).isZero();
  const guarded = guardSessionOf(i.session);
  if (!i.exit) {
    if (!guarded || flat || i.latest === null) return { type: 'none' };
    const level = crossedLevel(i.position, i.levels, i.latest);
    return level === null ? { type: 'none' } : { type: 'start', level, session: guarded };
  }
  if (flat) return i.order === 'live' ? { type: 'cancelExit' } : { type: 'finish' };
  if (i.session === 'regular') return i.order === 'live' ? { type: 'cancelExit' } : { type: 'resume' };
  if (!guarded || !i.stopsGone || i.latest === null) return { type: 'wait' };
  const limitPrice = guardLimitPrice(i.latest, i.exit.side, i.slippagePct);
  if (i.order !== 'live') return { type: 'send', limitPrice };
  if (i.exit.placedAt !== null && i.now - i.exit.placedAt < i.repriceMs) return { type: 'wait' };
  return { type: 'reprice', limitPrice, same: limitPrice === i.exit.limitPrice };
}
