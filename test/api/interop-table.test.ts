/**
 * The interop table: each RPC, succeeding and failing, through every client
 * kind and both gRPC engines (connect-node on the main port, grpc-js on
 * CAPACITY_GRPC_PORT); after replacing per-run values (ids, etags, times)
 * every client must see the same answer, codes and error details included.
 */
import { toJson, type JsonValue } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "../../src/gen/health/v1/health_pb.js";
import { beforeAll, describe, expect, it } from "vitest";
import { CapacityService, OverallocationPolicy } from "../../src/gen/work/v1/capacity_pb.js";
import { CLIENT_KINDS, ok, type Outcome, type Rpc, type TestClient } from "../helpers/clients.js";
import { person, project, tenant } from "../helpers/ids.js";
import { useTestServer, type TestServer } from "../helpers/server.js";

interface Ctx {
  client: TestClient;
  token: string;
  personId: string;
  projectId: string;
  /** A fresh record made through the same client. */
  record(over?: { allocatedPct?: number }): Promise<{ id: string; etag: string }>;
}

type Row = [name: string, rpc: Rpc, run: (ctx: Ctx) => Promise<Outcome<unknown>>];

const window = { periodStart: "2027-09-01", periodEnd: "2027-09-30" };

const ROWS: Row[] = [
  ["get", "getCapacity", async (c) => c.client.call("getCapacity", { id: (await c.record()).id }, c.token)],
  ["get missing", "getCapacity", (c) => c.client.call("getCapacity", { id: "cap_01M8FMTT425T0SWT9WYGC66PKF" }, c.token)],
  ["get malformed id", "getCapacity", (c) => c.client.call("getCapacity", { id: "nope" }, c.token)],
  ["get without token", "getCapacity", (c) => c.client.call("getCapacity", { id: "cap_01M8FMTT425T0SWT9WYGC66PKF" })],
  [
    "list",
    "listCapacities",
    async (c) => {
      await c.record();
      await c.record({ allocatedPct: 30 });
      return c.client.call("listCapacities", { personId: c.personId, pageSize: 1 }, c.token);
    },
  ],
  ["list bad filters", "listCapacities", (c) => c.client.call("listCapacities", { pageSize: -1, periodFrom: "2027-02-30" }, c.token)],
  [
    "create",
    "setCapacity",
    (c) => c.client.call("setCapacity", { capacity: { personId: c.personId, projectId: c.projectId, ...window, allocatedPct: 12.34, notes: "ñ ✓" } }, c.token),
  ],
  [
    "create invalid",
    "setCapacity",
    (c) =>
      c.client.call(
        "setCapacity",
        { capacity: { personId: "x", projectId: c.projectId, periodStart: "2027-09-02", periodEnd: "2027-09-01", allocatedPct: 101 } },
        c.token,
      ),
  ],
  [
    "update",
    "setCapacity",
    async (c) => {
      const r = await c.record();
      return c.client.call("setCapacity", { capacity: { id: r.id, etag: r.etag, notes: "new" }, updateMask: { paths: ["notes"] } }, c.token);
    },
  ],
  [
    "update stale etag",
    "setCapacity",
    async (c) => {
      const r = await c.record();
      return c.client.call("setCapacity", { capacity: { id: r.id, etag: "stale", notes: "new" }, updateMask: { paths: ["notes"] } }, c.token);
    },
  ],
  [
    "create over-allocating",
    "setCapacity",
    async (c) => {
      await c.record({ allocatedPct: 90 });
      return c.client.call(
        "setCapacity",
        { capacity: { personId: c.personId, projectId: c.projectId, ...window, allocatedPct: 20 }, overallocationPolicy: OverallocationPolicy.REJECT },
        c.token,
      );
    },
  ],
  ["delete", "deleteCapacity", async (c) => c.client.call("deleteCapacity", { id: (await c.record()).id }, c.token)],
  [
    "delete twice",
    "deleteCapacity",
    async (c) => {
      const r = await c.record();
      await c.client.call("deleteCapacity", { id: r.id }, c.token);
      return c.client.call("deleteCapacity", { id: r.id }, c.token);
    },
  ],
  [
    "undelete",
    "undeleteCapacity",
    async (c) => {
      const r = await c.record();
      await c.client.call("deleteCapacity", { id: r.id }, c.token);
      return c.client.call("undeleteCapacity", { id: r.id }, c.token);
    },
  ],
  ["undelete live", "undeleteCapacity", async (c) => c.client.call("undeleteCapacity", { id: (await c.record()).id }, c.token)],
  ["confirm", "confirmCapacity", async (c) => c.client.call("confirmCapacity", { id: (await c.record()).id }, c.token)],
  [
    "availability",
    "getPersonAvailability",
    async (c) => {
      await c.record({ allocatedPct: 33.33 });
      await c.record({ allocatedPct: 66.67 });
      return c.client.call(
        "getPersonAvailability",
        { personId: c.personId, periodStart: "2027-08-31", periodEnd: "2027-09-30", excludeWeekends: true },
        c.token,
      );
    },
  ],
  [
    "availability too long",
    "getPersonAvailability",
    (c) => c.client.call("getPersonAvailability", { personId: c.personId, periodStart: "2027-01-01", periodEnd: "2031-01-01" }, c.token),
  ],
  [
    "batch availability",
    "batchGetPersonAvailability",
    async (c) => {
      await c.record({ allocatedPct: 50 });
      return c.client.call(
        "batchGetPersonAvailability",
        { personIds: [c.personId, c.projectId.replace("prj_", "per_")], ...window, minAvailablePct: 50 },
        c.token,
      );
    },
  ],
  [
    "batch duplicates",
    "batchGetPersonAvailability",
    (c) => c.client.call("batchGetPersonAvailability", { personIds: [c.personId, c.personId], ...window }, c.token),
  ],
];

describe("interop table", () => {
  const suite = useTestServer("sqlite", { env: { CAPACITY_GRPC_PORT: "0" } });
  let server: TestServer;
  let clients: TestClient[];
  beforeAll(() => {
    server = suite.server;
    // Every client kind on the main port, and the same table through the grpc-js engine (CAPACITY_GRPC_PORT).
    clients = [...CLIENT_KINDS.map((kind) => suite.client(kind)), suite.client("grpc-js", "grpc-engine"), suite.client("grpc-connect-node", "grpc-engine")];
  });

  it.each(ROWS)("%s (%s) answers alike through every client", async (_name, rpc, run) => {
    const answers: JsonValue[] = [];
    for (const client of clients) {
      const volatile = new Map<string, string>();
      const personId = person();
      const projectId = project();
      volatile.set(personId, "<person>").set(projectId, "<project>").set(projectId.replace("prj_", "per_"), "<other person>");
      const token = await server.token(tenant());
      const ctx: Ctx = {
        client,
        token,
        personId,
        projectId,
        async record(over = {}) {
          const c = ok(await client.call("setCapacity", { capacity: { personId, projectId, ...window, allocatedPct: 10, ...over } }, token));
          return c;
        },
      };
      const outcome = await run(ctx);
      const shape: JsonValue = outcome.ok
        ? toJson(CapacityService.method[rpc].output, outcome.value as never)
        : {
            code: Code[outcome.code],
            violations: outcome.violations.map((v) => `${v.field}: ${v.description}`),
            errorInfo: outcome.errorInfo.map((i) => i.metadata),
          };
      // Replace what differs by construction between runs.
      let text = JSON.stringify(shape);
      for (const m of text.matchAll(/cap_[0-9A-Z]{26}/g)) if (!volatile.has(m[0])) volatile.set(m[0], `<cap${volatile.size}>`);
      for (const [from, to] of volatile) text = text.replaceAll(from, to);
      text = text
        .replace(/"(etag|tenantId|createdBy|updatedBy|deletedBy|confirmedById|nextPageToken)":"[^"]*"/g, '"$1":"<v>"')
        .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, "<time>")
        .replace(/correlation id [0-9a-f-]{36}/g, "correlation id <id>");
      answers.push(JSON.parse(text) as JsonValue);
    }
    for (let i = 1; i < answers.length; i++) expect({ client: clients[i]!.kind, answer: answers[i] }).toEqual({ client: clients[i]!.kind, answer: answers[0] });
  });

  it("answers health checks on the grpc-js engine's port", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.app.grpcPort}` }));
    expect((await health.check({ service: "work.v1.CapacityService" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    await expect(health.check({ service: "nope" })).rejects.toMatchObject({ code: Code.NotFound });
  });
});
