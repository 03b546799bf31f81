/**
 * The benchmark's dataset, written straight into MySQL with multi-row inserts
 * (the API would take hours): 1,000,000 capacities over 50 tenants and a few
 * thousand people, periods spread over 2026–2028. Seeded once per database;
 * a marker row says which version is there.
 */
import { createHash } from "node:crypto";
import type { Knex } from "knex";
import { monotonicFactory } from "ulid";
import { migrate } from "../src/store/database.js";

const SEED_VERSION = "v3";
const DAY = 86_400_000;
const START = Date.UTC(2026, 0, 1);
const SPAN_DAYS = 3 * 365;

/** Deterministic randomness, so every run measures the same data. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A stable prefixed ULID-shaped id for a label. */
export function fixedId(prefix: string, label: string): string {
  const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const h = createHash("sha256").update(label).digest();
  let out = "01";
  for (let i = 0; i < 24; i++) out += alphabet[h[i]! % 32];
  return `${prefix}_${out}`;
}

export interface Dataset {
  /** Tenant ids; [0] is the deep tenant (120,000 records), [1] has 500 people. */
  tenants: string[];
  /** A person with 1,000 allocations over three years, in tenants[2]. */
  busyPerson: string;
  /** 500 people of tenants[1]. */
  batchPersons: string[];
  /** A person of tenants[0] with about 40 allocations. */
  listPerson: string;
  /** A record id of tenants[0], for Get. */
  getId: string;
  rows: number;
}

export function datasetShape(rows: number): Dataset {
  const tenants = Array.from({ length: 50 }, (_, i) => `bench-t${String(i).padStart(2, "0")}`);
  return {
    tenants,
    busyPerson: fixedId("per", "busy"),
    batchPersons: Array.from({ length: 500 }, (_, i) => fixedId("per", `batch-${i}`)),
    listPerson: fixedId("per", "t0-p0"),
    getId: "",
    rows,
  };
}

/** Seeds `rows` capacities unless this version is already there; returns the dataset's handles. */
export async function seed(knex: Knex, rows: number, log: (m: string) => void): Promise<Dataset> {
  await migrate(knex);
  await knex.raw("CREATE TABLE IF NOT EXISTS bench_seed (version VARCHAR(32) PRIMARY KEY, seeded_rows INT NOT NULL, get_id VARCHAR(30) NOT NULL)");
  const shape = datasetShape(rows);
  const marker = (await knex("bench_seed")
    .where({ version: `${SEED_VERSION}-${rows}` })
    .first()) as { get_id: string } | undefined;
  if (marker) {
    log(`dataset ${SEED_VERSION} with ${rows} rows already seeded`);
    return { ...shape, getId: marker.get_id };
  }
  log(`seeding ${rows.toLocaleString()} capacities (once per database)…`);
  for (const table of ["capacity_requests", "capacity_persons", "capacities"]) await knex(table).truncate();
  await knex("bench_seed").truncate();
  const random = rng(42);
  const ulid = monotonicFactory(random);
  const now = Date.now();
  const row = (tenant: string, person: string, startDay: number, days: number, bp: number, confirmed: boolean) => {
    const start = new Date(START + startDay * DAY).toISOString().slice(0, 10);
    const end = new Date(START + (startDay + days - 1) * DAY).toISOString().slice(0, 10);
    return [
      tenant,
      `cap_${ulid(now)}`,
      "",
      now,
      now,
      person,
      person,
      "bench",
      5,
      0,
      null,
      "",
      1,
      person,
      fixedId("prj", `${tenant}-${Math.floor(random() * 40)}`),
      start,
      end,
      bp,
      confirmed ? person : "",
      confirmed ? now : null,
      "",
      "seed",
    ];
  };
  const columns =
    "tenant_id, id, app_id, created_at, updated_at, created_by, updated_by, source, source_type, is_deleted, deleted_at, deleted_by, " +
    "schema_version, person_id, project_id, period_start, period_end, allocated_bp, confirmed_by_id, confirmed_at, notes, etag";
  let batch: unknown[][] = [];
  let written = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const placeholders = batch.map((r) => `(${r.map(() => "?").join(",")})`).join(",");
    await knex.raw(`INSERT INTO capacities (${columns}) VALUES ${placeholders}`, batch.flat() as Knex.RawBinding[]);
    written += batch.length;
    batch = [];
  };
  const add = async (r: unknown[]): Promise<void> => {
    batch.push(r);
    if (batch.length >= 1000) await flush();
  };
  const [t0, t1, t2] = shape.tenants as [string, string, string];
  if (rows < 200_000) {
    // A small database for the size comparison: one tenant, 40 records a person.
    for (let p = 0; p < rows / 40; p++) {
      const person = p === 0 ? shape.listPerson : fixedId("per", `t0-p${p}`);
      for (let i = 0; i < 40; i++)
        await add(
          row(t0, person, Math.floor(random() * (SPAN_DAYS - 90)), 5 + Math.floor(random() * 85), 500 * (1 + Math.floor(random() * 8)), random() < 0.5),
        );
    }
    return finish();
  }
  // The busy person: 1,000 allocations over three years.
  for (let i = 0; i < 1000; i++)
    await add(
      row(t2, shape.busyPerson, Math.floor(random() * (SPAN_DAYS - 30)), 1 + Math.floor(random() * 30), 500 * (1 + Math.floor(random() * 4)), random() < 0.5),
    );
  // 500 people of one tenant, 20 allocations each.
  for (const p of shape.batchPersons) {
    for (let i = 0; i < 20; i++)
      await add(row(t1, p, Math.floor(random() * (SPAN_DAYS - 60)), 5 + Math.floor(random() * 55), 500 * (1 + Math.floor(random() * 8)), random() < 0.5));
  }
  // The deep tenant: 3,000 people, 40 each = 120,000.
  for (let p = 0; p < 3000; p++) {
    const person = p === 0 ? shape.listPerson : fixedId("per", `t0-p${p}`);
    for (let i = 0; i < 40; i++)
      await add(row(t0, person, Math.floor(random() * (SPAN_DAYS - 90)), 5 + Math.floor(random() * 85), 500 * (1 + Math.floor(random() * 8)), random() < 0.5));
  }
  // Everyone else, spread over the other tenants, 60 people each.
  const left = rows - written - batch.length;
  const perTenant = Math.max(0, Math.floor(left / 47));
  for (const tenant of shape.tenants.slice(3)) {
    for (let i = 0; i < perTenant; i++) {
      await add(
        row(
          tenant,
          fixedId("per", `${tenant}-p${i % 60}`),
          Math.floor(random() * (SPAN_DAYS - 90)),
          5 + Math.floor(random() * 85),
          500 * (1 + Math.floor(random() * 8)),
          random() < 0.5,
        ),
      );
    }
    if (written % 100_000 < 1000) log(`  ${written.toLocaleString()} rows`);
  }
  return finish();

  async function finish(): Promise<Dataset> {
    await flush();
    const { id: getId } = await knex("capacities").where({ tenant_id: t0, person_id: shape.listPerson }).orderBy("id").first<{ id: string }>("id");
    await knex.raw("ANALYZE TABLE capacities");
    await knex("bench_seed").insert({ version: `${SEED_VERSION}-${rows}`, seeded_rows: written, get_id: getId });
    log(`seeded ${written.toLocaleString()} capacities`);
    return { ...shape, getId };
  }
}
