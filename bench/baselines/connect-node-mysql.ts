/**
 * Baseline: the smallest sensible connect-node server (h2c) doing the
 * service's Get with mysql2 — no auth, no validation, no logging.
 */
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import mysql from "mysql2/promise";
import { CapacityService } from "../../src/gen/work/v1/capacity_pb.js";
import { SELECT, successCounter, toCapacity } from "./common.js";

const pool = mysql.createPool({ uri: process.env.BENCH_MYSQL_URL!, connectionLimit: Number(process.env.BENCH_POOL ?? 10), dateStrings: true });
const tenant = process.env.BENCH_TENANT!;
const counter = successCounter();
const handler = connectNodeAdapter({
  routes: (router) =>
    router.service(CapacityService, {
      async getCapacity(req) {
        const [rows] = await pool.query(SELECT, [tenant, req.id]);
        const row = (rows as Array<Record<string, unknown>>)[0];
        if (!row) throw new ConnectError("not found", Code.NotFound);
        counter.ok();
        return toCapacity(row);
      },
    }),
});
const server = http2.createServer(handler);
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ msg: "ready", port: (server.address() as AddressInfo).port })}\n`);
});
