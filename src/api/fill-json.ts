import { sql, type AliasedRawBuilder } from 'kysely';

/**
 * A page of GET /fills as JSON, byte for byte JSON.stringify's of `{ fills, next_cursor }` (each fill
 * its stored columns, then what the books and the order add: role, realized_pnl, busted, corrected,
 * the original terms). On SQLite the database writes each row's stored columns as JSON text,
 * `{"id":…,…,"source":…` (json_quote per column, the object left open), closed here with the rest:
 * a page of 1,000 read as 15 values a row, mapped to objects and stringified took twice as long.
 * SQLite escapes a string as JSON.stringify does (`\"`, `\\`, `\b \f \n \r \t`, other control
 * characters as `\u00xx`). On PostgreSQL the columns are read as they are and stringified here:
 * its escaping (to_json) took 2.5 ms of a page of 1,000, more than the text saved.
 */

/** The columns of `fills` the API gives as they are stored, in the order of the answer's keys. */
const STORED = ['id', 'order_id', 'exec_id', 'execution_id', 'cum_qty', 'qty', 'price', 'symbol', 'side', 'filled_at', 'source'] as const;

/** What a page selects, first, for a fill's stored columns: their JSON text (SQLite) or the columns (PostgreSQL). */
export function storedFillSelect(dialect: 'sqlite' | 'postgres'): Array<AliasedRawBuilder<unknown, string>> {
  // Fixed column names only: nothing of a request is in this text.
  if (dialect === 'postgres') return STORED.map((c) => sql.raw(`fills.${c}`).as(`stored_${c}`));
  const text = [`'{"id":' || fills.id`, ...STORED.slice(1).map((c) => `',"${c}":' || json_quote(fills.${c})`)].join(' || ');
  return [sql.raw(text).as('stored')];
}

/** How many values of a row storedFillSelect's part is. */
export function storedFillWidth(dialect: 'sqlite' | 'postgres'): number {
  return dialect === 'sqlite' ? 1 : STORED.length;
}

/** What the books and the order say of a fill, appended to its stored columns. */
export interface FillExtras {
  role: string;
  realized_pnl: string | null;
  busted: boolean;
  corrected: boolean;
  original_qty: string | null;
  original_price: string | null;
}

/** A fill of the page: its row as read (storedFillSelect's values first), and the rest of its answer. */
export interface PageFill {
  stored: readonly unknown[];
  extras: FillExtras;
}

/** The answer's body, `{"fills":[…],"next_cursor":…}` as UTF-8, for a Koa body of type json. */
export function fillsPageBody(dialect: 'sqlite' | 'postgres', fills: readonly PageFill[], nextCursor: string | null): Buffer {
  if (dialect === 'postgres') {
    const objects = fills.map(({ stored: [id, order_id, exec_id, execution_id, cum_qty, qty, price, symbol, side, filled_at, source], extras: x }) => ({
      id, order_id, exec_id, execution_id, cum_qty, qty, price, symbol, side, filled_at, source,
      role: x.role, realized_pnl: x.realized_pnl, busted: x.busted, corrected: x.corrected, original_qty: x.original_qty, original_price: x.original_price,
    }));
    return Buffer.from(JSON.stringify({ fills: objects, next_cursor: nextCursor }));
  }
  return pageBodyOfRows(
    fills.map(({ stored, extras }) => sqliteFillRow(stored[0] as string, extras)),
    nextCursor,
  );
}

/** SQLite: one fill of the answer, its stored columns' JSON text (storedFillSelect's, left open) closed with the rest. */
export function sqliteFillRow(stored: string, x: FillExtras): string {
  return `${stored},"role":${JSON.stringify(x.role)},"realized_pnl":${JSON.stringify(x.realized_pnl)},"busted":${x.busted},"corrected":${x.corrected},"original_qty":${JSON.stringify(x.original_qty)},"original_price":${JSON.stringify(x.original_price)}}`;
}

/** The answer's body from its fills' rows (sqliteFillRow's, kept). */
export function pageBodyOfRows(rows: readonly string[], nextCursor: string | null): Buffer {
  return Buffer.from(`{"fills":[${rows.join(',')}],"next_cursor":${JSON.stringify(nextCursor)}}`);
}
