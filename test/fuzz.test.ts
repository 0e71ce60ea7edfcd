import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseActivity, parseOrder } from '../src/broker/adapter.js';
import { deliverTradeUpdate } from '../src/broker/trade-update-feed.js';
import { D } from '../src/decimal.js';
import { openDatabase, type Database } from '../src/store/database.js';
import { OrderActors } from '../src/runtime/order-actors.js';
import { restart } from '../src/runtime/restart.js';
import { isDecimalString } from '../src/decimal.js';
import { captureLogger } from './support/log-capture.js';
import { fixture } from './support/fixtures.js';

/**
 * Fuzz (fast-check): malformed broker payloads and trade updates never crash the service, and the
 * ledger stays sound whatever arrives. Stream payloads go down the stream's own path
 * (deliverTradeUpdate: adapter → actors, or logged and skipped); activities through the parser the
 * reconciler uses, then the actors. After every payload the ledger is checked for what the code
 * could get wrong: a fill that is not a positive decimal, one recorded twice, an order's fills
 * that do not add up to its filled quantity.
 */
const tradeUpdate = fixture('trade-update-fill.json').data;
const activity = fixture('activity-fill.json');
const cfee = fixture('activity-cfee.json');
const order = fixture('order-limit-accepted.json');

let db: Database;
let actors: OrderActors;
const feedLog = captureLogger('warn');
beforeAll(async () => {
  db = await openDatabase(':memory:');
  actors = new OrderActors({ db, log: captureLogger('silent').log, adopt: 'protect', fetchOrder: async () => null, onFatal: (e) => { throw e; } });
  await restart({ actors: actors });
});
afterAll(async () => {
  actors.stop();
  await db.close();
});

const ledger = () =>
  JSON.stringify([
    db.all(db.kysely.selectFrom('fills').selectAll().orderBy('id')),
    db.all(db.kysely.selectFrom('orders').select(['order_id', 'snapshot']).orderBy('order_id')),
    db.all(db.kysely.selectFrom('stops').selectAll().orderBy('client_order_id')),
    db.all(db.kysely.selectFrom('fees').selectAll().orderBy('activity_id')),
  ]);

const positive = (v: string) => /^\d+(\.\d+)?$/.test(v) && new D(v).gt(0);

/** The ledger's invariants (DESIGN §3.2), whatever payloads came before. */
function expectSoundLedger(): void {
  const fills = db.all(db.kysely.selectFrom('fills').select(['order_id', 'cum_qty', 'qty', 'price']).orderBy('id'));
  const byOrder = new Map<string, typeof fills>();
  for (const f of fills) {
    expect(positive(f.qty) && positive(f.price) && positive(f.cum_qty), JSON.stringify(f)).toBe(true);
    byOrder.set(f.order_id, [...(byOrder.get(f.order_id) ?? []), f]);
  }
  for (const [orderId, list] of byOrder) {
    // Each fill is the step from the previous cum_qty: recorded once, in order, adding up.
    let cum = new D(0);
    for (const f of [...list].sort((a, b) => new D(a.cum_qty).cmp(b.cum_qty))) {
      expect(new D(f.cum_qty).gt(cum), `${orderId} cum_qty ${f.cum_qty} after ${cum.toFixed()}`).toBe(true);
      expect(new D(f.qty).eq(new D(f.cum_qty).minus(cum)), `${orderId} qty ${f.qty} at cum_qty ${f.cum_qty}`).toBe(true);
      cum = new D(f.cum_qty);
    }
    const row = db.first(db.kysely.selectFrom('orders').select('filled_qty').where('order_id', '=', orderId));
    expect(row && new D(row.filled_qty).eq(cum), `${orderId}: orders.filled_qty ${row?.filled_qty} vs fills ${cum.toFixed()}`).toBe(true);
  }
}

/** Junk where a value was: wrong types, broken decimals, huge strings, nested nonsense. */
const junk = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.double(),
  fc.integer(),
  fc.string(),
  fc.constantFrom('', 'NaN', '-1', '1e9', '0x10', '１２', '1.2.3', ' 5', '9'.repeat(400), '2022-13-45T99:99:99Z'),
  fc.array(fc.anything(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.anything(), { maxKeys: 3 }),
);

/** A real payload with some of its fields replaced by junk, deleted, or renamed. */
function mutated(base: Record<string, unknown>, nested?: string): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.keys(base);
  return fc
    .array(fc.tuple(fc.constantFrom(...keys), junk, fc.constantFrom('replace', 'delete')), { minLength: 1, maxLength: 4 })
    .chain((edits) =>
      (nested ? mutated(base[nested] as Record<string, unknown>) : fc.constant<unknown>(undefined)).map((inner: unknown) => {
        const out: Record<string, unknown> = { ...base };
        if (nested) out[nested] = inner;
        for (const [k, v, how] of edits) {
          if (how === 'delete') delete out[k];
          else out[k] = v;
        }
        return out;
      }),
    );
}

describe('fuzz: malformed broker payloads', () => {
  it('trade updates: never throw; a skipped one is logged with its reason and reaches nothing; the ledger stays sound', () => {
    let skipped = 0;
    let delivered = 0;
    fc.assert(
      fc.property(fc.oneof(mutated(tradeUpdate, 'order'), mutated(tradeUpdate), fc.anything()), (raw) => {
        const before = ledger();
        const rejections = feedLog.lines().length;
        let reached = false;
        const ok = deliverTradeUpdate(raw, feedLog.log, (u) => {
          reached = true;
          for (const v of [u.order.filledQty, u.execution?.cumQty, u.execution?.qty, u.execution?.price]) {
            if (v !== undefined && v !== null) expect(isDecimalString(v)).toBe(true);
          }
          actors.handleTradeUpdate(u);
        });
        expect(reached).toBe(ok);
        if (!ok) {
          skipped += 1;
          const line = feedLog.lines().at(-1);
          expect(feedLog.lines()).toHaveLength(rejections + 1);
          expect(line).toMatchObject({ event: 'broker_payload_rejected', source: 'stream', reason: expect.stringMatching(/\S/) });
          expect(ledger()).toBe(before);
        } else delivered += 1;
        expectSoundLedger();
      }),
      { numRuns: 400, seed: 424242 },
    );
    // Both branches ran: the generator makes payloads the adapter takes and ones it refuses.
    expect(skipped).toBeGreaterThan(20);
    expect(delivered).toBeGreaterThan(20);
    expect(db.all(db.kysely.selectFrom('fills').select('id')).length).toBeGreaterThan(0);
  });

  it('FILL activities: never throw; what the parser takes keeps the ledger sound', () => {
    fc.assert(
      fc.property(fc.oneof(mutated(activity), fc.anything()), (raw) => {
        const parsed = parseActivity(raw);
        if (parsed.ok && parsed.value.type === 'fill') {
          expect(isDecimalString(parsed.value.fill.cumQty)).toBe(true);
          actors.handleExecution(parsed.value.fill, null);
        }
        expectSoundLedger();
      }),
      { numRuns: 400, seed: 777 },
    );
  });

  it('CFEE activities: never throw; each fee recorded once, a positive quantity of a pair; the ledger stays sound', () => {
    fc.assert(
      fc.property(fc.oneof(mutated(cfee), fc.anything()), (raw) => {
        const parsed = parseActivity(raw);
        if (parsed.ok && parsed.value.type === 'fee') actors.recordFee(parsed.value.fee);
        const fees = db.all(db.kysely.selectFrom('fees').select(['activity_id', 'symbol', 'qty']));
        for (const f of fees) expect(positive(f.qty) && f.symbol.includes('/'), JSON.stringify(f)).toBe(true);
        expect(new Set(fees.map((f) => f.activity_id)).size).toBe(fees.length);
        expectSoundLedger();
      }),
      { numRuns: 400, seed: 778 },
    );
  });

  it('orders: never throw, and what is accepted has decimal strings where money is', () => {
    fc.assert(
      fc.property(fc.oneof(mutated(order), fc.anything()), (raw) => {
        const parsed = parseOrder(raw);
        if (parsed.ok) {
          expect(isDecimalString(parsed.value.filledQty)).toBe(true);
          if (parsed.value.qty !== null) expect(isDecimalString(parsed.value.qty)).toBe(true);
          actors.handleOrder(parsed.value);
        }
      }),
      { numRuns: 400, seed: 99 },
    );
  });
});
