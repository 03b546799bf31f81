/**
 * What a driver error (mysql2, better-sqlite3, Knex) means to the store: the
 * database is unavailable, a query ran out of the call's time, the
 * transaction is worth running again, or a key was already taken. `guard`
 * turns the first two into the typed errors the service maps to status codes.
 * Only real driver codes are read here; the store's own lost race is a class.
 */
import { DeadlineExceededError } from "../domain/errors.js";
import { StoreUnavailableError } from "./store.js";

/** Driver error codes that mean "the database is not reachable right now". */
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EPIPE",
  "PROTOCOL_CONNECTION_LOST",
  "PROTOCOL_SEQUENCE_TIMEOUT",
  "ER_CON_COUNT_ERROR",
  "ER_SERVER_SHUTDOWN",
  "SQLITE_BUSY",
  "SQLITE_LOCKED",
]);

/**
 * Driver error codes after which running the whole transaction again is the
 * right answer: MySQL chose it as a deadlock victim (1213, already rolled
 * back), or SQLite's single write lock stayed taken past `busy_timeout`.
 */
const RETRYABLE_CODES = new Set(["ER_LOCK_DEADLOCK", "SQLITE_BUSY"]);

/** A primary-key collision, in each driver's words. */
const DUPLICATE_KEY_CODES = new Set(["ER_DUP_ENTRY", "SQLITE_CONSTRAINT_PRIMARYKEY"]);

/** The driver's `code` of an error (mysql2 and better-sqlite3 both set one), if any. */
function codeOf(err: unknown): unknown {
  return (err as { code?: unknown } | null)?.code;
}

/**
 * Another transaction saved the same (tenant, app, request id) first. The
 * transaction is run again: its `findRequest` then sees the winner's record
 * and replays it, so both callers get the one result.
 */
export class RequestIdTakenError extends Error {
  override name = "RequestIdTakenError";
}

/** The database cannot be reached, or the pool gave no connection in time. */
function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = codeOf(err);
  if (typeof code === "string" && UNAVAILABLE_CODES.has(code)) return true;
  return err.name === "KnexTimeoutError" || /connection is in closed state|Can't add new command when connection is in closed state/i.test(err.message);
}

/** A query that ran out of the call's time (not a pool timeout, which means unavailable). */
function isQueryTimeout(err: unknown): boolean {
  return err instanceof Error && err.name === "KnexTimeoutError" && /query timeout/i.test(err.message);
}

/** A deadlock, a busy database or a lost request-id race: the whole transaction may run again. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof RequestIdTakenError) return true;
  const code = codeOf(err);
  return typeof code === "string" && RETRYABLE_CODES.has(code);
}

/** An insert collided with an existing primary key. */
export function isDuplicateKey(err: unknown): boolean {
  const code = codeOf(err);
  return typeof code === "string" && DUPLICATE_KEY_CODES.has(code);
}

/**
 * Runs store work so that driver failures leave as DeadlineExceededError,
 * StoreUnavailableError, or as themselves (to become INTERNAL).
 */
export async function guard<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isQueryTimeout(err)) throw new DeadlineExceededError("deadline exceeded; nothing was written", { cause: err });
    if (isUnavailable(err)) throw new StoreUnavailableError("database unavailable", { cause: err });
    throw err;
  }
}

/**
 * Could this error's message quote SQL or stored values? mysql2's errors carry
 * `sql`/`sqlState`/`errno`; Knex puts the whole failing statement, values
 * included, into the message of a better-sqlite3 error (`SqliteError`, code
 * `SQLITE_…`), which has neither. Any error with a driver code counts.
 */
export function mayQuoteData(err: Error): boolean {
  const e = err as Error & { errno?: unknown; sqlState?: unknown; sql?: unknown };
  return e.sql !== undefined || e.sqlState !== undefined || e.errno !== undefined || typeof codeOf(e) === "string" || /sqlite|knex|mysql/i.test(e.name);
}

/**
 * What a log may keep of a store error: names and driver codes along the
 * cause chain, never a message (driver messages can quote SQL and its values).
 */
export function describeFailure(err: unknown): { name: string; code?: string } {
  let name = "unknown";
  let code: string | undefined;
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (name === "unknown") name = e.name;
    const c = codeOf(e);
    if (code === undefined && typeof c === "string") code = c;
  }
  return code === undefined ? { name } : { name, code };
}
