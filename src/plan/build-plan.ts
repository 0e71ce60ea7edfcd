import { errors } from '@alpacahq/alpaca-trade-api';
import type { AccountConfig, Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Endpoints } from '../account.js';
import { createBrokerClient, type BrokerClient } from '../broker/client.js';
import { createPriceSource } from '../broker/market-data.js';
import { keysRefused } from '../broker/credentials.js';
import { listPositions } from '../broker/positions.js';
import { parseOrder } from '../broker/adapter.js';
import type { OrderReport } from '../domain/reports.js';
import { isCrypto, isOption } from '../domain/symbols.js';
import { ledgerPositions } from '../store/ledger.js';
import { guardExits } from '../store/guard-exits.js';
import { OPEN_ORDERS_PAGE } from '../sync/reconciler.js';
import { openScratchStore } from './scratch-store.js';
import { dryBroker } from './dry-broker.js';
import { dryStart } from './dry-start.js';
import { explain, readBefore } from './explain.js';
import type { AccountPlan, PlanHeader } from './types.js';

/**
 * One account's plan: its keys checked (GET /v2/account), its store copied (./scratch-store.ts),
 * a start run on the copy against the dry broker (./dry-start.ts, ./dry-broker.ts), and what it did
 * explained (./explain.ts). Sends nothing but GET requests; leaves the real database untouched.
 */
export interface BuildPlanDeps {
  config: Config;
  account: AccountConfig;
  endpoints: Endpoints;
  /** Where the account's SQLite file is (accountDbPath) — or where the demo keeps its own. */
  dbPath: string;
  log: Logger;
  /** Header notes from the caller (demo mode, …). */
  notes?: string[];
  /** Plan a first start whatever the database holds, saying why (the demo starts on a fresh one each run). */
  fresh?: string;
}

export async function buildPlan(deps: BuildPlanDeps): Promise<AccountPlan> {
  const { config, account, endpoints, log } = deps;
  const real = createBrokerClient(endpoints, { log, readOnly: true, rateLimit: config.brokerRateLimit });
  const prices = createPriceSource({ keyId: endpoints.keyId, secretKey: endpoints.secretKey, dataUrl: endpoints.dataUrl });
  const reads = () => real.requestCount() + prices.requestCount();
  const host = new URL(real.apiUrl).host;

  let who: { number: string | null; status: string | null };
  try {
    const a = (await real.account.getAccount()) as unknown as Record<string, unknown>;
    who = { number: typeof a.accountNumber === 'string' ? a.accountNumber : typeof a.account_number === 'string' ? a.account_number : null, status: a.status == null ? null : String(a.status) };
  } catch (err) {
    if (err instanceof errors.AuthError || err instanceof errors.PermissionError) throw keysRefused(err.status, real.apiUrl);
    throw new Error(`could not read the account at ${host}: ${(err as Error).message}`);
  }

  const store = await openScratchStore({ dbPath: deps.dbPath, dbUrl: config.dbUrl, fresh: deps.fresh });
  try {
    const { db } = store;
    const before = readBefore(db);
    const dry = dryBroker(real);
    const started = await dryStart({ config, account, db, client: dry.client, prices, log });

    const ledger = ledgerPositions(db);
    const broker = await listPositions(real);
    const openOrders = await allOpenOrders(real);
    const stopSymbols = [...new Set(db.all(db.kysely.selectFrom('stops').select('symbol').where('status', '!=', 'done')).map((r) => r.symbol))];
    const latest = await latestPrices(prices, stopSymbols);
    const session = started.clock.session();
    const plan = explain({
      db,
      account,
      before,
      requests: dry.requests,
      ledger,
      broker,
      openOrders,
      latest,
      raised: started.raised,
      session,
      protectGraceS: config.protectGraceS,
    });

    const notes = [...(deps.notes ?? []), ...store.notes];
    if (config.extendedHoursGuard.enabled) notes.push('CT_EXTENDED_HOURS_GUARD is on: outside regular hours it exits positions whose stop level is crossed with limit orders; those exits are not planned here');
    else if (guardExits(db).length > 0) notes.push('the extended-hours guard has exits in progress: a start cancels them and places their stops again (not shown)');
    notes.push('shown as the start settles: with a long history, a start may also place a stop and resize or cancel it while later fills are read');
    const header: PlanHeader = {
      account: account.name,
      mode: account.mode,
      broker: host,
      accountNumber: who.number,
      accountStatus: who.status,
      adopt: account.adopt,
      trailPercent: account.trailPercent,
      cooldownMinutes: account.cooldownMinutes,
      store: store.description,
      session,
      reads: reads(),
      notes,
    };
    return { header, plan };
  } finally {
    await store.close();
  }
}

/** Every open order, paged by id as the reconciler reads them. */
async function allOpenOrders(client: BrokerClient): Promise<OrderReport[]> {
  const out: OrderReport[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await client.orders.getAllOrders({ status: 'open', limit: OPEN_ORDERS_PAGE, direction: 'asc', afterOrderId: after });
    for (const raw of page) {
      const parsed = parseOrder(raw);
      if (parsed.ok) out.push(parsed.value);
    }
    if (page.length < OPEN_ORDERS_PAGE) return out;
    after = (page[page.length - 1] as { id?: string }).id;
    if (!after) return out;
  }
}

async function latestPrices(prices: ReturnType<typeof createPriceSource>, symbols: string[]): Promise<Map<string, string>> {
  const crypto = symbols.filter((s) => isCrypto(s));
  // Option contracts have no price on the stocks endpoint: shown unpriced, and never in a stocks batch.
  const stocks = symbols.filter((s) => !isCrypto(s) && !isOption(s));
  const [c, e] = await Promise.all([
    crypto.length ? prices.latestCrypto(crypto).catch(() => new Map<string, string>()) : new Map<string, string>(),
    stocks.length ? prices.latestStock(stocks).catch(() => new Map<string, string>()) : new Map<string, string>(),
  ]);
  return new Map([...c, ...e]);
}
