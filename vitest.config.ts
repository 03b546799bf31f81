import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/helpers/global-setup.ts", "test/helpers/build-client.ts"],
    testTimeout: 30_000,
    // expect.poll's 1 s default is too short for a browser on a loaded 2-core machine.
    expect: { poll: { timeout: 15_000 } },
    hookTimeout: 60_000,
    // Two cores: keep parallel files to two so timings stay sane.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    pool: "forks",
  },
});
