import type Router from '@koa/router';
import { CompiledQuery, sql, type SelectQueryBuilder } from 'kysely';
import type { Database } from '../store/database.js';
import { placedByUs } from '../domain/orders.js';
import { cursorParam, encodeCursor, intParam, symbolParam, timeParam } from './query.js';
import { ledgerBooks } from './ledger-books.js';
import { AnswerCache } from './answer-cache.js';
import { fillsPageBody, pageBodyOfRows, sqliteFillRow, storedFillSelect, storedFillWidth } from './fill-json.js';
import { rowOf, StoredFillTexts, type KeptFill } from './stored-fill-texts.js';
import type { Schema } from '../store/schema.js';

/** What a fill was for, to a trader reading the ledger. */
export type FillRole = 'entry' | 'exit' | 'stop' | 'outside';

/**
 * A fill's role from its order: a protective stop's fill is `stop` (whoever's position it
 * covered); an order not placed by this service (no `ct-` client order id, or no order row at all)
 * is `outside`; else the role the order actor gave it at its first fill (a role not yet known:
 * `exit` if the fill closed lots, else `entry`).
 */
export function fillRole(order: { role: string | null; client_order_id: string | null } | null, closedLots: boolean): FillRole {
  if (order?.role === 'stop') return 'stop';
  if (!order || order.client_order_id === null || !placedByUs(order.client_order_id)) return 'outside';
  if (order.role === 'entry' || order.role === 'exit') return order.role;
  return closedLots ? 'exit' : 'entry';
}

/**
 * GET /fills?symbol=&since=&limit=&cursor= — the ledger, newest first, cursor-paginated; each fill
 * with its `role` (fillRole) and `realized_pnl`: what the FIFO lots it closed realized, before
 * fees, as GET /performance counts them (null when it closed none); `busted` / `corrected` (a trade
 * bust or correction applied to it; a corrected fill shows its new terms and its `original_qty` /
 * `original_price`). An answer is kept while the database is unchanged (answer-cache.ts): the dashboard
 * asks for the same page every 5 s.
 */
export function fillRoutes(router: Router, db: Database): void {
  const answers = new AnswerCache(db);
  router.get('/fills', (ctx) => {
    const params = { symbol: symbolParam(ctx.query), since: timeParam(ctx.query, 'since'), limit: intParam(ctx.query, 'limit', 100, 1, 1000), cursor: cursorParam(ctx.query) };
    ctx.type = 'json';
    ctx.body = answers.answer(JSON.stringify(params), () => fillsPage(db, params));
  });
}

/** Per database: the stored columns' text of fills answered lately (SQLite: stored-fill-texts.ts). */
const keptTexts = new WeakMap<Database, StoredFillTexts>();

/** A page's row, whatever the store: its stored columns (fill-json.ts) and what the rest of the answer needs. */
interface PageRow {
  stored: readonly unknown[];
  id: number;
  role: string | null;
  client_order_id: string | null;
  busted: number;
  corrected: number;
}

/** A page of the ledger as the answer's JSON (fill-json.ts): the bytes of `{ fills, next_cursor }` as JSON.stringify gives them. */
export function fillsPage(db: Database, { symbol, since, limit, cursor }: { symbol?: string; since?: string; limit: number; cursor?: number }): Buffer {
  let q = db.kysely
    .selectFrom('fills')
    .leftJoin('orders', 'orders.order_id', 'fills.order_id')
    .select(['fills.id', 'orders.role', 'orders.client_order_id', 'fills.busted', 'fills.corrected'])
    .orderBy('fills.id', 'desc')
    .limit(limit + 1);
  if (symbol) q = q.where('fills.symbol', '=', symbol);
  // On SQLite `+` keeps the time off the index choice: the page walks (symbol, id) newest first and
  // stops at `limit`, instead of sorting every fill of the symbol since then (24 ms at 100k fills).
  if (since) q = db.dialect === 'sqlite' ? q.where(sql`+${sql.ref('fills.filled_at')}`, '>=', since) : q.where('fills.filled_at', '>=', since);
  if (cursor !== undefined) q = q.where('fills.id', '<', cursor);
  const rows = db.dialect === 'sqlite' ? sqliteRows(db, q, JSON.stringify([symbol, since, limit, cursor])) : postgresRows(db, q);
  const page = rows.slice(0, limit);
  const realized = page.length > 0 ? ledgerBooks(db).realized : new Map<number, string>();
  const originals = originalTerms(db, page.filter((r) => r.corrected !== 0).map((r) => r.id));
  const fills = page.map(({ stored, id, role, client_order_id, busted, corrected }) => {
    const pnl = realized.get(id) ?? null;
    const original = originals.get(id);
    const extras = {
      role: fillRole(client_order_id === null ? null : { role, client_order_id }, pnl !== null),
      realized_pnl: pnl,
      busted: busted !== 0,
      corrected: corrected !== 0,
      original_qty: original?.qty ?? null,
      original_price: original?.price ?? null,
    };
    return { stored, extras };
  });
  const nextCursor = rows.length > limit ? encodeCursor(page[page.length - 1]!.id) : null;
  if (db.dialect === 'postgres') return fillsPageBody('postgres', fills, nextCursor);
  // Each row's stored text as read (a page asked the first time), or kept (stored-fill-texts.ts).
  return pageBodyOfRows(
    fills.map(({ stored: [text], extras }) => (typeof text === 'string' ? sqliteFillRow(text, extras) : rowOf(text as KeptFill, extras))),
    nextCursor,
  );
}

/** SQLite: what the kept texts are valid under (stored-fill-texts.ts): the corrections applied, and another connection's commits. */
const GENERATION = { compile: () => CompiledQuery.raw("select (select count(*) from fill_changes where applied_at is not null) || ':' || (select data_version from pragma_data_version) as g") as CompiledQuery<{ g: string }> };

type PageQuery = SelectQueryBuilder<Schema, 'fills' | 'orders', { id: number; role: string | null; client_order_id: string | null; busted: number; corrected: number }>;

/**
 * SQLite: a page asked before: its ids and flags, then each fill's stored text, kept from an earlier
 * answer (stored-fill-texts.ts) or read as JSON text (fill-json.ts) and kept; `stored` is the
 * KeptFill. A page not asked before: all of it at once, as it was before rows were kept, nothing kept
 * (`stored`: the text). Arrays, in the select's order.
 */
function sqliteRows(db: Database, q: PageQuery, key: string): PageRow[] {
  // Read first (nothing runs between two statements of this handler on this connection; another
  // connection's commit between them changes the next answer's generation).
  const generation = String(db.first(GENERATION)?.g);
  let texts = keptTexts.get(db);
  if (!texts) keptTexts.set(db, (texts = new StoredFillTexts()));
  const executionKnown = sql<number>`fills.execution_id is not null`.as('execution_known');
  if (!texts.askedBefore(key)) {
    // Nothing kept of a page asked once (a cursor walked through the ledger): kept rows are for pages asked again.
    const read = db.values(q.select(storedFillSelect('sqlite')));
    return read.map((r) => ({ stored: [r[5] as string], id: r[0] as number, role: r[1] as string | null, client_order_id: r[2] as string | null, busted: r[3] as number, corrected: r[4] as number }));
  }
  const read = db.values(q.select(executionKnown));
  if (read.length === 0) return [];
  const kept = texts.textsOf(
    generation,
    read.map((r) => ({ id: r[0] as number, executionKnown: r[5] === 1 })),
    // The page's rows between the lowest and the highest id not kept: the page is every row of its
    // filters in its id range, so this is a range walk of the same query (an IN-list of 1,000 ids
    // took twice as long), kept rows among them read again.
    (ids) => db.values(q.clearSelect().select(['fills.id', ...storedFillSelect('sqlite')]).where('fills.id', '>=', Math.min(...ids)).where('fills.id', '<=', Math.max(...ids))) as Array<[number, string]>,
  );
  return read.map((r, i) => ({ stored: [kept[i]], id: r[0] as number, role: r[1] as string | null, client_order_id: r[2] as string | null, busted: r[3] as number, corrected: r[4] as number }));
}

/** PostgreSQL: the stored columns as they are (fill-json.ts stringifies them), then the rest, as arrays. */
function postgresRows(db: Database, q: PageQuery): PageRow[] {
  const width = storedFillWidth('postgres');
  return db.values(q.clearSelect().select([...storedFillSelect('postgres'), 'fills.id', 'orders.role', 'orders.client_order_id', 'fills.busted', 'fills.corrected'])).map((row) => ({
    stored: row,
    id: row[width] as number,
    role: row[width + 1] as string | null,
    client_order_id: row[width + 2] as string | null,
    busted: row[width + 3] as number,
    corrected: row[width + 4] as number,
  }));
}

/** The terms corrected fills were recorded with: the old terms of each one's first applied change. */
function originalTerms(db: Database, fillIds: number[]): Map<number, { qty: string; price: string }> {
  const out = new Map<number, { qty: string; price: string }>();
  if (fillIds.length === 0) return out;
  const rows = db.all(
    db.kysely
      .selectFrom('fill_changes')
      .select(['fill_id', 'old_qty', 'old_price'])
      .where('fill_id', 'in', fillIds)
      .where('applied_at', 'is not', null)
      .orderBy('event_id'),
  );
  for (const r of rows) if (r.fill_id !== null && !out.has(r.fill_id) && r.old_qty !== null && r.old_price !== null) out.set(r.fill_id, { qty: r.old_qty, price: r.old_price });
  return out;
}
