import { D, normalize, type Dec } from '../src/decimal.js';
import type { Side } from '../src/domain/reports.js';
import type { OrderRole } from '../src/domain/protection.js';
import { entryOfStop } from '../src/domain/orders.js';
import { isCrypto, isOption } from '../src/domain/symbols.js';

/**
 * The position of one symbol and what its protective stops are asked to cover, as a model (pure,
 * no I/O): the one place where a fill's effect on protection is decided. A fill is classified like
 * nautilus's open / update / flip — opened, increased, reduced, closed, crossed — and `followFill`
 * returns the next state with the commands the runtime carries out (stop asks, cuts and cancels, the
 * entries to tell that their position closed), in the transaction that records the fill.
 */

/** What one order's protective stop (`ct-stop-<stopOf>`) is asked to cover. */
export interface StopCover {
  /** The order whose stop it is: an entry, or any order whose fill opened a position. */
  stopOf: string;
  /** The stop's side: a sell stop protects a long, a buy stop a short. */
  side: Side;
  /** The ask: what the order's fills opened (an entry's stop, before this owner, asked its whole filled quantity). */
  asked: string;
  /** What exits took off the ask (FIFO shrinks, the stop's own fills, its order closing another position). */
  cut: string;
  /** The position it protected is gone: the stop is to be canceled. */
  cancelRequested: boolean;
  /** The stop ended (filled, or canceled and settled): it covers nothing until it is re-armed. */
  done: boolean;
}

export interface PositionState {
  symbol: string;
  /** Signed quantity: positive long, negative short. */
  qty: string;
  /**
   * The symbol's stops, oldest first (the FIFO order of shrinks). Every stop that is not done is
   * here; a done one may be (the stop of the order whose fill is followed, which it may re-arm).
   */
  stops: StopCover[];
}

/** The part of a recorded fill the position follows. */
export interface PositionFill {
  orderId: string;
  symbol: string;
  side: Side;
  /** The order's cumulative quantity with this fill (the fill's identity, with orderId). */
  cumQty: string;
  /** Positive. */
  qty: string;
}

/** The order whose fill it is. */
export interface FillOrder {
  orderId: string;
  role: OrderRole | null;
  assetClass: string;
  clientOrderId: string;
  /** An entry's stop is wanted (CT_ADOPT decides it for entries placed elsewhere); absent: true. */
  protect?: boolean;
}

export type FillKind = 'opened' | 'increased' | 'reduced' | 'closed' | 'crossed';

export type PositionCommand =
  /**
   * Set the ask of `stopOf`'s stop to `qty` (place it when it has no row yet, grow it when it
   * is live). With `rearm`, the stop had ended or was being canceled: it is asked again with its
   * cut set to `rearm.cut` and its cancel withdrawn; `nextVersion` when it is done (its client order
   * id was used at the broker: it starts over under the next one).
   */
  | { type: 'cover'; stopOf: string; side: Side; qty: string; rearm?: { cut: string; nextVersion: boolean } }
  /** `qty` less to cover (the stop's own fill, or its order closing a position others opened): cut becomes `cutQty`. */
  | { type: 'cut'; stopOf: string; qty: string; cutQty: string }
  /** The position shrank: `qty` less to cover, cut becomes `cutQty`, and the stop is resized now. */
  | { type: 'shrink'; stopOf: string; qty: string; cutQty: string }
  /**
   * The position grew back (a busted or corrected exit): `qty` more to cover, cut becomes `cutQty`
   * (lower), and the stop is resized now.
   */
  | { type: 'restore'; stopOf: string; qty: string; cutQty: string }
  /** Nothing is left for the stop to protect: cancel it. */
  | { type: 'cancel'; stopOf: string }
  /** The order's stop was taken off because none of its position is left: a finished entry is over. */
  | { type: 'positionClosed'; entryOrderId: string };

export interface FillStep {
  kind: FillKind;
  next: PositionState;
  commands: PositionCommand[];
}

/** A fill's signed effect on a position: buys add, sells subtract. */
export function signedQty(side: Side, qty: string | Dec): Dec {
  return side === 'buy' ? new D(qty) : new D(qty).negated();
}

/** What a fill of `qty` on `side` does to a position of `before` (nautilus: open / update / flip). */
export function classifyFill(before: string | Dec, side: Side, qty: string | Dec): { kind: FillKind; before: Dec; after: Dec } {
  const b = new D(before);
  const after = b.plus(signedQty(side, qty));
  if (b.isZero()) return { kind: 'opened', before: b, after };
  if (b.isPositive() === (side === 'buy')) return { kind: 'increased', before: b, after };
  if (after.isZero()) return { kind: 'closed', before: b, after };
  return { kind: after.isPositive() === b.isPositive() ? 'reduced' : 'crossed', before: b, after };
}

/** The fill ended the position it met (closed it or crossed flat): an exit that starts a cooldown. */
export function endsPosition(kind: FillKind): boolean {
  return kind === 'closed' || kind === 'crossed';
}

/**
 * An order's role at its first fill (DESIGN §2): a fill that opens or grows the position is an
 * entry, one that shrinks it an exit; our protective stops are stops.
 */
export function roleAtFirstFill(position: string, order: { clientOrderId: string; symbol: string; side: Side; assetClass: string }): OrderRole {
  if (entryOfStop(order.clientOrderId)) return 'stop';
  const pos = new D(position);
  if (order.side === 'buy') return pos.gte(0) ? 'entry' : 'exit';
  // Crypto cannot be shorted: a sell is always an exit (of a position the ledger may predate).
  if (isCrypto(order.symbol, order.assetClass)) return 'exit';
  return pos.gt(0) ? 'exit' : 'entry';
}

/** What a stop covers now: its ask less what exits cut (never below zero). */
export function stopWants(s: Pick<StopCover, 'asked' | 'cut'>): string {
  const left = new D(s.asked).minus(s.cut);
  return left.isPositive() ? normalize(left) : '0';
}

/** The stop protects a position now: not ended, no cancel asked for. */
const isLive = (s: StopCover) => !s.done && !s.cancelRequested;

/** One step's working copy: stops are copied, so the caller's state is never changed. */
interface Work {
  symbol: string;
  stops: StopCover[];
  commands: PositionCommand[];
}

/**
 * Follows one recorded fill of `order` (DESIGN §3.4, whatever role the order has):
 * - opened / increased: what the fill opened is covered by the order's own stop;
 * - reduced: the stops on the closing side shrink to the position, oldest entry first (FIFO);
 * - closed / crossed: those stops are canceled; what crossed flat is a new position, covered by the
 *   order's own stop. Its cooldown is not decided here but by the exit walk (machines/exit-walk.ts).
 * A stop's own fill first consumes its own cover. This is the one place a stop's size is decided.
 */
export function followFill(position: PositionState, fill: PositionFill, order: FillOrder): FillStep {
  const { kind, before, after } = classifyFill(position.qty, fill.side, fill.qty);
  const w: Work = { symbol: position.symbol, stops: position.stops.map((s) => ({ ...s })), commands: [] };
  const ownStopOf = order.role === 'stop' ? entryOfStop(order.clientOrderId) : null;
  // A stop's own fill consumes its own cover first; only what remains can be excess elsewhere.
  if (ownStopOf) cut(w, 'cut', ownStopOf, new D(fill.qty));
  if (kind === 'opened' || kind === 'increased') {
    cover(w, fill, order, fill.qty);
  } else {
    const closing: Side = before.isPositive() ? 'sell' : 'buy';
    if (kind === 'reduced') {
      shrink(w, closing, after.abs());
    } else {
      for (const s of w.stops) if (isLive(s) && s.side === closing) cancel(w, s);
      // What crossed zero is a new position, opened by this order.
      if (kind === 'crossed') cover(w, fill, order, normalize(after.abs()));
    }
  }
  return { kind, next: { symbol: position.symbol, qty: normalize(after), stops: w.stops }, commands: w.commands };
}

/** What a crypto fee did: the position it met and the one it left, with the commands for its stops. */
export interface FeeStep {
  next: PositionState;
  commands: PositionCommand[];
}

/**
 * Follows one recorded crypto fee (Alpaca's CFEE: a buy of q leaves q less the fee in the position,
 * and reports the fee on its own): the coin taken leaves the signed position like a sell no order
 * made. A long it reduces has its sell stops cut down to what is left, oldest entry first, exactly
 * as a reduction (`shrink`); a long it empties (or takes past flat: fills not known yet) has them
 * canceled, as a close (a cooldown belongs to an exit fill, machines/exit-walk.ts). Anything but a
 * long (crypto is never short) only moves.
 */
export function followFee(position: PositionState, qty: string | Dec): FeeStep {
  const before = new D(position.qty);
  const fee = new D(qty);
  const w: Work = { symbol: position.symbol, stops: position.stops.map((s) => ({ ...s })), commands: [] };
  if (!fee.gt(0)) return { next: { ...position, stops: w.stops }, commands: [] };
  const after = before.minus(fee);
  if (before.gt(0)) {
    if (after.gt(0)) shrink(w, 'sell', after);
    else for (const s of w.stops) if (isLive(s) && s.side === 'sell') cancel(w, s);
  }
  return { next: { symbol: position.symbol, qty: normalize(after), stops: w.stops }, commands: w.commands };
}

/** A recorded fill a trade bust or correction changed: its quantity before and after (0: busted). */
export interface FillChange {
  orderId: string;
  symbol: string;
  side: Side;
  before: string;
  after: string;
}

/**
 * Follows a trade bust or correction of a recorded fill of `order` (issue 26): the position moves by
 * the difference, signed and attributed to that order.
 * - More of the fill (a correction up) is a fill of the difference (`followFill`).
 * - Less of a fill that had built the position (a busted buy of a long): that order's own stop gives
 *   up what the fill had opened first; then the closing side is cut down to what is left, oldest
 *   first, or canceled when the position is gone (and covered on the other side, as below, if it
 *   crossed).
 * - Less of a fill that had shrunk the position (a busted sell of a long, or of a flat one: the stop's
 *   own fill): the position grows back and is covered again, by the stops that had covered it —
 *   cuts given back and ended stops re-armed, the stop's own entry first, then oldest first.
 *   `ended`: the symbol's stops that ended or are being canceled, as their rows have them (the ones
 *   this fill may have ended), which may be re-armed.
 * What no stop gave back stays uncovered (coverage reports it). Cooldowns are the exit walk's.
 */
export function followChange(position: PositionState, change: FillChange, order: FillOrder, ended: readonly StopCover[] = []): FeeStep {
  const diff = new D(change.after).minus(change.before);
  if (diff.isZero()) return { next: position, commands: [] };
  if (diff.isPositive()) {
    const step = followFill(position, { orderId: change.orderId, symbol: change.symbol, side: change.side, cumQty: '0', qty: normalize(diff) }, order);
    return { next: step.next, commands: step.commands };
  }
  const known = new Set(position.stops.map((s) => s.stopOf));
  // Ended stops join after the live ones (their age is not known here): one re-armed is shrunk last.
  const w: Work = { symbol: position.symbol, stops: [...position.stops, ...ended.filter((s) => !known.has(s.stopOf))].map((s) => ({ ...s })), commands: [] };
  const back: Side = change.side === 'buy' ? 'sell' : 'buy';
  const { kind, before, after } = classifyFill(position.qty, back, diff.abs());
  if (kind === 'opened' || kind === 'increased') {
    const priority = order.role === 'stop' ? entryOfStop(order.clientOrderId) : null;
    growBack(w, back === 'buy' ? 'sell' : 'buy', kind === 'opened' ? after.abs() : diff.abs(), priority, order.assetClass);
  } else {
    const closing: Side = before.isPositive() ? 'sell' : 'buy';
    // What this fill opened is its order's own stop's first.
    const own = w.stops.find((s) => s.stopOf === change.orderId && isLive(s) && s.side === closing);
    if (own) {
      const wanted = new D(stopWants(own));
      const taken = D.min(wanted, diff.abs());
      if (taken.gt(0)) cut(w, 'shrink', own.stopOf, taken);
      if (wanted.eq(taken)) cancel(w, own);
    }
    if (kind === 'reduced') shrink(w, closing, after.abs());
    else {
      for (const s of w.stops) if (isLive(s) && s.side === closing) cancel(w, s);
      if (kind === 'crossed') growBack(w, closing === 'sell' ? 'buy' : 'sell', after.abs(), null, order.assetClass);
    }
  }
  // Ended stops that stayed ended are not the actor's to keep.
  const stops = w.stops.filter((s) => known.has(s.stopOf) || isLive(s));
  return { next: { symbol: position.symbol, qty: normalize(after), stops }, commands: w.commands };
}

/**
 * `qty` more on `side`'s stops to cover (the position grew back): cuts are given back and ended stops
 * re-armed, `first`'s stop before the others, then oldest first. A crypto buy stop is never asked.
 */
function growBack(w: Work, side: Side, qty: Dec, first: string | null, assetClass: string): void {
  if (side === 'buy' && isCrypto(w.symbol, assetClass)) return;
  let left = qty;
  const candidates = w.stops.filter((s) => s.side === side);
  candidates.sort((a, b) => (a.stopOf === first ? -1 : b.stopOf === first ? 1 : 0));
  for (const s of candidates) {
    if (left.lte(0)) break;
    if (isLive(s)) {
      const give = D.min(left, s.cut);
      if (give.lte(0)) continue;
      s.cut = normalize(new D(s.cut).minus(give));
      w.commands.push({ type: 'restore', stopOf: s.stopOf, qty: normalize(give), cutQty: s.cut });
      left = left.minus(give);
    } else {
      const give = D.min(left, s.asked);
      if (give.lte(0)) continue;
      rearm(w, s, s.asked, normalize(new D(s.asked).minus(give)));
      left = left.minus(give);
    }
  }
}

/**
 * Stops taken off while the position stayed (the extended-hours guard canceled them for an exit
 * that had not filled by the regular open): each is re-armed with its ask and cut, ahead of any
 * stop asked since (they are older), and the closing side is then cut down to the position,
 * oldest first, as a reduction would (what the exit sold in part is taken off them).
 */
export function resumeStops(position: PositionState, stopped: readonly StopCover[]): FeeStep {
  const q = new D(position.qty);
  const closing: Side = q.isNegative() ? 'buy' : 'sell';
  const back = q.isZero() ? [] : stopped.filter((s) => s.side === closing && !isLive(s)).map((s) => ({ ...s }));
  const ids = new Set(back.map((s) => s.stopOf));
  const w: Work = { symbol: position.symbol, stops: [...back, ...position.stops.filter((s) => !ids.has(s.stopOf)).map((s) => ({ ...s }))], commands: [] };
  for (const s of back) rearm(w, s, s.asked, s.cut);
  if (back.length > 0) shrink(w, closing, q.abs());
  return { next: { symbol: position.symbol, qty: position.qty, stops: w.stops }, commands: w.commands };
}

/** Takes `qty` off what `stopOf`'s stop covers (a stop that ended has nothing to take off). */
function cut(w: Work, type: 'cut' | 'shrink', stopOf: string, qty: Dec): void {
  const s = w.stops.find((x) => x.stopOf === stopOf);
  if (!s || s.done) return;
  s.cut = normalize(new D(s.cut).plus(qty));
  w.commands.push({ type, stopOf, qty: normalize(qty), cutQty: s.cut });
}

function cancel(w: Work, s: StopCover): void {
  s.cancelRequested = true;
  w.commands.push({ type: 'cancel', stopOf: s.stopOf }, { type: 'positionClosed', entryOrderId: s.stopOf });
}

/**
 * The position shrank to `left` without closing: the live stops on its closing side are cut down
 * to it, oldest first (the first shares bought are the first sold). A stop cut to nothing is
 * canceled. Recorded as cuts, not by rewriting the ask: a later fill of the order grows the ask,
 * and must not undo what the exits took.
 */
function shrink(w: Work, closing: Side, left: Dec): void {
  const live = w.stops.filter((s) => isLive(s) && s.side === closing);
  let excess = live.reduce((sum, s) => sum.plus(stopWants(s)), new D(0)).minus(left);
  for (const s of live) {
    if (excess.lte(0)) break;
    const wanted = new D(stopWants(s));
    const taken = D.min(excess, wanted);
    excess = excess.minus(taken);
    if (taken.gt(0)) cut(w, 'shrink', s.stopOf, taken);
    if (wanted.eq(taken)) cancel(w, s);
  }
}

/**
 * `qty` of `fill` opened a position: the order's own stop covers it (its ask grows by it; one that
 * ended is armed again for it). An entry the operator does not protect (CT_ADOPT=record) gets none,
 * nor does an option contract.
 */
function cover(w: Work, fill: PositionFill, order: FillOrder, qty: string): void {
  const side: Side = fill.side === 'buy' ? 'sell' : 'buy';
  // Crypto cannot be shorted: a crypto position below flat is fills not known yet, and a buy stop
  // for it would open a long.
  if (side === 'buy' && isCrypto(w.symbol, order.assetClass)) return;
  // Option contracts are recorded, never protected by a stop (issue 26 item 5).
  if (isOption(w.symbol, order.assetClass)) return;
  if (order.role === 'entry' && order.protect === false) return;
  const existing = w.stops.find((s) => s.stopOf === fill.orderId);
  if (existing && isLive(existing)) {
    // The ask grows by what this fill opened (the cut, if any, stays as it was).
    existing.asked = normalize(new D(existing.asked).plus(qty));
    w.commands.push({ type: 'cover', stopOf: existing.stopOf, side: existing.side, qty: existing.asked });
  } else if (existing) {
    rearm(w, existing, qty, '0', side);
  } else {
    w.stops.push({ stopOf: fill.orderId, side, asked: qty, cut: '0', cancelRequested: false, done: false });
    w.commands.push({ type: 'cover', stopOf: fill.orderId, side, qty });
  }
}

/** A stop that ended or was being canceled covers again: `asked` less `cutQty`. */
function rearm(w: Work, s: StopCover, asked: string, cutQty: string, side = s.side): void {
  const nextVersion = s.done;
  Object.assign(s, { side, asked, cut: cutQty, cancelRequested: false, done: false });
  w.commands.push({ type: 'cover', stopOf: s.stopOf, side, qty: asked, rearm: { cut: cutQty, nextVersion } });
}
