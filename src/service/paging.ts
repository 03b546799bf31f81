/**
 * ListCapacities paging (AIP-158): page sizes, opaque page tokens bound to
 * the query they were issued for, and pages cut short to fit the response cap.
 */
import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import type { CapacityRecord } from "../domain/capacity.js";
import { isIsoDate } from "../domain/dates.js";
import type { Violations } from "../domain/errors.js";
import { isCapacityId } from "../domain/ids.js";
import { ListCapacitiesResponseSchema, type Capacity, type ListCapacitiesResponse } from "../gen/work/v1/capacity_pb.js";
import { estimatedSize, toCapacity } from "./mapping.js";

/** Records per page when the request leaves `page_size` at 0. */
const DEFAULT_PAGE_SIZE = 50;
/** Most records per page; a larger `page_size` is lowered to it. */
const MAX_PAGE_SIZE = 1000;

/** Room in a response for everything but the records: next_page_token, framing. */
const PAGE_OVERHEAD_BYTES = 1024;

/** `page_size` may be 0 (the default) or positive. */
export function checkPageSize(pageSize: number, v: Violations): void {
  if (pageSize < 0) v.add("page_size", "must not be negative");
}

/** The records a page may hold for a checked `page_size`. */
export function pageSizeOf(pageSize: number): number {
  return pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(pageSize, MAX_PAGE_SIZE);
}

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
function encodePageToken(position: PagePosition, digest: string): string {
  return Buffer.from(JSON.stringify([1, position.periodStart, position.id, digest])).toString("base64url");
}

/** The position in a token, or why the token cannot be used for this query. */
function decodePageToken(token: string, digest: string): PagePosition | { error: string } {
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

/** Where `page_token` resumes: undefined for the first page; a `page_token` violation when it cannot be used. */
export function resumeAfter(pageToken: string, digest: string, v: Violations): PagePosition | undefined {
  if (pageToken === "") return undefined;
  const decoded = decodePageToken(pageToken, digest);
  if (!("error" in decoded)) return decoded;
  v.add("page_token", decoded.error);
  return undefined;
}

/**
 * The longest prefix of `records` (at least one) whose estimated encoded size
 * stays within `maxBytes`: AIP-158 lets a page be short, so a list page never
 * fails on size; the next page continues after the last record kept.
 */
function fitPage(records: Capacity[], maxBytes: number): Capacity[] {
  let left = maxBytes - PAGE_OVERHEAD_BYTES;
  for (let i = 0; i < records.length; i++) {
    left -= estimatedSize(records[i]!);
    if (left < 0) return records.slice(0, Math.max(1, i));
  }
  return records;
}

/**
 * The response for `records`, read with a limit of `size + 1` so that one
 * extra row tells whether more follow: at most `size` of them, cut short to
 * fit `maxBytes`, and a token after the last one kept when any are left.
 */
export function listPage(records: readonly CapacityRecord[], size: number, maxBytes: number, digest: string): ListCapacitiesResponse {
  const page = fitPage(records.slice(0, size).map(toCapacity), maxBytes);
  const last = page[page.length - 1];
  return create(ListCapacitiesResponseSchema, {
    capacities: page,
    nextPageToken: records.length > page.length && last ? encodePageToken(last, digest) : "",
  });
}
