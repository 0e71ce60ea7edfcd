import { multiplierOf } from '../domain/symbols.js';
import { D, normalize, type Dec } from '../decimal.js';
import { inLedgerOrder } from '../domain/fees.js';

/** One ledger fill as /performance reads it (a subset of the fills row). */
export interface PerformanceFill {
  id: number;
  symbol: string;
  side: 'buy' | 'sell';
  qty: string;
  price: string;
  filled_at: string;
}

/** One crypto fee as /performance reads it (a subset of the fees row): `qty` of the coin taken. */
export interface PerformanceFee {
  symbol: string;
  qty: string;
  /** Canonical UTC; placed after the fills of its millisecond (src/domain/fees.ts). */
  at: string;
}

export interface EquityPoint {
  /** filled_at of the closing fill, or `at` of the fee. */
  at: string;
  /** Cumulative realized P&L (closed lots, before fees) after that fill or fee. */
  realized_pnl: string;
  /** Cumulative realized P&L less cumulative fees: `realized_pnl − fees` at that point. */
  net_pnl: string;
}

/**
 * Money and ratios are decimal strings; counts are numbers. One population feeds the money figures:
 * the closed lots (each part of an open lot that a fill closed, partial closes of positions still
 * open included), so `realized_pnl = gross_profit − gross_loss` exactly. Fees are never in them.
 */
export interface PerformanceStats {
  /** Σ P&L of the closed lots, before fees; always gross_profit − gross_loss. */
  realized_pnl: string;
  /** Σ P&L of the closed lots that made money. */
  gross_profit: string;
  /** Positive magnitude of Σ P&L of the closed lots that lost money. */
  gross_loss: string;
  /** How many closed lots (lot × closing fill matches) the three figures above add up. */
  closed_lots: number;
  /** Crypto fees taken in the coin (CFEE), at the FIFO cost of the coin taken; commissions (none recorded) would be here too. */
  fees: string;
  /** realized_pnl − fees. */
  net_pnl: string;
  /** gross_profit / gross_loss; null without a loss, 0 with losses and no profit. */
  profit_factor: string | null;
  /** Completed round trips only (flat → open → flat). */
  round_trips: number;
  /** Round trips whose closed lots summed above 0 (before fees). */
  wins: number;
  /** Below 0; a round trip that made exactly 0 is neither a win nor a loss. */
  losses: number;
  win_rate: string | null;
  /** Mean P&L (before fees) of a completed round trip. */
  expectancy: string | null;
  /** Largest peak-to-trough fall of the realized P&L curve (which starts at 0), positive, before fees. */
  max_drawdown: string;
  /** Signed open position (long > 0); null in `total` when it spans several symbols. */
  open_qty: string | null;
  equity_curve: EquityPoint[];
}

export interface PerformanceReport {
  total: PerformanceStats;
  by_symbol: Record<string, PerformanceStats>;
}

const RATIO_DP = 10;
const ratio = (num: Dec, den: Dec | number): string => normalize(num.div(den).toDecimalPlaces(RATIO_DP, D.ROUND_HALF_EVEN));

/** Running statistics over a stream of closed lots, fees and completed round trips (one per symbol, one for the total). */
class Tally {
  private grossProfit = new D(0);
  private grossLoss = new D(0);
  private closedLots = 0;
  private fees = new D(0);
  private trips = 0;
  private tripSum = new D(0);
  private wins = 0;
  private losses = 0;
  private peak = new D(0);
  private maxDrawdown = new D(0);
  private readonly curve: EquityPoint[] = [];

  /** Realized P&L is defined as gross profit − gross loss, so the identity holds by construction. */
  private get realized(): Dec {
    return this.grossProfit.minus(this.grossLoss);
  }

  /** One closed lot (part of an open lot closed by one fill) realized `pnl`. */
  lot(pnl: Dec): void {
    this.closedLots += 1;
    if (pnl.gt(0)) this.grossProfit = this.grossProfit.plus(pnl);
    else if (pnl.lt(0)) this.grossLoss = this.grossLoss.minus(pnl);
  }

  /** A fee worth `value` (positive) was paid. */
  fee(value: Dec): void {
    this.fees = this.fees.plus(value);
  }

  /** After a closing fill or a fee at `at`: a point of the curve. */
  point(at: string): void {
    const realized = this.realized;
    this.peak = D.max(this.peak, realized);
    this.maxDrawdown = D.max(this.maxDrawdown, this.peak.minus(realized));
    this.curve.push({ at, realized_pnl: normalize(realized), net_pnl: normalize(realized.minus(this.fees)) });
  }

  /** A round trip completed; its closed lots summed to `pnl`. */
  trip(pnl: Dec): void {
    this.trips += 1;
    this.tripSum = this.tripSum.plus(pnl);
    if (pnl.gt(0)) this.wins += 1;
    else if (pnl.lt(0)) this.losses += 1;
  }

  stats(openQty: string | null): PerformanceStats {
    const realized = this.realized;
    return {
      realized_pnl: normalize(realized),
      gross_profit: normalize(this.grossProfit),
      gross_loss: normalize(this.grossLoss),
      closed_lots: this.closedLots,
      fees: normalize(this.fees),
      net_pnl: normalize(realized.minus(this.fees)),
      profit_factor: this.grossLoss.isZero() ? null : ratio(this.grossProfit, this.grossLoss),
      round_trips: this.trips,
      wins: this.wins,
      losses: this.losses,
      win_rate: this.trips === 0 ? null : ratio(new D(this.wins), this.trips),
      expectancy: this.trips === 0 ? null : ratio(this.tripSum, this.trips),
      max_drawdown: normalize(this.maxDrawdown),
      open_qty: openQty,
      equity_curve: this.curve,
    };
  }
}

interface Lot {
  qty: Dec;
  price: Dec;
}

/**
 * The Decimal of a ledger string, one instance per text while the walk runs: a ledger of 100,000
 * fills holds as many open lots at a few prices and sizes, and a Decimal apiece made the kept books
 * (ledger-books.ts) 50 MB, which the API's garbage collector then marked again and again. Decimals
 * are immutable (every operation returns a new one), so one instance can be shared.
 */
class DecimalOf {
  private readonly known = new Map<string, Dec>();

  of(text: string): Dec {
    let d = this.known.get(text);
    if (d === undefined) {
      // Bounded: a ledger of all-different prices keeps what it needs in its lots anyway.
      if (this.known.size >= 4096) this.known.clear();
      d = new D(text);
      this.known.set(text, d);
    }
    return d;
  }
}

/** One symbol's open lots, oldest first, all on one side. */
interface Book {
  lots: Lot[];
  long: boolean;
  /** Σ lot qty and Σ lot qty × price of the open lots, kept as they change (the books are read after every new fill). */
  size: Dec;
  cost: Dec;
  /** Σ P&L of the closed lots of the round trip in progress. */
  tripPnl: Dec;
  tally: Tally;
}

/** After a closing fill or a fee: a curve point; the round trip completes when no lot is left. */
function settle(book: Book, total: Tally, at: string): void {
  book.tally.point(at);
  total.point(at);
  if (book.lots.length === 0) {
    book.tally.trip(book.tripPnl);
    total.trip(book.tripPnl);
    book.tripPnl = new D(0);
  }
}

function openQty(book: Book): string {
  const size = book.lots.reduce((sum, lot) => sum.plus(lot.qty), new D(0));
  return normalize(book.long ? size : size.negated());
}

/** `qty` of an open lot taken (closed, or a fee's coin): the lot and the book's sums shrink. */
function take(book: Book, lot: Lot, qty: Dec): void {
  lot.qty = lot.qty.minus(qty);
  book.size = book.size.minus(qty);
  book.cost = book.cost.minus(qty.times(lot.price));
}

/** What the walk tells about each closing fill: the summed P&L of the lots it closed. */
type OnClose = (fill: PerformanceFill, pnl: Dec) => void;

/**
 * The FIFO walk both computePerformance and fifoBooks make (see computePerformance for the rules),
 * one move at a time: each symbol's book, with `total` and each book's tally fed. Moves must come in
 * ledger order; a walk can be carried on with moves that come after all it has seen (FifoLedger).
 */
class FifoWalk {
  readonly books = new Map<string, Book>();
  private readonly decimal = new DecimalOf();

  constructor(
    private readonly total: Tally,
    private readonly symbol?: string,
    private readonly onClose?: OnClose,
  ) {}

  fee(fee: PerformanceFee): void {
    const book = this.books.get(fee.symbol);
    if ((this.symbol !== undefined && fee.symbol !== this.symbol) || !book?.long) return;
    let rest = new D(fee.qty);
    let value = new D(0);
    let taken = false;
    while (rest.gt(0) && book.lots[0]) {
      const lot = book.lots[0];
      const matched = D.min(rest, lot.qty);
      value = value.plus(matched.times(lot.price));
      taken = true;
      rest = rest.minus(matched);
      take(book, lot, matched);
      if (lot.qty.isZero()) book.lots.shift();
    }
    if (taken) {
      book.tally.fee(value);
      this.total.fee(value);
      settle(book, this.total, fee.at);
    }
  }

  fill(f: PerformanceFill): void {
    if (this.symbol !== undefined && f.symbol !== this.symbol) return;
    let rest = this.decimal.of(f.qty);
    if (!rest.gt(0)) return; // a zero-qty row moves nothing
    const price = this.decimal.of(f.price);
    const buy = f.side === 'buy';
    let book = this.books.get(f.symbol);
    if (!book) {
      book = { lots: [], long: buy, size: new D(0), cost: new D(0), tripPnl: new D(0), tally: new Tally() };
      this.books.set(f.symbol, book);
    }

    let closed = false;
    let fillPnl = new D(0);
    while (rest.gt(0) && book.long !== buy) {
      const lot = book.lots[0];
      if (!lot) break;
      const matched = D.min(rest, lot.qty);
      const perUnit = book.long ? price.minus(lot.price) : lot.price.minus(price);
      // An option contract's price is per share: a contract's P&L is 100 times it.
      const pnl = matched.times(perUnit).times(multiplierOf(f.symbol));
      book.tally.lot(pnl);
      this.total.lot(pnl);
      book.tripPnl = book.tripPnl.plus(pnl);
      fillPnl = fillPnl.plus(pnl);
      closed = true;
      rest = rest.minus(matched);
      take(book, lot, matched);
      if (lot.qty.isZero()) book.lots.shift();
    }

    if (closed) {
      settle(book, this.total, f.filled_at);
      this.onClose?.(f, fillPnl);
    }

    if (rest.gt(0)) {
      if (book.lots.length === 0) book.long = buy; // flat: this remainder starts a new round trip
      book.lots.push({ qty: rest, price });
      book.size = book.size.plus(rest);
      book.cost = book.cost.plus(rest.times(price));
    }
  }

  /** Fills (in ledger order) and fees (in time order), merged as the ledger orders them. */
  walk(fills: readonly PerformanceFill[], fees: readonly PerformanceFee[]): this {
    for (const move of inLedgerOrder(fills, fees)) {
      if ('fee' in move) this.fee(move.fee);
      else this.fill(move.fill);
    }
    return this;
  }
}

function walk(fills: readonly PerformanceFill[], opts: { symbol?: string; fees?: readonly PerformanceFee[] }, total: Tally, onClose?: OnClose): Map<string, Book> {
  return new FifoWalk(total, opts.symbol, onClose).walk(fills, opts.fees ?? []).books;
}

/**
 * Realized performance of a fills ledger by FIFO lot matching, long and short. `fills` must be in
 * ledger order (filled_at, id), `opts.fees` (crypto fees taken in the coin) in time order. A fill
 * against open lots closes the oldest first, each part of a lot it closes a closed lot with its own
 * P&L; any remainder opens a lot on the fill's side, so one fill can close a long and open a short.
 * A fee takes its coin from the long's oldest lots for nothing: those parts are not closed lots (no
 * P&L) but the fee, valued at what that coin cost, so open_qty is the fee-net position the ledger
 * holds and net_pnl is the cash result; a fee beyond the long's lots (fills the ledger, or the
 * `since` window, lacks) is not counted.
 */
export function computePerformance(fills: readonly PerformanceFill[], opts: { symbol?: string; fees?: readonly PerformanceFee[] } = {}): PerformanceReport {
  const total = new Tally();
  const books = walk(fills, opts, total);
  const entries = [...books].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const by_symbol = Object.fromEntries(entries.map(([symbol, book]) => [symbol, book.tally.stats(openQty(book))]));
  // Quantities of different instruments (shares, coins) do not add up to anything meaningful.
  const first = entries[0];
  const totalOpen = entries.length > 1 ? null : first ? openQty(first[1]) : '0';
  return { total: total.stats(totalOpen), by_symbol };
}

/** A symbol's open FIFO lots, summed: what is held and what it cost (both signed: a short is negative). */
export interface OpenLots {
  qty: string;
  /** Σ lot qty × lot price, signed like qty. */
  cost: string;
}

/** What one walk of the whole ledger leaves: each symbol's open lots, and what each closing fill realized. */
export interface FifoBooks {
  /** Symbols with open lots only. */
  open: Map<string, OpenLots>;
  /** Fill id → Σ P&L (before fees) of the lots that fill closed; fills that closed nothing are absent. */
  realized: Map<number, string>;
}

/**
 * The same FIFO walk as computePerformance, for the positions' average entry (the open lots) and
 * each exit's realized P&L (GET /positions, GET /fills): the figures agree with /performance.
 */
export function fifoBooks(fills: readonly PerformanceFill[], fees: readonly PerformanceFee[] = []): FifoBooks {
  return new FifoLedger().extend(fills, fees).books();
}

/**
 * fifoBooks kept current: the walk is carried on with the moves that come after all it has seen
 * (`extend`), so a new fill costs its own lots, not a walk of the whole ledger. Whether new moves
 * do come after is the caller's to check (`follows`); one that does not needs a new FifoLedger.
 */
export class FifoLedger {
  private readonly realized = new Map<number, string>();
  private readonly walker = new FifoWalk(new Tally(), undefined, (f, pnl) => this.realized.set(f.id, normalize(pnl)));
  /** The last fill walked (ledger order: filled_at, then id) and the last fee's millisecond. */
  private lastFill: { at: string; id: number } | null = null;
  private lastFeeMs: string | null = null;

  /** Whether fills (ledger order) and fees (time order) all come after every move walked so far. */
  follows(fills: readonly PerformanceFill[], fees: readonly PerformanceFee[]): boolean {
    const last = this.lastFill;
    const firstFill = fills[0];
    if (firstFill && last && (firstFill.filled_at < last.at || (firstFill.filled_at === last.at && firstFill.id <= last.id))) return false;
    // A fill goes before a fee of its millisecond or later (inLedgerOrder): after the last fee only in a later one.
    if (firstFill && this.lastFeeMs !== null && firstFill.filled_at.slice(0, 23) <= this.lastFeeMs) return false;
    // A fee goes after the fills of its millisecond and earlier: after the last fill from that millisecond on.
    const firstFee = fees[0];
    if (firstFee && last && firstFee.at.slice(0, 23) < last.at.slice(0, 23)) return false;
    return true;
  }

  extend(fills: readonly PerformanceFill[], fees: readonly PerformanceFee[] = []): this {
    this.walker.walk(fills, fees);
    const f = fills.at(-1);
    if (f) this.lastFill = { at: f.filled_at, id: f.id };
    const fee = fees.at(-1);
    if (fee) this.lastFeeMs = fee.at.slice(0, 23);
    return this;
  }

  books(): FifoBooks {
    const open = new Map<string, OpenLots>();
    for (const [symbol, book] of this.walker.books) {
      if (book.lots.length === 0) continue;
      const { size, cost } = book;
      open.set(symbol, { qty: normalize(book.long ? size : size.negated()), cost: normalize(book.long ? cost : cost.negated()) });
    }
    return { open, realized: this.realized };
  }
}
