/**
 * The call's deadline on every query: a query gets the time the call has left
 * as its timeout, so a slow database costs the caller no more than its
 * deadline (and MySQL cancels the statement server-side).
 */
import type { Knex } from "knex";
import { DeadlineExceededError } from "../domain/errors.js";
import type { Dialect } from "./dialect.js";
import type { Scope } from "./store.js";

/** Gives a query the time left before the scope's deadline as its timeout; none without a deadline. */
export function within<Q extends Knex.QueryBuilder | Knex.Raw>(query: Q, scope: Scope, dialect: Dialect): Q {
  if (scope.deadline === undefined) return query;
  const left = scope.deadline - Date.now();
  if (left <= 0) throw new DeadlineExceededError("deadline exceeded; nothing was written");
  return query.timeout(left, { cancel: dialect === "mysql" }) as Q;
}

/** Starts a query on one table, already bound to a call's remaining time. */
export type Tables = (name: string) => Knex.QueryBuilder;

/**
 * The tables as one call sees them: `tables(knex, scope, dialect)("capacities")`
 * is a query on `capacities` with the call's remaining time as its timeout.
 * `db` is the pool or an open transaction.
 */
export function tables(db: Knex | Knex.Transaction, scope: Scope, dialect: Dialect): Tables {
  return (name) => within(db(name), scope, dialect);
}
