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

  /** Runs `work` once a place is free, and frees the place when it settles. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}
