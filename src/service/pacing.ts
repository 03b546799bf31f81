/**
 * Cooperative pacing of long computations (availability of many or busy
 * people): deadline checks between units of work, and round-robin turns on
 * the event loop so one call's arithmetic never holds up other tenants.
 */
import { DeadlineExceededError } from "../domain/errors.js";
import type { Call } from "./call.js";

/** Longest stretch of computation before a call gives way to others. */
export const SLICE_MS = 5;

/**
 * Paced computations waiting for their next slice. One is let go per turn
 * of the event loop, so however many run at once, a turn holds at most one
 * slice of them, and every other call's I/O is served in between.
 */
const waiting: Array<() => void> = [];
let scheduled = false;

function schedule(): void {
  if (scheduled || waiting.length === 0) return;
  scheduled = true;
  setImmediate(() => {
    scheduled = false;
    waiting.shift()?.();
    schedule();
  });
}

function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => {
    waiting.push(resolve);
    schedule();
  });
}

/**
 * Paces a long computation: `step()` between units of work throws
 * DeadlineExceededError once the call's deadline has passed, and after
 * SLICE_MS of work waits for its next turn (round robin with the other paced
 * calls of the process). Slices are measured in time, not units: one busy
 * person of a batch can cost as much as hundreds of others.
 */
export function pacer(call: Pick<Call, "deadline">, what: string): { step(): Promise<void> } {
  let sliceStart = Date.now();
  const check = (now: number): void => {
    if (now >= call.deadline) throw new DeadlineExceededError(`deadline exceeded while computing ${what}`);
  };
  return {
    async step() {
      const now = Date.now();
      check(now);
      if (now - sliceStart < SLICE_MS) return;
      await nextTurn();
      sliceStart = Date.now();
      check(sliceStart);
    },
  };
}
