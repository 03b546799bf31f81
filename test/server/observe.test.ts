/**
 * An INTERNAL error's log line (src/server/observe.ts) names the fault by
 * kind and correlation id only: no SQL, no table names, no stored values.
 * A real server process writes through a database that the test then
 * sabotages with triggers refusing every write to the capacities table;
 * knex puts the failing statement, values inlined, into the driver error's
 * message, and a MySQL trigger can quote the row it refused as a driver
 * would quote a duplicate key.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import type { Knex } from "knex";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../src/auth/tokens.js";
import { openDatabase } from "../../src/store/database.js";
import { createTestClient, ok, type Outcome, type TestClient } from "../helpers/clients.js";
import { MYSQL_URL, type Engine } from "../helpers/databases.js";
import { person, project, tenant } from "../helpers/ids.js";
import { spawnServer, type ServerProcess } from "../helpers/process.js";
import { eventually } from "../helpers/run.js";
import { TEST_SECRET } from "../helpers/server.js";

const REFUSAL = "refused by the test trigger";

/** What must never be in a log line: statement words, our table names, and the trigger's driver text. */
const SQL_OR_SCHEMA = /\b(insert|update|select|into|where|values)\b|capacities|capacity_persons|capacity_requests|refused by the test/i;

/** Triggers that make every write to `capacities` fail in the driver; MySQL's quotes the refused row's notes. */
async function sabotage(knex: Knex, engine: Engine): Promise<void> {
  if (engine === "sqlite") {
    for (const event of ["INSERT", "UPDATE"]) {
      await knex.raw(`CREATE TRIGGER refuse_${event.toLowerCase()} BEFORE ${event} ON capacities BEGIN SELECT RAISE(ABORT, '${REFUSAL}'); END`);
    }
    return;
  }
  for (const event of ["INSERT", "UPDATE"]) {
    await knex.raw(
      `CREATE TRIGGER refuse_${event.toLowerCase()} BEFORE ${event} ON capacities FOR EACH ROW BEGIN
         DECLARE msg VARCHAR(255);
         SET msg = CONCAT('${REFUSAL}: ', LEFT(NEW.notes, 120));
         SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = msg;
       END`,
    );
  }
}

/** A database of the test's own: a SQLite folder, or a scratch MySQL database next to the test one. */
async function ownDatabase(engine: Engine): Promise<{ env: Record<string, string>; knex: () => Knex; dispose: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), "capacity-observe-"));
  if (engine === "sqlite") {
    let knex: Knex | undefined;
    return {
      env: { CAPACITY_DATA_DIR: dataDir },
      knex: () => (knex ??= openDatabase({ url: undefined, dataDir })),
      dispose: async () => knex?.destroy(),
    };
  }
  const url = new URL(MYSQL_URL);
  const name = `${url.pathname.slice(1)}_observe`;
  const admin = openDatabase({ url: MYSQL_URL, dataDir });
  await admin.raw("drop database if exists ??", [name]);
  await admin.raw("create database ??", [name]);
  url.pathname = `/${name}`;
  const knex = openDatabase({ url: url.toString(), dataDir });
  return {
    env: { CAPACITY_DATA_DIR: dataDir, CAPACITY_DATABASE_URL: url.toString() },
    knex: () => knex,
    async dispose() {
      await knex.destroy();
      await admin.raw("drop database if exists ??", [name]);
      await admin.destroy();
    },
  };
}

function internal(outcome: Outcome<unknown>): string {
  if (outcome.ok) throw new Error("expected INTERNAL, got success");
  expect(outcome.code).toBe(Code.Internal);
  // The caller learns that it failed and the id to quote, nothing else.
  expect(outcome.message).toMatch(/^internal error \(correlation id [0-9a-f-]{36}\)$/);
  expect(outcome.requestId).toBeDefined();
  expect(outcome.message).toBe(`internal error (correlation id ${outcome.requestId})`);
  return outcome.requestId!;
}

describe.each<Engine>(["sqlite", "mysql"])("INTERNAL errors on %s", (engine) => {
  let server: ServerProcess;
  let db: Awaited<ReturnType<typeof ownDatabase>>;
  let client: TestClient;
  let token: string;
  const storedNotes = `stored-notes-${randomUUID()}`;
  const newNotes = `new-notes-${randomUUID()}`;
  const createdNotes = `created-notes-${randomUUID()}`;
  const failures: string[] = [];

  beforeAll(async () => {
    db = await ownDatabase(engine);
    server = await spawnServer({ ...db.env, CAPACITY_JWT_SECRET: TEST_SECRET });
    client = createTestClient("connect-json-http1", server.baseUrl);
    token = await mintToken(TEST_SECRET, { tenantId: tenant(), sub: person(), ttlSeconds: 600 });
    const stored = ok(
      await client.call(
        "setCapacity",
        { capacity: { personId: person(), projectId: project(), periodStart: "2027-03-01", periodEnd: "2027-03-31", allocatedPct: 20, notes: storedNotes } },
        token,
      ),
    );
    await sabotage(db.knex(), engine);
    // An update of the stored row, and a new row: each fails in the driver.
    failures.push(
      internal(await client.call("setCapacity", { capacity: { id: stored.id, notes: newNotes }, updateMask: { paths: ["notes"] } }, token)),
      internal(
        await client.call(
          "setCapacity",
          { capacity: { personId: person(), projectId: project(), periodStart: "2027-04-01", periodEnd: "2027-04-30", allocatedPct: 30, notes: createdNotes } },
          token,
        ),
      ),
    );
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await server?.stop();
    await db?.dispose();
  });

  it("answers the caller INTERNAL with a correlation id only, and logs one error line per failure carrying that id", async () => {
    for (const id of failures) {
      const line = await eventually(`the log line for ${id}`, () => server.logs.find((l) => l.correlationId === id));
      expect(line).toMatchObject({ level: 50, msg: "call failed", code: "Internal", method: "work.v1.CapacityService/SetCapacity" });
      // Enough to find the fault: its kind and driver code.
      expect(line.fault).toMatchObject({ name: expect.any(String) as string, code: expect.any(String) as string });
    }
  });

  // SQLite's driver errors carry neither `sql` nor `sqlState`, and knex prefixes their message with the failing
  // statement, values inlined: fault() must drop the message of every driver error.
  it("keeps SQL text, table names and stored values out of those log lines and everything else the process wrote", async () => {
    for (const id of failures) {
      const line = await eventually(`the log line for ${id}`, () => server.logs.find((l) => l.correlationId === id));
      const text = JSON.stringify(line);
      expect(text).not.toMatch(SQL_OR_SCHEMA);
      for (const notes of [storedNotes, newNotes, createdNotes]) expect(text).not.toContain(notes);
    }
    const everything = JSON.stringify(server.logs) + server.stderr();
    for (const notes of [storedNotes, newNotes, createdNotes]) expect(everything).not.toContain(notes);
  });
});
