/**
 * Trade busts and corrections, end to end (issue 26 items 3, 4): a real bot process on a SQLite file
 * against the simulator over loopback. Two outside buys of AAPL are protected; the venue busts one
 * (`POST /_sim/bust`) and corrects the other (`POST /_sim/correct`); the activity event stream brings
 * both. Then: /fills flags them, /positions agrees with the simulator's /v2/positions, the stops at
 * the simulator cover the corrected position and nothing of the busted buy, the notifications are
 * written, no drift is reported — and a restart that replays the events from an older cursor applies
 * nothing twice. A bot SIGKILLed inside a bust's commit (CT_CRASH_AT=before_change_commit) leaves
 * neither the bust nor a cursor past it on disk; the next start replays it and applies it once.
 */
import BetterSqlite3 from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.js';
import { simsAndBots } from './support/sim-bots.js';
import { simPost } from './support/sim-traffic.js';
import { eventually, getJson } from './support/bot-process.js';

const { dir, sim, bot, headers } = simsAndBots('fill-changes', 'kfc', 'sfc');

function onDisk<T>(file: string, read: (d: BetterSqlite3.Database) => T): T {
  const d = new BetterSqlite3(join(dir, file), { readonly: true });
  try {
    return read(d);
  } finally {
    d.close();
  }
}

/** What our live sell stops at the simulator cover for a symbol, by entry order id. */
function stopsAtSim(s: Simulator, symbol: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const o of s.engine.openOrders()) {
    if (o.asset.symbol !== symbol || o.side !== 'sell' || !o.clientOrderId.startsWith('ct-stop-')) continue;
    const entry = o.clientOrderId.replace(/^ct-stop-/, '').replace(/-(f|v\d+)$/, '');
    out[entry] = String(Number(out[entry] ?? 0) + Number(o.qty));
  }
  return out;
}

const executionOf = (s: Simulator, orderId: string) => s.engine.fills.find((f) => f.orderId === orderId)!.executionId;

describe('trade busts and corrections (bot process, simulator)', () => {
  it('a bust and a correction reach the ledger, positions, stops and notifications once; a replay applies nothing twice', async () => {
    const s = await sim(2627);
    const env = { CT_POLL_MS: '500', CT_PROTECT_GRACE_S: '1', CT_LOG_LEVEL: 'debug' };
    const first = bot(s, 'changes.db', env);
    const url = await first.apiUrl();
    await first.waitFor((l) => l.event === 'event_stream_connected');

    const a = await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '5', type: 'market' });
    const b = await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '3', type: 'market' });
    const [execA, execB] = [executionOf(s, a.id), executionOf(s, b.id)];
    // Both recorded with their execution ids, both protected at the broker.
    await eventually(async () => {
      const fills = (await getJson(`${url}/fills?symbol=AAPL`)).body.fills as Array<Record<string, unknown>>;
      return fills.filter((f) => f.execution_id === execA || f.execution_id === execB).length === 2 || undefined;
    }, 20_000);
    await eventually(async () => JSON.stringify(stopsAtSim(s, 'AAPL')) === JSON.stringify({ [a.id]: '5', [b.id]: '3' }) || undefined, 30_000);
    const beforeChanges = onDisk('changes.db', (d) => (d.prepare("select value from sync_state where key = 'event_cursor'").get() as { value: string }).value);

    const bust = (await simPost(s, '/_sim/bust', { execution_id: execB })).event;
    const correction = (await simPost(s, '/_sim/correct', { execution_id: execA, qty: '6', price: '187.5' })).event;
    await first.waitFor((l) => l.event === 'execution_change_applied' && l.ref_id === bust.ref_id, 20_000);
    await first.waitFor((l) => l.event === 'execution_change_applied' && l.ref_id === correction.ref_id, 20_000);

    // /fills: the busted fill kept and flagged; the corrected one at its new terms, the original beside it.
    const fills = (await getJson(`${url}/fills?symbol=AAPL`)).body.fills as Array<Record<string, unknown>>;
    expect(fills.find((f) => f.order_id === b.id)).toMatchObject({ execution_id: execB, qty: '3', busted: true, corrected: false });
    expect(fills.find((f) => f.order_id === a.id)).toMatchObject({ execution_id: execA, qty: '6', price: '187.5', busted: false, corrected: true, original_qty: '5' });

    // /positions agrees with the simulator's positions: 6, the busted 3 gone.
    const simPosition = await getJson(`${s.url}/v2/positions/AAPL`, headers);
    expect(simPosition.body.qty).toBe('6');
    const positions = (await getJson(`${url}/positions`)).body.positions as Array<Record<string, any>>;
    expect(positions.find((p) => p.symbol === 'AAPL')).toMatchObject({ qty: '6' });

    // The stops at the simulator: a's grown to 6, b's canceled.
    await eventually(async () => JSON.stringify(stopsAtSim(s, 'AAPL')) === JSON.stringify({ [a.id]: '6' }) || undefined, 30_000);

    // The notifications, once each.
    const notes = () => onDisk('changes.db', (d) => d.prepare("select id, kind from notifications where kind in ('fill_busted', 'fill_corrected') order by id").all());
    expect(notes()).toEqual([
      { id: `fill_busted:${bust.ref_id}`, kind: 'fill_busted' },
      { id: `fill_corrected:${correction.ref_id}`, kind: 'fill_corrected' },
    ]);

    // Polls after the changes (the simulator's orders now say 0 and 6 filled) raise no drift and record nothing.
    const reconciles = first.lines.filter((l) => l.event === 'reconcile_done').length;
    await eventually(async () => first.lines.filter((l) => l.event === 'reconcile_done').length >= reconciles + 4 || undefined, 20_000);
    expect(first.lines.filter((l) => l.event === 'ledger_drift')).toEqual([]);
    expect((await getJson(`${url}/health`)).body.drift).toEqual([]);
    const ledger = () => onDisk('changes.db', (d) => d.prepare("select order_id, cum_qty, qty, price, busted, corrected from fills where symbol = 'AAPL' order by id").all());
    const recorded = ledger();
    expect(recorded).toHaveLength(2);

    first.proc.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);

    // The cursor set back to before the changes (as a crash before their commit would leave it): the
    // restart replays the fills and both changes, and applies nothing again.
    const rw = new BetterSqlite3(join(dir, 'changes.db'));
    rw.prepare("update sync_state set value = ? where key = 'event_cursor'").run(beforeChanges);
    rw.close();
    const second = bot(s, 'changes.db', env);
    const url2 = await second.apiUrl();
    await second.waitFor((l) => l.event === 'event_stream_connected' && l.since_id === beforeChanges);
    await second.waitFor((l) => l.event === 'execution_change_seen' && l.ref_id === correction.ref_id, 20_000);
    expect(second.lines.filter((l) => l.event === 'execution_change_seen').map((l) => l.ref_id)).toEqual([bust.ref_id, correction.ref_id]);
    expect(second.lines.filter((l) => l.event === 'execution_change_applied')).toEqual([]);
    expect(ledger()).toEqual(recorded);
    expect(notes()).toHaveLength(2);
    expect(onDisk('changes.db', (d) => d.prepare('select count(*) as n from fill_changes').get())).toEqual({ n: 2 });
    expect(((await getJson(`${url2}/positions`)).body.positions as Array<Record<string, any>>).find((p) => p.symbol === 'AAPL')).toMatchObject({ qty: '6' });
    expect(stopsAtSim(s, 'AAPL')).toEqual({ [a.id]: '6' });
    second.proc.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  }, 120_000);

  it('SIGKILL inside a bust\'s commit: neither the bust nor a cursor past it on disk; the restart applies it once', async () => {
    const s = await sim(2628);
    const env = { CT_POLL_MS: '500', CT_LOG_LEVEL: 'debug' };
    const file = 'crash.db';
    const state = () =>
      onDisk(file, (d) => ({
        busted: (d.prepare("select count(*) as n from fills where busted = 1").get() as { n: number }).n,
        changes: (d.prepare('select count(*) as n from fill_changes').get() as { n: number }).n,
        notes: (d.prepare("select count(*) as n from notifications where kind = 'fill_busted'").get() as { n: number }).n,
        cursor: (d.prepare("select value from sync_state where key = 'event_cursor'").get() as { value: string } | undefined)?.value ?? null,
      }));

    const first = bot(s, file, env);
    await first.waitFor((l) => l.event === 'event_stream_connected');
    const a = await simPost(s, '/_sim/trade', { symbol: 'MSFT', side: 'buy', qty: '4', type: 'market' });
    await eventually(async () => JSON.stringify(stopsAtSim(s, 'MSFT')) === JSON.stringify({ [a.id]: '4' }) || undefined, 30_000);
    await eventually(async () => state().cursor !== null || undefined);
    first.proc.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    const before = state();

    const doomed = bot(s, file, { ...env, CT_CRASH_AT: 'before_change_commit' });
    await doomed.waitFor((l) => l.event === 'event_stream_connected' && l.since_id === before.cursor);
    const bust = (await simPost(s, '/_sim/bust', { execution_id: executionOf(s, a.id) })).event;
    expect((await doomed.exited).signal).toBe('SIGKILL');
    const bustEvent = s.engine.events.events.find((e) => (e.json as any).ref_id === bust.ref_id)!;
    const crashed = state();
    expect(crashed).toEqual({ ...before, cursor: crashed.cursor });
    expect(crashed.cursor! < bustEvent.eventId).toBe(true);
    expect(crashed.busted).toBe(0);

    const next = bot(s, file, env);
    await next.waitFor((l) => l.event === 'execution_change_applied' && l.ref_id === bust.ref_id, 20_000);
    await eventually(async () => (state().cursor ?? '') >= bustEvent.eventId || undefined);
    expect(state()).toMatchObject({ busted: 1, changes: 1, notes: 1 });
    // Flat at both ends, and its stop taken off at the simulator.
    await eventually(async () => JSON.stringify(stopsAtSim(s, 'MSFT')) === '{}' || undefined, 30_000);
    expect((await getJson(`${s.url}/v2/positions/MSFT`, headers)).status).toBe(404);
    const url = await next.apiUrl();
    expect(((await getJson(`${url}/positions`)).body.positions as Array<Record<string, any>>).find((p) => p.symbol === 'MSFT')).toBeUndefined();
    next.proc.kill('SIGTERM');
    expect((await next.exited).code).toBe(0);
  }, 120_000);
});
