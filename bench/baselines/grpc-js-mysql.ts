/**
 * Baseline: the smallest sensible grpc-js server doing the service's Get
 * (one point select by tenant and id) with mysql2 — no auth, no validation,
 * no logging. The benchmark compares the service against it on every run.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import mysql from "mysql2/promise";
import { CapacitySchema, GetCapacityRequestSchema, type Capacity, type GetCapacityRequest } from "../../src/gen/work/v1/capacity_pb.js";
import { SELECT, successCounter, toCapacity } from "./common.js";

const pool = mysql.createPool({ uri: process.env.BENCH_MYSQL_URL!, connectionLimit: Number(process.env.BENCH_POOL ?? 10), dateStrings: true });
const tenant = process.env.BENCH_TENANT!;
const counter = successCounter();
const server = new grpc.Server();
server.addService(
  {
    GetCapacity: {
      path: "/work.v1.CapacityService/GetCapacity",
      requestStream: false,
      responseStream: false,
      requestSerialize: (m: GetCapacityRequest) => Buffer.from(toBinary(GetCapacityRequestSchema, m)),
      requestDeserialize: (b: Buffer) => fromBinary(GetCapacityRequestSchema, b),
      responseSerialize: (m: Capacity) => Buffer.from(toBinary(CapacitySchema, m)),
      responseDeserialize: (b: Buffer) => fromBinary(CapacitySchema, b),
    },
  },
  {
    GetCapacity: (call: grpc.ServerUnaryCall<GetCapacityRequest, Capacity>, callback: grpc.sendUnaryData<Capacity>) => {
      pool.query(SELECT, [tenant, call.request.id]).then(
        ([rows]) => {
          const row = (rows as Array<Record<string, unknown>>)[0];
          if (!row) return callback({ code: grpc.status.NOT_FOUND, details: "not found" });
          counter.ok();
          callback(null, toCapacity(row));
        },
        () => callback({ code: grpc.status.INTERNAL, details: "internal" }),
      );
    },
  },
);
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`${JSON.stringify({ msg: "ready", port })}\n`);
});
