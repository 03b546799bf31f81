/**
 * SetCapacity's etag checks over a real listener, on both databases (Connect
 * JSON over HTTP/1.1). Every other rule of SetCapacity is proven on the
 * service core, without a listener: test/service/set-capacity.test.ts.
 */
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { createRequest, type CapacityInit } from "../helpers/capacities.js";
import { failure, ok, type TestClient } from "../helpers/clients.js";
import { ENGINES } from "../helpers/databases.js";
import { tenant } from "../helpers/ids.js";
import { useTestServer, type TestServer } from "../helpers/server.js";

describe.each(ENGINES)("SetCapacity on %s", (engine) => {
  const suite = useTestServer(engine);
  let server: TestServer;
  let client: TestClient;
  let token: string;
  let t: string;
  beforeAll(async () => {
    server = suite.server;
    client = suite.client("connect-json-http1");
    t = tenant();
    token = await server.token(t);
  });

  const fresh = (over: CapacityInit = {}) => createRequest({ periodStart: "2027-05-01", periodEnd: "2027-05-31", allocatedPct: 25, ...over });

  describe("update", () => {
    it("fails ABORTED on a stale etag and changes nothing", async () => {
      const c = ok(await client.call("setCapacity", fresh(), token));
      const u = ok(await client.call("setCapacity", { capacity: { id: c.id, notes: "v2", etag: c.etag }, updateMask: { paths: ["notes"] } }, token));
      const stale = failure(
        await client.call("setCapacity", { capacity: { id: c.id, notes: "v3", etag: c.etag }, updateMask: { paths: ["notes"] } }, token),
      );
      expect(stale.code).toBe(Code.Aborted);
      for (const rpc of ["deleteCapacity", "confirmCapacity"] as const) {
        expect(failure(await client.call(rpc, { id: c.id, etag: c.etag }, token)).code).toBe(Code.Aborted);
      }
      expect(ok(await client.call("getCapacity", { id: c.id }, token))).toEqual(u);
    });
  });

  describe("validate_only", () => {
    it("checks an update (etag, deleted, fields) and writes nothing", async () => {
      const c = ok(await client.call("setCapacity", fresh(), token));
      const preview = ok(
        await client.call("setCapacity", { capacity: { id: c.id, allocatedPct: 80, etag: c.etag }, updateMask: { paths: ["allocated_pct"] }, validateOnly: true }, token),
      );
      expect(preview.allocatedPct).toBe(80);
      expect(
        failure(await client.call("setCapacity", { capacity: { id: c.id, allocatedPct: 80, etag: "stale" }, updateMask: { paths: ["allocated_pct"] }, validateOnly: true }, token))
          .code,
      ).toBe(Code.Aborted);
      expect(ok(await client.call("getCapacity", { id: c.id }, token))).toEqual(c);
    });
  });
});
