import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { mintToken } from "./src/auth/tokens.js";
import { openDatabase } from "./src/store/database.js";
import { CapacityService } from "./src/gen/work/v1/capacity_pb.js";
const SECRET = "test-secret-test-secret-test-secret-0123";
const knex = openDatabase({ url: "mysql://root@127.0.0.1:3306/test_a", dataDir: "/tmp" });
const heavy = await knex("capacities").where("tenant_id", "like", "heavy-%").select("tenant_id").count("* as n").groupBy("tenant_id").orderBy("tenant_id", "desc");
const t = heavy[0].tenant_id;
const persons = (await knex("capacities").where("tenant_id", t).distinct("person_id")).map((r: any) => r.person_id).slice(0, 500);
const other = await knex("capacities").where("tenant_id", "like", "other-%").first("tenant_id", "id");
await knex.destroy();
const token = await mintToken(SECRET, { tenantId: t, sub: "per_01HV0000000000000000000000", ttlSeconds: 600 });
const otoken = await mintToken(SECRET, { tenantId: other.tenant_id, sub: "per_01HV0000000000000000000000", ttlSeconds: 600 });
const base = `http://127.0.0.1:18931`;
const g = createClient(CapacityService, createGrpcTransport({ baseUrl: base }));
const o = createClient(CapacityService, createGrpcTransport({ baseUrl: base }));
const j = createClient(CapacityService, createConnectTransport({ baseUrl: base, httpVersion: "1.1", useBinaryFormat: false }));
const h = { headers: { authorization: `Bearer ${token}` }, timeoutMs: 3000 };
const req = { personIds: persons, periodStart: "2027-01-01", periodEnd: "2029-12-31" };
await o.getCapacity({ id: other.id }, { headers: { authorization: `Bearer ${otoken}` } });
let go = true; const lat: Array<[number, number]> = []; const T0 = performance.now();
const loop = (async () => { while (go) { const s = performance.now(); await o.getCapacity({ id: other.id }, { headers: { authorization: `Bearer ${otoken}` } }); lat.push([Math.round(s - T0), Math.round(performance.now() - s)]); await new Promise((r) => setTimeout(r, 5)); } })();
for (let i = 0; i < 2; i++) {
  const res = await Promise.allSettled([g.batchGetPersonAvailability(req, h), j.batchGetPersonAvailability(req, h), g.batchGetPersonAvailability(req, h), j.batchGetPersonAvailability(req, h)]);
  console.log(res.map((r) => r.status === "fulfilled" ? "ok" : String(r.reason).slice(0, 40)), Math.round(performance.now() - T0));
}
go = false; await loop;
console.log("calls", lat.length, "slow other calls (startMs, ms):", JSON.stringify(lat.filter(([, ms]) => ms > 100)));
