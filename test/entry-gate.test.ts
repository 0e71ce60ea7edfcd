import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { openDatabase, type Database } from '../src/store/database.js';
import { createBrokerClient } from '../src/broker/client.js';
import { startCooldown } from '../src/store/cooldowns.js';
import { EntryBrokerRefused, EntryConflict, EntryGate, EntryRefused } from '../src/protection/entry-gate.js';
import { setEntriesPaused } from '../src/store/entries-paused.js';
import { captureLogger } from './support/log-capture.js';

let sim: Simulator;
let db: Database;
let gate: EntryGate;
const cap = captureLogger();

beforeAll(async () => {
  sim = await startSimulator({ seed: 71 });
  db = await openDatabase(':memory:');
  gate = new EntryGate({ db, log: cap.log, client: createBrokerClient({ keyId: 'k', secretKey: 's', paper: true, apiUrl: sim.url }) });
});
afterAll(async () => {
  await db.close();
  await sim.close();
});

describe('entries through the engine', () => {
  it('are refused with a reason while the symbol cools down, and sent as ct-entry orders otherwise', async () => {
    const now = new Date('2026-03-02T15:00:00Z');
    startCooldown(db, { exitFillId: 'exit-1:5', symbol: 'AAPL', startedAt: now, until: new Date(now.getTime() + 30 * 60_000) });
    const refused = await gate.submit({ symbol: 'AAPL', side: 'buy', qty: '1' }, now).catch((e) => e);
    expect(refused).toBeInstanceOf(EntryRefused);
    expect(refused).toMatchObject({ reason: 'cooldown', symbol: 'AAPL', until: '2026-03-02T15:30:00.000Z' });
    expect(sim.engine.orders).toHaveLength(0);
    expect(cap.lines().find((l) => l.event === 'entry_refused')).toMatchObject({ symbol: 'AAPL', exit_fill_id: 'exit-1:5' });

    const other = await gate.submit({ symbol: 'MSFT', side: 'buy', qty: '1' }, now);
    expect(other.order.clientOrderId).toMatch(/^ct-entry-[0-9a-f-]{36}$/);
    // After the cooldown ends the symbol is open again.
    const later = await gate.submit({ symbol: 'AAPL', side: 'buy', qty: '1' }, new Date(now.getTime() + 31 * 60_000));
    expect(later.order.symbol).toBe('AAPL');
    expect(sim.engine.orders).toHaveLength(2);
  });

  it('are refused while paused; the same client_order_id sent twice makes one broker order', async () => {
    const now = new Date('2026-03-02T16:00:00Z');
    setEntriesPaused(db, true, 'ops', now);
    const paused = await gate.submit({ symbol: 'SPY', side: 'buy', qty: '1', clientOrderId: 'spy-1' }, now).catch((e) => e);
    expect(paused).toBeInstanceOf(EntryRefused);
    expect(paused).toMatchObject({ reason: 'paused' });
    setEntriesPaused(db, false, 'ops', now);
    const before = sim.engine.orders.length;
    const first = await gate.submit({ symbol: 'SPY', side: 'buy', qty: '1', clientOrderId: 'spy-1' }, now);
    // Not in the ledger yet (nothing tracks it here): the broker's duplicate answer finds the same order.
    const again = await gate.submit({ symbol: 'SPY', side: 'buy', qty: '1', clientOrderId: 'spy-1' }, now);
    expect(first).toMatchObject({ replayed: false, order: { clientOrderId: 'ct-entry-spy-1' } });
    expect(again).toMatchObject({ replayed: true, order: { orderId: first.order.orderId } });
    expect(sim.engine.orders.length).toBe(before + 1);
    // The same id with another body is a conflict naming the fields that differ, never the old order.
    const conflict = await gate.submit({ symbol: 'QQQ', side: 'sell', qty: '2', clientOrderId: 'spy-1' }, now).catch((e) => e);
    expect(conflict).toBeInstanceOf(EntryConflict);
    expect(conflict).toMatchObject({ clientOrderId: 'ct-entry-spy-1', fields: ['symbol', 'side', 'qty'] });
    const typed = await gate.submit({ symbol: 'SPY', side: 'buy', qty: '1.0', type: 'limit', limitPrice: '1', clientOrderId: 'spy-1' }, now).catch((e) => e);
    expect(typed).toMatchObject({ fields: ['type'] }); // 1.0 is the same qty as 1
    const dollars = await gate.submit({ symbol: 'SPY', side: 'buy', notional: '100', clientOrderId: 'spy-1' }, now).catch((e) => e);
    expect(dollars).toMatchObject({ fields: ['notional'] });
    expect(sim.engine.orders.length).toBe(before + 1);
    // Known in the ledger too (tracked): the same rule from the ledger's row.
    db.sqlite
      .prepare(
        `insert into orders (order_id, client_order_id, symbol, side, type, asset_class, role, state, terminal, filled_qty, machine_version, snapshot, created_at, updated_at)
         values ('o-iwm', 'ct-entry-iwm-1', 'IWM', 'buy', 'market', 'us_equity', 'entry', 'pending', 0, '0', 1, ?, ?, ?)`,
      )
      .run(JSON.stringify({ context: { order: { qty: '3', notional: null, status: 'new' } } }), now.toISOString(), now.toISOString());
    expect(await gate.submit({ symbol: 'IWM', side: 'buy', qty: '3', clientOrderId: 'iwm-1' }, now)).toMatchObject({ replayed: true, order: { orderId: 'o-iwm' } });
    expect(await gate.submit({ symbol: 'IWM', side: 'buy', qty: '4', clientOrderId: 'iwm-1' }, now).catch((e) => e)).toMatchObject({ fields: ['qty'] });
  });

  it('a broker refusal is classified, not retried', async () => {
    const refused = await gate.submit({ symbol: 'AAPL', side: 'buy', qty: '0.5', type: 'limit', limitPrice: '100', timeInForce: 'gtc' }).catch((e) => e);
    expect(refused).toBeInstanceOf(EntryBrokerRefused);
    expect(refused).toMatchObject({ status: 422, kind: 'fractional' });
  });
});
