import { createHash } from "node:crypto";
import { isIsoDate } from "../domain/dates.js";
import { isCapacityId } from "../domain/ids.js";

/** Where a List page ends, and which query it belongs to. */
export interface PagePosition {
  periodStart: string;
  id: string;
}

/** A digest of the filters (and scope) a token was issued for; a token only resumes the same query. */
export function queryDigest(parts: unknown[]): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("base64url").slice(0, 16);
}

/** Opaque to callers: the keyset position plus the query digest, base64url JSON. */
export function encodePageToken(position: PagePosition, digest: string): string {
  return Buffer.from(JSON.stringify([1, position.periodStart, position.id, digest])).toString("base64url");
}

/** The position in a token, or why the token cannot be used for this query. */
export function decodePageToken(token: string, digest: string): PagePosition | { error: string } {
  const malformed = { error: "is not a page token issued by this service" };
  if (token.length > 200 || !/^[A-Za-z0-9_-]+$/.test(token)) return malformed;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    return malformed;
  }
  if (!Array.isArray(parsed) || parsed.length !== 4) return malformed;
  const [version, periodStart, id, tokenDigest] = parsed as unknown[];
  if (version !== 1 || typeof periodStart !== "string" || !isIsoDate(periodStart)) return malformed;
  if (typeof id !== "string" || !isCapacityId(id)) return malformed;
  if (tokenDigest !== digest) return { error: "was issued for different filters; send the same filters as the first page" };
  return { periodStart, id };
}
