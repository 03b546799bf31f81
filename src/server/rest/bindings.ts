/**
 * The HTTP bindings of the served RPCs, read once at start-up from the
 * `google.api.http` options in their descriptors: the contract is the route
 * table, there is no second one written by hand.
 */
import { getOption, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { http } from "../../gen/google/api/annotations_pb.js";
import type { HttpRule } from "../../gen/google/api/http_pb.js";
import type { ServedMethod } from "../routes.js";
import { parseTemplate, type PathTemplate } from "./template.js";

/** HTTP methods a binding can name (google.api.HttpRule's pattern, less `custom`). */
export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** One HTTP route to one RPC. */
export interface Binding {
  served: ServedMethod;
  httpMethod: HttpMethod;
  template: PathTemplate;
  /** Each path variable's field chain in the request message (`capacity.id` → [capacity, id]). */
  pathFields: Map<string, DescField[]>;
  /** Where the body goes: "" (no body), "*" (the whole request) or a top-level field of the request. */
  body: "" | "*" | DescField;
  /** The response message's `etag` field, when it has one: the answer carries it as `ETag`. */
  responseEtag: DescField | undefined;
}

/** The field chain a dotted proto field path names in `message`; throws if a link is missing or not a message. */
function fieldChain(message: DescMessage, path: string): DescField[] {
  const chain: DescField[] = [];
  let current: DescMessage | undefined = message;
  for (const name of path.split(".")) {
    const field: DescField | undefined = current?.fields.find((f) => f.name === name);
    if (!field) throw new Error(`${message.typeName}: no field ${path}`);
    chain.push(field);
    current = field.fieldKind === "message" ? field.message : undefined;
  }
  return chain;
}

function bindingOf(served: ServedMethod, rule: HttpRule): Binding {
  const where = `${served.method.parent.typeName}/${served.method.name}`;
  const pattern = rule.pattern;
  if (pattern.case === undefined || pattern.case === "custom") throw new Error(`${where}: unsupported google.api.http pattern`);
  const httpMethod = pattern.case.toUpperCase() as HttpMethod;
  const template = parseTemplate(pattern.value);
  const input = served.method.input;
  const pathFields = new Map(template.variables.map((v) => [v, fieldChain(input, v)] as const));
  for (const [name, chain] of pathFields) {
    const last = chain[chain.length - 1]!;
    if (last.fieldKind !== "scalar") throw new Error(`${where}: path variable ${name} must name a scalar field`);
  }
  let body: Binding["body"] = "";
  if (rule.body === "*") body = "*";
  else if (rule.body !== "") {
    const field = input.fields.find((f) => f.name === rule.body);
    if (!field) throw new Error(`${where}: body field ${rule.body} is not a field of ${input.typeName}`);
    body = field;
  }
  if (body !== "" && httpMethod === "GET") throw new Error(`${where}: a GET binding takes no body`);
  if (rule.responseBody !== "") throw new Error(`${where}: response_body is not supported`);
  const responseEtag = served.method.output.fields.find((f) => f.name === "etag" && f.fieldKind === "scalar");
  return { served, httpMethod, template, pathFields, body, responseEtag };
}

/** Every binding of every served RPC that has a `google.api.http` option, additional bindings included. */
export function bindingsOf(methods: readonly ServedMethod[]): Binding[] {
  const bindings: Binding[] = [];
  for (const served of methods) {
    const rule = getOption(served.method, http);
    if (rule.pattern.case === undefined) continue;
    bindings.push(bindingOf(served, rule));
    for (const extra of rule.additionalBindings) {
      if (extra.additionalBindings.length > 0) throw new Error(`${served.method.name}: nested additional_bindings`);
      bindings.push(bindingOf(served, extra));
    }
  }
  const seen = new Set<string>();
  for (const b of bindings) {
    const key = `${b.httpMethod} ${b.template.source}`;
    if (seen.has(key)) throw new Error(`two RPCs bound to ${key}`);
    seen.add(key);
  }
  return bindings;
}
