import { D, normalize } from '../decimal.js';
import { canonicalTime } from '../time.js';
import type { FillRecord, OrderLedger } from '../domain/protection.js';
import type { Database } from './database.js';
import { feeTotals } from './fees.js';
import { pick, prepared, preparedRows } from './prepared.js';
import type { FillsTable } from './schema.js';
import type { Insertable } from 'kysely';

/** The fills ledger: one row per (order_id, cum_qty). */

/** Whether the fill `(order_id, cum_qty)` is recorded already. */
export function hasFill(db: Database, orderId: string, cumQty: string): boolean {
  return db.first(db.kysely.selectFrom('fills').select('order_id').where('order_id', '=', orderId).where('cum_qty', '=', cumQty)) !== undefined;
}

type FillInsert = Omit<Insertable<FillsTable>, 'id'>;
const FILL_COLUMNS = ['order_id', 'cum_qty', 'qty', 'price', 'symbol', 'side', 'exec_id', 'execution_id', 'source', 'filled_at', 'recorded_at'] as const;

/** A batch of fill rows in one statement; each row whose identity exists already is skipped, and the rest are returned. */
const insertFillRows = preparedRows<FillInsert, { order_id: string; cum_qty: string }>((k, rows) =>
  k
    .insertInto('fills')
    .values(rows.map((r) => pick(r, FILL_COLUMNS)))
    .onConflict((oc) => oc.columns(['order_id', 'cum_qty']).doNothing()).returning(['order_id', 'cum_qty']),
);

/** Inserts fill rows (one statement); a row whose identity exists already is skipped. Returns the rows written, in the order given. */
export function insertFills(db: Database, fills: readonly FillRecord[], now = new Date()): FillRecord[] {
  if (fills.length === 0) return [];
  const recordedAt = now.toISOString();
  const rows = fills.map((f) => ({
    order_id: f.orderId,
    cum_qty: f.cumQty,
    qty: f.qty,
    price: f.price,
    symbol: f.symbol,
    side: f.side,
    exec_id: f.execId,
    execution_id: f.executionId ?? null,
    source: f.source,
    filled_at: canonicalTime(f.at) ?? f.at,
    recorded_at: recordedAt,
  }));
  const inserted = new Set(db.all(insertFillRows(db, rows)).map((r) => `${r.order_id}\u0000${r.cum_qty}`));
  // A batch that names one identity twice wrote it once: the first is the one written.
  return fills.filter((f) => inserted.delete(`${f.orderId}\u0000${f.cumQty}`));
}

const fillsOfOrder = prepared((k, p: { orderId: string }) => k.selectFrom('fills').select(['id', 'cum_qty', 'qty', 'price', 'busted', 'corrected', 'recorded_at']).where('order_id', '=', p.orderId));

/**
 * A later report of a recorded fill that knows its broker execution id: kept on the row (the one row of
 * `(order_id, cum_qty)`, never a second) where it was not known yet. True when it wrote it.
 */
const keepExecution = prepared((k, p: { orderId: string; cumQty: string; executionId: string }) =>
  k.updateTable('fills').set({ execution_id: p.executionId }).where('order_id', '=', p.orderId).where('cum_qty', '=', p.cumQty).where('execution_id', 'is', null),
);

export function noteExecutionId(db: Database, orderId: string, cumQty: string, executionId: string): boolean {
  // Built once per store: every stream fill asks (a new one's row has it already).
  const { changes } = db.run(keepExecution(db, { orderId, cumQty, executionId }));
  return changes > 0;
}

/** What the ledger holds for one order (seed for an actor rebuilt without its snapshot). */
export function ledgerOf(db: Database, orderId: string): OrderLedger {
  const rows = db.all(fillsOfOrder(db, { orderId }));
  let filled = new D(0);
  let net = new D(0);
  let notional = new D(0);
  for (const r of rows) {
    filled = D.max(filled, r.cum_qty);
    if (r.busted !== 0) continue;
    net = net.plus(r.qty);
    notional = notional.plus(new D(r.qty).times(r.price));
  }
  // Busts and corrections moved the broker's filled_qty off the highest cum_qty (machines/fill-plan.ts).
  const changed = net.minus(filled);
  const out: OrderLedger = { filledQty: normalize(filled), notional: normalize(notional), ...(changed.isZero() ? {} : { changed: normalize(changed) }) };
  // The highest cum_qty recorded when the last change was applied: executions reported at or below it are of before it.
  const changedIds = rows.filter((r) => r.busted !== 0 || r.corrected !== 0).map((r) => r.id);
  if (changedIds.length > 0) {
    const last = db.first(db.kysely.selectFrom('fill_changes').select((eb) => eb.fn.max('applied_at').as('at')).where('fill_id', 'in', changedIds));
    const at = last?.at == null ? null : String(last.at);
    let upTo = new D(0);
    for (const r of rows) if (at === null || r.recorded_at <= at) upTo = D.max(upTo, r.cum_qty);
    out.changedAt = normalize(upTo);
  }
  return out;
}

/**
 * What an order's fills add up to now: busted fills left out, corrected ones at their new qty — the
 * broker's `filled_qty` after its busts and corrections (where `ledgerOf`'s filledQty, the highest
 * cum_qty recorded, is the fills' identity and stays).
 */
export function ledgerNetFilled(db: Database, orderId: string): string {
  const l = ledgerOf(db, orderId);
  return normalize(new D(l.filledQty).plus(l.changed ?? '0'));
}

/**
 * Signed position per symbol implied by every recorded fill (buys add, sells subtract) less every
 * recorded crypto fee (the coin a buy paid: Alpaca leaves q less the fee in the position). A busted
 * fill counts for nothing, a corrected one at its new qty.
 */
export function ledgerPositions(db: Database): Map<string, string> {
  // Fills of one quantity counted by the store (its text, summed exactly here): a restart reads
  // thousands of fills of a few sizes, and decimal arithmetic per fill was most of this.
  const rows = db.all(
    db.kysely
      .selectFrom('fills')
      .select((eb) => ['symbol', 'side', 'qty', eb.fn.countAll<number | string>().as('n')])
      .where('busted', '=', 0)
      .groupBy(['symbol', 'side', 'qty']),
  );
  const out = new Map<string, InstanceType<typeof D>>();
  for (const r of rows) {
    const prev = out.get(r.symbol) ?? new D(0);
    const moved = new D(r.qty).times(String(r.n));
    out.set(r.symbol, r.side === 'buy' ? prev.plus(moved) : prev.minus(moved));
  }
  for (const [symbol, fee] of feeTotals(db)) out.set(symbol, (out.get(symbol) ?? new D(0)).minus(fee));
  return new Map([...out].map(([k, v]) => [k, normalize(v)]));
}

/**
 * Crypto buy fills (the pair symbols: a CFEE follows each) filled at or after `from` (canonical UTC)
 * with a row id above `afterId`: the oldest one's fill time and the highest id, or null when none.
 */
export function cryptoBuysSince(db: Database, from: string, afterId = 0): { first: string; lastId: number } | null {
  const row = db.first(
    db.kysely
      .selectFrom('fills')
      .select((eb) => [eb.fn.min('filled_at').as('first'), eb.fn.max('id').as('last_id')])
      .where('side', '=', 'buy')
      .where('symbol', 'like', '%/%')
      .where('filled_at', '>=', canonicalTime(from) ?? from)
      .where('id', '>', afterId),
  );
  return row?.first == null ? null : { first: String(row.first), lastId: Number(row.last_id) };
}

/** How many fills of a symbol the ledger holds: the position's identity for a close's client order id. */
export function fillCount(db: Database, symbol: string): number {
  const row = db.first(db.kysely.selectFrom('fills').select((eb) => eb.fn.countAll<number>().as('n')).where('symbol', '=', symbol));
  return Number(row?.n ?? 0);
}

/** The newest fill time per symbol (canonical UTC text, so it orders as a string). */
export function latestFillTimes(db: Database): Map<string, string> {
  const rows = db.all(db.kysely.selectFrom('fills').select(['symbol']).select((eb) => eb.fn.max('filled_at').as('at')).groupBy('symbol'));
  return new Map(rows.map((r) => [r.symbol, String(r.at)]));
}

/** The time of `symbol`'s latest fill at or before `at`, or null: where a walk must start to see it. */
export function lastFillAtOrBefore(db: Database, symbol: string, at: string): string | null {
  const row = db.first(
    db.kysely.selectFrom('fills').select('filled_at').where('symbol', '=', symbol).where('filled_at', '<=', at).orderBy('filled_at', 'desc').limit(1),
  );
  return row?.filled_at ?? null;
}

/** A symbol's fills from a time on, in the broker's order (fill time; arrival breaks ties); busted ones left out. */
export function fillsSince(db: Database, symbol: string, from: string) {
  return db.all(
    db.kysely
      .selectFrom('fills')
      .select(['order_id', 'cum_qty', 'qty', 'side', 'filled_at'])
      .where('symbol', '=', symbol)
      .where('filled_at', '>=', from)
      .where('busted', '=', 0)
      .orderBy('filled_at')
      .orderBy('id'),
  );
}

/** Fills above an id, in ledger order (filled_at, then id): what was recorded since (busted ones left out). */
export function fillsAfterId(db: Database, afterId: number) {
  // Read by id (the primary key's range) and sorted here: ordered by filled_at, SQLite would walk
  // that whole index to find the few rows above the id.
  return db.all(fillsAfter(db, { afterId })).sort((a, b) => (a.filled_at < b.filled_at ? -1 : a.filled_at > b.filled_at ? 1 : a.id - b.id));
}

const fillsAfter = prepared((k, p: { afterId: number }) =>
  k.selectFrom('fills').select(['id', 'symbol', 'side', 'qty', 'price', 'filled_at']).where('id', '>', p.afterId).where('busted', '=', 0).orderBy('id'),
);
