/**
 * Work that runs once after the batch in progress (a reconcile page, a burst of stream reports)
 * is committed, however many of the batch's commits asked for it: the exit walk sees every fill of
 * the batch, and the stop worker a book that has them all.
 */
export class AfterBatch {
  private scheduled = false;

  constructor(
    private readonly run: () => void,
    /** False once the actors stopped: nothing runs after that. */
    private readonly running: () => boolean,
  ) {}

  /** Runs once the batch in progress is committed: after this turn's I/O callbacks (setImmediate). */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.fire());
  }

  /**
   * What is scheduled runs as soon as the code in progress returns (a microtask), not after the other
   * I/O callbacks of this turn: for a batch that ends here (a trade update: the stream delivers each
   * in real time). Nothing scheduled: nothing to do.
   */
  hurry(): void {
    if (this.scheduled) queueMicrotask(() => this.fire());
  }

  private fire(): void {
    if (!this.scheduled) return;
    this.scheduled = false;
    if (this.running()) this.run();
  }
}
