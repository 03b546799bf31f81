/**
 * `npm run migrate` (src/cli/migrate.ts) as a process: a fresh SQLite file
 * gets the schema, a second run changes nothing, and it needs no token
 * verifier even in production (it does not serve).
 */
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../../src/store/database.js";
import { migrationSource, OWNED_TABLES } from "../../src/store/migrations/index.js";
import { freePort } from "../helpers/ports.js";
import { runScript } from "../helpers/run.js";

const MIGRATIONS = await migrationSource.getMigrations([]);
/** An empty value reads as unset (config.ts), keeping the runner's environment out. */
const CLEAN = { CAPACITY_DATABASE_URL: "", CAPACITY_JWT_SECRET: "", CAPACITY_JWKS_URL: "", NODE_ENV: "" };

describe("npm run migrate", () => {
  it("applies every migration to a fresh SQLite file, and a second run applies nothing and keeps the rows", async () => {
    const dir = mkdtempSync(join(tmpdir(), "capacity-migrate-cli-"));
    const first = await runScript("src/cli/migrate.ts", [], { ...CLEAN, CAPACITY_DATA_DIR: dir });
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(`applied migrations: ${MIGRATIONS.join(", ")}\nschema is up to date\n`);

    const knex = openDatabase({ url: undefined, dataDir: dir });
    try {
      for (const table of OWNED_TABLES) expect(await knex.schema.hasTable(table), table).toBe(true);
      await knex("capacity_persons").insert({ tenant_id: "acme", person_id: "per_01J9Z3V4M5N6P7Q8R9S0T1V2W3", revision: 7 });

      const second = await runScript("src/cli/migrate.ts", [], { ...CLEAN, CAPACITY_DATA_DIR: dir });
      expect(second.code).toBe(0);
      expect(second.stdout).toBe("schema is up to date\n");
      expect(((await knex("knex_migrations").select("name").orderBy("id")) as Array<{ name: string }>).map((r) => r.name)).toEqual(MIGRATIONS);
      expect(await knex("capacity_persons").where("tenant_id", "acme").select("revision")).toEqual([{ revision: 7 }]);
    } finally {
      await knex.destroy();
    }
  });

  it("runs in production without a token verifier: it does not serve", async () => {
    const dir = mkdtempSync(join(tmpdir(), "capacity-migrate-cli-"));
    const run = await runScript("src/cli/migrate.ts", [], { ...CLEAN, NODE_ENV: "production", CAPACITY_DATA_DIR: dir });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("schema is up to date");
    expect(existsSync(join(dir, "capacity.sqlite"))).toBe(true);
    // Nor does it make a development secret.
    expect(existsSync(join(dir, "dev-jwt-secret"))).toBe(false);
  });

  it("a database URL it cannot use: exits non-zero naming the variable, and creates nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "capacity-migrate-cli-"));
    const run = await runScript("src/cli/migrate.ts", [], { ...CLEAN, CAPACITY_DATA_DIR: dir, CAPACITY_DATABASE_URL: "postgres://db/capacity" });
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("CAPACITY_DATABASE_URL must start with mysql://");
    expect(existsSync(join(dir, "capacity.sqlite"))).toBe(false);
  });

  it("a MySQL that nothing answers: exits non-zero with the driver's reason, no credentials in what it prints", async () => {
    const run = await runScript("src/cli/migrate.ts", [], {
      ...CLEAN,
      CAPACITY_DATA_DIR: mkdtempSync(join(tmpdir(), "capacity-migrate-cli-")),
      // A port that was bound and closed: connecting is refused at once.
      CAPACITY_DATABASE_URL: `mysql://capuser:s3cretpw@127.0.0.1:${await freePort()}/capacity`,
    });
    expect(run.code).not.toBe(0);
    expect(run.stdout).not.toContain("schema is up to date");
    expect(run.stderr).toMatch(/ECONNREFUSED|connect/);
    expect(run.stdout + run.stderr).not.toMatch(/s3cretpw|capuser/);
  });
});
