import { sql, type RawBuilder } from 'kysely';

/**
 * A page of GET /fills as JSON text, most of it written by the database: each row's stored columns
 * come as one string, `{"id":…,"order_id":…,…,"source":…` (the object left open), and only what
 * the books and the order add (role, realized_pnl, busted, corrected, the original terms) is appended
 * here. A page of 1,000 fills read as 15 values a row, mapped to objects and stringified took twice
 * as long as this; the text is the same, byte for byte: the database escapes a string as
 * JSON.stringify does (`\"`, `\\`, `\b \f \n \r \t`, other control characters as `\u00xx`).
 */

/** The columns of `fills` the API gives as they are stored, in the order of the answer's keys. */
const STORED = ['order_id', 'exec_id', 'execution_id', 'cum_qty', 'qty', 'price', 'symbol', 'side', 'filled_at', 'source'] as const;

/** The JSON text of a text column's value (`null` for NULL). */
function quoted(dialect: 'sqlite' | 'postgres', column: string): string {
  return dialect === 'sqlite' ? `json_quote(fills.${column})` : `coalesce(to_json(fills.${column})::text, 'null')`;
}

/** The select expression: a fill's stored columns as the opening of its JSON object (no closing brace). */
export function storedFillJson(dialect: 'sqlite' | 'postgres'): RawBuilder<string> {
  // Fixed column names only: nothing of a request is in this text.
  const text = [`'{"id":' || fills.id`, ...STORED.map((c) => `',"${c}":' || ${quoted(dialect, c)}`)].join(' || ');
  return sql<string>`${sql.raw(text)}`;
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

/** One fill's JSON: its stored columns' text (storedFillJson) closed with the extras, in the answer's key order. */
export function fillJson(stored: string, x: FillExtras): string {
  return `${stored},"role":${JSON.stringify(x.role)},"realized_pnl":${JSON.stringify(x.realized_pnl)},"busted":${x.busted},"corrected":${x.corrected},"original_qty":${JSON.stringify(x.original_qty)},"original_price":${JSON.stringify(x.original_price)}}`;
}

/** The answer's body: `{"fills":[…],"next_cursor":…}` as UTF-8, for a Koa body of type json. */
export function fillsPageBody(fills: readonly string[], nextCursor: string | null): Buffer {
  return Buffer.from(`{"fills":[${fills.join(',')}],"next_cursor":${JSON.stringify(nextCursor)}}`);
}
