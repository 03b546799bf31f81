/**
 * When expired idempotency records are purged. Saving a request id never
 * deletes anything itself: after a transaction that saved one has committed,
 * the store tells this schedule, which runs that tenant's purge in the
 * background, at most once per `intervalMs` per tenant and one purge at a
 * time. The caller never waits for it and never sees its failures (they go
 * to `onFailure`); a failed purge is simply tried again after the next
 * interval. The tenants remembered are bounded (`maxTenants`): forgetting one
 * only means it may be purged again sooner. The SQL is the store's
 * (`KnexCapacityStore.purgeExpiredRequests`); this file only decides when.
 */

/** When the background purge of expired request ids runs. */
export interface RequestPurgeOptions {
  /** Least time between two purges of one tenant by this process (default 10 minutes). */
  intervalMs?: number;
  /** Tenants remembered at once (default 10,000); past it the least recently purged is forgotten. */
  maxTenants?: number;
  /** Rows deleted per statement (default 500), so no purge holds locks for long. */
  batchSize?: number;
}

/** Deletes one tenant's expired request ids; stops between batches once `shouldStop()` is true. */
export type PurgeTenant = (tenantId: string, shouldStop: () => boolean) => Promise<unknown>;

const DEFAULT_INTERVAL_MS = 10 * 60_000;
const DEFAULT_MAX_TENANTS = 10_000;
/** Rows one purge statement deletes at most, unless configured otherwise. */
export const DEFAULT_PURGE_BATCH = 500;

/** Decides when each tenant's purge runs, and runs it off the caller's path. */
export class PurgeSchedule {
  private readonly intervalMs: number;
  private readonly maxTenants: number;
  /** Tenant → when its last purge was queued; in that order, oldest first. */
  private readonly lastQueued = new Map<string, number>();
  /** Tenants whose purge is due, in arrival order. */
  private readonly due = new Set<string>();
  /** The loop working through `due`, while there is one. */
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly purge: PurgeTenant,
    options: RequestPurgeOptions,
    private readonly onFailure: (tenantId: string, err: unknown) => void,
  ) {
    this.intervalMs = positiveInteger(options.intervalMs ?? DEFAULT_INTERVAL_MS, "intervalMs");
    this.maxTenants = positiveInteger(options.maxTenants ?? DEFAULT_MAX_TENANTS, "maxTenants");
  }

  /** A transaction that saved request ids of this tenant has committed. Never throws, never waits. */
  saved(tenantId: string): void {
    if (this.stopped || this.due.has(tenantId) || this.due.size >= this.maxTenants) return;
    const now = Date.now();
    const last = this.lastQueued.get(tenantId);
    if (last !== undefined && now - last < this.intervalMs) return;
    // Re-insert so the Map stays in queue order and its first key is the one to forget.
    this.lastQueued.delete(tenantId);
    this.lastQueued.set(tenantId, now);
    if (this.lastQueued.size > this.maxTenants) {
      const oldest = this.lastQueued.keys().next().value;
      if (oldest !== undefined) this.lastQueued.delete(oldest);
    }
    this.due.add(tenantId);
    this.running ??= this.work();
  }

  /** Resolves once no purge is due or running (a purge queued meanwhile is waited for too). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Queues no more purges, drops the due ones, and waits for the running one to stop after its current batch. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.due.clear();
    await this.idle();
  }

  /** Purges the due tenants one after another. Never rejects. */
  private async work(): Promise<void> {
    try {
      // Start after the committing caller has had its answer.
      await new Promise((resolve) => setImmediate(resolve));
      // A Set's iterator also visits tenants added while it runs.
      for (const tenantId of this.due) {
        this.due.delete(tenantId);
        if (this.stopped) break;
        try {
          await this.purge(tenantId, () => this.stopped);
        } catch (err) {
          this.report(tenantId, err);
        }
      }
    } finally {
      this.running = undefined;
    }
  }

  private report(tenantId: string, err: unknown): void {
    try {
      this.onFailure(tenantId, err);
    } catch {
      // A failing reporter must not turn into an unhandled rejection.
    }
  }
}

/** `value` if it is a positive whole number, else a RangeError naming the option. */
export function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`request purge: ${name} must be a positive integer, got ${value}`);
  return value;
}
