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
