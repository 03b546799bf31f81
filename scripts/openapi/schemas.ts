/**
 * JSON Schemas of proto messages and enums in the proto3 JSON mapping, as OpenAPI 3.1 components named by
 * full proto name (`work.v1.Capacity`): lowerCamel property names, int64 kinds as strings, enums as their
 * value names, well-known types in their JSON forms (inline, never components).
 */
import { ScalarType, type DescEnum, type DescField, type DescMessage, type Registry } from "@bufbuild/protobuf";
import { FeatureSet_FieldPresence } from "@bufbuild/protobuf/wkt";
import { commentOf, isOutputOnly } from "./comments.js";

/** A JSON Schema (OpenAPI 3.1 Schema Object) as plain JSON. */
export type JsonSchema = { [key: string]: unknown };

/** The `google.rpc.Status.details` the server sends; each becomes a component and a variant of the details' items. */
export const DETAIL_TYPES = ["google.rpc.BadRequest", "google.rpc.ErrorInfo", "google.rpc.RetryInfo", "google.rpc.PreconditionFailure"];

const TYPE_URL_PREFIX = "type.googleapis.com/";

const WELL_KNOWN: Record<string, JsonSchema> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time", description: "An RFC 3339 date-time in UTC, e.g. `2027-01-31T09:30:00Z`." },
  "google.protobuf.Duration": {
    type: "string",
    pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$",
    description: 'Seconds with up to nine fractional digits and the suffix `s`, e.g. `"1.5s"`.',
  },
  "google.protobuf.FieldMask": { type: "string", description: "Comma-separated field paths in lowerCamel, e.g. `notes,allocatedPct`." },
  "google.protobuf.Any": {
    type: "object",
    properties: { "@type": { type: "string", description: "The type URL, e.g. `type.googleapis.com/google.rpc.BadRequest`." } },
    required: ["@type"],
    additionalProperties: true,
    description: "A message of the type `@type` names, its fields beside `@type`.",
  },
  "google.protobuf.Struct": { type: "object", additionalProperties: true },
  "google.protobuf.Value": { description: "Any JSON value." },
  "google.protobuf.ListValue": { type: "array", items: {} },
  "google.protobuf.Empty": { type: "object" },
  "google.protobuf.DoubleValue": { type: ["number", "null"], format: "double" },
  "google.protobuf.FloatValue": { type: ["number", "null"], format: "float" },
  "google.protobuf.Int64Value": { type: ["string", "null"], format: "int64" },
  "google.protobuf.UInt64Value": { type: ["string", "null"], format: "uint64" },
  "google.protobuf.Int32Value": { type: ["integer", "null"], format: "int32" },
  "google.protobuf.UInt32Value": { type: ["integer", "null"], format: "uint32" },
  "google.protobuf.BoolValue": { type: ["boolean", "null"] },
  "google.protobuf.StringValue": { type: ["string", "null"] },
  "google.protobuf.BytesValue": { type: ["string", "null"], format: "byte" },
};

/** The proto3 JSON form of a scalar. */
export function scalarSchema(scalar: ScalarType): JsonSchema {
  switch (scalar) {
    case ScalarType.DOUBLE:
      return { type: "number", format: "double" };
    case ScalarType.FLOAT:
      return { type: "number", format: "float" };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "uint32", minimum: 0 };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return { type: "string", format: "int64" };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { type: "string", format: "uint64" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BYTES:
      return { type: "string", format: "byte" };
  }
}

/** Whether the server's JSON always carries the field: implicit presence (defaults are emitted), lists and maps. */
function alwaysEmitted(field: DescField): boolean {
  if (field.fieldKind === "list" || field.fieldKind === "map") return true;
  if (field.fieldKind === "message") return false;
  return field.presence === FeatureSet_FieldPresence.IMPLICIT;
}

/** Full names of the messages (not well-known types) reachable from the given ones, the roots included. */
export function reachableMessages(roots: Iterable<DescMessage>): Set<string> {
  const seen = new Set<string>();
  const visit = (desc: DescMessage): void => {
    if (seen.has(desc.typeName) || desc.typeName in WELL_KNOWN) return;
    seen.add(desc.typeName);
    for (const field of desc.fields) if (field.message) visit(field.message);
  };
  for (const root of roots) visit(root);
  return seen;
}

/**
 * The document's component schemas, built on first reference. `requestSide` names the messages a client sends
 * (reachable from a request body): the same schema serves both directions, so those list no `required` fields
 * (a client may omit any of them); messages only ever answered list every field the server always emits.
 */
export class SchemaSet {
  private readonly built = new Map<string, JsonSchema>();

  constructor(
    private readonly registry: Registry,
    private readonly requestSide: ReadonlySet<string>,
  ) {}

  /** A `$ref` to the message's component (built with everything it reaches), or a well-known type's inline form. */
  message(desc: DescMessage): JsonSchema {
    const wellKnown = WELL_KNOWN[desc.typeName];
    if (wellKnown) return { ...wellKnown };
    if (!this.built.has(desc.typeName)) {
      this.built.set(desc.typeName, {}); // a placeholder first: a message may reach itself
      this.built.set(desc.typeName, this.object(desc, new Set()));
    }
    return ref(desc.typeName);
  }

  /** A `$ref` to the enum's component: a string enum of its value names. */
  enumeration(desc: DescEnum): JsonSchema {
    if (!this.built.has(desc.typeName)) {
      if (desc.typeName === "google.protobuf.NullValue") {
        this.built.set(desc.typeName, { type: "null" });
      } else {
        const values = desc.values.map((v) => `- \`${v.name}\`${commentOf(v) ? `: ${oneLine(commentOf(v))}` : ""}`);
        this.built.set(desc.typeName, withDescription({ type: "string", enum: desc.values.map((v) => v.name) }, [commentOf(desc), values.join("\n")]));
      }
    }
    return ref(desc.typeName);
  }

  /** The schema of a field's JSON value, without its documentation. */
  value(field: DescField): JsonSchema {
    switch (field.fieldKind) {
      case "scalar":
        return scalarSchema(field.scalar);
      case "enum":
        return this.enumeration(field.enum);
      case "message":
        return this.message(field.message);
      case "list":
        return { type: "array", items: this.element(field) };
      case "map":
        return { type: "object", additionalProperties: this.element(field) };
    }
  }

  /** A field as a property: its value's schema with the field's comment, and `readOnly` when the server sets it. */
  property(field: DescField): JsonSchema {
    const schema = this.value(field);
    const notes = [commentOf(field), typeof schema.description === "string" ? schema.description : ""];
    if (field.oneof) notes.push(`At most one of ${field.oneof.fields.map((f) => `\`${f.jsonName}\``).join(", ")} is set.`);
    const documented = withDescription(schema, notes);
    if (isOutputOnly(field)) documented.readOnly = true;
    return documented;
  }

  /** An inline object schema of a message's fields, minus `omit` (proto field names), for request bodies. */
  object(desc: DescMessage, omit: ReadonlySet<string>): JsonSchema {
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const field of desc.fields) {
      if (omit.has(field.name)) continue;
      properties[field.jsonName] = this.property(field);
      if (!this.requestSide.has(desc.typeName) && alwaysEmitted(field)) required.push(field.jsonName);
    }
    if (desc.typeName === "google.rpc.Status") properties.details = this.statusDetails(desc);
    const schema: JsonSchema = withDescription({ type: "object" }, [commentOf(desc)]);
    schema.properties = properties;
    if (required.length > 0) schema.required = required;
    return schema;
  }

  /** Every component built so far, by name. */
  components(): Record<string, JsonSchema> {
    return Object.fromEntries([...this.built.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  private element(field: DescField & { fieldKind: "list" | "map" }): JsonSchema {
    if (field.message) return this.message(field.message);
    if (field.enum) return this.enumeration(field.enum);
    return scalarSchema(field.scalar);
  }

  /** Status.details as the detail types the server sends, each an Any: the message's fields plus `@type`. */
  private statusDetails(status: DescMessage): JsonSchema {
    const field = status.fields.find((f) => f.name === "details");
    const variants = DETAIL_TYPES.map((typeName) => {
      const detail = this.registry.getMessage(typeName);
      if (!detail) throw new Error(`openapi: ${typeName} is not in the request; add google/rpc/error_details.proto to the inputs`);
      const typeUrl = { type: "object", required: ["@type"], properties: { "@type": { const: TYPE_URL_PREFIX + typeName } } };
      return { allOf: [this.message(detail), typeUrl] };
    });
    return withDescription({ type: "array", items: { oneOf: variants } }, [field ? commentOf(field) : ""]);
  }
}

function ref(typeName: string): JsonSchema {
  return { $ref: `#/components/schemas/${typeName}` };
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ");
}

function withDescription(schema: JsonSchema, notes: string[]): JsonSchema {
  const { description: _, ...rest } = schema;
  const text = [...new Set(notes.filter((n) => n !== ""))].join("\n\n");
  return text === "" ? rest : { ...rest, description: text };
}
