/** With a certificate configured, the one port speaks TLS and picks HTTP/2 or HTTP/1.1 by ALPN. */
import tls from "node:tls";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CapacityService } from "../../src/gen/work/v1/capacity_pb.js";
import { person, project, tenant } from "../helpers/ids.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { throwawayCertificate } from "../helpers/tls.js";

describe("TLS", () => {
  let server: TestServer;
  let ca: Buffer;
  let port: number;
  beforeAll(async () => {
    const { cert, key, pem } = throwawayCertificate();
    ca = pem;
    server = await startTestServer("sqlite", { env: { CAPACITY_TLS_CERT_FILE: cert, CAPACITY_TLS_KEY_FILE: key } });
    port = server.app.port;
  });
  afterAll(async () => {
    await server?.app.close(100);
    await server?.db.knex.destroy();
  });

  const create = () => ({
    capacity: { personId: person(), projectId: project(), periodStart: "2027-01-01", periodEnd: "2027-01-05", allocatedPct: 20 },
  });

  it("negotiates h2 and http/1.1 by ALPN", async () => {
    for (const protocol of ["h2", "http/1.1"]) {
      const negotiated = await new Promise<string | false>((resolve, reject) => {
        const socket = tls.connect({ host: "127.0.0.1", port, ca, ALPNProtocols: [protocol] }, () => {
          resolve(socket.alpnProtocol ?? false);
          socket.end();
        });
        socket.on("error", reject);
      });
      expect(negotiated).toBe(protocol);
    }
  });

  it("serves gRPC (connect-node and grpc-js) and Connect over HTTP/1.1", async () => {
    const token = await server.token(tenant());
    const headers = { authorization: `Bearer ${token}` };
    const baseUrl = `https://127.0.0.1:${port}`;
    const overGrpc = createClient(CapacityService, createGrpcTransport({ baseUrl, nodeOptions: { ca } }));
    const created = await overGrpc.setCapacity(create(), { headers });
    const overHttp1 = createClient(CapacityService, createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { ca } }));
    expect((await overHttp1.getCapacity({ id: created.id }, { headers })).id).toBe(created.id);

    const grpcJs = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createSsl(ca));
    const md = new grpc.Metadata();
    md.set("authorization", headers.authorization);
    const code = await new Promise<number>((resolve) =>
      grpcJs.makeUnaryRequest(
        "/work.v1.CapacityService/GetCapacity",
        (x: Buffer) => x,
        (x: Buffer) => x,
        Buffer.from([0x0a, 3, 0x78, 0x78, 0x78]), // GetCapacityRequest{id:"xxx"}
        md,
        (err) => resolve(err?.code ?? 0),
      ),
    );
    expect(code).toBe(grpc.status.INVALID_ARGUMENT);
    grpcJs.close();
  });

  it("refuses plaintext on the TLS port", async () => {
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });
});
