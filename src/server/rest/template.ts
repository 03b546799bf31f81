/**
 * Path templates of `google.api.http` rules (google/api/http.proto):
 *
 *     Template = "/" Segments [ Verb ] ;
 *     Segments = Segment { "/" Segment } ;
 *     Segment  = "*" | "**" | LITERAL | Variable ;
 *     Variable = "{" FieldPath [ "=" Segments ] "}" ;
 *     Verb     = ":" LITERAL ;
 *
 * Parsed once at start-up (and by the OpenAPI generator at build time); a
 * template outside the grammar is an error there, never at request time.
 * This module knows nothing of descriptors so the build-time plugin can use
 * it before any code is generated.
 */

/** One segment of a template: a literal, or a wildcard that a variable (or nothing) captures. */
export type TemplateSegment = { kind: "literal"; value: string } | { kind: "wildcard"; multi: boolean; variable: string | undefined };

/** A parsed path template. */
export interface PathTemplate {
  /** The template as written in the proto. */
  source: string;
  segments: TemplateSegment[];
  /** The custom verb after the last segment (`undelete` in `…/{id}:undelete`), or undefined. */
  verb: string | undefined;
  /** The variables' field paths (`capacity.id`), in template order. */
  variables: string[];
}

const LITERAL = /^[A-Za-z0-9._~-]+$/;
const FIELD_PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** Parses a template; throws on anything outside the grammar (and on `**` anywhere but last). */
export function parseTemplate(source: string): PathTemplate {
  if (!source.startsWith("/")) throw new Error(`path template ${source}: must start with /`);
  let body = source.slice(1);
  let verb: string | undefined;
  // The verb follows the last segment; a ':' inside braces belongs to no verb.
  const lastSlash = body.lastIndexOf("/");
  const colon = body.indexOf(":", Math.max(lastSlash, body.lastIndexOf("}")));
  if (colon >= 0) {
    verb = body.slice(colon + 1);
    body = body.slice(0, colon);
    if (!LITERAL.test(verb)) throw new Error(`path template ${source}: bad verb ${verb}`);
  }
  const segments: TemplateSegment[] = [];
  const variables: string[] = [];
  for (const part of splitOutsideBraces(body, source)) {
    const variable = /^\{([^}=]+)(?:=(.*))?\}$/.exec(part);
    if (variable) {
      const path = variable[1]!;
      if (!FIELD_PATH.test(path)) throw new Error(`path template ${source}: bad field path ${path}`);
      if (variables.includes(path)) throw new Error(`path template ${source}: ${path} appears twice`);
      variables.push(path);
      const inner = variable[2] ?? "*";
      const innerSegments = inner.split("/");
      if (innerSegments.length !== 1 || (inner !== "*" && inner !== "**")) {
        throw new Error(`path template ${source}: only {field}, {field=*} and {field=**} are supported, not {${path}=${inner}}`);
      }
      segments.push({ kind: "wildcard", multi: inner === "**", variable: path });
    } else if (part === "*" || part === "**") {
      segments.push({ kind: "wildcard", multi: part === "**", variable: undefined });
    } else if (LITERAL.test(part)) {
      segments.push({ kind: "literal", value: part });
    } else {
      throw new Error(`path template ${source}: bad segment ${part}`);
    }
  }
  if (segments.some((s, i) => s.kind === "wildcard" && s.multi && i !== segments.length - 1)) {
    throw new Error(`path template ${source}: ** must be the last segment`);
  }
  return { source, segments, verb, variables };
}

function splitOutsideBraces(body: string, source: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === "{") depth++;
    else if (c === "}") depth--;
    if (depth < 0 || depth > 1) throw new Error(`path template ${source}: unbalanced braces`);
    if (c === "/" && depth === 0) {
      parts.push(body.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) throw new Error(`path template ${source}: unbalanced braces`);
  parts.push(body.slice(start));
  if (parts.some((p) => p === "")) throw new Error(`path template ${source}: empty segment`);
  return parts;
}

/** What a request path yields for a template: each variable's value, percent-decoded. */
export type PathMatch = Map<string, string>;

/**
 * Matches a request path (without the query, still percent-encoded) against a
 * template. Undefined when it does not match; throws URIError when a
 * variable's percent-encoding is broken. A single-segment variable is decoded
 * whole (`%2F` becomes `/`); a `**` variable keeps `/` between segments.
 */
export function matchTemplate(template: PathTemplate, path: string): PathMatch | undefined {
  if (!path.startsWith("/")) return undefined;
  let rest = path.slice(1);
  if (template.verb !== undefined) {
    const suffix = `:${template.verb}`;
    if (!rest.endsWith(suffix)) return undefined;
    rest = rest.slice(0, -suffix.length);
  }
  const parts = rest.split("/");
  const found: PathMatch = new Map();
  const segs = template.segments;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    if (seg.kind === "literal") {
      if (parts[i] !== seg.value) return undefined;
      continue;
    }
    if (seg.multi) {
      const tail = parts.slice(i);
      if (tail.some((p) => p === "")) return undefined;
      if (seg.variable !== undefined) found.set(seg.variable, tail.map((p) => decodeURIComponent(p)).join("/"));
      return found;
    }
    const part = parts[i];
    if (part === undefined || part === "") return undefined;
    if (seg.variable !== undefined) found.set(seg.variable, decodeURIComponent(part));
  }
  return parts.length === segs.length ? found : undefined;
}
