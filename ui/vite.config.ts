import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/** Builds the page served at /ui into dist/ui, with relative asset paths. */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  build: {
    outDir: fileURLToPath(new URL("../dist/ui", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
  },
  logLevel: "warn",
});
