/**
 * Serving status for grpc.health.v1.Health and the HTTP probes: SERVING while
 * the database answers and the server is not draining.
 */
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { NotFoundError } from "../domain/errors.js";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../gen/health/v1/health_pb.js";

/** What the monitor watches and how often. */
export interface HealthOptions {
  /** Resolves when the database answers. */
  ping: () => Promise<void>;
  /** Services with a status of their own; "" (the whole server) is always known. */
  services: string[];
  /** How often the database is pinged in the background (default 2 s). */
  intervalMs?: number;
  /** A ping slower than this counts as a failure (default 1 s). */
  timeoutMs?: number;
}

/**
 * The serving status: NOT_SERVING while the last database ping failed or the
 * server is draining. Listeners are told of every change (Health/Watch, the
 * cluster primary).
 */
export class HealthMonitor {
  private databaseUp = true;
  private draining = false;
  private readonly known: Set<string>;
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private lastPing = 0;

  constructor(private readonly options: HealthOptions) {
    this.known = new Set(["", ...options.services]);
  }

  /** Starts the background pings; the first one runs now. */
  start(): Promise<void> {
    this.timer = setInterval(() => void this.refresh(), this.options.intervalMs ?? 2000);
    this.timer.unref();
    return this.refresh();
  }

  /** Stops the background pings (the status stays as it was). */
  stop(): void {
    clearInterval(this.timer);
  }

  /** Pings the database unless a ping finished within the last half second. */
  fresh(): Promise<void> {
    return Date.now() - this.lastPing < 500 ? Promise.resolve() : this.refresh();
  }

  /** Pings the database once (concurrent callers share the ping) and updates the status. */
  refresh(): Promise<void> {
    this.inFlight ??= (async () => {
      let up: boolean;
      try {
        let timeout: NodeJS.Timeout | undefined;
        await Promise.race([
          this.options.ping(),
          new Promise((_, reject) => {
            timeout = setTimeout(() => reject(new Error("ping timeout")), this.options.timeoutMs ?? 1000);
          }),
        ]).finally(() => clearTimeout(timeout));
        up = true;
      } catch {
        up = false;
      }
      if (up !== this.databaseUp) {
        this.databaseUp = up;
        this.notify();
      }
    })().finally(() => {
      this.inFlight = undefined;
      this.lastPing = Date.now();
    });
    return this.inFlight;
  }

  /** From now on NOT_SERVING, whatever the database says (shutdown). */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    this.notify();
  }

  /** The status of a service, or undefined for a service this server does not have. */
  status(service: string): Status | undefined {
    if (!this.known.has(service)) return undefined;
    return this.databaseUp && !this.draining ? Status.SERVING : Status.NOT_SERVING;
  }

  /** Every service with a status, "" first. */
  get services(): string[] {
    return [...this.known];
  }

  /** The status of a service after a fresh-enough ping; NotFoundError for a service this server lacks. */
  async check(service: string): Promise<Status> {
    await this.fresh();
    const status = this.status(service);
    if (status === undefined) throw new NotFoundError(`unknown service ${service}`);
    return status;
  }

  /** Would this process serve, after a fresh-enough ping. */
  async isReady(): Promise<boolean> {
    await this.fresh();
    return this.ready;
  }

  get ready(): boolean {
    return this.status("") === Status.SERVING;
  }

  /** Calls `listener` whenever the status may have changed. */
  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  /** Yields the current status, then every change, until the signal aborts. */
  async *watch(service: string, signal: AbortSignal): AsyncGenerator<Status> {
    let last: Status | undefined;
    let wake: (() => void) | undefined;
    const listener = (): void => wake?.();
    this.listeners.add(listener);
    const onAbort = (): void => wake?.();
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        const now = this.status(service) ?? Status.SERVICE_UNKNOWN;
        if (now !== last) {
          last = now;
          yield now;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (signal.aborted) resolve();
        });
      }
    } finally {
      this.listeners.delete(listener);
      signal.removeEventListener("abort", onAbort);
    }
  }
}

/** Caps on open Health/Watch streams (they need no token, so each must be bounded). */
export interface WatchLimits {
  perProcess: number;
  perConnection: number;
}

/**
 * Counts open watches per process and per connection; `enter` refuses one
 * over either cap with RESOURCE_EXHAUSTED, `leave` gives its place back.
 */
class WatchSlots {
  private total = 0;
  private readonly byConnection = new Map<string, number>();

  constructor(private readonly limits: WatchLimits) {}

  enter(connection: string): void {
    const mine = this.byConnection.get(connection) ?? 0;
    if (this.total >= this.limits.perProcess) {
      throw new ConnectError(`too many Health/Watch streams on this server (limit ${this.limits.perProcess})`, Code.ResourceExhausted);
    }
    if (mine >= this.limits.perConnection) {
      throw new ConnectError(`too many Health/Watch streams on this connection (limit ${this.limits.perConnection})`, Code.ResourceExhausted);
    }
    this.total++;
    this.byConnection.set(connection, mine + 1);
  }

  leave(connection: string): void {
    this.total--;
    const left = (this.byConnection.get(connection) ?? 1) - 1;
    if (left === 0) this.byConnection.delete(connection);
    else this.byConnection.set(connection, left);
  }
}

/**
 * grpc.health.v1.Health: Check answers now, Watch streams changes. `connectionOf`
 * names the connection a call came on, for the per-connection watch cap.
 */
export function healthRoutes(
  monitor: HealthMonitor,
  limits: WatchLimits,
  connectionOf: (values: HandlerContext["values"]) => string,
): (router: ConnectRouter) => void {
  const slots = new WatchSlots(limits);
  return (router) => {
    router.service(Health, {
      async check(req) {
        return { status: await monitor.check(req.service) };
      },
      async *watch(req, ctx) {
        const connection = connectionOf(ctx.values);
        slots.enter(connection);
        try {
          for await (const status of monitor.watch(req.service, ctx.signal)) yield { status };
        } finally {
          slots.leave(connection);
        }
      },
      async list() {
        await monitor.fresh();
        const statuses: Record<string, { status: Status }> = {};
        for (const service of monitor.services) statuses[service] = { status: monitor.status(service) ?? Status.SERVICE_UNKNOWN };
        return { statuses };
      },
    });
  };
}
