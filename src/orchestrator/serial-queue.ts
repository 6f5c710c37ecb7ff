/**
 * Runs tasks one after another. Each call has its own queue, so two hang-ups arriving together are decided (and
 * their media commands carried out) one after the other, while other calls go on in parallel.
 */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;

  constructor(private readonly onError: (error: unknown) => void) {}

  push(task: () => Promise<void> | void): Promise<void> {
    this.pending += 1;
    const run = this.tail.then(task).catch(this.onError).finally(() => {
      this.pending -= 1;
    });
    this.tail = run;
    return run;
  }

  get idle(): boolean {
    return this.pending === 0;
  }

  /** Resolves when every task queued so far has run. */
  drain(): Promise<void> {
    return this.tail;
  }
}
