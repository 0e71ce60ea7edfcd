import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBot, type BotProcess } from '../support/bot-process.js';
import { D, PROTECT_GRACE_S, canon, isLive, parseStopId, placedByBot, symbolKey, type Dec } from './broker-terms.js';
import { readBook, requestLogReader, sampleBook, washRefusals, type BookSampler, type RequestLogReader } from './broker-watch.js';
import { coverOf, intervalViolations, longestPerSymbol, needsCover, uncoveredIntervals, type CoverageRules } from './coverage.js';
import { sqliteLedger, type LedgerSource } from './ledger-source.js';
import { changeExecutions, freshBuys, type ExecutionChanges } from './execution-changes.js';
import { entryArgs } from '../support/entry.js';

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
  /** Outside orders whose first fill opened or added to a position (the broker's fill history). */
  entries: number;
  /** Entries the broker accepted a stop of ours for (any status but rejected). */
  entries_protected: number;
  duplicate_stops: number;
  /** At the end: positions our open stops leave uncovered (coverage.ts exceptions aside). */
  unprotected_positions: number;
  /** At the end: stops beyond a position, or open on a flat symbol. */
  overprotected_positions: number;
  /** The bot's CT_PROTECT_GRACE_S (broker-terms.ts), the most an uncovered interval may be charged. */
  protect_grace_s: number;
  /** Samples of the broker's book during the run, and the longest time between two. */
  coverage_samples: number;
  coverage_sample_gap_max_ms: number;
  uncovered_intervals: number;
  uncovered_intervals_over_grace: number;
  /** Per symbol, its longest uncovered interval: charged (a bot up) and wall seconds, its start, still open at the end. */
  longest_uncovered: Record<string, { charged_s: number; wall_s: number; from: string; open: boolean }>;
  cooldowns: number;
  /** Exits the broker's own fill history says closed (or crossed) a position. */
  closing_exits: number;
  duplicate_cooldowns: number;
  missing_cooldowns: number;
  /** At the end: positions uncovered because a crossing outside order blocks the stop (the broker refused one as a wash trade). */
  wash_trade_blocked: number;
  /** Outside equity buys that filled a fractional quantity. */
  fractional_entries: number;
  /** Times the run closed (and reopened) the simulated session. */
  session_closes: number;
  /** Executions busted and corrected at the simulator once the run was quiet (execution-changes.ts). */
  busts: number;
  corrections: number;
  /** Symbols whose position in the ledger (fills less crypto fees) is not the simulator's. */
  position_mismatches: number;
  violations: string[];
}

export const KEY = 'PKCHAOS';
export const SECRET = 'chaos-secret';
const HEADERS = { 'APCA-API-KEY-ID': KEY, 'APCA-API-SECRET-KEY': SECRET };

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

export async function startSimProcess(
  seed: number,
  fractionalRate: number,
): Promise<{ proc: ChildProcess; url: string; streamUrl: string; dataUrl: string }> {
  // `--careless`: the outside trader's resting orders cross the bot's stops and hold their shares (the
  // wash_trade and held exceptions of coverage.ts), as before the simulator's trader became careful.
  const proc = spawn(
    process.execPath,
    [
      ...entryArgs('src/sim/cli.ts'), '--port', '0', '--seed', String(seed), '--outside-trader', '--careless', '--interval-ms', '250',
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
  const position = new Map<string, Dec>();
  const instants = new Map<string, Set<string>>();
  const out: Array<{ id: string; sameInstant: Set<string> }> = [];
  for (const a of activities) {
    const id = `${a.order_id}:${canon(a.cum_qty)}`;
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
 * The entries, by the broker's fill history: orders placed outside the bot whose first fill opened
 * or added to their symbol's position (one that first reduced it is an exit).
 */
function entriesOf(activities: any[], placedOutside: (orderId: string) => boolean): Set<string> {
  const position = new Map<string, Dec>();
  const seen = new Set<string>();
  const entries = new Set<string>();
  for (const a of activities) {
    const k = symbolKey(String(a.symbol));
    const before = position.get(k) ?? new D(0);
    const delta = a.side === 'buy' ? new D(a.qty) : new D(a.qty).neg();
    if (!seen.has(a.order_id)) {
      seen.add(a.order_id);
      if (placedOutside(a.order_id) && (before.isZero() || before.isPositive() === delta.isPositive())) entries.add(a.order_id);
    }
    position.set(k, before.plus(delta));
  }
  return entries;
}

/** What the checker watched at the simulator during the run (broker-watch.ts). */
export interface BrokerWatch {
  sampler: BookSampler;
  log: RequestLogReader;
  rules: CoverageRules;
}

export interface Measured {
  figures: ChaosFigures;
  /** No violation of the state at the end (the past's, uncovered intervals, cannot change by waiting). */
  settled: boolean;
}

/**
 * Measures the run: the broker's truth (orders, positions, fills, the book sampled during the run and
 * its request log) against the ledger's rows (SQLite or PostgreSQL, whichever `ledger` reads). Every
 * broken invariant is a line in `violations`. Every rule is the checker's own (broker-terms.ts, coverage.ts).
 */
export async function measure(
  url: string,
  ledger: LedgerSource,
  cooldownLines: Array<Record<string, any>>,
  kills: number,
  sessionCloses: number,
  t0: number,
  watch: BrokerWatch,
  changes: ExecutionChanges = { busts: 0, corrections: 0, changes: [], ids: [] },
): Promise<Measured> {
  const orders = await allOrders(url);
  const stats = await sim(url, 'GET', '/_sim/stats');
  const book = await readBook(url);
  const log = await watch.log.refresh();
  const books = await ledger.read();
  const rows = books.fills;
  const cooldownIds = new Set(books.cooldownIds);
  const cooldowns = cooldownIds.size;
  const activities = await allFillActivities(url);
  const exits = closingExits(activities);
  const wash = washRefusals(log);

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

  // Positions: the ledger's (every fill, buys less sells, less each crypto fee taken in the coin) is
  // the simulator's, per symbol, busts and corrections included.
  const ledgerPosition = new Map<string, Dec>();
  const move = (symbol: string, by: Dec) => ledgerPosition.set(symbolKey(symbol), (ledgerPosition.get(symbolKey(symbol)) ?? new D(0)).plus(by));
  for (const r of rows) move(r.symbol, r.side === 'buy' ? new D(r.qty) : new D(r.qty).neg());
  for (const f of books.fees) move(f.symbol, new D(f.qty).neg());
  const brokerPosition = new Map(book.positions.map((p) => [symbolKey(p.symbol), new D(p.qty)] as const));
  let positionMismatches = 0;
  for (const symbol of new Set([...ledgerPosition.keys(), ...brokerPosition.keys()])) {
    const ours = ledgerPosition.get(symbol) ?? new D(0);
    const theirs = brokerPosition.get(symbol) ?? new D(0);
    if (!ours.eq(theirs)) {
      positionMismatches += 1;
      violations.push(`position: ${symbol} ledger ${ours} != broker ${theirs}`);
    }
  }

  // Stops: per entry, at most one live per stop family (an entry of 2.5 shares has a trailing stop
  // for 2, `ct-stop-<entry>[-v<n>]`, and a day stop for 0.5, `ct-stop-<entry>-f[-v<n>]`), and all its
  // stops together never sold more than it bought (a stop that filled may be armed again, under its next
  // id, for what is left: filled in turn, never twice).
  const stopsByEntry = new Map<string, any[]>();
  const filledOf = new Map<string, string>(orders.map((o) => [String(o.id), String(o.filled_qty)]));
  for (const o of orders) {
    const stop = parseStopId(String(o.client_order_id));
    if (stop) stopsByEntry.set(stop.entry, [...(stopsByEntry.get(stop.entry) ?? []), o]);
  }
  let dupStops = 0;
  for (const [entry, stops] of stopsByEntry) {
    const liveByFamily = new Map<string, number>();
    for (const s of stops) {
      const family = parseStopId(String(s.client_order_id))!.family;
      if (isLive(s.status)) liveByFamily.set(family, (liveByFamily.get(family) ?? 0) + 1);
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

  // Entries protected: those the broker accepted a stop of ours for (any status but rejected: it
  // was there; a filled one did its job).
  const outside = new Set(orders.filter((o) => !placedByBot(String(o.client_order_id))).map((o) => String(o.id)));
  const entries = entriesOf(activities, (id) => outside.has(id));
  const protectedEntries = [...entries].filter((e) => (stopsByEntry.get(e) ?? []).some((s) => s.status !== 'rejected'));

  // At the end, every open position is covered by our open stops on its closing side (coverage.ts,
  // with its exceptions), and not by more; no stop of ours is left open on a flat symbol.
  let unprotected = 0;
  let over = 0;
  let blocked = 0;
  for (const c of coverOf(book, watch.rules)) {
    const short = !new D(c.uncovered).isZero() && c.excuse === null;
    if (short && !needsCover(c, book.at, wash)) {
      blocked += 1;
    } else if (short) {
      unprotected += 1;
      violations.push(`unprotected: ${c.symbol} position ${c.position}, our stops cover ${c.covered}, other orders hold ${c.held}`);
    } else if (new D(c.covered).gt(new D(c.position).abs())) {
      over += 1;
      violations.push(`over-protected: ${c.symbol} position ${c.position}, our stops cover ${c.covered}`);
    }
  }
  const held = new Set(book.positions.filter((p) => !new D(p.qty).isZero()).map((p) => symbolKey(p.symbol)));
  for (const o of book.open_orders) {
    if (!parseStopId(o.client_order_id) || held.has(symbolKey(o.symbol))) continue;
    over += 1;
    violations.push(`over-protected: ${o.symbol} is flat, stop ${o.client_order_id} (${o.id}) is open for ${o.qty}`);
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
  const settled = violations.length === 0;

  // Throughout the run: the longest time each position waited for cover, sampled at the broker.
  const intervals = uncoveredIntervals(watch.sampler.samples, wash);
  const longest = [...longestPerSymbol(intervals).values()].sort((a, b) => b.charged_ms - a.charged_ms);
  const overGrace = intervalViolations(intervals, PROTECT_GRACE_S);
  violations.push(...overGrace);
  if (watch.log.gaps() > 0) violations.push(`the request log dropped ${watch.log.gaps()} entries before the checker read them`);

  return {
    settled,
    figures: {
      kills,
      seconds: Math.round((Date.now() - t0) / 1000),
      broker_orders: orders.length,
      broker_fills: stats.fills,
      ledger_rows: rows.length,
      lost_fills: lost,
      duplicate_fills: dup,
      vwap_mismatches: vwap,
      entries: entries.size,
      entries_protected: protectedEntries.length,
      duplicate_stops: dupStops,
      unprotected_positions: unprotected,
      overprotected_positions: over,
      protect_grace_s: PROTECT_GRACE_S,
      coverage_samples: watch.sampler.samples.length,
      coverage_sample_gap_max_ms: watch.sampler.maxGapMs(),
      uncovered_intervals: intervals.length,
      uncovered_intervals_over_grace: overGrace.length,
      longest_uncovered: Object.fromEntries(
        longest.map((iv) => [iv.symbol, { charged_s: round1(iv.charged_ms), wall_s: round1(iv.wall_ms), from: new Date(iv.from).toISOString(), open: iv.open }]),
      ),
      cooldowns,
      closing_exits: exits.length,
      duplicate_cooldowns: dupCooldowns,
      missing_cooldowns: missing.length,
      wash_trade_blocked: blocked,
      fractional_entries: orders.filter((o) => o.asset_class === 'us_equity' && o.side === 'buy' && outside.has(String(o.id)) && !new D(o.filled_qty).isInteger()).length,
      session_closes: sessionCloses,
      busts: changes.busts,
      corrections: changes.corrections,
      position_mismatches: positionMismatches,
      violations,
    },
  };
}

const round1 = (ms: number) => Math.round(ms / 100) / 10;

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

/**
 * A bot counts as up (its time charged to an uncovered position) from its api_listening line, its
 * code loaded and running, until it exits: a process still loading its modules can place nothing.
 */
export const isUp = (b: BotProcess): boolean => b.proc.exitCode === null && b.proc.signalCode === null && b.lines.some((l) => l.event === 'api_listening');

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
    CT_PROTECT_GRACE_S: String(PROTECT_GRACE_S),
    CT_LOG_LEVEL: 'info',
  };
  // From the start, the broker's book is sampled (coverage over time) and its request log read.
  const botUp = () => bots.find(isUp)?.proc.pid ?? null;
  const watch: BrokerWatch = { sampler: sampleBook(simProc.url, botUp), log: requestLogReader(simProc.url), rules: {} };
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
    // The venue busts and corrects a few executions after the fact: the last bot learns them from the
    // activity event stream (replayed from its cursor), and the checks below compare after them.
    const changes = await changeExecutions(simProc.url, rand);
    for (const c of changes.changes) say(c);
    const last = startBot(env);
    bots.push(last);
    await last.apiUrl();
    // With it up: fresh outside buys, protected, then busted or corrected while it watches.
    await last.waitFor((l) => l.event === 'reconcile_done', 60_000);
    const fresh = await freshBuys(simProc.url);
    say(`fresh outside buys: ${fresh.symbols.join(', ')}${fresh.covered ? ', covered' : ', not all covered within 60 s'}`);
    const live = await changeExecutions(simProc.url, rand, 4, changes.ids);
    for (const c of live.changes) say(c);
    changes.busts += live.busts;
    changes.corrections += live.corrections;
    const quiet = Date.now();
    const deadline = Date.now() + (opts.settleMs ?? 90_000);
    const ledger = sqliteLedger(dbPath);
    const cooldownLines = () => bots.flatMap((b) => b.lines.filter((l) => l.event === 'cooldown_started'));
    let measured: Measured;
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000));
      const reconciled = last.lines.some((l) => l.event === 'reconcile_done' && Date.parse(l.time) - l.duration_ms > quiet);
      measured = await measure(simProc.url, ledger, cooldownLines(), opts.kills, sessions.closes(), t0, watch, changes);
      if (reconciled && measured.settled) break;
      if (Date.now() > deadline) break;
    }
    await watch.sampler.stop();
    const figures = measured.figures;
    last.proc.kill('SIGTERM');
    await last.exited;
    if (process.env.CT_CHAOS_KEEP) {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(dir, 'orders.json'), JSON.stringify(await allOrders(simProc.url), null, 1));
      writeFileSync(join(dir, 'logs.jsonl'), bots.map((b, i) => b.lines.map((l) => JSON.stringify({ run: i, ...l })).join('\n')).join('\n'));
      writeFileSync(join(dir, 'uncovered.json'), JSON.stringify(uncoveredIntervals(watch.sampler.samples, washRefusals(watch.log.entries)), null, 1));
      writeFileSync(join(dir, 'coverage-samples.jsonl'), watch.sampler.samples.map((x) => JSON.stringify(x)).join('\n'));
      writeFileSync(join(dir, 'requests.jsonl'), watch.log.entries.map((x) => JSON.stringify(x)).join('\n'));
    }
    return figures;
  } finally {
    await watch.sampler.stop().catch(() => undefined);
    for (const b of bots) if (b.proc.exitCode === null && b.proc.signalCode === null) b.proc.kill('SIGKILL');
    simProc.proc.kill('SIGTERM');
    if (process.env.CT_CHAOS_KEEP) say(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
