import type { Selectable } from 'kysely';
import type { ExecutionChange } from '../domain/reports.js';
import type { Database } from './database.js';
import { prepared } from './prepared.js';
import type { FillChangesTable, FillsTable } from './schema.js';

/**
 * Trade busts and corrections (migration 0012): each change event is one `fill_changes` row, keyed by
 * its own execution id (`ref_id`), applied to the fill it names at most once; a busted fill is
 * marked (`fills.busted`), a corrected one carries its new terms (`fills.corrected`), the old ones
 * are in its change rows. Runs no machine (runtime/fill-change-commit.ts decides and follows).
 */

export type FillChangeRow = Selectable<FillChangesTable>;

const FILL_COLUMNS = ['id', 'order_id', 'cum_qty', 'qty', 'price', 'symbol', 'side', 'filled_at', 'recorded_at', 'execution_id', 'busted', 'corrected'] as const;

/** The fill a change applies to, as the ledger has it. */
export type ChangedFill = Pick<Selectable<FillsTable>, (typeof FILL_COLUMNS)[number]>;

/** Whether the change event with this execution id is known already (applied, pending or ignored). */
export function changeKnown(db: Database, refId: string): boolean {
  return db.first(db.kysely.selectFrom('fill_changes').select('ref_id').where('ref_id', '=', refId)) !== undefined;
}

/**
 * The fill an execution id names: the fill recorded with it, else the fill a correction under that
 * id was applied to (a correction of a correction names the latest one's ref_id).
 */
const fillByExecution = prepared((k, p: { executionId: string }) => k.selectFrom('fills').select([...FILL_COLUMNS]).where('execution_id', '=', p.executionId).orderBy('id').limit(1));
const correctedUnder = prepared((k, p: { executionId: string }) =>
  k.selectFrom('fill_changes').select('fill_id').where('ref_id', '=', p.executionId).where('kind', '=', 'correct').where('applied_at', 'is not', null),
);
const fillById = prepared((k, p: { id: number }) => k.selectFrom('fills').select([...FILL_COLUMNS]).where('id', '=', p.id));

/** (Built once per store: the activity event stream asks it of fills it is not sure the ledger has.) */
export function fillOfExecution(db: Database, executionId: string): ChangedFill | undefined {
  const direct = db.first(fillByExecution(db, { executionId })) as ChangedFill | undefined;
  if (direct) return direct;
  const change = db.first(correctedUnder(db, { executionId })) as { fill_id: number | null } | undefined;
  if (change?.fill_id == null) return undefined;
  return db.first(fillById(db, { id: change.fill_id })) as ChangedFill | undefined;
}

/**
 * Per store, whether a change may be waiting for its fill: false when none is, so a new fill's commit
 * need not look (a statement per fill, a round trip on PostgreSQL). Read from the table at first use
 * (a store is opened per process, and per leadership term on PostgreSQL, whose leader alone writes);
 * true from a change kept pending on; read again after a commit that applied pending ones.
 */
const mayWait = new WeakMap<Database, boolean>();
const anyPending = prepared((k, _p: Record<string, never>) => k.selectFrom('fill_changes').select('ref_id').where('fill_id', 'is', null).limit(1));

/** Whether a change may be waiting for a fill (false: none is). */
export function changesMayWait(db: Database): boolean {
  let v = mayWait.get(db);
  if (v === undefined) mayWait.set(db, (v = db.first(anyPending(db, {})) !== undefined));
  return v;
}

/** Pending changes were applied: whether any is left is read again once that is committed. */
export function pendingApplied(db: Database): void {
  db.afterCommit(() => mayWait.delete(db));
}

/** A change event as it came, not yet applied (fill_id null: pending). */
export function insertChange(db: Database, eventId: string, c: ExecutionChange, now: Date): void {
  mayWait.set(db, true);
  db.run(
    db.kysely.insertInto('fill_changes').values({
      ref_id: c.refId,
      event_id: eventId,
      kind: c.type,
      previous_id: c.previousId,
      fill_id: null,
      order_id: c.orderId,
      symbol: c.symbol,
      side: c.side,
      qty: c.qty,
      price: c.price,
      old_qty: null,
      old_price: null,
      new_qty: null,
      new_price: null,
      executed_at: c.at,
      recorded_at: now.toISOString(),
      applied_at: null,
    }),
  );
}

/** The change named `refId`, as stored. */
export function changeRow(db: Database, refId: string): FillChangeRow | undefined {
  return db.first(db.kysely.selectFrom('fill_changes').selectAll().where('ref_id', '=', refId));
}

/** Changes waiting for the execution `previousId` (its fill not in the ledger when they came), in event order. */
const pendingOf = prepared((k, p: { previousId: string }) => k.selectFrom('fill_changes').selectAll().where('previous_id', '=', p.previousId).where('fill_id', 'is', null).orderBy('event_id'));

/** (Built once per store: every commit that records an execution id asks it, and almost always finds nothing.) */
export function pendingChangesOf(db: Database, previousId: string): FillChangeRow[] {
  if (!changesMayWait(db)) return [];
  return db.all(pendingOf(db, { previousId })) as FillChangeRow[];
}


/** Every change still waiting for its fill (for logs and tests). */
export function pendingChanges(db: Database): FillChangeRow[] {
  return db.all(db.kysely.selectFrom('fill_changes').selectAll().where('fill_id', 'is', null).orderBy('event_id'));
}

/**
 * Applies a change to its fill: busted, or its qty and price replaced; the change row keeps the
 * terms before and after. `applied` false: the fill was busted already (the row names it, nothing changes).
 */
export function applyChangeToFill(db: Database, refId: string, fill: ChangedFill, next: { qty: string; price: string } | null, applied: boolean, now: Date): void {
  if (applied) {
    if (next === null) db.run(db.kysely.updateTable('fills').set({ busted: 1 }).where('id', '=', fill.id));
    else db.run(db.kysely.updateTable('fills').set({ qty: next.qty, price: next.price, corrected: 1 }).where('id', '=', fill.id));
  }
  db.run(
    db.kysely
      .updateTable('fill_changes')
      .set({
        fill_id: fill.id,
        old_qty: fill.qty,
        old_price: fill.price,
        new_qty: applied ? (next?.qty ?? '0') : null,
        new_price: applied ? (next?.price ?? null) : null,
        applied_at: applied ? now.toISOString() : null,
      })
      .where('ref_id', '=', refId),
  );
}

/** A fill's changes, oldest first (its history). */
export function changesOfFill(db: Database, fillId: number): FillChangeRow[] {
  return db.all(db.kysely.selectFrom('fill_changes').selectAll().where('fill_id', '=', fillId).orderBy('event_id'));
}
