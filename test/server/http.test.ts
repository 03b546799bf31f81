/** A handler that fails answers 500 with a correlation id that its log line carries; the listener keeps serving. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HealthMonitor } from "../../src/server/health.js";
import { createHttpHandler } from "../../src/server/http.js";
import { listen, type Listener } from "../../src/server/listener.js";

describe("handler failures", () => {
  let listener: Listener;
  const errors: string[] = [];
  let n = 0;
  const onError = (err: unknown): string => {
    errors.push(err instanceof Error ? err.message : String(err));
    return `corr-${++n}`;
  };
  beforeAll(async () => {
    const health = { isReady: () => Promise.reject(new Error("probe exploded")) } as unknown as HealthMonitor;
    const http = createHttpHandler({
      rpc: (req) => {
        if (req.url === "/throws") throw new Error("handler exploded");
      },
      rest: () => {
        throw new Error("no REST call in these tests");
      },
      health,
      corsOrigins: [],
      uiDir: undefined,
      onError,
      onRefusal: () => {},
    });
    listener = await listen({ host: "127.0.0.1", port: 0, handler: http, onHandlerError: onError });
  });
  afterAll(async () => listener?.close(100));

  it("answers an asynchronous failure 500 with the correlation id the log got", async () => {
    const res = await fetch(`http://127.0.0.1:${listener.port}/readyz`);
    expect(res.status).toBe(500);
    const id = res.headers.get("x-request-id");
    expect(id).toMatch(/^corr-\d+$/);
    expect(await res.text()).toContain(id!);
    expect(errors).toContain("probe exploded");
  });

  it("answers a synchronous throw 500 with a correlation id, and the next request is served", async () => {
    const res = await fetch(`http://127.0.0.1:${listener.port}/throws`);
    expect(res.status).toBe(500);
    expect(await res.text()).toContain(res.headers.get("x-request-id")!);
    expect(errors).toContain("handler exploded");
    expect((await fetch(`http://127.0.0.1:${listener.port}/healthz`)).status).toBe(200);
  });
});
