/**
 * The reconciler's poll: every `CT_POLL_MS`, or every `relax`th tick (`CT_POLL_RELAX`, default 6) while the pushed
 * sources are healthy (the activity event stream live and trade_updates connected: every fill and
 * every order change then comes pushed, and the poll is only the net under them) and no crypto fee is
 * due (poll-relax.ts: fees come only from the poll's reads). Never stopped: a
 * fill every stream missed is still found. Health is asked at each tick, so a source going away
 * brings the plain interval back within one tick.
 */

export class PollTimer {
  private timer: ReturnType<typeof setInterval> | null = null;
  private ticksSincePoll = 0;

  constructor(
    private readonly opts: {
      pollMs: number;
      /** Every how many ticks it polls while relaxed (1: every tick). */
      relax: number;
      /** Whether the pushed sources are healthy now. */
      relaxed(): boolean;
      poll(): void;
    },
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.opts.pollMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    this.ticksSincePoll += 1;
    if (this.ticksSincePoll < this.opts.relax && this.opts.relaxed()) return;
    this.ticksSincePoll = 0;
    this.opts.poll();
  }
}
