import { NotFoundError, PermissionError, ValidationError } from '@alpacahq/alpaca-trade-api';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BrokerClient } from '../src/broker/client.js';
import { assessCoverage, stopCoverOf } from '../src/protection/coverage.js';
import { StopWorker } from '../src/protection/stop-worker.js';
import type { AssetGrids } from '../src/broker/asset-grids.js';
import type { OrderActors } from '../src/runtime/order-actors.js';
import { openDatabase, type Database } from '../src/store/database.js';
import { readStopRow, updateStopRow } from '../src/store/stops.js';
import { upsertStop } from '../src/protection/stop-transitions.js';
import { stopStateOf } from '../machines/stop-model.js';
import { fixture } from './support/fixtures.js';
import { D } from '../src/decimal.js';
import { captureLogger } from './support/log-capture.js';

/**
 * The stop worker against a scripted broker: it carries out what the stop's machine asks for and
 * reports the outcome back; a refusal is recorded on the stop and retried only as its backoff and
 * the symbol's budget allow.
 */
const T0 = Date.parse('2026-03-02T15:00:00Z');
const CID = 'ct-stop-e1';

/** Each test: the clock at T0 (Date only), a fresh ledger (handed to `use`) with one pending AAPL stop for 10 (CID), closed after. */
function ledgerWithOneStop(use: (db: Database) => void): void {
  let db: Database;
  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    db = await openDatabase(':memory:');
    use(db);
    upsertStop(db, { entryOrderId: 'e1', clientOrderId: CID, symbol: 'AAPL', assetClass: 'us_equity', side: 'sell', qty: '10' });
  });
  afterEach(async () => {
    vi.useRealTimers();
    await db.close();
  });
}

describe('stop worker: refusals', () => {
  let db: Database;
  let posts: number;
  let postOrder: (req: unknown) => Promise<unknown>;
  /** Entries told their stop works (the order actor's "stop placed"). */
  const working: string[] = [];

  const worker = () =>
    new StopWorker({
      db,
      log: captureLogger().log,
      client: {
        orders: {
          postOrder: (req: unknown) => {
            posts += 1;
            return postOrder(req);
          },
          getOrderByClientOrderId: async () => {
            throw new NotFoundError(new Response(), 404, 40410000, 'order not found');
          },
        },
      } as unknown as BrokerClient,
      actors: { stopWorking: (entry: string) => working.push(entry), positionClosed: () => undefined } as unknown as OrderActors,
      settings: { trailPercent: '2', cryptoLimitSlippagePercent: '1' },
      latestPrice: async () => '100',
      ledgerPosition: () => '10',
    });

  ledgerWithOneStop((d) => {
    db = d;
    posts = 0;
    working.length = 0;
  });

  it('records a refusal with its kind and a backoff, does not tell the entry its stop works, and coverage names it', async () => {
    postOrder = async () => {
      throw new PermissionError(new Response(), 403, 40310000, 'insufficient qty available for order (requested: 10, available: 0)');
    };
    await worker().kick();
    const row = readStopRow(db, CID)!;
    expect(stopStateOf(row)).toBe('refused');
    expect(row).toMatchObject({ status: 'rejected', sent_at: null, attempts: 1, last_error: 'insufficient_qty: insufficient qty available for order (requested: 10, available: 0)' });
    expect(row.next_attempt_at).toBe(T0 + 1000);
    expect(working).toEqual([]);
    const report = assessCoverage(new Map([['AAPL', '10']]), [stopCoverOf(row)], { adopt: 'protect' });
    expect(report.unprotected[0]!.reason).toBe('stop_refused: insufficient_qty: insufficient qty available for order (requested: 10, available: 0)');
    // Not due before its backoff: a pass sends nothing.
    await worker().kick();
    expect(posts).toBe(1);
  });

  it('retries refused stops of a symbol at most 10 times a minute, however often they are woken', async () => {
    postOrder = async () => {
      throw new ValidationError(new Response(), 422, 40010001, 'invalid trail_percent');
    };
    const w = worker();
    for (let i = 0; i < 30; i++) {
      // Woken at once every time (as a resize or a new ask would), a second apart.
      updateStopRow(db, CID, { next_attempt_at: 0 });
      vi.setSystemTime(T0 + i * 1000);
      await w.kick();
    }
    expect(posts).toBe(11); // the first send, then 10 retries in the first minute
    expect(readStopRow(db, CID)).toMatchObject({ status: 'rejected', last_error: 'invalid: invalid trail_percent' });
    vi.setSystemTime(T0 + 61_000);
    updateStopRow(db, CID, { next_attempt_at: 0 });
    await w.kick();
    expect(posts).toBe(12);
  });

  it('a 422 duplicate is adopted, not refused', async () => {
    postOrder = async () => {
      throw new ValidationError(new Response(), 422, 40010001, 'client_order_id must be unique');
    };
    const existing = { ...fixture('order-limit-accepted.json'), client_order_id: CID, side: 'sell', qty: '10', type: 'trailing_stop', order_type: 'trailing_stop', limit_price: null, trail_percent: '2' };
    const w = worker();
    (w as unknown as { deps: { client: { orders: Record<string, unknown> } } }).deps.client.orders.getOrderByClientOrderId = async () => existing;
    await w.kick();
    expect(readStopRow(db, CID)).toMatchObject({ status: 'confirmed', broker_order_id: existing.id, placed_qty: '10', attempts: 0, last_error: null });
    expect(working).toEqual(['e1']);
  });
});

describe('stop worker: a send cut off with its process', () => {
  let db: Database;
  const requests: string[] = [];

  const worker = () =>
    new StopWorker({
      db,
      log: captureLogger().log,
      client: {
        orders: {
          postOrder: async (req: { postOrderRequest: { clientOrderId: string; qty: string } }) => {
            requests.push(`POST ${req.postOrderRequest.clientOrderId}`);
            const r = req.postOrderRequest;
            return { ...fixture('order-limit-accepted.json'), client_order_id: r.clientOrderId, side: 'sell', qty: r.qty, type: 'trailing_stop', order_type: 'trailing_stop', limit_price: null, trail_percent: '2' };
          },
          getOrderByClientOrderId: async ({ clientOrderId }: { clientOrderId: string }) => {
            requests.push(`GET ${clientOrderId}`);
            throw new NotFoundError(new Response(), 404, 40410000, 'order not found');
          },
        },
      } as unknown as BrokerClient,
      actors: { stopWorking: () => undefined, positionClosed: () => undefined } as unknown as OrderActors,
      settings: { trailPercent: '2', cryptoLimitSlippagePercent: '1' },
      latestPrice: async () => '100',
      ledgerPosition: () => '10',
      graceMs: 10_000,
    });

  ledgerWithOneStop((d) => {
    db = d;
    requests.length = 0;
  });

  it('a send an earlier process made and the broker never saw is sent again at once, under the same client order id', async () => {
    // The process that committed sent_at died 2 s ago with its request: it landed or never will.
    updateStopRow(db, CID, { status: 'unknown', sent_at: new Date(T0 - 2000).toISOString(), next_attempt_at: 0 });
    await worker().kick();
    expect(requests).toEqual([`GET ${CID}`, `POST ${CID}`]);
    expect(readStopRow(db, CID)).toMatchObject({ status: 'confirmed', placed_qty: '10' });
  });

  it('a send this process made may still appear: a 404 within the grace waits, and asks again', async () => {
    const w = worker();
    vi.setSystemTime(T0 + 500);
    updateStopRow(db, CID, { status: 'unknown', sent_at: new Date(T0 + 500).toISOString(), next_attempt_at: 0 });
    vi.setSystemTime(T0 + 1500);
    await w.kick();
    expect(requests).toEqual([`GET ${CID}`]);
    expect(readStopRow(db, CID)).toMatchObject({ status: 'unknown', next_attempt_at: T0 + 2500 });
  });
});

describe('stop worker: prices on the grid', () => {
  it('a stop price kept from a time the grid could not be read goes on the grid when the stop is sent', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    const db = await openDatabase(':memory:');
    const sent: Array<{ stopPrice?: string; limitPrice?: string }> = [];
    try {
      const cid = 'ct-stop-eth1';
      upsertStop(db, { entryOrderId: 'eth1', clientOrderId: cid, symbol: 'ETH/USD', assetClass: 'crypto', side: 'sell', qty: '0.5' });
      // A ratchet worked 3301.75 out without ETH/USD's price increment (0.1): off the grid, Alpaca refuses it.
      updateStopRow(db, cid, { target_stop_price: '3301.75' });
      const w = new StopWorker({
        db,
        log: captureLogger().log,
        client: {
          orders: {
            postOrder: async (req: { postOrderRequest: { clientOrderId: string; qty: string; stopPrice: string; limitPrice: string } }) => {
              const r = req.postOrderRequest;
              sent.push({ stopPrice: r.stopPrice, limitPrice: r.limitPrice });
              return { ...fixture('order-limit-accepted.json'), symbol: 'ETH/USD', asset_class: 'crypto', client_order_id: r.clientOrderId, side: 'sell', qty: r.qty, type: 'stop_limit', order_type: 'stop_limit', stop_price: r.stopPrice, limit_price: r.limitPrice };
            },
          },
        } as unknown as BrokerClient,
        actors: { stopWorking: () => undefined, positionClosed: () => undefined } as unknown as OrderActors,
        settings: { trailPercent: '2', cryptoLimitSlippagePercent: '1' },
        latestPrice: async () => '3369.14',
        ledgerPosition: () => '0.5',
        grids: { of: async () => ({ minOrderSize: '0.001', minTradeIncrement: '0.000000001', priceIncrement: '0.1' }) } as unknown as AssetGrids,
      });
      await w.kick();
      expect(sent).toEqual([{ stopPrice: '3301.7', limitPrice: '3268.6' }]);
    } finally {
      vi.useRealTimers();
      await db.close();
    }
  });
});

describe('stop worker: a crypto stop an exit cut', () => {
  /**
   * The outside trader sold what the broker held of an ETH entry: the ledger, its buy's fee not read
   * yet (CFEE comes with the poll), still counts that fee as held, and the stop is cut to it. The
   * broker's position, not the ledger, says what is left to sell (Alpaca refuses a sell of more:
   * "insufficient balance").
   */
  async function sendCut(broker: string | null | Error, ledger: string): Promise<{ sent: string[]; asked: number; row: ReturnType<typeof readStopRow>; events: string[] }> {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    const db = await openDatabase(':memory:');
    const sent: string[] = [];
    let asked = 0;
    const capture = captureLogger();
    try {
      const cid = 'ct-stop-eth2';
      upsertStop(db, { entryOrderId: 'eth2', clientOrderId: cid, symbol: 'ETH/USD', assetClass: 'crypto', side: 'sell', qty: '0.5' });
      updateStopRow(db, cid, { cut_qty: new D('0.5').minus(ledger).toFixed() });
      const w = new StopWorker({
        db,
        log: capture.log,
        client: {
          orders: {
            postOrder: async (req: { postOrderRequest: { clientOrderId: string; qty: string; stopPrice: string; limitPrice: string } }) => {
              const r = req.postOrderRequest;
              sent.push(r.qty);
              return { ...fixture('order-limit-accepted.json'), symbol: 'ETH/USD', asset_class: 'crypto', client_order_id: r.clientOrderId, side: 'sell', qty: r.qty, type: 'stop_limit', order_type: 'stop_limit', stop_price: r.stopPrice, limit_price: r.limitPrice };
            },
          },
          positions: {
            getOpenPosition: async () => {
              asked += 1;
              if (broker instanceof Error) throw broker;
              if (broker === null) throw new NotFoundError(new Response(), 404, 40410000, 'position does not exist');
              return { symbol: 'ETHUSD', asset_class: 'crypto', side: 'long', qty: broker };
            },
          },
        } as unknown as BrokerClient,
        actors: { stopWorking: () => undefined, positionClosed: () => undefined } as unknown as OrderActors,
        settings: { trailPercent: '2', cryptoLimitSlippagePercent: '1' },
        latestPrice: async () => '3369.14',
        ledgerPosition: () => ledger,
        grids: { of: async () => ({ minOrderSize: '0.0001', minTradeIncrement: '0.000000001', priceIncrement: '0.1' }) } as unknown as AssetGrids,
      });
      await w.kick();
      return { sent, asked, row: readStopRow(db, cid), events: capture.lines().map((l) => String(l.event)) };
    } finally {
      vi.useRealTimers();
      await db.close();
    }
  }

  it('the broker holds none of it: nothing is sent (no refusal), the stop waits for the ledger to catch up', async () => {
    const { sent, asked, row, events } = await sendCut(null, '0.00125');
    expect(asked).toBe(1);
    expect(sent).toEqual([]);
    expect(row).toMatchObject({ status: 'pending', sent_at: null, broker_order_id: null });
    expect(row!.next_attempt_at).toBeGreaterThan(T0);
    expect(events).toContain('stop_position_unconfirmed');
    expect(events).not.toContain('stop_rejected');
  });

  it('the broker cannot be read: the ledger answers, as for any stop (a failed read does not hold the stop back)', async () => {
    const { sent, asked } = await sendCut(new Error('socket hang up'), '0.2');
    expect(asked).toBe(1);
    expect(sent).toEqual(['0.2']);
  });

  it('the broker holds less than the ledger says (the fee): the stop covers what the broker holds', async () => {
    const { sent, asked } = await sendCut('0.1988', '0.2');
    expect(asked).toBe(1);
    expect(sent).toEqual(['0.1988']);
  });
});

describe('stop worker: a refused resize whose order filled', () => {
  let db: Database;
  const requests: string[] = [];
  ledgerWithOneStop((d) => {
    db = d;
    requests.length = 0;
  });

  it('is not armed again from the broker’s answer: the fill comes through the ledger, which cuts the stop first', async () => {
    // Working for 10 as bo1; the position shrank, so the stop is being resized (version 1) to 6.
    updateStopRow(db, CID, { status: 'pending', broker_order_id: 'bo1', version: 1, current_client_order_id: `${CID}-v1`, placed_qty: '10', cut_qty: '4', next_attempt_at: 0 });
    const filled = { ...fixture('order-limit-accepted.json'), id: 'bo1', client_order_id: CID, side: 'sell', qty: '10', filled_qty: '10', filled_avg_price: '98.1', status: 'filled', type: 'trailing_stop', order_type: 'trailing_stop', limit_price: null, trail_percent: '2' };
    const w = new StopWorker({
      db,
      log: captureLogger().log,
      client: {
        orders: {
          patchOrderByOrderId: async () => {
            requests.push('PATCH bo1');
            // The stop filled a moment before the resize reached it.
            throw new ValidationError(new Response(), 422, 42210000, 'order is not open');
          },
          getOrderByOrderID: async () => {
            requests.push('GET bo1');
            return filled;
          },
          postOrder: async () => {
            requests.push('POST');
            throw new Error('no new stop may be sent for what the filled order already sold');
          },
        },
      } as unknown as BrokerClient,
      actors: { stopWorking: () => undefined, positionClosed: () => undefined } as unknown as OrderActors,
      settings: { trailPercent: '2', cryptoLimitSlippagePercent: '1' },
      latestPrice: async () => '100',
      ledgerPosition: () => '6',
    });
    await w.kick();
    expect(requests).toEqual(['PATCH bo1', 'GET bo1']);
    const row = readStopRow(db, CID)!;
    expect(row.version).toBe(1);
    expect(stopStateOf(row)).toBe('refused');
  });
});
