import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Where `npm run build` puts the web UI: `dist/ui` under the project root,
 * found by walking up from this module (src/ in development, dist/src/ when
 * built) to the folder with package.json.
 */
export function uiDirectory(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return join(dir, "dist", "ui");
}

/**
 * The page's Content-Security-Policy. The Vite build has no inline script or
 * style (one module script and one stylesheet under assets/), so everything is
 * 'self' only: the page can call its own origin and nothing else, carries a
 * pasted token nowhere, and no other page may frame it.
 */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "connect-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "object-src 'none'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * Headers on every /ui response (the page, its assets, redirects and 404s):
 * the CSP above, no Referer leaving the page, no MIME sniffing, and
 * X-Frame-Options for browsers older than frame-ancestors.
 */
export const UI_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": UI_CONTENT_SECURITY_POLICY,
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
};

/** Sets {@link UI_SECURITY_HEADERS} on a response before it is written (HTTP/1.1 or HTTP/2). */
export function setUiSecurityHeaders(res: { setHeader(name: string, value: string): unknown }): void {
  for (const [name, value] of Object.entries(UI_SECURITY_HEADERS)) res.setHeader(name, value);
}
