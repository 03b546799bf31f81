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
import { ListCapacitiesResponseSchema, type ListCapacitiesResponse } from "../gen/work/v1/capacity_pb.js";
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

/** Where a List page ends, in its (key, id) order: for ListCapacities the key is `period_start`. */
export interface PagePosition {
  key: string;
  id: string;
}

/** What a page token's position must look like for one List RPC (checked before it is used in SQL). */
export interface PositionRules {
  isKey: (key: string) => boolean;
  isId: (id: string) => boolean;
}

/** ListCapacities' positions: (period_start, capacity id). */
const CAPACITY_POSITIONS: PositionRules = { isKey: isIsoDate, isId: isCapacityId };

/** A digest of the filters (and scope) a token was issued for; a token only resumes the same query. */
export function queryDigest(parts: unknown[]): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("base64url").slice(0, 16);
}

/** Opaque to callers: the keyset position plus the query digest, base64url JSON. */
function encodePageToken(position: PagePosition, digest: string): string {
  return Buffer.from(JSON.stringify([1, position.key, position.id, digest])).toString("base64url");
}

/** The position in a token, or why the token cannot be used for this query. */
function decodePageToken(token: string, digest: string, rules: PositionRules): PagePosition | { error: string } {
  const malformed = { error: "is not a page token issued by this service" };
  if (token.length > 200 || !/^[A-Za-z0-9_-]+$/.test(token)) return malformed;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    return malformed;
  }
  if (!Array.isArray(parsed) || parsed.length !== 4) return malformed;
  const [version, key, id, tokenDigest] = parsed as unknown[];
  if (version !== 1 || typeof key !== "string" || !rules.isKey(key)) return malformed;
  if (typeof id !== "string" || !rules.isId(id)) return malformed;
  if (tokenDigest !== digest) return { error: "was issued for different filters; send the same filters as the first page" };
  return { key, id };
}

/**
 * Where `page_token` resumes: undefined for the first page; a `page_token`
 * violation when it cannot be used. `rules` check the position (default:
 * ListCapacities').
 */
export function resumeAfter(pageToken: string, digest: string, v: Violations, rules: PositionRules = CAPACITY_POSITIONS): PagePosition | undefined {
  if (pageToken === "") return undefined;
  const decoded = decodePageToken(pageToken, digest, rules);
  if (!("error" in decoded)) return decoded;
  v.add("page_token", decoded.error);
  return undefined;
}

/**
 * The longest prefix of `items` (at least one) whose estimated encoded size
 * stays within `maxBytes`: AIP-158 lets a page be short, so a list page never
 * fails on size; the next page continues after the last item kept.
 */
function fitPage<M extends object>(items: M[], maxBytes: number, fixedBytes: number | undefined): M[] {
  let left = maxBytes - PAGE_OVERHEAD_BYTES;
  for (let i = 0; i < items.length; i++) {
    left -= estimatedSize(items[i]!, fixedBytes);
    if (left < 0) return items.slice(0, Math.max(1, i));
  }
  return items;
}

/** How one List RPC turns its records into a page. */
export interface PageShape<R, M> {
  toMessage: (record: R) => M;
  positionOf: (record: R) => PagePosition;
  /** The message's encoded size besides its strings (see estimatedSize); default: a Capacity's. */
  fixedBytes?: number;
}

/**
 * One page of `records`, read with a limit of `size + 1` so that one extra
 * row tells whether more follow: at most `size` of them, cut short to fit
 * `maxBytes`, and a token after the last one kept when any are left.
 */
export function keysetPage<R, M extends object>(
  records: readonly R[],
  size: number,
  maxBytes: number,
  digest: string,
  shape: PageShape<R, M>,
): { items: M[]; nextPageToken: string } {
  const kept = records.slice(0, size);
  const items = fitPage(kept.map(shape.toMessage), maxBytes, shape.fixedBytes);
  const last = kept[items.length - 1];
  return { items, nextPageToken: records.length > items.length && last !== undefined ? encodePageToken(shape.positionOf(last), digest) : "" };
}

/** The ListCapacities response for `records` (see keysetPage). */
export function listPage(records: readonly CapacityRecord[], size: number, maxBytes: number, digest: string): ListCapacitiesResponse {
  const { items, nextPageToken } = keysetPage(records, size, maxBytes, digest, {
    toMessage: toCapacity,
    positionOf: (r) => ({ key: r.periodStart, id: r.id }),
  });
  return create(ListCapacitiesResponseSchema, { capacities: items, nextPageToken });
}
