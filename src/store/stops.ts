import { jsonText } from './json-field.js';
import { sql, type Compilable } from 'kysely';
import { stopClientOrderId } from '../domain/orders.js';
import { LIVE_STOP_STATUSES, stopAsk, type StopAsk, type StopRow } from '../domain/protection.js';
import type { Database } from './database.js';
import { pick, prepared, preparedRows } from './prepared.js';
import type { StopsTable } from './schema.js';

/**
 * The outbox: the protective stops to place, resize or cancel, one row per stop keyed by its
 * deterministic client order id. Row reads and writes only: a row's state is a protective stop's
 * state (machines/stop.ts), and every write to a row is one transition of that machine, run by
 * src/protection/stop-transitions.ts `applyStopTransition` (the only caller of `insertStopRow` and
 * `writeStopPatch`) — the order actors' asks, what position following decides, the ratchet, the
 * stop worker's outcomes.
 */

export type StoredStopRow = StopRow & Pick<StopsTable, 'kind' | 'created_at' | 'updated_at'>;

/** The columns a stop's transition may change (its identity and timestamps are the store's). */
export type StopRowPatch = Partial<Omit<StoredStopRow, 'client_order_id' | 'entry_order_id' | 'symbol' | 'kind' | 'created_at' | 'updated_at'>>;

/** A stop's first row: its ask and the columns the stop machine starts it with. */
export type NewStopRow = Omit<StoredStopRow, 'client_order_id' | 'entry_order_id' | 'symbol' | 'kind' | 'created_at' | 'updated_at'>;

/**
 * The table's own columns, named rather than `selectAll()`: on PostgreSQL the table also has the
 * `rowid` column that stands in for SQLite's implicit one (migrations.ts), which rows never carry.
 */
const STOP_COLUMNS = [
  'client_order_id',
  'kind',
  'entry_order_id',
  'symbol',
  'payload',
  'status',
  'broker_order_id',
  'attempts',
  'last_error',
  'created_at',
  'updated_at',
  'current_client_order_id',
  'version',
  'sent_at',
  'placed_qty',
  'placed_stop_price',
  'target_stop_price',
  'next_attempt_at',
  'cancel_requested',
  'cut_qty',
  'placed_trail_percent',
  'expires_at',
] as const satisfies ReadonlyArray<keyof StopsTable>;
/** Compile-time: a column added to StopsTable must be added to STOP_COLUMNS. */
const stopColumnsComplete: [Exclude<keyof StopsTable, (typeof STOP_COLUMNS)[number]>] extends [never] ? true : never = true;
void stopColumnsComplete;

const rowOf = prepared((k, p: { clientOrderId: string }) => k.selectFrom('stops').select(STOP_COLUMNS).where('client_order_id', '=', p.clientOrderId));

/** The stop's row, if it has one (read twice by each transition: built once per store). */
export function readStopRow(db: Database, clientOrderId: string): StoredStopRow | undefined {
  return db.first(rowOf(db, { clientOrderId })) as StoredStopRow | undefined;
}

/** Every column of a new row (an entry fill's commit inserts one: built once per store). */
const insertRow = prepared((k, p: StoredStopRow) => k.insertInto('stops').values(pick(p, STOP_COLUMNS)));

/** Inserts a stop's first row (one statement). */
export function insertStopRow(db: Database, ask: StopAsk, columns: NewStopRow, now: Date): void {
  const at = now.toISOString();
  db.write(
    insertRow(db, {
      client_order_id: ask.clientOrderId,
      kind: 'protective_stop',
      entry_order_id: ask.entryOrderId,
      symbol: ask.symbol,
      created_at: at,
      updated_at: at,
      ...columns,
    }),
  );
}

type PatchValues = StopRowPatch & { updated_at: string; client_order_id: string };
/** One update per set of columns a transition changes (a machine's handlers write a few dozen shapes in all). */
const patchUpdates = new Map<string, (db: Database, values: PatchValues) => Compilable<unknown>>();

function patchUpdate(columns: readonly (keyof StopRowPatch)[]): (db: Database, values: PatchValues) => Compilable<unknown> {
  const key = columns.join(',');
  let update = patchUpdates.get(key);
  if (!update) {
    update = prepared((k, p: PatchValues) => k.updateTable('stops').set(pick(p, [...columns, 'updated_at'])).where('client_order_id', '=', p.client_order_id));
    // The shapes are the machine's, so few; a bound keeps a surprise from growing it without end.
    if (patchUpdates.size < 256) patchUpdates.set(key, update);
  }
  return update;
}

/** Writes what one transition changed in a stop's row (one statement, built once per store and set of columns: a fill's stop waits for two). */
export function writeStopPatch(db: Database, clientOrderId: string, patch: StopRowPatch, now: Date): void {
  const columns = (Object.keys(patch) as (keyof StopRowPatch)[]).filter((c) => patch[c] !== undefined).sort();
  // Nothing reads what it returns: on PostgreSQL it goes with the transaction's next statement.
  db.write(patchUpdate(columns)(db, { ...patch, updated_at: now.toISOString(), client_order_id: clientOrderId }));
}

/**
 * The stop rows a symbol's position model is built from, oldest first: every stop of the symbol
 * that is not done, and the rows named in `alsoIds` (the stops of the order whose fills are
 * followed) whatever their status.
 */
const liveOfSymbol = prepared((k, p: { symbol: string }) =>
  k.selectFrom('stops').select(STOP_COLUMNS).select(sql<number>`rowid`.as('rid')).where('symbol', '=', p.symbol).where('status', 'in', [...LIVE_STOP_STATUSES]),
);

export function positionStopRows(db: Database, symbol: string, alsoIds: readonly string[]): StoredStopRow[] {
  const live = db.all(liveOfSymbol(db, { symbol })) as Array<StoredStopRow & { rid: number }>;
  const named =
    alsoIds.length === 0
      ? []
      : (db.all(
          db.kysely.selectFrom('stops').select(STOP_COLUMNS).select(sql<number>`rowid`.as('rid')).where('symbol', '=', symbol).where('client_order_id', 'in', [...alsoIds]),
        ) as Array<StoredStopRow & { rid: number }>);
  const byId = new Map([...live, ...named].map((r) => [r.client_order_id, r]));
  return [...byId.values()].sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.rid - b.rid)).map(({ rid: _rid, ...row }) => row);
}

/** The rows of the named stops, whatever their status (an order's own stops). */
const rowsById = preparedRows((k, ids: { id: string }[]) => k.selectFrom('stops').select(STOP_COLUMNS).where('client_order_id', 'in', ids.map((r) => r.id)));

export function stopRowsOf(db: Database, clientOrderIds: readonly string[]): StoredStopRow[] {
  if (clientOrderIds.length === 0) return [];
  return db.all(rowsById(db, clientOrderIds.map((id) => ({ id })))) as StoredStopRow[];
}

/** stopRowsOf as a read the transaction will need (`db.prefetch`: on PostgreSQL sent with its next statement). */
export function prefetchStopRows(db: Database, clientOrderIds: readonly string[]): () => StoredStopRow[] {
  if (clientOrderIds.length === 0) return () => [];
  return db.prefetch(rowsById(db, clientOrderIds.map((id) => ({ id })))) as () => StoredStopRow[];
}

/** The rows of the named stops by client order id, whatever their status, read `chunk` ids per query (restart's reads of thousands). */
export function stopRowsById(db: Database, clientOrderIds: readonly string[], chunk = 500): Map<string, StoredStopRow> {
  const out = new Map<string, StoredStopRow>();
  for (let i = 0; i < clientOrderIds.length; i += chunk) {
    for (const row of stopRowsOf(db, clientOrderIds.slice(i, i + chunk))) out.set(row.client_order_id, row);
  }
  return out;
}

/** Every stop that is not done, by symbol, oldest first (one query: the position actors' restore). */
const COVER_COLUMNS = ['symbol', 'entry_order_id', 'payload', 'cut_qty', 'cancel_requested', 'status', 'broker_order_id', 'version', 'last_error'] as const;
type CoverColumns = Pick<StoredStopRow, (typeof COVER_COLUMNS)[number]>;

/** A row of COVER_COLUMNS read as an array, in their order. */
function coverRow(v: unknown[]): CoverColumns {
  const [symbol, entry_order_id, payload, cut_qty, cancel_requested, status, broker_order_id, version, last_error] = v as [
    string, string, string, string, number, CoverColumns['status'], string | null, number, string | null,
  ];
  return { symbol, entry_order_id, payload, cut_qty, cancel_requested, status, broker_order_id, version, last_error };
}

export function liveStopRowsBySymbol(db: Database): Map<string, CoverColumns[]> {
  // As arrays, not objects (10,000 rows at a restart): half the time.
  const rows = db.values(
    db.kysely
      .selectFrom('stops')
      .select([...COVER_COLUMNS])
      .where('status', 'in', [...LIVE_STOP_STATUSES])
      .orderBy('created_at')
      .orderBy(sql`rowid`),
  );
  const out = new Map<string, CoverColumns[]>();
  for (const v of rows) {
    const r = coverRow(v);
    // An entry's fraction stop follows its entry's stop; the position actor knows the entry's. Told
    // by its payload here rather than by a JSON filter in SQL (which costs the query as much again).
    if (r.payload.includes('"part"') && (stopAsk(r).part ?? null) !== null) continue;
    const list = out.get(r.symbol);
    if (list) list.push(r);
    else out.set(r.symbol, [r]);
  }
  return out;
}

/**
 * A symbol's stops that ended (done) or are being canceled and were last changed at or after `since`
 * (ISO), oldest first, fraction stops left out: the ones a fill recorded then may have ended, which a
 * trade bust of that fill may re-arm (runtime/position-follow.ts `followChange`).
 */
export function endedStopRowsSince(db: Database, symbol: string, since: string): StoredStopRow[] {
  return db.all(
    db.kysely
      .selectFrom('stops')
      .selectAll()
      .where('symbol', '=', symbol)
      .where((eb) => eb.or([eb('status', '=', 'done'), eb('cancel_requested', '=', 1)]))
      .where('updated_at', '>=', since)
      .where((eb) => eb(jsonText(db, 'payload', ['part']), 'is', null))
      .orderBy('created_at')
      .orderBy(sql`rowid`),
  ) as StoredStopRow[];
}

/**
 * The stops backing off from an earlier life that a (re)start makes due now: all but refused ones,
 * which keep their backoff (a crash loop must not retry a refusal at full speed).
 */
export function backedOffStops(db: Database): string[] {
  const rows = db.all(db.kysely.selectFrom('stops').select('client_order_id').where('status', 'in', ['pending', 'unknown', 'confirmed']).where('next_attempt_at', '>', 0));
  return rows.map((r) => r.client_order_id);
}

/**
 * Entries that finished filling (placingStop / protected) and are still live although their stop
 * was taken off because nothing of their position is left: they are to end `exited`. Read at
 * start, so an entry whose transition a crash cut off (after the cancel committed) still ends.
 */
export function entriesWithCanceledStops(db: Database): string[] {
  const rows = db.all(
    db.kysely
      .selectFrom('stops')
      .innerJoin('orders', 'orders.order_id', 'stops.entry_order_id')
      .select('stops.entry_order_id')
      .where('stops.cancel_requested', '=', 1)
      .where('orders.terminal', '=', 0)
      .where('orders.state', 'in', ['placingStop', 'protected'])
      // Stops the extended-hours guard took off leave the position open (src/store/guard-exits.ts).
      .where(sql<boolean>`not exists (select 1 from sync_state where sync_state.key = 'guard_exit:' || stops.symbol)`),
  );
  return rows.map((r) => r.entry_order_id);
}

/** Whether an entry's stop was taken off because nothing of its position is left. */
export function stopCanceledForClose(db: Database, entryOrderId: string): boolean {
  return readStopRow(db, stopClientOrderId(entryOrderId))?.cancel_requested === 1;
}

/** The client order id under which we placed a broker order as a stop, if we did. */
const byBrokerOrderId = prepared((k, p: { brokerOrderId: string }) =>
  k.selectFrom('stops').select(['client_order_id', 'current_client_order_id']).where('broker_order_id', '=', p.brokerOrderId),
);

export function stopClientIdOfBrokerOrder(db: Database, brokerOrderId: string): string | undefined {
  const row = db.first(byBrokerOrderId(db, { brokerOrderId })) as Pick<StoredStopRow, 'client_order_id' | 'current_client_order_id'> | undefined;
  return row ? (row.current_client_order_id ?? row.client_order_id) : undefined;
}

/** Stops the worker should look at now: not done, not backing off (refused ones whose backoff is over included). */
const due = prepared((k, p: { nowMs: number }) =>
  k.selectFrom('stops').select(STOP_COLUMNS).where('status', 'in', [...LIVE_STOP_STATUSES]).where('next_attempt_at', '<=', p.nowMs).orderBy('created_at'),
);

/** (Built once per store: each pass of the stop worker reads it, and a fill's stop waits for it.) */
export function dueStops(db: Database, nowMs: number): StoredStopRow[] {
  return db.all(due(db, { nowMs })) as StoredStopRow[];
}

/**
 * A raw write of a row's columns, for tests: they set up a row as the broker or an older version
 * would have left it. The runtime writes only through `applyStopTransition` (test/machines/stop.test.ts
 * checks that nothing in src/ calls this; test/imports.test.ts that only it writes stop rows).
 */
export function updateStopRow(db: Database, clientOrderId: string, patch: Partial<Omit<StoredStopRow, 'client_order_id'>>, now = new Date()): void {
  db.run(db.kysely.updateTable('stops').set({ ...patch, updated_at: now.toISOString() }).where('client_order_id', '=', clientOrderId));
}

/** The columns a fraction stop follows its entry's stop by (machines/fraction-stop.ts `fractionFollows`). */
const FOLLOWED_COLUMNS = ['client_order_id', 'entry_order_id', 'payload', 'status', 'cancel_requested', 'broker_order_id', 'version', 'last_error', 'cut_qty'] as const;
export type FollowedStopRow = Pick<StoredStopRow, (typeof FOLLOWED_COLUMNS)[number]>;

/**
 * Live stops of equity entries (not their fraction stops) that a fraction stop may have to follow:
 * a fractional quantity asked or cut, or a fraction stop not done (one whose entry turned whole must
 * be canceled). The rest, whole entries without a fraction stop, need nothing from it
 * (machines/fraction-stop.ts `fractionFollows` returns no event for them), and are most rows at
 * start. Only the columns that takes (a 22-column row costs better-sqlite3 several times more).
 */
export function liveEquityEntryStops(db: Database): FollowedStopRow[] {
  return db.all(
    db.kysely
      .selectFrom('stops')
      .select(FOLLOWED_COLUMNS)
      .where('status', 'in', [...LIVE_STOP_STATUSES])
      // First what plain text comparisons tell, so that most rows are left out before their payload
      // is parsed (three JSON reads and a lookup a row): a dot in the payload (a fractional qty) or
      // the cut, or a live row named like a fraction stop of this one. A superset of what follows.
      .where((eb) =>
        eb.or([
          eb('payload', 'like', '%.%'),
          eb('cut_qty', 'like', '%.%'),
          eb(
            'client_order_id',
            'in',
            db.kysely
              .selectFrom('stops as f')
              .select(sql<string>`substr(f.client_order_id, 1, length(f.client_order_id) - 2)`.as('main'))
              .where('f.status', '!=', 'done')
              .where('f.client_order_id', 'like', '%-f'),
          ),
        ]),
      )
      .where((eb) => eb(jsonText(db, 'payload', ['assetClass']), '!=', 'crypto'))
      .where((eb) => eb(jsonText(db, 'payload', ['part']), 'is', null))
      .where((eb) =>
        eb.or([
          eb(jsonText(db, 'payload', ['qty']), 'like', '%.%'),
          eb('cut_qty', 'like', '%.%'),
          eb.exists(
            db.kysely
              .selectFrom('stops as f')
              .select(sql`1`.as('one'))
              .where('f.status', '!=', 'done')
              .whereRef('f.client_order_id', '=', sql<string>`stops.client_order_id || '-f'`),
          ),
        ]),
      ),
  ) as FollowedStopRow[];
}

/** Crypto stops the ratchet watches: placed, still live. */
export function confirmedCryptoStops(db: Database): StoredStopRow[] {
  return db.all(
    db.kysely
      .selectFrom('stops')
      .select(STOP_COLUMNS)
      .where('status', '=', 'confirmed')
      .where((eb) => eb(jsonText(db, 'payload', ['assetClass']), '=', 'crypto')),
  ) as StoredStopRow[];
}

/**
 * Broker order ids of confirmed stops that no order actor knows (no `orders` row): a stop placed
 * just before a crash whose order then ended (a `day` fraction stop expiring at the close) while no
 * process was there to see it. Only a lookup tells.
 */
export function confirmedStopOrdersUnknown(db: Database): string[] {
  const rows = db.all(
    db.kysely
      .selectFrom('stops')
      .select('broker_order_id')
      .where('status', '=', 'confirmed')
      .where('broker_order_id', 'is not', null)
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('orders').select('order_id').whereRef('orders.order_id', '=', 'stops.broker_order_id')))),
  );
  return rows.map((r) => r.broker_order_id!).filter(Boolean);
}

/** Working stops whose order Alpaca cancels (aged-order policy, `expires_at`) at or before `byIso`: to re-arm. */
export function agingStops(db: Database, byIso: string): string[] {
  const rows = db.all(
    db.kysely
      .selectFrom('stops')
      .select('client_order_id')
      .where('status', '=', 'confirmed')
      .where('cancel_requested', '=', 0)
      .where('expires_at', 'is not', null)
      .where('expires_at', '<=', byIso)
      .orderBy('expires_at'),
  );
  return rows.map((r) => r.client_order_id);
}
