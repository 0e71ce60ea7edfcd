/** src/sync/poll-timer.ts: every tick, or every Nth while the pushed sources are healthy; back at once when they are not. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PollTimer } from '../src/sync/poll-timer.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('PollTimer', () => {
  it('polls every tick while unhealthy, every sixth while healthy, and every tick again within one tick of a source going away', () => {
    let healthy = false;
    let polls = 0;
    const t = new PollTimer({ pollMs: 1000, relax: 6, relaxed: () => healthy, poll: () => void (polls += 1) });
    t.start();
    vi.advanceTimersByTime(3000);
    expect(polls).toBe(3);
    healthy = true;
    vi.advanceTimersByTime(12_000);
    expect(polls).toBe(5);
    vi.advanceTimersByTime(1000);
    healthy = false;
    vi.advanceTimersByTime(1000);
    expect(polls).toBe(6);
    vi.advanceTimersByTime(2000);
    expect(polls).toBe(8);
    t.stop();
    vi.advanceTimersByTime(10_000);
    expect(polls).toBe(8);
  });

  it('relax 1 never relaxes', () => {
    let polls = 0;
    const t = new PollTimer({ pollMs: 500, relax: 1, relaxed: () => true, poll: () => void (polls += 1) });
    t.start();
    vi.advanceTimersByTime(5000);
    expect(polls).toBe(10);
    t.stop();
  });
});
