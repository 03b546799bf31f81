/**
 * OpenAPI operations of HTTP bindings, as the server's transcoder serves them: path variables, query
 * parameters for the request fields outside the path and the body, the conditional and idempotency headers,
 * 200 (201 with Location for a create), and the errors as `google.rpc.Status` bodies under grpc-gateway's
 * mapping of codes to statuses.
 */
import type { DescField, DescMessage } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { commentOf, summaryOf } from "./comments.js";
import { fieldAt, type Binding, type HttpMethod } from "./http-rules.js";
import { scalarSchema, type JsonSchema, type SchemaSet } from "./schemas.js";

/** An operation and where it goes in `paths`. */
export interface PlacedOperation {
  path: string;
  verb: HttpMethod;
  operation: JsonSchema;
}

interface ErrorStatus {
  status: string;
  name: string;
  text: string;
}

/** The error answers, by HTTP status (grpc-gateway's mapping of gRPC codes). */
export const ERROR_STATUSES: ErrorStatus[] = [
  {
    status: "400",
    name: "BadRequest",
    text: "INVALID_ARGUMENT, FAILED_PRECONDITION or OUT_OF_RANGE: a malformed request (a field that breaks its rule, named in a `google.rpc.BadRequest` detail; an unknown query parameter) or a record whose state does not allow the call.",
  },
  { status: "401", name: "Unauthenticated", text: "UNAUTHENTICATED: the bearer token is missing or invalid." },
  { status: "403", name: "PermissionDenied", text: "PERMISSION_DENIED: the token does not allow the call." },
  { status: "404", name: "NotFound", text: "NOT_FOUND: no such record in the caller's tenant." },
  { status: "409", name: "Conflict", text: "ALREADY_EXISTS or ABORTED: the call conflicts with the record's current state." },
  { status: "412", name: "PreconditionFailed", text: "The etag sent (`If-Match` or the `etag` field) no longer matches the record's; nothing was written." },
  {
    status: "429",
    name: "TooManyRequests",
    text: "RESOURCE_EXHAUSTED: a rate limit of the caller's tenant or app (a `google.rpc.RetryInfo` detail says when to retry) or an answer over the server's response cap.",
  },
  { status: "500", name: "Internal", text: "INTERNAL: a server fault; the message carries a correlation id that the server's log also carries." },
  { status: "503", name: "Unavailable", text: "UNAVAILABLE: the database cannot be reached; safe to retry." },
  { status: "504", name: "DeadlineExceeded", text: "DEADLINE_EXCEEDED: the call's deadline (`timeout`) passed." },
];

const STATUS_REF = { $ref: "#/components/schemas/google.rpc.Status" };

/** The parameters, headers, error responses and security scheme that operations refer to. */
export function sharedComponents(): Record<string, Record<string, JsonSchema>> {
  return {
    parameters: {
      IdempotencyKey: {
        name: "Idempotency-Key",
        in: "header",
        description:
          "A UUID naming this request, the same as `request_id`: a retry with the same key and the same request returns the first result without writing again.",
        schema: { type: "string", format: "uuid" },
      },
      IfMatch: {
        name: "If-Match",
        in: "header",
        description: "The record's etag as last read (the `ETag` header or the `etag` field): the write happens only if it still matches, else 412.",
        schema: { type: "string" },
      },
      Timeout: {
        name: "timeout",
        in: "query",
        description: "The call's deadline: a number and a unit, e.g. `2s` or `1500ms`. Past it the call fails with 504.",
        schema: { type: "string" },
        example: "2s",
      },
    },
    headers: {
      ETag: { description: "The record's current etag, to send back in `If-Match`.", schema: { type: "string" } },
      Location: { description: "The URL of the created record.", schema: { type: "string", format: "uri-reference" } },
      RequestId: { description: "An id for this request, also in the server's log.", schema: { type: "string" } },
    },
    responses: Object.fromEntries(
      ERROR_STATUSES.map((e) => [
        e.name,
        {
          description: e.text,
          headers: { "x-request-id": { $ref: "#/components/headers/RequestId" } },
          content: { "application/json": { schema: STATUS_REF } },
        },
      ]),
    ),
    securitySchemes: {
      bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "`Authorization: Bearer <JWT>`; the token names the tenant." },
    },
  };
}

/** The binding's operation, and for a GET also its HEAD twin. */
export function operationsOf(binding: Binding, schemas: SchemaSet): PlacedOperation[] {
  const { method, template, body } = binding;
  const where = `${method.parent.typeName}.${method.name}`;
  const input = method.input;
  const write = method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
  const bodyField = body === "" || body === "*" ? undefined : input.fields.find((f) => f.name === body);
  const pathBound = new Set(template.variables);

  const parameters: JsonSchema[] = template.variables.map((variable) => {
    const multi = template.segments.some((s) => s.kind === "wildcard" && s.variable === variable && s.multi);
    const notes = [commentOf(fieldAt(input, variable, where)), multi ? "May span several segments, `/` included." : ""];
    return { name: variable, in: "path", required: true, description: notes.filter((n) => n).join("\n\n"), schema: { type: "string" } };
  });
  if (body !== "*") {
    for (const field of input.fields) {
      if (pathBound.has(field.name) || field === bodyField) continue;
      if (field.name === "timeout") throw new Error(`${where}: request field timeout collides with the timeout query parameter`);
      const param = queryParameter(field, schemas);
      if (param) parameters.push(param);
    }
  }
  parameters.push({ $ref: "#/components/parameters/Timeout" });
  const ifMatch = write && (hasField(input, "etag") || (bodyField?.message !== undefined && hasField(bodyField.message, "etag")));
  if (ifMatch) parameters.push({ $ref: "#/components/parameters/IfMatch" });
  if (write && hasField(input, "request_id")) parameters.push({ $ref: "#/components/parameters/IdempotencyKey" });

  const comment = commentOf(method);
  const operationId = `${method.parent.name}_${method.name}${binding.index > 0 ? `_${binding.index + 1}` : ""}`;
  const operation: JsonSchema = { tags: [method.parent.name], summary: summaryOf(comment), description: comment, operationId, parameters };
  if (body === "*") {
    operation.requestBody = requestBody(schemas.object(input, new Set(template.variables)), commentOf(input));
  } else if (bodyField) {
    operation.requestBody = requestBody(schemas.value(bodyField), commentOf(bodyField));
  }

  const created = binding.verb === "post" && template.variables.length === 0 && write;
  const responseField = binding.responseBody === "" ? undefined : method.output.fields.find((f) => f.name === binding.responseBody);
  const answered = responseField ? responseField.message : method.output;
  const headers: JsonSchema = { "x-request-id": { $ref: "#/components/headers/RequestId" } };
  if (answered && hasField(answered, "etag")) headers.ETag = { $ref: "#/components/headers/ETag" };
  if (created) headers.Location = { $ref: "#/components/headers/Location" };
  const schema = responseField ? schemas.value(responseField) : schemas.message(method.output);
  const errors = ERROR_STATUSES.filter((e) => (e.status !== "409" || write) && (e.status !== "412" || ifMatch));

  const { Location: _location, ...plainHeaders } = headers;
  operation.responses = {
    ...(created
      ? {
          "201": { description: "Created.", headers, content: { "application/json": { schema } } },
          "200": {
            description: "OK: the body named an existing record (an update), or validate_only returned the would-be result without writing.",
            headers: plainHeaders,
            content: { "application/json": { schema } },
          },
        }
      : { "200": { description: "OK.", headers, content: { "application/json": { schema } } } }),
    ...(binding.verb === "get" && headers.ETag ? { "304": { description: "Not Modified: If-None-Match names the current ETag.", headers } } : {}),
    ...Object.fromEntries(errors.map((e) => [e.status, { $ref: `#/components/responses/${e.name}` }])),
  };
  const placed: PlacedOperation[] = [{ path: binding.path, verb: binding.verb, operation }];
  if (binding.verb === "get") {
    // HEAD answers what GET would, without a body.
    const head: JsonSchema = {
      ...operation,
      summary: `${summaryOf(comment)} Headers only.`,
      operationId: `${operationId}_head`,
      responses: {
        "200": { description: "OK; the body GET would return is left out.", headers },
        ...Object.fromEntries(errors.map((e) => [e.status, { description: e.text, headers: { "x-request-id": { $ref: "#/components/headers/RequestId" } } }])),
      },
    };
    placed.push({ path: binding.path, verb: "head", operation: head });
  }
  return placed;
}

/** A path with its variables' names left out: two paths of one shape are the same path to OpenAPI. */
export function pathShape(path: string): string {
  return path.replace(/\{[^}]*\}/g, "{}");
}

/** The operation placed at `path` (of the same shape as its own), its path parameters renamed position by position. */
export function renamePathVariables(placed: PlacedOperation, path: string): JsonSchema {
  const names = (p: string): string[] => [...p.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]!);
  const from = names(placed.path);
  const to = names(path);
  const parameters = (placed.operation.parameters as JsonSchema[]).map((param) => {
    const index = param.in === "path" ? from.indexOf(param.name as string) : -1;
    if (index < 0) return param;
    return { ...param, name: to[index], description: `${param.description as string}\n\nSets the request's \`${from[index]}\`.` };
  });
  return { ...placed.operation, parameters };
}

function requestBody(schema: JsonSchema, description: string): JsonSchema {
  return { description, required: true, content: { "application/json": { schema } } };
}

function hasField(message: DescMessage, name: string): boolean {
  return message.fields.some((f) => f.name === name);
}

/** A request field as a query parameter: scalars, enums, lists of them (repeated parameters), field masks. */
function queryParameter(field: DescField, schemas: SchemaSet): JsonSchema | undefined {
  let schema: JsonSchema;
  let repeated = false;
  if (field.fieldKind === "scalar") {
    schema = scalarSchema(field.scalar);
  } else if (field.fieldKind === "enum") {
    schema = schemas.enumeration(field.enum);
  } else if (field.fieldKind === "list" && field.listKind !== "message") {
    schema = { type: "array", items: field.listKind === "enum" ? schemas.enumeration(field.enum) : scalarSchema(field.scalar) };
    repeated = true;
  } else if (field.fieldKind === "message" && field.message.typeName === "google.protobuf.FieldMask") {
    schema = schemas.message(field.message);
  } else {
    return undefined; // other messages and maps have no query form
  }
  const { description: note, ...bare } = schema;
  const description = [commentOf(field), typeof note === "string" ? note : ""].filter((n) => n).join("\n\n");
  const param: JsonSchema = { name: field.name, in: "query", description, schema: bare };
  if (repeated) Object.assign(param, { style: "form", explode: true });
  return param;
}
