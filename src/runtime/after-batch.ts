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

  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.running()) this.run();
    });
  }
}
