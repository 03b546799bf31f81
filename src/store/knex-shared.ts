/**
 * Knex pieces both stores' writers share (capacities in knex-store.ts,
 * working time in knex-working-time-store.ts): the transaction around a
 * write, the idempotency records of request ids, and the per-person lock row.
 * Every statement names the tenant.
 */
import type { Knex } from "knex";
import { DeadlineExceededError } from "../domain/errors.js";
import { tables, type Tables } from "./deadline.js";
import type { Dialect } from "./dialect.js";
import { guard, isDuplicateKey, RequestIdTakenError } from "./driver-errors.js";
import { retrying } from "./retry.js";
import { PERSONS, REQUESTS, toRequestRow, toStoredRequest, type RequestRow } from "./rows.js";
import type { Scope, StoredRequest } from "./store.js";

/** A transaction's writer, as `runTransaction` needs to see it. */
export interface TransactionWriter {
  /** Whether this transaction saved a request id (its tenant is then due a purge after commit). */
  savedRequests: boolean;
}

/**
 * Runs `work` on a writer of a new transaction, retried whole on deadlocks,
 * a busy SQLite and lost request-id races; rolled back when it would commit
 * past the scope's deadline. After a commit that saved request ids,
 * `onRequestsSaved` hears of the tenant (the purge schedule).
 */
export function runTransaction<W extends TransactionWriter, T>(
  knex: Knex,
  dialect: Dialect,
  scope: Scope,
  writerOf: (trx: Knex.Transaction) => W,
  work: (writer: W) => Promise<T>,
  onRequestsSaved: (tenantId: string) => void,
): Promise<T> {
  return guard(async () => {
    const { result, savedRequests } = await retrying(() =>
      knex.transaction(async (trx) => {
        await begin(trx, scope, dialect);
        const writer = writerOf(trx);
        const result = await work(writer);
        // Past the deadline the caller has been told DEADLINE_EXCEEDED: roll back.
        if (scope.deadline !== undefined && Date.now() > scope.deadline) {
          throw new DeadlineExceededError("deadline exceeded; nothing was written");
        }
        return { result, savedRequests: writer.savedRequests };
      }),
    );
    if (savedRequests) onRequestsSaved(scope.tenantId);
    return result;
  });
}

/**
 * SQLite's BEGIN is deferred: two processes could both read, then both try
 * to write. A first write statement (matching no row) takes the write lock
 * up front, so read-check-write is serialized.
 */
async function begin(trx: Knex.Transaction, scope: Scope, dialect: Dialect): Promise<void> {
  if (dialect !== "sqlite") return;
  await tables(trx, scope, dialect)(REQUESTS).where({ tenant_id: scope.tenantId, request_id: "" }).update({ request_id: "" });
}

/** The scope's (tenant, app) record of a request id: each app of a tenant has its own ids. */
export async function findRequest(table: Tables, scope: Scope, requestId: string): Promise<StoredRequest | undefined> {
  const row = (await table(REQUESTS)
    .select("*")
    .where({ tenant_id: scope.tenantId, app_id: scope.appId ?? "", request_id: requestId })
    .first()) as RequestRow | undefined;
  return row && toStoredRequest(row);
}

/**
 * Records an idempotent result under the scope's (tenant, app); only inserts
 * (expired ids are purged in the background). A concurrent writer of the same
 * id makes the transaction retry, and the retry replays the winner's result.
 */
export async function saveRequest(table: Tables, scope: Scope, request: StoredRequest): Promise<void> {
  try {
    await table(REQUESTS).insert(toRequestRow(scope, request));
  } catch (err) {
    if (isDuplicateKey(err)) throw new RequestIdTakenError("request id saved concurrently", { cause: err });
    throw err;
  }
}

/** Serializes writers of one person (of the tenant) until the transaction ends: an upsert takes the row's write lock, new or not. */
export async function lockPerson(table: Tables, trx: Knex.Transaction, tenantId: string, personId: string): Promise<void> {
  await table(PERSONS)
    .insert({ tenant_id: tenantId, person_id: personId, revision: 1 })
    .onConflict(["tenant_id", "person_id"])
    .merge({ revision: trx.raw("?? + 1", [`${PERSONS}.revision`]) });
}
