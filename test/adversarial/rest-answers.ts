/**
 * What a proper answer of the HTTP/JSON API is: a status that goes with the
 * google.rpc code of its google.rpc.Status body (never 500, INTERNAL, UNKNOWN
 * or DATA_LOSS), the headers its status promises, no body where HTTP has
 * none; and which refusals come from Node's parsers rather than the API.
 */
import type { WireAnswer, WireRequest } from "./rest-wire.js";

/**
 * The HTTP statuses a google.rpc code may come with: grpc-gateway's mapping,
 * plus the API's refinements (405 for a method a path does not take, 412 for
 * an etag that does not match, 413 for a body over the limit, 417 for an
 * `Expect` other than 100-continue).
 */
const STATUSES_OF_CODE: Record<number, number[]> = {
  1: [499],
  3: [400],
  4: [504],
  5: [404],
  6: [409],
  7: [403],
  8: [429, 413],
  9: [400, 417],
  10: [409, 412],
  11: [400],
  12: [501, 405],
  14: [503],
  16: [401],
};

export interface Status {
  code: number;
  message: string;
  details: Array<Record<string, unknown>>;
}

/** The violations' field names of a google.rpc.Status body. */
export function fieldsOf(status: Status): string[] {
  return status.details.flatMap((d) => ((d.fieldViolations as Array<{ field?: string }> | undefined) ?? []).map((v) => v.field ?? ""));
}

export type Version = "HTTP/1.1" | "HTTP/2";
export const VERSIONS: Version[] = ["HTTP/1.1", "HTTP/2"];

/** Methods Node's HTTP/1.1 parser knows (of those generated); it refuses the others before the API sees them. */
const PARSED_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND"]);
/** Bytes of a request head, about as the 16 KiB header limit counts them. */
export const headBytes = (req: WireRequest): number => req.target.length + req.headers.reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
/** Would Node's HTTP/1.1 parser refuse this head (a method it does not know, a head over 16 KiB)? */
export const parserRefuses = (req: WireRequest): boolean => !PARSED_METHODS.has(req.method) || headBytes(req) > 16_000;

/** Answered by Node's HTTP/1.1 parser, not the API: 400 or 431 without a body, and the connection closed. */
export function refusedByParser(version: Version, a: WireAnswer): boolean {
  return version === "HTTP/1.1" && a.closed && a.body.length === 0 && [400, 431].includes(a.status) && a.headers["content-type"] === undefined;
}

/**
 * What is wrong with an answer, if anything (a `finding` is a known fault
 * pinned by its own failing test in fuzz-rest.test.ts, counted there rather than failed
 * twice); and its JSON body when it has one.
 */
export function judge(version: Version, req: WireRequest, a: WireAnswer): { problem?: string; finding?: string; json?: unknown } {
  const where = `${version} ${req.method} ${req.target.slice(0, 120)} → ${a.status}`;
  if (refusedByParser(version, a)) return {};
  const expectation = req.headers.find(([n]) => n.toLowerCase() === "expect")?.[1];
  if (a.status === 417 && a.body.length === 0 && req.method !== "HEAD" && expectation !== undefined && expectation.toLowerCase() !== "100-continue") {
    return { finding: "417 to an unmet Expect, without a google.rpc.Status body" };
  }
  if (a.status >= 500 && ![501, 503, 504].includes(a.status)) return { problem: `${where}: server error ${a.body.toString().slice(0, 200)}` };
  const bodiless = req.method === "HEAD" || a.status === 204 || a.status === 304;
  if (bodiless) {
    if (a.body.length > 0) return { problem: `${where}: a body on a bodiless answer` };
    if (a.status === 204 && req.method !== "OPTIONS") return { problem: `${where}: 204 to a request that is not OPTIONS` };
    return {};
  }
  let json: unknown;
  try {
    json = JSON.parse(a.body.toString("utf8"));
  } catch {
    return { problem: `${where}: not JSON: ${a.body.toString("latin1").slice(0, 200)}` };
  }
  if (!/^application\/json/.test(a.headers["content-type"] ?? "")) return { problem: `${where}: content-type ${a.headers["content-type"]}` };
  if (a.status >= 200 && a.status < 300) return { json };
  if (a.status < 400) return { problem: `${where}: unexpected status` };
  const s = json as Partial<Status>;
  if (typeof s.code !== "number" || typeof s.message !== "string" || !Array.isArray(s.details)) return { problem: `${where}: not a google.rpc.Status` };
  if ([2, 13, 15].includes(s.code)) return { problem: `${where}: code ${s.code} ${s.message}` };
  if (!(STATUSES_OF_CODE[s.code] ?? []).includes(a.status)) return { problem: `${where}: code ${s.code} does not go with HTTP ${a.status}` };
  if (a.status === 405 && a.headers.allow === undefined) return { problem: `${where}: 405 without Allow` };
  if (a.status === 401 && !/^Bearer/.test(a.headers["www-authenticate"] ?? "")) return { problem: `${where}: 401 without WWW-Authenticate` };
  return { json };
}
