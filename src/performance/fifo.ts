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
  /** filled_at of the closing fill. */
  at: string;
  /** Cumulative realized P&L after that fill. */
  realized_pnl: string;
}

/** Money and ratios are decimal strings; counts are numbers. */
export interface PerformanceStats {
  /** Every realized close, including partial closes of round trips still open. */
  realized_pnl: string;
  /** Completed round trips only (flat → open → flat). */
  round_trips: number;
  wins: number;
  /** A round trip that made exactly 0 is neither a win nor a loss. */
  losses: number;
  win_rate: string | null;
  gross_profit: string;
  /** Positive magnitude of the summed losing round trips. */
  gross_loss: string;
  profit_factor: string | null;
  /** Mean P&L of a completed round trip. */
  expectancy: string | null;
  /** Largest peak-to-trough fall of the realized P&L curve (which starts at 0), positive. */
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

/** Running statistics over a stream of closes and completed round trips (one per symbol, one for the total). */
class Tally {
  private realized = new D(0);
  private trips = 0;
  private wins = 0;
  private losses = 0;
  private grossProfit = new D(0);
  private grossLoss = new D(0);
  private peak = new D(0);
  private maxDrawdown = new D(0);
  private readonly curve: EquityPoint[] = [];

  /** A fill that closed (part of) a position realized `pnl`. */
  close(at: string, pnl: Dec): void {
    this.realized = this.realized.plus(pnl);
    this.peak = D.max(this.peak, this.realized);
    this.maxDrawdown = D.max(this.maxDrawdown, this.peak.minus(this.realized));
    this.curve.push({ at, realized_pnl: normalize(this.realized) });
  }

  /** A round trip completed with total P&L `pnl`. */
  trip(pnl: Dec): void {
    this.trips += 1;
    if (pnl.gt(0)) {
      this.wins += 1;
      this.grossProfit = this.grossProfit.plus(pnl);
    } else if (pnl.lt(0)) {
      this.losses += 1;
      this.grossLoss = this.grossLoss.minus(pnl);
    }
  }

  stats(openQty: string | null): PerformanceStats {
    // Round-trip stats use completed trips only; realized_pnl may also hold partial closes.
    const tripPnl = this.grossProfit.minus(this.grossLoss);
    return {
      realized_pnl: normalize(this.realized),
      round_trips: this.trips,
      wins: this.wins,
      losses: this.losses,
      win_rate: this.trips === 0 ? null : ratio(new D(this.wins), this.trips),
      gross_profit: normalize(this.grossProfit),
      gross_loss: normalize(this.grossLoss),
      profit_factor: this.grossLoss.isZero() ? null : ratio(this.grossProfit, this.grossLoss),
      expectancy: this.trips === 0 ? null : ratio(tripPnl, this.trips),
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

/** One symbol's open lots, oldest first, all on one side. */
interface Book {
  lots: Lot[];
  long: boolean;
  /** Realized P&L of the round trip in progress. */
  tripPnl: Dec;
  tally: Tally;
}

/** A close (a fill's, or a fee's) realized `pnl`; the round trip completes when no lot is left. */
function realize(book: Book, total: Tally, at: string, pnl: Dec): void {
  book.tripPnl = book.tripPnl.plus(pnl);
  book.tally.close(at, pnl);
  total.close(at, pnl);
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

/**
 * Realized performance of a fills ledger by FIFO lot matching, long and short. `fills` must be in
 * ledger order (filled_at, id), `opts.fees` (crypto fees taken in the coin) in time order. A fill
 * against open lots closes the oldest first; any remainder opens a lot on the fill's side, so one
 * fill can close a long and open a short. A fee takes its coin from the long's oldest lots for
 * nothing: a realized loss of what that coin cost (so open_qty is the fee-net position the ledger
 * holds); a fee beyond the long's lots (fills the ledger lacks) is not counted.
 */
export function computePerformance(fills: readonly PerformanceFill[], opts: { symbol?: string; fees?: readonly PerformanceFee[] } = {}): PerformanceReport {
  const total = new Tally();
  const books = new Map<string, Book>();

  for (const move of inLedgerOrder(fills, opts.fees ?? [])) {
    if ('fee' in move) {
      const fee = move.fee;
      const book = books.get(fee.symbol);
      if ((opts.symbol !== undefined && fee.symbol !== opts.symbol) || !book?.long) continue;
      let rest = new D(fee.qty);
      let realized = new D(0);
      let taken = false;
      while (rest.gt(0) && book.lots[0]) {
        const lot = book.lots[0];
        const matched = D.min(rest, lot.qty);
        realized = realized.minus(matched.times(lot.price));
        taken = true;
        rest = rest.minus(matched);
        lot.qty = lot.qty.minus(matched);
        if (lot.qty.isZero()) book.lots.shift();
      }
      if (taken) realize(book, total, fee.at, realized);
      continue;
    }
    const f = move.fill;
    if (opts.symbol !== undefined && f.symbol !== opts.symbol) continue;
    let rest = new D(f.qty);
    if (!rest.gt(0)) continue; // a zero-qty row moves nothing
    const price = new D(f.price);
    const buy = f.side === 'buy';
    let book = books.get(f.symbol);
    if (!book) {
      book = { lots: [], long: buy, tripPnl: new D(0), tally: new Tally() };
      books.set(f.symbol, book);
    }

    let realized = new D(0);
    let closed = false;
    while (rest.gt(0) && book.long !== buy) {
      const lot = book.lots[0];
      if (!lot) break;
      const matched = D.min(rest, lot.qty);
      const perUnit = book.long ? price.minus(lot.price) : lot.price.minus(price);
      realized = realized.plus(matched.times(perUnit));
      closed = true;
      rest = rest.minus(matched);
      lot.qty = lot.qty.minus(matched);
      if (lot.qty.isZero()) book.lots.shift();
    }

    if (closed) realize(book, total, f.filled_at, realized);

    if (rest.gt(0)) {
      if (book.lots.length === 0) book.long = buy; // flat: this remainder starts a new round trip
      book.lots.push({ qty: rest, price });
    }
  }

  const entries = [...books].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const by_symbol = Object.fromEntries(entries.map(([symbol, book]) => [symbol, book.tally.stats(openQty(book))]));
  // Quantities of different instruments (shares, coins) do not add up to anything meaningful.
  const first = entries[0];
  const totalOpen = entries.length > 1 ? null : first ? openQty(first[1]) : '0';
  return { total: total.stats(totalOpen), by_symbol };
}
