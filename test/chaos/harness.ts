import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { D, normalize } from '../../src/decimal.js';
import { entryOfStop, isLiveStatus } from '../../src/domain/orders.js';
import { startBot, type BotProcess } from '../support/bot-process.js';
import { sqliteLedger, type LedgerSource } from './ledger-source.js';

/**
 * Chaos: the bot as a child process against the standalone simulator (its own process, with the
 * outside trader and faults on) is SIGKILLed at random moments and restarted, again and again.
 * Then traffic stops, one last bot settles, and everything is compared with the simulator's
 * ground truth. Figures are what the run measured; `violations` lists every invariant broken.
 *
 * Beyond the simulator's defaults, two more of Alpaca's rules are in play: a share of the outside
 * trader's equity entries is fractional (`--fractional-rate`; the bot protects 2.5 shares with a gtc
 * trailing stop for 2 and a `day` stop for 0.5), and some outside equity orders are reported
 * `done_for_day` (fault `done_for_day_rate`). Every `sessionEvery` kills the session closes for
 * `sessionClosedMs` (every open equity day order expires, fraction stops included) and reopens
 * (done_for_day orders fill again); bots are started and killed across both.
 */
export interface ChaosOptions {
  kills: number;
  seed: number;
  /** How long each bot lives before its SIGKILL: uniform in [minUpMs, maxUpMs]. */
  minUpMs?: number;
  maxUpMs?: number;
  settleMs?: number;
  /** Share of the outside trader's equity entries that are fractional (default 0.25). */
  fractionalRate?: number;
  /** Chance that an open outside equity order is reported done_for_day (default 0.02). */
  doneForDayRate?: number;
  /** Close the session at every Nth kill (default 25; 0 = never), for sessionClosedMs (default 2000). */
  sessionEvery?: number;
  sessionClosedMs?: number;
  progress?: (line: string) => void;
}

export interface ChaosFigures {
  kills: number;
  seconds: number;
  broker_orders: number;
  broker_fills: number;
  ledger_rows: number;
  lost_fills: number;
  duplicate_fills: number;
  vwap_mismatches: number;
  entries_protected: number;
  duplicate_stops: number;
  unprotected_positions: number;
  overprotected_positions: number;
  cooldowns: number;
  /** Exits the broker's own fill history says closed (or crossed) a position. */
  closing_exits: number;
  duplicate_cooldowns: number;
  missing_cooldowns: number;
  /** Positions uncovered because a crossing outside order blocks the stop (Alpaca's wash-trade refusal), reported as such. */
  wash_trade_blocked: number;
  /** Outside equity buys that filled a fractional quantity. */
  fractional_entries: number;
  /** Times the run closed (and reopened) the simulated session. */
  session_closes: number;
  violations: string[];
}

export const KEY = 'PKCHAOS';
export const SECRET = 'chaos-secret';
const HEADERS = { 'APCA-API-KEY-ID': KEY, 'APCA-API-SECRET-KEY': SECRET };
/** Statuses of an order that may still fill (the service's own grouping, src/domain/orders.ts). */
const LIVE = { has: (status: string) => isLiveStatus(status) };

export function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A stop's family: its client_order_id without the replacement's `-v<n>` (`ct-stop-<entry>` or `ct-stop-<entry>-f`). */
function stopFamily(clientOrderId: string): string {
  return clientOrderId.replace(/-v\d+$/, '');
}

export async function startSimProcess(
  seed: number,
  fractionalRate: number,
): Promise<{ proc: ChildProcess; url: string; streamUrl: string; dataUrl: string }> {
  const proc = spawn(
    process.execPath,
    [
      '--import', 'tsx', resolve('src/sim/cli.ts'), '--port', '0', '--seed', String(seed), '--outside-trader', '--interval-ms', '250',
      '--fractional-rate', String(fractionalRate), '--key-id', KEY, '--secret-key', SECRET,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((res, rej) => {
    let buf = '';
    proc.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const line = buf.split('\n').find((l) => l.includes('sim_listening'));
      if (line) {
        const j = JSON.parse(line);
        res({ proc, url: j.url, streamUrl: j.stream_url, dataUrl: j.data_url });
      }
    });
    proc.once('exit', (code) => rej(new Error(`simulator exited (${code})`)));
  });
}

export async function sim(url: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(url + path, { method, headers: { ...HEADERS, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return res.json();
}

export async function allOrders(url: string): Promise<any[]> {
  const out: any[] = [];
  let after: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ status: 'all', limit: '500', direction: 'asc', ...(after ? { after_order_id: after } : {}) });
    const page = (await sim(url, 'GET', `/v2/orders?${q}`)) as any[];
    out.push(...page);
    if (page.length < 500) return out;
    after = page[page.length - 1].id;
  }
}

export async function allFillActivities(url: string): Promise<any[]> {
  const out: any[] = [];
  let token: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ activity_types: 'FILL', direction: 'asc', page_size: '100', ...(token ? { page_token: token } : {}) });
    const page = (await sim(url, 'GET', `/v2/account/activities?${q}`)) as any[];
    out.push(...page);
    if (page.length < 100) return out;
    token = page[page.length - 1].id;
  }
}

/**
 * Every fill, in the broker's order, that closed or crossed its symbol's position, with the fills
 * of the same symbol at the same instant ("<order>:<cum_qty>" each): nothing orders fills that share
 * a transaction time (the stream may deliver them either way), so a cooldown on any of them counts.
 */
function closingExits(activities: any[]): Array<{ id: string; sameInstant: Set<string> }> {
  const position = new Map<string, InstanceType<typeof D>>();
  const instants = new Map<string, Set<string>>();
  const out: Array<{ id: string; sameInstant: Set<string> }> = [];
  for (const a of activities) {
    const id = `${a.order_id}:${normalize(a.cum_qty)}`;
    const key = `${a.symbol}@${a.transaction_time}`;
    const group = instants.get(key) ?? new Set<string>();
    instants.set(key, group.add(id));
    const before = position.get(a.symbol) ?? new D(0);
    const after = a.side === 'buy' ? before.plus(a.qty) : before.minus(a.qty);
    position.set(a.symbol, after);
    if (!before.isZero() && (after.isZero() || after.isPositive() !== before.isPositive())) out.push({ id, sameInstant: group });
  }
  return out;
}

/**
 * Measures the run: the broker's truth (orders, positions, fills) against the ledger's rows (SQLite or
 * PostgreSQL, whichever `ledger` reads). Every broken invariant is a line in `violations`.
 */
export async function measure(
  url: string,
  ledger: LedgerSource,
  cooldownLines: Array<Record<string, any>>,
  kills: number,
  sessionCloses: number,
  t0: number,
): Promise<ChaosFigures> {
  const orders = await allOrders(url);
  const positions = (await sim(url, 'GET', '/v2/positions')) as any[];
  const stats = await sim(url, 'GET', '/_sim/stats');
  const books = await ledger.read();
  const rows = books.fills;
  const cooldownIds = new Set(books.cooldownIds);
  const cooldowns = cooldownIds.size;
  const exits = closingExits(await allFillActivities(url));
  const entries = { n: books.entriesFilled };
  const washRefused = new Set(books.washRefusedSymbols.map((s) => s.replace('/', '')));

  const violations: string[] = [];
  const byOrder = new Map<string, Array<{ qty: string; price: string }>>();
  for (const r of rows) byOrder.set(r.order_id, [...(byOrder.get(r.order_id) ?? []), r]);
  let lost = 0;
  let dup = 0;
  let vwap = 0;
  for (const o of orders) {
    const fills = byOrder.get(o.id) ?? [];
    const qty = fills.reduce((s, f) => s.plus(f.qty), new D(0));
    if (qty.lt(o.filled_qty)) {
      lost += 1;
      violations.push(`lost fill: order ${o.id} ledger ${qty} < broker ${o.filled_qty}`);
    } else if (qty.gt(o.filled_qty)) {
      dup += 1;
      violations.push(`duplicate fill: order ${o.id} ledger ${qty} > broker ${o.filled_qty}`);
    } else if (qty.gt(0)) {
      const dp = (String(o.filled_avg_price).split('.')[1] ?? '').length;
      const avg = fills.reduce((s, f) => s.plus(new D(f.qty).times(f.price)), new D(0)).div(qty).toDecimalPlaces(dp);
      if (!avg.eq(o.filled_avg_price)) {
        vwap += 1;
        violations.push(`vwap: order ${o.id} ledger ${avg} != broker ${o.filled_avg_price}`);
      }
    }
  }

  // Stops: per protected order, at most one live per stop family (an entry of 2.5 shares has a trailing
  // stop for 2, `ct-stop-<entry>[-v<n>]`, and a day stop for 0.5, `ct-stop-<entry>-f[-v<n>]`), and all its
  // stops together never sold more than it bought (a stop that filled may be armed again, under its next
  // id, for what is left: filled in turn, never twice).
  const stopsByEntry = new Map<string, any[]>();
  const filledOf = new Map<string, string>(orders.map((o) => [String(o.id), String(o.filled_qty)]));
  for (const o of orders) {
    const entry = entryOfStop(String(o.client_order_id));
    if (entry) stopsByEntry.set(entry, [...(stopsByEntry.get(entry) ?? []), o]);
  }
  let dupStops = 0;
  for (const [entry, stops] of stopsByEntry) {
    const liveByFamily = new Map<string, number>();
    for (const s of stops) {
      if (LIVE.has(s.status)) liveByFamily.set(stopFamily(String(s.client_order_id)), (liveByFamily.get(stopFamily(String(s.client_order_id))) ?? 0) + 1);
    }
    const live = [...liveByFamily.values()].reduce((a, b) => a + b, 0);
    const doubled = [...liveByFamily].filter(([, n]) => n > 1).map(([family, n]) => `${n} live ${family}`);
    const filled = stops.filter((s) => s.status === 'filled');
    const sold = stops.reduce((sum, s) => sum.plus(s.filled_qty ?? 0), new D(0));
    const bought = new D(filledOf.get(entry) ?? 0);
    if (doubled.length > 0 || (filled.length > 1 && sold.gt(bought))) {
      dupStops += 1;
      violations.push(`duplicate stops for ${entry}: ${doubled.length > 0 ? doubled.join(', ') : `${live} live`}, ${filled.length} filled (${sold} sold of ${bought})`);
    }
  }

  // Every open position is covered by live stops on its closing side, and not by more.
  let unprotected = 0;
  let over = 0;
  let blocked = 0;
  for (const p of positions) {
    const qty = new D(p.qty);
    if (qty.isZero()) continue;
    const closing = qty.isPositive() ? 'sell' : 'buy';
    const key = String(p.symbol).replace('/', '');
    const covered = orders
      .filter((o) => entryOfStop(String(o.client_order_id)) && LIVE.has(o.status) && o.side === closing && String(o.symbol).replace('/', '') === key)
      .reduce((s, o) => s.plus(new D(o.qty).minus(o.filled_qty)), new D(0));
    // Nothing can be sold twice: quantity an outside order on the closing side already holds cannot
    // carry a stop too (Alpaca refuses it: insufficient balance for crypto, held_for_orders for
    // shares), so only the rest must be covered. Alpaca lists crypto positions without the slash.
    const reserved = orders
      .filter((o) => !String(o.client_order_id).startsWith('ct-') && LIVE.has(o.status) && o.side === closing && String(o.symbol).replace('/', '') === key)
      .reduce((s, o) => s.plus(new D(o.qty).minus(o.filled_qty)), new D(0));
    // A crypto stop refused as a wash trade while the outside trader's crossing order rests on the
    // other side: reported (the bot's reason), confirmed by the broker's open orders, not a violation.
    const crossing = orders.some((o) => !String(o.client_order_id).startsWith('ct-') && LIVE.has(o.status) && o.side !== closing && String(o.symbol).replace('/', '') === key);
    const washBlocked = crossing && washRefused.has(key);
    if (covered.lt(D.max(qty.abs().minus(reserved), 0)) && washBlocked) {
      blocked += 1;
    } else if (covered.lt(D.max(qty.abs().minus(reserved), 0))) {
      unprotected += 1;
      violations.push(`unprotected: ${p.symbol} position ${p.qty}, stops cover ${covered}`);
    } else if (covered.gt(qty.abs())) {
      over += 1;
      violations.push(`over-protected: ${p.symbol} position ${p.qty}, stops cover ${covered}`);
    }
  }

  // One cooldown per exit: the table is keyed by the exit fill, and no exit is announced twice. (A
  // kill can land between a cooldown's commit and its log line, so the logs may announce fewer.)
  const seen = new Map<string, number>();
  for (const l of cooldownLines) seen.set(l.exit_fill_id, (seen.get(l.exit_fill_id) ?? 0) + 1);
  const dupCooldowns = [...seen.values()].filter((n) => n > 1).length;
  if (dupCooldowns) violations.push(`${dupCooldowns} exits started more than one cooldown`);
  if (seen.size > cooldowns) violations.push(`logs announced ${seen.size} cooldowns, the table holds ${cooldowns}`);
  // And every exit that closed a position (by the broker's fill order) started one.
  const missing = exits.filter((e) => ![...e.sameInstant].some((id) => cooldownIds.has(id)));
  for (const e of missing) violations.push(`no cooldown for the closing exit ${e.id}`);

  return {
    kills,
    seconds: Math.round((Date.now() - t0) / 1000),
    broker_orders: orders.length,
    broker_fills: stats.fills,
    ledger_rows: rows.length,
    lost_fills: lost,
    duplicate_fills: dup,
    vwap_mismatches: vwap,
    entries_protected: entries.n,
    duplicate_stops: dupStops,
    unprotected_positions: unprotected,
    overprotected_positions: over,
    cooldowns,
    closing_exits: exits.length,
    duplicate_cooldowns: dupCooldowns,
    missing_cooldowns: missing.length,
    wash_trade_blocked: blocked,
    fractional_entries: orders.filter(
      (o) => o.asset_class === 'us_equity' && o.side === 'buy' && !String(o.client_order_id).startsWith('ct-') && !new D(o.filled_qty).isInteger(),
    ).length,
    session_closes: sessionCloses,
    violations,
  };
}

/**
 * Beyond Alpaca's rules (the simulator's defaults: crypto fees and grids, held shares, wash trades):
 * transport faults, FILL activities published late behind ids already served (Alpaca-API#176), which
 * only the trailing re-read behind the watermark records, and outside equity orders reported
 * done_for_day (no fill until the next session).
 */
export async function startFaults(url: string, doneForDayRate = 0.02): Promise<void> {
  await sim(url, 'POST', '/_sim/faults', {
    rate_429: 0.05,
    rate_5xx: 0.05,
    ws_duplicate_rate: 0.1,
    ws_reorder_rate: 0.1,
    ws_drop_rate: 0.02,
    late_activity_rate: 0.02,
    late_activity_ms: 3000,
    done_for_day_rate: doneForDayRate,
  });
}

export interface SessionCloser {
  /** Before round `i`: at every `every`th, closes the session (after the last reopening) and reopens it `closedMs` later. */
  before(i: number, what: string): Promise<void>;
  /** The reopening in flight, if any. */
  settled(): Promise<void>;
  closes(): number;
}

/** The session closes now and then and reopens `closedMs` later, whatever the bots are doing. */
export function sessionCloser(url: string, every: number, closedMs: number, say: (line: string) => void): SessionCloser {
  let count = 0;
  let reopening: Promise<void> | null = null;
  return {
    async before(i, what) {
      if (!(every > 0 && i % every === 0)) return;
      await reopening;
      const closed = await sim(url, 'POST', '/_sim/clock', { is_open: false });
      count += 1;
      say(`session closed before ${what} ${i}: ${closed.expired_order_ids?.length ?? 0} day orders expired`);
      reopening = new Promise((r) => setTimeout(r, closedMs)).then(async () => {
        await sim(url, 'POST', '/_sim/clock', { is_open: true });
        say('session reopened');
      });
      reopening.catch(() => undefined); // awaited later; no unhandled rejection meanwhile
    },
    async settled() {
      await reopening;
    },
    closes: () => count,
  };
}

/** Quiesce: the session open, no more outside traffic, no more faults (done_for_day_rate too). */
export async function quiesce(url: string, sessions: SessionCloser): Promise<void> {
  await sessions.settled();
  await sim(url, 'POST', '/_sim/clock', { is_open: true });
  await sim(url, 'POST', '/_sim/outside-trader', { running: false });
  await sim(url, 'DELETE', '/_sim/faults');
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosFigures> {
  const t0 = Date.now();
  const rand = mulberry32(opts.seed);
  const minUp = opts.minUpMs ?? 400;
  const maxUp = opts.maxUpMs ?? 3000;
  const say = opts.progress ?? (() => undefined);
  const dir = mkdtempSync(join(tmpdir(), 'ct-chaos-'));
  const dbPath = join(dir, 'chaos.db');
  const sessionEvery = opts.sessionEvery ?? 25;
  const sessionClosedMs = opts.sessionClosedMs ?? 2000;
  const simProc = await startSimProcess(opts.seed, opts.fractionalRate ?? 0.25);
  const bots: BotProcess[] = [];
  const env = {
    APCA_API_KEY_ID: KEY,
    APCA_API_SECRET_KEY: SECRET,
    ALPACA_API_URL: simProc.url,
    ALPACA_STREAM_URL: simProc.streamUrl,
    ALPACA_DATA_URL: simProc.dataUrl,
    CT_DB_PATH: dbPath,
    CT_API_PORT: '0',
    CT_POLL_MS: '1000',
    CT_RATCHET_MS: '1000',
    CT_LOG_LEVEL: 'info',
  };
  try {
    // Alpaca's rules are the simulator's defaults; transport faults, late activities and done_for_day on top.
    await startFaults(simProc.url, opts.doneForDayRate);
    // The session closes now and then (equity day orders expire, fraction stops among them) and
    // reopens sessionClosedMs later (done_for_day orders fill again), whatever the bots are doing.
    const sessions = sessionCloser(simProc.url, sessionEvery, sessionClosedMs, say);
    for (let i = 1; i <= opts.kills; i++) {
      await sessions.before(i, 'bot');
      const bot = startBot(env);
      bots.push(bot);
      await bot.apiUrl();
      const up = Math.round(minUp + rand() * (maxUp - minUp));
      await new Promise((r) => setTimeout(r, up));
      bot.proc.kill('SIGKILL');
      await bot.exited;
      say(`kill ${i}/${opts.kills} after ${up} ms up`);
    }

    // Quiesce: the session open, no more outside traffic, no more faults (done_for_day_rate too);
    // one last bot brings everything in.
    await quiesce(simProc.url, sessions);
    const quiet = Date.now();
    const last = startBot(env);
    bots.push(last);
    await last.apiUrl();
    const deadline = Date.now() + (opts.settleMs ?? 90_000);
    const ledger = sqliteLedger(dbPath);
    const cooldownLines = () => bots.flatMap((b) => b.lines.filter((l) => l.event === 'cooldown_started'));
    let figures: ChaosFigures;
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000));
      const reconciled = last.lines.some((l) => l.event === 'reconcile_done' && Date.parse(l.time) - l.duration_ms > quiet);
      figures = await measure(simProc.url, ledger, cooldownLines(), opts.kills, sessions.closes(), t0);
      if (reconciled && figures.violations.length === 0) break;
      if (Date.now() > deadline) break;
    }
    last.proc.kill('SIGTERM');
    await last.exited;
    if (process.env.CT_CHAOS_KEEP) {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(dir, 'orders.json'), JSON.stringify(await allOrders(simProc.url), null, 1));
      writeFileSync(join(dir, 'logs.jsonl'), bots.map((b, i) => b.lines.map((l) => JSON.stringify({ run: i, ...l })).join('\n')).join('\n'));
    }
    return figures;
  } finally {
    for (const b of bots) if (b.proc.exitCode === null && b.proc.signalCode === null) b.proc.kill('SIGKILL');
    simProc.proc.kill('SIGTERM');
    if (process.env.CT_CHAOS_KEEP) say(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
