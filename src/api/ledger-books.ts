import type { Database } from '../store/database.js';
import { FifoLedger, type FifoBooks } from '../performance/fifo.js';
import { listFees } from '../store/fees.js';
import { fillsAfterId } from '../store/ledger.js';
import { prepared } from '../store/prepared.js';

/**
 * The FIFO books of the whole ledger (src/performance/fifo.ts) for GET /positions (the average entry
 * of the open lots) and GET /fills (what each exit realized). The dashboard asks for both every 5 s,
 * so the walk is kept per database and carried on: rows are only ever added, so the fills above the
 * highest id walked and the fees past the last one walked are what is new. When they all come after
 * what was walked (the stream's fills do) they extend the books; a fill or fee learned late (older
 * than one walked: a reconciliation's catch-up) sorts into the middle of the ledger, and the whole
 * ledger is walked again, as it is after a trade bust or correction changed a fill walked (busted fills
 * are left out, corrected ones walked at their new terms).
 */
interface Kept {
  ledger: FifoLedger;
  books: FifoBooks;
  /** Highest fill id walked. */
  topId: number;
  /** Busts and corrections applied when it was walked: another one changed a row walked. */
  changes: number;
  /** Fees walked, and the last in time order (at, activity_id). */
  fees: number;
  lastFee: { at: string; activity_id: string } | null;
}

const kept = new WeakMap<Database, Kept>();

export function ledgerBooks(db: Database): FifoBooks {
  const { top, feeCount, changes } = ledgerCounts(db);
  const hit = kept.get(db)?.changes === changes ? kept.get(db) : undefined;
  if (hit && hit.topId === top && hit.fees === feeCount) return hit.books;
  if (hit && hit.topId <= top && hit.fees <= feeCount) {
    const fills = hit.topId === top ? [] : fillsAfterId(db, hit.topId);
    const fees = hit.fees === feeCount ? [] : listFees(db, { from: hit.lastFee?.at }).filter((f) => !hit.lastFee || f.at > hit.lastFee.at || (f.at === hit.lastFee.at && f.activity_id > hit.lastFee.activity_id));
    // Every new fee is past the last one walked, and every new move after every move walked: carried on.
    if (fees.length === feeCount - hit.fees && hit.ledger.follows(fills, fees)) {
      hit.ledger.extend(fills, fees);
      return remember(db, hit.ledger, top, hit.fees + fees.length, fees.at(-1) ?? hit.lastFee, changes);
    }
  }
  // Ledger order, as GET /performance reads it, so the figures agree with it.
  const rows = db.all(db.kysely.selectFrom('fills').select(['id', 'symbol', 'side', 'qty', 'price', 'filled_at']).where('busted', '=', 0).orderBy('filled_at').orderBy('id'));
  const fees = listFees(db);
  // The highest id of the ledger (a busted fill's too): what is above it is new.
  return remember(db, new FifoLedger().extend(rows, fees), top, fees.length, fees.at(-1) ?? null, changes);
}

/** What tells whether the books walked are still the ledger's, in one statement (one round trip on PostgreSQL). */
const counts = prepared((k, _p: Record<string, never>) =>
  k.selectNoFrom((eb) => [
    eb.selectFrom('fills').select((e) => e.fn.max('id').as('top')).as('top'),
    eb.selectFrom('fees').select((e) => e.fn.countAll().as('n')).as('fees'),
    eb.selectFrom('fill_changes').select((e) => e.fn.countAll().as('n')).where('applied_at', 'is not', null).as('changes'),
  ]),
);

function ledgerCounts(db: Database): { top: number; feeCount: number; changes: number } {
  const row = db.first(counts(db, {}));
  return { top: Number(row?.top ?? 0), feeCount: Number(row?.fees ?? 0), changes: Number(row?.changes ?? 0) };
}

function remember(db: Database, ledger: FifoLedger, topId: number, fees: number, lastFee: { at: string; activity_id: string } | null, changes: number): FifoBooks {
  const books = ledger.books();
  kept.set(db, { ledger, books, topId, changes, fees, lastFee: lastFee ? { at: lastFee.at, activity_id: lastFee.activity_id } : null });
  return books;
}
