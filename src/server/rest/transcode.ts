/**
 * An HTTP request as the request message of its RPC (google.api.http
 * semantics): path variables, then the body (the whole request, or one field
 * of it), then query parameters for every other field. Everything is first
 * assembled as proto-JSON and then parsed once by protobuf-es, so the body
 * follows the proto3 JSON mapping exactly (lowerCamel and original names
 * accepted, unknown fields refused). Every refusal is an InvalidArgumentError
 * naming the parameter, so nothing reaches the service half-read.
 */
import { create, fromJson, getOption, ScalarType, type DescField, type DescMessage, type JsonObject, type JsonValue, type Message } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { InvalidArgumentError } from "../../domain/errors.js";
import { field_behavior, FieldBehavior } from "../../gen/google/api/field_behavior_pb.js";
import type { Binding } from "./bindings.js";
import type { PathMatch } from "./template.js";

/** Query parameters that are not request fields: the call's deadline. */
const RESERVED_QUERY = new Set(["timeout"]);

/** What the transcoder takes from one HTTP request. */
export interface RestInput {
  path: PathMatch;
  query: URLSearchParams;
  /** The parsed JSON body; undefined when the binding takes none or none was sent. */
  body: JsonValue | undefined;
  /** The entity tag of `If-Match` (unquoted), when the request sent one that names a single strong tag. */
  ifMatch: string | undefined;
  /** `Idempotency-Key`, when sent. */
  idempotencyKey: string | undefined;
}

function invalid(field: string, description: string): InvalidArgumentError {
  return new InvalidArgumentError([{ field, description }]);
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A field's value in a JSON object, under its JSON name or its proto name. */
function jsonGet(obj: JsonObject, field: DescField): JsonValue | undefined {
  return obj[field.jsonName] ?? obj[field.name];
}

/** Sets a field in a JSON object under its JSON name, dropping a value given under the proto name. */
function jsonSet(obj: JsonObject, field: DescField, value: JsonValue): void {
  if (field.name !== field.jsonName) delete obj[field.name];
  obj[field.jsonName] = value;
}

/** The field a dotted query name names (each link by proto or JSON name), or undefined. */
function resolveQueryField(message: DescMessage, name: string): DescField[] | undefined {
  const chain: DescField[] = [];
  let current: DescMessage | undefined = message;
  for (const part of name.split(".")) {
    const field: DescField | undefined = current?.fields.find((f) => f.name === part || f.jsonName === part);
    if (!field) return undefined;
    chain.push(field);
    current = field.fieldKind === "message" && !isWellKnownScalar(field.message) ? field.message : undefined;
  }
  return chain;
}

/** Messages that travel as one JSON string: they can be query values. */
function isWellKnownScalar(message: DescMessage): boolean {
  return ["google.protobuf.FieldMask", "google.protobuf.Timestamp", "google.protobuf.Duration"].includes(message.typeName);
}

const INT32 = new Set([ScalarType.INT32, ScalarType.SINT32, ScalarType.SFIXED32, ScalarType.UINT32, ScalarType.FIXED32]);
const FLOAT = new Set([ScalarType.DOUBLE, ScalarType.FLOAT]);

/**
 * A field mask as a query value: comma-separated paths, each in proto naming
 * (`allocated_pct`) or lowerCamel (`allocatedPct`, turned into proto naming
 * when it has a capital and no underscore). Anything else is kept as sent, so
 * the service names an unknown path exactly as the caller wrote it.
 */
function maskPaths(raw: string): string[] {
  return raw
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "")
    .map((p) => (/[A-Z]/.test(p) && !p.includes("_") ? p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : p));
}

function isFieldMask(field: DescField): boolean {
  return field.fieldKind === "message" && field.message.typeName === "google.protobuf.FieldMask";
}

/** One query value in its proto-JSON form for `field` (a scalar, an enum, or a well-known string message). */
function queryJson(name: string, field: DescField, raw: string): JsonValue {
  const kind = field.fieldKind === "list" ? field.listKind : field.fieldKind;
  if (kind === "enum") {
    const values = (field.fieldKind === "list" ? field.enum! : (field as DescField & { fieldKind: "enum" }).enum).values;
    const value = values.find((v) => v.name === raw || String(v.number) === raw);
    if (!value) throw invalid(name, `must be one of ${values.map((v) => v.name).join(", ")}`);
    return value.name;
  }
  // Timestamp and Duration: their JSON form is the string as sent.
  if (kind === "message") return raw;
  const scalar = field.fieldKind === "scalar" ? field.scalar : field.fieldKind === "list" ? field.scalar! : undefined;
  if (scalar === ScalarType.BOOL) {
    if (raw === "true" || raw === "false") return raw === "true";
    throw invalid(name, "must be true or false");
  }
  if (scalar !== undefined && INT32.has(scalar)) {
    const unsigned = scalar === ScalarType.UINT32 || scalar === ScalarType.FIXED32;
    const n = /^-?\d{1,10}$/.test(raw) ? Number(raw) : NaN;
    if (!(n >= (unsigned ? 0 : -(2 ** 31)) && n <= (unsigned ? 2 ** 32 - 1 : 2 ** 31 - 1))) throw invalid(name, "must be a 32-bit integer");
    return n;
  }
  if (scalar !== undefined && FLOAT.has(scalar)) {
    const n = raw.trim() === "" ? NaN : Number(raw);
    if (!Number.isFinite(n)) throw invalid(name, "must be a number");
    return n;
  }
  return raw;
}

/** Can a query parameter set this field? (Scalars, enums, their lists, and FieldMask / Timestamp / Duration.) */
function settableFromQuery(field: DescField): boolean {
  if (field.fieldKind === "scalar" || field.fieldKind === "enum") return true;
  if (field.fieldKind === "list") return field.listKind !== "message" || isWellKnownScalar(field.message);
  return field.fieldKind === "message" && isWellKnownScalar(field.message);
}

/** The object at `chain` (all but the last link) inside `root`, created on the way. */
function parentObject(root: JsonObject, chain: DescField[], name: string): JsonObject {
  let obj = root;
  for (const link of chain.slice(0, -1)) {
    const next = jsonGet(obj, link);
    if (next === undefined || next === null) {
      const created: JsonObject = {};
      jsonSet(obj, link, created);
      obj = created;
    } else if (isObject(next)) {
      obj = next;
    } else {
      throw invalid(name, `${link.name} is not an object`);
    }
  }
  return obj;
}

/** The top-level request field named `name` that is a scalar, or undefined. */
function topScalar(message: DescMessage, name: string): DescField | undefined {
  return message.fields.find((f) => f.name === name && f.fieldKind === "scalar");
}

/** The request field an `If-Match` header sets: `etag` of the request, else of the body message. */
function etagField(binding: Binding): DescField[] | undefined {
  const input = binding.served.method.input;
  const top = topScalar(input, "etag");
  if (top) return [top];
  if (binding.body !== "" && binding.body !== "*" && binding.body.fieldKind === "message") {
    const inner = topScalar(binding.body.message, "etag");
    if (inner) return [binding.body, inner];
  }
  return undefined;
}

/** Sets a header-given value on a scalar field chain; a different value already there is a conflict. */
function setFromHeader(root: JsonObject, chain: DescField[], value: string, header: string): void {
  const parent = parentObject(root, chain, header);
  const field = chain[chain.length - 1]!;
  const present = jsonGet(parent, field);
  if (present !== undefined && present !== "" && present !== value) {
    throw invalid(header, `differs from ${chain.map((f) => f.name).join(".")} in the request; send one of them`);
  }
  jsonSet(parent, field, value);
}

/**
 * A PATCH without `update_mask` updates the fields its body names (AIP-134,
 * as grpc-gateway does): the mask is the body's keys, less the fields the
 * contract marks OUTPUT_ONLY or IDENTIFIER and the etag (a precondition, not
 * a change), so a record read and sent back changes only what it can. A body
 * that names no such field is refused: an empty mask would mean "replace
 * every field". `update_mask=*` asks for the replacement explicitly.
 */
function inferMask(binding: Binding, body: JsonValue | undefined, masks: Array<{ chain: DescField[]; paths: string[] }>): void {
  const maskField = binding.served.method.input.fields.find((f) => f.name === "update_mask" && isFieldMask(f));
  if (!maskField || binding.body === "" || binding.body === "*" || binding.body.fieldKind !== "message" || !isObject(body)) return;
  const message = binding.body.message;
  const paths: string[] = [];
  for (const key of Object.keys(body)) {
    const field = message.fields.find((f) => f.jsonName === key || f.name === key);
    if (!field) continue; // parsing names the unknown key
    const behavior = getOption(field, field_behavior);
    if (behavior.includes(FieldBehavior.OUTPUT_ONLY) || behavior.includes(FieldBehavior.IDENTIFIER) || field.name === "etag") continue;
    if (!paths.includes(field.name)) paths.push(field.name);
  }
  if (paths.length === 0) throw invalid(binding.body.name, "names no field to change (send update_mask=* to replace every field)");
  masks.push({ chain: [maskField], paths });
}

/** The request message of `binding` for one HTTP request. */
export function requestMessage(binding: Binding, input: RestInput): Message {
  const method = binding.served.method;
  let root: JsonObject = {};
  if (binding.body === "*") {
    if (input.body !== undefined && !isObject(input.body)) throw invalid("body", `must be a JSON object (${method.input.typeName})`);
    root = input.body ?? {};
  } else if (binding.body !== "" && input.body !== undefined) {
    if (binding.body.fieldKind === "message" && !isObject(input.body)) throw invalid(binding.body.name, "the body must be a JSON object");
    root[binding.body.jsonName] = input.body;
  }

  for (const [variable, chain] of binding.pathFields) {
    const value = input.path.get(variable)!;
    const parent = parentObject(root, chain, variable);
    const field = chain[chain.length - 1]!;
    const inBody = jsonGet(parent, field);
    if (inBody !== undefined && inBody !== "" && inBody !== value) {
      throw invalid(variable, `the body says ${JSON.stringify(inBody)} but the path says ${JSON.stringify(value)}`);
    }
    jsonSet(parent, field, value);
  }

  const seen = new Set<string>();
  const masks: Array<{ chain: DescField[]; paths: string[] }> = [];
  for (const name of new Set(input.query.keys())) {
    if (RESERVED_QUERY.has(name)) continue;
    const chain = resolveQueryField(method.input, name);
    if (!chain) throw invalid(name, `unknown query parameter: ${method.input.typeName} has no such field`);
    const field = chain[chain.length - 1]!;
    const dotted = chain.map((f) => f.name).join(".");
    if (seen.has(dotted)) throw invalid(name, "given twice (under both names)");
    seen.add(dotted);
    if (binding.body === "*" || (binding.body !== "" && chain[0] === binding.body)) {
      throw invalid(name, "is part of the request body; send it there");
    }
    if ([...binding.pathFields.values()].some((p) => p.length <= chain.length && p.every((f, i) => f === chain[i]))) {
      throw invalid(name, "is set by the path");
    }
    if (!settableFromQuery(field)) throw invalid(name, "cannot be set from the query string");
    const values = input.query.getAll(name);
    if (isFieldMask(field)) {
      // Set on the message after parsing: FieldMask's JSON form cannot carry every path a caller may send.
      if (values.length > 1) throw invalid(name, "given more than once");
      masks.push({ chain, paths: maskPaths(values[0]!) });
      continue;
    }
    const parent = parentObject(root, chain, name);
    if (field.fieldKind === "list") {
      jsonSet(
        parent,
        field,
        values.map((v) => queryJson(name, field, v)),
      );
    } else {
      if (values.length > 1) throw invalid(name, "given more than once");
      jsonSet(parent, field, queryJson(name, field, values[0]!));
    }
  }

  if (binding.httpMethod === "PATCH" && masks.length === 0) inferMask(binding, input.body, masks);

  if (input.ifMatch !== undefined) {
    const chain = etagField(binding);
    if (chain) setFromHeader(root, chain, input.ifMatch, "If-Match");
  }
  if (input.idempotencyKey !== undefined) {
    const field = topScalar(method.input, "request_id");
    if (field) setFromHeader(root, [field], input.idempotencyKey, "Idempotency-Key");
  }

  let message: Message;
  try {
    message = fromJson(method.input, root, { ignoreUnknownFields: false });
  } catch (err) {
    // protobuf-es names the field and the value it could not read.
    throw invalid(binding.body === "" ? "query" : "body", err instanceof Error ? err.message : String(err));
  }
  for (const { chain, paths } of masks) {
    let target = message as unknown as Record<string, unknown>;
    for (const link of chain.slice(0, -1)) {
      const next = target[link.localName] as Record<string, unknown> | undefined;
      if (next === undefined) {
        if (link.fieldKind !== "message") throw new Error(`${link.name} is not a message`);
        const created = create(link.message);
        target[link.localName] = created;
        target = created;
      } else target = next;
    }
    target[chain[chain.length - 1]!.localName] = create(FieldMaskSchema, { paths });
  }
  return message;
}
