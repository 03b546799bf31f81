/**
 * @capacity/client's edges that need no protocol matrix: RetryInfo from a
 * rate-limited server, decodeError on errors made here (every detail kind,
 * code names, errors that are not ConnectErrors), and options it refuses.
 */
import { create } from "@bufbuild/protobuf";
import {
  BadRequestSchema,
  Code,
  ConnectError,
  createCapacityClient,
  decodeError,
  ErrorInfoSchema,
  PreconditionFailureSchema,
  RetryInfoSchema,
  type DecodedError,
} from "@capacity/client";
import { describe, expect, it } from "vitest";
import { person, project, tenant } from "../helpers/ids.js";
import { useTestServer } from "../helpers/server.js";
import { PROTOCOLS } from "./protocols.js";

describe("a rate-limited server", () => {
  const suite = useTestServer("sqlite", {
    // One write a second with a bucket of two: a short burst of writes is refused within a few calls.
    env: { CAPACITY_RATE_TENANT_WRITES_PER_S: "1", CAPACITY_RATE_BURST_MS: "2000", CAPACITY_RATE_APP_WRITES_PER_S: "0" },
  });

  it.each(PROTOCOLS)("gives the retry delay and the limit through $name", async (protocol) => {
    const token = await suite.server.token(tenant());
    const client = protocol.connect(suite.server.baseUrl, { token });
    let refusal: DecodedError | undefined;
    try {
      for (let i = 0; i < 20 && refusal === undefined; i++) {
        await client.work.capacity
          .set({ personId: person(), projectId: project(), periodStart: "2027-01-01", periodEnd: "2027-01-02", allocatedPct: 1 })
          .catch((err: unknown) => (refusal = decodeError(err)));
      }
    } finally {
      client.close();
    }
    expect(refusal?.codeName).toBe("RESOURCE_EXHAUSTED");
    expect(refusal?.retryDelayMs).toBeGreaterThan(0);
    expect(refusal?.retryDelayMs).toBeLessThanOrEqual(2000);
    expect(refusal?.errorInfo?.map((i) => [i.reason, i.metadata.retry_after_ms])).toEqual([["RATE_LIMITED", String(refusal?.retryDelayMs)]]);
  });
});

describe("decodeError", () => {
  it("reads every detail kind the service sends", () => {
    const err = new ConnectError("no", Code.FailedPrecondition, { "x-request-id": "req-1" }, [
      { desc: BadRequestSchema, value: create(BadRequestSchema, { fieldViolations: [{ field: "a", description: "b" }] }) },
      { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason: "R", domain: "d", metadata: { k: "v" } }) },
      { desc: RetryInfoSchema, value: create(RetryInfoSchema, { retryDelay: { seconds: 2n, nanos: 250_000_000 } }) },
      { desc: PreconditionFailureSchema, value: create(PreconditionFailureSchema, { violations: [{ type: "T", subject: "s", description: "x" }] }) },
    ]);
    const d = decodeError(err);
    expect([d.code, d.codeName, d.message, d.requestId, d.retryDelayMs]).toEqual([Code.FailedPrecondition, "FAILED_PRECONDITION", "no", "req-1", 2250]);
    expect(d.badRequest?.map((v) => [v.field, v.description])).toEqual([["a", "b"]]);
    expect(d.errorInfo?.map((i) => [i.reason, i.domain, { ...i.metadata }])).toEqual([["R", "d", { k: "v" }]]);
    expect(d.preconditionFailure?.map((v) => [v.type, v.subject, v.description])).toEqual([["T", "s", "x"]]);
    expect(d.cause).toBe(err);
  });

  it("names codes as gRPC does and leaves absent details out", () => {
    expect(decodeError(new ConnectError("", Code.Canceled)).codeName).toBe("CANCELLED");
    expect(decodeError(new ConnectError("", Code.DeadlineExceeded)).codeName).toBe("DEADLINE_EXCEEDED");
    const plain = decodeError(new ConnectError("gone", Code.NotFound));
    expect(Object.keys(plain).sort()).toEqual(["cause", "code", "codeName", "message", "requestId"]);
    expect(plain.requestId).toBeUndefined();
  });

  it("reads anything else as UNKNOWN with its message", () => {
    const d = decodeError(new TypeError("boom"));
    expect([d.code, d.codeName, d.message]).toEqual([Code.Unknown, "UNKNOWN", "boom"]);
  });
});

describe("createCapacityClient", () => {
  it("refuses a token together with getToken, and gRPC over HTTP/1.1", () => {
    expect(() => createCapacityClient({ baseUrl: "http://127.0.0.1:1", protocol: "connect", token: "a", getToken: () => "b" })).toThrow(
      /either token or getToken/,
    );
    expect(() => createCapacityClient({ baseUrl: "http://127.0.0.1:1", protocol: "grpc", httpVersion: "1.1" })).toThrow(/gRPC needs HTTP\/2/);
  });
});
