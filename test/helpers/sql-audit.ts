/** The tenant-predicate audit shared by the over-the-wire and the service-level suites. */

/** Collects the statements of one suite's database connection and judges them at the end. */
export interface SqlAudit {
  /** Hook for Knex's `query` event. */
  see(sql: string): void;
  /** Throws when no statement was seen (the hook is not wired) or some statement lacks the tenant. */
  check(): void;
}

/**
 * Watches every statement the service sends: each read or write of a table
 * must name tenant_id (a predicate, or the inserted column). Fails the suite
 * at close otherwise. Health pings and migrations are exempt.
 */
export function sqlAudit(): SqlAudit {
  const offending: string[] = [];
  let seen = 0;
  return {
    see(sql) {
      seen++;
      const s = sql.trim().toLowerCase();
      if (!/^(select|insert|update|delete)\b/.test(s)) return; // DDL, BEGIN/COMMIT, PRAGMA
      if (s === "select 1" || /knex_migrations|sqlite_master|information_schema/.test(s)) return;
      const named = s.startsWith("insert") ? /[`"]tenant_id[`"]/.test(s) : /[`"]tenant_id[`"]\s*(=|in\b)/.test(s);
      if (!named) offending.push(sql);
    },
    check() {
      // The health ping alone guarantees statements: none seen means the hook is not wired.
      if (seen === 0) throw new Error("SQL audit saw no statement at all");
      if (offending.length > 0) throw new Error(`SQL without a tenant_id predicate:\n${offending.join("\n")}`);
    },
  };
}
