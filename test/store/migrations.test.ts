/**
 * Migrations that reshape a table keep its rows, both ways, on each engine:
 * a throwaway SQLite file, and on MySQL a scratch database next to the test
 * database (`<name>_migrations`, dropped afterwards), because going down and
 * up on the shared one would pull tables from under the suites running beside.
 */
import type { Knex } from "knex";
import { describe, expect, it } from "vitest";
import { migrate, openDatabase } from "../../src/store/database.js";
import { migrationSource } from "../../src/store/migrations/index.js";
import { ENGINES, MYSQL_URL, testDatabase, type Engine } from "../helpers/databases.js";
import { tenant } from "../helpers/ids.js";

/** A freshly migrated database of its own, and how to get rid of it. */
async function scratch(engine: Engine): Promise<{ knex: Knex; dispose: () => Promise<void> }> {
  if (engine === "sqlite") {
    const db = testDatabase("sqlite");
    await migrate(db.knex);
    return { knex: db.knex, dispose: () => db.knex.destroy() };
  }
  const url = new URL(MYSQL_URL);
  const name = `${url.pathname.slice(1)}_migrations`;
  const admin = openDatabase({ url: MYSQL_URL, dataDir: "." });
  await admin.raw("drop database if exists ??", [name]);
  await admin.raw("create database ??", [name]);
  url.pathname = `/${name}`;
  const knex = openDatabase({ url: url.toString(), dataDir: "." });
  await migrate(knex);
  return {
    knex,
    async dispose() {
      await knex.destroy();
      await admin.raw("drop database if exists ??", [name]);
      await admin.destroy();
    },
  };
}

const REQUEST_IDS_PER_APP = "20261201000000_request_ids_per_app";

describe("the migration source", () => {
  it("finds the migration modules of its folder, oldest first, each loadable with up and down", async () => {
    const names = await migrationSource.getMigrations([]);
    expect(names.slice(0, 3)).toEqual(["20261127000000_capacities", "20261127010000_capacity_persons", "20261201000000_request_ids_per_app"]);
    expect([...names].sort()).toEqual(names);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) {
      const migration = await migrationSource.getMigration(name);
      expect([name, typeof migration.up, typeof migration.down]).toEqual([name, "function", "function"]);
    }
    await expect(migrationSource.getMigration("index")).rejects.toThrow(/unknown migration index/);
  });
});

describe.each(ENGINES)("request ids per app migration on %s", (engine) => {
  it("moves existing request ids to app '' and back, keeping one row per (tenant, request_id) on the way down", async () => {
    const { knex, dispose } = await scratch(engine);
    const t = tenant();
    const id = "2a1e6f0c-3b8d-4e6a-9c1f-7d5b4a3c2e10";
    const row = (app: string | undefined, fingerprint: string) => ({
      tenant_id: t,
      ...(app !== undefined && { app_id: app }),
      request_id: id,
      fingerprint,
      response: Buffer.from(fingerprint),
      created_at: 1_800_000_000_000,
    });
    try {
      // Down to the tenant-scoped shape, with a row written then.
      await knex.migrate.down({ migrationSource, name: REQUEST_IDS_PER_APP });
      await knex("capacity_requests").insert(row(undefined, "before"));
      // Up: the old row belongs to app '' and another app may now use the same id.
      await knex.migrate.up({ migrationSource, name: REQUEST_IDS_PER_APP });
      expect(await knex("capacity_requests").where("tenant_id", t).select("app_id", "fingerprint")).toEqual([{ app_id: "", fingerprint: "before" }]);
      await knex("capacity_requests").insert(row("crm", "crm"));
      await expect(knex("capacity_requests").insert(row("crm", "crm twice"))).rejects.toThrow();
      // Down again: the two apps' rows collapse to one (the smallest app_id), so the old key holds.
      await knex.migrate.down({ migrationSource, name: REQUEST_IDS_PER_APP });
      expect(await knex("capacity_requests").where("tenant_id", t).select("fingerprint")).toEqual([{ fingerprint: "before" }]);
    } finally {
      await dispose();
    }
  });
});
