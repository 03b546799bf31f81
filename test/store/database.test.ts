/**
 * src/store/database.ts: the embedded SQLite file, and migrate() when
 * several replicas start at once: another's lock is waited for, and
 * simultaneous migrate() calls on a fresh database all succeed and apply the
 * schema once. MySQL runs in scratch databases next to the test database
 * (`<name>_lock`, dropped afterwards): the shared one is already migrated.
 */
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Knex } from "knex";
import { afterAll, describe, expect, it } from "vitest";
import { migrate, openDatabase } from "../../src/store/database.js";
import { dialectOf } from "../../src/store/dialect.js";
import { migrationSource, OWNED_TABLES } from "../../src/store/migrations/index.js";
import { ENGINES, MYSQL_URL, type Engine } from "../helpers/databases.js";
import { eventually, runScript } from "../helpers/run.js";

const MIGRATIONS = await migrationSource.getMigrations([]);

/** Opens `count` separate Knex instances (separate pools, like separate replicas) on one fresh, empty database. */
async function freshDatabase(engine: Engine, count: number, suffix = ""): Promise<{ knexes: Knex[]; dispose: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), "capacity-database-"));
  if (engine === "sqlite") {
    const knexes = Array.from({ length: count }, () => openDatabase({ url: undefined, dataDir }));
    return { knexes, dispose: async () => void (await Promise.all(knexes.map((k) => k.destroy()))) };
  }
  const url = new URL(MYSQL_URL);
  const name = `${url.pathname.slice(1)}_lock${suffix}`;
  const admin = openDatabase({ url: MYSQL_URL, dataDir });
  await admin.raw("drop database if exists ??", [name]);
  await admin.raw("create database ??", [name]);
  url.pathname = `/${name}`;
  const knexes = Array.from({ length: count }, () => openDatabase({ url: url.toString(), dataDir }));
  return {
    knexes,
    async dispose() {
      await Promise.all(knexes.map((k) => k.destroy()));
      await admin.raw("drop database if exists ??", [name]);
      await admin.destroy();
    },
  };
}

/** How three replicas' migrate() calls on one fresh database ended, what they said, and a connection to check it. */
interface Replicas {
  outcomes: string[];
  said: string[];
  check: Knex;
  dispose: () => Promise<void>;
}

/** Three migrate() calls on their own pools of one fresh MariaDB database; a wedged lock fails after 20 s, not 60. */
async function mysqlReplicas(round: number): Promise<Replicas> {
  const { knexes, dispose } = await freshDatabase("mysql", 3, `_${round}`);
  const said: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  const wedged = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`round ${round}: still migrating after 20 s: the migration lock is wedged`)), 20_000);
  });
  const results = await Promise.race([Promise.allSettled(knexes.map((k) => migrate(k, (m) => said.push(m)))), wedged]).finally(() => clearTimeout(timer));
  return { outcomes: results.map((r) => (r.status === "fulfilled" ? "ok" : String(r.reason))), said, check: knexes[0]!, dispose };
}

/**
 * Three `npm run migrate` processes on one fresh SQLite file. better-sqlite3
 * is synchronous, so SQLite replicas must be processes: in one process, a
 * connection's busy wait would stall the one holding the lock as well.
 */
async function sqliteReplicas(): Promise<Replicas> {
  const dataDir = mkdtempSync(join(tmpdir(), "capacity-replicas-"));
  const env = { CAPACITY_DATABASE_URL: "", CAPACITY_JWT_SECRET: "", CAPACITY_JWKS_URL: "", NODE_ENV: "", CAPACITY_DATA_DIR: dataDir };
  const runs = await Promise.all([0, 1, 2].map(() => runScript("src/cli/migrate.ts", [], env, 60_000)));
  const check = openDatabase({ url: undefined, dataDir });
  return {
    outcomes: runs.map((r) => (r.code === 0 ? "ok" : `exit ${r.code}: ${r.stderr}`)),
    said: runs.flatMap((r) => r.stdout.split("\n")),
    check,
    dispose: () => check.destroy(),
  };
}

/** The schema is there exactly once: every table, each migration recorded once, one free lock row. */
async function expectMigratedOnce(knex: Knex): Promise<void> {
  for (const table of OWNED_TABLES) expect(await knex.schema.hasTable(table), table).toBe(true);
  const applied = await knex("knex_migrations").select<Array<{ name: string }>>("name").orderBy("id");
  expect(applied.map((r) => r.name)).toEqual(MIGRATIONS);
  const locks: Array<{ is_locked: number }> = await knex("knex_migrations_lock").select("is_locked");
  expect(locks.map((l) => Number(l.is_locked))).toEqual([0]);
}

describe("openDatabase on SQLite", () => {
  it("makes the data folder and capacity.sqlite in it, in WAL mode with a busy timeout", async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), "capacity-database-")), "nested", "data");
    const knex = openDatabase({ url: undefined, dataDir });
    try {
      expect(dialectOf(knex)).toBe("sqlite");
      expect(await knex.raw("pragma journal_mode")).toEqual([{ journal_mode: "wal" }]);
      expect(await knex.raw("pragma busy_timeout")).toEqual([{ timeout: 5000 }]);
      expect(existsSync(join(dataDir, "capacity.sqlite"))).toBe(true);
    } finally {
      await knex.destroy();
    }
  });

  it("takes MySQL for a mysql:// URL", async () => {
    const knex = openDatabase({ url: MYSQL_URL, dataDir: "." });
    try {
      expect(dialectOf(knex)).toBe("mysql");
    } finally {
      await knex.destroy();
    }
  });
});

describe.each(ENGINES)("migrate() on %s", (engine) => {
  const open: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const dispose of open) await dispose();
  });

  it("applies every migration once, says which, and is silent and harmless the second time", async () => {
    const { knexes, dispose } = await freshDatabase(engine, 1);
    open.push(dispose);
    const knex = knexes[0]!;
    const said: string[] = [];
    await migrate(knex, (m) => said.push(m));
    expect(said).toEqual([`applied migrations: ${MIGRATIONS.join(", ")}`]);
    await migrate(knex, (m) => said.push(m));
    expect(said).toHaveLength(1);
    await expectMigratedOnce(knex);
  });

  it("waits while another process holds the migration lock, then applies the schema once the lock is free", async () => {
    const { knexes, dispose } = await freshDatabase(engine, 2);
    open.push(dispose);
    const [mine, other] = knexes as [Knex, Knex];
    // The other replica's lock: knex's own tables, locked as a migration in progress leaves them.
    await other.migrate.list({ migrationSource });
    await other("knex_migrations_lock").update({ is_locked: 1 });
    const said: string[] = [];
    let done = false;
    const migrating = migrate(mine, (m) => said.push(m)).finally(() => (done = true));
    await eventually("migrate() to report the lock", () => said.includes("another process is migrating; waiting for its lock"), 20_000);
    expect(done).toBe(false);
    expect(await mine.schema.hasTable("capacities")).toBe(false);
    await other("knex_migrations_lock").update({ is_locked: 0 });
    await migrating;
    expect(said.at(-1)).toBe(`applied migrations: ${MIGRATIONS.join(", ")}`);
    await expectMigratedOnce(mine);
  }, 60_000);

  // Replicas of a fresh deployment start together. Knex alone creates knex_migrations and
  // knex_migrations_lock (and inserts the lock row) before taking any lock, check-then-create: the
  // losers failed with "table `knex_migrations` already exists" (SQLite every round, MySQL about 8
  // rounds in 10), and about one MySQL round in 10 inserted two lock rows, after which every
  // migrate() on that database saw "already locked" for good. migrate() now creates them race-free.
  // Six rounds, each on a new database, so the fix cannot pass by luck.
  it("lets three replicas migrate a fresh database at the same time: all succeed, the schema is applied once", async () => {
    // Rounds run side by side, each on its own database.
    const round = async (round: number): Promise<void> => {
      const { outcomes, said, check, dispose } = engine === "sqlite" ? await sqliteReplicas() : await mysqlReplicas(round);
      try {
        expect(outcomes, `round ${round}`).toEqual(["ok", "ok", "ok"]);
        // Exactly one of them applied the migrations.
        expect(
          said.filter((m) => m.startsWith("applied migrations:")),
          `round ${round}`,
        ).toEqual([`applied migrations: ${MIGRATIONS.join(", ")}`]);
        await expectMigratedOnce(check);
      } finally {
        await dispose();
      }
    };
    await Promise.all([0, 1, 2, 3, 4, 5].map(round));
  }, 180_000);
});
