// ESLint flat config: typescript-eslint's recommended type-checked rules over every TypeScript file we write,
// a doc comment required on every exported symbol of the service and the page, and Prettier's config last so
// no lint rule argues with the formatter.
import eslint from "@eslint/js";
import { defineConfig, globalIgnores } from "eslint/config";
import prettier from "eslint-config-prettier";
import jsdoc from "eslint-plugin-jsdoc";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig(
  // Generated code (src/gen/, and the client package's copy), build output and test artifacts are not ours to lint.
  globalIgnores([
    "src/gen/**",
    "packages/*/src/gen/**",
    "packages/*/dist/**",
    "dist/**",
    "ui/dist/**",
    "node_modules/**",
    "test-results/**",
    "coverage/**",
    ".gen-check/**",
    "bench/results/**",
    "data/**",
  ]),
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // Each file is checked with its nearest tsconfig: tsconfig.json (src, test, bench, scripts,
        // vitest.config.ts) or ui/tsconfig.json (the page and its Vite config).
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
  {
    rules: {
      // `const { secret: _, ...rest } = obj` is how this codebase drops a key from a copy.
      "@typescript-eslint/no-unused-vars": ["error", { ignoreRestSiblings: true }],
    },
  },
  {
    files: ["src/**/*.ts", "test/**/*.ts", "bench/**/*.ts", "scripts/**/*.ts", "*.ts", "ui/vite.config.ts", "packages/*/src/**/*.ts"],
    languageOptions: { globals: globals.node },
  },
  {
    files: ["ui/**/*.ts"],
    ignores: ["ui/vite.config.ts"],
    languageOptions: { globals: globals.browser },
  },
  {
    // Plain JavaScript (this file) is outside every tsconfig: lint it without type information.
    files: ["**/*.js"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
  },
  {
    // Every exported function, class, interface, type, enum and const of the service, the page and the workspace
    // packages says what it is for (STYLE.md: TSDoc on every export).
    files: ["src/**/*.ts", "ui/**/*.ts", "packages/*/src/**/*.ts"],
    plugins: { jsdoc },
    rules: {
      "jsdoc/require-jsdoc": [
        "error",
        {
          publicOnly: true,
          require: { FunctionDeclaration: true, ClassDeclaration: true },
          // Top-level declarations only: with publicOnly, a bare "VariableDeclaration" also flags the locals of an
          // exported function.
          contexts: [
            "TSInterfaceDeclaration",
            "TSTypeAliasDeclaration",
            "TSEnumDeclaration",
            "Program > VariableDeclaration",
            "ExportNamedDeclaration > VariableDeclaration",
          ],
          // Report only: a generated empty /** */ would pass the rule and say nothing.
          enableFixer: false,
        },
      ],
    },
  },
  prettier,
);
