/** The gate that bounds concurrent batch availability calls: the limit holds, waiters go in order, failures free their place. */
import { describe, expect, it } from "vitest";
import { Gate } from "../../src/service/gate.js";

/** A promise to settle by hand. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void } {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe("Gate", () => {
  it("runs at most `limit` at once and lets waiters in in arrival order", async () => {
    const gate = new Gate(2);
    let inside = 0;
    let most = 0;
    const started: number[] = [];
    const holds = Array.from({ length: 6 }, deferred);
    const runs = holds.map((hold, i) =>
      gate.run(async () => {
        started.push(i);
        most = Math.max(most, ++inside);
        await hold.promise;
        inside--;
      }),
    );
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1]);
    holds[1]!.resolve();
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    for (const h of holds) h.resolve();
    await Promise.all(runs);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(most).toBe(2);
  });

  it("keeps the limit when finished calls at once start new ones", async () => {
    const gate = new Gate(1);
    let inside = 0;
    let most = 0;
    const work = async (): Promise<void> => {
      most = Math.max(most, ++inside);
      await Promise.resolve();
      inside--;
    };
    // Each finished call starts another in the same microtask chain, racing the waiters for the freed place.
    const chained = Array.from({ length: 20 }, () => gate.run(work).then(() => gate.run(work)));
    await Promise.all(chained);
    expect(most).toBe(1);
  });

  it("frees the place of a call that fails", async () => {
    const gate = new Gate(1);
    await expect(gate.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await expect(gate.run(() => Promise.resolve("next"))).resolves.toBe("next");
  });
});
