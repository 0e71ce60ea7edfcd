import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFeeActivity, parseFillActivity, parseOrder, parseTradeUpdate } from '../src/broker/adapter.js';
import { openDatabase, type Database } from '../src/store/database.js';
import { OrderActors } from '../src/runtime/order-actors.js';
import { restart } from '../src/runtime/restart.js';
import { isDecimalString } from '../src/decimal.js';
import { captureLogger } from './support/log-capture.js';
import { fixture } from './support/fixtures.js';

/**
 * Fuzz (fast-check): malformed broker payloads and trade updates never crash the service and
 * never change the ledger. Each generated payload goes down the same path a stream or activity
 * payload takes (adapter → actors); a payload the adapter refuses must leave every table as it was.
 */
const tradeUpdate = fixture('trade-update-fill.json').data;
const activity = fixture('activity-fill.json');
const cfee = fixture('activity-cfee.json');
const order = fixture('order-limit-accepted.json');

let db: Database;
let actors: OrderActors;
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
  it('trade updates: never throw; refused ones leave the ledger unchanged; accepted ones are well-formed', () => {
    fc.assert(
      fc.property(fc.oneof(mutated(tradeUpdate, 'order'), mutated(tradeUpdate), fc.anything()), (raw) => {
        const before = ledger();
        const parsed = parseTradeUpdate(raw);
        if (!parsed.ok) {
          expect(parsed.reason.length).toBeGreaterThan(0);
          expect(ledger()).toBe(before);
          return;
        }
        const u = parsed.value;
        for (const v of [u.order.filledQty, u.execution?.cumQty, u.execution?.qty, u.execution?.price]) {
          if (v !== undefined && v !== null) expect(isDecimalString(v)).toBe(true);
        }
        actors.handleTradeUpdate(u);
      }),
      { numRuns: 400, seed: 424242 },
    );
  });

  it('FILL activities: never throw; refused ones leave the ledger unchanged', () => {
    fc.assert(
      fc.property(fc.oneof(mutated(activity), fc.anything()), (raw) => {
        const before = ledger();
        const parsed = parseFillActivity(raw);
        if (!parsed.ok) {
          expect(ledger()).toBe(before);
          return;
        }
        expect(isDecimalString(parsed.value.cumQty)).toBe(true);
        actors.handleExecution(parsed.value, null);
      }),
      { numRuns: 400, seed: 777 },
    );
  });

  it('CFEE activities: never throw; refused ones leave the ledger unchanged; accepted ones take a positive quantity of a pair', () => {
    fc.assert(
      fc.property(fc.oneof(mutated(cfee), fc.anything()), (raw) => {
        const before = ledger();
        const parsed = parseFeeActivity(raw);
        if (!parsed.ok) {
          expect(ledger()).toBe(before);
          return;
        }
        expect(isDecimalString(parsed.value.qty) && !parsed.value.qty.startsWith('-') && parsed.value.qty !== '0').toBe(true);
        actors.recordFee(parsed.value);
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
