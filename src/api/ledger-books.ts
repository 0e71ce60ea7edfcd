import type { Database } from '../store/database.js';
import { fifoBooks, type FifoBooks } from '../performance/fifo.js';
import { listFees } from '../store/fees.js';

/**
 * The FIFO books of the whole ledger (src/performance/fifo.ts `fifoBooks`) for GET /positions (the
 * average entry of the open lots) and GET /fills (what each exit realized). The dashboard asks for
 * both every 5 s, so one walk is kept per database until a fill or fee is recorded: rows are only
 * ever added, so the highest fill id (one index probe, where a count would read 100,000 rows) and the
 * number of fees (a few per day) say whether the ledger changed.
 */
const kept = new WeakMap<Database, { key: string; books: FifoBooks }>();

export function ledgerBooks(db: Database): FifoBooks {
  const fills = db.first(db.kysely.selectFrom('fills').select((eb) => eb.fn.max('id').as('top')));
  const fees = db.first(db.kysely.selectFrom('fees').select((eb) => eb.fn.countAll<number>().as('n')));
  const key = `${fills?.top ?? 0}:${fees?.n ?? 0}`;
  const hit = kept.get(db);
  if (hit && hit.key === key) return hit.books;
  // Ledger order, as GET /performance reads it, so the figures agree with it.
  const rows = db.all(db.kysely.selectFrom('fills').select(['id', 'symbol', 'side', 'qty', 'price', 'filled_at']).orderBy('filled_at').orderBy('id'));
  const books = fifoBooks(rows, listFees(db));
  kept.set(db, { key, books });
  return books;
}
