/**
 * The generated OpenAPI document (src/gen/openapi.json, written by scripts/protoc-gen-openapi.ts): valid
 * OpenAPI 3.1, one operation per google.api.http binding of CapacityService (read here from the runtime
 * descriptors, not from the plugin), the error answers, security and conditional headers the transcoder
 * serves; and the loader the server serves it with.
 */
import { readFileSync } from "node:fs";
import SwaggerParser from "@apidevtools/swagger-parser";
import { getOption, type DescMethod } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { http } from "../../../src/gen/google/api/annotations_pb.js";
import type { HttpRule } from "../../../src/gen/google/api/http_pb.js";
import { CapacityService } from "../../../src/gen/work/v1/capacity_pb.js";
import { WorkingTimeService } from "../../../src/gen/work/v1/working_time_pb.js";
import { openApiDocument } from "../../../src/server/rest/openapi-document.js";

type Json = { [key: string]: unknown };
type Document = Exclude<Parameters<typeof SwaggerParser.validate>[0], string>;

const FILE = new URL("../../../src/gen/openapi.json", import.meta.url);
const doc = JSON.parse(readFileSync(FILE, "utf8")) as Json;
const paths = doc.paths as Record<string, Record<string, Json>>;

interface Binding {
  method: DescMethod;
  verb: string;
  template: string;
  body: string;
  operationId: string;
}

/** Every binding of every method of the served API (CapacityService, WorkingTimeService), from the descriptors the server runs on. */
function bindings(): Binding[] {
  return [CapacityService, WorkingTimeService]
    .flatMap((service) => service.methods)
    .flatMap((method) => {
      const rule = getOption(method, http);
      return [rule, ...rule.additionalBindings].map((r: HttpRule, i): Binding => {
        const { case: verb, value } = r.pattern;
        if (verb === undefined || verb === "custom") throw new Error(`${method.name}: unexpected pattern ${verb ?? "unset"}`);
        const operationId = `${method.parent.name}_${method.name}${i > 0 ? `_${i + 1}` : ""}`;
        return { method, verb, template: value, body: r.body, operationId };
      });
    });
}

/** The document's path of the same shape as a template (variables' names are the document's choice). */
function pathFor(template: string): string {
  const shape = (p: string): string => p.replace(/\{[^}]*\}/g, "{}");
  const found = Object.keys(paths).filter((p) => shape(p) === shape(template));
  expect(found, template).toHaveLength(1);
  return found[0]!;
}

function operations(): [string, string, Json][] {
  return Object.entries(paths).flatMap(([path, item]) => Object.entries(item).map(([verb, op]): [string, string, Json] => [path, verb, op]));
}

function parameterRefs(op: Json): string[] {
  return (op.parameters as Json[]).flatMap((p) => (typeof p.$ref === "string" ? [p.$ref] : []));
}

/**
 * The rules of OpenAPI 3.1 that its JSON Schema cannot express, which swagger-parser v13 checks for Swagger 2.0
 * only: each path's `{variables}` declared as required path parameters (and no others), operation ids unique,
 * no two paths that differ only in variable names.
 */
function specViolations(api: Json): string[] {
  const found: string[] = [];
  const components = (api.components ?? {}) as { parameters?: Record<string, Json> };
  const resolve = (p: Json): Json => (typeof p.$ref === "string" ? (components.parameters?.[p.$ref.replace("#/components/parameters/", "")] ?? {}) : p);
  const ids = new Set<string>();
  const shapes = new Set<string>();
  for (const [path, item] of Object.entries(api.paths as Record<string, Record<string, Json>>)) {
    const shape = path.replace(/\{[^}]*\}/g, "{}");
    if (shapes.has(shape)) found.push(`${path}: another path has the same shape`);
    shapes.add(shape);
    const variables = [...path.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]!);
    for (const [verb, op] of Object.entries(item)) {
      if (verb === "parameters") continue;
      const declared = [...((item.parameters ?? []) as Json[]), ...((op.parameters ?? []) as Json[])].map(resolve).filter((p) => p.in === "path");
      for (const v of variables)
        if (!declared.some((p) => p.name === v && p.required === true)) found.push(`${verb} ${path}: {${v}} is not a required path parameter`);
      for (const p of declared) if (!variables.includes(p.name as string)) found.push(`${verb} ${path}: path parameter ${String(p.name)} is not in the path`);
      const id = op.operationId as string;
      if (ids.has(id)) found.push(`${verb} ${path}: operationId ${id} is used twice`);
      ids.add(id);
    }
  }
  return found;
}

/** swagger-parser's validation (on a deep copy: it dereferences in place) and the rules it skips for 3.x. */
async function validate(api: Json): Promise<void> {
  await SwaggerParser.validate(structuredClone(api) as Document);
  const violations = specViolations(api);
  if (violations.length > 0) throw new Error(`OpenAPI rules broken:\n${violations.join("\n")}`);
}

const isWrite = (method: DescMethod): boolean => method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;

describe("the generated OpenAPI document", () => {
  it("passes the OpenAPI 3.1 validator", async () => {
    expect(doc.openapi).toBe("3.1.0");
    await expect(validate(doc)).resolves.toBeUndefined();
  });

  it("is rejected by the validator with a dangling $ref, so the validation can fail", async () => {
    const broken = structuredClone(doc) as { paths: Record<string, Record<string, Json>> };
    const ok = broken.paths["/api/v1/work/capacity/{id}"]!.get!.responses as Record<string, Json>;
    ok["200"] = { description: "OK.", content: { "application/json": { schema: { $ref: "#/components/schemas/work.v1.NoSuchMessage" } } } };
    await expect(validate(broken)).rejects.toThrow(/NoSuchMessage/);
  });

  it("is rejected when a path parameter is not declared (a rule swagger-parser skips for 3.x)", async () => {
    const broken = structuredClone(doc) as { paths: Record<string, Record<string, Json>> };
    const get = broken.paths["/api/v1/work/capacity/{id}"]!.get!;
    get.parameters = (get.parameters as Json[]).filter((p) => p.in !== "path");
    await expect(validate(broken)).rejects.toThrow("get /api/v1/work/capacity/{id}: {id} is not a required path parameter");
  });

  it("is rejected when an operation id repeats or two paths differ only in variable names", async () => {
    const twice = structuredClone(doc) as { paths: Record<string, Record<string, Json>> };
    twice.paths["/api/v1/work/capacity/{id}"]!.delete!.operationId = "CapacityService_GetCapacity";
    await expect(validate(twice)).rejects.toThrow("operationId CapacityService_GetCapacity is used twice");
    const renamed = structuredClone(doc) as { paths: Record<string, Record<string, Json>> };
    renamed.paths["/api/v1/work/capacity/{capacity.id}"] = renamed.paths["/api/v1/work/capacity/{id}"]!;
    await expect(validate(renamed)).rejects.toThrow("same shape");
  });

  it("has every google.api.http binding of the API as an operation, with its path parameters", () => {
    const all = bindings();
    expect(all.length).toBeGreaterThanOrEqual(CapacityService.methods.length + 1); // SetCapacity's PATCH is an additional binding
    for (const b of all) {
      const path = pathFor(b.template);
      const op = paths[path]![b.verb];
      expect(op, `${b.verb} ${b.template}`).toBeDefined();
      expect(op!.operationId).toBe(b.operationId);
      const declared = (op!.parameters as Json[]).filter((p) => p.in === "path");
      const inPath = [...path.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]);
      expect(declared.map((p) => p.name)).toEqual(inPath);
      expect(inPath).toHaveLength([...b.template.matchAll(/\{/g)].length);
      for (const p of declared) expect(p).toMatchObject({ required: true, schema: { type: "string" } });
      if (b.verb === "get") expect(paths[path]!.head?.operationId).toBe(`${b.operationId}_head`);
    }
    // Nothing else: every operation is a binding or a binding's HEAD.
    expect(operations().filter(([, verb]) => verb !== "head")).toHaveLength(all.length);
  });

  it("takes the request fields outside the path and the body as query parameters", () => {
    for (const b of bindings().filter((x) => x.body === "")) {
      const op = paths[pathFor(b.template)]![b.verb]!;
      const inPath = new Set([...b.template.matchAll(/\{([^}=]*)/g)].map((m) => m[1]));
      const query = (op.parameters as Json[]).filter((p) => p.in === "query").map((p) => p.name);
      const expected = b.method.input.fields.filter((f) => !inPath.has(f.name)).map((f) => f.name);
      expect(query, b.operationId).toEqual(expected);
    }
    for (const [path, verb, op] of operations()) expect(parameterRefs(op), `${verb} ${path}`).toContain("#/components/parameters/Timeout");
    const list = paths["/api/v1/work/capacity"]!.get!.parameters as Json[];
    expect(list.find((p) => p.name === "page_size")?.schema).toEqual({ type: "integer", format: "int32" });
  });

  it("gives every operation the 400/401/404/500 errors as google.rpc.Status, x-request-id and bearer JWT security", () => {
    const schemes = (doc.components as { securitySchemes: Record<string, Json> }).securitySchemes;
    expect(schemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer", bearerFormat: "JWT" });
    const responses = (doc.components as { responses: Record<string, { content: Record<string, Json> }> }).responses;
    for (const [path, verb, op] of operations()) {
      const answers = op.responses as Record<string, Json>;
      for (const status of ["400", "401", "404", "500"]) expect(answers[status], `${verb} ${path} ${status}`).toBeDefined();
      expect(op.security ?? doc.security, `${verb} ${path}`).toEqual([{ bearerAuth: [] }]);
      const success = answers["200"] ?? answers["201"];
      expect((success?.headers as Json)["x-request-id"]).toBeDefined();
      if (verb === "head") continue;
      const ref = (answers["404"]!.$ref as string).replace("#/components/responses/", "");
      expect(responses[ref]!.content["application/json"]).toEqual({ schema: { $ref: "#/components/schemas/google.rpc.Status" } });
    }
  });

  it("declares If-Match on writes with an etag and Idempotency-Key on writes with a request_id", () => {
    const seen: string[] = [];
    for (const b of bindings()) {
      const op = paths[pathFor(b.template)]![b.verb]!;
      const bodyMessage = b.method.input.fields.find((f) => f.name === b.body)?.message;
      const etag = b.method.input.fields.some((f) => f.name === "etag") || (bodyMessage?.fields.some((f) => f.name === "etag") ?? false);
      const requestId = b.method.input.fields.some((f) => f.name === "request_id");
      const refs = parameterRefs(op);
      expect(refs.includes("#/components/parameters/IfMatch"), `${b.operationId} If-Match`).toBe(isWrite(b.method) && etag);
      expect(refs.includes("#/components/parameters/IdempotencyKey"), `${b.operationId} Idempotency-Key`).toBe(isWrite(b.method) && requestId);
      expect((op.responses as Json)["412"] !== undefined).toBe(isWrite(b.method) && etag);
      if (refs.includes("#/components/parameters/IdempotencyKey")) seen.push(b.operationId);
    }
    expect(seen).toEqual([
      "CapacityService_SetCapacity",
      "CapacityService_SetCapacity_2",
      "WorkingTimeService_SetWorkSchedule",
      "WorkingTimeService_SetWorkSchedule_2",
      "WorkingTimeService_SetHolidayCalendar",
      "WorkingTimeService_SetHolidayCalendar_2",
      "WorkingTimeService_SetHolidays",
      "WorkingTimeService_SetTimeOff",
      "WorkingTimeService_SetTimeOff_2",
    ]);
    const parameters = (doc.components as { parameters: Record<string, Json> }).parameters;
    expect(parameters.IfMatch).toMatchObject({ name: "If-Match", in: "header" });
    expect(parameters.IdempotencyKey).toMatchObject({ name: "Idempotency-Key", in: "header" });
  });

  it("answers SetCapacity's create 201 with Location, and records with an ETag", () => {
    const create = paths["/api/v1/work/capacity"]!.post!.responses as Record<string, Json>;
    // 200 too: a body with an id updates, validate_only writes nothing; neither has a Location.
    expect(Object.keys(create["200"]!.headers as Json)).toEqual(["x-request-id", "ETag"]);
    expect(Object.keys(create["201"]!.headers as Json)).toEqual(["x-request-id", "ETag", "Location"]);
    const get = paths["/api/v1/work/capacity/{id}"]!.get!.responses as Record<string, Json>;
    expect(Object.keys(get["200"]!.headers as Json)).toEqual(["x-request-id", "ETag"]);
    expect(get["304"]).toMatchObject({ description: expect.stringMatching(/If-None-Match/) as unknown });
    const list = paths["/api/v1/work/capacity"]!.get!.responses as Record<string, Json>;
    expect(Object.keys(list["200"]!.headers as Json)).toEqual(["x-request-id"]);
  });

  it("names component schemas by proto name with the proto3 JSON mapping of their fields", () => {
    const schemas = (doc.components as { schemas: Record<string, { properties?: Record<string, Json>; required?: string[] }> }).schemas;
    const capacity = schemas["work.v1.Capacity"]!.properties!;
    expect(capacity.id).toMatchObject({ type: "string", readOnly: true });
    expect(capacity.etag!.readOnly).toBeUndefined(); // "Output only on reads; optional on writes."
    expect(capacity.createdAt).toMatchObject({ type: "string", format: "date-time", readOnly: true });
    expect(capacity.allocatedPct).toMatchObject({ type: "number", format: "double" });
    expect(capacity.sourceType).toMatchObject({ $ref: "#/components/schemas/work.v1.SourceType" });
    expect(capacity.period_start).toBeUndefined();
    expect(schemas["work.v1.SourceType"]).toMatchObject({ type: "string", enum: expect.arrayContaining(["SOURCE_TYPE_API"]) as unknown });
    // Sent by clients: nothing is required. Only answered: what the server always emits, not optional fields.
    expect(schemas["work.v1.Capacity"]!.required).toBeUndefined();
    expect(schemas["work.v1.PersonAvailability"]!.required).toContain("countedDays");
    expect(schemas["work.v1.PersonAvailability"]!.required).not.toContain("meetsMinAvailable");
    expect(schemas["google.rpc.RetryInfo"]!.properties!.retryDelay).toMatchObject({ type: "string" });
    expect(Object.keys(schemas)).toEqual(expect.arrayContaining(["google.rpc.BadRequest", "google.rpc.ErrorInfo", "google.rpc.PreconditionFailure"]));
  });

  it("is pretty-printed with two spaces and a trailing newline", () => {
    expect(readFileSync(FILE, "utf8")).toBe(`${JSON.stringify(doc, null, 2)}\n`);
  });
});

describe("openApiDocument", () => {
  it("returns the generated file's bytes, read once", () => {
    const first = openApiDocument();
    expect(first.equals(readFileSync(FILE))).toBe(true);
    expect(openApiDocument()).toBe(first);
  });
});
