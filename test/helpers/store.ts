/** A suite's store: a migrated test database and a KnexCapacityStore on it. */
import { afterAll, beforeAll } from "vitest";
import { KnexCapacityStore } from "../../src/store/knex-store.js";
import { migratedDatabase, type Engine, type TestDatabase } from "./databases.js";

/**
 * For a describe block: a migrated database and a KnexCapacityStore on it,
 * handed to `use` before the block's tests; the store is closed after them.
 */
export function useTestStore(engine: Engine, use: (db: TestDatabase, store: KnexCapacityStore) => void): void {
  let store: KnexCapacityStore | undefined;
  beforeAll(async () => {
    const db = await migratedDatabase(engine);
    store = new KnexCapacityStore(db.knex);
    use(db, store);
  });
  afterAll(async () => {
    await store?.close();
  });
}
