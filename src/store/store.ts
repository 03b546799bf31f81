import type { Allocation } from "../domain/availability.js";
import type { CapacityRecord } from "../domain/capacity.js";
import type { DateWindow } from "../domain/dates.js";

/** Whose records a call may see: always a tenant, and an app for app-scoped tokens. */
export interface Scope {
  tenantId: string;
  /** When set, only records written by this app are visible. */
  appId?: string | undefined;
  /**
   * Epoch milliseconds by which the call must finish: every query gets the
   * time that is left as its timeout, and a transaction that would commit
   * later is rolled back instead.
   */
  deadline?: number | undefined;
}

/** Filters and keyset position of one List page. */
export interface ListQuery {
  personId?: string | undefined;
  projectId?: string | undefined;
  /** Only records whose period ends on or after this day. */
  periodFrom?: string | undefined;
  /** Only records whose period starts on or before this day. */
  periodTo?: string | undefined;
  confirmed?: boolean | undefined;
  showDeleted: boolean;
  /** Resume strictly after this (period_start, id). */
  after?: { periodStart: string; id: string } | undefined;
  limit: number;
}

/** An allocation of a known person. */
export interface PersonAllocation extends Allocation {
  personId: string;
}

/** One page of an allocation read, in (person_id, period_start, id) order. */
export interface AllocationPage {
  /** At most this many rows. */
  limit: number;
  /** Resume strictly after this row. */
  after?: Pick<PersonAllocation, "personId" | "periodStart" | "id"> | undefined;
}

/** A completed idempotent write: what a retry with the same request id gets back. */
export interface StoredRequest {
  requestId: string;
  /** Hash of the caller and the request; a retry must match it. */
  fingerprint: string;
  /** The response message, serialized. */
  response: Uint8Array;
  createdAt: number;
}

/** The idempotency records of one transaction's scope (tenant, app). */
export interface RequestLog {
  /** The scope's (tenant, app) record of a request id: each app of a tenant has its own ids. */
  findRequest(requestId: string): Promise<StoredRequest | undefined>;
  /**
   * Records an idempotent result under the scope's (tenant, app); a concurrent
   * writer of the same id makes the transaction retry.
   */
  saveRequest(request: StoredRequest): Promise<void>;
}

/** Reads and writes inside one transaction, bound to one scope. */
export interface CapacityWriter extends RequestLog {
  /** Reads a record and locks it until the transaction ends. */
  getForUpdate(id: string): Promise<CapacityRecord | undefined>;
  insert(record: CapacityRecord): Promise<void>;
  /** Writes `record` over the stored row that still has `expectedEtag`. */
  update(record: CapacityRecord, expectedEtag: string): Promise<void>;
  /** Serializes writers of one person's allocations until the transaction ends. */
  lockPerson(personId: string): Promise<void>;
  /** The person's non-deleted allocations overlapping the window, as committed now (a locking read). */
  allocationsForUpdate(personId: string, window: DateWindow): Promise<Allocation[]>;
}

/**
 * Persistence of capacities. Every method takes the scope first: there is no
 * way to touch a row without naming its tenant.
 */
export interface CapacityStore {
  get(scope: Scope, id: string): Promise<CapacityRecord | undefined>;
  list(scope: Scope, query: ListQuery): Promise<CapacityRecord[]>;
  /**
   * Non-deleted allocations of these people overlapping the window, in one
   * query: all of them, or with `page` one keyset page in (person_id,
   * period_start, id) order, so a caller can read in bounded steps and stop
   * at its budget.
   */
  allocations(scope: Scope, personIds: readonly string[], window: DateWindow, confirmedOnly: boolean, page?: AllocationPage): Promise<PersonAllocation[]>;
  /**
   * Runs `work` in one transaction. Deadlocks and lost races are retried by
   * running `work` again, so it must not have effects outside the writer.
   */
  transaction<T>(scope: Scope, work: (writer: CapacityWriter) => Promise<T>): Promise<T>;
  /** Resolves when the database answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The database cannot be reached (or timed out); the call may be retried. */
export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
}
