/**
 * A method's `google.api.http` rule (google/api/http.proto) as a list of bindings: the rule itself, then its
 * `additional_bindings`. The rule is read from the method's options with the extension found in the request's
 * registry, then handled in its proto3 JSON form, which is stable across versions of the runtime.
 */
import { getOption, hasOption, isMessage, toJson, type DescExtension, type DescField, type DescMessage, type DescMethod } from "@bufbuild/protobuf";
import { parseTemplate, type PathTemplate } from "../../src/server/rest/template.js";

/** The HTTP methods an OpenAPI path item can hold. */
export const HTTP_METHODS = ["get", "head", "put", "post", "delete", "options", "patch", "trace"] as const;

/** One of {@link HTTP_METHODS}. */
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** One HTTP binding of an RPC. */
export interface Binding {
  method: DescMethod;
  verb: HttpMethod;
  template: PathTemplate;
  /** The OpenAPI path: the template's segments with `{field.path}` for variables, and `:verb`. */
  path: string;
  /** "" (no body), "*" (the whole request minus path variables) or a top-level request field's name. */
  body: string;
  /** "" (the whole response) or a top-level response field's name. */
  responseBody: string;
  /** 0 for the rule itself, 1… for its additional bindings in order. */
  index: number;
}

interface HttpRuleJson {
  get?: string;
  put?: string;
  post?: string;
  delete?: string;
  patch?: string;
  custom?: { kind?: string; path?: string };
  body?: string;
  responseBody?: string;
  additionalBindings?: HttpRuleJson[];
}

/** The method's bindings; none when it has no `google.api.http` option. */
export function bindingsOf(method: DescMethod, http: DescExtension): Binding[] {
  if (http.fieldKind !== "message" || !hasOption(method, http)) return [];
  const value = getOption(method, http);
  if (!isMessage(value, http.message)) throw new Error(`${method.parent.typeName}.${method.name}: google.api.http is not a ${http.message.typeName}`);
  const rule = toJson(http.message, value) as HttpRuleJson;
  return [rule, ...(rule.additionalBindings ?? [])].map((r, index) => toBinding(method, r, index));
}

function toBinding(method: DescMethod, rule: HttpRuleJson, index: number): Binding {
  const where = `${method.parent.typeName}.${method.name}${index > 0 ? ` (additional binding ${index})` : ""}`;
  const [verb, source] = patternOf(rule, where);
  const template = parseTemplate(source);
  const body = rule.body ?? "";
  const responseBody = rule.responseBody ?? "";
  if (body !== "" && body !== "*" && !method.input.fields.some((f) => f.name === body)) throw new Error(`${where}: body ${body} is not a request field`);
  if (responseBody !== "" && !method.output.fields.some((f) => f.name === responseBody)) {
    throw new Error(`${where}: response_body ${responseBody} is not a response field`);
  }
  for (const variable of template.variables) fieldAt(method.input, variable, where);
  return { method, verb, template, path: openApiPath(template, where), body, responseBody, index };
}

function patternOf(rule: HttpRuleJson, where: string): [HttpMethod, string] {
  for (const verb of ["get", "put", "post", "delete", "patch"] as const) {
    const path = rule[verb];
    if (path !== undefined) return [verb, path];
  }
  const kind = rule.custom?.kind?.toLowerCase();
  const known = HTTP_METHODS.find((m) => m === kind);
  if (known && rule.custom?.path !== undefined) return [known, rule.custom.path];
  throw new Error(`${where}: no HTTP method OpenAPI can describe (custom kind ${rule.custom?.kind ?? "unset"})`);
}

function openApiPath(template: PathTemplate, where: string): string {
  const segments = template.segments.map((s) => {
    if (s.kind === "literal") return s.value;
    if (s.variable === undefined) throw new Error(`${where}: OpenAPI cannot describe a wildcard without a variable in ${template.source}`);
    return `{${s.variable}}`;
  });
  return `/${segments.join("/")}${template.verb === undefined ? "" : `:${template.verb}`}`;
}

/** The field a dotted path (`capacity.id`) names in the message; throws when the path leads nowhere. */
export function fieldAt(message: DescMessage, path: string, where: string): DescField {
  let current: DescMessage | undefined = message;
  let field: DescField | undefined;
  for (const name of path.split(".")) {
    field = current?.fields.find((f) => f.name === name);
    if (!field) throw new Error(`${where}: ${path} is not a field of ${message.typeName}`);
    current = field.fieldKind === "message" ? field.message : undefined;
  }
  if (!field || field.fieldKind === "list" || field.fieldKind === "map" || field.fieldKind === "message") {
    throw new Error(`${where}: path variable ${path} must name a singular scalar or enum field`);
  }
  return field;
}
