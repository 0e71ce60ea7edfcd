/**
 * The activity event stream's cursor is never ahead of the committed fills (src/sync/event-stream.ts):
 * a bot SIGKILLed inside the commit of a fill the event stream brought (CT_CRASH_AT=before_intent_commit,
 * the entry's stop being asked in that transaction) leaves neither the fill nor a cursor past it on
 * disk; the next start replays from the cursor and records it, once.
 */
import BetterSqlite3 from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { simsAndBots } from './support/sim-bots.js';
import { simPost } from './support/sim-traffic.js';
import { eventually } from './support/bot-process.js';

const { dir, sim, bot } = simsAndBots('events-crash', 'kec', 'sec');

function onDisk(db: string, orderId: string): { fills: number; cursor: string | null } {
  const d = new BetterSqlite3(db, { readonly: true });
  try {
    const fills = (d.prepare('select count(*) as n from fills where order_id = ?').get(orderId) as { n: number }).n;
    const cursor = (d.prepare("select value from sync_state where key = 'event_cursor'").get() as { value: string } | undefined)?.value ?? null;
    return { fills, cursor };
  } finally {
    d.close();
  }
}

describe('event stream cursor and crashes', () => {
  it('SIGKILL inside the commit of an event-stream fill: no fill, no cursor past it; the restart replays it once', async () => {
    const s = await sim(2601);
    const db = join(dir, 'crash.db');
    // Only the event stream can bring fills: trade_updates messages are dropped, REST is not polled.
    const quiet = { CT_POLL_MS: '3600000', CT_LOG_LEVEL: 'debug' };

    // A first run gives the database a cursor.
    const first = bot(s, 'crash.db', quiet);
    await first.waitFor((l) => l.event === 'event_stream_connected');
    await simPost(s, '/_sim/faults', { ws_drop_rate: 1 });
    const warmup = await simPost(s, '/_sim/trade', { symbol: 'F', side: 'buy', qty: '1', type: 'market' });
    await first.waitFor((l) => l.event === 'fill_received' && l.order_id === warmup.id && l.source === 'event');
    await eventually(async () => onDisk(db, warmup.id).cursor !== null || undefined);
    first.proc.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    const before = onDisk(db, warmup.id).cursor!;

    const doomed = bot(s, 'crash.db', { ...quiet, CT_CRASH_AT: 'before_intent_commit' });
    await doomed.waitFor((l) => l.event === 'event_stream_connected' && l.since_id === before);
    const entry = await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '2', type: 'market' });
    expect((await doomed.exited).signal).toBe('SIGKILL');
    const entryEvent = s.engine.events.events.find((e) => (e.json as any).details?.order_id === entry.id)!;
    const crashed = onDisk(db, entry.id);
    expect(crashed.fills).toBe(0);
    expect(crashed.cursor).toBe(before);
    expect(crashed.cursor! < entryEvent.eventId).toBe(true);

    await simPost(s, '/_sim/faults', { ws_drop_rate: 0 });
    const next = bot(s, 'crash.db', quiet);
    await next.waitFor((l) => l.event === 'event_stream_connected' && l.since_id === before);
    // The start's reconcile or the replay records it; the replay brings it either way.
    await next.waitFor((l) => (l.event === 'fill_received' || l.event === 'fill_already_processed') && l.order_id === entry.id && l.source === 'event');
    await eventually(async () => (onDisk(db, entry.id).cursor ?? '') >= entryEvent.eventId || undefined);
    expect(onDisk(db, entry.id).fills).toBe(1);
    next.proc.kill('SIGTERM');
    expect((await next.exited).code).toBe(0);
  }, 90_000);
});
