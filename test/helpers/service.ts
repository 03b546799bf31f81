/**
 * The real service core without a server: createCapacityService on the real
 * KnexCapacityStore (in-memory SQLite by default, or the suites' MariaDB),
 * served by the same route table as the listener on connect's in-memory
 * router transport, with the errors mapped to statuses the way the server
 * maps them. Rules are tested here; test/api/ keeps the wire.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, createRouterTransport, type Client, type Interceptor } from "@connectrpc/connect";
import type { Knex } from "knex";
import { afterAll, beforeAll } from "vitest";
import type { Caller } from "../../src/auth/caller.js";
import { CapacityService } from "../../src/gen/work/v1/capacity_pb.js";
import { callerKey } from "../../src/server/context.js";
import { toConnectError } from "../../src/server/errors.js";
import { routes, servedMethods } from "../../src/server/routes.js";
import type { WorkLimits } from "../../src/service/call.js";
import { createCapacityService } from "../../src/service/capacity-service.js";
import { migrate, openDatabase } from "../../src/store/database.js";
import { KnexCapacityStore } from "../../src/store/knex-store.js";
import { KnexWorkingTimeStore } from "../../src/store/knex-working-time-store.js";
import { WorkingTimeService } from "../../src/gen/work/v1/working_time_pb.js";
import { createWorkingTimeService } from "../../src/service/working-time-service.js";
import { MYSQL_URL, type Engine } from "./databases.js";
import { person, tenant } from "./ids.js";
import { sqlAudit } from "./sql-audit.js";

/** A typed client of the in-memory service, calling as one caller. */
export type ServiceClient = Client<typeof CapacityService>;
/** A typed WorkingTimeService client of the in-memory service, calling as one caller. */
export type WorkingTimeClient = Client<typeof WorkingTimeService>;

/** The production defaults of CAPACITY_MAX_RESPONSE_BYTES and CAPACITY_AVAILABILITY_MAX_ALLOCATIONS. */
export const DEFAULT_LIMITS: WorkLimits = { maxResponseBytes: 4 * 1024 * 1024, availabilityMaxAllocations: 50_000 };

export interface TestServiceOptions {
  /** "sqlite" (default): a fresh in-memory database; "mysql": the suites' shared MariaDB, migrated by the global setup. */
  engine?: Engine;
  /** Work limits; unset ones take the production defaults. */
  limits?: Partial<WorkLimits>;
  /** Pins the service's clock (epoch ms). */
  now?: () => number;
  /** CAPACITY_MAX_DEADLINE_MS (default 10 s, as in production). */
  maxDeadlineMs?: number;
}

export interface TestService {
  engine: Engine;
  /**
   * The database the service writes to, for fixtures and row checks. With
   * in-memory SQLite this is the service's own (single) connection, so every
   * statement on it goes through the tenant-predicate audit too.
   */
  knex: Knex;
  /** A client that calls as `caller`; unset fields get a new tenant, a new person and no app. */
  client(caller?: Partial<Caller>): ServiceClient;
  /** A WorkingTimeService client that calls as `caller` (unset fields as for `client`). */
  workingTime(caller?: Partial<Caller>): WorkingTimeClient;
  close(): Promise<void>;
}

/** A verified caller; unset fields get a new tenant, a new person and no app (a tenant-wide token). */
export function newCaller(caller: Partial<Caller> = {}): Caller {
  return { tenantId: caller.tenantId ?? tenant(), personId: caller.personId ?? person(), appId: caller.appId };
}

/**
 * Maps errors as the server's observing interceptor does (errors.ts), so
 * codes, messages and details are the ones a client on the wire reads.
 */
const mapErrors: Interceptor = (next) => async (req) => {
  try {
    return await next(req);
  } catch (err) {
    throw toConnectError(err, randomUUID()).error;
  }
};

/** Stands in for the auth interceptor: the caller a verified token would have given. */
function asCaller(caller: Caller): Interceptor {
  return (next) => (req) => {
    req.contextValues.set(callerKey, caller);
    return next(req);
  };
}

function open(engine: Engine): Knex {
  // A :memory: database lives in one connection; better-sqlite3's pool in Knex holds exactly one
  // (min 1, max 1), so the migrations, the service and the test all see the same database.
  if (engine === "sqlite") return openDatabase({ url: undefined, dataDir: mkdtempSync(join(tmpdir(), "capacity-svc-")), sqliteFile: ":memory:" });
  return openDatabase({ url: MYSQL_URL, dataDir: "." });
}

/** The service core on a real store, reachable through typed in-memory clients. */
export async function startTestService(options: TestServiceOptions = {}): Promise<TestService> {
  const engine = options.engine ?? "sqlite";
  const knex = open(engine);
  if (engine === "sqlite") await migrate(knex);
  const audit = sqlAudit();
  knex.on("query", (q: { sql: string }) => audit.see(q.sql));
  const capacityStore = new KnexCapacityStore(knex);
  const capacity = createCapacityService({
    store: capacityStore,
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    ...(options.now !== undefined && { now: options.now }),
  });
  const workingTime = createWorkingTimeService({
    store: new KnexWorkingTimeStore(knex, { onRequestsSaved: (tenantId) => capacityStore.requestsSaved(tenantId) }),
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    ...(options.now !== undefined && { now: options.now }),
  });
  const table = routes(servedMethods({ capacity, workingTime }), { maxDeadlineMs: options.maxDeadlineMs ?? 10_000 });
  const transportAs = (caller: Partial<Caller> | undefined) =>
    createRouterTransport(table, { router: { interceptors: [mapErrors, asCaller(newCaller(caller))] } });
  return {
    engine,
    knex,
    client(caller) {
      return createClient(CapacityService, transportAs(caller));
    },
    workingTime(caller) {
      return createClient(WorkingTimeService, transportAs(caller));
    },
    async close() {
      await knex.destroy();
      audit.check();
    },
  };
}

/** A service that lives for one `describe` block: started before its tests, closed (and audited) after. */
export function useTestService(options: TestServiceOptions = {}): { readonly service: TestService } {
  let service: TestService | undefined;
  beforeAll(async () => {
    service = await startTestService(options);
  });
  afterAll(async () => {
    await service?.close();
  });
  return {
    get service() {
      if (!service) throw new Error("the suite's service is not running (read it inside a test or hook)");
      return service;
    },
  };
}
