/**
 * The OpenAPI 3.1 document of every service (in the files to generate) that has `google.api.http` bindings:
 * info and tags from the services' comments, one operation per binding, component schemas for every message
 * reached, and a bearer JWT security scheme applied to every operation.
 */
import type { DescFile, DescMessage, DescService, Registry } from "@bufbuild/protobuf";
import { commentOf } from "./comments.js";
import { bindingsOf, HTTP_METHODS, type Binding, type HttpMethod } from "./http-rules.js";
import { ERROR_STATUSES, operationsOf, pathShape, renamePathVariables, sharedComponents } from "./operations.js";
import { reachableMessages, SchemaSet, type JsonSchema } from "./schemas.js";

const TITLE = "Capacity API";

const CONVENTIONS = `## HTTP and JSON

- Bodies use the proto3 JSON mapping: field names in lowerCamel (the proto's snake_case names are also accepted
  on input); fields without explicit presence are always emitted, defaults included; 64-bit integers are strings;
  timestamps are RFC 3339 strings; field masks are comma-separated paths; enums are their value names.
- Request fields outside the path and the body are query parameters: a repeated field as a repeated parameter,
  a field mask as \`update_mask=notes,allocatedPct\`. An unknown query parameter is 400. On every operation,
  \`timeout\` (\`2s\`, \`1500ms\`) sets the call's deadline.
- Every request carries \`Authorization: Bearer <JWT>\`; every answer carries \`x-request-id\`.
- A write whose request carries an etag also takes it as \`If-Match\` (a mismatch is 412); a write with a
  \`request_id\` also takes it as \`Idempotency-Key\`. An answer holding a record carries its \`ETag\`.
- A POST to a collection that creates a record answers 201 with \`Location\`; other calls succeed with 200.
  Every GET also answers HEAD.
- Errors carry a \`google.rpc.Status\` body: \`code\` (the gRPC code as a number), \`message\` and \`details\`, each
  detail a \`google.rpc.BadRequest\`, \`ErrorInfo\`, \`RetryInfo\` or \`PreconditionFailure\` with its \`@type\`.
  A known path with a method it does not serve answers 405.

| HTTP | meaning |
|---|---|
${ERROR_STATUSES.map((e) => `| ${e.status} | ${e.text.replaceAll("|", "\\|")} |`).join("\n")}
`;

/** The document, or undefined when no service in `files` has an HTTP binding. */
export function buildDocument(files: readonly DescFile[], registry: Registry): JsonSchema | undefined {
  const http = registry.getExtension("google.api.http");
  if (!http) return undefined;
  const served = files
    .flatMap((f) => f.services)
    .map((service) => ({ service, bindings: service.methods.flatMap((m) => bindingsOf(m, http)) }))
    .filter((s) => s.bindings.length > 0);
  if (served.length === 0) return undefined;
  const bindings = served.flatMap((s) => s.bindings);

  const schemas = new SchemaSet(registry, reachableMessages(bindings.flatMap(requestBodyMessages)));
  const paths = new Map<string, Map<HttpMethod, JsonSchema>>();
  // OpenAPI holds /a/{id} and /a/{capacity.id} to be one path: the first binding's variable names win.
  const byShape = new Map<string, string>();
  for (const placed of bindings.flatMap((b) => operationsOf(b, schemas))) {
    const shape = pathShape(placed.path);
    const path = byShape.get(shape) ?? placed.path;
    byShape.set(shape, path);
    const { verb } = placed;
    const operation = path === placed.path ? placed.operation : renamePathVariables(placed, path);
    const item = paths.get(path) ?? new Map<HttpMethod, JsonSchema>();
    if (item.has(verb)) throw new Error(`openapi: two bindings for ${verb.toUpperCase()} ${path}`);
    paths.set(path, item.set(verb, operation));
  }
  const status = registry.getMessage("google.rpc.Status");
  if (!status) throw new Error("openapi: google.rpc.Status is not in the request; add google/rpc/status.proto to the inputs");
  schemas.message(status);

  const services = served.map((s) => s.service);
  const shared = sharedComponents();
  return {
    openapi: "3.1.0",
    info: { title: TITLE, version: versionOf(services), description: `${describe(services)}\n\n${CONVENTIONS}` },
    tags: services.map((s) => ({ name: s.name, description: commentOf(s) })),
    security: [{ bearerAuth: [] }],
    paths: Object.fromEntries(
      [...paths].map(([path, item]) => [path, Object.fromEntries(HTTP_METHODS.filter((v) => item.has(v)).map((v) => [v, item.get(v)]))]),
    ),
    components: { schemas: schemas.components(), ...shared },
  };
}

/** What a client sends in bodies: the body field's message, or the whole request for `body: "*"`. */
function requestBodyMessages(binding: Binding): DescMessage[] {
  if (binding.body === "") return [];
  if (binding.body === "*") return [binding.method.input];
  const field = binding.method.input.fields.find((f) => f.name === binding.body);
  return field?.message ? [field.message] : [];
}

/** The API version: the last component of the services' package when it looks like one (`work.v1` → `v1`). */
function versionOf(services: DescService[]): string {
  const versions = services.map((s) => {
    const pkg = s.file.proto.package;
    const last = pkg.split(".").pop() ?? "";
    return /^v\d+((alpha|beta)\d*)?$/.test(last) ? last : pkg;
  });
  return [...new Set(versions)].join(", ");
}

function describe(services: DescService[]): string {
  if (services.length === 1) return commentOf(services[0]!);
  return services.map((s) => `## ${s.name}\n\n${commentOf(s)}`).join("\n\n");
}
