/**
 * The OpenAPI document of the HTTP/JSON API, as `buf generate` wrote it (scripts/protoc-gen-openapi.ts →
 * src/gen/openapi.json; `npm run build` copies it to dist/src/gen/). Found relative to this module, so the
 * same path serves src/ under tsx and dist/src/ after a build.
 */
import { readFileSync } from "node:fs";

const DOCUMENT_URL = new URL("../../gen/openapi.json", import.meta.url);

let bytes: Buffer | undefined;

/**
 * The document's bytes (JSON, UTF-8), read on the first call and the same buffer on every later one: callers
 * must not modify it. Call it at start-up so a missing file stops the server there, not on the first request.
 * Throws when the file cannot be read.
 */
export function openApiDocument(): Buffer {
  bytes ??= readFileSync(DOCUMENT_URL);
  return bytes;
}
