import { sqliteFillRow, type FillExtras } from './fill-json.js';

/**
 * The JSON text of fills' stored columns (fill-json.ts's `{"id":…,"source":…`), kept by fill id for
 * GET /fills on SQLite, with the fill's whole row of the answer (`rowOf`): a page of 1,000
 * read as text took 2–3 ms of the database, and as much again to be written out, each time, while
 * the rows it shows almost never change. Three writes change a stored column of a fill already
 * recorded (src/store/ledger.ts, src/store/fill-changes.ts), and each is seen here:
 * - a correction (new qty and price) is applied with its fill_changes row: the count of applied
 *   changes is part of the generation, and a new generation forgets every text;
 * - a bust sets `busted`, which is not a stored column;
 * - a later report's execution id is written where it was null: whether a row has one is part of
 *   what each text is kept with.
 * Another connection's commit (SQLite's `data_version`) is part of the generation too, so an edit
 * made outside the service is never hidden. At most `size` texts, the first kept going first.
 */
export class StoredFillTexts {
  private generation: string | null = null;
  private readonly texts = new Map<number, KeptFill>();
  /** The requests (their parameters) answered lately: a page asked again is read without its texts. */
  private readonly asked = new Set<string>();

  constructor(private readonly size = 10_000) {}

  /**
   * Whether a page of these parameters was answered lately (it is remembered from now on): its rows
   * are then worth reading without their texts first, and keeping; a page asked once is read with
   * them in one statement, and none kept (reading ids first, then texts, made a new page 1 ms
   * slower, and keeping the rows of pages asked once churned the heap: a cursor walk's slowest page
   * took twice as long).
   */
  askedBefore(key: string): boolean {
    if (this.asked.delete(key)) {
      this.asked.add(key);
      return true;
    }
    this.asked.add(key);
    if (this.asked.size > 64) this.asked.delete(this.asked.values().next().value!);
    return false;
  }

  /**
   * Each row's kept fill under `generation`, in the rows' order: those kept, and the rest read by
   * `read` (id → text of the ids asked, and maybe of others; every id asked must be answered: the rows were just read).
   */
  textsOf(
    generation: string,
    rows: ReadonlyArray<{ id: number; executionKnown: boolean }>,
    read: (ids: number[]) => Iterable<readonly [number, string]>,
  ): KeptFill[] {
    this.enter(generation);
    const out = new Array<KeptFill>(rows.length);
    const missing = new Map<number, number>();
    rows.forEach((row, i) => {
      const kept = this.texts.get(row.id);
      if (kept !== undefined && kept.executionKnown === row.executionKnown) out[i] = kept;
      else missing.set(row.id, i);
    });
    if (missing.size === 0) return out;
    for (const [id, text] of read([...missing.keys()])) {
      const i = missing.get(id);
      if (i === undefined) continue;
      const kept: KeptFill = { text, executionKnown: rows[i]!.executionKnown, extras: null, row: null };
      out[i] = kept;
      missing.delete(id);
      this.texts.delete(id);
      this.texts.set(id, kept);
    }
    if (missing.size > 0) throw new Error(`fills ${[...missing.keys()].join(', ')} were not found again to be written out`);
    this.evict();
    return out;
  }

  /** A new generation forgets every text. */
  private enter(generation: string): void {
    if (generation !== this.generation) {
      this.texts.clear();
      this.generation = generation;
    }
  }

  /** The first kept go, in one walk (a fresh keys() per deletion walks past every one deleted before it). */
  private evict(): void {
    let excess = this.texts.size - this.size;
    for (const id of this.texts.keys()) {
      if (excess-- <= 0) break;
      this.texts.delete(id);
    }
  }
}

/** A fill's stored text, and its row of the answer as last written out with the extras it had then. */
export interface KeptFill {
  readonly text: string;
  readonly executionKnown: boolean;
  extras: FillExtras | null;
  row: string | null;
}

/** The fill's row of the answer (fill-json.ts's sqliteFillRow): the one kept while its extras are the same. */
export function rowOf(kept: KeptFill, extras: FillExtras): string {
  const was = kept.extras;
  if (
    kept.row === null ||
    was === null ||
    was.role !== extras.role ||
    was.realized_pnl !== extras.realized_pnl ||
    was.busted !== extras.busted ||
    was.corrected !== extras.corrected ||
    was.original_qty !== extras.original_qty ||
    was.original_price !== extras.original_price
  ) {
    kept.row = sqliteFillRow(kept.text, extras);
    kept.extras = extras;
  }
  return kept.row;
}
