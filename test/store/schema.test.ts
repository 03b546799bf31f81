/**
 * The schema stays ready for Vitess (sharded by tenant_id) and TiDB: every
 * primary key and index starts with tenant_id, no auto-increment, no foreign key.
 */
import { describe, expect, it } from "vitest";
import { migrate } from "../../src/store/database.js";
import { OWNED_TABLES } from "../../src/store/migrations/index.js";
import { testDatabase } from "../helpers/databases.js";

const TABLES = OWNED_TABLES.filter((t) => !t.startsWith("knex_"));

describe("schema rules on MySQL", () => {
  it("leads every key with tenant_id and has no auto-increment or foreign key", async () => {
    const db = testDatabase("mysql");
    try {
      const keys = (await db
        .knex("information_schema.STATISTICS")
        .select("TABLE_NAME as table", "INDEX_NAME as index", "COLUMN_NAME as column")
        .whereRaw("TABLE_SCHEMA = DATABASE()")
        .whereIn("TABLE_NAME", TABLES)
        .andWhere("SEQ_IN_INDEX", 1)) as Array<{ table: string; index: string; column: string }>;
      expect(new Set(keys.map((k) => k.table))).toEqual(new Set(TABLES));
      expect(keys.filter((k) => k.column !== "tenant_id")).toEqual([]);
      expect(
        keys
          .filter((k) => k.index === "PRIMARY")
          .map((k) => k.table)
          .sort(),
      ).toEqual([...TABLES].sort());
      const autoIncrement = await db
        .knex("information_schema.COLUMNS")
        .whereRaw("TABLE_SCHEMA = DATABASE()")
        .whereIn("TABLE_NAME", TABLES)
        .andWhere("EXTRA", "like", "%auto_increment%");
      expect(autoIncrement).toEqual([]);
      const foreign = await db.knex("information_schema.REFERENTIAL_CONSTRAINTS").whereRaw("CONSTRAINT_SCHEMA = DATABASE()");
      expect(foreign).toEqual([]);
    } finally {
      await db.knex.destroy();
    }
  });
});

describe("schema rules on SQLite", () => {
  it("leads every key with tenant_id and has no foreign key", async () => {
    const db = testDatabase("sqlite");
    try {
      await migrate(db.knex);
      for (const table of TABLES) {
        const indexes = await db.knex.raw<Array<{ name: string }>>(`PRAGMA index_list(${table})`);
        expect(indexes.length).toBeGreaterThan(0);
        for (const index of indexes) {
          const columns = await db.knex.raw<Array<{ seqno: number; name: string }>>(`PRAGMA index_info(${index.name})`);
          expect([table, columns.find((c) => c.seqno === 0)?.name]).toEqual([table, "tenant_id"]);
        }
        expect(await db.knex.raw(`PRAGMA foreign_key_list(${table})`)).toEqual([]);
      }
    } finally {
      await db.knex.destroy();
    }
  });
});
