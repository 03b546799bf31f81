/**
 * A counting semaphore for the heaviest calls: at most `limit` run at once,
 * the rest wait in arrival order. It bounds memory under load and keeps cheap
 * calls from starving behind expensive ones.
 */
export class Gate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  /** `limit`: how many `run` calls may be inside at once. */
  constructor(private readonly limit: number) {}

  /**
   * Runs `work` once a place is free, and frees the place when it settles. A
   * freed place goes straight to the first waiter, so a call arriving in
   * between cannot take it and push the count over the limit.
   */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running < this.limit) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
